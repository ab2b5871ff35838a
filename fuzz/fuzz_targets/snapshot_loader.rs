//! The snapshot loader on arbitrary bytes, three ways (the first input byte chooses):
//! 0. a whole snapshot file (header and body): the file checks must refuse it or, when it passes
//!    them, the body must load or be refused;
//! 1. a body whose first 61 bytes (version, configuration, order sequence, time) are those of a
//!    real snapshot and the rest the fuzzer's: the decoder proper;
//! 2. a real snapshot body with the fuzzer's byte changes applied after the configuration.
//! Never a panic; an engine that loads has passed `check_invariants` (the loader runs it) and
//! writes a snapshot that loads again to the same state hash.

#![no_main]

use std::sync::OnceLock;

use ferrex_engine::Engine;
use ferrex_journal::snapshot;
use ferrex_tests::generate::SplitMix64;
use ferrex_tests::{fixture, money_gen};
use libfuzzer_sys::fuzz_target;

/// Bytes of the version, configuration, order sequence and time at the start of a body.
const PREFIX: usize = 61;

fn real_body() -> &'static [u8] {
    static BODY: OnceLock<Vec<u8>> = OnceLock::new();
    BODY.get_or_init(|| {
        let config = money_gen::money_config();
        let mut engine = Engine::new(config).expect("valid config");
        fixture::apply_setup(&mut engine, &money_gen::money_setup(&config));
        let run = money_gen::run(&mut SplitMix64(3), 400).expect("a money run");
        let mut events = Vec::new();
        for (time_ns, command) in &run.commands {
            engine.apply_at(*time_ns, command, &mut events);
        }
        let mut body = Vec::new();
        engine.write_snapshot(&mut body);
        body
    })
}

fn check(body: &[u8]) {
    if let Ok(engine) = Engine::from_snapshot(body) {
        let mut again = Vec::new();
        engine.write_snapshot(&mut again);
        let reloaded = Engine::from_snapshot(&again).expect("a loaded engine's snapshot loads");
        assert_eq!(reloaded.state_hash(), engine.state_hash());
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    match mode % 3 {
        0 => {
            if let Ok((_, body)) = snapshot::decode(rest) {
                check(body);
            }
        }
        1 => {
            let mut body = real_body()[..PREFIX].to_vec();
            body.extend_from_slice(rest);
            check(&body);
        }
        _ => {
            let mut body = real_body().to_vec();
            let span = body.len() - PREFIX;
            for change in rest.chunks_exact(3) {
                let at = PREFIX + usize::from(u16::from_le_bytes([change[0], change[1]])) % span;
                body[at] ^= change[2];
            }
            check(&body);
        }
    }
});

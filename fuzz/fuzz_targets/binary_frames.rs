//! The binary protocol on arbitrary bytes, framed as the server frames a client's stream: framing
//! never panics and never yields a frame outside the buffer or the size limits; every whole frame
//! of a known kind either decodes or is refused, and a decoded message encodes back to exactly its
//! bytes; order messages become commands for the session's own user only, or a refusal; and no
//! logon the fuzzer makes verifies (it cannot forge an HMAC or Ed25519 signature).

#![no_main]

use std::sync::OnceLock;

use ferrex_engine::{Command, UserId};
use ferrex_gateway::api::Api;
use ferrex_gateway::binary::wire::{self, Logon};
use ferrex_gateway::binary::{Frame, frame, parse_order};
use ferrex_gateway::config::{Config, DEMO_KEYSTORE, Validated, load_keys};
use ferrex_gateway::metrics::Metrics;
use libfuzzer_sys::fuzz_target;

fn setup() -> &'static (Api, Validated) {
    static SETUP: OnceLock<(Api, Validated)> = OnceLock::new();
    SETUP.get_or_init(|| {
        let market = Config::demo().validate().expect("the demo configuration is valid");
        let keys = load_keys(DEMO_KEYSTORE).expect("the demo keys");
        let metrics = std::sync::Arc::new(Metrics::new(Default::default(), Default::default()));
        (Api::new(market.clone(), keys, 60_000, metrics), market)
    })
}

fn owner(command: &Command) -> Option<UserId> {
    match command {
        Command::Place(p) => Some(p.user),
        Command::Cancel(c) => Some(c.user),
        Command::Amend(a) => Some(a.user),
        Command::MassCancel(m) => Some(m.user),
        Command::ClosePosition { user, .. } => Some(*user),
        _ => None,
    }
}

fuzz_target!(|data: &[u8]| {
    let (api, market) = setup();
    let user = UserId(2);
    let mut at = 0;
    loop {
        match frame(&data[at..]) {
            Frame::Bad | Frame::Partial => break,
            Frame::Whole { len, kind, version } => {
                assert!((wire::HEADER_LEN..=wire::CLIENT_MESSAGE_BYTES_MAX).contains(&len));
                assert!(at + len <= data.len());
                let message = &data[at..at + len];
                if let Some(layout) = wire::LAYOUTS.iter().find(|l| l.kind == kind && l.kind < 0x80)
                    && version == wire::VERSION
                    && len == layout.len
                {
                    if kind == Logon::KIND {
                        let logon = Logon::decode(message).expect("a well-framed logon decodes");
                        assert_eq!(logon.to_bytes(), message);
                        let key = wire::untext(&logon.api_key).unwrap_or("");
                        assert!(
                            api.verify_bytes(key, b"nonce", &logon.signature).is_none(),
                            "a forged logon"
                        );
                    }
                }
                if matches!(kind, 0x10..=0x13 | 0x15) {
                    if let Ok(command) = parse_order(user, kind, message, market) {
                        assert_eq!(owner(&command), Some(user), "a command for another user");
                    }
                }
                at += len;
            }
        }
    }
});

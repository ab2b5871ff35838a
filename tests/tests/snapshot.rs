//! Engine snapshots: an engine rebuilt from a snapshot has the same state hash, writes the same
//! snapshot bytes, and behaves identically afterwards (every later event equal), at checkpoints
//! through random runs of every command kind (`money_gen`: spot with fees, a perpetual with
//! liquidations and funding, conditionals, good-till-date orders, admin commands). Damaged bodies
//! are refused with an error, never a panic and never a wrong engine.
//!
//! `FERREX_SEED=n` reruns one seed; `FERREX_SEEDS=n` changes how many seeds run (default 40).

use ferrex_engine::{Engine, SnapshotError};
use ferrex_tests::generate::SplitMix64;
use ferrex_tests::{fixture, money_gen};

const COMMANDS_PER_SEED: usize = 2_000;
const CHECKPOINT_EVERY: usize = 97;

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|v| v.parse().unwrap_or_else(|_| panic!("{name} must be a number")))
}

fn snapshot(engine: &Engine) -> Vec<u8> {
    let mut bytes = Vec::new();
    engine.write_snapshot(&mut bytes);
    bytes
}

fn set_up() -> Engine {
    let config = money_gen::money_config();
    let mut engine = Engine::new(config).expect("valid config");
    fixture::apply_setup(&mut engine, &money_gen::money_setup(&config));
    engine
}

/// Runs a seed's commands on an engine and on a copy reloaded from its snapshot at every
/// checkpoint; both must emit the same events and keep the same hash.
fn check_seed(seed: u64) -> Result<usize, String> {
    let run = money_gen::run(&mut SplitMix64(seed), COMMANDS_PER_SEED)?;
    let mut original = set_up();
    let mut restored = Engine::from_snapshot(&snapshot(&original)).map_err(|e| e.to_string())?;
    let (mut a, mut b) = (Vec::new(), Vec::new());
    let mut checkpoints = 0;
    for (n, (time_ns, command)) in run.commands.iter().enumerate() {
        if n % CHECKPOINT_EVERY == 0 {
            let bytes = snapshot(&original);
            restored = Engine::from_snapshot(&bytes).map_err(|e| format!("command {n}: {e}"))?;
            if restored.state_hash() != original.state_hash() {
                return Err(format!("command {n}: restored hash differs"));
            }
            if snapshot(&restored) != bytes {
                return Err(format!("command {n}: the restored engine writes other bytes"));
            }
            checkpoints += 1;
        }
        a.clear();
        b.clear();
        original.apply_at(*time_ns, command, &mut a);
        restored.apply_at(*time_ns, command, &mut b);
        if a != b {
            return Err(format!("command {n} ({command:?}): events differ\n{a:?}\n{b:?}"));
        }
    }
    if restored.state_hash() != run.hash || original.state_hash() != run.hash {
        return Err("final hashes differ".into());
    }
    Ok(checkpoints)
}

#[test]
fn a_restored_engine_has_the_same_hash_and_behaves_identically() {
    let seeds: Vec<u64> = match env_u64("FERREX_SEED") {
        Some(seed) => vec![seed],
        None => (1..=env_u64("FERREX_SEEDS").unwrap_or(40)).collect(),
    };
    let mut checkpoints = 0;
    for seed in seeds {
        match check_seed(seed) {
            Ok(n) => checkpoints += n,
            Err(report) => panic!("seed {seed} (rerun with FERREX_SEED={seed}): {report}"),
        }
    }
    assert!(checkpoints > 0);
    eprintln!("{checkpoints} checkpoints restored");
}

/// A state late in a run: orders, positions, conditionals, holds.
fn busy_engine() -> Engine {
    let run = money_gen::run(&mut SplitMix64(7), 600).expect("seed 7 runs");
    let mut engine = set_up();
    let mut events = Vec::new();
    for (time_ns, command) in &run.commands {
        engine.apply_at(*time_ns, command, &mut events);
    }
    eprintln!("busy engine: {} resting orders", engine.resting_orders_len());
    assert!(engine.resting_orders_len() > 3, "a busy book");
    engine
}

#[test]
fn every_truncation_of_a_body_is_refused() {
    let bytes = snapshot(&busy_engine());
    for len in 0..bytes.len() {
        match Engine::from_snapshot(&bytes[..len]) {
            Err(SnapshotError::Decode { .. } | SnapshotError::Invalid { .. }) => {}
            other => panic!("prefix of {len} of {} bytes: {:?}", bytes.len(), other.map(|e| e.state_hash())),
        }
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(matches!(Engine::from_snapshot(&longer), Err(SnapshotError::Invalid { .. })));
}

/// Damaged bytes load to an error or to an engine that passed every invariant; never a panic.
/// The configuration (bytes 1..45) is left alone: a damaged one may ask for gigabytes, which is
/// what the file's checksum is for.
#[test]
fn damaged_bodies_never_panic_and_never_load_a_broken_engine() {
    let engine = busy_engine();
    let bytes = snapshot(&engine);
    let (mut refused, mut loaded) = (0, 0);
    for at in 45..bytes.len() {
        let mut damaged = bytes.clone();
        damaged[at] ^= if at % 2 == 0 { 0x01 } else { 0x80 };
        match Engine::from_snapshot(&damaged) {
            Err(_) => refused += 1,
            Ok(e) => {
                e.check_invariants().expect("a loaded engine is consistent");
                assert_ne!(e.state_hash(), engine.state_hash(), "byte {at}: a change the hash does not see");
                loaded += 1;
            }
        }
    }
    eprintln!("{refused} damaged bodies refused, {loaded} loaded as other consistent states");
    assert!(refused > 0);
    let mut version = bytes.clone();
    version[0] = 2;
    assert_eq!(Engine::from_snapshot(&version).err(), Some(SnapshotError::Version(2)));
}

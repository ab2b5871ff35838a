//! Golden bytes of a whole snapshot file (header and engine body, docs/FORMAT.md): a small state
//! with every section filled (tenants, assets with system balances, users with limits, an admin
//! hold, spot and perpetual instruments, resting orders with a client id and an expiry, positions,
//! a waiting conditional) must encode to exactly `golden/snapshot_v1.hex`, and those bytes must
//! load to the same state. A change here is a format change: bump the version, keep a reader for
//! the old one, add a new golden file. `FERREX_BLESS=1` rewrites the file (for a deliberate change).

use ferrex_engine::recovery;
use ferrex_engine::snapshot::SNAPSHOT_BODY_VERSION;
use ferrex_engine::{Engine, Event};
use ferrex_journal::snapshot::{self, SNAPSHOT_VERSION};
use ferrex_journal::storage::{MemStorage, Storage};
use ferrex_tests::text::{OrderNames, parse_command};
use ferrex_tests::{fixture, money_gen};

const STATE: &[&str] = &[
    "hold u2 a0 300",
    "user-limits u3 qty=50 notional=900000 orders=5 position=40",
    "place u1 i0 buy limit 995 x3 cid=golden-bid gtd=5000",
    "place u2 i0 sell limit 1005 x2",
    "place u1 i2 buy limit 1000 x4",
    "place u2 i2 sell limit 1000 x4",
    "place u3 i2 sell limit 940 x2 stop=950 on=mark",
    "place u4 i1 buy limit 996 x2",
];

fn golden_state() -> Engine {
    let config = money_gen::money_config();
    let mut engine = Engine::new(config).expect("valid config");
    fixture::apply_setup(&mut engine, &money_gen::money_setup(&config));
    let mut events = Vec::new();
    for line in STATE {
        let command = parse_command(line, &OrderNames::default()).expect("a command");
        engine.apply_at(1_000, &command, &mut events);
    }
    assert!(
        !events.iter().any(|e| matches!(e, Event::Rejected { .. })),
        "the golden state is built as meant: {events:?}"
    );
    engine
}

fn to_hex(bytes: &[u8]) -> String {
    let mut text = String::from(
        "# docs/FORMAT.md: a snapshot file, format 1, engine body 1 (tests/tests/snapshot_golden.rs)\n",
    );
    for line in bytes.chunks(32) {
        text.extend(line.iter().map(|b| format!("{b:02x}")));
        text.push('\n');
    }
    text
}

fn from_hex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .flat_map(str::bytes)
        .filter(u8::is_ascii_hexdigit)
        .collect();
    digits
        .chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).expect("ascii"), 16).expect("hex"))
        .collect()
}

#[test]
fn snapshot_v1_bytes_are_stable() {
    assert_eq!((SNAPSHOT_VERSION, SNAPSHOT_BODY_VERSION), (1, 1), "a new version needs a new golden file");
    let engine = golden_state();
    let mut storage = MemStorage::new();
    let name = recovery::write_snapshot(&mut storage, &engine, 12, 1_000).expect("written");
    let bytes = storage.read_file(&name).expect("the file");
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/snapshot_v1.hex");
    if std::env::var_os("FERREX_BLESS").is_some() {
        std::fs::write(path, to_hex(&bytes)).expect("golden file written");
    }
    let golden = from_hex(&std::fs::read_to_string(path).expect("the golden file"));
    assert_eq!(bytes, golden, "the snapshot bytes changed: that is a format change (docs/FORMAT.md)");
    let (header, body) = snapshot::decode(&golden).expect("the golden file decodes");
    assert_eq!((header.sequence, header.timestamp_ns), (12, 1_000));
    let loaded = Engine::from_snapshot(body).expect("the golden body loads");
    assert_eq!(loaded.state_hash(), header.state_hash);
    assert_eq!(loaded.state_hash(), engine.state_hash());
    assert!(loaded.resting_orders_len() >= 3 && loaded.conditionals_len() == 1);
}

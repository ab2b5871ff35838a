//! The command encoding (engine/src/codec.rs, docs/FORMAT.md): every generated command, of every kind
//! and with arbitrary field values, round-trips; arbitrary bytes never panic the decoder, and what it
//! accepts is exactly the canonical encoding; golden bytes guard version 1.

use ferrex_engine::Command;
use ferrex_engine::codec::{COMMAND_BYTES_MAX, COMMAND_ENCODING_VERSION, decode, encode};
use ferrex_tests::generate::{CommandGen, SplitMix64};
use ferrex_tests::money_gen::{MoneyGen, money_config};
use ferrex_tests::text::{OrderNames, parse_command};

fn round_trip(command: &Command) {
    let mut buf = [0u8; COMMAND_BYTES_MAX];
    let len = encode(command, &mut buf);
    assert_eq!(decode(&buf[..len]), Ok(*command), "{command:?} does not round-trip");
    assert_eq!(decode(&buf[..len - 1]).ok(), None, "a truncated {command:?} decodes");
}

#[test]
fn every_generated_command_round_trips() {
    let config = money_config();
    for seed in 1..=100u64 {
        let mut rng = SplitMix64(seed);
        let (mut trading, mut money) = (CommandGen::new(3), MoneyGen::new(&config));
        for _ in 0..2_000 {
            round_trip(&trading.next(&mut rng).unwrap());
            round_trip(&money.next(&mut rng).unwrap());
        }
    }
}

#[test]
#[allow(clippy::cast_possible_truncation)] // Random bytes: truncation is the point.
fn arbitrary_bytes_never_panic_and_only_canonical_bytes_decode() {
    let mut rng = SplitMix64(99);
    let mut accepted = 0;
    for _ in 0..200_000 {
        let len = rng.next_below(COMMAND_BYTES_MAX as u64 + 8) as usize;
        let mut bytes: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
        if len >= 2 {
            bytes[0] = COMMAND_ENCODING_VERSION;
            bytes[1] = 1 + (bytes[1] % 17);
        }
        if let Ok(command) = decode(&bytes) {
            accepted += 1;
            let mut buf = [0u8; COMMAND_BYTES_MAX];
            let len = encode(&command, &mut buf);
            assert_eq!(&buf[..len], &bytes[..], "accepted bytes that are not the canonical encoding");
        }
    }
    assert!(accepted > 0, "some random inputs are valid commands");
}

fn from_hex(line: &str) -> Vec<u8> {
    let digits: Vec<u8> = line.bytes().filter(u8::is_ascii_hexdigit).collect();
    digits.chunks(2).map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap()).collect()
}

/// One command of each kind, in the scenario language, and its bytes in `golden/commands_v1.hex`.
const GOLDEN: &[&str] = &[
    "tenant 3",
    "user u5 tenant=3 role=admin",
    "asset USDT scale=4",
    "add BTC-PERP perp im=1000 mm=500 mark=1000 maker=-1 taker=5",
    "deposit u2 a0 1000 tx=7",
    "withdraw insurance a1 5 tx=8",
    "hold u2 a0 300",
    "suspend u2",
    "mark i1 1100",
    "funding i1 -250",
    "close u2 i1 price=900",
    "limits i0 notional=5000 band=100 position=40",
    "user-limits u2 qty=6 notional=8000 orders=2 position=30",
    "halt i0",
    "place u1 i0 buy limit 100 x5 gtd=99 cid=abc",
    "place u2 i1 sell market x3 levels=2 reduce stop=950 on=mark",
    "cancel u1 i0 cid=abc",
    "amend u1 i0 cid=abc 101 x4 trigger=120",
    "mass u1 i0",
];

#[test]
fn version_1_bytes_are_stable() {
    let golden: Vec<&str> = include_str!("golden/commands_v1.hex")
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .collect();
    assert_eq!(golden.len(), GOLDEN.len(), "one golden line per command");
    for (text, hex) in GOLDEN.iter().zip(golden) {
        let command = parse_command(text, &OrderNames::default()).unwrap();
        let mut buf = [0u8; COMMAND_BYTES_MAX];
        let len = encode(&command, &mut buf);
        assert_eq!(buf[..len].to_vec(), from_hex(hex), "`{text}`: the encoding changed (docs/FORMAT.md)");
        assert_eq!(decode(&from_hex(hex)), Ok(command), "`{text}`: the golden bytes no longer decode");
    }
}

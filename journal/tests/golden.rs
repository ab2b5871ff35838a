//! Golden bytes of the record format (docs/FORMAT.md): the encoder must produce exactly these bytes,
//! and the decoder must read them back. A change here is a format change: bump `RECORD_VERSION`,
//! keep a reader for the old version, and add a new golden file beside this one.

use ferrex_journal::record::{Decoded, RECORD_VERSION, decode, encode, record_len};

/// The bytes of a hex file: `#` lines are comments, the rest are pairs of hex digits.
fn from_hex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text
        .lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .flat_map(str::bytes)
        .filter(u8::is_ascii_hexdigit)
        .collect();
    digits
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).expect("ascii"), 16).expect("hex"))
        .collect()
}

#[test]
fn record_v1_bytes_are_stable() {
    assert_eq!(RECORD_VERSION, 1, "a new version needs a new golden file");
    let golden = from_hex(include_str!("golden/record_v1.hex"));
    let payload = b"ferrex golden record";
    let mut encoded = vec![0u8; record_len(payload.len())];
    let checksum = encode(&mut encoded, 42, 1_700_000_000_000_000_000, 0x0123_4567_89ab_cdef, payload);
    assert_eq!(encoded, golden, "the encoder's bytes changed: that is a format change (docs/FORMAT.md)");
    let Decoded::Record(header, body, used) = decode(&golden) else {
        panic!("golden record does not decode")
    };
    assert_eq!(
        (header.sequence, header.timestamp_ns, header.prev_checksum),
        (42, 1_700_000_000_000_000_000, 0x0123_4567_89ab_cdef)
    );
    assert_eq!((header.checksum, body, used), (checksum, &payload[..], golden.len()));
}

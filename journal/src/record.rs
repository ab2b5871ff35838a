//! The record format: a fixed 40-byte header and an opaque payload, padded to 8 bytes.
//!
//! ```text
//! offset size field
//!      0    4 payload length, bytes (u32 LE); 0 never starts a record: zero bytes end the data
//!      4    4 format version (u32 LE), RECORD_VERSION
//!      8    8 sequence (u64 LE), 1 for the first record, +1 for each next one
//!     16    8 timestamp, sequencer ns (u64 LE)
//!     24    8 checksum of the previous record (u64 LE), 0 for the first record of the journal
//!     32    8 checksum (u64 LE): xxh3-64 of bytes 0..32 of this header and the payload
//!     40    n payload, then zero bytes up to the next multiple of 8
//! ```
//!
//! The checksum is xxh3-64 (already the engine's state hash): 64 bits make an undetected random
//! corruption vanishingly unlikely, and it runs at memory speed.
//!
//! Invariants: a record's checksum covers every header byte before it and the payload, so a torn
//! write, a bit flip or zeroed bytes are detected; the previous-checksum link chains records, so a
//! record from another journal (or an older pass over a reused file) cannot pass for the next one.
//! docs/FORMAT.md is the reference; the golden test keeps it and this code in step.
//! Complexity: encoding and decoding O(payload), no allocation.

/// Bytes of a record header.
pub const HEADER_LEN: usize = 40;
/// The record format version.
pub const RECORD_VERSION: u32 = 1;
/// Largest payload of one record, bytes.
pub const PAYLOAD_LEN_MAX: usize = 1 << 20;

/// A decoded record header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Payload length, bytes.
    pub len: u32,
    /// Sequence number.
    pub sequence: u64,
    /// Sequencer time, ns.
    pub timestamp_ns: u64,
    /// The previous record's checksum (0 before the first).
    pub prev_checksum: u64,
    /// This record's checksum.
    pub checksum: u64,
}

/// Bytes a record with `payload_len` bytes of payload takes, padding included.
pub fn record_len(payload_len: usize) -> usize {
    HEADER_LEN + payload_len.next_multiple_of(8)
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
}

/// Largest header-and-payload span hashed in one shot from a stack copy.
const ONE_SHOT_MAX: usize = 256;

/// The checksum of a header's first 32 bytes and a payload: xxh3-64 of the two, concatenated.
/// Short records (every command is) are copied into one stack buffer and hashed in one shot,
/// several times faster than the streaming hasher, with the same value by xxh3's definition.
fn checksum(head: &[u8], payload: &[u8]) -> u64 {
    debug_assert_eq!(head.len(), 32);
    if head.len() + payload.len() <= ONE_SHOT_MAX {
        let mut buf = [0u8; ONE_SHOT_MAX];
        buf[..32].copy_from_slice(head);
        buf[32..32 + payload.len()].copy_from_slice(payload);
        return xxhash_rust::xxh3::xxh3_64(&buf[..32 + payload.len()]);
    }
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    hasher.update(head);
    hasher.update(payload);
    hasher.digest()
}

/// Writes a record into `out` (exactly `record_len(payload.len())` bytes); returns its checksum.
///
/// The header's first 32 bytes are first written at offset 8, right before the payload at 40, so
/// the span the checksum covers is hashed in place in one shot (no copy), then moved to offset 0
/// and the checksum written behind it: the same bytes, the same value as [`checksum`].
pub fn encode(out: &mut [u8], sequence: u64, timestamp_ns: u64, prev_checksum: u64, payload: &[u8]) -> u64 {
    assert!(!payload.is_empty() && payload.len() <= PAYLOAD_LEN_MAX, "payload of {} bytes", payload.len());
    assert_eq!(out.len(), record_len(payload.len()), "record buffer size");
    let end = HEADER_LEN + payload.len();
    out[8..12].copy_from_slice(&u32::try_from(payload.len()).expect("bounded").to_le_bytes());
    out[12..16].copy_from_slice(&RECORD_VERSION.to_le_bytes());
    out[16..24].copy_from_slice(&sequence.to_le_bytes());
    out[24..32].copy_from_slice(&timestamp_ns.to_le_bytes());
    out[32..40].copy_from_slice(&prev_checksum.to_le_bytes());
    out[HEADER_LEN..end].copy_from_slice(payload);
    let sum = xxhash_rust::xxh3::xxh3_64(&out[8..end]);
    out.copy_within(8..40, 0);
    out[32..40].copy_from_slice(&sum.to_le_bytes());
    out[end..].fill(0);
    debug_assert_eq!(sum, checksum(&out[0..32], payload));
    sum
}

/// What is found at an offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// A valid record, and the bytes it takes.
    Record(Header, &'a [u8], usize),
    /// Zero length: no record starts here (the end of the written data, if it is all zeros).
    Empty,
    /// Something that is not a valid record (torn, flipped, foreign or truncated).
    Invalid,
}

/// Decodes the record at the start of `bytes`.
pub fn decode(bytes: &[u8]) -> Decoded<'_> {
    if bytes.len() < HEADER_LEN {
        return if bytes.iter().all(|&b| b == 0) { Decoded::Empty } else { Decoded::Invalid };
    }
    let len = u32_at(bytes, 0) as usize;
    if len == 0 {
        return if bytes[..HEADER_LEN].iter().all(|&b| b == 0) { Decoded::Empty } else { Decoded::Invalid };
    }
    if len > PAYLOAD_LEN_MAX || u32_at(bytes, 4) != RECORD_VERSION || bytes.len() < record_len(len) {
        return Decoded::Invalid;
    }
    let payload = &bytes[HEADER_LEN..HEADER_LEN + len];
    let header = Header {
        len: u32::try_from(len).expect("bounded"),
        sequence: u64_at(bytes, 8),
        timestamp_ns: u64_at(bytes, 16),
        prev_checksum: u64_at(bytes, 24),
        checksum: u64_at(bytes, 32),
    };
    if checksum(&bytes[0..32], payload) != header.checksum {
        return Decoded::Invalid;
    }
    Decoded::Record(header, payload, record_len(len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_every_single_bit_flip_is_caught() {
        let payload = b"place u1 i0 buy 100 x5";
        let mut buf = vec![0u8; record_len(payload.len())];
        let sum = encode(&mut buf, 7, 1_000, 42, payload);
        let Decoded::Record(header, body, used) = decode(&buf) else { panic!("valid record") };
        assert_eq!(
            (header.sequence, header.timestamp_ns, header.prev_checksum, header.checksum),
            (7, 1_000, 42, sum)
        );
        assert_eq!((body, used), (&payload[..], buf.len()));
        for bit in 0..(HEADER_LEN + payload.len()) * 8 {
            let mut flipped = buf.clone();
            flipped[bit / 8] ^= 1 << (bit % 8);
            assert!(!matches!(decode(&flipped), Decoded::Record(..)), "flip of bit {bit} went unnoticed");
        }
    }

    #[test]
    fn the_one_shot_checksum_equals_the_streaming_one_at_every_length() {
        for len in 0..=ONE_SHOT_MAX + 64 {
            let payload: Vec<u8> =
                (0..len).map(|i| u8::try_from((i * 7 + 3) % 251).expect("below 251")).collect();
            let head = [0x5au8; 32];
            let mut hasher = xxhash_rust::xxh3::Xxh3::new();
            hasher.update(&head);
            hasher.update(&payload);
            assert_eq!(checksum(&head, &payload), hasher.digest(), "payload of {len} bytes");
        }
    }

    #[test]
    fn zeros_are_empty_and_a_torn_record_is_invalid() {
        assert_eq!(decode(&[0u8; 64]), Decoded::Empty);
        let mut buf = vec![0u8; record_len(10)];
        encode(&mut buf, 1, 0, 0, &[9u8; 10]);
        assert_eq!(decode(&buf[..HEADER_LEN + 3]), Decoded::Invalid, "truncated payload");
        buf[HEADER_LEN + 5..].fill(0);
        assert_eq!(decode(&buf), Decoded::Invalid, "zeroed tail of the payload");
    }
}

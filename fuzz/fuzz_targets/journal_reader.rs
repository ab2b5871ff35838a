//! The journal's recovery on arbitrary bytes: a valid segment header followed by whatever the fuzzer
//! gives (markers and records). Recovery must never panic; when it accepts the segment, every record
//! it yields continues the sequence from 1, and appending and reading again work.

#![no_main]

use ferrex_journal::storage::MemStorage;
use ferrex_journal::wal::{Wal, segment_header};
use libfuzzer_sys::fuzz_target;

const SEGMENT: usize = 4 * 4096;

fuzz_target!(|data: &[u8]| {
    let mut bytes = vec![0u8; SEGMENT];
    bytes[..64].copy_from_slice(&segment_header(SEGMENT as u64, 1, 0));
    let room = SEGMENT - 64;
    bytes[64..64 + data.len().min(room)].copy_from_slice(&data[..data.len().min(room)]);
    let storage = MemStorage::with_segment("00000000000000000001.wal", bytes);
    let Ok((mut wal, recovery)) = Wal::open(storage, SEGMENT) else { return };
    let mut expected = 1;
    for (header, _) in wal.read_from(1) {
        assert_eq!(header.sequence, expected, "records out of sequence");
        expected += 1;
    }
    assert_eq!(recovery.last_sequence + 1, expected, "the report disagrees with the records");
    if let Ok(sequence) = wal.append(1, b"after recovery") {
        assert_eq!(sequence, expected);
        assert_eq!(wal.read_from(sequence).count(), 1);
    }
});

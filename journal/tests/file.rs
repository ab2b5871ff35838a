//! The log on real files: records written and synced through memory-mapped segments are read back
//! after the log is closed and opened again, with either flush path, across segment rolls. Each test
//! uses its own directory under the system's temporary directory and removes it.

use ferrex_journal::file::{FileStorage, Flush};
use ferrex_journal::record::record_len;
use ferrex_journal::wal::{DATA_START, JournalError, Wal};

const SEGMENT: usize = 4 * 4096;

struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("ferrex-journal-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn payload(n: u64) -> Vec<u8> {
    format!("command {n} {}", "x".repeat((n % 300) as usize)).into_bytes()
}

fn round_trip(flush: Flush, tag: &str) {
    let dir = TempDir::new(tag);
    {
        let (mut wal, recovery) = Wal::open(FileStorage::open(&dir.0, flush).unwrap(), SEGMENT).unwrap();
        assert_eq!(recovery.records, 0);
        for n in 1..=200 {
            assert_eq!(wal.append(n * 10, &payload(n)).unwrap(), n);
            if n % 25 == 0 {
                wal.sync().unwrap();
            }
        }
        wal.sync().unwrap();
    }
    let (mut wal, recovery) = Wal::open(FileStorage::open(&dir.0, flush).unwrap(), SEGMENT).unwrap();
    assert_eq!((recovery.records, recovery.last_sequence, recovery.cut.clone()), (200, 200, None));
    assert!(recovery.segments >= 3, "the records span several segments: {recovery:?}");
    let read: Vec<(u64, u64, Vec<u8>)> =
        wal.read_from(150).map(|(h, p)| (h.sequence, h.timestamp_ns, p.to_vec())).collect();
    assert_eq!(read.len(), 51);
    for (sequence, timestamp, bytes) in read {
        assert_eq!((timestamp, bytes), (sequence * 10, payload(sequence)));
    }
    assert_eq!(wal.append(2_010, &payload(201)).unwrap(), 201, "appending goes on after reopening");
}

#[test]
fn records_survive_close_and_reopen_with_msync() {
    round_trip(Flush::Msync, "msync");
}

#[test]
fn records_survive_close_and_reopen_with_fdatasync() {
    round_trip(Flush::Fdatasync, "fdatasync");
}

#[test]
fn a_segment_file_left_empty_by_a_crash_during_its_creation_is_removed() {
    // Found by the runtime crash test: killed between creating the file and allocating it.
    let dir = TempDir::new("empty-segment");
    {
        let (mut wal, _) = Wal::open(FileStorage::open(&dir.0, Flush::Fdatasync).unwrap(), SEGMENT).unwrap();
        for n in 1..=10 {
            wal.append(n, &payload(n)).unwrap();
        }
        wal.sync().unwrap();
    }
    let empty = dir.0.join(ferrex_journal::wal::segment_name(11));
    std::fs::File::create(&empty).unwrap();
    let (wal, _) = Wal::read_only(FileStorage::open(&dir.0, Flush::Fdatasync).unwrap(), SEGMENT).unwrap();
    assert_eq!(wal.next_sequence(), 11, "a read-only look passes over it");
    let (mut wal, recovery) =
        Wal::open(FileStorage::open(&dir.0, Flush::Fdatasync).unwrap(), SEGMENT).unwrap();
    assert_eq!((recovery.last_sequence, recovery.removed.len()), (10, 1), "{recovery:?}");
    assert!(!empty.exists(), "opening for writing removes it");
    assert_eq!(wal.append(11, &payload(11)).unwrap(), 11);
}

/// `async` durability's background sync: handles run on another thread while the owner keeps
/// appending; segments left behind become retirable only once a pass covering them is noted.
#[test]
fn segments_synced_from_another_thread_can_be_retired() {
    let dir = TempDir::new("handles");
    let (mut wal, _) = Wal::open(FileStorage::open(&dir.0, Flush::Fdatasync).unwrap(), SEGMENT).unwrap();
    let mut handles = wal.sync_handles(None).unwrap();
    assert_eq!(handles.len(), 1, "the one segment, not yet synced");
    let mut registered = wal.current_first_sequence();
    for n in 1..=200 {
        wal.append(n, &payload(n)).unwrap();
        if wal.current_first_sequence() != registered {
            handles.extend(wal.sync_handles(Some(registered)).unwrap());
            registered = wal.current_first_sequence();
        }
    }
    let segments = wal.segments().len();
    assert!(segments >= 3, "the records span several segments");
    assert_eq!(handles.len(), segments, "one handle per segment, each once");
    assert!(wal.retire_through(200, false).unwrap().is_empty(), "nothing is known durable yet");
    std::thread::spawn(move || {
        for mut sync in handles {
            sync().unwrap();
        }
    })
    .join()
    .unwrap();
    wal.note_durable(200, None).unwrap();
    let retired = wal.retire_through(200, false).unwrap();
    assert_eq!(retired.len(), segments - 1, "every segment but the current one");
    drop(wal);
    let (wal, recovery) = Wal::open(FileStorage::open(&dir.0, Flush::Fdatasync).unwrap(), SEGMENT).unwrap();
    assert_eq!(recovery.last_sequence, 200);
    assert_eq!(wal.first_sequence(), wal.current_first_sequence(), "only the current segment is left");
}

/// The log of `async` durability, synced only by handles as the flusher does, with a bit of
/// record 2 flipped on the disk afterwards; `marked` says whether `note_durable` got the mark
/// taken before the syncs. The journal as it opens again.
fn reopened_after_damage_behind_a_background_sync(marked: bool, tag: &str) -> Result<u64, JournalError> {
    let dir = TempDir::new(tag);
    {
        let (mut wal, _) = Wal::open(FileStorage::open(&dir.0, Flush::Fdatasync).unwrap(), SEGMENT).unwrap();
        let mut handles = wal.sync_handles(None).unwrap();
        for n in 1..=5 {
            wal.append(n, &payload(n)).unwrap();
        }
        let mark = wal.append_mark();
        for sync in &mut handles {
            sync().unwrap();
        }
        wal.note_durable(5, marked.then_some(mark)).unwrap();
        wal.append(6, &payload(6)).unwrap();
        // The next pass makes the marker durable with record 6.
        for sync in &mut handles {
            sync().unwrap();
        }
    }
    let path = dir.0.join("00000000000000000001.wal");
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[DATA_START + record_len(payload(1).len()) + 20] ^= 1 << 2;
    std::fs::write(&path, &bytes).unwrap();
    Wal::open(FileStorage::open(&dir.0, Flush::Fdatasync).unwrap(), SEGMENT).map(|(_, r)| r.last_sequence)
}

/// In `async` durability the segment being written gets its marker from the background sync's
/// mark (wal.rs `note_durable`): a record damaged before it is corruption when the log opens
/// again, not a torn tail cut away with the synced records after it, as without the mark.
#[test]
fn a_damaged_record_a_background_sync_covered_is_corruption() {
    assert_eq!(
        reopened_after_damage_behind_a_background_sync(false, "unmarked"),
        Ok(1),
        "without a marker the damage reads as a torn tail: records 2 to 6 cut"
    );
    match reopened_after_damage_behind_a_background_sync(true, "marked") {
        Err(JournalError::Corruption { segment, offset, .. }) => {
            let record_2 = DATA_START + record_len(payload(1).len());
            assert_eq!((segment.as_str(), offset), ("00000000000000000001.wal", record_2));
        }
        other => panic!("expected corruption at record 2, got {other:?}"),
    }
}

/// Written data is unmapped as the writer passes it, and read ahead of it (file.rs module docs):
/// every byte still reads back, from the live log (pages mapped again on access) and after
/// reopening, across segments large enough for both to happen many times.
#[test]
fn records_read_back_after_their_pages_are_let_go() {
    const LARGE: usize = 1 << 20;
    let dir = TempDir::new("release");
    let count = 12_000u64;
    let (mut wal, _) = Wal::open(FileStorage::open(&dir.0, Flush::Fdatasync).unwrap(), LARGE).unwrap();
    for n in 1..=count {
        wal.append(n, &payload(n)).unwrap();
    }
    assert!(wal.segments().len() >= 3, "several large segments");
    let check = |wal: &Wal<FileStorage>| {
        let mut next = 1;
        for (header, bytes) in wal.read_from(1) {
            assert_eq!((header.sequence, header.timestamp_ns, bytes), (next, next, &payload(next)[..]));
            next += 1;
        }
        assert_eq!(next, count + 1);
    };
    check(&wal);
    wal.sync().unwrap();
    drop(wal);
    let (wal, recovery) = Wal::open(FileStorage::open(&dir.0, Flush::Fdatasync).unwrap(), LARGE).unwrap();
    assert_eq!(recovery.last_sequence, count);
    check(&wal);
}

/// Retired segments are removed on the storage's background thread, in order; after a removal
/// fails, no later segment is removed (a later one gone while an earlier one stays would break
/// the log's chain), and a later retirement reports the failure.
#[test]
fn a_failed_background_removal_stops_the_removals_after_it() {
    let dir = TempDir::new("retire");
    let (mut wal, _) = Wal::open(FileStorage::open(&dir.0, Flush::Fdatasync).unwrap(), SEGMENT).unwrap();
    let mut n = 0;
    while wal.segments().len() < 6 {
        n += 1;
        wal.append(n, &payload(n)).unwrap();
    }
    wal.sync().unwrap();
    let segments = wal.segments();
    // The first segment's file becomes a directory: removing it fails and it stays.
    let first = dir.0.join(&segments[0].0);
    std::fs::remove_file(&first).unwrap();
    std::fs::create_dir(&first).unwrap();
    let mut results = Vec::new();
    for next in &segments[1..5] {
        results.push(wal.retire_through(next.1 - 1, false).map(|names| names.len()));
    }
    drop(wal); // joins the background thread: every retirement asked has run or been skipped
    assert!(results[0].is_ok(), "the first retirement is only handed over: {results:?}");
    for (name, _, _) in &segments[1..] {
        assert!(dir.0.join(name).is_file(), "{name} removed after a failed removal ({results:?})");
    }
}

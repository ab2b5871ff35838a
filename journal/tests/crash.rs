//! Seeded crash simulation over the in-memory storage: random appends and syncs, crashes of every
//! kind (unsynced writes dropped, a random subset of pages written back, a torn last page), then
//! recovery, several times per run. After every recovery: no synced record is lost, what is
//! recovered is exactly a prefix of what was appended (nothing corrupted, nothing reordered, nothing
//! invented), and appending goes on from there. `FERREX_SEED=n` reruns one seed,
//! `FERREX_SEEDS=n` changes how many run (default 2,000).

use ferrex_journal::storage::{Crash, MemStorage, StorageError};
use ferrex_journal::wal::{DATA_START, JournalError, Wal};

const SEGMENT: usize = 4 * 4096;

struct Rng(u64);

impl Rng {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % bound
    }
}

/// The payload of sequence `n`: its length and bytes follow from `n`, so any mix-up shows.
#[allow(clippy::cast_possible_truncation)] // Truncation is the point: any byte pattern will do.
fn payload(n: u64) -> Vec<u8> {
    let len = 1 + (n * 37 % 700) as usize;
    (0..len).map(|i| (n as usize * 31 + i) as u8).collect()
}

fn recovered(wal: &Wal<MemStorage>) -> Vec<(u64, u64, Vec<u8>)> {
    wal.read_from(1).map(|(h, p)| (h.sequence, h.timestamp_ns, p.to_vec())).collect()
}

fn run(seed: u64) -> Result<(), String> {
    let mut rng = Rng(seed);
    let (mut wal, _) = Wal::open(MemStorage::new(), SEGMENT).map_err(|e| e.to_string())?;
    let (mut appended, mut synced) = (0u64, 0u64);
    for cycle in 0..4 {
        for _ in 0..rng.below(120) {
            if rng.below(6) == 0 {
                wal.sync().map_err(|e| e.to_string())?;
                synced = appended;
            } else {
                let n = wal.append(appended + 1, &payload(appended + 1)).map_err(|e| e.to_string())?;
                appended += 1;
                if n != appended {
                    return Err(format!("append gave sequence {n}, expected {appended}"));
                }
            }
        }
        let crash = match rng.below(3) {
            0 => Crash::DropUnsynced,
            1 => Crash::RandomPages { seed: rng.below(u64::MAX) },
            _ => Crash::TornWrite { seed: rng.below(u64::MAX) },
        };
        let (reopened, recovery) = Wal::open(wal.storage().crash(crash), SEGMENT)
            .map_err(|e| format!("cycle {cycle}, {crash:?}: recovery refused: {e}"))?;
        let records = recovered(&reopened);
        let count = records.len() as u64;
        if count < synced || count > appended || recovery.last_sequence != count {
            return Err(format!(
                "cycle {cycle}, {crash:?}: {count} recovered, {synced} synced, {appended} appended"
            ));
        }
        for (i, (sequence, timestamp, bytes)) in records.iter().enumerate() {
            let n = i as u64 + 1;
            if (*sequence, *timestamp) != (n, n) || *bytes != payload(n) {
                return Err(format!("cycle {cycle}, {crash:?}: record {n} is not what was appended"));
            }
        }
        (wal, appended, synced) = (reopened, count, count);
    }
    Ok(())
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|v| v.parse().unwrap_or_else(|_| panic!("{name} must be a number")))
}

#[test]
fn no_synced_record_is_lost_and_nothing_else_is_applied() {
    let seeds: Vec<u64> = match env_u64("FERREX_SEED") {
        Some(seed) => vec![seed],
        None => (1..=env_u64("FERREX_SEEDS").unwrap_or(2_000)).collect(),
    };
    for seed in seeds {
        if let Err(report) = run(seed) {
            panic!("seed {seed} (rerun with FERREX_SEED={seed}): {report}");
        }
    }
}

#[test]
fn a_flipped_bit_in_synced_data_is_corruption_with_segment_and_offset() {
    let (mut wal, _) = Wal::open(MemStorage::new(), SEGMENT).unwrap();
    for n in 1..=5 {
        wal.append(n, &payload(n)).unwrap();
    }
    wal.sync().unwrap();
    wal.append(6, &payload(6)).unwrap();
    wal.sync().unwrap(); // makes the marker of the first sync durable
    let mut storage = wal.storage().crash(Crash::DropUnsynced);
    let name = "00000000000000000001.wal";
    storage.flip_bit(name, DATA_START + 45, 3); // inside record 1 (4096..4176)
    match Wal::open(storage, SEGMENT) {
        Err(JournalError::Corruption { segment, offset, .. }) => {
            assert_eq!((segment.as_str(), offset), (name, DATA_START), "the first record is the bad one");
        }
        other => panic!("expected corruption, got {:?}", other.map(|(_, r)| r)),
    }
}

#[test]
fn no_space_at_segment_creation_is_an_error_not_a_crash() {
    let mut storage = MemStorage::new();
    storage.space_left = Some(SEGMENT as u64 * 2);
    let (mut wal, _) = Wal::open(storage, SEGMENT).unwrap();
    let mut result = Ok(0);
    for n in 1..1_000 {
        result = wal.append(n, &payload(n));
        if result.is_err() {
            break;
        }
    }
    assert!(matches!(result, Err(JournalError::Storage(StorageError::NoSpace { .. }))), "{result:?}");
}

#[test]
fn a_failed_sync_is_reported() {
    let mut storage = MemStorage::new();
    let (mut wal, _) = Wal::open(std::mem::take(&mut storage), SEGMENT).unwrap();
    wal.append(1, &payload(1)).unwrap();
    let mut storage = wal.storage().clone();
    storage.fail_next_sync = true;
    let (mut wal, _) = Wal::open(storage, SEGMENT).unwrap();
    wal.append(2, &payload(2)).unwrap();
    assert!(matches!(wal.sync(), Err(JournalError::Storage(StorageError::SyncFailed { .. }))));
}

#[test]
fn verify_changes_nothing_and_reports_what_open_recovers() {
    for seed in 1..=300 {
        let mut rng = Rng(seed);
        let (mut wal, _) = Wal::open(MemStorage::new(), SEGMENT).unwrap();
        for n in 1..=rng.below(200) {
            wal.append(n, &payload(n)).unwrap();
            if rng.below(8) == 0 {
                wal.sync().unwrap();
            }
        }
        let crashed = wal.storage().crash(Crash::TornWrite { seed: rng.below(u64::MAX) });
        let (untouched, verified) = Wal::verify(crashed.clone(), SEGMENT);
        assert!(untouched == crashed, "seed {seed}: verify changed the storage");
        let (_, opened) = Wal::open(crashed, SEGMENT).unwrap();
        assert_eq!(verified.unwrap(), opened, "seed {seed}: verify and open disagree");
    }
}

/// A follower reads what a log's owner made durable, across segment rolls, from any starting
/// record, and agrees with the owner's own reading.
#[test]
fn a_follower_reads_through_the_durable_records_across_segments() {
    let (mut wal, _) = Wal::open(MemStorage::new(), SEGMENT).unwrap();
    let mut rng = Rng(5);
    for round in 0..6 {
        for _ in 0..rng.below(200) + 50 {
            let n = wal.next_sequence();
            wal.append(n, &payload(n)).unwrap();
        }
        wal.sync().unwrap();
        let durable = wal.next_sequence() - 1;
        for start in [1, 1 + rng.below(durable)] {
            let mut follower = ferrex_journal::wal::Follower::new(wal.storage().clone(), start).unwrap();
            let mut seen = Vec::new();
            follower
                .read_through(durable, |h, p| seen.push((h.sequence, h.timestamp_ns, p.to_vec())))
                .unwrap();
            let expected: Vec<_> =
                wal.read_from(start).map(|(h, p)| (h.sequence, h.timestamp_ns, p.to_vec())).collect();
            assert_eq!(seen, expected, "round {round}, from {start}");
            assert_eq!(follower.next_sequence(), durable + 1);
        }
    }
    assert!(wal.segments().len() > 3, "the log rolled");
}

/// A crash right after a roll, before any sync covered the new segment: its header (written, not
/// synced) reached the disk up to any byte. Recovery keeps every synced record and removes the
/// segment unless its header is whole.
#[test]
fn a_roll_no_sync_covered_is_removed_when_its_header_is_lost_or_torn() {
    // The record that rolls the log (the log is deterministic: find it on a first log).
    let (mut probe, _) = Wal::open(MemStorage::new(), SEGMENT).unwrap();
    let mut rolling = 0;
    while probe.segments().len() == 1 {
        rolling += 1;
        probe.append(rolling, &payload(rolling)).unwrap();
    }
    for first in [false, true] {
        // The roll of the log's first segment (nothing synced before it) or of a later one.
        let (mut wal, _) = Wal::open(MemStorage::new(), SEGMENT).unwrap();
        let rolled = if first {
            wal.segments()[0].0.clone()
        } else {
            for n in 1..rolling {
                wal.append(n, &payload(n)).unwrap();
            }
            wal.sync().unwrap();
            wal.append(rolling, &payload(rolling)).unwrap();
            wal.segments()[1].0.clone()
        };
        let kept = if first { 0 } else { rolling - 1 };
        for at in 0..=64 {
            let crashed = wal.storage().crash_torn_at(&rolled, at);
            let (reopened, recovery) = Wal::open(crashed, SEGMENT)
                .unwrap_or_else(|e| panic!("first {first}, torn at {at}: recovery refused: {e}"));
            assert_eq!(recovered(&reopened).len() as u64, kept, "first {first}, torn at {at}");
            // Bytes 48..64 of a header are reserved zeros: torn there, it is whole.
            let whole = at >= 48;
            assert_eq!(
                recovery.removed.contains(&rolled),
                !whole,
                "first {first}, torn at {at}: {recovery:?}"
            );
        }
    }
}

//! The snapshotter on real files, beside a writer that plays the core: records appended, synced
//! in groups, the durable watermark published after each sync. Snapshots follow the watermark
//! (never past it), each is the exact state after its record, only the newest two stay, the
//! writer retires the segments they cover, and recovery from the directory finds the last state
//! with nothing to replay. A time-only policy takes snapshots without a record threshold.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ferrex_engine::codec::{self, COMMAND_BYTES_MAX};
use ferrex_engine::recovery::{self, Until};
use ferrex_engine::runtime::snapshotter::{SnapshotPolicy, Snapshotter};
use ferrex_engine::{Command, Engine};
use ferrex_journal::file::{FileStorage, Flush};
use ferrex_journal::snapshot;
use ferrex_journal::wal::Wal;
use ferrex_tests::generate::SplitMix64;
use ferrex_tests::journal_fixture::{SEGMENT, TempDir};
use ferrex_tests::money_gen;

/// How long a test waits for a snapshot that is due before failing (not a synchronization: the
/// wait ends as soon as the snapshot exists).
const DEADLINE: Duration = Duration::from_mins(2);

/// The commands of a money run, setup included.
fn records(seed: u64, count: usize) -> Vec<(u64, Command)> {
    let config = money_gen::money_config();
    let mut records: Vec<(u64, Command)> =
        money_gen::money_setup(&config).into_iter().map(|c| (0, c)).collect();
    records.extend(money_gen::commands(&mut SplitMix64(seed), count));
    records
}

struct Core {
    wal: Wal<FileStorage>,
    engine: Engine,
    durable: Arc<AtomicU64>,
    /// State hash after each record (index = sequence).
    hashes: Vec<u64>,
}

impl Core {
    fn new(dir: &std::path::Path) -> Core {
        let (mut wal, _) = Wal::open(FileStorage::open(dir, Flush::Fdatasync).unwrap(), SEGMENT).unwrap();
        let engine = Engine::new(money_gen::money_config()).unwrap();
        recovery::write_snapshot(wal.storage_mut(), &engine, 0, 0).unwrap();
        let hashes = vec![engine.state_hash()];
        Core { wal, engine, durable: Arc::new(AtomicU64::new(0)), hashes }
    }

    fn append(&mut self, time_ns: u64, command: &Command) {
        let mut buf = [0u8; COMMAND_BYTES_MAX];
        let len = codec::encode(command, &mut buf);
        self.wal.append(time_ns, &buf[..len]).unwrap();
        let mut events = Vec::new();
        self.engine.apply_at(time_ns, command, &mut events);
        self.hashes.push(self.engine.state_hash());
    }

    fn sync(&mut self) -> u64 {
        self.wal.sync().unwrap();
        let durable = self.wal.next_sequence() - 1;
        self.durable.store(durable, Ordering::Release);
        durable
    }
}

#[test]
fn snapshots_follow_the_durable_watermark_and_are_exact() {
    let dir = TempDir::new("snapshotter");
    let mut core = Core::new(&dir.0);
    let policy = SnapshotPolicy { every_records: 300, every: Duration::from_hours(1), keep: 2, cpu: None };
    let storage = FileStorage::open(&dir.0, Flush::Fdatasync).unwrap();
    let snapshotter = Snapshotter::start(
        storage,
        Engine::new(money_gen::money_config()).unwrap(),
        (0, 0),
        core.durable.clone(),
        policy,
    )
    .unwrap();
    let records = records(21, 3_000);
    let (mut retired, mut snapshots_due) = (0, 0);
    for chunk in records.chunks(50) {
        for (time_ns, command) in chunk {
            core.append(*time_ns, command);
        }
        let durable = core.sync();
        snapshotter.notify();
        let mut progress = snapshotter.progress();
        assert!(progress.last_sequence <= durable, "a snapshot never passes the watermark");
        if durable >= progress.last_sequence + policy.every_records {
            // Due by count: it must come (the deadline only bounds a failure).
            progress = snapshotter.wait_for(durable, DEADLINE);
            assert!(progress.snapshots > 0 && progress.last_sequence >= durable, "{progress:?} at {durable}");
            snapshots_due += 1;
        }
        retired += core.wal.retire_through(progress.oldest_kept, false).unwrap().len();
    }
    let last = core.sync();
    let progress = snapshotter.stop().unwrap();
    assert_eq!(progress.last_sequence, last, "the last snapshot, at stop, is of the last durable record");
    assert!(
        progress.snapshots > snapshots_due && snapshots_due >= 9,
        "{progress:?}, {snapshots_due} due by count"
    );
    assert!(retired > 0, "the writer retired covered segments");
    let storage = FileStorage::open(&dir.0, Flush::Fdatasync).unwrap();
    let listed = snapshot::list(&storage).unwrap();
    assert_eq!(listed.len(), 2, "keep 2: {listed:?}");
    for (name, header) in &listed {
        let header = header.as_ref().unwrap();
        let (_, body) = snapshot::read(&storage, name).unwrap();
        let engine = recovery::load_snapshot(&body, header.state_hash).unwrap();
        assert_eq!(engine.state_hash(), core.hashes[usize::try_from(header.sequence).unwrap()], "{name}");
    }
    drop(core);
    let (wal, _) = Wal::read_only(storage, SEGMENT).unwrap();
    let (engine, report) = recovery::recover(&wal, None, Until::End, &mut |_, _| {}).unwrap();
    assert_eq!((report.replayed, report.last_sequence), (0, last));
    assert_eq!(engine.state_hash(), report.state_hash);
}

#[test]
fn a_time_policy_takes_snapshots_without_a_record_threshold() {
    let dir = TempDir::new("snapshotter-time");
    let mut core = Core::new(&dir.0);
    let policy =
        SnapshotPolicy { every_records: u64::MAX, every: Duration::from_millis(1), keep: 3, cpu: None };
    let storage = FileStorage::open(&dir.0, Flush::Fdatasync).unwrap();
    let snapshotter = Snapshotter::start(
        storage,
        Engine::new(money_gen::money_config()).unwrap(),
        (0, 0),
        core.durable.clone(),
        policy,
    )
    .unwrap();
    for (time_ns, command) in records(22, 200) {
        core.append(time_ns, &command);
    }
    let durable = core.sync();
    let progress = snapshotter.wait_for(durable, DEADLINE);
    assert!(progress.running && progress.snapshots >= 1 && progress.last_sequence == durable, "{progress:?}");
    let stopped = snapshotter.stop().unwrap();
    assert_eq!(stopped.snapshots, progress.snapshots, "nothing new to snapshot at stop");
}

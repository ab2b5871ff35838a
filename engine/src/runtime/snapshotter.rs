//! The snapshotter: snapshot N+1 built from snapshot N plus the journal records after it, on a
//! low-priority thread of its own, so the core never pauses for a snapshot.
//!
//! The thread keeps its own engine (a copy of the state at its last snapshot) and follows the
//! journal up to the owner's durable watermark (an atomic published after each sync: by the core
//! in `sync` durability, by the flusher in `async`):
//! only synced records are ever applied, so a snapshot never holds a record a crash could lose.
//! A snapshot is taken when `every_records` records have become durable since the last one, or
//! `every` has passed and at least one has; and once more when the snapshotter is stopped. After
//! each, the newest `keep` valid snapshots are kept and older ones removed; the sequence of the
//! oldest kept one is published ([`Progress::oldest_kept`]) for the journal's owner to retire the
//! segments it covers (`Wal::retire_through`): segments belong to the owner, files of snapshots
//! to the snapshotter.
//!
//! Invariants: snapshots are taken in sequence order, each the exact state after its record
//! (the engine is deterministic, and the records are the journal's); a failure (a damaged record,
//! a failed write) stops the thread and is reported by [`Snapshotter::stop`], never retried.
//! Complexity: applying the records costs what replay costs (about 5M records/s here), on a
//! thread at nice 10; each snapshot is O(state). Memory: a second engine.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ferrex_journal::snapshot;
use ferrex_journal::storage::{Storage, StorageError};
use ferrex_journal::wal::{Follower, JournalError};

use crate::codec::{self, DecodeError};
use crate::engine::Engine;

/// When to take snapshots and how many to keep.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SnapshotPolicy {
    /// A snapshot once this many records have become durable since the last one.
    pub every_records: u64,
    /// A snapshot once this long has passed since the last one (if any record became durable).
    pub every: Duration,
    /// Valid snapshots kept (at least 1).
    pub keep: usize,
    /// The CPU the thread is pinned to (best effort): keep it off the core's.
    pub cpu: Option<usize>,
}

impl Default for SnapshotPolicy {
    fn default() -> Self {
        SnapshotPolicy { every_records: 1_000_000, every: Duration::from_mins(1), keep: 3, cpu: None }
    }
}

/// What the snapshotter has done so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// Snapshots written by this snapshotter.
    pub snapshots: u64,
    /// The record its newest snapshot is of.
    pub last_sequence: u64,
    /// The record the oldest snapshot kept is of: segments entirely before it may be retired
    /// (0 until the thread's first snapshot).
    pub oldest_kept: u64,
    /// False once the thread has ended (stopped, or failed: see [`Snapshotter::stop`]).
    pub running: bool,
}

/// Why the snapshotter stopped before it was asked to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotterError {
    /// The journal could not be read.
    #[error("{0}")]
    Journal(#[from] JournalError),
    /// A snapshot file could not be written or pruned.
    #[error("snapshot files: {0}")]
    Storage(#[from] StorageError),
    /// A durable record is not a command.
    #[error("journal record {sequence}: payload is not a command: {error}")]
    Payload {
        /// The record.
        sequence: u64,
        /// What is wrong.
        error: DecodeError,
    },
}

struct Shared {
    durable: Arc<AtomicU64>,
    stop: Mutex<bool>,
    wake: Condvar,
    progress: Mutex<Progress>,
    changed: Condvar,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().expect("no thread panics holding the snapshotter's locks")
}

/// The snapshotter thread and its handle.
pub struct Snapshotter {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<Result<(), SnapshotterError>>>,
}

/// The state the thread works on: the engine after record `sequence`, stamped `timestamp_ns`.
struct Work<S: Storage> {
    engine: Engine,
    sequence: u64,
    timestamp_ns: u64,
    follower: Follower<S>,
    body: Vec<u8>,
}

impl Snapshotter {
    /// Starts the thread. `engine` is the state after record `sequence` (stamped `timestamp_ns`),
    /// as recovery left it; `storage` is the snapshotter's own view of the journal's directory;
    /// `durable` is the owner's durable watermark.
    pub fn start<S: Storage + Send + 'static>(
        storage: S,
        engine: Engine,
        (sequence, timestamp_ns): (u64, u64),
        durable: Arc<AtomicU64>,
        policy: SnapshotPolicy,
    ) -> Result<Snapshotter, SnapshotterError> {
        let follower = Follower::new(storage, sequence + 1)?;
        let shared = Arc::new(Shared {
            durable,
            stop: Mutex::new(false),
            wake: Condvar::new(),
            progress: Mutex::new(Progress {
                last_sequence: sequence,
                // Nothing is known of the files yet: the state it starts from may have no
                // snapshot of its own (recovery replayed records after an older one), so nothing
                // may be retired until its first snapshot and prune.
                oldest_kept: 0,
                running: true,
                ..Progress::default()
            }),
            changed: Condvar::new(),
        });
        let work = Work { engine, sequence, timestamp_ns, follower, body: Vec::new() };
        let thread_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("ferrex-snapshotter".into())
            .spawn(move || {
                ferrex_journal::file::lower_thread_priority();
                let _ = super::core::pin_current_thread(policy.cpu);
                let result = run(&thread_shared, work, policy);
                lock(&thread_shared.progress).running = false;
                thread_shared.changed.notify_all();
                result
            })
            .map_err(|e| StorageError::Io(e.to_string()))?;
        Ok(Snapshotter { shared, thread: Some(thread) })
    }

    /// Wakes the thread to look at the watermark now (it also looks on its own, at least every
    /// 50 ms).
    pub fn notify(&self) {
        self.shared.wake.notify_one();
    }

    /// What it has done so far.
    pub fn progress(&self) -> Progress {
        *lock(&self.shared.progress)
    }

    /// Blocks until a snapshot of record `sequence` or later exists, the thread has ended, or
    /// `deadline` has passed; returns the progress then.
    pub fn wait_for(&self, sequence: u64, deadline: Duration) -> Progress {
        let progress = lock(&self.shared.progress);
        let pending = |p: &mut Progress| p.running && (p.snapshots == 0 || p.last_sequence < sequence);
        let (progress, _) = self
            .shared
            .changed
            .wait_timeout_while(progress, deadline, pending)
            .expect("no panics holding the lock");
        *progress
    }

    /// Stops the thread after a last snapshot through the current watermark; returns what it did,
    /// or why it had stopped on its own.
    pub fn stop(mut self) -> Result<Progress, SnapshotterError> {
        *lock(&self.shared.stop) = true;
        self.shared.wake.notify_one();
        let thread = self.thread.take().expect("stopped once");
        thread.join().expect("the snapshotter thread does not panic")?;
        Ok(self.progress())
    }
}

impl Drop for Snapshotter {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            *lock(&self.shared.stop) = true;
            self.shared.wake.notify_one();
            let _ = thread.join();
        }
    }
}

/// Poll interval when nothing wakes the thread.
const POLL_MAX: Duration = Duration::from_millis(50);

fn run<S: Storage>(
    shared: &Shared,
    mut work: Work<S>,
    policy: SnapshotPolicy,
) -> Result<(), SnapshotterError> {
    let mut last_at = Instant::now();
    loop {
        let stopping = {
            let stop = lock(&shared.stop);
            let timeout = policy.every.min(POLL_MAX);
            *shared
                .wake
                .wait_timeout_while(stop, timeout, |stop| !*stop)
                .expect("no panics holding the lock")
                .0
        };
        let durable = shared.durable.load(Ordering::Acquire);
        let fresh = durable.saturating_sub(work.sequence);
        let due = fresh >= policy.every_records || (fresh > 0 && last_at.elapsed() >= policy.every);
        if due || (stopping && fresh > 0) {
            take(shared, &mut work, durable, policy.keep)?;
            last_at = Instant::now();
        }
        if stopping {
            return Ok(());
        }
    }
}

/// Applies the records through `durable`, writes the snapshot, prunes, publishes.
fn take<S: Storage>(
    shared: &Shared,
    work: &mut Work<S>,
    durable: u64,
    keep: usize,
) -> Result<(), SnapshotterError> {
    let mut events = Vec::new();
    let mut failed = None;
    let Work { engine, sequence, timestamp_ns, follower, body } = work;
    follower.read_through(durable, |header, payload| {
        if failed.is_some() {
            return;
        }
        match codec::decode(payload) {
            Ok(command) => {
                events.clear();
                engine.apply_at(header.timestamp_ns, &command, &mut events);
                (*sequence, *timestamp_ns) = (header.sequence, header.timestamp_ns);
            }
            Err(error) => failed = Some(SnapshotterError::Payload { sequence: header.sequence, error }),
        }
    })?;
    if let Some(error) = failed {
        return Err(error);
    }
    body.clear();
    engine.write_snapshot(body);
    let storage = follower.storage_mut();
    snapshot::write(storage, *sequence, *timestamp_ns, engine.state_hash(), body)?;
    let pruned = snapshot::prune(storage, keep)?;
    let mut progress = lock(&shared.progress);
    progress.snapshots += 1;
    progress.last_sequence = *sequence;
    progress.oldest_kept = pruned.oldest_kept.unwrap_or(*sequence);
    drop(progress);
    shared.changed.notify_all();
    Ok(())
}

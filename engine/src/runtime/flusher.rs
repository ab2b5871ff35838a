//! The flusher: in `async` durability, makes the journal durable in the background, so that a
//! power loss loses at most the last `every` of acknowledged commands, segments are retired while
//! the server runs, and snapshots never hold a record the disk does not.
//!
//! The core registers each segment (a [`SyncHandle`]: a duplicate of its file) before it appends
//! into it, and publishes after each batch where its records end (an [`AppendMark`]) and then
//! the last sequence it appended (`appended`, release). Every `every`, when that has moved, this
//! thread reads both (acquire), takes the segments registered meanwhile, syncs each one it
//! holds, oldest first (records, header, and a new segment's directory entry), then publishes
//! the mark and the sequence as durable (`durable`: the watermark the snapshotter follows and
//! the metrics show). The core, in its maintenance, notes both in the journal
//! ([`Wal::note_durable`]: final markers for the segments left, a marker at the mark for the
//! current one) and retires what snapshots cover.
//!
//! Invariants: the watermark and the mark never pass a record that is not durable: every record
//! up to a value read was written, and its segment registered, before the core published it
//! (release / acquire), so the syncs that follow the read cover it (each value on its own: the
//! two need not come from the same batch). After a pass only the newest segment is
//! kept: once a later one is registered, an older one is never written again (the core rolls
//! only forward), so the pass that saw the later one synced all of it. A failed sync stops the
//! thread and is reported to the core, which stops (never retried: data may be lost).
//! The core never waits for this thread while running; it joins it when it stops.
//! Complexity: one `fdatasync` per registered segment per pass (one, except across a roll).
//!
//! [`Wal::note_durable`]: ferrex_journal::wal::Wal::note_durable
//! [`AppendMark`]: ferrex_journal::wal::AppendMark

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use ferrex_journal::storage::{StorageError, SyncHandle};
use ferrex_journal::wal::AppendMark;

/// No mark yet (`AppendMark::from_bits` reads it as `None`).
const NO_MARK: u64 = u64::MAX;

/// What the core and the flusher thread share.
struct Shared {
    /// The last sequence the core appended (published after each batch).
    appended: AtomicU64,
    /// The durable watermark.
    durable: Arc<AtomicU64>,
    /// Where the core's records ended after its last batch (`AppendMark` bits).
    appended_mark: AtomicU64,
    /// The mark the last pass made durable.
    durable_mark: AtomicU64,
    stop: AtomicBool,
    failed: AtomicBool,
    failure: Mutex<Option<StorageError>>,
}

/// The core's handle on the flusher thread.
pub struct Flusher {
    shared: Arc<Shared>,
    segments: Sender<SyncHandle>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Flusher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Flusher").field("appended", &self.shared.appended).finish_non_exhaustive()
    }
}

impl Flusher {
    /// Starts the thread: a pass every `every`, pinned to `cpu` (best effort). `durable` holds
    /// the recovered sequence (durable already); the core registers the segments.
    pub fn start(durable: Arc<AtomicU64>, every: Duration, cpu: Option<usize>) -> std::io::Result<Flusher> {
        assert!(!every.is_zero(), "a flush interval");
        let shared = Arc::new(Shared {
            appended: AtomicU64::new(durable.load(Ordering::Acquire)),
            durable,
            appended_mark: AtomicU64::new(NO_MARK),
            durable_mark: AtomicU64::new(NO_MARK),
            stop: AtomicBool::new(false),
            failed: AtomicBool::new(false),
            failure: Mutex::new(None),
        });
        let (sender, receiver) = channel();
        let thread = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new().name("ferrex-flusher".into()).spawn(move || {
                let _ = super::core::pin_current_thread(cpu);
                // Background work, like the snapshotter's: it yields to the IO threads.
                let _ = ferrex_journal::file::lower_thread_priority();
                if let Err(error) = run(&shared, &receiver, every) {
                    *shared.failure.lock().unwrap_or_else(PoisonError::into_inner) = Some(error);
                    shared.failed.store(true, Ordering::Release);
                }
            })?
        };
        Ok(Flusher { shared, segments: sender, thread: Some(thread) })
    }

    /// Registers a new segment; before any record is appended into it is published.
    pub fn register(&self, segment: SyncHandle) {
        // A flusher that stopped (a failed sync) no longer listens; `failed` reports it.
        let _ = self.segments.send(segment);
    }

    /// Publishes where the records end and the last sequence appended (after the batch's
    /// records are written).
    pub fn appended(&self, sequence: u64, mark: AppendMark) {
        self.shared.appended_mark.store(mark.to_bits(), Ordering::Release);
        self.shared.appended.store(sequence, Ordering::Release);
    }

    /// The mark the last pass made durable, for [`ferrex_journal::wal::Wal::note_durable`].
    pub fn durable_mark(&self) -> Option<AppendMark> {
        AppendMark::from_bits(self.shared.durable_mark.load(Ordering::Acquire))
    }

    /// Whether a sync failed (the core must stop).
    pub fn failed(&self) -> bool {
        self.shared.failed.load(Ordering::Acquire)
    }

    /// Stops the thread after its current pass; returns a sync failure if there was one.
    pub fn stop(mut self) -> Result<(), StorageError> {
        if !self.halt() {
            return Err(StorageError::Io("the flusher thread panicked".into()));
        }
        match self.shared.failure.lock().unwrap_or_else(PoisonError::into_inner).take() {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    /// Asks the thread to stop and waits for it; false if it panicked.
    fn halt(&mut self) -> bool {
        self.shared.stop.store(true, Ordering::Release);
        self.thread.take().is_none_or(|thread| {
            thread.thread().unpark();
            thread.join().is_ok()
        })
    }
}

impl Drop for Flusher {
    fn drop(&mut self) {
        self.halt();
    }
}

/// The thread's loop: a pass every `every` until stopped.
fn run(shared: &Shared, receiver: &Receiver<SyncHandle>, every: Duration) -> Result<(), StorageError> {
    let mut segments: Vec<SyncHandle> = Vec::new();
    let mut durable = shared.durable.load(Ordering::Acquire);
    loop {
        let stopping = shared.stop.load(Ordering::Acquire);
        let appended = shared.appended.load(Ordering::Acquire);
        if appended > durable {
            // Read before the segments are taken: the segment a mark is in was registered
            // before the mark was published.
            let mark = shared.appended_mark.load(Ordering::Acquire);
            segments.extend(receiver.try_iter());
            for sync in &mut segments {
                sync()?;
            }
            durable = appended;
            shared.durable_mark.store(mark, Ordering::Release);
            shared.durable.fetch_max(durable, Ordering::Release);
            // Only the newest can still be written to (module docs).
            let older = segments.len().saturating_sub(1);
            segments.drain(..older);
        }
        if stopping {
            return Ok(());
        }
        std::thread::park_timeout(every);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
    use std::time::{Duration, Instant};

    use ferrex_journal::storage::{StorageError, SyncHandle};
    use ferrex_journal::wal::AppendMark;

    use super::Flusher;

    fn mark(bits: u64) -> AppendMark {
        AppendMark::from_bits(bits).expect("a mark")
    }

    /// A handle that counts its calls.
    fn counting(calls: &Arc<AtomicUsize>) -> SyncHandle {
        let calls = Arc::clone(calls);
        Box::new(move || {
            calls.fetch_add(1, Ordering::SeqCst);
            Ok(())
        })
    }

    /// Polls until `done` holds; panics after 20 s (a bound, never a pace).
    fn await_condition(what: &str, done: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !done() {
            assert!(Instant::now() < deadline, "{what}: not within 20 s");
            std::thread::yield_now();
        }
    }

    #[test]
    fn the_watermark_follows_the_syncs_and_only_the_newest_segment_is_synced_again() {
        let durable = Arc::new(AtomicU64::new(3));
        let flusher = Flusher::start(Arc::clone(&durable), Duration::from_millis(1), None).unwrap();
        let (old, new) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        flusher.register(counting(&old));
        flusher.register(counting(&new));
        assert_eq!(flusher.durable_mark(), None, "no pass yet");
        flusher.appended(10, mark(4_500));
        await_condition("the first pass", || durable.load(Ordering::Acquire) == 10);
        assert_eq!((old.load(Ordering::SeqCst), new.load(Ordering::SeqCst)), (1, 1));
        assert_eq!(flusher.durable_mark(), Some(mark(4_500)), "the mark follows the sync");
        flusher.appended(20, mark(5_000));
        await_condition("the second pass", || durable.load(Ordering::Acquire) == 20);
        assert_eq!(flusher.durable_mark(), Some(mark(5_000)));
        assert_eq!(old.load(Ordering::SeqCst), 1, "a segment left behind is not synced again");
        assert_eq!(new.load(Ordering::SeqCst), 2);
        flusher.stop().unwrap();
    }

    #[test]
    fn a_failed_sync_stops_the_flusher_and_never_moves_the_watermark() {
        let durable = Arc::new(AtomicU64::new(3));
        let flusher = Flusher::start(Arc::clone(&durable), Duration::from_millis(1), None).unwrap();
        flusher.register(Box::new(|| Err(StorageError::SyncFailed { segment: "x.wal".into() })));
        flusher.appended(10, mark(4_500));
        await_condition("the failure", || flusher.failed());
        assert_eq!(durable.load(Ordering::Acquire), 3, "nothing became durable");
        assert_eq!(flusher.durable_mark(), None, "no mark became durable");
        assert_eq!(flusher.stop(), Err(StorageError::SyncFailed { segment: "x.wal".into() }));
    }
}

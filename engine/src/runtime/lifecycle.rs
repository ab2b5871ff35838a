//! Start and stop: recovery, the snapshotter, the core thread, graceful shutdown.
//!
//! [`Runtime::start`] opens the journal directory (creating it, and snapshot 0 of the empty
//! engine, for a new journal), recovers the newest usable snapshot plus the records after it,
//! starts the snapshotter from the recovered state, then the core thread (pinned if configured),
//! and returns the producers' and consumers' handles. [`Runtime::stop`] closes the intake (new
//! submissions get `Stopped`), lets the core drain what was taken, sync, publish, and ends with
//! the snapshotter's last snapshot and segment retirement. [`termination_flag`] turns SIGTERM and
//! SIGINT into a flag a binary's main loop watches before calling `stop`.
//!
//! In `async` durability it also starts the flusher (`flusher`), off the core's CPU.
//!
//! Invariants: the core starts only from a recovered state whose hash was verified; the
//! snapshotter starts from the same state; the watermark starts at the recovered sequence.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ferrex_journal::file::{FileStorage, Flush};
use ferrex_journal::snapshot;
use ferrex_journal::storage::StorageError;
use ferrex_journal::wal::{JournalError, Wal};

use super::core::{
    Core, CoreConfig, CoreError, CoreReport, CoreStats, Durability, SequencerClock, pin_current_thread,
};
use super::flusher::Flusher;
use super::outbound::{Subscriber, outbound};
use super::ring::{Submitter, inbound};
use super::snapshotter::{SnapshotPolicy, Snapshotter, SnapshotterError};
use super::wait::{WaitStrategy, Waker};
use crate::engine::{Engine, EngineConfig};
use crate::recovery::{self, RecoverError, RecoveryReport, Until};

/// The flusher's default interval in `async` durability.
pub const ASYNC_SYNC_EVERY_DEFAULT: Duration = Duration::from_millis(10);

/// Everything a runtime is started with.
#[derive(Clone, Debug)]
pub struct RuntimeConfig {
    /// The journal directory (segments, snapshots, archive).
    pub dir: PathBuf,
    /// The engine's capacities (a new journal's engine; a recovered state must have the same).
    pub engine: EngineConfig,
    /// Segment file size, bytes.
    pub segment_bytes: usize,
    /// How a sync flushes the mapping.
    pub flush: Flush,
    /// `async` durability: the flusher's interval, the most a power loss can lose (see
    /// `flusher`).
    pub async_sync_every: Duration,
    /// When to snapshot and how many to keep.
    pub snapshots: SnapshotPolicy,
    /// Retired segments go to `archive/` instead of being removed.
    pub archive: bool,
    /// The core thread.
    pub core: CoreConfig,
    /// Inbound ring slots (a power of two).
    pub ring_slots: usize,
    /// Output consumers to create.
    pub consumers: usize,
    /// Slots of each consumer's queue.
    pub consumer_slots: usize,
    /// How consumers wait.
    pub consumer_wait: WaitStrategy,
}

impl RuntimeConfig {
    /// The defaults for a journal directory.
    pub fn new(dir: impl Into<PathBuf>) -> RuntimeConfig {
        RuntimeConfig {
            dir: dir.into(),
            engine: EngineConfig::default(),
            segment_bytes: 64 << 20,
            flush: Flush::Fdatasync,
            async_sync_every: ASYNC_SYNC_EVERY_DEFAULT,
            snapshots: SnapshotPolicy::default(),
            archive: false,
            core: CoreConfig::default(),
            ring_slots: 1 << 16,
            consumers: 1,
            consumer_slots: 1 << 18,
            consumer_wait: WaitStrategy::default(),
        }
    }
}

/// Why the runtime did not start, or stopped badly.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The journal could not be opened or written.
    #[error("journal: {0}")]
    Journal(#[from] JournalError),
    /// Files of the journal directory.
    #[error("journal directory: {0}")]
    Storage(#[from] StorageError),
    /// Recovery failed.
    #[error("recovery: {0}")]
    Recover(#[from] RecoverError),
    /// The snapshotter could not start.
    #[error("snapshotter: {0}")]
    Snapshotter(#[from] SnapshotterError),
    /// The core stopped on a journal or snapshotter failure.
    #[error("core: {0}")]
    Core(#[from] CoreError),
    /// A thread could not be started.
    #[error("thread: {0}")]
    Thread(String),
}

/// What start found and did.
#[derive(Clone, Debug)]
pub struct StartReport {
    /// The recovery (snapshot used, records replayed, state hash).
    pub recovery: RecoveryReport,
    /// Time recovery took.
    pub recovery_time: Duration,
    /// True if the directory held no journal (snapshot 0 was written).
    pub created: bool,
    /// The CPU the core was pinned to, if pinning was asked for and took.
    pub pinned: Option<usize>,
}

/// A running core, snapshotter and rings.
pub struct Runtime {
    core: Option<JoinHandle<Result<CoreReport, CoreError>>>,
    durable: Arc<AtomicU64>,
    stats: Arc<CoreStats>,
    closer: Submitter,
    waker: Arc<Waker>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime").field("durable", &self.durable_sequence()).finish_non_exhaustive()
    }
}

/// A started runtime with its handles.
pub struct Started {
    /// The runtime (stop it with [`Runtime::stop`]).
    pub runtime: Runtime,
    /// A producer handle; clone one per producing thread.
    pub submitter: Submitter,
    /// One handle per configured consumer.
    pub subscribers: Vec<Subscriber>,
    /// What start found and did.
    pub report: StartReport,
}

impl Runtime {
    /// Recovers the journal in `config.dir` and starts the core.
    pub fn start(config: &RuntimeConfig) -> Result<Started, RuntimeError> {
        let started_at = Instant::now();
        // Background threads (snapshotter, segment preparation) stay off the core's CPU.
        let background_cpu = config.core.cpu.map(|core| usize::from(core == 0));
        let mut storage = FileStorage::open(&config.dir, config.flush)?;
        storage.set_prepare_cpu(background_cpu);
        let (mut wal, _) = Wal::open(storage, config.segment_bytes)?;
        let created = wal.next_sequence() == 1 && snapshot::list(wal.storage())?.is_empty();
        if created {
            recovery::write_snapshot(
                wal.storage_mut(),
                &Engine::new(config.engine).map_err(RecoverError::from)?,
                0,
                0,
            )?;
        }
        let (engine, recovered) = recovery::recover(&wal, Some(&config.engine), Until::End, &mut |_, _| {})?;
        let recovery_time = started_at.elapsed();
        let durable = Arc::new(AtomicU64::new(recovered.last_sequence));
        let snapshotter = Snapshotter::start(
            FileStorage::open(&config.dir, config.flush)?,
            engine.clone(),
            (recovered.last_sequence, recovered.last_timestamp_ns),
            Arc::clone(&durable),
            SnapshotPolicy { cpu: config.snapshots.cpu.or(background_cpu), ..config.snapshots },
        )?;
        let flusher = match config.core.durability {
            Durability::Async => Some(
                Flusher::start(Arc::clone(&durable), config.async_sync_every, background_cpu)
                    .map_err(|e| RuntimeError::Thread(e.to_string()))?,
            ),
            Durability::Sync => None,
        };
        let stats = Arc::new(CoreStats::default());
        let waker = Waker::new();
        let (submitter, intake) = inbound(config.ring_slots, Arc::clone(&waker));
        let (outbound, subscribers) = outbound(config.consumers, config.consumer_slots, config.consumer_wait);
        let core = Core {
            engine,
            wal,
            intake,
            outbound,
            snapshotter: Some(snapshotter),
            flusher,
            durable: Arc::clone(&durable),
            config: config.core,
            waker: Arc::clone(&waker),
            archive: config.archive,
            clock: SequencerClock::new(recovered.last_timestamp_ns),
            stats: Arc::clone(&stats),
        };
        let (pinned_tx, pinned_rx) = std::sync::mpsc::channel();
        let cpu = config.core.cpu;
        let thread = std::thread::Builder::new()
            .name("ferrex-core".into())
            .spawn(move || {
                let _ = pinned_tx.send(pin_current_thread(cpu));
                core.run()
            })
            .map_err(|e| RuntimeError::Thread(e.to_string()))?;
        let pinned = pinned_rx.recv().unwrap_or(None);
        let report = StartReport { recovery: recovered, recovery_time, created, pinned };
        let runtime = Runtime { core: Some(thread), durable, stats, closer: submitter.clone(), waker };
        Ok(Started { runtime, submitter, subscribers, report })
    }

    /// The highest sequence known durable (in the chosen mode).
    pub fn durable_sequence(&self) -> u64 {
        self.durable.load(Ordering::Acquire)
    }

    /// The durable watermark itself (for a metrics thread).
    pub fn durable_watermark(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.durable)
    }

    /// The core's live figures.
    pub fn stats(&self) -> Arc<CoreStats> {
        Arc::clone(&self.stats)
    }

    /// True while the core thread runs.
    pub fn is_running(&self) -> bool {
        self.core.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Graceful shutdown: stop intake, drain, sync, last snapshot; returns what the core did.
    pub fn stop(mut self) -> Result<CoreReport, RuntimeError> {
        self.closer.close_intake();
        self.waker.wake();
        let thread = self.core.take().expect("stopped once");
        let report = thread.join().map_err(|_| RuntimeError::Thread("the core thread panicked".into()))??;
        Ok(report)
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        if let Some(thread) = self.core.take() {
            self.closer.close_intake();
            self.waker.wake();
            let _ = thread.join();
        }
    }
}

/// A flag set when the process receives SIGTERM or SIGINT (a second one of either still ends
/// the process the usual way only after the flag was seen; binaries poll the flag).
pub fn termination_flag() -> std::io::Result<Arc<AtomicBool>> {
    let flag = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(signal, Arc::clone(&flag))?;
    }
    Ok(flag)
}

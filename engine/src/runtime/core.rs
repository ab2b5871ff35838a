//! The core thread: the only writer of the engine and the journal.
//!
//! Loop: drain up to `batch_max` requests from the inbound ring; stamp the batch with the
//! sequencer's clock (wall time, never decreasing: the maximum of the clock and the last stamp);
//! for each command, encode it, append it to the journal (which gives its sequence), apply it to
//! the engine and stage its events, then a `Done`; answer each query in place (not journaled);
//! then make the batch durable (`sync`: one `Wal::sync` for the whole batch, group commit, then
//! publish the durable watermark; `async`: the records are in the mapping, and the flusher thread
//! makes them durable within its interval and publishes the watermark, see `flusher`), and only
//! then hand the staged outputs to the consumers. Between batches: notify the snapshotter, note
//! the flusher's watermark in the journal, and retire the journal segments the snapshotter's
//! oldest kept snapshot covers.
//!
//! Invariants:
//! - no output leaves before its command is durable in the chosen mode (the staged batch is
//!   published after the sync, or not at all when the sync fails); in `async` mode the core
//!   never waits for the disk, not even at a segment roll;
//! - the watermark only grows, and every record at or below it is durable;
//! - a journal error (a failed sync, a full disk at segment allocation) stops the core: the
//!   intake is closed, nothing of the batch is published, and [`CoreError`] says why; the journal
//!   is never written again by this process (a failed sync is never retried);
//! - no allocation per command once the buffers have grown to the largest batch seen; the core
//!   never waits for a consumer (see `outbound`).
//!
//! Known limitations: retiring segments unmaps them on this thread, once per snapshot (the file
//! removal and its directory sync run on the journal storage's background thread); a state hash
//! query costs O(state) here.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ferrex_journal::storage::{Storage, StorageError};
use ferrex_journal::wal::{JournalError, Wal};

use super::flusher::Flusher;
use super::message::{Answer, Body, DEPTH_LEVELS_MAX, Item, Origin, Output, Query, Request};
use super::outbound::Outbound;
use super::ring::Intake;
use super::snapshotter::{Progress, Snapshotter, SnapshotterError};
use super::wait::{WaitStrategy, Waiter, Waker};
use crate::codec::{self, COMMAND_BYTES_MAX};
use crate::command::Command;
use crate::engine::Engine;
use crate::event::Event;
use crate::types::{Price, Qty, Side};

/// When an outcome may be released.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Durability {
    /// After the sync that covers the command (group commit per batch): survives power loss.
    #[default]
    Sync,
    /// After the record is in the mapping: survives a process crash; a power loss loses at most
    /// the flusher's interval of commands (`flusher`).
    Async,
}

impl std::str::FromStr for Durability {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "sync" => Ok(Durability::Sync),
            "async" => Ok(Durability::Async),
            other => Err(format!("unknown durability {other:?} (sync, async)")),
        }
    }
}

/// The most requests one batch may take.
pub const BATCH_MAX: usize = 1 << 16;

/// How the core thread runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CoreConfig {
    /// The CPU to pin the thread to (best effort; `None`: not pinned).
    pub cpu: Option<usize>,
    /// What it does while the ring is empty.
    pub wait: WaitStrategy,
    /// When outcomes are released.
    pub durability: Durability,
    /// Requests per batch, at most [`BATCH_MAX`] (in `sync` mode, the most one sync covers).
    pub batch_max: usize,
    /// Commands between two looks at the snapshotter's progress (segment retirement).
    pub maintain_every: u64,
}

impl Default for CoreConfig {
    fn default() -> Self {
        CoreConfig {
            cpu: None,
            wait: WaitStrategy::default(),
            durability: Durability::Sync,
            batch_max: 4096,
            maintain_every: 1 << 16,
        }
    }
}

/// Why the core stopped on its own.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CoreError {
    /// The journal refused a record or a sync: nothing after it was released.
    #[error("journal: {0}")]
    Journal(#[from] JournalError),
    /// The snapshotter failed (it reported why).
    #[error("snapshotter: {0}")]
    Snapshotter(#[from] SnapshotterError),
}

/// What the core did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CoreReport {
    /// Commands journaled and applied.
    pub commands: u64,
    /// Queries answered.
    pub queries: u64,
    /// Batches processed.
    pub batches: u64,
    /// Syncs made (`sync` durability).
    pub syncs: u64,
    /// Sequence of the last command.
    pub last_sequence: u64,
    /// The engine's state hash at the end.
    pub state_hash: u64,
    /// Consumers cut off for falling behind.
    pub consumers_cut_off: u64,
    /// The snapshotter's progress at the end.
    pub snapshots: Progress,
    /// Journal segments retired.
    pub segments_retired: u64,
}

/// Live figures of the core for metrics, updated after every batch (relaxed atomics: each is
/// exact, the set is not a snapshot).
#[derive(Debug, Default)]
pub struct CoreStats {
    /// Commands journaled and applied.
    pub commands: AtomicU64,
    /// Queries answered.
    pub queries: AtomicU64,
    /// Batches.
    pub batches: AtomicU64,
    /// Requests in the last batch (how many were waiting in the ring).
    pub batch_last: AtomicU64,
    /// The largest batch so far.
    pub batch_max: AtomicU64,
    /// Syncs (`sync` durability).
    pub syncs: AtomicU64,
    /// Time spent in syncs, ns.
    pub sync_ns_total: AtomicU64,
    /// The longest sync, ns.
    pub sync_ns_max: AtomicU64,
    /// Consumers cut off.
    pub consumers_cut_off: AtomicU64,
    /// The fullest outbound queue after the last batch, slots.
    pub outbound_occupancy: AtomicU64,
    /// The sequence of the last command journaled (durable or not yet).
    pub last_sequence: AtomicU64,
}

/// The sequencer's clock: wall time in ns since the Unix epoch, never below the last stamp.
#[derive(Clone, Copy, Debug)]
pub struct SequencerClock {
    last_ns: u64,
}

impl SequencerClock {
    /// A clock that never stamps below `last_ns` (the journal's last timestamp).
    pub fn new(last_ns: u64) -> SequencerClock {
        SequencerClock { last_ns }
    }

    /// The next stamp.
    pub fn stamp(&mut self) -> u64 {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
        let now_ns = u64::try_from(now.as_nanos()).unwrap_or(u64::MAX);
        self.last_ns = self.last_ns.max(now_ns);
        self.last_ns
    }

    /// The last stamp given.
    pub fn last(&self) -> u64 {
        self.last_ns
    }
}

/// Reusable buffers for query answers.
#[derive(Default)]
struct Scratch {
    balances: Vec<(crate::types::AssetId, crate::ledger::Balance)>,
    positions: Vec<crate::query::PositionView>,
    orders: Vec<crate::query::OpenOrder>,
    levels: Vec<(Price, Qty)>,
}

/// Everything the core thread owns.
pub struct Core<S: Storage> {
    pub(super) engine: Engine,
    pub(super) wal: Wal<S>,
    pub(super) intake: Intake,
    pub(super) outbound: Outbound,
    pub(super) snapshotter: Option<Snapshotter>,
    /// `async` durability: the thread that makes the journal durable.
    pub(super) flusher: Option<Flusher>,
    pub(super) durable: Arc<AtomicU64>,
    pub(super) config: CoreConfig,
    pub(super) waker: Arc<Waker>,
    pub(super) archive: bool,
    pub(super) clock: SequencerClock,
    pub(super) stats: Arc<CoreStats>,
}

/// The core's working state inside its loop.
struct Running<S: Storage> {
    core: Core<S>,
    batch: Vec<Request>,
    staged: Vec<Output>,
    events: Vec<Event>,
    payload: [u8; COMMAND_BYTES_MAX],
    scratch: Scratch,
    report: CoreReport,
    since_maintain: u64,
    retired_through: u64,
    /// First sequence of the newest segment registered with the flusher (`None`: none yet).
    registered: Option<u64>,
}

impl<S: Storage> Core<S> {
    /// Runs until the intake is closed and drained (or the journal fails); returns what it did.
    pub fn run(self) -> Result<CoreReport, CoreError> {
        assert!(self.config.batch_max > 0 && self.config.batch_max <= BATCH_MAX, "batch_max");
        let last_sequence = self.wal.next_sequence() - 1;
        let mut running = Running {
            batch: Vec::with_capacity(self.config.batch_max),
            staged: Vec::with_capacity(self.config.batch_max * 8),
            events: Vec::with_capacity(1024),
            payload: [0; COMMAND_BYTES_MAX],
            scratch: Scratch::default(),
            report: CoreReport { last_sequence, ..CoreReport::default() },
            since_maintain: 0,
            retired_through: 0,
            registered: None,
            core: self,
        };
        let result = running.run();
        if result.is_err() {
            running.core.intake.close();
        }
        result
    }
}

impl<S: Storage> Running<S> {
    fn run(&mut self) -> Result<CoreReport, CoreError> {
        let mut waiter = Waiter::new(self.core.config.wait, Arc::clone(&self.core.waker));
        let mut idle_maintained = false;
        loop {
            let n = self.core.intake.drain(self.core.config.batch_max, &mut self.batch);
            if n == 0 {
                if self.core.intake.is_closed() && !self.core.intake.has_waiting() {
                    break;
                }
                if !idle_maintained {
                    self.maintain()?;
                    idle_maintained = true;
                }
                let intake = &self.core.intake;
                waiter.idle(|| intake.has_waiting() || intake.is_closed());
                continue;
            }
            waiter.reset();
            idle_maintained = false;
            self.batch()?;
            if self.since_maintain >= self.core.config.maintain_every {
                self.maintain()?;
            }
        }
        self.finish()
    }

    /// One batch: apply and stage, make durable, publish.
    fn batch(&mut self) -> Result<(), CoreError> {
        self.staged.clear();
        let timestamp_ns = self.core.clock.stamp();
        let mut commands = 0u64;
        for i in 0..self.batch.len() {
            let request = self.batch[i];
            match request.body {
                Body::Command(command) => {
                    self.command(request.origin, &command, timestamp_ns)?;
                    commands += 1;
                }
                Body::Query(query) => self.query(request.origin, &query),
            }
        }
        if commands > 0 {
            self.make_durable()?;
            self.report.commands += commands;
            self.since_maintain += commands;
        }
        let stats = &self.core.stats;
        self.report.queries += self.batch.len() as u64 - commands;
        self.report.batches += 1;
        let cut = self.core.outbound.publish(&self.staged) as u64;
        self.report.consumers_cut_off += cut;
        let size = self.batch.len() as u64;
        stats.commands.fetch_add(commands, Ordering::Relaxed);
        stats.queries.fetch_add(size - commands, Ordering::Relaxed);
        stats.batches.fetch_add(1, Ordering::Relaxed);
        stats.batch_last.store(size, Ordering::Relaxed);
        stats.batch_max.fetch_max(size, Ordering::Relaxed);
        stats.consumers_cut_off.fetch_add(cut, Ordering::Relaxed);
        stats.outbound_occupancy.store(self.core.outbound.occupancy_max() as u64, Ordering::Relaxed);
        Ok(())
    }

    fn command(&mut self, origin: Origin, command: &Command, timestamp_ns: u64) -> Result<(), CoreError> {
        let len = codec::encode(command, &mut self.payload);
        let sequence = self.core.wal.append(timestamp_ns, &self.payload[..len])?;
        debug_assert_eq!(sequence, self.report.last_sequence + 1, "sequences are consecutive");
        self.report.last_sequence = sequence;
        self.core.stats.last_sequence.store(sequence, Ordering::Relaxed);
        self.events.clear();
        self.core.engine.apply_at(timestamp_ns, command, &mut self.events);
        for event in &self.events {
            self.staged.push(Output { sequence, origin, item: Item::Event(*event) });
        }
        let items = u32::try_from(self.events.len()).expect("a command's events fit u32");
        self.staged.push(Output {
            sequence,
            origin,
            item: Item::Done { timestamp_ns, items, command: true },
        });
        Ok(())
    }

    fn query(&mut self, origin: Origin, query: &Query) {
        let sequence = self.report.last_sequence;
        let engine = &self.core.engine;
        let scratch = &mut self.scratch;
        let start = self.staged.len();
        let mut push =
            |answer: Answer| self.staged.push(Output { sequence, origin, item: Item::Answer(answer) });
        match *query {
            Query::StateHash => push(Answer::StateHash(engine.state_hash())),
            Query::Balances { user } => {
                engine.balances(user, &mut scratch.balances);
                scratch
                    .balances
                    .iter()
                    .for_each(|&(asset, balance)| push(Answer::Balance { asset, balance }));
            }
            Query::Positions { user } => {
                engine.positions(user, &mut scratch.positions);
                scratch.positions.iter().for_each(|&p| push(Answer::Position(p)));
            }
            Query::Margin { user, asset } => push(Answer::Margin(engine.margin(user, asset))),
            Query::OpenOrders { user, instrument } => {
                engine.open_orders(user, instrument, &mut scratch.orders);
                scratch.orders.iter().for_each(|&o| push(Answer::Order(o)));
            }
            Query::OrderStatus { user, order } => {
                push(engine.order_status(user, &order).map_or(Answer::NoSuchOrder, Answer::Order));
            }
            Query::Depth { instrument, levels_max } => {
                let levels_max = usize::from(levels_max.min(DEPTH_LEVELS_MAX));
                for side in [Side::Buy, Side::Sell] {
                    engine.depth_into(instrument, side, levels_max, &mut scratch.levels);
                    scratch.levels.iter().for_each(|&(price, qty)| push(Answer::Level { side, price, qty }));
                }
            }
            Query::TestOrder(place) => push(Answer::TestOrder(engine.test_order(&place).err())),
        }
        let items = u32::try_from(self.staged.len() - start).expect("an answer's items fit u32");
        let timestamp_ns = self.core.clock.last();
        self.staged.push(Output {
            sequence,
            origin,
            item: Item::Done { timestamp_ns, items, command: false },
        });
    }

    /// `sync`: one sync for the whole batch, then the watermark; `async`: the flusher hears of
    /// the batch's new segments and its last sequence.
    fn make_durable(&mut self) -> Result<(), CoreError> {
        let last = self.report.last_sequence;
        if self.core.flusher.is_some() {
            return self.hand_to_flusher(last);
        }
        if self.core.config.durability == Durability::Sync {
            let started = std::time::Instant::now();
            self.core.wal.sync()?;
            let sync_ns = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
            let stats = &self.core.stats;
            stats.syncs.fetch_add(1, Ordering::Relaxed);
            stats.sync_ns_total.fetch_add(sync_ns, Ordering::Relaxed);
            stats.sync_ns_max.fetch_max(sync_ns, Ordering::Relaxed);
            self.report.syncs += 1;
        }
        self.core.durable.store(last, Ordering::Release);
        Ok(())
    }

    /// Hands the flusher the segments created since the last batch, then the batch's last
    /// sequence (so it never reads a sequence whose segment it lacks); stops on a failed
    /// background sync.
    fn hand_to_flusher(&mut self, last: u64) -> Result<(), CoreError> {
        let Some(flusher) = &self.core.flusher else { return Ok(()) };
        if flusher.failed() {
            let flusher = self.core.flusher.take().expect("present");
            let error =
                flusher.stop().err().unwrap_or_else(|| StorageError::Io("the flusher stopped".into()));
            return Err(JournalError::from(error).into());
        }
        let current = self.core.wal.current_first_sequence();
        if self.registered != Some(current) {
            for handle in self.core.wal.sync_handles(self.registered)? {
                flusher.register(handle);
            }
            self.registered = Some(current);
        }
        flusher.appended(last, self.core.wal.append_mark());
        Ok(())
    }

    /// Wakes the snapshotter, notes the flusher's watermark in the journal (`async`), and retires
    /// the segments the snapshotter's oldest kept snapshot covers.
    fn maintain(&mut self) -> Result<(), CoreError> {
        self.since_maintain = 0;
        if let Some(flusher) = &self.core.flusher {
            let mark = flusher.durable_mark();
            self.core.wal.note_durable(self.core.durable.load(Ordering::Acquire), mark)?;
        }
        let Some(snapshotter) = &self.core.snapshotter else { return Ok(()) };
        snapshotter.notify();
        let progress = snapshotter.progress();
        if !progress.running {
            let snapshotter = self.core.snapshotter.take().expect("present");
            snapshotter.stop()?;
            return Ok(());
        }
        self.retire(progress.oldest_kept)
    }

    fn retire(&mut self, oldest_kept: u64) -> Result<(), CoreError> {
        if oldest_kept > self.retired_through {
            let retired = self.core.wal.retire_through(oldest_kept, self.core.archive)?;
            self.report.segments_retired += retired.len() as u64;
            self.retired_through = oldest_kept;
        }
        Ok(())
    }

    /// After the intake is closed and drained: a last sync, the snapshotter's last snapshot,
    /// retirement.
    fn finish(&mut self) -> Result<CoreReport, CoreError> {
        if let Some(flusher) = self.core.flusher.take() {
            flusher.stop().map_err(JournalError::from)?;
        }
        self.core.wal.sync()?;
        self.core.durable.store(self.report.last_sequence, Ordering::Release);
        if let Some(snapshotter) = self.core.snapshotter.take() {
            let progress = snapshotter.stop()?;
            self.report.snapshots = progress;
            self.retire(progress.oldest_kept)?;
        }
        self.report.state_hash = self.core.engine.state_hash();
        Ok(self.report)
    }
}

/// Pins the calling thread to `cpu` (best effort); returns the CPU it pinned to. The CPU is set
/// directly, not looked up in `core_affinity`'s list: that list holds only the CPUs the calling
/// thread may already run on, so a thread spawned by a pinned thread would find no other CPU.
pub fn pin_current_thread(cpu: Option<usize>) -> Option<usize> {
    let cpu = cpu?;
    core_affinity::set_for_current(core_affinity::CoreId { id: cpu }).then_some(cpu)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_never_goes_back() {
        let far_future = u64::MAX - 10;
        let mut clock = SequencerClock::new(far_future);
        assert_eq!(clock.stamp(), far_future, "a stamp is never below the last one");
        let mut clock = SequencerClock::new(0);
        let a = clock.stamp();
        let b = clock.stamp();
        assert!(a > 0 && b >= a);
        assert_eq!(clock.last(), b);
    }

    #[test]
    fn durability_parses_by_name() {
        assert_eq!("sync".parse::<Durability>(), Ok(Durability::Sync));
        assert_eq!("async".parse::<Durability>(), Ok(Durability::Async));
        assert!("maybe".parse::<Durability>().is_err());
    }
}

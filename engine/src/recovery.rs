//! Recovery and replay: the newest valid snapshot plus the journal records after it.
//!
//! A journal record's payload is one command in the command encoding (codec.rs), its header's
//! timestamp the sequencer's time; replay applies each with [`Engine::apply_at`], so the state
//! after record N is the state the running engine had after it (determinism).
//!
//! Choosing the start ([`recover`]): snapshot files newest first; one is used when its file checks
//! (checksums, length, name), it is not past where replay must stop, its body loads
//! (`Engine::from_snapshot`, invariants included), its configuration is the expected one (when one
//! is given), and the loaded state's hash equals the hash in its header. Every snapshot passed over
//! is reported with the reason, and the next older one is tried: a corrupt newest snapshot costs a
//! longer replay, never the state. Without a usable snapshot, replay starts from an empty engine,
//! which needs the configuration and a journal that still starts at record 1.
//!
//! Invariants: no record after the journal's recovered end is applied (the journal cuts torn
//! tails, wal.rs); a snapshot newer than the journal's last record is refused loudly (synced
//! records would have been lost); a payload that does not decode stops replay with its sequence.
//! Complexity: O(snapshot + records replayed); the engine allocates up front, replay does not
//! allocate per record. Reading, checking and decoding run on a second (scoped) thread beside the
//! one applying (see `replay_pipelined`); the engine itself is only ever touched by one thread.

use ferrex_journal::snapshot::{self, SnapshotHeader};
use ferrex_journal::storage::{Storage, StorageError};
use ferrex_journal::wal::{JournalError, Wal};

use crate::codec::{self, DecodeError};
use crate::command::Command;
use crate::engine::{ConfigError, Engine, EngineConfig};
use crate::snapshot::SnapshotError;

/// Where replay stops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Until {
    /// After the journal's last record.
    End,
    /// After the record with this sequence.
    Sequence(u64),
    /// After the last record stamped at or before this time, ns.
    Time(u64),
}

impl Until {
    fn admits(self, sequence: u64, timestamp_ns: u64) -> bool {
        match self {
            Until::End => true,
            Until::Sequence(last) => sequence <= last,
            Until::Time(last) => timestamp_ns <= last,
        }
    }
}

/// What recovery did: the startup report.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// The snapshot started from: its name and header (`None`: an empty engine).
    pub snapshot: Option<(String, SnapshotHeader)>,
    /// Snapshots passed over, newest first, with the reason.
    pub skipped: Vec<(String, String)>,
    /// Records replayed after the start.
    pub replayed: u64,
    /// Sequence of the last record applied (the snapshot's when none was replayed; 0: none).
    pub last_sequence: u64,
    /// Timestamp of the last record applied, ns.
    pub last_timestamp_ns: u64,
    /// The recovered state's hash.
    pub state_hash: u64,
}

/// Why there is no state to recover.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecoverError {
    /// The journal cannot be read.
    #[error("{0}")]
    Journal(#[from] JournalError),
    /// The snapshot files cannot be listed.
    #[error("snapshots: {0}")]
    Storage(#[from] StorageError),
    /// A record's payload is not a command.
    #[error("journal record {sequence}: payload is not a command: {error}")]
    Payload {
        /// The record.
        sequence: u64,
        /// What is wrong.
        error: DecodeError,
    },
    /// No usable snapshot, and the journal no longer starts at record 1.
    #[error("the journal starts at record {first} and no usable snapshot covers the records before it")]
    NotCovered {
        /// The journal's first record.
        first: u64,
    },
    /// A valid snapshot includes records the journal does not have.
    #[error(
        "snapshot {name} includes record {sequence} but the journal ends at record {last}: synced records are missing"
    )]
    SnapshotBeyondJournal {
        /// The snapshot.
        name: String,
        /// Its last record.
        sequence: u64,
        /// The journal's last record.
        last: u64,
    },
    /// No usable snapshot and no configuration to build an empty engine with.
    #[error("no usable snapshot, and no engine configuration to replay from an empty engine")]
    NoConfig,
    /// The configuration given cannot build an engine.
    #[error("engine configuration: {0}")]
    Config(#[from] ConfigError),
}

/// Rebuilds the state from the newest usable snapshot in the log's storage and the records after
/// it, up to `until`. `config`: the configuration the state must have (and the one an empty engine
/// gets); `None` accepts a snapshot's. `progress(replayed, to_replay)` is called every few thousand
/// records.
pub fn recover<S: Storage + Sync>(
    wal: &Wal<S>,
    config: Option<&EngineConfig>,
    until: Until,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<(Engine, RecoveryReport), RecoverError> {
    let last = wal.next_sequence() - 1;
    let mut report = RecoveryReport::default();
    let mut engine = start(wal, config, until, &mut report)?;
    let from = report.snapshot.as_ref().map_or(0, |(_, h)| h.sequence);
    report.last_sequence = from;
    report.last_timestamp_ns = report.snapshot.as_ref().map_or(0, |(_, h)| h.timestamp_ns);
    let to_replay = match until {
        Until::Sequence(s) => s.min(last).saturating_sub(from),
        _ => last - from,
    };
    let mut events = Vec::new();
    let replayed = replay_pipelined(wal, from + 1, until, |batch| {
        for &(sequence, timestamp_ns, ref command) in batch {
            events.clear();
            engine.apply_at(timestamp_ns, command, &mut events);
            report.replayed += 1;
            report.last_sequence = sequence;
            report.last_timestamp_ns = timestamp_ns;
        }
        progress(report.replayed, to_replay);
    });
    debug_assert_eq!(replayed.as_ref().ok(), Some(&report.replayed));
    replayed?;
    report.state_hash = engine.state_hash();
    Ok((engine, report))
}

/// Records per batch handed from the reading thread to the applying one.
const REPLAY_BATCH_RECORDS: usize = 4096;
/// Batches in flight between the two (the buffers are allocated once and recycled).
const REPLAY_BATCHES_MAX: usize = 4;

/// A decoded record: sequence, timestamp, command.
type Decoded = (u64, u64, Command);

/// Reads, checks and decodes the records from `from` (up to `until`) on a second thread while
/// `apply` consumes them in order, batch by batch, on this one: reading and decoding (about a
/// quarter of replay's cost) overlap applying. Only this thread touches the engine; the state
/// machine stays single-threaded and the order of records is kept. Returns the records decoded,
/// or the first payload that is not a command (nothing after it is applied).
fn replay_pipelined<S: Storage + Sync>(
    wal: &Wal<S>,
    from: u64,
    until: Until,
    mut apply: impl FnMut(&[Decoded]),
) -> Result<u64, RecoverError> {
    let (full_tx, full_rx) = std::sync::mpsc::sync_channel::<Vec<Decoded>>(REPLAY_BATCHES_MAX);
    let (empty_tx, empty_rx) = std::sync::mpsc::sync_channel::<Vec<Decoded>>(REPLAY_BATCHES_MAX);
    for _ in 0..REPLAY_BATCHES_MAX {
        empty_tx.send(Vec::with_capacity(REPLAY_BATCH_RECORDS)).expect("room for every buffer");
    }
    std::thread::scope(|scope| {
        let reader = scope.spawn(move || -> Result<u64, RecoverError> {
            let mut decoded = 0u64;
            let mut batch = empty_rx.recv().expect("a buffer");
            for (header, payload) in wal.read_from(from) {
                if !until.admits(header.sequence, header.timestamp_ns) {
                    break;
                }
                let command = codec::decode(payload)
                    .map_err(|error| RecoverError::Payload { sequence: header.sequence, error });
                let command = match command {
                    Ok(command) => command,
                    Err(error) => {
                        let _ = full_tx.send(batch);
                        return Err(error);
                    }
                };
                batch.push((header.sequence, header.timestamp_ns, command));
                decoded += 1;
                if batch.len() == REPLAY_BATCH_RECORDS {
                    full_tx.send(batch).expect("the applying thread waits for every batch");
                    batch = empty_rx.recv().expect("buffers come back");
                }
            }
            let _ = full_tx.send(batch);
            Ok(decoded)
        });
        while let Ok(mut batch) = full_rx.recv() {
            apply(&batch);
            batch.clear();
            let _ = empty_tx.send(batch);
        }
        reader.join().expect("the reading thread does not panic")
    })
}

/// The engine replay starts from (see the module docs); fills the report's snapshot fields.
fn start<S: Storage>(
    wal: &Wal<S>,
    config: Option<&EngineConfig>,
    until: Until,
    report: &mut RecoveryReport,
) -> Result<Engine, RecoverError> {
    let (first, last) = (wal.first_sequence(), wal.next_sequence() - 1);
    for (name, header) in snapshot::list(wal.storage())? {
        let header = match header {
            Ok(header) => header,
            Err(error) => {
                report.skipped.push((name, error.to_string()));
                continue;
            }
        };
        if header.sequence > last && until == Until::End {
            return Err(RecoverError::SnapshotBeyondJournal { name, sequence: header.sequence, last });
        }
        if !until.admits(header.sequence, header.timestamp_ns) || header.sequence > last {
            report.skipped.push((name, "after the point replay stops at".into()));
            continue;
        }
        if header.sequence + 1 < first {
            // Older snapshots are further from the journal still.
            report.skipped.push((name, format!("the journal starts at record {first}, after it")));
            break;
        }
        match load(wal.storage(), &name, &header, config) {
            Ok(engine) => {
                report.snapshot = Some((name, header));
                return Ok(engine);
            }
            Err(reason) => report.skipped.push((name, reason)),
        }
    }
    if first > 1 {
        return Err(RecoverError::NotCovered { first });
    }
    Ok(Engine::new(*config.ok_or(RecoverError::NoConfig)?)?)
}

/// Loads one snapshot and checks it; the error is the reason to pass it over.
fn load<S: Storage>(
    storage: &S,
    name: &str,
    header: &SnapshotHeader,
    config: Option<&EngineConfig>,
) -> Result<Engine, String> {
    let (_, body) = snapshot::read(storage, name).map_err(|e| e.to_string())?;
    let engine = load_snapshot(&body, header.state_hash).map_err(|e| e.to_string())?;
    if config.is_some_and(|c| c != engine.config()) {
        return Err("taken with another engine configuration".into());
    }
    Ok(engine)
}

/// Why a snapshot body is not the state its header names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    /// The body does not load.
    #[error("{0}")]
    Body(#[from] SnapshotError),
    /// The body loads to another state.
    #[error("state hash {found:016x}, the header says {expected:016x}")]
    Hash {
        /// The loaded state's.
        found: u64,
        /// The header's.
        expected: u64,
    },
}

/// Rebuilds the engine a snapshot body holds and checks it is the state whose hash is
/// `state_hash`: `check_invariants` and the state hash (two full walks of the state) run at the
/// same time, one on a second (scoped) thread; both only read the engine.
pub fn load_snapshot(body: &[u8], state_hash: u64) -> Result<Engine, LoadError> {
    let engine = Engine::build_from_snapshot(body)?;
    let (invariants, found) = std::thread::scope(|scope| {
        let invariants = scope.spawn(|| engine.check_invariants());
        let found = engine.state_hash();
        (invariants.join().expect("check_invariants reports, never panics"), found)
    });
    invariants.map_err(SnapshotError::from)?;
    if found != state_hash {
        return Err(LoadError::Hash { found, expected: state_hash });
    }
    Ok(engine)
}

/// Writes the snapshot of `engine`, the state after record `sequence` stamped `timestamp_ns`;
/// returns the file's name.
pub fn write_snapshot<S: Storage>(
    storage: &mut S,
    engine: &Engine,
    sequence: u64,
    timestamp_ns: u64,
) -> Result<String, StorageError> {
    let mut body = Vec::new();
    engine.write_snapshot(&mut body);
    snapshot::write(storage, sequence, timestamp_ns, engine.state_hash(), &body)
}

/// What [`retain`] removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Retained {
    /// Snapshot files removed.
    pub snapshots_removed: Vec<String>,
    /// Segments removed or archived.
    pub segments_retired: Vec<String>,
}

/// Keeps the newest `keep` valid snapshots and retires (removes, or archives with `archive`) the
/// journal segments the oldest of them covers entirely.
pub fn retain<S: Storage>(wal: &mut Wal<S>, keep: usize, archive: bool) -> Result<Retained, JournalError> {
    let pruned = snapshot::prune(wal.storage_mut(), keep)?;
    let segments_retired = match pruned.oldest_kept {
        Some(sequence) => wal.retire_through(sequence, archive)?,
        None => Vec::new(),
    };
    Ok(Retained { snapshots_removed: pruned.removed, segments_retired })
}

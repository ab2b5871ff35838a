//! Replay of execution reports: the recent ones from memory, older ones rebuilt from the journal.
//!
//! [`Window`] keeps the last `reports_max` reports of every user in the order they were made.
//! Every report at a position after its `floor` is in it: the floor starts at the state the
//! server recovered (nothing after it has been reported yet) and moves to each report evicted.
//! A replay after a position at or past the floor is served from memory; an older one is
//! [`rebuild`]t from the journal: the newest snapshot before the position, then the journal's
//! commands applied to it up to the floor, each command's events turned into reports by the same
//! [`Reporter`] the live path uses (so the bytes are the same), keeping the user's.
//!
//! Invariants: the window's reports are in position order; a rebuild never reads past the floor
//! it was given (records after it may not be durable yet in `sync` mode, and are in memory).
//! Complexity: memory replay O(window); a rebuild O(snapshot + records since it), on its own
//! thread. Known limitations: a position older than the oldest kept snapshot replays from that
//! snapshot (the reply says so); the window is scanned whole for each replay.

use std::collections::VecDeque;
use std::path::Path;

use ferrex_engine::{Engine, UserId, codec, recovery};
use ferrex_journal::file::{FileStorage, Flush};
use ferrex_journal::snapshot;
use ferrex_journal::wal::Follower;

use super::reports::{Report, Reporter};

/// The recent reports of every user.
#[derive(Debug)]
pub struct Window {
    reports: VecDeque<Report>,
    reports_max: usize,
    floor: (u64, u32),
}

impl Window {
    /// An empty window; every report after `recovered_sequence` will pass through it.
    #[must_use]
    pub fn new(reports_max: usize, recovered_sequence: u64) -> Window {
        assert!(reports_max > 0);
        Window {
            reports: VecDeque::with_capacity(reports_max),
            reports_max,
            floor: (recovered_sequence, u32::MAX),
        }
    }

    /// Keeps a report (the oldest goes when full).
    pub fn push(&mut self, report: Report) {
        debug_assert!(self.reports.back().is_none_or(|last| last.position() < report.position()));
        if self.reports.len() == self.reports_max
            && let Some(old) = self.reports.pop_front()
        {
            self.floor = old.position();
        }
        self.reports.push_back(report);
    }

    /// Every report after this position is in memory.
    #[must_use]
    pub fn floor(&self) -> (u64, u32) {
        self.floor
    }

    /// The user's reports after `after`, oldest first.
    #[must_use]
    pub fn collect(&self, user: UserId, after: (u64, u32)) -> Vec<Report> {
        self.reports.iter().filter(|r| r.user == user && r.position() > after).copied().collect()
    }
}

/// What a rebuild gives back.
#[derive(Debug)]
pub struct Rebuilt {
    /// The user's reports after the position asked for, through the floor.
    pub reports: Vec<Report>,
    /// Where it started: the position asked for, or the oldest snapshot when the journal no
    /// longer reaches back to it.
    pub from_sequence: u64,
    /// True when it could not start at the position asked for.
    pub truncated: bool,
}

/// Why a rebuild failed.
#[derive(Debug, thiserror::Error)]
pub enum RebuildError {
    /// No snapshot to start from.
    #[error("no snapshot to start the replay from")]
    NoSnapshot,
    /// The journal or a snapshot could not be read.
    #[error("{0}")]
    Read(String),
}

fn read_error(error: impl std::fmt::Display) -> RebuildError {
    RebuildError::Read(error.to_string())
}

/// Rebuilds `user`'s reports after `after` through the record `through` from the journal in `dir`.
pub fn rebuild(dir: &Path, user: UserId, after: (u64, u32), through: u64) -> Result<Rebuilt, RebuildError> {
    let storage = FileStorage::open(dir, Flush::Fdatasync).map_err(read_error)?;
    let listed = snapshot::list(&storage).map_err(read_error)?;
    // The newest snapshot strictly before the position's command (its events come after it), or
    // the oldest one when none is that old.
    let valid: Vec<(&String, u64)> =
        listed.iter().filter_map(|(name, header)| Some((name, header.as_ref().ok()?.sequence))).collect();
    let (start, _) = valid
        .iter()
        .filter(|(_, sequence)| *sequence < after.0.max(1))
        .max_by_key(|(_, sequence)| *sequence)
        .or_else(|| valid.iter().min_by_key(|(_, sequence)| *sequence))
        .ok_or(RebuildError::NoSnapshot)?;
    let (header, body) = snapshot::read(&storage, start).map_err(read_error)?;
    let mut engine: Engine = recovery::load_snapshot(&body, header.state_hash).map_err(read_error)?;
    let truncated = header.sequence >= after.0 && header.sequence > 0;
    let from_sequence = if truncated { header.sequence } else { after.0 };
    let mut follower = Follower::new(storage, header.sequence + 1).map_err(read_error)?;
    let mut reporter = Reporter::default();
    let (mut events, mut out, mut reports) = (Vec::new(), Vec::new(), Vec::new());
    let mut failed = None;
    follower
        .read_through(through, |record, payload| {
            let Ok(command) = codec::decode(payload) else {
                failed.get_or_insert(record.sequence);
                return;
            };
            events.clear();
            engine.apply_at(record.timestamp_ns, &command, &mut events);
            reporter.start(record.sequence, record.timestamp_ns, Some(command));
            out.clear();
            for event in &events {
                reporter.event(event, &mut out);
            }
            reports.extend(out.iter().filter(|r| r.user == user && r.position() > after));
        })
        .map_err(read_error)?;
    if let Some(sequence) = failed {
        return Err(RebuildError::Read(format!("journal record {sequence} is not a command")));
    }
    Ok(Rebuilt { reports, from_sequence, truncated })
}

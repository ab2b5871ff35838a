//! Journals on disk for tests of the `ferrex` binary: a money run (setup and random commands of
//! every kind) appended record by record, as the runtime does, with the snapshot of the empty
//! engine (record 0) and optional snapshots along the way.

use std::path::Path;

use ferrex_engine::codec::{self, COMMAND_BYTES_MAX};
use ferrex_engine::recovery;
use ferrex_engine::{Command, Engine, EngineConfig};
use ferrex_journal::file::{FileStorage, Flush};
use ferrex_journal::wal::Wal;

use crate::generate::SplitMix64;
use crate::money_gen;

/// Segment size of test journals: small, so that a run spans several segments.
pub const SEGMENT: usize = 16 * 4096;

/// Sequencer time of the first generated command, ns (2026-11-25T00:00:00Z), so that times read
/// as dates.
pub const EPOCH_NS: u64 = 1_795_564_800_000_000_000;

/// What was written.
#[derive(Debug, Clone)]
pub struct Written {
    /// The engine configuration.
    pub config: EngineConfig,
    /// Every record's (timestamp, command), index = sequence - 1.
    pub records: Vec<(u64, Command)>,
    /// The state hash after each record (index = sequence; 0: the empty engine).
    pub hashes: Vec<u64>,
}

impl Written {
    /// The state hash after record `sequence`.
    pub fn hash(&self, sequence: u64) -> u64 {
        self.hashes[usize::try_from(sequence).expect("a test journal's sequence fits usize")]
    }
}

/// Writes a journal in `dir` (created): a money run of `commands` generated commands from `seed`
/// after the setup, all synced; snapshots of the empty engine and after each record in
/// `snapshot_at`.
pub fn write(dir: &Path, seed: u64, commands: usize, snapshot_at: &[u64]) -> Written {
    let config = money_gen::money_config();
    let mut records: Vec<(u64, Command)> =
        money_gen::money_setup(&config).into_iter().map(|c| (EPOCH_NS, c)).collect();
    let run = money_gen::run(&mut SplitMix64(seed), commands).expect("a money run");
    records.extend(run.commands.into_iter().map(|(t, c)| (EPOCH_NS + t, c)));
    let storage = FileStorage::open(dir, Flush::Fdatasync).expect("journal directory");
    let (mut wal, _) = Wal::open(storage, SEGMENT).expect("new journal");
    let mut engine = Engine::new(config).expect("valid config");
    recovery::write_snapshot(wal.storage_mut(), &engine, 0, 0).expect("snapshot 0");
    let (mut hashes, mut events, mut buf) = (vec![engine.state_hash()], Vec::new(), [0u8; COMMAND_BYTES_MAX]);
    for (time_ns, command) in &records {
        let len = codec::encode(command, &mut buf);
        let sequence = wal.append(*time_ns, &buf[..len]).expect("append");
        engine.apply_at(*time_ns, command, &mut events);
        events.clear();
        hashes.push(engine.state_hash());
        if snapshot_at.contains(&sequence) {
            wal.sync().expect("sync");
            recovery::write_snapshot(wal.storage_mut(), &engine, sequence, *time_ns).expect("snapshot");
        }
    }
    wal.sync().expect("sync");
    Written { config, records, hashes }
}

/// A directory under the system's temporary directory, removed when dropped.
#[derive(Debug)]
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    /// A fresh (empty, not yet created) directory named by `tag` and the process id.
    pub fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("ferrex-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

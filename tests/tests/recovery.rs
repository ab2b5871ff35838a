//! Seeded crash simulation of the whole durability path: every command of a money run (setup
//! included) is encoded, appended to the journal on the fault-injecting storage and applied; syncs
//! come at random; a snapshotter builds snapshot N+1 from snapshot N plus the journal delta, up to
//! the last synced record, and keeps two, retiring (or archiving) the segments they cover. Then a
//! crash of a random kind, sometimes with the newest snapshot going bad on the disk, and recovery:
//! - no synced record is lost (the recovered state includes every synced record);
//! - the recovered state hash equals the hash of replaying exactly the surviving records on an
//!   empty engine (nothing corrupt applied, nothing invented, nothing reordered);
//! - a bad newest snapshot is passed over, with its reason, for an older one and a longer replay.
//!
//! Two crash cycles per seed; after the first, the run goes on from the recovered state.
//! `FERREX_SEED=n` reruns one seed; `FERREX_SEEDS=n` changes how many run (default 1,000 seeds: 2,000 crashes and recoveries).

use ferrex_engine::codec::{self, COMMAND_BYTES_MAX};
use ferrex_engine::recovery::{self, Until};
use ferrex_engine::{Command, Engine};
use ferrex_journal::snapshot;
use ferrex_journal::storage::{Crash, MemStorage, Storage};
use ferrex_journal::wal::Wal;
use ferrex_tests::generate::SplitMix64;
use ferrex_tests::money_gen;

const SEGMENT: usize = 16 * 4096;

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|v| v.parse().unwrap_or_else(|_| panic!("{name} must be a number")))
}

/// The snapshotter: its own engine, caught up from the journal, never from the live engine.
struct Snapshotter {
    engine: Engine,
    sequence: u64,
    timestamp_ns: u64,
}

impl Snapshotter {
    /// Catches up to `through` (a synced record), writes a snapshot, keeps two.
    fn snapshot(&mut self, wal: &mut Wal<MemStorage>, through: u64, archive: bool) -> Result<(), String> {
        let mut events = Vec::new();
        for (header, payload) in wal.read_from(self.sequence + 1) {
            if header.sequence > through {
                break;
            }
            let command = codec::decode(payload).map_err(|e| e.to_string())?;
            self.engine.apply_at(header.timestamp_ns, &command, &mut events);
            (self.sequence, self.timestamp_ns) = (header.sequence, header.timestamp_ns);
        }
        recovery::write_snapshot(wal.storage_mut(), &self.engine, self.sequence, self.timestamp_ns)
            .map_err(|e| e.to_string())?;
        recovery::retain(wal, 2, archive).map_err(|e| e.to_string())?;
        Ok(())
    }
}

struct Run {
    rng: SplitMix64,
    commands: Vec<(u64, Command)>,
    next_command: usize,
}

impl Run {
    fn below(&mut self, bound: u64) -> u64 {
        self.rng.next_u64() % bound
    }

    /// Appends and applies `count` commands, syncing and snapshotting at random; returns the last
    /// synced sequence.
    fn go(
        &mut self,
        wal: &mut Wal<MemStorage>,
        engine: &mut Engine,
        snapshotter: &mut Snapshotter,
        count: usize,
    ) -> Result<u64, String> {
        let (mut synced, mut events, mut buf) =
            (wal.next_sequence() - 1, Vec::new(), [0u8; COMMAND_BYTES_MAX]);
        for _ in 0..count {
            let Some((time_ns, command)) = self.commands.get(self.next_command).copied() else { break };
            self.next_command += 1;
            let len = codec::encode(&command, &mut buf);
            let sequence = wal.append(time_ns, &buf[..len]).map_err(|e| e.to_string())?;
            engine.apply_at(time_ns, &command, &mut events);
            match self.below(40) {
                0..=4 => {
                    wal.sync().map_err(|e| e.to_string())?;
                    synced = sequence;
                }
                5 => {
                    let archive = self.below(2) == 0;
                    snapshotter.snapshot(wal, synced, archive)?;
                }
                _ => {}
            }
        }
        Ok(synced)
    }
}

/// The state hash of an empty engine after exactly these records.
fn replay(config: &ferrex_engine::EngineConfig, records: &[(u64, Command)]) -> u64 {
    let mut engine = Engine::new(*config).expect("valid config");
    let mut events = Vec::new();
    for (time_ns, command) in records {
        events.clear();
        engine.apply_at(*time_ns, command, &mut events);
    }
    engine.state_hash()
}

fn crash_kind(run: &mut Run) -> Crash {
    match run.below(3) {
        0 => Crash::DropUnsynced,
        1 => Crash::RandomPages { seed: run.rng.next_u64() },
        _ => Crash::TornWrite { seed: run.rng.next_u64() },
    }
}

/// One seed; returns (records replayed, snapshots passed over, recoveries of a journal whose first
/// segments were retired) over its recoveries.
fn check_seed(seed: u64) -> Result<(u64, usize, usize), String> {
    let config = money_gen::money_config();
    let mut setup: Vec<(u64, Command)> =
        money_gen::money_setup(&config).into_iter().map(|c| (0, c)).collect();
    setup.extend(money_gen::commands(&mut SplitMix64(seed), 1_500));
    let mut run = Run { rng: SplitMix64(seed ^ 0xC4A5), commands: setup, next_command: 0 };
    let mut engine = Engine::new(config).map_err(|e| e.to_string())?;
    let (mut wal, _) = Wal::open(MemStorage::new(), SEGMENT).map_err(|e| e.to_string())?;
    recovery::write_snapshot(wal.storage_mut(), &engine, 0, 0).map_err(|e| e.to_string())?;
    let mut snapshotter = Snapshotter { engine: engine.clone(), sequence: 0, timestamp_ns: 0 };
    let (mut replayed, mut skipped, mut retired) = (0, 0, 0);
    for cycle in 0..2 {
        let count = usize::try_from(run.below(900)).expect("small") + 50;
        let synced = run.go(&mut wal, &mut engine, &mut snapshotter, count)?;
        let crash = crash_kind(&mut run);
        let mut storage = wal.storage().crash(crash);
        let names = storage.file_names(snapshot::SNAPSHOT_EXTENSION).map_err(|e| e.to_string())?;
        let damaged = names.len() > 1 && run.below(4) == 0;
        if damaged {
            let newest = names.last().expect("two");
            let byte = usize::try_from(run.below(storage.read_file(newest).expect("listed").len() as u64))
                .expect("small");
            storage.flip_file_bit(newest, byte, 3);
        }
        let context = format!("cycle {cycle}, {crash:?}, damaged newest snapshot: {damaged}");
        let (reopened, _) =
            Wal::open(storage, SEGMENT).map_err(|e| format!("{context}: journal refused: {e}"))?;
        wal = reopened;
        let (recovered, report) = recovery::recover(&wal, Some(&config), Until::End, &mut |_, _| {})
            .map_err(|e| format!("{context}: recovery refused: {e}"))?;
        let last = report.last_sequence;
        if last < synced {
            return Err(format!("{context}: synced record {synced} lost, recovered to {last}"));
        }
        let survivors = &run.commands[..usize::try_from(last).expect("small")];
        let expected = replay(&config, survivors);
        if report.state_hash != expected || recovered.state_hash() != expected {
            return Err(format!("{context}: state after record {last} differs from the run's"));
        }
        if damaged && report.skipped.is_empty() {
            return Err(format!("{context}: a damaged newest snapshot was used"));
        }
        replayed += report.replayed;
        skipped += report.skipped.len();
        retired += usize::from(wal.first_sequence() > 1);
        engine = recovered;
        run.next_command = usize::try_from(last).expect("small");
        snapshotter =
            Snapshotter { engine: engine.clone(), sequence: last, timestamp_ns: report.last_timestamp_ns };
    }
    Ok((replayed, skipped, retired))
}

#[test]
fn recovery_after_crashes_loses_no_synced_record_and_matches_the_run() {
    let seeds: Vec<u64> = match env_u64("FERREX_SEED") {
        Some(seed) => vec![seed],
        None => (1..=env_u64("FERREX_SEEDS").unwrap_or(1_000)).collect(),
    };
    let (mut replayed, mut skipped, mut retired) = (0, 0, 0);
    let many = seeds.len() > 1;
    for seed in seeds {
        match check_seed(seed) {
            Ok((r, s, t)) => (replayed, skipped, retired) = (replayed + r, skipped + s, retired + t),
            Err(report) => panic!("seed {seed} (rerun with FERREX_SEED={seed}): {report}"),
        }
    }
    eprintln!(
        "{replayed} records replayed, {skipped} snapshots passed over, {retired} journals with retired segments"
    );
    if many {
        assert!(replayed > 0 && skipped > 0 && retired > 0, "every path taken");
    }
}

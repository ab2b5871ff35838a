//! The runtime crash test: a child process (`src/bin/crash_child.rs`) runs the runtime with a
//! generator and records each command's sequence once its outcome is released; this test kills it
//! with SIGKILL at random moments (30 times by default; `FERREX_CRASH_RUNS=N` for more), restarts
//! it on the same directory, and checks after every kill that:
//! - every released command is in the recovered journal (nothing acknowledged was lost);
//! - the recovered state is sound (`check_invariants`: money conserved, books consistent);
//! - the restarted child recovers exactly the state hash an offline recovery of the same
//!   directory computes.
//!
//! Every fifth run alternates `sync` and `async` durability (SIGKILL leaves the page cache, so
//! both must keep every released command). The last run ends with SIGTERM instead: the child
//! must drain, sync, take a final snapshot at its last sequence and exit 0. The kill moment is
//! chosen by a seeded generator (printed on failure) as a count of released commands the child
//! announces on its stdout: the test synchronizes on those lines, never on sleeps.

use std::io::{BufRead, BufReader, Lines};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};

use ferrex_engine::recovery::{self, Until};
use ferrex_journal::file::{FileStorage, Flush};
use ferrex_journal::wal::Wal;
use ferrex_tests::generate::SplitMix64;
use ferrex_tests::journal_fixture::{SEGMENT, TempDir};

const CHILD: &str = env!("CARGO_BIN_EXE_ferrex-crash-child");

struct Running {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
}

fn start(dir: &Path, released: &Path, seed: u64, durability: &str) -> (Running, u64, u64) {
    let mut child = Command::new(CHILD)
        .arg(dir)
        .arg(seed.to_string())
        .arg(durability)
        .arg(released)
        .stdout(Stdio::piped())
        .spawn()
        .expect("the child starts");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let ready = lines.next().expect("a ready line").expect("utf-8");
    let fields: Vec<&str> = ready.split(' ').collect();
    assert_eq!(fields[0], "ready", "child said {ready:?}");
    let (sequence, hash) = (fields[1].parse().expect("sequence"), fields[2].parse().expect("hash"));
    (Running { child, lines }, sequence, hash)
}

/// Reads the child's announcements until it has released at least `target` commands.
fn wait_released(running: &mut Running, target: u64) {
    for line in &mut running.lines {
        let line = line.expect("utf-8");
        if let Some(count) = line.strip_prefix("released ")
            && count.parse::<u64>().expect("count") >= target
        {
            return;
        }
    }
    panic!("the child ended before releasing {target} commands: {:?}", running.child.wait());
}

/// The released sequences recorded so far (an unfinished last line is ignored).
fn released(path: &Path) -> Vec<u64> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let complete = text.rfind('\n').map_or("", |end| &text[..end]);
    complete.lines().map(|l| l.parse().expect("a sequence")).collect()
}

/// Offline recovery of the directory: (last sequence, state hash), invariants checked.
fn offline(dir: &Path) -> (u64, u64) {
    let storage = FileStorage::open(dir, Flush::Fdatasync).expect("dir");
    let (wal, _) = Wal::read_only(storage, SEGMENT).expect("the journal opens");
    let (engine, report) = recovery::recover(&wal, None, Until::End, &mut |_, _| {}).expect("recovery");
    engine.check_invariants().expect("the recovered state is sound: money conserved, books consistent");
    (report.last_sequence, report.state_hash)
}

#[test]
fn killed_at_random_the_runtime_loses_no_released_command() {
    let runs: u64 = std::env::var("FERREX_CRASH_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(30);
    let seed: u64 = std::env::var("FERREX_CRASH_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(0x5eed);
    eprintln!("runtime crash test: {runs} kills, seed {seed} (FERREX_CRASH_SEED to repeat)");
    let dir = TempDir::new("runtime-crash");
    let released_path = dir.0.with_extension("released");
    let _ = std::fs::remove_file(&released_path);
    let mut random = SplitMix64(seed);
    let mut expected_hash = None;
    let mut max_released = 0u64;
    for run in 0..runs {
        let durability = if (run / 5) % 2 == 0 { "sync" } else { "async" };
        let (mut running, sequence, hash) = start(&dir.0, &released_path, seed ^ run, durability);
        if let Some((offline_sequence, offline_hash)) = expected_hash {
            assert_eq!(
                (sequence, hash),
                (offline_sequence, offline_hash),
                "seed {seed} run {run}: the restarted runtime recovered another state than offline recovery"
            );
        }
        let target = 1 + random.next_u64() % 3_000;
        wait_released(&mut running, target);
        running.child.kill().expect("SIGKILL");
        running.child.wait().expect("reaped");
        let released = released(&released_path);
        let (last_sequence, hash) = offline(&dir.0);
        let newest = released.iter().copied().max().unwrap_or(0);
        assert!(
            newest <= last_sequence,
            "seed {seed} run {run}: command {newest} was released but the journal ends at {last_sequence}"
        );
        assert!(newest >= max_released, "released sequences only grow");
        max_released = newest;
        expected_hash = Some((last_sequence, hash));
    }
    // A graceful stop: SIGTERM, drain, sync, a final snapshot, exit 0.
    let (mut running, sequence, hash) = start(&dir.0, &released_path, seed ^ runs, "sync");
    assert_eq!(
        Some((sequence, hash)),
        expected_hash,
        "seed {seed}: the last restart recovered another state"
    );
    wait_released(&mut running, 1 + random.next_u64() % 1_000);
    let status =
        Command::new("kill").arg("-TERM").arg(running.child.id().to_string()).status().expect("kill");
    assert!(status.success());
    let stopped = running
        .lines
        .find_map(|line| line.ok().filter(|l| l.starts_with("stopped ")))
        .expect("the child reports its stop");
    assert!(running.child.wait().expect("exit").success(), "a graceful stop exits 0");
    let fields: Vec<u64> = stopped.split(' ').skip(1).map(|f| f.parse().expect("number")).collect();
    let (last_sequence, state_hash, snapshot_sequence) = (fields[0], fields[1], fields[2]);
    assert_eq!(snapshot_sequence, last_sequence, "the final snapshot is of the last command");
    assert_eq!(
        offline(&dir.0),
        (last_sequence, state_hash),
        "offline recovery agrees with the stopped runtime"
    );
    let _ = std::fs::remove_file(&released_path);
}

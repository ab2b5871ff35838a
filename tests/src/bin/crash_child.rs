//! The child process of the runtime crash test (`tests/tests/runtime_crash.rs`).
//!
//! `ferrex-crash-child DIR SEED sync|async RELEASED_FILE`: starts the runtime on DIR (recovering
//! whatever is there), prints `ready LAST_SEQUENCE STATE_HASH CREATED`, then submits generated
//! money commands (the set-up first on a new journal) as fast as the runtime takes them. Each
//! command's sequence is appended to `RELEASED_FILE` only once its `Done` output is released, and
//! `released N` is printed after every 256 of them. On SIGTERM or SIGINT it stops the runtime
//! gracefully and prints `stopped LAST_SEQUENCE STATE_HASH SNAPSHOT_SEQUENCE`; the test also kills
//! it with SIGKILL at random moments.

use std::fmt::Write as _;
use std::io::Write;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use ferrex_engine::runtime::snapshotter::SnapshotPolicy;
use ferrex_engine::runtime::{
    Body, Durability, Item, Origin, Output, Request, Runtime, RuntimeConfig, SubmitError,
};
use ferrex_engine::{Command, Event};
use ferrex_tests::generate::SplitMix64;
use ferrex_tests::money_gen::{MoneyGen, money_config, money_setup};

/// Commands in flight (submitted, not yet released) at most.
const IN_FLIGHT_MAX: u64 = 512;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, dir, seed, durability, released_path] = &args[..] else {
        bail!("usage: ferrex-crash-child DIR SEED sync|async RELEASED_FILE");
    };
    let seed: u64 = seed.parse().context("seed")?;
    let durability: Durability = durability.parse().map_err(anyhow::Error::msg)?;
    let terminate = ferrex_engine::runtime::termination_flag()?;
    let mut config = RuntimeConfig::new(dir);
    config.engine = money_config();
    config.segment_bytes = 16 * 4096;
    config.snapshots =
        SnapshotPolicy { every_records: 3_000, every: Duration::from_millis(50), keep: 2, cpu: None };
    config.core.durability = durability;
    config.core.batch_max = 64;
    config.core.maintain_every = 1_000;
    let started = Runtime::start(&config)?;
    let recovered = &started.report.recovery;
    let mut stdout = std::io::stdout().lock();
    writeln!(
        stdout,
        "ready {} {} {}",
        recovered.last_sequence, recovered.state_hash, started.report.created
    )?;
    stdout.flush()?;
    let mut released = std::fs::OpenOptions::new().create(true).append(true).open(released_path)?;
    let (runtime, mut submitter, mut subscribers) = (started.runtime, started.submitter, started.subscribers);
    let mut subscriber = subscribers.pop().context("one consumer")?;

    let mut pending: std::collections::VecDeque<Command> = std::collections::VecDeque::new();
    if started.report.created {
        pending.extend(money_setup(&config.engine));
    }
    let mut generator = MoneyGen::new(&config.engine);
    let mut source = SplitMix64(seed);
    let (mut sent, mut done, mut announced) = (0u64, 0u64, 0u64);
    let mut outputs: Vec<Output> = Vec::new();
    let mut events: Vec<Event> = Vec::new();
    let mut lines = String::new();
    while !terminate.load(Ordering::Relaxed) {
        while sent - done < IN_FLIGHT_MAX {
            if pending.is_empty() {
                let command = generator.next(&mut source).context("the source never ends")?;
                pending.push_back(with_real_expiry(command));
            }
            let command = *pending.front().expect("one pending");
            let request = Request { origin: Origin { session: 1, tag: sent }, body: Body::Command(command) };
            match submitter.submit(request) {
                Ok(()) => {
                    pending.pop_front();
                    sent += 1;
                }
                Err(SubmitError::Busy) => break,
                Err(SubmitError::Stopped) => bail!("the runtime stopped"),
            }
        }
        outputs.clear();
        subscriber.wait(&mut outputs, 4096)?;
        lines.clear();
        for output in &outputs {
            match output.item {
                Item::Event(event) => events.push(event),
                Item::Answer(_) => {}
                Item::Done { command, .. } => {
                    assert!(command, "no queries are sent");
                    // `async` releases before the flusher's sync (a kill loses nothing of it).
                    let durable = runtime.durable_sequence() >= output.sequence;
                    assert!(durable || durability == Durability::Async, "released before durable");
                    generator.observe(&events);
                    events.clear();
                    writeln!(lines, "{}", output.sequence)?;
                    done += 1;
                }
            }
        }
        released.write_all(lines.as_bytes())?;
        if done >= announced + 256 {
            announced = done;
            writeln!(stdout, "released {done}")?;
            stdout.flush()?;
        }
    }
    let report = runtime.stop()?;
    writeln!(
        stdout,
        "stopped {} {} {}",
        report.last_sequence, report.state_hash, report.snapshots.last_sequence
    )?;
    stdout.flush()?;
    Ok(())
}

/// Good-till-date orders expire on the sequencer's clock (wall time): a few milliseconds from now.
fn with_real_expiry(command: Command) -> Command {
    match command {
        Command::Place(mut place) if place.expire_ns != 0 => {
            let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
            let now_ns = u64::try_from(now.as_nanos()).unwrap_or(u64::MAX);
            place.expire_ns = now_ns + place.expire_ns % 5_000_000;
            Command::Place(place)
        }
        other => other,
    }
}

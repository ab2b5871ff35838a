//! `ferrex-bench pipeline`: the whole core pipeline under an open-loop load.
//!
//! A generator sends the exchange-core mix into the inbound ring at a fixed rate, each command
//! stamped with its *intended* send time (so a stall delays the stamps of nothing: no coordinated
//! omission); the core sequences, journals, applies and publishes; the same thread, between sends,
//! reads the outputs and records, at each command's `Done`, the time from its intended send to the
//! moment its outcome was available to it. One `HdrHistogram` per rate. The last row sends as fast
//! as the ring takes commands and reports the throughput reached.
//!
//! Placement on a 2-CPU machine: the core on CPU 1 (pinned, busy-spinning unless asked otherwise),
//! the generator and consumer on CPU 0 (pinned), the snapshotter at nice 10 beside them.
//! The first fifth of each row is a warm-up, sent at the same rate but not recorded.
//! A full ring during a run is counted (the command is retried; its latency keeps running from its
//! intended time).

use std::time::{Duration, Instant};

use ferrex_engine::recovery;
use ferrex_engine::runtime::message::{Body, Item, Origin, Output, Request};
use ferrex_engine::runtime::{Durability, Runtime, RuntimeConfig, SubmitError, WaitStrategy};
use ferrex_engine::{Command, Engine};
use ferrex_journal::file::{FileStorage, Flush};
use ferrex_journal::wal::Wal;
use hdrhistogram::Histogram;

use crate::journal::{SEGMENT, Scratch};
use crate::mix;

/// One row of the table.
#[derive(Clone, Debug)]
pub struct Row {
    /// The rate asked for, commands/s (`None`: as fast as possible).
    pub rate: Option<u64>,
    /// The rate reached: commands completed over the time from the first intended send to the
    /// last completion.
    pub achieved_per_s: f64,
    /// Latency from intended send to availability, ns.
    pub latency: Histogram<u64>,
    /// Sends refused because the ring was full (retried).
    pub busy: u64,
    /// Syncs the core made (`sync` durability).
    pub syncs: u64,
    /// How long the stop after the row took, ms: the final sync and snapshot, and whatever
    /// background work (the snapshotter's replay) the row left behind.
    pub stop_ms: f64,
}

/// Settings of a harness run.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    /// Durability mode.
    pub durability: Durability,
    /// Seconds per fixed-rate row.
    pub seconds: f64,
    /// Commands of the as-fast-as-possible row.
    pub max_commands: usize,
    /// The core's wait strategy.
    pub core_wait: WaitStrategy,
    /// How a sync flushes the journal.
    pub flush: Flush,
    /// Records between snapshots (`u64::MAX`: none during the row; one on stop).
    pub snapshot_every: u64,
    /// `async` durability: the background sync's interval.
    pub async_sync_every: Duration,
}

/// Runs the mix at `rate` (or flat out) for the settings' duration; `mix_commands` must hold
/// enough commands.
pub fn run(mix: &mix::Mix, start: &Engine, rate: Option<u64>, settings: Settings) -> Row {
    let count = match rate {
        Some(rate) => ((rate as f64 * settings.seconds) as usize).min(mix.commands.len()),
        None => settings.max_commands.min(mix.commands.len()),
    };
    let scratch = Scratch::new("pipeline");
    {
        let storage = FileStorage::open(&scratch.0, Flush::Fdatasync).expect("scratch directory");
        let (mut wal, _) = Wal::open(storage, SEGMENT).expect("new journal");
        recovery::write_snapshot(wal.storage_mut(), start, 0, 0).expect("snapshot 0");
    }
    let mut config = RuntimeConfig::new(&scratch.0);
    config.flush = settings.flush;
    config.snapshots.every_records = settings.snapshot_every;
    config.async_sync_every = settings.async_sync_every;
    config.engine = *start.config();
    config.segment_bytes = SEGMENT;
    config.core.durability = settings.durability;
    config.core.cpu = Some(1);
    config.core.wait = settings.core_wait;
    config.consumer_slots = 1 << 20;
    let mut started = Runtime::start(&config).expect("runtime");
    let mut subscriber = started.subscribers.pop().expect("one consumer");
    let (latency, busy, elapsed_s) = std::thread::scope(|scope| {
        let submitter = &mut started.submitter;
        let subscriber = &mut subscriber;
        scope
            .spawn(move || {
                // The generator's own thread: pinned, while the caller's thread stays free.
                let _ = ferrex_engine::runtime::core::pin_current_thread(Some(0));
                generate(mix, count, rate, submitter, subscriber)
            })
            .join()
            .expect("generator")
    });
    let stopping = Instant::now();
    let report = started.runtime.stop().expect("stop");
    let stop_ms = stopping.elapsed().as_secs_f64() * 1e3;
    assert_eq!(report.commands, count as u64);
    Row { rate, achieved_per_s: count as f64 / elapsed_s, latency, busy, syncs: report.syncs, stop_ms }
}

/// Sends `count` commands at `rate` (or flat out) and records each one's latency at its `Done`;
/// returns the histogram, the sends refused as busy, and the seconds from start to the last `Done`.
fn generate(
    mix: &mix::Mix,
    count: usize,
    rate: Option<u64>,
    submitter: &mut ferrex_engine::runtime::Submitter,
    subscriber: &mut ferrex_engine::runtime::Subscriber,
) -> (Histogram<u64>, u64, f64) {
    let mut latency = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).expect("bounds");
    let gap_ns = rate.map_or(0, |r| 1_000_000_000 / r);
    let mut outputs: Vec<Output> = Vec::with_capacity(1 << 16);
    let (mut sent, mut done, mut busy) = (0usize, 0usize, 0u64);
    let warm_up = count / WARM_UP_PART;
    let epoch = Instant::now();
    let now_ns = || u64::try_from(epoch.elapsed().as_nanos()).expect("fits");
    while done < count {
        let now = now_ns();
        while sent < count {
            let intended = if gap_ns == 0 { now } else { sent as u64 * gap_ns };
            if intended > now {
                break;
            }
            let request = Request {
                origin: Origin { session: 1, tag: intended },
                body: Body::Command(command(mix, sent)),
            };
            match submitter.submit(request) {
                Ok(()) => sent += 1,
                Err(SubmitError::Busy) => {
                    busy += 1;
                    break;
                }
                Err(SubmitError::Stopped) => panic!("the runtime stopped"),
            }
        }
        outputs.clear();
        subscriber.poll(&mut outputs, 1 << 16).expect("the harness keeps up");
        if outputs.is_empty() {
            continue;
        }
        let now = now_ns();
        for output in &outputs {
            if let Item::Done { command: true, .. } = output.item {
                if done >= warm_up {
                    latency.saturating_record(now.saturating_sub(output.origin.tag).max(1));
                }
                done += 1;
            }
        }
    }
    (latency, busy, epoch.elapsed().as_secs_f64())
}

fn command(mix: &mix::Mix, n: usize) -> Command {
    mix.commands[n]
}

/// Prints the rows in exchange-core's format (latencies in µs).
pub fn print_table(rows: &[Row]) {
    println!(
        "| rate | achieved | p50 | p90 | p95 | p99 | p99.9 | p99.99 | worst | ring full | syncs | stop ms |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for row in rows {
        let us = |q: f64| format!("{:.1}", row.latency.value_at_quantile(q) as f64 / 1e3);
        let rate = row.rate.map_or_else(|| "max".to_string(), |r| format!("{}K", r / 1_000));
        println!(
            "| {rate} | {:.0}K | {} | {} | {} | {} | {} | {} | {:.1} | {} | {} | {:.0} |",
            row.achieved_per_s / 1e3,
            us(0.5),
            us(0.9),
            us(0.95),
            us(0.99),
            us(0.999),
            us(0.9999),
            row.latency.max() as f64 / 1e3,
            row.busy,
            row.syncs,
            row.stop_ms
        );
    }
}

/// The fixed rates of the table.
pub const RATES: [u64; 5] = [125_000, 250_000, 500_000, 1_000_000, 2_000_000];

/// Generates the mix for the harness: enough commands for the fastest row.
pub fn mix_for(settings: Settings) -> mix::Mix {
    let fixed = (2_000_000.0 * settings.seconds) as usize;
    mix::generate(fixed.max(settings.max_commands), 42)
}

/// The first `1 / WARM_UP_PART` of each row's commands warm the pipeline (page faults of the
/// journal's first pages, caches) and are not recorded; they are sent at the row's rate all the
/// same.
pub const WARM_UP_PART: usize = 5;

/// Pause between rows so the disk's write-back of the previous row settles.
pub const BETWEEN_ROWS: Duration = Duration::from_millis(300);

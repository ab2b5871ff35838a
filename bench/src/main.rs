//! `ferrex-bench`: benchmark harnesses that print tables.
//!
//! `ferrex-bench engine [--quick] [--only operations|mix|large|peer|risk]` measures the engine:
//! single operations, the exchange-core mix (throughput and per-command latency percentiles), a large
//! book, the peer comparison with lobster in the same run, and risk: the mix on spot with fees and
//! on a perpetual, the pre-trade check, and a liquidation storm. Results go to stdout as Markdown
//! tables, ready for docs/PERFORMANCE.md.

// Measurement arithmetic: counts and nanoseconds become f64 for ratios and back; exactness
// beyond 2^52 is irrelevant here.
#![allow(clippy::cast_precision_loss, clippy::cast_possible_truncation, clippy::cast_sign_loss)]

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use ferrex_bench::{
    MarketKind, journal, large, median, mix, ops, peer, pipeline, recovery, risk, time_commands,
};
use hdrhistogram::Histogram;

#[derive(Parser)]
#[command(name = "ferrex-bench", about = "ferrex benchmark harnesses")]
struct Cli {
    #[command(subcommand)]
    command: Harness,
}

#[derive(Subcommand)]
enum Harness {
    /// The journal on real files: async append rate, group commit per flush path, the disk's own
    /// fdatasync latency.
    Journal {
        /// Fewer records and batches.
        #[arg(long)]
        quick: bool,
    },
    /// Recovery: replay of a journaled exchange-core mix through the engine; snapshot write and
    /// load of 1M resting orders and 1M accounts.
    Recovery {
        /// Fewer records and a smaller state.
        #[arg(long)]
        quick: bool,
    },
    /// The core pipeline: open-loop exchange-core mix at fixed rates through ring, journal,
    /// engine and outbound queue; latency from intended send to availability, for `async` and
    /// `sync` durability.
    Pipeline {
        /// Shorter rows (0.5 s instead of 2 s).
        #[arg(long)]
        quick: bool,
        /// One durability mode only.
        #[arg(long)]
        durability: Option<String>,
        /// The core's wait strategy: busy-spin, spin-yield or spin-park.
        #[arg(long, default_value = "busy-spin")]
        core_wait: String,
        /// Records between snapshots (0: none during a row).
        #[arg(long, default_value_t = 1_000_000)]
        snapshot_every: u64,
        /// How a sync flushes the journal: fdatasync or msync.
        #[arg(long, default_value = "fdatasync")]
        flush: String,
        /// `async` durability: the background sync's interval, ms.
        #[arg(long, default_value_t = 10)]
        async_sync_ms: u64,
        /// Only these rows: rates in commands/s, 0 for the flat-out row (comma-separated).
        #[arg(long, value_delimiter = ',')]
        rates: Option<Vec<u64>>,
    },
    /// The machine's floor, nothing of ferrex running: each CPU's hiccups (a clock loop pinned
    /// to it) and the open-loop round trip through a loopback echo thread.
    Floor {
        /// Seconds per measurement.
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
        /// Echo rates, messages/s (comma-separated).
        #[arg(long, value_delimiter = ',', default_value = "10000,50000")]
        rates: Vec<u64>,
    },
    /// The matching engine: operations, exchange-core mix, large book, lobster comparison.
    Engine {
        /// Smaller batches and fewer rounds (about 2 s instead of about 10 s here).
        #[arg(long)]
        quick: bool,
        /// Run one part only.
        #[arg(long, value_enum)]
        only: Option<Part>,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Part {
    Operations,
    Mix,
    Large,
    Peer,
    Risk,
}

struct Sizes {
    rounds: usize,
    ops: usize,
    mix: usize,
    large_orders: usize,
    large_instruments: u32,
    peer: usize,
    storm_users: u32,
}

fn main() {
    let (quick, only) = match Cli::parse().command {
        Harness::Engine { quick, only } => (quick, only),
        Harness::Journal { quick } => {
            journal_harness(quick);
            return;
        }
        Harness::Pipeline { quick, durability, core_wait, flush, rates, snapshot_every, async_sync_ms } => {
            let flush = match flush.as_str() {
                "msync" => ferrex_journal::file::Flush::Msync,
                _ => ferrex_journal::file::Flush::Fdatasync,
            };
            let snapshot_every = if snapshot_every == 0 { u64::MAX } else { snapshot_every };
            pipeline_harness(
                quick,
                durability.as_deref(),
                (&core_wait, flush, snapshot_every, async_sync_ms),
                rates.as_deref(),
            );
            return;
        }
        Harness::Recovery { quick } => {
            recovery_harness(quick);
            return;
        }
        Harness::Floor { seconds, rates } => {
            if let Err(e) = floor_harness(Duration::from_secs_f64(seconds), &rates) {
                eprintln!("ferrex-bench floor: {e}");
                std::process::exit(1);
            }
            return;
        }
    };
    let sizes = if quick {
        Sizes {
            rounds: 3,
            ops: 20_000,
            mix: 300_000,
            large_orders: 200_000,
            large_instruments: 2_000,
            peer: 100_000,
            storm_users: 2_000,
        }
    } else {
        Sizes {
            rounds: 7,
            ops: 100_000,
            mix: 2_000_000,
            large_orders: 1_000_000,
            large_instruments: 10_000,
            peer: 100_000,
            storm_users: 10_000,
        }
    };
    println!("# ferrex-bench engine{}\n", if quick { " --quick" } else { "" });
    println!("machine: {}", machine().unwrap_or_else(|_| "unknown".into()));
    println!("rounds per figure: {} (median shown)\n", sizes.rounds);
    let wants = |part| only.is_none_or(|o| o == part);
    if wants(Part::Operations) {
        operations(&sizes);
    }
    if wants(Part::Mix) {
        exchange_core_mix(&sizes);
    }
    if wants(Part::Large) {
        large_book(&sizes);
    }
    if wants(Part::Peer) {
        peer_comparison(&sizes);
    }
    if wants(Part::Risk) {
        risk_section(&sizes);
    }
}

fn journal_harness(quick: bool) {
    println!("# ferrex-bench journal{}\n", if quick { " --quick" } else { "" });
    println!("machine: {}", machine().unwrap_or_else(|_| "unknown".into()));
    println!("directory: {} (64 MiB segments)\n", std::env::temp_dir().display());
    let records = if quick { 1_000_000 } else { 5_000_000 };
    let mut rates: Vec<(f64, f64)> = (0..3).map(|_| journal::append_async(records)).collect();
    rates.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (per_s, bytes_per_s) = rates[1];
    println!("## Append, async ({records} records of 64-byte payload, median of 3)\n");
    println!("{:.1}M records/s, {:.0} MB/s\n", per_s / 1e6, bytes_per_s / 1e6);
    let raw = journal::raw_fdatasync(if quick { 200 } else { 1_000 });
    let (raw_p50, raw_p99) =
        (raw.value_at_quantile(0.5) as f64 / 1e3, raw.value_at_quantile(0.99) as f64 / 1e3);
    println!("## Sync: the disk's own 4 KiB write + fdatasync: p50 {raw_p50:.0} µs, p99 {raw_p99:.0} µs\n");
    println!("## Group commit (64-byte payloads; one sync per batch)\n");
    println!("| flush | batch | records/s | sync p50 µs | sync p99 µs |\n|---|---:|---:|---:|---:|");
    for flush in [ferrex_journal::file::Flush::Fdatasync, ferrex_journal::file::Flush::Msync] {
        for batch in [1u64, 16, 256, 4096] {
            let batches = if quick { 100 } else { 500 };
            let r = journal::group_commit(flush, batch, batches);
            println!(
                "| {flush:?} | {batch} | {:.0} | {:.0} | {:.0} |",
                r.records_per_s, r.sync_p50_us, r.sync_p99_us
            );
        }
    }
    println!();
}

fn floor_harness(duration: Duration, rates: &[u64]) -> Result<()> {
    use ferrex_bench::floor;
    println!("# ferrex-bench floor --seconds {}\n", duration.as_secs_f64());
    println!("machine: {}\n", machine().unwrap_or_else(|_| "unknown".into()));
    println!("## Hiccups: a clock loop pinned to each CPU, all at once\n");
    println!(
        "An idle service's wait: what a request arriving at a random moment waits for the CPU, the \
         service doing nothing.\n"
    );
    println!(
        "| CPU | gaps ≥ 10 µs | ≥ 100 µs | ≥ 1 ms | worst µs | time lost in gaps ≥ 10 µs | \
         idle service's wait p99 µs | p99.9 µs | p99.99 µs |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for cpu in floor::hiccups(&floor::every_cpu(), duration) {
        let wait_us = |q: f64| cpu.idle_wait_ns(q) as f64 / 1e3;
        println!(
            "| {} | {} | {} | {} | {:.0} | {:.2}% | {:.1} | {:.1} | {:.1} |",
            cpu.cpu.map_or_else(|| "unpinned".to_string(), |c| c.to_string()),
            cpu.stalls(10_000),
            cpu.stalls(100_000),
            cpu.stalls(1_000_000),
            cpu.gaps.max() as f64 / 1e3,
            cpu.lost_percent(10_000),
            wait_us(0.99),
            wait_us(0.999),
            wait_us(0.9999),
        );
    }
    println!(
        "\n## Relay: the pipeline's placement with no work (sender on CPU 0, relay spinning on CPU 1)\n"
    );
    println!("| rate/s | p50 µs | p90 µs | p99 µs | p99.9 µs | worst µs |\n|---:|---:|---:|---:|---:|---:|");
    for rate in [1_000_000u64, 2_000_000] {
        let latency = floor::relay(rate, duration);
        let us = |q: f64| latency.value_at_quantile(q) as f64 / 1e3;
        println!(
            "| {rate} | {:.2} | {:.2} | {:.1} | {:.1} | {:.0} |",
            us(0.5),
            us(0.9),
            us(0.99),
            us(0.999),
            latency.max() as f64 / 1e3
        );
    }
    println!("\n## Loopback echo: open-loop round trip, {}-byte messages\n", floor::ECHO_MESSAGE_BYTES);
    println!(
        "| rate/s | echo waits | p50 µs | p90 µs | p99 µs | p99.9 µs | worst µs |\n|---:|---|---:|---:|---:|---:|---:|"
    );
    for (&rate, wait) in rates.iter().flat_map(|r| [(r, floor::EchoWait::Block), (r, floor::EchoWait::Spin)])
    {
        let run = floor::echo(rate, duration, wait)?;
        let us = |q: f64| run.round_trips.value_at_quantile(q) as f64 / 1e3;
        println!(
            "| {rate} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.0} |",
            if wait == floor::EchoWait::Block { "blocking read" } else { "busy poll" },
            us(0.5),
            us(0.9),
            us(0.99),
            us(0.999),
            run.round_trips.max() as f64 / 1e3
        );
    }
    println!();
    Ok(())
}

fn pipeline_harness(
    quick: bool,
    durability: Option<&str>,
    (core_wait, flush, snapshot_every, async_sync_ms): (&str, ferrex_journal::file::Flush, u64, u64),
    rates: Option<&[u64]>,
) {
    use ferrex_engine::runtime::Durability;
    println!("# ferrex-bench pipeline{}\n", if quick { " --quick" } else { "" });
    println!("machine: {}", machine().unwrap_or_else(|_| "unknown".into()));
    println!(
        "directory: {} (64 MiB segments); core on CPU 1, generator and consumer on CPU 0\n",
        std::env::temp_dir().display()
    );
    let core_wait = core_wait.parse().expect("a wait strategy");
    let modes: Vec<Durability> = match durability {
        Some(mode) => vec![mode.parse().expect("sync or async")],
        None => vec![Durability::Async, Durability::Sync],
    };
    let seconds = if quick { 0.5 } else { 2.0 };
    let max_commands = if quick { 1_000_000 } else { 4_000_000 };
    let settings = pipeline::Settings {
        durability: Durability::Async,
        seconds,
        max_commands,
        core_wait,
        flush,
        snapshot_every,
        async_sync_every: Duration::from_millis(async_sync_ms.max(1)),
    };
    let generated = Instant::now();
    let mix = pipeline::mix_for(settings);
    let start = mix::prepared(&mix);
    println!(
        "mix: {} commands generated in {:.1} s, {:.1}% trading; core wait {core_wait:?}; flush {flush:?}; snapshot every {snapshot_every} records; async sync every {async_sync_ms} ms; {seconds} s per row\n",
        mix.commands.len(),
        generated.elapsed().as_secs_f64(),
        mix.trading_share * 100.0
    );
    for durability in modes {
        println!(
            "## {durability:?} durability (µs from intended send to the outcome available to consumers)\n"
        );
        let settings = pipeline::Settings { durability, ..settings };
        println!("{}\n", machine_just_before(Duration::from_secs(1)));
        // The sync target is a ratio to the disk's own p99: the disk is measured in the
        // same run, just before and just after the rows.
        let mut disk = (durability == Durability::Sync).then(|| journal::raw_fdatasync(DISK_SYNCS));
        let mut rows = Vec::new();
        for rate in pipeline::RATES.iter().map(|&r| Some(r)).chain([None]) {
            if rates.is_some_and(|only| !only.contains(&rate.unwrap_or(0))) {
                continue;
            }
            rows.push(pipeline::run(&mix, &start, rate, settings));
            std::thread::sleep(pipeline::BETWEEN_ROWS);
        }
        pipeline::print_table(&rows);
        println!();
        if let Some(disk) = &mut disk {
            disk.add(journal::raw_fdatasync(DISK_SYNCS)).expect("same bounds");
            print_against_disk(&rows, disk);
        }
    }
}

/// The machine's hiccups over `duration`, each CPU at once (`ferrex-bench floor`), in a line:
/// the p99 wait of an idle service on each CPU, no pipeline on it can do better.
fn machine_just_before(duration: Duration) -> String {
    let figures: Vec<String> = ferrex_bench::floor::hiccups(&ferrex_bench::floor::every_cpu(), duration)
        .iter()
        .map(|cpu| {
            format!(
                "CPU {}: p99 {:.0} µs, {:.1}% of the time in gaps of 10 µs or more",
                cpu.cpu.map_or_else(|| "?".to_string(), |c| c.to_string()),
                cpu.idle_wait_ns(0.99) as f64 / 1e3,
                cpu.lost_percent(10_000)
            )
        })
        .collect();
    format!(
        "The machine's floor just before ({:.0} s of a clock loop on each CPU; the wait an idle service would show): {}.",
        duration.as_secs_f64(),
        figures.join("; ")
    )
}

/// Syncs of the disk measured before and after the `sync` table, each.
const DISK_SYNCS: u32 = 1_000;

fn print_against_disk(rows: &[pipeline::Row], disk: &Histogram<u64>) {
    let disk_p99_us = disk.value_at_quantile(0.99) as f64 / 1e3;
    println!(
        "The disk's own 4 KiB write + fdatasync, {} syncs before and after the table: p50 {:.0} µs, p99 {disk_p99_us:.0} µs.\n",
        disk.len(),
        disk.value_at_quantile(0.5) as f64 / 1e3
    );
    let ratios: Vec<String> = rows
        .iter()
        .map(|row| {
            let rate = row.rate.map_or_else(|| "max".to_string(), |r| format!("{}K", r / 1_000));
            format!("{rate} {:.1}x", row.latency.value_at_quantile(0.99) as f64 / 1e3 / disk_p99_us)
        })
        .collect();
    println!("p99 against the disk's p99 (target: 2x or less): {}\n", ratios.join(", "));
    // Long syncs hold up more commands than short ones (an arrival falls into a sync with a
    // probability proportional to its length): the disk's floor for group commit.
    let busy_ns = (disk.mean() * disk.len() as f64) as u64;
    println!(
        "The disk's floor for group commit: a command arriving at a random moment while syncs run back to back waits out the one in progress, before its own: that wait alone has p99 {:.0} µs, p99.9 {:.0} µs.\n",
        ferrex_bench::floor::residual_quantile(disk, busy_ns, 0.99) as f64 / 1e3,
        ferrex_bench::floor::residual_quantile(disk, busy_ns, 0.999) as f64 / 1e3
    );
}

fn recovery_harness(quick: bool) {
    println!("# ferrex-bench recovery{}\n", if quick { " --quick" } else { "" });
    println!("machine: {}", machine().unwrap_or_else(|_| "unknown".into()));
    println!("directory: {}\n", std::env::temp_dir().display());
    let count = if quick { 500_000 } else { 3_000_000 };
    let mut runs: Vec<recovery::ReplayResult> = (0..3).map(|_| recovery::replay(count)).collect();
    runs.sort_by(|a, b| a.per_s.total_cmp(&b.per_s));
    let r = runs[1];
    println!("## Replay through the engine ({} records of the exchange-core mix, median of 3)\n", r.records);
    println!(
        "{:.2}M records/s ({:.0} MB of journal; runs: {}); reading alone {:.1}M/s, reading and decoding {:.1}M/s\n",
        r.per_s / 1e6,
        r.bytes as f64 / 1e6,
        runs.iter().map(|x| format!("{:.2}M", x.per_s / 1e6)).collect::<Vec<_>>().join(", "),
        r.read_per_s / 1e6,
        r.decode_per_s / 1e6
    );
    let (orders, users) = if quick { (200_000, 8_191) } else { (1_000_000, 65_535) };
    let built = Instant::now();
    let state = recovery::large_state(orders, users);
    println!(
        "## Snapshot of {orders} resting orders and {} accounts (state built in {:.1} s)\n",
        users as usize * 16,
        built.elapsed().as_secs_f64()
    );
    println!(
        "| run | file MB | encode ms | hash+write+fsync ms | **write total ms** | read+checksums ms | rebuild+verify ms | **load total ms** | apart: alloc, invariants, hash ms |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    for run in 1..=3 {
        let s = recovery::snapshot_large(&state);
        println!(
            "| {run} | {:.1} | {:.0} | {:.0} | **{:.0}** | {:.0} | {:.0} | **{:.0}** | {:.0}, {:.0}, {:.0} |",
            s.file_bytes as f64 / 1e6,
            s.encode_ms,
            s.write_ms,
            s.write_total_ms(),
            s.read_ms,
            s.verified_ms,
            s.load_total_ms(),
            s.alloc_ms,
            s.invariants_ms,
            s.hash_ms
        );
    }
    println!();
}

fn risk_section(sizes: &Sizes) {
    println!(
        "## Risk on ({} commands of the exchange-core mix per round, seed 42)
",
        sizes.mix
    );
    println!("| instrument | mix commands/s | pre-trade check ns (`test_order`) |\n|---|---:|---:|");
    let mut events = Vec::with_capacity(4096);
    for market in MarketKind::ALL {
        let mix = mix::generate_on(market, sizes.mix, 42);
        let rate = mix_rate(&mix, sizes.rounds, &mut events);
        let mut checks: Vec<f64> = (0..sizes.rounds).map(|_| risk::check_ns(market, sizes.ops)).collect();
        println!("| {} | {:.2}M | {:.1} |", market.name(), rate / 1e6, median(&mut checks));
    }
    let mut storms: Vec<risk::StormResult> =
        (0..sizes.rounds.min(3)).map(|_| risk::storm(sizes.storm_users)).collect();
    storms.sort_by_key(|s| s.ns);
    let storm = storms[storms.len() / 2];
    println!(
        "\nliquidation storm: one mark move liquidates {} users in {:.2} ms ({:.0} ns per user, {} events)\n",
        storm.liquidated,
        storm.ns as f64 / 1e6,
        storm.ns as f64 / storm.liquidated.max(1) as f64,
        storm.events
    );
}

fn machine() -> Result<String> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").context("reading /proc/cpuinfo")?;
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name").and_then(|r| r.split(':').nth(1)))
        .unwrap_or("unknown cpu")
        .trim()
        .to_string();
    let cpus = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    Ok(format!("{model}, {cpus} CPUs"))
}

fn operations(sizes: &Sizes) {
    println!("## Operations (one hot book, batch of {} per round, ns/op)\n", sizes.ops);
    println!("| operation | ns/op |\n|---|---:|");
    for (name, weight) in ops::OPERATIONS {
        let count = sizes.ops / weight;
        let mut rounds: Vec<f64> = (0..sizes.rounds).map(|_| ops::run(ops::prepare(name, count))).collect();
        println!("| {name} | {:.1} |", median(&mut rounds));
    }
    println!();
}

fn clock_overhead_ns() -> f64 {
    let mut samples: Vec<f64> = (0..10_000)
        .map(|_| {
            let a = Instant::now();
            let b = Instant::now();
            (b - a).as_nanos() as f64
        })
        .collect();
    median(&mut samples)
}

fn exchange_core_mix(sizes: &Sizes) {
    let mix = mix::generate(sizes.mix, 42);
    println!("## Exchange-core mix ({} commands per round, seed 42)\n", sizes.mix);
    println!(
        "book at the end: {} orders on {} levels; {:.1}% of commands traded\n",
        mix.orders_end,
        mix.levels_end,
        mix.trading_share * 100.0
    );
    let mut events = Vec::with_capacity(4096);
    let rate = mix_rate(&mix, sizes.rounds, &mut events);
    println!("throughput: {:.2}M commands/s (one thread)\n", rate / 1e6);
    let mut histogram = Histogram::<u64>::new_with_bounds(1, 10_000_000, 3).expect("valid bounds");
    let mut engine = mix::prepared(&mix);
    for command in &mix.commands {
        events.clear();
        let start = Instant::now();
        engine.apply(std::hint::black_box(command), &mut events);
        let ns = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        histogram.saturating_record(ns.max(1));
    }
    println!("per-command latency (ns, includes one clock read of about {:.0} ns):\n", clock_overhead_ns());
    println!("| p50 | p90 | p99 | p99.9 | p99.99 | max |\n|---:|---:|---:|---:|---:|---:|");
    let q = |p: f64| histogram.value_at_quantile(p);
    println!(
        "| {} | {} | {} | {} | {} | {} |\n",
        q(0.5),
        q(0.9),
        q(0.99),
        q(0.999),
        q(0.9999),
        histogram.max()
    );
}

/// Median commands per second of replaying the mix on a fresh prepared engine, `rounds` times.
fn mix_rate(mix: &mix::Mix, rounds: usize, events: &mut Vec<ferrex_engine::Event>) -> f64 {
    let mut rates: Vec<f64> = (0..rounds)
        .map(|_| {
            let mut engine = mix::prepared(mix);
            let ns = time_commands(&mut engine, &mix.commands, events);
            mix.commands.len() as f64 * 1e9 / ns as f64
        })
        .collect();
    median(&mut rates)
}

fn large_book(sizes: &Sizes) {
    println!("## Large book ({} orders over {} instruments)\n", sizes.large_orders, sizes.large_instruments);
    let result = large::run(sizes.large_orders, sizes.large_instruments, sizes.large_orders);
    println!("| resting orders | levels | build ns/order | mix ns/command | heap bytes per resting order |");
    println!("|---:|---:|---:|---:|---:|");
    println!(
        "| {} | {} | {:.1} | {:.1} | {:.1} |\n",
        result.orders, result.levels, result.build_ns, result.mix_ns, result.heap_bytes_per_order
    );
    println!(
        "fixed cost per order slot (record + links + client id + index + bitmap): {} bytes\n",
        ferrex_engine::Engine::bytes_per_order_slot()
    );
}

fn peer_comparison(sizes: &Sizes) {
    println!("## Peer: ferrex vs lobster 0.7.0, same run ({} orders, cancel every third)\n", sizes.peer);
    println!("| workload | ferrex ns/op | lobster ns/op | ferrex speed-up |\n|---|---:|---:|---:|");
    for crossing in [false, true] {
        let runs: Vec<peer::PeerResult> =
            (0..sizes.rounds).map(|_| peer::run(sizes.peer, crossing, 7)).collect();
        let pick = |f: fn(&peer::PeerResult) -> f64| {
            let mut values: Vec<f64> = runs.iter().map(f).collect();
            median(&mut values)
        };
        let (fa, la) = (pick(|r| r.ferrex_add_ns), pick(|r| r.lobster_add_ns));
        let (fc, lc) = (pick(|r| r.ferrex_cancel_ns), pick(|r| r.lobster_cancel_ns));
        let add = if crossing { "crossing add" } else { "passive add" };
        let cancel = if crossing { "cancel (after crossing adds)" } else { "cancel" };
        println!("| {add} | {fa:.1} | {la:.1} | {:.2}x |", la / fa);
        println!("| {cancel} | {fc:.1} | {lc:.1} | {:.2}x |", lc / fc);
    }
    println!();
}

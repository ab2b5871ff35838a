//! Criterion benches of the engine, on the same workloads as `ferrex-bench engine`.
//!
//! Each bench times batches with `iter_custom`: state is prepared untimed in chunks and only the
//! operations are timed. `cargo bench -p ferrex-bench` runs them all.

// Measurement arithmetic: counts and nanoseconds become f64 for ratios and back; exactness
// beyond 2^52 is irrelevant here.
#![allow(clippy::cast_precision_loss, clippy::cast_possible_truncation, clippy::cast_sign_loss)]

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use ferrex_bench::{mix, ops, peer, time_commands};

/// Operations per prepared chunk (divided by an operation's weight: a 20-fill crossing consumes 20
/// resting orders).
const CHUNK: u64 = 10_000;
/// The peer workload's size, as in `ferrex-bench engine`.
const PEER_ORDERS: usize = 100_000;

/// Runs `iters` operations in chunks of at most `chunk_max`; `chunk(n)` returns the timed
/// nanoseconds of `n` operations.
fn chunked(iters: u64, chunk_max: u64, mut chunk: impl FnMut(usize) -> f64) -> Duration {
    let mut total_ns = 0.0;
    let mut left = iters;
    while left > 0 {
        let n = left.min(chunk_max);
        total_ns += chunk(usize::try_from(n).expect("small"));
        left -= n;
    }
    Duration::from_nanos(total_ns as u64)
}

fn operations(c: &mut Criterion) {
    let mut group = c.benchmark_group("operations");
    for (name, weight) in ops::OPERATIONS {
        let chunk_max = CHUNK / weight as u64;
        group.bench_function(name, |b| {
            b.iter_custom(|iters| chunked(iters, chunk_max, |n| ops::run(ops::prepare(name, n)) * n as f64));
        });
    }
    group.finish();
}

fn exchange_core_mix(c: &mut Criterion) {
    let mix = mix::generate(100_000, 42);
    let mut events = Vec::with_capacity(4096);
    c.bench_function("exchange-core mix/command", |b| {
        b.iter_custom(|iters| {
            let mut total_ns = 0u64;
            let mut left = usize::try_from(iters).expect("fits");
            while left > 0 {
                let n = left.min(mix.commands.len());
                let mut engine = mix::prepared(&mix);
                total_ns += time_commands(&mut engine, &mix.commands[..n], &mut events);
                left -= n;
            }
            Duration::from_nanos(total_ns)
        });
    });
}

fn peer_comparison(c: &mut Criterion) {
    let mut group = c.benchmark_group("peer");
    for crossing in [false, true] {
        let kind = if crossing { "crossing" } else { "passive" };
        let orders = peer::orders(PEER_ORDERS, crossing, 7);
        let chunk_max = PEER_ORDERS as u64;
        group.bench_function(format!("ferrex {kind} add"), |b| {
            b.iter_custom(|iters| chunked(iters, chunk_max, |n| peer::ferrex(&orders[..n]).0 * n as f64));
        });
        group.bench_function(format!("lobster {kind} add"), |b| {
            b.iter_custom(|iters| {
                chunked(iters, chunk_max, |n| peer::lobster_run(&orders[..n]).0 * n as f64)
            });
        });
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
}

criterion_group! {
    name = benches;
    config = config();
    targets = operations, exchange_core_mix, peer_comparison
}
criterion_main!(benches);

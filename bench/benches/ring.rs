//! The inbound ring: crossbeam's `ArrayQueue` against the `disruptor` crate (multi-producer,
//! polled by the consumer's own thread, as the core uses it), with the runtime's real slot type
//! ([`Request`], a command or a query by value).
//!
//! - throughput: one producer thread pushes messages back to back (spinning while the ring is
//!   full), the consumer pops them; criterion's time per iteration is the time per message;
//! - round trip: a message to a second thread and back through a second ring of the same kind;
//! - one-way latency percentiles (printed before criterion runs): messages paced one every 2 µs,
//!   each carrying its send time; the consumer records arrival minus send in an `HdrHistogram`.
//!
//! Both threads busy-spin: on a 2-CPU machine they fill it. `cargo bench -p ferrex-bench --bench
//! ring`; the numbers and the choice are in docs/PERFORMANCE.md.

#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group};
use crossbeam_queue::ArrayQueue;
use disruptor::{BusySpin, Polling, Producer};
use ferrex_engine::runtime::message::{Origin, Request};
use hdrhistogram::Histogram;

const RING_SLOTS: usize = 1 << 16;

fn message(tag: u64) -> Request {
    Request { origin: Origin { session: 1, tag }, ..Request::default() }
}

/// A ring under test: a way to send from one thread and receive on another.
trait Ring: Send + 'static {
    type Tx: Send + 'static;
    type Rx: Send + 'static;
    fn pair() -> (Self::Tx, Self::Rx);
    /// Sends, spinning while the ring is full.
    fn send(tx: &mut Self::Tx, request: Request);
    /// Receives up to everything available, calling `f` on each; returns how many.
    fn receive(rx: &mut Self::Rx, f: &mut dyn FnMut(&Request)) -> usize;
}

struct Crossbeam;

impl Ring for Crossbeam {
    type Tx = Arc<ArrayQueue<Request>>;
    type Rx = Arc<ArrayQueue<Request>>;
    fn pair() -> (Self::Tx, Self::Rx) {
        let queue = Arc::new(ArrayQueue::new(RING_SLOTS));
        (Arc::clone(&queue), queue)
    }
    fn send(tx: &mut Self::Tx, request: Request) {
        let mut request = request;
        while let Err(back) = tx.push(request) {
            request = back;
            std::hint::spin_loop();
        }
    }
    fn receive(rx: &mut Self::Rx, f: &mut dyn FnMut(&Request)) -> usize {
        let mut n = 0;
        while let Some(request) = rx.pop() {
            f(&request);
            n += 1;
        }
        n
    }
}

struct Disruptor;

type DisruptorTx = disruptor::MultiProducer<Request, disruptor::SingleConsumerBarrier>;
type DisruptorRx = disruptor::EventPoller<Request, disruptor::MultiProducerBarrier>;

impl Ring for Disruptor {
    type Tx = DisruptorTx;
    type Rx = DisruptorRx;
    fn pair() -> (Self::Tx, Self::Rx) {
        let builder = disruptor::build_multi_producer(RING_SLOTS, Request::default, BusySpin);
        let (poller, builder) = builder.new_event_poller();
        (builder.build(), poller)
    }
    fn send(tx: &mut Self::Tx, request: Request) {
        while tx.try_publish(|slot| *slot = request).is_err() {
            std::hint::spin_loop();
        }
    }
    fn receive(rx: &mut Self::Rx, f: &mut dyn FnMut(&Request)) -> usize {
        match rx.poll() {
            Ok(mut guard) => {
                let mut n = 0;
                for request in &mut guard {
                    f(request);
                    n += 1;
                }
                n
            }
            Err(Polling::NoEvents | Polling::Shutdown) => 0,
        }
    }
}

/// Time to move `count` messages from one thread to another.
fn throughput<R: Ring>(count: u64) -> Duration {
    let (mut tx, mut rx) = R::pair();
    let consumer = std::thread::spawn(move || {
        let mut seen = 0u64;
        let mut sum = 0u64;
        while seen < count {
            seen += R::receive(&mut rx, &mut |r| sum = sum.wrapping_add(r.origin.tag)) as u64;
        }
        black_box(sum);
    });
    let start = Instant::now();
    for n in 0..count {
        R::send(&mut tx, message(n));
    }
    consumer.join().expect("consumer");
    start.elapsed()
}

/// Time for `count` round trips to an echoing thread.
fn round_trip<R: Ring>(count: u64) -> Duration {
    let (mut to_echo, mut echo_rx) = R::pair();
    let (mut echo_tx, mut back) = R::pair();
    let echo = std::thread::spawn(move || {
        let mut seen = 0u64;
        while seen < count {
            let mut got = None;
            seen += R::receive(&mut echo_rx, &mut |r| got = Some(*r)) as u64;
            if let Some(r) = got {
                R::send(&mut echo_tx, r);
            }
        }
    });
    let start = Instant::now();
    for n in 0..count {
        R::send(&mut to_echo, message(n));
        while R::receive(&mut back, &mut |_| {}) == 0 {
            std::hint::spin_loop();
        }
    }
    echo.join().expect("echo");
    start.elapsed()
}

/// One-way latency, ns, of `count` messages paced every `gap`.
fn one_way<R: Ring>(count: u64, gap: Duration) -> Histogram<u64> {
    let (mut tx, mut rx) = R::pair();
    let epoch = Instant::now();
    let done = Arc::new(AtomicBool::new(false));
    let finished = Arc::clone(&done);
    let consumer = std::thread::spawn(move || {
        let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).expect("bounds");
        let mut seen = 0u64;
        while seen < count {
            seen += R::receive(&mut rx, &mut |r| {
                let now = u64::try_from(epoch.elapsed().as_nanos()).expect("fits");
                histogram.saturating_record(now.saturating_sub(r.origin.tag).max(1));
            }) as u64;
        }
        finished.store(true, Ordering::Release);
        histogram
    });
    let gap_ns = u64::try_from(gap.as_nanos()).expect("fits");
    let mut next = 0u64;
    for _ in 0..count {
        next += gap_ns;
        let mut now = u64::try_from(epoch.elapsed().as_nanos()).expect("fits");
        while now < next {
            std::hint::spin_loop();
            now = u64::try_from(epoch.elapsed().as_nanos()).expect("fits");
        }
        R::send(&mut tx, message(now));
    }
    let histogram = consumer.join().expect("consumer");
    assert!(done.load(Ordering::Acquire));
    histogram
}

fn print_latency<R: Ring>(name: &str) {
    let h = one_way::<R>(500_000, Duration::from_micros(2));
    let p = |q: f64| h.value_at_quantile(q);
    println!(
        "ring one-way latency {name:<10} p50 {} ns, p90 {} ns, p99 {} ns, p99.9 {} ns, p99.99 {} ns, worst {} ns",
        p(0.5),
        p(0.9),
        p(0.99),
        p(0.999),
        p(0.9999),
        h.max()
    );
}

fn rings(c: &mut Criterion) {
    let mut group = c.benchmark_group("ring");
    group.throughput(Throughput::Elements(1));
    group.bench_function("throughput/crossbeam-arrayqueue", |b| b.iter_custom(throughput::<Crossbeam>));
    group.bench_function("throughput/disruptor", |b| b.iter_custom(throughput::<Disruptor>));
    group.bench_function("round-trip/crossbeam-arrayqueue", |b| b.iter_custom(round_trip::<Crossbeam>));
    group.bench_function("round-trip/disruptor", |b| b.iter_custom(round_trip::<Disruptor>));
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(Duration::from_secs(3));
    targets = rings
}

fn main() {
    // `cargo bench` passes `--bench`; a plain test run of the target (no flag) only checks it runs.
    if std::env::args().any(|a| a == "--bench") {
        for _ in 0..3 {
            print_latency::<Crossbeam>("crossbeam");
            print_latency::<Disruptor>("disruptor");
        }
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}

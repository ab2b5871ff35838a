//! The machine's floor: what this machine does to latency before ferrex does anything.
//!
//! Two measurements, both with nothing of ferrex running:
//! - [`hiccups`]: one thread pinned to each CPU reads the clock in a loop and records every gap
//!   between two reads (jHiccup's idea). A gap far above the loop's own ~25 ns is time the thread
//!   did not get: the hypervisor, an interrupt, a kernel thread (DAMON's `kdamond` here). From the
//!   gaps, [`residual_quantile`] gives what a service doing *no work at all* on that CPU would
//!   show an open-loop client: a request arriving at a uniformly random moment waits out the rest
//!   of the gap it falls in, so the wait exceeds `x` with probability `Σ max(0, gap − x) / T`.
//!   No pipeline pinned to that CPU can have a lower percentile at any rate.
//! - [`echo`]: the open-loop round trip of `ferrex-load`'s binary latency run (non-blocking
//!   client, yielding between polls, each message stamped with its intended send time) against
//!   the simplest server there is: one thread that reads 64-byte messages from a loopback TCP
//!   socket and writes them back, waiting in a blocking read ([`EchoWait::Block`]) or polling
//!   without ever sleeping ([`EchoWait::Spin`]). The server's work is nil; what remains is the
//!   loopback, the wake-ups and the machine's hiccups.
//!
//! - [`relay`]: the pipeline harness's shape with no work in it: one thread pinned to CPU 0
//!   sends at a fixed rate (open loop) and watches for the relay's answer, one pinned to CPU 1
//!   busy-spins and passes each send straight back, through two atomics. Latency from intended
//!   send to the answer seen, as `ferrex-bench pipeline` measures it: no pipeline placed like
//!   this can do better.
//!
//! Limitations: the echo server is a thread of this process, not a process of its own (a
//! context switch between processes also changes the address space, a few hundred ns more); the
//! hiccup threads occupy every CPU while they run, so the two are measured one after the other.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

/// The size of an echo message, bytes: about a binary new order's.
pub const ECHO_MESSAGE_BYTES: usize = 64;
/// Messages in flight at most in an echo run (the client's buffers are sized for it).
pub const ECHO_IN_FLIGHT_MAX: usize = 1 << 16;

/// The gaps one CPU's clock loop saw.
pub struct CpuHiccups {
    /// The CPU the loop was pinned to (`None` if pinning failed).
    pub cpu: Option<usize>,
    /// Every gap between two clock reads, ns.
    pub gaps: Histogram<u64>,
    /// The time the loop ran, ns (the sum of the gaps).
    pub elapsed_ns: u64,
}

impl CpuHiccups {
    /// The time lost in gaps of `threshold_ns` or more, ns.
    pub fn stalled_ns(&self, threshold_ns: u64) -> u64 {
        self.gaps
            .iter_recorded()
            .map(|v| (self.gaps.median_equivalent(v.value_iterated_to()), v.count_at_value()))
            .filter(|&(gap_ns, _)| gap_ns >= threshold_ns)
            .map(|(gap_ns, count)| gap_ns * count)
            .sum()
    }

    /// The gaps of `threshold_ns` or more.
    pub fn stalls(&self, threshold_ns: u64) -> u64 {
        self.gaps.count_between(threshold_ns, u64::MAX)
    }

    /// The share of the time lost in gaps of `threshold_ns` or more, percent.
    pub fn lost_percent(&self, threshold_ns: u64) -> f64 {
        self.stalled_ns(threshold_ns) as f64 / self.elapsed_ns as f64 * 100.0
    }

    /// The `quantile` of an idle service's wait on this CPU, ns ([`residual_quantile`]).
    pub fn idle_wait_ns(&self, quantile: f64) -> u64 {
        residual_quantile(&self.gaps, self.elapsed_ns, quantile)
    }
}

/// Every CPU this process may count (0 .. available parallelism).
pub fn every_cpu() -> Vec<usize> {
    (0..std::thread::available_parallelism().map_or(1, std::num::NonZero::get)).collect()
}

/// A histogram of nanoseconds, 1 ns to 60 s, 3 significant digits.
///
/// # Panics
/// Never: the bounds are valid.
pub fn histogram_ns() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("valid bounds")
}

/// Runs the clock loop on each CPU of `cpus` at once, for `duration`.
///
/// # Panics
/// If a loop thread panics.
pub fn hiccups(cpus: &[usize], duration: Duration) -> Vec<CpuHiccups> {
    let handles: Vec<_> =
        cpus.iter().map(|&cpu| std::thread::spawn(move || clock_loop(Some(cpu), duration))).collect();
    handles.into_iter().map(|h| h.join().expect("a hiccup thread panicked")).collect()
}

fn clock_loop(cpu: Option<usize>, duration: Duration) -> CpuHiccups {
    let cpu = ferrex_engine::runtime::core::pin_current_thread(cpu);
    let mut gaps = histogram_ns();
    let start = Instant::now();
    let mut last = start;
    loop {
        let now = Instant::now();
        let gap_ns = u64::try_from((now - last).as_nanos()).unwrap_or(u64::MAX);
        gaps.saturating_record(gap_ns.max(1));
        last = now;
        if now - start >= duration {
            break;
        }
    }
    let elapsed_ns = u64::try_from((last - start).as_nanos()).unwrap_or(u64::MAX);
    CpuHiccups { cpu, gaps, elapsed_ns }
}

/// The `quantile` of the wait of a request arriving at a uniformly random moment on a CPU whose
/// clock loop saw `gaps` over `elapsed_ns`, for a service that does no work: the smallest `x`
/// with `Σ max(0, gap − x) ≤ (1 − quantile) · elapsed_ns`, ns.
///
/// # Panics
/// If `quantile` is not within 0..=1 (a caller's mistake).
pub fn residual_quantile(gaps: &Histogram<u64>, elapsed_ns: u64, quantile: f64) -> u64 {
    assert!((0.0..=1.0).contains(&quantile), "quantile {quantile} outside 0..=1");
    let budget_ns = (1.0 - quantile) * elapsed_ns as f64;
    let waiting_beyond = |x: u64| -> f64 {
        gaps.iter_recorded()
            .map(|v| {
                let gap_ns = gaps.median_equivalent(v.value_iterated_to());
                gap_ns.saturating_sub(x) as f64 * v.count_at_value() as f64
            })
            .sum()
    };
    let (mut low, mut high) = (0, gaps.max());
    // Invariant: waiting_beyond(high) <= budget; the answer is in low..=high.
    while low < high {
        let middle = low + (high - low) / 2;
        if waiting_beyond(middle) <= budget_ns {
            high = middle;
        } else {
            low = middle + 1;
        }
    }
    high
}

/// Runs the relay at `rate` sends per second for `duration` (module docs): the sender on CPU 0,
/// the relay on CPU 1 (best effort); returns the latency of each send, intended send to
/// answer seen, ns.
///
/// # Panics
/// If `rate` is 0 (a caller's mistake) or the relay thread panics.
pub fn relay(rate: u64, duration: Duration) -> Histogram<u64> {
    assert!(rate > 0, "a rate of 0 sends nothing");
    let count = u64::try_from((u128::from(rate) * duration.as_nanos()) / 1_000_000_000).unwrap_or(u64::MAX);
    let gap_ns = 1_000_000_000 / rate;
    let (sent, relayed, stop) = (AtomicU64::new(0), AtomicU64::new(0), AtomicBool::new(false));
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let _ = ferrex_engine::runtime::core::pin_current_thread(Some(1));
            let mut last = 0;
            while !stop.load(Ordering::Relaxed) {
                let now = sent.load(Ordering::Acquire);
                if now > last {
                    relayed.store(now, Ordering::Release);
                    last = now;
                } else {
                    std::hint::spin_loop();
                }
            }
        });
        let sender = scope.spawn(|| {
            let _ = ferrex_engine::runtime::core::pin_current_thread(Some(0));
            let mut latency = histogram_ns();
            let (mut published, mut seen) = (0u64, 0u64);
            let epoch = Instant::now();
            while seen < count {
                let now_ns = u64::try_from(epoch.elapsed().as_nanos()).unwrap_or(u64::MAX);
                let due = (now_ns / gap_ns + 1).min(count);
                if due > published {
                    published = due;
                    sent.store(published, Ordering::Release);
                }
                let answered = relayed.load(Ordering::Acquire);
                if answered > seen {
                    let now_ns = u64::try_from(epoch.elapsed().as_nanos()).unwrap_or(u64::MAX);
                    for n in seen..answered {
                        latency.saturating_record(now_ns.saturating_sub(n * gap_ns).max(1));
                    }
                    seen = answered;
                }
            }
            stop.store(true, Ordering::Relaxed);
            latency
        });
        sender.join().expect("the sender panicked")
    })
}

/// What an echo run measured.
pub struct EchoRun {
    /// Round trips, intended send to echo read, ns.
    pub round_trips: Histogram<u64>,
    /// Messages sent (all were answered).
    pub sent: u64,
}

/// Why an echo run failed.
#[derive(Debug, thiserror::Error)]
pub enum EchoError {
    /// A socket operation failed, or the echo thread closed the connection early.
    #[error("loopback echo: {0}")]
    Io(#[from] std::io::Error),
    /// More messages in flight than the run allows: the echo fell this far behind.
    #[error("more than {ECHO_IN_FLIGHT_MAX} messages in flight")]
    Behind,
}

/// How the echo thread waits for a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EchoWait {
    /// A blocking read: the thread sleeps in the kernel and is woken by the loopback.
    Block,
    /// A non-blocking read in a loop: the thread never sleeps (a CPU of its own, were there one).
    Spin,
}

/// Sends `rate` messages per second for `duration` through a loopback echo thread that waits
/// as `server_wait` says, open loop, and records each round trip from its intended send time.
///
/// # Errors
/// [`EchoError`] when a socket fails, the server goes away or falls too far behind.
pub fn echo(rate: u64, duration: Duration, server_wait: EchoWait) -> Result<EchoRun, EchoError> {
    assert!(rate > 0, "a rate of 0 messages per second sends nothing");
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let address = listener.local_addr()?;
    let server = std::thread::spawn(move || -> std::io::Result<()> {
        let (mut stream, _) = listener.accept()?;
        stream.set_nodelay(true)?;
        stream.set_nonblocking(server_wait == EchoWait::Spin)?;
        let mut buffer = vec![0u8; ECHO_MESSAGE_BYTES * 256];
        loop {
            match stream.read(&mut buffer) {
                Ok(0) => return Ok(()),
                Ok(n) => write_all_spinning(&mut stream, &buffer[..n])?,
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => {
                    std::hint::spin_loop();
                }
                Err(e) => return Err(e),
            }
        }
    });
    let stream = TcpStream::connect(address)?;
    stream.set_nodelay(true)?;
    stream.set_nonblocking(true)?;
    let run = open_loop(stream, rate, duration);
    let _ = server.join();
    run
}

fn open_loop(mut stream: TcpStream, rate: u64, duration: Duration) -> Result<EchoRun, EchoError> {
    let count = u64::try_from((u128::from(rate) * duration.as_nanos()) / 1_000_000_000).unwrap_or(u64::MAX);
    let gap_ns = 1_000_000_000 / rate;
    let mut output = Vec::with_capacity(ECHO_MESSAGE_BYTES * ECHO_IN_FLIGHT_MAX);
    let mut input = Vec::with_capacity(ECHO_MESSAGE_BYTES * ECHO_IN_FLIGHT_MAX);
    let mut chunk = vec![0u8; 1 << 14];
    let mut round_trips = histogram_ns();
    let (mut sent, mut answered, mut written) = (0u64, 0u64, 0usize);
    let epoch = Instant::now();
    while answered < count {
        let now_ns = u64::try_from(epoch.elapsed().as_nanos()).unwrap_or(u64::MAX);
        while sent < count && sent * gap_ns <= now_ns {
            let mut message = [0u8; ECHO_MESSAGE_BYTES];
            message[..8].copy_from_slice(&(sent * gap_ns).to_le_bytes());
            output.extend_from_slice(&message);
            sent += 1;
        }
        if sent - answered > ECHO_IN_FLIGHT_MAX as u64 {
            return Err(EchoError::Behind);
        }
        written += crate::socket::write_available(&mut stream, &output[written..])?;
        if written == output.len() {
            output.clear();
            written = 0;
        }
        crate::socket::read_available(&mut stream, &mut chunk, &mut input)?;
        let now_ns = u64::try_from(epoch.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let whole = input.len() / ECHO_MESSAGE_BYTES * ECHO_MESSAGE_BYTES;
        for message in input[..whole].chunks_exact(ECHO_MESSAGE_BYTES) {
            let intended_ns = u64::from_le_bytes(message[..8].try_into().expect("8 bytes"));
            round_trips.saturating_record(now_ns.saturating_sub(intended_ns).max(1));
            answered += 1;
        }
        input.drain(..whole);
        // As ferrex-load does: two CPUs host this loop and the server; give the CPU away while
        // nothing is due rather than spin against the server.
        std::thread::yield_now();
    }
    Ok(EchoRun { round_trips, sent })
}

fn write_all_spinning(stream: &mut TcpStream, mut bytes: &[u8]) -> std::io::Result<()> {
    while !bytes.is_empty() {
        match stream.write(bytes) {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(n) => bytes = &bytes[n..],
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 990 gaps of 1 µs and one of 10 µs: 1 ms in all. A random arrival waits more than 999 ns
    /// only inside the long gap or the last nanosecond of a short one (about 1%), and more than
    /// 9 µs only in the long gap's first microsecond (0.1%).
    #[test]
    fn the_residual_wait_follows_the_long_gaps() {
        let mut gaps = histogram_ns();
        gaps.record_n(1_000, 990).expect("in range");
        gaps.record(10_000).expect("in range");
        let elapsed_ns = 1_000_000;
        let p99 = residual_quantile(&gaps, elapsed_ns, 0.99);
        assert!((990..=1_000).contains(&p99), "p99 {p99}");
        let p999 = residual_quantile(&gaps, elapsed_ns, 0.999);
        assert!((8_990..=9_010).contains(&p999), "p99.9 {p999}");
        let worst = residual_quantile(&gaps, elapsed_ns, 1.0);
        assert!(worst >= 9_990, "the worst wait is the longest gap: {worst}");
    }

    #[test]
    fn an_echo_answers_every_message_it_was_sent() {
        for wait in [EchoWait::Block, EchoWait::Spin] {
            let run = echo(2_000, Duration::from_millis(50), wait).expect("loopback echo");
            assert_eq!(run.sent, 100, "2,000/s for 50 ms ({wait:?})");
            assert_eq!(run.round_trips.len(), run.sent, "one round trip per message ({wait:?})");
        }
    }

    #[test]
    fn the_relay_answers_every_send_once() {
        let latency = relay(100_000, Duration::from_millis(20));
        assert_eq!(latency.len(), 2_000, "100,000/s for 20 ms, each answer recorded once");
    }

    #[test]
    fn stalls_are_counted_from_their_threshold() {
        let mut gaps = histogram_ns();
        gaps.record_n(30, 1_000).expect("in range");
        gaps.record_n(2_000_000, 2).expect("in range");
        let run = CpuHiccups { cpu: None, gaps, elapsed_ns: 4_030_000 };
        assert_eq!(run.stalls(1_000_000), 2);
        let stalled = run.stalled_ns(1_000_000);
        assert!((3_998_000..=4_002_000).contains(&stalled), "stalled {stalled}");
        assert_eq!(run.stalls(10), 1_002);
    }
}

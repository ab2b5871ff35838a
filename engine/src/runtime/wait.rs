//! Wait strategies: what a thread does when its ring is empty, chosen per thread.
//!
//! - [`WaitStrategy::BusySpin`]: spin forever (lowest latency; takes a whole CPU);
//! - [`WaitStrategy::SpinYield`]: spin, then `yield_now` between checks (gives the CPU to any other
//!   runnable thread, still shows as busy);
//! - [`WaitStrategy::SpinPark`]: spin, yield, then park until woken by a [`Waker`] (a producer
//!   that finds the waiter asleep unparks it) or `park_max` passes, whichever is first.
//!
//! The default is `SpinPark`: [`SPINS_DEFAULT`] spins (1 – 2 µs), then 2,000 yields (a few
//! milliseconds), then park. On a
//! 2-CPU machine the core, the gateway and a load generator share two CPUs: a spinning idle
//! thread would take one of them from the others, while a yielding one gives its CPU to any
//! thread that wants it. A thread that parks too soon pays a wake-up on the next request: with 50
//! yields the core parked between WebSocket requests 100 µs apart, and the round trip's p50 was
//! 60 - 90 µs against 20 - 28 µs with 2,000 (docs/PERFORMANCE.md). Under load a thread never
//! reaches the park phase (each request resets the waiter); an idle server parks within
//! milliseconds. The spin phase is short for the same reason: a spin (`PAUSE`, about 10 ns
//! here) never gives the CPU away, so 2,000 of them (20 – 40 µs with the ring checks) after
//! each request kept the thread sharing the core's CPU (the gateway, or a load generator) off it
//! while requests came every 20 µs: the binary round trip's p50 at 50K/s was 20 µs or less in
//! 7 runs of 18, against 23 of 34 with 100 spins, and p90 fell (docs/PERFORMANCE.md).
//!
//! Invariant (no lost wake-up): the waiter announces it is asleep, then checks its ring once more,
//! then parks; the producer publishes, then checks the announcement (both sides with a `SeqCst`
//! fence), so either the waiter sees the request or the producer sees the waiter asleep. The
//! bounded park is a second guard, not the mechanism.

use std::sync::atomic::{AtomicBool, Ordering, fence};
use std::sync::{Arc, OnceLock};
use std::thread::Thread;
use std::time::Duration;

/// What a thread does while it has nothing to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitStrategy {
    /// Spin, checking the ring (a hint to the CPU between checks).
    BusySpin,
    /// Spin `spins` times, then yield between checks.
    SpinYield {
        /// Checks before the first yield.
        spins: u32,
    },
    /// Spin `spins` times, yield `yields` times, then park for at most `park_max` at a time.
    SpinPark {
        /// Checks before the first yield.
        spins: u32,
        /// Yields before the first park.
        yields: u32,
        /// The longest one park lasts without a wake-up.
        park_max: Duration,
    },
}

/// Spins before the first yield, by default: about 1 – 2 µs (module docs).
pub const SPINS_DEFAULT: u32 = 100;

impl Default for WaitStrategy {
    fn default() -> Self {
        WaitStrategy::SpinPark { spins: SPINS_DEFAULT, yields: 2_000, park_max: Duration::from_millis(1) }
    }
}

impl std::str::FromStr for WaitStrategy {
    type Err = String;

    /// `busy-spin`, `spin-yield` or `spin-park` (default phases).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "busy-spin" => Ok(WaitStrategy::BusySpin),
            "spin-yield" => Ok(WaitStrategy::SpinYield { spins: SPINS_DEFAULT }),
            "spin-park" => Ok(WaitStrategy::default()),
            other => Err(format!("unknown wait strategy {other:?} (busy-spin, spin-yield, spin-park)")),
        }
    }
}

/// The waiting side's announcement, shared with the threads that may wake it.
#[derive(Default)]
pub struct Waker {
    asleep: AtomicBool,
    thread: OnceLock<Thread>,
    /// For a waiter that sleeps in something else than `park` (an event loop's poll): called
    /// instead of unparking.
    notify: OnceLock<Box<dyn Fn() + Send + Sync>>,
}

impl std::fmt::Debug for Waker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Waker").field("asleep", &self.asleep).finish_non_exhaustive()
    }
}

impl Waker {
    /// A waker for a thread not yet known (it registers itself when it first waits).
    pub fn new() -> Arc<Waker> {
        Arc::new(Waker::default())
    }

    /// Called by a producer after it published: unparks the waiter if it announced sleep.
    /// Returns whether it found the waiter asleep (and woke it).
    pub fn wake(&self) -> bool {
        fence(Ordering::SeqCst);
        if !self.asleep.load(Ordering::Relaxed) {
            return false;
        }
        if let Some(notify) = self.notify.get() {
            notify();
        } else if let Some(thread) = self.thread.get() {
            thread.unpark();
        }
        true
    }

    /// Makes [`Waker::wake`] call `notify` (once set, for good) for a waiter that sleeps in an
    /// event loop; such a waiter brackets its sleep with [`Waker::sleeping`].
    pub fn set_notify(&self, notify: Box<dyn Fn() + Send + Sync>) {
        let _ = self.notify.set(notify);
    }

    /// An event-loop waiter announces (`true`) or ends (`false`) a sleep; after announcing it must
    /// check its queue once more before sleeping (the module's invariant).
    pub fn sleeping(&self, asleep: bool) {
        self.asleep.store(asleep, Ordering::Relaxed);
        fence(Ordering::SeqCst);
    }
}

/// A thread's waiting state: how long it has waited so far.
#[derive(Debug)]
pub struct Waiter {
    strategy: WaitStrategy,
    idle: u32,
    waker: Arc<Waker>,
}

impl Waiter {
    /// A waiter with `strategy`, woken through `waker`.
    pub fn new(strategy: WaitStrategy, waker: Arc<Waker>) -> Waiter {
        Waiter { strategy, idle: 0, waker }
    }

    /// Work arrived: the next wait starts from the spinning phase again.
    pub fn reset(&mut self) {
        self.idle = 0;
    }

    /// One idle step. `ready` re-checks the ring before a park (see the module's invariant).
    pub fn idle(&mut self, ready: impl Fn() -> bool) {
        self.idle = self.idle.saturating_add(1);
        match self.strategy {
            WaitStrategy::BusySpin => std::hint::spin_loop(),
            WaitStrategy::SpinYield { spins } => {
                if self.idle <= spins {
                    std::hint::spin_loop();
                } else {
                    std::thread::yield_now();
                }
            }
            WaitStrategy::SpinPark { spins, yields, park_max } => {
                if self.idle <= spins {
                    std::hint::spin_loop();
                } else if self.idle <= spins.saturating_add(yields) {
                    std::thread::yield_now();
                } else {
                    self.park(park_max, ready);
                }
            }
        }
    }

    fn park(&self, park_max: Duration, ready: impl Fn() -> bool) {
        let _ = self.waker.thread.get_or_init(std::thread::current);
        self.waker.asleep.store(true, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        if !ready() {
            std::thread::park_timeout(park_max);
        }
        self.waker.asleep.store(false, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;

    #[test]
    fn strategies_parse_by_name() {
        assert_eq!("busy-spin".parse::<WaitStrategy>(), Ok(WaitStrategy::BusySpin));
        assert!(matches!("spin-yield".parse::<WaitStrategy>(), Ok(WaitStrategy::SpinYield { .. })));
        assert_eq!("spin-park".parse::<WaitStrategy>(), Ok(WaitStrategy::default()));
        assert!("sleep".parse::<WaitStrategy>().is_err());
    }

    #[test]
    fn a_parked_waiter_is_woken_by_its_producer() {
        // The producer waits until the waiter has announced its sleep, then publishes and wakes
        // it: the wake must find it asleep (a lost wake-up would leave it parked for a minute).
        let strategy = WaitStrategy::SpinPark { spins: 0, yields: 0, park_max: Duration::from_mins(1) };
        let waker = Waker::new();
        let flag = Arc::new(AtomicU64::new(0));
        let (producer_waker, producer_flag) = (Arc::clone(&waker), Arc::clone(&flag));
        let waiting = std::thread::spawn(move || {
            let mut waiter = Waiter::new(strategy, waker);
            let mut rounds = 0u64;
            while flag.load(Ordering::Acquire) == 0 {
                waiter.idle(|| flag.load(Ordering::Acquire) != 0);
                rounds += 1;
            }
            rounds
        });
        while !producer_waker.asleep.load(Ordering::SeqCst) {
            std::hint::spin_loop();
        }
        producer_flag.store(1, Ordering::Release);
        assert!(producer_waker.wake(), "the waiter announced its sleep, so the producer must wake it");
        let rounds = waiting.join().expect("waiter");
        assert!(rounds <= 2, "one park ended by the wake-up (two with a spurious return): {rounds}");
    }
}

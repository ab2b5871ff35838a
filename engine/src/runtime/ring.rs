//! The inbound ring: many producers (gateway threads, timers, the admin console), one consumer
//! (the core), fixed-size [`Request`] slots, no allocation after construction.
//!
//! Built on the `disruptor` crate's multi-producer ring, polled by the core's own thread; chosen
//! over crossbeam's `ArrayQueue` by bench/benches/ring.rs on the development machine (one-way p50
//! about 200 ns against 540 ns, round trip 490 ns against 940 ns, throughput within noise;
//! docs/PERFORMANCE.md).
//!
//! Backpressure: [`Submitter::submit`] never waits. A full ring answers [`SubmitError::Busy`] at
//! once (the gateway turns it into a "server busy" reject); a closed intake (shutdown) answers
//! [`SubmitError::Stopped`].
//!
//! Invariants: requests from one submitter reach the core in the order submitted; the core sees
//! every request a submitter was told was accepted, unless the process dies first (requests are
//! not durable until the core journals them).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use disruptor::{BusySpin, Producer};

use super::message::Request;
use super::wait::Waker;

/// The most slots an inbound ring may have.
pub const RING_SLOTS_MAX: usize = 1 << 24;

/// The fewest slots an inbound ring may have (the `disruptor` crate's multi-producer minimum).
pub const RING_SLOTS_MIN: usize = 64;

/// Why a request was not taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    /// The ring is full: the core is behind. Try again later (a "server busy" reject).
    #[error("server busy: the inbound ring is full")]
    Busy,
    /// The runtime is shutting down or has stopped.
    #[error("the runtime is stopping")]
    Stopped,
}

struct Shared {
    closed: AtomicBool,
    core: Arc<Waker>,
}

/// A producer's handle; clone one per producing thread.
pub struct Submitter {
    producer: disruptor::MultiProducer<Request, disruptor::SingleConsumerBarrier>,
    shared: Arc<Shared>,
}

impl Clone for Submitter {
    fn clone(&self) -> Self {
        Submitter { producer: self.producer.clone(), shared: Arc::clone(&self.shared) }
    }
}

impl std::fmt::Debug for Submitter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Submitter").finish_non_exhaustive()
    }
}

impl Submitter {
    /// Puts `request` on the ring, or says at once why not.
    pub fn submit(&mut self, request: Request) -> Result<(), SubmitError> {
        if self.shared.closed.load(Ordering::Acquire) {
            return Err(SubmitError::Stopped);
        }
        self.producer.try_publish(|slot| *slot = request).map_err(|_| SubmitError::Busy)?;
        self.shared.core.wake();
        Ok(())
    }

    /// Closes the intake for every producer (the runtime's shutdown).
    pub(super) fn close_intake(&self) {
        self.shared.closed.store(true, Ordering::Release);
    }
}

/// The core's end of the ring.
pub struct Intake {
    poller: disruptor::EventPoller<Request, disruptor::MultiProducerBarrier>,
    shared: Arc<Shared>,
}

impl Intake {
    /// Copies up to `max` waiting requests into `out` (cleared first); returns how many.
    pub fn drain(&mut self, max: usize, out: &mut Vec<Request>) -> usize {
        out.clear();
        if let Ok(mut guard) = self.poller.take(max as u64) {
            for request in &mut guard {
                out.push(*request);
            }
        }
        out.len()
    }

    /// True if a request is waiting.
    pub fn has_waiting(&self) -> bool {
        self.poller.has_available()
    }

    /// Refuses every later submission ([`SubmitError::Stopped`]); requests already on the ring
    /// are still drained.
    pub fn close(&self) {
        self.shared.closed.store(true, Ordering::Release);
    }

    /// True once [`Intake::close`] was called.
    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::Acquire)
    }
}

/// A ring of `slots` (a power of two, [`RING_SLOTS_MIN`] to [`RING_SLOTS_MAX`]) whose consumer waits through
/// `core` (its [`Waker`]).
pub fn inbound(slots: usize, core: Arc<Waker>) -> (Submitter, Intake) {
    assert!(
        slots.is_power_of_two() && (RING_SLOTS_MIN..=RING_SLOTS_MAX).contains(&slots),
        "ring of {slots} slots"
    );
    let builder = disruptor::build_multi_producer(slots, Request::default, BusySpin);
    let (poller, builder) = builder.new_event_poller();
    let shared = Arc::new(Shared { closed: AtomicBool::new(false), core });
    (Submitter { producer: builder.build(), shared: Arc::clone(&shared) }, Intake { poller, shared })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::message::Origin;

    fn request(tag: u64) -> Request {
        Request { origin: Origin { session: 7, tag }, ..Request::default() }
    }

    #[test]
    fn a_full_ring_answers_busy_at_once_and_a_closed_one_stopped() {
        let (mut submitter, mut intake) = inbound(RING_SLOTS_MIN, Waker::new());
        let slots = RING_SLOTS_MIN as u64;
        for tag in 0..slots {
            submitter.submit(request(tag)).expect("room");
        }
        assert_eq!(submitter.submit(request(slots)), Err(SubmitError::Busy));
        let mut out = Vec::new();
        assert_eq!(intake.drain(1000, &mut out), RING_SLOTS_MIN);
        assert_eq!(out.iter().map(|r| r.origin.tag).collect::<Vec<_>>(), (0..slots).collect::<Vec<_>>());
        submitter.submit(request(slots + 1)).expect("room again");
        intake.close();
        assert_eq!(submitter.submit(request(slots + 2)), Err(SubmitError::Stopped));
        assert_eq!(intake.drain(1000, &mut out), 1, "what was taken before the close is still drained");
    }

    #[test]
    fn many_producers_each_keep_their_order() {
        let (submitter, mut intake) = inbound(1 << 10, Waker::new());
        let per_producer = 20_000u64;
        let threads: Vec<_> = (0..3u32)
            .map(|session| {
                let mut submitter = submitter.clone();
                std::thread::spawn(move || {
                    let mut tag = 0;
                    while tag < per_producer {
                        match submitter
                            .submit(Request { origin: Origin { session, tag }, ..Request::default() })
                        {
                            Ok(()) => tag += 1,
                            Err(SubmitError::Busy) => std::hint::spin_loop(),
                            Err(SubmitError::Stopped) => unreachable!("never closed"),
                        }
                    }
                })
            })
            .collect();
        let mut next = [0u64; 3];
        let mut out = Vec::new();
        while next.iter().sum::<u64>() < 3 * per_producer {
            intake.drain(256, &mut out);
            for r in &out {
                let session = r.origin.session as usize;
                assert_eq!(r.origin.tag, next[session], "session {session} out of order");
                next[session] += 1;
            }
        }
        for thread in threads {
            thread.join().expect("producer");
        }
    }
}

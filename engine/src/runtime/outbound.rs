//! The outbound side: one bounded single-producer queue per consumer (the gateway's dispatcher,
//! a market data publisher, a test), filled by the core with whole batches of [`Output`]s once
//! they are durable.
//!
//! The core never waits for a consumer: a batch goes to a consumer's queue in one copy if it fits
//! whole, and if it does not, that consumer is cut off (its queue gets nothing more, and
//! [`Subscriber::poll`] reports [`CutOff`] with the first sequence it missed once it has read what
//! it was given). A cut-off consumer must rebuild its view from queries (or reconnect its clients);
//! nobody else is slowed.
//!
//! Invariants: a consumer sees outputs in sequence order with no gap until it is cut off, and a
//! request's outputs are never split across a cut (a batch is delivered whole or not at all).
//! No allocation after construction; `rtrb` queues (wait-free, single producer, single consumer).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::message::Output;
use super::wait::{WaitStrategy, Waiter, Waker};

/// The most slots one consumer's queue may have.
pub const QUEUE_SLOTS_MAX: usize = 1 << 24;

/// The consumer fell behind by more than its queue and was cut off.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cut off: the consumer fell behind; outputs from sequence {first_missed} on were not delivered")]
pub struct CutOff {
    /// The sequence of the first output it did not get.
    pub first_missed: u64,
}

/// Why a consumer's wait ended without outputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Ended {
    /// It fell behind (see [`CutOff`]).
    #[error("{0}")]
    CutOff(CutOff),
    /// The core has stopped and everything it published was read.
    #[error("the core has stopped")]
    Stopped,
}

const NOT_CUT: u64 = u64::MAX;

struct Lane {
    producer: rtrb::Producer<Output>,
    cut_at: Arc<AtomicU64>,
    waker: Arc<Waker>,
}

/// The core's end: every consumer's queue.
pub struct Outbound {
    lanes: Vec<Lane>,
}

/// One consumer's end.
pub struct Subscriber {
    consumer: rtrb::Consumer<Output>,
    cut_at: Arc<AtomicU64>,
    waiter: Waiter,
    waker: Arc<Waker>,
}

impl std::fmt::Debug for Subscriber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscriber").field("waiting", &self.consumer.slots()).finish_non_exhaustive()
    }
}

/// `consumers` queues of `slots` each; each consumer waits with `wait`.
pub fn outbound(consumers: usize, slots: usize, wait: WaitStrategy) -> (Outbound, Vec<Subscriber>) {
    assert!(slots > 0 && slots <= QUEUE_SLOTS_MAX, "queue of {slots} slots");
    let mut lanes = Vec::with_capacity(consumers);
    let mut subscribers = Vec::with_capacity(consumers);
    for _ in 0..consumers {
        let (mut producer, mut consumer) = rtrb::RingBuffer::new(slots);
        prefault(&mut producer, &mut consumer, slots);
        let cut_at = Arc::new(AtomicU64::new(NOT_CUT));
        let waker = Waker::new();
        lanes.push(Lane { producer, cut_at: Arc::clone(&cut_at), waker: Arc::clone(&waker) });
        subscribers.push(Subscriber {
            consumer,
            cut_at,
            waiter: Waiter::new(wait, Arc::clone(&waker)),
            waker,
        });
    }
    (Outbound { lanes }, subscribers)
}

/// Writes every slot of a new queue once and reads it back, so no page of it faults on the
/// core's hot path later (the queue is allocated, not yet touched).
fn prefault(producer: &mut rtrb::Producer<Output>, consumer: &mut rtrb::Consumer<Output>, slots: usize) {
    let filler = [Output::default(); 64];
    let mut left = slots;
    while left > 0 {
        let n = left.min(filler.len());
        producer.push_entire_slice(&filler[..n]).expect("an empty queue has room");
        left -= n;
    }
    consumer.read_chunk(slots).expect("every slot written").commit_all();
    debug_assert!(consumer.is_empty());
}

impl Outbound {
    /// Delivers `batch` whole to every consumer that has room, cuts off the ones that have not;
    /// never waits. Returns how many consumers were cut off by this call.
    pub fn publish(&mut self, batch: &[Output]) -> usize {
        let Some(first) = batch.first() else { return 0 };
        let mut cut = 0;
        for lane in &mut self.lanes {
            if lane.cut_at.load(Ordering::Relaxed) != NOT_CUT {
                continue;
            }
            if lane.producer.push_entire_slice(batch).is_err() {
                lane.cut_at.store(first.sequence, Ordering::Release);
                cut += 1;
            }
            lane.waker.wake();
        }
        cut
    }

    /// Consumers not cut off.
    pub fn connected(&self) -> usize {
        self.lanes.iter().filter(|l| l.cut_at.load(Ordering::Relaxed) == NOT_CUT).count()
    }

    /// The fullest queue's fill, slots (for metrics).
    pub fn occupancy_max(&self) -> usize {
        self.lanes.iter().map(|l| l.producer.buffer().capacity() - l.producer.slots()).max().unwrap_or(0)
    }
}

impl Subscriber {
    /// Appends up to `max` waiting outputs to `out`; returns how many. After a cut-off, once the
    /// queue is empty, reports it.
    pub fn poll(&mut self, out: &mut Vec<Output>, max: usize) -> Result<usize, CutOff> {
        let n = self.consumer.slots().min(max);
        if n == 0 {
            let cut_at = self.cut_at.load(Ordering::Acquire);
            // Re-check the queue: outputs pushed before the cut are delivered first.
            if cut_at != NOT_CUT && self.consumer.is_empty() {
                return Err(CutOff { first_missed: cut_at });
            }
            return Ok(0);
        }
        let chunk = self.consumer.read_chunk(n).expect("n slots are readable");
        let (a, b) = chunk.as_slices();
        out.extend_from_slice(a);
        out.extend_from_slice(b);
        chunk.commit_all();
        Ok(n)
    }

    /// For a consumer that sleeps in its own event loop: `notify` is called when outputs arrive
    /// while it announced a sleep ([`Subscriber::before_sleep`]).
    pub fn set_notify(&self, notify: Box<dyn Fn() + Send + Sync>) {
        self.waker.set_notify(notify);
    }

    /// Announces a sleep in the consumer's event loop; returns false (and cancels the announcement)
    /// if outputs are already waiting, in which case it must not sleep.
    pub fn before_sleep(&self) -> bool {
        self.waker.sleeping(true);
        if self.consumer.is_empty() {
            true
        } else {
            self.waker.sleeping(false);
            false
        }
    }

    /// Ends a sleep announced with [`Subscriber::before_sleep`].
    pub fn after_sleep(&self) {
        self.waker.sleeping(false);
    }

    /// Waits (with the consumer's strategy) until outputs arrive, then appends up to `max` of
    /// them to `out`; returns how many, or why none will come.
    pub fn wait(&mut self, out: &mut Vec<Output>, max: usize) -> Result<usize, Ended> {
        loop {
            let n = self.poll(out, max).map_err(Ended::CutOff)?;
            if n > 0 {
                self.waiter.reset();
                return Ok(n);
            }
            if self.consumer.is_abandoned() && self.consumer.is_empty() {
                return Err(Ended::Stopped);
            }
            let consumer = &self.consumer;
            self.waiter.idle(|| !consumer.is_empty() || consumer.is_abandoned());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::message::{Item, Origin};

    fn batch(first: u64, len: u64) -> Vec<Output> {
        (first..first + len)
            .map(|sequence| Output {
                sequence,
                origin: Origin::default(),
                item: Item::Done { timestamp_ns: sequence, items: 0, command: true },
            })
            .collect()
    }

    #[test]
    fn a_slow_consumer_is_cut_off_and_the_others_keep_everything() {
        let (mut outbound, mut subscribers) = outbound(2, 8, WaitStrategy::BusySpin);
        let mut fast = Vec::new();
        assert_eq!(outbound.publish(&batch(1, 5)), 0);
        subscribers[0].poll(&mut fast, 64).expect("fast");
        assert_eq!(outbound.publish(&batch(6, 5)), 1, "the second consumer has 3 free slots for 5");
        subscribers[0].poll(&mut fast, 64).expect("fast");
        assert_eq!(outbound.connected(), 1);
        assert_eq!(fast.iter().map(|o| o.sequence).collect::<Vec<_>>(), (1..=10).collect::<Vec<_>>());
        let mut slow = Vec::new();
        assert_eq!(subscribers[1].poll(&mut slow, 64), Ok(5), "what it was given, it gets");
        assert_eq!(subscribers[1].poll(&mut slow, 64), Err(CutOff { first_missed: 6 }));
        drop(outbound);
        assert_eq!(subscribers[0].wait(&mut fast, 64), Err(Ended::Stopped));
    }
}

//! Good-till-date expiry and the sequencer's time.
//!
//! Time arrives with commands (`Engine::apply_at`); the engine keeps the latest it has seen and
//! never reads a clock. Before a command is applied, every resting order whose expiry is at or before
//! the new time is cancelled (reason `Expired`), earliest expiry first, ties in order id order;
//! those events precede the command's own. A time earlier than the engine's is taken as the
//! engine's (the sequencer never goes back; a replayed journal cannot make the engine go back).
//!
//! The index is a min-heap of (expiry, order id) sized `orders_max` up front. Entries of orders
//! that left the book earlier stay until they reach the top (then they are skipped) or until the
//! heap is full (then it is compacted to the live ones, which always fit). The expiry itself lives
//! with the order (`order_expiry`, meaningful while the order's `EXPIRY` flag is set), so the state
//! hash does not depend on the heap's layout.
//! Complexity: O(log n) per GTD order placed or expired. No allocation.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::engine::Engine;
use crate::event::{CancelReason, Event};
use crate::types::OrderId;

/// Pending expiries: earliest first.
pub(crate) type ExpiryHeap = BinaryHeap<Reverse<(u64, OrderId)>>;

impl Engine {
    /// The engine's time: the latest command time seen, ns.
    pub fn now_ns(&self) -> u64 {
        self.now_ns
    }

    /// Moves time forward to `time_ns` and expires what is due.
    pub(crate) fn advance_time(&mut self, time_ns: u64, out: &mut Vec<Event>) {
        if time_ns <= self.now_ns {
            return;
        }
        self.now_ns = time_ns;
        while let Some(&Reverse((expire_ns, id))) = self.expiries.peek() {
            if expire_ns > time_ns {
                break;
            }
            self.expiries.pop();
            if let Some(slot) = self.live_slot(id) {
                self.cancel_resting(
                    self.orders[slot as usize].instrument.0 as usize,
                    slot,
                    CancelReason::Expired,
                    out,
                );
            }
        }
    }

    /// Registers the expiry of an order that just came to rest.
    pub(crate) fn schedule_expiry(&mut self, slot: u32, expire_ns: u64) {
        if expire_ns == 0 {
            return;
        }
        self.order_expiry[slot as usize] = expire_ns;
        // The bound is the configuration's, not the heap's capacity: a cloned engine's heap has
        // only the capacity of its length.
        let entries_max = self.config.orders_max as usize;
        if self.expiries.len() >= entries_max {
            let (orders, slots) = (&self.orders, &self.slots);
            self.expiries.retain(|Reverse((_, id))| {
                let s = id.slot();
                !slots.is_free(s) && orders[s as usize].id == *id
            });
        }
        assert!(self.expiries.len() < entries_max, "live expiries exceed the order capacity");
        self.expiries.push(Reverse((expire_ns, self.orders[slot as usize].id)));
    }

    /// The slot of a resting order, if the id still names one.
    pub(crate) fn live_slot(&self, id: OrderId) -> Option<u32> {
        let slot = id.slot();
        let live =
            slot < self.config.orders_max && !self.slots.is_free(slot) && self.orders[slot as usize].id == id;
        live.then_some(slot)
    }
}

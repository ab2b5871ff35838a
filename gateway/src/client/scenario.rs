//! Order flow for one binary session, driven by its own execution reports: the load generator's
//! scenarios and the living market of `ferrex demo`.
//!
//! - [`Kind::Pairs`]: a GTC buy far below the market, then its cancel (the book stays small);
//! - [`Kind::ExchangeCore`]: exchange-core's benchmark mix around a mid price: 9% GTC, 3% IOC,
//!   6% cancel, 82% move (a cancel-replace to a new price), keeping about `orders_target` orders
//!   resting;
//! - [`Kind::Market`]: a market maker quoting both sides around a mid price that walks at random,
//!   moving and cancelling its quotes, and crossing the spread now and then as a taker (15%), so
//!   several sessions keep a live, moving book.
//!
//! Every message the scenario makes has a [`Key`]; [`Scenario::observe`] returns the key a report
//! answers (the first report of a new order, the cancel or replace outcome), so a caller can
//! measure each message's round trip. Invariants: a resting order has at most one cancel or
//! replace in flight; the scenario acts only on orders its reports showed resting.
//! Complexity: O(1) per message and per report.

use std::collections::{HashMap, HashSet};

use crate::binary::reports::exec;
use crate::binary::wire::{self, CancelReject, CancelReplace, ExecutionReport, NewOrder};

/// Which flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Place far from the market, then cancel.
    Pairs,
    /// exchange-core's mix.
    ExchangeCore,
    /// Market making and taking around a random walk.
    Market,
}

/// What a message waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Key {
    /// A new order, by its number (client order id `L<n>`).
    New(u64),
    /// A cancel of this order id.
    Cancel(u64),
    /// A replace of this order id.
    Replace(u64),
}

#[derive(Clone, Copy, Debug)]
struct Live {
    order: u64,
    side: u8,
}

/// One session's flow.
#[derive(Debug)]
pub struct Scenario {
    kind: Kind,
    instrument: u32,
    rng: u64,
    mid: i64,
    mid_start: i64,
    orders_target: usize,
    live: Vec<Live>,
    /// Where each live order is in `live`.
    at: HashMap<u64, usize>,
    busy: HashSet<u64>,
    /// Pairs: placed orders waiting for their cancel.
    to_cancel: Vec<u64>,
    next: u64,
}

impl Scenario {
    /// A flow on `instrument` around `mid_ticks`, seeded.
    #[must_use]
    pub fn new(kind: Kind, instrument: u32, mid_ticks: i64, seed: u64) -> Scenario {
        assert!(mid_ticks > 1_000, "the mid leaves room for prices below it");
        Scenario {
            kind,
            instrument,
            rng: seed | 1,
            mid: mid_ticks,
            mid_start: mid_ticks,
            orders_target: if kind == Kind::Market { 10 } else { 250 },
            live: Vec::new(),
            at: HashMap::new(),
            busy: HashSet::new(),
            to_cancel: Vec::new(),
            next: 0,
        }
    }

    fn random(&mut self) -> u64 {
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> i64 {
        i64::try_from(self.random() % n).expect("small")
    }

    /// The next message: its key, written into `out` (cleared first).
    pub fn next(&mut self, out: &mut Vec<u8>) -> Key {
        out.clear();
        match self.kind {
            Kind::Pairs => self.pairs(out),
            Kind::ExchangeCore => self.exchange_core(out),
            Kind::Market => self.market(out),
        }
    }

    fn pairs(&mut self, out: &mut Vec<u8>) -> Key {
        if let Some(order) = self.to_cancel.pop() {
            return self.cancel(order, out);
        }
        let price = self.mid / 2 + self.below(1_000);
        self.new_order(0, price, 1, 0, out)
    }

    fn exchange_core(&mut self, out: &mut Vec<u8>) -> Key {
        let roll = self.below(100);
        let short = self.live.len() < self.orders_target;
        if roll < 9 || (short && roll < 30) {
            let side = u8::try_from(self.below(2)).expect("0 or 1");
            let offset = 1 + self.below(1_200);
            let price = if side == 0 { self.mid - offset } else { self.mid + offset };
            let qty = 1 + self.below(10);
            return self.new_order(side, price, qty, 0, out);
        }
        if roll < 12 || self.live.is_empty() {
            return self.taker(out);
        }
        let Some(at) = self.free_live() else { return self.taker(out) };
        if roll < 18 {
            return self.cancel(self.live[at].order, out);
        }
        let live = self.live[at];
        let offset = 1 + self.below(1_200);
        let price = if live.side == 0 { self.mid - offset } else { self.mid + offset };
        let qty = 1 + self.below(10);
        self.replace(live.order, price, qty, out)
    }

    fn market(&mut self, out: &mut Vec<u8>) -> Key {
        // The mid walks a tick now and then, within 10% of where it started.
        match self.below(10) {
            0 if self.mid > self.mid_start * 9 / 10 => self.mid -= 1,
            1 if self.mid < self.mid_start * 11 / 10 => self.mid += 1,
            _ => {}
        }
        let roll = self.below(100);
        if roll < 15 {
            return self.taker(out);
        }
        if self.live.len() < self.orders_target || roll < 30 {
            let side = u8::try_from(self.below(2)).expect("0 or 1");
            let offset = 1 + self.below(10);
            let price = if side == 0 { self.mid - offset } else { self.mid + offset };
            let qty = 1 + self.below(5);
            return self.new_order(side, price, qty, 0, out);
        }
        let Some(at) = self.free_live() else { return self.taker(out) };
        let live = self.live[at];
        if roll < 45 {
            return self.cancel(live.order, out);
        }
        let offset = 1 + self.below(10);
        let price = if live.side == 0 { self.mid - offset } else { self.mid + offset };
        let qty = 1 + self.below(5);
        self.replace(live.order, price, qty, out)
    }

    fn taker(&mut self, out: &mut Vec<u8>) -> Key {
        let side = u8::try_from(self.below(2)).expect("0 or 1");
        let price = if side == 0 { self.mid + 5 } else { self.mid - 5 };
        let qty = 1 + self.below(3);
        self.new_order(side, price, qty, 1, out)
    }

    /// A live order with nothing in flight, if one is found in a few tries.
    fn free_live(&mut self) -> Option<usize> {
        for _ in 0..4 {
            let at = usize::try_from(self.below(self.live.len() as u64)).expect("small");
            if !self.busy.contains(&self.live[at].order) {
                return Some(at);
            }
        }
        None
    }

    fn new_order(&mut self, side: u8, price: i64, qty: i64, time_in_force: u8, out: &mut Vec<u8>) -> Key {
        let n = self.next;
        self.next += 1;
        let order = NewOrder {
            time_in_force,
            client_order_id: client_id(n),
            ..NewOrder::limit(self.instrument, side, price.max(1), qty, "")
        };
        out.resize(NewOrder::LEN, 0);
        order.encode(out);
        Key::New(n)
    }

    fn cancel(&mut self, order: u64, out: &mut Vec<u8>) -> Key {
        self.busy.insert(order);
        let cancel = wire::Cancel { order_id: order, instrument: self.instrument, client_order_id: [0; 36] };
        out.resize(wire::Cancel::LEN, 0);
        cancel.encode(out);
        Key::Cancel(order)
    }

    fn replace(&mut self, order: u64, price: i64, qty: i64, out: &mut Vec<u8>) -> Key {
        self.busy.insert(order);
        let replace = CancelReplace {
            order_id: order,
            price: price.max(1),
            qty,
            trigger_price: 0,
            instrument: self.instrument,
            client_order_id: [0; 36],
        };
        out.resize(CancelReplace::LEN, 0);
        replace.encode(out);
        Key::Replace(order)
    }

    fn remove(&mut self, order: u64) {
        if let Some(at) = self.at.remove(&order) {
            self.live.swap_remove(at);
            if let Some(moved) = self.live.get(at) {
                self.at.insert(moved.order, at);
            }
        }
        self.busy.remove(&order);
    }

    fn add(&mut self, live: Live) {
        self.at.insert(live.order, self.live.len());
        self.live.push(live);
    }

    /// Learns from an execution report; returns the key it answers, if any.
    pub fn observe(&mut self, report: &ExecutionReport) -> Option<Key> {
        match report.exec_type {
            exec::NEW => {
                let n = client_number(&report.client_order_id)?;
                if report.time_in_force == 0 {
                    self.add(Live { order: report.order_id, side: report.side });
                    if self.kind == Kind::Pairs {
                        self.to_cancel.push(report.order_id);
                    }
                }
                Some(Key::New(n))
            }
            exec::REJECTED => client_number(&report.client_order_id).map(Key::New),
            exec::FILL => {
                if report.leaves_qty == 0 {
                    self.remove(report.order_id);
                }
                None
            }
            exec::CANCELLED | exec::EXPIRED => {
                let answered = self.busy.contains(&report.order_id) && report.cancel_reason == 1;
                self.remove(report.order_id);
                answered.then_some(Key::Cancel(report.order_id))
            }
            exec::REPLACED => {
                self.busy.remove(&report.order_id);
                Some(Key::Replace(report.order_id))
            }
            _ => None,
        }
    }

    /// Learns from a cancel reject; returns the key it answers.
    pub fn observe_reject(&mut self, reject: &CancelReject) -> Option<Key> {
        self.remove(reject.order_id);
        match reject.request {
            1 => Some(Key::Cancel(reject.order_id)),
            2 => Some(Key::Replace(reject.order_id)),
            _ => None,
        }
    }

    /// A message the gateway refused: a cancel or replace frees its order again.
    pub fn refused(&mut self, key: Key) {
        if let Key::Cancel(order) | Key::Replace(order) = key {
            self.busy.remove(&order);
        }
    }

    /// Orders resting, as the reports told.
    #[must_use]
    pub fn resting(&self) -> usize {
        self.live.len()
    }
}

/// The client order id of message number `n`: `L<n>`.
#[must_use]
pub fn client_id(n: u64) -> [u8; 36] {
    let mut id = [0u8; 36];
    id[0] = b'L';
    let mut digits = [0u8; 20];
    let mut len = 0;
    let mut v = n;
    loop {
        digits[len] = b'0' + u8::try_from(v % 10).expect("a digit");
        len += 1;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    for i in 0..len {
        id[1 + i] = digits[len - 1 - i];
    }
    id
}

/// The number of a client order id made by [`client_id`].
#[must_use]
pub fn client_number(id: &[u8; 36]) -> Option<u64> {
    if id[0] != b'L' {
        return None;
    }
    let mut n = 0u64;
    for &b in id[1..].iter().take_while(|&&b| b != 0) {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ids_round_trip() {
        for n in [0, 7, 10, 123_456_789, u64::MAX] {
            assert_eq!(client_number(&client_id(n)), Some(n));
        }
        assert_eq!(wire::untext(&client_id(42)), Some("L42"));
        assert_eq!(client_number(&wire::text("x1")), None);
    }

    #[test]
    fn a_market_session_quotes_then_moves_and_cancels_only_what_rests() {
        let mut scenario = Scenario::new(Kind::Market, 0, 6_000_000, 9);
        let mut out = Vec::new();
        let mut keys = Vec::new();
        for _ in 0..200 {
            keys.push(scenario.next(&mut out));
            assert!(matches!(wire::header(&out), Some((len, _, _)) if len == out.len()));
        }
        // Nothing rested yet (no reports came), so nothing was cancelled or replaced.
        assert!(keys.iter().all(|k| matches!(k, Key::New(_))));
        assert_eq!(scenario.resting(), 0);
    }
}

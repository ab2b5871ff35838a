//! Execution reports from a command and its events: the one function both the live path and the
//! journal rebuild use, so a replayed report is byte for byte the report first sent.
//!
//! A report's position is (the command's journal sequence, `2 * event index + side`), where the
//! event index counts the command's events from 0 and side is 1 only for the taker's half of a
//! fill; positions of one user's reports are strictly increasing in the order they are sent.
//! Only the command's content and its events are read (never who sent it), so the reports are a
//! pure function of the journal (determinism, DESIGN.md).
//!
//! What makes a report: `Accepted` (new; the client order id is the command's when it is the
//! command's first acceptance, i.e. the order the command placed), `Fill` (one to the maker, one
//! to the taker, with the open quantity left), `Cancelled` (expired when the reason is
//! `Expired`), `Amended` (replaced), `Triggered`, `TriggerFailed`, and `Rejected` of an order
//! command (a rejected new order, or a cancel reject for cancels, replaces and mass cancels).
//! Other events (balances, levels, admin) make none.
//! Complexity: O(1) per event but the taker's open quantity, found in a list of this command's
//! orders (a handful).

use ferrex_engine::{
    CancelReason, Command, Event, OrderId, OrderRef, OrderType, Price, Qty, Side, TimeInForce, UserId,
};

use super::wire::{self, CancelReject, ExecutionReport, NO_PRICE};

/// Execution report types.
pub mod exec {
    /// Accepted.
    pub const NEW: u8 = 1;
    /// Rejected.
    pub const REJECTED: u8 = 2;
    /// A fill.
    pub const FILL: u8 = 3;
    /// Cancelled.
    pub const CANCELLED: u8 = 4;
    /// Replaced (amended).
    pub const REPLACED: u8 = 5;
    /// Expired (good-till-date).
    pub const EXPIRED: u8 = 6;
    /// A conditional order triggered.
    pub const TRIGGERED: u8 = 7;
    /// A triggered order failed a check.
    pub const TRIGGER_FAILED: u8 = 8;
}

/// A sequenced message to one user: an execution report or a cancel reject, encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Report {
    /// Whose.
    pub user: UserId,
    /// Its bytes (the first `len`).
    pub bytes: [u8; ExecutionReport::LEN],
    /// Its length.
    pub len: u8,
}

impl Report {
    /// The message.
    #[must_use]
    pub fn message(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// Its (sequence, index) position.
    #[must_use]
    pub fn position(&self) -> (u64, u32) {
        wire::position(&self.bytes)
    }
}

/// Reports of one command, built event by event.
#[derive(Debug, Default)]
pub struct Reporter {
    sequence: u64,
    timestamp_ns: u64,
    command: Option<Command>,
    events: u32,
    accepted: bool,
    /// Open quantity of the orders this command placed or amended (the takers).
    open: Vec<(OrderId, i64)>,
}

impl Reporter {
    /// Starts a command's reports.
    pub fn start(&mut self, sequence: u64, timestamp_ns: u64, command: Option<Command>) {
        self.sequence = sequence;
        self.timestamp_ns = timestamp_ns;
        self.command = command;
        self.events = 0;
        self.accepted = false;
        self.open.clear();
    }

    /// The next event of the command: its reports go to `out`.
    pub fn event(&mut self, event: &Event, out: &mut Vec<Report>) {
        let index = self.events * 2;
        self.events += 1;
        match *event {
            Event::Accepted(a) => {
                let client = match (&self.command, self.accepted) {
                    (Some(Command::Place(p)), false) if p.user == a.user => p.client_order_id.0,
                    _ => [0; 36],
                };
                self.accepted = true;
                self.open.push((a.order, a.qty.0));
                let mut r = self.report(index, exec::NEW, a.order, a.instrument.0);
                describe(&mut r, (a.side, a.order_type, a.time_in_force), a.price, a.qty);
                r.leaves_qty = a.qty.0;
                r.client_order_id = client;
                out.push(encoded(a.user, &r));
            }
            Event::Fill(f) => {
                let taker_left =
                    self.open.iter_mut().find(|(o, _)| *o == f.taker_order).map_or(0, |(_, q)| {
                        *q -= f.qty.0;
                        *q
                    });
                for (user, order, side, left, liquidity, at) in [
                    (f.maker_user, f.maker_order, f.aggressor.opposite(), f.maker_qty_left.0, 1, index),
                    (f.taker_user, f.taker_order, f.aggressor, taker_left, 2, index + 1),
                ] {
                    let mut r = self.report(at, exec::FILL, order, f.instrument.0);
                    r.side = side as u8;
                    r.leaves_qty = left;
                    r.last_price = f.price.0;
                    r.last_qty = f.qty.0;
                    r.trade_id = f.trade.0;
                    r.liquidity = liquidity;
                    out.push(encoded(user, &r));
                }
            }
            Event::Cancelled { order, user, instrument, qty, reason } => {
                let kind = if reason == CancelReason::Expired { exec::EXPIRED } else { exec::CANCELLED };
                let mut r = self.report(index, kind, order, instrument.0);
                r.qty = qty.0;
                r.cancel_reason = reason as u8;
                out.push(encoded(user, &r));
            }
            Event::Amended { order, user, instrument, price, qty, .. } => {
                self.open.push((order, qty.0));
                let mut r = self.report(index, exec::REPLACED, order, instrument.0);
                r.price = price.0;
                r.qty = qty.0;
                r.leaves_qty = qty.0;
                out.push(encoded(user, &r));
            }
            Event::Triggered { order, user, instrument } => {
                out.push(encoded(user, &self.report(index, exec::TRIGGERED, order, instrument.0)));
            }
            Event::TriggerFailed { order, user, instrument, code } => {
                let mut r = self.report(index, exec::TRIGGER_FAILED, order, instrument.0);
                r.reject_code = code.code();
                out.push(encoded(user, &r));
            }
            Event::Rejected { user, code } => self.rejected(index, user, code.code(), out),
            _ => {}
        }
    }

    fn rejected(&self, index: u32, user: UserId, code: u16, out: &mut Vec<Report>) {
        let (request, instrument, order) = match self.command {
            Some(Command::Place(p)) => {
                let mut r = self.report(index, exec::REJECTED, OrderId(0), p.instrument.0);
                r.reject_code = code;
                describe(&mut r, (p.side, p.order_type, p.time_in_force), p.price, p.qty);
                r.client_order_id = p.client_order_id.0;
                out.push(encoded(user, &r));
                return;
            }
            Some(Command::ClosePosition { instrument, .. }) => {
                let mut r = self.report(index, exec::REJECTED, OrderId(0), instrument.0);
                r.reject_code = code;
                out.push(encoded(user, &r));
                return;
            }
            Some(Command::Cancel(c)) => (1, c.instrument.0, Some(c.order)),
            Some(Command::Amend(a)) => (2, a.instrument.0, Some(a.order)),
            Some(Command::MassCancel(m)) => (3, m.instrument.map_or(wire::ALL_INSTRUMENTS, |i| i.0), None),
            _ => return,
        };
        let (order_id, client_order_id) = match order {
            Some(OrderRef::Id(id)) => (id.0, [0; 36]),
            Some(OrderRef::Client(c)) => (0, c.0),
            None => (0, [0; 36]),
        };
        let reject = CancelReject {
            sequence: self.sequence,
            index,
            request,
            reserved: 0,
            reject_code: code,
            timestamp_ns: self.timestamp_ns,
            order_id,
            instrument,
            client_order_id,
        };
        let mut bytes = [0u8; ExecutionReport::LEN];
        let len = reject.encode(&mut bytes);
        out.push(Report { user, bytes, len: u8::try_from(len).expect("small") });
    }

    fn report(&self, index: u32, exec_type: u8, order: OrderId, instrument: u32) -> ExecutionReport {
        ExecutionReport {
            sequence: self.sequence,
            index,
            exec_type,
            side: 0,
            order_type: 0,
            time_in_force: 0,
            timestamp_ns: self.timestamp_ns,
            order_id: order.0,
            instrument,
            reject_code: 0,
            cancel_reason: 0,
            liquidity: 0,
            price: NO_PRICE,
            qty: 0,
            leaves_qty: 0,
            last_price: 0,
            last_qty: 0,
            trade_id: 0,
            client_order_id: [0; 36],
        }
    }
}

/// An execution report for `user`, encoded.
fn encoded(user: UserId, report: &ExecutionReport) -> Report {
    let mut bytes = [0u8; ExecutionReport::LEN];
    report.encode(&mut bytes);
    Report { user, bytes, len: u8::try_from(ExecutionReport::LEN).expect("small") }
}

/// The order's own fields of a new or rejected order's report.
fn describe(
    r: &mut ExecutionReport,
    (side, order_type, tif): (Side, OrderType, TimeInForce),
    price: Option<Price>,
    qty: Qty,
) {
    r.side = side as u8;
    r.order_type = order_type as u8;
    r.time_in_force = tif as u8;
    r.price = price.map_or(NO_PRICE, |p| p.0);
    r.qty = qty.0;
}

/// Sets the timestamp of a report built before its command's time was known (the live path
/// learns it from the command's `Done`, after the events).
pub fn patch_timestamp(report: &mut Report, timestamp_ns: u64) {
    use super::wire::Wire;
    // Both sequenced messages keep their timestamp at offset 20.
    timestamp_ns.put(&mut report.bytes[20..]);
}

const _: () = {
    let exec = ExecutionReport::LAYOUT.fields;
    let reject = CancelReject::LAYOUT.fields;
    assert!(exec[0].offset == 4 && exec[1].offset == 12 && reject[0].offset == 4 && reject[1].offset == 12);
    assert!(exec[6].offset == 20 && reject[5].offset == 20);
};

#[cfg(test)]
mod tests {
    use super::*;
    use ferrex_engine::{Accepted, ClientOrderId, Fill, InstrumentId, Place, SelfTradePrevention, TradeId};

    #[test]
    fn a_crossing_order_reports_to_both_users_with_increasing_positions() {
        let place = Place {
            user: UserId(2),
            instrument: InstrumentId(0),
            client_order_id: ClientOrderId::new("t-1").unwrap(),
            side: Side::Buy,
            price: Some(Price(100)),
            qty: Qty(5),
            ..Place::default()
        };
        let accepted = Accepted {
            order: OrderId(9),
            user: UserId(2),
            instrument: InstrumentId(0),
            side: Side::Buy,
            order_type: OrderType::Limit,
            time_in_force: TimeInForce::Gtc,
            price: Some(Price(100)),
            qty: Qty(5),
            self_trade: SelfTradePrevention::default(),
            trigger: None,
        };
        let fill = Fill {
            trade: TradeId(1),
            instrument: InstrumentId(0),
            maker_order: OrderId(3),
            maker_user: UserId(1),
            taker_order: OrderId(9),
            taker_user: UserId(2),
            price: Price(99),
            qty: Qty(2),
            maker_qty_left: Qty(0),
            aggressor: Side::Buy,
        };
        let mut reporter = Reporter::default();
        reporter.start(7, 1_000, Some(Command::Place(place)));
        let mut out = Vec::new();
        reporter.event(&Event::Accepted(accepted), &mut out);
        reporter.event(&Event::Fill(fill), &mut out);
        assert_eq!(out.len(), 3);
        let new = ExecutionReport::decode(out[0].message()).unwrap();
        assert_eq!(
            (new.exec_type, new.order_id, wire::untext(&new.client_order_id)),
            (exec::NEW, 9, Some("t-1"))
        );
        let maker = ExecutionReport::decode(out[1].message()).unwrap();
        let taker = ExecutionReport::decode(out[2].message()).unwrap();
        assert_eq!((out[1].user, maker.side, maker.leaves_qty, maker.liquidity), (UserId(1), 1, 0, 1));
        assert_eq!((out[2].user, taker.side, taker.leaves_qty, taker.liquidity), (UserId(2), 0, 3, 2));
        assert!(out[0].position() < out[1].position() && out[1].position() < out[2].position());
    }
}

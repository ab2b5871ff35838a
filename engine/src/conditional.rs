//! Conditional orders: stop-loss and take-profit, each with a market or a limit order behind it
//! (Binance `STOP_MARKET`, `STOP_LOSS_LIMIT` / `STOP`, `TAKE_PROFIT_MARKET`, `TAKE_PROFIT_LIMIT`).
//!
//! A conditional waits off the book, in a pool of `conditionals_max` entries, until the price it
//! watches (the instrument's last trade price, or a perpetual's mark price) crosses its trigger:
//! a stop-loss buy and a take-profit sell fire when the price rises to the trigger or above; a
//! stop-loss sell and a take-profit buy when it falls to it or below. One that would fire at once is
//! refused (2005).
//!
//! At placement the conditional is validated like the order it becomes and holds exactly what that
//! order would hold (spot: quote or base; perpetual: its margin at its limit price, or at the trigger
//! price for a market order; reduce-only: nothing). At trigger that hold is released and the order
//! is placed through the ordinary path, with every check run again (balance, margin, limits,
//! suspension, halt, reduce-only): it gets a new order id (`Triggered` names both), or, when a check
//! fails, `TriggerFailed` carries the reject code and nothing else happens.
//!
//! Deterministic order: after every command, instruments whose last or mark price moved are
//! examined in the order they moved; on each, rising triggers fire lowest trigger first, falling
//! triggers highest first, ties in acceptance order, last-price triggers before mark-price ones;
//! orders placed by triggers may trade and move the price again, which is examined in turn until
//! nothing fires. Risk checks (liquidation) run before triggers and again after them.
//!
//! Storage: per instrument and source, two vectors sorted so the next to fire is last (a pop). They
//! grow past their reservation only when more conditionals wait than ever before.
//! Complexity: placing O(log n + shift), firing O(1) plus the placement, cancel and amend O(n) on
//! the instrument (a scan), mass cancel O(conditionals).

use crate::command::{Amend, OrderRef, Place};
use crate::engine::Engine;
use crate::event::{CancelReason, Event};
use crate::money::Funds;
use crate::reject::RejectCode;
use crate::types::{
    InstrumentKind, ORDER_SLOT_NONE, OrderId, Price, Side, TriggerKind, TriggerSource, UserId,
};

/// Which way the price must move.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Direction {
    Rise,
    Fall,
}

fn direction(side: Side, kind: TriggerKind) -> Direction {
    match (side, kind) {
        (Side::Buy, TriggerKind::StopLoss) | (Side::Sell, TriggerKind::TakeProfit) => Direction::Rise,
        (Side::Sell, TriggerKind::StopLoss) | (Side::Buy, TriggerKind::TakeProfit) => Direction::Fall,
    }
}

/// One waiting conditional.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Conditional {
    pub(crate) id: OrderId,
    /// The order it becomes (its `trigger` is the one it waits for).
    pub(crate) place: Place,
    /// What it holds or reserves meanwhile.
    pub(crate) funds: Funds,
}

/// An entry of a trigger list: (trigger price, acceptance sequence, pool index).
type Entry = (i64, u64, u32);

/// The four trigger lists of an instrument: [last rise, last fall, mark rise, mark fall].
#[derive(Clone, Debug, Default)]
pub(crate) struct TriggerLists {
    pub(crate) lists: [Vec<Entry>; 4],
}

fn list_index(source: TriggerSource, direction: Direction) -> usize {
    let base = if source == TriggerSource::LastPrice { 0 } else { 2 };
    base + usize::from(direction == Direction::Fall)
}

/// Sort key making the next to fire last: rising lists descend by price, falling lists ascend;
/// within a price, later acceptance sorts first.
fn sort_key(list: usize, entry: &Entry) -> (i64, std::cmp::Reverse<u64>) {
    let price = if list.is_multiple_of(2) { -entry.0 } else { entry.0 };
    (price, std::cmp::Reverse(entry.1))
}

impl Engine {
    /// Validates and parks a conditional order.
    pub(crate) fn place_conditional(
        &mut self,
        place: &Place,
        out: &mut Vec<Event>,
    ) -> Result<(), RejectCode> {
        let (book, hold) = self.validate_conditional(place)?;
        let index = self.conditional_free.last().copied().ok_or(RejectCode::ConditionalsFull)?;
        self.orders_accepted += 1;
        let id = OrderId::new(self.orders_accepted, ORDER_SLOT_NONE);
        self.park_conditional(
            book,
            index,
            Conditional { id, place: *place, funds: Funds { held: hold, ..Funds::default() } },
        );
        out.push(Event::Accepted(Self::accepted(id, place)));
        self.push_held_balance(book, place.user, place.side, out);
        Ok(())
    }

    /// Checks a conditional as the order it becomes, and its trigger; returns its book and hold.
    pub(crate) fn validate_conditional(&self, place: &Place) -> Result<(usize, i64), RejectCode> {
        let trigger = place.trigger.expect("a conditional has a trigger");
        let (book, _, hold) = self.validate_place(&Place { trigger: None, ..*place })?;
        let market = &self.markets[book];
        let spec = &self.books[book].spec;
        if trigger.price < spec.price_min || trigger.price > spec.price_max {
            return Err(RejectCode::InvalidTrigger);
        }
        let watched = match trigger.source {
            TriggerSource::LastPrice => self.books[book].last_price,
            TriggerSource::MarkPrice if market.kind == InstrumentKind::Perpetual => Some(market.mark),
            TriggerSource::MarkPrice => return Err(RejectCode::NotPerpetual),
        };
        if watched.is_some_and(|p| crosses(direction(place.side, trigger.kind), p, trigger.price)) {
            return Err(RejectCode::WouldTriggerImmediately);
        }
        if self.conditional_free.is_empty() {
            return Err(RejectCode::ConditionalsFull);
        }
        Ok((book, hold))
    }

    /// Puts a validated conditional in pool slot `index` and its trigger list, taking its hold
    /// and margin.
    fn park_conditional(&mut self, book: usize, index: u32, mut c: Conditional) {
        assert_eq!(self.conditional_free.last(), Some(&index), "parking in the next free slot");
        self.conditional_free.pop();
        let market = self.markets[book];
        if c.funds.held > 0 {
            self.ledger.hold(c.place.user, market.held_asset(c.place.side), c.funds.held);
        }
        c.funds.margin = self.conditional_margin(book, &c.place);
        self.add_order_margin(c.place.user, market.quote, c.funds.margin);
        self.conditionals[index as usize] = c;
        self.insert_trigger(book, index);
    }

    /// Margin a waiting perpetual conditional reserves: its order's, at its price or trigger price.
    pub(crate) fn conditional_margin(&self, book: usize, place: &Place) -> i64 {
        let market = &self.markets[book];
        if market.kind != InstrumentKind::Perpetual || place.reduce_only {
            return 0;
        }
        let price = place.price.unwrap_or(place.trigger.expect("conditional").price);
        market.order_margin(price, place.qty)
    }

    pub(crate) fn add_order_margin(&mut self, user: UserId, asset: crate::types::AssetId, margin: i64) {
        let index = self.ledger_index(user, asset);
        self.order_margin[index] += margin;
        assert!(self.order_margin[index] >= 0, "negative order margin");
    }

    pub(crate) fn insert_trigger(&mut self, book: usize, index: u32) {
        let c = &self.conditionals[index as usize];
        let trigger = c.place.trigger.expect("conditional");
        let list = list_index(trigger.source, direction(c.place.side, trigger.kind));
        let entry = (trigger.price.0, c.id.sequence(), index);
        let key = sort_key(list, &entry);
        let entries = &mut self.triggers[book].lists[list];
        let at = entries.partition_point(|e| sort_key(list, e) < key);
        entries.insert(at, entry);
    }

    /// Takes a conditional out of its list and the pool, releasing what it holds; returns it as it
    /// was (with the hold it had).
    fn remove_conditional(&mut self, book: usize, list: usize, at: usize) -> Conditional {
        let (_, _, index) = self.triggers[book].lists[list].remove(at);
        let c = self.conditionals[index as usize];
        let market = self.markets[book];
        let mut funds = c.funds;
        self.release_funds(book, c.place.user, c.place.side, &mut funds);
        self.add_order_margin(c.place.user, market.quote, -c.funds.margin);
        self.conditional_free.push(index);
        c
    }

    /// Finds a user's waiting conditional on an instrument: (list, position).
    pub(crate) fn find_conditional(
        &self,
        user: UserId,
        book: usize,
        order: &OrderRef,
    ) -> Option<(usize, usize)> {
        for (list, entries) in self.triggers[book].lists.iter().enumerate() {
            for (at, &(_, _, index)) in entries.iter().enumerate() {
                let c = &self.conditionals[index as usize];
                let matches = match order {
                    OrderRef::Id(id) => c.id == *id,
                    OrderRef::Client(client) => !client.is_empty() && c.place.client_order_id == *client,
                };
                if matches && c.place.user == user {
                    return Some((list, at));
                }
            }
        }
        None
    }

    /// Cancels a waiting conditional.
    pub(crate) fn cancel_conditional(
        &mut self,
        book: usize,
        (list, at): (usize, usize),
        reason: CancelReason,
        out: &mut Vec<Event>,
    ) {
        let c = self.remove_conditional(book, list, at);
        out.push(Event::Cancelled {
            order: c.id,
            user: c.place.user,
            instrument: c.place.instrument,
            qty: c.place.qty,
            reason,
        });
        self.push_held_balance(book, c.place.user, c.place.side, out);
    }

    /// Cancels a user's conditionals on one instrument or all; returns how many.
    pub(crate) fn cancel_conditionals_of(
        &mut self,
        user: UserId,
        filter: impl Fn(&Engine, usize) -> bool,
        reason: CancelReason,
        out: &mut Vec<Event>,
    ) -> u32 {
        let mut count = 0;
        for book in 0..self.triggers.len() {
            if !filter(self, book) {
                continue;
            }
            for list in 0..4 {
                let mut at = self.triggers[book].lists[list].len();
                while at > 0 {
                    at -= 1;
                    let index = self.triggers[book].lists[list][at].2;
                    if self.conditionals[index as usize].place.user == user {
                        self.cancel_conditional(book, (list, at), reason, out);
                        count += 1;
                    }
                }
            }
        }
        count
    }

    /// Amends a waiting conditional: new price, quantity and optionally trigger price. It keeps
    /// its id and acceptance order; the new order is validated with the old hold given back.
    pub(crate) fn amend_conditional(
        &mut self,
        book: usize,
        (list, at): (usize, usize),
        amend: &Amend,
        out: &mut Vec<Event>,
    ) -> Result<(), RejectCode> {
        let index = self.triggers[book].lists[list][at].2;
        let old = self.conditionals[index as usize];
        let mut place = old.place;
        if place.price.is_some() {
            place.price = Some(amend.price);
        }
        place.qty = amend.qty;
        if let Some(price) = amend.trigger_price {
            place.trigger = place.trigger.map(|t| crate::types::Trigger { price, ..t });
        }
        if place == old.place {
            return Err(RejectCode::AmendNoChange);
        }
        let old = self.remove_conditional(book, list, at);
        let (checked_book, hold) = match self.validate_conditional(&place) {
            Ok(checked) => checked,
            Err(code) => {
                let slot = *self.conditional_free.last().expect("just freed");
                self.park_conditional(book, slot, old);
                return Err(code);
            }
        };
        debug_assert_eq!(checked_book, book);
        let slot = *self.conditional_free.last().expect("just freed");
        self.park_conditional(
            book,
            slot,
            Conditional { id: old.id, place, funds: Funds { held: hold, ..Funds::default() } },
        );
        out.push(Event::Amended {
            order: old.id,
            user: place.user,
            instrument: place.instrument,
            price: place.price.unwrap_or(Price(0)),
            qty: place.qty,
            priority_kept: false,
        });
        self.push_held_balance(book, place.user, place.side, out);
        Ok(())
    }
}

/// True when the watched price is at or past the trigger in the direction.
fn crosses(direction: Direction, price: Price, trigger: Price) -> bool {
    match direction {
        Direction::Rise => price >= trigger,
        Direction::Fall => price <= trigger,
    }
}

impl Engine {
    /// Fires every conditional whose trigger the moved prices crossed, until nothing fires.
    pub(crate) fn fire_triggers(&mut self, out: &mut Vec<Event>) {
        while let Some(book) = self.trigger_dirty.pop() {
            self.trigger_flags[book as usize] = false;
            let book = book as usize;
            while let Some(c) = self.next_due(book) {
                let (id, user, instrument) = (c.id, c.place.user, c.place.instrument);
                out.push(Event::Triggered { order: id, user, instrument });
                let place = Place { trigger: None, ..c.place };
                if let Err(code) = self.place(&place, out) {
                    out.push(Event::TriggerFailed { order: id, user, instrument, code });
                    self.push_held_balance(book, user, c.place.side, out);
                }
                if !self.risk_pending.is_empty() {
                    self.run_risk_checks(out);
                }
            }
        }
    }

    /// Pops the next conditional due on `book`, if any, releasing its hold.
    fn next_due(&mut self, book: usize) -> Option<Conditional> {
        let last = self.books[book].last_price;
        let mark = (self.markets[book].kind == InstrumentKind::Perpetual).then_some(self.markets[book].mark);
        for list in 0..4usize {
            let watched = if list < 2 { last } else { mark };
            let dir = if list.is_multiple_of(2) { Direction::Rise } else { Direction::Fall };
            let due = match (watched, self.triggers[book].lists[list].last()) {
                (Some(price), Some(&(trigger, _, _))) => crosses(dir, price, Price(trigger)),
                _ => false,
            };
            if due {
                let at = self.triggers[book].lists[list].len() - 1;
                return Some(self.remove_conditional(book, list, at));
            }
        }
        None
    }

    /// Notes that an instrument's last or mark price moved.
    pub(crate) fn flag_trigger(&mut self, book: usize) {
        // Most of the time nothing waits anywhere: one comparison, no trigger list touched.
        if self.conditional_free.len() == self.conditionals.len() {
            return;
        }
        if !self.trigger_flags[book] && self.triggers[book].lists.iter().any(|l| !l.is_empty()) {
            self.trigger_flags[book] = true;
            self.trigger_dirty.push(u32::try_from(book).expect("book fits u32"));
        }
    }

    /// The `Accepted` event of a placement (conditional or not) given its id.
    pub(crate) fn accepted(id: OrderId, place: &Place) -> crate::event::Accepted {
        crate::event::Accepted {
            order: id,
            user: place.user,
            instrument: place.instrument,
            side: place.side,
            order_type: place.order_type,
            time_in_force: place.time_in_force,
            price: place.price,
            qty: place.qty,
            self_trade: place.self_trade,
            trigger: place.trigger,
        }
    }
}

impl Engine {
    /// Waiting conditionals in a canonical order (instrument, list, position), for the state hash
    /// and the invariants: (book, list, entry).
    pub(crate) fn conditional_entries(&self) -> impl Iterator<Item = (usize, usize, (i64, u64, u32))> + '_ {
        self.triggers.iter().enumerate().flat_map(|(book, t)| {
            t.lists
                .iter()
                .enumerate()
                .flat_map(move |(list, entries)| entries.iter().map(move |e| (book, list, *e)))
        })
    }

    /// Checks the trigger lists against the pool: sorted, each waiting conditional listed once
    /// where its trigger says, its hold and margin as its order needs.
    pub(crate) fn check_conditionals(&self) -> Result<(), String> {
        let mut listed = vec![false; self.conditionals.len()];
        for (book, list, entry) in self.conditional_entries() {
            let (price, sequence, index) = entry;
            let c = &self.conditionals[index as usize];
            let trigger = c.place.trigger.ok_or("listed conditional without a trigger")?;
            if listed[index as usize] {
                return Err(format!("conditional {index} listed twice"));
            }
            listed[index as usize] = true;
            let expected_list = list_index(trigger.source, direction(c.place.side, trigger.kind));
            if list != expected_list || price != trigger.price.0 || sequence != c.id.sequence() {
                return Err(format!("conditional {:?} filed wrongly", c.id));
            }
            if c.place.instrument.0 as usize != book {
                return Err(format!("conditional {:?} on the wrong instrument", c.id));
            }
            if c.funds.margin != self.conditional_margin(book, &c.place) {
                return Err(format!("conditional {:?} reserves {} margin", c.id, c.funds.margin));
            }
        }
        for t in &self.triggers {
            for (list, entries) in t.lists.iter().enumerate() {
                if !entries.windows(2).all(|w| sort_key(list, &w[0]) < sort_key(list, &w[1])) {
                    return Err(format!("trigger list {list} out of order"));
                }
            }
        }
        let waiting = listed.iter().filter(|l| **l).count();
        if waiting + self.conditional_free.len() != self.conditionals.len()
            || self.conditional_free.iter().any(|&i| listed[i as usize])
        {
            return Err("conditional pool and free list disagree".into());
        }
        Ok(())
    }
}

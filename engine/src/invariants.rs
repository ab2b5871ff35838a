//! `check_invariants`: a full consistency check of the engine, run after every command in tests.
//!
//! Checked: no crossed book at rest; level keys strictly ordered; every level non-empty, its count
//! and total equal to its orders, every order's level, price, side and instrument agreeing with where
//! it rests; queue links consistent; no zero-quantity resting order; every taken slot reached exactly
//! once from the books, and from its user's list in ascending id order; the client index holding
//! exactly the orders with a client id; free counts agreeing with what is in use.
//! Cost: O(orders + levels + users) with allocation; tests and debugging only.

use crate::book::{NIL, UserOrders};
use crate::engine::Engine;
use crate::types::{InstrumentId, Side};

/// A broken internal invariant: a bug in the engine, never a consequence of input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("engine invariant broken: {0}")]
pub struct InvariantViolation(pub String);

macro_rules! ensure {
    ($cond:expr, $($arg:tt)*) => {
        if !$cond {
            return Err(InvariantViolation(format!($($arg)*)));
        }
    };
}

impl Engine {
    /// Checks every structural invariant (see the module docs).
    pub fn check_invariants(&self) -> Result<(), InvariantViolation> {
        let mut seen = vec![false; self.orders.len()];
        let mut levels_used = 0usize;
        for book in 0..self.books.len() {
            levels_used += self.check_book(book, &mut seen)?;
        }
        for (slot, &reached) in seen.iter().enumerate() {
            let free = self.slots.is_free(u32::try_from(slot).expect("slot fits u32"));
            ensure!(reached != free, "slot {slot}: taken={} but reached from books={reached}", !free);
        }
        ensure!(
            levels_used == self.levels_len(),
            "{levels_used} levels in books, {} taken from the pool",
            self.levels_len()
        );
        self.check_users()?;
        self.check_client_index()?;
        self.check_money()?;
        self.check_expiries()?;
        self.check_perpetuals()
    }

    /// Positions sum to zero; holder lists hold exactly the open positions; order reservations
    /// (margin, open quantity) match the resting orders; no risk check is left pending.
    /// Every resting good-till-date order is indexed and not yet due.
    fn check_expiries(&self) -> Result<(), InvariantViolation> {
        let mut indexed: Vec<_> = self.expiries.iter().map(|std::cmp::Reverse(entry)| *entry).collect();
        indexed.sort_unstable();
        for slot in 0..self.config.orders_max {
            let expiry = self.order_expiry[slot as usize];
            if !self.slots.is_free(slot) && self.orders[slot as usize].has_expiry() {
                let id = self.orders[slot as usize].id;
                ensure!(expiry > self.now_ns, "order {id:?} is past its expiry");
                ensure!(indexed.binary_search(&(expiry, id)).is_ok(), "order {id:?} expiry not indexed");
            }
        }
        Ok(())
    }

    fn check_perpetuals(&self) -> Result<(), InvariantViolation> {
        ensure!(self.risk_pending.is_empty(), "risk checks left pending");
        let users = self.config.users_max as usize;
        let mut margin = vec![0i64; self.order_margin.len()];
        let mut open = vec![(0i64, 0i64); self.positions.len()];
        for slot in 0..self.config.orders_max {
            if self.slots.is_free(slot) {
                continue;
            }
            let o = &self.orders[slot as usize];
            let market = &self.markets[o.instrument.0 as usize];
            let funds = &self.resting_funds(slot);
            if market.kind != crate::types::InstrumentKind::Perpetual {
                ensure!(funds.margin == 0, "spot order {:?} reserves margin", o.id);
                continue;
            }
            let expected = market.order_margin(o.price, o.qty);
            ensure!(funds.margin == expected, "order {:?} reserves {} not {expected}", o.id, funds.margin);
            margin[self.ledger_index(o.user, market.quote)] += expected;
            let entry = &mut open[self.position_index(market.perp, o.user)];
            match o.side {
                Side::Buy => entry.0 += o.qty.0,
                Side::Sell => entry.1 += o.qty.0,
            }
        }
        for (_, _, (_, _, index)) in self.conditional_entries() {
            let c = &self.conditionals[index as usize];
            let quote = self.markets[c.place.instrument.0 as usize].quote;
            margin[self.ledger_index(c.place.user, quote)] += c.funds.margin;
        }
        ensure!(margin == self.order_margin, "order margin totals differ from the orders");
        for user in 0..self.config.users_max {
            for asset in 0..u32::try_from(self.ledger.assets.len()).expect("assets_max fits u32") {
                let (u, a) = (crate::types::UserId(user), crate::types::AssetId(asset));
                let expected = self.position_margin_of(u, a);
                ensure!(
                    self.position_margin[self.ledger_index(u, a)] == expected,
                    "user {user} asset {asset}: running position margin differs from {expected:?}"
                );
            }
        }
        self.check_conditionals().map_err(InvariantViolation)?;
        ensure!(self.trigger_dirty.is_empty(), "moved prices left unexamined");
        for &book in &self.perp_books {
            let perp = self.markets[book as usize].perp as usize;
            let (mut sum, mut holders) = (0i128, 0usize);
            for user in 0..users {
                let p = &self.positions[perp * users + user];
                ensure!(
                    (p.open_buy, p.open_sell) == open[perp * users + user],
                    "perp {perp} user {user}: open qty"
                );
                sum += i128::from(p.qty);
                holders += usize::from(p.qty != 0);
                ensure!(p.qty != 0 || p.entry_notional == 0, "flat position with an entry notional");
            }
            ensure!(sum == 0, "perpetual {book}: positions sum to {sum}");
            let mut listed = 0usize;
            let mut holder = self.holder_after(book as usize, None);
            while let Some(user) = holder {
                ensure!(self.positions[perp * users + user as usize].qty != 0, "flat user {user} listed");
                listed += 1;
                ensure!(listed <= holders, "holder list of perpetual {book} loops");
                holder = self.holder_after(book as usize, Some(user));
            }
            ensure!(listed == holders, "holder list of perpetual {book}: {listed} of {holders}");
        }
        Ok(())
    }

    /// Conservation per asset, no negative balance, every hold explained by orders and admin holds.
    fn check_money(&self) -> Result<(), InvariantViolation> {
        let ledger = &self.ledger;
        let assets = ledger.assets.len();
        let mut expected_held = vec![0i128; ledger.users.len() * assets];
        for slot in 0..self.config.orders_max {
            if self.slots.is_free(slot) {
                continue;
            }
            let o = &self.orders[slot as usize];
            let market = &self.markets[o.instrument.0 as usize];
            let funds = &self.resting_funds(slot);
            let hold = match market.kind {
                crate::types::InstrumentKind::Spot => {
                    market.order_hold(o.side, Some(o.price), o.qty, 0, funds)
                }
                crate::types::InstrumentKind::Perpetual => 0,
            };
            ensure!(funds.held == hold, "order {:?} holds {} but its state needs {hold}", o.id, funds.held);
            let asset = market.held_asset(o.side);
            expected_held[o.user.0 as usize * assets + asset.0 as usize] += i128::from(hold);
        }
        for (_, _, (_, _, index)) in self.conditional_entries() {
            let c = &self.conditionals[index as usize];
            let market = &self.markets[c.place.instrument.0 as usize];
            if market.kind == crate::types::InstrumentKind::Spot {
                let p = &c.place;
                let hold = market.order_hold(
                    p.side,
                    p.price,
                    p.qty,
                    p.quote_budget,
                    &crate::money::Funds::default(),
                );
                ensure!(c.funds.held == hold, "conditional {:?} holds {} not {hold}", c.id, c.funds.held);
            }
            let asset = market.held_asset(c.place.side);
            expected_held[c.place.user.0 as usize * assets + asset.0 as usize] += i128::from(c.funds.held);
        }
        for (&(user, asset), &amount) in &ledger.admin_holds {
            ensure!(amount > 0, "empty admin hold kept for {user:?} {asset:?}");
            expected_held[user.0 as usize * assets + asset.0 as usize] += i128::from(amount);
        }
        let limited =
            ledger.users.iter().filter(|u| u.limits != crate::limits::UserLimits::default()).count();
        ensure!(
            limited == self.limited_users as usize,
            "{limited} users have limits, counted {}",
            self.limited_users
        );
        let mut totals = vec![0i128; assets];
        for (user, info) in ledger.users.iter().enumerate() {
            for (asset, total) in totals.iter_mut().enumerate() {
                let b = ledger.accounts[user * ledger.assets_max as usize + asset];
                ensure!(
                    info.exists || b == crate::ledger::Balance::default(),
                    "user {user} has money, no user"
                );
                ensure!(b.available >= 0 && b.held >= 0, "user {user} asset {asset}: negative balance {b:?}");
                ensure!(
                    i128::from(b.held) == expected_held[user * assets + asset],
                    "user {user} asset {asset}: held {} but orders and admin holds need {}",
                    b.held,
                    expected_held[user * assets + asset]
                );
                *total += i128::from(b.available) + i128::from(b.held);
            }
        }
        for (asset, state) in ledger.assets.iter().enumerate() {
            ensure!(state.system.iter().all(|&v| v >= 0), "asset {asset}: negative system account");
            let total = totals[asset] + state.system.iter().map(|&v| i128::from(v)).sum::<i128>();
            ensure!(
                total == i128::from(state.net_deposits),
                "asset {asset}: accounts sum to {total}, deposits minus withdrawals are {}",
                state.net_deposits
            );
            ensure!(state.net_deposits <= crate::types::BALANCE_MAX, "asset {asset} total above the limit");
        }
        Ok(())
    }

    fn check_book(&self, book: usize, seen: &mut [bool]) -> Result<usize, InvariantViolation> {
        let instrument = InstrumentId(u32::try_from(book).expect("book fits u32"));
        let b = &self.books[book];
        if let (Some((bid, _)), Some((ask, _))) =
            (self.best(instrument, Side::Buy), self.best(instrument, Side::Sell))
        {
            ensure!(bid < ask, "book {book} crossed at rest: bid {bid:?} >= ask {ask:?}");
        }
        for side in [&b.bids, &b.asks] {
            let mut previous = None;
            for level_index in side.iter_best_first() {
                let level = &self.levels.levels[level_index as usize];
                if let Some(p) = previous {
                    let worse = match side.side {
                        Side::Buy => level.price < p,
                        Side::Sell => level.price > p,
                    };
                    ensure!(
                        worse,
                        "book {book} {:?}: level {:?} not worse than {p:?}",
                        side.side,
                        level.price
                    );
                }
                previous = Some(level.price);
                ensure!(level.count > 0, "book {book}: empty level at {:?}", level.price);
                let (mut count, mut total, mut prev, mut slot) = (0u32, 0i64, NIL, level.head);
                while slot != NIL {
                    let o = &self.orders[slot as usize];
                    ensure!(!seen[slot as usize], "slot {slot} reached twice");
                    seen[slot as usize] = true;
                    ensure!(o.qty.0 > 0, "order {:?} rests with quantity {:?}", o.id, o.qty);
                    ensure!(
                        o.level == level_index && o.price == level.price,
                        "order {:?} level mismatch",
                        o.id
                    );
                    ensure!(
                        o.side == side.side && o.instrument == instrument,
                        "order {:?} side/book mismatch",
                        o.id
                    );
                    ensure!(self.links[slot as usize].prev == prev, "order {:?} prev link broken", o.id);
                    ensure!(o.id.slot() == slot, "order {:?} sits in slot {slot}", o.id);
                    count += 1;
                    total += o.qty.0;
                    prev = slot;
                    slot = self.links[slot as usize].next;
                }
                ensure!(level.tail == prev, "level {:?} tail broken", level.price);
                ensure!(level.count == count, "level {:?} count {} != {count}", level.price, level.count);
                ensure!(level.total.0 == total, "level {:?} total {:?} != {total}", level.price, level.total);
            }
        }
        Ok(b.bids.len() + b.asks.len())
    }

    fn check_users(&self) -> Result<(), InvariantViolation> {
        let mut listed = 0usize;
        for (user, list) in self.users.iter().enumerate() {
            let info = &self.ledger.users[user];
            let status = u32::from(info.exists) * UserOrders::EXISTS
                + u32::from(info.suspended) * UserOrders::SUSPENDED;
            ensure!(list.status == status, "user {user}: status {} does not mirror the ledger", list.status);
            let (mut count, mut prev, mut slot) = (0u32, NIL, list.head);
            while slot != NIL {
                let o = &self.orders[slot as usize];
                ensure!(!self.slots.is_free(slot), "user {user} lists free slot {slot}");
                ensure!(o.user.0 as usize == user, "user {user} lists order {:?} of {:?}", o.id, o.user);
                ensure!(self.links[slot as usize].user_prev == prev, "user {user} list prev link broken");
                if prev != NIL {
                    ensure!(self.orders[prev as usize].id < o.id, "user {user} list not in id order");
                }
                count += 1;
                prev = slot;
                slot = self.links[slot as usize].user_next;
            }
            ensure!(list.tail == prev && list.count == count, "user {user} list tail/count broken");
            listed += count as usize;
        }
        ensure!(listed == self.resting_orders_len(), "user lists hold {listed} orders");
        Ok(())
    }

    fn check_client_index(&self) -> Result<(), InvariantViolation> {
        let mut with_id = 0usize;
        for slot in 0..self.config.orders_max {
            if self.slots.is_free(slot) || !self.orders[slot as usize].has_client_id() {
                continue;
            }
            with_id += 1;
            let o = &self.orders[slot as usize];
            let client_id = &self.client_ids[slot as usize];
            ensure!(!client_id.is_empty(), "order {:?} flagged with an empty client id", o.id);
            ensure!(
                self.find_client_order(o.user, client_id) == Some(slot),
                "order {:?} not found by client id",
                o.id
            );
        }
        for slot in self.client_index.slots() {
            ensure!(!self.slots.is_free(slot), "client index names free slot {slot}");
        }
        ensure!(
            with_id == self.client_index.len(),
            "client index holds {} entries for {with_id} orders",
            self.client_index.len()
        );
        Ok(())
    }
}

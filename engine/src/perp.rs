//! Perpetual futures: positions, margin, variation margin, funding (see `docs/MONEY.md`).
//!
//! Money model (variation margin): every position is settled to its instrument's mark price, so a
//! user's equity is exactly its available balance of the settlement asset:
//! - a trade at price `t` moves `(t - mark) * qty` from buyer to seller (zero-sum), plus fees;
//! - a mark change from `m` to `m'` moves `(m' - m) * qty` to every holder (zero-sum: positions sum
//!   to zero); funding moves `rate * mark * |qty|` from one side to the other;
//! - over a position's life the cash it moved equals its realized PnL as Binance reports it
//!   (`Event::Position` carries that figure, and the entry notional, for display);
//! - a payer that cannot pay in full pays what it has; the insurance fund covers the rest; when the
//!   fund is empty too, receivers are cut pro rata and `InsuranceShortfall` is emitted (no ADL).
//!
//! Margin, per user and settlement asset (cross): initial = sum over positions of
//! `ceil(|qty| * mark * unit * initial_bps / 10^4)` plus the margin reserved by open orders
//! (`ceil(notional * (initial_bps + fee_cap_bps) / 10^4)` each); maintenance likewise with
//! `maintenance_bps`. An order is accepted when available - initial - (its margin + the loss of
//! trading at its price against the mark) stays >= 0; reduce-only orders need no margin.
//!
//! Positions live in a dense table (`perpetuals_max * users_max` entries of 48 bytes), with a list of
//! holders per perpetual in the order positions were opened (mark and funding iterate it).
//! A position never exceeds the instrument's `position_max` counting open orders, which bounds
//! every product by `NOTIONAL_MAX`. Complexity: a fill O(perpetuals) for the risk check; a mark
//! change or funding O(holders).

use crate::engine::Engine;
use crate::event::Event;
use crate::ledger::SystemAccount;
use crate::matching::Taker;
use crate::money::{FeeStep, notional};
use crate::spot::Market;
use crate::types::{AssetId, BPS_ONE, InstrumentId, Price, Qty, Side, UserId};

/// End of a holder list.
const NONE: u32 = u32::MAX;

/// One user's position on one perpetual.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Position {
    /// Signed lots, positive long.
    pub(crate) qty: i64,
    /// Cost of the open quantity at its entry prices, quote minor units.
    pub(crate) entry_notional: i64,
    /// Realized PnL since the position was opened (display; saturating).
    pub(crate) realized_pnl: i64,
    /// Open quantity of the user's resting buy and sell orders on this perpetual.
    pub(crate) open_buy: i64,
    pub(crate) open_sell: i64,
    /// Holder list links (user ids), meaningful while `qty != 0`.
    pub(crate) prev: u32,
    pub(crate) next: u32,
}

impl Default for Position {
    fn default() -> Self {
        Position {
            qty: 0,
            entry_notional: 0,
            realized_pnl: 0,
            open_buy: 0,
            open_sell: 0,
            prev: NONE,
            next: NONE,
        }
    }
}

/// `ceil(value * bps / 10^4)` for non-negative values.
pub(crate) fn bps_ceil(value: i64, bps: i64) -> i64 {
    debug_assert!(value >= 0 && bps >= 0);
    match (u64::try_from(value).ok()).and_then(|v| v.checked_mul(u64::try_from(bps).ok()?)) {
        Some(product) if product <= u64::MAX - 10_000 => {
            i64::try_from(product.div_ceil(10_000)).expect("below the value")
        }
        _ => {
            let product = i128::from(value) * i128::from(bps);
            i64::try_from((product + i128::from(BPS_ONE) - 1) / i128::from(BPS_ONE))
                .expect("bounded by NOTIONAL_MAX")
        }
    }
}

/// `a * b * c` for values the listing bounds by `NOTIONAL_MAX`.
fn product(a: i64, b: i64, c: i64) -> i64 {
    i64::try_from(i128::from(a) * i128::from(b) * i128::from(c)).expect("bounded by position_max at listing")
}

impl Market {
    /// Margin an open order reserves: initial margin and the largest fee on its notional.
    pub(crate) fn order_margin(&self, price: Price, qty: Qty) -> i64 {
        bps_ceil(notional(price, qty, self.quote_unit), self.initial_bps + self.fees.cap_bps())
    }

    /// Mark notional of a position.
    fn position_notional(&self, qty: i64) -> i64 {
        product(qty.abs(), self.mark.0, self.quote_unit)
    }

    /// Initial and maintenance margin of a position at the mark.
    pub(crate) fn position_margin(&self, qty: i64) -> MarginUse {
        if qty == 0 {
            return MarginUse::default();
        }
        let value = self.position_notional(qty);
        MarginUse {
            initial: bps_ceil(value, self.initial_bps),
            maintenance: bps_ceil(value, self.maintenance_bps),
        }
    }
}

/// Per user and settlement asset: initial and maintenance margin in use (also the running total of
/// positions' margin kept in `Engine::position_margin`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct MarginUse {
    pub(crate) initial: i64,
    pub(crate) maintenance: i64,
}

impl Engine {
    pub(crate) fn position_index(&self, perp: u32, user: UserId) -> usize {
        perp as usize * self.config.users_max as usize + user.0 as usize
    }

    pub(crate) fn position(&self, book: usize, user: UserId) -> &Position {
        &self.positions[self.position_index(self.markets[book].perp, user)]
    }

    fn position_mut(&mut self, book: usize, user: UserId) -> &mut Position {
        let index = self.position_index(self.markets[book].perp, user);
        &mut self.positions[index]
    }

    /// Margin a user uses in `asset` across its perpetual positions and orders.
    pub(crate) fn margin_use(&self, user: UserId, asset: AssetId) -> MarginUse {
        let index = self.ledger_index(user, asset);
        let positions = self.position_margin[index];
        MarginUse {
            initial: self.order_margin[index] + positions.initial,
            maintenance: positions.maintenance,
        }
    }

    /// Margin a user's positions need in `asset`, computed from the positions (the running total
    /// `position_margin` must equal it: `check_invariants`).
    pub(crate) fn position_margin_of(&self, user: UserId, asset: AssetId) -> MarginUse {
        let mut total = MarginUse::default();
        for &book in &self.perp_books {
            let market = &self.markets[book as usize];
            if market.quote == asset {
                let margin = market.position_margin(self.position(book as usize, user).qty);
                total.initial += margin.initial;
                total.maintenance += margin.maintenance;
            }
        }
        total
    }

    /// Moves a user's running position margin from what a position needed to what it needs now.
    pub(crate) fn update_position_margin(
        &mut self,
        user: UserId,
        asset: AssetId,
        before: MarginUse,
        after: MarginUse,
    ) {
        let index = self.ledger_index(user, asset);
        let total = &mut self.position_margin[index];
        total.initial += after.initial - before.initial;
        total.maintenance += after.maintenance - before.maintenance;
        debug_assert!(total.initial >= 0 && total.maintenance >= 0);
    }

    /// What a user may withdraw, hold or spend of `asset` without touching perpetual margin.
    pub(crate) fn spendable(&self, user: UserId, asset: AssetId) -> i64 {
        let available = self.ledger.balance(user, asset).available;
        if self.perp_books.is_empty() {
            return available;
        }
        available - self.margin_use(user, asset).initial
    }

    pub(crate) fn ledger_index(&self, user: UserId, asset: AssetId) -> usize {
        user.0 as usize * self.config.assets_max as usize + asset.0 as usize
    }

    /// Adds a resting perpetual order's reservation (margin and open quantity), or removes it.
    pub(crate) fn reserve_perp_order(&mut self, slot: u32, margin: i64, sign: i64) {
        let order = self.orders[slot as usize];
        let book = order.instrument.0 as usize;
        let index = self.ledger_index(order.user, self.markets[book].quote);
        self.order_margin[index] += sign * margin;
        let position = self.position_mut(book, order.user);
        match order.side {
            Side::Buy => position.open_buy += sign * order.qty.0,
            Side::Sell => position.open_sell += sign * order.qty.0,
        }
        assert!(self.order_margin[index] >= 0, "negative order margin");
    }

    /// Marks a user for the risk check that ends the command.
    pub(crate) fn flag_risk(&mut self, user: UserId) {
        let flag = &mut self.risk_flags[user.0 as usize];
        if !*flag {
            *flag = true;
            self.risk_pending.push(user.0);
        }
    }

    /// Pays `amount` from one user to another in `asset`; what the payer lacks comes from the
    /// insurance fund, and what the fund lacks is reported and not received.
    pub(crate) fn pay(
        &mut self,
        asset: AssetId,
        from: UserId,
        to: UserId,
        amount: i64,
        out: &mut Vec<Event>,
    ) {
        debug_assert!(amount >= 0);
        let paid = self.take_available(from, asset, amount);
        let covered = self.cover_from_insurance(asset, amount - paid, out);
        self.ledger.credit(to, asset, paid + covered);
    }

    /// Takes up to `amount` of the user's available balance; returns what it took.
    pub(crate) fn take_available(&mut self, user: UserId, asset: AssetId, amount: i64) -> i64 {
        let balance = self.ledger.balance_mut(user, asset);
        let taken = amount.min(balance.available).max(0);
        balance.available -= taken;
        taken
    }

    /// Takes up to `shortfall` from the insurance fund; reports what it could not cover.
    fn cover_from_insurance(&mut self, asset: AssetId, shortfall: i64, out: &mut Vec<Event>) -> i64 {
        if shortfall == 0 {
            return 0;
        }
        let fund = self.ledger.system_mut(asset, SystemAccount::Insurance);
        let covered = shortfall.min(*fund);
        *fund -= covered;
        if covered < shortfall {
            out.push(Event::InsuranceShortfall { asset, amount: shortfall - covered });
        }
        covered
    }

    /// Charges a fill's fee and pays its rebate (never more than the fee account holds).
    fn charge_fee(&mut self, asset: AssetId, user: UserId, step: FeeStep) {
        let fee = self.take_available(user, asset, step.fee);
        let fund = self.ledger.system_mut(asset, SystemAccount::Fee);
        *fund += fee;
        let rebate = step.rebate.min(*fund);
        *fund -= rebate;
        self.ledger.credit(user, asset, rebate);
    }

    /// Settles a perpetual fill between the maker in `slot` (already reduced by `qty`) and the taker.
    pub(crate) fn settle_perp(
        &mut self,
        book: usize,
        slot: u32,
        taker: &mut Taker,
        (price, qty): (Price, Qty),
        out: &mut Vec<Event>,
    ) {
        let market = self.markets[book];
        let maker = self.orders[slot as usize];
        let value = notional(price, qty, market.quote_unit);
        let mut maker_funds = self.resting_funds(slot);
        let maker_step = maker_funds.record_fill(market.fees, value, true);
        let taker_step = if taker.fees_waived {
            FeeStep::default()
        } else {
            taker.funds.record_fill(market.fees, value, false)
        };
        // The maker's reservation follows its open quantity.
        let margin_after = market.order_margin(maker.price, maker.qty);
        let index = self.ledger_index(maker.user, market.quote);
        self.order_margin[index] += margin_after - maker_funds.margin;
        maker_funds.margin = margin_after;
        self.store_resting_funds(slot, maker_funds);
        let position = self.position_mut(book, maker.user);
        match maker.side {
            Side::Buy => position.open_buy -= qty.0,
            Side::Sell => position.open_sell -= qty.0,
        }
        let (buyer, seller) = match taker.side {
            Side::Buy => (taker.user, maker.user),
            Side::Sell => (maker.user, taker.user),
        };
        let flow = product(price.0 - market.mark.0, qty.0, market.quote_unit);
        if flow >= 0 {
            self.pay(market.quote, buyer, seller, flow, out);
        } else {
            self.pay(market.quote, seller, buyer, -flow, out);
        }
        self.charge_fee(market.quote, maker.user, maker_step);
        self.charge_fee(market.quote, taker.user, taker_step);
        for (user, side) in [(maker.user, maker.side), (taker.user, taker.side)] {
            self.move_position(book, user, side, price, qty, out);
            self.flag_risk(user);
        }
    }

    /// Applies a fill to a user's position and reports it.
    fn move_position(
        &mut self,
        book: usize,
        user: UserId,
        side: Side,
        price: Price,
        qty: Qty,
        out: &mut Vec<Event>,
    ) {
        let unit = self.markets[book].quote_unit;
        let perp = self.markets[book].perp;
        let signed = if side == Side::Buy { qty.0 } else { -qty.0 };
        let before = *self.position(book, user);
        let mut after = before;
        if before.qty == 0 || (before.qty > 0) == (signed > 0) {
            if before.qty == 0 {
                after.realized_pnl = 0;
            }
            after.entry_notional += product(price.0, qty.0, unit);
        } else {
            let closed = qty.0.min(before.qty.abs());
            let basis = i64::try_from(
                i128::from(before.entry_notional) * i128::from(closed) / i128::from(before.qty.abs()),
            )
            .expect("part of the entry notional");
            let exit = product(price.0, closed, unit);
            let pnl = if before.qty > 0 { exit - basis } else { basis - exit };
            after.realized_pnl = after.realized_pnl.saturating_add(pnl);
            after.entry_notional -= basis;
            if qty.0 > closed {
                after.entry_notional = product(price.0, qty.0 - closed, unit);
            }
        }
        after.qty += signed;
        if after.qty == 0 {
            after.entry_notional = 0;
        }
        let market = &self.markets[book];
        let (margin_before, margin_after) =
            (market.position_margin(before.qty), market.position_margin(after.qty));
        self.update_position_margin(user, market.quote, margin_before, margin_after);
        let index = self.position_index(perp, user);
        self.positions[index] = after;
        match (before.qty == 0, after.qty == 0) {
            (true, false) => self.link_holder(book, user),
            (false, true) => self.unlink_holder(book, user),
            _ => {}
        }
        out.push(Event::Position {
            user,
            instrument: InstrumentId(u32::try_from(book).expect("book fits u32")),
            qty: after.qty,
            entry_notional: after.entry_notional,
            realized_pnl: after.realized_pnl,
        });
    }

    pub(crate) fn link_holder(&mut self, book: usize, user: UserId) {
        let perp = self.markets[book].perp;
        let tail = self.holders[perp as usize].1;
        let index = self.position_index(perp, user);
        (self.positions[index].prev, self.positions[index].next) = (tail, NONE);
        if tail == NONE {
            self.holders[perp as usize].0 = user.0;
        } else {
            let tail_index = self.position_index(perp, UserId(tail));
            self.positions[tail_index].next = user.0;
        }
        self.holders[perp as usize].1 = user.0;
    }

    fn unlink_holder(&mut self, book: usize, user: UserId) {
        let perp = self.markets[book].perp;
        let index = self.position_index(perp, user);
        let Position { prev, next, .. } = self.positions[index];
        if prev == NONE {
            self.holders[perp as usize].0 = next;
        } else {
            let i = self.position_index(perp, UserId(prev));
            self.positions[i].next = next;
        }
        if next == NONE {
            self.holders[perp as usize].1 = prev;
        } else {
            let i = self.position_index(perp, UserId(next));
            self.positions[i].prev = prev;
        }
        (self.positions[index].prev, self.positions[index].next) = (NONE, NONE);
    }

    /// The holders of a perpetual, in the order their positions opened.
    pub(crate) fn holder_after(&self, book: usize, user: Option<u32>) -> Option<u32> {
        let perp = self.markets[book].perp;
        let next = match user {
            None => self.holders[perp as usize].0,
            Some(user) => self.positions[self.position_index(perp, UserId(user))].next,
        };
        (next != NONE).then_some(next)
    }
}

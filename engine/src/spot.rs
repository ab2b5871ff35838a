//! Spot money: what an order holds, how a fill settles, what is released (see `docs/MONEY.md`).
//!
//! - A buy holds quote: `FeeRates::buy_hold` of its notional cap (limit price times open quantity, or
//!   for a market buy with a budget the unspent budget). A sell holds base: open quantity times
//!   `base_unit`. Fees are always in quote: a buyer pays them from its hold, a seller from proceeds.
//! - A fill settles both sides at once: the buyer's hold pays the notional and its fee and the excess
//!   over its new hold is released; the seller's held base goes to the buyer; the seller receives the
//!   notional less its fee; the fee account receives both fees less any maker rebate.
//! - When an order leaves the book (filled, cancelled, expired) or a taker ends, its remaining hold
//!   is released to available.
//!
//! Invariant: an order's `Funds::held` equals `order_hold` of its current state, and a user's held
//! balance equals the sum over its orders plus its admin hold (checked by `check_invariants`).
//! Complexity: O(1) per fill, no allocation.

use crate::engine::Engine;
use crate::event::Event;
use crate::limits::InstrumentLimits;
use crate::matching::Taker;
use crate::money::{FeeRates, FeeStep, Funds, notional};
use crate::types::{AssetId, InstrumentKind, Price, Qty, Side, UserId};

/// The money side of an instrument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Market {
    pub(crate) kind: InstrumentKind,
    pub(crate) base: AssetId,
    pub(crate) quote: AssetId,
    /// Minor units of quote per tick and lot.
    pub(crate) quote_unit: i64,
    /// Minor units of base per lot (spot).
    pub(crate) base_unit: i64,
    pub(crate) fees: FeeRates,
    pub(crate) halted: bool,
    /// Perpetuals: index into the position table; `u32::MAX` for spot.
    pub(crate) perp: u32,
    /// Perpetuals: mark price, ticks (every position is settled to it).
    pub(crate) mark: Price,
    /// Perpetuals: initial and maintenance margin rates, basis points.
    pub(crate) initial_bps: i64,
    pub(crate) maintenance_bps: i64,
    /// Pre-trade limits (limits.rs).
    pub(crate) limits: InstrumentLimits,
}

impl Market {
    /// True when orders' margins and traded notionals matter: perpetuals, and instruments with fees.
    pub(crate) fn tracks_funds(&self) -> bool {
        self.kind == InstrumentKind::Perpetual || !self.fees.is_zero()
    }

    /// The asset an order on `side` holds.
    pub(crate) fn held_asset(&self, side: Side) -> AssetId {
        match side {
            Side::Buy => self.quote,
            Side::Sell => self.base,
        }
    }

    /// What a buy's remaining notional can still reach: the unspent budget, or price times open qty.
    pub(crate) fn buy_cap(&self, limit: Option<Price>, qty: Qty, budget: i64, funds: &Funds) -> i64 {
        if budget > 0 {
            budget - funds.spent()
        } else {
            notional(limit.expect("a buy without a budget has a price bound"), qty, self.quote_unit)
        }
    }

    /// What an order in this state holds (spot).
    pub(crate) fn order_hold(
        &self,
        side: Side,
        limit: Option<Price>,
        qty: Qty,
        budget: i64,
        funds: &Funds,
    ) -> i64 {
        match side {
            Side::Buy => {
                let cap = self.buy_cap(limit, qty, budget, funds);
                self.fees.buy_hold(cap, funds.taker_notional, funds.maker_notional)
            }
            Side::Sell => qty.0 * self.base_unit,
        }
    }
}

/// One side of a spot fill, as the settlement sees it.
struct Party {
    user: UserId,
    side: Side,
    /// The order's notional cap after the fill (buys).
    cap_after: i64,
    step: FeeStep,
}

impl Engine {
    /// Settles a spot fill between the maker in `slot` (already reduced by `qty`) and the taker.
    pub(crate) fn settle_spot(&mut self, book: usize, slot: u32, taker: &mut Taker, price: Price, qty: Qty) {
        let market = self.markets[book];
        let value = notional(price, qty, market.quote_unit);
        let maker = self.orders[slot as usize];
        let mut maker_funds = self.resting_funds(slot);
        let maker_step = maker_funds.record_fill(market.fees, value, true);
        let maker_party = Party {
            user: maker.user,
            side: maker.side,
            step: maker_step,
            cap_after: market.buy_cap(Some(maker.price), maker.qty, 0, &maker_funds),
        };
        let taker_step = taker.funds.record_fill(market.fees, value, false);
        let taker_party = Party {
            user: taker.user,
            side: taker.side,
            step: taker_step,
            cap_after: if taker.side == Side::Buy {
                market.buy_cap(taker.limit, taker.qty, taker.budget, &taker.funds)
            } else {
                0
            },
        };
        let base_amount = qty.0 * market.base_unit;
        self.settle_party(&market, &maker_party, &mut maker_funds, value, base_amount);
        self.settle_party(&market, &taker_party, &mut taker.funds, value, base_amount);
        self.store_resting_funds(slot, maker_funds);
        if !market.fees.is_zero() {
            let fees = maker_party.step.fee + taker_party.step.fee
                - maker_party.step.rebate
                - taker_party.step.rebate;
            let fee_account = self.ledger.system_mut(market.quote, crate::ledger::SystemAccount::Fee);
            *fee_account += fees;
            assert!(*fee_account >= 0, "fee account negative: rebates exceed fees");
        }
    }

    fn settle_party(
        &mut self,
        market: &Market,
        party: &Party,
        funds: &mut Funds,
        value: i64,
        base_amount: i64,
    ) {
        let (quote, base) = (market.quote, market.base);
        match party.side {
            Side::Buy => {
                let hold_after =
                    market.fees.buy_hold(party.cap_after, funds.taker_notional, funds.maker_notional);
                let release = funds.held - value - party.step.fee - hold_after;
                assert!(release >= 0, "buy hold {} short of fill {value} + fee {:?}", funds.held, party.step);
                self.ledger.spend_held(party.user, quote, value + party.step.fee);
                self.ledger.release(party.user, quote, release);
                self.ledger.credit(party.user, quote, party.step.rebate);
                self.ledger.credit(party.user, base, base_amount);
                funds.held = hold_after;
            }
            Side::Sell => {
                self.ledger.spend_held(party.user, base, base_amount);
                funds.held -= base_amount;
                self.ledger.credit(party.user, quote, value - party.step.fee + party.step.rebate);
            }
        }
    }

    /// Releases what an order or taker still holds.
    pub(crate) fn release_funds(&mut self, book: usize, user: UserId, side: Side, funds: &mut Funds) {
        if funds.held > 0 {
            let asset = self.markets[book].held_asset(side);
            self.ledger.release(user, asset, funds.held);
            funds.held = 0;
        }
    }

    /// Reports the balance an order's hold changed: the asset it holds (spot). A perpetual order
    /// holds nothing, so there is nothing to report.
    pub(crate) fn push_held_balance(&self, book: usize, user: UserId, side: Side, out: &mut Vec<Event>) {
        let market = &self.markets[book];
        if market.kind == InstrumentKind::Spot {
            self.push_balance(user, market.held_asset(side), out);
        }
    }

    /// Reports the balances a command changed for a user: after fills, every asset the market moves;
    /// otherwise the one its hold changed.
    pub(crate) fn push_balances_after(
        &self,
        book: usize,
        user: UserId,
        side: Side,
        traded: bool,
        out: &mut Vec<Event>,
    ) {
        if traded {
            self.push_market_balances(book, user, out);
        } else {
            self.push_held_balance(book, user, side, out);
        }
    }

    /// Reports the user's balances of the assets a market moves (spot: base and quote; perpetual:
    /// the settlement asset).
    pub(crate) fn push_market_balances(&self, book: usize, user: UserId, out: &mut Vec<Event>) {
        let market = &self.markets[book];
        if market.kind == InstrumentKind::Spot {
            self.push_balance(user, market.base, out);
        }
        self.push_balance(user, market.quote, out);
    }
}

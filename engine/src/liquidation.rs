//! Liquidation: after any command that moved perpetual money (a fill, a mark change, funding), each
//! affected user whose equity (available balance of a settlement asset) is below its maintenance
//! margin in that asset is liquidated, in user id order. Rules (docs/MONEY.md has worked examples):
//! 1. `Liquidation` is emitted with the equity and maintenance margin found;
//! 2. every open order of the user that reserves that asset is cancelled (reason `Liquidation`):
//!    its perpetual orders settled in it and its spot orders holding it;
//! 3. if the equity is still below maintenance, each of its positions in that asset, in instrument
//!    order, is closed by an IOC market order of the whole position, fee waived, bounded by the
//!    bankruptcy price: the price at which closing it would use up the user's remaining equity
//!    (`mark -/+ floor(equity / (|qty| * unit))`, clamped to the instrument's range). Closing inside
//!    the bound never costs more than the equity, so the user's balance never goes negative;
//! 4. when every position in the asset is closed, the liquidation fee, the smaller of the remaining
//!    equity and the maintenance margin found in step 1, goes to the insurance fund;
//! 5. a position the book could not absorb within the bound stays open; the user is checked again
//!    after the next fill, mark change or funding. A loss beyond the user's equity can only arise
//!    from a mark change or funding; the insurance fund takes it (see marks.rs).
//!
//! Counterparties of liquidation fills are checked too, in later rounds, until no user is left
//! below maintenance margin. No auto-deleveraging: when the fund runs dry, `InsuranceShortfall` is
//! emitted and receivers are cut pro rata. Complexity: O(orders + perpetuals + fills) per user.
//! No allocation: the pending lists are sized `users_max` up front.

use crate::book::NIL;
use crate::engine::Engine;
use crate::event::{Accepted, CancelReason, Event};
use crate::ledger::SystemAccount;
use crate::matching::Taker;
use crate::money::Funds;
use crate::types::{
    AssetId, InstrumentId, InstrumentKind, ORDER_SEQUENCE_MAX, ORDER_SLOT_NONE, OrderId, OrderType, Price,
    Qty, SelfTradePrevention, Side, TimeInForce, UserId,
};

impl Engine {
    /// Runs the risk checks the command queued, round after round, in user id order.
    pub(crate) fn run_risk_checks(&mut self, out: &mut Vec<Event>) {
        while !self.risk_pending.is_empty() {
            std::mem::swap(&mut self.risk_pending, &mut self.risk_round);
            self.risk_round.sort_unstable();
            for i in 0..self.risk_round.len() {
                let user = self.risk_round[i];
                self.risk_flags[user as usize] = false;
                self.check_user_risk(UserId(user), out);
            }
            self.risk_round.clear();
        }
    }

    /// Liquidates the user in each settlement asset where it is below maintenance margin.
    fn check_user_risk(&mut self, user: UserId, out: &mut Vec<Event>) {
        for i in 0..self.perp_books.len() {
            let asset = self.markets[self.perp_books[i] as usize].quote;
            let first_of_asset =
                self.perp_books[..i].iter().all(|&b| self.markets[b as usize].quote != asset);
            if !first_of_asset {
                continue;
            }
            let maintenance = self.margin_use(user, asset).maintenance;
            let equity = self.ledger.balance(user, asset).available;
            if maintenance > 0 && equity < maintenance {
                self.liquidate(user, asset, equity, maintenance, out);
            }
        }
    }

    fn liquidate(
        &mut self,
        user: UserId,
        asset: AssetId,
        equity: i64,
        maintenance: i64,
        out: &mut Vec<Event>,
    ) {
        out.push(Event::Liquidation { user, asset, equity, maintenance });
        self.cancel_orders_in(user, asset, out);
        if self.ledger.balance(user, asset).available >= maintenance {
            return;
        }
        let mut flat = true;
        for i in 0..self.perp_books.len() {
            let book = self.perp_books[i] as usize;
            if self.markets[book].quote != asset || self.position(book, user).qty == 0 {
                continue;
            }
            self.close_at_bankruptcy(book, user, out);
            flat &= self.position(book, user).qty == 0;
        }
        if flat {
            let fee = self.take_available(user, asset, maintenance);
            *self.ledger.system_mut(asset, SystemAccount::Insurance) += fee;
            self.push_balance(user, asset, out);
        }
    }

    /// Cancels every order of the user that reserves `asset`.
    fn cancel_orders_in(&mut self, user: UserId, asset: AssetId, out: &mut Vec<Event>) {
        let mut slot = self.users[user.0 as usize].head;
        while slot != NIL {
            let next = self.links[slot as usize].user_next;
            let order = self.orders[slot as usize];
            let book = order.instrument.0 as usize;
            let market = &self.markets[book];
            let reserves = match market.kind {
                InstrumentKind::Perpetual => market.quote == asset,
                InstrumentKind::Spot => market.held_asset(order.side) == asset,
            };
            if reserves {
                self.cancel_resting(book, slot, CancelReason::Liquidation, out);
            }
            slot = next;
        }
        self.cancel_conditionals_of(
            user,
            |engine, book| {
                let market = &engine.markets[book];
                market.quote == asset || (market.kind == InstrumentKind::Spot && market.base == asset)
            },
            CancelReason::Liquidation,
            out,
        );
    }

    /// Closes a position with a fee-free IOC bounded by the bankruptcy price.
    fn close_at_bankruptcy(&mut self, book: usize, user: UserId, out: &mut Vec<Event>) {
        if self.orders_accepted >= ORDER_SEQUENCE_MAX {
            return;
        }
        let market = self.markets[book];
        let spec = self.books[book].spec;
        let qty = self.position(book, user).qty;
        let equity = self.ledger.balance(user, market.quote).available;
        let ticks = equity / (qty.abs() * market.quote_unit);
        let (side, bound) = if qty > 0 {
            (Side::Sell, Price((market.mark.0 - ticks).max(spec.price_min.0)))
        } else {
            (Side::Buy, Price(market.mark.0.saturating_add(ticks).min(spec.price_max.0)))
        };
        self.orders_accepted += 1;
        let id = OrderId::new(self.orders_accepted, ORDER_SLOT_NONE);
        let instrument = InstrumentId(u32::try_from(book).expect("book fits u32"));
        out.push(Event::Accepted(Accepted {
            order: id,
            user,
            instrument,
            side,
            order_type: OrderType::Market,
            time_in_force: TimeInForce::Ioc,
            price: Some(bound),
            qty: Qty(qty.abs()),
            self_trade: SelfTradePrevention::None,
            trigger: None,
        }));
        let mut taker = Taker {
            id,
            user,
            instrument,
            side,
            limit: Some(bound),
            qty: Qty(qty.abs()),
            self_trade: SelfTradePrevention::None,
            levels_max: 0,
            budget: 0,
            quote_unit: market.quote_unit,
            funds: Funds::default(),
            fees_waived: true,
        };
        self.match_taker(book, &mut taker, out);
        if taker.qty.0 == 0 {
            out.push(Event::Done { order: id, user, instrument });
        } else {
            out.push(Event::Cancelled {
                order: id,
                user,
                instrument,
                qty: taker.qty,
                reason: CancelReason::Unfilled,
            });
        }
    }
}

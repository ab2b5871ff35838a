//! Matching: an incoming (or repriced) order takes from the opposite side in price-time priority.
//!
//! Rules, in the order they apply at each step:
//! 1. the best opposite level is taken only while the taker's limit (if any) crosses it and, for a
//!    market order with `levels_max`, while fewer than `levels_max` levels have been started;
//! 2. within a level, makers are visited from the head of the queue; a maker of the taker's own user
//!    triggers the *taker's* self-trade prevention mode (`None` trades normally);
//! 3. each trade is at the maker's price for the smaller of the two open quantities;
//! 4. after leaving a level, one `Level` event gives its new total; an emptied level is removed.
//!
//! A FOK order is first checked with [`Engine::can_fill`], a read-only walk under the same rules, so a
//! FOK order that cannot fill in full trades nothing and cancels no maker.
//! Complexity: O(levels started + makers visited). No allocation.

use crate::book::{Level, NIL, Order};
use crate::command::Place;
use crate::engine::Engine;
use crate::event::{CancelReason, Event, Fill};
use crate::money::Funds;
use crate::types::{
    InstrumentId, InstrumentKind, OrderId, OrderType, Price, Qty, SelfTradePrevention, Side, TradeId, UserId,
};

/// The taking side of a match.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Taker {
    pub(crate) id: OrderId,
    pub(crate) user: UserId,
    pub(crate) instrument: InstrumentId,
    pub(crate) side: Side,
    /// Worst price it may trade at; `None`: any.
    pub(crate) limit: Option<Price>,
    /// Open quantity.
    pub(crate) qty: Qty,
    pub(crate) self_trade: SelfTradePrevention,
    /// Most levels it may start; 0: no bound.
    pub(crate) levels_max: u32,
    /// Spot market buy: the most quote notional it may spend; 0: no budget.
    pub(crate) budget: i64,
    /// Minor units of quote per tick and lot (to turn the budget into lots).
    pub(crate) quote_unit: i64,
    /// Its money state while it takes.
    pub(crate) funds: Funds,
    /// Liquidation orders pay no trading fee.
    pub(crate) fees_waived: bool,
}

impl Taker {
    pub(crate) fn from_place(id: OrderId, place: &Place, quote_unit: i64) -> Taker {
        Taker {
            id,
            user: place.user,
            instrument: place.instrument,
            side: place.side,
            limit: place.price,
            qty: place.qty,
            self_trade: place.self_trade,
            levels_max: if place.order_type == OrderType::Market { place.levels_max } else { 0 },
            budget: place.quote_budget,
            quote_unit,
            funds: Funds::default(),
            fees_waived: false,
        }
    }

    pub(crate) fn from_resting(order: &Order, quote_unit: i64, funds: Funds) -> Taker {
        Taker {
            id: order.id,
            user: order.user,
            instrument: order.instrument,
            side: order.side,
            limit: Some(order.price),
            qty: order.qty,
            self_trade: order.self_trade,
            levels_max: 0,
            budget: 0,
            quote_unit,
            funds,
            fees_waived: false,
        }
    }

    /// The most lots it can take at `price`: its open quantity, or less when its budget runs out.
    pub(crate) fn lots_at(&self, price: Price) -> i64 {
        if self.budget == 0 {
            return self.qty.0;
        }
        let left = i128::from(self.budget - self.funds.spent());
        let lot_cost = i128::from(price.0) * i128::from(self.quote_unit);
        let affordable = i64::try_from(left / lot_cost).expect("below the budget");
        self.qty.0.min(affordable)
    }

    fn may_start(&self, level_price: Price, levels_started: u32) -> bool {
        self.limit.is_none_or(|limit| self.side.crosses(limit, level_price))
            && (self.levels_max == 0 || levels_started < self.levels_max)
    }
}

impl Engine {
    /// Matches `taker` against book `book`; returns true when self-trade prevention stopped the taker.
    pub(crate) fn match_taker(&mut self, book: usize, taker: &mut Taker, out: &mut Vec<Event>) -> bool {
        let maker_side = taker.side.opposite();
        let mut levels_started = 0u32;
        while taker.qty.0 > 0 {
            let Some(level) = self.books[book].side(maker_side).best() else {
                break;
            };
            let price = self.levels.levels[level as usize].price;
            if !taker.may_start(price, levels_started) || taker.lots_at(price) == 0 {
                break;
            }
            levels_started += 1;
            let stopped = self.take_level(book, level, taker, out);
            self.report_level(book, level, maker_side, out);
            if stopped {
                return true;
            }
        }
        false
    }

    /// Takes from one level's queue; returns true when self-trade prevention stopped the taker.
    fn take_level(&mut self, book: usize, level: u32, taker: &mut Taker, out: &mut Vec<Event>) -> bool {
        let Level { head, price, .. } = self.levels.levels[level as usize];
        let mut slot = head;
        while slot != NIL && taker.lots_at(price) > 0 {
            let maker = self.orders[slot as usize];
            let next = self.links[slot as usize].next;
            if maker.user == taker.user && taker.self_trade != SelfTradePrevention::None {
                let cancel_maker = matches!(
                    taker.self_trade,
                    SelfTradePrevention::CancelMaker | SelfTradePrevention::CancelBoth
                );
                if cancel_maker {
                    self.dequeue(slot);
                    self.detach_owner(slot);
                    out.push(Event::Cancelled {
                        order: maker.id,
                        user: maker.user,
                        instrument: maker.instrument,
                        qty: maker.qty,
                        reason: CancelReason::SelfTrade,
                    });
                    self.push_held_balance(book, maker.user, maker.side, out);
                }
                if taker.self_trade != SelfTradePrevention::CancelMaker {
                    return true;
                }
                slot = next;
                continue;
            }
            self.trade(book, slot, taker, out);
            slot = next;
        }
        false
    }

    /// One trade between the maker in `slot` and the taker.
    fn trade(&mut self, book: usize, slot: u32, taker: &mut Taker, out: &mut Vec<Event>) {
        let maker = &mut self.orders[slot as usize];
        let qty = Qty(maker.qty.0.min(taker.lots_at(maker.price)));
        maker.qty.0 -= qty.0;
        taker.qty.0 -= qty.0;
        let maker = *maker;
        let level = &mut self.levels.levels[maker.level as usize];
        level.total.0 -= qty.0;
        self.books[book].last_price = Some(maker.price);
        self.flag_trigger(book);
        let trades = &mut self.books[book].trades;
        *trades += 1;
        out.push(Event::Fill(Fill {
            trade: TradeId(*trades),
            instrument: maker.instrument,
            maker_order: maker.id,
            maker_user: maker.user,
            taker_order: taker.id,
            taker_user: taker.user,
            price: maker.price,
            qty,
            maker_qty_left: maker.qty,
            aggressor: taker.side,
        }));
        match self.markets[book].kind {
            InstrumentKind::Spot => self.settle_spot(book, slot, taker, maker.price, qty),
            InstrumentKind::Perpetual => self.settle_perp(book, slot, taker, (maker.price, qty), out),
        }
        if maker.qty.0 == 0 {
            self.dequeue(slot);
            self.detach_owner(slot);
            out.push(Event::Done { order: maker.id, user: maker.user, instrument: maker.instrument });
        }
        self.push_market_balances(book, maker.user, out);
    }

    /// True when `taker` would fill in full under the matching rules (read-only).
    pub(crate) fn can_fill(&self, book: usize, taker: &Taker) -> bool {
        let mut needed = taker.qty.0;
        let side = self.books[book].side(taker.side.opposite());
        for (levels_started, level) in (0u32..).zip(side.iter_best_first()) {
            let level = &self.levels.levels[level as usize];
            if !taker.may_start(level.price, levels_started) {
                return false;
            }
            let mut slot = level.head;
            while slot != NIL {
                let maker = &self.orders[slot as usize];
                if maker.user == taker.user {
                    match taker.self_trade {
                        SelfTradePrevention::None => needed -= maker.qty.0,
                        SelfTradePrevention::CancelMaker => {}
                        SelfTradePrevention::CancelTaker | SelfTradePrevention::CancelBoth => {
                            return false;
                        }
                    }
                } else {
                    needed -= maker.qty.0;
                }
                if needed <= 0 {
                    return true;
                }
                slot = self.links[slot as usize].next;
            }
        }
        false
    }
}

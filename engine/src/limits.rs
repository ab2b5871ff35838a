//! Pre-trade risk limits, per instrument and per user, checked on every placement and amend.
//!
//! Instrument limits (`SetInstrumentLimits`, operators): the largest notional of one order, a price
//! band (a limit or protection price more than `price_band_bps` away from the reference price is
//! refused; the reference is the last trade price on spot, before any trade there is no band, and
//! the mark price on perpetuals), and the largest position per user on a perpetual.
//! User limits (`SetUserLimits`, operators and the user's tenant admins): the largest quantity and
//! notional of one order, the most open orders across instruments, the largest position on any
//! perpetual. Zero means no limit, except the instrument's position limit, which is always set:
//! it defaults to `qty_max` at listing and may not exceed what keeps every position's mark
//! notional within `NOTIONAL_MAX` (the bound the money arithmetic relies on).
//!
//! A position limit counts open orders: a buy is refused when position + open buys + its quantity
//! would exceed it (sells alike), so fills can never take a position past it. Reduce-only orders
//! skip the position, notional and open-order limits; the band still applies.
//! Complexity: O(1). No allocation.

use crate::command::Place;
use crate::engine::Engine;
use crate::event::Event;
use crate::money::notional;
use crate::reject::RejectCode;
use crate::types::{
    BPS_ONE, InstrumentId, InstrumentKind, NOTIONAL_MAX, OrderType, Price, Qty, Side, TimeInForce, UserId,
};

/// Limits of one instrument.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct InstrumentLimits {
    /// Largest notional of one order, quote minor units; 0 for none.
    pub notional_max: i64,
    /// Price band around the reference price, basis points; 0 for none.
    pub price_band_bps: u32,
    /// Perpetuals: largest position per user, lots (counting open orders); 0 keeps the current one.
    pub position_max: i64,
}

/// Limits of one user.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct UserLimits {
    /// Largest quantity of one order, lots; 0 for none.
    pub qty_max: i64,
    /// Largest notional of one order, quote minor units; 0 for none.
    pub notional_max: i64,
    /// Most open (resting) orders across instruments; 0 for none.
    pub open_orders_max: u32,
    /// Largest position on any perpetual, lots; 0 for none.
    pub position_max: i64,
}

/// What a placement or amend asks for, as the limits see it.
pub(crate) struct Ask {
    pub(crate) user: UserId,
    pub(crate) side: Side,
    pub(crate) price: Option<Price>,
    pub(crate) qty: Qty,
    /// Quote budget of a spot market buy (0: none).
    pub(crate) budget: i64,
    /// Could rest (a new GTC limit order).
    pub(crate) rests: bool,
    pub(crate) reduce_only: bool,
    /// Quantity of the order already counted in the user's open quantity (amends).
    pub(crate) counted_qty: i64,
}

impl Ask {
    pub(crate) fn of_place(place: &Place) -> Ask {
        Ask {
            user: place.user,
            side: place.side,
            price: place.price,
            qty: place.qty,
            budget: place.quote_budget,
            rests: place.order_type == OrderType::Limit && place.time_in_force == TimeInForce::Gtc,
            reduce_only: place.reduce_only,
            counted_qty: 0,
        }
    }
}

impl Engine {
    /// Checks an order against its instrument's and its user's limits. Each part runs only when its
    /// limit is set (most are not), so the common order pays a few comparisons.
    pub(crate) fn check_limits(&self, book: usize, ask: &Ask) -> Result<(), RejectCode> {
        let market = &self.markets[book];
        if self.limited_users == 0 && market.limits.notional_max == 0 && market.limits.price_band_bps == 0 {
            // Nothing set but, on a perpetual, the position limit.
            return match market.kind {
                InstrumentKind::Perpetual if !ask.reduce_only => self.check_position_limit(book, ask, 0),
                _ => Ok(()),
            };
        }
        if let Some(price) = ask.price
            && market.limits.price_band_bps != 0
        {
            self.check_band(book, price)?;
        }
        if ask.reduce_only {
            return Ok(());
        }
        let no_limits = UserLimits::default();
        let user =
            if self.limited_users == 0 { &no_limits } else { &self.ledger.users[ask.user.0 as usize].limits };
        if user.qty_max != 0 && ask.qty.0 > user.qty_max {
            return Err(RejectCode::QuantityAboveUserMax);
        }
        if market.limits.notional_max != 0 || user.notional_max != 0 {
            let value = match (ask.price, ask.budget) {
                (_, budget) if budget > 0 => budget,
                (Some(price), _) => notional(price, ask.qty, market.quote_unit),
                (None, _) => {
                    self.reference_price(book).map_or(0, |p| notional(p, ask.qty, market.quote_unit))
                }
            };
            let over = |max: i64| max != 0 && value > max;
            if over(market.limits.notional_max) || over(user.notional_max) {
                return Err(RejectCode::NotionalAboveMax);
            }
        }
        if ask.rests
            && user.open_orders_max != 0
            && self.users[ask.user.0 as usize].count >= user.open_orders_max
        {
            return Err(RejectCode::OpenOrdersLimit);
        }
        if market.kind == InstrumentKind::Perpetual {
            self.check_position_limit(book, ask, user.position_max)?;
        }
        Ok(())
    }

    /// The price a band is measured from: the last trade (spot) or the mark (perpetual).
    pub(crate) fn reference_price(&self, book: usize) -> Option<Price> {
        match self.markets[book].kind {
            InstrumentKind::Spot => self.books[book].last_price,
            InstrumentKind::Perpetual => Some(self.markets[book].mark),
        }
    }

    fn check_band(&self, book: usize, price: Price) -> Result<(), RejectCode> {
        let band = i128::from(self.markets[book].limits.price_band_bps);
        match self.reference_price(book) {
            Some(reference) => {
                let distance = i128::from((price.0 - reference.0).abs()) * i128::from(BPS_ONE);
                if distance > band * i128::from(reference.0) {
                    return Err(RejectCode::PriceOutsideBand);
                }
                Ok(())
            }
            None => Ok(()),
        }
    }

    fn check_position_limit(&self, book: usize, ask: &Ask, user_max: i64) -> Result<(), RejectCode> {
        let instrument_max = self.markets[book].limits.position_max;
        let max = if user_max == 0 { instrument_max } else { instrument_max.min(user_max) };
        let p = self.position(book, ask.user);
        let reach = match ask.side {
            Side::Buy => p.qty + p.open_buy - ask.counted_qty + ask.qty.0,
            Side::Sell => -p.qty + p.open_sell - ask.counted_qty + ask.qty.0,
        };
        if reach > max {
            return Err(RejectCode::PositionLimit);
        }
        Ok(())
    }

    pub(crate) fn set_instrument_limits(
        &mut self,
        (actor, instrument, limits): (UserId, InstrumentId, InstrumentLimits),
        out: &mut Vec<Event>,
    ) -> Result<(), RejectCode> {
        self.require_operator(actor)?;
        let book = self.book_index(instrument)?;
        let market = &self.markets[book];
        let spec = &self.books[book].spec;
        let mut next = limits;
        if next.position_max == 0 {
            next.position_max = market.limits.position_max;
        }
        let bound = i128::from(NOTIONAL_MAX) / (i128::from(spec.price_max.0) * i128::from(market.quote_unit));
        let position_ok = match market.kind {
            InstrumentKind::Spot => next.position_max == 0,
            InstrumentKind::Perpetual => next.position_max > 0 && i128::from(next.position_max) <= bound,
        };
        let valid = next.notional_max >= 0 && i64::from(next.price_band_bps) <= BPS_ONE && position_ok;
        if !valid {
            return Err(RejectCode::InvalidLimits);
        }
        self.markets[book].limits = next;
        out.push(Event::InstrumentLimitsSet { instrument, limits: next });
        Ok(())
    }

    pub(crate) fn set_user_limits(
        &mut self,
        (actor, user, limits): (UserId, UserId, UserLimits),
        out: &mut Vec<Event>,
    ) -> Result<(), RejectCode> {
        self.require_user_manager(actor, user)?;
        if limits.qty_max < 0 || limits.notional_max < 0 || limits.position_max < 0 {
            return Err(RejectCode::InvalidLimits);
        }
        let was_limited = self.ledger.users[user.0 as usize].limits != UserLimits::default();
        let is_limited = limits != UserLimits::default();
        self.limited_users = self.limited_users + u32::from(is_limited) - u32::from(was_limited);
        self.ledger.users[user.0 as usize].limits = limits;
        out.push(Event::UserLimitsSet { user, limits });
        Ok(())
    }
}

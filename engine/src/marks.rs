//! Mark prices and funding: the operator commands that move money between a perpetual's holders.
//!
//! Both walk the holders in the order their positions opened, in two passes: payers first (each
//! pays what it owes, or what it has), the insurance fund covers what payers lacked, then receivers
//! are paid in full or, when the fund was short too, pro rata (rounded down) with
//! `InsuranceShortfall` reported. Money left over by rounding goes to a system account: the
//! insurance fund for mark changes (which are exact, so only after a pro-rata cut), the funding
//! account for funding (payers' shares are rounded up, receivers' down).
//! Every holder whose balance moved gets a `Balance` event, and every holder is risk-checked.
//! Complexity: O(holders). No allocation.

use crate::engine::Engine;
use crate::event::Event;
use crate::ledger::SystemAccount;
use crate::reject::RejectCode;
use crate::types::{InstrumentId, InstrumentKind, Price, UserId};

/// Largest funding rate either way, parts per million (10%).
pub const FUNDING_RATE_PPM_MAX: i32 = 100_000;

/// Parts per million in one.
const PPM: i128 = 1_000_000;

impl Engine {
    /// The book of a perpetual, for an operator.
    fn perp_book(&self, actor: UserId, instrument: InstrumentId) -> Result<usize, RejectCode> {
        self.require_operator(actor)?;
        let book = self.book_index(instrument)?;
        if self.markets[book].kind != InstrumentKind::Perpetual {
            return Err(RejectCode::NotPerpetual);
        }
        Ok(book)
    }

    pub(crate) fn set_mark_price(
        &mut self,
        (actor, instrument, price): (UserId, InstrumentId, Price),
        out: &mut Vec<Event>,
    ) -> Result<(), RejectCode> {
        let book = self.perp_book(actor, instrument)?;
        let spec = &self.books[book].spec;
        if price < spec.price_min {
            return Err(RejectCode::PriceBelowMin);
        }
        if price > spec.price_max {
            return Err(RejectCode::PriceAboveMax);
        }
        let market = self.markets[book];
        out.push(Event::MarkPrice { instrument, price });
        let delta = i128::from(price.0 - market.mark.0) * i128::from(market.quote_unit);
        let owed = |qty: i64| i64::try_from(delta * i128::from(qty)).expect("bounded by position_max");
        self.settle_holders(book, owed, SystemAccount::Insurance, out);
        self.remark_positions(book, price);
        self.flag_trigger(book);
        Ok(())
    }

    pub(crate) fn apply_funding(
        &mut self,
        (actor, instrument, rate_ppm): (UserId, InstrumentId, i32),
        out: &mut Vec<Event>,
    ) -> Result<(), RejectCode> {
        let book = self.perp_book(actor, instrument)?;
        if rate_ppm.abs() > FUNDING_RATE_PPM_MAX {
            return Err(RejectCode::InvalidFundingRate);
        }
        let market = self.markets[book];
        let rate = i128::from(rate_ppm);
        // Receives (positive) or pays (negative): longs pay a positive rate. Payers round up.
        let owed = move |qty: i64| {
            let value = i128::from(qty) * i128::from(market.mark.0) * i128::from(market.quote_unit) * rate;
            let amount = if value > 0 { -(value + PPM - 1) / PPM } else { -value / PPM };
            i64::try_from(amount).expect("bounded by position_max")
        };
        let paid = self.settle_holders(book, owed, SystemAccount::Funding, out);
        out.push(Event::FundingApplied { instrument, rate_ppm, paid });
        Ok(())
    }

    /// Sets the mark and moves each holder's running position margin to the new mark.
    fn remark_positions(&mut self, book: usize, price: Price) {
        let old = self.markets[book];
        self.markets[book].mark = price;
        let asset = old.quote;
        let mut holder = self.holder_after(book, None);
        while let Some(user) = holder {
            let qty = self.position(book, UserId(user)).qty;
            let (before, after) = (old.position_margin(qty), self.markets[book].position_margin(qty));
            self.update_position_margin(UserId(user), asset, before, after);
            holder = self.holder_after(book, Some(user));
        }
    }

    /// Moves `owed(qty)` to each holder (negative: from it); returns the total payers owed.
    fn settle_holders(
        &mut self,
        book: usize,
        owed: impl Fn(i64) -> i64,
        rest_to: SystemAccount,
        out: &mut Vec<Event>,
    ) -> i64 {
        let asset = self.markets[book].quote;
        let (mut pot, mut owed_by_payers, mut owed_to_receivers) = (0i64, 0i64, 0i64);
        let mut holder = self.holder_after(book, None);
        while let Some(user) = holder {
            let amount = owed(self.position(book, UserId(user)).qty);
            if amount < 0 {
                owed_by_payers += -amount;
                pot += self.take_available(UserId(user), asset, -amount);
            } else {
                owed_to_receivers += amount;
            }
            holder = self.holder_after(book, Some(user));
        }
        let fund = self.ledger.system_mut(asset, SystemAccount::Insurance);
        let covered = (owed_to_receivers - pot).clamp(0, *fund);
        *fund -= covered;
        pot += covered;
        if pot < owed_to_receivers {
            out.push(Event::InsuranceShortfall { asset, amount: owed_to_receivers - pot });
        }
        let mut paid_out = 0i64;
        let mut holder = self.holder_after(book, None);
        while let Some(user) = holder {
            let amount = owed(self.position(book, UserId(user)).qty);
            if amount > 0 {
                let share = if pot >= owed_to_receivers {
                    amount
                } else {
                    let cut = i128::from(amount) * i128::from(pot) / i128::from(owed_to_receivers);
                    i64::try_from(cut).expect("below amount")
                };
                self.ledger.credit(UserId(user), asset, share);
                paid_out += share;
            }
            if amount != 0 {
                self.push_balance(UserId(user), asset, out);
            }
            self.flag_risk(UserId(user));
            holder = self.holder_after(book, Some(user));
        }
        *self.ledger.system_mut(asset, rest_to) += pot - paid_out;
        owed_by_payers
    }
}

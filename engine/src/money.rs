//! Money arithmetic: notionals, fees and holds in exact integers (see `docs/MONEY.md`).
//!
//! Units: a price is in ticks, a quantity in lots, a balance in minor units of its asset. One tick
//! times one lot is `quote_unit` minor units of the quote asset, and one lot is `base_unit` minor units
//! of the base asset; both are exact integers, checked at listing, so a notional is an exact product
//! and the only rounding anywhere is in fees.
//!
//! Fee rounding, per order and cumulative (so it never depends on how an order was split into fills):
//! - an order's charged fee after fills of taker notional `Nt` and maker notional `Nm` is
//!   `ceil((taker_bps * Nt + max(maker_bps, 0) * Nm) / 10_000)`; each fill charges the increase;
//! - a negative maker fee pays the order `floor(-maker_bps * Nm / 10_000)` in total, also by increases;
//! - hence the fee account never goes negative: over any set of trades it has received at least
//!   `taker_bps * N` and paid at most `-maker_bps * N <= taker_bps * N` (listing requires
//!   `maker_bps >= -taker_bps`).
//!
//! Buy hold: what a buy can still cost, given its remaining notional cap `cap` (price times open
//! quantity, or the unspent quote budget) and its fills so far:
//! `cap + ceil(cap_bps * (Nt + Nm + cap) / 10_000) - charged(Nt, Nm)`, where `cap_bps` is the larger
//! fee rate. A fill at the limit price or better never needs more than this, and the hold after it is
//! never more than the hold before minus what the fill cost (proved in `docs/MONEY.md`, checked by the
//! tests below and by the property tests after every command).
//!
//! Complexity: O(1), no allocation. Intermediate products are `i128`; results fit `i64` because the
//! listing bounds every notional by `NOTIONAL_MAX`.

use crate::types::{BPS_ONE, DecimalStep, Price, Qty};

/// `units * 10^exponent` when it is a whole number from 1 to `i64::MAX` (a negative exponent divides,
/// and must divide exactly: a tick of 0.5 times a lot of 2 is 1 unit even with no decimals).
fn whole_units(units: i128, exponent: i32) -> Option<i64> {
    let power = 10i128.checked_pow(exponent.unsigned_abs())?;
    let value = if exponent >= 0 {
        units.checked_mul(power)?
    } else if units % power == 0 {
        units / power
    } else {
        return None;
    };
    i64::try_from(value).ok().filter(|&u| u >= 1)
}

/// Minor units of the quote asset per tick and lot, when exact and at least 1.
pub(crate) fn quote_unit(tick: DecimalStep, lot: DecimalStep, quote_scale: u8) -> Option<i64> {
    let exponent = i32::from(quote_scale) - i32::from(tick.scale) - i32::from(lot.scale);
    whole_units(i128::from(tick.units).checked_mul(i128::from(lot.units))?, exponent)
}

/// Minor units of the base asset per lot, when exact and at least 1.
pub(crate) fn base_unit(lot: DecimalStep, base_scale: u8) -> Option<i64> {
    whole_units(i128::from(lot.units), i32::from(base_scale) - i32::from(lot.scale))
}

/// Price times quantity in minor units of the quote asset.
pub(crate) fn notional(price: Price, qty: Qty, quote_unit: i64) -> i64 {
    let value = i128::from(price.0) * i128::from(qty.0) * i128::from(quote_unit);
    i64::try_from(value).expect("notional bounded by NOTIONAL_MAX at listing")
}

/// `ceil(numerator / 10_000)` for a non-negative numerator. Products almost always fit 64 bits,
/// where dividing by the constant is a multiply and a shift; only the rest pays for a 128-bit
/// division (`__divti3`, tens of nanoseconds).
fn ceil_bps(numerator: i128) -> i64 {
    debug_assert!(numerator >= 0);
    let quotient = match u64::try_from(numerator) {
        Ok(n) if n <= u64::MAX - 10_000 => i128::from(n.div_ceil(10_000)),
        _ => (numerator + i128::from(BPS_ONE) - 1) / i128::from(BPS_ONE),
    };
    i64::try_from(quotient).expect("fee fits i64")
}

/// `floor(numerator / 10_000)` for a non-negative numerator (same fast path as `ceil_bps`).
fn floor_bps(numerator: i128) -> i64 {
    debug_assert!(numerator >= 0);
    let quotient = match u64::try_from(numerator) {
        Ok(n) => i128::from(n / 10_000),
        Err(_) => numerator / i128::from(BPS_ONE),
    };
    i64::try_from(quotient).expect("fee fits i64")
}

/// An instrument's fee rates, basis points.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FeeRates {
    pub(crate) maker_bps: i64,
    pub(crate) taker_bps: i64,
}

impl FeeRates {
    /// The largest rate an order may pay (0 when both are rebates or zero).
    pub(crate) fn cap_bps(self) -> i64 {
        self.maker_bps.max(self.taker_bps).max(0)
    }

    /// True when neither side pays or earns a fee (then fee arithmetic is skipped).
    pub(crate) fn is_zero(self) -> bool {
        self.maker_bps == 0 && self.taker_bps == 0
    }

    /// Total fee charged to an order after fills of these notionals.
    pub(crate) fn charged(self, taker_notional: i64, maker_notional: i64) -> i64 {
        let taker = i128::from(self.taker_bps) * i128::from(taker_notional);
        let maker = i128::from(self.maker_bps.max(0)) * i128::from(maker_notional);
        ceil_bps(taker + maker)
    }

    /// Total rebate paid to an order after maker fills of this notional.
    pub(crate) fn rebate(self, maker_notional: i64) -> i64 {
        floor_bps(i128::from((-self.maker_bps).max(0)) * i128::from(maker_notional))
    }

    /// What a buy can still cost (see the module docs).
    pub(crate) fn buy_hold(self, cap: i64, taker_notional: i64, maker_notional: i64) -> i64 {
        if self.cap_bps() == 0 {
            return cap;
        }
        let spent = i128::from(taker_notional) + i128::from(maker_notional);
        let fee_max = ceil_bps(i128::from(self.cap_bps()) * (spent + i128::from(cap)));
        cap + fee_max - self.charged(taker_notional, maker_notional)
    }
}

/// An order's money state: what it holds and the notionals it has traded so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Funds {
    /// Held on the order's behalf: quote for a spot buy, base for a spot sell (minor units).
    pub(crate) held: i64,
    /// Perpetuals: the initial margin (and fee) the order reserves; counted, never held.
    pub(crate) margin: i64,
    /// Notional traded as taker.
    pub(crate) taker_notional: i64,
    /// Notional traded as maker.
    pub(crate) maker_notional: i64,
}

/// The cold part of a resting order's money state (its hold lives in the order record).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct ColdFunds {
    pub(crate) margin: i64,
    pub(crate) taker_notional: i64,
    pub(crate) maker_notional: i64,
}

/// The fee and rebate of one fill.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct FeeStep {
    /// Charged to the order's owner, paid to the fee account.
    pub(crate) fee: i64,
    /// Paid to the order's owner from the fee account.
    pub(crate) rebate: i64,
}

impl Funds {
    /// Records a fill's notional and returns its fee step (increase of the cumulative figures).
    pub(crate) fn record_fill(&mut self, rates: FeeRates, notional: i64, maker: bool) -> FeeStep {
        if rates.is_zero() {
            if maker {
                self.maker_notional += notional;
            } else {
                self.taker_notional += notional;
            }
            return FeeStep::default();
        }
        let charged_before = rates.charged(self.taker_notional, self.maker_notional);
        let rebate_before = rates.rebate(self.maker_notional);
        if maker {
            self.maker_notional += notional;
        } else {
            self.taker_notional += notional;
        }
        FeeStep {
            fee: rates.charged(self.taker_notional, self.maker_notional) - charged_before,
            rebate: rates.rebate(self.maker_notional) - rebate_before,
        }
    }

    /// Notional traded so far.
    pub(crate) fn spent(&self) -> i64 {
        self.taker_notional + self.maker_notional
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(units: i64, scale: u8) -> DecimalStep {
        DecimalStep { units, scale }
    }

    #[test]
    fn units_are_exact_or_refused() {
        // BTC-USDT: tick 0.01, lot 0.00001 (one tick-lot is 1e-7 USDT); USDT and BTC with 8 decimals.
        assert_eq!(quote_unit(step(1, 2), step(1, 5), 8), Some(10));
        assert_eq!(base_unit(step(1, 5), 8), Some(1000));
        // A quote asset with too few decimals cannot express one tick times one lot.
        assert_eq!(quote_unit(step(1, 2), step(1, 5), 6), None);
        assert_eq!(base_unit(step(5, 1), 0), None, "half a minor unit");
        assert_eq!(quote_unit(step(5, 1), step(2, 0), 0), Some(1), "0.5 times 2 is exactly 1");
        assert_eq!(quote_unit(step(5, 1), step(3, 0), 0), None, "0.5 times 3 is not whole");
        assert_eq!(base_unit(step(1, 0), 40), None, "10^40 overflows");
    }

    #[test]
    fn fees_round_up_rebates_down_and_cumulate() {
        let rates = FeeRates { maker_bps: -1, taker_bps: 7 };
        let mut funds = Funds::default();
        // 7 bps of 1,000 is 0.7: charged 1. Another 1,000: 1.4 in total, ceil 2: charged 1 more.
        assert_eq!(funds.record_fill(rates, 1_000, false), FeeStep { fee: 1, rebate: 0 });
        assert_eq!(funds.record_fill(rates, 1_000, false), FeeStep { fee: 1, rebate: 0 });
        assert_eq!(funds.record_fill(rates, 1_000, false), FeeStep { fee: 1, rebate: 0 });
        assert_eq!(funds.record_fill(rates, 3_000, false), FeeStep { fee: 2, rebate: 0 });
        assert_eq!(rates.charged(funds.taker_notional, 0), 5, "ceil(6,000 * 7 / 10,000)");
        // Rebates: 1 bp of 9,999 floors to 0; the next 1 reaches 10,000: one unit.
        assert_eq!(funds.record_fill(rates, 9_999, true), FeeStep { fee: 0, rebate: 0 });
        assert_eq!(funds.record_fill(rates, 1, true), FeeStep { fee: 0, rebate: 1 });
    }

    /// For every split of a buy into fills at or better than its limit, the hold covers each fill
    /// and never grows: the release at each fill is non-negative and the final hold is what the
    /// order never spent.
    #[test]
    fn buy_hold_covers_every_split_and_only_shrinks() {
        let mut seed = 0x1234_5678_u64;
        let mut next = |bound: i64| {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            i64::try_from((seed >> 33) % u64::try_from(bound).unwrap()).unwrap()
        };
        for case in 0..20_000 {
            let rates = FeeRates { maker_bps: next(21) - 10, taker_bps: next(11) + 10 };
            let (limit, unit) = (Price(next(500) + 1), next(3) + 1);
            let mut open = Qty(next(50) + 1);
            let mut funds = Funds::default();
            let mut held = rates.buy_hold(notional(limit, open, unit), 0, 0);
            while open.0 > 0 {
                let fill = Qty(next(open.0) + 1);
                let price = Price(limit.0 - next(limit.0));
                let value = notional(price, fill, unit);
                let fee = funds.record_fill(rates, value, next(2) == 0);
                open.0 -= fill.0;
                let after =
                    rates.buy_hold(notional(limit, open, unit), funds.taker_notional, funds.maker_notional);
                let release = held - value - fee.fee - after;
                assert!(release >= 0, "case {case}: the fill cost more than the hold released ({release})");
                assert!(after >= 0, "case {case}: negative hold");
                held = after;
            }
            assert!(held >= 0, "case {case}");
        }
    }
}

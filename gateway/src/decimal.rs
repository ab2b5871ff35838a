//! Decimal strings at the edge: "50123.45" to a whole number of steps (ticks, lots, minor units)
//! and back, exactly.
//!
//! Invariant: a value that is not a whole number of steps is refused, never rounded; so is a
//! negative, zero (where not allowed), malformed or out-of-range one. `rust_decimal` parses and
//! prints; the engine never sees anything but integers.

use ferrex_engine::DecimalStep;
use rust_decimal::Decimal;

/// Why a decimal string is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecimalError {
    /// Not a decimal number.
    #[error("not a decimal number")]
    Malformed,
    /// Negative, or zero where a positive value is needed.
    #[error("must be positive")]
    NotPositive,
    /// Not a whole number of steps.
    #[error("not a multiple of the step")]
    OffStep,
    /// Too large.
    #[error("out of range")]
    Range,
}

/// Parses a plain decimal ("123", "0.05", "-1.5"): digits with at most one point, an optional
/// leading minus; no exponent, no spaces, at most 40 characters.
fn parse(text: &str) -> Result<Decimal, DecimalError> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let plain = !digits.is_empty()
        && text.len() <= 40
        && digits.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && digits.bytes().filter(|&b| b == b'.').count() <= 1
        && digits.bytes().any(|b| b.is_ascii_digit());
    if !plain {
        return Err(DecimalError::Malformed);
    }
    text.parse().map_err(|_| DecimalError::Range)
}

/// The value of `text` in steps of `step` (for example a price in ticks), positive.
pub fn to_steps(text: &str, step: DecimalStep) -> Result<i64, DecimalError> {
    let value = parse(text)?;
    if value.is_sign_negative() || value.is_zero() {
        return Err(DecimalError::NotPositive);
    }
    let step_value = Decimal::new(step.units, u32::from(step.scale));
    let steps = value.checked_div(step_value).ok_or(DecimalError::Range)?;
    if !steps.fract().is_zero() {
        return Err(DecimalError::OffStep);
    }
    i64::try_from(steps).map_err(|_| DecimalError::Range)
}

/// An amount of an asset with `scale` decimals in minor units, zero or positive.
pub fn to_units(text: &str, scale: u8) -> Result<i64, DecimalError> {
    let value = parse(text)?;
    if value.is_sign_negative() {
        return Err(DecimalError::NotPositive);
    }
    let scaled =
        value.checked_mul(Decimal::new(10i64.pow(u32::from(scale)), 0)).ok_or(DecimalError::Range)?;
    if !scaled.fract().is_zero() {
        return Err(DecimalError::OffStep);
    }
    i64::try_from(scaled).map_err(|_| DecimalError::Range)
}

/// `steps` steps of `step` as a decimal string with the step's number of decimals (negative
/// values with a leading `-`).
pub fn format_steps(steps: i64, step: DecimalStep) -> String {
    let value = i128::from(steps) * i128::from(step.units);
    Decimal::try_from_i128_with_scale(value, u32::from(step.scale))
        .map_or_else(|_| "overflow".into(), |d| d.to_string())
}

/// `units` minor units of an asset with `scale` decimals as a decimal string.
pub fn format_units(units: i64, scale: u8) -> String {
    format_steps(units, DecimalStep { units: 1, scale })
}

/// The step a decimal string describes ("0.01" is 1 unit at scale 2), positive.
pub fn parse_step(text: &str) -> Result<DecimalStep, DecimalError> {
    let value = parse(text)?;
    if value.is_sign_negative() || value.is_zero() {
        return Err(DecimalError::NotPositive);
    }
    let value = value.normalize();
    let scale = u8::try_from(value.scale()).map_err(|_| DecimalError::Range)?;
    let units = i64::try_from(value.mantissa()).map_err(|_| DecimalError::Range)?;
    Ok(DecimalStep { units, scale })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TICK: DecimalStep = DecimalStep { units: 1, scale: 2 };
    const LOT: DecimalStep = DecimalStep { units: 5, scale: 4 };

    #[test]
    fn values_on_the_grid_convert_exactly_and_back() {
        assert_eq!(to_steps("50123.45", TICK), Ok(5_012_345));
        assert_eq!(to_steps("50123.4500", TICK), Ok(5_012_345));
        assert_eq!(format_steps(5_012_345, TICK), "50123.45");
        assert_eq!(to_steps("0.0015", LOT), Ok(3));
        assert_eq!(format_steps(3, LOT), "0.0015");
        assert_eq!(to_units("1.5", 6), Ok(1_500_000));
        assert_eq!(format_units(1_500_000, 6), "1.500000");
        assert_eq!(format_units(-10_000_000, 6), "-10.000000", "signed figures (PnL, short positions)");
        assert_eq!(format_steps(-10, LOT), "-0.0050");
    }

    #[test]
    fn off_grid_negative_zero_and_garbage_are_refused_not_rounded() {
        assert_eq!(to_steps("50123.455", TICK), Err(DecimalError::OffStep));
        assert_eq!(to_steps("0.0012", LOT), Err(DecimalError::OffStep));
        assert_eq!(to_steps("-1", TICK), Err(DecimalError::NotPositive));
        assert_eq!(to_steps("0", TICK), Err(DecimalError::NotPositive));
        assert_eq!(to_steps("1e3", TICK), Err(DecimalError::Malformed));
        assert_eq!(to_steps("abc", TICK), Err(DecimalError::Malformed));
        assert_eq!(to_steps("99999999999999999999", TICK), Err(DecimalError::Range));
    }

    #[test]
    fn steps_parse_from_their_decimal_form() {
        assert_eq!(parse_step("0.01"), Ok(TICK));
        assert_eq!(parse_step("0.0005"), Ok(LOT));
        assert_eq!(parse_step("5"), Ok(DecimalStep { units: 5, scale: 0 }));
        assert_eq!(parse_step("0"), Err(DecimalError::NotPositive));
    }
}

//! Reject codes: stable numbers, grouped by subsystem, each with a readable message.
//!
//! Groups: 1xxx command validation, 2xxx orders and matching, 3xxx instrument administration,
//! 4xxx capacity limits. 5xxx to 9xxx are reserved for later subsystems (risk, runtime, gateway).
//! A code, once published, never changes meaning; `docs/REJECT_CODES.md` lists them all and a test
//! keeps that table identical to [`RejectCode::ALL`].

/// Why a command was refused. A refused command changes no state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u16)]
pub enum RejectCode {
    /// The instrument id names no instrument.
    UnknownInstrument = 1001,
    /// The user id is outside the configured range.
    UnknownUser = 1002,
    /// Quantity zero or negative.
    InvalidQuantity = 1003,
    /// Quantity below the instrument's minimum.
    QuantityBelowMin = 1004,
    /// Quantity above the instrument's maximum.
    QuantityAboveMax = 1005,
    /// Price below the instrument's minimum (or not positive).
    PriceBelowMin = 1006,
    /// Price above the instrument's maximum.
    PriceAboveMax = 1007,
    /// Time in force not allowed for this order type or flag.
    InvalidTimeInForce = 1008,
    /// Market order with neither a price bound nor a level bound.
    MarketWithoutProtection = 1009,
    /// A limit order with a level bound, or a limit order without a price.
    InvalidProtection = 1010,
    /// Client order id bytes that are not a well-formed id.
    InvalidClientOrderId = 1011,
    /// No live order of this user matches the reference on this instrument.
    UnknownOrder = 2001,
    /// The user already has a live order with this client order id.
    DuplicateClientOrderId = 2002,
    /// A post-only order (or amend) would have traded.
    PostOnlyWouldTake = 2003,
    /// The amend changes neither price nor quantity.
    AmendNoChange = 2004,
    /// Another instrument already has this symbol.
    DuplicateSymbol = 3001,
    /// The instrument spec is inconsistent.
    InvalidInstrumentSpec = 3002,
    /// Every order slot is in use.
    OrdersFull = 4001,
    /// Every price level slot is in use.
    LevelsFull = 4002,
    /// Every instrument slot is in use.
    InstrumentsFull = 4003,
    /// The engine has accepted as many orders as its order ids can number (2^40 - 1).
    OrderIdsExhausted = 4004,
}

impl RejectCode {
    /// Every code, in numeric order.
    pub const ALL: [RejectCode; 21] = [
        RejectCode::UnknownInstrument,
        RejectCode::UnknownUser,
        RejectCode::InvalidQuantity,
        RejectCode::QuantityBelowMin,
        RejectCode::QuantityAboveMax,
        RejectCode::PriceBelowMin,
        RejectCode::PriceAboveMax,
        RejectCode::InvalidTimeInForce,
        RejectCode::MarketWithoutProtection,
        RejectCode::InvalidProtection,
        RejectCode::InvalidClientOrderId,
        RejectCode::UnknownOrder,
        RejectCode::DuplicateClientOrderId,
        RejectCode::PostOnlyWouldTake,
        RejectCode::AmendNoChange,
        RejectCode::DuplicateSymbol,
        RejectCode::InvalidInstrumentSpec,
        RejectCode::OrdersFull,
        RejectCode::LevelsFull,
        RejectCode::InstrumentsFull,
        RejectCode::OrderIdsExhausted,
    ];

    /// The stable numeric code.
    pub fn code(self) -> u16 {
        self as u16
    }

    /// The code for a number, if it is one.
    pub fn from_code(code: u16) -> Option<RejectCode> {
        RejectCode::ALL.iter().copied().find(|c| c.code() == code)
    }

    /// The readable message sent with the code.
    pub fn message(self) -> &'static str {
        match self {
            RejectCode::UnknownInstrument => "unknown instrument",
            RejectCode::UnknownUser => "unknown user",
            RejectCode::InvalidQuantity => "quantity must be positive",
            RejectCode::QuantityBelowMin => "quantity below the instrument minimum",
            RejectCode::QuantityAboveMax => "quantity above the instrument maximum",
            RejectCode::PriceBelowMin => "price below the instrument minimum",
            RejectCode::PriceAboveMax => "price above the instrument maximum",
            RejectCode::InvalidTimeInForce => "time in force not allowed for this order",
            RejectCode::MarketWithoutProtection => "market order needs a price or level bound",
            RejectCode::InvalidProtection => "limit orders need a price and take no level bound",
            RejectCode::InvalidClientOrderId => "malformed client order id",
            RejectCode::UnknownOrder => "unknown order",
            RejectCode::DuplicateClientOrderId => "client order id already in use",
            RejectCode::PostOnlyWouldTake => "post-only order would take liquidity",
            RejectCode::AmendNoChange => "amend changes nothing",
            RejectCode::DuplicateSymbol => "symbol already listed",
            RejectCode::InvalidInstrumentSpec => "invalid instrument spec",
            RejectCode::OrdersFull => "order capacity exhausted",
            RejectCode::LevelsFull => "price level capacity exhausted",
            RejectCode::InstrumentsFull => "instrument capacity exhausted",
            RejectCode::OrderIdsExhausted => "order id space exhausted",
        }
    }

    /// The subsystem group, from the thousands digit.
    pub fn group(self) -> &'static str {
        match self.code() / 1000 {
            1 => "command validation",
            2 => "orders and matching",
            3 => "instrument administration",
            _ => "capacity",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_is_sorted_unique_and_round_trips() {
        for pair in RejectCode::ALL.windows(2) {
            assert!(pair[0].code() < pair[1].code(), "{pair:?} out of order");
        }
        for code in RejectCode::ALL {
            assert_eq!(RejectCode::from_code(code.code()), Some(code));
            assert!(!code.message().is_empty());
        }
        assert_eq!(RejectCode::from_code(9999), None);
    }
}

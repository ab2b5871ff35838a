//! Reject codes: stable numbers, grouped by subsystem, each with a readable message.
//!
//! Groups: 1xxx command validation, 2xxx orders and matching, 3xxx instrument administration,
//! 4xxx capacity limits, 5xxx accounts and risk (50xx accounts and transfers, 51xx margin and
//! pre-trade limits). 6xxx to 9xxx are reserved for later subsystems (runtime, gateway).
//! A code, once published, never changes meaning; `docs/REJECT_CODES.md` lists them all and a test
//! keeps that table identical to [`RejectCode::ALL`].

/// Why a command was refused. A refused command changes no state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u16)]
pub enum RejectCode {
    /// The instrument id names no instrument.
    UnknownInstrument = 1001,
    /// The user id names no user (never created, or outside the configured range).
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
    /// A good-till-date expiry that is not later than the engine's time.
    ExpiryInPast = 1012,
    /// A trigger price outside the instrument's price range, or a trigger on an amend of an order
    /// that has none.
    InvalidTrigger = 1013,
    /// No live order of this user matches the reference on this instrument.
    UnknownOrder = 2001,
    /// The user already has a live order with this client order id.
    DuplicateClientOrderId = 2002,
    /// A post-only order (or amend) would have traded.
    PostOnlyWouldTake = 2003,
    /// The amend changes neither price nor quantity.
    AmendNoChange = 2004,
    /// A conditional order whose watched price has already crossed its trigger.
    WouldTriggerImmediately = 2005,
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
    /// Every asset slot is in use.
    AssetsFull = 4005,
    /// Every perpetual slot is in use (`perpetuals_max`).
    PerpetualsFull = 4006,
    /// Every conditional order slot is in use (`conditionals_max`).
    ConditionalsFull = 4007,
    /// The actor's role does not allow this command on this target.
    NotAuthorized = 5001,
    /// The tenant id names no tenant.
    UnknownTenant = 5002,
    /// The tenant id is already in use.
    DuplicateTenant = 5003,
    /// The user id is already in use.
    DuplicateUser = 5004,
    /// The asset id names no asset.
    UnknownAsset = 5005,
    /// Another asset already has this symbol.
    DuplicateAsset = 5006,
    /// The asset symbol or scale is invalid.
    InvalidAssetSpec = 5007,
    /// A transfer or hold amount of zero.
    InvalidAmount = 5008,
    /// The transaction id is not above the last accepted one: already applied.
    DuplicateTransfer = 5009,
    /// The available balance does not cover the amount or the order's hold.
    InsufficientBalance = 5010,
    /// The deposit would take the asset's total past `BALANCE_MAX`.
    BalanceLimit = 5011,
    /// The user is suspended: it may only cancel.
    UserSuspended = 5012,
    /// The instrument is halted: cancels only.
    InstrumentHalted = 5013,
    /// A spot market buy with neither a quote budget nor a price bound.
    MarketBuyWithoutBudget = 5014,
    /// A quote budget on anything but a spot market IOC buy, or a negative one.
    InvalidBudget = 5015,
    /// The order would take the user's available margin below zero.
    InsufficientMargin = 5101,
    /// A reduce-only order that would not only reduce the position, or one that could rest.
    ReduceOnlyRejected = 5102,
    /// A perpetual-only command or flag on a spot instrument.
    NotPerpetual = 5103,
    /// Closing a position that is flat.
    NoPosition = 5104,
    /// A funding rate beyond 10% either way.
    InvalidFundingRate = 5105,
    /// The order's notional is above the instrument's or the user's limit.
    NotionalAboveMax = 5106,
    /// The price is farther from the reference price than the instrument's band.
    PriceOutsideBand = 5107,
    /// The user already has as many open orders as its limit.
    OpenOrdersLimit = 5108,
    /// The order could take the position (with open orders) past its limit.
    PositionLimit = 5109,
    /// The quantity is above the user's limit.
    QuantityAboveUserMax = 5110,
    /// Limits with a negative value, a band above 100%, or a position limit out of bounds.
    InvalidLimits = 5111,
}

impl RejectCode {
    /// Every code, in numeric order.
    pub const ALL: [RejectCode; 53] = [
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
        RejectCode::ExpiryInPast,
        RejectCode::InvalidTrigger,
        RejectCode::UnknownOrder,
        RejectCode::DuplicateClientOrderId,
        RejectCode::PostOnlyWouldTake,
        RejectCode::AmendNoChange,
        RejectCode::WouldTriggerImmediately,
        RejectCode::DuplicateSymbol,
        RejectCode::InvalidInstrumentSpec,
        RejectCode::OrdersFull,
        RejectCode::LevelsFull,
        RejectCode::InstrumentsFull,
        RejectCode::OrderIdsExhausted,
        RejectCode::AssetsFull,
        RejectCode::PerpetualsFull,
        RejectCode::ConditionalsFull,
        RejectCode::NotAuthorized,
        RejectCode::UnknownTenant,
        RejectCode::DuplicateTenant,
        RejectCode::DuplicateUser,
        RejectCode::UnknownAsset,
        RejectCode::DuplicateAsset,
        RejectCode::InvalidAssetSpec,
        RejectCode::InvalidAmount,
        RejectCode::DuplicateTransfer,
        RejectCode::InsufficientBalance,
        RejectCode::BalanceLimit,
        RejectCode::UserSuspended,
        RejectCode::InstrumentHalted,
        RejectCode::MarketBuyWithoutBudget,
        RejectCode::InvalidBudget,
        RejectCode::InsufficientMargin,
        RejectCode::ReduceOnlyRejected,
        RejectCode::NotPerpetual,
        RejectCode::NoPosition,
        RejectCode::InvalidFundingRate,
        RejectCode::NotionalAboveMax,
        RejectCode::PriceOutsideBand,
        RejectCode::OpenOrdersLimit,
        RejectCode::PositionLimit,
        RejectCode::QuantityAboveUserMax,
        RejectCode::InvalidLimits,
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
            RejectCode::ExpiryInPast => "expiry time already passed",
            RejectCode::InvalidTrigger => "invalid trigger price",
            RejectCode::UnknownOrder => "unknown order",
            RejectCode::DuplicateClientOrderId => "client order id already in use",
            RejectCode::PostOnlyWouldTake => "post-only order would take liquidity",
            RejectCode::AmendNoChange => "amend changes nothing",
            RejectCode::WouldTriggerImmediately => "order would trigger immediately",
            RejectCode::DuplicateSymbol => "symbol already listed",
            RejectCode::InvalidInstrumentSpec => "invalid instrument spec",
            RejectCode::OrdersFull => "order capacity exhausted",
            RejectCode::LevelsFull => "price level capacity exhausted",
            RejectCode::InstrumentsFull => "instrument capacity exhausted",
            RejectCode::OrderIdsExhausted => "order id space exhausted",
            RejectCode::AssetsFull => "asset capacity exhausted",
            RejectCode::NotAuthorized => "not authorized",
            RejectCode::UnknownTenant => "unknown tenant",
            RejectCode::DuplicateTenant => "tenant already exists",
            RejectCode::DuplicateUser => "user already exists",
            RejectCode::UnknownAsset => "unknown asset",
            RejectCode::DuplicateAsset => "asset already exists",
            RejectCode::InvalidAssetSpec => "invalid asset spec",
            RejectCode::InvalidAmount => "amount must not be zero",
            RejectCode::DuplicateTransfer => "transfer already applied",
            RejectCode::InsufficientBalance => "insufficient balance",
            RejectCode::BalanceLimit => "balance limit exceeded",
            RejectCode::UserSuspended => "user suspended",
            RejectCode::InstrumentHalted => "instrument halted",
            RejectCode::MarketBuyWithoutBudget => "market buy needs a quote budget or a price bound",
            RejectCode::InvalidBudget => "quote budget not allowed here",
            RejectCode::PerpetualsFull => "perpetual capacity exhausted",
            RejectCode::ConditionalsFull => "conditional order capacity exhausted",
            RejectCode::InsufficientMargin => "insufficient margin",
            RejectCode::ReduceOnlyRejected => "reduce-only order would not reduce the position",
            RejectCode::NotPerpetual => "instrument is not a perpetual",
            RejectCode::NoPosition => "no position to close",
            RejectCode::InvalidFundingRate => "invalid funding rate",
            RejectCode::NotionalAboveMax => "notional above the limit",
            RejectCode::PriceOutsideBand => "price outside the band",
            RejectCode::OpenOrdersLimit => "too many open orders",
            RejectCode::PositionLimit => "position limit exceeded",
            RejectCode::QuantityAboveUserMax => "quantity above the user limit",
            RejectCode::InvalidLimits => "invalid limits",
        }
    }

    /// The subsystem group, from the thousands digit.
    pub fn group(self) -> &'static str {
        match self.code() / 1000 {
            1 => "command validation",
            2 => "orders and matching",
            3 => "instrument administration",
            4 => "capacity",
            _ => "accounts and risk",
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

//! Domain types: identifiers, prices, quantities, sides, client order ids and instrument specs.
//!
//! Invariants:
//! - prices are `i64` ticks and quantities `i64` lots of their instrument; no floats anywhere;
//! - every type here is `Copy` and fixed-size, so commands and events stay `Copy`;
//! - a [`ClientOrderId`] and a [`Symbol`] hold only the characters their constructors accept, padded
//!   with zero bytes; the engine re-checks bytes that arrive from outside (`is_valid`).
//!
//! Decimal steps (`tick`, `lot`) are carried for the edges (gateway parsing and formatting); the engine
//! itself only ever compares integers.

use std::fmt;

/// An instrument, numbered densely from 0 in the order instruments were added.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct InstrumentId(pub u32);

/// A user (account holder). Dense ids below `EngineConfig::users_max`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct UserId(pub u32);

/// An order id assigned by the engine at acceptance.
///
/// Layout: `sequence << ORDER_SLOT_BITS | slot`. The sequence counts accepted orders from 1, so ids
/// strictly increase in acceptance order; the slot is the order's place in the arena (the lowest free
/// one when the order was accepted), or `ORDER_SLOT_NONE` for an order that can never rest (IOC, FOK,
/// market). Clients treat the id as an opaque 64-bit number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct OrderId(pub u64);

/// Bits of an [`OrderId`] that name the arena slot.
pub const ORDER_SLOT_BITS: u32 = 24;
/// The slot value of an order that never rests.
pub const ORDER_SLOT_NONE: u32 = (1 << ORDER_SLOT_BITS) - 1;
/// The last acceptance sequence an order id can carry (2^40 - 1: 35 years at 1,000 orders/s, but
/// only 30 hours at a sustained 10M/s). Past it, placements are refused with `OrderIdsExhausted`.
pub const ORDER_SEQUENCE_MAX: u64 = (1 << (64 - ORDER_SLOT_BITS)) - 1;
/// Largest `qty_max` of an instrument: 2^38 lots, so that a level's total over at most 2^24 orders
/// stays below 2^62 and never overflows `i64`.
pub const QTY_LOTS_MAX: i64 = 1 << 38;

impl OrderId {
    /// The id of the `sequence`-th accepted order, held in `slot`.
    pub fn new(sequence: u64, slot: u32) -> OrderId {
        debug_assert!(slot <= ORDER_SLOT_NONE);
        debug_assert!(sequence < (1 << (64 - ORDER_SLOT_BITS)));
        OrderId(sequence << ORDER_SLOT_BITS | u64::from(slot))
    }

    /// The acceptance sequence (1 for the first accepted order).
    pub fn sequence(self) -> u64 {
        self.0 >> ORDER_SLOT_BITS
    }

    /// The arena slot (`ORDER_SLOT_NONE` for orders that never rest).
    pub fn slot(self) -> u32 {
        // The mask keeps 24 bits, so the cast cannot truncate.
        #[allow(clippy::cast_possible_truncation)]
        let slot = (self.0 & u64::from(ORDER_SLOT_NONE)) as u32;
        slot
    }
}

/// A trade id, counted per instrument from 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct TradeId(pub u64);

/// A price in ticks of its instrument.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Price(pub i64);

/// A quantity in lots of its instrument.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Qty(pub i64);

/// The side of an order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[repr(u8)]
pub enum Side {
    /// Bid.
    #[default]
    Buy = 0,
    /// Ask.
    Sell = 1,
}

impl Side {
    /// The other side.
    #[must_use]
    pub fn opposite(self) -> Side {
        match self {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        }
    }

    /// True when a taker on `self` with limit `limit` may trade against a maker at `maker_price`.
    pub fn crosses(self, limit: Price, maker_price: Price) -> bool {
        match self {
            Side::Buy => maker_price <= limit,
            Side::Sell => maker_price >= limit,
        }
    }
}

/// Limit or market.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum OrderType {
    /// Trades at its price or better; the rest may rest (GTC).
    #[default]
    Limit = 0,
    /// Trades at any price within its protection bound; the rest is cancelled, never rested.
    Market = 1,
}

/// Time in force.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum TimeInForce {
    /// Good till cancelled: the rest rests on the book.
    #[default]
    Gtc = 0,
    /// Immediate or cancel: what does not trade at once is cancelled.
    Ioc = 1,
    /// Fill or kill: trades in full at once or not at all (checked before any fill).
    Fok = 2,
}

/// Self-trade prevention, chosen per order; the taker's mode decides.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum SelfTradePrevention {
    /// Orders of the same user trade with each other.
    #[default]
    None = 0,
    /// The taker's remaining quantity is cancelled; the maker stays.
    CancelTaker = 1,
    /// The maker is cancelled and matching goes on.
    CancelMaker = 2,
    /// The maker and the taker's remaining quantity are both cancelled.
    CancelBoth = 3,
}

/// Longest client order id, as in the Binance API.
pub const CLIENT_ORDER_ID_LEN_MAX: usize = 36;

/// A client order id: 1 to 36 characters of `[A-Za-z0-9._:/-]`, or empty (none given).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClientOrderId(pub [u8; CLIENT_ORDER_ID_LEN_MAX]);

impl Default for ClientOrderId {
    fn default() -> Self {
        ClientOrderId::EMPTY
    }
}

fn is_client_id_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b':' | b'/' | b'-')
}

/// Checks a zero-padded fixed buffer: allowed characters, then only zero bytes.
fn padded_is_valid(bytes: &[u8], allowed: fn(u8) -> bool) -> bool {
    let len = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    bytes[..len].iter().all(|&b| allowed(b)) && bytes[len..].iter().all(|&b| b == 0)
}

fn padded_str(bytes: &[u8]) -> &str {
    let len = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    std::str::from_utf8(&bytes[..len]).unwrap_or("<invalid>")
}

/// Why a text could not become a [`ClientOrderId`] or a [`Symbol`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IdTextError {
    /// Longer than the fixed buffer.
    #[error("longer than {0} characters")]
    TooLong(usize),
    /// A character outside the allowed set.
    #[error("contains a character outside the allowed set")]
    BadChar,
}

fn pack<const N: usize>(text: &str, allowed: fn(u8) -> bool) -> Result<[u8; N], IdTextError> {
    let bytes = text.as_bytes();
    if bytes.len() > N {
        return Err(IdTextError::TooLong(N));
    }
    if !bytes.iter().all(|&b| allowed(b)) {
        return Err(IdTextError::BadChar);
    }
    let mut out = [0u8; N];
    out[..bytes.len()].copy_from_slice(bytes);
    Ok(out)
}

impl ClientOrderId {
    /// No client order id.
    pub const EMPTY: ClientOrderId = ClientOrderId([0; CLIENT_ORDER_ID_LEN_MAX]);

    /// Parses a client order id (empty text gives [`ClientOrderId::EMPTY`]).
    pub fn new(text: &str) -> Result<ClientOrderId, IdTextError> {
        pack(text, is_client_id_char).map(ClientOrderId)
    }

    /// True when no id was given.
    pub fn is_empty(&self) -> bool {
        self.0[0] == 0
    }

    /// True when the bytes are a well-formed id (checked again by the engine: bytes come from outside).
    pub fn is_valid(&self) -> bool {
        self.is_all_zero() || padded_is_valid(&self.0, is_client_id_char)
    }

    /// True when every byte is zero (a few integer ORs, no `memcmp` call: this is on the hot path).
    fn is_all_zero(&self) -> bool {
        let bytes = &self.0;
        let a = u128::from_ne_bytes(bytes[0..16].try_into().expect("16 bytes"));
        let b = u128::from_ne_bytes(bytes[16..32].try_into().expect("16 bytes"));
        let c = u32::from_ne_bytes(bytes[32..36].try_into().expect("4 bytes"));
        a | b | u128::from(c) == 0
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        padded_str(&self.0)
    }
}

impl fmt::Debug for ClientOrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClientOrderId({:?})", self.as_str())
    }
}

/// Longest instrument symbol.
pub const SYMBOL_LEN_MAX: usize = 16;

/// An instrument symbol: 1 to 16 characters of `[A-Z0-9_-]`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Symbol(pub [u8; SYMBOL_LEN_MAX]);

fn is_symbol_char(c: u8) -> bool {
    c.is_ascii_uppercase() || c.is_ascii_digit() || matches!(c, b'_' | b'-')
}

impl Symbol {
    /// Parses a symbol.
    pub fn new(text: &str) -> Result<Symbol, IdTextError> {
        pack(text, is_symbol_char).map(Symbol)
    }

    /// True when the bytes are a non-empty, well-formed symbol.
    pub fn is_valid(&self) -> bool {
        self.0[0] != 0 && padded_is_valid(&self.0, is_symbol_char)
    }

    /// The symbol as text.
    pub fn as_str(&self) -> &str {
        padded_str(&self.0)
    }
}

impl fmt::Debug for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Symbol({:?})", self.as_str())
    }
}

/// A positive decimal step, `units * 10^-scale` (for example a tick of 0.01 is `{units: 1, scale: 2}`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct DecimalStep {
    /// The mantissa; positive.
    pub units: i64,
    /// The number of decimal places; at most 18.
    pub scale: u8,
}

/// Largest scale of a [`DecimalStep`].
pub const DECIMAL_SCALE_MAX: u8 = 18;

/// An asset (a currency or coin), numbered from 0 in listing order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct AssetId(pub u32);

/// A tenant (a broker that owns users). Tenant 0, the exchange itself, always exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct TenantId(pub u32);

/// A transfer's idempotency key, strictly increasing per account owner (see `docs/MONEY.md`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct TxId(pub u64);

/// What a user may do. Checked by the engine on every admin command.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[repr(u8)]
pub enum Role {
    /// Trades for itself.
    #[default]
    Trader = 1,
    /// Manages the users of its own tenant: create traders, transfers, holds, suspension.
    TenantAdmin = 2,
    /// Runs the exchange: tenants, assets, instruments, mark prices, funding, and everything else.
    Operator = 3,
}

/// What a conditional order waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Trigger {
    /// The trigger (stop) price, ticks.
    pub price: Price,
    /// Stop-loss or take-profit.
    pub kind: TriggerKind,
    /// Which price is watched.
    pub source: TriggerSource,
}

/// Stop-loss or take-profit: which way the watched price must cross the trigger price.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum TriggerKind {
    /// A buy triggers when the price rises to the trigger or above, a sell when it falls to it or
    /// below (Binance `STOP_LOSS` / `STOP`, with a market or limit order behind it).
    StopLoss = 1,
    /// A buy triggers when the price falls to the trigger or below, a sell when it rises to it or
    /// above (Binance `TAKE_PROFIT`).
    TakeProfit = 2,
}

/// The price a conditional order watches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum TriggerSource {
    /// The instrument's last trade price.
    LastPrice = 1,
    /// The perpetual's mark price.
    MarkPrice = 2,
}

/// Largest balance of one account, and largest total of one asset, minor units (2^62).
pub const BALANCE_MAX: i64 = 1 << 62;

/// Largest notional of one order, minor units of the quote asset (2^61): the listing checks
/// `price_max * qty_max * quote_unit` against it, so a notional plus its fee never overflows.
pub const NOTIONAL_MAX: i64 = 1 << 61;

/// Largest absolute fee rate, basis points (10%).
pub const FEE_BPS_MAX: i16 = 1000;

/// Basis points in one.
pub const BPS_ONE: i64 = 10_000;

/// Largest scale of an asset (decimal places of its minor unit).
pub const ASSET_SCALE_MAX: u8 = 18;

/// An asset's definition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct AssetSpec {
    /// Unique symbol, for example `USDT`.
    pub symbol: Symbol,
    /// Decimal places of the minor unit balances are kept in (USDT with scale 6: 1 = 0.000001).
    pub scale: u8,
}

/// Spot or perpetual.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[repr(u8)]
pub enum InstrumentKind {
    /// Exchange of `base` for `quote`; buys hold quote, sells hold base.
    #[default]
    Spot = 1,
    /// Linear perpetual future settled in `quote`; positions under cross margin.
    Perpetual = 2,
}

/// Everything the engine needs to know about an instrument.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct InstrumentSpec {
    /// Unique symbol.
    pub symbol: Symbol,
    /// The value of one price tick.
    pub tick: DecimalStep,
    /// The value of one quantity lot.
    pub lot: DecimalStep,
    /// Smallest order quantity, lots (at least 1).
    pub qty_min: Qty,
    /// Largest order quantity, lots (at most `QTY_LOTS_MAX`).
    pub qty_max: Qty,
    /// Lowest limit or protection price, ticks (at least 1).
    pub price_min: Price,
    /// Highest limit or protection price, ticks.
    pub price_max: Price,
    /// Spot or perpetual.
    pub kind: InstrumentKind,
    /// Base asset (spot: what is bought and sold; perpetual: the underlying, for display only).
    pub base: AssetId,
    /// Quote asset (spot: what is paid; perpetual: the settlement asset).
    pub quote: AssetId,
    /// Maker fee, basis points of notional; negative is a rebate (at least `-taker_fee_bps`).
    pub maker_fee_bps: i16,
    /// Taker fee, basis points of notional; 0 to `FEE_BPS_MAX`.
    pub taker_fee_bps: i16,
    /// Perpetual: initial margin rate, basis points of notional (0 for spot).
    pub initial_margin_bps: u16,
    /// Perpetual: maintenance margin rate, basis points, below the initial rate (0 for spot).
    pub maintenance_margin_bps: u16,
    /// Perpetual: the mark price at listing, ticks (0 for spot).
    pub mark_price: Price,
}

impl InstrumentSpec {
    /// True when the spec is internally consistent.
    pub fn is_valid(&self) -> bool {
        let step_ok = |s: DecimalStep| s.units > 0 && s.scale <= DECIMAL_SCALE_MAX;
        self.symbol.is_valid()
            && step_ok(self.tick)
            && step_ok(self.lot)
            && self.qty_min.0 >= 1
            && self.qty_min <= self.qty_max
            && self.qty_max.0 <= QTY_LOTS_MAX
            && self.price_min.0 >= 1
            && self.price_min <= self.price_max
            && self.taker_fee_bps >= 0
            && self.taker_fee_bps <= FEE_BPS_MAX
            && self.maker_fee_bps <= FEE_BPS_MAX
            && self.maker_fee_bps >= -self.taker_fee_bps
            && self.margin_is_valid()
    }

    fn margin_is_valid(&self) -> bool {
        match self.kind {
            InstrumentKind::Spot => {
                self.initial_margin_bps == 0 && self.maintenance_margin_bps == 0 && self.mark_price.0 == 0
            }
            InstrumentKind::Perpetual => {
                let initial = i64::from(self.initial_margin_bps);
                let maintenance = i64::from(self.maintenance_margin_bps);
                maintenance > 0
                    && maintenance < initial
                    && initial <= BPS_ONE
                    && self.mark_price >= self.price_min
                    && self.mark_price <= self.price_max
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_id_round_trips_sequence_and_slot() {
        let id = OrderId::new(7, 42);
        assert_eq!((id.sequence(), id.slot()), (7, 42));
        assert!(OrderId::new(8, 0) > OrderId::new(7, ORDER_SLOT_NONE));
    }

    #[test]
    fn client_order_id_accepts_binance_charset_only() {
        let id = ClientOrderId::new("my-order_1.a:b/c").unwrap();
        assert_eq!(id.as_str(), "my-order_1.a:b/c");
        assert!(id.is_valid() && !id.is_empty());
        assert_eq!(ClientOrderId::new("bad id"), Err(IdTextError::BadChar));
        assert_eq!(ClientOrderId::new(&"x".repeat(37)), Err(IdTextError::TooLong(36)));
        let mut gap = ClientOrderId::new("ab").unwrap();
        gap.0[5] = b'c';
        assert!(!gap.is_valid(), "bytes after the padding must be zero");
    }

    #[test]
    fn symbol_rejects_lowercase_and_empty() {
        assert!(Symbol::new("BTC-USDT").unwrap().is_valid());
        assert_eq!(Symbol::new("btc"), Err(IdTextError::BadChar));
        assert!(!Symbol::new("").unwrap().is_valid());
    }
}

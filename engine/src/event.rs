//! Events: the only output of the state machine.
//!
//! `Engine::apply` appends events to a caller-provided buffer. Per command the order is fixed:
//! - good-till-date expiries due at the command's time come first (`Cancelled`, reason `Expired`);
//! - a refused command gives exactly one [`Event::Rejected`] and nothing else (but the expiries);
//! - a placed order gives [`Event::Accepted`], then for each price level it takes from (best first)
//!   its fills in queue order: each [`Event::Fill`], on a perpetual the two [`Event::Position`]s
//!   (maker, taker), [`Event::Done`] when it completes the maker (or a self-trade `Cancelled` of the
//!   maker), then the maker's [`Event::Balance`]s; after the level one [`Event::Level`] with its new
//!   total; then the taker's end: `Done` (filled), `Cancelled` (IOC/FOK/market rest or self-trade)
//!   or, when it rests, a `Level` for its own side; then the taker's `Balance`s;
//! - a `Balance` follows every change of a user's account by the command, after the events that
//!   caused it: the held asset when only a hold moved, every asset of the market after fills;
//! - then the risk checks: `Liquidation` and what it did (cancels, the closing order's events), then
//!   conditional orders that fired (`Triggered`, then the placement's events or `TriggerFailed`);
//! - every accepted order ends with exactly one `Done` or `Cancelled`, now or later.
//!
//! Events are `Copy` and fixed-size; they carry ids, not client order ids (the gateway keeps those).

use crate::command::AccountRef;
use crate::limits::{InstrumentLimits, UserLimits};
use crate::reject::RejectCode;
use crate::types::{
    AssetId, InstrumentId, OrderId, OrderType, Price, Qty, Role, SelfTradePrevention, Side, Symbol, TenantId,
    TimeInForce, TradeId, Trigger, TxId, UserId,
};

/// Why an order left the book other than by filling.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum CancelReason {
    /// The owner cancelled it.
    Requested = 1,
    /// A mass cancel of its owner.
    MassCancel = 2,
    /// IOC or market order: the part that could not trade at once.
    Unfilled = 3,
    /// FOK order that could not trade in full.
    FillOrKill = 4,
    /// Self-trade prevention.
    SelfTrade = 5,
    /// Its owner was liquidated.
    Liquidation = 6,
    /// Good-till-date: its expiry time passed.
    Expired = 7,
}

impl CancelReason {
    /// Every reason, in numeric order.
    pub const ALL: [CancelReason; 7] = [
        CancelReason::Requested,
        CancelReason::MassCancel,
        CancelReason::Unfilled,
        CancelReason::FillOrKill,
        CancelReason::SelfTrade,
        CancelReason::Liquidation,
        CancelReason::Expired,
    ];
}

/// One outcome of a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// A tenant was created.
    TenantCreated {
        /// Its id.
        tenant: TenantId,
    },
    /// A user was created.
    UserCreated {
        /// Its id.
        user: UserId,
        /// Its tenant.
        tenant: TenantId,
        /// Its role.
        role: Role,
    },
    /// An asset was added.
    AssetAdded {
        /// Its id.
        asset: AssetId,
        /// Its symbol.
        symbol: Symbol,
        /// Its scale.
        scale: u8,
    },
    /// A deposit (positive) or withdrawal (negative) was applied.
    Transferred {
        /// Which account.
        account: AccountRef,
        /// Which asset.
        asset: AssetId,
        /// Its transaction id.
        tx: TxId,
        /// Signed amount, minor units.
        amount: i64,
    },
    /// A user's balance of an asset after a change (consumers keep the latest).
    Balance {
        /// Whose.
        user: UserId,
        /// Which asset.
        asset: AssetId,
        /// Available, minor units.
        available: i64,
        /// Held, minor units.
        held: i64,
    },
    /// A user was suspended or resumed.
    UserSuspended {
        /// Which user.
        user: UserId,
        /// Its new state.
        suspended: bool,
    },
    /// An instrument was halted or resumed.
    InstrumentHalted {
        /// Which instrument.
        instrument: InstrumentId,
        /// Its new state.
        halted: bool,
    },
    /// A perpetual position after a change (fills, liquidation).
    Position {
        /// Whose.
        user: UserId,
        /// Which perpetual.
        instrument: InstrumentId,
        /// Signed quantity, lots (positive long).
        qty: i64,
        /// Cost of the open quantity at its entry prices, quote minor units (entry price =
        /// `entry_notional / |qty| / quote_unit`); 0 when flat.
        entry_notional: i64,
        /// Realized PnL of the position since it was opened, quote minor units (reported the
        /// Binance way; the cash moved earlier, by variation margin: see docs/MONEY.md).
        realized_pnl: i64,
    },
    /// A perpetual's mark price changed; positions were settled to it.
    MarkPrice {
        /// Which perpetual.
        instrument: InstrumentId,
        /// The new mark price.
        price: Price,
    },
    /// Funding was applied to a perpetual's positions (their owners' `Balance` events follow).
    FundingApplied {
        /// Which perpetual.
        instrument: InstrumentId,
        /// Rate, parts per million.
        rate_ppm: i32,
        /// Total paid by the paying side, quote minor units.
        paid: i64,
    },
    /// A user fell below maintenance margin and is being liquidated; its order cancels, closing
    /// fills and fee follow.
    Liquidation {
        /// Whose.
        user: UserId,
        /// The settlement asset.
        asset: AssetId,
        /// Equity (available balance) when it started.
        equity: i64,
        /// Maintenance margin when it started.
        maintenance: i64,
    },
    /// Money that should have moved could not: the payer and the insurance fund were both short,
    /// so receivers got less (no auto-deleveraging: see docs/MONEY.md). Operators must act.
    InsuranceShortfall {
        /// The asset.
        asset: AssetId,
        /// The amount receivers did not get, minor units.
        amount: i64,
    },
    /// A conditional order's trigger was crossed: its order is placed now, with a new id (the
    /// placement's events follow), or `TriggerFailed` follows.
    Triggered {
        /// The conditional order.
        order: OrderId,
        /// Its owner.
        user: UserId,
        /// Its instrument.
        instrument: InstrumentId,
    },
    /// A triggered conditional's order failed a check at trigger time and was not placed.
    TriggerFailed {
        /// The conditional order.
        order: OrderId,
        /// Its owner.
        user: UserId,
        /// Its instrument.
        instrument: InstrumentId,
        /// Why.
        code: RejectCode,
    },
    /// An instrument's limits were set (as they now are).
    InstrumentLimitsSet {
        /// Which instrument.
        instrument: InstrumentId,
        /// Its limits.
        limits: InstrumentLimits,
    },
    /// A user's limits were set.
    UserLimitsSet {
        /// Which user.
        user: UserId,
        /// Its limits.
        limits: UserLimits,
    },
    /// An instrument was listed.
    InstrumentAdded {
        /// Its id.
        instrument: InstrumentId,
        /// Its symbol.
        symbol: Symbol,
    },
    /// The command was refused and changed nothing.
    Rejected {
        /// Who sent it (0 for admin commands).
        user: UserId,
        /// Stable reason code.
        code: RejectCode,
    },
    /// An order was accepted and given an id.
    Accepted(Accepted),
    /// A trade.
    Fill(Fill),
    /// An order was completely filled and left the book.
    Done {
        /// The order.
        order: OrderId,
        /// Its owner.
        user: UserId,
        /// Its instrument.
        instrument: InstrumentId,
    },
    /// An order left the book (or never rested) with open quantity.
    Cancelled {
        /// The order.
        order: OrderId,
        /// Its owner.
        user: UserId,
        /// Its instrument.
        instrument: InstrumentId,
        /// The open quantity that was cancelled.
        qty: Qty,
        /// Why.
        reason: CancelReason,
    },
    /// A resting order was amended.
    Amended {
        /// The order.
        order: OrderId,
        /// Its owner.
        user: UserId,
        /// Its instrument.
        instrument: InstrumentId,
        /// New price.
        price: Price,
        /// New open quantity.
        qty: Qty,
        /// True when it kept its place in the queue.
        priority_kept: bool,
    },
    /// The total quantity at a price level changed (0: the level is gone). Market data.
    Level {
        /// Instrument.
        instrument: InstrumentId,
        /// Book side.
        side: Side,
        /// Level price.
        price: Price,
        /// New total open quantity at the level.
        qty: Qty,
    },
    /// Summary of a mass cancel, after its `Cancelled` events.
    MassCancelled {
        /// Whose orders.
        user: UserId,
        /// Which instrument, or all.
        instrument: Option<InstrumentId>,
        /// How many orders were cancelled.
        count: u32,
    },
}

/// An accepted order, as the engine understood it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Accepted {
    /// The assigned id.
    pub order: OrderId,
    /// Owner.
    pub user: UserId,
    /// Instrument.
    pub instrument: InstrumentId,
    /// Side.
    pub side: Side,
    /// Limit or market.
    pub order_type: OrderType,
    /// Time in force.
    pub time_in_force: TimeInForce,
    /// Limit or protection price.
    pub price: Option<Price>,
    /// Quantity.
    pub qty: Qty,
    /// Self-trade prevention mode.
    pub self_trade: SelfTradePrevention,
    /// Conditional orders: the trigger they wait for (then they are placed as a new order).
    pub trigger: Option<Trigger>,
}

/// A trade between a resting maker and an incoming taker, at the maker's price.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fill {
    /// Trade id, per instrument from 1.
    pub trade: TradeId,
    /// Instrument.
    pub instrument: InstrumentId,
    /// The resting order.
    pub maker_order: OrderId,
    /// Its owner.
    pub maker_user: UserId,
    /// The incoming order.
    pub taker_order: OrderId,
    /// Its owner.
    pub taker_user: UserId,
    /// Trade price (the maker's).
    pub price: Price,
    /// Traded quantity.
    pub qty: Qty,
    /// The maker's open quantity after the trade.
    pub maker_qty_left: Qty,
    /// The taker's side (the aggressor).
    pub aggressor: Side,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_stay_small() {
        let size = std::mem::size_of::<Event>();
        assert!(size <= 80, "Event grew to {size} bytes; the hot path copies it per fill");
    }
}

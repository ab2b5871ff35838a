//! Commands: the only input of the state machine.
//!
//! Invariants: every command is a fixed-size `Copy` value with no pointers, so it can travel through a
//! ring buffer and be journaled byte for byte. A command carries everything its outcome depends on;
//! the engine adds nothing from outside (no clock, no randomness).
//!
//! Quantities in [`Amend`] are the new *open* (leaves) quantity, not a new total.

use crate::ledger::SystemAccount;
use crate::limits::{InstrumentLimits, UserLimits};
use crate::types::{
    AssetId, AssetSpec, ClientOrderId, InstrumentId, InstrumentSpec, OrderId, OrderType, Price, Qty, Role,
    SelfTradePrevention, Side, TenantId, TimeInForce, Trigger, TxId, UserId,
};

/// One input of the engine.
///
/// Admin commands name their `actor`: the engine checks its role (see `docs/MONEY.md`, "Who may do
/// what"). User 0 is the exchange's own operator and exists from the start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// Operator: create a tenant.
    CreateTenant {
        /// Who asks.
        actor: UserId,
        /// The new tenant's id (below `tenants_max`, not yet used).
        tenant: TenantId,
    },
    /// Operator, or an admin of the tenant: create a user.
    CreateUser {
        /// Who asks.
        actor: UserId,
        /// The new user's id (below `users_max`, not yet used).
        user: UserId,
        /// Its tenant.
        tenant: TenantId,
        /// Its role (operators belong to tenant 0; tenant admins cannot create operators).
        role: Role,
    },
    /// Operator: add an asset (its id is the next free one).
    AddAsset {
        /// Who asks.
        actor: UserId,
        /// Symbol and scale.
        spec: AssetSpec,
    },
    /// Operator: list a new instrument (its id is the next free one).
    AddInstrument {
        /// Who asks.
        actor: UserId,
        /// The instrument.
        spec: InstrumentSpec,
    },
    /// Deposit or withdraw (idempotent by transaction id).
    Transfer(Transfer),
    /// Operator or tenant admin: hold (positive amount) or release (negative) a user's funds.
    AdminHold {
        /// Who asks.
        actor: UserId,
        /// Whose funds.
        user: UserId,
        /// Which asset.
        asset: AssetId,
        /// Positive: available to held; negative: back from the admin hold to available.
        amount: i64,
    },
    /// Operator or tenant admin: suspend a user (it may only cancel) or resume it.
    SetUserSuspended {
        /// Who asks.
        actor: UserId,
        /// Which user.
        user: UserId,
        /// Suspended or not.
        suspended: bool,
    },
    /// Operator: set a perpetual's mark price. Every position is settled to it (variation margin),
    /// then users below maintenance margin are liquidated.
    SetMarkPrice {
        /// Who asks.
        actor: UserId,
        /// Which perpetual.
        instrument: InstrumentId,
        /// The new mark price, ticks (within the instrument's price range).
        price: Price,
    },
    /// Operator: apply a funding rate at the current mark price: longs pay shorts (negative rate:
    /// shorts pay longs), then users below maintenance margin are liquidated.
    ApplyFunding {
        /// Who asks.
        actor: UserId,
        /// Which perpetual.
        instrument: InstrumentId,
        /// Rate in parts per million of the position's mark notional (at most 10% either way).
        rate_ppm: i32,
    },
    /// Close a perpetual position: a reduce-only IOC market order for the whole position.
    ClosePosition {
        /// The owner.
        user: UserId,
        /// Which perpetual.
        instrument: InstrumentId,
        /// The worst price to trade at, or `None` for any.
        price: Option<Price>,
    },
    /// Operator: set an instrument's pre-trade limits.
    SetInstrumentLimits {
        /// Who asks.
        actor: UserId,
        /// Which instrument.
        instrument: InstrumentId,
        /// The limits (see limits.rs).
        limits: InstrumentLimits,
    },
    /// Operator or the user's tenant admin: set a user's pre-trade limits.
    SetUserLimits {
        /// Who asks.
        actor: UserId,
        /// Which user.
        user: UserId,
        /// The limits (see limits.rs).
        limits: UserLimits,
    },
    /// Operator: halt an instrument (no new orders or amends; cancels allowed) or resume it.
    SetInstrumentHalted {
        /// Who asks.
        actor: UserId,
        /// Which instrument.
        instrument: InstrumentId,
        /// Halted or not.
        halted: bool,
    },
    /// Place an order.
    Place(Place),
    /// Cancel one order.
    Cancel(Cancel),
    /// Change the price and/or open quantity of one resting order.
    Amend(Amend),
    /// Cancel every resting order of a user, or of a user on one instrument.
    MassCancel(MassCancel),
}

/// Whose account a transfer moves money in or out of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccountRef {
    /// A user's account.
    User(UserId),
    /// A system account of the asset (operators only).
    System(SystemAccount),
}

/// A deposit (positive amount) or withdrawal (negative amount), from available balance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transfer {
    /// Who asks: an operator, or an admin of the user's tenant.
    pub actor: UserId,
    /// Which account.
    pub account: AccountRef,
    /// Which asset.
    pub asset: AssetId,
    /// Idempotency key: larger than the account owner's last accepted one.
    pub tx: TxId,
    /// Positive: deposit; negative: withdrawal. Minor units; never zero.
    pub amount: i64,
}

/// Names an order: by the engine's id or by the owner's client order id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderRef {
    /// The id the engine assigned.
    Id(OrderId),
    /// The client order id the owner gave (live orders only).
    Client(ClientOrderId),
}

/// Place an order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Place {
    /// Owner.
    pub user: UserId,
    /// Instrument.
    pub instrument: InstrumentId,
    /// Optional client order id; must not equal one of the user's live orders.
    pub client_order_id: ClientOrderId,
    /// Buy or sell.
    pub side: Side,
    /// Limit or market.
    pub order_type: OrderType,
    /// Limit price; for a market order the protection (worst) price, `None` for no price bound.
    pub price: Option<Price>,
    /// Quantity, lots.
    pub qty: Qty,
    /// Time in force (market orders: IOC or FOK).
    pub time_in_force: TimeInForce,
    /// Post-only: rejected if any part would trade on arrival (limit GTC only).
    pub post_only: bool,
    /// Self-trade prevention when this order takes.
    pub self_trade: SelfTradePrevention,
    /// Market orders: the most price levels the order may take from; 0 for no bound. A market order
    /// needs a price bound, a level bound, or both. Must be 0 on limit orders.
    pub levels_max: u32,
    /// Spot market buys: the most quote to spend on notional (minor units; fees come on top), or 0
    /// for none. A spot market buy needs a budget or a price bound; IOC only.
    pub quote_budget: i64,
    /// Perpetuals: only reduce the position (IOC, FOK or market; never more than the position).
    pub reduce_only: bool,
    /// Good-till-date: the sequencer time (ns) at which a resting limit GTC order expires; 0 for
    /// none. Must be later than the engine's time when the order arrives.
    pub expire_ns: u64,
    /// Conditional (stop-loss or take-profit): wait off the book until the watched price crosses
    /// the trigger, then place the rest of this order as it is (see conditional.rs).
    pub trigger: Option<Trigger>,
}

/// Cancel one order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cancel {
    /// The owner; only the owner can cancel.
    pub user: UserId,
    /// The instrument the order rests on.
    pub instrument: InstrumentId,
    /// Which order.
    pub order: OrderRef,
}

/// Change a resting order. A lower quantity at the same price keeps queue priority; a new price or a
/// higher quantity loses it, and a new price that crosses trades at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Amend {
    /// The owner.
    pub user: UserId,
    /// The instrument the order rests on.
    pub instrument: InstrumentId,
    /// Which order.
    pub order: OrderRef,
    /// New limit price.
    pub price: Price,
    /// New open quantity, lots.
    pub qty: Qty,
    /// Conditional orders only: a new trigger price (`None` keeps it).
    pub trigger_price: Option<Price>,
}

/// Cancel all resting orders of a user (on one instrument when given).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MassCancel {
    /// Whose orders.
    pub user: UserId,
    /// Only this instrument, or all.
    pub instrument: Option<InstrumentId>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_small_and_copy() {
        fn assert_copy<T: Copy>() {}
        assert_copy::<Command>();
        let size = std::mem::size_of::<Command>();
        assert!(size <= 128, "Command grew to {size} bytes; it travels through the ring by value");
    }
}

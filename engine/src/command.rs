//! Commands: the only input of the state machine.
//!
//! Invariants: every command is a fixed-size `Copy` value with no pointers, so it can travel through a
//! ring buffer and be journaled byte for byte. A command carries everything its outcome depends on;
//! the engine adds nothing from outside (no clock, no randomness).
//!
//! Quantities in [`Amend`] are the new *open* (leaves) quantity, not a new total.

use crate::types::{
    ClientOrderId, InstrumentId, InstrumentSpec, OrderId, OrderType, Price, Qty, SelfTradePrevention, Side,
    TimeInForce, UserId,
};

/// One input of the engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// Admin: list a new instrument (its id is the next free one).
    AddInstrument(InstrumentSpec),
    /// Place an order.
    Place(Place),
    /// Cancel one order.
    Cancel(Cancel),
    /// Change the price and/or open quantity of one resting order.
    Amend(Amend),
    /// Cancel every resting order of a user, or of a user on one instrument.
    MassCancel(MassCancel),
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

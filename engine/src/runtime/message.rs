//! What travels through the rings: [`Request`]s in (a command to journal and apply, or a query to
//! answer), [`Output`]s out (each command's events, each query's answers, then a [`Item::Done`]).
//!
//! Invariants: every type here is a fixed-size `Copy` value (no heap, no references), so the
//! rings move them by copy and the core allocates nothing per request; every output carries the
//! [`Origin`] of the request it answers and the journal sequence it belongs to, so consumers can
//! route it and order it. A request's outputs are contiguous in every consumer's stream and end
//! with exactly one `Done`.
//!
//! Known limitations: an answer that is a list (balances, open orders, depth levels) arrives as
//! one output per item; one command's events are unbounded in number (see the crate docs), so a
//! consumer's queue must be sized for the largest batch it should survive.

use crate::command::{Command, OrderRef, Place};
use crate::event::Event;
use crate::ledger::Balance;
use crate::query::{MarginView, OpenOrder, PositionView};
use crate::reject::RejectCode;
use crate::types::{AssetId, InstrumentId, Price, Qty, Side, UserId};

/// Who sent a request, echoed in every output it causes. The runtime never reads it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Origin {
    /// The sender: a gateway session, a timer, the admin console, a load generator.
    pub session: u32,
    /// The sender's own tag for this request (a request id; the load harness puts its intended
    /// send time here).
    pub tag: u64,
}

/// A read-only question, answered in sequence between commands and never journaled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Query {
    /// The engine's state hash.
    StateHash,
    /// Every balance of a user (one [`Answer::Balance`] per asset).
    Balances {
        /// Whose.
        user: UserId,
    },
    /// Every open position of a user (one [`Answer::Position`] each).
    Positions {
        /// Whose.
        user: UserId,
    },
    /// A user's margin in one settlement asset.
    Margin {
        /// Whose.
        user: UserId,
        /// Which settlement asset.
        asset: AssetId,
    },
    /// A user's open orders, of one instrument or all (one [`Answer::Order`] each).
    OpenOrders {
        /// Whose.
        user: UserId,
        /// One instrument, or all.
        instrument: Option<InstrumentId>,
    },
    /// One order of a user.
    OrderStatus {
        /// Whose.
        user: UserId,
        /// Which.
        order: OrderRef,
    },
    /// The best `levels_max` levels of each side (one [`Answer::Level`] each, bids first).
    Depth {
        /// Which instrument.
        instrument: InstrumentId,
        /// Levels per side, at most [`DEPTH_LEVELS_MAX`].
        levels_max: u16,
    },
    /// Whether an order would be accepted now, without placing it.
    TestOrder(Place),
}

/// The most levels per side a depth query returns.
pub const DEPTH_LEVELS_MAX: u16 = 5_000;

/// What a request carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Body {
    /// A command: sequenced, journaled, applied.
    Command(Command),
    /// A query: answered in sequence, not journaled.
    Query(Query),
}

/// One slot of the inbound ring.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request {
    /// Who sent it.
    pub origin: Origin,
    /// What it asks.
    pub body: Body,
}

impl Default for Request {
    fn default() -> Self {
        Request { origin: Origin::default(), body: Body::Query(Query::StateHash) }
    }
}

/// One item of a query's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// The state hash.
    StateHash(u64),
    /// A balance.
    Balance {
        /// Which asset.
        asset: AssetId,
        /// The figures.
        balance: Balance,
    },
    /// A position.
    Position(PositionView),
    /// Margin figures (`None`: unknown user or asset).
    Margin(Option<MarginView>),
    /// An open order.
    Order(OpenOrder),
    /// No such order (order status).
    NoSuchOrder,
    /// A depth level.
    Level {
        /// Which side.
        side: Side,
        /// Its price.
        price: Price,
        /// Its total open quantity.
        qty: Qty,
    },
    /// Test order: `None` if it would be accepted, else the reject it would get.
    TestOrder(Option<RejectCode>),
}

/// What an output carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Item {
    /// One of a command's events, in the engine's order.
    Event(Event),
    /// One item of a query's answer.
    Answer(Answer),
    /// The end of a request's outputs.
    Done {
        /// The sequencer's time of the command (for a query: of the last command before it).
        timestamp_ns: u64,
        /// How many outputs came before this one for the request.
        items: u32,
        /// True for a command (journaled at `sequence`), false for a query.
        command: bool,
    },
}

/// One slot of an outbound queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Output {
    /// A command's journal sequence; for a query, the sequence of the last command before it.
    pub sequence: u64,
    /// Who sent the request.
    pub origin: Origin,
    /// What it is.
    pub item: Item,
}

impl Default for Output {
    fn default() -> Self {
        Output { sequence: 0, origin: Origin::default(), item: Item::Answer(Answer::NoSuchOrder) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_slots_are_small_and_copy() {
        fn assert_copy<T: Copy + Send + 'static>() {}
        assert_copy::<Request>();
        assert_copy::<Output>();
        let request = std::mem::size_of::<Request>();
        let output = std::mem::size_of::<Output>();
        assert!(request <= 160, "Request grew to {request} bytes; it is copied through the ring");
        assert!(output <= 160, "Output grew to {output} bytes; it is copied per event");
    }
}

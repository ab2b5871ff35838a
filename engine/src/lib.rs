//! ferrex-engine: the deterministic state machine of the exchange.
//!
//! Everything behind the ring buffer that decides outcomes: instruments, order books, matching,
//! tenants, users, accounts, spot holds and fees, perpetual positions, margin, funding, liquidation,
//! conditional and good-till-date orders, pre-trade limits, queries, the state hash (the money
//! rules are in docs/MONEY.md). [`Engine::apply_at`] takes one [`Command`] with the sequencer's time
//! and appends its [`Event`]s to a reusable buffer.
//!
//! Around it: [`snapshot`] (the state as bytes and back), [`recovery`] (newest usable snapshot plus
//! the journal after it), [`runtime`] (threads and clocks: the rings, the core thread, the snapshotter), [`codec`] (commands as
//! journal payloads).
//!
//! Invariants (the rules of ../shared/DESIGN.md, stated as absences):
//! - no I/O, no clock, no threads, no randomness, no iteration over unordered maps in the state
//!   machine (clippy bans the methods and types in engine/clippy.toml; only `runtime/` is exempt,
//!   and recovery reaches files only through the journal's `Storage`); the state after commands
//!   1..N depends only on them;
//! - no floats: prices are `i64` ticks, quantities `i64` lots, balances `i64` minor units;
//! - no money created or destroyed: every move is between two accounts (`check_invariants` sums
//!   them after every command in tests);
//! - no heap allocation per command in steady state: the order arena, level pool, client index and
//!   user table are allocated in [`Engine::new`]; book sides grow only past their deepest size so far;
//! - no panic on bad input: every malformed or impossible command is a [`Event::Rejected`] with a
//!   stable [`RejectCode`]; a panic means a broken internal invariant.
//!
//! Known limitations:
//! - capacity checks are conservative (a GTC order needs a free order slot and a free level even if
//!   it would fill completely);
//! - one command's events are unbounded in number: a market order sweeping a deep book, a mass
//!   cancel of a user with many orders, or a mark price move that liquidates many users emits
//!   events in proportion (about four per fill or cancel, ten per liquidated user).
//!   The caller's buffer grows (one allocation) when a command outgrows every earlier one; the
//!   runtime's output ring must be sized for the largest command it admits;
//! - see each module's docs for its own.

#![forbid(unsafe_code)]

mod admin;
mod book;
mod client_index;
pub mod codec;
pub mod command;
mod conditional;
mod engine;
pub mod event;
mod expiry;
mod invariants;
pub mod ledger;
mod limits;
mod liquidation;
pub mod marks;
mod matching;
mod money;
mod perp;
mod price_index;
mod probe;
mod query;
pub mod recovery;
pub mod reject;
pub mod runtime;
mod slots;
pub mod snapshot;
mod spot;
mod state;
pub mod types;

pub use command::{AccountRef, Amend, Cancel, Command, MassCancel, OrderRef, Place, Transfer};
pub use engine::{ConfigError, Engine, EngineConfig};
pub use event::{Accepted, CancelReason, Event, Fill};
pub use invariants::InvariantViolation;
pub use ledger::{Balance, SystemAccount};
pub use limits::{InstrumentLimits, UserLimits};
pub use marks::FUNDING_RATE_PPM_MAX;
pub use query::{MarginView, OpenOrder, PositionView};
pub use reject::RejectCode;
pub use snapshot::SnapshotError;
pub use state::RestingOrder;
pub use types::{
    AssetId, AssetSpec, ClientOrderId, DecimalStep, InstrumentId, InstrumentKind, InstrumentSpec, OrderId,
    OrderType, Price, Qty, Role, SelfTradePrevention, Side, Symbol, TenantId, TimeInForce, TradeId, Trigger,
    TriggerKind, TriggerSource, TxId, UserId,
};

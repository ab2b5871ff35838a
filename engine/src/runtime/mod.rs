//! The runtime side of the engine crate: the threads and clocks around the pure state machine.
//!
//! ```text
//! producers --Submitter::submit--> inbound ring --Intake--> core thread --Outbound--> queues --> Subscribers
//!                                                          | stamp, journal, apply, sync
//!                                                          | durable watermark (AtomicU64)
//!                                                          + snapshotter (follows the watermark)
//! ```
//!
//! [`Runtime::start`] recovers and starts everything; [`Runtime::stop`] drains and stops it.
//!
//! Boundary: the state machine's modules never use this one; this one drives an [`Engine`] only
//! through `apply_at` and reads it through its public views. Clocks and threads are allowed here
//! and nowhere else in the crate (engine/clippy.toml bans them; the allow below is the only one).
//!
//! [`Engine`]: crate::Engine

#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

pub mod core;
pub mod flusher;
pub mod lifecycle;
pub mod message;
pub mod outbound;
pub mod ring;
pub mod snapshotter;
pub mod wait;

pub use self::core::{CoreConfig, CoreError, CoreReport, CoreStats, Durability};
pub use lifecycle::{Runtime, RuntimeConfig, RuntimeError, StartReport, Started, termination_flag};
pub use message::{Answer, Body, Item, Origin, Output, Query, Request};
pub use outbound::{CutOff, Ended, Subscriber};
pub use ring::{SubmitError, Submitter};
pub use wait::WaitStrategy;

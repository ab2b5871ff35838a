//! ferrex-gateway: sessions, authentication, protocols (WebSocket JSON, binary, later FIX), market
//! data fan-out, admin HTTP and the `ferrex` binary. It reaches books and balances only through the
//! ring buffer, never directly.
//!
//! - [`config`]: the TOML configuration and keystore (docs/CONFIG.md);
//! - [`decimal`]: exact decimal strings at the edge;
//! - [`api`]: the WebSocket JSON API in Binance's conventions (docs/API-WEBSOCKET.md);
//! - [`limits`]: rate limits (token buckets per user, tenant, connection and IP);
//! - [`market`]: depth diffs, trades, best bid and offer and user data from the engine's events;
//! - [`binary`]: the binary protocol's messages, sessions, reports and replay (docs/API-BINARY.md);
//! - [`server`]: the mio event loop serving both protocols;
//! - [`tags`]: maps keyed by request tag;
//! - [`client`]: Rust clients of both protocols and the load and demo order flow.
//!
//! Status: the WebSocket API (issue 6) and the binary protocol (issue 7); FIX to come. See
//! ARCHITECTURE.md.

#![forbid(unsafe_code)]

pub mod api;
pub mod binary;
pub mod client;
pub mod config;
pub mod decimal;
pub mod limits;
pub mod market;
pub mod marks;
pub mod metrics;
pub mod server;
pub mod tags;

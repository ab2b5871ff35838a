//! ferrex-gateway: sessions, authentication, protocols (WebSocket JSON, binary, later FIX), market
//! data fan-out, admin HTTP and the `ferrex` binary. It reaches books and balances only through the
//! ring buffer, never directly.
//!
//! Status: the decimal edge (`decimal`) is the first piece of issue 6; see ARCHITECTURE.md.

#![forbid(unsafe_code)]

pub mod api;
pub mod config;
pub mod decimal;
pub mod server;

//! ferrex-gateway: sessions, authentication, protocols (WebSocket JSON, binary, later FIX), market
//! data fan-out, admin HTTP and the `ferrex` binary. It reaches books and balances only through the
//! ring buffer, never directly.
//!
//! Status: no content yet. The gateway is built by issue 6; see ARCHITECTURE.md.

#![forbid(unsafe_code)]

//! Clients of ferrex's own protocols, for tests, the load generator and `ferrex demo`:
//! [`binary`] (the binary protocol) and [`ws`] (the WebSocket JSON API).

pub mod binary;
pub mod ws;

//! Clients of ferrex's own protocols, for tests, the load generator and `ferrex demo`:
//! [`binary`] (the binary protocol), [`ws`] (the WebSocket JSON API) and [`scenario`] (order flow
//! for load and for the demo market).

pub mod binary;
pub mod scenario;
pub mod ws;

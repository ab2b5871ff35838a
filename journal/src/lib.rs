//! ferrex-journal: the write-ahead log (memory-mapped, preallocated, checksummed and chained
//! segments) and snapshot files. Payloads are opaque bytes; the engine encodes commands.
//!
//! This crate is the only one allowed `unsafe` code, confined to the module that maps segment files,
//! each block with a `// SAFETY:` comment.
//!
//! Status: no content yet. The journal is built by issue 4; see ARCHITECTURE.md.

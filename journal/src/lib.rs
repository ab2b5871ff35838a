//! ferrex-journal: the write-ahead log (memory-mapped, preallocated, checksummed and chained
//! segments) and snapshot files. Payloads are opaque bytes; the engine encodes commands.
//!
//! This crate is the only one allowed `unsafe` code, confined to the module that maps segment files,
//! each block with a `// SAFETY:` comment.
//!
//! Status (issue 4, in progress): the record format ([`record`], docs/FORMAT.md). Next: the storage
//! trait with a fault-injecting implementation, segments, the writer and reader, snapshots.

#![forbid(unsafe_code)]

pub mod record;

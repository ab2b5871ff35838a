//! ferrex-journal: the write-ahead log (memory-mapped, preallocated, checksummed and chained
//! segments) and snapshot files. Payloads are opaque bytes; the engine encodes commands.
//!
//! This crate is the only one allowed `unsafe` code, confined to the module that maps segment files,
//! each block with a `// SAFETY:` comment.
//!
//! Modules: the record format ([`record`]); the storage trait with an in-memory implementation that
//! simulates crashes and faults ([`storage`]); memory-mapped segment files ([`file`]); the log
//! itself: segments, append, group commit, recovery, reading from a sequence, retiring covered
//! segments ([`wal`]); snapshot files and their retention ([`snapshot`]). Formats: docs/FORMAT.md.

// `unsafe` is denied everywhere but in the mapping module, which allows it and comments each block.
#![deny(unsafe_code)]

#[allow(unsafe_code)]
pub mod file;
pub mod record;
pub mod snapshot;
pub mod storage;
pub mod wal;

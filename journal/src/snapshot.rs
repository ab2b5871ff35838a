//! Snapshot files: a 64-byte header and an opaque body (the engine's state), beside the segments.
//!
//! Header (docs/FORMAT.md, little-endian): magic `FERREXSN`, format version (u32), 4 zero bytes,
//! the sequence of the last record the state includes, that record's timestamp, the state hash,
//! the body length, the body's xxh3-64 checksum, and the header's own xxh3-64 checksum over the
//! 56 bytes before it. A file is named by its sequence (`{:020}.snap`) and written atomically
//! (`Storage::write_file`: temporary name, sync, rename, directory sync).
//!
//! Invariants: a file whose header or body checksum fails, or whose length disagrees with its
//! header, is never handed out as a snapshot ([`read`] says why). Choosing which snapshot to trust
//! is the caller's (engine/src/recovery.rs): newest first, falling back to older ones.
//! Retention ([`prune`]): the newest `keep` valid snapshots stay; every file older than the oldest
//! kept one goes (valid or not), and so do stale temporaries; damaged files newer than it stay
//! for an operator to look at.
//! Complexity: reading a snapshot is O(file) (one pass for the checksum); listing reads every file.

use crate::storage::{Storage, StorageError};

/// Magic of a snapshot file.
pub const SNAPSHOT_MAGIC: [u8; 8] = *b"FERREXSN";
/// Snapshot file format version.
pub const SNAPSHOT_VERSION: u32 = 1;
/// Length of the header.
pub const SNAPSHOT_HEADER_LEN: usize = 64;
/// Extension of snapshot files.
pub const SNAPSHOT_EXTENSION: &str = "snap";

/// A snapshot file's header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SnapshotHeader {
    /// Sequence of the last journal record the state includes (0: none).
    pub sequence: u64,
    /// That record's timestamp, ns (0: none).
    pub timestamp_ns: u64,
    /// The state hash of the state (engine `state_hash`).
    pub state_hash: u64,
    /// Length of the body, bytes.
    pub body_len: u64,
    /// xxh3-64 of the body.
    pub body_checksum: u64,
}

/// Why a file is not a valid snapshot.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotFileError {
    /// The file could not be read.
    #[error("{0}")]
    Storage(#[from] StorageError),
    /// Shorter than a header.
    #[error("shorter than a snapshot header ({0} bytes)")]
    TooShort(usize),
    /// Not a snapshot file.
    #[error("not a snapshot file (bad magic)")]
    Magic,
    /// A format version this code does not read.
    #[error("snapshot format version {0} is not supported")]
    Version(u32),
    /// The header's checksum fails.
    #[error("header checksum mismatch")]
    HeaderChecksum,
    /// The file's length disagrees with the header.
    #[error("body is {found} bytes, the header says {expected}")]
    Length {
        /// From the header.
        expected: u64,
        /// In the file.
        found: u64,
    },
    /// The body's checksum fails.
    #[error("body checksum mismatch")]
    BodyChecksum,
    /// The file name does not match the sequence inside.
    #[error("named for sequence {named}, holds sequence {inside}")]
    Name {
        /// From the name.
        named: u64,
        /// From the header.
        inside: u64,
    },
}

/// The name of the snapshot of the state after record `sequence`.
pub fn snapshot_name(sequence: u64) -> String {
    format!("{sequence:020}.{SNAPSHOT_EXTENSION}")
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
}

/// The header's bytes (docs/FORMAT.md).
pub fn encode_header(header: &SnapshotHeader) -> [u8; SNAPSHOT_HEADER_LEN] {
    let mut bytes = [0u8; SNAPSHOT_HEADER_LEN];
    bytes[0..8].copy_from_slice(&SNAPSHOT_MAGIC);
    bytes[8..12].copy_from_slice(&SNAPSHOT_VERSION.to_le_bytes());
    let fields =
        [header.sequence, header.timestamp_ns, header.state_hash, header.body_len, header.body_checksum];
    for (i, v) in fields.into_iter().enumerate() {
        bytes[16 + 8 * i..24 + 8 * i].copy_from_slice(&v.to_le_bytes());
    }
    let checksum = xxhash_rust::xxh3::xxh3_64(&bytes[..56]);
    bytes[56..64].copy_from_slice(&checksum.to_le_bytes());
    bytes
}

/// Checks a whole snapshot file; returns its header and body.
pub fn decode(bytes: &[u8]) -> Result<(SnapshotHeader, &[u8]), SnapshotFileError> {
    let header = decode_header(bytes)?;
    let body = &bytes[SNAPSHOT_HEADER_LEN..];
    if body.len() as u64 != header.body_len {
        return Err(SnapshotFileError::Length { expected: header.body_len, found: body.len() as u64 });
    }
    if xxhash_rust::xxh3::xxh3_64(body) != header.body_checksum {
        return Err(SnapshotFileError::BodyChecksum);
    }
    Ok((header, body))
}

/// Checks a header alone (the first 64 bytes of a file).
pub fn decode_header(bytes: &[u8]) -> Result<SnapshotHeader, SnapshotFileError> {
    if bytes.len() < SNAPSHOT_HEADER_LEN {
        return Err(SnapshotFileError::TooShort(bytes.len()));
    }
    if bytes[0..8] != SNAPSHOT_MAGIC {
        return Err(SnapshotFileError::Magic);
    }
    let version = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
    if version != SNAPSHOT_VERSION {
        return Err(SnapshotFileError::Version(version));
    }
    if bytes[12..16] != [0; 4] || u64_at(bytes, 56) != xxhash_rust::xxh3::xxh3_64(&bytes[..56]) {
        return Err(SnapshotFileError::HeaderChecksum);
    }
    Ok(SnapshotHeader {
        sequence: u64_at(bytes, 16),
        timestamp_ns: u64_at(bytes, 24),
        state_hash: u64_at(bytes, 32),
        body_len: u64_at(bytes, 40),
        body_checksum: u64_at(bytes, 48),
    })
}

/// Writes the snapshot of the state after record `sequence` (atomically, durably); returns its name.
pub fn write<S: Storage>(
    storage: &mut S,
    sequence: u64,
    timestamp_ns: u64,
    state_hash: u64,
    body: &[u8],
) -> Result<String, StorageError> {
    let header = SnapshotHeader {
        sequence,
        timestamp_ns,
        state_hash,
        body_len: body.len() as u64,
        body_checksum: xxhash_rust::xxh3::xxh3_64(body),
    };
    let name = snapshot_name(sequence);
    storage.write_file(&name, &[&encode_header(&header), body])?;
    Ok(name)
}

/// Reads and checks one snapshot file: its header and body.
pub fn read<S: Storage>(storage: &S, name: &str) -> Result<(SnapshotHeader, Vec<u8>), SnapshotFileError> {
    let mut bytes = storage.read_file(name)?;
    let (header, _) = decode(&bytes)?;
    let named = name.strip_suffix(&format!(".{SNAPSHOT_EXTENSION}")).and_then(|n| n.parse::<u64>().ok());
    if named != Some(header.sequence) {
        return Err(SnapshotFileError::Name { named: named.unwrap_or(0), inside: header.sequence });
    }
    bytes.drain(..SNAPSHOT_HEADER_LEN);
    Ok((header, bytes))
}

/// A snapshot file's name and its header, or why it is not valid.
pub type Listed = (String, Result<SnapshotHeader, SnapshotFileError>);

/// Every snapshot file, newest first, with its header or why it is not valid.
pub fn list<S: Storage>(storage: &S) -> Result<Vec<Listed>, StorageError> {
    let mut names = storage.file_names(SNAPSHOT_EXTENSION)?;
    names.reverse();
    Ok(names
        .into_iter()
        .map(|name| {
            let header = read(storage, &name).map(|(header, _)| header);
            (name, header)
        })
        .collect())
}

/// What [`prune`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Sequence of the oldest snapshot kept (`None`: no valid snapshot).
    pub oldest_kept: Option<u64>,
    /// Files removed.
    pub removed: Vec<String>,
}

/// Keeps the newest `keep` valid snapshots (at least one); removes every snapshot file older than
/// the oldest kept one and stale temporaries. See the module docs.
pub fn prune<S: Storage>(storage: &mut S, keep: usize) -> Result<Pruned, StorageError> {
    let keep = keep.max(1);
    let mut pruned = Pruned::default();
    let mut valid = 0;
    for (name, header) in list(storage)? {
        if valid >= keep {
            storage.remove_file(&name)?;
            pruned.removed.push(name);
        } else if let Ok(header) = header {
            valid += 1;
            pruned.oldest_kept = Some(header.sequence);
        }
    }
    for name in storage.file_names("tmp")? {
        storage.remove_file(&name)?;
        pruned.removed.push(name);
    }
    Ok(pruned)
}

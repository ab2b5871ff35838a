//! Storage of segment files behind a trait, so that tests can simulate crashes and I/O faults.
//!
//! A segment is a fixed-size byte region: created preallocated and zero-filled (its allocation
//! durable before `create` returns; its name durable no later than the next `sync` of any
//! segment), written in memory (`write`: not durable), made durable by `sync`. The file
//! implementation maps the file (`file.rs`); [`MemStorage`] keeps every
//! segment twice, as written and as last synced, and can produce the storage a crash would leave:
//! - [`Crash::DropUnsynced`]: every byte written since the last sync is lost;
//! - [`Crash::RandomPages`]: of the 4 KiB pages changed since the last sync, a random subset reached
//!   the disk, the others did not (the page cache's writeback order is arbitrary);
//! - [`Crash::TornWrite`]: like `RandomPages`, and the last page kept is cut at a random byte.
//!
//! Faults on demand: no space left at segment creation (`space_left`), an error on the next sync
//! (`fail_next_sync`), a flipped bit anywhere (`flip_bit`).
//! Complexity: `write` O(bytes), `sync` O(segment) for `MemStorage` (a copy), `crash` O(storage).

use std::collections::BTreeMap;

/// A storage failure. A failed sync means written data may be lost: the journal stops.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StorageError {
    /// No room for a new segment (ENOSPC at allocation).
    #[error("no space left for a segment of {size} bytes")]
    NoSpace {
        /// The size asked for.
        size: u64,
    },
    /// The sync failed (EIO): what was written since the last sync may be lost.
    #[error("sync of {segment} failed")]
    SyncFailed {
        /// The segment.
        segment: String,
    },
    /// No such segment.
    #[error("no segment named {0}")]
    NotFound(String),
    /// A segment of that name exists already.
    #[error("segment {0} exists already")]
    Exists(String),
    /// Any other I/O error, with the operating system's words.
    #[error("{0}")]
    Io(String),
}

/// A segment opened or created in a storage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SegmentId(pub usize);

/// Makes one segment durable from another thread while its owner keeps writing: every byte
/// written to it before the call, its header and its name (a new segment's directory entry).
/// Callable again for what was written since.
pub type SyncHandle = Box<dyn FnMut() -> Result<(), StorageError> + Send>;

/// Segment files.
pub trait Storage {
    /// Names of every segment, sorted.
    fn list(&self) -> Result<Vec<String>, StorageError>;
    /// Creates a zero-filled segment of `size` bytes, durable before this returns.
    fn create(&mut self, name: &str, size: u64) -> Result<SegmentId, StorageError>;
    /// Opens an existing segment.
    fn open(&mut self, name: &str) -> Result<SegmentId, StorageError>;
    /// The segment's bytes as last written (synced or not).
    fn bytes(&self, id: SegmentId) -> &[u8];
    /// Writes bytes at an offset (not durable until `sync`). The range is inside the segment.
    fn write(&mut self, id: SegmentId, offset: usize, bytes: &[u8]);
    /// The segment's bytes `offset..offset + len` to write in place (not durable, like `write`):
    /// the log encodes records straight into the mapping.
    fn region(&mut self, id: SegmentId, offset: usize, len: usize) -> &mut [u8];
    /// Makes everything written to the segment durable.
    fn sync(&mut self, id: SegmentId) -> Result<(), StorageError>;
    /// A handle that syncs the segment from another thread ([`SyncHandle`]); an error when this
    /// storage syncs only through `sync` (the default).
    fn sync_handle(&self, id: SegmentId) -> Result<SyncHandle, StorageError> {
        let _ = id;
        Err(StorageError::Io("this storage syncs only on its owner's thread".into()))
    }
    /// A hint: the next `create` will ask for `size` bytes (a file storage prepares the file in
    /// the background). Does nothing by default.
    fn prepare(&mut self, size: u64) {
        let _ = size;
    }
    /// Deletes a segment.
    fn remove(&mut self, name: &str) -> Result<(), StorageError>;
    /// Lets go of an opened segment (unmaps it); the file stays.
    fn close(&mut self, id: SegmentId);
    /// Moves a segment out of the log into the archive (a directory beside it), durably.
    fn archive(&mut self, name: &str) -> Result<(), StorageError>;

    /// Names of the whole files (snapshots) with this extension, sorted.
    fn file_names(&self, extension: &str) -> Result<Vec<String>, StorageError>;
    /// A whole file's bytes.
    fn read_file(&self, name: &str) -> Result<Vec<u8>, StorageError>;
    /// Writes a whole file atomically and durably: to a temporary name (`name.tmp`), synced,
    /// renamed to `name`, directory synced. A crash leaves the old state or the new file, and at
    /// most a stale temporary, never a partial `name`.
    fn write_file(&mut self, name: &str, parts: &[&[u8]]) -> Result<(), StorageError>;
    /// Deletes a whole file, durably.
    fn remove_file(&mut self, name: &str) -> Result<(), StorageError>;
}

/// How a crash treats what was not synced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Crash {
    /// Everything written since the last sync is lost.
    DropUnsynced,
    /// A random subset of the pages changed since the last sync reached the disk.
    RandomPages {
        /// Seed of the choice.
        seed: u64,
    },
    /// As `RandomPages`, and the last page kept is cut short.
    TornWrite {
        /// Seed of the choices.
        seed: u64,
    },
}

/// The page size of the crash simulation.
pub const PAGE: usize = 4096;

#[derive(Clone, Debug, PartialEq, Eq)]
struct MemSegment {
    name: String,
    written: Vec<u8>,
    durable: Vec<u8>,
}

/// Segments in memory, with crash simulation and fault injection.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemStorage {
    segments: Vec<MemSegment>,
    names: BTreeMap<String, usize>,
    /// Bytes that may still be allocated to segments (`None`: unlimited).
    pub space_left: Option<u64>,
    /// The next sync fails with `SyncFailed` (and syncs nothing); a whole file being written is
    /// left as a partial temporary.
    pub fail_next_sync: bool,
    /// Whole files (snapshots), durable once written.
    files: BTreeMap<String, Vec<u8>>,
    /// Segments moved to the archive.
    archived: BTreeMap<String, Vec<u8>>,
}

fn next(seed: &mut u64) -> u64 {
    *seed = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *seed;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl MemStorage {
    /// An empty storage with unlimited space.
    pub fn new() -> MemStorage {
        MemStorage::default()
    }

    /// The storage a crash now would leave behind: durable bytes, plus what `crash` lets through.
    #[must_use]
    pub fn crash(&self, crash: Crash) -> MemStorage {
        let mut after = MemStorage {
            space_left: self.space_left,
            files: self.files.clone(),
            archived: self.archived.clone(),
            ..MemStorage::default()
        };
        for segment in &self.segments {
            if !self.names.contains_key(&segment.name) {
                continue;
            }
            let mut bytes = segment.durable.clone();
            if let Crash::RandomPages { seed } | Crash::TornWrite { seed } = crash {
                let mut seed = seed ^ segment.name.len() as u64;
                let mut last_kept = None;
                for page in (0..bytes.len()).step_by(PAGE) {
                    let end = (page + PAGE).min(bytes.len());
                    if bytes[page..end] != segment.written[page..end] && next(&mut seed).is_multiple_of(2) {
                        bytes[page..end].copy_from_slice(&segment.written[page..end]);
                        last_kept = Some(page);
                    }
                }
                if let (Crash::TornWrite { .. }, Some(page)) = (crash, last_kept) {
                    let end = (page + PAGE).min(bytes.len());
                    let cut = page + usize::try_from(next(&mut seed) % PAGE as u64).expect("small");
                    if cut < end {
                        bytes[cut..end].copy_from_slice(&segment.durable[cut..end]);
                    }
                }
            }
            let id = after.segments.len();
            after.names.insert(segment.name.clone(), id);
            after.segments.push(MemSegment {
                name: segment.name.clone(),
                written: bytes.clone(),
                durable: bytes,
            });
        }
        after
    }

    /// The storage a crash now would leave if, of everything not synced, only this segment's
    /// bytes before `at` reached the disk (a write torn at that byte).
    #[must_use]
    pub fn crash_torn_at(&self, name: &str, at: usize) -> MemStorage {
        let mut after = self.crash(Crash::DropUnsynced);
        let written = &self.segments[self.names[name]].written[..at];
        let segment = &mut after.segments[after.names[name]];
        segment.written[..at].copy_from_slice(written);
        segment.durable[..at].copy_from_slice(written);
        after
    }

    /// A storage holding one segment with these bytes, durable (for fuzzing the reader).
    pub fn with_segment(name: &str, bytes: Vec<u8>) -> MemStorage {
        let mut storage = MemStorage::new();
        storage.names.insert(name.to_string(), 0);
        storage.segments.push(MemSegment { name: name.to_string(), written: bytes.clone(), durable: bytes });
        storage
    }

    /// Flips one bit of a whole file (a snapshot going bad on the disk).
    pub fn flip_file_bit(&mut self, name: &str, byte: usize, bit: u8) {
        let file = self.files.get_mut(name).expect("the file exists");
        file[byte] ^= 1 << bit;
    }

    /// Names of the archived segments.
    pub fn archived(&self) -> Vec<String> {
        self.archived.keys().cloned().collect()
    }

    /// Flips one bit of a segment, written and durable alike (bit rot on the disk).
    pub fn flip_bit(&mut self, name: &str, byte: usize, bit: u8) {
        let id = self.names[name];
        let segment = &mut self.segments[id];
        segment.written[byte] ^= 1 << bit;
        segment.durable[byte] ^= 1 << bit;
    }
}

impl Storage for MemStorage {
    fn list(&self) -> Result<Vec<String>, StorageError> {
        Ok(self.names.keys().cloned().collect())
    }

    fn create(&mut self, name: &str, size: u64) -> Result<SegmentId, StorageError> {
        if self.names.contains_key(name) {
            return Err(StorageError::Exists(name.to_string()));
        }
        if let Some(left) = self.space_left {
            if left < size {
                return Err(StorageError::NoSpace { size });
            }
            self.space_left = Some(left - size);
        }
        let len = usize::try_from(size).map_err(|_| StorageError::NoSpace { size })?;
        let id = self.segments.len();
        self.segments.push(MemSegment {
            name: name.to_string(),
            written: vec![0; len],
            durable: vec![0; len],
        });
        self.names.insert(name.to_string(), id);
        Ok(SegmentId(id))
    }

    fn open(&mut self, name: &str) -> Result<SegmentId, StorageError> {
        self.names.get(name).map(|&id| SegmentId(id)).ok_or_else(|| StorageError::NotFound(name.to_string()))
    }

    fn bytes(&self, id: SegmentId) -> &[u8] {
        &self.segments[id.0].written
    }

    fn write(&mut self, id: SegmentId, offset: usize, bytes: &[u8]) {
        self.segments[id.0].written[offset..offset + bytes.len()].copy_from_slice(bytes);
    }

    fn region(&mut self, id: SegmentId, offset: usize, len: usize) -> &mut [u8] {
        &mut self.segments[id.0].written[offset..offset + len]
    }

    fn sync(&mut self, id: SegmentId) -> Result<(), StorageError> {
        let segment = &mut self.segments[id.0];
        if self.fail_next_sync {
            self.fail_next_sync = false;
            return Err(StorageError::SyncFailed { segment: segment.name.clone() });
        }
        segment.durable.copy_from_slice(&segment.written);
        Ok(())
    }

    fn remove(&mut self, name: &str) -> Result<(), StorageError> {
        self.names.remove(name).map(|_| ()).ok_or_else(|| StorageError::NotFound(name.to_string()))
    }

    fn close(&mut self, _id: SegmentId) {
        // Segments in memory are not mapped: nothing to let go of.
    }

    fn archive(&mut self, name: &str) -> Result<(), StorageError> {
        let id = self.names.remove(name).ok_or_else(|| StorageError::NotFound(name.to_string()))?;
        self.archived.insert(name.to_string(), self.segments[id].durable.clone());
        Ok(())
    }

    fn file_names(&self, extension: &str) -> Result<Vec<String>, StorageError> {
        let suffix = format!(".{extension}");
        Ok(self.files.keys().filter(|n| n.ends_with(&suffix)).cloned().collect())
    }

    fn read_file(&self, name: &str) -> Result<Vec<u8>, StorageError> {
        self.files.get(name).cloned().ok_or_else(|| StorageError::NotFound(name.to_string()))
    }

    fn write_file(&mut self, name: &str, parts: &[&[u8]]) -> Result<(), StorageError> {
        let bytes = parts.concat();
        if self.fail_next_sync {
            self.fail_next_sync = false;
            self.files.insert(format!("{name}.tmp"), bytes[..bytes.len() / 2].to_vec());
            return Err(StorageError::SyncFailed { segment: format!("{name}.tmp") });
        }
        self.files.remove(&format!("{name}.tmp"));
        self.files.insert(name.to_string(), bytes);
        Ok(())
    }

    fn remove_file(&mut self, name: &str) -> Result<(), StorageError> {
        self.files.remove(name).map(|_| ()).ok_or_else(|| StorageError::NotFound(name.to_string()))
    }
}

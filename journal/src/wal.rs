//! The write-ahead log: fixed-size segments of chained records, durable extents, recovery.
//!
//! Segment layout (docs/FORMAT.md): a 64-byte header (magic, version, size, first sequence, the
//! previous segment's last checksum, its own checksum), two 16-byte durable-extent markers at 64
//! and 128, records from 4096. A segment is named by its first sequence (`{:020}.wal`).
//!
//! Durability: `sync` makes every record written so far durable, then writes a marker (alternating
//! slots) saying how far the segment was synced; the marker becomes durable with the next sync.
//! Moving to a new segment syncs nothing (`async` appends never wait for the disk), not even its
//! header or name, which become durable with its first sync; the next sync first makes each
//! segment left since the last one durable with its final marker, in order. Syncs may also be
//! made by another thread (`sync_handles`, then `note_durable`): segments left behind then get
//! their final marker without waiting for it to be durable (it claims only durable bytes), and
//! the current one a marker at the [`AppendMark`] taken before those syncs ran.
//! Recovery may therefore find an unsynced tail at the end of any segment: the log is cut there
//! and the later segments, which cannot hold synced records (else it is corruption), are removed. Recovery trusts
//! the larger valid marker: every byte before it was synced, so an invalid record there is
//! **corruption** (reported with segment and offset, never skipped); after it, the data is cut at
//! the first record that is not valid or does not continue the sequence and the checksum chain (a
//! torn or lost tail of unsynced writes). No record after a cut is ever applied.
//!
//! Complexity: append O(payload), no allocation (records are encoded in place in the segment);
//! recovery O(bytes written); reading from a sequence finds its
//! segment by binary search, then scans that segment.

use crate::record::{Decoded, Header, PAYLOAD_LEN_MAX, decode, encode, record_len};
use crate::storage::{SegmentId, Storage, StorageError, SyncHandle};

/// Magic of a segment file.
pub const SEGMENT_MAGIC: [u8; 8] = *b"FERREXWL";
/// Segment format version.
pub const SEGMENT_VERSION: u32 = 1;
/// Where records start in a segment.
pub const DATA_START: usize = 4096;
/// Offsets of the two durable-extent markers.
pub const MARKERS: [usize; 2] = [64, 128];

/// Why the log cannot go on, or cannot be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JournalError {
    /// The storage failed (a failed sync stops the process: data may be lost).
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
    /// A synced record is not valid: the journal is damaged.
    #[error("corrupt journal: segment {segment}, offset {offset}: {reason}")]
    Corruption {
        /// The segment file.
        segment: String,
        /// Byte offset in it.
        offset: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// A segment's header is not valid.
    #[error("segment {segment}: bad header")]
    BadSegmentHeader {
        /// The segment file.
        segment: String,
    },
    /// Segments do not follow each other (a missing or foreign segment).
    #[error("segment {segment}: starts at sequence {found}, expected {expected}")]
    SequenceGap {
        /// The segment file.
        segment: String,
        /// The sequence it should start at.
        expected: u64,
        /// The sequence it starts at.
        found: u64,
    },
    /// A payload larger than a record or a segment can hold.
    #[error("payload of {0} bytes is too large")]
    PayloadTooLarge(usize),
    /// An append to a log opened for reading only.
    #[error("the journal is open for reading only")]
    ReadOnly,
}

/// What recovery found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Segments read.
    pub segments: usize,
    /// Valid records found.
    pub records: u64,
    /// Sequence of the first record the log holds or will hold: 1, or later when the segments
    /// before it were retired after a snapshot covered them.
    pub first_sequence: u64,
    /// Sequence of the last valid record (`first_sequence - 1`: none).
    pub last_sequence: u64,
    /// Where unsynced data was cut, if any: (segment, offset).
    pub cut: Option<(String, usize)>,
    /// Segments removed (or, for `verify`, that opening would remove): never-written ones, and
    /// those after a lost tail.
    pub removed: Vec<String>,
}

/// Where the records appended so far end, for a thread that syncs them ([`Wal::append_mark`]):
/// the segment being written (counted from the log's opening, wrapping) and the end of its
/// records, packed in a `u64` so that it can travel through an atomic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AppendMark(u64);

impl AppendMark {
    /// The packed form (never `u64::MAX`: a segment's end is below `u32::MAX`).
    pub fn to_bits(self) -> u64 {
        self.0
    }

    /// From the packed form; `None` for `u64::MAX`, which no mark uses.
    pub fn from_bits(bits: u64) -> Option<AppendMark> {
        (bits != u64::MAX).then_some(AppendMark(bits))
    }

    fn new(ordinal: u32, end: usize) -> AppendMark {
        let end = u32::try_from(end).expect("segments are smaller than 4 GiB (asserted at open)");
        AppendMark((u64::from(ordinal) << 32) | u64::from(end))
    }

    fn ordinal(self) -> u32 {
        u32::try_from(self.0 >> 32).expect("32 bits")
    }

    fn end(self) -> usize {
        usize::try_from(self.0 & u64::from(u32::MAX)).expect("32 bits fit")
    }
}

/// One segment as recovery and reading see it.
#[derive(Clone, Debug)]
struct Segment {
    id: SegmentId,
    first_sequence: u64,
    /// End of its records.
    end: usize,
}

/// The write-ahead log over a storage.
#[derive(Debug)]
pub struct Wal<S: Storage> {
    storage: S,
    segment_size: usize,
    segments: Vec<Segment>,
    next_sequence: u64,
    last_checksum: u64,
    marker_slot: usize,
    /// Which segment is being written, counted from the opening (wrapping): the first half of
    /// an [`AppendMark`].
    ordinal: u32,
    /// The end the current segment's latest marker claims (`DATA_START`: none written).
    marked_end: usize,
    /// Index of the first segment with writes not yet synced.
    unsynced_from: usize,
    read_only: bool,
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
}

/// The file name of the segment whose first record is `first_sequence`.
pub fn segment_name(first_sequence: u64) -> String {
    format!("{first_sequence:020}.wal")
}

/// The 64-byte header of a segment (docs/FORMAT.md).
pub fn segment_header(size: u64, first_sequence: u64, prev_checksum: u64) -> [u8; 64] {
    header_bytes(size, first_sequence, prev_checksum)
}

fn header_bytes(size: u64, first_sequence: u64, prev_checksum: u64) -> [u8; 64] {
    let mut header = [0u8; 64];
    header[0..8].copy_from_slice(&SEGMENT_MAGIC);
    header[8..12].copy_from_slice(&SEGMENT_VERSION.to_le_bytes());
    header[16..24].copy_from_slice(&size.to_le_bytes());
    header[24..32].copy_from_slice(&first_sequence.to_le_bytes());
    header[32..40].copy_from_slice(&prev_checksum.to_le_bytes());
    let checksum = xxhash_rust::xxh3::xxh3_64(&header[0..40]);
    header[40..48].copy_from_slice(&checksum.to_le_bytes());
    header
}

fn marker_bytes(end: u64, first_sequence: u64) -> [u8; 16] {
    let mut marker = [0u8; 16];
    marker[0..8].copy_from_slice(&end.to_le_bytes());
    let mut keyed = [0u8; 16];
    keyed[0..8].copy_from_slice(&end.to_le_bytes());
    keyed[8..16].copy_from_slice(&first_sequence.to_le_bytes());
    marker[8..16].copy_from_slice(&xxhash_rust::xxh3::xxh3_64(&keyed).to_le_bytes());
    marker
}

/// The durable extent a segment's markers prove (`DATA_START` when neither is valid).
fn durable_end(bytes: &[u8], first_sequence: u64) -> usize {
    MARKERS
        .iter()
        .filter_map(|&at| {
            let end = u64_at(bytes, at);
            (marker_bytes(end, first_sequence)[..] == bytes[at..at + 16]).then_some(end)
        })
        .filter_map(|end| usize::try_from(end).ok())
        .filter(|&end| end >= DATA_START && end <= bytes.len())
        .max()
        .unwrap_or(DATA_START)
}

impl<S: Storage> Wal<S> {
    /// Opens the log in `storage` (creating its first segment if it has none), recovering what was
    /// written: see the module docs.
    pub fn open(storage: S, segment_size: usize) -> Result<(Wal<S>, Recovery), JournalError> {
        let (mut wal, mut recovery) = Self::scan(storage, segment_size, false).map_err(|(_, error)| error)?;
        recovery.segments = wal.segments.len();
        if wal.segments.is_empty() {
            wal.start_segment()?;
        } else {
            wal.erase_stale_tail()?;
        }
        // The first roll finds its file ready (the storage prepares it in the background).
        wal.storage.prepare(segment_size as u64);
        wal.unsynced_from = wal.segments.len() - 1;
        Ok((wal, recovery))
    }

    /// Opens a log for reading only: what `open` would recover, without writing or removing
    /// anything (appends are refused). For audits of a journal another process may own.
    pub fn read_only(storage: S, segment_size: usize) -> Result<(Wal<S>, Recovery), JournalError> {
        let (mut wal, mut recovery) = Self::scan(storage, segment_size, true).map_err(|(_, error)| error)?;
        recovery.segments = wal.segments.len();
        wal.read_only = true;
        Ok((wal, recovery))
    }

    /// Checks a log without changing it: what `open` would recover, cut and remove, or the
    /// corruption it would refuse. Returns the storage untouched.
    pub fn verify(storage: S, segment_size: usize) -> (S, Result<Recovery, JournalError>) {
        match Self::scan(storage, segment_size, true) {
            Ok((wal, mut recovery)) => {
                recovery.segments = wal.segments.len();
                (wal.storage, Ok(recovery))
            }
            Err((storage, error)) => (storage, Err(error)),
        }
    }

    /// Recovery proper. With `dry_run` nothing is written or removed. On error the storage is
    /// handed back.
    #[allow(clippy::type_complexity)]
    fn scan(storage: S, segment_size: usize, dry_run: bool) -> Result<(Wal<S>, Recovery), (S, JournalError)> {
        assert!(
            segment_size >= DATA_START * 2
                && segment_size.is_multiple_of(8)
                && u32::try_from(segment_size).is_ok_and(|size| size < u32::MAX),
            "segment size {segment_size}"
        );
        let mut wal = Wal {
            storage,
            segment_size,
            segments: Vec::new(),
            next_sequence: 1,
            last_checksum: 0,
            marker_slot: 0,
            ordinal: 0,
            marked_end: DATA_START,
            unsynced_from: 0,
            read_only: dry_run,
        };
        match wal.recover_all(dry_run) {
            Ok(recovery) => Ok((wal, recovery)),
            Err(error) => Err((wal.storage, error)),
        }
    }

    fn recover_all(&mut self, dry_run: bool) -> Result<Recovery, JournalError> {
        let mut recovery = Recovery::default();
        let mut lost_tail = false;
        for name in self.storage.list()? {
            let id = self.storage.open(&name)?;
            let bytes = self.storage.bytes(id);
            // Shorter than a header: killed between creating the file and allocating its space.
            // A header that is not whole, in a segment nothing proves synced: a roll whose header
            // a crash lost or tore (the header is durable with the segment's first sync).
            let never_written =
                bytes.len() < 64 || bytes[..64].iter().all(|&b| b == 0) || self.unsynced_roll(&name, bytes);
            let follows = bytes.len() >= 64 && u64_at(bytes, 24) == self.next_sequence;
            if !never_written && (lost_tail || (!self.segments.is_empty() && !follows)) {
                // After a lost unsynced tail: nothing here may have been synced.
                if bytes.len() < DATA_START || durable_end(bytes, u64_at(bytes, 24)) > DATA_START {
                    return Err(JournalError::Corruption {
                        segment: name,
                        offset: DATA_START,
                        reason: "synced records after a lost tail",
                    });
                }
                lost_tail = true;
            }
            if never_written || lost_tail {
                // Created but never written (a crash during a roll), or after a lost tail.
                if !dry_run {
                    self.storage.remove(&name)?;
                }
                recovery.removed.push(name);
                continue;
            }
            lost_tail = self.recover_segment(id, &name, &mut recovery)?;
        }
        recovery.first_sequence = self.segments.first().map_or(self.next_sequence, |s| s.first_sequence);
        recovery.last_sequence = self.next_sequence - 1;
        Ok(recovery)
    }

    /// Whether a segment's header is not valid while none of its markers (read with the first
    /// sequence its name gives) is: the header of a roll that no sync covered yet.
    fn unsynced_roll(&self, name: &str, bytes: &[u8]) -> bool {
        let Some(first_sequence) = name.strip_suffix(".wal").and_then(|n| n.parse::<u64>().ok()) else {
            return false;
        };
        let header_valid =
            bytes[..64] == header_bytes(bytes.len() as u64, u64_at(bytes, 24), u64_at(bytes, 32));
        !header_valid && bytes.len() == self.segment_size && durable_end(bytes, first_sequence) == DATA_START
    }

    /// Recovers one segment's records; returns true when it ends at a cut (an unsynced tail that is
    /// not all zeros), after which later segments cannot hold synced data.
    fn recover_segment(
        &mut self,
        id: SegmentId,
        name: &str,
        recovery: &mut Recovery,
    ) -> Result<bool, JournalError> {
        let bytes = self.storage.bytes(id);
        let expected = header_bytes(bytes.len() as u64, u64_at(bytes, 24), u64_at(bytes, 32));
        if bytes.len() != self.segment_size || bytes[..64] != expected[..] {
            return Err(JournalError::BadSegmentHeader { segment: name.to_string() });
        }
        let first_sequence = u64_at(bytes, 24);
        if self.segments.is_empty() && first_sequence > 0 {
            // The oldest segment left: those before it were retired after a snapshot covered them
            // (the caller checks that a snapshot does cover them: `Recovery::first_sequence`).
            self.next_sequence = first_sequence;
            self.last_checksum = u64_at(bytes, 32);
        }
        if first_sequence != self.next_sequence || u64_at(bytes, 32) != self.last_checksum {
            return Err(JournalError::SequenceGap {
                segment: name.to_string(),
                expected: self.next_sequence,
                found: first_sequence,
            });
        }
        let synced = durable_end(bytes, first_sequence);
        let mut at = DATA_START;
        loop {
            let (valid, used, header) = match decode(&bytes[at..]) {
                Decoded::Record(header, _, used) => (
                    header.sequence == self.next_sequence && header.prev_checksum == self.last_checksum,
                    used,
                    Some(header),
                ),
                Decoded::Empty | Decoded::Invalid => (false, 0, None),
            };
            if !valid {
                if at < synced {
                    let reason = if header.is_some() {
                        "record breaks the sequence or chain"
                    } else {
                        "invalid record"
                    };
                    return Err(JournalError::Corruption { segment: name.to_string(), offset: at, reason });
                }
                if !matches!(decode(&bytes[at..]), Decoded::Empty) {
                    recovery.cut = Some((name.to_string(), at));
                    self.segments.push(Segment { id, first_sequence, end: at });
                    return Ok(true);
                }
                break;
            }
            let header = header.expect("valid");
            self.next_sequence += 1;
            self.last_checksum = header.checksum;
            recovery.records += 1;
            at += used;
            if at + crate::record::HEADER_LEN > bytes.len() {
                break;
            }
        }
        self.segments.push(Segment { id, first_sequence, end: at });
        Ok(false)
    }

    /// Zeroes, durably, whatever the last segment holds after its recovered end: bytes of unsynced
    /// writes a crash let through. Left there, an old record could chain onto an identical new one
    /// and come back to life after the next crash.
    fn erase_stale_tail(&mut self) -> Result<(), JournalError> {
        let segment = self.current().clone();
        let bytes = self.storage.bytes(segment.id);
        if let Some(last) = bytes[segment.end..].iter().rposition(|&b| b != 0) {
            let zeros = vec![0u8; last + 1];
            self.storage.write(segment.id, segment.end, &zeros);
            self.storage.sync(segment.id)?;
        }
        Ok(())
    }

    /// Creates the next segment, starting at `next_sequence`. Its header, like its name, becomes
    /// durable with the segment's first sync (before any record in it is): a roll never waits
    /// for the disk. Recovery removes a last segment whose header a crash lost or tore.
    fn start_segment(&mut self) -> Result<(), JournalError> {
        let name = segment_name(self.next_sequence);
        let size = self.segment_size as u64;
        let id = self.storage.create(&name, size)?;
        self.storage.write(id, 0, &header_bytes(size, self.next_sequence, self.last_checksum));
        self.segments.push(Segment { id, first_sequence: self.next_sequence, end: DATA_START });
        self.ordinal = self.ordinal.wrapping_add(1);
        self.marked_end = DATA_START;
        Ok(())
    }

    /// Appends a record; returns its sequence. Not durable until `sync`.
    pub fn append(&mut self, timestamp_ns: u64, payload: &[u8]) -> Result<u64, JournalError> {
        if self.read_only {
            return Err(JournalError::ReadOnly);
        }
        let len = record_len(payload.len());
        if payload.is_empty() || payload.len() > PAYLOAD_LEN_MAX || len > self.segment_size - DATA_START {
            return Err(JournalError::PayloadTooLarge(payload.len()));
        }
        if self.current().end + len > self.segment_size {
            // No sync here: `async` appends never wait for the disk; the next `sync` covers the
            // segment being left (with its final marker) before the new one.
            self.start_segment()?;
        }
        let sequence = self.next_sequence;
        let segment = self.segments.last_mut().expect("a current segment");
        // Encoded in place, straight into the segment (no staging copy).
        let region = self.storage.region(segment.id, segment.end, len);
        self.last_checksum = encode(region, sequence, timestamp_ns, self.last_checksum, payload);
        segment.end += len;
        self.next_sequence += 1;
        Ok(sequence)
    }

    /// Makes every appended record durable (one sync for all of them: group commit), then records
    /// the durable extent in the next marker slot (durable with the next sync).
    pub fn sync(&mut self) -> Result<(), JournalError> {
        let last = self.segments.len() - 1;
        for index in self.unsynced_from..last {
            // A segment left since the last sync: its records, then its final marker, durable
            // before anything after it is.
            let segment = self.segments[index].clone();
            self.storage.sync(segment.id)?;
            let marker = marker_bytes(segment.end as u64, segment.first_sequence);
            for at in MARKERS {
                self.storage.write(segment.id, at, &marker);
            }
            self.storage.sync(segment.id)?;
        }
        self.unsynced_from = last;
        let segment = self.current().clone();
        self.storage.sync(segment.id)?;
        self.write_marker(segment.end);
        Ok(())
    }

    /// Writes `end` into the current segment's next marker slot (A, B, A, ...: a torn write
    /// leaves the other one valid). The caller knows every byte before `end` durable.
    fn write_marker(&mut self, end: usize) {
        let segment = self.current();
        assert!(end >= DATA_START && end <= segment.end, "a marker within the records");
        let (id, marker) = (segment.id, marker_bytes(end as u64, segment.first_sequence));
        self.storage.write(id, MARKERS[self.marker_slot], &marker);
        self.marker_slot ^= 1;
        self.marked_end = end;
    }

    /// Where the records appended so far end: hand it, with the last sequence, to the thread
    /// that syncs them, and back to [`Wal::note_durable`] once that thread's sync has covered it.
    pub fn append_mark(&self) -> AppendMark {
        AppendMark::new(self.ordinal, self.current().end)
    }

    fn current(&self) -> &Segment {
        self.segments.last().expect("a current segment")
    }

    /// The sequence the next append will get.
    pub fn next_sequence(&self) -> u64 {
        self.next_sequence
    }

    /// The storage (for tests: crash it, inspect it).
    pub fn storage(&self) -> &S {
        &self.storage
    }

    /// The storage, for writing snapshot files beside the segments.
    pub fn storage_mut(&mut self) -> &mut S {
        &mut self.storage
    }

    /// Sequence of the oldest record the log holds (or the next one, when it holds none).
    pub fn first_sequence(&self) -> u64 {
        self.segments.first().map_or(self.next_sequence, |s| s.first_sequence)
    }

    /// The segments: (name, first sequence, bytes used), oldest first.
    pub fn segments(&self) -> Vec<(String, u64, usize)> {
        self.segments.iter().map(|s| (segment_name(s.first_sequence), s.first_sequence, s.end)).collect()
    }

    /// Sequence of the first record of the segment being written.
    pub fn current_first_sequence(&self) -> u64 {
        self.current().first_sequence
    }

    /// Handles that make durable, from another thread, the segments whose first sequence is
    /// after `after` (`None`: every segment not yet synced), oldest first. Whoever runs them makes every record appended before they run durable (with
    /// the segment's header and name), in order: then [`Wal::note_durable`].
    pub fn sync_handles(&self, after: Option<u64>) -> Result<Vec<SyncHandle>, JournalError> {
        let from = after
            .map_or(self.unsynced_from, |after| self.segments.partition_point(|s| s.first_sequence <= after));
        let mut handles = Vec::with_capacity(self.segments.len() - from);
        for segment in &self.segments[from..] {
            handles.push(self.storage.sync_handle(segment.id)?);
        }
        Ok(handles)
    }

    /// Records every record through `through` durable, made so by [`Wal::sync_handles`]' handles
    /// on another thread: the segments it completes may be retired, and each gets its final
    /// marker (durable whenever its page is next written back: it claims only what is durable
    /// already). `mark`, an [`Wal::append_mark`] taken before those syncs ran, gives the current
    /// segment its marker too, when it is still the segment written: a record damaged before it
    /// is then corruption at recovery, not a torn tail to cut.
    pub fn note_durable(&mut self, through: u64, mark: Option<AppendMark>) -> Result<(), JournalError> {
        if self.read_only {
            return Err(JournalError::ReadOnly);
        }
        let last = self.segments.len() - 1;
        while self.unsynced_from < last && self.segments[self.unsynced_from + 1].first_sequence <= through + 1
        {
            let segment = self.segments[self.unsynced_from].clone();
            let marker = marker_bytes(segment.end as u64, segment.first_sequence);
            for at in MARKERS {
                self.storage.write(segment.id, at, &marker);
            }
            self.unsynced_from += 1;
        }
        if let Some(mark) = mark.filter(|m| m.ordinal() == self.ordinal && m.end() > self.marked_end) {
            self.write_marker(mark.end());
        }
        Ok(())
    }

    /// Retires (removes, or moves to the storage's archive with `archive`) every segment whose
    /// records all have sequences up to `sequence`; never the current one. Returns their names.
    pub fn retire_through(&mut self, sequence: u64, archive: bool) -> Result<Vec<String>, JournalError> {
        if self.read_only {
            return Err(JournalError::ReadOnly);
        }
        let covered = self.segments.windows(2).take_while(|w| w[1].first_sequence <= sequence + 1).count();
        let covered = covered.min(self.unsynced_from);
        let mut names = Vec::with_capacity(covered);
        for segment in self.segments.drain(..covered) {
            let name = segment_name(segment.first_sequence);
            if archive {
                self.storage.archive(&name)?;
            } else {
                self.storage.remove(&name)?;
            }
            names.push(name);
        }
        self.unsynced_from -= covered;
        Ok(names)
    }

    /// Records from `sequence` on, in order: (header, payload).
    pub fn read_from(&self, sequence: u64) -> impl Iterator<Item = (Header, &[u8])> + '_ {
        let first = self.segments.partition_point(|s| s.first_sequence <= sequence).saturating_sub(1);
        self.segments[first..].iter().flat_map(move |segment| {
            let bytes = &self.storage.bytes(segment.id)[..segment.end];
            let mut at = DATA_START;
            std::iter::from_fn(move || {
                while at < bytes.len() {
                    let Decoded::Record(header, payload, used) = decode(&bytes[at..]) else {
                        unreachable!("recovered and appended data decodes")
                    };
                    at += used;
                    if header.sequence >= sequence {
                        return Some((header, payload));
                    }
                }
                None
            })
        })
    }
}

/// Reads a log another owner is appending to, up to a sequence that owner says is durable (its
/// durable watermark): the snapshotter's view of the journal. Keeps one segment open at a time and
/// opens the next by name when the current one is read to its end.
///
/// Invariants: every record up to the watermark was written and synced before the watermark was
/// published, so it decodes and continues the sequence and the chain; anything else is corruption.
/// Complexity: O(records read); no scan from the start.
#[derive(Debug)]
pub struct Follower<S: Storage> {
    storage: S,
    /// The open segment: its id, first sequence and where the next record starts.
    segment: (SegmentId, u64, usize),
    next_sequence: u64,
    last_checksum: u64,
}

impl<S: Storage> Follower<S> {
    /// A follower whose next record is `next_sequence`, found by searching the segment names (the
    /// last segment starting at or before it); `last_checksum` is the checksum of the record before
    /// it (0 for the first record of a log), checked against the chain.
    pub fn new(mut storage: S, next_sequence: u64) -> Result<Follower<S>, JournalError> {
        let names = storage.list()?;
        let firsts: Vec<u64> =
            names.iter().filter_map(|n| n.strip_suffix(".wal").and_then(|f| f.parse().ok())).collect();
        let at = firsts.partition_point(|&f| f <= next_sequence);
        let Some(&first) = at.checked_sub(1).and_then(|i| firsts.get(i)) else {
            return Err(JournalError::SequenceGap {
                segment: names.first().cloned().unwrap_or_default(),
                expected: next_sequence,
                found: firsts.first().copied().unwrap_or(0),
            });
        };
        let id = storage.open(&segment_name(first))?;
        let bytes = storage.bytes(id);
        let expected = header_bytes(bytes.len() as u64, first, u64_at(bytes, 32));
        if bytes.len() < DATA_START || bytes[..64] != expected[..] {
            return Err(JournalError::BadSegmentHeader { segment: segment_name(first) });
        }
        let last_checksum = u64_at(bytes, 32);
        let mut follower =
            Follower { storage, segment: (id, first, DATA_START), next_sequence: first, last_checksum };
        follower.read_through(next_sequence - 1, |_, _| {})?;
        Ok(follower)
    }

    /// The sequence of the next record to read.
    pub fn next_sequence(&self) -> u64 {
        self.next_sequence
    }

    /// The storage (the snapshotter writes snapshot files through it).
    pub fn storage_mut(&mut self) -> &mut S {
        &mut self.storage
    }

    /// Calls `visit` with every record from the next one through `sequence` (a durable one).
    pub fn read_through(
        &mut self,
        sequence: u64,
        mut visit: impl FnMut(Header, &[u8]),
    ) -> Result<(), JournalError> {
        while self.next_sequence <= sequence {
            let (id, first, at) = self.segment;
            let bytes = self.storage.bytes(id);
            let decoded = if at + crate::record::HEADER_LEN <= bytes.len() {
                decode(&bytes[at..])
            } else {
                Decoded::Empty
            };
            match decoded {
                Decoded::Record(header, payload, used) => {
                    if header.sequence != self.next_sequence || header.prev_checksum != self.last_checksum {
                        return Err(JournalError::Corruption {
                            segment: segment_name(first),
                            offset: at,
                            reason: "record breaks the sequence or chain",
                        });
                    }
                    visit(header, payload);
                    self.next_sequence += 1;
                    self.last_checksum = header.checksum;
                    self.segment = (id, first, at + used);
                }
                Decoded::Empty => {
                    // The end of this segment's records: the next one starts at `next_sequence`.
                    let next_name = segment_name(self.next_sequence);
                    let next = self.storage.open(&next_name)?;
                    let bytes = self.storage.bytes(next);
                    let expected = header_bytes(bytes.len() as u64, self.next_sequence, self.last_checksum);
                    if bytes.len() < DATA_START || bytes[..64] != expected[..] {
                        return Err(JournalError::BadSegmentHeader { segment: next_name });
                    }
                    self.storage.close(id);
                    self.segment = (next, self.next_sequence, DATA_START);
                }
                Decoded::Invalid => {
                    return Err(JournalError::Corruption {
                        segment: segment_name(first),
                        offset: at,
                        reason: "invalid durable record",
                    });
                }
            }
        }
        Ok(())
    }
}

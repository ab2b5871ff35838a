//! Journal workloads on real files (a directory under the system's temporary directory, removed
//! afterwards):
//! - [`append_async`]: 64-byte payloads appended with no sync (the `async` durability mode);
//! - [`group_commit`]: batches of records appended then one sync, for each flush path, timing the
//!   sync and the whole batch;
//! - [`raw_fdatasync`]: the disk's own latency: a 4 KiB `write` then `fdatasync` of a plain file.

use std::io::Write;
use std::time::Instant;

use ferrex_journal::file::{FileStorage, Flush};
use ferrex_journal::wal::Wal;
use hdrhistogram::Histogram;

/// A scratch directory, removed on drop.
pub(crate) struct Scratch(pub(crate) std::path::PathBuf);

impl Scratch {
    pub(crate) fn new(tag: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("ferrex-bench-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Segment size of the benchmarks: 64 MiB.
pub const SEGMENT: usize = 64 << 20;

/// Records per second and bytes per second of appending `count` 64-byte payloads, no sync.
pub fn append_async(count: u64) -> (f64, f64) {
    let scratch = Scratch::new("append");
    let storage = FileStorage::open(&scratch.0, Flush::Fdatasync).expect("scratch directory");
    let (mut wal, _) = Wal::open(storage, SEGMENT).expect("new journal");
    let payload = [7u8; 64];
    let start = Instant::now();
    for n in 0..count {
        wal.append(n, &payload).expect("append");
    }
    let seconds = start.elapsed().as_secs_f64();
    let bytes = count as f64 * ferrex_journal::record::record_len(64) as f64;
    (count as f64 / seconds, bytes / seconds)
}

/// One group-commit measurement.
#[derive(Clone, Copy, Debug)]
pub struct GroupCommit {
    /// Records committed per second (appends and syncs included).
    pub records_per_s: f64,
    /// Sync latency percentiles, µs.
    pub sync_p50_us: f64,
    /// 99th percentile.
    pub sync_p99_us: f64,
}

/// `batches` batches of `batch` 64-byte records, each followed by one sync.
pub fn group_commit(flush: Flush, batch: u64, batches: u64) -> GroupCommit {
    let scratch = Scratch::new("commit");
    let (mut wal, _) =
        Wal::open(FileStorage::open(&scratch.0, flush).expect("dir"), SEGMENT).expect("journal");
    let payload = [7u8; 64];
    let mut histogram = Histogram::<u64>::new_with_bounds(1, 10_000_000_000, 3).expect("bounds");
    let start = Instant::now();
    for b in 0..batches {
        for n in 0..batch {
            wal.append(b * batch + n, &payload).expect("append");
        }
        let sync = Instant::now();
        wal.sync().expect("sync");
        histogram.saturating_record(u64::try_from(sync.elapsed().as_nanos()).unwrap_or(u64::MAX).max(1));
    }
    let seconds = start.elapsed().as_secs_f64();
    GroupCommit {
        records_per_s: (batch * batches) as f64 / seconds,
        sync_p50_us: histogram.value_at_quantile(0.5) as f64 / 1e3,
        sync_p99_us: histogram.value_at_quantile(0.99) as f64 / 1e3,
    }
}

/// The disk's own sync latency: `count` 4 KiB appends, each followed by `fdatasync`, ns each.
pub fn raw_fdatasync(count: u32) -> Histogram<u64> {
    let scratch = Scratch::new("raw");
    std::fs::create_dir_all(&scratch.0).expect("dir");
    let mut file = std::fs::File::create(scratch.0.join("raw")).expect("file");
    let block = [5u8; 4096];
    let mut histogram = Histogram::<u64>::new_with_bounds(1, 10_000_000_000, 3).expect("bounds");
    for _ in 0..count {
        let start = Instant::now();
        file.write_all(&block).expect("write");
        file.sync_data().expect("fdatasync");
        histogram.saturating_record(u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX).max(1));
    }
    histogram
}

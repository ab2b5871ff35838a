//! Segment files on disk, memory-mapped: the only module of ferrex with `unsafe` code.
//!
//! - `create`: the file's space is allocated with `posix_fallocate` (so a full disk is an error
//!   here, never a SIGBUS when a mapped page is first written) and synced; then it is renamed to
//!   its name and mapped. The directory sync that makes the name durable is deferred to the next
//!   `sync` of any segment (it runs before that sync returns), so a roll on the core thread costs
//!   a rename, not a directory sync: a segment's name is durable no later than the first record
//!   in it. After a power loss before that sync the file may be missing, with nothing in it ever
//!   acknowledged.
//! - the next segment's file is prepared ahead (created under [`SPARE_NAME`], allocated, synced)
//!   on a short-lived thread as soon as a segment is created, so a roll does not wait for the
//!   allocation or its sync; a roll that finds it not ready waits for it (bounded: one file's
//!   preparation). A stale spare (a crash) is overwritten by the next preparation; nothing reads it.
//!   Opening a log prepares one too (`prepare`), so the first roll after a start finds it ready.
//! - `write` copies into the mapping (no system call); `sync` makes it durable by `msync(MS_SYNC)`
//!   of the mapping or by `fdatasync` of the file ([`Flush`], chosen by measurement: both are
//!   durable for a shared file mapping on Linux); `sync_handle` gives another thread a duplicate
//!   descriptor to `fdatasync` the same file (and the directory, for a new segment's name).
//! - written data is let go: once the writer is 64 KiB past the last release, the data pages
//!   before its 64 KiB boundary are unmapped from this process (`MADV_DONTNEED`; their bytes stay
//!   in the page cache and the file, and a read maps them back). Writeback must write-protect
//!   every dirty page it cleans; a page still mapped writable costs a TLB shootdown of every CPU
//!   running a thread of the process, per page (measured: most of a background sync's CPU time,
//!   and `sync` durability's flat-out rate 1.0M -> 1.5M commands/s without them). The header page
//!   stays mapped (markers are rewritten at every sync).
//! - pages are read ahead of the writer: a thread of the storage (`Background`) asks the kernel
//!   (`POSIX_FADV_WILLNEED`) for the data pages 1 MiB ahead of the write position, 64 KiB at a
//!   time, so the page cache holds them (zeros) before the writer touches them, and the writer's
//!   first touch is a minor fault instead of one that allocates and clears the page on the
//!   writer's thread (on this VM 1.3 - 4 us a page: a quarter of the core's time at 2M
//!   commands/s, measured). Hints go through a bounded queue the writer never waits on. The
//!   thread runs at normal priority: the writer waits for a page it has locked while reading it
//!   in, and at nice 10 it was preempted in the middle (measured: the core asleep 9% of the time).
//!   The preparing and read-ahead threads are pinned to `set_prepare_cpu`'s CPU (off the core's).
//! - `remove` unmaps, deletes and syncs the directory; `archive` moves the file to `archive/`;
//!   once the storage writes segments, the deletion or move and its directory syncs run on its
//!   background thread (in the order asked; after a failure nothing more is retired and the next
//!   retirement reports it), so the writer pays only the unmapping;
//! - whole files (snapshots) are written to a temporary name, synced, renamed, and the directory
//!   synced (`write_file`).
//!
//! Assumption the safety of the mappings rests on: the journal directory belongs to this process
//! alone while it runs (nothing else truncates or rewrites its files). A failed sync is reported;
//! the caller stops (never retries).

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use memmap2::MmapMut;

use crate::storage::{SegmentId, Storage, StorageError, SyncHandle};

/// How `sync` makes a segment durable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flush {
    /// `msync(MS_SYNC)` of the mapping.
    Msync,
    /// `fdatasync` of the file (flushes its mapped pages too).
    Fdatasync,
}

/// A segment file being prepared ahead of need (module docs).
struct Spare {
    size: u64,
    ready: std::thread::JoinHandle<Result<(File, MmapMut), StorageError>>,
}

struct Mapped {
    name: String,
    file: File,
    map: MmapMut,
    /// Pages of the data area before this offset have been unmapped from this process (module
    /// docs: written pages are let go).
    released_to: usize,
}

/// Written data is let go of in steps of this many bytes (module docs).
const RELEASE_STEP_BYTES: usize = 64 << 10;
/// The first byte of a segment's data area: the page before it (header, markers) is rewritten at
/// every sync and stays mapped.
const RELEASE_FROM: usize = 4096;

/// Segment files in one directory.
pub struct FileStorage {
    dir: PathBuf,
    flush: Flush,
    segments: Vec<Option<Mapped>>,
    names: BTreeMap<String, usize>,
    spare: Option<Spare>,
    /// A rename into the directory is not yet durable (synced by the next `sync`).
    dir_unsynced: bool,
    /// The CPU that prepares spare files and reads ahead (keep it off the core's).
    prepare_cpu: Option<usize>,
    /// The background thread (read-ahead, retirement), started by the first `create` (a log that
    /// only reads never has one).
    background: Option<Background>,
}

impl std::fmt::Debug for FileStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileStorage")
            .field("dir", &self.dir)
            .field("flush", &self.flush)
            .finish_non_exhaustive()
    }
}

impl Mapped {
    /// Unmaps from this process the pages of the data area before `end` (a multiple of the page
    /// size), which the log writes in order and has passed: their bytes stay in the page cache
    /// and the file (the next read faults them back). Writeback then finds them mapped nowhere,
    /// so cleaning each one costs no TLB shootdown of the writer's CPU (module docs).
    fn release_before(&mut self, end: usize) {
        assert!(end.is_multiple_of(4096) && end <= self.map.len(), "release to {end}");
        if end <= self.released_to {
            return;
        }
        let start = self.released_to;
        // SAFETY: the range lies inside this shared file mapping and is page-aligned (`end` is
        // checked above, `start` is an earlier `end` or `RELEASE_FROM`, and a mapping starts on a
        // page), and no reference into it is alive (`region` and `write` borrow the map mutably,
        // one call at a time). MADV_DONTNEED on a MAP_SHARED file mapping drops page-table
        // entries only: the data stays in the page cache and the file, and a later access maps
        // the same bytes again, so the mapping's contents never change. A hint: on failure the
        // pages simply stay mapped.
        let _ = unsafe {
            libc::madvise(self.map.as_mut_ptr().add(start).cast(), end - start, libc::MADV_DONTNEED)
        };
        self.released_to = end;
    }
}

fn io(error: &std::io::Error) -> StorageError {
    StorageError::Io(error.to_string())
}

impl FileStorage {
    /// Uses `dir` (created if missing) for segment files.
    pub fn open(dir: impl AsRef<Path>, flush: Flush) -> Result<FileStorage, StorageError> {
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&dir).map_err(|e| io(&e))?;
        Ok(FileStorage {
            dir,
            flush,
            segments: Vec::new(),
            names: BTreeMap::new(),
            spare: None,
            dir_unsynced: false,
            prepare_cpu: None,
            background: None,
        })
    }

    /// Pins the threads that prepare spare segment files to `cpu` (best effort), so they do not
    /// inherit the affinity of the thread that rolls the log (the core's own CPU).
    pub fn set_prepare_cpu(&mut self, cpu: Option<usize>) {
        self.prepare_cpu = cpu;
    }

    fn sync_dir(&self) -> Result<(), StorageError> {
        sync_dir(&self.dir).map_err(|e| io(&e))
    }

    /// Unmaps a segment and removes or archives its file: on the background thread once this
    /// storage has one (it writes segments), in the order asked; here otherwise.
    fn retire(&mut self, name: &str, archive: bool) -> Result<(), StorageError> {
        let id = self.names.remove(name).ok_or_else(|| StorageError::NotFound(name.to_string()))?;
        self.segments[id] = None;
        if let Some(background) = &self.background
            && background.retire(name, archive)?
        {
            return Ok(());
        }
        retire_file(&self.dir, name, archive)
    }

    fn map(&mut self, name: &str, file: File) -> Result<SegmentId, StorageError> {
        let map = map_file(&file, false)?;
        Ok(self.install(name, file, map))
    }

    fn install(&mut self, name: &str, file: File, map: MmapMut) -> SegmentId {
        let id = self.segments.len();
        self.segments.push(Some(Mapped { name: name.to_string(), file, map, released_to: RELEASE_FROM }));
        self.names.insert(name.to_string(), id);
        SegmentId(id)
    }

    fn mapped(&self, id: SegmentId) -> &Mapped {
        self.segments[id.0].as_ref().expect("segment is open")
    }

    /// The spare file of `size` bytes, ready: the one prepared ahead if it has that size, else
    /// prepared now.
    fn take_spare(&mut self, size: u64) -> Result<(File, MmapMut), StorageError> {
        let path = self.dir.join(SPARE_NAME);
        match self.spare.take() {
            Some(spare) if spare.size == size => spare
                .ready
                .join()
                .unwrap_or_else(|_| Err(StorageError::Io("segment preparation panicked".into()))),
            Some(spare) => {
                drop(spare.ready.join());
                prepare(&path, size)
            }
            None => prepare(&path, size),
        }
    }

    /// Starts preparing the next segment file of `size` bytes on its own thread.
    fn prepare_next(&mut self, size: u64) {
        debug_assert!(self.spare.is_none(), "one spare at a time");
        let path = self.dir.join(SPARE_NAME);
        let cpu = self.prepare_cpu;
        let ready = std::thread::Builder::new().name("ferrex-segment-prep".into()).spawn(move || {
            pin(cpu);
            prepare(&path, size)
        });
        // A thread that cannot start leaves the next roll to prepare its file itself.
        self.spare = ready.ok().map(|ready| Spare { size, ready });
    }
}

/// Pins the calling thread to `cpu` (best effort; `None`: left as it is).
fn pin(cpu: Option<usize>) {
    if let Some(id) = cpu {
        let _ = core_affinity::set_for_current(core_affinity::CoreId { id });
    }
}

/// What the writer tells the storage's background thread.
enum Hint {
    /// The segment being written from now on (a duplicate descriptor).
    Segment(File),
    /// Bring this byte range of it into the page cache.
    Range { offset: u64, len: u64 },
    /// Retire the segment `name` of the directory (removed, or moved to the archive), durably.
    Retire { name: String, archive: bool },
}

/// The storage's background thread: brings the pages the writer is about to reach into the
/// page cache (module docs), so the writer's first touch of each is a minor fault instead of one
/// that allocates and zeroes the page on the writer's thread; and retires segments, in the
/// order asked (a file removal with its directory sync costs milliseconds: not the writer's).
/// After a failed retirement it retires nothing more (a later segment gone while an earlier one
/// stays would break the log's chain) and the next retirement asked reports the failure.
struct Background {
    hints: Option<std::sync::mpsc::SyncSender<Hint>>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// A retirement failed (set once, by the thread).
    retire_failed: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

/// Hints queued at most; a hint that finds the queue full is dropped (the writer never waits).
const AHEAD_HINTS_MAX: usize = 64;
/// How far ahead of the writer pages are brought in.
const AHEAD_BYTES: usize = 1 << 20;

impl Background {
    fn start(dir: PathBuf, cpu: Option<usize>) -> Background {
        use std::sync::atomic::Ordering;
        let (hints, receiver) = std::sync::mpsc::sync_channel::<Hint>(AHEAD_HINTS_MAX);
        let retire_failed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let failed = std::sync::Arc::clone(&retire_failed);
        let thread = std::thread::Builder::new().name("ferrex-journal-bg".into()).spawn(move || {
            // Not at a lower priority: the writer waits for a page this thread has locked while
            // it reads it in, so it must not be preempted in the middle (measured).
            pin(cpu);
            let mut segment: Option<File> = None;
            for hint in receiver {
                match hint {
                    Hint::Segment(file) => segment = Some(file),
                    Hint::Range { offset, len } => {
                        if let Some(file) = &segment {
                            will_need(file, offset, len);
                        }
                    }
                    Hint::Retire { name, archive } => {
                        if !failed.load(Ordering::Acquire) && retire_file(&dir, &name, archive).is_err() {
                            failed.store(true, Ordering::Release);
                        }
                    }
                }
            }
        });
        match thread {
            Ok(thread) => Background { hints: Some(hints), thread: Some(thread), retire_failed },
            // Without the thread the writer faults its pages itself, as it would anyway.
            Err(_) => Background { hints: None, thread: None, retire_failed },
        }
    }

    /// Hands a retirement to the thread, in order (waits only if the queue is full); `Ok(false)`
    /// when there is no thread (the caller retires the file itself), an error when an earlier
    /// retirement failed.
    fn retire(&self, name: &str, archive: bool) -> Result<bool, StorageError> {
        if self.retire_failed.load(std::sync::atomic::Ordering::Acquire) {
            return Err(StorageError::Io("an earlier segment retirement failed".into()));
        }
        let Some(hints) = &self.hints else { return Ok(false) };
        let hint = Hint::Retire { name: name.to_string(), archive };
        Ok(hints.send(hint).is_ok())
    }

    /// Queues a hint unless the queue is full (never waits).
    fn hint(&self, hint: Hint) {
        if let Some(hints) = &self.hints {
            let _ = hints.try_send(hint);
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        self.hints = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Makes the entries of the directory at `path` durable (renames, removals, new files).
fn sync_dir(path: &Path) -> std::io::Result<()> {
    File::open(path)?.sync_all()
}

/// Removes the segment file `name` of `dir`, or moves it to the archive, durably (the
/// directories synced).
fn retire_file(dir: &Path, name: &str, archive: bool) -> Result<(), StorageError> {
    if archive {
        let archive = dir.join(ARCHIVE_DIR);
        std::fs::create_dir_all(&archive).map_err(|e| io(&e))?;
        std::fs::rename(dir.join(name), archive.join(name)).map_err(|e| io(&e))?;
        sync_dir(&archive).map_err(|e| io(&e))?;
    } else {
        std::fs::remove_file(dir.join(name)).map_err(|e| io(&e))?;
    }
    sync_dir(dir).map_err(|e| io(&e))
}

/// Asks the kernel to read `len` bytes at `offset` of `file` into the page cache now (for a
/// fresh segment: pages of zeros, allocated and cleared here rather than by the writer).
fn will_need(file: &File, offset: u64, len: u64) {
    let (Ok(offset), Ok(len)) = (libc::off_t::try_from(offset), libc::off_t::try_from(len)) else {
        return;
    };
    // SAFETY: `posix_fadvise` reads no memory of ours; the descriptor is valid for the call
    // (borrowed from `file`). A hint: its result does not matter.
    let _ = unsafe { libc::posix_fadvise(file.as_raw_fd(), offset, len, libc::POSIX_FADV_WILLNEED) };
}

impl Drop for FileStorage {
    fn drop(&mut self) {
        if let Some(spare) = self.spare.take() {
            drop(spare.ready.join());
            let _ = std::fs::remove_file(self.dir.join(SPARE_NAME));
        }
    }
}

/// The name of the segment file prepared ahead; not a segment until renamed (docs/FORMAT.md).
pub const SPARE_NAME: &str = "next-segment.spare";

/// Creates (or overwrites) the file at `path`, allocates `size` bytes, syncs it and maps it for
/// writing in order, page by page: `MADV_RANDOM` turns off read-ahead on the mapping. With it on,
/// the writer's first touch of a page was a fault that read ahead (zero-filled) a whole window of
/// the file on the writing thread: stalls of 1.5 - 5 ms on the core at the same journal offsets
/// in every run. On an error the file is removed. (Measured worse in the pipeline harness:
/// pre-faulting the whole mapping here, with `MAP_POPULATE`, takes the other CPU from the load
/// for each segment; with `MADV_POPULATE_WRITE`, or by zero-filling the file, the pages made dirty
/// are written back and compete with the journal's own writes.)
fn prepare(path: &Path, size: u64) -> Result<(File, MmapMut), StorageError> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .map_err(|e| io(&e))?;
    if let Err(error) = allocate(&file, size).and_then(|()| file.sync_all().map_err(|e| io(&e))) {
        drop(file);
        let _ = std::fs::remove_file(path);
        return Err(error);
    }
    let map = map_file(&file, true)?;
    Ok((file, map))
}

/// Maps a segment file for reading and writing; `fresh`: one the writer fills from its start
/// (no read-ahead, see `prepare`).
fn map_file(file: &File, fresh: bool) -> Result<MmapMut, StorageError> {
    // SAFETY: the mapping is of a regular file this process created or opened for reading and
    // writing, whose length never changes while it is mapped, in a directory that belongs to
    // this process alone (module docs); so the mapped bytes stay valid memory for its life.
    let map = unsafe { MmapMut::map_mut(file) }.map_err(|e| io(&e))?;
    if fresh {
        // A hint: the mapping works the same without it (best effort).
        let _ = map.advise(memmap2::Advice::Random);
    }
    Ok(map)
}

/// Allocates `size` bytes of disk for the file: an error (ENOSPC) now instead of a SIGBUS later.
fn allocate(file: &File, size: u64) -> Result<(), StorageError> {
    let len = libc::off_t::try_from(size).map_err(|_| StorageError::NoSpace { size })?;
    // SAFETY: `posix_fallocate` reads no memory of ours; the descriptor is valid for the call
    // (borrowed from `file`), and the range is non-negative.
    let code = unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, len) };
    match code {
        0 => Ok(()),
        libc::ENOSPC => Err(StorageError::NoSpace { size }),
        other => Err(io(&std::io::Error::from_raw_os_error(other))),
    }
}

impl Storage for FileStorage {
    fn list(&self) -> Result<Vec<String>, StorageError> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(&self.dir).map_err(|e| io(&e))? {
            let name = entry.map_err(|e| io(&e))?.file_name().to_string_lossy().into_owned();
            if Path::new(&name).extension().is_some_and(|extension| extension == "wal") {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }

    fn create(&mut self, name: &str, size: u64) -> Result<SegmentId, StorageError> {
        let path = self.dir.join(name);
        if path.try_exists().map_err(|e| io(&e))? {
            return Err(StorageError::Exists(name.to_string()));
        }
        let (file, map) = self.take_spare(size)?;
        std::fs::rename(self.dir.join(SPARE_NAME), &path).map_err(|e| io(&e))?;
        self.dir_unsynced = true;
        let cpu = self.prepare_cpu;
        let dir = self.dir.clone();
        let background = self.background.get_or_insert_with(|| Background::start(dir, cpu));
        if let Ok(duplicate) = file.try_clone() {
            background.hint(Hint::Segment(duplicate));
            let len = AHEAD_BYTES + RELEASE_STEP_BYTES - RELEASE_FROM;
            background.hint(Hint::Range { offset: RELEASE_FROM as u64, len: len as u64 });
        }
        let id = self.install(name, file, map);
        self.prepare_next(size);
        Ok(id)
    }

    fn open(&mut self, name: &str) -> Result<SegmentId, StorageError> {
        let file = OpenOptions::new().read(true).write(true).open(self.dir.join(name)).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                StorageError::NotFound(name.to_string())
            } else {
                io(&e)
            }
        })?;
        self.map(name, file)
    }

    fn bytes(&self, id: SegmentId) -> &[u8] {
        &self.mapped(id).map
    }

    fn write(&mut self, id: SegmentId, offset: usize, bytes: &[u8]) {
        let mapped = self.segments[id.0].as_mut().expect("segment is open");
        mapped.map[offset..offset + bytes.len()].copy_from_slice(bytes);
    }

    fn region(&mut self, id: SegmentId, offset: usize, len: usize) -> &mut [u8] {
        let mapped = self.segments[id.0].as_mut().expect("segment is open");
        if offset >= mapped.released_to + RELEASE_STEP_BYTES {
            let boundary = offset - offset % RELEASE_STEP_BYTES;
            mapped.release_before(boundary);
            if let Some(background) = &self.background {
                let from = (boundary + AHEAD_BYTES).min(mapped.map.len());
                let len = RELEASE_STEP_BYTES.min(mapped.map.len() - from);
                background.hint(Hint::Range { offset: from as u64, len: len as u64 });
            }
        }
        &mut mapped.map[offset..offset + len]
    }

    fn sync(&mut self, id: SegmentId) -> Result<(), StorageError> {
        let mapped = self.mapped(id);
        let result = match self.flush {
            Flush::Msync => mapped.map.flush(),
            Flush::Fdatasync => mapped.file.sync_data(),
        };
        result.map_err(|_| StorageError::SyncFailed { segment: mapped.name.clone() })?;
        if self.dir_unsynced {
            // The names of segments created since the last sync (module docs).
            sync_dir(&self.dir)
                .map_err(|_| StorageError::SyncFailed { segment: self.dir.display().to_string() })?;
            self.dir_unsynced = false;
        }
        Ok(())
    }

    fn sync_handle(&self, id: SegmentId) -> Result<SyncHandle, StorageError> {
        let mapped = self.mapped(id);
        let file = mapped.file.try_clone().map_err(|e| io(&e))?;
        let segment = mapped.name.clone();
        // A renamed segment's name is not durable until the directory is synced.
        let mut dir = self.dir_unsynced.then(|| self.dir.clone());
        Ok(Box::new(move || {
            // `fdatasync` of the file also writes back the pages of its shared mapping.
            file.sync_data().map_err(|_| StorageError::SyncFailed { segment: segment.clone() })?;
            if let Some(path) = &dir {
                sync_dir(path)
                    .map_err(|_| StorageError::SyncFailed { segment: path.display().to_string() })?;
                dir = None;
            }
            Ok(())
        }))
    }

    fn prepare(&mut self, size: u64) {
        if self.spare.is_none() {
            self.prepare_next(size);
        }
    }

    fn remove(&mut self, name: &str) -> Result<(), StorageError> {
        self.retire(name, false)
    }

    fn close(&mut self, id: SegmentId) {
        if let Some(mapped) = self.segments[id.0].take() {
            self.names.retain(|_, &mut i| i != id.0);
            drop(mapped);
        }
    }

    fn archive(&mut self, name: &str) -> Result<(), StorageError> {
        self.retire(name, true)
    }

    fn file_names(&self, extension: &str) -> Result<Vec<String>, StorageError> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(&self.dir).map_err(|e| io(&e))? {
            let name = entry.map_err(|e| io(&e))?.file_name().to_string_lossy().into_owned();
            if Path::new(&name).extension().is_some_and(|e| e == extension) {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }

    fn read_file(&self, name: &str) -> Result<Vec<u8>, StorageError> {
        std::fs::read(self.dir.join(name)).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                StorageError::NotFound(name.to_string())
            } else {
                io(&e)
            }
        })
    }

    fn write_file(&mut self, name: &str, parts: &[&[u8]]) -> Result<(), StorageError> {
        use std::io::Write;
        let temporary = self.dir.join(format!("{name}.tmp"));
        let mut file = File::create(&temporary).map_err(|e| io(&e))?;
        for part in parts {
            file.write_all(part).map_err(|e| io(&e))?;
        }
        file.sync_all().map_err(|_| StorageError::SyncFailed { segment: format!("{name}.tmp") })?;
        drop(file);
        std::fs::rename(&temporary, self.dir.join(name)).map_err(|e| io(&e))?;
        self.sync_dir()
    }

    fn remove_file(&mut self, name: &str) -> Result<(), StorageError> {
        std::fs::remove_file(self.dir.join(name)).map_err(|e| io(&e))?;
        self.sync_dir()
    }
}

/// The directory, inside the journal's, that retired segments move to when archiving.
pub const ARCHIVE_DIR: &str = "archive";

/// Lowers the calling thread's scheduling priority to nice 10 (Linux keeps a nice value per
/// thread), for background work such as the snapshotter; best effort: the result says whether it
/// took. Here beside the other system calls of the journal's files.
pub fn lower_thread_priority() -> bool {
    // SAFETY: `gettid` takes no arguments and cannot fail; `setpriority` reads no memory of ours
    // and only changes the scheduling priority of the thread it names (this one).
    unsafe {
        let tid = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, libc::id_t::try_from(tid).unwrap_or(0), 10) == 0
    }
}

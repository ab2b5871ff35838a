//! `ferrex`: the server and the operator's tools.
//!
//! - `ferrex serve [--config FILE]`: the exchange (the embedded demo market without a file);
//! - `ferrex config check FILE`: validate a configuration, naming the bad key;
//! - `ferrex journal verify|dump|stats DIR`: check and read a journal;
//! - `ferrex replay DIR`: the exact state after any record or at any time, with reports;
//! - `ferrex snapshot take|list|verify|inspect DIR`: snapshots.
//!
//! Every command reads the journal without changing it (`Wal::read_only`), except `snapshot take`,
//! which adds a snapshot file and, with `--keep`, prunes (run it while no server uses the directory).
//! Errors are one line on stderr and exit code 1; a wrong directory, an empty journal or a damaged
//! file is an error, never a panic. Long replays show a progress bar when stderr is a terminal.

/// The gateway allocates per request (JSON in and out); the engine does not allocate on its hot
/// path. mimalloc measured faster than the system allocator for the gateway's pattern
/// (docs/PERFORMANCE.md). It is built without transparent huge pages (`no_thp`): with them, the
/// first write into each fresh 2 MiB of its arenas zeroed a whole huge page on the writing thread,
/// 5 - 6 ms on this VM, every few hundred milliseconds under load (the p99 of the round trip).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod demo;
mod describe;
mod journal;
mod replay;
mod serve;
mod snapshot;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use ferrex_journal::file::{FileStorage, Flush};
use ferrex_journal::wal::{DATA_START, Recovery, SEGMENT_MAGIC, Wal};

#[derive(Parser)]
#[command(
    name = "ferrex",
    version,
    about = "ferrex: the ferrex exchange server and its journal, replay and snapshot tools"
)]
struct Cli {
    #[command(subcommand)]
    command: Top,
}

#[derive(Subcommand)]
enum Top {
    /// Run the exchange: the WebSocket API on the configured market (the embedded demo market
    /// without --config).
    Serve(serve::ServeArgs),
    /// The server on its demo market with market makers and a taker trading on it, so the book
    /// moves at once (Ctrl-C stops both).
    Demo(demo::DemoArgs),
    /// Check configuration files.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Check and read a journal directory.
    #[command(subcommand)]
    Journal(JournalCommand),
    /// Rebuild the exact state after a record or at a time, and report it.
    Replay(replay::ReplayArgs),
    /// Take, list, verify and inspect snapshots.
    #[command(subcommand)]
    Snapshot(SnapshotCommand),
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Validates a configuration file and its keystore; exit 1 naming the bad key.
    Check(serve::CheckArgs),
}

#[derive(Subcommand)]
enum JournalCommand {
    /// Checks checksums, the chain and sequence continuity; exit 1 with the segment and offset of
    /// any corruption.
    Verify(DirArg),
    /// Prints records as readable commands with sequence and timestamp.
    Dump(journal::DumpArgs),
    /// Records, segments, sizes, sequence and time range, commands by kind.
    Stats(DirArg),
}

#[derive(Subcommand)]
enum SnapshotCommand {
    /// Replays the journal and writes a snapshot of the state after its last record.
    Take(snapshot::TakeArgs),
    /// Lists snapshot files, newest first, with their headers or what is wrong with them.
    List(DirArg),
    /// Checks snapshot files: checksums, the body loads, the state hash matches the header.
    Verify(snapshot::VerifyArgs),
    /// Shows a snapshot's header and what its state holds.
    Inspect(snapshot::InspectArgs),
}

/// A journal directory.
#[derive(Args)]
struct DirArg {
    /// The journal directory.
    dir: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

/// Output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Format {
    /// Lines for people.
    Text,
    /// One JSON object per line.
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Top::Serve(args) => serve::serve(&args, None),
        Top::Demo(args) => demo::demo(&args),
        Top::Config(ConfigCommand::Check(args)) => serve::check(&args),
        Top::Journal(JournalCommand::Verify(args)) => journal::verify(&args.dir, args.format),
        Top::Journal(JournalCommand::Dump(args)) => journal::dump(&args),
        Top::Journal(JournalCommand::Stats(args)) => journal::stats(&args.dir, args.format),
        Top::Replay(args) => replay::run(&args),
        Top::Snapshot(SnapshotCommand::Take(args)) => snapshot::take(&args),
        Top::Snapshot(SnapshotCommand::List(args)) => snapshot::list(&args.dir, args.format),
        Top::Snapshot(SnapshotCommand::Verify(args)) => snapshot::verify(&args),
        Top::Snapshot(SnapshotCommand::Inspect(args)) => snapshot::inspect(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("ferrex: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// The segment size of the journal in `dir`, from its first segment's header.
fn segment_size(dir: &Path) -> anyhow::Result<usize> {
    if !dir.is_dir() {
        bail!("{}: not a directory", dir.display());
    }
    let mut segments: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("{}", dir.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "wal"))
        .collect();
    segments.sort();
    let Some(first) = segments.first() else {
        bail!("{}: no journal here (no .wal segment files)", dir.display());
    };
    let bytes = std::fs::read(first).with_context(|| format!("{}", first.display()))?;
    let size = bytes.get(16..24).map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")));
    match size {
        Some(size)
            if bytes[..8] == SEGMENT_MAGIC
                && size == bytes.len() as u64
                && size >= 2 * DATA_START as u64
                && size.is_multiple_of(8) =>
        {
            usize::try_from(size).context("segment size")
        }
        _ => bail!("{}: not a journal segment (bad header)", first.display()),
    }
}

/// Opens the journal in `dir` for reading only.
fn open_journal(dir: &Path) -> anyhow::Result<(Wal<FileStorage>, Recovery)> {
    let size = segment_size(dir)?;
    let storage = FileStorage::open(dir, Flush::Fdatasync).with_context(|| format!("{}", dir.display()))?;
    Wal::read_only(storage, size).with_context(|| format!("{}", dir.display()))
}

/// A progress bar on stderr when it is a terminal (hidden otherwise).
fn progress_bar(what: &str) -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(0);
    let style =
        indicatif::ProgressStyle::with_template("{msg} {wide_bar} {pos}/{len} records ({per_sec}, {eta})")
            .expect("a valid template");
    bar.set_style(style);
    bar.set_message(what.to_string());
    bar
}

/// A timestamp as RFC 3339 (UTC, nanoseconds).
fn time_text(timestamp_ns: u64) -> String {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_nanos(timestamp_ns);
    humantime::format_rfc3339_nanos(time).to_string()
}

/// Prints one JSON object per line.
fn print_json(value: &serde_json::Value) {
    println!("{value}");
}

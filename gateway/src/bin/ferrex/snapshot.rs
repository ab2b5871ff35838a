//! `ferrex snapshot take|list|verify|inspect`.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;
use ferrex_engine::recovery::{self, Until};
use ferrex_engine::{Engine, InstrumentId, Side};
use ferrex_journal::file::{FileStorage, Flush};
use ferrex_journal::snapshot::{self as files, SnapshotHeader};
use ferrex_journal::wal::Wal;
use serde_json::json;

use crate::{Format, open_journal, print_json, segment_size, time_text};

/// `snapshot take` arguments.
#[derive(Args)]
pub struct TakeArgs {
    /// The journal directory (no server may be using it).
    dir: PathBuf,
    /// Then keep only the newest K valid snapshots and retire the segments the oldest covers.
    #[arg(long)]
    keep: Option<usize>,
    /// With `--keep`: move retired segments to `DIR/archive/` instead of deleting them.
    #[arg(long, requires = "keep")]
    archive: bool,
}

/// `snapshot verify` arguments.
#[derive(Args)]
pub struct VerifyArgs {
    /// The journal directory.
    dir: PathBuf,
    /// One snapshot file name (default: every snapshot).
    name: Option<String>,
}

/// `snapshot inspect` arguments.
#[derive(Args)]
pub struct InspectArgs {
    /// The journal directory.
    dir: PathBuf,
    /// The snapshot file name (default: the newest valid one).
    name: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

fn storage(dir: &Path) -> anyhow::Result<FileStorage> {
    if !dir.is_dir() {
        bail!("{}: not a directory", dir.display());
    }
    FileStorage::open(dir, Flush::Fdatasync).with_context(|| format!("{}", dir.display()))
}

/// Replays the whole journal and writes the snapshot of its last record.
pub fn take(args: &TakeArgs) -> anyhow::Result<()> {
    let (mut wal, _) = open_journal(&args.dir)?;
    let (engine, report) = crate::replay::rebuild(&wal, Until::End, "replaying")?;
    let name =
        recovery::write_snapshot(wal.storage_mut(), &engine, report.last_sequence, report.last_timestamp_ns)?;
    println!("wrote {name}: state after record {}, hash {:016x}", report.last_sequence, report.state_hash);
    if let Some(keep) = args.keep {
        drop(wal);
        let size = segment_size(&args.dir)?;
        let (mut wal, _) = Wal::open(storage(&args.dir)?, size)?;
        let retained = recovery::retain(&mut wal, keep, args.archive)?;
        for name in retained.snapshots_removed {
            println!("removed {name}");
        }
        let verb = if args.archive { "archived" } else { "removed" };
        for name in retained.segments_retired {
            println!("{verb} segment {name}");
        }
    }
    Ok(())
}

/// Lists snapshot files, newest first.
pub fn list(dir: &Path, format: Format) -> anyhow::Result<()> {
    let storage = storage(dir)?;
    for (name, header) in files::list(&storage)? {
        match (format, header) {
            (Format::Json, Ok(h)) => print_json(&header_json(&name, &h)),
            (Format::Json, Err(e)) => {
                print_json(&json!({"name": name, "valid": false, "error": e.to_string()}));
            }
            (Format::Text, Ok(h)) => println!(
                "{name}  record {:>12}  {}  hash {:016x}  {} bytes",
                h.sequence,
                time_text(h.timestamp_ns),
                h.state_hash,
                h.body_len
            ),
            (Format::Text, Err(e)) => println!("{name}  INVALID: {e}"),
        }
    }
    Ok(())
}

fn header_json(name: &str, h: &SnapshotHeader) -> serde_json::Value {
    json!({
        "name": name, "valid": true, "sequence": h.sequence, "timestamp_ns": h.timestamp_ns,
        "state_hash": format!("{:016x}", h.state_hash), "body_len": h.body_len,
    })
}

/// Loads a snapshot fully: file checks, body, invariants, state hash.
fn load(storage: &FileStorage, name: &str) -> anyhow::Result<(SnapshotHeader, Engine)> {
    let (header, body) = files::read(storage, name).with_context(|| name.to_string())?;
    let engine = recovery::load_snapshot(&body, header.state_hash).with_context(|| name.to_string())?;
    Ok((header, engine))
}

/// Checks one or every snapshot; exit 1 if any is bad.
pub fn verify(args: &VerifyArgs) -> anyhow::Result<()> {
    let storage = storage(&args.dir)?;
    let names = match &args.name {
        Some(name) => vec![name.clone()],
        None => files::list(&storage)?.into_iter().map(|(name, _)| name).collect(),
    };
    if names.is_empty() {
        bail!("{}: no snapshot files", args.dir.display());
    }
    let mut bad = 0;
    for name in &names {
        match load(&storage, name) {
            Ok((h, _)) => println!("ok: {name} (record {}, hash {:016x})", h.sequence, h.state_hash),
            Err(e) => {
                println!("BAD: {e:#}");
                bad += 1;
            }
        }
    }
    if bad > 0 {
        bail!("{bad} of {} snapshots are bad", names.len());
    }
    Ok(())
}

/// Shows a snapshot's header and a summary of its state.
pub fn inspect(args: &InspectArgs) -> anyhow::Result<()> {
    let storage = storage(&args.dir)?;
    let name = match &args.name {
        Some(name) => name.clone(),
        None => match files::list(&storage)?.into_iter().find(|(_, h)| h.is_ok()) {
            Some((name, _)) => name,
            None => bail!("{}: no valid snapshot", args.dir.display()),
        },
    };
    let (header, engine) = load(&storage, &name)?;
    let instruments: Vec<serde_json::Value> = (0..engine.instruments_len())
        .map(|i| {
            let id = InstrumentId(u32::try_from(i).expect("instrument ids fit u32"));
            let spec = engine.spec(id).expect("listed");
            json!({
                "symbol": spec.symbol.as_str(), "kind": format!("{:?}", spec.kind),
                "orders": engine.book_orders(id).len(),
                "best_bid": engine.best(id, Side::Buy).map(|(p, _)| p.0),
                "best_ask": engine.best(id, Side::Sell).map(|(p, _)| p.0),
            })
        })
        .collect();
    let c = engine.config();
    let summary = json!({
        "header": header_json(&name, &header),
        "engine_time_ns": engine.now_ns(),
        "config": {
            "orders_max": c.orders_max, "levels_max": c.levels_max, "instruments_max": c.instruments_max,
            "users_max": c.users_max, "tenants_max": c.tenants_max, "assets_max": c.assets_max,
            "perpetuals_max": c.perpetuals_max, "conditionals_max": c.conditionals_max,
        },
        "users": engine.users().count(),
        "assets": engine.assets().map(|(_, s)| s.symbol.as_str().to_string()).collect::<Vec<_>>(),
        "resting_orders": engine.resting_orders_len(),
        "levels": engine.levels_len(),
        "conditionals": engine.conditionals_len(),
        "instruments": instruments,
    });
    match args.format {
        Format::Json => print_json(&summary),
        Format::Text => println!("{}", serde_json::to_string_pretty(&summary).expect("serializable")),
    }
    Ok(())
}

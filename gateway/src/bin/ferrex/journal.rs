//! `ferrex journal verify|dump|stats`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;
use ferrex_engine::Symbol;
use ferrex_engine::codec;
use ferrex_engine::recovery::Until;
use ferrex_journal::file::{FileStorage, Flush};
use ferrex_journal::wal::Wal;
use serde_json::{Value, json};

use crate::{Format, describe, open_journal, print_json, segment_size, time_text};

/// `journal dump` arguments.
#[derive(Args)]
pub struct DumpArgs {
    /// The journal directory.
    dir: PathBuf,
    /// First record to print.
    #[arg(long)]
    from_seq: Option<u64>,
    /// Last record to print.
    #[arg(long)]
    to_seq: Option<u64>,
    /// Only commands of this user (as actor or subject).
    #[arg(long)]
    user: Option<u32>,
    /// Only commands on this instrument (a symbol, or an instrument id).
    #[arg(long)]
    instrument: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

/// Checks the whole journal; an error names the segment and offset.
pub fn verify(dir: &Path, format: Format) -> anyhow::Result<()> {
    let size = segment_size(dir)?;
    let storage = FileStorage::open(dir, Flush::Fdatasync).with_context(|| format!("{}", dir.display()))?;
    let (_, result) = Wal::verify(storage, size);
    let recovery = result.with_context(|| format!("{}", dir.display()))?;
    let cut = recovery.cut.as_ref().map(|(segment, offset)| format!("{segment} at offset {offset}"));
    match format {
        Format::Json => print_json(&json!({
            "ok": true,
            "segments": recovery.segments,
            "records": recovery.records,
            "first_sequence": recovery.first_sequence,
            "last_sequence": recovery.last_sequence,
            "unsynced_tail_cut": cut,
            "segments_to_remove": recovery.removed,
        })),
        Format::Text => {
            println!(
                "ok: {} records ({}..={}) in {} segments; checksums, chain and sequence verified",
                recovery.records, recovery.first_sequence, recovery.last_sequence, recovery.segments
            );
            if let Some(cut) = cut {
                println!(
                    "note: an unsynced tail (lost in a crash, never acknowledged) ends the log in {cut}"
                );
            }
            for segment in &recovery.removed {
                println!("note: segment {segment} holds no durable record; recovery removes it");
            }
        }
    }
    Ok(())
}

/// The instrument id a `--instrument` value names: a number, or a symbol looked up in the state
/// the journal leads to (instruments are never removed, so the last state knows them all).
fn instrument_filter(dir: &Path, value: &str) -> anyhow::Result<u32> {
    if let Ok(id) = value.parse::<u32>() {
        return Ok(id);
    }
    let symbol = Symbol::new(value).map_err(|e| anyhow::anyhow!("--instrument {value}: {e}"))?;
    let (wal, _) = open_journal(dir)?;
    let (engine, _) = crate::replay::rebuild(&wal, Until::End, "resolving the symbol")?;
    match engine.instrument_id(&symbol) {
        Some(id) => Ok(id.0),
        None => bail!("--instrument {value}: no such instrument in this journal"),
    }
}

/// Prints records as commands.
pub fn dump(args: &DumpArgs) -> anyhow::Result<()> {
    let instrument = args.instrument.as_deref().map(|v| instrument_filter(&args.dir, v)).transpose()?;
    let (wal, _) = open_journal(&args.dir)?;
    let from = args.from_seq.unwrap_or(1);
    for (header, payload) in wal.read_from(from) {
        if args.to_seq.is_some_and(|to| header.sequence > to) {
            break;
        }
        let command = codec::decode(payload)
            .map_err(|e| anyhow::anyhow!("record {}: payload is not a command: {e}", header.sequence))?;
        if args.user.is_some_and(|u| !describe::users(&command).contains(&Some(u)))
            || instrument.is_some_and(|i| describe::instrument(&command) != Some(i))
        {
            continue;
        }
        let (kind, fields) = describe::command(&command);
        match args.format {
            Format::Text => println!(
                "{:>10} {} {kind} {}",
                header.sequence,
                time_text(header.timestamp_ns),
                describe::text_fields(&fields)
            ),
            Format::Json => {
                let mut object = serde_json::Map::new();
                object.insert("seq".into(), json!(header.sequence));
                object.insert("ts".into(), json!(header.timestamp_ns));
                object.insert("kind".into(), json!(kind));
                object.extend(fields);
                print_json(&Value::Object(object));
            }
        }
    }
    Ok(())
}

/// Counts and ranges of the journal.
pub fn stats(dir: &Path, format: Format) -> anyhow::Result<()> {
    let (wal, recovery) = open_journal(dir)?;
    let mut kinds: BTreeMap<&'static str, u64> = BTreeMap::new();
    let (mut records, mut payload_bytes) = (0u64, 0u64);
    let (mut first_ts, mut last_ts) = (None, 0u64);
    for (header, payload) in wal.read_from(wal.first_sequence()) {
        let command = codec::decode(payload)
            .map_err(|e| anyhow::anyhow!("record {}: payload is not a command: {e}", header.sequence))?;
        *kinds.entry(describe::command(&command).0).or_default() += 1;
        records += 1;
        payload_bytes += payload.len() as u64;
        first_ts.get_or_insert(header.timestamp_ns);
        last_ts = header.timestamp_ns;
    }
    let segments = wal.segments();
    let used: usize = segments.iter().map(|s| s.2).sum();
    let size = segment_size(dir)?;
    match format {
        Format::Json => print_json(&json!({
            "records": records,
            "first_sequence": recovery.first_sequence,
            "last_sequence": recovery.last_sequence,
            "first_timestamp_ns": first_ts,
            "last_timestamp_ns": last_ts,
            "segments": segments.len(),
            "segment_size": size,
            "bytes_used": used,
            "payload_bytes": payload_bytes,
            "commands": kinds,
        })),
        Format::Text => {
            println!(
                "records:  {records} (sequences {}..={})",
                recovery.first_sequence, recovery.last_sequence
            );
            if let Some(first) = first_ts {
                println!("time:     {} .. {}", time_text(first), time_text(last_ts));
            }
            println!(
                "segments: {} of {} bytes, {} bytes used, {} of them payload",
                segments.len(),
                size,
                used,
                payload_bytes
            );
            for (name, first, end) in &segments {
                println!("  {name}: from record {first}, {end} bytes used");
            }
            println!("commands:");
            for (kind, count) in &kinds {
                println!("  {kind:<22} {count}");
            }
        }
    }
    Ok(())
}

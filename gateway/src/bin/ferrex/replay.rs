//! `ferrex replay`: the exact state after a record or at a time, and reports on it.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use ferrex_engine::recovery::{self, RecoverError, RecoveryReport, Until};
use ferrex_engine::{Engine, EngineConfig, InstrumentId, Side, Symbol, SystemAccount};
use ferrex_journal::storage::Storage;
use ferrex_journal::wal::Wal;
use serde_json::json;

use crate::{Format, open_journal, print_json, progress_bar, time_text};

/// `replay` arguments.
#[derive(Args)]
pub struct ReplayArgs {
    /// The journal directory.
    dir: PathBuf,
    /// Stop after this record.
    #[arg(long, conflicts_with = "until_time")]
    until_seq: Option<u64>,
    /// Stop after the last record stamped at or before this time: nanoseconds since the epoch,
    /// or RFC 3339 (`2026-11-25T04:00:00Z`).
    #[arg(long)]
    until_time: Option<String>,
    /// What to print about the state.
    #[arg(long, value_enum, default_value_t = Report::Hash)]
    report: Report,
    /// The instrument of `--report book`.
    #[arg(long = "symbol", required_if_eq("report", "book"))]
    symbol: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

/// What `replay` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Report {
    /// Sequence, time and state hash (what recovery must reproduce).
    Hash,
    /// Every non-zero balance, system accounts included.
    Balances,
    /// Every open perpetual position.
    Positions,
    /// Every open order, waiting conditionals included.
    Orders,
    /// The book of `--symbol`, level by level.
    Book,
}

fn parse_time(text: &str) -> anyhow::Result<u64> {
    if let Ok(ns) = text.parse::<u64>() {
        return Ok(ns);
    }
    let time = humantime::parse_rfc3339_weak(text).with_context(|| format!("--until-time {text}"))?;
    let since = time.duration_since(std::time::UNIX_EPOCH).context("--until-time before 1970")?;
    u64::try_from(since.as_nanos()).context("--until-time too far ahead")
}

/// The state up to `until` from the newest usable snapshot (or an empty engine with the default
/// configuration when there is none, said on stderr), with a progress bar on a terminal.
pub fn rebuild<S: Storage + Sync>(
    wal: &Wal<S>,
    until: Until,
    what: &str,
) -> anyhow::Result<(Engine, RecoveryReport)> {
    let bar = progress_bar(what);
    let mut progress = |done: u64, total: u64| {
        bar.set_length(total);
        bar.set_position(done);
    };
    let result = match recovery::recover(wal, None, until, &mut progress) {
        Err(RecoverError::NoConfig) => {
            eprintln!(
                "ferrex: no usable snapshot: replaying from an empty engine with the default configuration"
            );
            recovery::recover(wal, Some(&EngineConfig::default()), until, &mut progress)
        }
        other => other,
    };
    bar.finish_and_clear();
    for (name, reason) in &result.as_ref().map(|(_, r)| r.skipped.clone()).unwrap_or_default() {
        eprintln!("ferrex: snapshot {name} passed over: {reason}");
    }
    Ok(result?)
}

/// Runs `replay`.
pub fn run(args: &ReplayArgs) -> anyhow::Result<()> {
    let until = match (args.until_seq, &args.until_time) {
        (Some(seq), _) => Until::Sequence(seq),
        (None, Some(time)) => Until::Time(parse_time(time)?),
        (None, None) => Until::End,
    };
    let (wal, _) = open_journal(&args.dir)?;
    if let Until::Sequence(seq) = until {
        let last = wal.next_sequence() - 1;
        if seq > last {
            bail!("--until-seq {seq}: the journal ends at record {last}");
        }
    }
    let started = Instant::now();
    let (engine, report) = rebuild(&wal, until, "replaying")?;
    let elapsed = started.elapsed();
    match args.report {
        Report::Hash => print_hash(&report, elapsed, args.format),
        Report::Balances => print_balances(&engine, args.format),
        Report::Positions => print_positions(&engine, args.format),
        Report::Orders => print_orders(&engine, args.format),
        Report::Book => {
            let text = args.symbol.as_deref().unwrap_or_default();
            let symbol = Symbol::new(text).map_err(|e| anyhow::anyhow!("--symbol {text}: {e}"))?;
            let Some(instrument) = engine.instrument_id(&symbol) else {
                bail!("--symbol {text}: no such instrument at that point");
            };
            print_book(&engine, instrument, args.format);
        }
    }
    Ok(())
}

fn print_hash(report: &RecoveryReport, elapsed: std::time::Duration, format: Format) {
    let snapshot = report.snapshot.as_ref().map(|(name, h)| (name.clone(), h.sequence));
    match format {
        Format::Json => print_json(&json!({
            "sequence": report.last_sequence,
            "timestamp_ns": report.last_timestamp_ns,
            "state_hash": format!("{:016x}", report.state_hash),
            "snapshot": snapshot.as_ref().map(|s| &s.0),
            "snapshot_sequence": snapshot.as_ref().map(|s| s.1),
            "replayed": report.replayed,
            "elapsed_ms": elapsed.as_secs_f64() * 1e3,
        })),
        Format::Text => {
            let from = snapshot.map_or_else(
                || "an empty engine".to_string(),
                |(name, seq)| format!("snapshot {name} (record {seq})"),
            );
            println!(
                "state after record {} ({}): hash {:016x}",
                report.last_sequence,
                time_text(report.last_timestamp_ns),
                report.state_hash
            );
            println!(
                "from {from}, {} records replayed in {:.1} ms",
                report.replayed,
                elapsed.as_secs_f64() * 1e3
            );
        }
    }
}

fn asset_symbols(engine: &Engine) -> Vec<String> {
    engine.assets().map(|(_, spec)| spec.symbol.as_str().to_string()).collect()
}

fn print_balances(engine: &Engine, format: Format) {
    let symbols = asset_symbols(engine);
    let mut balances = Vec::new();
    for user in engine.users() {
        engine.balances(user, &mut balances);
        for (asset, b) in balances.drain(..).filter(|(_, b)| b.available != 0 || b.held != 0) {
            let symbol = &symbols[asset.0 as usize];
            match format {
                Format::Json => print_json(
                    &json!({"user": user.0, "asset": symbol, "available": b.available, "held": b.held}),
                ),
                Format::Text => println!(
                    "user {:>8} {symbol:<10} available {:>20} held {:>20}",
                    user.0, b.available, b.held
                ),
            }
        }
    }
    for (asset, _) in engine.assets() {
        for account in [SystemAccount::Fee, SystemAccount::Insurance, SystemAccount::Funding] {
            let amount = engine.system_balance(asset, account).unwrap_or(0);
            let symbol = &symbols[asset.0 as usize];
            match format {
                Format::Json => print_json(
                    &json!({"system": format!("{account:?}"), "asset": symbol, "available": amount}),
                ),
                Format::Text => {
                    println!("{:<13} {symbol:<10} available {amount:>20}", format!("{account:?}"));
                }
            }
        }
    }
}

fn print_positions(engine: &Engine, format: Format) {
    let mut positions = Vec::new();
    for user in engine.users() {
        engine.positions(user, &mut positions);
        for p in positions.drain(..) {
            let symbol = engine.spec(p.instrument).map_or("?", |s| s.symbol.as_str()).to_string();
            match format {
                Format::Json => print_json(&json!({
                    "user": user.0, "instrument": symbol, "qty": p.qty, "entry_notional": p.entry_notional,
                    "mark": p.mark.0, "unrealized_pnl": p.unrealized_pnl, "realized_pnl": p.realized_pnl,
                    "initial_margin": p.initial_margin, "maintenance_margin": p.maintenance_margin,
                })),
                Format::Text => println!(
                    "user {:>8} {symbol:<14} qty {:>12} entry {:>16} mark {:>10} upnl {:>14} rpnl {:>14}",
                    user.0, p.qty, p.entry_notional, p.mark.0, p.unrealized_pnl, p.realized_pnl
                ),
            }
        }
    }
}

fn print_orders(engine: &Engine, format: Format) {
    let mut orders = Vec::new();
    for user in engine.users() {
        engine.open_orders(user, None, &mut orders);
        for o in orders.drain(..) {
            let symbol = engine.spec(o.instrument).map_or("?", |s| s.symbol.as_str()).to_string();
            let trigger = o.trigger.map(|t| json!({"price": t.price.0, "kind": format!("{:?}", t.kind), "source": format!("{:?}", t.source)}));
            match format {
                Format::Json => print_json(&json!({
                    "user": user.0, "order": o.order.0, "instrument": symbol, "side": format!("{:?}", o.side),
                    "price": o.price.0, "qty": o.qty.0, "client_order_id": o.client_order_id.as_str(),
                    "held": o.held, "margin": o.margin, "trigger": trigger,
                })),
                Format::Text => println!(
                    "user {:>8} order {:>20} {symbol:<14} {:<4} {:>6} @ {:<12}{}{}",
                    user.0,
                    o.order.0,
                    format!("{:?}", o.side),
                    o.qty.0,
                    o.price.0,
                    if o.client_order_id.is_empty() {
                        String::new()
                    } else {
                        format!(" client {}", o.client_order_id.as_str())
                    },
                    trigger.map_or_else(String::new, |t| format!(" trigger {t}"))
                ),
            }
        }
    }
}

fn print_book(engine: &Engine, instrument: InstrumentId, format: Format) {
    let orders = engine.book_orders(instrument);
    for side in [Side::Sell, Side::Buy] {
        let mut levels = engine.depth(instrument, side, usize::MAX);
        if side == Side::Sell {
            levels.reverse();
        }
        for (price, qty) in levels {
            let count = orders.iter().filter(|o| o.side == side && o.price == price).count();
            match format {
                Format::Json => print_json(
                    &json!({"side": format!("{side:?}"), "price": price.0, "qty": qty.0, "orders": count}),
                ),
                Format::Text => {
                    println!("{:<4} {:>14} {:>14} ({count} orders)", format!("{side:?}"), price.0, qty.0);
                }
            }
        }
    }
}

//! The `ferrex` binary on journals the tests write (`tests/src/journal_fixture.rs`), healthy and
//! damaged: every subcommand's output is checked against what was written, and every bad input
//! (wrong directory, empty journal, damaged segment or snapshot) gives a one-line error and exit
//! code 1, never a panic (exit code 101) or a signal.

use std::path::Path;
use std::process::{Command, Output};

use ferrex_tests::journal_fixture::{self, TempDir, Written};
use serde_json::Value;

fn ferrex(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ferrex")).args(args).output().expect("the ferrex binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("utf-8")
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).expect("utf-8")
}

/// Runs and expects success; returns stdout.
fn ok(args: &[&str]) -> String {
    let output = ferrex(args);
    assert!(output.status.success(), "ferrex {args:?} failed: {}", stderr(&output));
    stdout(&output)
}

/// Runs and expects a clean failure (exit 1, one line on stderr); returns stderr.
fn fails(args: &[&str]) -> String {
    let output = ferrex(args);
    assert_eq!(output.status.code(), Some(1), "ferrex {args:?}: {output:?}");
    let err = stderr(&output);
    assert!(err.starts_with("ferrex: ") && err.trim_end().lines().count() == 1, "ferrex {args:?}: {err}");
    err
}

fn json_lines(text: &str) -> Vec<Value> {
    text.lines().map(|l| serde_json::from_str(l).expect("one JSON object per line")).collect()
}

fn hash_after(dir: &Path, extra: &[&str]) -> (u64, String) {
    let mut args = vec!["replay", dir.to_str().expect("utf-8"), "--format", "json"];
    args.extend_from_slice(extra);
    let out = json_lines(&ok(&args)).remove(0);
    (out["sequence"].as_u64().expect("sequence"), out["state_hash"].as_str().expect("hash").to_string())
}

fn hex(hash: u64) -> String {
    format!("{hash:016x}")
}

fn journal(tag: &str, snapshot_at: &[u64]) -> (TempDir, Written) {
    let dir = TempDir::new(tag);
    let written = journal_fixture::write(&dir.0, 11, 1_200, snapshot_at);
    (dir, written)
}

#[test]
fn verify_stats_and_dump_describe_the_journal() {
    let (dir, written) = journal("cli-read", &[]);
    let d = dir.0.to_str().expect("utf-8");
    let n = written.records.len();
    assert!(ok(&["journal", "verify", d]).starts_with(&format!("ok: {n} records (1..={n})")));
    let stats = &json_lines(&ok(&["journal", "stats", d, "--format", "json"]))[0];
    assert_eq!(stats["records"].as_u64(), Some(n as u64));
    assert!(stats["segments"].as_u64().expect("segments") > 1, "the run spans several segments");
    let by_kind: u64 =
        stats["commands"].as_object().expect("kinds").values().map(|v| v.as_u64().unwrap_or(0)).sum();
    assert_eq!(by_kind, n as u64);
    let all = json_lines(&ok(&["journal", "dump", d, "--format", "json"]));
    assert_eq!(all.len(), n);
    for (i, (record, (time_ns, command))) in all.iter().zip(&written.records).enumerate() {
        assert_eq!(record["seq"].as_u64(), Some(i as u64 + 1));
        assert_eq!(record["ts"].as_u64(), Some(*time_ns));
        let kind = record["kind"].as_str().expect("kind");
        let is_place = matches!(command, ferrex_engine::Command::Place(_));
        assert_eq!(kind == "place", is_place, "record {}: {kind} for {command:?}", i + 1);
    }
    let range =
        json_lines(&ok(&["journal", "dump", d, "--from-seq", "100", "--to-seq", "109", "--format", "json"]));
    assert_eq!(
        range.iter().map(|r| r["seq"].as_u64().expect("seq")).collect::<Vec<_>>(),
        (100..110).collect::<Vec<_>>()
    );
    let user3 = json_lines(&ok(&["journal", "dump", d, "--user", "3", "--format", "json"]));
    assert!(!user3.is_empty() && user3.len() < n);
    assert!(user3.iter().all(|r| r["user"].as_u64() == Some(3) || r["actor"].as_u64() == Some(3)));
    let perp = json_lines(&ok(&["journal", "dump", d, "--instrument", "BTC-PERP", "--format", "json"]));
    assert!(!perp.is_empty() && perp.iter().all(|r| r["instrument"].as_u64() == Some(2)));
    let text = ok(&["journal", "dump", d, "--to-seq", "3"]);
    assert_eq!(text.lines().count(), 3);
    assert!(text.contains("2026-11-25T00:00:00") && text.contains("add_asset"), "{text}");
}

#[test]
fn replay_gives_the_exact_state_after_any_record_or_time() {
    let (dir, written) = journal("cli-replay", &[400, 900]);
    let d = &dir.0;
    let last = written.records.len() as u64;
    assert_eq!(hash_after(d, &[]), (last, hex(written.hash(last))));
    for seq in [1, 57, 400, 401, 650, 900, last] {
        let s = seq.to_string();
        assert_eq!(hash_after(d, &["--until-seq", &s]), (seq, hex(written.hash(seq))), "until {seq}");
    }
    let (time_ns, _) = written.records[700];
    let seq = written.records.iter().rposition(|(t, _)| *t <= time_ns).expect("a record") as u64 + 1;
    let t = time_ns.to_string();
    assert_eq!(hash_after(d, &["--until-time", &t]), (seq, hex(written.hash(seq))));
    let balances =
        json_lines(&ok(&["replay", d.to_str().expect("utf-8"), "--report", "balances", "--format", "json"]));
    assert!(balances.iter().any(|b| b["asset"] == "USDT" && b["user"].as_u64().is_some()));
    let book = ok(&["replay", d.to_str().expect("utf-8"), "--report", "book", "--symbol", "BTC-PERP"]);
    assert!(book.lines().all(|l| l.starts_with("Buy") || l.starts_with("Sell")), "{book}");
    for report in ["positions", "orders"] {
        ok(&["replay", d.to_str().expect("utf-8"), "--report", report, "--format", "json"]);
    }
    fails(&["replay", d.to_str().expect("utf-8"), "--until-seq", &(last + 1).to_string()]);
}

#[test]
fn snapshots_are_taken_listed_verified_and_a_bad_one_is_passed_over() {
    let (dir, written) = journal("cli-snap", &[500]);
    let d = dir.0.to_str().expect("utf-8");
    let last = written.records.len() as u64;
    assert!(ok(&["snapshot", "take", d]).contains(&hex(written.hash(last))));
    let listed = json_lines(&ok(&["snapshot", "list", d, "--format", "json"]));
    let sequences: Vec<u64> = listed.iter().map(|s| s["sequence"].as_u64().expect("valid")).collect();
    assert_eq!(sequences, vec![last, 500, 0]);
    assert_eq!(ok(&["snapshot", "verify", d]).lines().filter(|l| l.starts_with("ok: ")).count(), 3);
    let inspected = &json_lines(&ok(&["snapshot", "inspect", d, "--format", "json"]))[0];
    assert_eq!(inspected["header"]["sequence"].as_u64(), Some(last));
    assert_eq!(inspected["instruments"].as_array().map(Vec::len), Some(3));
    // Damage the newest snapshot: verify fails, replay falls back to record 500 and agrees.
    let newest = dir.0.join(listed[0]["name"].as_str().expect("name"));
    let mut bytes = std::fs::read(&newest).expect("snapshot");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x10;
    std::fs::write(&newest, bytes).expect("write");
    let err = fails(&["snapshot", "verify", d]);
    assert!(err.contains("1 of 3 snapshots are bad"), "{err}");
    let output = ferrex(&["replay", d, "--format", "json"]);
    assert!(output.status.success());
    assert!(stderr(&output).contains("passed over: body checksum mismatch"), "{}", stderr(&output));
    let report = &json_lines(&stdout(&output))[0];
    assert_eq!(report["snapshot_sequence"].as_u64(), Some(500));
    assert_eq!(report["state_hash"].as_str(), Some(hex(written.hash(last)).as_str()));
    // Keep one valid snapshot: the older ones go, and the segments it covers are archived.
    let kept = ok(&["snapshot", "take", d, "--keep", "1", "--archive"]);
    assert!(kept.contains("archived segment"), "{kept}");
    assert!(dir.0.join("archive").is_dir());
    assert_eq!(hash_after(&dir.0, &[]), (last, hex(written.hash(last))));
    ok(&["journal", "verify", d]);
}

#[test]
fn damage_and_wrong_input_give_one_line_errors() {
    let (dir, _) = journal("cli-bad", &[]);
    let d = dir.0.to_str().expect("utf-8");
    let segment = dir.0.join("00000000000000000001.wal");
    let mut bytes = std::fs::read(&segment).expect("segment");
    bytes[4096 + 40 + 3] ^= 0x01; // The first record's payload.
    std::fs::write(&segment, &bytes).expect("write");
    let err = fails(&["journal", "verify", d]);
    assert!(err.contains("corrupt journal: segment 00000000000000000001.wal, offset 4096"), "{err}");
    fails(&["replay", d]);
    fails(&["journal", "dump", d]);
    fails(&["journal", "stats", d]);

    let missing = dir.0.join("missing");
    assert!(fails(&["journal", "verify", missing.to_str().expect("utf-8")]).contains("not a directory"));
    let empty = TempDir::new("cli-empty");
    std::fs::create_dir_all(&empty.0).expect("dir");
    let e = empty.0.to_str().expect("utf-8");
    assert!(fails(&["replay", e]).contains("no journal here"));
    assert!(fails(&["snapshot", "verify", e]).contains("no snapshot files"));
    std::fs::write(empty.0.join("00000000000000000001.wal"), b"not a segment").expect("write");
    assert!(fails(&["journal", "stats", e]).contains("bad header"));
    std::fs::write(empty.0.join("00000000000000000007.snap"), b"not a snapshot").expect("write");
    assert!(ok(&["snapshot", "list", e]).contains("INVALID"));
}

#[test]
fn every_subcommand_has_help() {
    for args in [
        vec!["--help"],
        vec!["journal", "--help"],
        vec!["journal", "verify", "--help"],
        vec!["journal", "dump", "--help"],
        vec!["journal", "stats", "--help"],
        vec!["replay", "--help"],
        vec!["snapshot", "--help"],
        vec!["snapshot", "take", "--help"],
        vec!["snapshot", "list", "--help"],
        vec!["snapshot", "verify", "--help"],
        vec!["snapshot", "inspect", "--help"],
    ] {
        assert!(ok(&args).contains("Usage: ferrex"), "{args:?}");
    }
}

//! End to end: the real server is killed with SIGKILL at seeded random moments while two binary
//! clients trade, and restarted on the same journal directory. After each kill:
//! - the state hash the restarted server recovers equals `ferrex replay` run offline on the
//!   journal it left;
//! - money is conserved: every asset's total over users and system accounts is what the
//!   deposits made it (`ferrex replay --report balances`);
//! - every execution report a client received before the kill (every acknowledged order and
//!   every fill) is in the recovered history, byte for byte: a replay from the start, rebuilt
//!   from the journal by the restarted server, contains each of them.
//!
//! The server runs the demo market in `sync` durability, and in `async` every other five runs (an
//! acknowledged command is then in the journal's mapping, which a process crash keeps).
//! 20 kills by default; `FERREX_E2E_CRASH_RUNS=N` for more, `FERREX_E2E_CRASH_SEED=S` to repeat a
//! run (the seed is printed, and shown when the test fails).

mod common;

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use common::Server;
use ferrex_gateway::binary::wire::{self, ExecutionReport, NewOrder};
use ferrex_gateway::client::binary::{BinaryClient, LogonOptions, Secret, ServerMessage};
use ferrex_tests::journal_fixture::TempDir;

const FERREX: &str = env!("CARGO_BIN_EXE_ferrex");

/// A small deterministic generator (xorshift64*), so a seed repeats a run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn order(instrument: u32, side: u8, price: i64, qty: i64, client: &str) -> Vec<u8> {
    let ioc = u8::from(qty % 3 == 0);
    NewOrder { time_in_force: ioc, ..NewOrder::limit(instrument, side, price, qty, client) }.to_bytes()
}

/// One user trading until the server dies: a writer sends paced orders (buys and sells around
/// one price, some IOC, some cancels), a reader keeps every execution report it receives.
fn trader(
    address: &str,
    user: &'static str,
    seed: u64,
    stop: Arc<AtomicBool>,
) -> JoinHandle<Vec<ExecutionReport>> {
    let secret = Secret::Hmac(format!("demo-{user}-secret"));
    let client = BinaryClient::connect(address, &format!("demo-{user}"), &secret, LogonOptions::default())
        .expect("logon");
    let btc = client.instrument("BTC-USDT").expect("listed").instrument;
    let (mut writer, mut reader) = client.split();
    std::thread::spawn(move || {
        let mut rng = Rng(seed | 1);
        let mut n = 0u64;
        while !stop.load(Ordering::Relaxed) {
            let side = u8::try_from(rng.below(2)).expect("0 or 1");
            let price = 6_000_000 + i64::try_from(rng.below(5)).expect("small") - 2;
            let qty = 1 + i64::try_from(rng.below(4)).expect("small");
            let sent = if rng.below(8) == 0 {
                let cancel = wire::MassCancel { instrument: btc };
                writer.send(&cancel.to_bytes())
            } else {
                writer.send(&order(btc, side, price, qty, &format!("{user}-{n}")))
            };
            if sent.is_err() {
                break;
            }
            n += 1;
            // Pacing under the demo tier's 100 orders a second (not synchronization).
            std::thread::sleep(Duration::from_millis(12));
        }
    });
    std::thread::spawn(move || {
        let mut reports = Vec::new();
        loop {
            match reader.recv() {
                Ok(ServerMessage::Execution(report)) => reports.push(report),
                Ok(_) => {}
                Err(_) => return reports,
            }
        }
    })
}

fn replay(dir: &TempDir, report: &str) -> serde_json::Value {
    let output = Command::new(FERREX)
        .args(["replay", "--format", "json", "--report", report])
        .arg(&dir.0)
        .output()
        .expect("ferrex replay runs");
    assert!(output.status.success(), "ferrex replay failed: {}", String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8(output.stdout).expect("UTF-8");
    let values: Vec<serde_json::Value> =
        text.lines().map(|l| serde_json::from_str(l).expect("JSON lines")).collect();
    if report == "hash" { values[0].clone() } else { serde_json::Value::Array(values) }
}

/// Every asset's total over users and system accounts.
fn totals(dir: &TempDir) -> BTreeMap<String, i64> {
    let mut totals = BTreeMap::new();
    for row in replay(dir, "balances").as_array().expect("rows") {
        let amount = row["available"].as_i64().unwrap_or(0) + row["held"].as_i64().unwrap_or(0);
        *totals.entry(row["asset"].as_str().expect("asset").to_string()).or_insert(0) += amount;
    }
    totals
}

/// Every report of `user` in the recovered history (a replay from the start).
fn history(server: &Server, user: &str) -> Vec<ExecutionReport> {
    let secret = Secret::Hmac(format!("demo-{user}-secret"));
    let options = LogonOptions { replay_after: Some((0, 0)), cancel_on_disconnect: false };
    let mut client =
        BinaryClient::connect(&server.binary, &format!("demo-{user}"), &secret, options).expect("logon");
    let mut reports = Vec::new();
    loop {
        match client.recv_timeout(Duration::from_secs(30)).expect("replay") {
            Some(ServerMessage::Execution(report)) => reports.push(report),
            Some(ServerMessage::ReplayComplete(done)) => {
                assert_eq!(done.status, 0, "the journal reaches back to the start");
                assert_eq!(done.replayed, reports.len() as u64);
                return reports;
            }
            Some(_) => {}
            None => panic!("no end to the replay"),
        }
    }
}

#[test]
fn a_killed_server_loses_no_acknowledged_order_or_fill() {
    let runs: u64 = std::env::var("FERREX_E2E_CRASH_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(20);
    let seed: u64 =
        std::env::var("FERREX_E2E_CRASH_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or_else(|| {
            u64::from(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .expect("clock")
                    .subsec_nanos(),
            )
        });
    println!("seed {seed} ({runs} runs): FERREX_E2E_CRASH_SEED={seed} repeats it");
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let dir = TempDir::new("e2e-crash");
    let configs = TempDir::new("e2e-crash-configs");
    std::fs::create_dir_all(&configs.0).expect("a directory for the configuration");
    let async_config =
        common::demo_config_with(&configs, &[("durability = \"sync\"", "durability = \"async\"")]);
    let start = |run: u64| {
        if (run / 5) % 2 == 1 { Server::start_with_config(&dir, &async_config) } else { Server::start(&dir) }
    };
    let mut server = start(0);
    let mut expected_totals = None;
    let mut acknowledged: BTreeMap<&str, Vec<ExecutionReport>> = BTreeMap::new();
    for run in 0..runs {
        let stop = Arc::new(AtomicBool::new(false));
        let traders: Vec<(&str, JoinHandle<Vec<ExecutionReport>>)> = ["alice", "bob"]
            .into_iter()
            .map(|user| (user, trader(&server.binary, user, rng.next(), Arc::clone(&stop))))
            .collect();
        std::thread::sleep(Duration::from_millis(100 + rng.below(600)));
        server.kill();
        stop.store(true, Ordering::Relaxed);
        for (user, handle) in traders {
            acknowledged.entry(user).or_default().extend(handle.join().expect("reader"));
        }
        let offline = replay(&dir, "hash");
        let totals = totals(&dir);
        assert_eq!(
            *expected_totals.get_or_insert_with(|| totals.clone()),
            totals,
            "run {run}: money conserved"
        );
        server = start(run + 1);
        assert_eq!(
            offline["state_hash"].as_str(),
            Some(server.recovered_hash.as_str()),
            "run {run} (seed {seed}): the restarted server recovered the offline replay's state"
        );
    }
    for (user, reports) in &acknowledged {
        let recovered = history(&server, user);
        let mut at = recovered.iter();
        for report in reports {
            assert!(
                at.any(|r| r == report),
                "seed {seed}: {user}'s acknowledged report at {:?} is missing after recovery",
                (report.sequence, report.index)
            );
        }
        println!(
            "{user}: {} acknowledged reports, all recovered ({} in the history)",
            reports.len(),
            recovered.len()
        );
    }
    assert!(acknowledged.values().all(|r| r.len() > 10), "the clients traded");
    assert!(server.stop());
}

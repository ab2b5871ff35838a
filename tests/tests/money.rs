//! The money property test: random mixes of every command (transfers, admin holds, suspensions,
//! halts, tenants, users, assets, all order commands on spot instruments with fees and rebates and
//! on a perpetual, mark jumps that liquidate, funding, close-position)
//! with every invariant checked after every command: per asset, accounts sum to deposits minus
//! withdrawals; no balance is negative; every held amount is exactly what the user's orders can
//! still cost plus its admin hold; positions sum to zero; order margins match the orders.
//! Replaying a run gives the same state hash.
//!
//! `FERREX_SEED=n` reruns one seed; `FERREX_SEEDS=n` changes how many seeds run (default 200).

use std::collections::BTreeSet;

use ferrex_engine::{Event, RejectCode};
use ferrex_tests::generate::SplitMix64;
use ferrex_tests::money_gen;

const COMMANDS_PER_SEED: usize = 2_000;

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|v| v.parse().unwrap_or_else(|_| panic!("{name} must be a number")))
}

#[test]
fn money_is_conserved_and_holds_are_exact_under_random_commands() {
    let seeds: Vec<u64> = match env_u64("FERREX_SEED") {
        Some(seed) => vec![seed],
        None => (1..=env_u64("FERREX_SEEDS").unwrap_or(200)).collect(),
    };
    let mut codes = BTreeSet::new();
    let (mut fills, mut transfers, mut liquidations, mut shortfalls) = (0usize, 0usize, 0usize, 0usize);
    let (mut expired, mut triggered) = (0usize, 0usize);
    for &seed in &seeds {
        let run = match money_gen::run(&mut SplitMix64(seed), COMMANDS_PER_SEED) {
            Ok(run) => run,
            Err(report) => panic!("seed {seed} (rerun with FERREX_SEED={seed}): {report}"),
        };
        if seed % 20 == 1 {
            assert_eq!(money_gen::replay(&run.commands), run.hash, "seed {seed}: replay ends elsewhere");
        }
        for event in &run.events {
            match event {
                Event::Rejected { code, .. } => {
                    codes.insert(*code);
                }
                Event::Fill(_) => fills += 1,
                Event::Transferred { .. } => transfers += 1,
                Event::Liquidation { .. } => liquidations += 1,
                Event::InsuranceShortfall { .. } => shortfalls += 1,
                Event::Cancelled { reason: ferrex_engine::CancelReason::Expired, .. } => expired += 1,
                Event::Triggered { .. } => triggered += 1,
                _ => {}
            }
        }
    }
    if seeds.len() > 1 {
        assert!(fills > 3_000 && transfers > 10_000, "{fills} fills, {transfers} transfers");
        eprintln!(
            "{fills} fills, {transfers} transfers, {liquidations} liquidations, {shortfalls} shortfalls, {expired} expiries, {triggered} triggered"
        );
        assert!(liquidations > 30 && shortfalls > 0, "{liquidations} liquidations, {shortfalls} shortfalls");
        assert!(expired > 1_000, "{expired} good-till-date expiries");
        assert!(triggered > 100, "{triggered} conditional orders triggered");
        // 4006 needs more perpetuals than the config allows listing here: tested in engine.rs.
        let missing: Vec<_> = RejectCode::ALL
            .iter()
            .filter(|c| {
                let elsewhere = [
                    RejectCode::ExpiryInPast,
                    RejectCode::InvalidTrigger,
                    RejectCode::WouldTriggerImmediately,
                ];
                (c.code() >= 4005 && c.code() != 4006) || elsewhere.contains(c)
            })
            .filter(|c| !codes.contains(c))
            .collect();
        assert!(missing.is_empty(), "account reject codes never reached: {missing:?}");
    }
}

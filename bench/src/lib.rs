//! ferrex-bench: the engine workloads shared by the criterion benches and the `ferrex-bench` harness.
//!
//! Every workload builds its state untimed, then times a batch of `n` operations of one kind with
//! one pair of clock reads around the batch (no per-operation clock cost), on one hot book unless
//! stated. Commands are built before timing. Seeds are fixed, so runs are comparable.
//!
//! - [`ops`]: passive place, crossing with 1/5/20 fills, cancel, amend price, market sweep;
//! - [`mix`]: the exchange-core mix (throughput and per-command latency);
//! - [`large`]: a large book (1M orders over 10K instruments);
//! - [`peer`]: the same workload on ferrex and on `lobster` 0.7.0, in the same run;
//! - [`journal`], [`recovery`]: the journal on real files; replay and large snapshots;
//! - [`floor`]: the machine's own hiccups and a loopback echo, with nothing of ferrex running.

// Measurement arithmetic: counts and nanoseconds become f64 for ratios and back; exactness
// beyond 2^52 is irrelevant here.
#![allow(clippy::cast_precision_loss, clippy::cast_possible_truncation, clippy::cast_sign_loss)]

pub mod floor;
pub mod journal;
pub mod large;
pub mod mix;
pub mod ops;
pub mod peer;
pub mod pipeline;
pub mod recovery;
pub mod risk;
pub mod socket;

use ferrex_engine::{Command, Engine, EngineConfig, Event, InstrumentSpec, OrderId, Price, Qty, Symbol};
use ferrex_tests::fixture;

/// The workloads' deterministic generator: the test kit's `SplitMix64`.
pub use ferrex_tests::generate::SplitMix64 as Rng;

/// An instrument with wide limits: prices and quantities 1..=10^9.
pub fn spec(symbol: &str) -> InstrumentSpec {
    InstrumentSpec {
        symbol: Symbol::new(symbol).expect("valid symbol"),
        tick: ferrex_engine::DecimalStep { units: 1, scale: 2 },
        lot: ferrex_engine::DecimalStep { units: 1, scale: 2 },
        qty_min: Qty(1),
        qty_max: Qty(1_000_000_000),
        price_min: Price(1),
        price_max: Price(1_000_000_000),
        base: fixture::BTC,
        quote: fixture::USDT,
        ..InstrumentSpec::default()
    }
}

/// Which kind of instrument a workload trades.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MarketKind {
    /// Spot without fees.
    Spot,
    /// Spot with a 5 bps taker fee and a 1 bp maker rebate.
    SpotWithFees,
    /// A perpetual (10% initial, 5% maintenance margin, mark at the mix's mid), fees as above.
    Perpetual,
}

impl MarketKind {
    /// Every kind, in report order.
    pub const ALL: [MarketKind; 3] = [MarketKind::Spot, MarketKind::SpotWithFees, MarketKind::Perpetual];

    /// A short name for reports.
    pub fn name(self) -> &'static str {
        match self {
            MarketKind::Spot => "spot, no fees",
            MarketKind::SpotWithFees => "spot, fees",
            MarketKind::Perpetual => "perpetual",
        }
    }

    /// The instrument spec of this kind, around `mark`.
    pub fn spec(self, symbol: &str, mark: i64) -> InstrumentSpec {
        let mut spec = spec(symbol);
        if self != MarketKind::Spot {
            (spec.maker_fee_bps, spec.taker_fee_bps) = (-1, 5);
        }
        if self == MarketKind::Perpetual {
            spec.kind = ferrex_engine::InstrumentKind::Perpetual;
            (spec.initial_margin_bps, spec.maintenance_margin_bps) = (1000, 500);
            spec.mark_price = Price(mark);
            spec.price_max = Price(100_000_000);
        }
        spec
    }
}

/// An engine sized for `orders_max` orders, holding one instrument (id 0) of a kind.
pub fn engine_with_market(orders_max: u32, kind: MarketKind, mark: i64) -> Engine {
    let config = EngineConfig {
        orders_max,
        levels_max: orders_max,
        instruments_max: 16,
        users_max: 4096,
        side_levels_reserved: 4096,
        ..EngineConfig::default()
    };
    fixture::engine_with(config, &[kind.spec("BENCH", mark)])
}

/// An engine sized for `orders_max` orders, holding one spot instrument without fees (id 0).
pub fn engine_with_book(orders_max: u32) -> Engine {
    engine_with_market(orders_max, MarketKind::Spot, 0)
}

/// Applies commands untimed, returning the ids of accepted orders in order.
pub fn apply_all(engine: &mut Engine, commands: &[Command]) -> Vec<OrderId> {
    let mut events = Vec::with_capacity(1024);
    let mut ids = Vec::new();
    for command in commands {
        events.clear();
        engine.apply(command, &mut events);
        ids.extend(events.iter().filter_map(|e| match e {
            Event::Accepted(a) => Some(a.order),
            _ => None,
        }));
    }
    ids
}

/// Times `commands` applied in a tight loop (events cleared each time); returns total nanoseconds.
pub fn time_commands(engine: &mut Engine, commands: &[Command], events: &mut Vec<Event>) -> u64 {
    let start = std::time::Instant::now();
    for command in commands {
        events.clear();
        engine.apply(std::hint::black_box(command), events);
    }
    let elapsed = start.elapsed();
    std::hint::black_box(&events);
    u64::try_from(elapsed.as_nanos()).expect("run shorter than 584 years")
}

/// The median of a non-empty list.
pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

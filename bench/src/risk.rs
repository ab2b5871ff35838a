//! Risk workloads: the cost of the pre-trade check, and a liquidation storm.
//!
//! - [`check_ns`]: `Engine::test_order` (every check a placement runs: validation, limits, hold or
//!   margin, read-only) on the mix's starting book, for limit orders near the mid from 1,000 users;
//! - [`storm`]: `users` traders each hold a leveraged long on a perpetual, bought from one short;
//!   a market maker's bids wait below; one mark price move of 6% puts every long below maintenance
//!   margin. The time is that one `SetMarkPrice` command: settling every holder, then liquidating
//!   each trader in user id order (IOC closes against the bids).

use std::time::Instant;

use ferrex_engine::types::BALANCE_MAX;
use ferrex_engine::{
    AccountRef, Command, Engine, EngineConfig, Event, InstrumentId, InstrumentLimits, Place, Price, Qty,
    Side, TenantId, Transfer, TxId, UserId,
};
use ferrex_tests::fixture::{self, OPERATOR, USDT};

use crate::{MarketKind, Rng, mix};

/// One measurement of the pre-trade check: ns per `test_order`.
pub fn check_ns(market: MarketKind, count: usize) -> f64 {
    let engine = mix::prepared(&mix::generate_on(market, 1, 42));
    let mut rng = Rng(5);
    let places: Vec<Place> = (0..count)
        .map(|_| {
            let side = if rng.next_below(2) == 0 { Side::Buy } else { Side::Sell };
            let offset = rng.range(1, 1200);
            let price = if side == Side::Buy { 100_000 - offset } else { 100_000 + offset };
            Place {
                user: UserId(u32::try_from(rng.next_below(1000)).expect("small")),
                instrument: InstrumentId(0),
                side,
                price: Some(Price(price)),
                qty: Qty(rng.range(1, 100)),
                ..Place::default()
            }
        })
        .collect();
    let start = Instant::now();
    let mut accepted = 0usize;
    for place in &places {
        accepted += usize::from(std::hint::black_box(engine.test_order(std::hint::black_box(place))).is_ok());
    }
    let ns = start.elapsed().as_nanos() as f64;
    assert_eq!(accepted, places.len(), "every checked order passes, so every check runs in full");
    ns / count as f64
}

/// What a liquidation storm did and took.
#[derive(Debug, Clone, Copy)]
pub struct StormResult {
    /// Users liquidated by the one mark move.
    pub liquidated: usize,
    /// Events the command produced.
    pub events: usize,
    /// Wall time of the command, ns.
    pub ns: u64,
}

const MARK: i64 = 100_000;
const LOTS: i64 = 10;

/// Sets up `users` leveraged longs and times the mark move that liquidates them all.
pub fn storm(users: u32) -> StormResult {
    let mut engine = storm_engine(users);
    // Written once before timing, so the figure is the engine's and not the first-touch page faults
    // of a 7 MB buffer (a runtime reuses its output buffers).
    let filler = Event::MassCancelled { user: UserId(0), instrument: None, count: 0 };
    let mut events = vec![filler; 64 * users as usize];
    events.clear();
    let crash =
        Command::SetMarkPrice { actor: OPERATOR, instrument: InstrumentId(0), price: Price(MARK * 94 / 100) };
    let start = Instant::now();
    engine.apply(&crash, &mut events);
    let ns = u64::try_from(start.elapsed().as_nanos()).expect("short");
    let liquidated = events.iter().filter(|e| matches!(e, Event::Liquidation { .. })).count();
    StormResult { liquidated, events: events.len(), ns }
}

fn deposit(user: UserId, amount: i64, tx: u64) -> Command {
    Command::Transfer(Transfer {
        actor: OPERATOR,
        account: AccountRef::User(user),
        asset: USDT,
        tx: TxId(tx),
        amount,
    })
}

/// An engine where traders `3..3 + users` are long `LOTS` each at `MARK` with 10% margin, user 1 is
/// the short, and user 2's bids wait from 7% to 10% below the mark.
fn storm_engine(users: u32) -> Engine {
    let users_max = users + 3;
    let config = EngineConfig {
        orders_max: users_max + 1024,
        levels_max: 4096,
        users_max,
        assets_max: 2,
        side_levels_reserved: 256,
        ..EngineConfig::default()
    };
    let mut engine = Engine::new(config).expect("valid config");
    let (short, maker) = (UserId(1), UserId(2));
    let mut setup = fixture::assets();
    setup.extend((1..users_max).map(|u| Command::CreateUser {
        actor: OPERATOR,
        user: UserId(u),
        tenant: TenantId(0),
        role: ferrex_engine::Role::Trader,
    }));
    let trader_equity = LOTS * MARK / 10 + 1_000;
    setup.push(deposit(short, BALANCE_MAX / 8, 1));
    setup.push(deposit(maker, BALANCE_MAX / 8, 1));
    setup.extend((3..users_max).map(|u| deposit(UserId(u), trader_equity, 1)));
    let mut spec = MarketKind::Perpetual.spec("STORM-PERP", MARK);
    (spec.maker_fee_bps, spec.taker_fee_bps) = (0, 0);
    spec.qty_max = Qty(i64::from(users) * LOTS * 2);
    setup.push(Command::AddInstrument { actor: OPERATOR, spec });
    let limits =
        InstrumentLimits { position_max: i64::from(users) * LOTS * 2, ..InstrumentLimits::default() };
    setup.push(Command::SetInstrumentLimits { actor: OPERATOR, instrument: InstrumentId(0), limits });
    let sell = Place {
        user: short,
        side: Side::Sell,
        price: Some(Price(MARK)),
        qty: Qty(i64::from(users) * LOTS),
        ..Place::default()
    };
    setup.push(Command::Place(sell));
    setup.extend((3..users_max).map(|u| {
        Command::Place(Place {
            user: UserId(u),
            side: Side::Buy,
            price: Some(Price(MARK)),
            qty: Qty(LOTS),
            ..Place::default()
        })
    }));
    // Bids from 7% to 10% below the mark (inside the longs' bankruptcy prices after the 6% move),
    // a quarter of the longs' size at each level.
    setup.extend((7..=10).map(|pct| {
        let qty = Qty(i64::from(users) * LOTS / 4);
        Command::Place(Place {
            user: maker,
            side: Side::Buy,
            price: Some(Price(MARK * (100 - pct) / 100)),
            qty,
            ..Place::default()
        })
    }));
    fixture::apply_setup(&mut engine, &setup);
    engine
}

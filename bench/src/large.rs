//! A large book: 1,000,000 resting orders over 10,000 instruments (100 per instrument, on about
//! 40 levels per side), built in random instrument order; then a random mix of passive places,
//! cancels and price amends over random instruments. Measures build and mix cost per command and
//! heap bytes per resting order.

use ferrex_engine::{
    Amend, Cancel, Command, Engine, EngineConfig, Event, InstrumentId, OrderId, OrderRef, Place, Price, Qty,
    Side, UserId,
};

use crate::{Rng, apply_all, spec, time_commands};

const MID: i64 = 100_000;

/// Figures of one large-book run.
#[derive(Debug, Clone, Copy)]
pub struct LargeResult {
    /// Orders resting after the build.
    pub orders: usize,
    /// Levels in use after the build.
    pub levels: usize,
    /// Nanoseconds per order to build the book.
    pub build_ns: f64,
    /// Nanoseconds per command of the random mix.
    pub mix_ns: f64,
    /// Engine heap bytes divided by resting orders, after the build.
    pub heap_bytes_per_order: f64,
}

#[derive(Clone, Copy)]
struct Live {
    id: OrderId,
    instrument: u32,
    side: Side,
    price: i64,
}

fn place(instrument: u32, side: Side, price: i64, rng: &mut Rng) -> Command {
    Command::Place(Place {
        user: user_of(instrument),
        instrument: InstrumentId(instrument),
        side,
        price: Some(Price(price)),
        qty: Qty(rng.range(1, 100)),
        ..Place::default()
    })
}

fn random_order(instruments: u32, rng: &mut Rng) -> (u32, Side, i64) {
    let instrument = u32::try_from(rng.next_below(u64::from(instruments))).expect("fits");
    let offset = rng.range(1, 100);
    if rng.next_below(2) == 0 {
        (instrument, Side::Buy, MID - offset)
    } else {
        (instrument, Side::Sell, MID + offset)
    }
}

/// Builds the book with `orders` orders over `instruments` instruments and runs `mix` commands.
pub fn run(orders: usize, instruments: u32, mix: usize) -> LargeResult {
    // The mix adds about a tenth of its length in orders (40% places, 30% cancels): room for a fifth.
    let capacity = u32::try_from(orders + mix / 5 + 1024).expect("fits");
    let config = EngineConfig {
        orders_max: capacity,
        levels_max: capacity,
        instruments_max: instruments,
        users_max: 4096,
        side_levels_reserved: 64,
        ..EngineConfig::default()
    };
    let listing: Vec<ferrex_engine::InstrumentSpec> =
        (0..instruments).map(|i| spec(&format!("I{i}"))).collect();
    let mut engine = ferrex_tests::fixture::engine_with(config, &listing);
    let mut rng = Rng(11);
    let shapes: Vec<(u32, Side, i64)> = (0..orders).map(|_| random_order(instruments, &mut rng)).collect();
    let build: Vec<Command> = shapes.iter().map(|&(i, s, p)| place(i, s, p, &mut rng)).collect();
    let mut events = Vec::with_capacity(1024);
    let mut shadow = engine.clone();
    let build_ns = time_commands(&mut engine, &build, &mut events) as f64 / orders as f64;
    let ids = apply_all(&mut shadow, &build);
    let heap_bytes_per_order = engine.heap_bytes() as f64 / engine.resting_orders_len() as f64;
    let (resting, levels) = (engine.resting_orders_len(), engine.levels_len());
    let mut live: Vec<Live> = ids
        .into_iter()
        .zip(shapes)
        .map(|(id, (instrument, side, price))| Live { id, instrument, side, price })
        .collect();
    let commands = mix_commands(&mut shadow, &mut live, instruments, mix, &mut rng);
    let mix_ns = time_commands(&mut engine, &commands, &mut events) as f64 / mix as f64;
    assert_eq!(engine.state_hash(), shadow.state_hash(), "replay diverged from the shadow");
    LargeResult { orders: resting, levels, build_ns, mix_ns, heap_bytes_per_order }
}

/// 40% passive places, 30% cancels, 30% price amends; generated on the shadow engine.
fn mix_commands(
    shadow: &mut Engine,
    live: &mut Vec<Live>,
    instruments: u32,
    count: usize,
    rng: &mut Rng,
) -> Vec<Command> {
    let mut events: Vec<Event> = Vec::with_capacity(1024);
    let mut commands = Vec::with_capacity(count);
    for _ in 0..count {
        let roll = rng.next_below(10);
        let command = if roll < 4 || live.is_empty() {
            let (i, s, p) = random_order(instruments, rng);
            place(i, s, p, rng)
        } else {
            let at = usize::try_from(rng.next_below(live.len() as u64)).expect("fits");
            let order = live[at];
            let user = user_of(order.instrument);
            if roll < 7 {
                live.swap_remove(at);
                Command::Cancel(Cancel {
                    user,
                    instrument: InstrumentId(order.instrument),
                    order: OrderRef::Id(order.id),
                })
            } else {
                let price = match order.side {
                    Side::Buy => MID - rng.range(1, 100),
                    Side::Sell => MID + rng.range(1, 100),
                };
                live[at].price = price;
                Command::Amend(Amend {
                    user,
                    instrument: InstrumentId(order.instrument),
                    order: OrderRef::Id(order.id),
                    price: Price(price),
                    qty: Qty(50),
                    trigger_price: None,
                })
            }
        };
        events.clear();
        shadow.apply(&command, &mut events);
        for e in &events {
            if let Event::Accepted(a) = e {
                let price = a.price.expect("limit").0;
                live.push(Live { id: a.order, instrument: a.instrument.0, side: a.side, price });
            }
        }
        commands.push(command);
    }
    commands
}

/// One owner per instrument (books do not trade here: bids stay below asks).
fn user_of(instrument: u32) -> UserId {
    UserId(1 + instrument % 4000)
}

//! Single-operation workloads on one hot book. Each returns a prepared engine and the commands to
//! time; [`run`] times them and gives nanoseconds per operation.
//!
//! The book around the operations: 1,000 resting orders per side on 500 levels near the mid (100,000
//! ticks), so the structures are warm and realistic but every operation finds what it needs.

use ferrex_engine::{
    Amend, Cancel, Command, Engine, InstrumentId, OrderId, OrderRef, OrderType, Place, Price, Qty, Side,
    TimeInForce, UserId,
};

use crate::{Rng, apply_all, engine_with_book, time_commands};

const MID: i64 = 100_000;
const BOOK_SIDE_ORDERS: usize = 1_000;

/// A prepared batch: the engine in its starting state and the commands to time.
pub struct Prepared {
    /// The engine, set up untimed.
    pub engine: Engine,
    /// The timed commands, one operation each.
    pub commands: Vec<Command>,
}

/// The operations, by name, with their weight (resting orders each consumes; batch sizes divide by it).
pub const OPERATIONS: [(&str, usize); 7] = [
    ("passive place", 1),
    ("crossing, 1 fill", 1),
    ("crossing, 5 fills", 5),
    ("crossing, 20 fills", 20),
    ("cancel", 1),
    ("amend price", 1),
    ("market sweep, 20 fills", 20),
];

/// Prepares `n` operations of the named kind.
pub fn prepare(name: &str, n: usize) -> Prepared {
    match name {
        "passive place" => passive_place(n),
        "crossing, 1 fill" => crossing(n, 1),
        "crossing, 5 fills" => crossing(n, 5),
        "crossing, 20 fills" => crossing(n, 20),
        "cancel" => cancel(n),
        "amend price" => amend_price(n),
        "market sweep, 20 fills" => market_sweep(n, 20),
        _ => panic!("unknown operation {name}"),
    }
}

/// Times a prepared batch; nanoseconds per operation.
pub fn run(mut prepared: Prepared) -> f64 {
    let mut events = Vec::with_capacity(4096);
    let ns = time_commands(&mut prepared.engine, &prepared.commands, &mut events);
    ns as f64 / prepared.commands.len() as f64
}

fn limit(user: u32, side: Side, price: i64, qty: i64) -> Command {
    Command::Place(Place {
        user: UserId(user),
        instrument: InstrumentId(0),
        side,
        price: Some(Price(price)),
        qty: Qty(qty),
        ..Place::default()
    })
}

/// 1,000 orders per side on 500 levels each, spread 1 tick around `MID`.
fn background(rng: &mut Rng) -> Vec<Command> {
    (0..BOOK_SIDE_ORDERS * 2)
        .map(|i| {
            let offset = 1 + rng.range(0, 499);
            let (side, price) =
                if i % 2 == 0 { (Side::Buy, MID - offset) } else { (Side::Sell, MID + offset) };
            limit(u32::try_from(rng.next_below(1000)).expect("small"), side, price, rng.range(1, 100))
        })
        .collect()
}

fn engine_for(extra_orders: usize) -> Engine {
    let orders = u32::try_from(extra_orders + BOOK_SIDE_ORDERS * 2 + 1024).expect("fits");
    engine_with_book(orders.next_power_of_two())
}

fn passive_place(n: usize) -> Prepared {
    let mut rng = Rng(1);
    let mut engine = engine_for(n);
    apply_all(&mut engine, &background(&mut rng));
    let commands = (0..n)
        .map(|i| {
            let offset = 1 + rng.range(0, 499);
            let (side, price) =
                if i % 2 == 0 { (Side::Buy, MID - offset) } else { (Side::Sell, MID + offset) };
            limit(2000, side, price, rng.range(1, 100))
        })
        .collect();
    Prepared { engine, commands }
}

/// `takers` buy orders, each filling exactly `fills` resting asks of one lot at the best price.
fn crossing(takers: usize, fills: usize) -> Prepared {
    let mut rng = Rng(2);
    let mut engine = engine_for(takers * fills);
    apply_all(&mut engine, &background(&mut rng));
    let best_ask = MID;
    let makers: Vec<Command> = (0..takers * fills)
        .map(|i| limit(u32::try_from(i % 1000).expect("small"), Side::Sell, best_ask, 1))
        .collect();
    apply_all(&mut engine, &makers);
    let commands =
        (0..takers).map(|_| limit(3000, Side::Buy, best_ask, i64::try_from(fills).expect("small"))).collect();
    Prepared { engine, commands }
}

fn resting_ids(engine: &mut Engine, n: usize, rng: &mut Rng) -> Vec<(OrderId, Side, i64)> {
    let orders: Vec<(Side, i64)> = (0..n)
        .map(|i| {
            let offset = 1 + rng.range(0, 499);
            if i % 2 == 0 { (Side::Buy, MID - offset) } else { (Side::Sell, MID + offset) }
        })
        .collect();
    let commands: Vec<Command> = orders.iter().map(|&(side, price)| limit(7, side, price, 10)).collect();
    let ids = apply_all(engine, &commands);
    ids.into_iter().zip(orders).map(|(id, (side, price))| (id, side, price)).collect()
}

fn shuffle<T>(items: &mut [T], rng: &mut Rng) {
    for i in (1..items.len()).rev() {
        let j = usize::try_from(rng.next_below(i as u64 + 1)).expect("fits");
        items.swap(i, j);
    }
}

/// The background book plus `n` orders of user 7, whose (id, side, price) come back shuffled.
fn shuffled_resting(n: usize, rng: &mut Rng) -> (Engine, Vec<(OrderId, Side, i64)>) {
    let mut engine = engine_for(n);
    apply_all(&mut engine, &background(rng));
    let mut ids = resting_ids(&mut engine, n, rng);
    shuffle(&mut ids, rng);
    (engine, ids)
}

fn cancel(n: usize) -> Prepared {
    let (engine, ids) = shuffled_resting(n, &mut Rng(3));
    let commands = ids
        .into_iter()
        .map(|(id, _, _)| {
            Command::Cancel(Cancel { user: UserId(7), instrument: InstrumentId(0), order: OrderRef::Id(id) })
        })
        .collect();
    Prepared { engine, commands }
}

fn amend_price(n: usize) -> Prepared {
    let mut rng = Rng(4);
    let (engine, ids) = shuffled_resting(n, &mut rng);
    let commands = ids
        .into_iter()
        .map(|(id, side, price)| {
            // Move one to three ticks, staying on its own side of the mid: never crosses.
            let step = rng.range(1, 3);
            let new_price = match side {
                Side::Buy if price + step < MID => price + step,
                Side::Buy => price - step,
                Side::Sell if price - step > MID => price - step,
                Side::Sell => price + step,
            };
            Command::Amend(Amend {
                user: UserId(7),
                instrument: InstrumentId(0),
                order: OrderRef::Id(id),
                price: Price(new_price),
                qty: Qty(10),
                trigger_price: None,
            })
        })
        .collect();
    Prepared { engine, commands }
}

/// `takers` market buys, each taking `levels` levels of one one-lot ask (asks start at the mid and
/// go up a tick at a time; the background holds bids only, below the mid).
fn market_sweep(takers: usize, levels: usize) -> Prepared {
    let mut rng = Rng(5);
    let mut engine = engine_for(takers * levels);
    let bids: Vec<Command> = background(&mut rng).into_iter().step_by(2).collect();
    apply_all(&mut engine, &bids);
    // Worst first, so that each new level is the best and lands at the end of the side's array.
    let makers: Vec<Command> = (0..takers * levels)
        .rev()
        .map(|i| {
            limit(
                u32::try_from(i % 1000).expect("small"),
                Side::Sell,
                MID + i64::try_from(i).expect("fits"),
                1,
            )
        })
        .collect();
    apply_all(&mut engine, &makers);
    let commands = (0..takers)
        .map(|_| {
            Command::Place(Place {
                user: UserId(3000),
                instrument: InstrumentId(0),
                side: Side::Buy,
                order_type: OrderType::Market,
                time_in_force: TimeInForce::Ioc,
                qty: Qty(i64::try_from(levels).expect("small")),
                levels_max: u32::try_from(levels).expect("small"),
                quote_budget: 1_000_000_000_000,
                ..Place::default()
            })
        })
        .collect();
    Prepared { engine, commands }
}

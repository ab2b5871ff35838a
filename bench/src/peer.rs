//! The peer comparison: the same orders on ferrex and on `lobster` 0.7.0 in the same run.
//!
//! 100,000 limit orders from a fixed seed (random side, quantity 1..=100), then a cancel of every
//! third order. Non-crossing: bids 1..=1000 ticks below the mid, asks above. Crossing: prices within
//! 500 ticks either side of the mid for both sides, so most orders trade. Lobster gets a preallocated
//! arena and no statistics tracking (its fastest setting). Times are per operation over the batch.

use ferrex_engine::{
    Cancel, Command, Engine, Event, InstrumentId, OrderRef, Place, Price, Qty, Side, UserId,
};

use crate::{Rng, engine_with_book};

const MID: i64 = 1_000_000;

/// Nanoseconds per operation on both engines.
#[derive(Debug, Clone, Copy, Default)]
pub struct PeerResult {
    /// ferrex: limit order add.
    pub ferrex_add_ns: f64,
    /// ferrex: cancel.
    pub ferrex_cancel_ns: f64,
    /// lobster: limit order add.
    pub lobster_add_ns: f64,
    /// lobster: cancel.
    pub lobster_cancel_ns: f64,
}

/// One order of the workload.
#[derive(Clone, Copy, Debug)]
pub struct Order {
    buy: bool,
    price: i64,
    qty: i64,
}

/// The workload's orders.
pub fn orders(n: usize, crossing: bool, seed: u64) -> Vec<Order> {
    let mut rng = Rng(seed);
    (0..n)
        .map(|_| {
            let buy = rng.next_below(2) == 0;
            let price = match (crossing, buy) {
                (true, _) => MID + rng.range(-500, 500),
                (false, true) => MID - rng.range(1, 1000),
                (false, false) => MID + rng.range(1, 1000),
            };
            Order { buy, price, qty: rng.range(1, 100) }
        })
        .collect()
}

fn elapsed_ns(start: std::time::Instant) -> f64 {
    start.elapsed().as_nanos() as f64
}

/// ferrex on the orders: (add, cancel) nanoseconds per operation.
pub fn ferrex(orders: &[Order]) -> (f64, f64) {
    let n = orders.len();
    let mut engine: Engine = engine_with_book(u32::try_from(n + 1024).expect("fits").next_power_of_two());
    let places: Vec<Command> = orders
        .iter()
        .enumerate()
        .map(|(i, o)| {
            Command::Place(Place {
                user: UserId(u32::try_from(i % 1000).expect("small")),
                instrument: InstrumentId(0),
                side: if o.buy { Side::Buy } else { Side::Sell },
                price: Some(Price(o.price)),
                qty: Qty(o.qty),
                ..Place::default()
            })
        })
        .collect();
    let mut events: Vec<Event> = Vec::with_capacity(4096);
    // Written in full now, so that recording ids never page-faults inside the timed loop.
    let mut ids = vec![ferrex_engine::OrderId(u64::MAX); n];
    let start = std::time::Instant::now();
    for (command, id) in places.iter().zip(ids.iter_mut()) {
        events.clear();
        engine.apply(std::hint::black_box(command), &mut events);
        if let Some(Event::Accepted(a)) = events.first() {
            *id = a.order;
        }
    }
    let add = elapsed_ns(start) / n as f64;
    assert!(ids.iter().all(|id| id.0 != u64::MAX), "every order accepted");
    let cancels: Vec<Command> = (0..n)
        .step_by(3)
        .map(|i| {
            Command::Cancel(Cancel {
                user: UserId(u32::try_from(i % 1000).expect("small")),
                instrument: InstrumentId(0),
                order: OrderRef::Id(ids[i]),
            })
        })
        .collect();
    let start = std::time::Instant::now();
    for command in &cancels {
        events.clear();
        engine.apply(std::hint::black_box(command), &mut events);
    }
    let cancel = elapsed_ns(start) / cancels.len() as f64;
    (add, cancel)
}

/// lobster on the orders: (add, cancel) nanoseconds per operation.
pub fn lobster_run(orders: &[Order]) -> (f64, f64) {
    use lobster::{OrderBook, OrderType, Side as LSide};
    let n = orders.len();
    let mut book = OrderBook::new(n + 1024, 16, false);
    let places: Vec<OrderType> = orders
        .iter()
        .enumerate()
        .map(|(i, o)| OrderType::Limit {
            id: i as u128,
            side: if o.buy { LSide::Bid } else { LSide::Ask },
            qty: u64::try_from(o.qty).expect("positive"),
            price: u64::try_from(o.price).expect("positive"),
        })
        .collect();
    let start = std::time::Instant::now();
    for order in &places {
        std::hint::black_box(book.execute(*std::hint::black_box(order)));
    }
    let add = elapsed_ns(start) / n as f64;
    let cancels: Vec<OrderType> = (0..n).step_by(3).map(|i| OrderType::Cancel { id: i as u128 }).collect();
    let start = std::time::Instant::now();
    for cancel in &cancels {
        std::hint::black_box(book.execute(*std::hint::black_box(cancel)));
    }
    let cancel = elapsed_ns(start) / cancels.len() as f64;
    (add, cancel)
}

/// Runs the workload on both engines.
pub fn run(n: usize, crossing: bool, seed: u64) -> PeerResult {
    let orders = orders(n, crossing, seed);
    let (ferrex_add_ns, ferrex_cancel_ns) = ferrex(&orders);
    let (lobster_add_ns, lobster_cancel_ns) = lobster_run(&orders);
    PeerResult { ferrex_add_ns, ferrex_cancel_ns, lobster_add_ns, lobster_cancel_ns }
}

//! The exchange-core mix: one instrument, about 1,000 resting orders on about 750 levels; commands
//! 9% GTC, 3% IOC, 6% cancel, 82% price amend ("move"); about 6% of commands trade.
//!
//! The command list is generated once by driving a shadow engine (so cancels and moves name live
//! orders), then replayed on a fresh engine: the engine is deterministic, so the replay sees exactly
//! the same states. Generation is never timed.

use std::collections::HashMap;

use ferrex_engine::{
    Amend, Cancel, Command, Engine, Event, InstrumentId, OrderId, OrderRef, Place, Price, Qty, Side,
    TimeInForce, UserId,
};

use crate::{MarketKind, Rng, apply_all, engine_with_market};

const MID: i64 = 100_000;
const HALF_WIDTH_TICKS: i64 = 1200;
const ORDERS_TARGET: usize = 1_000;

/// A generated mix.
pub struct Mix {
    /// The instrument's kind.
    pub market: MarketKind,
    /// Commands that build the starting book.
    pub setup: Vec<Command>,
    /// The measured commands.
    pub commands: Vec<Command>,
    /// Share of measured commands that traded.
    pub trading_share: f64,
    /// Resting orders and levels at the end of generation.
    pub orders_end: usize,
    /// Levels at the end of generation.
    pub levels_end: usize,
}

#[derive(Clone, Copy)]
struct Live {
    id: OrderId,
    user: UserId,
    side: Side,
    price: i64,
}

struct Shadow {
    engine: Engine,
    live: Vec<Live>,
    index: HashMap<OrderId, usize>,
    events: Vec<Event>,
    rng: Rng,
}

impl Shadow {
    fn remove(&mut self, id: OrderId) {
        if let Some(at) = self.index.remove(&id) {
            self.live.swap_remove(at);
            if let Some(moved) = self.live.get(at) {
                self.index.insert(moved.id, at);
            }
        }
    }

    /// Applies a command and tracks which orders rest; returns true when it traded.
    fn apply(&mut self, command: &Command) -> bool {
        self.events.clear();
        self.engine.apply(command, &mut self.events);
        let mut traded = false;
        let mut resting = None;
        for i in 0..self.events.len() {
            match self.events[i] {
                Event::Accepted(a) if a.time_in_force == TimeInForce::Gtc => {
                    resting = Some(Live {
                        id: a.order,
                        user: a.user,
                        side: a.side,
                        price: a.price.expect("limit").0,
                    });
                }
                Event::Amended { order, price, .. } => {
                    if let Some(&at) = self.index.get(&order) {
                        self.live[at].price = price.0;
                    }
                }
                Event::Fill(_) => traded = true,
                Event::Done { order, .. } | Event::Cancelled { order, .. } => {
                    if resting.is_some_and(|r| r.id == order) {
                        resting = None;
                    }
                    self.remove(order);
                }
                _ => {}
            }
        }
        if let Some(order) = resting {
            self.index.insert(order.id, self.live.len());
            self.live.push(order);
        }
        traded
    }

    fn best(&self, side: Side) -> i64 {
        self.engine.best(InstrumentId(0), side).map_or(
            match side {
                Side::Buy => MID - 1,
                Side::Sell => MID + 1,
            },
            |(p, _)| p.0,
        )
    }

    fn passive_price(&mut self, side: Side) -> i64 {
        let offset = 1 + self.rng.range(0, HALF_WIDTH_TICKS - 1);
        match side {
            Side::Buy => MID - offset,
            Side::Sell => MID + offset,
        }
    }

    fn side(&mut self) -> Side {
        if self.rng.next_below(2) == 0 { Side::Buy } else { Side::Sell }
    }

    fn place(&mut self, tif: TimeInForce, aggressive: bool) -> Command {
        let side = self.side();
        let price = if aggressive {
            let through = self.rng.range(0, 2);
            match side {
                Side::Buy => self.best(Side::Sell) + through,
                Side::Sell => self.best(Side::Buy) - through,
            }
        } else {
            self.passive_price(side)
        };
        Command::Place(Place {
            user: UserId(u32::try_from(self.rng.next_below(1000)).expect("small")),
            instrument: InstrumentId(0),
            side,
            price: Some(Price(price)),
            qty: Qty(self.rng.range(1, 100)),
            time_in_force: tif,
            ..Place::default()
        })
    }

    fn pick(&mut self) -> Live {
        let at = usize::try_from(self.rng.next_below(self.live.len() as u64)).expect("fits");
        self.live[at]
    }

    fn cancel(&mut self) -> Command {
        let order = self.pick();
        Command::Cancel(Cancel {
            user: order.user,
            instrument: InstrumentId(0),
            order: OrderRef::Id(order.id),
        })
    }

    fn move_order(&mut self) -> Command {
        let order = self.pick();
        let step = self.rng.range(1, 3);
        let toward_mid = match order.side {
            Side::Buy => MID - order.price > HALF_WIDTH_TICKS || self.rng.next_below(2) == 0,
            Side::Sell => order.price - MID > HALF_WIDTH_TICKS || self.rng.next_below(2) == 0,
        };
        let price = match (order.side, toward_mid) {
            (Side::Buy, true) | (Side::Sell, false) => order.price + step,
            (Side::Buy, false) | (Side::Sell, true) => order.price - step,
        };
        let qty = Qty(self.rng.range(1, 100));
        Command::Amend(Amend {
            user: order.user,
            instrument: InstrumentId(0),
            order: OrderRef::Id(order.id),
            price: Price(price.max(1)),
            qty,
            trigger_price: None,
        })
    }

    fn next(&mut self) -> Command {
        let roll = self.rng.next_below(100);
        let full = self.live.len() > ORDERS_TARGET + ORDERS_TARGET / 10;
        let thin = self.live.len() < ORDERS_TARGET;
        match roll {
            0..=8 if full => self.cancel(),
            0..=8 => {
                let aggressive = self.rng.next_below(100) < 30;
                self.place(TimeInForce::Gtc, aggressive)
            }
            9..=11 => self.place(TimeInForce::Ioc, true),
            12..=17 if thin => self.place(TimeInForce::Gtc, false),
            12..=17 => self.cancel(),
            _ => self.move_order(),
        }
    }
}

/// Generates `count` measured commands after a starting book of about 1,000 orders.
pub fn generate(count: usize, seed: u64) -> Mix {
    generate_on(MarketKind::Spot, count, seed)
}

/// The same, on an instrument of the given kind (every order's hold or margin is checked and
/// every fill settled: the mix with risk on).
pub fn generate_on(market: MarketKind, count: usize, seed: u64) -> Mix {
    let mut shadow = Shadow {
        engine: engine(market),
        live: Vec::new(),
        index: HashMap::new(),
        events: Vec::new(),
        rng: Rng(seed),
    };
    let mut setup = Vec::with_capacity(ORDERS_TARGET);
    for _ in 0..ORDERS_TARGET {
        let command = shadow.place(TimeInForce::Gtc, false);
        shadow.apply(&command);
        setup.push(command);
    }
    let mut commands = Vec::with_capacity(count);
    let mut trading = 0usize;
    for _ in 0..count {
        let command = shadow.next();
        trading += usize::from(shadow.apply(&command));
        commands.push(command);
    }
    Mix {
        market,
        setup,
        commands,
        trading_share: trading as f64 / count as f64,
        orders_end: shadow.engine.resting_orders_len(),
        levels_end: shadow.engine.levels_len(),
    }
}

/// A fresh engine for the mix.
pub fn engine(market: MarketKind) -> Engine {
    engine_with_market(1 << 14, market, MID)
}

/// A fresh engine holding the mix's starting book.
pub fn prepared(mix: &Mix) -> Engine {
    let mut engine = engine(mix.market);
    apply_all(&mut engine, &mix.setup);
    engine
}

//! Random command sequences of every kind, for the differential test and the fuzz target.
//!
//! Choices come from a [`Source`]: a seeded [`SplitMix64`] for property tests, or the fuzzer's bytes
//! ([`ByteSource`]). Parameters are narrow on purpose (few users, prices near a mid, a small pool of
//! client ids, tiny capacities in [`differential_config`]) so that crossing, self-trades, duplicate
//! ids, capacity limits and every reject code happen often.

use ferrex_engine::types::ORDER_SLOT_NONE;
use ferrex_engine::{
    Amend, Cancel, ClientOrderId, Command, EngineConfig, Event, InstrumentId, MassCancel, OrderId, OrderRef,
    OrderType, Place, Price, Qty, SelfTradePrevention, Side, TimeInForce, UserId,
};

use crate::text::default_spec;

/// Where choices come from.
pub trait Source {
    /// A value in `0..bound` (`bound` > 0), or `None` when the source is exhausted.
    fn below(&mut self, bound: u64) -> Option<u64>;
}

/// `SplitMix64`: a small, well-mixed deterministic generator.
#[derive(Debug, Clone)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    /// The next raw value.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

impl SplitMix64 {
    /// A value in `0..bound` (`bound` > 0).
    pub fn next_below(&mut self, bound: u64) -> u64 {
        self.next_u64() % bound
    }

    /// A value in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        let span = u64::try_from(hi - lo + 1).expect("lo <= hi");
        lo + i64::try_from(self.next_below(span)).expect("span fits i64")
    }
}

impl Source for SplitMix64 {
    fn below(&mut self, bound: u64) -> Option<u64> {
        Some(self.next_u64() % bound)
    }
}

/// Fuzzer bytes: one byte per small choice, four for large ones.
#[derive(Debug)]
pub struct ByteSource<'a>(pub &'a [u8]);

impl Source for ByteSource<'_> {
    fn below(&mut self, bound: u64) -> Option<u64> {
        let take = match bound {
            0..=256 => 1,
            257..=0xFFFF_FFFF => 4,
            _ => 8,
        };
        if self.0.len() < take {
            return None;
        }
        let (head, rest) = self.0.split_at(take);
        self.0 = rest;
        let value = head.iter().fold(0u64, |acc, &b| acc << 8 | u64::from(b));
        Some(value % bound)
    }
}

/// Tiny limits so that every capacity reject is reachable.
pub fn differential_config() -> EngineConfig {
    EngineConfig {
        orders_max: 10,
        levels_max: 10,
        instruments_max: 3,
        users_max: 5,
        side_levels_reserved: 2,
        hash_seed: 7,
        conditionals_max: 16,
        perpetuals_max: 2,
        ..EngineConfig::default()
    }
}

const CLIENT_IDS: [&str; 6] = ["a", "b", "c", "order-1", "x.y:z/1", "long_client_order_id_of_36_chars_ab"];
const MID: i64 = 1000;

/// Generates commands; remembers recent order ids from the events it is shown.
#[derive(Debug, Default, Clone)]
pub struct CommandGen {
    recent: Vec<OrderId>,
    /// Recently accepted limit orders as placed: (id, owner, instrument, price, quantity).
    placed: Vec<(OrderId, UserId, InstrumentId, Price, Qty)>,
    instruments: u32,
}

impl CommandGen {
    /// A generator for an engine that holds `instruments` instruments so far.
    pub fn new(instruments: u32) -> CommandGen {
        CommandGen { recent: Vec::new(), placed: Vec::new(), instruments }
    }

    /// Learns accepted order ids and new instruments from a command's events.
    pub fn observe(&mut self, events: &[Event]) {
        for e in events {
            match e {
                Event::Accepted(a) => {
                    if self.recent.len() == 64 {
                        self.recent.remove(0);
                    }
                    self.recent.push(a.order);
                    if let Some(price) = a.price.filter(|_| a.order_type == OrderType::Limit) {
                        if self.placed.len() == 16 {
                            self.placed.remove(0);
                        }
                        self.placed.push((a.order, a.user, a.instrument, price, a.qty));
                    }
                }
                Event::InstrumentAdded { .. } => self.instruments += 1,
                _ => {}
            }
        }
    }

    /// The next command, or `None` when the source is exhausted.
    pub fn next(&mut self, s: &mut dyn Source) -> Option<Command> {
        Some(match s.below(100)? {
            0..=44 => Command::Place(self.place(s)?),
            45..=59 => Command::Cancel(Cancel {
                user: user(s)?,
                instrument: self.instrument(s)?,
                order: self.order_ref(s)?,
            }),
            60..=64 if !self.placed.is_empty() => {
                // The owner amending to what it placed: a no-change amend while the order is
                // untouched, a real one after partial fills.
                let index = usize::try_from(s.below(self.placed.len() as u64)?).ok()?;
                let (id, user, instrument, price, qty) = self.placed[index];
                Command::Amend(Amend {
                    user,
                    instrument,
                    order: OrderRef::Id(id),
                    price,
                    qty,
                    trigger_price: None,
                })
            }
            60..=84 => Command::Amend(Amend {
                user: user(s)?,
                instrument: self.instrument(s)?,
                order: self.order_ref(s)?,
                price: price(s)?,
                qty: qty(s)?,
                trigger_price: None,
            }),
            85..=92 => Command::MassCancel(MassCancel {
                user: user(s)?,
                instrument: if s.below(2)? == 0 { None } else { Some(self.instrument(s)?) },
            }),
            93..=97 => Command::AddInstrument { actor: crate::fixture::OPERATOR, spec: add_spec(s)? },
            _ => wild(s)?,
        })
    }

    fn instrument(&self, s: &mut dyn Source) -> Option<InstrumentId> {
        // Mostly listed instruments, sometimes one past the end.
        let bound = u64::from(self.instruments.max(1)) + u64::from(s.below(10)? == 0);
        Some(InstrumentId(u32::try_from(s.below(bound)?).ok()?))
    }

    fn order_ref(&self, s: &mut dyn Source) -> Option<OrderRef> {
        Some(match s.below(10)? {
            0..=5 if !self.recent.is_empty() => {
                let index = usize::try_from(s.below(self.recent.len() as u64)?).ok()?;
                OrderRef::Id(self.recent[index])
            }
            6 => OrderRef::Id(OrderId::new(s.below(50)?, u32::try_from(s.below(64)?).ok()?)),
            7 => OrderRef::Id(OrderId::new(s.below(50)?, ORDER_SLOT_NONE)),
            8 if s.below(8)? == 0 => OrderRef::Client(ClientOrderId([b' '; 36])),
            _ => OrderRef::Client(client_id(s)?),
        })
    }

    fn place(&self, s: &mut dyn Source) -> Option<Place> {
        let mut p = Place {
            user: user(s)?,
            instrument: self.instrument(s)?,
            client_order_id: if s.below(3)? == 0 { client_id(s)? } else { ClientOrderId::EMPTY },
            side: if s.below(2)? == 0 { Side::Buy } else { Side::Sell },
            qty: qty(s)?,
            self_trade: [
                SelfTradePrevention::None,
                SelfTradePrevention::CancelTaker,
                SelfTradePrevention::CancelMaker,
                SelfTradePrevention::CancelBoth,
            ][usize::try_from(s.below(4)?).ok()?],
            ..Place::default()
        };
        match s.below(20)? {
            0..=10 => p.price = Some(price(s)?),
            11..=12 => (p.price, p.time_in_force) = (Some(price(s)?), TimeInForce::Ioc),
            13..=14 => (p.price, p.time_in_force) = (Some(price(s)?), TimeInForce::Fok),
            15..=16 => (p.price, p.post_only) = (Some(price(s)?), true),
            _ => {
                p.order_type = OrderType::Market;
                p.time_in_force = if s.below(3)? == 0 { TimeInForce::Fok } else { TimeInForce::Ioc };
                p.price = if s.below(2)? == 0 { Some(price(s)?) } else { None };
                p.levels_max = u32::try_from(s.below(4)?).ok()?;
                if p.side == Side::Buy && s.below(4)? != 0 {
                    // Enough for a few lots at most, so the budget often binds.
                    p.quote_budget = i64::try_from(s.below(40_000)?).ok()?;
                }
            }
        }
        if s.below(25)? == 0 {
            mutate(&mut p, s)?;
        }
        Some(p)
    }
}

/// Breaks one rule of a placement, so that each validation reject is reached.
fn mutate(p: &mut Place, s: &mut dyn Source) -> Option<()> {
    match s.below(8)? {
        7 => p.reduce_only = true,
        0 => p.time_in_force = TimeInForce::Gtc,
        1 => p.post_only = !p.post_only,
        2 => p.levels_max = 1,
        3 => (p.price, p.levels_max) = (None, 0),
        4 => p.client_order_id = ClientOrderId([0xff; 36]),
        5 => p.order_type = OrderType::Market,
        _ => p.time_in_force = TimeInForce::Ioc,
    }
    Some(())
}

fn user(s: &mut dyn Source) -> Option<UserId> {
    // users_max is 5 in the differential config: id 5 is unknown.
    Some(UserId(u32::try_from(s.below(6)?).ok()?))
}

fn price(s: &mut dyn Source) -> Option<Price> {
    Some(Price(match s.below(40)? {
        0 => 0,
        1 => 100_000,
        _ => MID - 10 + i64::try_from(s.below(21)?).ok()?,
    }))
}

fn qty(s: &mut dyn Source) -> Option<Qty> {
    Some(Qty(match s.below(40)? {
        0 => -1,
        1 => 0,
        2 => 5_000,
        _ => 1 + i64::try_from(s.below(12)?).ok()?,
    }))
}

fn client_id(s: &mut dyn Source) -> Option<ClientOrderId> {
    let index = usize::try_from(s.below(CLIENT_IDS.len() as u64)?).ok()?;
    ClientOrderId::new(CLIENT_IDS[index]).ok()
}

/// The spec of generated instruments: quantities 2..=1000, prices mid +- 8 (the generator goes
/// beyond both, so every range reject happens).
pub fn market_spec(symbol: &str) -> ferrex_engine::InstrumentSpec {
    let mut spec = default_spec(symbol);
    spec.qty_min = Qty(2);
    spec.qty_max = Qty(1_000);
    spec.price_min = Price(MID - 8);
    spec.price_max = Price(MID + 8);
    spec
}

fn add_spec(s: &mut dyn Source) -> Option<ferrex_engine::InstrumentSpec> {
    const SYMBOLS: [&str; 4] = ["BTC-USDT", "ETH-USDT", "SOL-USDT", "XRP-USDT"];
    let mut spec = market_spec(SYMBOLS[usize::try_from(s.below(4)?).ok()?]);
    match s.below(10)? {
        0 | 1 => spec.qty_min = Qty(0),
        2 => spec.base = ferrex_engine::AssetId(2),
        _ => {}
    }
    Some(spec)
}

/// An instrument spec with arbitrary fields (the engine's rules refuse nearly all of them).
fn wild_spec(s: &mut dyn Source) -> Option<ferrex_engine::InstrumentSpec> {
    let small = |s: &mut dyn Source, bound: u64| s.below(bound).and_then(|v| u8::try_from(v).ok());
    Some(ferrex_engine::InstrumentSpec {
        symbol: ferrex_engine::Symbol(raw_bytes(s)?),
        tick: ferrex_engine::DecimalStep { units: raw_i64(s)?, scale: small(s, 256)? },
        lot: ferrex_engine::DecimalStep { units: raw_i64(s)?, scale: small(s, 256)? },
        qty_min: Qty(raw_i64(s)?),
        qty_max: Qty(raw_i64(s)?),
        price_min: Price(raw_i64(s)?),
        price_max: Price(raw_i64(s)?),
        kind: ferrex_engine::InstrumentKind::Spot,
        base: ferrex_engine::AssetId(u32::from(small(s, 3)?)),
        quote: ferrex_engine::AssetId(u32::from(small(s, 3)?)),
        maker_fee_bps: i16::from(small(s, 30)?) - 15,
        taker_fee_bps: i16::from(small(s, 30)?) - 5,
        ..ferrex_engine::InstrumentSpec::default()
    })
}

/// Any 64-bit value, with the edges (0, 1, -1, MIN, MAX) likely.
fn raw(s: &mut dyn Source) -> Option<u64> {
    Some(match s.below(8)? {
        0 => 0,
        1 => 1,
        2 => u64::MAX,
        3 => 1 << 63,
        4 => (1 << 63) - 1,
        _ => s.below(u64::MAX)?,
    })
}

/// Truncating on purpose: any bit pattern is a valid input.
#[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)]
fn raw_i64(s: &mut dyn Source) -> Option<i64> {
    raw(s).map(|v| v as i64)
}

#[allow(clippy::cast_possible_truncation)]
fn raw_u32(s: &mut dyn Source) -> Option<u32> {
    raw(s).map(|v| v as u32)
}

fn raw_bytes<const N: usize>(s: &mut dyn Source) -> Option<[u8; N]> {
    let mut out = [0u8; N];
    let len = usize::try_from(s.below(N as u64 + 1)?).ok()?;
    for b in &mut out[..len] {
        *b = u8::try_from(s.below(256)?).ok()?;
    }
    Some(out)
}

/// A command with arbitrary field values: whatever a client could put in the bytes. Nothing here may
/// panic the engine; almost all of it is rejected, identically by engine and reference.
fn wild(s: &mut dyn Source) -> Option<Command> {
    let (user, instrument) = (UserId(raw_u32(s)?), InstrumentId(raw_u32(s)?));
    let order = if s.below(2)? == 0 {
        OrderRef::Id(OrderId(raw(s)?))
    } else {
        OrderRef::Client(ClientOrderId(raw_bytes(s)?))
    };
    Some(match s.below(5)? {
        0 => Command::Place(Place {
            user,
            instrument,
            client_order_id: ClientOrderId(raw_bytes(s)?),
            side: if s.below(2)? == 0 { Side::Buy } else { Side::Sell },
            order_type: if s.below(2)? == 0 { OrderType::Limit } else { OrderType::Market },
            price: if s.below(2)? == 0 { None } else { Some(Price(raw_i64(s)?)) },
            qty: Qty(raw_i64(s)?),
            time_in_force: [TimeInForce::Gtc, TimeInForce::Ioc, TimeInForce::Fok]
                [usize::try_from(s.below(3)?).ok()?],
            post_only: s.below(2)? == 0,
            self_trade: SelfTradePrevention::CancelBoth,
            levels_max: raw_u32(s)?,
            quote_budget: [0, -1, i64::MIN, 5_000][usize::try_from(s.below(4)?).ok()?],
            reduce_only: s.below(8)? == 0,
            // The differential engine's time stays 0: any expiry is in the future.
            expire_ns: [0, 0, 1, u64::MAX][usize::try_from(s.below(4)?).ok()?],
            // Conditional orders are outside the reference's model (tests/tests/money.rs covers them).
            trigger: None,
        }),
        1 => Command::Cancel(Cancel { user, instrument, order }),
        2 => Command::Amend(Amend {
            user,
            instrument,
            order,
            price: Price(raw_i64(s)?),
            qty: Qty(raw_i64(s)?),
            trigger_price: if s.below(4)? == 0 { Some(Price(raw_i64(s)?)) } else { None },
        }),
        3 => Command::MassCancel(MassCancel { user, instrument: Some(instrument) }),
        _ => Command::AddInstrument { actor: UserId(u32::try_from(s.below(6)?).ok()?), spec: wild_spec(s)? },
    })
}

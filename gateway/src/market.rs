//! Market data and user data from the engine's events, in Binance's stream formats.
//!
//! Messages are built only for topics someone listens to (a diff's range still advances when
//! nobody does, so the first diff a new listener gets starts right after the last one built).
//!
//! - `<symbol>@depth`: `depthUpdate` diffs (absolute quantities per price, 0 = gone) with update
//!   ids `U` (first) and `u` (last) in the journal's sequence space: each diff of an instrument
//!   starts right after the previous one (`U = previous u + 1`), so a client syncs exactly as with
//!   Binance: take the `depth` snapshot (`lastUpdateId`), drop diffs with `u <= lastUpdateId`,
//!   apply from the one with `U <= lastUpdateId + 1 <= u`. One diff per instrument per batch of
//!   outputs the gateway reads (changes within it are conflated to the last quantity per price).
//! - `<symbol>@trade`: one `trade` event per fill.
//! - `<symbol>@bookTicker`: the best bid and ask whenever either changes (from a mirror of each
//!   book the gateway keeps from the same `Level` events, seeded from a full depth query).
//! - the user data stream: `executionReport` for the user's orders (new, trade, canceled,
//!   expired) and `outboundAccountPosition` for balance changes.
//!
//! Invariants: every message is built once and shared by every subscriber; the mirror equals the
//! engine's book at every batch boundary (the engine reports every level change).

use std::collections::BTreeMap;

use crate::tags::TagMap;

use ferrex_engine::runtime::message::{Answer, Item, Output};
use ferrex_engine::{CancelReason, Event, InstrumentId, Price, Qty, Side, TimeInForce, UserId};
use serde_json::{Value, json};

use crate::config::Validated;
use crate::decimal;

/// What a connection can subscribe to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Topic {
    /// Depth diffs of an instrument (index into the market's instruments).
    Depth(usize),
    /// Trades of an instrument.
    Trade(usize),
    /// Best bid and offer of an instrument.
    BookTicker(usize),
    /// A user's executions and balances.
    User(u32),
}

/// The best bid and the best ask (price, quantity), if any.
type Top = (Option<(Price, Qty)>, Option<(Price, Qty)>);

/// One side of a book mirror: every level's total, and its best level, found again by a scan
/// only when the best level empties (a hash map update per level change instead of a tree's).
#[derive(Default)]
struct Levels {
    totals: TagMap<i64>,
    best: Option<(Price, Qty)>,
    /// The best level emptied; `best` is found again when asked for.
    stale: bool,
    /// Bids (the highest price is best) or asks (the lowest).
    bids: bool,
}

impl Levels {
    fn new(bids: bool) -> Levels {
        Levels { bids, ..Levels::default() }
    }

    fn better(&self, a: Price, b: Price) -> bool {
        if self.bids { a > b } else { a < b }
    }

    /// A level's new total (0: gone).
    fn set(&mut self, price: Price, qty: Qty) {
        let key = price.0.cast_unsigned();
        if qty.0 == 0 {
            self.totals.remove(&key);
        } else {
            self.totals.insert(key, qty.0);
        }
        match self.best {
            Some((best, _)) if best == price => {
                if qty.0 == 0 {
                    self.stale = true;
                } else {
                    self.best = Some((price, qty));
                }
            }
            Some((best, _)) if qty.0 > 0 && !self.stale && self.better(price, best) => {
                self.best = Some((price, qty));
            }
            None if qty.0 > 0 && !self.stale => self.best = Some((price, qty)),
            _ => {}
        }
    }

    /// The best level, if any.
    fn top(&mut self) -> Option<(Price, Qty)> {
        if self.stale {
            self.stale = false;
            let prices = self.totals.iter().map(|(&p, &q)| (Price(p.cast_signed()), Qty(q)));
            self.best = if self.bids { prices.max_by_key(|l| l.0) } else { prices.min_by_key(|l| l.0) };
        }
        self.best
    }
}

struct Book {
    bids: Levels,
    asks: Levels,
    /// The last update id published (a journal sequence).
    last_u: u64,
    /// The latest trades (newest last), at most `TRADES_KEPT`.
    trades: std::collections::VecDeque<Value>,
    /// Changes since the last flush: (side, price) -> new total.
    changes: BTreeMap<(u8, Price), Qty>,
    /// The last sequence that changed the book since the last flush.
    changed_through: u64,
    top: Top,
}

/// Trades kept per instrument for `trades.recent`.
pub const TRADES_KEPT: usize = 1000;

/// The market data state of the gateway.
pub struct MarketData {
    books: Vec<Book>,
    /// Live orders' sides and client ids, for execution reports (order id -> (side, tif)).
    orders: BTreeMap<u64, (Side, TimeInForce)>,
}

/// A message for a topic.
pub type Message = (Topic, String);

impl MarketData {
    /// Empty books for `instruments` instruments, as of sequence `sequence`.
    pub fn new(instruments: usize, sequence: u64) -> MarketData {
        let books = (0..instruments)
            .map(|_| Book {
                bids: Levels::new(true),
                asks: Levels::new(false),
                last_u: sequence,
                trades: std::collections::VecDeque::new(),
                changes: BTreeMap::new(),
                changed_through: 0,
                top: (None, None),
            })
            .collect();
        MarketData { books, orders: BTreeMap::new() }
    }

    /// Seeds a book from a full depth answer (its outputs) taken at `sequence`.
    pub fn seed(&mut self, instrument: usize, outputs: &[Output]) {
        let book = &mut self.books[instrument];
        for output in outputs {
            book.last_u = output.sequence;
            if let Item::Answer(Answer::Level { side, price, qty }) = output.item {
                let levels = if side == Side::Buy { &mut book.bids } else { &mut book.asks };
                levels.set(price, qty);
            }
        }
        book.top = (book.bids.top(), book.asks.top());
    }

    fn index(market: &Validated, instrument: InstrumentId) -> Option<usize> {
        market.instruments.iter().position(|l| l.id == instrument)
    }

    /// Takes one output: updates the mirror, and appends immediate messages (trades, user data)
    /// stamped `time_ms`.
    /// Messages are built only for topics `wants` says someone listens to (the mirror and the
    /// recent trades are kept either way).
    pub fn observe(
        &mut self,
        market: &Validated,
        output: &Output,
        (time_ms, wants): (u64, &dyn Fn(Topic) -> bool),
        out: &mut Vec<Message>,
    ) {
        let Item::Event(event) = output.item else { return };
        match event {
            Event::Level { instrument, side, price, qty } => {
                let Some(i) = Self::index(market, instrument) else { return };
                let book = &mut self.books[i];
                let levels = if side == Side::Buy { &mut book.bids } else { &mut book.asks };
                levels.set(price, qty);
                if wants(Topic::Depth(i)) {
                    book.changes.insert((side as u8, price), qty);
                }
                book.changed_through = output.sequence;
            }
            Event::Fill(fill) => self.fill(market, output, &fill, (time_ms, wants), out),
            Event::Accepted(accepted) => {
                if !wants(Topic::User(accepted.user.0)) {
                    return;
                }
                let Some(i) = Self::index(market, accepted.instrument) else { return };
                let listed = &market.instruments[i];
                self.orders.insert(accepted.order.0, (accepted.side, accepted.time_in_force));
                let report = json!({
                    "e": "executionReport", "s": listed.symbol, "i": accepted.order.0, "S": side_name(accepted.side),
                    "x": "NEW", "X": "NEW",
                    "p": accepted.price.map_or_else(|| "0".into(), |p| decimal::format_steps(p.0, listed.spec.tick)),
                    "q": decimal::format_steps(accepted.qty.0, listed.spec.lot), "u": output.sequence,
                });
                out.push((Topic::User(accepted.user.0), user_event(report)));
            }
            Event::Cancelled { order, user, instrument, qty, reason } => {
                let known = self.orders.remove(&order.0);
                if !wants(Topic::User(user.0)) {
                    return;
                }
                let Some(i) = Self::index(market, instrument) else { return };
                let listed = &market.instruments[i];
                // An order accepted before its owner subscribed: its side is not known here.
                let tif = known.map_or(TimeInForce::Gtc, |k| k.1);
                let expired = reason == CancelReason::Expired
                    || (reason == CancelReason::Unfilled && tif != TimeInForce::Gtc);
                let kind = if expired { "EXPIRED" } else { "CANCELED" };
                let mut report = json!({
                    "e": "executionReport", "s": listed.symbol, "i": order.0,
                    "x": kind, "X": kind, "cancelledQty": decimal::format_steps(qty.0, listed.spec.lot),
                    "u": output.sequence,
                });
                if let Some((side, _)) = known {
                    report["S"] = json!(side_name(side));
                }
                out.push((Topic::User(user.0), user_event(report)));
            }
            Event::Done { order, .. } => {
                self.orders.remove(&order.0);
            }
            Event::Balance { user, asset, available, held } => {
                if !wants(Topic::User(user.0)) {
                    return;
                }
                let Some((symbol, scale)) = market.assets.get(asset.0 as usize) else { return };
                let data = json!({
                    "e": "outboundAccountPosition", "u": output.sequence,
                    "B": [{"a": symbol, "f": decimal::format_units(available, *scale), "l": decimal::format_units(held, *scale)}],
                });
                out.push((Topic::User(user.0), user_event(data)));
            }
            _ => {}
        }
    }

    /// A fill: the recent trades, the trade stream, both sides' execution reports.
    fn fill(
        &mut self,
        market: &Validated,
        output: &Output,
        fill: &ferrex_engine::Fill,
        (time_ms, wants): (u64, &dyn Fn(Topic) -> bool),
        out: &mut Vec<Message>,
    ) {
        let Some(i) = Self::index(market, fill.instrument) else { return };
        let listed = &market.instruments[i];
        let data = json!({
            "e": "trade", "E": time_ms, "s": listed.symbol, "t": fill.trade.0,
            "p": decimal::format_steps(fill.price.0, listed.spec.tick),
            "q": decimal::format_steps(fill.qty.0, listed.spec.lot),
            "b": if fill.aggressor == Side::Buy { fill.taker_order.0 } else { fill.maker_order.0 },
            "a": if fill.aggressor == Side::Sell { fill.taker_order.0 } else { fill.maker_order.0 },
            "m": fill.aggressor == Side::Sell, "u": output.sequence,
        });
        let book = &mut self.books[i];
        if book.trades.len() == TRADES_KEPT {
            book.trades.pop_front();
        }
        book.trades.push_back(json!({
            "id": fill.trade.0, "price": data["p"], "qty": data["q"], "time": time_ms,
            "isBuyerMaker": fill.aggressor == Side::Sell,
        }));
        if wants(Topic::Trade(i)) {
            out.push((
                Topic::Trade(i),
                stream(&format!("{}@trade", listed.symbol.to_ascii_lowercase()), data),
            ));
        }
        let maker_side = if fill.aggressor == Side::Buy { Side::Sell } else { Side::Buy };
        for (user, order, maker, side) in [
            (fill.maker_user, fill.maker_order, true, maker_side),
            (fill.taker_user, fill.taker_order, false, fill.aggressor),
        ] {
            if !wants(Topic::User(user.0)) {
                continue;
            }
            let report = json!({
                "e": "executionReport", "s": listed.symbol, "i": order.0, "S": side_name(side),
                "x": "TRADE", "l": decimal::format_steps(fill.qty.0, listed.spec.lot),
                "L": decimal::format_steps(fill.price.0, listed.spec.tick), "t": fill.trade.0, "m": maker,
                "u": output.sequence,
            });
            out.push((Topic::User(user.0), user_event(report)));
        }
    }

    /// At the end of a batch: one depth diff per changed book, and the best bid and offer where
    /// the top changed. `time_ms` stamps the events.
    pub fn flush(
        &mut self,
        market: &Validated,
        (time_ms, wants): (u64, &dyn Fn(Topic) -> bool),
        out: &mut Vec<Message>,
    ) {
        for (i, book) in self.books.iter_mut().enumerate() {
            if book.changed_through <= book.last_u {
                continue;
            }
            let listed = &market.instruments[i];
            if wants(Topic::Depth(i)) && !book.changes.is_empty() {
                let level = |(_, price): &(u8, Price), qty: &Qty| {
                    json!([
                        decimal::format_steps(price.0, listed.spec.tick),
                        decimal::format_steps(qty.0, listed.spec.lot)
                    ])
                };
                let bids: Vec<Value> = book
                    .changes
                    .iter()
                    .filter(|(k, _)| k.0 == Side::Buy as u8)
                    .map(|(k, q)| level(k, q))
                    .collect();
                let asks: Vec<Value> = book
                    .changes
                    .iter()
                    .filter(|(k, _)| k.0 == Side::Sell as u8)
                    .map(|(k, q)| level(k, q))
                    .collect();
                let data = json!({"e": "depthUpdate", "E": time_ms, "s": listed.symbol, "U": book.last_u + 1,
                              "u": book.changed_through, "b": bids, "a": asks});
                out.push((
                    Topic::Depth(i),
                    stream(&format!("{}@depth", listed.symbol.to_ascii_lowercase()), data),
                ));
            }
            book.last_u = book.changed_through;
            book.changes.clear();
            let top = (book.bids.top(), book.asks.top());
            if top != book.top {
                book.top = top;
                let price = |l: Option<(Price, Qty)>| {
                    l.map_or_else(|| "0".into(), |(p, _)| decimal::format_steps(p.0, listed.spec.tick))
                };
                let qty = |l: Option<(Price, Qty)>| {
                    l.map_or_else(|| "0".into(), |(_, q)| decimal::format_steps(q.0, listed.spec.lot))
                };
                let data = json!({"u": book.last_u, "s": listed.symbol, "b": price(top.0), "B": qty(top.0),
                                  "a": price(top.1), "A": qty(top.1)});
                if wants(Topic::BookTicker(i)) {
                    out.push((
                        Topic::BookTicker(i),
                        stream(&format!("{}@bookTicker", listed.symbol.to_ascii_lowercase()), data),
                    ));
                }
            }
        }
    }

    /// `ticker.book`: the best bid and ask of one instrument.
    pub fn ticker(&self, market: &Validated, instrument: usize) -> Value {
        let listed = &market.instruments[instrument];
        let (bid, ask) = self.books[instrument].top;
        let price = |l: Option<(Price, Qty)>| {
            l.map_or_else(|| "0".into(), |(p, _)| decimal::format_steps(p.0, listed.spec.tick))
        };
        let qty = |l: Option<(Price, Qty)>| {
            l.map_or_else(|| "0".into(), |(_, q)| decimal::format_steps(q.0, listed.spec.lot))
        };
        json!({"symbol": listed.symbol, "bidPrice": price(bid), "bidQty": qty(bid), "askPrice": price(ask), "askQty": qty(ask)})
    }

    /// `trades.recent`: up to `limit` latest trades of an instrument since the server started,
    /// oldest first.
    pub fn recent_trades(&self, instrument: usize, limit: usize) -> Value {
        let trades = &self.books[instrument].trades;
        Value::Array(trades.iter().skip(trades.len().saturating_sub(limit)).cloned().collect())
    }

    /// The update id the book of `instrument` was last published at.
    pub fn last_update_id(&self, instrument: usize) -> u64 {
        self.books[instrument].last_u
    }
}

fn side_name(side: Side) -> &'static str {
    if side == Side::Buy { "BUY" } else { "SELL" }
}

fn stream(name: &str, data: Value) -> String {
    let mut message = serde_json::Map::new();
    message.insert("stream".into(), Value::String(name.to_string()));
    message.insert("data".into(), data);
    Value::Object(message).to_string()
}

fn user_event(event: Value) -> String {
    let mut message = serde_json::Map::new();
    message.insert("subscriptionId".into(), json!(0));
    message.insert("event".into(), event);
    Value::Object(message).to_string()
}

/// The topic a stream name names (`BTC-USDT@depth`, case-insensitive symbol), if any.
pub fn topic(market: &Validated, name: &str) -> Option<Topic> {
    let (symbol, kind) = name.split_once('@')?;
    let i = market.instruments.iter().position(|l| l.symbol.eq_ignore_ascii_case(symbol))?;
    match kind {
        "depth" => Some(Topic::Depth(i)),
        "trade" => Some(Topic::Trade(i)),
        "bookTicker" => Some(Topic::BookTicker(i)),
        _ => None,
    }
}

/// The user a user data topic is for.
pub fn user_topic(user: UserId) -> Topic {
    Topic::User(user.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use ferrex_engine::runtime::message::Origin;

    #[test]
    fn a_side_mirror_finds_the_same_best_level_as_a_sorted_map() {
        // Seeded random level changes near a mid, checked against a BTreeMap after each one.
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        for bids in [true, false] {
            let mut levels = Levels::new(bids);
            let mut model = BTreeMap::new();
            for step in 0..20_000 {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                let price = Price(1_000 + i64::try_from(rng % 40).unwrap());
                let qty = Qty(if rng.is_multiple_of(3) { 0 } else { i64::try_from(rng % 7).unwrap() + 1 });
                levels.set(price, qty);
                if qty.0 == 0 {
                    model.remove(&price);
                } else {
                    model.insert(price, qty);
                }
                // Asked now and then, as at the end of a batch: several changes may come between.
                if rng.is_multiple_of(4) {
                    let expected = if bids { model.iter().next_back() } else { model.iter().next() };
                    assert_eq!(levels.top(), expected.map(|(p, q)| (*p, *q)), "step {step}, bids {bids}");
                }
            }
        }
    }

    fn level(sequence: u64, side: Side, price: i64, qty: i64) -> Output {
        let event = Event::Level {
            instrument: ferrex_engine::InstrumentId(0),
            side,
            price: Price(price),
            qty: Qty(qty),
        };
        Output { sequence, origin: Origin::default(), item: Item::Event(event) }
    }

    #[test]
    fn depth_diffs_are_contiguous_conflated_and_built_only_for_listeners() {
        let market = Config::demo().validate().expect("demo");
        let mut data = MarketData::new(market.instruments.len(), 10);
        let nobody = |_: Topic| false;
        let everyone = |_: Topic| true;
        let mut out = Vec::new();
        // Nobody listens: no message, but the range advances.
        data.observe(&market, &level(11, Side::Buy, 100, 5), (0, &nobody), &mut out);
        data.flush(&market, (0, &nobody), &mut out);
        assert!(out.is_empty());
        assert_eq!(data.last_update_id(0), 11);
        // A listener: one diff for the batch, starting right after the last range, the two
        // changes at one price conflated to the last quantity.
        for output in
            [level(12, Side::Buy, 100, 7), level(13, Side::Sell, 105, 2), level(14, Side::Buy, 100, 0)]
        {
            data.observe(&market, &output, (0, &everyone), &mut out);
        }
        data.flush(&market, (0, &everyone), &mut out);
        let diffs: Vec<Value> = out
            .iter()
            .filter(|(topic, _)| *topic == Topic::Depth(0))
            .map(|(_, text)| serde_json::from_str::<Value>(text).expect("JSON")["data"].clone())
            .collect();
        assert_eq!(diffs.len(), 1);
        assert_eq!((diffs[0]["U"].as_u64(), diffs[0]["u"].as_u64()), (Some(12), Some(14)));
        assert_eq!(diffs[0]["b"], json!([["1.00", "0.0000"]]));
        assert_eq!(diffs[0]["a"], json!([["1.05", "0.0002"]]));
        // The mirror: the bid is gone, the ask is the top.
        let ticker = data.ticker(&market, 0);
        assert_eq!((ticker["bidPrice"].clone(), ticker["askPrice"].clone()), (json!("0"), json!("1.05")));
    }
}

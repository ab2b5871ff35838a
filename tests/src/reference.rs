//! The reference engine: the test oracle, written to be obviously correct rather than fast.
//!
//! All resting orders sit in one `Vec`; priority is a global insertion counter; every question (best
//! price, next maker, level total, live client id, free slot) is answered by a linear scan. FOK is
//! decided by a real trial match on a clone. It shares no code with the engine beyond the public
//! command and event types, and follows the rules written in the engine's docs:
//! - validation order: user, instrument, client id bytes, quantity, order-type rules, price,
//!   duplicate client id, order id space, capacity (order slot, then level), post-only, then the
//!   reduce-only (perpetuals only: every instrument here is spot), then the spot budget rules (a
//!   budget only on a market IOC buy; a market buy needs a budget or a price);
//! - money is not modelled beyond quote budgets (which bound how many lots a market buy takes):
//!   tests fund every user far beyond what orders can cost; admin commands other than `AddAsset` and
//!   `AddInstrument` are accepted silently (their events are not compared);
//! - order id = acceptance sequence << 24 | lowest free slot (`ORDER_SLOT_NONE` for non-resting);
//! - event order as in `ferrex_engine::event`.

use ferrex_engine::types::{ORDER_SEQUENCE_MAX, ORDER_SLOT_NONE};
use ferrex_engine::{
    Accepted, Amend, Cancel, CancelReason, ClientOrderId, Command, EngineConfig, Event, Fill, InstrumentId,
    InstrumentSpec, MassCancel, OrderId, OrderRef, OrderType, Place, Price, Qty, RejectCode, RestingOrder,
    SelfTradePrevention, Side, TimeInForce, TradeId, UserId,
};

#[derive(Clone, Copy, Debug)]
struct RefOrder {
    id: OrderId,
    user: UserId,
    instrument: InstrumentId,
    side: Side,
    price: Price,
    qty: Qty,
    client_order_id: ClientOrderId,
    self_trade: SelfTradePrevention,
    post_only: bool,
    /// Queue priority: smaller is earlier.
    time: u64,
}

#[derive(Clone, Copy, Debug)]
struct RefTaker {
    id: OrderId,
    user: UserId,
    instrument: InstrumentId,
    side: Side,
    limit: Option<Price>,
    qty: Qty,
    self_trade: SelfTradePrevention,
    levels_max: u32,
    /// Quote notional it may still spend (market buys with a budget).
    budget_left: Option<i64>,
    /// Quote minor units per tick and lot of its instrument.
    unit: i64,
}

impl RefTaker {
    /// Lots it may take at `price`: all it has open, or what its budget still buys.
    fn lots_at(&self, price: Price) -> i64 {
        match self.budget_left {
            None => self.qty.0,
            Some(left) => self.qty.0.min(left / (price.0 * self.unit)),
        }
    }
}

/// The reference engine.
#[derive(Clone, Debug)]
pub struct RefEngine {
    config: EngineConfig,
    instruments: Vec<InstrumentSpec>,
    trades: Vec<u64>,
    orders: Vec<RefOrder>,
    accepted: u64,
    time: u64,
    /// Scales of the listed assets.
    asset_scales: Vec<u8>,
    /// Quote minor units per tick and lot, per instrument.
    units: Vec<i64>,
}

type Outcome = Result<(), RejectCode>;

impl RefEngine {
    /// An empty reference with the engine's limits.
    pub fn new(config: EngineConfig) -> RefEngine {
        RefEngine {
            config,
            instruments: Vec::new(),
            trades: Vec::new(),
            orders: Vec::new(),
            accepted: 0,
            time: 0,
            asset_scales: Vec::new(),
            units: Vec::new(),
        }
    }

    /// Applies one command, appending its events.
    pub fn apply(&mut self, command: &Command, out: &mut Vec<Event>) {
        let mut events = Vec::new();
        let (user, result) = match command {
            Command::AddAsset { spec, .. } => {
                if spec.symbol.is_valid() && spec.scale <= 18 {
                    self.asset_scales.push(spec.scale);
                }
                (UserId(0), Ok(()))
            }
            Command::AddInstrument { actor, spec } => (*actor, self.add(*actor, spec, &mut events)),
            Command::CreateTenant { actor, .. }
            | Command::CreateUser { actor, .. }
            | Command::AdminHold { actor, .. }
            | Command::SetUserSuspended { actor, .. }
            | Command::SetInstrumentHalted { actor, .. }
            | Command::SetMarkPrice { actor, .. }
            | Command::SetInstrumentLimits { actor, .. }
            | Command::SetUserLimits { actor, .. }
            | Command::ApplyFunding { actor, .. }
            | Command::ClosePosition { user: actor, .. }
            | Command::Transfer(ferrex_engine::Transfer { actor, .. }) => (*actor, Ok(())),
            Command::Place(p) => (p.user, self.place(p, &mut events)),
            Command::Cancel(c) => (c.user, self.cancel(c, &mut events)),
            Command::Amend(a) => (a.user, self.amend(a, &mut events)),
            Command::MassCancel(m) => (m.user, self.mass_cancel(m, &mut events)),
        };
        match result {
            Ok(()) => out.extend(events),
            Err(code) => out.push(Event::Rejected { user, code }),
        }
    }

    /// Resting orders of an instrument: bids best first, then asks best first, each in queue order.
    pub fn book_orders(&self, instrument: InstrumentId) -> Vec<RestingOrder> {
        let mut orders: Vec<&RefOrder> = self.orders.iter().filter(|o| o.instrument == instrument).collect();
        orders.sort_by_key(|o| {
            let price_rank = if o.side == Side::Buy { -o.price.0 } else { o.price.0 };
            (o.side, price_rank, o.time)
        });
        orders
            .into_iter()
            .map(|o| RestingOrder {
                order: o.id,
                user: o.user,
                side: o.side,
                price: o.price,
                qty: o.qty,
                client_order_id: o.client_order_id,
            })
            .collect()
    }

    /// Number of listed instruments.
    pub fn instruments_len(&self) -> usize {
        self.instruments.len()
    }

    /// Money rules of a listing: both assets exist, tick times lot and the lot are whole minor
    /// units, and the largest notional stays within `NOTIONAL_MAX`.
    fn check_money(&self, spec: &InstrumentSpec) -> Result<i64, RejectCode> {
        let scale = |asset: ferrex_engine::AssetId| {
            self.asset_scales.get(asset.0 as usize).map(|s| i32::from(*s)).ok_or(RejectCode::UnknownAsset)
        };
        let (base_scale, quote_scale) = (scale(spec.base)?, scale(spec.quote)?);
        // units * 10^exponent, which must come out whole (a negative exponent must divide exactly).
        let unit = |units: i128, exponent: i32| -> Option<i128> {
            let value = if exponent >= 0 {
                units.checked_mul(10i128.checked_pow(u32::try_from(exponent).ok()?)?)?
            } else {
                let divisor = 10i128.checked_pow(exponent.unsigned_abs())?;
                if units % divisor != 0 {
                    return None;
                }
                units / divisor
            };
            Some(value).filter(|u| *u >= 1 && *u <= i128::from(i64::MAX))
        };
        let tick_lot = i128::from(spec.tick.units).checked_mul(i128::from(spec.lot.units));
        let quote = tick_lot
            .and_then(|tl| unit(tl, quote_scale - i32::from(spec.tick.scale) - i32::from(spec.lot.scale)));
        let base = unit(i128::from(spec.lot.units), base_scale - i32::from(spec.lot.scale));
        let (Some(quote), Some(base)) = (quote, base) else {
            return Err(RejectCode::InvalidInstrumentSpec);
        };
        let limit = i128::from(ferrex_engine::types::NOTIONAL_MAX);
        if spec.base == spec.quote
            || (i128::from(spec.price_max.0) * i128::from(spec.qty_max.0))
                .checked_mul(quote)
                .is_none_or(|n| n > limit)
            || i128::from(spec.qty_max.0) * base > limit
        {
            return Err(RejectCode::InvalidInstrumentSpec);
        }
        Ok(i64::try_from(quote).expect("checked"))
    }

    fn add(&mut self, actor: UserId, spec: &InstrumentSpec, out: &mut Vec<Event>) -> Outcome {
        if actor.0 >= self.config.users_max {
            return Err(RejectCode::UnknownUser);
        }
        if actor.0 != 0 {
            return Err(RejectCode::NotAuthorized);
        }
        if !spec.is_valid() {
            return Err(RejectCode::InvalidInstrumentSpec);
        }
        let unit = self.check_money(spec)?;
        if self.instruments.iter().any(|s| s.symbol == spec.symbol) {
            return Err(RejectCode::DuplicateSymbol);
        }
        if self.instruments.len() >= self.config.instruments_max as usize {
            return Err(RejectCode::InstrumentsFull);
        }
        self.instruments.push(*spec);
        self.trades.push(0);
        self.units.push(unit);
        let id = InstrumentId(u32::try_from(self.instruments.len() - 1).unwrap());
        out.push(Event::InstrumentAdded { instrument: id, symbol: spec.symbol });
        Ok(())
    }

    fn spec(&self, user: UserId, instrument: InstrumentId) -> Result<InstrumentSpec, RejectCode> {
        if user.0 >= self.config.users_max {
            return Err(RejectCode::UnknownUser);
        }
        self.instruments.get(instrument.0 as usize).copied().ok_or(RejectCode::UnknownInstrument)
    }

    fn check_qty(spec: &InstrumentSpec, qty: Qty) -> Outcome {
        match qty {
            q if q.0 <= 0 => Err(RejectCode::InvalidQuantity),
            q if q < spec.qty_min => Err(RejectCode::QuantityBelowMin),
            q if q > spec.qty_max => Err(RejectCode::QuantityAboveMax),
            _ => Ok(()),
        }
    }

    fn check_price(spec: &InstrumentSpec, price: Price) -> Outcome {
        match price {
            p if p < spec.price_min => Err(RejectCode::PriceBelowMin),
            p if p > spec.price_max => Err(RejectCode::PriceAboveMax),
            _ => Ok(()),
        }
    }

    fn live_client_id(&self, user: UserId, client_order_id: &ClientOrderId) -> Option<usize> {
        if client_order_id.is_empty() {
            return None;
        }
        self.orders.iter().position(|o| o.user == user && o.client_order_id == *client_order_id)
    }

    fn lowest_free_slot(&self) -> Option<u32> {
        (0..self.config.orders_max).find(|&s| self.orders.iter().all(|o| o.id.slot() != s))
    }

    fn levels_in_use(&self) -> usize {
        let mut levels: Vec<(InstrumentId, Side, Price)> =
            self.orders.iter().map(|o| (o.instrument, o.side, o.price)).collect();
        levels.sort();
        levels.dedup();
        levels.len()
    }

    fn best_price(&self, instrument: InstrumentId, side: Side) -> Option<Price> {
        let prices =
            self.orders.iter().filter(|o| o.instrument == instrument && o.side == side).map(|o| o.price);
        match side {
            Side::Buy => prices.max(),
            Side::Sell => prices.min(),
        }
    }

    fn would_take(&self, instrument: InstrumentId, side: Side, price: Price) -> bool {
        self.best_price(instrument, side.opposite()).is_some_and(|best| side.crosses(price, best))
    }

    fn level_total(&self, instrument: InstrumentId, side: Side, price: Price) -> Qty {
        Qty(self
            .orders
            .iter()
            .filter(|o| o.instrument == instrument && o.side == side && o.price == price)
            .map(|o| o.qty.0)
            .sum())
    }

    fn level_event(&self, instrument: InstrumentId, side: Side, price: Price) -> Event {
        Event::Level { instrument, side, price, qty: self.level_total(instrument, side, price) }
    }

    fn check_place(&self, p: &Place) -> Result<u32, RejectCode> {
        let spec = self.spec(p.user, p.instrument)?;
        if !p.client_order_id.is_valid() {
            return Err(RejectCode::InvalidClientOrderId);
        }
        Self::check_qty(&spec, p.qty)?;
        match p.order_type {
            OrderType::Limit if p.price.is_none() || p.levels_max != 0 => {
                return Err(RejectCode::InvalidProtection);
            }
            OrderType::Limit if p.post_only && p.time_in_force != TimeInForce::Gtc => {
                return Err(RejectCode::InvalidTimeInForce);
            }
            // Good-till-date is a GTC limit order with an expiry (time never advances here).
            OrderType::Limit if p.expire_ns != 0 && p.time_in_force != TimeInForce::Gtc => {
                return Err(RejectCode::InvalidTimeInForce);
            }
            OrderType::Market if p.time_in_force == TimeInForce::Gtc || p.post_only || p.expire_ns != 0 => {
                return Err(RejectCode::InvalidTimeInForce);
            }
            OrderType::Market if p.price.is_none() && p.levels_max == 0 && p.quote_budget <= 0 => {
                return Err(RejectCode::MarketWithoutProtection);
            }
            _ => {}
        }
        if let Some(price) = p.price {
            Self::check_price(&spec, price)?;
        }
        if self.live_client_id(p.user, &p.client_order_id).is_some() {
            return Err(RejectCode::DuplicateClientOrderId);
        }
        if self.accepted >= ORDER_SEQUENCE_MAX {
            return Err(RejectCode::OrderIdsExhausted);
        }
        let mut slot = ORDER_SLOT_NONE;
        if p.order_type == OrderType::Limit && p.time_in_force == TimeInForce::Gtc {
            slot = self.lowest_free_slot().ok_or(RejectCode::OrdersFull)?;
            if self.levels_in_use() >= self.config.levels_max as usize {
                return Err(RejectCode::LevelsFull);
            }
        }
        if p.post_only && self.would_take(p.instrument, p.side, p.price.unwrap()) {
            return Err(RejectCode::PostOnlyWouldTake);
        }
        if p.reduce_only {
            // Reduce-only is for perpetuals; the reference lists spot instruments only.
            return Err(RejectCode::NotPerpetual);
        }
        if p.quote_budget != 0 {
            let usable = p.order_type == OrderType::Market
                && p.side == Side::Buy
                && p.time_in_force == TimeInForce::Ioc
                && p.quote_budget > 0
                && p.quote_budget <= ferrex_engine::types::NOTIONAL_MAX;
            if !usable {
                return Err(RejectCode::InvalidBudget);
            }
        } else if p.side == Side::Buy && p.price.is_none() {
            return Err(RejectCode::MarketBuyWithoutBudget);
        }
        Ok(slot)
    }

    fn place(&mut self, p: &Place, out: &mut Vec<Event>) -> Outcome {
        let slot = self.check_place(p)?;
        self.accepted += 1;
        let id = OrderId::new(self.accepted, slot);
        out.push(Event::Accepted(Accepted {
            order: id,
            user: p.user,
            instrument: p.instrument,
            side: p.side,
            order_type: p.order_type,
            time_in_force: p.time_in_force,
            price: p.price,
            qty: p.qty,
            self_trade: p.self_trade,
            trigger: None,
        }));
        let mut taker = RefTaker {
            id,
            user: p.user,
            instrument: p.instrument,
            side: p.side,
            limit: p.price,
            qty: p.qty,
            self_trade: p.self_trade,
            levels_max: if p.order_type == OrderType::Market { p.levels_max } else { 0 },
            budget_left: (p.quote_budget > 0).then_some(p.quote_budget),
            unit: self.units[p.instrument.0 as usize],
        };
        if p.time_in_force == TimeInForce::Fok {
            let mut trial = self.clone();
            let mut trial_taker = taker;
            trial.match_taker(&mut trial_taker, &mut Vec::new());
            if trial_taker.qty.0 > 0 {
                out.push(cancelled(&taker, CancelReason::FillOrKill));
                return Ok(());
            }
        }
        let stopped = self.match_taker(&mut taker, out);
        if taker.qty.0 == 0 {
            out.push(Event::Done { order: id, user: p.user, instrument: p.instrument });
        } else if stopped {
            out.push(cancelled(&taker, CancelReason::SelfTrade));
        } else if slot == ORDER_SLOT_NONE {
            out.push(cancelled(&taker, CancelReason::Unfilled));
        } else {
            self.rest(&taker, p.client_order_id, p.post_only, out);
        }
        Ok(())
    }

    fn rest(
        &mut self,
        taker: &RefTaker,
        client_order_id: ClientOrderId,
        post_only: bool,
        out: &mut Vec<Event>,
    ) {
        self.time += 1;
        let price = taker.limit.unwrap();
        self.orders.push(RefOrder {
            id: taker.id,
            user: taker.user,
            instrument: taker.instrument,
            side: taker.side,
            price,
            qty: taker.qty,
            client_order_id,
            self_trade: taker.self_trade,
            post_only,
            time: self.time,
        });
        out.push(self.level_event(taker.instrument, taker.side, price));
    }

    /// Returns true when self-trade prevention stopped the taker.
    fn match_taker(&mut self, taker: &mut RefTaker, out: &mut Vec<Event>) -> bool {
        let maker_side = taker.side.opposite();
        let mut levels_started = 0;
        while taker.qty.0 > 0 {
            let Some(price) = self.best_price(taker.instrument, maker_side) else {
                break;
            };
            if taker.limit.is_some_and(|limit| !taker.side.crosses(limit, price)) {
                break;
            }
            if taker.levels_max != 0 && levels_started == taker.levels_max || taker.lots_at(price) == 0 {
                break;
            }
            levels_started += 1;
            let stopped = self.take_level(taker, price, out);
            out.push(self.level_event(taker.instrument, maker_side, price));
            if stopped {
                return true;
            }
        }
        false
    }

    fn take_level(&mut self, taker: &mut RefTaker, price: Price, out: &mut Vec<Event>) -> bool {
        let maker_side = taker.side.opposite();
        while taker.lots_at(price) > 0 {
            let next = (0..self.orders.len())
                .filter(|&i| {
                    let o = &self.orders[i];
                    o.instrument == taker.instrument && o.side == maker_side && o.price == price
                })
                .min_by_key(|&i| self.orders[i].time);
            let Some(i) = next else { return false };
            let maker = self.orders[i];
            if maker.user == taker.user && taker.self_trade != SelfTradePrevention::None {
                if taker.self_trade != SelfTradePrevention::CancelTaker {
                    self.orders.remove(i);
                    out.push(Event::Cancelled {
                        order: maker.id,
                        user: maker.user,
                        instrument: maker.instrument,
                        qty: maker.qty,
                        reason: CancelReason::SelfTrade,
                    });
                }
                if taker.self_trade == SelfTradePrevention::CancelMaker {
                    continue;
                }
                return true;
            }
            let qty = maker.qty.0.min(taker.lots_at(price));
            taker.qty.0 -= qty;
            if let Some(left) = &mut taker.budget_left {
                *left -= qty * price.0 * taker.unit;
            }
            self.orders[i].qty.0 -= qty;
            let trades = &mut self.trades[taker.instrument.0 as usize];
            *trades += 1;
            out.push(Event::Fill(Fill {
                trade: TradeId(*trades),
                instrument: taker.instrument,
                maker_order: maker.id,
                maker_user: maker.user,
                taker_order: taker.id,
                taker_user: taker.user,
                price,
                qty: Qty(qty),
                maker_qty_left: self.orders[i].qty,
                aggressor: taker.side,
            }));
            if self.orders[i].qty.0 == 0 {
                self.orders.remove(i);
                out.push(Event::Done { order: maker.id, user: maker.user, instrument: maker.instrument });
            }
        }
        false
    }

    fn find(&self, user: UserId, instrument: InstrumentId, order: &OrderRef) -> Result<usize, RejectCode> {
        let index = match order {
            OrderRef::Id(id) => self.orders.iter().position(|o| o.id == *id && o.user == user),
            OrderRef::Client(client_order_id) => {
                if !client_order_id.is_valid() {
                    return Err(RejectCode::InvalidClientOrderId);
                }
                self.live_client_id(user, client_order_id)
            }
        };
        index.filter(|&i| self.orders[i].instrument == instrument).ok_or(RejectCode::UnknownOrder)
    }

    fn remove_cancelled(&mut self, index: usize, reason: CancelReason, out: &mut Vec<Event>) {
        let o = self.orders.remove(index);
        out.push(Event::Cancelled {
            order: o.id,
            user: o.user,
            instrument: o.instrument,
            qty: o.qty,
            reason,
        });
        out.push(self.level_event(o.instrument, o.side, o.price));
    }

    fn cancel(&mut self, c: &Cancel, out: &mut Vec<Event>) -> Outcome {
        self.spec(c.user, c.instrument)?;
        let index = self.find(c.user, c.instrument, &c.order)?;
        self.remove_cancelled(index, CancelReason::Requested, out);
        Ok(())
    }

    fn mass_cancel(&mut self, m: &MassCancel, out: &mut Vec<Event>) -> Outcome {
        if m.user.0 >= self.config.users_max {
            return Err(RejectCode::UnknownUser);
        }
        if let Some(instrument) = m.instrument {
            self.spec(m.user, instrument)?;
        }
        let mut ids: Vec<OrderId> = self
            .orders
            .iter()
            .filter(|o| o.user == m.user && m.instrument.is_none_or(|i| i == o.instrument))
            .map(|o| o.id)
            .collect();
        ids.sort();
        for id in &ids {
            let index = self.orders.iter().position(|o| o.id == *id).unwrap();
            self.remove_cancelled(index, CancelReason::MassCancel, out);
        }
        let count = u32::try_from(ids.len()).unwrap();
        out.push(Event::MassCancelled { user: m.user, instrument: m.instrument, count });
        Ok(())
    }

    fn amend(&mut self, a: &Amend, out: &mut Vec<Event>) -> Outcome {
        let spec = self.spec(a.user, a.instrument)?;
        let index = self.find(a.user, a.instrument, &a.order)?;
        Self::check_qty(&spec, a.qty)?;
        Self::check_price(&spec, a.price)?;
        if a.trigger_price.is_some() {
            // Only conditional orders have a trigger, and none rest here.
            return Err(RejectCode::InvalidTrigger);
        }
        let o = self.orders[index];
        let amended = |priority_kept| Event::Amended {
            order: o.id,
            user: o.user,
            instrument: o.instrument,
            price: a.price,
            qty: a.qty,
            priority_kept,
        };
        if a.price == o.price {
            if a.qty == o.qty {
                return Err(RejectCode::AmendNoChange);
            }
            let kept = a.qty < o.qty;
            out.push(amended(kept));
            self.orders[index].qty = a.qty;
            if !kept {
                self.time += 1;
                self.orders[index].time = self.time;
            }
            out.push(self.level_event(o.instrument, o.side, o.price));
            return Ok(());
        }
        if o.post_only && self.would_take(o.instrument, o.side, a.price) {
            return Err(RejectCode::PostOnlyWouldTake);
        }
        if self.levels_in_use() >= self.config.levels_max as usize {
            return Err(RejectCode::LevelsFull);
        }
        out.push(amended(false));
        self.orders.remove(index);
        out.push(self.level_event(o.instrument, o.side, o.price));
        let mut taker = RefTaker {
            id: o.id,
            user: o.user,
            instrument: o.instrument,
            side: o.side,
            limit: Some(a.price),
            qty: a.qty,
            self_trade: o.self_trade,
            levels_max: 0,
            budget_left: None,
            unit: self.units[o.instrument.0 as usize],
        };
        let stopped = self.match_taker(&mut taker, out);
        if taker.qty.0 == 0 {
            out.push(Event::Done { order: o.id, user: o.user, instrument: o.instrument });
        } else if stopped {
            out.push(cancelled(&taker, CancelReason::SelfTrade));
        } else {
            self.rest(&taker, o.client_order_id, o.post_only, out);
        }
        Ok(())
    }
}

fn cancelled(taker: &RefTaker, reason: CancelReason) -> Event {
    Event::Cancelled {
        order: taker.id,
        user: taker.user,
        instrument: taker.instrument,
        qty: taker.qty,
        reason,
    }
}

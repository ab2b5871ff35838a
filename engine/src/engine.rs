//! The engine: validation and the handlers of each command.
//!
//! Invariants (checked by `check_invariants`, see invariants.rs):
//! - a refused command changes nothing: every handler validates fully before its first write
//!   (money included: holds and margin are checked before anything moves);
//! - every taken arena slot holds exactly one resting order, which is in exactly one level queue, in
//!   its user's list and, when it has a client order id, in the client index;
//! - a resting order's hold (in its record) is exactly what it can still cost (spot.rs); a resting
//!   perpetual order's margin and open quantity are reserved (perp.rs);
//! - no book is crossed at rest.
//!
//! Validation order (`docs/REJECT_CODES.md`): the command's own fields, then the user's and the
//! instrument's state, then the book, then limits (limits.rs), then money (holds or margin).
//! Complexity per command: place O(levels taken + fills + log L); cancel O(1) plus O(log L) when it
//! empties its level; amend as cancel plus place; mass cancel O(orders of the user + conditionals).
//! Memory is allocated in `Engine::new` and `AddInstrument` only; a book side's level arrays, price
//! index and trigger lists grow (amortised) past their reservation only when they get deeper than
//! ever before. `UserOrders::count` serves the per-user open-order limit.

use std::collections::BTreeMap;

use crate::book::{Book, LevelPool, Links, NIL, Order, UserOrders};
use crate::client_index::ClientIndex;
use crate::command::{Amend, Cancel, Command, MassCancel, OrderRef, Place};
use crate::conditional::{Conditional, TriggerLists};
use crate::event::{CancelReason, Event};
use crate::expiry::ExpiryHeap;
use crate::ledger::Ledger;
use crate::limits::{Ask, InstrumentLimits};
use crate::matching::Taker;
use crate::money::{ColdFunds, FeeRates, Funds, base_unit, notional, quote_unit};
use crate::perp::{MarginUse, Position};
use crate::reject::RejectCode;
use crate::slots::SlotBitmap;
use crate::spot::Market;
use crate::types::{
    ClientOrderId, InstrumentId, InstrumentKind, InstrumentSpec, NOTIONAL_MAX, ORDER_SEQUENCE_MAX,
    ORDER_SLOT_NONE, OrderId, OrderType, Price, Qty, Side, Symbol, TimeInForce, UserId,
};

/// Capacity limits, fixed for the life of an engine. All memory is sized from these.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EngineConfig {
    /// Resting orders across all books; at most 2^24 - 2.
    pub orders_max: u32,
    /// Price levels across all books and sides; at most 2^26.
    pub levels_max: u32,
    /// Instruments; at most 2^20.
    pub instruments_max: u32,
    /// Users; user ids are `0..users_max`; at most 2^24.
    pub users_max: u32,
    /// Levels reserved per book side when an instrument is added (a side grows past it if needed);
    /// at most 2^16.
    pub side_levels_reserved: u32,
    /// Seed of the client order id index's hash (part of the configuration, so still deterministic).
    pub hash_seed: u64,
    /// Tenants; tenant ids are `0..tenants_max`; at most 2^20.
    pub tenants_max: u32,
    /// Assets; at most 2^10. Accounts take `users_max * assets_max * 16` bytes.
    pub assets_max: u32,
    /// Perpetuals; at most 256. Positions take `users_max * perpetuals_max * 48` bytes.
    pub perpetuals_max: u32,
    /// Conditional orders waiting for their trigger; at most 2^20.
    pub conditionals_max: u32,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            orders_max: 1 << 20,
            levels_max: 1 << 19,
            instruments_max: 1024,
            users_max: 1 << 16,
            side_levels_reserved: 64,
            hash_seed: 0x5eed_f3e7_c0de_0001,
            tenants_max: 1024,
            assets_max: 16,
            perpetuals_max: 8,
            conditionals_max: 1 << 14,
        }
    }
}

/// Why an [`EngineConfig`] cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A limit is zero or too large.
    #[error("{name} must be between 1 and {max}, got {value}")]
    OutOfRange {
        /// Which field.
        name: &'static str,
        /// Its value.
        value: u32,
        /// Its largest allowed value.
        max: u32,
    },
    /// `users_max * assets_max` above 2^28 accounts (4 GiB).
    #[error("users_max * assets_max must be at most 2^28")]
    TooManyAccounts,
}

/// The client index's hash of (user, client order id).
fn client_key_hash(user: UserId, client_id: &ClientOrderId, seed: u64) -> u64 {
    let mut key = [0u8; 40];
    key[..4].copy_from_slice(&user.0.to_le_bytes());
    key[4..].copy_from_slice(&client_id.0);
    xxhash_rust::xxh3::xxh3_64_with_seed(&key, seed)
}

/// A vector of `len` copies of `value`, every byte written now: `vec![0; n]` would take lazily mapped
/// zero pages from the allocator and page-fault on the hot path at first touch.
pub(crate) fn prefaulted<T: Copy>(len: usize, value: T) -> Vec<T> {
    let mut items = Vec::with_capacity(len);
    items.resize(len, value);
    items
}

fn check_range(name: &'static str, value: u32, max: u32) -> Result<(), ConfigError> {
    if value == 0 || value > max {
        return Err(ConfigError::OutOfRange { name, value, max });
    }
    Ok(())
}

/// The matching engine state machine. See the crate docs.
#[derive(Clone, Debug)]
pub struct Engine {
    pub(crate) config: EngineConfig,
    pub(crate) orders: Vec<Order>,
    /// Queue and user-list links by slot: a dense array, so unlinking a neighbour touches 16 bytes
    /// of a compact array instead of a whole order record.
    pub(crate) links: Vec<Links>,
    /// Client order ids by slot: cold data, read only for orders that have one.
    pub(crate) client_ids: Vec<ClientOrderId>,
    pub(crate) slots: SlotBitmap,
    pub(crate) levels: LevelPool,
    pub(crate) books: Vec<Book>,
    pub(crate) symbols: BTreeMap<Symbol, InstrumentId>,
    pub(crate) users: Vec<UserOrders>,
    pub(crate) client_index: ClientIndex,
    /// Orders accepted so far; the sequence part of the last order id.
    pub(crate) orders_accepted: u64,
    /// Tenants, users, assets, balances.
    pub(crate) ledger: Ledger,
    /// The money side of each instrument, by instrument id.
    pub(crate) markets: Vec<Market>,
    /// Money state of each resting order, by slot (cold: read at fills, cancels and amends).
    pub(crate) order_funds: Vec<ColdFunds>,
    /// Positions, `perpetuals_max` rows of `users_max` (perp.rs).
    pub(crate) positions: Vec<Position>,
    /// Head and tail user of each perpetual's holder list.
    pub(crate) holders: Vec<(u32, u32)>,
    /// Book index of each perpetual, in listing order.
    pub(crate) perp_books: Vec<u32>,
    /// Margin reserved by open perpetual orders, per user and settlement asset.
    pub(crate) order_margin: Vec<i64>,
    /// Margin of open positions at their marks, per user and settlement asset (a running total).
    pub(crate) position_margin: Vec<MarginUse>,
    /// Users to risk-check at the end of the command (liquidation.rs), flagged to appear once.
    pub(crate) risk_pending: Vec<u32>,
    pub(crate) risk_round: Vec<u32>,
    pub(crate) risk_flags: Vec<bool>,
    /// The sequencer's time as last carried by a command, ns (expiry.rs).
    pub(crate) now_ns: u64,
    /// Expiry of each resting order by slot, ns (0: none).
    pub(crate) order_expiry: Vec<u64>,
    /// Pending expiries, earliest first.
    pub(crate) expiries: ExpiryHeap,
    /// Conditional orders (conditional.rs): the pool, its free slots (lowest last), the trigger
    /// lists of each instrument, and the instruments whose prices moved in this command.
    pub(crate) conditionals: Vec<Conditional>,
    pub(crate) conditional_free: Vec<u32>,
    pub(crate) triggers: Vec<TriggerLists>,
    pub(crate) trigger_dirty: Vec<u32>,
    pub(crate) trigger_flags: Vec<bool>,
    /// Users with any limit set (limits.rs skips the user limits while there are none).
    pub(crate) limited_users: u32,
}

impl Engine {
    /// An empty engine with every buffer allocated.
    pub fn new(config: EngineConfig) -> Result<Engine, ConfigError> {
        check_range("orders_max", config.orders_max, ORDER_SLOT_NONE - 1)?;
        // Upper bounds keep a mistyped config from asking for terabytes: 2^26 levels are 2 GiB of
        // level pool, 2^24 users 192 MiB of list heads.
        check_range("levels_max", config.levels_max, 1 << 26)?;
        check_range("instruments_max", config.instruments_max, 1 << 20)?;
        check_range("users_max", config.users_max, 1 << 24)?;
        check_range("side_levels_reserved", config.side_levels_reserved, 1 << 16)?;
        check_range("tenants_max", config.tenants_max, 1 << 20)?;
        check_range("assets_max", config.assets_max, 1 << 10)?;
        check_range("perpetuals_max", config.perpetuals_max, 256)?;
        check_range("conditionals_max", config.conditionals_max, 1 << 20)?;
        if u64::from(config.users_max) * u64::from(config.assets_max) > 1 << 28 {
            return Err(ConfigError::TooManyAccounts);
        }
        Ok(Engine {
            config,
            orders: prefaulted(config.orders_max as usize, Order::default()),
            links: prefaulted(config.orders_max as usize, Links::default()),
            client_ids: prefaulted(config.orders_max as usize, ClientOrderId::EMPTY),
            slots: SlotBitmap::new(config.orders_max),
            levels: LevelPool::new(config.levels_max),
            books: Vec::with_capacity(config.instruments_max as usize),
            symbols: BTreeMap::new(),
            users: Self::user_lists(config.users_max),
            client_index: ClientIndex::new(config.orders_max),
            orders_accepted: 0,
            ledger: Ledger::new(config.tenants_max, config.users_max, config.assets_max),
            markets: Vec::with_capacity(config.instruments_max as usize),
            order_funds: prefaulted(config.orders_max as usize, ColdFunds::default()),
            positions: prefaulted(
                config.perpetuals_max as usize * config.users_max as usize,
                Position::default(),
            ),
            holders: Vec::with_capacity(config.perpetuals_max as usize),
            perp_books: Vec::with_capacity(config.perpetuals_max as usize),
            order_margin: prefaulted(config.users_max as usize * config.assets_max as usize, 0),
            position_margin: prefaulted(
                config.users_max as usize * config.assets_max as usize,
                MarginUse::default(),
            ),
            risk_pending: Vec::with_capacity(config.users_max as usize),
            risk_round: Vec::with_capacity(config.users_max as usize),
            risk_flags: prefaulted(config.users_max as usize, false),
            now_ns: 0,
            order_expiry: prefaulted(config.orders_max as usize, 0),
            expiries: ExpiryHeap::with_capacity(config.orders_max as usize),
            conditionals: prefaulted(config.conditionals_max as usize, Conditional::default()),
            conditional_free: (0..config.conditionals_max).rev().collect(),
            triggers: Vec::with_capacity(config.instruments_max as usize),
            trigger_dirty: Vec::with_capacity(config.instruments_max as usize),
            trigger_flags: prefaulted(config.instruments_max as usize, false),
            limited_users: 0,
        })
    }

    /// Every user's order list, empty; user 0 (the operator) exists from the start.
    fn user_lists(users_max: u32) -> Vec<UserOrders> {
        let mut users = prefaulted(users_max as usize, UserOrders::default());
        users[0].status = UserOrders::EXISTS;
        users
    }

    /// The configuration.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Applies one command stamped by the sequencer at `time_ns`: first expires the good-till-date
    /// orders due by then, then applies the command. Events go to `out` (which is not cleared).
    pub fn apply_at(&mut self, time_ns: u64, command: &Command, out: &mut Vec<Event>) {
        self.advance_time(time_ns, out);
        self.apply(command, out);
    }

    /// Applies one command at the engine's current time (see [`Engine::apply_at`]).
    pub fn apply(&mut self, command: &Command, out: &mut Vec<Event>) {
        let (user, result) = match *command {
            Command::CreateTenant { actor, tenant } => (actor, self.create_tenant(actor, tenant, out)),
            Command::CreateUser { actor, user, tenant, role } => {
                (actor, self.create_user((actor, user, tenant, role), out))
            }
            Command::AddAsset { actor, spec } => (actor, self.add_asset(actor, &spec, out)),
            Command::AddInstrument { actor, spec } => (actor, self.add_instrument(actor, &spec, out)),
            Command::Transfer(transfer) => (transfer.actor, self.transfer(&transfer, out)),
            Command::AdminHold { actor, user, asset, amount } => {
                (actor, self.admin_hold((actor, user, asset, amount), out))
            }
            Command::SetUserSuspended { actor, user, suspended } => {
                (actor, self.set_user_suspended((actor, user, suspended), out))
            }
            Command::SetInstrumentHalted { actor, instrument, halted } => {
                (actor, self.set_instrument_halted((actor, instrument, halted), out))
            }
            Command::SetMarkPrice { actor, instrument, price } => {
                (actor, self.set_mark_price((actor, instrument, price), out))
            }
            Command::ApplyFunding { actor, instrument, rate_ppm } => {
                (actor, self.apply_funding((actor, instrument, rate_ppm), out))
            }
            Command::ClosePosition { user, instrument, price } => {
                (user, self.close_position((user, instrument, price), out))
            }
            Command::SetInstrumentLimits { actor, instrument, limits } => {
                (actor, self.set_instrument_limits((actor, instrument, limits), out))
            }
            Command::SetUserLimits { actor, user, limits } => {
                (actor, self.set_user_limits((actor, user, limits), out))
            }
            Command::Place(ref place) if place.trigger.is_some() => {
                (place.user, self.place_conditional(place, out))
            }
            Command::Place(ref place) => (place.user, self.place(place, out)),
            Command::Cancel(ref cancel) => (cancel.user, self.cancel(cancel, out)),
            Command::Amend(ref amend) => (amend.user, self.amend(amend, out)),
            Command::MassCancel(ref mass) => (mass.user, self.mass_cancel(mass, out)),
        };
        if let Err(code) = result {
            out.push(Event::Rejected { user, code });
        }
        if !self.risk_pending.is_empty() {
            self.run_risk_checks(out);
        }
        if !self.trigger_dirty.is_empty() {
            self.fire_triggers(out);
        }
    }

    pub(crate) fn add_instrument(
        &mut self,
        actor: UserId,
        spec: &InstrumentSpec,
        out: &mut Vec<Event>,
    ) -> Result<(), RejectCode> {
        self.require_operator(actor)?;
        if !spec.is_valid() {
            return Err(RejectCode::InvalidInstrumentSpec);
        }
        let market = self.market_of(spec)?;
        if self.symbols.contains_key(&spec.symbol) {
            return Err(RejectCode::DuplicateSymbol);
        }
        if self.books.len() >= self.config.instruments_max as usize {
            return Err(RejectCode::InstrumentsFull);
        }
        let id = InstrumentId(u32::try_from(self.books.len()).expect("instruments_max fits u32"));
        self.books.push(Book::new(*spec, self.config.side_levels_reserved as usize));
        self.markets.push(market);
        self.triggers.push(TriggerLists::default());
        if market.kind == InstrumentKind::Perpetual {
            self.perp_books.push(id.0);
            self.holders.push((u32::MAX, u32::MAX));
        }
        self.symbols.insert(spec.symbol, id);
        out.push(Event::InstrumentAdded { instrument: id, symbol: spec.symbol });
        Ok(())
    }

    /// The money side of a spec: its assets exist and its units are exact and bounded.
    fn market_of(&self, spec: &InstrumentSpec) -> Result<Market, RejectCode> {
        let base = self.check_asset(spec.base)?.spec;
        let quote = self.check_asset(spec.quote)?.spec;
        let quote_unit =
            quote_unit(spec.tick, spec.lot, quote.scale).ok_or(RejectCode::InvalidInstrumentSpec)?;
        let base_unit = match spec.kind {
            InstrumentKind::Spot => {
                base_unit(spec.lot, base.scale).ok_or(RejectCode::InvalidInstrumentSpec)?
            }
            InstrumentKind::Perpetual => 0,
        };
        // Three factors of up to 63 bits can overflow even i128: checked, an overflow is a reject.
        let notional_max = i128::from(spec.price_max.0)
            .checked_mul(i128::from(spec.qty_max.0))
            .and_then(|v| v.checked_mul(i128::from(quote_unit)));
        let base_max = i128::from(spec.qty_max.0) * i128::from(base_unit);
        if spec.kind == InstrumentKind::Spot && spec.base == spec.quote
            || notional_max.is_none_or(|n| n > i128::from(NOTIONAL_MAX))
            || base_max > i128::from(NOTIONAL_MAX)
        {
            return Err(RejectCode::InvalidInstrumentSpec);
        }
        let perp = match spec.kind {
            InstrumentKind::Spot => u32::MAX,
            InstrumentKind::Perpetual => {
                if self.perp_books.len() >= self.config.perpetuals_max as usize {
                    return Err(RejectCode::PerpetualsFull);
                }
                u32::try_from(self.perp_books.len()).expect("perpetuals_max fits u32")
            }
        };
        Ok(Market {
            kind: spec.kind,
            base: spec.base,
            quote: spec.quote,
            quote_unit,
            base_unit,
            fees: FeeRates {
                maker_bps: i64::from(spec.maker_fee_bps),
                taker_bps: i64::from(spec.taker_fee_bps),
            },
            halted: false,
            perp,
            mark: spec.mark_price,
            initial_bps: i64::from(spec.initial_margin_bps),
            maintenance_bps: i64::from(spec.maintenance_margin_bps),
            limits: InstrumentLimits {
                position_max: if spec.kind == InstrumentKind::Perpetual { spec.qty_max.0 } else { 0 },
                ..InstrumentLimits::default()
            },
        })
    }

    /// The user exists.
    pub(crate) fn check_user(&self, user: UserId) -> Result<(), RejectCode> {
        match self.users.get(user.0 as usize) {
            Some(list) if list.status & UserOrders::EXISTS != 0 => Ok(()),
            _ => Err(RejectCode::UnknownUser),
        }
    }

    /// The user (which exists) is not suspended, and the instrument is not halted.
    fn check_may_trade(&self, user: UserId, book: usize) -> Result<(), RejectCode> {
        if self.users[user.0 as usize].status & UserOrders::SUSPENDED != 0 {
            return Err(RejectCode::UserSuspended);
        }
        if self.markets[book].halted {
            return Err(RejectCode::InstrumentHalted);
        }
        Ok(())
    }

    pub(crate) fn book_index(&self, instrument: InstrumentId) -> Result<usize, RejectCode> {
        let index = instrument.0 as usize;
        if index >= self.books.len() {
            return Err(RejectCode::UnknownInstrument);
        }
        Ok(index)
    }

    fn check_qty(spec: &InstrumentSpec, qty: Qty) -> Result<(), RejectCode> {
        if qty.0 <= 0 {
            return Err(RejectCode::InvalidQuantity);
        }
        if qty < spec.qty_min {
            return Err(RejectCode::QuantityBelowMin);
        }
        if qty > spec.qty_max {
            return Err(RejectCode::QuantityAboveMax);
        }
        Ok(())
    }

    pub(crate) fn check_price(spec: &InstrumentSpec, price: Price) -> Result<(), RejectCode> {
        if price < spec.price_min {
            return Err(RejectCode::PriceBelowMin);
        }
        if price > spec.price_max {
            return Err(RejectCode::PriceAboveMax);
        }
        Ok(())
    }

    /// The order-type rules of a placement: which price, flags and bounds go together.
    fn check_order_type(place: &Place) -> Result<(), RejectCode> {
        match place.order_type {
            OrderType::Limit => {
                if place.price.is_none() || place.levels_max != 0 {
                    return Err(RejectCode::InvalidProtection);
                }
                if place.expire_ns != 0 && place.time_in_force != TimeInForce::Gtc {
                    return Err(RejectCode::InvalidTimeInForce);
                }
                if place.post_only && place.time_in_force != TimeInForce::Gtc {
                    return Err(RejectCode::InvalidTimeInForce);
                }
            }
            OrderType::Market => {
                if place.time_in_force == TimeInForce::Gtc || place.post_only || place.expire_ns != 0 {
                    return Err(RejectCode::InvalidTimeInForce);
                }
                if place.price.is_none() && place.levels_max == 0 && place.quote_budget <= 0 {
                    return Err(RejectCode::MarketWithoutProtection);
                }
            }
        }
        Ok(())
    }

    /// The hold a new order needs (spot), checked against what the user may spend; perpetuals hold
    /// nothing but must leave the margin non-negative.
    fn place_hold(&self, book: usize, place: &Place) -> Result<i64, RejectCode> {
        let market = &self.markets[book];
        if market.kind == InstrumentKind::Perpetual {
            self.check_perp_place(book, place)?;
            return Ok(0);
        }
        if place.reduce_only {
            return Err(RejectCode::NotPerpetual);
        }
        if place.quote_budget != 0 {
            let allowed = market.kind == InstrumentKind::Spot
                && place.order_type == OrderType::Market
                && place.side == Side::Buy
                && place.time_in_force == TimeInForce::Ioc
                && place.quote_budget > 0
                && place.quote_budget <= NOTIONAL_MAX;
            if !allowed {
                return Err(RejectCode::InvalidBudget);
            }
        } else if place.side == Side::Buy && place.price.is_none() {
            return Err(RejectCode::MarketBuyWithoutBudget);
        }
        let hold =
            market.order_hold(place.side, place.price, place.qty, place.quote_budget, &Funds::default());
        if hold > self.spendable(place.user, market.held_asset(place.side)) {
            return Err(RejectCode::InsufficientBalance);
        }
        Ok(hold)
    }

    /// A perpetual order: reduce-only rules, or enough margin for it and its loss against the mark.
    fn check_perp_place(&self, book: usize, place: &Place) -> Result<(), RejectCode> {
        let market = &self.markets[book];
        if place.quote_budget != 0 {
            return Err(RejectCode::InvalidBudget);
        }
        let position = self.position(book, place.user).qty;
        if place.reduce_only {
            let reduces = match place.side {
                Side::Buy => position < 0 && place.qty.0 <= -position,
                Side::Sell => position > 0 && place.qty.0 <= position,
            };
            let rests = place.order_type == OrderType::Limit && place.time_in_force == TimeInForce::Gtc;
            if !reduces || rests {
                return Err(RejectCode::ReduceOnlyRejected);
            }
            return Ok(());
        }
        let price = place.price.unwrap_or(market.mark);
        let loss_ticks = match place.side {
            Side::Buy => price.0 - market.mark.0,
            Side::Sell => market.mark.0 - price.0,
        };
        let loss = notional(Price(loss_ticks.max(0)), place.qty, market.quote_unit);
        if market.order_margin(price, place.qty) + loss > self.spendable(place.user, market.quote) {
            return Err(RejectCode::InsufficientMargin);
        }
        Ok(())
    }

    /// Closes a perpetual position with a reduce-only IOC market order.
    fn close_position(
        &mut self,
        (user, instrument, price): (UserId, InstrumentId, Option<Price>),
        out: &mut Vec<Event>,
    ) -> Result<(), RejectCode> {
        self.check_user(user)?;
        let book = self.book_index(instrument)?;
        if self.markets[book].kind != InstrumentKind::Perpetual {
            return Err(RejectCode::NotPerpetual);
        }
        let position = self.position(book, user).qty;
        if position == 0 {
            return Err(RejectCode::NoPosition);
        }
        let spec = &self.books[book].spec;
        let side = if position > 0 { Side::Sell } else { Side::Buy };
        let bound = match side {
            Side::Buy => spec.price_max,
            Side::Sell => spec.price_min,
        };
        let place = Place {
            user,
            instrument,
            side,
            order_type: OrderType::Market,
            price: Some(price.unwrap_or(bound)),
            qty: Qty(position.abs()),
            time_in_force: TimeInForce::Ioc,
            reduce_only: true,
            ..Place::default()
        };
        self.place(&place, out)
    }

    /// Validates a placement; returns the book index, the slot the order would rest in and its hold.
    pub(crate) fn validate_place(&self, place: &Place) -> Result<(usize, u32, i64), RejectCode> {
        self.check_user(place.user)?;
        let book = self.book_index(place.instrument)?;
        if !place.client_order_id.is_valid() {
            return Err(RejectCode::InvalidClientOrderId);
        }
        let spec = &self.books[book].spec;
        Self::check_qty(spec, place.qty)?;
        Self::check_order_type(place)?;
        if place.expire_ns != 0 && place.expire_ns <= self.now_ns {
            return Err(RejectCode::ExpiryInPast);
        }
        if let Some(price) = place.price {
            Self::check_price(spec, price)?;
        }
        self.check_may_trade(place.user, book)?;
        if !place.client_order_id.is_empty()
            && self.find_client_order(place.user, &place.client_order_id).is_some()
        {
            return Err(RejectCode::DuplicateClientOrderId);
        }
        if self.orders_accepted >= ORDER_SEQUENCE_MAX {
            return Err(RejectCode::OrderIdsExhausted);
        }
        let rests = place.order_type == OrderType::Limit && place.time_in_force == TimeInForce::Gtc;
        let slot = if rests {
            let slot = self.slots.lowest_free().ok_or(RejectCode::OrdersFull)?;
            if self.levels.free() == 0 {
                return Err(RejectCode::LevelsFull);
            }
            slot
        } else {
            ORDER_SLOT_NONE
        };
        if place.post_only && self.would_take(book, place.side, place.price.expect("checked: limit")) {
            return Err(RejectCode::PostOnlyWouldTake);
        }
        self.check_limits(book, &Ask::of_place(place))?;
        let hold = self.place_hold(book, place)?;
        Ok((book, slot, hold))
    }

    pub(crate) fn place(&mut self, place: &Place, out: &mut Vec<Event>) -> Result<(), RejectCode> {
        let (book, slot, hold) = self.validate_place(place)?;
        self.orders_accepted += 1;
        let id = OrderId::new(self.orders_accepted, slot);
        debug_assert!(place.trigger.is_none(), "conditionals are placed by place_conditional");
        out.push(Event::Accepted(Self::accepted(id, place)));
        let market = self.markets[book];
        if hold > 0 {
            self.ledger.hold(place.user, market.held_asset(place.side), hold);
        }
        let mut taker = Taker::from_place(id, place, market.quote_unit);
        taker.funds.held = hold;
        if place.time_in_force == TimeInForce::Fok && !self.can_fill(book, &taker) {
            out.push(Self::taker_cancelled(&taker, CancelReason::FillOrKill));
            self.release_funds(book, place.user, place.side, &mut taker.funds);
            self.push_held_balance(book, place.user, place.side, out);
            return Ok(());
        }
        // A limit order that does not cross (the common passive add) skips the matcher entirely.
        let crosses = place.order_type == OrderType::Market
            || self.would_take(book, place.side, place.price.expect("checked: limit"));
        let trades_before = self.books[book].trades;
        let self_trade_stop = crosses && self.match_taker(book, &mut taker, out);
        let traded = self.books[book].trades != trades_before;
        if taker.qty.0 == 0 {
            out.push(Event::Done { order: id, user: place.user, instrument: place.instrument });
        } else if self_trade_stop {
            out.push(Self::taker_cancelled(&taker, CancelReason::SelfTrade));
        } else if slot == ORDER_SLOT_NONE {
            out.push(Self::taker_cancelled(&taker, CancelReason::Unfilled));
        } else {
            self.slots.take(slot);
            let flags = (u8::from(place.post_only) * Order::POST_ONLY)
                | (u8::from(!place.client_order_id.is_empty()) * Order::CLIENT_ID)
                | (u8::from(place.expire_ns != 0) * Order::EXPIRY);
            self.orders[slot as usize] = Order {
                id,
                price: place.price.expect("checked: limit"),
                qty: taker.qty,
                held: 0,
                user: place.user,
                instrument: place.instrument,
                level: NIL,
                side: place.side,
                self_trade: place.self_trade,
                flags,
            };
            self.store_resting_funds(slot, taker.funds);
            taker.funds.held = 0;
            if !place.client_order_id.is_empty() {
                // Cold array: written (and read) only for orders that have a client id.
                self.client_ids[slot as usize] = place.client_order_id;
            }
            self.attach_owner(slot);
            self.enqueue(book, slot, out);
            self.reserve_if_perp(slot);
            self.schedule_expiry(slot, place.expire_ns);
        }
        self.release_funds(book, place.user, place.side, &mut taker.funds);
        self.push_balances_after(book, place.user, place.side, traded, out);
        Ok(())
    }

    fn taker_cancelled(taker: &Taker, reason: CancelReason) -> Event {
        Event::Cancelled {
            order: taker.id,
            user: taker.user,
            instrument: taker.instrument,
            qty: taker.qty,
            reason,
        }
    }

    /// Finds a live order of `user` on `instrument`; returns its slot.
    fn resolve(&self, user: UserId, instrument: InstrumentId, order: &OrderRef) -> Result<u32, RejectCode> {
        let slot = match order {
            OrderRef::Id(id) => self.live_slot(*id),
            OrderRef::Client(client_id) => {
                if !client_id.is_valid() {
                    return Err(RejectCode::InvalidClientOrderId);
                }
                self.find_client_order(user, client_id)
            }
        };
        match slot {
            Some(slot)
                if self.orders[slot as usize].user == user
                    && self.orders[slot as usize].instrument == instrument =>
            {
                Ok(slot)
            }
            _ => Err(RejectCode::UnknownOrder),
        }
    }

    fn cancel(&mut self, cancel: &Cancel, out: &mut Vec<Event>) -> Result<(), RejectCode> {
        self.check_user(cancel.user)?;
        let book = self.book_index(cancel.instrument)?;
        match self.resolve(cancel.user, cancel.instrument, &cancel.order) {
            Ok(slot) => self.cancel_resting(book, slot, CancelReason::Requested, out),
            Err(RejectCode::UnknownOrder) => {
                let at = self
                    .find_conditional(cancel.user, book, &cancel.order)
                    .ok_or(RejectCode::UnknownOrder)?;
                self.cancel_conditional(book, at, CancelReason::Requested, out);
            }
            Err(code) => return Err(code),
        }
        Ok(())
    }

    fn mass_cancel(&mut self, mass: &MassCancel, out: &mut Vec<Event>) -> Result<(), RejectCode> {
        self.check_user(mass.user)?;
        if let Some(instrument) = mass.instrument {
            self.book_index(instrument)?;
        }
        let mut count = 0u32;
        let mut slot = self.users[mass.user.0 as usize].head;
        while slot != NIL {
            let next = self.links[slot as usize].user_next;
            let instrument = self.orders[slot as usize].instrument;
            if mass.instrument.is_none_or(|i| i == instrument) {
                self.cancel_resting(instrument.0 as usize, slot, CancelReason::MassCancel, out);
                count += 1;
            }
            slot = next;
        }
        let only = mass.instrument;
        count += self.cancel_conditionals_of(
            mass.user,
            |_, book| only.is_none_or(|i| i.0 as usize == book),
            CancelReason::MassCancel,
            out,
        );
        out.push(Event::MassCancelled { user: mass.user, instrument: mass.instrument, count });
        Ok(())
    }

    /// Cancels a resting order and reports its level.
    pub(crate) fn cancel_resting(
        &mut self,
        book: usize,
        slot: u32,
        reason: CancelReason,
        out: &mut Vec<Event>,
    ) {
        let order = self.orders[slot as usize];
        self.dequeue(slot);
        self.detach_owner(slot);
        out.push(Event::Cancelled {
            order: order.id,
            user: order.user,
            instrument: order.instrument,
            qty: order.qty,
            reason,
        });
        self.report_level(book, order.level, order.side, out);
        self.push_held_balance(book, order.user, order.side, out);
    }

    fn amend(&mut self, amend: &Amend, out: &mut Vec<Event>) -> Result<(), RejectCode> {
        self.check_user(amend.user)?;
        let book = self.book_index(amend.instrument)?;
        let resolved = self.resolve(amend.user, amend.instrument, &amend.order);
        let conditional = match resolved {
            Err(RejectCode::UnknownOrder) => self.find_conditional(amend.user, book, &amend.order),
            _ => None,
        };
        let slot = if conditional.is_some() { 0 } else { resolved? };
        let spec = &self.books[book].spec;
        Self::check_qty(spec, amend.qty)?;
        Self::check_price(spec, amend.price)?;
        self.check_may_trade(amend.user, book)?;
        if let Some(at) = conditional {
            return self.amend_conditional(book, at, amend, out);
        }
        if amend.trigger_price.is_some() {
            return Err(RejectCode::InvalidTrigger);
        }
        let order = self.orders[slot as usize];
        if amend.price == order.price && amend.qty == order.qty {
            return Err(RejectCode::AmendNoChange);
        }
        if amend.price != order.price {
            if order.post_only() && self.would_take(book, order.side, amend.price) {
                return Err(RejectCode::PostOnlyWouldTake);
            }
            if self.levels.free() == 0 {
                return Err(RejectCode::LevelsFull);
            }
        }
        let ask = Ask {
            user: order.user,
            side: order.side,
            price: Some(amend.price),
            qty: amend.qty,
            budget: 0,
            rests: false,
            reduce_only: false,
            counted_qty: order.qty.0,
        };
        self.check_limits(book, &ask)?;
        let hold = self.amend_hold(book, slot, amend)?;
        let perp = self.markets[book].kind == InstrumentKind::Perpetual;
        let hold_changed = !perp && hold != order.held;
        // A perpetual order that will rest without trading moves its reservation in one step;
        // one that may trade gives it up now and takes a new one if it still rests afterwards.
        let rests_untouched =
            perp && (amend.price == order.price || !self.would_take(book, order.side, amend.price));
        if rests_untouched {
            self.rereserve_perp(slot, hold, amend.qty);
        } else {
            self.rehold(book, slot, hold);
        }
        let trades_before = self.books[book].trades;
        if amend.price == order.price {
            self.amend_in_level(slot, amend.qty, out);
            self.report_level(book, order.level, order.side, out);
        } else {
            out.push(Self::amended(&order, amend.price, amend.qty, false));
            self.dequeue(slot);
            self.report_level(book, order.level, order.side, out);
            self.reprice(book, slot, amend.price, amend.qty, out);
        }
        if perp && !rests_untouched && !self.slots.is_free(slot) && self.orders[slot as usize].id == order.id
        {
            self.reserve_if_perp(slot);
        }
        let traded = self.books[book].trades != trades_before;
        if traded || hold_changed {
            self.push_balances_after(book, amend.user, order.side, traded, out);
        }
        Ok(())
    }

    /// A resting order's money state: its hold (in the order record) and, where the instrument
    /// tracks them (perpetuals, instruments with fees), its margin and traded notionals. Without
    /// fees those are never read, so zero-fee spot orders never touch the cold array.
    pub(crate) fn resting_funds(&self, slot: u32) -> Funds {
        let order = &self.orders[slot as usize];
        let tracked = self.markets[order.instrument.0 as usize].tracks_funds();
        let cold = if tracked { self.order_funds[slot as usize] } else { ColdFunds::default() };
        Funds {
            held: order.held,
            margin: cold.margin,
            taker_notional: cold.taker_notional,
            maker_notional: cold.maker_notional,
        }
    }

    /// Stores a resting order's money state (see `resting_funds`).
    pub(crate) fn store_resting_funds(&mut self, slot: u32, funds: Funds) {
        let order = &mut self.orders[slot as usize];
        order.held = funds.held;
        if self.markets[order.instrument.0 as usize].tracks_funds() {
            self.order_funds[slot as usize] = ColdFunds {
                margin: funds.margin,
                taker_notional: funds.taker_notional,
                maker_notional: funds.maker_notional,
            };
        }
    }

    /// Reserves a resting perpetual order's margin and open quantity.
    pub(crate) fn reserve_if_perp(&mut self, slot: u32) {
        let order = self.orders[slot as usize];
        let market = self.markets[order.instrument.0 as usize];
        if market.kind == InstrumentKind::Perpetual {
            let margin = market.order_margin(order.price, order.qty);
            self.order_funds[slot as usize].margin = margin;
            self.reserve_perp_order(slot, margin, 1);
        }
    }

    /// Moves a resting perpetual order's reservation to its new margin and open quantity in one
    /// step (before the order record changes: it still holds the old quantity).
    fn rereserve_perp(&mut self, slot: u32, margin: i64, qty: Qty) {
        let order = self.orders[slot as usize];
        let book = order.instrument.0 as usize;
        let market = &self.markets[book];
        let index = self.ledger_index(order.user, market.quote);
        let funds = &mut self.order_funds[slot as usize];
        self.order_margin[index] += margin - funds.margin;
        funds.margin = margin;
        let position_index = self.position_index(market.perp, order.user);
        let position = &mut self.positions[position_index];
        match order.side {
            Side::Buy => position.open_buy += qty.0 - order.qty.0,
            Side::Sell => position.open_sell += qty.0 - order.qty.0,
        }
    }

    /// Drops a perpetual order's reservation (orders that reserve have a positive margin).
    fn unreserve_if_perp(&mut self, slot: u32) {
        if self.markets[self.orders[slot as usize].instrument.0 as usize].kind != InstrumentKind::Perpetual {
            return;
        }
        let margin = self.order_funds[slot as usize].margin;
        if margin > 0 {
            self.reserve_perp_order(slot, margin, -1);
            self.order_funds[slot as usize].margin = 0;
        }
    }

    /// The hold of an amended order, checked against what is available besides its current hold
    /// (perpetuals: its margin, checked against the margin left besides its current one).
    fn amend_hold(&self, book: usize, slot: u32, amend: &Amend) -> Result<i64, RejectCode> {
        let market = &self.markets[book];
        let order = &self.orders[slot as usize];
        let funds = &self.resting_funds(slot);
        if market.kind == InstrumentKind::Perpetual {
            let loss_ticks = match order.side {
                Side::Buy => amend.price.0 - market.mark.0,
                Side::Sell => market.mark.0 - amend.price.0,
            };
            let loss =
                if loss_ticks > 0 { notional(Price(loss_ticks), amend.qty, market.quote_unit) } else { 0 };
            let margin = market.order_margin(amend.price, amend.qty);
            let need = margin + loss - funds.margin;
            if need > 0 && need > self.spendable(order.user, market.quote) {
                return Err(RejectCode::InsufficientMargin);
            }
            // Perpetuals hold nothing: the value is the order's new margin, for `rereserve_perp`.
            return Ok(margin);
        }
        let hold = market.order_hold(order.side, Some(amend.price), amend.qty, 0, funds);
        // Only a larger hold needs money that is not held already.
        if hold > funds.held && hold - funds.held > self.spendable(order.user, market.held_asset(order.side))
        {
            return Err(RejectCode::InsufficientBalance);
        }
        Ok(hold)
    }

    /// Sets a resting order's hold, moving the difference between available and held
    /// (perpetuals: drops its reservation; `reserve_if_perp` makes the new one once it rests).
    fn rehold(&mut self, book: usize, slot: u32, hold: i64) {
        if self.markets[book].kind == InstrumentKind::Perpetual {
            self.unreserve_if_perp(slot);
            return;
        }
        if hold == self.orders[slot as usize].held {
            return;
        }
        let order = self.orders[slot as usize];
        let asset = self.markets[book].held_asset(order.side);
        let delta = hold - order.held;
        self.orders[slot as usize].held = hold;
        if delta >= 0 {
            self.ledger.hold(order.user, asset, delta);
        } else {
            self.ledger.release(order.user, asset, -delta);
        }
    }

    fn amended(order: &Order, price: Price, qty: Qty, priority_kept: bool) -> Event {
        Event::Amended {
            order: order.id,
            user: order.user,
            instrument: order.instrument,
            price,
            qty,
            priority_kept,
        }
    }

    /// Same price: a decrease keeps the order's place, an increase sends it to the back.
    fn amend_in_level(&mut self, slot: u32, qty: Qty, out: &mut Vec<Event>) {
        let order = self.orders[slot as usize];
        let keep = qty < order.qty;
        out.push(Self::amended(&order, order.price, qty, keep));
        let level = &mut self.levels.levels[order.level as usize];
        level.total = Qty(level.total.0 - order.qty.0 + qty.0);
        self.orders[slot as usize].qty = qty;
        if !keep && level.tail != slot {
            self.unlink_from_queue(slot);
            self.append_to_queue(order.level, slot);
        }
    }

    /// A dequeued order at a new price: it takes what it crosses, then rests, completes or is
    /// cancelled by self-trade prevention.
    fn reprice(&mut self, book: usize, slot: u32, price: Price, qty: Qty, out: &mut Vec<Event>) {
        let order = &mut self.orders[slot as usize];
        order.price = price;
        order.qty = qty;
        let order = *order;
        if !self.would_take(book, order.side, price) {
            // The common move: nothing to take, straight to its new level.
            self.enqueue(book, slot, out);
            return;
        }
        let quote_unit = self.markets[book].quote_unit;
        let mut taker = Taker::from_resting(&order, quote_unit, self.resting_funds(slot));
        let self_trade_stop = self.match_taker(book, &mut taker, out);
        self.orders[slot as usize].qty = taker.qty;
        self.store_resting_funds(slot, taker.funds);
        if taker.qty.0 == 0 {
            self.detach_owner(slot);
            out.push(Event::Done { order: order.id, user: order.user, instrument: order.instrument });
        } else if self_trade_stop {
            self.detach_owner(slot);
            out.push(Self::taker_cancelled(&taker, CancelReason::SelfTrade));
        } else {
            self.enqueue(book, slot, out);
        }
    }

    /// True when an order on `side` at `price` would trade on arrival.
    pub(crate) fn would_take(&self, book: usize, side: Side, price: Price) -> bool {
        let opposite = self.books[book].side(side.opposite());
        opposite.best().is_some_and(|level| side.crosses(price, self.levels.levels[level as usize].price))
    }

    /// The live order of `user` with this (non-empty) client order id.
    pub(crate) fn find_client_order(&self, user: UserId, client_id: &ClientOrderId) -> Option<u32> {
        let hash = self.client_hash(user, client_id);
        self.client_index.find(hash, |slot| {
            self.orders[slot as usize].user == user && self.client_ids[slot as usize] == *client_id
        })
    }

    pub(crate) fn client_hash(&self, user: UserId, client_id: &ClientOrderId) -> u64 {
        client_key_hash(user, client_id, self.config.hash_seed)
    }

    fn slot_client_hash(&self, slot: u32) -> u64 {
        self.client_hash(self.orders[slot as usize].user, &self.client_ids[slot as usize])
    }

    /// Adds a freshly filled slot to its user's list and the client index.
    pub(crate) fn attach_owner(&mut self, slot: u32) {
        let order = self.orders[slot as usize];
        let user = &mut self.users[order.user.0 as usize];
        let tail = user.tail;
        user.tail = slot;
        user.count += 1;
        if tail == NIL {
            user.head = slot;
        } else {
            self.links[tail as usize].user_next = slot;
        }
        let links = &mut self.links[slot as usize];
        (links.user_prev, links.user_next) = (tail, NIL);
        if order.has_client_id() {
            let hash = self.slot_client_hash(slot);
            self.client_index.insert(hash, slot);
        }
    }

    /// Removes a dequeued order from its user's list and the client index, releases what it still
    /// holds and frees its slot.
    pub(crate) fn detach_owner(&mut self, slot: u32) {
        self.unreserve_if_perp(slot);
        let order = self.orders[slot as usize];
        let mut funds = Funds { held: order.held, ..Funds::default() };
        self.release_funds(order.instrument.0 as usize, order.user, order.side, &mut funds);
        self.orders[slot as usize].held = 0;
        if order.has_client_id() {
            let hash = self.slot_client_hash(slot);
            let (orders, client_ids, seed) = (&self.orders, &self.client_ids, self.config.hash_seed);
            self.client_index.remove(hash, slot, |s| {
                client_key_hash(orders[s as usize].user, &client_ids[s as usize], seed)
            });
        }
        let Links { user_prev, user_next, .. } = self.links[slot as usize];
        if user_prev == NIL {
            self.users[order.user.0 as usize].head = user_next;
        } else {
            self.links[user_prev as usize].user_next = user_next;
        }
        if user_next == NIL {
            self.users[order.user.0 as usize].tail = user_prev;
        } else {
            self.links[user_next as usize].user_prev = user_prev;
        }
        self.users[order.user.0 as usize].count -= 1;
        self.slots.release(slot);
    }

    /// Appends a slot whose price and quantity are set to the tail of its level (creating the level).
    fn enqueue(&mut self, book: usize, slot: u32, out: &mut Vec<Event>) {
        let Order { side, price, qty, .. } = self.orders[slot as usize];
        let book_side = self.books[book].side_mut(side);
        let level = if let Some(level) = book_side.level_of(price, &self.levels) {
            level
        } else {
            let level = self.levels.alloc(price);
            book_side.insert(price, level, &self.levels);
            level
        };
        self.append_to_queue(level, slot);
        let level = &mut self.levels.levels[level as usize];
        level.total = Qty(level.total.0 + qty.0);
        out.push(Event::Level {
            instrument: self.orders[slot as usize].instrument,
            side,
            price,
            qty: level.total,
        });
    }

    pub(crate) fn append_to_queue(&mut self, level_index: u32, slot: u32) {
        let level = &mut self.levels.levels[level_index as usize];
        let tail = level.tail;
        level.tail = slot;
        level.count += 1;
        if tail == NIL {
            level.head = slot;
        } else {
            self.links[tail as usize].next = slot;
        }
        self.orders[slot as usize].level = level_index;
        let links = &mut self.links[slot as usize];
        (links.prev, links.next) = (tail, NIL);
    }

    fn unlink_from_queue(&mut self, slot: u32) {
        let Links { prev, next, .. } = self.links[slot as usize];
        let level = &mut self.levels.levels[self.orders[slot as usize].level as usize];
        if prev == NIL {
            level.head = next;
        } else {
            self.links[prev as usize].next = next;
        }
        if next == NIL {
            level.tail = prev;
        } else {
            self.links[next as usize].prev = prev;
        }
        level.count -= 1;
    }

    /// Takes an order out of its level queue, removing its open quantity from the level total. The
    /// level may be left empty: `report_level` or the matcher removes it.
    pub(crate) fn dequeue(&mut self, slot: u32) {
        self.unlink_from_queue(slot);
        let order = self.orders[slot as usize];
        let level = &mut self.levels.levels[order.level as usize];
        level.total = Qty(level.total.0 - order.qty.0);
    }

    /// Emits a level's total and removes the level when it is empty.
    pub(crate) fn report_level(&mut self, book: usize, level_index: u32, side: Side, out: &mut Vec<Event>) {
        let level = self.levels.levels[level_index as usize];
        out.push(Event::Level {
            instrument: InstrumentId(u32::try_from(book).expect("book index fits u32")),
            side,
            price: level.price,
            qty: level.total,
        });
        if level.count == 0 {
            self.books[book].side_mut(side).remove(level.price, &self.levels);
            self.levels.release(level_index);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{DecimalStep, ORDER_SEQUENCE_MAX};

    fn engine_with_instrument() -> Engine {
        let mut engine =
            Engine::new(EngineConfig { orders_max: 8, levels_max: 8, ..EngineConfig::default() }).unwrap();
        let operator = UserId(0);
        for (symbol, scale) in [("USDT", 2), ("T", 0)] {
            let spec = crate::types::AssetSpec { symbol: Symbol::new(symbol).unwrap(), scale };
            engine.apply(&Command::AddAsset { actor: operator, spec }, &mut Vec::new());
        }
        let create = Command::CreateUser {
            actor: operator,
            user: UserId(1),
            tenant: crate::types::TenantId(0),
            role: crate::types::Role::Trader,
        };
        engine.apply(&create, &mut Vec::new());
        let deposit = crate::command::Transfer {
            actor: operator,
            account: crate::command::AccountRef::User(UserId(1)),
            asset: crate::types::AssetId(0),
            tx: crate::types::TxId(1),
            amount: 1_000_000,
        };
        engine.apply(&Command::Transfer(deposit), &mut Vec::new());
        let spec = InstrumentSpec {
            symbol: Symbol::new("T").unwrap(),
            tick: DecimalStep { units: 1, scale: 0 },
            lot: DecimalStep { units: 1, scale: 0 },
            qty_min: Qty(1),
            qty_max: Qty(100),
            price_min: Price(1),
            price_max: Price(100),
            base: crate::types::AssetId(1),
            quote: crate::types::AssetId(0),
            ..InstrumentSpec::default()
        };
        let mut events = Vec::new();
        engine.apply(&Command::AddInstrument { actor: operator, spec }, &mut events);
        assert!(matches!(events[..], [Event::InstrumentAdded { .. }]), "{events:?}");
        engine
    }

    fn buy(price: i64) -> Command {
        Command::Place(Place {
            user: UserId(1),
            instrument: InstrumentId(0),
            price: Some(Price(price)),
            qty: Qty(1),
            ..Place::default()
        })
    }

    #[test]
    fn order_ids_run_out_with_a_reject_not_a_panic() {
        let mut engine = engine_with_instrument();
        engine.orders_accepted = ORDER_SEQUENCE_MAX - 1;
        let mut events = Vec::new();
        engine.apply(&buy(10), &mut events);
        let Event::Accepted(accepted) = events[0] else { panic!("{events:?}") };
        assert_eq!(accepted.order.sequence(), ORDER_SEQUENCE_MAX);
        events.clear();
        let before = engine.state_hash();
        engine.apply(&buy(11), &mut events);
        assert_eq!(events, [Event::Rejected { user: UserId(1), code: RejectCode::OrderIdsExhausted }]);
        assert_eq!(engine.state_hash(), before);
        engine.check_invariants().unwrap();
    }

    #[test]
    fn quantities_that_could_overflow_a_level_total_are_refused_at_listing() {
        let mut engine = engine_with_instrument();
        let mut spec = *engine.spec(InstrumentId(0)).unwrap();
        spec.symbol = Symbol::new("U").unwrap();
        spec.qty_max = Qty(crate::types::QTY_LOTS_MAX + 1);
        let mut events = Vec::new();
        engine.apply(&Command::AddInstrument { actor: UserId(0), spec }, &mut events);
        assert_eq!(events, [Event::Rejected { user: UserId(0), code: RejectCode::InvalidInstrumentSpec }]);
    }

    #[test]
    fn a_notional_bound_beyond_128_bits_is_refused_not_overflowed() {
        // Found by the snapshot_loader fuzz target: price_max x qty_max x quote_unit overflowed i128.
        let mut engine = engine_with_instrument();
        let mut spec = *engine.spec(InstrumentId(0)).unwrap();
        spec.symbol = Symbol::new("HUGE").unwrap();
        spec.price_max = Price(i64::MAX);
        spec.qty_max = Qty(crate::types::QTY_LOTS_MAX);
        // 2^40 minor units of quote per tick and lot: 2^63 x 2^38 x 2^53 overflows i128.
        (spec.tick, spec.lot) =
            (DecimalStep { units: 1 << 40, scale: 0 }, DecimalStep { units: 1, scale: 0 });
        let mut events = Vec::new();
        engine.apply(&Command::AddInstrument { actor: UserId(0), spec }, &mut events);
        assert_eq!(events, [Event::Rejected { user: UserId(0), code: RejectCode::InvalidInstrumentSpec }]);
    }

    #[test]
    fn config_limits_are_checked() {
        let bad = EngineConfig { orders_max: 0, ..EngineConfig::default() };
        assert!(matches!(Engine::new(bad), Err(ConfigError::OutOfRange { name: "orders_max", .. })));
        let bad = EngineConfig { orders_max: ORDER_SLOT_NONE, ..EngineConfig::default() };
        assert!(Engine::new(bad).is_err(), "the slot value ORDER_SLOT_NONE must stay free");
    }
}

//! Engine snapshots: the whole state as bytes ([`Engine::write_snapshot`]) and an engine rebuilt
//! from them ([`Engine::from_snapshot`]).
//!
//! The body is *logical*: it holds what the state hash covers (docs/FORMAT.md, "Engine snapshot
//! body"), never the layout of the arenas, so the format outlives changes to the data structures.
//! Admin facts reuse the command encoding (an asset or instrument is written as the command that
//! adds it, a waiting conditional as its `Place`). Everything derived is rebuilt, not stored: level
//! pool indices, the client index, symbol maps, order margins and open quantities, running position
//! margins, the expiry heap, trigger lists and the conditional pool layout.
//!
//! What is stored beyond the hash, because behaviour depends on it: the order of each level queue
//! (written in queue order), each perpetual's holder list (written in list order: funding and
//! mark moves settle in that order). Users' order lists are rebuilt in ascending order id, which
//! is the order the engine keeps them in.
//!
//! Invariants: `from_snapshot(write_snapshot(e))` has the state hash of `e` and behaves like `e`
//! for any later commands (tests/tests/snapshot.rs). Loading arbitrary bytes never panics: every
//! field is range-checked before it is used, and the rebuilt engine must pass
//! `check_invariants` (fuzz target `snapshot_loader`).
//! Complexity: write O(orders + levels + users x assets + positions + conditionals), one pass, no
//! allocation but the output; load the same plus `Engine::new` and `check_invariants`.

use crate::book::{NIL, Order};
use crate::codec::{self, COMMAND_BYTES_MAX, DecodeError, ROLES, Reader, STPS, index_of, read_enum};
use crate::command::Command;
use crate::conditional::Conditional;
use crate::engine::{ConfigError, Engine, EngineConfig};
use crate::invariants::InvariantViolation;
use crate::ledger::{Balance, UserInfo};
use crate::limits::{InstrumentLimits, UserLimits};
use crate::money::Funds;
use crate::types::{
    AssetId, ClientOrderId, InstrumentId, InstrumentKind, ORDER_SEQUENCE_MAX, ORDER_SLOT_NONE, OrderId,
    Price, Qty, Side, TenantId, TxId, UserId,
};

/// The engine snapshot body's format version (its first byte).
pub const SNAPSHOT_BODY_VERSION: u8 = 1;

/// Why bytes are not an engine snapshot body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    /// A body version this code does not read.
    #[error("engine snapshot body version {0} is not supported")]
    Version(u8),
    /// A field cannot be read (too few bytes, a bad enum or boolean, a bad embedded command).
    #[error("engine snapshot body, byte {at}: {error}")]
    Decode {
        /// The byte offset.
        at: usize,
        /// What is wrong.
        error: DecodeError,
    },
    /// The configuration is not one an engine can be built with.
    #[error("engine snapshot body: {0}")]
    Config(#[from] ConfigError),
    /// A field is out of range or contradicts an earlier one.
    #[error("engine snapshot body, byte {at}: {what}")]
    Invalid {
        /// The byte offset.
        at: usize,
        /// What is wrong.
        what: &'static str,
    },
    /// Fields read well but the state they make breaks an invariant.
    #[error("engine snapshot body: {0}")]
    Inconsistent(#[from] InvariantViolation),
}

/// The snapshot writer: little-endian fields appended to the caller's buffer.
struct Out<'a>(&'a mut Vec<u8>);

impl Out<'_> {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn i64(&mut self, v: i64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn len(&mut self, n: usize) {
        self.u32(u32::try_from(n).expect("counts fit u32"));
    }
    /// A command, length first (one byte).
    fn command(&mut self, command: &Command) {
        let mut buf = [0u8; COMMAND_BYTES_MAX];
        let len = codec::encode(command, &mut buf);
        self.u8(u8::try_from(len).expect("at most 128 bytes"));
        self.0.extend_from_slice(&buf[..len]);
    }
}

/// The snapshot reader: the command codec's reader with errors that say where.
struct In<'a>(Reader<'a>);

impl<'a> In<'a> {
    fn at(&self) -> usize {
        self.0.at
    }
    fn wrap<T>(at: usize, r: Result<T, DecodeError>) -> Result<T, SnapshotError> {
        r.map_err(|error| SnapshotError::Decode { at, error })
    }
    fn invalid<T>(&self, what: &'static str) -> Result<T, SnapshotError> {
        Err(SnapshotError::Invalid { at: self.at(), what })
    }
    fn u8(&mut self) -> Result<u8, SnapshotError> {
        let at = self.at();
        let r = self.0.u8();
        Self::wrap(at, r)
    }
    fn bool(&mut self) -> Result<bool, SnapshotError> {
        let at = self.at();
        let r = self.0.bool();
        Self::wrap(at, r)
    }
    fn u32(&mut self) -> Result<u32, SnapshotError> {
        let at = self.at();
        let r = self.0.u32();
        Self::wrap(at, r)
    }
    fn u64(&mut self) -> Result<u64, SnapshotError> {
        let at = self.at();
        let r = self.0.u64();
        Self::wrap(at, r)
    }
    fn i64(&mut self) -> Result<i64, SnapshotError> {
        let at = self.at();
        let r = self.0.i64();
        Self::wrap(at, r)
    }
    fn bytes(&mut self, n: usize) -> Result<&'a [u8], SnapshotError> {
        let at = self.at();
        let buf = self.0.buf;
        let r = self.0.take(n).map(|_| &buf[at..at + n]);
        Self::wrap(at, r)
    }
    /// A count of at most `max` items.
    fn count(&mut self, max: usize) -> Result<usize, SnapshotError> {
        let n = self.u32()? as usize;
        if n > max { self.invalid("count above its capacity") } else { Ok(n) }
    }
    fn command(&mut self) -> Result<Command, SnapshotError> {
        let len = self.u8()? as usize;
        let at = self.at();
        let bytes = self.bytes(len)?;
        Self::wrap(at, codec::decode(bytes))
    }
    fn non_negative(&mut self) -> Result<i64, SnapshotError> {
        let v = self.i64()?;
        if v < 0 { self.invalid("negative amount") } else { Ok(v) }
    }
}

impl Engine {
    /// Appends the engine's snapshot body to `out` (see the module docs and docs/FORMAT.md).
    pub fn write_snapshot(&self, out: &mut Vec<u8>) {
        assert!(self.risk_pending.is_empty() && self.trigger_dirty.is_empty(), "snapshot between commands");
        let mut w = Out(out);
        w.u8(SNAPSHOT_BODY_VERSION);
        let c = &self.config;
        for v in [
            c.orders_max,
            c.levels_max,
            c.instruments_max,
            c.users_max,
            c.side_levels_reserved,
            c.tenants_max,
            c.assets_max,
            c.perpetuals_max,
            c.conditionals_max,
        ] {
            w.u32(v);
        }
        w.u64(c.hash_seed);
        w.u64(self.orders_accepted);
        w.u64(self.now_ns);
        self.write_ledger(&mut w);
        self.write_instruments(&mut w);
        self.write_positions(&mut w);
        for book in 0..self.books.len() {
            self.write_book(&mut w, book);
        }
        self.write_conditionals(&mut w);
    }

    fn write_ledger(&self, w: &mut Out<'_>) {
        let ledger = &self.ledger;
        let tenants: Vec<u32> =
            (0..ledger.tenants.len()).filter(|&t| ledger.tenants[t]).map(to_u32).collect();
        w.len(tenants.len());
        for t in tenants {
            w.u32(t);
        }
        w.len(ledger.assets.len());
        for asset in &ledger.assets {
            w.command(&Command::AddAsset { actor: UserId(0), spec: asset.spec });
            for v in asset.system.into_iter().chain([asset.net_deposits]) {
                w.i64(v);
            }
            w.u64(asset.last_tx.0);
        }
        w.len(ledger.users.iter().filter(|u| u.exists).count());
        for (user, info) in ledger.users.iter().enumerate().filter(|(_, info)| info.exists) {
            w.u32(to_u32(user));
            w.u32(info.tenant.0);
            w.u8(index_of(&ROLES, &info.role));
            w.u8(u8::from(info.suspended));
            w.u64(info.last_tx.0);
            let l = &info.limits;
            w.i64(l.qty_max);
            w.i64(l.notional_max);
            w.u32(l.open_orders_max);
            w.i64(l.position_max);
            let row = user * ledger.assets_max as usize;
            for balance in &ledger.accounts[row..row + ledger.assets.len()] {
                w.i64(balance.available);
                w.i64(balance.held);
            }
        }
        w.len(ledger.admin_holds.len());
        for (&(user, asset), &amount) in &ledger.admin_holds {
            w.u32(user.0);
            w.u32(asset.0);
            w.i64(amount);
        }
    }

    fn write_instruments(&self, w: &mut Out<'_>) {
        w.len(self.books.len());
        for (book, market) in self.books.iter().zip(&self.markets) {
            w.command(&Command::AddInstrument { actor: UserId(0), spec: book.spec });
            w.u8(u8::from(market.halted));
            w.i64(market.mark.0);
            w.u8(u8::from(book.last_price.is_some()));
            w.i64(book.last_price.map_or(0, |p| p.0));
            w.i64(market.limits.notional_max);
            w.u32(market.limits.price_band_bps);
            w.i64(market.limits.position_max);
            w.u64(book.trades);
        }
    }

    /// Per perpetual in listing order: its holders in list order, then flat positions that still
    /// carry a realized PnL.
    fn write_positions(&self, w: &mut Out<'_>) {
        let users = self.config.users_max as usize;
        for &book in &self.perp_books {
            let perp = self.markets[book as usize].perp as usize;
            let rows = &self.positions[perp * users..(perp + 1) * users];
            let flat = rows.iter().filter(|p| p.qty == 0 && p.realized_pnl != 0).count();
            let mut holders = Vec::new();
            let mut holder = self.holder_after(book as usize, None);
            while let Some(user) = holder {
                holders.push(user);
                holder = self.holder_after(book as usize, Some(user));
            }
            w.len(holders.len() + flat);
            let flat_users =
                (0..users).filter(|&u| rows[u].qty == 0 && rows[u].realized_pnl != 0).map(to_u32);
            for user in holders.into_iter().chain(flat_users) {
                let p = &rows[user as usize];
                w.u32(user);
                w.i64(p.qty);
                w.i64(p.entry_notional);
                w.i64(p.realized_pnl);
            }
        }
    }

    /// Both sides, each level from worst to best, each queue in priority order.
    fn write_book(&self, w: &mut Out<'_>, book: usize) {
        for side in [&self.books[book].bids, &self.books[book].asks] {
            w.len(side.len());
            for level in side.iter_worst_first() {
                let l = &self.levels.levels[level as usize];
                w.i64(l.price.0);
                w.u32(l.count);
                let mut slot = l.head;
                while slot != NIL {
                    let o = &self.orders[slot as usize];
                    let funds = self.resting_funds(slot);
                    w.u64(o.id.0);
                    w.u32(o.user.0);
                    w.i64(o.qty.0);
                    w.u8(index_of(&STPS, &o.self_trade));
                    w.u8(o.flags);
                    w.i64(funds.held);
                    w.i64(funds.taker_notional);
                    w.i64(funds.maker_notional);
                    if o.has_client_id() {
                        w.0.extend_from_slice(&self.client_ids[slot as usize].0);
                    }
                    if o.has_expiry() {
                        w.u64(self.order_expiry[slot as usize]);
                    }
                    slot = self.links[slot as usize].next;
                }
            }
        }
    }

    fn write_conditionals(&self, w: &mut Out<'_>) {
        w.len(self.conditional_entries().count());
        for (_, _, (_, _, index)) in self.conditional_entries() {
            let c = &self.conditionals[index as usize];
            w.u64(c.id.0);
            w.command(&Command::Place(c.place));
            w.i64(c.funds.held);
        }
    }

    /// Rebuilds an engine from a snapshot body. The engine has the configuration the body names;
    /// the caller compares it with its own and compares the state hash with the one it expects.
    pub fn from_snapshot(bytes: &[u8]) -> Result<Engine, SnapshotError> {
        let engine = Engine::build_from_snapshot(bytes)?;
        engine.check_invariants()?;
        Ok(engine)
    }

    /// [`Engine::from_snapshot`] without the final `check_invariants`, which the caller must run
    /// (recovery.rs runs it beside the state hash, on two threads).
    pub(crate) fn build_from_snapshot(bytes: &[u8]) -> Result<Engine, SnapshotError> {
        let mut r = In(Reader { buf: bytes, at: 0 });
        let version = r.u8()?;
        if version != SNAPSHOT_BODY_VERSION {
            return Err(SnapshotError::Version(version));
        }
        let mut e = Engine::new(read_config(&mut r)?)?;
        e.orders_accepted = r.u64()?;
        if e.orders_accepted > ORDER_SEQUENCE_MAX {
            return r.invalid("order sequence above its maximum");
        }
        e.now_ns = r.u64()?;
        e.read_ledger(&mut r)?;
        e.read_instruments(&mut r)?;
        e.read_positions(&mut r)?;
        let mut restored: Vec<u64> = Vec::new();
        for book in 0..e.books.len() {
            e.read_book(&mut r, book, &mut restored)?;
        }
        e.attach_restored(&mut restored, &r)?;
        e.read_conditionals(&mut r)?;
        if r.at() != bytes.len() {
            return r.invalid("bytes after the end of the body");
        }
        Ok(e)
    }

    fn read_ledger(&mut self, r: &mut In<'_>) -> Result<(), SnapshotError> {
        for _ in 0..r.count(self.config.tenants_max as usize)? {
            let tenant = r.u32()? as usize;
            if tenant >= self.ledger.tenants.len() {
                return r.invalid("tenant id above tenants_max");
            }
            self.ledger.tenants[tenant] = true;
        }
        let mut scratch = Vec::new();
        for _ in 0..r.count(self.config.assets_max as usize)? {
            let Command::AddAsset { actor: UserId(0), spec } = r.command()? else {
                return r.invalid("not an asset added by user 0");
            };
            if self.add_asset(UserId(0), &spec, &mut scratch).is_err() {
                return r.invalid("asset refused");
            }
            let asset = self.ledger.assets.last_mut().expect("just added");
            for v in &mut asset.system {
                *v = r.non_negative()?;
            }
            asset.net_deposits = r.non_negative()?;
            asset.last_tx = TxId(r.u64()?);
        }
        let mut last_user = None;
        for _ in 0..r.count(self.config.users_max as usize)? {
            let user = self.read_user(r, last_user)?;
            last_user = Some(user);
        }
        for _ in 0..r.count(self.ledger.users.len() * self.ledger.assets.len())? {
            let (user, asset, amount) = (UserId(r.u32()?), AssetId(r.u32()?), r.non_negative()?);
            if self.ledger.user(user).is_none() || self.ledger.asset(asset).is_none() || amount == 0 {
                return r.invalid("admin hold of an unknown user or asset, or of nothing");
            }
            if self.ledger.admin_holds.insert((user, asset), amount).is_some() {
                return r.invalid("admin hold listed twice");
            }
        }
        Ok(())
    }

    /// One user, its limits and balances; ids strictly ascend.
    fn read_user(&mut self, r: &mut In<'_>, last: Option<u32>) -> Result<u32, SnapshotError> {
        let user = r.u32()?;
        if user >= self.config.users_max || last.is_some_and(|l| user <= l) {
            return r.invalid("user id out of range or out of order");
        }
        let tenant = TenantId(r.u32()?);
        if !self.ledger.tenants.get(tenant.0 as usize).copied().unwrap_or(false) {
            return r.invalid("user of an unknown tenant");
        }
        let at = r.at();
        let role = read_enum(&mut r.0, &ROLES);
        let role = In::wrap(at, role)?;
        let suspended = r.bool()?;
        let last_tx = TxId(r.u64()?);
        let limits = UserLimits {
            qty_max: r.non_negative()?,
            notional_max: r.non_negative()?,
            open_orders_max: r.u32()?,
            position_max: r.non_negative()?,
        };
        self.ledger.users[user as usize] =
            UserInfo { exists: true, suspended, role, tenant, last_tx, limits };
        self.users[user as usize].status =
            crate::book::UserOrders::EXISTS | if suspended { crate::book::UserOrders::SUSPENDED } else { 0 };
        self.limited_users += u32::from(limits != UserLimits::default());
        let row = user as usize * self.config.assets_max as usize;
        for asset in 0..self.ledger.assets.len() {
            let balance = Balance { available: r.non_negative()?, held: r.non_negative()? };
            self.ledger.accounts[row + asset] = balance;
        }
        Ok(user)
    }

    fn read_instruments(&mut self, r: &mut In<'_>) -> Result<(), SnapshotError> {
        let mut scratch = Vec::new();
        for book in 0..r.count(self.config.instruments_max as usize)? {
            let Command::AddInstrument { actor: UserId(0), spec } = r.command()? else {
                return r.invalid("not an instrument added by user 0");
            };
            if self.add_instrument(UserId(0), &spec, &mut scratch).is_err() {
                return r.invalid("instrument refused");
            }
            let halted = r.bool()?;
            let mark = Price(r.i64()?);
            let perpetual = spec.kind == InstrumentKind::Perpetual;
            let mark_ok =
                if perpetual { Engine::check_price(&spec, mark).is_ok() } else { mark == spec.mark_price };
            if !mark_ok {
                return r.invalid("mark price off the grid (perpetual) or not the listed one (spot)");
            }
            let (has_last, last) = (r.bool()?, r.i64()?);
            if (has_last && last <= 0) || (!has_last && last != 0) {
                return r.invalid("last price not positive, or set without its flag");
            }
            let last_price = has_last.then_some(Price(last));
            let limits = InstrumentLimits {
                notional_max: r.non_negative()?,
                price_band_bps: r.u32()?,
                position_max: r.non_negative()?,
            };
            let instrument = InstrumentId(to_u32(book));
            if self.set_instrument_limits((UserId(0), instrument, limits), &mut scratch).is_err()
                || self.markets[book].limits != limits
            {
                return r.invalid("instrument limits refused");
            }
            let market = &mut self.markets[book];
            market.halted = halted;
            if perpetual {
                market.mark = mark;
            }
            self.books[book].last_price = last_price;
            self.books[book].trades = r.u64()?;
        }
        Ok(())
    }

    fn read_positions(&mut self, r: &mut In<'_>) -> Result<(), SnapshotError> {
        for perp in 0..self.perp_books.len() {
            let book = self.perp_books[perp] as usize;
            let quote = self.markets[book].quote;
            // The listing's bound: a position's notional at the highest price fits NOTIONAL_MAX.
            let notional_max = i128::from(crate::types::NOTIONAL_MAX);
            let lots_max = notional_max
                / (i128::from(self.books[book].spec.price_max.0) * i128::from(self.markets[book].quote_unit));
            for _ in 0..r.count(self.config.users_max as usize)? {
                let user = UserId(r.u32()?);
                if self.ledger.user(user).is_none() {
                    return r.invalid("position of an unknown user");
                }
                let index = self.position_index(to_u32(perp), user);
                let p = &mut self.positions[index];
                if p.qty != 0 || p.realized_pnl != 0 {
                    return r.invalid("position listed twice");
                }
                (p.qty, p.entry_notional, p.realized_pnl) = (r.i64()?, r.i64()?, r.i64()?);
                if i128::from(p.qty.unsigned_abs()) > lots_max
                    || i128::from(p.entry_notional.unsigned_abs()) > notional_max
                {
                    return r.invalid("position beyond what the listing bounds");
                }
                if p.qty != 0 {
                    self.link_holder(book, user);
                    let margin_index = self.ledger_index(user, quote);
                    self.position_margin[margin_index] = self.position_margin_of(user, quote);
                }
            }
        }
        Ok(())
    }

    /// One book's orders into their slots and level queues; `restored` collects their ids.
    fn read_book(
        &mut self,
        r: &mut In<'_>,
        book: usize,
        restored: &mut Vec<u64>,
    ) -> Result<(), SnapshotError> {
        for side in [Side::Buy, Side::Sell] {
            let mut previous: Option<Price> = None;
            for _ in 0..r.count(self.config.levels_max as usize)? {
                let price = Price(r.i64()?);
                let spec = self.books[book].spec;
                let improves = previous.is_none_or(|p| if side == Side::Buy { price > p } else { price < p });
                if Engine::check_price(&spec, price).is_err() || !improves || self.levels.free() == 0 {
                    return r.invalid("level price off the grid, out of order, or no free level");
                }
                previous = Some(price);
                let count = r.count(self.config.orders_max as usize)?;
                if count == 0 {
                    return r.invalid("empty level");
                }
                let level = self.levels.alloc(price);
                self.books[book].side_mut(side).insert(price, level, &self.levels);
                for _ in 0..count {
                    let slot = self.read_order(r, book, side, price)?;
                    self.append_to_queue(level, slot);
                    let l = &mut self.levels.levels[level as usize];
                    l.total = Qty(l.total.0 + self.orders[slot as usize].qty.0);
                    restored.push(self.orders[slot as usize].id.0);
                }
            }
        }
        Ok(())
    }

    /// One resting order into its slot (not yet in a queue or its user's list).
    fn read_order(
        &mut self,
        r: &mut In<'_>,
        book: usize,
        side: Side,
        price: Price,
    ) -> Result<u32, SnapshotError> {
        let id = OrderId(r.u64()?);
        let slot = id.slot();
        if slot >= self.config.orders_max
            || !self.slots.is_free(slot)
            || id.sequence() == 0
            || id.sequence() > self.orders_accepted
        {
            return r.invalid("order id names a taken or impossible slot, or a future order");
        }
        let user = UserId(r.u32()?);
        let qty = Qty(r.i64()?);
        if self.ledger.user(user).is_none() || qty.0 <= 0 || qty > self.books[book].spec.qty_max {
            return r.invalid("order of an unknown user, or with a bad quantity");
        }
        let at = r.at();
        let self_trade = read_enum(&mut r.0, &STPS);
        let self_trade = In::wrap(at, self_trade)?;
        let flags = r.u8()?;
        if flags & !(Order::POST_ONLY | Order::CLIENT_ID | Order::EXPIRY) != 0 {
            return r.invalid("unknown order flags");
        }
        let funds =
            Funds { held: r.non_negative()?, margin: 0, taker_notional: r.i64()?, maker_notional: r.i64()? };
        let instrument = InstrumentId(to_u32(book));
        self.slots.take(slot);
        self.orders[slot as usize] =
            Order { id, price, qty, held: 0, user, instrument, level: NIL, side, self_trade, flags };
        self.store_resting_funds(slot, funds);
        if flags & Order::CLIENT_ID != 0 {
            let client_id =
                ClientOrderId(r.bytes(crate::types::CLIENT_ORDER_ID_LEN_MAX)?.try_into().expect("len"));
            if client_id.is_empty() {
                return r.invalid("empty client order id");
            }
            self.client_ids[slot as usize] = client_id;
        }
        if flags & Order::EXPIRY != 0 {
            let expiry = r.u64()?;
            if expiry <= self.now_ns {
                return r.invalid("expiry not after the engine's time");
            }
            self.schedule_expiry(slot, expiry);
        }
        Ok(slot)
    }

    /// Puts restored orders in their users' lists in ascending id order (the order the engine
    /// keeps), into the client index, and reserves perpetual margin.
    fn attach_restored(&mut self, restored: &mut [u64], r: &In<'_>) -> Result<(), SnapshotError> {
        restored.sort_unstable();
        for &id in restored.iter() {
            let slot = OrderId(id).slot();
            let order = self.orders[slot as usize];
            if order.has_client_id()
                && self.find_client_order(order.user, &self.client_ids[slot as usize]).is_some()
            {
                return r.invalid("client order id used twice by a user");
            }
            self.attach_owner(slot);
            self.reserve_if_perp(slot);
        }
        Ok(())
    }

    fn read_conditionals(&mut self, r: &mut In<'_>) -> Result<(), SnapshotError> {
        for _ in 0..r.count(self.config.conditionals_max as usize)? {
            let id = OrderId(r.u64()?);
            let Command::Place(place) = r.command()? else {
                return r.invalid("not a placement");
            };
            let held = r.non_negative()?;
            let book = place.instrument.0 as usize;
            if id.slot() != ORDER_SLOT_NONE
                || id.sequence() == 0
                || id.sequence() > self.orders_accepted
                || place.trigger.is_none()
                || book >= self.books.len()
                || self.ledger.user(place.user).is_none()
            {
                return r.invalid("conditional with a bad id, no trigger, or an unknown instrument or user");
            }
            let index = self.conditional_free.pop().expect("counted against conditionals_max");
            let margin = self.conditional_margin(book, &place);
            self.conditionals[index as usize] =
                Conditional { id, place, funds: Funds { held, margin, ..Funds::default() } };
            self.add_order_margin(place.user, self.markets[book].quote, margin);
            self.insert_trigger(book, index);
        }
        Ok(())
    }
}

fn read_config(r: &mut In<'_>) -> Result<EngineConfig, SnapshotError> {
    Ok(EngineConfig {
        orders_max: r.u32()?,
        levels_max: r.u32()?,
        instruments_max: r.u32()?,
        users_max: r.u32()?,
        side_levels_reserved: r.u32()?,
        tenants_max: r.u32()?,
        assets_max: r.u32()?,
        perpetuals_max: r.u32()?,
        conditionals_max: r.u32()?,
        hash_seed: r.u64()?,
    })
}

fn to_u32(v: usize) -> u32 {
    u32::try_from(v).expect("ids fit u32")
}

//! Read-only views of the state, the state hash and memory accounting.
//!
//! The state hash is xxh3-64 over a canonical walk: the order id sequence, then per instrument in id
//! order its spec, trade count and both sides from the best level, each level's price and total and
//! its orders in queue order (id, user, open quantity, flags, client order id). Everything else in the
//! engine (slot choice, user lists, the client index) is a function of this walk, so two engines with
//! equal hashes behave identically from then on. Cost: O(orders + levels); not for the hot path.

use crate::book::NIL;
use crate::engine::Engine;
use crate::ledger::Balance;
use crate::types::{
    AssetId, AssetSpec, ClientOrderId, InstrumentId, InstrumentSpec, OrderId, Price, Qty, Side, Symbol,
    UserId,
};

/// Bytes gathered before they go to xxh3: the walk feeds many 1- to 8-byte fields, and each call
/// of the streaming hasher costs more than the bytes it hashes. The digest is the streaming
/// digest of the same byte sequence, however it is split.
struct Hasher {
    xxh3: xxhash_rust::xxh3::Xxh3,
    buf: Box<[u8; Hasher::BUF_LEN]>,
    len: usize,
}

impl Hasher {
    const BUF_LEN: usize = 4096;

    fn new() -> Hasher {
        Hasher { xxh3: xxhash_rust::xxh3::Xxh3::new(), buf: Box::new([0; Hasher::BUF_LEN]), len: 0 }
    }

    fn update(&mut self, bytes: &[u8]) {
        if self.len + bytes.len() > Self::BUF_LEN {
            self.xxh3.update(&self.buf[..self.len]);
            self.len = 0;
            if bytes.len() > Self::BUF_LEN {
                self.xxh3.update(bytes);
                return;
            }
        }
        self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }

    fn digest(mut self) -> u64 {
        self.xxh3.update(&self.buf[..self.len]);
        self.len = 0;
        self.xxh3.digest()
    }
}

/// A resting order as seen from outside.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RestingOrder {
    /// Its id.
    pub order: OrderId,
    /// Owner.
    pub user: UserId,
    /// Side.
    pub side: Side,
    /// Limit price.
    pub price: Price,
    /// Open quantity.
    pub qty: Qty,
    /// Client order id (empty if none).
    pub client_order_id: ClientOrderId,
}

impl Engine {
    /// Number of listed instruments.
    pub fn instruments_len(&self) -> usize {
        self.books.len()
    }

    /// An instrument's spec.
    pub fn spec(&self, instrument: InstrumentId) -> Option<&InstrumentSpec> {
        self.books.get(instrument.0 as usize).map(|b| &b.spec)
    }

    /// Number of resting orders.
    pub fn resting_orders_len(&self) -> usize {
        (self.config.orders_max - self.slots.free()) as usize
    }

    /// Number of price levels in use.
    pub fn levels_len(&self) -> usize {
        (self.config.levels_max - self.levels.free()) as usize
    }

    /// The best price and its total on one side.
    pub fn best(&self, instrument: InstrumentId, side: Side) -> Option<(Price, Qty)> {
        let book = self.books.get(instrument.0 as usize)?;
        let level = &self.levels.levels[book.side(side).best()? as usize];
        Some((level.price, level.total))
    }

    /// Up to `levels_max` levels of one side, best first.
    pub fn depth(&self, instrument: InstrumentId, side: Side, levels_max: usize) -> Vec<(Price, Qty)> {
        let mut out = Vec::new();
        self.depth_into(instrument, side, levels_max, &mut out);
        out
    }

    /// [`Engine::depth`] into a caller's buffer (cleared first): no allocation once it is large
    /// enough.
    pub fn depth_into(
        &self,
        instrument: InstrumentId,
        side: Side,
        levels_max: usize,
        out: &mut Vec<(Price, Qty)>,
    ) {
        out.clear();
        let Some(book) = self.books.get(instrument.0 as usize) else {
            return;
        };
        out.extend(
            book.side(side)
                .iter_best_first()
                .take(levels_max)
                .map(|l| (self.levels.levels[l as usize].price, self.levels.levels[l as usize].total)),
        );
    }

    /// Every resting order of an instrument in priority order: bids best first, then asks.
    pub fn book_orders(&self, instrument: InstrumentId) -> Vec<RestingOrder> {
        let mut out = Vec::new();
        self.walk_book(instrument.0 as usize, |_, slot| {
            let order = &self.orders[slot as usize];
            out.push(RestingOrder {
                order: order.id,
                user: order.user,
                side: order.side,
                price: order.price,
                qty: order.qty,
                client_order_id: if order.has_client_id() {
                    self.client_ids[slot as usize]
                } else {
                    ClientOrderId::EMPTY
                },
            });
        });
        out
    }

    /// Calls `visit(level, slot)` for each order of a book in priority order, bids then asks.
    pub(crate) fn walk_book(&self, book: usize, mut visit: impl FnMut(u32, u32)) {
        let Some(book) = self.books.get(book) else {
            return;
        };
        for side in [&book.bids, &book.asks] {
            for level in side.iter_best_first() {
                let mut slot = self.levels.levels[level as usize].head;
                while slot != NIL {
                    visit(level, slot);
                    slot = self.links[slot as usize].next;
                }
            }
        }
    }

    /// The instrument listed under a symbol.
    pub fn instrument_id(&self, symbol: &Symbol) -> Option<InstrumentId> {
        self.symbols.get(symbol).copied()
    }

    /// Every existing user, in id order.
    pub fn users(&self) -> impl Iterator<Item = UserId> + '_ {
        let users = self.ledger.users.iter().enumerate().filter(|(_, info)| info.exists);
        users.map(|(user, _)| UserId(u32::try_from(user).expect("users_max fits u32")))
    }

    /// Every asset's spec, in id order.
    pub fn assets(&self) -> impl Iterator<Item = (AssetId, AssetSpec)> + '_ {
        let assets = self.ledger.assets.iter().enumerate();
        assets.map(|(asset, state)| (AssetId(u32::try_from(asset).expect("assets_max fits u32")), state.spec))
    }

    /// Number of conditional orders waiting for their trigger.
    pub fn conditionals_len(&self) -> usize {
        self.conditionals.len() - self.conditional_free.len()
    }

    /// A user's balance of an asset (`None` for an unknown user or asset).
    pub fn balance(&self, user: UserId, asset: AssetId) -> Option<Balance> {
        self.ledger.user(user)?;
        self.ledger.asset(asset)?;
        Some(self.ledger.balance(user, asset))
    }

    /// Hash of the canonical state (see the module docs).
    pub fn state_hash(&self) -> u64 {
        let mut h = Hasher::new();
        h.update(&self.orders_accepted.to_le_bytes());
        h.update(&self.now_ns.to_le_bytes());
        h.update(&(self.books.len() as u64).to_le_bytes());
        self.hash_ledger(&mut h);
        self.hash_positions(&mut h);
        for (book, list, (price, sequence, index)) in self.conditional_entries() {
            let c = &self.conditionals[index as usize];
            h.update(&(book as u64).to_le_bytes());
            h.update(&(list as u64).to_le_bytes());
            for v in [price, i64::try_from(sequence).expect("40 bits"), c.funds.held, c.funds.margin] {
                h.update(&v.to_le_bytes());
            }
            hash_place(&mut h, &c.place);
        }
        for (index, book) in self.books.iter().enumerate() {
            hash_spec(&mut h, &book.spec);
            h.update(&[u8::from(self.markets[index].halted)]);
            let market = &self.markets[index];
            h.update(&market.mark.0.to_le_bytes());
            h.update(&book.last_price.map_or(0, |p| p.0).to_le_bytes());
            let limits = &market.limits;
            for v in [limits.notional_max, i64::from(limits.price_band_bps), limits.position_max] {
                h.update(&v.to_le_bytes());
            }
            h.update(&book.trades.to_le_bytes());
            h.update(&(book.bids.len() as u64).to_le_bytes());
            h.update(&(book.asks.len() as u64).to_le_bytes());
            let mut last_level = NIL;
            self.walk_book(index, |level, slot| {
                if level != last_level {
                    let l = &self.levels.levels[level as usize];
                    h.update(&l.price.0.to_le_bytes());
                    h.update(&l.total.0.to_le_bytes());
                    h.update(&l.count.to_le_bytes());
                    last_level = level;
                }
                let o = &self.orders[slot as usize];
                h.update(&o.id.0.to_le_bytes());
                h.update(&o.user.0.to_le_bytes());
                h.update(&o.qty.0.to_le_bytes());
                h.update(&[o.side as u8, o.self_trade as u8, o.flags]);
                if o.has_client_id() {
                    h.update(&self.client_ids[slot as usize].0);
                }
                let f = self.resting_funds(slot);
                for v in [f.held, f.margin, f.taker_notional, f.maker_notional] {
                    h.update(&v.to_le_bytes());
                }
                if o.has_expiry() {
                    h.update(&self.order_expiry[slot as usize].to_le_bytes());
                }
            });
        }
        h.digest()
    }

    /// Every position with a quantity or open orders, in perpetual then user order; order margins.
    fn hash_positions(&self, h: &mut Hasher) {
        for (index, p) in self.positions.iter().enumerate() {
            if p.qty != 0 || p.open_buy != 0 || p.open_sell != 0 || p.realized_pnl != 0 {
                h.update(&(index as u64).to_le_bytes());
                for v in [p.qty, p.entry_notional, p.realized_pnl, p.open_buy, p.open_sell] {
                    h.update(&v.to_le_bytes());
                }
            }
        }
        for (index, &margin) in self.order_margin.iter().enumerate().filter(|(_, m)| **m != 0) {
            h.update(&(index as u64).to_le_bytes());
            h.update(&margin.to_le_bytes());
        }
    }

    /// Tenants, existing users with their balances, assets with their system accounts, admin holds.
    fn hash_ledger(&self, h: &mut Hasher) {
        let ledger = &self.ledger;
        for (tenant, _) in ledger.tenants.iter().enumerate().filter(|(_, exists)| **exists) {
            h.update(&(tenant as u64).to_le_bytes());
        }
        for asset in &ledger.assets {
            h.update(&asset.spec.symbol.0);
            h.update(&[asset.spec.scale]);
            for v in asset.system.into_iter().chain([asset.net_deposits]) {
                h.update(&v.to_le_bytes());
            }
            h.update(&asset.last_tx.0.to_le_bytes());
        }
        for (user, info) in ledger.users.iter().enumerate().filter(|(_, info)| info.exists) {
            h.update(&(user as u64).to_le_bytes());
            h.update(&info.tenant.0.to_le_bytes());
            h.update(&[info.role as u8, u8::from(info.suspended)]);
            h.update(&info.last_tx.0.to_le_bytes());
            let l = &info.limits;
            for v in [l.qty_max, l.notional_max, i64::from(l.open_orders_max), l.position_max] {
                h.update(&v.to_le_bytes());
            }
            let row = user * ledger.assets_max as usize;
            for balance in &ledger.accounts[row..row + ledger.assets.len()] {
                h.update(&balance.available.to_le_bytes());
                h.update(&balance.held.to_le_bytes());
            }
        }
        for (&(user, asset), &amount) in &ledger.admin_holds {
            h.update(&user.0.to_le_bytes());
            h.update(&asset.0.to_le_bytes());
            h.update(&amount.to_le_bytes());
        }
    }

    /// Heap bytes held by the engine (capacities, not lengths).
    pub fn heap_bytes(&self) -> usize {
        let books: usize = self.books.iter().map(|b| b.bids.heap_bytes() + b.asks.heap_bytes()).sum();
        self.orders.capacity() * size_of::<crate::book::Order>()
            + self.links.capacity() * size_of::<crate::book::Links>()
            + self.client_ids.capacity() * size_of::<ClientOrderId>()
            + self.slots.heap_bytes()
            + self.levels.heap_bytes()
            + self.books.capacity() * size_of::<crate::book::Book>()
            + books
            + self.users.capacity() * size_of::<crate::book::UserOrders>()
            + self.client_index.heap_bytes()
            + self.order_funds.capacity() * size_of::<crate::money::ColdFunds>()
            + self.order_expiry.capacity() * size_of::<u64>()
            + self.expiries.capacity() * size_of::<(u64, OrderId)>()
            + self.ledger.heap_bytes()
            + self.markets.capacity() * size_of::<crate::spot::Market>()
    }

    /// Heap bytes that every order slot costs whether or not it is used: the arena record, its links,
    /// the client order id, its money state, its expiry and expiry index entry, the client index
    /// entries and the slot bitmap bit
    /// (rounded up to a byte).
    pub fn bytes_per_order_slot() -> usize {
        size_of::<crate::book::Order>()
            + size_of::<crate::money::ColdFunds>()
            + size_of::<u64>()
            + size_of::<(u64, OrderId)>()
            + size_of::<crate::book::Links>()
            + size_of::<ClientOrderId>()
            + 2 * size_of::<u32>()
            + 1
    }
}

fn hash_spec(h: &mut Hasher, spec: &InstrumentSpec) {
    h.update(&spec.symbol.0);
    for v in
        [spec.tick.units, spec.lot.units, spec.qty_min.0, spec.qty_max.0, spec.price_min.0, spec.price_max.0]
    {
        h.update(&v.to_le_bytes());
    }
    h.update(&[spec.tick.scale, spec.lot.scale, spec.kind as u8]);
    for v in [spec.base.0, spec.quote.0] {
        h.update(&v.to_le_bytes());
    }
    for v in [spec.maker_fee_bps, spec.taker_fee_bps] {
        h.update(&v.to_le_bytes());
    }
    for v in [spec.initial_margin_bps, spec.maintenance_margin_bps] {
        h.update(&v.to_le_bytes());
    }
    h.update(&spec.mark_price.0.to_le_bytes());
}

/// Every field of a placement (a waiting conditional's order).
fn hash_place(h: &mut Hasher, p: &crate::command::Place) {
    h.update(&p.user.0.to_le_bytes());
    h.update(&p.instrument.0.to_le_bytes());
    h.update(&p.client_order_id.0);
    h.update(&[
        p.side as u8,
        p.order_type as u8,
        p.time_in_force as u8,
        u8::from(p.post_only),
        p.self_trade as u8,
        u8::from(p.reduce_only),
    ]);
    let trigger = p.trigger.map_or((0, 0, 0), |t| (t.price.0, t.kind as u8, t.source as u8));
    for v in [p.price.map_or(0, |p| p.0), p.qty.0, i64::from(p.levels_max), p.quote_budget, trigger.0] {
        h.update(&v.to_le_bytes());
    }
    h.update(&p.expire_ns.to_le_bytes());
    h.update(&[trigger.1, trigger.2]);
}

//! Storage of the books: the order arena record, price levels and the sorted sides.
//!
//! - [`Order`]: 48 bytes per arena slot (measured faster than padding it to a 64-byte line: more
//!   orders per cache line beats never straddling two); with the spot hold inside, a cancel
//!   touches the record, its links and its owner's account, nothing else.
//! - [`Links`]: 16 bytes per slot in a dense array beside the arena. Orders of a level form a doubly
//!   linked FIFO queue (`prev`/`next`); orders of a user form a second list (`user_prev`/`user_next`)
//!   in acceptance order, which is ascending order id. Unlinking writes only neighbours' links.
//! - [`Level`]: 32 bytes, held in [`LevelPool`], a fixed pool with a LIFO free list.
//! - [`BookSide`]: the levels of one side sorted by key, *best last*: key = price for bids and
//!   -price for asks, so the best level is always `last()` and taking it is a `pop()`.
//!
//! Invariants: a side's keys strictly increase; its last entry is live (never a tombstone); its price
//! index holds exactly its live levels; a free level is empty.
//!
//! Complexity: best price O(1); joining an existing level O(1) (price index); creating a level
//! O(log L) binary search plus a shift to a tombstone within `TOMBSTONE_REACH` (often none is needed:
//! removals leave tombstones where the book is active); removing a level O(log L) with no shift.
//! Known limitation: creating a level with no tombstone nearby shifts the levels better than it.

use crate::price_index::PriceIndex;
use crate::types::{InstrumentId, InstrumentSpec, OrderId, Price, Qty, SelfTradePrevention, Side, UserId};

/// End of a list / no slot.
pub(crate) const NIL: u32 = u32::MAX;

/// A resting order. Fields are meaningful only while its slot is taken.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C)]
pub(crate) struct Order {
    pub(crate) id: OrderId,
    pub(crate) price: Price,
    /// Open (leaves) quantity.
    pub(crate) qty: Qty,
    /// Spot: what it holds (quote for a buy, base for a sell), here rather than with its cold money
    /// state so that a cancel touches no other per-order array.
    pub(crate) held: i64,
    pub(crate) user: UserId,
    pub(crate) instrument: InstrumentId,
    /// The level it rests in (a `LevelPool` index).
    pub(crate) level: u32,
    pub(crate) side: Side,
    pub(crate) self_trade: SelfTradePrevention,
    /// `POST_ONLY | CLIENT_ID | EXPIRY`.
    pub(crate) flags: u8,
}

const _: () = assert!(size_of::<Order>() == 48);

impl Order {
    /// Post-only: may not take when amended.
    pub(crate) const POST_ONLY: u8 = 1;
    /// Has a client order id (in the cold `client_ids` array and the client index).
    pub(crate) const CLIENT_ID: u8 = 2;
    /// Has a good-till-date expiry (in the cold `order_expiry` array and the expiry heap).
    pub(crate) const EXPIRY: u8 = 4;

    pub(crate) fn post_only(&self) -> bool {
        self.flags & Self::POST_ONLY != 0
    }

    pub(crate) fn has_client_id(&self) -> bool {
        self.flags & Self::CLIENT_ID != 0
    }

    pub(crate) fn has_expiry(&self) -> bool {
        self.flags & Self::EXPIRY != 0
    }
}

/// The links of an arena slot: its level queue (`prev`/`next`) and its user's list.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Links {
    pub(crate) prev: u32,
    pub(crate) next: u32,
    pub(crate) user_prev: u32,
    pub(crate) user_next: u32,
}

impl Default for Links {
    fn default() -> Self {
        Links { prev: NIL, next: NIL, user_prev: NIL, user_next: NIL }
    }
}

/// A price level: a FIFO queue of orders at one price.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Level {
    pub(crate) head: u32,
    pub(crate) tail: u32,
    pub(crate) count: u32,
    /// Next free level while this one is free.
    pub(crate) next_free: u32,
    pub(crate) price: Price,
    /// Sum of the open quantities of its orders.
    pub(crate) total: Qty,
}

const _: () = assert!(size_of::<Level>() == 32);

/// Fixed pool of levels with a free list.
#[derive(Clone, Debug)]
pub(crate) struct LevelPool {
    pub(crate) levels: Vec<Level>,
    free_head: u32,
    free: u32,
}

impl LevelPool {
    pub(crate) fn new(levels_max: u32) -> LevelPool {
        let levels = (0..levels_max)
            .map(|i| Level {
                head: NIL,
                tail: NIL,
                count: 0,
                next_free: if i + 1 < levels_max { i + 1 } else { NIL },
                price: Price(0),
                total: Qty(0),
            })
            .collect();
        LevelPool { levels, free_head: 0, free: levels_max }
    }

    pub(crate) fn free(&self) -> u32 {
        self.free
    }

    /// Takes a free level, empty, at `price`. The caller checked `free() > 0`.
    pub(crate) fn alloc(&mut self, price: Price) -> u32 {
        let index = self.free_head;
        assert!(index != NIL, "level pool exhausted after the capacity check");
        let level = &mut self.levels[index as usize];
        self.free_head = level.next_free;
        *level = Level { head: NIL, tail: NIL, count: 0, next_free: NIL, price, total: Qty(0) };
        self.free -= 1;
        index
    }

    /// Returns an empty level to the pool.
    pub(crate) fn release(&mut self, index: u32) {
        let level = &mut self.levels[index as usize];
        assert!(level.count == 0 && level.total == Qty(0), "releasing a non-empty level");
        level.next_free = self.free_head;
        self.free_head = index;
        self.free += 1;
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.levels.capacity() * size_of::<Level>()
    }
}

/// The levels of one side, sorted by key with the best last (see the module docs).
///
/// Removed levels leave a tombstone (`NIL`) that keeps its key, so the keys stay strictly increasing
/// and removal never shifts the arrays. An insertion reuses a tombstone next to its position, or
/// shifts only up to a tombstone at most `TOMBSTONE_REACH` away, or else shifts the levels better
/// than it as a plain insert does. The last entry is never a tombstone (trailing ones are
/// popped), so the best level stays `last()`. Tombstones are compacted away when they outnumber the
/// live levels (amortised O(1) per removal).
#[derive(Clone, Debug)]
pub(crate) struct BookSide {
    pub(crate) side: Side,
    keys: Vec<i64>,
    levels: Vec<u32>,
    tombstones: usize,
    index: PriceIndex,
}

/// Where the nearest tombstone lies relative to an insertion point.
enum Hole {
    Left(usize),
    Right(usize),
}

/// How far an insertion looks for a tombstone to fill.
const TOMBSTONE_REACH: usize = 8;

/// Tombstones tolerated before a compaction, at least.
const TOMBSTONES_MIN: usize = 32;

impl BookSide {
    pub(crate) fn new(side: Side, reserved: usize) -> BookSide {
        BookSide {
            side,
            keys: Vec::with_capacity(reserved),
            levels: Vec::with_capacity(reserved),
            tombstones: 0,
            index: PriceIndex::new(reserved),
        }
    }

    fn key(&self, price: Price) -> i64 {
        match self.side {
            Side::Buy => price.0,
            Side::Sell => -price.0,
        }
    }

    /// The best level.
    pub(crate) fn best(&self) -> Option<u32> {
        self.levels.last().copied()
    }

    /// The level at `price`: O(1) through the price index.
    pub(crate) fn level_of(&self, price: Price, pool: &LevelPool) -> Option<u32> {
        match self.keys.last() {
            Some(&last) if last == self.key(price) => self.levels.last().copied(),
            _ => self.index.get(price.0, &pool.levels),
        }
    }

    /// The first position whose key is not below `key`.
    fn position(&self, key: i64) -> usize {
        match self.keys.last() {
            Some(&last) if last < key => self.keys.len(),
            _ => self.keys.partition_point(|&k| k < key),
        }
    }

    /// Adds a level at a price the side does not have.
    pub(crate) fn insert(&mut self, price: Price, level: u32, pool: &LevelPool) {
        let key = self.key(price);
        let at = self.position(key);
        self.index.insert(price.0, level, &pool.levels);
        let (keys, levels) = (&mut self.keys, &mut self.levels);
        if at < keys.len() && keys[at] == key {
            assert!(levels[at] == NIL, "inserting a price the side already has");
            levels[at] = level;
        } else if at > 0 && levels[at - 1] == NIL {
            (keys[at - 1], levels[at - 1]) = (key, level);
        } else if at < keys.len() && levels[at] == NIL {
            (keys[at], levels[at]) = (key, level);
        } else {
            self.shift_in(at, key, level);
            return;
        }
        self.tombstones -= 1;
    }

    /// Inserts before `at` by shifting toward a nearby tombstone, or grows the arrays.
    fn shift_in(&mut self, at: usize, key: i64, level: u32) {
        let (keys, levels) = (&mut self.keys, &mut self.levels);
        match Self::nearest_tombstone(levels, at, self.tombstones) {
            Some(Hole::Right(r)) => {
                keys.copy_within(at..r, at + 1);
                levels.copy_within(at..r, at + 1);
                (keys[at], levels[at]) = (key, level);
            }
            Some(Hole::Left(l)) => {
                keys.copy_within(l + 1..at, l);
                levels.copy_within(l + 1..at, l);
                (keys[at - 1], levels[at - 1]) = (key, level);
            }
            None => {
                keys.insert(at, key);
                levels.insert(at, level);
                return;
            }
        }
        self.tombstones -= 1;
    }

    /// A tombstone within `TOMBSTONE_REACH` of `at`, nearest first. Farther holes are not worth the
    /// scan: a plain insert's shift (one `memmove`) is cheaper than a long branchy search.
    fn nearest_tombstone(levels: &[u32], at: usize, tombstones: usize) -> Option<Hole> {
        if tombstones == 0 {
            return None;
        }
        for distance in 0..TOMBSTONE_REACH {
            if at + distance < levels.len() && levels[at + distance] == NIL {
                return Some(Hole::Right(at + distance));
            }
            if distance < at && levels[at - 1 - distance] == NIL {
                return Some(Hole::Left(at - 1 - distance));
            }
        }
        None
    }

    /// Removes the level at `price`, which must exist.
    pub(crate) fn remove(&mut self, price: Price, pool: &LevelPool) {
        let key = self.key(price);
        let at = self.position(key);
        assert!(
            at < self.keys.len() && self.keys[at] == key && self.levels[at] != NIL,
            "removing a level that is not in its side"
        );
        self.index.remove(price.0, &pool.levels);
        self.levels[at] = NIL;
        self.tombstones += 1;
        while self.levels.last() == Some(&NIL) {
            self.keys.pop();
            self.levels.pop();
            self.tombstones -= 1;
        }
        if self.tombstones > TOMBSTONES_MIN.max(self.len()) {
            self.compact();
        }
    }

    fn compact(&mut self) {
        let mut kept = 0;
        for i in 0..self.levels.len() {
            if self.levels[i] != NIL {
                self.keys[kept] = self.keys[i];
                self.levels[kept] = self.levels[i];
                kept += 1;
            }
        }
        self.keys.truncate(kept);
        self.levels.truncate(kept);
        self.tombstones = 0;
    }

    /// Levels from best to worst.
    pub(crate) fn iter_best_first(&self) -> impl Iterator<Item = u32> + '_ {
        self.levels.iter().rev().copied().filter(|&l| l != NIL)
    }

    /// Levels from worst to best (the order a snapshot is restored in: each one appends).
    pub(crate) fn iter_worst_first(&self) -> impl Iterator<Item = u32> + '_ {
        self.levels.iter().copied().filter(|&l| l != NIL)
    }

    /// Number of levels.
    pub(crate) fn len(&self) -> usize {
        self.levels.len() - self.tombstones
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.keys.capacity() * 8 + self.levels.capacity() * 4 + self.index.heap_bytes()
    }
}

/// One instrument's book.
#[derive(Clone, Debug)]
pub(crate) struct Book {
    pub(crate) spec: InstrumentSpec,
    pub(crate) bids: BookSide,
    pub(crate) asks: BookSide,
    /// Trades so far; the last trade id.
    pub(crate) trades: u64,
    /// Price of the last trade, if any.
    pub(crate) last_price: Option<Price>,
}

impl Book {
    pub(crate) fn new(spec: InstrumentSpec, side_levels_reserved: usize) -> Book {
        Book {
            spec,
            last_price: None,
            bids: BookSide::new(Side::Buy, side_levels_reserved),
            asks: BookSide::new(Side::Sell, side_levels_reserved),
            trades: 0,
        }
    }

    pub(crate) fn side(&self, side: Side) -> &BookSide {
        match side {
            Side::Buy => &self.bids,
            Side::Sell => &self.asks,
        }
    }

    pub(crate) fn side_mut(&mut self, side: Side) -> &mut BookSide {
        match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        }
    }
}

/// Head and tail of a user's order list, and the user's trading status: the per-user data every
/// order command reads, in one 16-byte entry (the ledger's `UserInfo` is the record of truth for
/// the status; `create_user` and `set_user_suspended` mirror it here).
#[derive(Clone, Copy, Debug)]
pub(crate) struct UserOrders {
    pub(crate) head: u32,
    pub(crate) tail: u32,
    pub(crate) count: u32,
    /// `EXISTS | SUSPENDED`.
    pub(crate) status: u32,
}

impl UserOrders {
    pub(crate) const EXISTS: u32 = 1;
    pub(crate) const SUSPENDED: u32 = 2;
}

impl Default for UserOrders {
    fn default() -> Self {
        UserOrders { head: NIL, tail: NIL, count: 0, status: 0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sides_keep_best_last() {
        let mut pool = LevelPool::new(8);
        let mut asks = BookSide::new(Side::Sell, 4);
        for p in [105, 101, 103] {
            let level = pool.alloc(Price(p));
            asks.insert(Price(p), level, &pool);
        }
        assert_eq!(asks.best(), Some(1), "lowest ask is best");
        assert_eq!(asks.iter_best_first().collect::<Vec<_>>(), vec![1, 2, 0]);
        assert_eq!(asks.level_of(Price(103), &pool), Some(2));
        asks.remove(Price(103), &pool);
        pool.release(2);
        assert_eq!(asks.level_of(Price(103), &pool), None);
        assert_eq!(asks.iter_best_first().collect::<Vec<_>>(), vec![1, 0]);
        let mut bids = BookSide::new(Side::Buy, 4);
        let levels: Vec<u32> = [99, 100, 98]
            .into_iter()
            .map(|p| {
                let level = pool.alloc(Price(p));
                bids.insert(Price(p), level, &pool);
                level
            })
            .collect();
        assert_eq!(bids.best(), Some(levels[1]), "highest bid is best");
        assert_eq!(bids.level_of(Price(98), &pool), Some(levels[2]));
    }

    /// Random inserts and removals against a `BTreeMap`, with compactions and tombstone reuse.
    #[test]
    fn side_matches_a_sorted_map_under_churn() {
        for side in [Side::Buy, Side::Sell] {
            let mut pool = LevelPool::new(128);
            let mut book_side = BookSide::new(side, 2);
            let mut model = std::collections::BTreeMap::new();
            let mut state = 12_345u64;
            for step in 0..20_000u32 {
                state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                let price = Price(1_000 + i64::try_from(state >> 58).unwrap() * 3);
                if let Some(level) = model.remove(&price) {
                    book_side.remove(price, &pool);
                    pool.release(level);
                } else {
                    let level = pool.alloc(price);
                    model.insert(price, level);
                    book_side.insert(price, level, &pool);
                }
                let expected: Vec<u32> = match side {
                    Side::Buy => model.values().rev().copied().collect(),
                    Side::Sell => model.values().copied().collect(),
                };
                assert_eq!(book_side.iter_best_first().collect::<Vec<_>>(), expected, "step {step}");
                assert_eq!(book_side.len(), model.len());
                for (&p, &level) in &model {
                    assert_eq!(book_side.level_of(p, &pool), Some(level), "step {step}");
                }
                assert!(book_side.keys.windows(2).all(|w| w[0] < w[1]), "keys sorted at step {step}");
                assert!(book_side.levels.last() != Some(&NIL), "trailing tombstone at step {step}");
            }
        }
    }
}

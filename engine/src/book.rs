//! Storage of the books: the order arena record, price levels and the sorted sides.
//!
//! - [`Order`]: one cache line (64 bytes, aligned) per arena slot. Orders of a level form a doubly
//!   linked FIFO queue (`prev`/`next`); orders of a user form a second list (`user_prev`/`user_next`)
//!   in acceptance order, which is ascending order id.
//! - [`Level`]: 32 bytes, held in [`LevelPool`], a fixed pool with a LIFO free list.
//! - [`BookSide`]: the levels of one side sorted by key, *best last*: key = price for bids and
//!   -price for asks, so the best level is always `last()` and taking it is a `pop()`.
//!
//! Complexity: best price O(1); level lookup O(1) when the price is the best, else O(log L) binary
//! search; creating or removing a level shifts the levels *better* than it (usually few: activity
//! concentrates near the top of the book). Known limitation: a new level far from the best in a book
//! with tens of thousands of levels pays for that shift.

use crate::price_index::PriceIndex;
use crate::types::{
    InstrumentId, InstrumentSpec, OrderId, Price, Qty, SelfTradePrevention, Side, UserId,
};

/// End of a list / no slot.
pub(crate) const NIL: u32 = u32::MAX;

/// A resting order. Fields are meaningful only while its slot is taken.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C, align(64))]
pub(crate) struct Order {
    pub(crate) id: OrderId,
    pub(crate) price: Price,
    /// Open (leaves) quantity.
    pub(crate) qty: Qty,
    pub(crate) user: UserId,
    pub(crate) instrument: InstrumentId,
    /// The level it rests in (a `LevelPool` index).
    pub(crate) level: u32,
    pub(crate) prev: u32,
    pub(crate) next: u32,
    pub(crate) user_prev: u32,
    pub(crate) user_next: u32,
    pub(crate) side: Side,
    pub(crate) self_trade: SelfTradePrevention,
    pub(crate) post_only: bool,
    pub(crate) has_client_id: bool,
}

const _: () = assert!(size_of::<Order>() == 64);

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
        LevelPool {
            levels,
            free_head: 0,
            free: levels_max,
        }
    }

    pub(crate) fn free(&self) -> u32 {
        self.free
    }

    /// Takes a free level, empty, at `price`. The caller checked `free() > 0`.
    pub(crate) fn alloc(&mut self, price: Price) -> u32 {
        let index = self.free_head;
        assert!(
            index != NIL,
            "level pool exhausted after the capacity check"
        );
        let level = &mut self.levels[index as usize];
        self.free_head = level.next_free;
        *level = Level {
            head: NIL,
            tail: NIL,
            count: 0,
            next_free: NIL,
            price,
            total: Qty(0),
        };
        self.free -= 1;
        index
    }

    /// Returns an empty level to the pool.
    pub(crate) fn release(&mut self, index: u32) {
        let level = &mut self.levels[index as usize];
        assert!(
            level.count == 0 && level.total == Qty(0),
            "releasing a non-empty level"
        );
        level.next_free = self.free_head;
        self.free_head = index;
        self.free += 1;
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.levels.capacity() * size_of::<Level>()
    }
}

/// The levels of one side, sorted by key with the best last.
#[derive(Clone, Debug)]
pub(crate) struct BookSide {
    pub(crate) side: Side,
    keys: Vec<i64>,
    levels: Vec<u32>,
    index: PriceIndex,
}

impl BookSide {
    pub(crate) fn new(side: Side, reserved: usize) -> BookSide {
        BookSide {
            side,
            keys: Vec::with_capacity(reserved),
            levels: Vec::with_capacity(reserved),
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
    pub(crate) fn level_of(&self, price: Price) -> Option<u32> {
        match self.keys.last() {
            Some(&last) if last == self.key(price) => self.levels.last().copied(),
            _ => self.index.get(price.0),
        }
    }

    /// The position of `price` in the sorted arrays, or where it would be inserted.
    fn find(&self, price: Price) -> Result<usize, usize> {
        let key = self.key(price);
        match self.keys.last() {
            Some(&last) if last == key => Ok(self.keys.len() - 1),
            Some(&last) if last < key => Err(self.keys.len()),
            _ => self.keys.binary_search(&key),
        }
    }

    /// Adds a level at a price the side does not have.
    pub(crate) fn insert(&mut self, price: Price, level: u32) {
        let position = self
            .find(price)
            .expect_err("inserting a price the side already has");
        self.keys.insert(position, self.key(price));
        self.levels.insert(position, level);
        self.index.insert(price.0, level);
    }

    /// Removes the level at `price`, which must exist.
    pub(crate) fn remove(&mut self, price: Price) {
        let position = self
            .find(price)
            .expect("removing a level that is not in its side");
        self.keys.remove(position);
        self.levels.remove(position);
        self.index.remove(price.0);
    }

    /// Levels from best to worst.
    pub(crate) fn iter_best_first(&self) -> impl Iterator<Item = u32> + '_ {
        self.levels.iter().rev().copied()
    }

    pub(crate) fn len(&self) -> usize {
        self.levels.len()
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
}

impl Book {
    pub(crate) fn new(spec: InstrumentSpec, side_levels_reserved: usize) -> Book {
        Book {
            spec,
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

/// Head and tail of a user's order list.
#[derive(Clone, Copy, Debug)]
pub(crate) struct UserOrders {
    pub(crate) head: u32,
    pub(crate) tail: u32,
    pub(crate) count: u32,
}

impl Default for UserOrders {
    fn default() -> Self {
        UserOrders {
            head: NIL,
            tail: NIL,
            count: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sides_keep_best_last() {
        let mut asks = BookSide::new(Side::Sell, 4);
        for (i, p) in [105, 101, 103].into_iter().enumerate() {
            asks.insert(Price(p), u32::try_from(i).unwrap());
        }
        assert_eq!(asks.best(), Some(1), "lowest ask is best");
        assert_eq!(asks.iter_best_first().collect::<Vec<_>>(), vec![1, 2, 0]);
        assert_eq!(asks.level_of(Price(103)), Some(2));
        asks.remove(Price(103));
        assert_eq!(asks.level_of(Price(103)), None);
        assert_eq!(asks.find(Price(103)), Err(1));
        let mut bids = BookSide::new(Side::Buy, 4);
        for (i, p) in [99, 100, 98].into_iter().enumerate() {
            bids.insert(Price(p), u32::try_from(i).unwrap());
        }
        assert_eq!(bids.best(), Some(1), "highest bid is best");
        assert_eq!(bids.level_of(Price(98)), Some(2));
    }
}

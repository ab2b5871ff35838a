//! `PriceIndex`: price -> level of one book side, so that joining an existing level is O(1).
//!
//! Open addressing with linear probing over a power-of-two table of `(level, home bucket)` entries,
//! kept at most half full; Fibonacci hashing of the price; deletion shifts later entries back (no
//! tombstones). A candidate is confirmed by the price in its level (the level the caller touches
//! next), so an entry is 8 bytes.
//!
//! Invariants: one entry per level of the side, whose home is the hash of that level's price at the
//! current size; `len` counts them. Memory: 8 bytes per entry, 2 to 4 entries per level. The table doubles (one allocation, amortised) only when the side holds more
//! levels than ever before; it never shrinks.

use crate::book::{Level, NIL};

/// A level and the home bucket its price hashes to (at the current table size). The price itself
/// lives in the level pool: a lookup confirms a candidate there, which is the line the caller reads
/// next anyway. 8 bytes instead of 16 halve the index's cache footprint.
#[derive(Clone, Copy, Debug)]
struct Entry {
    level: u32,
    home: u32,
}

const VACANT: Entry = Entry { level: NIL, home: 0 };

/// Fibonacci hashing: the top `64 - shift` bits of the price times 2^64 / phi.
fn home_of(price: i64, shift: u32) -> u32 {
    // At most 32 bits survive the shift (the table never exceeds 2^32 entries).
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let home = ((price as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> shift) as u32;
    home
}

/// See the module docs.
#[derive(Clone, Debug)]
pub(crate) struct PriceIndex {
    table: Vec<Entry>,
    shift: u32,
    len: usize,
}

impl PriceIndex {
    /// An index with room for `levels` levels before it grows.
    pub(crate) fn new(levels: usize) -> PriceIndex {
        let size = (levels * 2).next_power_of_two().max(8);
        assert!(size <= 1 << 32, "price index larger than 2^32 entries");
        PriceIndex {
            table: crate::engine::prefaulted(size, VACANT),
            shift: 64 - size.trailing_zeros(),
            len: 0,
        }
    }

    fn mask(&self) -> usize {
        self.table.len() - 1
    }

    /// The bucket holding `price`, confirmed against the level pool.
    fn find(&self, price: i64, levels: &[Level]) -> Option<usize> {
        let home = home_of(price, self.shift);
        let mut at = home as usize;
        loop {
            let entry = self.table[at];
            if entry.level == NIL {
                return None;
            }
            if entry.home == home && levels[entry.level as usize].price.0 == price {
                return Some(at);
            }
            at = (at + 1) & self.mask();
        }
    }

    /// The level at `price`.
    pub(crate) fn get(&self, price: i64, levels: &[Level]) -> Option<u32> {
        self.find(price, levels).map(|at| self.table[at].level)
    }

    /// Adds `level`, whose price (in `levels`) is not present.
    pub(crate) fn insert(&mut self, price: i64, level: u32, levels: &[Level]) {
        if (self.len + 1) * 2 > self.table.len() {
            self.grow(levels);
        }
        let home = home_of(price, self.shift);
        let mut at = home as usize;
        while self.table[at].level != NIL {
            at = (at + 1) & self.mask();
        }
        self.table[at] = Entry { level, home };
        self.len += 1;
    }

    fn grow(&mut self, levels: &[Level]) {
        let old = std::mem::replace(self, PriceIndex::new(self.table.len()));
        for entry in old.table.into_iter().filter(|e| e.level != NIL) {
            self.insert(levels[entry.level as usize].price.0, entry.level, levels);
        }
    }

    /// Removes a price that is present.
    pub(crate) fn remove(&mut self, price: i64, levels: &[Level]) {
        let hole =
            self.find(price, levels).unwrap_or_else(|| panic!("removing price {price} that is not indexed"));
        crate::probe::remove_at(&mut self.table, hole, VACANT, |e| e.level == NIL, |e| e.home as usize);
        self.len -= 1;
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.table.capacity() * size_of::<Entry>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Price, Qty};

    #[test]
    fn grows_and_survives_removals() {
        let prices: Vec<i64> = (0..200).map(|i| 1_000 + i * 7).collect();
        let levels: Vec<Level> = prices
            .iter()
            .map(|&p| Level {
                head: NIL,
                tail: NIL,
                count: 0,
                next_free: NIL,
                price: Price(p),
                total: Qty(0),
            })
            .collect();
        let mut index = PriceIndex::new(2);
        for (level, &p) in prices.iter().enumerate() {
            index.insert(p, u32::try_from(level).unwrap(), &levels);
        }
        for &p in prices.iter().step_by(2) {
            index.remove(p, &levels);
        }
        for (level, &p) in prices.iter().enumerate() {
            let expected = (level % 2 == 1).then(|| u32::try_from(level).unwrap());
            assert_eq!(index.get(p, &levels), expected, "price {p}");
        }
        assert_eq!(index.get(5, &levels), None);
    }
}

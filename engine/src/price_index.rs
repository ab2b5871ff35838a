//! `PriceIndex`: price -> level of one book side, so that joining an existing level is O(1).
//!
//! Open addressing with linear probing over a power-of-two table of `(price, level)` entries, kept at
//! most half full; Fibonacci hashing of the price; deletion shifts later entries back (no
//! tombstones). Keys live in the table, so a lookup touches one line in the common case.
//!
//! Invariants: one entry per level of the side; `len` counts them. Memory: 16 bytes per entry, 2 to 4
//! entries per level. The table doubles (one allocation, amortised) only when the side holds more
//! levels than ever before; it never shrinks.

use crate::book::NIL;

#[derive(Clone, Copy, Debug)]
struct Entry {
    price: i64,
    level: u32,
}

const VACANT: Entry = Entry { price: 0, level: NIL };

/// Fibonacci hashing: the top `64 - shift` bits of the price times 2^64 / phi.
fn home_of(price: i64, shift: u32) -> usize {
    // The shift leaves log2(table size) bits, so the cast cannot truncate on 64-bit targets.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let home = ((price as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> shift) as usize;
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
        PriceIndex {
            table: crate::engine::prefaulted(size, VACANT),
            shift: 64 - size.trailing_zeros(),
            len: 0,
        }
    }

    fn home(&self, price: i64) -> usize {
        home_of(price, self.shift)
    }

    fn mask(&self) -> usize {
        self.table.len() - 1
    }

    /// The level at `price`.
    pub(crate) fn get(&self, price: i64) -> Option<u32> {
        let mut at = self.home(price);
        loop {
            let entry = self.table[at];
            if entry.level == NIL {
                return None;
            }
            if entry.price == price {
                return Some(entry.level);
            }
            at = (at + 1) & self.mask();
        }
    }

    /// Adds a price that is not present.
    pub(crate) fn insert(&mut self, price: i64, level: u32) {
        if (self.len + 1) * 2 > self.table.len() {
            self.grow();
        }
        let mut at = self.home(price);
        while self.table[at].level != NIL {
            debug_assert_ne!(self.table[at].price, price, "price indexed twice");
            at = (at + 1) & self.mask();
        }
        self.table[at] = Entry { price, level };
        self.len += 1;
    }

    fn grow(&mut self) {
        let old = std::mem::replace(self, PriceIndex::new(self.table.len()));
        for entry in old.table.into_iter().filter(|e| e.level != NIL) {
            self.insert(entry.price, entry.level);
        }
    }

    /// Removes a price that is present.
    pub(crate) fn remove(&mut self, price: i64) {
        let mut hole = self.home(price);
        while self.table[hole].price != price || self.table[hole].level == NIL {
            assert!(self.table[hole].level != NIL, "removing price {price} that is not indexed");
            hole = (hole + 1) & self.mask();
        }
        let shift = self.shift;
        crate::probe::remove_at(
            &mut self.table,
            hole,
            VACANT,
            |e| e.level == NIL,
            |e| home_of(e.price, shift),
        );
        self.len -= 1;
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.table.capacity() * size_of::<Entry>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_and_survives_removals() {
        let mut index = PriceIndex::new(2);
        let prices: Vec<i64> = (0..200).map(|i| 1_000 + i * 7).collect();
        for (level, &p) in prices.iter().enumerate() {
            index.insert(p, u32::try_from(level).unwrap());
        }
        for &p in prices.iter().step_by(2) {
            index.remove(p);
        }
        for (level, &p) in prices.iter().enumerate() {
            let expected = (level % 2 == 1).then(|| u32::try_from(level).unwrap());
            assert_eq!(index.get(p), expected, "price {p}");
        }
        assert_eq!(index.get(5), None);
    }
}

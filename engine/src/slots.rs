//! `SlotBitmap`: which arena slots are free, answering "lowest free slot" in O(log64 n).
//!
//! Invariants: level 0 has one bit per slot (1 = free); a bit of level k+1 is set exactly when word
//! i of level k is non-zero. The top level is a single word. All memory is allocated in `new`.
//!
//! Handing out the *lowest* free slot (not the last freed one) makes slot choice, and with it order
//! ids, a function of the set of live orders alone: the state hash and snapshots need no free list.
//! Complexity: `lowest_free` O(1) (cached); `take` and `release` touch one word per level (4 levels
//! for 2^24 slots) at most, and `take` of the lowest slot descends the levels only when its word
//! empties (once in 64 takes in sequence).

/// Free-slot bitmap over `0..capacity`.
#[derive(Clone, Debug)]
pub(crate) struct SlotBitmap {
    levels: Vec<Vec<u64>>,
    free: u32,
    /// The lowest free slot (meaningless when `free` is 0), kept current by `take` and `release`.
    lowest: u32,
}

impl SlotBitmap {
    /// All of `0..capacity` free.
    pub(crate) fn new(capacity: u32) -> SlotBitmap {
        assert!(capacity > 0);
        let mut levels = Vec::new();
        let mut bits = capacity as usize;
        loop {
            let words = bits.div_ceil(64);
            let mut level = crate::engine::prefaulted(words, 0u64);
            for (i, word) in level.iter_mut().enumerate() {
                let live = (bits - i * 64).min(64);
                *word = if live == 64 { u64::MAX } else { (1u64 << live) - 1 };
            }
            levels.push(level);
            if words == 1 {
                break;
            }
            bits = words;
        }
        SlotBitmap { levels, free: capacity, lowest: 0 }
    }

    /// Number of free slots.
    pub(crate) fn free(&self) -> u32 {
        self.free
    }

    /// The lowest free slot: O(1).
    pub(crate) fn lowest_free(&self) -> Option<u32> {
        debug_assert!(self.free == 0 || Some(self.lowest) == self.search_lowest());
        (self.free > 0).then_some(self.lowest)
    }

    /// The lowest free slot by descending the summary levels.
    fn search_lowest(&self) -> Option<u32> {
        if self.free == 0 {
            return None;
        }
        let mut index = 0usize;
        for level in self.levels.iter().rev() {
            let word = level[index];
            debug_assert!(word != 0, "summary bit set over an empty word");
            index = index * 64 + word.trailing_zeros() as usize;
        }
        Some(u32::try_from(index).expect("slot index fits u32"))
    }

    /// True when `slot` is free.
    pub(crate) fn is_free(&self, slot: u32) -> bool {
        let slot = slot as usize;
        self.levels[0][slot / 64] & (1 << (slot % 64)) != 0
    }

    /// Marks a free slot used.
    pub(crate) fn take(&mut self, slot: u32) {
        assert!(self.is_free(slot), "slot {slot} taken twice");
        self.free -= 1;
        let mut index = slot as usize;
        for level in &mut self.levels {
            let word = &mut level[index / 64];
            *word &= !(1u64 << (index % 64));
            if *word != 0 {
                break;
            }
            index /= 64;
        }
        if slot == self.lowest {
            // Usually the next free slot shares the word (no lower bit is free): no descent.
            let word = self.levels[0][slot as usize / 64];
            self.lowest = if word != 0 {
                (slot & !63) + word.trailing_zeros()
            } else {
                self.search_lowest().unwrap_or(0)
            };
        }
    }

    /// Marks a used slot free.
    pub(crate) fn release(&mut self, slot: u32) {
        assert!(!self.is_free(slot), "slot {slot} released twice");
        if self.free == 0 || slot < self.lowest {
            self.lowest = slot;
        }
        self.free += 1;
        let mut index = slot as usize;
        for level in &mut self.levels {
            let word = &mut level[index / 64];
            let was_empty = *word == 0;
            *word |= 1u64 << (index % 64);
            if !was_empty {
                break;
            }
            index /= 64;
        }
    }

    /// Heap bytes held.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.levels.iter().map(|l| l.capacity() * 8).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hands_out_lowest_free_across_levels() {
        let capacity = 64 * 64 * 3 + 5;
        let mut bitmap = SlotBitmap::new(capacity);
        for expected in 0..capacity {
            let slot = bitmap.lowest_free().unwrap();
            assert_eq!(slot, expected);
            bitmap.take(slot);
        }
        assert_eq!(bitmap.lowest_free(), None);
        bitmap.release(9000);
        bitmap.release(70);
        assert_eq!(bitmap.lowest_free(), Some(70));
        bitmap.take(70);
        assert_eq!(bitmap.lowest_free(), Some(9000));
        assert_eq!(bitmap.free(), 1);
    }

    #[test]
    fn capacity_not_multiple_of_64_has_no_phantom_slots() {
        let mut bitmap = SlotBitmap::new(3);
        for _ in 0..3 {
            let slot = bitmap.lowest_free().unwrap();
            bitmap.take(slot);
        }
        assert_eq!(bitmap.lowest_free(), None);
    }

    /// Random takes (always of the lowest, as the engine does) and releases against a sorted set.
    #[test]
    fn cached_lowest_matches_a_model_under_churn() {
        let mut bitmap = SlotBitmap::new(5_000);
        let mut free: std::collections::BTreeSet<u32> = (0..5_000).collect();
        let mut state = 99u64;
        for step in 0..50_000 {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            if state >> 63 == 0 && !free.is_empty() {
                let slot = bitmap.lowest_free().unwrap();
                assert_eq!(Some(&slot), free.first(), "step {step}");
                bitmap.take(slot);
                free.remove(&slot);
            } else {
                let slot = u32::try_from((state >> 20) % 5_000).unwrap();
                if !free.contains(&slot) {
                    bitmap.release(slot);
                    free.insert(slot);
                }
            }
            assert_eq!(bitmap.lowest_free(), free.first().copied(), "step {step}");
            assert_eq!(bitmap.free() as usize, free.len());
        }
    }
}

//! `ClientIndex`: (user, client order id) -> arena slot, for resting orders that have a client id.
//!
//! Open addressing with linear probing over a power-of-two table of `u32` slots, at most half full
//! (the table has at least twice as many entries as there are order slots). Deletion shifts later
//! entries back, so there are no tombstones and probe lengths never degrade. Keys are not stored:
//! the caller answers "does slot s have this key" and "what is slot s's hash" from the order arena.
//!
//! Invariants: every entry names a live order with a client id; no two entries name the same slot.
//! Complexity: O(1) expected per operation. Memory: 8 bytes per order slot.
//! Known limitation: the hash is seeded from `EngineConfig::hash_seed`, not per process, so that the
//! engine stays deterministic; an adversary who knows the seed could lengthen probes (bounded by the
//! table size). All memory is allocated in `new`.

const EMPTY: u32 = u32::MAX;

/// The index. See the module docs.
#[derive(Clone, Debug)]
pub(crate) struct ClientIndex {
    table: Vec<u32>,
    mask: usize,
    len: usize,
}

impl ClientIndex {
    /// An index for up to `slots_max` entries.
    pub(crate) fn new(slots_max: u32) -> ClientIndex {
        let size = (slots_max as usize * 2).next_power_of_two().max(16);
        ClientIndex { table: vec![EMPTY; size], mask: size - 1, len: 0 }
    }

    /// Number of entries.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    // The table size is a power of two at most 2^25, so masking keeps the value in usize range.
    #[allow(clippy::cast_possible_truncation)]
    fn home(&self, hash: u64) -> usize {
        (hash as usize) & self.mask
    }

    /// The slot whose key has `hash` and satisfies `is_key`.
    pub(crate) fn find(&self, hash: u64, is_key: impl Fn(u32) -> bool) -> Option<u32> {
        let mut at = self.home(hash);
        loop {
            let slot = self.table[at];
            if slot == EMPTY {
                return None;
            }
            if is_key(slot) {
                return Some(slot);
            }
            at = (at + 1) & self.mask;
        }
    }

    /// Adds `slot` under `hash`. The key must not be present.
    pub(crate) fn insert(&mut self, hash: u64, slot: u32) {
        assert!(self.len < self.table.len() / 2, "client index over half full");
        let mut at = self.home(hash);
        while self.table[at] != EMPTY {
            debug_assert_ne!(self.table[at], slot, "slot indexed twice");
            at = (at + 1) & self.mask;
        }
        self.table[at] = slot;
        self.len += 1;
    }

    /// Removes `slot`, whose key has `hash`; `hash_of` gives the hash of any indexed slot.
    pub(crate) fn remove(&mut self, hash: u64, slot: u32, hash_of: impl Fn(u32) -> u64) {
        let mut hole = self.home(hash);
        while self.table[hole] != slot {
            assert!(self.table[hole] != EMPTY, "removing slot {slot} that is not indexed");
            hole = (hole + 1) & self.mask;
        }
        let mask = self.mask;
        #[allow(clippy::cast_possible_truncation)]
        crate::probe::remove_at(
            &mut self.table,
            hole,
            EMPTY,
            |&s| s == EMPTY,
            |&s| (hash_of(s) as usize) & mask,
        );
        self.len -= 1;
    }

    /// Every indexed slot (for invariant checks).
    pub(crate) fn slots(&self) -> impl Iterator<Item = u32> + '_ {
        self.table.iter().copied().filter(|&s| s != EMPTY)
    }

    /// Heap bytes held.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.table.capacity() * 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keys collide on purpose (hash = key % 4) to exercise probing and backward shifts.
    #[test]
    fn insert_find_remove_with_collisions_and_wraparound() {
        let hash_of = |slot: u32| u64::from(slot % 4) + 13; // homes near the end of a 16-entry table
        let mut index = ClientIndex::new(8);
        let keys = [1u32, 5, 9, 2, 6, 3];
        for &k in &keys {
            index.insert(hash_of(k), k);
        }
        for &k in &keys {
            assert_eq!(index.find(hash_of(k), |s| s == k), Some(k));
        }
        index.remove(hash_of(5), 5, hash_of);
        index.remove(hash_of(2), 2, hash_of);
        assert_eq!(index.find(hash_of(5), |s| s == 5), None);
        for &k in &[1u32, 9, 6, 3] {
            assert_eq!(index.find(hash_of(k), |s| s == k), Some(k), "lost {k} after removals");
        }
        assert_eq!(index.len(), 4);
    }
}

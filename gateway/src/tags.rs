//! Maps keyed by request tag: the gateway's own tags are unique, sequential `u64`s it made, so
//! they need no keyed (flood-resistant) hash, only a well-spread one: one multiplication
//! (Fibonacci hashing) instead of `SipHash`, on every output the gateway routes. The book mirror
//! keys its price levels the same way (prices come from the engine, not from a client).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A hasher for `u64` tags only.
#[derive(Clone, Copy, Debug, Default)]
pub struct TagHasher(u64);

impl Hasher for TagHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is meant to be used; anything else still hashes, byte by byte.
        for &b in bytes {
            self.write_u64(u64::from(b) ^ self.0.rotate_left(8));
        }
    }

    fn write_u64(&mut self, tag: u64) {
        self.0 = (tag ^ self.0).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// A map from request tag (or another `u64` the gateway trusts) to `V`.
pub type TagMap<V> = HashMap<u64, V, BuildHasherDefault<TagHasher>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequential_tags_spread_over_the_top_bits() {
        let tops: std::collections::BTreeSet<u64> = (1..=128u64)
            .map(|tag| {
                let mut h = TagHasher::default();
                h.write_u64(tag);
                h.finish() >> 57
            })
            .collect();
        assert!(tops.len() > 64, "hashbrown's control bytes use the top 7 bits: {}", tops.len());
    }
}

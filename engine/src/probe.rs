//! Deletion for the engine's linear-probing tables (`ClientIndex`, `PriceIndex`).
//!
//! Backward-shift deletion: after emptying a bucket, later entries of the same probe run move back
//! into the hole unless their home bucket lies cyclically after the hole, so no tombstones exist and
//! lookups stop at the first vacant bucket. O(length of the probe run).

/// Empties `table[hole]` (table size a power of two) and closes the gap.
pub(crate) fn remove_at<T: Copy>(
    table: &mut [T],
    mut hole: usize,
    vacant: T,
    is_vacant: impl Fn(&T) -> bool,
    home_of: impl Fn(&T) -> usize,
) {
    let mask = table.len() - 1;
    let mut at = hole;
    loop {
        at = (at + 1) & mask;
        let moving = table[at];
        if is_vacant(&moving) {
            break;
        }
        let moving_home = home_of(&moving);
        // `moving` stays when its home lies cyclically in (hole, at].
        let stays = if hole <= at {
            hole < moving_home && moving_home <= at
        } else {
            hole < moving_home || moving_home <= at
        };
        if !stays {
            table[hole] = moving;
            hole = at;
        }
    }
    table[hole] = vacant;
}

//! `Marks`: a set of connection slots to visit, each once, in the order they were marked.
//!
//! Used for the sessions with bytes to write and the connections left with bytes to read at the
//! end of their turn. Invariants: a slot is in the list at most once, and marked exactly when it is
//! in it. Complexity: O(1) to mark, O(marked) to take. Memory: a flag per slot ever marked; no
//! allocation once the list and the flags have grown to their largest.

/// See the module docs.
#[derive(Debug, Default)]
pub struct Marks {
    list: Vec<usize>,
    marked: Vec<bool>,
}

impl Marks {
    /// Marks `slot` (once).
    pub fn insert(&mut self, slot: usize) {
        if slot >= self.marked.len() {
            self.marked.resize(slot + 1, false);
        }
        if !self.marked[slot] {
            self.marked[slot] = true;
            self.list.push(slot);
        }
    }

    /// True when nothing is marked.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The marked slots, in the order marked; the marks are cleared.
    pub fn take(&mut self) -> Vec<usize> {
        for &slot in &self.list {
            self.marked[slot] = false;
        }
        std::mem::take(&mut self.list)
    }

    /// Gives a taken list back for reuse.
    pub fn recycle(&mut self, mut list: Vec<usize>) {
        if self.list.is_empty() {
            list.clear();
            self.list = list;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_slot_once_in_the_order_marked_and_marks_cleared_by_take() {
        let mut marks = Marks::default();
        for slot in [5, 2, 5, 9, 2] {
            marks.insert(slot);
        }
        let taken = marks.take();
        assert_eq!(taken, vec![5, 2, 9]);
        assert!(marks.is_empty());
        marks.recycle(taken);
        marks.insert(2);
        assert_eq!(marks.take(), vec![2], "a taken slot can be marked again");
    }
}

//! `Marks`: a set of connection slots to visit, each once, in the order they were marked; and
//! [`Turns`], built on it: the connections whose read was stopped at its turn's bound.
//!
//! Used for the connections with bytes to write and those left with bytes to read at the end of
//! their turn of the IO loop. Invariants: a slot is in the list at most once, and marked exactly when it is
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

/// The connections to read again: those whose turn of the IO loop ended with input left (mio's
/// readiness is edge triggered, so no event would bring them back). Each is read once in the
/// next turn, after the connections with news, and not again for an event of its own in it.
#[derive(Debug, Default)]
pub struct Turns {
    next: Marks,
    due: Vec<usize>,
}

impl Turns {
    /// `slot` stopped at its turn's bound with more to read.
    pub fn defer(&mut self, slot: usize) {
        self.next.insert(slot);
    }

    /// True when a connection waits for its next turn (the loop must not sleep).
    #[must_use]
    pub fn waiting(&self) -> bool {
        !self.next.is_empty()
    }

    /// A turn starts: the deferred connections are due in it.
    pub fn begin(&mut self) {
        debug_assert!(self.due.is_empty(), "every turn takes what was due");
        self.due = self.next.take();
    }

    /// True when `slot` is read at the end of this turn (its event now is passed over).
    #[must_use]
    pub fn is_due(&self, slot: usize) -> bool {
        self.due.contains(&slot)
    }

    /// The connections due this turn; the list goes back through [`Turns::done`].
    pub fn take_due(&mut self) -> Vec<usize> {
        std::mem::take(&mut self.due)
    }

    /// Gives a taken list back for reuse.
    pub fn done(&mut self, due: Vec<usize>) {
        self.next.recycle(due);
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

    #[test]
    fn a_deferred_connection_is_due_in_the_next_turn_only() {
        let mut turns = Turns::default();
        turns.defer(4);
        turns.defer(4);
        assert!(turns.waiting());
        turns.begin();
        assert!(turns.is_due(4) && !turns.is_due(3) && !turns.waiting());
        let due = turns.take_due();
        assert_eq!(due, vec![4]);
        turns.defer(3);
        turns.done(due);
        turns.begin();
        assert!(turns.is_due(3) && !turns.is_due(4));
        let due = turns.take_due();
        turns.done(due);
        turns.begin();
        assert!(!turns.is_due(3), "read in its turn, then not due again unless deferred again");
    }
}

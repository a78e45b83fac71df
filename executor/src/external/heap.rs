//! A binary min-heap ordered by a comparison given at construction (the merges order records by a key
//! read through the user's `Ord`, ascending or descending, with ties broken by source).

pub(crate) struct MinHeap<T, L> {
    items: Vec<T>,
    less: L,
}

impl<T, L: Fn(&T, &T) -> bool> MinHeap<T, L> {
    pub(crate) fn new(less: L) -> MinHeap<T, L> {
        MinHeap { items: Vec::new(), less }
    }

    pub(crate) fn peek(&self) -> Option<&T> {
        self.items.first()
    }

    pub(crate) fn push(&mut self, item: T) {
        self.items.push(item);
        let mut at = self.items.len() - 1;
        while at > 0 {
            let parent = (at - 1) / 2;
            if !(self.less)(&self.items[at], &self.items[parent]) {
                break;
            }
            self.items.swap(at, parent);
            at = parent;
        }
    }

    pub(crate) fn pop(&mut self) -> Option<T> {
        let last = self.items.len().checked_sub(1)?;
        self.items.swap(0, last);
        let top = self.items.pop();
        let len = self.items.len();
        let mut at = 0;
        loop {
            let (left, right) = (2 * at + 1, 2 * at + 2);
            let mut smallest = at;
            if left < len && (self.less)(&self.items[left], &self.items[smallest]) {
                smallest = left;
            }
            if right < len && (self.less)(&self.items[right], &self.items[smallest]) {
                smallest = right;
            }
            if smallest == at {
                return top;
            }
            self.items.swap(at, smallest);
            at = smallest;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_in_the_given_order() {
        let mut heap = MinHeap::new(|a: &(u32, usize), b: &(u32, usize)| (b.0, a.1) < (a.0, b.1));
        for (i, x) in [5u32, 1, 9, 1, 7, 3, 9].into_iter().enumerate() {
            heap.push((x, i));
        }
        let mut out = Vec::new();
        while let Some(x) = heap.pop() {
            out.push(x);
        }
        // Descending by value, ties by position.
        assert_eq!(out, vec![(9, 2), (9, 6), (7, 4), (5, 0), (3, 5), (1, 1), (1, 3)]);
        assert!(heap.peek().is_none());
    }
}

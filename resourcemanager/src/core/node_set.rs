//! Which nodes an application attempt has been handed an NM token for. As YARN's ResourceManager
//! does, the core sends an attempt the NM token of a node only with its first grant there (the AM's
//! client keeps it per node from then on), so it remembers, per attempt, the nodes it has tokened.
//! Nodes are named by the index the core gives each when it first registers: the set is one bit
//! per node (1.25 KiB for 10,000 nodes) and a grant checks it with one bit test.

/// A set of node indices (`Node::index`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct NodeSet {
    words: Vec<u64>,
}

impl NodeSet {
    /// Adds `index`; true when it was not in the set before.
    pub(crate) fn insert(&mut self, index: u32) -> bool {
        let (word, bit) = ((index / 64) as usize, 1u64 << (index % 64));
        if word >= self.words.len() {
            self.words.resize(word + 1, 0);
        }
        let fresh = self.words[word] & bit == 0;
        self.words[word] |= bit;
        fresh
    }

    /// Takes `index` out of the set.
    pub(crate) fn remove(&mut self, index: u32) {
        if let Some(word) = self.words.get_mut((index / 64) as usize) {
            *word &= !(1u64 << (index % 64));
        }
    }

    /// Empties the set and gives back its memory.
    pub(crate) fn clear(&mut self) {
        self.words = Vec::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_index_is_new_once_until_the_set_is_cleared() {
        let mut set = NodeSet::default();
        for index in [0, 63, 64, 9_999] {
            assert!(set.insert(index), "{index} is new");
        }
        for index in [0, 63, 64, 9_999] {
            assert!(!set.insert(index), "{index} is in the set");
        }
        assert!(set.insert(1) && set.insert(65) && set.insert(9_998), "neighbours are not in it");
        set.remove(64);
        set.remove(100_000);
        assert!(set.insert(64), "removed");
        assert!(!set.insert(65), "its neighbour stays");
        set.clear();
        assert_eq!(set, NodeSet::default());
        assert!(set.insert(9_999));
    }
}

//! Cached partitions of an executor (`rdd_<id>_<partition>`): deserialized values in memory, up to the
//! storage budget, and serialized bytes on disk. Memory entries are evicted oldest first when a new one
//! does not fit; the caller decides (by storage level) whether a block that does not fit goes to disk.

use std::any::Any;
use std::collections::{HashMap, VecDeque};
use std::fs;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

type Value = Arc<dyn Any + Send + Sync>;

/// An executor's cached blocks.
pub struct BlockManager {
    memory: Mutex<MemoryStore>,
    disk_dir: PathBuf,
}

struct MemoryStore {
    capacity: u64,
    used: u64,
    blocks: HashMap<(u32, u32), (Value, u64)>,
    order: VecDeque<(u32, u32)>,
}

impl BlockManager {
    /// `capacity`: bytes of memory for cached blocks; `disk_dir` is created if missing.
    pub fn new(capacity: u64, disk_dir: PathBuf) -> std::io::Result<BlockManager> {
        fs::create_dir_all(&disk_dir)?;
        let memory = MemoryStore { capacity, used: 0, blocks: HashMap::new(), order: VecDeque::new() };
        Ok(BlockManager { memory: Mutex::new(memory), disk_dir })
    }

    pub fn get(&self, rdd: u32, partition: u32) -> Option<Value> {
        let store = self.memory.lock().expect("block manager lock");
        store.blocks.get(&(rdd, partition)).map(|(v, _)| v.clone())
    }

    /// Keeps a block in memory, evicting older blocks if needed; false when it can never fit.
    pub fn put(&self, rdd: u32, partition: u32, value: Value, size: u64) -> bool {
        let mut store = self.memory.lock().expect("block manager lock");
        if size > store.capacity {
            return false;
        }
        if let Some((_, old)) = store.blocks.remove(&(rdd, partition)) {
            store.used -= old;
            store.order.retain(|k| *k != (rdd, partition));
        }
        while store.used + size > store.capacity {
            let Some(oldest) = store.order.pop_front() else { break };
            if let Some((_, freed)) = store.blocks.remove(&oldest) {
                store.used -= freed;
                tracing::info!(block = %format!("rdd_{}_{}", oldest.0, oldest.1), bytes = freed, "evicted a cached block from memory");
            }
        }
        store.used += size;
        store.blocks.insert((rdd, partition), (value, size));
        store.order.push_back((rdd, partition));
        true
    }

    fn disk_path(&self, rdd: u32, partition: u32) -> PathBuf {
        self.disk_dir.join(format!("rdd_{rdd}_{partition}"))
    }

    pub fn get_disk(&self, rdd: u32, partition: u32) -> Option<Vec<u8>> {
        fs::read(self.disk_path(rdd, partition)).ok()
    }

    pub fn put_disk(&self, rdd: u32, partition: u32, bytes: &[u8]) -> std::io::Result<()> {
        let path = self.disk_path(rdd, partition);
        let tmp = path.with_extension("tmp");
        fs::write(&tmp, bytes)?;
        fs::rename(tmp, path)
    }

    /// Drops every block of an RDD (unpersist).
    pub fn remove_rdd(&self, rdd: u32) {
        let mut store = self.memory.lock().expect("block manager lock");
        let keys: Vec<_> = store.blocks.keys().filter(|k| k.0 == rdd).copied().collect();
        for key in keys {
            if let Some((_, size)) = store.blocks.remove(&key) {
                store.used -= size;
            }
        }
        store.order.retain(|k| k.0 != rdd);
        drop(store);
        let prefix = format!("rdd_{rdd}_");
        if let Ok(entries) = fs::read_dir(&self.disk_dir) {
            for entry in entries.flatten() {
                if entry.file_name().to_string_lossy().starts_with(&prefix) {
                    let _ = fs::remove_file(entry.path());
                }
            }
        }
    }

    /// Bytes of memory in use by cached blocks.
    pub fn memory_used(&self) -> u64 {
        self.memory.lock().expect("block manager lock").used
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_blocks_are_evicted_oldest_first() {
        let dir = tempfile::tempdir().unwrap();
        let bm = BlockManager::new(100, dir.path().join("b")).unwrap();
        assert!(bm.put(1, 0, Arc::new(1u8), 60));
        assert!(bm.put(1, 1, Arc::new(2u8), 30));
        assert!(bm.put(2, 0, Arc::new(3u8), 40), "evicts rdd_1_0");
        assert!(bm.get(1, 0).is_none());
        assert_eq!(*bm.get(1, 1).unwrap().downcast::<u8>().unwrap(), 2);
        assert!(!bm.put(3, 0, Arc::new(0u8), 101), "never fits");
        assert_eq!(bm.memory_used(), 70);
        bm.put_disk(1, 0, b"bytes").unwrap();
        assert_eq!(bm.get_disk(1, 0).unwrap(), b"bytes");
        bm.remove_rdd(1);
        assert!(bm.get(1, 1).is_none() && bm.get_disk(1, 0).is_none());
        assert_eq!(bm.memory_used(), 40);
    }
}

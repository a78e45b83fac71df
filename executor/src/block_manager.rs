//! Cached partitions of an executor (`rdd_<id>_<partition>`): deserialized values in memory, in the
//! storage memory the unified [`MemoryManager`] grants, and serialized bytes on disk. To make room,
//! the memory manager has blocks evicted oldest first — never blocks of the RDD being stored, as
//! Spark — either for another block or for execution memory (down to the storage region). An evicted
//! `MEMORY_ONLY` block is dropped (the next read recomputes it from lineage); an evicted
//! `MEMORY_AND_DISK` block is first written to disk with the serializer stored beside it.

use std::any::Any;
use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::context::SerializeBlock;
use crate::memory::{Evictor, MemoryConfig, MemoryManager};

type Value = Arc<dyn Any + Send + Sync>;
type BlockId = (u32, u32);

/// An executor's cached blocks and its memory manager.
pub struct BlockManager {
    store: Arc<BlockStore>,
    memory: Arc<MemoryManager>,
}

impl BlockManager {
    /// Blocks in the storage memory of `config`; `disk_dir` is created if missing.
    pub fn new(config: &MemoryConfig, disk_dir: PathBuf) -> std::io::Result<BlockManager> {
        fs::create_dir_all(&disk_dir)?;
        let store = Arc::new(BlockStore { entries: Mutex::default(), disk_dir });
        let memory = Arc::new(MemoryManager::new(config, store.clone()));
        Ok(BlockManager { store, memory })
    }

    pub fn memory(&self) -> &MemoryManager {
        &self.memory
    }

    pub fn get(&self, rdd: u32, partition: u32) -> Option<Value> {
        self.store.lock().blocks.get(&(rdd, partition)).map(|e| e.value.clone())
    }

    /// Keeps a block in memory if storage memory can be had (evicting other RDDs' blocks if need be);
    /// false when it does not fit. With `to_disk`, an eviction writes the block to disk.
    pub fn put(&self, rdd: u32, partition: u32, value: Value, size: u64, to_disk: Option<SerializeBlock>) -> bool {
        self.remove_block((rdd, partition));
        if !self.memory.acquire_storage(rdd, size) {
            return false;
        }
        let replaced = self.store.lock().insert((rdd, partition), Entry { value, size, seq: 0, to_disk });
        if let Some(old) = replaced {
            self.memory.release_storage(old.size);
        }
        true
    }

    fn remove_block(&self, id: BlockId) {
        let removed = self.store.lock().remove(id);
        if let Some(old) = removed {
            self.memory.release_storage(old.size);
        }
    }

    pub fn get_disk(&self, rdd: u32, partition: u32) -> Option<Vec<u8>> {
        fs::read(self.store.disk_path((rdd, partition))).ok()
    }

    pub fn put_disk(&self, rdd: u32, partition: u32, bytes: &[u8]) -> std::io::Result<()> {
        self.store.write_disk((rdd, partition), bytes)
    }

    /// Drops every block of an RDD, in memory and on disk (unpersist).
    pub fn remove_rdd(&self, rdd: u32) {
        let removed: Vec<Entry> = {
            let mut entries = self.store.lock();
            let ids: Vec<BlockId> = entries.blocks.keys().filter(|k| k.0 == rdd).copied().collect();
            ids.into_iter().filter_map(|id| entries.remove(id)).collect()
        };
        self.memory.release_storage(removed.iter().map(|e| e.size).sum());
        drop(removed);
        let prefix = format!("rdd_{rdd}_");
        if let Ok(listing) = fs::read_dir(&self.store.disk_dir) {
            for entry in listing.flatten() {
                if entry.file_name().to_string_lossy().starts_with(&prefix) {
                    let _ = fs::remove_file(entry.path());
                }
            }
        }
    }

    /// Bytes of memory in use by cached blocks.
    pub fn memory_used(&self) -> u64 {
        self.store.lock().used
    }
}

struct Entry {
    value: Value,
    size: u64,
    /// Insertion order: eviction takes the lowest first.
    seq: u64,
    to_disk: Option<SerializeBlock>,
}

#[derive(Default)]
struct Entries {
    blocks: HashMap<BlockId, Entry>,
    order: BTreeMap<u64, BlockId>,
    next_seq: u64,
    used: u64,
}

impl Entries {
    fn insert(&mut self, id: BlockId, mut entry: Entry) -> Option<Entry> {
        let old = self.remove(id);
        entry.seq = self.next_seq;
        self.next_seq += 1;
        self.order.insert(entry.seq, id);
        self.used += entry.size;
        self.blocks.insert(id, entry);
        old
    }

    fn remove(&mut self, id: BlockId) -> Option<Entry> {
        let entry = self.blocks.remove(&id)?;
        self.order.remove(&entry.seq);
        self.used -= entry.size;
        Some(entry)
    }

    /// The oldest blocks, sparing `spare_rdd`'s, that free at least `bytes`; none if they cannot.
    fn victims(&self, bytes: u64, spare_rdd: Option<u32>) -> Vec<BlockId> {
        let (mut chosen, mut freed) = (Vec::new(), 0u64);
        for id in self.order.values().filter(|id| Some(id.0) != spare_rdd) {
            if freed >= bytes {
                break;
            }
            freed += self.blocks[id].size;
            chosen.push(*id);
        }
        if freed >= bytes {
            chosen
        } else {
            Vec::new()
        }
    }
}

/// The blocks themselves; the memory manager's evictor.
struct BlockStore {
    entries: Mutex<Entries>,
    disk_dir: PathBuf,
}

impl BlockStore {
    fn lock(&self) -> MutexGuard<'_, Entries> {
        self.entries.lock().expect("block store lock")
    }

    fn disk_path(&self, id: BlockId) -> PathBuf {
        self.disk_dir.join(format!("rdd_{}_{}", id.0, id.1))
    }

    fn write_disk(&self, id: BlockId, bytes: &[u8]) -> std::io::Result<()> {
        write_atomically(&self.disk_path(id), bytes)
    }

    /// Writes an evicted block to disk if its level allows it.
    fn drop_to_disk(&self, id: BlockId, entry: &Entry) {
        let name = format!("rdd_{}_{}", id.0, id.1);
        let Some(serialize) = &entry.to_disk else {
            tracing::info!(block = %name, bytes = entry.size, "dropped a cached block from memory");
            return;
        };
        match serialize(&*entry.value)
            .map_err(|e| e.to_string())
            .and_then(|bytes| self.write_disk(id, &bytes).map(|()| bytes.len()).map_err(|e| e.to_string()))
        {
            Ok(written) => {
                tracing::info!(block = %name, bytes = entry.size, disk_bytes = written, "evicted a cached block to disk")
            }
            Err(e) => tracing::warn!(block = %name, error = %e, "cannot write an evicted block to disk; dropped it"),
        }
    }
}

impl Evictor for BlockStore {
    fn evict(&self, bytes: u64, spare_rdd: Option<u32>) -> u64 {
        let evicted: Vec<(BlockId, Entry)> = {
            let mut entries = self.lock();
            let victims = entries.victims(bytes, spare_rdd);
            victims.into_iter().filter_map(|id| entries.remove(id).map(|e| (id, e))).collect()
        };
        for (id, entry) in &evicted {
            self.drop_to_disk(*id, entry);
        }
        evicted.iter().map(|(_, e)| e.size).sum()
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("{}.tmp", std::process::id()));
    fs::write(&tmp, bytes)?;
    fs::rename(tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 100 bytes of unified memory, all of it storage region.
    fn manager(dir: &Path) -> BlockManager {
        let config = MemoryConfig { system_bytes: 100, reserved_bytes: 0, fraction: 1.0, storage_fraction: 1.0 };
        BlockManager::new(&config, dir.join("b")).unwrap()
    }

    fn bytes_of(value: &(dyn Any + Send + Sync)) -> Result<Vec<u8>, crate::TaskError> {
        Ok(vec![*value.downcast_ref::<u8>().expect("a u8 block")])
    }

    #[test]
    fn memory_blocks_are_evicted_oldest_first_sparing_their_own_rdd() {
        let dir = tempfile::tempdir().unwrap();
        let bm = manager(dir.path());
        assert!(bm.put(1, 0, Arc::new(1u8), 60, None));
        assert!(bm.put(2, 1, Arc::new(2u8), 30, None));
        assert!(bm.put(3, 0, Arc::new(3u8), 40, None), "evicts rdd_1_0");
        assert!(bm.get(1, 0).is_none());
        assert_eq!(*bm.get(2, 1).unwrap().downcast::<u8>().unwrap(), 2);
        assert!(!bm.put(3, 1, Arc::new(0u8), 101, None), "never fits");
        assert!(!bm.put(3, 2, Arc::new(0u8), 70, None), "only rdd_2_1 may go for rdd 3: not enough");
        assert!(bm.get(2, 1).is_some(), "nothing evicted for a block that did not fit");
        assert_eq!(bm.memory_used(), 70);
        assert_eq!(bm.memory().snapshot().storage_used(), 70);
        bm.put_disk(1, 0, b"bytes").unwrap();
        assert_eq!(bm.get_disk(1, 0).unwrap(), b"bytes");
        bm.remove_rdd(1);
        bm.remove_rdd(2);
        assert!(bm.get(2, 1).is_none() && bm.get_disk(1, 0).is_none());
        assert_eq!((bm.memory_used(), bm.memory().snapshot().storage_used()), (40, 40));
    }

    #[test]
    fn an_evicted_memory_and_disk_block_goes_to_disk_and_a_memory_only_one_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let bm = manager(dir.path());
        assert!(bm.put(1, 0, Arc::new(7u8), 50, Some(Box::new(bytes_of))));
        assert!(bm.put(1, 1, Arc::new(8u8), 50, None));
        assert!(bm.put(2, 0, Arc::new(9u8), 100, None), "both rdd 1 blocks make room");
        assert!(bm.get(1, 0).is_none() && bm.get(1, 1).is_none());
        assert_eq!(bm.get_disk(1, 0), Some(vec![7]), "MEMORY_AND_DISK: read back from disk");
        assert_eq!(bm.get_disk(1, 1), None, "MEMORY_ONLY: recomputed from lineage");
    }

    #[test]
    fn execution_memory_evicts_cached_blocks() {
        let dir = tempfile::tempdir().unwrap();
        let config = MemoryConfig { system_bytes: 100, reserved_bytes: 0, fraction: 1.0, storage_fraction: 0.2 };
        let bm = BlockManager::new(&config, dir.path().join("b")).unwrap();
        assert!(bm.put(1, 0, Arc::new(1u8), 40, Some(Box::new(bytes_of))));
        assert!(bm.put(1, 1, Arc::new(2u8), 40, None));
        assert_eq!(bm.memory().acquire_execution(5, 70), 70, "20 free, 50 evicted from storage");
        assert_eq!(bm.memory_used(), 0, "blocks are evicted whole, oldest first");
        assert_eq!(bm.get_disk(1, 0), Some(vec![1]));
        bm.memory().release_all_execution(5);
        assert!(bm.put(1, 1, Arc::new(2u8), 40, None), "the memory is storage's to take again");
    }

    #[test]
    fn storing_a_block_again_replaces_it() {
        let dir = tempfile::tempdir().unwrap();
        let bm = manager(dir.path());
        assert!(bm.put(1, 0, Arc::new(1u8), 60, None));
        assert!(bm.put(1, 0, Arc::new(2u8), 70, None), "the old copy's memory is given back first");
        assert_eq!((bm.memory_used(), bm.memory().snapshot().storage_used()), (70, 70));
    }
}

//! Spark's unified memory manager (`facts/spark.md` §8): `spark.memory.fraction` of (executor memory −
//! 300 MiB) is shared by execution (shuffles, sorts, aggregations) and storage (cached blocks).
//! `spark.memory.storageFraction` of it is the storage region: execution may evict cached blocks down
//! to that line, storage never evicts execution. A task with `N` active tasks beside it may hold at most
//! `1/N` of the execution pool and is guaranteed `1/(2N)` before it must spill.
//!
//! [`UnifiedMemory`] is the policy as plain data (no locks, no clock); eviction is a callback the caller
//! supplies. [`MemoryManager`] is the executor's handle: the policy behind a mutex, the block store as
//! its evictor, and a bounded wait for a task below its guaranteed share.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Spark's `RESERVED_SYSTEM_MEMORY_BYTES`: memory kept out of the unified pool.
pub const RESERVED_SYSTEM_MEMORY_BYTES: u64 = 300 * 1024 * 1024;

/// How long a task below its guaranteed share waits for other tasks to release memory before it
/// goes on with what is free (and spills). Spark waits without a limit.
pub const EXECUTION_WAIT: Duration = Duration::from_secs(5);

/// The sizes the unified pool is cut from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MemoryConfig {
    /// The executor's memory: `spark.executor.memory` (the JVM heap in Spark), or
    /// `spark.testing.memory` when set.
    pub system_bytes: u64,
    /// Kept out of the pool: 300 MiB, or `spark.testing.reservedMemory` when set.
    pub reserved_bytes: u64,
    /// `spark.memory.fraction`, 0.6.
    pub fraction: f64,
    /// `spark.memory.storageFraction`, 0.5.
    pub storage_fraction: f64,
}

impl MemoryConfig {
    /// Spark's defaults for `executor_bytes` of executor memory.
    pub fn spark_defaults(executor_bytes: u64) -> MemoryConfig {
        MemoryConfig {
            system_bytes: executor_bytes,
            reserved_bytes: RESERVED_SYSTEM_MEMORY_BYTES,
            fraction: 0.6,
            storage_fraction: 0.5,
        }
    }

    /// The unified pool: (system − reserved) × fraction (Spark's "Maximum Memory").
    pub fn max_bytes(&self) -> u64 {
        (self.system_bytes.saturating_sub(self.reserved_bytes) as f64 * self.fraction) as u64
    }

    /// The eviction-protected storage region: max × storageFraction.
    pub fn storage_region_bytes(&self) -> u64 {
        (self.max_bytes() as f64 * self.storage_fraction) as u64
    }
}

/// The answer to an execution request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acquired {
    /// Bytes granted (possibly fewer than asked, possibly 0): the task spills for the rest.
    Granted(u64),
    /// The task holds less than its guaranteed share and memory is not free: wait for a release.
    Wait,
}

/// The unified pool's bookkeeping. Execution and storage pools always add up to `max`.
#[derive(Debug, Clone)]
pub struct UnifiedMemory {
    max: u64,
    storage_region: u64,
    storage_pool: u64,
    storage_used: u64,
    execution_used: u64,
    /// Execution memory per active task (a task is active from its first request to its end).
    by_task: BTreeMap<u64, u64>,
}

impl UnifiedMemory {
    pub fn new(config: &MemoryConfig) -> UnifiedMemory {
        let storage_region = config.storage_region_bytes();
        UnifiedMemory {
            max: config.max_bytes(),
            storage_region,
            storage_pool: storage_region,
            storage_used: 0,
            execution_used: 0,
            by_task: BTreeMap::new(),
        }
    }

    pub fn max_bytes(&self) -> u64 {
        self.max
    }

    pub fn storage_used(&self) -> u64 {
        self.storage_used
    }

    pub fn storage_pool(&self) -> u64 {
        self.storage_pool
    }

    pub fn execution_used(&self) -> u64 {
        self.execution_used
    }

    pub fn execution_pool(&self) -> u64 {
        self.max - self.storage_pool
    }

    /// Execution memory `task` holds.
    pub fn task_execution(&self, task: u64) -> u64 {
        self.by_task.get(&task).copied().unwrap_or(0)
    }

    pub fn active_tasks(&self) -> usize {
        self.by_task.len()
    }

    fn storage_free(&self) -> u64 {
        self.storage_pool - self.storage_used
    }

    fn execution_free(&self) -> u64 {
        self.execution_pool() - self.execution_used
    }

    /// Asks for `bytes` of execution memory for `task`. Storage beyond its protected region (free, or
    /// held by blocks that `evict(n)` drops, returning the bytes it freed) is taken back first. The
    /// grant is capped at the task's `1/N` share; below its `1/(2N)` guarantee, with `may_wait`, the
    /// answer is [`Acquired::Wait`] rather than a partial grant.
    pub fn acquire_execution(
        &mut self,
        task: u64,
        bytes: u64,
        may_wait: bool,
        evict: &mut dyn FnMut(u64) -> u64,
    ) -> Acquired {
        let held = *self.by_task.entry(task).or_insert(0);
        let active = self.by_task.len() as u64;
        if bytes > self.execution_free() {
            self.reclaim_storage(bytes - self.execution_free(), evict);
        }
        // The pool execution could reach by evicting all storage above the protected region.
        let reachable_pool = self.max - self.storage_used.min(self.storage_region);
        let max_per_task = reachable_pool / active;
        let min_per_task = self.execution_pool() / (2 * active);
        let to_grant = bytes.min(max_per_task.saturating_sub(held)).min(self.execution_free());
        if may_wait && to_grant < bytes && held + to_grant < min_per_task {
            return Acquired::Wait;
        }
        *self.by_task.get_mut(&task).expect("registered above") += to_grant;
        self.execution_used += to_grant;
        Acquired::Granted(to_grant)
    }

    /// Shrinks the storage pool by up to `wanted`: its free space first, then blocks above the region.
    fn reclaim_storage(&mut self, wanted: u64, evict: &mut dyn FnMut(u64) -> u64) {
        let reclaimable = self.storage_free().max(self.storage_pool.saturating_sub(self.storage_region));
        let reclaim = wanted.min(reclaimable);
        if reclaim == 0 {
            return;
        }
        let from_free = reclaim.min(self.storage_free());
        let to_evict = reclaim - from_free;
        let freed = if to_evict > 0 { evict(to_evict).min(self.storage_used) } else { 0 };
        self.storage_used -= freed;
        // Blocks are dropped whole: what eviction freed beyond the need stays with storage, free.
        let shrink = (from_free + freed).min(reclaim);
        self.storage_pool -= shrink;
    }

    /// Gives back `bytes` of `task`'s execution memory (at most what it holds).
    pub fn release_execution(&mut self, task: u64, bytes: u64) {
        if let Some(held) = self.by_task.get_mut(&task) {
            let released = bytes.min(*held);
            *held -= released;
            self.execution_used -= released;
        }
    }

    /// The task ended: everything it holds goes back, and it no longer counts as active.
    pub fn release_all_execution(&mut self, task: u64) -> u64 {
        let held = self.by_task.remove(&task).unwrap_or(0);
        self.execution_used -= held;
        held
    }

    /// Asks for `bytes` of storage for a block. Free execution memory is borrowed first; then blocks
    /// are evicted with `evict(n)` (which must spare the RDD being stored). Execution memory in use is
    /// never taken. False when the block does not fit.
    pub fn acquire_storage(&mut self, bytes: u64, evict: &mut dyn FnMut(u64) -> u64) -> bool {
        let max_storage = self.max - self.execution_used;
        if bytes > max_storage {
            return false;
        }
        if bytes > self.storage_free() {
            let borrowed = self.execution_free().min(bytes - self.storage_free());
            self.storage_pool += borrowed;
        }
        if bytes > self.storage_free() {
            let freed = evict(bytes - self.storage_free()).min(self.storage_used);
            self.storage_used -= freed;
        }
        if bytes > self.storage_free() {
            return false;
        }
        self.storage_used += bytes;
        true
    }

    /// A block left memory (dropped, evicted by its owner, or its RDD unpersisted).
    pub fn release_storage(&mut self, bytes: u64) {
        self.storage_used -= bytes.min(self.storage_used);
    }
}

/// Drops cached blocks from memory to make room (the block store implements it).
pub trait Evictor: Send + Sync {
    /// Drops blocks, oldest first, sparing those of `spare_rdd`, until at least `bytes` are freed
    /// (writing those whose level allows it to disk); drops nothing when it cannot free that much.
    /// Returns the bytes freed. Called with the memory manager's lock held: it must not call back.
    fn evict(&self, bytes: u64, spare_rdd: Option<u32>) -> u64;
}

/// An evictor with nothing to evict (an executor without a block store, tests).
pub struct NoEviction;

impl Evictor for NoEviction {
    fn evict(&self, _: u64, _: Option<u32>) -> u64 {
        0
    }
}

struct State {
    memory: UnifiedMemory,
    /// Releases so far, and each task's own: a task that waited in vain does not wait again until
    /// another task releases memory (its own releases after spilling change nothing for it).
    releases: u64,
    own_releases: BTreeMap<u64, u64>,
    /// Other tasks' releases a task had seen when it last waited in vain.
    gave_up: BTreeMap<u64, u64>,
}

impl State {
    fn new(config: &MemoryConfig) -> State {
        State {
            memory: UnifiedMemory::new(config),
            releases: 0,
            own_releases: BTreeMap::new(),
            gave_up: BTreeMap::new(),
        }
    }

    fn releases_by_others(&self, task: u64) -> u64 {
        self.releases - self.own_releases.get(&task).copied().unwrap_or(0)
    }

    /// Whether `task` may wait for memory: before its deadline, unless it already waited in vain and
    /// no other task released anything since.
    fn may_wait(&self, task: u64, before_deadline: bool) -> bool {
        before_deadline && self.gave_up.get(&task) != Some(&self.releases_by_others(task))
    }

    /// `task` waited until its deadline and goes on without the memory it asked for.
    fn give_up(&mut self, task: u64) {
        let seen = self.releases_by_others(task);
        self.gave_up.insert(task, seen);
    }

    fn released_by(&mut self, task: u64) {
        self.releases += 1;
        *self.own_releases.entry(task).or_insert(0) += 1;
    }
}

/// The executor's memory manager: one per executor, shared by its task threads and block store.
pub struct MemoryManager {
    state: Mutex<State>,
    released: Condvar,
    evictor: Arc<dyn Evictor>,
    wait: Duration,
}

impl MemoryManager {
    pub fn new(config: &MemoryConfig, evictor: Arc<dyn Evictor>) -> MemoryManager {
        MemoryManager::with_wait(config, evictor, EXECUTION_WAIT)
    }

    /// A manager whose tasks wait at most `wait` for their guaranteed share.
    pub fn with_wait(config: &MemoryConfig, evictor: Arc<dyn Evictor>, wait: Duration) -> MemoryManager {
        MemoryManager { state: Mutex::new(State::new(config)), released: Condvar::new(), evictor, wait }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().expect("memory manager lock")
    }

    /// Grants up to `bytes` of execution memory to `task`; fewer (even 0) means: spill.
    pub fn acquire_execution(&self, task: u64, bytes: u64) -> u64 {
        if bytes == 0 {
            return 0;
        }
        let deadline = Instant::now() + self.wait;
        let mut state = self.lock();
        loop {
            let now = Instant::now();
            let before_deadline = now < deadline;
            let may_wait = state.may_wait(task, before_deadline);
            let evictor = &self.evictor;
            match state.memory.acquire_execution(task, bytes, may_wait, &mut |n| evictor.evict(n, None)) {
                Acquired::Granted(granted) => {
                    if !before_deadline && granted < bytes {
                        state.give_up(task);
                    }
                    return granted;
                }
                Acquired::Wait => {
                    state = self.released.wait_timeout(state, deadline - now).expect("memory manager lock").0;
                }
            }
        }
    }

    pub fn release_execution(&self, task: u64, bytes: u64) {
        if bytes == 0 {
            return;
        }
        let mut state = self.lock();
        state.memory.release_execution(task, bytes);
        state.released_by(task);
        self.released.notify_all();
    }

    /// The task ended (however it ended): its execution memory goes back. Returns what it held.
    pub fn release_all_execution(&self, task: u64) -> u64 {
        let mut state = self.lock();
        let held = state.memory.release_all_execution(task);
        state.gave_up.remove(&task);
        state.released_by(task);
        state.own_releases.remove(&task);
        self.released.notify_all();
        held
    }

    /// Storage memory for a block of `rdd` (blocks of that RDD are not evicted for it).
    pub fn acquire_storage(&self, rdd: u32, bytes: u64) -> bool {
        let mut state = self.lock();
        let evictor = &self.evictor;
        state.memory.acquire_storage(bytes, &mut |n| evictor.evict(n, Some(rdd)))
    }

    pub fn release_storage(&self, bytes: u64) {
        if bytes == 0 {
            return;
        }
        let mut state = self.lock();
        state.memory.release_storage(bytes);
        state.releases += 1;
        self.released.notify_all();
    }

    /// A copy of the bookkeeping, for reports and tests.
    pub fn snapshot(&self) -> UnifiedMemory {
        self.lock().memory.clone()
    }

    /// Tasks holding execution memory.
    pub fn active_tasks(&self) -> BTreeSet<u64> {
        self.lock().memory.by_task.keys().copied().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    /// 100 bytes of unified memory, 50 of them the storage region.
    fn pool() -> UnifiedMemory {
        UnifiedMemory::new(&MemoryConfig { system_bytes: 100, reserved_bytes: 0, fraction: 1.0, storage_fraction: 0.5 })
    }

    fn no_eviction(_: u64) -> u64 {
        panic!("nothing should be evicted")
    }

    #[test]
    fn the_pool_is_sparks_unified_memory() {
        let config = MemoryConfig::spark_defaults(1024 * MIB);
        assert_eq!(config.max_bytes(), 455_501_414, "a 1g heap's Maximum Memory in Spark's UI");
        assert_eq!(config.storage_region_bytes(), 227_750_707);
        let executor = MemoryConfig::spark_defaults(512 * MIB);
        assert_eq!(executor.max_bytes(), (212.0 * MIB as f64 * 0.6) as u64);
        assert_eq!(MemoryConfig::spark_defaults(200 * MIB).max_bytes(), 0, "below the reserve: nothing");
        let m = UnifiedMemory::new(&config);
        assert_eq!(m.execution_pool() + m.storage_pool(), m.max_bytes());
    }

    #[test]
    fn one_task_may_take_the_whole_pool_and_gives_it_back_when_it_ends() {
        let mut m = pool();
        assert_eq!(m.acquire_execution(1, 30, true, &mut no_eviction), Acquired::Granted(30));
        // Free storage (50, nothing cached) is reclaimed for execution.
        assert_eq!(m.acquire_execution(1, 70, true, &mut no_eviction), Acquired::Granted(70));
        assert_eq!((m.execution_used(), m.storage_pool()), (100, 0));
        assert_eq!(m.acquire_execution(1, 1, true, &mut no_eviction), Acquired::Granted(0), "a full pool: spill");
        assert_eq!(m.release_all_execution(1), 100);
        assert_eq!((m.execution_used(), m.active_tasks()), (0, 0));
    }

    #[test]
    fn each_of_n_tasks_gets_at_most_a_1_over_n_share() {
        let mut m = pool();
        m.acquire_execution(2, 0, true, &mut no_eviction);
        assert_eq!(m.acquire_execution(1, 80, true, &mut no_eviction), Acquired::Granted(50), "2 tasks: half each");
        assert_eq!(m.acquire_execution(2, 80, true, &mut no_eviction), Acquired::Granted(50));
        m.release_execution(2, 20);
        assert_eq!(m.task_execution(2), 30);
        assert_eq!(m.acquire_execution(1, 10, true, &mut no_eviction), Acquired::Granted(0), "task 1 is at its cap");
        assert_eq!(m.acquire_execution(3, 10, true, &mut no_eviction), Acquired::Granted(10), "3 tasks: a third");
        assert_eq!(m.acquire_execution(3, 30, false, &mut no_eviction), Acquired::Granted(10), "only 10 free");
    }

    #[test]
    fn a_task_below_its_guaranteed_share_waits_unless_told_not_to() {
        let mut m = pool();
        assert_eq!(m.acquire_execution(1, 100, true, &mut no_eviction), Acquired::Granted(100));
        // Task 2 arrives: its guarantee is 100 / (2 × 2) = 25, and nothing is free.
        assert_eq!(m.acquire_execution(2, 10, true, &mut no_eviction), Acquired::Wait);
        assert_eq!(m.acquire_execution(2, 10, false, &mut no_eviction), Acquired::Granted(0));
        m.release_all_execution(1);
        assert_eq!(m.acquire_execution(2, 10, true, &mut no_eviction), Acquired::Granted(10));
    }

    #[test]
    fn execution_evicts_storage_down_to_the_region_and_no_further() {
        let mut m = pool();
        assert!(m.acquire_storage(80, &mut no_eviction), "storage borrows free execution memory");
        assert_eq!((m.storage_used(), m.storage_pool()), (80, 80));
        let mut evicted = Vec::new();
        let mut evict = |n: u64| {
            evicted.push(n);
            n
        };
        assert_eq!(m.acquire_execution(1, 100, true, &mut evict), Acquired::Granted(50));
        assert_eq!(evicted, vec![30], "20 were free; 30 evicted, down to the 50 of the region");
        assert_eq!((m.storage_used(), m.storage_pool(), m.execution_pool()), (50, 50, 50));
        assert_eq!(m.acquire_execution(1, 10, true, &mut no_eviction), Acquired::Granted(0), "the region is kept");
    }

    #[test]
    fn storage_never_evicts_execution() {
        let mut m = pool();
        assert_eq!(m.acquire_execution(1, 90, true, &mut no_eviction), Acquired::Granted(90));
        assert!(!m.acquire_storage(20, &mut |_| 0), "only 10 left beside execution");
        assert!(m.acquire_storage(10, &mut no_eviction));
        m.release_storage(10);
        m.release_execution(1, 40);
        assert!(m.acquire_storage(40, &mut no_eviction), "free execution memory is borrowed");
        assert_eq!(m.execution_pool(), 60);
    }

    #[test]
    fn storage_evicts_other_blocks_when_it_must() {
        let mut m = pool();
        assert!(m.acquire_storage(90, &mut no_eviction));
        let mut asked = Vec::new();
        assert!(m.acquire_storage(30, &mut |n| {
            asked.push(n);
            40
        }));
        assert_eq!(asked, vec![20]);
        assert_eq!(m.storage_used(), 80, "90 − 40 dropped + 30 stored");
        assert!(!m.acquire_storage(50, &mut |_| 0), "the evictor could not make room");
        assert_eq!(m.storage_used(), 80);
    }

    struct Counting(Mutex<Vec<(u64, Option<u32>)>>);

    impl Evictor for Counting {
        fn evict(&self, bytes: u64, spare: Option<u32>) -> u64 {
            self.0.lock().unwrap().push((bytes, spare));
            bytes
        }
    }

    #[test]
    fn the_handle_spares_the_rdd_being_stored_and_releases_a_tasks_memory() {
        let config = MemoryConfig { system_bytes: 100, reserved_bytes: 0, fraction: 1.0, storage_fraction: 0.5 };
        let evictor = Arc::new(Counting(Mutex::default()));
        let manager = MemoryManager::with_wait(&config, evictor.clone(), Duration::ZERO);
        assert!(manager.acquire_storage(4, 90));
        assert!(manager.acquire_storage(5, 30));
        assert_eq!(evictor.0.lock().unwrap().as_slice(), &[(20, Some(5))]);
        assert_eq!(manager.acquire_execution(7, 60), 50, "storage above the region is evicted");
        assert_eq!(manager.active_tasks(), BTreeSet::from([7]));
        assert_eq!(manager.release_all_execution(7), 50);
        assert!(manager.active_tasks().is_empty());
    }

    #[test]
    fn a_waiting_task_is_woken_by_a_release() {
        let config = MemoryConfig { system_bytes: 100, reserved_bytes: 0, fraction: 1.0, storage_fraction: 0.0 };
        let manager = Arc::new(MemoryManager::with_wait(&config, Arc::new(NoEviction), Duration::from_secs(600)));
        assert_eq!(manager.acquire_execution(1, 100), 100);
        let waiter = {
            let manager = manager.clone();
            std::thread::spawn(move || manager.acquire_execution(2, 40))
        };
        while manager.active_tasks().len() < 2 {
            std::thread::yield_now();
        }
        manager.release_all_execution(1);
        assert_eq!(waiter.join().unwrap(), 40);
    }

    #[test]
    fn a_task_that_waited_in_vain_does_not_wait_again_until_a_release() {
        let config = MemoryConfig { system_bytes: 100, reserved_bytes: 0, fraction: 1.0, storage_fraction: 0.0 };
        let manager = MemoryManager::with_wait(&config, Arc::new(NoEviction), Duration::ZERO);
        assert_eq!(manager.acquire_execution(1, 100), 100);
        assert_eq!(manager.acquire_execution(2, 10), 0);
        assert_eq!(manager.acquire_execution(2, 10), 0);
        manager.release_execution(1, 30);
        assert_eq!(manager.acquire_execution(2, 10), 10);
        let config = MemoryConfig { system_bytes: 100, reserved_bytes: 0, fraction: 1.0, storage_fraction: 0.0 };
        let mut state = State::new(&config);
        assert!(state.may_wait(2, true) && !state.may_wait(2, false));
        state.give_up(2);
        assert!(!state.may_wait(2, true), "waited in vain");
        state.released_by(2);
        assert!(!state.may_wait(2, true), "its own release (a spill) changes nothing");
        state.released_by(1);
        assert!(state.may_wait(2, true), "another task released memory");
    }
}

//! What the `monitor` benchmark measures, reachable from `benches/`: one container monitor pass
//! (one `/proc` snapshot, every container's tree, ages, the rule) over containers rooted at given
//! pids. Not part of the daemon's interface.

use weft_proto::ContainerId;

use crate::monitor::{Checks, Limits, Monitor};
use crate::watcher::{self, Target};

/// A monitor over fixed containers, as the daemon's would be.
pub struct MonitorPass {
    monitor: Monitor,
    targets: Vec<Target>,
}

impl MonitorPass {
    /// One container per root pid, each of `memory_mb`, with YARN's checks and ratio.
    pub fn new(roots: &[u32], memory_mb: i64) -> MonitorPass {
        let targets = roots
            .iter()
            .enumerate()
            .map(|(i, &pid)| Target {
                id: format!("container_1700000000000_0001_01_{:06}", i + 1).parse::<ContainerId>().expect("a valid id"),
                pid,
                limits: Limits::for_container(memory_mb, 2.1),
                vmem_bytes: 0,
            })
            .collect();
        MonitorPass { monitor: Monitor::new(Checks { pmem: true, vmem: true }), targets }
    }

    /// One pass (blocking); returns the processes measured and the containers found over a limit.
    pub fn run(&mut self) -> (usize, usize) {
        let outcomes = watcher::pass(&mut self.monitor, &self.targets, None);
        let over = outcomes.iter().filter(|o| o.kill.is_some()).count();
        (self.monitor.processes(), over)
    }
}

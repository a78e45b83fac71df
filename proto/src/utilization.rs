//! Node and container usage as NodeManagers measure it and heartbeats carry it (YARN's
//! `resourceUtilization`): memory in MB, CPU in cores busy.

use crate::pb;

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Utilization {
    pub node_physical_memory_mb: i64,
    pub node_virtual_memory_mb: i64,
    pub node_cpu_usage: f32,
    pub containers_physical_memory_mb: i64,
    pub containers_virtual_memory_mb: i64,
    pub containers_cpu_usage: f32,
}

impl From<pb::NodeUtilization> for Utilization {
    fn from(u: pb::NodeUtilization) -> Self {
        let pb::NodeUtilization {
            node_physical_memory_mb,
            node_virtual_memory_mb,
            node_cpu_usage,
            containers_physical_memory_mb,
            containers_virtual_memory_mb,
            containers_cpu_usage,
        } = u;
        Utilization {
            node_physical_memory_mb,
            node_virtual_memory_mb,
            node_cpu_usage,
            containers_physical_memory_mb,
            containers_virtual_memory_mb,
            containers_cpu_usage,
        }
    }
}

impl From<Utilization> for pb::NodeUtilization {
    fn from(u: Utilization) -> Self {
        let Utilization {
            node_physical_memory_mb,
            node_virtual_memory_mb,
            node_cpu_usage,
            containers_physical_memory_mb,
            containers_virtual_memory_mb,
            containers_cpu_usage,
        } = u;
        pb::NodeUtilization {
            node_physical_memory_mb,
            node_virtual_memory_mb,
            node_cpu_usage,
            containers_physical_memory_mb,
            containers_virtual_memory_mb,
            containers_cpu_usage,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_the_wire() {
        let u = Utilization {
            node_physical_memory_mb: 1,
            node_virtual_memory_mb: 2,
            node_cpu_usage: 0.5,
            containers_physical_memory_mb: 3,
            containers_virtual_memory_mb: 4,
            containers_cpu_usage: 0.25,
        };
        assert_eq!(Utilization::from(pb::NodeUtilization::from(u)), u);
    }
}

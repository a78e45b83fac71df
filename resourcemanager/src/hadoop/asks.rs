//! YARN's ask table as an application master sends it, turned into the core's asks. Pure.
//!
//! An AM sends rows keyed by (priority, resource name, capability, allocation request id), each the
//! **absolute** number of containers it still wants for that key, and re-sends only rows that
//! changed. The `*` row is the total; host and rack rows are locality preferences inside it. Weft's
//! scheduler places containers without locality, so the `*` rows are the asks, and they have the
//! same absolute meaning as the core's `(priority, capability) → count`. The host and rack rows are
//! read (so a malformed one is refused) and otherwise left aside: every placement satisfies a
//! relaxed preference, and Weft says so in its README rather than pretend to honour strict ones.
//!
//! Priorities: YARN's AMs use priority 0 and up for their containers (Spark: the resource profile
//! id); the core keeps priority 0 for AM containers. Container priorities are therefore shifted by
//! one on the way in ([`to_core_priority`]) and back on the way out ([`to_yarn_priority`]), so the
//! AM sees exactly the priority it asked with: Spark maps a container back to its request by it.

use std::collections::BTreeMap;

use weft_hadoop_ipc::yarn::ResourceRequestProto;

use crate::core::AskRequest;

/// The `*` resource name: any node.
pub(crate) const ANY: &str = "*";

/// YARN's priority `p` as the core's.
pub(crate) fn to_core_priority(yarn: i32) -> i32 {
    yarn.saturating_add(1)
}

/// The core's priority of an application container as YARN's.
pub(crate) fn to_yarn_priority(core: i32) -> i32 {
    core.saturating_sub(1)
}

/// A row the ResourceManager cannot take.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum AskError {
    #[error("Invalid resource ask: resource request {0} has no capability")]
    NoCapability(String),
    #[error("Invalid resource ask: priority {priority} of resource request {name} is negative")]
    NegativePriority { name: String, priority: i32 },
    #[error("Invalid resource ask: resource request {name} asks for {count} containers")]
    NegativeCount { name: String, count: i32 },
}

/// The allocation request ids an attempt has used, by YARN priority, so that each granted container
/// echoes the id of the request it answers (YARN's `ContainerProto.allocation_request_id`).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct AskTable {
    allocation_request_ids: BTreeMap<i32, i64>,
}

impl AskTable {
    /// Reads one allocate call's rows: the core's asks for the `*` rows, in the order sent. Nothing
    /// is remembered when a row is refused.
    pub(crate) fn update(&mut self, rows: &[ResourceRequestProto]) -> Result<Vec<AskRequest>, AskError> {
        let mut asks = Vec::new();
        let mut ids = Vec::new();
        for row in rows {
            let name = row.resource_name();
            let priority = row.priority.as_ref().map_or(0, |p| p.priority());
            if priority < 0 {
                return Err(AskError::NegativePriority { name: name.to_string(), priority });
            }
            let count = row.num_containers();
            if count < 0 {
                return Err(AskError::NegativeCount { name: name.to_string(), count });
            }
            let capability = row.capability.as_ref().ok_or_else(|| AskError::NoCapability(name.to_string()))?;
            if name != ANY {
                continue;
            }
            ids.push((priority, row.allocation_request_id()));
            asks.push(AskRequest {
                priority: to_core_priority(priority),
                capability: weft_proto::Resource::new(capability.memory(), capability.virtual_cores()),
                num_containers: i64::from(count),
            });
        }
        self.allocation_request_ids.extend(ids);
        Ok(asks)
    }

    /// The allocation request id to echo for a container of the core's `priority`.
    pub(crate) fn allocation_request_id(&self, core_priority: i32) -> i64 {
        self.allocation_request_ids.get(&to_yarn_priority(core_priority)).copied().unwrap_or(-1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_hadoop_ipc::yarn::{PriorityProto, ResourceProto};

    fn row(priority: i32, name: &str, memory: i64, count: i32, id: i64) -> ResourceRequestProto {
        ResourceRequestProto {
            priority: Some(PriorityProto { priority: Some(priority) }),
            resource_name: Some(name.into()),
            capability: Some(ResourceProto {
                memory: Some(memory),
                virtual_cores: Some(1),
                resource_value_map: vec![],
            }),
            num_containers: Some(count),
            allocation_request_id: Some(id),
            ..Default::default()
        }
    }

    #[test]
    fn star_rows_are_the_asks_shifted_past_the_am_priority_and_host_rows_are_preferences() {
        let mut table = AskTable::default();
        let asks = table
            .update(&[row(0, "*", 896, 2, 0), row(0, "host1", 896, 2, 0), row(0, "/default-rack", 896, 2, 0)])
            .unwrap();
        assert_eq!(
            asks,
            [AskRequest { priority: 1, capability: weft_proto::Resource::new(896, 1), num_containers: 2 }]
        );
        assert_eq!(table.allocation_request_id(1), 0);
        assert_eq!(table.allocation_request_id(5), -1);
        assert_eq!(to_yarn_priority(asks[0].priority), 0);
        // Spark's follow-up after matching both: the same row, absolute count 0.
        assert_eq!(table.update(&[row(0, "*", 896, 0, 0)]).unwrap()[0].num_containers, 0);
    }

    #[test]
    fn malformed_rows_are_refused_naming_the_row_and_nothing_is_remembered() {
        let mut table = AskTable::default();
        let mut no_capability = row(3, "*", 1, 1, 7);
        no_capability.capability = None;
        assert_eq!(
            table.update(&[row(3, "*", 1, 1, 7), no_capability]).unwrap_err(),
            AskError::NoCapability("*".into())
        );
        assert_eq!(table.allocation_request_id(4), -1);
        let error = table.update(&[row(0, "*", 1, -1, 0)]).unwrap_err();
        assert_eq!(error.to_string(), "Invalid resource ask: resource request * asks for -1 containers");
        assert!(matches!(table.update(&[row(-2, "*", 1, 1, 0)]), Err(AskError::NegativePriority { .. })));
    }
}

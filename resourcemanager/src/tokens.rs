//! The ResourceManager's secrets: the master keys it signs container tokens and NM tokens with,
//! handed to every NodeManager when it registers, so that a NodeManager starts only containers this
//! ResourceManager granted. Keys live in memory only: a restarted ResourceManager has new ones, and
//! its NodeManagers learn them when they register again.

use std::time::Duration;

use weft_hadoop_ipc::container_token::{self, Grant};
use weft_hadoop_ipc::token::MasterKey;
use weft_proto::pb;

use crate::core::RmContainer;

pub struct Keys {
    container: MasterKey,
    nm: MasterKey,
    /// How long a container token stays good: the allocation expiry (an unused grant goes back to
    /// the cluster then, so its token must start nothing after it).
    container_token_life: Duration,
}

impl Keys {
    /// Fresh random keys; their ids come from the ResourceManager's start time, so the keys of a
    /// restarted ResourceManager do not share an id with the old ones.
    pub fn generate(cluster_timestamp: u64, container_token_life: Duration) -> Result<Keys, getrandom::Error> {
        let id = ((cluster_timestamp / 1000) & 0x3fff_ffff) as i32;
        Ok(Keys { container: MasterKey::generate(id)?, nm: MasterKey::generate(id + 1)?, container_token_life })
    }

    /// The container token of `container`, granted to an application of `user`.
    pub fn container_token(&self, container: &RmContainer, user: &str, rm_identifier: u64) -> Vec<u8> {
        let node = container.node.to_string();
        container_token::sign(
            &self.container,
            &Grant {
                container: container.id,
                node: &node,
                user,
                memory_mb: container.resource.memory_mb,
                vcores: container.resource.vcores,
                priority: container.priority,
                is_am: container.is_am,
                created_ms: container.created_ms,
                expiry_ms: container.created_ms + self.container_token_life.as_millis() as u64,
                rm_identifier,
            },
        )
    }

    /// The keys as a NodeManager receives them.
    pub fn for_node_manager(&self) -> (pb::MasterKey, pb::MasterKey) {
        let wire = |key: &MasterKey| pb::MasterKey { key_id: key.key_id(), secret: key.secret().to_vec() };
        (wire(&self.container), wire(&self.nm))
    }
}

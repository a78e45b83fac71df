//! The ResourceManager's secrets: the master keys it signs container tokens and NM tokens with,
//! handed to every NodeManager when it registers, so that a NodeManager starts only containers this
//! ResourceManager granted; and the AMRM key, which never leaves the ResourceManager: an attempt's
//! AMRM token is how an application master proves, over SASL DIGEST-MD5 on the scheduler port,
//! which attempt it speaks for. Keys live in memory only: a restarted ResourceManager has new ones,
//! and its NodeManagers learn them when they register again.

use std::time::Duration;

use prost::Message;
use weft_hadoop_ipc::common::TokenProto;
use weft_hadoop_ipc::container_token::{self, Grant};
use weft_hadoop_ipc::ids;
use weft_hadoop_ipc::token::MasterKey;
use weft_hadoop_ipc::yarn::{AmrmTokenIdentifierProto, NodeIdProto};
use weft_proto::{pb, ApplicationAttemptId, NodeId};

use crate::core::RmContainer;

pub struct Keys {
    container: MasterKey,
    nm: MasterKey,
    amrm: MasterKey,
    /// How long a container token stays good: the allocation expiry (an unused grant goes back to
    /// the cluster then, so its token must start nothing after it).
    container_token_life: Duration,
}

impl Keys {
    /// Fresh random keys; their ids come from the ResourceManager's start time, so the keys of a
    /// restarted ResourceManager do not share an id with the old ones.
    pub fn generate(cluster_timestamp: u64, container_token_life: Duration) -> Result<Keys, getrandom::Error> {
        let id = ((cluster_timestamp / 1000) & 0x3fff_ffff) as i32;
        Ok(Keys {
            container: MasterKey::generate(id)?,
            nm: MasterKey::generate(id + 1)?,
            amrm: MasterKey::generate(id + 2)?,
            container_token_life,
        })
    }

    /// The AMRM token of `attempt`, for the scheduler at `service` (`host:port`).
    pub fn amrm_token(&self, attempt: ApplicationAttemptId, service: &str) -> TokenProto {
        self.amrm.amrm_token(ids::attempt_id_proto(attempt), service)
    }

    /// The password of an AMRM token identifier this ResourceManager issued; `None` for anything
    /// else (another key, not an AMRM identifier). What SASL DIGEST-MD5 checks the AM's proof with.
    pub fn amrm_password(&self, identifier: &[u8]) -> Option<Vec<u8>> {
        let decoded = AmrmTokenIdentifierProto::decode(identifier).ok()?;
        (decoded.key_id() == self.amrm.key_id()).then(|| self.amrm.password(identifier))
    }

    /// Whether `password` is this ResourceManager's password of the AMRM identifier (constant time).
    pub fn amrm_verify(&self, identifier: &[u8], password: &[u8]) -> bool {
        let ours = AmrmTokenIdentifierProto::decode(identifier).is_ok_and(|t| t.key_id() == self.amrm.key_id());
        ours && self.amrm.verify(identifier, password)
    }

    /// The NM token that lets `attempt` (of `user`) talk to the NodeManager `node`.
    pub fn nm_token(&self, attempt: ApplicationAttemptId, node: &NodeId, user: &str) -> TokenProto {
        let node = NodeIdProto { host: Some(node.host.clone()), port: Some(i32::from(node.port)) };
        self.nm.nm_token(ids::attempt_id_proto(attempt), node, user)
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

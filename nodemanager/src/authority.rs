//! The ResourceManager's authority on this node: the container-token master keys it handed over
//! (at registration, and when it rolls them in a heartbeat answer). Every container start is
//! checked against them, whatever protocol it came in on: no valid token, no process.

use std::sync::{PoisonError, RwLock};

use weft_hadoop_ipc::container_token::{self, Refusal};
use weft_hadoop_ipc::token::MasterKey;
use weft_proto::{pb, ContainerId};

/// Keys kept: the current one and the one before it, so tokens signed just before a roll still
/// start their containers.
const KEPT_KEYS: usize = 2;

#[derive(Default)]
pub(crate) struct Authority {
    /// Newest last.
    keys: RwLock<Vec<MasterKey>>,
}

impl Authority {
    /// Takes a key the ResourceManager sent; a key already held changes nothing.
    pub(crate) fn accept(&self, key: &pb::MasterKey) {
        let mut keys = self.keys.write().unwrap_or_else(PoisonError::into_inner);
        if keys.iter().any(|k| k.key_id() == key.key_id && k.secret() == key.secret.as_slice()) {
            return;
        }
        keys.retain(|k| k.key_id() != key.key_id);
        keys.push(MasterKey::new(key.key_id, key.secret.clone()));
        let excess = keys.len().saturating_sub(KEPT_KEYS);
        keys.drain(..excess);
        tracing::info!(key_id = key.key_id, "holding the ResourceManager's container-token key");
    }

    /// Whether `token` lets `container` start on the NodeManager at `node` now.
    pub(crate) fn check(&self, token: &[u8], container: ContainerId, node: &str, now_ms: u64) -> Result<(), Refusal> {
        let keys = self.keys.read().unwrap_or_else(PoisonError::into_inner);
        container_token::check(&keys, token, container, node, now_ms).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_hadoop_ipc::container_token::Grant;

    fn token(key: &MasterKey, container: ContainerId) -> Vec<u8> {
        let grant = Grant {
            container,
            node: "127.0.0.1:8041",
            user: "alice",
            memory_mb: 1024,
            vcores: 1,
            priority: 1,
            is_am: false,
            created_ms: 0,
            expiry_ms: 600_000,
            rm_identifier: 1,
        };
        container_token::sign(key, &grant)
    }

    fn wire(key_id: i32, secret: &[u8]) -> pb::MasterKey {
        pb::MasterKey { key_id, secret: secret.to_vec() }
    }

    #[test]
    fn tokens_of_the_current_and_the_previous_key_hold_older_ones_do_not() {
        let c: ContainerId = "container_1700000000000_0001_01_000002".parse().unwrap();
        let authority = Authority::default();
        assert_eq!(
            authority.check(&token(&MasterKey::new(1, b"k1".to_vec()), c), c, "127.0.0.1:8041", 1),
            Err(Refusal::NoKey)
        );
        for (id, secret) in [(1, b"k1"), (2, b"k2"), (3, b"k3")] {
            authority.accept(&wire(id, secret));
        }
        authority.accept(&wire(3, b"k3"));
        let check = |id: i32, secret: &[u8]| {
            authority.check(&token(&MasterKey::new(id, secret.to_vec()), c), c, "127.0.0.1:8041", 1)
        };
        assert_eq!(check(3, b"k3"), Ok(()));
        assert_eq!(check(2, b"k2"), Ok(()));
        assert_eq!(check(1, b"k1"), Err(Refusal::UnknownKey { container: c, key_id: 1 }));
    }
}

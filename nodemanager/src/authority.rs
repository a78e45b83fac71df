//! The ResourceManager's authority on this node: the container-token master keys it handed over
//! (at registration, and when it rolls them in a heartbeat answer). Every container start is
//! checked against them, whatever protocol it came in on: no valid token, no process. And the
//! NM-token keys, with which an application master proves on the Hadoop IPC face (SASL
//! DIGEST-MD5) which attempt it speaks for.

use std::sync::{PoisonError, RwLock};

use prost::Message;
use weft_hadoop_ipc::common::TokenProto;
use weft_hadoop_ipc::container_token::{self, Refusal};
use weft_hadoop_ipc::token::{decode_identifier, MasterKey, TokenKind};
use weft_hadoop_ipc::yarn::{ContainerTokenIdentifierProto, NmTokenIdentifierProto};
use weft_proto::{pb, ApplicationId, ContainerId};

/// Keys kept: the current one and the one before it, so tokens signed just before a roll still
/// start their containers.
const KEPT_KEYS: usize = 2;

#[derive(Default)]
pub(crate) struct Authority {
    /// Newest last.
    keys: RwLock<Vec<MasterKey>>,
    /// NM-token keys, newest last.
    nm_keys: RwLock<Vec<MasterKey>>,
}

/// Takes `key` into `keys` (newest last, `KEPT_KEYS` at most); true when it is new.
fn keep(keys: &RwLock<Vec<MasterKey>>, key: &pb::MasterKey) -> bool {
    let mut keys = keys.write().unwrap_or_else(PoisonError::into_inner);
    if keys.iter().any(|k| k.key_id() == key.key_id && k.secret() == key.secret.as_slice()) {
        return false;
    }
    keys.retain(|k| k.key_id() != key.key_id);
    keys.push(MasterKey::new(key.key_id, key.secret.clone()));
    let excess = keys.len().saturating_sub(KEPT_KEYS);
    keys.drain(..excess);
    true
}

impl Authority {
    /// Takes a key the ResourceManager sent; a key already held changes nothing.
    pub(crate) fn accept(&self, key: &pb::MasterKey) {
        if keep(&self.keys, key) {
            tracing::info!(key_id = key.key_id, "holding the ResourceManager's container-token key");
        }
    }

    /// Takes an NM-token key the ResourceManager sent.
    pub(crate) fn accept_nm(&self, key: &pb::MasterKey) {
        if keep(&self.nm_keys, key) {
            tracing::info!(key_id = key.key_id, "holding the ResourceManager's NM-token key");
        }
    }

    /// The password of an NM token for the node `node` (`host:port`) signed with a key held here;
    /// `None` for anything else. What SASL DIGEST-MD5 checks an application master's proof with.
    pub(crate) fn nm_password(&self, identifier: &[u8], node: &str) -> Option<Vec<u8>> {
        let decoded = NmTokenIdentifierProto::decode(identifier).ok()?;
        if decoded.node_id.as_ref().map(weft_hadoop_ipc::token::node_address).as_deref() != Some(node) {
            return None;
        }
        let keys = self.nm_keys.read().unwrap_or_else(PoisonError::into_inner);
        keys.iter().find(|k| k.key_id() == decoded.key_id()).map(|k| k.password(identifier))
    }

    /// The application an NM token (an encoded `TokenProto`, as Weft's gRPC calls carry it) speaks
    /// for on the NodeManager at `node`, once its kind, node, key and password check out.
    pub(crate) fn nm_token_application(&self, token: &[u8], node: &str) -> Result<ApplicationId, String> {
        let token = TokenProto::decode(token).map_err(|e| format!("the NM token does not decode: {e}"))?;
        let identifier: NmTokenIdentifierProto =
            decode_identifier(&token, TokenKind::Nm).map_err(|e| format!("not an NM token: {e}"))?;
        let application = identifier
            .app_attempt_id
            .as_ref()
            .and_then(weft_hadoop_ipc::ids::attempt_id)
            .map(|attempt| attempt.application)
            .ok_or("the NM token names no application attempt")?;
        let for_here = identifier.node_id.as_ref().map(weft_hadoop_ipc::token::node_address).as_deref() == Some(node);
        let keys = self.nm_keys.read().unwrap_or_else(PoisonError::into_inner);
        let key = keys.iter().find(|k| k.key_id() == identifier.key_id()).filter(|_| for_here);
        match key {
            None => Err(format!(
                "the NM token of {application} is not for this NodeManager ({node}) or its key is not one the \
                 ResourceManager gave it"
            )),
            Some(key) if !key.verify(&token.identifier, &token.password) => {
                Err(format!("the NM token of {application} is forged (its password does not match)"))
            }
            Some(_) => Ok(application),
        }
    }

    /// Whether `token` lets `container` start on the NodeManager at `node` now; its verified
    /// identifier (the container's user and resource) when it does.
    pub(crate) fn check(
        &self,
        token: &[u8],
        container: ContainerId,
        node: &str,
        now_ms: u64,
    ) -> Result<ContainerTokenIdentifierProto, Refusal> {
        let keys = self.keys.read().unwrap_or_else(PoisonError::into_inner);
        container_token::check(&keys, token, container, node, now_ms)
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
            authority.check(&token(&MasterKey::new(1, b"k1".to_vec()), c), c, "127.0.0.1:8041", 1).unwrap_err(),
            Refusal::NoKey
        );
        for (id, secret) in [(1, b"k1"), (2, b"k2"), (3, b"k3")] {
            authority.accept(&wire(id, secret));
        }
        authority.accept(&wire(3, b"k3"));
        let check = |id: i32, secret: &[u8]| {
            authority.check(&token(&MasterKey::new(id, secret.to_vec()), c), c, "127.0.0.1:8041", 1)
        };
        assert!(check(3, b"k3").is_ok());
        assert!(check(2, b"k2").is_ok());
        assert_eq!(check(1, b"k1").unwrap_err(), Refusal::UnknownKey { container: c, key_id: 1 });
    }

    #[test]
    fn nm_tokens_of_a_held_key_for_this_node_have_passwords_others_do_not() {
        let authority = Authority::default();
        let key = MasterKey::new(7, b"nm".to_vec());
        let c: ContainerId = "container_1700000000000_0001_01_000002".parse().unwrap();
        let node = |port| weft_hadoop_ipc::yarn::NodeIdProto { host: Some("127.0.0.1".into()), port: Some(port) };
        let attempt = weft_hadoop_ipc::ids::attempt_id_proto(c.attempt);
        let token = key.nm_token(attempt, node(8041), "alice");
        assert_eq!(authority.nm_password(&token.identifier, "127.0.0.1:8041"), None);
        authority.accept_nm(&wire(7, b"nm"));
        assert_eq!(authority.nm_password(&token.identifier, "127.0.0.1:8041"), Some(token.password.clone()));
        assert_eq!(authority.nm_password(&token.identifier, "127.0.0.1:9999"), None);
        let elsewhere = key.nm_token(attempt, node(9999), "alice");
        assert_eq!(authority.nm_password(&elsewhere.identifier, "127.0.0.1:8041"), None);
        assert_eq!(authority.nm_password(b"garbage", "127.0.0.1:8041"), None);
        // As Weft's gRPC calls carry it: the whole encoded token.
        let here = "127.0.0.1:8041";
        assert_eq!(authority.nm_token_application(&token.encode_to_vec(), here), Ok(c.application()));
        let forged = TokenProto { password: vec![0; 20], ..token.clone() };
        assert!(authority.nm_token_application(&forged.encode_to_vec(), here).unwrap_err().contains("forged"));
        let error = authority.nm_token_application(&elsewhere.encode_to_vec(), here).unwrap_err();
        assert!(error.contains("not for this NodeManager"), "{error}");
        let other_key = MasterKey::new(8, b"other".to_vec()).nm_token(attempt, node(8041), "alice");
        assert!(authority.nm_token_application(&other_key.encode_to_vec(), here).is_err());
        assert!(authority.nm_token_application(b"garbage", here).unwrap_err().contains("does not decode"));
    }
}

//! Container tokens: the ResourceManager's authority to start one granted container on one node.
//! The ResourceManager signs one for every grant ([`sign`]); a NodeManager starts nothing without
//! one that [`check`] accepts — whichever protocol the start request came in on.

use prost::encoding::WireType;
use prost::Message;
use weft_proto::{ApplicationAttemptId, ContainerId};

use crate::common::TokenProto;
use crate::ids;
use crate::token::{MasterKey, TokenError, TokenKind};
use crate::yarn::{ContainerIdProto, ContainerTokenIdentifierProto, ContainerTypeProto, PriorityProto, ResourceProto};

/// What a container token vouches for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant<'a> {
    pub container: ContainerId,
    /// `host:port` of the NodeManager that may start it.
    pub node: &'a str,
    /// The application's submitter.
    pub user: &'a str,
    pub memory_mb: i64,
    pub vcores: i32,
    pub priority: i32,
    pub is_am: bool,
    pub created_ms: u64,
    /// After this the token starts nothing (YARN: the grant's allocation expiry).
    pub expiry_ms: u64,
    /// The ResourceManager's identity: its cluster timestamp.
    pub rm_identifier: u64,
}

/// The encoded `TokenProto` of `grant`, signed with `key`.
pub fn sign(key: &MasterKey, grant: &Grant<'_>) -> Vec<u8> {
    Signer::new(key).sign(grant)
}

/// Signs grant after grant with one key, each token the same bytes [`sign`] gives: the
/// identifier's fields after the node (submitter, resource, expiry, key id, RM identifier,
/// priority, creation time, type) are encoded again only when they differ from the previous
/// grant's, which in one allocate reply they seldom do, as is the container id's application and
/// attempt; and the identifier, password and token
/// are built in buffers kept from grant to grant. A token then costs its container id's and node's
/// bytes, the HMAC and one allocation, the returned token's.
pub struct Signer<'k> {
    key: &'k MasterKey,
    /// The fields after the node, encoded, and the grant they were encoded from.
    rest: Option<(Rest, Vec<u8>)>,
    /// Fields 1 and 2 of a `ContainerIdProto` (the application and the attempt; field 3 is the
    /// container's number), encoded, and the attempt they name.
    attempt: Option<(ApplicationAttemptId, Vec<u8>)>,
    /// The token being built; its identifier is assembled in place.
    token: TokenProto,
}

/// What a container token says besides the container and the node.
#[derive(Clone, PartialEq, Eq)]
struct Rest {
    user: String,
    memory_mb: i64,
    vcores: i32,
    priority: i32,
    is_am: bool,
    created_ms: u64,
    expiry_ms: u64,
    rm_identifier: u64,
}

impl Rest {
    fn of(grant: &Grant<'_>) -> Rest {
        let Grant {
            container: _,
            node: _,
            user,
            memory_mb,
            vcores,
            priority,
            is_am,
            created_ms,
            expiry_ms,
            rm_identifier,
        } = *grant;
        Rest { user: user.to_string(), memory_mb, vcores, priority, is_am, created_ms, expiry_ms, rm_identifier }
    }

    /// Whether `grant` says the same.
    fn matches(&self, grant: &Grant<'_>) -> bool {
        (self.memory_mb, self.vcores, self.priority, self.is_am, self.created_ms, self.expiry_ms, self.rm_identifier)
            == (
                grant.memory_mb,
                grant.vcores,
                grant.priority,
                grant.is_am,
                grant.created_ms,
                grant.expiry_ms,
                grant.rm_identifier,
            )
            && self.user == grant.user
    }

    /// The identifier's fields from 3 on, encoded (fields 1 and 2 left out).
    fn encode(&self, key_id: i32) -> Vec<u8> {
        let container_type = if self.is_am { ContainerTypeProto::ApplicationMaster } else { ContainerTypeProto::Task };
        ContainerTokenIdentifierProto {
            app_submitter: Some(self.user.clone()),
            resource: Some(ResourceProto {
                memory: Some(self.memory_mb),
                virtual_cores: Some(self.vcores),
                resource_value_map: Vec::new(),
            }),
            expiry_time_stamp: Some(self.expiry_ms as i64),
            master_key_id: Some(key_id),
            rm_identifier: Some(self.rm_identifier as i64),
            priority: Some(PriorityProto { priority: Some(self.priority) }),
            creation_time: Some(self.created_ms as i64),
            container_type: Some(container_type as i32),
            ..Default::default()
        }
        .encode_to_vec()
    }
}

impl<'k> Signer<'k> {
    pub fn new(key: &'k MasterKey) -> Signer<'k> {
        let token = TokenProto { kind: TokenKind::Container.as_str().to_string(), ..Default::default() };
        Signer { key, rest: None, attempt: None, token }
    }

    /// The encoded `TokenProto` of `grant`.
    pub fn sign(&mut self, grant: &Grant<'_>) -> Vec<u8> {
        self.build(grant);
        self.token.encode_to_vec()
    }

    /// The token of `grant`, put together in the signer's buffers (good until the next call),
    /// for a caller that writes it into a message of its own.
    pub fn token(&mut self, grant: &Grant<'_>) -> &TokenProto {
        self.build(grant);
        &self.token
    }

    /// Puts `grant`'s token together in `self.token`. Protobuf writes a message's fields in the
    /// order of their numbers, each on its own, so the identifier is field 1 (the container id),
    /// field 2 (the node) and the rest, one after the other.
    fn build(&mut self, grant: &Grant<'_>) {
        if !self.rest.as_ref().is_some_and(|(rest, _)| rest.matches(grant)) {
            let rest = Rest::of(grant);
            let encoded = rest.encode(self.key.key_id());
            self.rest = Some((rest, encoded));
        }
        if self.attempt.as_ref().is_none_or(|(attempt, _)| *attempt != grant.container.attempt) {
            let ContainerIdProto { app_id, app_attempt_id, id: _ } = ids::container_id_proto(grant.container);
            let encoded = ContainerIdProto { app_id, app_attempt_id, id: None }.encode_to_vec();
            self.attempt = Some((grant.container.attempt, encoded));
        }
        let (_, attempt) = self.attempt.as_ref().expect("set above");
        let (_, rest) = self.rest.as_ref().expect("set above");
        let TokenProto { identifier, password, kind: _, service } = &mut self.token;
        // The token's service is the node, as the identifier's field 2 names it.
        service.clear();
        service.push_str(grant.node);
        identifier.clear();
        let number = ids::container_id_proto(grant.container).id();
        let container_id_len = attempt.len() + prost::encoding::int64::encoded_len(3, &number);
        prost::encoding::encode_key(1, WireType::LengthDelimited, identifier);
        prost::encoding::encode_varint(container_id_len as u64, identifier);
        identifier.extend_from_slice(attempt);
        prost::encoding::int64::encode(3, &number, identifier);
        prost::encoding::string::encode(2, service, identifier);
        identifier.extend_from_slice(rest);
        self.key.password_into(identifier, password);
    }
}

/// Why a start was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Refusal {
    #[error("no container token was given for {container}: only the ResourceManager can grant a container")]
    Missing { container: ContainerId },
    #[error("the container token for {container} does not decode: {error}")]
    Malformed { container: ContainerId, error: String },
    #[error("this NodeManager has no container-token key yet (not registered with a ResourceManager yet)")]
    NoKey,
    #[error(
        "the container token for {container} was signed with master key {key_id}, which this NodeManager does not hold"
    )]
    UnknownKey { container: ContainerId, key_id: i32 },
    #[error("invalid container token used for starting container {container}: {error}")]
    Invalid { container: ContainerId, error: TokenError },
    #[error("the container token is for container {token_for}, not for {container}")]
    OtherContainer { container: ContainerId, token_for: String },
    #[error("the container token for {container} is for the NodeManager at {token_for}, not this one ({node})")]
    OtherNode { container: ContainerId, token_for: String, node: String },
    #[error("the container token for {container} expired at {expiry_ms} (now {now_ms}); system times on the machines may be out of sync")]
    Expired { container: ContainerId, expiry_ms: i64, now_ms: u64 },
}

/// Checks an encoded container token for starting `container` on the NodeManager at `node` at
/// `now_ms`, with whichever of `keys` signed it; the verified identifier when it holds.
pub fn check(
    keys: &[MasterKey],
    token: &[u8],
    container: ContainerId,
    node: &str,
    now_ms: u64,
) -> Result<ContainerTokenIdentifierProto, Refusal> {
    if token.is_empty() {
        return Err(Refusal::Missing { container });
    }
    if keys.is_empty() {
        return Err(Refusal::NoKey);
    }
    let token = TokenProto::decode(token).map_err(|e| Refusal::Malformed { container, error: e.to_string() })?;
    let unverified: ContainerTokenIdentifierProto = crate::token::decode_identifier(&token, TokenKind::Container)
        .map_err(|error| Refusal::Invalid { container, error })?;
    let key_id = unverified.master_key_id();
    let key = keys.iter().find(|k| k.key_id() == key_id).ok_or(Refusal::UnknownKey { container, key_id })?;
    let identifier: ContainerTokenIdentifierProto =
        key.verify_token(&token, TokenKind::Container).map_err(|error| Refusal::Invalid { container, error })?;
    let token_for = identifier.container_id.as_ref().and_then(ids::container_id);
    if token_for != Some(container) {
        let token_for = token_for.map_or_else(|| "no valid container".to_string(), |c| c.to_string());
        return Err(Refusal::OtherContainer { container, token_for });
    }
    if identifier.nm_host_addr() != node {
        return Err(Refusal::OtherNode {
            container,
            token_for: identifier.nm_host_addr().to_string(),
            node: node.into(),
        });
    }
    let expiry_ms = identifier.expiry_time_stamp();
    if expiry_ms < 0 || (expiry_ms as u64) < now_ms {
        return Err(Refusal::Expired { container, expiry_ms, now_ms });
    }
    Ok(identifier)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(n: u64) -> ContainerId {
        format!("container_1700000000000_0001_01_{n:06}").parse().unwrap()
    }

    fn grant(n: u64) -> Grant<'static> {
        Grant {
            container: container(n),
            node: "127.0.0.1:8041",
            user: "alice",
            memory_mb: 1024,
            vcores: 1,
            priority: 1,
            is_am: false,
            created_ms: 1_000,
            expiry_ms: 601_000,
            rm_identifier: 1_700_000_000_000,
        }
    }

    #[test]
    fn a_signed_token_starts_its_container_on_its_node_until_it_expires() {
        let key = MasterKey::new(3, b"secret".to_vec());
        let token = sign(&key, &grant(2));
        let keys = [MasterKey::new(2, b"old".to_vec()), key.clone()];
        let identifier = check(&keys, &token, container(2), "127.0.0.1:8041", 5_000).unwrap();
        assert_eq!((identifier.app_submitter(), identifier.master_key_id()), ("alice", 3));
        assert_eq!(identifier.resource.unwrap().memory, Some(1024));
        let late = check(&keys, &token, container(2), "127.0.0.1:8041", 601_001).unwrap_err();
        assert!(matches!(late, Refusal::Expired { .. }), "{late}");
    }

    /// The token as the key signs a whole identifier message: what `sign` gave before its
    /// identifier was put together from parts.
    fn signed_whole(key: &MasterKey, grant: &Grant<'_>) -> Vec<u8> {
        let container_type = if grant.is_am { ContainerTypeProto::ApplicationMaster } else { ContainerTypeProto::Task };
        let identifier = ContainerTokenIdentifierProto {
            container_id: Some(ids::container_id_proto(grant.container)),
            nm_host_addr: Some(grant.node.to_string()),
            app_submitter: Some(grant.user.to_string()),
            resource: Some(ResourceProto {
                memory: Some(grant.memory_mb),
                virtual_cores: Some(grant.vcores),
                resource_value_map: Vec::new(),
            }),
            expiry_time_stamp: Some(grant.expiry_ms as i64),
            rm_identifier: Some(grant.rm_identifier as i64),
            priority: Some(PriorityProto { priority: Some(grant.priority) }),
            creation_time: Some(grant.created_ms as i64),
            container_type: Some(container_type as i32),
            ..Default::default()
        };
        key.container_token(identifier).encode_to_vec()
    }

    #[test]
    fn grants_signed_in_a_row_are_the_tokens_of_their_whole_identifiers() {
        let key = MasterKey::new(3, b"secret".to_vec());
        let mut signer = Signer::new(&key);
        let epoch: ContainerId = "container_e17_1700000000000_0001_01_4000000000".parse().unwrap();
        let grants = [
            grant(2),
            Grant { node: "a-much-longer-host-name.example.com:45454", ..grant(3) },
            Grant { container: epoch, ..grant(4) },
            Grant { memory_mb: 1 << 40, vcores: 0, priority: -1, ..grant(5) },
            Grant { user: "", is_am: true, created_ms: 0, expiry_ms: u64::MAX, rm_identifier: 0, ..grant(6) },
            Grant { user: "bob", node: "", ..grant(7) },
            grant(8),
            Grant { container: "container_1800000000000_12345_03_000000".parse().unwrap(), ..grant(9) },
            grant(10),
        ];
        for g in &grants {
            assert_eq!(signer.sign(g), signed_whole(&key, g), "{g:?}");
            assert_eq!(signer.token(g).encode_to_vec(), signed_whole(&key, g), "{g:?}");
        }
    }

    #[test]
    fn every_other_token_is_refused_and_says_why() {
        let key = MasterKey::new(3, b"secret".to_vec());
        let keys = [key.clone()];
        let token = sign(&key, &grant(2));
        let at = |token: &[u8], n: u64, node: &str| check(&keys, token, container(n), node, 5_000).unwrap_err();
        assert_eq!(at(&[], 2, "127.0.0.1:8041"), Refusal::Missing { container: container(2) });
        assert!(matches!(at(&[0xff, 0x01], 2, "127.0.0.1:8041"), Refusal::Malformed { .. }));
        let other = at(&token, 3, "127.0.0.1:8041");
        assert!(other.to_string().contains("is for container container_1700000000000_0001_01_000002"), "{other}");
        assert!(matches!(at(&token, 2, "127.0.0.1:9999"), Refusal::OtherNode { .. }));
        let forged = sign(&MasterKey::new(3, b"guessed".to_vec()), &grant(2));
        assert!(matches!(at(&forged, 2, "127.0.0.1:8041"), Refusal::Invalid { .. }));
        let unknown = sign(&MasterKey::new(9, b"secret".to_vec()), &grant(2));
        assert_eq!(at(&unknown, 2, "127.0.0.1:8041"), Refusal::UnknownKey { container: container(2), key_id: 9 });
        assert_eq!(check(&[], &token, container(2), "127.0.0.1:8041", 0), Err(Refusal::NoKey));
        // Another kind of token, even validly signed, is no container token.
        let amrm = key.amrm_token(ids::attempt_id_proto(container(2).attempt), "rm:8030").encode_to_vec();
        assert!(matches!(at(&amrm, 2, "127.0.0.1:8041"), Refusal::Invalid { .. }));
    }
}

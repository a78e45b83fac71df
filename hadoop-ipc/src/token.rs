//! YARN's tokens (facts/hadoop-ipc.md §3.2): an identifier (the plain protobuf bytes of an
//! `*IdentifierProto`), a password = HMAC-SHA1(master key, identifier), a kind and a service. Clients
//! treat passwords as opaque; only Weft's daemons compute and check them, with keys they hold.

use hmac::{Hmac, Mac};
use prost::{Message, Name};
use sha1::Sha1;

use crate::common::TokenProto;
use crate::yarn::{
    AmrmTokenIdentifierProto, ApplicationAttemptIdProto, ContainerTokenIdentifierProto, NmTokenIdentifierProto,
    NodeIdProto,
};

type HmacSha1 = Hmac<Sha1>;

/// Bytes in a generated key: the default of Java's `KeyGenerator` for HmacSHA1, which YARN uses.
const GENERATED_KEY_LEN: usize = 64;

/// The three kinds of token YARN's protocols carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    /// Names the attempt an AM speaks for, on every ApplicationMasterProtocol connection.
    AmRm,
    /// Lets an attempt talk to one NodeManager.
    Nm,
    /// One granted container on one node, checked by the NodeManager before it starts anything.
    Container,
}

impl TokenKind {
    /// The kind as Hadoop writes it in `TokenProto.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::AmRm => "YARN_AM_RM_TOKEN",
            TokenKind::Nm => "NMToken",
            TokenKind::Container => "ContainerToken",
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("token is of kind {found:?}, expected {expected:?}")]
    Kind { found: String, expected: &'static str },
    #[error("cannot decode the token identifier as {what}: {source}")]
    Identifier { what: &'static str, source: prost::DecodeError },
    #[error("the token's password does not match its identifier under master key {key_id}")]
    Password { key_id: i32 },
}

/// A secret the ResourceManager signs tokens with; identifiers carry its id so a verifier can pick
/// the key when keys roll. `Debug` does not show the secret.
#[derive(Clone)]
pub struct MasterKey {
    key_id: i32,
    secret: Vec<u8>,
    /// HMAC-SHA1 keyed with `secret` and nothing hashed yet: the inner and outer pads are hashed
    /// once here, so each password costs a clone and the identifier's blocks, not the key's too.
    keyed: HmacSha1,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("MasterKey").field("key_id", &self.key_id).finish_non_exhaustive()
    }
}

impl MasterKey {
    pub fn new(key_id: i32, secret: Vec<u8>) -> MasterKey {
        let keyed = HmacSha1::new_from_slice(&secret).expect("HMAC takes a key of any length");
        MasterKey { key_id, secret, keyed }
    }

    /// A key of 64 bytes from the operating system's random source.
    pub fn generate(key_id: i32) -> Result<MasterKey, getrandom::Error> {
        let mut secret = vec![0; GENERATED_KEY_LEN];
        getrandom::fill(&mut secret)?;
        Ok(MasterKey::new(key_id, secret))
    }

    pub fn key_id(&self) -> i32 {
        self.key_id
    }

    /// The secret itself, for handing the key to a verifier over a channel only daemons use (the
    /// ResourceManager to its NodeManagers).
    pub fn secret(&self) -> &[u8] {
        &self.secret
    }

    fn mac(&self) -> HmacSha1 {
        self.keyed.clone()
    }

    /// HMAC-SHA1 of the identifier bytes: YARN's token password.
    pub fn password(&self, identifier: &[u8]) -> Vec<u8> {
        let mut mac = self.mac();
        mac.update(identifier);
        mac.finalize().into_bytes().to_vec()
    }

    /// [`MasterKey::password`] written into `out` (cleared first), so a caller signing many
    /// identifiers reuses one buffer.
    pub(crate) fn password_into(&self, identifier: &[u8], out: &mut Vec<u8>) {
        let mut mac = self.mac();
        mac.update(identifier);
        out.clear();
        out.extend_from_slice(&mac.finalize().into_bytes());
    }

    /// Whether `password` is this key's password for `identifier` (compared in constant time).
    pub fn verify(&self, identifier: &[u8], password: &[u8]) -> bool {
        let mut mac = self.mac();
        mac.update(identifier);
        mac.verify_slice(password).is_ok()
    }

    /// Signs `identifier` into a token of `kind` for `service` (`host:port` of the server that checks it).
    pub fn sign(&self, kind: TokenKind, identifier: &impl Message, service: &str) -> TokenProto {
        let identifier = identifier.encode_to_vec();
        TokenProto {
            password: self.password(&identifier),
            identifier,
            kind: kind.as_str().to_string(),
            service: service.to_string(),
        }
    }

    /// The AMRM token of an attempt, signed with this key.
    pub fn amrm_token(&self, attempt: ApplicationAttemptIdProto, service: &str) -> TokenProto {
        let identifier = AmrmTokenIdentifierProto { app_attempt_id: Some(attempt), key_id: Some(self.key_id) };
        self.sign(TokenKind::AmRm, &identifier, service)
    }

    /// The NM token that lets `attempt` talk to the NodeManager `node`.
    pub fn nm_token(&self, attempt: ApplicationAttemptIdProto, node: NodeIdProto, app_submitter: &str) -> TokenProto {
        let service = node_address(&node);
        let identifier = NmTokenIdentifierProto {
            app_attempt_id: Some(attempt),
            node_id: Some(node),
            app_submitter: Some(app_submitter.to_string()),
            key_id: Some(self.key_id),
        };
        self.sign(TokenKind::Nm, &identifier, &service)
    }

    /// A signer of `attempt`'s NM tokens for many nodes: what [`MasterKey::nm_token`] gives, encoded.
    pub fn nm_tokens(&self, attempt: ApplicationAttemptIdProto, app_submitter: &str) -> NmTokens<'_> {
        NmTokens::new(self, attempt, app_submitter)
    }

    /// The container token for `identifier` (its `master_key_id` set to this key's id), for the
    /// NodeManager at `nm_host_addr`.
    pub fn container_token(&self, identifier: ContainerTokenIdentifierProto) -> TokenProto {
        let service = identifier.nm_host_addr().to_string();
        let identifier = ContainerTokenIdentifierProto { master_key_id: Some(self.key_id), ..identifier };
        self.sign(TokenKind::Container, &identifier, &service)
    }

    /// Checks a token's kind and password under this key, then decodes its identifier.
    pub fn verify_token<M: Message + Name + Default>(
        &self,
        token: &TokenProto,
        kind: TokenKind,
    ) -> Result<M, TokenError> {
        let identifier = decode_identifier(token, kind)?;
        if !self.verify(&token.identifier, &token.password) {
            return Err(TokenError::Password { key_id: self.key_id });
        }
        Ok(identifier)
    }
}

/// Signs one attempt's NM tokens for node after node, each the encoded `TokenProto` that
/// [`MasterKey::nm_token`] gives, byte for byte: the identifier's fields that do not name the node
/// (the attempt, the submitter, the key id) are encoded once, and the identifier, password and
/// token are built in buffers kept from node to node, so each token costs its node's bytes, the
/// HMAC and one allocation, the returned token's.
pub struct NmTokens<'k> {
    key: &'k MasterKey,
    /// Field 1 of the identifier, the attempt, encoded.
    attempt: Vec<u8>,
    /// Fields 3 and 4 of the identifier, the submitter and the key id, encoded.
    rest: Vec<u8>,
    node: NodeIdProto,
    /// The token being built; its identifier is assembled in place.
    token: TokenProto,
}

impl<'k> NmTokens<'k> {
    fn new(key: &'k MasterKey, attempt: ApplicationAttemptIdProto, app_submitter: &str) -> NmTokens<'k> {
        let attempt = NmTokenIdentifierProto { app_attempt_id: Some(attempt), ..Default::default() }.encode_to_vec();
        let rest = NmTokenIdentifierProto {
            app_submitter: Some(app_submitter.to_string()),
            key_id: Some(key.key_id),
            ..Default::default()
        }
        .encode_to_vec();
        let token = TokenProto { kind: TokenKind::Nm.as_str().to_string(), ..Default::default() };
        NmTokens { key, attempt, rest, node: NodeIdProto::default(), token }
    }

    /// The encoded NM token for the NodeManager at `host:port`.
    pub fn sign(&mut self, host: &str, port: i32) -> Vec<u8> {
        self.build(host, port);
        self.token.encode_to_vec()
    }

    /// The NM token for `host:port`, put together in the signer's buffers (good until the next
    /// call), for a caller that writes it into a message of its own.
    pub fn token(&mut self, host: &str, port: i32) -> &TokenProto {
        self.build(host, port);
        &self.token
    }

    fn build(&mut self, host: &str, port: i32) {
        let host_field = self.node.host.get_or_insert_default();
        host_field.clear();
        host_field.push_str(host);
        self.node.port = Some(port);
        let identifier = &mut self.token.identifier;
        identifier.clear();
        identifier.extend_from_slice(&self.attempt);
        prost::encoding::message::encode(2, &self.node, identifier);
        identifier.extend_from_slice(&self.rest);
        self.key.password_into(&self.token.identifier, &mut self.token.password);
        self.token.service.clear();
        use std::fmt::Write;
        write!(self.token.service, "{host}:{port}").expect("a String takes any text");
    }
}

/// Decodes the identifier of a token of `kind`, after checking its kind. The password is not checked.
pub fn decode_identifier<M: Message + Name + Default>(token: &TokenProto, kind: TokenKind) -> Result<M, TokenError> {
    if token.kind != kind.as_str() {
        return Err(TokenError::Kind { found: token.kind.clone(), expected: kind.as_str() });
    }
    M::decode(token.identifier.as_slice()).map_err(|source| TokenError::Identifier { what: M::NAME, source })
}

/// `host:port`, as YARN prints a `NodeId` and as clients key NM tokens.
pub fn node_address(node: &NodeIdProto) -> String {
    format!("{}:{}", node.host(), node.port())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yarn::{ApplicationIdProto, ContainerIdProto, ResourceProto};

    fn attempt() -> ApplicationAttemptIdProto {
        let application_id = ApplicationIdProto { id: Some(3), cluster_timestamp: Some(1_700_000_000_000) };
        ApplicationAttemptIdProto { application_id: Some(application_id), attempt_id: Some(1) }
    }

    fn node() -> NodeIdProto {
        NodeIdProto { host: Some("127.0.0.1".to_string()), port: Some(8041) }
    }

    #[test]
    fn password_is_hmac_sha1_of_the_identifier() {
        // RFC 2202, HMAC-SHA1 test case 2.
        let key = MasterKey::new(1, b"Jefe".to_vec());
        assert_eq!(
            hex::encode(key.password(b"what do ya want for nothing?")),
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
        );
        assert!(key.verify(b"what do ya want for nothing?", &key.password(b"what do ya want for nothing?")));
        assert!(!key.verify(b"what do ya want for nothing!", &key.password(b"what do ya want for nothing?")));
    }

    #[test]
    fn amrm_token_round_trip() {
        let key = MasterKey::new(7, b"secret".to_vec());
        let token = key.amrm_token(attempt(), "127.0.0.1:8030");
        assert_eq!((token.kind.as_str(), token.service.as_str()), ("YARN_AM_RM_TOKEN", "127.0.0.1:8030"));
        let identifier: AmrmTokenIdentifierProto = key.verify_token(&token, TokenKind::AmRm).unwrap();
        assert_eq!(identifier, AmrmTokenIdentifierProto { app_attempt_id: Some(attempt()), key_id: Some(7) });
    }

    #[test]
    fn nm_token_round_trip() {
        let key = MasterKey::new(2, b"secret".to_vec());
        let token = key.nm_token(attempt(), node(), "alice");
        assert_eq!((token.kind.as_str(), token.service.as_str()), ("NMToken", "127.0.0.1:8041"));
        let identifier: NmTokenIdentifierProto = key.verify_token(&token, TokenKind::Nm).unwrap();
        assert_eq!((identifier.app_submitter(), identifier.key_id()), ("alice", 2));
        assert_eq!(identifier.node_id, Some(node()));
    }

    #[test]
    fn nm_tokens_signed_in_a_row_are_the_tokens_signed_one_by_one() {
        let key = MasterKey::new(2, b"secret".to_vec());
        let mut tokens = key.nm_tokens(attempt(), "alice");
        for (host, port) in [("127.0.0.1", 8041), ("a-much-longer-host-name.example.com", 45454), ("", 0), ("h", -1)] {
            let node = NodeIdProto { host: Some(host.to_string()), port: Some(port) };
            let whole = key.nm_token(attempt(), node, "alice").encode_to_vec();
            assert_eq!(tokens.sign(host, port), whole, "{host}:{port}");
            assert_eq!(tokens.token(host, port).encode_to_vec(), whole, "{host}:{port}");
        }
    }

    #[test]
    fn container_token_round_trip() {
        let key = MasterKey::new(5, b"secret".to_vec());
        let container_id =
            ContainerIdProto { app_id: attempt().application_id, app_attempt_id: Some(attempt()), id: Some(2) };
        let identifier = ContainerTokenIdentifierProto {
            container_id: Some(container_id),
            nm_host_addr: Some("127.0.0.1:8041".to_string()),
            app_submitter: Some("alice".to_string()),
            resource: Some(ResourceProto { memory: Some(896), virtual_cores: Some(1), resource_value_map: vec![] }),
            expiry_time_stamp: Some(1_700_000_600_000),
            ..Default::default()
        };
        let token = key.container_token(identifier.clone());
        assert_eq!((token.kind.as_str(), token.service.as_str()), ("ContainerToken", "127.0.0.1:8041"));
        let decoded: ContainerTokenIdentifierProto = key.verify_token(&token, TokenKind::Container).unwrap();
        assert_eq!(decoded, ContainerTokenIdentifierProto { master_key_id: Some(5), ..identifier });
        assert_eq!(decoded.allocation_request_id(), -1, "Hadoop's default when unset");
    }

    #[test]
    fn tokens_are_refused_for_the_wrong_kind_key_or_bytes() {
        let key = MasterKey::new(1, b"secret".to_vec());
        let token = key.amrm_token(attempt(), "rm:8030");
        assert_eq!(
            key.verify_token::<NmTokenIdentifierProto>(&token, TokenKind::Nm),
            Err(TokenError::Kind { found: "YARN_AM_RM_TOKEN".to_string(), expected: "NMToken" })
        );
        let other_key = MasterKey::new(1, b"another secret".to_vec());
        assert_eq!(
            other_key.verify_token::<AmrmTokenIdentifierProto>(&token, TokenKind::AmRm),
            Err(TokenError::Password { key_id: 1 })
        );
        let mut forged = token.clone();
        forged.identifier[0] ^= 0x40;
        assert!(key.verify_token::<AmrmTokenIdentifierProto>(&forged, TokenKind::AmRm).is_err());
        let garbage = TokenProto { identifier: vec![0xff, 0xff], ..token };
        assert!(matches!(
            decode_identifier::<AmrmTokenIdentifierProto>(&garbage, TokenKind::AmRm),
            Err(TokenError::Identifier { what: "AMRMTokenIdentifierProto", .. })
        ));
    }

    #[test]
    fn generated_keys_differ_and_hide_their_secret() {
        let first = MasterKey::generate(1).unwrap();
        let second = MasterKey::generate(2).unwrap();
        assert_ne!(first.password(b"id"), second.password(b"id"));
        assert_eq!(format!("{first:?}"), "MasterKey { key_id: 1, .. }");
    }
}

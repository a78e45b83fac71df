//! The ResourceManager's secrets: the master keys it signs container tokens and NM tokens with,
//! handed to every NodeManager when it registers, so that a NodeManager starts only containers this
//! ResourceManager granted; and the AMRM key, which never leaves the ResourceManager: an attempt's
//! AMRM token is how an application master proves, over SASL DIGEST-MD5 on the scheduler port,
//! which attempt it speaks for. The staging key never leaves it either: an application's staging
//! token, handed to its client with the application id, is what lets that client put files in (and
//! check files of) the application's account in the staging store; it names the user who asked for
//! the id too, whose earlier uploads then count for the application (`staging::accounts`). A
//! NodeManager downloads a file
//! for a container with that container's token, which this ResourceManager checks with the
//! container-token key it signed it with. Without recovery the keys live in memory only: a
//! restarted ResourceManager has new ones, and its NodeManagers learn them when they register
//! again; with recovery they are kept in the state store, so tokens handed out before a restart
//! (an AM's AMRM token, a running container's token) stay good after it.

use std::time::Duration;

use prost::Message;
use weft_hadoop_ipc::common::TokenProto;
use weft_hadoop_ipc::container_token::{self, Grant};
use weft_hadoop_ipc::ids;
use weft_hadoop_ipc::token::{MasterKey, TokenKind};
use weft_hadoop_ipc::yarn::{
    AmrmTokenIdentifierProto, ApplicationIdProto, ContainerTokenIdentifierProto, NodeIdProto,
    StagingTokenIdentifierProto,
};
use weft_proto::{pb, ApplicationAttemptId, ApplicationId, ContainerId, NodeId};

use crate::core::RmContainer;

/// The kind written in a staging token's `TokenProto.kind`.
pub const STAGING_TOKEN_KIND: &str = "WeftStagingToken";

/// Why a staging or container token was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenRefusal {
    #[error("the token does not decode: {0}")]
    Malformed(String),
    #[error("the token is of kind {found:?}, expected {expected:?}")]
    Kind { found: String, expected: &'static str },
    #[error("the token of {whose} is forged or from another ResourceManager (its password does not match)")]
    Forged { whose: String },
}

/// Container tokens for one application's grants, signed one after the other (see
/// [`container_token::Signer`]).
pub struct ContainerTokens<'k> {
    signer: container_token::Signer<'k>,
    keys: &'k Keys,
    user: &'k str,
    rm_identifier: u64,
}

impl<'k> ContainerTokens<'k> {
    /// The container token of `container`, whose node prints as `node` (`host:port`).
    pub fn sign(&mut self, container: &RmContainer, node: &str) -> Vec<u8> {
        let grant = self.grant(container, node);
        self.signer.sign(&grant)
    }

    /// The container token of `container`, good until the next call (see
    /// [`container_token::Signer::token`]).
    pub fn token(&mut self, container: &RmContainer, node: &str) -> &TokenProto {
        let grant = self.grant(container, node);
        self.signer.token(&grant)
    }

    fn grant<'g>(&self, container: &RmContainer, node: &'g str) -> Grant<'g>
    where
        'k: 'g,
    {
        Grant {
            container: container.id,
            node,
            user: self.user,
            memory_mb: container.resource.memory_mb,
            vcores: container.resource.vcores,
            priority: container.priority,
            is_am: container.is_am,
            created_ms: container.created_ms,
            expiry_ms: container.created_ms + self.keys.container_token_life.as_millis() as u64,
            rm_identifier: self.rm_identifier,
        }
    }
}

/// One attempt's NM tokens, signed one node after another.
pub struct NmTokens<'k>(weft_hadoop_ipc::token::NmTokens<'k>);

impl NmTokens<'_> {
    /// The encoded NM token for `node`.
    pub fn sign(&mut self, node: &NodeId) -> Vec<u8> {
        self.0.sign(&node.host, i32::from(node.port))
    }

    /// The NM token for `node`, good until the next call.
    pub fn token(&mut self, node: &NodeId) -> &TokenProto {
        self.0.token(&node.host, i32::from(node.port))
    }
}

/// Whom a staging token speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagingHolder {
    pub application: ApplicationId,
    /// The user who asked for the application id; `None` when that call named no user, and for a
    /// token handed out before tokens named users (its identifier is the bare application id).
    pub user: Option<String>,
}

impl StagingHolder {
    /// Reads a staging token's identifier, in either format; `None` when it names no application.
    fn decode(identifier: &[u8]) -> Option<StagingHolder> {
        // The two formats do not read as each other: field 1 is a message in one and an integer in
        // the other, which the decoder refuses.
        if let Ok(StagingTokenIdentifierProto { application_id, user }) =
            StagingTokenIdentifierProto::decode(identifier)
        {
            let application = application_id.as_ref().and_then(ids::application_id)?;
            return Some(StagingHolder { application, user: user.filter(|u| !u.is_empty()) });
        }
        let application = ApplicationIdProto::decode(identifier).ok().as_ref().and_then(ids::application_id)?;
        Some(StagingHolder { application, user: None })
    }
}

pub struct Keys {
    container: MasterKey,
    nm: MasterKey,
    amrm: MasterKey,
    staging: MasterKey,
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
            staging: MasterKey::generate(id + 3)?,
            container_token_life,
        })
    }

    /// The keys as the state store keeps them.
    pub fn to_record(&self) -> crate::recovery::records::KeysRecord {
        let pair = |key: &MasterKey| (key.key_id(), hex::encode(key.secret()));
        crate::recovery::records::KeysRecord {
            container: pair(&self.container),
            nm: pair(&self.nm),
            amrm: pair(&self.amrm),
            staging: pair(&self.staging),
        }
    }

    /// The keys the state store kept; an error names the key that does not decode.
    pub fn from_record(
        record: &crate::recovery::records::KeysRecord,
        container_token_life: Duration,
    ) -> Result<Keys, String> {
        let key = |(id, secret): &(i32, String), which: &str| {
            hex::decode(secret)
                .map(|secret| MasterKey::new(*id, secret))
                .map_err(|e| format!("the stored {which} key is not hex: {e}"))
        };
        Ok(Keys {
            container: key(&record.container, "container-token")?,
            nm: key(&record.nm, "NM-token")?,
            amrm: key(&record.amrm, "AMRM")?,
            staging: key(&record.staging, "staging")?,
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
        self.container_tokens(user, rm_identifier).sign(container, &container.node.to_string())
    }

    /// A signer of the container tokens of many containers granted to an application of `user`
    /// (one allocate reply's).
    pub fn container_tokens<'k>(&'k self, user: &'k str, rm_identifier: u64) -> ContainerTokens<'k> {
        ContainerTokens { signer: container_token::Signer::new(&self.container), keys: self, user, rm_identifier }
    }

    /// A signer of `attempt`'s (of `user`) NM tokens for many nodes: each what [`Keys::nm_token`]
    /// gives, encoded.
    pub fn nm_tokens(&self, attempt: ApplicationAttemptId, user: &str) -> NmTokens<'_> {
        NmTokens(self.nm.nm_tokens(ids::attempt_id_proto(attempt), user))
    }

    /// The staging token of `app`, asked for by `user` (an encoded `TokenProto`), answered with its
    /// id by GetNewApplication.
    pub fn staging_token(&self, app: ApplicationId, user: Option<&str>) -> Vec<u8> {
        let identifier = StagingTokenIdentifierProto {
            application_id: Some(ids::application_id_proto(app)),
            user: user.map(str::to_owned),
        }
        .encode_to_vec();
        TokenProto {
            password: self.staging.password(&identifier),
            identifier,
            kind: STAGING_TOKEN_KIND.to_string(),
            service: String::new(),
        }
        .encode_to_vec()
    }

    /// The application (and user) an encoded staging token speaks for, once its kind and password
    /// check out. A token of the format before users were named is read as naming no user.
    pub fn staging_token_holder(&self, token: &[u8]) -> Result<StagingHolder, TokenRefusal> {
        let token = TokenProto::decode(token).map_err(|e| TokenRefusal::Malformed(e.to_string()))?;
        if token.kind != STAGING_TOKEN_KIND {
            return Err(TokenRefusal::Kind { found: token.kind, expected: STAGING_TOKEN_KIND });
        }
        let holder = StagingHolder::decode(&token.identifier)
            .ok_or_else(|| TokenRefusal::Malformed("its identifier names no application".to_string()))?;
        if !self.staging.verify(&token.identifier, &token.password) {
            return Err(TokenRefusal::Forged { whose: holder.application.to_string() });
        }
        Ok(holder)
    }

    /// The container an encoded container token was signed for by this ResourceManager, once its
    /// kind, key and password check out. Its expiry is not checked: it bounds when the container may
    /// start, while a download for it may come later (the application's account bounds that).
    pub fn container_token_container(&self, token: &[u8]) -> Result<ContainerId, TokenRefusal> {
        let token = TokenProto::decode(token).map_err(|e| TokenRefusal::Malformed(e.to_string()))?;
        let identifier: ContainerTokenIdentifierProto =
            self.container.verify_token(&token, TokenKind::Container).map_err(|e| match e {
                weft_hadoop_ipc::token::TokenError::Kind { found, expected } => TokenRefusal::Kind { found, expected },
                weft_hadoop_ipc::token::TokenError::Identifier { source, .. } => {
                    TokenRefusal::Malformed(source.to_string())
                }
                weft_hadoop_ipc::token::TokenError::Password { .. } => {
                    let whose = weft_hadoop_ipc::token::decode_identifier::<ContainerTokenIdentifierProto>(
                        &token,
                        TokenKind::Container,
                    )
                    .ok()
                    .and_then(|i| i.container_id.as_ref().and_then(ids::container_id))
                    .map_or_else(|| "an unnamed container".to_string(), |c| c.to_string());
                    TokenRefusal::Forged { whose }
                }
            })?;
        if identifier.master_key_id() != self.container.key_id() {
            return Err(TokenRefusal::Forged { whose: "a container".to_string() });
        }
        identifier
            .container_id
            .as_ref()
            .and_then(ids::container_id)
            .ok_or_else(|| TokenRefusal::Malformed("its identifier names no container".to_string()))
    }

    /// The keys as a NodeManager receives them.
    pub fn for_node_manager(&self) -> (pb::MasterKey, pb::MasterKey) {
        let wire = |key: &MasterKey| pb::MasterKey { key_id: key.key_id(), secret: key.secret().to_vec() };
        (wire(&self.container), wire(&self.nm))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_proto::Resource;

    fn app(n: u32) -> ApplicationId {
        ApplicationId::new(1_700_000_000_000, n)
    }

    fn holder(n: u32, user: Option<&str>) -> StagingHolder {
        StagingHolder { application: app(n), user: user.map(str::to_owned) }
    }

    /// The identifier of an encoded token.
    fn identifier(token: &[u8]) -> Vec<u8> {
        TokenProto::decode(token).unwrap().identifier
    }

    #[test]
    fn a_staging_token_names_its_application_and_cannot_be_forged_or_renamed() {
        let keys = Keys::generate(1_700_000_000_000, Duration::from_secs(600)).unwrap();
        let token = keys.staging_token(app(1), Some("alice"));
        assert_eq!(keys.staging_token_holder(&token), Ok(holder(1, Some("alice"))));
        // Another ResourceManager's token (another key) is refused.
        let other = Keys::generate(1_700_000_000_000, Duration::from_secs(600)).unwrap();
        let whose = app(1).to_string();
        assert_eq!(other.staging_token_holder(&token), Err(TokenRefusal::Forged { whose: whose.clone() }));
        // The identifier rewritten to name another application keeps the first one's password.
        let mut renamed = TokenProto::decode(token.as_slice()).unwrap();
        renamed.identifier = identifier(&keys.staging_token(app(2), Some("alice")));
        let error = keys.staging_token_holder(&renamed.encode_to_vec()).unwrap_err();
        assert_eq!(error, TokenRefusal::Forged { whose: app(2).to_string() });
        assert!(error.to_string().contains("application_1700000000000_0002 is forged"), "{error}");
        // Another kind of token, and garbage.
        let amrm = keys.amrm_token(ApplicationAttemptId { application: app(1), attempt: 1 }, "rm:8030").encode_to_vec();
        assert!(matches!(keys.staging_token_holder(&amrm), Err(TokenRefusal::Kind { .. })));
        assert!(matches!(keys.staging_token_holder(b"garbage"), Err(TokenRefusal::Malformed(_))));
    }

    #[test]
    fn a_staging_token_names_its_user_who_cannot_be_renamed_or_added() {
        let keys = Keys::generate(1_700_000_000_000, Duration::from_secs(600)).unwrap();
        let alices = keys.staging_token(app(1), Some("alice"));
        let nobodys = keys.staging_token(app(1), None);
        assert_eq!(keys.staging_token_holder(&nobodys), Ok(holder(1, None)));
        // Alice's token rewritten to name bob, or a token naming no user given one: forged.
        let mut as_bob = TokenProto::decode(alices.as_slice()).unwrap();
        as_bob.identifier = identifier(&keys.staging_token(app(1), Some("bob")));
        let mut as_alice = TokenProto::decode(nobodys.as_slice()).unwrap();
        as_alice.identifier = identifier(&alices);
        for forged in [as_bob, as_alice] {
            let error = keys.staging_token_holder(&forged.encode_to_vec()).unwrap_err();
            assert_eq!(error, TokenRefusal::Forged { whose: app(1).to_string() });
        }
    }

    #[test]
    fn a_staging_token_of_the_format_before_users_names_no_user() {
        let keys = Keys::generate(1_700_000_000_000, Duration::from_secs(600)).unwrap();
        let identifier = ids::application_id_proto(app(3)).encode_to_vec();
        let old = |password: Vec<u8>| {
            let identifier = identifier.clone();
            TokenProto { password, identifier, kind: STAGING_TOKEN_KIND.into(), service: String::new() }.encode_to_vec()
        };
        assert_eq!(keys.staging_token_holder(&old(keys.staging.password(&identifier))), Ok(holder(3, None)));
        let error = keys.staging_token_holder(&old(b"guessed".to_vec())).unwrap_err();
        assert_eq!(error, TokenRefusal::Forged { whose: app(3).to_string() });
        // An identifier naming no application, in either format, is malformed.
        for empty in [
            Vec::new(),
            StagingTokenIdentifierProto { application_id: None, user: Some("alice".into()) }.encode_to_vec(),
        ] {
            let token = TokenProto { password: keys.staging.password(&empty), identifier: empty, ..Default::default() };
            let token = TokenProto { kind: STAGING_TOKEN_KIND.into(), ..token }.encode_to_vec();
            assert!(matches!(keys.staging_token_holder(&token), Err(TokenRefusal::Malformed(_))));
        }
    }

    #[test]
    fn a_container_token_of_this_resource_manager_names_its_container() {
        let keys = Keys::generate(1_700_000_000_000, Duration::from_secs(600)).unwrap();
        let id: ContainerId = "container_1700000000000_0001_01_000002".parse().unwrap();
        let container = RmContainer {
            id,
            node: NodeId::new("127.0.0.1", 8041),
            node_http_address: "127.0.0.1:8042".into(),
            resource: Resource::new(1024, 1),
            priority: 1,
            state: weft_proto::states::ContainerState::NEW,
            exit_status: weft_proto::exit_status::INVALID,
            diagnostics: String::new(),
            created_ms: 1,
            finished_ms: 0,
            is_am: false,
            usage: Default::default(),
            reported_kill: None,
            given_back: false,
            released: None,
        };
        let token = keys.container_token(&container, "alice", 1_700_000_000_000);
        assert_eq!(keys.container_token_container(&token), Ok(id));
        let other = Keys::generate(1_700_000_000_000, Duration::from_secs(600)).unwrap();
        let error = other.container_token_container(&token).unwrap_err();
        assert_eq!(error, TokenRefusal::Forged { whose: id.to_string() });
        let staging = keys.staging_token(id.application(), Some("alice"));
        assert!(matches!(keys.container_token_container(&staging), Err(TokenRefusal::Kind { .. })));
    }
}

//! Hadoop's SASL negotiation, server side (facts/hadoop-ipc.md §3, §3.1), as a plain state machine:
//! each client `RpcSaslProto` in, the reply (if any) out, until the client is authenticated as SIMPLE
//! or by a token. Token passwords come from a caller-supplied [`TokenLookup`]; the nonce from the
//! caller too, so every exchange can be replayed in a test.

pub(crate) mod digest;
pub(crate) mod directives;

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;

use crate::common::rpc_sasl_proto::{SaslAuth, SaslState};
use crate::common::RpcSaslProto;
use crate::exceptions;
use digest::{DigestError, DigestServer};

const SIMPLE: &str = "SIMPLE";
const TOKEN: &str = "TOKEN";
const DIGEST_MD5: &str = "DIGEST-MD5";
/// `SaslRpcServer.SASL_DEFAULT_REALM`: Hadoop's realm and server id for token authentication.
const DEFAULT_REALM: &str = "default";

/// Finds the password of a token this server issued, from the token's identifier bytes.
pub trait TokenLookup: Send + Sync {
    /// The password, or `None` for an identifier this server does not know (never issued, expired,
    /// or signed with a key it no longer holds).
    fn password(&self, identifier: &[u8]) -> Option<Vec<u8>>;
}

impl<F> TokenLookup for F
where
    F: Fn(&[u8]) -> Option<Vec<u8>> + Send + Sync,
{
    fn password(&self, identifier: &[u8]) -> Option<Vec<u8>> {
        self(identifier)
    }
}

/// Which authentications a server accepts.
#[derive(Clone)]
pub enum AuthPolicy {
    /// SIMPLE only: a SASL client's NEGOTIATE is answered with SUCCESS (as a SIMPLE-only Hadoop
    /// server does) and the connection context names the user.
    Simple,
    /// TOKEN (SASL DIGEST-MD5) with passwords from `lookup`; with `allow_simple`, SIMPLE is offered
    /// second and clients that skip SASL are accepted too.
    Token { lookup: Arc<dyn TokenLookup>, allow_simple: bool },
}

impl std::fmt::Debug for AuthPolicy {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AuthPolicy::Simple => formatter.write_str("Simple"),
            AuthPolicy::Token { allow_simple, .. } => {
                formatter.debug_struct("Token").field("allow_simple", allow_simple).finish_non_exhaustive()
            }
        }
    }
}

impl AuthPolicy {
    /// Whether a client that skips SASL (preamble auth NONE) may go on.
    pub(crate) fn accepts_simple(&self) -> bool {
        matches!(self, AuthPolicy::Simple | AuthPolicy::Token { allow_simple: true, .. })
    }

    /// Hadoop's `enabledAuthMethods` as its messages print them.
    fn available(&self) -> &'static str {
        match self {
            AuthPolicy::Simple => "[SIMPLE]",
            AuthPolicy::Token { allow_simple: true, .. } => "[TOKEN, SIMPLE]",
            AuthPolicy::Token { allow_simple: false, .. } => "[TOKEN]",
        }
    }
}

/// How a client authenticated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Authenticated {
    Simple,
    /// The identifier of the token whose password the client proved it holds.
    Token {
        identifier: Vec<u8>,
    },
}

#[derive(Debug, PartialEq)]
pub(crate) enum SaslStep {
    /// Send this and wait for the client's next SASL message.
    Continue(RpcSaslProto),
    /// Authentication is over: send `reply` if there is one; the connection context comes next.
    Done { reply: Option<RpcSaslProto>, authenticated: Authenticated },
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum SaslError {
    #[error("unexpected SASL {found} while waiting for {expected}")]
    Unexpected { found: String, expected: &'static str },
    #[error("client mechanism is malformed: {count} auths in INITIATE, expected 1")]
    Malformed { count: usize },
    /// Hadoop's own wording (`Server.Connection`), which its client shows as is.
    #[error("{method} authentication is not enabled.  Available:{available}")]
    NotEnabled { method: String, available: &'static str },
    #[error("SASL token username is not base64")]
    UsernameNotBase64,
    #[error("token is not one this server knows: unknown identifier, expired, or from an old key")]
    InvalidToken,
    #[error("DIGEST-MD5: {0}")]
    Digest(DigestError),
}

impl SaslError {
    /// The Java exception the client sees: Hadoop's server sends the innermost `InvalidToken`,
    /// access errors as `AccessControlException`, the rest as `SaslException`.
    pub(crate) fn exception_class(&self) -> &'static str {
        match self {
            SaslError::InvalidToken => exceptions::INVALID_TOKEN,
            SaslError::NotEnabled { .. } => exceptions::ACCESS_CONTROL,
            _ => exceptions::SASL,
        }
    }

    /// A client that skipped SASL on a server that requires it.
    pub(crate) fn simple_not_enabled(policy: &AuthPolicy) -> SaslError {
        SaslError::NotEnabled { method: SIMPLE.to_string(), available: policy.available() }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Negotiate,
    Initiate,
    Response,
}

/// One connection's SASL exchange.
pub(crate) struct SaslServer {
    policy: AuthPolicy,
    digest: DigestServer,
    phase: Phase,
}

impl SaslServer {
    pub(crate) fn new(policy: AuthPolicy, nonce: String) -> SaslServer {
        SaslServer {
            policy,
            digest: DigestServer::new(DEFAULT_REALM, "", DEFAULT_REALM, nonce),
            phase: Phase::Negotiate,
        }
    }

    pub(crate) fn step(&mut self, message: &RpcSaslProto) -> Result<SaslStep, SaslError> {
        match (self.phase, message.state()) {
            (Phase::Negotiate, SaslState::Negotiate) => Ok(self.negotiate()),
            (Phase::Initiate, SaslState::Initiate) => self.initiate(message),
            (Phase::Response, SaslState::Response) => self.verify(message.token()),
            (phase, state) => {
                Err(SaslError::Unexpected { found: state.as_str_name().to_string(), expected: phase.expects() })
            }
        }
    }

    fn negotiate(&mut self) -> SaslStep {
        let allow_simple = match &self.policy {
            AuthPolicy::Simple => {
                let success = RpcSaslProto { state: SaslState::Success as i32, ..Default::default() };
                return SaslStep::Done { reply: Some(success), authenticated: Authenticated::Simple };
            }
            AuthPolicy::Token { allow_simple, .. } => *allow_simple,
        };
        let mut auths = vec![SaslAuth { challenge: Some(self.digest.challenge().into_bytes()), ..token_auth() }];
        if allow_simple {
            auths.push(SaslAuth { method: SIMPLE.to_string(), mechanism: String::new(), ..Default::default() });
        }
        self.phase = Phase::Initiate;
        SaslStep::Continue(RpcSaslProto { state: SaslState::Negotiate as i32, auths, ..Default::default() })
    }

    fn initiate(&mut self, message: &RpcSaslProto) -> Result<SaslStep, SaslError> {
        let [auth] = message.auths.as_slice() else {
            return Err(SaslError::Malformed { count: message.auths.len() });
        };
        match (auth.method.as_str(), auth.mechanism.as_str()) {
            (SIMPLE, "") if self.policy.accepts_simple() => {
                Ok(SaslStep::Done { reply: None, authenticated: Authenticated::Simple })
            }
            (TOKEN, DIGEST_MD5) if message.token().is_empty() => {
                self.phase = Phase::Response;
                let challenge = self.digest.challenge().into_bytes();
                Ok(SaslStep::Continue(sasl(SaslState::Challenge, challenge)))
            }
            (TOKEN, DIGEST_MD5) => self.verify(message.token()),
            (method, _) => {
                Err(SaslError::NotEnabled { method: method.to_string(), available: self.policy.available() })
            }
        }
    }

    fn verify(&mut self, response: &[u8]) -> Result<SaslStep, SaslError> {
        let AuthPolicy::Token { lookup, .. } = &self.policy else {
            unreachable!("a SIMPLE-only server finishes at NEGOTIATE");
        };
        let mut identifier = None;
        let mut username_not_base64 = false;
        let verified = self.digest.verify(response, |username| {
            let Ok(decoded) = BASE64.decode(username) else {
                username_not_base64 = true;
                return None;
            };
            let password = lookup.password(&decoded)?;
            identifier = Some(decoded);
            Some(BASE64.encode(password))
        });
        let verified = verified.map_err(|error| match error {
            DigestError::UnknownUser { .. } if username_not_base64 => SaslError::UsernameNotBase64,
            DigestError::UnknownUser { .. } => SaslError::InvalidToken,
            other => SaslError::Digest(other),
        })?;
        let identifier = identifier.expect("a verified digest had its password looked up");
        Ok(SaslStep::Done {
            reply: Some(sasl(SaslState::Success, verified.rspauth.into_bytes())),
            authenticated: Authenticated::Token { identifier },
        })
    }
}

impl Phase {
    fn expects(self) -> &'static str {
        match self {
            Phase::Negotiate => "NEGOTIATE",
            Phase::Initiate => "INITIATE",
            Phase::Response => "RESPONSE",
        }
    }
}

fn token_auth() -> SaslAuth {
    SaslAuth {
        method: TOKEN.to_string(),
        mechanism: DIGEST_MD5.to_string(),
        protocol: Some(String::new()),
        server_id: Some(DEFAULT_REALM.to_string()),
        challenge: None,
    }
}

fn sasl(state: SaslState, token: Vec<u8>) -> RpcSaslProto {
    RpcSaslProto { state: state as i32, token: Some(token), ..Default::default() }
}

#[cfg(test)]
mod tests;

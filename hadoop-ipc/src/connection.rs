//! One Hadoop IPC connection as a plain state machine: the preamble, then each frame body in, what to
//! do out (send a frame, dispatch a call, nothing, or FATAL and close). No I/O and no clock; the tokio
//! adapter in `server` reads the frames and carries out the steps.
//!
//! ```text
//!   preamble ──SASL──► Sasl ──(SIMPLE or token verified)──► Context ──(callId -3)──► Calls
//!      └────NONE (when SIMPLE is accepted)──────────────────────┘
//! ```
//! `Sasl` is left by the SASL exchange ending (any other frame is FATAL); `Context` by the connection
//! context; `Calls` only by the end of the connection. Pings (callId -4) are swallowed in every phase.

use std::sync::Arc;

use crate::common::rpc_response_header_proto::{RpcErrorCodeProto, RpcStatusProto};
use crate::common::{IpcConnectionContextProto, RequestHeaderProto, RpcKindProto, RpcRequestHeaderProto, RpcSaslProto};
use crate::exceptions;
use crate::frame::{call_id, AuthProtocol, FrameReader, FrameWriter, Preamble, PreambleError, ReplyTo, PREAMBLE_LEN};
use crate::handler::{Call, Identity, Session};
use crate::sasl::{AuthPolicy, Authenticated, SaslError, SaslServer, SaslStep};

/// What the adapter does with one frame.
#[derive(Debug)]
pub(crate) enum Step {
    /// Write this frame; keep reading.
    Send(Vec<u8>),
    /// Run the call and answer with `reply_to`'s header.
    Dispatch { call: Call, reply_to: ReplyTo },
    /// Nothing to answer (a ping, the connection context, SASL's silent SIMPLE switch).
    Nothing,
    /// Write this FATAL frame, then close.
    Fatal(Fatal),
}

/// A FATAL response frame and why, for the log.
#[derive(Debug)]
pub(crate) struct Fatal {
    pub(crate) frame: Vec<u8>,
    pub(crate) reason: String,
}

impl Fatal {
    pub(crate) fn new(reply_to: &ReplyTo, class_name: &str, reason: String, detail: RpcErrorCodeProto) -> Fatal {
        Fatal { frame: reply_to.failure(class_name, &reason, detail), reason }
    }

    /// A FATAL before any header could be read: Hadoop answers those with callId -2.
    pub(crate) fn headerless(class_name: &str, reason: String, detail: RpcErrorCodeProto) -> Fatal {
        Fatal::new(&no_call(call_id::INVALID), class_name, reason, detail)
    }
}

enum Phase {
    Sasl(Box<SaslServer>),
    Context(Authenticated),
    Calls(Arc<Session>),
}

pub(crate) struct Connection {
    phase: Phase,
}

impl Connection {
    /// Checks the preamble against the policy. `nonce` is the DIGEST-MD5 nonce, should the client
    /// ask for SASL.
    pub(crate) fn open(preamble: &[u8; PREAMBLE_LEN], policy: &AuthPolicy, nonce: String) -> Result<Connection, Fatal> {
        let preamble = Preamble::parse(preamble).map_err(|error| match error {
            PreambleError::Version { .. } => Fatal::headerless(
                exceptions::VERSION_MISMATCH,
                error.to_string(),
                RpcErrorCodeProto::FatalVersionMismatch,
            ),
            _ => Fatal::headerless(exceptions::IPC, error.to_string(), RpcErrorCodeProto::FatalInvalidRpcHeader),
        })?;
        let phase = match preamble.auth {
            AuthProtocol::Sasl => Phase::Sasl(Box::new(SaslServer::new(policy.clone(), nonce))),
            AuthProtocol::None if policy.accepts_simple() => Phase::Context(Authenticated::Simple),
            AuthProtocol::None => return Err(auth_failure(&SaslError::simple_not_enabled(policy))),
        };
        Ok(Connection { phase })
    }

    /// True once the connection context has arrived and calls may follow.
    #[cfg(test)]
    pub(crate) fn established(&self) -> bool {
        matches!(self.phase, Phase::Calls(_))
    }

    /// One frame body (without its length prefix).
    pub(crate) fn on_frame(&mut self, body: &[u8]) -> Step {
        match self.try_frame(body) {
            Ok(step) => step,
            Err(fatal) => Step::Fatal(fatal),
        }
    }

    fn try_frame(&mut self, body: &[u8]) -> Result<Step, Fatal> {
        let mut reader = FrameReader::new(body);
        let header: RpcRequestHeaderProto = reader.message().map_err(|error| {
            Fatal::headerless(exceptions::IPC, error.to_string(), RpcErrorCodeProto::FatalInvalidRpcHeader)
        })?;
        let reply_to = ReplyTo::of(&header);
        match (&mut self.phase, header.call_id) {
            (_, call_id::PING) => Ok(Step::Nothing),
            (Phase::Sasl(server), call_id::SASL) => {
                let message = read_last::<RpcSaslProto>(reader, &reply_to)?;
                let step = server.step(&message).map_err(|error| auth_failure(&error))?;
                Ok(self.after_sasl(step, &reply_to))
            }
            (Phase::Context(authenticated), call_id::CONNECTION_CONTEXT) => {
                let context = read_last::<IpcConnectionContextProto>(reader, &reply_to)?;
                let session = session(authenticated, context)?;
                self.phase = Phase::Calls(Arc::new(session));
                Ok(Step::Nothing)
            }
            (Phase::Calls(session), id) if id >= 0 => call(&header, reader, &reply_to, session),
            (phase, id) => Err(Fatal::new(
                &reply_to,
                exceptions::IPC,
                format!("unexpected call id {id} while {}", phase.waiting_for()),
                RpcErrorCodeProto::FatalInvalidRpcHeader,
            )),
        }
    }

    fn after_sasl(&mut self, step: SaslStep, reply_to: &ReplyTo) -> Step {
        let reply = match step {
            SaslStep::Continue(reply) => Some(reply),
            SaslStep::Done { reply, authenticated } => {
                self.phase = Phase::Context(authenticated);
                reply
            }
        };
        match reply {
            Some(reply) => {
                let header = reply_to.header(RpcStatusProto::Success);
                Step::Send(FrameWriter::new().message(&header).message(&reply).finish())
            }
            None => Step::Nothing,
        }
    }
}

impl Phase {
    fn waiting_for(&self) -> &'static str {
        match self {
            Phase::Sasl(_) => "in the SASL exchange (call id -33)",
            Phase::Context(_) => "waiting for the connection context (call id -3)",
            Phase::Calls(_) => "serving calls (call ids from 0)",
        }
    }
}

/// Reads the frame's last message; a frame that does not decode is FATAL.
fn read_last<M: prost::Message + prost::Name + Default>(
    mut reader: FrameReader<'_>,
    reply_to: &ReplyTo,
) -> Result<M, Fatal> {
    let undecodable = |error: crate::frame::FrameError| {
        Fatal::new(reply_to, exceptions::IPC, error.to_string(), RpcErrorCodeProto::FatalDeserializingRequest)
    };
    let message = reader.message::<M>().map_err(undecodable)?;
    reader.finish(M::NAME).map_err(undecodable)?;
    Ok(message)
}

fn call(
    header: &RpcRequestHeaderProto,
    mut reader: FrameReader<'_>,
    reply_to: &ReplyTo,
    session: &Arc<Session>,
) -> Result<Step, Fatal> {
    if header.rpc_kind() != RpcKindProto::RpcProtocolBuffer {
        let reason =
            format!("unsupported rpc kind {}: only RPC_PROTOCOL_BUFFER is served", header.rpc_kind.unwrap_or(-1));
        return Err(Fatal::new(reply_to, exceptions::IPC, reason, RpcErrorCodeProto::FatalUnsupportedSerialization));
    }
    let undecodable = |error: crate::frame::FrameError| {
        Fatal::new(reply_to, exceptions::IPC, error.to_string(), RpcErrorCodeProto::FatalDeserializingRequest)
    };
    let method: RequestHeaderProto = reader.message().map_err(undecodable)?;
    let request = reader.encoded("request message").map_err(undecodable)?.to_vec();
    reader.finish("request message").map_err(undecodable)?;
    let call = Call {
        call_id: header.call_id,
        protocol: method.declaring_class_protocol_name,
        method: method.method_name,
        request,
        session: Arc::clone(session),
    };
    Ok(Step::Dispatch { call, reply_to: reply_to.clone() })
}

fn session(authenticated: &Authenticated, context: IpcConnectionContextProto) -> Result<Session, Fatal> {
    let user_info = context.user_info.unwrap_or_default();
    let identity = match authenticated {
        Authenticated::Token { identifier } => Identity::Token { identifier: identifier.clone() },
        Authenticated::Simple => match user_info.effective_user {
            Some(user) if !user.is_empty() => Identity::Simple { user },
            _ => {
                let reason = "SIMPLE authentication needs a user: the connection context names none".to_string();
                return Err(Fatal::new(
                    &no_call(call_id::AUTHORIZATION_FAILED),
                    exceptions::ACCESS_CONTROL,
                    reason,
                    RpcErrorCodeProto::FatalUnauthorized,
                ));
            }
        },
    };
    Ok(Session { identity, real_user: user_info.real_user, protocol: context.protocol })
}

/// Authentication failures go out as Hadoop sends them: callId -1, FATAL_UNAUTHORIZED.
fn auth_failure(error: &SaslError) -> Fatal {
    Fatal::new(
        &no_call(call_id::AUTHORIZATION_FAILED),
        error.exception_class(),
        error.to_string(),
        RpcErrorCodeProto::FatalUnauthorized,
    )
}

fn no_call(call_id: i32) -> ReplyTo {
    ReplyTo { call_id, client_id: Vec::new(), retry_count: -1 }
}

#[cfg(test)]
mod tests;

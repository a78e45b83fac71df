//! What a daemon implements to serve Hadoop IPC: a [`Handler`] gets each [`Call`] (protocol, method,
//! the encoded request, and who is calling) and answers with the encoded response or an [`RpcError`]
//! naming the Java exception the client will throw.

use std::future::Future;
use std::sync::Arc;

use prost::{Message, Name};

use crate::common::rpc_response_header_proto::RpcErrorCodeProto;
use crate::exceptions;

/// Who a connection authenticated as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Identity {
    /// SIMPLE: the user the connection context names (`effectiveUser`), unverified, as in YARN's
    /// non-secure mode.
    Simple { user: String },
    /// TOKEN: the identifier bytes of a token whose password the client proved it holds (SASL
    /// DIGEST-MD5). For the RM's scheduler port this is an `AMRMTokenIdentifierProto`.
    Token { identifier: Vec<u8> },
}

/// What one connection established before its first call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    pub identity: Identity,
    /// The context's `realUser`, set when a user acts for another (proxy users).
    pub real_user: Option<String>,
    /// The protocol the connection context names; each call names its own too.
    pub protocol: Option<String>,
}

/// One call, as the handler sees it.
#[derive(Clone, Debug)]
pub struct Call {
    pub call_id: i32,
    /// `declaringClassProtocolName`, e.g. `org.apache.hadoop.yarn.api.ApplicationClientProtocolPB`.
    pub protocol: String,
    /// e.g. `getNewApplication`.
    pub method: String,
    /// The encoded request message (not delimited).
    pub request: Vec<u8>,
    pub session: Arc<Session>,
}

impl Call {
    /// The request decoded as `M`; a request that does not decode is an ERROR for this call.
    pub fn decode<M: Message + Name + Default>(&self) -> Result<M, RpcError> {
        M::decode(self.request.as_slice()).map_err(|error| {
            let message = format!("cannot decode the {} request as {}: {error}", self.method, M::NAME);
            RpcError { class_name: exceptions::IO.to_string(), message, detail: RpcErrorCodeProto::ErrorRpcServer }
        })
    }
}

/// A failed call, answered with a header-only ERROR frame (or FATAL, closing the connection, when
/// `detail` is one of the FATAL_* codes).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{class_name}: {message}")]
pub struct RpcError {
    /// The Java exception class the client re-throws, e.g. [`exceptions::APPLICATION_NOT_FOUND`].
    pub class_name: String,
    pub message: String,
    pub detail: RpcErrorCodeProto,
}

impl RpcError {
    /// An exception from the protocol's own logic (ERROR_APPLICATION).
    pub fn application(class_name: &str, message: impl Into<String>) -> RpcError {
        RpcError {
            class_name: class_name.to_string(),
            message: message.into(),
            detail: RpcErrorCodeProto::ErrorApplication,
        }
    }

    /// The answer to a method the protocol does not have, worded as Hadoop's server words it.
    pub fn no_such_method(call: &Call) -> RpcError {
        RpcError {
            class_name: exceptions::NO_SUCH_METHOD.to_string(),
            message: format!("Unknown method {} called on {} protocol.", call.method, call.protocol),
            detail: RpcErrorCodeProto::ErrorNoSuchMethod,
        }
    }

    /// The answer to a protocol this server does not serve, worded as Hadoop's server words it.
    pub fn no_such_protocol(call: &Call) -> RpcError {
        RpcError {
            class_name: exceptions::NO_SUCH_PROTOCOL.to_string(),
            message: format!("Unknown protocol: {}", call.protocol),
            detail: RpcErrorCodeProto::ErrorNoSuchProtocol,
        }
    }
}

/// Serves the calls of every connection of one [`crate::Server`]. Calls of one connection run
/// concurrently, each in its own task; a call is cancelled when its connection ends, so work that
/// must finish belongs in a task the handler spawns and awaits.
pub trait Handler: Send + Sync + 'static {
    /// The encoded response message, or the error to send instead.
    fn call(&self, call: Call) -> impl Future<Output = Result<Vec<u8>, RpcError>> + Send;
}

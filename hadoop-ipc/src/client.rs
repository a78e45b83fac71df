//! A blocking Hadoop IPC client: one connection, SIMPLE or TOKEN (SASL DIGEST-MD5) authentication,
//! calls answered in order. What Weft's tests (and tools) use to speak to its daemons exactly as
//! Hadoop's Java client does: the same preamble, SASL exchange, connection context and frames.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use prost::Message;

use crate::common::rpc_response_header_proto::RpcStatusProto;
use crate::common::rpc_sasl_proto::{SaslAuth, SaslState};
use crate::common::{IpcConnectionContextProto, RequestHeaderProto, RpcSaslProto, UserInformationProto};
use crate::frame::{
    call_frame, call_id, decode_response, request_header, AuthProtocol, FrameError, FrameWriter, Preamble,
    DEFAULT_MAX_FRAME_LEN,
};
use crate::sasl::digest::client_digest;
use crate::sasl::directives;

/// How a connection authenticates.
#[derive(Clone, Debug)]
pub enum ClientAuth {
    /// No SASL: the connection context names the user.
    Simple { user: String },
    /// SASL DIGEST-MD5 with a token's identifier and password (an AMRM or NM token).
    Token { identifier: Vec<u8>, password: Vec<u8> },
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("connection i/o failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("bad frame from the server: {0}")]
    Frame(#[from] FrameError),
    /// The server answered ERROR (or FATAL, after which the connection is closed).
    #[error("{class_name}: {message}")]
    Remote { class_name: String, message: String, fatal: bool },
    #[error("SASL negotiation failed: {0}")]
    Sasl(String),
}

/// One authenticated connection speaking one protocol.
pub struct Client {
    stream: TcpStream,
    protocol: String,
    client_id: [u8; 16],
    next_call: i32,
}

impl Client {
    /// Connects to `address`, authenticates, and sends the connection context for `protocol`.
    pub fn connect(address: &str, protocol: &str, auth: &ClientAuth, timeout: Duration) -> Result<Client, ClientError> {
        let stream = TcpStream::connect(address)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        let mut client_id = [0; 16];
        getrandom::fill(&mut client_id).map_err(|e| std::io::Error::other(e.to_string()))?;
        let mut client = Client { stream, protocol: protocol.to_string(), client_id, next_call: 0 };
        let (sasl, user) = match auth {
            ClientAuth::Simple { user } => (AuthProtocol::None, user.clone()),
            ClientAuth::Token { .. } => (AuthProtocol::Sasl, String::new()),
        };
        client.send(&Preamble { service_class: 0, auth: sasl }.encode())?;
        if let ClientAuth::Token { identifier, password } = auth {
            client.digest_md5(identifier, password)?;
        }
        let context = IpcConnectionContextProto {
            user_info: Some(UserInformationProto { effective_user: Some(user), real_user: None }),
            protocol: Some(protocol.to_string()),
        };
        let frame = FrameWriter::new()
            .message(&request_header(call_id::CONNECTION_CONTEXT, &client.client_id, -1))
            .message(&context)
            .finish();
        client.send(&frame)?;
        Ok(client)
    }

    /// Calls `method` and returns the encoded response message.
    pub fn call(&mut self, method: &str, request: &impl Message) -> Result<Vec<u8>, ClientError> {
        let id = self.next_call;
        self.next_call += 1;
        let header = RequestHeaderProto {
            method_name: method.to_string(),
            declaring_class_protocol_name: self.protocol.clone(),
            client_protocol_version: 1,
        };
        let frame = call_frame(&request_header(id, &self.client_id, 0), &header, &request.encode_to_vec());
        self.send(&frame)?;
        let response = self.read()?;
        if response.call_id() != id {
            return Err(ClientError::Sasl(format!("answer to call {} while waiting for {id}", response.call_id())));
        }
        Ok(response.message.unwrap_or_default())
    }

    /// Writes `bytes`. When the server has closed the connection, the FATAL answer it sent before
    /// closing is the error (as Hadoop's client reports it), not the failed write.
    fn send(&mut self, bytes: &[u8]) -> Result<(), ClientError> {
        match self.stream.write_all(bytes) {
            Ok(()) => Ok(()),
            Err(write_error) => match self.read() {
                Err(remote @ ClientError::Remote { .. }) => Err(remote),
                _ => Err(write_error.into()),
            },
        }
    }

    /// Reads one response; ERROR and FATAL become [`ClientError::Remote`].
    fn read(&mut self) -> Result<crate::frame::Response, ClientError> {
        let mut length = [0; 4];
        self.stream.read_exact(&mut length)?;
        let length = crate::frame::frame_length(length, DEFAULT_MAX_FRAME_LEN)?;
        let mut body = vec![0; length];
        self.stream.read_exact(&mut body)?;
        let response = decode_response(&body)?;
        let header = &response.header;
        match header.status() {
            RpcStatusProto::Success => Ok(response),
            status => Err(ClientError::Remote {
                class_name: header.exception_class_name().to_string(),
                message: header.error_msg().to_string(),
                fatal: status == RpcStatusProto::Fatal,
            }),
        }
    }

    fn sasl(&mut self, message: &RpcSaslProto) -> Result<RpcSaslProto, ClientError> {
        let frame =
            FrameWriter::new().message(&request_header(call_id::SASL, &self.client_id, -1)).message(message).finish();
        self.send(&frame)?;
        let response = self.read()?;
        let body = response.message.unwrap_or_default();
        RpcSaslProto::decode(body.as_slice())
            .map_err(|e| ClientError::Sasl(format!("the server's SASL message does not decode: {e}")))
    }

    /// NEGOTIATE, then INITIATE with the digest-response to the server's TOKEN challenge, then the
    /// server's SUCCESS with an `rspauth` this client checks.
    fn digest_md5(&mut self, identifier: &[u8], password: &[u8]) -> Result<(), ClientError> {
        let negotiate = RpcSaslProto { state: SaslState::Negotiate as i32, ..Default::default() };
        let offer = self.sasl(&negotiate)?;
        let auth = offer
            .auths
            .iter()
            .find(|a| a.method == "TOKEN" && a.mechanism == "DIGEST-MD5")
            .ok_or_else(|| ClientError::Sasl("the server offers no TOKEN/DIGEST-MD5 authentication".into()))?;
        let challenge =
            std::str::from_utf8(auth.challenge()).map_err(|_| ClientError::Sasl("challenge is not UTF-8".into()))?;
        let directives =
            directives::parse(challenge).map_err(|e| ClientError::Sasl(format!("bad challenge {challenge:?}: {e}")))?;
        let value = |key: &str| directives.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
        let nonce = value("nonce").ok_or_else(|| ClientError::Sasl("the challenge has no nonce".into()))?;
        let realm = value("realm").unwrap_or_default();
        let digest_uri = format!("{}/{}", auth.protocol(), auth.server_id());
        let mut cnonce = [0; 12];
        getrandom::fill(&mut cnonce).map_err(|e| std::io::Error::other(e.to_string()))?;
        let digest = client_digest(
            &BASE64.encode(identifier),
            &BASE64.encode(password),
            realm,
            nonce,
            &BASE64.encode(cnonce),
            &digest_uri,
        );
        let initiate = RpcSaslProto {
            state: SaslState::Initiate as i32,
            token: Some(digest.response.into_bytes()),
            auths: vec![SaslAuth { challenge: None, ..auth.clone() }],
            ..Default::default()
        };
        let answer = self.sasl(&initiate)?;
        if answer.state() != SaslState::Success {
            return Err(ClientError::Sasl(format!("the server answered {:?}, not SUCCESS", answer.state())));
        }
        if answer.token() != digest.rspauth.as_bytes() {
            return Err(ClientError::Sasl("the server's rspauth does not prove it knows the password".into()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::handler::{Call, Handler, Identity, RpcError};
    use crate::sasl::AuthPolicy;
    use crate::server::{Server, ServerConfig};

    /// Answers every call with the caller's identity: the token identifier, or the user.
    struct WhoAmI;

    impl Handler for WhoAmI {
        async fn call(&self, call: Call) -> Result<Vec<u8>, RpcError> {
            Ok(match &call.session.identity {
                Identity::Token { identifier } => identifier.clone(),
                Identity::Simple { user } => user.as_bytes().to_vec(),
            })
        }
    }

    /// A server on 127.0.0.1 that knows one token, `("id", "pw")`, in a runtime of its own.
    fn server(allow_simple: bool) -> (String, tokio::runtime::Runtime) {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let lookup = |identifier: &[u8]| (identifier == b"id").then(|| b"pw".to_vec());
        let config = ServerConfig::new(AuthPolicy::Token { lookup: Arc::new(lookup), allow_simple });
        runtime.spawn(async move { Server::new(config, WhoAmI).serve(listener).await });
        (address, runtime)
    }

    fn token(password: &[u8]) -> ClientAuth {
        ClientAuth::Token { identifier: b"id".to_vec(), password: password.to_vec() }
    }

    #[test]
    fn a_token_holder_gets_in_and_is_known_by_its_token() {
        let (address, _runtime) = server(false);
        let mut client = Client::connect(&address, "p", &token(b"pw"), Duration::from_secs(5)).unwrap();
        assert_eq!(client.call("who", &RpcSaslProto::default()).unwrap(), b"id");
        assert_eq!(client.call("who", &RpcSaslProto::default()).unwrap(), b"id", "a second call on the connection");
    }

    #[test]
    fn a_wrong_password_and_a_simple_client_are_refused_fatally() {
        let (address, _runtime) = server(false);
        match Client::connect(&address, "p", &token(b"guess"), Duration::from_secs(5)) {
            Err(ClientError::Remote { class_name, fatal: true, .. }) => {
                assert_eq!(class_name, crate::exceptions::SASL);
            }
            other => panic!("expected a FATAL SaslException, got {:?}", other.err()),
        }
        let simple = ClientAuth::Simple { user: "mallory".into() };
        let refused = Client::connect(&address, "p", &simple, Duration::from_secs(5))
            .and_then(|mut c| c.call("who", &RpcSaslProto::default()));
        match refused {
            Err(ClientError::Remote { class_name, fatal: true, message }) => {
                assert_eq!(class_name, crate::exceptions::ACCESS_CONTROL, "{message}");
            }
            other => panic!("expected a FATAL AccessControlException, got {other:?}"),
        }
    }
}

//! Hadoop IPC's framing as pure functions over bytes (facts/hadoop-ipc.md §2): the 7-byte connection
//! preamble, 4-byte big-endian length prefixes, and frame bodies made of varint-delimited protobuf
//! messages. Both directions are here, so a test client (or a later Weft client) frames with the same
//! code the server parses with.

use bytes::{Buf, BufMut};
use prost::{Message, Name};

use crate::common::rpc_request_header_proto::OperationProto;
use crate::common::rpc_response_header_proto::{RpcErrorCodeProto, RpcStatusProto};
use crate::common::{RequestHeaderProto, RpcKindProto, RpcRequestHeaderProto, RpcResponseHeaderProto};

/// The first four bytes of every Hadoop IPC connection.
pub const MAGIC: [u8; 4] = *b"hrpc";
/// `RpcConstants.CURRENT_VERSION`: the only version Hadoop 3 speaks.
pub const VERSION: u8 = 9;
/// Magic, version, service class, auth protocol.
pub const PREAMBLE_LEN: usize = 7;
/// Hadoop's `ipc.maximum.data.length` (and the client's `ipc.maximum.response.length`): 128 MiB.
pub const DEFAULT_MAX_FRAME_LEN: u32 = 128 * 1024 * 1024;

/// Call ids with a meaning of their own (`RpcConstants`, facts §2.3). Ordinary calls count up from 0.
pub mod call_id {
    /// A FATAL answer to a failed authentication.
    pub const AUTHORIZATION_FAILED: i32 = -1;
    /// A FATAL answer to a frame whose header could not be read.
    pub const INVALID: i32 = -2;
    /// The connection context, sent once after SASL; it gets no response.
    pub const CONNECTION_CONTEXT: i32 = -3;
    /// A keep-alive while the client waits for a slow response; it gets no response.
    pub const PING: i32 = -4;
    /// Every SASL message, in both directions.
    pub const SASL: i32 = -33;
}

/// True when the first bytes of a connection are Hadoop IPC's (`hrpc`). Give it at least four bytes:
/// with fewer it answers false. gRPC's HTTP/2 preface starts `PRI `, so the two never collide.
pub fn is_hadoop_ipc(first_bytes: &[u8]) -> bool {
    first_bytes.starts_with(&MAGIC)
}

/// How the client means to authenticate, the preamble's last byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthProtocol {
    /// `0x00`: no SASL; the connection context follows at once and names the user (SIMPLE).
    None,
    /// `0xDF` (-33): a SASL exchange comes first.
    Sasl,
}

impl AuthProtocol {
    fn byte(self) -> u8 {
        match self {
            AuthProtocol::None => 0x00,
            AuthProtocol::Sasl => 0xDF,
        }
    }
}

/// The 7 bytes a client sends once, before its first frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Preamble {
    /// The RPC service class (0 for every YARN client).
    pub service_class: u8,
    pub auth: AuthProtocol,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PreambleError {
    #[error("not a Hadoop IPC connection: it starts with {found:02x?}, not \"hrpc\"")]
    NotHadoopIpc { found: [u8; 4] },
    #[error("unsupported Hadoop IPC version {found}: this server speaks version {VERSION}")]
    Version { found: u8 },
    #[error("unknown auth protocol 0x{found:02x}: expected 0x00 (NONE) or 0xdf (SASL)")]
    AuthProtocol { found: u8 },
}

impl Preamble {
    pub fn parse(bytes: &[u8; PREAMBLE_LEN]) -> Result<Preamble, PreambleError> {
        let [m0, m1, m2, m3, version, service_class, auth] = *bytes;
        if [m0, m1, m2, m3] != MAGIC {
            return Err(PreambleError::NotHadoopIpc { found: [m0, m1, m2, m3] });
        }
        if version != VERSION {
            return Err(PreambleError::Version { found: version });
        }
        let auth = match auth {
            0x00 => AuthProtocol::None,
            0xDF => AuthProtocol::Sasl,
            found => return Err(PreambleError::AuthProtocol { found }),
        };
        Ok(Preamble { service_class, auth })
    }

    pub fn encode(&self) -> [u8; PREAMBLE_LEN] {
        let [m0, m1, m2, m3] = MAGIC;
        [m0, m1, m2, m3, VERSION, self.service_class, self.auth.byte()]
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    #[error("frame length {length} is not positive")]
    NotPositive { length: i32 },
    #[error("frame length {length} is over the maximum of {max} bytes")]
    TooLong { length: u32, max: u32 },
    #[error("cannot decode {what}: {source}")]
    Decode { what: String, source: prost::DecodeError },
    #[error("{what} needs {length} bytes but the frame has {available} left")]
    Truncated { what: String, length: usize, available: usize },
    #[error("{extra} bytes left over after {what}")]
    TrailingBytes { what: String, extra: usize },
}

/// The body length announced by a frame's 4-byte big-endian prefix, checked against `max_len`.
pub fn frame_length(prefix: [u8; 4], max_len: u32) -> Result<usize, FrameError> {
    let length = i32::from_be_bytes(prefix);
    if length <= 0 {
        return Err(FrameError::NotPositive { length });
    }
    let length = length.unsigned_abs();
    if length > max_len {
        return Err(FrameError::TooLong { length, max: max_len });
    }
    Ok(length as usize)
}

/// Builds one frame: the length prefix, then each message varint-delimited.
#[derive(Debug)]
pub struct FrameWriter {
    buf: Vec<u8>,
}

impl Default for FrameWriter {
    fn default() -> Self {
        FrameWriter::new()
    }
}

impl FrameWriter {
    pub fn new() -> FrameWriter {
        FrameWriter { buf: vec![0; 4] }
    }

    /// Appends `message`, varint-delimited.
    pub fn message(mut self, message: &impl Message) -> FrameWriter {
        message.encode_length_delimited(&mut self.buf).expect("a Vec grows as needed");
        self
    }

    /// Appends an already encoded message, varint-delimited.
    pub fn encoded(mut self, message: &[u8]) -> FrameWriter {
        prost::encode_length_delimiter(message.len(), &mut self.buf).expect("a Vec grows as needed");
        self.buf.put_slice(message);
        self
    }

    /// The whole frame, length prefix included.
    pub fn finish(mut self) -> Vec<u8> {
        let body_len = u32::try_from(self.buf.len() - 4).expect("a frame body fits in 4 GiB");
        self.buf[..4].copy_from_slice(&body_len.to_be_bytes());
        self.buf
    }
}

/// Reads the varint-delimited messages of one frame body (without its length prefix), in order.
#[derive(Debug)]
pub struct FrameReader<'a> {
    rest: &'a [u8],
}

impl<'a> FrameReader<'a> {
    pub fn new(body: &'a [u8]) -> FrameReader<'a> {
        FrameReader { rest: body }
    }

    pub fn message<M: Message + Name + Default>(&mut self) -> Result<M, FrameError> {
        let bytes = self.encoded(M::NAME)?;
        M::decode(bytes).map_err(|source| FrameError::Decode { what: M::NAME.to_string(), source })
    }

    /// The next delimited message's bytes, undecoded; `what` names it in errors.
    pub fn encoded(&mut self, what: &str) -> Result<&'a [u8], FrameError> {
        let length = prost::decode_length_delimiter(&mut self.rest)
            .map_err(|source| FrameError::Decode { what: what.to_string(), source })?;
        let available = self.rest.len();
        if length > available {
            return Err(FrameError::Truncated { what: what.to_string(), length, available });
        }
        let (message, rest) = self.rest.split_at(length);
        self.rest = rest;
        Ok(message)
    }

    pub fn is_empty(&self) -> bool {
        !self.rest.has_remaining()
    }

    /// Fails when bytes remain after the last expected message, `what`.
    pub fn finish(self, what: &str) -> Result<(), FrameError> {
        match self.rest.len() {
            0 => Ok(()),
            extra => Err(FrameError::TrailingBytes { what: what.to_string(), extra }),
        }
    }
}

/// The RPC header of a client's frame, as Hadoop's client fills it: protobuf engine, final packet.
pub fn request_header(call_id: i32, client_id: &[u8], retry_count: i32) -> RpcRequestHeaderProto {
    RpcRequestHeaderProto {
        rpc_kind: Some(RpcKindProto::RpcProtocolBuffer as i32),
        rpc_op: Some(OperationProto::RpcFinalPacket as i32),
        call_id,
        client_id: client_id.to_vec(),
        retry_count: Some(retry_count),
        ..Default::default()
    }
}

/// A whole call frame: RPC header, ProtobufRpcEngine header, then the encoded request message.
pub fn call_frame(header: &RpcRequestHeaderProto, method: &RequestHeaderProto, request: &[u8]) -> Vec<u8> {
    FrameWriter::new().message(header).message(method).encoded(request).finish()
}

/// What the server echoes from a request header into its response header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplyTo {
    pub call_id: i32,
    pub client_id: Vec<u8>,
    pub retry_count: i32,
}

impl ReplyTo {
    pub fn of(header: &RpcRequestHeaderProto) -> ReplyTo {
        ReplyTo { call_id: header.call_id, client_id: header.client_id.clone(), retry_count: header.retry_count() }
    }

    /// A response header with `status`. The call id goes out as uint32 (so -33 is `df ff ff ff 0f`).
    pub fn header(&self, status: RpcStatusProto) -> RpcResponseHeaderProto {
        RpcResponseHeaderProto {
            call_id: self.call_id as u32,
            status: status as i32,
            server_ipc_version_num: Some(u32::from(VERSION)),
            client_id: Some(self.client_id.clone()),
            retry_count: Some(self.retry_count),
            ..Default::default()
        }
    }

    /// A SUCCESS frame carrying the encoded response message.
    pub fn success(&self, response: &[u8]) -> Vec<u8> {
        FrameWriter::new().message(&self.header(RpcStatusProto::Success)).encoded(response).finish()
    }

    /// A header-only ERROR frame, or FATAL when `detail` is one of the FATAL_* codes.
    pub fn failure(&self, class_name: &str, message: &str, detail: RpcErrorCodeProto) -> Vec<u8> {
        let status = if is_fatal(detail) { RpcStatusProto::Fatal } else { RpcStatusProto::Error };
        let header = RpcResponseHeaderProto {
            exception_class_name: Some(class_name.to_string()),
            error_msg: Some(message.to_string()),
            error_detail: Some(detail as i32),
            ..self.header(status)
        };
        FrameWriter::new().message(&header).finish()
    }
}

/// FATAL_* codes (10 and up) close the connection; the others answer one call.
pub fn is_fatal(detail: RpcErrorCodeProto) -> bool {
    detail as i32 >= RpcErrorCodeProto::FatalUnknown as i32
}

/// A response frame body as a client reads it.
#[derive(Clone, Debug, PartialEq)]
pub struct Response {
    pub header: RpcResponseHeaderProto,
    /// The encoded response message of a SUCCESS; `None` for ERROR and FATAL.
    pub message: Option<Vec<u8>>,
}

impl Response {
    /// The call id as the client sent it (the wire carries it as uint32).
    pub fn call_id(&self) -> i32 {
        self.header.call_id as i32
    }
}

/// Decodes a response frame body (after its length prefix). Bytes left over are an error, as in the
/// Java client ("RPC response length mismatch").
pub fn decode_response(body: &[u8]) -> Result<Response, FrameError> {
    let mut reader = FrameReader::new(body);
    let header: RpcResponseHeaderProto = reader.message()?;
    let message = match header.status() {
        RpcStatusProto::Success if !reader.is_empty() => Some(reader.encoded("response message")?.to_vec()),
        _ => None,
    };
    reader.finish(RpcResponseHeaderProto::NAME)?;
    Ok(Response { header, message })
}

#[cfg(test)]
mod tests;

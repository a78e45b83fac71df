//! The connection machine frame by frame, without sockets.

use prost::Message;

use super::*;
use crate::common::rpc_sasl_proto::SaslState;
use crate::common::UserInformationProto;
use crate::frame::{call_frame, decode_response, request_header, Response};

const ACP: &str = "org.apache.hadoop.yarn.api.ApplicationClientProtocolPB";
const CLIENT_ID: &[u8] = b"0123456789abcdef";

fn open(auth: AuthProtocol, policy: &AuthPolicy) -> Result<Connection, Fatal> {
    Connection::open(&Preamble { service_class: 0, auth }.encode(), policy, "nonce".to_string())
}

/// A frame's body, without the length prefix the adapter strips.
fn body(frame: Vec<u8>) -> Vec<u8> {
    frame[4..].to_vec()
}

fn context_frame(user: Option<&str>) -> Vec<u8> {
    let context = IpcConnectionContextProto {
        user_info: Some(UserInformationProto { effective_user: user.map(str::to_string), real_user: None }),
        protocol: Some(ACP.to_string()),
    };
    body(
        FrameWriter::new()
            .message(&request_header(call_id::CONNECTION_CONTEXT, CLIENT_ID, -1))
            .message(&context)
            .finish(),
    )
}

fn call_body(call_id: i32, method: &str, request: &[u8]) -> Vec<u8> {
    let method = RequestHeaderProto {
        method_name: method.to_string(),
        declaring_class_protocol_name: ACP.to_string(),
        client_protocol_version: 1,
    };
    body(call_frame(&request_header(call_id, CLIENT_ID, 0), &method, request))
}

fn ping() -> Vec<u8> {
    body(FrameWriter::new().message(&request_header(call_id::PING, CLIENT_ID, -1)).finish())
}

fn fatal_response(step: Step) -> Response {
    match step {
        Step::Fatal(fatal) => decode_response(&fatal.frame[4..]).unwrap(),
        other => panic!("expected FATAL, got {other:?}"),
    }
}

#[test]
fn simple_client_gets_its_calls_dispatched_with_its_user() {
    let mut connection = open(AuthProtocol::None, &AuthPolicy::Simple).unwrap();
    assert!(matches!(connection.on_frame(&context_frame(Some("root"))), Step::Nothing));
    assert!(connection.established());
    assert!(matches!(connection.on_frame(&ping()), Step::Nothing));
    let Step::Dispatch { call, reply_to } = connection.on_frame(&call_body(0, "getNewApplication", b"")) else {
        panic!("expected a dispatch")
    };
    assert_eq!((call.call_id, call.method.as_str(), call.protocol.as_str()), (0, "getNewApplication", ACP));
    assert_eq!(call.session.identity, Identity::Simple { user: "root".to_string() });
    assert_eq!(call.session.protocol.as_deref(), Some(ACP));
    assert_eq!(reply_to, ReplyTo { call_id: 0, client_id: CLIENT_ID.to_vec(), retry_count: 0 });
}

#[test]
fn a_call_before_the_connection_context_is_fatal() {
    let mut connection = open(AuthProtocol::None, &AuthPolicy::Simple).unwrap();
    let response = fatal_response(connection.on_frame(&call_body(0, "getNewApplication", b"")));
    assert_eq!(response.header.status(), RpcStatusProto::Fatal);
    assert_eq!(response.call_id(), 0);
    assert_eq!(
        response.header.error_msg(),
        "unexpected call id 0 while waiting for the connection context (call id -3)"
    );
}

#[test]
fn simple_needs_a_user() {
    let mut connection = open(AuthProtocol::None, &AuthPolicy::Simple).unwrap();
    let response = fatal_response(connection.on_frame(&context_frame(None)));
    assert_eq!(response.header.exception_class_name(), exceptions::ACCESS_CONTROL);
    assert_eq!(response.header.error_detail(), RpcErrorCodeProto::FatalUnauthorized);
}

#[test]
fn a_token_only_server_refuses_clients_without_sasl() {
    let lookup = |_: &[u8]| None;
    let policy = AuthPolicy::Token { lookup: Arc::new(lookup), allow_simple: false };
    let Err(fatal) = open(AuthProtocol::None, &policy) else { panic!("expected a refusal") };
    let response = decode_response(&fatal.frame[4..]).unwrap();
    assert_eq!(response.call_id(), call_id::AUTHORIZATION_FAILED);
    assert_eq!(response.header.exception_class_name(), exceptions::ACCESS_CONTROL);
    assert_eq!(response.header.error_msg(), "SIMPLE authentication is not enabled.  Available:[TOKEN]");
}

#[test]
fn sasl_negotiate_on_a_simple_server_is_answered_with_success() {
    let mut connection = open(AuthProtocol::Sasl, &AuthPolicy::Simple).unwrap();
    let negotiate = RpcSaslProto { state: SaslState::Negotiate as i32, ..Default::default() };
    let frame = body(FrameWriter::new().message(&request_header(call_id::SASL, &[], -1)).message(&negotiate).finish());
    let Step::Send(reply) = connection.on_frame(&frame) else { panic!("expected a SASL reply") };
    let response = decode_response(&reply[4..]).unwrap();
    assert_eq!((response.call_id(), response.header.status()), (call_id::SASL, RpcStatusProto::Success));
    let sasl = RpcSaslProto::decode(response.message.unwrap().as_slice()).unwrap();
    assert_eq!(sasl.state(), SaslState::Success);
    assert!(matches!(connection.on_frame(&context_frame(Some("appattempt_1_0001_000001"))), Step::Nothing));
}

#[test]
fn a_sasl_frame_after_authentication_is_fatal() {
    let mut connection = open(AuthProtocol::None, &AuthPolicy::Simple).unwrap();
    let negotiate = RpcSaslProto { state: SaslState::Negotiate as i32, ..Default::default() };
    let frame = body(FrameWriter::new().message(&request_header(call_id::SASL, &[], -1)).message(&negotiate).finish());
    let response = fatal_response(connection.on_frame(&frame));
    assert_eq!(response.header.error_detail(), RpcErrorCodeProto::FatalInvalidRpcHeader);
}

#[test]
fn garbage_and_malformed_calls_are_fatal() {
    let mut connection = open(AuthProtocol::None, &AuthPolicy::Simple).unwrap();
    let response = fatal_response(connection.on_frame(b"\xff\xff\xff\xff\xff"));
    assert_eq!(
        (response.call_id(), response.header.error_detail()),
        (call_id::INVALID, RpcErrorCodeProto::FatalInvalidRpcHeader)
    );

    connection.on_frame(&context_frame(Some("root")));
    let mut trailing = call_body(1, "getNewApplication", b"");
    trailing.push(7);
    let response = fatal_response(connection.on_frame(&trailing));
    assert_eq!(response.header.error_detail(), RpcErrorCodeProto::FatalDeserializingRequest);
    assert_eq!(response.header.error_msg(), "1 bytes left over after request message");

    let mut writable = request_header(2, CLIENT_ID, 0);
    writable.rpc_kind = Some(RpcKindProto::RpcWritable as i32);
    let frame = body(FrameWriter::new().message(&writable).finish());
    let response = fatal_response(connection.on_frame(&frame));
    assert_eq!(response.header.error_detail(), RpcErrorCodeProto::FatalUnsupportedSerialization);
}

#[test]
fn bad_preambles_are_fatal_with_callid_minus_2() {
    let check = |bytes: &[u8; 7], detail: RpcErrorCodeProto| {
        let Err(fatal) = Connection::open(bytes, &AuthPolicy::Simple, String::new()) else {
            panic!("accepted {bytes:?}")
        };
        let response = decode_response(&fatal.frame[4..]).unwrap();
        assert_eq!((response.call_id(), response.header.error_detail()), (call_id::INVALID, detail));
    };
    check(b"GET / H", RpcErrorCodeProto::FatalInvalidRpcHeader);
    check(b"hrpc\x08\x00\x00", RpcErrorCodeProto::FatalVersionMismatch);
    check(b"hrpc\x09\x00\x01", RpcErrorCodeProto::FatalInvalidRpcHeader);
}

//! Framing against the bytes the Hadoop 3.5.0 client was seen to send (facts/hadoop-ipc.md §2.6).

use super::*;
use crate::common::rpc_sasl_proto::SaslState;
use crate::common::{IpcConnectionContextProto, RpcSaslProto, UserInformationProto};

const ACP: &str = "org.apache.hadoop.yarn.api.ApplicationClientProtocolPB";
const CLIENT_ID: [u8; 16] = *b"0123456789abcdef";

/// Bytes from the facts' hex notation: hex pairs, spaces ignored.
fn hex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text.bytes().filter(|byte| !byte.is_ascii_whitespace()).collect();
    digits
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).expect("ascii"), 16).expect("hex digits"))
        .collect()
}

/// The first 213 bytes spark-submit sent to the RM, with our client id in the 16-byte gaps.
fn spark_submit_first_bytes() -> Vec<u8> {
    let mut expected = hex("68727063 09 00 00");
    expected.extend(hex("0000005c 1a 0802 1000 1805 2210"));
    expected.extend(CLIENT_ID);
    expected.extend(hex("2801 40 1206 0a04"));
    expected.extend(b"root");
    expected.extend(hex("1a36"));
    expected.extend(ACP.as_bytes());
    expected.extend(hex("0000006a 1a 0802 1000 1800 2210"));
    expected.extend(CLIENT_ID);
    expected.extend(hex("2800 4d 0a11"));
    expected.extend(b"getNewApplication");
    expected.extend(hex("1236"));
    expected.extend(ACP.as_bytes());
    expected.extend(hex("1801 00"));
    expected
}

fn connection_context(user: &str) -> IpcConnectionContextProto {
    IpcConnectionContextProto {
        user_info: Some(UserInformationProto { effective_user: Some(user.to_string()), real_user: None }),
        protocol: Some(ACP.to_string()),
    }
}

#[test]
fn encodes_the_first_213_bytes_spark_submit_sends() {
    let mut sent = Preamble { service_class: 0, auth: AuthProtocol::None }.encode().to_vec();
    let context_header = request_header(call_id::CONNECTION_CONTEXT, &CLIENT_ID, -1);
    sent.extend(FrameWriter::new().message(&context_header).message(&connection_context("root")).finish());
    let method = RequestHeaderProto {
        method_name: "getNewApplication".to_string(),
        declaring_class_protocol_name: ACP.to_string(),
        client_protocol_version: 1,
    };
    sent.extend(call_frame(&request_header(0, &CLIENT_ID, 0), &method, &[]));

    let expected = spark_submit_first_bytes();
    assert_eq!(expected.len(), 213);
    assert_eq!(sent, expected);
}

#[test]
fn decodes_the_first_213_bytes_spark_submit_sends() {
    let bytes = spark_submit_first_bytes();
    let preamble = Preamble::parse(bytes[..7].try_into().unwrap()).unwrap();
    assert_eq!(preamble, Preamble { service_class: 0, auth: AuthProtocol::None });

    let first_len = frame_length(bytes[7..11].try_into().unwrap(), DEFAULT_MAX_FRAME_LEN).unwrap();
    assert_eq!(first_len, 92);
    let mut context = FrameReader::new(&bytes[11..11 + first_len]);
    let header: RpcRequestHeaderProto = context.message().unwrap();
    assert_eq!((header.call_id, header.retry_count(), header.client_id.as_slice()), (-3, -1, &CLIENT_ID[..]));
    assert_eq!(context.message::<IpcConnectionContextProto>().unwrap(), connection_context("root"));
    context.finish("connection context").unwrap();

    let second = 11 + first_len;
    let second_len = frame_length(bytes[second..second + 4].try_into().unwrap(), DEFAULT_MAX_FRAME_LEN).unwrap();
    assert_eq!(second + 4 + second_len, 213);
    let mut call = FrameReader::new(&bytes[second + 4..]);
    let header: RpcRequestHeaderProto = call.message().unwrap();
    assert_eq!((header.call_id, header.retry_count()), (0, 0));
    let method: RequestHeaderProto = call.message().unwrap();
    assert_eq!((method.method_name.as_str(), method.client_protocol_version), ("getNewApplication", 1));
    assert_eq!(call.encoded("request").unwrap(), b"");
    call.finish("request").unwrap();
}

#[test]
fn encodes_the_sasl_negotiate_frame() {
    let header = request_header(call_id::SASL, &[], -1);
    let negotiate = RpcSaslProto { state: SaslState::Negotiate as i32, ..Default::default() };
    let frame = FrameWriter::new().message(&header).message(&negotiate).finish();
    assert_eq!(frame, hex("0000000e 0a 0802 1000 1841 2200 2801 02 1001"));
}

#[test]
fn response_call_id_is_uint32_on_the_wire() {
    let reply = ReplyTo { call_id: call_id::SASL, client_id: vec![], retry_count: -1 };
    let header = reply.header(RpcStatusProto::Success).encode_to_vec();
    assert_eq!(header[..8], hex("08 df ff ff ff 0f 10 00")[..]);
    let response = decode_response(&reply.success(&[])[4..]).unwrap();
    assert_eq!(response.call_id(), call_id::SASL);
    assert_eq!(response.message, Some(vec![]));
}

#[test]
fn error_and_fatal_frames_are_header_only() {
    let reply = ReplyTo { call_id: 7, client_id: CLIENT_ID.to_vec(), retry_count: 0 };
    let error = decode_response(
        &reply.failure("org.apache.hadoop.ipc.RpcNoSuchMethodException", "no", RpcErrorCodeProto::ErrorNoSuchMethod)
            [4..],
    )
    .unwrap();
    assert_eq!(error.header.status(), RpcStatusProto::Error);
    assert_eq!(error.header.exception_class_name(), "org.apache.hadoop.ipc.RpcNoSuchMethodException");
    assert_eq!(error.header.error_msg(), "no");
    assert_eq!(error.header.error_detail(), RpcErrorCodeProto::ErrorNoSuchMethod);
    assert_eq!((error.call_id(), error.header.client_id(), error.message), (7, &CLIENT_ID[..], None));

    let fatal = decode_response(
        &reply.failure("javax.security.sasl.SaslException", "bad", RpcErrorCodeProto::FatalUnauthorized)[4..],
    )
    .unwrap();
    assert_eq!(fatal.header.status(), RpcStatusProto::Fatal);
    assert_eq!(fatal.header.server_ipc_version_num(), 9);
}

#[test]
fn a_response_with_bytes_left_over_is_refused() {
    let reply = ReplyTo { call_id: 1, client_id: vec![], retry_count: 0 };
    let mut frame = reply.success(b"\x08\x01");
    frame.push(0);
    assert_eq!(
        decode_response(&frame[4..]),
        Err(FrameError::TrailingBytes { what: "RpcResponseHeaderProto".to_string(), extra: 1 })
    );
}

#[test]
fn preamble_errors_name_what_was_wrong() {
    let check = |bytes: &[u8; 7]| Preamble::parse(bytes).map_err(|error| error.to_string());
    assert_eq!(check(b"hrpc\x09\x00\xdf"), Ok(Preamble { service_class: 0, auth: AuthProtocol::Sasl }));
    assert_eq!(
        check(b"GET / H"),
        Err("not a Hadoop IPC connection: it starts with [47, 45, 54, 20], not \"hrpc\"".to_string())
    );
    assert_eq!(
        check(b"hrpc\x07\x00\x00"),
        Err("unsupported Hadoop IPC version 7: this server speaks version 9".to_string())
    );
    assert_eq!(
        check(b"hrpc\x09\x00\x51"),
        Err("unknown auth protocol 0x51: expected 0x00 (NONE) or 0xdf (SASL)".to_string())
    );
}

#[test]
fn frame_lengths_must_be_positive_and_capped() {
    let check = |length: i32| frame_length(length.to_be_bytes(), 1000);
    assert_eq!(check(1), Ok(1));
    assert_eq!(check(1000), Ok(1000));
    assert_eq!(check(0), Err(FrameError::NotPositive { length: 0 }));
    assert_eq!(check(-5), Err(FrameError::NotPositive { length: -5 }));
    assert_eq!(check(1001), Err(FrameError::TooLong { length: 1001, max: 1000 }));
    assert_eq!(
        FrameError::TooLong { length: 1001, max: 1000 }.to_string(),
        "frame length 1001 is over the maximum of 1000 bytes"
    );
}

#[test]
fn a_message_running_past_the_frame_is_an_error() {
    let mut reader = FrameReader::new(&[0x05, 0x08, 0x01]);
    let error = reader.encoded("request").unwrap_err();
    assert_eq!(error, FrameError::Truncated { what: "request".to_string(), length: 5, available: 2 });
    assert_eq!(error.to_string(), "request needs 5 bytes but the frame has 2 left");
}

#[test]
fn sniffs_hrpc_and_nothing_else() {
    assert!(is_hadoop_ipc(b"hrpc\x09\x00\x00"));
    assert!(is_hadoop_ipc(b"hrpc"));
    assert!(!is_hadoop_ipc(b"hrp"));
    assert!(!is_hadoop_ipc(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"));
    assert!(!is_hadoop_ipc(b""));
}

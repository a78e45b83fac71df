//! The client port speaks two protocols: Hadoop IPC and Weft's gRPC share it, each connection told
//! apart by its first bytes. Garbage and a half-open connection stop neither.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use prost::Message;
use support::start;
use weft_hadoop_ipc::common::{IpcConnectionContextProto, RequestHeaderProto, UserInformationProto};
use weft_hadoop_ipc::frame::{
    call_frame, call_id, decode_response, request_header, AuthProtocol, FrameWriter, Preamble, Response,
};
use weft_hadoop_ipc::yarn::{
    ApplicationIdProto, ApplicationSubmissionContextProto, ContainerLaunchContextProto, FinalApplicationStatusProto,
    GetApplicationReportRequestProto, GetApplicationReportResponseProto, GetNewApplicationRequestProto,
    GetNewApplicationResponseProto, KillApplicationRequestProto, KillApplicationResponseProto, ResourceProto,
    SubmitApplicationRequestProto, YarnApplicationStateProto,
};
use weft_proto::pb;

const PROTOCOL: &str = "org.apache.hadoop.yarn.api.ApplicationClientProtocolPB";
const CLIENT_ID: &[u8] = b"0123456789abcdef";

/// One call of ApplicationClientProtocolPB over a new SIMPLE connection, as Hadoop's client
/// sends it; the response frame.
fn call(address: &str, method: &str, request: &impl Message) -> Response {
    let mut stream = TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let context = IpcConnectionContextProto {
        user_info: Some(UserInformationProto { effective_user: Some("alice".into()), real_user: None }),
        protocol: Some(PROTOCOL.into()),
    };
    let method = RequestHeaderProto {
        method_name: method.into(),
        declaring_class_protocol_name: PROTOCOL.into(),
        client_protocol_version: 1,
    };
    let mut bytes = Preamble { service_class: 0, auth: AuthProtocol::None }.encode().to_vec();
    bytes.extend(
        FrameWriter::new()
            .message(&request_header(call_id::CONNECTION_CONTEXT, CLIENT_ID, -1))
            .message(&context)
            .finish(),
    );
    bytes.extend(call_frame(&request_header(0, CLIENT_ID, 0), &method, &request.encode_to_vec()));
    stream.write_all(&bytes).unwrap();
    let mut length = [0; 4];
    stream.read_exact(&mut length).unwrap();
    let mut body = vec![0; u32::from_be_bytes(length) as usize];
    stream.read_exact(&mut body).unwrap();
    let response = decode_response(&body).unwrap();
    assert_eq!(response.call_id(), 0);
    response
}

fn new_application_over_hadoop_ipc(address: &str) -> GetNewApplicationResponseProto {
    let response = call(address, "getNewApplication", &GetNewApplicationRequestProto {});
    GetNewApplicationResponseProto::decode(response.message.expect("a SUCCESS").as_slice()).unwrap()
}

fn new_application_over_grpc(address: &str) -> String {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let mut client =
            pb::application_client_client::ApplicationClientClient::connect(format!("http://{address}")).await.unwrap();
        client.get_new_application(pb::GetNewApplicationRequest {}).await.unwrap().into_inner().application_id
    })
}

#[test]
fn hadoop_ipc_and_grpc_share_the_client_port_and_garbage_stops_neither() {
    let rm = start("");
    let first = new_application_over_hadoop_ipc(&rm.client);
    let id = first.application_id.expect("an application id");
    assert_eq!(id.id, Some(1));
    assert!(first.maximum_capability.is_some_and(|m| m.memory() > 0));
    assert_eq!(new_application_over_grpc(&rm.client), format!("application_{}_0002", id.cluster_timestamp()));

    // A client that sends half a preamble and waits, one that sends garbage, one that connects
    // and closes at once: the port goes on serving both protocols meanwhile.
    let mut half_open = TcpStream::connect(&rm.client).unwrap();
    half_open.write_all(b"hrp").unwrap();
    let mut garbage = TcpStream::connect(&rm.client).unwrap();
    garbage.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n\x00\xff\x13").unwrap();
    drop(TcpStream::connect(&rm.client).unwrap());
    let mut wrong_version = TcpStream::connect(&rm.client).unwrap();
    wrong_version.write_all(b"hrpc\x07\x00\x00").unwrap();
    assert_eq!(new_application_over_hadoop_ipc(&rm.client).application_id.unwrap().id, Some(3));
    assert_eq!(new_application_over_grpc(&rm.client), format!("application_{}_0004", id.cluster_timestamp()));
    drop((half_open, garbage, wrong_version));
}

#[test]
fn unknown_applications_are_yarns_application_not_found_and_a_submitted_one_can_be_killed() {
    let rm = start("");
    let issued = new_application_over_hadoop_ipc(&rm.client).application_id.unwrap();
    let unknown = ApplicationIdProto { id: Some(99), ..issued };
    let response =
        call(&rm.client, "getApplicationReport", &GetApplicationReportRequestProto { application_id: Some(unknown) });
    assert!(response.message.is_none(), "an ERROR, not a report");
    assert_eq!(
        response.header.exception_class_name(),
        "org.apache.hadoop.yarn.exceptions.ApplicationNotFoundException"
    );
    let expected = format!(
        "Application with id 'application_{}_0099' doesn't exist in RM. Please check that the job submission was successful.",
        issued.cluster_timestamp()
    );
    assert_eq!(response.header.error_msg(), expected);
    let unknown_method = call(&rm.client, "renewDelegationToken", &GetNewApplicationRequestProto {});
    assert_eq!(unknown_method.header.exception_class_name(), "org.apache.hadoop.ipc.RpcNoSuchMethodException");
    let kill = KillApplicationRequestProto { application_id: Some(unknown), diagnostics: None };
    let response = call(&rm.client, "forceKillApplication", &kill);
    assert_eq!(
        response.header.exception_class_name(),
        "org.apache.hadoop.yarn.exceptions.ApplicationNotFoundException"
    );

    // A submitted application (no NodeManager: it waits ACCEPTED) killed over Hadoop IPC.
    let context = ApplicationSubmissionContextProto {
        application_id: Some(issued),
        application_name: Some("waits".into()),
        am_container_spec: Some(ContainerLaunchContextProto { command: vec!["true".into()], ..Default::default() }),
        resource: Some(ResourceProto { memory: Some(1024), virtual_cores: Some(1), resource_value_map: vec![] }),
        application_type: Some("SPARK".into()),
        ..Default::default()
    };
    let submitted = call(
        &rm.client,
        "submitApplication",
        &SubmitApplicationRequestProto { application_submission_context: Some(context) },
    );
    assert!(submitted.message.is_some(), "{:?}", submitted.header);
    let kill = KillApplicationRequestProto { application_id: Some(issued), diagnostics: None };
    let killed = call(&rm.client, "forceKillApplication", &kill);
    let killed = KillApplicationResponseProto::decode(killed.message.expect("a SUCCESS").as_slice()).unwrap();
    assert!(killed.is_kill_completed());
    let report =
        call(&rm.client, "getApplicationReport", &GetApplicationReportRequestProto { application_id: Some(issued) });
    let report = GetApplicationReportResponseProto::decode(report.message.expect("a SUCCESS").as_slice())
        .unwrap()
        .application_report
        .unwrap();
    assert_eq!(report.yarn_application_state(), YarnApplicationStateProto::Killed);
    assert_eq!(report.final_application_status(), FinalApplicationStatusProto::AppKilled);
    assert_eq!((report.user(), report.application_type(), report.name()), ("alice", "SPARK", "waits"));
    assert_eq!(report.diagnostics(), "Application killed by user.");
}

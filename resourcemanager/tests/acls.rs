//! Authorization (issue 14): with `yarn.acl.enable` on, only an application's owner, an admin
//! (`yarn.admin.acl`) or someone its own ACL names may kill it or see its details — on REST, Weft's
//! gRPC and Hadoop IPC alike; a refused kill changes nothing. With ACLs off, anyone may, as before.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use prost::Message;
use support::{start, Rm};
use weft_hadoop_ipc::client::{Client, ClientAuth, ClientError};
use weft_hadoop_ipc::yarn::{
    ApplicationAccessTypeProto, ApplicationAclMapProto, ApplicationSubmissionContextProto, ContainerLaunchContextProto,
    GetApplicationReportRequestProto, GetApplicationReportResponseProto, GetNewApplicationRequestProto,
    GetNewApplicationResponseProto, KillApplicationRequestProto, ResourceProto, SubmitApplicationRequestProto,
};
use weft_proto::pb;
use weft_proto::pb::application_client_client::ApplicationClientClient;

const HADOOP_CLIENT_PROTOCOL: &str = "org.apache.hadoop.yarn.api.ApplicationClientProtocolPB";

/// One HTTP/1.1 request; the status and the JSON body.
fn http(rm: &Rm, method: &str, path: &str, body: &str) -> (u16, serde_json::Value) {
    let mut stream = TcpStream::connect(&rm.web).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        rm.web,
        body.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, serde_json::from_str(body).unwrap_or_else(|_| serde_json::Value::String(body.into())))
}

fn rest_kill(rm: &Rm, app: &str, user: Option<&str>) -> (u16, serde_json::Value) {
    let query = user.map(|u| format!("?user.name={u}")).unwrap_or_default();
    http(rm, "PUT", &format!("/ws/v1/cluster/apps/{app}/state{query}"), r#"{"state":"KILLED"}"#)
}

fn rest_app(rm: &Rm, app: &str, user: &str) -> serde_json::Value {
    let (status, body) = http(rm, "GET", &format!("/ws/v1/cluster/apps/{app}?user.name={user}"), "");
    assert_eq!(status, 200, "{body}");
    body["app"].clone()
}

fn state(rm: &Rm, app: &str) -> String {
    let (status, body) = http(rm, "GET", &format!("/ws/v1/cluster/apps/{app}/state"), "");
    assert_eq!(status, 200, "{body}");
    body["state"].as_str().unwrap().to_string()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

async fn grpc(rm: &Rm) -> ApplicationClientClient<tonic::transport::Channel> {
    ApplicationClientClient::connect(format!("http://{}", rm.client)).await.unwrap()
}

/// A request that names `user` the way `weft` does.
fn as_user<T>(message: T, user: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert(weft_proto::USER_METADATA, user.parse().unwrap());
    request
}

/// Submits an application owned by `owner` over Weft's gRPC, with these ACLs; its id.
fn submit_grpc(rm: &Rm, owner: &str, view_acls: &str, modify_acls: &str) -> String {
    runtime().block_on(async {
        let mut client = grpc(rm).await;
        let id = client.get_new_application(pb::GetNewApplicationRequest {}).await.unwrap().into_inner().application_id;
        let context = pb::ApplicationSubmissionContext {
            application_id: id.clone(),
            name: "guarded".into(),
            user: owner.into(),
            am_resource: Some(pb::Resource { memory_mb: 1024, vcores: 1 }),
            am_container: Some(pb::ContainerLaunchContext { command: vec!["true".into()], ..Default::default() }),
            view_acls: view_acls.into(),
            modify_acls: modify_acls.into(),
            ..Default::default()
        };
        client.submit_application(pb::SubmitApplicationRequest { context: Some(context) }).await.unwrap();
        id
    })
}

fn hadoop(rm: &Rm, user: &str) -> Client {
    let auth = ClientAuth::Simple { user: user.into() };
    Client::connect(&rm.client, HADOOP_CLIENT_PROTOCOL, &auth, Duration::from_secs(10)).unwrap()
}

const ACLS_ON: &str = "yarn.acl.enable: true\nyarn.admin.acl: \"yarn-admin\"\n";

#[test]
fn with_acls_on_a_strangers_kill_is_refused_on_every_face_and_changes_nothing() {
    let rm = start(ACLS_ON);
    let app = submit_grpc(&rm, "alice", "", "bob");
    assert_eq!(state(&rm, &app), "ACCEPTED");

    // REST: 403 in YARN's RemoteException shape, with RMWebServices' words.
    let (status, body) = rest_kill(&rm, &app, Some("mallory"));
    assert_eq!(status, 403, "{body}");
    let exception = &body["RemoteException"];
    assert_eq!(exception["exception"], "ForbiddenException", "{body}");
    assert_eq!(exception["javaClassName"], "org.apache.hadoop.yarn.webapp.ForbiddenException", "{body}");
    assert_eq!(exception["message"], format!("Unauthorized attempt to kill appid {app} by remote user mallory"));
    // Without user.name the caller is Hadoop's anonymous web user.
    let (status, body) = rest_kill(&rm, &app, None);
    assert_eq!(status, 403, "{body}");
    assert_eq!(
        body["RemoteException"]["message"],
        format!("Unauthorized attempt to kill appid {app} by remote user dr.who")
    );

    // Weft's gRPC: PERMISSION_DENIED with ClientRMService's sentence; without weft-user, dr.who.
    runtime().block_on(async {
        let mut client = grpc(&rm).await;
        let kill = || pb::KillApplicationRequest { application_id: app.clone(), diagnostics: String::new() };
        let refused = client.kill_application(as_user(kill(), "mallory")).await.unwrap_err();
        assert_eq!(refused.code(), tonic::Code::PermissionDenied, "{refused:?}");
        assert_eq!(refused.message(), format!("User mallory cannot perform operation MODIFY_APP on {app}"));
        let refused = client.kill_application(kill()).await.unwrap_err();
        assert_eq!(refused.message(), format!("User dr.who cannot perform operation MODIFY_APP on {app}"));
    });

    // Hadoop IPC: ClientRMService's AccessControlException wrapped in a YarnException.
    let ids = new_application_over_hadoop_ipc(&rm, "alice");
    let kill = KillApplicationRequestProto { application_id: Some(app_id_proto(&app, &ids)), diagnostics: None };
    match hadoop(&rm, "mallory").call("forceKillApplication", &kill) {
        Err(ClientError::Remote { class_name, message, fatal: false }) => {
            assert_eq!(class_name, "org.apache.hadoop.yarn.exceptions.YarnException");
            assert_eq!(
                message,
                format!(
                    "java.security.AccessControlException: User mallory cannot perform operation MODIFY_APP on {app}"
                )
            );
        }
        other => panic!("expected a refusal, got {other:?}"),
    }

    assert_eq!(state(&rm, &app), "ACCEPTED", "a refused kill changes nothing");
    let report = rest_app(&rm, &app, "alice");
    assert_eq!(report["diagnostics"], "", "{report}");
}

#[test]
fn with_acls_on_the_owner_an_admin_and_the_apps_modify_acl_may_kill() {
    let rm = start(ACLS_ON);
    for (killer, modify_acls) in [("alice", ""), ("yarn-admin", ""), ("bob", "carol,bob"), ("dave", "* ")] {
        let app = submit_grpc(&rm, "alice", "", modify_acls);
        let (status, body) = rest_kill(&rm, &app, Some(killer));
        assert_eq!(status, 202, "{killer} kills an app with modify ACL {modify_acls:?}: {body}");
        assert_eq!(state(&rm, &app), "KILLED");
    }
    // Over Weft's gRPC, the owner's kill goes through too.
    let app = submit_grpc(&rm, "alice", "", "");
    runtime().block_on(async {
        let kill = pb::KillApplicationRequest { application_id: app.clone(), diagnostics: String::new() };
        grpc(&rm).await.kill_application(as_user(kill, "alice")).await.unwrap();
    });
    assert_eq!(state(&rm, &app), "KILLED");
}

#[test]
fn with_acls_on_a_stranger_sees_the_summary_but_not_the_details() {
    let rm = start(ACLS_ON);
    let app = submit_grpc(&rm, "alice", "viewer", "");
    let (status, _) = rest_kill(&rm, &app, Some("alice"));
    assert_eq!(status, 202);
    let diagnostics = "Application killed by user through the REST API.";

    let owners = rest_app(&rm, &app, "alice");
    assert_eq!(owners["diagnostics"], diagnostics, "{owners}");
    assert!(owners["trackingUrl"].is_string(), "{owners}");
    assert_eq!(rest_app(&rm, &app, "viewer")["diagnostics"], diagnostics);

    let strangers = rest_app(&rm, &app, "mallory");
    for kept in ["id", "user", "name", "queue", "state", "finalStatus", "startedTime", "finishedTime"] {
        assert_eq!(strangers[kept], owners[kept], "{kept}: {strangers}");
    }
    for hidden in ["diagnostics", "trackingUrl", "amContainerLogs", "amHostHttpAddress", "amRPCAddress"] {
        assert!(strangers.get(hidden).is_none(), "{hidden} shown to a stranger: {strangers}");
    }
    let (status, body) = http(&rm, "GET", "/ws/v1/cluster/apps?user.name=mallory", "");
    assert_eq!(status, 200);
    assert!(body["apps"]["app"][0].get("diagnostics").is_none(), "{body}");
    let (status, body) = http(&rm, "GET", &format!("/ws/v1/cluster/apps/{app}/appattempts?user.name=mallory"), "");
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["RemoteException"]["message"], format!("User mallory cannot perform operation VIEW_APP on {app}"));
    // The web proxy asks the same question before leading anywhere: a stranger (or a caller who
    // names nobody) gets the refusal, the viewer is led to the application's page.
    for caller in ["?user.name=mallory", ""] {
        let (status, body) = http(&rm, "GET", &format!("/proxy/{app}/{caller}"), "");
        assert_eq!(status, 403, "{caller}: {body}");
        assert_eq!(body["RemoteException"]["exception"], "ForbiddenException", "{body}");
    }
    let (status, body) = http(&rm, "GET", &format!("/proxy/{app}/?user.name=viewer"), "");
    assert!((300..400).contains(&status), "the viewer is redirected: {status} {body}");

    // Weft's gRPC and Hadoop IPC reports: YARN's "N/A" in place of the details.
    runtime().block_on(async {
        let mut client = grpc(&rm).await;
        let ask = || pb::GetApplicationReportRequest { application_id: app.clone() };
        let report =
            client.get_application_report(as_user(ask(), "mallory")).await.unwrap().into_inner().report.unwrap();
        assert_eq!((report.user.as_str(), report.state.as_str()), ("alice", "KILLED"));
        assert_eq!((report.diagnostics.as_str(), report.tracking_url.as_str()), ("N/A", "N/A"));
        let report = client.get_application_report(as_user(ask(), "alice")).await.unwrap().into_inner().report.unwrap();
        assert_eq!(report.diagnostics, diagnostics);
        let attempts = pb::GetApplicationAttemptsRequest { application_id: app.clone() };
        let refused = client.get_application_attempts(as_user(attempts, "mallory")).await.unwrap_err();
        assert_eq!(refused.code(), tonic::Code::PermissionDenied);
    });
    let ids = new_application_over_hadoop_ipc(&rm, "alice");
    let ask = GetApplicationReportRequestProto { application_id: Some(app_id_proto(&app, &ids)) };
    let report = hadoop_report(&rm, "mallory", &ask);
    assert_eq!((report.diagnostics(), report.host(), report.tracking_url()), ("N/A", "N/A", "N/A"));
    assert_eq!(report.user(), "alice");
    assert_eq!(hadoop_report(&rm, "alice", &ask).diagnostics(), diagnostics);
}

#[test]
fn hadoop_application_acls_from_the_submission_are_honoured() {
    let rm = start(ACLS_ON);
    let issued = new_application_over_hadoop_ipc(&rm, "alice").application_id.unwrap();
    let acl = |access: ApplicationAccessTypeProto, acl: &str| ApplicationAclMapProto {
        access_type: Some(access as i32),
        acl: Some(acl.into()),
    };
    let context = ApplicationSubmissionContextProto {
        application_id: Some(issued),
        application_name: Some("spark".into()),
        am_container_spec: Some(ContainerLaunchContextProto {
            command: vec!["true".into()],
            application_acls: vec![
                acl(ApplicationAccessTypeProto::AppaccessViewApp, "alice,bob"),
                acl(ApplicationAccessTypeProto::AppaccessModifyApp, "alice,bob"),
            ],
            ..Default::default()
        }),
        resource: Some(ResourceProto { memory: Some(1024), virtual_cores: Some(1), resource_value_map: vec![] }),
        application_type: Some("SPARK".into()),
        ..Default::default()
    };
    hadoop(&rm, "alice")
        .call("submitApplication", &SubmitApplicationRequestProto { application_submission_context: Some(context) })
        .unwrap();
    let app = format!("application_{}_{:04}", issued.cluster_timestamp(), issued.id());
    let kill = KillApplicationRequestProto { application_id: Some(issued), diagnostics: None };
    assert!(hadoop(&rm, "mallory").call("forceKillApplication", &kill).is_err());
    assert_eq!(state(&rm, &app), "ACCEPTED");
    hadoop(&rm, "bob").call("forceKillApplication", &kill).unwrap();
    assert_eq!(state(&rm, &app), "KILLED");
}

#[test]
fn with_acls_off_anyone_may_kill_and_see_everything_as_before() {
    let rm = start("");
    let app = submit_grpc(&rm, "alice", "", "");
    let (status, body) = rest_kill(&rm, &app, None);
    assert_eq!(status, 202, "{body}");
    assert_eq!(state(&rm, &app), "KILLED");
    let strangers = rest_app(&rm, &app, "mallory");
    assert_eq!(strangers["diagnostics"], "Application killed by user through the REST API.", "{strangers}");
    let app = submit_grpc(&rm, "alice", "", "");
    runtime().block_on(async {
        let kill = pb::KillApplicationRequest { application_id: app.clone(), diagnostics: String::new() };
        grpc(&rm).await.kill_application(as_user(kill, "mallory")).await.unwrap();
    });
    assert_eq!(state(&rm, &app), "KILLED");
}

fn new_application_over_hadoop_ipc(rm: &Rm, user: &str) -> GetNewApplicationResponseProto {
    let bytes = hadoop(rm, user).call("getNewApplication", &GetNewApplicationRequestProto {}).unwrap();
    GetNewApplicationResponseProto::decode(bytes.as_slice()).unwrap()
}

/// The Hadoop form of `app`, an id of this cluster (its timestamp taken from `issued`).
fn app_id_proto(app: &str, issued: &GetNewApplicationResponseProto) -> weft_hadoop_ipc::yarn::ApplicationIdProto {
    let sequence: i32 = app.rsplit('_').next().unwrap().parse().unwrap();
    weft_hadoop_ipc::yarn::ApplicationIdProto { id: Some(sequence), ..issued.application_id.unwrap() }
}

fn hadoop_report(
    rm: &Rm,
    user: &str,
    ask: &GetApplicationReportRequestProto,
) -> weft_hadoop_ipc::yarn::ApplicationReportProto {
    let bytes = hadoop(rm, user).call("getApplicationReport", ask).unwrap();
    GetApplicationReportResponseProto::decode(bytes.as_slice()).unwrap().application_report.unwrap()
}

//! The rest of YARN's client protocol, as Hadoop's `yarn` command and other YARN clients read a
//! cluster over Hadoop IPC: nodes, the queue, an attempt and its containers, and YARN's exceptions
//! for what does not exist.

use std::time::Duration;

use prost::Message;
use weft_hadoop_ipc::client::{Client, ClientAuth, ClientError};
use weft_hadoop_ipc::ids;
use weft_hadoop_ipc::yarn::{
    ApplicationSubmissionContextProto, ContainerLaunchContextProto, ContainerStateProto,
    GetApplicationAttemptReportRequestProto, GetApplicationAttemptReportResponseProto, GetClusterNodesRequestProto,
    GetClusterNodesResponseProto, GetContainerReportRequestProto, GetContainerReportResponseProto,
    GetContainersRequestProto, GetContainersResponseProto, GetNewApplicationRequestProto,
    GetNewApplicationResponseProto, GetQueueInfoRequestProto, GetQueueInfoResponseProto, NodeStateProto, ResourceProto,
    SubmitApplicationRequestProto, YarnApplicationAttemptStateProto,
};
use weft_proto::{ApplicationAttemptId, ContainerId};
use weft_tests::{Cluster, ClusterOptions};

const CLIENT: &str = "org.apache.hadoop.yarn.api.ApplicationClientProtocolPB";

fn call<R: Message + Default>(client: &mut Client, method: &str, request: &impl Message) -> Result<R, ClientError> {
    client.call(method, request).map(|bytes| R::decode(bytes.as_slice()).expect("a response message"))
}

fn exception(result: Result<impl std::fmt::Debug, ClientError>) -> String {
    match result {
        Err(ClientError::Remote { class_name, message, fatal: false }) => format!("{class_name}: {message}"),
        other => panic!("expected an ERROR answer, got {other:?}"),
    }
}

#[test]
fn yarn_clients_read_nodes_the_queue_attempts_and_containers_over_hadoop_ipc() {
    let cluster = Cluster::start(ClusterOptions { node_managers: 1, ..ClusterOptions::default() });
    let simple = ClientAuth::Simple { user: "alice".into() };
    let mut client = Client::connect(&cluster.rm_client, CLIENT, &simple, Duration::from_secs(10)).unwrap();
    let new: GetNewApplicationResponseProto =
        call(&mut client, "getNewApplication", &GetNewApplicationRequestProto {}).unwrap();
    let app = ids::application_id(new.application_id.as_ref().unwrap()).unwrap();
    let context = ApplicationSubmissionContextProto {
        application_id: new.application_id,
        application_name: Some("sleeper".into()),
        am_container_spec: Some(ContainerLaunchContextProto {
            command: vec!["exec sleep 600".into()],
            ..Default::default()
        }),
        resource: Some(ResourceProto { memory: Some(512), virtual_cores: Some(1), resource_value_map: vec![] }),
        ..Default::default()
    };
    client
        .call("submitApplication", &SubmitApplicationRequestProto { application_submission_context: Some(context) })
        .unwrap();
    let attempt: ApplicationAttemptId = app.attempt(1);
    let am: ContainerId = format!("container_{}_{:04}_01_000001", app.cluster_timestamp, app.sequence).parse().unwrap();

    // The AM container runs (it never registers: the attempt stays LAUNCHED).
    let mut last;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let report = loop {
        let request = GetContainerReportRequestProto { container_id: Some(ids::container_id_proto(am)) };
        match call::<GetContainerReportResponseProto>(&mut client, "getContainerReport", &request) {
            Ok(GetContainerReportResponseProto { container_report: Some(report) })
                if report.container_state() == ContainerStateProto::CRunning =>
            {
                break report;
            }
            other => last = format!("{other:?}"),
        }
        if std::time::Instant::now() > deadline {
            let (_, app_report) = cluster.get(&format!("/ws/v1/cluster/apps/{app}"));
            panic!("the AM container {am} did not run in 30 s; last answer: {last}; the application: {app_report}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(report.resource.as_ref().and_then(|r| r.memory), Some(1024), "normalized to the minimum allocation");
    let node = report.node_id.clone().unwrap();
    assert!(report.log_url().ends_with(&format!("/node/containerlogs/{am}/alice")), "{}", report.log_url());

    let nodes: GetClusterNodesResponseProto = call(
        &mut client,
        "getClusterNodes",
        &GetClusterNodesRequestProto { node_states: vec![NodeStateProto::NsRunning as i32] },
    )
    .unwrap();
    assert_eq!(nodes.node_reports.len(), 1, "{nodes:?}");
    let reported = &nodes.node_reports[0];
    assert_eq!((reported.node_id.clone().unwrap(), reported.num_containers()), (node, 1));
    assert_eq!(reported.used.as_ref().and_then(|r| r.memory), Some(1024));
    let lost: GetClusterNodesResponseProto = call(
        &mut client,
        "getClusterNodes",
        &GetClusterNodesRequestProto { node_states: vec![NodeStateProto::NsLost as i32] },
    )
    .unwrap();
    assert!(lost.node_reports.is_empty());

    let request =
        GetApplicationAttemptReportRequestProto { application_attempt_id: Some(ids::attempt_id_proto(attempt)) };
    let attempt_report: GetApplicationAttemptReportResponseProto =
        call(&mut client, "getApplicationAttemptReport", &request).unwrap();
    let attempt_report = attempt_report.application_attempt_report.unwrap();
    assert_eq!(attempt_report.yarn_application_attempt_state(), YarnApplicationAttemptStateProto::AppAttemptLaunched);
    assert_eq!(attempt_report.am_container_id, Some(ids::container_id_proto(am)));
    let containers: GetContainersResponseProto = call(
        &mut client,
        "getContainers",
        &GetContainersRequestProto { application_attempt_id: Some(ids::attempt_id_proto(attempt)) },
    )
    .unwrap();
    assert_eq!(containers.containers.len(), 1);

    let queue: GetQueueInfoResponseProto = call(
        &mut client,
        "getQueueInfo",
        &GetQueueInfoRequestProto {
            queue_name: Some("default".into()),
            include_applications: Some(true),
            ..Default::default()
        },
    )
    .unwrap();
    let queue = queue.queue_info.unwrap();
    assert_eq!((queue.queue_name(), queue.applications.len()), ("default", 1));
    assert_eq!(queue.queue_statistics.as_ref().and_then(|s| s.allocated_memory_mb), Some(1024));

    // What does not exist, in YARN's words and classes.
    let missing =
        GetApplicationAttemptReportRequestProto { application_attempt_id: Some(ids::attempt_id_proto(app.attempt(7))) };
    let error = exception(call::<GetApplicationAttemptReportResponseProto>(
        &mut client,
        "getApplicationAttemptReport",
        &missing,
    ));
    assert!(
        error.starts_with(
            "org.apache.hadoop.yarn.exceptions.ApplicationAttemptNotFoundException: ApplicationAttempt with id"
        ),
        "{error}"
    );
    let gone: ContainerId =
        format!("container_{}_{:04}_01_000099", app.cluster_timestamp, app.sequence).parse().unwrap();
    let error = exception(call::<GetContainerReportResponseProto>(
        &mut client,
        "getContainerReport",
        &GetContainerReportRequestProto { container_id: Some(ids::container_id_proto(gone)) },
    ));
    assert_eq!(error, format!("org.apache.hadoop.yarn.exceptions.ContainerNotFoundException: Container with id '{gone}' doesn't exist in RM."));
    let error = exception(call::<GetQueueInfoResponseProto>(
        &mut client,
        "getQueueInfo",
        &GetQueueInfoRequestProto { queue_name: Some("nightly".into()), ..Default::default() },
    ));
    assert!(error.ends_with("Unknown queue: nightly"), "{error}");

    let killed = cluster.weft(&["application", "-kill", &app.to_string()]);
    assert_eq!(killed.code, Some(0), "{}", killed.both());
    cluster.stop_checked();
}

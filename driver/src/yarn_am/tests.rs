//! The adapter against one in-process gRPC server on 127.0.0.1:0 that plays both the scheduler
//! (grants exactly what is asked, sends its one node's NM token with the first grant only, reports
//! queued completions, completes released containers with -100) and the NodeManager (starts or
//! refuses, records stops and the NM token each call carried).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use tonic::{Request, Response, Status};
use weft_proto::exit_status;
use weft_proto::pb::application_master_server::{ApplicationMaster, ApplicationMasterServer};
use weft_proto::pb::container_management_server::{ContainerManagement, ContainerManagementServer};

use super::*;

const DEADLINE: Duration = Duration::from_secs(10);

#[derive(Default)]
struct Recorded {
    unavailable_registers: u32,
    refuse_register: bool,
    refuse_allocate: bool,
    registered: Option<pb::RegisterApplicationMasterRequest>,
    /// Every allocate call: (containers asked for, releases).
    allocates: Vec<(i32, Vec<String>)>,
    next_container: u64,
    address: String,
    completions: Vec<pb::ContainerStatus>,
    finished: Option<(String, String)>,
    /// The tracking URL the attempt unregistered with.
    final_tracking_url: Option<String>,
    refuse_start: BTreeSet<String>,
    started: Vec<pb::StartContainerRequest>,
    stopped: Vec<String>,
    /// Whether the node's NM token has been sent.
    tokened: bool,
    /// The NM token each StartContainers and StopContainers call carried.
    start_tokens: Vec<Option<Vec<u8>>>,
    stop_tokens: Vec<Option<Vec<u8>>>,
}

/// The NM token the fake scheduler sends for its node.
const NM_TOKEN: &[u8] = b"the attempt's NM token for the node";

fn nm_token_of<T>(request: &Request<T>) -> Option<Vec<u8>> {
    request.metadata().get_bin(weft_proto::NM_TOKEN_METADATA).map(|v| v.to_bytes().unwrap().to_vec())
}

#[derive(Clone, Default)]
struct Fake(Arc<Mutex<Recorded>>);

fn attempt() -> ApplicationAttemptId {
    weft_proto::ApplicationId::new(1700000000000, 7).attempt(1)
}

fn cid(n: u64) -> ContainerId {
    attempt().container(n)
}

fn completion(id: &str, exit_status: i32, diagnostics: &str) -> pb::ContainerStatus {
    pb::ContainerStatus {
        container_id: id.to_owned(),
        state: pb::ContainerState::Complete.into(),
        exit_status,
        diagnostics: diagnostics.to_owned(),
        ..Default::default()
    }
}

#[tonic::async_trait]
impl ApplicationMaster for Fake {
    async fn register_application_master(
        &self,
        request: Request<pb::RegisterApplicationMasterRequest>,
    ) -> Result<Response<pb::RegisterApplicationMasterResponse>, Status> {
        let mut r = self.0.lock().unwrap();
        if r.unavailable_registers > 0 {
            r.unavailable_registers -= 1;
            return Err(Status::unavailable("starting up"));
        }
        if r.refuse_register {
            return Err(Status::failed_precondition("the attempt is FINISHED: it cannot register"));
        }
        r.registered = Some(request.into_inner());
        let maximum = Some(pb::Resource { memory_mb: 8192, vcores: 8 });
        Ok(Response::new(pb::RegisterApplicationMasterResponse {
            maximum_capability: maximum,
            queue: "default".into(),
        }))
    }

    async fn allocate(&self, request: Request<pb::AllocateRequest>) -> Result<Response<pb::AllocateResponse>, Status> {
        let request = request.into_inner();
        let mut r = self.0.lock().unwrap();
        if r.refuse_allocate {
            return Err(Status::failed_precondition("only a registered, running attempt can allocate"));
        }
        let asked = request.asks.iter().map(|a| a.num_containers).sum::<i32>();
        for id in &request.releases {
            r.completions.push(completion(id, exit_status::ABORTED, "Container released by application"));
        }
        r.allocates.push((asked, request.releases));
        let mut allocated = Vec::new();
        for _ in 0..asked {
            r.next_container += 1;
            allocated.push(pb::Container {
                container_id: cid(r.next_container + 1).to_string(),
                node_id: r.address.clone(),
                node_address: r.address.clone(),
                node_http_address: String::new(),
                resource: Some(pb::Resource { memory_mb: 2048, vcores: 2 }),
                priority: 1,
                container_token: Vec::new(),
            });
        }
        let mut nm_tokens = Vec::new();
        if !allocated.is_empty() && !r.tokened {
            r.tokened = true;
            nm_tokens.push(pb::NmToken { node_id: r.address.clone(), token: NM_TOKEN.to_vec() });
        }
        let completed = std::mem::take(&mut r.completions);
        Ok(Response::new(pb::AllocateResponse {
            response_id: request.response_id + 1,
            allocated,
            completed,
            available: None,
            num_cluster_nodes: 1,
            nm_tokens,
        }))
    }

    async fn finish_application_master(
        &self,
        request: Request<pb::FinishApplicationMasterRequest>,
    ) -> Result<Response<pb::FinishApplicationMasterResponse>, Status> {
        let request = request.into_inner();
        let mut recorded = self.0.lock().unwrap();
        recorded.finished = Some((request.final_status, request.diagnostics));
        recorded.final_tracking_url = Some(request.tracking_url);
        Ok(Response::new(pb::FinishApplicationMasterResponse { unregistered: true }))
    }
}

#[tonic::async_trait]
impl ContainerManagement for Fake {
    async fn start_containers(
        &self,
        request: Request<pb::StartContainersRequest>,
    ) -> Result<Response<pb::StartContainersResponse>, Status> {
        let mut r = self.0.lock().unwrap();
        r.start_tokens.push(nm_token_of(&request));
        let mut response = pb::StartContainersResponse::default();
        for start in request.into_inner().requests {
            if r.refuse_start.contains(&start.container_id) {
                let message = "no such user".to_owned();
                response.failed.push(pb::ContainerError { container_id: start.container_id.clone(), message });
            } else {
                response.started.push(start.container_id.clone());
            }
            r.started.push(start);
        }
        Ok(Response::new(response))
    }

    async fn stop_containers(
        &self,
        request: Request<pb::StopContainersRequest>,
    ) -> Result<Response<pb::StopContainersResponse>, Status> {
        let token = nm_token_of(&request);
        let ids = request.into_inner().container_ids;
        let mut r = self.0.lock().unwrap();
        r.stopped.extend(ids.iter().cloned());
        r.stop_tokens.push(token);
        Ok(Response::new(pb::StopContainersResponse { stopped: ids, failed: Vec::new() }))
    }

    async fn get_container_statuses(
        &self,
        _request: Request<pb::GetContainerStatusesRequest>,
    ) -> Result<Response<pb::GetContainerStatusesResponse>, Status> {
        Err(Status::unimplemented("not used by the application master"))
    }
}

impl Fake {
    /// Serves both services on 127.0.0.1:0.
    async fn serve(setup: impl FnOnce(&mut Recorded)) -> Fake {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let fake = Fake::default();
        {
            let mut r = fake.0.lock().unwrap();
            r.address = listener.local_addr().unwrap().to_string();
            setup(&mut r);
        }
        let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
        let server = tonic::transport::Server::builder()
            .add_service(ApplicationMasterServer::new(fake.clone()))
            .add_service(ContainerManagementServer::new(fake.clone()))
            .serve_with_incoming(incoming);
        tokio::spawn(server);
        fake
    }

    fn with<T>(&self, f: impl FnOnce(&mut Recorded) -> T) -> T {
        f(&mut self.0.lock().unwrap())
    }

    async fn until(&self, what: &str, condition: impl Fn(&Recorded) -> bool) {
        let wait = async {
            while !self.with(|r| condition(r)) {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        };
        tokio::time::timeout(DEADLINE, wait).await.unwrap_or_else(|_| panic!("timed out waiting for {what}"));
    }

    fn config(&self) -> AmConfig {
        AmConfig {
            scheduler_address: self.with(|r| r.address.clone()),
            attempt_id: attempt(),
            host: "driver-host".into(),
            rpc_port: 4041,
            tracking_url: "http://driver-host:4040".into(),
            final_tracking_url: history_url("shs:18080", attempt()),
            user: "alice".into(),
            amrm_token: b"token".to_vec(),
        }
    }
}

fn spec(instances: usize, max_failures: usize) -> ExecutorSpec {
    ExecutorSpec {
        instances,
        resource: Resource::new(1408, 2),
        max_failures,
        launch: Arc::new(|executor_id: &str, container: &ContainerId| pb::ContainerLaunchContext {
            command: vec!["app".into(), "--executor".into(), executor_id.into(), container.to_string()],
            environment: vec![pb::KeyValue { key: launch_env::EXECUTOR_ID.into(), value: executor_id.into() }],
            ..Default::default()
        }),
    }
}

async fn next(events: &mut mpsc::UnboundedReceiver<AmEvent>) -> Option<AmEvent> {
    tokio::time::timeout(DEADLINE, events.recv()).await.expect("an event in time")
}

fn launched(executor_id: &str, n: u64) -> Option<AmEvent> {
    Some(AmEvent::Launched { executor_id: executor_id.into(), container: cid(n), host: "127.0.0.1".into() })
}

#[tokio::test]
async fn executors_are_launched_replaced_killed_and_released() {
    let fake = Fake::serve(|r| r.unavailable_registers = 2).await;
    let (am, mut events) = YarnAm::start(fake.config(), spec(2, 4)).await.unwrap();
    let registered = fake.with(|r| r.registered.clone()).expect("registered after two unavailable answers");
    assert_eq!(registered.attempt_id, "appattempt_1700000000000_0007_000001");
    assert_eq!((registered.host.as_str(), registered.rpc_port), ("driver-host", 4041));
    assert_eq!(next(&mut events).await, launched("1", 2));
    assert_eq!(next(&mut events).await, launched("2", 3));
    let started = fake.with(|r| r.started.clone());
    assert_eq!(started[1].container_id, cid(3).to_string());
    assert_eq!(started[1].user, "alice");
    assert_eq!(started[1].resource, Some(pb::Resource { memory_mb: 2048, vcores: 2 }));
    let launch = started[1].launch.clone().unwrap();
    assert_eq!(launch.command, ["app", "--executor", "2", &cid(3).to_string()]);
    assert_eq!(launch.environment[0].value, "2");
    assert_eq!(fake.with(|r| r.allocates[0].0), 2, "the first ask is the target");

    fake.with(|r| r.completions.push(completion(&cid(3).to_string(), 1, "Exception from container-launch.")));
    let exited = AmEvent::Exited {
        executor_id: "2".into(),
        container: cid(3),
        exit_status: 1,
        diagnostics: "Exception from container-launch.".into(),
        external: false,
    };
    assert_eq!(next(&mut events).await, Some(exited));
    assert_eq!(next(&mut events).await, launched("3", 4), "replaced under a new id");

    am.kill_executor("1");
    assert_eq!(next(&mut events).await, launched("4", 5), "the killed executor is replaced");
    let c2 = cid(2).to_string();
    fake.until("the killed container stopped", |r| r.stopped == [c2.clone()]).await;
    assert!(fake.with(|r| r.allocates.iter().any(|(_, releases)| releases.as_slice() == std::slice::from_ref(&c2))));

    am.finish("SUCCEEDED", "").await.unwrap();
    assert_eq!(fake.with(|r| r.finished.clone()), Some(("SUCCEEDED".into(), String::new())));
    let history = format!("http://shs:18080/history/{}/{}", attempt().application, attempt().attempt);
    assert_eq!(fake.with(|r| r.final_tracking_url.clone()), Some(history), "spark.yarn.historyServer.address");
    let (c4, c5) = (cid(4).to_string(), cid(5).to_string());
    assert_eq!(fake.with(|r| r.stopped.clone()), [c2, c4.clone(), c5.clone()]);
    assert_eq!(fake.with(|r| r.allocates.last().cloned()), Some((0, vec![c4, c5])));
    assert_eq!(next(&mut events).await, None, "no event for released containers; the loop has ended");
    // Issue 17: the node's NM token came once, with the first grant; every call to the node carried it.
    let tokens = fake.with(|r| [r.start_tokens.clone(), r.stop_tokens.clone()].concat());
    assert_eq!(tokens.len(), 3 + 2, "three StartContainers calls, two StopContainers calls");
    assert!(tokens.iter().all(|t| t.as_deref() == Some(NM_TOKEN)), "{tokens:?}");
}

#[tokio::test]
async fn too_many_failures_stop_replacement() {
    let fake = Fake::serve(|_| {}).await;
    let (am, mut events) = YarnAm::start(fake.config(), spec(1, 1)).await.unwrap();
    assert_eq!(next(&mut events).await, launched("1", 2));
    let diagnostics = "Container [pid=9,containerID=c] is running 1B beyond the 'PHYSICAL' memory limit.";
    fake.with(|r| r.completions.push(completion(&cid(2).to_string(), exit_status::KILLED_EXCEEDED_PMEM, diagnostics)));
    let exited = AmEvent::Exited {
        executor_id: "1".into(),
        container: cid(2),
        exit_status: -104,
        diagnostics: diagnostics.into(),
        external: true,
    };
    assert_eq!(next(&mut events).await, Some(exited));
    let message = "Max number of executor failures (1) reached".to_owned();
    assert_eq!(next(&mut events).await, Some(AmEvent::TooManyFailures { message: message.clone() }));
    let calls = fake.with(|r| r.allocates.len());
    fake.until("two more allocate calls", |r| r.allocates.len() >= calls + 2).await;
    assert_eq!(fake.with(|r| (r.allocates.last().unwrap().0, r.started.len())), (0, 1), "nothing more asked");
    am.finish("FAILED", &message).await.unwrap();
    assert_eq!(fake.with(|r| r.finished.clone()), Some(("FAILED".into(), message)));
}

#[tokio::test]
async fn a_refused_start_is_reported_released_and_replaced() {
    let fake = Fake::serve(|r| {
        r.refuse_start.insert(cid(2).to_string());
    })
    .await;
    let (am, mut events) = YarnAm::start(fake.config(), spec(1, 3)).await.unwrap();
    let Some(AmEvent::Exited { executor_id, container, exit_status, diagnostics, external }) = next(&mut events).await
    else {
        panic!("the refused start is reported first");
    };
    assert_eq!((executor_id.as_str(), container, exit_status, external), ("1", cid(2), -1000, false));
    assert_eq!(diagnostics, "no such user");
    assert_eq!(next(&mut events).await, launched("2", 3));
    assert!(fake.with(|r| r.allocates.iter().any(|(_, releases)| releases == &[cid(2).to_string()])));
    am.finish("SUCCEEDED", "").await.unwrap();
}

#[tokio::test]
async fn a_refused_registration_is_named() {
    let fake = Fake::serve(|r| r.refuse_register = true).await;
    let err = YarnAm::start(fake.config(), spec(1, 3)).await.err().expect("registration fails");
    assert_eq!(err, "register appattempt_1700000000000_0007_000001: the attempt is FINISHED: it cannot register");
}

#[tokio::test]
async fn the_events_end_when_the_scheduler_refuses_the_attempt() {
    let fake = Fake::serve(|_| {}).await;
    let (am, mut events) = YarnAm::start(fake.config(), spec(1, 3)).await.unwrap();
    assert_eq!(next(&mut events).await, launched("1", 2));
    fake.with(|r| r.refuse_allocate = true);
    assert_eq!(next(&mut events).await, None);
    assert_eq!(fake.with(|r| r.stopped.clone()), [cid(2).to_string()], "executors are stopped");
    am.finish("FAILED", "lost the scheduler").await.unwrap();
}

#[test]
fn the_attempt_comes_from_either_mode() {
    let read = |vars: &[(&str, &str)]| {
        let vars: BTreeMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        AmConfig::from_env(|name| vars.get(name).cloned(), "h".into(), 7, String::new())
    };
    let cluster = read(&[
        ("CONTAINER_ID", "container_1700000000000_0007_02_000001"),
        (launch_env::RM_SCHEDULER_ADDRESS, "rm:8030"),
        ("USER", "alice"),
        ("WEFT_AMRM_TOKEN", "0a02"),
    ])
    .unwrap();
    assert_eq!(cluster.attempt_id.to_string(), "appattempt_1700000000000_0007_000002");
    assert_eq!((cluster.scheduler_address.as_str(), cluster.user.as_str()), ("rm:8030", "alice"));
    let client = read(&[
        (launch_env::AM_ATTEMPT_ID, "appattempt_1700000000000_0007_000001"),
        (launch_env::RM_SCHEDULER_ADDRESS, "rm:8030"),
        ("WEFT_AMRM_TOKEN", "0a02"),
    ])
    .unwrap();
    assert_eq!((client.attempt_id, client.rpc_port, client.host.as_str()), (attempt(), 7, "h"));
    let err = read(&[(launch_env::RM_SCHEDULER_ADDRESS, "rm:8030")]).unwrap_err();
    assert!(err.starts_with("neither WEFT_AM_ATTEMPT_ID nor CONTAINER_ID is set"), "{err}");
    let err = read(&[(launch_env::AM_ATTEMPT_ID, "appattempt_x")]).unwrap_err();
    assert!(err.starts_with("WEFT_AM_ATTEMPT_ID: invalid application attempt id \"appattempt_x\""), "{err}");
    let err = read(&[("CONTAINER_ID", "container_1700000000000_0007_02_000001")]).unwrap_err();
    assert_eq!(err, "WEFT_RM_SCHEDULER_ADDRESS is not set");
    let err = read(&[
        (launch_env::AM_ATTEMPT_ID, "appattempt_1700000000000_0007_000001"),
        (launch_env::RM_SCHEDULER_ADDRESS, "rm:8030"),
    ])
    .unwrap_err();
    assert!(err.starts_with("WEFT_AMRM_TOKEN is not set"), "{err}");
}

#[test]
fn a_finished_attempt_points_at_its_history_server_page() {
    let attempt = weft_proto::ApplicationId::new(1_700_000_000_000, 7).attempt(2);
    assert_eq!(history_url("shs:18080", attempt), "http://shs:18080/history/application_1700000000000_0007/2");
    assert_eq!(
        history_url("https://shs.example.com/", attempt),
        "https://shs.example.com/history/application_1700000000000_0007/2"
    );
}

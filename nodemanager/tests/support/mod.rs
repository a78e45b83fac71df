//! A small ResourceManager for tests (ResourceTracker + Staging on one 127.0.0.1:0 port, recording
//! every call and answering as the test scripts it) and a real NodeManager started in-process.

#![allow(dead_code, unreachable_pub)]

use std::collections::{HashMap, VecDeque};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::Stream;
use sha2::{Digest, Sha256};
use tokio::task::JoinHandle;
use tokio_stream::wrappers::TcpListenerStream;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;
use tonic::{Request, Response, Status, Streaming};
use weft_hadoop_ipc::container_token::{self, Grant};
use weft_hadoop_ipc::token::MasterKey;
use weft_nodemanager::daemon::{self, BoundAddresses, Listeners};
use weft_proto::pb;
use weft_proto::pb::container_management_client::ContainerManagementClient;
use weft_proto::pb::resource_tracker_server::{ResourceTracker, ResourceTrackerServer};
use weft_proto::pb::staging_server::{Staging, StagingServer};

pub const DEADLINE: Duration = Duration::from_secs(20);

/// One heartbeat the test ResourceManager received, and whether it answered it.
#[derive(Debug, Clone)]
pub struct Beat {
    pub request: pb::NodeHeartbeatRequest,
    pub answered: bool,
}

/// What the test ResourceManager saw, and what it will answer.
#[derive(Debug, Default)]
pub struct RmState {
    pub registrations: Vec<pb::RegisterNodeRequest>,
    pub beats: Vec<Beat>,
    /// While true, heartbeats are refused with UNAVAILABLE.
    pub refuse_heartbeats: bool,
    /// Answers for the next heartbeats, in order; then plain NORMAL answers.
    pub scripted: VecDeque<pb::NodeHeartbeatResponse>,
    pub interval_ms: i64,
    /// Blobs by the sha256 the NodeManager asks for (the content need not match it).
    pub blobs: HashMap<String, Vec<u8>>,
    pub downloads: HashMap<String, usize>,
    /// The application that alone may read a blob (sha256 → application id); others may read any
    /// application.
    pub owners: HashMap<String, String>,
    /// The container of every Stat and Download, by the container token it carried, in order.
    pub staging_callers: Vec<String>,
    /// Node ids that unregistered, in order.
    pub unregistered: Vec<String>,
    response_id: i64,
}

#[derive(Clone)]
struct Service(Arc<Mutex<RmState>>);

#[tonic::async_trait]
impl ResourceTracker for Service {
    async fn register_node_manager(
        &self,
        request: Request<pb::RegisterNodeRequest>,
    ) -> Result<Response<pb::RegisterNodeResponse>, Status> {
        let request = request.into_inner();
        let mut state = self.0.lock().unwrap();
        let node_id = format!("{}:{}", request.host, request.rpc_port);
        state.registrations.push(request);
        Ok(Response::new(pb::RegisterNodeResponse {
            node_id,
            heartbeat_interval_ms: state.interval_ms,
            cluster_timestamp: 1_700_000_000_000,
            diagnostics: String::new(),
            container_token_master_key: Some(pb::MasterKey { key_id: RM_KEY_ID, secret: RM_KEY_SECRET.to_vec() }),
            nm_token_master_key: Some(pb::MasterKey { key_id: RM_NM_KEY_ID, secret: RM_NM_KEY_SECRET.to_vec() }),
        }))
    }

    async fn node_heartbeat(
        &self,
        request: Request<pb::NodeHeartbeatRequest>,
    ) -> Result<Response<pb::NodeHeartbeatResponse>, Status> {
        let mut state = self.0.lock().unwrap();
        let answered = !state.refuse_heartbeats;
        state.beats.push(Beat { request: request.into_inner(), answered });
        if !answered {
            return Err(Status::unavailable("refusing heartbeats for the test"));
        }
        state.response_id += 1;
        let mut answer = state.scripted.pop_front().unwrap_or_default();
        answer.response_id = state.response_id;
        answer.next_heartbeat_interval_ms = state.interval_ms;
        Ok(Response::new(answer))
    }

    async fn unregister_node_manager(
        &self,
        request: Request<pb::UnregisterNodeRequest>,
    ) -> Result<Response<pb::UnregisterNodeResponse>, Status> {
        self.0.lock().unwrap().unregistered.push(request.into_inner().node_id);
        Ok(Response::new(pb::UnregisterNodeResponse {}))
    }
}

type DownloadStream = Pin<Box<dyn Stream<Item = Result<pb::DownloadChunk, Status>> + Send>>;

#[tonic::async_trait]
impl Staging for Service {
    async fn upload(&self, _: Request<Streaming<pb::UploadChunk>>) -> Result<Response<pb::UploadResponse>, Status> {
        Err(Status::unimplemented("the test ResourceManager only serves downloads"))
    }

    async fn stat(&self, request: Request<pb::StatBlobRequest>) -> Result<Response<pb::StatBlobResponse>, Status> {
        let container = staging_caller(&request)?;
        let sha256 = request.into_inner().sha256;
        let mut state = self.0.lock().unwrap();
        state.staging_callers.push(container.to_string());
        let size = state.blobs.get(&sha256).map(|b| b.len() as u64).filter(|_| state.may_read(container, &sha256));
        Ok(Response::new(pb::StatBlobResponse { exists: size.is_some(), size: size.unwrap_or(0) }))
    }

    type DownloadStream = DownloadStream;

    async fn download(&self, request: Request<pb::DownloadRequest>) -> Result<Response<DownloadStream>, Status> {
        let container = staging_caller(&request)?;
        let sha256 = request.into_inner().sha256;
        let mut state = self.0.lock().unwrap();
        state.staging_callers.push(container.to_string());
        if !state.may_read(container, &sha256) {
            return Err(Status::permission_denied(format!(
                "{} holds no staged file {sha256}",
                container.application()
            )));
        }
        *state.downloads.entry(sha256.clone()).or_default() += 1;
        let blob = state.blobs.get(&sha256).cloned().ok_or_else(|| Status::not_found(format!("no blob {sha256}")))?;
        // Three-byte chunks, so a download really is a stream of several messages.
        let chunks: Vec<Result<pb::DownloadChunk, Status>> =
            blob.chunks(3).map(|c| Ok(pb::DownloadChunk { data: c.to_vec() })).collect();
        Ok(Response::new(Box::pin(tokio_stream::iter(chunks))))
    }
}

impl RmState {
    fn may_read(&self, container: weft_proto::ContainerId, sha256: &str) -> bool {
        self.owners.get(sha256).is_none_or(|owner| *owner == container.application().to_string())
    }
}

/// The container whose token (signed with the test ResourceManager's key) a staging call carries.
fn staging_caller<T>(request: &Request<T>) -> Result<weft_proto::ContainerId, Status> {
    let token = request
        .metadata()
        .get_bin(weft_proto::CONTAINER_TOKEN_METADATA)
        .and_then(|v| v.to_bytes().ok())
        .ok_or_else(|| Status::unauthenticated("no container token"))?;
    let token: weft_hadoop_ipc::common::TokenProto =
        prost::Message::decode(token.as_ref()).map_err(|e| Status::unauthenticated(e.to_string()))?;
    let identifier: weft_hadoop_ipc::yarn::ContainerTokenIdentifierProto =
        MasterKey::new(RM_KEY_ID, RM_KEY_SECRET.to_vec())
            .verify_token(&token, weft_hadoop_ipc::token::TokenKind::Container)
            .map_err(|e| Status::unauthenticated(e.to_string()))?;
    identifier
        .container_id
        .as_ref()
        .and_then(weft_hadoop_ipc::ids::container_id)
        .ok_or_else(|| Status::unauthenticated("the container token names no container"))
}

/// The test ResourceManager, serving until dropped.
pub struct TestRm {
    pub address: String,
    pub state: Arc<Mutex<RmState>>,
    stop: CancellationToken,
}

impl Drop for TestRm {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

impl TestRm {
    pub async fn start(interval_ms: i64) -> TestRm {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let state = Arc::new(Mutex::new(RmState { interval_ms, ..Default::default() }));
        let service = Service(state.clone());
        let stop = CancellationToken::new();
        let server = tonic::transport::Server::builder()
            .add_service(ResourceTrackerServer::new(service.clone()))
            .add_service(StagingServer::new(service))
            .serve_with_incoming_shutdown(TcpListenerStream::new(listener), stop.clone().cancelled_owned());
        tokio::spawn(server);
        TestRm { address, state, stop }
    }

    /// Stores `data` under its own sha256 and returns that.
    pub fn stage(&self, data: &[u8]) -> String {
        let sha = sha256_hex(data);
        self.state.lock().unwrap().blobs.insert(sha.clone(), data.to_vec());
        sha
    }

    pub fn script(&self, answer: pb::NodeHeartbeatResponse) {
        self.state.lock().unwrap().scripted.push_back(answer);
    }

    /// Polls the state every 10 ms until `condition` holds, or panics after `DEADLINE`.
    pub async fn wait_for<T>(&self, what: &str, mut condition: impl FnMut(&RmState) -> Option<T>) -> T {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            if let Some(value) = condition(&self.state.lock().unwrap()) {
                return value;
            }
            assert!(tokio::time::Instant::now() < deadline, "timed out after {DEADLINE:?} waiting for {what}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// The first heartbeat status of `id` in `state`, answered or not.
    pub async fn completed_status(&self, id: &str) -> pb::ContainerStatus {
        self.wait_for(&format!("{id} reported COMPLETE"), |s| {
            s.beats.iter().flat_map(|b| &b.request.containers).find(|c| c.container_id == id && is_complete(c)).cloned()
        })
        .await
    }
}

pub fn is_complete(status: &pb::ContainerStatus) -> bool {
    status.state == pb::ContainerState::Complete as i32
}

/// A real NodeManager in this process, with its own temp directories.
pub struct TestNm {
    pub dir: tempfile::TempDir,
    pub addresses: BoundAddresses,
    pub shutdown: CancellationToken,
    pub task: JoinHandle<anyhow::Result<()>>,
    pub client: ContainerManagementClient<Channel>,
    pub http: reqwest::Client,
    /// Its own cgroup hierarchy, removed when it stops.
    pub hierarchy: String,
}

static NEXT_HIERARCHY: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// A cgroup hierarchy name of this test process's own.
pub fn test_hierarchy() -> String {
    let n = NEXT_HIERARCHY.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("weft-test-{}-it{n}", std::process::id())
}

/// Every mounted cgroup file system (from `/proc/self/mountinfo`).
pub fn cgroup_mounts() -> Vec<std::path::PathBuf> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    info.lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let fs_type = right.split(' ').next()?;
            (fs_type == "cgroup" || fs_type == "cgroup2")
                .then(|| left.split(' ').nth(4).map(std::path::PathBuf::from))?
        })
        .collect()
}

fn remove_tree(dir: &std::path::Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for child in entries.flatten().map(|e| e.path()).filter(|p| p.is_dir()) {
            remove_tree(&child);
        }
    }
    let _ = std::fs::remove_dir(dir);
}

/// Removes `hierarchy` from every controller; returns what could not be removed.
pub fn remove_hierarchy(hierarchy: &str) -> Vec<std::path::PathBuf> {
    let dirs: Vec<_> = cgroup_mounts().into_iter().map(|m| m.join(hierarchy)).collect();
    for dir in &dirs {
        remove_tree(dir);
    }
    dirs.into_iter().filter(|d| d.exists()).collect()
}

impl TestNm {
    pub async fn start(rm: &TestRm) -> TestNm {
        TestNm::start_with(rm, "").await
    }

    /// Starts one with `extra` YAML lines after the test's own. Containers run as the test's own
    /// user (they run programs of the checkout, which other users may not reach) unless `extra`
    /// names a container executor.
    pub async fn start_with(rm: &TestRm, extra: &str) -> TestNm {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let hierarchy = test_hierarchy();
        let executor = if extra.contains("yarn.nodemanager.container-executor.class") {
            ""
        } else {
            "yarn.nodemanager.container-executor.class: DefaultContainerExecutor\n"
        };
        let yaml = format!(
            "yarn.resourcemanager.address: {rm}\n\
             yarn.resourcemanager.resource-tracker.address: {rm}\n\
             yarn.nodemanager.address: 127.0.0.1:0\n\
             yarn.nodemanager.webapp.address: 127.0.0.1:0\n\
             yarn.nodemanager.resource.memory-mb: 4096\n\
             yarn.nodemanager.resource.cpu-vcores: 4\n\
             yarn.nodemanager.sleep-delay-before-sigkill.ms: 100\n\
             yarn.nodemanager.local-dirs: {local}\n\
             yarn.nodemanager.log-dirs: {logs}\n\
             yarn.nodemanager.linux-container-executor.cgroups.hierarchy: {hierarchy}\n{executor}{extra}",
            rm = rm.address,
            local = dir.path().join("local").display(),
            logs = dir.path().join("logs").display(),
        );
        let settings = weft_config::Settings::parse(&yaml, "test.yaml").unwrap();
        let config = weft_config::NmConfig::from_settings(&settings).unwrap();
        let total = daemon::detect_resources(&config).unwrap();
        let listeners = Listeners::bind(&config).await.unwrap();
        let addresses = listeners.addresses.clone();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(daemon::run(config, total, listeners, shutdown.clone()));
        let client = ContainerManagementClient::connect(format!("http://{}", addresses.rpc)).await.unwrap();
        TestNm { dir, addresses, shutdown, task, client, http: reqwest::Client::new(), hierarchy }
    }

    /// Starts containers, each with a container token the test ResourceManager signed for this
    /// node (unless the request carries one already); returns the response.
    pub async fn start_containers(
        &mut self,
        mut requests: Vec<pb::StartContainerRequest>,
    ) -> pb::StartContainersResponse {
        for request in &mut requests {
            // A request whose id does not parse stays unsigned: it is refused for its id.
            if request.container_token.is_empty() && request.container_id.parse::<weft_proto::ContainerId>().is_ok() {
                request.container_token = sign(&request.container_id, &self.addresses.rpc);
            }
        }
        // The key arrives with the registration answer; a start sent before it waits for it.
        self.start_containers_as_sent(requests).await
    }

    /// StopContainers as the AM of the first container's application, with its NM token.
    pub async fn stop_containers(&mut self, ids: &[String]) -> pb::StopContainersResponse {
        let token = nm_token(&ids[0], &self.addresses.rpc);
        let request = with_nm_token(pb::StopContainersRequest { container_ids: ids.to_vec() }, &token);
        self.client.stop_containers(request).await.unwrap().into_inner()
    }

    /// GetContainerStatuses as the AM of the first container's application, with its NM token.
    pub async fn container_statuses(&mut self, ids: &[String]) -> pb::GetContainerStatusesResponse {
        let token = nm_token(&ids[0], &self.addresses.rpc);
        let request = with_nm_token(pb::GetContainerStatusesRequest { container_ids: ids.to_vec() }, &token);
        self.client.get_container_statuses(request).await.unwrap().into_inner()
    }

    /// Starts containers exactly as given (tokens included, or not).
    pub async fn start_containers_as_sent(
        &mut self,
        requests: Vec<pb::StartContainerRequest>,
    ) -> pb::StartContainersResponse {
        self.client.start_containers(pb::StartContainersRequest { requests }).await.unwrap().into_inner()
    }

    pub async fn get(&self, path: &str) -> (u16, String) {
        let response = self.http.get(format!("http://{}{path}", self.addresses.http)).send().await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    pub async fn get_json(&self, path: &str) -> (u16, serde_json::Value) {
        let (status, body) = self.get(path).await;
        (status, serde_json::from_str(&body).unwrap_or(serde_json::Value::Null))
    }

    /// Cancels the daemon, waits for it to return, and removes its cgroup hierarchy (failing if
    /// anything of it is left).
    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        let result = tokio::time::timeout(DEADLINE, self.task).await.expect("the NodeManager stops in time").unwrap();
        let left = remove_hierarchy(&self.hierarchy);
        assert!(left.is_empty(), "cgroups left behind: {left:?}");
        result
    }
}

/// A helper program from `nodemanager/examples/`, built by `cargo test` next to the test binaries.
pub fn example(name: &str) -> String {
    let exe = std::env::current_exe().expect("the test binary's path");
    let path = exe.parent().and_then(|deps| deps.parent()).expect("target/<profile>/deps").join("examples").join(name);
    assert!(
        path.is_file(),
        "helper program {name} is missing at {}: `cargo test -p weft-nodemanager` builds nodemanager/examples/ first",
        path.display()
    );
    path.display().to_string()
}

/// The test ResourceManager's container-token key.
pub const RM_KEY_ID: i32 = 41;
pub const RM_KEY_SECRET: &[u8] = b"the test ResourceManager's container-token secret";

/// The test ResourceManager's NM-token key.
pub const RM_NM_KEY_ID: i32 = 42;
pub const RM_NM_KEY_SECRET: &[u8] = b"the test ResourceManager's NM-token secret";

/// The NM token (an encoded `TokenProto`) of the attempt of `container` for the NodeManager at
/// `node`, signed with `key`.
pub fn nm_token_with(key: &MasterKey, container: &str, node: &str) -> Vec<u8> {
    let id: weft_proto::ContainerId = container.parse().expect("a container id");
    let (host, port) = node.rsplit_once(':').expect("host:port");
    let node = weft_hadoop_ipc::yarn::NodeIdProto { host: Some(host.into()), port: Some(port.parse().unwrap()) };
    let token = key.nm_token(weft_hadoop_ipc::ids::attempt_id_proto(id.attempt), node, "alice");
    prost::Message::encode_to_vec(&token)
}

/// The NM token the test ResourceManager would hand the AM of `container`'s attempt.
pub fn nm_token(container: &str, node: &str) -> Vec<u8> {
    nm_token_with(&MasterKey::new(RM_NM_KEY_ID, RM_NM_KEY_SECRET.to_vec()), container, node)
}

/// A request carrying `nm_token` as Weft's gRPC calls do.
pub fn with_nm_token<T>(message: T, nm_token: &[u8]) -> Request<T> {
    let mut request = Request::new(message);
    request
        .metadata_mut()
        .insert_bin(weft_proto::NM_TOKEN_METADATA, tonic::metadata::BinaryMetadataValue::from_bytes(nm_token));
    request
}

/// A container token for `container` on the NodeManager at `node`, signed with `key`.
pub fn sign_with(key: &MasterKey, container: &str, node: &str) -> Vec<u8> {
    sign_for(key, container, node, "alice")
}

/// A container token of `user`'s application, signed by the test ResourceManager.
pub fn sign_as(container: &str, node: &str, user: &str) -> Vec<u8> {
    sign_for(&MasterKey::new(RM_KEY_ID, RM_KEY_SECRET.to_vec()), container, node, user)
}

fn sign_for(key: &MasterKey, container: &str, node: &str, user: &str) -> Vec<u8> {
    let grant = Grant {
        container: container.parse().expect("a container id"),
        node,
        user,
        memory_mb: 1024,
        vcores: 1,
        priority: 1,
        is_am: false,
        created_ms: now_ms(),
        expiry_ms: now_ms() + 600_000,
        rm_identifier: 1_700_000_000_000,
    };
    container_token::sign(key, &grant)
}

/// A container token the test ResourceManager signed.
pub fn sign(container: &str, node: &str) -> Vec<u8> {
    sign_with(&MasterKey::new(RM_KEY_ID, RM_KEY_SECRET.to_vec()), container, node)
}

#[allow(clippy::disallowed_methods)] // the test ResourceManager's clock: tokens expire by the wall clock
fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_millis() as u64
}

pub fn container_id(app: u32, n: u64) -> String {
    format!("container_1700000000000_{app:04}_01_{n:06}")
}

pub fn request(id: &str, command: &[&str]) -> pb::StartContainerRequest {
    pb::StartContainerRequest {
        container_id: id.to_owned(),
        launch: Some(pb::ContainerLaunchContext {
            command: command.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }),
        resource: Some(pb::Resource { memory_mb: 1024, vcores: 1 }),
        user: "alice".into(),
        ..Default::default()
    }
}

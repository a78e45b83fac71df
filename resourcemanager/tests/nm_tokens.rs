//! Issue 17 over gRPC, against a ResourceManager in this process: an allocate reply brings the
//! attempt's NM token for a node with its first grant there only, each token names the attempt and
//! its node, and after a restart with recovery the attempt, registered again, is sent each node's
//! token once more.

use prost::Message;
use tokio_util::sync::CancellationToken;
use weft_hadoop_ipc::common::TokenProto;
use weft_hadoop_ipc::token::{decode_identifier, TokenKind};
use weft_hadoop_ipc::yarn::NmTokenIdentifierProto;
use weft_proto::pb;
use weft_proto::pb::application_client_client::ApplicationClientClient;
use weft_proto::pb::application_master_client::ApplicationMasterClient;
use weft_proto::pb::resource_tracker_client::ResourceTrackerClient;
use weft_resourcemanager::daemon::{BoundAddresses, Listeners};

/// A ResourceManager with recovery, its state store in `dir`, serving until `shutdown` is cancelled.
struct Running {
    addresses: BoundAddresses,
    shutdown: CancellationToken,
    server: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Running {
    async fn start(dir: &std::path::Path) -> Running {
        let yaml = format!(
            "yarn.resourcemanager.address: 127.0.0.1:0\nyarn.resourcemanager.scheduler.address: 127.0.0.1:0\n\
             yarn.resourcemanager.resource-tracker.address: 127.0.0.1:0\nyarn.resourcemanager.webapp.address: 127.0.0.1:0\n\
             yarn.resourcemanager.recovery.enabled: true\nhadoop.tmp.dir: {}\n",
            dir.display()
        );
        let settings = weft_config::Settings::parse(&yaml, "test").unwrap();
        let config = weft_config::RmConfig::from_settings(&settings).unwrap();
        let listeners = Listeners::bind(&config).await.unwrap();
        let addresses = listeners.addresses.clone();
        let shutdown = CancellationToken::new();
        let server = tokio::spawn(weft_resourcemanager::daemon::run(config, listeners, shutdown.clone()));
        Running { addresses, shutdown, server }
    }

    async fn stop(self) {
        self.shutdown.cancel();
        self.server.await.unwrap().unwrap();
    }

    /// Registers a NodeManager `host:8041` of `vcores` one-GiB containers.
    async fn register_node(&self, host: &str, vcores: i32) {
        let mut tracker = ResourceTrackerClient::connect(format!("http://{}", self.addresses.tracker)).await.unwrap();
        let total = Some(pb::Resource { memory_mb: 1024 * i64::from(vcores), vcores });
        let request = pb::RegisterNodeRequest {
            host: host.into(),
            rpc_port: 8041,
            http_port: 8042,
            total,
            version: "test".into(),
            containers: vec![],
        };
        tracker.register_node_manager(request).await.unwrap();
    }

    async fn am(&self, amrm_token: &[u8]) -> Am {
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", self.addresses.scheduler))
            .unwrap()
            .connect()
            .await
            .unwrap();
        Am { channel, amrm_token: amrm_token.to_vec() }
    }
}

/// An unmanaged application master's calls, each with the attempt's AMRM token.
struct Am {
    channel: tonic::transport::Channel,
    amrm_token: Vec<u8>,
}

impl Am {
    fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        let token = tonic::metadata::BinaryMetadataValue::from_bytes(&self.amrm_token);
        request.metadata_mut().insert_bin(weft_proto::AMRM_TOKEN_METADATA, token);
        request
    }

    async fn register(&self, attempt: &str) -> Result<(), tonic::Status> {
        let message = pb::RegisterApplicationMasterRequest {
            attempt_id: attempt.into(),
            host: "am".into(),
            rpc_port: -1,
            tracking_url: String::new(),
        };
        ApplicationMasterClient::new(self.channel.clone()).register_application_master(self.request(message)).await?;
        Ok(())
    }

    /// Asks for `n` more one-GiB containers; the nodes of the grants, and the nodes and tokens sent.
    async fn allocate(&self, attempt: &str, n: i32) -> Result<(Vec<String>, Vec<(String, Vec<u8>)>), tonic::Status> {
        let message = pb::AllocateRequest {
            attempt_id: attempt.into(),
            response_id: 0,
            asks: vec![pb::ResourceRequest {
                priority: 1,
                capability: Some(pb::Resource { memory_mb: 1024, vcores: 1 }),
                num_containers: n,
            }],
            releases: vec![],
            progress: 0.0,
        };
        let reply = ApplicationMasterClient::new(self.channel.clone()).allocate(self.request(message)).await?;
        let reply = reply.into_inner();
        let nodes = reply.allocated.into_iter().map(|c| c.node_id).collect();
        Ok((nodes, reply.nm_tokens.into_iter().map(|t| (t.node_id, t.token)).collect()))
    }
}

/// Submits an unmanaged application; its attempt id and AMRM token.
async fn submit(rm: &Running) -> (String, Vec<u8>) {
    let mut client = ApplicationClientClient::connect(format!("http://{}", rm.addresses.client)).await.unwrap();
    let id = client.get_new_application(pb::GetNewApplicationRequest {}).await.unwrap().into_inner().application_id;
    let context = pb::ApplicationSubmissionContext {
        application_id: id.clone(),
        name: "nm tokens".into(),
        unmanaged_am: true,
        am_resource: Some(pb::Resource { memory_mb: 1024, vcores: 1 }),
        ..Default::default()
    };
    client.submit_application(pb::SubmitApplicationRequest { context: Some(context) }).await.unwrap();
    let report = pb::GetApplicationReportRequest { application_id: id.clone() };
    let report = client.get_application_report(report).await.unwrap().into_inner().report.unwrap();
    (format!("{}_000001", id.replacen("application_", "appattempt_", 1)), report.am_rm_token)
}

/// The attempt and node an NM token names.
fn named(token: &[u8]) -> (String, String) {
    let token = TokenProto::decode(token).unwrap();
    let identifier: NmTokenIdentifierProto = decode_identifier(&token, TokenKind::Nm).unwrap();
    let attempt = weft_hadoop_ipc::ids::attempt_id(identifier.app_attempt_id.as_ref().unwrap()).unwrap();
    (attempt.to_string(), weft_hadoop_ipc::token::node_address(identifier.node_id.as_ref().unwrap()))
}

const A: &str = "node-a:8041";
const B: &str = "node-b:8041";

/// The nodes tokens were sent for.
fn nodes_of(tokens: &[(String, Vec<u8>)]) -> Vec<&str> {
    tokens.iter().map(|(node, _)| node.as_str()).collect()
}

#[tokio::test]
async fn an_nm_token_comes_with_the_first_grant_on_its_node_and_again_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let rm = Running::start(dir.path()).await;
    rm.register_node("node-a", 3).await;
    let (attempt, amrm_token) = submit(&rm).await;
    let am = rm.am(&amrm_token).await;
    am.register(&attempt).await.unwrap();

    let (nodes, tokens) = am.allocate(&attempt, 2).await.unwrap();
    assert_eq!((nodes, nodes_of(&tokens)), (vec![A.to_string(), A.to_string()], vec![A]));
    assert_eq!(named(&tokens[0].1), (attempt.clone(), A.to_string()), "the token names the attempt and the node");
    // A third container on the same node: no token.
    let (nodes, tokens) = am.allocate(&attempt, 1).await.unwrap();
    assert_eq!((nodes, tokens), (vec![A.to_string()], vec![]));
    // Node a is full; the next grant is on a new node and brings its token.
    rm.register_node("node-b", 3).await;
    let (nodes, tokens) = am.allocate(&attempt, 1).await.unwrap();
    assert_eq!((nodes, nodes_of(&tokens)), (vec![B.to_string()], vec![B]));
    assert_eq!(named(&tokens[0].1), (attempt.clone(), B.to_string()));
    let (_, tokens) = am.allocate(&attempt, 1).await.unwrap();
    assert_eq!(tokens, []);

    // A restart: the attempt must register again, and then each node's token comes once more.
    rm.stop().await;
    let rm = Running::start(dir.path()).await;
    rm.register_node("node-a", 3).await;
    rm.register_node("node-b", 3).await;
    let am = rm.am(&amrm_token).await;
    let refused = am.allocate(&attempt, 1).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition, "{refused:?}");
    am.register(&attempt).await.unwrap();
    let mut sent = Vec::new();
    for _ in 0..4 {
        let (nodes, tokens) = am.allocate(&attempt, 1).await.unwrap();
        let [node] = nodes.as_slice() else { panic!("one grant per call: {nodes:?}") };
        let fresh = !sent.contains(node);
        assert_eq!(tokens.len(), usize::from(fresh), "{node}: {tokens:?} after {sent:?}");
        for (token_node, token) in tokens {
            assert_eq!(named(&token), (attempt.clone(), token_node.clone()));
            sent.push(token_node);
        }
    }
    sent.sort();
    assert_eq!(sent, [A, B], "both nodes' tokens were sent again");
    rm.stop().await;
}

//! Scheduling throughput: container allocations per second with 10,000 simulated NodeManagers.
//!
//! Two measurements, both on one core of this machine:
//! - `core`: drives the ResourceManager core directly (allocate calls of many AMs, heartbeats that
//!   complete containers so the cluster keeps cycling);
//! - `grpc`: a real ResourceManager in this process on 127.0.0.1 (client and server share one thread),
//!   10,000 NodeManagers registering over gRPC, and 100 AMs (unmanaged, so no process is started)
//!   allocating over gRPC: one container per call from 100 concurrent AMs, then large batches.
//!
//! Run: `cargo bench -p weft-tests --bench scheduler`

use std::time::Instant;

use weft_proto::{ApplicationAttemptId, NodeId, Resource};
use weft_resourcemanager::core::{
    AskRequest, CoreConfig, LaunchSpec, ReportedContainer, RmCore, Submission, Utilization,
};

const NODES: u16 = 10_000;
const NODE_MEMORY_MB: i64 = 128 * 1024;
const NODE_VCORES: i32 = 128;
const APPS: u32 = 100;

fn submission(id: weft_proto::ApplicationId) -> Submission {
    Submission {
        id,
        name: "bench".into(),
        queue: String::new(),
        application_type: String::new(),
        user: "bench".into(),
        am_resource: Resource::new(1024, 1),
        am_launch: LaunchSpec::default(),
        max_app_attempts: 1,
        unmanaged_am: true,
        tags: vec![],
        acls: Default::default(),
    }
}

fn node(i: u16) -> NodeId {
    NodeId::new(format!("node{i:04}.example.com"), 8041)
}

fn bench_core() {
    let mut core = RmCore::new(CoreConfig::with_defaults(1_700_000_000_000));
    let now = 1_700_000_000_000;
    for i in 0..NODES {
        core.register_node(
            node(i),
            format!("node{i:04}:8042"),
            "bench".into(),
            Resource::new(NODE_MEMORY_MB, NODE_VCORES),
            vec![],
            now,
        );
    }
    let mut attempts: Vec<ApplicationAttemptId> = Vec::new();
    for _ in 0..APPS {
        let id = core.new_application();
        core.submit(submission(id), now).unwrap();
        let attempt = id.attempt(1);
        core.register_am(attempt, "am".into(), 0, String::new(), now).unwrap();
        attempts.push(attempt);
    }
    // Fill the cluster: 1,280,000 one-GiB containers asked by 100 AMs.
    let per_app = (NODES as i64 * NODE_VCORES as i64) / APPS as i64;
    let ask = |n| [AskRequest { priority: 1, capability: Resource::new(1024, 1), num_containers: n }];
    let start = Instant::now();
    let mut granted = Vec::new();
    for attempt in &attempts {
        let reply = core.allocate(*attempt, &ask(per_app), &[], 0.0, now).unwrap();
        granted.extend(reply.allocated.into_iter().map(|c| (c.id, c.node)));
    }
    let fill = start.elapsed();
    println!(
        "core  fill:  {} allocations on {} nodes in {:.3} s = {:.0} allocations/s",
        granted.len(),
        NODES,
        fill.as_secs_f64(),
        granted.len() as f64 / fill.as_secs_f64()
    );
    // Churn: every node reports its containers complete in a heartbeat; AMs ask again and get the room.
    // The reports are the NodeManagers' work, made before the clock starts.
    let mut by_node: std::collections::BTreeMap<NodeId, Vec<ReportedContainer>> = Default::default();
    for (id, node) in granted.drain(..) {
        by_node.entry(node).or_default().push(ReportedContainer::complete(id, 0, ""));
    }
    let start = Instant::now();
    for (node, reports) in by_node {
        core.node_heartbeat(&node, reports, Utilization::default(), String::new(), now + 1);
    }
    let mut again = 0;
    for attempt in &attempts {
        again += core.allocate(*attempt, &ask(per_app), &[], 0.0, now + 1).unwrap().allocated.len();
    }
    let churn = start.elapsed();
    println!(
        "core  churn: {} completions + {} allocations in {:.3} s = {:.0} allocations/s including completions",
        NODES as i64 * NODE_VCORES as i64,
        again,
        churn.as_secs_f64(),
        again as f64 / churn.as_secs_f64()
    );
}

fn main() {
    println!(
        "cluster: {NODES} simulated NodeManagers of {} GiB and {NODE_VCORES} vcores, {APPS} application masters",
        NODE_MEMORY_MB / 1024
    );
    bench_core();
    bench_grpc::run();
}

mod bench_grpc {
    //! The same load over gRPC against a real ResourceManager on 127.0.0.1.

    use std::time::Instant;

    use tokio_util::sync::CancellationToken;
    use weft_proto::pb;
    use weft_proto::pb::application_client_client::ApplicationClientClient;
    use weft_proto::pb::application_master_client::ApplicationMasterClient;
    use weft_proto::pb::resource_tracker_client::ResourceTrackerClient;

    use super::{APPS, NODES, NODE_MEMORY_MB, NODE_VCORES};

    /// Sends an attempt's AMRM token with every ApplicationMaster call.
    #[derive(Clone)]
    struct AmrmToken(tonic::metadata::BinaryMetadataValue);

    impl tonic::service::Interceptor for AmrmToken {
        fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
            request.metadata_mut().insert_bin(weft_proto::AMRM_TOKEN_METADATA, self.0.clone());
            Ok(request)
        }
    }

    type AmClient =
        ApplicationMasterClient<tonic::service::interceptor::InterceptedService<tonic::transport::Channel, AmrmToken>>;

    /// A scheduler client whose calls carry the attempt's AMRM token.
    /// Replies to the batched fill carry 12,700 containers each (about 5 MB), above tonic's default
    /// 4 MiB decoding limit.
    fn am_client(channel: tonic::transport::Channel, token: &[u8]) -> AmClient {
        ApplicationMasterClient::with_interceptor(
            channel,
            AmrmToken(tonic::metadata::BinaryMetadataValue::from_bytes(token)),
        )
        .max_decoding_message_size(64 << 20)
    }

    pub(super) fn run() {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(measure());
    }

    async fn measure() {
        let dir = tempfile::tempdir().unwrap();
        let yaml = format!(
            "yarn.resourcemanager.address: 127.0.0.1:0\nyarn.resourcemanager.scheduler.address: 127.0.0.1:0\n\
             yarn.resourcemanager.resource-tracker.address: 127.0.0.1:0\nyarn.resourcemanager.webapp.address: 127.0.0.1:0\n\
             hadoop.tmp.dir: {}\n",
            dir.path().display()
        );
        let settings = weft_config::Settings::parse(&yaml, "bench").unwrap();
        let config = weft_config::RmConfig::from_settings(&settings).unwrap();
        let listeners = weft_resourcemanager::daemon::Listeners::bind(&config).await.unwrap();
        let addresses = listeners.addresses.clone();
        let shutdown = CancellationToken::new();
        let server = tokio::spawn(weft_resourcemanager::daemon::run(config, listeners, shutdown.clone()));

        let mut tracker = ResourceTrackerClient::connect(format!("http://{}", addresses.tracker)).await.unwrap();
        for i in 0..NODES {
            tracker
                .register_node_manager(pb::RegisterNodeRequest {
                    host: format!("node{i:04}.example.com"),
                    rpc_port: 8041,
                    http_port: 8042,
                    total: Some(pb::Resource { memory_mb: NODE_MEMORY_MB, vcores: NODE_VCORES }),
                    version: "bench".into(),
                    containers: vec![],
                })
                .await
                .unwrap();
        }
        let mut client = ApplicationClientClient::connect(format!("http://{}", addresses.client)).await.unwrap();
        // The channel Weft's own AMs open (`weft_yarn_client::rm::connect`), with its HTTP/2 settings.
        let channel = weft_yarn_client::rm::connect(weft_yarn_client::rm::SCHEDULER, &addresses.scheduler.to_string())
            .await
            .unwrap();
        let mut attempts = Vec::new();
        for _ in 0..APPS {
            let id =
                client.get_new_application(pb::GetNewApplicationRequest {}).await.unwrap().into_inner().application_id;
            let context = pb::ApplicationSubmissionContext {
                application_id: id.clone(),
                name: "bench".into(),
                unmanaged_am: true,
                am_resource: Some(pb::Resource { memory_mb: 1024, vcores: 1 }),
                ..Default::default()
            };
            client.submit_application(pb::SubmitApplicationRequest { context: Some(context) }).await.unwrap();
            let attempt = format!("{}_000001", id.replacen("application_", "appattempt_", 1));
            // An unmanaged AM's token comes with the application report, as YARN hands it out.
            let report = client
                .get_application_report(pb::GetApplicationReportRequest { application_id: id.clone() })
                .await
                .unwrap()
                .into_inner()
                .report
                .unwrap();
            let mut am = am_client(channel.clone(), &report.am_rm_token);
            am.register_application_master(pb::RegisterApplicationMasterRequest {
                attempt_id: attempt.clone(),
                host: "am".into(),
                rpc_port: 0,
                tracking_url: String::new(),
            })
            .await
            .unwrap();
            attempts.push((attempt, am));
        }
        // One container per allocate call: 100 AMs at once, each making 100 calls in a row, so the
        // ResourceManager sees 10,000 small requests with up to 100 in flight.
        let start = Instant::now();
        let calls = attempts.iter().map(|(attempt, am)| {
            let mut am = am.clone();
            let attempt = attempt.clone();
            async move {
                let mut granted = 0usize;
                for _ in 0..100 {
                    let response = am
                        .allocate(pb::AllocateRequest {
                            attempt_id: attempt.clone(),
                            response_id: 0,
                            asks: vec![pb::ResourceRequest {
                                priority: 2,
                                capability: Some(pb::Resource { memory_mb: 1024, vcores: 1 }),
                                num_containers: 1,
                            }],
                            releases: vec![],
                            progress: 0.0,
                        })
                        .await
                        .unwrap()
                        .into_inner();
                    granted += response.allocated.len();
                }
                granted
            }
        });
        let small: usize = futures::future::join_all(calls).await.into_iter().sum();
        let elapsed = start.elapsed();
        println!(
            "grpc  one-per-call: {small} allocations in 10,000 allocate calls from 100 concurrent AMs, {:.3} s = {:.0} allocations/s",
            elapsed.as_secs_f64(),
            small as f64 / elapsed.as_secs_f64()
        );
        let per_app = (NODES as i32 * NODE_VCORES) / APPS as i32 - 100;
        let start = Instant::now();
        let mut granted = 0usize;
        let mut calls = 0usize;
        for (attempt, am) in &mut attempts {
            let response = am
                .allocate(pb::AllocateRequest {
                    attempt_id: attempt.clone(),
                    response_id: 0,
                    asks: vec![pb::ResourceRequest {
                        priority: 1,
                        capability: Some(pb::Resource { memory_mb: 1024, vcores: 1 }),
                        num_containers: per_app,
                    }],
                    releases: vec![],
                    progress: 0.0,
                })
                .await
                .unwrap()
                .into_inner();
            granted += response.allocated.len();
            calls += 1;
        }
        let elapsed = start.elapsed();
        println!(
            "grpc  fill:  {granted} allocations on {NODES} nodes in {calls} allocate calls, {:.3} s = {:.0} allocations/s",
            elapsed.as_secs_f64(),
            granted as f64 / elapsed.as_secs_f64()
        );
        shutdown.cancel();
        let _ = server.await;
    }
}

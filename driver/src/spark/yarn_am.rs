//! The Spark application master's conversation with the ResourceManager and NodeManagers, for the
//! driver in both deploy modes (inside the AM container in cluster mode, as an unmanaged AM in client
//! mode): register with the scheduler, keep `spark.executor.instances` executors running through an
//! allocate loop in its own task, start each granted container through its NodeManager with the
//! driver's launch context, stop the executors the driver gives up on, and unregister at the end.
//! The decisions are `executor_book::ExecutorBook`'s; this file carries them out, logs each event once
//! and hands it to the driver.
//!
//! Allocate cadence: every 100 ms while executors are asked for or starting, so start-up and
//! replacements are quick (Spark starts at 200 ms and backs off to its 3 s heartbeat); every 1 s when
//! every executor runs, so a lost executor is noticed within about a second.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tonic::transport::Channel;
use weft_proto::pb::application_master_client::ApplicationMasterClient;
use weft_proto::pb::container_management_client::ContainerManagementClient;
use weft_proto::{pb, ApplicationAttemptId, ContainerId, Resource};

pub(crate) use super::executor_book::AmEvent;
use super::executor_book::{ExecutorBook, ToStop};
use super::launch_env;
use crate::client::{call_error, connect, NODE_MANAGER, SCHEDULER};
use crate::error::CliError;
use crate::shell::am::{grant, retriable, MAX_RETRIES, RETRY_DELAY};
use crate::shell::book::Ask;
use crate::shell::launch::start_containers;

/// Allocate interval while executors are asked for or starting.
const PENDING_INTERVAL: Duration = Duration::from_millis(100);
/// Allocate interval while every executor runs.
const STEADY_INTERVAL: Duration = Duration::from_secs(1);
/// The progress Spark's application master reports on every allocate call.
const PROGRESS: f32 = 0.1;
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the application master registers, and what it tells the ResourceManager about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(dead_code)]
pub(crate) struct AmConfig {
    /// The ResourceManager's scheduler service, `host:port`.
    pub(crate) scheduler_address: String,
    pub(crate) attempt_id: ApplicationAttemptId,
    /// The driver's host and RPC port, shown as the application's AM host.
    pub(crate) host: String,
    pub(crate) rpc_port: i32,
    pub(crate) tracking_url: String,
    /// Executors run as this user.
    pub(crate) user: String,
}

impl AmConfig {
    /// Reads the attempt, scheduler address and user from the environment through `lookup`: client
    /// mode's `WEFT_AM_ATTEMPT_ID` when set, else the AM container's `CONTAINER_ID` (cluster mode).
    #[allow(dead_code)]
    pub(crate) fn from_env(
        lookup: impl Fn(&str) -> Option<String>,
        host: String,
        rpc_port: i32,
        tracking_url: String,
    ) -> Result<AmConfig, String> {
        let lookup = |name: &str| lookup(name).filter(|v| !v.is_empty());
        let attempt_id = match (lookup(launch_env::AM_ATTEMPT_ID), lookup("CONTAINER_ID")) {
            (Some(attempt), _) => attempt.parse().map_err(|e| format!("{}: {e}", launch_env::AM_ATTEMPT_ID))?,
            (None, Some(container)) => {
                container.parse::<ContainerId>().map_err(|e| format!("CONTAINER_ID: {e}"))?.attempt
            }
            (None, None) => {
                return Err(format!(
                    "neither {} nor CONTAINER_ID is set: the driver cannot tell which attempt it is",
                    launch_env::AM_ATTEMPT_ID
                ))
            }
        };
        let scheduler_address = lookup(launch_env::RM_SCHEDULER_ADDRESS)
            .ok_or_else(|| format!("{} is not set", launch_env::RM_SCHEDULER_ADDRESS))?;
        let user = lookup("USER").unwrap_or_default();
        Ok(AmConfig { scheduler_address, attempt_id, host, rpc_port, tracking_url, user })
    }
}

/// Builds the launch context of one executor from its id and container.
pub(crate) type LaunchFn = dyn Fn(&str, &ContainerId) -> pb::ContainerLaunchContext + Send + Sync;

/// The executors the application wants.
#[derive(Clone)]
#[allow(dead_code)]
pub(crate) struct ExecutorSpec {
    /// `spark.executor.instances`: the target.
    pub(crate) instances: usize,
    /// Executor memory + overhead MiB, executor cores.
    pub(crate) resource: Resource,
    /// `spark.executor.maxNumFailures`.
    pub(crate) max_failures: usize,
    /// Builds the launch context of one executor from its id ("1", "2", … in grant order, never reused)
    /// and container.
    pub(crate) launch: Arc<LaunchFn>,
}

/// What the driver asks of the allocate loop.
enum Command {
    Kill(String),
    Stop,
}

/// The running application master: its allocate loop runs in a spawned task until `finish`. Dropped
/// without `finish`, the loop stops and releases the executors but the attempt stays registered.
pub(crate) struct YarnAm {
    commands: mpsc::UnboundedSender<Command>,
    task: tokio::task::JoinHandle<(Session, Result<(), String>)>,
}

#[allow(dead_code)]
impl YarnAm {
    /// Registers with the scheduler (retrying while it is unavailable), then runs the allocate loop in
    /// a spawned task. The events end (`recv` gives `None`) when the loop stops: after `finish`, or
    /// when the ResourceManager refused or stayed unreachable (logged as an error).
    pub(crate) async fn start(
        config: AmConfig,
        spec: ExecutorSpec,
    ) -> Result<(YarnAm, mpsc::UnboundedReceiver<AmEvent>), String> {
        let session = Session::register(&config).await.map_err(|e| e.to_string())?;
        tracing::info!(
            attempt = %config.attempt_id,
            "Will request {} executor container(s), each with {} core(s) and {} MB memory.",
            spec.instances,
            spec.resource.vcores,
            spec.resource.memory_mb
        );
        let (events_tx, events) = mpsc::unbounded_channel();
        let (commands, commands_rx) = mpsc::unbounded_channel();
        let allocator = Allocator {
            session,
            book: ExecutorBook::new(spec.instances, spec.resource, spec.max_failures),
            launch: spec.launch,
            user: config.user,
            events: events_tx,
            commands: commands_rx,
        };
        let task = tokio::spawn(allocator.run());
        Ok((YarnAm { commands, task }, events))
    }

    /// Asks the allocate loop to stop and release one executor's container (StopContainers to its
    /// NodeManager, and a release to the ResourceManager). A replacement is asked for; the kill is not
    /// an executor failure and no `Exited` event follows. Unknown or ended executors are ignored.
    pub(crate) fn kill_executor(&self, executor_id: &str) {
        let _ = self.commands.send(Command::Kill(executor_id.to_owned()));
    }

    /// Stops and releases every executor container, stops the loop, and unregisters with
    /// `final_status` (`SUCCEEDED`, `FAILED` or `KILLED`) and `diagnostics`.
    pub(crate) async fn finish(self, final_status: &str, diagnostics: &str) -> Result<(), String> {
        let _ = self.commands.send(Command::Stop);
        let (mut session, _) = self.task.await.map_err(|e| format!("the allocate loop ended abnormally: {e}"))?;
        tracing::info!(attempt = %session.attempt_id, final_status, diagnostics, "unregistering");
        session.finish(final_status, diagnostics).await.map_err(|e| e.to_string())
    }
}

/// The attempt's conversation with the scheduler.
struct Session {
    rm: ApplicationMasterClient<Channel>,
    address: String,
    attempt_id: String,
    response_id: i64,
}

/// Runs `call` until it succeeds, fails for good, or has found the service unavailable `MAX_RETRIES` times.
async fn with_retries<T, F, Fut>(what: &str, mut call: F) -> Result<T, tonic::Status>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, tonic::Status>>,
{
    let mut retries = 0;
    loop {
        match call().await {
            Err(status) if retriable(&status) && retries < MAX_RETRIES => {
                retries += 1;
                tracing::warn!(error = %status.message(), retries, "{what} failed; retrying");
                tokio::time::sleep(RETRY_DELAY).await;
            }
            result => return result,
        }
    }
}

impl Session {
    /// Connects and registers, retrying while the scheduler is unreachable or unavailable.
    async fn register(config: &AmConfig) -> Result<Session, CliError> {
        let address = config.scheduler_address.clone();
        let request = pb::RegisterApplicationMasterRequest {
            attempt_id: config.attempt_id.to_string(),
            host: config.host.clone(),
            rpc_port: config.rpc_port,
            tracking_url: config.tracking_url.clone(),
        };
        let connected = with_retries("connect", || async {
            connect(SCHEDULER, &address).await.map_err(|e| tonic::Status::unavailable(e.to_string()))
        })
        .await;
        let channel = connected.map_err(|status| CliError::failed(status.message()))?;
        let rm = ApplicationMasterClient::new(channel);
        let reply = with_retries("register", || {
            let (mut rm, request) = (rm.clone(), request.clone());
            async move { rm.register_application_master(request).await }
        })
        .await
        .map_err(|s| call_error(SCHEDULER, &address, format!("register {}", config.attempt_id), s))?
        .into_inner();
        let maximum = reply.maximum_capability.map(Resource::from).unwrap_or_default();
        tracing::info!(attempt = %config.attempt_id, queue = %reply.queue, maximum = %maximum.yarn_notation(), "registered");
        Ok(Session { rm, address, attempt_id: config.attempt_id.to_string(), response_id: 0 })
    }

    /// One allocate call carrying the ask and the releases.
    async fn allocate(&mut self, ask: Ask, releases: Vec<ContainerId>) -> Result<pb::AllocateResponse, CliError> {
        let request = pb::AllocateRequest {
            attempt_id: self.attempt_id.clone(),
            response_id: self.response_id,
            asks: vec![pb::ResourceRequest {
                priority: ask.priority,
                capability: Some(ask.capability.into()),
                num_containers: i32::try_from(ask.num_containers).unwrap_or(i32::MAX),
            }],
            releases: releases.iter().map(ContainerId::to_string).collect(),
            progress: PROGRESS,
        };
        let rm = &self.rm;
        let reply = with_retries("allocate", || {
            let (mut rm, request) = (rm.clone(), request.clone());
            async move { rm.allocate(request).await }
        })
        .await
        .map_err(|s| call_error(SCHEDULER, &self.address, "allocate", s))?
        .into_inner();
        self.response_id = reply.response_id;
        Ok(reply)
    }

    async fn finish(&mut self, final_status: &str, diagnostics: &str) -> Result<(), CliError> {
        let request = pb::FinishApplicationMasterRequest {
            attempt_id: self.attempt_id.clone(),
            final_status: final_status.to_owned(),
            diagnostics: diagnostics.to_owned(),
            tracking_url: String::new(),
        };
        let rm = &self.rm;
        with_retries("unregister", || {
            let (mut rm, request) = (rm.clone(), request.clone());
            async move { rm.finish_application_master(request).await }
        })
        .await
        .map_err(|s| call_error(SCHEDULER, &self.address, "unregister", s))?;
        Ok(())
    }
}

/// The allocate loop's state, owned by its task.
struct Allocator {
    session: Session,
    book: ExecutorBook,
    launch: Arc<LaunchFn>,
    user: String,
    events: mpsc::UnboundedSender<AmEvent>,
    commands: mpsc::UnboundedReceiver<Command>,
}

impl Allocator {
    async fn run(mut self) -> (Session, Result<(), String>) {
        let result = self.allocate_until_stopped().await;
        if let Err(message) = &result {
            tracing::error!(attempt = %self.session.attempt_id, error = %message, "the allocate loop stopped");
        }
        self.stop_executors().await;
        let releases = self.book.take_releases();
        if result.is_ok() && !releases.is_empty() {
            // Give the containers back; their completions are no longer read.
            if let Err(e) = self.session.allocate(self.book.ask(), releases).await {
                tracing::warn!(error = %e, "could not release the executor containers; the ResourceManager ends them with the application");
            }
        }
        (self.session, result)
    }

    async fn allocate_until_stopped(&mut self) -> Result<(), String> {
        // The first ask was announced at start; later increases are replacements, announced as
        // soon as the completion that causes them is known.
        let mut asked = self.book.ask().num_containers;
        loop {
            let releases = self.book.take_releases();
            let reply = self.session.allocate(self.book.ask(), releases).await.map_err(|e| e.to_string())?;
            self.record_completions(reply.completed);
            let ask = self.book.ask();
            if ask.num_containers > asked {
                tracing::info!(
                    "Will request {} executor container(s), each with {} core(s) and {} MB memory.",
                    ask.num_containers - asked,
                    ask.capability.vcores,
                    ask.capability.memory_mb
                );
            }
            self.start_granted(reply.allocated).await;
            asked = self.book.ask().num_containers;
            let interval = if self.book.is_pending() { PENDING_INTERVAL } else { STEADY_INTERVAL };
            if !self.wait(interval).await {
                return Ok(());
            }
        }
    }

    /// Waits `interval`, or less when the driver kills an executor; false when asked to stop.
    async fn wait(&mut self, interval: Duration) -> bool {
        tokio::select! {
            _ = tokio::time::sleep(interval) => true,
            command = self.commands.recv() => match command {
                Some(Command::Kill(executor_id)) => {
                    self.kill(&executor_id).await;
                    true
                }
                Some(Command::Stop) | None => false,
            },
        }
    }

    /// Logs an event once and hands it to the driver (which may have stopped listening).
    fn emit(&self, event: AmEvent) {
        match &event {
            AmEvent::Launched { executor_id, container, host } => {
                tracing::info!(executor_id, %container, host, "executor launched");
            }
            AmEvent::Exited { executor_id, container, exit_status, diagnostics, external } => {
                tracing::warn!(executor_id, %container, exit_status, external, diagnostics, "executor exited");
            }
            AmEvent::TooManyFailures { message } => {
                tracing::warn!(failures = self.book.failures(), "{message}");
            }
        }
        let _ = self.events.send(event);
    }

    fn record_completions(&mut self, completed: Vec<pb::ContainerStatus>) {
        for status in completed {
            let Ok(id) = status.container_id.parse::<ContainerId>() else {
                tracing::warn!(container = %status.container_id, "completion for a container with a bad id; ignoring it");
                continue;
            };
            let events = self.book.completed(id, status.exit_status, &status.diagnostics);
            if events.is_empty() {
                tracing::debug!(container = %id, exit_status = status.exit_status, "completion of a released container");
            }
            events.into_iter().for_each(|event| self.emit(event));
        }
    }

    /// Takes the grants the book needs, starts an executor in each, and reports how the starts went.
    async fn start_granted(&mut self, allocated: Vec<pb::Container>) {
        let taken = self.book.granted(allocated.into_iter().filter_map(grant).collect());
        for id in &taken.surplus {
            tracing::info!(container = %id, "releasing a surplus container");
        }
        let starts = taken
            .to_start
            .into_iter()
            .map(|(executor_id, g)| {
                tracing::info!(executor_id, container = %g.id, node = %g.node_id, "starting an executor");
                let context = (self.launch)(&executor_id, &g.id);
                (g, context)
            })
            .collect();
        for (id, result) in start_containers(&self.user, starts).await {
            match result {
                Ok(()) => self.book.started(id).into_iter().for_each(|event| self.emit(event)),
                Err(message) => self.book.start_failed(id, message).into_iter().for_each(|event| self.emit(event)),
            }
        }
    }

    async fn kill(&mut self, executor_id: &str) {
        let Some(stop) = self.book.kill(executor_id) else {
            tracing::debug!(executor_id, "asked to kill an executor that is not running");
            return;
        };
        tracing::info!(executor_id, container = %stop.container, "killing the executor at the driver's request");
        stop_containers(vec![stop]).await;
    }

    async fn stop_executors(&mut self) {
        let stops = self.book.stop();
        if !stops.is_empty() {
            tracing::info!(executors = stops.len(), "stopping every executor container");
        }
        stop_containers(stops).await;
    }
}

/// StopContainers on each node, the nodes in parallel. A container the NodeManager no longer has is
/// fine; an unreachable NodeManager is logged, as the ResourceManager ends the container anyway.
async fn stop_containers(stops: Vec<ToStop>) {
    let mut by_node: BTreeMap<String, Vec<ContainerId>> = BTreeMap::new();
    for stop in stops {
        by_node.entry(stop.node_address).or_default().push(stop.container);
    }
    futures::future::join_all(by_node.into_iter().map(|(address, ids)| stop_on(address, ids))).await;
}

async fn stop_on(address: String, ids: Vec<ContainerId>) {
    let request = pb::StopContainersRequest { container_ids: ids.iter().map(ContainerId::to_string).collect() };
    let call = async {
        let channel = connect(NODE_MANAGER, &address).await.map_err(|e| e.to_string())?;
        let reply = ContainerManagementClient::new(channel).stop_containers(request).await;
        reply
            .map(tonic::Response::into_inner)
            .map_err(|s| format!("the NodeManager at {address} refused: {}", s.message()))
    };
    match tokio::time::timeout(STOP_TIMEOUT, call).await {
        Ok(Ok(reply)) => {
            for failure in reply.failed {
                tracing::debug!(container = %failure.container_id, error = %failure.message, "not stopped");
            }
        }
        Ok(Err(message)) => tracing::warn!(node = %address, error = %message, "could not stop executor containers"),
        Err(_) => tracing::warn!(node = %address, "the NodeManager did not answer StopContainers in {STOP_TIMEOUT:?}"),
    }
}

#[cfg(test)]
mod tests {
    //! The adapter against one in-process gRPC server on 127.0.0.1:0 that plays both the scheduler
    //! (grants exactly what is asked, reports queued completions, completes released containers with
    //! -100) and the NodeManager (starts or refuses, records stops).

    use std::collections::BTreeSet;
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
        refuse_start: BTreeSet<String>,
        started: Vec<pb::StartContainerRequest>,
        stopped: Vec<String>,
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

        async fn allocate(
            &self,
            request: Request<pb::AllocateRequest>,
        ) -> Result<Response<pb::AllocateResponse>, Status> {
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
                });
            }
            let completed = std::mem::take(&mut r.completions);
            Ok(Response::new(pb::AllocateResponse {
                response_id: request.response_id + 1,
                allocated,
                completed,
                available: None,
                num_cluster_nodes: 1,
            }))
        }

        async fn finish_application_master(
            &self,
            request: Request<pb::FinishApplicationMasterRequest>,
        ) -> Result<Response<pb::FinishApplicationMasterResponse>, Status> {
            let request = request.into_inner();
            self.0.lock().unwrap().finished = Some((request.final_status, request.diagnostics));
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
            let ids = request.into_inner().container_ids;
            self.0.lock().unwrap().stopped.extend(ids.iter().cloned());
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
                user: "alice".into(),
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
                local_resources: Vec::new(),
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
        let (c4, c5) = (cid(4).to_string(), cid(5).to_string());
        assert_eq!(fake.with(|r| r.stopped.clone()), [c2, c4.clone(), c5.clone()]);
        assert_eq!(fake.with(|r| r.allocates.last().cloned()), Some((0, vec![c4, c5])));
        assert_eq!(next(&mut events).await, None, "no event for released containers; the loop has ended");
    }

    #[tokio::test]
    async fn too_many_failures_stop_replacement() {
        let fake = Fake::serve(|_| {}).await;
        let (am, mut events) = YarnAm::start(fake.config(), spec(1, 1)).await.unwrap();
        assert_eq!(next(&mut events).await, launched("1", 2));
        let diagnostics = "Container [pid=9,containerID=c] is running 1B beyond the 'PHYSICAL' memory limit.";
        fake.with(|r| {
            r.completions.push(completion(&cid(2).to_string(), exit_status::KILLED_EXCEEDED_PMEM, diagnostics))
        });
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
        let Some(AmEvent::Exited { executor_id, container, exit_status, diagnostics, external }) =
            next(&mut events).await
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
        ])
        .unwrap();
        assert_eq!(cluster.attempt_id.to_string(), "appattempt_1700000000000_0007_000002");
        assert_eq!((cluster.scheduler_address.as_str(), cluster.user.as_str()), ("rm:8030", "alice"));
        let client = read(&[
            (launch_env::AM_ATTEMPT_ID, "appattempt_1700000000000_0007_000001"),
            (launch_env::RM_SCHEDULER_ADDRESS, "rm:8030"),
        ])
        .unwrap();
        assert_eq!((client.attempt_id, client.rpc_port, client.host.as_str()), (attempt(), 7, "h"));
        let err = read(&[(launch_env::RM_SCHEDULER_ADDRESS, "rm:8030")]).unwrap_err();
        assert!(err.starts_with("neither WEFT_AM_ATTEMPT_ID nor CONTAINER_ID is set"), "{err}");
        let err = read(&[(launch_env::AM_ATTEMPT_ID, "appattempt_x")]).unwrap_err();
        assert!(err.starts_with("WEFT_AM_ATTEMPT_ID: invalid application attempt id \"appattempt_x\""), "{err}");
        let err = read(&[("CONTAINER_ID", "container_1700000000000_0007_02_000001")]).unwrap_err();
        assert_eq!(err, "WEFT_RM_SCHEDULER_ADDRESS is not set");
    }
}

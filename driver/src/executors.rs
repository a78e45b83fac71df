//! Where the executors come from. `local[N]`: one executor process (this same binary in executor
//! mode) with N task threads, a child of the driver. `yarn` / `weft://host:port`: executor containers
//! asked of the ResourceManager by the application master (`yarn_am`), each running the staged
//! application binary in executor mode. Both register with the driver's endpoint, bound here.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;
use tonic::service::interceptor::InterceptedService;
use weft_executor::auth::{Require, Secret};
use weft_proto::pb;
use weft_proto::spark_pb::driver_endpoint_server::DriverEndpointServer;
use weft_proto::{ContainerId, Resource};

use super::backend::{DriverService, Event, Shared};
use super::conf::{SparkConf, SparkSettings, StagedFile};
use super::error::SparkError;
use super::launch_env as env;
use super::loss;
use super::yarn_am::{history_url, AmConfig, AmEvent, ExecutorSpec, YarnAm};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Local,
    Yarn,
}

/// How many executors, of how many cores, from where.
#[derive(Debug, Clone)]
pub(crate) struct ExecPlan {
    pub(crate) kind: Kind,
    pub(crate) instances: usize,
    pub(crate) cores: usize,
}

fn config(e: String) -> SparkError {
    SparkError::Config(e)
}

pub(crate) fn plan(conf: &SparkConf, spark: &SparkSettings) -> Result<ExecPlan, SparkError> {
    let available = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    if let Some(threads) = conf.local_master_threads(available).map_err(config)? {
        return Ok(ExecPlan { kind: Kind::Local, instances: 1, cores: threads.max(1) });
    }
    let master = conf.master();
    if master == "yarn" || master.starts_with("weft://") {
        return Ok(ExecPlan {
            kind: Kind::Yarn,
            instances: spark.executor.instances as usize,
            cores: spark.executor.cores as usize,
        });
    }
    Err(SparkError::Config(format!(
        "spark.master {master:?} is not supported: use local, local[N], local[*], yarn or weft://HOST:PORT"
    )))
}

/// The running executors' source, to be finished when the application ends.
pub(crate) struct Launched {
    pub(crate) application_id: String,
    source: Source,
}

enum Source {
    Local { child: tokio::process::Child, scratch: tempfile::TempDir },
    Yarn(YarnAm),
}

impl Launched {
    pub(crate) async fn finish(self, succeeded: bool, diagnostics: &str) {
        match self.source {
            Source::Local { mut child, scratch } => {
                if tokio::time::timeout(Duration::from_secs(5), child.wait()).await.is_err() {
                    let _ = child.kill().await;
                }
                drop(scratch);
            }
            Source::Yarn(am) => {
                let status = if succeeded { "SUCCEEDED" } else { "FAILED" };
                if let Err(e) = am.finish(status, diagnostics).await {
                    tracing::error!("cannot unregister the application master: {e}");
                }
            }
        }
    }
}

fn lookup(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// `spark.authenticate`: the application's secret, `None` when it is off. `weft submit` makes it and
/// sets it in the driver's environment; a program run by hand (no `weft submit`) makes its own.
pub(crate) fn secret(spark: &SparkSettings) -> Result<Option<Secret>, SparkError> {
    if !spark.authenticate {
        return Ok(None);
    }
    match lookup(env::SECRET) {
        Some(hex) => Secret::from_hex(&hex).map(Some).map_err(|e| SparkError::Config(format!("{}: {e}", env::SECRET))),
        None => Secret::generate().map(Some).map_err(SparkError::Internal),
    }
}

/// Binds the driver endpoint, serves it (every call must carry `secret` when there is one), and
/// starts the executors, each with `secret` in its launch environment.
/// Where the executors' news goes: the scheduler loop's channel and the state it shares.
pub(crate) struct Channels {
    pub(crate) tx: UnboundedSender<Event>,
    pub(crate) shared: Arc<Shared>,
}

pub(crate) async fn start(
    conf: &SparkConf,
    spark: &SparkSettings,
    plan: &ExecPlan,
    Channels { tx, shared }: Channels,
    application_id: &str,
    secret: Option<Secret>,
    ui_url: Option<&str>,
) -> Result<Launched, SparkError> {
    let host = driver_host(conf, plan.kind);
    let port = spark.driver.port;
    let listener = tokio::net::TcpListener::bind((host.as_str(), port))
        .await
        .map_err(|e| SparkError::Config(format!("cannot bind the driver endpoint on {host}:{port}: {e}")))?;
    let bound = listener.local_addr().map_err(|e| SparkError::Internal(e.to_string()))?;
    let driver_url = format!("{host}:{}", bound.port());
    let application_id = application_id.to_owned();
    let service = driver_endpoint(
        DriverService { tx: tx.clone(), shared, application_id: application_id.clone() },
        secret.clone(),
    );
    // TCP_NODELAY: tonic sets it only on listeners it binds itself; without it a streamed reply's
    // later frames wait for the executor's delayed ACK.
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    tokio::spawn(async move {
        let served = tonic::transport::Server::builder().add_service(service).serve_with_incoming(incoming).await;
        if let Err(e) = served {
            tracing::error!("the driver endpoint stopped: {e}");
        }
    });
    tracing::info!("Driver endpoint listening on {driver_url}");
    let source = match plan.kind {
        Kind::Local => start_local(conf, plan, &driver_url, secret.as_ref(), tx)?,
        Kind::Yarn => start_yarn(conf, spark, plan, (&host, bound.port()), secret, tx, ui_url).await?,
    };
    Ok(Launched { application_id, source })
}

/// The driver endpoint as served: every call is checked for the application's secret before the
/// service sees it.
fn driver_endpoint(
    service: DriverService,
    secret: Option<Secret>,
) -> InterceptedService<DriverEndpointServer<DriverService>, Require> {
    DriverEndpointServer::with_interceptor(service, Require::new(secret, "the driver endpoint"))
}

/// The host the driver's endpoint and web port listen on: `spark.driver.host`, else on a cluster the
/// node's (`NM_HOST`, cluster mode) or this machine's name (client mode, Spark's
/// `Utils.localHostName`: executors on other hosts must reach it), else loopback.
pub(crate) fn driver_host(conf: &SparkConf, kind: Kind) -> String {
    conf.driver_host()
        .map(str::to_owned)
        .or_else(|| if kind == Kind::Yarn { lookup("NM_HOST").or_else(machine_name) } else { None })
        .unwrap_or_else(|| "127.0.0.1".to_owned())
}

/// This machine's host name, when it has one.
fn machine_name() -> Option<String> {
    hostname::get().ok().and_then(|name| name.into_string().ok()).filter(|name| !name.is_empty())
}

/// Spark's application attempt id: the AM container's attempt number in cluster mode; none in client
/// and local mode (the driver is not in an attempt's container).
pub(crate) fn attempt_id(kind: Kind) -> Option<String> {
    if kind == Kind::Local || lookup(env::AM_ATTEMPT_ID).is_some() {
        return None;
    }
    let container: ContainerId = lookup("CONTAINER_ID")?.parse().ok()?;
    Some(container.attempt.attempt.to_string())
}

/// Spark's application id: `local-<ms>` in local mode, the YARN application's id on a cluster.
pub(crate) fn application_id(kind: Kind) -> Result<String, SparkError> {
    if kind == Kind::Local {
        let ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
        return Ok(format!("local-{ms}"));
    }
    if let Some(app) = lookup(env::APPLICATION_ID) {
        return Ok(app);
    }
    let container = lookup("CONTAINER_ID").ok_or_else(|| {
        SparkError::Config(format!(
            "neither {} nor CONTAINER_ID is set: submit the application with `weft submit`",
            env::APPLICATION_ID
        ))
    })?;
    let id: ContainerId = container.parse().map_err(|e| SparkError::Config(format!("CONTAINER_ID: {e}")))?;
    Ok(id.attempt.application.to_string())
}

fn executor_env(
    conf: &SparkConf,
    driver_url: &str,
    id: &str,
    cores: usize,
    secret: Option<&Secret>,
) -> Vec<(String, String)> {
    let mut vars = vec![
        (env::ROLE.into(), env::ROLE_EXECUTOR.into()),
        (env::CONF.into(), conf.to_json()),
        (env::DRIVER_URL.into(), driver_url.into()),
        (env::EXECUTOR_ID.into(), id.into()),
        (env::EXECUTOR_CORES.into(), cores.to_string()),
    ];
    vars.extend(env::ALLOCATOR.map(|(name, value)| (name.into(), value.into())));
    if let Some(secret) = secret {
        vars.push((env::SECRET.into(), secret.to_hex()));
    }
    vars
}

fn start_local(
    conf: &SparkConf,
    plan: &ExecPlan,
    driver_url: &str,
    secret: Option<&Secret>,
    tx: UnboundedSender<Event>,
) -> Result<Source, SparkError> {
    let exe = std::env::current_exe().map_err(|e| SparkError::Internal(format!("cannot find this executable: {e}")))?;
    let scratch = tempfile::Builder::new()
        .prefix("weft-local-")
        .tempdir()
        .map_err(|e| SparkError::Io(format!("cannot create a scratch directory: {e}")))?;
    let id = "driver";
    let mut command = tokio::process::Command::new(&exe);
    command
        .envs(executor_env(conf, driver_url, id, plan.cores, secret))
        .env("WEFT_EXECUTOR_LOCAL_DIR", scratch.path())
        .env("WEFT_EXECUTOR_HOST", "127.0.0.1")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let child = command
        .spawn()
        .map_err(|e| SparkError::Internal(format!("cannot start the executor {}: {e}", exe.display())))?;
    let pid = child.id();
    // Watch the child: if it dies, the driver learns within 200 ms.
    let watcher_tx = tx;
    tokio::spawn(async move {
        let Some(pid) = pid else { return };
        loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if !std::path::Path::new(&format!("/proc/{pid}")).exists() || is_zombie(pid) {
                // Local mode has exactly one executor and nothing to replace it with: its loss ends
                // the application, with a message that says so.
                let _ = watcher_tx.send(Event::Fatal(format!(
                    "The local executor (process {pid}) exited; local mode runs one executor process and does \
                     not replace it. Run on a cluster (--master yarn) for executors that are replaced."
                )));
                return;
            }
        }
    });
    Ok(Source::Local { child, scratch })
}

fn is_zombie(pid: u32) -> bool {
    procfs::process::Process::new(pid as i32).and_then(|p| p.stat()).map(|s| s.state == 'Z').unwrap_or(true)
}

/// Executors in YARN containers, told to register with the driver endpoint at `host:port`.
async fn start_yarn(
    conf: &SparkConf,
    spark: &SparkSettings,
    plan: &ExecPlan,
    (host, port): (&str, u16),
    secret: Option<Secret>,
    tx: UnboundedSender<Event>,
    ui_url: Option<&str>,
) -> Result<Source, SparkError> {
    let binary = lookup(env::APP_BINARY).ok_or_else(|| {
        SparkError::Config(format!("{} is not set: submit the application with `weft submit`", env::APP_BINARY))
    })?;
    let binary = StagedFile::from_json(&binary).map_err(SparkError::Config)?;
    let mut resources: Vec<pb::LocalResource> = vec![binary.clone().into()];
    for file in spark.staged_files.iter().cloned() {
        if file.name != binary.name {
            resources.push(file.into());
        }
    }
    let mut am_config =
        AmConfig::from_env(lookup, host.to_owned(), i32::from(port), ui_url.unwrap_or_default().to_owned())
            .map_err(SparkError::Config)?;
    if let Some(address) = &spark.ui.history_server_address {
        am_config.final_tracking_url = history_url(address, am_config.attempt_id);
    }
    let memory = spark.executor.container_mb;
    let cores = plan.cores;
    let conf_for_launch = conf.clone();
    let url = format!("{host}:{port}");
    let command = vec![format!("./{}", binary.name)];
    // As on the submission: the NodeManagers running executors decide who reads their logs by them.
    let (view_acls, modify_acls) = conf.yarn_app_acls(&am_config.user);
    let launch = Arc::new(move |id: &str, _: &ContainerId| pb::ContainerLaunchContext {
        command: command.clone(),
        environment: executor_env(&conf_for_launch, &url, id, cores, secret.as_ref())
            .into_iter()
            .map(|(key, value)| pb::KeyValue { key, value })
            .collect(),
        local_resources: resources.clone(),
        view_acls: view_acls.clone(),
        modify_acls: modify_acls.clone(),
    });
    let spec = ExecutorSpec {
        instances: plan.instances,
        resource: Resource::new(memory, cores as i32),
        max_failures: spark.executor.max_num_failures as usize,
        launch,
    };
    let (am, mut events) = YarnAm::start(am_config, spec).await.map_err(SparkError::ResourceManager)?;
    tokio::spawn(async move {
        let mut hosts: HashMap<String, String> = HashMap::new();
        while let Some(event) = events.recv().await {
            match event {
                AmEvent::Launched { executor_id, container, host } => {
                    tracing::info!("Launching executor {executor_id} in {container} on {host}");
                    hosts.insert(executor_id, host);
                }
                AmEvent::Exited { executor_id, container, exit_status, diagnostics, .. } => {
                    let host = hosts.remove(&executor_id).unwrap_or_default();
                    tracing::info!(
                        "Completed container {container} on host: {host} (state: COMPLETE, exit status: {exit_status})"
                    );
                    let loss = loss::container_completed(&container, &host, exit_status, &diagnostics);
                    if loss.caused_by_app {
                        tracing::warn!("{}", loss.message);
                    } else {
                        tracing::info!("{}", loss.message);
                    }
                    let _ = tx.send(Event::ExecutorGone { id: executor_id, loss });
                }
                AmEvent::TooManyFailures { message } => {
                    let _ = tx.send(Event::Fatal(message));
                }
            }
        }
    });
    Ok(Source::Yarn(am))
}

#[cfg(test)]
mod tests {
    use weft_executor::auth::Present;
    use weft_proto::spark_pb::driver_endpoint_client::DriverEndpointClient;
    use weft_proto::spark_pb::{HeartbeatRequest, RegisterExecutorRequest};

    use super::*;

    fn registration() -> RegisterExecutorRequest {
        RegisterExecutorRequest {
            executor_id: "1".into(),
            address: "127.0.0.1:1".into(),
            host: "127.0.0.1".into(),
            cores: 1,
            build_id: weft_executor::build_id().to_string(),
            pid: 1,
            container_id: String::new(),
            log_url: String::new(),
            shuffle_dir: String::new(),
        }
    }

    #[tokio::test]
    async fn the_driver_endpoint_refuses_calls_without_the_secret_and_changes_nothing() {
        let secret = Secret::generate().unwrap();
        let (tx, mut events) = tokio::sync::mpsc::unbounded_channel();
        let shared = Arc::new(Shared::default());
        let service = DriverService { tx, shared: shared.clone(), application_id: "app".into() };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(driver_endpoint(service, Some(secret.clone())))
                .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
        );
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{address}")).unwrap().connect_lazy();
        let client = |secret: Option<Secret>| DriverEndpointClient::new(Present(secret).on(channel.clone()));

        for (caller, expected) in [
            (None, "the driver endpoint requires the application's secret"),
            (Some(Secret::generate().unwrap()), "is not this application's secret"),
        ] {
            let refused = client(caller.clone()).register_executor(registration()).await.unwrap_err();
            assert_eq!(refused.code(), tonic::Code::Unauthenticated, "{refused:?}");
            assert!(refused.message().contains(expected), "{}", refused.message());
            let beat = HeartbeatRequest { executor_id: "1".into(), rss_bytes: 0, active_tasks: 0 };
            let refused = client(caller).heartbeat(beat).await.unwrap_err();
            assert_eq!(refused.code(), tonic::Code::Unauthenticated, "{refused:?}");
        }
        assert!(events.try_recv().is_err(), "a refused registration reaches the driver loop");
        assert!(shared.heartbeats.lock().unwrap().is_empty(), "a refused call left a heartbeat behind");

        let answer = client(Some(secret)).register_executor(registration()).await.unwrap();
        assert_eq!(answer.get_ref().application_id, "app");
        assert!(matches!(events.try_recv(), Ok(Event::Registered(r)) if r.id == "1"));
    }

    #[test]
    fn executors_get_the_secret_in_their_environment_only_when_there_is_one() {
        let secret = Secret::generate().unwrap();
        let conf = SparkConf::new();
        let vars = executor_env(&conf, "127.0.0.1:1", "1", 1, Some(&secret));
        assert!(vars.contains(&(env::SECRET.to_owned(), secret.to_hex())));
        assert!(!conf.to_json().contains(&secret.to_hex()));
        let vars = executor_env(&conf, "127.0.0.1:1", "1", 1, None);
        assert!(!vars.iter().any(|(name, _)| name == env::SECRET), "{vars:?}");
    }
}

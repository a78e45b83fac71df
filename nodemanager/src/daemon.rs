//! Wires the NodeManager together: binds both listeners first, then serves ContainerManagement and
//! the web port and heartbeats until cancelled; then stops every container, waits for them, and
//! sends one last heartbeat so the ResourceManager sees how they ended.

use std::future::IntoFuture;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use weft_config::NmConfig;
use weft_proto::pb::container_management_server::ContainerManagementServer;
use weft_proto::{NodeId, Resource};

use crate::cgroups::{self, Cgroups, CpuPolicy};
use crate::dirs::Layout;
use crate::grpc::staging::Staging;
use crate::grpc::tracker::Tracker;
use crate::grpc::{ContainerManagementService, MAX_MESSAGE_BYTES};
use crate::hadoop_ipc;
use crate::hadoop_localize::UrlCache;
use crate::heartbeat::Heartbeater;
use crate::launcher::NodeEnv;
use crate::localizer::Localizer;
use crate::monitor::Checks;
use crate::nm::{Enforcement, Nm, NmParts, NodeInfo};
use crate::recovery::{ContainerRecord, Store};
use crate::run_as::Executor;
use crate::{resources, rest, watcher};

/// How long a last heartbeat may take at shutdown.
const LAST_HEARTBEAT: Duration = Duration::from_secs(3);

/// The addresses the daemon bound, as others should dial them (the `--ports-file` JSON).
#[derive(Debug, Clone, serde::Serialize)]
pub struct BoundAddresses {
    /// ContainerManagement, `host:port`; also the node id.
    pub rpc: String,
    /// Web, REST and logs, `host:port`.
    pub http: String,
}

/// Bound listeners, before anything is served.
pub struct Listeners {
    rpc: TcpListener,
    http: TcpListener,
    node_id: NodeId,
    http_port: u16,
    pub addresses: BoundAddresses,
}

async fn bind(address: &str, key: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(address).await.with_context(|| format!("cannot bind {key} {address}"))
}

/// The host others should dial: `yarn.nodemanager.hostname` when set, else the bound IP unless it
/// is a wildcard, else this machine's name.
fn advertised_host(configured: &str, bound: SocketAddr) -> String {
    if !configured.is_empty() && configured != "0.0.0.0" {
        configured.to_owned()
    } else if !bound.ip().is_unspecified() {
        bound.ip().to_string()
    } else {
        hostname::get().ok().and_then(|h| h.into_string().ok()).unwrap_or_else(|| "localhost".into())
    }
}

impl Listeners {
    pub async fn bind(config: &NmConfig) -> anyhow::Result<Listeners> {
        let rpc = bind(&config.address, "yarn.nodemanager.address").await?;
        let http = bind(&config.webapp_address, "yarn.nodemanager.webapp.address").await?;
        let (rpc_addr, http_addr) = (rpc.local_addr()?, http.local_addr()?);
        let node_id = NodeId::new(advertised_host(&config.hostname, rpc_addr), rpc_addr.port());
        let http_host = advertised_host(&config.hostname, http_addr);
        let addresses = BoundAddresses { rpc: node_id.to_string(), http: format!("{http_host}:{}", http_addr.port()) };
        Ok(Listeners { rpc, http, node_id, http_port: http_addr.port(), addresses })
    }
}

/// What the node offers: configured values, or detected ones (physical memory minus the reserve,
/// logical CPUs). The error says which key to change.
pub fn detect_resources(config: &NmConfig) -> Result<Resource, String> {
    resources::detect(config.memory_mb, config.vcores, config.system_reserved_memory_mb, config.allow_overcommit)
}

fn own_user() -> String {
    let uid = nix::unistd::getuid();
    nix::unistd::User::from_uid(uid).ok().flatten().map(|u| u.name).unwrap_or_else(|| uid.to_string())
}

/// The recovery records (recovery on), read before anything else is set up so their cgroups and
/// directories are kept. A record that cannot be read is logged, naming the file and the problem.
fn recovery_records(config: &NmConfig) -> anyhow::Result<Option<(Store, Vec<ContainerRecord>)>> {
    let Some(dir) = &config.recovery_dir else { return Ok(None) };
    let store = Store::open(dir).map_err(|e| anyhow::anyhow!("yarn.nodemanager.recovery.dir: {e}"))?;
    let (records, problems) = store.load().map_err(|e| anyhow::anyhow!("yarn.nodemanager.recovery.dir: {e}"))?;
    for problem in problems {
        tracing::error!("{problem}");
    }
    tracing::info!(dir = %store.dir().display(), records = records.len(), "recovery is on");
    Ok(Some((store, records)))
}

fn build(
    config: &NmConfig,
    total: Resource,
    listeners: &Listeners,
    recovery: Option<(Store, &[ContainerRecord])>,
) -> anyhow::Result<Arc<Nm>> {
    let layout = Layout::new(config.local_dirs.clone(), config.log_dirs.clone())?;
    for dir in layout.roots() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let staging = Staging::new(&config.staging_address)
        .with_context(|| format!("bad staging address {}", config.staging_address))?;
    let localizer = Localizer::open(layout.filecache(), staging)
        .with_context(|| format!("cannot open the file cache at {}", layout.filecache().display()))?;
    let url_cache = UrlCache::open(layout.local_root().clone(), config.localizer_cache_target_bytes)
        .with_context(|| format!("cannot open the file cache under {}", layout.local_root().display()))?;
    let env = NodeEnv {
        path: std::env::var("PATH").ok(),
        lang: std::env::var("LANG").ok(),
        java_home: java_home(),
        host: listeners.node_id.host.clone(),
        rpc_port: listeners.node_id.port,
        http_port: listeners.http_port,
    };
    let info = NodeInfo {
        node_id: listeners.node_id.clone(),
        http_address: listeners.addresses.http.clone(),
        total,
        version: env!("CARGO_PKG_VERSION"),
        env,
        default_user: own_user(),
    };
    let max_completed = config.max_completed_containers;
    let keep = recovery.as_ref().map(|(_, records)| records.iter().map(|r| r.id.clone()).collect());
    let enforcement = enforcement(config, keep.unwrap_or_default());
    let executor =
        Executor::from_config(&config.executor, nix::unistd::geteuid().is_root()).map_err(anyhow::Error::msg)?;
    if let Executor::Linux(_) = executor {
        for (key, dirs) in
            [("yarn.nodemanager.local-dirs", &config.local_dirs), ("yarn.nodemanager.log-dirs", &config.log_dirs)]
        {
            for dir in dirs {
                open_to_container_users(dir).map_err(|e| anyhow::anyhow!("{key}: {e}"))?;
            }
        }
    }
    tracing::info!(executor = ?executor, "containers run as");
    Ok(Nm::new(NmParts {
        info,
        layout,
        localizer,
        url_cache,
        sigkill_delay: config.sigkill_delay,
        max_completed,
        enforcement,
        executor,
        acls: weft_daemon::acl::AclPolicy::new(
            config.acl_enable,
            &config.admin_acl,
            &weft_daemon::callers::daemon_user(),
        ),
        recovery: recovery.map(|(store, _)| store),
    }))
}

/// Containers running as other users must reach `dir`: it gets mode 0755, and every directory
/// above it must let others pass (o+x), or the NodeManager says which one does not.
fn open_to_container_users(dir: &std::path::Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| format!("cannot set the mode of {}: {e}", dir.display()))?;
    for ancestor in dir.ancestors().skip(1) {
        let mode = std::fs::metadata(ancestor)
            .map_err(|e| format!("cannot inspect {}: {e}", ancestor.display()))?
            .permissions()
            .mode();
        if mode & 0o001 == 0 {
            return Err(format!(
                "containers run as other users (LinuxContainerExecutor) but cannot reach {}: {} has mode {:04o}; \
                 allow others through it (chmod o+x {}), move the directory, or set \
                 yarn.nodemanager.container-executor.class: DefaultContainerExecutor",
                dir.display(),
                ancestor.display(),
                mode & 0o7777,
                ancestor.display()
            ));
        }
    }
    Ok(())
}

/// The resources only this NodeManager may use: its local and log directories, and its cgroup
/// hierarchy when it can use cgroups (as root).
fn locks_wanted(config: &NmConfig) -> Vec<(String, std::path::PathBuf)> {
    let mut wanted: Vec<(String, std::path::PathBuf)> = Vec::new();
    for dir in &config.local_dirs {
        wanted.push((format!("local dir {}", dir.display()), crate::lock::dir_lock_path(dir)));
    }
    for dir in &config.log_dirs {
        wanted.push((format!("log dir {}", dir.display()), crate::lock::dir_lock_path(dir)));
    }
    if config.cgroups_enabled && nix::unistd::geteuid().is_root() {
        let runtime = std::path::Path::new(crate::lock::RUNTIME_DIR);
        let path = crate::lock::hierarchy_lock_path(runtime, &config.cgroups_hierarchy);
        wanted.push((format!("cgroup hierarchy {}", config.cgroups_hierarchy), path));
    }
    // A directory listed as both local and log dir is locked once.
    let mut seen = std::collections::HashSet::new();
    wanted.retain(|(_, path)| seen.insert(path.clone()));
    wanted
}

/// Online CPUs of the machine.
fn online_cpus() -> u32 {
    // SAFETY: sysconf only reads a system value.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    u32::try_from(n).unwrap_or(1).max(1)
}

/// Sets cgroups up (or says why not) and gathers the monitor's settings.
fn enforcement(config: &NmConfig, keep: std::collections::BTreeSet<String>) -> Enforcement {
    let setup = cgroups::Setup {
        enabled: config.cgroups_enabled,
        hierarchy: config.cgroups_hierarchy.clone(),
        cpu: CpuPolicy {
            strict: config.cgroups_strict_cpu,
            cpus: online_cpus(),
            limit_percent: config.cpu_limit_percent,
        },
        max_pids: config.container_max_pids,
        keep,
    };
    let result = Cgroups::set_up(&setup);
    let cgroups_status = cgroups::status(&result, &setup.hierarchy);
    match &result {
        Ok(c) => tracing::info!(
            version = c.version().as_str(),
            hierarchy = c.hierarchy(),
            strict_cpu = setup.cpu.strict,
            cpu_limit_percent = setup.cpu.limit_percent,
            "containers are held in cgroups"
        ),
        Err(reason) => tracing::warn!(
            %reason, "cgroups are not used: containers are held to their memory by the monitor alone, and CPU is not shared by vcores"
        ),
    }
    Enforcement {
        monitor_interval: config.monitor_interval,
        checks: Checks { pmem: config.pmem_check, vmem: config.vmem_check },
        vmem_ratio: config.vmem_pmem_ratio,
        cgroups: result.map(Arc::new),
        cgroups_status,
    }
}

/// Serves until `shutdown` is cancelled (by a signal, or by the ResourceManager's SHUTDOWN), then
/// stops every container and exits.
pub async fn run(
    config: NmConfig,
    total: Resource,
    listeners: Listeners,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    // Before any directory or cgroup is touched: this NodeManager's alone, or it does not start.
    let _locks = crate::lock::take(&locks_wanted(&config))?;
    let recovery = recovery_records(&config)?;
    let (store, records) = match recovery {
        Some((store, records)) => (Some(store), records),
        None => (None, Vec::new()),
    };
    let nm = build(&config, total, &listeners, store.map(|s| (s, records.as_slice())))?;
    // Before registering: the registration reports what was taken back.
    crate::recovery::take_back(&nm, records).await;
    let tracker = Tracker::new(&config.tracker_address)
        .with_context(|| format!("bad resource tracker address {}", config.tracker_address))?;
    let Listeners { rpc, http, addresses, .. } = listeners;
    let serving = CancellationToken::new();
    let service = ContainerManagementServer::new(ContainerManagementService::new(nm.clone()))
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);
    // One port, two protocols: Hadoop IPC (application masters such as Spark's) is served here,
    // every other connection (gRPC) is handed to tonic with its bytes unread.
    let (grpc_connections, grpc_incoming) = tokio::sync::mpsc::channel(64);
    let sniffing = tokio::spawn(weft_hadoop_ipc::serve_shared(rpc, hadoop_ipc::server(nm.clone()), grpc_connections));
    let grpc_incoming = tokio_stream::StreamExt::map(
        tokio_stream::wrappers::ReceiverStream::new(grpc_incoming),
        Ok::<tokio::net::TcpStream, std::io::Error>,
    );
    let grpc = tonic::transport::Server::builder()
        .add_service(service)
        .serve_with_incoming_shutdown(grpc_incoming, serving.clone().cancelled_owned());
    let web = axum::serve(http, rest::router(nm.clone())).with_graceful_shutdown(serving.clone().cancelled_owned());
    let grpc = tokio::spawn(stop_on_failure("container management service", grpc, shutdown.clone()));
    let web = tokio::spawn(stop_on_failure("web service", web.into_future(), shutdown.clone()));
    let heartbeats = tokio::spawn(Heartbeater::new(nm.clone(), tracker).run(shutdown.clone()));
    let monitor = tokio::spawn(watcher::run(nm.clone(), shutdown.clone()));
    tracing::info!(
        node_id = %nm.info.node_id, rpc = %addresses.rpc, http = %addresses.http, rm = %config.tracker_address,
        memory_mb = total.memory_mb, vcores = total.vcores, "NodeManager started"
    );
    shutdown.cancelled().await;
    let heartbeats = async { heartbeats.await.context("the heartbeat task") };
    // YARN keeps containers at shutdown only with recovery under a supervisor, and never for a
    // node the ResourceManager decommissioned (SHUTDOWN).
    if config.recovery_dir.is_some() && config.recovery_supervised && !nm.is_decommissioned() {
        leave_containers_running(&nm, heartbeats).await?;
    } else {
        stop_containers(&nm, config.sigkill_delay, heartbeats).await?;
    }
    monitor.await.context("the container monitor")?;
    serving.cancel();
    sniffing.abort();
    let (grpc, web) = (grpc.await.context("the container management service")?, web.await.context("the web service")?);
    grpc.context("container management service")?;
    web.context("web service")?;
    tracing::info!("NodeManager stopped");
    Ok(())
}

/// Shutdown: refuse new containers, stop the live ones and wait for them (bounded), then send the
/// last heartbeat so the ResourceManager sees how they ended.
async fn stop_containers(
    nm: &Nm,
    sigkill_delay: Duration,
    heartbeats: impl std::future::Future<Output = anyhow::Result<Heartbeater>>,
) -> anyhow::Result<()> {
    tracing::info!("shutting down: stopping every container");
    nm.shut_down();
    let wait = sigkill_delay + Duration::from_secs(10);
    if !nm.wait_until_idle(wait).await {
        tracing::warn!("some containers had not stopped within {wait:?}");
    }
    let mut heartbeater = heartbeats.await?;
    heartbeater.last_beat(LAST_HEARTBEAT).await;
    heartbeater.leave(LAST_HEARTBEAT).await;
    nm.tasks.close();
    if tokio::time::timeout(Duration::from_secs(5), nm.tasks.wait()).await.is_err() {
        tracing::warn!("some container tasks did not finish within 5 s of shutdown");
    }
    Ok(())
}

/// Shutdown with recovery under a supervisor (YARN cleans applications up at shutdown only when
/// not both): the containers keep running, recorded, for the NodeManager that comes next with the
/// same node id; the last heartbeat goes out, but no UnregisterNodeManager, so the ResourceManager
/// keeps the node and its containers until it re-registers (or its liveness expires).
async fn leave_containers_running(
    nm: &Nm,
    heartbeats: impl std::future::Future<Output = anyhow::Result<Heartbeater>>,
) -> anyhow::Result<()> {
    let live = nm.read(|core| core.live().count());
    tracing::info!(live, "shutting down under a supervisor with recovery: the containers keep running");
    nm.leave_containers_running();
    let mut heartbeater = heartbeats.await?;
    heartbeater.last_beat(LAST_HEARTBEAT).await;
    nm.tasks.close();
    if tokio::time::timeout(Duration::from_secs(5), nm.tasks.wait()).await.is_err() {
        tracing::warn!("some container tasks did not finish within 5 s of shutdown");
    }
    Ok(())
}

/// Runs a server; if it fails, the whole daemon shuts down.
async fn stop_on_failure<E: std::fmt::Display>(
    what: &'static str,
    server: impl std::future::Future<Output = Result<(), E>>,
    shutdown: CancellationToken,
) -> Result<(), E> {
    let result = server.await;
    if let Err(error) = &result {
        tracing::error!(%error, "{what} failed");
        shutdown.cancel();
    }
    result
}

/// The JAVA_HOME containers get: the NodeManager's own, else the home of the `java` on its PATH
/// (the directory above `bin/java`, symlinks resolved), as an operator would set it by hand.
fn java_home() -> Option<String> {
    if let Some(home) = std::env::var_os("JAVA_HOME").filter(|h| !h.is_empty()) {
        return Some(home.to_string_lossy().into_owned());
    }
    let path = std::env::var_os("PATH")?;
    let java = std::env::split_paths(&path).map(|dir| dir.join("java")).find(|p| p.is_file())?;
    let real = std::fs::canonicalize(java).ok()?;
    let home = real.parent()?.parent()?;
    Some(home.display().to_string())
}

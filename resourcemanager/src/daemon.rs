//! Wires the ResourceManager together: binds every listener first, then serves gRPC, REST and the
//! periodic tick until cancelled.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tonic::transport::server::TcpIncoming;
use weft_config::RmConfig;
use weft_proto::pb;

use crate::core::{AclPolicy, CoreConfig, RmCore};
use crate::grpc::{AmService, ClientService, StagingService, TrackerService, MAX_MESSAGE_BYTES};
use crate::hadoop::{ClientProtocol, MasterProtocol};
use crate::recovery::StateStore;
use crate::staging::accounts::Standing;
use crate::staging::StagingStore;
use crate::state::{Rm, RmInfo};
use crate::tokens::Keys;
use crate::{clock, launcher, rest};

/// The addresses the daemon bound, as clients should dial them.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BoundAddresses {
    pub client: String,
    pub scheduler: String,
    pub tracker: String,
    pub webapp: String,
}

/// Bound listeners, before anything is served.
pub struct Listeners {
    client: TcpListener,
    scheduler: TcpListener,
    tracker: TcpListener,
    webapp: TcpListener,
    pub addresses: BoundAddresses,
}

async fn bind(address: &str, key: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(address).await.with_context(|| format!("cannot bind {key} {address}"))
}

/// The host others should dial for a bound address: the IP itself, unless it is a wildcard.
fn advertised(bound: SocketAddr, configured_host: &str) -> String {
    let host = if !bound.ip().is_unspecified() {
        bound.ip().to_string()
    } else if configured_host != "0.0.0.0" && !configured_host.is_empty() {
        configured_host.to_owned()
    } else {
        hostname::get().ok().and_then(|h| h.into_string().ok()).unwrap_or_else(|| "localhost".into())
    };
    format!("{host}:{}", bound.port())
}

impl Listeners {
    pub async fn bind(config: &RmConfig) -> anyhow::Result<Listeners> {
        let client = bind(&config.client_address, "yarn.resourcemanager.address").await?;
        let scheduler = bind(&config.scheduler_address, "yarn.resourcemanager.scheduler.address").await?;
        let tracker = bind(&config.tracker_address, "yarn.resourcemanager.resource-tracker.address").await?;
        let webapp = bind(&config.webapp_address, "yarn.resourcemanager.webapp.address").await?;
        let host = &config.hostname;
        let addresses = BoundAddresses {
            client: advertised(client.local_addr()?, host),
            scheduler: advertised(scheduler.local_addr()?, host),
            tracker: advertised(tracker.local_addr()?, host),
            webapp: advertised(webapp.local_addr()?, host),
        };
        Ok(Listeners { client, scheduler, tracker, webapp, addresses })
    }
}

/// Serves until `shutdown` is cancelled, then waits for in-flight work.
pub async fn run(config: RmConfig, listeners: Listeners, shutdown: CancellationToken) -> anyhow::Result<()> {
    let store = StagingStore::open(&config.staging_dir, config.staging_max_app_bytes)
        .with_context(|| format!("cannot open the staging store at {}", config.staging_dir.display()))?;
    let recovered = match &config.recovery_store {
        Some(dir) => {
            // Before anything is served: nothing else waits on this thread yet.
            let opened =
                StateStore::open(dir).with_context(|| format!("cannot open the state store at {}", dir.display()))?;
            Some(opened)
        }
        None => None,
    };
    let epoch = recovered.as_ref().map_or(0, |(_, r)| r.epoch);
    // New application ids must not repeat a recovered one's, even if the clock went back.
    let latest = recovered.iter().flat_map(|(_, r)| r.apps.iter().map(|a| a.id().cluster_timestamp)).max();
    let cluster_timestamp = clock::now_ms().max(latest.map_or(0, |t| t + 1));
    let mut core = RmCore::new(CoreConfig {
        cluster_timestamp,
        minimum_allocation: config.minimum_allocation,
        maximum_allocation: config.maximum_allocation,
        am_max_attempts: config.am_max_attempts,
        heartbeat_interval_ms: config.heartbeat_interval.as_millis() as u64,
        nm_expiry_ms: config.nm_expiry.as_millis() as u64,
        am_finish_grace_ms: config.am_finish_grace.as_millis() as u64,
        container_allocation_expiry_ms: config.container_allocation_expiry.as_millis() as u64,
        max_completed_apps: config.max_completed_apps,
        max_kill_records: config.max_kill_records,
        acls: AclPolicy::new(config.acl_enable, &config.admin_acl, &weft_daemon::callers::daemon_user()),
        epoch,
        am_liveness_expiry_ms: config.am_liveness_expiry.as_millis() as u64,
    });
    let Listeners { client, scheduler, tracker, webapp, addresses } = listeners;
    let info = RmInfo {
        cluster_id: config.cluster_id.clone(),
        cluster_timestamp,
        client_address: addresses.client.clone(),
        scheduler_address: addresses.scheduler.clone(),
        webapp_address: addresses.webapp.clone(),
        version: env!("CARGO_PKG_VERSION"),
    };
    let fresh_keys = || {
        Keys::generate(cluster_timestamp, config.container_allocation_expiry)
            .context("cannot draw the token master keys from the system's random source")
    };
    let (keys, state_store, store) = match recovered {
        None => (fresh_keys()?, None, store),
        Some((state_store, recovered)) => {
            let keys = match &recovered.keys {
                Some(kept) => Keys::from_record(kept, config.container_allocation_expiry)
                    .map_err(|e| anyhow::anyhow!("the state store's master keys: {e}"))?,
                None => {
                    let keys = fresh_keys()?;
                    state_store.put_keys(&keys.to_record()).context("cannot keep the master keys")?;
                    keys
                }
            };
            let apps = recovered.apps.len();
            core.recover(recovered.apps, clock::now_ms());
            let state_store = Arc::new(state_store);
            let store = store.with_journal(state_store.clone(), recovered.staging);
            tracing::info!(epoch, apps, "recovered from the state store");
            (keys, Some(state_store), store)
        }
    };
    let (rm, effects) = Rm::new(core, info, keys, state_store);
    // Whatever recovery changed (an attempt started again, say) is written before anything is served.
    rm.with(|_, _| ());
    let rm = Arc::new(rm);
    let tasks = TaskTracker::new();
    tasks.spawn(launcher::run(rm.clone(), effects, tasks.clone(), shutdown.clone()));
    tasks.spawn(tick(rm.clone(), config.nm_liveness_interval, shutdown.clone()));
    tasks.spawn(clean_staging(
        rm.clone(),
        store.clone(),
        config.staging_cleaner_interval,
        config.staging_retain_unreferenced,
        shutdown.clone(),
    ));

    // The client port speaks two protocols: Hadoop IPC (spark-submit, Hadoop's clients) is served
    // here, every other connection (gRPC) is handed to tonic with its bytes unread.
    let (grpc_clients, grpc_incoming) = tokio::sync::mpsc::channel(64);
    let hadoop_clients = weft_hadoop_ipc::Server::new(
        weft_hadoop_ipc::ServerConfig::new(weft_hadoop_ipc::AuthPolicy::Simple),
        ClientProtocol::new(rm.clone()),
    );
    let sniffing = tokio::spawn(weft_hadoop_ipc::serve_shared(client, hadoop_clients, grpc_clients));
    let grpc_incoming =
        tokio_stream::StreamExt::map(ReceiverStream::new(grpc_incoming), Ok::<tokio::net::TcpStream, std::io::Error>);

    // The scheduler port too: Hadoop AMs authenticate with their attempt's AMRM token (SASL
    // DIGEST-MD5, nothing else accepted); Weft's own AMs speak gRPC.
    let (am_clients, am_incoming) = tokio::sync::mpsc::channel(64);
    let amrm_lookup = {
        let rm = rm.clone();
        move |identifier: &[u8]| rm.keys.amrm_password(identifier)
    };
    let hadoop_ams = weft_hadoop_ipc::Server::new(
        weft_hadoop_ipc::ServerConfig::new(weft_hadoop_ipc::AuthPolicy::Token {
            lookup: Arc::new(amrm_lookup),
            allow_simple: false,
        }),
        MasterProtocol::new(rm.clone()),
    );
    let am_sniffing = tokio::spawn(weft_hadoop_ipc::serve_shared(scheduler, hadoop_ams, am_clients));
    let am_incoming =
        tokio_stream::StreamExt::map(ReceiverStream::new(am_incoming), Ok::<tokio::net::TcpStream, std::io::Error>);

    use pb::application_client_server::ApplicationClientServer;
    use pb::resource_tracker_server::ResourceTrackerServer;
    use pb::staging_server::StagingServer;
    use weft_proto::encoded_am::application_master_server::ApplicationMasterServer;
    let client_server = tonic::transport::Server::builder()
        .add_service(
            ApplicationClientServer::new(ClientService::new(rm.clone())).max_decoding_message_size(MAX_MESSAGE_BYTES),
        )
        .add_service(
            StagingServer::new(StagingService::new(store.clone(), rm.clone()))
                .max_decoding_message_size(MAX_MESSAGE_BYTES),
        )
        .serve_with_incoming_shutdown(grpc_incoming, shutdown.clone().cancelled_owned());
    let am_server = tonic::transport::Server::builder()
        .add_service(
            ApplicationMasterServer::new(AmService::new(rm.clone())).max_decoding_message_size(MAX_MESSAGE_BYTES),
        )
        .serve_with_incoming_shutdown(am_incoming, shutdown.clone().cancelled_owned());
    let tracker_server = tonic::transport::Server::builder()
        .add_service(
            ResourceTrackerServer::new(TrackerService::new(rm.clone())).max_decoding_message_size(MAX_MESSAGE_BYTES),
        )
        .serve_with_incoming_shutdown(
            TcpIncoming::from(tracker).with_nodelay(Some(true)),
            shutdown.clone().cancelled_owned(),
        );
    let web = axum::serve(webapp, rest::router(rm.clone(), store.clone()))
        .with_graceful_shutdown(shutdown.clone().cancelled_owned());
    tracing::info!(
        client = %addresses.client, scheduler = %addresses.scheduler, tracker = %addresses.tracker,
        webapp = %addresses.webapp, cluster_timestamp, "ResourceManager started"
    );
    let (a, b, c, d) = tokio::join!(client_server, am_server, tracker_server, web);
    sniffing.abort();
    am_sniffing.abort();
    a.context("client service")?;
    b.context("scheduler service")?;
    c.context("resource tracker service")?;
    d.context("web service")?;
    tasks.close();
    if tokio::time::timeout(std::time::Duration::from_secs(5), tasks.wait()).await.is_err() {
        tracing::warn!("some launches did not finish within 5 s of shutdown");
    }
    Ok(())
}

async fn tick(rm: Arc<Rm>, interval: std::time::Duration, shutdown: CancellationToken) {
    let mut timer = tokio::time::interval(interval);
    timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = timer.tick() => rm.with(|core, now| core.tick(now)),
        }
    }
}

/// Every `interval`: drops the staging accounts of applications that ended, then removes staged
/// files that no running application uses or holds.
async fn clean_staging(
    rm: Arc<Rm>,
    store: StagingStore,
    interval: std::time::Duration,
    retain: std::time::Duration,
    shutdown: CancellationToken,
) {
    let mut timer = tokio::time::interval(interval);
    timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = timer.tick() => {}
        }
        let (in_use, standings) = rm.with(|core, _| {
            let standings: std::collections::BTreeMap<_, _> = core
                .apps(&Default::default())
                .into_iter()
                .map(|app| (app.id(), if app.state.is_final() { Standing::Ended } else { Standing::Running }))
                .collect();
            (core.blobs_in_use(), standings)
        });
        let standing = |id| standings.get(&id).copied().unwrap_or(Standing::Unknown);
        for (app_id, files, bytes) in store.release(standing, retain) {
            tracing::info!(%app_id, files, bytes, "staging account released");
        }
        let store = store.clone();
        match tokio::task::spawn_blocking(move || store.sweep(&in_use, retain)).await {
            Ok(Ok((0, _))) => {}
            Ok(Ok((count, bytes))) => {
                tracing::info!(files = count, bytes, "removed staged files no running application uses")
            }
            Ok(Err(error)) => tracing::warn!(%error, "cleaning the staging store failed"),
            Err(error) => tracing::warn!(%error, "the staging cleaner stopped"),
        }
    }
}

//! The executor process: registers with its driver, serves tasks and shuffle blocks over gRPC, runs
//! tasks on `cores` threads, heartbeats, and exits when the driver says stop or goes away for longer
//! than the network timeout.

use std::any::Any;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{Stream, StreamExt};
use tokio::runtime::Handle;
use tokio_util::sync::CancellationToken;
use tonic::transport::{Endpoint, Server};
use tonic::{Request, Response, Status, Streaming};
use weft_proto::spark_pb::driver_endpoint_client::DriverEndpointClient;
use weft_proto::spark_pb::executor_endpoint_client::ExecutorEndpointClient;
use weft_proto::spark_pb::executor_endpoint_server::{ExecutorEndpoint, ExecutorEndpointServer};
use weft_proto::spark_pb::{self as pb};

use crate::auth::{AuthChannel, Present, Require, Secret};
use crate::block_manager::BlockManager;
use crate::code::{build_id, Verified};
use crate::context::{DecodeBroadcast, FetchedFrames, KillFlag, MapLocation, SerializeBlock, Services};
use crate::encoding::FrameCodec;
use crate::error::TaskError;
use crate::fetch::{FetchSetup, Here, ShuffleFetch};
use crate::frame;
use crate::memory::{MemoryConfig, MemoryManager};
use crate::plan::{TaskDescription, TaskStatus, CHUNK};
use crate::runner::{self, TaskControl};
use crate::shuffle::{self, ShuffleFiles};

/// How an executor process is started (the driver's backend fills it from the launch environment).
#[derive(Debug, Clone)]
pub struct ExecutorArgs {
    pub executor_id: String,
    pub driver_url: String,
    /// Address to bind the executor's endpoint to (its port is chosen by the system).
    pub bind_host: String,
    pub cores: usize,
    pub container_id: String,
    pub log_url: String,
    /// Scratch space: shuffle files, spill files and cached blocks on disk.
    pub local_dir: PathBuf,
    /// The unified memory of execution and storage.
    pub memory: MemoryConfig,
    /// `spark.reducer.maxSizeInFlight`: remote shuffle bytes a task has asked for and not yet read.
    pub max_size_in_flight_bytes: u64,
    pub shuffle_compress: bool,
    /// `spark.shuffle.readHostLocalDisk`: blocks of executors on this host are read from their files.
    pub read_host_local_disk: bool,
    /// `spark.shuffle.spill.compress`.
    pub spill_compress: bool,
    pub heartbeat_interval: Duration,
    pub network_timeout: Duration,
    /// `spark.driver.maxResultSize` in bytes (0: unlimited): a larger result is dropped, its size reported.
    pub max_result_bytes: u64,
    /// `spark.authenticate`: the application's secret, carried on every call to the driver and to
    /// other executors and required on every call to this one; `None` when authentication is off.
    pub secret: Option<Secret>,
}

/// Runs the executor until the driver stops it; returns the process exit code.
pub fn run(args: ExecutorArgs) -> i32 {
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("executor {}: cannot start the async runtime: {e}", args.executor_id);
            return 1;
        }
    };
    match runtime.block_on(serve(args)) {
        Ok(()) => 0,
        Err(message) => {
            tracing::error!("{message}");
            1
        }
    }
}

/// Messages of the task threads' queue.
enum Work {
    Task(Box<(Verified, TaskDescription)>),
}

struct Executor {
    id: String,
    /// Where this executor's reducers run (`Here::host_local` when they read host-local blocks).
    here: Here,
    handle: Handle,
    driver: DriverEndpointClient<AuthChannel>,
    /// Adds the application's secret to calls to the driver and to other executors.
    present: Present,
    shuffle: ShuffleFiles,
    blocks: BlockManager,
    broadcasts: Mutex<HashMap<u64, Arc<dyn Any + Send + Sync>>>,
    peers: Mutex<HashMap<String, ExecutorEndpointClient<AuthChannel>>>,
    local_dir: PathBuf,
    active: std::sync::atomic::AtomicI32,
    queue: Mutex<mpsc::Sender<Work>>,
    /// Cancelled once the executor is to stop (sticky, unlike a `Notify` without waiters).
    stop: CancellationToken,
    /// The kill switch of each task from its arrival to its end, by task id.
    kills: Mutex<HashMap<u64, Arc<KillFlag>>>,
    max_result_bytes: u64,
    max_size_in_flight: u64,
    spill_codec: FrameCodec,
}

async fn serve(args: ExecutorArgs) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind((args.bind_host.as_str(), 0))
        .await
        .map_err(|e| format!("executor {}: cannot listen on {}: {e}", args.executor_id, args.bind_host))?;
    let bound: SocketAddr = listener.local_addr().map_err(|e| e.to_string())?;
    let address = format!("{}:{}", args.bind_host, bound.port());
    let channel = Endpoint::from_shared(format!("http://{}", args.driver_url))
        .map_err(|e| format!("bad driver address {:?}: {e}", args.driver_url))?
        .connect_timeout(Duration::from_secs(10))
        .connect()
        .await
        .map_err(|e| format!("executor {}: cannot reach the driver at {}: {e}", args.executor_id, args.driver_url))?;
    let present = Present(args.secret.clone());
    let driver = DriverEndpointClient::new(present.on(channel));
    // Absolute: other executors on this host are told where to read its blocks.
    let shuffle_dir = std::path::absolute(args.local_dir.join("shuffle"))
        .map_err(|e| format!("cannot resolve {}: {e}", args.local_dir.display()))?;
    let shuffle = ShuffleFiles::new(shuffle_dir, args.shuffle_compress)
        .map_err(|e| format!("cannot create {}: {e}", args.local_dir.display()))?;
    let blocks = BlockManager::new(&args.memory, args.local_dir.join("blocks"))
        .map_err(|e| format!("cannot create {}: {e}", args.local_dir.display()))?;
    let (tx, rx) = mpsc::channel::<Work>();
    let executor = Arc::new(Executor {
        id: args.executor_id.clone(),
        here: Here { address: address.clone(), host_local: args.read_host_local_disk.then(|| args.bind_host.clone()) },
        handle: Handle::current(),
        driver: driver.clone(),
        present,
        shuffle,
        blocks,
        broadcasts: Mutex::default(),
        peers: Mutex::default(),
        local_dir: args.local_dir.clone(),
        active: Default::default(),
        queue: Mutex::new(tx),
        stop: CancellationToken::new(),
        kills: Mutex::default(),
        max_result_bytes: args.max_result_bytes,
        max_size_in_flight: args.max_size_in_flight_bytes.max(1),
        spill_codec: FrameCodec::new(args.spill_compress),
    });
    start_task_threads(&executor, rx, args.cores.max(1));

    let require = Require::new(args.secret.clone(), format!("executor {}", args.executor_id));
    let service = ExecutorEndpointServer::with_interceptor(Service(executor.clone()), require);
    // TCP_NODELAY (tonic sets it only on listeners it binds itself): a shuffle fetch streams its
    // frames and a task launch answers in pieces; with Nagle's algorithm each waits for an ACK.
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    let stopper = executor.clone();
    let server = tokio::spawn(async move {
        Server::builder()
            .add_service(service)
            .serve_with_incoming_shutdown(incoming, async move { stopper.stop.cancelled().await })
            .await
    });

    let registration = pb::RegisterExecutorRequest {
        executor_id: args.executor_id.clone(),
        address: address.clone(),
        host: args.bind_host.clone(),
        cores: args.cores as i32,
        build_id: build_id().to_string(),
        pid: std::process::id() as i32,
        container_id: args.container_id.clone(),
        log_url: args.log_url.clone(),
        shuffle_dir: executor.shuffle.dir().display().to_string(),
    };
    driver
        .clone()
        .register_executor(registration)
        .await
        .map_err(|s| format!("executor {}: the driver refused the registration: {}", args.executor_id, s.message()))?;
    tracing::info!(executor = %args.executor_id, %address, cores = args.cores, "registered with the driver");

    let outcome = heartbeat_until_stopped(&executor, &args).await;
    executor.request_stop();
    let _ = server.await;
    outcome
}

async fn heartbeat_until_stopped(executor: &Arc<Executor>, args: &ExecutorArgs) -> Result<(), String> {
    let mut last_contact = Instant::now();
    let mut ticks = tokio::time::interval(args.heartbeat_interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = executor.stop.cancelled() => return Ok(()),
            _ = ticks.tick() => {}
        }
        let request = pb::HeartbeatRequest {
            executor_id: executor.id.clone(),
            rss_bytes: resident_bytes(),
            active_tasks: executor.active.load(std::sync::atomic::Ordering::Relaxed),
        };
        match executor.driver.clone().heartbeat(request).await {
            Ok(reply) if reply.get_ref().unknown_executor => {
                return Err(format!("executor {}: the driver no longer knows this executor; exiting", executor.id));
            }
            Ok(_) => last_contact = Instant::now(),
            Err(status) if last_contact.elapsed() > args.network_timeout => {
                return Err(format!(
                    "executor {}: no answer from the driver at {} for {:?} (spark.network.timeout): {}; exiting",
                    executor.id,
                    args.driver_url,
                    last_contact.elapsed(),
                    status.message()
                ));
            }
            Err(status) => tracing::warn!(error = %status.message(), "heartbeat to the driver failed"),
        }
    }
}

fn resident_bytes() -> i64 {
    procfs::process::Process::myself()
        .and_then(|p| p.statm())
        .map(|s| (s.resident * procfs::page_size()) as i64)
        .unwrap_or(0)
}

fn start_task_threads(executor: &Arc<Executor>, rx: mpsc::Receiver<Work>, cores: usize) {
    let rx = Arc::new(Mutex::new(rx));
    for n in 0..cores {
        let rx = rx.clone();
        let executor = executor.clone();
        std::thread::Builder::new()
            .name(format!("task-{n}"))
            .spawn(move || loop {
                let work = rx.lock().expect("task queue lock").recv();
                let Ok(Work::Task(task)) = work else { return };
                let (proof, task) = *task;
                let services: Arc<dyn Services> = executor.clone();
                let task_id = task.task_id;
                let control =
                    TaskControl { kill: executor.kill_flag(task_id), max_result_bytes: executor.max_result_bytes };
                let status = runner::run_task(&proof, task, services, &executor.shuffle, &control);
                executor.kills.lock().expect("kill registry lock").remove(&task_id);
                executor.active.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
                executor.report(status);
            })
            .expect("spawn a task thread");
    }
}

impl Executor {
    /// Stops the executor: the heartbeat loop and the server end. A stop asked for while nothing
    /// waited (the heartbeat loop in the middle of a call) is seen by the next wait.
    fn request_stop(&self) {
        self.stop.cancel();
    }

    /// The kill switch of a task, registered on first use (a kill may arrive before the task starts).
    fn kill_flag(&self, task_id: u64) -> Arc<KillFlag> {
        self.kills.lock().expect("kill registry lock").entry(task_id).or_default().clone()
    }

    /// Sends a task's end to the driver (from a task thread).
    fn report(&self, status: TaskStatus) {
        let bytes = match bincode::serialize(&status) {
            Ok(bytes) => bytes,
            Err(e) => {
                tracing::error!(task = status.task_id, error = %e, "cannot encode a task status");
                return;
            }
        };
        let chunks: Vec<pb::Chunk> = bytes.chunks(CHUNK).map(|c| pb::Chunk { data: c.to_vec() }).collect();
        let mut driver = self.driver.clone();
        let task_id = status.task_id;
        let sent = self.handle.block_on(async move { driver.status_update(futures::stream::iter(chunks)).await });
        if let Err(s) = sent {
            if self.stop.is_cancelled() {
                tracing::debug!(task = task_id, "the driver stopped before acknowledging a task's end");
                return;
            }
            tracing::error!(task = task_id, error = %s.message(), "cannot report a task's end to the driver");
        }
    }

    fn peer(&self, address: &str) -> Result<ExecutorEndpointClient<AuthChannel>, String> {
        let mut peers = self.peers.lock().expect("peers lock");
        if let Some(client) = peers.get(address) {
            return Ok(client.clone());
        }
        let endpoint = Endpoint::from_shared(format!("http://{address}")).map_err(|e| e.to_string())?;
        // Called from task threads: a lazy channel still needs the runtime to spawn its connection.
        let _runtime = self.handle.enter();
        let client = ExecutorEndpointClient::new(self.present.on(endpoint.connect_lazy()));
        peers.insert(address.to_owned(), client.clone());
        Ok(client)
    }
}

impl Services for Executor {
    fn fetch_shuffle(&self, shuffle_id: u32, reduce: u32, maps: &[MapLocation]) -> FetchedFrames {
        let clients = maps
            .iter()
            .filter(|m| !self.here.reads_file(m) && m.size > 0)
            .map(|m| (m.address.clone(), self.peer(&m.address)))
            .collect();
        Box::new(ShuffleFetch::new(FetchSetup {
            shuffle_id,
            reduce,
            maps: maps.to_vec(),
            here: self.here.clone(),
            max_in_flight: self.max_size_in_flight,
            files: self.shuffle.clone(),
            handle: self.handle.clone(),
            clients,
        }))
    }

    fn cached(&self, rdd_id: u32, partition: u32) -> Option<Arc<dyn Any + Send + Sync>> {
        self.blocks.get(rdd_id, partition)
    }

    fn cached_on_disk(&self, rdd_id: u32, partition: u32) -> Option<Vec<u8>> {
        self.blocks.get_disk(rdd_id, partition)
    }

    fn cache_in_memory(
        &self,
        rdd_id: u32,
        partition: u32,
        value: Arc<dyn Any + Send + Sync>,
        size: u64,
        to_disk: Option<SerializeBlock>,
    ) -> bool {
        self.blocks.put(rdd_id, partition, value, size, to_disk)
    }

    fn cache_on_disk(&self, rdd_id: u32, partition: u32, bytes: &[u8]) -> Result<(), TaskError> {
        Ok(self.blocks.put_disk(rdd_id, partition, bytes)?)
    }

    fn broadcast(&self, id: u64, decode: &DecodeBroadcast) -> Result<Arc<dyn Any + Send + Sync>, TaskError> {
        if let Some(value) = self.broadcasts.lock().expect("broadcast lock").get(&id) {
            return Ok(value.clone());
        }
        let mut driver = self.driver.clone();
        let bytes = self.handle.block_on(async move {
            let mut stream = driver.fetch_broadcast(pb::FetchBroadcastRequest { broadcast_id: id }).await?.into_inner();
            let mut bytes = Vec::new();
            while let Some(chunk) = stream.next().await {
                bytes.extend_from_slice(&chunk?.data);
            }
            Ok::<_, Status>(bytes)
        });
        let bytes = bytes.map_err(|s| TaskError::failed(format!("cannot fetch broadcast {id}: {}", s.message())))?;
        let value = decode(&bytes)?;
        self.broadcasts.lock().expect("broadcast lock").insert(id, value.clone());
        Ok(value)
    }

    fn local_dir(&self) -> PathBuf {
        self.local_dir.clone()
    }

    fn executor_id(&self) -> &str {
        &self.id
    }

    fn memory(&self) -> &MemoryManager {
        self.blocks.memory()
    }

    fn spill_codec(&self) -> FrameCodec {
        self.spill_codec
    }
}

/// The gRPC face of an executor.
struct Service(Arc<Executor>);

type BlockStream = Pin<Box<dyn Stream<Item = Result<pb::BlockChunk, Status>> + Send>>;

#[tonic::async_trait]
impl ExecutorEndpoint for Service {
    async fn launch_task(&self, request: Request<Streaming<pb::Chunk>>) -> Result<Response<pb::Ack>, Status> {
        let mut stream = request.into_inner();
        let mut frame = Vec::new();
        while let Some(chunk) = stream.next().await {
            frame.extend_from_slice(&chunk?.data);
        }
        let (proof, task) = frame::decode_task(&frame).map_err(|e| {
            tracing::error!(error = %e, "refusing a task");
            Status::failed_precondition(e.to_string())
        })?;
        self.0.active.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.0.kill_flag(task.task_id);
        let queued = self.0.queue.lock().expect("queue lock").send(Work::Task(Box::new((proof, task))));
        queued.map_err(|_| Status::unavailable("the executor is stopping"))?;
        Ok(Response::new(pb::Ack {}))
    }

    async fn kill_task(&self, request: Request<pb::KillTaskRequest>) -> Result<Response<pb::Ack>, Status> {
        let r = request.into_inner();
        let flag = self.0.kills.lock().expect("kill registry lock").get(&r.task_id).cloned();
        match flag {
            Some(flag) => {
                tracing::info!("Executor is trying to kill TID {}, reason: {}", r.task_id, r.reason);
                flag.kill(&r.reason);
            }
            None => tracing::debug!(task = r.task_id, "a kill for a task that already ended"),
        }
        Ok(Response::new(pb::Ack {}))
    }

    async fn stop_executor(&self, _: Request<pb::StopExecutorRequest>) -> Result<Response<pb::Ack>, Status> {
        tracing::info!("the driver asked this executor to stop");
        self.0.request_stop();
        Ok(Response::new(pb::Ack {}))
    }

    async fn remove_rdd(&self, request: Request<pb::RemoveRddRequest>) -> Result<Response<pb::Ack>, Status> {
        let rdd = request.into_inner().rdd_id;
        self.0.blocks.remove_rdd(rdd);
        tracing::info!(rdd, "removed the RDD's cached blocks");
        Ok(Response::new(pb::Ack {}))
    }

    type FetchBlocksStream = BlockStream;

    async fn fetch_blocks(&self, request: Request<pb::FetchBlocksRequest>) -> Result<Response<BlockStream>, Status> {
        let names = request.into_inner().block_ids;
        let executor = self.0.clone();
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<pb::BlockChunk, Status>>(4);
        tokio::task::spawn_blocking(move || {
            for (index, name) in names.iter().enumerate() {
                if let Err(status) = send_block(&executor.shuffle, name, index as u32, &tx) {
                    let _ = tx.blocking_send(Err(status));
                    return;
                }
            }
        });
        Ok(Response::new(Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx))))
    }
}

/// Streams one stored block from its data file in chunks, never holding it whole. `Ok` also when the
/// fetching side went away (nothing more to send).
fn send_block(
    files: &ShuffleFiles,
    name: &str,
    index: u32,
    tx: &tokio::sync::mpsc::Sender<Result<pb::BlockChunk, Status>>,
) -> Result<(), Status> {
    use std::io::Read;
    let Some((s, m, r)) = shuffle::parse_block_name(name) else {
        return Err(Status::invalid_argument(format!("{name:?} is not a shuffle block name")));
    };
    let (file, len) = files.open_stored(s, m, r).map_err(|e| Status::not_found(e.to_string()))?;
    let mut reader = file.take(len);
    let mut left = len;
    loop {
        let mut data = vec![0u8; left.min(CHUNK as u64) as usize];
        reader.read_exact(&mut data).map_err(|e| Status::data_loss(format!("{name}: {e}")))?;
        left -= data.len() as u64;
        let last = left == 0;
        if tx.blocking_send(Ok(pb::BlockChunk { index, data, last })).is_err() || last {
            return Ok(());
        }
    }
}

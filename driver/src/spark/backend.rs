//! The driver's engine room: one task owns the DAG scheduler, the task scheduler and the executor
//! table, and reacts to events (a job from user code, an executor registering, a task's end, an
//! executor gone, a timer tick). Around it: the driver's gRPC endpoint for executors, and the
//! executor launchers (child processes for `local[N]`, YARN containers through the application master).

use std::collections::{HashMap, HashSet};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{Stream, StreamExt};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use tonic::transport::{Channel, Endpoint};
use tonic::{Request, Response, Status, Streaming};
use weft_executor::plan::{MapLocation, ResultCtor, Sink, TaskDescription, TaskEnd, TaskStatus};
use weft_executor::runtime::CHUNK;
use weft_executor::{build_id, FnRef, TaskError};
use weft_proto::spark_pb::driver_endpoint_server::DriverEndpoint;
use weft_proto::spark_pb::executor_endpoint_client::ExecutorEndpointClient;
use weft_proto::spark_pb::{self as pb};

use super::dag::{Dag, DagEvent, MapOut};
use super::error::SparkError;
use super::progress::{self, StageProgress};
use super::rdd::{PlanCtx, RddNode};
use super::tasks::{Mode, Outcome, Prefs, TaskScheduler};

pub(crate) type JobReply = std::sync::mpsc::Sender<Result<Vec<Vec<u8>>, SparkError>>;

pub(crate) enum Event {
    RunJob {
        rdd: Arc<RddNode>,
        partitions: Vec<usize>,
        ctor: FnRef<ResultCtor>,
        env: Vec<u8>,
        name: String,
        reply: JobReply,
    },
    Registered {
        id: String,
        address: String,
        host: String,
        cores: usize,
    },
    Status(Box<TaskStatus>),
    LaunchFailed {
        task_id: u64,
        message: String,
    },
    ExecutorGone {
        id: String,
        reason: String,
    },
    /// The cluster will not give more executors; every job fails with this message.
    Fatal(String),
    /// Forget an RDD's cached blocks, on the driver and every executor; replies once they are gone.
    Unpersist(u32, std::sync::mpsc::Sender<()>),
    Tick,
    Stop(std::sync::mpsc::Sender<()>),
}

/// State shared with the gRPC handlers.
#[derive(Default)]
pub(crate) struct Shared {
    pub(crate) broadcasts: Mutex<HashMap<u64, Arc<Vec<u8>>>>,
    pub(crate) heartbeats: Mutex<HashMap<String, Instant>>,
    pub(crate) accumulators: Mutex<HashMap<u64, super::shared::Merger>>,
    /// Set when the application cannot go on (too many executor failures).
    pub(crate) fatal: Mutex<Option<String>>,
}

pub(crate) struct Settings {
    pub(crate) mode: Mode,
    pub(crate) max_failures: u32,
    pub(crate) locality_wait_ms: u64,
    pub(crate) network_timeout: Duration,
    pub(crate) show_progress: bool,
}

struct Executor {
    address: String,
    host: String,
    client: ExecutorEndpointClient<Channel>,
}

struct JobInfo {
    reply: JobReply,
    name: String,
    started: Instant,
}

struct Core {
    dag: Dag,
    tasks: TaskScheduler,
    executors: HashMap<String, Executor>,
    jobs: HashMap<u32, JobInfo>,
    stage_started: HashMap<u32, Instant>,
    shared: Arc<Shared>,
    tx: UnboundedSender<Event>,
    settings: Settings,
    started: Instant,
    bar: progress::Bar,
    last_progress: Instant,
    lost: HashSet<String>,
}

impl PlanCtx for Core {
    fn map_locations(&self, shuffle_id: u32, reduce: u32) -> Vec<MapLocation> {
        let Some(outputs) = self.dag.outputs.get(&shuffle_id) else { return Vec::new() };
        outputs
            .iter()
            .enumerate()
            .filter_map(|(map_index, out)| {
                let out = out.as_ref()?;
                let address = self.executors.get(&out.executor).map(|e| e.address.clone()).unwrap_or_default();
                Some(MapLocation {
                    map_index: map_index as u32,
                    executor_id: out.executor.clone(),
                    address,
                    size: out.sizes.get(reduce as usize).copied().unwrap_or(0),
                })
            })
            .collect()
    }
}

/// Runs the driver loop until `Stop`.
pub(crate) async fn run_loop(
    mut rx: UnboundedReceiver<Event>,
    tx: UnboundedSender<Event>,
    shared: Arc<Shared>,
    settings: Settings,
) {
    let mut core = Core {
        dag: Dag::new(),
        tasks: TaskScheduler::new(settings.mode, settings.max_failures, settings.locality_wait_ms),
        executors: HashMap::new(),
        jobs: HashMap::new(),
        stage_started: HashMap::new(),
        shared,
        tx,
        settings,
        started: Instant::now(),
        bar: progress::Bar::default(),
        last_progress: Instant::now(),
        lost: HashSet::new(),
    };
    while let Some(event) = rx.recv().await {
        if let Event::Stop(done) = event {
            core.stop_executors().await;
            let _ = done.send(());
            return;
        }
        core.handle(event);
        core.launch();
    }
}

impl Core {
    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::RunJob { rdd, partitions, ctor, env, name, reply } => {
                let count = partitions.len();
                if let Some(message) = self.shared.fatal.lock().expect("fatal lock").clone() {
                    let _ = reply.send(Err(SparkError::JobAborted(message)));
                    return;
                }
                let (job, events) = self.dag.submit_job(rdd, partitions, ctor, env, name.clone());
                tracing::info!("Got job {job} ({name}) with {count} output partitions");
                self.jobs.insert(job, JobInfo { reply, name, started: Instant::now() });
                if let Some(j) = self.dag.jobs.get(&job) {
                    for s in &j.skipped {
                        tracing::info!("Stage {s} of job {job} skipped: its shuffle output exists");
                    }
                }
                self.dag_events(events);
            }
            Event::Registered { id, address, host, cores } => {
                let endpoint = match Endpoint::from_shared(format!("http://{address}")) {
                    Ok(endpoint) => endpoint,
                    Err(e) => {
                        tracing::error!(executor = %id, %address, error = %e, "an executor registered with a bad address");
                        return;
                    }
                };
                let client = ExecutorEndpointClient::new(endpoint.connect_lazy());
                tracing::info!("Registered executor {id} at {address} with {cores} core(s)");
                self.executors.insert(id.clone(), Executor { address, host: host.clone(), client });
                self.tasks.add_executor(&id, &host, cores);
            }
            Event::Status(status) => self.status(*status),
            Event::LaunchFailed { task_id, message } => {
                let error = TaskError::Refused { message };
                self.task_failed(task_id, error);
            }
            Event::ExecutorGone { id, reason } => self.executor_gone(&id, &reason),
            Event::Fatal(message) => {
                *self.shared.fatal.lock().expect("fatal lock") = Some(message.clone());
                for (job, info) in self.jobs.drain() {
                    tracing::error!("Job {job} ({}) failed: {message}", info.name);
                    let _ = info.reply.send(Err(SparkError::JobAborted(message.clone())));
                }
            }
            Event::Unpersist(rdd, done) => {
                self.dag.cached.retain(|(r, _), _| *r != rdd);
                let removals: Vec<_> = self
                    .executors
                    .values()
                    .map(|executor| {
                        let mut client = executor.client.clone();
                        async move {
                            let request = client.remove_rdd(pb::RemoveRddRequest { rdd_id: rdd });
                            let _ = tokio::time::timeout(Duration::from_secs(10), request).await;
                        }
                    })
                    .collect();
                tokio::spawn(async move {
                    futures::future::join_all(removals).await;
                    let _ = done.send(());
                });
            }
            Event::Tick => self.tick(),
            Event::Stop(_) => {}
        }
    }

    fn dag_events(&mut self, events: Vec<DagEvent>) {
        for event in events {
            match event {
                DagEvent::Submit { stage, attempt, indexes } => {
                    let Some(s) = self.dag.stages.get(&stage) else { continue };
                    let kind = if s.result.is_some() { "ResultStage" } else { "ShuffleMapStage" };
                    tracing::info!(
                        "Submitting {} missing tasks from {kind} {stage} ({}) (first 15 tasks are for partitions {:?})",
                        indexes.len(),
                        s.name,
                        indexes.iter().take(15).map(|&i| s.partitions[i]).collect::<Vec<_>>()
                    );
                    let rdd_id = s.rdd.id;
                    let prefs: Vec<(usize, Prefs)> = indexes
                        .iter()
                        .map(|&i| {
                            let partition = s.partitions[i] as u32;
                            let prefs = match self.dag.cached.get(&(rdd_id, partition)) {
                                Some(e) => Prefs {
                                    executors: vec![e.clone()],
                                    hosts: self.executors.get(e).map(|x| vec![x.host.clone()]).unwrap_or_default(),
                                },
                                None => Prefs::default(),
                            };
                            (i, prefs)
                        })
                        .collect();
                    let job = s.jobs.iter().next().copied().unwrap_or(0);
                    let total = s.partitions.len();
                    self.stage_started.entry(stage).or_insert_with(Instant::now);
                    let now = self.now_ms();
                    self.tasks.submit(stage, attempt, job, total, prefs, now);
                }
                DagEvent::Cancel { stage } => self.tasks.cancel(stage),
                DagEvent::StageCompleted { stage, name } => {
                    let took = self.stage_started.remove(&stage).map(|t| t.elapsed().as_secs_f64()).unwrap_or(0.0);
                    tracing::info!("Stage {stage} ({name}) finished in {took:.3} s");
                }
                DagEvent::JobSucceeded { job, results } => {
                    self.clear_progress();
                    if let Some(info) = self.jobs.remove(&job) {
                        tracing::info!(
                            "Job {job} finished: {}, took {:.6} s",
                            info.name,
                            info.started.elapsed().as_secs_f64()
                        );
                        let _ = info.reply.send(Ok(results));
                    }
                }
                DagEvent::JobFailed { job, message } => {
                    self.clear_progress();
                    if let Some(info) = self.jobs.remove(&job) {
                        tracing::error!(
                            "Job {job} failed: {}, took {:.6} s: {message}",
                            info.name,
                            info.started.elapsed().as_secs_f64()
                        );
                        let _ = info.reply.send(Err(SparkError::JobAborted(message)));
                    }
                }
            }
        }
    }

    fn launch(&mut self) {
        let now = self.now_ms();
        for launch in self.tasks.offer(now) {
            let Some(stage) = self.dag.stages.get(&launch.stage) else { continue };
            let partition = stage.partitions[launch.index];
            let root = stage.rdd.plan(self, partition);
            let sink = match (&stage.shuffle, &stage.result) {
                (Some(dep), _) => Sink::Shuffle {
                    shuffle_id: dep.shuffle_id,
                    num_reduce: dep.num_reduce as u32,
                    ctor: dep.writer,
                    env: dep.env.clone(),
                },
                (None, Some(spec)) => Sink::Result { ctor: spec.ctor, env: spec.env.clone() },
                (None, None) => continue,
            };
            let job_id = stage.jobs.iter().next().copied().unwrap_or(0);
            let task = TaskDescription {
                task_id: launch.task_id,
                attempt: launch.attempt,
                job_id,
                stage_id: launch.stage,
                stage_attempt: launch.stage_attempt,
                partition: partition as u32,
                root,
                sink,
            };
            let Some(executor) = self.executors.get(&launch.executor) else { continue };
            tracing::debug!(
                "Starting task {}.{} in stage {}.{} (TID {}) ({} executor {}, partition {partition}, {})",
                launch.index,
                launch.attempt,
                launch.stage,
                launch.stage_attempt,
                launch.task_id,
                executor.host,
                launch.executor,
                launch.locality.name()
            );
            let frame = weft_executor::frame::encode_task(&task);
            let mut client = executor.client.clone();
            let tx = self.tx.clone();
            let task_id = launch.task_id;
            tokio::spawn(async move {
                let chunks: Vec<pb::Chunk> = frame.chunks(CHUNK).map(|c| pb::Chunk { data: c.to_vec() }).collect();
                if let Err(status) = client.launch_task(futures::stream::iter(chunks)).await {
                    let _ = tx.send(Event::LaunchFailed { task_id, message: status.message().to_owned() });
                }
            });
        }
    }

    fn lost_text(&self, task_id: u64, error: &TaskError) -> String {
        match self.tasks.describe(task_id) {
            Some((stage, stage_attempt, index, attempt, executor)) => {
                let host = self.executors.get(&executor).map(|e| e.host.clone()).unwrap_or_default();
                format!("Lost task {index}.{attempt} in stage {stage}.{stage_attempt} (TID {task_id}) ({host} executor {executor}): {error}")
            }
            None => format!("Lost task (TID {task_id}): {error}"),
        }
    }

    fn status(&mut self, status: TaskStatus) {
        let TaskStatus { task_id, executor_id, end, accumulators, blocks, metrics: _ } = status;
        let Some((stage, _, index, _, _)) = self.tasks.describe(task_id) else { return };
        match end {
            TaskEnd::Failed(error) => self.task_failed(task_id, error),
            TaskEnd::Result(bytes) => {
                if let Outcome::Succeeded { .. } = self.tasks.succeeded(task_id) {
                    self.merge_reports(&executor_id, accumulators, blocks);
                    let events = self.dag.result_task_succeeded(stage, index, bytes);
                    self.dag_events(events);
                }
            }
            TaskEnd::Map(map) => {
                if let Outcome::Succeeded { .. } = self.tasks.succeeded(task_id) {
                    self.merge_reports(&executor_id, accumulators, blocks);
                    let events =
                        self.dag.map_task_succeeded(stage, index, MapOut { executor: executor_id, sizes: map.sizes });
                    self.dag_events(events);
                }
            }
        }
    }

    fn merge_reports(
        &mut self,
        executor: &str,
        accumulators: Vec<(u64, Vec<u8>)>,
        blocks: Vec<weft_executor::plan::BlockUpdate>,
    ) {
        let mergers = self.shared.accumulators.lock().expect("accumulator lock");
        for (id, bytes) in accumulators {
            if let Some(merge) = mergers.get(&id) {
                merge(&bytes);
            }
        }
        for b in blocks {
            self.dag.cached.insert((b.rdd_id, b.partition), executor.to_owned());
        }
    }

    fn task_failed(&mut self, task_id: u64, error: TaskError) {
        let Some((stage, ..)) = self.tasks.describe(task_id) else { return };
        let lost = self.lost_text(task_id, &error);
        tracing::warn!("{lost}");
        if let TaskError::FetchFailed { shuffle_id, map_index, .. } = &error {
            self.tasks.failed(task_id, false, &lost);
            let events = self.dag.fetch_failed(stage, *shuffle_id, *map_index, &error.to_string());
            self.dag_events(events);
            return;
        }
        if let Outcome::Abort { stage, message } =
            self.tasks.failed(task_id, error.counts_toward_task_failures(), &lost)
        {
            tracing::error!("Task set for stage {stage} aborted: {message}");
            self.tasks.cancel(stage);
            let events = self.dag.stage_aborted(stage, &message);
            self.dag_events(events);
        }
    }

    fn executor_gone(&mut self, id: &str, reason: &str) {
        if !self.lost.insert(id.to_owned()) {
            return;
        }
        tracing::error!("Lost executor {id}: {reason}");
        self.executors.remove(id);
        self.shared.heartbeats.lock().expect("heartbeat lock").remove(id);
        let requeued = self.tasks.remove_executor(id);
        if !requeued.is_empty() {
            tracing::warn!(
                "{} running task(s) of executor {id} will run again (not counted as failures)",
                requeued.len()
            );
        }
        let events = self.dag.executor_lost(id);
        self.dag_events(events);
    }

    fn tick(&mut self) {
        let timeout = self.settings.network_timeout;
        let expired: Vec<String> = self
            .shared
            .heartbeats
            .lock()
            .expect("heartbeat lock")
            .iter()
            .filter(|(_, at)| at.elapsed() > timeout)
            .map(|(id, _)| id.clone())
            .collect();
        for id in expired {
            let reason = format!("Executor heartbeat timed out after {} ms", timeout.as_millis());
            self.executor_gone(&id, &reason);
        }
        if self.settings.show_progress
            && self.last_progress.elapsed() >= Duration::from_millis(progress::UPDATE_PERIOD_MS)
        {
            self.last_progress = Instant::now();
            let stages: Vec<StageProgress> = self
                .stage_started
                .iter()
                .filter(|(s, _)| self.dag.is_running(**s))
                .filter_map(|(&stage, started)| {
                    let (completed, active, total) = self.tasks.counts(stage)?;
                    Some(StageProgress {
                        stage,
                        completed,
                        active,
                        total,
                        running_ms: started.elapsed().as_millis() as u64,
                    })
                })
                .collect();
            let mut stages = stages;
            stages.sort_by_key(|s| s.stage);
            let width = progress::width(std::env::var("COLUMNS").ok().as_deref());
            let now = self.now_ms();
            if let Some(text) = self.bar.tick(&stages, width, now) {
                eprint!("{text}");
            }
        }
    }

    fn clear_progress(&mut self) {
        if self.settings.show_progress {
            let width = progress::width(std::env::var("COLUMNS").ok().as_deref());
            if let Some(text) = self.bar.clear(width) {
                eprint!("{text}");
            }
        }
    }

    async fn stop_executors(&mut self) {
        let stops = self.executors.values().map(|e| {
            let mut client = e.client.clone();
            async move {
                let _ = tokio::time::timeout(Duration::from_secs(5), client.stop_executor(pb::StopExecutorRequest {}))
                    .await;
            }
        });
        futures::future::join_all(stops).await;
    }
}

/// The driver's gRPC endpoint for its executors.
pub(crate) struct DriverService {
    pub(crate) tx: UnboundedSender<Event>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) application_id: String,
}

type ChunkStream = Pin<Box<dyn Stream<Item = Result<pb::Chunk, Status>> + Send>>;

#[tonic::async_trait]
impl DriverEndpoint for DriverService {
    async fn register_executor(
        &self,
        request: Request<pb::RegisterExecutorRequest>,
    ) -> Result<Response<pb::RegisterExecutorResponse>, Status> {
        let r = request.into_inner();
        let own = build_id().to_string();
        if r.build_id != own {
            let message = format!(
                "executor {} runs build {} of the application binary, the driver runs {own}; refusing it",
                r.executor_id, r.build_id
            );
            tracing::error!("{message}");
            return Err(Status::failed_precondition(message));
        }
        self.shared.heartbeats.lock().expect("heartbeat lock").insert(r.executor_id.clone(), Instant::now());
        let event =
            Event::Registered { id: r.executor_id, address: r.address, host: r.host, cores: r.cores.max(1) as usize };
        self.tx.send(event).map_err(|_| Status::unavailable("the driver is stopping"))?;
        Ok(Response::new(pb::RegisterExecutorResponse { application_id: self.application_id.clone() }))
    }

    async fn heartbeat(
        &self,
        request: Request<pb::HeartbeatRequest>,
    ) -> Result<Response<pb::HeartbeatResponse>, Status> {
        let r = request.into_inner();
        let mut beats = self.shared.heartbeats.lock().expect("heartbeat lock");
        let known = beats.contains_key(&r.executor_id);
        if known {
            beats.insert(r.executor_id, Instant::now());
        }
        Ok(Response::new(pb::HeartbeatResponse { unknown_executor: !known }))
    }

    async fn status_update(&self, request: Request<Streaming<pb::Chunk>>) -> Result<Response<pb::Ack>, Status> {
        let mut stream = request.into_inner();
        let mut bytes = Vec::new();
        while let Some(chunk) = stream.next().await {
            bytes.extend_from_slice(&chunk?.data);
        }
        let status: TaskStatus = bincode::deserialize(&bytes)
            .map_err(|e| Status::invalid_argument(format!("undecodable task status: {e}")))?;
        self.tx.send(Event::Status(Box::new(status))).map_err(|_| Status::unavailable("the driver is stopping"))?;
        Ok(Response::new(pb::Ack {}))
    }

    type FetchBroadcastStream = ChunkStream;

    async fn fetch_broadcast(
        &self,
        request: Request<pb::FetchBroadcastRequest>,
    ) -> Result<Response<ChunkStream>, Status> {
        let id = request.into_inner().broadcast_id;
        let bytes = self.shared.broadcasts.lock().expect("broadcast lock").get(&id).cloned();
        let bytes = bytes.ok_or_else(|| Status::not_found(format!("no broadcast {id}")))?;
        let chunks: Vec<Result<pb::Chunk, Status>> =
            bytes.chunks(CHUNK).map(|c| Ok(pb::Chunk { data: c.to_vec() })).collect();
        Ok(Response::new(Box::pin(futures::stream::iter(chunks))))
    }
}

//! The driver's engine room: one task owns the DAG scheduler, the task scheduler and the executor
//! table, and reacts to events (a job from user code, an executor registering, a task's end, an
//! executor gone, a timer: the tick, speculation's interval, the resubmission of failed stages). It
//! carries out what the schedulers decide: launching tasks, killing attempts, failing jobs. Around it:
//! the driver's gRPC endpoint for executors ([`endpoint`]), and the executor launchers (child
//! processes for `local[N]`, YARN containers through the application master).

mod actions;
mod endpoint;
mod failures;
mod listen;
mod readiness;
mod settings;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use tonic::transport::Endpoint;
use weft_executor::auth::{AuthChannel, Present};
use weft_executor::context::{MapLocation, TaskMetrics};
use weft_executor::plan::{ResultCtor, TaskEnd, TaskStatus};
use weft_executor::{FnRef, TaskError};
use weft_proto::spark_pb::executor_endpoint_client::ExecutorEndpointClient;
use weft_proto::spark_pb::{self as pb};

pub(crate) use endpoint::DriverService;
pub(crate) use readiness::Ready;
pub(crate) use settings::Settings;

use super::dag::metrics::StageMetricsBook;
use super::dag::{Dag, DagEvent, MapOut};
use super::error::SparkError;
use super::lineage::{PlanCtx, RddNode};
use super::loss::ExecutorLoss;
use super::progress::{self, StageProgress};
use super::tasks::{Outcome, Prefs, TaskScheduler, TaskSpec};
pub(crate) use listen::{AppStart, Listener};

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
    Registered(Registration),
    Status(Box<TaskStatus>),
    /// A task could not be handed to its executor: `refused` when the executor answered and would
    /// not run it (counted), otherwise the executor could not be reached (not counted).
    LaunchFailed {
        task_id: u64,
        executor_id: String,
        refused: bool,
        message: String,
    },
    /// An executor is gone; its running tasks fail with the loss's message, counted toward
    /// `spark.task.maxFailures` only when the loss was caused by the application.
    ExecutorGone {
        id: String,
        loss: ExecutorLoss,
    },
    /// The cluster will not give more executors; every job fails with this message.
    Fatal(String),
    /// Forget an RDD's cached blocks, on the driver and every executor; replies once they are gone.
    Unpersist(u32, std::sync::mpsc::Sender<()>),
    Tick,
    /// `spark.speculation.interval` elapsed: look for slow tasks to copy.
    CheckSpeculation,
    /// `RESUBMIT_TIMEOUT` after a fetch failure: resubmit the failed stages.
    ResubmitFailedStages,
    /// The application ends with this exit code (0: it succeeded); replies once executors are stopped.
    Stop(std::sync::mpsc::Sender<()>, i32),
}

/// State shared with the gRPC handlers and the `SparkContext`.
#[derive(Default)]
pub(crate) struct Shared {
    pub(crate) broadcasts: Mutex<HashMap<u64, Arc<Vec<u8>>>>,
    pub(crate) heartbeats: Mutex<HashMap<String, Instant>>,
    pub(crate) accumulators: Mutex<HashMap<u64, super::shared::Merger>>,
    /// Set when the application cannot go on (too many executor failures).
    pub(crate) fatal: Mutex<Option<String>>,
    /// Per-stage spill and skew figures.
    pub(crate) stage_metrics: Mutex<StageMetricsBook>,
    /// What `/api/v1` shows: the application's jobs, stages, tasks and executors.
    pub(crate) status: Mutex<crate::status::AppStatus>,
    /// The executors registered now, which the first job waits for on a cluster.
    pub(crate) registered: readiness::Registered,
}

struct Executor {
    address: String,
    host: String,
    /// Where its shuffle files are, for reducers on its host ("" if it did not say).
    shuffle_dir: String,
    client: ExecutorEndpointClient<AuthChannel>,
}

/// What an executor says of itself when it registers.
#[derive(Debug)]
pub(crate) struct Registration {
    pub(crate) id: String,
    pub(crate) address: String,
    pub(crate) host: String,
    pub(crate) cores: usize,
    pub(crate) shuffle_dir: String,
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
    /// The listener's hooks: `/api/v1`'s store, and the event log when `spark.eventLog.enabled`.
    listener: Option<Listener>,
}

impl PlanCtx for Core {
    fn map_locations(&self, shuffle_id: u32, reduce: u32) -> Vec<MapLocation> {
        let Some(outputs) = self.dag.outputs.get(&shuffle_id) else { return Vec::new() };
        outputs
            .iter()
            .enumerate()
            .filter_map(|(map_index, out)| {
                let out = out.as_ref()?;
                let executor = self.executors.get(&out.executor);
                let of = |field: fn(&Executor) -> &String| executor.map(|e| field(e).clone()).unwrap_or_default();
                Some(MapLocation {
                    map_index: map_index as u32,
                    executor_id: out.executor.clone(),
                    address: of(|e| &e.address),
                    host: of(|e| &e.host),
                    shuffle_dir: of(|e| &e.shuffle_dir),
                    size: out.sizes.get(reduce as usize).copied().unwrap_or(0),
                })
            })
            .collect()
    }
}

/// Sends `event` every `period` until the driver loop is gone.
fn every(period: Duration, tx: UnboundedSender<Event>, event: fn() -> Event) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(period);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if tx.send(event()).is_err() {
                return;
            }
        }
    });
}

/// Runs the driver loop until `Stop`.
pub(crate) async fn run_loop(
    mut rx: UnboundedReceiver<Event>,
    tx: UnboundedSender<Event>,
    shared: Arc<Shared>,
    settings: Settings,
    listener: Option<Listener>,
) {
    if let Some(speculation) = &settings.scheduler.speculation {
        tracing::info!("Starting speculative execution thread");
        every(Duration::from_millis(speculation.interval_ms), tx.clone(), || Event::CheckSpeculation);
    }
    let mut core = Core {
        dag: Dag::new(settings.max_consecutive_stage_attempts),
        tasks: TaskScheduler::new(settings.scheduler.clone()),
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
        listener,
    };
    while let Some(event) = rx.recv().await {
        if let Event::Stop(done, exit_code) = event {
            core.stop_executors().await;
            if let Some(listener) = core.listener.take() {
                listener.stop(exit_code);
            }
            let _ = done.send(());
            return;
        }
        core.handle(event);
        core.apply_effects();
        core.launch();
        core.apply_effects();
    }
}

impl Core {
    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::RunJob { rdd, partitions, ctor, env, name, reply } => {
                self.run_job(rdd, partitions, ctor, env, name, reply)
            }
            Event::Registered(registration) => self.register(registration),
            Event::Status(status) => self.status(*status),
            Event::LaunchFailed { task_id, executor_id, refused, message } => {
                let error = if refused {
                    TaskError::Refused { message }
                } else {
                    let reason = format!("cannot reach the executor to launch the task: {message}");
                    TaskError::ExecutorLost { executor_id, caused_by_app: false, reason }
                };
                self.task_failed(task_id, error);
            }
            Event::ExecutorGone { id, loss } => self.executor_gone(&id, &loss),
            Event::Fatal(message) => {
                *self.shared.fatal.lock().expect("fatal lock") = Some(message.clone());
                self.shared.registered.give_up();
                let jobs: Vec<(u32, JobInfo)> = self.jobs.drain().collect();
                for (job, info) in jobs {
                    tracing::error!("Job {job} ({}) failed: {message}", info.name);
                    self.listen_job_ended(job, Some(&message));
                    let _ = info.reply.send(Err(SparkError::JobAborted(message.clone())));
                }
            }
            Event::Unpersist(rdd, done) => self.unpersist(rdd, done),
            Event::Tick => self.tick(),
            Event::CheckSpeculation => {
                let now = self.now_ms();
                self.tasks.check_speculatable(now);
            }
            Event::ResubmitFailedStages => {
                let events = self.dag.resubmit_failed_stages();
                self.dag_events(events);
            }
            Event::Stop(..) => {}
        }
    }

    fn run_job(
        &mut self,
        rdd: Arc<RddNode>,
        partitions: Vec<usize>,
        ctor: FnRef<ResultCtor>,
        env: Vec<u8>,
        name: String,
        reply: JobReply,
    ) {
        let count = partitions.len();
        if let Some(message) = self.shared.fatal.lock().expect("fatal lock").clone() {
            let _ = reply.send(Err(SparkError::JobAborted(message)));
            return;
        }
        let (job, events) = self.dag.submit_job(rdd, partitions, ctor, env, name.clone());
        tracing::info!("Got job {job} ({name}) with {count} output partitions");
        self.jobs.insert(job, JobInfo { reply, name, started: Instant::now() });
        self.listen_job_started(job);
        if let Some(j) = self.dag.jobs.get(&job) {
            for s in &j.skipped {
                tracing::info!("Stage {s} of job {job} skipped: its shuffle output exists");
            }
        }
        self.dag_events(events);
    }

    fn register(&mut self, Registration { id, address, host, cores, shuffle_dir }: Registration) {
        let endpoint = match Endpoint::from_shared(format!("http://{address}")) {
            Ok(endpoint) => endpoint,
            Err(e) => {
                tracing::error!(executor = %id, %address, error = %e, "an executor registered with a bad address");
                return;
            }
        };
        let client = ExecutorEndpointClient::new(Present(self.settings.secret.clone()).on(endpoint.connect_lazy()));
        tracing::info!("Registered executor {id} at {address} with {cores} core(s)");
        self.listen_executor_added(&id, &address, &host, cores);
        let new = self.executors.insert(id.clone(), Executor { address, host: host.clone(), shuffle_dir, client });
        self.tasks.add_executor(&id, &host, cores);
        if new.is_none() {
            self.shared.registered.added();
        }
    }

    fn unpersist(&mut self, rdd: u32, done: std::sync::mpsc::Sender<()>) {
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

    fn dag_events(&mut self, events: Vec<DagEvent>) {
        for event in events {
            match event {
                DagEvent::Submit { stage, attempt, indexes } => self.submit_stage(stage, attempt, indexes),
                DagEvent::Cancel { stage, kill: None } => self.tasks.cancel(stage),
                DagEvent::Cancel { stage, kill: Some(reason) } => self.tasks.kill_stage(stage, &reason),
                DagEvent::ResubmitAfter { delay_ms } => {
                    let tx = self.tx.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
                        let _ = tx.send(Event::ResubmitFailedStages);
                    });
                }
                DagEvent::StageCompleted { stage, name } => self.stage_completed(stage, &name),
                DagEvent::JobSucceeded { job, results } => {
                    self.clear_progress();
                    self.listen_job_ended(job, None);
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
                    self.listen_job_ended(job, Some(&message));
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

    fn submit_stage(&mut self, stage: u32, attempt: u32, indexes: Vec<usize>) {
        let Some(s) = self.dag.stages.get(&stage) else { return };
        let kind = if s.result.is_some() { "ResultStage" } else { "ShuffleMapStage" };
        tracing::info!(
            "Submitting {} missing tasks from {kind} {stage} ({}) (first 15 tasks are for partitions {:?})",
            indexes.len(),
            s.name,
            indexes.iter().take(15).map(|&i| s.partitions[i]).collect::<Vec<_>>()
        );
        let rdd_id = s.rdd.id;
        let tasks: Vec<TaskSpec> = indexes
            .iter()
            .map(|&index| {
                let partition = s.partitions[index];
                let prefs = match self.dag.cached.get(&(rdd_id, partition as u32)) {
                    Some(e) => Prefs {
                        executors: vec![e.clone()],
                        hosts: self.executors.get(e).map(|x| vec![x.host.clone()]).unwrap_or_default(),
                    },
                    None => Prefs::default(),
                };
                TaskSpec { index, partition, prefs }
            })
            .collect();
        let job = s.jobs.iter().next().copied().unwrap_or(0);
        let total = s.partitions.len();
        self.stage_started.entry(stage).or_insert_with(Instant::now);
        self.listen_stage_submitted(stage, attempt);
        let now = self.now_ms();
        self.tasks.submit(stage, attempt, job, total, tasks, now);
    }

    /// The stage-end lines: how long it took, and its spill and skew figures.
    fn stage_completed(&mut self, stage: u32, name: &str) {
        let took = self.stage_started.remove(&stage).map(|t| t.elapsed().as_secs_f64()).unwrap_or(0.0);
        tracing::info!("Stage {stage} ({name}) finished in {took:.3} s");
        self.listen_stage_ended(stage, None);
        let sizes = self.dag.reduce_partition_bytes(stage);
        let figures = self.shared.stage_metrics.lock().expect("stage metrics lock").stage_completed(
            stage,
            name,
            sizes.as_deref(),
        );
        tracing::info!("{}", figures.report());
    }

    fn status(&mut self, status: TaskStatus) {
        let TaskStatus { task_id, executor_id, end, accumulators, blocks, metrics } = status;
        let Some(r) = self.tasks.describe(task_id).cloned() else { return };
        let now = self.now_ms();
        match end {
            TaskEnd::Failed(error) => self.task_failed(task_id, error),
            TaskEnd::Result(bytes) => {
                if !self.tasks.can_fetch_result(task_id, bytes.len() as u64) {
                    let reason = "Tasks result size has exceeded maxResultSize".to_owned();
                    self.task_failed(task_id, TaskError::Killed { reason });
                    return;
                }
                let outcome = self.tasks.succeeded(task_id, now);
                self.listen_task_ended(task_id, &r, None, &metrics);
                if let Outcome::Succeeded { .. } = outcome {
                    self.task_succeeded(r.stage, &executor_id, accumulators, blocks, &metrics);
                    let events = self.dag.result_task_succeeded(r.stage, r.index, bytes);
                    self.dag_events(events);
                }
            }
            TaskEnd::Map(map) => {
                let outcome = self.tasks.succeeded(task_id, now);
                self.listen_task_ended(task_id, &r, None, &metrics);
                if let Outcome::Succeeded { .. } = outcome {
                    self.task_succeeded(r.stage, &executor_id, accumulators, blocks, &metrics);
                    let out = MapOut { executor: executor_id, sizes: map.sizes };
                    let events = self.dag.map_task_succeeded(r.stage, r.index, out);
                    self.dag_events(events);
                }
            }
        }
    }

    fn task_succeeded(
        &mut self,
        stage: u32,
        executor: &str,
        accumulators: Vec<(u64, Vec<u8>)>,
        blocks: Vec<weft_executor::context::BlockUpdate>,
        metrics: &TaskMetrics,
    ) {
        self.shared.stage_metrics.lock().expect("stage metrics lock").task_succeeded(stage, metrics);
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

    fn tick(&mut self) {
        let timeout = self.settings.network_timeout;
        let expired: Vec<(String, Duration)> = self
            .shared
            .heartbeats
            .lock()
            .expect("heartbeat lock")
            .iter()
            .map(|(id, at)| (id.clone(), at.elapsed()))
            .filter(|(_, silent)| *silent > timeout)
            .collect();
        for (id, silent) in expired {
            let message = format!("Executor heartbeat timed out after {} ms", silent.as_millis());
            self.executor_gone(&id, &ExecutorLoss::new(message, false));
        }
        if self.settings.show_progress
            && self.last_progress.elapsed() >= Duration::from_millis(progress::UPDATE_PERIOD_MS)
        {
            self.last_progress = Instant::now();
            self.show_progress();
        }
    }

    fn show_progress(&mut self) {
        let mut stages: Vec<StageProgress> = self
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
        stages.sort_by_key(|s| s.stage);
        let width = progress::width(std::env::var("COLUMNS").ok().as_deref());
        let now = self.now_ms();
        if let Some(text) = self.bar.tick(&stages, width, now) {
            eprint!("{text}");
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

//! `SparkContext`: the entry point of a Spark program. It starts the driver's engine (scheduler loop,
//! RPC endpoint, executors), creates RDDs from collections and files, makes broadcast variables and
//! accumulators, and runs the jobs that actions submit.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;
use weft_executor::plan::ResultCtor;
use weft_executor::FnRef;

use super::backend::{self, AppStart, Event, Listener, Ready, Settings, Shared};
use super::conf::{SchedulerSettings, SparkConf, SparkSettings};
use super::dag::metrics::StageMetrics;
use super::error::SparkError;
use super::event_log::EventLog;
use super::executors::{self, Launched};
use super::lineage::{Data, RddNode};
use super::shared::{self, Accumulator, AccumulatorValue, Broadcast};
use super::ui;

/// A running Spark application's driver. Cheap to clone; every clone is the same context.
#[derive(Clone)]
pub struct SparkContext {
    inner: Arc<Inner>,
}

struct Inner {
    conf: SparkConf,
    application_id: String,
    ui_web_url: Option<String>,
    tx: UnboundedSender<Event>,
    shared: Arc<Shared>,
    next_rdd: AtomicU32,
    next_shuffle: AtomicU32,
    next_shared: AtomicU64,
    default_parallelism: usize,
    /// `spark.default.parallelism` as set by the user.
    explicit_parallelism: Option<usize>,
    runtime: Mutex<Option<tokio::runtime::Runtime>>,
    checkpoint_dir: Mutex<Option<std::path::PathBuf>>,
    launched: Mutex<Option<Launched>>,
}

fn config(e: String) -> SparkError {
    SparkError::Config(e)
}

/// A property's value as Spark shows it: redacted when the key looks like a secret (Spark's default
/// `spark.redaction.regex`, `(?i)secret|password|token|access[.]?key`).
fn redact(key: &str, value: &str) -> String {
    let key = key.to_ascii_lowercase();
    let secret = ["secret", "password", "token", "accesskey", "access.key"].iter().any(|w| key.contains(w));
    if secret {
        "*********(redacted)".to_owned()
    } else {
        value.to_owned()
    }
}

/// Spark's `waitBackendReady` on YARN: the first job waits for the share of the executors asked for
/// that `spark.scheduler.minRegisteredResourcesRatio` names (0.8 unset), at most
/// `spark.scheduler.maxRegisteredResourcesWaitingTime`.
fn wait_for_executors(shared: &Shared, expected: usize, scheduler: &SchedulerSettings) {
    let ratio = scheduler.min_registered_ratio.unwrap_or(0.8);
    let limit = Duration::from_millis(scheduler.max_registered_wait_ms);
    match shared.registered.wait(expected, ratio, limit) {
        Ready::Ratio => {
            tracing::info!("SchedulerBackend is ready for scheduling beginning after reached minRegisteredResourcesRatio: {ratio:?}")
        }
        Ready::Timeout => tracing::info!(
            "SchedulerBackend is ready for scheduling beginning after waiting maxRegisteredResourcesWaitingTime: {}(ns)",
            limit.as_nanos()
        ),
        Ready::GivenUp => {}
    }
}

/// What the event log's opening events say: the application, its user and its Spark properties.
fn app_start(conf: &SparkConf, spark: &SparkSettings, app_id: &str, attempt_id: Option<String>) -> AppStart {
    let user = weft_yarn_client::rm::submitting_user();
    let mut spark_properties: Vec<(String, String)> =
        conf.iter().filter(|(k, _)| !k.starts_with("spark.weft.")).map(|(k, v)| (k.to_owned(), redact(k, v))).collect();
    spark_properties.push(("spark.app.id".to_owned(), app_id.to_owned()));
    let executor_memory_mb = u64::try_from(spark.executor.memory_mb).unwrap_or(0);
    let container_mb = u64::try_from(spark.executor.container_mb).unwrap_or(0);
    AppStart {
        name: conf.app_name().unwrap_or("unnamed").to_owned(),
        app_id: app_id.to_owned(),
        attempt_id,
        user,
        spark_properties,
        executor_cores: spark.executor.cores,
        executor_memory_mb,
        overhead_mb: container_mb.saturating_sub(executor_memory_mb),
    }
}

impl SparkContext {
    /// Starts the driver: its RPC endpoint, the scheduler loop and the executors the master asks for
    /// (`local[N]`: one executor process with N task threads; `yarn`/`weft://…`: containers through
    /// the application master).
    pub fn start(conf: SparkConf) -> Result<SparkContext, SparkError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("driver")
            .enable_all()
            .build()
            .map_err(|e| SparkError::Internal(format!("cannot start the async runtime: {e}")))?;
        let spark = SparkSettings::from_conf(&conf)?;
        let plan = executors::plan(&conf, &spark)?;
        let secret = executors::secret(&spark)?;
        let settings = Settings::new(&spark, plan.kind == executors::Kind::Local, secret.clone());
        let shared = Arc::new(Shared::default());
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        // The application's events start before anything can ask about it: the web port's
        // `/api/v1` answers from the first request.
        let application_id = executors::application_id(plan.kind)?;
        let attempt = executors::attempt_id(plan.kind);
        let log = match &spark.ui.event_log {
            Some(log_settings) => {
                Some(EventLog::start(log_settings, &application_id, attempt.as_deref()).map_err(config)?)
            }
            None => None,
        };
        let app = app_start(&conf, &spark, &application_id, attempt);
        let listener = Some(Listener::start(log, app, shared.clone()));
        // The web port before the executors: the application master registers its URL as the
        // tracking URL.
        let host = executors::driver_host(&conf, plan.kind);
        let ui_web_url = runtime.block_on(ui::start(&spark.ui, &host, shared.clone())).map_err(config)?;
        let launched = runtime.block_on(executors::start(
            &conf,
            &spark,
            &plan,
            executors::Channels { tx: tx.clone(), shared: shared.clone() },
            &application_id,
            secret,
            ui_web_url.as_deref(),
        ))?;
        runtime.spawn(backend::run_loop(rx, tx.clone(), shared.clone(), settings, listener));
        let ticker = tx.clone();
        runtime.spawn(async move {
            let mut ticks = tokio::time::interval(Duration::from_millis(100));
            loop {
                ticks.tick().await;
                if ticker.send(Event::Tick).is_err() {
                    return;
                }
            }
        });
        if plan.kind == executors::Kind::Yarn {
            wait_for_executors(&shared, plan.instances, &spark.scheduler);
        }
        let default_parallelism = match spark.scheduler.default_parallelism {
            Some(n) => n.max(1),
            None => (plan.instances * plan.cores).max(2),
        };
        tracing::info!(
            "Running Spark application {} ({}) on {}; {} executor(s) of {} core(s)",
            launched.application_id,
            conf.app_name().unwrap_or("unnamed"),
            conf.master(),
            plan.instances,
            plan.cores
        );
        Ok(SparkContext {
            inner: Arc::new(Inner {
                application_id: launched.application_id.clone(),
                ui_web_url,
                conf,
                tx,
                shared,
                next_rdd: AtomicU32::new(0),
                next_shuffle: AtomicU32::new(0),
                next_shared: AtomicU64::new(0),
                default_parallelism,
                explicit_parallelism: spark.scheduler.default_parallelism,
                runtime: Mutex::new(Some(runtime)),
                checkpoint_dir: Mutex::new(None),
                launched: Mutex::new(Some(launched)),
            }),
        })
    }

    pub fn conf(&self) -> &SparkConf {
        &self.inner.conf
    }

    /// `application_…` on a cluster, `local-…` in local mode.
    pub fn application_id(&self) -> &str {
        &self.inner.application_id
    }

    /// Spark's `uiWebUrl`: where the driver's web port (`/metrics`) listens, `None` when
    /// `spark.ui.enabled` is false or no port was free.
    pub fn ui_web_url(&self) -> Option<&str> {
        self.inner.ui_web_url.as_deref()
    }

    pub fn default_parallelism(&self) -> usize {
        self.inner.default_parallelism
    }

    /// The spill and skew figures of the application's recent stages, by stage id: per stage, its
    /// successful tasks' bytes spilled (memory and disk) and shuffle bytes, and for a shuffle map
    /// stage its largest reduce partition against the median and the total.
    pub fn stage_metrics(&self) -> Vec<StageMetrics> {
        self.inner.shared.stage_metrics.lock().expect("stage metrics lock").snapshot()
    }

    pub(crate) fn next_rdd_id(&self) -> u32 {
        self.inner.next_rdd.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn next_shuffle_id(&self) -> u32 {
        self.inner.next_shuffle.fetch_add(1, Ordering::Relaxed)
    }

    /// `spark.default.parallelism` when the user set it (shuffles otherwise keep their parent's count).
    pub(crate) fn explicit_parallelism(&self) -> Option<usize> {
        self.inner.explicit_parallelism
    }

    /// Runs a job; one serialized result per partition, in order. Blocks the calling thread.
    pub(crate) fn run_job(
        &self,
        rdd: &Arc<RddNode>,
        name: String,
        partitions: Vec<usize>,
        ctor: FnRef<ResultCtor>,
        env: Vec<u8>,
    ) -> Result<Vec<Vec<u8>>, SparkError> {
        let (reply, wait) = std::sync::mpsc::channel();
        let event = Event::RunJob { rdd: rdd.clone(), partitions, ctor, env, name, reply };
        self.inner.tx.send(event).map_err(|_| SparkError::Stopped)?;
        wait.recv().map_err(|_| SparkError::Stopped)?
    }

    /// Drops an RDD's cached blocks everywhere; returns once the executors have dropped them.
    pub(crate) fn unpersist(&self, rdd: u32) {
        let (done, wait) = std::sync::mpsc::channel();
        if self.inner.tx.send(Event::Unpersist(rdd, done)).is_ok() {
            let _ = wait.recv_timeout(Duration::from_secs(15));
        }
    }

    /// Spark's `setCheckpointDir`: where `checkpoint` writes (a directory every executor can reach;
    /// created if missing, under an application-specific subdirectory).
    pub fn set_checkpoint_dir(&self, dir: &str) -> Result<(), SparkError> {
        let path = std::path::absolute(dir)
            .map_err(|e| SparkError::Io(format!("{dir}: {e}")))?
            .join(&self.inner.application_id);
        std::fs::create_dir_all(&path).map_err(|e| SparkError::Io(format!("cannot create {}: {e}", path.display())))?;
        *self.inner.checkpoint_dir.lock().expect("checkpoint lock") = Some(path);
        Ok(())
    }

    pub(crate) fn checkpoint_dir(&self) -> Option<std::path::PathBuf> {
        self.inner.checkpoint_dir.lock().expect("checkpoint lock").clone()
    }

    /// A read-only value each executor fetches once.
    pub fn broadcast<T: Data>(&self, value: T) -> Broadcast<T> {
        let id = self.inner.next_shared.fetch_add(1, Ordering::Relaxed);
        let bytes = shared::encode_value(&value);
        self.inner.shared.broadcasts.lock().expect("broadcast lock").insert(id, Arc::new(bytes));
        Broadcast::on_driver(id, value)
    }

    /// An accumulator that sums (numbers) or appends (vectors) what tasks add.
    pub fn accumulator<T: AccumulatorValue>(&self, name: &str) -> Accumulator<T> {
        let id = self.inner.next_shared.fetch_add(1, Ordering::Relaxed);
        let (acc, cell) = Accumulator::on_driver(id, name.to_owned());
        self.inner.shared.accumulators.lock().expect("accumulator lock").insert(id, shared::merger(cell));
        acc
    }

    /// Spark's `longAccumulator`.
    pub fn long_accumulator(&self, name: &str) -> Accumulator<i64> {
        self.accumulator(name)
    }

    /// Stops the executors and, on a cluster, unregisters with `succeeded`'s final status.
    pub fn stop_with(&self, succeeded: bool, diagnostics: &str) {
        let Some(runtime) = self.inner.runtime.lock().expect("runtime lock").take() else { return };
        let (done, wait) = std::sync::mpsc::channel();
        if self.inner.tx.send(Event::Stop(done, if succeeded { 0 } else { 1 })).is_ok() {
            let _ = wait.recv_timeout(Duration::from_secs(15));
        }
        let fatal = self.inner.shared.fatal.lock().expect("fatal lock").clone();
        let (succeeded, diagnostics) = match fatal {
            Some(message) => (false, message),
            None => (succeeded, diagnostics.to_owned()),
        };
        if let Some(launched) = self.inner.launched.lock().expect("launched lock").take() {
            runtime.block_on(launched.finish(succeeded, &diagnostics));
        }
        runtime.shutdown_timeout(Duration::from_secs(2));
    }

    /// `stop()` after a successful program.
    pub fn stop(&self) {
        self.stop_with(true, "");
    }
}

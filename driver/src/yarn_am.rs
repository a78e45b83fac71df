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

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use weft_proto::{pb, ApplicationAttemptId, ContainerId, Resource};
use weft_yarn_client::am::{amrm_token_from, AmSession, Registration};
use weft_yarn_client::grant::grant;
use weft_yarn_client::nm::{start_containers, stop_containers};

pub(crate) use super::executor_book::AmEvent;
use super::executor_book::ExecutorBook;
use super::launch_env;

/// Allocate interval while executors are asked for or starting.
const PENDING_INTERVAL: Duration = Duration::from_millis(100);
/// Allocate interval while every executor runs.
const STEADY_INTERVAL: Duration = Duration::from_secs(1);
/// The progress Spark's application master reports on every allocate call.
const PROGRESS: f32 = 0.1;

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
    /// Where the tracking link points once the application has finished: its page on the History
    /// Server (`spark.yarn.historyServer.address`), or empty.
    pub(crate) final_tracking_url: String,
    /// Executors run as this user.
    pub(crate) user: String,
    /// The attempt's AMRM token (an encoded `TokenProto`), sent with every scheduler call.
    pub(crate) amrm_token: Vec<u8>,
}

/// A finished attempt's page on the History Server at `address` (`host:port`, or a URL with its
/// scheme), as Spark's application master hands it to YARN at unregistration.
pub(crate) fn history_url(address: &str, attempt: ApplicationAttemptId) -> String {
    let address = address.trim_end_matches('/');
    let base = if address.contains("://") { address.to_owned() } else { format!("http://{address}") };
    format!("{base}/history/{}/{}", attempt.application, attempt.attempt)
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
        let amrm_token = amrm_token_from(lookup)?;
        let final_tracking_url = String::new();
        Ok(AmConfig {
            scheduler_address,
            attempt_id,
            host,
            rpc_port,
            tracking_url,
            final_tracking_url,
            user,
            amrm_token,
        })
    }

    /// What the scheduler is told at registration.
    fn registration(&self) -> Registration {
        Registration {
            scheduler_address: self.scheduler_address.clone(),
            attempt_id: self.attempt_id,
            amrm_token: self.amrm_token.clone(),
            host: self.host.clone(),
            rpc_port: self.rpc_port,
            tracking_url: self.tracking_url.clone(),
        }
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
    final_tracking_url: String,
    commands: mpsc::UnboundedSender<Command>,
    task: tokio::task::JoinHandle<(AmSession, Result<(), String>)>,
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
        let (session, _) = AmSession::register(&config.registration()).await.map_err(|e| e.to_string())?;
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
        Ok((YarnAm { final_tracking_url: config.final_tracking_url, commands, task }, events))
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
        tracing::info!(attempt = %session.attempt_id(), final_status, diagnostics, "unregistering");
        session.finish(final_status, diagnostics, &self.final_tracking_url).await.map_err(|e| e.to_string())
    }
}

/// The allocate loop's state, owned by its task.
struct Allocator {
    session: AmSession,
    book: ExecutorBook,
    launch: Arc<LaunchFn>,
    user: String,
    events: mpsc::UnboundedSender<AmEvent>,
    commands: mpsc::UnboundedReceiver<Command>,
}

impl Allocator {
    async fn run(mut self) -> (AmSession, Result<(), String>) {
        let result = self.allocate_until_stopped().await;
        if let Err(message) = &result {
            tracing::error!(attempt = %self.session.attempt_id(), error = %message, "the allocate loop stopped");
        }
        self.stop_executors().await;
        let releases = self.book.take_releases();
        if result.is_ok() && !releases.is_empty() {
            // Give the containers back; their completions are no longer read.
            if let Err(e) = self.session.allocate(self.book.ask(), &releases, PROGRESS).await {
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
            let reply = self.session.allocate(self.book.ask(), &releases, PROGRESS).await.map_err(|e| e.to_string())?;
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
        for (id, result) in start_containers(&self.user, self.session.nm_tokens(), starts).await {
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
        stop_containers(self.session.nm_tokens(), vec![stop]).await;
    }

    async fn stop_executors(&mut self) {
        let stops = self.book.stop();
        if !stops.is_empty() {
            tracing::info!(executors = stops.len(), "stopping every executor container");
        }
        stop_containers(self.session.nm_tokens(), stops).await;
    }
}

#[cfg(test)]
mod tests;

//! Runs one verified task on the calling thread: builds its pipeline, drives it into the sink
//! (a result for the driver, or shuffle files), and reports how it ended with its metrics,
//! accumulator updates and cached blocks. A panic in user code fails the task, not the executor.
//! However the attempt ends, its execution memory and spill files are released.
//! A killed attempt stops at its next batch (or before writing its output); a result larger than
//! `spark.driver.maxResultSize` is dropped and only its size reported, as Spark's executor does.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use crate::batch::Batches;
use crate::code::Verified;
use crate::context::{self, KillFlag, Services, TaskContext};
use crate::error::{bytes_to_string, TaskError};
use crate::plan::{self, MapStatus, Sink, TaskDescription, TaskEnd, TaskStatus};
use crate::shuffle::ShuffleFiles;

/// What the executor controls about one attempt beyond its description.
#[derive(Debug, Clone, Default)]
pub struct TaskControl {
    /// Set when the driver kills the attempt.
    pub kill: Arc<KillFlag>,
    /// `spark.driver.maxResultSize` in bytes; 0 is unlimited.
    pub max_result_bytes: u64,
}

/// Spark's name of a task attempt in executor logs: `task 3.1 in stage 2.0 (TID 17)`.
pub fn task_name(task: &TaskDescription) -> String {
    format!(
        "task {}.{} in stage {}.{} (TID {})",
        task.partition, task.attempt, task.stage_id, task.stage_attempt, task.task_id
    )
}

/// Runs `task` to its end. Never panics.
pub(crate) fn run_task(
    proof: &Verified,
    task: TaskDescription,
    services: Arc<dyn Services>,
    shuffle: &ShuffleFiles,
    control: &TaskControl,
) -> TaskStatus {
    let executor_id = services.executor_id().to_owned();
    let _released = Release { services: services.clone(), task_id: task.task_id };
    let ctx = Rc::new(
        TaskContext::new(task.stage_id, task.stage_attempt, task.partition, task.attempt, task.task_id, services)
            .with_kill_flag(control.kill.clone()),
    );
    let started = Instant::now();
    let cpu_started = thread_cpu_ns();
    let guard = context::enter(ctx.clone());
    let task_id = task.task_id;
    let name = task_name(&task);
    let outcome = catch_unwind(AssertUnwindSafe(|| execute(proof, &ctx, task, shuffle, control)));
    drop(guard);
    let end = match outcome {
        Ok(Ok(end)) => end,
        Ok(Err(error)) => TaskEnd::Failed(error),
        Err(panic) => TaskEnd::Failed(TaskError::failed(panic_message(&*panic))),
    };
    let end = killed_end(end, &control.kill, &name);
    ctx.metrics(|m| {
        m.executor_run_time_ms = started.elapsed().as_millis() as u64;
        m.executor_cpu_time_ns = thread_cpu_ns().saturating_sub(cpu_started);
    });
    let (accumulators, blocks) = ctx.take_reports();
    let failed = matches!(end, TaskEnd::Failed(_));
    TaskStatus {
        task_id,
        executor_id,
        end,
        metrics: ctx.metrics_snapshot(),
        // A failed attempt's accumulator updates are dropped, as Spark drops them.
        accumulators: if failed { Vec::new() } else { accumulators },
        blocks,
    }
}

fn execute(
    proof: &Verified,
    ctx: &context::TaskCtx,
    task: TaskDescription,
    shuffle: &ShuffleFiles,
    control: &TaskControl,
) -> Result<TaskEnd, TaskError> {
    ctx.check_killed()?;
    let name = task_name(&task);
    let input = killable(plan::build(ctx, task.root, proof)?, control.kill.clone());
    match task.sink {
        Sink::Result { ctor, env } => {
            let bytes = (ctor.resolve(proof).0)(ctx, &env, input)?;
            ctx.check_killed()?;
            ctx.metrics(|m| m.result_size = bytes.len() as u64);
            check_result_size(&name, bytes.len() as u64, control.max_result_bytes)?;
            Ok(TaskEnd::Result(bytes))
        }
        Sink::Shuffle { shuffle_id, num_reduce, ctor, env } => {
            let mut writer = shuffle.writer(shuffle_id, task.partition, task.task_id, num_reduce as usize)?;
            (ctor.resolve(proof).0)(ctx, &env, input, &mut writer)?;
            ctx.check_killed()?;
            let sizes = writer.commit()?;
            ctx.metrics(|m| m.shuffle_write_bytes = sizes.iter().sum());
            Ok(TaskEnd::Map(MapStatus { sizes }))
        }
    }
}

/// Gives back what an attempt held when it ends, however it ends (a result, an error, a panic): its
/// execution memory and its spill files.
struct Release {
    services: Arc<dyn Services>,
    task_id: u64,
}

impl Drop for Release {
    fn drop(&mut self) {
        self.services.memory().release_all_execution(self.task_id);
        let dir = context::spill_dir(&self.services.local_dir(), self.task_id);
        if dir.exists() {
            if let Err(e) = std::fs::remove_dir_all(&dir) {
                tracing::warn!(task = self.task_id, error = %e, "cannot delete the task's spill files in {}", dir.display());
            }
        }
    }
}

/// The partition's batches, ending with `Killed` at the first batch boundary after a kill.
fn killable(input: Batches, kill: Arc<KillFlag>) -> Batches {
    let mut killed = false;
    Box::new(input.map_while(move |batch| {
        if killed {
            return None;
        }
        if let Err(error) = kill.check() {
            killed = true;
            return Some(Err(error));
        }
        Some(batch)
    }))
}

/// Spark's executor drops a result larger than `spark.driver.maxResultSize` rather than send it,
/// and tells the driver its size, so the driver aborts the stage with its own message.
fn check_result_size(name: &str, size: u64, max: u64) -> Result<(), TaskError> {
    if max == 0 || size <= max {
        return Ok(());
    }
    tracing::warn!(
        "Finished {name}. Result is larger than maxResultSize ({} > {}), dropping it.",
        bytes_to_string(size),
        bytes_to_string(max)
    );
    Err(TaskError::ResultTooLarge { size, max })
}

/// Whatever ended a killed attempt (the kill seen at a batch boundary, or an error it caused), it is
/// reported as killed, with the driver's reason.
fn killed_end(end: TaskEnd, kill: &KillFlag, name: &str) -> TaskEnd {
    let (TaskEnd::Failed(_), Some(reason)) = (&end, kill.reason()) else { return end };
    tracing::info!("Executor killed {name}, reason: {reason}");
    TaskEnd::Failed(TaskError::Killed { reason })
}

/// The text of a panic payload (`panic!` with a message or a formatted string).
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "the task panicked".to_owned()
    }
}

fn thread_cpu_ns() -> u64 {
    match nix::time::clock_gettime(nix::time::ClockId::CLOCK_THREAD_CPUTIME_ID) {
        Ok(ts) => ts.tv_sec() as u64 * 1_000_000_000 + ts.tv_nsec() as u64,
        Err(_) => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::Batch;

    fn batches(n: usize) -> Batches {
        Box::new((0..n).map(|i| Ok(Box::new(vec![i]) as Batch)))
    }

    #[test]
    fn a_kill_ends_the_partition_at_the_next_batch_with_the_reason() {
        let kill = Arc::new(KillFlag::default());
        let mut input = killable(batches(5), kill.clone());
        assert!(matches!(input.next(), Some(Ok(_))));
        kill.kill("another attempt succeeded");
        kill.kill("Stage cancelled");
        let end = input.next().map(|b| b.map(|_| ()));
        assert_eq!(end, Some(Err(TaskError::Killed { reason: "another attempt succeeded".into() })));
        assert!(input.next().is_none(), "nothing after the kill");
        assert_eq!(killable(batches(3), Arc::default()).count(), 3, "an attempt nobody kills reads everything");
    }

    #[test]
    fn a_failure_of_a_killed_attempt_is_reported_as_the_kill() {
        let kill = KillFlag::default();
        let failed = || TaskEnd::Failed(TaskError::failed("interrupted"));
        assert!(matches!(killed_end(failed(), &kill, "task"), TaskEnd::Failed(TaskError::Failed { .. })));
        kill.kill("Stage cancelled: job aborted");
        let TaskEnd::Failed(error) = killed_end(failed(), &kill, "task") else { panic!("still failed") };
        assert_eq!(error.to_string(), "TaskKilled (Stage cancelled: job aborted)");
        assert!(matches!(killed_end(TaskEnd::Result(vec![1]), &kill, "task"), TaskEnd::Result(_)));
    }

    #[test]
    fn a_result_over_max_result_size_is_dropped_with_its_size() {
        assert_eq!(check_result_size("task 0.0 in stage 1.0 (TID 3)", 10, 0), Ok(()), "0 is unlimited");
        assert_eq!(check_result_size("t", 10, 10), Ok(()));
        assert_eq!(check_result_size("t", 11, 10), Err(TaskError::ResultTooLarge { size: 11, max: 10 }));
    }

    #[test]
    fn an_attempt_gives_back_its_memory_and_spill_files_however_it_ends() {
        let dir = tempfile::tempdir().unwrap();
        let (ctx, services) = crate::external::testing::task(1 << 20, dir.path());
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let _released = Release { services: services.clone(), task_id: ctx.task_id };
            assert_eq!(ctx.acquire_execution_memory(4096), 4096);
            std::fs::create_dir_all(ctx.spill_dir().join("nested")).unwrap();
            panic!("the user's function panicked");
        }));
        assert!(outcome.is_err());
        assert_eq!(services.memory.snapshot().execution_used(), 0);
        assert!(services.memory.active_tasks().is_empty());
        assert!(!ctx.spill_dir().exists());
    }
}

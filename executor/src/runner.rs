//! Runs one verified task on the calling thread: builds its pipeline, drives it into the sink
//! (a result for the driver, or shuffle files), and reports how it ended with its metrics,
//! accumulator updates and cached blocks. A panic in user code fails the task, not the executor.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use crate::code::Verified;
use crate::context::{self, Services, TaskContext};
use crate::error::TaskError;
use crate::plan::{self, MapStatus, Sink, TaskDescription, TaskEnd, TaskStatus};
use crate::shuffle::ShuffleFiles;

/// Runs `task` to its end. Never panics.
pub fn run_task(
    proof: &Verified,
    task: TaskDescription,
    services: Arc<dyn Services>,
    shuffle: &ShuffleFiles,
) -> TaskStatus {
    let executor_id = services.executor_id().to_owned();
    let ctx = Rc::new(TaskContext::new(
        task.stage_id,
        task.stage_attempt,
        task.partition,
        task.attempt,
        task.task_id,
        services,
    ));
    let started = Instant::now();
    let cpu_started = thread_cpu_ns();
    let guard = context::enter(ctx.clone());
    let task_id = task.task_id;
    let outcome = catch_unwind(AssertUnwindSafe(|| execute(proof, &ctx, task, shuffle)));
    drop(guard);
    let end = match outcome {
        Ok(Ok(end)) => end,
        Ok(Err(error)) => TaskEnd::Failed(error),
        Err(panic) => TaskEnd::Failed(TaskError::failed(panic_message(&*panic))),
    };
    ctx.metrics(|m| {
        m.executor_run_time_ms = started.elapsed().as_millis() as u64;
        m.executor_cpu_time_ns = thread_cpu_ns().saturating_sub(cpu_started);
        if let TaskEnd::Result(bytes) = &end {
            m.result_size = bytes.len() as u64;
        }
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
) -> Result<TaskEnd, TaskError> {
    let input = plan::build(ctx, task.root, proof)?;
    match task.sink {
        Sink::Result { ctor, env } => Ok(TaskEnd::Result((ctor.resolve(proof).0)(ctx, &env, input)?)),
        Sink::Shuffle { shuffle_id, num_reduce, ctor, env } => {
            let blocks = (ctor.resolve(proof).0)(ctx, &env, input, num_reduce as usize)?;
            if blocks.len() != num_reduce as usize {
                return Err(TaskError::failed(format!(
                    "the shuffle writer made {} blocks for {num_reduce} reduce partitions",
                    blocks.len()
                )));
            }
            let sizes = shuffle.write(shuffle_id, task.partition, task.task_id, &blocks)?;
            ctx.metrics(|m| m.shuffle_write_bytes = sizes.iter().sum());
            Ok(TaskEnd::Map(MapStatus { sizes }))
        }
    }
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

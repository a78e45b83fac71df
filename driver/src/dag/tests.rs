//! The DAG scheduler over lineage built without a context: stages cut at shuffles, fetch failures
//! gathered for `RESUBMIT_TIMEOUT` before a resubmission, the consecutive-attempt limit with Spark's
//! message, and aborts that cancel only the stages no other job needs.

use std::sync::Arc;

use weft_executor::plan::ResultCtor;
use weft_executor::FnRef;

use super::*;
use crate::rdd::ops;
use crate::rdd::test_lineage::{node, shuffle};
use crate::rdd::Dep;

/// `map` (2 partitions) shuffled into 3 reduce partitions; returns the reduce side's RDD.
fn two_stage_lineage() -> Arc<RddNode> {
    let map = node(0, 2, Vec::new());
    node(1, 3, vec![Dep::Shuffle(shuffle(0, map, 3))])
}

fn run_job(dag: &mut Dag, rdd: &Arc<RddNode>, name: &str) -> (u32, Vec<DagEvent>) {
    let ctor = FnRef::new(ResultCtor(ops::result_count::<u64>));
    dag.submit_job(rdd.clone(), (0..rdd.num_partitions).collect(), ctor, Vec::new(), name.to_owned())
}

fn out(executor: &str) -> MapOut {
    MapOut { executor: executor.to_owned(), sizes: vec![10, 20, 30] }
}

/// Runs both map tasks of stage 0; returns the events of the second.
fn finish_map_stage(dag: &mut Dag) -> Vec<DagEvent> {
    dag.map_task_succeeded(0, 0, out("1"));
    dag.map_task_succeeded(0, 1, out("2"))
}

fn submitted(events: &[DagEvent]) -> Vec<(u32, u32, Vec<usize>)> {
    events
        .iter()
        .filter_map(|e| match e {
            DagEvent::Submit { stage, attempt, indexes } => Some((*stage, *attempt, indexes.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn a_job_runs_its_map_stage_then_its_result_stage() {
    let mut dag = Dag::new(4);
    let (job, events) = run_job(&mut dag, &two_stage_lineage(), "count at t.rs:1");
    assert_eq!(submitted(&events), vec![(0, 0, vec![0, 1])]);
    let events = finish_map_stage(&mut dag);
    assert_eq!(submitted(&events), vec![(1, 0, vec![0, 1, 2])]);
    assert_eq!(dag.reduce_partition_bytes(0), Some(vec![20, 40, 60]));
    assert_eq!(dag.reduce_partition_bytes(1), None, "a result stage has no shuffle output");
    dag.result_task_succeeded(1, 0, vec![1]);
    dag.result_task_succeeded(1, 1, vec![2]);
    let events = dag.result_task_succeeded(1, 2, vec![3]);
    assert!(events.contains(&DagEvent::JobSucceeded { job, results: vec![vec![1], vec![2], vec![3]] }));
}

#[test]
fn fetch_failures_are_gathered_for_the_resubmit_timeout_then_the_lost_outputs_rerun() {
    let mut dag = Dag::new(4);
    run_job(&mut dag, &two_stage_lineage(), "count at t.rs:1");
    finish_map_stage(&mut dag);
    let events = dag.fetch_failed(1, 0, 0, 0, "1", "connection refused");
    assert_eq!(
        events,
        vec![DagEvent::Cancel { stage: 1, kill: None }, DagEvent::ResubmitAfter { delay_ms: RESUBMIT_TIMEOUT_MS }]
    );
    assert_eq!(RESUBMIT_TIMEOUT_MS, 200);
    let events = dag.fetch_failed(1, 0, 0, 1, "2", "connection refused");
    assert!(events.is_empty(), "a second failure of the same attempt only unregisters its output: {events:?}");
    let events = dag.resubmit_failed_stages();
    assert_eq!(submitted(&events), vec![(0, 1, vec![0, 1])], "both lost map outputs run again, in one pass");
    assert!(dag.resubmit_failed_stages().is_empty());
    let events = finish_map_stage(&mut dag);
    assert_eq!(submitted(&events), vec![(1, 1, vec![0, 1, 2])]);
}

#[test]
fn a_fetch_failure_of_an_older_attempt_only_unregisters_the_output() {
    let mut dag = Dag::new(4);
    run_job(&mut dag, &two_stage_lineage(), "count at t.rs:1");
    finish_map_stage(&mut dag);
    dag.fetch_failed(1, 0, 0, 0, "1", "gone");
    dag.resubmit_failed_stages();
    finish_map_stage(&mut dag);
    let events = dag.fetch_failed(1, 0, 0, 1, "2", "late news from attempt 0");
    assert!(events.is_empty(), "{events:?}");
    assert!(dag.is_running(1), "attempt 1 runs on");
    assert_eq!(dag.outputs[&0][1], None, "the output is gone all the same");
}

#[test]
fn a_stage_failing_max_consecutive_attempts_aborts_its_job_in_sparks_words() {
    let mut dag = Dag::new(4);
    let (job, _) = run_job(&mut dag, &two_stage_lineage(), "count at t.rs:1");
    finish_map_stage(&mut dag);
    for attempt in 0..3 {
        let events = dag.fetch_failed(1, attempt, 0, 0, "1", "gone");
        assert!(!events.iter().any(|e| matches!(e, DagEvent::JobFailed { .. })), "attempt {attempt}: {events:?}");
        dag.resubmit_failed_stages();
        finish_map_stage(&mut dag);
    }
    let events = dag.fetch_failed(1, 3, 0, 0, "1", "FetchFailed(BlockManagerId(1, h:1), shuffleId=0, …)");
    let message = "Job aborted due to stage failure: ResultStage 1 (count at t.rs:1) has failed the maximum allowable \
                   number of times: 4. Most recent failure reason: FetchFailed(BlockManagerId(1, h:1), shuffleId=0, …)";
    assert!(events.contains(&DagEvent::JobFailed { job, message: message.to_owned() }), "{events:?}");
    assert!(!events.iter().any(|e| matches!(e, DagEvent::ResubmitAfter { .. })));
}

#[test]
fn the_limit_is_configurable() {
    let mut dag = Dag::new(2);
    let (job, _) = run_job(&mut dag, &two_stage_lineage(), "count at t.rs:1");
    finish_map_stage(&mut dag);
    dag.fetch_failed(1, 0, 0, 0, "1", "gone");
    dag.resubmit_failed_stages();
    finish_map_stage(&mut dag);
    let events = dag.fetch_failed(1, 1, 0, 0, "1", "gone again");
    assert!(events.iter().any(|e| matches!(e, DagEvent::JobFailed { job: j, .. } if *j == job)), "{events:?}");
}

#[test]
fn a_stage_that_completes_starts_counting_its_failed_attempts_again() {
    let mut dag = Dag::new(2);
    let a = node(0, 2, Vec::new());
    let b = node(1, 2, vec![Dep::Shuffle(shuffle(0, a, 2))]);
    let c = node(2, 2, vec![Dep::Shuffle(shuffle(1, b, 2))]);
    let (job, events) = run_job(&mut dag, &c, "count at t.rs:3");
    assert_eq!(submitted(&events), vec![(0, 0, vec![0, 1])]);
    // Every output on its own executor, so each fetch failure loses just one.
    dag.map_task_succeeded(0, 0, out("1"));
    assert_eq!(submitted(&dag.map_task_succeeded(0, 1, out("3"))), vec![(1, 0, vec![0, 1])]);
    dag.fetch_failed(1, 0, 0, 0, "1", "gone");
    assert_eq!(submitted(&dag.resubmit_failed_stages()), vec![(0, 1, vec![0])]);
    assert_eq!(submitted(&dag.map_task_succeeded(0, 0, out("5"))), vec![(1, 1, vec![0, 1])]);
    dag.map_task_succeeded(1, 0, out("2"));
    assert_eq!(submitted(&dag.map_task_succeeded(1, 1, out("4"))), vec![(2, 0, vec![0, 1])], "stage 1 completed");
    dag.fetch_failed(2, 0, 1, 0, "2", "gone");
    assert_eq!(submitted(&dag.resubmit_failed_stages()), vec![(1, 2, vec![0])]);
    let events = dag.fetch_failed(1, 2, 0, 1, "3", "gone");
    assert!(!events.iter().any(|e| matches!(e, DagEvent::JobFailed { .. })), "one failure since it completed");
    assert!(dag.jobs.contains_key(&job));
}

#[test]
fn an_abort_cancels_and_kills_only_the_stages_no_other_job_needs() {
    let mut dag = Dag::new(4);
    let lineage = two_stage_lineage();
    let (first, _) = run_job(&mut dag, &lineage, "count at t.rs:1");
    let (second, events) = run_job(&mut dag, &lineage, "collect at t.rs:2");
    assert!(submitted(&events).is_empty(), "the map stage already runs for the first job");
    finish_map_stage(&mut dag);
    let events = dag.stage_aborted(1, "Task 0 in stage 1.0 failed 4 times, most recent failure: boom");
    let message = "Job aborted due to stage failure: Task 0 in stage 1.0 failed 4 times, most recent failure: boom";
    assert_eq!(
        events,
        vec![
            DagEvent::Cancel { stage: 1, kill: Some(format!("Stage cancelled: {message}")) },
            DagEvent::JobFailed { job: first, message: message.to_owned() },
        ]
    );
    assert!(dag.is_running(2) && dag.jobs.contains_key(&second), "the second job's stage runs on");
}

#[test]
fn an_aborted_map_stage_fails_every_job_that_needs_it() {
    let mut dag = Dag::new(4);
    let lineage = two_stage_lineage();
    let (first, _) = run_job(&mut dag, &lineage, "count at t.rs:1");
    let (second, _) = run_job(&mut dag, &lineage, "collect at t.rs:2");
    let events = dag.stage_aborted(0, "boom");
    let failed: Vec<u32> = events
        .iter()
        .filter_map(|e| match e {
            DagEvent::JobFailed { job, .. } => Some(*job),
            _ => None,
        })
        .collect();
    assert_eq!(failed, vec![first, second]);
    assert!(events.contains(&DagEvent::Cancel {
        stage: 0,
        kill: Some("Stage cancelled: Job aborted due to stage failure: boom".into())
    }));
    assert!(!dag.is_running(0));
}

#[test]
fn a_fetch_failure_takes_every_map_output_of_that_executor_as_lost() {
    let mut dag = Dag::new(4);
    run_job(&mut dag, &two_stage_lineage(), "count at t.rs:1");
    dag.map_task_succeeded(0, 0, out("1"));
    dag.map_task_succeeded(0, 1, out("1"));
    dag.fetch_failed(1, 0, 0, 0, "1", "shuffle_0_0_0.index: No such file or directory");
    let events = dag.resubmit_failed_stages();
    assert_eq!(submitted(&events), vec![(0, 1, vec![0, 1])], "map 1 was on the same executor");
}

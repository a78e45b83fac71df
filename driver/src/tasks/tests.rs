//! The task scheduler with a fake clock: cores, locality, retries and aborts, speculation, exclusion
//! at its three levels, unschedulable task sets, lost executors and `spark.driver.maxResultSize`.

use weft_executor::TaskError;

use super::speculation::median;
use super::*;

fn none(n: usize) -> Vec<TaskSpec> {
    (0..n).map(|i| TaskSpec { index: i, partition: i, prefs: Prefs::default() }).collect()
}

fn fifo(max_failures: u32) -> TaskScheduler {
    TaskScheduler::new(SchedulerConf::new(Mode::Fifo, max_failures, 3000))
}

/// A scheduler with speculation on (Spark 4's defaults) and `executors` of one core each, `h<n>`.
fn speculating(executors: &[&str]) -> TaskScheduler {
    let mut conf = SchedulerConf::new(Mode::Fifo, 4, 0);
    conf.speculation = Some(SpeculationConf::default());
    let mut ts = TaskScheduler::new(conf);
    for (n, id) in executors.iter().enumerate() {
        ts.add_executor(id, &format!("h{n}"), 1);
    }
    ts
}

fn excluding(max_failures: u32, executors: &[(&str, &str)]) -> TaskScheduler {
    let mut conf = SchedulerConf::new(Mode::Fifo, max_failures, 0);
    conf.exclusion = Some(ExclusionConf::default());
    let mut ts = TaskScheduler::new(conf);
    for (id, host) in executors {
        ts.add_executor(id, host, 1);
    }
    ts
}

fn aborts(ts: &mut TaskScheduler) -> Vec<(u32, String)> {
    ts.take_effects()
        .into_iter()
        .filter_map(|e| match e {
            Effect::Abort { stage, message } => Some((stage, message)),
            _ => None,
        })
        .collect()
}

fn kills(ts: &mut TaskScheduler) -> Vec<(u64, String, String)> {
    ts.take_effects()
        .into_iter()
        .filter_map(|e| match e {
            Effect::KillTask { task_id, executor, reason } => Some((task_id, executor, reason)),
            _ => None,
        })
        .collect()
}

#[test]
fn one_task_per_free_core() {
    let mut ts = fifo(4);
    ts.add_executor("1", "h", 2);
    ts.submit(0, 0, 0, 5, none(5), 0);
    let launches = ts.offer(0);
    assert_eq!(launches.len(), 2);
    assert!(ts.offer(0).is_empty());
    assert_eq!(ts.succeeded(launches[0].task_id, 5), Outcome::Succeeded { stage: 0, stage_attempt: 0, index: 0 });
    assert_eq!(ts.offer(0).len(), 1);
}

#[test]
fn failures_retry_then_abort_with_sparks_message() {
    let mut ts = fifo(2);
    ts.add_executor("1", "h", 1);
    ts.submit(3, 0, 0, 1, none(1), 0);
    let t = ts.offer(0)[0].task_id;
    assert_eq!(ts.failed(t, true, "Lost task 0.0 …: boom", 1), Outcome::Retry);
    let l = ts.offer(1).remove(0);
    assert_eq!(l.attempt, 1);
    let lost = "Lost task 0.1 in stage 3.0 (TID 1) (h executor 1): boom";
    assert_eq!(ts.failed(l.task_id, true, lost, 2), Outcome::Aborted);
    let want = format!("Task 0 in stage 3.0 failed 2 times, most recent failure: {lost}");
    assert_eq!(aborts(&mut ts), vec![(3, want)]);
    assert!(ts.offer(3).is_empty(), "an aborted task set launches nothing");
}

#[test]
fn uncounted_failures_and_removed_executors_do_not_abort() {
    let mut ts = fifo(1);
    ts.add_executor("1", "h", 1);
    ts.submit(0, 0, 0, 1, none(1), 0);
    let t = ts.offer(0)[0].task_id;
    assert_eq!(ts.failed(t, false, "fetch failed", 1), Outcome::Retry);
    let t = ts.offer(1)[0].task_id;
    assert_eq!(ts.running_on("1"), vec![t]);
    ts.remove_executor("1");
    ts.add_executor("2", "h", 1);
    assert_eq!(ts.offer(2)[0].executor, "2");
}

#[test]
fn a_lost_executors_tasks_count_only_when_the_loss_was_theirs() {
    let lost = |caused_by_app| TaskError::ExecutorLost {
        executor_id: "1".into(),
        caused_by_app,
        reason: "Container killed by YARN for exceeding physical memory limits.".into(),
    };
    for (caused_by_app, want) in [(false, Outcome::Retry), (true, Outcome::Aborted)] {
        let mut ts = fifo(1);
        ts.add_executor("1", "h", 1);
        ts.submit(0, 0, 0, 1, none(1), 0);
        let t = ts.offer(0)[0].task_id;
        let error = lost(caused_by_app);
        let text = format!("Lost task 0.0 in stage 0.0 (TID {t}) (h executor 1): {error}");
        assert_eq!(ts.failed(t, error.counts_toward_task_failures(), &text, 1), want, "caused by app: {caused_by_app}");
        ts.remove_executor("1");
        if caused_by_app {
            let (_, message) = aborts(&mut ts).remove(0);
            assert!(message.ends_with(
                "ExecutorLostFailure (executor 1 exited caused by one of the running tasks) \
                                       Reason: Container killed by YARN for exceeding physical memory limits."
            ));
        } else {
            ts.add_executor("2", "h2", 1);
            assert_eq!(ts.offer(2)[0].attempt, 1, "retried elsewhere");
        }
    }
}

#[test]
fn locality_waits_then_falls_back() {
    let mut ts = fifo(4);
    ts.add_executor("1", "a", 1);
    let prefs = Prefs { executors: vec!["2".into()], hosts: vec!["b".into()] };
    ts.submit(0, 0, 0, 1, vec![TaskSpec { index: 0, partition: 0, prefs }], 0);
    assert!(ts.offer(1000).is_empty(), "waits for executor 2");
    let l = ts.offer(6000);
    assert_eq!(l[0].locality, Locality::Any);
}

#[test]
fn fair_mode_shares_cores_between_jobs() {
    let mut ts = TaskScheduler::new(SchedulerConf::new(Mode::Fair, 4, 0));
    ts.add_executor("1", "h", 4);
    ts.submit(0, 0, 0, 10, none(10), 0);
    ts.submit(1, 0, 1, 10, none(10), 0);
    let launches = ts.offer(0);
    let first = launches.iter().filter(|l| l.stage == 0).count();
    assert_eq!((first, launches.len()), (2, 4));
    let mut fifo = fifo(4);
    fifo.add_executor("1", "h", 4);
    fifo.submit(0, 0, 0, 10, none(10), 0);
    fifo.submit(1, 0, 1, 10, none(10), 0);
    assert!(fifo.offer(0).iter().all(|l| l.stage == 0));
}

#[test]
fn the_median_is_sparks() {
    assert_eq!(median(&[]), 0.0);
    assert_eq!(median(&[30, 10, 20]), 20.0);
    assert_eq!(median(&[40, 10, 20, 30]), 25.0);
}

/// Ten tasks on executors 1 and 2; nine finish after 100 ms each, task 9 keeps running on `1`.
fn straggling(ts: &mut TaskScheduler) -> Launch {
    ts.submit(0, 0, 0, 10, none(10), 0);
    let mut now = 0;
    let mut straggler = None;
    loop {
        let launches = ts.offer(now);
        for l in launches {
            if l.index == 9 {
                straggler = Some(l);
            } else {
                assert!(matches!(ts.succeeded(l.task_id, now + 100), Outcome::Succeeded { .. }));
            }
        }
        now += 100;
        if ts.counts(0) == Some((9, 1, 10)) {
            return straggler.expect("task 9 launched");
        }
    }
}

#[test]
fn a_straggler_is_copied_on_another_executor_and_the_first_success_kills_the_other() {
    let mut ts = speculating(&["1", "2"]);
    let straggler = straggling(&mut ts);
    let started = ts.describe(straggler.task_id).expect("the straggler runs").started_ms;
    assert_eq!(ts.check_speculatable(started + 300), 0, "not past 3 × the 100 ms median");
    assert_eq!(ts.check_speculatable(started + 301), 1);
    assert_eq!(ts.check_speculatable(started + 302), 0, "marked once");
    let copies = ts.offer(1000);
    assert_eq!(copies.len(), 1, "{copies:?}");
    let copy = &copies[0];
    assert!(copy.speculative && copy.index == 9 && copy.attempt == 1);
    assert_ne!(copy.executor, straggler.executor, "a copy never runs beside its original");
    assert_eq!(ts.succeeded(copy.task_id, 1100), Outcome::Succeeded { stage: 0, stage_attempt: 0, index: 9 });
    let reason = "another attempt succeeded".to_owned();
    assert_eq!(kills(&mut ts), vec![(straggler.task_id, straggler.executor.clone(), reason)]);
    let killed = TaskError::Killed { reason: "another attempt succeeded".into() };
    let ended = ts.failed(straggler.task_id, killed.counts_toward_task_failures(), "killed", 1200);
    assert_eq!(ended, Outcome::Ignored, "the loser's end is not a failure");
    assert_eq!(ts.counts(0), None, "the task set is finished");
}

#[test]
fn the_original_may_win_and_the_copy_is_killed() {
    let mut ts = speculating(&["1", "2"]);
    let straggler = straggling(&mut ts);
    ts.check_speculatable(5000);
    let copy = ts.offer(5000).remove(0);
    assert_eq!(ts.succeeded(straggler.task_id, 5001), Outcome::Succeeded { stage: 0, stage_attempt: 0, index: 9 });
    assert_eq!(kills(&mut ts), vec![(copy.task_id, copy.executor.clone(), "another attempt succeeded".into())]);
    assert_eq!(ts.succeeded(copy.task_id, 5002), Outcome::Ignored, "a late success of the loser is ignored");
}

#[test]
fn no_speculation_before_the_quantile_for_one_task_or_below_the_minimum_runtime() {
    let mut ts = speculating(&["1", "2", "3"]);
    ts.submit(0, 0, 0, 3, none(3), 0);
    let l = ts.offer(0);
    ts.succeeded(l[0].task_id, 10);
    assert_eq!(ts.check_speculatable(100_000), 0, "1 of 3 succeeded: below floor(0.9 × 3) = 2");
    ts.succeeded(l[1].task_id, 10);
    assert_eq!(ts.check_speculatable(100), 0, "a 10 ms median: minTaskRuntime (100 ms) rules");
    assert_eq!(ts.check_speculatable(101), 1);

    let mut single = speculating(&["1", "2"]);
    single.submit(1, 0, 0, 1, none(1), 0);
    single.offer(0);
    assert_eq!(single.check_speculatable(1_000_000), 0, "one task has no median to compare against");
}

#[test]
fn without_another_executor_a_copy_waits_unless_copies_share_the_local_executor() {
    let mut ts = speculating(&["1"]);
    ts.executors.get_mut("1").expect("executor 1").free = 2;
    ts.submit(0, 0, 0, 2, none(2), 0);
    let l = ts.offer(0);
    ts.succeeded(l[0].task_id, 100);
    assert_eq!(ts.check_speculatable(1000), 1);
    assert!(ts.offer(1000).is_empty(), "the only executor runs the original");

    let mut local = speculating(&["driver"]);
    if let Some(s) = local.conf.speculation.as_mut() {
        s.copies_share_executor = true;
    }
    local.executors.get_mut("driver").expect("the local executor").free = 2;
    local.submit(0, 0, 0, 2, none(2), 0);
    let l = local.offer(0);
    local.succeeded(l[0].task_id, 100);
    local.check_speculatable(1000);
    let copy = local.offer(1000);
    assert_eq!((copy.len(), copy[0].speculative, copy[0].executor.as_str()), (1, true, "driver"));
}

#[test]
fn a_failed_task_is_not_retried_on_its_executor_nor_on_a_node_where_it_failed_twice() {
    let mut ts = excluding(4, &[("1", "a"), ("2", "a"), ("3", "b")]);
    ts.submit(0, 0, 0, 1, none(1), 0);
    let first = ts.offer(0).remove(0);
    assert_eq!(first.executor, "1");
    ts.failed(first.task_id, true, "boom", 1);
    let second = ts.offer(2).remove(0);
    assert_eq!(second.executor, "2", "not executor 1 again");
    ts.failed(second.task_id, true, "boom", 3);
    let third = ts.offer(4).remove(0);
    assert_eq!(third.executor, "3", "node a saw two failures of the task");
}

#[test]
fn fetch_failures_and_kills_never_exclude() {
    let mut ts = excluding(4, &[("1", "a")]);
    ts.submit(0, 0, 0, 1, none(1), 0);
    let t = ts.offer(0)[0].task_id;
    ts.failed(t, false, "FetchFailed(…)", 1);
    assert_eq!(ts.offer(2)[0].executor, "1", "still allowed on executor 1");
}

#[test]
fn an_executor_with_two_failed_tasks_is_excluded_for_the_stage() {
    let mut ts = excluding(4, &[("1", "a"), ("2", "b")]);
    ts.executors.get_mut("1").expect("executor 1").free = 2;
    ts.submit(0, 0, 0, 4, none(4), 0);
    let launches = ts.offer(0);
    let on_one: Vec<u64> = launches.iter().filter(|l| l.executor == "1").map(|l| l.task_id).collect();
    assert_eq!(on_one.len(), 2);
    for t in on_one {
        ts.failed(t, true, "boom", 1);
    }
    let on_two = launches.iter().find(|l| l.executor == "2").expect("a task on executor 2");
    ts.succeeded(on_two.task_id, 1);
    let relaunched = ts.offer(2);
    assert_eq!(relaunched.iter().map(|l| l.executor.as_str()).collect::<Vec<_>>(), ["2"], "not on executor 1");
    ts.submit(1, 0, 1, 1, none(1), 2);
    let other = ts.offer(3);
    assert_eq!((other[0].stage, other[0].executor.as_str()), (1, "1"), "another stage may still use it");
}

#[test]
fn failures_in_a_successful_task_set_exclude_the_executor_for_the_application_until_the_timeout() {
    let mut ts = excluding(4, &[("1", "a"), ("2", "b")]);
    ts.submit(0, 0, 0, 2, none(2), 0);
    let l = ts.offer(0);
    let (on_one, on_two) = if l[0].executor == "1" { (&l[0], &l[1]) } else { (&l[1], &l[0]) };
    ts.failed(on_one.task_id, true, "boom", 1);
    ts.succeeded(on_two.task_id, 1);
    let retry = ts.offer(2).remove(0);
    assert_eq!(retry.executor, "2");
    ts.submit(1, 0, 1, 1, none(1), 2);
    let other = ts.offer(2).remove(0);
    assert_eq!(other.executor, "1", "one failure is not enough");
    ts.failed(other.task_id, true, "boom", 3);
    ts.succeeded(retry.task_id, 4);
    let retry = ts.offer(5).remove(0);
    ts.succeeded(retry.task_id, 6);
    ts.submit(2, 0, 2, 2, none(2), 7);
    let l = ts.offer(7);
    assert_eq!(l.iter().map(|l| l.executor.as_str()).collect::<Vec<_>>(), ["2"], "executor 1 has two failures");
    let hour = 3_600_000;
    assert!(ts.offer(hour).is_empty(), "still excluded");
    assert_eq!(ts.offer(hour + 10)[0].executor, "1", "the exclusion timed out");
}

#[test]
fn a_task_excluded_everywhere_aborts_after_the_unschedulable_timeout_in_sparks_words() {
    let mut ts = excluding(4, &[("1", "a")]);
    ts.submit(2, 1, 0, 3, vec![TaskSpec { index: 0, partition: 5, prefs: Prefs::default() }], 0);
    let l = ts.offer(0);
    let lost = "Lost task 0.0 in stage 2.1 (TID 0) (a executor 1): boom";
    ts.failed(l[0].task_id, true, lost, 10);
    assert!(ts.offer(10).is_empty());
    assert!(aborts(&mut ts).is_empty(), "waits first");
    assert!(ts.offer(120_009).is_empty());
    assert!(aborts(&mut ts).is_empty());
    ts.offer(120_010);
    let want = format!(
        "\nAborting TaskSet 2.1 because task 0 (partition 5)\ncannot run anywhere due to node and executor \
         excludeOnFailure.\nMost recent failure:\n{lost}\n\nExcludeOnFailure behavior can be configured via \
         spark.excludeOnFailure.*.\n"
    );
    assert_eq!(aborts(&mut ts), vec![(2, want)]);
}

#[test]
fn a_new_executor_resets_the_unschedulable_wait() {
    let mut ts = excluding(4, &[("1", "a")]);
    ts.submit(0, 0, 0, 1, none(1), 0);
    let t = ts.offer(0)[0].task_id;
    ts.failed(t, true, "boom", 1);
    ts.offer(1);
    ts.add_executor("2", "b", 1);
    assert_eq!(ts.offer(100_000)[0].executor, "2");
    ts.offer(500_000);
    assert!(aborts(&mut ts).is_empty());
}

#[test]
fn results_past_max_result_size_abort_with_sparks_message() {
    let mut conf = SchedulerConf::new(Mode::Fifo, 4, 0);
    conf.max_result_bytes = 3 << 20;
    let mut ts = TaskScheduler::new(conf);
    ts.add_executor("1", "h", 4);
    ts.submit(1, 0, 0, 4, none(4), 0);
    let l = ts.offer(0);
    for launch in &l[..2] {
        assert!(ts.can_fetch_result(launch.task_id, 1 << 20));
        ts.succeeded(launch.task_id, 1);
    }
    assert!(!ts.can_fetch_result(l[2].task_id, (1 << 20) + 1));
    let want = "Total size of serialized results of 3 tasks (3.0 MiB) is bigger than spark.driver.maxResultSize \
                (3.0 MiB)";
    assert_eq!(aborts(&mut ts), vec![(1, want.to_owned())]);
    assert_eq!(ts.failed(l[2].task_id, false, "dropped", 2), Outcome::Ignored);

    let mut unlimited =
        TaskScheduler::new(SchedulerConf { max_result_bytes: 0, ..SchedulerConf::new(Mode::Fifo, 4, 0) });
    unlimited.add_executor("1", "h", 1);
    unlimited.submit(0, 0, 0, 1, none(1), 0);
    let t = unlimited.offer(0)[0].task_id;
    assert!(unlimited.can_fetch_result(t, u64::MAX), "0 is unlimited");
}

#[test]
fn killing_a_stage_kills_its_running_attempts() {
    let mut ts = fifo(4);
    ts.add_executor("1", "h", 3);
    ts.submit(0, 0, 0, 2, none(2), 0);
    ts.submit(1, 0, 1, 1, none(1), 0);
    let l = ts.offer(0);
    ts.kill_stage(0, "Stage cancelled: Job aborted");
    let mut killed: Vec<u64> = kills(&mut ts).into_iter().map(|(t, _, _)| t).collect();
    killed.sort();
    let want: Vec<u64> = l.iter().filter(|l| l.stage == 0).map(|l| l.task_id).collect();
    assert_eq!(killed, want);
    ts.kill_stage(0, "Stage cancelled: again");
    assert!(kills(&mut ts).is_empty(), "an attempt is asked to stop once");
    for t in want {
        assert_eq!(ts.failed(t, false, "TaskKilled", 1), Outcome::Ignored);
    }
    assert_eq!(ts.counts(0), None);
    assert!(ts.counts(1).is_some(), "the other stage runs on");
}

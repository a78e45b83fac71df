//! Why an executor's container ended, in Spark's words (`facts/yarn.md` §2.4), and whether its
//! running tasks are to blame. A plain function of what the ResourceManager reported; the driver
//! logs the message, fails the executor's running tasks with it, and counts those failures toward
//! `spark.task.maxFailures` only when the loss was caused by the application.
//!
//! One deliberate difference from Spark: a container whose process was ended by SIGKILL, SIGTERM,
//! SIGINT or SIGHUP from outside (exit status 128 + signal, no NodeManager kill) keeps Spark's "bad
//! node" text, but is not blamed on its tasks: a task cannot send those signals to its own executor,
//! while the ways a task does kill its executor are reported by the NodeManager as -104/-103 (memory)
//! or show up as another exit status (an abort is 134, a crash 139), and those still count.

use weft_proto::{exit_status, ContainerId};

/// Why an executor is gone, as the driver's schedulers need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ExecutorLoss {
    /// Spark's text, e.g. `Container killed by YARN for exceeding physical memory limits. …`.
    pub(crate) message: String,
    /// The executor's running tasks caused the loss (Spark's `exitCausedByApp`): their failures count.
    pub(crate) caused_by_app: bool,
}

impl ExecutorLoss {
    pub(crate) fn new(message: impl Into<String>, caused_by_app: bool) -> ExecutorLoss {
        ExecutorLoss { message: message.into(), caused_by_app }
    }
}

/// Signals that end a process only when something outside it sends them.
const OUTSIDE_SIGNALS: [i32; 4] = [1, 2, 9, 15];

/// The loss of an executor whose container completed with `status` and the ResourceManager's
/// `diagnostics`, on `host` (empty when unknown).
pub(crate) fn container_completed(container: &ContainerId, host: &str, status: i32, diagnostics: &str) -> ExecutorLoss {
    let on_host = if host.is_empty() { String::new() } else { format!(" on host: {host}") };
    match status {
        exit_status::SUCCESS => ExecutorLoss::new(
            format!(
                "Executor for container {container} exited because of a YARN event (e.g., preemption) and not \
                 because of an error in the running job."
            ),
            false,
        ),
        exit_status::PREEMPTED => ExecutorLoss::new(format!("Container {container}{on_host} was preempted."), false),
        exit_status::KILLED_EXCEEDED_VMEM => ExecutorLoss::new(
            format!(
                "Container killed by YARN for exceeding virtual memory limits. {} Consider boosting \
                 spark.executor.memoryOverhead or boosting yarn.nodemanager.vmem-pmem-ratio or disabling \
                 yarn.nodemanager.vmem-check-enabled because of YARN-4714.",
                memory_used(diagnostics, "virtual")
            ),
            true,
        ),
        exit_status::KILLED_EXCEEDED_PMEM => ExecutorLoss::new(
            format!(
                "Container killed by YARN for exceeding physical memory limits. {} Consider boosting \
                 spark.executor.memoryOverhead.",
                memory_used(diagnostics, "physical")
            ),
            true,
        ),
        exit_status::KILLED_BY_RESOURCEMANAGER
        | exit_status::KILLED_BY_APPMASTER
        | exit_status::KILLED_AFTER_APP_COMPLETION
        | exit_status::ABORTED
        | exit_status::DISKS_FAILED => ExecutorLoss::new(
            format!(
                "Container marked as failed: {container}{on_host}. Exit status: {status}. Possible causes: {} \
                 Diagnostics: {diagnostics}.",
                explain_exit_code(status)
            ),
            false,
        ),
        other => ExecutorLoss::new(
            format!(
                "Container from a bad node: {container}{on_host}. Exit status: {other}. Possible causes: {} \
                 Diagnostics: {diagnostics}.",
                explain_exit_code(other)
            ),
            !OUTSIDE_SIGNALS.iter().any(|s| other == 128 + s),
        ),
    }
}

/// Spark's `ExecutorExitCode.explainExitCode` for the codes a Weft executor can exit with.
fn explain_exit_code(code: i32) -> String {
    let signal = if code > 128 { format!(" (died from signal {}?)", code - 128) } else { String::new() };
    format!("Unknown executor exit code ({code}){signal}")
}

/// The first `<X> <U>B of <Y> <U>B <kind> memory used` in the NodeManager's diagnostics, with a
/// period, as Spark quotes it; empty when there is none.
fn memory_used(diagnostics: &str, kind: &str) -> String {
    let needle = format!(" {kind} memory used");
    let mut from = 0;
    while let Some(found) = diagnostics[from..].find(&needle) {
        let end = from + found;
        if let Some(start) = quantity_pair_start(&diagnostics[..end]) {
            return format!("{}{needle}.", &diagnostics[start..end]);
        }
        from = end + needle.len();
    }
    String::new()
}

/// Where `<number> <K|M|G>B of <number> <K|M|G>B` ends `text`, if it does.
fn quantity_pair_start(text: &str) -> Option<usize> {
    let second = quantity_start(text)?;
    let before = text[..second].strip_suffix(" of ")?;
    quantity_start(before)
}

/// Where `<number> <K|M|G>B` ends `text` (number: digits and dots), if it does.
fn quantity_start(text: &str) -> Option<usize> {
    let unit = text.strip_suffix('B')?;
    let number = unit.strip_suffix(['K', 'M', 'G'])?.strip_suffix(' ')?;
    let digits = number.len() - number.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.').len();
    (digits > 0).then(|| number.len() - digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container() -> ContainerId {
        "container_1700000000000_0001_01_000002".parse().unwrap()
    }

    #[test]
    fn memory_kills_quote_the_nodemanager_and_give_sparks_hint() {
        let diagnostics = "Container [pid=4242,containerID=container_1700000000000_0001_01_000002] is running \
                           beyond physical memory limits. Current usage: 2.1 GB of 2 GB physical memory used; 2.6 GB \
                           of 4.2 GB virtual memory used. Killing container.";
        let loss = container_completed(&container(), "node1", -104, diagnostics);
        assert_eq!(
            loss.message,
            "Container killed by YARN for exceeding physical memory limits. 2.1 GB of 2 GB physical memory used. \
             Consider boosting spark.executor.memoryOverhead."
        );
        assert!(loss.caused_by_app);
        let loss = container_completed(&container(), "node1", -103, diagnostics);
        assert_eq!(
            loss.message,
            "Container killed by YARN for exceeding virtual memory limits. 2.6 GB of 4.2 GB virtual memory used. \
             Consider boosting spark.executor.memoryOverhead or boosting yarn.nodemanager.vmem-pmem-ratio or \
             disabling yarn.nodemanager.vmem-check-enabled because of YARN-4714."
        );
        // Without the figures, Spark leaves the part out (and keeps both spaces).
        let loss = container_completed(&container(), "", -104, "killed");
        assert_eq!(
            loss.message,
            "Container killed by YARN for exceeding physical memory limits.  Consider boosting \
             spark.executor.memoryOverhead."
        );
    }

    #[test]
    fn cluster_endings_are_not_the_tasks_fault() {
        let c = container();
        let loss = container_completed(&c, "node1", -102, "preempted");
        assert_eq!(loss, ExecutorLoss::new(format!("Container {c} on host: node1 was preempted."), false));
        let loss = container_completed(&c, "node1", 0, "");
        assert!(!loss.caused_by_app && loss.message.contains("exited because of a YARN event"), "{loss:?}");
        let loss = container_completed(&c, "node1", -100, "Container released on a *lost* node");
        assert_eq!(
            loss.message,
            format!(
                "Container marked as failed: {c} on host: node1. Exit status: -100. Possible causes: Unknown executor \
                 exit code (-100) Diagnostics: Container released on a *lost* node."
            )
        );
        assert!(!loss.caused_by_app);
    }

    #[test]
    fn other_exits_are_a_bad_node_and_count_unless_signalled_from_outside() {
        let c = container();
        let crashed = container_completed(&c, "node1", 134, "Exception from container-launch.");
        assert_eq!(
            crashed.message,
            format!(
                "Container from a bad node: {c} on host: node1. Exit status: 134. Possible causes: Unknown executor \
                 exit code (134) (died from signal 6?) Diagnostics: Exception from container-launch.."
            )
        );
        assert!(crashed.caused_by_app);
        assert!(container_completed(&c, "node1", 1, "").caused_by_app);
        for status in [137, 143] {
            let killed = container_completed(&c, "node1", status, "");
            assert!(!killed.caused_by_app, "{killed:?}");
            assert!(killed.message.contains(&format!("(died from signal {}?)", status - 128)), "{killed:?}");
        }
    }

    #[test]
    fn memory_figures_are_found_anywhere_in_the_text() {
        assert_eq!(
            memory_used("x 1.5 MB of 1 GB physical memory used", "physical"),
            "1.5 MB of 1 GB physical memory used."
        );
        assert_eq!(memory_used("of 1 GB physical memory used", "physical"), "");
        assert_eq!(
            memory_used("GB of 1 GB physical memory used; 3 GB of 2 GB physical memory used", "physical"),
            "3 GB of 2 GB physical memory used."
        );
        assert_eq!(memory_used("1 TB of 2 TB physical memory used", "physical"), "");
    }
}

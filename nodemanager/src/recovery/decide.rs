//! What a recorded container is now, from its record and what `/proc` and its cgroup say; and what
//! the exit-code file says about a process that ended while no NodeManager was its parent. Pure.

use std::path::Path;

use crate::container::ProcessExit;

use super::record::ContainerRecord;

/// What the restarted NodeManager sees of a recorded container.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Observed {
    /// The start time (clock ticks after boot) of the process that now has the recorded pid;
    /// `None` when no process has it (or it is a zombie).
    pub(crate) start_time_ticks: Option<u64>,
    /// Processes in the container's cgroup, lowest first.
    pub(crate) cgroup_pids: Vec<i32>,
}

/// How a container taken back as running is watched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WatchBy {
    /// Its root process runs: its end is awaited (through a pidfd).
    RootProcess,
    /// Its root process is gone but processes are left in its cgroup: it runs until the group is
    /// empty.
    Cgroup,
}

/// What the restarted NodeManager does with a recorded container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Its outcome was recorded: report it again until the ResourceManager acknowledges it.
    Complete,
    /// It still runs: taken back as RUNNING (KILLING when a kill had been decided), `pid` being
    /// the leader of its process group.
    Running { pid: u32, watch: WatchBy },
    /// Its root process ended while the NodeManager was down: the exit-code file says how.
    Exited { pid: u32 },
    /// It never started a process (the NodeManager stopped while it was localizing).
    NeverStarted,
}

/// The one decision: complete records stay complete; a root process that still has its recorded
/// start time is the container's; a reused pid (another start time) is not.
pub(crate) fn decide(record: &ContainerRecord, observed: &Observed) -> Verdict {
    if record.completion.is_some() {
        return Verdict::Complete;
    }
    let root_alive = record.pid.is_some()
        && record.start_time_ticks.is_some()
        && observed.start_time_ticks == record.start_time_ticks;
    match (record.pid, observed.cgroup_pids.first()) {
        (Some(pid), _) if root_alive => Verdict::Running { pid, watch: WatchBy::RootProcess },
        (Some(pid), Some(_)) => Verdict::Running { pid, watch: WatchBy::Cgroup },
        (None, Some(&first)) => Verdict::Running { pid: first.unsigned_abs(), watch: WatchBy::Cgroup },
        (Some(pid), None) => Verdict::Exited { pid },
        (None, None) => Verdict::NeverStarted,
    }
}

/// How a process taken back after a restart ended, from its exit-code file: `None` when the file
/// does not exist, else its text or why it could not be read. `Err` is the diagnostics of a
/// container reported with YARN's LOST exit code.
pub(crate) fn exit_code_of(file: &Path, contents: Option<Result<String, String>>) -> Result<ProcessExit, String> {
    let text = match contents {
        Some(Ok(text)) => text,
        Some(Err(error)) => {
            return Err(format!("The container's exit code is lost: cannot read {}: {error}", file.display()))
        }
        None => {
            return Err(format!(
                "The container's process ended while the NodeManager was not watching it and left no exit \
                 code in {}; its exit code is lost",
                file.display()
            ))
        }
    };
    match text.trim().parse::<i32>() {
        Ok(code) if (0..=255).contains(&code) => Ok(ProcessExit::Code(code)),
        _ => Err(format!(
            "The container's exit code is lost: {} holds {:?}, not an exit code (0 to 255)",
            file.display(),
            text.chars().take(40).collect::<String>()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recovery::record::{Completion, Place};

    fn record(pid: Option<u32>, start: Option<u64>, complete: bool) -> ContainerRecord {
        let spec = crate::container::LaunchSpec {
            id: "container_1700000000000_0001_01_000002".parse().unwrap(),
            user: "alice".into(),
            command: vec!["sleep".into()],
            environment: Vec::new(),
            local_resources: Vec::new(),
            resource: weft_proto::Resource::new(512, 1),
            hadoop: None,
            container_token: Default::default(),
            acls: Default::default(),
        };
        let mut c = crate::container::Container::new(spec, 1);
        c.pid = pid;
        let mut record = ContainerRecord::of(&c, &Place { start_time_ticks: start, ..Place::default() });
        if complete {
            record.completion = Some(Completion { exit_status: 3, finished_ms: 5 });
        }
        record
    }

    fn observed(start: Option<u64>, cgroup_pids: &[i32]) -> Observed {
        Observed { start_time_ticks: start, cgroup_pids: cgroup_pids.to_vec() }
    }

    #[test]
    fn what_a_recorded_container_is_now() {
        let running = Verdict::Running { pid: 40, watch: WatchBy::RootProcess };
        let cases = [
            // (pid, recorded start, complete, observed start, cgroup pids) → verdict
            (Some(40), Some(7), true, Some(7), vec![40], Verdict::Complete),
            (Some(40), Some(7), false, Some(7), vec![], running.clone()),
            (Some(40), Some(7), false, Some(7), vec![40, 41], running),
            // The pid now belongs to another process: the container's root has ended.
            (Some(40), Some(7), false, Some(9), vec![], Verdict::Exited { pid: 40 }),
            (Some(40), Some(7), false, None, vec![], Verdict::Exited { pid: 40 }),
            // Without a recorded start time a live pid proves nothing.
            (Some(40), None, false, None, vec![], Verdict::Exited { pid: 40 }),
            // The root is gone but what it started is still in its cgroup.
            (Some(40), Some(7), false, None, vec![52, 53], Verdict::Running { pid: 40, watch: WatchBy::Cgroup }),
            (None, None, false, None, vec![52], Verdict::Running { pid: 52, watch: WatchBy::Cgroup }),
            (None, None, false, None, vec![], Verdict::NeverStarted),
        ];
        for (pid, start, complete, now_start, pids, expected) in cases {
            let verdict = decide(&record(pid, start, complete), &observed(now_start, &pids));
            assert_eq!(verdict, expected, "pid {pid:?} start {start:?} complete {complete} now {now_start:?} {pids:?}");
        }
    }

    #[test]
    fn the_exit_code_file_decides_how_an_unwatched_process_ended() {
        let file = Path::new("/w/.exitcode");
        assert_eq!(exit_code_of(file, Some(Ok("3\n".into()))), Ok(ProcessExit::Code(3)));
        assert_eq!(exit_code_of(file, Some(Ok("143".into()))), Ok(ProcessExit::Code(143)));
        let lost = exit_code_of(file, None).unwrap_err();
        assert!(lost.contains("left no exit code in /w/.exitcode"), "{lost}");
        let bad = exit_code_of(file, Some(Ok("nope".into()))).unwrap_err();
        assert!(bad.contains("/w/.exitcode holds \"nope\", not an exit code"), "{bad}");
        assert!(exit_code_of(file, Some(Ok("-1".into()))).is_err());
        let unreadable = exit_code_of(file, Some(Err("Permission denied".into()))).unwrap_err();
        assert!(unreadable.contains("cannot read /w/.exitcode: Permission denied"), "{unreadable}");
    }
}

//! What a recovery record holds about one container, and how a container becomes a record and a
//! record a container again. Pure: no I/O.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use weft_daemon::acl::AppAcls;
use weft_proto::{ContainerId, Resource};

use crate::container::{Container, ContainerState, KillReason, LaunchSpec};
use crate::monitor::Usage;

/// The record format; a record of another version is refused with a message naming it.
pub(crate) const RECORD_VERSION: u32 = 1;

/// One container as a restarted NodeManager needs it to take it back and report it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ContainerRecord {
    pub(crate) version: u32,
    pub(crate) id: String,
    pub(crate) app: String,
    /// The submitting user: the owner for the log ACL check, and where its directories are.
    pub(crate) user: String,
    pub(crate) memory_mb: i64,
    pub(crate) vcores: i32,
    /// Not carried by start requests today; kept for the format.
    pub(crate) priority: Option<i32>,
    /// The NodeManager state when recorded (`ContainerState::as_str`).
    pub(crate) state: String,
    /// The container's root process (the leader of its process group), once started.
    pub(crate) pid: Option<u32>,
    /// Its start time in clock ticks after boot (`/proc/<pid>/stat` field 22), so a reused pid is
    /// not mistaken for it.
    pub(crate) start_time_ticks: Option<u64>,
    /// Its cgroup (the memory controller's directory), when it was held in one.
    pub(crate) cgroup: Option<PathBuf>,
    pub(crate) work_dir: PathBuf,
    pub(crate) log_dir: PathBuf,
    /// Where the launch wrapper writes the exit code of the container's command.
    pub(crate) exit_code_file: PathBuf,
    /// The application's ACLs as its launch context gave them (Hadoop's ACL text).
    pub(crate) view_acl: Option<String>,
    pub(crate) modify_acl: Option<String>,
    /// The kill the NodeManager decided (`KillReason::as_str`) and when.
    pub(crate) kill_reason: Option<String>,
    pub(crate) killed_ms: Option<u64>,
    pub(crate) created_ms: u64,
    pub(crate) launched_ms: Option<u64>,
    pub(crate) peak_pmem_bytes: u64,
    pub(crate) peak_vmem_bytes: u64,
    /// Diagnostics entries so far, oldest first.
    pub(crate) diagnostics: Vec<String>,
    /// Set once the outcome is known.
    pub(crate) completion: Option<Completion>,
}

/// How a container ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Completion {
    /// YARN's exit status, as reported to the ResourceManager.
    pub(crate) exit_status: i32,
    pub(crate) finished_ms: u64,
}

/// Where a container lives on this node, beside what the core knows of it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Place {
    pub(crate) work_dir: PathBuf,
    pub(crate) log_dir: PathBuf,
    pub(crate) exit_code_file: PathBuf,
    pub(crate) cgroup: Option<PathBuf>,
    pub(crate) start_time_ticks: Option<u64>,
}

/// A record that cannot be taken back, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub(crate) struct BadRecord(pub(crate) String);

impl ContainerRecord {
    /// The record of `c` as it is now.
    pub(crate) fn of(c: &Container, place: &Place) -> ContainerRecord {
        ContainerRecord {
            version: RECORD_VERSION,
            id: c.spec.id.to_string(),
            app: c.spec.id.application().to_string(),
            user: c.spec.user.clone(),
            memory_mb: c.spec.resource.memory_mb,
            vcores: c.spec.resource.vcores,
            priority: None,
            state: c.state.as_str().to_owned(),
            pid: c.pid,
            start_time_ticks: place.start_time_ticks,
            cgroup: place.cgroup.clone(),
            work_dir: place.work_dir.clone(),
            log_dir: place.log_dir.clone(),
            exit_code_file: place.exit_code_file.clone(),
            view_acl: c.spec.acls.view.as_ref().map(ToString::to_string),
            modify_acl: c.spec.acls.modify.as_ref().map(ToString::to_string),
            kill_reason: c.kill.map(|k| k.as_str().to_owned()),
            killed_ms: c.killed_ms,
            created_ms: c.created_ms,
            launched_ms: c.launched_ms,
            peak_pmem_bytes: c.peak.pmem_bytes,
            peak_vmem_bytes: c.peak.vmem_bytes,
            diagnostics: c.entries().to_vec(),
            completion: c.finished_ms.map(|finished_ms| Completion { exit_status: c.exit_status, finished_ms }),
        }
    }

    /// The container id, checked.
    pub(crate) fn container_id(&self) -> Result<ContainerId, BadRecord> {
        self.id.parse().map_err(|e| BadRecord(format!("id {:?}: {e}", self.id)))
    }

    /// The kill the NodeManager had decided, checked.
    pub(crate) fn kill(&self) -> Result<Option<KillReason>, BadRecord> {
        match &self.kill_reason {
            None => Ok(None),
            Some(label) => KillReason::from_label(label)
                .map(Some)
                .ok_or_else(|| BadRecord(format!("kill_reason {label:?} is not a known kill reason"))),
        }
    }

    /// Checks what serde cannot: version, id, application, user, resource, state, kill reason.
    pub(crate) fn check(&self) -> Result<(), BadRecord> {
        if self.version != RECORD_VERSION {
            return Err(BadRecord(format!(
                "version {} (this NodeManager reads version {RECORD_VERSION})",
                self.version
            )));
        }
        let id = self.container_id()?;
        if id.application().to_string() != self.app {
            return Err(BadRecord(format!("app {:?} is not the application of {}", self.app, self.id)));
        }
        if !crate::container::is_plain_name(&self.user) {
            return Err(BadRecord(format!("user {:?} is not a plain name", self.user)));
        }
        if self.memory_mb <= 0 || self.vcores <= 0 {
            return Err(BadRecord(format!(
                "resource <memory:{}, vCores:{}> is not positive",
                self.memory_mb, self.vcores
            )));
        }
        if ContainerState::from_name(&self.state).is_none() {
            return Err(BadRecord(format!("state {:?} is not a NodeManager container state", self.state)));
        }
        self.kill()?;
        Ok(())
    }

    /// What the container was started with, as far as taking it back needs: no command, files or
    /// token (it is not started again).
    pub(crate) fn spec(&self) -> Result<LaunchSpec, BadRecord> {
        Ok(LaunchSpec {
            id: self.container_id()?,
            user: self.user.clone(),
            command: Vec::new(),
            environment: Vec::new(),
            local_resources: Vec::new(),
            resource: Resource::new(self.memory_mb, self.vcores),
            hadoop: None,
            container_token: Default::default(),
            acls: AppAcls::from_texts(self.view_acl.as_deref(), self.modify_acl.as_deref()),
        })
    }

    /// The container in `state`, with everything the record knows of it.
    pub(crate) fn container(&self, state: ContainerState) -> Result<Container, BadRecord> {
        let mut c = Container::restored(self.spec()?, state, self.diagnostics.clone(), self.created_ms);
        c.pid = self.pid;
        c.kill = self.kill()?;
        c.killed_ms = self.killed_ms;
        c.launched_ms = self.launched_ms;
        c.peak = Usage { pmem_bytes: self.peak_pmem_bytes, vmem_bytes: self.peak_vmem_bytes };
        if let Some(completion) = &self.completion {
            c.exit_status = completion.exit_status;
            c.finished_ms = Some(completion.finished_ms);
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::{Event, ProcessExit};

    fn spec() -> LaunchSpec {
        LaunchSpec {
            id: "container_1700000000000_0001_01_000002".parse().unwrap(),
            user: "alice".into(),
            command: vec!["sleep".into(), "100".into()],
            environment: Vec::new(),
            local_resources: Vec::new(),
            resource: Resource::new(512, 2),
            hadoop: None,
            container_token: Default::default(),
            acls: AppAcls::from_texts(Some("bob,carol admins"), None),
        }
    }

    fn place() -> Place {
        Place {
            work_dir: "/l/usercache/alice/appcache/application_1700000000000_0001/c".into(),
            log_dir: "/logs/application_1700000000000_0001/c".into(),
            exit_code_file: "/l/c/.exitcode".into(),
            cgroup: Some("/sys/fs/cgroup/hadoop-yarn/c".into()),
            start_time_ticks: Some(4242),
        }
    }

    #[test]
    fn a_running_container_round_trips_through_json() {
        let mut c = Container::new(spec(), 10);
        c.handle(Event::Init, 10);
        c.handle(Event::Launched { pid: 77 }, 11);
        let record = ContainerRecord::of(&c, &place());
        record.check().unwrap();
        let json = serde_json::to_string(&record).unwrap();
        let back: ContainerRecord = serde_json::from_str(&json).unwrap();
        assert_eq!(back, record);
        let restored = back.container(ContainerState::RUNNING).unwrap();
        assert_eq!((restored.pid, restored.launched_ms, restored.exit_status), (Some(77), Some(11), -1000));
        assert_eq!(restored.spec.acls, spec().acls);
        assert_eq!(restored.spec.resource, Resource::new(512, 2));
        assert!(back.completion.is_none());
    }

    #[test]
    fn a_completed_container_keeps_its_status_kill_and_diagnostics() {
        let mut c = Container::new(spec(), 10);
        c.handle(Event::Init, 10);
        c.handle(Event::Launched { pid: 77 }, 11);
        c.handle(Event::Kill(KillReason::ByAppMaster), 12);
        c.handle(Event::Exited { exit: ProcessExit::Signal(15), stderr_tail: String::new(), oom_kill: None }, 13);
        let record = ContainerRecord::of(&c, &place());
        assert_eq!(record.kill_reason.as_deref(), Some("by_appmaster"));
        assert_eq!(record.completion, Some(Completion { exit_status: -105, finished_ms: 13 }));
        let restored = record.container(ContainerState::DONE).unwrap();
        assert_eq!(restored.diagnostics(), c.diagnostics());
        assert_eq!((restored.kill, restored.killed_ms, restored.exit_status), (c.kill, Some(12), -105));
    }

    #[test]
    fn bad_records_are_refused_naming_the_field() {
        let c = Container::new(spec(), 10);
        let good = ContainerRecord::of(&c, &place());
        let check = |edit: fn(&mut ContainerRecord), expected: &str| {
            let mut record = good.clone();
            edit(&mut record);
            let error = record.check().unwrap_err().0;
            assert!(error.contains(expected), "{error} should mention {expected}");
        };
        check(|r| r.version = 9, "version 9");
        check(|r| r.id = "container_x".into(), "id \"container_x\"");
        check(|r| r.app = "application_1_0002".into(), "app \"application_1_0002\"");
        check(|r| r.user = "../root".into(), "user \"../root\"");
        check(|r| r.memory_mb = 0, "resource <memory:0");
        check(|r| r.state = "SLEEPING".into(), "state \"SLEEPING\"");
        check(|r| r.kill_reason = Some("bored".into()), "kill_reason \"bored\"");
    }
}

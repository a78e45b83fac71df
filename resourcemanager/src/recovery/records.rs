//! What the state store keeps, as plain serializable records, and how they turn back into the
//! core's applications. The store's files are these records as JSON; a field that does not parse
//! back is named in the error.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use weft_proto::states::{AppState, AttemptState, FinalStatus};
use weft_proto::{ApplicationAttemptId, ApplicationId, Resource};

use crate::core::{App, AppAcls, Attempt, LaunchSpec, LocalFile, Submission};

/// One application with its attempts: written when it is submitted and whenever its state, or one
/// of its attempts', changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppRecord {
    pub id: String,
    pub name: String,
    pub queue: String,
    pub application_type: String,
    pub user: String,
    pub am_memory_mb: i64,
    pub am_vcores: i32,
    pub am_launch: LaunchRecord,
    pub max_app_attempts: u32,
    pub unmanaged_am: bool,
    pub tags: Vec<String>,
    pub view_acl: Option<String>,
    pub modify_acl: Option<String>,
    pub state: String,
    pub final_status: String,
    pub diagnostics: String,
    pub progress: f32,
    pub started_ms: u64,
    pub finished_ms: u64,
    pub max_attempts: u32,
    pub memory_seconds: i64,
    pub vcore_seconds: i64,
    pub blobs: Vec<String>,
    pub attempts: Vec<AttemptRecord>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaunchRecord {
    pub command: Vec<String>,
    pub environment: Vec<(String, String)>,
    pub local_files: Vec<FileRecord>,
    /// A Hadoop AM's encoded `ContainerLaunchContextProto`, in hex.
    pub hadoop_context: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    pub name: String,
    pub sha256: String,
    pub size: u64,
    pub executable: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptRecord {
    pub id: String,
    pub state: String,
    pub am_container: Option<String>,
    pub am_node: Option<String>,
    pub am_node_http_address: String,
    pub host: String,
    pub rpc_port: i32,
    pub tracking_url: String,
    pub final_tracking_url: String,
    pub started_ms: u64,
    pub finished_ms: u64,
    pub diagnostics: String,
    pub unregistered_ms: Option<u64>,
}

/// The ResourceManager's master keys (id and secret in hex), kept so that tokens handed out
/// before a restart stay good after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeysRecord {
    pub container: (i32, String),
    pub nm: (i32, String),
    pub amrm: (i32, String),
    pub staging: (i32, String),
}

/// The staged files one application holds (sha256 → size).
pub type StagingRecord = BTreeMap<String, u64>;

/// The blobs one user has proven possession of by uploading them in full (sha256 → size).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProofsRecord {
    pub user: String,
    pub blobs: BTreeMap<String, u64>,
}

/// The staging store's part of the state store: each application's holdings, each user's proofs.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct StagingRecords {
    pub accounts: Vec<(ApplicationId, StagingRecord)>,
    pub proofs: Vec<ProofsRecord>,
}

impl AppRecord {
    pub fn of(app: &App) -> AppRecord {
        let s = &app.submission;
        AppRecord {
            id: s.id.to_string(),
            name: s.name.clone(),
            queue: s.queue.clone(),
            application_type: s.application_type.clone(),
            user: s.user.clone(),
            am_memory_mb: s.am_resource.memory_mb,
            am_vcores: s.am_resource.vcores,
            am_launch: LaunchRecord {
                command: s.am_launch.command.clone(),
                environment: s.am_launch.environment.clone(),
                local_files: s
                    .am_launch
                    .local_files
                    .iter()
                    .map(|f| FileRecord {
                        name: f.name.clone(),
                        sha256: f.sha256.clone(),
                        size: f.size,
                        executable: f.executable,
                    })
                    .collect(),
                hadoop_context: hex::encode(&s.am_launch.hadoop_context),
            },
            max_app_attempts: s.max_app_attempts,
            unmanaged_am: s.unmanaged_am,
            tags: s.tags.clone(),
            view_acl: s.acls.view.as_ref().map(ToString::to_string),
            modify_acl: s.acls.modify.as_ref().map(ToString::to_string),
            state: app.state.to_string(),
            final_status: app.final_status.to_string(),
            diagnostics: app.diagnostics.clone(),
            progress: app.progress,
            started_ms: app.started_ms,
            finished_ms: app.finished_ms,
            max_attempts: app.max_attempts,
            memory_seconds: app.memory_seconds,
            vcore_seconds: app.vcore_seconds,
            blobs: app.blobs.iter().cloned().collect(),
            attempts: app.attempts.iter().map(AttemptRecord::of).collect(),
        }
    }

    /// The application again; an error names the field that does not parse.
    pub fn into_app(self) -> Result<App, String> {
        let id: ApplicationId = parse(&self.id, "id")?;
        let launch = self.am_launch;
        let submission = Submission {
            id,
            name: self.name,
            queue: self.queue,
            application_type: self.application_type,
            user: self.user,
            am_resource: Resource::new(self.am_memory_mb, self.am_vcores),
            am_launch: LaunchSpec {
                command: launch.command,
                environment: launch.environment,
                local_files: launch
                    .local_files
                    .into_iter()
                    .map(|f| LocalFile { name: f.name, sha256: f.sha256, size: f.size, executable: f.executable })
                    .collect(),
                hadoop_context: hex::decode(&launch.hadoop_context)
                    .map_err(|e| format!("am_launch.hadoop_context is not hex: {e}"))?,
            },
            max_app_attempts: self.max_app_attempts,
            unmanaged_am: self.unmanaged_am,
            tags: self.tags,
            acls: AppAcls::from_texts(self.view_acl.as_deref(), self.modify_acl.as_deref()),
        };
        let attempts = self.attempts.into_iter().map(AttemptRecord::into_attempt).collect::<Result<Vec<_>, _>>()?;
        if attempts.is_empty() {
            return Err("attempts: an application always has one".into());
        }
        Ok(App {
            submission,
            state: parse::<AppState>(&self.state, "state")?,
            final_status: parse::<FinalStatus>(&self.final_status, "final_status")?,
            diagnostics: self.diagnostics,
            progress: self.progress,
            started_ms: self.started_ms,
            finished_ms: self.finished_ms,
            attempts,
            max_attempts: self.max_attempts,
            memory_seconds: self.memory_seconds,
            vcore_seconds: self.vcore_seconds,
            blobs: self.blobs.into_iter().collect(),
        })
    }
}

impl AttemptRecord {
    fn of(a: &Attempt) -> AttemptRecord {
        AttemptRecord {
            id: a.id.to_string(),
            state: a.state.to_string(),
            am_container: a.am_container.map(|c| c.to_string()),
            am_node: a.am_node.as_ref().map(ToString::to_string),
            am_node_http_address: a.am_node_http_address.clone(),
            host: a.host.clone(),
            rpc_port: a.rpc_port,
            tracking_url: a.tracking_url.clone(),
            final_tracking_url: a.final_tracking_url.clone(),
            started_ms: a.started_ms,
            finished_ms: a.finished_ms,
            diagnostics: a.diagnostics.clone(),
            unregistered_ms: a.unregistered_ms,
        }
    }

    fn into_attempt(self) -> Result<Attempt, String> {
        let id: ApplicationAttemptId = parse(&self.id, "attempts.id")?;
        let mut attempt = Attempt::new(id, false, self.started_ms);
        attempt.state = parse::<AttemptState>(&self.state, "attempts.state")?;
        attempt.am_container = self.am_container.as_deref().map(|c| parse(c, "attempts.am_container")).transpose()?;
        attempt.am_node = self.am_node.as_deref().map(|n| parse(n, "attempts.am_node")).transpose()?;
        attempt.am_node_http_address = self.am_node_http_address;
        attempt.host = self.host;
        attempt.rpc_port = self.rpc_port;
        attempt.tracking_url = self.tracking_url;
        attempt.final_tracking_url = self.final_tracking_url;
        attempt.finished_ms = self.finished_ms;
        attempt.diagnostics = self.diagnostics;
        attempt.unregistered_ms = self.unregistered_ms;
        if let Some(am) = attempt.am_container {
            attempt.containers.insert(am);
        }
        Ok(attempt)
    }
}

fn parse<T: std::str::FromStr>(text: &str, field: &str) -> Result<T, String>
where
    T::Err: std::fmt::Display,
{
    text.parse().map_err(|e| format!("{field} {text:?} does not parse: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::{AskRequest, CoreConfig, RmCore};
    use weft_proto::NodeId;

    #[test]
    fn an_application_comes_back_from_its_record_as_it_was_stored() {
        let mut core = RmCore::new(CoreConfig::with_defaults(1_700_000_000_000));
        core.register_node(NodeId::new("n1", 8041), "n1:8042".into(), "t".into(), Resource::new(8192, 8), vec![], 1);
        let id = core.new_application();
        let submission = Submission {
            id,
            name: "wordcount".into(),
            queue: "default".into(),
            application_type: "SPARK".into(),
            user: "alice".into(),
            am_resource: Resource::new(1024, 1),
            am_launch: LaunchSpec {
                command: vec!["./am".into(), "--x".into()],
                environment: vec![("K".into(), "V".into())],
                local_files: vec![LocalFile { name: "am".into(), sha256: "ab".repeat(32), size: 7, executable: true }],
                hadoop_context: vec![1, 2, 255],
            },
            max_app_attempts: 2,
            unmanaged_am: false,
            tags: vec!["t1".into()],
            acls: AppAcls::from_texts(Some("bob"), None),
        };
        core.submit(submission, 2).unwrap();
        let attempt = id.attempt(1);
        core.register_am(attempt, "h".into(), 5, "http://h:4040".into(), 3).unwrap();
        core.allocate(
            attempt,
            &[AskRequest { priority: 1, capability: Resource::new(1024, 1), num_containers: 1 }],
            &[],
            0.5,
            4,
        )
        .unwrap();
        let app = core.app(id).unwrap().clone();
        let record = AppRecord::of(&app);
        let json = serde_json::to_string(&record).unwrap();
        let back: AppRecord = serde_json::from_str(&json).unwrap();
        assert_eq!(back, record);
        let again = back.into_app().unwrap();
        assert_eq!(AppRecord::of(&again), record);
        assert_eq!(again.submission.acls, app.submission.acls);
        assert!(again.submission.acls.view.is_some());
        assert_eq!(again.current_attempt().am_container, app.current_attempt().am_container);
    }

    #[test]
    fn a_field_that_does_not_parse_is_named() {
        let mut core = RmCore::new(CoreConfig::with_defaults(1_700_000_000_000));
        let id = core.new_application();
        let submission = Submission {
            id,
            name: String::new(),
            queue: String::new(),
            application_type: String::new(),
            user: "alice".into(),
            am_resource: Resource::new(1024, 1),
            am_launch: LaunchSpec { command: vec!["x".into()], ..Default::default() },
            max_app_attempts: 0,
            unmanaged_am: false,
            tags: vec![],
            acls: AppAcls::default(),
        };
        core.submit(submission, 1).unwrap();
        let mut record = AppRecord::of(core.app(id).unwrap());
        record.attempts[0].state = "SLEEPING".into();
        let error = record.into_app().unwrap_err();
        assert!(error.starts_with("attempts.state \"SLEEPING\" does not parse"), "{error}");
    }
}

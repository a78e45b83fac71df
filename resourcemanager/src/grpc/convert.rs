//! Conversions between wire messages and the core's types. Requests are checked here for shape
//! (ids parse, fields present); the core checks meaning.

use tonic::Status;
use weft_proto::pb;
use weft_proto::states::ContainerState;
use weft_proto::{ApplicationAttemptId, ApplicationId, ContainerId, NodeId, Resource};

use super::status::invalid;
use crate::core::{
    App, AppAcls, ClusterMetrics, LaunchSpec, LocalFile, MemoryUsage, Node, ReportedContainer, RmContainer, RmCore,
    Submission, Utilization,
};
use crate::state::RmInfo;

pub(crate) fn app_id(text: &str) -> Result<ApplicationId, Status> {
    text.parse().map_err(invalid)
}

pub(crate) fn attempt_id(text: &str) -> Result<ApplicationAttemptId, Status> {
    text.parse().map_err(invalid)
}

pub(crate) fn container_id(text: &str) -> Result<ContainerId, Status> {
    text.parse().map_err(invalid)
}

pub(crate) fn node_id(text: &str) -> Result<NodeId, Status> {
    text.parse().map_err(invalid)
}

pub(crate) fn resource(r: Option<pb::Resource>, what: &str) -> Result<Resource, Status> {
    r.map(Resource::from).ok_or_else(|| invalid(format!("{what} is missing its resource")))
}

fn is_sha256(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

pub(crate) fn launch_spec(ctx: pb::ContainerLaunchContext) -> Result<LaunchSpec, Status> {
    // The ACLs of a submission come with it, not with its AM's launch context.
    let pb::ContainerLaunchContext { command, environment, local_resources, view_acls: _, modify_acls: _ } = ctx;
    let mut local_files = Vec::with_capacity(local_resources.len());
    for pb::LocalResource { name, sha256, size, executable } in local_resources {
        if name.is_empty() || name.contains('/') || name == "." || name == ".." {
            return Err(invalid(format!("local resource name {name:?} must be a plain file name")));
        }
        if !is_sha256(&sha256) {
            return Err(invalid(format!("local resource {name:?} has sha256 {sha256:?}: expected 64 hex digits")));
        }
        local_files.push(LocalFile { name, sha256: sha256.to_ascii_lowercase(), size, executable });
    }
    let environment = environment.into_iter().map(|pb::KeyValue { key, value }| (key, value)).collect();
    Ok(LaunchSpec { command, environment, local_files, hadoop_context: Vec::new() })
}

pub(crate) fn launch_context(spec: LaunchSpec, extra_env: &[(String, String)]) -> pb::ContainerLaunchContext {
    let LaunchSpec { command, environment, local_files, hadoop_context: _ } = spec;
    let environment =
        extra_env.iter().cloned().chain(environment).map(|(key, value)| pb::KeyValue { key, value }).collect();
    let local_resources = local_files
        .into_iter()
        .map(|LocalFile { name, sha256, size, executable }| pb::LocalResource { name, sha256, size, executable })
        .collect();
    pb::ContainerLaunchContext { command, environment, local_resources, ..Default::default() }
}

pub(crate) fn submission(ctx: Option<pb::ApplicationSubmissionContext>) -> Result<Submission, Status> {
    let pb::ApplicationSubmissionContext {
        application_id,
        name,
        queue,
        application_type,
        user,
        am_resource,
        am_container,
        max_app_attempts,
        unmanaged_am,
        tags,
        view_acls,
        modify_acls,
    } = ctx.ok_or_else(|| invalid("the submission context is missing"))?;
    if max_app_attempts < 0 {
        return Err(invalid(format!("max app attempts must be at least 0, got {max_app_attempts}")));
    }
    Ok(Submission {
        id: app_id(&application_id)?,
        name,
        queue,
        application_type,
        user: if user.is_empty() { "dr.who".into() } else { user },
        am_resource: am_resource.map(Resource::from).unwrap_or(Resource::new(1024, 1)),
        am_launch: launch_spec(am_container.unwrap_or_default())?,
        max_app_attempts: max_app_attempts as u32,
        unmanaged_am,
        tags,
        acls: AppAcls::from_texts(given(&view_acls), given(&modify_acls)),
    })
}

/// An application ACL as given; empty is "not given" (nobody beyond the owner and the admins).
fn given(text: &str) -> Option<&str> {
    (!text.is_empty()).then_some(text)
}

pub(crate) fn reported(status: pb::ContainerStatus) -> Result<ReportedContainer, Status> {
    let pb::ContainerStatus {
        container_id: id,
        state,
        exit_status,
        diagnostics,
        resource,
        peak_physical_memory_bytes,
        peak_virtual_memory_bytes,
        physical_memory_limit_bytes,
        virtual_memory_limit_bytes,
        kill_reason,
        killed_time,
        creation_time,
    } = status;
    let usage = MemoryUsage {
        peak_physical_bytes: peak_physical_memory_bytes,
        peak_virtual_bytes: peak_virtual_memory_bytes,
        physical_limit_bytes: physical_memory_limit_bytes,
        virtual_limit_bytes: virtual_memory_limit_bytes,
    };
    let kill = (!kill_reason.is_empty()).then(|| (kill_reason, killed_time.max(0) as u64));
    let state = match pb::ContainerState::try_from(state) {
        Ok(pb::ContainerState::Complete) => ContainerState::COMPLETE,
        Ok(pb::ContainerState::New) => ContainerState::NEW,
        _ => ContainerState::RUNNING,
    };
    let resource = resource.map(weft_proto::Resource::from).unwrap_or(weft_proto::Resource::ZERO);
    let created_ms = creation_time.max(0) as u64;
    Ok(ReportedContainer { id: container_id(&id)?, state, exit_status, diagnostics, usage, kill, resource, created_ms })
}

pub(crate) fn completed_status(c: ReportedContainer) -> pb::ContainerStatus {
    let ReportedContainer { id, state: _, exit_status, diagnostics, usage, kill, resource: _, created_ms } = c;
    let (kill_reason, killed_time) = kill.map_or((String::new(), 0), |(r, at)| (r, at as i64));
    pb::ContainerStatus {
        container_id: id.to_string(),
        state: pb::ContainerState::Complete as i32,
        exit_status,
        diagnostics,
        resource: None,
        peak_physical_memory_bytes: usage.peak_physical_bytes,
        peak_virtual_memory_bytes: usage.peak_virtual_bytes,
        physical_memory_limit_bytes: usage.physical_limit_bytes,
        virtual_memory_limit_bytes: usage.virtual_limit_bytes,
        kill_reason,
        killed_time,
        creation_time: created_ms as i64,
    }
}

pub(crate) fn utilization(u: Option<pb::NodeUtilization>) -> Utilization {
    u.map(Utilization::from).unwrap_or_default()
}

pub(crate) fn container_report(c: &RmContainer, user: &str) -> pb::ContainerReport {
    pb::ContainerReport {
        container_id: c.id.to_string(),
        resource: Some(c.resource.into()),
        node_id: c.node.to_string(),
        node_http_address: c.node_http_address.to_string(),
        priority: c.priority,
        creation_time: c.created_ms as i64,
        finish_time: c.finished_ms as i64,
        state: c.state.to_string(),
        exit_status: c.exit_status,
        diagnostics: c.diagnostics.clone(),
        log_url: format!("http://{}/node/containerlogs/{}/{}", c.node_http_address, c.id, user),
    }
}

/// The tracking URL of an application, as YARN gives it: the RM's web proxy (`/proxy/{app}/`) when
/// the AM gave a URL of its own (its UI, or a History Server page after), else its page on the RM.
pub(crate) fn tracking_url(app: &App, info: &RmInfo) -> String {
    if app.original_tracking_url().is_empty() {
        format!("http://{}/cluster/app/{}", info.webapp_address, app.id())
    } else {
        format!("http://{}/proxy/{}/", info.webapp_address, app.id())
    }
}

/// An application's report; without VIEW_APP (`full` false) only what YARN shows anyone: ids,
/// user, name, queue, type, states and times, with "N/A" for diagnostics, tracking URL and AM host.
pub(crate) fn app_report(app: &App, core: &RmCore, info: &RmInfo, full: bool) -> pb::ApplicationReport {
    let report = full_app_report(app, core, info);
    if full {
        return report;
    }
    pb::ApplicationReport {
        progress: 0.0,
        diagnostics: NOT_AVAILABLE.into(),
        current_attempt_id: String::new(),
        am_container_id: String::new(),
        am_host: NOT_AVAILABLE.into(),
        am_rpc_port: -1,
        tracking_url: NOT_AVAILABLE.into(),
        allocated: None,
        running_containers: -1,
        memory_seconds: -1,
        vcore_seconds: -1,
        am_node_http_address: String::new(),
        am_rm_token: Vec::new(),
        ..report
    }
}

/// What YARN's reports say for a field the caller may not see.
pub(crate) const NOT_AVAILABLE: &str = "N/A";

fn full_app_report(app: &App, core: &RmCore, info: &RmInfo) -> pb::ApplicationReport {
    let attempt = app.current_attempt();
    let (allocated, running) = core.app_allocated(app.id());
    let s = &app.submission;
    pb::ApplicationReport {
        application_id: app.id().to_string(),
        user: s.user.clone(),
        name: s.name.clone(),
        queue: s.queue.clone(),
        state: app.state.to_string(),
        final_status: app.final_status.to_string(),
        progress: app.progress,
        diagnostics: app.diagnostics.clone(),
        started_time: app.started_ms as i64,
        finished_time: app.finished_ms as i64,
        application_type: s.application_type.clone(),
        current_attempt_id: attempt.id.to_string(),
        am_container_id: attempt.am_container.map(|c| c.to_string()).unwrap_or_default(),
        am_host: if attempt.host.is_empty() { "N/A".into() } else { attempt.host.clone() },
        am_rpc_port: attempt.rpc_port,
        tracking_url: tracking_url(app, info),
        allocated: Some(allocated.into()),
        running_containers: if app.state.is_final() { -1 } else { running },
        memory_seconds: app.memory_seconds,
        vcore_seconds: app.vcore_seconds,
        unmanaged_am: s.unmanaged_am,
        am_node_http_address: attempt.am_node_http_address.clone(),
        tags: s.tags.clone(),
        // Only the report a client asks for by id carries it (`client.rs`).
        am_rm_token: Vec::new(),
    }
}

pub(crate) fn node_report(n: &Node) -> pb::NodeReport {
    pb::NodeReport {
        node_id: n.id.to_string(),
        state: n.state.to_string(),
        http_address: n.http_address.to_string(),
        rack: "/default-rack".into(),
        total: Some(n.total.into()),
        used: Some(n.allocated.into()),
        num_containers: n.containers.len() as i32,
        last_health_update: n.last_heartbeat_ms as i64,
        health_report: n.health_report.clone(),
        utilization: Some(n.utilization.into()),
        version: n.version.clone(),
    }
}

pub(crate) fn metrics(m: &ClusterMetrics) -> pb::ClusterMetrics {
    pb::ClusterMetrics {
        apps_submitted: m.apps_submitted,
        apps_completed: m.apps_completed,
        apps_pending: m.apps_pending,
        apps_running: m.apps_running,
        apps_failed: m.apps_failed,
        apps_killed: m.apps_killed,
        total: Some(m.total.into()),
        allocated: Some(m.allocated.into()),
        available: Some(m.available.into()),
        containers_allocated: m.containers_allocated,
        containers_pending: m.containers_pending as i32,
        active_nodes: m.active_nodes,
        lost_nodes: m.lost_nodes,
        unhealthy_nodes: m.unhealthy_nodes,
        shutdown_nodes: m.shutdown_nodes,
        total_nodes: m.total_nodes,
    }
}

//! Weft's applications as YARN's records on Hadoop IPC, and YARN's submission context as a Weft
//! submission. Plain conversions: no I/O.

use prost::Message;
use weft_hadoop_ipc::ids;
use weft_hadoop_ipc::yarn::{
    ApplicationAttemptReportProto, ApplicationReportProto, ApplicationResourceUsageReportProto,
    ApplicationSubmissionContextProto, ContainerLaunchContextProto, ContainerReportProto, ContainerStateProto,
    ExecutionTypeProto, FinalApplicationStatusProto, NodeIdProto, NodeReportProto, NodeStateProto, PriorityProto,
    QueueInfoProto, QueueStateProto, QueueStatisticsProto, ResourceProto, YarnApplicationAttemptStateProto,
    YarnApplicationStateProto, YarnClusterMetricsProto,
};
use weft_proto::states::{AppState, FinalStatus};
use weft_proto::{NodeId, Resource};

use crate::core::{App, AppAcls, Attempt, ClusterMetrics, LaunchSpec, Node, RmContainer, RmCore, Submission};
use crate::state::RmInfo;

pub(crate) fn resource(r: Resource) -> ResourceProto {
    ResourceProto { memory: Some(r.memory_mb), virtual_cores: Some(r.vcores), resource_value_map: Vec::new() }
}

pub(crate) fn app_state(state: AppState) -> YarnApplicationStateProto {
    match state {
        AppState::NEW => YarnApplicationStateProto::New,
        AppState::NEW_SAVING => YarnApplicationStateProto::NewSaving,
        AppState::SUBMITTED => YarnApplicationStateProto::Submitted,
        AppState::ACCEPTED => YarnApplicationStateProto::Accepted,
        AppState::RUNNING => YarnApplicationStateProto::Running,
        AppState::FINISHED => YarnApplicationStateProto::Finished,
        AppState::FAILED => YarnApplicationStateProto::Failed,
        AppState::KILLED => YarnApplicationStateProto::Killed,
    }
}

pub(crate) fn final_status(status: FinalStatus) -> FinalApplicationStatusProto {
    match status {
        FinalStatus::UNDEFINED => FinalApplicationStatusProto::AppUndefined,
        FinalStatus::SUCCEEDED => FinalApplicationStatusProto::AppSucceeded,
        FinalStatus::FAILED => FinalApplicationStatusProto::AppFailed,
        FinalStatus::KILLED => FinalApplicationStatusProto::AppKilled,
    }
}

/// What `getApplicationReport` answers to a caller without VIEW_APP (`full` false), as YARN's
/// `RMAppImpl.createAndGetApplicationReport` does: ids, user, name, queue, type, states and times,
/// with "N/A" for host, tracking URLs and diagnostics, no attempt, progress 0 and usage -1.
pub(crate) fn app_report(app: &App, core: &RmCore, info: &RmInfo, full: bool) -> ApplicationReportProto {
    let report = full_app_report(app, core, info);
    if full {
        return report;
    }
    let none = || Some("N/A".to_string());
    let unknown = Some(resource(Resource::new(-1, -1)));
    ApplicationReportProto {
        host: none(),
        rpc_port: Some(-1),
        tracking_url: none(),
        original_tracking_url: none(),
        diagnostics: none(),
        progress: Some(0.0),
        current_application_attempt_id: None,
        app_resource_usage: Some(ApplicationResourceUsageReportProto {
            num_used_containers: Some(-1),
            num_reserved_containers: Some(-1),
            used_resources: unknown.clone(),
            reserved_resources: unknown.clone(),
            needed_resources: unknown,
            memory_seconds: Some(-1),
            vcore_seconds: Some(-1),
            ..Default::default()
        }),
        ..report
    }
}

/// What `getApplicationReport` answers: every field Spark's client reads (state, final status,
/// diagnostics, AM host and port, queue, start time, tracking URL, user, attempt).
fn full_app_report(app: &App, core: &RmCore, info: &RmInfo) -> ApplicationReportProto {
    let attempt = app.current_attempt();
    let s = &app.submission;
    let (allocated, running) = core.app_allocated(app.id());
    let tracking_url = crate::grpc::tracking_url(app, info);
    ApplicationReportProto {
        application_id: Some(ids::application_id_proto(app.id())),
        user: Some(s.user.clone()),
        queue: Some(s.queue.clone()),
        name: Some(s.name.clone()),
        host: Some(if attempt.host.is_empty() { "N/A".into() } else { attempt.host.clone() }),
        rpc_port: Some(attempt.rpc_port),
        client_to_am_token: None,
        yarn_application_state: Some(app_state(app.state) as i32),
        tracking_url: Some(tracking_url.clone()),
        diagnostics: Some(app.diagnostics.clone()),
        start_time: Some(app.started_ms as i64),
        finish_time: Some(app.finished_ms as i64),
        final_application_status: Some(final_status(app.final_status) as i32),
        app_resource_usage: Some(ApplicationResourceUsageReportProto {
            num_used_containers: Some(if app.state.is_final() { 0 } else { running }),
            used_resources: Some(resource(allocated)),
            memory_seconds: Some(app.memory_seconds),
            vcore_seconds: Some(app.vcore_seconds),
            ..Default::default()
        }),
        original_tracking_url: Some(match app.original_tracking_url() {
            "" => tracking_url,
            own => own.to_owned(),
        }),
        current_application_attempt_id: Some(ids::attempt_id_proto(attempt.id)),
        progress: Some(app.progress),
        application_type: Some(s.application_type.clone()),
        am_rm_token: None,
        application_tags: s.tags.clone(),
        unmanaged_application: Some(s.unmanaged_am),
        priority: None,
        launch_time: Some(attempt.started_ms as i64),
        submit_time: Some(app.started_ms as i64),
    }
}

pub(crate) fn cluster_metrics(m: &ClusterMetrics) -> YarnClusterMetricsProto {
    YarnClusterMetricsProto {
        num_node_managers: Some(m.active_nodes),
        num_decommissioned_nms: Some(m.decommissioned_nodes),
        num_active_nms: Some(m.active_nodes),
        num_lost_nms: Some(m.lost_nodes),
        num_unhealthy_nms: Some(m.unhealthy_nodes),
        num_rebooted_nms: Some(m.rebooted_nodes),
    }
}

/// A node as `getClusterNodes` reports it.
pub(crate) fn node_report(node: &Node) -> NodeReportProto {
    NodeReportProto {
        node_id: Some(node_id(&node.id)),
        http_address: Some(node.http_address.to_string()),
        rack_name: Some("/default-rack".into()),
        used: Some(resource(node.allocated)),
        capability: Some(resource(node.total)),
        num_containers: Some(node.containers.len() as i32),
        node_state: NodeStateProto::from_str_name(&format!("NS_{}", node.state.as_str())).map(|s| s as i32),
        health_report: Some(node.health_report.clone()),
        last_health_report_time: Some(node.last_heartbeat_ms as i64),
        ..Default::default()
    }
}

pub(crate) fn node_id(node: &NodeId) -> NodeIdProto {
    NodeIdProto { host: Some(node.host.clone()), port: Some(i32::from(node.port)) }
}

/// An attempt as `getApplicationAttemptReport` reports it.
pub(crate) fn attempt_report(attempt: &Attempt) -> ApplicationAttemptReportProto {
    let state = format!("APP_ATTEMPT_{}", attempt.state.as_str());
    ApplicationAttemptReportProto {
        application_attempt_id: Some(ids::attempt_id_proto(attempt.id)),
        host: Some(if attempt.host.is_empty() { "N/A".into() } else { attempt.host.clone() }),
        rpc_port: Some(attempt.rpc_port),
        tracking_url: Some(attempt.tracking_url.clone()),
        diagnostics: Some(attempt.diagnostics.clone()),
        yarn_application_attempt_state: YarnApplicationAttemptStateProto::from_str_name(&state).map(|s| s as i32),
        am_container_id: attempt.am_container.map(ids::container_id_proto),
        original_tracking_url: Some(attempt.tracking_url.clone()),
        start_time: Some(attempt.started_ms as i64),
        finish_time: Some(attempt.finished_ms as i64),
    }
}

/// A container as `getContainerReport` reports it; `user` owns its application (for the log URL).
pub(crate) fn container_report(c: &RmContainer, user: &str) -> ContainerReportProto {
    ContainerReportProto {
        container_id: Some(ids::container_id_proto(c.id)),
        resource: Some(resource(c.resource)),
        node_id: Some(node_id(&c.node)),
        priority: Some(PriorityProto { priority: Some(c.priority) }),
        creation_time: Some(c.created_ms as i64),
        finish_time: Some(c.finished_ms as i64),
        diagnostics_info: Some(c.diagnostics.clone()),
        log_url: Some(format!("http://{}/node/containerlogs/{}/{user}", c.node_http_address, c.id)),
        container_exit_status: Some(c.exit_status),
        container_state: ContainerStateProto::from_str_name(&format!("C_{}", c.state.as_str())).map(|s| s as i32),
        node_http_address: Some(format!("http://{}", c.node_http_address)),
        execution_type: Some(ExecutionTypeProto::Guaranteed as i32),
    }
}

/// The one queue, `default`, as `getQueueInfo` reports it.
pub(crate) fn queue_info(m: &ClusterMetrics, applications: Vec<ApplicationReportProto>) -> QueueInfoProto {
    let used = if m.total.memory_mb > 0 { m.allocated.memory_mb as f32 / m.total.memory_mb as f32 } else { 0.0 };
    QueueInfoProto {
        queue_name: Some("default".into()),
        capacity: Some(1.0),
        maximum_capacity: Some(1.0),
        current_capacity: Some(used),
        state: Some(QueueStateProto::QRunning as i32),
        child_queues: Vec::new(),
        applications,
        queue_statistics: Some(QueueStatisticsProto {
            num_apps_submitted: Some(i64::from(m.apps_submitted)),
            num_apps_running: Some(i64::from(m.apps_running)),
            num_apps_pending: Some(i64::from(m.apps_pending)),
            num_apps_completed: Some(i64::from(m.apps_completed)),
            num_apps_killed: Some(i64::from(m.apps_killed)),
            num_apps_failed: Some(i64::from(m.apps_failed)),
            available_memory_mb: Some(m.available.memory_mb),
            allocated_memory_mb: Some(m.allocated.memory_mb),
            available_vcores: Some(i64::from(m.available.vcores)),
            allocated_vcores: Some(i64::from(m.allocated.vcores)),
            allocated_containers: Some(i64::from(m.containers_allocated)),
            pending_containers: Some(m.containers_pending),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// YARN's submission context as a Weft submission by `user`. The AM's launch context is kept
/// encoded, for the NodeManager that starts the AM.
pub(crate) fn submission(ctx: ApplicationSubmissionContextProto, user: &str) -> Result<Submission, String> {
    let id = ctx
        .application_id
        .as_ref()
        .and_then(ids::application_id)
        .ok_or("the submission context has no valid application id")?;
    let resource = ctx.resource.as_ref().ok_or("the submission context has no AM resource")?;
    let am_resource = Resource::new(resource.memory(), resource.virtual_cores());
    if ctx.max_app_attempts() < 0 {
        return Err(format!("max app attempts must be at least 0, got {}", ctx.max_app_attempts()));
    }
    let am_launch = match &ctx.am_container_spec {
        Some(spec) => LaunchSpec { hadoop_context: spec.encode_to_vec(), ..LaunchSpec::default() },
        None if ctx.unmanaged_am() => LaunchSpec::default(),
        None => return Err("the submission context has no AM container spec".into()),
    };
    Ok(Submission {
        id,
        name: ctx.application_name().to_string(),
        queue: ctx.queue().to_string(),
        application_type: ctx.application_type().to_string(),
        user: user.to_string(),
        am_resource,
        am_launch,
        max_app_attempts: ctx.max_app_attempts() as u32,
        unmanaged_am: ctx.unmanaged_am(),
        tags: ctx.application_tags.clone(),
        acls: ctx.am_container_spec.as_ref().map(app_acls).unwrap_or_default(),
    })
}

/// YARN's `application_ACLs` (Spark fills them from `spark.acls.enable`, `spark.ui.view.acls` and
/// `spark.modify.acls`).
fn app_acls(spec: &ContainerLaunchContextProto) -> AppAcls {
    let texts = weft_hadoop_ipc::acls::application_acls(spec);
    AppAcls::from_texts(texts.view.as_deref(), texts.modify.as_deref())
}

#[cfg(test)]
mod tests {
    use weft_hadoop_ipc::yarn::ContainerLaunchContextProto;
    use weft_proto::ApplicationId;

    use super::*;

    fn context() -> ApplicationSubmissionContextProto {
        ApplicationSubmissionContextProto {
            application_id: Some(ids::application_id_proto(ApplicationId::new(1_700_000_000_000, 4))),
            application_name: Some("PythonPi".into()),
            am_container_spec: Some(ContainerLaunchContextProto {
                command: vec!["{{JAVA_HOME}}/bin/java".into()],
                ..Default::default()
            }),
            resource: Some(ResourceProto { memory: Some(896), virtual_cores: Some(1), resource_value_map: vec![] }),
            application_type: Some("SPARK".into()),
            application_tags: vec!["nightly".into()],
            ..Default::default()
        }
    }

    #[test]
    fn a_spark_submission_keeps_its_type_defaults_and_encoded_launch_context() {
        let s = submission(context(), "alice").unwrap();
        assert_eq!(s.id.to_string(), "application_1700000000000_0004");
        assert_eq!((s.name.as_str(), s.queue.as_str(), s.application_type.as_str()), ("PythonPi", "default", "SPARK"));
        assert_eq!((s.user.as_str(), s.am_resource, s.max_app_attempts), ("alice", Resource::new(896, 1), 0));
        let spec = ContainerLaunchContextProto::decode(s.am_launch.hadoop_context.as_slice()).unwrap();
        assert_eq!(spec.command, ["{{JAVA_HOME}}/bin/java"]);
        assert!(s.am_launch.command.is_empty());
    }

    #[test]
    fn a_submission_missing_its_parts_is_refused_naming_them() {
        let no_id = ApplicationSubmissionContextProto { application_id: None, ..context() };
        assert!(submission(no_id, "a").unwrap_err().contains("application id"));
        let no_resource = ApplicationSubmissionContextProto { resource: None, ..context() };
        assert!(submission(no_resource, "a").unwrap_err().contains("AM resource"));
        let no_spec = ApplicationSubmissionContextProto { am_container_spec: None, ..context() };
        assert!(submission(no_spec, "a").unwrap_err().contains("AM container spec"));
    }

    #[test]
    fn weft_states_name_hadoops_enum_values() {
        use weft_proto::states::{AttemptState, ContainerState, NodeState};
        for state in NodeState::ALL {
            assert!(NodeStateProto::from_str_name(&format!("NS_{state}")).is_some(), "{state}");
        }
        for state in AttemptState::ALL {
            assert!(
                YarnApplicationAttemptStateProto::from_str_name(&format!("APP_ATTEMPT_{state}")).is_some(),
                "{state}"
            );
        }
        for state in ContainerState::ALL {
            assert!(ContainerStateProto::from_str_name(&format!("C_{state}")).is_some(), "{state}");
        }
    }

    #[test]
    fn states_map_onto_hadoops_numbers() {
        assert_eq!(app_state(AppState::ACCEPTED) as i32, 4);
        assert_eq!(app_state(AppState::KILLED) as i32, 8);
        assert_eq!(final_status(FinalStatus::SUCCEEDED) as i32, 1);
        assert_eq!(final_status(FinalStatus::UNDEFINED) as i32, 0);
    }
}

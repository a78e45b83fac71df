//! Weft's applications as YARN's records on Hadoop IPC, and YARN's submission context as a Weft
//! submission. Plain conversions: no I/O.

use prost::Message;
use weft_hadoop_ipc::ids;
use weft_hadoop_ipc::yarn::{
    ApplicationReportProto, ApplicationResourceUsageReportProto, ApplicationSubmissionContextProto,
    FinalApplicationStatusProto, ResourceProto, YarnApplicationStateProto, YarnClusterMetricsProto,
};
use weft_proto::states::{AppState, FinalStatus};
use weft_proto::Resource;

use crate::core::{App, ClusterMetrics, LaunchSpec, RmCore, Submission};
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

/// What `getApplicationReport` answers: every field Spark's client reads (state, final status,
/// diagnostics, AM host and port, queue, start time, tracking URL, user, attempt).
pub(crate) fn app_report(app: &App, core: &RmCore, info: &RmInfo) -> ApplicationReportProto {
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
        original_tracking_url: Some(tracking_url),
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
    })
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
    fn states_map_onto_hadoops_numbers() {
        assert_eq!(app_state(AppState::ACCEPTED) as i32, 4);
        assert_eq!(app_state(AppState::KILLED) as i32, 8);
        assert_eq!(final_status(FinalStatus::SUCCEEDED) as i32, 1);
        assert_eq!(final_status(FinalStatus::UNDEFINED) as i32, 0);
    }
}

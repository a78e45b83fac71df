//! The ResourceManager's Hadoop IPC face: YARN's `ApplicationClientProtocolPB` on the client port
//! and `ApplicationMasterProtocolPB` on the scheduler port (each served beside Weft's gRPC, told
//! apart by the first bytes of each connection), so Hadoop's clients — `spark-submit --master yarn`,
//! Hadoop's `yarn` command, Spark's `ApplicationMaster` — submit, watch, kill and run applications
//! here. The same core serves both protocols.

mod am_launch;
mod asks;
#[cfg(test)]
mod asks_props;
mod master;
mod records;

pub(crate) use am_launch::{am_environment, am_launch_context};
pub use master::{MasterProtocol, MASTER_PROTOCOL};

use std::sync::Arc;

use prost::Message;
use weft_hadoop_ipc::exceptions;
use weft_hadoop_ipc::ids;
use weft_hadoop_ipc::yarn::{
    ApplicationAttemptIdProto, ApplicationIdProto, GetApplicationAttemptReportRequestProto,
    GetApplicationAttemptReportResponseProto, GetApplicationReportRequestProto, GetApplicationReportResponseProto,
    GetApplicationsRequestProto, GetApplicationsResponseProto, GetClusterMetricsResponseProto,
    GetClusterNodesRequestProto, GetClusterNodesResponseProto, GetContainerReportRequestProto,
    GetContainerReportResponseProto, GetContainersRequestProto, GetContainersResponseProto,
    GetNewApplicationResponseProto, GetQueueInfoRequestProto, GetQueueInfoResponseProto, KillApplicationRequestProto,
    KillApplicationResponseProto, SubmitApplicationRequestProto, SubmitApplicationResponseProto,
};
use weft_hadoop_ipc::{Call, Handler, Identity, RpcError};
use weft_proto::{ApplicationAttemptId, ApplicationId};

use crate::core::{AccessType, AppFilter, Caller, RmError};
use crate::state::Rm;

/// The protocol name Hadoop's client puts on every call to the client port.
pub const CLIENT_PROTOCOL: &str = "org.apache.hadoop.yarn.api.ApplicationClientProtocolPB";

/// ApplicationClientProtocolPB, over the ResourceManager's core.
pub struct ClientProtocol {
    rm: Arc<Rm>,
}

impl ClientProtocol {
    pub fn new(rm: Arc<Rm>) -> ClientProtocol {
        ClientProtocol { rm }
    }

    /// The caller of `call`: its connection's user, with that user's groups when ACLs are on.
    fn who(&self, call: &Call) -> Caller {
        self.rm.caller(&caller(call))
    }

    fn answer(&self, call: &Call) -> Result<Vec<u8>, RpcError> {
        match call.method.as_str() {
            "getNewApplication" => {
                let (id, maximum) = self.rm.with(|core, _| (core.new_application(), core.config().maximum_allocation));
                Ok(GetNewApplicationResponseProto {
                    application_id: Some(ids::application_id_proto(id)),
                    maximum_capability: Some(records::resource(maximum)),
                }
                .encode_to_vec())
            }
            "submitApplication" => {
                let request: SubmitApplicationRequestProto = call.decode()?;
                let context = request
                    .application_submission_context
                    .ok_or_else(|| RpcError::application(exceptions::YARN, "the submission context is missing"))?;
                let submission = records::submission(context, &caller(call))
                    .map_err(|e| RpcError::application(exceptions::YARN, format!("invalid submission: {e}")))?;
                self.rm.with(|core, now| core.submit(submission, now)).map_err(rm_error)?;
                Ok(SubmitApplicationResponseProto {}.encode_to_vec())
            }
            "getApplicationReport" => {
                let request: GetApplicationReportRequestProto = call.decode()?;
                let id = app_id(request.application_id.as_ref())?;
                let info = &self.rm.info;
                let who = self.who(call);
                let report = self
                    .rm
                    .with(|core, _| {
                        core.app(id).map(|app| records::app_report(app, core, info, core.may(app, &who, VIEW)))
                    })
                    .map_err(rm_error)?;
                Ok(GetApplicationReportResponseProto { application_report: Some(report) }.encode_to_vec())
            }
            "getApplications" => {
                let request: GetApplicationsRequestProto = call.decode()?;
                let info = &self.rm.info;
                let who = self.who(call);
                let filter = AppFilter::default();
                let types: Vec<String> = request.application_types.iter().map(|t| t.to_ascii_uppercase()).collect();
                let applications = self.rm.with(|core, _| {
                    core.apps(&filter)
                        .into_iter()
                        .filter(|a| {
                            types.is_empty() || types.contains(&a.submission.application_type.to_ascii_uppercase())
                        })
                        .map(|a| records::app_report(a, core, info, core.may(a, &who, VIEW)))
                        .filter(|r| {
                            request.application_states.is_empty()
                                || request.application_states.contains(&(r.yarn_application_state() as i32))
                        })
                        .collect()
                });
                Ok(GetApplicationsResponseProto { applications }.encode_to_vec())
            }
            "forceKillApplication" => {
                let request: KillApplicationRequestProto = call.decode()?;
                let id = app_id(request.application_id.as_ref())?;
                let diagnostics = match request.diagnostics() {
                    "" => "Application killed by user.".to_string(),
                    given => given.to_string(),
                };
                let who = self.who(call);
                // Killing an application that has ended already is complete at once, as in YARN.
                self.rm
                    .with(|core, now| {
                        core.authorized(id, &who, AccessType::ModifyApp)?;
                        core.kill(id, diagnostics, now)
                    })
                    .map_err(rm_error)?;
                Ok(KillApplicationResponseProto { is_kill_completed: Some(true) }.encode_to_vec())
            }
            "getClusterMetrics" => {
                let metrics = self.rm.with(|core, _| core.metrics());
                Ok(GetClusterMetricsResponseProto { cluster_metrics: Some(records::cluster_metrics(&metrics)) }
                    .encode_to_vec())
            }
            "getClusterNodes" => {
                let request: GetClusterNodesRequestProto = call.decode()?;
                let node_reports = self.rm.with(|core, _| {
                    core.nodes()
                        .map(records::node_report)
                        .filter(|r| {
                            request.node_states.is_empty() || request.node_states.contains(&(r.node_state() as i32))
                        })
                        .collect()
                });
                Ok(GetClusterNodesResponseProto { node_reports }.encode_to_vec())
            }
            "getQueueInfo" => {
                let request: GetQueueInfoRequestProto = call.decode()?;
                if !matches!(request.queue_name(), "" | "default" | "root.default") {
                    let message = format!("Unknown queue: {}", request.queue_name());
                    return Err(RpcError::application(exceptions::YARN, message));
                }
                let info = &self.rm.info;
                let who = self.who(call);
                let queue_info = self.rm.with(|core, _| {
                    let apps = if request.include_applications() {
                        core.apps(&AppFilter::default())
                            .into_iter()
                            .map(|a| records::app_report(a, core, info, core.may(a, &who, VIEW)))
                            .collect()
                    } else {
                        Vec::new()
                    };
                    records::queue_info(&core.metrics(), apps)
                });
                Ok(GetQueueInfoResponseProto { queue_info: Some(queue_info) }.encode_to_vec())
            }
            "getApplicationAttemptReport" => {
                let request: GetApplicationAttemptReportRequestProto = call.decode()?;
                let attempt = attempt_id(request.application_attempt_id.as_ref())?;
                let who = self.who(call);
                let report = self.rm.with(|core, _| {
                    let app = core.app(attempt.application).map_err(|e| attempt_error(e, attempt))?;
                    if !core.may(app, &who, VIEW) {
                        return Err(unseen(&who, format!("attempt {attempt}")));
                    }
                    let found = app.attempts.iter().find(|a| a.id == attempt);
                    found
                        .map(records::attempt_report)
                        .ok_or_else(|| attempt_error(RmError::UnknownAttempt(attempt), attempt))
                })?;
                Ok(GetApplicationAttemptReportResponseProto { application_attempt_report: Some(report) }
                    .encode_to_vec())
            }
            "getContainerReport" => {
                let request: GetContainerReportRequestProto = call.decode()?;
                let id = request.container_id.as_ref().and_then(ids::container_id).ok_or_else(|| {
                    RpcError::application(exceptions::YARN, "the request names no valid container id")
                })?;
                let who = self.who(call);
                let report = self.rm.with(|core, _| {
                    let not_found = |_| {
                        RpcError::application(
                            exceptions::CONTAINER_NOT_FOUND,
                            format!("Container with id '{id}' doesn't exist in RM."),
                        )
                    };
                    let app = core.app(id.application()).map_err(not_found)?;
                    if !core.may(app, &who, VIEW) {
                        return Err(unseen(&who, format!("aplication {}", id.application())));
                    }
                    core.container(id).map(|c| records::container_report(c, &app.submission.user)).map_err(not_found)
                })?;
                Ok(GetContainerReportResponseProto { container_report: Some(report) }.encode_to_vec())
            }
            "getContainers" => {
                let request: GetContainersRequestProto = call.decode()?;
                let attempt = attempt_id(request.application_attempt_id.as_ref())?;
                let who = self.who(call);
                let containers = self.rm.with(|core, _| {
                    let app = core.app(attempt.application).map_err(|e| attempt_error(e, attempt))?;
                    if !core.may(app, &who, VIEW) {
                        return Err(unseen(&who, format!("aplication {}", attempt.application)));
                    }
                    let containers = core.attempt_containers(attempt).map_err(|e| attempt_error(e, attempt))?;
                    Ok(containers.into_iter().map(|c| records::container_report(c, &app.submission.user)).collect())
                })?;
                Ok(GetContainersResponseProto { containers }.encode_to_vec())
            }
            _ => Err(RpcError::no_such_method(call)),
        }
    }
}

fn attempt_id(proto: Option<&ApplicationAttemptIdProto>) -> Result<ApplicationAttemptId, RpcError> {
    proto
        .and_then(ids::attempt_id)
        .ok_or_else(|| RpcError::application(exceptions::YARN, "the request names no valid application attempt id"))
}

/// An unknown application or attempt, worded as YARN's client service words it.
fn attempt_error(error: RmError, attempt: ApplicationAttemptId) -> RpcError {
    match error {
        RmError::UnknownApplication(_) => rm_error(error),
        _ => RpcError::application(
            exceptions::APPLICATION_ATTEMPT_NOT_FOUND,
            format!("ApplicationAttempt with id '{attempt}' doesn't exist in RM."),
        ),
    }
}

impl Handler for ClientProtocol {
    async fn call(&self, call: Call) -> Result<Vec<u8>, RpcError> {
        if call.protocol != CLIENT_PROTOCOL {
            return Err(RpcError::no_such_protocol(&call));
        }
        self.answer(&call)
    }
}

/// The user a SIMPLE connection names (YARN's non-secure mode trusts it, as Weft's gRPC does).
fn caller(call: &Call) -> String {
    match &call.session.identity {
        Identity::Simple { user } if !user.is_empty() => user.clone(),
        _ => "dr.who".to_string(),
    }
}

fn app_id(proto: Option<&ApplicationIdProto>) -> Result<ApplicationId, RpcError> {
    proto
        .and_then(ids::application_id)
        .ok_or_else(|| RpcError::application(exceptions::YARN, "the request names no valid application id"))
}

const VIEW: AccessType = AccessType::ViewApp;

/// YARN's refusal of a report to a caller without VIEW_APP, e.g. `User mallory does not have
/// privilage to see this aplication application_…` (YARN's spelling, which its clients print).
fn unseen(who: &Caller, what: String) -> RpcError {
    RpcError::application(exceptions::YARN, format!("User {} does not have privilage to see this {what}", who.user))
}

/// The core's refusals as the exceptions YARN's client rethrows.
fn rm_error(error: RmError) -> RpcError {
    match error {
        // ClientRMService wraps the AccessControlException in a YarnException, whose message is
        // the cause's `toString()`.
        RmError::AccessDenied { .. } => {
            RpcError::application(exceptions::YARN, format!("java.security.AccessControlException: {error}"))
        }
        RmError::UnknownApplication(_) => RpcError::application(exceptions::APPLICATION_NOT_FOUND, error.to_string()),
        other => RpcError::application(exceptions::YARN, other.to_string()),
    }
}

//! ApplicationClient: what `weft` and other clients call on the ResourceManager's client port.

use std::sync::Arc;

use prost::Message;

use tonic::{Request, Response, Status};
use weft_daemon::acl::ANONYMOUS_USER;
use weft_proto::pb::{self, application_client_server::ApplicationClient};
use weft_proto::states::{AppState, NodeState};
use weft_proto::USER_METADATA;

use super::convert;
use super::status::{invalid, to_status};
use crate::core::{AccessType, AppFilter, Caller};
use crate::state::Rm;

pub struct ClientService {
    rm: Arc<Rm>,
}

impl ClientService {
    pub fn new(rm: Arc<Rm>) -> Self {
        ClientService { rm }
    }

    /// Who a call comes from: the user its `weft-user` metadata names, trusted as YARN's simple
    /// authentication trusts the client's claim; anonymous (`dr.who`) without it.
    fn caller<T>(&self, request: &Request<T>) -> Caller {
        self.rm.caller(named_user(request).unwrap_or_default())
    }
}

/// The user a call's `weft-user` metadata names; `None` when it names none (or names the anonymous
/// user, whom every caller that names no one shares).
fn named_user<T>(request: &Request<T>) -> Option<&str> {
    let user = request.metadata().get(USER_METADATA).and_then(|v| v.to_str().ok()).unwrap_or_default().trim();
    (!user.is_empty() && user != ANONYMOUS_USER).then_some(user)
}

#[tonic::async_trait]
impl ApplicationClient for ClientService {
    async fn get_new_application(
        &self,
        request: Request<pb::GetNewApplicationRequest>,
    ) -> Result<Response<pb::GetNewApplicationResponse>, Status> {
        let (id, maximum) = self.rm.with(|core, _| (core.new_application(), core.config().maximum_allocation));
        // The token names the asking user: what that user uploaded before counts for this application
        // (`staging::accounts`), as far as this user's claim to be that user is trusted.
        Ok(Response::new(pb::GetNewApplicationResponse {
            application_id: id.to_string(),
            maximum_capability: Some(maximum.into()),
            staging_token: self.rm.keys.staging_token(id, named_user(&request)),
        }))
    }

    async fn submit_application(
        &self,
        request: Request<pb::SubmitApplicationRequest>,
    ) -> Result<Response<pb::SubmitApplicationResponse>, Status> {
        let submission = convert::submission(request.into_inner().context)?;
        self.rm.with(|core, now| core.submit(submission, now)).map_err(to_status)?;
        Ok(Response::new(pb::SubmitApplicationResponse {}))
    }

    async fn get_application_report(
        &self,
        request: Request<pb::GetApplicationReportRequest>,
    ) -> Result<Response<pb::GetApplicationReportResponse>, Status> {
        let caller = self.caller(&request);
        let id = convert::app_id(&request.into_inner().application_id)?;
        let info = &self.rm.info;
        let keys = &self.rm.keys;
        let report = self.rm.with(|core, _| {
            core.app(id).map(|app| {
                let full = core.may(app, &caller, AccessType::ViewApp);
                let mut report = convert::app_report(app, core, info, full);
                // An unmanaged AM runs at its submitter's: the report is how it gets its token
                // (with ACLs on, only its owner gets it, as in YARN).
                let acls_on = core.config().acls.is_enabled();
                let to_owner = !acls_on || caller.user == app.submission.user;
                if app.submission.unmanaged_am && !app.state.is_final() && to_owner {
                    let attempt = app.current_attempt().id;
                    report.am_rm_token = keys.amrm_token(attempt, &info.scheduler_address).encode_to_vec();
                }
                report
            })
        });
        Ok(Response::new(pb::GetApplicationReportResponse { report: Some(report.map_err(to_status)?) }))
    }

    async fn get_applications(
        &self,
        request: Request<pb::GetApplicationsRequest>,
    ) -> Result<Response<pb::GetApplicationsResponse>, Status> {
        let caller = self.caller(&request);
        let pb::GetApplicationsRequest { states, queue, user, limit } = request.into_inner();
        let states = states.iter().map(|s| s.parse::<AppState>()).collect::<Result<Vec<_>, _>>().map_err(invalid)?;
        if limit < 0 {
            return Err(invalid(format!("limit must be at least 0, got {limit}")));
        }
        let filter = AppFilter {
            states,
            queue: (!queue.is_empty()).then_some(queue),
            user: (!user.is_empty()).then_some(user),
            limit: (limit > 0).then_some(limit as usize),
            ..Default::default()
        };
        let info = &self.rm.info;
        let applications = self.rm.with(|core, _| {
            core.apps(&filter)
                .into_iter()
                .map(|a| convert::app_report(a, core, info, core.may(a, &caller, AccessType::ViewApp)))
                .collect()
        });
        Ok(Response::new(pb::GetApplicationsResponse { applications }))
    }

    async fn kill_application(
        &self,
        request: Request<pb::KillApplicationRequest>,
    ) -> Result<Response<pb::KillApplicationResponse>, Status> {
        let caller = self.caller(&request);
        let pb::KillApplicationRequest { application_id, diagnostics } = request.into_inner();
        let id = convert::app_id(&application_id)?;
        let who = request_origin(&diagnostics);
        let (killed, state) = self
            .rm
            .with(|core, now| {
                core.authorized(id, &caller, AccessType::ModifyApp)?;
                let killed = core.kill(id, who, now)?;
                Ok((killed, core.app(id)?.state))
            })
            .map_err(to_status)?;
        Ok(Response::new(pb::KillApplicationResponse { kill_completed: killed, state: state.to_string() }))
    }

    async fn get_cluster_metrics(
        &self,
        _request: Request<pb::GetClusterMetricsRequest>,
    ) -> Result<Response<pb::GetClusterMetricsResponse>, Status> {
        let metrics = self.rm.with(|core, _| core.metrics());
        Ok(Response::new(pb::GetClusterMetricsResponse { metrics: Some(convert::metrics(&metrics)) }))
    }

    async fn get_cluster_nodes(
        &self,
        request: Request<pb::GetClusterNodesRequest>,
    ) -> Result<Response<pb::GetClusterNodesResponse>, Status> {
        let states = request.into_inner().states;
        let states = states.iter().map(|s| s.parse::<NodeState>()).collect::<Result<Vec<_>, _>>().map_err(invalid)?;
        let wanted = |s: NodeState| if states.is_empty() { s.is_active() } else { states.contains(&s) };
        let nodes =
            self.rm.with(|core, _| core.nodes().filter(|n| wanted(n.state)).map(convert::node_report).collect());
        Ok(Response::new(pb::GetClusterNodesResponse { nodes }))
    }

    async fn get_application_attempts(
        &self,
        request: Request<pb::GetApplicationAttemptsRequest>,
    ) -> Result<Response<pb::GetApplicationAttemptsResponse>, Status> {
        let caller = self.caller(&request);
        let id = convert::app_id(&request.into_inner().application_id)?;
        let attempts = self.rm.with(|core, _| {
            let app = core.authorized(id, &caller, AccessType::ViewApp)?;
            Ok(app
                .attempts
                .iter()
                .map(|a| pb::ApplicationAttemptReport {
                    attempt_id: a.id.to_string(),
                    state: a.state.to_string(),
                    am_container_id: a.am_container.map(|c| c.to_string()).unwrap_or_default(),
                    node_id: a.am_node.as_ref().map(|n| n.to_string()).unwrap_or_default(),
                    node_http_address: a.am_node_http_address.clone(),
                    start_time: a.started_ms as i64,
                    finished_time: a.finished_ms as i64,
                    diagnostics: a.diagnostics.clone(),
                    host: a.host.clone(),
                    rpc_port: a.rpc_port,
                    tracking_url: a.tracking_url.clone(),
                })
                .collect())
        });
        Ok(Response::new(pb::GetApplicationAttemptsResponse { attempts: attempts.map_err(to_status)? }))
    }

    async fn get_containers(
        &self,
        request: Request<pb::GetContainersRequest>,
    ) -> Result<Response<pb::GetContainersResponse>, Status> {
        let caller = self.caller(&request);
        let id = request.into_inner().id;
        let containers = self.rm.with(|core, _| {
            let (app, list) = if id.starts_with("appattempt_") {
                let attempt = convert::attempt_id(&id)?;
                (attempt.application, core.attempt_containers(attempt).map_err(to_status)?)
            } else {
                let app = convert::app_id(&id)?;
                (app, core.app_containers(app).map_err(to_status)?)
            };
            let user = core.authorized(app, &caller, AccessType::ViewApp).map_err(to_status)?.submission.user.clone();
            Ok::<_, Status>(list.into_iter().map(|c| convert::container_report(c, &user)).collect())
        })?;
        Ok(Response::new(pb::GetContainersResponse { containers }))
    }
}

/// The diagnostics of a kill: the caller's words, or YARN's default.
fn request_origin(diagnostics: &str) -> String {
    if diagnostics.is_empty() {
        "Application killed by user.".into()
    } else {
        diagnostics.to_owned()
    }
}

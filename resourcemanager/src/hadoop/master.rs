//! `ApplicationMasterProtocolPB` on the scheduler port: register, allocate and finish for AMs that
//! speak Hadoop IPC (Spark's `ApplicationMaster`). Every connection authenticates with the attempt's
//! AMRM token over SASL DIGEST-MD5, and the attempt a call acts for is the one the token names,
//! never a user name. The core serves these calls exactly as it serves Weft's gRPC AMs.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use prost::Message;
use weft_hadoop_ipc::exceptions;
use weft_hadoop_ipc::ids;
use weft_hadoop_ipc::yarn::{
    AllocateRequestProto, AllocateResponseProto, AmrmTokenIdentifierProto, ContainerProto, ContainerStateProto,
    ContainerStatusProto, ExecutionTypeProto, FinalApplicationStatusProto, FinishApplicationMasterRequestProto,
    FinishApplicationMasterResponseProto, NmTokenProto, NodeIdProto, PriorityProto,
    RegisterApplicationMasterRequestProto, RegisterApplicationMasterResponseProto, SchedulerResourceTypes,
};
use weft_hadoop_ipc::{Call, Handler, Identity, RpcError};
use weft_proto::states::AttemptState;
use weft_proto::{ApplicationAttemptId, NodeId};

use super::asks::{to_yarn_priority, AskTable};
use super::records;
use crate::core::{ReportedContainer, RmContainer, RmError};
use crate::state::Rm;

/// The protocol name on every call Hadoop's AMRMClient makes.
pub const MASTER_PROTOCOL: &str = "org.apache.hadoop.yarn.api.ApplicationMasterProtocolPB";

/// What the protocol remembers of one attempt between calls.
#[derive(Default)]
struct Session {
    asks: AskTable,
    /// The id of the last allocate response, and its bytes, so a repeated request (the client
    /// retried after losing the answer) gets the same answer rather than a second grant.
    last_response: Option<(i32, Vec<u8>)>,
}

/// ApplicationMasterProtocolPB over the ResourceManager's core.
pub struct MasterProtocol {
    rm: Arc<Rm>,
    sessions: Mutex<HashMap<ApplicationAttemptId, Session>>,
}

impl MasterProtocol {
    pub fn new(rm: Arc<Rm>) -> MasterProtocol {
        MasterProtocol { rm, sessions: Mutex::new(HashMap::new()) }
    }

    fn sessions(&self) -> std::sync::MutexGuard<'_, HashMap<ApplicationAttemptId, Session>> {
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn register(&self, attempt: ApplicationAttemptId, call: &Call) -> Result<Vec<u8>, RpcError> {
        let request: RegisterApplicationMasterRequestProto = call.decode()?;
        let (maximum, queue) = self
            .rm
            .with(|core, now| {
                core.register_am(
                    attempt,
                    request.host().to_string(),
                    request.rpc_port(),
                    request.tracking_url().to_string(),
                    now,
                )?;
                Ok((core.config().maximum_allocation, core.app(attempt.application)?.submission.queue.clone()))
            })
            .map_err(|e| rm_error(e, attempt))?;
        let mut sessions = self.sessions();
        let live: BTreeSet<ApplicationAttemptId> = self.rm.with(|core, _| {
            sessions
                .keys()
                .filter(|a| {
                    core.app(a.application).is_ok_and(|app| {
                        let current = app.current_attempt();
                        current.id == **a && !current.is_ended()
                    })
                })
                .copied()
                .collect()
        });
        sessions.retain(|a, _| live.contains(a));
        sessions.insert(attempt, Session::default());
        tracing::info!(%attempt, host = request.host(), rpc_port = request.rpc_port(), "application master registered over Hadoop IPC");
        Ok(RegisterApplicationMasterResponseProto {
            maximum_capability: Some(records::resource(maximum)),
            queue: Some(queue),
            scheduler_resource_types: vec![SchedulerResourceTypes::Memory as i32, SchedulerResourceTypes::Cpu as i32],
            ..Default::default()
        }
        .encode_to_vec())
    }

    fn allocate(&self, attempt: ApplicationAttemptId, call: &Call) -> Result<Vec<u8>, RpcError> {
        let request: AllocateRequestProto = call.decode()?;
        let mut sessions = self.sessions();
        let Some(session) = sessions.get_mut(&attempt) else {
            // Registered before this ResourceManager started, or never: AMRMClient re-registers.
            return Err(not_registered(attempt));
        };
        let asked_id = request.response_id();
        let next_id = match &session.last_response {
            Some((last, bytes)) if asked_id.wrapping_add(1) == *last => return Ok(bytes.clone()),
            Some((last, _)) if asked_id != *last => {
                return Err(RpcError::application(
                    "org.apache.hadoop.yarn.exceptions.InvalidApplicationMasterRequestException",
                    format!(
                        "Invalid responseId in AllocateRequest from application attempt: {attempt}, expect responseId to be {last}, but get {asked_id}"
                    ),
                ))
            }
            Some((last, _)) => last.wrapping_add(1),
            None => asked_id.wrapping_add(1),
        };
        let asks = session
            .asks
            .update(&request.ask)
            .map_err(|e| RpcError::application(exceptions::INVALID_RESOURCE_REQUEST, e.to_string()))?;
        let releases: Vec<_> = request.release.iter().filter_map(ids::container_id).collect();
        let (reply, user, rm_identifier) = self
            .rm
            .with(|core, now| {
                if let Some(blacklist) = &request.blacklist_request {
                    core.update_blacklist(attempt, &blacklist.blacklist_additions, &blacklist.blacklist_removals)?;
                }
                let reply = core.allocate(attempt, &asks, &releases, request.progress(), now)?;
                let user = core.app(attempt.application)?.submission.user.clone();
                Ok((reply, user, core.config().cluster_timestamp))
            })
            .map_err(|e| rm_error(e, attempt))?;
        let keys = &self.rm.keys;
        let response = AllocateResponseProto {
            response_id: Some(next_id),
            allocated_containers: reply
                .allocated
                .iter()
                .map(|c| {
                    let token = keys.container_token(c, &user, rm_identifier);
                    container(c, &token, session.asks.allocation_request_id(c.priority))
                })
                .collect(),
            completed_container_statuses: reply.completed.iter().map(completed).collect(),
            limit: Some(records::resource(reply.available)),
            num_cluster_nodes: Some(reply.num_cluster_nodes),
            // One per node the attempt has not been sent one for: AMRMClient keeps them per node.
            nm_tokens: reply
                .nm_token_nodes()
                .map(|node| NmTokenProto {
                    node_id: Some(node_id(node)),
                    token: Some(keys.nm_token(attempt, node, &user)),
                })
                .collect(),
            ..Default::default()
        }
        .encode_to_vec();
        session.last_response = Some((next_id, response.clone()));
        Ok(response)
    }

    fn finish(&self, attempt: ApplicationAttemptId, call: &Call) -> Result<Vec<u8>, RpcError> {
        let request: FinishApplicationMasterRequestProto = call.decode()?;
        let final_status = match request.final_application_status() {
            FinalApplicationStatusProto::AppSucceeded => "SUCCEEDED",
            FinalApplicationStatusProto::AppFailed => "FAILED",
            FinalApplicationStatusProto::AppKilled => "KILLED",
            FinalApplicationStatusProto::AppUndefined | FinalApplicationStatusProto::AppEnded => "UNDEFINED",
        };
        self.rm
            .with(|core, now| {
                core.finish_am(
                    attempt,
                    final_status,
                    request.diagnostics().to_string(),
                    request.tracking_url().to_string(),
                    now,
                )
            })
            .map_err(|e| rm_error(e, attempt))?;
        self.sessions().remove(&attempt);
        tracing::info!(%attempt, final_status, "application master unregistered over Hadoop IPC");
        Ok(FinishApplicationMasterResponseProto { is_unregistered: Some(true) }.encode_to_vec())
    }
}

impl Handler for MasterProtocol {
    async fn call(&self, call: Call) -> Result<Vec<u8>, RpcError> {
        if call.protocol != MASTER_PROTOCOL {
            return Err(RpcError::no_such_protocol(&call));
        }
        let attempt = attempt_of(&call)?;
        match call.method.as_str() {
            "registerApplicationMaster" => self.register(attempt, &call),
            "allocate" => self.allocate(attempt, &call),
            "finishApplicationMaster" => self.finish(attempt, &call),
            _ => Err(RpcError::no_such_method(&call)),
        }
    }
}

/// The attempt the connection's AMRM token names.
fn attempt_of(call: &Call) -> Result<ApplicationAttemptId, RpcError> {
    let Identity::Token { identifier } = &call.session.identity else {
        return Err(RpcError::application(
            exceptions::ACCESS_CONTROL,
            "SIMPLE authentication is not enabled.  Available:[TOKEN]",
        ));
    };
    AmrmTokenIdentifierProto::decode(identifier.as_slice())
        .ok()
        .and_then(|t| t.app_attempt_id.as_ref().and_then(ids::attempt_id))
        .ok_or_else(|| RpcError::application(exceptions::INVALID_TOKEN, "the AMRM token names no application attempt"))
}

fn node_id(node: &NodeId) -> NodeIdProto {
    NodeIdProto { host: Some(node.host.clone()), port: Some(i32::from(node.port)) }
}

fn container(c: &RmContainer, token: &[u8], allocation_request_id: i64) -> ContainerProto {
    ContainerProto {
        id: Some(ids::container_id_proto(c.id)),
        node_id: Some(node_id(&c.node)),
        node_http_address: Some(c.node_http_address.to_string()),
        resource: Some(records::resource(c.resource)),
        priority: Some(PriorityProto { priority: Some(to_yarn_priority(c.priority)) }),
        container_token: weft_hadoop_ipc::common::TokenProto::decode(token).ok(),
        execution_type: Some(ExecutionTypeProto::Guaranteed as i32),
        allocation_request_id: Some(allocation_request_id),
        ..Default::default()
    }
}

fn completed(c: &ReportedContainer) -> ContainerStatusProto {
    ContainerStatusProto {
        container_id: Some(ids::container_id_proto(c.id)),
        state: Some(ContainerStateProto::CComplete as i32),
        diagnostics: Some(c.diagnostics.clone()),
        exit_status: Some(c.exit_status),
        ..Default::default()
    }
}

fn not_registered(attempt: ApplicationAttemptId) -> RpcError {
    RpcError::application(
        exceptions::APPLICATION_MASTER_NOT_REGISTERED,
        format!(
            "AM is not registered for known application attempt: {attempt} or RM had restarted after AM registered. AM should re-register."
        ),
    )
}

/// The core's refusals as the exceptions AMRMClient and Spark's AM act on.
fn rm_error(error: RmError, attempt: ApplicationAttemptId) -> RpcError {
    match error {
        RmError::UnknownAttempt(_) | RmError::UnknownApplication(_) | RmError::NotCurrentAttempt { .. } => {
            RpcError::application(
                exceptions::APPLICATION_ATTEMPT_NOT_FOUND,
                format!("Application attempt {attempt} doesn't exist in ApplicationMasterService cache."),
            )
        }
        RmError::NotRegistered(_)
        | RmError::AttemptState { state: AttemptState::ALLOCATED | AttemptState::LAUNCHED, .. } => {
            not_registered(attempt)
        }
        RmError::AttemptState { .. } => {
            RpcError::application(exceptions::APPLICATION_ATTEMPT_NOT_FOUND, error.to_string())
        }
        RmError::Allocation(_) | RmError::NegativeContainerCount(_) => {
            RpcError::application(exceptions::INVALID_RESOURCE_REQUEST, error.to_string())
        }
        other => RpcError::application(exceptions::YARN, other.to_string()),
    }
}

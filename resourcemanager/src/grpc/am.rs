//! ApplicationMaster protocol: register, allocate, finish; every call authenticated by the attempt's
//! AMRM token.

use std::sync::Arc;

use prost::Message;
use tonic::{Request, Response, Status};
use weft_hadoop_ipc::common::TokenProto;
use weft_hadoop_ipc::ids;
use weft_hadoop_ipc::token::{decode_identifier, TokenKind};
use weft_hadoop_ipc::yarn::AmrmTokenIdentifierProto;
use weft_proto::encoded::Encoded;
use weft_proto::encoded_am::application_master_server::ApplicationMaster;
use weft_proto::pb;
use weft_proto::{ApplicationAttemptId, AMRM_TOKEN_METADATA};

use super::status::to_status;
use super::{allocate_reply, convert};
use crate::core::AskRequest;
use crate::state::Rm;

pub struct AmService {
    rm: Arc<Rm>,
}

impl AmService {
    pub fn new(rm: Arc<Rm>) -> Self {
        AmService { rm }
    }

    /// Every call must carry the AMRM token of the attempt it acts for (as the Hadoop IPC face
    /// demands it over SASL): the attempt comes from the request, the proof from the token.
    fn authorize<T>(&self, request: &Request<T>, attempt: ApplicationAttemptId) -> Result<(), Status> {
        let Some(value) = request.metadata().get_bin(AMRM_TOKEN_METADATA) else {
            return Err(Status::unauthenticated(format!(
                "the call for {attempt} carries no AMRM token: only the attempt's application master may make it"
            )));
        };
        let bytes =
            value.to_bytes().map_err(|e| Status::unauthenticated(format!("the AMRM token is not base64: {e}")))?;
        let token = TokenProto::decode(bytes.as_ref())
            .map_err(|e| Status::unauthenticated(format!("the AMRM token does not decode: {e}")))?;
        let named = decode_identifier::<AmrmTokenIdentifierProto>(&token, TokenKind::AmRm)
            .ok()
            .and_then(|id| id.app_attempt_id.as_ref().and_then(ids::attempt_id));
        let genuine = self.rm.keys.amrm_verify(&token.identifier, &token.password);
        match named {
            Some(named) if genuine && named == attempt => Ok(()),
            Some(named) if genuine => Err(Status::permission_denied(format!(
                "the AMRM token is for {named}, not for {attempt}: an application master acts only for its own attempt"
            ))),
            _ => Err(Status::unauthenticated(format!(
                "invalid AMRM token for {attempt}: this ResourceManager did not issue it"
            ))),
        }
    }
}

#[tonic::async_trait]
impl ApplicationMaster for AmService {
    async fn register_application_master(
        &self,
        request: Request<pb::RegisterApplicationMasterRequest>,
    ) -> Result<Response<pb::RegisterApplicationMasterResponse>, Status> {
        let attempt = convert::attempt_id(&request.get_ref().attempt_id)?;
        self.authorize(&request, attempt)?;
        let pb::RegisterApplicationMasterRequest { host, rpc_port, tracking_url, .. } = request.into_inner();
        let (maximum, queue) = self
            .rm
            .with(|core, now| {
                core.register_am(attempt, host, rpc_port, tracking_url, now)?;
                let queue = core.app(attempt.application)?.submission.queue.clone();
                Ok((core.config().maximum_allocation, queue))
            })
            .map_err(to_status)?;
        Ok(Response::new(pb::RegisterApplicationMasterResponse { maximum_capability: Some(maximum.into()), queue }))
    }

    /// Answers with the reply already encoded (`allocate_reply`): the bytes of a
    /// `pb::AllocateResponse`.
    async fn allocate(&self, request: Request<pb::AllocateRequest>) -> Result<Response<Encoded>, Status> {
        let attempt = convert::attempt_id(&request.get_ref().attempt_id)?;
        self.authorize(&request, attempt)?;
        let pb::AllocateRequest { response_id, asks, releases, progress, .. } = request.into_inner();
        let asks = asks
            .into_iter()
            .map(|pb::ResourceRequest { priority, capability, num_containers }| {
                Ok(AskRequest {
                    priority,
                    capability: convert::resource(capability, "a resource request")?,
                    num_containers: num_containers as i64,
                })
            })
            .collect::<Result<Vec<_>, Status>>()?;
        let releases = releases.iter().map(|c| convert::container_id(c)).collect::<Result<Vec<_>, _>>()?;
        let (reply, user, rm_identifier) = self
            .rm
            .with(|core, now| {
                let reply = core.allocate(attempt, &asks, &releases, progress, now)?;
                let user = core.app(attempt.application)?.submission.user.clone();
                Ok((reply, user, core.config().cluster_timestamp))
            })
            .map_err(to_status)?;
        let keys = &self.rm.keys;
        let container_tokens = keys.container_tokens(&user, rm_identifier);
        let nm_tokens = keys.nm_tokens(attempt, &user);
        Ok(Response::new(Encoded(allocate_reply::encode(reply, response_id + 1, container_tokens, nm_tokens))))
    }

    async fn finish_application_master(
        &self,
        request: Request<pb::FinishApplicationMasterRequest>,
    ) -> Result<Response<pb::FinishApplicationMasterResponse>, Status> {
        let attempt = convert::attempt_id(&request.get_ref().attempt_id)?;
        self.authorize(&request, attempt)?;
        let pb::FinishApplicationMasterRequest { final_status, diagnostics, tracking_url, .. } = request.into_inner();
        self.rm
            .with(|core, now| core.finish_am(attempt, &final_status, diagnostics, tracking_url, now))
            .map_err(to_status)?;
        Ok(Response::new(pb::FinishApplicationMasterResponse { unregistered: true }))
    }
}

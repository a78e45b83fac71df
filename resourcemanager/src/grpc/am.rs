//! ApplicationMaster protocol: register, allocate, finish.

use std::sync::Arc;

use tonic::{Request, Response, Status};
use weft_proto::pb::{self, application_master_server::ApplicationMaster};

use super::convert;
use super::status::to_status;
use crate::core::AskRequest;
use crate::state::Rm;

pub struct AmService {
    rm: Arc<Rm>,
}

impl AmService {
    pub fn new(rm: Arc<Rm>) -> Self {
        AmService { rm }
    }
}

#[tonic::async_trait]
impl ApplicationMaster for AmService {
    async fn register_application_master(
        &self,
        request: Request<pb::RegisterApplicationMasterRequest>,
    ) -> Result<Response<pb::RegisterApplicationMasterResponse>, Status> {
        let pb::RegisterApplicationMasterRequest { attempt_id, host, rpc_port, tracking_url } = request.into_inner();
        let attempt = convert::attempt_id(&attempt_id)?;
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

    async fn allocate(&self, request: Request<pb::AllocateRequest>) -> Result<Response<pb::AllocateResponse>, Status> {
        let pb::AllocateRequest { attempt_id, response_id, asks, releases, progress } = request.into_inner();
        let attempt = convert::attempt_id(&attempt_id)?;
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
        Ok(Response::new(pb::AllocateResponse {
            response_id: response_id + 1,
            allocated: reply
                .allocated
                .iter()
                .map(|c| convert::container(c, keys.container_token(c, &user, rm_identifier)))
                .collect(),
            completed: reply.completed.into_iter().map(convert::completed_status).collect(),
            available: Some(reply.available.into()),
            num_cluster_nodes: reply.num_cluster_nodes,
        }))
    }

    async fn finish_application_master(
        &self,
        request: Request<pb::FinishApplicationMasterRequest>,
    ) -> Result<Response<pb::FinishApplicationMasterResponse>, Status> {
        let pb::FinishApplicationMasterRequest { attempt_id, final_status, diagnostics, tracking_url } =
            request.into_inner();
        let attempt = convert::attempt_id(&attempt_id)?;
        self.rm
            .with(|core, now| core.finish_am(attempt, &final_status, diagnostics, tracking_url, now))
            .map_err(to_status)?;
        Ok(Response::new(pb::FinishApplicationMasterResponse { unregistered: true }))
    }
}

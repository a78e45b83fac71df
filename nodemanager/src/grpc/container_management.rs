//! ContainerManagement: start, stop and query containers. Each request is answered once it is
//! accepted or refused; localization and launch go on in the container's runner. A start needs each
//! container's token; a stop or a status query the application's NM token, and only reaches that
//! application's containers.

use std::sync::Arc;

use tonic::{Request, Response, Status};
use weft_proto::pb::{self, container_management_server::ContainerManagement};
use weft_proto::{ApplicationId, ContainerId, NM_TOKEN_METADATA};

use super::convert::{self, error};
use crate::container::KillReason;
use crate::nm::Nm;

/// How long a start waits for the keys of a registration in progress before it is refused.
const KEYS_WAIT: std::time::Duration = std::time::Duration::from_secs(20);

pub(crate) struct ContainerManagementService {
    nm: Arc<Nm>,
}

impl ContainerManagementService {
    pub(crate) fn new(nm: Arc<Nm>) -> Self {
        ContainerManagementService { nm }
    }

    fn start_one(&self, request: pb::StartContainerRequest) -> Result<String, pb::ContainerError> {
        let raw_id = request.container_id.clone();
        // The spec keeps the token too: the localizer shows it to the staging store.
        let token = request.container_token.clone();
        let spec = convert::launch_spec(request, &self.nm.info.default_user).map_err(|e| {
            tracing::warn!(container_id = %raw_id, error = %e, "start request refused");
            error(&raw_id, format!("invalid start request for {raw_id:?}: {e}"))
        })?;
        let id = spec.id;
        let node = self.nm.info.node_id.to_string();
        let granted = self.nm.authority.check(&token, id, &node, crate::clock::now_ms()).map_err(|refusal| {
            tracing::warn!(container_id = %id, error = %refusal, "start request refused: no authority");
            error(id.to_string(), refusal.to_string())
        })?;
        // The token names whose container this is; a request may not claim another user.
        if spec.user != granted.app_submitter() {
            let message = format!(
                "the start request for {id} names user {:?}, but the ResourceManager granted the container to {:?}",
                spec.user,
                granted.app_submitter()
            );
            tracing::warn!(container_id = %id, error = %message, "start request refused");
            return Err(error(id.to_string(), message));
        }
        self.nm.start(spec).map_err(|e| {
            tracing::warn!(container_id = %id, error = %e, "start request refused");
            error(id.to_string(), e.to_string())
        })?;
        Ok(id.to_string())
    }
}

fn parse(raw: &str) -> Result<ContainerId, pb::ContainerError> {
    raw.parse::<ContainerId>().map_err(|e| error(raw, e.to_string()))
}

impl ContainerManagementService {
    /// The application whose NM token the call carries: only it may stop or query its containers.
    fn caller<T>(&self, request: &Request<T>, call: &str) -> Result<ApplicationId, Status> {
        let Some(value) = request.metadata().get_bin(NM_TOKEN_METADATA) else {
            return Err(Status::unauthenticated(format!(
                "{call} needs the application's NM token for this NodeManager (metadata {NM_TOKEN_METADATA})"
            )));
        };
        let bytes =
            value.to_bytes().map_err(|e| Status::unauthenticated(format!("the NM token is not binary: {e}")))?;
        let node = self.nm.info.node_id.to_string();
        self.nm.authority.nm_token_application(&bytes, &node).map_err(|refusal| {
            tracing::warn!(call, error = %refusal, "call refused: no authority");
            Status::unauthenticated(refusal)
        })
    }
}

/// A container named in a call of `app`: it must be one of that application's.
fn own(raw: &str, app: ApplicationId) -> Result<ContainerId, pb::ContainerError> {
    let id = parse(raw)?;
    if id.application() != app {
        return Err(error(
            raw,
            format!("container {id} belongs to {}, not to {app} whose NM token the call carries", id.application()),
        ));
    }
    Ok(id)
}

#[tonic::async_trait]
impl ContainerManagement for ContainerManagementService {
    async fn start_containers(
        &self,
        request: Request<pb::StartContainersRequest>,
    ) -> Result<Response<pb::StartContainersResponse>, Status> {
        self.nm.await_keys(KEYS_WAIT).await;
        let mut response = pb::StartContainersResponse::default();
        for one in request.into_inner().requests {
            match self.start_one(one) {
                Ok(id) => response.started.push(id),
                Err(failure) => response.failed.push(failure),
            }
        }
        Ok(Response::new(response))
    }

    async fn stop_containers(
        &self,
        request: Request<pb::StopContainersRequest>,
    ) -> Result<Response<pb::StopContainersResponse>, Status> {
        let app = self.caller(&request, "StopContainers")?;
        let mut response = pb::StopContainersResponse::default();
        for raw in request.into_inner().container_ids {
            let stopped = own(&raw, app)
                .and_then(|id| self.nm.stop(id, KillReason::ByAppMaster).map_err(|e| error(&raw, e.to_string())));
            match stopped {
                Ok(()) => response.stopped.push(raw),
                Err(failure) => response.failed.push(failure),
            }
        }
        Ok(Response::new(response))
    }

    async fn get_container_statuses(
        &self,
        request: Request<pb::GetContainerStatusesRequest>,
    ) -> Result<Response<pb::GetContainerStatusesResponse>, Status> {
        let app = self.caller(&request, "GetContainerStatuses")?;
        let mut response = pb::GetContainerStatusesResponse::default();
        for raw in request.into_inner().container_ids {
            let status = own(&raw, app).and_then(|id| {
                self.nm
                    .read(|core| core.status(&id))
                    .ok_or_else(|| error(&raw, crate::node::UnknownContainer(id).to_string()))
            });
            match status {
                Ok(status) => response.statuses.push(status.into()),
                Err(failure) => response.failed.push(failure),
            }
        }
        Ok(Response::new(response))
    }
}

//! `ContainerManagementProtocolPB`: the NodeManager's Hadoop IPC face, served on its
//! container-management port beside gRPC, for application masters that speak Hadoop IPC (Spark's
//! executors are started through it). A connection authenticates with the attempt's NM token for
//! this node (SASL DIGEST-MD5); every start must also carry a valid container token for a container
//! of that application on this node, exactly as on the gRPC face.

use std::sync::Arc;

use prost::Message;
use weft_hadoop_ipc::token::{decode_identifier, TokenKind};
use weft_hadoop_ipc::yarn::{
    ContainerExceptionMapProto, ContainerIdProto, ContainerStateProto, ContainerStatusProto,
    ContainerTokenIdentifierProto, GetContainerStatusesRequestProto, GetContainerStatusesResponseProto,
    NmTokenIdentifierProto, SerializedExceptionProto, StartContainerRequestProto, StartContainersRequestProto,
    StartContainersResponseProto, StopContainersRequestProto, StopContainersResponseProto,
};
use weft_hadoop_ipc::{exceptions, ids, Call, Handler, Identity, RpcError};
use weft_proto::{states, ApplicationAttemptId, ContainerId, Resource};

use crate::container::KillReason;
use crate::grpc::convert::hadoop_spec;
use crate::nm::Nm;

/// The protocol name on every call Hadoop's NMClient makes.
pub(crate) const CONTAINER_MANAGEMENT_PROTOCOL: &str = "org.apache.hadoop.yarn.api.ContainerManagementProtocolPB";

/// ContainerManagementProtocolPB over the NodeManager.
pub(crate) struct ContainerManagementProtocol {
    nm: Arc<Nm>,
}

/// A refusal for one container of a batch, as YARN reports it in `failed_requests`.
struct Failure {
    container: Option<ContainerIdProto>,
    class_name: &'static str,
    message: String,
}

impl Failure {
    fn new(container: Option<ContainerIdProto>, class_name: &'static str, message: impl Into<String>) -> Failure {
        Failure { container, class_name, message: message.into() }
    }

    fn into_proto(self) -> ContainerExceptionMapProto {
        ContainerExceptionMapProto {
            container_id: self.container,
            exception: Some(SerializedExceptionProto {
                message: Some(self.message),
                trace: None,
                class_name: Some(self.class_name.to_string()),
                cause: None,
            }),
        }
    }
}

impl ContainerManagementProtocol {
    pub(crate) fn new(nm: Arc<Nm>) -> ContainerManagementProtocol {
        ContainerManagementProtocol { nm }
    }

    fn start_one(
        &self,
        attempt: ApplicationAttemptId,
        request: StartContainerRequestProto,
    ) -> Result<ContainerIdProto, Failure> {
        let token = request.container_token.ok_or_else(|| {
            Failure::new(None, exceptions::INVALID_TOKEN, "the start request carries no container token")
        })?;
        // The container is the one its token names; the signature is checked below.
        let unverified: ContainerTokenIdentifierProto = decode_identifier(&token, TokenKind::Container)
            .map_err(|e| Failure::new(None, exceptions::INVALID_TOKEN, format!("invalid container token: {e}")))?;
        let proto_id = unverified.container_id;
        let fail = |class_name, message: String| Failure::new(proto_id, class_name, message);
        let id = proto_id
            .as_ref()
            .and_then(ids::container_id)
            .ok_or_else(|| fail(exceptions::INVALID_TOKEN, "the container token names no valid container".into()))?;
        if id.application() != attempt.application {
            return Err(fail(
                exceptions::YARN,
                format!("Unauthorized request to start container. NMToken for application attempt : {attempt} was used for starting container with container token issued for application : {}", id.application()),
            ));
        }
        let node = self.nm.info.node_id.to_string();
        let verified =
            self.nm.authority.check(&token.encode_to_vec(), id, &node, crate::clock::now_ms()).map_err(|refusal| {
                tracing::warn!(container_id = %id, error = %refusal, "Hadoop start request refused: no authority");
                fail(exceptions::INVALID_TOKEN, refusal.to_string())
            })?;
        let resource =
            verified.resource.as_ref().map_or(Resource::new(0, 0), |r| Resource::new(r.memory(), r.virtual_cores()));
        let context = request.container_launch_context.unwrap_or_default();
        let spec = hadoop_spec(id, verified.app_submitter().to_string(), resource, &context).map_err(|e| {
            tracing::warn!(container_id = %id, error = %e, "Hadoop start request refused");
            fail(exceptions::YARN, format!("invalid start request for {id}: {e}"))
        })?;
        self.nm.start(spec).map_err(|e| fail(exceptions::YARN, e.to_string()))?;
        Ok(ids::container_id_proto(id))
    }

    fn start(&self, attempt: ApplicationAttemptId, call: &Call) -> Result<Vec<u8>, RpcError> {
        let request: StartContainersRequestProto = call.decode()?;
        let mut response = StartContainersResponseProto::default();
        for one in request.start_container_request {
            match self.start_one(attempt, one) {
                Ok(id) => response.succeeded_requests.push(id),
                Err(failure) => response.failed_requests.push(failure.into_proto()),
            }
        }
        Ok(response.encode_to_vec())
    }

    /// The containers named, each either of the caller's application or refused.
    fn own(&self, attempt: ApplicationAttemptId, named: Vec<ContainerIdProto>) -> Vec<Result<ContainerId, Failure>> {
        named
            .into_iter()
            .map(|proto| match ids::container_id(&proto) {
                Some(id) if id.application() == attempt.application => Ok(id),
                Some(id) => Err(Failure::new(
                    Some(proto),
                    exceptions::YARN,
                    format!("Unauthorized request to access container {id} of another application (the NM token is for {attempt})"),
                )),
                None => Err(Failure::new(Some(proto), exceptions::YARN, "not a valid container id")),
            })
            .collect()
    }

    fn stop(&self, attempt: ApplicationAttemptId, call: &Call) -> Result<Vec<u8>, RpcError> {
        let request: StopContainersRequestProto = call.decode()?;
        let mut response = StopContainersResponseProto::default();
        for named in self.own(attempt, request.container_id) {
            let stopped = named.and_then(|id| {
                self.nm.stop(id, KillReason::ByAppMaster).map(|()| ids::container_id_proto(id)).map_err(|e| {
                    Failure::new(Some(ids::container_id_proto(id)), exceptions::CONTAINER_NOT_FOUND, e.to_string())
                })
            });
            match stopped {
                Ok(id) => response.succeeded_requests.push(id),
                Err(failure) => response.failed_requests.push(failure.into_proto()),
            }
        }
        Ok(response.encode_to_vec())
    }

    fn statuses(&self, attempt: ApplicationAttemptId, call: &Call) -> Result<Vec<u8>, RpcError> {
        let request: GetContainerStatusesRequestProto = call.decode()?;
        let mut response = GetContainerStatusesResponseProto::default();
        for named in self.own(attempt, request.container_id) {
            let status = named.and_then(|id| {
                self.nm.read(|core| core.status(&id)).ok_or_else(|| {
                    Failure::new(
                        Some(ids::container_id_proto(id)),
                        exceptions::CONTAINER_NOT_FOUND,
                        crate::node::UnknownContainer(id).to_string(),
                    )
                })
            });
            match status {
                Ok(status) => response.status.push(ContainerStatusProto {
                    container_id: Some(ids::container_id_proto(status.id)),
                    state: Some(match status.state {
                        states::ContainerState::NEW => ContainerStateProto::CNew,
                        states::ContainerState::RUNNING => ContainerStateProto::CRunning,
                        states::ContainerState::COMPLETE => ContainerStateProto::CComplete,
                    } as i32),
                    diagnostics: Some(status.diagnostics),
                    exit_status: Some(status.exit_status),
                    capability: Some(weft_hadoop_ipc::yarn::ResourceProto {
                        memory: Some(status.resource.memory_mb),
                        virtual_cores: Some(status.resource.vcores),
                        resource_value_map: Vec::new(),
                    }),
                    ..Default::default()
                }),
                Err(failure) => response.failed_requests.push(failure.into_proto()),
            }
        }
        Ok(response.encode_to_vec())
    }
}

impl Handler for ContainerManagementProtocol {
    async fn call(&self, call: Call) -> Result<Vec<u8>, RpcError> {
        if call.protocol != CONTAINER_MANAGEMENT_PROTOCOL {
            return Err(RpcError::no_such_protocol(&call));
        }
        let attempt = attempt_of(&call)?;
        match call.method.as_str() {
            "startContainers" => self.start(attempt, &call),
            "stopContainers" => self.stop(attempt, &call),
            "getContainerStatuses" => self.statuses(attempt, &call),
            _ => Err(RpcError::no_such_method(&call)),
        }
    }
}

/// The attempt the connection's NM token names.
fn attempt_of(call: &Call) -> Result<ApplicationAttemptId, RpcError> {
    let Identity::Token { identifier } = &call.session.identity else {
        return Err(RpcError::application(
            exceptions::ACCESS_CONTROL,
            "SIMPLE authentication is not enabled.  Available:[TOKEN]",
        ));
    };
    NmTokenIdentifierProto::decode(identifier.as_slice())
        .ok()
        .and_then(|t| t.app_attempt_id.as_ref().and_then(ids::attempt_id))
        .ok_or_else(|| RpcError::application(exceptions::INVALID_TOKEN, "the NM token names no application attempt"))
}

/// Serves Hadoop IPC connections handed over by the shared port; NM tokens are checked with the
/// keys the ResourceManager gave this node.
pub(crate) fn server(nm: Arc<Nm>) -> weft_hadoop_ipc::Server<ContainerManagementProtocol> {
    let node = nm.info.node_id.to_string();
    let lookup = {
        let nm = nm.clone();
        move |identifier: &[u8]| nm.authority.nm_password(identifier, &node)
    };
    weft_hadoop_ipc::Server::new(
        weft_hadoop_ipc::ServerConfig::new(weft_hadoop_ipc::AuthPolicy::Token {
            lookup: Arc::new(lookup),
            allow_simple: false,
        }),
        ContainerManagementProtocol::new(nm),
    )
}

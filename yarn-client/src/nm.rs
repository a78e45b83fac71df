//! Starting and stopping granted containers through each NodeManager's ContainerManagement service:
//! one call per node, the nodes in parallel, each carrying the attempt's NM token for that node
//! (`NmTokens`, as the session keeps them). A start is judged by each container's own token; a stop
//! needs the NM token (the NodeManager stops only that application's containers), so a node the
//! ResourceManager sent none for is not called.

use std::collections::BTreeMap;
use std::time::Duration;

use weft_proto::pb;
use weft_proto::pb::container_management_client::ContainerManagementClient;
use weft_proto::ContainerId;

use crate::grant::{Grant, ToStop};
use crate::nm_tokens::NmTokens;
use crate::rm::{connect, NODE_MANAGER};

const START_TIMEOUT: Duration = Duration::from_secs(30);
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// Whether the NodeManager started a container; the error says why not.
pub type Started = (ContainerId, Result<(), String>);

/// Starts each grant with its own launch context, as `user`; one result per grant.
pub async fn start_containers(
    user: &str,
    nm_tokens: &NmTokens,
    starts: Vec<(Grant, pb::ContainerLaunchContext)>,
) -> Vec<Started> {
    let mut by_node: BTreeMap<String, Vec<(Grant, pb::ContainerLaunchContext)>> = BTreeMap::new();
    for (grant, context) in starts {
        by_node.entry(grant.node_address.clone()).or_default().push((grant, context));
    }
    let starts = by_node.into_iter().map(|(address, starts)| {
        let nm_token = nm_tokens.get(&starts[0].0.node_id);
        start_on(user, address, nm_token, starts)
    });
    futures::future::join_all(starts).await.into_iter().flatten().collect()
}

/// `message` as a request carrying `nm_token` (when there is one).
fn with_nm_token<T>(message: T, nm_token: Option<&[u8]>) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Some(token) = nm_token {
        let value = tonic::metadata::BinaryMetadataValue::from_bytes(token);
        request.metadata_mut().insert_bin(weft_proto::NM_TOKEN_METADATA, value);
    }
    request
}

/// The StartContainers entry of one grant.
pub fn start_request(user: &str, grant: &Grant, context: pb::ContainerLaunchContext) -> pb::StartContainerRequest {
    pb::StartContainerRequest {
        container_id: grant.id.to_string(),
        launch: Some(context),
        resource: Some(grant.resource.into()),
        user: user.to_owned(),
        container_token: grant.token.clone(),
        hadoop_launch_context: Vec::new(),
    }
}

async fn start_on(
    user: &str,
    address: String,
    nm_token: Option<&[u8]>,
    starts: Vec<(Grant, pb::ContainerLaunchContext)>,
) -> Vec<Started> {
    let (grants, contexts): (Vec<Grant>, Vec<pb::ContainerLaunchContext>) = starts.into_iter().unzip();
    let all_failed = |message: String| grants.iter().map(|g| (g.id, Err(message.clone()))).collect();
    let channel = match connect(NODE_MANAGER, &address).await {
        Ok(channel) => channel,
        Err(e) => return all_failed(e.to_string()),
    };
    let requests = grants.iter().zip(contexts).map(|(g, context)| start_request(user, g, context)).collect();
    let request = with_nm_token(pb::StartContainersRequest { requests }, nm_token);
    let mut client = ContainerManagementClient::new(channel);
    let response = match tokio::time::timeout(START_TIMEOUT, client.start_containers(request)).await {
        Ok(Ok(response)) => response.into_inner(),
        Ok(Err(status)) => return all_failed(format!("the NodeManager at {address} refused: {}", status.message())),
        Err(_) => return all_failed(format!("the NodeManager at {address} did not answer in {START_TIMEOUT:?}")),
    };
    results(&address, &grants, response)
}

/// Matches a StartContainers reply to the grants it was about.
fn results(address: &str, grants: &[Grant], response: pb::StartContainersResponse) -> Vec<Started> {
    let pb::StartContainersResponse { started, failed } = response;
    grants
        .iter()
        .map(|grant| {
            let id = grant.id.to_string();
            let result = if started.contains(&id) {
                Ok(())
            } else if let Some(failure) = failed.iter().find(|f| f.container_id == id) {
                Err(failure.message.clone())
            } else {
                Err(format!("the NodeManager at {address} did not say whether it started the container"))
            };
            (grant.id, result)
        })
        .collect()
}

/// StopContainers on each node, the nodes in parallel. A container the NodeManager no longer has is
/// fine; an unreachable NodeManager, or a node without an NM token, is logged, as the
/// ResourceManager ends released containers anyway.
pub async fn stop_containers(nm_tokens: &NmTokens, stops: Vec<ToStop>) {
    let mut by_node: BTreeMap<(String, String), Vec<ContainerId>> = BTreeMap::new();
    for stop in stops {
        by_node.entry((stop.node_address, stop.node_id)).or_default().push(stop.container);
    }
    let calls = by_node.into_iter().filter_map(|((address, node_id), ids)| match nm_tokens.get(&node_id) {
        Some(nm_token) => Some(stop_on(address, nm_token, ids)),
        None => {
            tracing::warn!(node = %node_id, containers = ?ids, "no NM token was sent for the node: its containers are not stopped there");
            None
        }
    });
    futures::future::join_all(calls).await;
}

/// StopContainers on one NodeManager, with the attempt's NM token for it.
async fn stop_on(address: String, nm_token: &[u8], ids: Vec<ContainerId>) {
    let message = pb::StopContainersRequest { container_ids: ids.iter().map(ContainerId::to_string).collect() };
    let request = with_nm_token(message, Some(nm_token));
    let call = async {
        let channel = connect(NODE_MANAGER, &address).await.map_err(|e| e.to_string())?;
        let reply = ContainerManagementClient::new(channel).stop_containers(request).await;
        reply
            .map(tonic::Response::into_inner)
            .map_err(|s| format!("the NodeManager at {address} refused: {}", s.message()))
    };
    match tokio::time::timeout(STOP_TIMEOUT, call).await {
        Ok(Ok(reply)) => {
            for failure in reply.failed {
                tracing::debug!(container = %failure.container_id, error = %failure.message, "not stopped");
            }
        }
        Ok(Err(message)) => tracing::warn!(node = %address, error = %message, "could not stop containers"),
        Err(_) => tracing::warn!(node = %address, "the NodeManager did not answer StopContainers in {STOP_TIMEOUT:?}"),
    }
}

#[cfg(test)]
mod tests {
    use weft_proto::{ApplicationId, Resource};

    use super::*;

    fn grant(n: u64) -> Grant {
        Grant {
            id: ApplicationId::new(1, 1).attempt(1).container(n),
            node_id: "h:1".into(),
            node_address: "h:1".into(),
            resource: Resource::new(1024, 1),
            token: vec![7],
        }
    }

    #[test]
    fn reply_is_matched_to_grants() {
        let grants = [grant(2), grant(3), grant(4)];
        let response = pb::StartContainersResponse {
            started: vec![grants[0].id.to_string()],
            failed: vec![pb::ContainerError { container_id: grants[1].id.to_string(), message: "no such user".into() }],
        };
        let results = results("h:1", &grants, response);
        assert_eq!(results[0], (grants[0].id, Ok(())));
        assert_eq!(results[1], (grants[1].id, Err("no such user".into())));
        assert_eq!(results[2].1, Err("the NodeManager at h:1 did not say whether it started the container".into()));
    }

    #[tokio::test]
    async fn an_unreachable_node_fails_every_container_on_it() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut g = grant(2);
        g.node_address = format!("127.0.0.1:{port}");
        let starts = vec![(g.clone(), pb::ContainerLaunchContext::default())];
        let results = start_containers("u", &NmTokens::default(), starts).await;
        let message = results[0].1.clone().unwrap_err();
        assert!(message.starts_with(&format!("cannot reach the NodeManager at {}", g.node_address)), "{message}");
    }

    #[test]
    fn the_request_carries_the_container_token_size_and_user() {
        let request = start_request("alice", &grant(2), pb::ContainerLaunchContext::default());
        assert_eq!(request.container_id, "container_1_0001_01_000002");
        assert_eq!(request.user, "alice");
        assert_eq!(request.container_token, vec![7]);
        assert_eq!(request.resource, Some(pb::Resource { memory_mb: 1024, vcores: 1 }));
    }
}

//! Starts granted containers through each NodeManager's ContainerManagement service: one
//! StartContainers call per node, the nodes in parallel. The distributed shell runs one command in
//! all of them (`Launcher`); the Spark application master gives each its own launch context
//! (`start_containers`).

use std::collections::BTreeMap;
use std::time::Duration;

use weft_proto::pb;
use weft_proto::pb::container_management_client::ContainerManagementClient;
use weft_proto::ContainerId;

use super::book::Grant;
use crate::client::{connect, NODE_MANAGER};

const START_TIMEOUT: Duration = Duration::from_secs(30);

/// What every shell container runs.
#[derive(Debug, Clone)]
pub(crate) struct Launcher {
    pub(crate) command: Vec<String>,
    pub(crate) environment: Vec<(String, String)>,
    pub(crate) user: String,
}

/// Whether the NodeManager started a container; the error says why not.
pub(crate) type Started = (ContainerId, Result<(), String>);

impl Launcher {
    /// Starts the command in every grant; one result per grant.
    pub(crate) async fn start_all(&self, grants: Vec<Grant>) -> Vec<Started> {
        let starts = grants.into_iter().map(|grant| (grant, self.context())).collect();
        start_containers(&self.user, starts).await
    }

    fn context(&self) -> pb::ContainerLaunchContext {
        let environment = self
            .environment
            .iter()
            .map(|(key, value)| pb::KeyValue { key: key.clone(), value: value.clone() })
            .collect();
        pb::ContainerLaunchContext { command: self.command.clone(), environment, ..Default::default() }
    }

    #[cfg(test)]
    fn request(&self, grant: &Grant) -> pb::StartContainerRequest {
        request(&self.user, grant, self.context())
    }
}

/// Starts each grant with its own launch context, as `user`; one result per grant.
pub(crate) async fn start_containers(user: &str, starts: Vec<(Grant, pb::ContainerLaunchContext)>) -> Vec<Started> {
    let mut by_node: BTreeMap<String, Vec<(Grant, pb::ContainerLaunchContext)>> = BTreeMap::new();
    for (grant, context) in starts {
        by_node.entry(grant.node_address.clone()).or_default().push((grant, context));
    }
    let starts = by_node.into_iter().map(|(address, starts)| start_on(user, address, starts));
    futures::future::join_all(starts).await.into_iter().flatten().collect()
}

fn request(user: &str, grant: &Grant, context: pb::ContainerLaunchContext) -> pb::StartContainerRequest {
    pb::StartContainerRequest {
        container_id: grant.id.to_string(),
        launch: Some(context),
        resource: Some(grant.resource.into()),
        user: user.to_owned(),
        container_token: grant.token.clone(),
        hadoop_launch_context: Vec::new(),
    }
}

async fn start_on(user: &str, address: String, starts: Vec<(Grant, pb::ContainerLaunchContext)>) -> Vec<Started> {
    let (grants, contexts): (Vec<Grant>, Vec<pb::ContainerLaunchContext>) = starts.into_iter().unzip();
    let all_failed = |message: String| grants.iter().map(|g| (g.id, Err(message.clone()))).collect();
    let channel = match connect(NODE_MANAGER, &address).await {
        Ok(channel) => channel,
        Err(e) => return all_failed(e.to_string()),
    };
    let requests = grants.iter().zip(contexts).map(|(g, context)| request(user, g, context)).collect();
    let request = pb::StartContainersRequest { requests };
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
            token: Vec::new(),
            nm_token: Vec::new(),
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
        let launcher = Launcher { command: vec!["true".into()], environment: Vec::new(), user: "u".into() };
        let results = launcher.start_all(vec![g.clone()]).await;
        let message = results[0].1.clone().unwrap_err();
        assert!(message.starts_with(&format!("cannot reach the NodeManager at {}", g.node_address)), "{message}");
    }

    #[test]
    fn the_request_carries_command_environment_and_size() {
        let launcher = Launcher {
            command: vec!["sh".into(), "-c".into(), "echo $A".into()],
            environment: vec![("A".into(), "1".into())],
            user: "alice".into(),
        };
        let request = launcher.request(&grant(2));
        assert_eq!(request.container_id, "container_1_0001_01_000002");
        assert_eq!(request.user, "alice");
        assert_eq!(request.resource, Some(pb::Resource { memory_mb: 1024, vcores: 1 }));
        let launch = request.launch.unwrap();
        assert_eq!(launch.command, ["sh", "-c", "echo $A"]);
        assert_eq!(launch.environment, [pb::KeyValue { key: "A".into(), value: "1".into() }]);
    }
}

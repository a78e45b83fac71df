//! What every shell container runs: one command and environment, started in each granted container
//! through its NodeManager (`weft_yarn_client::nm`).

use weft_proto::pb;
use weft_yarn_client::grant::Grant;
use weft_yarn_client::nm::{start_containers, Started};
use weft_yarn_client::nm_tokens::NmTokens;

/// What every shell container runs.
#[derive(Debug, Clone)]
pub(crate) struct Launcher {
    pub(crate) command: Vec<String>,
    pub(crate) environment: Vec<(String, String)>,
    pub(crate) user: String,
}

impl Launcher {
    /// Starts the command in every grant, with the attempt's NM tokens; one result per grant.
    pub(crate) async fn start_all(&self, nm_tokens: &NmTokens, grants: Vec<Grant>) -> Vec<Started> {
        let starts = grants.into_iter().map(|grant| (grant, self.context())).collect();
        start_containers(&self.user, nm_tokens, starts).await
    }

    fn context(&self) -> pb::ContainerLaunchContext {
        let environment = self
            .environment
            .iter()
            .map(|(key, value)| pb::KeyValue { key: key.clone(), value: value.clone() })
            .collect();
        pb::ContainerLaunchContext { command: self.command.clone(), environment, ..Default::default() }
    }
}

#[cfg(test)]
mod tests {
    use weft_proto::{ApplicationId, Resource};
    use weft_yarn_client::nm::start_request;

    use super::*;

    #[test]
    fn the_request_carries_command_environment_and_size() {
        let launcher = Launcher {
            command: vec!["sh".into(), "-c".into(), "echo $A".into()],
            environment: vec![("A".into(), "1".into())],
            user: "alice".into(),
        };
        let grant = Grant {
            id: ApplicationId::new(1, 1).attempt(1).container(2),
            node_id: "h:1".into(),
            node_address: "h:1".into(),
            resource: Resource::new(1024, 1),
            token: Vec::new(),
        };
        let request = start_request(&launcher.user, &grant, launcher.context());
        assert_eq!(request.container_id, "container_1_0001_01_000002");
        assert_eq!(request.user, "alice");
        assert_eq!(request.resource, Some(pb::Resource { memory_mb: 1024, vcores: 1 }));
        let launch = request.launch.unwrap();
        assert_eq!(launch.command, ["sh", "-c", "echo $A"]);
        assert_eq!(launch.environment, [pb::KeyValue { key: "A".into(), value: "1".into() }]);
    }
}

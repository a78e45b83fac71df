//! ResourceTracker client: registration and heartbeats, with the answers turned into the
//! NodeManager's own terms (ids parsed, the action as an enum).

use tonic::transport::Channel;
use weft_proto::pb::{self, resource_tracker_client::ResourceTrackerClient};
use weft_proto::{ApplicationId, ContainerId};

use super::MAX_MESSAGE_BYTES;
use crate::nm::NodeInfo;
use crate::node::ContainerStatus;
use weft_proto::Utilization;

/// How long one registration or heartbeat call may take.
const CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// What the ResourceManager wants done after a heartbeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    Normal,
    /// It does not know this node: stop every container and register again.
    Resync,
    Shutdown,
}

/// A heartbeat answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Answer {
    pub(crate) response_id: i64,
    pub(crate) action: Action,
    pub(crate) containers_to_cleanup: Vec<ContainerId>,
    pub(crate) apps_to_cleanup: Vec<ApplicationId>,
    pub(crate) next_interval_ms: i64,
    /// A container-token key the ResourceManager rolled to.
    pub(crate) container_token_master_key: Option<pb::MasterKey>,
}

/// A registration answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Registered {
    pub(crate) node_id: String,
    pub(crate) heartbeat_interval_ms: i64,
    pub(crate) container_token_master_key: Option<pb::MasterKey>,
    /// The key of the NM tokens application masters present on this node's Hadoop IPC face.
    pub(crate) nm_token_master_key: Option<pb::MasterKey>,
}

/// A lazily connected ResourceTracker client.
#[derive(Debug, Clone)]
pub(crate) struct Tracker {
    pub(crate) address: String,
    client: ResourceTrackerClient<Channel>,
}

impl Tracker {
    pub(crate) fn new(address: &str) -> Result<Tracker, tonic::transport::Error> {
        let channel = super::channel(address)?.timeout(CALL_TIMEOUT).connect_lazy();
        let client = ResourceTrackerClient::new(channel)
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES);
        Ok(Tracker { address: address.to_owned(), client })
    }

    pub(crate) async fn register(
        &self,
        info: &NodeInfo,
        live: Vec<ContainerStatus>,
    ) -> Result<Registered, tonic::Status> {
        let request = pb::RegisterNodeRequest {
            host: info.node_id.host.clone(),
            rpc_port: u32::from(info.node_id.port),
            http_port: u32::from(info.env.http_port),
            total: Some(info.total.into()),
            version: info.version.to_owned(),
            containers: live.into_iter().map(Into::into).collect(),
        };
        let pb::RegisterNodeResponse {
            node_id,
            heartbeat_interval_ms,
            container_token_master_key,
            nm_token_master_key,
            ..
        } = self.client.clone().register_node_manager(request).await?.into_inner();
        Ok(Registered { node_id, heartbeat_interval_ms, container_token_master_key, nm_token_master_key })
    }

    pub(crate) async fn heartbeat(
        &self,
        node_id: &str,
        response_id: i64,
        statuses: Vec<ContainerStatus>,
        utilization: Utilization,
    ) -> Result<Answer, tonic::Status> {
        let request = pb::NodeHeartbeatRequest {
            node_id: node_id.to_owned(),
            response_id,
            containers: statuses.into_iter().map(Into::into).collect(),
            utilization: Some(utilization.into()),
            healthy: true,
            health_report: String::new(),
        };
        let response = self.client.clone().node_heartbeat(request).await?.into_inner();
        Ok(answer(response))
    }

    /// UnregisterNodeManager: this node leaves the cluster (it is stopping on purpose).
    pub(crate) async fn unregister(&self, node_id: &str) -> Result<(), tonic::Status> {
        let request = pb::UnregisterNodeRequest { node_id: node_id.to_owned() };
        let pb::UnregisterNodeResponse {} = self.client.clone().unregister_node_manager(request).await?.into_inner();
        Ok(())
    }
}

/// Ids that do not parse are logged and skipped: the rest of the answer still counts.
fn parsed<T: std::str::FromStr>(raw: Vec<String>) -> Vec<T>
where
    T::Err: std::fmt::Display,
{
    raw.iter()
        .filter_map(|text| match text.parse() {
            Ok(id) => Some(id),
            Err(error) => {
                tracing::warn!(%error, "the ResourceManager sent an id that does not parse");
                None
            }
        })
        .collect()
}

fn answer(response: pb::NodeHeartbeatResponse) -> Answer {
    let pb::NodeHeartbeatResponse {
        response_id,
        action,
        containers_to_cleanup,
        applications_to_cleanup,
        next_heartbeat_interval_ms,
        container_token_master_key,
        ..
    } = response;
    let action = match pb::NodeAction::try_from(action) {
        Ok(pb::NodeAction::Resync) => Action::Resync,
        Ok(pb::NodeAction::Shutdown) => Action::Shutdown,
        _ => Action::Normal,
    };
    Answer {
        response_id,
        action,
        containers_to_cleanup: parsed(containers_to_cleanup),
        apps_to_cleanup: parsed(applications_to_cleanup),
        next_interval_ms: next_heartbeat_interval_ms,
        container_token_master_key,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_keep_the_good_ids_and_map_the_action() {
        let a = answer(pb::NodeHeartbeatResponse {
            response_id: 4,
            action: pb::NodeAction::Resync as i32,
            containers_to_cleanup: vec!["container_1_0001_01_000002".into(), "junk".into()],
            applications_to_cleanup: vec!["application_1_0001".into()],
            next_heartbeat_interval_ms: 250,
            ..Default::default()
        });
        assert_eq!(a.action, Action::Resync);
        assert_eq!(a.containers_to_cleanup.len(), 1);
        assert_eq!(a.apps_to_cleanup[0].to_string(), "application_1_0001");
    }
}

//! ResourceTracker: NodeManager registration and heartbeats.

use std::sync::Arc;

use tonic::{Request, Response, Status};
use weft_proto::pb::{self, resource_tracker_server::ResourceTracker};
use weft_proto::NodeId;

use super::convert;
use super::status::invalid;
use crate::state::Rm;

pub struct TrackerService {
    rm: Arc<Rm>,
}

impl TrackerService {
    pub fn new(rm: Arc<Rm>) -> Self {
        TrackerService { rm }
    }
}

#[tonic::async_trait]
impl ResourceTracker for TrackerService {
    async fn register_node_manager(
        &self,
        request: Request<pb::RegisterNodeRequest>,
    ) -> Result<Response<pb::RegisterNodeResponse>, Status> {
        let pb::RegisterNodeRequest { host, rpc_port, http_port, total, version, containers } = request.into_inner();
        if host.is_empty() {
            return Err(invalid("the node's host is empty"));
        }
        let port = u16::try_from(rpc_port).map_err(|_| invalid(format!("rpc port {rpc_port} is out of range")))?;
        let total = convert::resource(total, "the node")?;
        if total.memory_mb <= 0 || total.vcores <= 0 {
            return Err(invalid(format!(
                "the node offers {}: memory and vcores must be above 0",
                total.yarn_notation()
            )));
        }
        let reported = containers.into_iter().map(convert::reported).collect::<Result<Vec<_>, _>>()?;
        let id = NodeId::new(host.clone(), port);
        let http_address = format!("{host}:{http_port}");
        let (interval, cluster_timestamp) = self.rm.with(|core, now| {
            core.register_node(id.clone(), http_address, version, total, reported, now);
            (core.config().heartbeat_interval_ms, core.config().cluster_timestamp)
        });
        let (container_key, nm_key) = self.rm.keys.for_node_manager();
        Ok(Response::new(pb::RegisterNodeResponse {
            node_id: id.to_string(),
            heartbeat_interval_ms: interval as i64,
            cluster_timestamp: cluster_timestamp as i64,
            diagnostics: String::new(),
            container_token_master_key: Some(container_key),
            nm_token_master_key: Some(nm_key),
        }))
    }

    async fn node_heartbeat(
        &self,
        request: Request<pb::NodeHeartbeatRequest>,
    ) -> Result<Response<pb::NodeHeartbeatResponse>, Status> {
        let pb::NodeHeartbeatRequest { node_id, response_id: _, containers, utilization, healthy: _, health_report } =
            request.into_inner();
        let id = convert::node_id(&node_id)?;
        let reported = containers.into_iter().map(convert::reported).collect::<Result<Vec<_>, _>>()?;
        let utilization = convert::utilization(utilization);
        let reply = self.rm.with(|core, now| core.node_heartbeat(&id, reported, utilization, health_report, now));
        let action = if reply.resync { pb::NodeAction::Resync } else { pb::NodeAction::Normal };
        Ok(Response::new(pb::NodeHeartbeatResponse {
            response_id: reply.response_id,
            action: action as i32,
            containers_to_cleanup: reply.containers_to_cleanup.iter().map(|c| c.to_string()).collect(),
            applications_to_cleanup: reply.apps_to_cleanup.iter().map(|a| a.to_string()).collect(),
            next_heartbeat_interval_ms: reply.next_heartbeat_interval_ms as i64,
            diagnostics: if reply.resync {
                format!("node {id} is not known to the ResourceManager; register again")
            } else {
                String::new()
            },
            container_token_master_key: None,
            nm_token_master_key: None,
        }))
    }

    async fn unregister_node_manager(
        &self,
        request: Request<pb::UnregisterNodeRequest>,
    ) -> Result<Response<pb::UnregisterNodeResponse>, Status> {
        let pb::UnregisterNodeRequest { node_id } = request.into_inner();
        let id = convert::node_id(&node_id)?;
        self.rm.with(|core, now| core.unregister_node(&id, now));
        Ok(Response::new(pb::UnregisterNodeResponse {}))
    }
}

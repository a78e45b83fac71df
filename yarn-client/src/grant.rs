//! Asks and grants as an application master books them, as plain data: what the next allocate call
//! asks for, and a container the ResourceManager granted with what starting and stopping it needs
//! (beside the attempt's NM token for its node, which the session keeps: `nm_tokens`).
//! Both application masters (the distributed shell's and Spark's) keep their books in these terms.

use weft_proto::{pb, ContainerId, Resource};

/// A container the ResourceManager granted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub id: ContainerId,
    pub node_id: String,
    /// `host:port` of the NodeManager's container-management service.
    pub node_address: String,
    pub resource: Resource,
    /// The container token, passed on to the NodeManager unchanged when the container starts.
    pub token: Vec<u8>,
}

/// The ask of the next allocate call: YARN's absolute count of containers still wanted at a priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ask {
    pub priority: i32,
    pub capability: Resource,
    pub num_containers: u32,
}

impl Ask {
    /// The ask as the scheduler reads it.
    pub fn to_request(self) -> pb::ResourceRequest {
        pb::ResourceRequest {
            priority: self.priority,
            capability: Some(self.capability.into()),
            num_containers: i32::try_from(self.num_containers).unwrap_or(i32::MAX),
        }
    }
}

/// A running container an application master gives up on, and where it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToStop {
    pub container: ContainerId,
    /// The node, whose NM token the stop carries.
    pub node_id: String,
    /// `host:port` of the NodeManager's container-management service.
    pub node_address: String,
}

/// A granted container as the book keeps it; `None` (and a warning) for a grant whose id does not parse.
pub fn grant(container: pb::Container) -> Option<Grant> {
    let pb::Container {
        container_id,
        node_id,
        node_address,
        node_http_address: _,
        resource,
        priority: _,
        container_token,
    } = container;
    match container_id.parse::<ContainerId>() {
        Ok(id) => Some(Grant {
            id,
            node_id,
            node_address,
            resource: resource.map(Resource::from).unwrap_or_default(),
            token: container_token,
        }),
        Err(e) => {
            tracing::warn!(error = %e, "the ResourceManager granted a container with a bad id; ignoring it");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grant_keeps_its_token_and_a_bad_id_is_dropped() {
        let container = pb::Container {
            container_id: "container_1_0001_01_000002".into(),
            node_id: "h:1".into(),
            node_address: "h:8041".into(),
            resource: Some(Resource::new(512, 1).into()),
            container_token: vec![1],
            ..Default::default()
        };
        let g = grant(container.clone()).unwrap();
        assert_eq!(g.id.to_string(), "container_1_0001_01_000002");
        assert_eq!(g.token, vec![1]);
        assert_eq!(g.resource, Resource::new(512, 1));
        assert_eq!(grant(pb::Container { container_id: "nope".into(), ..container }), None);
    }

    #[test]
    fn an_ask_beyond_i32_is_capped() {
        let ask = Ask { priority: 1, capability: Resource::new(1024, 1), num_containers: u32::MAX };
        assert_eq!(ask.to_request().num_containers, i32::MAX);
    }
}

//! Wire types to the NodeManager's own and back; every field is bound by name, so a new proto
//! field fails to compile here until someone decides what it means.

use weft_proto::{pb, states, ContainerId, Resource};

use prost::Message;
use weft_hadoop_ipc::yarn::ContainerLaunchContextProto;

use crate::container::{check_local_resource, clc, ContainerToken, InvalidLaunch, LaunchSpec, LocalResource};
use crate::node::ContainerStatus;

fn local_resource(r: pb::LocalResource) -> Result<LocalResource, InvalidLaunch> {
    let pb::LocalResource { name, sha256, size, executable } = r;
    let sha256 = check_local_resource(&name, &sha256)?;
    Ok(LocalResource { name, sha256, size, executable })
}

/// A start request as a checked spec; `default_user` stands in for an empty user.
pub(crate) fn launch_spec(request: pb::StartContainerRequest, default_user: &str) -> Result<LaunchSpec, InvalidLaunch> {
    let pb::StartContainerRequest { container_id, launch, resource, user, container_token, hadoop_launch_context } =
        request;
    let id: ContainerId = container_id.parse()?;
    let resource: Resource = resource.ok_or(InvalidLaunch::Missing("resource"))?.into();
    let user = if user.is_empty() { default_user.to_owned() } else { user };
    if !hadoop_launch_context.is_empty() {
        let context = ContainerLaunchContextProto::decode(hadoop_launch_context.as_slice())
            .map_err(|e| InvalidLaunch::HadoopContext(format!("it does not decode: {e}")))?;
        return hadoop_spec(id, user, resource, &context)
            .map(|spec| LaunchSpec { container_token: ContainerToken(container_token), ..spec });
    }
    let pb::ContainerLaunchContext { command, environment, local_resources, view_acls, modify_acls } =
        launch.ok_or(InvalidLaunch::Missing("launch context"))?;
    let given = |text: &str| (!text.is_empty()).then_some(text.to_owned());
    let acls = weft_daemon::acl::AppAcls::from_texts(given(&view_acls).as_deref(), given(&modify_acls).as_deref());
    let spec = LaunchSpec {
        id,
        user,
        command,
        environment: environment.into_iter().map(|pb::KeyValue { key, value }| (key, value)).collect(),
        local_resources: local_resources.into_iter().map(local_resource).collect::<Result<_, _>>()?,
        resource,
        hadoop: None,
        container_token: ContainerToken(container_token),
        acls,
    };
    spec.check()?;
    Ok(spec)
}

/// A container started from a Hadoop launch context (Hadoop IPC's startContainers, or the
/// ResourceManager launching a Hadoop client's AM).
pub(crate) fn hadoop_spec(
    id: ContainerId,
    user: String,
    resource: Resource,
    context: &ContainerLaunchContextProto,
) -> Result<LaunchSpec, InvalidLaunch> {
    let launch = clc::convert(context)?;
    let spec = LaunchSpec {
        id,
        user,
        command: launch.command,
        environment: Vec::new(),
        local_resources: Vec::new(),
        resource,
        hadoop: Some(launch.extras),
        container_token: ContainerToken::default(),
        acls: launch.acls,
    };
    spec.check()?;
    Ok(spec)
}

pub(crate) fn container_state(state: states::ContainerState) -> pb::ContainerState {
    match state {
        states::ContainerState::NEW => pb::ContainerState::New,
        states::ContainerState::RUNNING => pb::ContainerState::Running,
        states::ContainerState::COMPLETE => pb::ContainerState::Complete,
    }
}

impl From<ContainerStatus> for pb::ContainerStatus {
    fn from(status: ContainerStatus) -> Self {
        let ContainerStatus {
            id,
            state,
            exit_status,
            diagnostics,
            resource,
            peak,
            enforced,
            kill,
            killed_ms,
            created_ms,
        } = status;
        let bytes = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        pb::ContainerStatus {
            container_id: id.to_string(),
            state: container_state(state) as i32,
            exit_status,
            diagnostics,
            resource: Some(resource.into()),
            peak_physical_memory_bytes: bytes(peak.pmem_bytes),
            peak_virtual_memory_bytes: bytes(peak.vmem_bytes),
            physical_memory_limit_bytes: bytes(enforced.pmem_bytes),
            virtual_memory_limit_bytes: bytes(enforced.vmem_bytes),
            kill_reason: kill.map(|k| k.wire_name().to_owned()).unwrap_or_default(),
            killed_time: if kill.is_some() { bytes(killed_ms) } else { 0 },
            creation_time: bytes(created_ms),
        }
    }
}

pub(crate) fn error(container_id: impl Into<String>, message: impl Into<String>) -> pb::ContainerError {
    pb::ContainerError { container_id: container_id.into(), message: message.into() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> pb::StartContainerRequest {
        pb::StartContainerRequest {
            container_id: "container_1_0001_01_000002".into(),
            launch: Some(pb::ContainerLaunchContext {
                command: vec!["./app".into()],
                environment: vec![pb::KeyValue { key: "A".into(), value: "1".into() }],
                local_resources: vec![pb::LocalResource {
                    name: "app".into(),
                    sha256: "AB".repeat(32),
                    size: 3,
                    executable: true,
                }],
                view_acls: "alice,bob ops".into(),
                modify_acls: String::new(),
            }),
            resource: Some(pb::Resource { memory_mb: 1024, vcores: 1 }),
            user: String::new(),
            container_token: Vec::new(),
            hadoop_launch_context: Vec::new(),
        }
    }

    #[test]
    fn a_good_request_converts_and_an_empty_user_is_the_nodes() {
        let spec = launch_spec(request(), "nm").unwrap();
        assert_eq!(spec.user, "nm");
        assert_eq!(spec.local_resources[0].sha256, "ab".repeat(32));
        assert_eq!(spec.environment, [("A".to_owned(), "1".to_owned())]);
        assert_eq!(spec.acls.view.as_ref().map(ToString::to_string).as_deref(), Some("alice,bob ops"));
        assert_eq!(spec.acls.modify, None, "empty is not given");
    }

    #[test]
    fn bad_requests_say_what_is_wrong() {
        let mut r = request();
        r.container_id = "container_x".into();
        assert!(launch_spec(r, "nm").unwrap_err().to_string().contains("\"container_x\""));
        let mut r = request();
        r.resource = None;
        assert_eq!(launch_spec(r, "nm").unwrap_err().to_string(), "the request has no resource");
        let mut r = request();
        r.launch.as_mut().unwrap().command.clear();
        assert_eq!(launch_spec(r, "nm").unwrap_err(), InvalidLaunch::EmptyCommand);
        let mut r = request();
        r.launch.as_mut().unwrap().local_resources[0].name = "../x".into();
        assert!(launch_spec(r, "nm").unwrap_err().to_string().contains("\"../x\""));
    }
}

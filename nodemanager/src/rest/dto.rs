//! REST bodies in YARN's `/ws/v1/node` shapes (`facts/yarn.md` §5.2), built by pure functions from
//! the core's state, so the JSON stays stable while the internals move.

use serde::Serialize;
use serde_json::{json, Value};

use crate::container::Container;
use crate::nm::{Enforcement, NodeInfo};
use crate::node::NmApp;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct NodeInfoDto {
    id: String,
    node_host_name: String,
    #[serde(rename = "totalPmemAllocatedContainersMB")]
    total_pmem_allocated_containers_mb: i64,
    #[serde(rename = "totalVmemAllocatedContainersMB")]
    total_vmem_allocated_containers_mb: i64,
    #[serde(rename = "totalVCoresAllocatedContainers")]
    total_vcores_allocated_containers: i64,
    last_node_update_time: u64,
    health_report: String,
    node_healthy: bool,
    node_manager_version: String,
    node_manager_build_version: String,
    node_manager_version_built_on: String,
    hadoop_version: String,
    hadoop_build_version: String,
    hadoop_version_built_on: String,
    // Weft's extension fields: how containers are held to their resources.
    /// Containers are held in cgroups (memory hard limit, CPU weight).
    cgroups_enabled: bool,
    /// `v1` or `v2`; "" when cgroups are not used.
    cgroups_version: &'static str,
    /// The NodeManager's group under each controller.
    cgroups_hierarchy: String,
    /// Why cgroups are not used; "" when they are.
    cgroups_reason: String,
    pmem_check_enabled: bool,
    vmem_check_enabled: bool,
    vmem_pmem_ratio: f64,
    container_monitor_interval_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct AppDto {
    id: String,
    user: String,
    state: &'static str,
    /// Running containers only; omitted when none runs, as YARN does.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    containerids: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ContainerDto {
    id: String,
    state: &'static str,
    exit_code: i32,
    diagnostics: String,
    user: String,
    #[serde(rename = "totalMemoryNeededMB")]
    total_memory_needed_mb: i64,
    #[serde(rename = "totalVCoresNeeded")]
    total_vcores_needed: i32,
    container_logs_link: String,
    node_id: String,
    container_log_files: Vec<String>,
    // Weft's extension fields: what the monitor measured over the whole process tree (bytes), and
    // the limits (a limit that is not enforced is still shown).
    physical_memory_bytes: u64,
    virtual_memory_bytes: u64,
    physical_memory_limit_bytes: u64,
    virtual_memory_limit_bytes: u64,
    peak_physical_memory_bytes: u64,
    peak_virtual_memory_bytes: u64,
    /// `physical_memory`, `virtual_memory`, `kernel_oom`, `killed_by_appmaster`, …; "" when not killed.
    kill_reason: &'static str,
    /// When the kill was decided (ms since the epoch); 0 when not killed.
    killed_time: u64,
}

/// The node's memory and vcores for containers (YARN reports capacity here, not use; vmem is
/// pmem × `vmem-pmem-ratio`), and how they are enforced.
pub(crate) fn node_info(info: &NodeInfo, enforcement: &Enforcement, last_heartbeat_ms: u64) -> NodeInfoDto {
    let version = info.version.to_owned();
    let cgroups = &enforcement.cgroups_status;
    NodeInfoDto {
        id: info.node_id.to_string(),
        node_host_name: info.node_id.host.clone(),
        total_pmem_allocated_containers_mb: info.total.memory_mb,
        total_vmem_allocated_containers_mb: (info.total.memory_mb as f64 * enforcement.vmem_ratio) as i64,
        total_vcores_allocated_containers: i64::from(info.total.vcores),
        last_node_update_time: last_heartbeat_ms,
        health_report: String::new(),
        node_healthy: true,
        node_manager_version: version.clone(),
        node_manager_build_version: version.clone(),
        node_manager_version_built_on: version.clone(),
        hadoop_version: version.clone(),
        hadoop_build_version: version.clone(),
        hadoop_version_built_on: version,
        cgroups_enabled: cgroups.enabled,
        cgroups_version: cgroups.version.map_or("", |v| v.as_str()),
        cgroups_hierarchy: cgroups.hierarchy.clone(),
        cgroups_reason: cgroups.reason.clone(),
        pmem_check_enabled: enforcement.checks.pmem,
        vmem_check_enabled: enforcement.checks.vmem,
        vmem_pmem_ratio: enforcement.vmem_ratio,
        container_monitor_interval_ms: enforcement.monitor_interval.as_millis() as u64,
    }
}

pub(crate) fn app(app: &NmApp) -> AppDto {
    AppDto {
        id: app.id.to_string(),
        user: app.user.clone(),
        state: app.state.as_str(),
        containerids: app.running.iter().map(ToString::to_string).collect(),
    }
}

/// `http://<node http address>/node/containerlogs/<container>/<user>`.
pub(crate) fn container_logs_link(info: &NodeInfo, c: &Container) -> String {
    format!("http://{}/node/containerlogs/{}/{}", info.http_address, c.spec.id, c.spec.user)
}

pub(crate) fn container(info: &NodeInfo, c: &Container, log_files: Vec<String>) -> ContainerDto {
    ContainerDto {
        id: c.spec.id.to_string(),
        state: c.state.as_str(),
        exit_code: c.exit_status,
        diagnostics: c.diagnostics(),
        user: c.spec.user.clone(),
        total_memory_needed_mb: c.spec.resource.memory_mb,
        total_vcores_needed: c.spec.resource.vcores,
        container_logs_link: container_logs_link(info, c),
        node_id: info.node_id.to_string(),
        container_log_files: log_files,
        physical_memory_bytes: c.usage.pmem_bytes,
        virtual_memory_bytes: c.usage.vmem_bytes,
        physical_memory_limit_bytes: c.limits.pmem_bytes,
        virtual_memory_limit_bytes: c.limits.vmem_bytes,
        peak_physical_memory_bytes: c.peak.pmem_bytes,
        peak_virtual_memory_bytes: c.peak.vmem_bytes,
        kill_reason: c.kill.map_or("", |k| k.wire_name()),
        killed_time: c.killed_ms.unwrap_or(0),
    }
}

/// `{"apps":{"app":[…]}}`, or `{"apps":null}` when there is none, as YARN answers.
pub(crate) fn apps_body(apps: Vec<AppDto>) -> Value {
    if apps.is_empty() {
        json!({ "apps": null })
    } else {
        json!({ "apps": { "app": apps } })
    }
}

/// `{"containers":{"container":[…]}}`, or `{"containers":null}` when there is none.
pub(crate) fn containers_body(containers: Vec<ContainerDto>) -> Value {
    if containers.is_empty() {
        json!({ "containers": null })
    } else {
        json!({ "containers": { "container": containers } })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::CgroupsStatus;
    use crate::container::{Event, KillReason, LaunchSpec};
    use crate::launcher::NodeEnv;
    use crate::monitor::{Limits, Usage};
    use crate::node::NmAppState;
    use weft_proto::{NodeId, Resource};

    fn info() -> NodeInfo {
        NodeInfo {
            node_id: NodeId::new("h1", 8041),
            http_address: "h1:8042".into(),
            total: Resource::new(8192, 8),
            version: "0.1.0",
            env: NodeEnv {
                path: None,
                lang: None,
                java_home: None,
                host: "h1".into(),
                rpc_port: 8041,
                http_port: 8042,
            },
            default_user: "nm".into(),
        }
    }

    fn enforcement() -> Enforcement {
        Enforcement {
            monitor_interval: std::time::Duration::from_millis(3000),
            checks: crate::monitor::Checks { pmem: true, vmem: false },
            vmem_ratio: 2.1,
            cgroups: Err("the cgroup v1 memory controller is not mounted".into()),
            cgroups_status: CgroupsStatus {
                enabled: false,
                version: None,
                hierarchy: "hadoop-yarn".into(),
                reason: "the cgroup v1 memory controller is not mounted".into(),
            },
        }
    }

    fn running() -> Container {
        let spec = LaunchSpec {
            id: "container_1_0001_01_000002".parse().unwrap(),
            user: "alice".into(),
            command: vec!["true".into()],
            environment: Vec::new(),
            local_resources: Vec::new(),
            resource: Resource::new(2048, 2),
            hadoop: None,
            container_token: Default::default(),
            acls: Default::default(),
        };
        let mut c = Container::new(spec, 5);
        c.limits = Limits::for_container(2048, 2.1);
        c.handle(Event::Init, 6);
        c.handle(Event::Launched { pid: 99 }, 7);
        c.observe(Usage { pmem_bytes: 300 << 20, vmem_bytes: 900 << 20 });
        c.observe(Usage { pmem_bytes: 200 << 20, vmem_bytes: 800 << 20 });
        c
    }

    /// Serializes `dto` and compares it with `expected` (JSON text).
    fn check(dto: impl Serialize, expected: &str) {
        let got = serde_json::to_value(dto).unwrap();
        let want: Value = serde_json::from_str(expected).unwrap();
        assert_eq!(got, want, "\n{}", serde_json::to_string_pretty(&got).unwrap());
    }

    #[test]
    fn node_info_has_yarns_fields() {
        check(
            json!({ "nodeInfo": node_info(&info(), &enforcement(), 1234) }),
            r#"{"nodeInfo":{"id":"h1:8041","nodeHostName":"h1","totalPmemAllocatedContainersMB":8192,
                "totalVmemAllocatedContainersMB":17203,"totalVCoresAllocatedContainers":8,"lastNodeUpdateTime":1234,
                "healthReport":"","nodeHealthy":true,"nodeManagerVersion":"0.1.0","nodeManagerBuildVersion":"0.1.0",
                "nodeManagerVersionBuiltOn":"0.1.0","hadoopVersion":"0.1.0","hadoopBuildVersion":"0.1.0",
                "hadoopVersionBuiltOn":"0.1.0","cgroupsEnabled":false,"cgroupsVersion":"",
                "cgroupsHierarchy":"hadoop-yarn","cgroupsReason":"the cgroup v1 memory controller is not mounted",
                "pmemCheckEnabled":true,"vmemCheckEnabled":false,"vmemPmemRatio":2.1,
                "containerMonitorIntervalMs":3000}}"#,
        );
    }

    #[test]
    fn a_running_container_shows_minus_1000_and_no_diagnostics() {
        check(
            json!({ "container": container(&info(), &running(), vec!["stderr".into(), "stdout".into()]) }),
            r#"{"container":{"id":"container_1_0001_01_000002","state":"RUNNING","exitCode":-1000,"diagnostics":"",
                "user":"alice","totalMemoryNeededMB":2048,"totalVCoresNeeded":2,
                "containerLogsLink":"http://h1:8042/node/containerlogs/container_1_0001_01_000002/alice",
                "nodeId":"h1:8041","containerLogFiles":["stderr","stdout"],
                "physicalMemoryBytes":209715200,"virtualMemoryBytes":838860800,
                "physicalMemoryLimitBytes":2147483648,"virtualMemoryLimitBytes":4509715660,
                "peakPhysicalMemoryBytes":314572800,"peakVirtualMemoryBytes":943718400,
                "killReason":"","killedTime":0}}"#,
        );
    }

    #[test]
    fn a_memory_kill_shows_its_reason_and_time() {
        let mut c = running();
        c.handle(Event::KillWith { reason: KillReason::VirtualMemory, diagnostics: "over".into() }, 1234);
        let dto = serde_json::to_value(container(&info(), &c, Vec::new())).unwrap();
        assert_eq!((dto["killReason"].as_str(), dto["killedTime"].as_u64()), (Some("virtual_memory"), Some(1234)));
        assert_eq!(dto["state"], "KILLING");
    }

    #[test]
    fn lists_are_wrapped_twice_or_null() {
        let c = running();
        let mut a = NmApp {
            id: c.spec.id.application(),
            user: "alice".into(),
            state: NmAppState::RUNNING,
            running: vec![c.spec.id],
        };
        check(
            apps_body(vec![app(&a)]),
            r#"{"apps":{"app":[{"id":"application_1_0001","user":"alice","state":"RUNNING","containerids":["container_1_0001_01_000002"]}]}}"#,
        );
        a.running.clear();
        a.state = NmAppState::FINISHED;
        check(
            apps_body(vec![app(&a)]),
            r#"{"apps":{"app":[{"id":"application_1_0001","user":"alice","state":"FINISHED"}]}}"#,
        );
        check(apps_body(Vec::new()), r#"{"apps":null}"#);
        check(containers_body(Vec::new()), r#"{"containers":null}"#);
    }
}

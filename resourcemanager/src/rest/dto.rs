//! REST bodies of `/ws/v1/cluster` with YARN's field names and nesting, built by pure functions from
//! the core's state and `now`, so the JSON stays stable while internals move.

use std::collections::BTreeMap;

use serde::Serialize;
use weft_proto::states::AppState;

use crate::core::{App, Attempt, ClusterMetrics, KillEvent, KillReason, MemoryUsage, Node, RmContainer, RmCore};
use crate::state::RmInfo;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ClusterInfo {
    id: u64,
    started_on: u64,
    state: &'static str,
    ha_state: &'static str,
    rm_state_store_name: &'static str,
    resource_manager_version: &'static str,
    resource_manager_build_version: String,
    resource_manager_version_built_on: &'static str,
    hadoop_version: &'static str,
    hadoop_build_version: String,
    hadoop_version_built_on: &'static str,
    ha_zoo_keeper_connection_state: &'static str,
}

pub(crate) fn cluster_info(info: &RmInfo) -> ClusterInfo {
    ClusterInfo {
        id: info.cluster_timestamp,
        started_on: info.cluster_timestamp,
        state: "STARTED",
        ha_state: "ACTIVE",
        rm_state_store_name: "org.apache.hadoop.yarn.server.resourcemanager.recovery.NullRMStateStore",
        resource_manager_version: info.version,
        resource_manager_build_version: format!("{} weft", info.version),
        resource_manager_version_built_on: "",
        hadoop_version: info.version,
        hadoop_build_version: format!("{} weft", info.version),
        hadoop_version_built_on: "",
        ha_zoo_keeper_connection_state: "ResourceManager HA is not enabled.",
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ClusterMetricsInfo {
    apps_submitted: i32,
    apps_completed: i32,
    apps_pending: i32,
    apps_running: i32,
    apps_failed: i32,
    apps_killed: i32,
    #[serde(rename = "reservedMB")]
    reserved_mb: i64,
    #[serde(rename = "availableMB")]
    available_mb: i64,
    #[serde(rename = "allocatedMB")]
    allocated_mb: i64,
    #[serde(rename = "totalMB")]
    total_mb: i64,
    reserved_virtual_cores: i64,
    available_virtual_cores: i64,
    allocated_virtual_cores: i64,
    total_virtual_cores: i64,
    containers_allocated: i32,
    containers_reserved: i32,
    containers_pending: i64,
    total_nodes: i32,
    active_nodes: i32,
    lost_nodes: i32,
    unhealthy_nodes: i32,
    decommissioning_nodes: i32,
    decommissioned_nodes: i32,
    rebooted_nodes: i32,
    shutdown_nodes: i32,
    /// Weft's extension: containers ended by a kill since the ResourceManager started, by reason.
    container_kills: BTreeMap<&'static str, u64>,
}

/// Every kill reason with its count (0 when none), so dashboards see a stable set of keys.
fn kill_counts(counts: impl IntoIterator<Item = (KillReason, u64)>) -> BTreeMap<&'static str, u64> {
    let mut map: BTreeMap<&'static str, u64> = KillReason::ALL.iter().map(|r| (r.as_str(), 0)).collect();
    for (reason, n) in counts {
        map.insert(reason.as_str(), n);
    }
    map
}

pub(crate) fn cluster_metrics(m: &ClusterMetrics) -> ClusterMetricsInfo {
    ClusterMetricsInfo {
        apps_submitted: m.apps_submitted,
        apps_completed: m.apps_completed,
        apps_pending: m.apps_pending,
        apps_running: m.apps_running,
        apps_failed: m.apps_failed,
        apps_killed: m.apps_killed,
        reserved_mb: 0,
        available_mb: m.available.memory_mb,
        allocated_mb: m.allocated.memory_mb,
        total_mb: m.total.memory_mb,
        reserved_virtual_cores: 0,
        available_virtual_cores: m.available.vcores as i64,
        allocated_virtual_cores: m.allocated.vcores as i64,
        total_virtual_cores: m.total.vcores as i64,
        containers_allocated: m.containers_allocated,
        containers_reserved: 0,
        containers_pending: m.containers_pending,
        total_nodes: m.total_nodes,
        active_nodes: m.active_nodes,
        lost_nodes: m.lost_nodes,
        unhealthy_nodes: m.unhealthy_nodes,
        decommissioning_nodes: m.decommissioning_nodes,
        decommissioned_nodes: m.decommissioned_nodes,
        rebooted_nodes: m.rebooted_nodes,
        shutdown_nodes: m.shutdown_nodes,
        container_kills: kill_counts(m.kills.iter().copied()),
    }
}

/// YARN's `{memory, vCores}` resource object.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ResourceInfo {
    memory: i64,
    v_cores: i32,
}

impl From<weft_proto::Resource> for ResourceInfo {
    fn from(r: weft_proto::Resource) -> Self {
        ResourceInfo { memory: r.memory_mb, v_cores: r.vcores }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ResourceUtilizationInfo {
    #[serde(rename = "nodePhysicalMemoryMB")]
    node_physical_memory_mb: i64,
    #[serde(rename = "nodeVirtualMemoryMB")]
    node_virtual_memory_mb: i64,
    #[serde(rename = "nodeCPUUsage")]
    node_cpu_usage: f32,
    #[serde(rename = "aggregatedContainersPhysicalMemoryMB")]
    aggregated_containers_physical_memory_mb: i64,
    #[serde(rename = "aggregatedContainersVirtualMemoryMB")]
    aggregated_containers_virtual_memory_mb: i64,
    #[serde(rename = "containersCPUUsage")]
    containers_cpu_usage: f32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct NodeInfo {
    rack: &'static str,
    state: weft_proto::states::NodeState,
    id: String,
    node_host_name: String,
    #[serde(rename = "nodeHTTPAddress")]
    node_http_address: String,
    last_health_update: u64,
    version: String,
    health_report: String,
    num_containers: i32,
    #[serde(rename = "usedMemoryMB")]
    used_memory_mb: i64,
    #[serde(rename = "availMemoryMB")]
    avail_memory_mb: i64,
    used_virtual_cores: i32,
    available_virtual_cores: i32,
    resource_utilization: ResourceUtilizationInfo,
    used_resource: ResourceInfo,
    available_resource: ResourceInfo,
    total_resource: ResourceInfo,
    /// Weft's extension: containers killed on this node, by reason.
    container_kills: BTreeMap<&'static str, u64>,
}

pub(crate) fn node_info(n: &Node) -> NodeInfo {
    let u = &n.utilization;
    let available = n.total.saturating_sub(n.allocated);
    NodeInfo {
        rack: "/default-rack",
        state: n.state,
        id: n.id.to_string(),
        node_host_name: n.id.host.clone(),
        node_http_address: n.http_address.to_string(),
        last_health_update: n.last_heartbeat_ms,
        version: n.version.clone(),
        health_report: n.health_report.clone(),
        num_containers: n.containers.len() as i32,
        used_memory_mb: n.allocated.memory_mb,
        avail_memory_mb: available.memory_mb,
        used_virtual_cores: n.allocated.vcores,
        available_virtual_cores: available.vcores,
        resource_utilization: ResourceUtilizationInfo {
            node_physical_memory_mb: u.node_physical_memory_mb,
            node_virtual_memory_mb: u.node_virtual_memory_mb,
            node_cpu_usage: u.node_cpu_usage,
            aggregated_containers_physical_memory_mb: u.containers_physical_memory_mb,
            aggregated_containers_virtual_memory_mb: u.containers_virtual_memory_mb,
            containers_cpu_usage: u.containers_cpu_usage,
        },
        used_resource: n.allocated.into(),
        available_resource: available.into(),
        total_resource: n.total.into(),
        container_kills: kill_counts(n.kills.iter().map(|(r, c)| (*r, *c))),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AppInfo {
    id: String,
    user: String,
    name: String,
    queue: String,
    state: AppState,
    final_status: weft_proto::states::FinalStatus,
    progress: f32,
    #[serde(rename = "trackingUI")]
    tracking_ui: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    tracking_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    diagnostics: Option<String>,
    cluster_id: u64,
    application_type: String,
    application_tags: String,
    priority: i32,
    started_time: u64,
    launch_time: u64,
    finished_time: u64,
    elapsed_time: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    am_container_logs: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    am_host_http_address: Option<String>,
    #[serde(rename = "amRPCAddress", skip_serializing_if = "Option::is_none")]
    am_rpc_address: Option<String>,
    #[serde(rename = "allocatedMB", skip_serializing_if = "Option::is_none")]
    allocated_mb: Option<i64>,
    #[serde(rename = "allocatedVCores", skip_serializing_if = "Option::is_none")]
    allocated_vcores: Option<i32>,
    #[serde(rename = "reservedMB")]
    reserved_mb: i64,
    #[serde(rename = "reservedVCores")]
    reserved_vcores: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    running_containers: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    memory_seconds: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    vcore_seconds: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    queue_usage_percentage: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cluster_usage_percentage: Option<f32>,
    #[serde(rename = "preemptedResourceMB")]
    preempted_resource_mb: i64,
    #[serde(rename = "preemptedResourceVCores")]
    preempted_resource_vcores: i32,
    #[serde(rename = "numNonAMContainerPreempted")]
    num_non_am_container_preempted: i32,
    #[serde(rename = "numAMContainerPreempted")]
    num_am_container_preempted: i32,
    preempted_memory_seconds: i64,
    preempted_vcore_seconds: i64,
    log_aggregation_status: &'static str,
    unmanaged_application: bool,
    am_node_label_expression: &'static str,
}

/// YARN's trackingUI: UNASSIGNED before the AM runs, ApplicationMaster while it does, History after.
fn tracking_ui(app: &App) -> &'static str {
    if app.finished_ms != 0 {
        "History"
    } else if app.state == AppState::RUNNING {
        "ApplicationMaster"
    } else {
        "UNASSIGNED"
    }
}

/// An application as `/apps` shows it. Without VIEW_APP (`full` false) the fields YARN's `AppInfo`
/// fills only for callers with access are left out: diagnostics, tracking URL, the AM's addresses
/// and logs, and resource use.
pub(crate) fn app_info(app: &App, core: &RmCore, info: &RmInfo, now_ms: u64, full: bool) -> AppInfo {
    let shown = |value: String| full.then_some(value);
    let attempt = app.current_attempt();
    let s = &app.submission;
    let (allocated, running) = core.app_allocated(app.id());
    let end = if app.finished_ms != 0 { app.finished_ms } else { now_ms };
    let total = core.metrics().total;
    let share = if total.memory_mb > 0 { allocated.memory_mb as f32 * 100.0 / total.memory_mb as f32 } else { 0.0 };
    AppInfo {
        id: app.id().to_string(),
        user: s.user.clone(),
        name: s.name.clone(),
        queue: s.queue.clone(),
        state: app.state,
        final_status: app.final_status,
        progress: app.progress,
        tracking_ui: tracking_ui(app),
        tracking_url: shown(crate::grpc::tracking_url(app, info)),
        diagnostics: shown(app.diagnostics.clone()),
        cluster_id: info.cluster_timestamp,
        application_type: s.application_type.clone(),
        application_tags: s.tags.join(","),
        priority: 0,
        started_time: app.started_ms,
        launch_time: app.attempts.first().map_or(0, |a| a.started_ms),
        finished_time: app.finished_ms,
        elapsed_time: end.saturating_sub(app.started_ms),
        am_container_logs: shown(container_logs_link(attempt, &s.user)),
        am_host_http_address: shown(attempt.am_node_http_address.clone()),
        am_rpc_address: shown(if attempt.host.is_empty() {
            String::new()
        } else {
            format!("{}:{}", attempt.host, attempt.rpc_port)
        }),
        allocated_mb: full.then_some(allocated.memory_mb),
        allocated_vcores: full.then_some(allocated.vcores),
        reserved_mb: 0,
        reserved_vcores: 0,
        running_containers: full.then_some(if app.state.is_final() { -1 } else { running }),
        memory_seconds: full.then_some(app.memory_seconds),
        vcore_seconds: full.then_some(app.vcore_seconds),
        queue_usage_percentage: full.then_some(share),
        cluster_usage_percentage: full.then_some(share),
        preempted_resource_mb: 0,
        preempted_resource_vcores: 0,
        num_non_am_container_preempted: 0,
        num_am_container_preempted: 0,
        preempted_memory_seconds: 0,
        preempted_vcore_seconds: 0,
        log_aggregation_status: "DISABLED",
        unmanaged_application: s.unmanaged_am,
        am_node_label_expression: "",
    }
}

/// `http://<nm>/node/containerlogs/<container>/<user>`, or "" before the AM container exists.
fn container_logs_link(attempt: &Attempt, user: &str) -> String {
    match attempt.am_container {
        Some(c) if !attempt.am_node_http_address.is_empty() => {
            format!("http://{}/node/containerlogs/{}/{}", attempt.am_node_http_address, c, user)
        }
        _ => String::new(),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AppAttemptInfo {
    id: u32,
    start_time: u64,
    finished_time: u64,
    container_id: String,
    node_http_address: String,
    node_id: String,
    logs_link: String,
    blacklisted_nodes: &'static str,
    nodes_blacklisted_by_system: &'static str,
    app_attempt_id: String,
    app_attempt_state: weft_proto::states::AttemptState,
    diagnostics_info: String,
}

pub(crate) fn attempt_info(attempt: &Attempt, user: &str) -> AppAttemptInfo {
    AppAttemptInfo {
        id: attempt.id.attempt,
        start_time: attempt.started_ms,
        finished_time: attempt.finished_ms,
        container_id: attempt.am_container.map(|c| c.to_string()).unwrap_or_default(),
        node_http_address: attempt.am_node_http_address.clone(),
        node_id: attempt.am_node.as_ref().map(|n| n.to_string()).unwrap_or_default(),
        logs_link: container_logs_link(attempt, user),
        blacklisted_nodes: "",
        nodes_blacklisted_by_system: "",
        app_attempt_id: attempt.id.to_string(),
        app_attempt_state: attempt.state,
        diagnostics_info: attempt.diagnostics.clone(),
    }
}

/// YARN's ContainerInfo of `/apps/{app}/appattempts/{attempt}/containers`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ContainerInfo {
    container_id: String,
    #[serde(rename = "allocatedMB")]
    allocated_mb: i64,
    allocated_v_cores: i32,
    assigned_node_id: String,
    priority: i32,
    started_time: u64,
    finished_time: u64,
    elapsed_time: u64,
    diagnostics_info: String,
    log_url: String,
    container_exit_status: i32,
    container_state: weft_proto::states::ContainerState,
    node_http_address: String,
    node_id: String,
    /// Weft's extension: what the NodeManager measured and enforced (bytes; 0 = unknown).
    #[serde(flatten)]
    memory: MemoryInfo,
}

/// Peak memory and limits of a container, in bytes (0 = not measured / not enforced).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MemoryInfo {
    peak_physical_memory_bytes: i64,
    peak_virtual_memory_bytes: i64,
    physical_memory_limit_bytes: i64,
    virtual_memory_limit_bytes: i64,
}

impl From<MemoryUsage> for MemoryInfo {
    fn from(u: MemoryUsage) -> Self {
        MemoryInfo {
            peak_physical_memory_bytes: u.peak_physical_bytes,
            peak_virtual_memory_bytes: u.peak_virtual_bytes,
            physical_memory_limit_bytes: u.physical_limit_bytes,
            virtual_memory_limit_bytes: u.virtual_limit_bytes,
        }
    }
}

pub(crate) fn container_info(c: &RmContainer, user: &str, now_ms: u64) -> ContainerInfo {
    let end = if c.finished_ms != 0 { c.finished_ms } else { now_ms };
    ContainerInfo {
        container_id: c.id.to_string(),
        allocated_mb: c.resource.memory_mb,
        allocated_v_cores: c.resource.vcores,
        assigned_node_id: c.node.to_string(),
        priority: c.priority,
        started_time: c.created_ms,
        finished_time: c.finished_ms,
        elapsed_time: end.saturating_sub(c.created_ms),
        diagnostics_info: c.diagnostics.clone(),
        log_url: format!("http://{}/node/containerlogs/{}/{}", c.node_http_address, c.id, user),
        container_exit_status: c.exit_status,
        container_state: c.state,
        node_http_address: format!("http://{}", c.node_http_address),
        node_id: c.node.to_string(),
        memory: c.usage.into(),
    }
}

/// One entry of the kill feed `/ws/v1/cluster/containers/kills`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ContainerKillInfo {
    container_id: String,
    application_id: String,
    app_attempt_id: String,
    node_id: String,
    node_http_address: String,
    reason: &'static str,
    exit_status: i32,
    diagnostics: String,
    killed_time: u64,
    #[serde(flatten)]
    memory: MemoryInfo,
}

pub(crate) fn kill_info(k: &KillEvent, node_http_address: String) -> ContainerKillInfo {
    ContainerKillInfo {
        container_id: k.container.to_string(),
        application_id: k.container.application().to_string(),
        app_attempt_id: k.container.attempt.to_string(),
        node_id: k.node.to_string(),
        node_http_address,
        reason: k.reason.as_str(),
        exit_status: k.exit_status,
        diagnostics: k.diagnostics.clone(),
        killed_time: k.at_ms,
        memory: k.usage.into(),
    }
}

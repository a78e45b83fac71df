//! Wire messages to the plain data the formatters print. Every field is bound by name, so a new
//! proto field fails to compile here until someone decides whether the CLI shows it.

use weft_proto::pb;

use crate::format::apps::AppReport;
use crate::format::nodes::NodeRow;

pub(crate) fn app_report(report: pb::ApplicationReport) -> AppReport {
    let pb::ApplicationReport {
        application_id,
        user,
        name,
        queue,
        state,
        final_status,
        progress,
        diagnostics,
        started_time,
        finished_time,
        application_type,
        current_attempt_id: _,
        am_container_id: _,
        am_host,
        am_rpc_port,
        tracking_url,
        allocated: _,
        running_containers: _,
        memory_seconds,
        vcore_seconds,
        unmanaged_am,
        am_node_http_address: _,
        tags: _,
        am_rm_token: _,
    } = report;
    AppReport {
        id: application_id,
        name,
        app_type: application_type,
        user,
        queue,
        state,
        final_status,
        progress_percent: progress,
        tracking_url,
        started_ms: started_time,
        finished_ms: finished_time,
        am_host,
        am_rpc_port,
        memory_seconds,
        vcore_seconds,
        diagnostics,
        unmanaged: unmanaged_am,
    }
}

pub(crate) fn node_row(report: pb::NodeReport) -> NodeRow {
    let pb::NodeReport {
        node_id,
        state,
        http_address,
        rack: _,
        total: _,
        used: _,
        num_containers,
        last_health_update: _,
        health_report: _,
        utilization: _,
        version: _,
    } = report;
    NodeRow { id: node_id, state, http_address, running_containers: num_containers }
}

//! Pages for people, as YARN's RM web UI has them: the cluster overview, nodes, applications and
//! one application's attempts and containers. Plain HTML, escaped by maud.

use axum::extract::{Path, State};
use maud::{html, Markup, DOCTYPE};
use weft_proto::ApplicationId;

use super::Shared;
use crate::core::{App, ClusterMetrics, Node, RmContainer};

const STYLE: &str = "body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse;margin:.5em 0 1.5em}\
td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left;font-size:.9em}th{background:#eef}\
nav a{margin-right:1em}.FAILED,.KILLED,.LOST{color:#b00}.FINISHED,.SUCCEEDED,.RUNNING{color:#070}pre{white-space:pre-wrap}";

fn page(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html {
            head { meta charset="utf-8"; title { (title) " - Weft ResourceManager" } style { (STYLE) } }
            body {
                nav { a href="/cluster" { "Cluster" } a href="/cluster/nodes" { "Nodes" } a href="/cluster/apps" { "Applications" } a href="/ws/v1/cluster/info" { "REST" } }
                h1 { (title) }
                (body)
            }
        }
    }
}

fn metrics_table(m: &ClusterMetrics) -> Markup {
    html! {
        table {
            tr { th { "Apps Submitted" } th { "Apps Pending" } th { "Apps Running" } th { "Apps Completed" } th { "Apps Failed" } th { "Apps Killed" }
                 th { "Containers Running" } th { "Memory Used" } th { "Memory Total" } th { "VCores Used" } th { "VCores Total" } th { "Active Nodes" } th { "Lost Nodes" } }
            tr { td { (m.apps_submitted) } td { (m.apps_pending) } td { (m.apps_running) } td { (m.apps_completed) } td { (m.apps_failed) } td { (m.apps_killed) }
                 td { (m.containers_allocated) } td { (m.allocated.memory_mb) " MB" } td { (m.total.memory_mb) " MB" } td { (m.allocated.vcores) } td { (m.total.vcores) }
                 td { (m.active_nodes) } td { (m.lost_nodes) } }
        }
    }
}

fn nodes_table(nodes: &[Node]) -> Markup {
    html! {
        table {
            tr { th { "Node Address" } th { "State" } th { "Node HTTP Address" } th { "Containers" } th { "Mem Used" } th { "Mem Avail" } th { "VCores Used" } th { "VCores Avail" } th { "Last Heartbeat" } }
            @for n in nodes {
                tr {
                    td { (n.id) } td class=(n.state) { (n.state) } td { a href={ "http://" (n.http_address) "/node" } { (n.http_address) } }
                    td { (n.containers.len()) } td { (n.allocated.memory_mb) " MB" } td { (n.available().memory_mb) " MB" }
                    td { (n.allocated.vcores) } td { (n.available().vcores) } td { (n.last_heartbeat_ms) }
                }
            }
        }
    }
}

fn apps_table(apps: &[App]) -> Markup {
    html! {
        table {
            tr { th { "ID" } th { "User" } th { "Name" } th { "Type" } th { "Queue" } th { "StartTime" } th { "FinishTime" } th { "State" } th { "FinalStatus" } th { "Progress" } }
            @for a in apps.iter().rev() {
                tr {
                    td { a href={ "/cluster/app/" (a.id()) } { (a.id()) } } td { (a.submission.user) } td { (a.submission.name) }
                    td { (a.submission.application_type) } td { (a.submission.queue) } td { (a.started_ms) } td { (a.finished_ms) }
                    td class=(a.state) { (a.state) } td class=(a.final_status) { (a.final_status) } td { (format!("{:.0}%", a.progress)) }
                }
            }
        }
    }
}

pub(super) async fn overview(State(rm): Shared) -> Markup {
    let (m, nodes, apps) = rm.with(|core, _| {
        (
            core.metrics(),
            core.nodes().cloned().collect::<Vec<_>>(),
            core.apps(&Default::default()).into_iter().cloned().collect::<Vec<_>>(),
        )
    });
    page(
        "Cluster",
        html! {
            p { "Cluster " (rm.info.cluster_id) ", started " (rm.info.cluster_timestamp) ", version " (rm.info.version) }
            h2 { "Cluster Metrics" } (metrics_table(&m))
            h2 { "Nodes" } (nodes_table(&nodes))
            h2 { "Applications" } (apps_table(&apps))
        },
    )
}

pub(super) async fn nodes(State(rm): Shared) -> Markup {
    let nodes = rm.with(|core, _| core.nodes().cloned().collect::<Vec<_>>());
    page("Nodes of the cluster", nodes_table(&nodes))
}

pub(super) async fn apps(State(rm): Shared) -> Markup {
    let apps = rm.with(|core, _| core.apps(&Default::default()).into_iter().cloned().collect::<Vec<_>>());
    page("All Applications", apps_table(&apps))
}

fn containers_table(containers: &[RmContainer], user: &str) -> Markup {
    html! {
        table {
            tr { th { "Container" } th { "Node" } th { "Resource" } th { "State" } th { "Exit Status" } th { "Diagnostics" } th { "Logs" } }
            @for c in containers {
                tr {
                    td { (c.id) } td { (c.node) } td { (c.resource.yarn_notation()) } td { (c.state) } td { (c.exit_status) }
                    td { pre { (c.diagnostics) } }
                    td { a href={ "http://" (c.node_http_address) "/node/containerlogs/" (c.id) "/" (user) } { "logs" } }
                }
            }
        }
    }
}

fn attempts_table(attempts: &[crate::core::Attempt]) -> Markup {
    html! {
        table {
            tr { th { "Attempt" } th { "State" } th { "AM Container" } th { "Node" } th { "Started" } th { "Finished" } th { "Diagnostics" } }
            @for t in attempts {
                tr {
                    td { (t.id) } td { (t.state) } td { (t.am_container.map(|c| c.to_string()).unwrap_or_default()) }
                    td { (t.am_node.as_ref().map(|n| n.to_string()).unwrap_or_default()) } td { (t.started_ms) } td { (t.finished_ms) }
                    td { pre { (t.diagnostics) } }
                }
            }
        }
    }
}

/// An application's page; with ACLs on, a caller (`?user.name=`) without VIEW_APP sees its summary
/// only: no diagnostics, attempts or containers.
pub(super) async fn app(State(rm): Shared, Path(id): Path<String>, user: super::UserName) -> Markup {
    let Ok(app_id) = id.parse::<ApplicationId>() else {
        return page("Bad application id", html! { p { "Invalid ApplicationId: " (id) } });
    };
    let caller = user.caller(&rm);
    let found = rm.with(|core, _| {
        core.app(app_id).ok().map(|a| {
            let full = core.may(a, &caller, crate::core::AccessType::ViewApp);
            let containers = core.app_containers(app_id).unwrap_or_default().into_iter().cloned().collect::<Vec<_>>();
            (a.clone(), if full { containers } else { Vec::new() }, full)
        })
    });
    let Some((app, containers, full)) = found else {
        return page("Application not found", html! { p { "app with id: " (app_id) " not found" } });
    };
    page(
        &format!("Application {app_id}"),
        html! {
            table {
                tr { th { "User" } td { (app.submission.user) } }
                tr { th { "Name" } td { (app.submission.name) } }
                tr { th { "Application Type" } td { (app.submission.application_type) } }
                tr { th { "Queue" } td { (app.submission.queue) } }
                tr { th { "State" } td class=(app.state) { (app.state) } }
                tr { th { "FinalStatus" } td class=(app.final_status) { (app.final_status) } }
                tr { th { "Started" } td { (app.started_ms) } }
                tr { th { "Finished" } td { (app.finished_ms) } }
                tr { th { "AM Resource" } td { (app.submission.am_resource.yarn_notation()) } }
                tr { th { "Aggregate Resource Allocation" } td { (app.memory_seconds) " MB-seconds, " (app.vcore_seconds) " vcore-seconds" } }
                @if full { tr { th { "Diagnostics" } td { pre { (app.diagnostics) } } } }
            }
            @if !full { p { "User " (caller.user) " may not view this application's details." } }
            @if full {
                h2 { "Attempts" }
                (attempts_table(&app.attempts))
                h2 { "Containers" }
                (containers_table(&containers, &app.submission.user))
            }
        },
    )
}

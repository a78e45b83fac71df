//! Pages for people, as YARN's RM web UI has them: the cluster overview (with the last hour's memory,
//! vcores and container kills as charts), nodes, applications, one application's attempts and
//! containers, and the kill feed. Dates, durations and sizes in the units people read, tables that
//! sort by a click, links to each container's logs on its NodeManager. Plain HTML escaped by maud;
//! with ACLs on (`?user.name=`), what a caller may not view is left out.

use axum::extract::{Path, State};
use maud::{html, Markup};
use weft_daemon::pages::{diagnostics, human_duration, human_mb, human_time, line_chart, stacked_bars};
use weft_proto::ApplicationId;

use super::{Shared, UserName};
use crate::core::{App, ClusterMetrics, KillEvent, KillFilter, KillReason, Node, RmContainer, UsageSample, KEEP_MS};

const NAV: &[(&str, &str)] = &[
    ("/cluster", "Cluster"),
    ("/cluster/nodes", "Nodes"),
    ("/cluster/apps", "Applications"),
    ("/cluster/kills", "Container kills"),
    ("/ws/v1/cluster/info", "REST"),
];

/// Kills are counted per five minutes on the overview's chart.
const KILL_BUCKET_MS: u64 = 300_000;

fn page(title: &str, body: Markup) -> Markup {
    weft_daemon::pages::page(title, "ResourceManager", NAV, body)
}

/// A cell that sorts by `key` and shows `text`.
fn sorted(key: impl std::fmt::Display, text: impl std::fmt::Display) -> Markup {
    html! { td class="num" data-sort=(key) { (text) } }
}

fn metrics_table(m: &ClusterMetrics) -> Markup {
    html! {
        table {
            tr { th { "Apps Submitted" } th { "Apps Pending" } th { "Apps Running" } th { "Apps Completed" } th { "Apps Failed" } th { "Apps Killed" }
                 th { "Containers Running" } th { "Memory Used" } th { "Memory Total" } th { "VCores Used" } th { "VCores Total" } th { "Active Nodes" } th { "Lost Nodes" } }
            tr { td { (m.apps_submitted) } td { (m.apps_pending) } td { (m.apps_running) } td { (m.apps_completed) } td { (m.apps_failed) } td { (m.apps_killed) }
                 td { (m.containers_allocated) } td { (human_mb(m.allocated.memory_mb)) } td { (human_mb(m.total.memory_mb)) } td { (m.allocated.vcores) } td { (m.total.vcores) }
                 td { (m.active_nodes) } td { (m.lost_nodes) } }
        }
    }
}

fn nodes_table(nodes: &[Node], now_ms: u64) -> Markup {
    html! {
        table class="sortable" {
            tr { th { "Node Address" } th { "State" } th { "Node HTTP Address" } th { "Containers" } th { "Mem Used" } th { "Mem Avail" } th { "VCores Used" } th { "VCores Avail" } th { "Last Heartbeat" } th { "Kills" } }
            @for n in nodes {
                tr {
                    td { (n.id) } td class=(n.state) { (n.state) } td { a href={ "http://" (n.http_address) "/node" } { (n.http_address) } }
                    td class="num" { (n.containers.len()) }
                    (sorted(n.allocated.memory_mb, human_mb(n.allocated.memory_mb)))
                    (sorted(n.available().memory_mb, human_mb(n.available().memory_mb)))
                    td class="num" { (n.allocated.vcores) } td class="num" { (n.available().vcores) }
                    td data-sort=(n.last_heartbeat_ms) { (human_duration(now_ms.saturating_sub(n.last_heartbeat_ms))) " ago" }
                    td class="num" { (n.kills.values().sum::<u64>()) }
                }
            }
        }
    }
}

/// Where an application's "Tracking UI" link leads: the RM's proxy when its AM gave a URL.
fn tracking(a: &App) -> Markup {
    if a.original_tracking_url().is_empty() {
        html! { span class="muted" { "UNASSIGNED" } }
    } else if a.finished_ms != 0 {
        html! { a href={ "/proxy/" (a.id()) "/" } { "History" } }
    } else {
        html! { a href={ "/proxy/" (a.id()) "/" } { "ApplicationMaster" } }
    }
}

fn apps_table(apps: &[App], now_ms: u64) -> Markup {
    html! {
        table class="sortable" {
            tr { th { "ID" } th { "User" } th { "Name" } th { "Type" } th { "Queue" } th { "Start Time" } th { "Finish Time" } th { "Elapsed" } th { "State" } th { "FinalStatus" } th { "Progress" } th { "Tracking UI" } }
            @for a in apps.iter().rev() {
                @let end = if a.finished_ms == 0 { now_ms } else { a.finished_ms };
                @let elapsed = end.saturating_sub(a.started_ms);
                tr {
                    td { a href={ "/cluster/app/" (a.id()) } { (a.id()) } } td { (a.submission.user) } td { (a.submission.name) }
                    td { (a.submission.application_type) } td { (a.submission.queue) }
                    td class="time" data-sort=(a.started_ms) { (human_time(a.started_ms)) }
                    td class="time" data-sort=(a.finished_ms) { (human_time(a.finished_ms)) }
                    (sorted(elapsed, human_duration(elapsed)))
                    td class=(a.state) { (a.state) } td class=(a.final_status) { (a.final_status) }
                    td class="num" { (format!("{:.0}%", a.progress)) } td { (tracking(a)) }
                }
            }
        }
    }
}

/// The last hour's memory and vcores in use against the total, and kills per five minutes.
fn charts(history: &[UsageSample], kills: &[(u64, Vec<u64>)], now_ms: u64) -> Markup {
    let window = (now_ms.saturating_sub(KEEP_MS), now_ms);
    let series = |f: fn(&UsageSample) -> f64| history.iter().map(|s| (s.at_ms, f(s))).collect::<Vec<_>>();
    let memory_max = history.iter().map(|s| s.total.memory_mb).max().unwrap_or(0) as f64;
    let vcores_max = history.iter().map(|s| s.total.vcores).max().unwrap_or(0) as f64;
    let reasons: Vec<(&str, &str)> = KillReason::ALL.iter().map(|r| (r.as_str(), reason_color(*r))).collect();
    // The legend names the reasons that happened in the hour (all of them when none did).
    let seen: Vec<usize> = (0..reasons.len()).filter(|&i| kills.iter().any(|(_, counts)| counts[i] > 0)).collect();
    let shown: Vec<usize> = if seen.is_empty() { (0..reasons.len()).collect() } else { seen };
    let reasons: Vec<(&str, &str)> = shown.iter().map(|&i| reasons[i]).collect();
    let kills: Vec<(u64, Vec<u64>)> =
        kills.iter().map(|(start, counts)| (*start, shown.iter().map(|&i| counts[i]).collect())).collect();
    html! {
        h2 { "The last hour" }
        (line_chart(
            "Memory",
            &[("used", "#c60", series(|s| s.allocated.memory_mb as f64)), ("total", "#07c", series(|s| s.total.memory_mb as f64))],
            window,
            memory_max,
            |v| human_mb(v as i64),
        ))
        (line_chart(
            "VCores",
            &[("used", "#c60", series(|s| f64::from(s.allocated.vcores))), ("total", "#07c", series(|s| f64::from(s.total.vcores)))],
            window,
            vcores_max,
            |v| format!("{v:.0}"),
        ))
        (stacked_bars("Container kills per 5 minutes, by reason", &reasons, &kills, KILL_BUCKET_MS))
    }
}

fn reason_color(reason: KillReason) -> &'static str {
    match reason {
        KillReason::PhysicalMemory => "#b00",
        KillReason::VirtualMemory => "#e67",
        KillReason::KernelOom => "#700",
        KillReason::Preempted => "#07c",
        KillReason::Aborted => "#888",
        _ => "#c90",
    }
}

pub(super) async fn overview(State(rm): Shared) -> Markup {
    let (m, nodes, apps, history, kills, now) = rm.with(|core, now| {
        (
            core.metrics(),
            core.nodes().cloned().collect::<Vec<_>>(),
            core.apps(&Default::default()).into_iter().cloned().collect::<Vec<_>>(),
            core.usage_history(),
            core.kills_per_interval(now, KILL_BUCKET_MS),
            now,
        )
    });
    page(
        "Cluster",
        html! {
            p { "Cluster " (rm.info.cluster_id) ", started " (human_time(rm.info.cluster_timestamp)) ", version " (rm.info.version) }
            h2 { "Cluster Metrics" } (metrics_table(&m))
            (charts(&history, &kills, now))
            h2 { "Nodes" } (nodes_table(&nodes, now))
            h2 { "Applications" } (apps_table(&apps, now))
        },
    )
}

pub(super) async fn nodes(State(rm): Shared) -> Markup {
    let (nodes, now) = rm.with(|core, now| (core.nodes().cloned().collect::<Vec<_>>(), now));
    page("Nodes of the cluster", nodes_table(&nodes, now))
}

pub(super) async fn apps(State(rm): Shared) -> Markup {
    let (apps, now) =
        rm.with(|core, now| (core.apps(&Default::default()).into_iter().cloned().collect::<Vec<_>>(), now));
    page("All Applications", apps_table(&apps, now))
}

/// Links to a container's logs on its NodeManager: every file, and stderr directly.
fn log_links(node_http: &str, container: impl std::fmt::Display, user: &str) -> Markup {
    let base = format!("http://{node_http}/node/containerlogs/{container}/{user}");
    html! { a href=(base) { "logs" } " " a href={ (base) "/stderr" } { "stderr" } }
}

fn containers_table(containers: &[RmContainer], user: &str) -> Markup {
    html! {
        table class="sortable" {
            tr { th { "Container" } th { "Node" } th { "Resource" } th { "State" } th { "Exit Status" } th { "Started" } th { "Finished" } th { "Diagnostics" } th { "Logs" } }
            @for c in containers {
                tr {
                    td { (c.id) } td { (c.node) } td { (c.resource.yarn_notation()) } td class=(c.state) { (c.state) } td class="num" { (c.exit_status) }
                    td class="time" data-sort=(c.created_ms) { (human_time(c.created_ms)) } td class="time" data-sort=(c.finished_ms) { (human_time(c.finished_ms)) }
                    td { (diagnostics(&c.diagnostics)) }
                    td { (log_links(&c.node_http_address, c.id, user)) }
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
                    td { (t.am_node.as_ref().map(|n| n.to_string()).unwrap_or_default()) } td { (human_time(t.started_ms)) } td { (human_time(t.finished_ms)) }
                    td { (diagnostics(&t.diagnostics)) }
                }
            }
        }
    }
}

/// An application's page; with ACLs on, a caller (`?user.name=`) without VIEW_APP sees its summary
/// only: no diagnostics, attempts or containers.
pub(super) async fn app(State(rm): Shared, Path(id): Path<String>, user: UserName) -> Markup {
    let Ok(app_id) = id.parse::<ApplicationId>() else {
        return page("Bad application id", html! { p { "Invalid ApplicationId: " (id) } });
    };
    let caller = user.caller(&rm);
    let found = rm.with(|core, now| {
        core.app(app_id).ok().map(|a| {
            let full = core.may(a, &caller, crate::core::AccessType::ViewApp);
            let containers = core.app_containers(app_id).unwrap_or_default().into_iter().cloned().collect::<Vec<_>>();
            (a.clone(), if full { containers } else { Vec::new() }, full, now)
        })
    });
    let Some((app, containers, full, now)) = found else {
        return page("Application not found", html! { p { "app with id: " (app_id) " not found" } });
    };
    let end = if app.finished_ms == 0 { now } else { app.finished_ms };
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
                tr { th { "Started" } td { (human_time(app.started_ms)) } }
                tr { th { "Finished" } td { (human_time(app.finished_ms)) } }
                tr { th { "Elapsed" } td { (human_duration(end.saturating_sub(app.started_ms))) } }
                tr { th { "Tracking URL" } td { (tracking(&app)) } }
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

/// A kill as the feed page shows it: the event, its node's web address, its application's user.
struct KillRow {
    kill: KillEvent,
    node_http: String,
    user: String,
}

fn kills_table(rows: &[KillRow]) -> Markup {
    html! {
        table class="sortable" {
            tr { th { "Time" } th { "Application" } th { "Container" } th { "Node" } th { "Reason" } th { "Exit Status" } th { "Peak Memory" } th { "Memory Limit" } th { "Logs" } th { "Diagnostics" } }
            @for r in rows {
                @let k = &r.kill;
                tr {
                    td class="time" data-sort=(k.at_ms) { (human_time(k.at_ms)) }
                    td { a href={ "/cluster/app/" (k.container.application()) } { (k.container.application()) } }
                    td { (k.container) } td { (k.node) } td class="kill" { (k.reason.as_str()) } td class="num" { (k.exit_status) }
                    (sorted(k.usage.peak_physical_bytes, weft_daemon::pages::human_bytes(k.usage.peak_physical_bytes)))
                    (sorted(k.usage.physical_limit_bytes, weft_daemon::pages::human_bytes(k.usage.physical_limit_bytes)))
                    td { @if r.node_http.is_empty() { span class="muted" { "node gone" } } @else { (log_links(&r.node_http, k.container, &r.user)) } }
                    td { (diagnostics(&k.diagnostics)) }
                }
            }
        }
    }
}

/// `/cluster/kills`: every container the cluster killed, newest first, with why and its logs.
pub(super) async fn kills(State(rm): Shared, user: UserName) -> Markup {
    let caller = user.caller(&rm);
    let rows: Vec<KillRow> = rm.with(|core, _| {
        core.kills(&KillFilter::default())
            .into_iter()
            .filter(|k| core.may_view(k.container.application(), &caller))
            .map(|k| KillRow {
                kill: k.clone(),
                node_http: core.node(&k.node).map(|n| n.http_address.to_string()).unwrap_or_default(),
                user: core.app(k.container.application()).map(|a| a.submission.user.clone()).unwrap_or_default(),
            })
            .collect()
    });
    page(
        "Container kills",
        html! {
            p { "Containers the cluster ended (memory limits, preemption, lost nodes, kills), newest first; the same feed as " a href="/ws/v1/cluster/containers/kills" { "/ws/v1/cluster/containers/kills" } "." }
            @if rows.is_empty() { p class="muted" { "No container has been killed." } } @else { (kills_table(&rows)) }
        },
    )
}

//! Pages for people, as YARN's NM web UI has them: the node, its containers with their memory use
//! against their limits, and each container's log files. Dates, durations and sizes in the units
//! people read, tables that sort by a click (the frame is `weft_daemon::pages`). Plain HTML, escaped
//! by maud.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use maud::{html, Markup};
use weft_daemon::pages::{diagnostics, human_bytes, human_mb, human_time};

use super::error::RestError;
use super::{dto, logs, Shared};
use crate::container::Container;
use crate::nm::Nm;

const NAV: &[(&str, &str)] =
    &[("/node", "Node"), ("/node/containers", "Containers"), ("/ws/v1/node/info", "REST"), ("/metrics", "Metrics")];

/// How much of a log file a page shows; the REST path serves the whole file.
const PAGE_TAIL_BYTES: u64 = 4 * 1024 * 1024;

fn page(title: &str, body: Markup) -> Markup {
    weft_daemon::pages::page(title, "NodeManager", NAV, body)
}

fn error_page(error: RestError) -> Response {
    let status = error.status();
    (status, page(status.canonical_reason().unwrap_or("Error"), html! { p { (error.message()) } })).into_response()
}

/// Memory in use (peak) against the limit, as `412 MB (peak 498 MB) of 1 GB`.
fn memory_use(c: &Container) -> Markup {
    let limit = c.limits.pmem_bytes as i64;
    html! {
        td class="num" data-sort=(c.peak.pmem_bytes) {
            (human_bytes(c.usage.pmem_bytes as i64)) " (peak " (human_bytes(c.peak.pmem_bytes as i64)) ") of " (human_bytes(limit))
        }
    }
}

fn containers_table(nm: &Nm, containers: &[Container]) -> Markup {
    html! {
        table class="sortable" {
            tr { th { "Container" } th { "Application" } th { "User" } th { "State" } th { "Exit Code" } th { "Memory" } th { "Memory Used" } th { "VCores" } th { "Accepted" } th { "Finished" } th { "Diagnostics" } }
            @for c in containers.iter().rev() {
                tr {
                    td { a href=(dto::container_logs_link(&nm.info, c)) { (c.spec.id) } }
                    td { (c.spec.id.application()) } td { (c.spec.user) } td class=(c.state) { (c.state) }
                    td class="num" { (c.exit_status) } td class="num" data-sort=(c.spec.resource.memory_mb) { (human_mb(c.spec.resource.memory_mb)) }
                    (memory_use(c))
                    td class="num" { (c.spec.resource.vcores) }
                    td class="time" data-sort=(c.created_ms) { (human_time(c.created_ms)) }
                    td class="time" data-sort=(c.finished_ms.unwrap_or(0)) { (human_time(c.finished_ms.unwrap_or(0))) }
                    td { (diagnostics(&c.diagnostics())) }
                }
            }
        }
    }
}

pub(super) async fn overview(State(nm): Shared) -> Markup {
    let (containers, allocated) = nm.read(|core| (core.containers().cloned().collect::<Vec<_>>(), core.allocated()));
    let info = &nm.info;
    page(
        &format!("Node {}", info.node_id),
        html! {
            table {
                tr { th { "Node Id" } td { (info.node_id) } }
                tr { th { "HTTP Address" } td { (info.http_address) } }
                tr { th { "Memory for Containers" } td { (human_mb(info.total.memory_mb)) " (" (human_mb(allocated.memory_mb)) " allocated)" } }
                tr { th { "VCores for Containers" } td { (info.total.vcores) " (" (allocated.vcores) " allocated)" } }
                tr { th { "Last Heartbeat Answered" } td { (human_time(nm.last_heartbeat_ms())) } }
                tr { th { "Version" } td { (info.version) } }
            }
            h2 { "Containers" }
            (containers_table(&nm, &containers))
        },
    )
}

pub(super) async fn containers(State(nm): Shared) -> Markup {
    let containers: Vec<Container> = nm.read(|core| core.containers().cloned().collect());
    page("Containers", containers_table(&nm, &containers))
}

pub(super) async fn log_list(
    State(nm): Shared,
    Path((raw, user)): Path<(String, String)>,
    Query(as_user): Query<logs::AsUser>,
) -> Response {
    let id = match logs::parse_container_id(&raw).and_then(|id| logs::authorize(&nm, id, &as_user).map(|()| id)) {
        Ok(id) => id,
        Err(error) => return error_page(error),
    };
    let query = as_user.query();
    let files = logs::log_files(&nm.layout, id).await;
    if files.is_empty() {
        return error_page(RestError::not_found(format!("no logs of {id} on this node")));
    }
    page(
        &format!("Logs of {id}"),
        html! {
            ul {
                @for f in &files {
                    li { a href={ "/node/containerlogs/" (id) "/" (user) "/" (f) (query) } { (f) } " "
                         a href={ "/ws/v1/node/containerlogs/" (id) "/" (f) (query) } { "(raw)" } }
                }
            }
        },
    )
    .into_response()
}

pub(super) async fn log_file(
    State(nm): Shared,
    Path((raw, user, file)): Path<(String, String, String)>,
    Query(as_user): Query<logs::AsUser>,
) -> Response {
    let id = match logs::parse_container_id(&raw).and_then(|id| logs::authorize(&nm, id, &as_user).map(|()| id)) {
        Ok(id) => id,
        Err(error) => return error_page(error),
    };
    let query = as_user.query();
    match logs::tail(&nm.layout, id, &file, PAGE_TAIL_BYTES).await {
        Ok((text, cut)) => page(
            &format!("{file} of {id}"),
            html! {
                p { a href={ "/node/containerlogs/" (id) "/" (user) (query) } { "All logs of " (id) } }
                @if cut { p { "Showing the last " (PAGE_TAIL_BYTES) " bytes; " a href={ "/ws/v1/node/containerlogs/" (id) "/" (file) (query) } { "the whole file" } "." } }
                pre { (text) }
            },
        )
        .into_response(),
        Err(error) => error_page(error),
    }
}

//! Pages for people, as YARN's NM web UI has them: the node, its containers, and each container's
//! log files. Plain HTML, escaped by maud.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use maud::{html, Markup, DOCTYPE};

use super::error::RestError;
use super::{dto, logs, Shared};
use crate::container::{timestamp, Container};
use crate::nm::Nm;

const STYLE: &str = "body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse;margin:.5em 0 1.5em}\
td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left;font-size:.9em;vertical-align:top}th{background:#eef}\
nav a{margin-right:1em}.EXITED_WITH_FAILURE,.LOCALIZATION_FAILED,.KILLING,.CONTAINER_CLEANEDUP_AFTER_KILL{color:#b00}\
.RUNNING,.EXITED_WITH_SUCCESS{color:#070}pre{white-space:pre-wrap}";

/// How much of a log file a page shows; the REST path serves the whole file.
const PAGE_TAIL_BYTES: u64 = 4 * 1024 * 1024;

fn page(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html {
            head { meta charset="utf-8"; title { (title) " - Weft NodeManager" } style { (STYLE) } }
            body {
                nav { a href="/node" { "Node" } a href="/node/containers" { "Containers" } a href="/ws/v1/node/info" { "REST" } a href="/metrics" { "Metrics" } }
                h1 { (title) }
                (body)
            }
        }
    }
}

fn error_page(error: RestError) -> Response {
    let status = error.status();
    (status, page(status.canonical_reason().unwrap_or("Error"), html! { p { (error.message()) } })).into_response()
}

fn containers_table(nm: &Nm, containers: &[Container]) -> Markup {
    html! {
        table {
            tr { th { "Container" } th { "Application" } th { "User" } th { "State" } th { "Exit Code" } th { "Memory" } th { "VCores" } th { "Accepted" } th { "Finished" } th { "Diagnostics" } }
            @for c in containers.iter().rev() {
                tr {
                    td { a href=(dto::container_logs_link(&nm.info, c)) { (c.spec.id) } }
                    td { (c.spec.id.application()) } td { (c.spec.user) } td class=(c.state) { (c.state) }
                    td { (c.exit_status) } td { (c.spec.resource.memory_mb) " MB" } td { (c.spec.resource.vcores) }
                    td { (timestamp(c.created_ms)) } td { (c.finished_ms.map(timestamp).unwrap_or_default()) }
                    td { pre { (c.diagnostics()) } }
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
                tr { th { "Memory for Containers" } td { (info.total.memory_mb) " MB (" (allocated.memory_mb) " MB allocated)" } }
                tr { th { "VCores for Containers" } td { (info.total.vcores) " (" (allocated.vcores) " allocated)" } }
                tr { th { "Last Heartbeat Answered" } td { (timestamp(nm.last_heartbeat_ms())) } }
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

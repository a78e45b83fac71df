//! Prometheus metrics at `/metrics`, sampled from the core at scrape time.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::Shared;
use crate::staging::StagingStore;

fn gauge(registry: &mut Registry, name: &str, help: &str, value: i64) {
    let g: Gauge = Gauge::default();
    g.set(value);
    registry.register(name, help, g);
}

pub(super) async fn render(State(rm): Shared, Extension(staging): Extension<StagingStore>) -> Response {
    let m = rm.with(|core, _| core.metrics());
    let staging = match tokio::task::spawn_blocking(move || staging.usage()).await {
        Ok(Ok(usage)) => usage,
        Ok(Err(e)) => {
            let message = format!("reading the staging store: {e}");
            return (axum::http::StatusCode::INTERNAL_SERVER_ERROR, message).into_response();
        }
        Err(e) => return (axum::http::StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    };
    let mut registry = Registry::with_prefix("weft_rm");
    gauge(&mut registry, "apps_submitted", "Applications submitted and still tracked", m.apps_submitted as i64);
    gauge(&mut registry, "apps_pending", "Applications waiting for their AM", m.apps_pending as i64);
    gauge(&mut registry, "apps_running", "Applications running", m.apps_running as i64);
    gauge(&mut registry, "apps_completed", "Applications finished", m.apps_completed as i64);
    gauge(&mut registry, "apps_failed", "Applications failed", m.apps_failed as i64);
    gauge(&mut registry, "apps_killed", "Applications killed", m.apps_killed as i64);
    gauge(&mut registry, "memory_total_mb", "Memory offered by running nodes (MB)", m.total.memory_mb);
    gauge(&mut registry, "memory_allocated_mb", "Memory held by containers (MB)", m.allocated.memory_mb);
    gauge(&mut registry, "vcores_total", "Vcores offered by running nodes", m.total.vcores as i64);
    gauge(&mut registry, "vcores_allocated", "Vcores held by containers", m.allocated.vcores as i64);
    gauge(
        &mut registry,
        "containers_allocated",
        "Containers allocated and not complete",
        m.containers_allocated as i64,
    );
    gauge(&mut registry, "containers_pending", "Containers asked for and not granted", m.containers_pending);
    gauge(&mut registry, "nodes_active", "Nodes NEW or RUNNING", m.active_nodes as i64);
    gauge(&mut registry, "nodes_lost", "Nodes LOST", m.lost_nodes as i64);
    gauge(&mut registry, "staging_blobs", "Files in the staging store", staging.blobs as i64);
    gauge(&mut registry, "staging_bytes", "Bytes in the staging store", staging.bytes as i64);
    gauge(
        &mut registry,
        "staging_removed_blobs",
        "Staged files removed because no running application used them, since start",
        staging.removed_blobs as i64,
    );
    gauge(
        &mut registry,
        "staging_removed_bytes",
        "Bytes of staged files removed because no running application used them, since start",
        staging.removed_bytes as i64,
    );
    let kills = Family::<Vec<(String, String)>, Gauge>::default();
    for (reason, count) in &m.kills {
        kills.get_or_create(&vec![("reason".to_owned(), reason.as_str().to_owned())]).set(*count as i64);
    }
    registry.register("container_kills", "Containers ended by a kill, by reason", kills);
    let mut text = String::new();
    if let Err(e) = encode(&mut text, &registry) {
        return (axum::http::StatusCode::INTERNAL_SERVER_ERROR, format!("encoding metrics: {e}")).into_response();
    }
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], text).into_response()
}

//! The driver's web port (`spark.ui.port`, 4040): Spark's monitoring REST API at `/api/v1` (`api.rs`),
//! pages for people at `/jobs/`, `/stages/` and `/executors/` (`pages.rs`), and Prometheus metrics at `/metrics`, sampled at scrape time from the per-stage figures the scheduler keeps — spills, shuffle bytes and the skew of each
//! stage's output — so a dashboard sees what a job did without reading the driver's log. The port is
//! taken as Spark takes it: the configured one, else the next of `spark.port.maxRetries` ports; if none
//! is free the driver says so and runs without it (Spark would fail the application).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

mod api;
mod pages;

use super::backend::Shared;
use super::conf::UiSettings;
use super::dag::metrics::StageMetrics;

/// Binds the web port on `host` and serves it; the URL it is reachable at, or `None` when the UI is
/// off or no port was free.
pub(crate) async fn start(ui: &UiSettings, host: &str, shared: Arc<Shared>) -> Result<Option<String>, String> {
    if !ui.enabled {
        return Ok(None);
    }
    let (first, retries) = (ui.port, ui.port_max_retries);
    let mut listener = None;
    for attempt in 0..=retries {
        let port = if first == 0 { 0 } else { first.saturating_add(attempt) };
        match tokio::net::TcpListener::bind((host, port)).await {
            Ok(bound) => {
                listener = Some(bound);
                break;
            }
            Err(e) => {
                tracing::warn!("Service 'SparkUI' could not bind on port {port}: {e}. Attempting port {}.", port + 1)
            }
        }
    }
    let Some(listener) = listener else {
        tracing::warn!(
            "Service 'SparkUI' found no free port in {first}..={}; the driver runs without its web port",
            first.saturating_add(retries)
        );
        return Ok(None);
    };
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    tracing::info!("Successfully started service 'SparkUI' on port {port}.");
    let url = format!("http://{host}:{port}");
    tracing::info!("Bound SparkUI to {host}, and started at {url}");
    let app = api::routes().merge(pages::routes()).route("/metrics", get(metrics)).with_state(shared);
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!("the driver's web port stopped: {e}");
        }
    });
    Ok(Some(url))
}

async fn metrics(State(shared): State<Arc<Shared>>) -> Response {
    let stages = shared.stage_metrics.lock().expect("stage metrics lock").snapshot();
    match render(&stages) {
        Ok(text) => ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], text)
            .into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("encoding metrics: {e}")).into_response(),
    }
}

type Stages = Family<Vec<(String, String)>, Gauge>;
/// A series: its name, its help text, and how to read it off a stage.
type Series = (&'static str, &'static str, fn(&StageMetrics) -> u64);

/// The OpenMetrics text of the stages' figures, one series per stage (labels `stage`, `name`).
fn render(stages: &[StageMetrics]) -> Result<String, std::fmt::Error> {
    let mut registry = Registry::with_prefix("weft_spark_stage");
    let series: [Series; 8] = [
        ("tasks", "Successful tasks of the stage", |s| s.tasks),
        ("run_time_ms", "Executor run time of its successful tasks (ms)", |s| s.executor_run_time_ms),
        ("memory_bytes_spilled", "Bytes spilled, as estimated in memory (Spark's memoryBytesSpilled)", |s| {
            s.memory_bytes_spilled
        }),
        ("disk_bytes_spilled", "Bytes spilled, as written to disk (Spark's diskBytesSpilled)", |s| {
            s.disk_bytes_spilled
        }),
        ("shuffle_read_bytes", "Shuffle bytes read", |s| s.shuffle_read_bytes),
        ("shuffle_write_bytes", "Shuffle bytes written", |s| s.shuffle_write_bytes),
        ("largest_partition_bytes", "A shuffle map stage's largest reduce partition (bytes)", |s| {
            s.largest_partition_bytes
        }),
        ("median_partition_bytes", "A shuffle map stage's median reduce partition (bytes)", |s| {
            s.median_partition_bytes
        }),
    ];
    for (name, help, value) in series {
        let family = Stages::default();
        for stage in stages {
            let labels =
                vec![("stage".to_owned(), stage.stage_id.to_string()), ("name".to_owned(), stage.name.clone())];
            family.get_or_create(&labels).set(i64::try_from(value(stage)).unwrap_or(i64::MAX));
        }
        registry.register(name, help, family);
    }
    let mut text = String::new();
    encode(&mut text, &registry)?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stage_is_a_labelled_series() {
        let stage = StageMetrics {
            stage_id: 1,
            name: "groupByKey at app.rs:12".into(),
            completed: true,
            tasks: 8,
            executor_run_time_ms: 900,
            memory_bytes_spilled: 5 << 20,
            disk_bytes_spilled: 1 << 20,
            shuffle_read_bytes: 0,
            shuffle_write_bytes: 40 << 20,
            largest_partition_bytes: 12 << 20,
            median_partition_bytes: 4 << 20,
            shuffle_partition_bytes: 40 << 20,
            shuffle_partitions: 8,
        };
        let text = render(&[stage]).unwrap();
        assert!(
            text.contains(
                "weft_spark_stage_memory_bytes_spilled{stage=\"1\",name=\"groupByKey at app.rs:12\"} 5242880"
            ),
            "{text}"
        );
        assert!(text.contains(
            "weft_spark_stage_largest_partition_bytes{stage=\"1\",name=\"groupByKey at app.rs:12\"} 12582912"
        ));
        assert!(text.contains("# HELP weft_spark_stage_disk_bytes_spilled"), "{text}");
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}

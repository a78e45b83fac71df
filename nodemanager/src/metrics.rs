//! Prometheus metrics (prometheus-client): container counters bumped where the events happen, and
//! gauges sampled from the core when `/metrics` is scraped.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use weft_proto::Resource;

use crate::container::KillReason;

type Labels = Vec<(String, String)>;

/// The NodeManager's metrics; counters are shared handles, so bumping needs no lock.
pub(crate) struct Metrics {
    registry: Registry,
    launched: Counter,
    completed: Counter,
    failed: Counter,
    killed: Family<Labels, Counter>,
    running: Gauge,
    allocated_memory_mb: Gauge,
    allocated_vcores: Gauge,
}

fn gauge(registry: &mut Registry, name: &str, help: &str) -> Gauge {
    let g = Gauge::default();
    registry.register(name, help, g.clone());
    g
}

fn counter(registry: &mut Registry, name: &str, help: &str) -> Counter {
    let c = Counter::default();
    registry.register(name, help, c.clone());
    c
}

impl Metrics {
    pub(crate) fn new(total: Resource) -> Metrics {
        let mut registry = Registry::with_prefix("weft_nm");
        let launched = counter(&mut registry, "containers_launched", "Container processes started");
        let completed = counter(&mut registry, "containers_completed", "Containers that reached DONE");
        let failed = counter(
            &mut registry,
            "containers_failed",
            "Containers that failed: non-zero exit, launch or localization failure",
        );
        let killed = Family::<Labels, Counter>::default();
        registry.register("containers_killed", "Containers stopped on request, by reason", killed.clone());
        for reason in KillReason::ALL {
            drop(killed.get_or_create(&label(reason)));
        }
        let running = gauge(&mut registry, "containers_running", "Containers not yet DONE");
        let allocated_memory_mb = gauge(&mut registry, "memory_allocated_mb", "Memory held by live containers (MB)");
        let allocated_vcores = gauge(&mut registry, "vcores_allocated", "Vcores held by live containers");
        gauge(&mut registry, "memory_total_mb", "Memory this node offers to containers (MB)").set(total.memory_mb);
        gauge(&mut registry, "vcores_total", "Vcores this node offers to containers").set(i64::from(total.vcores));
        Metrics { registry, launched, completed, failed, killed, running, allocated_memory_mb, allocated_vcores }
    }

    pub(crate) fn launched(&self) {
        self.launched.inc();
    }

    /// A container reached DONE: killed with `kill`, or failed when `failed`.
    pub(crate) fn completed(&self, kill: Option<KillReason>, failed: bool) {
        self.completed.inc();
        match kill {
            Some(reason) => {
                self.killed.get_or_create(&label(reason)).inc();
            }
            None if failed => {
                self.failed.inc();
            }
            None => {}
        }
    }

    /// The text exposition, with the gauges set to the given values.
    pub(crate) fn render(&self, running: usize, allocated: Resource) -> Result<String, std::fmt::Error> {
        self.running.set(running as i64);
        self.allocated_memory_mb.set(allocated.memory_mb);
        self.allocated_vcores.set(i64::from(allocated.vcores));
        let mut text = String::new();
        encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

fn label(reason: KillReason) -> Labels {
    vec![("reason".to_owned(), reason.as_str().to_owned())]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_and_gauges_render_as_prometheus_text() {
        let m = Metrics::new(Resource::new(8192, 8));
        m.launched();
        m.completed(Some(KillReason::ByAppMaster), true);
        m.completed(None, true);
        let text = m.render(2, Resource::new(2048, 2)).unwrap();
        for line in [
            "weft_nm_containers_launched_total 1",
            "weft_nm_containers_completed_total 2",
            "weft_nm_containers_failed_total 1",
            "weft_nm_containers_killed_total{reason=\"by_appmaster\"} 1",
            "weft_nm_containers_running 2",
            "weft_nm_memory_allocated_mb 2048",
            "weft_nm_memory_total_mb 8192",
            "weft_nm_vcores_total 8",
        ] {
            assert!(text.contains(line), "{line} missing from:\n{text}");
        }
    }
}

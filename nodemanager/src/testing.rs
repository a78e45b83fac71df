//! Test support: a NodeManager handle over temp directories (no listeners, no ResourceManager),
//! start requests, and waiting for a condition with a deadline.

use std::sync::Arc;
use std::time::Duration;

use weft_proto::{ContainerId, NodeId, Resource};

use crate::cgroups::CgroupsStatus;
use crate::container::{Container, LaunchSpec};
use crate::dirs::Layout;
use crate::grpc::staging::Staging;
use crate::launcher::NodeEnv;
use crate::localizer::Localizer;
use crate::monitor::Checks;
use crate::nm::{Enforcement, Nm, NmParts, NodeInfo};

pub(crate) const DEADLINE: Duration = Duration::from_secs(20);

/// Enforcement without cgroups, YARN's checks and ratio, a 3 s monitor interval.
pub(crate) fn no_cgroups() -> Enforcement {
    let reason = "turned off by weft.nodemanager.cgroups.enabled".to_owned();
    Enforcement {
        monitor_interval: Duration::from_millis(3000),
        checks: Checks { pmem: true, vmem: true },
        vmem_ratio: 2.1,
        cgroups: Err(reason.clone()),
        cgroups_status: CgroupsStatus { enabled: false, version: None, hierarchy: "hadoop-yarn".into(), reason },
    }
}

/// An `Nm` whose directories live in `dir`; the staging address is never dialled by these tests.
pub(crate) fn nm(dir: &std::path::Path, sigkill_delay: Duration) -> Arc<Nm> {
    nm_with(dir, sigkill_delay, no_cgroups())
}

/// An `Nm` with the given enforcement.
pub(crate) fn nm_with(dir: &std::path::Path, sigkill_delay: Duration, enforcement: Enforcement) -> Arc<Nm> {
    let layout = Layout::new(vec![dir.join("local")], vec![dir.join("logs")]).unwrap();
    let staging = Staging::new("127.0.0.1:9").unwrap();
    let localizer = Localizer::open(layout.filecache(), staging).unwrap();
    let url_cache = crate::hadoop_localize::UrlCache::open(layout.local_root().clone(), 1 << 30).unwrap();
    let env = NodeEnv {
        path: std::env::var("PATH").ok(),
        lang: None,
        java_home: None,
        host: "127.0.0.1".into(),
        rpc_port: 8041,
        http_port: 8042,
    };
    let info = NodeInfo {
        node_id: NodeId::new("127.0.0.1", 8041),
        http_address: "127.0.0.1:8042".into(),
        total: Resource::new(8192, 8),
        version: "test",
        env,
        default_user: "nm".into(),
    };
    Nm::new(NmParts {
        info,
        layout,
        localizer,
        url_cache,
        sigkill_delay,
        max_completed: 100,
        enforcement,
        // These tests run binaries of the checkout, which another user may not reach.
        executor: crate::run_as::Executor::NodeManagerUser,
        acls: weft_daemon::acl::AclPolicy::disabled(),
        recovery: None,
    })
}

pub(crate) fn container_id(n: u64) -> ContainerId {
    format!("container_1700000000000_0001_01_{n:06}").parse().unwrap()
}

pub(crate) fn spec(n: u64, command: &[&str]) -> LaunchSpec {
    LaunchSpec {
        id: container_id(n),
        user: "alice".into(),
        command: command.iter().map(|s| s.to_string()).collect(),
        environment: Vec::new(),
        local_resources: Vec::new(),
        resource: Resource::new(1024, 1),
        hadoop: None,
        container_token: Default::default(),
        acls: Default::default(),
    }
}

/// Polls `condition` every 10 ms until it holds, or panics after `DEADLINE`.
pub(crate) async fn wait_for<T>(what: &str, mut condition: impl FnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        if let Some(value) = condition() {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out after {DEADLINE:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits until the container is DONE and returns it.
pub(crate) async fn done(nm: &Nm, id: ContainerId) -> Container {
    wait_for(&format!("{id} to be DONE"), || nm.read(|core| core.container(&id).filter(|c| !c.is_live()).cloned()))
        .await
}

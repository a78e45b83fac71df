//! Issue 16, end to end: daemons restarted under running work (YARN's work-preserving restart).
//! The ResourceManager with `yarn.resourcemanager.recovery.enabled`: its applications, attempts and
//! keys come back from the state store, the NodeManagers re-register with the containers they kept
//! running, the application masters register again, and the job finishes as if nothing happened.

use std::path::Path;
use std::time::Duration;

use weft_tests::procs::{self, app_container_prefix};
use weft_tests::{data_dir, wait_for, Cluster, ClusterOptions};

const APP_TIMEOUT: Duration = Duration::from_secs(90);

/// A shell app of three containers that each wait for `go` in `dir`, then print `done`.
fn start_waiting_app(cluster: &Cluster, dir: &Path) -> (std::process::Child, String) {
    let script = format!("while [ ! -e {}/go ]; do sleep 0.1; done; echo done", dir.display());
    let child = cluster
        .weft_command(&["shell", "--num-containers", "3", "--container-memory", "512m", "--", "sh", "-c", &script])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let id = wait_for("the app to be submitted", APP_TIMEOUT, || cluster.latest_app_id());
    let prefix = app_container_prefix(&id);
    // The AM and three containers, each a shell.
    wait_for("every container to start", APP_TIMEOUT, || (cluster.container_pids(&prefix).len() >= 4).then_some(()));
    (child, id)
}

fn recovering_cluster() -> Cluster {
    Cluster::start(ClusterOptions {
        rm_yaml: "yarn.resourcemanager.recovery.enabled: true\n\
                  yarn.resourcemanager.connect.retry-interval.ms: 200\n"
            .into(),
        ..Default::default()
    })
}

#[test]
fn a_resource_manager_restart_keeps_running_containers_and_the_application_succeeds() {
    let mut cluster = recovering_cluster();
    let data = data_dir();
    let (client, id) = start_waiting_app(&cluster, data.path());
    let pids = lasting_pids(&cluster, &id);
    assert!(pids.len() >= 4, "{pids:?}");
    let (_, before) = cluster.get(&format!("/ws/v1/cluster/apps/{id}"));
    assert_eq!(before["app"]["state"], "RUNNING");

    let stopped_at = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let lines = cluster.log_lines();
    cluster.stop_rm();
    // Nothing was killed while the ResourceManager was away (long enough for every node to miss it).
    cluster.wait_nodes_miss_rm(&lines);
    assert!(pids.iter().all(|&p| procs::alive(p)), "containers died with the ResourceManager");
    cluster.start_rm_again();

    // The application is known again, with its one attempt; its master registers again.
    // Its master registers again and the NodeManagers report its four containers (in either order).
    wait_for("the AM and its three containers to be running again", APP_TIMEOUT, || {
        let app = cluster.app(&id);
        (app["state"] == "RUNNING" && app["runningContainers"] == 4).then_some(())
    });
    let (_, attempts) = cluster.get(&format!("/ws/v1/cluster/apps/{id}/appattempts"));
    assert_eq!(attempts["appAttempts"]["appAttempt"].as_array().map(Vec::len), Some(1), "{attempts}");
    // The nodes' use is rebuilt from what they hold: the AM's 1 GiB and three of 512 MiB rounded up.
    let (_, metrics) = cluster.get("/ws/v1/cluster/metrics");
    assert_eq!(metrics["clusterMetrics"]["allocatedMB"], 4096, "{metrics}");
    assert!(pids.iter().all(|&p| procs::alive(p)), "the same processes still run");
    // Taken back with their age: started before the restart, as the NodeManagers said.
    for c in cluster_containers(&cluster, &id) {
        assert!(c["startedTime"].as_i64().unwrap() < stopped_at, "{c}");
    }

    std::fs::write(data.path().join("go"), "").unwrap();
    let out = client.wait_with_output().unwrap();
    let printed = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "weft shell waited through the restart: {printed}");
    let app = cluster.wait_app_state(&id, &["FINISHED"], APP_TIMEOUT);
    assert_eq!(app["finalStatus"], "SUCCEEDED", "{app}");
    for c in cluster_containers(&cluster, &id) {
        assert_eq!(c["containerExitStatus"], 0, "no container was lost or killed: {c}");
    }

    // A new application after the restart: its containers carry the epoch.
    let run = cluster.weft(&["shell", "--num-containers", "1", "--container-memory", "512m", "--", "true"]);
    assert_eq!(run.code, Some(0), "{}", run.both());
    let next = cluster.latest_app_id().unwrap();
    assert_ne!(next, id);
    let ids: Vec<String> =
        cluster_containers(&cluster, &next).iter().map(|c| c["containerId"].as_str().unwrap().to_owned()).collect();
    assert!(!ids.is_empty() && ids.iter().all(|c| c.starts_with("container_e01_")), "{ids:?}");
    let (_, metrics) = cluster.get("/ws/v1/cluster/metrics");
    wait_for("every allocation to be given back", APP_TIMEOUT, || {
        let (_, metrics) = cluster.get("/ws/v1/cluster/metrics");
        (metrics["clusterMetrics"]["allocatedMB"] == 0).then_some(())
    });
    drop(metrics);
    cluster.stop_checked();
}

#[test]
fn finished_applications_survive_a_restart_and_unknown_ids_stay_unknown() {
    let mut cluster = recovering_cluster();
    let run = cluster.weft(&["shell", "--num-containers", "1", "--container-memory", "512m", "--", "true"]);
    assert_eq!(run.code, Some(0), "{}", run.both());
    let id = cluster.latest_app_id().unwrap();
    let before = cluster.app(&id);
    cluster.stop_rm();
    cluster.start_rm_again();
    let after = cluster.app(&id);
    for key in ["id", "user", "name", "state", "finalStatus", "startedTime", "finishedTime", "amContainerLogs"] {
        assert_eq!(after[key], before[key], "{key}");
    }
    let status = cluster.weft(&["application", "-status", &id]);
    assert_eq!(status.code, Some(0), "{}", status.both());
    assert!(status.stdout.contains("Final-State : SUCCEEDED"), "{}", status.stdout);
    cluster.stop_checked();
}

/// The containers' processes that outlive a moment (their shells, not the `sleep 0.1`s they run).
fn lasting_pids(cluster: &Cluster, id: &str) -> Vec<i32> {
    let first = cluster.container_pids(&app_container_prefix(id));
    std::thread::sleep(Duration::from_millis(500));
    let second = cluster.container_pids(&app_container_prefix(id));
    first.into_iter().filter(|p| second.contains(p)).collect()
}

fn cluster_containers(cluster: &Cluster, id: &str) -> Vec<serde_json::Value> {
    let (_, attempts) = cluster.get(&format!("/ws/v1/cluster/apps/{id}/appattempts"));
    let mut all = Vec::new();
    for attempt in attempts["appAttempts"]["appAttempt"].as_array().unwrap() {
        let attempt_id = attempt["appAttemptId"].as_str().unwrap();
        let (_, body) = cluster.get(&format!("/ws/v1/cluster/apps/{id}/appattempts/{attempt_id}/containers"));
        all.extend(body["containers"]["container"].as_array().cloned().unwrap_or_default());
    }
    all
}

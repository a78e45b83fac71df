//! Issue 3, end to end: a ResourceManager and two NodeManagers as real processes on 127.0.0.1, the
//! distributed shell, REST shapes, kills, lost nodes, AM retries and refusals.

use std::time::Duration;

use serde_json::Value;
use weft_tests::procs::{self, app_container_prefix};
use weft_tests::{printed_app_id, wait_for, Cluster, ClusterOptions};

const APP_TIMEOUT: Duration = Duration::from_secs(60);

fn containers_of(cluster: &Cluster, app: &Value) -> Vec<Value> {
    let id = app["id"].as_str().unwrap();
    let (_, attempts) = cluster.get(&format!("/ws/v1/cluster/apps/{id}/appattempts"));
    let mut all = Vec::new();
    for attempt in attempts["appAttempts"]["appAttempt"].as_array().unwrap() {
        let attempt_id = attempt["appAttemptId"].as_str().unwrap();
        let (status, body) = cluster.get(&format!("/ws/v1/cluster/apps/{id}/appattempts/{attempt_id}/containers"));
        assert_eq!(status, 200, "{body}");
        all.extend(body["containers"]["container"].as_array().cloned().unwrap_or_default());
    }
    all
}

#[test]
fn nodes_register_and_their_resources_add_up() {
    let cluster = Cluster::start(ClusterOptions { nm_memory_mb: 6144, nm_vcores: 3, ..Default::default() });
    let (status, body) = cluster.get("/ws/v1/cluster/nodes");
    assert_eq!(status, 200);
    let nodes = body["nodes"]["node"].as_array().expect("{\"nodes\":{\"node\":[…]}}");
    assert_eq!(nodes.len(), 2);
    for node in nodes {
        assert_eq!(node["state"], "RUNNING");
        assert_eq!(node["rack"], "/default-rack");
        assert_eq!(node["availMemoryMB"], 6144);
        assert_eq!(node["availableVirtualCores"], 3);
        assert_eq!(node["usedMemoryMB"], 0);
        assert!(node["id"].as_str().unwrap().starts_with("127.0.0.1:"));
        assert!(node["nodeHTTPAddress"].is_string());
        assert!(node["resourceUtilization"]["nodePhysicalMemoryMB"].is_number());
        let (status, one) = cluster.get(&format!("/ws/v1/cluster/nodes/{}", node["id"].as_str().unwrap()));
        assert_eq!(status, 200);
        assert_eq!(one["node"]["id"], node["id"]);
    }
    let (_, metrics) = cluster.get("/ws/v1/cluster/metrics");
    let m = &metrics["clusterMetrics"];
    assert_eq!((m["totalMB"].as_i64(), m["totalVirtualCores"].as_i64()), (Some(12288), Some(6)));
    assert_eq!((m["availableMB"].as_i64(), m["allocatedMB"].as_i64()), (Some(12288), Some(0)));
    assert_eq!((m["activeNodes"].as_i64(), m["totalNodes"].as_i64()), (Some(2), Some(2)));
    let (_, text) = cluster.get_text(&cluster.web_url("/metrics"));
    assert!(text.contains("weft_rm_memory_total_mb 12288"), "{text}");
    assert!(text.contains("weft_rm_vcores_total 6"), "{text}");
    let (_, info) = cluster.get("/ws/v1/cluster/info");
    assert_eq!(info["clusterInfo"]["state"], "STARTED");
    let (status, page) = cluster.get_text(&cluster.web_url("/cluster"));
    assert_eq!(status, 200);
    assert!(page.contains(nodes[0]["id"].as_str().unwrap()), "the page lists the nodes");
    cluster.stop_checked();
}

#[test]
fn shell_app_with_three_containers_succeeds_and_each_wrote_its_stdout() {
    let cluster = Cluster::start(ClusterOptions::default());
    let out = cluster.weft(&[
        "shell",
        "--num-containers",
        "3",
        "--container-memory",
        "512m",
        "--container-vcores",
        "1",
        "--",
        "sh",
        "-c",
        "echo hello from $CONTAINER_ID",
    ]);
    assert_eq!(out.code, Some(0), "{}", out.both());
    let id = printed_app_id(&out.both());
    assert!(out.both().contains("SUCCEEDED"), "{}", out.both());
    let app = cluster.app(&id);
    assert_eq!((app["state"].as_str(), app["finalStatus"].as_str()), (Some("FINISHED"), Some("SUCCEEDED")));
    assert_eq!(app["runningContainers"], -1);
    let containers = containers_of(&cluster, &app);
    assert_eq!(containers.len(), 4, "the AM and three shell containers: {containers:?}");
    for c in containers.iter().filter(|c| !c["containerId"].as_str().unwrap().ends_with("_000001")) {
        assert_eq!(c["containerExitStatus"], 0, "{c}");
        assert_eq!(c["allocatedMB"], 1024, "512m is normalized to the 1024 MB minimum");
        let cid = c["containerId"].as_str().unwrap();
        let url = format!("{}/ws/v1/node/containerlogs/{cid}/stdout", c["nodeHttpAddress"].as_str().unwrap());
        let (status, stdout) = cluster.get_text(&url);
        assert_eq!(status, 200, "{url}");
        assert_eq!(stdout.trim(), format!("hello from {cid}"));
    }
    let logs = cluster.weft(&["logs", "-applicationId", &id]);
    assert_eq!(logs.code, Some(0), "{}", logs.both());
    assert_eq!(logs.stdout.matches("hello from container_").count(), 3, "{}", logs.stdout);
    let list = cluster.weft(&["application", "-list", "-appStates", "FINISHED"]);
    assert!(list.stdout.contains(&id), "{}", list.both());
    let status = cluster.weft(&["application", "-status", &id]);
    assert!(status.stdout.contains("Final-State : SUCCEEDED"), "{}", status.both());
    let nodes = cluster.weft(&["node", "-list"]);
    assert!(nodes.stdout.contains("Total Nodes:2"), "{}", nodes.both());
    cluster.stop_checked();
}

#[test]
fn a_container_exiting_3_fails_the_app_with_its_id_and_code() {
    let cluster = Cluster::start(ClusterOptions::default());
    let out =
        cluster.weft(&["shell", "--num-containers", "2", "--container-memory", "512m", "--", "sh", "-c", "exit 3"]);
    assert_ne!(out.code, Some(0), "{}", out.both());
    let id = printed_app_id(&out.both());
    let app = cluster.app(&id);
    assert_eq!((app["state"].as_str(), app["finalStatus"].as_str()), (Some("FINISHED"), Some("FAILED")));
    let diagnostics = app["diagnostics"].as_str().unwrap();
    let failed: Vec<Value> =
        containers_of(&cluster, &app).into_iter().filter(|c| c["containerExitStatus"] == 3).collect();
    assert_eq!(failed.len(), 2);
    for c in &failed {
        assert!(diagnostics.contains(c["containerId"].as_str().unwrap()), "{diagnostics}");
    }
    assert!(diagnostics.contains('3'), "{diagnostics}");
    cluster.stop_checked();
}

/// Starts a shell app whose containers each leave a grandchild sleeping; returns its id once all
/// three containers run.
fn start_sleeping_app(cluster: &Cluster) -> (std::process::Child, String) {
    let child = cluster
        .weft_command(&[
            "shell",
            "--num-containers",
            "3",
            "--container-memory",
            "512m",
            "--",
            "sh",
            "-c",
            "sleep 600 & sleep 600; wait",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let id = wait_for("the app to be submitted", APP_TIMEOUT, || cluster.latest_app_id());
    let prefix = app_container_prefix(&id);
    // AM + 3 containers × (sh + 2 sleeps).
    wait_for("every container process to start", APP_TIMEOUT, || {
        (cluster.container_pids(&prefix).len() >= 10).then_some(())
    });
    (child, id)
}

#[test]
fn killing_through_rest_ends_every_process_including_grandchildren() {
    let cluster = Cluster::start(ClusterOptions::default());
    let (mut client, id) = start_sleeping_app(&cluster);
    let pids = cluster.container_pids(&app_container_prefix(&id));
    let (status, location, body) = cluster.put(&format!("/ws/v1/cluster/apps/{id}/state"), r#"{"state":"KILLED"}"#);
    assert_eq!(status, 202, "{body}");
    assert_eq!(location.as_deref(), Some(format!("/ws/v1/cluster/apps/{id}/state").as_str()));
    let app = cluster.wait_app_state(&id, &["KILLED"], APP_TIMEOUT);
    assert_eq!(app["finalStatus"], "KILLED");
    procs::wait_gone(&pids, Duration::from_secs(20));
    assert!(cluster.container_pids(&app_container_prefix(&id)).is_empty());
    let (status, _, body) = cluster.put(&format!("/ws/v1/cluster/apps/{id}/state"), r#"{"state":"KILLED"}"#);
    assert_eq!((status, body["state"].as_str()), (200, Some("KILLED")));
    let code = client.wait().unwrap().code();
    assert_ne!(code, Some(0), "the shell client exits non-zero for a killed app");
    cluster.stop_checked();
}

#[test]
fn killing_through_the_cli_ends_every_process() {
    let cluster = Cluster::start(ClusterOptions::default());
    let (mut client, id) = start_sleeping_app(&cluster);
    let pids = cluster.container_pids(&app_container_prefix(&id));
    let out = cluster.weft(&["application", "-kill", &id]);
    assert_eq!(out.code, Some(0), "{}", out.both());
    assert!(out.stdout.contains(&format!("Killing application {id}")), "{}", out.both());
    cluster.wait_app_state(&id, &["KILLED"], APP_TIMEOUT);
    procs::wait_gone(&pids, Duration::from_secs(20));
    let _ = client.wait();
    let again = cluster.weft(&["application", "-kill", &id]);
    assert!(again.both().contains("has already finished"), "{}", again.both());
    cluster.stop_checked();
}

#[test]
fn a_killed_nodemanager_becomes_lost_and_its_containers_end_with_minus_100() {
    let mut cluster = Cluster::start(ClusterOptions {
        rm_yaml: "yarn.nm.liveness-monitor.expiry-interval-ms: 2000\nyarn.resourcemanager.nm.liveness-monitor.interval-ms: 200\n".into(),
        ..Default::default()
    });
    let (mut client, id) = start_sleeping_app(&cluster);
    let orphans = cluster.container_pids(&app_container_prefix(&id));
    let app = cluster.app(&id);
    let am_node = app["amHostHttpAddress"].as_str().unwrap().to_owned();
    // Kill the NodeManager that does not hold the AM, so the application lives on.
    let victim = (0..2).find(|&i| cluster.nm_addresses[i].http != am_node).expect("two nodes");
    let victim_id = cluster.nm_addresses[victim].rpc.clone();
    let on_victim: Vec<String> = containers_of(&cluster, &app)
        .iter()
        .filter(|c| c["nodeId"] == victim_id.as_str())
        .map(|c| c["containerId"].as_str().unwrap().to_owned())
        .collect();
    assert!(!on_victim.is_empty(), "round-robin spreads the containers over both nodes");
    cluster.kill_nm(victim);
    wait_for("the node to be LOST", Duration::from_secs(20), || {
        let (_, node) = cluster.get(&format!("/ws/v1/cluster/nodes/{victim_id}"));
        (node["node"]["state"] == "LOST").then_some(())
    });
    let (_, metrics) = cluster.get("/ws/v1/cluster/metrics");
    assert_eq!(metrics["clusterMetrics"]["lostNodes"], 1);
    for c in containers_of(&cluster, &cluster.app(&id)) {
        if on_victim.iter().any(|v| c["containerId"] == v.as_str()) {
            assert_eq!(c["containerExitStatus"], -100, "{c}");
            assert_eq!(c["diagnosticsInfo"], "Container released on a *lost* node");
        }
    }
    let (_, feed) = cluster.get(&format!("/ws/v1/cluster/containers/kills?app={id}&reason=aborted"));
    let kills = feed["containerKills"]["containerKill"].as_array().cloned().unwrap_or_default();
    assert_eq!(kills.len(), on_victim.len(), "{feed}");
    assert!(kills.iter().all(|k| k["exitStatus"] == -100 && k["nodeId"] == victim_id.as_str()), "{feed}");
    let (_, metrics) = cluster.get("/ws/v1/cluster/metrics");
    assert_eq!(metrics["clusterMetrics"]["containerKills"]["aborted"], on_victim.len());
    cluster.weft(&["application", "-kill", &id]);
    let _ = client.wait();
    // The killed NodeManager could not stop its containers: end them here, by pid.
    procs::kill_pids(&orphans);
    procs::wait_gone(&orphans, Duration::from_secs(20));
}

#[test]
fn a_nodemanager_stopped_with_sigterm_is_shutdown_at_once_and_gets_no_work() {
    // A liveness expiry far away: only unregistering can take the node out of service.
    let mut cluster = Cluster::start(ClusterOptions::default());
    let stopped = cluster.nm_addresses[1].rpc.clone();
    cluster.stop_nm(1);
    let (_, node) = cluster.get(&format!("/ws/v1/cluster/nodes/{stopped}"));
    assert_eq!(node["node"]["state"], "SHUTDOWN", "{node}");
    let (_, metrics) = cluster.get("/ws/v1/cluster/metrics");
    assert_eq!(metrics["clusterMetrics"]["shutdownNodes"], 1, "{metrics}");
    assert_eq!(metrics["clusterMetrics"]["activeNodes"], 1, "{metrics}");
    assert_eq!(metrics["clusterMetrics"]["totalMB"], 8192, "the stopped node's capacity is gone: {metrics}");
    // Applications run, and only on the node that is left.
    let run = cluster.weft(&["shell", "--num-containers", "3", "--container-memory", "512m", "--", "true"]);
    assert_eq!(run.code, Some(0), "{}", run.both());
    let app = cluster.app(&printed_app_id(&run.both()));
    for c in containers_of(&cluster, &app) {
        assert_ne!(c["nodeId"], stopped.as_str(), "{c}");
    }
    cluster.stop_checked();
}

/// The pid of the application master of the app's current attempt.
fn am_pid(cluster: &Cluster, id: &str, attempt: u32) -> i32 {
    let prefix = format!("{}{attempt:02}_000001", app_container_prefix(id));
    wait_for(&format!("the AM of attempt {attempt}"), APP_TIMEOUT, || {
        let app = cluster.app(id);
        let running = app["state"] == "RUNNING";
        let pids = cluster.container_pids(&prefix);
        (running && !pids.is_empty()).then(|| *pids.iter().min().unwrap())
    })
}

#[test]
fn a_dead_am_gets_a_second_attempt_and_a_second_death_fails_the_app() {
    let cluster = Cluster::start(ClusterOptions::default());
    let (mut client, id) = start_sleeping_app(&cluster);
    procs::kill_pids(&[am_pid(&cluster, &id, 1)]);
    let second = am_pid(&cluster, &id, 2);
    let (_, attempts) = cluster.get(&format!("/ws/v1/cluster/apps/{id}/appattempts"));
    let list = attempts["appAttempts"]["appAttempt"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["appAttemptState"], "FAILED");
    procs::kill_pids(&[second]);
    let app = cluster.wait_app_state(&id, &["FAILED"], APP_TIMEOUT);
    assert_eq!(app["finalStatus"], "FAILED");
    let diagnostics = app["diagnostics"].as_str().unwrap();
    assert!(
        diagnostics.starts_with(&format!("Application {id} failed 2 times due to AM Container for appattempt_")),
        "{diagnostics}"
    );
    assert!(diagnostics.contains("exited with  exitCode: "), "{diagnostics}");
    procs::wait_gone(&cluster.container_pids(&app_container_prefix(&id)), Duration::from_secs(20));
    assert_ne!(client.wait().unwrap().code(), Some(0));
    cluster.stop_checked();
}

#[test]
fn refusals_are_clear_and_change_nothing() {
    let cluster = Cluster::start(ClusterOptions::default());
    let shell = |args: &[&str]| {
        let mut all = vec!["shell"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--", "true"]);
        cluster.weft(&all)
    };
    let above = shell(&["--num-containers", "1", "--container-memory", "16g"]);
    assert_ne!(above.code, Some(0));
    assert!(above.both().contains("16384") && above.both().contains("8192"), "{}", above.both());
    let bad_size = shell(&["--num-containers", "1", "--container-memory", "12x"]);
    assert_ne!(bad_size.code, Some(0));
    assert!(bad_size.both().contains("12x"), "{}", bad_size.both());
    let negative = shell(&["--num-containers", "-1"]);
    assert_ne!(negative.code, Some(0));
    assert!(negative.both().contains("-1"), "{}", negative.both());
    let unknown = cluster.weft(&["application", "-status", "application_1_0099"]);
    assert_ne!(unknown.code, Some(0));
    assert!(
        unknown.both().contains("Application with id 'application_1_0099' doesn't exist in RM."),
        "YARN's words: {}",
        unknown.both()
    );
    let malformed = cluster.weft(&["application", "-status", "app_x"]);
    assert_ne!(malformed.code, Some(0));
    assert!(malformed.both().contains("app_x"), "{}", malformed.both());
    let (status, body) = cluster.get("/ws/v1/cluster/apps/application_1_0099");
    assert_eq!(status, 404);
    assert_eq!(body["RemoteException"]["exception"], "NotFoundException");
    let (status, _, body) = cluster.put("/ws/v1/cluster/apps/application_1_0099/state", "{not json");
    assert_eq!(status, 400, "{body}");
    let (status, body) = cluster.get("/ws/v1/cluster/apps?states=DONE");
    assert_eq!(status, 400);
    assert!(body["RemoteException"]["message"].as_str().unwrap().contains("DONE"));
    let (_, apps) = cluster.get("/ws/v1/cluster/apps");
    assert_eq!(apps["apps"], Value::Null, "no application was submitted: {apps}");
    cluster.stop_checked();
}

//! End to end over several hosts on one machine: the ResourceManager and each NodeManager in its own
//! network namespace with its own address and host name (tests/src/netns.rs, tests/src/multihost.rs),
//! so every call between daemons, application masters, drivers and executors crosses a (virtual)
//! network by name, as on real hosts; among them each daemon restarted under a running job (issue
//! 16's work-preserving restart). Needs root; fails, naming what is missing, without it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use weft_tests::multihost::{MultiHostCluster, MultiHostOptions};
use weft_tests::wordcount::{corpus, read_counts, reference_counts};
use weft_tests::{example, printed_app_id, wait_for};

const APP_TIMEOUT: Duration = Duration::from_secs(120);

fn is_am(container: &Value) -> bool {
    container["containerId"].as_str().unwrap_or_default().ends_with("_000001")
}

/// The host part of a node id `host:port`.
fn host_of(node_id: &Value) -> String {
    let id = node_id.as_str().unwrap_or_else(|| panic!("not a node id: {node_id}"));
    id.rsplit_once(':').map_or(id, |(host, _)| host).to_owned()
}

/// A container's stdout, read from its NodeManager's web port.
fn stdout_of(cluster: &MultiHostCluster, container: &Value) -> String {
    let cid = container["containerId"].as_str().unwrap();
    let url = format!("{}/ws/v1/node/containerlogs/{cid}/stdout", container["nodeHttpAddress"].as_str().unwrap());
    let (status, text) = cluster.get_text(&url);
    assert_eq!(status, 200, "{url}: {text}");
    text
}

#[test]
fn a_shell_app_runs_containers_on_both_hosts_and_each_names_its_host() {
    // AM + three containers of 1024 MB fill two nodes of 2048 MB: both nodes run shell containers.
    let cluster = MultiHostCluster::start(MultiHostOptions { nm_memory_mb: 2048, ..Default::default() });
    let nodes = cluster.nodes();
    let ids: BTreeSet<&str> = nodes.iter().filter_map(|n| n["id"].as_str()).collect();
    assert_eq!(ids, BTreeSet::from([cluster.nm_id(0).as_str(), cluster.nm_id(1).as_str()]), "{nodes:?}");
    for (i, node) in [0, 1].iter().map(|&i| (i, nodes.iter().find(|n| n["id"] == cluster.nm_id(i).as_str()).unwrap())) {
        assert_eq!(node["nodeHostName"], cluster.nm_host(i).name.as_str(), "{node}");
        assert_eq!(node["nodeHTTPAddress"], format!("{}:8042", cluster.nm_host(i).name), "{node}");
    }

    let script = "echo hello from $CONTAINER_ID on $(hostname) as $NM_HOST";
    let out = cluster.weft(&["shell", "--num-containers", "3", "--container-memory", "1g", "--", "sh", "-c", script]);
    assert_eq!(out.code, Some(0), "{}", out.both());
    let id = printed_app_id(&out.both());
    let app = cluster.app(&id);
    assert_eq!((app["state"].as_str(), app["finalStatus"].as_str()), (Some("FINISHED"), Some("SUCCEEDED")));
    let shell: Vec<Value> = cluster.containers(&id).into_iter().filter(|c| !is_am(c)).collect();
    assert_eq!(shell.len(), 3, "{shell:?}");
    let mut hosts = BTreeSet::new();
    for c in &shell {
        assert_eq!(c["containerExitStatus"], 0, "{c}");
        let host = host_of(&c["nodeId"]);
        let cid = c["containerId"].as_str().unwrap();
        assert_eq!(stdout_of(&cluster, c), format!("hello from {cid} on {host} as {host}\n"));
        hosts.insert(host);
    }
    let both: BTreeSet<String> = [0, 1].iter().map(|&i| cluster.nm_host(i).name.clone()).collect();
    assert_eq!(hosts, both, "shell containers on both hosts");

    // `weft logs` on the gateway reads each container's stdout from its own host.
    let logs = cluster.weft(&["logs", "-applicationId", &id]);
    assert_eq!(logs.code, Some(0), "{}", logs.both());
    for c in &shell {
        let cid = c["containerId"].as_str().unwrap();
        let host = host_of(&c["nodeId"]);
        assert!(logs.stdout.contains(&format!("Container: {cid} on {host}:8041")), "{}", logs.stdout);
        assert!(logs.stdout.contains(&format!("hello from {cid} on {host} as {host}")), "{}", logs.stdout);
    }
    cluster.stop_checked(&[]);
}

/// The task-end events of an uncompressed single-file event log: (stage, executor host, remote
/// shuffle bytes read).
fn task_ends(log_dir: &Path) -> Vec<(i64, String, i64)> {
    let mut ends = Vec::new();
    for entry in std::fs::read_dir(log_dir).unwrap().flatten() {
        for line in std::fs::read_to_string(entry.path()).unwrap().lines() {
            let event: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
            if event["Event"] == "SparkListenerTaskEnd" {
                let remote = &event["Task Metrics"]["Shuffle Read Metrics"]["Remote Bytes Read"];
                let host = event["Task Info"]["Host"].as_str().unwrap_or_default().to_owned();
                ends.push((event["Stage ID"].as_i64().unwrap(), host, remote.as_i64().unwrap_or(0)));
            }
        }
    }
    ends
}

#[test]
fn spark_wordcount_with_an_executor_on_each_host_shuffles_across_hosts() {
    // One executor (512m + 384m overhead, normalized to 1024) fits each node: one per host. The
    // driver runs in client mode on the gateway (the ResourceManager's host), a third host.
    let options = MultiHostOptions { nm_memory_mb: 1024, nm_vcores: 2, ..Default::default() };
    let cluster = MultiHostCluster::start(options);
    let dir = weft_tests::data_dir();
    let text = corpus(60_000, 7);
    for part in 0..4 {
        let lines: Vec<&str> = text.lines().skip(part * 15_000).take(15_000).collect();
        std::fs::write(dir.path().join(format!("in-{part}.txt")), lines.join("\n") + "\n").unwrap();
    }
    let events = dir.path().join("events");
    std::fs::create_dir(&events).unwrap();
    std::fs::set_permissions(&events, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let input = format!("{}/in-*.txt", dir.path().display());
    let out = dir.path().join("out");
    let event_dir = format!("spark.eventLog.dir=file://{}", events.display());
    let mut args = vec!["submit", "--master", "yarn", "--deploy-mode", "client", "--num-executors", "2"];
    args.extend(["--executor-memory", "512m", "--executor-cores", "1", "--driver-memory", "512m"]);
    args.extend(["--conf", "spark.default.parallelism=8", "--conf", "spark.eventLog.enabled=true"]);
    args.extend(["--conf", &event_dir, "--conf", "spark.eventLog.compress=false"]);
    args.extend(["--conf", "spark.eventLog.rolling.enabled=false", "--conf", "spark.ui.showConsoleProgress=false"]);
    let wordcount = example("wordcount");
    args.extend([wordcount.as_str(), input.as_str(), out.to_str().unwrap()]);
    let run = cluster.weft(&args);
    assert_eq!(run.code, Some(0), "{}", run.both());
    assert_eq!(read_counts(&out), reference_counts(&text));

    let app = printed_app_id(&run.both());
    let report = cluster.app(&app);
    assert_eq!((report["state"].as_str(), report["finalStatus"].as_str()), (Some("FINISHED"), Some("SUCCEEDED")));
    let executors = cluster.containers(&app);
    let hosts: BTreeSet<String> = executors.iter().map(|c| host_of(&c["nodeId"])).collect();
    let both: BTreeSet<String> = [0, 1].iter().map(|&i| cluster.nm_host(i).name.clone()).collect();
    assert_eq!((executors.len(), &hosts), (2, &both), "{executors:?}");

    // The map stage ran on both hosts and the reducers read shuffle blocks from the other host.
    let ends = task_ends(&events);
    let map_hosts: BTreeSet<String> = ends.iter().filter(|(stage, _, _)| *stage == 0).map(|e| e.1.clone()).collect();
    assert_eq!(map_hosts, both, "{ends:?}");
    let remote: i64 = ends.iter().filter(|(stage, _, _)| *stage == 1).map(|e| e.2).sum();
    assert!(remote > 0, "no shuffle bytes crossed hosts: {ends:?}");
    cluster.stop_checked(&[]);
}

#[test]
fn a_node_cut_off_the_network_is_lost_and_its_shell_containers_rerun_on_the_other_host() {
    let options = MultiHostOptions {
        nm_memory_mb: 3072,
        rm_yaml: "yarn.nm.liveness-monitor.expiry-interval-ms: 3000\n\
                  yarn.resourcemanager.nm.liveness-monitor.interval-ms: 500\n"
            .into(),
        ..Default::default()
    };
    let cluster = MultiHostCluster::start(options);
    let data = weft_tests::data_dir();
    let go = data.path().join("go");
    // Each container waits for the go file, so the cut finds containers running on both hosts.
    let script = format!("while [ ! -e {} ]; do sleep 0.1; done; echo done on $(hostname)", go.display());
    let client = cluster
        .weft_command(&["shell", "--num-containers", "4", "--container-memory", "1g", "--", "sh", "-c", &script])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let id = wait_for("the app to be submitted", APP_TIMEOUT, || cluster.latest_app_id());
    // AM + four containers over two nodes of three slots: both hosts run shell containers.
    let running = wait_for("four running shell containers", APP_TIMEOUT, || {
        let all = cluster.containers(&id);
        let running: Vec<Value> = all.into_iter().filter(|c| !is_am(c) && c["containerState"] == "RUNNING").collect();
        (running.len() == 4).then_some(running)
    });
    let am = cluster.containers(&id).into_iter().find(is_am).expect("the AM container");
    let am_host = host_of(&am["nodeId"]);
    let lost = (0..2).find(|&i| cluster.nm_host(i).name != am_host).unwrap();
    let lost_host = cluster.nm_host(lost).name.clone();
    let on_lost: BTreeSet<String> = running
        .iter()
        .filter(|c| host_of(&c["nodeId"]) == lost_host)
        .map(|c| c["containerId"].as_str().unwrap().to_owned())
        .collect();
    assert!(!on_lost.is_empty(), "shell containers on both hosts: {running:?}");

    cluster.cut_nm(lost);
    let node = cluster.wait_for_node_state(lost, "LOST", APP_TIMEOUT);
    assert_eq!(node["nodeHostName"], lost_host.as_str());
    std::fs::write(&go, "").unwrap();
    let output = client.wait_with_output().unwrap();
    let printed = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert_eq!(output.status.code(), Some(0), "{printed}");
    assert_eq!(printed_app_id(&printed), id);
    let app = cluster.app(&id);
    assert_eq!((app["state"].as_str(), app["finalStatus"].as_str()), (Some("FINISHED"), Some("SUCCEEDED")), "{app}");

    let shell: Vec<Value> = cluster.containers(&id).into_iter().filter(|c| !is_am(c)).collect();
    let aborted: BTreeSet<String> = shell
        .iter()
        .filter(|c| c["containerExitStatus"] == -100)
        .map(|c| c["containerId"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(aborted, on_lost, "the lost node's containers end -100: {shell:?}");
    let succeeded: Vec<&Value> = shell.iter().filter(|c| c["containerExitStatus"] == 0).collect();
    assert_eq!(succeeded.len(), 4, "four containers succeeded, replacements included: {shell:?}");
    for c in &succeeded {
        if on_lost.contains(c["containerId"].as_str().unwrap()) {
            continue;
        }
        assert_eq!(host_of(&c["nodeId"]), am_host, "{c}");
        assert_eq!(stdout_of(&cluster, c), format!("done on {am_host}\n"));
    }
    assert_eq!(shell.len(), 4 + on_lost.len(), "one replacement per lost container: {shell:?}");
    cluster.stop_checked(&[]);
}

#[test]
fn a_nodemanager_stopped_and_started_in_place_comes_back_under_the_same_id() {
    let mut cluster = MultiHostCluster::start(MultiHostOptions::default());
    cluster.stop_nm(1);
    cluster.wait_for_node_state(1, "SHUTDOWN", APP_TIMEOUT);
    cluster.start_nm(1);
    let node = cluster.wait_for_node_state(1, "RUNNING", APP_TIMEOUT);
    assert_eq!(node["nodeHTTPAddress"], format!("{}:8042", cluster.nm_host(1).name), "{node}");
    let out = cluster.weft(&["shell", "--num-containers", "2", "--container-memory", "1g", "--", "hostname"]);
    assert_eq!(out.code, Some(0), "{}", out.both());
    cluster.stop_checked(&[]);
}

#[test]
fn a_test_that_panics_leaves_no_namespace_veth_or_bridge() {
    let dir = tempfile::tempdir().unwrap();
    let tag = std::sync::Mutex::new(String::new());
    let panicked = std::panic::catch_unwind(|| {
        let net = weft_tests::netns::Network::create(&["a", "b"], dir.path());
        *tag.lock().unwrap() = net.tag.clone();
        let listed = weft_tests::netns::ip(&["netns", "list"]).unwrap();
        assert!(listed.contains(&net.hosts[1].netns), "{listed}");
        panic!("the test fails with the test bed up");
    });
    assert!(panicked.is_err());
    let tag = tag.into_inner().unwrap();
    assert_eq!(tag.len(), 6);
    let links = weft_tests::netns::ip(&["-o", "link", "show"]).unwrap();
    let namespaces = weft_tests::netns::ip(&["netns", "list"]).unwrap();
    assert!(!links.contains(&tag) && !namespaces.contains(&tag), "{links}\n{namespaces}");
}

#[test]
fn spark_wordcount_in_cluster_mode_runs_its_driver_on_a_nodemanager_host() {
    let cluster = MultiHostCluster::start(MultiHostOptions { nm_memory_mb: 2048, ..Default::default() });
    let dir = weft_tests::data_dir();
    let text = corpus(5_000, 7);
    std::fs::write(dir.path().join("in.txt"), &text).unwrap();
    let (input, out) = (dir.path().join("in.txt"), dir.path().join("out"));
    let mut args = vec!["submit", "--master", "yarn", "--deploy-mode", "cluster", "--num-executors", "2"];
    args.extend(["--executor-memory", "512m", "--executor-cores", "1", "--driver-memory", "512m"]);
    let wordcount = example("wordcount");
    args.extend([wordcount.as_str(), input.to_str().unwrap(), out.to_str().unwrap()]);
    let run = cluster.weft(&args);
    assert_eq!(run.code, Some(0), "{}", run.both());
    assert_eq!(read_counts(&out), reference_counts(&text));
    let app = printed_app_id(&run.both());
    let all = cluster.containers(&app);
    assert_eq!(all.len(), 3, "the AM (the driver) and two executors: {all:?}");
    let am = all.iter().find(|c| is_am(c)).unwrap();
    let nm_hosts: BTreeSet<String> = [0, 1].iter().map(|&i| cluster.nm_host(i).name.clone()).collect();
    assert!(nm_hosts.contains(&host_of(&am["nodeId"])), "{am}");
    cluster.stop_checked(&[]);
}

/// A `weft` command the test started, ended by pid if the test fails before it is collected.
struct Client(Option<std::process::Child>);

impl Client {
    fn spawn(cluster: &MultiHostCluster, args: &[&str]) -> Client {
        let child = cluster
            .weft_command(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start weft");
        Client(Some(child))
    }

    /// Waits for it to exit: its exit code and everything it printed.
    fn finish(mut self) -> (Option<i32>, String) {
        let output = self.0.take().expect("not collected yet").wait_with_output().expect("wait for weft");
        let printed = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        (output.status.code(), printed)
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The ids of the application's containers the ResourceManager reports RUNNING, once there are `n`.
fn wait_for_running_containers(cluster: &MultiHostCluster, app: &str, n: usize) -> BTreeSet<String> {
    wait_for(&format!("{n} running containers of {app}"), APP_TIMEOUT, || {
        let running: BTreeSet<String> = cluster
            .containers(app)
            .iter()
            .filter(|c| c["containerState"] == "RUNNING")
            .map(|c| c["containerId"].as_str().unwrap_or_default().to_owned())
            .collect();
        (running.len() == n).then_some(running)
    })
}

/// Every container id of the application, whatever its state.
fn container_ids(cluster: &MultiHostCluster, app: &str) -> BTreeSet<String> {
    cluster.containers(app).iter().map(|c| c["containerId"].as_str().unwrap_or_default().to_owned()).collect()
}

/// Each container's processes but the `sleep`s a shell loop runs, which come and go.
fn lasting_pids(cluster: &MultiHostCluster, ids: &BTreeSet<String>) -> BTreeMap<String, BTreeSet<i32>> {
    let not_sleep = |pid: &i32| std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() != "sleep");
    ids.iter().map(|id| (id.clone(), cluster.container_pids(id).into_iter().filter(not_sleep).collect())).collect()
}

/// Waits until every container in `ids` has a process: their pids.
fn wait_for_pids(cluster: &MultiHostCluster, ids: &BTreeSet<String>) -> BTreeMap<String, BTreeSet<i32>> {
    wait_for("every container's process", APP_TIMEOUT, || {
        let pids = lasting_pids(cluster, ids);
        pids.values().all(|p| !p.is_empty()).then_some(pids)
    })
}

/// GET of a JSON document anywhere on the test bed (Null when not JSON).
fn get_json(cluster: &MultiHostCluster, url: &str) -> Value {
    let (_, text) = cluster.get_text(url);
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// One daemon's log so far.
fn log_of(cluster: &MultiHostCluster, daemon: &str) -> String {
    cluster.logs().into_iter().find(|(name, _)| name == daemon).map(|(_, text)| text).unwrap_or_default()
}

fn assert_succeeded(cluster: &MultiHostCluster, id: &str) {
    let app = cluster.app(id);
    assert_eq!((app["state"].as_str(), app["finalStatus"].as_str()), (Some("FINISHED"), Some("SUCCEEDED")), "{app}");
    let (_, attempts) = cluster.get(&format!("/ws/v1/cluster/apps/{id}/appattempts"));
    assert_eq!(attempts["appAttempts"]["appAttempt"].as_array().map(Vec::len), Some(1), "one attempt: {attempts}");
}

/// A cluster-mode WordCount whose reduce tasks wait for a release file, with its driver (the AM)
/// and three executors running on both hosts, the map stage done and reduce tasks running.
struct HeldWordCount {
    client: Client,
    id: String,
    text: String,
    out: std::path::PathBuf,
    release: std::path::PathBuf,
    /// The AM's and executors' container ids.
    containers: BTreeSet<String>,
}

impl HeldWordCount {
    /// Nodes of 2048 MB: the driver and three executors of 1024 MB fill both, so each host runs executors.
    fn start(cluster: &MultiHostCluster, dir: &Path) -> HeldWordCount {
        let text = corpus(20_000, 7);
        std::fs::write(dir.join("in.txt"), &text).unwrap();
        let (input, out, release) = (dir.join("in.txt"), dir.join("out"), dir.join("release"));
        let mut args = vec!["submit", "--master", "yarn", "--deploy-mode", "cluster", "--num-executors", "3"];
        args.extend(["--executor-memory", "512m", "--executor-cores", "1", "--driver-memory", "512m"]);
        let program = example("spark_faults");
        args.extend([program.as_str(), "hold-wordcount", input.to_str().unwrap(), out.to_str().unwrap()]);
        args.push(release.to_str().unwrap());
        let client = Client::spawn(cluster, &args);
        let id = wait_for("the app to be submitted", APP_TIMEOUT, || cluster.latest_app_id());
        let containers = wait_for_running_containers(cluster, &id, 4);
        let executors: Vec<Value> = cluster.containers(&id).into_iter().filter(|c| !is_am(c)).collect();
        let hosts: BTreeSet<String> = executors.iter().map(|c| host_of(&c["nodeId"])).collect();
        let both: BTreeSet<String> = [0, 1].iter().map(|&i| cluster.nm_host(i).name.clone()).collect();
        assert_eq!(hosts, both, "executors on both hosts: {executors:?}");
        // Work in flight: the map stage is done and the reduce tasks wait for the release file.
        let api = cluster.web_url(&format!("/proxy/{id}/api/v1/applications/{id}/1"));
        wait_for("the map stage done, the reduce stage running", APP_TIMEOUT, || {
            let done = get_json(cluster, &format!("{api}/stages?status=complete"));
            let active = get_json(cluster, &format!("{api}/stages?status=active"));
            let running = active.as_array()?.first()?["numActiveTasks"].as_u64()?;
            (done.as_array()?.len() == 1 && running > 0).then_some(())
        });
        HeldWordCount { client, id, text, out, release, containers }
    }

    /// Releases the reduce tasks; the job ends SUCCEEDED in its one attempt with the exact counts
    /// and no container but those it had.
    fn finish(self, cluster: &MultiHostCluster) {
        std::fs::write(&self.release, "").unwrap();
        let (code, printed) = self.client.finish();
        assert_eq!(code, Some(0), "{printed}");
        assert_eq!(printed_app_id(&printed), self.id);
        assert_eq!(read_counts(&self.out), reference_counts(&self.text));
        assert_succeeded(cluster, &self.id);
        assert_eq!(container_ids(cluster, &self.id), self.containers, "no executor was started again");
    }
}

#[test]
fn spark_wordcount_in_cluster_mode_survives_a_resource_manager_restart_with_its_executors() {
    let options = MultiHostOptions {
        nm_memory_mb: 2048,
        rm_yaml: "yarn.resourcemanager.recovery.enabled: true\n".into(),
        client_yaml: "yarn.resourcemanager.connect.retry-interval.ms: 200\n".into(),
        ..Default::default()
    };
    let mut cluster = MultiHostCluster::start(options);
    let dir = weft_tests::data_dir();
    let job = HeldWordCount::start(&cluster, dir.path());
    let pids = wait_for_pids(&cluster, &job.containers);

    cluster.stop_rm();
    cluster.start_rm();
    // The application is known again; its driver registers again and the NodeManagers report the
    // same four containers.
    let after = wait_for("the app RUNNING again with its four containers", APP_TIMEOUT, || {
        let app = cluster.app(&job.id);
        (app["state"] == "RUNNING" && app["runningContainers"] == 4)
            .then(|| wait_for_running_containers(&cluster, &job.id, 4))
    });
    assert_eq!(after, job.containers, "the same AM and executors after the restart");
    let rm_log = log_of(&cluster, "resourcemanager");
    assert!(rm_log.contains("application master registered again after the restart"), "{rm_log}");
    assert_eq!(lasting_pids(&cluster, &job.containers), pids, "the same processes");
    job.finish(&cluster);
    cluster.stop_checked(&[]);
}

fn nm_recovery_options() -> MultiHostOptions {
    MultiHostOptions {
        nm_memory_mb: 2048,
        nm_yaml: "yarn.nodemanager.recovery.enabled: true\n\
                  yarn.nodemanager.recovery.dir: {nm_dir}/recovery\n\
                  yarn.nodemanager.recovery.supervised: true\n"
            .into(),
        ..Default::default()
    }
}

/// The NodeManager on the host of the application's AM, and the application's containers there.
fn am_node(cluster: &MultiHostCluster, app: &str) -> (usize, BTreeSet<String>) {
    let all = cluster.containers(app);
    let am_host = host_of(&all.iter().find(|c| is_am(c)).expect("the AM container")["nodeId"]);
    let node = (0..2).find(|&i| cluster.nm_host(i).name == am_host).expect("the AM on a NodeManager host");
    let on_node = all
        .iter()
        .filter(|c| host_of(&c["nodeId"]) == am_host)
        .map(|c| c["containerId"].as_str().unwrap().to_owned())
        .collect();
    (node, on_node)
}

/// Stops NodeManager `i` (SIGTERM) and starts it again in place; checks that its containers
/// `on_node` kept their processes throughout and were taken back running, and that it registered
/// again under the same node id and is RUNNING.
fn restart_nm_under(cluster: &mut MultiHostCluster, i: usize, on_node: &BTreeSet<String>) {
    let pids = wait_for_pids(cluster, on_node);
    cluster.stop_nm(i);
    assert_eq!(lasting_pids(cluster, on_node), pids, "the containers outlive their NodeManager");
    cluster.start_nm(i);
    let daemon = format!("nodemanager{i}");
    wait_for("the NodeManager to register again", APP_TIMEOUT, || {
        (log_of(cluster, &daemon).matches("registered with the ResourceManager").count() == 2).then_some(())
    });
    let log = log_of(cluster, &daemon);
    for container in on_node {
        let taken_back = log.lines().any(|l| l.contains("taken back: still running") && l.contains(container.as_str()));
        assert!(taken_back, "{container} taken back running: {log}");
    }
    let host = cluster.nm_host(i).name.clone();
    let node = cluster.wait_for_node_state(i, "RUNNING", APP_TIMEOUT);
    assert_eq!(node["nodeHostName"], host.as_str(), "{node}");
    let ids: BTreeSet<String> = cluster.nodes().iter().map(|n| n["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(ids, BTreeSet::from([cluster.nm_id(0), cluster.nm_id(1)]));
    let info = get_json(cluster, &format!("http://{host}:8042/ws/v1/node/info"));
    assert_eq!(info["nodeInfo"]["id"], cluster.nm_id(i).as_str(), "{info}");
    let listed = get_json(cluster, &format!("http://{host}:8042/ws/v1/node/containers"));
    let running: BTreeSet<String> = listed["containers"]["container"]
        .as_array()
        .map(|all| {
            all.iter().filter(|c| c["state"] == "RUNNING").filter_map(|c| c["id"].as_str()).map(str::to_owned).collect()
        })
        .unwrap_or_default();
    assert_eq!(&running, on_node, "{listed}");
    assert_eq!(lasting_pids(cluster, on_node), pids, "the same processes");
}

#[test]
fn a_nodemanager_restarted_under_a_shell_app_keeps_its_containers_and_the_app_succeeds() {
    let mut cluster = MultiHostCluster::start(nm_recovery_options());
    let data = weft_tests::data_dir();
    let go = data.path().join("go");
    let script = format!("while [ ! -e {} ]; do sleep 0.1; done; echo done on $(hostname)", go.display());
    let args = ["shell", "--num-containers", "3", "--container-memory", "1g", "--", "sh", "-c", &script];
    let client = Client::spawn(&cluster, &args);
    let id = wait_for("the app to be submitted", APP_TIMEOUT, || cluster.latest_app_id());
    // The AM and three containers of 1024 MB fill both nodes; the AM's node is restarted.
    let before = wait_for_running_containers(&cluster, &id, 4);
    let (restarted, on_node) = am_node(&cluster, &id);
    assert_eq!(on_node.len(), 2, "the AM and one shell container on its host: {on_node:?}");
    restart_nm_under(&mut cluster, restarted, &on_node);

    std::fs::write(&go, "").unwrap();
    let (code, printed) = client.finish();
    assert_eq!(code, Some(0), "{printed}");
    assert_eq!(printed_app_id(&printed), id);
    assert_succeeded(&cluster, &id);
    assert_eq!(container_ids(&cluster, &id), before, "no container was started again");
    for c in cluster.containers(&id).iter().filter(|c| !is_am(c)) {
        assert_eq!(c["containerExitStatus"], 0, "{c}");
        assert_eq!(stdout_of(&cluster, c), format!("done on {}\n", host_of(&c["nodeId"])));
    }
    cluster.stop_checked(&[]);
}

#[test]
fn spark_wordcount_in_cluster_mode_survives_a_restart_of_its_drivers_nodemanager() {
    let mut cluster = MultiHostCluster::start(nm_recovery_options());
    let dir = weft_tests::data_dir();
    let job = HeldWordCount::start(&cluster, dir.path());
    // The driver's host: the AM and one executor there, the two other executors on the other host.
    let (restarted, on_node) = am_node(&cluster, &job.id);
    assert_eq!(on_node.len(), 2, "the driver and one executor on its host: {on_node:?}");
    restart_nm_under(&mut cluster, restarted, &on_node);
    job.finish(&cluster);
    cluster.stop_checked(&[]);
}

//! Issue 4, end to end: containers held to their memory by the NodeManager (cgroups and the
//! process-tree monitor), and every kill visible with its reason through the ResourceManager's REST.
//!
//! These tests need root and the cgroup memory and cpu controllers (v1, as on this project's machines, or v2);
//! without them they fail with a message saying what is missing, they are never skipped.

use std::time::Duration;

use serde_json::Value;
use weft_tests::{binary, printed_app_id, require_cgroups, Cluster, ClusterOptions};

const APP_TIMEOUT: Duration = Duration::from_secs(90);

/// A cluster whose NodeManagers check memory every 300 ms, plus `nm_yaml`.
fn cluster(nm_yaml: &str) -> Cluster {
    require_cgroups();
    Cluster::start(ClusterOptions {
        node_managers: 1,
        nm_yaml: format!("yarn.nodemanager.container-monitor.interval-ms: 300\n{nm_yaml}"),
        ..Default::default()
    })
}

fn example(name: &str) -> String {
    binary(&format!("examples/{name}")).display().to_string()
}

/// Runs a shell app to its end and returns its REST object.
fn run_shell(cluster: &Cluster, containers: &str, command: &[&str]) -> Value {
    let mut args = vec!["shell", "--num-containers", containers, "--container-memory", "1g", "--"];
    args.extend_from_slice(command);
    let out = cluster.weft(&args);
    let text = out.both();
    let id = printed_app_id(&text);
    cluster.wait_app_state(&id, &["FINISHED", "FAILED", "KILLED"], APP_TIMEOUT)
}

/// The app's non-AM containers from `/appattempts/{attempt}/containers`.
fn work_containers(cluster: &Cluster, app: &Value) -> Vec<Value> {
    let id = app["id"].as_str().unwrap();
    let attempt = format!("{}_000001", id.replacen("application_", "appattempt_", 1));
    let (status, body) = cluster.get(&format!("/ws/v1/cluster/apps/{id}/appattempts/{attempt}/containers"));
    assert_eq!(status, 200, "{body}");
    body["containers"]["container"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|c| !c["containerId"].as_str().unwrap().ends_with("_000001"))
        .collect()
}

fn kills(cluster: &Cluster, app: &Value) -> Vec<Value> {
    let (status, body) = cluster.get(&format!("/ws/v1/cluster/containers/kills?app={}", app["id"].as_str().unwrap()));
    assert_eq!(status, 200, "{body}");
    body["containerKills"]["containerKill"].as_array().cloned().unwrap_or_default()
}

#[test]
fn a_container_past_its_memory_is_killed_104_and_its_sibling_is_untouched() {
    let cluster = cluster("");
    let hog = example("memhog");
    // Container 2 touches 1.5 GiB in its 1 GiB container; container 3 sleeps a little and exits 0.
    let script = format!(r#"case "$CONTAINER_ID" in *_000002) exec {hog} 1536 400 ;; *) sleep 3 ;; esac"#);
    let app = run_shell(&cluster, "2", &["sh", "-c", &script]);
    assert_eq!((app["state"].as_str(), app["finalStatus"].as_str()), (Some("FINISHED"), Some("FAILED")), "{app}");
    let containers = work_containers(&cluster, &app);
    let killed = containers.iter().find(|c| c["containerId"].as_str().unwrap().ends_with("_000002")).unwrap();
    let sibling = containers.iter().find(|c| c["containerId"].as_str().unwrap().ends_with("_000003")).unwrap();
    assert_eq!(killed["containerExitStatus"], -104, "{killed}");
    let diagnostics = killed["diagnosticsInfo"].as_str().unwrap();
    assert!(diagnostics.contains("of 1 GB physical memory used"), "{diagnostics}");
    assert!(killed["physicalMemoryLimitBytes"].as_i64().unwrap() >= 1 << 30, "{killed}");
    assert!(killed["peakPhysicalMemoryBytes"].as_i64().unwrap() > 900 << 20, "{killed}");
    assert_eq!(sibling["containerExitStatus"], 0, "the other container is untouched: {sibling}");
    let feed = kills(&cluster, &app);
    let entry = feed.iter().find(|k| k["containerId"] == killed["containerId"]).unwrap_or_else(|| panic!("{feed:?}"));
    assert_eq!(entry["exitStatus"], -104);
    assert!(["physical_memory", "kernel_oom"].contains(&entry["reason"].as_str().unwrap()), "{entry}");
    let app_diagnostics = app["diagnostics"].as_str().unwrap();
    assert!(app_diagnostics.contains(killed["containerId"].as_str().unwrap()), "{app_diagnostics}");
    cluster.stop_checked();
}

#[test]
fn with_the_pmem_check_off_the_cgroup_holds_and_the_kernel_kill_is_reported_as_104() {
    let cluster = cluster("yarn.nodemanager.pmem-check-enabled: false\n");
    let app = run_shell(&cluster, "1", &[&example("memhog"), "1536", "400"]);
    let containers = work_containers(&cluster, &app);
    assert_eq!(containers[0]["containerExitStatus"], -104, "not an unexplained 137: {}", containers[0]);
    let feed = kills(&cluster, &app);
    assert_eq!(feed.len(), 1, "{feed:?}");
    assert_eq!(feed[0]["reason"], "kernel_oom", "{feed:?}");
    assert!(feed[0]["diagnostics"].as_str().unwrap().contains("physical memory used"), "{feed:?}");
    let (_, metrics) = cluster.get("/ws/v1/cluster/metrics");
    assert_eq!(metrics["clusterMetrics"]["containerKills"]["kernel_oom"], 1);
    cluster.stop_checked();
}

#[test]
fn virtual_memory_past_the_ratio_is_killed_103_unless_the_check_is_off_or_the_ratio_higher() {
    // 3 GiB reserved, never touched, in a 1 GiB container: over 1 GiB × 2.1.
    let reserve = |hold: &str| vec![example("vmemhog"), "3072".into(), hold.into()];

    let cluster_default = cluster("");
    let command = reserve("600");
    let args: Vec<&str> = command.iter().map(String::as_str).collect();
    let app = run_shell(&cluster_default, "1", &args);
    let container = &work_containers(&cluster_default, &app)[0];
    assert_eq!(container["containerExitStatus"], -103, "{container}");
    assert!(container["diagnosticsInfo"].as_str().unwrap().contains("of 2.1 GB virtual memory used"), "{container}");
    assert_eq!(kills(&cluster_default, &app)[0]["reason"], "virtual_memory");
    cluster_default.stop_checked();

    let command = reserve("2");
    let args: Vec<&str> = command.iter().map(String::as_str).collect();
    for yaml in ["yarn.nodemanager.vmem-check-enabled: false\n", "yarn.nodemanager.vmem-pmem-ratio: 4\n"] {
        let cluster = cluster(yaml);
        let app = run_shell(&cluster, "1", &args);
        assert_eq!(app["finalStatus"], "SUCCEEDED", "{yaml}: {app}");
        assert_eq!(work_containers(&cluster, &app)[0]["containerExitStatus"], 0, "{yaml}");
        assert!(kills(&cluster, &app).is_empty(), "{yaml}");
        cluster.stop_checked();
    }
}

/// Numbers that look like epoch milliseconds (13 digits) standing alone in a page's text; ids that
/// carry a timestamp (`application_1796378474436_0001`) are one word and do not count.
fn epoch_numbers(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|word| word.len() == 13 && word.starts_with('1') && word.chars().all(|c| c.is_ascii_digit()))
        .map(str::to_owned)
        .collect()
}

/// Issue 15: the pages people read, in a real browser: the kill-feed page lists a memory kill with a
/// link that opens that container's stderr, and no page shows a time as epoch milliseconds.
#[test]
fn the_kill_page_links_a_memory_kill_to_its_stderr_and_no_page_shows_epoch_numbers() {
    use weft_tests::browser::{dom, visible_text};
    let cluster = cluster("");
    let hog = example("memhog");
    let app = run_shell(&cluster, "1", &["sh", "-c", &format!("echo about to grow >&2; exec {hog} 1536 400")]);
    let feed = kills(&cluster, &app);
    let kill = feed.first().unwrap_or_else(|| panic!("no kill for {app}"));
    let container = kill["containerId"].as_str().unwrap();

    let page = dom(&cluster.web_url("/cluster/kills"));
    let text = visible_text(&page);
    assert!(text.contains(container), "the kill page lists {container}:\n{text}");
    assert!(text.contains(kill["reason"].as_str().unwrap()), "{text}");
    let stderr_link = page
        .split("href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .find(|href| href.contains(container) && href.ends_with("/stderr"))
        .unwrap_or_else(|| panic!("no stderr link for {container} in:\n{page}"))
        .replace("&amp;", "&");
    let log = visible_text(&dom(&stderr_link));
    assert!(log.contains(&format!("stderr of {container}")), "{stderr_link}:\n{log}");
    assert!(log.contains("about to grow"), "the container's own stderr: {log}");

    let (_, nodes) = cluster.get("/ws/v1/cluster/nodes");
    let nm = nodes["nodes"]["node"][0]["nodeHTTPAddress"].as_str().unwrap().to_owned();
    let id = app["id"].as_str().unwrap();
    let pages = [
        cluster.web_url("/cluster"),
        cluster.web_url("/cluster/nodes"),
        cluster.web_url("/cluster/apps"),
        cluster.web_url(&format!("/cluster/app/{id}")),
        cluster.web_url("/cluster/kills"),
        format!("http://{nm}/node"),
        format!("http://{nm}/node/containers"),
    ];
    for url in pages {
        let text = visible_text(&dom(&url));
        assert!(epoch_numbers(&text).is_empty(), "{url} shows epoch numbers {:?}:\n{text}", epoch_numbers(&text));
    }
    let overview = dom(&cluster.web_url("/cluster"));
    assert!(overview.matches("<svg").count() >= 3, "the overview's charts: {overview}");
}

#[test]
fn an_epoch_number_is_told_from_an_id() {
    assert_eq!(epoch_numbers("started 1796378474436 ago"), ["1796378474436"]);
    assert!(epoch_numbers("application_1796378474436_0001 at 2026-12-04 10:06:23 UTC").is_empty());
}

//! Work-preserving NodeManager restart with the `nodemanager` binary against the test
//! ResourceManager: with recovery on and a supervisor, SIGTERM leaves the containers running and
//! the node registered; the restarted NodeManager takes a running container back (same process),
//! reports one that exited while it was down with its own exit code, and stops the one it took
//! back when its application master asks.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use support::{container_id, is_complete, request, sign, TestRm};
use weft_proto::pb;
use weft_proto::pb::container_management_client::ContainerManagementClient;

const BINARY: &str = env!("CARGO_BIN_EXE_nodemanager");

/// Polls `condition` every 20 ms until it holds, or panics after `support::DEADLINE`.
async fn wait_for<T>(what: &str, mut condition: impl FnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + support::DEADLINE;
    loop {
        if let Some(value) = condition() {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A process's start time in clock ticks (`None`: no such process, or a zombie).
fn start_time(pid: i32) -> Option<u64> {
    let stat = procfs::process::Process::new(pid).ok()?.stat().ok()?;
    (stat.state != 'Z').then_some(stat.starttime)
}

/// What the test started: the NodeManager's process and the container processes whose pids the
/// containers wrote. Dropping it (also on a failed assertion) SIGKILLs exactly those pids that are
/// still the processes seen, and removes the test's cgroup hierarchy.
struct Node {
    dir: tempfile::TempDir,
    hierarchy: String,
    config: PathBuf,
    nm: Option<Child>,
    rpc: String,
    http: String,
    /// Container processes (pid, start time) to end if the test fails half-way.
    started: Vec<(i32, u64)>,
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(mut nm) = self.nm.take() {
            let _ = nm.kill();
            let _ = nm.wait();
        }
        for &(pid, start) in &self.started {
            if start_time(pid) == Some(start) {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
        }
        support::remove_hierarchy(&self.hierarchy);
    }
}

impl Node {
    fn new(rm: &TestRm) -> Node {
        Node::with(rm, true)
    }

    /// A node with recovery on, under a supervisor or not.
    fn with(rm: &TestRm, supervised: bool) -> Node {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        // Recovery needs a fixed container port (the node id): a free one, bound again by each run.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let hierarchy = support::test_hierarchy();
        let config = dir.path().join("nm.yaml");
        let yaml = format!(
            "yarn.resourcemanager.address: {rm}\n\
             yarn.resourcemanager.resource-tracker.address: {rm}\n\
             yarn.nodemanager.address: 127.0.0.1:{port}\n\
             yarn.nodemanager.webapp.address: 127.0.0.1:0\n\
             yarn.nodemanager.resource.memory-mb: 4096\n\
             yarn.nodemanager.resource.cpu-vcores: 4\n\
             yarn.nodemanager.sleep-delay-before-sigkill.ms: 100\n\
             yarn.nodemanager.local-dirs: {local}\n\
             yarn.nodemanager.log-dirs: {logs}\n\
             yarn.nodemanager.linux-container-executor.cgroups.hierarchy: {hierarchy}\n\
             yarn.nodemanager.container-executor.class: DefaultContainerExecutor\n\
             yarn.nodemanager.recovery.enabled: true\n\
             yarn.nodemanager.recovery.dir: {recovery}\n\
             yarn.nodemanager.recovery.supervised: {supervised}\n\
             yarn.acl.enable: true\n\
             yarn.admin.acl: carol\n",
            rm = rm.address,
            local = dir.path().join("local").display(),
            logs = dir.path().join("logs").display(),
            recovery = dir.path().join("recovery").display(),
        );
        std::fs::write(&config, yaml).unwrap();
        Node { dir, hierarchy, config, nm: None, rpc: String::new(), http: String::new(), started: Vec::new() }
    }

    /// Starts the NodeManager and waits for its ports file.
    async fn start(&mut self, run: u32) {
        let ports = self.dir.path().join(format!("ports-{run}.json"));
        let log = std::fs::File::create(self.dir.path().join(format!("nm-{run}.log"))).unwrap();
        let child = Command::new(BINARY)
            .arg("--config")
            .arg(&self.config)
            .arg("--ports-file")
            .arg(&ports)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.nm = Some(child);
        let text = wait_for("the ports file", || std::fs::read_to_string(&ports).ok()).await;
        let ports: serde_json::Value = serde_json::from_str(&text).unwrap();
        self.rpc = ports["rpc"].as_str().unwrap().to_owned();
        self.http = ports["http"].as_str().unwrap().to_owned();
    }

    /// SIGTERM, then the exit status (0 expected).
    async fn terminate(&mut self) -> std::process::ExitStatus {
        let mut nm = self.nm.take().expect("a running NodeManager");
        kill(Pid::from_raw(nm.id() as i32), Signal::SIGTERM).unwrap();
        tokio::task::spawn_blocking(move || nm.wait().unwrap()).await.unwrap()
    }

    fn log(&self, run: u32) -> String {
        std::fs::read_to_string(self.dir.path().join(format!("nm-{run}.log"))).unwrap_or_default()
    }

    async fn client(&self) -> ContainerManagementClient<tonic::transport::Channel> {
        ContainerManagementClient::connect(format!("http://{}", self.rpc)).await.unwrap()
    }

    async fn container(&self, id: &str) -> serde_json::Value {
        let url = format!("http://{}/ws/v1/node/containers/{id}", self.http);
        let body: serde_json::Value = reqwest::get(url).await.unwrap().json().await.unwrap();
        body["container"].clone()
    }

    async fn wait_state(&self, id: &str, state: &str) -> serde_json::Value {
        let deadline = tokio::time::Instant::now() + support::DEADLINE;
        loop {
            let container = self.container(id).await;
            if container["state"] == state {
                return container;
            }
            assert!(tokio::time::Instant::now() < deadline, "{id} never reached {state}: {container}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The pid a container's command wrote to `<dir>/<name>`, once there, with its start time.
    async fn command_pid(&mut self, name: &str) -> (i32, u64) {
        let file = self.dir.path().join(name);
        let pid: i32 = wait_for(name, || std::fs::read_to_string(&file).ok()?.trim().parse().ok()).await;
        let start = start_time(pid).expect("the container's command runs");
        self.started.push((pid, start));
        (pid, start)
    }
}

/// Starts containers with tokens the test ResourceManager signed for `node`.
async fn start(node: &Node, containers: &[(&str, &[&str])]) {
    let mut requests: Vec<pb::StartContainerRequest> =
        containers.iter().map(|(id, command)| request(id, command)).collect();
    for r in &mut requests {
        r.container_token = sign(&r.container_id, &node.rpc);
    }
    let mut client = node.client().await;
    let response = client.start_containers(pb::StartContainersRequest { requests }).await.unwrap().into_inner();
    assert_eq!(response.started.len(), containers.len(), "{response:?}");
}

fn work_dir(root: &Path, id: &str) -> PathBuf {
    let app = id.replacen("container_", "application_", 1);
    let app = app.rsplitn(3, '_').nth(2).unwrap().to_owned();
    root.join("local/usercache/alice/appcache").join(app).join(id)
}

#[tokio::test]
async fn containers_survive_a_supervised_restart_and_are_reported_as_they_are() {
    let rm = TestRm::start(50).await;
    let mut node = Node::new(&rm);
    node.start(1).await;
    rm.wait_for("a registration", |s| (!s.registrations.is_empty()).then_some(())).await;
    let dir = node.dir.path().to_owned();
    let (sleeper, exits_3) = (container_id(1, 2), container_id(1, 3));
    let sleeper_command = format!("echo $$ > {}/sleeper.pid; exec sleep 600", dir.display());
    let exits_3_command = format!(
        "echo $$ > {d}/exits3.pid; while [ ! -e {d}/go ]; do sleep 0.05; done; echo leaving >&2; exit 3",
        d = dir.display()
    );
    let mut with_acl = request(&sleeper, &["sh", "-c", &sleeper_command]);
    with_acl.launch.as_mut().unwrap().view_acls = "bob".into();
    let mut requests = vec![with_acl, request(&exits_3, &["sh", "-c", &exits_3_command])];
    for r in &mut requests {
        r.container_token = sign(&r.container_id, &node.rpc);
    }
    let mut client = node.client().await;
    let started = client.start_containers(pb::StartContainersRequest { requests }).await.unwrap().into_inner();
    assert_eq!(started.started, [sleeper.clone(), exits_3.clone()], "{started:?}");
    node.wait_state(&sleeper, "RUNNING").await;
    node.wait_state(&exits_3, "RUNNING").await;
    let (sleeper_pid, sleeper_start) = node.command_pid("sleeper.pid").await;
    let (exits_3_pid, _) = node.command_pid("exits3.pid").await;

    // SIGTERM under a supervisor: the containers keep running, a last heartbeat, no unregistering.
    let beats_before = rm.state.lock().unwrap().beats.len();
    let status = node.terminate().await;
    assert!(status.success(), "the NodeManager exits 0: {status:?}\n{}", node.log(1));
    {
        let state = rm.state.lock().unwrap();
        assert!(state.unregistered.is_empty(), "a supervised NodeManager does not unregister");
        assert!(state.beats.len() > beats_before, "a last heartbeat was sent");
        let last = &state.beats.last().unwrap().request;
        assert!(last.containers.iter().all(|c| !is_complete(c)), "nothing was stopped: {last:?}");
    }
    assert_eq!(start_time(sleeper_pid), Some(sleeper_start), "the sleeper runs on without a NodeManager");

    // One container ends (exit 3) while no NodeManager runs.
    std::fs::write(dir.join("go"), b"").unwrap();
    let exit_file = work_dir(&dir, &exits_3).join(".exitcode");
    wait_for("the exit code file", || (start_time(exits_3_pid).is_none() && exit_file.exists()).then_some(())).await;

    let beats_before_restart = rm.state.lock().unwrap().beats.len();
    node.start(2).await;
    let registration = rm.wait_for("a second registration", |s| s.registrations.get(1).cloned()).await;
    // A heartbeat after it: the NodeManager has read the answer with the ResourceManager's keys.
    rm.wait_for("a heartbeat of the restarted NodeManager", |s| (s.beats.len() > beats_before_restart).then_some(()))
        .await;
    let by_id = |id: &str| registration.containers.iter().find(|c| c.container_id == id).cloned();
    let reported = by_id(&sleeper).expect("the sleeper is in the registration");
    assert_eq!(reported.state, pb::ContainerState::Running as i32, "{reported:?}");
    let reported = by_id(&exits_3).expect("the exited container is in the registration");
    assert!(is_complete(&reported), "{reported:?}");
    assert_eq!(reported.exit_status, 3, "{reported:?}");
    assert!(reported.diagnostics.contains("leaving"), "the stderr tail: {}", reported.diagnostics);

    let sleeper_rest = node.wait_state(&sleeper, "RUNNING").await;
    assert_eq!(sleeper_rest["user"], "alice", "{sleeper_rest}");
    assert_eq!(start_time(sleeper_pid), Some(sleeper_start), "the same process, taken back");
    let exits_3_rest = node.container(&exits_3).await;
    assert_eq!(exits_3_rest["exitCode"], 3, "{exits_3_rest}");
    // Its logs are read with the same ACL decisions as before the restart: owner, admin, view ACL.
    for (user, allowed) in [("alice", true), ("carol", true), ("bob", true), ("mallory", false)] {
        let url = format!("http://{}/ws/v1/node/containerlogs/{sleeper}/stderr?user.name={user}", node.http);
        let status = reqwest::get(url).await.unwrap().status().as_u16();
        assert_eq!(status, if allowed { 200 } else { 403 }, "{user} reading the taken-back container's log");
    }

    // A new container of the same application starts on the restarted NodeManager.
    let newcomer = container_id(1, 4);
    start(&node, &[(&newcomer, &["sh", "-c", "echo hello"])]).await;
    assert_eq!(rm.completed_status(&newcomer).await.exit_status, 0);

    // The application master stops the container taken back.
    let token = support::nm_token(&sleeper, &node.rpc);
    let mut client = node.client().await;
    let stop = support::with_nm_token(pb::StopContainersRequest { container_ids: vec![sleeper.clone()] }, &token);
    let stopped = client.stop_containers(stop).await.unwrap().into_inner();
    assert!(stopped.failed.is_empty(), "{stopped:?}");
    let status = rm.completed_status(&sleeper).await;
    assert_eq!(status.exit_status, -105, "{status:?}");
    assert!(status.diagnostics.contains("Container killed by the ApplicationMaster."), "{}", status.diagnostics);
    wait_for("the sleeper to be gone", || start_time(sleeper_pid).is_none().then_some(())).await;
    let sleeper_rest = node.wait_state(&sleeper, "DONE").await;
    assert_eq!(sleeper_rest["exitCode"], -105, "{sleeper_rest}");

    // Acknowledged completions leave no record behind.
    let records = dir.join("recovery");
    wait_for("the records to be removed", || {
        let left = std::fs::read_dir(&records).ok()?.count();
        (left == 0).then_some(())
    })
    .await;
    let status = node.terminate().await;
    assert!(status.success(), "{status:?}\n{}", node.log(2));
    let log = node.log(2);
    assert!(!log.contains("ERROR"), "no error in the restarted NodeManager's log:\n{log}");
    let left = support::remove_hierarchy(&node.hierarchy);
    assert!(left.is_empty(), "cgroups left behind: {left:?}");
}

#[tokio::test]
async fn with_recovery_a_live_node_manager_reports_exit_codes_and_stops_as_without_it() {
    let rm = TestRm::start(50).await;
    let mut node = Node::with(&rm, false);
    node.start(1).await;
    rm.wait_for("a registration", |s| (!s.registrations.is_empty()).then_some(())).await;
    let dir = node.dir.path().to_owned();
    let ids: Vec<String> = (2..=6).map(|n| container_id(1, n)).collect();
    let traps = format!("echo $$ > {}/traps.pid; trap 'exit 0' TERM; while :; do sleep 0.05; done", dir.display());
    let sleeps = format!("echo $$ > {}/sleeps.pid; exec sleep 600", dir.display());
    let stays = format!("echo $$ > {}/stays.pid; exec sleep 600", dir.display());
    start(
        &node,
        &[
            (&ids[0], &["sh", "-c", "echo done; exit 0"]),
            (&ids[1], &["weft-no-such-program"]),
            (&ids[2], &["sh", "-c", &traps]),
            (&ids[3], &["sh", "-c", &sleeps]),
            (&ids[4], &["sh", "-c", &stays]),
        ],
    )
    .await;
    let status = rm.completed_status(&ids[0]).await;
    assert_eq!((status.exit_status, status.diagnostics.as_str()), (0, ""));
    let status = rm.completed_status(&ids[1]).await;
    assert_eq!(status.exit_status, 127, "{status:?}");
    assert!(status.diagnostics.contains("Cannot run program \"weft-no-such-program\""), "{}", status.diagnostics);
    assert!(status.diagnostics.contains("No such file or directory"), "{}", status.diagnostics);
    let (traps_pid, _) = node.command_pid("traps.pid").await;
    let (sleeps_pid, _) = node.command_pid("sleeps.pid").await;
    let (stays_pid, _) = node.command_pid("stays.pid").await;

    // A stop's SIGTERM reaches the command: one that catches it ends as it chooses (0), one that
    // does not dies of it (143), exactly as without the wrapper.
    let token = support::nm_token(&ids[2], &node.rpc);
    let mut client = node.client().await;
    let stop = pb::StopContainersRequest { container_ids: vec![ids[2].clone(), ids[3].clone()] };
    client.stop_containers(support::with_nm_token(stop, &token)).await.unwrap();
    let status = rm.completed_status(&ids[2]).await;
    assert_eq!(status.exit_status, -105, "{status:?}");
    assert!(status.diagnostics.contains("Container killed on request. Exit code is 0"), "{}", status.diagnostics);
    let status = rm.completed_status(&ids[3]).await;
    assert!(status.diagnostics.contains("Container killed on request. Exit code is 143"), "{}", status.diagnostics);
    for pid in [traps_pid, sleeps_pid] {
        wait_for("the stopped commands to be gone", || start_time(pid).is_none().then_some(())).await;
    }

    // Recovery without a supervisor: shutdown stops everything and the node leaves, as before.
    let status = node.terminate().await;
    assert!(status.success(), "{status:?}\n{}", node.log(1));
    let status = rm.completed_status(&ids[4]).await;
    assert_eq!(status.exit_status, -100, "{status:?}");
    assert!(start_time(stays_pid).is_none(), "the last container was stopped at shutdown");
    assert_eq!(rm.state.lock().unwrap().unregistered.len(), 1, "the node unregistered");
    let left: Vec<_> = std::fs::read_dir(dir.join("recovery")).unwrap().flatten().map(|e| e.file_name()).collect();
    assert!(left.is_empty(), "every completion was acknowledged, no record is left: {left:?}");
    let log = node.log(1);
    assert!(!log.contains("ERROR"), "no error in the NodeManager's log:\n{log}");
}

#[tokio::test]
async fn a_decommissioned_node_stops_its_containers_even_under_a_supervisor() {
    let rm = TestRm::start(50).await;
    let mut node = Node::new(&rm);
    node.start(1).await;
    rm.wait_for("a registration", |s| (!s.registrations.is_empty()).then_some(())).await;
    let id = container_id(1, 2);
    let command = format!("echo $$ > {}/sleeps.pid; exec sleep 600", node.dir.path().display());
    start(&node, &[(&id, &["sh", "-c", &command])]).await;
    let (pid, _) = node.command_pid("sleeps.pid").await;
    rm.script(pb::NodeHeartbeatResponse { action: pb::NodeAction::Shutdown as i32, ..Default::default() });
    let mut nm = node.nm.take().unwrap();
    let status = tokio::task::spawn_blocking(move || nm.wait().unwrap()).await.unwrap();
    assert!(status.success(), "{status:?}\n{}", node.log(1));
    let status = rm.completed_status(&id).await;
    assert_eq!(status.exit_status, -100, "{status:?}");
    assert!(start_time(pid).is_none(), "the container was stopped");
}

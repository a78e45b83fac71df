//! A local cluster of real daemons for one test: its own temp dir, ports, logs and processes.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::Value;

use crate::{binary, wait_for};

const START_TIMEOUT: Duration = Duration::from_secs(30);

/// How to build the cluster.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    pub node_managers: usize,
    pub nm_memory_mb: i64,
    pub nm_vcores: i32,
    /// Extra YAML lines for the ResourceManager's file.
    pub rm_yaml: String,
    /// Extra YAML lines for every NodeManager's file.
    pub nm_yaml: String,
    /// Extra environment of every NodeManager (e.g. `JAVA_HOME`, which YARN's containers inherit).
    pub nm_env: Vec<(String, String)>,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions {
            node_managers: 2,
            nm_memory_mb: 8192,
            nm_vcores: 8,
            rm_yaml: String::new(),
            nm_yaml: String::new(),
            nm_env: Vec::new(),
        }
    }
}

/// One daemon process and the log its stdout and stderr go to.
pub(crate) struct Daemon {
    pub(crate) name: String,
    pub(crate) child: Child,
    pub(crate) log: PathBuf,
}

impl Daemon {
    fn spawn(name: &str, program: &Path, args: &[&str], dir: &Path, env: &[(String, String)]) -> Daemon {
        let mut command = Command::new(program);
        command.args(args).envs(env.iter().map(|(k, v)| (k, v)));
        Daemon::spawn_command(name, command, dir)
    }

    /// Starts `command` (a daemon, maybe behind a wrapper that execs it, so the pid stays the
    /// daemon's) with its output appended to `<dir>/<name>.log`: a restarted daemon adds to its log.
    pub(crate) fn spawn_command(name: &str, mut command: Command, dir: &Path) -> Daemon {
        let log = dir.join(format!("{name}.log"));
        let file = fs::OpenOptions::new().create(true).append(true).open(&log).expect("log file");
        let child = command
            .env("NO_COLOR", "1")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log file"))
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {:?}: {e}", command.get_program()));
        Daemon { name: name.to_owned(), child, log }
    }

    pub(crate) fn signal(&self, signal: Signal) {
        let _ = kill(Pid::from_raw(self.child.id() as i32), signal);
    }

    /// SIGTERM, then SIGKILL if it has not exited within 15 s.
    pub(crate) fn stop(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        self.signal(Signal::SIGTERM);
        for _ in 0..300 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.signal(Signal::SIGKILL);
        let _ = self.child.wait();
    }
}

/// What a `weft` run printed and how it exited.
#[derive(Debug)]
pub struct WeftOutput {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl WeftOutput {
    pub fn both(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// NodeManager addresses read from its ports file.
#[derive(Debug, Clone)]
pub struct NmAddresses {
    pub rpc: String,
    pub http: String,
}

pub struct Cluster {
    pub dir: tempfile::TempDir,
    serial: usize,
    rm: Daemon,
    nms: Vec<Option<Daemon>>,
    pub rm_client: String,
    /// The scheduler port: Weft's AM gRPC and YARN's ApplicationMasterProtocolPB.
    pub rm_scheduler: String,
    pub rm_webapp: String,
    pub nm_addresses: Vec<NmAddresses>,
    pub client_config: PathBuf,
    http: reqwest::blocking::Client,
}

pub(crate) fn read_ports(path: &Path) -> Value {
    wait_for(&format!("ports file {}", path.display()), START_TIMEOUT, || {
        fs::read(path).ok().and_then(|bytes| serde_json::from_slice(&bytes).ok())
    })
}

pub(crate) fn field(ports: &Value, key: &str) -> String {
    ports[key].as_str().unwrap_or_else(|| panic!("ports file has no {key}: {ports}")).to_owned()
}

impl Cluster {
    pub fn start(options: ClusterOptions) -> Cluster {
        let dir = tempfile::Builder::new().prefix("weft-e2e-").tempdir().expect("temp dir");
        // Containers run as another user (nobody) when the tests run as root: they must pass.
        fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("chmod temp dir");
        let root = dir.path().to_owned();
        let rm_yaml = format!(
            "yarn.resourcemanager.address: 127.0.0.1:0\n\
             yarn.resourcemanager.scheduler.address: 127.0.0.1:0\n\
             yarn.resourcemanager.resource-tracker.address: 127.0.0.1:0\n\
             yarn.resourcemanager.webapp.address: 127.0.0.1:0\n\
             yarn.resourcemanager.nodemanagers.heartbeat-interval-ms: 200\n\
             yarn.resourcemanager.am-finish.grace-ms: 1000\n\
             hadoop.tmp.dir: {}\n{}",
            root.join("rm").display(),
            options.rm_yaml
        );
        fs::write(root.join("rm.yaml"), rm_yaml).expect("write rm.yaml");
        let rm_ports = root.join("rm-ports.json");
        let rm = Daemon::spawn(
            "resourcemanager",
            &binary("resourcemanager"),
            &["--config", &path_str(&root.join("rm.yaml")), "--ports-file", &path_str(&rm_ports)],
            &root,
            &[],
        );
        let ports = read_ports(&rm_ports);
        let (rm_client, rm_tracker, rm_webapp, rm_scheduler) =
            (field(&ports, "client"), field(&ports, "tracker"), field(&ports, "webapp"), field(&ports, "scheduler"));
        let client_config = root.join("client.yaml");
        fs::write(
            &client_config,
            format!(
                "yarn.resourcemanager.address: {rm_client}\nyarn.resourcemanager.webapp.address: {rm_webapp}\n\
                 yarn.resourcemanager.scheduler.address: {rm_scheduler}\n\
                 yarn.resourcemanager.connect.retry-interval.ms: 500\n"
            ),
        )
        .expect("write client.yaml");
        let http = reqwest::blocking::Client::builder().timeout(Duration::from_secs(10)).build().expect("http client");
        static SERIAL: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let serial = SERIAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut cluster = Cluster {
            dir,
            serial,
            rm,
            nms: Vec::new(),
            rm_client,
            rm_scheduler,
            rm_webapp,
            nm_addresses: Vec::new(),
            client_config,
            http,
        };
        for i in 0..options.node_managers {
            cluster.start_nm(i, &rm_tracker, &options);
        }
        let n = options.node_managers;
        cluster.wait_for_running_nodes(n);
        cluster
    }

    fn start_nm(&mut self, i: usize, rm_tracker: &str, options: &ClusterOptions) {
        let root = self.dir.path().join(format!("nm{i}"));
        fs::create_dir_all(&root).expect("nm dir");
        let yaml = format!(
            "yarn.resourcemanager.address: {}\n\
             yarn.resourcemanager.resource-tracker.address: {rm_tracker}\n\
             yarn.nodemanager.address: 127.0.0.1:0\n\
             yarn.nodemanager.webapp.address: 127.0.0.1:0\n\
             yarn.nodemanager.resource.memory-mb: {}\n\
             yarn.nodemanager.resource.cpu-vcores: {}\n\
             yarn.nodemanager.local-dirs: {}\n\
             yarn.nodemanager.log-dirs: {}\n\
             yarn.nodemanager.linux-container-executor.cgroups.hierarchy: {}\n{}",
            self.rm_client,
            options.nm_memory_mb,
            options.nm_vcores,
            root.join("local").display(),
            root.join("logs").display(),
            self.cgroup_hierarchy(i),
            options.nm_yaml
        );
        let config = root.join("nm.yaml");
        fs::write(&config, yaml).expect("write nm.yaml");
        let ports_file = root.join("ports.json");
        let daemon = Daemon::spawn(
            &format!("nodemanager{i}"),
            &binary("nodemanager"),
            &["--config", &path_str(&config), "--ports-file", &path_str(&ports_file)],
            self.dir.path(),
            &options.nm_env,
        );
        let ports = read_ports(&ports_file);
        self.nm_addresses.push(NmAddresses { rpc: field(&ports, "rpc"), http: field(&ports, "http") });
        self.nms.push(Some(daemon));
    }

    /// NodeManager `i`'s cgroup hierarchy: unique to this test process and cluster, so parallel
    /// clusters never touch each other's groups (a NodeManager clears its hierarchy at start-up).
    pub fn cgroup_hierarchy(&self, i: usize) -> String {
        format!("weft-e2e-{}-{}-nm{i}", std::process::id(), self.serial)
    }

    /// Waits until `n` nodes are RUNNING in the ResourceManager's REST.
    pub fn wait_for_running_nodes(&self, n: usize) {
        wait_for(&format!("{n} running nodes"), START_TIMEOUT, || {
            let (_, body) = self.get("/ws/v1/cluster/nodes");
            let running = body["nodes"]["node"]
                .as_array()
                .map_or(0, |nodes| nodes.iter().filter(|node| node["state"] == "RUNNING").count());
            (running == n).then_some(())
        });
    }

    pub fn web_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.rm_webapp)
    }

    /// GET on the ResourceManager's web port: status and JSON body (Null when not JSON).
    pub fn get(&self, path: &str) -> (u16, Value) {
        self.get_url(&self.web_url(path))
    }

    pub fn get_url(&self, url: &str) -> (u16, Value) {
        let response = self.http.get(url).send().unwrap_or_else(|e| panic!("GET {url}: {e}"));
        let status = response.status().as_u16();
        (status, response.json().unwrap_or(Value::Null))
    }

    pub fn get_text(&self, url: &str) -> (u16, String) {
        let response = self.http.get(url).send().unwrap_or_else(|e| panic!("GET {url}: {e}"));
        (response.status().as_u16(), response.text().unwrap_or_default())
    }

    /// PUT with a raw body; returns status, Location header and JSON body.
    pub fn put(&self, path: &str, body: &str) -> (u16, Option<String>, Value) {
        let url = self.web_url(path);
        let response = self
            .http
            .put(&url)
            .header("Content-Type", "application/json")
            .body(body.to_owned())
            .send()
            .unwrap_or_else(|e| panic!("PUT {url}: {e}"));
        let status = response.status().as_u16();
        let location = response.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_owned);
        (status, location, response.json().unwrap_or(Value::Null))
    }

    /// Runs `weft --config <client.yaml> ARGS…` to completion.
    pub fn weft(&self, args: &[&str]) -> WeftOutput {
        let output = self.weft_command(args).output().expect("run weft");
        WeftOutput {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// `weft submit --master yarn --deploy-mode MODE` of a Spark program (`PROGRAM ARGS…`) with two
    /// executors of 512m and 1 core and a 512m driver: small enough for the test NodeManagers.
    pub fn spark_submit(&self, mode: &str, program: &[&str]) -> WeftOutput {
        let mut args = vec!["submit", "--master", "yarn", "--deploy-mode", mode, "--num-executors", "2"];
        args.extend(["--executor-memory", "512m", "--executor-cores", "1", "--driver-memory", "512m"]);
        args.extend_from_slice(program);
        self.weft(&args)
    }

    /// `weft --config <client.yaml> ARGS…`, not started, for tests that run it in the background.
    /// It runs with umask 000: a client-mode driver makes the job's output directories, and its
    /// executors, running as another user, write into them (as a cluster's users share a group).
    pub fn weft_command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(binary("weft"));
        command.arg("--config").arg(&self.client_config).args(args).env("NO_COLOR", "1").stdin(Stdio::null());
        // The client's remembered staging hashes go to the cluster's directory, not the user's ~/.cache.
        command.env("XDG_CACHE_HOME", self.dir.path().join("client-cache"));
        // SAFETY: umask is async-signal-safe and cannot fail.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut command, || {
                nix::sys::stat::umask(nix::sys::stat::Mode::empty());
                Ok(())
            });
        }
        command
    }

    /// The cluster's own temp directory (removed with the cluster).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The application's REST object.
    pub fn app(&self, id: &str) -> Value {
        let (status, body) = self.get(&format!("/ws/v1/cluster/apps/{id}"));
        assert_eq!(status, 200, "GET app {id}: {body}");
        body["app"].clone()
    }

    /// Waits until the application's state is one of `states`; returns its REST object.
    pub fn wait_app_state(&self, id: &str, states: &[&str], timeout: Duration) -> Value {
        wait_for(&format!("{id} to reach {states:?}"), timeout, || {
            let app = self.app(id);
            states.iter().any(|s| app["state"] == *s).then_some(app)
        })
    }

    /// The newest application id the ResourceManager knows, if any.
    pub fn latest_app_id(&self) -> Option<String> {
        let (_, body) = self.get("/ws/v1/cluster/apps");
        body["apps"]["app"].as_array()?.iter().filter_map(|a| a["id"].as_str()).max().map(str::to_owned)
    }

    /// SIGKILLs NodeManager `i` (its containers are left running, as after a crash).
    /// Stops NodeManager `i` as an operator does: SIGTERM, and wait for it to exit.
    pub fn stop_nm(&mut self, i: usize) {
        if let Some(mut nm) = self.nms[i].take() {
            nm.stop();
        }
    }

    /// Stops the ResourceManager as an operator does (SIGTERM); the NodeManagers, their containers
    /// and the clients go on without it.
    pub fn stop_rm(&mut self) {
        self.rm.stop();
    }

    /// Starts the ResourceManager again with its file, on the ports it had, so NodeManagers,
    /// clients and application masters reach it where they did.
    pub fn start_rm_again(&mut self) {
        let root = self.dir.path().to_owned();
        let ports_file = root.join("rm-ports.json");
        let ports = read_ports(&ports_file);
        let mut yaml = fs::read_to_string(root.join("rm.yaml")).expect("rm.yaml");
        for (key, bound) in [
            ("yarn.resourcemanager.address", "client"),
            ("yarn.resourcemanager.scheduler.address", "scheduler"),
            ("yarn.resourcemanager.resource-tracker.address", "tracker"),
            ("yarn.resourcemanager.webapp.address", "webapp"),
        ] {
            yaml = yaml.replace(&format!("{key}: 127.0.0.1:0\n"), &format!("{key}: {}\n", field(&ports, bound)));
        }
        fs::write(root.join("rm.yaml"), yaml).expect("write rm.yaml");
        fs::remove_file(&ports_file).expect("remove the old ports file");
        self.rm = Daemon::spawn(
            "resourcemanager",
            &binary("resourcemanager"),
            &["--config", &path_str(&root.join("rm.yaml")), "--ports-file", &path_str(&ports_file)],
            &root,
            &[],
        );
        read_ports(&ports_file);
    }

    /// Waits until every NodeManager has logged a failed heartbeat since `since_lines` lines of its
    /// log (see [`Cluster::log_lines`]): the ResourceManager's absence has been felt.
    pub fn wait_nodes_miss_rm(&self, since_lines: &[usize]) {
        wait_for("every NodeManager to find the ResourceManager gone", START_TIMEOUT, || {
            self.logs()
                .iter()
                .filter(|(name, _)| name.starts_with("nodemanager"))
                .zip(since_lines)
                .all(|((_, text), &n)| text.lines().skip(n).any(|l| l.contains("heartbeat failed")))
                .then_some(())
        })
    }

    /// How many lines each NodeManager's log has now, in order.
    pub fn log_lines(&self) -> Vec<usize> {
        self.logs().iter().filter(|(name, _)| name.starts_with("nodemanager")).map(|(_, t)| t.lines().count()).collect()
    }

    pub fn kill_nm(&mut self, i: usize) {
        if let Some(mut nm) = self.nms[i].take() {
            nm.signal(Signal::SIGKILL);
            let _ = nm.child.wait();
        }
    }

    /// Live processes of this cluster's containers whose id starts with `prefix`.
    pub fn container_pids(&self, prefix: &str) -> Vec<i32> {
        crate::procs::container_pids(self.dir.path(), prefix)
    }

    /// The pid of every daemon still running, by name.
    pub fn daemon_pids(&self) -> Vec<(String, i32)> {
        std::iter::once(&self.rm)
            .chain(self.nms.iter().flatten())
            .map(|d| (d.name.clone(), d.child.id() as i32))
            .collect()
    }

    /// The text of every daemon log, by daemon name.
    pub fn logs(&self) -> Vec<(String, String)> {
        std::iter::once(&self.rm)
            .chain(self.nms.iter().flatten())
            .map(|d| (d.name.clone(), fs::read_to_string(&d.log).unwrap_or_default()))
            .collect()
    }

    /// Stops every daemon with SIGTERM and fails the test if any logged an ERROR or left a
    /// container cgroup behind.
    pub fn stop_checked(mut self) {
        self.stop_all();
        for (name, text) in self.logs() {
            let errors: Vec<&str> = text.lines().filter(|l| l.contains(" ERROR ")).collect();
            assert!(errors.is_empty(), "{name} logged errors:\n{}", errors.join("\n"));
        }
        let leftovers = self.remove_cgroups();
        assert!(leftovers.is_empty(), "container cgroups left behind: {leftovers:?}");
    }

    fn stop_all(&mut self) {
        for nm in self.nms.iter_mut().flatten() {
            nm.stop();
        }
        self.rm.stop();
    }

    /// Removes this cluster's cgroup hierarchies in every mounted controller; returns the container
    /// groups that were still inside them.
    fn remove_cgroups(&self) -> Vec<std::path::PathBuf> {
        crate::cgroups::remove_hierarchies((0..self.nms.len()).map(|i| self.cgroup_hierarchy(i)))
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop_all();
        self.remove_cgroups();
    }
}

fn path_str(path: &Path) -> String {
    path.to_str().expect("temp paths are UTF-8").to_owned()
}

//! A cluster spread over the hosts of a [`Network`]: the ResourceManager on host `rm`, one NodeManager
//! on each host `nm<i>`, every daemon bound to its own host's address through its host name
//! (`yarn.resourcemanager.hostname`, `yarn.nodemanager.hostname`) on YARN's fixed ports, as on real
//! hosts. `weft` runs on the ResourceManager's host, which doubles as the gateway.
//!
//! Every daemon can be stopped and started again in place (same host, address, ports, config and
//! dirs; its log goes on in the same file): [`MultiHostCluster::stop_rm`] / [`MultiHostCluster::start_rm`],
//! [`MultiHostCluster::stop_nm`] / [`MultiHostCluster::kill_nm`] / [`MultiHostCluster::start_nm`].

use std::fs;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use nix::sys::signal::Signal;
use serde_json::Value;

use crate::cluster::{read_ports, Daemon, WeftOutput};
use crate::netns::{Host, Network};
use crate::{binary, wait_for};

const START_TIMEOUT: Duration = Duration::from_secs(60);
/// YARN's ports: every host has its own address, so each daemon keeps the default.
pub const RM_CLIENT_PORT: u16 = 8032;
pub const RM_WEB_PORT: u16 = 8088;
pub const NM_PORT: u16 = 8041;
pub const NM_WEB_PORT: u16 = 8042;

/// How to build the cluster.
#[derive(Debug, Clone)]
pub struct MultiHostOptions {
    pub node_managers: usize,
    pub nm_memory_mb: i64,
    pub nm_vcores: i32,
    /// Extra YAML lines for the ResourceManager's file.
    pub rm_yaml: String,
    /// Extra YAML lines for every NodeManager's file; `{nm_dir}` becomes that NodeManager's own
    /// directory (e.g. `yarn.nodemanager.recovery.dir: {nm_dir}/recovery`).
    pub nm_yaml: String,
    /// Extra YAML lines for `weft`'s file on the gateway (e.g. how often it retries the ResourceManager).
    pub client_yaml: String,
}

impl Default for MultiHostOptions {
    fn default() -> Self {
        MultiHostOptions {
            node_managers: 2,
            nm_memory_mb: 4096,
            nm_vcores: 4,
            rm_yaml: String::new(),
            nm_yaml: String::new(),
            client_yaml: String::new(),
        }
    }
}

pub struct MultiHostCluster {
    rm: Option<Daemon>,
    nms: Vec<Option<Daemon>>,
    /// Dropped after the daemons (see `Drop`), before the directory.
    pub net: Network,
    dir: tempfile::TempDir,
    serial: usize,
    http: reqwest::blocking::Client,
}

impl MultiHostCluster {
    pub fn start(options: MultiHostOptions) -> MultiHostCluster {
        let dir = tempfile::Builder::new().prefix("weft-multihost-").tempdir().expect("temp dir");
        // Containers run as another user (nobody) when the tests run as root: they must pass.
        fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("chmod temp dir");
        let mut roles = vec!["rm".to_owned()];
        roles.extend((0..options.node_managers).map(|i| format!("nm{i}")));
        let net = Network::create(&roles.iter().map(String::as_str).collect::<Vec<_>>(), dir.path());
        // The test itself is on none of the hosts: it reaches them by address.
        let mut http = reqwest::blocking::Client::builder().timeout(Duration::from_secs(10));
        for host in &net.hosts {
            http = http.resolve(&host.name, std::net::SocketAddr::from((host.ip, 0)));
        }
        static SERIAL: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let mut cluster = MultiHostCluster {
            rm: None,
            nms: (0..options.node_managers).map(|_| None).collect(),
            net,
            dir,
            serial: SERIAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            http: http.build().expect("http client"),
        };
        cluster.write_configs(&options);
        cluster.start_rm();
        for i in 0..options.node_managers {
            cluster.start_nm(i);
        }
        cluster.wait_for_running_nodes(options.node_managers);
        cluster
    }

    fn write_configs(&self, options: &MultiHostOptions) {
        let rm = self.rm_host();
        let root = self.dir.path();
        fs::create_dir_all(root.join("rm")).expect("rm dir");
        let rm_yaml = format!(
            "yarn.resourcemanager.hostname: {}\n\
             yarn.resourcemanager.nodemanagers.heartbeat-interval-ms: 200\n\
             yarn.resourcemanager.am-finish.grace-ms: 1000\n\
             hadoop.tmp.dir: {}\n{}",
            rm.name,
            root.join("rm").display(),
            options.rm_yaml
        );
        fs::write(self.rm_config(), rm_yaml).expect("write rm.yaml");
        let client_yaml = format!("yarn.resourcemanager.hostname: {}\n{}", rm.name, options.client_yaml);
        fs::write(self.client_config(), client_yaml).expect("client.yaml");
        for i in 0..self.nms.len() {
            let nm_root = root.join(format!("nm{i}"));
            fs::create_dir_all(&nm_root).expect("nm dir");
            let yaml = format!(
                "yarn.resourcemanager.hostname: {}\n\
                 yarn.nodemanager.hostname: {}\n\
                 yarn.nodemanager.resource.memory-mb: {}\n\
                 yarn.nodemanager.resource.cpu-vcores: {}\n\
                 yarn.nodemanager.local-dirs: {}\n\
                 yarn.nodemanager.log-dirs: {}\n\
                 yarn.nodemanager.linux-container-executor.cgroups.hierarchy: {}\n{}",
                rm.name,
                self.nm_host(i).name,
                options.nm_memory_mb,
                options.nm_vcores,
                nm_root.join("local").display(),
                nm_root.join("logs").display(),
                self.cgroup_hierarchy(i),
                options.nm_yaml.replace("{nm_dir}", &nm_root.display().to_string())
            );
            fs::write(self.nm_config(i), yaml).expect("write nm.yaml");
        }
    }

    pub fn rm_host(&self) -> &Host {
        &self.net.hosts[0]
    }

    pub fn nm_host(&self, i: usize) -> &Host {
        &self.net.hosts[1 + i]
    }

    pub fn rm_config(&self) -> PathBuf {
        self.dir.path().join("rm.yaml")
    }

    pub fn nm_config(&self, i: usize) -> PathBuf {
        self.dir.path().join(format!("nm{i}/nm.yaml"))
    }

    /// What `weft` reads: only the ResourceManager's host name; the addresses are YARN's defaults.
    pub fn client_config(&self) -> PathBuf {
        self.dir.path().join("client.yaml")
    }

    /// The cluster's own temp directory (removed with the cluster).
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// NodeManager `i`'s id as the ResourceManager knows it: `<host name>:8041`.
    pub fn nm_id(&self, i: usize) -> String {
        format!("{}:{NM_PORT}", self.nm_host(i).name)
    }

    /// NodeManager `i`'s cgroup hierarchy: unique to this test bed.
    pub fn cgroup_hierarchy(&self, i: usize) -> String {
        format!("weft-mh-{}-{}-{}-nm{i}", self.net.tag, std::process::id(), self.serial)
    }

    fn spawn_daemon(&self, name: &str, host: &Host, program: &str, config: PathBuf, ports: PathBuf) -> Daemon {
        let _ = fs::remove_file(&ports);
        let mut command = self.net.command(host, binary(program));
        command.arg("--config").arg(&config).arg("--ports-file").arg(&ports);
        let daemon = Daemon::spawn_command(name, command, self.dir.path());
        read_ports(&ports);
        daemon
    }

    /// Starts the ResourceManager on its host (again, after [`MultiHostCluster::stop_rm`]): same
    /// config, address and ports; it is serving when this returns.
    pub fn start_rm(&mut self) {
        assert!(self.rm.is_none(), "the ResourceManager is already running");
        let ports = self.dir.path().join("rm/ports.json");
        self.rm =
            Some(self.spawn_daemon("resourcemanager", self.rm_host(), "resourcemanager", self.rm_config(), ports));
    }

    /// Stops the ResourceManager as an operator does: SIGTERM, and wait for it to exit.
    pub fn stop_rm(&mut self) {
        if let Some(mut rm) = self.rm.take() {
            rm.stop();
        }
    }

    /// Starts NodeManager `i` on its host (again, after a stop or kill): same config, address,
    /// ports, dirs and cgroup hierarchy. It has bound its ports when this returns, not necessarily
    /// registered: see [`MultiHostCluster::wait_for_node_state`].
    pub fn start_nm(&mut self, i: usize) {
        assert!(self.nms[i].is_none(), "NodeManager {i} is already running");
        let ports = self.dir.path().join(format!("nm{i}/ports.json"));
        let daemon =
            self.spawn_daemon(&format!("nodemanager{i}"), self.nm_host(i), "nodemanager", self.nm_config(i), ports);
        self.nms[i] = Some(daemon);
    }

    /// Stops NodeManager `i` as an operator does: SIGTERM, and wait for it to exit.
    pub fn stop_nm(&mut self, i: usize) {
        if let Some(mut nm) = self.nms[i].take() {
            nm.stop();
        }
    }

    /// SIGKILLs NodeManager `i` (its containers are left running, as after a crash).
    pub fn kill_nm(&mut self, i: usize) {
        if let Some(mut nm) = self.nms[i].take() {
            nm.signal(Signal::SIGKILL);
            let _ = nm.child.wait();
        }
    }

    /// Cuts NodeManager `i`'s host off the network (its veth on the bridge down).
    pub fn cut_nm(&self, i: usize) {
        self.net.cut(self.nm_host(i));
    }

    /// Joins NodeManager `i`'s host to the network again.
    pub fn restore_nm(&self, i: usize) {
        self.net.restore(self.nm_host(i));
    }

    pub fn web_url(&self, path: &str) -> String {
        format!("http://{}:{RM_WEB_PORT}{path}", self.rm_host().name)
    }

    /// GET on the ResourceManager's web port: status and JSON body (Null when not JSON).
    pub fn get(&self, path: &str) -> (u16, Value) {
        let url = self.web_url(path);
        let response = self.http.get(&url).send().unwrap_or_else(|e| panic!("GET {url}: {e}"));
        let status = response.status().as_u16();
        (status, response.json().unwrap_or(Value::Null))
    }

    /// GET of any test bed URL (host names resolve to the hosts' addresses): status and text.
    pub fn get_text(&self, url: &str) -> (u16, String) {
        let response = self.http.get(url).send().unwrap_or_else(|e| panic!("GET {url}: {e}"));
        (response.status().as_u16(), response.text().unwrap_or_default())
    }

    /// The nodes as the ResourceManager's REST lists them.
    pub fn nodes(&self) -> Vec<Value> {
        let (_, body) = self.get("/ws/v1/cluster/nodes?states=NEW,RUNNING,UNHEALTHY,DECOMMISSIONED,LOST,SHUTDOWN");
        body["nodes"]["node"].as_array().cloned().unwrap_or_default()
    }

    /// Waits until `n` nodes are RUNNING.
    pub fn wait_for_running_nodes(&self, n: usize) {
        wait_for(&format!("{n} running nodes"), START_TIMEOUT, || {
            let running = self.nodes().iter().filter(|node| node["state"] == "RUNNING").count();
            (running == n).then_some(())
        });
    }

    /// Waits until NodeManager `i`'s node is in `state` at the ResourceManager; returns its REST object.
    pub fn wait_for_node_state(&self, i: usize, state: &str, timeout: Duration) -> Value {
        let id = self.nm_id(i);
        wait_for(&format!("node {id} to be {state}"), timeout, || {
            self.nodes().into_iter().find(|node| node["id"] == id.as_str() && node["state"] == state)
        })
    }

    /// `weft --config <client.yaml> ARGS…` on the ResourceManager's host (the gateway), not started.
    /// It runs with umask 000: a client-mode driver makes the job's output directories, and its
    /// executors, running as another user, write into them.
    pub fn weft_command(&self, args: &[&str]) -> Command {
        let mut command = self.net.command(self.rm_host(), "sh");
        command
            .args(["-c", r#"umask 000 && exec "$@""#, "weft"])
            .arg(binary("weft"))
            .arg("--config")
            .arg(self.client_config())
            .args(args)
            .env("NO_COLOR", "1")
            // The client's remembered staging hashes stay in the bed's directory, not in ~/.cache.
            .env("XDG_CACHE_HOME", self.dir.path().join("client-cache"))
            .stdin(Stdio::null());
        command
    }

    /// Runs `weft ARGS…` on the gateway to completion.
    pub fn weft(&self, args: &[&str]) -> WeftOutput {
        let output = self.weft_command(args).output().expect("run weft");
        WeftOutput {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// The application's REST object.
    pub fn app(&self, id: &str) -> Value {
        let (status, body) = self.get(&format!("/ws/v1/cluster/apps/{id}"));
        assert_eq!(status, 200, "GET app {id}: {body}");
        body["app"].clone()
    }

    /// Every container of every attempt of the application, as the ResourceManager reports them.
    pub fn containers(&self, app: &str) -> Vec<Value> {
        let (_, attempts) = self.get(&format!("/ws/v1/cluster/apps/{app}/appattempts"));
        let mut all = Vec::new();
        for attempt in attempts["appAttempts"]["appAttempt"].as_array().cloned().unwrap_or_default() {
            let id = attempt["appAttemptId"].as_str().unwrap_or_default();
            let (_, body) = self.get(&format!("/ws/v1/cluster/apps/{app}/appattempts/{id}/containers"));
            all.extend(body["containers"]["container"].as_array().cloned().unwrap_or_default());
        }
        all
    }

    /// The newest application id the ResourceManager knows, if any.
    pub fn latest_app_id(&self) -> Option<String> {
        let (_, body) = self.get("/ws/v1/cluster/apps");
        body["apps"]["app"].as_array()?.iter().filter_map(|a| a["id"].as_str()).max().map(str::to_owned)
    }

    /// Live processes of this cluster's containers whose id starts with `prefix`.
    pub fn container_pids(&self, prefix: &str) -> Vec<i32> {
        crate::procs::container_pids(self.dir.path(), prefix)
    }

    /// The text of every daemon log, by daemon name (of daemons stopped too).
    pub fn logs(&self) -> Vec<(String, String)> {
        let mut names = vec!["resourcemanager".to_owned()];
        names.extend((0..self.nms.len()).map(|i| format!("nodemanager{i}")));
        names
            .into_iter()
            .map(|name| {
                let text = fs::read_to_string(self.dir.path().join(format!("{name}.log"))).unwrap_or_default();
                (name, text)
            })
            .collect()
    }

    /// Stops every daemon with SIGTERM, then fails the test if a daemon not in `may_log_errors`
    /// logged an ERROR, or anything is left: a process in a host's namespace, a container cgroup,
    /// a namespace, veth or the bridge.
    pub fn stop_checked(mut self, may_log_errors: &[&str]) {
        self.stop_all();
        for (name, text) in self.logs() {
            if may_log_errors.contains(&name.as_str()) {
                continue;
            }
            let errors: Vec<&str> = text.lines().filter(|l| l.contains(" ERROR ")).collect();
            assert!(errors.is_empty(), "{name} logged errors:\n{}", errors.join("\n"));
        }
        let processes = self.net.pids_inside();
        let cgroups = self.remove_cgroups();
        let network = self.net.teardown();
        assert!(processes.is_empty(), "processes left in the hosts' namespaces: {processes:?}");
        assert!(cgroups.is_empty(), "container cgroups left behind: {cgroups:?}");
        assert!(network.is_empty(), "test bed left behind: {network:?}");
        let hierarchies: Vec<PathBuf> =
            (0..self.nms.len()).flat_map(|i| crate::cgroups::hierarchy_dirs(&self.cgroup_hierarchy(i))).collect();
        assert!(hierarchies.is_empty(), "cgroup hierarchies left behind: {hierarchies:?}");
    }

    fn stop_all(&mut self) {
        for i in 0..self.nms.len() {
            self.stop_nm(i);
        }
        self.stop_rm();
    }

    /// Removes the NodeManagers' cgroup hierarchies; returns the container groups still inside.
    fn remove_cgroups(&self) -> Vec<PathBuf> {
        crate::cgroups::remove_hierarchies((0..self.nms.len()).map(|i| self.cgroup_hierarchy(i)))
    }
}

impl Drop for MultiHostCluster {
    fn drop(&mut self) {
        self.stop_all();
        self.remove_cgroups();
        self.net.teardown();
    }
}

//! Typed views of [`Settings`] for each program: durations, sizes and addresses ready to use.

use std::path::PathBuf;
use std::time::Duration;

use weft_proto::Resource;

use crate::error::{ConfigError, Problem};
use crate::settings::Settings;

fn ms(settings: &Settings, key: &str) -> Duration {
    Duration::from_millis(settings.int(key) as u64)
}

/// `host:port` to connect to for a bind address: a wildcard host means this machine.
fn connect_address(bind: &str) -> String {
    match bind.rsplit_once(':') {
        Some(("0.0.0.0" | "::" | "[::]" | "", port)) => format!("127.0.0.1:{port}"),
        _ => bind.to_owned(),
    }
}

/// The ResourceManager's settings.
#[derive(Debug, Clone)]
pub struct RmConfig {
    pub client_address: String,
    pub scheduler_address: String,
    pub tracker_address: String,
    pub webapp_address: String,
    /// `yarn.resourcemanager.hostname` when set to a real host; else the daemon uses the bind host or the machine's name.
    pub hostname: String,
    pub cluster_id: String,
    /// `yarn.acl.enable`: ACLs decide who may view and kill applications.
    pub acl_enable: bool,
    /// `yarn.admin.acl`, in Hadoop's ACL format; parsed where it is used.
    pub admin_acl: String,
    pub am_max_attempts: u32,
    pub heartbeat_interval: Duration,
    pub nm_expiry: Duration,
    pub nm_liveness_interval: Duration,
    pub max_completed_apps: usize,
    pub am_finish_grace: Duration,
    /// A granted container not reported running within this long is taken back.
    pub container_allocation_expiry: Duration,
    /// Kill records kept for the kill feed.
    pub max_kill_records: usize,
    pub staging_dir: PathBuf,
    /// How often unused staged files are removed.
    pub staging_cleaner_interval: Duration,
    /// How long a staged file nobody running uses is kept after it was last touched.
    pub staging_retain_unreferenced: Duration,
    /// Bytes of staged files one application may hold (`weft.resourcemanager.staging.max-app-bytes`).
    pub staging_max_app_bytes: u64,
    pub minimum_allocation: Resource,
    pub maximum_allocation: Resource,
    /// The state store's directory when `yarn.resourcemanager.recovery.enabled` is true.
    pub recovery_store: Option<PathBuf>,
    /// After a restart, how long a recovered attempt waits for a NodeManager to report its AM container.
    pub am_liveness_expiry: Duration,
}

impl RmConfig {
    pub fn from_settings(s: &Settings) -> Result<RmConfig, ConfigError> {
        let config = RmConfig {
            client_address: s.text("yarn.resourcemanager.address").to_owned(),
            scheduler_address: s.text("yarn.resourcemanager.scheduler.address").to_owned(),
            tracker_address: s.text("yarn.resourcemanager.resource-tracker.address").to_owned(),
            webapp_address: s.text("yarn.resourcemanager.webapp.address").to_owned(),
            hostname: s.text("yarn.resourcemanager.hostname").to_owned(),
            cluster_id: s.text("yarn.resourcemanager.cluster-id").to_owned(),
            acl_enable: flag(s, "yarn.acl.enable"),
            admin_acl: s.text("yarn.admin.acl").to_owned(),
            am_max_attempts: s.int("yarn.resourcemanager.am.max-attempts") as u32,
            heartbeat_interval: ms(s, "yarn.resourcemanager.nodemanagers.heartbeat-interval-ms"),
            nm_expiry: ms(s, "yarn.nm.liveness-monitor.expiry-interval-ms"),
            nm_liveness_interval: ms(s, "yarn.resourcemanager.nm.liveness-monitor.interval-ms"),
            max_completed_apps: s.int("yarn.resourcemanager.max-completed-applications") as usize,
            am_finish_grace: ms(s, "yarn.resourcemanager.am-finish.grace-ms"),
            container_allocation_expiry: ms(s, "yarn.resourcemanager.rm.container-allocation.expiry-interval-ms"),
            max_kill_records: s.int("weft.resourcemanager.container-kills.max-records") as usize,
            staging_dir: PathBuf::from(s.text("weft.resourcemanager.staging-dir")),
            staging_cleaner_interval: ms(s, "weft.resourcemanager.staging.cleaner.interval-ms"),
            staging_retain_unreferenced: ms(s, "weft.resourcemanager.staging.retain-unreferenced-ms"),
            staging_max_app_bytes: s.int("weft.resourcemanager.staging.max-app-bytes") as u64,
            minimum_allocation: allocation_bounds(s).0,
            maximum_allocation: allocation_bounds(s).1,
            recovery_store: recovery_store(s)?,
            am_liveness_expiry: ms(s, "yarn.am.liveness-monitor.expiry-interval-ms"),
        };
        config.check(s.source_name())?;
        Ok(config)
    }

    fn check(&self, source_name: &str) -> Result<(), ConfigError> {
        let problems = allocation_problems(self.minimum_allocation, self.maximum_allocation);
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError { source_name: source_name.to_owned(), problems })
        }
    }
}

/// The state store's directory, when recovery is on: YARN's FileSystemRMStateStore on a local
/// directory (`/var/lib/weft/rmstore` or `file:///var/lib/weft/rmstore`).
fn recovery_store(s: &Settings) -> Result<Option<PathBuf>, ConfigError> {
    if !flag(s, "yarn.resourcemanager.recovery.enabled") {
        return Ok(None);
    }
    let problem = |key: &str, message: String| ConfigError {
        source_name: s.source_name().to_owned(),
        problems: vec![Problem { key: key.into(), message }],
    };
    const CLASS: &str = "yarn.resourcemanager.store.class";
    let class = s.text(CLASS).trim();
    if !matches!(class, "" | "FileSystemRMStateStore")
        && class != "org.apache.hadoop.yarn.server.resourcemanager.recovery.FileSystemRMStateStore"
    {
        return Err(problem(
            CLASS,
            format!(
                "value {class:?}: only org.apache.hadoop.yarn.server.resourcemanager.recovery.FileSystemRMStateStore \
                 (on a local directory) is offered"
            ),
        ));
    }
    const URI: &str = "yarn.resourcemanager.fs.state-store.uri";
    let raw = s.text(URI).trim();
    let path = match raw.strip_prefix("file://") {
        Some(rest) => rest,
        None if raw.contains("://") => {
            return Err(problem(
                URI,
                format!("value {raw:?}: only a local directory (a path or a file:// URI) is offered"),
            ))
        }
        None => raw,
    };
    if !path.starts_with('/') {
        return Err(problem(
            URI,
            format!("value {raw:?}: expected an absolute directory, e.g. file:///var/lib/weft/rmstore"),
        ));
    }
    Ok(Some(PathBuf::from(path)))
}

/// The scheduler's allocation bounds from the file.
fn allocation_bounds(s: &Settings) -> (Resource, Resource) {
    let minimum = Resource::new(
        s.memory_mb("yarn.scheduler.minimum-allocation-mb"),
        s.int("yarn.scheduler.minimum-allocation-vcores") as i32,
    );
    let maximum = Resource::new(
        s.memory_mb("yarn.scheduler.maximum-allocation-mb"),
        s.int("yarn.scheduler.maximum-allocation-vcores") as i32,
    );
    (minimum, maximum)
}

/// Minimum above maximum, key by key. Both daemons check it, so a shared file with bad bounds stops
/// whichever reads it.
fn allocation_problems(minimum: Resource, maximum: Resource) -> Vec<Problem> {
    let mut problems = Vec::new();
    if minimum.memory_mb > maximum.memory_mb {
        problems.push(Problem {
            key: "yarn.scheduler.minimum-allocation-mb".into(),
            message: format!(
                "value {} is above yarn.scheduler.maximum-allocation-mb ({})",
                minimum.memory_mb, maximum.memory_mb
            ),
        });
    }
    if minimum.vcores > maximum.vcores {
        problems.push(Problem {
            key: "yarn.scheduler.minimum-allocation-vcores".into(),
            message: format!(
                "value {} is above yarn.scheduler.maximum-allocation-vcores ({})",
                minimum.vcores, maximum.vcores
            ),
        });
    }
    problems
}

/// The NodeManager's settings.
#[derive(Debug, Clone)]
pub struct NmConfig {
    pub address: String,
    pub webapp_address: String,
    pub hostname: String,
    /// Where to register and heartbeat (the ResourceManager's resource tracker).
    pub tracker_address: String,
    /// Where to download staged files from (the ResourceManager's client service).
    pub staging_address: String,
    /// `None` detects physical memory minus the reserve.
    pub memory_mb: Option<i64>,
    /// `None` detects the logical CPUs.
    pub vcores: Option<i32>,
    /// `None` reserves 20% of physical memory.
    pub system_reserved_memory_mb: Option<i64>,
    /// `weft.nodemanager.resource.allow-overcommit`: offer more memory than the node has.
    pub allow_overcommit: bool,
    pub local_dirs: Vec<PathBuf>,
    pub log_dirs: Vec<PathBuf>,
    pub sigkill_delay: Duration,
    pub max_completed_containers: usize,
    /// Localized files kept once unused (`localizer.cache.target-size-mb`), in bytes.
    pub localizer_cache_target_bytes: u64,
    /// How often every container's process tree is measured (`container-monitor.interval-ms`).
    pub monitor_interval: Duration,
    /// Kill containers over their physical memory (-104).
    pub pmem_check: bool,
    /// Kill containers over memory × `vmem_pmem_ratio` of virtual memory (-103).
    pub vmem_check: bool,
    /// At least 1.0.
    pub vmem_pmem_ratio: f64,
    /// Hold containers in cgroups when the machine allows (`weft.nodemanager.cgroups.enabled`).
    pub cgroups_enabled: bool,
    /// The NodeManager's cgroup below each controller's mount, without leading or trailing `/`.
    pub cgroups_hierarchy: String,
    /// A CFS quota per container of its vcores (`cgroups.strict-resource-usage`).
    pub cgroups_strict_cpu: bool,
    /// `resource.percentage-physical-cpu-limit`, 1 to 100.
    pub cpu_limit_percent: u32,
    /// Who containers run as (`container-executor.class` and the nonsecure-mode keys).
    pub executor: ExecutorConfig,
    /// `weft.nodemanager.container.max-pids`: each container cgroup's `pids.max`.
    pub container_max_pids: u64,
    /// `yarn.acl.enable`: container logs only for whom the application's VIEW_APP allows.
    pub acl_enable: bool,
    /// `yarn.admin.acl`, in Hadoop's ACL format.
    pub admin_acl: String,
    /// Where containers are recorded for a restart, when `yarn.nodemanager.recovery.enabled` is true.
    pub recovery_dir: Option<PathBuf>,
    /// `yarn.nodemanager.recovery.supervised`: stopping the NodeManager leaves its containers running.
    pub recovery_supervised: bool,
}

/// Which container executor, as `yarn.nodemanager.container-executor.class` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecutorKind {
    /// Not set: Linux when the NodeManager runs as root, else Default.
    Automatic,
    /// YARN's LinuxContainerExecutor: containers as other users.
    Linux,
    /// YARN's DefaultContainerExecutor: containers as the NodeManager's user.
    Default,
}

/// The container executor and its rules (YARN's LinuxContainerExecutor keys and
/// container-executor.cfg's `banned.users`, `min.user.id`, `allowed.system.users`).
#[derive(Debug, Clone)]
pub struct ExecutorConfig {
    pub kind: ExecutorKind,
    pub limit_users: bool,
    pub local_user: String,
    /// A regular expression; checked where it is compiled.
    pub user_pattern: String,
    pub banned_users: Vec<String>,
    pub min_user_id: u32,
    pub allowed_system_users: Vec<String>,
}

impl NmConfig {
    pub fn from_settings(s: &Settings) -> Result<NmConfig, ConfigError> {
        let detect = |n: i64| (n >= 0).then_some(n);
        let (minimum, maximum) = allocation_bounds(s);
        let problems = allocation_problems(minimum, maximum);
        if !problems.is_empty() {
            return Err(ConfigError { source_name: s.source_name().to_owned(), problems });
        }
        Ok(NmConfig {
            address: s.text("yarn.nodemanager.address").to_owned(),
            webapp_address: s.text("yarn.nodemanager.webapp.address").to_owned(),
            hostname: s.text("yarn.nodemanager.hostname").to_owned(),
            tracker_address: connect_address(s.text("yarn.resourcemanager.resource-tracker.address")),
            staging_address: connect_address(s.text("yarn.resourcemanager.address")),
            memory_mb: detect(s.memory_mb("yarn.nodemanager.resource.memory-mb")),
            vcores: detect(s.int("yarn.nodemanager.resource.cpu-vcores")).map(|v| v as i32),
            system_reserved_memory_mb: detect(s.memory_mb("yarn.nodemanager.resource.system-reserved-memory-mb")),
            allow_overcommit: flag(s, "weft.nodemanager.resource.allow-overcommit"),
            local_dirs: s.dirs("yarn.nodemanager.local-dirs"),
            log_dirs: s.dirs("yarn.nodemanager.log-dirs"),
            sigkill_delay: ms(s, "yarn.nodemanager.sleep-delay-before-sigkill.ms"),
            max_completed_containers: s.int("yarn.nodemanager.max-completed-containers") as usize,
            localizer_cache_target_bytes: s.int("yarn.nodemanager.localizer.cache.target-size-mb") as u64 * 1024 * 1024,
            monitor_interval: ms(s, "yarn.nodemanager.container-monitor.interval-ms"),
            pmem_check: flag(s, "yarn.nodemanager.pmem-check-enabled"),
            vmem_check: flag(s, "yarn.nodemanager.vmem-check-enabled"),
            vmem_pmem_ratio: s.text("yarn.nodemanager.vmem-pmem-ratio").trim().parse().expect("checked as a number"),
            cgroups_enabled: flag(s, "weft.nodemanager.cgroups.enabled"),
            cgroups_hierarchy: cgroups_hierarchy(s)?,
            cgroups_strict_cpu: flag(s, "yarn.nodemanager.linux-container-executor.cgroups.strict-resource-usage"),
            cpu_limit_percent: s.int("yarn.nodemanager.resource.percentage-physical-cpu-limit") as u32,
            executor: executor(s)?,
            container_max_pids: s.int("weft.nodemanager.container.max-pids") as u64,
            acl_enable: flag(s, "yarn.acl.enable"),
            admin_acl: s.text("yarn.admin.acl").to_owned(),
            recovery_dir: nm_recovery_dir(s)?,
            recovery_supervised: flag(s, "yarn.nodemanager.recovery.supervised"),
        })
    }
}

/// The recovery directory, when recovery is on. A recovered node keeps its node id, so its
/// container port must be fixed (YARN refuses an ephemeral port the same way).
fn nm_recovery_dir(s: &Settings) -> Result<Option<PathBuf>, ConfigError> {
    let problem = |key: &str, message: String| ConfigError {
        source_name: s.source_name().to_owned(),
        problems: vec![Problem { key: key.into(), message }],
    };
    if !flag(s, "yarn.nodemanager.recovery.enabled") {
        if flag(s, "yarn.nodemanager.recovery.supervised") {
            return Err(problem(
                "yarn.nodemanager.recovery.supervised",
                "value \"true\": needs yarn.nodemanager.recovery.enabled: true".into(),
            ));
        }
        return Ok(None);
    }
    let address = s.text("yarn.nodemanager.address");
    if address.rsplit_once(':').is_none_or(|(_, port)| port.trim() == "0") {
        return Err(problem(
            "yarn.nodemanager.address",
            format!("value {address:?}: a NodeManager with recovery enabled needs a fixed port (its node id must survive a restart)"),
        ));
    }
    let dir = s.text("yarn.nodemanager.recovery.dir").trim();
    if !dir.starts_with('/') {
        return Err(problem("yarn.nodemanager.recovery.dir", format!("value {dir:?}: expected an absolute directory")));
    }
    Ok(Some(PathBuf::from(dir)))
}

fn names(settings: &Settings, key: &str) -> Vec<String> {
    settings.text(key).split(',').map(str::trim).filter(|n| !n.is_empty()).map(str::to_owned).collect()
}

fn executor(s: &Settings) -> Result<ExecutorConfig, ConfigError> {
    const KEY: &str = "yarn.nodemanager.container-executor.class";
    let raw = s.text(KEY).trim();
    let simple = raw.rsplit('.').next().unwrap_or_default();
    let kind = match simple {
        "" => ExecutorKind::Automatic,
        "LinuxContainerExecutor" => ExecutorKind::Linux,
        "DefaultContainerExecutor" => ExecutorKind::Default,
        _ => {
            return Err(ConfigError {
                source_name: s.source_name().to_owned(),
                problems: vec![Problem {
                    key: KEY.into(),
                    message: format!(
                        "value {raw:?}: expected org.apache.hadoop.yarn.server.nodemanager.LinuxContainerExecutor or \
                         org.apache.hadoop.yarn.server.nodemanager.DefaultContainerExecutor (or the class name alone)"
                    ),
                }],
            })
        }
    };
    Ok(ExecutorConfig {
        kind,
        limit_users: flag(s, "yarn.nodemanager.linux-container-executor.nonsecure-mode.limit-users"),
        local_user: s.text("yarn.nodemanager.linux-container-executor.nonsecure-mode.local-user").trim().to_owned(),
        user_pattern: s.text("yarn.nodemanager.linux-container-executor.nonsecure-mode.user-pattern").to_owned(),
        banned_users: names(s, "weft.nodemanager.linux-container-executor.banned.users"),
        min_user_id: s.int("weft.nodemanager.linux-container-executor.min.user.id") as u32,
        allowed_system_users: names(s, "weft.nodemanager.linux-container-executor.allowed.system.users"),
    })
}

fn flag(settings: &Settings, key: &str) -> bool {
    settings.text(key).trim() == "true"
}

/// The hierarchy as a relative path of plain names (`hadoop-yarn`, `weft/nm1`); a leading `/` is
/// YARN's spelling and is dropped.
fn cgroups_hierarchy(s: &Settings) -> Result<String, ConfigError> {
    const KEY: &str = "yarn.nodemanager.linux-container-executor.cgroups.hierarchy";
    let raw = s.text(KEY).trim();
    let path = raw.trim_matches('/');
    let plain = |part: &str| {
        !part.is_empty()
            && part != "."
            && part != ".."
            && part.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    };
    if path.split('/').all(plain) {
        return Ok(path.to_owned());
    }
    Err(ConfigError {
        source_name: s.source_name().to_owned(),
        problems: vec![Problem {
            key: KEY.into(),
            message: format!(
                "value {raw:?}: expected a cgroup path of plain names (letters, digits, '-', '_', '.'), e.g. hadoop-yarn"
            ),
        }],
    })
}

/// What `weft` needs to reach the cluster.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The ResourceManager's client service, as `host:port` to connect to.
    pub rm_address: String,
    /// The ResourceManager's web address, as `host:port` to connect to.
    pub rm_webapp_address: String,
    /// The ResourceManager's scheduler (application master) service, as `host:port` to connect to:
    /// where a client-mode driver registers as an unmanaged application master.
    pub rm_scheduler_address: String,
    /// How long an unreachable ResourceManager is retried (`yarn.resourcemanager.connect.max-wait.ms`).
    pub connect_max_wait: Duration,
    /// The wait between tries (`yarn.resourcemanager.connect.retry-interval.ms`).
    pub connect_retry_interval: Duration,
}

impl ClientConfig {
    pub fn from_settings(s: &Settings) -> ClientConfig {
        ClientConfig {
            rm_address: connect_address(s.text("yarn.resourcemanager.address")),
            rm_webapp_address: connect_address(s.text("yarn.resourcemanager.webapp.address")),
            rm_scheduler_address: connect_address(s.text("yarn.resourcemanager.scheduler.address")),
            connect_max_wait: ms(s, "yarn.resourcemanager.connect.max-wait.ms"),
            connect_retry_interval: ms(s, "yarn.resourcemanager.connect.retry-interval.ms"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_builds_every_view() {
        let s = Settings::defaults();
        let rm = RmConfig::from_settings(&s).unwrap();
        assert_eq!(rm.maximum_allocation, Resource::new(8192, 32));
        assert_eq!(rm.nm_expiry, Duration::from_secs(600));
        let nm = NmConfig::from_settings(&s).unwrap();
        assert_eq!(nm.tracker_address, "127.0.0.1:8031");
        assert_eq!(nm.memory_mb, None);
        assert_eq!(nm.monitor_interval, Duration::from_millis(3000));
        assert!(nm.pmem_check && nm.vmem_check && nm.cgroups_enabled && !nm.cgroups_strict_cpu);
        assert_eq!(
            (nm.vmem_pmem_ratio, nm.cgroups_hierarchy.as_str(), nm.cpu_limit_percent),
            (2.1, "hadoop-yarn", 100)
        );
        let client = ClientConfig::from_settings(&s);
        assert_eq!(
            (client.rm_address.as_str(), client.rm_scheduler_address.as_str()),
            ("127.0.0.1:8032", "127.0.0.1:8030")
        );
    }

    #[test]
    fn the_container_monitor_interval_falls_back_to_the_resource_monitors() {
        let s = Settings::parse("yarn.nodemanager.resource-monitor.interval-ms: 500\n", "t").unwrap();
        assert_eq!(NmConfig::from_settings(&s).unwrap().monitor_interval, Duration::from_millis(500));
        let s = Settings::parse(
            "yarn.nodemanager.resource-monitor.interval-ms: 500\nyarn.nodemanager.container-monitor.interval-ms: 250\n",
            "t",
        )
        .unwrap();
        assert_eq!(NmConfig::from_settings(&s).unwrap().monitor_interval, Duration::from_millis(250));
    }

    #[test]
    fn enforcement_keys_are_checked() {
        let err = Settings::parse("yarn.nodemanager.vmem-pmem-ratio: 0.9\n", "f.yaml").unwrap_err().to_string();
        assert!(
            err.contains("key yarn.nodemanager.vmem-pmem-ratio: value \"0.9\": expected a number from 1 to 1000"),
            "{err}"
        );
        let s = Settings::parse(
            "yarn.nodemanager.linux-container-executor.cgroups.hierarchy: /weft/nm-1\nyarn.nodemanager.pmem-check-enabled: false\n",
            "t",
        )
        .unwrap();
        let nm = NmConfig::from_settings(&s).unwrap();
        assert_eq!((nm.cgroups_hierarchy.as_str(), nm.pmem_check), ("weft/nm-1", false));
        for bad in ["/", "a/../b", "a,b", "a b"] {
            let s = Settings::parse(
                &format!("yarn.nodemanager.linux-container-executor.cgroups.hierarchy: \"{bad}\"\n"),
                "f.yaml",
            )
            .unwrap();
            let err = NmConfig::from_settings(&s).unwrap_err().to_string();
            assert!(err.contains("cgroups.hierarchy: value"), "{bad}: {err}");
        }
    }

    #[test]
    fn recovery_takes_a_local_store_and_a_fixed_node_manager_port() {
        let rm = |yaml: &str| RmConfig::from_settings(&Settings::parse(yaml, "rm.yaml").unwrap());
        let on = "yarn.resourcemanager.recovery.enabled: true\n";
        assert_eq!(rm("").unwrap().recovery_store, None);
        let store = rm(&format!("{on}yarn.resourcemanager.fs.state-store.uri: file:///var/lib/weft/rmstore\n"));
        assert_eq!(store.unwrap().recovery_store, Some(PathBuf::from("/var/lib/weft/rmstore")));
        let hdfs = rm(&format!("{on}yarn.resourcemanager.fs.state-store.uri: hdfs://nn/rmstore\n")).unwrap_err();
        assert!(hdfs.to_string().contains("only a local directory"), "{hdfs}");
        let zk = rm(&format!(
            "{on}yarn.resourcemanager.store.class: org.apache.hadoop.yarn.server.resourcemanager.recovery.ZKRMStateStore\n"
        ))
        .unwrap_err();
        assert!(zk.to_string().contains("yarn.resourcemanager.store.class"), "{zk}");

        let nm = |yaml: &str| NmConfig::from_settings(&Settings::parse(yaml, "nm.yaml").unwrap());
        let on = "yarn.nodemanager.recovery.enabled: true\nyarn.nodemanager.recovery.dir: /var/lib/weft/nm\n";
        let fixed = nm(&format!("{on}yarn.nodemanager.address: 10.0.0.2:8041\n")).unwrap();
        assert_eq!(fixed.recovery_dir, Some(PathBuf::from("/var/lib/weft/nm")));
        let ephemeral = nm(&format!("{on}yarn.nodemanager.address: 10.0.0.2:0\n")).unwrap_err();
        assert!(ephemeral.to_string().contains("needs a fixed port"), "{ephemeral}");
        let alone = nm("yarn.nodemanager.recovery.supervised: true\n").unwrap_err();
        assert!(alone.to_string().contains("needs yarn.nodemanager.recovery.enabled"), "{alone}");
    }

    #[test]
    fn minimum_above_maximum_is_refused() {
        let s = Settings::parse(
            "yarn.scheduler.minimum-allocation-mb: 4096\nyarn.scheduler.maximum-allocation-mb: 2048\n",
            "f.yaml",
        )
        .unwrap();
        let err = RmConfig::from_settings(&s).unwrap_err().to_string();
        assert!(err.contains("f.yaml: key yarn.scheduler.minimum-allocation-mb: value 4096 is above"), "{err}");
    }
}

//! Every configuration key Weft knows, with its YARN default and what values it allows.
//!
//! Defaults may refer to other keys as `${key}` (YARN's own substitution), and to `${user.name}`.

/// What values a key allows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    /// `host:port`; port 0 asks the system for a free port.
    Address,
    /// A host name or IP address.
    Host,
    /// A whole number within the bounds.
    Int {
        min: i64,
        max: i64,
    },
    /// A memory size in MiB: a whole number of MiB (`4096`) or with a unit (`4g`, `512m`); -1 where allowed means "detect".
    MemoryMb {
        allow_detect: bool,
    },
    /// A real number within the bounds.
    Float {
        min: f64,
        max: f64,
    },
    Bool,
    /// A comma-separated list of absolute directories.
    Dirs,
    /// Free text.
    Text,
}

/// One configuration key.
#[derive(Debug, Clone, Copy)]
pub struct Key {
    pub name: &'static str,
    pub default: &'static str,
    pub kind: Kind,
    pub doc: &'static str,
}

const fn key(name: &'static str, default: &'static str, kind: Kind, doc: &'static str) -> Key {
    Key { name, default, kind, doc }
}

const MS_MAX: i64 = 24 * 3600 * 1000;

/// The whole key table, in the order the README lists it.
pub const KEYS: &[Key] = &[
    key(
        "hadoop.tmp.dir",
        "/tmp/hadoop-${user.name}",
        Kind::Text,
        "base of the default staging, local and log directories",
    ),
    key("yarn.resourcemanager.hostname", "0.0.0.0", Kind::Host, "host the ResourceManager's addresses default to"),
    key(
        "yarn.resourcemanager.address",
        "${yarn.resourcemanager.hostname}:8032",
        Kind::Address,
        "client service: submit, reports, kill, staging",
    ),
    key(
        "yarn.resourcemanager.scheduler.address",
        "${yarn.resourcemanager.hostname}:8030",
        Kind::Address,
        "application master service: register, allocate, finish",
    ),
    key(
        "yarn.resourcemanager.resource-tracker.address",
        "${yarn.resourcemanager.hostname}:8031",
        Kind::Address,
        "NodeManager registration and heartbeats",
    ),
    key(
        "yarn.resourcemanager.webapp.address",
        "${yarn.resourcemanager.hostname}:8088",
        Kind::Address,
        "REST /ws/v1/cluster, web pages at /cluster, /metrics",
    ),
    key("yarn.resourcemanager.cluster-id", "yarn_cluster", Kind::Text, "cluster name shown in /ws/v1/cluster/info"),
    key(
        "yarn.acl.enable",
        "false",
        Kind::Bool,
        "check who may view and kill applications: the owner, yarn.admin.acl and the application's own ACLs",
    ),
    key(
        "yarn.admin.acl",
        "*",
        Kind::Text,
        "Hadoop ACL (\"user1,user2 group1,group2\", * everyone, a space nobody) of those who may view and kill any application",
    ),
    key(
        "yarn.resourcemanager.am.max-attempts",
        "2",
        Kind::Int { min: 1, max: 1000 },
        "attempts an application gets when its AM container fails; per-app values are capped by it",
    ),
    key(
        "yarn.resourcemanager.nodemanagers.heartbeat-interval-ms",
        "1000",
        Kind::Int { min: 10, max: MS_MAX },
        "interval the ResourceManager asks NodeManagers to heartbeat at",
    ),
    key(
        "yarn.nm.liveness-monitor.expiry-interval-ms",
        "600000",
        Kind::Int { min: 100, max: MS_MAX },
        "a NodeManager silent this long is LOST and its containers end with -100",
    ),
    key(
        "yarn.resourcemanager.nm.liveness-monitor.interval-ms",
        "1000",
        Kind::Int { min: 10, max: MS_MAX },
        "how often node liveness is checked",
    ),
    key(
        "yarn.resourcemanager.max-completed-applications",
        "1000",
        Kind::Int { min: 0, max: 1_000_000 },
        "finished applications kept for reports",
    ),
    key(
        "yarn.resourcemanager.am-finish.grace-ms",
        "5000",
        Kind::Int { min: 0, max: MS_MAX },
        "how long an AM container may keep running after it unregistered before it is stopped",
    ),
    key(
        "yarn.resourcemanager.rm.container-allocation.expiry-interval-ms",
        "600000",
        Kind::Int { min: 1000, max: MS_MAX },
        "a granted container that no NodeManager reports running within this long goes back to the cluster (-100)",
    ),
    key(
        "weft.resourcemanager.container-kills.max-records",
        "1000",
        Kind::Int { min: 0, max: 1_000_000 },
        "kills kept for the kill feed /ws/v1/cluster/containers/kills (newest kept)",
    ),
    key(
        "yarn.resourcemanager.recovery.enabled",
        "false",
        Kind::Bool,
        "keep applications, attempts and keys in the state store and recover them after a restart (work-preserving)",
    ),
    key(
        "yarn.resourcemanager.store.class",
        "org.apache.hadoop.yarn.server.resourcemanager.recovery.FileSystemRMStateStore",
        Kind::Text,
        "the state store; only YARN's FileSystemRMStateStore (on a local directory) is offered",
    ),
    key(
        "yarn.resourcemanager.fs.state-store.uri",
        "${hadoop.tmp.dir}/yarn/system/rmstore",
        Kind::Text,
        "where the state store lives: a local directory, as a path or a file:// URI",
    ),
    key(
        "yarn.am.liveness-monitor.expiry-interval-ms",
        "600000",
        Kind::Int { min: 1000, max: MS_MAX },
        "after a ResourceManager restart, an attempt whose AM container no NodeManager reports within this long fails",
    ),
    key(
        "yarn.resourcemanager.connect.max-wait.ms",
        "900000",
        Kind::Int { min: 0, max: MS_MAX },
        "how long clients and application masters keep retrying an unreachable ResourceManager",
    ),
    key(
        "yarn.resourcemanager.connect.retry-interval.ms",
        "30000",
        Kind::Int { min: 10, max: MS_MAX },
        "how long they wait between tries",
    ),
    key(
        "weft.resourcemanager.staging-dir",
        "${hadoop.tmp.dir}/staging",
        Kind::Text,
        "content-addressed store of uploaded application files",
    ),
    key(
        "weft.resourcemanager.staging.cleaner.interval-ms",
        "600000",
        Kind::Int { min: 1000, max: MS_MAX },
        "how often staged files no running application uses are removed",
    ),
    key(
        "weft.resourcemanager.staging.retain-unreferenced-ms",
        "3600000",
        Kind::Int { min: 0, max: MS_MAX },
        "a staged file no running application uses is kept this long after its last upload, check or download",
    ),
    key(
        "weft.resourcemanager.staging.max-app-bytes",
        "4294967296",
        Kind::Int { min: 1, max: i64::MAX },
        "bytes of staged files one application may hold; an upload past it is refused",
    ),
    key(
        "yarn.scheduler.minimum-allocation-mb",
        "1024",
        Kind::MemoryMb { allow_detect: false },
        "asks are rounded up to a multiple of this",
    ),
    key(
        "yarn.scheduler.maximum-allocation-mb",
        "8192",
        Kind::MemoryMb { allow_detect: false },
        "asks above this are rejected",
    ),
    key(
        "yarn.scheduler.minimum-allocation-vcores",
        "1",
        Kind::Int { min: 0, max: 10_000 },
        "asks are raised to at least this many vcores",
    ),
    key(
        "yarn.scheduler.maximum-allocation-vcores",
        "32",
        Kind::Int { min: 1, max: 10_000 },
        "asks above this are rejected",
    ),
    key("yarn.nodemanager.hostname", "0.0.0.0", Kind::Host, "host the NodeManager's addresses default to"),
    key(
        "yarn.nodemanager.address",
        "${yarn.nodemanager.hostname}:8041",
        Kind::Address,
        "container management service; its host:port is the node id",
    ),
    key(
        "yarn.nodemanager.recovery.enabled",
        "false",
        Kind::Bool,
        "record containers in the recovery directory so a restarted NodeManager takes them back",
    ),
    key(
        "yarn.nodemanager.recovery.dir",
        "${hadoop.tmp.dir}/yarn-nm-recovery",
        Kind::Text,
        "where the NodeManager records its containers for recovery",
    ),
    key(
        "yarn.nodemanager.recovery.supervised",
        "false",
        Kind::Bool,
        "the NodeManager is restarted by a supervisor: when it stops, its containers keep running (needs recovery)",
    ),
    key(
        "yarn.nodemanager.webapp.address",
        "${yarn.nodemanager.hostname}:8042",
        Kind::Address,
        "REST /ws/v1/node, web pages at /node, container logs, /metrics",
    ),
    key(
        "yarn.nodemanager.resource.memory-mb",
        "-1",
        Kind::MemoryMb { allow_detect: true },
        "memory offered to containers; -1 detects physical memory minus the reserve",
    ),
    key(
        "weft.nodemanager.resource.allow-overcommit",
        "false",
        Kind::Bool,
        "allow yarn.nodemanager.resource.memory-mb above the node's physical memory",
    ),
    key(
        "yarn.nodemanager.resource.cpu-vcores",
        "-1",
        Kind::Int { min: -1, max: 10_000 },
        "vcores offered to containers; -1 detects the logical CPUs",
    ),
    key(
        "yarn.nodemanager.resource.system-reserved-memory-mb",
        "-1",
        Kind::MemoryMb { allow_detect: true },
        "memory kept for the system when detecting; -1 keeps 20% of physical memory",
    ),
    key(
        "yarn.nodemanager.local-dirs",
        "${hadoop.tmp.dir}/nm-local-dir",
        Kind::Dirs,
        "container working directories and the localized file cache",
    ),
    key(
        "yarn.nodemanager.log-dirs",
        "${hadoop.tmp.dir}/userlogs",
        Kind::Dirs,
        "container stdout/stderr, as <dir>/<app>/<container>/",
    ),
    key(
        "yarn.nodemanager.sleep-delay-before-sigkill.ms",
        "250",
        Kind::Int { min: 0, max: MS_MAX },
        "grace between SIGTERM and SIGKILL when a container is stopped",
    ),
    key(
        "yarn.nodemanager.max-completed-containers",
        "1000",
        Kind::Int { min: 0, max: 1_000_000 },
        "finished containers the NodeManager keeps for REST and logs",
    ),
    key(
        "yarn.nodemanager.localizer.cache.target-size-mb",
        "10240",
        Kind::Int { min: 0, max: 1 << 40 },
        "localized files kept for reuse once no running application uses them; beyond it the least recently used go",
    ),
    key(
        "yarn.nodemanager.resource-monitor.interval-ms",
        "3000",
        Kind::Int { min: 10, max: MS_MAX },
        "how often node and container resources are sampled",
    ),
    key(
        "yarn.nodemanager.container-monitor.interval-ms",
        "${yarn.nodemanager.resource-monitor.interval-ms}",
        Kind::Int { min: 10, max: MS_MAX },
        "how often every container's process tree is measured against its memory limits",
    ),
    key(
        "yarn.nodemanager.pmem-check-enabled",
        "true",
        Kind::Bool,
        "kill a container whose process tree uses more physical memory (RSS) than it was given (-104)",
    ),
    key(
        "yarn.nodemanager.vmem-check-enabled",
        "true",
        Kind::Bool,
        "kill a container whose process tree uses more virtual memory than memory × vmem-pmem-ratio (-103)",
    ),
    key(
        "yarn.nodemanager.vmem-pmem-ratio",
        "2.1",
        Kind::Float { min: 1.0, max: 1000.0 },
        "virtual memory a container may use per unit of its physical memory",
    ),
    key(
        "weft.nodemanager.cgroups.enabled",
        "true",
        Kind::Bool,
        "hold containers in cgroups (memory hard limit, CPU weight) when the machine allows; false: the monitor alone",
    ),
    key(
        "yarn.nodemanager.linux-container-executor.cgroups.hierarchy",
        "hadoop-yarn",
        Kind::Text,
        "the NodeManager's cgroup under each controller's mount; one child per container, named by its id",
    ),
    key(
        "yarn.nodemanager.linux-container-executor.cgroups.strict-resource-usage",
        "false",
        Kind::Bool,
        "cap each container's CPU at its vcores with a CFS quota, instead of weights alone",
    ),
    key(
        "yarn.nodemanager.container-executor.class",
        "",
        Kind::Text,
        "LinuxContainerExecutor: containers run as the users below (needs root); DefaultContainerExecutor: as the NodeManager's own user; empty: Linux when the NodeManager runs as root, else Default",
    ),
    key(
        "yarn.nodemanager.linux-container-executor.nonsecure-mode.limit-users",
        "true",
        Kind::Bool,
        "true: every container runs as nonsecure-mode.local-user; false: as the user who submitted the application, who must exist on the node",
    ),
    key(
        "yarn.nodemanager.linux-container-executor.nonsecure-mode.local-user",
        "nobody",
        Kind::Text,
        "the user containers run as while limit-users is true",
    ),
    key(
        "yarn.nodemanager.linux-container-executor.nonsecure-mode.user-pattern",
        "^[_.A-Za-z0-9][-@_.A-Za-z0-9]{0,255}?[$]?$",
        Kind::Text,
        "a submitting user's name must match this regular expression to run containers as that user",
    ),
    key(
        "weft.nodemanager.linux-container-executor.banned.users",
        "root,yarn,hdfs,mapred,bin",
        Kind::Text,
        "users no container may run as (container-executor.cfg's banned.users); uid 0 is always refused",
    ),
    key(
        "weft.nodemanager.linux-container-executor.min.user.id",
        "1000",
        Kind::Int { min: 0, max: 4_294_967_294 },
        "the lowest uid a container may run as (container-executor.cfg's min.user.id)",
    ),
    key(
        "weft.nodemanager.linux-container-executor.allowed.system.users",
        "",
        Kind::Text,
        "users below min.user.id that may still run containers (container-executor.cfg's allowed.system.users)",
    ),
    key(
        "weft.nodemanager.container.max-pids",
        "8192",
        Kind::Int { min: 16, max: 4_194_304 },
        "processes and threads one container may have at once (its cgroup's pids.max): a fork bomb stays inside",
    ),
    key(
        "yarn.nodemanager.resource.percentage-physical-cpu-limit",
        "100",
        Kind::Int { min: 1, max: 100 },
        "share of the machine's CPUs containers may use together; strict quotas scale with it",
    ),
];

/// The key named `name`, if Weft knows it.
pub(crate) fn find(name: &str) -> Option<&'static Key> {
    KEYS.iter().find(|k| k.name == name)
}

/// The known key closest to a misspelled one, if any is close.
pub(crate) fn suggest(name: &str) -> Option<&'static str> {
    KEYS.iter()
        .map(|k| (strsim::levenshtein(name, k.name), k.name))
        .filter(|(distance, _)| *distance <= 4)
        .min()
        .map(|(_, name)| name)
}

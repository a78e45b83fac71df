//! What `weft submit` runs: spark-submit's flags, `--conf` pairs and the properties file merged into
//! one `SparkConf` with Spark's precedence (explicit flags, then `--conf`, then the file), checked
//! before anything is submitted, and the resources the application asks for. Pure: the caller reads
//! the properties file and checks that the binary and the files exist.

use std::path::PathBuf;

use weft_proto::Resource;
use weft_yarn_client::capacity::{self, Ask};

use crate::error::CliError;
use weft_spark::conf::{keys, DeployMode, SparkConf, SparkSettings};

/// What the command line said; `properties` are the pairs of `--properties-file`, in file order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Flags {
    pub(crate) master: Option<String>,
    pub(crate) deploy_mode: Option<String>,
    pub(crate) name: Option<String>,
    pub(crate) queue: Option<String>,
    pub(crate) num_executors: Option<u32>,
    pub(crate) executor_memory: Option<String>,
    pub(crate) executor_cores: Option<u32>,
    pub(crate) driver_memory: Option<String>,
    pub(crate) driver_cores: Option<u32>,
    pub(crate) conf: Vec<(String, String)>,
    pub(crate) properties: Vec<(String, String)>,
    pub(crate) files: Option<String>,
    /// The application binary, as given.
    pub(crate) binary: String,
    pub(crate) args: Vec<String>,
}

/// Where the application runs (`spark.master`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Master {
    /// `local`, `local[N]`, `local[*]`: the driver runs its tasks in this machine's processes.
    Local,
    /// `yarn`: the ResourceManager that `--config` (or YARN's defaults) names.
    Yarn,
    /// `weft://HOST:PORT`: the ResourceManager's client service at that address.
    Weft { address: String },
}

/// A `--files` entry: the local path and the name it gets in each container's working directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DistFile {
    pub(crate) path: PathBuf,
    pub(crate) name: String,
}

/// A checked `weft submit`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SubmitPlan {
    /// Every `spark.*` property the driver gets, `spark.master`, `spark.app.name` and
    /// `spark.submit.deployMode` included.
    pub(crate) conf: SparkConf,
    pub(crate) master: Master,
    pub(crate) deploy_mode: DeployMode,
    pub(crate) binary: PathBuf,
    /// The binary's file name: its LocalResource name, and the default application name.
    pub(crate) binary_name: String,
    pub(crate) args: Vec<String>,
    /// What is staged for the containers besides the binary (cluster masters only).
    pub(crate) files: Vec<DistFile>,
    pub(crate) name: String,
    pub(crate) queue: String,
    pub(crate) max_app_attempts: Option<u32>,
    /// The application master's container: the driver's in cluster mode, `spark.yarn.am.*` in client mode.
    pub(crate) am: Resource,
    pub(crate) executor: Resource,
    pub(crate) executor_instances: u32,
    /// `spark.authenticate` (true unless set false): `weft submit` makes the application's secret.
    pub(crate) authenticate: bool,
    /// Lines for stderr, such as the non-Spark keys that were ignored.
    pub(crate) warnings: Vec<String>,
}

/// spark-submit's flags and the keys they set (`facts/spark.md` §7), so errors can name the flag.
const FLAG_KEYS: &[(&str, &str)] = &[
    ("--master", keys::MASTER),
    ("--deploy-mode", keys::DEPLOY_MODE),
    ("--name", keys::APP_NAME),
    ("--queue", keys::YARN_QUEUE),
    ("--num-executors", keys::EXECUTOR_INSTANCES),
    ("--executor-memory", keys::EXECUTOR_MEMORY),
    ("--executor-cores", keys::EXECUTOR_CORES),
    ("--driver-memory", keys::DRIVER_MEMORY),
    ("--driver-cores", keys::DRIVER_CORES),
];

const MASTERS: &str = "weft://HOST:PORT, yarn, local, local[N] or local[*]";

/// Merges and checks everything; every problem is reported at once and nothing is submitted then.
pub(crate) fn plan(flags: Flags) -> Result<SubmitPlan, CliError> {
    let usage = |problems: Vec<String>| CliError::Usage(format!("{}; nothing was submitted", problems.join("; ")));
    let binary_name = binary_name(&flags.binary).map_err(|p| usage(vec![p]))?;
    let (mut conf, warnings, from_flags) = merge(&flags);
    conf.set_if_missing(keys::MASTER, "local[*]");
    conf.set_if_missing(keys::APP_NAME, binary_name.clone());
    // Every key `weft submit`, the driver or the executors read, parsed once: a bad value stops the
    // submission, and every problem is told at once.
    let settings = SparkSettings::from_conf(&conf);
    let master = parse_master(&conf).map_err(|p| name_the_flag(p, &from_flags));
    let (master, settings) = match (master, settings) {
        (Ok(master), Ok(settings)) => (master, settings),
        (master, settings) => {
            let problems = settings.err().map(|e| e.problems).unwrap_or_default().into_iter();
            let problems = master.err().into_iter().chain(problems.map(|p| name_the_flag(p, &from_flags)));
            return Err(usage(problems.collect()));
        }
    };
    let deploy_mode = settings.deploy_mode;
    let mut problems = Vec::new();
    if master == Master::Local && deploy_mode == DeployMode::Cluster {
        problems.push(format!(
            "--deploy-mode cluster is not compatible with master {:?}: a local master runs the driver here",
            conf.master()
        ));
    }
    let files = match &master {
        Master::Local => Ok(Vec::new()),
        _ => dist_files(conf.get(keys::YARN_DIST_FILES).unwrap_or_default(), &binary_name),
    };
    let files = files.unwrap_or_else(|p| {
        problems.push(p);
        Vec::new()
    });
    if !problems.is_empty() {
        return Err(usage(problems));
    }
    conf.set(keys::DEPLOY_MODE, deploy_mode.as_str());
    Ok(resources(conf, &settings, master, flags, binary_name, files, warnings))
}

/// The checked settings' numbers, in a plan.
fn resources(
    conf: SparkConf,
    settings: &SparkSettings,
    master: Master,
    flags: Flags,
    binary_name: String,
    files: Vec<DistFile>,
    warnings: Vec<String>,
) -> SubmitPlan {
    let vcores = |n: u32| i32::try_from(n).expect("counts are at most i32::MAX");
    let deploy_mode = settings.deploy_mode;
    let am = match deploy_mode {
        DeployMode::Cluster => Resource::new(settings.driver.container_mb, vcores(settings.driver.cores)),
        DeployMode::Client => Resource::new(settings.am.container_mb, vcores(settings.am.cores)),
    };
    SubmitPlan {
        master,
        deploy_mode,
        binary: PathBuf::from(flags.binary),
        binary_name,
        args: flags.args,
        files,
        name: conf.app_name().unwrap_or_default().to_owned(),
        queue: conf.queue().to_owned(),
        max_app_attempts: settings.max_app_attempts,
        am,
        executor: Resource::new(settings.executor.container_mb, vcores(settings.executor.cores)),
        executor_instances: settings.executor.instances,
        authenticate: settings.authenticate,
        warnings,
        conf,
    }
}

/// The properties file, then `--conf`, then the explicit flags, each over the one before; returns the
/// conf, the warnings, and the keys an explicit flag set.
fn merge(flags: &Flags) -> (SparkConf, Vec<String>, Vec<&'static str>) {
    let mut conf = SparkConf::new();
    let mut warnings = Vec::new();
    for (key, value) in flags.properties.iter().chain(&flags.conf) {
        if key.starts_with("spark.") {
            conf.set(key.clone(), value.clone());
        } else {
            warnings.push(format!("Ignoring non-Spark config property: {key}"));
        }
    }
    let master = flags.master.as_deref().or(conf.get(keys::MASTER)).unwrap_or("local[*]");
    let files_key = if master.trim().starts_with("local") { keys::FILES } else { keys::YARN_DIST_FILES };
    let explicit = [
        (keys::MASTER, flags.master.clone()),
        (keys::DEPLOY_MODE, flags.deploy_mode.clone()),
        (keys::APP_NAME, flags.name.clone()),
        (keys::YARN_QUEUE, flags.queue.clone()),
        (keys::EXECUTOR_INSTANCES, flags.num_executors.map(|n| n.to_string())),
        (keys::EXECUTOR_MEMORY, flags.executor_memory.clone()),
        (keys::EXECUTOR_CORES, flags.executor_cores.map(|n| n.to_string())),
        (keys::DRIVER_MEMORY, flags.driver_memory.clone()),
        (keys::DRIVER_CORES, flags.driver_cores.map(|n| n.to_string())),
        (files_key, flags.files.clone()),
    ];
    let mut from_flags = Vec::new();
    for (key, value) in explicit {
        if let Some(value) = value {
            conf.set(key, value);
            from_flags.push(key);
        }
    }
    (conf, warnings, from_flags)
}

/// `spark.executor.memory: invalid …` becomes `--executor-memory (spark.executor.memory): invalid …`
/// when the flag set the key.
fn name_the_flag(problem: String, from_flags: &[&str]) -> String {
    for (flag, key) in FLAG_KEYS {
        if from_flags.contains(key) {
            if let Some(rest) = problem.strip_prefix(&format!("{key}: ")) {
                return format!("{flag} ({key}): {rest}");
            }
        }
    }
    problem
}

/// `spark.master` as one of the masters `weft submit` knows.
fn parse_master(conf: &SparkConf) -> Result<Master, String> {
    let text = conf.master().trim();
    let invalid = || format!("{}: invalid value {text:?}: expected {MASTERS}", keys::MASTER);
    if text == "yarn" {
        return Ok(Master::Yarn);
    }
    if let Some(address) = text.strip_prefix("weft://") {
        let address = address.trim_end_matches('/');
        return match address.rsplit_once(':') {
            Some((host, port)) if !host.is_empty() && !host.contains('/') && port.parse::<u16>().is_ok() => {
                Ok(Master::Weft { address: address.to_owned() })
            }
            _ => Err(invalid()),
        };
    }
    match conf.local_master_threads(1) {
        Ok(Some(_)) => Ok(Master::Local),
        _ => Err(invalid()),
    }
}

/// The binary's file name; the path must name a file.
fn binary_name(binary: &str) -> Result<String, String> {
    let name = std::path::Path::new(binary).file_name().and_then(|n| n.to_str());
    match name {
        Some(name) if !binary.ends_with('/') => Ok(name.to_owned()),
        _ => Err(format!("the application binary {binary:?} does not name a file")),
    }
}

/// Spark's file list: comma-separated local paths (`file:` URIs too), each optionally `#name` to
/// rename it in the containers; names must be unique and differ from the binary's.
fn dist_files(list: &str, binary_name: &str) -> Result<Vec<DistFile>, String> {
    let mut files: Vec<DistFile> = Vec::new();
    for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (location, alias) = match entry.split_once('#') {
            Some((location, alias)) => (location, Some(alias)),
            None => (entry, None),
        };
        let path = local_path(location).ok_or_else(|| format!("--files: {entry:?} is not a local file"))?;
        let name = alias.or_else(|| std::path::Path::new(path).file_name().and_then(|n| n.to_str()));
        let name = match name {
            Some(name) if !name.is_empty() && !name.contains('/') && name != "." && name != ".." => name,
            _ => return Err(format!("--files: {entry:?} does not name a file")),
        };
        if name == binary_name {
            return Err(format!("--files: {entry:?} would be localized as {name:?}, the application binary's name"));
        }
        if let Some(other) = files.iter().find(|f| f.name == name) {
            return Err(format!(
                "--files: {} and {entry:?} would both be localized as {name:?}; rename one with #NAME",
                other.path.display()
            ));
        }
        files.push(DistFile { path: PathBuf::from(path), name: name.to_owned() });
    }
    Ok(files)
}

/// A plain path, or the path of a `file:` URI; `None` for another scheme.
fn local_path(location: &str) -> Option<&str> {
    if let Some(path) = location.strip_prefix("file://") {
        return path.starts_with('/').then_some(path);
    }
    if let Some(path) = location.strip_prefix("file:") {
        return Some(path);
    }
    let scheme = location.split_once("://").map(|(scheme, _)| scheme);
    match scheme {
        Some(s) if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) => None,
        _ => Some(location),
    }
}

/// Refuses an application master or executor container above `maximum`, naming what, its size and the
/// maximum (as `weft shell` does); nothing is submitted then.
pub(crate) fn check_capacity(plan: &SubmitPlan, maximum: Resource) -> Result<(), CliError> {
    let (am_memory, am_cores) = match plan.deploy_mode {
        DeployMode::Cluster => ("the driver's container (spark.driver.memory + overhead)", "spark.driver.cores"),
        DeployMode::Client => {
            ("the application master's container (spark.yarn.am.memory + overhead)", "spark.yarn.am.cores")
        }
    };
    let executor = if plan.executor_instances > 0 { plan.executor } else { Resource::new(0, 0) };
    let asks = [
        Ask { memory: am_memory, vcores: am_cores, resource: plan.am },
        Ask {
            memory: "an executor's container (spark.executor.memory + overhead)",
            vcores: "spark.executor.cores",
            resource: executor,
        },
    ];
    capacity::check_capacity(&asks, maximum)
}

/// `--verbose`: what spark-submit prints before it runs, in its shape.
pub(crate) fn verbose_report(plan: &SubmitPlan, properties_file: Option<&str>) -> String {
    let mut out = String::new();
    if let Some(file) = properties_file {
        out.push_str(&format!("Using properties file: {file}\n"));
    }
    out.push_str(&format!("Parsed arguments:\n  master                  {}\n", plan.conf.master()));
    out.push_str(&format!("  deployMode              {}\n", plan.deploy_mode));
    out.push_str(&format!("  primaryResource         {}\n", plan.binary.display()));
    out.push_str(&format!("  name                    {}\n", plan.name));
    out.push_str(&format!("  childArgs               [{}]\n", plan.args.join(" ")));
    if plan.master != Master::Local {
        let (am, executor) = (plan.am, plan.executor);
        out.push_str(&format!("  applicationMaster       {} MB, {} vcores\n", am.memory_mb, am.vcores));
        out.push_str(&format!(
            "  executors               {} x {} MB, {} vcores\n",
            plan.executor_instances, executor.memory_mb, executor.vcores
        ));
    }
    out.push_str("\nSpark properties used, including those specified through\n");
    out.push_str(&format!(" --conf and those from the properties file {}:\n", properties_file.unwrap_or("null")));
    for (key, value) in plan.conf.iter() {
        out.push_str(&format!("  ({key},{value})\n"));
    }
    out
}

#[cfg(test)]
mod tests;

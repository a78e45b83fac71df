//! Unmodified Apache Spark on Weft: pyspark's own `spark-submit --master yarn` (Spark 4.3 with its
//! bundled Hadoop 3.5.0 client, the machine's Java 17) against a ResourceManager and two
//! NodeManagers on 127.0.0.1, configured only through the files `weft hadoop-conf` writes. One
//! cluster and one pyspark install serve every scenario (each JVM run takes tens of seconds).

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use weft_tests::spark_dist::{spark, SparkDist};
use weft_tests::{printed_app_id, Cluster, ClusterOptions, WeftOutput};

const APP_TIMEOUT: Duration = Duration::from_secs(240);

/// A Hadoop client set up for one Weft cluster: its `HADOOP_CONF_DIR` and a staging directory of
/// the test's own (Spark's default would be the user's home).
struct Client<'a> {
    cluster: &'a Cluster,
    dist: &'static SparkDist,
    conf_dir: PathBuf,
    staging: PathBuf,
}

impl Client<'_> {
    fn command(&self, mode: &str, args: &[&str]) -> Command {
        let mut command = Command::new(self.dist.spark_submit());
        command
            .args(["--master", "yarn", "--deploy-mode", mode, "--num-executors", "2"])
            .args(["--executor-memory", "512m", "--executor-cores", "1", "--driver-memory", "512m"])
            .args(["--conf", &format!("spark.yarn.stagingDir=file://{}", self.staging.display())])
            .args(args)
            .env("HADOOP_CONF_DIR", &self.conf_dir)
            .env("JAVA_HOME", &self.dist.java_home)
            .env("SPARK_HOME", &self.dist.home)
            .env("PYSPARK_PYTHON", "python3")
            .env("PYTHONPATH", &self.dist.site)
            .env_remove("HADOOP_USER_NAME")
            .stdin(Stdio::null());
        command
    }

    fn submit(&self, mode: &str, args: &[&str]) -> WeftOutput {
        let output = self.command(mode, args).output().expect("run spark-submit");
        WeftOutput {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// The Spark application's REST object, checked to be a Spark app that ended as `state`.
    fn ended(&self, output: &WeftOutput, state: &str, final_status: &str) -> serde_json::Value {
        let id = printed_app_id(&output.both());
        let app = self.cluster.wait_app_state(&id, &[state], APP_TIMEOUT);
        assert_eq!(app["finalStatus"], final_status, "{app}\n{}", output.both());
        assert_eq!(app["applicationType"], "SPARK", "{app}");
        app
    }
}

/// Where Weft wrote a container's `stdout`, found among the cluster's logs.
fn container_stdout(cluster: &Cluster, container: &str) -> String {
    let log_dirs: Vec<PathBuf> = walk(cluster.dir()).into_iter().filter(|p| p.ends_with(container)).collect();
    log_dirs.iter().filter_map(|d| std::fs::read_to_string(d.join("stdout")).ok()).collect::<Vec<_>>().join("\n")
}

fn walk(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return found };
    for entry in entries.flatten() {
        let path = entry.path();
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            found.extend(walk(&path));
            found.push(path);
        }
    }
    found
}

#[test]
fn spark_submit_runs_pyspark_pi_in_cluster_mode_to_success() {
    let dist = spark();
    // A JVM reserves far more address space than it touches (Java 17 with -Xmx512m: about 3 GB),
    // so, as on every YARN cluster that runs JVMs, the virtual-memory check is off; physical
    // memory stays enforced.
    let cluster = Cluster::start(ClusterOptions {
        nm_env: vec![("JAVA_HOME".into(), dist.java_home.display().to_string())],
        nm_yaml: "yarn.nodemanager.vmem-check-enabled: false\n".into(),
        ..ClusterOptions::default()
    });
    let work = cluster.dir().join("spark");
    std::fs::create_dir_all(&work).expect("work dir");
    let conf_dir = work.join("hadoop-conf");
    let written = cluster.weft(&["hadoop-conf", &conf_dir.display().to_string()]);
    assert_eq!(written.code, Some(0), "{}", written.both());
    let client = Client { cluster: &cluster, dist, conf_dir, staging: work.join("staging") };

    // Spark's own client submits over Hadoop IPC (the client port is shared with gRPC); the AM
    // container is launched from Spark's launch context (its libs archive and conf localized from
    // the staging directory), authenticates on the scheduler port with its AMRM token, gets two
    // executors and starts them on the NodeManagers over Hadoop IPC with their NM tokens.
    let pi = dist.python_example("pi.py");
    let out = client.submit("cluster", &[&pi.display().to_string(), "4"]);
    assert_eq!(out.code, Some(0), "{}", out.both());
    assert!(out.both().contains("final status: SUCCEEDED"), "{}", out.both());
    let app = client.ended(&out, "FINISHED", "SUCCEEDED");
    // Hadoop's client names the operating system's user of the process (no HADOOP_USER_NAME here).
    let os_user = nix::unistd::User::from_uid(nix::unistd::geteuid()).ok().flatten().map(|u| u.name);
    assert_eq!(app["user"].as_str(), os_user.as_deref(), "{app}");
    let id = app["id"].as_str().unwrap().to_string();
    let am_container = format!("container_{}_01_000001", id.trim_start_matches("application_"));
    let driver_out = container_stdout(&cluster, &am_container);
    assert!(driver_out.contains("Pi is roughly 3.1"), "the driver's stdout: {driver_out}");
    // Two executors ran and ended; the AM's attempt is the first and only one.
    let (status, containers) = cluster.get(&format!("/ws/v1/cluster/apps/{id}/appattempts"));
    assert_eq!(status, 200, "{containers}");
    assert_eq!(containers["appAttempts"]["appAttempt"].as_array().map(Vec::len), Some(1), "{containers}");
    // The gRPC face of the same port still serves `weft`.
    let listed = cluster.weft(&["application", "-list", "-appStates", "ALL", "-appTypes", "SPARK"]);
    assert_eq!(listed.code, Some(0), "{}", listed.both());
    assert!(listed.stdout.contains(&id), "{}", listed.both());
    cluster.stop_checked();
}

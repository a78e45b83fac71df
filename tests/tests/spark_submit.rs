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

#[test]
fn spark_submit_talks_to_the_resource_manager_and_hears_why_its_am_cannot_start() {
    let dist = spark();
    let cluster = Cluster::start(ClusterOptions {
        nm_env: vec![("JAVA_HOME".into(), dist.java_home.display().to_string())],
        ..ClusterOptions::default()
    });
    let work = cluster.dir().join("spark");
    std::fs::create_dir_all(&work).expect("work dir");
    let conf_dir = work.join("hadoop-conf");
    let written = cluster.weft(&["hadoop-conf", &conf_dir.display().to_string()]);
    assert_eq!(written.code, Some(0), "{}", written.both());
    let client = Client { cluster: &cluster, dist, conf_dir, staging: work.join("staging") };

    // Spark's own client gets an application id, submits over Hadoop IPC (the client port is shared
    // with gRPC), and follows the reports. The NodeManagers do not launch Hadoop launch contexts
    // yet, so each attempt's AM is refused with a message saying so, and Spark reports it.
    let pi = dist.python_example("pi.py");
    let out = client.submit("cluster", &[&pi.display().to_string(), "2"]);
    assert_eq!(out.code, Some(1), "{}", out.both());
    assert!(out.both().contains("final status: FAILED"), "{}", out.both());
    let app = client.ended(&out, "FAILED", "FAILED");
    // Hadoop's client names the operating system's user of the process (no HADOOP_USER_NAME here).
    let os_user = nix::unistd::User::from_uid(nix::unistd::geteuid()).ok().flatten().map(|u| u.name);
    assert_eq!(app["user"].as_str(), os_user.as_deref(), "{app}");
    let diagnostics = app["diagnostics"].as_str().unwrap_or_default();
    assert!(diagnostics.contains("does not launch those yet"), "{diagnostics}");
    assert!(out.both().contains("does not launch those yet"), "Spark prints the diagnostics: {}", out.both());
    // The gRPC face of the same port still serves `weft`.
    let listed = cluster.weft(&["application", "-list", "-appStates", "ALL", "-appTypes", "SPARK"]);
    assert_eq!(listed.code, Some(0), "{}", listed.both());
    assert!(listed.stdout.contains(app["id"].as_str().unwrap()), "{}", listed.both());
    cluster.stop_checked();
}

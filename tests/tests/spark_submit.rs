//! Unmodified Apache Spark on Weft: pyspark's own `spark-submit --master yarn` (Spark 4.3 with its
//! bundled Hadoop 3.5.0 client, the machine's Java 17) against a ResourceManager and two
//! NodeManagers on 127.0.0.1, configured only through the files `weft hadoop-conf` writes. One
//! cluster and one pyspark install serve every scenario (each JVM run takes tens of seconds).

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use weft_tests::procs::app_container_prefix;
use weft_tests::spark_dist::{spark, SparkDist};
use weft_tests::{printed_app_id, wait_for, Cluster, ClusterOptions, WeftOutput};

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
        output(self.command(mode, args).output().expect("run spark-submit"))
    }

    /// Starts spark-submit without waiting; killed if the scenario fails before collecting it.
    fn spawn(&self, mode: &str, args: &[&str]) -> Running {
        let child = self.command(mode, args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn();
        Running(Some(child.expect("run spark-submit")))
    }

    /// Spark's jars straight from the distribution: no 400 MB archive to zip, copy and unpack
    /// per application (the single-machine fast path; the Pi scenario takes the default path).
    fn local_jars(&self) -> String {
        format!("spark.yarn.jars=local:{}/jars/*", self.dist.home.display())
    }

    /// The id of the Spark application spark-submit is running, once the ResourceManager has it.
    /// In cluster mode YARN's name is spark-submit's `--name` (the driver sets its own later).
    fn running_app(&self, name: &str) -> String {
        wait_for(&format!("the {name} application to run"), APP_TIMEOUT, || {
            let (_, apps) = self.cluster.get("/ws/v1/cluster/apps?states=RUNNING&applicationTypes=SPARK");
            apps["apps"]["app"].as_array()?.iter().find(|a| a["name"] == name)?["id"].as_str().map(String::from)
        })
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

/// A spark-submit this test started: collected by [`Running::wait`], else killed (by pid) on drop.
struct Running(Option<std::process::Child>);

impl Running {
    fn wait(mut self) -> WeftOutput {
        output(self.0.take().expect("not collected yet").wait_with_output().expect("wait for spark-submit"))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn output(output: std::process::Output) -> WeftOutput {
    WeftOutput {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// A container's `stdout`, as Weft's NodeManager kept it.
fn container_stdout(cluster: &Cluster, container: &str) -> String {
    container_log(cluster, container, "stdout")
}

/// One of a container's log files, found among the cluster's log directories.
fn container_log(cluster: &Cluster, container: &str, file: &str) -> String {
    let log_dirs: Vec<PathBuf> = walk(cluster.dir()).into_iter().filter(|p| p.ends_with(container)).collect();
    log_dirs.iter().filter_map(|d| std::fs::read_to_string(d.join(file)).ok()).collect::<Vec<_>>().join("\n")
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

/// The AM container of attempt `attempt` of `app`.
fn am_container(app: &str, attempt: u32) -> String {
    format!("{}{attempt:02}_000001", app_container_prefix(app))
}

/// One cluster and one pyspark install for every scenario: each JVM run takes tens of seconds.
#[test]
fn unmodified_spark_runs_on_weft() {
    let dist = spark();
    // A JVM reserves far more address space than it touches (Java 17 with -Xmx512m: about 3 GB),
    // so, as on every YARN cluster that runs JVMs, the virtual-memory check is off; physical
    // memory stays enforced. spark-submit stages into a `file:` directory only the submitting user
    // may read (Spark makes it 0700), and its AM reads it back: its containers must run as the
    // submitter. The submitter here is root, whom the Linux executor refuses, so this cluster runs
    // containers as the NodeManager's own user (YARN's DefaultContainerExecutor).
    let mut cluster = Cluster::start(ClusterOptions {
        nm_env: vec![("JAVA_HOME".into(), dist.java_home.display().to_string())],
        nm_yaml: "yarn.nodemanager.vmem-check-enabled: false\nyarn.nodemanager.container-monitor.interval-ms: 300\n\
                  yarn.nodemanager.container-executor.class: DefaultContainerExecutor\n"
            .into(),
        rm_yaml: "yarn.resourcemanager.recovery.enabled: true\n".into(),
        ..ClusterOptions::default()
    });
    let work = cluster.dir().join("spark");
    std::fs::create_dir_all(&work).expect("work dir");
    let conf_dir = work.join("hadoop-conf");
    let written = cluster.weft(&["hadoop-conf", &conf_dir.display().to_string()]);
    assert_eq!(written.code, Some(0), "{}", written.both());
    let client = Client { cluster: &cluster, dist, conf_dir: conf_dir.clone(), staging: work.join("staging") };

    pyspark_pi_in_cluster_mode(&client);
    pyspark_wordcount_in_client_mode(&client, &work);
    java_job_in_cluster_mode(&client, &work);
    failing_job(&client, &work);
    am_killed_once_gets_a_second_attempt(&client, &work);
    executor_over_its_memory(&client, &work);
    kill_a_running_spark_app(&client, &work);
    let staging = client.staging.clone();
    resource_manager_restart_under_a_running_app(&mut cluster, dist, (conf_dir, staging), &work);
    cluster.stop_checked();
}

/// Spark's own client submits over Hadoop IPC (the client port is shared with gRPC); the AM
/// container is launched from Spark's launch context (its 400 MB libs archive and conf localized
/// from the staging directory), authenticates on the scheduler port with its AMRM token, gets two
/// executors and starts them on the NodeManagers over Hadoop IPC with their NM tokens.
fn pyspark_pi_in_cluster_mode(client: &Client<'_>) {
    let pi = client.dist.python_example("pi.py");
    let out = client.submit("cluster", &[&pi.display().to_string(), "4"]);
    assert_eq!(out.code, Some(0), "{}", out.both());
    assert!(out.both().contains("final status: SUCCEEDED"), "{}", out.both());
    let app = client.ended(&out, "FINISHED", "SUCCEEDED");
    // Hadoop's client names the operating system's user of the process (no HADOOP_USER_NAME here).
    let os_user = nix::unistd::User::from_uid(nix::unistd::geteuid()).ok().flatten().map(|u| u.name);
    assert_eq!(app["user"].as_str(), os_user.as_deref(), "{app}");
    let id = app["id"].as_str().unwrap().to_string();
    let driver_out = container_stdout(client.cluster, &am_container(&id, 1));
    assert!(driver_out.contains("Pi is roughly 3.1"), "the driver's stdout: {driver_out}");
    let (status, attempts) = client.cluster.get(&format!("/ws/v1/cluster/apps/{id}/appattempts"));
    assert_eq!(status, 200, "{attempts}");
    assert_eq!(attempts["appAttempts"]["appAttempt"].as_array().map(Vec::len), Some(1), "{attempts}");
    // The gRPC face of the same port still serves `weft`.
    let listed = client.cluster.weft(&["application", "-list", "-appStates", "ALL", "-appTypes", "SPARK"]);
    assert_eq!(listed.code, Some(0), "{}", listed.both());
    assert!(listed.stdout.contains(&id), "{}", listed.both());
}

/// The driver runs in spark-submit; the AM (Spark's ExecutorLauncher) only gets it executors.
fn pyspark_wordcount_in_client_mode(client: &Client<'_>, work: &std::path::Path) {
    let corpus = work.join("corpus.txt");
    let words = ["yarn", "spark", "weft", "container", "node", "queue"];
    let text: String =
        (0..3000).map(|i| format!("{} {} {}\n", words[i % 6], words[(i * 7) % 6], words[(i / 3) % 6])).collect();
    std::fs::write(&corpus, &text).expect("write the corpus");
    let mut reference = std::collections::BTreeMap::<String, u64>::new();
    for word in text.lines().flat_map(|l| l.split(' ')) {
        *reference.entry(word.to_string()).or_default() += 1;
    }
    let wordcount = client.dist.python_example("wordcount.py");
    let corpus_url = format!("file://{}", corpus.display());
    let out = client.submit("client", &["--conf", &client.local_jars(), &wordcount.display().to_string(), &corpus_url]);
    assert_eq!(out.code, Some(0), "{}", out.both());
    // The AM's web filter points at the ResourceManager's proxy path, which YARN's AM launcher puts
    // in every AM's environment (APPLICATION_WEB_PROXY_BASE).
    assert!(out.both().contains("Add WebUI Filter. org.apache.spark.deploy.yarn.AmIpFilter"), "{}", out.both());
    assert!(!out.both().contains("does not appear to be a valid URL"), "{}", out.both());
    let counted: std::collections::BTreeMap<String, u64> = out
        .stdout
        .lines()
        .filter_map(|l| l.split_once(": "))
        .map(|(w, n)| (w.to_string(), n.trim().parse().expect("a count")))
        .collect();
    assert_eq!(counted, reference, "{}", out.both());
    let app = weft_tests::wait_for("the client-mode app to finish", APP_TIMEOUT, || {
        let (_, apps) = client.cluster.get("/ws/v1/cluster/apps?applicationTypes=SPARK&states=FINISHED");
        apps["apps"]["app"].as_array()?.iter().find(|a| a["name"] == "PythonWordCount").cloned()
    });
    assert_eq!(app["finalStatus"], "SUCCEEDED", "{app}");
}

/// A jar compiled here with javac against Spark's jars, its main class run by Spark's AM.
fn java_job_in_cluster_mode(client: &Client<'_>, work: &std::path::Path) {
    let src = work.join("java");
    std::fs::create_dir_all(&src).expect("java dir");
    std::fs::write(
        src.join("WeftPi.java"),
        r#"import java.util.ArrayList;
import java.util.List;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;

public final class WeftPi {
  public static void main(String[] args) {
    SparkSession spark = SparkSession.builder().appName("WeftJavaPi").getOrCreate();
    JavaSparkContext jsc = new JavaSparkContext(spark.sparkContext());
    int slices = Integer.parseInt(args[0]);
    List<Integer> seeds = new ArrayList<>();
    for (int i = 0; i < slices * 10000; i++) seeds.add(i);
    long inside = jsc.parallelize(seeds, slices).filter(i -> {
      double x = Math.random() * 2 - 1, y = Math.random() * 2 - 1;
      return x * x + y * y <= 1;
    }).count();
    System.out.println("Java Pi is roughly " + 4.0 * inside / (slices * 10000));
    spark.stop();
  }
}
"#,
    )
    .expect("write the Java source");
    let classpath = format!("{}/jars/*", client.dist.home.display());
    let javac = Command::new(client.dist.javac())
        .args(["-cp", &classpath, "-d"])
        .arg(src.join("classes"))
        .arg(src.join("WeftPi.java"))
        .output()
        .expect("run javac");
    assert!(javac.status.success(), "{}", String::from_utf8_lossy(&javac.stderr));
    let jar = src.join("weftpi.jar");
    let jar_tool = client.dist.java_home.join("bin/jar");
    let packed = Command::new(jar_tool)
        .arg("cf")
        .arg(&jar)
        .arg("-C")
        .arg(src.join("classes"))
        .arg(".")
        .output()
        .expect("run jar");
    assert!(packed.status.success(), "{}", String::from_utf8_lossy(&packed.stderr));
    let out = client
        .submit("cluster", &["--conf", &client.local_jars(), "--class", "WeftPi", &jar.display().to_string(), "4"]);
    assert_eq!(out.code, Some(0), "{}", out.both());
    let app = client.ended(&out, "FINISHED", "SUCCEEDED");
    let driver_out = container_stdout(client.cluster, &am_container(app["id"].as_str().unwrap(), 1));
    assert!(driver_out.contains("Java Pi is roughly 3.1"), "the driver's stdout: {driver_out}");
}

/// A job whose driver fails: its one attempt (`spark.yarn.maxAppAttempts=1`; a second attempt is
/// the next scenario's) unregisters FAILED, so the app is FINISHED with final status FAILED, as on
/// YARN; Spark's client exits 1 and prints why.
fn failing_job(client: &Client<'_>, work: &std::path::Path) {
    let script = work.join("fails.py");
    std::fs::write(
        &script,
        "from pyspark.sql import SparkSession\n\
         spark = SparkSession.builder.appName('WeftFails').getOrCreate()\n\
         spark.sparkContext.parallelize([1, 2]).count()\n\
         raise SystemExit('the job gives up on purpose')\n",
    )
    .expect("write the script");
    let out = client.submit(
        "cluster",
        &["--conf", &client.local_jars(), "--conf", "spark.yarn.maxAppAttempts=1", &script.display().to_string()],
    );
    assert_eq!(out.code, Some(1), "{}", out.both());
    assert!(out.both().contains("final status: FAILED"), "{}", out.both());
    let app = client.ended(&out, "FINISHED", "FAILED");
    let diagnostics = app["diagnostics"].as_str().unwrap_or_default();
    assert!(diagnostics.contains("User application exited with status 1"), "{app}");
    let id = app["id"].as_str().unwrap();
    let (_, attempts) = client.cluster.get(&format!("/ws/v1/cluster/apps/{id}/appattempts"));
    assert_eq!(attempts["appAttempts"]["appAttempt"].as_array().map(Vec::len), Some(1), "{attempts}");
}

/// The AM of attempt 1 dies; the ResourceManager starts attempt 2, which runs the job again.
fn am_killed_once_gets_a_second_attempt(client: &Client<'_>, work: &std::path::Path) {
    let script = work.join("slow_then_done.py");
    std::fs::write(
        &script,
        "import os, time\n\
         from pyspark.sql import SparkSession\n\
         spark = SparkSession.builder.appName('WeftSecondChance').getOrCreate()\n\
         if os.environ['CONTAINER_ID'].split('_')[-2] == '01':\n\
         \x20   time.sleep(600)\n\
         print('attempt', os.environ['CONTAINER_ID'], 'counted', spark.sparkContext.parallelize(range(100)).count())\n\
         spark.stop()\n",
    )
    .expect("write the script");
    let submit = client.spawn(
        "cluster",
        &["--name", "WeftSecondChance", "--conf", &client.local_jars(), &script.display().to_string()],
    );
    let id = client.running_app("WeftSecondChance");
    let first = am_container(&id, 1);
    let pids = wait_for("the first AM's processes", APP_TIMEOUT, || {
        Some(client.cluster.container_pids(&first)).filter(|p| !p.is_empty())
    });
    weft_tests::procs::kill_pids(&pids);
    let out = submit.wait();
    assert_eq!(out.code, Some(0), "{}", out.both());
    let app = client.ended(&out, "FINISHED", "SUCCEEDED");
    assert!(app["amContainerLogs"].as_str().unwrap_or_default().contains(&am_container(&id, 2)), "{app}");
    let driver_out = container_stdout(client.cluster, &am_container(&id, 2));
    assert!(driver_out.contains("counted 100"), "the second driver's stdout: {driver_out}");
}

/// An executor whose Python worker goes past its container is killed -104, and Spark's driver
/// says so in its own words. The job fails at its first task failure; the driver then waits for
/// the news of the container (Spark reports a lost executor once YARN says why it ended).
fn executor_over_its_memory(client: &Client<'_>, work: &std::path::Path) {
    let script = work.join("hog.py");
    std::fs::write(
        &script,
        "import time\n\
         from pyspark.sql import SparkSession\n\
         spark = SparkSession.builder.appName('WeftHog').getOrCreate()\n\
         def hog(_):\n\
         \x20   block = bytearray(1536 * 1024 * 1024)\n\
         \x20   for i in range(0, len(block), 4096):\n\
         \x20       block[i] = 1\n\
         \x20   return len(block)\n\
         try:\n\
         \x20   spark.sparkContext.parallelize([1], 1).map(hog).collect()\n\
         except Exception:\n\
         \x20   print('the hog failed as planned')\n\
         time.sleep(15)\n\
         spark.stop()\n",
    )
    .expect("write the script");
    let out = client.submit(
        "client",
        &["--conf", &client.local_jars(), "--conf", "spark.task.maxFailures=1", &script.display().to_string()],
    );
    assert_eq!(out.code, Some(0), "{}", out.both());
    assert!(out.stdout.contains("the hog failed as planned"), "{}", out.both());
    assert!(
        out.stderr.contains("Container killed by YARN for exceeding physical memory limits")
            && out.stderr.contains("Consider boosting spark.executor.memoryOverhead"),
        "Spark's driver names the kill: {}",
        out.both()
    );
    let app = weft_tests::wait_for("the hog app to finish", APP_TIMEOUT, || {
        let (_, apps) = client.cluster.get("/ws/v1/cluster/apps?applicationTypes=SPARK&states=FINISHED");
        apps["apps"]["app"].as_array()?.iter().find(|a| a["name"] == "WeftHog").cloned()
    });
    let launcher_log = container_log(client.cluster, &am_container(app["id"].as_str().unwrap(), 1), "stderr");
    assert!(launcher_log.contains("exit status: -104"), "Spark's AM saw YARN's exit status: {launcher_log}");
}

/// `weft application -kill` ends a running Spark application; spark-submit reports it KILLED and
/// nothing of it is left running.
fn kill_a_running_spark_app(client: &Client<'_>, work: &std::path::Path) {
    let script = work.join("forever.py");
    std::fs::write(
        &script,
        "import time\n\
         from pyspark.sql import SparkSession\n\
         spark = SparkSession.builder.appName('WeftForever').getOrCreate()\n\
         time.sleep(600)\n",
    )
    .expect("write the script");
    let submit = client
        .spawn("cluster", &["--name", "WeftForever", "--conf", &client.local_jars(), &script.display().to_string()]);
    let id = client.running_app("WeftForever");
    let killed = client.cluster.weft(&["application", "-kill", &id]);
    assert_eq!(killed.code, Some(0), "{}", killed.both());
    let out = submit.wait();
    assert_eq!(out.code, Some(1), "{}", out.both());
    assert!(out.both().contains("KILLED"), "{}", out.both());
    let app = client.ended(&out, "KILLED", "KILLED");
    assert_eq!(app["state"], "KILLED");
    wait_for("the killed app's processes to end", Duration::from_secs(30), || {
        client.cluster.container_pids(&app_container_prefix(&id)).is_empty().then_some(())
    });
}

/// The ResourceManager (recovery on) restarted under a running cluster-mode app with its two
/// executors: Spark's client and AM (Hadoop's RMProxy) retry while it is down, the AM registers
/// again when told to (ApplicationMasterNotRegisteredException), and the job finishes with the same
/// executors in its one attempt.
fn resource_manager_restart_under_a_running_app(
    cluster: &mut Cluster,
    dist: &'static SparkDist,
    (conf_dir, staging): (PathBuf, PathBuf),
    work: &std::path::Path,
) {
    let go = work.join("restart-go");
    let script = work.join("after_restart.py");
    std::fs::write(
        &script,
        format!(
            "import os, time\n\
             from pyspark.sql import SparkSession\n\
             spark = SparkSession.builder.appName('WeftRestart').getOrCreate()\n\
             while not os.path.exists('{}'):\n    time.sleep(0.2)\n\
             print('sum', spark.sparkContext.parallelize(range(1000), 4).map(lambda x: x * 2).sum())\n",
            go.display()
        ),
    )
    .expect("write the script");
    let (submit, id) = {
        let client = Client { cluster, dist, conf_dir, staging };
        let args = ["--name", "WeftRestart", "--conf", &client.local_jars(), &script.display().to_string()];
        let submit = client.spawn("cluster", &args);
        (submit, client.running_app("WeftRestart"))
    };
    wait_for("the AM and both executors to run", APP_TIMEOUT, || {
        (cluster.app(&id)["runningContainers"] == 3).then_some(())
    });
    let before = containers_of(cluster, &id);
    let lines = cluster.log_lines();
    cluster.stop_rm();
    cluster.wait_nodes_miss_rm(&lines);
    cluster.start_rm_again();
    wait_for("the app to run again", APP_TIMEOUT, || {
        let app = cluster.app(&id);
        (app["state"] == "RUNNING" && app["runningContainers"] == 3).then_some(())
    });
    std::fs::write(&go, "").expect("write the marker");
    let out = submit.wait();
    assert_eq!(out.code, Some(0), "{}", out.both());
    assert!(out.both().contains("final status: SUCCEEDED"), "{}", out.both());
    let app = cluster.wait_app_state(&id, &["FINISHED"], APP_TIMEOUT);
    assert_eq!(app["finalStatus"], "SUCCEEDED", "{app}");
    let driver_out = container_stdout(cluster, &am_container(&id, 1));
    assert!(driver_out.contains("sum 999000"), "the driver's stdout: {driver_out}");
    let after = containers_of(cluster, &id);
    assert_eq!(after, before, "the same AM and executors, in the one attempt");
}

/// The ids of every container of `id`'s attempts, sorted.
fn containers_of(cluster: &Cluster, id: &str) -> Vec<String> {
    let (_, attempts) = cluster.get(&format!("/ws/v1/cluster/apps/{id}/appattempts"));
    let mut all = Vec::new();
    for attempt in attempts["appAttempts"]["appAttempt"].as_array().cloned().unwrap_or_default() {
        let attempt_id = attempt["appAttemptId"].as_str().unwrap_or_default().to_owned();
        let (_, body) = cluster.get(&format!("/ws/v1/cluster/apps/{id}/appattempts/{attempt_id}/containers"));
        for c in body["containers"]["container"].as_array().cloned().unwrap_or_default() {
            all.push(c["containerId"].as_str().unwrap_or_default().to_owned());
        }
    }
    all.sort();
    all
}

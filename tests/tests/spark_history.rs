//! A Weft application's event log read by an unmodified Spark History Server: WordCount runs with
//! `spark.eventLog.enabled` (Spark 4's defaults: a rolling directory of zstd files; and again into
//! one lz4 file, Spark's other codec) and a memory pool
//! small enough to spill, then Spark 4.3's own History Server (from the pyspark install the
//! YARN-compatibility tests use, on the machine's Java 17) is pointed at the directory. Through the
//! History Server's `/api/v1` the application, its job, both stages, their task counts, shuffle bytes
//! and spill figures must equal what Weft's driver recorded for each task.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use weft_tests::{binary, data_dir, example, spark_dist};

/// The History Server, ended by pid when the test ends.
struct HistoryServer {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Drop for HistoryServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl HistoryServer {
    fn start(log_dir: &Path, work: &Path) -> HistoryServer {
        let spark = spark_dist::spark();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let properties = work.join("history.properties");
        let mut file = std::fs::File::create(&properties).unwrap();
        writeln!(file, "spark.history.fs.logDirectory=file:{}", log_dir.display()).unwrap();
        writeln!(file, "spark.history.ui.port={port}").unwrap();
        writeln!(file, "spark.history.fs.update.interval=1s").unwrap();
        let log = work.join("history-server.log");
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new(spark.home.join("bin/spark-class"))
            .args(["org.apache.spark.deploy.history.HistoryServer", "--properties-file"])
            .arg(&properties)
            .env("SPARK_HOME", &spark.home)
            .env("JAVA_HOME", &spark.java_home)
            .env("SPARK_LOCAL_IP", "127.0.0.1")
            .env("SPARK_LOG_DIR", work)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("spark-class starts");
        HistoryServer { child, port, log }
    }

    fn get(&self, path: &str) -> Result<Value, String> {
        let url = format!("http://127.0.0.1:{}/api/v1/{path}", self.port);
        let response = reqwest::blocking::get(&url).map_err(|e| e.to_string())?;
        let status = response.status();
        let text = response.text().map_err(|e| e.to_string())?;
        if !status.is_success() {
            return Err(format!("{url}: {status}: {text}"));
        }
        serde_json::from_str(&text).map_err(|e| format!("{url}: {e}: {text}"))
    }

    /// `path`'s answer once `ready` accepts it (the History Server scans the directory every second).
    fn wait_for(&mut self, path: &str, ready: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let last = self.get(path);
            if let Ok(value) = &last {
                if ready(value) {
                    return value.clone();
                }
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "the History Server exited ({status}):\n{}",
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            if Instant::now() > deadline {
                panic!(
                    "the History Server did not answer {path} as expected in 120 s; last: {last:?}\n{}",
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

/// The events of Weft's log: every `events_N_*` file of the rolling directory, zstd-decoded, in order.
fn read_events(log_dir: &Path) -> Vec<Value> {
    let dirs: Vec<PathBuf> =
        std::fs::read_dir(log_dir).unwrap().flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect();
    assert_eq!(dirs.len(), 1, "one application's rolling log: {dirs:?}");
    let dir = &dirs[0];
    let name = dir.file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with("eventlog_v2_local-"), "{name}");
    let app = name.trim_start_matches("eventlog_v2_");
    assert!(dir.join(format!("appstatus_{app}")).exists(), "the log is marked complete");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("events_"))
        .collect();
    files.sort();
    assert!(!files.is_empty() && files.iter().all(|f| f.extension().is_some_and(|e| e == "zstd")), "{files:?}");
    files
        .iter()
        .flat_map(|f| {
            let bytes = zstd::stream::decode_all(std::fs::File::open(f).unwrap()).unwrap();
            String::from_utf8(bytes)
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str::<Value>(l).unwrap())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Per stage, from the driver's TaskEnd events: (tasks, shuffle bytes written, shuffle bytes read,
/// memory spilled, disk spilled).
fn figures_by_stage(events: &[Value]) -> BTreeMap<u64, (u64, u64, u64, u64, u64)> {
    let mut stages = BTreeMap::new();
    for e in events.iter().filter(|e| e["Event"] == "SparkListenerTaskEnd") {
        let m = &e["Task Metrics"];
        let read = m["Shuffle Read Metrics"]["Remote Bytes Read"].as_u64().unwrap()
            + m["Shuffle Read Metrics"]["Local Bytes Read"].as_u64().unwrap();
        let entry = stages.entry(e["Stage ID"].as_u64().unwrap()).or_insert((0, 0, 0, 0, 0));
        entry.0 += 1;
        entry.1 += m["Shuffle Write Metrics"]["Shuffle Bytes Written"].as_u64().unwrap();
        entry.2 += read;
        entry.3 += m["Memory Bytes Spilled"].as_u64().unwrap();
        entry.4 += m["Disk Bytes Spilled"].as_u64().unwrap();
    }
    stages
}

/// `weft submit --master local[2]` of WordCount with the event log on and `extra` settings.
fn wordcount(log_dir: &Path, name: &str, extra: &[&str], input: &Path, output: &Path) {
    let mut command = Command::new(binary("weft"));
    command
        .args(["submit", "--master", "local[2]", "--name", name])
        .args(["--conf", "spark.eventLog.enabled=true"])
        .arg("--conf")
        .arg(format!("spark.eventLog.dir=file://{}", log_dir.display()))
        .args(["--conf", "spark.default.parallelism=4"])
        .args(["--conf", "spark.testing.memory=8388608", "--conf", "spark.testing.reservedMemory=0"])
        .args(["--conf", "spark.ui.showConsoleProgress=false"]);
    for setting in extra {
        command.args(["--conf", setting]);
    }
    let run = command.arg(example("wordcount")).arg(input).arg(output).output().unwrap();
    assert!(run.status.success(), "wordcount {name} failed:\n{}", String::from_utf8_lossy(&run.stderr));
}

#[test]
fn an_unmodified_history_server_replays_a_weft_applications_event_log() {
    let work = data_dir();
    let log_dir = work.path().join("spark-events");
    std::fs::create_dir(&log_dir).unwrap();
    // 200,000 lines, 400,001 distinct words: a map-side combine of 100,000 keys per task does not
    // fit the few MiB an 8 MiB executor gives each task, so the map side spills.
    let input = work.path().join("words.txt");
    let mut text = String::new();
    for i in 0..200_000u64 {
        text.push_str(&format!("u{i} v{i} common\n"));
    }
    std::fs::write(&input, text).unwrap();
    // Spark 4's defaults (a rolling directory of zstd files), then one lz4 file as Spark's
    // LZ4CompressionCodec writes it.
    wordcount(&log_dir, "history-wordcount", &[], &input, &work.path().join("counts"));
    let lz4 = ["spark.eventLog.compression.codec=lz4", "spark.eventLog.rolling.enabled=false"];
    wordcount(&log_dir, "history-wordcount-lz4", &lz4, &input, &work.path().join("counts-lz4"));
    let lz4_log = std::fs::read_dir(&log_dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|name| name.ends_with(".lz4"))
        .expect("a single lz4 log file");
    assert!(lz4_log.starts_with("local-"), "{lz4_log}");

    let events = read_events(&log_dir);
    assert_eq!(events[0]["Event"], "SparkListenerLogStart");
    let app_id = events
        .iter()
        .find(|e| e["Event"] == "SparkListenerApplicationStart")
        .map(|e| e["App ID"].as_str().unwrap().to_owned())
        .expect("an ApplicationStart event");
    let recorded = figures_by_stage(&events);
    assert_eq!(recorded.len(), 2, "two stages ran: {recorded:?}");
    let (&map_stage, &(map_tasks, written, _, mem_spilled, disk_spilled)) = recorded.iter().next().unwrap();
    let (&reduce_stage, &(reduce_tasks, _, read, _, _)) = recorded.iter().nth(1).unwrap();
    assert!(written > 0 && read == written, "shuffle written {written}, read {read}");
    assert!(mem_spilled > 0 && disk_spilled > 0, "the small pool made the map side spill: {recorded:?}");

    let mut server = HistoryServer::start(&log_dir, work.path());
    let apps = server.wait_for("applications", |v| v.as_array().is_some_and(|a| a.len() == 2));
    let app = apps.as_array().unwrap().iter().find(|a| a["id"] == app_id.as_str()).unwrap_or_else(|| panic!("{apps}"));
    assert_eq!(app["name"], "history-wordcount");
    assert_eq!(app["attempts"][0]["completed"], true, "{app}");
    // The lz4 log replays too: the same job over the same input.
    let lz4_app = apps
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "history-wordcount-lz4")
        .unwrap_or_else(|| panic!("{apps}"));
    assert_eq!(lz4_app["attempts"][0]["completed"], true, "{lz4_app}");
    let lz4_jobs = server.wait_for(&format!("applications/{}/jobs", lz4_app["id"].as_str().unwrap()), |v| {
        v.as_array().is_some_and(|a| !a.is_empty())
    });
    assert_eq!(lz4_jobs[0]["status"], "SUCCEEDED", "{lz4_jobs}");
    assert_eq!(lz4_jobs[0]["numCompletedTasks"].as_u64(), Some(map_tasks + reduce_tasks), "{lz4_jobs}");

    let jobs = server.wait_for(&format!("applications/{app_id}/jobs"), |v| v.as_array().is_some_and(|a| !a.is_empty()));
    assert_eq!(jobs.as_array().unwrap().len(), 1, "{jobs}");
    let job = &jobs[0];
    assert_eq!(job["status"], "SUCCEEDED", "{job}");
    assert_eq!(job["numTasks"].as_u64(), Some(map_tasks + reduce_tasks), "{job}");
    assert_eq!(job["numCompletedTasks"].as_u64(), Some(map_tasks + reduce_tasks), "{job}");

    let stages = server.get(&format!("applications/{app_id}/stages")).unwrap();
    let stage = |id: u64| {
        stages
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["stageId"].as_u64() == Some(id))
            .cloned()
            .unwrap_or_else(|| panic!("no stage {id} in {stages}"))
    };
    let (map, reduce) = (stage(map_stage), stage(reduce_stage));
    for s in [&map, &reduce] {
        assert_eq!(s["status"], "COMPLETE", "{s}");
    }
    assert_eq!(map["numCompleteTasks"].as_u64(), Some(map_tasks), "{map}");
    assert_eq!(reduce["numCompleteTasks"].as_u64(), Some(reduce_tasks), "{reduce}");
    assert_eq!(map["shuffleWriteBytes"].as_u64(), Some(written), "{map}");
    assert_eq!(reduce["shuffleReadBytes"].as_u64(), Some(read), "{reduce}");
    assert_eq!(map["memoryBytesSpilled"].as_u64(), Some(mem_spilled), "{map}");
    assert_eq!(map["diskBytesSpilled"].as_u64(), Some(disk_spilled), "{map}");

    let tasks = server.get(&format!("applications/{app_id}/stages/{map_stage}/0/taskList?length=1000")).unwrap();
    assert_eq!(tasks.as_array().unwrap().len() as u64, map_tasks, "{tasks}");
    assert!(tasks.as_array().unwrap().iter().all(|t| t["status"] == "SUCCESS"), "{tasks}");
    let environment = server.get(&format!("applications/{app_id}/environment")).unwrap();
    let properties = environment["sparkProperties"].as_array().unwrap();
    assert!(properties.iter().any(|p| p[0] == "spark.eventLog.enabled" && p[1] == "true"), "{environment}");
    let executors = server.get(&format!("applications/{app_id}/allexecutors")).unwrap();
    assert!(!executors.as_array().unwrap().is_empty(), "{executors}");
}

//! Issue 6, end to end: Spark programs under failure and memory pressure on a ResourceManager and two
//! NodeManagers (real processes, real cgroups): an executor SIGKILLed in the middle of a map or a
//! reduce stage, shuffle files deleted between jobs, a task past its container's memory, a collect
//! past spark.driver.maxResultSize, a cache larger than storage memory, sorts and groups of five times
//! the executors' memory, and the benchmark's skewed groupByKey and join. The program is
//! `tests/examples/spark_pressure.rs`; every mode checks its own answer.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::Value;
use weft_tests::{example, printed_app_id, require_cgroups, wait_for, Cluster, ClusterOptions, WeftOutput};

const RUN_TIMEOUT: Duration = Duration::from_secs(300);

/// Two NodeManagers that check their containers' memory every 300 ms.
fn cluster() -> Cluster {
    require_cgroups();
    Cluster::start(ClusterOptions {
        nm_yaml: "yarn.nodemanager.container-monitor.interval-ms: 300\n".into(),
        ..Default::default()
    })
}

/// `weft submit` in client mode with `executors` executors of 512m and `cores` cores, extra `--conf`s,
/// then the program and its arguments.
fn submit_args<'a>(executors: &'a str, cores: &'a str, confs: &[&'a str], program: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["submit", "--master", "yarn", "--deploy-mode", "client", "--num-executors", executors];
    args.extend(["--executor-memory", "512m", "--executor-cores", cores, "--driver-memory", "512m"]);
    for conf in confs {
        args.extend(["--conf", conf]);
    }
    args.extend_from_slice(program);
    args
}

fn containers(cluster: &Cluster, app: &str) -> Vec<Value> {
    let attempt = format!("{}_000001", app.replacen("application_", "appattempt_", 1));
    let (status, body) = cluster.get(&format!("/ws/v1/cluster/apps/{app}/appattempts/{attempt}/containers"));
    assert_eq!(status, 200, "{body}");
    body["containers"]["container"].as_array().cloned().unwrap_or_default()
}

/// The application's containers killed for memory (the kill feed also lists the AM's own stops).
fn memory_kills(cluster: &Cluster, app: &str) -> Vec<Value> {
    let (status, body) = cluster.get(&format!("/ws/v1/cluster/containers/kills?app={app}"));
    assert_eq!(status, 200, "{body}");
    let all = body["containerKills"]["containerKill"].as_array().cloned().unwrap_or_default();
    all.into_iter()
        .filter(|k| ["physical_memory", "virtual_memory", "kernel_oom"].contains(&k["reason"].as_str().unwrap_or("")))
        .collect()
}

/// A `weft submit` running in the background, its output going to files. It and the driver it starts
/// are a process group of their own, ended when the test is done with them, also when it fails.
struct Background {
    child: std::process::Child,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl Background {
    fn start(cluster: &Cluster, args: &[&str], dir: &Path) -> Background {
        let (stdout, stderr) = (dir.join("stdout"), dir.join("stderr"));
        let child = std::os::unix::process::CommandExt::process_group(&mut cluster.weft_command(args), 0)
            .stdout(Stdio::from(std::fs::File::create(&stdout).unwrap()))
            .stderr(Stdio::from(std::fs::File::create(&stderr).unwrap()))
            .spawn()
            .expect("start weft submit");
        Background { child, stdout, stderr }
    }

    /// Waits for `path` to appear while the run goes on; fails with the run's output otherwise.
    fn wait_for_file(&mut self, path: &Path) -> String {
        let started = std::time::Instant::now();
        loop {
            if let Ok(text) = std::fs::read_to_string(path) {
                return text;
            }
            let ended = self.child.try_wait().unwrap();
            if ended.is_some() || started.elapsed() > RUN_TIMEOUT {
                self.end();
                panic!(
                    "{} never appeared ({ended:?}):\n{}{}",
                    path.display(),
                    std::fs::read_to_string(&self.stdout).unwrap_or_default(),
                    std::fs::read_to_string(&self.stderr).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills the group (the `weft submit` and its driver) if it is still running.
    fn end(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = kill(Pid::from_raw(-(self.child.id() as i32)), Signal::SIGKILL);
            let _ = self.child.wait();
        }
    }

    fn wait(mut self) -> WeftOutput {
        let status = wait_for("weft submit to end", RUN_TIMEOUT, || self.child.try_wait().unwrap());
        WeftOutput {
            code: status.code(),
            stdout: std::fs::read_to_string(&self.stdout).unwrap(),
            stderr: std::fs::read_to_string(&self.stderr).unwrap(),
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        self.end();
    }
}

/// Kills the executor that wrote its pid to `dir/victim` (a process of this test's cluster).
fn kill_victim(run: &mut Background, dir: &Path) -> i32 {
    let marker = dir.join("victim");
    let pid: i32 = loop {
        // The file is created empty, then the pid is written.
        if let Ok(pid) = run.wait_for_file(&marker).trim().parse() {
            break pid;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    kill(Pid::from_raw(pid), Signal::SIGKILL).expect("SIGKILL the executor");
    pid
}

#[test]
fn an_executor_killed_mid_stage_is_replaced_and_its_lost_work_redone_uncounted() {
    let cluster = cluster();
    let program = example("spark_pressure");
    for stage in ["map", "reduce"] {
        let dir = weft_tests::data_dir();
        let marks = dir.path().to_str().unwrap();
        // One allowed failure per task: had the killed executor's tasks counted, the job would abort.
        let args = submit_args("2", "1", &["spark.task.maxFailures=1"], &[&program, "kill-in", stage, marks]);
        let mut run = Background::start(&cluster, &args, dir.path());
        let pid = kill_victim(&mut run, dir.path());
        let run = run.wait();
        let text = run.both();
        assert_eq!(run.code, Some(0), "{stage}: {text}");
        assert!(run.stdout.contains("counts ok"), "{stage}: {text}");
        if stage == "map" {
            // The loss reaches the driver through the application master, in Spark's words; the
            // running task fails uncounted and a replacement is asked for at once.
            assert!(text.contains("exited unrelated to the running tasks"), "{stage}: {text}");
            assert!(text.contains("(died from signal 9?)"), "{stage}: {text}");
            assert!(
                text.contains("Will request 1 executor container(s)"),
                "{stage}: no replacement for pid {pid}: {text}"
            );
        } else {
            // Mid-reduce, the other executor's reducers may notice first (FetchFailed) or the
            // application master may; either way the killed executor's map outputs run again.
            assert!(
                text.contains("FetchFailed(BlockManagerId(") || text.contains("exited unrelated to the running tasks"),
                "{text}"
            );
            assert_eq!(text.matches("missing tasks from ShuffleMapStage 0").count(), 2, "{text}");
        }
    }
    cluster.stop_checked();
}

/// The shuffle data and index files of executor `executor` under the cluster's directories.
fn shuffle_files(root: &Path, executor: &str) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else {
                out.push(path);
            }
        }
    }
    let mut all = Vec::new();
    walk(root, &mut all);
    let owner = format!("executor-{executor}");
    all.into_iter()
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with("shuffle_")
                && (name.ends_with(".data") || name.ends_with(".index"))
                && p.components().any(|c| c.as_os_str() == owner.as_str())
        })
        .collect()
}

#[test]
fn deleted_shuffle_files_fail_the_fetch_and_only_the_missing_map_outputs_rerun() {
    let cluster = cluster();
    let dir = weft_tests::data_dir();
    let marks = dir.path().to_str().unwrap();
    let program = example("spark_pressure");
    let args = submit_args("2", "1", &[], &[&program, "refetch", marks]);
    let mut run = Background::start(&cluster, &args, dir.path());
    run.wait_for_file(&dir.path().join("ready"));
    let files = shuffle_files(cluster.dir.path(), "1");
    let data = files.iter().filter(|p| p.extension().is_some_and(|e| e == "data")).count();
    // The first job waited for both executors (Spark's minRegisteredResourcesRatio, 0.8 of 2 on
    // YARN), so each ran some of the map tasks.
    assert!(data > 0 && data < 8, "executor 1 holds some of the 8 map outputs: {files:?}");
    for file in &files {
        std::fs::remove_file(file).unwrap();
    }
    std::fs::File::create(dir.path().join("go")).unwrap().flush().unwrap();
    let run = run.wait();
    let text = run.both();
    assert_eq!(run.code, Some(0), "{text}");
    assert!(run.stdout.contains("sums ok"), "{text}");
    assert!(text.contains("FetchFailed(BlockManagerId(1, "), "{text}");
    assert!(
        text.contains(
            "SchedulerBackend is ready for scheduling beginning after reached minRegisteredResourcesRatio: 0.8"
        ),
        "{text}"
    );
    // The map stage runs again for exactly the outputs that were deleted.
    assert!(text.contains(&format!("Submitting {data} missing tasks from ShuffleMapStage")), "{data} deleted: {text}");
    cluster.stop_checked();
}

#[test]
fn a_task_past_its_container_memory_is_killed_104_with_sparks_hint_and_more_overhead_fixes_it() {
    let cluster = cluster();
    let program = example("spark_pressure");
    // 512m + 384m overhead → a 1024 MB container; the task touches 1200 MiB.
    let run = cluster.weft(&submit_args("2", "1", &[], &[&program, "hog", "1200"]));
    let text = run.both();
    assert_ne!(run.code, Some(0), "{text}");
    assert!(
        text.contains("Container killed by YARN for exceeding physical memory limits. ")
            && text.contains(" of 1 GB physical memory used. Consider boosting spark.executor.memoryOverhead."),
        "{text}"
    );
    assert!(text.contains("ExecutorLostFailure (executor "), "{text}");
    assert!(text.contains("exited caused by one of the running tasks"), "{text}");
    let app = printed_app_id(&text);
    assert!(!memory_kills(&cluster, &app).is_empty(), "the NodeManager recorded no kill");
    assert_eq!(cluster.app(&app)["finalStatus"], "FAILED");

    // With 1g of overhead the container is 2048 MB and the same task fits.
    let run = cluster.weft(&submit_args("2", "1", &["spark.executor.memoryOverhead=1g"], &[&program, "hog", "1200"]));
    assert_eq!(run.code, Some(0), "{}", run.both());
    assert!(run.stdout.contains("hog survived"), "{}", run.both());
    let kills = memory_kills(&cluster, &printed_app_id(&run.both()));
    assert!(kills.is_empty(), "{kills:?}\n{}", run.both());
    cluster.stop_checked();
}

#[test]
fn a_collect_past_max_result_size_fails_in_sparks_words_and_the_driver_goes_on() {
    let cluster = cluster();
    let program = example("spark_pressure");
    let confs = ["spark.driver.maxResultSize=1m"];
    let run = cluster.weft(&submit_args("2", "1", &confs, &[&program, "big-collect", "2097152"]));
    let text = run.both();
    assert_eq!(run.code, Some(0), "{text}");
    assert!(
        text.contains("collect failed: Job aborted due to stage failure: Total size of serialized results of "),
        "{text}"
    );
    assert!(text.contains("is bigger than spark.driver.maxResultSize (1024.0 KiB)"), "{text}");
    assert!(run.stdout.contains("next job counted 1000"), "{text}");
    cluster.stop_checked();
}

fn computed_partitions(stdout: &str) -> u64 {
    let line = stdout.lines().find(|l| l.starts_with("computed ")).unwrap_or_else(|| panic!("{stdout}"));
    line.split(' ').nth(1).unwrap().parse().unwrap()
}

#[test]
fn a_cache_larger_than_storage_memory_is_recomputed_or_read_from_disk() {
    let cluster = cluster();
    let program = example("spark_pressure");
    // One executor of 512m: (512 − 300) MiB × 0.6 ≈ 127 MiB for execution and storage; 400 MiB cached.
    let mut answers = Vec::new();
    for level in ["memory_only", "memory_and_disk"] {
        let run = cluster.weft(&submit_args("1", "2", &[], &[&program, "cache", level, "400"]));
        let text = run.both();
        assert_eq!(run.code, Some(0), "{level}: {text}");
        let computed = computed_partitions(&run.stdout);
        if level == "memory_only" {
            assert!(computed > 8, "MEMORY_ONLY blocks that did not fit are recomputed: {text}");
        } else {
            assert_eq!(computed, 8, "MEMORY_AND_DISK blocks are read back from disk: {text}");
        }
        answers.push(
            run.stdout
                .lines()
                .find(|l| l.starts_with("computed "))
                .unwrap()
                .split("answer ")
                .nth(1)
                .unwrap()
                .to_owned(),
        );
        assert!(memory_kills(&cluster, &printed_app_id(&text)).is_empty(), "{level}: a container was killed");
    }
    assert_eq!(answers[0], answers[1]);
    cluster.stop_checked();
}

fn spilled(stdout: &str) -> (u64, u64) {
    let line = stdout.lines().find(|l| l.starts_with("spilled ")).unwrap_or_else(|| panic!("{stdout}"));
    let words: Vec<&str> = line.split(' ').collect();
    (words[1].parse().unwrap(), words[4].parse().unwrap())
}

/// Executor memory 512m × 1 executor; the data is five times that: far past memory (so it spills),
/// small enough to keep the suite's time.
const FIVE_TIMES_MB: &str = "2560";

#[test]
fn sort_and_group_by_key_of_five_times_the_executor_memory_spill_and_finish() {
    let cluster = cluster();
    let program = example("spark_pressure");
    for mode in [vec!["sort", FIVE_TIMES_MB], vec!["group", FIVE_TIMES_MB, "100000"]] {
        let mut program_args = vec![program.as_str()];
        program_args.extend(mode.iter().copied());
        let run = cluster.weft(&submit_args("1", "2", &[], &program_args));
        let text = run.both();
        assert_eq!(run.code, Some(0), "{mode:?}: {text}");
        let (memory, disk) = spilled(&run.stdout);
        assert!(memory > 0 && disk > 0, "{mode:?} spilled nothing: {text}");
        let app = printed_app_id(&text);
        assert!(memory_kills(&cluster, &app).is_empty(), "{mode:?}: a container was killed");
        assert_eq!(containers(&cluster, &app).len(), 1, "{mode:?}: one executor, never replaced");
    }
    cluster.stop_checked();
}

/// Records in the layout of the shared benchmark's `kv_skew`: `key(10) TAB num(8) payload(80)`, with
/// `hot` of them on one key.
fn write_skewed_kv(dir: &Path, records: usize, keys: usize, hot: f64) -> (PathBuf, PathBuf) {
    let kv = dir.join("kv_skew");
    std::fs::create_dir_all(&kv).unwrap();
    let key = |n: usize| -> String {
        let mut x = n as u64 * 0x9e37_79b9 + 17;
        (0..10)
            .map(|_| {
                let c = b'A' + (x % 26) as u8;
                x /= 26;
                c as char
            })
            .collect()
    };
    let mut state = 7u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for part in 0..4 {
        let mut out = std::io::BufWriter::new(std::fs::File::create(kv.join(format!("part-{part:05}.txt"))).unwrap());
        for _ in 0..records / 4 {
            let r = next();
            let k = if (r % 1000) as f64 / 1000.0 < hot { 0 } else { (r >> 20) as usize % keys };
            writeln!(out, "{}\t{:08}{}", key(k), (r >> 8) % 100_000_000, "q".repeat(80)).unwrap();
        }
    }
    let dim = dir.join("dim");
    std::fs::create_dir_all(&dim).unwrap();
    let mut out = std::io::BufWriter::new(std::fs::File::create(dim.join("part-00000.txt")).unwrap());
    for k in 0..keys {
        writeln!(out, "{}\t{}", key(k), k % 100).unwrap();
    }
    (kv, dim)
}

fn read_rows(dir: &Path) -> BTreeMap<String, (u64, u64)> {
    assert!(dir.join("_SUCCESS").exists(), "{} has no _SUCCESS", dir.display());
    let mut rows = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        if !entry.file_name().to_string_lossy().starts_with("part-") {
            continue;
        }
        for line in std::fs::read_to_string(entry.path()).unwrap().lines() {
            let f: Vec<&str> = line.split('\t').collect();
            assert!(rows.insert(f[0].to_owned(), (f[1].parse().unwrap(), f[2].parse().unwrap())).is_none(), "{line}");
        }
    }
    rows
}

#[test]
fn the_benchmarks_skewed_group_by_key_and_join_finish_with_exact_output() {
    let cluster = cluster();
    let program = example("spark_pressure");
    let dir = weft_tests::data_dir();
    let (kv, dim) = write_skewed_kv(dir.path(), 2_000_000, 50_000, 0.30);
    let lines: Vec<String> = std::fs::read_dir(&kv)
        .unwrap()
        .flatten()
        .flat_map(|e| std::fs::read_to_string(e.path()).unwrap().lines().map(str::to_owned).collect::<Vec<_>>())
        .collect();
    let regions: BTreeMap<String, u64> = std::fs::read_to_string(dim.join("part-00000.txt"))
        .unwrap()
        .lines()
        .map(|l| (l[..10].to_owned(), l[11..].parse().unwrap()))
        .collect();
    let mut by_key: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let mut by_region: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for line in &lines {
        let (key, num) = (&line[..10], line[11..19].parse::<u64>().unwrap());
        let e = by_key.entry(key.to_owned()).or_default();
        *e = (e.0 + num, e.1 + 1);
        if let Some(region) = regions.get(key) {
            let e = by_region.entry(region.to_string()).or_default();
            *e = (e.0 + num, e.1 + 1);
        }
    }
    let hot = by_key.values().map(|v| v.1).max().unwrap();
    assert!(hot as f64 > 0.25 * lines.len() as f64, "one key holds about 30% of the records");

    let out = dir.path().join("group-out");
    let run = cluster.weft(&submit_args(
        "2",
        "1",
        &[],
        &[&program, "skew-group", kv.to_str().unwrap(), out.to_str().unwrap()],
    ));
    assert_eq!(run.code, Some(0), "{}", run.both());
    assert_eq!(read_rows(&out), by_key);
    assert!(run.both().contains("largest shuffle partition"), "{}", run.both());

    let out = dir.path().join("join-out");
    let run = cluster.weft(&submit_args(
        "2",
        "1",
        &[],
        &[&program, "skew-join", kv.to_str().unwrap(), dim.to_str().unwrap(), out.to_str().unwrap()],
    ));
    assert_eq!(run.code, Some(0), "{}", run.both());
    assert_eq!(read_rows(&out), by_region);
    cluster.stop_checked();
}

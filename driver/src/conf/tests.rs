//! `SparkConf`: defaults, Spark's spellings of sizes and durations, the overhead rule, and errors that
//! name the key and the value.

use super::*;

fn conf(pairs: &[(&str, &str)]) -> SparkConf {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// The error of a getter names the key and quotes the value.
fn refused<T: fmt::Debug>(result: Result<T, String>, key: &str, value: &str) {
    let err = result.expect_err("a bad value is refused");
    assert!(err.starts_with(&format!("{key}: ")), "{err}");
    assert!(err.contains(&format!("{value:?}")), "{err}");
}

#[test]
fn defaults_are_spark_4s() {
    let c = SparkConf::new();
    assert_eq!((c.master(), c.app_name(), c.queue()), ("local[*]", None, "default"));
    assert_eq!(c.deploy_mode(), Ok(DeployMode::Client));
    assert_eq!((c.executor_instances(), c.executor_cores(), c.executor_memory_mb()), (Ok(2), Ok(1), Ok(1024)));
    assert_eq!((c.executor_overhead_mb(), c.executor_container_mb()), (Ok(384), Ok(1408)));
    assert_eq!((c.driver_memory_mb(), c.driver_cores(), c.driver_container_mb()), (Ok(1024), Ok(1), Ok(1408)));
    assert_eq!((c.yarn_am_memory_mb(), c.yarn_am_container_mb(), c.yarn_am_cores()), (Ok(512), Ok(896), Ok(1)));
    assert_eq!((c.task_max_failures(), c.default_parallelism()), (Ok(4), Ok(None)));
    assert_eq!((c.locality_wait_ms(), c.locality_wait_rack_ms()), (Ok(3000), Ok(3000)));
    assert_eq!(c.scheduler_mode(), Ok(SchedulerMode::Fifo));
    assert_eq!((c.network_timeout_ms(), c.executor_heartbeat_interval_ms()), (Ok(120_000), Ok(10_000)));
    assert_eq!(c.driver_max_result_size_bytes(), Ok(1 << 30));
    assert_eq!(c.executor_max_num_failures(), Ok(4));
    assert_eq!((c.show_console_progress(), c.max_app_attempts()), (Ok(None), Ok(None)));
    assert_eq!((c.memory_fraction(), c.memory_storage_fraction()), (Ok(0.6), Ok(0.5)));
    assert_eq!((c.shuffle_compress(), c.rdd_compress(), c.event_log_enabled()), (Ok(true), Ok(false), Ok(false)));
    assert_eq!(c.shuffle_read_host_local_disk(), Ok(true));
    assert_eq!((c.event_log_dir(), c.local_dir()), (Ok("/tmp/spark-events".into()), None));
    assert_eq!(
        (c.event_log_compress(), c.event_log_codec(), c.event_log_rolling()),
        (Ok(true), Ok(EventLogCodec::Zstd), Ok(true))
    );
    assert_eq!((c.event_log_max_file_bytes(), c.event_log_overwrite()), (Ok(128 << 20), Ok(false)));
    assert_eq!((c.driver_host(), c.driver_port()), (None, Ok(0)));
    assert_eq!(c.staged_files(), Ok(Vec::new()));
}

#[test]
fn overhead_is_the_384_floor_below_3840m() {
    let c = conf(&[("spark.executor.memory", "2g"), ("spark.driver.memory", "512m")]);
    assert_eq!((c.executor_overhead_mb(), c.executor_container_mb()), (Ok(384), Ok(2432)));
    assert_eq!((c.driver_overhead_mb(), c.driver_container_mb()), (Ok(384), Ok(896)));
}

#[test]
fn overhead_is_ten_percent_above_3840m_truncated() {
    let c = conf(&[("spark.executor.memory", "4g"), ("spark.driver.memory", "8g")]);
    assert_eq!((c.executor_overhead_mb(), c.executor_container_mb()), (Ok(409), Ok(4505)));
    assert_eq!((c.driver_overhead_mb(), c.driver_container_mb()), (Ok(819), Ok(9011)));
}

#[test]
fn explicit_overhead_factor_and_minimum() {
    let c = conf(&[("spark.executor.memory", "4g"), ("spark.executor.memoryOverhead", "1g")]);
    assert_eq!(c.executor_container_mb(), Ok(5120));
    let c = conf(&[("spark.executor.memoryOverhead", "100")]);
    assert_eq!(c.executor_overhead_mb(), Ok(100), "a bare number is MiB, and it may go below the floor");
    let c = conf(&[("spark.executor.memory", "4g"), ("spark.executor.memoryOverheadFactor", "0.25")]);
    assert_eq!(c.executor_overhead_mb(), Ok(1024));
    let c = conf(&[("spark.executor.minMemoryOverhead", "512m")]);
    assert_eq!(c.executor_overhead_mb(), Ok(512));
    let c = conf(&[("spark.driver.memoryOverhead", "2g"), ("spark.executor.memoryOverhead", "1g")]);
    assert_eq!((c.driver_overhead_mb(), c.executor_overhead_mb()), (Ok(2048), Ok(1024)));
    let c = conf(&[("spark.driver.memory", "10g"), ("spark.driver.memoryOverheadFactor", "0.2")]);
    assert_eq!(c.driver_overhead_mb(), Ok(2048));
    let c = conf(&[("spark.yarn.am.memory", "1g"), ("spark.yarn.am.memoryOverhead", "128m")]);
    assert_eq!(c.yarn_am_container_mb(), Ok(1152));
}

#[test]
fn sizes_in_sparks_spellings() {
    for (text, mb) in [("512m", 512), ("2g", 2048), ("1024k", 1), ("4096", 4096), ("2G", 2048), ("1t", 1 << 20)] {
        assert_eq!(conf(&[("spark.executor.memory", text)]).executor_memory_mb(), Ok(mb), "{text}");
    }
    let c = conf(&[("spark.driver.maxResultSize", "2g"), ("a", "512"), ("b", "0")]);
    assert_eq!(c.driver_max_result_size_bytes(), Ok(2 << 30));
    assert_eq!(c.get_size_as_bytes("a", 1), Ok(Some(512)));
    assert_eq!(c.get_size_as_bytes("a", 1024), Ok(Some(512 * 1024)));
    assert_eq!(c.get_size_as_mb("missing"), Ok(None));
}

#[test]
fn bad_sizes_name_the_key_and_value() {
    refused(conf(&[("spark.executor.memory", "1.5g")]).executor_memory_mb(), "spark.executor.memory", "1.5g");
    let err = conf(&[("spark.executor.memory", "1.5g")]).executor_container_mb().unwrap_err();
    assert!(err.contains("fractional"), "{err}");
    refused(conf(&[("spark.driver.memory", "lots")]).driver_container_mb(), "spark.driver.memory", "lots");
    refused(conf(&[("spark.executor.memory", "0")]).executor_memory_mb(), "spark.executor.memory", "0");
    refused(
        conf(&[("spark.executor.memoryOverhead", "1x")]).executor_overhead_mb(),
        "spark.executor.memoryOverhead",
        "1x",
    );
    refused(
        conf(&[("spark.driver.maxResultSize", "-1")]).driver_max_result_size_bytes(),
        "spark.driver.maxResultSize",
        "-1",
    );
}

#[test]
fn durations_in_sparks_spellings() {
    let ms = |text: &str, unit| conf(&[("k", text)]).get_time_as_ms("k", unit);
    use TimeUnit::{Milliseconds, Seconds};
    for (text, unit, expected) in [
        ("120s", Milliseconds, 120_000),
        ("3s", Seconds, 3000),
        ("200ms", Seconds, 200),
        ("1min", Milliseconds, 60_000),
        ("2m", Milliseconds, 120_000),
        ("2h", Seconds, 7_200_000),
        ("1d", Seconds, 86_400_000),
        ("1500us", Seconds, 1),
        ("250", Milliseconds, 250),
        ("250", Seconds, 250_000),
        (" 5S ", Milliseconds, 5000),
    ] {
        assert_eq!(ms(text, unit), Ok(Some(expected)), "{text}");
    }
    let c = conf(&[("spark.network.timeout", "300"), ("spark.locality.wait", "500")]);
    assert_eq!((c.network_timeout_ms(), c.locality_wait_ms()), (Ok(300_000), Ok(500)));
    let c = conf(&[("spark.locality.wait", "1s"), ("spark.locality.wait.node", "0")]);
    assert_eq!(
        (c.locality_wait_process_ms(), c.locality_wait_node_ms(), c.locality_wait_rack_ms()),
        (Ok(1000), Ok(0), Ok(1000))
    );
    for bad in ["1.5s", "s", "-1s", "3 weeks", "5 s", "", "99999999999999999999d"] {
        refused(conf(&[("spark.network.timeout", bad)]).network_timeout_ms(), "spark.network.timeout", bad);
    }
}

#[test]
fn integers_floats_and_booleans() {
    let c = conf(&[("spark.executor.instances", "0"), ("spark.task.maxFailures", "8")]);
    assert_eq!((c.executor_instances(), c.task_max_failures()), (Ok(0), Ok(8)));
    refused(conf(&[("spark.executor.cores", "0")]).executor_cores(), "spark.executor.cores", "0");
    refused(conf(&[("spark.executor.cores", "two")]).executor_cores(), "spark.executor.cores", "two");
    refused(conf(&[("spark.executor.instances", "-1")]).executor_instances(), "spark.executor.instances", "-1");
    refused(conf(&[("spark.driver.port", "70000")]).driver_port(), "spark.driver.port", "70000");
    refused(conf(&[("spark.default.parallelism", "0")]).default_parallelism(), "spark.default.parallelism", "0");
    assert_eq!(conf(&[("spark.default.parallelism", "16")]).default_parallelism(), Ok(Some(16)));
    assert_eq!(conf(&[("spark.memory.fraction", "0.75")]).memory_fraction(), Ok(0.75));
    refused(conf(&[("spark.memory.fraction", "1.5")]).memory_fraction(), "spark.memory.fraction", "1.5");
    refused(conf(&[("spark.memory.fraction", "x")]).memory_fraction(), "spark.memory.fraction", "x");
    refused(
        conf(&[("spark.memory.storageFraction", "1")]).memory_storage_fraction(),
        "spark.memory.storageFraction",
        "1",
    );
    refused(
        conf(&[("spark.executor.memoryOverheadFactor", "0")]).executor_overhead_mb(),
        "spark.executor.memoryOverheadFactor",
        "0",
    );
    let c = conf(&[("spark.shuffle.compress", "FALSE"), ("spark.ui.showConsoleProgress", "true")]);
    assert_eq!((c.shuffle_compress(), c.show_console_progress()), (Ok(false), Ok(Some(true))));
    refused(conf(&[("spark.rdd.compress", "yes")]).rdd_compress(), "spark.rdd.compress", "yes");
    assert_eq!(conf(&[("spark.shuffle.readHostLocalDisk", "false")]).shuffle_read_host_local_disk(), Ok(false));
    assert_eq!(conf(&[("spark.yarn.maxAppAttempts", "1")]).max_app_attempts(), Ok(Some(1)));
    refused(conf(&[("spark.yarn.maxAppAttempts", "0")]).max_app_attempts(), "spark.yarn.maxAppAttempts", "0");
}

#[test]
fn modes_and_masters() {
    assert_eq!(conf(&[("spark.submit.deployMode", "cluster")]).deploy_mode(), Ok(DeployMode::Cluster));
    refused(conf(&[("spark.submit.deployMode", "Cluster")]).deploy_mode(), "spark.submit.deployMode", "Cluster");
    assert_eq!(conf(&[("spark.scheduler.mode", "fair")]).scheduler_mode(), Ok(SchedulerMode::Fair));
    refused(conf(&[("spark.scheduler.mode", "LIFO")]).scheduler_mode(), "spark.scheduler.mode", "LIFO");
    let threads = |master: &str| conf(&[("spark.master", master)]).local_master_threads(8);
    assert_eq!((threads("local"), threads("local[4]"), threads("local[*]")), (Ok(Some(1)), Ok(Some(4)), Ok(Some(8))));
    assert_eq!((threads("yarn"), threads("weft://h:8032")), (Ok(None), Ok(None)));
    assert_eq!(SparkConf::new().local_master_threads(0), Ok(Some(1)));
    for bad in ["local[0]", "local[x]", "local[2", "local[2,3]", "localhost"] {
        refused(threads(bad), "spark.master", bad);
    }
}

#[test]
fn executor_failures_follow_the_executors_asked_for() {
    assert_eq!(conf(&[("spark.executor.instances", "1")]).executor_max_num_failures(), Ok(3));
    assert_eq!(conf(&[("spark.executor.instances", "10")]).executor_max_num_failures(), Ok(20));
    assert_eq!(conf(&[("spark.executor.maxNumFailures", "7")]).executor_max_num_failures(), Ok(7));
    assert_eq!(conf(&[("spark.yarn.max.executor.failures", "5")]).executor_max_num_failures(), Ok(5));
    let dynamic = conf(&[("spark.dynamicAllocation.enabled", "true"), ("spark.dynamicAllocation.maxExecutors", "6")]);
    assert_eq!(dynamic.executor_max_num_failures(), Ok(12));
    let unbounded = conf(&[("spark.dynamicAllocation.enabled", "true")]);
    assert_eq!(unbounded.executor_max_num_failures(), Ok(i32::MAX as u32));
}

#[test]
fn json_round_trip_and_iteration() {
    let mut c = SparkConf::new();
    c.set("spark.master", "yarn").set("spark.app.name", "wörd \"count\"").set_if_missing("spark.master", "local");
    let json = c.to_json();
    assert_eq!(json, r#"{"spark.app.name":"wörd \"count\"","spark.master":"yarn"}"#);
    assert_eq!(SparkConf::from_json(&json), Ok(c.clone()));
    let keys: Vec<&str> = c.iter().map(|(k, _)| k).collect();
    assert_eq!(keys, ["spark.app.name", "spark.master"]);
    assert_eq!((&c).into_iter().count(), 2);
    assert_eq!((c.len(), c.contains("spark.master"), c.get("nope")), (2, true, None));
    assert_eq!(c.remove("spark.master").as_deref(), Some("yarn"));
    let err = SparkConf::from_json(r#"{"spark.executor.cores": 2}"#).unwrap_err();
    assert!(err.contains("spark.executor.cores: expected a string"), "{err}");
    assert!(SparkConf::from_json("[1]").is_err() && SparkConf::from_json("{").is_err());
}

#[test]
fn staged_files_round_trip() {
    let file = StagedFile { name: "data.txt".into(), sha256: "ab".repeat(32), size: 3, executable: false };
    let mut c = SparkConf::new();
    c.set_staged_files(std::slice::from_ref(&file));
    assert_eq!(c.staged_files(), Ok(vec![file.clone()]));
    assert_eq!(StagedFile::from_json(&file.to_json()), Ok(file.clone()));
    let resource = weft_proto::pb::LocalResource::from(file.clone());
    assert_eq!(StagedFile::from(resource), file);
    refused(conf(&[("spark.weft.stagedFiles", "nope")]).staged_files(), "spark.weft.stagedFiles", "nope");
}

#[test]
fn failure_handling_defaults_are_spark_4s() {
    let c = SparkConf::new();
    assert_eq!(c.stage_max_consecutive_attempts(), Ok(4));
    assert_eq!((c.speculation_enabled(), c.speculation_interval_ms()), (Ok(false), Ok(100)));
    assert_eq!((c.speculation_multiplier(), c.speculation_quantile()), (Ok(3.0), Ok(0.9)));
    assert_eq!(c.speculation_min_task_runtime_ms(), Ok(100));
    assert_eq!((c.exclude_on_failure_enabled(), c.exclude_on_failure_timeout_ms()), (Ok(false), Ok(3_600_000)));
    assert_eq!((c.max_task_attempts_per_executor(), c.max_task_attempts_per_node()), (Ok(1), Ok(2)));
    assert_eq!((c.stage_max_failed_tasks_per_executor(), c.stage_max_failed_executors_per_node()), (Ok(2), Ok(2)));
    assert_eq!(
        (c.application_max_failed_tasks_per_executor(), c.application_max_failed_executors_per_node()),
        (Ok(2), Ok(2))
    );
    assert_eq!((c.kill_excluded_executors(), c.unschedulable_task_set_timeout_ms()), (Ok(false), Ok(120_000)));
}

#[test]
fn speculation_and_exclusion_keys_in_sparks_spellings() {
    let c = conf(&[
        ("spark.speculation", "true"),
        ("spark.speculation.interval", "1s"),
        ("spark.speculation.multiplier", "1.5"),
        ("spark.speculation.quantile", "0.75"),
        ("spark.speculation.minTaskRuntime", "250"),
        ("spark.excludeOnFailure.timeout", "10min"),
        ("spark.scheduler.excludeOnFailure.unschedulableTaskSetTimeout", "30"),
        ("spark.stage.maxConsecutiveAttempts", "2"),
    ]);
    assert_eq!((c.speculation_enabled(), c.speculation_interval_ms()), (Ok(true), Ok(1000)));
    assert_eq!((c.speculation_multiplier(), c.speculation_quantile()), (Ok(1.5), Ok(0.75)));
    assert_eq!(c.speculation_min_task_runtime_ms(), Ok(250), "a bare number is ms");
    assert_eq!(c.exclude_on_failure_timeout_ms(), Ok(600_000));
    assert_eq!(c.unschedulable_task_set_timeout_ms(), Ok(30_000), "a bare number is seconds");
    assert_eq!(c.stage_max_consecutive_attempts(), Ok(2));
    assert_eq!(conf(&[("spark.blacklist.enabled", "true")]).exclude_on_failure_enabled(), Ok(true));
    let both = conf(&[("spark.blacklist.enabled", "true"), ("spark.excludeOnFailure.enabled", "false")]);
    assert_eq!(both.exclude_on_failure_enabled(), Ok(false), "the new name wins");
}

#[test]
fn bad_speculation_and_exclusion_values_are_refused() {
    refused(conf(&[("spark.speculation", "yes")]).speculation_enabled(), "spark.speculation", "yes");
    refused(conf(&[("spark.speculation.interval", "0")]).speculation_interval_ms(), "spark.speculation.interval", "0");
    refused(conf(&[("spark.speculation.quantile", "1.5")]).speculation_quantile(), "spark.speculation.quantile", "1.5");
    refused(
        conf(&[("spark.speculation.multiplier", "-1")]).speculation_multiplier(),
        "spark.speculation.multiplier",
        "-1",
    );
    let key = "spark.excludeOnFailure.task.maxTaskAttemptsPerExecutor";
    refused(conf(&[(key, "0")]).max_task_attempts_per_executor(), key, "0");
    refused(
        conf(&[("spark.excludeOnFailure.timeout", "0")]).exclude_on_failure_timeout_ms(),
        "spark.excludeOnFailure.timeout",
        "0",
    );
    refused(
        conf(&[("spark.stage.maxConsecutiveAttempts", "0")]).stage_max_consecutive_attempts(),
        "spark.stage.maxConsecutiveAttempts",
        "0",
    );
}

#[test]
fn exclusion_needs_fewer_attempts_per_node_than_task_failures() {
    let c = conf(&[("spark.excludeOnFailure.enabled", "true"), ("spark.task.maxFailures", "2")]);
    let err = c.exclude_on_failure_enabled().unwrap_err();
    assert!(
        err.starts_with(
            "spark.excludeOnFailure.task.maxTaskAttemptsPerNode ( = 2) was >= spark.task.maxFailures ( = 2 )"
        ),
        "{err}"
    );
    let off = conf(&[("spark.excludeOnFailure.enabled", "false"), ("spark.task.maxFailures", "2")]);
    assert_eq!(off.exclude_on_failure_enabled(), Ok(false), "only checked when enabled");
    let ok = conf(&[("spark.excludeOnFailure.enabled", "true"), ("spark.task.maxFailures", "3")]);
    assert_eq!(ok.exclude_on_failure_enabled(), Ok(true));
}

#[test]
fn memory_keys_in_sparks_spellings_and_rules() {
    let c = SparkConf::new();
    assert_eq!(c.executor_system_and_reserved_bytes(), Ok((1024 * MIB, 300 * MIB)));
    assert_eq!((c.reducer_max_size_in_flight_bytes(), c.shuffle_spill_compress()), (Ok(48 * MIB), Ok(true)));
    let c = conf(&[("spark.executor.memory", "512m")]);
    assert_eq!(c.executor_system_and_reserved_bytes(), Ok((512 * MIB, 300 * MIB)));
    let tiny = conf(&[("spark.testing.memory", "1048576"), ("spark.testing.reservedMemory", "0")]);
    assert_eq!(tiny.executor_system_and_reserved_bytes(), Ok((1 << 20, 0)));
    assert_eq!(
        conf(&[("spark.executor.memory", "400m")]).executor_system_and_reserved_bytes(),
        Err("Executor memory 419430400 must be at least 471859200. Please increase executor memory using the \
             --executor-memory option or spark.executor.memory in Spark configuration."
            .to_owned()),
        "the driver's words for a too-small --executor-memory"
    );
    let small_executor = conf(&[("spark.executor.memory", "400m"), ("spark.testing.memory", "1073741824")]);
    assert_eq!(
        small_executor.executor_system_and_reserved_bytes(),
        Err("Executor memory 419430400 must be at least 471859200. Please increase executor memory using the \
             --executor-memory option or spark.executor.memory in Spark configuration."
            .to_owned())
    );
    let c = conf(&[("spark.reducer.maxSizeInFlight", "96"), ("spark.shuffle.spill.compress", "false")]);
    assert_eq!((c.reducer_max_size_in_flight_bytes(), c.shuffle_spill_compress()), (Ok(96 * MIB), Ok(false)));
    assert_eq!(conf(&[("spark.reducer.maxSizeInFlight", "1g")]).reducer_max_size_in_flight_bytes(), Ok(1024 * MIB));
    let key = "spark.reducer.maxSizeInFlight";
    refused(conf(&[(key, "0")]).reducer_max_size_in_flight_bytes(), key, "0");
    refused(conf(&[(key, "lots")]).reducer_max_size_in_flight_bytes(), key, "lots");
    let key = "spark.testing.memory";
    refused(conf(&[(key, "1.5g")]).executor_system_and_reserved_bytes(), key, "1.5g");
    let key = "spark.shuffle.spill.compress";
    refused(conf(&[(key, "maybe")]).shuffle_spill_compress(), key, "maybe");
}

#[test]
fn the_event_log_is_a_local_directory_and_zstd_or_plain() {
    let conf = |pairs: &[(&str, &str)]| {
        let mut c = SparkConf::new();
        for (k, v) in pairs {
            c.set(*k, *v);
        }
        c
    };
    let dir = |text: &str| conf(&[(keys::EVENT_LOG_DIR, text)]).event_log_dir();
    assert_eq!(dir("file:/var/log/spark"), Ok("/var/log/spark".into()));
    assert_eq!(dir("file:///var/log/spark"), Ok("/var/log/spark".into()));
    assert_eq!(dir("/var/log/spark"), Ok("/var/log/spark".into()));
    let hdfs = dir("hdfs://nn:8020/spark-logs").unwrap_err();
    assert!(hdfs.contains("spark.eventLog.dir") && hdfs.contains("a local directory"), "{hdfs}");
    assert!(dir("spark-logs").unwrap_err().contains("an absolute local directory"));
    assert_eq!(conf(&[(keys::EVENT_LOG_COMPRESSION_CODEC, "LZ4")]).event_log_codec(), Ok(EventLogCodec::Lz4));
    let snappy = conf(&[(keys::EVENT_LOG_COMPRESSION_CODEC, "snappy")]).event_log_codec().unwrap_err();
    assert!(snappy.contains("spark.eventLog.compression.codec") && snappy.contains("zstd or lz4"), "{snappy}");
    let small = conf(&[(keys::EVENT_LOG_ROLLING_MAX_FILE_SIZE, "1m")]).event_log_max_file_bytes().unwrap_err();
    assert!(small.contains("at least 10m"), "{small}");
    // Off, the log's own keys are not read; on, every problem is named at once.
    let off = conf(&[(keys::EVENT_LOG_DIR, "hdfs://nn/x")]);
    assert_eq!(SparkSettings::from_conf(&off).map(|s| s.ui.event_log), Ok(None));
    let on = conf(&[
        (keys::EVENT_LOG_ENABLED, "true"),
        (keys::EVENT_LOG_DIR, "hdfs://nn/x"),
        (keys::EVENT_LOG_COMPRESSION_CODEC, "snappy"),
    ]);
    let problems = SparkSettings::from_conf(&on).unwrap_err().problems;
    assert_eq!(problems.len(), 2, "{problems:?}");
}

#[test]
fn the_share_of_executors_the_first_job_waits_for_and_how_long() {
    let c = SparkConf::new();
    assert_eq!(c.min_registered_resources_ratio(), Ok(None), "unset: the cluster manager's own");
    assert_eq!(c.max_registered_resources_waiting_time_ms(), Ok(30_000));
    let c = conf(&[
        ("spark.scheduler.minRegisteredResourcesRatio", "0.5"),
        ("spark.scheduler.maxRegisteredResourcesWaitingTime", "2s"),
    ]);
    assert_eq!(c.min_registered_resources_ratio(), Ok(Some(0.5)));
    assert_eq!(c.max_registered_resources_waiting_time_ms(), Ok(2000));
    let c = conf(&[("spark.scheduler.minRegisteredResourcesRatio", "3")]);
    assert_eq!(c.min_registered_resources_ratio(), Ok(Some(1.0)), "above 1 counts as 1");
    let c = conf(&[("spark.scheduler.maxRegisteredResourcesWaitingTime", "250")]);
    assert_eq!(c.max_registered_resources_waiting_time_ms(), Ok(250), "a bare number is ms");
    refused(
        conf(&[("spark.scheduler.minRegisteredResourcesRatio", "most")]).min_registered_resources_ratio(),
        "spark.scheduler.minRegisteredResourcesRatio",
        "most",
    );
}

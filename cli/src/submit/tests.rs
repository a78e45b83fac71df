//! `weft submit` end to end where no cluster is needed: a local master runs a real program as the
//! driver with the launch environment; bad input stops before anything is contacted; the addresses a
//! master names.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::ExitCode;

use weft_config::Settings;

use super::*;
use weft_spark::conf::SparkConf;

/// A configuration whose ResourceManager is (almost certainly) not listening: tests that must not
/// reach it would fail with "cannot reach" if they did.
fn config() -> ClientConfig {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    // One try: YARN's clients wait 15 minutes for an unreachable ResourceManager by default.
    let yaml = format!("yarn.resourcemanager.address: 127.0.0.1:{port}\nyarn.resourcemanager.connect.max-wait.ms: 0\n");
    ClientConfig::from_settings(&Settings::parse(&yaml, "test.yaml").unwrap())
}

fn sh(script: &str, args: &[&str]) -> Flags {
    let mut all = vec!["-c".to_owned(), script.to_owned()];
    all.extend(args.iter().map(|a| a.to_string()));
    Flags { binary: "/bin/sh".into(), args: all, ..Flags::default() }
}

/// Runs a local-master driver that writes its role and configuration to a file; returns both.
async fn local_driver(flags: Flags, properties: Option<&Path>) -> (ExitCode, String, SparkConf) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("env");
    let script = r#"printf '%s\n%s' "$WEFT_SPARK_ROLE" "$WEFT_SPARK_CONF" > "$0""#;
    let mut flags = flags;
    flags.args = sh(script, &[out.to_str().unwrap()]).args;
    flags.binary = "/bin/sh".into();
    let code = run(flags, properties, false, &config()).await.unwrap();
    let text = std::fs::read_to_string(&out).unwrap();
    let (role, conf) = text.split_once('\n').unwrap();
    (code, role.to_owned(), SparkConf::from_json(conf).unwrap())
}

#[tokio::test]
async fn a_local_master_runs_the_binary_as_the_driver() {
    let flags = Flags {
        master: Some("local[2]".into()),
        executor_memory: Some("2g".into()),
        conf: vec![("spark.eventLog.enabled".into(), "true".into())],
        files: Some("notes.txt".into()),
        ..Flags::default()
    };
    let (code, role, conf) = local_driver(flags, None).await;
    assert_eq!(code, ExitCode::SUCCESS);
    assert_eq!(role, "driver");
    let properties: Vec<(&str, &str)> = conf.iter().collect();
    assert_eq!(
        properties,
        [
            ("spark.app.name", "sh"),
            ("spark.eventLog.enabled", "true"),
            ("spark.executor.memory", "2g"),
            ("spark.files", "notes.txt"),
            ("spark.master", "local[2]"),
            ("spark.submit.deployMode", "client"),
        ]
    );
}

#[tokio::test]
async fn the_properties_file_reaches_the_driver_under_conf_and_flags() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("spark.conf");
    std::fs::write(
        &file,
        "# defaults\nspark.executor.cores 3\nspark.app.name=from-file\nspark.master local\nother.key x\n",
    )
    .unwrap();
    let flags = Flags { name: Some("from-flag".into()), ..Flags::default() };
    let (code, _, conf) = local_driver(flags, Some(&file)).await;
    assert_eq!(code, ExitCode::SUCCESS);
    assert_eq!((conf.get("spark.executor.cores"), conf.get("spark.app.name")), (Some("3"), Some("from-flag")));
    assert_eq!((conf.master(), conf.get("other.key")), ("local", None));
}

#[tokio::test]
async fn a_local_driver_s_exit_status_is_weft_submit_s() {
    let config = config();
    let code = |script: &str| run(Flags { master: Some("local".into()), ..sh(script, &[]) }, None, false, &config);
    assert_eq!(code("exit 0").await.unwrap(), ExitCode::SUCCESS);
    assert_eq!(code("exit 3").await.unwrap(), ExitCode::from(3));
    assert_eq!(code("kill -KILL $$").await.unwrap(), ExitCode::from(137));
}

/// The error is a usage error (exit 64) holding every needle.
async fn refused(flags: Flags, properties: Option<&Path>, needles: &[&str]) {
    let err = run(flags, properties, false, &config()).await.expect_err("refused");
    let text = err.to_string();
    assert_eq!(err.exit_code(), 64, "{text}");
    for needle in needles {
        assert!(text.contains(needle), "{needle:?} not in {text:?}");
    }
}

#[tokio::test]
async fn bad_input_stops_before_anything_is_submitted() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.bin");
    let plain = dir.path().join("plain.bin");
    std::fs::write(&plain, "not a program").unwrap();
    std::fs::set_permissions(&plain, std::fs::Permissions::from_mode(0o644)).unwrap();
    let app = |binary: &PathBuf| Flags {
        master: Some("yarn".into()),
        binary: binary.display().to_string(),
        ..Flags::default()
    };
    refused(app(&missing), None, &["cannot read the application binary", "missing.bin", "nothing was submitted"]).await;
    refused(app(&plain), None, &["plain.bin is not executable"]).await;
    refused(app(&dir.path().to_owned()), None, &["is not a file"]).await;
    let with_files = Flags { files: Some(format!("{},/etc", missing.display())), ..sh("true", &[]) };
    refused(
        Flags { master: Some("weft://127.0.0.1:1".into()), ..with_files },
        None,
        &["--files: cannot read", "missing.bin", "--files: /etc is not a file"],
    )
    .await;
    refused(sh("true", &[]), Some(&missing), &["--properties-file", "missing.bin: cannot read it"]).await;
    let bad = dir.path().join("bad.conf");
    std::fs::write(&bad, "spark.a \\u00zz\n").unwrap();
    refused(sh("true", &[]), Some(&bad), &["bad.conf: line 1: malformed"]).await;
    refused(
        Flags {
            master: Some("yarn".into()),
            deploy_mode: Some("cluster".into()),
            executor_memory: Some("1.5g".into()),
            ..sh("true", &[])
        },
        None,
        &["1.5g"],
    )
    .await;
    refused(
        Flags { master: Some("local".into()), deploy_mode: Some("cluster".into()), ..sh("true", &[]) },
        None,
        &["not compatible"],
    )
    .await;
    // Spark's floor for the unified memory (1.5 × the 300 MiB reserve), and the failure keys.
    refused(
        Flags {
            master: Some("yarn".into()),
            executor_memory: Some("400m".into()),
            conf: vec![
                ("spark.speculation.quantile".into(), "2".into()),
                ("spark.reducer.maxSizeInFlight".into(), "0".into()),
            ],
            ..sh("true", &[])
        },
        None,
        &[
            "Executor memory 419430400 must be at least 471859200",
            "spark.speculation.quantile",
            "spark.reducer.maxSizeInFlight",
        ],
    )
    .await;
}

#[tokio::test]
async fn a_cluster_master_that_is_not_there_is_named() {
    let config = config();
    for mode in ["cluster", "client"] {
        let flags = Flags { master: Some("yarn".into()), deploy_mode: Some(mode.into()), ..sh("true", &[]) };
        let err = run(flags, None, false, &config).await.expect_err("nothing listens");
        assert!(
            err.to_string().starts_with(&format!("cannot reach the ResourceManager at {}", config.rm_address)),
            "{err}"
        );
        assert_eq!(err.exit_code(), 1);
    }
}

#[test]
fn masters_name_the_resourcemanager() {
    let mut config = ClientConfig::from_settings(&Settings::defaults());
    config.rm_address = "rm.example:8032".into();
    config.rm_scheduler_address = "rm.example:9030".into();
    let yarn = addresses(&Master::Yarn, &config);
    assert_eq!((yarn.rm.as_str(), yarn.scheduler.as_str()), ("rm.example:8032", "rm.example:9030"));
    let weft = addresses(&Master::Weft { address: "10.1.2.3:18032".into() }, &config);
    assert_eq!((weft.rm.as_str(), weft.scheduler.as_str()), ("10.1.2.3:18032", "10.1.2.3:9030"));
}

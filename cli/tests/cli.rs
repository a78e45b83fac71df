//! The `weft` binary's exit statuses and one-line errors, run as a process: usage errors are caught
//! before any connection (64), `submit` with a local master exits with its driver's status, an
//! unreachable ResourceManager is named (1). Only ports this test bound and closed, and files in its
//! own temp dir, are used.

use std::path::Path;
use std::process::Command;

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn weft(config: Option<&Path>, args: &[&str]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_weft"));
    if let Some(config) = config {
        command.arg("--config").arg(config);
    }
    // Anything the client remembers (staged files' hashes) goes to a directory of this call's own.
    let cache = tempfile::tempdir().expect("temp dir");
    let output =
        command.args(args).env_remove("RUST_LOG").env("XDG_CACHE_HOME", cache.path()).output().expect("run weft");
    Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// A client config pointing at a port nothing listens on.
fn closed_port_config(dir: &Path) -> (std::path::PathBuf, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let address = format!("127.0.0.1:{port}");
    let path = dir.join("client.yaml");
    // One try: YARN's clients wait 15 minutes for a ResourceManager by default.
    std::fs::write(
        &path,
        format!("yarn.resourcemanager.address: {address}\nyarn.resourcemanager.connect.max-wait.ms: 0\n"),
    )
    .unwrap();
    (path, address)
}

#[test]
fn submit_with_a_local_master_runs_the_binary_as_the_driver() {
    let script = r#"echo "$WEFT_SPARK_ROLE $1"; echo "$WEFT_SPARK_CONF" >&2; exit 3"#;
    let run = weft(None, &["submit", "--master", "local[2]", "--name", "t", "/bin/sh", "-c", script, "sh", "-v"]);
    assert_eq!(run.code, Some(3), "the driver's exit status: {}", run.stderr);
    assert_eq!(run.stdout, "driver -v\n");
    assert_eq!(
        run.stderr,
        r#"{"spark.app.name":"t","spark.master":"local[2]","spark.submit.deployMode":"client"}"#.to_owned() + "\n"
    );
}

#[test]
fn a_bad_config_is_one_line_and_64() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.yaml");
    std::fs::write(&path, "yarn.resourcemanager.adress: 127.0.0.1:1\n").unwrap();
    let run = weft(Some(&path), &["node", "-list"]);
    assert_eq!(run.code, Some(64));
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("yarn.resourcemanager.adress") && run.stderr.contains("did you mean"),
        "{}",
        run.stderr
    );
}

#[test]
fn an_unreachable_resource_manager_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let (config, address) = closed_port_config(dir.path());
    let run = weft(Some(&config), &["application", "-list"]);
    assert_eq!(run.code, Some(1));
    assert!(
        run.stderr.starts_with(&format!("weft: cannot reach the ResourceManager at {address}: ")),
        "{}",
        run.stderr
    );
}

#[test]
fn usage_errors_come_before_any_connection() {
    let dir = tempfile::tempdir().unwrap();
    let (config, _) = closed_port_config(dir.path());
    let check = |args: &[&str], needle: &str| {
        let run = weft(Some(&config), args);
        assert_eq!(run.code, Some(64), "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(needle), "{args:?}: {}", run.stderr);
        assert!(!run.stderr.contains("cannot reach"), "{args:?} tried to connect: {}", run.stderr);
    };
    check(&["application", "-status", "app_x"], "app_x");
    check(&["application", "-list", "-appStates", "DONE"], "The application state DONE is invalid.");
    check(&["node", "-list", "-states", "GONE"], "The node state GONE is invalid.");
    check(
        &["logs", "-applicationId", "application_1_0001", "-containerId", "container_2_0001_01_000001"],
        "does not belong",
    );
    check(&["shell", "--num-containers", "-1", "--", "true"], "-1");
    check(&["shell", "--num-containers", "1", "--container-memory", "12x", "--", "true"], "12x");
    check(&["submit", "--master", "yarn", "--executor-memory", "1.5g", "/bin/sh"], "1.5g");
    check(&["submit", "--master", "yarn", "--deploy-mode", "cluster", "no-such-app.bin"], "no-such-app.bin");
    check(&["submit", "--master", "local", "--deploy-mode", "cluster", "/bin/sh"], "not compatible");
    check(&["submit", "--master", "yarn", "--deploy-mode", "server", "/bin/sh"], "server");
}

#[test]
fn help_lists_the_verbs_but_not_the_am() {
    let run = weft(None, &["--help"]);
    assert_eq!(run.code, Some(0));
    for verb in ["application", "node", "logs", "shell", "submit"] {
        assert!(run.stdout.contains(verb), "{verb} missing from:\n{}", run.stdout);
    }
    assert!(!run.stdout.contains("shell-am"), "{}", run.stdout);
    let run = weft(None, &["application", "-help"]);
    assert_eq!(run.code, Some(0));
    assert!(run.stdout.contains("--appStates"), "{}", run.stdout);
}

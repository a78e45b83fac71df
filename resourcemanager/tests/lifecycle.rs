//! The `resourcemanager` binary's stop contract: SIGTERM ends an idle daemon cleanly, without
//! waiting on work that does not exist.

use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn an_idle_resourcemanager_stops_on_sigterm_without_waiting_for_launches() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("rm.yaml");
    let ports = dir.path().join("ports.json");
    std::fs::write(
        &config,
        format!(
            "yarn.resourcemanager.address: 127.0.0.1:0\n\
             yarn.resourcemanager.scheduler.address: 127.0.0.1:0\n\
             yarn.resourcemanager.resource-tracker.address: 127.0.0.1:0\n\
             yarn.resourcemanager.webapp.address: 127.0.0.1:0\n\
             hadoop.tmp.dir: {}\n",
            dir.path().display()
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_resourcemanager"))
        .arg("--config")
        .arg(&config)
        .arg("--ports-file")
        .arg(&ports)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    for waited in 0.. {
        if ports.exists() {
            break;
        }
        assert!(waited < 1500, "the ResourceManager did not bind its ports within 30 s");
        assert!(child.try_wait().unwrap().is_none(), "the ResourceManager exited at start-up");
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("did not finish"), "an idle daemon has nothing to wait for: {stderr}");
}

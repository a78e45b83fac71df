//! Real processes in temp directories, through the runner and launcher: exit codes, diagnostics,
//! environment, `<LOG_DIR>`, spawn failures, and stops that reach every process of the tree.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::container::{ContainerState, KillReason};
use crate::launcher::tree;
use crate::testing::{done, nm, spec, wait_for};

fn read(path: std::path::PathBuf) -> String {
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[tokio::test]
async fn exit_0_succeeds_writes_stdout_and_removes_the_working_directory() {
    let dir = tempfile::tempdir().unwrap();
    let nm = nm(dir.path(), Duration::from_millis(100));
    let s = spec(2, &["sh", "-c", "echo hello; echo warn >&2"]);
    nm.start(s.clone()).unwrap();
    let c = done(&nm, s.id).await;
    assert_eq!((c.state, c.exit_status, c.diagnostics()), (ContainerState::DONE, 0, String::new()));
    let logs = nm.layout.log_dir(s.id);
    assert_eq!(read(logs.join("stdout")), "hello\n");
    assert_eq!(read(logs.join("stderr")), "warn\n");
    assert!(!nm.layout.work_dir("alice", s.id).exists(), "the working directory is removed");
}

#[tokio::test]
async fn exit_3_reports_the_code_and_the_stderr_tail() {
    let dir = tempfile::tempdir().unwrap();
    let nm = nm(dir.path(), Duration::from_millis(100));
    let s = spec(3, &["sh", "-c", "echo 'something broke' >&2; exit 3"]);
    nm.start(s.clone()).unwrap();
    let c = done(&nm, s.id).await;
    assert_eq!(c.exit_status, 3);
    let d = c.diagnostics();
    assert!(d.contains(&format!("]Exception from container-launch.\nContainer id: {}\nExit code: 3\n", s.id)), "{d}");
    assert!(
        d.contains("]Container exited with a non-zero exit code 3. Last 4096 bytes of stderr :\nsomething broke\n"),
        "{d}"
    );
}

#[tokio::test]
async fn the_environment_is_yarns_and_log_dir_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let nm = nm(dir.path(), Duration::from_millis(100));
    let mut s = spec(4, &["sh", "-c", "env > <LOG_DIR>/env.txt; pwd > <LOG_DIR>/pwd.txt"]);
    s.environment = vec![("EXTRA".into(), "yes".into()), ("USER".into(), "override".into())];
    nm.start(s.clone()).unwrap();
    assert_eq!(done(&nm, s.id).await.exit_status, 0);
    let logs = nm.layout.log_dir(s.id);
    let env = read(logs.join("env.txt"));
    let work_dir = nm.layout.work_dir("alice", s.id);
    let app_dir = work_dir.parent().unwrap().display().to_string();
    for line in [
        format!("CONTAINER_ID={}", s.id),
        "NM_HOST=127.0.0.1".into(),
        "NM_PORT=8041".into(),
        "NM_HTTP_PORT=8042".into(),
        format!("LOG_DIRS={}", logs.display()),
        format!("LOCAL_DIRS={app_dir}"),
        format!("HOME={}", work_dir.display()),
        "LOGNAME=alice".into(),
        "HADOOP_USER_NAME=alice".into(),
        "USER=override".into(),
        "EXTRA=yes".into(),
    ] {
        assert!(env.lines().any(|l| l == line), "{line} missing from:\n{env}");
    }
    assert!(env.lines().any(|l| l.starts_with("PATH=")), "{env}");
    assert_eq!(read(logs.join("pwd.txt")).trim(), work_dir.display().to_string());
}

#[tokio::test]
async fn a_program_that_does_not_exist_is_127_with_the_os_error() {
    let dir = tempfile::tempdir().unwrap();
    let nm = nm(dir.path(), Duration::from_millis(100));
    let s = spec(5, &["/nonexistent/program", "arg"]);
    nm.start(s.clone()).unwrap();
    let c = done(&nm, s.id).await;
    assert_eq!(c.exit_status, 127);
    let d = c.diagnostics();
    assert!(d.contains("Exit code: 127\nException message: Cannot run program \"/nonexistent/program\""), "{d}");
    assert!(d.contains("No such file or directory"), "{d}");
}

/// Pids of the container's tree once it has at least `n` processes.
async fn tree_of(nm: &crate::nm::Nm, id: weft_proto::ContainerId, n: usize) -> Vec<tree::ProcEntry> {
    let root = wait_for("the process to start", || nm.read(|core| core.container(&id).and_then(|c| c.pid))).await;
    wait_for(&format!("{n} processes in the tree"), || {
        let found = tree::descendants(&tree::snapshot(), root as i32);
        (found.len() >= n).then_some(found)
    })
    .await
}

fn live(pids: &BTreeSet<i32>) -> Vec<i32> {
    tree::alive(&tree::snapshot(), pids, -1)
}

#[tokio::test]
async fn a_stop_kills_the_whole_tree_including_a_grandchild_in_its_own_session() {
    let dir = tempfile::tempdir().unwrap();
    let nm = nm(dir.path(), Duration::from_millis(200));
    let s = spec(6, &["sh", "-c", "sh -c 'setsid sleep 600 & wait' & sleep 600 & wait"]);
    nm.start(s.clone()).unwrap();
    let tree = tree_of(&nm, s.id, 4).await;
    let root_group = tree.iter().map(|e| e.pgrp).min().unwrap();
    assert!(tree.iter().any(|e| e.pgrp != root_group), "one grandchild left the group: {tree:?}");
    let pids: BTreeSet<i32> = tree.iter().map(|e| e.pid).collect();
    nm.stop(s.id, KillReason::ByAppMaster).unwrap();
    let c = done(&nm, s.id).await;
    assert_eq!(live(&pids), Vec::<i32>::new(), "every process of the tree is gone");
    assert_eq!(c.exit_status, -105);
    let d = c.diagnostics();
    assert!(d.contains("]Container killed by the ApplicationMaster.\n["), "{d}");
    assert!(d.contains("]Container killed on request. Exit code is 143\n["), "{d}");
    assert!(d.ends_with("]Container exited with a non-zero exit code 143. "), "{d}");
    assert_eq!(nm.stop(s.id, KillReason::ByAppMaster), Ok(()), "stopping a finished container is a no-op");
    assert_eq!(done(&nm, s.id).await.exit_status, -105);
}

#[tokio::test]
async fn a_tree_that_ignores_sigterm_gets_sigkill_after_the_delay() {
    let dir = tempfile::tempdir().unwrap();
    let nm = nm(dir.path(), Duration::from_millis(150));
    let s = spec(7, &["sh", "-c", "trap '' TERM; sleep 600 & wait; wait"]);
    nm.start(s.clone()).unwrap();
    let pids: BTreeSet<i32> = tree_of(&nm, s.id, 2).await.iter().map(|e| e.pid).collect();
    nm.stop(s.id, KillReason::ByResourceManager).unwrap();
    let c = done(&nm, s.id).await;
    assert_eq!(live(&pids), Vec::<i32>::new());
    assert_eq!(c.exit_status, -106);
    assert!(c.diagnostics().contains("Container killed on request. Exit code is 137"), "{}", c.diagnostics());
}

#[tokio::test]
async fn processes_left_behind_by_a_finished_container_are_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let nm = nm(dir.path(), Duration::from_millis(100));
    let s = spec(8, &["sh", "-c", "sleep 600 & echo $! > <LOG_DIR>/orphan.pid"]);
    nm.start(s.clone()).unwrap();
    let c = done(&nm, s.id).await;
    assert_eq!(c.exit_status, 0);
    let pid: i32 = read(nm.layout.log_dir(s.id).join("orphan.pid")).trim().parse().unwrap();
    assert_eq!(live(&BTreeSet::from([pid])), Vec::<i32>::new());
}

#[tokio::test]
async fn a_finished_applications_local_directories_go_once_its_containers_have_ended() {
    let dir = tempfile::tempdir().unwrap();
    let nm = nm(dir.path(), Duration::from_millis(100));
    // Spark's block manager writes under LOCAL_DIRS; a long container keeps the app alive.
    let s = spec(
        6,
        &["sh", "-c", "mkdir -p \"$LOCAL_DIRS/blockmgr-1\" && echo shuffle > \"$LOCAL_DIRS/blockmgr-1/s\" && sleep 30"],
    );
    nm.start(s.clone()).unwrap();
    let app_dir = nm.layout.app_local_dirs("alice", s.id.application()).remove(0);
    wait_for("the container's shuffle file", || app_dir.join("blockmgr-1/s").exists().then_some(())).await;
    nm.finish_apps(&[s.id.application()]);
    let c = done(&nm, s.id).await;
    assert_eq!(c.kill, Some(KillReason::AfterAppFinished));
    wait_for("the application's directory to go", || (!app_dir.exists()).then_some(())).await;
    // Another application's directory is untouched.
    let other = spec(7, &["sh", "-c", "touch \"$LOCAL_DIRS/mine\""]);
    let other = crate::container::LaunchSpec { id: "container_1700000000000_0002_01_000002".parse().unwrap(), ..other };
    nm.start(other.clone()).unwrap();
    assert_eq!(done(&nm, other.id).await.exit_status, 0);
    assert!(nm.layout.app_local_dirs("alice", other.id.application())[0].join("mine").exists());
}

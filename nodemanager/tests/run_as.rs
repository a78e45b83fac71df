//! Containers as other users (YARN's LinuxContainerExecutor, the NodeManager as root): the process
//! has the configured user's uid, gid and groups, no capabilities and `no_new_privs`; its
//! directories are that user's with YARN's modes; it cannot write the cgroup file system nor signal
//! a process of another user (root's, or another user's container); a fork bomb stops at its cgroup's `pids.max` while a neighbour runs;
//! and a user the rules refuse starts nothing.

mod support;

use std::time::Duration;

use support::{container_id, request, sign_as, TestNm, TestRm};

const LINUX: &str = "yarn.nodemanager.container-executor.class: LinuxContainerExecutor\n";

fn require_root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "these tests start containers as other users, which needs root (they run as uid {})",
        nix::unistd::geteuid()
    );
}

fn nobody() -> nix::unistd::User {
    nix::unistd::User::from_name("nobody").unwrap().expect("these tests need the user nobody on this machine")
}

async fn stdout_of(nm: &TestNm, id: &str) -> String {
    let (status, text) = nm.get(&format!("/ws/v1/node/containerlogs/{id}/stdout")).await;
    assert_eq!(status, 200, "{text}");
    text
}

#[tokio::test]
async fn a_container_runs_as_the_local_user_with_no_privilege() {
    require_root();
    let rm = TestRm::start(30).await;
    let mut nm = TestNm::start_with(&rm, LINUX).await;
    let nobody = nobody();
    // A process of another user (root) the container will try to signal.
    let mut victim = std::process::Command::new("sleep").arg("60").spawn().unwrap();
    let id = container_id(1, 2);
    let script = format!(
        "id -u; id -g; grep -E '^(NoNewPrivs|CapEff|CapPrm):' /proc/self/status; \
         stat -c '%U %a' \"$PWD\" \"$PWD/tmp\" \"$LOG_DIRS\" \"$LOG_DIRS/stdout\"; \
         echo x > \"$PWD/tmp/f\" && echo tmp-writable; \
         (echo $$ > /sys/fs/cgroup/memory/cgroup.procs) 2>/dev/null && echo cgroup-written || echo cgroup-refused; \
         kill -9 {victim} 2>/dev/null && echo killed || echo kill-refused",
        victim = victim.id()
    );
    nm.start_containers(vec![request(&id, &["sh", "-c", &script])]).await;
    let status = rm.completed_status(&id).await;
    assert_eq!(status.exit_status, 0, "{}", status.diagnostics);
    let expected = format!(
        "{uid}\n{gid}\nCapPrm:\t0000000000000000\nCapEff:\t0000000000000000\nNoNewPrivs:\t1\n\
         nobody 710\nnobody 710\nnobody 710\nnobody 600\ntmp-writable\ncgroup-refused\nkill-refused\n",
        uid = nobody.uid,
        gid = nobody.gid,
    );
    assert_eq!(stdout_of(&nm, &id).await, expected);
    assert_eq!(victim.try_wait().unwrap(), None, "the container signalled a process of another user");
    victim.kill().unwrap();
    victim.wait().unwrap();
    nm.stop().await.unwrap();
}

#[tokio::test]
async fn a_fork_bomb_ends_at_pids_max_and_its_neighbour_is_unaffected() {
    require_root();
    let rm = TestRm::start(30).await;
    let mut nm = TestNm::start_with(&rm, &format!("{LINUX}weft.nodemanager.container.max-pids: 40\n")).await;
    let (bomb, neighbour) = (container_id(1, 2), container_id(1, 3));
    // perl (Debian's perl-base is essential) keeps forking past refusals, where a shell gives up.
    let forks = "$| = 1; my $refused = 0; for (1..400) { my $pid = fork; if (!defined $pid) { $refused++; next } \
                 if ($pid == 0) { sleep 30; exit 0 } } print \"refused $refused\\n\"; sleep 30";
    nm.start_containers(vec![request(&bomb, &["perl", "-e", forks])]).await;
    let pids = std::path::Path::new("/sys/fs/cgroup/pids").join(&nm.hierarchy).join(&bomb);
    let mut events = String::new();
    for _ in 0..200 {
        events = std::fs::read_to_string(pids.join("pids.events")).unwrap_or_default();
        if events.split_whitespace().nth(1).is_some_and(|n| n != "0") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let refused: u64 = events.split_whitespace().nth(1).and_then(|n| n.parse().ok()).unwrap_or(0);
    assert!(refused > 0, "no fork was refused at pids.max; {}/pids.events: {events:?}", pids.display());
    assert_eq!(std::fs::read_to_string(pids.join("pids.max")).unwrap().trim(), "40");
    let current: u64 = std::fs::read_to_string(pids.join("pids.current")).unwrap().trim().parse().unwrap();
    assert!(current <= 40, "{current} processes in a group capped at 40");
    nm.start_containers(vec![request(&neighbour, &["sh", "-c", "for i in 1 2 3; do sleep 0.01; done; echo fine"])])
        .await;
    let status = rm.completed_status(&neighbour).await;
    assert_eq!(status.exit_status, 0, "{}", status.diagnostics);
    assert_eq!(stdout_of(&nm, &neighbour).await, "fine\n");
    let mut stdout = String::new();
    for _ in 0..100 {
        stdout = nm.get(&format!("/ws/v1/node/containerlogs/{bomb}/stdout")).await.1;
        if stdout.ends_with('\n') {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let refused_inside: u64 = stdout.trim().strip_prefix("refused ").and_then(|n| n.parse().ok()).unwrap_or(0);
    assert!(refused_inside >= 400 - 40, "the bomb saw {stdout:?}");
    // Stopped, it ends with every process it made: they go with its cgroup.
    let stopped = nm.stop_containers(std::slice::from_ref(&bomb)).await;
    assert_eq!(stopped.stopped, std::slice::from_ref(&bomb));
    let status = rm.completed_status(&bomb).await;
    assert_eq!(status.exit_status, -105, "{}", status.diagnostics);
    nm.stop().await.unwrap();
    assert!(!pids.exists(), "the fork bomb's cgroup was left at {}", pids.display());
}

#[tokio::test]
async fn users_the_rules_refuse_start_nothing() {
    require_root();
    let rm = TestRm::start(30).await;
    let extra = format!(
        "{LINUX}yarn.nodemanager.linux-container-executor.nonsecure-mode.limit-users: false\n\
         weft.nodemanager.linux-container-executor.banned.users: yarn,bin\n"
    );
    let mut nm = TestNm::start_with(&rm, &extra).await;
    let node = nm.addresses.rpc.clone();
    let marker = nm.dir.path().join("ran");
    let touch = format!("touch {}", marker.display());
    let cases = [
        ("root", "Requested user root is root: no container runs as root"),
        ("bin", "Requested user bin is banned"),
        ("daemon", "Requested user daemon has id 1, which is below the minimum allowed 1000"),
        ("no-such-user-weft", "User no-such-user-weft not found on this node"),
        ("-x", "Invalid user name '-x', it must match"),
    ];
    for (n, (user, message)) in cases.iter().enumerate() {
        let id = container_id(1, n as u64 + 2);
        let mut start = request(&id, &["sh", "-c", &touch]);
        start.user = (*user).into();
        start.container_token = sign_as(&id, &node, user);
        let response = nm.start_containers(vec![start]).await;
        assert!(response.started.is_empty(), "{user}: {response:?}");
        assert!(response.failed[0].message.contains(message), "{user}: {:?}", response.failed[0].message);
    }
    // With limit-users on (the default), the same root submitter runs as nobody.
    nm.stop().await.unwrap();
    let mut nm = TestNm::start_with(&rm, LINUX).await;
    let id = container_id(2, 2);
    let mut start = request(&id, &["id", "-un"]);
    start.user = "root".into();
    start.container_token = sign_as(&id, &nm.addresses.rpc, "root");
    assert_eq!(nm.start_containers(vec![start]).await.started, std::slice::from_ref(&id));
    assert_eq!(rm.completed_status(&id).await.exit_status, 0);
    assert_eq!(stdout_of(&nm, &id).await, "nobody\n");
    assert!(!marker.exists(), "a refused container ran");
    nm.stop().await.unwrap();
}

#[tokio::test]
async fn a_container_cannot_signal_another_users_container() {
    require_root();
    let rm = TestRm::start(30).await;
    // Containers as their submitters; two system users stand in for two people.
    let extra = format!(
        "{LINUX}yarn.nodemanager.linux-container-executor.nonsecure-mode.limit-users: false\n\
         weft.nodemanager.linux-container-executor.banned.users: root\n\
         weft.nodemanager.linux-container-executor.min.user.id: 1\n"
    );
    let mut nm = TestNm::start_with(&rm, &extra).await;
    let node = nm.addresses.rpc.clone();
    let shared = tempfile::tempdir().unwrap();
    std::fs::set_permissions(shared.path(), std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let pid_file = shared.path().join("victim.pid");
    let (victim, attacker) = (container_id(1, 2), container_id(2, 2));
    let mut start = request(&victim, &["sh", "-c", &format!("echo $$ > {}; exec sleep 60", pid_file.display())]);
    start.user = "nobody".into();
    start.container_token = sign_as(&victim, &node, "nobody");
    assert_eq!(nm.start_containers(vec![start]).await.started.len(), 1);
    let mut pid = String::new();
    for _ in 0..100 {
        pid = std::fs::read_to_string(&pid_file).unwrap_or_default();
        if pid.ends_with('\n') {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let pid = pid.trim().to_owned();
    assert!(!pid.is_empty(), "the victim never wrote its pid");
    let mut start =
        request(&attacker, &["sh", "-c", &format!("kill -9 {pid} 2>/dev/null && echo killed || echo refused")]);
    start.user = "daemon".into();
    start.container_token = sign_as(&attacker, &node, "daemon");
    assert_eq!(nm.start_containers(vec![start]).await.started.len(), 1);
    assert_eq!(rm.completed_status(&attacker).await.exit_status, 0);
    assert_eq!(stdout_of(&nm, &attacker).await, "refused\n");
    let (_, c) = nm.get_json(&format!("/ws/v1/node/containers/{victim}")).await;
    assert_eq!(c["container"]["state"], "RUNNING", "{c}");
    assert_eq!(nm.stop_containers(std::slice::from_ref(&victim)).await.stopped, std::slice::from_ref(&victim));
    assert_eq!(rm.completed_status(&victim).await.exit_status, -105);
    nm.stop().await.unwrap();
}

//! What recovery costs (`yarn.resourcemanager.recovery.enabled`):
//! - the state store's write per submission: a submitted application's record written durably
//!   (JSON, fsync, rename, fsync of the directory) on this machine's disk, against the same
//!   submission without a store;
//! - how long a restarted ResourceManager takes to have its work back: from starting the new
//!   process to its ports being bound, to the running application's master registered again (its
//!   allocate follows in the same call), and to the NodeManagers' containers counted again.
//!
//! Run (release daemons first, since the harness uses the binaries beside this benchmark):
//! `cargo build --release --workspace --bins && cargo bench -p weft-tests --bench recovery`

use std::time::{Duration, Instant};

use weft_proto::Resource;
use weft_resourcemanager::core::{CoreConfig, LaunchSpec, LocalFile, RmCore, Submission};
use weft_resourcemanager::recovery::StateStore;
use weft_tests::{data_dir, wait_for, Cluster, ClusterOptions};

const SUBMISSIONS: usize = 200;
const RESTARTS: usize = 5;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn submission(core: &mut RmCore) -> Submission {
    let id = core.new_application();
    Submission {
        id,
        name: "bench".into(),
        queue: String::new(),
        application_type: "SPARK".into(),
        user: "alice".into(),
        am_resource: Resource::new(1024, 1),
        am_launch: LaunchSpec {
            command: vec!["./app".into(), "--role".into(), "am".into()],
            environment: (0..20).map(|i| (format!("KEY_{i}"), "x".repeat(40))).collect(),
            local_files: vec![LocalFile {
                name: "app".into(),
                sha256: "ab".repeat(32),
                size: 68_000_000,
                executable: true,
            }],
            hadoop_context: Vec::new(),
        },
        max_app_attempts: 0,
        unmanaged_am: false,
        tags: vec![],
        acls: Default::default(),
    }
}

fn store_cost() {
    // The store lives where the ResourceManager's would by default: on this machine's disk.
    let dir = tempfile::Builder::new().prefix("weft-rmstore-bench-").tempdir_in("/var/tmp").expect("temp dir");
    let (store, _) = StateStore::open(dir.path()).expect("open the store");
    let mut core = RmCore::new(CoreConfig::with_defaults(1_700_000_000_000));
    let (mut with, mut without) = (Vec::new(), Vec::new());
    for _ in 0..SUBMISSIONS {
        let s = submission(&mut core);
        let id = s.id;
        let start = Instant::now();
        core.submit(s, 1).unwrap();
        without.push(start.elapsed());
        let start = Instant::now();
        for changed in core.take_changed() {
            store.put_app(core.app(changed).unwrap()).unwrap();
        }
        with.push(start.elapsed() + *without.last().unwrap());
        core.kill(id, String::new(), 2).unwrap();
        let _ = core.take_changed();
    }
    let bytes = std::fs::read_dir(dir.path().join("FSRMStateRoot/RMAppRoot")).unwrap().count();
    println!(
        "store: a submission in the core, median {:?} without the store, {:?} with its record written durably ({} records on disk)",
        median(without),
        median(with),
        bytes
    );
}

fn restart_time() {
    let mut cluster = Cluster::start(ClusterOptions {
        rm_yaml: "yarn.resourcemanager.recovery.enabled: true\n".into(),
        ..Default::default()
    });
    let data = data_dir();
    let script = format!("while [ ! -e {}/go ]; do sleep 0.1; done", data.path().display());
    let client = cluster
        .weft_command(&["shell", "--num-containers", "3", "--container-memory", "512m", "--", "sh", "-c", &script])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let id = wait_for("the app", Duration::from_secs(60), || cluster.latest_app_id());
    let back = |c: &Cluster| {
        let app = c.app(&id);
        app["state"] == "RUNNING" && app["runningContainers"] == 4
    };
    wait_for("the app to run", Duration::from_secs(60), || back(&cluster).then_some(()));
    let (mut bound, mut registered, mut containers) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..RESTARTS {
        cluster.stop_rm();
        let start = Instant::now();
        cluster.start_rm_again();
        bound.push(start.elapsed());
        let deadline = Instant::now() + Duration::from_secs(60);
        while cluster.app(&id)["state"] != "RUNNING" {
            if Instant::now() > deadline {
                for (name, log) in cluster.logs() {
                    let tail: Vec<&str> = log.lines().rev().take(40).collect();
                    eprintln!("== {name}\n{}", tail.into_iter().rev().collect::<Vec<_>>().join("\n"));
                }
                let am_logs = std::process::Command::new("sh")
                    .arg("-c")
                    .arg(format!("tail -n 40 $(find {} -path '*_000001/stderr')", cluster.dir().display()))
                    .output()
                    .unwrap();
                eprintln!("== AM\n{}", String::from_utf8_lossy(&am_logs.stdout));
                panic!("the AM did not register again: {}", cluster.app(&id));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        registered.push(start.elapsed());
        wait_for("the containers to be back", Duration::from_secs(60), || back(&cluster).then_some(()));
        containers.push(start.elapsed());
    }
    std::fs::write(data.path().join("go"), "").unwrap();
    let out = client.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the app succeeded after {RESTARTS} restarts: {}\n{}{}",
        cluster.app(&id),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("restart: new ResourceManager process to ports bound: median {:?} of {bound:?}", median(bound.clone()));
    println!(
        "restart: … to the running app's master registered again (then allocating): median {:?} of {registered:?}",
        median(registered.clone())
    );
    println!(
        "restart: … to its 4 containers counted again from the NodeManagers: median {:?} of {containers:?}",
        median(containers.clone())
    );
}

fn main() {
    store_cost();
    restart_time();
}

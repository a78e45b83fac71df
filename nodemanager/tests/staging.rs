//! Localization with the application's authority: a real NodeManager shows each container's token
//! to the staging store, and a file it already caches for one application is not linked into
//! another application's container unless the store says that application holds it too.

mod support;

use support::{container_id, request, TestNm, TestRm};
use weft_proto::pb;

fn with_file(id: &str, name: &str, sha256: &str, size: usize) -> pb::StartContainerRequest {
    let mut req = request(id, &["sh", "-c", &format!("cat {name}")]);
    let file = pb::LocalResource { name: name.into(), sha256: sha256.into(), size: size as u64, executable: false };
    req.launch.as_mut().unwrap().local_resources.push(file);
    req
}

#[tokio::test]
async fn a_cached_file_of_one_application_is_not_linked_into_anothers_container() {
    let rm = TestRm::start(30).await;
    let mut nm = TestNm::start(&rm).await;
    let secret = b"application 1's binary\n";
    let sha = rm.stage(secret);
    rm.state.lock().unwrap().owners.insert(sha.clone(), "application_1700000000000_0001".into());

    let own = container_id(1, 2);
    nm.start_containers(vec![with_file(&own, "app.bin", &sha, secret.len())]).await;
    assert_eq!(rm.completed_status(&own).await.exit_status, 0);
    let (_, stdout) = nm.get(&format!("/ws/v1/node/containerlogs/{own}/stdout")).await;
    assert_eq!(stdout, String::from_utf8_lossy(secret));
    assert!(nm.dir.path().join("local/filecache").join(&sha).is_dir(), "the file is cached on the node");

    // Another application names the same hash: the cache does not hand it over.
    let other = container_id(2, 2);
    nm.start_containers(vec![with_file(&other, "app.bin", &sha, secret.len())]).await;
    let status = rm.completed_status(&other).await;
    assert_eq!(status.exit_status, -1);
    let d = &status.diagnostics;
    assert!(d.contains("Failed to localize resource app.bin") && d.contains(&sha), "{d}");
    assert!(d.contains(&format!("holds no file with sha256 {sha} for container {other}'s application")), "{d}");
    assert!(!has_file_named(nm.dir.path(), &other, "app.bin"), "nothing was linked for {other}");

    // Every call carried the token of the container it was for; one download in all.
    let state = rm.state.lock().unwrap();
    assert_eq!(state.downloads[&sha], 1);
    assert_eq!(state.staging_callers, [own.clone(), other.clone()]);
}

/// Whether some directory named after `container` under `root` holds `name`.
fn has_file_named(root: &std::path::Path, container: &str, name: &str) -> bool {
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.file_name().is_some_and(|n| n == container) && path.join(name).symlink_metadata().is_ok() {
                return true;
            }
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(path);
            }
        }
    }
    false
}

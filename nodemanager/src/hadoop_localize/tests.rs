//! The localizer of `file:` resources over real files in temp dirs: copies, archives, the cache, refusals.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;

use super::*;

fn app() -> ApplicationId {
    "application_1700000000000_0001".parse().unwrap()
}

/// A resource for `path` as a client would name it now.
fn resource(path: &Path, link: &str, kind: ResourceKind, visibility: Visibility) -> UrlResource {
    let metadata = fs::metadata(path).unwrap();
    let timestamp = metadata.modified().unwrap().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    UrlResource { link: link.into(), path: path.into(), size: metadata.len() as i64, timestamp, kind, visibility }
}

fn write(path: &Path, bytes: &[u8]) {
    fs::write(path, bytes).unwrap();
}

/// A zip with a stored and a deflated entry, a subdirectory and an executable.
fn zip_file(path: &Path) {
    let mut zip = zip::ZipWriter::new(File::create(path).unwrap());
    let stored = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let deflated = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    zip.start_file("a.jar", stored).unwrap();
    zip.write_all(b"jar bytes").unwrap();
    zip.add_directory("conf/", stored).unwrap();
    zip.start_file("conf/spark.properties", deflated).unwrap();
    zip.write_all(&b"spark.master=yarn\n".repeat(100)).unwrap();
    zip.start_file("bin/run.sh", deflated.unix_permissions(0o755)).unwrap();
    zip.write_all(b"#!/bin/sh\necho hi\n").unwrap();
    zip.start_file("big.bin", stored).unwrap();
    zip.write_all(&vec![7; 4 << 20]).unwrap();
    zip.finish().unwrap();
}

fn tar_file(path: &Path, gzip: bool) {
    let file = File::create(path).unwrap();
    let writer: Box<dyn Write> =
        if gzip { Box::new(flate2::write::GzEncoder::new(file, flate2::Compression::fast())) } else { Box::new(file) };
    let mut tar = tar::Builder::new(writer);
    let mut header = tar::Header::new_gnu();
    let body = b"#!/bin/sh\necho tar\n";
    header.set_size(body.len() as u64);
    header.set_mode(0o755);
    header.set_cksum();
    tar.append_data(&mut header, "lib/tool.sh", &body[..]).unwrap();
    tar.into_inner().unwrap().flush().unwrap();
}

/// A tar whose second entry would be written through the symlink its first entry makes.
fn tar_through_symlink(path: &Path, outside: &Path) {
    let mut tar = tar::Builder::new(File::create(path).unwrap());
    let mut link = tar::Header::new_gnu();
    link.set_entry_type(tar::EntryType::Symlink);
    link.set_size(0);
    tar.append_link(&mut link, "escape", outside).unwrap();
    let mut file = tar::Header::new_gnu();
    file.set_size(1);
    file.set_mode(0o644);
    file.set_cksum();
    tar.append_data(&mut file, "escape/evil", &b"x"[..]).unwrap();
    tar.finish().unwrap();
}

struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
    src: PathBuf,
    cache: UrlCache,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let (root, src) = (dir.path().join("local"), dir.path().join("src"));
    fs::create_dir_all(&src).unwrap();
    let cache = UrlCache::open(root.clone(), 1 << 30).unwrap();
    Fixture { _dir: dir, root, src, cache }
}

impl Fixture {
    fn work_dir(&self, name: &str) -> PathBuf {
        let dir = self.root.join("work").join(name);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// Everything under a visibility root, temp dirs included.
    fn entries(&self, root: &Path) -> Vec<String> {
        let names = fs::read_dir(root).map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()));
        names.map(Iterator::collect).unwrap_or_default()
    }

    /// How many entries the cache has copied or unpacked.
    fn n_made(&self) -> usize {
        self.cache.in_flight.n_made.load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[tokio::test]
async fn a_file_is_copied_once_and_linked_under_a_link_with_subdirectories() {
    let f = fixture();
    let jar = f.src.join("a.jar");
    write(&jar, b"jar");
    let r = resource(&jar, "__spark_libs__/a.jar", ResourceKind::File, Visibility::Private);
    let (one, two) = (f.work_dir("c1"), f.work_dir("c2"));
    f.cache.localize_into(std::slice::from_ref(&r), "alice", None, app(), &one).await.unwrap();
    assert_eq!(fs::read(one.join("__spark_libs__/a.jar")).unwrap(), b"jar");
    let cached = fs::read_link(one.join("__spark_libs__/a.jar")).unwrap();
    let private = f.root.join("usercache/alice/filecache");
    assert_eq!(cached, private.join(cache_key(&r)).join("a.jar"));
    assert_eq!(fs::metadata(&cached).unwrap().permissions().mode() & 0o777, 0o644);
    f.cache.localize_into(&[r], "alice", None, app(), &two).await.unwrap();
    assert_eq!(fs::read_link(two.join("__spark_libs__/a.jar")).unwrap(), cached);
    assert_eq!(f.n_made(), 1, "the second container reuses the copy");
    assert_eq!(f.entries(&private).len(), 1);
}

#[tokio::test]
async fn zip_and_jar_archives_are_unpacked_with_their_directories_and_executable_bits() {
    let f = fixture();
    for name in ["__spark_libs__123.zip", "app.JAR"] {
        let zip = f.src.join(name);
        zip_file(&zip);
        let work = f.work_dir(name);
        let r = resource(&zip, "__spark_libs__", ResourceKind::Archive, Visibility::Application);
        f.cache.localize_into(std::slice::from_ref(&r), "alice", None, app(), &work).await.unwrap();
        let libs = work.join("__spark_libs__");
        assert_eq!(fs::read(libs.join("a.jar")).unwrap(), b"jar bytes", "{name}");
        assert_eq!(fs::read_to_string(libs.join("conf/spark.properties")).unwrap().lines().count(), 100);
        assert_eq!(fs::metadata(libs.join("big.bin")).unwrap().len(), 4 << 20);
        let mode = |p: &str| fs::metadata(libs.join(p)).unwrap().permissions().mode() & 0o777;
        assert_eq!((mode("bin/run.sh"), mode("a.jar"), mode("conf")), (0o755, 0o644, 0o755), "{name}");
        let appcache = f.root.join("usercache/alice/appcache").join(app().to_string()).join("filecache");
        assert_eq!(fs::read_link(&libs).unwrap(), appcache.join(cache_key(&r)).join(name));
    }
}

#[tokio::test]
async fn tar_gz_tgz_and_tar_archives_are_unpacked() {
    let f = fixture();
    for (name, gzip) in [("a.tar.gz", true), ("b.tgz", true), ("c.tar", false)] {
        let path = f.src.join(name);
        tar_file(&path, gzip);
        let work = f.work_dir(name);
        let r = resource(&path, "tools", ResourceKind::Pattern, Visibility::Public);
        f.cache.localize_into(&[r], "alice", None, app(), &work).await.unwrap();
        let tool = work.join("tools/lib/tool.sh");
        assert_eq!(fs::read(&tool).unwrap(), b"#!/bin/sh\necho tar\n", "{name}");
        assert_eq!(fs::metadata(&tool).unwrap().permissions().mode() & 0o777, 0o755, "{name}");
    }
    assert_eq!(f.entries(&f.root.join("filecache/hadoop")).len(), 3);
}

#[tokio::test]
async fn an_archive_of_unknown_format_is_copied_as_a_file() {
    let f = fixture();
    let path = f.src.join("data.bin");
    write(&path, b"not an archive");
    let work = f.work_dir("c1");
    let r = resource(&path, "data", ResourceKind::Archive, Visibility::Private);
    f.cache.localize_into(&[r], "alice", None, app(), &work).await.unwrap();
    assert_eq!(fs::read(work.join("data")).unwrap(), b"not an archive");
}

#[test]
fn a_changed_source_is_refused_in_yarns_words() {
    let f = fixture();
    let jar = f.src.join("a.jar");
    write(&jar, b"jar");
    let mut r = resource(&jar, "a.jar", ResourceKind::File, Visibility::Private);
    File::options()
        .write(true)
        .open(&jar)
        .unwrap()
        .set_modified(std::time::UNIX_EPOCH + ms(1_700_000_000_123))
        .unwrap();
    r.timestamp = 1_700_000_000_000;
    let expected = format!(
        "Resource file:{} changed on src filesystem - expected: \"2023-11-14T22:13:20.000+0000\", was: \
         \"2023-11-14T22:13:20.123+0000\", current time: \"2023-11-14T22:13:21.000+0000\"",
        jar.display()
    );
    let check = |r: &UrlResource, now| check_source(r, &File::open(&r.path).unwrap(), now);
    assert_eq!(check(&r, 1_700_000_001_000), Err(expected));
    r.timestamp = 1_700_000_000_123;
    r.size = 4;
    let expected = format!("Resource file:{} changed on src filesystem - expected size: 4, was: 3", jar.display());
    assert_eq!(check(&r, 0), Err(expected));
}

fn ms(n: u64) -> std::time::Duration {
    std::time::Duration::from_millis(n)
}

#[tokio::test]
async fn a_changed_or_missing_source_fails_the_resource() {
    let f = fixture();
    let jar = f.src.join("a.jar");
    write(&jar, b"jar");
    let mut r = resource(&jar, "a.jar", ResourceKind::File, Visibility::Private);
    r.timestamp -= 1000;
    let error = f.cache.localize_into(&[r.clone()], "alice", None, app(), &f.work_dir("c1")).await.unwrap_err();
    assert!(error.cause.starts_with(&format!("Resource file:{} changed on src filesystem", jar.display())));
    let prefix =
        format!("Failed to download resource {{ file:{}, {}, FILE, null }} for a.jar: ", jar.display(), r.timestamp);
    assert!(error.to_string().starts_with(&prefix), "{error}");
    assert!(!f.root.join("work/c1/a.jar").exists());
    r.path = f.src.join("gone.jar");
    let error = f.cache.localize_into(&[r], "alice", None, app(), &f.work_dir("c2")).await.unwrap_err();
    assert_eq!(error.cause, format!("File file:{} does not exist", f.src.join("gone.jar").display()));
    assert_eq!(f.n_made(), 0);
}

#[tokio::test]
async fn a_source_that_changes_after_it_was_cached_is_refused_too() {
    let f = fixture();
    let jar = f.src.join("a.jar");
    write(&jar, b"jar");
    let r = resource(&jar, "a.jar", ResourceKind::File, Visibility::Private);
    f.cache.localize_into(std::slice::from_ref(&r), "alice", None, app(), &f.work_dir("c1")).await.unwrap();
    let later = fs::metadata(&jar).unwrap().modified().unwrap() + std::time::Duration::from_secs(5);
    File::options().write(true).open(&jar).unwrap().set_modified(later).unwrap();
    let error = f.cache.localize_into(&[r], "alice", None, app(), &f.work_dir("c2")).await.unwrap_err();
    assert!(error.cause.contains("changed on src filesystem"), "{error}");
    assert!(!f.root.join("work/c2/a.jar").exists());
}

#[tokio::test]
async fn a_zip_entry_that_escapes_is_refused_and_nothing_lands_outside() {
    let f = fixture();
    for name in ["../evil", "/tmp/evil-abs"] {
        let zip_path = f.src.join("evil.zip");
        let mut zip = zip::ZipWriter::new(File::create(&zip_path).unwrap());
        zip.start_file(name, zip::write::SimpleFileOptions::default()).unwrap();
        zip.write_all(b"x").unwrap();
        zip.finish().unwrap();
        let r = resource(&zip_path, "evil", ResourceKind::Archive, Visibility::Private);
        let error = f.cache.localize_into(&[r], "alice", None, app(), &f.work_dir("c1")).await.unwrap_err();
        assert!(error.cause.contains("would land outside the destination"), "{error}");
    }
    let cache = f.root.join("usercache/alice/filecache");
    assert_eq!(f.entries(&cache), Vec::<String>::new(), "no entry and no temp dir is left");
    assert!(!cache.join("evil").exists() && !f.root.join("usercache/alice/evil").exists());
}

#[tokio::test]
async fn a_tar_entry_written_through_a_symlink_is_refused() {
    let f = fixture();
    let outside = f.root.join("outside");
    fs::create_dir_all(&outside).unwrap();
    let path = f.src.join("links.tar");
    tar_through_symlink(&path, &outside);
    let r = resource(&path, "links", ResourceKind::Archive, Visibility::Private);
    let error = f.cache.localize_into(&[r], "alice", None, app(), &f.work_dir("c1")).await.unwrap_err();
    assert!(error.cause.contains("\"escape/evil\" would land outside the destination"), "{error}");
    assert!(!outside.join("evil").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_containers_share_one_unpacking() {
    let f = fixture();
    let zip = f.src.join("libs.zip");
    zip_file(&zip);
    let r = resource(&zip, "__spark_libs__", ResourceKind::Archive, Visibility::Private);
    let (one, two) = (f.work_dir("c1"), f.work_dir("c2"));
    let (a, b) = tokio::join!(
        f.cache.localize_into(std::slice::from_ref(&r), "alice", None, app(), &one),
        f.cache.localize_into(std::slice::from_ref(&r), "alice", None, app(), &two),
    );
    a.unwrap();
    b.unwrap();
    assert_eq!(f.n_made(), 1);
    assert_eq!(fs::read_link(one.join("__spark_libs__")).unwrap(), fs::read_link(two.join("__spark_libs__")).unwrap());
    assert_eq!(fs::read(two.join("__spark_libs__/a.jar")).unwrap(), b"jar bytes");
    assert_eq!(f.entries(&f.root.join("usercache/alice/filecache")), [cache_key(&r)], "no temp dir is left");
}

#[test]
fn opening_removes_the_temp_dirs_of_an_interrupted_run() {
    let f = fixture();
    let roots = [
        "filecache/hadoop".to_string(),
        "usercache/alice/filecache".to_string(),
        format!("usercache/alice/appcache/{}/filecache", app()),
    ];
    for root in &roots {
        fs::create_dir_all(f.root.join(root).join(".tmp-abc/half")).unwrap();
        fs::create_dir_all(f.root.join(root).join("0123")).unwrap();
    }
    UrlCache::open(f.root.clone(), 1 << 30).unwrap();
    for root in &roots {
        assert_eq!(f.entries(&f.root.join(root)), ["0123"], "{root}");
    }
}

#[test]
fn link_names_must_be_relative_plain_paths() {
    for bad in ["../x", "/abs", "a//b", "a/./b", "", "a/", "a/../b", "a\0b"] {
        let error = check_link(bad).unwrap_err();
        assert!(error.contains(&format!("{bad:?}")), "{error}");
    }
    for good in ["a", "__spark_libs__/a.jar", "x/y/z.py"] {
        assert_eq!(check_link(good), Ok(()), "{good:?}");
    }
}

#[tokio::test]
async fn finished_applications_leave_only_what_fits_the_target_and_what_others_use() {
    let f = fixture();
    let cache = UrlCache::open(f.root.clone(), 0).unwrap();
    let (one, two) = (app(), "application_1700000000000_0002".parse::<ApplicationId>().unwrap());
    let shared = f.src.join("shared.jar");
    let own = f.src.join("own.jar");
    write(&shared, b"shared");
    write(&own, b"own");
    let shared = resource(&shared, "shared.jar", ResourceKind::File, Visibility::Private);
    let own = resource(&own, "own.jar", ResourceKind::File, Visibility::Private);
    cache.localize_into(&[shared.clone(), own], "alice", None, one, &f.work_dir("c1")).await.unwrap();
    cache.localize_into(std::slice::from_ref(&shared), "alice", None, two, &f.work_dir("c2")).await.unwrap();
    let private = f.root.join("usercache/alice/filecache");
    assert_eq!(f.entries(&private).len(), 2);
    // With a target of 0, app 1's own jar goes at its end; the shared one stays while app 2 runs.
    cache.app_finished(one).await;
    assert_eq!(f.entries(&private).len(), 1);
    assert_eq!(fs::read(f.root.join("work/c2/shared.jar")).unwrap(), b"shared");
    cache.app_finished(two).await;
    let left: Vec<_> = fs::read_dir(&private).unwrap().flatten().map(|e| e.file_name()).collect();
    assert!(left.is_empty(), "nothing unused is kept beyond the target: {left:?}");
    // A later application localizes it afresh.
    cache.localize_into(&[shared], "alice", None, one, &f.work_dir("c3")).await.unwrap();
    assert_eq!(fs::read(f.root.join("work/c3/shared.jar")).unwrap(), b"shared");
}

#[tokio::test]
async fn entries_left_by_a_previous_run_count_against_the_target() {
    let f = fixture();
    let jar = f.src.join("a.jar");
    write(&jar, b"jar");
    let r = resource(&jar, "a.jar", ResourceKind::File, Visibility::Public);
    f.cache.localize_into(&[r], "alice", None, app(), &f.work_dir("c1")).await.unwrap();
    let public = f.root.join("filecache/hadoop");
    assert_eq!(f.entries(&public).len(), 1);
    let reopened = UrlCache::open(f.root.clone(), 0).unwrap();
    reopened.app_finished("application_1700000000000_0009".parse().unwrap()).await;
    assert_eq!(f.entries(&public).len(), 0, "an unused entry from before the restart is evicted");
}

#[tokio::test]
async fn a_source_the_containers_user_may_not_read_is_refused_and_not_read() {
    assert!(nix::unistd::geteuid().is_root(), "this test reads files as another user, which needs root");
    let nobody = crate::run_as::lookup("nobody").unwrap().expect("the user nobody");
    let f = fixture();
    // The fixture's temp dir is the test's own (0700): open the way to a readable file below it.
    let mut dir = f.src.clone();
    while dir != std::env::temp_dir() && dir.parent().is_some() {
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        dir = dir.parent().unwrap().to_owned();
    }
    let open = f.src.join("open.jar");
    write(&open, b"anyone may read this");
    let secret = f.src.join("secret");
    write(&secret, b"root's only");
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    let fifo = f.src.join("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o666)).unwrap();

    let r = resource(&open, "open.jar", ResourceKind::File, Visibility::Public);
    f.cache.localize_into(&[r], "alice", Some(&nobody), app(), &f.work_dir("c1")).await.unwrap();
    assert_eq!(fs::read(f.root.join("work/c1/open.jar")).unwrap(), b"anyone may read this");

    let r = resource(&secret, "secret", ResourceKind::File, Visibility::Public);
    let c2 = f.work_dir("c2");
    let error = f.cache.localize_into(std::slice::from_ref(&r), "alice", Some(&nobody), app(), &c2).await.unwrap_err();
    assert_eq!(
        error.cause,
        format!(
            "Permission denied: file:{} is not readable by nobody, the user the container runs as",
            secret.display()
        )
    );
    assert!(!f.root.join("work/c2/secret").exists());
    // Cached by a user who may read it, it is still refused to one who may not.
    f.cache.localize_into(std::slice::from_ref(&r), "alice", None, app(), &f.work_dir("c3")).await.unwrap();
    let error = f.cache.localize_into(&[r], "alice", Some(&nobody), app(), &f.work_dir("c4")).await.unwrap_err();
    assert!(error.cause.starts_with("Permission denied"), "{error}");
    assert!(!f.root.join("work/c4/secret").exists());

    let r = resource(&fifo, "fifo", ResourceKind::File, Visibility::Public);
    let error = f.cache.localize_into(&[r], "alice", Some(&nobody), app(), &f.work_dir("c5")).await.unwrap_err();
    assert_eq!(error.cause, format!("file:{} is not a regular file", fifo.display()));
}

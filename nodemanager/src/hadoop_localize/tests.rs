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
    let cache = UrlCache::open(root.clone()).unwrap();
    Fixture { _dir: dir, root, src, cache }
}

impl Fixture {
    fn work_dir(&self, name: &str) -> PathBuf {
        let dir = self.root.join("work").join(name);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// Entries under a visibility root, temp dirs excluded.
    fn entries(&self, root: &Path) -> usize {
        fs::read_dir(root)
            .map_or(0, |d| d.flatten().filter(|e| !e.file_name().to_string_lossy().starts_with(".tmp-")).count())
    }
}

#[tokio::test]
async fn a_file_is_copied_once_and_linked_under_a_link_with_subdirectories() {
    let f = fixture();
    let jar = f.src.join("a.jar");
    write(&jar, b"jar");
    let r = resource(&jar, "__spark_libs__/a.jar", ResourceKind::File, Visibility::Private);
    let (one, two) = (f.work_dir("c1"), f.work_dir("c2"));
    f.cache.localize_into(std::slice::from_ref(&r), "alice", app(), &one).await.unwrap();
    assert_eq!(fs::read(one.join("__spark_libs__/a.jar")).unwrap(), b"jar");
    let cached = fs::read_link(one.join("__spark_libs__/a.jar")).unwrap();
    assert!(cached.starts_with(f.root.join("usercache/alice/filecache")), "{}", cached.display());
    let copied_at = fs::metadata(&cached).unwrap().modified().unwrap();
    f.cache.localize_into(&[r], "alice", app(), &two).await.unwrap();
    assert_eq!(fs::read_link(two.join("__spark_libs__/a.jar")).unwrap(), cached);
    assert_eq!(fs::metadata(&cached).unwrap().modified().unwrap(), copied_at, "the second container reuses the copy");
    assert_eq!(f.entries(&f.root.join("usercache/alice/filecache")), 1);
}

#[tokio::test]
async fn a_zip_archive_is_unpacked_with_its_directories_and_executable_bits() {
    let f = fixture();
    let zip = f.src.join("__spark_libs__123.zip");
    zip_file(&zip);
    let work = f.work_dir("c1");
    let r = resource(&zip, "__spark_libs__", ResourceKind::Archive, Visibility::Application);
    f.cache.localize_into(&[r], "alice", app(), &work).await.unwrap();
    let libs = work.join("__spark_libs__");
    assert_eq!(fs::read(libs.join("a.jar")).unwrap(), b"jar bytes");
    assert_eq!(fs::read_to_string(libs.join("conf/spark.properties")).unwrap().lines().count(), 100);
    let mode = fs::metadata(libs.join("bin/run.sh")).unwrap().permissions().mode();
    assert_eq!(mode & 0o111, 0o111, "{mode:o}");
    assert_eq!(fs::metadata(libs.join("a.jar")).unwrap().permissions().mode() & 0o111, 0);
    let target = fs::read_link(&libs).unwrap();
    assert!(target.starts_with(f.root.join("usercache/alice/appcache").join(app().to_string()).join("filecache")));
}

#[tokio::test]
async fn tar_gz_tgz_and_tar_archives_are_unpacked() {
    let f = fixture();
    for (name, gzip) in [("a.tar.gz", true), ("b.tgz", true), ("c.tar", false)] {
        let path = f.src.join(name);
        tar_file(&path, gzip);
        let work = f.work_dir(name);
        let r = resource(&path, "tools", ResourceKind::Archive, Visibility::Public);
        f.cache.localize_into(&[r], "alice", app(), &work).await.unwrap();
        let tool = work.join("tools/lib/tool.sh");
        assert_eq!(fs::read(&tool).unwrap(), b"#!/bin/sh\necho tar\n", "{name}");
        assert_eq!(fs::metadata(&tool).unwrap().permissions().mode() & 0o111, 0o111, "{name}");
    }
    assert_eq!(f.entries(&f.root.join("filecache/hadoop")), 3);
}

#[tokio::test]
async fn a_changed_or_missing_source_is_refused_with_yarns_words() {
    let f = fixture();
    let jar = f.src.join("a.jar");
    write(&jar, b"jar");
    let mut r = resource(&jar, "a.jar", ResourceKind::File, Visibility::Private);
    let seen = r.timestamp;
    r.timestamp -= 1000;
    let error = f.cache.localize_into(&[r.clone()], "alice", app(), &f.work_dir("c1")).await.unwrap_err();
    let expected =
        format!("Resource file:{} changed on src filesystem (expected {}, was {seen}", jar.display(), seen - 1000);
    assert_eq!(error.cause, expected);
    assert!(
        error.to_string().starts_with(&format!("Failed to download resource {{ file:{}", jar.display())),
        "{error}"
    );
    assert!(!f.root.join("work/c1/a.jar").exists());
    r.path = f.src.join("gone.jar");
    let error = f.cache.localize_into(&[r], "alice", app(), &f.work_dir("c2")).await.unwrap_err();
    assert!(error.cause.contains("gone.jar does not exist"), "{error}");
}

#[tokio::test]
async fn a_source_that_changes_after_it_was_cached_is_refused_too() {
    let f = fixture();
    let jar = f.src.join("a.jar");
    write(&jar, b"jar");
    let r = resource(&jar, "a.jar", ResourceKind::File, Visibility::Private);
    f.cache.localize_into(std::slice::from_ref(&r), "alice", app(), &f.work_dir("c1")).await.unwrap();
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(5);
    File::options().write(true).open(&jar).unwrap().set_modified(later).unwrap();
    let error = f.cache.localize_into(&[r], "alice", app(), &f.work_dir("c2")).await.unwrap_err();
    assert!(error.cause.contains("changed on src filesystem"), "{error}");
}

#[tokio::test]
async fn an_archive_entry_that_escapes_is_refused_and_nothing_lands_outside() {
    let f = fixture();
    let zip_path = f.src.join("evil.zip");
    let mut zip = zip::ZipWriter::new(File::create(&zip_path).unwrap());
    zip.start_file("../evil", zip::write::SimpleFileOptions::default()).unwrap();
    zip.write_all(b"x").unwrap();
    zip.finish().unwrap();
    let r = resource(&zip_path, "evil", ResourceKind::Archive, Visibility::Private);
    let error = f.cache.localize_into(&[r], "alice", app(), &f.work_dir("c1")).await.unwrap_err();
    assert!(error.cause.contains("outside the destination"), "{error}");
    let cache = f.root.join("usercache/alice/filecache");
    assert_eq!(f.entries(&cache), 0);
    assert!(!cache.join("evil").exists());
    let leftovers: Vec<_> = fs::read_dir(&cache).unwrap().flatten().collect();
    assert!(leftovers.is_empty(), "the temp dir is removed: {leftovers:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_containers_share_one_unpacking() {
    let f = fixture();
    let zip = f.src.join("libs.zip");
    zip_file(&zip);
    let r = resource(&zip, "__spark_libs__", ResourceKind::Archive, Visibility::Private);
    let (one, two) = (f.work_dir("c1"), f.work_dir("c2"));
    let (a, b) = tokio::join!(
        f.cache.localize_into(std::slice::from_ref(&r), "alice", app(), &one),
        f.cache.localize_into(std::slice::from_ref(&r), "alice", app(), &two),
    );
    a.unwrap();
    b.unwrap();
    assert_eq!(fs::read_link(one.join("__spark_libs__")).unwrap(), fs::read_link(two.join("__spark_libs__")).unwrap());
    let cache = f.root.join("usercache/alice/filecache");
    let all: Vec<_> = fs::read_dir(&cache).unwrap().flatten().map(|e| e.file_name()).collect();
    assert_eq!(all.len(), 1, "one entry and no temp dir left: {all:?}");
}

#[test]
fn link_names_must_be_relative_plain_paths() {
    for bad in ["../x", "/abs", "a//b", "a/./b", "", "a/", "a/../b"] {
        assert!(check_link(bad).is_err(), "{bad:?}");
    }
    for good in ["a", "__spark_libs__/a.jar", "x/y/z.py"] {
        assert_eq!(check_link(good), Ok(()), "{good:?}");
    }
}

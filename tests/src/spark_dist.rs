//! Real Apache Spark for the tests that run unmodified `spark-submit --master yarn` against Weft:
//! pyspark from PyPI, installed once into a cache directory shared by every test and every run,
//! and the machine's Java 17 (a JDK, for the tests that compile a job with `javac`).
//!
//! Nothing is skipped: without Java (and without root to install it from Debian), or without
//! PyPI, the tests fail with a message naming what is missing.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The pyspark release the tests run (it bundles Spark 4.3 and the Hadoop 3.5.0 client).
pub const PYSPARK_VERSION: &str = "4.3.0";
/// The py4j release that pyspark 4.3.0 ships in `python/lib` (its Python driver imports it).
const PY4J_VERSION: &str = "0.10.9.9";
/// Debian's package with `java` and `javac` 17.
const JDK_PACKAGE: &str = "openjdk-17-jdk-headless";

/// An installed Spark distribution and the Java that runs it.
#[derive(Debug)]
pub struct SparkDist {
    /// `SPARK_HOME`: the `pyspark` package directory (`bin/spark-submit`, `jars/`, `examples/`).
    pub home: PathBuf,
    /// The directory pip installed into; on `PYTHONPATH` it makes `import pyspark` work.
    pub site: PathBuf,
    /// `JAVA_HOME` of a JDK 17.
    pub java_home: PathBuf,
}

impl SparkDist {
    pub fn spark_submit(&self) -> PathBuf {
        self.home.join("bin/spark-submit")
    }

    /// A Python example shipped with pyspark, e.g. `pi.py`.
    pub fn python_example(&self, name: &str) -> PathBuf {
        self.home.join("examples/src/main/python").join(name)
    }

    /// `javac`, for jobs the tests compile against `jars/`.
    pub fn javac(&self) -> PathBuf {
        self.java_home.join("bin/javac")
    }
}

/// The distribution, installed on first use (by any test of this process; other processes wait
/// on a file lock and reuse it).
pub fn spark() -> &'static SparkDist {
    static DIST: OnceLock<SparkDist> = OnceLock::new();
    DIST.get_or_init(|| {
        let java_home = require_jdk();
        let site = install_pyspark(&cache_root());
        SparkDist { home: site.join("pyspark"), site, java_home }
    })
}

/// `$WEFT_TEST_CACHE`, else `$HOME/.cache/weft`, else a directory under the system temp dir.
fn cache_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("WEFT_TEST_CACHE") {
        return PathBuf::from(dir);
    }
    match std::env::var_os("HOME") {
        Some(home) if !home.is_empty() => Path::new(&home).join(".cache/weft"),
        _ => std::env::temp_dir().join("weft-test-cache"),
    }
}

/// pip-installs pyspark into `<cache>/pyspark-<version>` unless it is there; the directory appears
/// whole (installed aside, then renamed) so a run that stopped halfway leaves nothing half-done.
fn install_pyspark(cache: &Path) -> PathBuf {
    let target = cache.join(format!("pyspark-{PYSPARK_VERSION}"));
    if target.join("pyspark/bin/spark-submit").exists() {
        return target;
    }
    fs::create_dir_all(cache).unwrap_or_else(|e| panic!("cannot create the test cache {}: {e}", cache.display()));
    let lock_path = cache.join(format!("pyspark-{PYSPARK_VERSION}.lock"));
    let lock = fs::File::create(&lock_path).unwrap_or_else(|e| panic!("cannot create {}: {e}", lock_path.display()));
    lock.lock().unwrap_or_else(|e| panic!("cannot lock {}: {e}", lock_path.display()));
    if target.join("pyspark/bin/spark-submit").exists() {
        return target;
    }
    let aside = cache.join(format!("pyspark-{PYSPARK_VERSION}.partial"));
    let _ = fs::remove_dir_all(&aside);
    eprintln!("installing pyspark {PYSPARK_VERSION} from PyPI into {} (once; about 500 MB)", target.display());
    let status = Command::new("python3")
        .args(["-m", "pip", "install", "--quiet", "--no-input", "--disable-pip-version-check", "--no-deps"])
        .arg("--target")
        .arg(&aside)
        .arg(format!("pyspark=={PYSPARK_VERSION}"))
        .arg(format!("py4j=={PY4J_VERSION}"))
        .status()
        .unwrap_or_else(|e| panic!("cannot run `python3 -m pip` to install pyspark (python3 with pip is needed): {e}"));
    assert!(status.success(), "`pip install pyspark=={PYSPARK_VERSION}` failed ({status}): PyPI must be reachable");
    fs::rename(&aside, &target)
        .unwrap_or_else(|e| panic!("cannot move {} to {}: {e}", aside.display(), target.display()));
    target
}

/// `JAVA_HOME` of a JDK 17: `javac` on the PATH, else Debian's package installed when running as
/// root, else a failure naming the package.
fn require_jdk() -> PathBuf {
    if let Some(home) = jdk_home() {
        return home;
    }
    assert!(
        nix::unistd::geteuid().is_root(),
        "the Spark tests need Java 17 with javac (Debian: apt-get install {JDK_PACKAGE}); not running as root, so \
         it cannot be installed here; the tests are not skipped"
    );
    eprintln!("installing {JDK_PACKAGE} from Debian for the Spark tests");
    let installed = Command::new("sh")
        .args([
            "-c",
            &format!("apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q {JDK_PACKAGE}"),
        ])
        .status()
        .is_ok_and(|s| s.success());
    assert!(installed, "the Spark tests need Java 17 with javac: `apt-get install {JDK_PACKAGE}` failed");
    jdk_home().unwrap_or_else(|| panic!("{JDK_PACKAGE} is installed but no javac 17 is on the PATH"))
}

/// The JDK of the `javac` on the PATH, if it is version 17.
fn jdk_home() -> Option<PathBuf> {
    let output = Command::new("javac").arg("-version").output().ok()?;
    let version = String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
    if !output.status.success() || !version.trim().starts_with("javac 17") {
        return None;
    }
    let javac = Command::new("sh").args(["-c", "readlink -f \"$(command -v javac)\""]).output().ok()?;
    let javac = PathBuf::from(String::from_utf8_lossy(&javac.stdout).trim());
    javac.parent()?.parent().map(Path::to_path_buf)
}

//! A real browser for the tests that check pages people read: Debian's Chromium, headless, installed
//! by the test setup as root when it is missing (the tests fail naming what is missing otherwise; they
//! are never skipped). Each run gets a fresh profile directory and no network but the test's own.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

/// Debian's package with `/usr/bin/chromium`.
const PACKAGE: &str = "chromium";
/// How long one page may take to load and run its scripts.
const PAGE_BUDGET: Duration = Duration::from_secs(60);

/// The Chromium binary, installed on first use.
pub fn chromium() -> &'static PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let found = || ["/usr/bin/chromium", "/usr/bin/chromium-browser"].map(PathBuf::from).into_iter().find(|p| p.exists());
        if let Some(path) = found() {
            return path;
        }
        assert!(
            nix::unistd::geteuid().is_root(),
            "the page tests need Chromium (Debian: apt-get install {PACKAGE}); not running as root, so it cannot be \
             installed here; the tests are not skipped"
        );
        eprintln!("installing {PACKAGE} from Debian for the page tests");
        let script = format!(
            "apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=300 {PACKAGE}"
        );
        let installed = Command::new("sh").args(["-c", &script]).status().is_ok_and(|s| s.success());
        assert!(installed, "the page tests need Chromium: `apt-get install {PACKAGE}` failed");
        found().unwrap_or_else(|| panic!("{PACKAGE} is installed but /usr/bin/chromium is not there"))
    })
}

fn headless(profile: &std::path::Path) -> Command {
    let mut command = Command::new(chromium());
    command
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"])
        .args(["--disable-background-networking", "--disable-component-update", "--disable-sync"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--timeout={}", PAGE_BUDGET.as_millis()));
    command
}

/// The page at `url` as the browser built it, scripts run: its DOM serialized.
pub fn dom(url: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let output = headless(profile.path()).arg("--dump-dom").arg(url).output().expect("chromium runs");
    let dom = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success() && dom.contains("<html"),
        "chromium could not render {url}: {}\n{dom}",
        String::from_utf8_lossy(&output.stderr)
    );
    dom
}

/// What a person reads on the page: its DOM without scripts, styles, tags and attributes.
pub fn visible_text(dom: &str) -> String {
    let without = |text: &str, open: &str, close: &str| {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find(open) {
            out.push_str(&rest[..start]);
            rest = rest[start..].find(close).map_or("", |end| &rest[start + end + close.len()..]);
        }
        out + rest
    };
    let text = without(&without(dom, "<script", "</script>"), "<style", "</style>");
    without(&text, "<", ">")
}

/// Saves a PNG of the page at `url` (for people looking at what the tests saw).
pub fn screenshot(url: &str, png: &std::path::Path) {
    let profile = tempfile::tempdir().unwrap();
    let status = headless(profile.path())
        .arg(format!("--screenshot={}", png.display()))
        .arg("--window-size=1400,1000")
        .arg(url)
        .output()
        .expect("chromium runs");
    assert!(status.status.success(), "chromium could not take a screenshot of {url}");
}

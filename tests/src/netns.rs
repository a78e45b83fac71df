//! Several hosts on one machine: a Linux bridge and one network namespace per host, each joined to the
//! bridge by a veth pair with its own IP on a private /24 drawn at random per test run, its own host
//! name, and an `/etc/hosts` that names every host of the test bed. Everything made here (namespaces,
//! veths, bridge) is removed when the [`Network`] is dropped, also when the test panics.
//!
//! A process runs "on" a host through `nsenter --net=/run/netns/NS unshare --mount --uts -- sh -c …`,
//! which enters the host's network namespace, gives it its own host name (UTS namespace) and binds the
//! test bed's hosts file over `/etc/hosts` in a private mount namespace, then execs the program, so the
//! pid the test holds is the program's own. `ip netns exec` is not used: it remounts `/sys` in the
//! namespace, which hides the cgroup mounts a NodeManager holds its containers in.
//!
//! Root (CAP_NET_ADMIN, CAP_SYS_ADMIN) and iproute2 are needed: `ip` is installed from Debian when it
//! is missing and the test runs as root; otherwise the test fails naming what is missing (never skips).

use std::collections::hash_map::RandomState;
use std::fs;
use std::hash::{BuildHasher, Hasher};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

/// Debian's package with `ip`.
const IPROUTE2: &str = "iproute2";
/// How long the kernel may take to let go of a deleted namespace's links.
const TEARDOWN_TIMEOUT: Duration = Duration::from_secs(20);
/// Enters the host's namespaces' view: `$0` the host name, `$1` the hosts file, then the program.
const ENTER_HOST: &str = r#"mount --bind "$1" /etc/hosts && hostname "$0" && shift && exec "$@""#;

/// One host of the test bed.
#[derive(Debug, Clone)]
pub struct Host {
    /// Its host name, as its own `hostname` says and every host's `/etc/hosts` resolves.
    pub name: String,
    /// Its network namespace (`/run/netns/<netns>`).
    pub netns: String,
    pub ip: Ipv4Addr,
    /// The veth end on the bridge, in the test's own namespace: down cuts the host off.
    pub veth: String,
}

/// The bridge, the hosts on it, and what was made, for removal.
pub struct Network {
    /// Random hex that every name of this test bed carries.
    pub tag: String,
    pub bridge: String,
    /// The test's own address on the bridge: REST calls from the test come from here.
    pub bridge_ip: Ipv4Addr,
    pub hosts: Vec<Host>,
    /// The `/etc/hosts` every host sees.
    pub hosts_file: PathBuf,
    made_bridge: bool,
    made_netns: Vec<String>,
    made_veths: Vec<String>,
    torn_down: bool,
}

/// The `ip` binary, installed from Debian on first use when missing (as root).
fn ip_binary() -> &'static PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let found = || ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"].map(PathBuf::from).into_iter().find(|p| p.exists());
        if let Some(path) = found() {
            return path;
        }
        eprintln!("installing {IPROUTE2} from Debian for the multi-host tests");
        let script = format!(
            "apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=300 {IPROUTE2}"
        );
        let installed = Command::new("sh").args(["-c", &script]).status().is_ok_and(|s| s.success());
        assert!(installed, "the multi-host tests need `ip` (Debian: apt-get install {IPROUTE2}), and installing it failed");
        found().unwrap_or_else(|| panic!("{IPROUTE2} is installed but `ip` is not in /usr/sbin or /sbin"))
    })
}

/// Fails the test (never skips it) unless it can make network namespaces: root, `ip`, `nsenter`,
/// `unshare`.
pub fn require_netns() {
    let uid = nix::unistd::geteuid();
    assert!(
        uid.is_root(),
        "the multi-host tests need root to make network namespaces, veths and a bridge (running as uid {uid}); \
         they are not skipped"
    );
    ip_binary();
    for tool in ["nsenter", "unshare", "mount", "hostname"] {
        let present =
            Command::new("sh").args(["-c", &format!("command -v {tool}")]).output().is_ok_and(|o| o.status.success());
        assert!(
            present,
            "the multi-host tests need `{tool}` (Debian: util-linux, mount, hostname); it is not on the PATH"
        );
    }
}

/// Runs `ip ARGS…`; the error is ip's own stderr with the command.
pub fn ip(args: &[&str]) -> Result<String, String> {
    let output = Command::new(ip_binary()).args(args).output().map_err(|e| format!("cannot run ip: {e}"))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(format!("`ip {}` failed: {}", args.join(" "), String::from_utf8_lossy(&output.stderr).trim()))
    }
}

/// `ip ARGS…` that must work to build the test bed: a failure fails the test naming what is missing.
fn ip_must(args: &[&str]) {
    if let Err(e) = ip(args) {
        panic!("cannot build the multi-host test bed: {e}; these tests need root with CAP_NET_ADMIN, veth and bridge support; they are not skipped");
    }
}

fn random_u64() -> u64 {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    hasher.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
    hasher.finish()
}

/// A random 10.x.y.0/24 that no address or route of this machine uses yet.
fn free_subnet() -> [u8; 3] {
    let used = format!("{}{}", ip(&["-4", "-o", "addr"]).unwrap_or_default(), ip(&["-4", "route"]).unwrap_or_default());
    for _ in 0..100 {
        let r = random_u64();
        let subnet = [10, 100 + (r % 150) as u8, (r >> 8) as u8];
        if !used.contains(&format!("{}.{}.{}.", subnet[0], subnet[1], subnet[2])) {
            return subnet;
        }
    }
    panic!("no free 10.x.y.0/24 found for the test bed among 100 random draws")
}

impl Network {
    /// A bridge and one host per role (`rm`, `nm0`, …), each in its own namespace with loopback up.
    /// The hosts file is written to `dir`, which every host's processes must be able to read.
    pub fn create(roles: &[&str], dir: &Path) -> Network {
        require_netns();
        let tag = format!("{:06x}", random_u64() & 0xff_ffff);
        let subnet = free_subnet();
        let address = |last: u8| Ipv4Addr::new(subnet[0], subnet[1], subnet[2], last);
        let mut network = Network {
            bridge: format!("wb{tag}"),
            bridge_ip: address(1),
            hosts: Vec::new(),
            hosts_file: dir.join("hosts"),
            tag: tag.clone(),
            made_bridge: false,
            made_netns: Vec::new(),
            made_veths: Vec::new(),
            torn_down: false,
        };
        ip_must(&["link", "add", &network.bridge, "type", "bridge"]);
        network.made_bridge = true;
        ip_must(&["addr", "add", &format!("{}/24", network.bridge_ip), "dev", &network.bridge]);
        ip_must(&["link", "set", &network.bridge, "up"]);
        for (i, role) in roles.iter().enumerate() {
            let host = Host {
                name: format!("{role}-{tag}"),
                netns: format!("weft-{tag}-{role}"),
                ip: address(10 + i as u8),
                veth: format!("wv{tag}{i}"),
            };
            network.add_host(&host);
            network.hosts.push(host);
        }
        network.write_hosts_file();
        network
    }

    fn add_host(&mut self, host: &Host) {
        ip_must(&["netns", "add", &host.netns]);
        self.made_netns.push(host.netns.clone());
        let peer = format!("wp{}{}", self.tag, self.made_veths.len());
        ip_must(&["link", "add", &host.veth, "type", "veth", "peer", "name", &peer]);
        self.made_veths.push(host.veth.clone());
        ip_must(&["link", "set", &host.veth, "master", &self.bridge]);
        ip_must(&["link", "set", &host.veth, "up"]);
        ip_must(&["link", "set", &peer, "netns", &host.netns]);
        let inside = |args: &[&str]| {
            let mut all = vec!["-n", host.netns.as_str()];
            all.extend_from_slice(args);
            ip_must(&all);
        };
        inside(&["link", "set", "lo", "up"]);
        inside(&["link", "set", &peer, "name", "eth0"]);
        inside(&["addr", "add", &format!("{}/24", host.ip), "dev", "eth0"]);
        inside(&["link", "set", "eth0", "up"]);
    }

    fn write_hosts_file(&self) {
        let mut text = String::from("127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n");
        for host in &self.hosts {
            text.push_str(&format!("{} {}\n", host.ip, host.name));
        }
        fs::write(&self.hosts_file, text).expect("write the test bed's hosts file");
        fs::set_permissions(&self.hosts_file, std::os::unix::fs::PermissionsExt::from_mode(0o644))
            .expect("chmod hosts");
    }

    /// `program` as a process on `host` (not started): its network, host name and `/etc/hosts`.
    pub fn command(&self, host: &Host, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut command = Command::new("nsenter");
        command
            .arg(format!("--net=/run/netns/{}", host.netns))
            .args(["unshare", "--mount", "--uts", "--", "sh", "-c", ENTER_HOST])
            .arg(&host.name)
            .arg(&self.hosts_file)
            .arg(program);
        command
    }

    /// Cuts `host` off the bridge (its veth end down): nothing reaches it and it reaches nothing.
    pub fn cut(&self, host: &Host) {
        ip_must(&["link", "set", &host.veth, "down"]);
    }

    /// Joins `host` to the bridge again after [`Network::cut`].
    pub fn restore(&self, host: &Host) {
        ip_must(&["link", "set", &host.veth, "up"]);
    }

    /// Pids of the processes still in any of the test bed's namespaces.
    pub fn pids_inside(&self) -> Vec<(String, i32)> {
        let mut pids = Vec::new();
        for netns in &self.made_netns {
            let listed = ip(&["netns", "pids", netns]).unwrap_or_default();
            pids.extend(listed.split_whitespace().filter_map(|p| p.parse().ok()).map(|p| (netns.clone(), p)));
        }
        pids
    }

    /// Removes the namespaces, veths and bridge; returns what was still there before (processes in
    /// the namespaces, which are SIGKILLed) and after (links or namespaces the kernel kept).
    pub fn teardown(&mut self) -> Vec<String> {
        if self.torn_down {
            return Vec::new();
        }
        self.torn_down = true;
        let mut leftovers = Vec::new();
        for (netns, pid) in self.pids_inside() {
            leftovers.push(format!("process {pid} in {netns}"));
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
        }
        for netns in &self.made_netns {
            let _ = ip(&["netns", "del", netns]);
        }
        for veth in &self.made_veths {
            let _ = ip(&["link", "del", veth]);
        }
        if self.made_bridge {
            let _ = ip(&["link", "del", &self.bridge]);
        }
        let deadline = std::time::Instant::now() + TEARDOWN_TIMEOUT;
        loop {
            let remaining = self.remaining();
            if remaining.is_empty() {
                break;
            }
            if std::time::Instant::now() > deadline {
                leftovers.extend(remaining);
                break;
            }
            for veth in &self.made_veths {
                let _ = ip(&["link", "del", veth]);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        leftovers
    }

    /// The test bed's namespaces and links that still exist.
    fn remaining(&self) -> Vec<String> {
        let links = ip(&["-o", "link", "show"]).unwrap_or_default();
        let namespaces = ip(&["netns", "list"]).unwrap_or_default();
        let mut remaining = Vec::new();
        for line in links.lines() {
            let name = line.split(':').nth(1).map(|n| n.trim().split('@').next().unwrap_or("")).unwrap_or("");
            if name.contains(self.tag.as_str()) {
                remaining.push(format!("link {name}"));
            }
        }
        for line in namespaces.lines() {
            if line.contains(self.tag.as_str()) {
                remaining.push(format!("namespace {line}"));
            }
        }
        remaining
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        self.teardown();
    }
}

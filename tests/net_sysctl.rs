//! The network plane's sysctls, in a network namespace of the test's own
//! (net.* sysctls are per namespace, so the host is never touched):
//! `pharos plan` for a partly applied state against a golden file, and
//! `pharos run` applying, re-applying as a no-op, applying a reload's
//! change, and naming a key the kernel lacks while applying the rest.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_pharos");
static SEQ: AtomicUsize = AtomicUsize::new(0);

/// A network namespace, deleted when dropped (even when the test fails).
struct Netns(String);

impl Netns {
    fn new() -> Netns {
        let name = format!(
            "pharos-t{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::SeqCst)
        );
        let st = Command::new("ip")
            .args(["netns", "add", &name])
            .status()
            .expect("iproute2 is installed");
        assert!(st.success(), "ip netns add (root needed)");
        Netns(name)
    }
    fn exec(&self, args: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.0]).args(args);
        c
    }
    fn write(&self, key: &str, value: &str) {
        let path = format!("/proc/sys/{}", key.replace('.', "/"));
        let st = self
            .exec(&["sh", "-c", &format!("echo {value} > {path}")])
            .status()
            .unwrap();
        assert!(st.success(), "setting {key}");
    }
    fn read(&self, key: &str) -> String {
        let out = self
            .exec(&["cat", &format!("/proc/sys/{}", key.replace('.', "/"))])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

const KEYS: &[&str] = &[
    "net.ipv4.ip_forward",
    "net.ipv4.conf.all.rp_filter",
    "net.ipv4.conf.lo.rp_filter",
    "net.ipv4.conf.all.arp_ignore",
    "net.ipv4.conf.all.arp_announce",
    "net.ipv4.conf.lo.arp_ignore",
    "net.ipv4.conf.lo.arp_announce",
];

fn golden_config() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/plan/realserver-dr.toml")
}

#[test]
fn plan_of_a_partly_applied_state_matches_the_golden_file() {
    let ns = Netns::new();
    // A known starting point (a new namespace inherits some IPv4 settings
    // from the host), then part of the config already applied.
    for k in KEYS {
        ns.write(k, "0");
    }
    ns.write("net.ipv4.conf.all.arp_ignore", "1");
    ns.write("net.ipv4.conf.all.rp_filter", "1");
    let out = ns
        .exec(&[BIN, "plan"])
        .arg(golden_config())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "a key the kernel lacks makes the plan impossible"
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let golden = golden_config().with_extension("plan");
    if std::env::var_os("BLESS").is_some() {
        std::fs::write(&golden, &text).unwrap();
    }
    assert_eq!(text, std::fs::read_to_string(&golden).unwrap());
    // Planning wrote nothing.
    assert_eq!(ns.read("net.ipv4.ip_forward"), "0");
}

struct Run {
    child: Child,
    dir: tempfile::TempDir,
}

impl Run {
    fn socket(&self) -> PathBuf {
        self.dir.path().join("c.sock")
    }
    fn ctl(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .args(args)
            .arg("--socket")
            .arg(self.socket())
            .output()
            .unwrap()
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(ns: &Netns, config: &str) -> Run {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pharos.toml"), config).unwrap();
    let child = ns
        .exec(&[BIN, "run", "--config"])
        .arg(dir.path().join("pharos.toml"))
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .arg("--socket")
        .arg(dir.path().join("c.sock"))
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let run = Run { child, dir };
    let deadline = Instant::now() + Duration::from_secs(20);
    while !run.ctl(&["status", "--json"]).status.success() {
        assert!(Instant::now() < deadline, "pharos run did not come up");
        std::thread::sleep(Duration::from_millis(50));
    }
    run
}

#[test]
fn run_applies_sysctls_reapplies_nothing_and_applies_a_reloads_change() {
    let ns = Netns::new();
    for k in KEYS {
        ns.write(k, "0");
    }
    let config = std::fs::read_to_string(golden_config()).unwrap();
    let run = start(&ns, &config);
    assert_eq!(ns.read("net.ipv4.ip_forward"), "1");
    assert_eq!(ns.read("net.ipv4.conf.all.rp_filter"), "2");
    for iface in ["all", "lo"] {
        assert_eq!(ns.read(&format!("net.ipv4.conf.{iface}.arp_ignore")), "1");
        assert_eq!(ns.read(&format!("net.ipv4.conf.{iface}.arp_announce")), "2");
    }
    let status: serde_json::Value =
        serde_json::from_slice(&run.ctl(&["status", "--json"]).stdout).unwrap();
    let sysctls = status["subsystems"]["net"]["sysctls"].as_array().unwrap();
    let missing: Vec<&serde_json::Value> = sysctls.iter().filter(|s| s["state"] != "ok").collect();
    assert_eq!(missing.len(), 1, "{sysctls:#?}");
    assert_eq!(missing[0]["key"], "net.ipv4.no_such_setting");
    assert_eq!(missing[0]["state"], "missing");
    assert_eq!(
        missing[0]["from"],
        "system.sysctl.\"net.ipv4.no_such_setting\""
    );

    // Watch events, then reload the same file: nothing to do.
    let mut events = Command::new(BIN)
        .args(["events", "--socket"])
        .arg(run.socket())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(events.stdout.take().unwrap()).lines();
    std::thread::sleep(Duration::from_millis(200));
    let out = run.ctl(&["reload"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "reloaded: revision 2; nothing changed\n"
    );
    // Change one value: only it is applied.
    std::fs::write(
        run.dir.path().join("pharos.toml"),
        config.replace("rp_filter = 2", "rp_filter = 1"),
    )
    .unwrap();
    let out = run.ctl(&["reload"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "reloaded: revision 3; net +0 ~1 -0\n"
    );
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let line = lines.next().unwrap().unwrap();
        let done = line.contains("set net.ipv4.conf.all.rp_filter = 1 (was 2)");
        seen.push(line);
        if done {
            break;
        }
    }
    assert!(seen.last().unwrap().contains("(was 2)"), "{seen:#?}");
    assert!(
        !seen.iter().any(|l| l.contains("ip_forward")),
        "unchanged sysctls are not touched: {seen:#?}"
    );
    assert_eq!(ns.read("net.ipv4.conf.all.rp_filter"), "1");
    let _ = events.kill();
    let _ = events.wait();
}

//! Network namespaces of the test's own, and `pharos run` inside one.
//! Everything made here is removed on drop, even when a test fails.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_pharos");
static SEQ: AtomicUsize = AtomicUsize::new(0);

/// A network namespace, deleted when dropped (even when the test fails).
pub struct Netns(pub String);

impl Netns {
    pub fn new() -> Netns {
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
    /// A namespace with `lo` up and `eth0` holding `cidr`: one end of a
    /// veth pair whose other end, `eth1`, stays in the namespace, both up
    /// (a link with carrier, for VRRP and addresses nobody else answers).
    pub fn with_eth0(cidr: &str) -> Netns {
        let ns = Netns::new();
        ns.run(&["ip", "link", "set", "lo", "up"]);
        ns.run(&[
            "ip", "link", "add", "eth0", "type", "veth", "peer", "name", "eth1",
        ]);
        ns.run(&["ip", "link", "set", "eth0", "up"]);
        ns.run(&["ip", "link", "set", "eth1", "up"]);
        ns.run(&["ip", "addr", "add", cidr, "dev", "eth0"]);
        ns
    }
    pub fn exec(&self, args: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.0]).args(args);
        c
    }
    /// Runs a command in the namespace; it must succeed.
    pub fn run(&self, args: &[&str]) {
        let st = self.exec(args).status().unwrap();
        assert!(st.success(), "`{}` failed in {}", args.join(" "), self.0);
    }
    pub fn write(&self, key: &str, value: &str) {
        let path = format!("/proc/sys/{}", key.replace('.', "/"));
        let st = self
            .exec(&["sh", "-c", &format!("echo {value} > {path}")])
            .status()
            .unwrap();
        assert!(st.success(), "setting {key}");
    }
    pub fn read(&self, key: &str) -> String {
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

pub struct Run {
    pub child: Child,
    pub dir: tempfile::TempDir,
}

impl Run {
    /// Everything this `pharos run` logged so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("pharos.log")).unwrap_or_default()
    }
    /// `pharos status --json`, or Null when it does not answer.
    pub fn status(&self) -> serde_json::Value {
        let out = self.ctl(&["status", "--json"]);
        serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null)
    }
    /// The state of VRRP instance `name` (`master`, `backup`...), or `?`
    /// when the status does not say.
    pub fn vrrp_state(&self, name: &str) -> String {
        self.status()["subsystems"]["vrrp"]["instances"][name]["state"]
            .as_str()
            .unwrap_or("?")
            .to_string()
    }
    /// Sends a signal (`-KILL`, `-TERM`) and waits for the process to end.
    pub fn signal(&mut self, sig: &str) {
        self.send(sig);
        let _ = self.child.wait();
    }
    /// Sends a signal without waiting for the process to end (a takeover
    /// is timed from the signal, not from the end of the shutdown).
    pub fn send(&self, sig: &str) {
        let _ = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status();
    }
    /// Kills it (SIGKILL: a power cut, as far as pharos can tell) and
    /// hands back its directory, for [`start_in`].
    pub fn kill_keep(mut self) -> tempfile::TempDir {
        self.signal("-KILL");
        std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap())
    }
    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("c.sock")
    }
    pub fn ctl(&self, args: &[&str]) -> Output {
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

pub fn start(ns: &Netns, config: &str) -> Run {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pharos.toml"), config).unwrap();
    start_in(ns, dir)
}

/// `pharos run` on the files already in `dir` (`pharos.toml`, `state/`,
/// `identity/`), e.g. again after a kill, once it reports ready.
pub fn start_in(ns: &Netns, dir: tempfile::TempDir) -> Run {
    start_wrapped(ns, dir, &[])
}

/// `pharos run` of `config` started through `wrapper` (a command that runs
/// the rest of its arguments, such as `prlimit --nofile=N:N`).
pub fn start_through(ns: &Netns, config: &str, wrapper: &[&str]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pharos.toml"), config).unwrap();
    start_wrapped(ns, dir, wrapper)
}

fn start_wrapped(ns: &Netns, dir: tempfile::TempDir, wrapper: &[&str]) -> Run {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.path().join("pharos.log"))
        .unwrap();
    let child = ns
        .exec(&[wrapper, &[BIN, "run", "--config"]].concat())
        .arg(dir.path().join("pharos.toml"))
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .arg("--socket")
        .arg(dir.path().join("c.sock"))
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let run = Run { child, dir };
    let deadline = Instant::now() + Duration::from_secs(20);
    let ready = |out: Output| {
        out.status.success()
            && serde_json::from_slice::<serde_json::Value>(&out.stdout)
                .is_ok_and(|s| s["ready"] == true)
    };
    while !ready(run.ctl(&["status", "--json"])) {
        assert!(
            Instant::now() < deadline,
            "pharos run did not come up; its log:\n{}",
            run.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    run
}

/// busybox httpd serving `dir` on 127.0.0.1:`port` in a namespace (its
/// index.html says which port); stopped when dropped.
pub struct Httpd(Child);

impl Httpd {
    pub fn start(ns: &Netns, port: u16, dir: &std::path::Path) -> Httpd {
        std::fs::write(dir.join("index.html"), format!("hello from {port}\n")).unwrap();
        let c = ns
            .exec(&[
                "busybox",
                "httpd",
                "-f",
                "-p",
                &format!("127.0.0.1:{port}"),
                "-h",
            ])
            .arg(dir)
            .spawn()
            .expect("busybox is installed");
        Httpd(c)
    }
}

impl Drop for Httpd {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

//! keepalived 2.2 from apt, run in a network namespace of the test's own
//! (VRRP only, `-P`), its log kept in a temporary directory; killed with
//! its VRRP child when dropped. The interop tests and the takeover
//! benchmark both use it.

#![allow(dead_code)]

use std::process::{Child, Command};

use super::netns::Netns;

/// keepalived in a namespace, killed when dropped.
pub struct Keepalived {
    child: Option<Child>,
    dir: tempfile::TempDir,
}

impl Keepalived {
    pub fn start(ns: &Netns, conf: &str) -> Keepalived {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("keepalived.conf");
        std::fs::write(&f, conf).unwrap();
        let p = |n: &str| dir.path().join(n).to_string_lossy().to_string();
        let child = Command::new("ip")
            .args([
                "netns",
                "exec",
                &ns.0,
                "keepalived",
                "-n",
                "-l",
                "-D",
                "-P",
                "-f",
            ])
            .arg(&f)
            .args(["-p", &p("k.pid"), "-r", &p("v.pid"), "-c", &p("c.pid")])
            .stdout(std::fs::File::create(dir.path().join("log")).unwrap())
            .stderr(std::fs::File::create(dir.path().join("err")).unwrap())
            .spawn()
            .expect("keepalived is installed (make test installs it)");
        Keepalived {
            child: Some(child),
            dir,
        }
    }
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
    }
    pub fn signal(&mut self, sig: &str) {
        self.send(sig);
        if let Some(mut c) = self.child.take() {
            let _ = c.wait();
        }
    }
    /// Sends a signal without waiting for keepalived to end.
    pub fn send(&self, sig: &str) {
        if let Some(c) = &self.child {
            // keepalived forks a VRRP child; signal the whole group we made.
            let pid = c.id().to_string();
            if sig == "-KILL" {
                // The parent and its VRRP child, so nothing says goodbye.
                let _ = Command::new("pkill").args([sig, "-P", &pid]).status();
            }
            let _ = Command::new("kill").args([sig, &pid]).status();
        }
    }
}

impl Drop for Keepalived {
    fn drop(&mut self) {
        self.signal("-KILL");
    }
}

//! A switched LAN of network namespaces for VRRP tests: one "switch"
//! namespace holding bridge `br0`, and nodes each with an `eth0` plugged
//! into it (10.9.0.N/24, fd00:9::N/64, link-local without DAD delay).
//! Everything is removed on drop, even when a test fails. Also who holds
//! an address (on any live interface: VIPs may sit on a virtual-MAC
//! macvlan), watched over a whole test for two holders at once.

#![allow(dead_code)]

use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::netns::Netns;

pub struct Lan {
    pub switch: Netns,
    pub nodes: Vec<Netns>,
}

impl Lan {
    pub fn new(n: usize) -> Lan {
        let switch = Netns::new();
        switch.run(&["ip", "link", "set", "lo", "up"]);
        switch.run(&[
            "ip",
            "link",
            "add",
            "br0",
            "type",
            "bridge",
            "mcast_snooping",
            "0",
        ]);
        switch.run(&["ip", "link", "set", "br0", "up"]);
        let mut nodes = Vec::new();
        for i in 0..n {
            let ns = Netns::new();
            ns.run(&["ip", "link", "set", "lo", "up"]);
            for k in [
                "net.ipv6.conf.all.accept_dad",
                "net.ipv6.conf.default.accept_dad",
            ] {
                ns.write(k, "0");
            }
            let port = format!("sw{i}");
            switch.run(&[
                "ip", "link", "add", &port, "type", "veth", "peer", "name", "eth0", "netns", &ns.0,
            ]);
            switch.run(&["ip", "link", "set", &port, "master", "br0", "up"]);
            ns.run(&["ip", "link", "set", "eth0", "up"]);
            ns.run(&[
                "ip",
                "addr",
                "add",
                &format!("10.9.0.{}/24", i + 1),
                "dev",
                "eth0",
            ]);
            ns.run(&[
                "ip",
                "addr",
                "add",
                &format!("fd00:9::{}/64", i + 1),
                "dev",
                "eth0",
            ]);
            nodes.push(ns);
        }
        Lan { switch, nodes }
    }

    /// Unplugs node `i` from the switch without it seeing a link change
    /// (its carrier stays up): the way a split brain happens.
    pub fn isolate(&self, i: usize) {
        self.switch
            .run(&["ip", "link", "set", &format!("sw{i}"), "nomaster"]);
    }

    pub fn rejoin(&self, i: usize) {
        self.switch
            .run(&["ip", "link", "set", &format!("sw{i}"), "master", "br0"]);
    }

    /// Whether node `i` holds `ip` (see [`holds`]).
    pub fn holds(&self, i: usize, ip: &str) -> bool {
        holds(&self.nodes[i], ip)
    }

    /// Waits (up to 20 s) until exactly the nodes `want`, of nodes 0 and
    /// 1, hold `ip`; else fails with who holds it and `diag()`.
    pub fn wait_holders(&self, ip: &str, want: &[usize], what: &str, diag: &dyn Fn() -> String) {
        let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            wait_for(what, Duration::from_secs(20), || {
                self.holders(ip, &[0, 1]) == want
            })
        }));
        if ok.is_err() {
            panic!(
                "{what}: holders {:?}\n{}",
                self.holders(ip, &[0, 1]),
                diag()
            );
        }
    }

    /// The nodes (among `among`) that hold `ip`.
    pub fn holders(&self, ip: &str, among: &[usize]) -> Vec<usize> {
        among
            .iter()
            .copied()
            .filter(|&i| self.holds(i, ip))
            .collect()
    }
}

/// Whether `ip` is on an interface of `ns` that is admin up and not in
/// protodown. Any interface, not only eth0: with a virtual MAC the VIP sits
/// on a macvlan (pharos's and keepalived's `vrrp.VRID`, FRR's own). FRR
/// never removes its VIPs: a backup's macvlan keeps them in `protodown on`,
/// which is how FRR gives them up, so an address there is not held; nor is
/// one on an admin-down link (the kernel drops its local route). Carrier
/// loss alone does not count as giving it up: a node in fault must remove
/// the address itself (tests/vrrp_netns.rs checks it).
pub fn holds(ns: &Netns, ip: &str) -> bool {
    let want: IpAddr = ip.parse().unwrap();
    let out = ns.exec(&["ip", "-j", "addr", "show"]).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let Some(links) = v.as_array() else {
        return false;
    };
    links.iter().any(|l| {
        let up = l["flags"]
            .as_array()
            .is_some_and(|f| f.iter().any(|x| x == "UP"));
        let live = up && l["proto_down"].as_bool() != Some(true);
        live && l["addr_info"].as_array().is_some_and(|a| {
            a.iter().any(|x| {
                x["local"]
                    .as_str()
                    .and_then(|s| s.parse::<IpAddr>().ok())
                    .is_some_and(|x| x == want)
            })
        })
    })
}

/// After a VRRP daemon was killed (no goodbye): a dead box no longer
/// answers for `vip`, so it is flushed from every interface. Any macvlan of
/// the daemon's is left as the crash left it: the restarted daemon must
/// cope with it (keepalived reuses its `vrrp.VRID`, and goes to FAULT if
/// it finds it down; pharos's must set its own down as backup).
pub fn bury(ns: &Netns, vip: &str) {
    let _ = ns.exec(&["ip", "addr", "flush", "to", vip]).status();
}

/// Polls `f` every 20 ms until it is true, or panics with `what` after `within`.
pub fn wait_for(what: &str, within: Duration, mut f: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !f() {
        assert!(
            start.elapsed() < within,
            "timed out after {within:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    start.elapsed()
}

/// Samples who holds `ip` among `among` for `during`, every 20 ms, and
/// returns the longest stretch during which more than one node held it.
pub fn longest_overlap(lan: &Lan, ip: &str, among: &[usize], during: Duration) -> Duration {
    let end = Instant::now() + during;
    let mut worst = Duration::ZERO;
    let mut since: Option<Instant> = None;
    while Instant::now() < end {
        let n = lan.holders(ip, among).len();
        match (n > 1, since) {
            (true, None) => since = Some(Instant::now()),
            (true, Some(s)) => worst = worst.max(s.elapsed()),
            (false, _) => since = None,
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    worst
}

/// Watches who holds `ip` among nodes 0 and 1 every 20 ms on its own
/// thread, for the whole of a test, and keeps the longest stretch both held
/// it. `pause` covers the time a killed node still has its VIP (it cannot
/// remove it; a dead box does not answer ARP either).
pub struct Watch {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    paused: std::sync::Arc<std::sync::atomic::AtomicBool>,
    worst: std::sync::Arc<std::sync::Mutex<Duration>>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Watch {
    pub fn start(nodes: [String; 2], ip: &str) -> Watch {
        use std::sync::atomic::Ordering::SeqCst;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let paused = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let worst = std::sync::Arc::new(std::sync::Mutex::new(Duration::ZERO));
        let (s, p, w, ip) = (stop.clone(), paused.clone(), worst.clone(), ip.to_string());
        let handle = std::thread::spawn(move || {
            let ns: Vec<Netns> = nodes.iter().map(|n| Netns(n.clone())).collect();
            let mut since: Option<Instant> = None;
            while !s.load(SeqCst) {
                let both = !p.load(SeqCst) && ns.iter().all(|n| holds(n, &ip));
                match (both, since) {
                    (true, None) => since = Some(Instant::now()),
                    (true, Some(t)) => {
                        let mut g = w.lock().unwrap();
                        *g = (*g).max(t.elapsed());
                    }
                    (false, _) => since = None,
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            // Borrowed names: do not delete the namespaces on drop.
            for n in ns {
                std::mem::forget(n);
            }
        });
        Watch {
            stop,
            paused,
            worst,
            handle: Some(handle),
        }
    }

    pub fn pause(&self, on: bool) {
        self.paused.store(on, std::sync::atomic::Ordering::SeqCst);
    }

    /// Stops watching; the longest time both held the address.
    pub fn finish(mut self) -> Duration {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
        *self.worst.lock().unwrap()
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

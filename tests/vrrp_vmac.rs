//! The VRRP virtual MAC (`virtual_mac = true`, RFC 5798 §7.2/§7.3) between
//! two pharos nodes, seen from a client on the same switch, for VRRPv3 over
//! IPv4 and over IPv6: a capture on the client shows every advert and every
//! gratuitous ARP / unsolicited NA leave from 00:00:5e:00:0{1,2}:VRID, and
//! no ARP reply / NA for the VIP with another MAC; the client's neighbour
//! entry for the VIP is the virtual MAC before a failover and still the same
//! after it, and the VIP answers throughout. The backup's macvlan is down;
//! the parent's arp_ignore is raised while pharos runs and put back when it
//! stops, with its macvlan gone, also by a run started after a crash (the
//! macvlan's alias carries the old values), and a macvlan a crash left that
//! the config no longer wants is removed at start. The same run pins RFC 5798 §6.4.3: the
//! master preempted when the higher priority comes back sends no
//! priority-0 advert (only the one stopped with SIGTERM does).

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::lan::{Lan, wait_for};
use common::netns::{Netns, Run, start};

const LONG: Duration = Duration::from_secs(20);

#[derive(Clone, Copy, PartialEq)]
enum Fam {
    V4,
    V6,
}

impl Fam {
    fn vip(self) -> &'static str {
        match self {
            Fam::V4 => "10.9.0.100",
            Fam::V6 => "fd00:9::100",
        }
    }
    fn vmac(self) -> &'static str {
        match self {
            Fam::V4 => "00:00:5e:00:01:33",
            Fam::V6 => "00:00:5e:00:02:33",
        }
    }
    fn link(self) -> &'static str {
        match self {
            Fam::V4 => "vrrp.51",
            Fam::V6 => "vrrp6.51",
        }
    }
    fn config(self, priority: u8) -> String {
        let prefix = if self == Fam::V4 { 24 } else { 64 };
        format!(
            r#"
[vrrp.VI_1]
interface = "eth0"
vrid = 51
version = 3
priority = {priority}
advert_interval = "500ms"
virtual_addresses = ["{}/{prefix}"]
virtual_mac = true
"#,
            self.vip()
        )
    }
}

fn state(r: &Run) -> String {
    r.vrrp_state("VI_1")
}

/// `ip -j` output of a command in `ns`, parsed.
fn ip_json(ns: &Netns, args: &[&str]) -> serde_json::Value {
    let out = ns.exec(args).output().unwrap();
    serde_json::from_slice(&out.stdout).unwrap_or_default()
}

/// Whether `dev` exists in `ns` and holds `ip`.
fn holds_on(ns: &Netns, dev: &str, ip: &str) -> bool {
    let v = ip_json(ns, &["ip", "-j", "addr", "show", "dev", dev]);
    v[0]["addr_info"]
        .as_array()
        .is_some_and(|a| a.iter().any(|x| x["local"] == ip))
}

/// `Some(admin up)` for `dev` in `ns`, `None` when there is no such link.
fn link_up(ns: &Netns, dev: &str) -> Option<bool> {
    let v = ip_json(ns, &["ip", "-j", "link", "show", "dev", dev]);
    let flags = v[0]["flags"].as_array()?;
    Some(flags.iter().any(|f| f == "UP"))
}

/// The client's neighbour entry (MAC) for `ip`, if it has one.
fn neighbour(ns: &Netns, ip: &str) -> Option<String> {
    let v = ip_json(ns, &["ip", "-j", "neigh", "show", "to", ip, "dev", "eth0"]);
    v[0]["lladdr"].as_str().map(str::to_string)
}

/// One echo request from the client to the VIP answered (busybox ping).
fn answers(ns: &Netns, fam: Fam) -> bool {
    let ping = if fam == Fam::V4 { "ping" } else { "ping6" };
    ns.exec(&["busybox", ping, "-c", "1", "-W", "1", fam.vip()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// tcpdump in the client's namespace: VRRP, ARP and ICMPv6 with the
/// Ethernet header, as text; killed when dropped.
struct Capture {
    child: Option<Child>,
    dir: tempfile::TempDir,
}

impl Capture {
    fn start(ns: &Netns) -> Capture {
        let dir = tempfile::tempdir().unwrap();
        let child = ns
            .exec(&[
                "tcpdump",
                "-l",
                "-n",
                "-e",
                "-i",
                "eth0",
                "ip proto 112 or ip6 proto 112 or arp or icmp6",
            ])
            .stdout(std::fs::File::create(dir.path().join("out")).unwrap())
            .stderr(std::fs::File::create(dir.path().join("err")).unwrap())
            .spawn()
            .expect("tcpdump is installed (make test installs it)");
        let cap = Capture {
            child: Some(child),
            dir,
        };
        wait_for("tcpdump to listen", LONG, || {
            std::fs::read_to_string(cap.dir.path().join("err"))
                .is_ok_and(|e| e.contains("listening on"))
        });
        cap
    }
    /// Stops the capture; its lines.
    fn finish(mut self) -> Vec<String> {
        if let Some(mut c) = self.child.take() {
            // SIGINT: tcpdump flushes what it has.
            let _ = Command::new("kill")
                .args(["-INT", &c.id().to_string()])
                .status();
            let _ = c.wait();
        }
        std::fs::read_to_string(self.dir.path().join("out"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The Ethernet source of a `tcpdump -e` line.
fn src_mac(line: &str) -> &str {
    line.split_whitespace().nth(1).unwrap_or("")
}

fn failover_keeps_the_clients_neighbour_entry(fam: Fam) {
    let lan = Lan::new(3);
    let (a_ns, b_ns, client) = (&lan.nodes[0], &lan.nodes[1], &lan.nodes[2]);
    for ns in [a_ns, b_ns] {
        ns.write("net.ipv4.conf.eth0.arp_ignore", "0");
    }
    let cap = Capture::start(client);
    let mut a = start(a_ns, &fam.config(150));
    let b = start(b_ns, &fam.config(100));
    let diag = |a: &Run, b: &Run| {
        format!(
            "a: {}\nb: {}\na's log:\n{}\nb's log:\n{}",
            a.status()["subsystems"]["vrrp"],
            b.status()["subsystems"]["vrrp"],
            a.log(),
            b.log()
        )
    };
    wait_for("a master with the VIP on its macvlan", LONG, || {
        state(&a) == "master" && holds_on(a_ns, fam.link(), fam.vip())
    });
    wait_for("b backup", LONG, || state(&b) == "backup");
    assert!(!holds_on(a_ns, "eth0", fam.vip()), "the VIP is not on eth0");
    assert_eq!(link_up(a_ns, fam.link()), Some(true), "{}", diag(&a, &b));
    assert_eq!(
        link_up(b_ns, fam.link()),
        Some(false),
        "the backup's macvlan exists, down: {}",
        diag(&a, &b)
    );
    for ns in [a_ns, b_ns] {
        assert_eq!(ns.read("net.ipv4.conf.eth0.arp_ignore"), "1");
    }
    let vi = &a.status()["subsystems"]["vrrp"]["instances"]["VI_1"];
    assert_eq!(
        vi["virtual_mac"],
        format!("{} on {}", fam.vmac(), fam.link()),
        "{vi}"
    );

    wait_for("the client reaches the VIP", LONG, || answers(client, fam));
    let before = neighbour(client, fam.vip());
    assert_eq!(before.as_deref(), Some(fam.vmac()), "{}", diag(&a, &b));

    // Failover: a stops (priority 0); b takes over with the same MAC.
    a.signal("-TERM");
    wait_for("b master", LONG, || {
        state(&b) == "master" && holds_on(b_ns, fam.link(), fam.vip())
    });
    assert_eq!(link_up(a_ns, fam.link()), None, "a removed its macvlan");
    assert_eq!(
        a_ns.read("net.ipv4.conf.eth0.arp_ignore"),
        "0",
        "a put its parent's arp_ignore back"
    );
    wait_for("the client reaches the VIP through b", LONG, || {
        answers(client, fam)
    });
    assert_eq!(
        neighbour(client, fam.vip()),
        before,
        "the client's entry for the VIP did not change"
    );

    // Preemption: a is back with the higher priority; b steps down
    // without a priority-0 advert.
    let a = start(a_ns, &fam.config(150));
    wait_for("a master again, b backup", LONG, || {
        state(&a) == "master" && state(&b) == "backup"
    });
    wait_for("b's macvlan down", LONG, || {
        link_up(b_ns, fam.link()) == Some(false)
    });
    wait_for("the client reaches the VIP through a", LONG, || {
        answers(client, fam)
    });
    assert_eq!(neighbour(client, fam.vip()), before);
    std::thread::sleep(Duration::from_secs(1));
    let lines = cap.finish();
    let all = lines.join("\n");

    let adverts: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("VRRPv3, Advertisement, vrid 51,"))
        .collect();
    assert!(adverts.len() > 4, "{all}");
    for l in &adverts {
        assert_eq!(src_mac(l), fam.vmac(), "an advert from another MAC: {l}");
    }
    // Both routers' adverts were seen (their IP sources differ).
    let sources: std::collections::BTreeSet<&str> = adverts
        .iter()
        .filter_map(|l| l.split(": ").nth(1)?.split_whitespace().next())
        .collect();
    assert_eq!(sources.len(), 2, "{sources:?}\n{all}");
    // Priority 0 only from a's stop: one source sent it, b never did.
    let zero: std::collections::BTreeSet<&str> = adverts
        .iter()
        .filter(|l| l.contains(", prio 0,"))
        .filter_map(|l| l.split(": ").nth(1)?.split_whitespace().next())
        .collect();
    assert_eq!(
        zero.len(),
        1,
        "priority 0 only from the stopped master, not the preempted one: {zero:?}\n{all}"
    );
    let b_src = adverts
        .iter()
        .filter(|l| l.contains(", prio 100,"))
        .filter_map(|l| l.split(": ").nth(1)?.split_whitespace().next())
        .next()
        .expect("b's adverts");
    assert!(!zero.contains(b_src), "b sent priority 0: {all}");

    // Gratuitous ARPs / unsolicited NAs and answers for the VIP: only
    // ever the virtual MAC.
    let vip = fam.vip();
    let for_vip: Vec<&String> = lines
        .iter()
        .filter(|l| match fam {
            Fam::V4 => {
                (l.contains(&format!("who-has {vip} ")) && l.contains(&format!("tell {vip},")))
                    || l.contains(&format!("Reply {vip} is-at"))
            }
            Fam::V6 => l.contains(&format!("neighbor advertisement, tgt is {vip},")),
        })
        .collect();
    assert!(
        for_vip.iter().any(|l| match fam {
            Fam::V4 => l.contains(&format!("tell {vip},")),
            Fam::V6 => l.contains(&format!("{vip} > ff02::1:")),
        }),
        "no gratuitous ARP / unsolicited NA seen:\n{all}"
    );
    for l in &for_vip {
        assert_eq!(src_mac(l), fam.vmac(), "from another MAC: {l}");
        if fam == Fam::V4 && l.contains("is-at") {
            assert!(l.contains(&format!("is-at {}", fam.vmac())), "{l}");
        }
    }

    // A crash: b is killed (its macvlan stays, down, as the crash left it)
    // and started again. The macvlan's alias told the new run what eth0's
    // arp_ignore was before the first run raised it, so a clean stop now
    // still puts back 0, not the 1 it found.
    let alias = ip_json(b_ns, &["ip", "-j", "link", "show", "dev", fam.link()]);
    assert_eq!(
        alias[0]["ifalias"], "pharos virtual MAC; eth0 arp_ignore=0 arp_announce=0",
        "{alias}"
    );
    let mut b = b;
    b.signal("-KILL");
    assert_eq!(link_up(b_ns, fam.link()), Some(false));
    assert_eq!(b_ns.read("net.ipv4.conf.eth0.arp_ignore"), "1");
    let mut b = start(b_ns, &fam.config(100));
    wait_for("b backup again", LONG, || state(&b) == "backup");
    b.signal("-TERM");
    assert_eq!(link_up(b_ns, fam.link()), None, "b removed its macvlan");
    assert_eq!(b_ns.read("net.ipv4.conf.eth0.arp_ignore"), "0");
    assert_eq!(b_ns.read("net.ipv4.conf.eth0.arp_announce"), "0");

    // Another crash, and b comes back with the virtual MAC dropped from
    // its config: the macvlan the crash left goes at start, and eth0's
    // sysctls are put back.
    let mut b = start(b_ns, &fam.config(100));
    wait_for("b backup again", LONG, || state(&b) == "backup");
    b.signal("-KILL");
    assert_eq!(link_up(b_ns, fam.link()), Some(false));
    let plain = fam.config(100).replace("virtual_mac = true\n", "");
    let b = start(b_ns, &plain);
    wait_for("the stale macvlan gone, eth0's sysctls back", LONG, || {
        link_up(b_ns, fam.link()).is_none() && b_ns.read("net.ipv4.conf.eth0.arp_ignore") == "0"
    });
    assert!(
        b.log().contains("left by an earlier run"),
        "the removal is reported: {}",
        b.log()
    );
    drop((a, b));
}

#[test]
fn v3_ipv4_virtual_mac_failover_and_preemption() {
    failover_keeps_the_clients_neighbour_entry(Fam::V4);
}

#[test]
fn v3_ipv6_virtual_mac_failover_and_preemption() {
    failover_keeps_the_clients_neighbour_entry(Fam::V6);
}

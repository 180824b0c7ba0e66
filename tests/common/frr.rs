//! FRRouting 8.4 from apt (Debian's `frr`): zebra and vrrpd run in a
//! network namespace of the test's own, each pair with its config, pid
//! files, vty sockets, zebra socket and logs in a temporary directory of
//! its own; both killed when dropped. Also the macvlan devices vrrpd needs
//! (it does not make them: FRR's docs, "System Configuration"), which the
//! operator owns, so this helper does too.
//!
//! What FRR needs that is not obvious:
//! - vrrpd drives a macvlan per address family on the interface, found by
//!   its MAC (00:00:5e:00:01:VRID for IPv4, 00:00:5e:00:02:VRID for IPv6),
//!   in mode bridge (so advertisements from the peer still reach eth0 while
//!   the macvlan is down), with `addrgenmode random` (IPv6 adverts go out
//!   from its link-local, which must not be derived from the shared MAC),
//!   and the VIPs configured on it for good. vrrpd never adds or removes an
//!   address: as backup it puts the macvlan in `protodown on` (through
//!   zebra), as master `protodown off`. tests/common/lan.rs's `holds`
//!   therefore does not count an address on a protodown link.
//! - This kernel refuses `addrgenmode` in the same `ip link add` as the
//!   macvlan (EAFNOSUPPORT); set afterwards it works.
//! - The daemons check that their user is in the vty group `frrvty`; root
//!   is not, so they run as `frr` (which is) and the directory is theirs.
//! - With Linux's default `arp_ignore` 0 an FRR backup still answers ARP
//!   for its VIPs (see `start`); this helper sets 1, as a deployment must.
//! - The macvlans come up before `protodown on` (IPv6 needs the link-local
//!   that only carrier brings) and get their VIPs after it, so this node
//!   never answers for a VIP before vrrpd has decided; zebra clears the
//!   protodown when vrrpd becomes master (its "reason" bit or not).

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use super::netns::Netns;

const ZEBRA: &str = "/usr/lib/frr/zebra";
const VRRPD: &str = "/usr/lib/frr/vrrpd";

/// The name of the macvlan this helper makes for `vrid` in the address
/// family of `vip`.
pub fn macvlan(vrid: u8, vip: &str) -> String {
    if vip.contains(':') {
        format!("vrrp6-{vrid}")
    } else {
        format!("vrrp4-{vrid}")
    }
}

fn has_link_local(ns: &Netns, link: &str) -> bool {
    let out = ns
        .exec(&[
            "ip", "-j", "-6", "addr", "show", "dev", link, "scope", "link",
        ])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    v[0]["addr_info"].as_array().is_some_and(|a| !a.is_empty())
}

/// zebra and vrrpd in a namespace, killed when dropped.
pub struct Frr {
    ns: String,
    zebra: Option<Child>,
    vrrpd: Option<Child>,
    dir: tempfile::TempDir,
    /// The macvlan carrying the VIPs.
    pub link: String,
}

impl Frr {
    /// Makes the macvlan for `vrid` on eth0 with `vip`/`prefix` on it,
    /// then starts zebra and vrrpd with `conf` (vtysh syntax: `interface
    /// eth0` / ` vrrp 51 ...`).
    pub fn start(ns: &Netns, vrid: u8, vip: &str, prefix: u8, conf: &str) -> Frr {
        let v6 = vip.contains(':');
        let link = macvlan(vrid, vip);
        let mac = format!("00:00:5e:00:{:02x}:{vrid:02x}", if v6 { 2 } else { 1 });
        // A backup's VIP stays on its macvlan (in protodown) and so in the
        // kernel's local table: with the default arp_ignore 0, eth0 still
        // answers ARP for it with its own MAC, a second holder on the wire
        // (checked by hand on this kernel). arp_ignore 1 answers only for
        // addresses on the receiving link: the master's macvlan answers
        // from the virtual MAC, a backup not at all. FRR's docs do not say
        // so; IPv6 needs nothing (ND answers per link already).
        ns.write("net.ipv4.conf.all.arp_ignore", "1");
        // Again after a kill: start from a fresh device, as a reboot would.
        let _ = ns
            .exec(&["ip", "link", "del", &link])
            .stderr(std::process::Stdio::null())
            .status();
        ns.run(&[
            "ip", "link", "add", &link, "link", "eth0", "type", "macvlan", "mode", "bridge",
        ]);
        ns.run(&["ip", "link", "set", &link, "addrgenmode", "random"]);
        ns.run(&["ip", "link", "set", &link, "address", &mac]);
        ns.run(&["ip", "link", "set", &link, "up"]);
        // Up with carrier first, so the link gets its IPv6 link-local, which
        // it keeps in protodown: vrrpd sends its IPv6 adverts from it, and
        // one that becomes master on a link that never had carrier fails
        // them ("Failed to find address to bind") for as long as it takes
        // the address to appear, while it already answers for the VIP.
        // Then protodown before the VIP, so this node never answers for it
        // before vrrpd has decided; zebra clears it when vrrpd becomes master.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !has_link_local(ns, &link) {
            assert!(Instant::now() < deadline, "no link-local on {link}");
            std::thread::sleep(Duration::from_millis(20));
        }
        ns.run(&["ip", "link", "set", &link, "protodown", "on"]);
        ns.run(&[
            "ip",
            "addr",
            "add",
            &format!("{vip}/{prefix}"),
            "dev",
            &link,
        ]);

        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("zebra.conf"), "").unwrap();
        std::fs::write(dir.path().join("vrrpd.conf"), conf).unwrap();
        let st = Command::new("chown")
            .args(["-R", "frr:frr"])
            .arg(dir.path())
            .status()
            .unwrap();
        assert!(st.success(), "chown frr (the frr package makes the user)");
        let mut frr = Frr {
            ns: ns.0.clone(),
            zebra: None,
            vrrpd: None,
            dir,
            link,
        };
        frr.zebra = Some(frr.daemon(ZEBRA, "zebra"));
        // vrrpd gives up when zebra's socket is not there yet.
        let zserv = frr.path("zserv.api");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !zserv.exists() {
            assert!(
                Instant::now() < deadline,
                "zebra did not come up:\n{}",
                frr.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        frr.vrrpd = Some(frr.daemon(VRRPD, "vrrpd"));
        frr
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn daemon(&self, bin: &str, name: &str) -> Child {
        let p = |n: &str| self.path(n).to_string_lossy().to_string();
        Command::new("ip")
            .args(["netns", "exec", &self.ns, bin])
            .args(["-u", "frr", "-g", "frr"])
            .args(["-f", &p(&format!("{name}.conf"))])
            .args(["-i", &p(&format!("{name}.pid"))])
            .args(["-z", &p("zserv.api")])
            .args(["--vty_socket", &p("")])
            .args(["--log", &format!("file:{}", p(&format!("{name}.log")))])
            .args(["--log-level", "debug"])
            .stdout(std::fs::File::create(self.path(&format!("{name}.out"))).unwrap())
            .stderr(std::fs::File::create(self.path(&format!("{name}.err"))).unwrap())
            .spawn()
            .expect("frr is installed (make test installs it)")
    }

    /// vrrpd's and zebra's logs (for failure messages).
    pub fn log(&self) -> String {
        let mut s = String::new();
        for n in ["vrrpd.log", "vrrpd.err", "zebra.log", "zebra.err"] {
            let t = std::fs::read_to_string(self.path(n)).unwrap_or_default();
            if !t.is_empty() {
                s += &format!("--- {n}\n{t}");
            }
        }
        s
    }

    /// vtysh's answer to `cmd` (e.g. `show vrrp json`), from this vrrpd.
    pub fn vtysh(&self, cmd: &str) -> String {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.ns, "vtysh", "--vty_socket"])
            .arg(self.dir.path())
            .args(["-d", "vrrpd", "-c", cmd])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
    }

    /// `show vrrp json` for `vrid`: the object for that virtual router.
    pub fn show(&self, vrid: u8) -> serde_json::Value {
        let v: serde_json::Value =
            serde_json::from_str(&self.vtysh("show vrrp json")).unwrap_or_default();
        v.as_array()
            .and_then(|a| a.iter().find(|r| r["vrid"] == vrid))
            .cloned()
            .unwrap_or_default()
    }

    /// `-TERM`: a clean stop, vrrpd first (it says goodbye with priority 0
    /// and, through zebra, puts its macvlan in protodown), then zebra.
    /// `-KILL`: both at once, nothing said, the macvlan left as it was.
    pub fn signal(&mut self, sig: &str) {
        if sig == "-KILL" {
            for c in [self.vrrpd.as_mut(), self.zebra.as_mut()]
                .into_iter()
                .flatten()
            {
                let _ = c.kill();
            }
        }
        for mut c in [self.vrrpd.take(), self.zebra.take()].into_iter().flatten() {
            let _ = Command::new("kill")
                .args([sig, &c.id().to_string()])
                .status();
            // A daemon that ignores TERM fails the step that needed it, not
            // the whole run: it is killed after 10 s.
            let deadline = Instant::now() + Duration::from_secs(10);
            while matches!(c.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// After a kill: the dead box's macvlan loses its carrier too (what a
    /// power cut does), so it stops counting as holding the VIP.
    pub fn unplug(&self) {
        let _ = Command::new("ip")
            .args(["netns", "exec", &self.ns, "ip", "link", "set", &self.link])
            .args(["protodown", "on"])
            .status();
    }
}

impl Drop for Frr {
    fn drop(&mut self) {
        self.signal("-KILL");
    }
}

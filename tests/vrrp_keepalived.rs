//! Interop with keepalived 2.2 (from apt) on the wire, both ways, for
//! VRRPv2 with PASS authentication, VRRPv3 over IPv4 and VRRPv3 over IPv6:
//! election, failover when the master is killed, preemption when it comes
//! back, handoff when it stops. Throughout, a VIP held by both nodes for
//! longer than one advert interval once the election settled fails the test.
//! VRRPv3 over IPv4 and IPv6 also with virtual MACs on both sides:
//! keepalived's `use_vmac` (its macvlan `vrrp.51`) against pharos's
//! `virtual_mac` (`vrrp.51` / `vrrp6.51`); the VIPs then sit on those
//! macvlans, which tests/common/lan.rs's `holds` looks at too.

mod common;

use std::time::Duration;

use common::keepalived::Keepalived;
use common::lan::{Lan, Watch, bury, longest_overlap, wait_for};
use common::netns::{Run, start};

const LONG: Duration = Duration::from_secs(20);

#[derive(Clone, Copy)]
enum Mode {
    V2Pass,
    V3Ipv4,
    V3Ipv6,
}

impl Mode {
    fn vip(self) -> &'static str {
        match self {
            Mode::V3Ipv6 => "fd00:9::100",
            _ => "10.9.0.100",
        }
    }
    fn prefix(self) -> u8 {
        match self {
            Mode::V3Ipv6 => 64,
            _ => 24,
        }
    }
    fn interval(self) -> Duration {
        match self {
            Mode::V2Pass => Duration::from_secs(1),
            _ => Duration::from_millis(500),
        }
    }

    fn pharos(self, priority: u8, vmac: bool) -> String {
        let (version, auth, interval) = match self {
            Mode::V2Pass => (
                2,
                "authentication = { type = \"pass\", password = \"secret1\" }",
                "1s",
            ),
            _ => (3, "", "500ms"),
        };
        format!(
            r#"
[vrrp.VI_1]
interface = "eth0"
vrid = 51
version = {version}
priority = {priority}
advert_interval = "{interval}"
virtual_addresses = ["{}/{}"]
{auth}
{}
"#,
            self.vip(),
            self.prefix(),
            if vmac { "virtual_mac = true" } else { "" }
        )
    }

    fn keepalived(self, priority: u8, vmac: bool) -> String {
        let (version, auth, interval) = match self {
            Mode::V2Pass => (
                2,
                "authentication {\n    auth_type PASS\n    auth_pass secret1\n  }",
                "1",
            ),
            _ => (3, "", "0.5"),
        };
        format!(
            r#"
global_defs {{
  router_id ka
  vrrp_garp_master_delay 0
}}
vrrp_instance VI_1 {{
  state BACKUP
  interface eth0
  virtual_router_id 51
  version {version}
  priority {priority}
  advert_int {interval}
  {auth}
  {}
  virtual_ipaddress {{
    {}/{}
  }}
}}
"#,
            if vmac { "use_vmac" } else { "" },
            self.vip(),
            self.prefix()
        )
    }
}

fn state(r: &Run) -> String {
    r.vrrp_state("VI_1")
}

/// Node 0 runs pharos, node 1 keepalived; `pharos_high` says which has
/// the higher priority (and so is master first); `vmac`, whether both run
/// a virtual MAC (pharos's `virtual_mac`, keepalived's `use_vmac`).
fn pair(mode: Mode, pharos_high: bool, vmac: bool) {
    let lan = Lan::new(2);
    let (pp, kp) = if pharos_high { (150, 100) } else { (100, 150) };
    let mut ph = start(&lan.nodes[0], &mode.pharos(pp, vmac));
    let mut ka = Keepalived::start(&lan.nodes[1], &mode.keepalived(kp, vmac));
    let (hi, lo) = if pharos_high { (0, 1) } else { (1, 0) };
    let diag = |ph: &Run, ka: &Keepalived| {
        format!(
            "pharos status: {}\npharos log:\n{}\nkeepalived log:\n{}",
            ph.status()["subsystems"]["vrrp"],
            ph.log(),
            ka.log()
        )
    };
    lan.wait_holders(mode.vip(), &[hi], "election", &|| diag(&ph, &ka));
    // From here on, the VIP on both nodes for more than one interval fails
    // the test, whatever the phase.
    let watch = Watch::start([lan.nodes[0].0.clone(), lan.nodes[1].0.clone()], mode.vip());
    let overlap = longest_overlap(&lan, mode.vip(), &[0, 1], mode.interval() * 4);
    assert!(
        overlap <= mode.interval(),
        "VIP on both nodes for {overlap:?}"
    );
    if pharos_high {
        assert_eq!(state(&ph), "master");
    } else {
        assert_eq!(state(&ph), "backup", "{}", diag(&ph, &ka));
        // keepalived's adverts were heard and none was dropped.
        let adverts = &ph.status()["subsystems"]["vrrp"]["instances"]["VI_1"]["adverts"];
        assert!(adverts["received"].as_u64().unwrap_or(0) >= 2, "{adverts}");
        assert_eq!(adverts["dropped"], serde_json::json!({}), "{adverts}");
    }

    // Failover: the master is killed without a goodbye.
    if pharos_high {
        watch.pause(true);
        ph.signal("-KILL");
        // The killed pharos cannot remove its VIP; only keepalived counts.
        wait_for("keepalived takes over", LONG, || lan.holds(1, mode.vip()));
        bury(&lan.nodes[0], mode.vip());
        watch.pause(false);
        ph = start(&lan.nodes[0], &mode.pharos(pp, vmac));
    } else {
        watch.pause(true);
        ka.signal("-KILL");
        wait_for("pharos takes over", LONG, || state(&ph) == "master");
        assert!(lan.holds(0, mode.vip()));
        bury(&lan.nodes[1], mode.vip());
        watch.pause(false);
        ka = Keepalived::start(&lan.nodes[1], &mode.keepalived(kp, vmac));
    }
    // Preemption: the higher-priority node is back and takes the VIP.
    lan.wait_holders(mode.vip(), &[hi], "preemption", &|| diag(&ph, &ka));
    let overlap = longest_overlap(&lan, mode.vip(), &[0, 1], mode.interval() * 4);
    assert!(
        overlap <= mode.interval(),
        "VIP on both nodes for {overlap:?}"
    );

    // Handoff: the master stops cleanly (priority 0); the other takes over.
    if pharos_high {
        ph.signal("-TERM");
    } else {
        ka.signal("-TERM");
    }
    lan.wait_holders(mode.vip(), &[lo], "handoff", &|| diag(&ph, &ka));
    std::thread::sleep(mode.interval() * 2);
    let worst = watch.finish();
    assert!(
        worst <= mode.interval(),
        "the VIP was on both nodes for {worst:?} at some point after the first election"
    );
}

#[test]
fn v2_pass_pharos_master_keepalived_backup() {
    pair(Mode::V2Pass, true, false);
}

#[test]
fn v2_pass_keepalived_master_pharos_backup() {
    pair(Mode::V2Pass, false, false);
}

#[test]
fn v3_ipv4_pharos_master_keepalived_backup() {
    pair(Mode::V3Ipv4, true, false);
}

#[test]
fn v3_ipv4_keepalived_master_pharos_backup() {
    pair(Mode::V3Ipv4, false, false);
}

#[test]
fn v3_ipv6_pharos_master_keepalived_backup() {
    pair(Mode::V3Ipv6, true, false);
}

#[test]
fn v3_ipv6_keepalived_master_pharos_backup() {
    pair(Mode::V3Ipv6, false, false);
}

#[test]
fn v3_ipv4_vmac_pharos_master_keepalived_backup() {
    pair(Mode::V3Ipv4, true, true);
}

#[test]
fn v3_ipv4_vmac_keepalived_master_pharos_backup() {
    pair(Mode::V3Ipv4, false, true);
}

#[test]
fn v3_ipv6_vmac_pharos_master_keepalived_backup() {
    pair(Mode::V3Ipv6, true, true);
}

#[test]
fn v3_ipv6_vmac_keepalived_master_pharos_backup() {
    pair(Mode::V3Ipv6, false, true);
}

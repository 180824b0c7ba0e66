//! VRRP between pharos nodes on a switched LAN of network namespaces:
//! election, failover on SIGKILL and on link loss, graceful handoff on
//! SIGTERM, preemption and no-preemption, three nodes, unicast peers,
//! IPv6 (VRRPv3), and a split brain healed when the link comes back.

mod common;

use std::time::Duration;

use common::lan::{Lan, longest_overlap, wait_for};
use common::netns::{Run, start};

const VIP: &str = "10.9.0.100";
const VIP6: &str = "fd00:9::100";
const LONG: Duration = Duration::from_secs(15);

fn config(priority: u8, extra: &str) -> String {
    format!(
        r#"
[vrrp.VI_1]
interface = "eth0"
vrid = 51
version = 3
priority = {priority}
advert_interval = "200ms"
virtual_addresses = ["{VIP}/24"]
garp = {{ delay = "0s" }}
{extra}
"#
    )
}

fn state(r: &Run) -> String {
    r.vrrp_state("VI_1")
}

fn wait_state(r: &Run, want: &str, within: Duration) {
    let mut last = String::new();
    let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        wait_for(&format!("state {want}"), within, || {
            last = state(r);
            last == want
        })
    }));
    if ok.is_err() {
        panic!("expected {want}, still {last}; its log:\n{}", r.log());
    }
}

#[test]
fn election_failover_on_kill_handoff_on_term_and_preemption() {
    let lan = Lan::new(2);
    let mut a = start(&lan.nodes[0], &config(150, ""));
    let b = start(&lan.nodes[1], &config(100, ""));
    wait_state(&a, "master", LONG);
    wait_state(&b, "backup", LONG);
    wait_for("VIP on a only", LONG, || {
        lan.holders(VIP, &[0, 1]) == vec![0]
    });
    assert_eq!(
        b.status()["subsystems"]["vrrp"]["instances"]["VI_1"]["master"],
        "10.9.0.1",
        "the backup knows who is master"
    );
    // A stable pair never holds the VIP twice.
    assert_eq!(
        longest_overlap(&lan, VIP, &[0, 1], Duration::from_secs(1)),
        Duration::ZERO
    );

    // SIGKILL: no goodbye; b waits Master_Down_Interval (3 × 200 ms + skew).
    a.signal("-KILL");
    wait_state(&b, "master", Duration::from_secs(5));
    assert!(lan.holds(1, VIP));

    // a comes back with a higher priority and preempts; the VIP it still
    // had from before the crash is released first, then taken back.
    let mut a = start(&lan.nodes[0], &config(150, ""));
    wait_state(&a, "master", LONG);
    wait_state(&b, "backup", LONG);
    wait_for("VIP moved back to a", LONG, || {
        lan.holders(VIP, &[0, 1]) == vec![0]
    });

    // SIGTERM: a sends priority 0 and removes the VIP; b takes over after
    // its skew time only.
    a.signal("-TERM");
    wait_state(&b, "master", Duration::from_secs(2));
    assert!(!lan.holds(0, VIP), "a released the VIP on the way out");
    assert!(lan.holds(1, VIP));
}

#[test]
fn no_preempt_keeps_the_running_master() {
    let lan = Lan::new(2);
    let b = start(&lan.nodes[1], &config(100, ""));
    wait_state(&b, "master", LONG);
    let a = start(&lan.nodes[0], &config(150, "preempt = false"));
    wait_state(&a, "backup", LONG);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(state(&a), "backup", "no preemption");
    assert_eq!(state(&b), "master");
    assert_eq!(lan.holders(VIP, &[0, 1]), vec![1]);
}

#[test]
fn master_link_down_is_a_fault_and_the_backup_takes_over() {
    let lan = Lan::new(2);
    let a = start(&lan.nodes[0], &config(150, ""));
    let b = start(&lan.nodes[1], &config(100, ""));
    wait_state(&a, "master", LONG);
    wait_state(&b, "backup", LONG);
    // The switch port goes down: a loses carrier.
    lan.switch.run(&["ip", "link", "set", "sw0", "down"]);
    wait_state(&a, "fault", LONG);
    wait_state(&b, "master", LONG);
    assert!(!lan.holds(0, VIP), "a faulty node gives up the VIP");
    lan.switch.run(&["ip", "link", "set", "sw0", "up"]);
    wait_state(&a, "master", LONG);
    wait_state(&b, "backup", LONG);
    wait_for("VIP on a only", LONG, || {
        lan.holders(VIP, &[0, 1]) == vec![0]
    });
}

#[test]
fn three_nodes_elect_by_priority_and_fail_over_to_the_next() {
    let lan = Lan::new(3);
    let mut a = start(&lan.nodes[0], &config(150, ""));
    let b = start(&lan.nodes[1], &config(100, ""));
    let c = start(&lan.nodes[2], &config(50, ""));
    wait_state(&a, "master", LONG);
    wait_state(&b, "backup", LONG);
    wait_state(&c, "backup", LONG);
    a.signal("-KILL");
    wait_state(&b, "master", Duration::from_secs(5));
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(state(&c), "backup", "the next priority wins, not the last");
    assert_eq!(lan.holders(VIP, &[1, 2]), vec![1]);
}

#[test]
fn unicast_peers_and_unknown_sources_dropped() {
    let lan = Lan::new(3);
    let peers = |me: u8, other: u8| {
        format!("unicast_source = \"10.9.0.{me}\"\nunicast_peers = [\"10.9.0.{other}\"]")
    };
    let mut a = start(&lan.nodes[0], &config(150, &peers(1, 2)));
    let b = start(&lan.nodes[1], &config(100, &peers(2, 1)));
    wait_state(&a, "master", LONG);
    wait_state(&b, "backup", LONG);
    // A third router multicasting the same VRID is not a peer: ignored.
    let c = start(&lan.nodes[2], &config(200, ""));
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(state(&b), "backup");
    drop(c);
    a.signal("-KILL");
    wait_state(&b, "master", Duration::from_secs(5));
    assert!(lan.holds(1, VIP));
}

#[test]
fn ipv6_vrrpv3_election_and_failover() {
    let lan = Lan::new(2);
    let cfg = |p: u8| {
        format!(
            r#"
[vrrp.VI_1]
interface = "eth0"
vrid = 61
version = 3
priority = {p}
advert_interval = "200ms"
virtual_addresses = ["{VIP6}/64"]
"#
        )
    };
    let mut a = start(&lan.nodes[0], &cfg(150));
    let b = start(&lan.nodes[1], &cfg(100));
    wait_state(&a, "master", LONG);
    wait_state(&b, "backup", LONG);
    wait_for("VIP6 on a only", LONG, || {
        lan.holders(VIP6, &[0, 1]) == vec![0]
    });
    a.signal("-TERM");
    wait_state(&b, "master", Duration::from_secs(3));
    assert!(lan.holds(1, VIP6));
    assert!(!lan.holds(0, VIP6));
}

#[test]
fn split_brain_heals_to_one_master_when_the_link_is_back() {
    let lan = Lan::new(2);
    let a = start(&lan.nodes[0], &config(150, ""));
    let b = start(&lan.nodes[1], &config(100, ""));
    wait_state(&a, "master", LONG);
    wait_state(&b, "backup", LONG);
    // Cut a off the switch without its link going down: both are master.
    lan.isolate(0);
    wait_state(&b, "master", LONG);
    assert_eq!(state(&a), "master");
    assert_eq!(lan.holders(VIP, &[0, 1]), vec![0, 1]);
    lan.rejoin(0);
    wait_state(&b, "backup", LONG);
    assert_eq!(state(&a), "master");
    wait_for("VIP on exactly one node", LONG, || {
        lan.holders(VIP, &[0, 1]) == vec![0]
    });
}

#[test]
fn a_reload_leaves_unchanged_instances_alone_and_starts_new_ones() {
    let lan = Lan::new(2);
    let a = start(&lan.nodes[0], &config(150, ""));
    let b = start(&lan.nodes[1], &config(100, ""));
    wait_state(&a, "master", LONG);
    wait_state(&b, "backup", LONG);
    let inst = |r: &Run, n: &str| r.status()["subsystems"]["vrrp"]["instances"][n].clone();
    let before = inst(&a, "VI_1");
    // A second instance, and a hook added to the first (changed in place).
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("hook-ran");
    let cfg = config(
        150,
        &format!(
            "notify.master = [\"/bin/touch\", \"{}\"]\n\n[vrrp.VI_2]\ninterface = \"eth0\"\nvrid = 52\nversion = 3\nadvert_interval = \"200ms\"\nvirtual_addresses = [\"10.9.0.101/24\"]\n",
            marker.display()
        ),
    );
    std::fs::write(a.dir.path().join("pharos.toml"), cfg).unwrap();
    let out = a.ctl(&["reload"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_for("VI_2 master", LONG, || {
        inst(&a, "VI_2")["state"] == "master"
    });
    assert!(lan.holds(0, "10.9.0.101"));
    let after = inst(&a, "VI_1");
    assert_eq!(after["state"], "master");
    assert_eq!(
        after["transitions"], before["transitions"],
        "VI_1 was not disturbed"
    );
    assert_eq!(after["since"], before["since"]);
    assert_eq!(state(&b), "backup");
    assert!(!marker.exists(), "no transition, so no hook");
    // The hook does run on the next transition into master.
    std::fs::write(
        a.dir.path().join("pharos.toml"),
        config(
            90,
            &format!("notify.master = [\"/bin/touch\", \"{}\"]", marker.display()),
        ),
    )
    .unwrap();
    assert!(a.ctl(&["reload"]).status.success());
    wait_state(&b, "master", LONG);
    wait_state(&a, "backup", LONG);
    std::fs::write(
        a.dir.path().join("pharos.toml"),
        config(
            150,
            &format!("notify.master = [\"/bin/touch\", \"{}\"]", marker.display()),
        ),
    )
    .unwrap();
    assert!(a.ctl(&["reload"]).status.success());
    wait_state(&a, "master", LONG);
    wait_for("master hook ran", LONG, || marker.exists());
    assert!(
        !lan.holds(0, "10.9.0.101"),
        "VI_2, dropped from the config, let go of its VIP"
    );
}

#[test]
fn an_instance_waits_for_its_address_at_start_instead_of_going_to_fault() {
    // At boot the network plane adds eth0's address a moment after VRRP
    // starts: that must not show as a fault.
    let lan = Lan::new(2);
    lan.nodes[0].run(&["ip", "addr", "flush", "dev", "eth0"]);
    let a = start(&lan.nodes[0], &config(150, ""));
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(state(&a), "init", "waiting, not in fault: {}", a.log());
    lan.nodes[0].run(&["ip", "addr", "add", "10.9.0.1/24", "dev", "eth0"]);
    wait_state(&a, "master", LONG);
    let log = a.log();
    assert!(!log.contains("fault"), "no fault on the way: {log}");
    assert!(log.contains("init → backup"), "{log}");

    // An address that never comes: Fault with the reason, once the wait is over.
    lan.nodes[1].run(&["ip", "addr", "flush", "dev", "eth0"]);
    let b = start(&lan.nodes[1], &config(100, ""));
    wait_state(&b, "fault", Duration::from_secs(20));
    let log = b.log();
    assert!(
        log.contains("init → fault: fault: eth0 has no IPv4 address to send adverts from"),
        "{log}"
    );
}

//! IPVS in a VM (the host kernel has none): pharos as the director programs
//! NAT, DR and TUN services that a client's requests actually cross to the
//! real servers (which run pharos in the DR and TUN real-server roles);
//! persistence keeps a client on one server; every scheduler is set;
//! `pharos ipvs list` / `save` equal `ipvsadm -Ln` / `-Sn` byte for byte;
//! `ipvsadm -C` is undone; a change the kernel refuses among others sent
//! with it is the one reported, and the others are in the table; `pharos
//! plan` shows a changed file's IPVS additions, edits and removals against
//! the live table; a reload under load fails no request; a restart adds
//! and removes nothing; `/metrics` with the kernel's IPVS figures is
//! clean to `promtool check metrics` and labels them as node_exporter
//! does. The script is tests/vm/ipvs.sh.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::vm::{Disk, Vm, value};

#[test]
fn pharos_programs_ipvs_and_requests_reach_the_real_servers() {
    let disk = Disk::copy("debug");
    disk.put("pharos.toml", include_str!("vm/ipvs-director.toml"));
    disk.put("test.sh", include_str!("vm/ipvs.sh"));
    let append = "console=ttyS0 panic=-1 pharos.test=/config/test.sh";
    let mut vm = Vm::boot(&disk, Some(("debug", append)));
    vm.wait_for("test script finished", Duration::from_secs(600));
    let c = vm.console();
    assert!(!c.contains("TIMEOUT:"), "{c}");
    assert_eq!(
        value(&c, "RS1 SYSCTLS:"),
        "1 2 0",
        "arp_ignore, arp_announce, tunl0 rp_filter"
    );
    for mode in ["nat", "dr", "tun", "v6"] {
        let got: BTreeSet<&str> = value(&c, &format!("MODE {mode}:")).split(' ').collect();
        if mode == "v6" {
            // sh hashes the source: one client, one server.
            assert_eq!(got, BTreeSet::from(["rs1"]), "{mode}: {c}");
        } else {
            assert_eq!(got, BTreeSet::from(["rs1", "rs2"]), "{mode}: {c}");
        }
    }
    // Health checks drive the kernel's weights; the client is answered throughout.
    let health: Vec<&str> = c.lines().filter(|l| l.starts_with("HEALTH")).collect();
    let health = health.join("\n");
    assert_eq!(
        value(&c, "HEALTH DOWN WEIGHT:"),
        "0",
        "stopped real server quiesced\n{health}"
    );
    assert_eq!(
        value(&c, "HEALTH UP WEIGHT:"),
        "1",
        "restarted real server back in"
    );
    let answers = value(&c, "HEALTH ANSWERS:");
    assert!(
        !answers.contains("FAIL"),
        "a request failed while rs1 was down: {answers}"
    );
    assert!(
        answers.split(' ').all(|a| a == "rs1" || a == "rs2"),
        "{answers}"
    );
    let after: BTreeSet<&str> = value(&c, "HEALTH AFTER:").split(' ').collect();
    assert_eq!(after, BTreeSet::from(["rs1", "rs2"]), "rs1 serves again");
    let sticky: BTreeSet<&str> = value(&c, "MODE sticky:").split(' ').collect();
    assert_eq!(
        sticky.len(),
        1,
        "persistence keeps the client on one server: {c}"
    );
    assert!(!sticky.contains("FAIL"), "{c}");
    assert_eq!(
        value(&c, "SYNC:"),
        "backup sync daemon (mcast=dc0, syncid=5, maxlen=1472, group=224.0.0.81, port=8848, ttl=1);master sync daemon (mcast=dc0, syncid=5, maxlen=1472, group=224.0.0.81, port=8848, ttl=1);",
        "backup always, and master while the followed VRRP instance is master"
    );
    assert_eq!(value(&c, "VRRP:"), r#""VI_1":{"state":"master""#);
    assert_eq!(
        value(&c, "VIP:"),
        "1",
        "the VRRP master holds its VIP on br1"
    );
    let scheds: BTreeSet<&str> = value(&c, "SCHEDULERS:").split(' ').collect();
    for s in [
        "rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh",
    ] {
        assert!(scheds.contains(s), "scheduler {s} missing: {scheds:?}");
    }
    for what in ["list", "stats", "rate", "save"] {
        assert!(c.contains(&format!("SAME {what}")), "{what}: {c}");
    }
    assert_eq!(
        value(&c, "LEFT ALONE:"),
        "4",
        "ipvsadm-made IPv4, IPv6 and fwmark services: {c}"
    );
    assert_eq!(value(&c, "RESTORED:"), "yes");
    assert_eq!(value(&c, "RS RESTORED:"), "yes");
    // The plan of a changed file against the live table.
    let plan: Vec<&str> = c.lines().filter_map(|l| l.strip_prefix("PLAN: ")).collect();
    for want in [
        "  + real server 10.101.0.2:80 in TCP 10.100.0.1:82, weight 1",
        "  ~ real server 10.101.0.3:80 in TCP 10.100.0.1:80: weight 5",
        "  - real server 10.101.0.3:80 from TCP 10.101.0.20:80",
    ] {
        assert!(
            plan.contains(&want),
            "`{want}` not in the plan:\n{}",
            plan.join("\n")
        );
    }
    assert!(
        plan.iter()
            .any(|l| l.starts_with("  + service TCP 10.100.0.1:82 (")
                && l.ends_with("(from `services.extra`)")),
        "{}",
        plan.join("\n")
    );
    assert_eq!(value(&c, "PLAN WROTE:"), "nothing");
    assert_eq!(value(&c, "RELOAD FAILURES:"), "0", "{c}");
    assert!(
        value(&c, "RELOAD:").starts_with("reloaded: revision 2"),
        "{c}"
    );
    assert_eq!(value(&c, "STICKY NOW:"), "persistent 600");
    // One weight changed by a reload: exactly one netlink edit, of that
    // real server, and nothing else while the task went on reconciling.
    assert!(
        value(&c, "WEIGHT RELOAD:")
            .starts_with("reloaded: revision 3; check +0 ~1 -0, ipvs +0 ~1 -0"),
        "{c}"
    );
    assert_eq!(value(&c, "WEIGHT IPVS EVENTS:"), "1", "{c}");
    let edit = value(&c, "WEIGHT EVENT:");
    assert!(
        edit.contains("set real server 10.101.0.3:80 of TCP 10.100.0.1:80 to weight 5"),
        "{edit}"
    );
    assert_eq!(value(&c, "D2 FIRST:"), "2 SECOND: 0", "{c}");
    // Changes sent together, one refused among them: that one is told,
    // the others are in the table.
    let refused = value(&c, "REFUSED:");
    assert!(
        refused.starts_with("adding real server 10.210.0.255:80 to TCP 10.200.0.1:80")
            && refused.ends_with("was refused by the kernel: Invalid argument"),
        "{c}"
    );
    assert_eq!(
        value(&c, "REFUSED PASS:"),
        "applied 5 IPVS changes (1 refused)",
        "{c}"
    );
    let table: BTreeSet<&str> = value(&c, "REFUSED TABLE:")
        .split(' ')
        .filter(|w| *w != "TCP")
        .collect();
    assert_eq!(
        table,
        BTreeSet::from([
            "10.200.0.1:80",
            "10.200.0.5:80",
            "10.200.0.2:80",
            "10.200.0.3:80",
            "10.200.0.4:80"
        ]),
        "{c}"
    );
    vm.powerdown();
    let metrics = disk
        .get("metrics.txt")
        .expect("the script saved /metrics on the config partition");
    ipvs_metrics_are_the_kernels(&metrics);
}

/// The director's `/metrics` after the script's traffic: clean to
/// promtool, the nat service's connections counted per real server, the
/// kernel's totals read, weights and a firewall mark labelled as
/// node_exporter labels them.
fn ipvs_metrics_are_the_kernels(metrics: &str) {
    common::promtool_check_metrics(metrics);
    let samples = |prefix: &str| -> Vec<f64> {
        metrics
            .lines()
            .filter_map(|l| l.strip_prefix(prefix))
            .map(|rest| rest.rsplit(' ').next().unwrap().parse().unwrap())
            .collect()
    };
    let nat = samples(r#"pharos_ipvs_backend_connections_total{service="nat","#);
    assert_eq!(nat.len(), 2, "nat's two real servers:\n{metrics}");
    let nat: f64 = nat.iter().sum();
    assert!(nat >= 6.0, "MODE nat sent 6 requests: {nat}\n{metrics}");
    let total = samples("pharos_ipvs_connections_total ");
    assert!(
        total.len() == 1 && total[0] >= nat,
        "/proc/net/ip_vs_stats's total: {total:?}\n{metrics}"
    );
    for want in [
        r#"pharos_ipvs_backend_weight{service="nat",server="10.101.0.3:80",local_address="10.100.0.1",local_port="80",local_mark="",proto="TCP",remote_address="10.101.0.3",remote_port="80"} 5"#,
        r#"pharos_ipvs_backend_weight{service="mark",server="10.101.0.2",local_address="",local_port="0",local_mark="00000007",proto="FWM",remote_address="10.101.0.2",remote_port="0"} 3"#,
    ] {
        assert!(metrics.contains(want), "{want}\n{metrics}");
    }
}

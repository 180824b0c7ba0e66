//! Active-active directors behind ECMP, in a VM (the host kernel has no
//! IPVS): an upstream router running BIRD 2 with BFD and multipath, three
//! directors each running `pharos run` with `[bgp]` (and so its own BIRD),
//! two DR real servers and a client, as network namespaces of one VM. The
//! router holds the VIP with three next hops and spreads the client's flows
//! over the directors; a director killed is out of the route within the
//! BFD time, the same clients reach the same real servers through the
//! others (mh, the same real-server order everywhere), a connection it
//! carried goes on through another (sloppy_tcp) and one through another
//! director is untouched; a service unhealthy
//! on one director withdraws only its VIP there; a planned stop withdraws
//! before anything else and fails no request. The script is tests/vm/bgp.sh.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::vm::{Disk, Vm, value};

/// `3 via 11 12 13` as (3, {11, 12, 13}).
fn route(line: &str) -> (usize, BTreeSet<String>) {
    let (n, via) = line.split_once(" via").unwrap_or((line, ""));
    (
        n.trim().parse().unwrap_or(usize::MAX),
        via.split_whitespace().map(str::to_string).collect(),
    )
}

fn set(v: &[&str]) -> BTreeSet<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn directors_announce_their_healthy_vips_and_the_router_spreads_flows_over_them() {
    let disk = Disk::copy("debug");
    disk.put("pharos.toml", "[logging]\nlevel = \"info\"\n");
    disk.put("test.sh", include_str!("vm/bgp.sh"));
    let append = "console=ttyS0 panic=-1 pharos.test=/config/test.sh";
    let vm = Vm::boot(&disk, Some(("debug", append)));
    vm.wait_for("test script finished", Duration::from_secs(900));
    let c = vm.console();
    assert!(!c.contains("TIMEOUT:"), "{c}");

    // Three next hops for the VIP; pharos status shows the session and
    // the prefixes it announces.
    assert_eq!(
        route(value(&c, "ECMP WEB:")),
        (3, set(&["11", "12", "13"])),
        "{c}"
    );
    assert!(value(&c, "STATUS D1:").contains("Established"), "{c}");
    let prefixes = value(&c, "STATUS D1 PREFIXES:");
    assert!(prefixes.contains("10.50.0.1/32 yes"), "{prefixes}");
    assert!(prefixes.contains("10.50.0.2/32 yes"), "{prefixes}");

    // The flows spread over the directors; each is answered.
    let before: Vec<&str> = value(&c, "ANSWERS BEFORE:").split(' ').collect();
    assert_eq!(before.len(), 30, "{c}");
    assert!(
        before.iter().all(|a| *a == "rs1" || *a == "rs2"),
        "{before:?}"
    );
    let used = value(&c, "SPREAD:")
        .split(' ')
        .filter(|d| !d.ends_with("=0"))
        .count();
    assert!(used >= 2, "the router used one director only: {c}");

    // A director killed: gone from the route within the BFD time (BGP's
    // own hold time is 240 s), and every flow reaches the real server it
    // reached before.
    let kill = value(&c, "KILL WITHDRAWN:");
    let secs: f64 = kill.split(' ').next().unwrap().parse().unwrap();
    assert!(secs <= 3.0, "withdrawn after {kill}");
    assert!(kill.ends_with("via 11 12"), "{kill}");
    let after: Vec<&str> = value(&c, "ANSWERS AFTER:").split(' ').collect();
    assert_eq!(after, before, "mh: the same client, the same real server");
    // The connection that was on the killed director goes on through
    // another (sloppy_tcp: IPVS takes it mid-stream; mh: the same real
    // server, which still has its socket).
    assert!(value(&c, "ECHO ON D3:").starts_with('1'), "{c}");
    // One through another director is untouched.
    assert!(!value(&c, "ECHO2 NOT ON D3:").starts_with("0 0"), "{c}");
    for key in ["ECHO AFTER KILL:", "ECHO2 AFTER KILL:"] {
        let echo = value(&c, key);
        let lines: Vec<u32> = echo
            .split(' ')
            .filter_map(|w| w.parse().ok())
            .take(2)
            .collect();
        assert!(
            lines.len() == 2 && lines[1] >= lines[0] + 10,
            "{key} the echo session stopped: {echo}"
        );
    }

    // web unhealthy on d2 only: d2 withdraws web's VIP, keeps api's.
    assert_eq!(route(value(&c, "UNHEALTHY WEB:")), (1, set(&["11"])), "{c}");
    assert_eq!(
        route(value(&c, "UNHEALTHY API:")),
        (2, set(&["11", "12"])),
        "{c}"
    );
    assert_ne!(value(&c, "UNHEALTHY D2 EVENT:"), "0", "{c}");

    // A planned stop: withdrawn first, then the rest; no request failed.
    let drain = value(&c, "DRAIN:");
    assert!(!drain.contains("FAIL"), "{drain}");
    assert_eq!(route(value(&c, "DRAIN ROUTE:")), (1, set(&["11"])), "{c}");
    let order: Vec<u32> = value(&c, "DRAIN D2 ORDER:")
        .split(' ')
        .map(|n| n.parse().unwrap())
        .collect();
    assert!(
        order.len() == 2 && order[0] < order[1],
        "the VIP withdrawn before IPVS stopped: {order:?}\n{c}"
    );
}

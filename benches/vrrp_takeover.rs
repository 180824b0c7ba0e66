//! VRRP takeover times, pharos beside keepalived 2.2 on the same topology
//! (two network namespaces on a bridge, as in tests/vrrp_netns.rs): how
//! long after the master is killed (SIGKILL) or stopped (SIGTERM, priority
//! 0) the backup holds the VIP, at 1 s and 100 ms advert intervals
//! (VRRPv3, priorities 150 / 100). A benchmark, not a test: `cargo bench
//! --bench vrrp_takeover` prints the numbers (`PHAROS_BENCH_RUNS`, default
//! 5 per cell); they are recorded in benches/RESULTS.md.
//!
//! RFC 5798 §6.1 expectations for the backup (priority 100): kill =
//! 3 × interval + skew (skew = 156/256 × interval), stop = skew only.
//! The VIP is watched with a 2 ms poll of the backup's addresses.

#[path = "../tests/common/mod.rs"]
#[allow(dead_code)]
mod common;

use std::time::{Duration, Instant};

use common::keepalived::Keepalived;
use common::lan::{Lan, wait_for};
use common::netns::{Netns, start};

const VIP: &str = "10.9.0.100";

enum Node {
    Pharos(common::netns::Run),
    Keepalived(Keepalived),
}

impl Node {
    fn start(kind: &str, ns: &Netns, priority: u8, interval: Duration) -> Node {
        let ms = interval.as_millis();
        if kind == "pharos" {
            let cfg = format!(
                "[vrrp.VI_1]\ninterface = \"eth0\"\nvrid = 51\nversion = 3\npriority = {priority}\nadvert_interval = \"{ms}ms\"\nvirtual_addresses = [\"{VIP}/24\"]\n"
            );
            Node::Pharos(start(ns, &cfg))
        } else {
            let conf = format!(
                "global_defs {{\n router_id ka\n vrrp_garp_master_delay 0\n}}\nvrrp_instance VI_1 {{\n state BACKUP\n interface eth0\n virtual_router_id 51\n version 3\n priority {priority}\n advert_int {}\n virtual_ipaddress {{\n  {VIP}/24\n }}\n}}\n",
                interval.as_secs_f64()
            );
            Node::Keepalived(Keepalived::start(ns, &conf))
        }
    }

    /// Signals without waiting for the end: a stopping master may still be
    /// shutting down (pharos ~0.1 s, keepalived ~1 s) when its backup has
    /// taken over, and the takeover is what is timed.
    fn signal(&self, sig: &str) {
        match self {
            Node::Pharos(r) => r.send(sig),
            Node::Keepalived(k) => k.send(sig),
        }
    }
}

/// One takeover: master on node 0, backup on node 1; returns the time
/// from the signal to the backup holding the VIP.
fn once(kind: &str, interval: Duration, sig: &str) -> Duration {
    let lan = Lan::new(2);
    let master = Node::start(kind, &lan.nodes[0], 150, interval);
    let _backup = Node::start(kind, &lan.nodes[1], 100, interval);
    wait_for("election", Duration::from_secs(30), || {
        lan.holders(VIP, &[0, 1]) == vec![0]
    });
    // Let the backup hear a few adverts (v3: it adopts the interval).
    std::thread::sleep(interval * 4 + Duration::from_millis(200));
    let t0 = Instant::now();
    master.signal(sig);
    while !lan.holds(1, VIP) {
        assert!(t0.elapsed() < Duration::from_secs(30), "no takeover");
        std::thread::sleep(Duration::from_millis(2));
    }
    t0.elapsed()
}

fn main() {
    let runs: usize = std::env::var("PHAROS_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    println!("VRRP takeover (VRRPv3, backup priority 100), {runs} runs each: median [min–max] ms");
    for interval in [Duration::from_secs(1), Duration::from_millis(100)] {
        let skew = interval * 156 / 256;
        for (sig, what, expect) in [
            ("-KILL", "kill", interval * 3 + skew),
            ("-TERM", "stop", skew),
        ] {
            let ms = |d: Duration| d.as_secs_f64() * 1000.0;
            let mut medians = Vec::new();
            for kind in ["pharos", "keepalived"] {
                let mut t: Vec<Duration> = (0..runs).map(|_| once(kind, interval, sig)).collect();
                t.sort();
                medians.push(t[t.len() / 2]);
                println!(
                    "  interval {:>5} ms  {what:<4}  {kind:<10}  {:>7.1} [{:.1}–{:.1}]  (RFC: {:.1})",
                    interval.as_millis(),
                    ms(t[t.len() / 2]),
                    ms(t[0]),
                    ms(t[t.len() - 1]),
                    ms(expect)
                );
            }
            // `make bench`'s row: figure | pharos | anchor | target | verdict.
            println!(
                "ROW VRRP takeover on {what}, one instance, {} ms adverts | {:.0} ms | keepalived {:.0} ms | <= RFC {:.0} ms | {}",
                interval.as_millis(),
                ms(medians[0]),
                ms(medians[1]),
                ms(expect),
                if medians[0] <= expect + interval / 10 {
                    "met"
                } else {
                    "not met"
                }
            );
        }
    }
}

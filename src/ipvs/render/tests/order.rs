//! ipvsadm's sort order, wrapping comparisons included, in both layouts.

use std::net::Ipv4Addr;

use super::fixtures::*;
use crate::ipvs::model::{ServiceKey, ServiceLive, Table};
use crate::ipvs::render::list::list_service_name;
use crate::ipvs::render::order::sorted_services;
use crate::ipvs::render::{ListMode, list, save};

#[test]
fn ordering_wraps_like_ipvsadm() {
    // 192.168.0.1 before 10.0.0.1, and 1/100/200.0.0.0 form a cycle:
    // what glibc's merge sort makes of ipvsadm's int comparisons.
    let want = lines(&[
        "IP Virtual Server version 1.2.1 (size=4096)",
        "Prot LocalAddress:Port Scheduler Flags",
        "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn",
        "TCP  100.0.0.0:80 rr",
        "TCP  192.168.0.1:80 rr",
        "TCP  200.0.0.0:80 rr",
        "TCP  1.0.0.0:80 rr",
        "TCP  10.0.0.1:80 rr",
        "  -> 172.16.1.1:80                Route   1      0          0         ",
        "  -> 192.168.1.1:80               Route   1      0          0         ",
        "  -> 10.1.1.1:80                  Route   1      0          0         ",
        "FWM  3 rr",
        "FWM  2147483649 rr",
    ]);
    assert_eq!(list(&wrap_table(), &INFO, ListMode::Plain), want);
    let want = lines(&[
        "-A -t 100.0.0.0:80 -s rr",
        "-A -t 192.168.0.1:80 -s rr",
        "-A -t 200.0.0.0:80 -s rr",
        "-A -t 1.0.0.0:80 -s rr",
        "-A -t 10.0.0.1:80 -s rr",
        "-a -t 10.0.0.1:80 -r 172.16.1.1:80 -g -w 1",
        "-a -t 10.0.0.1:80 -r 192.168.1.1:80 -g -w 1",
        "-a -t 10.0.0.1:80 -r 10.1.1.1:80 -g -w 1",
        "-A -f 3 -s rr",
        "-A -f 2147483649 -s rr",
    ]);
    assert_eq!(save(&wrap_table()), want);
}

#[test]
fn order_depends_on_dump_order_for_a_cycle() {
    let keys = |t: &Table| -> Vec<String> {
        sorted_services(t)
            .iter()
            .map(|s| list_service_name(&s.spec.key))
            .collect()
    };
    let mk = |addrs: &[&str]| {
        table(
            addrs
                .iter()
                .map(|a| svc(tcp(a, 80), "rr", vec![]))
                .collect(),
        )
    };
    assert_eq!(
        keys(&mk(&["1.0.0.0", "100.0.0.0", "200.0.0.0"])),
        ["TCP  1.0.0.0:80", "TCP  100.0.0.0:80", "TCP  200.0.0.0:80"]
    );
    assert_eq!(
        keys(&mk(&["200.0.0.0", "100.0.0.0", "1.0.0.0"])),
        ["TCP  200.0.0.0:80", "TCP  1.0.0.0:80", "TCP  100.0.0.0:80"]
    );
}

#[test]
fn within_a_range_the_order_is_a_plain_sort() {
    // Under 2^31 apart nothing wraps: protocol, then address, then port.
    let mut rng = fastrand::Rng::with_seed(1);
    for _ in 0..50 {
        let mut services: Vec<ServiceLive> = Vec::new();
        for _ in 0..rng.usize(0..30) {
            let a = Ipv4Addr::from(0x0a00_0000 | rng.u32(..1 << 24)).to_string();
            let key = if rng.bool() {
                tcp(&a, rng.u16(..5))
            } else {
                udp(&a, rng.u16(..5))
            };
            if services.iter().all(|s| s.spec.key != key) {
                services.push(svc(key, "rr", vec![]));
            }
        }
        let t = table(services);
        let got: Vec<ServiceKey> = sorted_services(&t).iter().map(|s| s.spec.key).collect();
        let mut want: Vec<ServiceKey> = t.services.iter().map(|s| s.spec.key).collect();
        want.sort_by_key(|k| match *k {
            ServiceKey::Addr { proto, addr, port } => (proto.number(), addr, port),
            ServiceKey::Fwmark { .. } => unreachable!(),
        });
        assert_eq!(got, want);
    }
}

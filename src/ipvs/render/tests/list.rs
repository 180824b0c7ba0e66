//! `-Ln` and its variants, one listing mode a test.

use super::fixtures::*;
use crate::ipvs::model::{Info, Table};
use crate::ipvs::render::list::largenum;
use crate::ipvs::render::{ListMode, list};

#[test]
fn plain_ipv4_nat_dr_tun_sorted() {
    let want = lines(&[
        "IP Virtual Server version 1.2.1 (size=4096)",
        "Prot LocalAddress:Port Scheduler Flags",
        "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn",
        "TCP  10.0.0.1:80 rr",
        "  -> 10.0.1.2:80                  Masq    65535  0          1         ",
        "  -> 10.0.1.2:8080                Local   1      0          0         ",
        "  -> 10.0.1.3:8080                Masq    1      12         34        ",
        "TCP  10.0.0.2:443 wrr",
        "  -> 10.0.2.1:443                 Tunnel  0      0          0         ",
        "  -> 10.0.2.2:443                 Tunnel  3      1          0         ",
        "UDP  10.0.0.1:53 wlc",
        "  -> 10.0.1.1:53                  Route   1      0          5         ",
    ]);
    assert_eq!(list(&basic_table(), &INFO, ListMode::Plain), want);
}

#[test]
fn plain_persistence_netmask_and_pe() {
    let want = lines(&[
        "IP Virtual Server version 1.2.1 (size=4096)",
        "Prot LocalAddress:Port Scheduler Flags",
        "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn",
        "TCP  10.0.0.5:0 wlc persistent 300 mask 255.255.255.0",
        "  -> 10.0.5.1:0                   Route   1      0          0         ",
        "TCP  10.0.0.5:443 lc persistent 3600",
        "TCP  10.0.0.7:80 rr",
        "UDP  10.0.0.6:5060 rr persistent 180 pe sip",
        "  -> 10.0.6.1:5060                Masq    1      0          0         ",
    ]);
    assert_eq!(list(&persist_table(), &INFO, ListMode::Plain), want);
}

#[test]
fn plain_sched_flags_and_ops() {
    let want = lines(&[
        "IP Virtual Server version 1.2.1 (size=4096)",
        "Prot LocalAddress:Port Scheduler Flags",
        "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn",
        "TCP  10.0.0.3:80 sh (sh-fallback,sh-port)",
        "  -> 10.0.3.1:80                  Route   1      0          0         ",
        "TCP  10.0.0.3:81 mh (mh-port)",
        "TCP  10.0.0.3:82 rr (flag-1,flag-3)",
        "TCP  10.0.0.3:83 sh ()",
        "UDP  10.0.0.4:53 rr ops",
        "  -> 10.0.4.1:53                  Route   1      0          0         ",
        "UDP  10.0.0.4:54 sh (sh-fallback) persistent 60 ops",
    ]);
    assert_eq!(list(&sched_table(), &INFO, ListMode::Plain), want);
}

#[test]
fn plain_fwmark_and_ipv6() {
    let want = lines(&[
        "IP Virtual Server version 1.2.1 (size=4096)",
        "Prot LocalAddress:Port Scheduler Flags",
        "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn",
        "TCP  10.0.0.9:80 rr",
        "  -> 10.0.9.1:80                  Route   1      0          0         ",
        "TCP  [2001:db8::1]:80 wlc",
        "  -> [2001:db8::10]:80            Masq    1      0          0         ",
        "  -> [2001:db8:0:0:1::]:8080      Masq    1      2          3         ",
        "TCP  [2001:db8::1]:443 sh persistent 300 mask 48",
        "  -> [2001:db8::20]:443           Route   1      0          0         ",
        "FWM  1 wlc",
        "  -> 10.0.3.1:0                   Route   1      0          0         ",
        "  -> 10.0.3.2:0                   Route   1      0          0         ",
        "FWM  2 IPv6 rr persistent 60 mask 64",
        "  -> [2001:db8::a]:0              Route   1      0          0         ",
    ]);
    assert_eq!(list(&fwmark_v6_table(), &INFO, ListMode::Plain), want);
}

#[test]
fn plain_hides_tunnel_types() {
    let want = lines(&[
        "IP Virtual Server version 1.2.1 (size=4096)",
        "Prot LocalAddress:Port Scheduler Flags",
        "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn",
        "TCP  10.0.0.8:80 rr",
        "  -> 10.0.8.1:80                  Tunnel  1      0          0         ",
        "  -> 10.0.8.2:80                  Tunnel  1      0          0         ",
        "  -> 10.0.8.3:80                  Tunnel  1      0          0         ",
        "  -> 10.0.8.4:80                  Tunnel  1      0          0         ",
        "  -> 10.0.8.5:80                  Tunnel  1      0          0         ",
        "  -> 10.0.8.6:80                  Tunnel  1      0          0         ",
        "  -> 10.0.8.7:80                  Route   2      5          6         ",
        "  -> [2001:db8::8]:80             Tunnel  1      0          0         ",
    ]);
    assert_eq!(list(&tunnel_table(), &INFO, ListMode::Plain), want);
}

#[test]
fn tun_info_shows_tunnel_types() {
    let want = lines(&[
        "IP Virtual Server version 1.2.1 (size=4096)",
        "Prot LocalAddress:Port Scheduler Flags",
        "  -> RemoteAddress:Port           Forward TunnelInfo    Weight ActiveConn InActConn",
        "TCP  10.0.0.8:80 rr",
        "  -> 10.0.8.1:80                  Tunnel  ipip          1      0          0         ",
        "  -> 10.0.8.2:80                  Tunnel  gue:5555:-c   1      0          0         ",
        "  -> 10.0.8.3:80                  Tunnel  gue:6080:+c   1      0          0         ",
        "  -> 10.0.8.4:80                  Tunnel  gue:65535:r+c 1      0          0         ",
        "  -> 10.0.8.5:80                  Tunnel  gre:+c        1      0          0         ",
        "  -> 10.0.8.6:80                  Tunnel  gre:-c        1      0          0         ",
        "  -> 10.0.8.7:80                  Route   n/a           2      5          6         ",
        "  -> [2001:db8::8]:80             Tunnel  gre:-c        1      0          0         ",
    ]);
    assert_eq!(list(&tunnel_table(), &INFO, ListMode::TunInfo), want);
}

#[test]
fn thresholds_listing() {
    let want = lines(&[
        "IP Virtual Server version 1.2.1 (size=4096)",
        "Prot LocalAddress:Port            Uthreshold Lthreshold ActiveConn InActConn ",
        "  -> RemoteAddress:Port",
        "TCP  10.0.0.8:80 rr",
        "  -> 10.0.8.1:80                  0          0          0          0         ",
        "  -> 10.0.8.2:80                  0          0          0          0         ",
        "  -> 10.0.8.3:80                  0          0          0          0         ",
        "  -> 10.0.8.4:80                  0          0          0          0         ",
        "  -> 10.0.8.5:80                  7          0          0          0         ",
        "  -> 10.0.8.6:80                  0          0          0          0         ",
        "  -> 10.0.8.7:80                  1000       800        5          6         ",
        "  -> [2001:db8::8]:80             0          0          0          0         ",
    ]);
    assert_eq!(list(&tunnel_table(), &INFO, ListMode::Thresholds), want);
}

#[test]
fn persistent_conn_listing() {
    let want = lines(&[
        "IP Virtual Server version 1.2.1 (size=4096)",
        "Prot LocalAddress:Port            Weight    PersistConn ActiveConn InActConn ",
        "  -> RemoteAddress:Port",
        "TCP  10.0.0.8:80 rr",
        "  -> 10.0.8.1:80                  1         0           0          0         ",
        "  -> 10.0.8.2:80                  1         0           0          0         ",
        "  -> 10.0.8.3:80                  1         0           0          0         ",
        "  -> 10.0.8.4:80                  1         0           0          0         ",
        "  -> 10.0.8.5:80                  1         3           0          0         ",
        "  -> 10.0.8.6:80                  1         0           0          0         ",
        "  -> 10.0.8.7:80                  2         42          5          6         ",
        "  -> [2001:db8::8]:80             1         0           0          0         ",
    ]);
    assert_eq!(list(&tunnel_table(), &INFO, ListMode::PersistConn), want);
}

#[test]
fn stats_with_large_numbers() {
    let want = lines(&[
        "IP Virtual Server version 1.2.1 (size=4096)",
        "Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes",
        "  -> RemoteAddress:Port",
        "TCP  10.0.0.1:80                        12 99999999  100000K     123G   98765T",
        "  -> 10.0.1.1:80                         7     1234   99999M   99999G18446744T",
        "  -> 10.0.1.2:80                         5        0        0        0        0",
        "TCP  [2001:db8::1]:80                    1        2        3        4        5",
        "  -> [2001:db8::10]:80                   1        2        3        4        5",
        "FWM  7                                   3        3        3        3        3",
    ]);
    assert_eq!(list(&stats_table(), &INFO, ListMode::Stats), want);
}

#[test]
fn rate_with_large_numbers() {
    // Destination packet rates are never abbreviated (123456789).
    let want = lines(&[
        "IP Virtual Server version 1.2.1 (size=4096)",
        "Prot LocalAddress:Port                 CPS    InPPS   OutPPS    InBPS   OutBPS",
        "  -> RemoteAddress:Port",
        "TCP  10.0.0.1:80                         5    1000M  999999K     100T        0",
        "  -> 10.0.1.1:80                  123456789        1        2    5000M  100000K",
        "  -> 10.0.1.2:80                         0        0        0 99999999        1",
        "TCP  [2001:db8::1]:80                    6        7        8        9       10",
        "  -> [2001:db8::10]:80                   6        7        8        9       10",
        "FWM  7                                   3        3        3        3        3",
    ]);
    assert_eq!(list(&stats_table(), &INFO, ListMode::Rate), want);
}

#[test]
fn header_version_and_size() {
    let info = Info {
        version: 0x010203,
        conn_tab_size: 1 << 20,
    };
    let out = list(&Table::default(), &info, ListMode::Stats);
    assert!(out.starts_with("IP Virtual Server version 1.2.3 (size=1048576)\n"));
}

#[test]
fn largenum_boundaries() {
    let cases = [
        (0, "        0"),
        (99_999_999, " 99999999"),
        (100_000_000, "  100000K"),
        (999_999_999, "  999999K"),
        (1_000_000_000, "    1000M"),
        (99_999_999_999, "   99999M"),
        (100_000_000_000, "     100G"),
        (99_999_999_999_999, "   99999G"),
        (100_000_000_000_000, "     100T"),
        (u64::MAX, "18446744T"),
    ];
    for (n, want) in cases {
        assert_eq!(largenum(n), want, "{n}");
    }
}

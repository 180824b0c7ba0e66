//! The tables the render tests print: built as the kernel reports them
//! (HASHED set, full netmask), each covering one part of ipvsadm's output.

use std::net::IpAddr;

use crate::ipvs::model::{
    DestLive, DestSpec, Forward, Info, Proto, ServiceKey, ServiceLive, ServiceSpec, Stats, Table,
    TunType, flags, tun_flags,
};

pub(super) const INFO: Info = Info {
    version: 0x010201,
    conn_tab_size: 4096,
};

pub(super) fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

pub(super) fn tcp(addr: &str, port: u16) -> ServiceKey {
    ServiceKey::Addr {
        proto: Proto::Tcp,
        addr: ip(addr),
        port,
    }
}

pub(super) fn udp(addr: &str, port: u16) -> ServiceKey {
    ServiceKey::Addr {
        proto: Proto::Udp,
        addr: ip(addr),
        port,
    }
}

/// A service as the kernel reports it: HASHED set, full netmask.
pub(super) fn svc(key: ServiceKey, scheduler: &str, dests: Vec<DestLive>) -> ServiceLive {
    let v6 = key.is_v6();
    ServiceLive {
        spec: ServiceSpec {
            key,
            scheduler: scheduler.to_string(),
            flags: flags::HASHED,
            timeout: 0,
            netmask: ServiceSpec::netmask_for(v6, if v6 { 128 } else { 32 }),
            pe_name: None,
        },
        stats: Stats::default(),
        dests,
    }
}

pub(super) fn persistent(mut s: ServiceLive, timeout: u32, prefix: u8) -> ServiceLive {
    s.spec.flags |= flags::PERSISTENT;
    s.spec.timeout = timeout;
    s.spec.netmask = ServiceSpec::netmask_for(s.spec.key.is_v6(), prefix);
    s
}

pub(super) fn with_flags(mut s: ServiceLive, f: u32) -> ServiceLive {
    s.spec.flags |= f;
    s
}

pub(super) fn dest(addr: &str, port: u16, forward: Forward, weight: u32) -> DestLive {
    DestLive {
        spec: DestSpec {
            addr: ip(addr),
            port,
            forward,
            weight,
            u_threshold: 0,
            l_threshold: 0,
            tun_type: TunType::Ipip,
            tun_port: 0,
            tun_flags: 0,
        },
        active_conns: 0,
        inact_conns: 0,
        persist_conns: 0,
        stats: Stats::default(),
    }
}

pub(super) fn conns(mut d: DestLive, active: u32, inact: u32) -> DestLive {
    d.active_conns = active;
    d.inact_conns = inact;
    d
}

pub(super) fn tunnel(addr: &str, port: u16, tun_type: TunType, tun_port: u16, tf: u16) -> DestLive {
    let mut d = dest(addr, port, Forward::Tunnel, 1);
    d.spec.tun_type = tun_type;
    d.spec.tun_port = tun_port;
    d.spec.tun_flags = tf;
    d
}

pub(super) fn table(services: Vec<ServiceLive>) -> Table {
    Table { services }
}

/// NAT, DR, TUN and a local node, given out of order.
pub(super) fn basic_table() -> Table {
    table(vec![
        svc(
            udp("10.0.0.1", 53),
            "wlc",
            vec![conns(dest("10.0.1.1", 53, Forward::Route, 1), 0, 5)],
        ),
        svc(
            tcp("10.0.0.2", 443),
            "wrr",
            vec![
                conns(dest("10.0.2.2", 443, Forward::Tunnel, 3), 1, 0),
                dest("10.0.2.1", 443, Forward::Tunnel, 0),
            ],
        ),
        svc(
            tcp("10.0.0.1", 80),
            "rr",
            vec![
                conns(dest("10.0.1.3", 8080, Forward::Masq, 1), 12, 34),
                conns(dest("10.0.1.2", 80, Forward::Masq, 65535), 0, 1),
                dest("10.0.1.2", 8080, Forward::Local, 1),
            ],
        ),
    ])
}

/// Persistence: port 0 with a /24 mask, a plain one, and engines.
pub(super) fn persist_table() -> Table {
    let mut sip = persistent(
        svc(
            udp("10.0.0.6", 5060),
            "rr",
            vec![dest("10.0.6.1", 5060, Forward::Masq, 1)],
        ),
        180,
        32,
    );
    sip.spec.pe_name = Some("sip".to_string());
    let mut pe_only = svc(tcp("10.0.0.7", 80), "rr", vec![]);
    pe_only.spec.pe_name = Some("sip".to_string());
    table(vec![
        persistent(
            svc(
                tcp("10.0.0.5", 0),
                "wlc",
                vec![dest("10.0.5.1", 0, Forward::Route, 1)],
            ),
            300,
            24,
        ),
        persistent(svc(tcp("10.0.0.5", 443), "lc", vec![]), 3600, 32),
        sip,
        pe_only,
    ])
}

/// Scheduler flags by scheduler, and one-packet scheduling.
pub(super) fn sched_table() -> Table {
    table(vec![
        with_flags(
            svc(
                tcp("10.0.0.3", 80),
                "sh",
                vec![dest("10.0.3.1", 80, Forward::Route, 1)],
            ),
            flags::SCHED1 | flags::SCHED2,
        ),
        with_flags(svc(tcp("10.0.0.3", 81), "mh", vec![]), flags::SCHED2),
        with_flags(
            svc(tcp("10.0.0.3", 82), "rr", vec![]),
            flags::SCHED1 | flags::SCHED3,
        ),
        with_flags(svc(tcp("10.0.0.3", 83), "sh", vec![]), flags::SCHED3),
        with_flags(
            svc(
                udp("10.0.0.4", 53),
                "rr",
                vec![dest("10.0.4.1", 53, Forward::Route, 1)],
            ),
            flags::ONEPACKET,
        ),
        with_flags(
            persistent(svc(udp("10.0.0.4", 54), "sh", vec![]), 60, 32),
            flags::SCHED1 | flags::ONEPACKET,
        ),
    ])
}

/// Fwmark services (v4 and v6) and IPv6 services.
pub(super) fn fwmark_v6_table() -> Table {
    table(vec![
        persistent(
            svc(
                ServiceKey::Fwmark { mark: 2, v6: true },
                "rr",
                vec![dest("2001:db8::a", 0, Forward::Route, 1)],
            ),
            60,
            64,
        ),
        svc(
            ServiceKey::Fwmark { mark: 1, v6: false },
            "wlc",
            vec![
                dest("10.0.3.2", 0, Forward::Route, 1),
                dest("10.0.3.1", 0, Forward::Route, 1),
            ],
        ),
        persistent(
            svc(
                tcp("2001:db8::1", 443),
                "sh",
                vec![dest("2001:db8::20", 443, Forward::Route, 1)],
            ),
            300,
            48,
        ),
        svc(
            tcp("2001:db8::1", 80),
            "wlc",
            vec![
                conns(dest("2001:db8:0:0:1::", 8080, Forward::Masq, 1), 2, 3),
                dest("2001:db8::10", 80, Forward::Masq, 1),
            ],
        ),
        svc(
            tcp("10.0.0.9", 80),
            "rr",
            vec![dest("10.0.9.1", 80, Forward::Route, 1)],
        ),
    ])
}

/// Tunnel types, thresholds and persistent connection counts.
pub(super) fn tunnel_table() -> Table {
    let mut routed = conns(dest("10.0.8.7", 80, Forward::Route, 2), 5, 6);
    routed.spec.u_threshold = 1000;
    routed.spec.l_threshold = 800;
    routed.persist_conns = 42;
    let mut gre_csum = tunnel("10.0.8.5", 80, TunType::Gre, 0, tun_flags::CSUM);
    gre_csum.spec.u_threshold = 7;
    gre_csum.persist_conns = 3;
    table(vec![svc(
        tcp("10.0.0.8", 80),
        "rr",
        vec![
            tunnel("2001:db8::8", 80, TunType::Gre, 0, tun_flags::NOCSUM),
            routed,
            tunnel("10.0.8.6", 80, TunType::Gre, 0, tun_flags::NOCSUM),
            gre_csum,
            tunnel("10.0.8.4", 80, TunType::Gue, 65535, tun_flags::REMCSUM),
            tunnel("10.0.8.3", 80, TunType::Gue, 6080, tun_flags::CSUM),
            tunnel("10.0.8.2", 80, TunType::Gue, 5555, tun_flags::NOCSUM),
            tunnel("10.0.8.1", 80, TunType::Ipip, 0, 0),
        ],
    )])
}

pub(super) fn stats(v: [u64; 10]) -> Stats {
    Stats {
        conns: v[0],
        inpkts: v[1],
        outpkts: v[2],
        inbytes: v[3],
        outbytes: v[4],
        cps: v[5],
        inpps: v[6],
        outpps: v[7],
        inbps: v[8],
        outbps: v[9],
    }
}

/// Counters across every largenum range.
pub(super) fn stats_table() -> Table {
    let mut a = svc(
        tcp("10.0.0.1", 80),
        "rr",
        vec![
            dest("10.0.1.1", 80, Forward::Masq, 1),
            dest("10.0.1.2", 80, Forward::Masq, 1),
        ],
    );
    a.stats = stats([
        12,
        99_999_999,
        100_000_000,
        123_456_789_012,
        98_765_432_109_876_543,
        5,
        1_000_000_000,
        999_999_999,
        100_000_000_000_000,
        0,
    ]);
    a.dests[0].stats = stats([
        7,
        1_234,
        99_999_999_999,
        99_999_999_999_999,
        u64::MAX,
        123_456_789,
        1,
        2,
        5_000_000_000,
        100_000_000,
    ]);
    a.dests[1].stats = stats([5, 0, 0, 0, 0, 0, 0, 0, 99_999_999, 1]);
    let mut b = svc(
        tcp("2001:db8::1", 80),
        "wlc",
        vec![dest("2001:db8::10", 80, Forward::Masq, 1)],
    );
    b.stats = stats([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    b.dests[0].stats = stats([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    let mut c = svc(ServiceKey::Fwmark { mark: 7, v6: false }, "wlc", vec![]);
    c.stats = stats([3; 10]);
    table(vec![c, b, a])
}

/// Addresses more than 2^31 apart: ipvsadm's comparators wrap.
pub(super) fn wrap_table() -> Table {
    table(vec![
        svc(
            tcp("10.0.0.1", 80),
            "rr",
            vec![
                dest("10.1.1.1", 80, Forward::Route, 1),
                dest("192.168.1.1", 80, Forward::Route, 1),
                dest("172.16.1.1", 80, Forward::Route, 1),
            ],
        ),
        svc(tcp("192.168.0.1", 80), "rr", vec![]),
        svc(tcp("1.0.0.0", 80), "rr", vec![]),
        svc(tcp("100.0.0.0", 80), "rr", vec![]),
        svc(tcp("200.0.0.0", 80), "rr", vec![]),
        svc(
            ServiceKey::Fwmark {
                mark: 0x8000_0001,
                v6: false,
            },
            "rr",
            vec![],
        ),
        svc(ServiceKey::Fwmark { mark: 3, v6: false }, "rr", vec![]),
    ])
}

/// The expected output, one line per entry (each ends with '\n').
pub(super) fn lines(l: &[&str]) -> String {
    l.iter().map(|l| format!("{l}\n")).collect()
}

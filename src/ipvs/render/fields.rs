//! The fields both layouts print alike: scheduler flags, the persistence
//! mask, the persistence engine, addresses (glibc's inet_ntop included) and
//! the index of tunnel checksum flags.
//!
//! Talks to: `ipvs::model`. Used by `list` and `save`.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::ipvs::model::{ServiceSpec, flags, tun_flags};

pub(super) const SCHED_FLAGS: u32 = flags::SCHED1 | flags::SCHED2 | flags::SCHED3;

/// print_sched_flags(): names depend on the scheduler. May be empty (sh or
/// mh with only flag-3), which ipvsadm still prints as "()" / "-b ".
pub(super) fn sched_flags(spec: &ServiceSpec) -> String {
    let f = spec.flags;
    let names: &[(u32, &str)] = match spec.scheduler.as_str() {
        "sh" => &[(flags::SCHED1, "sh-fallback"), (flags::SCHED2, "sh-port")],
        "mh" => &[(flags::SCHED1, "mh-fallback"), (flags::SCHED2, "mh-port")],
        _ => &[
            (flags::SCHED1, "flag-1"),
            (flags::SCHED2, "flag-2"),
            (flags::SCHED3, "flag-3"),
        ],
    };
    names
        .iter()
        .filter(|(bit, _)| f & bit != 0)
        .map(|(_, n)| *n)
        .collect::<Vec<_>>()
        .join(",")
}

/// The persistence mask ipvsadm shows, if not the full one. IPv4: the
/// kernel's __be32 read as a native u32 (see [`ServiceSpec::netmask`]), so
/// its native bytes are the mask's octets, printed by inet_ntoa(). IPv6: a
/// prefix length, printed with %i. The family is the service's (fwmark
/// services included).
pub(super) fn netmask_text(spec: &ServiceSpec) -> Option<String> {
    if spec.key.is_v6() {
        (spec.netmask != 128).then(|| (spec.netmask as i32).to_string())
    } else {
        (spec.netmask != u32::MAX).then(|| Ipv4Addr::from(spec.netmask.to_ne_bytes()).to_string())
    }
}

/// `se->pe_name[0]`: an empty name counts as none.
pub(super) fn pe_name(spec: &ServiceSpec) -> Option<&str> {
    spec.pe_name.as_deref().filter(|n| !n.is_empty())
}

/// addrport_to_anyname() with FMT_NUMERIC.
pub(super) fn addr_port(addr: IpAddr, port: u16) -> String {
    match addr {
        IpAddr::V4(a) => format!("{a}:{port}"),
        IpAddr::V6(a) => format!("[{}]:{port}", ntop6(&a)),
    }
}

/// glibc's inet_ntop(AF_INET6): RFC 5952 like Rust's Display, except that
/// "::a.b.c.d" (IPv4-compatible) keeps the dotted tail, which Rust drops.
pub(super) fn ntop6(a: &Ipv6Addr) -> String {
    let w = a.segments();
    // The first longest run of two or more zero words, as (start, len).
    let mut best: Option<(usize, usize)> = None;
    let mut i = 0;
    while i < 8 {
        let len = w[i..].iter().take_while(|&&x| x == 0).count();
        if len >= 2 && best.is_none_or(|(_, b)| len > b) {
            best = Some((i, len));
        }
        i += len.max(1);
    }

    let mut s = String::new();
    let mut i = 0;
    while i < 8 {
        if let Some((_, len)) = best.filter(|&(base, _)| base == i) {
            s.push(':');
            i += len;
            if i == 8 {
                s.push(':');
            }
            continue;
        }
        if i != 0 {
            s.push(':');
        }
        // The IPv4-compatible and IPv4-mapped forms.
        let v4_tail = match best {
            Some((0, 6)) => true,
            Some((0, 5)) => w[5] == 0xffff,
            _ => false,
        };
        if i == 6 && v4_tail {
            let o = a.octets();
            let _ = write!(s, "{}", Ipv4Addr::new(o[12], o[13], o[14], o[15]));
            return s;
        }
        let _ = write!(s, "{:x}", w[i]);
        i += 1;
    }
    s
}

/// Index into ipvsadm's tunflags[] / tun_flags_opts[] (0 nocsum, 1 csum,
/// 2 remcsum). ipvsadm indexes by the raw value; for anything else (both
/// bits, which ipvsadm cannot set) we take the strongest bit.
pub(super) fn tun_flags_index(f: u16) -> usize {
    if f & tun_flags::REMCSUM != 0 {
        2
    } else if f & tun_flags::CSUM != 0 {
        1
    } else {
        0
    }
}

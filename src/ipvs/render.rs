//! The table as ipvsadm 1.31 prints it, byte for byte: `ipvsadm -Ln`
//! (with `--stats`, `--rate`, `--thresholds`, `--persistent-conn`,
//! `--tun-info`) and `ipvsadm -Sn` (what `ipvsadm-save -n` prints). Pure:
//! no IO, no name lookups (always the numeric forms).
//!
//! Each function names the ipvsadm.c / libipvs.c function it mirrors, so a
//! difference can be checked against the C.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::model::{
    DestLive, DestSpec, Forward, Info, Proto, ServiceKey, ServiceLive, ServiceSpec, Stats, Table,
    TunType, flags, tun_flags,
};

/// Which `ipvsadm -Ln` listing to produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListMode {
    /// `ipvsadm -Ln`
    Plain,
    /// `ipvsadm -Ln --stats`
    Stats,
    /// `ipvsadm -Ln --rate`
    Rate,
    /// `ipvsadm -Ln --thresholds`
    Thresholds,
    /// `ipvsadm -Ln --persistent-conn`
    PersistConn,
    /// `ipvsadm -Ln --tun-info` (plain -Ln never shows tunnel types)
    TunInfo,
}

/// `ipvsadm -Ln` in `mode`: list_all() with FMT_NUMERIC.
pub fn list(table: &Table, info: &Info, mode: ListMode) -> String {
    let mut out = String::new();
    let v = info.version;
    // NVERSION(); the size is printed with %d.
    let _ = writeln!(
        out,
        "IP Virtual Server version {}.{}.{} (size={})",
        (v >> 16) & 0xff,
        (v >> 8) & 0xff,
        v & 0xff,
        info.conn_tab_size as i32
    );
    out.push_str(&title(mode));
    for svc in sorted_services(table) {
        list_service(&mut out, svc, mode);
    }
    out
}

/// `ipvsadm -Sn`: list_all() with FMT_RULE | FMT_NUMERIC (no header, no
/// title). Thresholds are not saved by ipvsadm, so they are not here either.
pub fn save(table: &Table) -> String {
    let mut out = String::new();
    for svc in sorted_services(table) {
        save_service(&mut out, svc);
    }
    out
}

/// print_title().
fn title(mode: ListMode) -> String {
    const PROT: &str = "Prot LocalAddress:Port";
    const REMOTE: &str = "  -> RemoteAddress:Port\n";
    match mode {
        ListMode::Stats => format!(
            "{PROT:<33} {:>8} {:>8} {:>8} {:>8} {:>8}\n{REMOTE}",
            "Conns", "InPkts", "OutPkts", "InBytes", "OutBytes"
        ),
        ListMode::Rate => format!(
            "{PROT:<33} {:>8} {:>8} {:>8} {:>8} {:>8}\n{REMOTE}",
            "CPS", "InPPS", "OutPPS", "InBPS", "OutBPS"
        ),
        ListMode::Thresholds => format!(
            "{PROT:<33} {:<10} {:<10} {:<10} {:<10}\n{REMOTE}",
            "Uthreshold", "Lthreshold", "ActiveConn", "InActConn"
        ),
        ListMode::PersistConn => format!(
            "{PROT:<33} {:<9} {:<11} {:<10} {:<10}\n{REMOTE}",
            "Weight", "PersistConn", "ActiveConn", "InActConn"
        ),
        ListMode::TunInfo => "Prot LocalAddress:Port Scheduler Flags\n  \
             -> RemoteAddress:Port           Forward TunnelInfo    Weight ActiveConn InActConn\n"
            .to_string(),
        ListMode::Plain => "Prot LocalAddress:Port Scheduler Flags\n  \
             -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"
            .to_string(),
    }
}

/// print_service_entry() without FMT_RULE.
fn list_service(out: &mut String, svc: &ServiceLive, mode: ListMode) {
    let spec = &svc.spec;
    let name = list_service_name(&spec.key);
    match mode {
        ListMode::Stats => {
            let _ = write!(out, "{name:<33}");
            stats_columns(out, &svc.stats);
        }
        ListMode::Rate => {
            let _ = write!(out, "{name:<33}");
            rate_columns(out, &svc.stats);
        }
        _ => {
            let _ = write!(out, "{name} {}", spec.scheduler);
            if spec.flags & SCHED_FLAGS != 0 {
                let _ = write!(out, " ({})", sched_flags(spec));
            }
            if spec.flags & flags::PERSISTENT != 0 {
                let _ = write!(out, " persistent {}", spec.timeout);
                if let Some(mask) = netmask_text(spec) {
                    let _ = write!(out, " mask {mask}");
                }
                // ipvsadm shows the engine only for persistent services.
                if let Some(pe) = pe_name(spec) {
                    let _ = write!(out, " pe {pe}");
                }
            }
            if spec.flags & flags::ONEPACKET != 0 {
                out.push_str(" ops");
            }
        }
    }
    out.push('\n');

    for d in sorted_dests(svc) {
        let s = &d.spec;
        let mut dname = addr_port(s.addr, s.port);
        // dname[28] = '\0' for non-IPv6 (never bites in numeric form).
        if s.addr.is_ipv4() {
            dname.truncate(28);
        }
        match mode {
            ListMode::Stats => {
                let _ = write!(out, "  -> {dname:<28}");
                stats_columns(out, &d.stats);
                out.push('\n');
            }
            ListMode::Rate => {
                // Packet rates are plain %8llu here, unlike the service line.
                let st = &d.stats;
                let _ = writeln!(
                    out,
                    "  -> {dname:<28} {:>8} {:>8} {:>8}{}{}",
                    st.cps,
                    st.inpps,
                    st.outpps,
                    largenum(st.inbps),
                    largenum(st.outbps)
                );
            }
            ListMode::Thresholds => {
                let _ = writeln!(
                    out,
                    "  -> {dname:<28} {:<10} {:<10} {:<10} {:<10}",
                    s.u_threshold, s.l_threshold, d.active_conns, d.inact_conns
                );
            }
            ListMode::PersistConn => {
                let _ = writeln!(
                    out,
                    "  -> {dname:<28} {:<9} {:<11} {:<10} {:<10}",
                    s.weight, d.persist_conns, d.active_conns, d.inact_conns
                );
            }
            ListMode::TunInfo => {
                let ti = tun_info(s).unwrap_or_else(|| "n/a".to_string());
                let _ = writeln!(
                    out,
                    "  -> {dname:<28} {:<7} {ti:<13} {:<6} {:<10} {:<10}",
                    fwd_name(s.forward),
                    s.weight as i32,
                    d.active_conns,
                    d.inact_conns
                );
            }
            ListMode::Plain => {
                // weight is an int in ipvs_dest_entry, printed with %d.
                let _ = writeln!(
                    out,
                    "  -> {dname:<28} {:<7} {:<6} {:<10} {:<10}",
                    fwd_name(s.forward),
                    s.weight as i32,
                    d.active_conns,
                    d.inact_conns
                );
            }
        }
    }
}

/// print_service_entry() with FMT_RULE.
fn save_service(out: &mut String, svc: &ServiceLive) {
    let spec = &svc.spec;
    let name = save_service_name(&spec.key);
    let _ = write!(out, "-A {name} -s {}", spec.scheduler);
    if spec.flags & flags::PERSISTENT != 0 {
        let _ = write!(out, " -p {}", spec.timeout);
        if let Some(mask) = netmask_text(spec) {
            let _ = write!(out, " -M {mask}");
        }
    }
    // Unlike the listing, --pe is saved whether or not the service is
    // persistent.
    if let Some(pe) = pe_name(spec) {
        let _ = write!(out, " --pe {pe}");
    }
    if spec.flags & flags::ONEPACKET != 0 {
        out.push_str(" -o");
    }
    if spec.flags & SCHED_FLAGS != 0 {
        let _ = write!(out, " -b {}", sched_flags(spec));
    }
    out.push('\n');

    for d in sorted_dests(svc) {
        let s = &d.spec;
        let _ = write!(
            out,
            "-a {name} -r {} {} -w {}",
            addr_port(s.addr, s.port),
            fwd_switch(s.forward),
            s.weight as i32
        );
        // print_tunnel_rule(): only tunnel destinations carry tunnel options.
        if s.forward == Forward::Tunnel {
            match s.tun_type {
                TunType::Ipip => out.push_str(" --tun-type ipip"),
                TunType::Gue => {
                    let _ = write!(
                        out,
                        " --tun-type gue --tun-port {} {}",
                        s.tun_port,
                        tun_flags_opt(s.tun_flags)
                    );
                }
                TunType::Gre => {
                    let _ = write!(out, " --tun-type gre {}", tun_flags_opt(s.tun_flags));
                }
            }
        }
        out.push('\n');
    }
}

const SCHED_FLAGS: u32 = flags::SCHED1 | flags::SCHED2 | flags::SCHED3;

/// print_sched_flags(): names depend on the scheduler. May be empty (sh or
/// mh with only flag-3), which ipvsadm still prints as "()" / "-b ".
fn sched_flags(spec: &ServiceSpec) -> String {
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
fn netmask_text(spec: &ServiceSpec) -> Option<String> {
    if spec.key.is_v6() {
        (spec.netmask != 128).then(|| (spec.netmask as i32).to_string())
    } else {
        (spec.netmask != u32::MAX).then(|| Ipv4Addr::from(spec.netmask.to_ne_bytes()).to_string())
    }
}

/// `se->pe_name[0]`: an empty name counts as none.
fn pe_name(spec: &ServiceSpec) -> Option<&str> {
    spec.pe_name.as_deref().filter(|n| !n.is_empty())
}

/// svc_name in the listing: "%-4s %s" (cut at 33 for non-IPv6), or
/// "FWM  %u" with " IPv6" for an AF_INET6 fwmark service.
fn list_service_name(key: &ServiceKey) -> String {
    match key {
        ServiceKey::Addr { proto, addr, port } => {
            let mut s = format!("{:<4} {}", proto.upper(), addr_port(*addr, *port));
            if addr.is_ipv4() {
                s.truncate(33);
            }
            s
        }
        ServiceKey::Fwmark { mark, v6: false } => format!("FWM  {mark}"),
        ServiceKey::Fwmark { mark, v6: true } => format!("FWM  {mark} IPv6"),
    }
}

/// svc_name in the rules: option_from_protocol() and the address, or
/// "-f %u" with " -6" for AF_INET6.
fn save_service_name(key: &ServiceKey) -> String {
    match key {
        ServiceKey::Addr { proto, addr, port } => {
            let opt = match proto {
                Proto::Tcp => "-t",
                Proto::Udp => "-u",
                Proto::Sctp => "--sctp-service",
            };
            format!("{opt} {}", addr_port(*addr, *port))
        }
        ServiceKey::Fwmark { mark, v6: false } => format!("-f {mark}"),
        ServiceKey::Fwmark { mark, v6: true } => format!("-f {mark} -6"),
    }
}

/// addrport_to_anyname() with FMT_NUMERIC.
fn addr_port(addr: IpAddr, port: u16) -> String {
    match addr {
        IpAddr::V4(a) => format!("{a}:{port}"),
        IpAddr::V6(a) => format!("[{}]:{port}", ntop6(&a)),
    }
}

/// glibc's inet_ntop(AF_INET6): RFC 5952 like Rust's Display, except that
/// "::a.b.c.d" (IPv4-compatible) keeps the dotted tail, which Rust drops.
fn ntop6(a: &Ipv6Addr) -> String {
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

/// fwd_name(). Bypass has no name there: glibc prints the NULL as "(null)".
fn fwd_name(f: Forward) -> &'static str {
    match f {
        Forward::Masq => "Masq",
        Forward::Local => "Local",
        Forward::Tunnel => "Tunnel",
        Forward::Route => "Route",
        Forward::Bypass => "(null)",
    }
}

/// fwd_switch(): a local node saves as -g; Bypass as glibc's "(null)".
fn fwd_switch(f: Forward) -> &'static str {
    match f {
        Forward::Masq => "-m",
        Forward::Tunnel => "-i",
        Forward::Local | Forward::Route => "-g",
        Forward::Bypass => "(null)",
    }
}

/// Index into ipvsadm's tunflags[] / tun_flags_opts[] (0 nocsum, 1 csum,
/// 2 remcsum). ipvsadm indexes by the raw value; for anything else (both
/// bits, which ipvsadm cannot set) we take the strongest bit.
fn tun_flags_index(f: u16) -> usize {
    if f & tun_flags::REMCSUM != 0 {
        2
    } else if f & tun_flags::CSUM != 0 {
        1
    } else {
        0
    }
}

fn tun_flags_opt(f: u16) -> &'static str {
    ["--tun-nocsum", "--tun-csum", "--tun-remcsum"][tun_flags_index(f)]
}

/// fwd_tun_info(): "ipip", "gue:PORT:FLAGS", "gre:FLAGS", or none for
/// non-tunnel destinations (shown as "n/a").
fn tun_info(s: &DestSpec) -> Option<String> {
    if s.forward != Forward::Tunnel {
        return None;
    }
    let fl = ["-c", "+c", "r+c"][tun_flags_index(s.tun_flags)];
    let mut t = match s.tun_type {
        TunType::Ipip => "ipip".to_string(),
        TunType::Gue => format!("gue:{}:{fl}", s.tun_port),
        TunType::Gre => format!("gre:{fl}"),
    };
    t.truncate(15); // snprintf(info, 16, ...)
    Some(t)
}

/// print_largenum() without --exact: 9 columns, K/M/G/T past 8 digits.
fn largenum(i: u64) -> String {
    if i < 100_000_000 {
        format!("{i:>9}")
    } else if i < 1_000_000_000 {
        format!("{:>8}K", i / 1_000)
    } else if i < 100_000_000_000 {
        format!("{:>8}M", i / 1_000_000)
    } else if i < 100_000_000_000_000 {
        format!("{:>8}G", i / 1_000_000_000)
    } else {
        format!("{:>8}T", i / 1_000_000_000_000)
    }
}

fn stats_columns(out: &mut String, st: &Stats) {
    for n in [st.conns, st.inpkts, st.outpkts, st.inbytes, st.outbytes] {
        out.push_str(&largenum(n));
    }
}

fn rate_columns(out: &mut String, st: &Stats) {
    for n in [st.cps, st.inpps, st.outpps, st.inbps, st.outbps] {
        out.push_str(&largenum(n));
    }
}

// ---- Ordering -------------------------------------------------------------
//
// Without --nosort, ipvsadm qsort()s the services with ipvs_cmp_services()
// and each service's destinations with ipvs_cmp_dests() (libipvs.c). Both
// compare by subtracting unsigned values into an int, so differences of 2^31
// or more wrap (10.0.0.1 sorts after 192.168.0.1). That is not a total
// order, so the result depends on the sort algorithm and on the input (the
// kernel's dump order): we run glibc's qsort, a top-down merge sort, with
// the same comparisons.

const AF_INET: u16 = 2;
const AF_INET6: u16 = 10;

/// The fields of ipvs_service_entry / ipvs_dest_entry the comparators read.
/// `words` are the address in host order (IPv4 in the first).
#[derive(Clone, Copy)]
struct SortKey {
    fwmark: u32,
    af: u16,
    protocol: u16,
    words: [u32; 4],
    port: u16,
}

fn addr_words(addr: IpAddr) -> (u16, [u32; 4]) {
    match addr {
        IpAddr::V4(a) => (AF_INET, [u32::from(a), 0, 0, 0]),
        IpAddr::V6(a) => {
            let o = a.octets();
            let w = |i: usize| u32::from_be_bytes([o[i], o[i + 1], o[i + 2], o[i + 3]]);
            (AF_INET6, [w(0), w(4), w(8), w(12)])
        }
    }
}

fn service_sort_key(key: &ServiceKey) -> SortKey {
    match *key {
        ServiceKey::Addr { proto, addr, port } => {
            let (af, words) = addr_words(addr);
            SortKey {
                fwmark: 0,
                af,
                protocol: proto.number(),
                words,
                port,
            }
        }
        // The kernel sends no protocol, address or port with a fwmark.
        ServiceKey::Fwmark { mark, v6 } => SortKey {
            fwmark: mark,
            af: if v6 { AF_INET6 } else { AF_INET },
            protocol: 0,
            words: [0; 4],
            port: 0,
        },
    }
}

fn dest_sort_key(d: &DestSpec) -> SortKey {
    let (af, words) = addr_words(d.addr);
    SortKey {
        fwmark: 0,
        af,
        protocol: 0,
        words,
        port: d.port,
    }
}

/// The address part shared by both comparators; the family is the left
/// operand's, as in the C.
fn cmp_addr(a: &SortKey, b: &SortKey) -> i32 {
    if a.af == AF_INET6 {
        for i in 0..4 {
            let r = a.words[i].wrapping_sub(b.words[i]) as i32;
            if r != 0 {
                return r;
            }
        }
        0
    } else {
        a.words[0].wrapping_sub(b.words[0]) as i32
    }
}

/// ipvs_cmp_services(): fwmark, family, protocol, address, port.
fn cmp_services(a: &SortKey, b: &SortKey) -> i32 {
    let r = a.fwmark.wrapping_sub(b.fwmark) as i32;
    if r != 0 {
        return r;
    }
    let r = i32::from(a.af) - i32::from(b.af);
    if r != 0 {
        return r;
    }
    let r = i32::from(a.protocol) - i32::from(b.protocol);
    if r != 0 {
        return r;
    }
    let r = cmp_addr(a, b);
    if r != 0 {
        return r;
    }
    i32::from(a.port) - i32::from(b.port)
}

/// ipvs_cmp_dests(): address, port.
fn cmp_dests(a: &SortKey, b: &SortKey) -> i32 {
    let r = cmp_addr(a, b);
    if r != 0 {
        return r;
    }
    i32::from(a.port) - i32::from(b.port)
}

/// glibc msort_with_tmp(): split at n/2, sort both halves, merge taking the
/// left element while cmp(left, right) <= 0.
fn glibc_msort<T: Copy>(v: &mut [(SortKey, T)], cmp: fn(&SortKey, &SortKey) -> i32) {
    let n = v.len();
    if n <= 1 {
        return;
    }
    let n1 = n / 2;
    glibc_msort(&mut v[..n1], cmp);
    glibc_msort(&mut v[n1..], cmp);
    let mut merged = Vec::with_capacity(n);
    let (mut i, mut j) = (0, n1);
    while i < n1 && j < n {
        if cmp(&v[i].0, &v[j].0) <= 0 {
            merged.push(v[i]);
            i += 1;
        } else {
            merged.push(v[j]);
            j += 1;
        }
    }
    merged.extend_from_slice(&v[i..n1]);
    merged.extend_from_slice(&v[j..]);
    v.copy_from_slice(&merged);
}

/// The services in the order ipvsadm prints them.
fn sorted_services(table: &Table) -> Vec<&ServiceLive> {
    let mut v: Vec<_> = table
        .services
        .iter()
        .map(|s| (service_sort_key(&s.spec.key), s))
        .collect();
    glibc_msort(&mut v, cmp_services);
    v.into_iter().map(|(_, s)| s).collect()
}

/// A service's destinations in the order ipvsadm prints them.
fn sorted_dests(svc: &ServiceLive) -> Vec<&DestLive> {
    let mut v: Vec<_> = svc
        .dests
        .iter()
        .map(|d| (dest_sort_key(&d.spec), d))
        .collect();
    glibc_msort(&mut v, cmp_dests);
    v.into_iter().map(|(_, d)| d).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipvs::model::{DestSpec, Stats};

    const INFO: Info = Info {
        version: 0x010201,
        conn_tab_size: 4096,
    };

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn tcp(addr: &str, port: u16) -> ServiceKey {
        ServiceKey::Addr {
            proto: Proto::Tcp,
            addr: ip(addr),
            port,
        }
    }

    fn udp(addr: &str, port: u16) -> ServiceKey {
        ServiceKey::Addr {
            proto: Proto::Udp,
            addr: ip(addr),
            port,
        }
    }

    /// A service as the kernel reports it: HASHED set, full netmask.
    fn svc(key: ServiceKey, scheduler: &str, dests: Vec<DestLive>) -> ServiceLive {
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

    fn persistent(mut s: ServiceLive, timeout: u32, prefix: u8) -> ServiceLive {
        s.spec.flags |= flags::PERSISTENT;
        s.spec.timeout = timeout;
        s.spec.netmask = ServiceSpec::netmask_for(s.spec.key.is_v6(), prefix);
        s
    }

    fn with_flags(mut s: ServiceLive, f: u32) -> ServiceLive {
        s.spec.flags |= f;
        s
    }

    fn dest(addr: &str, port: u16, forward: Forward, weight: u32) -> DestLive {
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

    fn conns(mut d: DestLive, active: u32, inact: u32) -> DestLive {
        d.active_conns = active;
        d.inact_conns = inact;
        d
    }

    fn tunnel(addr: &str, port: u16, tun_type: TunType, tun_port: u16, tf: u16) -> DestLive {
        let mut d = dest(addr, port, Forward::Tunnel, 1);
        d.spec.tun_type = tun_type;
        d.spec.tun_port = tun_port;
        d.spec.tun_flags = tf;
        d
    }

    fn table(services: Vec<ServiceLive>) -> Table {
        Table { services }
    }

    /// NAT, DR, TUN and a local node, given out of order.
    fn basic_table() -> Table {
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
    fn persist_table() -> Table {
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
    fn sched_table() -> Table {
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
    fn fwmark_v6_table() -> Table {
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
    fn tunnel_table() -> Table {
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

    fn stats(v: [u64; 10]) -> Stats {
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
    fn stats_table() -> Table {
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
    fn wrap_table() -> Table {
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
    fn lines(l: &[&str]) -> String {
        l.iter().map(|l| format!("{l}\n")).collect()
    }

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
    fn save_ipv4_nat_dr_tun_sorted() {
        let want = lines(&[
            "-A -t 10.0.0.1:80 -s rr",
            "-a -t 10.0.0.1:80 -r 10.0.1.2:80 -m -w 65535",
            "-a -t 10.0.0.1:80 -r 10.0.1.2:8080 -g -w 1",
            "-a -t 10.0.0.1:80 -r 10.0.1.3:8080 -m -w 1",
            "-A -t 10.0.0.2:443 -s wrr",
            "-a -t 10.0.0.2:443 -r 10.0.2.1:443 -i -w 0 --tun-type ipip",
            "-a -t 10.0.0.2:443 -r 10.0.2.2:443 -i -w 3 --tun-type ipip",
            "-A -u 10.0.0.1:53 -s wlc",
            "-a -u 10.0.0.1:53 -r 10.0.1.1:53 -g -w 1",
        ]);
        assert_eq!(save(&basic_table()), want);
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
    fn save_persistence_netmask_and_pe() {
        // --pe is saved even for the non-persistent service.
        let want = lines(&[
            "-A -t 10.0.0.5:0 -s wlc -p 300 -M 255.255.255.0",
            "-a -t 10.0.0.5:0 -r 10.0.5.1:0 -g -w 1",
            "-A -t 10.0.0.5:443 -s lc -p 3600",
            "-A -t 10.0.0.7:80 -s rr --pe sip",
            "-A -u 10.0.0.6:5060 -s rr -p 180 --pe sip",
            "-a -u 10.0.0.6:5060 -r 10.0.6.1:5060 -m -w 1",
        ]);
        assert_eq!(save(&persist_table()), want);
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
    fn save_sched_flags_and_ops() {
        // "sh" with only flag-3 has no name for it: ipvsadm leaves "-b ".
        let want = lines(&[
            "-A -t 10.0.0.3:80 -s sh -b sh-fallback,sh-port",
            "-a -t 10.0.0.3:80 -r 10.0.3.1:80 -g -w 1",
            "-A -t 10.0.0.3:81 -s mh -b mh-port",
            "-A -t 10.0.0.3:82 -s rr -b flag-1,flag-3",
            "-A -t 10.0.0.3:83 -s sh -b ",
            "-A -u 10.0.0.4:53 -s rr -o",
            "-a -u 10.0.0.4:53 -r 10.0.4.1:53 -g -w 1",
            "-A -u 10.0.0.4:54 -s sh -p 60 -o -b sh-fallback",
        ]);
        assert_eq!(save(&sched_table()), want);
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
    fn save_fwmark_and_ipv6() {
        let want = lines(&[
            "-A -t 10.0.0.9:80 -s rr",
            "-a -t 10.0.0.9:80 -r 10.0.9.1:80 -g -w 1",
            "-A -t [2001:db8::1]:80 -s wlc",
            "-a -t [2001:db8::1]:80 -r [2001:db8::10]:80 -m -w 1",
            "-a -t [2001:db8::1]:80 -r [2001:db8:0:0:1::]:8080 -m -w 1",
            "-A -t [2001:db8::1]:443 -s sh -p 300 -M 48",
            "-a -t [2001:db8::1]:443 -r [2001:db8::20]:443 -g -w 1",
            "-A -f 1 -s wlc",
            "-a -f 1 -r 10.0.3.1:0 -g -w 1",
            "-a -f 1 -r 10.0.3.2:0 -g -w 1",
            "-A -f 2 -6 -s rr -p 60 -M 64",
            "-a -f 2 -6 -r [2001:db8::a]:0 -g -w 1",
        ]);
        assert_eq!(save(&fwmark_v6_table()), want);
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
    fn save_tunnel_options_and_no_thresholds() {
        let want = lines(&[
            "-A -t 10.0.0.8:80 -s rr",
            "-a -t 10.0.0.8:80 -r 10.0.8.1:80 -i -w 1 --tun-type ipip",
            "-a -t 10.0.0.8:80 -r 10.0.8.2:80 -i -w 1 --tun-type gue --tun-port 5555 --tun-nocsum",
            "-a -t 10.0.0.8:80 -r 10.0.8.3:80 -i -w 1 --tun-type gue --tun-port 6080 --tun-csum",
            "-a -t 10.0.0.8:80 -r 10.0.8.4:80 -i -w 1 --tun-type gue --tun-port 65535 --tun-remcsum",
            "-a -t 10.0.0.8:80 -r 10.0.8.5:80 -i -w 1 --tun-type gre --tun-csum",
            "-a -t 10.0.0.8:80 -r 10.0.8.6:80 -i -w 1 --tun-type gre --tun-nocsum",
            "-a -t 10.0.0.8:80 -r 10.0.8.7:80 -g -w 2",
            "-a -t 10.0.0.8:80 -r [2001:db8::8]:80 -i -w 1 --tun-type gre --tun-nocsum",
        ]);
        assert_eq!(save(&tunnel_table()), want);
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

    #[test]
    fn empty_table() {
        let want = lines(&[
            "IP Virtual Server version 1.2.1 (size=4096)",
            "Prot LocalAddress:Port Scheduler Flags",
            "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn",
        ]);
        assert_eq!(list(&Table::default(), &INFO, ListMode::Plain), want);
        assert_eq!(save(&Table::default()), "");
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
    fn bypass_prints_as_glibc_null() {
        let t = table(vec![svc(
            tcp("10.0.0.1", 80),
            "rr",
            vec![dest("10.0.0.2", 80, Forward::Bypass, 1)],
        )]);
        assert!(
            list(&t, &INFO, ListMode::Plain).ends_with(
                "  -> 10.0.0.2:80                  (null)  1      0          0         \n"
            )
        );
        assert!(save(&t).ends_with("-a -t 10.0.0.1:80 -r 10.0.0.2:80 (null) -w 1\n"));
    }

    #[test]
    fn sctp_service() {
        let t = table(vec![svc(
            ServiceKey::Addr {
                proto: Proto::Sctp,
                addr: ip("10.0.0.1"),
                port: 9,
            },
            "rr",
            vec![],
        )]);
        assert!(list(&t, &INFO, ListMode::Plain).ends_with("\nSCTP 10.0.0.1:9 rr\n"));
        assert_eq!(save(&t), "-A --sctp-service 10.0.0.1:9 -s rr\n");
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

    #[test]
    fn ntop6_matches_glibc() {
        // Checked against glibc 2.36 inet_ntop().
        let cases = [
            ("::", "::"),
            ("::1", "::1"),
            ("1::", "1::"),
            ("::1.2.3.4", "::1.2.3.4"),
            ("::ffff:1.2.3.4", "::ffff:1.2.3.4"),
            ("::ffff:0:0", "::ffff:0.0.0.0"),
            ("::0.0.1.0", "::100"),
            ("1:0:0:2:0:0:0:3", "1:0:0:2::3"),
            ("1:0:0:2:0:0:3:4", "1::2:0:0:3:4"),
            ("1:0:2:3:4:5:6:7", "1:0:2:3:4:5:6:7"),
            ("2001:db8::1:0:0:0", "2001:db8:0:0:1::"),
            ("fe80::ABCD", "fe80::abcd"),
        ];
        for (a, want) in cases {
            let a: Ipv6Addr = a.parse().unwrap();
            assert_eq!(ntop6(&a), want, "{a}");
        }
    }

    #[test]
    fn netmask_is_the_kernel_be32() {
        // The kernel's __be32 for 255.255.240.0, read as a native u32.
        let mut s = persistent(svc(tcp("10.0.0.1", 0), "wlc", vec![]), 300, 32);
        s.spec.netmask = u32::from_ne_bytes([255, 255, 240, 0]);
        assert_eq!(s.spec.netmask, ServiceSpec::netmask_for(false, 20));
        let t = table(vec![s]);
        assert!(save(&t).contains(" -p 300 -M 255.255.240.0\n"));
    }
}

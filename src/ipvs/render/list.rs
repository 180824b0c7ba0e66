//! `ipvsadm -Ln` and its variants (`--stats`, `--rate`, `--thresholds`,
//! `--persistent-conn`, `--tun-info`): print_title() and
//! print_service_entry() without FMT_RULE.
//!
//! Talks to: `fields` (shared field formats), `order` (ipvsadm's sort),
//! `ipvs::model` (the table).

use std::fmt::Write as _;

use super::fields::{SCHED_FLAGS, addr_port, netmask_text, pe_name, sched_flags, tun_flags_index};
use super::order::{sorted_dests, sorted_services};
use crate::ipvs::model::{
    DestSpec, Forward, Info, ServiceKey, ServiceLive, Stats, Table, TunType, flags,
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

/// svc_name in the listing: "%-4s %s" (cut at 33 for non-IPv6), or
/// "FWM  %u" with " IPv6" for an AF_INET6 fwmark service.
pub(super) fn list_service_name(key: &ServiceKey) -> String {
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
pub(super) fn largenum(i: u64) -> String {
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

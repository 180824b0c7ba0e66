//! `ipvsadm -Sn` (what `ipvsadm-save -n` prints): print_service_entry()
//! with FMT_RULE, one `-A` line a service and one `-a` line a destination.
//!
//! Talks to: `fields` (shared field formats), `order` (ipvsadm's sort),
//! `ipvs::model` (the table).

use std::fmt::Write as _;

use super::fields::{SCHED_FLAGS, addr_port, netmask_text, pe_name, sched_flags, tun_flags_index};
use super::order::{sorted_dests, sorted_services};
use crate::ipvs::model::{Forward, Proto, ServiceKey, ServiceLive, Table, TunType, flags};

/// `ipvsadm -Sn`: list_all() with FMT_RULE | FMT_NUMERIC (no header, no
/// title). Thresholds are not saved by ipvsadm, so they are not here either.
pub fn save(table: &Table) -> String {
    let mut out = String::new();
    for svc in sorted_services(table) {
        save_service(&mut out, svc);
    }
    out
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

/// fwd_switch(): a local node saves as -g; Bypass as glibc's "(null)".
fn fwd_switch(f: Forward) -> &'static str {
    match f {
        Forward::Masq => "-m",
        Forward::Tunnel => "-i",
        Forward::Local | Forward::Route => "-g",
        Forward::Bypass => "(null)",
    }
}

fn tun_flags_opt(f: u16) -> &'static str {
    ["--tun-nocsum", "--tun-csum", "--tun-remcsum"][tun_flags_index(f)]
}

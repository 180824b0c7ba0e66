//! Emitting: the built table as pharos TOML, through the shared emitter
//! (`import/emit.rs`) and service names (`import/naming.rs`): `[system]`
//! forwarding for NAT, `[ipvs]` timeouts, one `[services.NAME]` per
//! service in input order with its real servers, and every note in place.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use crate::config::model::{Forwarding, Protocol, SchedulerFlag};
use crate::config::types::{Duration, Endpoint};
use crate::import::emit;
use crate::import::naming::{ServiceId as SvcKey, service_name, unique_name};

use super::table::*;

impl Importer {
    // ------------------------------------------------------------ output

    pub(super) fn render(&mut self, file_name: &str) -> String {
        self.finish();
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# Imported from `{}` by `pharos import ipvsadm`.",
            emit::sanitize(file_name)
        );
        out.push_str(concat!(
            "#\n",
            "# ipvsadm holds only the IPVS table. Still to add by hand: the VIPs (on an\n",
            "# interface, or in a VRRP instance that each service names with `vrrp`),\n",
            "# health checks (`check`), and the director's network. Comments starting\n",
            "# `# line N:` say what did not carry over from line N.\n",
        ));

        let live: Vec<&Svc> = self.services.iter().flatten().collect();
        let nat = |svc: &&Svc, v6: bool| {
            svc.servers()
                .any(|rs| rs.attrs.forwarding == Forwarding::Nat && rs.endpoint.ip.is_ipv6() == v6)
        };
        let nat4 = live.iter().any(|s| nat(s, false));
        let nat6 = live.iter().any(|s| nat(s, true));
        if nat4 || nat6 {
            out.push_str("\n[system]\n");
            out.push_str(&with_comment(
                "ip_forward = true",
                "NAT (-m) routes the replies back through the director",
            ));
            if nat6 {
                out.push_str(&with_comment(
                    "ipv6_forward = true",
                    "the same for the IPv6 NAT services",
                ));
            }
        }
        if let Some((t, lines)) = &self.timeouts
            && t.iter().any(|&v| v != 0)
        {
            let mut fields = Vec::new();
            for (name, v) in ["tcp", "tcpfin", "udp"].into_iter().zip(t) {
                if *v != 0 {
                    fields.push(format!(
                        "{name} = \"{}\"",
                        Duration::from_secs(u64::from(*v))
                    ));
                }
            }
            let lines: Vec<String> = lines.iter().map(ToString::to_string).collect();
            out.push_str("\n[ipvs]\n");
            out.push_str(&with_comment(
                &format!("timeouts = {{ {} }}", fields.join(", ")),
                &format!(
                    "--set on line{} {}",
                    if lines.len() == 1 { "" } else { "s" },
                    lines.join(", ")
                ),
            ));
        }

        let names = self.names();
        let mut after_loose = false;
        for item in &self.items {
            match item {
                Item::Service(i) => {
                    if let (Some(svc), Some(name)) = (&self.services[*i], names.get(i)) {
                        render_service(&mut out, name, svc);
                        after_loose = false;
                    }
                }
                Item::Loose(lines) => {
                    if !after_loose {
                        out.push('\n');
                    }
                    for l in lines {
                        out.push_str(l);
                        out.push('\n');
                    }
                    after_loose = true;
                }
            }
        }
        out
    }

    /// Table names from the addresses, `-2`, `-3`... on the rare clash.
    pub(super) fn names(&self) -> HashMap<usize, String> {
        let mut used = HashSet::new();
        let mut names = HashMap::new();
        for (i, svc) in self.services.iter().enumerate() {
            let Some(svc) = svc else { continue };
            let name = unique_name(&service_name(svc.key), |n| used.contains(n));
            used.insert(name.clone());
            names.insert(i, name);
        }
        names
    }
}

// ---------------------------------------------------------------- TOML text

pub(super) fn render_service(out: &mut String, name: &str, svc: &Svc) {
    let _ = writeln!(out, "\n[services.{name}]");
    match svc.key {
        SvcKey::Addr { proto, ip, port } => {
            let address = Endpoint {
                ip,
                port: (port != 0).then_some(port),
            };
            let _ = writeln!(out, "address = \"{address}\"");
            match proto {
                Protocol::Tcp => {}
                Protocol::Udp => out.push_str("protocol = \"udp\"\n"),
                Protocol::Sctp => out.push_str("protocol = \"sctp\"\n"),
            }
        }
        SvcKey::Mark { mark, v6 } => {
            let _ = writeln!(out, "fwmark = {mark}");
            let family = if v6 { "ipv6" } else { "ipv4" };
            out.push_str(&with_comment(
                &format!("family = \"{family}\""),
                "a mark has no address to tell the family by",
            ));
        }
    }
    let a = &svc.attrs;
    if let Some(s) = a.scheduler {
        let _ = writeln!(out, "scheduler = \"{}\"", s.name());
    }
    if !a.flags.is_empty() {
        let flags: Vec<&str> = a
            .flags
            .iter()
            .map(|f| match f {
                SchedulerFlag::Fallback => "\"fallback\"",
                SchedulerFlag::Port => "\"port\"",
            })
            .collect();
        let _ = writeln!(out, "scheduler_flags = [{}]", flags.join(", "));
    }
    match svc.forwarding {
        Some(f) => {
            let _ = writeln!(out, "forwarding = \"{}\"", emit::forwarding(f));
        }
        None => out.push_str(&with_comment(
            "forwarding = \"dr\"",
            "no real servers: ipvsadm's default, -g",
        )),
    }
    if let Some(t) = svc.tunnel {
        let _ = writeln!(out, "tunnel = {}", tunnel_table(t));
    }
    if let Some((secs, bare)) = a.persistence {
        let line = format!("persistence = \"{}\"", Duration::from_secs(u64::from(secs)));
        if bare {
            out.push_str(&with_comment(&line, "a bare -p: ipvsadm's default"));
        } else {
            let _ = writeln!(out, "{line}");
        }
    }
    if let Some((prefix, dotted)) = &a.netmask {
        let line = format!("persistence_netmask = {prefix}");
        match dotted {
            Some(d) => out.push_str(&with_comment(&line, &format!("-M {}", emit::sanitize(d)))),
            None => {
                let _ = writeln!(out, "{line}");
            }
        }
    }
    if a.one_packet {
        out.push_str("one_packet = true\n");
    }
    for note in &svc.notes {
        out.push_str(&comment(note));
        out.push('\n');
    }
    if svc.servers.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n[services.{name}.real_servers]");
    let svc_fwd = svc.forwarding.unwrap_or(Forwarding::Dr);
    for slot in &svc.servers {
        match slot {
            Slot::Comment(lines) => {
                for l in lines {
                    out.push_str(l);
                    out.push('\n');
                }
            }
            Slot::Server(rs) => {
                for note in &rs.notes {
                    out.push_str(&comment(note));
                    out.push('\n');
                }
                let r = &rs.attrs;
                let mut fields = Vec::new();
                if r.weight != 1 {
                    fields.push(format!("weight = {}", r.weight));
                }
                if r.forwarding != svc_fwd {
                    fields.push(format!(
                        "forwarding = \"{}\"",
                        emit::forwarding(r.forwarding)
                    ));
                }
                if r.upper > 0 {
                    fields.push(format!("upper_threshold = {}", r.upper));
                }
                if r.lower > 0 {
                    fields.push(format!("lower_threshold = {}", r.lower));
                }
                let table = if fields.is_empty() {
                    "{}".to_string()
                } else {
                    format!("{{ {} }}", fields.join(", "))
                };
                let _ = writeln!(out, "\"{}\" = {table}", rs.endpoint);
            }
        }
    }
}

/// `line` with a trailing comment at the comment column, and a newline.
pub(super) fn with_comment(line: &str, text: &str) -> String {
    let mut out = String::new();
    emit::line(&mut out, line, Some(text));
    out
}

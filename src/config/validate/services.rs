//! LVS rules: `[ipvs]` (sync daemon, timeouts) and `[services]` (one kernel
//! entry per VIP:port or fwmark, address or fwmark, family, persistence,
//! scheduler flags, tunnels, quorum, the VRRP instance that holds the VIP,
//! and each real server's family, port and forwarding method).
//!
//! Talks to: `ctx` (reporting, dangling references), `checks` (a service's
//! and its real servers' health checks).

use foldhash::HashMap;
use std::net::IpAddr;

use super::checks::{check, needs_port};
use super::ctx::Ctx;
use crate::config::model::{Config, Forwarding, Protocol, Scheduler, Service, TunnelEncapKind};
use crate::config::tree::{Node, Path};
use crate::config::types::{Endpoint, Family};
use crate::diag::Diagnostic;
use crate::path;

pub(super) fn ipvs(cfg: &Config, ctx: &mut Ctx<'_>) {
    if let Some(sync) = &cfg.ipvs.sync {
        ctx.declared(
            cfg,
            &path!["ipvs", "sync", "interface"],
            "interface",
            &sync.interface,
        );
    }
    if let Some(sync) = &cfg.ipvs.sync
        && !ctx.is_broken(&path!["ipvs", "sync"])
        && !cfg.vrrp.contains_key(&sync.follows)
    {
        ctx.dangling(
            &path!["ipvs", "sync", "follows"],
            "vrrp",
            &sync.follows,
            cfg.vrrp.keys().map(String::as_str),
        );
    }
    if let Some(t) = &cfg.ipvs.timeouts {
        for (key, d) in [("tcp", t.tcp), ("tcpfin", t.tcpfin), ("udp", t.udp)] {
            if let Some(d) = d
                && (d.0.subsec_nanos() != 0 || d.is_zero())
            {
                ctx.error(
                    &path!["ipvs", "timeouts", key],
                    format!("IPVS timeout {d} is not a whole number of seconds"),
                    "the kernel keeps these timeouts in whole seconds (at least 1s)",
                );
            }
        }
    }
}

/// Identity of a virtual service in the kernel.
#[derive(PartialEq, Eq, Hash)]
enum ServiceKey {
    Addr(Protocol, IpAddr, u16),
    Mark(u32, Family),
}

pub(super) fn services(cfg: &Config, ctx: &mut Ctx<'_>) {
    // Each virtual service's first name, and whether it was matched by
    // address (else by mark): its path is made only for a duplicate's
    // message (10,000 services, 10,000 paths not made).
    let mut seen: HashMap<ServiceKey, (&str, bool)> = HashMap::default();
    let tree = ctx.tree;
    let tables: HashMap<&str, &Node> = tree
        .get("services")
        .and_then(Node::as_table)
        .into_iter()
        .flatten()
        .map(|e| (e.key.as_str(), &e.value))
        .collect();
    for (name, svc) in &cfg.services {
        if ctx.any_broken() && ctx.is_broken(&path!["services", name]) {
            continue;
        }
        let key = match (&svc.address, svc.fwmark) {
            (Some(_), Some(_)) => {
                ctx.error_key(
                    &path!["services", name].k("fwmark"),
                    format!("service `{name}` has both `address` and `fwmark`"),
                    "a service is matched by VIP:port or by firewall mark: keep one",
                );
                None
            }
            (None, None) => {
                ctx.error_key(
                    &path!["services", name],
                    format!("service `{name}` has neither `address` nor `fwmark`"),
                    "add `address = \"VIP:port\"` (or `fwmark = N` for a firewall-mark service)",
                );
                None
            }
            (Some(a), None) => Some(ServiceKey::Addr(svc.protocol, a.ip, a.port.unwrap_or(0))),
            (None, Some(m)) => Some(ServiceKey::Mark(
                m.get(),
                svc.family.unwrap_or(Family::Ipv4),
            )),
        };
        if let Some(k) = key {
            let at = |name: &str, address: bool| {
                path!["services", name].k(if address { "address" } else { "fwmark" })
            };
            if let Some(&(first, address)) = seen.get(&k) {
                let d = Diagnostic::error(format!(
                    "service `{name}` is the same virtual service as `{first}`"
                ))
                .at(ctx.span(&at(name, svc.address.is_some())))
                .related(ctx.span(&at(first, address)), "first defined here")
                .help("the kernel has one table entry per protocol, VIP and port (or firewall mark): merge the two services");
                ctx.diags.push(d);
            } else {
                seen.insert(k, (name.as_str(), svc.address.is_some()));
            }
        }
        if ctx.is_settled(name) {
            continue;
        }
        let p = path!["services", name];
        // This service's real-server keys as written, found in one pass
        // over its table rather than a lookup per real server; one service
        // at a time, so 110,000 of them are never held at once.
        let written: HashMap<Endpoint, &str> = tables
            .get(name.as_str())
            .and_then(|s| s.get("real_servers"))
            .and_then(Node::as_table)
            .into_iter()
            .flatten()
            .filter_map(|r| {
                r.key
                    .parse::<Endpoint>()
                    .ok()
                    .map(|ep| (ep, r.key.as_str()))
            })
            .collect();
        service(cfg, name, svc, &p, &written, ctx);
    }
}

fn service(
    cfg: &Config,
    name: &str,
    svc: &Service,
    p: &Path,
    written: &HashMap<Endpoint, &str>,
    ctx: &mut Ctx<'_>,
) {
    let family = match (&svc.address, svc.family) {
        (Some(a), Some(f)) if a.family() != f => {
            ctx.error(
                &p.k("family"),
                format!(
                    "`family = \"{}\"` but the address is {}",
                    f.to_string().to_lowercase(),
                    a.family()
                ),
                "drop `family`: it is only needed for firewall-mark services",
            );
            a.family()
        }
        (Some(a), _) => a.family(),
        (None, f) => f.unwrap_or(Family::Ipv4),
    };
    let port = svc.address.and_then(|a| a.port);
    if svc.address.is_some_and(|a| a.port.is_none()) && svc.persistence.is_none() {
        ctx.error(
            &p.k("address"),
            format!("service `{name}` listens on all ports but has no persistence"),
            "a port-less service needs `persistence = \"...\"` (ipvsadm -p), so that all of a client's connections go to one real server",
        );
    }
    if !svc.scheduler_flags.is_empty() && !matches!(svc.scheduler, Scheduler::Sh | Scheduler::Mh) {
        ctx.error(
            &p.k("scheduler_flags"),
            format!(
                "scheduler flags apply to `sh` and `mh`, not `{}`",
                svc.scheduler.name()
            ),
            "drop `scheduler_flags`, or use `scheduler = \"sh\"` or `\"mh\"`",
        );
    }
    let uses_tun = svc.forwarding == Forwarding::Tun
        || svc
            .real_servers
            .values()
            .any(|r| r.forwarding == Some(Forwarding::Tun));
    if let Some(t) = &svc.tunnel {
        if !uses_tun {
            ctx.error_key(
                &p.k("tunnel"),
                "`tunnel` applies only to `forwarding = \"tun\"`",
                "drop `tunnel`, or set `forwarding = \"tun\"`",
            );
        }
        if t.kind == TunnelEncapKind::Gue && t.port.is_none() {
            ctx.error(
                &p.k("tunnel").k("type"),
                "GUE encapsulation needs a UDP `port`",
                "add `port = 6080` (or the port the real servers' fou listener uses)",
            );
        }
        if t.kind == TunnelEncapKind::Ipip && t.port.is_some() {
            ctx.error(
                &p.k("tunnel").k("port"),
                "ipip encapsulation has no port",
                "drop `port`, or use `type = \"gue\"`",
            );
        }
    }
    if let Some(d) = svc.persistence
        && (d.0.subsec_nanos() != 0 || d.is_zero())
    {
        ctx.error(
            &p.k("persistence"),
            format!("persistence {d} is not a whole number of seconds"),
            "IPVS keeps persistence in whole seconds: use at least `1s`",
        );
    }
    if let Some(n) = svc.persistence_netmask {
        if svc.persistence.is_none() {
            ctx.error(
                &p.k("persistence_netmask"),
                "`persistence_netmask` without `persistence`",
                "add `persistence = \"...\"`, or drop the netmask",
            );
        }
        if n > family.max_prefix() {
            ctx.error(
                &p.k("persistence_netmask"),
                format!("prefix length {n} is too long for {family}"),
                format!("use 0 to {}", family.max_prefix()),
            );
        }
    }
    if svc.one_packet && svc.protocol != Protocol::Udp {
        ctx.error(
            &p.k("one_packet"),
            "one-packet scheduling applies to UDP services only",
            "drop `one_packet`, or set `protocol = \"udp\"`",
        );
    }
    if let Some(s) = &svc.sorry_server
        && s.family() != family
    {
        ctx.error(
            &p.k("sorry_server"),
            format!(
                "the sorry server is {} but the service is {family}",
                s.family()
            ),
            "use a sorry server of the service's family",
        );
    }
    // The kernel takes the sorry server as a real server: the same rule.
    if let Some(s) = &svc.sorry_server
        && let Some(what) = not_a_host(s.ip)
    {
        ctx.error(
            &p.k("sorry_server"),
            format!("the sorry server {s} is {what}, not one host's"),
            "write the sorry server's own (unicast) address",
        );
    }
    let total: u64 = svc
        .real_servers
        .values()
        .map(|r| u64::from(r.weight.get()))
        .sum();
    if let Some(q) = svc.quorum {
        if q == 0 {
            ctx.error(
                &p.k("quorum"),
                "a quorum of 0 is always met",
                "drop `quorum`, or set it to the total weight that must be up",
            );
        } else if u64::from(q) > total {
            ctx.warn(
                &p.k("quorum"),
                format!("quorum {q} is more than the total weight {total} of the real servers"),
                "the service can never be up; lower the quorum or add real servers",
            );
        }
    } else if svc.hysteresis > 0 {
        ctx.warn(
            &p.k("hysteresis"),
            "`hysteresis` without `quorum` has no effect",
            "add `quorum`, or drop `hysteresis`",
        );
    }
    if let Some(v) = &svc.vrrp {
        match cfg.vrrp.get(v) {
            None => {
                ctx.dangling(&p.k("vrrp"), "vrrp", v, cfg.vrrp.keys().map(String::as_str));
            }
            Some(inst) => {
                let inst_family = inst.virtual_addresses.first().map(|a| a.0.family());
                if svc.address.is_none() && inst_family.is_some_and(|f| f != family) {
                    ctx.error(&p.k("vrrp"), format!("this {family} service is bound to VRRP instance `{v}`, whose addresses are {}", inst_family.unwrap_or(Family::Ipv4)), "bind it to an instance of the service's family");
                }
                if let Some(a) = &svc.address
                    && !inst.virtual_addresses.iter().any(|va| va.0.addr == a.ip)
                {
                    ctx.error(&p.k("address"), format!("{} is not a virtual address of VRRP instance `{v}`", a.ip), format!("add {} to `vrrp.{v}.virtual_addresses`, or bind the service to the instance that holds it", a.ip));
                }
            }
        }
    }
    if let Some(c) = &svc.check {
        check(c, &|| p.k("check"), false, ctx);
        // A port-less or firewall-mark service may have real servers
        // without ports: then the check must say where to connect.
        let portless = svc
            .real_servers
            .iter()
            .find(|(ep, rs)| ep.port.is_none() && port.is_none() && rs.check.is_none());
        if let Some((ep, _)) = portless
            && c.port.is_none()
            && needs_port(c.kind)
        {
            ctx.error_key(
                &p.k("check"),
                format!("the `{}` check has no port to probe on {ep}", c.kind.name()),
                "the service and its real servers have no port: add `port = N` to the check",
            );
        }
    }
    if svc.real_servers.is_empty() && svc.sorry_server.is_none() {
        ctx.warn(
            &p.k("address"),
            format!("service `{name}` has no real servers and no sorry server"),
            "add `[services.NAME.real_servers]`, or a `sorry_server`",
        );
    }
    let mut needs_forwarding = false;
    for (ep, rs) in &svc.real_servers {
        // A key that differs in spelling (`[::1]:80` vs `[0::1]:80`) is
        // found by its written form.
        // Made only for a problem to report (100,000 real servers).
        let rp = || {
            p.k("real_servers").k(written
                .get(ep)
                .map_or_else(|| ep.to_string(), |k| (*k).to_string()))
        };
        let fwd = rs.forwarding.unwrap_or(svc.forwarding);
        needs_forwarding |= fwd == Forwarding::Nat;
        if ep.family() != family && fwd != Forwarding::Tun {
            ctx.error_key(
                &rp(),
                format!(
                    "real server {ep} is {} but the service is {family}",
                    ep.family()
                ),
                "only tunnelled real servers may be of the other family",
            );
        }
        if Some(ep.ip) == svc.address.map(|a| a.ip) {
            ctx.error_key(
                &rp(),
                format!("real server {ep} is the VIP itself"),
                "list the real servers' own addresses",
            );
        }
        // The kernel takes only a local or unicast address for a real
        // server (ip_vs_new_dest: EINVAL otherwise); these are never one.
        if let Some(what) = not_a_host(ep.ip) {
            ctx.error_key(
                &rp(),
                format!("real server {ep} is {what}, not one host's"),
                "write the real server's own (unicast) address",
            );
        }
        match (fwd, port, ep.port) {
            (Forwarding::Dr | Forwarding::Tun, Some(sp), Some(rp_)) if sp != rp_ => {
                let how = if fwd == Forwarding::Dr { "DR" } else { "TUN" };
                ctx.error_key(
                    &rp(),
                    format!("{how} forwarding cannot send port {sp} to port {rp_}"),
                    format!("{how} passes packets to the real server unchanged, so it must listen on {sp}: write `{}:{sp}`, or use `forwarding = \"nat\"` to remap ports", host(ep)),
                );
            }
            (_, None, Some(_)) if svc.address.is_some() => {
                ctx.error_key(
                    &rp(),
                    format!("real server {ep} has a port but the service listens on all ports"),
                    format!("write the real server without a port: `{}`", host(ep)),
                );
            }
            _ => {}
        }
        if let (Some(lo), Some(hi)) = (rs.lower_threshold, rs.upper_threshold)
            && lo > hi
        {
            ctx.error(&rp().k("lower_threshold"), format!("lower threshold {lo} is above the upper threshold {hi}"), "the server stops taking connections at `upper_threshold` and resumes below `lower_threshold`");
        }
        if let Some(c) = &rs.check {
            check(c, &|| rp().k("check"), false, ctx);
            if c.port.is_none() && needs_port(c.kind) && ep.port.is_none() && port.is_none() {
                ctx.error_key(
                    &rp().k("check"),
                    format!("the `{}` check has no port to probe on {ep}", c.kind.name()),
                    "add `port = N` to the check",
                );
            }
        }
    }
    if needs_forwarding && cfg.system.ip_forward != Some(true) {
        let at = if svc.forwarding == Forwarding::Nat {
            p.k("forwarding")
        } else {
            p.k("real_servers")
        };
        ctx.error(
            &at,
            format!("NAT forwarding for service `{name}` needs IP forwarding"),
            "set `ip_forward = true` under `[system]`: replies from the real servers are routed back through the director",
        );
    }
}

/// What `ip` is when no host can have it: the unspecified address, a
/// multicast group, IPv4's limited broadcast.
/// What `ip` is when it is no one host's address (a real server or sorry
/// server cannot be; `import keepalived` leaves such ones out).
pub(crate) fn not_a_host(ip: IpAddr) -> Option<&'static str> {
    if ip.is_unspecified() {
        Some("the unspecified address")
    } else if ip.is_multicast() {
        Some("a multicast address")
    } else if ip == IpAddr::V4(std::net::Ipv4Addr::BROADCAST) {
        Some("the broadcast address")
    } else {
        None
    }
}

fn host(ep: &Endpoint) -> String {
    match ep.ip {
        IpAddr::V6(ip) => format!("[{ip}]"),
        ip => ip.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{VRRP, one_error_each};

    #[test]
    fn a_second_service_on_the_same_vip_points_at_both_addresses() {
        let text = "[services.a]\naddress = \"10.0.0.1:80\"\nforwarding = \"dr\"\n[services.b]\nfwmark = 3\nforwarding = \"dr\"\n[services.c]\naddress = \"10.0.0.1:80\"\nforwarding = \"dr\"\n";
        let c = crate::config::check_text(text, &crate::config::Selection::All);
        let d = c
            .diagnostics
            .iter()
            .find(|d| d.message.contains("same virtual service"))
            .expect("the duplicate is reported");
        assert_eq!(d.message, "service `c` is the same virtual service as `a`");
        let at = d.span.clone().expect("placed");
        assert_eq!(&text[at.clone()], "\"10.0.0.1:80\"");
        assert!(at.start > text.find("[services.c]").unwrap());
        let (first, why) = &d.related[0];
        assert_eq!(why, "first defined here");
        assert_eq!(&text[first.clone()], "\"10.0.0.1:80\"");
        assert!(first.start < text.find("[services.b]").unwrap());
    }

    /// Each snippet yields exactly one error, whose message contains the text.
    #[test]
    fn each_lvs_rule_reports_its_own_error() {
        one_error_each(&[
            (
                &format!(
                    "{VRRP}virtual_addresses = [\"10.0.0.1\"]\n[ipvs.sync]\ninterface = \"eth0\"\nfollows = \"W\"\n"
                ),
                "`W` is not defined in `[vrrp]`",
            ),
            (
                "[services.a]\naddress = \"10.0.0.1:80\"\nforwarding = \"dr\"\nsorry_server = \"10.0.0.9:80\"\n[services.b]\naddress = \"10.0.0.1:80\"\nforwarding = \"dr\"\nsorry_server = \"10.0.0.9:80\"\n",
                "same virtual service",
            ),
            (
                "[services.a]\nfwmark = 1\naddress = \"10.0.0.1:80\"\nforwarding = \"dr\"\nsorry_server = \"10.0.0.9:80\"\n",
                "both `address` and `fwmark`",
            ),
            (
                "[services.a]\nforwarding = \"dr\"\nsorry_server = \"10.0.0.9:80\"\n",
                "neither `address` nor `fwmark`",
            ),
            (
                "[services.a]\naddress = \"10.0.0.1:80\"\nforwarding = \"dr\"\nscheduler = \"rr\"\nscheduler_flags = [\"port\"]\nsorry_server = \"10.0.0.9:80\"\n",
                "scheduler flags apply to `sh` and `mh`",
            ),
            (
                "[services.a]\naddress = \"10.0.0.1:53\"\nforwarding = \"dr\"\none_packet = true\nsorry_server = \"10.0.0.9:53\"\n",
                "UDP services only",
            ),
            (
                "[services.a]\naddress = \"10.0.0.1:80\"\nforwarding = \"tun\"\ntunnel = { type = \"gue\" }\nsorry_server = \"10.0.0.9:80\"\n",
                "GUE encapsulation needs a UDP `port`",
            ),
            (
                "[services.a]\naddress = \"10.0.0.1:80\"\nforwarding = \"tun\"\n[services.a.real_servers]\n\"10.0.0.2:8080\" = {}\n",
                "TUN forwarding cannot send port 80 to port 8080",
            ),
            (
                "[services.a]\naddress = \"10.0.0.1:80\"\nforwarding = \"dr\"\n[services.a.real_servers]\n\"[2001:db8::2]:80\" = {}\n",
                "is IPv6 but the service is IPv4",
            ),
            (
                "[services.a]\naddress = \"10.0.0.1:80\"\nforwarding = \"dr\"\n[services.a.real_servers]\n\"224.0.0.1:80\" = {}\n",
                "real server 224.0.0.1:80 is a multicast address, not one host's",
            ),
            (
                "[services.a]\naddress = \"10.0.0.1:80\"\nforwarding = \"dr\"\n[services.a.real_servers]\n\"255.255.255.255:80\" = {}\n",
                "is the broadcast address",
            ),
            (
                "[services.a]\naddress = \"[2001:db8::1]:80\"\nforwarding = \"dr\"\n[services.a.real_servers]\n\"[::]:80\" = {}\n",
                "is the unspecified address",
            ),
            (
                "[services.a]\naddress = \"10.0.0.1:80\"\nforwarding = \"dr\"\nsorry_server = \"239.1.2.3:80\"\n",
                "the sorry server 239.1.2.3:80 is a multicast address, not one host's",
            ),
            (
                "[services.a]\naddress = \"10.0.0.1:80\"\nforwarding = \"dr\"\nvrrp = \"V\"\n[services.a.real_servers]\n\"10.0.0.2:80\" = {}\n",
                "`V` is not defined in `[vrrp]`",
            ),
            (
                &format!(
                    "{VRRP}virtual_addresses = [\"10.0.0.1\"]\n[services.a]\naddress = \"10.0.0.5:80\"\nforwarding = \"dr\"\nvrrp = \"V\"\n[services.a.real_servers]\n\"10.0.0.2:80\" = {{}}\n"
                ),
                "not a virtual address of VRRP instance `V`",
            ),
            (
                "[services.a]\naddress = \"10.0.0.1:80\"\nforwarding = \"dr\"\npersistence = \"1500ms\"\nsorry_server = \"10.0.0.9:80\"\n",
                "not a whole number of seconds",
            ),
            (
                "[services.a]\naddress = \"10.0.0.1:80\"\nforwarding = \"dr\"\npersistence_netmask = 24\nsorry_server = \"10.0.0.9:80\"\n",
                "without `persistence`",
            ),
            (
                "[services.a]\naddress = \"10.0.0.1\"\npersistence = \"60s\"\nforwarding = \"dr\"\ncheck = { type = \"tcp\" }\n[services.a.real_servers]\n\"10.0.0.2\" = {}\n",
                "has no port to probe on 10.0.0.2",
            ),
            (
                "[services.a]\nfwmark = 3\nforwarding = \"dr\"\n[services.a.real_servers]\n\"10.0.0.2\" = { check = { type = \"udp\", payload = \"x\" } }\n",
                "has no port to probe on 10.0.0.2",
            ),
            (
                &format!(
                    "{VRRP}virtual_addresses = [\"10.0.0.1\"]\n[services.a]\nfwmark = 1\nfamily = \"ipv6\"\nforwarding = \"dr\"\nvrrp = \"V\"\nsorry_server = \"[::1]:80\"\n"
                ),
                "bound to VRRP instance `V`, whose addresses are IPv4",
            ),
        ]);
    }
}

//! Rules of `[bgp]` and of the services' `announce`: AS numbers a session
//! may carry, at least one neighbour and no address twice, a router id,
//! absolute paths, and for each announced VIP a `[bgp]` to announce it
//! with, an address to announce (not a firewall mark) and a neighbour of
//! its family.
//!
//! Talks to: `ctx` (reporting) only.

use std::collections::HashMap;
use std::net::IpAddr;

use super::ctx::Ctx;
use crate::config::model::Config;
use crate::path;

/// Why an AS number cannot be a session's, if it cannot.
fn bad_as(asn: u32) -> Option<&'static str> {
    match asn {
        0 => Some("AS 0 is reserved (RFC 7607)"),
        // RFC 6793 §9: AS_TRANS stands in for a 4-byte AS towards an old speaker.
        23456 => Some("AS 23456 is AS_TRANS (RFC 6793), not an AS of its own"),
        u32::MAX => Some("AS 4294967295 is reserved (RFC 7300)"),
        _ => None,
    }
}

pub(super) fn bgp(cfg: &Config, ctx: &mut Ctx<'_>) {
    let announcing = cfg
        .services
        .iter()
        .filter(|(_, s)| s.announce.is_some())
        .collect::<Vec<_>>();
    for (name, svc) in &announcing {
        let p = path!["services", name.as_str()].k("announce");
        if ctx.is_settled(name) || ctx.is_broken(&p) {
            continue;
        }
        let Some(announce) = &svc.announce else {
            continue;
        };
        if cfg.bgp.is_none() {
            ctx.error(
                &p,
                format!("service `{name}` is announced, but there is no `[bgp]`"),
                "add `[bgp]` with `local_as`, `router_id` and a `[bgp.neighbors.NAME]`, \
                 or remove `announce`",
            );
        }
        if svc.address.is_none() && svc.fwmark.is_some() {
            ctx.error(
                &p,
                format!("service `{name}` is a firewall-mark service: it has no VIP to announce"),
                "announce the address services on the same VIPs, or give this one an `address`",
            );
        }
        if announce.prepend > 8 {
            ctx.error(
                &p.k("prepend"),
                format!("prepend {} is more than 8", announce.prepend),
                "a few prepends already make a path the longest; 1 to 3 is usual",
            );
        }
    }
    // One route per VIP carries one set of attributes.
    let mut by_vip: HashMap<IpAddr, &str> = HashMap::new();
    for (name, svc) in &announcing {
        let (Some(a), Some(ann)) = (&svc.address, &svc.announce) else {
            continue;
        };
        match by_vip.get(&a.ip) {
            None => {
                by_vip.insert(a.ip, name.as_str());
            }
            Some(first) if cfg.services[*first].announce.as_ref() != Some(ann) => {
                ctx.error(
                    &path!["services", name.as_str()].k("announce"),
                    format!(
                        "services `{first}` and `{name}` announce the VIP {} differently",
                        a.ip
                    ),
                    "the VIP is one route with one MED, community list and prepend: \
                     give both the same `announce`",
                );
            }
            Some(_) => {}
        }
    }
    let Some(bgp) = &cfg.bgp else { return };
    if ctx.is_broken(&path!["bgp"]) {
        return;
    }
    if let Some(why) = bad_as(bgp.local_as) {
        ctx.error(
            &path!["bgp", "local_as"],
            why,
            "use this director's AS; a private one is 64512-65534 or 4200000000-4294967294",
        );
    }
    if bgp.router_id.is_unspecified() {
        ctx.error(
            &path!["bgp", "router_id"],
            "the router id 0.0.0.0 is not allowed (RFC 6286 §2.1)",
            "use an IPv4 address of this director, a different one on each director",
        );
    }
    if !bgp.bird_dir.starts_with('/') {
        ctx.error(
            &path!["bgp", "bird_dir"],
            format!("`{}` is not an absolute path", bgp.bird_dir),
            "write the whole path, like `/run/pharos/bird`",
        );
    }
    if bgp.neighbors.is_empty() {
        ctx.error(
            &path!["bgp"],
            "`[bgp]` has no neighbours: nothing would be announced to anyone",
            "add `[bgp.neighbors.NAME]` with the router's `address` and `as`",
        );
    }
    let mut seen: HashMap<IpAddr, &str> = HashMap::new();
    for (name, n) in &bgp.neighbors {
        let p = path!["bgp", "neighbors", name];
        if ctx.is_broken(&p) {
            continue;
        }
        if let Some(why) = bad_as(n.remote_as) {
            ctx.error(&p.k("as"), why, "use the router's AS number");
        }
        if n.address.is_unspecified() || n.address.is_multicast() {
            ctx.error(
                &p.k("address"),
                format!("{} is not a router's address", n.address),
                "use the router's unicast address on the link to this director",
            );
        }
        if let Some(first) = seen.insert(n.address, name) {
            ctx.error(
                &p.k("address"),
                format!(
                    "neighbours `{first}` and `{name}` have the same address {}",
                    n.address
                ),
                "one session per router address: remove one",
            );
        }
        if let Some(f) = &n.password_file
            && !f.starts_with('/')
        {
            ctx.error(
                &p.k("password_file"),
                format!("`{f}` is not an absolute path"),
                "write the whole path, like `/config/bgp-upstream.secret`",
            );
        }
    }
    if announcing.is_empty() {
        ctx.warn(
            &path!["bgp"],
            "`[bgp]` is set but no service has `announce`: no VIP is announced",
            "add `announce = {}` to the services whose VIPs this director should announce",
        );
    }
    // A VIP goes to the neighbours of its family (IPv4 over IPv4 sessions,
    // IPv6 over IPv6): one with none would never be announced.
    for v6 in [false, true] {
        if bgp.neighbors.values().any(|n| n.address.is_ipv6() == v6) {
            continue;
        }
        if let Some((name, svc)) = announcing
            .iter()
            .find(|(_, s)| s.address.as_ref().is_some_and(|a| a.ip.is_ipv6() == v6))
        {
            let vip = svc
                .address
                .as_ref()
                .map(|a| a.ip.to_string())
                .unwrap_or_default();
            let family = if v6 { "IPv6" } else { "IPv4" };
            ctx.error(
                &path!["services", name.as_str()].k("announce"),
                format!("the VIP {vip} is {family}, and no neighbour in `[bgp]` is"),
                format!("add a neighbour with an {family} address, or remove `announce`"),
            );
        }
    }
}

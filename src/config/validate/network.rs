//! Rules of `[interfaces]`, `[tunnels]` and `[routes]`: MTU and VLAN ranges,
//! one link kind per interface, bond/bridge/VLAN/macvlan membership, MACs and
//! addresses claimed once across interfaces and tunnels, tunnel endpoints,
//! and routes whose gateway and source match their family.
//!
//! Talks to: `ctx` (reporting, declared-interface warnings).

use std::collections::HashMap;
use std::net::IpAddr;

use super::ctx::Ctx;
use crate::config::model::{Config, TunnelKind};
use crate::config::tree::Path;
use crate::config::types::Family;
use crate::diag::Diagnostic;
use crate::path;

pub(super) fn links(cfg: &Config, ctx: &mut Ctx<'_>) {
    let mut owners: HashMap<IpAddr, Path> = HashMap::new();
    let mut macs: HashMap<String, Path> = HashMap::new();
    for (name, ifc) in &cfg.interfaces {
        let p = path!["interfaces", name.as_str()];
        if ctx.is_broken(&p) {
            continue;
        }
        if let Some(mtu) = ifc.mtu
            && !(68..=65535).contains(&mtu)
        {
            ctx.error(
                &p.k("mtu"),
                format!("MTU {mtu} is out of range"),
                "an MTU is 68 to 65535 bytes",
            );
        }
        let kinds: Vec<&str> = [
            ("vlan", ifc.vlan.is_some()),
            ("bond", ifc.bond.is_some()),
            ("dummy", ifc.dummy),
            ("bridge", ifc.bridge.is_some()),
            ("macvlan", ifc.macvlan.is_some()),
        ]
        .into_iter()
        .filter_map(|(k, on)| on.then_some(k))
        .collect();
        if kinds.len() > 1 {
            ctx.error_key(
                &p.k(kinds[1]),
                format!(
                    "interface `{name}` cannot be both a {} and a {}",
                    kinds[0], kinds[1]
                ),
                "keep one of `vlan`, `bond`, `dummy`, `bridge` and `macvlan`",
            );
        }
        if let Some(vlan) = &ifc.vlan {
            if !(1..=4094).contains(&vlan.id) {
                ctx.error(
                    &p.k("vlan").k("id"),
                    format!("VLAN id {} is out of range", vlan.id),
                    "an 802.1Q VLAN id is 1 to 4094",
                );
            }
            if &vlan.parent == name {
                ctx.error(
                    &p.k("vlan").k("parent"),
                    "a VLAN cannot be its own parent",
                    "name the physical interface that carries the VLAN",
                );
            }
        }
        if let Some(mv) = &ifc.macvlan
            && &mv.parent == name
        {
            ctx.error(
                &p.k("macvlan").k("parent"),
                "a macvlan cannot be its own parent",
                "name the interface the macvlan sits on",
            );
        }
        if let Some(br) = &ifc.bridge
            && let Some(i) = br.members.iter().position(|m| m == name)
        {
            ctx.error(
                &p.k("bridge").k("members").i(i),
                format!("bridge `{name}` cannot be a port of itself"),
                "list the interfaces that join the bridge",
            );
        }
        if let Some(bond) = &ifc.bond {
            if bond.members.is_empty() {
                ctx.error(
                    &p.k("bond").k("members"),
                    format!("bond `{name}` has no members"),
                    "list the interfaces to enslave, like `[\"eth1\", \"eth2\"]`",
                );
            }
            if let Some(primary) = &bond.primary
                && !bond.members.contains(primary)
            {
                ctx.error(
                    &p.k("bond").k("primary"),
                    format!("primary `{primary}` is not a member of bond `{name}`"),
                    "name one of the bond's `members`",
                );
            }
            for (i, m) in bond.members.iter().enumerate() {
                if cfg
                    .interfaces
                    .get(m)
                    .is_some_and(|x| !x.addresses.is_empty())
                {
                    ctx.error(
                        &p.k("bond").k("members").i(i),
                        format!("bond member `{m}` has addresses of its own"),
                        format!("move the addresses of `{m}` to `{name}`"),
                    );
                }
            }
        }
        if let Some(m) = &ifc.match_ {
            let key = m.mac.to_string();
            let mp = p.k("match").k("mac");
            if let Some(first) = macs.get(&key) {
                let d =
                    Diagnostic::error(format!("MAC address {key} is matched by two interfaces"))
                        .at(ctx.span(&mp))
                        .related(ctx.span(first), "also matched here")
                        .help("each physical interface can be matched once");
                ctx.diags.push(d);
            } else {
                macs.insert(key, mp);
            }
        }
        for (i, a) in ifc.addresses.iter().enumerate() {
            claim_address(&mut owners, a.addr, p.k("addresses").i(i), ctx);
        }
    }
    for (name, t) in &cfg.tunnels {
        let p = path!["tunnels", name.as_str()];
        if ctx.is_broken(&p) {
            continue;
        }
        if cfg.interfaces.contains_key(name) {
            ctx.error_key(
                &p,
                format!("`{name}` is both an interface and a tunnel"),
                "give the tunnel its own name",
            );
        }
        for (key, ip) in [("local", t.local), ("remote", t.remote)] {
            if let Some(ip) = ip
                && ip.family() == Family::Ipv6
            {
                ctx.error(
                    &p.k(key),
                    format!(
                        "{} tunnels carry IPv4 only, but `{key}` is {ip}",
                        kind_name(t.kind)
                    ),
                    "use IPv4 endpoints",
                );
            }
        }
        if name.as_str() == "tunl0"
            && (t.local.is_some() || t.remote.is_some() || t.kind != TunnelKind::Ipip)
        {
            ctx.error_key(
                &p,
                "`tunl0` is the kernel's ipip fallback device: it has no endpoints",
                "leave out `local` and `remote` (and keep `type = \"ipip\"`), or give a point-to-point tunnel another name",
            );
        }
        for (i, a) in t.addresses.iter().enumerate() {
            claim_address(&mut owners, a.addr, p.k("addresses").i(i), ctx);
        }
    }
    for (name, r) in &cfg.routes {
        let p = path!["routes", name];
        if ctx.is_broken(&p) {
            continue;
        }
        let family = match r.to {
            crate::config::types::RouteTarget::Prefix(c) => Some(c.family()),
            crate::config::types::RouteTarget::Default => r.via.map(|v| v.family()),
        };
        if let Some(dev) = &r.dev {
            ctx.declared(cfg, &p.k("dev"), "interface", dev);
        }
        if r.via.is_none() && r.dev.is_none() {
            ctx.error_key(
                &p,
                format!("route `{name}` has neither `via` nor `dev`"),
                "add a gateway (`via = \"192.168.1.1\"`) or an output interface (`dev = \"eth0\"`)",
            );
        }
        for (key, ip) in [("via", r.via), ("src", r.src)] {
            if let (Some(ip), Some(f)) = (ip, family)
                && ip.family() != f
            {
                ctx.error(
                    &p.k(key),
                    format!("`{key}` is {} but the route is {f}", ip.family()),
                    "use an address of the route's family",
                );
            }
        }
    }
}

/// Records that `at` configures `addr`, or reports it when an interface or
/// tunnel already did.
fn claim_address(owners: &mut HashMap<IpAddr, Path>, addr: IpAddr, at: Path, ctx: &mut Ctx<'_>) {
    if let Some(first) = owners.get(&addr) {
        let d = Diagnostic::error(format!("address {addr} is configured twice"))
            .at(ctx.span(&at))
            .related(ctx.span(first), "first configured here")
            .help("an address belongs on one interface");
        ctx.diags.push(d);
    } else {
        owners.insert(addr, at);
    }
}

fn kind_name(k: TunnelKind) -> &'static str {
    match k {
        TunnelKind::Ipip => "ipip",
        TunnelKind::Gre => "gre",
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::one_error_each;

    /// Each snippet yields exactly one error, whose message contains the text.
    #[test]
    fn each_network_rule_reports_its_own_error() {
        one_error_each(&[
            (
                "[interfaces.bond0]\nbond = { mode = \"active-backup\", members = [] }\n",
                "has no members",
            ),
            (
                "[interfaces.v]\nvlan = { parent = \"eth0\", id = 4095 }\n",
                "VLAN id 4095 is out of range",
            ),
            (
                "[interfaces.a]\naddresses = [\"10.0.0.1/24\"]\n[interfaces.b]\naddresses = [\"10.0.0.1/24\"]\n",
                "configured twice",
            ),
            (
                "[tunnels.tunl0]\ntype = \"ipip\"\nremote = \"10.0.0.1\"\n",
                "fallback device",
            ),
            (
                "[tunnels.t]\ntype = \"gre\"\nlocal = \"2001:db8::1\"\n",
                "carry IPv4 only",
            ),
            ("[routes.r]\nto = \"default\"\n", "neither `via` nor `dev`"),
            (
                "[routes.r]\nto = \"10.0.0.0/8\"\nvia = \"2001:db8::1\"\n",
                "`via` is IPv6 but the route is IPv4",
            ),
        ]);
    }
}

//! Rules of `[vrrp]` and `[sync_groups]`: VRIDs and VIPs used once, advert
//! intervals that fit each VRRP version, authentication, one address family
//! per instance, unicast peers, tracked checks and services that exist,
//! notify commands, and sync-group membership.
//!
//! Talks to: `ctx` (reporting, dangling references), `command` (notify
//! argv lists).

use std::collections::HashMap;
use std::net::IpAddr;

use super::command::argv_check;
use super::ctx::Ctx;
use crate::config::model::{AuthKind, Config, VrrpInstance, VrrpVersion};
use crate::config::tree::Path;
use crate::config::types::{Duration, Family, IfName};
use crate::diag::Diagnostic;
use crate::path;

pub(super) fn vrrp(cfg: &Config, ctx: &mut Ctx<'_>) {
    let mut vrids: HashMap<(IfName, Family, u8), Path> = HashMap::new();
    let mut vips: HashMap<IpAddr, Path> = HashMap::new();
    let mut vmacs: HashMap<(Family, u8), Path> = HashMap::new();
    for (name, inst) in &cfg.vrrp {
        let p = path!["vrrp", name];
        if ctx.is_broken(&p) {
            continue;
        }
        instance(cfg, name, inst, &p, ctx);
        let family = inst
            .virtual_addresses
            .first()
            .map_or(Family::Ipv4, |a| a.0.family());
        if inst.virtual_mac {
            // Its macvlan is named vrrp.VRID / vrrp6.VRID, one per box.
            let key = (family, inst.vrid.get());
            if let Some(first) = vmacs.get(&key) {
                let d = Diagnostic::error(format!(
                    "two {family} instances with VRID {} use a virtual MAC",
                    inst.vrid
                ))
                .at(ctx.span(&p.k("virtual_mac")))
                .related(ctx.span(&first.k("virtual_mac")), "the other one")
                .help("a box has one virtual MAC interface per family and VRID (vrrp.VRID / vrrp6.VRID); give one instance another VRID, or drop its `virtual_mac`");
                ctx.diags.push(d);
            } else {
                vmacs.insert(key, p.clone());
            }
        }
        let key = (inst.interface.clone(), family, inst.vrid.get());
        if let Some(first) = vrids.get(&key) {
            let d = Diagnostic::error(format!(
                "VRID {} is used twice on `{}` for {family}",
                inst.vrid, inst.interface
            ))
            .at(ctx.span(&p.k("vrid")))
            .related(ctx.span(&first.k("vrid")), "first used here")
            .help("each VRRP instance on one interface and family needs its own VRID");
            ctx.diags.push(d);
        } else {
            vrids.insert(key, p.clone());
        }
        for (i, a) in inst.virtual_addresses.iter().enumerate() {
            let ap = p.k("virtual_addresses").i(i);
            if let Some(first) = vips.get(&a.0.addr) {
                let d = Diagnostic::error(format!(
                    "virtual address {} is in two VRRP instances",
                    a.0.addr
                ))
                .at(ctx.span(&ap))
                .related(ctx.span(first), "also here")
                .help("a VIP can be held by one instance only; remove it from one of them");
                ctx.diags.push(d);
            } else {
                vips.insert(a.0.addr, ap);
            }
        }
    }
    let mut member_of: HashMap<&str, &str> = HashMap::new();
    for (g, group) in &cfg.sync_groups {
        let p = path!["sync_groups", g];
        if ctx.is_broken(&p) {
            continue;
        }
        if group.members.is_empty() {
            ctx.error(
                &p.k("members"),
                format!("sync group `{g}` has no members"),
                "list the VRRP instances that fail over together",
            );
        }
        notify(&group.notify, &p.k("notify"), ctx);
        for (i, m) in group.members.iter().enumerate() {
            let mp = p.k("members").i(i);
            if !cfg.vrrp.contains_key(m) {
                ctx.dangling(&mp, "vrrp", m, cfg.vrrp.keys().map(String::as_str));
            } else if let Some(other) = member_of.insert(m, g) {
                ctx.error(
                    &mp,
                    format!("`{m}` is in two sync groups, `{other}` and `{g}`"),
                    "an instance can be in one sync group",
                );
            }
        }
    }
}

fn instance(cfg: &Config, name: &str, inst: &VrrpInstance, p: &Path, ctx: &mut Ctx<'_>) {
    let adv = inst.advert_interval.0;
    match inst.version {
        VrrpVersion::V2 => {
            // RFC 3768 §5.3.7: Adver Int is a whole number of seconds, u8.
            if adv.subsec_nanos() != 0 || adv.as_secs() == 0 || adv.as_secs() > 255 {
                ctx.error(
                    &p.k("advert_interval"),
                    format!("VRRPv2 advert interval {} is not a whole number of seconds from 1s to 255s", inst.advert_interval),
                    "use whole seconds, or `version = 3` for intervals in 10ms steps",
                );
            }
        }
        VrrpVersion::V3 => {
            // RFC 5798 §5.2.7: Max Adver Int is 12 bits of centiseconds.
            let ms = adv.as_millis();
            if adv.subsec_nanos() % 10_000_000 != 0 || !(10..=40_950).contains(&ms) {
                ctx.error(
                    &p.k("advert_interval"),
                    format!("VRRPv3 advert interval {} is not a multiple of 10ms from 10ms to 40.95s", inst.advert_interval),
                    "VRRPv3 sends the interval in centiseconds (12 bits): use 10ms steps up to 40950ms",
                );
            }
        }
    }
    if let Some(auth) = &inst.authentication {
        let ap = p.k("authentication");
        if inst.version == VrrpVersion::V3 && auth.kind != AuthKind::None {
            ctx.error(
                &ap,
                "VRRPv3 has no authentication",
                "RFC 5798 §9 removed it: drop `authentication`, or use `version = 2` to talk to a keepalived that uses `auth_type PASS`",
            );
        } else {
            match (auth.kind, &auth.password) {
                (AuthKind::Pass, None) => ctx.error(&ap, "PASS authentication needs a `password`", "add `password = \"...\"` (at most 8 bytes)"),
                (AuthKind::Pass, Some(pw)) if pw.is_empty() || pw.len() > 8 => ctx.error(
                    &ap.k("password"),
                    format!("the PASS password is {} bytes long", pw.len()),
                    "VRRPv2 carries 1 to 8 bytes of password (RFC 2338 §5.3.6.1); keepalived cuts longer ones to 8 without saying so",
                ),
                (AuthKind::None, Some(_)) => ctx.error(&ap.k("password"), "a password with `type = \"none\"` is never sent", "use `type = \"pass\"`, or drop the password"),
                _ => {}
            }
        }
    }
    if inst.virtual_addresses.is_empty() {
        ctx.error(
            &p.k("virtual_addresses"),
            format!("VRRP instance `{name}` has no virtual addresses"),
            "list the VIPs it holds, like `[\"192.168.4.80/24\"]`",
        );
    }
    let family = inst.virtual_addresses.first().map(|a| a.0.family());
    for (i, a) in inst.virtual_addresses.iter().enumerate() {
        let ap = p.k("virtual_addresses").i(i);
        if Some(a.0.family()) != family {
            ctx.error(
                &ap,
                format!(
                    "{} is {} but the first virtual address is {}",
                    a.0.addr,
                    a.0.family(),
                    family.unwrap_or(Family::Ipv4)
                ),
                "a VRRP instance carries one address family; make a second instance for the other",
            );
        } else if a.0.family() == Family::Ipv6 && inst.version == VrrpVersion::V2 {
            ctx.error(
                &ap,
                format!("VRRPv2 cannot carry the IPv6 address {}", a.0.addr),
                "set `version = 3` for IPv6 (RFC 5798)",
            );
        }
    }
    if let Some(src) = inst.unicast_source {
        if inst.unicast_peers.is_empty() {
            ctx.error(&p.k("unicast_source"), "`unicast_source` without `unicast_peers`", "list the peers' addresses in `unicast_peers`, or drop `unicast_source` to use multicast");
        }
        if Some(src.family()) != family && family.is_some() {
            ctx.error(
                &p.k("unicast_source"),
                format!(
                    "`unicast_source` is {} but the virtual addresses are {}",
                    src.family(),
                    family.unwrap_or(Family::Ipv4)
                ),
                "adverts travel in the family of the virtual addresses",
            );
        }
    }
    for (i, peer) in inst.unicast_peers.iter().enumerate() {
        let pp = p.k("unicast_peers").i(i);
        if Some(*peer) == inst.unicast_source {
            ctx.error(
                &pp,
                format!("{peer} is this node's own `unicast_source`"),
                "list only the other routers; with node overlays, set `unicast_peers` per node",
            );
        } else if family.is_some() && Some(peer.family()) != family {
            ctx.error(
                &pp,
                format!(
                    "peer {peer} is {} but the virtual addresses are {}",
                    peer.family(),
                    family.unwrap_or(Family::Ipv4)
                ),
                "adverts travel in the family of the virtual addresses",
            );
        }
    }
    if inst.virtual_mac {
        virtual_mac(cfg, inst, p, ctx);
    }
    // Said plainly rather than ignored: not built yet.
    if !inst.accept {
        ctx.error(
            &p.k("accept"),
            "`accept = false` (RFC 5798 Accept_Mode off) is not supported yet: pharos's master always accepts packets to its VIPs, as keepalived does by default",
            "drop `accept`",
        );
    }
    if inst.preempt_delay.is_some() && !inst.preempt {
        ctx.warn(
            &p.k("preempt_delay"),
            "`preempt_delay` has no effect with `preempt = false`",
            "drop one of them",
        );
    }
    for (key, n) in [
        ("interface", Some(&inst.interface)),
        ("vip_interface", inst.vip_interface.as_ref()),
    ] {
        if let Some(n) = n {
            ctx.declared(cfg, &p.k(key), "interface", n);
        }
    }
    for n in inst.track.interfaces.keys() {
        ctx.declared(
            cfg,
            &p.k("track").k("interfaces").k(n.as_str()),
            "tracked interface",
            n,
        );
    }
    for c in inst.track.checks.keys() {
        if !cfg.checks.contains_key(c) {
            ctx.dangling(
                &p.k("track").k("checks").k(c),
                "checks",
                c,
                cfg.checks.keys().map(String::as_str),
            );
        }
    }
    for s in inst.track.services.keys() {
        if !cfg.services.contains_key(s) {
            ctx.dangling(
                &p.k("track").k("services").k(s),
                "services",
                s,
                cfg.services.keys().map(String::as_str),
            );
        }
    }
    notify(&inst.notify, &p.k("notify"), ctx);
    if inst.garp.refresh.is_some_and(Duration::is_zero) {
        ctx.error(
            &p.k("garp").k("refresh"),
            "a GARP refresh of 0s would flood the segment",
            "leave `refresh` out to never refresh, or give a period like `60s`",
        );
    }
}

/// `virtual_mac = true`: the VIPs go on the instance's macvlan, and the
/// parent must not answer ARP for them (src/vrrp/vmac.rs).
fn virtual_mac(cfg: &Config, inst: &VrrpInstance, p: &Path, ctx: &mut Ctx<'_>) {
    if inst.vip_interface.is_some() {
        ctx.error(
            &p.k("vip_interface"),
            "`vip_interface` with `virtual_mac = true`: the virtual MAC's interface holds the VIPs",
            "drop `vip_interface` (the VIPs go on vrrp.VRID / vrrp6.VRID), or drop `virtual_mac`",
        );
    }
    // The net plane keeps explicit sysctls as written; below these the
    // parent would answer ARP for the VIPs with its own MAC.
    let parent = inst.interface.as_str();
    for (leaf, least, v) in [
        (
            "arp_ignore",
            1,
            cfg.system.conf.get(parent).and_then(|c| c.arp_ignore),
        ),
        (
            "arp_announce",
            2,
            cfg.system.conf.get(parent).and_then(|c| c.arp_announce),
        ),
    ] {
        if let Some(v) = v
            && v < least
        {
            ctx.error(
                &path!["system", "conf", parent, leaf],
                format!("`{leaf} = {v}` on {parent}, where VRRP instances use a virtual MAC"),
                format!(
                    "with a virtual MAC pharos sets {leaf} to at least {least} on {parent}, so {parent} does not answer ARP for the VIPs with its own MAC; drop this line or raise it"
                ),
            );
        }
    }
}

fn notify(n: &crate::config::model::Notify, p: &Path, ctx: &mut Ctx<'_>) {
    for (key, argv) in [
        ("master", &n.master),
        ("backup", &n.backup),
        ("fault", &n.fault),
        ("stop", &n.stop),
        ("any", &n.any),
    ] {
        if let Some(argv) = argv {
            argv_check(argv, &p.k(key), ctx);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{VRRP, one_error_each};

    /// Each snippet yields exactly one error, whose message contains the text.
    #[test]
    fn each_vrrp_rule_reports_its_own_error() {
        one_error_each(&[
            (
                &format!("{VRRP}virtual_addresses = [\"2001:db8::1/64\"]\n"),
                "VRRPv2 cannot carry the IPv6",
            ),
            (
                &format!(
                    "{VRRP}version = 3\nadvert_interval = \"15ms\"\nvirtual_addresses = [\"10.0.0.1\"]\n"
                ),
                "not a multiple of 10ms",
            ),
            (
                &format!(
                    "{VRRP}version = 3\nadvert_interval = \"41s\"\nvirtual_addresses = [\"10.0.0.1\"]\n"
                ),
                "not a multiple of 10ms from 10ms to 40.95s",
            ),
            (
                &format!(
                    "{VRRP}virtual_addresses = [\"10.0.0.1\"]\nunicast_source = \"10.0.0.2\"\n"
                ),
                "`unicast_source` without `unicast_peers`",
            ),
            (
                &format!(
                    "{VRRP}virtual_addresses = [\"10.0.0.1\"]\nunicast_source = \"10.0.0.2\"\nunicast_peers = [\"10.0.0.2\"]\n"
                ),
                "own `unicast_source`",
            ),
            (
                &format!(
                    "{VRRP}virtual_addresses = [\"10.0.0.1\"]\nauthentication = {{ type = \"pass\" }}\n"
                ),
                "needs a `password`",
            ),
            (
                &format!(
                    "{VRRP}virtual_addresses = [\"10.0.0.1\"]\nnotify.master = [\"notify.sh\", \"master\"]\n"
                ),
                "not an absolute path",
            ),
            (
                &format!("{VRRP}virtual_addresses = [\"10.0.0.1\"]\ntrack.services.web = {{}}\n"),
                "`web` is not defined in `[services]`",
            ),
            (
                &format!(
                    "{VRRP}virtual_addresses = [\"10.0.0.1\"]\n[sync_groups.A]\nmembers = [\"V\"]\n[sync_groups.B]\nmembers = [\"V\"]\n"
                ),
                "in two sync groups",
            ),
            (
                &format!(
                    "{VRRP}virtual_addresses = [\"10.0.0.1\"]\nvirtual_mac = true\nvip_interface = \"eth0\"\n"
                ),
                "`vip_interface` with `virtual_mac = true`",
            ),
            (
                &format!(
                    "[system.conf.eth0]\narp_ignore = 0\n{VRRP}virtual_addresses = [\"10.0.0.1\"]\nvirtual_mac = true\n"
                ),
                "`arp_ignore = 0` on eth0",
            ),
            (
                &format!(
                    "{VRRP}virtual_addresses = [\"10.0.0.1\"]\nvirtual_mac = true\n[interfaces.eth1]\n[vrrp.W]\ninterface = \"eth1\"\nvrid = 1\nvirtual_addresses = [\"10.0.1.1\"]\nvirtual_mac = true\n"
                ),
                "two IPv4 instances with VRID 1 use a virtual MAC",
            ),
        ]);
    }
}

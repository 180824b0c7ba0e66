//! Semantic checks of a typed config: ranges that depend on other settings,
//! references between tables, duplicates, and rules of LVS and VRRP that a
//! type alone cannot hold. Every problem is collected; nothing stops early.
//!
//! The typed config has no spans, so each check names the path of what it
//! complains about and the spans are looked up in the merged tree. A table
//! that already failed typing is skipped here, so a broken value is not
//! reported a second time in another guise.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;
use std::ops::Range;

use super::model::{
    AuthKind, Check, CheckType, Config, Forwarding, Protocol, Scheduler, Service, TlsVerify,
    TunnelEncapKind, TunnelKind, VrrpInstance, VrrpVersion,
};
use super::tree::{Node, Path};
use super::types::{Duration, Endpoint, Family, IfName};
use crate::diag::Diagnostic;
use crate::path;

pub struct Ctx<'a> {
    tree: &'a Node,
    /// Paths that failed typing; checks of what lies under them are skipped.
    broken: &'a [Path],
    /// Named things removed because they failed typing; references to them
    /// are not reported as dangling.
    pruned: &'a HashSet<Path>,
    pub diags: Vec<Diagnostic>,
}

impl<'a> Ctx<'a> {
    pub fn new(tree: &'a Node, broken: &'a [Path], pruned: &'a HashSet<Path>) -> Self {
        Ctx {
            tree,
            broken,
            pruned,
            diags: Vec::new(),
        }
    }

    /// The span of the value at `p`, or of the nearest ancestor's key when
    /// the value was not written (a default).
    fn span(&self, p: &Path) -> Range<usize> {
        let mut p = p.clone();
        let mut first = true;
        loop {
            if let Some((node, key)) = self.tree.lookup(&p) {
                return match (first, key, node.as_table()) {
                    // A table value spans a whole section; point at its name.
                    (_, Some(k), Some(_)) => k,
                    (true, _, _) => node.span.clone(),
                    (false, Some(k), _) => k,
                    (false, None, _) => node.span.clone(),
                };
            }
            first = false;
            match p.parent() {
                Some(parent) => p = parent,
                None => return 0..0,
            }
        }
    }

    /// The span of the key that names `p` (falls back like [`Self::span`]).
    fn key_span(&self, p: &Path) -> Range<usize> {
        match self.tree.lookup(p) {
            Some((_, Some(k))) => k,
            _ => self.span(p),
        }
    }

    /// Warns when `name` is not declared under `[interfaces]` or `[tunnels]`:
    /// pharos can only manage, and find typos in, what it knows of.
    fn declared(&mut self, cfg: &Config, p: &Path, what: &str, name: &IfName) {
        if name.as_str() == "lo"
            || cfg.interfaces.contains_key(name)
            || cfg.tunnels.contains_key(name)
        {
            return;
        }
        let known = cfg
            .interfaces
            .keys()
            .chain(cfg.tunnels.keys())
            .map(IfName::as_str);
        let help = match super::suggest::closest(name.as_str(), known) {
            Some(c) => {
                format!("did you mean `{c}`? Otherwise it must exist on the box when pharos starts")
            }
            None => format!(
                "it must exist on the box when pharos starts; declare `[interfaces.{name}]` to have pharos manage it"
            ),
        };
        self.warn(
            p,
            format!("{what} `{name}` is not declared under `[interfaces]`"),
            help,
        );
    }

    fn is_broken(&self, p: &Path) -> bool {
        self.broken.iter().any(|b| b.starts_with(p))
    }

    fn error(&mut self, p: &Path, msg: impl Into<String>, help: impl Into<String>) {
        let d = Diagnostic::error(msg).at(self.span(p)).help(help);
        self.diags.push(d);
    }

    fn error_key(&mut self, p: &Path, msg: impl Into<String>, help: impl Into<String>) {
        let d = Diagnostic::error(msg).at(self.key_span(p)).help(help);
        self.diags.push(d);
    }

    fn warn(&mut self, p: &Path, msg: impl Into<String>, help: impl Into<String>) {
        let d = Diagnostic::warning(msg).at(self.span(p)).help(help);
        self.diags.push(d);
    }

    /// A reference to a named table that does not exist, unless it was
    /// removed for its own errors.
    fn dangling<'k>(
        &mut self,
        at: &Path,
        table: &str,
        name: &str,
        known: impl Iterator<Item = &'k str>,
    ) -> bool {
        if self.pruned.contains(&path![table, name]) {
            return false;
        }
        let known: Vec<&str> = known.collect();
        let help = match super::suggest::closest(name, known.iter().copied()) {
            Some(c) => format!("did you mean `{c}`?"),
            None if known.is_empty() => {
                format!("there is no `[{table}]` table; define `[{table}.{name}]`")
            }
            None => format!(
                "define `[{table}.{name}]`, or use one of {}",
                super::suggest::list(&known)
            ),
        };
        self.error(at, format!("`{name}` is not defined in `[{table}]`"), help);
        true
    }
}

/// Runs every check over `cfg`.
pub fn validate(cfg: &Config, ctx: &mut Ctx<'_>) {
    system(cfg, ctx);
    links(cfg, ctx);
    realserver(cfg, ctx);
    vrrp(cfg, ctx);
    ipvs(cfg, ctx);
    services(cfg, ctx);
    for (name, check) in &cfg.checks {
        let p = path!["checks", name];
        if ctx.is_broken(&p) {
            continue;
        }
        self::check(check, &p, true, ctx);
    }
    if let Some(listen) = &cfg.metrics.listen
        && listen.port.is_none()
    {
        ctx.error(
            &path!["metrics", "listen"],
            "the metrics endpoint needs a port",
            format!("write it like `{}:9412`", listen),
        );
    }
}

fn system(cfg: &Config, ctx: &mut Ctx<'_>) {
    for (name, conf) in &cfg.system.conf {
        let p = path!["system", "conf", name];
        if name != "all" && name != "default" && name.parse::<IfName>().is_err() {
            ctx.error_key(
                &p,
                format!("`{name}` is not an interface name"),
                "use an interface name, `all` or `default`",
            );
        }
        let ranges: [(&str, Option<u8>, u8, &str); 3] = [
            (
                "arp_ignore",
                conf.arp_ignore,
                8,
                "arp_ignore is 0 to 8; LVS-DR real servers use 1",
            ),
            (
                "arp_announce",
                conf.arp_announce,
                2,
                "arp_announce is 0 to 2; LVS-DR real servers use 2",
            ),
            (
                "rp_filter",
                conf.rp_filter,
                2,
                "rp_filter is 0 (off), 1 (strict) or 2 (loose)",
            ),
        ];
        for (key, value, max, help) in ranges {
            if let Some(v) = value
                && v > max
            {
                ctx.error(&p.k(key), format!("{key} {v} is out of range"), help);
            }
        }
    }
    for key in cfg.system.sysctl.keys() {
        let valid = !key.is_empty()
            && !key.starts_with('.')
            && !key.ends_with('.')
            && !key.contains("..")
            && key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'/'));
        if !valid {
            ctx.error_key(
                &path!["system", "sysctl", key],
                format!("`{key}` is not a sysctl name"),
                "write the dotted name, like `net.ipv4.vs.expire_nodest_conn`",
            );
        }
    }
    for (i, m) in cfg.system.modules.iter().enumerate() {
        if m.is_empty()
            || !m
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            ctx.error(
                &path!["system", "modules"].i(i),
                format!("`{m}` is not a kernel module name"),
                "write the module's name, like `ip_vs_wrr`, without a path or `.ko`",
            );
        }
    }
}

fn links(cfg: &Config, ctx: &mut Ctx<'_>) {
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
            let ap = p.k("addresses").i(i);
            if let Some(first) = owners.get(&a.addr) {
                let d = Diagnostic::error(format!("address {} is configured twice", a.addr))
                    .at(ctx.span(&ap))
                    .related(ctx.span(first), "first configured here")
                    .help("an address belongs on one interface");
                ctx.diags.push(d);
            } else {
                owners.insert(a.addr, ap);
            }
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
            if let Some(first) = owners.get(&a.addr) {
                let d = Diagnostic::error(format!("address {} is configured twice", a.addr))
                    .at(ctx.span(&p.k("addresses").i(i)))
                    .related(ctx.span(first), "first configured here")
                    .help("an address belongs on one interface");
                ctx.diags.push(d);
            } else {
                owners.insert(a.addr, p.k("addresses").i(i));
            }
        }
    }
    for (name, r) in &cfg.routes {
        let p = path!["routes", name];
        if ctx.is_broken(&p) {
            continue;
        }
        let family = match r.to {
            super::types::RouteTarget::Prefix(c) => Some(c.family()),
            super::types::RouteTarget::Default => r.via.map(|v| v.family()),
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

fn kind_name(k: TunnelKind) -> &'static str {
    match k {
        TunnelKind::Ipip => "ipip",
        TunnelKind::Gre => "gre",
    }
}

fn realserver(cfg: &Config, ctx: &mut Ctx<'_>) {
    let Some(rs) = &cfg.realserver else { return };
    if ctx.is_broken(&path!["realserver"]) {
        return;
    }
    for (role, ifs) in [
        ("dr", rs.dr.as_ref().map(|d| &d.arp_interfaces)),
        ("tun", rs.tun.as_ref().map(|t| &t.arp_interfaces)),
    ] {
        for (i, n) in ifs.into_iter().flatten().enumerate() {
            ctx.declared(
                cfg,
                &path!["realserver", role, "arp_interfaces"].i(i),
                "interface",
                n,
            );
        }
    }
    if let Some(dr) = &rs.dr
        && dr.vips.is_empty()
    {
        ctx.error(
            &path!["realserver", "dr", "vips"],
            "no VIPs for the DR real-server role",
            "list the VIPs of the services this server is behind",
        );
    }
    if let Some(tun) = &rs.tun {
        if tun.vips.is_empty() {
            ctx.error(
                &path!["realserver", "tun", "vips"],
                "no VIPs for the TUN real-server role",
                "list the VIPs of the services this server is behind",
            );
        }
        if tun.rp_filter == 1 || tun.rp_filter > 2 {
            ctx.error(
                &path!["realserver", "tun", "rp_filter"],
                format!(
                    "rp_filter {} drops the decapsulated packets of LVS-TUN",
                    tun.rp_filter
                ),
                "use 0 (off) or 2 (loose)",
            );
        }
        if let Some(dr) = &rs.dr {
            for (i, v) in tun.vips.iter().enumerate() {
                if dr.vips.contains(v) {
                    ctx.error(
                        &path!["realserver", "tun", "vips"].i(i),
                        format!("VIP {v} is in both the DR and the TUN role"),
                        "a VIP is reached one way: keep it in one list",
                    );
                }
            }
        }
    }
}

fn vrrp(cfg: &Config, ctx: &mut Ctx<'_>) {
    let mut vrids: HashMap<(IfName, Family, u8), Path> = HashMap::new();
    let mut vips: HashMap<IpAddr, Path> = HashMap::new();
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
    // Said plainly rather than ignored: these two are not built yet.
    if inst.virtual_mac {
        ctx.error(
            &p.k("virtual_mac"),
            "pharos does not run VRRP virtual MACs yet",
            "drop `virtual_mac`: the VIPs move with gratuitous ARPs / unsolicited NAs from the interface's own MAC (what works on VM platforms that drop VMAC frames)",
        );
    }
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

fn notify(n: &super::model::Notify, p: &Path, ctx: &mut Ctx<'_>) {
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

/// Commands run without a shell and without a PATH search, so the program
/// must be an absolute path (as keepalived's script security asks too).
fn argv_check(argv: &[String], p: &Path, ctx: &mut Ctx<'_>) {
    match argv.first() {
        None => ctx.error(
            p,
            "the command is empty",
            "write the program and its arguments, like `[\"/usr/local/bin/notify\", \"master\"]`",
        ),
        Some(prog) if !prog.starts_with('/') => {
            let first = prog.split_whitespace().next().unwrap_or(prog);
            let help = if prog.contains(' ') {
                "commands are argv lists run without a shell: split the words into separate strings, and start with an absolute path".to_string()
            } else {
                format!(
                    "commands run without a shell or PATH search: write the full path, like `/usr/bin/{first}`"
                )
            };
            ctx.error(&p.i(0), format!("`{prog}` is not an absolute path"), help);
        }
        Some(_) => {}
    }
}

fn ipvs(cfg: &Config, ctx: &mut Ctx<'_>) {
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

fn services(cfg: &Config, ctx: &mut Ctx<'_>) {
    let mut seen: HashMap<ServiceKey, Path> = HashMap::new();
    // Each service's real-server keys as written, found in one pass over
    // the tree rather than a lookup per real server.
    let tree = ctx.tree;
    let written: HashMap<&str, HashMap<Endpoint, String>> = tree
        .get("services")
        .and_then(Node::as_table)
        .into_iter()
        .flatten()
        .map(|e| {
            let keys = e
                .value
                .get("real_servers")
                .and_then(Node::as_table)
                .into_iter()
                .flatten()
                .filter_map(|r| r.key.parse::<Endpoint>().ok().map(|ep| (ep, r.key.clone())))
                .collect();
            (e.key.as_str(), keys)
        })
        .collect();
    let none = HashMap::new();
    for (name, svc) in &cfg.services {
        let p = path!["services", name];
        if ctx.is_broken(&p) {
            continue;
        }
        let key = match (&svc.address, svc.fwmark) {
            (Some(_), Some(_)) => {
                ctx.error_key(
                    &p.k("fwmark"),
                    format!("service `{name}` has both `address` and `fwmark`"),
                    "a service is matched by VIP:port or by firewall mark: keep one",
                );
                None
            }
            (None, None) => {
                ctx.error_key(
                    &p,
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
            let at = if svc.address.is_some() {
                p.k("address")
            } else {
                p.k("fwmark")
            };
            if let Some(first) = seen.get(&k) {
                let d = Diagnostic::error(format!("service `{name}` is the same virtual service as `{}`", match &first.0[1] {
                    super::tree::Seg::Key(k) => k.as_str(),
                    super::tree::Seg::Index(_) => "?",
                }))
                .at(ctx.span(&at))
                .related(ctx.span(first), "first defined here")
                .help("the kernel has one table entry per protocol, VIP and port (or firewall mark): merge the two services");
                ctx.diags.push(d);
            } else {
                seen.insert(k, at);
            }
        }
        service(
            cfg,
            name,
            svc,
            &p,
            written.get(name.as_str()).unwrap_or(&none),
            ctx,
        );
    }
}

fn service(
    cfg: &Config,
    name: &str,
    svc: &Service,
    p: &Path,
    written: &HashMap<Endpoint, String>,
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
        check(c, &p.k("check"), false, ctx);
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
        let rp = p
            .k("real_servers")
            .k(written.get(ep).cloned().unwrap_or_else(|| ep.to_string()));
        let fwd = rs.forwarding.unwrap_or(svc.forwarding);
        needs_forwarding |= fwd == Forwarding::Nat;
        if ep.family() != family && fwd != Forwarding::Tun {
            ctx.error_key(
                &rp,
                format!(
                    "real server {ep} is {} but the service is {family}",
                    ep.family()
                ),
                "only tunnelled real servers may be of the other family",
            );
        }
        if Some(ep.ip) == svc.address.map(|a| a.ip) {
            ctx.error_key(
                &rp,
                format!("real server {ep} is the VIP itself"),
                "list the real servers' own addresses",
            );
        }
        match (fwd, port, ep.port) {
            (Forwarding::Dr | Forwarding::Tun, Some(sp), Some(rp_)) if sp != rp_ => {
                let how = if fwd == Forwarding::Dr { "DR" } else { "TUN" };
                ctx.error_key(
                    &rp,
                    format!("{how} forwarding cannot send port {sp} to port {rp_}"),
                    format!("{how} passes packets to the real server unchanged, so it must listen on {sp}: write `{}:{sp}`, or use `forwarding = \"nat\"` to remap ports", host(ep)),
                );
            }
            (_, None, Some(_)) if svc.address.is_some() => {
                ctx.error_key(
                    &rp,
                    format!("real server {ep} has a port but the service listens on all ports"),
                    format!("write the real server without a port: `{}`", host(ep)),
                );
            }
            _ => {}
        }
        if let (Some(lo), Some(hi)) = (rs.lower_threshold, rs.upper_threshold)
            && lo > hi
        {
            ctx.error(&rp.k("lower_threshold"), format!("lower threshold {lo} is above the upper threshold {hi}"), "the server stops taking connections at `upper_threshold` and resumes below `lower_threshold`");
        }
        if let Some(c) = &rs.check {
            check(c, &rp.k("check"), false, ctx);
            if c.port.is_none() && needs_port(c.kind) && ep.port.is_none() && port.is_none() {
                ctx.error_key(
                    &rp.k("check"),
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

fn host(ep: &Endpoint) -> String {
    match ep.ip {
        IpAddr::V6(ip) => format!("[{ip}]"),
        ip => ip.to_string(),
    }
}

/// tcp and udp have no well-known port to fall back on (http, https and
/// dns default to 80, 443 and 53; see `Check::default_port`).
fn needs_port(t: CheckType) -> bool {
    matches!(t, CheckType::Tcp | CheckType::Udp)
}

/// A key that only some check types take.
struct SpecificKey {
    name: &'static str,
    /// Whether a check has it set. From the typed value, not the tree: a
    /// tree lookup per key per check would make big files quadratic.
    set: fn(&Check) -> bool,
    types: &'static [CheckType],
}

const PROBES: &[CheckType] = &[
    CheckType::Tcp,
    CheckType::Http,
    CheckType::Https,
    CheckType::Udp,
    CheckType::Dns,
];
const HTTP: &[CheckType] = &[CheckType::Http, CheckType::Https];
const HTTPS: &[CheckType] = &[CheckType::Https];
const UDP: &[CheckType] = &[CheckType::Udp];
const DNS: &[CheckType] = &[CheckType::Dns];
const EXEC: &[CheckType] = &[CheckType::Exec];

/// Every type-specific check key, once: what is allowed where and what is
/// set both come from here.
const SPECIFIC_KEYS: &[SpecificKey] = &[
    SpecificKey {
        name: "port",
        set: |c| c.port.is_some(),
        types: PROBES,
    },
    SpecificKey {
        name: "address",
        set: |c| c.address.is_some(),
        types: PROBES,
    },
    SpecificKey {
        name: "bind_to",
        set: |c| c.bind_to.is_some(),
        types: PROBES,
    },
    SpecificKey {
        name: "path",
        set: |c| c.path.is_some(),
        types: HTTP,
    },
    SpecificKey {
        name: "host",
        set: |c| c.host.is_some(),
        types: HTTP,
    },
    SpecificKey {
        name: "status",
        set: |c| c.status.is_some(),
        types: HTTP,
    },
    SpecificKey {
        name: "md5",
        set: |c| c.md5.is_some(),
        types: HTTP,
    },
    SpecificKey {
        name: "sha256",
        set: |c| c.sha256.is_some(),
        types: HTTP,
    },
    SpecificKey {
        name: "body_contains",
        set: |c| c.body_contains.is_some(),
        types: HTTP,
    },
    SpecificKey {
        name: "verify",
        set: |c| c.verify.is_some(),
        types: HTTPS,
    },
    SpecificKey {
        name: "ca_file",
        set: |c| c.ca_file.is_some(),
        types: HTTPS,
    },
    SpecificKey {
        name: "payload",
        set: |c| c.payload.is_some(),
        types: UDP,
    },
    SpecificKey {
        name: "expect",
        set: |c| c.expect.is_some(),
        types: UDP,
    },
    SpecificKey {
        name: "expect_reply",
        set: |c| c.expect_reply.is_some(),
        types: UDP,
    },
    SpecificKey {
        name: "query_name",
        set: |c| c.query_name.is_some(),
        types: DNS,
    },
    SpecificKey {
        name: "query_type",
        set: |c| c.query_type.is_some(),
        types: DNS,
    },
    SpecificKey {
        name: "rcode",
        set: |c| c.rcode.is_some(),
        types: DNS,
    },
    SpecificKey {
        name: "answer",
        set: |c| c.answer.is_some(),
        types: DNS,
    },
    SpecificKey {
        name: "command",
        set: |c| c.command.is_some(),
        types: EXEC,
    },
];

fn check(c: &Check, p: &Path, standalone: bool, ctx: &mut Ctx<'_>) {
    if ctx.is_broken(p) {
        return;
    }
    for key in SPECIFIC_KEYS {
        if (key.set)(c) && !key.types.contains(&c.kind) {
            let (name, takers): (&str, Vec<&str>) =
                (key.name, key.types.iter().map(|t| t.name()).collect());
            ctx.error_key(
                &p.k(name),
                format!("`{name}` does not apply to a `{}` check", c.kind.name()),
                format!(
                    "`{name}` is for {} checks; drop it or change `type`",
                    super::suggest::list(&takers)
                ),
            );
        }
    }
    for (key, d) in [("interval", c.interval), ("timeout", c.timeout())] {
        if d.is_zero() {
            ctx.error(
                &p.k(key),
                format!("a check `{key}` of 0s"),
                "give it a length, like `5s`",
            );
        }
    }
    for (key, n) in [("rise", c.rise), ("fall", c.fall)] {
        if n == 0 {
            ctx.error(
                &p.k(key),
                format!("`{key} = 0` can never be reached"),
                format!("`{key}` counts results in a row: use 1 or more"),
            );
        }
    }
    for (key, len) in [("md5", 32), ("sha256", 64)] {
        let v = if key == "md5" { &c.md5 } else { &c.sha256 };
        if let Some(h) = v
            && (h.len() != len || !h.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            ctx.error(
                &p.k(key),
                format!("`{key}` is not {len} hex digits"),
                format!(
                    "write the body's {key} digest in hex, as `{}sum` prints it",
                    key
                ),
            );
        }
    }
    if c.md5.is_some() && c.sha256.is_some() {
        ctx.error_key(
            &p.k("sha256"),
            "both `md5` and `sha256` are set",
            "keep one digest",
        );
    }
    if let Some(path) = &c.path
        && !path.starts_with('/')
    {
        ctx.error(
            &p.k("path"),
            format!("HTTP path `{path}` does not start with `/`"),
            format!("write `/{path}`"),
        );
    }
    match c.kind {
        CheckType::Https => match (c.verify, &c.ca_file) {
            (Some(TlsVerify::Ca), None) => ctx.error(
                &p.k("verify"),
                "`verify = \"ca\"` needs a `ca_file`",
                "add `ca_file = \"/path/to/ca.pem\"`",
            ),
            (v, Some(_)) if v != Some(TlsVerify::Ca) => ctx.error(
                &p.k("ca_file"),
                "`ca_file` is only read with `verify = \"ca\"`",
                "add `verify = \"ca\"`, or drop `ca_file`",
            ),
            _ => {}
        },
        CheckType::Dns if c.query_name.is_none() => {
            ctx.error_key(
                p,
                "a dns check needs a `query_name`",
                "add `query_name = \"example.com\"`",
            );
        }
        CheckType::Exec => match &c.command {
            None => ctx.error_key(
                p,
                "an exec check needs a `command`",
                "add `command = [\"/usr/local/bin/check\", \"arg\"]`",
            ),
            Some(argv) => argv_check(argv, &p.k("command"), ctx),
        },
        _ => {}
    }
    if standalone && c.address.is_none() && !matches!(c.kind, CheckType::Exec | CheckType::None) {
        ctx.error_key(
            p,
            format!("a stand-alone `{}` check needs an `address`", c.kind.name()),
            "there is no real server to probe: add `address = \"127.0.0.1\"` (and `port`)",
        );
    }
    if standalone && c.port.is_none() && needs_port(c.kind) {
        ctx.error_key(
            p,
            format!("a stand-alone `{}` check needs a `port`", c.kind.name()),
            "add `port = 80`",
        );
    }
}

/// The kernel modules a config needs, inferred from what it uses.
pub fn required_modules(cfg: &Config) -> Vec<String> {
    let mut m: BTreeMap<String, ()> = BTreeMap::new();
    let mut add = |s: &str| {
        m.insert(s.to_string(), ());
    };
    if !cfg.services.is_empty() {
        add("ip_vs");
    }
    for svc in cfg.services.values() {
        add(&format!("ip_vs_{}", svc.scheduler.name()));
        if svc.protocol == Protocol::Sctp {
            add("ip_vs");
        }
        if let Some(t) = &svc.tunnel {
            match t.kind {
                TunnelEncapKind::Ipip => add("ipip"),
                TunnelEncapKind::Gue => add("fou"),
                TunnelEncapKind::Gre => add("gre"),
            }
        }
    }
    for t in cfg.tunnels.values() {
        add(match t.kind {
            TunnelKind::Ipip => "ipip",
            TunnelKind::Gre => "ip_gre",
        });
    }
    if cfg.realserver.as_ref().is_some_and(|r| r.tun.is_some()) {
        add("ipip");
    }
    for i in cfg.interfaces.values() {
        if i.vlan.is_some() {
            add("8021q");
        }
        if i.bond.is_some() {
            add("bonding");
        }
        if i.dummy {
            add("dummy");
        }
        if i.bridge.is_some() {
            add("bridge");
        }
        if i.macvlan.is_some() {
            add("macvlan");
        }
    }
    if cfg.vrrp.values().any(|v| v.virtual_mac) {
        add("macvlan");
    }
    for x in &cfg.system.modules {
        add(x);
    }
    m.into_keys().collect()
}

#[cfg(test)]
mod tests {
    use crate::config::{Selection, check_text};

    const VRRP: &str = "[interfaces.eth0]\n[vrrp.V]\ninterface = \"eth0\"\nvrid = 1\n";

    /// Each snippet yields exactly one error, whose message contains the text.
    #[test]
    fn each_rule_reports_its_own_error() {
        let cases: &[(&str, &str)] = &[
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
                "[checks.c]\ntype = \"tcp\"\nport = 80\n",
                "needs an `address`",
            ),
            ("[checks.c]\ntype = \"exec\"\n", "needs a `command`"),
            (
                "[checks.c]\ntype = \"dns\"\naddress = \"127.0.0.1\"\n",
                "needs a `query_name`",
            ),
            (
                "[checks.c]\ntype = \"https\"\naddress = \"127.0.0.1\"\nverify = \"ca\"\n",
                "needs a `ca_file`",
            ),
            (
                "[checks.c]\ntype = \"http\"\naddress = \"127.0.0.1\"\nmd5 = \"abc\"\n",
                "not 32 hex digits",
            ),
            (
                "[checks.c]\ntype = \"exec\"\ncommand = [\"/bin/true\"]\nfall = 0\n",
                "`fall = 0` can never be reached",
            ),
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
            (
                "[realserver.tun]\nvips = [\"10.0.0.1\"]\nrp_filter = 1\n",
                "drops the decapsulated packets",
            ),
            (
                "[realserver.dr]\nvips = [\"10.0.0.1\"]\n[realserver.tun]\nvips = [\"10.0.0.1\"]\n",
                "in both the DR and the TUN role",
            ),
            (
                "[system.conf.all]\narp_ignore = 9\n",
                "arp_ignore 9 is out of range",
            ),
            ("[system.sysctl]\n\"net..ipv4\" = 1\n", "not a sysctl name"),
            ("[metrics]\nlisten = \"127.0.0.1\"\n", "needs a port"),
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
        ];
        for (text, want) in cases {
            let c = check_text(text, &Selection::All);
            let errors: Vec<&str> = c
                .diagnostics
                .iter()
                .filter(|d| d.is_error())
                .map(|d| d.message.as_str())
                .collect();
            assert_eq!(errors.len(), 1, "{text}\n=> {errors:?}");
            assert!(
                errors[0].contains(want),
                "{text}\n=> {errors:?}, wanted {want:?}"
            );
        }
    }

    #[test]
    fn undeclared_interfaces_and_useless_settings_are_warnings() {
        let text = "[vrrp.V]\ninterface = \"eth9\"\nvrid = 1\nvirtual_addresses = [\"10.0.0.1\"]\npreempt = false\npreempt_delay = \"5s\"\n";
        let c = check_text(text, &Selection::All);
        assert!(!c.has_errors(), "{:?}", c.diagnostics);
        let w: Vec<&str> = c.diagnostics.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(
            w,
            vec![
                "interface `eth9` is not declared under `[interfaces]`",
                "`preempt_delay` has no effect with `preempt = false`"
            ]
        );
        let text = "[interfaces.eth0]\n[routes.r]\nto = \"10.0.0.0/8\"\ndev = \"eth1\"\n[realserver.dr]\nvips = [\"10.0.0.1\"]\narp_interfaces = [\"eht0\"]\n";
        let c = check_text(text, &Selection::All);
        let w: Vec<(&str, Option<&str>)> = c
            .diagnostics
            .iter()
            .map(|d| (d.message.as_str(), d.help.as_deref()))
            .collect();
        assert_eq!(w.len(), 2, "{w:?}");
        assert_eq!(
            w[1],
            (
                "interface `eht0` is not declared under `[interfaces]`",
                Some("did you mean `eth0`? Otherwise it must exist on the box when pharos starts")
            )
        );
    }

    #[test]
    fn defaults_hold_when_tables_are_left_out() {
        let c = check_text(
            "[checks.c]\ntype = \"exec\"\ncommand = [\"/bin/true\"]\ninterval = \"1s\"\n[vrrp.V]\ninterface = \"lo\"\nvrid = 1\nvirtual_addresses = [\"10.0.0.1\"]\n",
            &Selection::All,
        );
        let cfg = &c.configs[0].1;
        assert_eq!(
            cfg.vrrp["V"].notify.timeout,
            crate::config::types::Duration::from_secs(10)
        );
        assert_eq!(
            cfg.checks["c"].timeout(),
            crate::config::types::Duration::from_secs(1)
        );
        assert_eq!(cfg.vrrp["V"].garp.count, 5);
    }

    #[test]
    fn modules_are_inferred_from_what_the_config_uses() {
        let text = "[system]\nip_forward = true\nmodules = [\"nf_conntrack\"]\n[interfaces.v]\nvlan = { parent = \"eth0\", id = 10 }\n[tunnels.tunl0]\ntype = \"ipip\"\n[services.a]\naddress = \"10.0.0.1:80\"\nforwarding = \"nat\"\nscheduler = \"mh\"\nsorry_server = \"10.0.0.9:80\"\n";
        let c = check_text(text, &Selection::All);
        assert!(!c.has_errors(), "{:?}", c.diagnostics);
        let m = super::required_modules(&c.configs[0].1);
        assert_eq!(
            m,
            vec!["8021q", "ip_vs", "ip_vs_mh", "ipip", "nf_conntrack"]
        );
    }
}

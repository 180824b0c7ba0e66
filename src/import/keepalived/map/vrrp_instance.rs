//! `vrrp_instance` to `[vrrp.NAME]`: read into an [`Inst`], checked
//! (addresses, interfaces, adverts, tracking, notify scripts, garp), then
//! written with the interfaces and checks it names. Part of the mapper
//! (`map.rs`); the sync groups and services read what it records.

use super::*;

impl Mapper {
    // ------------------------------------------------------------ vrrp_instance

    pub(super) fn vrrp_instance(&mut self, s: &Stmt) {
        let mut notes: Notes = Vec::new();
        let Some(name) = s.arg(0).map(str::to_string) else {
            self.bad(s, &mut notes, "", "a vrrp_instance needs a name");
            self.top
                .extend(notes.into_iter().map(|(_, n)| Comment::Note(n)));
            return;
        };
        let mut v = Inst::default();
        let mut stack: Vec<Cow<'_, Stmt>> = s.children().iter().rev().map(Cow::Borrowed).collect();
        while let Some(c) = stack.pop() {
            if let Some(fixed) = self.instance_kw(&c, &mut v, &mut notes) {
                stack.push(Cow::Owned(fixed));
            }
        }
        self.emit_instance(s, &name, v, notes);
    }

    /// One keyword of a vrrp_instance; a typo fixed comes back to be read.
    pub(super) fn instance_kw(
        &mut self,
        c: &Stmt,
        v: &mut Inst,
        notes: &mut Notes,
    ) -> Option<Stmt> {
        match c.keyword() {
            "state" => match c.arg(0) {
                Some(st @ ("MASTER" | "BACKUP")) => v.state = Some((st.to_string(), c.loc)),
                _ => self.bad(c, notes, "", "the state is MASTER or BACKUP"),
            },
            "interface" => {
                let why = "it is not a Linux interface name";
                if let Some(i) = self.parsed(c, notes, "interface", ifname, why) {
                    v.interface = Some(i);
                }
            }
            "virtual_router_id" => {
                if let Some(n) = self.parsed(c, notes, "", one_to_255, "a VRID is 1 to 255") {
                    v.vrid = Some(n);
                }
            }
            "priority" => {
                let why = "a priority is 1 to 255";
                if let Some(n) = self.parsed(c, notes, "priority", one_to_255, why) {
                    v.priority = Some(n);
                }
            }
            "version" => {
                if let Some(n) = self.parsed(c, notes, "", vrrp_version, VRRP_VERSION) {
                    v.version = Some((n, c.loc));
                }
            }
            "native_ipv6" => v.native_ipv6 = true,
            "advert_int" => {
                if let Some(d) = self.parsed(c, notes, "", nonzero_secs, SECONDS) {
                    v.advert = Some((d, c.loc));
                }
            }
            "nopreempt" => v.nopreempt = Some(c.loc),
            "preempt" => {}
            "accept" => {}
            "preempt_delay" => {
                if let Some(d) = self.parsed(c, notes, "", secs, SECONDS) {
                    v.preempt_delay = Some((d, c.loc));
                }
            }
            "authentication" => {
                let mut inner: Vec<Cow<'_, Stmt>> =
                    c.children().iter().rev().map(Cow::Borrowed).collect();
                while let Some(a) = inner.pop() {
                    match a.keyword() {
                        "auth_type" => match a.arg(0) {
                            Some("PASS") => v.auth_type = Some(("PASS".into(), a.loc)),
                            Some("AH") => v.auth_type = Some(("AH".into(), a.loc)),
                            _ => self.bad(&a, notes, "", "the type is PASS or AH"),
                        },
                        "auth_pass" => match a.arg(0) {
                            Some(p) if !p.is_empty() => v.auth_pass = Some((p.to_string(), a.loc)),
                            _ => self.bad(&a, notes, "", "it has no password"),
                        },
                        _ => {
                            if let Some(fixed) = self.unknown(Cx::Auth, &a, notes) {
                                inner.push(Cow::Owned(fixed));
                            }
                        }
                    }
                }
            }
            "virtual_ipaddress" => {
                for line in c.children() {
                    self.vip(line, v, notes);
                }
                if c.block.is_none() {
                    self.bad(c, notes, "", "it has no `{ ... }` block of addresses");
                }
            }
            "unicast_src_ip" => {
                let why = "it is not an IP address";
                if let Some(ip) = self.parsed(c, notes, "", |a| a.parse::<IpAddr>().ok(), why) {
                    v.unicast_src = Some((ip, c.loc));
                }
            }
            "unicast_peer" => {
                for p in c.children() {
                    match p.keyword().parse::<IpAddr>() {
                        Ok(ip) => {
                            if p.args().is_empty() {
                                v.peers.push((ip, p.loc));
                            } else {
                                v.peers.push((ip, p.loc));
                                push(
                                    notes,
                                    "unicast_peers",
                                    Note::new(
                                        p.loc,
                                        format!(
                                            "`{}` for peer {ip} not imported: pharos sends adverts with TTL 255 and checks it",
                                            emit::sanitize(&p.args().join(" "))
                                        ),
                                    ),
                                );
                            }
                        }
                        Err(_) => self.bad(p, notes, "unicast_peers", "it is not an IP address"),
                    }
                }
            }
            "track_interface" => {
                for t in c.children() {
                    let name = t.keyword();
                    if name.parse::<IfName>().is_err() {
                        self.bad(
                            t,
                            notes,
                            "track.interfaces",
                            "it is not a Linux interface name",
                        );
                        continue;
                    }
                    match track_weight(t) {
                        Ok((w, reverse)) => {
                            if reverse {
                                push(
                                    notes,
                                    "track.interfaces",
                                    Note::new(
                                        t.loc,
                                        format!(
                                            "`reverse` not imported: {}",
                                            unsupported_reason("reverse")
                                        ),
                                    ),
                                );
                            }
                            v.track_if.push((name.to_string(), w.unwrap_or(0), t.loc));
                        }
                        Err(why) => self.bad(t, notes, "track.interfaces", why),
                    }
                }
            }
            "track_script" => {
                for t in c.children() {
                    match track_weight(t) {
                        Ok((w, reverse)) => {
                            if reverse {
                                push(
                                    notes,
                                    "track.checks",
                                    Note::new(
                                        t.loc,
                                        format!(
                                            "`reverse` not imported: {}",
                                            unsupported_reason("reverse")
                                        ),
                                    ),
                                );
                            }
                            v.track_scripts.push((t.keyword().to_string(), w, t.loc));
                        }
                        Err(why) => self.bad(t, notes, "track.checks", why),
                    }
                }
            }
            k @ ("notify_master" | "notify_backup" | "notify_fault" | "notify_stop" | "notify") => {
                let slot = notify_slot(k);
                match command_words(c) {
                    Ok((written, argv, extra)) => match pharos_argv(&written, argv) {
                        Some((argv, why)) => {
                            let key = NOTIFY_KEYS[slot];
                            let notes = &mut v.notify_notes;
                            if let Some(why) = why {
                                push(notes, key, Note::new(c.loc, why));
                            }
                            if !extra.is_empty() {
                                push(
                                    notes,
                                    key,
                                    Note::new(
                                        c.loc,
                                        format!(
                                            "user `{}` not imported: {}",
                                            emit::sanitize(&extra.join(" ")),
                                            unsupported_reason("user")
                                        ),
                                    ),
                                );
                            }
                            if k == "notify" {
                                push(
                                    notes,
                                    key,
                                    Note::new(
                                        c.loc,
                                        "keepalived appends `INSTANCE NAME STATE PRIORITY` to the `notify` command's arguments; pharos passes them in the environment instead (PHAROS_INSTANCE, PHAROS_STATE, PHAROS_PRIORITY)",
                                    ),
                                );
                            }
                            v.notify[slot] = Some(argv);
                        }
                        None => self.bad(c, notes, "", "the command is empty"),
                    },
                    Err(e) => self.bad(c, notes, "", e),
                }
            }
            "use_vmac" => v.vmac = Some((c.arg(0).map(str::to_string), c.loc)),
            "vmac_xmit_base" => v.vmac_xmit_base = Some(c.loc),
            "lvs_sync_daemon_interface" => {
                let why = "it is not a Linux interface name";
                if let Some(i) = self.parsed(c, notes, "", ifname, why) {
                    v.lvs_sync = Some((i, c.loc));
                }
            }
            k @ ("garp_master_delay"
            | "garp_master_repeat"
            | "garp_master_refresh"
            | "garp_interval"
            | "gna_interval") => {
                if let Some(val) = self.parsed(c, notes, "garp", word, "it has no value") {
                    v.garp.push((garp_key(k), val, c.loc));
                }
            }
            k if INSTANCE_KW.contains(&k) => self.unsupported(c, notes),
            _ => return self.unknown(Cx::Instance, c, notes),
        }
        None
    }

    pub(super) fn vip(&mut self, line: &Stmt, v: &mut Inst, notes: &mut Notes) {
        let Ok(addr) = line.keyword().parse::<VirtualAddress>() else {
            self.bad(line, notes, "virtual_addresses", "it is not an address");
            return;
        };
        let written = if line.keyword().contains('/') {
            addr.to_string()
        } else {
            addr.0.addr.to_string()
        };
        let mut dev = None;
        let mut args = line.args().iter();
        let mut dropped = Vec::new();
        while let Some(a) = args.next() {
            match a.as_str() {
                "dev" => match args.next() {
                    Some(d) if d.parse::<IfName>().is_ok() => dev = Some(d.clone()),
                    Some(d) => dropped.push(format!("dev {d}")),
                    None => dropped.push("dev".into()),
                },
                "label" => {
                    let l = args.next().cloned().unwrap_or_default();
                    push(
                        notes,
                        "virtual_addresses",
                        Note::new(
                            line.loc,
                            format!(
                                "label `{}` of {written} not imported: pharos adds VIPs without labels (`ip addr` shows them on the device itself)",
                                emit::sanitize(&l)
                            ),
                        ),
                    );
                }
                // What pharos does anyway.
                "scope" if args.clone().next().map(String::as_str) == Some("global") => {
                    args.next();
                }
                "brd" | "broadcast" | "scope" | "peer" | "metric" | "preferred_lft" => {
                    let val = args.next().cloned().unwrap_or_default();
                    dropped.push(format!("{a} {val}"));
                }
                other => dropped.push(other.to_string()),
            }
        }
        if !dropped.is_empty() {
            push(
                notes,
                "virtual_addresses",
                Note::new(
                    line.loc,
                    format!(
                        "`{}` of {written} not imported: pharos adds a VIP with its prefix length only",
                        emit::sanitize(&dropped.join(" "))
                    ),
                ),
            );
        }
        v.vips.push((addr, written, dev, line.loc));
    }

    pub(super) fn emit_instance(&mut self, s: &Stmt, name: &str, mut v: Inst, mut notes: Notes) {
        let path = vec!["vrrp".to_string(), name.to_string()];
        let drop_all = |this: &mut Self, why: String, notes: Notes| {
            let mut all = vec![Comment::Note(Note::new(
                s.loc,
                format!("vrrp_instance `{name}` not imported: {why}"),
            ))];
            all.extend(notes.into_iter().map(|(_, n)| Comment::Note(n)));
            let anchor = format!("vrrp.{name}");
            this.vrrp_sections.push(Section::loose(&anchor, all));
            this.anchors
                .push((s.loc, s.end_line(), vec!["#".into(), anchor]));
        };
        if self.instances.contains_key(name) {
            return drop_all(
                self,
                "an instance of that name comes before it".into(),
                notes,
            );
        }
        let Some(vrid) = v.vrid else {
            return drop_all(self, "it has no (valid) `virtual_router_id`".into(), notes);
        };
        if v.vips.is_empty() {
            return drop_all(self, "it has no (valid) virtual addresses".into(), notes);
        }
        let interface = match (&v.interface, &self.default_interface) {
            (Some(i), _) => i.clone(),
            (None, Some(d)) => {
                push(
                    &mut notes,
                    "interface",
                    Note::new(
                        s.loc,
                        format!("no `interface`: the global `default_interface`, {d}"),
                    ),
                );
                d.clone()
            }
            (None, None) => {
                push(
                    &mut notes,
                    "interface",
                    // keepalived 2.2 has no default here: it reports
                    // "(NAME) Unknown interface!" and its VRRP process exits
                    // with a config error (seen with 2.2.7 from apt).
                    Note::new(
                        s.loc,
                        "no `interface`: keepalived 2.2 does not run such an instance (\"Unknown interface!\"); imported on eth0, so say the interface its adverts are to go out on",
                    ),
                );
                "eth0".to_string()
            }
        };
        // One family per instance: the first address's.
        let family = v.vips[0].0.0.family();
        let mut vips = Vec::new();
        let mut devs: Vec<(String, Loc)> = Vec::new();
        for (addr, written, dev, loc) in std::mem::take(&mut v.vips) {
            if addr.0.family() != family {
                push(
                    &mut notes,
                    "virtual_addresses",
                    Note::new(
                        loc,
                        format!(
                            "{written} not imported: it is {} but the instance's first address is {family}; a pharos instance carries one family (make a second instance for it)",
                            addr.0.family()
                        ),
                    ),
                );
                continue;
            }
            if let Some(other) = self
                .instances
                .iter()
                .find(|(_, i)| i.vips.contains(&addr.0.addr))
            {
                push(
                    &mut notes,
                    "virtual_addresses",
                    Note::new(
                        loc,
                        format!(
                            "{written} not imported: instance `{}` holds it already",
                            other.0
                        ),
                    ),
                );
                continue;
            }
            if vips
                .iter()
                .any(|(a, _): &(VirtualAddress, String)| a.0.addr == addr.0.addr)
            {
                continue;
            }
            devs.push((dev.unwrap_or_else(|| interface.clone()), loc));
            vips.push((addr, written));
        }
        if vips.is_empty() {
            return drop_all(
                self,
                "none of its virtual addresses can be imported".into(),
                notes,
            );
        }
        let vip_interface = most_common(devs.iter().map(|(d, _)| d.clone()));
        if let Some(chosen) = &vip_interface {
            for (d, loc) in &devs {
                if d != chosen {
                    push(
                        &mut notes,
                        "virtual_addresses",
                        Note::new(
                            *loc,
                            format!(
                                "`dev {d}` not imported: pharos puts all of an instance's VIPs on one device, here {chosen}"
                            ),
                        ),
                    );
                }
            }
        }
        let vip_interface = vip_interface.filter(|d| d != &interface);
        let version = if family == Family::Ipv6 || v.native_ipv6 {
            if let Some((2, loc)) = v.version {
                push(
                    &mut notes,
                    "version",
                    Note::new(
                        loc,
                        "`version 2` not imported: IPv6 needs VRRPv3, as keepalived uses for it",
                    ),
                );
            }
            3
        } else {
            v.version.map(|x| x.0).or(self.vrrp_version).unwrap_or(2)
        };
        let clash = self
            .instances
            .values()
            .any(|i| i.vrid == vrid && i.family == family && i.interface == interface);
        if clash {
            return drop_all(
                self,
                format!("VRID {vrid} is already used on {interface} by an instance before it"),
                notes,
            );
        }

        let mut sec = Section::new(&path);
        sec.line("interface", string(&interface));
        self.iface(&interface);
        sec.line("vrid", vrid.to_string());
        if version == 3 {
            sec.line("version", "3");
        }
        match (v.priority, &v.state) {
            (Some(p), Some((st, _))) => sec.line_c(
                "priority",
                p.to_string(),
                format!("keepalived `state {st}`; pharos elects by priority"),
            ),
            (Some(p), None) => sec.line("priority", p.to_string()),
            // keepalived 2.2 (vrrp.c, vrrp_complete_instance) gives an
            // instance without a valid priority 255, the address owner, when
            // it is `state MASTER`, and 100 otherwise.
            (None, Some((st, _))) if st == "MASTER" => sec.line_c(
                "priority",
                "255",
                "no (valid) priority: keepalived runs `state MASTER` at 255, the address owner",
            ),
            (None, Some((st, _))) => sec.line_c(
                "priority",
                "100",
                format!("no (valid) priority: keepalived runs `state {st}` at 100"),
            ),
            (None, None) => {}
        }
        if let Some((st, _)) = &v.state {
            self.states.push((name.to_string(), st.clone()));
        }
        if let Some((d, loc)) = v.advert {
            let (d, why) = advert(d, version);
            if let Some(why) = why {
                push(&mut notes, "advert_interval", Note::new(loc, why));
            }
            sec.line("advert_interval", dur(d));
        }
        if v.nopreempt.is_some() {
            sec.line_c("preempt", "false", "keepalived's `nopreempt`");
        }
        if let Some((named, loc)) = &v.vmac {
            sec.line_c("virtual_mac", "true", "keepalived's `use_vmac`");
            let family = v.vips.first().map_or(Family::Ipv4, |a| a.0.0.family());
            let ours = crate::vrrp::vmac::name_for(v.vrid.unwrap_or(0), family);
            if let Some(n) = named.as_deref().filter(|n| *n != ours) {
                push(
                    &mut notes,
                    "virtual_mac",
                    Note::new(
                        *loc,
                        format!(
                            "the interface name `{}` not imported: pharos names the virtual MAC's macvlan {ours}",
                            emit::sanitize(n)
                        ),
                    ),
                );
            }
        }
        if let Some(loc) = v.vmac_xmit_base {
            let why = if v.vmac.is_some() {
                "pharos sends adverts from the virtual MAC, as RFC 5798 §7.2 says; the peers see the same adverts either way"
            } else {
                "it has no effect without `use_vmac`"
            };
            push(
                &mut notes,
                "virtual_mac",
                Note::new(loc, format!("`vmac_xmit_base` not imported: {why}")),
            );
        }
        if let Some((d, loc)) = v.preempt_delay {
            if v.nopreempt.is_some() {
                push(
                    &mut notes,
                    "preempt",
                    Note::new(
                        loc,
                        "`preempt_delay` not imported: it has no effect with `nopreempt`",
                    ),
                );
            } else if !d.is_zero() {
                sec.line("preempt_delay", dur(d));
            }
        }
        match (&v.auth_type, &v.auth_pass) {
            (Some((t, loc)), _) if t == "AH" => push(
                &mut notes,
                "",
                Note::new(
                    *loc,
                    "`auth_type AH` not imported: pharos speaks PASS or no authentication (AH was dropped from VRRP by RFC 3768)",
                ),
            ),
            (Some((_, loc)), _) | (None, Some((_, loc))) if version == 3 => push(
                &mut notes,
                "",
                Note::new(
                    *loc,
                    "authentication not imported: VRRPv3 has none (RFC 5798), and keepalived ignores it there too",
                ),
            ),
            (Some(_), Some((pw, loc))) => {
                let mut pw = pw.clone();
                if pw.len() > 8 {
                    let mut cut = 8;
                    while !pw.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    pw.truncate(cut);
                    push(
                        &mut notes,
                        "authentication",
                        Note::new(
                            *loc,
                            format!(
                                "the password is cut to its first 8 bytes, `{pw}`, as keepalived sends it"
                            ),
                        ),
                    );
                }
                if pw.is_empty() {
                    push(
                        &mut notes,
                        "",
                        Note::new(*loc, "authentication not imported: the password is empty"),
                    );
                } else {
                    sec.line(
                        "authentication",
                        inline(&[
                            ("type".into(), string("pass")),
                            ("password".into(), string(&pw)),
                        ]),
                    );
                }
            }
            (Some((_, loc)), None) => push(
                &mut notes,
                "",
                Note::new(
                    *loc,
                    "authentication not imported: `auth_type PASS` without an `auth_pass`",
                ),
            ),
            (None, Some((_, loc))) => push(
                &mut notes,
                "",
                Note::new(
                    *loc,
                    "`auth_pass` not imported: there is no `auth_type PASS`",
                ),
            ),
            (None, None) => {}
        }
        sec.line(
            "virtual_addresses",
            array(&vips.iter().map(|(_, w)| string(w)).collect::<Vec<_>>()),
        );
        match (&vip_interface, &v.vmac) {
            (Some(d), Some((_, loc))) => push(
                &mut notes,
                "virtual_addresses",
                Note::new(
                    *loc,
                    format!(
                        "`dev {d}` of the virtual addresses not imported: with `use_vmac` pharos puts them on the virtual MAC's macvlan"
                    ),
                ),
            ),
            (Some(d), None) => {
                sec.line_c("vip_interface", string(d), "keepalived's `dev`");
                self.iface(d);
            }
            (None, _) => {}
        }
        let mut peers: Vec<IpAddr> = Vec::new();
        for (ip, loc) in &v.peers {
            if Family::of(ip) != family {
                push(
                    &mut notes,
                    "unicast_peers",
                    Note::new(
                        *loc,
                        format!(
                            "peer {ip} not imported: it is not {family} like the virtual addresses"
                        ),
                    ),
                );
            } else if v.unicast_src.is_some_and(|(s, _)| s == *ip) {
                push(
                    &mut notes,
                    "unicast_peers",
                    Note::new(
                        *loc,
                        format!("peer {ip} not imported: it is this router's own `unicast_src_ip`"),
                    ),
                );
            } else if !peers.contains(ip) {
                peers.push(*ip);
            }
        }
        match v.unicast_src {
            Some((ip, loc)) if Family::of(&ip) != family => push(
                &mut notes,
                "",
                Note::new(
                    loc,
                    format!(
                        "`unicast_src_ip {ip}` not imported: it is not {family} like the virtual addresses"
                    ),
                ),
            ),
            Some((ip, loc)) if peers.is_empty() => push(
                &mut notes,
                "",
                Note::new(
                    loc,
                    format!(
                        "`unicast_src_ip {ip}` not imported: there are no unicast peers, so adverts are multicast"
                    ),
                ),
            ),
            Some((ip, _)) => sec.line("unicast_source", string(&ip.to_string())),
            None => {}
        }
        if !peers.is_empty() {
            sec.line(
                "unicast_peers",
                array(
                    &peers
                        .iter()
                        .map(|p| string(&p.to_string()))
                        .collect::<Vec<_>>(),
                ),
            );
        }
        for (ifname, w, _) in &v.track_if {
            let k = format!("track.interfaces.{}", key(ifname));
            if sec.lines.iter().any(|l| l.key == k) {
                continue;
            }
            self.iface(ifname);
            if *w == 0 {
                sec.line_c(k, "{ weight = 0 }", "Fault while it is down");
            } else {
                sec.line(k, format!("{{ weight = {w} }}"));
            }
        }
        for (script, w, loc) in &v.track_scripts {
            let Some(info) = self.scripts.get(script) else {
                push(
                    &mut notes,
                    "track.checks",
                    Note::new(
                        *loc,
                        format!(
                            "track_script `{script}` not imported: there is no vrrp_script `{script}` to import"
                        ),
                    ),
                );
                continue;
            };
            let k = format!("track.checks.{}", key(script));
            if sec.lines.iter().any(|l| l.key == k) {
                continue;
            }
            let w = w.unwrap_or(info.weight);
            if w == 0 {
                sec.line_c(k, "{ weight = 0 }", "Fault while it fails");
            } else {
                sec.line(k, format!("{{ weight = {w} }}"));
            }
        }
        let garp = self.garp(&v.garp, &mut notes);
        if !garp.is_empty() {
            sec.line("garp", inline(&garp));
        }
        if let Some((ifname, loc)) = &v.lvs_sync {
            match &self.sync {
                Some(_) => push(
                    &mut notes,
                    "",
                    Note::new(
                        *loc,
                        "`lvs_sync_daemon_interface` not imported: pharos runs one sync daemon, and an instance before this one has it",
                    ),
                ),
                None => {
                    self.sync_section(ifname, name, vrid, None, *loc, Vec::new());
                }
            }
        }
        if v.notify.iter().all(Option::is_none) {
            notes.append(&mut v.notify_notes);
        }
        sec.place(notes);
        self.anchors.push((s.loc, s.end_line(), path.clone()));
        self.vrrp_sections.push(sec);
        let notify: Vec<(String, String)> = v
            .notify
            .iter()
            .enumerate()
            .filter_map(|(i, a)| {
                a.as_ref()
                    .map(|a| (NOTIFY_KEYS[i].to_string(), argv_value(a)))
            })
            .collect();
        if !notify.is_empty() {
            let mut n = Section::new(&["vrrp", name, "notify"])
                .with_comment("argv lists, run without a shell");
            for (k, val) in notify {
                n.line(k, val);
            }
            n.place(std::mem::take(&mut v.notify_notes));
            self.vrrp_sections.push(n);
        }
        self.instances.insert(
            name.to_string(),
            InstanceInfo {
                family,
                vips: vips.iter().map(|(a, _)| a.0.addr).collect(),
                vrid,
                interface: interface.clone(),
            },
        );
        self.instance_order.push(name.to_string());
    }

    /// The `garp` table from the instance's settings over the global ones.
    pub(super) fn garp(
        &mut self,
        own: &[(&'static str, String, Loc)],
        notes: &mut Notes,
    ) -> Vec<(String, String)> {
        let mut fields: Vec<(String, String)> = Vec::new();
        let all: Vec<(&'static str, String, Loc)> = self
            .garp_defaults
            .iter()
            .filter(|(k, _, _)| !own.iter().any(|(o, _, _)| o == k))
            .cloned()
            .chain(own.iter().cloned())
            .collect();
        for (k, val, loc) in all {
            let read = match k {
                "garp_master_repeat" => count(&val).map(|n| ("count", n.to_string())).ok_or(COUNT),
                "garp_master_delay" => secs(&val).map(|d| ("delay", dur(d))).ok_or(SECONDS),
                "garp_master_refresh" => match secs(&val) {
                    Some(d) if d.is_zero() => continue,
                    d => d.map(|d| ("refresh", dur(d))).ok_or(SECONDS),
                },
                _ => secs(&val).map(|d| ("interval", dur(d))).ok_or(SECONDS),
            };
            let (field, value) = match read {
                Ok(read) => read,
                Err(why) => {
                    let note = Note::new(loc, format!("`{k} {val}` not imported: {why}"));
                    push(notes, "garp", note);
                    continue;
                }
            };
            match fields.iter_mut().find(|(f, _)| f == field) {
                Some((_, old)) if *old != value => {
                    push(
                        notes,
                        "garp",
                        Note::new(
                            loc,
                            format!(
                                "`{k} {val}` not imported: pharos has one interval for gratuitous ARPs and NAs, set before"
                            ),
                        ),
                    );
                }
                Some(_) => {}
                None => fields.push((field.to_string(), value)),
            }
        }
        let order = ["count", "interval", "delay", "refresh"];
        fields.sort_by_key(|(f, _)| order.iter().position(|o| o == f));
        fields
    }

    pub(super) fn sync_section(
        &mut self,
        ifname: &str,
        follows: &str,
        vrid: u8,
        id: Option<u8>,
        loc: Loc,
        notes: Notes,
    ) {
        let mut sec = Section::new(&["ipvs", "sync"]).with_comment("keepalived's lvs_sync_daemon");
        sec.line("interface", string(ifname));
        self.iface(ifname);
        match id {
            Some(id) => sec.line("sync_id", id.to_string()),
            None => sec.line_c(
                "sync_id",
                vrid.to_string(),
                "keepalived's default: the instance's VRID",
            ),
        }
        sec.line_c(
            "follows",
            string(follows),
            "master daemon while this instance is master",
        );
        let _ = loc;
        self.sync = Some((sec, notes));
    }

    /// global_defs `lvs_sync_daemon IFACE INSTANCE [id N] ...`.
    pub(super) fn global_sync_daemon(&mut self) {
        let Some((s, mut notes)) = self.global_sync.take() else {
            return;
        };
        let iface = s.arg(0).filter(|i| i.parse::<IfName>().is_ok());
        let inst = s.arg(1);
        let mut id = None;
        let mut rest = s.args().iter().skip(2);
        let mut extra = Vec::new();
        while let Some(w) = rest.next() {
            match w.as_str() {
                "id" => match rest.next().and_then(|n| int(n, 0, 255)) {
                    Some(n) => id = Some(n as u8),
                    None => extra.push("id".to_string()),
                },
                other => extra.push(other.to_string()),
            }
        }
        if !extra.is_empty() {
            push(
                &mut notes,
                "",
                Note::new(
                    s.loc,
                    format!(
                        "`{}` of lvs_sync_daemon not imported: pharos's sync daemon takes an interface and an id",
                        emit::sanitize(&extra.join(" "))
                    ),
                ),
            );
        }
        match (
            iface,
            inst.and_then(|i| self.instances.get(i).map(|x| (i, x.vrid))),
        ) {
            (Some(ifname), Some((inst, vrid))) => {
                if self.sync.is_some() {
                    self.bad(
                        &s,
                        &mut notes,
                        "",
                        "an instance's `lvs_sync_daemon_interface` set it before",
                    );
                    self.top
                        .extend(notes.into_iter().map(|(_, n)| Comment::Note(n)));
                } else {
                    let (ifname, inst) = (ifname.to_string(), inst.to_string());
                    self.sync_section(&ifname, &inst, vrid, id, s.loc, notes);
                }
            }
            (None, _) => {
                self.bad(&s, &mut notes, "", "it names no interface");
                self.top
                    .extend(notes.into_iter().map(|(_, n)| Comment::Note(n)));
            }
            (_, None) => {
                self.bad(
                    &s,
                    &mut notes,
                    "",
                    "it names no imported vrrp_instance to follow",
                );
                self.top
                    .extend(notes.into_iter().map(|(_, n)| Comment::Note(n)));
            }
        }
    }
}

/// A vrrp_instance as read, before it is checked and written.
#[derive(Default)]
pub(super) struct Inst {
    state: Option<(String, Loc)>,
    interface: Option<String>,
    vrid: Option<u8>,
    priority: Option<u8>,
    version: Option<(u8, Loc)>,
    native_ipv6: bool,
    advert: Option<(Duration, Loc)>,
    nopreempt: Option<Loc>,
    /// `use_vmac [NAME]`.
    vmac: Option<(Option<String>, Loc)>,
    vmac_xmit_base: Option<Loc>,
    preempt_delay: Option<(Duration, Loc)>,
    auth_type: Option<(String, Loc)>,
    auth_pass: Option<(String, Loc)>,
    /// (address, as written, dev, where).
    vips: Vec<(VirtualAddress, String, Option<String>, Loc)>,
    unicast_src: Option<(IpAddr, Loc)>,
    peers: Vec<(IpAddr, Loc)>,
    track_if: Vec<(String, i64, Loc)>,
    track_scripts: Vec<(String, Option<i64>, Loc)>,
    notify: [Option<Vec<String>>; 5],
    /// Notes for the `[vrrp.NAME.notify]` table.
    notify_notes: Notes,
    lvs_sync: Option<(String, Loc)>,
    garp: Vec<(&'static str, String, Loc)>,
}

pub(super) fn garp_key(kw: &str) -> &'static str {
    match kw {
        "garp_master_delay" => "garp_master_delay",
        "garp_master_repeat" => "garp_master_repeat",
        "garp_master_refresh" => "garp_master_refresh",
        "garp_interval" => "garp_interval",
        _ => "gna_interval",
    }
}

/// `NAME [weight N [reverse]]` in track_interface / track_script.
pub(super) fn track_weight(t: &Stmt) -> Result<(Option<i64>, bool), String> {
    match t.args() {
        [] => Ok((None, false)),
        [w, n, rest @ ..] if w == "weight" => {
            let n = int(n, -254, 254).ok_or("a tracking weight is -254 to 254")?;
            let reverse = rest.iter().any(|r| r == "reverse");
            Ok((Some(n), reverse))
        }
        _ => Err("write it as `NAME` or `NAME weight N`".into()),
    }
}

/// The advert interval pharos can send for keepalived's, and why it
/// differs if it does.
pub(super) fn advert(d: Duration, version: u8) -> (Duration, Option<String>) {
    let ms = d.as_millis();
    if version == 2 {
        let s = ms.div_ceil(1000).clamp(1, 255);
        let out = Duration::from_secs(s as u64);
        if out.as_millis() != ms {
            return (
                out,
                Some(format!(
                    "`advert_int {d}` became {out}: VRRPv2 adverts carry whole seconds (1 to 255)"
                )),
            );
        }
        (out, None)
    } else {
        let cs = ms.div_ceil(10).clamp(1, 4095);
        let out = Duration::from_millis((cs * 10) as u64);
        if out.as_millis() != ms {
            return (
                out,
                Some(format!(
                    "`advert_int {d}` became {out}: VRRPv3 adverts carry 10ms steps up to 40.95s"
                )),
            );
        }
        (out, None)
    }
}

//! One read `virtual_server` written as a pharos service: addressing,
//! scheduler, forwarding and persistence, the real servers (ports as
//! keepalived corrects them), and the check they share. Part of the virtual
//! server mapping (`lvs.rs`); reads what `read.rs` read.

use super::*;
use crate::config::validate::not_a_host;

impl Mapper {
    /// One pharos service for `key`: its sections (the service, its check
    /// if long, its real servers). The notes go to the first service of a
    /// group only.
    pub(super) fn service(
        &mut self,
        name: &str,
        k: SvcKey,
        vs: &mut VsRead,
        first: bool,
        group_note: Option<&str>,
    ) -> Vec<Section> {
        let mut notes: Notes = if first {
            std::mem::take(&mut vs.notes)
        } else {
            Vec::new()
        };
        let mut sec = Section::new(&["services", name]);
        if let (Some(g), true) = (group_note, first) {
            sec.lead.push(Comment::Text(g.to_string()));
        }
        let family = match k {
            SvcKey::Addr { ip, .. } => Family::of(&ip),
            SvcKey::Mark(_) => vs
                .family
                .or_else(|| vs.rs.first().map(|r| Family::of(&r.ip)))
                .unwrap_or(Family::Ipv4),
        };
        let (fwd, tun) = match vs.fwd {
            Some((f, t)) => (f, t),
            None => {
                sec.lead.push(Comment::Text(
                    "no lb_kind: keepalived's default, NAT".into(),
                ));
                (Forwarding::Nat, None)
            }
        };
        self.service_address(k, vs, family, first, &mut sec, &mut notes);
        service_policy(vs, k, family, fwd, first, &mut sec, &mut notes);

        let mut servers = real_servers(vs, k, family, fwd, first, &mut sec);

        // What the real servers imported need: IP forwarding for NAT, the
        // tunnel (right after `forwarding`) for TUN.
        let uses = |f: Forwarding| {
            fwd == f && !servers.is_empty() || servers.iter().any(|(_, rs, ..)| rs.fwd == Some(f))
        };
        if uses(Forwarding::Nat) || fwd == Forwarding::Nat {
            if family == Family::Ipv6 {
                self.nat6 = true;
            } else {
                self.nat4 = true;
            }
        }
        if uses(Forwarding::Tun) || fwd == Forwarding::Tun {
            let t = tun.unwrap_or(Tun {
                kind: "ipip",
                port: None,
                checksum: None,
            });
            let mut p = vec![("type".to_string(), string(t.kind))];
            if let Some(port) = t.port {
                p.push(("port".into(), port.to_string()));
            }
            if let Some(c) = t.checksum {
                p.push(("checksum".into(), string(c)));
            }
            let at = sec
                .lines
                .iter()
                .position(|l| l.key == "forwarding")
                .map_or(sec.lines.len(), |i| i + 1);
            sec.lines.insert(
                at,
                Line {
                    key: "tunnel".into(),
                    value: inline(&p),
                    comment: None,
                    before: Vec::new(),
                },
            );
        }

        quorum(vs, &servers, first, &mut sec, &mut notes);

        // What happens to a failed real server: the most common choice.
        let inhibit = |rs: &RsRead| rs.inhibit.or(vs.inhibit).unwrap_or(false);
        let svc_inhibit = most_common(servers.iter().map(|(_, rs, ..)| inhibit(rs)))
            .unwrap_or(vs.inhibit.unwrap_or(false));
        if svc_inhibit {
            sec.line_c(
                "on_failure",
                string("quiesce"),
                "inhibit_on_failure: weight 0, connections stay",
            );
        } else {
            sec.line_c(
                "on_failure",
                string("remove"),
                "keepalived's default without inhibit_on_failure",
            );
        }
        for (_, rs, _, rs_notes) in servers.iter_mut() {
            if inhibit(rs) != svc_inhibit && first {
                rs_notes.push(Note::new(rs.loc, format!(
                    "inhibit_on_failure {} not imported: pharos sets it per service, and most of this one's real servers {}",
                    if inhibit(rs) { "on" } else { "off" },
                    if svc_inhibit { "have it" } else { "do not" }
                )));
            }
        }
        if vs.alpha {
            sec.tail.push(Comment::Text(
                "alpha: pharos waits for a real server's first check as well".into(),
            ));
        }

        let (svc_check, check_section) = shared_check(name, &mut servers, &mut sec, &mut notes);
        let mut sections = Vec::new();

        sec.place(notes);
        sections.push(sec);
        sections.extend(check_section);

        if !servers.is_empty() {
            let mut rss = Section::new(&["services", name, "real_servers"]);
            // Real servers too long for one line get a table of their own,
            // after the others.
            let mut own_tables = Vec::new();
            for (ep, rs, check, rs_notes) in servers {
                let mut fields: Vec<(String, String)> = Vec::new();
                if let Some(w) = rs.weight.or(vs.weight) {
                    fields.push(("weight".into(), w.to_string()));
                }
                if let Some(f) = rs.fwd
                    && f != fwd
                {
                    fields.push(("forwarding".into(), string(emit::forwarding(f))));
                }
                let (upper, mut lower) = (rs.upper.filter(|u| *u > 0), rs.lower.filter(|l| *l > 0));
                let mut rs_notes = rs_notes;
                if let (Some(u), Some(l)) = (upper, lower)
                    && l > u
                {
                    if first {
                        rs_notes.push(Note::new(
                            rs.loc,
                            format!("lthreshold {l} not imported: it is above the uthreshold {u}"),
                        ));
                    }
                    lower = None;
                }
                if let Some(u) = upper {
                    fields.push(("upper_threshold".into(), u.to_string()));
                }
                if let Some(l) = lower {
                    fields.push(("lower_threshold".into(), l.to_string()));
                }
                let own = match (check, &svc_check) {
                    (Some((c, _)), Some(s)) if c == *s => None,
                    (Some((c, n)), _) => {
                        rs_notes.extend(n);
                        Some(c)
                    }
                    (None, Some(_)) => Some(CheckSpec::none()),
                    (None, None) => None,
                };
                let k = key(&ep.to_string());
                let before: Vec<Comment> = rs_notes.into_iter().map(Comment::Note).collect();
                let check_text = own.as_ref().map(|c| inline(&c.pairs()));
                let mut all = fields.clone();
                all.extend(check_text.clone().map(|t| ("check".to_string(), t)));
                let one_line = inline(&all);
                if k.len() + 3 + one_line.len() <= MAX_INLINE {
                    rss.lines.push(Line {
                        key: k,
                        value: one_line,
                        comment: None,
                        before,
                    });
                    continue;
                }
                let ep_text = ep.to_string();
                let mut t = Section::new(&["services", name, "real_servers", ep_text.as_str()]);
                t.lead = before;
                for (fk, fv) in fields {
                    t.line(fk, fv);
                }
                let mut sub = None;
                if let (Some(c), Some(text)) = (own, check_text) {
                    if "check = ".len() + text.len() <= MAX_INLINE {
                        t.line("check", text);
                    } else {
                        let mut cs = Section::new(&[
                            "services",
                            name,
                            "real_servers",
                            ep_text.as_str(),
                            "check",
                        ]);
                        for (ck, cv) in c.pairs() {
                            cs.line(ck, cv);
                        }
                        sub = Some(cs);
                    }
                }
                if t.lines.is_empty() && sub.is_none() {
                    t.line("weight", "1");
                }
                own_tables.push(t);
                own_tables.extend(sub);
            }
            sections.push(rss);
            sections.extend(own_tables);
        }
        sections
    }

    /// The service's address (or mark and family), its protocol, and the
    /// VRRP instance whose VIP it is.
    fn service_address(
        &self,
        k: SvcKey,
        vs: &VsRead,
        family: Family,
        first: bool,
        sec: &mut Section,
        notes: &mut Notes,
    ) {
        match k {
            SvcKey::Addr { ip, port } => {
                sec.line(
                    "address",
                    string(
                        &Endpoint {
                            ip,
                            port: (port != 0).then_some(port),
                        }
                        .to_string(),
                    ),
                );
                match vs.protocol {
                    Some(Protocol::Tcp) => {}
                    Some(Protocol::Udp) => sec.line("protocol", string("udp")),
                    Some(Protocol::Sctp) => sec.line("protocol", string("sctp")),
                    None => {
                        // The note below says why; on the line it would say it twice.
                        sec.line("protocol", string("udp"));
                        if first {
                            push(
                                notes,
                                "protocol",
                                Note::new(
                                    vs.loc,
                                    "no `protocol`: keepalived 2.2 reports the omission and runs a UDP service, so this import does too; if TCP was meant, keepalived never balanced it: write `protocol TCP` there or `protocol = \"tcp\"` here",
                                ),
                            );
                        }
                    }
                }
            }
            SvcKey::Mark(m) => {
                sec.line("fwmark", m.to_string());
                let f = if family == Family::Ipv6 {
                    "ipv6"
                } else {
                    "ipv4"
                };
                sec.line_c(
                    "family",
                    string(f),
                    "a mark has no address to tell the family by",
                );
            }
        }
        if let SvcKey::Addr { ip, .. } = k
            && let Some(inst) = self
                .instance_order
                .iter()
                .find(|n| self.instances.get(*n).is_some_and(|i| i.vips.contains(&ip)))
        {
            sec.line_c("vrrp", string(inst), "the VIP lives on this instance");
        }
    }
}

/// The quorum and hysteresis, as keepalived bounds them by the real
/// servers' total weight.
fn quorum(vs: &VsRead, servers: &[Placed<'_>], first: bool, sec: &mut Section, notes: &mut Notes) {
    let total: u64 = servers
        .iter()
        .map(|(_, rs, ..)| u64::from(rs.weight.or(vs.weight).unwrap_or(1)))
        .sum();
    if let Some((q, loc)) = vs.quorum {
        let q2 = u64::from(q).min(total);
        if q2 == 0 {
            if first {
                push(
                    notes,
                    "",
                    Note::new(
                        loc,
                        "`quorum` not imported: the real servers' weights sum to 0",
                    ),
                );
            }
        } else {
            if q2 != u64::from(q) && first {
                push(
                    notes,
                    "quorum",
                    Note::new(
                        loc,
                        format!(
                            "quorum {q} became {q2}, the real servers' total weight, as keepalived lowers it"
                        ),
                    ),
                );
            }
            sec.line("quorum", q2.to_string());
            if let Some(h) = vs.hysteresis
                && h > 0
            {
                let h2 = u64::from(h).min(q2 - 1);
                if h2 != u64::from(h) && first {
                    push(
                        notes,
                        "quorum",
                        Note::new(
                            loc,
                            format!(
                                "hysteresis {h} became {h2}: keepalived keeps it below the quorum"
                            ),
                        ),
                    );
                }
                if h2 > 0 {
                    sec.line("hysteresis", h2.to_string());
                }
            }
        }
    }
}

/// The real servers, as keepalived would add them: each once, of the
/// service's family, on the port keepalived sends to, with its check.
fn real_servers<'a>(
    vs: &'a VsRead,
    k: SvcKey,
    family: Family,
    fwd: Forwarding,
    first: bool,
    sec: &mut Section,
) -> Vec<Placed<'a>> {
    let vport = service_port(k);
    let mut servers: Vec<Placed<'a>> = Vec::new();
    let mut added = std::collections::HashSet::new();
    for rs in &vs.rs {
        let mut rs_notes: Vec<Note> = if first { rs.notes.clone() } else { Vec::new() };
        let rfwd = rs.fwd.unwrap_or(fwd);
        // The kernel refuses an address no one host has for a real server,
        // and so does `pharos check` (keepalived's add fails at run time).
        let left_out = if Family::of(&rs.ip) != family && rfwd != Forwarding::Tun {
            Some(format!(
                "it is {} but the service is {family}",
                Family::of(&rs.ip)
            ))
        } else if let Some(what) = not_a_host(rs.ip) {
            Some(format!("it is {what}, not one host's"))
        } else if let SvcKey::Addr { ip, .. } = k
            && ip == rs.ip
        {
            Some("it is the VIP itself".to_string())
        } else {
            None
        };
        if let Some(why) = left_out {
            if first {
                sec.tail.push(Comment::Note(Note::new(
                    rs.loc,
                    format!("real server {} not imported: {why}", rs.ip),
                )));
            }
            continue;
        }
        let (port, old_port) = rs_port(rs, vport, rfwd, first, &mut rs_notes);
        let ep = Endpoint {
            ip: rs.ip,
            port: (port != 0).then_some(port),
        };
        if !added.insert(ep) {
            if first {
                sec.tail.push(Comment::Note(Note::new(rs.loc, format!("real server {ep} not imported: it is listed before (keepalived drops it too)"))));
            }
            continue;
        }
        let check = rs_check(vs, rs, ep, old_port, first, &mut rs_notes);
        servers.push((ep, rs, check, rs_notes));
    }
    servers
}

/// The service's check: the one most real servers have, if at least two
/// share it (or there is one real server); on the service's line if it is
/// short, else in a table of its own, which comes back.
fn shared_check(
    name: &str,
    servers: &mut [Placed<'_>],
    sec: &mut Section,
    notes: &mut Notes,
) -> (Option<CheckSpec>, Option<Section>) {
    let svc_check: Option<CheckSpec> = most_common(
        servers
            .iter()
            .filter_map(|(_, _, c, _)| c.as_ref().map(|(s, _)| s.clone())),
    )
    .filter(|c| {
        servers.len() == 1
            || servers
                .iter()
                .filter(|(_, _, x, _)| x.as_ref().is_some_and(|(s, _)| s == c))
                .count()
                > 1
    });
    let mut check_notes: Vec<Note> = Vec::new();
    let mut check_section = None;
    if let Some(c) = &svc_check {
        for (_, _, cs, _) in servers.iter_mut() {
            if let Some((s, n)) = cs
                && s == c
            {
                for note in n.drain(..) {
                    if !check_notes.iter().any(|x| x.message == note.message) {
                        check_notes.push(note);
                    }
                }
            }
        }
        let pairs = c.pairs();
        let text = inline(&pairs);
        if text.len() + "check = ".len() <= MAX_INLINE {
            sec.line("check", text);
            for n in check_notes.drain(..) {
                push(notes, "check", n);
            }
        } else {
            let mut cs = Section::new(&["services", name, "check"]);
            for (kk, v) in pairs {
                cs.line(kk, v);
            }
            cs.lead.extend(check_notes.drain(..).map(Comment::Note));
            check_section = Some(cs);
        }
    }
    (svc_check, check_section)
}

/// A real server's check: the first one pharos has, with the timings it
/// takes from the real server, the virtual server and keepalived's defaults.
fn rs_check(
    vs: &VsRead,
    rs: &RsRead,
    ep: Endpoint,
    old_port: Option<u16>,
    first: bool,
    rs_notes: &mut Vec<Note>,
) -> Option<(CheckSpec, Vec<Note>)> {
    let defaults = vs.defaults;
    let mut check = None;
    for (i, c) in rs.checks.iter().enumerate() {
        if i > 0 {
            if first {
                rs_notes.push(Note::new(c.loc, format!("`{}` not imported: pharos has one check per real server, and this one's is its {}", c.name, rs.checks[0].name)));
            }
            continue;
        }
        let d = c.own.over(rs.defaults).over(defaults);
        let mut spec = c.spec.clone();
        let mut check_notes = Vec::new();
        spec.interval = d.delay_loop.unwrap_or(Duration::from_secs(60));
        if spec.timeout.is_none() {
            spec.timeout = d.connect_timeout;
        }
        spec.retries = d.retry;
        spec.retry_delay = d.delay_before_retry;
        match c.kind {
            CheckType::Http | CheckType::Https if spec.retry_delay.is_none() => {
                spec.retry_delay = Some(Duration::from_secs(3));
            }
            CheckType::Dns => {
                spec.retries = spec.retries.or(Some(3));
                spec.retry_delay = spec.retry_delay.or(Some(spec.interval));
            }
            _ => {}
        }
        if matches!(c.kind, CheckType::Http | CheckType::Https) && spec.host.is_none() {
            spec.host = rs.vhost.clone().or_else(|| vs.vhost.clone());
        }
        if spec.uses_port() && spec.port.is_none() {
            if let Some(p) = old_port {
                spec.port = Some(p);
            } else if ep.port.is_none() && matches!(spec.kind, CheckType::Tcp | CheckType::Udp) {
                if first {
                    rs_notes.push(Note::new(c.loc, format!("`{}` not imported: the real server has no port, so the check needs `connect_port`; it stays up unchecked", c.name)));
                }
                continue;
            }
        }
        if first && d.delay_loop.is_none() {
            check_notes.push(Note::new(
                c.loc,
                "no delay_loop: keepalived's default, 60s between checks".to_string(),
            ));
        }
        check = Some((spec, check_notes));
    }
    check
}

/// The port keepalived sends a real server's traffic to, and the port it
/// was written with where that differs (its check still probes it).
fn rs_port(
    rs: &RsRead,
    vport: Option<u16>,
    rfwd: Forwarding,
    first: bool,
    rs_notes: &mut Vec<Note>,
) -> (u16, Option<u16>) {
    let mut old_port = None;
    let port = match (vport, rfwd) {
        (Some(v), Forwarding::Nat) => {
            if v == 0 && rs.port != 0 {
                if first {
                    rs_notes.push(Note::new(
                        rs.loc,
                        format!(
                            "real server port {} dropped: the service takes all ports",
                            rs.port
                        ),
                    ));
                }
                old_port = Some(rs.port);
                0
            } else if rs.port == 0 {
                v
            } else {
                rs.port
            }
        }
        (Some(v), _) => {
            if rs.port != 0 && rs.port != v {
                if first {
                    rs_notes.push(Note::new(
                        rs.loc,
                        format!("real server port {} became {}: keepalived sends DR and TUN traffic to the service's port (its check still probes {})", rs.port, if v == 0 { "none".to_string() } else { v.to_string() }, rs.port),
                    ));
                }
                old_port = Some(rs.port);
            }
            v
        }
        (None, Forwarding::Nat) => rs.port,
        (None, _) => {
            if rs.port != 0 {
                if first {
                    let probes = if rs.checks.is_empty() {
                        String::new()
                    } else {
                        format!(" (its check still probes {})", rs.port)
                    };
                    rs_notes.push(Note::new(
                        rs.loc,
                        format!(
                            "real server port {} dropped: DR and TUN send a firewall-mark service's traffic to the port the client used{probes}",
                            rs.port
                        ),
                    ));
                }
                old_port = Some(rs.port);
            }
            0
        }
    };
    (port, old_port)
}

/// The service's scheduler and its flags, forwarding, persistence,
/// one-packet scheduling and sorry server.
fn service_policy(
    vs: &VsRead,
    k: SvcKey,
    family: Family,
    fwd: Forwarding,
    first: bool,
    sec: &mut Section,
    notes: &mut Notes,
) {
    let vport = service_port(k);
    let sched = vs.sched.unwrap_or(Scheduler::Wlc);
    sec.line("scheduler", string(sched.name()));
    let mut flags: Vec<SchedulerFlag> = Vec::new();
    for (f, loc) in &vs.flags {
        if !matches!(sched, Scheduler::Sh | Scheduler::Mh) {
            if first {
                push(
                    notes,
                    "scheduler",
                    Note::new(
                        *loc,
                        format!(
                            "scheduler flag not imported: flags apply to `sh` and `mh`, not `{}`",
                            sched.name()
                        ),
                    ),
                );
            }
        } else if !flags.contains(f) {
            flags.push(*f);
        }
    }
    if !flags.is_empty() {
        let fs: Vec<String> = flags
            .iter()
            .map(|f| {
                string(if *f == SchedulerFlag::Port {
                    "port"
                } else {
                    "fallback"
                })
            })
            .collect();
        sec.line("scheduler_flags", array(&fs));
    }
    sec.line("forwarding", string(emit::forwarding(fwd)));
    let mut persistence = vs.persistence;
    if vport == Some(0) && persistence.is_none() {
        persistence = Some(300);
        if first {
            push(
                notes,
                "persistence",
                Note::new(
                    vs.loc,
                    "a service on all ports (port 0) needs persistence: keepalived sets 300 s, and so does this import",
                ),
            );
        }
    }
    if let Some(p) = persistence {
        sec.line("persistence", dur(Duration::from_secs(u64::from(p))));
    }
    if let Some((mask, loc)) = &vs.netmask {
        match (persistence, netmask_prefix(mask, family)) {
            (Some(_), Some(prefix)) => sec.line("persistence_netmask", prefix.to_string()),
            (None, _) if first => push(
                notes,
                "",
                Note::new(
                    *loc,
                    "`persistence_granularity` not imported: it needs `persistence_timeout`",
                ),
            ),
            (_, None) if first => push(
                notes,
                "",
                Note::new(
                    *loc,
                    format!(
                        "`persistence_granularity {mask}` not imported: it is not a netmask or prefix length for {family}"
                    ),
                ),
            ),
            _ => {}
        }
    }
    if let Some(loc) = vs.ops {
        if vs.protocol.unwrap_or(NO_PROTOCOL) == Protocol::Udp && vport.is_some() {
            sec.line("one_packet", "true");
        } else if vport.is_none() && first {
            push(
                notes,
                "",
                Note::new(
                    loc,
                    "`ops` not imported: pharos schedules one packet at a time for UDP services by address only",
                ),
            );
        } else if first {
            push(
                notes,
                "",
                Note::new(
                    loc,
                    "`ops` not imported: one-packet scheduling is for UDP services (keepalived drops it too)",
                ),
            );
        }
    }
    if let Some((ip, port, loc)) = vs.sorry {
        let left_out = match not_a_host(ip) {
            Some(what) => Some(format!("it is {what}, not one host's")),
            None => {
                (Family::of(&ip) != family).then(|| format!("it is not {family} like the service"))
            }
        };
        if let Some(why) = left_out {
            if first {
                push(
                    notes,
                    "",
                    Note::new(loc, format!("`sorry_server {ip}` not imported: {why}")),
                );
            }
        } else {
            let port = match (fwd, vport) {
                (Forwarding::Nat, Some(v)) if port == 0 => v,
                (Forwarding::Nat, _) => port,
                (_, Some(v)) => {
                    if port != 0 && port != v && first {
                        push(
                            notes,
                            "sorry_server",
                            Note::new(
                                loc,
                                format!(
                                    "sorry server port {port} became {v}: keepalived sends DR and TUN traffic to the service's port"
                                ),
                            ),
                        );
                    }
                    v
                }
                (_, None) => 0,
            };
            let ep = Endpoint {
                ip,
                port: (port != 0).then_some(port),
            };
            sec.line_c(
                "sorry_server",
                string(&ep.to_string()),
                "used while no real server is up",
            );
        }
    }
}

/// keepalived's netmask for persistence: dotted (IPv4) or a prefix length.
pub(super) fn netmask_prefix(m: &str, family: Family) -> Option<u8> {
    if let Ok(n) = m.parse::<u8>() {
        return (n <= family.max_prefix()).then_some(n);
    }
    if family != Family::Ipv4 {
        return None;
    }
    let mask: Ipv4Addr = m.parse().ok()?;
    let bits = u32::from(mask);
    let ones = bits.leading_ones();
    (bits.checked_shl(ones).unwrap_or(0) == 0).then_some(ones as u8)
}

/// The service's port; a firewall-mark service has none.
fn service_port(k: SvcKey) -> Option<u16> {
    match k {
        SvcKey::Addr { port, .. } => Some(port),
        SvcKey::Mark(_) => None,
    }
}

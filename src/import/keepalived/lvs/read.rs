//! A `virtual_server`, its `real_server`s and their checkers read into
//! typed values ([`VsRead`], [`RsRead`], [`CheckRead`]), with a note for
//! each keyword that does not carry over. Part of the virtual server
//! mapping (`lvs.rs`); `service.rs` writes what this reads.

use super::*;

impl Mapper {
    pub(super) fn read_vs(&mut self, s: &Stmt, notes: &mut Notes) -> VsRead {
        let mut vs = VsRead {
            loc: s.loc,
            ..VsRead::default()
        };
        let mut stack: Vec<Cow<'_, Stmt>> = s.children().iter().rev().map(Cow::Borrowed).collect();
        while let Some(c) = stack.pop() {
            match c.keyword() {
                "lb_algo" | "lvs_sched" => {
                    let by_name = |a: &str| SCHEDULERS.iter().find(|x| x.name() == a).copied();
                    let why = "it is not an IPVS scheduler pharos knows; the service gets keepalived's default, wlc";
                    if let Some(x) = self.parsed(&c, notes, "scheduler", by_name, why) {
                        vs.sched = Some(x);
                    }
                }
                "lb_kind" | "lvs_method" => match forwarding(&c) {
                    Ok(f) => vs.fwd = Some(f),
                    Err(why) => self.bad(&c, notes, "forwarding", why),
                },
                "protocol" => match c.arg(0).map(str::to_ascii_uppercase).as_deref() {
                    Some("TCP") => vs.protocol = Some(Protocol::Tcp),
                    Some("UDP") => vs.protocol = Some(Protocol::Udp),
                    Some("SCTP") => vs.protocol = Some(Protocol::Sctp),
                    _ => self.bad(&c, notes, "protocol", "the protocol is TCP, UDP or SCTP"),
                },
                "persistence_timeout" => {
                    match c.arg(0).map_or(Some(360), |a| int(a, 0, 86_400 * 31)) {
                        Some(0) => {}
                        Some(n) => vs.persistence = Some(n as u32),
                        None => self.bad(&c, notes, "persistence", "it is not a number of seconds"),
                    }
                }
                "persistence_granularity" => {
                    if let Some(m) = self.parsed(&c, notes, "", word, "it has no netmask") {
                        vs.netmask = Some((m, c.loc));
                    }
                }
                "ops" => vs.ops = Some(c.loc),
                "sh-port" | "mh-port" | "flag-2" => {
                    vs.flags.push((SchedulerFlag::Port, c.loc));
                }
                "sh-fallback" | "mh-fallback" | "flag-1" => {
                    vs.flags.push((SchedulerFlag::Fallback, c.loc));
                }
                "flag-3" => self.bad(
                    &c,
                    notes,
                    "",
                    "pharos knows the `fallback` and `port` scheduler flags only",
                ),
                "sorry_server" => match sorry(&c) {
                    Some((ip, port)) => vs.sorry = Some((ip, port, c.loc)),
                    None => self.bad(
                        &c,
                        notes,
                        "sorry_server",
                        "write it as `sorry_server IP PORT`",
                    ),
                },
                "quorum" => {
                    let quorum = self.parsed(&c, notes, "quorum", whole, WHOLE);
                    if let Some(q) = quorum.filter(|&q| q != 0) {
                        vs.quorum = Some((q, c.loc));
                    }
                }
                "hysteresis" => {
                    if let Some(h) = self.parsed(&c, notes, "hysteresis", whole, WHOLE) {
                        vs.hysteresis = Some(h);
                    }
                }
                "inhibit_on_failure" => vs.inhibit = Some(on_off(&c)),
                "alpha" => vs.alpha = true,
                "ip_family" => match c.arg(0) {
                    Some("inet") => vs.family = Some(Family::Ipv4),
                    Some("inet6") => vs.family = Some(Family::Ipv6),
                    _ => self.bad(&c, notes, "", "the family is inet or inet6"),
                },
                "virtualhost" => {
                    if let Some(h) = self.parsed(&c, notes, "", word, "it names no host") {
                        vs.vhost = Some(h);
                    }
                }
                "weight" => {
                    if let Some(w) = self.parsed(&c, notes, "", weight, WEIGHT) {
                        vs.weight = Some(w);
                    }
                }
                "delay_loop" | "retry" | "delay_before_retry" | "connect_timeout" => {
                    if let Err(why) = set_default(&mut vs.defaults, &c) {
                        self.bad(&c, notes, "check", why);
                    }
                }
                "real_server" => {
                    if let Some(rs) = self.read_rs(&c, notes) {
                        vs.rs.push(rs);
                    }
                }
                k if VS_KW.contains(&k) => self.unsupported(&c, notes),
                _ => {
                    if let Some(fixed) = self.unknown(Cx::Vs, &c, notes) {
                        stack.push(Cow::Owned(fixed));
                    }
                }
            }
        }
        vs
    }

    pub(super) fn read_rs(&mut self, s: &Stmt, vs_notes: &mut Notes) -> Option<RsRead> {
        let ip = s.arg(0).and_then(|a| a.parse::<IpAddr>().ok());
        let port = match s.arg(1) {
            None => Some(0),
            Some(p) => int(p, 0, 65535).map(|p| p as u16),
        };
        let (Some(ip), Some(port)) = (ip, port) else {
            self.bad(s, vs_notes, "", "write it as `real_server IP PORT`");
            return None;
        };
        let mut rs = RsRead {
            loc: s.loc,
            ip,
            port,
            weight: None,
            inhibit: None,
            fwd: None,
            upper: None,
            lower: None,
            defaults: Defaults::default(),
            vhost: None,
            checks: Vec::new(),
            notes: Vec::new(),
        };
        let mut notes: Notes = Vec::new();
        let mut stack: Vec<Cow<'_, Stmt>> = s.children().iter().rev().map(Cow::Borrowed).collect();
        while let Some(c) = stack.pop() {
            match c.keyword() {
                "weight" => {
                    if let Some(w) = self.parsed(&c, &mut notes, "", weight, WEIGHT) {
                        rs.weight = Some(w);
                    }
                }
                "inhibit_on_failure" => rs.inhibit = Some(on_off(&c)),
                "lvs_method" => match forwarding(&c) {
                    Ok((f, None)) => rs.fwd = Some(f),
                    Ok((f, Some(_))) => {
                        rs.fwd = Some(f);
                        self.bad(&c, &mut notes, "", "pharos has one tunnel setting per service; this real server uses the service's");
                    }
                    Err(why) => self.bad(&c, &mut notes, "", why),
                },
                k @ ("uthreshold" | "lthreshold") => {
                    let slot = if k == "uthreshold" {
                        &mut rs.upper
                    } else {
                        &mut rs.lower
                    };
                    if let Some(n) = self.parsed(&c, &mut notes, "", whole, WHOLE) {
                        *slot = Some(n);
                    }
                }
                "virtualhost" => rs.vhost = c.arg(0).map(str::to_string),
                "alpha" => {}
                "delay_loop" | "retry" | "delay_before_retry" | "connect_timeout" => {
                    if let Err(why) = set_default(&mut rs.defaults, &c) {
                        self.bad(&c, &mut notes, "", why);
                    }
                }
                k @ ("TCP_CHECK" | "HTTP_GET" | "SSL_GET" | "MISC_CHECK" | "DNS_CHECK"
                | "UDP_CHECK") => {
                    if let Some(chk) = self.read_check(k, &c, &mut notes) {
                        rs.checks.push(chk);
                    }
                }
                k if RS_KW.contains(&k) => self.unsupported(&c, &mut notes),
                _ => {
                    if let Some(fixed) = self.unknown(Cx::Rs, &c, &mut notes) {
                        stack.push(Cow::Owned(fixed));
                    }
                }
            }
        }
        rs.notes = notes.into_iter().map(|(_, n)| n).collect();
        Some(rs)
    }

    pub(super) fn read_check(
        &mut self,
        kw: &str,
        s: &Stmt,
        notes: &mut Notes,
    ) -> Option<CheckRead> {
        let (kind, cx) = match kw {
            "TCP_CHECK" => (CheckType::Tcp, Cx::Tcp),
            "HTTP_GET" => (CheckType::Http, Cx::Http),
            "SSL_GET" => (CheckType::Https, Cx::Http),
            "MISC_CHECK" => (CheckType::Exec, Cx::Misc),
            "DNS_CHECK" => (CheckType::Dns, Cx::Dns),
            _ => (CheckType::Udp, Cx::Udp),
        };
        let mut spec = CheckSpec::none();
        spec.kind = kind;
        let mut own = Defaults::default();
        let mut urls = 0;
        let mut stack: Vec<Cow<'_, Stmt>> = s.children().iter().rev().map(Cow::Borrowed).collect();
        while let Some(c) = stack.pop() {
            match c.keyword() {
                "connect_ip" if cx != Cx::Misc => {
                    if let Some(ip) = self.parsed(&c, notes, "", ip, IP) {
                        spec.address = Some(ip);
                    }
                }
                "connect_port" if cx != Cx::Misc => {
                    let port = |p: &str| int(p, 1, 65535).map(|p| p as u16);
                    if let Some(p) = self.parsed(&c, notes, "", port, "a port is 1 to 65535") {
                        spec.port = Some(p);
                    }
                }
                "bindto" if cx != Cx::Misc => {
                    if let Some(ip) = self.parsed(&c, notes, "", ip, IP) {
                        spec.bind_to = Some(ip);
                    }
                }
                "nb_get_retry" | "retry" | "delay_before_retry" | "delay_loop"
                | "connect_timeout" => {
                    if let Err(why) = set_default(&mut own, &c) {
                        self.bad(&c, notes, "", why);
                    }
                }
                "alpha" => {}
                "url" if cx == Cx::Http => {
                    urls += 1;
                    if urls > 1 {
                        self.bad(
                            &c,
                            notes,
                            "",
                            "pharos checks one path per check: the first `url` is imported",
                        );
                    } else {
                        self.read_url(&c, &mut spec, notes);
                    }
                }
                "virtualhost" if cx == Cx::Http => spec.host = c.arg(0).map(str::to_string),
                "enable_sni" if cx == Cx::Http => {}
                "misc_path" if cx == Cx::Misc => match command_words(&c) {
                    Ok((written, argv, _)) => match pharos_argv(&written, argv) {
                        Some((argv, why)) => {
                            if let Some(why) = why {
                                push(notes, "", Note::new(c.loc, why));
                            }
                            spec.command = Some(argv);
                        }
                        None => self.bad(&c, notes, "", "the command is empty"),
                    },
                    Err(e) => self.bad(&c, notes, "", e),
                },
                "misc_timeout" if cx == Cx::Misc => {
                    if let Some(d) = self.parsed(&c, notes, "", nonzero_secs, SECONDS) {
                        spec.timeout = Some(d);
                    }
                }
                "type" if cx == Cx::Dns => {
                    let t = c.arg(0).map(str::to_ascii_uppercase);
                    match t.as_deref() {
                        Some(
                            t @ ("A" | "AAAA" | "CNAME" | "MX" | "NS" | "PTR" | "SOA" | "SRV"
                            | "TXT"),
                        ) => {
                            spec.query_type = Some(t.to_string());
                        }
                        _ => self.bad(
                            &c,
                            notes,
                            "",
                            "pharos queries A, AAAA, CNAME, MX, NS, PTR, SOA, SRV or TXT",
                        ),
                    }
                }
                "name" if cx == Cx::Dns => spec.query_name = c.arg(0).map(str::to_string),
                "payload" if cx == Cx::Udp => {
                    let why = "pharos sends a text payload, and this hex is not printable text";
                    if let Some(t) = self.parsed(&c, notes, "", hex_text, why) {
                        spec.payload = Some(t);
                    }
                }
                "require_reply" if cx == Cx::Udp => {
                    spec.expect_reply = Some(true);
                    if let Some(h) = c.arg(0) {
                        match hex_text(h) {
                            Some(t) => spec.expect = Some(t),
                            None => self.bad(&c, notes, "", "pharos matches replies by text, and this hex is not printable text"),
                        }
                    }
                }
                k if known(cx).contains(&k) => self.unsupported(&c, notes),
                _ => {
                    if let Some(fixed) = self.unknown(cx, &c, notes) {
                        stack.push(Cow::Owned(fixed));
                    }
                }
            }
        }
        match kind {
            CheckType::Exec if spec.command.is_none() => {
                self.bad(
                    s,
                    notes,
                    "",
                    "a MISC_CHECK needs a `misc_path`; the real server stays up unchecked",
                );
                return None;
            }
            CheckType::Dns => {
                if spec.query_name.is_none() {
                    spec.query_name = Some(".".into());
                }
                if spec.query_type.is_none() {
                    spec.query_type = Some("SOA".into());
                }
            }
            CheckType::Udp if spec.expect_reply.is_none() => spec.expect_reply = Some(false),
            _ => {}
        }
        Some(CheckRead {
            kind,
            name: kw.to_string(),
            loc: s.loc,
            own,
            spec,
        })
    }

    pub(super) fn read_url(&mut self, s: &Stmt, spec: &mut CheckSpec, notes: &mut Notes) {
        let mut stack: Vec<Cow<'_, Stmt>> = s.children().iter().rev().map(Cow::Borrowed).collect();
        while let Some(c) = stack.pop() {
            match c.keyword() {
                "path" => match c.arg(0) {
                    Some(p) if p.starts_with('/') => spec.path = Some(p.to_string()),
                    Some(p) => {
                        push(
                            notes,
                            "",
                            Note::new(
                                c.loc,
                                format!("path `{p}` became `/{p}`: an HTTP path starts with `/`"),
                            ),
                        );
                        spec.path = Some(format!("/{p}"));
                    }
                    None => self.bad(&c, notes, "", "it has no path"),
                },
                "digest" => match c.arg(0) {
                    Some(d) if d.len() == 32 && d.bytes().all(|b| b.is_ascii_hexdigit()) => {
                        spec.md5 = Some(d.to_ascii_lowercase());
                    }
                    _ => self.bad(
                        &c,
                        notes,
                        "",
                        "an MD5 digest is 32 hex digits, as genhash prints it",
                    ),
                },
                "status_code" => {
                    let mut codes = Vec::new();
                    for a in c.args() {
                        match a.parse::<StatusRange>() {
                            Ok(r) if r.lo == r.hi => codes.push(r.lo.to_string()),
                            Ok(r) => codes.push(string(&r.to_string())),
                            Err(_) => {
                                self.bad(&c, notes, "", format!("`{a}` is not a status code from 100 to 599 or a range of them"));
                                codes.clear();
                                break;
                            }
                        }
                    }
                    if !codes.is_empty() {
                        spec.status = Some(codes);
                    }
                }
                "virtualhost" => spec.host = c.arg(0).map(str::to_string),
                k if known(Cx::Url).contains(&k) => self.unsupported(&c, notes),
                _ => {
                    if let Some(fixed) = self.unknown(Cx::Url, &c, notes) {
                        stack.push(Cow::Owned(fixed));
                    }
                }
            }
        }
    }
}

/// `lb_kind NAT|DR|TUN` and keepalived 2's `lvs_method TUN type gue port N csum`.
pub(super) fn forwarding(s: &Stmt) -> Result<(Forwarding, Option<Tun>), String> {
    let f = match s.arg(0).map(str::to_ascii_uppercase).as_deref() {
        Some("NAT") => Forwarding::Nat,
        Some("DR") => Forwarding::Dr,
        Some("TUN") => Forwarding::Tun,
        _ => return Err("the forwarding method is NAT, DR or TUN".into()),
    };
    if f != Forwarding::Tun || s.args().len() == 1 {
        return Ok((f, None));
    }
    let mut t = Tun {
        kind: "ipip",
        port: None,
        checksum: None,
    };
    let mut args = s.args().iter().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "type" => {
                t.kind = match args.next().map(String::as_str) {
                    Some("ipip") => "ipip",
                    Some("gue") => "gue",
                    Some("gre") => "gre",
                    _ => return Err("the tunnel type is ipip, gue or gre".into()),
                }
            }
            "port" => {
                t.port = Some(
                    args.next()
                        .and_then(|p| int(p, 1, 65535))
                        .ok_or("a tunnel port is 1 to 65535")? as u16,
                );
            }
            "nocsum" => t.checksum = None,
            "csum" => t.checksum = Some("checksum"),
            "remcsum" => t.checksum = Some("remote"),
            other => return Err(format!("`{other}` is not a tunnel setting")),
        }
    }
    if t.kind == "gue" && t.port.is_none() {
        return Err("a GUE tunnel needs a `port`".into());
    }
    if t.kind == "ipip" && t.port.is_some() {
        return Err("an ipip tunnel has no port".into());
    }
    Ok((f, Some(t)))
}

pub(super) fn on_off(s: &Stmt) -> bool {
    !matches!(s.arg(0), Some("false" | "off" | "no"))
}

pub(super) fn sorry(s: &Stmt) -> Option<(IpAddr, u16)> {
    let ip = s.arg(0)?.parse().ok()?;
    let port = match s.arg(1) {
        None => 0,
        Some(p) => int(p, 0, 65535)? as u16,
    };
    Some((ip, port))
}

pub(super) fn set_default(d: &mut Defaults, s: &Stmt) -> Result<(), String> {
    let v = s.arg(0).ok_or("it has no value")?;
    match s.keyword() {
        "retry" | "nb_get_retry" => {
            d.retry = Some(int(v, 0, 1_000_000).ok_or("it is not a count")? as u32);
        }
        k => {
            let t = secs(v)
                .filter(|t| !t.is_zero() || k == "delay_before_retry")
                .ok_or("it is not a number of seconds above 0")?;
            match k {
                "delay_loop" => d.delay_loop = Some(t),
                "delay_before_retry" => d.delay_before_retry = Some(t),
                _ => d.connect_timeout = Some(t),
            }
        }
    }
    Ok(())
}

/// keepalived's hex payload as text, if it is printable text.
/// Why a whole number is not imported.
pub(super) const WHOLE: &str = "it is not a whole number";

/// A whole number that fits IPVS's 32 bits.
pub(super) fn whole(s: &str) -> Option<u32> {
    int(s, 0, i64::from(u32::MAX)).map(|n| n as u32)
}

/// Why a weight is not imported.
pub(super) const WEIGHT: &str = "a weight is 0 to 65535";

/// A real server's weight.
pub(super) fn weight(s: &str) -> Option<u32> {
    int(s, 0, 65535).map(|n| n as u32)
}

/// Why an address is not imported.
pub(super) const IP: &str = "it is not an IP address";

/// An IPv4 or IPv6 address.
pub(super) fn ip(s: &str) -> Option<IpAddr> {
    s.parse().ok()
}

pub(super) fn hex_text(h: &str) -> Option<String> {
    let h = h.strip_prefix("0x").unwrap_or(h);
    if h.is_empty() || h.len() % 2 != 0 || h.len() > 2048 {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..h.len())
        .step_by(2)
        .map(|i| h.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok()))
        .collect();
    let text = String::from_utf8(bytes?).ok()?;
    text.chars()
        .all(|c| !c.is_control() || c == '\n' || c == '\r' || c == '\t')
        .then_some(text)
}

//! `virtual_server` (and `virtual_server_group`) to `[services.NAME]`, with
//! the real servers and their checks.
//!
//! keepalived's defaults are written out where pharos's differ: NAT
//! forwarding when no `lb_kind` is given, a 60 s `delay_loop`, 3 s between
//! HTTP retries, removing a failed real server unless `inhibit_on_failure`.
//! Its corrections are made as it makes them (a DR real server's port
//! becomes the service's, a port-less service gets persistence), with a
//! note. keepalived checks each real server on its own; pharos has one
//! check per service that a real server may override, so a check that all
//! real servers share is written once.

use std::borrow::Cow;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::doc::{Comment, Note, Section, array, inline, key, string};
use super::map::{
    Cx, Mapper, Notes, RS_KW, VS_KW, command_words, dur, int, known, pharos_argv, push, quote, secs,
};
use super::parse::{Loc, Stmt};
use crate::config::model::{CheckType, Forwarding, Protocol, Scheduler, SchedulerFlag};
use crate::config::types::{Duration, Endpoint, Family, StatusRange};
use crate::import::emit;
use crate::import::naming::{ServiceId, most_common, service_name, unique_name};

/// What keepalived 2.2 runs a `virtual_server` ADDRESS PORT without
/// `protocol` as: check_parser.c reports "no protocol set - defaulting to
/// UDP" (seen with 2.2.7 from apt).
const NO_PROTOCOL: Protocol = Protocol::Udp;

/// At most this many services from one address range of a group.
const MAX_RANGE: usize = 256;
/// A `check = { ... }` line longer than this becomes a section.
const MAX_INLINE: usize = 110;

const SCHEDULERS: &[Scheduler] = &[
    Scheduler::Rr,
    Scheduler::Wrr,
    Scheduler::Lc,
    Scheduler::Wlc,
    Scheduler::Lblc,
    Scheduler::Lblcr,
    Scheduler::Dh,
    Scheduler::Sh,
    Scheduler::Sed,
    Scheduler::Nq,
    Scheduler::Fo,
    Scheduler::Ovf,
    Scheduler::Mh,
    Scheduler::Twos,
];

/// Which kernel service: an address and port (0: all ports) or a mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SvcKey {
    Addr { ip: IpAddr, port: u16 },
    Mark(u32),
}

pub(super) type VsGroups = HashMap<String, Vec<(SvcKey, Loc)>>;

/// A service's identity in the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ident {
    Addr(Protocol, IpAddr, u16),
    Mark(u32, Family),
}

/// Check settings that a virtual server or real server passes down.
#[derive(Debug, Clone, Copy, Default)]
struct Defaults {
    delay_loop: Option<Duration>,
    retry: Option<u32>,
    delay_before_retry: Option<Duration>,
    connect_timeout: Option<Duration>,
}

impl Defaults {
    fn over(self, base: Defaults) -> Defaults {
        Defaults {
            delay_loop: self.delay_loop.or(base.delay_loop),
            retry: self.retry.or(base.retry),
            delay_before_retry: self.delay_before_retry.or(base.delay_before_retry),
            connect_timeout: self.connect_timeout.or(base.connect_timeout),
        }
    }
}

/// A pharos check, as it will be written.
#[derive(Debug, Clone, PartialEq)]
struct CheckSpec {
    kind: CheckType,
    path: Option<String>,
    status: Option<Vec<String>>,
    md5: Option<String>,
    host: Option<String>,
    command: Option<Vec<String>>,
    query_name: Option<String>,
    query_type: Option<String>,
    payload: Option<String>,
    expect: Option<String>,
    expect_reply: Option<bool>,
    interval: Duration,
    timeout: Option<Duration>,
    retries: Option<u32>,
    retry_delay: Option<Duration>,
    port: Option<u16>,
    address: Option<IpAddr>,
    bind_to: Option<IpAddr>,
}

impl CheckSpec {
    fn none() -> Self {
        CheckSpec {
            kind: CheckType::None,
            path: None,
            status: None,
            md5: None,
            host: None,
            command: None,
            query_name: None,
            query_type: None,
            payload: None,
            expect: None,
            expect_reply: None,
            interval: Duration::from_secs(60),
            timeout: None,
            retries: None,
            retry_delay: None,
            port: None,
            address: None,
            bind_to: None,
        }
    }

    fn uses_port(&self) -> bool {
        !matches!(self.kind, CheckType::Exec | CheckType::None)
    }

    fn pairs(&self) -> Vec<(String, String)> {
        let mut p: Vec<(String, String)> = vec![("type".into(), string(self.kind.name()))];
        if self.kind == CheckType::None {
            return p;
        }
        let mut add = |k: &str, v: Option<String>| {
            if let Some(v) = v {
                p.push((k.to_string(), v));
            }
        };
        add("path", self.path.as_deref().map(string));
        add("status", self.status.as_ref().map(|s| array(s)));
        add("md5", self.md5.as_deref().map(string));
        add("host", self.host.as_deref().map(string));
        add(
            "command",
            self.command
                .as_ref()
                .map(|c| array(&c.iter().map(|a| string(a)).collect::<Vec<_>>())),
        );
        add("query_name", self.query_name.as_deref().map(string));
        add("query_type", self.query_type.as_deref().map(string));
        add("payload", self.payload.as_deref().map(string));
        add("expect", self.expect.as_deref().map(string));
        add("expect_reply", self.expect_reply.map(|b| b.to_string()));
        add("interval", Some(dur(self.interval)));
        add("timeout", self.timeout.map(dur));
        add("retries", self.retries.map(|r| r.to_string()));
        add("retry_delay", self.retry_delay.map(dur));
        add("port", self.port.map(|x| x.to_string()));
        add("address", self.address.map(|a| string(&a.to_string())));
        add("bind_to", self.bind_to.map(|a| string(&a.to_string())));
        p
    }
}

/// A checker block as read, before the defaults are applied.
struct CheckRead {
    kind: CheckType,
    /// The keyword, for messages.
    name: String,
    loc: Loc,
    own: Defaults,
    spec: CheckSpec,
}

/// A real server as it will be added: its key, what it was read as, its
/// own check (with the notes it earned) and the notes of its line.
type Placed<'a> = (
    Endpoint,
    &'a RsRead,
    Option<(CheckSpec, Vec<Note>)>,
    Vec<Note>,
);

struct RsRead {
    loc: Loc,
    ip: IpAddr,
    port: u16,
    weight: Option<u32>,
    inhibit: Option<bool>,
    fwd: Option<Forwarding>,
    upper: Option<u32>,
    lower: Option<u32>,
    defaults: Defaults,
    vhost: Option<String>,
    checks: Vec<CheckRead>,
    notes: Vec<Note>,
}

#[derive(Clone, Copy, PartialEq)]
struct Tun {
    kind: &'static str,
    port: Option<u16>,
    checksum: Option<&'static str>,
}

#[derive(Default)]
struct VsRead {
    /// The `virtual_server` line.
    loc: Loc,
    sched: Option<Scheduler>,
    flags: Vec<(SchedulerFlag, Loc)>,
    fwd: Option<(Forwarding, Option<Tun>)>,
    protocol: Option<Protocol>,
    persistence: Option<u32>,
    netmask: Option<(String, Loc)>,
    ops: Option<Loc>,
    sorry: Option<(IpAddr, u16, Loc)>,
    quorum: Option<(u32, Loc)>,
    hysteresis: Option<u32>,
    inhibit: Option<bool>,
    weight: Option<u32>,
    alpha: bool,
    family: Option<Family>,
    vhost: Option<String>,
    defaults: Defaults,
    rs: Vec<RsRead>,
    notes: Notes,
}

impl Mapper {
    /// The `virtual_server_group` blocks by name.
    pub(super) fn vs_groups(&mut self, stmts: &[Cow<'_, Stmt>], top: &mut Notes) -> VsGroups {
        let mut groups = VsGroups::new();
        for s in stmts {
            let Some(name) = s.arg(0) else {
                self.bad(s, top, "", "a virtual_server_group needs a name");
                continue;
            };
            let mut keys: Vec<(SvcKey, Loc)> = Vec::new();
            for line in s.children() {
                match group_entry(line) {
                    Ok(mut ks) => {
                        if ks.len() > MAX_RANGE {
                            self.bad(
                                line,
                                top,
                                "",
                                format!("the range has more than {MAX_RANGE} addresses; list them in smaller groups"),
                            );
                            continue;
                        }
                        for k in ks.drain(..) {
                            if !keys.iter().any(|(x, _)| *x == k) {
                                keys.push((k, line.loc));
                            }
                        }
                    }
                    Err(why) => self.bad(line, top, "", why),
                }
            }
            if groups.contains_key(name) {
                self.bad(
                    s,
                    top,
                    "",
                    "a virtual_server_group of that name comes before it",
                );
            } else {
                groups.insert(name.to_string(), keys);
            }
        }
        groups
    }

    pub(super) fn virtual_servers(&mut self, stmts: &[Cow<'_, Stmt>], groups: &VsGroups) {
        let mut used: Vec<String> = Vec::new();
        let mut seen: Vec<(Ident, String)> = Vec::new();
        for s in stmts {
            let mut notes: Notes = Vec::new();
            let keys: Vec<(SvcKey, Option<String>)> = match s.args() {
                [g, name] if g == "group" => match groups.get(name) {
                    Some(ks) if !ks.is_empty() => {
                        let many = ks.len() > 1;
                        ks.iter()
                            .enumerate()
                            .map(|(i, (k, _))| {
                                let n = if many {
                                    format!("{name}-{}", i + 1)
                                } else {
                                    name.clone()
                                };
                                (*k, Some(n))
                            })
                            .collect()
                    }
                    _ => {
                        self.drop_vs(
                            s,
                            format!("there is no virtual_server_group `{name}` with addresses"),
                            notes,
                        );
                        continue;
                    }
                },
                [f, mark] if f == "fwmark" => match int(mark, 1, i64::from(u32::MAX)) {
                    Some(m) => vec![(SvcKey::Mark(m as u32), None)],
                    None => {
                        self.drop_vs(s, "a firewall mark is 1 to 4294967295".into(), notes);
                        continue;
                    }
                },
                [ip] | [ip, _] if ip.parse::<IpAddr>().is_ok() => {
                    let port = match s.arg(1) {
                        None => Some(0),
                        Some(p) => int(p, 0, 65535).map(|p| p as u16),
                    };
                    match (ip.parse::<IpAddr>(), port) {
                        (Ok(ip), Some(port)) => vec![(SvcKey::Addr { ip, port }, None)],
                        _ => {
                            self.drop_vs(s, "the port is not 0 to 65535".into(), notes);
                            continue;
                        }
                    }
                }
                _ => {
                    self.drop_vs(
                        s,
                        "write it as `virtual_server IP PORT`, `virtual_server fwmark N` or `virtual_server group NAME`".into(),
                        notes,
                    );
                    continue;
                }
            };
            let vs = self.read_vs(s, &mut notes);
            if vs.rs.is_empty() {
                self.drop_vs(
                    s,
                    "it has no real servers (keepalived ignores such a virtual server too)".into(),
                    std::mem::take(&mut notes)
                        .into_iter()
                        .chain(vs.notes)
                        .collect(),
                );
                continue;
            }
            // One kernel service per protocol, address and port (or mark
            // and family): a second definition is not imported.
            let family = vs
                .family
                .or_else(|| vs.rs.first().map(|r| Family::of(&r.ip)))
                .unwrap_or(Family::Ipv4);
            let mut dups = Vec::new();
            let keys: Vec<(SvcKey, Option<String>)> = keys
                .into_iter()
                .filter(|(k, _)| {
                    let id = match *k {
                        SvcKey::Addr { ip, port } => {
                            Ident::Addr(vs.protocol.unwrap_or(NO_PROTOCOL), ip, port)
                        }
                        SvcKey::Mark(m) => Ident::Mark(m, family),
                    };
                    match seen.iter().find(|(x, _)| *x == id) {
                        Some((_, name)) => {
                            dups.push(name.clone());
                            false
                        }
                        None => {
                            seen.push((id, String::new()));
                            true
                        }
                    }
                })
                .collect();
            if keys.is_empty() {
                self.drop_vs(
                    s,
                    format!(
                        "it is the same kernel service as `{}` before it",
                        dups.first().map_or("", String::as_str)
                    ),
                    notes,
                );
                continue;
            }
            for d in &dups {
                push(
                    &mut notes,
                    "",
                    Note::new(
                        s.loc,
                        format!(
                            "an entry of `{}` not imported: it is the same kernel service as `{d}` before it",
                            quote(s)
                        ),
                    ),
                );
            }
            let group_note = (keys.len() > 1).then(|| {
                format!(
                    "virtual_server_group `{}`: pharos has no service groups, so each of its {} entries is a service with the same settings",
                    s.arg(1).unwrap_or(""),
                    keys.len()
                )
            });
            let mut vs = vs;
            vs.notes.append(&mut notes);
            for (i, (k, name)) in keys.into_iter().enumerate() {
                let first = i == 0;
                let base = name.unwrap_or_else(|| base_name(k, vs.protocol));
                let name = unique_name(&base, |n| used.iter().any(|u| u == n));
                used.push(name.clone());
                if let Some(last) = seen.iter_mut().find(|(_, n)| n.is_empty()) {
                    last.1 = name.clone();
                }
                let secs = self.service(&name, k, &mut vs, first, group_note.as_deref());
                if first {
                    self.anchors
                        .push((s.loc, s.end_line(), vec!["services".into(), name.clone()]));
                }
                self.service_sections.extend(secs);
            }
        }
    }

    fn drop_vs(&mut self, s: &Stmt, why: String, notes: Notes) {
        let mut all = vec![Comment::Note(Note::new(
            s.loc,
            format!("`{}` not imported: {why}", quote(s)),
        ))];
        all.extend(notes.into_iter().map(|(_, n)| Comment::Note(n)));
        let anchor = format!("services.{}.{}", s.loc.file, s.loc.line);
        self.service_sections.push(Section::loose(&anchor, all));
        self.anchors
            .push((s.loc, s.end_line(), vec!["#".into(), anchor]));
    }

    fn read_vs(&mut self, s: &Stmt, notes: &mut Notes) -> VsRead {
        let mut vs = VsRead {
            loc: s.loc,
            ..VsRead::default()
        };
        let mut stack: Vec<Cow<'_, Stmt>> = s.children().iter().rev().map(Cow::Borrowed).collect();
        while let Some(c) = stack.pop() {
            match c.keyword() {
                "lb_algo" | "lvs_sched" => {
                    match c.arg(0).and_then(|a| SCHEDULERS.iter().find(|x| x.name() == a)) {
                        Some(x) => vs.sched = Some(*x),
                        None => self.bad(&c, notes, "scheduler", "it is not an IPVS scheduler pharos knows; the service gets keepalived's default, wlc"),
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
                "persistence_granularity" => match c.arg(0) {
                    Some(m) => vs.netmask = Some((m.to_string(), c.loc)),
                    None => self.bad(&c, notes, "", "it has no netmask"),
                },
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
                "quorum" => match c.arg(0).and_then(|q| int(q, 0, i64::from(u32::MAX))) {
                    Some(0) => {}
                    Some(q) => vs.quorum = Some((q as u32, c.loc)),
                    None => self.bad(&c, notes, "quorum", "it is not a whole number"),
                },
                "hysteresis" => match c.arg(0).and_then(|q| int(q, 0, i64::from(u32::MAX))) {
                    Some(h) => vs.hysteresis = Some(h as u32),
                    None => self.bad(&c, notes, "hysteresis", "it is not a whole number"),
                },
                "inhibit_on_failure" => vs.inhibit = Some(on_off(&c)),
                "alpha" => vs.alpha = true,
                "ip_family" => match c.arg(0) {
                    Some("inet") => vs.family = Some(Family::Ipv4),
                    Some("inet6") => vs.family = Some(Family::Ipv6),
                    _ => self.bad(&c, notes, "", "the family is inet or inet6"),
                },
                "virtualhost" => match c.arg(0) {
                    Some(h) => vs.vhost = Some(h.to_string()),
                    None => self.bad(&c, notes, "", "it names no host"),
                },
                "weight" => match c.arg(0).and_then(|w| int(w, 0, 65535)) {
                    Some(w) => vs.weight = Some(w as u32),
                    None => self.bad(&c, notes, "", "a weight is 0 to 65535"),
                },
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

    fn read_rs(&mut self, s: &Stmt, vs_notes: &mut Notes) -> Option<RsRead> {
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
                "weight" => match c.arg(0).and_then(|w| int(w, 0, 65535)) {
                    Some(w) => rs.weight = Some(w as u32),
                    None => self.bad(&c, &mut notes, "", "a weight is 0 to 65535"),
                },
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
                    match c.arg(0).and_then(|n| int(n, 0, i64::from(u32::MAX))) {
                        Some(n) if k == "uthreshold" => rs.upper = Some(n as u32),
                        Some(n) => rs.lower = Some(n as u32),
                        None => self.bad(&c, &mut notes, "", "it is not a whole number"),
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

    fn read_check(&mut self, kw: &str, s: &Stmt, notes: &mut Notes) -> Option<CheckRead> {
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
                "connect_ip" if cx != Cx::Misc => match c.arg(0).and_then(|a| a.parse().ok()) {
                    Some(ip) => spec.address = Some(ip),
                    None => self.bad(&c, notes, "", "it is not an IP address"),
                },
                "connect_port" if cx != Cx::Misc => match c.arg(0).and_then(|p| int(p, 1, 65535)) {
                    Some(p) => spec.port = Some(p as u16),
                    None => self.bad(&c, notes, "", "a port is 1 to 65535"),
                },
                "bindto" if cx != Cx::Misc => match c.arg(0).and_then(|a| a.parse().ok()) {
                    Some(ip) => spec.bind_to = Some(ip),
                    None => self.bad(&c, notes, "", "it is not an IP address"),
                },
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
                    match c.arg(0).and_then(secs).filter(|d| !d.is_zero()) {
                        Some(d) => spec.timeout = Some(d),
                        None => self.bad(&c, notes, "", "it is not a number of seconds"),
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
                "payload" if cx == Cx::Udp => match c.arg(0).and_then(hex_text) {
                    Some(t) => spec.payload = Some(t),
                    None => self.bad(
                        &c,
                        notes,
                        "",
                        "pharos sends a text payload, and this hex is not printable text",
                    ),
                },
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

    fn read_url(&mut self, s: &Stmt, spec: &mut CheckSpec, notes: &mut Notes) {
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

    /// One pharos service for `key`: its sections (the service, its check
    /// if long, its real servers). The notes go to the first service of a
    /// group only.
    fn service(
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
        let vport = match k {
            SvcKey::Addr { port, .. } => Some(port),
            SvcKey::Mark(_) => None,
        };
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
                                &mut notes,
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
        let sched = vs.sched.unwrap_or(Scheduler::Wlc);
        sec.line("scheduler", string(sched.name()));
        let mut flags: Vec<SchedulerFlag> = Vec::new();
        for (f, loc) in &vs.flags {
            if !matches!(sched, Scheduler::Sh | Scheduler::Mh) {
                if first {
                    push(
                        &mut notes,
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
                    &mut notes,
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
                    &mut notes,
                    "",
                    Note::new(
                        *loc,
                        "`persistence_granularity` not imported: it needs `persistence_timeout`",
                    ),
                ),
                (_, None) if first => push(
                    &mut notes,
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
                    &mut notes,
                    "",
                    Note::new(
                        loc,
                        "`ops` not imported: pharos schedules one packet at a time for UDP services by address only",
                    ),
                );
            } else if first {
                push(
                    &mut notes,
                    "",
                    Note::new(
                        loc,
                        "`ops` not imported: one-packet scheduling is for UDP services (keepalived drops it too)",
                    ),
                );
            }
        }
        if let Some((ip, port, loc)) = vs.sorry {
            if Family::of(&ip) != family {
                if first {
                    push(
                        &mut notes,
                        "",
                        Note::new(
                            loc,
                            format!(
                                "`sorry_server {ip}` not imported: it is not {family} like the service"
                            ),
                        ),
                    );
                }
            } else {
                let port = match (fwd, vport) {
                    (Forwarding::Nat, Some(v)) if port == 0 => v,
                    (Forwarding::Nat, _) => port,
                    (_, Some(v)) => {
                        if port != 0 && port != v && first {
                            push(
                                &mut notes,
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

        // Real servers, as keepalived would add them.
        let defaults = vs.defaults;
        let mut servers: Vec<Placed<'_>> = Vec::new();
        let mut added = std::collections::HashSet::new();
        for rs in &vs.rs {
            let mut rs_notes: Vec<Note> = if first { rs.notes.clone() } else { Vec::new() };
            let rfwd = rs.fwd.unwrap_or(fwd);
            if Family::of(&rs.ip) != family && rfwd != Forwarding::Tun {
                if first {
                    sec.tail.push(Comment::Note(Note::new(
                        rs.loc,
                        format!(
                            "real server {} not imported: it is {} but the service is {family}",
                            rs.ip,
                            Family::of(&rs.ip)
                        ),
                    )));
                }
                continue;
            }
            if let SvcKey::Addr { ip, .. } = k
                && ip == rs.ip
            {
                if first {
                    sec.tail.push(Comment::Note(Note::new(
                        rs.loc,
                        format!("real server {} not imported: it is the VIP itself", rs.ip),
                    )));
                }
                continue;
            }
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
            // Its check: the first one pharos has.
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
                    } else if ep.port.is_none()
                        && matches!(spec.kind, CheckType::Tcp | CheckType::Udp)
                    {
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
            servers.push((ep, rs, check, rs_notes));
        }

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
                super::doc::Line {
                    key: "tunnel".into(),
                    value: inline(&p),
                    comment: None,
                    before: Vec::new(),
                },
            );
        }

        // Quorum, as keepalived bounds it.
        let total: u64 = servers
            .iter()
            .map(|(_, rs, ..)| u64::from(rs.weight.or(vs.weight).unwrap_or(1)))
            .sum();
        if let Some((q, loc)) = vs.quorum {
            let q2 = u64::from(q).min(total);
            if q2 == 0 {
                if first {
                    push(
                        &mut notes,
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
                        &mut notes,
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
                            &mut notes,
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

        // The service's check: the one most real servers have, if at
        // least two share it (or there is one real server).
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
        let mut sections = Vec::new();
        let mut check_section = None;
        if let Some(c) = &svc_check {
            for (_, _, cs, _) in &mut servers {
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
                    push(&mut notes, "check", n);
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
                    rss.lines.push(super::doc::Line {
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
}

/// `tcp-192-168-1-10-80`, `fwm-5`: what the ipvsadm import calls services too.
fn base_name(k: SvcKey, proto: Option<Protocol>) -> String {
    service_name(match k {
        SvcKey::Addr { ip, port } => ServiceId::Addr {
            proto: proto.unwrap_or(NO_PROTOCOL),
            ip,
            port,
        },
        SvcKey::Mark(mark) => ServiceId::Mark { mark, v6: false },
    })
}

/// `lb_kind NAT|DR|TUN` and keepalived 2's `lvs_method TUN type gue port N csum`.
fn forwarding(s: &Stmt) -> Result<(Forwarding, Option<Tun>), String> {
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

fn on_off(s: &Stmt) -> bool {
    !matches!(s.arg(0), Some("false" | "off" | "no"))
}

fn sorry(s: &Stmt) -> Option<(IpAddr, u16)> {
    let ip = s.arg(0)?.parse().ok()?;
    let port = match s.arg(1) {
        None => 0,
        Some(p) => int(p, 0, 65535)? as u16,
    };
    Some((ip, port))
}

fn set_default(d: &mut Defaults, s: &Stmt) -> Result<(), String> {
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

/// keepalived's netmask for persistence: dotted (IPv4) or a prefix length.
fn netmask_prefix(m: &str, family: Family) -> Option<u8> {
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

/// A line of a virtual_server_group: `IP PORT`, `IP-LAST PORT`, `fwmark N`.
fn group_entry(line: &Stmt) -> Result<Vec<SvcKey>, String> {
    if line.keyword() == "fwmark" {
        let m = line
            .arg(0)
            .and_then(|m| int(m, 1, i64::from(u32::MAX)))
            .ok_or("a firewall mark is 1 to 4294967295")?;
        return Ok(vec![SvcKey::Mark(m as u32)]);
    }
    let port = match line.arg(0) {
        None => 0,
        Some(p) => int(p, 0, 65535).ok_or("the port is not 0 to 65535")? as u16,
    };
    let addr = line.keyword();
    if let Ok(ip) = addr.parse::<IpAddr>() {
        return Ok(vec![SvcKey::Addr { ip, port }]);
    }
    let bad = || "it is not an address, a range like `192.168.1.10-20`, or `fwmark N`".to_string();
    let (first, last) = addr.rsplit_once('-').ok_or_else(bad)?;
    let start: IpAddr = first.parse().map_err(|_| bad())?;
    let mut out = Vec::new();
    match start {
        IpAddr::V4(a) => {
            let o = a.octets();
            let end: u8 = last.parse().map_err(|_| bad())?;
            if end < o[3] {
                return Err(bad());
            }
            for x in o[3]..=end {
                out.push(SvcKey::Addr {
                    ip: IpAddr::V4(Ipv4Addr::new(o[0], o[1], o[2], x)),
                    port,
                });
            }
        }
        IpAddr::V6(a) => {
            let seg = a.segments();
            let end = u16::from_str_radix(last, 16).map_err(|_| bad())?;
            if end < seg[7] || usize::from(end - seg[7]) >= MAX_RANGE {
                return Err(if end < seg[7] {
                    bad()
                } else {
                    format!(
                        "the range has more than {MAX_RANGE} addresses; list them in smaller groups"
                    )
                });
            }
            for x in seg[7]..=end {
                let mut s = seg;
                s[7] = x;
                out.push(SvcKey::Addr {
                    ip: IpAddr::V6(Ipv6Addr::from(s)),
                    port,
                });
            }
        }
    }
    Ok(out)
}

/// keepalived's hex payload as text, if it is printable text.
fn hex_text(h: &str) -> Option<String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netmasks_become_prefix_lengths() {
        assert_eq!(netmask_prefix("255.255.255.0", Family::Ipv4), Some(24));
        assert_eq!(netmask_prefix("255.0.255.0", Family::Ipv4), None);
        assert_eq!(netmask_prefix("64", Family::Ipv6), Some(64));
        assert_eq!(netmask_prefix("129", Family::Ipv6), None);
    }

    #[test]
    fn group_ranges_expand() {
        let s = |raw: &str| Stmt {
            loc: Loc { file: 0, line: 1 },
            words: super::super::parse::split_words(raw),
            raw: raw.into(),
            block: None,
        };
        assert_eq!(group_entry(&s("10.0.0.1-3 80")).unwrap().len(), 3);
        assert_eq!(group_entry(&s("2001:db8::a-c 80")).unwrap().len(), 3);
        assert_eq!(group_entry(&s("fwmark 7")).unwrap(), vec![SvcKey::Mark(7)]);
        assert!(group_entry(&s("10.0.0.9-3 80")).is_err());
        assert!(group_entry(&s("2001:db8::0-ffff 80")).is_err());
    }

    #[test]
    fn hex_payloads_are_read_as_text_when_they_are() {
        assert_eq!(hex_text("68656c6c6f").as_deref(), Some("hello"));
        assert_eq!(hex_text("00ff"), None);
        assert_eq!(hex_text("abc"), None);
    }
}

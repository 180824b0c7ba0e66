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

use super::doc::{Comment, Line, Note, Section, array, inline, key, string};
use super::keywords::{Cx, RS_KW, VS_KW, known};
use super::map::{
    Mapper, Notes, SECONDS, command_words, dur, int, nonzero_secs, pharos_argv, push, quote, secs,
    word,
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

mod read;
mod service;
#[cfg(test)]
mod tests;

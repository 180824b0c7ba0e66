//! Building services: the rules applied in order as `ipvsadm-restore`
//! would (`-A`, `-E`, `-D`, `-a`, `-e`, `-d`, `-C`, `--set`), into the
//! services and real servers ipvsadm would hold, each with the notes it
//! earned. Reads the rules `rules.rs` parsed; `render.rs` writes the table.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};

use crate::config::model::{
    Forwarding, Protocol, Scheduler, SchedulerFlag, TunnelChecksum, TunnelEncapKind,
};
use crate::config::types::Endpoint;
use crate::import::naming::{ServiceId as SvcKey, most_common};
use crate::import::{Warning, emit};

use super::rules::*;

// ---------------------------------------------------------------- the table

/// A message for the output: `# line N: ...` and a warning.
#[derive(Debug, Clone)]
pub(super) struct Note {
    pub(super) line: usize,
    pub(super) message: String,
}

#[derive(Debug, Clone)]
pub(super) struct SvcAttrs {
    /// `None`: the name was not one pharos knows, so its default applies.
    pub(super) scheduler: Option<Scheduler>,
    pub(super) flags: Vec<SchedulerFlag>,
    /// Seconds, and whether it was a bare `-p`.
    pub(super) persistence: Option<(u32, bool)>,
    /// Prefix length, and the dotted mask it was written as (IPv4).
    pub(super) netmask: Option<(u8, Option<String>)>,
    pub(super) one_packet: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct TunSpec {
    pub(super) kind: TunnelEncapKind,
    pub(super) port: Option<u16>,
    pub(super) checksum: TunnelChecksum,
}

#[derive(Debug, Clone)]
pub(super) struct RsAttrs {
    pub(super) forwarding: Forwarding,
    pub(super) weight: u32,
    pub(super) upper: u32,
    pub(super) lower: u32,
    /// For `-i`: the encapsulation, and its options as written.
    pub(super) tunnel: Option<(TunSpec, String)>,
}

#[derive(Debug, Clone)]
pub(super) struct Rs {
    pub(super) endpoint: Endpoint,
    pub(super) line: usize,
    pub(super) attrs: RsAttrs,
    pub(super) notes: Vec<Note>,
}

#[derive(Debug, Clone)]
pub(super) enum Slot {
    Server(Rs),
    /// A real-server line that was not imported, as comment lines.
    Comment(Vec<String>),
}

#[derive(Debug, Clone)]
pub(super) struct Svc {
    pub(super) key: SvcKey,
    pub(super) line: usize,
    pub(super) attrs: SvcAttrs,
    pub(super) notes: Vec<Note>,
    pub(super) servers: Vec<Slot>,
    /// Worked out once all lines are read: the most common forwarding and
    /// tunnel of the real servers.
    pub(super) forwarding: Option<Forwarding>,
    pub(super) tunnel: Option<TunSpec>,
}

impl Svc {
    pub(super) fn servers(&self) -> impl Iterator<Item = &Rs> {
        self.servers.iter().filter_map(|s| match s {
            Slot::Server(rs) => Some(rs),
            Slot::Comment(_) => None,
        })
    }

    pub(super) fn find(&self, ip: IpAddr, port: u16) -> Option<usize> {
        self.servers.iter().position(|s| {
            matches!(s, Slot::Server(rs)
                if rs.endpoint.ip == ip && rs.endpoint.port.unwrap_or(0) == port)
        })
    }
}

pub(super) enum Item {
    Service(usize),
    /// Comment lines between services.
    Loose(Vec<String>),
}

#[derive(Default)]
pub(super) struct Importer {
    pub(super) warnings: Vec<Warning>,
    pub(super) items: Vec<Item>,
    /// `None` once deleted (`-D`, `-C`).
    pub(super) services: Vec<Option<Svc>>,
    pub(super) index: HashMap<SvcKey, usize>,
    /// Services whose `-A` line was not imported, by key (when it parsed)
    /// and by selector as written, with that line.
    pub(super) failed_keys: HashMap<SvcKey, usize>,
    pub(super) failed_spellings: HashMap<String, usize>,
    /// `--set`: tcp, tcpfin, udp seconds (0: unchanged), and the line.
    pub(super) timeouts: Option<([u32; 3], Vec<usize>)>,
}

impl Importer {
    pub(super) fn note(&mut self, line: usize, message: String) -> Note {
        self.warnings.push(Warning {
            file: None,
            line,
            message: message.clone(),
        });
        Note { line, message }
    }

    pub(super) fn notes(&mut self, line: usize, messages: Vec<String>) -> Vec<Note> {
        messages.into_iter().map(|m| self.note(line, m)).collect()
    }

    /// The whole line is left out: its reason and the line, as comments.
    pub(super) fn rejected(&mut self, l: &Line, reason: String) -> Vec<String> {
        let note = self.note(l.number, format!("not imported: {reason}"));
        vec![comment(&note), format!("#   {}", emit::sanitize(&l.raw))]
    }

    pub(super) fn reject(&mut self, l: &Line, reason: String) {
        let lines = self.rejected(l, reason);
        self.items.push(Item::Loose(lines));
    }

    pub(super) fn loose_notes(&mut self, line: usize, messages: Vec<String>) {
        if !messages.is_empty() {
            let lines = self.notes(line, messages).iter().map(comment).collect();
            self.items.push(Item::Loose(lines));
        }
    }

    pub(super) fn line(&mut self, l: &Line) {
        let words = match &l.words {
            Ok(w) => w.as_slice(),
            Err(why) => return self.reject(l, why.clone()),
        };
        let words = match words.first() {
            Some(w) if w == "ipvsadm" || w.ends_with("/ipvsadm") => &words[1..],
            _ => words,
        };
        // Blank, a comment, or a bare `ipvsadm` (which lists the table).
        if words.is_empty() {
            return;
        }
        let tokens = tokenize(words);
        let commands: Vec<&Given> = tokens
            .iter()
            .filter_map(|t| match t {
                Token::Opt(g) if g.opt.class() == Class::Command => Some(g),
                _ => None,
            })
            .collect();
        let cmd = match commands.as_slice() {
            [] => {
                return self.reject(
                    l,
                    "it has no ipvsadm command (such as -A, -a or --set)".into(),
                );
            }
            [one] => (*one).clone(),
            [a, b, ..] => {
                let why = format!("it has two commands, `{}` and `{}`", a.spelled, b.spelled);
                return self.reject(l, why);
            }
        };
        match cmd.opt {
            Opt::AddService | Opt::EditService => self.service_line(l, &cmd, &tokens),
            Opt::DeleteService => self.delete_service(l, &cmd, &tokens),
            Opt::AddServer | Opt::EditServer | Opt::DeleteServer => {
                self.server_line(l, &cmd, &tokens);
            }
            Opt::Clear => self.clear(l, &cmd, &tokens),
            Opt::Set => self.set(l, &cmd, &tokens),
            Opt::StartDaemon => self.reject(
                l,
                "pharos runs the connection-sync daemon from `[ipvs.sync]` (interface, sync_id, and the VRRP instance whose state it follows); add that by hand".into(),
            ),
            _ => {
                let why = format!(
                    "`{}` is not a rule, so there is nothing in it to import",
                    cmd.spelled
                );
                self.reject(l, why);
            }
        }
    }

    /// The service a line names: its key, or why there is none (and the
    /// selector as written, to recognise a failed service's real servers).
    pub(super) fn selector(
        &self,
        parts: &Parts<'_>,
        messages: &mut Vec<String>,
    ) -> Result<SvcKey, (String, Option<String>)> {
        let sel = match parts.selectors.as_slice() {
            [] => {
                return Err((
                    "it names no service (-t, -u, --sctp-service or -f)".into(),
                    None,
                ));
            }
            [one] => *one,
            [a, b, ..] => {
                return Err((
                    format!("it names two services, `{}` and `{}`", a.spelled, b.spelled),
                    None,
                ));
            }
        };
        let v6 = parts.ipv6.is_some();
        let spelling = format!(
            "{:?} {}{}",
            sel.opt,
            sel.value.as_deref().unwrap_or(""),
            if v6 { " -6" } else { "" }
        );
        let Some(value) = sel.value.as_deref() else {
            return Err((format!("`{}` has no value", sel.spelled), Some(spelling)));
        };
        let proto = match sel.opt {
            Opt::TcpService => Protocol::Tcp,
            Opt::UdpService => Protocol::Udp,
            Opt::SctpService => Protocol::Sctp,
            _ => {
                return match number(value, 1, u64::from(u32::MAX)) {
                    Some(mark) => Ok(SvcKey::Mark {
                        mark: mark as u32,
                        v6,
                    }),
                    None => Err((
                        format!("`{value}` is not a firewall mark (1 to 4294967295)"),
                        Some(spelling),
                    )),
                };
            }
        };
        let (ip, port) = parse_addr(value, proto).map_err(|e| (e, Some(spelling)))?;
        if let Some(g) = parts.ipv6
            && ip.is_ipv4()
        {
            messages.push(format!(
                "`{}` not imported: it applies to firewall-mark services (-f), and {ip} is IPv4",
                g.spelled
            ));
        }
        Ok(SvcKey::Addr {
            proto,
            ip,
            port: port.unwrap_or(0),
        })
    }

    pub(super) fn service_line(&mut self, l: &Line, cmd: &Given, tokens: &[Token]) {
        let parts = sort_out(tokens, cmd, &[Class::Service]);
        let mut messages = parts.stray.clone();
        messages.extend(
            parts
                .positionals
                .iter()
                .map(|p| format!("`{p}` not imported: ipvsadm takes no such argument")),
        );
        let key = match self.selector(&parts, &mut messages) {
            Ok(k) => k,
            Err((why, spelling)) => {
                if cmd.opt == Opt::AddService
                    && let Some(s) = spelling
                {
                    self.failed_spellings.insert(s, l.number);
                }
                return self.reject(l, why);
            }
        };
        let attrs = service_attrs(&key, &parts.opts, &mut messages);
        if matches!(key, SvcKey::Addr { port: 0, .. }) && attrs.persistence.is_none() {
            if cmd.opt == Opt::AddService {
                self.failed_keys.insert(key, l.number);
            }
            return self.reject(
                l,
                "a service on all ports (port 0) needs persistence (-p); ipvsadm refuses it too"
                    .into(),
            );
        }
        if cmd.opt == Opt::EditService {
            let Some(&i) = self.index.get(&key) else {
                return self.reject(l, "there is no such service to edit (-E)".into());
            };
            let notes = self.notes(l.number, messages);
            let svc = self.services[i].as_mut().expect("indexed services exist");
            svc.attrs = attrs;
            svc.notes = notes;
            return;
        }
        if let Some(&i) = self.index.get(&key) {
            let first = self.services[i].as_ref().map_or(0, |s| s.line);
            return self.reject(l, format!("the service was already added on line {first}"));
        }
        let notes = self.notes(l.number, messages);
        let i = self.services.len();
        self.services.push(Some(Svc {
            key,
            line: l.number,
            attrs,
            notes,
            servers: Vec::new(),
            forwarding: None,
            tunnel: None,
        }));
        self.index.insert(key, i);
        self.failed_keys.remove(&key);
        self.items.push(Item::Service(i));
    }

    pub(super) fn delete_service(&mut self, l: &Line, cmd: &Given, tokens: &[Token]) {
        let parts = sort_out(tokens, cmd, &[]);
        let mut messages = parts.stray.clone();
        let key = match self.selector(&parts, &mut messages) {
            Ok(k) => k,
            Err((why, _)) => return self.reject(l, why),
        };
        match self.index.remove(&key) {
            Some(i) => self.services[i] = None,
            None => return self.reject(l, "there is no such service to delete (-D)".into()),
        }
        self.loose_notes(l.number, messages);
    }

    pub(super) fn clear(&mut self, l: &Line, cmd: &Given, tokens: &[Token]) {
        let parts = sort_out(tokens, cmd, &[]);
        let live = self.services.iter().flatten().count();
        if live > 0 {
            let message = format!(
                "`{}` clears the table: the {} added above {} not imported",
                cmd.spelled,
                if live == 1 {
                    "service".to_string()
                } else {
                    format!("{live} services")
                },
                if live == 1 { "is" } else { "are" }
            );
            let note = self.note(l.number, message);
            self.items.push(Item::Loose(vec![comment(&note)]));
        }
        self.services.iter_mut().for_each(|s| *s = None);
        self.index.clear();
        let mut messages = parts.stray;
        messages.extend(
            parts
                .selectors
                .iter()
                .map(|g| format!("`{}` not imported: `-C` clears every service", g.spelled)),
        );
        self.loose_notes(l.number, messages);
    }

    pub(super) fn set(&mut self, l: &Line, cmd: &Given, tokens: &[Token]) {
        let parts = sort_out(tokens, cmd, &[]);
        let values: Vec<Option<u32>> = parts
            .positionals
            .iter()
            .map(|p| number(p, 0, u64::from(MAX_TIMEOUT)).map(|n| n as u32))
            .collect();
        let [Some(tcp), Some(tcpfin), Some(udp)] = values.as_slice() else {
            return self.reject(
                l,
                format!(
                    "`{}` takes three timeouts in seconds (tcp, tcpfin, udp; 0 leaves one unchanged)",
                    cmd.spelled
                ),
            );
        };
        let (merged, lines) = self.timeouts.get_or_insert(([0; 3], Vec::new()));
        for (slot, v) in merged.iter_mut().zip([*tcp, *tcpfin, *udp]) {
            if v != 0 {
                *slot = v;
            }
        }
        lines.push(l.number);
        let mut messages = parts.stray;
        messages.extend(parts.selectors.iter().map(|g| {
            format!(
                "`{}` not imported: `--set` is for the whole table",
                g.spelled
            )
        }));
        self.loose_notes(l.number, messages);
    }

    pub(super) fn server_line(&mut self, l: &Line, cmd: &Given, tokens: &[Token]) {
        let allowed: &[Class] = if cmd.opt == Opt::DeleteServer {
            &[Class::Dest]
        } else {
            &[Class::Dest, Class::Server]
        };
        let parts = sort_out(tokens, cmd, allowed);
        let mut messages = parts.stray.clone();
        messages.extend(
            parts
                .positionals
                .iter()
                .map(|p| format!("`{p}` not imported: ipvsadm takes no such argument")),
        );
        let key = match self.selector(&parts, &mut messages) {
            Ok(k) => k,
            Err((why, spelling)) => {
                let why = match spelling.and_then(|s| self.failed_spellings.get(&s)) {
                    Some(n) => format!("its service, on line {n}, was not imported"),
                    None => why,
                };
                return self.reject(l, why);
            }
        };
        let Some(&si) = self.index.get(&key) else {
            let why = match self.failed_keys.get(&key) {
                Some(n) => format!("its service, on line {n}, was not imported"),
                None => "it is for a service that was never added (-A)".to_string(),
            };
            return self.reject(l, why);
        };
        let dest = parts.opts.iter().find(|g| g.opt == Opt::RealServer);
        let Some(value) = dest.and_then(|g| g.value.as_deref()) else {
            let lines = self.rejected(l, "it names no real server (-r)".into());
            return self.push_slot(si, Slot::Comment(lines));
        };
        let proto = match key {
            SvcKey::Addr { proto, .. } => proto,
            SvcKey::Mark { .. } => Protocol::Tcp,
        };
        let (ip, given_port) = match parse_addr(value, proto) {
            Ok(x) => x,
            Err(why) => {
                let lines = self.rejected(l, why);
                return self.push_slot(si, Slot::Comment(lines));
            }
        };
        let svc_port = match key {
            SvcKey::Addr { port, .. } => port,
            SvcKey::Mark { .. } => 0,
        };
        // ipvsadm copies the service's port when the server has none.
        let port = given_port.unwrap_or(svc_port);
        if cmd.opt == Opt::DeleteServer {
            let svc = self.services[si].as_mut().expect("indexed services exist");
            match svc.find(ip, port).or_else(|| svc.find(ip, svc_port)) {
                Some(at) => {
                    svc.servers.remove(at);
                }
                None => {
                    let why = format!("there is no real server {value} to delete (-d)");
                    let lines = self.rejected(l, why);
                    return self.push_slot(si, Slot::Comment(lines));
                }
            }
            return self.loose_notes(l.number, messages);
        }
        let attrs = server_attrs(&parts.opts, &mut messages);
        let placed = place(&key, ip, given_port, attrs.forwarding, &mut messages);
        let endpoint = match placed {
            Ok(e) => e,
            Err(why) => {
                let lines = self.rejected(l, why);
                return self.push_slot(si, Slot::Comment(lines));
            }
        };
        let svc = self.services[si].as_ref().expect("indexed services exist");
        let here = svc.find(endpoint.ip, endpoint.port.unwrap_or(0));
        let line_of = |at: usize| match &svc.servers[at] {
            Slot::Server(rs) => rs.line,
            Slot::Comment(_) => 0,
        };
        if cmd.opt == Opt::EditServer {
            // As written first: `-e` may move a server to the service's
            // port (DR, TUN), where no other may be.
            let Some(at) = svc.find(ip, port).or(here) else {
                let why = format!("there is no real server {value} to edit (-e)");
                let lines = self.rejected(l, why);
                return self.push_slot(si, Slot::Comment(lines));
            };
            if let Some(other) = here
                && other != at
            {
                let why = format!(
                    "it would make the server {endpoint}, which was already added on line {}",
                    line_of(other)
                );
                let lines = self.rejected(l, why);
                return self.push_slot(si, Slot::Comment(lines));
            }
            let notes = self.notes(l.number, messages);
            let svc = self.services[si].as_mut().expect("indexed services exist");
            if let Slot::Server(rs) = &mut svc.servers[at] {
                rs.endpoint = endpoint;
                rs.attrs = attrs;
                rs.notes = notes;
            }
            return;
        }
        if let Some(at) = here {
            let why = format!(
                "real server {endpoint} was already added on line {}",
                line_of(at)
            );
            let lines = self.rejected(l, why);
            return self.push_slot(si, Slot::Comment(lines));
        }
        let notes = self.notes(l.number, messages);
        self.push_slot(
            si,
            Slot::Server(Rs {
                endpoint,
                line: l.number,
                attrs,
                notes,
            }),
        );
    }

    pub(super) fn push_slot(&mut self, si: usize, slot: Slot) {
        if let Some(svc) = self.services[si].as_mut() {
            svc.servers.push(slot);
        }
    }

    /// Picks each service's forwarding and tunnel: the most common among
    /// its real servers (the first one's on a tie). A real server with
    /// another tunnel gets a note: pharos has one tunnel per service.
    pub(super) fn finish(&mut self) {
        let mut notes_for: Vec<(usize, usize, String)> = Vec::new();
        for (si, svc) in self.services.iter_mut().enumerate() {
            let Some(svc) = svc else { continue };
            svc.forwarding = most_common(svc.servers().map(|rs| rs.attrs.forwarding));
            let tunnels: Vec<(usize, TunSpec, String)> = svc
                .servers
                .iter()
                .enumerate()
                .filter_map(|(at, s)| match s {
                    Slot::Server(rs) => rs
                        .attrs
                        .tunnel
                        .as_ref()
                        .map(|(spec, spelled)| (at, *spec, spelled.clone())),
                    Slot::Comment(_) => None,
                })
                .collect();
            svc.tunnel = most_common(tunnels.iter().map(|t| t.1));
            if let Some(chosen) = svc.tunnel {
                for (at, spec, spelled) in tunnels {
                    if spec != chosen {
                        notes_for.push((
                            si,
                            at,
                            format!(
                                "`{spelled}` not imported: pharos has one tunnel per service, and this one's is `tunnel = {}`",
                                tunnel_table(chosen)
                            ),
                        ));
                    }
                }
            }
        }
        for (si, at, message) in notes_for {
            let line = match self.services[si].as_ref().map(|s| &s.servers[at]) {
                Some(Slot::Server(rs)) => rs.line,
                _ => continue,
            };
            let note = self.note(line, message);
            if let Some(Slot::Server(rs)) = self.services[si].as_mut().map(|s| &mut s.servers[at]) {
                rs.notes.push(note);
            }
        }
    }
}

pub(super) fn service_attrs(key: &SvcKey, opts: &[&Given], messages: &mut Vec<String>) -> SvcAttrs {
    let mut attrs = SvcAttrs {
        scheduler: Some(Scheduler::Wlc),
        flags: Vec::new(),
        persistence: None,
        netmask: None,
        one_packet: false,
    };
    // The scheduler and persistence first: the other options depend on them.
    let mut found: Vec<(usize, String)> = Vec::new();
    for (at, g) in opts.iter().enumerate() {
        match (g.opt, g.value.as_deref()) {
            (Opt::Persistent, None) => attrs.persistence = Some((DEFAULT_PERSISTENCE, true)),
            (Opt::Persistent, Some(v)) => match number(v, 1, u64::from(MAX_TIMEOUT)) {
                Some(n) => attrs.persistence = Some((n as u32, false)),
                None => found.push((
                    at,
                    format!(
                        "`{}` not imported: persistence is 1 to {MAX_TIMEOUT} seconds",
                        g.spelled
                    ),
                )),
            },
            (Opt::Scheduler, Some(v)) => {
                attrs.scheduler = scheduler_named(v);
                if attrs.scheduler.is_none() {
                    found.push((at, format!(
                        "`{}` not imported: `{v}` is not an IPVS scheduler pharos knows, so the service gets the default, wlc",
                        g.spelled
                    )));
                }
            }
            _ => {}
        }
    }
    let max_prefix = if key.is_v6() { 128 } else { 32 };
    for (at, g) in opts.iter().enumerate() {
        let v = g.value.as_deref().unwrap_or_default();
        let message = match g.opt {
            Opt::Persistent => continue,
            Opt::Ops => match key {
                SvcKey::Addr {
                    proto: Protocol::Udp,
                    ..
                } => {
                    attrs.one_packet = true;
                    continue;
                }
                SvcKey::Addr { .. } => "one-packet scheduling is for UDP services only",
                SvcKey::Mark { .. } => {
                    "pharos takes one-packet scheduling on UDP address services only, and a firewall mark has no protocol"
                }
            }
            .to_string(),
            _ if g.value.is_none() => "it has no value".to_string(),
            Opt::Scheduler => continue,
            Opt::Pe => "pharos has no persistence engines".to_string(),
            Opt::SchedFlags => {
                if !matches!(attrs.scheduler, Some(Scheduler::Sh | Scheduler::Mh)) {
                    "scheduler flags apply to the sh and mh schedulers only".to_string()
                } else {
                    let mut unknown = Vec::new();
                    for flag in v.split(',') {
                        let f = match flag {
                            "sh-fallback" | "mh-fallback" | "flag-1" => SchedulerFlag::Fallback,
                            "sh-port" | "mh-port" | "flag-2" => SchedulerFlag::Port,
                            other => {
                                unknown.push(format!("`{other}`"));
                                continue;
                            }
                        };
                        if !attrs.flags.contains(&f) {
                            attrs.flags.push(f);
                        }
                    }
                    if unknown.is_empty() {
                        continue;
                    }
                    format!(
                        "pharos knows the flags fallback and port, not {}",
                        unknown.join(", ")
                    )
                }
            }
            Opt::Netmask => {
                let prefix = if key.is_v6() {
                    number(v, 0, 128).map(|n| (n as u8, None))
                } else {
                    v.parse::<Ipv4Addr>()
                        .ok()
                        .and_then(mask_prefix)
                        .map(|n| (n, Some(v.to_string())))
                };
                match prefix {
                    _ if attrs.persistence.is_none() => {
                        "a netmask applies to persistent services (-p) only".to_string()
                    }
                    // A host mask is what persistence does without one.
                    Some((n, _)) if n == max_prefix => continue,
                    Some(p) => {
                        attrs.netmask = Some(p);
                        continue;
                    }
                    None if key.is_v6() => {
                        "an IPv6 netmask is a prefix length, 0 to 128".to_string()
                    }
                    None => "an IPv4 netmask is written like 255.255.255.0".to_string(),
                }
            }
            _ => continue,
        };
        found.push((at, format!("`{}` not imported: {message}", g.spelled)));
    }
    found.sort_by_key(|f| f.0);
    messages.extend(found.into_iter().map(|f| f.1));
    attrs
}

pub(super) fn server_attrs(opts: &[&Given], messages: &mut Vec<String>) -> RsAttrs {
    let mut attrs = RsAttrs {
        forwarding: Forwarding::Dr,
        weight: 1,
        upper: 0,
        lower: 0,
        tunnel: None,
    };
    let mut lower = None;
    let mut tun_opts: Vec<&Given> = Vec::new();
    for g in opts {
        let value = g.value.as_deref();
        match (g.opt, value) {
            (Opt::Masquerading, _) => attrs.forwarding = Forwarding::Nat,
            (Opt::Gatewaying, _) => attrs.forwarding = Forwarding::Dr,
            (Opt::Ipip, _) => attrs.forwarding = Forwarding::Tun,
            (Opt::RealServer, _) => {}
            (Opt::TunType | Opt::TunPort | Opt::TunNocsum | Opt::TunCsum | Opt::TunRemcsum, _) => {
                tun_opts.push(g)
            }
            (_, None) => messages.push(format!("`{}` not imported: it has no value", g.spelled)),
            (Opt::Weight, Some(v)) => match number(v, 0, 65_535) {
                Some(n) => attrs.weight = n as u32,
                None => messages.push(format!(
                    "`{}` not imported: a weight is 0 to 65535, so the server keeps weight 1",
                    g.spelled
                )),
            },
            (Opt::UThreshold, Some(v)) => match number(v, 0, i32::MAX as u64) {
                Some(n) => attrs.upper = n as u32,
                None => messages.push(format!(
                    "`{}` not imported: a threshold is a number of connections",
                    g.spelled
                )),
            },
            (Opt::LThreshold, Some(v)) => match number(v, 0, i32::MAX as u64) {
                Some(n) => lower = Some((n as u32, *g)),
                None => messages.push(format!(
                    "`{}` not imported: a threshold is a number of connections",
                    g.spelled
                )),
            },
            _ => {}
        }
    }
    if let Some((n, g)) = lower {
        if attrs.upper > 0 && n > attrs.upper {
            messages.push(format!(
                "`{}` not imported: the lower threshold is above the upper one ({})",
                g.spelled, attrs.upper
            ));
        } else {
            attrs.lower = n;
        }
    }
    if attrs.forwarding != Forwarding::Tun {
        if !tun_opts.is_empty() {
            let spelled: Vec<&str> = tun_opts.iter().map(|g| g.spelled.as_str()).collect();
            messages.push(format!(
                "`{}` not imported: tunnel options apply to tunnelled (-i) real servers only",
                spelled.join(" ")
            ));
        }
        return attrs;
    }
    let mut spec = TunSpec {
        kind: TunnelEncapKind::Ipip,
        port: None,
        checksum: TunnelChecksum::None,
    };
    let mut port = None;
    let mut checksum = None;
    for g in &tun_opts {
        match (g.opt, g.value.as_deref()) {
            (Opt::TunType, Some("ipip")) => spec.kind = TunnelEncapKind::Ipip,
            (Opt::TunType, Some("gue")) => spec.kind = TunnelEncapKind::Gue,
            (Opt::TunType, Some("gre")) => spec.kind = TunnelEncapKind::Gre,
            (Opt::TunType | Opt::TunPort, None) => {
                messages.push(format!("`{}` not imported: it has no value", g.spelled));
            }
            (Opt::TunType, Some(_)) => messages.push(format!(
                "`{}` not imported: the tunnel types are ipip, gue and gre",
                g.spelled
            )),
            (Opt::TunPort, Some(v)) => match number(v, 1, 65_535) {
                Some(n) => port = Some((n as u16, *g)),
                None => messages.push(format!(
                    "`{}` not imported: a port is 1 to 65535",
                    g.spelled
                )),
            },
            (Opt::TunNocsum | Opt::TunCsum | Opt::TunRemcsum, _) => {
                if let Some(first) = checksum.replace(*g) {
                    messages.push(format!(
                        "`{}` not imported: `{}` was given first",
                        g.spelled, first.spelled
                    ));
                    checksum = Some(first);
                }
            }
            _ => {}
        }
    }
    match (spec.kind, port) {
        (TunnelEncapKind::Gue, Some((p, _))) => spec.port = Some(p),
        (TunnelEncapKind::Gue, None) => {
            messages.push(
                "`--tun-type gue` not imported: gue needs a `--tun-port`, so the server is tunnelled with ipip".to_string(),
            );
            spec.kind = TunnelEncapKind::Ipip;
        }
        (_, Some((_, g))) => messages.push(format!(
            "`{}` not imported: only gue tunnels have a port",
            g.spelled
        )),
        (_, None) => {}
    }
    if let Some(g) = checksum {
        let wanted = match g.opt {
            Opt::TunCsum => TunnelChecksum::Checksum,
            Opt::TunRemcsum => TunnelChecksum::Remote,
            _ => TunnelChecksum::None,
        };
        match spec.kind {
            TunnelEncapKind::Ipip => messages.push(format!(
                "`{}` not imported: ipip tunnels have no checksum",
                g.spelled
            )),
            TunnelEncapKind::Gre if wanted == TunnelChecksum::Remote => messages.push(format!(
                "`{}` not imported: gre tunnels have no remote checksum",
                g.spelled
            )),
            _ => spec.checksum = wanted,
        }
    }
    let spelled: Vec<&str> = tun_opts.iter().map(|g| g.spelled.as_str()).collect();
    let spelled = if spelled.is_empty() {
        "-i".to_string()
    } else {
        spelled.join(" ")
    };
    attrs.tunnel = Some((spec, spelled));
    attrs
}

/// Where a real server's traffic goes, as ipvsadm would have it; `Err` for
/// one that cannot be a pharos real server of this service.
pub(super) fn place(
    key: &SvcKey,
    ip: IpAddr,
    given_port: Option<u16>,
    forwarding: Forwarding,
    messages: &mut Vec<String>,
) -> Result<Endpoint, String> {
    if ip.is_ipv6() != key.is_v6() && forwarding != Forwarding::Tun {
        return Err(format!(
            "real server {ip} is {} but the service is {}; only tunnelled (-i) real servers may be of the other family",
            family_name(ip.is_ipv6()),
            family_name(key.is_v6())
        ));
    }
    let mut port = given_port.unwrap_or(0);
    if let SvcKey::Addr {
        ip: vip,
        port: vport,
        ..
    } = *key
    {
        if ip == vip {
            return Err(format!(
                "real server {ip} is the VIP itself (an IPVS local-node server); pharos takes real servers on other hosts only"
            ));
        }
        port = given_port.unwrap_or(vport);
        if matches!(forwarding, Forwarding::Dr | Forwarding::Tun) && port != vport {
            let how = if forwarding == Forwarding::Dr {
                "DR (-g)"
            } else {
                "TUN (-i)"
            };
            messages.push(format!(
                "real server port {port} became {}: ipvsadm sends {how} traffic to the service's port",
                if vport == 0 {
                    "none".to_string()
                } else {
                    vport.to_string()
                }
            ));
            port = vport;
        }
        if forwarding == Forwarding::Nat && vport == 0 && port != 0 {
            return Err(format!(
                "real server {ip}:{port} has a port but the service takes all ports"
            ));
        }
    }
    Ok(Endpoint {
        ip,
        port: (port != 0).then_some(port),
    })
}

pub(super) fn comment(note: &Note) -> String {
    emit::note(&format!("line {}", note.line), &note.message)
}

pub(super) fn tunnel_table(t: TunSpec) -> String {
    let kind = match t.kind {
        TunnelEncapKind::Ipip => "ipip",
        TunnelEncapKind::Gue => "gue",
        TunnelEncapKind::Gre => "gre",
    };
    let mut fields = vec![format!("type = \"{kind}\"")];
    if let Some(p) = t.port {
        fields.push(format!("port = {p}"));
    }
    match t.checksum {
        TunnelChecksum::None => {}
        TunnelChecksum::Checksum => fields.push("checksum = \"checksum\"".into()),
        TunnelChecksum::Remote => fields.push("checksum = \"remote\"".into()),
    }
    format!("{{ {} }}", fields.join(", "))
}

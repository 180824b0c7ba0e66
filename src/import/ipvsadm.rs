//! `ipvsadm-save` rules to pharos `[services.NAME]` tables.
//!
//! Reads what `ipvsadm-save -n` writes, and what `ipvsadm -S` writes without
//! `-n` (the same rules, with port names), and hand-written rule files too:
//! a leading `ipvsadm` word, long option spellings, `--option=value`,
//! clustered flags, quotes, `\` continuations and `#` comments. The rules
//! are applied in order as `ipvsadm-restore` would apply them (`-A`, `-E`,
//! `-D`, `-a`, `-e`, `-d`, `-C`, `--set`), with ipvsadm's defaults: `wlc`,
//! weight 1, direct routing (`-g`), and a real server's port copied from
//! the service.
//!
//! ```text
//! text ─► logical lines ─► words (split as a shell would) ─► options
//!      ─► services and real servers, as ipvsadm would build them
//!      ─► TOML, one [services.NAME] per service in input order
//!         (what cannot be mapped ─► `# line N: ...` and a Warning)
//! ```

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::naming::{ServiceId as SvcKey, most_common, service_name, unique_name};
use super::{Import, Warning, emit};
use crate::config::model::{
    Forwarding, Protocol, Scheduler, SchedulerFlag, TunnelChecksum, TunnelEncapKind,
};
use crate::config::types::{Duration, Endpoint};

/// What a bare `-p` means (IPVS_SVC_PERSISTENT_TIMEOUT in ipvsadm).
const DEFAULT_PERSISTENCE: u32 = 300;
/// ipvsadm's upper bound for `-p` and `--set` (MAX_TIMEOUT, 31 days).
const MAX_TIMEOUT: u32 = 86_400 * 31;

/// Converts an ipvsadm rule file to a pharos config. `file_name` is only
/// named in the header comment.
pub fn import(text: &str, file_name: &str) -> Import {
    let mut imp = Importer::default();
    for line in logical_lines(text) {
        imp.line(&line);
    }
    let toml = imp.render(file_name);
    let mut warnings = imp.warnings;
    warnings.sort_by_key(|w| w.line);
    Import {
        toml,
        warnings,
        errors: Vec::new(),
    }
}

// ---------------------------------------------------------------- lines and words

struct Line {
    /// 1-based; the first physical line of a continued one.
    number: usize,
    /// As written, continuations joined, for quoting in comments.
    raw: String,
    /// The shell words, or why the line could not be split.
    words: Result<Vec<String>, String>,
}

/// Physical lines joined at a trailing `\`, as a shell reads them.
fn logical_lines(text: &str) -> Vec<Line> {
    let mut out = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (i, physical) in text.lines().enumerate() {
        let (number, mut joined) = pending.take().unwrap_or((i + 1, String::new()));
        let trailing = physical.len() - physical.trim_end_matches('\\').len();
        let comment = joined.is_empty() && physical.trim_start().starts_with('#');
        if trailing % 2 == 1 && !comment {
            joined.push_str(&physical[..physical.len() - 1]);
            pending = Some((number, joined));
            continue;
        }
        joined.push_str(physical);
        out.push(Line {
            number,
            words: super::shell_words(&joined, true),
            raw: joined.trim().to_string(),
        });
    }
    if let Some((number, joined)) = pending {
        out.push(Line {
            number,
            words: super::shell_words(&joined, true),
            raw: joined.trim().to_string(),
        });
    }
    out
}

// ---------------------------------------------------------------- options

/// Every option of ipvsadm(8), 1.31.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Opt {
    // Commands.
    AddService,
    EditService,
    DeleteService,
    Clear,
    List,
    Zero,
    AddServer,
    EditServer,
    DeleteServer,
    Set,
    Help,
    Version,
    Restore,
    Save,
    StartDaemon,
    StopDaemon,
    // Which service.
    TcpService,
    UdpService,
    SctpService,
    FwmarkService,
    Ipv6,
    // The service's settings.
    Scheduler,
    Persistent,
    Netmask,
    Ops,
    Pe,
    SchedFlags,
    // Which real server, and its settings.
    RealServer,
    Masquerading,
    Ipip,
    Gatewaying,
    Weight,
    UThreshold,
    LThreshold,
    TunType,
    TunPort,
    TunNocsum,
    TunCsum,
    TunRemcsum,
    // The sync daemon.
    McastInterface,
    Syncid,
    McastGroup,
    McastPort,
    McastTtl,
    SyncMaxlen,
    // Listing.
    Numeric,
    Connection,
    Timeout,
    Daemon,
    Stats,
    Rate,
    Thresholds,
    PersistentConn,
    NoSort,
    Sort,
    Exact,
    TunInfo,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Arg {
    No,
    Required,
    /// `-p [timeout]`: takes the next word unless it is an option.
    Optional,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Command,
    Selector,
    Service,
    /// `-r`: names the real server of `-a`, `-e` and `-d`.
    Dest,
    Server,
    Daemon,
    Listing,
}

/// (option, short name, long name, argument), from ipvsadm's popt table.
const OPTIONS: &[(Opt, Option<char>, &str, Arg)] = &[
    (Opt::AddService, Some('A'), "add-service", Arg::No),
    (Opt::EditService, Some('E'), "edit-service", Arg::No),
    (Opt::DeleteService, Some('D'), "delete-service", Arg::No),
    (Opt::Clear, Some('C'), "clear", Arg::No),
    (Opt::List, Some('L'), "list", Arg::No),
    (Opt::List, Some('l'), "list", Arg::No),
    (Opt::Zero, Some('Z'), "zero", Arg::No),
    (Opt::AddServer, Some('a'), "add-server", Arg::No),
    (Opt::EditServer, Some('e'), "edit-server", Arg::No),
    (Opt::DeleteServer, Some('d'), "delete-server", Arg::No),
    (Opt::Set, None, "set", Arg::No),
    (Opt::Help, Some('h'), "help", Arg::No),
    (Opt::Version, Some('v'), "version", Arg::No),
    (Opt::Restore, Some('R'), "restore", Arg::No),
    (Opt::Save, Some('S'), "save", Arg::No),
    (Opt::StartDaemon, None, "start-daemon", Arg::Required),
    (Opt::StopDaemon, None, "stop-daemon", Arg::Required),
    (Opt::TcpService, Some('t'), "tcp-service", Arg::Required),
    (Opt::UdpService, Some('u'), "udp-service", Arg::Required),
    (Opt::SctpService, None, "sctp-service", Arg::Required),
    (
        Opt::FwmarkService,
        Some('f'),
        "fwmark-service",
        Arg::Required,
    ),
    (Opt::Ipv6, Some('6'), "ipv6", Arg::No),
    (Opt::Scheduler, Some('s'), "scheduler", Arg::Required),
    (Opt::Persistent, Some('p'), "persistent", Arg::Optional),
    (Opt::Netmask, Some('M'), "netmask", Arg::Required),
    (Opt::Ops, Some('o'), "ops", Arg::No),
    (Opt::Pe, None, "pe", Arg::Required),
    (Opt::SchedFlags, Some('b'), "sched-flags", Arg::Required),
    (Opt::RealServer, Some('r'), "real-server", Arg::Required),
    (Opt::Masquerading, Some('m'), "masquerading", Arg::No),
    (Opt::Ipip, Some('i'), "ipip", Arg::No),
    (Opt::Gatewaying, Some('g'), "gatewaying", Arg::No),
    (Opt::Weight, Some('w'), "weight", Arg::Required),
    (Opt::UThreshold, Some('x'), "u-threshold", Arg::Required),
    (Opt::LThreshold, Some('y'), "l-threshold", Arg::Required),
    (Opt::TunType, None, "tun-type", Arg::Required),
    (Opt::TunPort, None, "tun-port", Arg::Required),
    (Opt::TunNocsum, None, "tun-nocsum", Arg::No),
    (Opt::TunCsum, None, "tun-csum", Arg::No),
    (Opt::TunRemcsum, None, "tun-remcsum", Arg::No),
    (Opt::McastInterface, None, "mcast-interface", Arg::Required),
    (Opt::Syncid, None, "syncid", Arg::Required),
    (Opt::McastGroup, None, "mcast-group", Arg::Required),
    (Opt::McastPort, None, "mcast-port", Arg::Required),
    (Opt::McastTtl, None, "mcast-ttl", Arg::Required),
    (Opt::SyncMaxlen, None, "sync-maxlen", Arg::Required),
    (Opt::Numeric, Some('n'), "numeric", Arg::No),
    (Opt::Connection, Some('c'), "connection", Arg::No),
    (Opt::Timeout, None, "timeout", Arg::No),
    (Opt::Daemon, None, "daemon", Arg::No),
    (Opt::Stats, None, "stats", Arg::No),
    (Opt::Rate, None, "rate", Arg::No),
    (Opt::Thresholds, None, "thresholds", Arg::No),
    (Opt::PersistentConn, None, "persistent-conn", Arg::No),
    (Opt::NoSort, None, "nosort", Arg::No),
    (Opt::Sort, None, "sort", Arg::No),
    (Opt::Exact, Some('X'), "exact", Arg::No),
    (Opt::TunInfo, None, "tun-info", Arg::No),
];

impl Opt {
    fn class(self) -> Class {
        use Opt::*;
        match self {
            AddService | EditService | DeleteService | Clear | List | Zero | AddServer
            | EditServer | DeleteServer | Set | Help | Version | Restore | Save | StartDaemon
            | StopDaemon => Class::Command,
            TcpService | UdpService | SctpService | FwmarkService | Ipv6 => Class::Selector,
            Scheduler | Persistent | Netmask | Ops | Pe | SchedFlags => Class::Service,
            RealServer => Class::Dest,
            Masquerading | Ipip | Gatewaying | Weight | UThreshold | LThreshold | TunType
            | TunPort | TunNocsum | TunCsum | TunRemcsum => Class::Server,
            McastInterface | Syncid | McastGroup | McastPort | McastTtl | SyncMaxlen => {
                Class::Daemon
            }
            Numeric | Connection | Timeout | Daemon | Stats | Rate | Thresholds
            | PersistentConn | NoSort | Sort | Exact | TunInfo => Class::Listing,
        }
    }
}

/// One option as given on a line.
#[derive(Debug, Clone)]
struct Given {
    opt: Opt,
    value: Option<String>,
    /// As written, with its value: `-w 3`, `--weight=3`.
    spelled: String,
}

#[derive(Debug, Clone)]
enum Token {
    Opt(Given),
    /// Not an ipvsadm option, with the word after it if that looked like its value.
    Unknown(String),
    Positional(String),
}

/// Reads options as popt does for ipvsadm: `-w 3`, `-w3`, `--weight 3`,
/// `--weight=3`, and clustered flags (`-gw 3`).
fn tokenize(words: &[String]) -> Vec<Token> {
    let mut out = Vec::new();
    let mut i = 0;
    // The next word as an option's value; `optional` values are never options.
    let take = |i: &mut usize, optional: bool| -> Option<String> {
        let next = words.get(*i)?;
        if optional && next.starts_with('-') {
            return None;
        }
        *i += 1;
        Some(next.clone())
    };
    while i < words.len() {
        let word = &words[i];
        i += 1;
        if word == "--" {
            out.extend(words[i..].iter().cloned().map(Token::Positional));
            break;
        }
        if let Some(long) = word.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            let Some(&(opt, _, _, arg)) = OPTIONS.iter().find(|o| o.2 == name) else {
                let mut spelled = word.clone();
                if inline.is_none()
                    && let Some(v) = take(&mut i, true)
                {
                    spelled = format!("{spelled} {v}");
                }
                out.push(Token::Unknown(spelled));
                continue;
            };
            let (value, spelled) = match (arg, inline) {
                (Arg::No, Some(_)) => {
                    out.push(Token::Unknown(word.clone()));
                    continue;
                }
                (_, Some(v)) => (Some(v), word.clone()),
                (Arg::No, None) => (None, word.clone()),
                (arg, None) => match take(&mut i, arg == Arg::Optional) {
                    Some(v) => (Some(v.clone()), format!("{word} {v}")),
                    None => (None, word.clone()),
                },
            };
            out.push(Token::Opt(Given {
                opt,
                value,
                spelled,
            }));
        } else if let Some(shorts) = word.strip_prefix('-')
            && !shorts.is_empty()
        {
            let chars: Vec<char> = shorts.chars().collect();
            let mut k = 0;
            while k < chars.len() {
                let c = chars[k];
                k += 1;
                let Some(&(opt, _, _, arg)) = OPTIONS.iter().find(|o| o.1 == Some(c)) else {
                    let mut spelled = format!("-{c}");
                    if k == chars.len()
                        && let Some(v) = take(&mut i, true)
                    {
                        spelled = format!("{spelled} {v}");
                    }
                    out.push(Token::Unknown(spelled));
                    continue;
                };
                let (value, spelled) = if arg == Arg::No {
                    (None, format!("-{c}"))
                } else if k < chars.len() {
                    let rest: String = chars[k..].iter().collect();
                    k = chars.len();
                    (Some(rest.clone()), format!("-{c}{rest}"))
                } else {
                    match take(&mut i, arg == Arg::Optional) {
                        Some(v) => (Some(v.clone()), format!("-{c} {v}")),
                        None => (None, format!("-{c}")),
                    }
                };
                out.push(Token::Opt(Given {
                    opt,
                    value,
                    spelled,
                }));
            }
        } else {
            out.push(Token::Positional(word.clone()));
        }
    }
    out
}

// ---------------------------------------------------------------- addresses

fn family_name(v6: bool) -> &'static str {
    if v6 { "IPv6" } else { "IPv4" }
}

/// `addr`, `addr:port`, `[v6]:port` or a bare IPv6 address, as ipvsadm's
/// parse_service reads them; ports may be names (`http`), host names are
/// not resolved.
fn parse_addr(s: &str, proto: Protocol) -> Result<(IpAddr, Option<u16>), String> {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let Some((inner, after)) = rest.split_once(']') else {
            return Err(format!("`{s}` is not an address[:port]: `]` is missing"));
        };
        let port = match after {
            "" => None,
            p => match p.strip_prefix(':') {
                Some(p) => Some(p),
                None => return Err(format!("`{s}` is not an address[:port]")),
            },
        };
        (inner, port)
    } else if s.parse::<Ipv6Addr>().is_ok() {
        (s, None)
    } else {
        match s.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };
    let ip: IpAddr = if s.starts_with('[') {
        match host.parse::<Ipv6Addr>() {
            Ok(a) => IpAddr::V6(a),
            Err(_) => return Err(not_an_address(s, host)),
        }
    } else {
        match host.parse::<Ipv4Addr>() {
            Ok(a) => IpAddr::V4(a),
            Err(_) => match host.parse::<Ipv6Addr>() {
                Ok(a) => IpAddr::V6(a),
                Err(_) => return Err(not_an_address(s, host)),
            },
        }
    };
    let port = match port {
        None => None,
        Some(p) => Some(parse_port(p, proto).ok_or_else(|| {
            format!(
                "`{p}` in `{s}` is not a port number or a service name pharos knows; save the table with `ipvsadm-save -n` for numbers"
            )
        })?),
    };
    Ok((ip, port))
}

fn not_an_address(s: &str, host: &str) -> String {
    let hostname = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        && host.bytes().any(|b| b.is_ascii_alphabetic());
    if hostname {
        format!(
            "`{host}` is a host name, and pharos does not resolve names; save the table with `ipvsadm-save -n`"
        )
    } else {
        format!("`{s}` is not an address[:port]")
    }
}

fn parse_port(p: &str, proto: Protocol) -> Option<u16> {
    if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) {
        return p.parse().ok();
    }
    service_port(p, proto)
}

/// The names `ipvsadm -S` (without `-n`) prints for common ports, from
/// /etc/services. A fixed table so that an import does not depend on the
/// box it runs on.
fn service_port(name: &str, proto: Protocol) -> Option<u16> {
    let port = match name {
        "ftp-data" => 20,
        "ftp" => 21,
        "ssh" => 22,
        "telnet" => 23,
        "smtp" => 25,
        "domain" => 53,
        "tftp" => 69,
        "http" | "www" | "www-http" => 80,
        "kerberos" => 88,
        "pop3" | "pop-3" => 110,
        "ntp" => 123,
        "imap2" | "imap" => 143,
        "snmp" => 161,
        "bgp" => 179,
        "ldap" => 389,
        "https" => 443,
        "microsoft-ds" => 445,
        "submissions" | "smtps" => 465,
        "syslog" => 514,
        "rtsp" => 554,
        "submission" => 587,
        "ldaps" => 636,
        "imaps" => 993,
        "pop3s" => 995,
        "openvpn" => 1194,
        "ms-sql-s" => 1433,
        "radius" => 1812,
        "radius-acct" => 1813,
        "nfs" => 2049,
        "squid" => 3128,
        "mysql" => 3306,
        "ms-wbt-server" => 3389,
        "sip" => 5060,
        "sip-tls" => 5061,
        "postgresql" => 5432,
        "x11" => 6000,
        "http-alt" | "webcache" => 8080,
        "webmin" => 10000,
        "memcache" => 11211,
        _ => return None,
    };
    // Names that /etc/services lists for one protocol only.
    let udp_only = matches!(name, "tftp" | "ntp" | "syslog");
    (!(udp_only && proto == Protocol::Tcp)).then_some(port)
}

fn scheduler_named(name: &str) -> Option<Scheduler> {
    use Scheduler::*;
    [
        Rr, Wrr, Lc, Wlc, Lblc, Lblcr, Dh, Sh, Sed, Nq, Fo, Ovf, Mh, Twos,
    ]
    .into_iter()
    .find(|s| s.name() == name)
}

/// A dotted IPv4 netmask as a prefix length, if its ones are contiguous.
fn mask_prefix(mask: Ipv4Addr) -> Option<u8> {
    let m = u32::from(mask);
    let ones = m.leading_ones();
    let canonical = u32::MAX.checked_shl(32 - ones).unwrap_or(0);
    (m == canonical).then_some(ones as u8)
}

fn number(v: &str, lo: u64, hi: u64) -> Option<u64> {
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse::<u64>().ok().filter(|n| (lo..=hi).contains(n))
}

// ---------------------------------------------------------------- the table

/// A message for the output: `# line N: ...` and a warning.
#[derive(Debug, Clone)]
struct Note {
    line: usize,
    message: String,
}

#[derive(Debug, Clone)]
struct SvcAttrs {
    /// `None`: the name was not one pharos knows, so its default applies.
    scheduler: Option<Scheduler>,
    flags: Vec<SchedulerFlag>,
    /// Seconds, and whether it was a bare `-p`.
    persistence: Option<(u32, bool)>,
    /// Prefix length, and the dotted mask it was written as (IPv4).
    netmask: Option<(u8, Option<String>)>,
    one_packet: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TunSpec {
    kind: TunnelEncapKind,
    port: Option<u16>,
    checksum: TunnelChecksum,
}

#[derive(Debug, Clone)]
struct RsAttrs {
    forwarding: Forwarding,
    weight: u32,
    upper: u32,
    lower: u32,
    /// For `-i`: the encapsulation, and its options as written.
    tunnel: Option<(TunSpec, String)>,
}

#[derive(Debug, Clone)]
struct Rs {
    endpoint: Endpoint,
    line: usize,
    attrs: RsAttrs,
    notes: Vec<Note>,
}

#[derive(Debug, Clone)]
enum Slot {
    Server(Rs),
    /// A real-server line that was not imported, as comment lines.
    Comment(Vec<String>),
}

#[derive(Debug, Clone)]
struct Svc {
    key: SvcKey,
    line: usize,
    attrs: SvcAttrs,
    notes: Vec<Note>,
    servers: Vec<Slot>,
    /// Worked out once all lines are read: the most common forwarding and
    /// tunnel of the real servers.
    forwarding: Option<Forwarding>,
    tunnel: Option<TunSpec>,
}

impl Svc {
    fn servers(&self) -> impl Iterator<Item = &Rs> {
        self.servers.iter().filter_map(|s| match s {
            Slot::Server(rs) => Some(rs),
            Slot::Comment(_) => None,
        })
    }

    fn find(&self, ip: IpAddr, port: u16) -> Option<usize> {
        self.servers.iter().position(|s| {
            matches!(s, Slot::Server(rs)
                if rs.endpoint.ip == ip && rs.endpoint.port.unwrap_or(0) == port)
        })
    }
}

enum Item {
    Service(usize),
    /// Comment lines between services.
    Loose(Vec<String>),
}

#[derive(Default)]
struct Importer {
    warnings: Vec<Warning>,
    items: Vec<Item>,
    /// `None` once deleted (`-D`, `-C`).
    services: Vec<Option<Svc>>,
    index: HashMap<SvcKey, usize>,
    /// Services whose `-A` line was not imported, by key (when it parsed)
    /// and by selector as written, with that line.
    failed_keys: HashMap<SvcKey, usize>,
    failed_spellings: HashMap<String, usize>,
    /// `--set`: tcp, tcpfin, udp seconds (0: unchanged), and the line.
    timeouts: Option<([u32; 3], Vec<usize>)>,
}

/// A line's options other than its command, sorted out.
struct Parts<'a> {
    selectors: Vec<&'a Given>,
    ipv6: Option<&'a Given>,
    opts: Vec<&'a Given>,
    positionals: Vec<&'a str>,
    /// Messages for what does not apply or is not ipvsadm's.
    stray: Vec<String>,
}

fn sort_out<'a>(tokens: &'a [Token], cmd: &Given, allowed: &[Class]) -> Parts<'a> {
    let mut parts = Parts {
        selectors: Vec::new(),
        ipv6: None,
        opts: Vec::new(),
        positionals: Vec::new(),
        stray: Vec::new(),
    };
    for t in tokens {
        match t {
            Token::Unknown(s) => parts
                .stray
                .push(format!("`{s}` not imported: it is not an ipvsadm option")),
            Token::Positional(p) => parts.positionals.push(p),
            // Numeric output changes nothing in a rule.
            Token::Opt(g) if g.opt == Opt::Numeric => {}
            Token::Opt(g) if g.opt.class() == Class::Command => {}
            Token::Opt(g) if g.opt == Opt::Ipv6 => {
                if parts.ipv6.is_some() {
                    parts
                        .stray
                        .push(format!("`{}` not imported: given twice", g.spelled));
                } else {
                    parts.ipv6 = Some(g);
                }
            }
            Token::Opt(g) if g.opt.class() == Class::Selector => parts.selectors.push(g),
            Token::Opt(g) if allowed.contains(&g.opt.class()) => {
                if parts.opts.iter().any(|o| same_option(o.opt, g.opt)) {
                    parts.stray.push(format!(
                        "`{}` not imported: that option was already given on this line",
                        g.spelled
                    ));
                } else {
                    parts.opts.push(g);
                }
            }
            Token::Opt(g) => parts.stray.push(format!(
                "`{}` not imported: it does not apply to `{}`",
                g.spelled, cmd.spelled
            )),
        }
    }
    parts
}

/// Forwarding flags are one setting in three spellings.
fn same_option(a: Opt, b: Opt) -> bool {
    let fwd = |o| matches!(o, Opt::Masquerading | Opt::Ipip | Opt::Gatewaying);
    a == b || (fwd(a) && fwd(b))
}

impl Importer {
    fn note(&mut self, line: usize, message: String) -> Note {
        self.warnings.push(Warning {
            file: None,
            line,
            message: message.clone(),
        });
        Note { line, message }
    }

    fn notes(&mut self, line: usize, messages: Vec<String>) -> Vec<Note> {
        messages.into_iter().map(|m| self.note(line, m)).collect()
    }

    /// The whole line is left out: its reason and the line, as comments.
    fn rejected(&mut self, l: &Line, reason: String) -> Vec<String> {
        let note = self.note(l.number, format!("not imported: {reason}"));
        vec![comment(&note), format!("#   {}", emit::sanitize(&l.raw))]
    }

    fn reject(&mut self, l: &Line, reason: String) {
        let lines = self.rejected(l, reason);
        self.items.push(Item::Loose(lines));
    }

    fn loose_notes(&mut self, line: usize, messages: Vec<String>) {
        if !messages.is_empty() {
            let lines = self.notes(line, messages).iter().map(comment).collect();
            self.items.push(Item::Loose(lines));
        }
    }

    fn line(&mut self, l: &Line) {
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
    fn selector(
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

    fn service_line(&mut self, l: &Line, cmd: &Given, tokens: &[Token]) {
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

    fn delete_service(&mut self, l: &Line, cmd: &Given, tokens: &[Token]) {
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

    fn clear(&mut self, l: &Line, cmd: &Given, tokens: &[Token]) {
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

    fn set(&mut self, l: &Line, cmd: &Given, tokens: &[Token]) {
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

    fn server_line(&mut self, l: &Line, cmd: &Given, tokens: &[Token]) {
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

    fn push_slot(&mut self, si: usize, slot: Slot) {
        if let Some(svc) = self.services[si].as_mut() {
            svc.servers.push(slot);
        }
    }

    /// Picks each service's forwarding and tunnel: the most common among
    /// its real servers (the first one's on a tie). A real server with
    /// another tunnel gets a note: pharos has one tunnel per service.
    fn finish(&mut self) {
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

    // ------------------------------------------------------------ output

    fn render(&mut self, file_name: &str) -> String {
        self.finish();
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# Imported from `{}` by `pharos import ipvsadm`.",
            emit::sanitize(file_name)
        );
        out.push_str(concat!(
            "#\n",
            "# ipvsadm holds only the IPVS table. Still to add by hand: the VIPs (on an\n",
            "# interface, or in a VRRP instance that each service names with `vrrp`),\n",
            "# health checks (`check`), and the director's network. Comments starting\n",
            "# `# line N:` say what did not carry over from line N.\n",
        ));

        let live: Vec<&Svc> = self.services.iter().flatten().collect();
        let nat = |svc: &&Svc, v6: bool| {
            svc.servers()
                .any(|rs| rs.attrs.forwarding == Forwarding::Nat && rs.endpoint.ip.is_ipv6() == v6)
        };
        let nat4 = live.iter().any(|s| nat(s, false));
        let nat6 = live.iter().any(|s| nat(s, true));
        if nat4 || nat6 {
            out.push_str("\n[system]\n");
            out.push_str(&with_comment(
                "ip_forward = true",
                "NAT (-m) routes the replies back through the director",
            ));
            if nat6 {
                out.push_str(&with_comment(
                    "ipv6_forward = true",
                    "the same for the IPv6 NAT services",
                ));
            }
        }
        if let Some((t, lines)) = &self.timeouts
            && t.iter().any(|&v| v != 0)
        {
            let mut fields = Vec::new();
            for (name, v) in ["tcp", "tcpfin", "udp"].into_iter().zip(t) {
                if *v != 0 {
                    fields.push(format!(
                        "{name} = \"{}\"",
                        Duration::from_secs(u64::from(*v))
                    ));
                }
            }
            let lines: Vec<String> = lines.iter().map(ToString::to_string).collect();
            out.push_str("\n[ipvs]\n");
            out.push_str(&with_comment(
                &format!("timeouts = {{ {} }}", fields.join(", ")),
                &format!(
                    "--set on line{} {}",
                    if lines.len() == 1 { "" } else { "s" },
                    lines.join(", ")
                ),
            ));
        }

        let names = self.names();
        let mut after_loose = false;
        for item in &self.items {
            match item {
                Item::Service(i) => {
                    if let (Some(svc), Some(name)) = (&self.services[*i], names.get(i)) {
                        render_service(&mut out, name, svc);
                        after_loose = false;
                    }
                }
                Item::Loose(lines) => {
                    if !after_loose {
                        out.push('\n');
                    }
                    for l in lines {
                        out.push_str(l);
                        out.push('\n');
                    }
                    after_loose = true;
                }
            }
        }
        out
    }

    /// Table names from the addresses, `-2`, `-3`... on the rare clash.
    fn names(&self) -> HashMap<usize, String> {
        let mut used = HashSet::new();
        let mut names = HashMap::new();
        for (i, svc) in self.services.iter().enumerate() {
            let Some(svc) = svc else { continue };
            let name = unique_name(&service_name(svc.key), |n| used.contains(n));
            used.insert(name.clone());
            names.insert(i, name);
        }
        names
    }
}

fn service_attrs(key: &SvcKey, opts: &[&Given], messages: &mut Vec<String>) -> SvcAttrs {
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

fn server_attrs(opts: &[&Given], messages: &mut Vec<String>) -> RsAttrs {
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
fn place(
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

// ---------------------------------------------------------------- TOML text

fn tunnel_table(t: TunSpec) -> String {
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

fn render_service(out: &mut String, name: &str, svc: &Svc) {
    let _ = writeln!(out, "\n[services.{name}]");
    match svc.key {
        SvcKey::Addr { proto, ip, port } => {
            let address = Endpoint {
                ip,
                port: (port != 0).then_some(port),
            };
            let _ = writeln!(out, "address = \"{address}\"");
            match proto {
                Protocol::Tcp => {}
                Protocol::Udp => out.push_str("protocol = \"udp\"\n"),
                Protocol::Sctp => out.push_str("protocol = \"sctp\"\n"),
            }
        }
        SvcKey::Mark { mark, v6 } => {
            let _ = writeln!(out, "fwmark = {mark}");
            let family = if v6 { "ipv6" } else { "ipv4" };
            out.push_str(&with_comment(
                &format!("family = \"{family}\""),
                "a mark has no address to tell the family by",
            ));
        }
    }
    let a = &svc.attrs;
    if let Some(s) = a.scheduler {
        let _ = writeln!(out, "scheduler = \"{}\"", s.name());
    }
    if !a.flags.is_empty() {
        let flags: Vec<&str> = a
            .flags
            .iter()
            .map(|f| match f {
                SchedulerFlag::Fallback => "\"fallback\"",
                SchedulerFlag::Port => "\"port\"",
            })
            .collect();
        let _ = writeln!(out, "scheduler_flags = [{}]", flags.join(", "));
    }
    match svc.forwarding {
        Some(f) => {
            let _ = writeln!(out, "forwarding = \"{}\"", emit::forwarding(f));
        }
        None => out.push_str(&with_comment(
            "forwarding = \"dr\"",
            "no real servers: ipvsadm's default, -g",
        )),
    }
    if let Some(t) = svc.tunnel {
        let _ = writeln!(out, "tunnel = {}", tunnel_table(t));
    }
    if let Some((secs, bare)) = a.persistence {
        let line = format!("persistence = \"{}\"", Duration::from_secs(u64::from(secs)));
        if bare {
            out.push_str(&with_comment(&line, "a bare -p: ipvsadm's default"));
        } else {
            let _ = writeln!(out, "{line}");
        }
    }
    if let Some((prefix, dotted)) = &a.netmask {
        let line = format!("persistence_netmask = {prefix}");
        match dotted {
            Some(d) => out.push_str(&with_comment(&line, &format!("-M {}", emit::sanitize(d)))),
            None => {
                let _ = writeln!(out, "{line}");
            }
        }
    }
    if a.one_packet {
        out.push_str("one_packet = true\n");
    }
    for note in &svc.notes {
        out.push_str(&comment(note));
        out.push('\n');
    }
    if svc.servers.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n[services.{name}.real_servers]");
    let svc_fwd = svc.forwarding.unwrap_or(Forwarding::Dr);
    for slot in &svc.servers {
        match slot {
            Slot::Comment(lines) => {
                for l in lines {
                    out.push_str(l);
                    out.push('\n');
                }
            }
            Slot::Server(rs) => {
                for note in &rs.notes {
                    out.push_str(&comment(note));
                    out.push('\n');
                }
                let r = &rs.attrs;
                let mut fields = Vec::new();
                if r.weight != 1 {
                    fields.push(format!("weight = {}", r.weight));
                }
                if r.forwarding != svc_fwd {
                    fields.push(format!(
                        "forwarding = \"{}\"",
                        emit::forwarding(r.forwarding)
                    ));
                }
                if r.upper > 0 {
                    fields.push(format!("upper_threshold = {}", r.upper));
                }
                if r.lower > 0 {
                    fields.push(format!("lower_threshold = {}", r.lower));
                }
                let table = if fields.is_empty() {
                    "{}".to_string()
                } else {
                    format!("{{ {} }}", fields.join(", "))
                };
                let _ = writeln!(out, "\"{}\" = {table}", rs.endpoint);
            }
        }
    }
}

fn comment(note: &Note) -> String {
    emit::note(&format!("line {}", note.line), &note.message)
}

/// `line` with a trailing comment at the comment column, and a newline.
fn with_comment(line: &str, text: &str) -> String {
    let mut out = String::new();
    emit::line(&mut out, line, Some(text));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{self, Selection};

    /// The errors of `pharos check`, less "configures nothing" for an
    /// import that found nothing to import (its output is comments only,
    /// and check rightly says so).
    fn errors(c: &config::Checked) -> Vec<&crate::diag::Diagnostic> {
        c.diagnostics
            .iter()
            .filter(|d| d.is_error() && !d.message.starts_with("the file configures nothing"))
            .collect()
    }

    /// Imports `text` and asserts the result passes `pharos check`.
    fn checked(text: &str) -> Import {
        let imp = import(text, "rules.save");
        let c = config::check_text(&imp.toml, &Selection::All);
        let errors = errors(&c);
        assert!(
            errors.is_empty(),
            "pharos check rejects the import of\n{text}\n---\n{}\n---\n{errors:#?}",
            imp.toml
        );
        imp
    }

    fn services(imp: &Import) -> crate::config::Config {
        let c = config::check_text(&imp.toml, &Selection::All);
        c.configs.into_iter().next().expect("a valid config").1
    }

    fn messages(imp: &Import) -> Vec<(usize, String)> {
        imp.warnings
            .iter()
            .map(|w| (w.line, w.message.clone()))
            .collect()
    }

    #[test]
    fn a_nat_service_maps_scheduler_weights_and_ip_forward() {
        let imp = checked(
            "-A -t 10.0.0.1:80 -s rr\n\
             -a -t 10.0.0.1:80 -r 10.0.1.2:8080 -m -w 3\n\
             -a -t 10.0.0.1:80 -r 10.0.1.3:8080 -m -w 1\n\
             -a -t 10.0.0.1:80 -r 10.0.1.4:8080 -m -w 0\n",
        );
        assert!(imp.warnings.is_empty(), "{:?}", imp.warnings);
        let cfg = services(&imp);
        assert_eq!(cfg.system.ip_forward, Some(true));
        let svc = &cfg.services["tcp-10-0-0-1-80"];
        assert_eq!(svc.scheduler, Scheduler::Rr);
        assert_eq!(svc.forwarding, Forwarding::Nat);
        let weights: Vec<u32> = svc.real_servers.values().map(|r| r.weight.get()).collect();
        assert_eq!(weights, vec![3, 1, 0]);
        assert!(
            imp.toml.contains("\"10.0.1.3:8080\" = {}\n"),
            "{}",
            imp.toml
        );
        assert!(imp.toml.contains("\"10.0.1.4:8080\" = { weight = 0 }\n"));
    }

    #[test]
    fn the_most_common_forwarding_is_the_services_and_the_others_are_per_server() {
        let imp = checked(
            "-A -t 10.0.0.1:80 -s wlc\n\
             -a -t 10.0.0.1:80 -r 10.0.1.2:80 -g\n\
             -a -t 10.0.0.1:80 -r 10.0.1.3:80 -i\n\
             -a -t 10.0.0.1:80 -r 10.0.1.4:80 -i\n",
        );
        let svc = &services(&imp).services["tcp-10-0-0-1-80"];
        assert_eq!(svc.forwarding, Forwarding::Tun);
        let ep: Endpoint = "10.0.1.2:80".parse().unwrap();
        assert_eq!(svc.real_servers[&ep].forwarding, Some(Forwarding::Dr));
        assert!(svc.tunnel.is_some());
    }

    #[test]
    fn persistence_and_netmask_become_a_duration_and_a_prefix_length() {
        let imp = checked(
            "-A -t 192.168.1.10:443 -s wrr -p 300 -M 255.255.255.0\n\
             -a -t 192.168.1.10:443 -r 192.168.1.21:443 -g -w 1\n\
             -A -f 7 -6 -s rr -p 60 -M 64\n\
             -a -f 7 -6 -r [2001:db8::21]:0 -g -w 1\n",
        );
        assert!(imp.warnings.is_empty(), "{:?}", imp.warnings);
        let cfg = services(&imp);
        let web = &cfg.services["tcp-192-168-1-10-443"];
        assert_eq!(web.persistence, Some(Duration::from_secs(300)));
        assert_eq!(web.persistence_netmask, Some(24));
        assert!(imp.toml.contains("persistence = \"300s\"\n"));
        let mark = &cfg.services["fwm6-7"];
        assert_eq!(mark.persistence_netmask, Some(64));
        assert_eq!(mark.family, Some(crate::config::types::Family::Ipv6));
    }

    #[test]
    fn long_options_and_ipvsadm_prefixes_read_like_the_short_ones() {
        let short = import(
            "-A -u 10.0.0.1:53 -s sh -b sh-fallback,sh-port -o -p 60\n\
             -a -u 10.0.0.1:53 -r 10.0.1.2:53 -m -w 2 -x 100 -y 10\n",
            "a",
        );
        let long = import(
            "ipvsadm --add-service --udp-service=10.0.0.1:domain --scheduler sh --sched-flags sh-fallback,sh-port --ops --persistent 60\n\
             /sbin/ipvsadm --add-server --udp-service 10.0.0.1:53 \\\n  --real-server 10.0.1.2 --masquerading --weight=2 --u-threshold 100 --l-threshold 10\n",
            "a",
        );
        assert_eq!(short, long);
        let cfg = services(&short);
        let svc = &cfg.services["udp-10-0-0-1-53"];
        assert!(svc.one_packet);
        assert_eq!(
            svc.scheduler_flags,
            vec![SchedulerFlag::Fallback, SchedulerFlag::Port]
        );
        let rs = svc.real_servers.values().next().unwrap();
        assert_eq!(
            (rs.upper_threshold, rs.lower_threshold),
            (Some(100), Some(10))
        );
    }

    #[test]
    fn what_cannot_be_mapped_becomes_a_comment_and_a_warning() {
        let imp = checked(
            "-A -t 10.0.0.1:5060 -s rr -p 30 --pe sip --frobnicate 3\n\
             -a -t 10.0.0.1:5060 -r 10.0.1.2:5060 -g -w 1 -q\n\
             -a -t 10.0.0.9:80 -r 10.0.1.2:80 -g -w 1\n\
             -A -t www.example.com:http -s rr\n",
        );
        let m = messages(&imp);
        assert_eq!(m.len(), 5, "{m:#?}");
        assert_eq!(m[0].0, 1);
        assert!(m[0].1.contains("`--frobnicate 3` not imported"), "{m:#?}");
        assert!(m[1].1.contains("`--pe sip` not imported"), "{m:#?}");
        assert_eq!(m[2].0, 2);
        assert!(m[2].1.contains("`-q`"));
        assert_eq!(m[3].0, 3);
        assert!(m[3].1.contains("never added"), "{m:#?}");
        assert!(m[4].1.contains("host name"), "{m:#?}");
        for (line, message) in &m {
            let c = format!("# line {line}: {message}");
            assert!(imp.toml.contains(&c), "{c} missing from\n{}", imp.toml);
        }
        assert!(
            imp.toml
                .contains("#   -a -t 10.0.0.9:80 -r 10.0.1.2:80 -g -w 1\n")
        );
    }

    #[test]
    fn real_servers_of_a_service_not_imported_say_so() {
        let imp = checked(
            "-A -t 10.0.0.1:0 -s rr\n\
             -a -t 10.0.0.1:0 -r 10.0.1.2:0 -g -w 1\n",
        );
        let m = messages(&imp);
        assert!(m[0].1.contains("needs persistence"), "{m:#?}");
        assert_eq!(
            m[1],
            (
                2,
                "not imported: its service, on line 1, was not imported".into()
            )
        );
    }

    #[test]
    fn ipvsadm_checks_are_kept_so_the_output_passes_check() {
        let imp = checked(
            "-A -t 10.0.0.1:80 -s rr -o -b sh-port -M 255.255.0.0\n\
             -a -t 10.0.0.1:80 -r 10.0.1.2:8080 -g\n\
             -a -t 10.0.0.1:80 -r 10.0.0.1:80 -g\n\
             -a -t 10.0.0.1:80 -r [2001:db8::2]:80 -m\n\
             -a -t 10.0.0.1:80 -r 10.0.1.2:80 -g\n\
             -a -t 10.0.0.1:80 -r 10.0.1.3:80 -m -x 10 -y 20\n\
             -A -t 10.0.0.2 -s rr -p\n\
             -a -t 10.0.0.2 -r 10.0.1.2:8080 -m\n\
             -a -t 10.0.0.2 -r 10.0.1.3 -m\n",
        );
        let m: Vec<String> = messages(&imp).into_iter().map(|m| m.1).collect();
        let expect = [
            "`-o` not imported: one-packet",
            "`-b sh-port` not imported",
            "`-M 255.255.0.0` not imported",
            "real server port 8080 became 80",
            "the VIP itself",
            "is IPv6 but the service is IPv4",
            "10.0.1.2:80 was already added on line 2",
            "`-y 20` not imported",
            "has a port but the service takes all ports",
        ];
        assert_eq!(m.len(), expect.len(), "{m:#?}");
        for (got, want) in m.iter().zip(expect) {
            assert!(got.contains(want), "{got:?} should contain {want:?}");
        }
        let cfg = services(&imp);
        assert_eq!(
            cfg.services["tcp-10-0-0-2"].persistence,
            Some(Duration::from_secs(300))
        );
    }

    #[test]
    fn restore_commands_apply_in_order() {
        let imp = checked(
            "-C\n\
             -A -t 10.0.0.1:80 -s rr\n\
             -a -t 10.0.0.1:80 -r 10.0.1.2:80 -m\n\
             -a -t 10.0.0.1:80 -r 10.0.1.3:80 -m\n\
             -E -t 10.0.0.1:80 -s wrr\n\
             -e -t 10.0.0.1:80 -r 10.0.1.2:80 -m -w 5\n\
             -d -t 10.0.0.1:80 -r 10.0.1.3:80\n\
             -A -t 10.0.0.2:80 -s rr\n\
             -D -t 10.0.0.2:80\n\
             --set 900 0 300\n",
        );
        assert!(imp.warnings.is_empty(), "{:?}", imp.warnings);
        let cfg = services(&imp);
        assert_eq!(cfg.services.len(), 1);
        let svc = &cfg.services["tcp-10-0-0-1-80"];
        assert_eq!(svc.scheduler, Scheduler::Wrr);
        let weights: Vec<u32> = svc.real_servers.values().map(|r| r.weight.get()).collect();
        assert_eq!(weights, vec![5]);
        let t = cfg.ipvs.timeouts.unwrap();
        assert_eq!((t.tcp, t.tcpfin), (Some(Duration::from_secs(900)), None));
    }

    #[test]
    fn ipv6_services_get_readable_names_and_bracketed_keys() {
        let imp = checked(
            "-A -t [2001:db8::10]:443 -s wlc\n\
             -a -t [2001:db8::10]:443 -r [2001:db8::21]:443 -m -w 1\n",
        );
        assert!(
            imp.toml.contains("[services.tcp-2001-db8--10-443]\n"),
            "{}",
            imp.toml
        );
        assert!(imp.toml.contains("\"[2001:db8::21]:443\" = {}\n"));
        assert!(imp.toml.contains("ipv6_forward = true"));
    }

    #[test]
    fn words_split_like_a_shell() {
        assert_eq!(
            super::super::shell_words(r#"-A -t '10.0.0.1:80' "-s" r\r # comment"#, true).unwrap(),
            vec!["-A", "-t", "10.0.0.1:80", "-s", "rr"]
        );
        assert!(super::super::shell_words("-A 'open", true).is_err());
        let lines = logical_lines("a \\\nb\n# c \\\nd\n");
        let words: Vec<_> = lines
            .iter()
            .map(|l| (l.number, l.words.clone().unwrap()))
            .collect();
        assert_eq!(
            words,
            vec![
                (1, vec!["a".to_string(), "b".into()]),
                (3, vec![]),
                (4, vec!["d".into()])
            ]
        );
    }

    #[test]
    fn garbage_never_panics_and_still_passes_check() {
        let commands = [
            "-A", "-A", "-A", "-a", "-a", "-a", "-a", "-a", "-E", "-e", "-d", "-D", "--set",
        ];
        let selectors = [
            "-t 10.0.0.1:80",
            "-t 10.0.0.1",
            "-u 10.0.0.1:53",
            "-f 5",
            "-f 5 -6",
            "--sctp-service 10.0.0.3:9",
            "-t [2001:db8::1]:80",
            "-t [2001:db8::1]:0",
        ];
        let servers = [
            "10.0.1.2:80",
            "10.0.1.3",
            "10.0.1.4:8080",
            "10.0.0.1:80",
            "[2001:db8::2]:80",
            "2001:db8::5",
            "10.0.1.5:0",
        ];
        let pieces = [
            "-A",
            "-a",
            "-t",
            "-u",
            "-f",
            "-6",
            "-s",
            "rr",
            "sh",
            "mh",
            "bogus",
            "-p",
            "-M",
            "255.255.255.0",
            "255.0.255.0",
            "64",
            "-o",
            "-b",
            "sh-port,flag-3",
            "mh-fallback",
            "-r",
            "-r",
            "-r",
            "-m",
            "-m",
            "-g",
            "-i",
            "-i",
            "-w",
            "0",
            "1",
            "65536",
            "-x",
            "-y",
            "--tun-type",
            "gue",
            "gre",
            "--tun-port",
            "6080",
            "--tun-csum",
            "--tun-remcsum",
            "--tun-nocsum",
            "-C",
            "10.0.0.1:80",
            "10.0.0.1",
            "10.0.1.2:80",
            "10.0.1.2:8080",
            "10.0.1.3",
            "[2001:db8::1]:80",
            "2001:db8::2",
            "[2001:db8::3]:8080",
            "[::ffff:10.0.0.1]:0",
            "5",
            "4294967296",
            "host:http",
            "10.0.1.4:https",
            "'",
            "\"",
            "\\",
            "#",
            "--pe",
            "sip",
            "=",
            "--weight=",
            "-w7",
            "-gw",
            "\u{1}",
            "é",
            "[",
            "]:",
            ":",
            "-",
            "--",
            "ipvsadm",
            "--start-daemon",
            "master",
            "-Z",
            "300",
        ];
        let mut rng = fastrand::Rng::with_seed(0x1905);
        let (mut services, mut reals) = (0, 0);
        for round in 0..400 {
            let mut text = String::new();
            // Most rounds declare some services first, as real dumps do.
            for sel in selectors {
                if rng.bool() {
                    let p = if rng.bool() { " -p 60" } else { "" };
                    let _ = writeln!(text, "-A {sel} -s rr{p}");
                }
            }
            for _ in 0..rng.usize(1..30) {
                if rng.u8(..) < 200 {
                    let command = commands[rng.usize(..commands.len())];
                    text.push_str(command);
                    text.push(' ');
                    text.push_str(selectors[rng.usize(..selectors.len())]);
                    text.push(' ');
                    if matches!(command, "-a" | "-e" | "-d") && rng.u8(..) < 230 {
                        text.push_str("-r ");
                        text.push_str(servers[rng.usize(..servers.len())]);
                        text.push_str([" -m ", " -g ", " -i ", " "][rng.usize(..4)]);
                    }
                }
                for _ in 0..rng.usize(0..6) {
                    if rng.u8(..) < 4 {
                        text.push(char::from(rng.u8(..)));
                    } else {
                        text.push_str(pieces[rng.usize(..pieces.len())]);
                    }
                    text.push(if rng.u8(..) < 10 { '\t' } else { ' ' });
                }
                text.push('\n');
            }
            let imp = import(&text, "fuzz\n.save");
            let c = config::check_text(&imp.toml, &Selection::All);
            let errors = errors(&c);
            assert!(
                errors.is_empty(),
                "round {round}:\n{text}\n---\n{}\n---\n{errors:#?}",
                imp.toml
            );
            let Some((_, cfg)) = c.configs.first() else {
                continue; // nothing imported
            };
            services += cfg.services.len();
            reals += cfg
                .services
                .values()
                .map(|s| s.real_servers.len())
                .sum::<usize>();
        }
        // Close enough to rules for many services and real servers to come through.
        assert!(
            services > 1000 && reals > 250,
            "{services} services, {reals} real servers"
        );
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut rng = fastrand::Rng::with_seed(7);
        for _ in 0..200 {
            let bytes: Vec<u8> = (0..rng.usize(0..600)).map(|_| rng.u8(..)).collect();
            let text = String::from_utf8_lossy(&bytes);
            let imp = import(&text, "random");
            assert!(imp.toml.starts_with("# Imported from"));
        }
    }
}

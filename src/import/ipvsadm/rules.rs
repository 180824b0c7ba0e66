//! Reading ipvsadm rules: logical lines (`\` continuations), words split
//! as a shell would, options in their short, long and clustered spellings,
//! and the addresses, ports, schedulers and numbers they take. The lowest
//! step of the importer; `table.rs` applies what it reads.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::config::model::{Protocol, Scheduler};

/// What a bare `-p` means (IPVS_SVC_PERSISTENT_TIMEOUT in ipvsadm).
pub(super) const DEFAULT_PERSISTENCE: u32 = 300;
/// ipvsadm's upper bound for `-p` and `--set` (MAX_TIMEOUT, 31 days).
pub(super) const MAX_TIMEOUT: u32 = 86_400 * 31;

// ---------------------------------------------------------------- lines and words

pub(super) struct Line {
    /// 1-based; the first physical line of a continued one.
    pub(super) number: usize,
    /// As written, continuations joined, for quoting in comments.
    pub(super) raw: String,
    /// The shell words, or why the line could not be split.
    pub(super) words: Result<Vec<String>, String>,
}

/// Physical lines joined at a trailing `\`, as a shell reads them.
pub(super) fn logical_lines(text: &str) -> Vec<Line> {
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
            words: crate::import::shell_words(&joined, true),
            raw: joined.trim().to_string(),
        });
    }
    if let Some((number, joined)) = pending {
        out.push(Line {
            number,
            words: crate::import::shell_words(&joined, true),
            raw: joined.trim().to_string(),
        });
    }
    out
}

// ---------------------------------------------------------------- options

/// Every option of ipvsadm(8), 1.31.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Opt {
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
pub(super) enum Arg {
    No,
    Required,
    /// `-p [timeout]`: takes the next word unless it is an option.
    Optional,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Class {
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
pub(super) const OPTIONS: &[(Opt, Option<char>, &str, Arg)] = &[
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
    pub(super) fn class(self) -> Class {
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
pub(super) struct Given {
    pub(super) opt: Opt,
    pub(super) value: Option<String>,
    /// As written, with its value: `-w 3`, `--weight=3`.
    pub(super) spelled: String,
}

#[derive(Debug, Clone)]
pub(super) enum Token {
    Opt(Given),
    /// Not an ipvsadm option, with the word after it if that looked like its value.
    Unknown(String),
    Positional(String),
}

/// Reads options as popt does for ipvsadm: `-w 3`, `-w3`, `--weight 3`,
/// `--weight=3`, and clustered flags (`-gw 3`).
pub(super) fn tokenize(words: &[String]) -> Vec<Token> {
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

pub(super) fn family_name(v6: bool) -> &'static str {
    if v6 { "IPv6" } else { "IPv4" }
}

/// `addr`, `addr:port`, `[v6]:port` or a bare IPv6 address, as ipvsadm's
/// parse_service reads them; ports may be names (`http`), host names are
/// not resolved.
pub(super) fn parse_addr(s: &str, proto: Protocol) -> Result<(IpAddr, Option<u16>), String> {
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

pub(super) fn not_an_address(s: &str, host: &str) -> String {
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

pub(super) fn parse_port(p: &str, proto: Protocol) -> Option<u16> {
    if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) {
        return p.parse().ok();
    }
    service_port(p, proto)
}

/// The names `ipvsadm -S` (without `-n`) prints for common ports, from
/// /etc/services. A fixed table so that an import does not depend on the
/// box it runs on.
pub(super) fn service_port(name: &str, proto: Protocol) -> Option<u16> {
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

pub(super) fn scheduler_named(name: &str) -> Option<Scheduler> {
    use Scheduler::*;
    [
        Rr, Wrr, Lc, Wlc, Lblc, Lblcr, Dh, Sh, Sed, Nq, Fo, Ovf, Mh, Twos,
    ]
    .into_iter()
    .find(|s| s.name() == name)
}

/// A dotted IPv4 netmask as a prefix length, if its ones are contiguous.
pub(super) fn mask_prefix(mask: Ipv4Addr) -> Option<u8> {
    let m = u32::from(mask);
    let ones = m.leading_ones();
    let canonical = u32::MAX.checked_shl(32 - ones).unwrap_or(0);
    (m == canonical).then_some(ones as u8)
}

pub(super) fn number(v: &str, lo: u64, hi: u64) -> Option<u64> {
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse::<u64>().ok().filter(|n| (lo..=hi).contains(n))
}

/// A line's options other than its command, sorted out.
pub(super) struct Parts<'a> {
    pub(super) selectors: Vec<&'a Given>,
    pub(super) ipv6: Option<&'a Given>,
    pub(super) opts: Vec<&'a Given>,
    pub(super) positionals: Vec<&'a str>,
    /// Messages for what does not apply or is not ipvsadm's.
    pub(super) stray: Vec<String>,
}

pub(super) fn sort_out<'a>(tokens: &'a [Token], cmd: &Given, allowed: &[Class]) -> Parts<'a> {
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
pub(super) fn same_option(a: Opt, b: Opt) -> bool {
    let fwd = |o| matches!(o, Opt::Masquerading | Opt::Ipip | Opt::Gatewaying);
    a == b || (fwd(a) && fwd(b))
}

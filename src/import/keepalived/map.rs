//! keepalived statements to the pharos document: global_defs, vrrp_script,
//! vrrp_instance, vrrp_sync_group and the static addresses and routes
//! here; virtual servers and their checks in `lvs.rs`.
//!
//! Each block is read into a few typed values (with the notes earned on
//! the way, keyed by the pharos line they concern), then written as its
//! sections. Blocks are taken in the order their references need: scripts
//! before the instances that track them, instances before the sync groups,
//! the sync daemon and the services that name them.

use std::borrow::Cow;
use std::collections::HashMap;
use std::net::IpAddr;

use super::doc::{Comment, Doc, Note, Section, array, inline, key, string};
use super::parse::{self, Loc, Parsed, Stmt, describe};
use crate::config::suggest;
use crate::config::types::{Duration, Family, IfName, VirtualAddress};
use crate::import::emit;
use crate::import::naming::most_common;

/// Where a keyword is read: which block it is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Cx {
    Root,
    Global,
    Script,
    Group,
    Instance,
    Auth,
    Vs,
    Rs,
    Tcp,
    Http,
    Url,
    Misc,
    Dns,
    Udp,
}

pub(super) const ROOT_KW: &[&str] = &[
    "global_defs",
    "vrrp_script",
    "vrrp_sync_group",
    "vrrp_instance",
    "virtual_server",
    "virtual_server_group",
    "static_ipaddress",
    "static_routes",
    "static_rules",
    "garp_group",
    "vrrp_track_file",
    "track_file",
    "vrrp_track_process",
    "track_process",
    "bfd_instance",
    "linkbeat_interfaces",
    "net_namespace",
    "namespace_with_ipsets",
    "instance",
    "use_pid_dir",
    "child_wait_time",
    "include",
];

const GLOBAL_KW: &[&str] = &[
    "router_id",
    "notification_email",
    "notification_email_from",
    "smtp_server",
    "smtp_helo_name",
    "smtp_connect_timeout",
    "smtp_alert",
    "smtp_alert_vrrp",
    "smtp_alert_checker",
    "email_faults",
    "checker_log_all_failures",
    "enable_script_security",
    "script_user",
    "vrrp_version",
    "vrrp_garp_master_delay",
    "vrrp_garp_master_repeat",
    "vrrp_garp_master_refresh",
    "vrrp_garp_master_refresh_repeat",
    "vrrp_garp_interval",
    "vrrp_gna_interval",
    "vrrp_garp_lower_prio_delay",
    "vrrp_garp_lower_prio_repeat",
    "vrrp_lower_prio_no_advert",
    "vrrp_higher_prio_send_advert",
    "vrrp_min_garp",
    "vrrp_garp_extra_if",
    "vrrp_mcast_group4",
    "vrrp_mcast_group6",
    "vrrp_skip_check_adv_addr",
    "vrrp_strict",
    "vrrp_iptables",
    "vrrp_ipsets",
    "vrrp_nftables",
    "vrrp_nftables_priority",
    "vrrp_check_unicast_src",
    "vrrp_startup_delay",
    "vrrp_priority",
    "checker_priority",
    "bfd_priority",
    "vrrp_no_swap",
    "checker_no_swap",
    "bfd_no_swap",
    "vrrp_rt_priority",
    "checker_rt_priority",
    "bfd_rt_priority",
    "vrrp_rlimit_rttime",
    "checker_rlimit_rttime",
    "bfd_rlimit_rttime",
    "snmp_socket",
    "enable_snmp_vrrp",
    "enable_snmp_keepalived",
    "enable_snmp_checker",
    "enable_snmp_rfc",
    "enable_snmp_rfcv2",
    "enable_snmp_rfcv3",
    "enable_traps",
    "enable_dbus",
    "enable_dbus_create_instance",
    "dynamic_interfaces",
    "max_auto_priority",
    "min_auto_priority_delay",
    "notify_fifo",
    "notify_fifo_script",
    "vrrp_notify_fifo",
    "vrrp_notify_fifo_script",
    "lvs_notify_fifo",
    "lvs_notify_fifo_script",
    "lvs_sync_daemon",
    "lvs_flush",
    "lvs_flush_onstop",
    "lvs_timeouts",
    "lvs_id",
    "default_interface",
    "linkbeat_use_polling",
    "process_names",
    "process_name",
    "vrrp_process_name",
    "checker_process_name",
    "bfd_process_name",
    "vrrp_netlink_cmd_rcv_bufs",
    "vrrp_netlink_cmd_rcv_bufs_force",
    "vrrp_netlink_monitor_rcv_bufs",
    "vrrp_netlink_monitor_rcv_bufs_force",
    "lvs_netlink_cmd_rcv_bufs",
    "lvs_netlink_cmd_rcv_bufs_force",
    "lvs_netlink_monitor_rcv_bufs",
    "lvs_netlink_monitor_rcv_bufs_force",
    "reload_check_config",
    "reload_time_file",
    "reload_repeat",
    "reload_file",
    "config_save_dir",
    "script_timeout",
    "vrrp_dont_create_fifos",
    "nftables",
    "iptables",
];

const SCRIPT_KW: &[&str] = &[
    "script",
    "interval",
    "timeout",
    "weight",
    "rise",
    "fall",
    "user",
    "init_fail",
];

const GROUP_KW: &[&str] = &[
    "group",
    "track_interface",
    "track_script",
    "track_file",
    "track_bfd",
    "track_process",
    "notify_backup",
    "notify_master",
    "notify_fault",
    "notify_stop",
    "notify",
    "smtp_alert",
    "global_tracking",
    "sync_group_tracking_weight",
    "notify_priority_changes",
];

const INSTANCE_KW: &[&str] = &[
    "use_vmac",
    "vmac_xmit_base",
    "unicast_peer",
    "native_ipv6",
    "state",
    "interface",
    "dont_track_primary",
    "track_interface",
    "track_script",
    "track_file",
    "track_bfd",
    "track_process",
    "mcast_src_ip",
    "unicast_src_ip",
    "track_src_ip",
    "virtual_router_id",
    "version",
    "priority",
    "advert_int",
    "virtual_ipaddress",
    "virtual_ipaddress_excluded",
    "promote_secondaries",
    "linkbeat_use_polling",
    "virtual_routes",
    "virtual_rules",
    "accept",
    "no_accept",
    "skip_check_adv_addr",
    "strict_mode",
    "preempt",
    "nopreempt",
    "preempt_delay",
    "debug",
    "notify_backup",
    "notify_master",
    "notify_fault",
    "notify_stop",
    "notify",
    "notify_deleted",
    "notify_master_rx_lower_pri",
    "notify_priority_changes",
    "smtp_alert",
    "lvs_sync_daemon_interface",
    "garp_master_delay",
    "garp_master_refresh",
    "garp_master_repeat",
    "garp_master_refresh_repeat",
    "garp_lower_prio_delay",
    "garp_lower_prio_repeat",
    "garp_interval",
    "gna_interval",
    "lower_prio_no_advert",
    "higher_prio_send_advert",
    "authentication",
    "unicast_fault_no_peer",
    "check_unicast_src",
    "kernel_rx_buf_size",
    "down_timer_adverts",
    "mcast_dst_address",
    "unicast_ttl",
];

const AUTH_KW: &[&str] = &["auth_type", "auth_pass"];

pub(super) const VS_KW: &[&str] = &[
    "delay_loop",
    "lb_algo",
    "lvs_sched",
    "lb_kind",
    "lvs_method",
    "ops",
    "persistence_engine",
    "persistence_timeout",
    "persistence_granularity",
    "protocol",
    "ha_suspend",
    "ip_family",
    "virtualhost",
    "sorry_server",
    "sorry_server_inhibit",
    "sorry_server_lvs_method",
    "real_server",
    "quorum",
    "quorum_up",
    "quorum_down",
    "hysteresis",
    "alpha",
    "omega",
    "inhibit_on_failure",
    "retry",
    "delay_before_retry",
    "warmup",
    "connect_timeout",
    "smtp_alert",
    "hashed",
    "flag-1",
    "flag-2",
    "flag-3",
    "sh-port",
    "sh-fallback",
    "mh-port",
    "mh-fallback",
    "weight",
];

pub(super) const RS_KW: &[&str] = &[
    "weight",
    "inhibit_on_failure",
    "notify_up",
    "notify_down",
    "uthreshold",
    "lthreshold",
    "lvs_method",
    "smtp_alert",
    "alpha",
    "retry",
    "delay_before_retry",
    "warmup",
    "delay_loop",
    "connect_timeout",
    "virtualhost",
    "TCP_CHECK",
    "HTTP_GET",
    "SSL_GET",
    "MISC_CHECK",
    "SMTP_CHECK",
    "DNS_CHECK",
    "UDP_CHECK",
    "PING_CHECK",
    "FILE_CHECK",
    "BFD_CHECK",
];

const CHECK_COMMON: &[&str] = &[
    "connect_ip",
    "connect_port",
    "bindto",
    "bind_port",
    "bind_if",
    "connect_timeout",
    "fwmark",
    "warmup",
    "retry",
    "nb_get_retry",
    "delay_before_retry",
    "delay_loop",
    "alpha",
    "log_all_failures",
];

/// Every keyword keepalived knows in a block.
pub(super) fn known(cx: Cx) -> Vec<&'static str> {
    let own: &[&str] = match cx {
        Cx::Root => ROOT_KW,
        Cx::Global => GLOBAL_KW,
        Cx::Script => SCRIPT_KW,
        Cx::Group => GROUP_KW,
        Cx::Instance => INSTANCE_KW,
        Cx::Auth => AUTH_KW,
        Cx::Vs => VS_KW,
        Cx::Rs => RS_KW,
        Cx::Tcp => &[],
        Cx::Http => &[
            "url",
            "virtualhost",
            "enable_sni",
            "fast_recovery",
            "http_protocol",
            "tls_compliant",
        ],
        Cx::Url => &[
            "path",
            "digest",
            "status_code",
            "virtualhost",
            "regex",
            "regex_no_match",
            "regex_options",
            "regex_max_offset",
            "regex_min_offset",
            "regex_stack",
        ],
        Cx::Misc => &[
            "misc_path",
            "misc_timeout",
            "misc_dynamic",
            "user",
            "warmup",
            "delay_loop",
            "alpha",
            "retry",
            "delay_before_retry",
            "log_all_failures",
        ],
        Cx::Dns => &["type", "name"],
        Cx::Udp => &[
            "payload",
            "require_reply",
            "min_reply_length",
            "max_reply_length",
        ],
    };
    let mut all = own.to_vec();
    if matches!(cx, Cx::Tcp | Cx::Http | Cx::Dns | Cx::Udp) {
        all.extend_from_slice(CHECK_COMMON);
    }
    all
}

/// Why a keyword keepalived knows is not imported.
fn unsupported_reason(kw: &str) -> &'static str {
    match kw {
        "notification_email"
        | "notification_email_from"
        | "smtp_server"
        | "smtp_helo_name"
        | "smtp_connect_timeout"
        | "smtp_alert"
        | "smtp_alert_vrrp"
        | "smtp_alert_checker"
        | "email_faults" => {
            "pharos sends no email; follow transitions with `pharos events` or the notify commands"
        }
        "enable_script_security" | "script_user" | "user" => {
            "pharos runs commands as its own user, without a shell"
        }
        k if k.starts_with("enable_snmp") || k == "snmp_socket" || k == "enable_traps" => {
            "pharos has no SNMP; `[metrics] listen` serves Prometheus metrics"
        }
        "enable_dbus" | "enable_dbus_create_instance" => {
            "pharos has no D-Bus interface; `pharos status` and `pharos events` show the state"
        }
        "use_vmac" | "vmac_xmit_base" => {
            "pharos does not run virtual MACs yet; the VIPs move with gratuitous ARPs from the interface's own MAC"
        }
        "virtual_ipaddress_excluded" => {
            "pharos puts every address of an instance in its adverts; add these to `virtual_addresses` (or an instance of their own) if the peers are pharos too"
        }
        "virtual_routes" | "virtual_rules" | "static_rules" => {
            "pharos adds no routes or rules with mastership; static ones go in `[routes]`"
        }
        "no_accept" => {
            "pharos's master always accepts packets to its VIPs, as keepalived does by default"
        }
        "notify_up" | "notify_down" | "quorum_up" | "quorum_down" => {
            "pharos runs no commands for real servers; `pharos events` streams them going up and down"
        }
        "mcast_src_ip" => "pharos sends multicast adverts from the interface's own address",
        k if k.starts_with("vrrp_mcast_group") || k == "mcast_dst_address" => {
            "pharos sends adverts to the standard group (224.0.0.18, ff02::12)"
        }
        "track_file" | "track_bfd" | "track_process" | "vrrp_track_file" | "vrrp_track_process"
        | "bfd_instance" | "FILE_CHECK" | "BFD_CHECK" => {
            "pharos tracks interfaces, checks and services; an exec check (`[checks]`) can test the same thing"
        }
        "PING_CHECK" | "SMTP_CHECK" => {
            "pharos has no such check; an exec check can run one, and the real server stays up unchecked meanwhile"
        }
        "misc_dynamic" => {
            "pharos does not set weights from an exec check's exit code; the check only passes or fails"
        }
        "regex" | "regex_no_match" | "regex_options" | "regex_max_offset" | "regex_min_offset"
        | "regex_stack" => {
            "pharos matches bodies by digest or by a plain text (`body_contains`), not by regex"
        }
        "warmup" => "pharos spreads the checks over the interval by itself",
        "persistence_engine" => "pharos sets no persistence engine",
        "sorry_server_inhibit" | "sorry_server_lvs_method" => {
            "pharos adds the sorry server with the service's forwarding"
        }
        "ha_suspend" => "pharos checks real servers on the backup director too",
        "omega" => "pharos runs no commands when a service goes down",
        "hashed" => "pharos reads digests as hex, as genhash prints them",
        "lvs_id" => "pharos needs no LVS id",
        "dont_track_primary" => "pharos always tracks the instance's own interface",
        "garp_master_refresh_repeat"
        | "garp_lower_prio_delay"
        | "garp_lower_prio_repeat"
        | "vrrp_garp_master_refresh_repeat"
        | "vrrp_garp_lower_prio_delay"
        | "vrrp_garp_lower_prio_repeat"
        | "vrrp_min_garp"
        | "vrrp_garp_extra_if" => "pharos's `garp` has count, interval, delay and refresh only",
        "track_interface" | "track_script" => {
            "pharos tracks per instance; add it to each member's `track`"
        }
        "reverse" => "pharos has no reversed tracking weight",
        "vrrp_strict" | "strict_mode" => {
            "pharos keeps to RFC 3768/5798 without it and adds no firewall rules"
        }
        "vrrp_iptables"
        | "vrrp_ipsets"
        | "vrrp_nftables"
        | "vrrp_nftables_priority"
        | "nftables"
        | "iptables" => "pharos adds no firewall rules",
        k if k.ends_with("_priority") && k != "notify_priority_changes"
            || k.ends_with("_no_swap")
            || k.ends_with("_rt_priority")
            || k.ends_with("_rlimit_rttime")
            || k.ends_with("_process_name")
            || k == "process_names"
            || k == "process_name" =>
        {
            "pharos is one process; its scheduling and memory locking come from its service unit"
        }
        "notify_fifo"
        | "notify_fifo_script"
        | "vrrp_notify_fifo"
        | "vrrp_notify_fifo_script"
        | "lvs_notify_fifo"
        | "lvs_notify_fifo_script" => {
            "pharos streams transitions as JSON lines with `pharos events`"
        }
        _ => "pharos has no equivalent",
    }
}

/// What pharos key a keepalived keyword becomes, to put a typo's note
/// beside it.
fn out_key(kw: &str) -> &'static str {
    match kw {
        "virtual_router_id" => "vrid",
        "nopreempt" | "preempt" => "preempt",
        "preempt_delay" => "preempt_delay",
        "authentication" => "authentication",
        "track_interface" => "track.interfaces",
        "track_script" => "track.checks",
        "priority" => "priority",
        "advert_int" => "advert_interval",
        "virtual_ipaddress" => "virtual_addresses",
        "unicast_src_ip" => "unicast_source",
        "unicast_peer" => "unicast_peers",
        "interface" => "interface",
        "lb_algo" | "lvs_sched" => "scheduler",
        "lb_kind" | "lvs_method" => "forwarding",
        "persistence_timeout" => "persistence",
        "persistence_granularity" => "persistence_netmask",
        "sorry_server" => "sorry_server",
        "quorum" => "quorum",
        "hysteresis" => "hysteresis",
        "inhibit_on_failure" => "on_failure",
        "weight" => "weight",
        "interval" => "interval",
        "timeout" => "timeout",
        "rise" => "rise",
        "fall" => "fall",
        "script" => "command",
        _ => "",
    }
}

/// Notes of one block, keyed by the pharos line they belong above ("" for
/// the end of the section).
pub(super) type Notes = Vec<(String, Note)>;

pub(super) fn push(notes: &mut Notes, key: &str, note: Note) {
    notes.push((key.to_string(), note));
}

/// A statement quoted for a message: as written, shortened.
pub(super) fn quote(s: &Stmt) -> String {
    let raw = s.raw.trim();
    let mut out: String = raw.chars().take(60).collect();
    if raw.chars().count() > 60 {
        out.push('…');
    }
    out
}

/// keepalived reads times as decimal seconds.
pub(super) fn secs(s: &str) -> Option<Duration> {
    let t = s.trim();
    if t.is_empty()
        || t.len() > 20
        || !t.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        || t.bytes().filter(|&b| b == b'.').count() > 1
        || t.starts_with('.') && t.len() == 1
    {
        return None;
    }
    let (whole, frac) = t.split_once('.').unwrap_or((t, ""));
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    if whole > 10_000_000 {
        return None;
    }
    let mut ms = whole * 1000;
    let digits: Vec<u64> = frac.bytes().take(4).map(|b| u64::from(b - b'0')).collect();
    let scaled = digits.iter().take(3).fold(0u64, |acc, d| acc * 10 + d)
        * 10u64.pow(3u32.saturating_sub(digits.len().min(3) as u32));
    ms += scaled;
    if digits.len() > 3 && digits[3] >= 5 {
        ms += 1;
    }
    Some(Duration::from_millis(ms))
}

pub(super) fn int(s: &str, lo: i64, hi: i64) -> Option<i64> {
    s.trim()
        .parse::<i64>()
        .ok()
        .filter(|n| (lo..=hi).contains(n))
}

pub(super) fn dur(d: Duration) -> String {
    string(&d.to_string())
}

/// A command as keepalived reads `script`, `misc_path` and `notify*`:
/// either one quoted string (then the words after it are a user and
/// group), or the rest of the line; split into argv as a shell would.
/// Returns (the command as written, argv, the words after a quoted one).
pub(super) fn command_words(s: &Stmt) -> Result<(String, Vec<String>, Vec<String>), String> {
    let rest = s.rest();
    if let Some(q) = rest.strip_prefix('"')
        && let Some(end) = q.find('"')
    {
        let inner = &q[..end];
        let argv = parse::shell_words(inner)?;
        let extra = parse::split_words(&q[end + 1..]);
        return Ok((inner.to_string(), argv, extra));
    }
    let argv = parse::shell_words(rest)?;
    Ok((rest.to_string(), argv, Vec::new()))
}

/// Shell syntax that a command without a shell would pass on as words.
fn shell_syntax(written: &str, argv: &[String]) -> Option<String> {
    const OPS: &[&str] = &[
        "|", "||", "&&", ";", "&", ">", ">>", "<", "2>&1", "2>", "<<",
    ];
    for w in argv {
        if OPS.contains(&w.as_str())
            || w.starts_with('>')
            || w.starts_with('<')
            || w.starts_with("2>")
            || w.ends_with(';')
        {
            return Some(w.clone());
        }
    }
    for pat in ["$(", "`", "${"] {
        if written.contains(pat) {
            return Some(pat.to_string());
        }
    }
    None
}

/// argv fit for pharos (an absolute program), and why it differs from
/// what was written, if it does.
pub(super) fn pharos_argv(
    written: &str,
    argv: Vec<String>,
) -> Option<(Vec<String>, Option<String>)> {
    let first = argv.first()?.clone();
    if let Some(op) = shell_syntax(written, &argv) {
        return Some((
            vec!["/bin/sh".into(), "-c".into(), written.to_string()],
            Some(format!(
                "`{written}` uses shell syntax (`{op}`), which keepalived 2 passes to the program as words; imported as `/bin/sh -c` so it does what it says"
            )),
        ));
    }
    if first.starts_with('/') {
        return Some((argv, None));
    }
    let mut env = vec!["/usr/bin/env".to_string()];
    env.extend(argv);
    Some((
        env,
        Some(format!(
            "`{first}` is not an absolute path: pharos runs commands without a PATH search, so it runs through `/usr/bin/env`; write the full path of `{first}` instead"
        )),
    ))
}

pub(super) fn argv_value(argv: &[String]) -> String {
    array(&argv.iter().map(|a| string(a)).collect::<Vec<_>>())
}

// ---------------------------------------------------------------- the mapper

/// A vrrp_script as imported.
pub(super) struct ScriptInfo {
    pub weight: i64,
}

/// A vrrp_instance as imported: what the services, groups and the sync
/// daemon need to know of it.
pub(super) struct InstanceInfo {
    pub family: Family,
    pub vips: Vec<IpAddr>,
    pub vrid: u8,
    pub interface: String,
}

/// An interface named somewhere; declared under `[interfaces]`.
struct Iface {
    name: String,
    addresses: Vec<String>,
}

pub(super) struct Mapper {
    pub fix_typos: bool,
    /// Importing one of a pair: the router id goes to the node table.
    pub pair: bool,
    pub top: Vec<Comment>,
    /// Where each top-level block went, for the parser's notes:
    /// (file, first line, last line, section path).
    pub anchors: Vec<(Loc, usize, Vec<String>)>,
    pub router_id: Option<(String, Loc)>,
    default_interface: Option<String>,
    vrrp_version: Option<u8>,
    garp_defaults: Vec<(&'static str, String, Loc)>,
    lvs_flush: Option<Loc>,
    lvs_flush_onstop: Option<Loc>,
    timeouts: Option<(Vec<(String, String)>, Loc)>,
    pub global_sync: Option<(Stmt, Notes)>,
    pub scripts: HashMap<String, ScriptInfo>,
    pub instances: HashMap<String, InstanceInfo>,
    /// Instances in the order they were imported.
    pub instance_order: Vec<String>,
    /// Instance → the sync group it is in.
    grouped: HashMap<String, String>,
    ifaces: Vec<Iface>,
    pub nat4: bool,
    pub nat6: bool,
    sync: Option<(Section, Notes)>,
    routes: Vec<Section>,
    check_sections: Vec<Section>,
    vrrp_sections: Vec<Section>,
    group_sections: Vec<Section>,
    pub service_sections: Vec<Section>,
    /// States as keepalived had them, for the pair's node tables.
    pub states: Vec<(String, String)>,
}

/// The root statements sorted by what they are.
#[derive(Default)]
struct Roots<'a> {
    global: Vec<Cow<'a, Stmt>>,
    scripts: Vec<Cow<'a, Stmt>>,
    instances: Vec<Cow<'a, Stmt>>,
    groups: Vec<Cow<'a, Stmt>>,
    vsgroups: Vec<Cow<'a, Stmt>>,
    services: Vec<Cow<'a, Stmt>>,
    statics: Vec<Cow<'a, Stmt>>,
}

/// Maps parsed keepalived statements to a pharos document.
pub(super) fn map(parsed: &Parsed, fix_typos: bool, pair: bool) -> (Doc, Mapper) {
    let mut m = Mapper {
        fix_typos,
        pair,
        top: Vec::new(),
        anchors: Vec::new(),
        router_id: None,
        default_interface: None,
        vrrp_version: None,
        garp_defaults: Vec::new(),
        lvs_flush: None,
        lvs_flush_onstop: None,
        timeouts: None,
        global_sync: None,
        scripts: HashMap::new(),
        instances: HashMap::new(),
        instance_order: Vec::new(),
        grouped: HashMap::new(),
        ifaces: Vec::new(),
        nat4: false,
        nat6: false,
        sync: None,
        routes: Vec::new(),
        check_sections: Vec::new(),
        vrrp_sections: Vec::new(),
        group_sections: Vec::new(),
        service_sections: Vec::new(),
        states: Vec::new(),
    };
    let mut roots = Roots::default();
    let mut top_notes: Notes = Vec::new();
    for s in &parsed.stmts {
        m.root(Cow::Borrowed(s), &mut roots, &mut top_notes);
    }
    for g in &roots.global {
        let mut notes = Vec::new();
        m.global_defs(g, &mut notes);
        top_notes.extend(notes);
    }
    for s in &roots.scripts {
        m.vrrp_script(s);
    }
    for s in &roots.instances {
        m.vrrp_instance(s);
    }
    m.global_sync_daemon();
    for s in &roots.groups {
        m.sync_group(s);
    }
    let groups = m.vs_groups(&roots.vsgroups, &mut top_notes);
    m.virtual_servers(&roots.services, &groups);
    for s in &roots.statics {
        m.statics(s, &mut top_notes);
    }

    // The parser's notes go to the section of the block they are in.
    let mut doc = m.assemble();
    let mut loose_top: Vec<Comment> = Vec::new();
    for (at, message) in &parsed.problems {
        let note = Note::new(*at, message.clone());
        let anchor = m
            .anchors
            .iter()
            .find(|(l, end, _)| l.file == at.file && (l.line..=*end).contains(&at.line))
            .map(|(_, _, p)| p.clone());
        let sec = anchor.and_then(|p| doc.sections.iter_mut().find(|s| s.path == p));
        match sec {
            Some(s) => s.tail.push(Comment::Note(note)),
            None => loose_top.push(Comment::Note(note)),
        }
    }
    // A section's closing notes in line order, its explanations after.
    for s in &mut doc.sections {
        s.tail.sort_by_key(|c| match c {
            Comment::Note(n) => (0, n.at.first().copied()),
            Comment::Text(_) => (1, None),
        });
    }
    doc.top.append(&mut m.top);
    doc.top
        .extend(top_notes.into_iter().map(|(_, n)| Comment::Note(n)));
    doc.top.extend(loose_top);
    // In line order (explanations first; the renderer keeps them apart).
    doc.top.sort_by_key(|c| match c {
        Comment::Text(_) => None,
        Comment::Note(n) => n.at.first().copied(),
    });
    (doc, m)
}

impl Mapper {
    /// Reports an unknown keyword. With `--fix-typos` and a keyword close
    /// to it, returns the statement spelled right.
    pub(super) fn unknown(&mut self, cx: Cx, s: &Stmt, notes: &mut Notes) -> Option<Stmt> {
        let kw = s.keyword();
        let known = known(cx);
        // The edit distance is dear; only keywords that can be within it
        // are given to it (see `may_be_close`).
        let plausible = kw.len() <= 40
            && kw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        let near = known.iter().copied().filter(|k| may_be_close(kw, k));
        let close = if plausible {
            suggest::closest(kw, near)
        } else {
            None
        };
        match close {
            Some(meant) if self.fix_typos => {
                push(
                    notes,
                    out_key(meant),
                    Note::new(
                        s.loc,
                        format!(
                            "unknown keyword `{kw}` imported as `{meant}` (--fix-typos); keepalived itself ignores it"
                        ),
                    ),
                );
                let mut fixed = s.clone();
                fixed.words[0] = meant.to_string();
                fixed.raw = match fixed.raw.trim_start().strip_prefix(kw) {
                    Some(r) => format!("{meant}{r}"),
                    None => fixed.raw,
                };
                Some(fixed)
            }
            Some(meant) => {
                push(
                    notes,
                    "",
                    Note::new(
                        s.loc,
                        format!(
                            "unknown keyword `{kw}`, did you mean `{meant}`? (keepalived ignores it; pass --fix-typos to import it as `{meant}`)"
                        ),
                    ),
                );
                None
            }
            None => {
                let what = if s.block.is_some() {
                    format!(
                        "unknown block `{}` (lines {}-{}) not imported",
                        emit::sanitize(&describe(s)),
                        s.loc.line,
                        s.end_line()
                    )
                } else {
                    format!("unknown keyword `{kw}` not imported")
                };
                push(
                    notes,
                    "",
                    Note::new(s.loc, format!("{what} (keepalived ignores it)")),
                );
                None
            }
        }
    }

    /// A keyword keepalived knows but pharos has nothing for.
    pub(super) fn unsupported(&self, s: &Stmt, notes: &mut Notes) {
        let what = if s.block.is_some() {
            format!("`{} {{ ... }}`", emit::sanitize(&describe(s)))
        } else {
            format!("`{}`", quote(s))
        };
        push(
            notes,
            "",
            Note::new(
                s.loc,
                format!("{what} not imported: {}", unsupported_reason(s.keyword())),
            ),
        );
    }

    pub(super) fn bad(&self, s: &Stmt, notes: &mut Notes, key: &str, why: impl AsRef<str>) {
        push(
            notes,
            key,
            Note::new(
                s.loc,
                format!("`{}` not imported: {}", quote(s), why.as_ref()),
            ),
        );
    }

    /// Declares an interface (once), in the order they are named.
    pub(super) fn iface(&mut self, name: &str) {
        if name != "lo" && !self.ifaces.iter().any(|i| i.name == name) {
            self.ifaces.push(Iface {
                name: name.to_string(),
                addresses: Vec::new(),
            });
        }
    }

    fn root<'a>(&mut self, s: Cow<'a, Stmt>, roots: &mut Roots<'a>, notes: &mut Notes) {
        match s.keyword() {
            "global_defs" => roots.global.push(s),
            "vrrp_script" => roots.scripts.push(s),
            "vrrp_instance" => roots.instances.push(s),
            "vrrp_sync_group" => roots.groups.push(s),
            "virtual_server_group" => roots.vsgroups.push(s),
            "virtual_server" => roots.services.push(s),
            "static_ipaddress" | "static_routes" => roots.statics.push(s),
            k if ROOT_KW.contains(&k) => self.unsupported(&s, notes),
            _ => {
                if let Some(fixed) = self.unknown(Cx::Root, &s, notes) {
                    self.root(Cow::Owned(fixed), roots, notes);
                }
            }
        }
    }

    // ------------------------------------------------------------ global_defs

    fn global_defs(&mut self, g: &Stmt, notes: &mut Notes) {
        for s in g.children() {
            self.global_kw(s, notes);
        }
    }

    fn global_kw(&mut self, s: &Stmt, notes: &mut Notes) {
        match s.keyword() {
            "router_id" => match s.arg(0) {
                Some(id) => self.router_id = Some((id.to_string(), s.loc)),
                None => self.bad(s, notes, "", "it names no router id"),
            },
            "vrrp_version" => match s.arg(0).and_then(|v| int(v, 2, 3)) {
                Some(v) => self.vrrp_version = Some(v as u8),
                None => self.bad(s, notes, "", "the VRRP version is 2 or 3"),
            },
            "default_interface" => match s.arg(0) {
                Some(i) if i.parse::<IfName>().is_ok() => {
                    self.default_interface = Some(i.to_string());
                }
                _ => self.bad(s, notes, "", "it is not an interface name"),
            },
            k @ ("vrrp_garp_master_delay"
            | "vrrp_garp_master_repeat"
            | "vrrp_garp_master_refresh"
            | "vrrp_garp_interval"
            | "vrrp_gna_interval") => {
                let which = match k {
                    "vrrp_garp_master_delay" => "garp_master_delay",
                    "vrrp_garp_master_repeat" => "garp_master_repeat",
                    "vrrp_garp_master_refresh" => "garp_master_refresh",
                    "vrrp_garp_interval" => "garp_interval",
                    _ => "gna_interval",
                };
                match s.arg(0) {
                    Some(v) => self.garp_defaults.push((which, v.to_string(), s.loc)),
                    None => self.bad(s, notes, "", "it has no value"),
                }
            }
            "lvs_sync_daemon" => self.global_sync = Some((s.clone(), Vec::new())),
            "lvs_flush" => self.lvs_flush = Some(s.loc),
            "lvs_flush_onstop" => self.lvs_flush_onstop = Some(s.loc),
            "lvs_timeouts" => self.lvs_timeouts(s, notes),
            k if GLOBAL_KW.contains(&k) => self.unsupported(s, notes),
            _ => {
                if let Some(fixed) = self.unknown(Cx::Global, s, notes) {
                    self.global_kw(&fixed, notes);
                }
            }
        }
    }

    fn lvs_timeouts(&mut self, s: &Stmt, notes: &mut Notes) {
        let mut fields = Vec::new();
        let mut args = s.args().iter();
        while let Some(k) = args.next() {
            let v = args.next().and_then(|v| int(v, 1, 86_400 * 31));
            match (k.as_str(), v) {
                ("tcp" | "tcpfin" | "udp", Some(v)) => {
                    fields.push((k.clone(), dur(Duration::from_secs(v as u64))));
                }
                _ => {
                    self.bad(
                        s,
                        notes,
                        "",
                        format!("`{k}` is not `tcp`, `tcpfin` or `udp` with a number of seconds"),
                    );
                    return;
                }
            }
        }
        if !fields.is_empty() {
            self.timeouts = Some((fields, s.loc));
        }
    }

    // ------------------------------------------------------------ vrrp_script

    fn vrrp_script(&mut self, s: &Stmt) {
        let mut notes = Vec::new();
        let Some(name) = s.arg(0).map(str::to_string) else {
            self.bad(s, &mut notes, "", "a vrrp_script needs a name");
            self.top
                .extend(notes.into_iter().map(|(_, n)| Comment::Note(n)));
            return;
        };
        let mut sec =
            Section::new(&["checks", name.as_str()]).with_comment("keepalived's vrrp_script");
        let mut cmd: Option<Vec<String>> = None;
        let mut interval = None;
        let mut timeout = None;
        let mut weight = 0i64;
        let mut rise = None;
        let mut fall = None;
        let mut stack: Vec<Cow<'_, Stmt>> = s.children().iter().rev().map(Cow::Borrowed).collect();
        while let Some(c) = stack.pop() {
            match c.keyword() {
                "script" => match command_words(&c) {
                    Ok((written, argv, _)) => match pharos_argv(&written, argv) {
                        Some((argv, why)) => {
                            if let Some(why) = why {
                                push(&mut notes, "command", Note::new(c.loc, why));
                            }
                            cmd = Some(argv);
                        }
                        None => self.bad(&c, &mut notes, "", "the script is empty"),
                    },
                    Err(e) => self.bad(&c, &mut notes, "", e),
                },
                "interval" => match c.arg(0).and_then(secs).filter(|d| !d.is_zero()) {
                    Some(d) => interval = Some(d),
                    None => self.bad(&c, &mut notes, "interval", "it is not a number of seconds"),
                },
                "timeout" => match c.arg(0).and_then(secs).filter(|d| !d.is_zero()) {
                    Some(d) => timeout = Some(d),
                    None => self.bad(&c, &mut notes, "timeout", "it is not a number of seconds"),
                },
                "weight" => {
                    match c.arg(0).and_then(|w| int(w, -254, 254)) {
                        Some(w) => weight = w,
                        None => self.bad(&c, &mut notes, "", "a weight is -254 to 254"),
                    }
                    if c.arg(1) == Some("reverse") {
                        push(
                            &mut notes,
                            "",
                            Note::new(
                                c.loc,
                                format!(
                                    "`reverse` not imported: {}",
                                    unsupported_reason("reverse")
                                ),
                            ),
                        );
                    }
                }
                "rise" => match c.arg(0).and_then(|v| int(v, 1, 1_000_000)) {
                    Some(v) => rise = Some(v),
                    None => self.bad(&c, &mut notes, "rise", "it is not a count of 1 or more"),
                },
                "fall" => match c.arg(0).and_then(|v| int(v, 1, 1_000_000)) {
                    Some(v) => fall = Some(v),
                    None => self.bad(&c, &mut notes, "fall", "it is not a count of 1 or more"),
                },
                "init_fail" => push(
                    &mut notes,
                    "",
                    Note::new(
                        c.loc,
                        "`init_fail` not imported: pharos takes a check as down until it first passes",
                    ),
                ),
                k if SCRIPT_KW.contains(&k) => self.unsupported(&c, &mut notes),
                _ => {
                    if let Some(fixed) = self.unknown(Cx::Script, &c, &mut notes) {
                        stack.push(Cow::Owned(fixed));
                    }
                }
            }
        }
        let why = if self.scripts.contains_key(&name) {
            Some("a vrrp_script of that name comes before it")
        } else if cmd.is_none() {
            Some("it has no `script`")
        } else {
            None
        };
        let (Some(argv), None) = (cmd, why) else {
            let mut all = vec![Comment::Note(Note::new(
                s.loc,
                format!("vrrp_script `{name}` not imported: {}", why.unwrap_or("")),
            ))];
            all.extend(notes.into_iter().map(|(_, n)| Comment::Note(n)));
            self.check_sections
                .push(Section::loose(&format!("checks.{name}"), all));
            self.anchors.push((
                s.loc,
                s.end_line(),
                vec!["#".into(), format!("checks.{name}")],
            ));
            return;
        };
        sec.line("type", string("exec"));
        sec.line_c("command", argv_value(&argv), "exit 0 = pass; no shell");
        match interval {
            Some(d) => sec.line("interval", dur(d)),
            None => sec.line_c(
                "interval",
                dur(Duration::from_secs(1)),
                "keepalived's default",
            ),
        }
        if let Some(t) = timeout {
            sec.line("timeout", dur(t));
        }
        sec.line_c("retries", "0", "rise/fall do the counting");
        if let Some(r) = rise {
            sec.line("rise", r.to_string());
        }
        if let Some(f) = fall {
            sec.line("fall", f.to_string());
        }
        if weight != 0 {
            sec.tail.push(Comment::Text(format!(
                "`weight {weight}` goes to each instance that tracks it"
            )));
        }
        sec.place(notes);
        self.anchors.push((s.loc, s.end_line(), sec.path.clone()));
        self.check_sections.push(sec);
        self.scripts.insert(name, ScriptInfo { weight });
    }

    // ------------------------------------------------------------ vrrp_instance

    fn vrrp_instance(&mut self, s: &Stmt) {
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
    fn instance_kw(&mut self, c: &Stmt, v: &mut Inst, notes: &mut Notes) -> Option<Stmt> {
        match c.keyword() {
            "state" => match c.arg(0) {
                Some(st @ ("MASTER" | "BACKUP")) => v.state = Some((st.to_string(), c.loc)),
                _ => self.bad(c, notes, "", "the state is MASTER or BACKUP"),
            },
            "interface" => match c.arg(0) {
                Some(i) if i.parse::<IfName>().is_ok() => v.interface = Some(i.to_string()),
                _ => self.bad(c, notes, "interface", "it is not a Linux interface name"),
            },
            "virtual_router_id" => match c.arg(0).and_then(|n| int(n, 1, 255)) {
                Some(n) => v.vrid = Some(n as u8),
                None => self.bad(c, notes, "", "a VRID is 1 to 255"),
            },
            "priority" => match c.arg(0).and_then(|n| int(n, 1, 255)) {
                Some(n) => v.priority = Some(n as u8),
                None => self.bad(c, notes, "priority", "a priority is 1 to 255"),
            },
            "version" => match c.arg(0).and_then(|n| int(n, 2, 3)) {
                Some(n) => v.version = Some((n as u8, c.loc)),
                None => self.bad(c, notes, "", "the VRRP version is 2 or 3"),
            },
            "native_ipv6" => v.native_ipv6 = true,
            "advert_int" => match c.arg(0).and_then(secs).filter(|d| !d.is_zero()) {
                Some(d) => v.advert = Some((d, c.loc)),
                None => self.bad(c, notes, "", "it is not a number of seconds"),
            },
            "nopreempt" => v.nopreempt = Some(c.loc),
            "preempt" => {}
            "accept" => {}
            "preempt_delay" => match c.arg(0).and_then(secs) {
                Some(d) => v.preempt_delay = Some((d, c.loc)),
                None => self.bad(c, notes, "", "it is not a number of seconds"),
            },
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
            "unicast_src_ip" => match c.arg(0).and_then(|a| a.parse::<IpAddr>().ok()) {
                Some(ip) => v.unicast_src = Some((ip, c.loc)),
                None => self.bad(c, notes, "", "it is not an IP address"),
            },
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
            "lvs_sync_daemon_interface" => match c.arg(0) {
                Some(i) if i.parse::<IfName>().is_ok() => v.lvs_sync = Some((i.to_string(), c.loc)),
                _ => self.bad(c, notes, "", "it is not a Linux interface name"),
            },
            k @ ("garp_master_delay"
            | "garp_master_repeat"
            | "garp_master_refresh"
            | "garp_interval"
            | "gna_interval") => match c.arg(0) {
                Some(val) => v.garp.push((garp_key(k), val.to_string(), c.loc)),
                None => self.bad(c, notes, "garp", "it has no value"),
            },
            k if INSTANCE_KW.contains(&k) => self.unsupported(c, notes),
            _ => return self.unknown(Cx::Instance, c, notes),
        }
        None
    }

    fn vip(&mut self, line: &Stmt, v: &mut Inst, notes: &mut Notes) {
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

    fn emit_instance(&mut self, s: &Stmt, name: &str, mut v: Inst, mut notes: Notes) {
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
        if let Some(d) = &vip_interface {
            sec.line_c("vip_interface", string(d), "keepalived's `dev`");
            self.iface(d);
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
    fn garp(
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
            let (field, value) = match k {
                "garp_master_repeat" => match int(&val, 1, 1_000_000) {
                    Some(n) => ("count", n.to_string()),
                    None => {
                        push(
                            notes,
                            "garp",
                            Note::new(
                                loc,
                                format!("`{k} {val}` not imported: it is not a count of 1 or more"),
                            ),
                        );
                        continue;
                    }
                },
                "garp_master_delay" => match secs(&val) {
                    Some(d) => ("delay", dur(d)),
                    None => {
                        push(
                            notes,
                            "garp",
                            Note::new(
                                loc,
                                format!("`{k} {val}` not imported: it is not a number of seconds"),
                            ),
                        );
                        continue;
                    }
                },
                "garp_master_refresh" => match secs(&val) {
                    Some(d) if d.is_zero() => continue,
                    Some(d) => ("refresh", dur(d)),
                    None => {
                        push(
                            notes,
                            "garp",
                            Note::new(
                                loc,
                                format!("`{k} {val}` not imported: it is not a number of seconds"),
                            ),
                        );
                        continue;
                    }
                },
                _ => match secs(&val) {
                    Some(d) => ("interval", dur(d)),
                    None => {
                        push(
                            notes,
                            "garp",
                            Note::new(
                                loc,
                                format!("`{k} {val}` not imported: it is not a number of seconds"),
                            ),
                        );
                        continue;
                    }
                },
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

    fn sync_section(
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
    fn global_sync_daemon(&mut self) {
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

    // ------------------------------------------------------------ vrrp_sync_group

    fn sync_group(&mut self, s: &Stmt) {
        let mut notes: Notes = Vec::new();
        let Some(name) = s.arg(0).map(str::to_string) else {
            self.bad(s, &mut notes, "", "a vrrp_sync_group needs a name");
            self.top
                .extend(notes.into_iter().map(|(_, n)| Comment::Note(n)));
            return;
        };
        let mut members: Vec<String> = Vec::new();
        let mut notify: [Option<Vec<String>>; 5] = Default::default();
        let mut stack: Vec<Cow<'_, Stmt>> = s.children().iter().rev().map(Cow::Borrowed).collect();
        while let Some(c) = stack.pop() {
            match c.keyword() {
                "group" => {
                    for m in c.children() {
                        for w in &m.words {
                            if !self.instances.contains_key(w) {
                                push(
                                    &mut notes,
                                    "members",
                                    Note::new(
                                        m.loc,
                                        format!(
                                            "member `{w}` not imported: there is no imported vrrp_instance `{w}`"
                                        ),
                                    ),
                                );
                            } else if let Some(other) = self.grouped.get(w) {
                                push(
                                    &mut notes,
                                    "members",
                                    Note::new(
                                        m.loc,
                                        format!(
                                            "member `{w}` not imported: it is in sync group `{other}` already"
                                        ),
                                    ),
                                );
                            } else if !members.contains(w) {
                                members.push(w.clone());
                            }
                        }
                    }
                }
                k @ ("notify_master" | "notify_backup" | "notify_fault" | "notify_stop"
                | "notify") => {
                    let slot = notify_slot(k);
                    match command_words(&c)
                        .ok()
                        .and_then(|(w, a, _)| pharos_argv(&w, a))
                    {
                        Some((argv, why)) => {
                            if let Some(why) = why {
                                push(&mut notes, "notify", Note::new(c.loc, why));
                            }
                            if k == "notify" {
                                push(
                                    &mut notes,
                                    "notify",
                                    Note::new(
                                        c.loc,
                                        "keepalived appends `GROUP NAME STATE` to the `notify` command's arguments; pharos passes them in the environment instead (PHAROS_GROUP, PHAROS_STATE)",
                                    ),
                                );
                            }
                            notify[slot] = Some(argv);
                        }
                        None => self.bad(
                            &c,
                            &mut notes,
                            "",
                            "the command is empty or has an open quote",
                        ),
                    }
                }
                k if GROUP_KW.contains(&k) => self.unsupported(&c, &mut notes),
                _ => {
                    if let Some(fixed) = self.unknown(Cx::Group, &c, &mut notes) {
                        stack.push(Cow::Owned(fixed));
                    }
                }
            }
        }
        let anchor = format!("sync_groups.{name}");
        if members.is_empty()
            || self
                .group_sections
                .iter()
                .any(|g| g.path.get(1) == Some(&name))
        {
            let why = if members.is_empty() {
                "none of its members is an imported vrrp_instance"
            } else {
                "a sync group of that name comes before it"
            };
            let mut all = vec![Comment::Note(Note::new(
                s.loc,
                format!("vrrp_sync_group `{name}` not imported: {why}"),
            ))];
            all.extend(notes.into_iter().map(|(_, n)| Comment::Note(n)));
            self.group_sections.push(Section::loose(&anchor, all));
            self.anchors
                .push((s.loc, s.end_line(), vec!["#".into(), anchor]));
            return;
        }
        for m in &members {
            self.grouped.insert(m.clone(), name.clone());
        }
        let mut sec = Section::new(&["sync_groups", name.as_str()]);
        sec.line(
            "members",
            array(&members.iter().map(|m| string(m)).collect::<Vec<_>>()),
        );
        let pairs: Vec<(String, String)> = notify
            .iter()
            .enumerate()
            .filter_map(|(i, a)| {
                a.as_ref()
                    .map(|a| (NOTIFY_KEYS[i].to_string(), argv_value(a)))
            })
            .collect();
        for (k, v) in pairs {
            sec.line(format!("notify.{k}"), v);
        }
        sec.place(notes);
        self.anchors.push((s.loc, s.end_line(), sec.path.clone()));
        self.group_sections.push(sec);
    }

    // ------------------------------------------------------------ static_*

    fn statics(&mut self, s: &Stmt, top: &mut Notes) {
        for line in s.children() {
            if s.keyword() == "static_ipaddress" {
                self.static_address(line, top);
            } else {
                self.static_route(line, top);
            }
        }
    }

    fn static_address(&mut self, line: &Stmt, top: &mut Notes) {
        let addr = line.keyword().parse::<VirtualAddress>().ok();
        let mut dev = None;
        let mut extra = Vec::new();
        let mut args = line.args().iter();
        while let Some(a) = args.next() {
            match a.as_str() {
                "dev" => dev = args.next().filter(|d| d.parse::<IfName>().is_ok()).cloned(),
                other => extra.push(other.to_string()),
            }
        }
        match (addr, dev) {
            (Some(a), Some(d)) => {
                if !extra.is_empty() {
                    push(
                        top,
                        "",
                        Note::new(
                            line.loc,
                            format!(
                                "`{}` of static address {a} not imported: pharos adds an address with its prefix length only",
                                emit::sanitize(&extra.join(" "))
                            ),
                        ),
                    );
                }
                self.iface(&d);
                if let Some(i) = self.ifaces.iter_mut().find(|i| i.name == d)
                    && !i.addresses.contains(&a.to_string())
                {
                    i.addresses.push(a.to_string());
                }
            }
            _ => self.bad(
                line,
                top,
                "",
                "a static address is `ADDRESS/PREFIX dev INTERFACE` here",
            ),
        }
    }

    fn static_route(&mut self, line: &Stmt, top: &mut Notes) {
        let to = line.keyword();
        let target = if to == "default" || to == "0.0.0.0/0" || to == "::/0" {
            Some("default".to_string())
        } else {
            to.parse::<VirtualAddress>().ok().map(|a| a.to_string())
        };
        let Some(target) = target else {
            return self.bad(line, top, "", "it is not a destination prefix");
        };
        let mut fields: Vec<(String, String)> = vec![("to".into(), string(&target))];
        let mut args = line.args().iter();
        while let Some(a) = args.next() {
            let v = args.next();
            let ok = match (a.as_str(), v) {
                ("via" | "gw" | "src", Some(v)) if v.parse::<IpAddr>().is_ok() => {
                    let k = if a == "src" { "src" } else { "via" };
                    fields.push((k.into(), string(v)));
                    true
                }
                ("dev" | "oif", Some(v)) if v.parse::<IfName>().is_ok() => {
                    self.iface(v);
                    fields.push(("dev".into(), string(v)));
                    true
                }
                ("metric" | "table", Some(v)) if int(v, 0, u32::MAX.into()).is_some() => {
                    fields.push((a.clone(), v.clone()));
                    true
                }
                _ => false,
            };
            if !ok {
                return self.bad(
                    line,
                    top,
                    "",
                    format!("`{a}` is not a route setting pharos has"),
                );
            }
        }
        if !fields.iter().any(|(k, _)| k == "via" || k == "dev") {
            return self.bad(line, top, "", "it has neither `via` nor `dev`");
        }
        let base = if target == "default" {
            "default".to_string()
        } else {
            target.replace(['.', ':', '/'], "-")
        };
        let mut name = base.clone();
        let mut n = 2;
        while self.routes.iter().any(|r| r.path.get(1) == Some(&name)) {
            name = format!("{base}-{n}");
            n += 1;
        }
        let mut sec =
            Section::new(&["routes", name.as_str()]).with_comment("keepalived's static_routes");
        for (k, v) in fields {
            sec.line(k, v);
        }
        self.routes.push(sec);
    }

    // ------------------------------------------------------------ assembly

    fn assemble(&mut self) -> Doc {
        let mut doc = Doc::default();
        if let Some((id, loc)) = &self.router_id
            && !self.pair
        {
            self.top.push(Comment::Text(format!(
                "keepalived `router_id {id}` (line {}) has no pharos key; importing both",
                loc.line
            )));
            self.top.push(Comment::Text(
                "directors' files together gives a [nodes] table each, matched by it.".into(),
            ));
        }
        if self.nat4 || self.nat6 {
            let mut sys = Section::new(&["system"]);
            sys.line_c(
                "ip_forward",
                "true",
                "NAT routes the replies back through the director",
            );
            if self.nat6 {
                sys.line_c("ipv6_forward", "true", "the same for the IPv6 NAT services");
            }
            doc.sections.push(sys);
        }
        for i in &self.ifaces {
            let mut sec = Section::new(&["interfaces", i.name.as_str()]);
            if i.addresses.is_empty() {
                sec.line_c("up", "true", "its addresses stay as the box has them");
            } else {
                sec.line_c(
                    "addresses",
                    array(&i.addresses.iter().map(|a| string(a)).collect::<Vec<_>>()),
                    "keepalived's static_ipaddress",
                );
            }
            doc.sections.push(sec);
        }
        doc.sections.append(&mut self.routes);
        doc.sections.append(&mut self.check_sections);
        doc.sections.append(&mut self.vrrp_sections);
        doc.sections.append(&mut self.group_sections);
        let mut ipvs = Section::new(&["ipvs"]);
        if let Some(loc) = self.lvs_flush {
            ipvs.line_c(
                "exclusive",
                "true",
                "keepalived's lvs_flush: the table holds only what this file says",
            );
            let _ = loc;
        }
        if self.lvs_flush_onstop.is_some() {
            ipvs.line_c(
                "on_shutdown",
                string("flush"),
                "keepalived's lvs_flush_onstop",
            );
        }
        if let Some((fields, _)) = &self.timeouts {
            ipvs.line_c("timeouts", inline(fields), "keepalived's lvs_timeouts");
        }
        if !ipvs.lines.is_empty() {
            doc.sections.push(ipvs);
        }
        if let Some((mut sec, notes)) = self.sync.take() {
            sec.place(notes);
            doc.sections.push(sec);
        }
        doc.sections.append(&mut self.service_sections);
        doc
    }
}

/// A vrrp_instance as read, before it is checked and written.
#[derive(Default)]
struct Inst {
    state: Option<(String, Loc)>,
    interface: Option<String>,
    vrid: Option<u8>,
    priority: Option<u8>,
    version: Option<(u8, Loc)>,
    native_ipv6: bool,
    advert: Option<(Duration, Loc)>,
    nopreempt: Option<Loc>,
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

const NOTIFY_KEYS: [&str; 5] = ["master", "backup", "fault", "stop", "any"];

fn notify_slot(kw: &str) -> usize {
    match kw {
        "notify_master" => 0,
        "notify_backup" => 1,
        "notify_fault" => 2,
        "notify_stop" => 3,
        _ => 4,
    }
}

fn garp_key(kw: &str) -> &'static str {
    match kw {
        "garp_master_delay" => "garp_master_delay",
        "garp_master_repeat" => "garp_master_repeat",
        "garp_master_refresh" => "garp_master_refresh",
        "garp_interval" => "garp_interval",
        _ => "gna_interval",
    }
}

/// `NAME [weight N [reverse]]` in track_interface / track_script.
fn track_weight(t: &Stmt) -> Result<(Option<i64>, bool), String> {
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
fn advert(d: Duration, version: u8) -> (Duration, Option<String>) {
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

/// Whether `suggest::closest` could find `a` and `b` alike (similarity
/// 0.7 or more), by a bound that is cheap: an edit changes at most one
/// character of the multiset and a transposition none, so the distance is
/// at least the longer length less the characters the two share. Both are
/// ASCII here; compared as `suggest` does, ignoring case and `-`/`_`.
fn may_be_close(a: &str, b: &str) -> bool {
    let norm = |c: u8| match c.to_ascii_lowercase() {
        b'-' => b'_',
        c => c & 0x7f,
    };
    let squashed_a = a.bytes().map(norm).filter(|&c| c != b'_');
    if squashed_a.eq(b.bytes().map(norm).filter(|&c| c != b'_')) {
        return true;
    }
    let mut count = [0i32; 128];
    for c in a.bytes() {
        count[usize::from(norm(c))] += 1;
    }
    let mut shared = 0;
    for c in b.bytes() {
        let slot = &mut count[usize::from(norm(c))];
        if *slot > 0 {
            *slot -= 1;
            shared += 1;
        }
    }
    let longer = a.len().max(b.len());
    let least = longer - shared;
    // 1 - least/longer >= 0.7, in integers.
    10 * least <= 3 * longer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_read_as_keepalived_reads_them() {
        assert_eq!(secs("6"), Some(Duration::from_secs(6)));
        assert_eq!(secs("0.5"), Some(Duration::from_millis(500)));
        assert_eq!(secs("1.25"), Some(Duration::from_millis(1250)));
        assert_eq!(secs("2."), Some(Duration::from_secs(2)));
        assert_eq!(secs("0.0005"), Some(Duration::from_millis(1)));
        for bad in ["", "-1", "1e3", "a", ".", "1.2.3", "99999999999999999999"] {
            assert_eq!(secs(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_cheap_bound_never_hides_a_suggestion() {
        let words = [
            "no_premmpt",
            "treck_interface",
            "virtual_route_id",
            "authenication",
            "lvs_sync_daemon_inteface",
            "vrrp_sripts",
            "Priority",
            "lb-algo",
            "weigth",
            "x",
            "zzzz",
            "statee",
            "tcp_check",
            "vrrpinstance",
        ];
        for cx in [Cx::Root, Cx::Global, Cx::Instance, Cx::Vs, Cx::Rs, Cx::Http] {
            let known = known(cx);
            for w in words {
                let all = suggest::closest(w, known.iter().copied());
                let near =
                    suggest::closest(w, known.iter().copied().filter(|k| may_be_close(w, k)));
                assert_eq!(all, near, "{w} in {cx:?}");
            }
        }
    }

    #[test]
    fn advert_intervals_fit_the_version() {
        assert_eq!(
            advert(Duration::from_millis(500), 2).0,
            Duration::from_secs(1)
        );
        assert!(advert(Duration::from_millis(500), 2).1.is_some());
        assert_eq!(
            advert(Duration::from_millis(500), 3),
            (Duration::from_millis(500), None)
        );
        assert_eq!(
            advert(Duration::from_secs(1), 2),
            (Duration::from_secs(1), None)
        );
    }

    #[test]
    fn commands_split_and_get_an_absolute_program() {
        let s = |raw: &str| Stmt {
            loc: Loc { file: 0, line: 1 },
            words: parse::split_words(raw),
            raw: raw.into(),
            block: None,
        };
        let (w, argv, extra) = command_words(&s("notify_master \"/x/n.sh master\" root")).unwrap();
        assert_eq!(
            (w.as_str(), argv.len(), extra),
            ("/x/n.sh master", 2, vec!["root".to_string()])
        );
        let (w, argv, _) = command_words(&s("script killall -0 haproxy")).unwrap();
        let (argv, why) = pharos_argv(&w, argv).unwrap();
        assert_eq!(argv, ["/usr/bin/env", "killall", "-0", "haproxy"]);
        assert!(why.unwrap().contains("PATH"));
        let (w, argv, _) = command_words(&s("script \"curl -s x | grep ok\"")).unwrap();
        let (argv, _) = pharos_argv(&w, argv).unwrap();
        assert_eq!(argv, ["/bin/sh", "-c", "curl -s x | grep ok"]);
    }
}

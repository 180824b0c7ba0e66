//! keepalived's keywords by the block they are read in: which ones pharos
//! maps, which it knows but cannot carry over (and why), and what a
//! misspelt one is compared with. Read by the mapper (`map.rs`, `lvs.rs`)
//! and the pair import; talks to nobody.

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

pub(super) const GLOBAL_KW: &[&str] = &[
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

pub(super) const SCRIPT_KW: &[&str] = &[
    "script",
    "interval",
    "timeout",
    "weight",
    "rise",
    "fall",
    "user",
    "init_fail",
];

pub(super) const GROUP_KW: &[&str] = &[
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

pub(super) const INSTANCE_KW: &[&str] = &[
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

pub(super) const AUTH_KW: &[&str] = &["auth_type", "auth_pass"];

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

pub(super) const CHECK_COMMON: &[&str] = &[
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
pub(super) fn unsupported_reason(kw: &str) -> &'static str {
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
pub(super) fn out_key(kw: &str) -> &'static str {
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

//! Did-you-mean hints for unknown keys and values.
//!
//! Two sources: the keys that are valid at that place (catches `authenication`
//! for `authentication`), and keepalived's keywords for the same setting
//! (catches `virtual_router_id`, and keepalived's own typos of it such as
//! `virtual_route_id`, and names the pharos key). keepalived runs on with a
//! misspelt keyword; pharos says what was meant.

use super::tree::Path;

/// keepalived keyword → what pharos calls it, per pharos table type (the
/// serde struct name). The right side is shown to the user verbatim.
fn keepalived_keywords(table: &str) -> &'static [(&'static str, &'static str)] {
    match table {
        "VrrpInstance" => &[
            ("virtual_router_id", "vrid"),
            ("advert_int", "advert_interval"),
            ("nopreempt", "preempt = false"),
            ("preempt_delay", "preempt_delay"),
            ("authentication", "authentication"),
            (
                "auth_type",
                "authentication = { type = \"pass\", password = \"...\" }",
            ),
            (
                "auth_pass",
                "authentication = { type = \"pass\", password = \"...\" }",
            ),
            ("virtual_ipaddress", "virtual_addresses"),
            ("virtual_ipaddress_excluded", "virtual_addresses"),
            ("unicast_src_ip", "unicast_source"),
            ("unicast_peer", "unicast_peers"),
            ("track_interface", "track.interfaces"),
            ("track_script", "track.checks"),
            ("notify_master", "notify.master"),
            ("notify_backup", "notify.backup"),
            ("notify_fault", "notify.fault"),
            ("notify_stop", "notify.stop"),
            ("notify", "notify.any"),
            ("garp_master_delay", "garp.delay"),
            ("garp_master_repeat", "garp.count"),
            ("garp_master_refresh", "garp.refresh"),
            ("use_vmac", "virtual_mac = true"),
            ("lvs_sync_daemon_interface", "[ipvs.sync] interface"),
            (
                "state",
                "priority (pharos elects by priority; drop `state`)",
            ),
        ],
        "Service" => &[
            ("lb_algo", "scheduler"),
            ("lvs_sched", "scheduler"),
            ("lb_kind", "forwarding"),
            ("lvs_method", "forwarding"),
            ("persistence_timeout", "persistence"),
            ("persistence_granularity", "persistence_netmask"),
            ("delay_loop", "check.interval"),
            ("real_server", "real_servers"),
            ("ops", "one_packet = true"),
            ("quorum_up", "vrrp tracking of this service"),
            ("virtualhost", "check.host"),
        ],
        "Check" => &[
            ("connect_timeout", "timeout"),
            ("nb_get_retry", "retries"),
            ("retry", "retries"),
            ("delay_before_retry", "retry_delay"),
            ("connect_port", "port"),
            ("bindto", "bind_to"),
            ("delay_loop", "interval"),
            ("status_code", "status"),
            ("digest", "md5"),
            ("misc_path", "command"),
            ("misc_timeout", "timeout"),
            ("url", "path"),
        ],
        "SyncGroup" => &[("group", "members")],
        _ => &[],
    }
}

/// Similarity in 0..=1; keys differing only in case or `-`/`_` count as equal.
fn similarity(a: &str, b: &str) -> f64 {
    let norm = |s: &str| s.to_ascii_lowercase().replace('-', "_");
    let (a, b) = (norm(a), norm(b));
    if a == b {
        return 1.0;
    }
    let squash = |s: &str| s.replace('_', "");
    if squash(&a) == squash(&b) {
        return 0.95;
    }
    strsim::normalized_damerau_levenshtein(&a, &b)
}

const THRESHOLD: f64 = 0.7;

/// The best candidate by similarity, if any is close enough.
pub fn closest<'c>(word: &str, candidates: impl IntoIterator<Item = &'c str>) -> Option<&'c str> {
    candidates
        .into_iter()
        .map(|c| (similarity(word, c), c))
        .filter(|(s, _)| *s >= THRESHOLD)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// `a`, `b` or `c`.
pub fn list(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("`{s}`")).collect();
    match quoted.len() {
        0 => String::new(),
        1 => quoted[0].clone(),
        n => format!("{} or {}", quoted[..n - 1].join(", "), quoted[n - 1]),
    }
}

/// Message (with `\nhelp:`) for a key that `table` does not have.
pub fn unknown_key(table: &str, key: &str, fields: &[&str], at: &Path) -> String {
    let place = if at.is_root() {
        "at the top level".to_string()
    } else {
        format!("in `{at}`")
    };
    let head = format!("unknown key `{key}` {place}");
    let own = fields
        .iter()
        .copied()
        .map(|f| (similarity(key, f), f))
        .fold(None, best);
    let kw = keepalived_keywords(table)
        .iter()
        .map(|&(k, p)| (similarity(key, k), (k, p)))
        .fold(None, best);
    let help = match (own, kw) {
        // An exact keepalived keyword: say so, whatever else is close.
        (_, Some((s, (k, p)))) if s >= 0.999 => {
            format!("`{k}` is keepalived's name; pharos calls it `{p}`")
        }
        (Some((so, f)), Some((sk, _))) if so >= sk => format!("did you mean `{f}`?"),
        (_, Some((_, (k, p)))) => {
            format!("did you mean keepalived's `{k}`? pharos calls it `{p}`")
        }
        (Some((_, f)), None) => format!("did you mean `{f}`?"),
        (None, None) if fields.is_empty() => "this table takes no keys".to_string(),
        (None, None) => format!("the keys allowed here are {}", list(fields)),
    };
    format!("{head}\nhelp: {help}")
}

fn best<T: Copy>(acc: Option<(f64, T)>, (s, v): (f64, T)) -> Option<(f64, T)> {
    if s < THRESHOLD {
        return acc;
    }
    match acc {
        Some((sa, _)) if sa >= s => acc,
        _ => Some((s, v)),
    }
}

/// Message (with `\nhelp:`) for a string that is not one of `variants`.
pub fn unknown_value(what: &str, value: &str, variants: &[&str]) -> String {
    let noun = human_type_name(what);
    let help = match closest(value, variants.iter().copied()) {
        Some(v) => format!("did you mean `{v}`? (one of {})", list(variants)),
        None => format!("use one of {}", list(variants)),
    };
    format!("unknown {noun} `{value}`\nhelp: {help}")
}

/// `CheckType` → `check type`.
fn human_type_name(name: &str) -> String {
    let mut out = String::new();
    for (i, ch) in name.chars().enumerate() {
        if ch.is_uppercase() && i > 0 {
            out.push(' ');
        }
        out.push(ch.to_ascii_lowercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const VRRP_FIELDS: &[&str] = &[
        "interface",
        "vrid",
        "priority",
        "preempt",
        "authentication",
        "track",
    ];

    fn help(table: &str, key: &str, fields: &[&str]) -> String {
        unknown_key(table, key, fields, &Path::root().k("vrrp").k("VI_1"))
            .split_once("\nhelp: ")
            .unwrap()
            .1
            .to_string()
    }

    #[test]
    fn typos_of_own_keys_are_suggested() {
        assert_eq!(
            help("VrrpInstance", "authenication", VRRP_FIELDS),
            "did you mean `authentication`?"
        );
        assert_eq!(
            help("VrrpInstance", "prority", VRRP_FIELDS),
            "did you mean `priority`?"
        );
    }

    #[test]
    fn keepalived_keywords_and_their_typos_name_the_pharos_key() {
        assert_eq!(
            help("VrrpInstance", "virtual_router_id", VRRP_FIELDS),
            "`virtual_router_id` is keepalived's name; pharos calls it `vrid`"
        );
        assert_eq!(
            help("VrrpInstance", "virtual_route_id", VRRP_FIELDS),
            "did you mean keepalived's `virtual_router_id`? pharos calls it `vrid`"
        );
        assert_eq!(
            help("VrrpInstance", "no_premmpt", VRRP_FIELDS),
            "did you mean keepalived's `nopreempt`? pharos calls it `preempt = false`"
        );
        assert_eq!(
            help("VrrpInstance", "treck_interface", VRRP_FIELDS),
            "did you mean keepalived's `track_interface`? pharos calls it `track.interfaces`"
        );
    }

    #[test]
    fn unrelated_keys_list_what_is_allowed() {
        assert_eq!(
            help("Other", "zzzzzz", &["a", "b"]),
            "the keys allowed here are `a` or `b`"
        );
    }

    #[test]
    fn unknown_values_get_the_closest_variant() {
        assert_eq!(
            unknown_value("Scheduler", "wrrr", &["rr", "wrr", "lc"]),
            "unknown scheduler `wrrr`\nhelp: did you mean `wrr`? (one of `rr`, `wrr` or `lc`)"
        );
    }
}

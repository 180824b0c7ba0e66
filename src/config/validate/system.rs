//! Rules of `[system]`: per-interface ARP and rp_filter settings in range,
//! sysctl names that are names, kernel module names without paths, an NTP
//! client with servers and a poll RFC 4330 allows.
//!
//! Talks to: `ctx` (reporting) only.

use super::ctx::Ctx;
use crate::config::model::Config;
use crate::config::types::IfName;
use crate::path;

pub(super) fn system(cfg: &Config, ctx: &mut Ctx<'_>) {
    for (name, conf) in &cfg.system.conf {
        let p = path!["system", "conf", name];
        if name != "all" && name != "default" && name.parse::<IfName>().is_err() {
            ctx.error_key(
                &p,
                format!("`{name}` is not an interface name"),
                "use an interface name, `all` or `default`",
            );
        }
        let ranges: [(&str, Option<u8>, u8, &str); 3] = [
            (
                "arp_ignore",
                conf.arp_ignore,
                8,
                "arp_ignore is 0 to 8; LVS-DR real servers use 1",
            ),
            (
                "arp_announce",
                conf.arp_announce,
                2,
                "arp_announce is 0 to 2; LVS-DR real servers use 2",
            ),
            (
                "rp_filter",
                conf.rp_filter,
                2,
                "rp_filter is 0 (off), 1 (strict) or 2 (loose)",
            ),
        ];
        for (key, value, max, help) in ranges {
            if let Some(v) = value
                && v > max
            {
                ctx.error(&p.k(key), format!("{key} {v} is out of range"), help);
            }
        }
    }
    for key in cfg.system.sysctl.keys() {
        let valid = !key.is_empty()
            && !key.starts_with('.')
            && !key.ends_with('.')
            && !key.contains("..")
            && key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'/'));
        if !valid {
            ctx.error_key(
                &path!["system", "sysctl", key],
                format!("`{key}` is not a sysctl name"),
                "write the dotted name, like `net.ipv4.vs.expire_nodest_conn`",
            );
        }
    }
    for (i, m) in cfg.system.modules.iter().enumerate() {
        if m.is_empty()
            || !m
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            ctx.error(
                &path!["system", "modules"].i(i),
                format!("`{m}` is not a kernel module name"),
                "write the module's name, like `ip_vs_wrr`, without a path or `.ko`",
            );
        }
    }
    if let Some(ntp) = &cfg.system.ntp {
        ntp_rules(ntp, ctx);
    }
}

fn ntp_rules(ntp: &crate::config::model::Ntp, ctx: &mut Ctx<'_>) {
    let p = path!["system", "ntp"];
    // A server that failed typing is left out of the list: not empty then.
    if ntp.servers.is_empty() && !ctx.is_broken(&p.k("servers")) {
        ctx.error(
            &p.k("servers"),
            "`system.ntp` has no servers",
            "list at least one, like `servers = [\"10.0.0.1\"]`, or remove `ntp` to leave the clock alone",
        );
    }
    for (i, s) in ntp.servers.iter().enumerate() {
        if ntp.servers[..i].contains(s) {
            ctx.error(
                &p.k("servers").i(i),
                format!("NTP server {s} is listed twice"),
                "list each server once",
            );
        }
    }
    // RFC 4330 §10: "A client MUST NOT under any conditions use a poll
    // interval less than 15 seconds."
    if ntp.poll.0 < std::time::Duration::from_secs(15) {
        ctx.error(
            &p.k("poll"),
            format!(
                "an NTP poll of {} is too often",
                humantime::format_duration(ntp.poll.0)
            ),
            "RFC 4330 forbids polling more often than every 15 s; the default is `64s`",
        );
    }
    // Linux's adjtime(3) slews at most ±2145 s, and slewing a minute at
    // 0.05% takes more than a day: past 600 s (ntpd -x's) a step it is.
    if ntp.step_threshold.is_zero() || ntp.step_threshold.0 > std::time::Duration::from_secs(600) {
        ctx.error(
            &p.k("step_threshold"),
            format!(
                "an NTP step threshold of {} is out of range",
                humantime::format_duration(ntp.step_threshold.0)
            ),
            "write a duration from `1ms` to `600s`; the default is `128ms`",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::one_error_each;

    /// Each snippet yields exactly one error, whose message contains the text.
    #[test]
    fn each_system_rule_reports_its_own_error() {
        one_error_each(&[
            (
                "[system.conf.all]\narp_ignore = 9\n",
                "arp_ignore 9 is out of range",
            ),
            ("[system.sysctl]\n\"net..ipv4\" = 1\n", "not a sysctl name"),
            ("[system.ntp]\nservers = []\n", "has no servers"),
            (
                "[system.ntp]\nservers = [\"10.0.0.1\", \"10.0.0.1\"]\n",
                "listed twice",
            ),
            (
                "[system.ntp]\nservers = [\"10.0.0.1\"]\npoll = \"10s\"\n",
                "too often",
            ),
            (
                "[system.ntp]\nservers = [\"10.0.0.1\"]\nstep_threshold = \"0s\"\n",
                "out of range",
            ),
            ("[system.ntp]\nservers = [\"ntp.example\"]\n", "ntp.example"),
        ]);
    }
}

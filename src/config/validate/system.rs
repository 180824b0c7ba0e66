//! Rules of `[system]`: per-interface ARP and rp_filter settings in range,
//! sysctl names that are names, kernel module names without paths.
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
        ]);
    }
}

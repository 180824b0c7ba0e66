//! Rules of `[realserver]`: the DR and TUN real-server roles have VIPs, a
//! VIP is in one role only, TUN's rp_filter lets decapsulated packets in, and
//! the ARP interfaces are declared.
//!
//! Talks to: `ctx` (reporting, declared-interface warnings).

use super::ctx::Ctx;
use crate::config::model::Config;
use crate::path;

pub(super) fn realserver(cfg: &Config, ctx: &mut Ctx<'_>) {
    let Some(rs) = &cfg.realserver else { return };
    if ctx.is_broken(&path!["realserver"]) {
        return;
    }
    for (role, ifs) in [
        ("dr", rs.dr.as_ref().map(|d| &d.arp_interfaces)),
        ("tun", rs.tun.as_ref().map(|t| &t.arp_interfaces)),
    ] {
        for (i, n) in ifs.into_iter().flatten().enumerate() {
            ctx.declared(
                cfg,
                &path!["realserver", role, "arp_interfaces"].i(i),
                "interface",
                n,
            );
        }
    }
    if let Some(dr) = &rs.dr
        && dr.vips.is_empty()
    {
        ctx.error(
            &path!["realserver", "dr", "vips"],
            "no VIPs for the DR real-server role",
            "list the VIPs of the services this server is behind",
        );
    }
    if let Some(tun) = &rs.tun {
        if tun.vips.is_empty() {
            ctx.error(
                &path!["realserver", "tun", "vips"],
                "no VIPs for the TUN real-server role",
                "list the VIPs of the services this server is behind",
            );
        }
        if tun.rp_filter == 1 || tun.rp_filter > 2 {
            ctx.error(
                &path!["realserver", "tun", "rp_filter"],
                format!(
                    "rp_filter {} drops the decapsulated packets of LVS-TUN",
                    tun.rp_filter
                ),
                "use 0 (off) or 2 (loose)",
            );
        }
        if let Some(dr) = &rs.dr {
            for (i, v) in tun.vips.iter().enumerate() {
                if dr.vips.contains(v) {
                    ctx.error(
                        &path!["realserver", "tun", "vips"].i(i),
                        format!("VIP {v} is in both the DR and the TUN role"),
                        "a VIP is reached one way: keep it in one list",
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::one_error_each;

    /// Each snippet yields exactly one error, whose message contains the text.
    #[test]
    fn each_realserver_rule_reports_its_own_error() {
        one_error_each(&[
            (
                "[realserver.tun]\nvips = [\"10.0.0.1\"]\nrp_filter = 1\n",
                "drops the decapsulated packets",
            ),
            (
                "[realserver.dr]\nvips = [\"10.0.0.1\"]\n[realserver.tun]\nvips = [\"10.0.0.1\"]\n",
                "in both the DR and the TUN role",
            ),
        ]);
    }
}

//! `global_defs` to `[system]`, `[ipvs]` and the director's name: the
//! keywords pharos has, notes for the rest. Part of the mapper (`map.rs`).

use super::*;

impl Mapper {
    // ------------------------------------------------------------ global_defs

    pub(super) fn global_defs(&mut self, g: &Stmt, notes: &mut Notes) {
        for s in g.children() {
            self.global_kw(s, notes);
        }
    }

    pub(super) fn global_kw(&mut self, s: &Stmt, notes: &mut Notes) {
        match s.keyword() {
            "router_id" => {
                if let Some(id) = self.parsed(s, notes, "", word, "it names no router id") {
                    self.router_id = Some((id, s.loc));
                }
            }
            "vrrp_version" => {
                if let Some(v) = self.parsed(s, notes, "", vrrp_version, VRRP_VERSION) {
                    self.vrrp_version = Some(v);
                }
            }
            "default_interface" => {
                let why = "it is not an interface name";
                if let Some(i) = self.parsed(s, notes, "", ifname, why) {
                    self.default_interface = Some(i);
                }
            }
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
                if let Some(v) = self.parsed(s, notes, "", word, "it has no value") {
                    self.garp_defaults.push((which, v, s.loc));
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

    pub(super) fn lvs_timeouts(&mut self, s: &Stmt, notes: &mut Notes) {
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
}

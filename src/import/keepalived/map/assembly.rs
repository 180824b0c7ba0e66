//! The mapped blocks put together as one document, in the order of the
//! files in `configs/`. Part of the mapper (`map.rs`).

use super::*;

impl Mapper {
    // ------------------------------------------------------------ assembly

    pub(super) fn assemble(&mut self) -> Doc {
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

//! `static_ipaddress` and `static_routes` to `[addresses]` and
//! `[routes.NAME]`. Part of the mapper (`map.rs`).

use super::*;

impl Mapper {
    // ------------------------------------------------------------ static_*

    pub(super) fn statics(&mut self, s: &Stmt, top: &mut Notes) {
        for line in s.children() {
            if s.keyword() == "static_ipaddress" {
                self.static_address(line, top);
            } else {
                self.static_route(line, top);
            }
        }
    }

    pub(super) fn static_address(&mut self, line: &Stmt, top: &mut Notes) {
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

    pub(super) fn static_route(&mut self, line: &Stmt, top: &mut Notes) {
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
}

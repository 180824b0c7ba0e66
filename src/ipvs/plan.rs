//! `pharos plan`'s IPVS section: the reconciler's diff of a config against
//! the kernel's live table, the same one the IPVS task would apply, with
//! every real server counted healthy (checks decide weights only once they
//! run). Reads the table; writes nothing, loads no module.

use std::time::Instant;

use super::desired::{self, Wanted};
use super::genl::Ipvs;
use super::model::Table;
use super::reconcile::{Op, Reconciler};
use crate::config::Config;

/// The section for `cfg` against this machine's table.
pub fn against_live(cfg: &Config) -> String {
    let want = desired::wanted(cfg);
    // A box without services (a real server) has no IPVS to plan.
    if want.is_empty() && !cfg.ipvs.exclusive {
        return String::new();
    }
    match Ipvs::connect().and_then(|i| i.table()) {
        Ok(t) => render(&want, &t, cfg.ipvs.exclusive),
        Err(e) => format!("ipvs\n  (not planned: cannot read the kernel's table: {e})\n"),
    }
}

/// One line per change, as `pharos plan` prints them: `+` added, `~`
/// changed, `-` removed; a service someone else put in is left alone
/// unless `ipvs.exclusive`, and said so.
pub fn render(want: &[Wanted], live: &Table, exclusive: bool) -> String {
    let mut r = Reconciler::new();
    let plan = r.step(Instant::now(), want, live, exclusive);
    let mut out = String::from("ipvs\n");
    let from = |key: &super::model::ServiceKey| {
        want.iter()
            .find(|w| &w.spec.key == key)
            .map_or_else(String::new, |w| format!(" (from `services.{}`)", w.name))
    };
    for op in &plan.ops {
        let line = match op {
            Op::AddService(s) => format!("+ service {} ({}){}", s.key, s.scheduler, from(&s.key)),
            Op::EditService(s) => format!("~ service {} ({}){}", s.key, s.scheduler, from(&s.key)),
            Op::DelService(k) => format!("- service {k} (ipvs.exclusive)"),
            Op::AddDest(k, d) => {
                format!("+ real server {} in {k}, weight {}", d.endpoint(), d.weight)
            }
            Op::EditDest(k, d) => {
                format!("~ real server {} in {k}: weight {}", d.endpoint(), d.weight)
            }
            Op::DelDest(k, d) => format!("- real server {} from {k}", d.endpoint()),
        };
        out.push_str(&format!("  {line}\n"));
    }
    if !exclusive {
        for l in &live.services {
            if !want.iter().any(|w| w.spec.key == l.spec.key) {
                out.push_str(&format!(
                    "  ? service {} is not in the file: removed if pharos put it in, left alone if someone else did\n",
                    l.spec.key
                ));
            }
        }
    }
    let unchanged = want
        .iter()
        .filter(|w| {
            !plan.ops.iter().any(|o| o.service() == &w.spec.key)
                && live.services.iter().any(|l| l.spec.key == w.spec.key)
        })
        .count();
    if unchanged > 0 {
        out.push_str(&format!("  = {unchanged} service(s) as the file wants\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wanted(text: &str) -> Vec<Wanted> {
        let c = crate::config::check_text(text, &crate::config::Selection::All);
        desired::wanted(&c.configs.first().expect("valid").1)
    }

    fn applied(w: &[Wanted]) -> Table {
        desired::applied(w)
    }

    const BEFORE: &str = r#"
[services.web]
address = "10.0.0.1:80"
forwarding = "dr"
[services.web.real_servers]
"10.0.0.2:80" = {}
"10.0.0.3:80" = {}

[services.old]
address = "10.0.0.1:81"
forwarding = "dr"
[services.old.real_servers]
"10.0.0.2:81" = {}
"#;

    const AFTER: &str = r#"
[services.web]
address = "10.0.0.1:80"
forwarding = "dr"
[services.web.real_servers]
"10.0.0.2:80" = { weight = 3 }
"10.0.0.4:80" = {}

[services.new]
address = "10.0.0.1:443"
forwarding = "dr"
scheduler = "wlc"
[services.new.real_servers]
"10.0.0.2:443" = {}
"#;

    #[test]
    fn the_plan_lists_additions_edits_and_removals_against_the_live_table() {
        let live = applied(&wanted(BEFORE));
        let out = render(&wanted(AFTER), &live, false);
        assert_eq!(
            out,
            "ipvs\n\
             \x20 + service TCP 10.0.0.1:443 (wlc) (from `services.new`)\n\
             \x20 + real server 10.0.0.2:443 in TCP 10.0.0.1:443, weight 1\n\
             \x20 ~ real server 10.0.0.2:80 in TCP 10.0.0.1:80: weight 3\n\
             \x20 + real server 10.0.0.4:80 in TCP 10.0.0.1:80, weight 1\n\
             \x20 - real server 10.0.0.3:80 from TCP 10.0.0.1:80\n\
             \x20 ? service TCP 10.0.0.1:81 is not in the file: removed if pharos put it in, left alone if someone else did\n"
        );
        let out = render(&wanted(AFTER), &live, true);
        assert!(
            out.contains("  - service TCP 10.0.0.1:81 (ipvs.exclusive)\n"),
            "{out}"
        );
        let same = render(&wanted(BEFORE), &live, false);
        assert_eq!(same, "ipvs\n  = 2 service(s) as the file wants\n");
    }
}

//! `pharos plan` of a config text on this box: the config checked, then
//! its difference from the live kernel, the network plane's and then
//! IPVS's (the reconciler's diff against the live table). The first line
//! says which node's overlay was planned (named, or matched by
//! `pharos.node=`, MAC or host name, as `pharos run` would) or that none
//! was and the base config was planned. The same report for `pharos plan`
//! and for the admin verb `plan` (`pharos remote HOST plan FILE`).
//! Exit code 0: nothing impossible; 1: invalid, or something the kernel
//! cannot do (a module it lacks, a sysctl, an interface).

use crate::config::Selection;
use crate::diag::{self, Source};
use crate::runtime::admin::PlanReport;

pub fn plan(shown: &str, text: &str, node: Option<String>) -> PlanReport {
    let mut r = PlanReport::default();
    let facts = crate::runtime::facts(node);
    let loaded = match crate::config::load_for_box(text, &facts) {
        Ok(l) => l,
        Err(diags) => {
            r.err = diag::render(&Source::new(shown, text), &diags, false);
            r.err
                .push_str(&format!("{shown}: invalid; nothing planned\n"));
            r.code = 1;
            return r;
        }
    };
    match &loaded.node {
        Some((n, why)) => r.out.push_str(&format!("node {n} ({why})\n")),
        None => {
            let defined = crate::config::check_text(text, &Selection::Base).nodes;
            if defined.is_empty() {
                r.out.push_str(
                    "node: none (the file defines no nodes); the base config is planned\n",
                );
            } else {
                let runs = match loaded.config.system.unmatched {
                    crate::config::model::Unmatched::Maintenance => {
                        "`pharos run` would stay in maintenance here (`system.unmatched`); \
                         the base config is planned for reference"
                    }
                    crate::config::model::Unmatched::Base => {
                        "the base config is planned (`system.unmatched = \"base\"`)"
                    }
                };
                r.out.push_str(&format!(
                    "node: none; no node of the file ({}) matches this box by pharos.node=, \
                     MAC address or host name; {runs} (name a node with --node)\n",
                    defined.join(", ")
                ));
            }
        }
    }
    let (net, counts) = crate::net::plan::against_live(&loaded.config);
    r.out.push_str(&net);
    r.out
        .push_str(&crate::ipvs::plan::against_live(&loaded.config));
    if counts.impossible > 0 {
        r.code = 1;
    }
    r
}

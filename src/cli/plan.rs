//! `pharos plan FILE [--node N]`: the config checked, then its difference
//! from this machine: the network plane's, then IPVS's (the reconciler's
//! diff against the live table). The first line says which node's overlay was planned
//! (named by `--node`, or matched by `pharos.node=`, MAC or host name, as
//! `pharos run` would) or that none was and the base config was planned.
//! Exit 0: nothing impossible; 1: invalid config or something the kernel
//! cannot do (a module it lacks, a sysctl, an interface); 2: unreadable.

use std::path::Path;
use std::process::ExitCode;

use super::out::{err, errln, out, outln};
use crate::config::Selection;
use crate::diag::{self, Source};

pub fn run(file: &Path, node: Option<String>) -> ExitCode {
    let shown = file.display().to_string();
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => {
            errln!("error: cannot read `{shown}`: {e}; give the path of a pharos TOML config file");
            return ExitCode::from(2);
        }
    };
    let facts = crate::runtime::facts(node);
    let loaded = match crate::config::load_for_box(&text, &facts) {
        Ok(l) => l,
        Err(diags) => {
            err!(
                "{}",
                diag::render(&Source::new(&shown, &text), &diags, false)
            );
            errln!("{shown}: invalid; nothing planned");
            return ExitCode::from(1);
        }
    };
    match &loaded.node {
        Some((n, why)) => outln!("node {n} ({why})"),
        None => {
            let defined = crate::config::check_text(&text, &Selection::Base).nodes;
            if defined.is_empty() {
                outln!("node: none (the file defines no nodes); the base config is planned");
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
                outln!(
                    "node: none; no node of the file ({}) matches this box by pharos.node=, \
                     MAC address or host name; {runs} (name a node with --node)",
                    defined.join(", ")
                );
            }
        }
    }
    let (plan, counts) = crate::net::plan::against_live(&loaded.config);
    out!("{plan}");
    out!("{}", crate::ipvs::plan::against_live(&loaded.config));
    if counts.impossible > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

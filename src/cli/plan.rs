//! `pharos plan FILE [--node N]`: the config checked, then its difference
//! from this machine. Exit 0: nothing impossible; 1: invalid config or
//! something the kernel cannot do; 2: unreadable.

use std::path::Path;
use std::process::ExitCode;

use crate::config::nodes::Facts;
use crate::diag::{self, Source};

pub fn run(file: &Path, node: Option<String>) -> ExitCode {
    let shown = file.display().to_string();
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: cannot read `{shown}`: {e}");
            return ExitCode::from(2);
        }
    };
    let facts = Facts {
        requested: node,
        ..Facts::default()
    };
    let loaded = match crate::config::load_for_box(&text, &facts) {
        Ok(l) => l,
        Err(diags) => {
            eprint!(
                "{}",
                diag::render(&Source::new(&shown, &text), &diags, false)
            );
            eprintln!("{shown}: invalid; nothing planned");
            return ExitCode::from(1);
        }
    };
    if let Some((n, why)) = &loaded.node {
        println!("node {n} ({why})");
    }
    let (plan, counts) = crate::net::plan::against_live(&loaded.config);
    print!("{plan}");
    if counts.impossible > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

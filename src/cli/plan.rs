//! `pharos plan FILE [--node N]`: `director::plan` of the file on this
//! machine. Exit 0: nothing impossible; 1: invalid config or something the
//! kernel cannot do (a module it lacks, a sysctl, an interface); 2:
//! unreadable.

use std::path::Path;
use std::process::ExitCode;

use super::out::{err, errln, out};

pub fn run(file: &Path, node: Option<String>) -> ExitCode {
    let shown = file.display().to_string();
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => {
            errln!("error: cannot read `{shown}`: {e}; give the path of a pharos TOML config file");
            return ExitCode::from(2);
        }
    };
    show(&crate::director::plan::plan(&shown, &text, node))
}

/// Prints a plan as `pharos plan` does, here or from a box.
pub fn show(r: &crate::runtime::admin::PlanReport) -> ExitCode {
    err!("{}", r.err);
    out!("{}", r.out);
    ExitCode::from(r.code)
}

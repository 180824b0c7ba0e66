//! `pharos plan`: what applying a config would change on this machine, as
//! a diff against the live kernel. Nothing is written.

use crate::config::Config;
use crate::config::validate::required_modules;

use super::{modules, sysctl};

/// The plan as text, one line per item: `+` to do, `~` to change, `=`
/// already so, `!` cannot be done (with why).
pub fn render(
    cfg: &Config,
    live: impl Fn(&sysctl::Key) -> Option<String>,
    loaded: impl Fn(&str) -> bool,
) -> (String, Counts) {
    let mut out = String::new();
    let mut n = Counts::default();
    out.push_str("kernel modules\n");
    let mods = required_modules(cfg);
    if mods.is_empty() {
        out.push_str("  (none needed)\n");
    }
    for m in mods {
        if loaded(&m) {
            n.same += 1;
            out.push_str(&format!("  = {m} (loaded)\n"));
        } else {
            n.change += 1;
            out.push_str(&format!("  + load {m}\n"));
        }
    }
    out.push_str("sysctls\n");
    let steps = sysctl::diff(&sysctl::wanted(cfg), live);
    if steps.is_empty() {
        out.push_str("  (none set)\n");
    }
    for s in steps {
        match s {
            sysctl::Step::Matches(w) => {
                n.same += 1;
                out.push_str(&format!("  = {} = {}\n", w.key, w.value));
            }
            sysctl::Step::Set { want, from } => {
                n.change += 1;
                out.push_str(&format!(
                    "  ~ {} = {} (now {from}; from `{}`)\n",
                    want.key, want.value, want.origin
                ));
            }
            sysctl::Step::Missing(w) => {
                n.impossible += 1;
                out.push_str(&format!(
                    "  ! {} = {}: the kernel has no such sysctl (from `{}`)\n",
                    w.key, w.value, w.origin
                ));
            }
        }
    }
    out.push_str(&format!(
        "{} to change, {} already so, {} impossible\n",
        n.change, n.same, n.impossible
    ));
    (out, n)
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub change: usize,
    pub same: usize,
    pub impossible: usize,
}

/// The plan against this machine.
pub fn against_live(cfg: &Config) -> (String, Counts) {
    render(cfg, sysctl::read, modules::is_loaded)
}

//! The rule for commands pharos runs (VRRP notify scripts, exec checks):
//! an argv list whose program is an absolute path.
//!
//! Talks to: `ctx` (reporting). Used by `vrrp` and `checks`.

use super::ctx::Ctx;
use crate::config::tree::Path;

/// Commands run without a shell and without a PATH search, so the program
/// must be an absolute path (as keepalived's script security asks too).
pub(super) fn argv_check(argv: &[String], p: &Path, ctx: &mut Ctx<'_>) {
    match argv.first() {
        None => ctx.error(
            p,
            "the command is empty",
            "write the program and its arguments, like `[\"/usr/local/bin/notify\", \"master\"]`",
        ),
        Some(prog) if !prog.starts_with('/') => {
            let first = prog.split_whitespace().next().unwrap_or(prog);
            let help = if prog.contains(' ') {
                "commands are argv lists run without a shell: split the words into separate strings, and start with an absolute path".to_string()
            } else {
                format!(
                    "commands run without a shell or PATH search: write the full path, like `/usr/bin/{first}`"
                )
            };
            ctx.error(&p.i(0), format!("`{prog}` is not an absolute path"), help);
        }
        Some(_) => {}
    }
}

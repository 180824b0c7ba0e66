//! `ipvsadm-save` rules to pharos `[services.NAME]` tables.
//!
//! Reads what `ipvsadm-save -n` writes, and what `ipvsadm -S` writes without
//! `-n` (the same rules, with port names), and hand-written rule files too:
//! a leading `ipvsadm` word, long option spellings, `--option=value`,
//! clustered flags, quotes, `\` continuations and `#` comments. The rules
//! are applied in order as `ipvsadm-restore` would apply them (`-A`, `-E`,
//! `-D`, `-a`, `-e`, `-d`, `-C`, `--set`), with ipvsadm's defaults: `wlc`,
//! weight 1, direct routing (`-g`), and a real server's port copied from
//! the service.
//!
//! ```text
//! text ─► logical lines ─► words (split as a shell would) ─► options
//!      ─► services and real servers, as ipvsadm would build them
//!      ─► TOML, one [services.NAME] per service in input order
//!         (what cannot be mapped ─► `# line N: ...` and a Warning)
//! ```

mod render;
mod rules;
mod table;
#[cfg(test)]
mod tests;

use super::Import;
use rules::logical_lines;
use table::Importer;

/// Converts an ipvsadm rule file to a pharos config. `file_name` is only
/// named in the header comment.
pub fn import(text: &str, file_name: &str) -> Import {
    let mut imp = Importer::default();
    for line in logical_lines(text) {
        imp.line(&line);
    }
    let toml = imp.render(file_name);
    let mut warnings = imp.warnings;
    warnings.sort_by_key(|w| w.line);
    Import {
        toml,
        warnings,
        errors: Vec::new(),
    }
}

//! `pharos check [--node N] [--format json] FILE`.
//!
//! Text: diagnostics on stderr, rustc-style, then a one-line verdict.
//! JSON: one object on stdout, and nothing else:
//!
//! ```json
//! { "file": "pharos.toml", "result": "ok", "nodes": ["lvs1", "lvs2"],
//!   "diagnostics": [] }
//! ```
//!
//! `result` is `ok` (exit 0), `invalid` (1) or `unreadable` (2); `nodes`
//! the `[nodes.NAME]` overlays checked, each merged onto the base (empty when
//! the file defines none and the base was checked alone, or when it could
//! not be read or parsed); `diagnostics` the errors and warnings (severity,
//! message, file, line, column, end_line, end_column, help, notes).

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;

use super::Format;
use super::out::{err, errln, outln};
use crate::config::{self, Selection};
use crate::diag::{self, Diagnostic, Source};

/// A config is a few hundred kilobytes even for thousands of services;
/// anything far larger is a mistake (wrong file), not a config.
const MAX_CONFIG_BYTES: u64 = 64 << 20;

const INVALID: u8 = 1;
const UNREADABLE: u8 = 2;

pub fn run(file: &Path, node: Option<String>, format: Format) -> ExitCode {
    let shown = file.display().to_string();
    let bytes = match read(file) {
        Ok(b) => b,
        Err(why) => {
            let d = Diagnostic::error(format!("cannot read `{shown}`: {why}"))
                .help("give the path of a pharos TOML config file");
            let verdict = Verdict::Unreadable;
            emit(&Source::new(&shown, ""), &[d], format, &[], &verdict);
            return ExitCode::from(UNREADABLE);
        }
    };
    let (text, utf8_error) = match String::from_utf8(bytes) {
        Ok(t) => (t, None),
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            (String::from_utf8_lossy(e.as_bytes()).into_owned(), Some(at))
        }
    };
    let source = Source::new(&shown, &text);
    if let Some(at) = utf8_error {
        let d = Diagnostic::error("the file is not valid UTF-8")
            .at(at..at + 1)
            .help("a TOML file is UTF-8 text; is this the right file?");
        emit(&source, &[d], format, &[], &Verdict::Invalid);
        return ExitCode::from(INVALID);
    }
    let selection = node.map_or(Selection::All, Selection::Node);
    let checked = config::check_text(&text, &selection);
    // The overlays checked: the one named, or every one the file defines.
    let nodes: Vec<String> = match &selection {
        Selection::Node(n) if checked.nodes.contains(n) => vec![n.clone()],
        Selection::Node(_) => Vec::new(),
        _ => checked.nodes.clone(),
    };
    let verdict = if checked.has_errors() {
        Verdict::Invalid
    } else {
        Verdict::Ok(match checked.nodes.len() {
            0 => format!("{shown}: ok"),
            _ => format!(
                "{shown}: ok ({} checked: {})",
                if checked.configs.len() == 1 {
                    "1 node"
                } else {
                    "nodes"
                },
                checked
                    .configs
                    .iter()
                    .filter_map(|(n, _)| n.as_deref())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
    };
    emit(&source, &checked.diagnostics, format, &nodes, &verdict);
    if checked.has_errors() {
        ExitCode::from(INVALID)
    } else {
        ExitCode::SUCCESS
    }
}

fn read(file: &Path) -> Result<Vec<u8>, String> {
    let meta = std::fs::metadata(file).map_err(|e| e.to_string())?;
    if meta.is_dir() {
        return Err("it is a directory".into());
    }
    if meta.len() > MAX_CONFIG_BYTES {
        return Err(format!(
            "it is {} bytes, more than a config can be ({} MiB)",
            meta.len(),
            MAX_CONFIG_BYTES >> 20
        ));
    }
    std::fs::read(file).map_err(|e| e.to_string())
}

/// How a check ended; `Ok` carries its one-line verdict.
enum Verdict {
    Ok(String),
    Invalid,
    Unreadable,
}

fn emit(
    source: &Source<'_>,
    diags: &[Diagnostic],
    format: Format,
    nodes: &[String],
    verdict: &Verdict,
) {
    match format {
        Format::Json => {
            let json = serde_json::json!({
                "file": source.path,
                "result": match verdict {
                    Verdict::Ok(_) => "ok",
                    Verdict::Invalid => "invalid",
                    Verdict::Unreadable => "unreadable",
                },
                "nodes": nodes,
                "diagnostics": diag::to_json(source, diags),
            });
            outln!(
                "{}",
                serde_json::to_string_pretty(&json).expect("diagnostics serialize")
            );
        }
        Format::Text => {
            let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            err!("{}", diag::render(source, diags, color));
            let errors = diags.iter().filter(|d| d.is_error()).count();
            let warnings = diags.len() - errors;
            match verdict {
                Verdict::Ok(v) if warnings == 0 => outln!("{v}"),
                Verdict::Ok(v) => outln!("{v}, {}", count(warnings, "warning")),
                Verdict::Unreadable => errln!("{}: unreadable; nothing checked", source.path),
                Verdict::Invalid => errln!(
                    "{}: invalid: {}{}",
                    source.path,
                    count(errors, "error"),
                    if warnings > 0 {
                        format!(", {}", count(warnings, "warning"))
                    } else {
                        String::new()
                    }
                ),
            }
        }
    }
}

fn count(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

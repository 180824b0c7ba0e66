//! `pharos check [--node N] [--format json] FILE`.
//!
//! Text: diagnostics on stderr, rustc-style, then a one-line verdict.
//! JSON: a list of diagnostics on stdout (severity, message, file, line,
//! column, end_line, end_column, help, notes), and nothing else.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use super::Format;
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
            emit(&Source::new(&shown, ""), &[d], format, None);
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
        emit(&source, &[d], format, None);
        return ExitCode::from(INVALID);
    }
    let selection = node.map_or(Selection::All, Selection::Node);
    let checked = config::check_text(&text, &selection);
    let verdict = if checked.has_errors() {
        None
    } else {
        Some(match checked.nodes.len() {
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
    emit(&source, &checked.diagnostics, format, verdict.as_deref());
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

fn emit(source: &Source<'_>, diags: &[Diagnostic], format: Format, verdict: Option<&str>) {
    match format {
        Format::Json => {
            let json = diag::to_json(source, diags);
            let mut out = std::io::stdout().lock();
            let _ = writeln!(
                out,
                "{}",
                serde_json::to_string_pretty(&json).expect("diagnostics serialize")
            );
        }
        Format::Text => {
            let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "{}", diag::render(source, diags, color));
            let errors = diags.iter().filter(|d| d.is_error()).count();
            let warnings = diags.len() - errors;
            match verdict {
                Some(v) if warnings == 0 => {
                    let _ = writeln!(std::io::stdout(), "{v}");
                }
                Some(v) => {
                    let _ = writeln!(std::io::stdout(), "{v}, {}", count(warnings, "warning"));
                }
                None => {
                    let _ = writeln!(
                        err,
                        "{}: invalid: {}{}",
                        source.path,
                        count(errors, "error"),
                        if warnings > 0 {
                            format!(", {}", count(warnings, "warning"))
                        } else {
                            String::new()
                        }
                    );
                }
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

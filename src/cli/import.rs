//! `pharos import ipvsadm FILE` and `pharos import keepalived A.conf
//! [B.conf]`: an existing setup, as pharos TOML.
//!
//! The TOML goes to stdout, so `> pharos.toml` keeps it. Each thing that
//! did not carry over goes to stderr as `FILE:LINE: warning: MESSAGE` (and
//! is a `# line N:` comment in the TOML). Exit 0, warnings or not; 1, with
//! nothing on stdout, if the input is not what the importer reads (a
//! keepalived import of a file with no keepalived block, or with a block
//! never closed): each reason is a `FILE[:LINE]: error: MESSAGE` line;
//! 2 if a FILE cannot be read. keepalived's `include`s are read here,
//! relative to the including file, so the importer itself stays a
//! function of texts.

use std::io::IsTerminal;

use super::out::{err, errln, out};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;

use crate::diag::{self, Diagnostic, Source};
use crate::import::{self, Warning};

/// An `ipvsadm-save` dump is a few lines per service, and a keepalived.conf
/// not much more; anything far larger is the wrong file.
const MAX_INPUT_BYTES: u64 = 64 << 20;

/// The input is not what the importer reads; nothing was imported.
const NOT_IMPORTED: u8 = 1;
const UNREADABLE: u8 = 2;

#[derive(Subcommand)]
pub enum ImportWhat {
    /// Rules as `ipvsadm-save -n` (or `ipvsadm -S`, or a script of ipvsadm lines) has them.
    Ipvsadm {
        /// The saved rules.
        file: PathBuf,
    },
    /// keepalived.conf; two files (a MASTER/BACKUP pair) become one config
    /// with a `[nodes.NAME]` table per director.
    ///
    /// Exit status: 0 imported (with warnings or not); 1 nothing imported,
    /// because a FILE has no keepalived block (the wrong file) or a block
    /// whose `}` is missing; 2 a FILE cannot be read.
    Keepalived {
        /// One director's keepalived.conf, or both of a pair.
        #[arg(required = true, num_args = 1..=2)]
        files: Vec<PathBuf>,
        /// Import a misspelt keyword (which keepalived ignores) as the
        /// keyword it was probably meant to be.
        #[arg(long)]
        fix_typos: bool,
    },
}

pub fn run(what: ImportWhat) -> ExitCode {
    match what {
        ImportWhat::Ipvsadm { file } => convert(&file, import::ipvsadm::import),
        ImportWhat::Keepalived { files, fix_typos } => keepalived(&files, fix_typos),
    }
}

fn unreadable(shown: &str, why: &str, help: &str) -> ExitCode {
    let d = Diagnostic::error(format!("cannot read `{shown}`: {why}")).help(help.to_string());
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    err!("{}", diag::render(&Source::new(shown, ""), &[d], color));
    ExitCode::from(UNREADABLE)
}

/// The text, and the line where bytes stop being UTF-8, if they do.
fn text_of(bytes: Vec<u8>) -> (String, Option<usize>) {
    match String::from_utf8(bytes) {
        Ok(t) => (t, None),
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let line = e.as_bytes()[..at].iter().filter(|&&b| b == b'\n').count() + 1;
            (
                String::from_utf8_lossy(e.as_bytes()).into_owned(),
                Some(line),
            )
        }
    }
}

fn bad_utf8(file: Option<String>, line: usize) -> Warning {
    Warning {
        file,
        line,
        message: "the file is not valid UTF-8 from here on; bytes that are not were read as U+FFFD"
            .into(),
    }
}

fn convert(file: &Path, importer: fn(&str, &str) -> import::Import) -> ExitCode {
    let shown = file.display().to_string();
    let bytes = match read(file) {
        Ok(b) => b,
        Err(why) => {
            return unreadable(
                &shown,
                &why,
                "give the path of a file of saved rules, as `ipvsadm-save -n > FILE` writes",
            );
        }
    };
    let (text, bad) = text_of(bytes);
    let imported = importer(&text, &shown);
    let mut warnings = imported.warnings;
    if let Some(line) = bad {
        warnings.insert(0, bad_utf8(None, line));
    }
    emit(&imported.toml, &warnings, &shown)
}

fn emit(toml: &str, warnings: &[Warning], shown: &str) -> ExitCode {
    out!("{toml}");
    for w in warnings {
        let file = w.file.as_deref().unwrap_or(shown);
        errln!("{file}:{}: warning: {}", w.line, w.message);
    }
    ExitCode::SUCCESS
}

fn keepalived(files: &[PathBuf], fix_typos: bool) -> ExitCode {
    use import::keepalived::{self as ka, Options, Source as KaSource};
    let mut sources = Vec::new();
    let mut extra: Vec<Warning> = Vec::new();
    for f in files {
        let shown = f.display().to_string();
        match read(f) {
            Ok(bytes) => {
                let (text, bad) = text_of(bytes);
                if let Some(line) = bad {
                    extra.push(bad_utf8(Some(shown.clone()), line));
                }
                sources.push(KaSource { name: shown, text });
            }
            Err(why) => {
                return unreadable(
                    &shown,
                    &why,
                    "give the path of a keepalived.conf (usually /etc/keepalived/keepalived.conf)",
                );
            }
        }
    }
    let opts = Options { fix_typos };
    let mut include = |from: &str, pattern: &str| -> Result<Vec<KaSource>, String> {
        let mut out = Vec::new();
        for path in include_paths(from, pattern)? {
            let shown = path.display().to_string();
            let bytes = read(&path).map_err(|why| format!("cannot read `{shown}`: {why}"))?;
            let (text, bad) = text_of(bytes);
            if let Some(line) = bad {
                extra.push(bad_utf8(Some(shown.clone()), line));
            }
            out.push(KaSource { name: shown, text });
        }
        Ok(out)
    };
    let imported = match sources.as_slice() {
        [a] => ka::import(a, &mut include, opts),
        [a, b] => ka::import_pair(a, b, &mut include, opts),
        _ => unreachable!("clap takes one or two files"),
    };
    let shown = sources.first().map(|s| s.name.clone()).unwrap_or_default();
    if !imported.errors.is_empty() {
        // Only the errors: the warnings about a file that is not a
        // keepalived config, or is cut off, would bury them.
        for e in &imported.errors {
            let file = e.file.as_deref().unwrap_or(&shown);
            match e.line {
                0 => errln!("{file}: error: {}", e.message),
                n => errln!("{file}:{n}: error: {}", e.message),
            }
        }
        return ExitCode::from(NOT_IMPORTED);
    }
    let mut warnings = extra;
    warnings.extend(imported.warnings);
    emit(&imported.toml, &warnings, &shown)
}

/// The files an `include` pattern names, relative to the including file's
/// directory, expanded as glob(3) would (sorted, directories skipped).
fn include_paths(from: &str, pattern: &str) -> Result<Vec<PathBuf>, String> {
    let pattern = Path::new(pattern);
    let full = if pattern.is_absolute() {
        pattern.to_path_buf()
    } else {
        Path::new(from)
            .parent()
            .unwrap_or(Path::new(""))
            .join(pattern)
    };
    let mut found = vec![PathBuf::new()];
    for comp in full.components() {
        let part = comp.as_os_str().to_string_lossy();
        let is_glob = part.contains(['*', '?', '[', '{']);
        let mut next = Vec::new();
        for base in &found {
            if !is_glob {
                next.push(base.join(comp));
                continue;
            }
            let dir = if base.as_os_str().is_empty() {
                Path::new(".")
            } else {
                base.as_path()
            };
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            let mut names: Vec<String> = entries
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| import::keepalived::glob_match(&part, n))
                .collect();
            names.sort();
            next.extend(names.into_iter().map(|n| base.join(n)));
        }
        found = next;
        if found.len() > 1024 {
            return Err("the pattern matches more than 1024 files".into());
        }
    }
    Ok(found.into_iter().filter(|p| p.is_file()).collect())
}

fn read(file: &Path) -> Result<Vec<u8>, String> {
    let meta = std::fs::metadata(file).map_err(|e| e.to_string())?;
    if meta.is_dir() {
        return Err("it is a directory".into());
    }
    if meta.len() > MAX_INPUT_BYTES {
        return Err(format!(
            "it is {} bytes, more than a file to import can be ({} MiB)",
            meta.len(),
            MAX_INPUT_BYTES >> 20
        ));
    }
    std::fs::read(file).map_err(|e| e.to_string())
}

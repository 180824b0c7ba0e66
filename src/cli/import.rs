//! `pharos import ipvsadm FILE`: an existing setup, as pharos TOML.
//!
//! The TOML goes to stdout, so `> pharos.toml` keeps it. Each thing that
//! did not carry over goes to stderr as `FILE:LINE: warning: MESSAGE` (and
//! is a `# line N:` comment in the TOML). Exit 0, warnings or not; 2 if
//! FILE cannot be read.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;

use crate::diag::{self, Diagnostic, Source};
use crate::import::{self, Warning};

/// An `ipvsadm-save` dump is a few lines per service; anything far larger
/// is the wrong file.
const MAX_INPUT_BYTES: u64 = 64 << 20;

const UNREADABLE: u8 = 2;

#[derive(Subcommand)]
pub enum ImportWhat {
    /// Rules as `ipvsadm-save -n` (or `ipvsadm -S`, or a script of ipvsadm lines) has them.
    Ipvsadm {
        /// The saved rules.
        file: PathBuf,
    },
}

pub fn run(what: ImportWhat) -> ExitCode {
    match what {
        ImportWhat::Ipvsadm { file } => convert(&file, import::ipvsadm::import),
    }
}

fn convert(file: &Path, importer: fn(&str, &str) -> import::Import) -> ExitCode {
    let shown = file.display().to_string();
    let bytes = match read(file) {
        Ok(b) => b,
        Err(why) => {
            let d = Diagnostic::error(format!("cannot read `{shown}`: {why}"))
                .help("give the path of a file of saved rules, as `ipvsadm-save -n > FILE` writes");
            let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            let _ = write!(
                std::io::stderr(),
                "{}",
                diag::render(&Source::new(&shown, ""), &[d], color)
            );
            return ExitCode::from(UNREADABLE);
        }
    };
    let (text, bad_utf8) = match String::from_utf8(bytes) {
        Ok(t) => (t, None),
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let line = e.as_bytes()[..at].iter().filter(|&&b| b == b'\n').count() + 1;
            (
                String::from_utf8_lossy(e.as_bytes()).into_owned(),
                Some(line),
            )
        }
    };
    let imported = importer(&text, &shown);
    let mut warnings = imported.warnings;
    if let Some(line) = bad_utf8 {
        warnings.insert(
            0,
            Warning {
                line,
                message: "the file is not valid UTF-8 from here on; bytes that are not were read as U+FFFD".into(),
            },
        );
    }
    let _ = std::io::stdout().lock().write_all(imported.toml.as_bytes());
    let mut err = std::io::stderr().lock();
    for w in &warnings {
        let _ = writeln!(err, "{shown}:{}: warning: {}", w.line, w.message);
    }
    ExitCode::SUCCESS
}

fn read(file: &Path) -> Result<Vec<u8>, String> {
    let meta = std::fs::metadata(file).map_err(|e| e.to_string())?;
    if meta.is_dir() {
        return Err("it is a directory".into());
    }
    if meta.len() > MAX_INPUT_BYTES {
        return Err(format!(
            "it is {} bytes, more than saved rules can be ({} MiB)",
            meta.len(),
            MAX_INPUT_BYTES >> 20
        ));
    }
    std::fs::read(file).map_err(|e| e.to_string())
}

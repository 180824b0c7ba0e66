//! `pharos manual --out DIR` (hidden; `image/deb.sh` runs it for the
//! Debian package): the man pages and the shell completions, generated
//! from the very clap definition the binary parses, so that they cannot
//! say anything the command line does not do.
//!
//! DIR gets `pharos.1` and one page per visible subcommand, nested ones
//! included (`pharos-check.1`, `pharos-remote-status.1`, ...), and the
//! completions under the names each shell looks for: `pharos.bash`,
//! `_pharos` (zsh) and `pharos.fish`.

use std::path::Path;
use std::process::ExitCode;

use clap_complete::Shell;

use super::out;

pub fn run(cmd: clap::Command, dir: &Path) -> ExitCode {
    match write_all(cmd, dir) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            out::errln!(
                "pharos manual: cannot write the man pages and completions into {}: {e}; \
                 give --out a folder you can write to",
                dir.display()
            );
            ExitCode::FAILURE
        }
    }
}

fn write_all(mut cmd: clap::Command, dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    // No `pharos-help.1`: `man` is the help there. Building names each
    // subcommand `pharos-check`, `pharos-remote-status`, ...
    let mut paged = cmd.clone().disable_help_subcommand(true);
    paged.build();
    let source = format!("pharos {}", paged.get_version().unwrap_or_default());
    pages(&paged, &source, dir)?;
    for (shell, name) in [
        (Shell::Bash, "pharos.bash"),
        (Shell::Zsh, "_pharos"),
        (Shell::Fish, "pharos.fish"),
    ] {
        let mut text = Vec::new();
        clap_complete::generate(shell, &mut cmd, "pharos", &mut text);
        std::fs::write(dir.join(name), text)?;
    }
    Ok(())
}

/// A page for `cmd` and for each of its visible subcommands, nested ones
/// too. Hidden ones (`ipvs capture`) get none, as `--help` lists none.
fn pages(cmd: &clap::Command, source: &str, dir: &Path) -> std::io::Result<()> {
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        pages(sub, source, dir)?;
    }
    // The footer says which pharos the page is of (clap gives subcommands
    // no version of their own).
    clap_mangen::Man::new(cmd.clone())
        .source(source)
        .manual("pharos manual")
        .generate_to(dir)?;
    Ok(())
}

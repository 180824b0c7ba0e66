//! The command line. Each subcommand lives in a file named for it; exit
//! codes are part of the contract (see `../shared/design.md`).

mod check;

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "pharos",
    version,
    about = "A Linux Virtual Server director: VRRP, health checks and IPVS from one TOML file"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate a config file. Exit 0: valid (warnings allowed), 1: invalid, 2: unreadable.
    Check {
        /// The config file.
        file: std::path::PathBuf,
        /// Check only this node's overlay (default: every node in the file).
        #[arg(long)]
        node: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Print the JSON Schema of the config (for taplo / Even Better TOML).
    Schema,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check { file, node, format } => check::run(&file, node, format),
        Command::Schema => {
            let schema = crate::config::schema::schema();
            println!(
                "{}",
                serde_json::to_string_pretty(&schema).expect("a JSON value serializes")
            );
            ExitCode::SUCCESS
        }
    }
}

//! The command line. Each subcommand lives in a file named for it; exit
//! codes are part of the contract (see `../shared/design.md`).

mod bundle;
mod check;
mod control;
mod identity;
mod import;
mod ipvs;
mod manual;
mod out;
mod plan;
mod remote;
mod upgrade;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};

const ABOUT: &str =
    "A Linux Virtual Server director: VRRP, health checks and IPVS from one TOML file";

/// What the binary parses: the documented commands and `manual`.
#[derive(Parser)]
#[command(name = "pharos", version, about = ABOUT)]
struct Cli {
    #[command(subcommand)]
    command: Top,
}

/// The command line as documented: the man pages and the completions are
/// made from this. `manual` and `bundle` stay out of it, not merely
/// hidden: the bash and zsh generators of clap_complete offer hidden
/// subcommands too.
#[derive(Parser)]
#[command(name = "pharos", version, about = ABOUT)]
struct Documented {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Top {
    #[command(flatten)]
    Documented(Command),
    /// Write the man pages (pharos.1, pharos-check.1, ...) and the bash, zsh and fish completions into a folder (for the Debian package, `make deb`).
    #[command(hide = true)]
    Manual {
        /// The folder to write them into (created if missing).
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// Update bundles: make the signing keys, sign a slot image, check a bundle as a box would (for the image build).
    #[command(hide = true)]
    Bundle {
        #[command(subcommand)]
        what: bundle::BundleCommand,
    },
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
    /// Convert an existing setup to pharos TOML on stdout, warnings on stderr. Exit 0 (warnings allowed), 2: unreadable.
    Import {
        #[command(subcommand)]
        what: import::ImportWhat,
    },
    /// Show what applying FILE would change on this machine (nothing is written).
    Plan {
        /// The config file to plan.
        file: std::path::PathBuf,
        /// The node whose overlay to apply (default: matched by MAC, host name or pharos.node=).
        #[arg(long)]
        node: Option<String>,
    },
    /// Run the director: the supervisor with every configured subsystem.
    Run {
        /// The config file.
        #[arg(long, default_value = "/etc/pharos/pharos.toml")]
        config: std::path::PathBuf,
        /// Run as this node (default: matched by MAC, host name or pharos.node=).
        #[arg(long)]
        node: Option<String>,
        /// Where the last known good config is kept.
        #[arg(long, default_value = "/var/lib/pharos")]
        state_dir: std::path::PathBuf,
        /// Control socket path (default: `[control] socket` of the config).
        #[arg(long)]
        socket: Option<std::path::PathBuf>,
        /// How long shutdown may take in all.
        #[arg(long, default_value = "10s", value_parser = parse_duration)]
        shutdown_timeout: std::time::Duration,
        /// The management API's identity (`pharos identity`); default: `identity/` beside the config file. The API is off without `management.toml` there.
        #[arg(long)]
        identity: Option<std::path::PathBuf>,
    },
    /// Show the running director: config, tasks, and each subsystem.
    Status {
        /// The status as one line of JSON, as the control socket gives it.
        #[arg(long)]
        json: bool,
        /// The control socket of the running pharos.
        #[arg(long, default_value = DEFAULT_SOCKET)]
        socket: std::path::PathBuf,
    },
    /// Re-read and apply the config; exit 1 (changing nothing) if it is invalid.
    Reload {
        /// The control socket of the running pharos.
        #[arg(long, default_value = DEFAULT_SOCKET)]
        socket: std::path::PathBuf,
    },
    /// Test-only (the debug image's build): panic the task TASK inside the running pharos, to see it restarted; or, with `save`, hold the next write to the config partition half way.
    #[cfg(feature = "fault-switch")]
    Fault {
        /// The task: vrrp, check, ipvs, net, metrics, control, ...; or `save`.
        task: String,
        /// The control socket of the running pharos.
        #[arg(long, default_value = DEFAULT_SOCKET)]
        socket: std::path::PathBuf,
    },
    /// Stream events as they happen (transitions, reloads, task restarts), a readable line each.
    Events {
        /// Each event as one line of JSON, as the control socket sends it.
        #[arg(long)]
        json: bool,
        /// The control socket of the running pharos.
        #[arg(long, default_value = DEFAULT_SOCKET)]
        socket: std::path::PathBuf,
    },
    /// Upgrade the two directors of a pair with a signed bundle, one at a
    /// time: the one holding no VRRP master first, the other once the first
    /// has committed (its VIPs move to the upgraded one as it reboots).
    UpgradePair {
        /// One director: HOST, HOST:PORT or [IPv6]:PORT.
        a: String,
        /// The other director.
        b: String,
        /// The update bundle (image/out/pharos-VERSION.bundle).
        bundle: std::path::PathBuf,
        /// How long each new slot has to pass its health gate (default 5m).
        #[arg(long)]
        deadline: Option<String>,
        /// Your identity: ca.pem, client.pem, client.key (default: $PHAROS_IDENTITY, else ~/.config/pharos/identity).
        #[arg(long)]
        identity: Option<std::path::PathBuf>,
    },
    /// The verbs of a headless box over its management API (mutual TLS).
    Remote {
        /// The box: HOST, HOST:PORT or [IPv6]:PORT (port 9443 if not given).
        host: String,
        /// Your identity: ca.pem, client.pem, client.key (default: $PHAROS_IDENTITY, else ~/.config/pharos/identity).
        #[arg(long)]
        identity: Option<std::path::PathBuf>,
        #[command(subcommand)]
        verb: remote::RemoteVerb,
    },
    /// Create the certificates of the management API: a CA, your client identity, each box's.
    Identity {
        #[command(subcommand)]
        what: identity::IdentityCommand,
    },
    /// The kernel's IPVS table, as ipvsadm shows it.
    Ipvs {
        #[command(subcommand)]
        what: IpvsCommand,
    },
}

#[derive(Subcommand)]
enum IpvsCommand {
    /// The table in the layout of `ipvsadm -Ln`.
    List {
        /// Counters, as `ipvsadm -Ln --stats`.
        #[arg(long)]
        stats: bool,
        /// Rates, as `ipvsadm -Ln --rate`.
        #[arg(long, conflicts_with = "stats")]
        rate: bool,
        /// The table as JSON.
        #[arg(long)]
        json: bool,
    },
    /// The table as `ipvsadm-save -n` writes it (input for `ipvsadm-restore`).
    Save,
    /// The kernel's raw replies as hex (for the codec's test vectors).
    #[command(hide = true)]
    Capture,
}

const DEFAULT_SOCKET: &str = "/run/pharos/control.sock";

fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    s.parse::<crate::config::types::Duration>()
        .map(Into::into)
        .map_err(|e| e.replace("\nhelp: ", "; "))
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            // Help and version go to stdout, usage errors to stderr.
            if e.use_stderr() {
                out::stderr_result(e.print());
            } else {
                out::stdout_result(e.print());
            }
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    let command = match cli.command {
        Top::Manual { out } => return manual::run(Documented::command(), &out),
        Top::Bundle { what } => return bundle::run(what),
        Top::Documented(command) => command,
    };
    match command {
        Command::Check { file, node, format } => check::run(&file, node, format),
        Command::Run {
            config,
            node,
            state_dir,
            socket,
            shutdown_timeout,
            identity,
        } => crate::runtime::run(crate::runtime::RunOptions {
            identity: identity.unwrap_or_else(|| {
                config
                    .parent()
                    .unwrap_or(std::path::Path::new("/"))
                    .join("identity")
            }),
            config,
            node,
            state_dir,
            socket,
            shutdown_timeout,
            restart_policy: Default::default(),
            pid1: false,
            errors_file: None,
            volatile: None,
            wiring: crate::director::WIRING,
        }),
        Command::Plan { file, node } => plan::run(&file, node),
        Command::Import { what } => import::run(what),
        Command::Status { json, socket } => control::status(&control::Link::Socket(socket), json),
        Command::Reload { socket } => control::reload(&control::Link::Socket(socket)),
        Command::Events { json, socket } => control::events(&control::Link::Socket(socket), json),
        #[cfg(feature = "fault-switch")]
        Command::Fault { task, socket } => control::fault(&control::Link::Socket(socket), task),
        Command::Remote {
            host,
            identity,
            verb,
        } => remote::run(&host, identity, verb),
        Command::UpgradePair {
            a,
            b,
            bundle,
            deadline,
            identity,
        } => {
            let links = [&a, &b].map(|h| remote::link(h, identity.clone()).map(|l| (h.clone(), l)));
            match links {
                [Ok(a), Ok(b)] => upgrade::pair([a, b], &bundle, deadline),
                [Err(e), _] | [_, Err(e)] => {
                    out::errln!("error: {e}");
                    std::process::ExitCode::from(2)
                }
            }
        }
        Command::Identity { what } => identity::run(what),
        Command::Ipvs { what } => match what {
            IpvsCommand::List { stats, rate, json } => ipvs::list(stats, rate, json),
            IpvsCommand::Save => ipvs::save(),
            IpvsCommand::Capture => ipvs::capture(),
        },
        Command::Schema => {
            let schema = crate::config::schema::schema();
            out::outln!(
                "{}",
                serde_json::to_string_pretty(&schema).expect("a JSON value serializes")
            );
            ExitCode::SUCCESS
        }
    }
}

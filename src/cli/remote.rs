//! `pharos remote HOST[:PORT] VERB`: the admin verbs of a headless box over
//! its management API (mutual TLS; the identity from `--identity DIR`, by
//! default `~/.config/pharos/identity` as `pharos identity init` makes it).
//! Exit 0: done; 1: refused (an invalid config, nothing on trial, ...);
//! 2: the box cannot be reached or the handshake fails.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use super::control::{self, Link, MANAGEMENT_PORT, block_on, fail};
use super::out::{err, errln, out, outln};
use crate::runtime::admin::{ConfigText, History, PlanReport, ReloadOutcome, Reply, Request};

#[derive(Subcommand)]
pub enum RemoteVerb {
    /// The box's status, as `pharos status` shows it.
    Status {
        /// The status as one line of JSON.
        #[arg(long)]
        json: bool,
    },
    /// Stream the box's events as they happen, a line each (as `pharos events`).
    Events {
        /// Each event as one line of JSON, as the box sends it.
        #[arg(long)]
        json: bool,
    },
    /// What applying FILE would change on the box, against its live kernel.
    Plan {
        /// The config file to plan.
        file: PathBuf,
        /// Plan as this node (default: the one the box matches).
        #[arg(long)]
        node: Option<String>,
    },
    /// Validate FILE on the box and apply it; with --confirm-within, roll
    /// back by itself unless confirmed in time.
    Apply {
        /// The config file to apply.
        file: PathBuf,
        /// Roll back unless `confirm` comes within this (e.g. 2m).
        #[arg(long)]
        confirm_within: Option<String>,
        /// Why, kept with the revision.
        #[arg(short, long)]
        message: Option<String>,
    },
    /// Keep the config on trial.
    Confirm,
    /// Apply a stored revision again (default: the one before).
    Rollback {
        /// The stored revision (see `revisions`); default: the one before the latest.
        revision: Option<u64>,
    },
    /// The stored revisions, and the trial if one runs.
    Revisions,
    /// The running config file, or a stored revision.
    Config {
        /// A stored revision (see `revisions`); default: the running file.
        revision: Option<u64>,
    },
    /// Upgrade the box with a signed bundle (`make image` writes
    /// image/out/pharos-VERSION.bundle): verified before anything is written,
    /// put on the box's other boot slot, booted once; the box commits it only
    /// when healthy, otherwise it comes back on the slot it ran before.
    Upgrade {
        /// The update bundle.
        bundle: PathBuf,
        /// How long the new slot has to pass its health gate (default 5m).
        #[arg(long)]
        deadline: Option<String>,
        /// Return once the box reboots into the new slot; do not wait for the commit.
        #[arg(long)]
        no_wait: bool,
    },
    /// Hand the VIPs over and reboot the box.
    Reboot,
    /// Hand the VIPs over and power the box off.
    Poweroff,
}

/// `HOST`, `HOST:PORT`, `[V6]:PORT` or a bare IPv6 address.
fn target(s: &str) -> Result<(String, u16), String> {
    if let Ok(sa) = s.parse::<std::net::SocketAddr>() {
        return Ok((sa.ip().to_string(), sa.port()));
    }
    if let Ok(ip) = s.parse::<std::net::IpAddr>() {
        return Ok((ip.to_string(), MANAGEMENT_PORT));
    }
    match s.rsplit_once(':') {
        Some((h, p)) => {
            let port = p
                .parse()
                .map_err(|_| format!("`{s}`: the port `{p}` is not a number"))?;
            Ok((h.to_string(), port))
        }
        None => Ok((s.to_string(), MANAGEMENT_PORT)),
    }
}

/// The management API link to `host` (`HOST[:PORT]`).
pub fn link(host: &str, identity: Option<PathBuf>) -> Result<Link, String> {
    let (host, port) = target(host)?;
    Ok(Link::Remote {
        host,
        port,
        identity: identity.unwrap_or_else(crate::runtime::tls::default_client_dir),
    })
}

pub fn run(host: &str, identity: Option<PathBuf>, verb: RemoteVerb) -> ExitCode {
    let name = host;
    let link = match link(host, identity) {
        Ok(l) => l,
        Err(e) => return fail(&e),
    };
    let read = |file: &PathBuf| {
        std::fs::read_to_string(file).map_err(|e| {
            format!(
                "cannot read `{}`: {e}; give the path of a pharos TOML config file",
                file.display()
            )
        })
    };
    match verb {
        RemoteVerb::Status { json } => control::status(&link, json),
        RemoteVerb::Events { json } => control::events(&link, json),
        RemoteVerb::Plan { file, node } => {
            let text = match read(&file) {
                Ok(t) => t,
                Err(e) => return fail(&e),
            };
            let req = Request {
                config: Some(text),
                name: Some(file.display().to_string()),
                node,
                ..Request::new("plan")
            };
            match ask::<PlanReport>(&link, &req) {
                Ok(r) => super::plan::show(&r),
                Err(code) => code,
            }
        }
        RemoteVerb::Apply {
            file,
            confirm_within,
            message,
        } => {
            let text = match read(&file) {
                Ok(t) => t,
                Err(e) => return fail(&e),
            };
            let req = Request {
                config: Some(text),
                name: Some(file.display().to_string()),
                confirm_within,
                message,
                ..Request::new("apply")
            };
            changed(&link, &req, "applied")
        }
        RemoteVerb::Confirm => short(&link, &Request::new("confirm")),
        RemoteVerb::Rollback { revision } => {
            let req = Request {
                revision,
                ..Request::new("rollback")
            };
            changed(&link, &req, "rolled back")
        }
        RemoteVerb::Revisions => match ask::<History>(&link, &Request::new("revisions")) {
            Ok(h) => {
                outln!("REV  TIME                  BY                   SHA-256       MESSAGE");
                for m in &h.revisions {
                    outln!(
                        "{:<4} {:<21} {:<20} {:<13} {}",
                        m.revision,
                        m.time,
                        m.client,
                        m.sha256.get(..12).unwrap_or(&m.sha256),
                        m.message
                    );
                }
                if let Some(t) = &h.trial {
                    outln!(
                        "r{} by {} is ON TRIAL: it goes back to r{} in {} s unless confirmed",
                        t.revision,
                        t.client,
                        t.previous,
                        t.remaining().as_secs()
                    );
                }
                ExitCode::SUCCESS
            }
            Err(code) => code,
        },
        RemoteVerb::Config { revision } => {
            let req = Request {
                revision,
                ..Request::new("config")
            };
            match ask::<ConfigText>(&link, &req) {
                Ok(c) => {
                    out!("{}", c.text);
                    ExitCode::SUCCESS
                }
                Err(code) => code,
            }
        }
        RemoteVerb::Upgrade {
            bundle,
            deadline,
            no_wait,
        } => super::upgrade::upgrade(&link, name, &bundle, deadline, !no_wait),
        RemoteVerb::Reboot => short(&link, &Request::new("reboot")),
        RemoteVerb::Poweroff => short(&link, &Request::new("poweroff")),
    }
}

/// One answer of type `T`, or the exit for what came instead: 2 when the
/// box cannot be reached, 1 when it refused.
fn ask<T: serde::de::DeserializeOwned>(link: &Link, req: &Request) -> Result<T, ExitCode> {
    let line = block_on(link.one(req)).map_err(|e| fail(&e))?;
    if let Ok(t) = serde_json::from_str::<T>(&line) {
        return Ok(t);
    }
    match serde_json::from_str::<Reply>(&line) {
        Ok(Reply { error: Some(e), .. }) => {
            errln!("error: {e}");
            Err(ExitCode::from(1))
        }
        _ => Err(fail(&format!(
            "the box answered something this pharos cannot read: {}",
            line.trim()
        ))),
    }
}

fn short(link: &Link, req: &Request) -> ExitCode {
    match ask::<Reply>(link, req) {
        Ok(Reply { ok: Some(m), .. }) => {
            outln!("{m}");
            ExitCode::SUCCESS
        }
        Ok(Reply { error, .. }) => {
            errln!("error: {}", error.unwrap_or_else(|| "refused".into()));
            ExitCode::from(1)
        }
        Err(code) => code,
    }
}

/// An apply or a rollback: the diagnostics, then what it did.
fn changed(link: &Link, req: &Request, did: &str) -> ExitCode {
    let o = match ask::<ReloadOutcome>(link, req) {
        Ok(o) => o,
        Err(code) => return code,
    };
    err!("{}", o.rendered);
    if let Some(e) = &o.error {
        errln!("error: {e}; nothing changed");
        return ExitCode::from(1);
    }
    if !o.applied {
        errln!("refused: the config is invalid on the box; nothing changed");
        return ExitCode::from(1);
    }
    let what = crate::runtime::admin::changes_line(&o.changes);
    let stored = o.stored.map(|r| format!(" as r{r}")).unwrap_or_default();
    outln!("{did}{stored}: {what}");
    if let Some(u) = &o.trial_until {
        outln!(
            "on trial until {u}: `pharos remote HOST confirm` keeps it; otherwise it is rolled back"
        );
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_target_is_a_host_with_an_optional_port() {
        assert_eq!(
            super::target("10.0.0.5").unwrap(),
            ("10.0.0.5".into(), 9443)
        );
        assert_eq!(
            super::target("10.0.0.5:8443").unwrap(),
            ("10.0.0.5".into(), 8443)
        );
        assert_eq!(
            super::target("[2001:db8::1]:9").unwrap(),
            ("2001:db8::1".into(), 9)
        );
        assert_eq!(
            super::target("2001:db8::1").unwrap(),
            ("2001:db8::1".into(), 9443)
        );
        assert_eq!(
            super::target("lvs1.example").unwrap(),
            ("lvs1.example".into(), 9443)
        );
        assert!(super::target("lvs1:x").is_err());
    }
}

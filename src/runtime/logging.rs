//! Logging: journald with structured fields (task, instance, service, real
//! server) under systemd, human lines on stderr otherwise; and, with
//! `[logging] remote`, RFC 5424 syslog to collectors as well (`syslog/`:
//! its layer is always installed, and sends nothing until the syslog task
//! gives it collectors). `RUST_LOG` overrides `[logging] level`; the level
//! and target are set at start, `remote` on every reload too.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::prelude::*;

use crate::config::model::{LogLevel, LogTarget, Logging};

/// `plain`: no colours whatever the terminal (PID 1's serial console).
pub fn init(cfg: &Logging, plain: bool) {
    let level = match cfg.level {
        LogLevel::Error => "error",
        LogLevel::Warn => "warn",
        LogLevel::Info => "info",
        LogLevel::Debug => "debug",
        LogLevel::Trace => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    // systemd sets JOURNAL_STREAM when stderr goes to the journal.
    let journald = match cfg.target {
        LogTarget::Journald => true,
        LogTarget::Console => false,
        LogTarget::Auto => std::env::var_os("JOURNAL_STREAM").is_some(),
    };
    let registry = tracing_subscriber::registry()
        .with(filter)
        .with(super::syslog::RemoteLayer);
    let console = || {
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(
                !plain && std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
            )
    };
    let result = if journald {
        match tracing_journald::layer() {
            Ok(layer) => registry
                .with(layer.with_syslog_identifier("pharos".into()))
                .try_init(),
            Err(e) => {
                eprintln!("pharos: journald is not reachable ({e}); logging to stderr");
                registry.with(console()).try_init()
            }
        }
    } else {
        registry.with(console()).try_init()
    };
    // Already initialised (tests run several runtimes in one process).
    let _ = result;
}

//! Fuzzes what the control socket and the management API do with one
//! received line (src/runtime/admin.rs): `admin::serve` reads it over an
//! in-memory stream, parses the JSON request and dispatches on `cmd`. The
//! runtime loop is gone (its channel closed), so the verbs that change the
//! box answer "shutting down" once their arguments are read; `plan` runs a
//! stand-in that checks the text (the real one reads the kernel); the
//! state directory and config file do not exist. `events` waits for events
//! that never come and is left out. Whatever the line, the answer is one
//! line of JSON, or none when the line is not UTF-8 (a read error).
//!
//! ```text
//! make fuzz-smoke  # every target for 20 s, on stable Rust
//! make fuzz TARGET=control_request  # 10 million runs or 30 minutes
//! ```
//!
//! Seeds: fuzz/corpus/control_request/, a request line per verb as
//! `pharos status`, `reload`, `plan`, `apply`, `rollback`, `revisions` and
//! `config` send them.

#![no_main]

use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use libfuzzer_sys::fuzz_target;
use pharos::config::{self, Selection};
use pharos::diag::{self, Source};
use pharos::runtime::admin::{self, Ops, PlanReport, Request, Who};
use pharos::runtime::metrics::Metrics;
use pharos::runtime::status::{ConfigSource, ConfigStatus, Status};
use pharos::runtime::supervisor::{Ready, Shared};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fuzz_target!(|data: &[u8]| {
    // `events` streams until the runtime ends; nothing else waits. The
    // request is the first line, as `serve` reads it.
    let first = data
        .split_inclusive(|&b| b == b'\n')
        .next()
        .unwrap_or_default();
    if let Ok(line) = std::str::from_utf8(first)
        && serde_json::from_str::<Request>(line).is_ok_and(|r| r.cmd == "events")
    {
        return;
    }
    let (served, answer) = runtime().block_on(async {
        let (mut client, server) = tokio::io::duplex(64 << 10);
        let (admin, _) = tokio::sync::mpsc::channel(1);
        let ops = Arc::new(Ops {
            admin,
            state_dir: PathBuf::from("/nonexistent/pharos-fuzz/state"),
            config: PathBuf::from("/nonexistent/pharos-fuzz/pharos.toml"),
            plan,
            // As on a box with no A/B slots: `upgrade` answers why not.
            upgrade: Err("not booted from the image's slots".into()),
        });
        let who = Who("fuzz".into());
        let serving = tokio::spawn(admin::serve(server, shared(), ops, who));
        // The request and its end, as a client's write and shutdown.
        client.write_all(data).await.expect("request written");
        client.shutdown().await.expect("request ended");
        let mut answer = Vec::new();
        client.read_to_end(&mut answer).await.expect("answer read");
        let served = serving.await.expect("serve ends");
        (served, answer)
    });
    // A line that is not UTF-8 is a read error: the connection is closed
    // without an answer (the client says so).
    if served.is_err() {
        assert!(answer.is_empty(), "{served:?} after an answer");
        return;
    }
    let answer = String::from_utf8(answer).expect("answers are UTF-8");
    let line = answer.strip_suffix('\n').expect("one answer line");
    assert!(!line.contains('\n'), "{answer}");
    serde_json::from_str::<serde_json::Value>(line).expect("answers are JSON");
});

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a runtime")
    })
}

fn shared() -> Shared {
    let (events, _) = tokio::sync::broadcast::channel(16);
    Shared {
        events,
        status: Arc::new(Mutex::new(Status {
            pharos_version: "fuzz".into(),
            pid: 1,
            started_at: "2026-12-01T00:00:00Z".into(),
            ready: true,
            config: ConfigStatus {
                file: "/etc/pharos/pharos.toml".into(),
                source: ConfigSource::File,
                node: None,
                revision: 1,
                loaded_at: "2026-12-01T00:00:00Z".into(),
                age_seconds: 0,
                errors: Vec::new(),
                trial: None,
                unsaved: None,
                volatile: None,
            },
            tasks: Vec::new(),
            subsystems: Default::default(),
        })),
        metrics: Arc::new(Metrics::new()),
        ready: Ready::default(),
        sections: Default::default(),
        reloads: Default::default(),
    }
}

/// `pharos plan` without the kernel: the text checked for the node asked
/// for, its diagnostics rendered as `plan` renders them.
fn plan(shown: &str, text: &str, node: Option<String>) -> PlanReport {
    let checked = config::check_text(text, &node.map_or(Selection::All, Selection::Node));
    PlanReport {
        out: String::new(),
        err: diag::render(&Source::new(shown, text), &checked.diagnostics, false),
        code: u8::from(checked.has_errors()),
    }
}

//! The verbs of the running supervisor, as the control socket (local, root
//! only) and the management API (remote, mutual TLS) both serve them: one
//! JSON request line per connection, answered with JSON lines.
//!
//! | `cmd` | answer |
//! |---|---|
//! | `status` | the typed [`Status`] |
//! | `events` | a stream of [`Event`]s |
//! | `reload` | a [`ReloadOutcome`]: the file re-read and applied, or refused |
//! | `plan` (`config`, `node`) | a [`PlanReport`]: `pharos plan` of that text on this box |
//! | `apply` (`config`, `confirm_within`, `message`) | a [`ReloadOutcome`]; invalid text changes nothing |
//! | `confirm` | [`Reply`]: the trial is kept |
//! | `rollback` (`revision`) | a [`ReloadOutcome`]: that revision (default: the one before) applied again |
//! | `revisions` | [`History`]: the stored revisions and the trial, if any |
//! | `config` (`revision`) | [`ConfigText`]: the running file, or a stored revision |
//! | `reboot`, `poweroff` | [`Reply`]; the VIPs are handed over first (shutdown) |
//! | `upgrade` (`size`, `deadline`) | `size` bytes of signed bundle follow the line; [`Progress`](crate::upgrade::flow::Progress) lines, then a [`Reply`]; the box reboots into the new slot (`crate::upgrade`) |
//!
//! The connection handler answers what it can read itself (status, events,
//! plan, revisions, config); what changes the box goes to the runtime loop
//! as an [`Admin`] request, so changes happen one at a time. Every change
//! is an event naming who asked.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::{mpsc, oneshot};

use super::Stop;
use super::status::{Event, Status};
use super::store::{Meta, Revisions, Trial};
use super::supervisor::Shared;

/// The largest request line: a config of up to about 1 MiB, JSON-escaped.
pub const MAX_REQUEST: u64 = 4 << 20;
/// How long a client may take to send its request.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// One request.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    pub cmd: String,
    /// `apply`, `plan`: the config's text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<String>,
    /// `apply`, `plan`: the file's name as the client knows it, for the
    /// diagnostics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `apply`: roll back unless confirmed within this (`2m`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirm_within: Option<String>,
    /// `apply`: why, kept with the revision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// `rollback`, `config`: a stored revision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<u64>,
    /// `plan`: plan as this node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// `upgrade`: the bundle's length in bytes, sent after the request line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// `upgrade`: how long the new slot has to pass its health gate (`5m`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<String>,
    /// `fault` (the test-only fault switch): the task to panic.
    #[cfg(feature = "fault-switch")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
}

impl Request {
    pub fn new(cmd: &str) -> Request {
        Request {
            cmd: cmd.to_string(),
            ..Request::default()
        }
    }
}

/// What a reload, an apply or a rollback did.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ReloadOutcome {
    pub applied: bool,
    /// The running config's load count (`status`'s revision).
    pub revision: u64,
    /// Per subsystem: `+added ~changed -removed`; absent when unchanged.
    pub changes: std::collections::BTreeMap<String, String>,
    /// rustc-style text of every diagnostic (empty when clean).
    pub rendered: String,
    /// The same diagnostics as `pharos check --format json` gives them.
    pub diagnostics: serde_json::Value,
    /// `apply`, `rollback`: the stored revision it became.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stored: Option<u64>,
    /// `apply` on trial: rolled back at this time (RFC 3339) unless confirmed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trial_until: Option<String>,
    /// Why nothing was done, when it is not the diagnostics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What a reload changed, as events and the CLI say it: `check +0 ~1 -0,
/// ipvs +0 ~1 -0`, or `nothing changed`.
pub fn changes_line(changes: &std::collections::BTreeMap<String, String>) -> String {
    if changes.is_empty() {
        return "nothing changed".to_string();
    }
    changes
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `pharos plan` of a text on this box: its output, its errors, its exit.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct PlanReport {
    pub out: String,
    pub err: String,
    pub code: u8,
}

/// A short answer: what was done, or why not.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Reply {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ok: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Reply {
    pub fn ok(s: impl Into<String>) -> Reply {
        Reply {
            ok: Some(s.into()),
            error: None,
        }
    }
    pub fn error(s: impl Into<String>) -> Reply {
        Reply {
            ok: None,
            error: Some(s.into()),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct History {
    pub revisions: Vec<Meta>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trial: Option<Trial>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ConfigText {
    /// The stored revision shown; `None` for the running file.
    pub revision: Option<u64>,
    pub text: String,
}

/// Who is asking: the control socket's root, or a client certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Who(pub String);

/// What changes the box, done one at a time by the runtime loop.
pub enum Admin {
    Reload(oneshot::Sender<ReloadOutcome>),
    Apply {
        text: String,
        /// The file's name as the client knows it, for the diagnostics.
        name: Option<String>,
        trial: Option<Duration>,
        message: String,
        who: Who,
        reply: oneshot::Sender<ReloadOutcome>,
    },
    Confirm {
        who: Who,
        reply: oneshot::Sender<Reply>,
    },
    Rollback {
        revision: Option<u64>,
        who: Who,
        reply: oneshot::Sender<ReloadOutcome>,
    },
    Power {
        stop: Stop,
        who: Who,
        reply: oneshot::Sender<Reply>,
    },
}

/// What the control socket and the management API serve from.
pub struct Ops {
    pub admin: mpsc::Sender<Admin>,
    pub state_dir: PathBuf,
    /// The config file.
    pub config: PathBuf,
    /// `pharos plan` of a text (file name shown, text, node) on this box.
    pub plan: fn(&str, &str, Option<String>) -> PlanReport,
    /// The A/B slots, or why this box has none to upgrade.
    pub upgrade: Result<Arc<crate::upgrade::flow::Upgrades>, String>,
}

/// Serves one connection: reads one request (bounded in size and time),
/// answers it.
pub async fn serve<S>(stream: S, shared: Shared, ops: Arc<Ops>, who: Who) -> std::io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (rd, mut wr) = tokio::io::split(stream);
    let mut line = String::new();
    let mut reader = BufReader::new(rd.take(MAX_REQUEST));
    match tokio::time::timeout(REQUEST_TIMEOUT, reader.read_line(&mut line)).await {
        Ok(r) => {
            r?;
        }
        Err(_) => return send(&mut wr, &Reply::error("no request within 30 s")).await,
    }
    if !line.ends_with('\n') && line.len() as u64 >= MAX_REQUEST {
        return send(
            &mut wr,
            &Reply::error(format!(
                "the request is larger than {} MiB",
                MAX_REQUEST >> 20
            )),
        )
        .await;
    }
    let req: Request = match serde_json::from_str(&line) {
        Ok(r) => r,
        Err(e) => return send(&mut wr, &Reply::error(format!("bad request: {e}"))).await,
    };
    match req.cmd.as_str() {
        "status" => send(&mut wr, &current_status(&shared)).await,
        "events" => events(&mut wr, &shared).await,
        "reload" => {
            let (tx, rx) = oneshot::channel();
            let r = to_loop(&ops, Admin::Reload(tx), rx).await;
            send_or_down(&mut wr, r).await
        }
        "plan" => {
            let Some(text) = req.config else {
                return send(&mut wr, &Reply::error("plan needs the config's text")).await;
            };
            let name = req.name.unwrap_or_else(|| "pharos.toml".into());
            let plan = ops.plan;
            let node = req.node;
            let report = tokio::task::spawn_blocking(move || plan(&name, &text, node))
                .await
                .unwrap_or_else(|e| PlanReport {
                    out: String::new(),
                    err: format!("planning failed: {e}\n"),
                    code: 1,
                });
            send(&mut wr, &report).await
        }
        "apply" => {
            let Some(text) = req.config else {
                return send(&mut wr, &Reply::error("apply needs the config's text")).await;
            };
            let trial = match req.confirm_within.as_deref().map(parse_within).transpose() {
                Ok(t) => t,
                Err(e) => return send(&mut wr, &Reply::error(e)).await,
            };
            let (tx, rx) = oneshot::channel();
            let a = Admin::Apply {
                text,
                name: req.name,
                trial,
                message: req.message.unwrap_or_default(),
                who,
                reply: tx,
            };
            let r = to_loop(&ops, a, rx).await;
            send_or_down(&mut wr, r).await
        }
        "confirm" => {
            let (tx, rx) = oneshot::channel();
            let r = to_loop(&ops, Admin::Confirm { who, reply: tx }, rx).await;
            send_or_down(&mut wr, r).await
        }
        "rollback" => {
            let (tx, rx) = oneshot::channel();
            let a = Admin::Rollback {
                revision: req.revision,
                who,
                reply: tx,
            };
            let r = to_loop(&ops, a, rx).await;
            send_or_down(&mut wr, r).await
        }
        #[cfg(feature = "fault-switch")]
        "fault" => {
            let names: Vec<String> = current_status(&shared)
                .tasks
                .into_iter()
                .map(|t| t.name)
                .collect();
            if req.task.as_deref() == Some(super::fault::SAVE) {
                super::fault::arm_write_hold();
                shared.emit(
                    Event::new(
                        "config",
                        "storage",
                        format!(
                            "fault switch armed by {}: the next write to the config partition is held half way",
                            who.0
                        ),
                    )
                    .warn(),
                );
                let ok = format!(
                    "the next write to the config partition stops half way for {} s",
                    super::fault::HOLD.as_secs()
                );
                return send(&mut wr, &Reply::ok(ok)).await;
            }
            let Some(task) = req.task.filter(|t| names.contains(t)) else {
                let msg = format!(
                    "fault needs one of the tasks: {}; or `{}`",
                    names.join(", "),
                    super::fault::SAVE
                );
                return send(&mut wr, &Reply::error(msg)).await;
            };
            super::fault::arm(&task);
            shared.emit(
                Event::new(
                    "task",
                    &task,
                    format!("fault switch armed by {}: task {task} panics", who.0),
                )
                .warn(),
            );
            send(
                &mut wr,
                &Reply::ok(format!("task {task} panics at its next poll")),
            )
            .await
        }
        "revisions" => {
            let h = History {
                revisions: Revisions::in_dir(&ops.state_dir).list(),
                trial: Trial::load(&ops.state_dir),
            };
            send(&mut wr, &h).await
        }
        "config" => {
            let answer = match req.revision {
                Some(n) => Revisions::in_dir(&ops.state_dir)
                    .text(n)
                    .map(|text| ConfigText {
                        revision: Some(n),
                        text,
                    })
                    .ok_or_else(|| format!("no revision {n} is kept; see `revisions`")),
                None => std::fs::read_to_string(&ops.config)
                    .map(|text| ConfigText {
                        revision: None,
                        text,
                    })
                    .map_err(|e| format!("reading {}: {e}", ops.config.display())),
            };
            match answer {
                Ok(c) => send(&mut wr, &c).await,
                Err(e) => send(&mut wr, &Reply::error(e)).await,
            }
        }
        "upgrade" => {
            let upgrades = match &ops.upgrade {
                Ok(u) => u.clone(),
                Err(e) => return send(&mut wr, &Reply::error(e.clone())).await,
            };
            let Some(size) = req.size else {
                return send(&mut wr, &Reply::error("upgrade needs the bundle's size")).await;
            };
            let deadline = match req.deadline.as_deref().map(parse_deadline).transpose() {
                Ok(d) => d.unwrap_or(crate::upgrade::flow::DEFAULT_DEADLINE),
                Err(e) => return send(&mut wr, &Reply::error(e)).await,
            };
            // The bundle follows the line: read it through the same
            // buffer (it may hold its first bytes), `size` more at most.
            reader.get_mut().set_limit(size);
            upgrades
                .serve(
                    &mut reader,
                    size,
                    deadline,
                    &mut wr,
                    &who,
                    &shared,
                    &ops.admin,
                )
                .await
        }
        "reboot" | "poweroff" => {
            let stop = if req.cmd == "reboot" {
                Stop::Reboot
            } else {
                Stop::PowerOff
            };
            let (tx, rx) = oneshot::channel();
            let r = to_loop(
                &ops,
                Admin::Power {
                    stop,
                    who,
                    reply: tx,
                },
                rx,
            )
            .await;
            send_or_down(&mut wr, r).await
        }
        other => {
            send(
                &mut wr,
                &Reply::error(format!(
                    "unknown command `{other}`: use status, events, reload, plan, apply, confirm, \
                     rollback, revisions, config, upgrade, reboot or poweroff"
                )),
            )
            .await
        }
    }
}

fn parse_within(s: &str) -> Result<Duration, String> {
    let d: Duration = s
        .parse::<crate::config::types::Duration>()
        .map(Into::into)
        .map_err(|e| format!("confirm_within: {}", e.replace("\nhelp: ", "; ")))?;
    if d < Duration::from_secs(10) {
        return Err(format!(
            "confirm_within: {s} is too short to confirm in; give 10s or more"
        ));
    }
    Ok(d)
}

/// The health gate's deadline: 30 s to an hour.
fn parse_deadline(s: &str) -> Result<Duration, String> {
    let d: Duration = s
        .parse::<crate::config::types::Duration>()
        .map(Into::into)
        .map_err(|e| format!("deadline: {}", e.replace("\nhelp: ", "; ")))?;
    if d < Duration::from_secs(30) || d > Duration::from_secs(3600) {
        return Err(format!(
            "deadline: {s} is outside 30s to 1h; a boot under emulation alone takes tens of seconds"
        ));
    }
    Ok(d)
}

async fn to_loop<T>(ops: &Ops, req: Admin, rx: oneshot::Receiver<T>) -> Option<T> {
    ops.admin.send(req).await.ok()?;
    rx.await.ok()
}

async fn send_or_down<W: AsyncWrite + Unpin, T: Serialize>(
    wr: &mut W,
    r: Option<T>,
) -> std::io::Result<()> {
    match r {
        Some(r) => send(wr, &r).await,
        None => send(wr, &Reply::error("pharos is shutting down")).await,
    }
}

async fn send<W: AsyncWrite + Unpin, T: Serialize>(wr: &mut W, v: &T) -> std::io::Result<()> {
    let body = serde_json::to_string(v).expect("answers serialize");
    wr.write_all(format!("{body}\n").as_bytes()).await?;
    wr.flush().await
}

async fn events<W: AsyncWrite + Unpin>(wr: &mut W, shared: &Shared) -> std::io::Result<()> {
    let mut rx = shared.events.subscribe();
    loop {
        match rx.recv().await {
            Ok(ev) => send(wr, &ev).await?,
            Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                let ev = Event::new(
                    "events",
                    "stream",
                    format!("{n} events dropped: the reader was too slow"),
                );
                send(wr, &ev).await?;
            }
            Err(_) => return Ok(()),
        }
    }
}

/// The status with the age filled in at the time of asking.
pub fn current_status(shared: &Shared) -> Status {
    let mut s = shared
        .status
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let sections: Vec<_> = shared
        .sections
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .map(|(k, f)| (k.clone(), f.clone()))
        .collect();
    for (name, build) in sections {
        s.subsystems.insert(name, build());
    }
    if let Ok(t) = humantime::parse_rfc3339(&s.config.loaded_at) {
        s.config.age_seconds = t.elapsed().map(|d| d.as_secs()).unwrap_or(0);
    }
    s
}

/// Reads one answer line of a connection.
pub async fn read_answer<R: tokio::io::AsyncBufRead + Unpin>(r: &mut R) -> Result<String, String> {
    let mut line = String::new();
    r.read_line(&mut line)
        .await
        .map_err(|e| format!("reading pharos's answer: {e}"))?;
    if line.is_empty() {
        return Err("pharos closed the connection without answering".into());
    }
    Ok(line)
}

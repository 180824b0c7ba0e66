//! The control socket (`[control] socket`, mode 0600: root only) and its
//! clients. One JSON request per connection, one line:
//! `{"cmd":"status"}` → the status; `{"cmd":"reload"}` → the outcome with
//! every diagnostic; `{"cmd":"events"}` → a stream of JSON lines.
//! Run as a supervised task, so a broken listener is restarted.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot};

use super::changes::{Changes, Part};
use super::status::Status;
use super::supervisor::{Shared, Subsystem, TaskCtx, TaskFuture};

#[derive(Debug, Serialize, Deserialize)]
pub struct Request {
    pub cmd: String,
}

/// What a reload did.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ReloadOutcome {
    pub applied: bool,
    pub revision: u64,
    /// Per subsystem: `+added ~changed -removed`; absent when unchanged.
    pub changes: std::collections::BTreeMap<String, String>,
    /// rustc-style text of every diagnostic (empty when clean).
    pub rendered: String,
    /// The same diagnostics as `pharos check --format json` gives them.
    pub diagnostics: serde_json::Value,
}

/// A reload asked for over the socket, answered by the runtime.
pub type ReloadRequest = oneshot::Sender<ReloadOutcome>;

/// The control task's part: `[control] socket` (`--socket` overrides it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Socket(pub String);

impl Socket {
    pub fn of<X>(load: &super::Load<X>) -> Arc<Socket> {
        Arc::new(Socket(load.config.control.socket.clone()))
    }
}

impl Part for Socket {
    fn changes(&self, old: &Self) -> Changes {
        Changes::of_option(Some(old), Some(self))
    }
}

pub struct ControlServer {
    /// Overrides `[control] socket` (`--socket`).
    pub path_override: Option<PathBuf>,
    pub reload: mpsc::Sender<ReloadRequest>,
}

impl Subsystem for ControlServer {
    type Part = Socket;

    fn name(&self) -> &'static str {
        "control"
    }

    fn shutdown_rank(&self) -> u8 {
        210
    }

    fn run(self: Arc<Self>, mut ctx: TaskCtx<Socket>) -> TaskFuture {
        Box::pin(async move {
            let mut listener: Option<(UnixListener, PathBuf)> = None;
            let mut ready = Some(ctx.ready.clone());
            loop {
                tokio::select! {
                    () = ctx.cancel.cancelled() => {
                        if let Some((_, p)) = &listener { let _ = std::fs::remove_file(p); }
                        return Ok(());
                    }
                    update = ctx.updates.recv() => {
                        let Some(socket) = update else { return Ok(()) };
                        let path = self.path_override.clone().unwrap_or_else(|| PathBuf::from(&socket.0));
                        if listener.as_ref().is_none_or(|(_, p)| *p != path) {
                            if let Some((_, old)) = listener.take() { let _ = std::fs::remove_file(old); }
                            listener = Some((bind(&path)?, path.clone()));
                            tracing::info!(task = "control", "control socket at {}", path.display());
                        }
                        if let Some(r) = ready.take() { r.mark("control"); }
                    }
                    conn = accept(&listener) => {
                        let stream = conn.map_err(|e| format!("accepting on the control socket: {e}"))?;
                        let (shared, reload) = (ctx.shared.clone(), self.reload.clone());
                        tokio::spawn(async move {
                            if let Err(e) = serve(stream, shared, reload).await {
                                tracing::debug!(task = "control", "control connection: {e}");
                            }
                        });
                    }
                }
            }
        })
    }
}

fn bind(path: &Path) -> Result<UnixListener, String> {
    let what = |e: std::io::Error| format!("creating the control socket {}: {e}", path.display());
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(what)?;
    }
    // A socket file left by a previous run would make bind fail.
    if std::fs::symlink_metadata(path)
        .is_ok_and(|m| std::os::unix::fs::FileTypeExt::is_socket(&m.file_type()))
    {
        let _ = std::fs::remove_file(path);
    }
    let l = UnixListener::bind(path).map_err(what)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(what)?;
    Ok(l)
}

async fn accept(l: &Option<(UnixListener, PathBuf)>) -> std::io::Result<UnixStream> {
    match l {
        Some((l, _)) => l.accept().await.map(|(s, _)| s),
        None => std::future::pending().await,
    }
}

async fn serve(
    stream: UnixStream,
    shared: Shared,
    reload: mpsc::Sender<ReloadRequest>,
) -> std::io::Result<()> {
    let (rd, mut wr) = stream.into_split();
    let mut line = String::new();
    BufReader::new(rd).read_line(&mut line).await?;
    let req: Request = match serde_json::from_str(&line) {
        Ok(r) => r,
        Err(e) => {
            let msg = serde_json::json!({ "error": format!("bad request: {e}") });
            return wr.write_all(format!("{msg}\n").as_bytes()).await;
        }
    };
    match req.cmd.as_str() {
        "status" => {
            let status = current_status(&shared);
            let body = serde_json::to_string(&status).expect("status serializes");
            wr.write_all(format!("{body}\n").as_bytes()).await
        }
        "reload" => {
            let (tx, rx) = oneshot::channel();
            let outcome = match reload.send(tx).await {
                Ok(()) => rx.await.ok(),
                Err(_) => None,
            };
            let body = match outcome {
                Some(o) => serde_json::to_string(&o).expect("outcome serializes"),
                None => serde_json::json!({ "error": "pharos is shutting down" }).to_string(),
            };
            wr.write_all(format!("{body}\n").as_bytes()).await
        }
        "events" => {
            let mut rx = shared.events.subscribe();
            loop {
                match rx.recv().await {
                    Ok(ev) => {
                        let body = serde_json::to_string(&ev).expect("event serializes");
                        wr.write_all(format!("{body}\n").as_bytes()).await?;
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        let ev = super::status::Event::new(
                            "events",
                            "stream",
                            format!("{n} events dropped: the reader was too slow"),
                        );
                        let body = serde_json::to_string(&ev).expect("event serializes");
                        wr.write_all(format!("{body}\n").as_bytes()).await?;
                    }
                    Err(_) => return Ok(()),
                }
            }
        }
        other => {
            let msg = serde_json::json!({ "error": format!("unknown command `{other}`: use status, reload or events") });
            wr.write_all(format!("{msg}\n").as_bytes()).await
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
    if let Ok(t) = humantime::parse_rfc3339(&s.config.loaded_at) {
        s.config.age_seconds = t.elapsed().map(|d| d.as_secs()).unwrap_or(0);
    }
    s
}

/// Client side: sends one request and returns the connection for reading.
pub async fn request(socket: &Path, cmd: &str) -> Result<BufReader<UnixStream>, String> {
    let mut s = UnixStream::connect(socket).await.map_err(|e| {
        format!(
            "cannot reach pharos at {}: {e}\nhelp: is `pharos run` running? Pass --socket if it uses another path",
            socket.display()
        )
    })?;
    let req = serde_json::to_string(&Request {
        cmd: cmd.to_string(),
    })
    .expect("request serializes");
    s.write_all(format!("{req}\n").as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    Ok(BufReader::new(s))
}

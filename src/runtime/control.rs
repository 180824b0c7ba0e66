//! The control socket (`[control] socket`, mode 0600: root only) and its
//! clients: the verbs of `admin.rs`, one JSON request line per connection
//! (`{"cmd":"status"}`, `{"cmd":"reload"}`, `{"cmd":"events"}`, ...).
//! Run as a supervised task, so a broken listener is restarted.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

use super::admin::{Ops, Request, Who};
use super::changes::{Changes, Part};
use super::supervisor::{Subsystem, TaskCtx, TaskFuture};

/// The control task's part: `[control] socket` (`--socket` overrides it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Socket(pub String);

impl Socket {
    pub fn of(cfg: &crate::config::Config) -> Arc<Socket> {
        Arc::new(Socket(cfg.control.socket.clone()))
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
    pub ops: Arc<Ops>,
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
                        let (shared, ops) = (ctx.shared.clone(), self.ops.clone());
                        tokio::spawn(async move {
                            let who = Who("root (control socket)".into());
                            if let Err(e) = super::admin::serve(stream, shared, ops, who).await {
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

/// Client side: sends one request and returns the connection for reading.
pub async fn request(socket: &Path, req: &Request) -> Result<BufReader<UnixStream>, String> {
    let mut s = UnixStream::connect(socket).await.map_err(|e| {
        format!(
            "cannot reach pharos at {}: {e}\nhelp: is `pharos run` running? Pass --socket if it uses another path",
            socket.display()
        )
    })?;
    let req = serde_json::to_string(req).expect("request serializes");
    s.write_all(format!("{req}\n").as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    Ok(BufReader::new(s))
}

//! The `/metrics` endpoint (`[metrics] listen`), run as a supervised task:
//! serves the registry of `metrics.rs` over HTTP, and with
//! `[metrics] status_page = true` a read-only status page (`/`, rendered by
//! the layer above: `Wiring::page`) and the typed status (`/status.json`).
//! Only GET and HEAD; nothing here changes anything.

use std::convert::Infallible;
use std::sync::Arc;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Request, Response, StatusCode};

use super::changes::{Changes, Part};
use super::exposition::Format;
use super::supervisor::{Subsystem, TaskCtx, TaskFuture};
use crate::config::types::Endpoint;

/// The metrics task's part: `[metrics] listen`, if set, and whether the
/// status page is served there too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listen(pub Option<Endpoint>, pub bool);

impl Listen {
    pub fn of(cfg: &crate::config::Config) -> Arc<Listen> {
        let m = &cfg.metrics;
        Arc::new(Listen(m.listen, m.status_page))
    }
}

impl Part for Listen {
    fn changes(&self, old: &Self) -> Changes {
        let page = |l: &Listen| l.1.then_some(());
        Changes::of_option(old.0.as_ref(), self.0.as_ref())
            + Changes::of_option(page(old).as_ref(), page(self).as_ref())
    }
}

/// How many recent events the status page shows.
const RECENT: usize = 30;

/// What a connection serves from.
struct Site {
    shared: super::supervisor::Shared,
    page: Option<Page>,
    recent: Arc<std::sync::Mutex<std::collections::VecDeque<super::status::Event>>>,
}

/// Renders the status page from the status and the latest events.
pub type Page = fn(&super::status::Status, &[super::status::Event]) -> String;

/// The `/metrics` endpoint, on `[metrics] listen`; `page` renders the
/// status page.
pub struct MetricsServer {
    pub page: Page,
}

impl Subsystem for MetricsServer {
    type Part = Listen;

    fn name(&self) -> &'static str {
        "metrics"
    }

    fn shutdown_rank(&self) -> u8 {
        200
    }

    fn run(self: Arc<Self>, mut ctx: TaskCtx<Listen>) -> TaskFuture {
        Box::pin(async move {
            let mut listener: Option<tokio::net::TcpListener> = None;
            let mut ready = Some(ctx.ready.clone());
            let mut page: Option<Page> = None;
            let recent = Arc::new(std::sync::Mutex::new(std::collections::VecDeque::new()));
            let mut events = ctx.shared.events.subscribe();
            loop {
                tokio::select! {
                    () = ctx.cancel.cancelled() => return Ok(()),
                    update = ctx.updates.recv() => {
                        let Some(Listen(listen, with_page)) = update.as_deref().cloned() else { return Ok(()) };
                        page = with_page.then_some(self.page);
                        let want = listen.map(|ep| std::net::SocketAddr::new(ep.ip, ep.port.unwrap_or(9412)));
                        let have = listener.as_ref().and_then(|l| l.local_addr().ok());
                        if want != have {
                            // The old socket goes first: 127.0.0.1:9412 held
                            // would make binding 0.0.0.0:9412 fail.
                            listener = None;
                            if let Some(addr) = want {
                                let l = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
                                    format!("binding the metrics endpoint to {addr}: {e}; is another process using the port?")
                                })?;
                                tracing::info!(task = "metrics", "serving metrics on http://{addr}/metrics");
                                listener = Some(l);
                            }
                        }
                        if let Some(r) = ready.take() { r.mark("metrics"); }
                    }
                    ev = events.recv() => {
                        if let Ok(ev) = ev {
                            let mut r = recent.lock().unwrap_or_else(|e| e.into_inner());
                            if r.len() == RECENT {
                                r.pop_front();
                            }
                            r.push_back(ev);
                        }
                    }
                    conn = accept(&listener) => {
                        let (stream, _) = conn.map_err(|e| format!("accepting a metrics connection: {e}"))?;
                        let site = Arc::new(Site { shared: ctx.shared.clone(), page, recent: recent.clone() });
                        tokio::spawn(async move {
                            let svc = hyper::service::service_fn(move |req| serve(req, site.clone()));
                            let io = hyper_util::rt::TokioIo::new(stream);
                            let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, svc).await;
                        });
                    }
                }
            }
        })
    }
}

async fn accept(
    l: &Option<tokio::net::TcpListener>,
) -> std::io::Result<(tokio::net::TcpStream, std::net::SocketAddr)> {
    match l {
        Some(l) => l.accept().await,
        None => std::future::pending().await,
    }
}

async fn serve(
    req: Request<hyper::body::Incoming>,
    site: Arc<Site>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let reply = |status: StatusCode, kind: &str, body: Bytes| {
        Response::builder()
            .status(status)
            .header("content-type", kind)
            .header("cache-control", "no-store")
            .body(Full::new(body))
            .expect("a response of a status, two headers and a body builds")
    };
    if req.method() != hyper::Method::GET && req.method() != hyper::Method::HEAD {
        return Ok(reply(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain; charset=utf-8",
            Bytes::from_static(b"read only: GET /metrics, / and /status.json\n"),
        ));
    }
    let text = "text/plain; charset=utf-8";
    Ok(match (req.uri().path(), site.page) {
        ("/metrics", _) => {
            let accept = req
                .headers()
                .get(hyper::header::ACCEPT)
                .and_then(|v| v.to_str().ok());
            let format = Format::negotiate(accept);
            let mut r = reply(
                StatusCode::OK,
                format.content_type(),
                Bytes::from(site.shared.metrics.encode(format)),
            );
            // Caches keep one copy per format (RFC 9110 §12.5.5).
            r.headers_mut().insert(
                hyper::header::VARY,
                hyper::header::HeaderValue::from_static("accept"),
            );
            r
        }
        ("/" | "/status", Some(page)) => {
            let status = super::admin::current_status(&site.shared);
            let events: Vec<_> = site
                .recent
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .rev()
                .cloned()
                .collect();
            reply(
                StatusCode::OK,
                "text/html; charset=utf-8",
                Bytes::from(page(&status, &events)),
            )
        }
        ("/status.json", Some(_)) => {
            let status = super::admin::current_status(&site.shared);
            let body = serde_json::to_vec(&status).expect("the status serializes");
            reply(StatusCode::OK, "application/json", Bytes::from(body))
        }
        (_, None) => reply(
            StatusCode::NOT_FOUND,
            text,
            Bytes::from_static(b"pharos serves /metrics (and, with `[metrics] status_page = true`, / and /status.json)\n"),
        ),
        (_, Some(_)) => reply(
            StatusCode::NOT_FOUND,
            text,
            Bytes::from_static(b"pharos serves /, /status.json and /metrics\n"),
        ),
    })
}

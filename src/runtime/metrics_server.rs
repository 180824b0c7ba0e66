//! The `/metrics` endpoint (`[metrics] listen`), run as a supervised task:
//! serves the registry of `metrics.rs` over HTTP.

use std::convert::Infallible;
use std::sync::Arc;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Request, Response, StatusCode};

use super::changes::{Changes, Part};
use super::metrics::Metrics;
use super::supervisor::{Subsystem, TaskCtx, TaskFuture};
use crate::config::types::Endpoint;

/// The metrics task's part: `[metrics] listen`, if set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listen(pub Option<Endpoint>);

impl Listen {
    pub fn of<X>(load: &super::Load<X>) -> Arc<Listen> {
        Arc::new(Listen(load.config.metrics.listen))
    }
}

impl Part for Listen {
    fn changes(&self, old: &Self) -> Changes {
        Changes::of_option(old.0.as_ref(), self.0.as_ref())
    }
}

/// The `/metrics` endpoint, on `[metrics] listen`.
pub struct MetricsServer;

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
            loop {
                tokio::select! {
                    () = ctx.cancel.cancelled() => return Ok(()),
                    update = ctx.updates.recv() => {
                        let Some(Listen(listen)) = update.as_deref().cloned() else { return Ok(()) };
                        listener = match listen {
                            Some(ep) => {
                                let addr = std::net::SocketAddr::new(ep.ip, ep.port.unwrap_or(9412));
                                let l = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
                                    format!("binding the metrics endpoint to {addr}: {e}; is another process using the port?")
                                })?;
                                tracing::info!(task = "metrics", "serving metrics on http://{addr}/metrics");
                                Some(l)
                            }
                            None => None,
                        };
                        if let Some(r) = ready.take() { r.mark("metrics"); }
                    }
                    conn = accept(&listener) => {
                        let (stream, _) = conn.map_err(|e| format!("accepting a metrics connection: {e}"))?;
                        let metrics = ctx.shared.metrics.clone();
                        tokio::spawn(async move {
                            let svc = hyper::service::service_fn(move |req| serve(req, metrics.clone()));
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
    metrics: Arc<Metrics>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let resp = if req.uri().path() == "/metrics" {
        Response::builder()
            .header("content-type", "text/plain; version=0.0.4; charset=utf-8")
            .body(Full::new(Bytes::from(metrics.encode())))
    } else {
        Response::builder()
            .status(StatusCode::NOT_FOUND)
            .body(Full::new(Bytes::from_static(b"pharos serves /metrics\n")))
    };
    Ok(resp.expect("a static response builds"))
}

//! Prometheus metrics of the runtime itself (tasks, reloads), and the HTTP
//! endpoint that serves every registered metric, run as a supervised task.
//! Subsystems register their own families (VRRP adverts, check latency,
//! IPVS counters) in the same registry as they land.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Request, Response, StatusCode};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::diff::Slice;
use super::supervisor::{Subsystem, TaskCtx, TaskFuture, Update};
use crate::config::Config;
use crate::config::types::Endpoint;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TaskLabel {
    task: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabel {
    result: String,
}

pub struct Metrics {
    registry: Mutex<Registry>,
    restarts: Family<TaskLabel, Counter>,
    up: Family<TaskLabel, Gauge>,
    reloads: Family<ResultLabel, Counter>,
    revision: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("pharos");
        let restarts = Family::<TaskLabel, Counter>::default();
        let up = Family::<TaskLabel, Gauge>::default();
        let reloads = Family::<ResultLabel, Counter>::default();
        let revision = Gauge::default();
        registry.register(
            "task_restarts",
            "Restarts of a supervised task after it failed",
            restarts.clone(),
        );
        registry.register(
            "task_up",
            "1 while a supervised task is running",
            up.clone(),
        );
        registry.register(
            "config_reloads",
            "Config reloads by result (applied, invalid)",
            reloads.clone(),
        );
        registry.register(
            "config_revision",
            "Revision of the running config",
            revision.clone(),
        );
        Metrics {
            registry: Mutex::new(registry),
            restarts,
            up,
            reloads,
            revision,
        }
    }

    /// For subsystems to add their own families.
    pub fn registry(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn task_up(&self, task: &str, up: bool) {
        self.up
            .get_or_create(&TaskLabel { task: task.into() })
            .set(i64::from(up));
    }

    pub fn task_restarted(&self, task: &str) {
        self.restarts
            .get_or_create(&TaskLabel { task: task.into() })
            .inc();
    }

    pub fn reloaded(&self, applied: bool) {
        let result = if applied { "applied" } else { "invalid" };
        self.reloads
            .get_or_create(&ResultLabel {
                result: result.into(),
            })
            .inc();
    }

    pub fn set_revision(&self, revision: u64) {
        self.revision
            .set(i64::try_from(revision).unwrap_or(i64::MAX));
    }

    /// The Prometheus text exposition of every metric.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        let reg = self.registry();
        prometheus_client::encoding::text::encode(&mut out, &reg)
            .expect("writing to a String cannot fail");
        out
    }
}

/// The `/metrics` endpoint, on `[metrics] listen`.
pub struct MetricsServer;

impl Subsystem for MetricsServer {
    type Item = Endpoint;

    fn name(&self) -> &'static str {
        "metrics"
    }

    fn shutdown_rank(&self) -> u8 {
        200
    }

    fn slice(&self, cfg: &Config) -> Slice<Endpoint> {
        cfg.metrics
            .listen
            .iter()
            .map(|e| ("listen".to_string(), *e))
            .collect()
    }

    fn run(self: Arc<Self>, mut ctx: TaskCtx<Endpoint>) -> TaskFuture {
        Box::pin(async move {
            let mut listener: Option<tokio::net::TcpListener> = None;
            let mut ready = Some(ctx.ready.clone());
            loop {
                let want = |slice: &Slice<Endpoint>| slice.get("listen").copied();
                tokio::select! {
                    () = ctx.cancel.cancelled() => return Ok(()),
                    update = ctx.updates.recv() => {
                        let listen = match update {
                            Some(Update::Full(s)) => want(&s),
                            Some(Update::Diff(d)) => {
                                if d.removed.iter().any(|k| k == "listen") { None }
                                else { d.added.iter().chain(&d.changed).find(|(k, _)| k == "listen").map(|(_, e)| *e) }
                            }
                            None => return Ok(()),
                        };
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

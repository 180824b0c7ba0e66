//! The `/metrics` endpoint (`[metrics] listen`), run as a supervised task:
//! serves the registry of `metrics.rs` over HTTP, streamed as it is
//! written (a chunk of about 64 KiB at a time, from a blocking thread: a
//! big IPVS table's exposition is hundreds of MB), and with
//! `[metrics] status_page = true` a read-only status page (`/`, rendered by
//! the layer above: `Wiring::page`) and the typed status (`/status.json`).
//! Only GET and HEAD; nothing here changes anything.

use std::convert::Infallible;
use std::sync::Arc;

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use http_body_util::{Either, Full};
use hyper::body::{Bytes, Frame};
use hyper::{Request, Response, StatusCode};
use tokio::sync::mpsc;

use super::changes::{Changes, Part};
use super::exposition::{Format, Stopped};
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
                            // A client may shut its sending side once the
                            // request is out (busybox nc does): without
                            // half_close hyper takes that EOF for the end of
                            // the connection and cuts a streamed /metrics
                            // reply after its headers (RFC 9112 §9.6 lets a
                            // client close its side first).
                            let _ = hyper::server::conn::http1::Builder::new()
                                .half_close(true)
                                .serve_connection(io, svc)
                                .await;
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

/// How many chunks of a scrape wait for the client at most: the encoder
/// runs ahead of the connection by that much and no more.
const QUEUED_CHUNKS: usize = 2;

/// How long a scrape waits for the client to take a chunk before it gives
/// up on it: the encoder holds the metrics registry's lock while it
/// writes, and a subsystem registering its families (a task starting)
/// waits for it. Prometheus's scrape timeout is at most its interval.
const SLOW_CLIENT: Duration = Duration::from_secs(10);

/// A piece of a streamed `/metrics` reply.
enum Piece {
    Chunk(Bytes),
    /// The exposition is complete.
    End,
}

/// The body of a `/metrics` reply: the exposition's chunks as the encoder
/// makes them (`Metrics::write`, in a blocking thread). When the encoder
/// stops before the end, the body fails rather than ends, so the
/// connection is cut and the scraper sees a failed scrape, not a short
/// exposition that parses.
pub struct Scrape {
    pieces: mpsc::Receiver<Piece>,
    ended: bool,
}

/// A `/metrics` reply cut short.
#[derive(Debug, thiserror::Error)]
#[error("the /metrics exposition stopped before its end (the client was too slow, or hung up)")]
pub struct ScrapeCut;

impl hyper::body::Body for Scrape {
    type Data = Bytes;
    type Error = ScrapeCut;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, ScrapeCut>>> {
        if self.ended {
            return Poll::Ready(None);
        }
        match std::task::ready!(self.pieces.poll_recv(cx)) {
            Some(Piece::Chunk(b)) => Poll::Ready(Some(Ok(Frame::data(b)))),
            Some(Piece::End) => {
                self.ended = true;
                Poll::Ready(None)
            }
            None => Poll::Ready(Some(Err(ScrapeCut))),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.ended
    }
}

/// Starts writing the exposition in `format` in a blocking thread, and
/// returns the body it is sent as. The encoder waits for the client
/// (at most [`SLOW_CLIENT`] a chunk), so it runs outside the async
/// workers; it stops when the client hangs up.
fn scrape(metrics: Arc<super::metrics::Metrics>, format: Format) -> Scrape {
    let (tx, pieces) = mpsc::channel(QUEUED_CHUNKS);
    let rt = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let send = |piece: Piece| {
            rt.block_on(tx.send_timeout(piece, SLOW_CLIENT))
                .map_err(|e| match e {
                    mpsc::error::SendTimeoutError::Timeout(_) => {
                        tracing::warn!(
                            task = "metrics",
                            "stopped a /metrics reply: the client took no data for {} s; \
                             a scraper on a slow link needs a smaller table or a faster link",
                            SLOW_CLIENT.as_secs()
                        );
                        Stopped
                    }
                    mpsc::error::SendTimeoutError::Closed(_) => Stopped,
                })
        };
        let written = metrics.write(format, |chunk| send(Piece::Chunk(Bytes::from(chunk))));
        if written.is_ok() {
            let _ = send(Piece::End);
        }
    });
    Scrape {
        pieces,
        ended: false,
    }
}

type Body = Either<Full<Bytes>, Scrape>;

async fn serve(
    req: Request<hyper::body::Incoming>,
    site: Arc<Site>,
) -> Result<Response<Body>, Infallible> {
    let respond = |status: StatusCode, kind: &str, body: Body| {
        Response::builder()
            .status(status)
            .header("content-type", kind)
            .header("cache-control", "no-store")
            .body(body)
            .expect("a response of a status, two headers and a body builds")
    };
    let reply = |status: StatusCode, kind: &str, body: Bytes| {
        respond(status, kind, Either::Left(Full::new(body)))
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
            let mut r = respond(
                StatusCode::OK,
                format.content_type(),
                Either::Right(scrape(site.shared.metrics.clone(), format)),
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

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt as _;
    use hyper::body::Body as _;

    use super::*;

    #[tokio::test]
    async fn a_scrape_cut_short_fails_rather_than_ending() {
        let (tx, pieces) = mpsc::channel(QUEUED_CHUNKS);
        let mut body = Scrape {
            pieces,
            ended: false,
        };
        tx.send(Piece::Chunk(Bytes::from_static(b"a_up 1\n")))
            .await
            .unwrap();
        drop(tx);
        let first = body.frame().await.unwrap().unwrap();
        assert_eq!(first.into_data().unwrap(), "a_up 1\n");
        assert!(matches!(body.frame().await, Some(Err(ScrapeCut))));

        let (tx, pieces) = mpsc::channel(QUEUED_CHUNKS);
        let mut body = Scrape {
            pieces,
            ended: false,
        };
        tx.send(Piece::End).await.unwrap();
        assert!(body.frame().await.is_none());
        assert!(body.is_end_stream());
    }
}

//! The http and https probes (keepalived's HTTP_GET and SSL_GET): one GET
//! over one fresh connection (TLS for https), judged by its status code
//! and, when the check has a body rule, by the body's md5 or sha256 (as
//! keepalived's genhash computes them: over the whole body) or a text it
//! must contain.
//!
//! Why it is built this way:
//! - hyper's low-level http1 client on a connection the probe made itself,
//!   not a pooled client: each attempt must test connecting too, and the
//!   connection's driver runs inside the attempt (no spawned task that
//!   could outlive the timeout).
//! - `Connection: close`, and the body is read only when a rule needs it:
//!   a check without one costs the server no more than the headers.
//! - The body is capped ([`MAX_BODY`]): a real server streaming without
//!   end must fail the check, not fill the director's memory.

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};

use http_body_util::{BodyExt, Empty};
use hyper::body::{Bytes, Incoming};
use hyper::client::conn::http1;
use hyper::header::{CONNECTION, HOST, HeaderValue, USER_AGENT};
use hyper::{Request, Response, Uri};
use hyper_util::rt::TokioIo;
use md5::{Digest, Md5};
use sha2::Sha256;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::TlsConnector;

use super::{Deadline, Failure, Outcome, chain, io_reason, parse_hex, shorten, tcp, tls, to_hex};
use crate::config::model::{Check, CheckType};
use crate::config::types::StatusRange;

/// The most of a body that is read to judge it. Health pages are small;
/// past this the check fails rather than read on.
pub const MAX_BODY: u64 = 4 << 20;

const DEFAULT_STATUS: StatusRange = StatusRange { lo: 200, hi: 299 };

pub struct Http {
    target: SocketAddr,
    bind: Option<IpAddr>,
    tls: Option<Tls>,
    path: Uri,
    host: HeaderValue,
    status: Vec<StatusRange>,
    md5: Option<[u8; 16]>,
    sha256: Option<[u8; 32]>,
    contains: Option<String>,
    describe: String,
}

struct Tls {
    connector: TlsConnector,
    name: rustls::pki_types::ServerName<'static>,
}

impl Http {
    pub(crate) fn new(
        check: &Check,
        target: SocketAddr,
        bind: Option<IpAddr>,
    ) -> Result<Http, String> {
        let https = check.kind == CheckType::Https;
        let kind = if https { "https" } else { "http" };
        let path_text = check.path.as_deref().unwrap_or("/");
        let path = path_text
            .parse::<Uri>()
            .ok()
            .filter(|u| u.scheme().is_none() && u.authority().is_none() && path_text.starts_with('/'))
            .ok_or_else(|| {
                format!(
                    "{kind} check of {target}: path `{path_text}` is not a request path; \
                     write it like `/health` or `/status?full=1`, without spaces (percent-encode them)"
                )
            })?;
        let host_text = match &check.host {
            Some(h) => h.clone(),
            None => target.to_string(),
        };
        let host = HeaderValue::from_str(&host_text).map_err(|_| {
            format!(
                "{kind} check of {target}: host `{host_text}` cannot be sent as a Host header; \
                 write a plain name like `www.example.com`"
            )
        })?;
        let status = match &check.status {
            Some(ranges) if !ranges.is_empty() => ranges.clone(),
            Some(_) => {
                return Err(format!(
                    "{kind} check of {target}: `status = []` accepts no status code; \
                     list the accepted ones, like `status = [\"200-299\"]`, or drop `status`"
                ));
            }
            None => vec![DEFAULT_STATUS],
        };
        let md5 = match &check.md5 {
            Some(h) => Some(parse_hex::<16>(h).ok_or_else(|| {
                format!(
                    "{kind} check of {target}: md5 `{h}` is not 32 hex digits; write the \
                     body's digest as md5sum (or keepalived's genhash) prints it"
                )
            })?),
            None => None,
        };
        let sha256 = match &check.sha256 {
            Some(h) => Some(parse_hex::<32>(h).ok_or_else(|| {
                format!(
                    "{kind} check of {target}: sha256 `{h}` is not 64 hex digits; write the \
                     body's digest as sha256sum prints it"
                )
            })?),
            None => None,
        };
        let tls = if https {
            let config = tls::client_config(check.verify, check.ca_file.as_deref())
                .map_err(|e| format!("https check of {target}: {e}"))?;
            let name = tls::server_name(check.host.as_deref(), target.ip())
                .map_err(|e| format!("https check of {target}: {e}"))?;
            Some(Tls {
                connector: TlsConnector::from(config),
                name,
            })
        } else {
            None
        };
        let mut describe = format!("{kind} GET {kind}://{target}{path}");
        if let Some(h) = &check.host {
            let _ = write!(describe, " (Host {h})");
        }
        if let Some(b) = bind {
            let _ = write!(describe, " from {b}");
        }
        Ok(Http {
            target,
            bind,
            tls,
            path,
            host,
            status,
            md5,
            sha256,
            contains: check.body_contains.clone(),
            describe,
        })
    }

    pub(crate) fn describe(&self) -> String {
        self.describe.clone()
    }

    pub(crate) async fn run(&self, deadline: Deadline) -> Outcome {
        let stream = tcp::connect(self.target, self.bind, deadline).await?;
        // Requests are one small write; do not let Nagle hold them back.
        // (Not for the tcp probe, which sends nothing: a system call saved
        // per check.)
        let _ = stream.set_nodelay(true);
        match &self.tls {
            None => self.exchange(stream, deadline).await,
            Some(tls) => {
                let stream = deadline
                    .step(
                        "in the TLS handshake",
                        tls.connector.connect(tls.name.clone(), stream),
                    )
                    .await?
                    .map_err(|e| Failure::new(tls_reason(&e)))?;
                self.exchange(stream, deadline).await
            }
        }
    }

    /// Sends the request and judges the response, driving the connection
    /// in the same task.
    async fn exchange<S>(&self, stream: S, deadline: Deadline) -> Outcome
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (mut sender, conn) = deadline
            .step(
                "starting HTTP",
                http1::handshake::<_, Empty<Bytes>>(TokioIo::new(stream)),
            )
            .await?
            .map_err(|e| Failure::new(hyper_reason("cannot start HTTP", &e)))?;
        let request = Request::get(self.path.clone())
            .header(HOST, self.host.clone())
            .header(CONNECTION, HeaderValue::from_static("close"))
            .header(USER_AGENT, HeaderValue::from_static(USER_AGENT_VALUE))
            .body(Empty::new())
            .map_err(|e| Failure::new(format!("cannot build the request: {e}")))?;
        let exchange = async {
            let response = deadline
                .step("waiting for the response", sender.send_request(request))
                .await?
                .map_err(|e| Stop::Broken(Failure::new(hyper_reason("no response", &e))))?;
            self.judge(response, deadline).await
        };
        let mut exchange = std::pin::pin!(exchange);
        let mut conn = std::pin::pin!(conn);
        let mut conn_error = None;
        let mut conn_done = false;
        // The connection future moves the bytes; it may end (the server
        // closed after the response) before the exchange has read all the
        // body hyper already buffered, so keep going until the exchange ends.
        // The connection goes first: when it breaks, the exchange sees that
        // in the same turn, and its error must be known by then.
        loop {
            tokio::select! {
                biased;
                ended = &mut conn, if !conn_done => {
                    conn_done = true;
                    if let Err(e) = ended {
                        conn_error = Some(hyper_reason("connection failed", &e));
                    }
                }
                outcome = &mut exchange => {
                    return match (outcome, conn_error) {
                        (Ok(()), _) => Ok(()),
                        (Err(Stop::Broken(_)), Some(e)) => Err(Failure::new(e)),
                        (Err(Stop::Broken(f) | Stop::Judged(f)), _) => Err(f),
                    };
                }
            }
        }
    }

    async fn judge(&self, response: Response<Incoming>, deadline: Deadline) -> Result<(), Stop> {
        let code = response.status().as_u16();
        if !self.status.iter().any(|r| r.contains(code)) {
            let ranges: Vec<String> = self.status.iter().map(ToString::to_string).collect();
            return Err(Stop::Judged(Failure::new(format!(
                "status {code} not in {}",
                ranges.join(", ")
            ))));
        }
        if self.md5.is_none() && self.sha256.is_none() && self.contains.is_none() {
            return Ok(());
        }
        let mut body = response.into_body();
        let mut md5 = self.md5.map(|_| Md5::new());
        let mut sha256 = self.sha256.map(|_| Sha256::new());
        let mut search = self.contains.as_deref().map(Search::new);
        let mut read: u64 = 0;
        while let Some(frame) = deadline.step("reading the body", body.frame()).await? {
            let frame = frame
                .map_err(|e| Stop::Broken(Failure::new(hyper_reason("reading the body", &e))))?;
            let Ok(data) = frame.into_data() else {
                continue; // trailers
            };
            read += data.len() as u64;
            if read > MAX_BODY {
                return Err(Stop::Judged(Failure::new(format!(
                    "body longer than {} MiB; body rules are for small health pages",
                    MAX_BODY >> 20
                ))));
            }
            if let Some(h) = &mut md5 {
                h.update(&data);
            }
            if let Some(h) = &mut sha256 {
                h.update(&data);
            }
            if let Some(s) = &mut search {
                s.feed(&data);
                if s.found && md5.is_none() && sha256.is_none() {
                    return Ok(()); // nothing else needs the rest
                }
            }
        }
        if let (Some(h), Some(want)) = (md5, &self.md5) {
            let got = h.finalize();
            if got[..] != want[..] {
                return Err(Stop::Judged(Failure::new(format!(
                    "body md5 {} differs from the expected {}",
                    to_hex(&got),
                    to_hex(want)
                ))));
            }
        }
        if let (Some(h), Some(want)) = (sha256, &self.sha256) {
            let got = h.finalize();
            if got[..] != want[..] {
                return Err(Stop::Judged(Failure::new(format!(
                    "body sha256 {} differs from the expected {}",
                    to_hex(&got),
                    to_hex(want)
                ))));
            }
        }
        if let (Some(s), Some(text)) = (search, &self.contains) {
            if !s.found {
                return Err(Stop::Judged(Failure::new(format!(
                    "body ({read} bytes) does not contain `{}`",
                    shorten(text, 64)
                ))));
            }
        }
        Ok(())
    }
}

/// How an exchange failed: the response was judged and found wanting, or
/// the transport broke, in which case the connection's own error (if it
/// ended with one, like "connection reset") says more than what the
/// request saw ("connection closed before message completed").
enum Stop {
    Judged(Failure),
    Broken(Failure),
}

/// Timeouts are judged: the deadline, not the transport, ended them.
impl From<Failure> for Stop {
    fn from(f: Failure) -> Stop {
        Stop::Judged(f)
    }
}

const USER_AGENT_VALUE: &str = concat!("pharos/", env!("CARGO_PKG_VERSION"), " health check");

/// Finds a text in a body that arrives in pieces, keeping only the last
/// `len - 1` bytes between pieces (the text may straddle two).
struct Search<'a> {
    needle: &'a [u8],
    tail: Vec<u8>,
    found: bool,
}

impl<'a> Search<'a> {
    fn new(needle: &'a str) -> Search<'a> {
        Search {
            needle: needle.as_bytes(),
            tail: Vec::new(),
            found: needle.is_empty(),
        }
    }

    fn feed(&mut self, data: &[u8]) {
        if self.found {
            return;
        }
        self.tail.extend_from_slice(data);
        let n = self.needle.len();
        if self.tail.windows(n).any(|w| w == self.needle) {
            self.found = true;
            self.tail = Vec::new();
            return;
        }
        let keep = n - 1;
        if self.tail.len() > keep {
            self.tail.drain(..self.tail.len() - keep);
        }
    }
}

/// A hyper error with its causes: "no response: connection closed before
/// message completed", "connection failed: connection reset".
fn hyper_reason(what: &str, e: &hyper::Error) -> String {
    format!("{what}: {}", chain(e))
}

/// A failed TLS handshake: the rustls error ("invalid peer certificate:
/// UnknownIssuer") when there is one, else the socket's.
fn tls_reason(e: &std::io::Error) -> String {
    match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        Some(tls) => format!("TLS handshake failed: {tls}"),
        None => format!("TLS handshake failed: {}", io_reason(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn search(needle: &str, pieces: &[&str]) -> bool {
        let mut s = Search::new(needle);
        for p in pieces {
            s.feed(p.as_bytes());
        }
        s.found
    }

    #[test]
    fn search_finds_text_across_pieces() {
        assert!(search("ok", &["all ", "ok"]));
        assert!(search("healthy", &["he", "alt", "hy!"]));
        assert!(search("abc", &["xxab", "c"]));
        assert!(!search("abc", &["ab", "xc"]));
        assert!(search("", &[]));
    }
}

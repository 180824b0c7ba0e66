//! The `syslog` task: a worker per collector of `[logging] remote`, fed by
//! the layer through a bounded channel. UDP sends each line as it comes; a
//! TCP or TLS worker keeps one connection, frames each line by its length,
//! and when the connection fails connects again after 1 s, 2 s, … up to
//! 60 s, while lines wait in the channel (and are dropped, counted, once
//! it is full). A reload keeps the workers of unchanged collectors (and
//! their connections) and replaces the rest.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use super::format::{self, MAX_STREAM, MAX_UDP};
use super::status::{Collector, SyslogStatus};
use super::{Feed, Line, Sink, hub};
use crate::config::model::{RemoteLog, SyslogTransport};
use crate::runtime::changes::{Changes, Part};
use crate::runtime::supervisor::{Shared, Subsystem, TaskCtx, TaskFuture};

/// Lines a collector may have waiting: about a minute of a busy director's
/// logs, a few hundred kilobytes at most.
const QUEUE: usize = 1024;
/// The longest wait between connection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// How long a connection or a write may take before the collector counts
/// as down.
const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// The syslog task's part: the collectors, and the host name the lines
/// carry (`[system] hostname`, else the kernel's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remotes {
    pub hostname: String,
    pub remotes: Vec<RemoteLog>,
}

impl Remotes {
    pub fn of(cfg: &crate::config::Config) -> Arc<Remotes> {
        let hostname = cfg.system.hostname.clone().unwrap_or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map(|h| h.trim().to_string())
                .unwrap_or_default()
        });
        Arc::new(Remotes {
            hostname,
            remotes: cfg.logging.remote.clone(),
        })
    }
}

impl Part for Remotes {
    fn changes(&self, old: &Self) -> Changes {
        let key = |r: &Remotes| -> std::collections::BTreeMap<String, (RemoteLog, String)> {
            r.remotes
                .iter()
                .map(|x| (name(x), (x.clone(), r.hostname.clone())))
                .collect()
        };
        Changes::between(&key(old), &key(self))
    }
}

/// The collector as status, metrics and logs name it: `tls://10.0.0.6:6514`.
pub fn name(r: &RemoteLog) -> String {
    format!("{}://{}", r.transport.as_str(), address(r))
}

/// Where to send: the port given, else the transport's own (RFC 5426
/// §3.3: 514/udp; RFC 6587: 514/tcp by custom; RFC 5425 §4.1: 6514).
pub fn address(r: &RemoteLog) -> SocketAddr {
    let port = r.address.port.unwrap_or(match r.transport {
        SyslogTransport::Tls => 6514,
        _ => 514,
    });
    SocketAddr::new(r.address.ip, port)
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CollectorLabel {
    collector: String,
}

struct Families {
    sent: Family<CollectorLabel, Counter>,
    dropped: Family<CollectorLabel, Counter>,
}

/// One collector's worker, as status sees it.
struct State {
    remote: RemoteLog,
    name: String,
    sent: Counter,
    dropped: Counter,
    connected: AtomicBool,
    last_error: Mutex<Option<String>>,
}

impl State {
    /// Notes a failure; logged when it differs from the last one, so a
    /// collector that stays down is one line, not one a second.
    fn failed(&self, e: String) {
        let mut last = self.last_error.lock().unwrap_or_else(|x| x.into_inner());
        let new = last.as_deref() != Some(e.as_str());
        *last = Some(e.clone());
        drop(last);
        if new {
            tracing::warn!(task = "syslog", "{e}");
        }
    }

    fn status(&self) -> Collector {
        let udp = self.remote.transport == SyslogTransport::Udp;
        Collector {
            collector: self.name.clone(),
            facility: format!("{:?}", self.remote.facility).to_lowercase(),
            state: if udp || self.connected.load(Ordering::Relaxed) {
                "sending".into()
            } else {
                "connecting".into()
            },
            sent: self.sent.get(),
            dropped: self.dropped.get(),
            last_error: self
                .last_error
                .lock()
                .unwrap_or_else(|x| x.into_inner())
                .clone(),
        }
    }
}

/// A running worker: its state, the sink that feeds it, its task.
struct Worker {
    state: Arc<State>,
    sink: Sink,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Default)]
pub struct SyslogTask {
    families: OnceLock<Families>,
}

impl Subsystem for SyslogTask {
    type Part = Remotes;

    fn name(&self) -> &'static str {
        "syslog"
    }

    /// Last of all: the other tasks' shutdown lines go out first.
    fn shutdown_rank(&self) -> u8 {
        250
    }

    fn run(self: Arc<Self>, mut ctx: TaskCtx<Remotes>) -> TaskFuture {
        Box::pin(async move {
            let families = self.families.get_or_init(|| {
                let f = Families {
                    sent: Family::default(),
                    dropped: Family::default(),
                };
                let mut reg = ctx.shared.metrics.registry();
                reg.register(
                    "syslog_sent_lines",
                    "Log lines sent to a syslog collector of [logging] remote",
                    f.sent.clone(),
                );
                reg.register(
                    "syslog_dropped_lines",
                    "Log lines a syslog collector lost: its queue full while it was down or slow, or a send that failed",
                    f.dropped.clone(),
                );
                f
            });
            let mut ready = Some(ctx.ready.clone());
            let mut workers: Vec<Worker> = Vec::new();
            let states: Arc<Mutex<Vec<Arc<State>>>> = Arc::default();
            loop {
                tokio::select! {
                    () = ctx.cancel.cancelled() => {
                        stop(workers).await;
                        return Ok(());
                    }
                    update = ctx.updates.recv() => {
                        let Some(part) = update else {
                            stop(workers).await;
                            return Ok(());
                        };
                        let mut old = std::mem::take(&mut workers);
                        for r in &part.remotes {
                            let keep = old.iter().position(|w| w.state.remote == *r && !w.task.is_finished());
                            let w = match keep {
                                Some(i) => old.swap_remove(i),
                                None => start(r, families),
                            };
                            workers.push(w);
                        }
                        // Collectors no longer listed: their workers end.
                        for w in old {
                            w.task.abort();
                        }
                        hub().set(Feed {
                            hostname: part.hostname.clone(),
                            sinks: workers.iter().map(|w| w.sink.clone()).collect(),
                        });
                        *states.lock().unwrap_or_else(|e| e.into_inner()) =
                            workers.iter().map(|w| w.state.clone()).collect();
                        publish(&ctx.shared, &states, !workers.is_empty());
                        if let Some(r) = ready.take() {
                            r.mark("syslog");
                        }
                    }
                }
            }
        })
    }
}

/// Ends the workers, giving them a second to send what is queued (the
/// shutdown's own lines): with the hub's senders and theirs dropped, each
/// worker drains its channel and returns.
async fn stop(workers: Vec<Worker>) {
    hub().set(Feed::default());
    let tasks: Vec<_> = workers.into_iter().map(|w| w.task).collect();
    let aborts: Vec<_> = tasks.iter().map(|t| t.abort_handle()).collect();
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        for t in tasks {
            let _ = t.await;
        }
    })
    .await;
    for a in aborts {
        a.abort();
    }
}

fn publish(shared: &Shared, states: &Arc<Mutex<Vec<Arc<State>>>>, on: bool) {
    if !on {
        shared
            .sections
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove("syslog");
        return;
    }
    let states = states.clone();
    shared.publish_with(
        "syslog",
        Arc::new(move || {
            let s = SyslogStatus {
                collectors: states
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .iter()
                    .map(|s| s.status())
                    .collect(),
            };
            serde_json::to_value(s).expect("the syslog status serializes")
        }),
    );
}

fn start(r: &RemoteLog, families: &Families) -> Worker {
    let name = name(r);
    let label = CollectorLabel {
        collector: name.clone(),
    };
    let state = Arc::new(State {
        remote: r.clone(),
        name,
        sent: families.sent.get_or_create(&label).clone(),
        dropped: families.dropped.get_or_create(&label).clone(),
        connected: AtomicBool::new(false),
        last_error: Mutex::new(None),
    });
    let (tx, rx) = mpsc::channel(QUEUE);
    let sink = Sink {
        tx,
        dropped: state.dropped.clone(),
    };
    let task = tokio::spawn(worker(state.clone(), rx));
    Worker { state, sink, task }
}

async fn worker(state: Arc<State>, rx: mpsc::Receiver<Line>) {
    match state.remote.transport {
        SyslogTransport::Udp => udp(state, rx).await,
        SyslogTransport::Tcp | SyslogTransport::Tls => stream(state, rx).await,
    }
}

/// RFC 5426: one message a datagram, no connection to keep. The socket is
/// made again after a failure (no route yet at boot, say).
async fn udp(state: Arc<State>, mut rx: mpsc::Receiver<Line>) {
    let to = address(&state.remote);
    let facility = state.remote.facility.code();
    let mut socket: Option<tokio::net::UdpSocket> = None;
    while let Some(line) = rx.recv().await {
        if socket.is_none() {
            socket = match udp_socket(to).await {
                Ok(s) => Some(s),
                Err(e) => {
                    state.dropped.inc();
                    state.failed(format!(
                        "sending logs to {}: {e}; is there a route to it?",
                        state.name
                    ));
                    continue;
                }
            };
        }
        let m = format::message(facility, line.severity, &line.body, MAX_UDP);
        let sent = match &socket {
            Some(s) => s.send(m.as_bytes()).await,
            None => continue,
        };
        match sent {
            Ok(_) => {
                state.sent.inc();
            }
            Err(e) => {
                // ECONNREFUSED: an ICMP port unreachable came back for an
                // earlier datagram; nobody listens there (yet).
                state.dropped.inc();
                socket = None;
                state.failed(format!(
                    "sending logs to {}: {e}; is the collector listening on UDP?",
                    state.name
                ));
            }
        }
    }
}

async fn udp_socket(to: SocketAddr) -> std::io::Result<tokio::net::UdpSocket> {
    let any: SocketAddr = if to.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let s = tokio::net::UdpSocket::bind(any).await?;
    s.connect(to).await?;
    Ok(s)
}

/// TCP (RFC 6587) or TLS (RFC 5425): a connection kept up, each message
/// framed by its length.
async fn stream(state: Arc<State>, mut rx: mpsc::Receiver<Line>) {
    let mut backoff = Duration::from_secs(1);
    loop {
        let ended = match connect(&state).await {
            Err(e) => e,
            Ok(Conn::Tcp(s)) => session(s, &state, &mut rx, &mut backoff).await,
            Ok(Conn::Tls(s)) => session(*s, &state, &mut rx, &mut backoff).await,
        };
        state.connected.store(false, Ordering::Relaxed);
        match ended {
            // The channel closed: the collector was removed or pharos stops.
            None => return,
            Some(e) => state.failed(e),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

enum Conn {
    Tcp(tokio::net::TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>),
}

async fn connect(state: &State) -> Result<Conn, Option<String>> {
    let to = address(&state.remote);
    let tcp = match tokio::time::timeout(IO_TIMEOUT, tokio::net::TcpStream::connect(to)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            return Err(Some(format!(
                "connecting to the syslog collector {}: {e}; is it up and listening?",
                state.name
            )));
        }
        Err(_) => {
            return Err(Some(format!(
                "connecting to the syslog collector {}: no answer within {} s; is there a route to it?",
                state.name,
                IO_TIMEOUT.as_secs()
            )));
        }
    };
    let _ = tcp.set_nodelay(true);
    if state.remote.transport != SyslogTransport::Tls {
        return Ok(Conn::Tcp(tcp));
    }
    let config = tls_config(&state.remote).map_err(Some)?;
    let server_name = state
        .remote
        .server_name
        .clone()
        .unwrap_or_else(|| to.ip().to_string());
    let name = rustls::pki_types::ServerName::try_from(server_name.clone()).map_err(|e| {
        Some(format!(
            "`{server_name}` is not a name a TLS certificate can carry ({e}); fix `server_name` of {}",
            state.name
        ))
    })?;
    let connector = tokio_rustls::TlsConnector::from(config);
    match tokio::time::timeout(IO_TIMEOUT, connector.connect(name, tcp)).await {
        Ok(Ok(s)) => Ok(Conn::Tls(Box::new(s))),
        Ok(Err(e)) => Err(Some(format!(
            "the TLS handshake with the syslog collector {} failed: {e}; does its certificate come from `ca_file` and name {server_name}?",
            state.name
        ))),
        Err(_) => Err(Some(format!(
            "the TLS handshake with the syslog collector {} took more than {} s",
            state.name,
            IO_TIMEOUT.as_secs()
        ))),
    }
}

/// A TLS client that trusts only `ca_file`, read at each connection so a
/// fixed file is taken without a reload.
fn tls_config(r: &RemoteLog) -> Result<Arc<rustls::ClientConfig>, String> {
    let ca = r.ca_file.as_deref().unwrap_or_default();
    let hint = "`ca_file` must be the PEM file of the CA that signed the collector's certificate";
    let roots = crate::runtime::tls::root_store(std::path::Path::new(ca), hint)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("setting up TLS for the syslog collector: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Sends lines over one connection until it fails (`Some(why)`) or the
/// channel closes (`None`: flushed, closed politely).
async fn session<S: AsyncRead + AsyncWrite + Unpin>(
    s: S,
    state: &State,
    rx: &mut mpsc::Receiver<Line>,
    backoff: &mut Duration,
) -> Option<String> {
    state.connected.store(true, Ordering::Relaxed);
    *state.last_error.lock().unwrap_or_else(|e| e.into_inner()) = None;
    *backoff = Duration::from_secs(1);
    tracing::info!(task = "syslog", "sending logs to {}", state.name);
    let facility = state.remote.facility.code();
    let (mut r, mut w) = tokio::io::split(s);
    let mut buf = [0u8; 512];
    loop {
        tokio::select! {
            line = rx.recv() => {
                let Some(line) = line else {
                    let _ = tokio::time::timeout(Duration::from_secs(1), w.shutdown()).await;
                    return None;
                };
                let m = format::message(facility, line.severity, &line.body, MAX_STREAM);
                let frame = format::octet_counted(&m);
                match tokio::time::timeout(IO_TIMEOUT, w.write_all(&frame)).await {
                    Ok(Ok(())) => {
                        state.sent.inc();
                    }
                    Ok(Err(e)) => {
                        state.dropped.inc();
                        return Some(format!("sending logs to {}: {e}; connecting again", state.name));
                    }
                    Err(_) => {
                        state.dropped.inc();
                        return Some(format!(
                            "sending logs to {}: a write took more than {} s; connecting again",
                            state.name,
                            IO_TIMEOUT.as_secs()
                        ));
                    }
                }
            }
            // A collector sends nothing back: a read ends only when it
            // closes the connection (a restart, say).
            n = r.read(&mut buf) => {
                if matches!(n, Ok(0) | Err(_)) {
                    return Some(format!("the syslog collector {} closed the connection; connecting again", state.name));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remotes(text: &str) -> Remotes {
        let c = crate::config::check_text(text, &crate::config::Selection::All);
        let (_, cfg) = c.configs.first().expect("valid");
        (*Remotes::of(cfg)).clone()
    }

    #[test]
    fn each_transport_has_its_port_and_a_reload_counts_collectors_by_name() {
        let old = remotes(
            "[system]\nhostname = \"lvs1\"\n[logging]\nremote = [{ address = \"10.0.0.5\" }, { address = \"10.0.0.6\", transport = \"tcp\" }]\n",
        );
        assert_eq!(old.hostname, "lvs1");
        let names: Vec<String> = old.remotes.iter().map(name).collect();
        assert_eq!(names, ["udp://10.0.0.5:514", "tcp://10.0.0.6:514"]);
        let tls = remotes(
            "[logging]\nremote = [{ address = \"10.0.0.6\", transport = \"tls\", ca_file = \"/ca.pem\" }]\n",
        );
        assert_eq!(name(&tls.remotes[0]), "tls://10.0.0.6:6514");
        let new = remotes(
            "[system]\nhostname = \"lvs1\"\n[logging]\nremote = [{ address = \"10.0.0.5\", facility = \"local3\" }, { address = \"10.0.0.7\", transport = \"tcp\" }]\n",
        );
        assert_eq!(new.changes(&old).summary(), "+1 ~1 -1");
        assert!(old.changes(&old).is_empty());
    }

    /// A TCP collector of the test's own: a worker sends what the layer
    /// queued, framed by length, and connects again after the collector
    /// went away, counting what it lost.
    #[tokio::test]
    async fn a_tcp_worker_frames_lines_and_reconnects_after_the_collector_closes() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let r = remotes(&format!(
            "[logging]\nremote = [{{ address = \"127.0.0.1:{port}\", transport = \"tcp\", facility = \"local0\" }}]\n"
        ))
        .remotes[0]
            .clone();
        let families = Families {
            sent: Family::default(),
            dropped: Family::default(),
        };
        let w = start(&r, &families);
        let line = |text: &str| Line {
            severity: 6,
            body: format!("1 - - - - - {text}").into(),
        };
        w.sink.tx.send(line("one")).await.unwrap();
        w.sink.tx.send(line("two")).await.unwrap();
        let (mut conn, _) = tokio::time::timeout(Duration::from_secs(10), listener.accept())
            .await
            .unwrap()
            .unwrap();
        let want = b"20 <134>1 - - - - - one20 <134>1 - - - - - two";
        let mut got = vec![0u8; want.len()];
        tokio::time::timeout(Duration::from_secs(10), conn.read_exact(&mut got))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got, want);
        drop(conn);
        // The worker sees the close and connects again (after 1 s).
        let (mut conn, _) = tokio::time::timeout(Duration::from_secs(10), listener.accept())
            .await
            .unwrap()
            .unwrap();
        w.sink.tx.send(line("three")).await.unwrap();
        let mut got = vec![0u8; 25];
        tokio::time::timeout(Duration::from_secs(10), conn.read_exact(&mut got))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got, b"22 <134>1 - - - - - three");
        assert_eq!(w.state.sent.get(), 3);
        let st = w.state.status();
        assert_eq!(st.state, "sending");
        w.task.abort();
    }
}

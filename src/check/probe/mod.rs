//! One attempt of a health check against one target.
//!
//! Owns the [`Probe`]: a config [`Check`] compiled once for one target
//! (status ranges, digests, the DNS query's bytes, the TLS client config
//! are parsed and validated by [`Probe::new`], so a mistake shows when the
//! config is loaded, not at every attempt), and [`Probe::run`], which makes
//! one attempt bounded by a timeout and says why it failed in a short,
//! greppable [`Failure`]. Scheduling, retries and rise/fall are not here
//! (see `check::task` and `check::health`).
//!
//! One file per kind: [`tcp`], [`http`] (http and https, with `tls` for
//! the certificate policies), [`udp`], [`dns`], [`exec`].

pub mod dns;
pub mod exec;
pub mod http;
pub mod tcp;
mod tls;
pub mod udp;

use std::fmt;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::config::model::{Check, CheckType};

/// Why an attempt failed, short and greppable: "connection refused",
/// "timed out after 2000 ms waiting for the response", "status 503 not in
/// 200-299", "exit status 2", "no reply within 2000 ms".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub reason: String,
}

impl Failure {
    pub(crate) fn new(reason: impl Into<String>) -> Failure {
        Failure {
            reason: reason.into(),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

impl std::error::Error for Failure {}

/// The result of one attempt.
pub type Outcome = Result<(), Failure>;

/// A check compiled for one target: everything parsed and validated once
/// (status ranges, digests, DNS query bytes, TLS config built once and
/// shared via `Arc`), so a run allocates little.
pub struct Probe {
    kind: Kind,
}

enum Kind {
    None,
    Tcp(tcp::Tcp),
    Http(Box<http::Http>),
    Udp(udp::Udp),
    Dns(dns::Dns),
    Exec(exec::Exec),
}

impl Probe {
    /// Compiles `check` for one target. `ip` and `port` are the real
    /// server's; the check's own `address` and `port` take precedence, and
    /// the protocol's default port (`Check::default_port`) comes last.
    /// Fails when a tcp or udp check has no port, or when the check is
    /// unusable (bad digest hex, unreadable `ca_file`, invalid query
    /// name...); the message says what to fix.
    pub fn new(check: &Check, ip: IpAddr, port: Option<u16>) -> Result<Probe, String> {
        let ip = check.address.map_or(ip, |a| a.0);
        let port = check
            .port
            .map(|p| p.get())
            .or(port)
            .or_else(|| check.default_port());
        let kind_name = check.kind.name();
        let target = || -> Result<SocketAddr, String> {
            port.map(|p| SocketAddr::new(ip, p)).ok_or_else(|| {
                format!(
                    "{kind_name} check of {ip}: no port to probe (the real server has none \
                     and the check sets none); add `port = N` to the check"
                )
            })
        };
        let bind = match check.bind_to {
            Some(b) if b.0.is_ipv4() != ip.is_ipv4() => {
                return Err(format!(
                    "{kind_name} check of {ip}: `bind_to = \"{}\"` is of the other address \
                     family than the target; bind to an address of the target's family, or drop \
                     `bind_to`",
                    b.0
                ));
            }
            b => b.map(|b| b.0),
        };
        let kind = match check.kind {
            CheckType::None => Kind::None,
            CheckType::Tcp => Kind::Tcp(tcp::Tcp::new(target()?, bind)),
            CheckType::Http | CheckType::Https => {
                Kind::Http(Box::new(http::Http::new(check, target()?, bind)?))
            }
            CheckType::Udp => Kind::Udp(udp::Udp::new(check, target()?, bind)),
            CheckType::Dns => Kind::Dns(dns::Dns::new(check, target()?, bind)?),
            CheckType::Exec => Kind::Exec(exec::Exec::new(check, ip, port)?),
        };
        Ok(Probe { kind })
    }

    /// One attempt, bounded by `timeout` as a whole (connect + request +
    /// body). Never panics. An exec check that runs past the timeout has
    /// its whole process group killed.
    pub async fn run(&self, timeout: Duration) -> Outcome {
        let deadline = Deadline::after(timeout);
        // Each step bounds itself by the same deadline and names itself in
        // the failure; the outer bound below only catches a step that
        // forgot to. A tcp attempt is one step, so it has none (a second
        // timer set and cleared per attempt). The other kinds are boxed: an
        // http attempt (hyper and TLS state) is kilobytes.
        let attempt: std::pin::Pin<Box<dyn Future<Output = Outcome> + Send + '_>> = match &self.kind
        {
            Kind::None => return Ok(()),
            Kind::Tcp(p) => return p.run(deadline).await,
            Kind::Http(p) => Box::pin(p.run(deadline)),
            Kind::Udp(p) => Box::pin(p.run(deadline)),
            Kind::Dns(p) => Box::pin(p.run(deadline)),
            Kind::Exec(p) => Box::pin(p.run(deadline)),
        };
        match tokio::time::timeout_at(deadline.at, attempt).await {
            Ok(outcome) => outcome,
            Err(_) => Err(deadline.expired("")),
        }
    }

    /// A tcp probe's target and `bind_to`: the check task connects those
    /// itself, many on one epoll set (`check::connects`).
    pub fn tcp(&self) -> Option<(SocketAddr, Option<IpAddr>)> {
        match &self.kind {
            Kind::Tcp(p) => Some(p.target()),
            _ => None,
        }
    }

    /// What the probe does, for logs: "http GET http://10.0.0.2:80/health".
    pub fn describe(&self) -> String {
        match &self.kind {
            Kind::None => "none (always up)".to_string(),
            Kind::Tcp(p) => p.describe(),
            Kind::Http(p) => p.describe(),
            Kind::Udp(p) => p.describe(),
            Kind::Dns(p) => p.describe(),
            Kind::Exec(p) => p.describe(),
        }
    }
}

impl fmt::Debug for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Probe").field(&self.describe()).finish()
    }
}

/// When the attempt must be over, shared by its steps so that the whole
/// attempt (not each step) is bounded by the timeout.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline {
    at: tokio::time::Instant,
    budget: Duration,
}

impl Deadline {
    fn after(budget: Duration) -> Deadline {
        Deadline {
            at: tokio::time::Instant::now() + budget,
            budget,
        }
    }

    /// Runs one step of the attempt; past the deadline it fails with
    /// "timed out after N ms {step}".
    pub(crate) async fn step<T>(
        &self,
        step: &str,
        fut: impl Future<Output = T>,
    ) -> Result<T, Failure> {
        tokio::time::timeout_at(self.at, fut)
            .await
            .map_err(|_| self.expired(step))
    }

    /// Like [`Deadline::step`], for a step whose error is an io::Error.
    pub(crate) async fn io_step<T>(
        &self,
        step: &str,
        fut: impl Future<Output = io::Result<T>>,
    ) -> Result<T, Failure> {
        self.step(step, fut)
            .await?
            .map_err(|e| Failure::new(io_reason(&e)))
    }

    pub(crate) fn expired(&self, step: &str) -> Failure {
        timed_out(self.budget, step)
    }

    pub(crate) fn budget_ms(&self) -> u128 {
        self.budget.as_millis()
    }

    pub(crate) fn at(&self) -> tokio::time::Instant {
        self.at
    }
}

/// A socket error as a short reason. The common ones get fixed words (so
/// that logs and alerts can match them); the rest keep the system's text.
/// An attempt of `budget` that ran out during `step` ("" for none).
pub(crate) fn timed_out(budget: Duration, step: &str) -> Failure {
    let ms = budget.as_millis();
    if step.is_empty() {
        Failure::new(format!("timed out after {ms} ms"))
    } else {
        Failure::new(format!("timed out after {ms} ms {step}"))
    }
}

pub(crate) fn io_reason(e: &io::Error) -> String {
    use io::ErrorKind as K;
    let fixed = match e.kind() {
        K::ConnectionRefused => "connection refused",
        K::ConnectionReset => "connection reset",
        K::ConnectionAborted => "connection aborted",
        K::HostUnreachable => "host unreachable",
        K::NetworkUnreachable => "network unreachable",
        K::AddrNotAvailable => "address not available (is `bind_to` an address of this host?)",
        K::UnexpectedEof => "connection closed early",
        _ => return e.to_string(),
    };
    fixed.to_string()
}

/// An error and its causes on one line, "a: b: c", each cause once.
pub(crate) fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        let text = match cause.downcast_ref::<io::Error>() {
            Some(io) => io_reason(io),
            None => cause.to_string(),
        };
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        next = cause.source();
    }
    out
}

/// Text from the config or a reply, cut for a failure reason so that one
/// huge `expect` or reply cannot flood the log.
pub(crate) fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let cut: String = text.chars().take(max).collect();
        format!("{cut}…")
    }
}

/// Parses `hex` (any case) into exactly `N` bytes.
pub(crate) fn parse_hex<const N: usize>(hex: &str) -> Option<[u8; N]> {
    let hex = hex.as_bytes();
    if hex.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (i, pair) in hex.chunks_exact(2).enumerate() {
        let hi = (pair[0] as char).to_digit(16)?;
        let lo = (pair[1] as char).to_digit(16)?;
        out[i] = u8::try_from(hi * 16 + lo).ok()?;
    }
    Some(out)
}

/// Lowercase hex, as md5sum and keepalived's genhash print digests.
pub(crate) fn to_hex(bytes: &[u8]) -> String {
    use fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// A UDP socket for udp and dns probes, from `bind` (or any address of the
/// target's family) and connected to `target`, so that the kernel drops
/// datagrams from anyone else and reports ICMP port-unreachable as
/// ECONNREFUSED on the next receive.
pub(crate) async fn udp_socket(
    target: SocketAddr,
    bind: Option<IpAddr>,
) -> Result<tokio::net::UdpSocket, Failure> {
    let local = match (bind, target) {
        (Some(ip), _) => SocketAddr::new(ip, 0),
        (None, SocketAddr::V4(_)) => SocketAddr::new(IpAddr::from([0u8; 4]), 0),
        (None, SocketAddr::V6(_)) => SocketAddr::new(IpAddr::from([0u16; 8]), 0),
    };
    let sock = tokio::net::UdpSocket::bind(local).await.map_err(|e| {
        Failure::new(format!(
            "cannot bind a UDP socket to {local}: {}",
            io_reason(&e)
        ))
    })?;
    sock.connect(target)
        .await
        .map_err(|e| Failure::new(io_reason(&e)))?;
    Ok(sock)
}

/// The reason for a receive error on a connected UDP socket: refused means
/// an ICMP port-unreachable came back, which is worth saying.
pub(crate) fn udp_reason(e: &io::Error) -> String {
    if e.kind() == io::ErrorKind::ConnectionRefused {
        "connection refused (ICMP port unreachable)".to_string()
    } else {
        io_reason(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_rejects_junk() {
        let b: [u8; 2] = parse_hex("aB09").unwrap();
        assert_eq!(b, [0xab, 0x09]);
        assert_eq!(to_hex(&b), "ab09");
        assert!(parse_hex::<2>("ab0").is_none());
        assert!(parse_hex::<2>("zz00").is_none());
        assert!(parse_hex::<1>("+f").is_none());
    }

    /// Attempts are spawned as tasks (the check task's runtime is its
    /// own, but the future must still be `Send` to reach its thread).
    #[test]
    fn attempts_are_send() {
        fn send<T: Send>(_: T) {}
        let check: Check = toml::from_str("type = \"tcp\"\nport = 80").unwrap();
        let probe = Probe::new(&check, [127, 0, 0, 1].into(), None).unwrap();
        send(probe.run(Duration::from_secs(1)));
    }

    /// An attempt is copied when it is spawned, 10,000 a second at scale:
    /// the big kinds are boxed so that a tcp attempt stays small.
    #[test]
    fn an_attempt_is_small() {
        let check: Check = toml::from_str("type = \"tcp\"\nport = 80").unwrap();
        let probe = Probe::new(&check, [127, 0, 0, 1].into(), None).unwrap();
        let size = std::mem::size_of_val(&probe.run(Duration::from_secs(1)));
        assert!(size <= 1024, "an attempt's future is {size} bytes");
    }

    #[test]
    fn shorten_cuts_on_characters() {
        assert_eq!(shorten("héllo", 10), "héllo");
        assert_eq!(shorten("héllo", 2), "hé…");
    }
}

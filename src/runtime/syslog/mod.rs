//! Remote logs (`[logging] remote`): every log line also goes to syslog
//! collectors as an RFC 5424 message, over UDP, TCP or TLS.
//!
//! ```text
//!   tracing::info!(..) ─► RemoteLayer::on_event (the logging thread: formats
//!        │                 once, try_send to each sink; never waits)
//!        ▼  bounded channel per collector (1024 lines; full: dropped, counted)
//!   syslog task ─ one worker per collector: UDP datagrams, or a TCP/TLS
//!                 connection with octet counting, connected again with
//!                 backoff; a reload changes only the collectors that changed
//! ```
//!
//! Logging must never hold the director up: the layer only formats and
//! hands off, and a collector that is down or slow loses lines (counted in
//! `pharos status` and `pharos_syslog_dropped_lines_total`) rather than
//! delaying a VRRP advert. The [`Hub`] is process-wide because the tracing
//! subscriber is: the layer is installed once, at start, and the task sets
//! and changes the sinks it feeds.

pub mod format;
pub mod status;
pub mod task;

use std::sync::{Arc, Mutex, OnceLock};

use prometheus_client::metrics::counter::Counter;
use tokio::sync::mpsc;
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::Context;

/// A line on its way to one collector: its severity and its message from
/// VERSION on (the PRI is the collector's: its facility).
#[derive(Debug, Clone)]
pub struct Line {
    pub severity: u8,
    pub body: Arc<str>,
}

/// Where the layer hands a line for one collector.
#[derive(Clone)]
pub struct Sink {
    pub tx: mpsc::Sender<Line>,
    /// Lines this collector lost: a full channel here, a failed send in
    /// the worker.
    pub dropped: Counter,
}

/// What the layer feeds: the sinks and the host name they are sent with.
#[derive(Default)]
pub struct Hub {
    sinks: Mutex<Arc<Feed>>,
}

#[derive(Default)]
pub struct Feed {
    pub hostname: String,
    pub sinks: Vec<Sink>,
}

impl Hub {
    /// Replaces what the layer feeds. No logging under the lock: the layer
    /// takes it on every line, on this thread too.
    pub fn set(&self, feed: Feed) {
        *self.sinks.lock().unwrap_or_else(|e| e.into_inner()) = Arc::new(feed);
    }

    fn feed(&self) -> Arc<Feed> {
        self.sinks.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// The process's hub.
pub fn hub() -> &'static Hub {
    static HUB: OnceLock<Hub> = OnceLock::new();
    HUB.get_or_init(Hub::default)
}

/// The tracing layer that turns each event into an RFC 5424 body and
/// hands it to every sink.
pub struct RemoteLayer;

/// The event's message and fields.
#[derive(Default)]
struct Fields {
    msg: String,
    params: Vec<(String, String)>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.msg.push_str(value);
        } else {
            self.params
                .push((field.name().to_string(), value.to_string()));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.msg = format!("{value:?}");
        } else {
            self.params
                .push((field.name().to_string(), format!("{value:?}")));
        }
    }
}

/// MSGID: the event's kind, else its task, else the module of pharos that
/// logged it (`pharos::vrrp::task` → `vrrp`).
fn msgid<'a>(params: &'a [(String, String)], target: &'a str) -> &'a str {
    for key in ["kind", "task"] {
        if let Some((_, v)) = params.iter().find(|(k, _)| k == key) {
            return v;
        }
    }
    target
        .strip_prefix("pharos::")
        .map_or(target, |t| t.split("::").next().unwrap_or(t))
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for RemoteLayer {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        let feed = hub().feed();
        if feed.sinks.is_empty() {
            return;
        }
        let mut f = Fields::default();
        event.record(&mut f);
        let meta = event.metadata();
        let body: Arc<str> = format::body(&format::Record {
            time: std::time::SystemTime::now(),
            hostname: &feed.hostname,
            procid: std::process::id(),
            msgid: msgid(&f.params, meta.target()),
            params: &f.params,
            msg: &f.msg,
        })
        .into();
        let line = Line {
            severity: format::severity(meta.level()),
            body,
        };
        for s in &feed.sinks {
            if s.tx.try_send(line.clone()).is_err() {
                s.dropped.inc();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use tracing_subscriber::prelude::*;

    /// A collector whose queue is full loses lines, counted, and the
    /// logging thread goes on at once.
    #[test]
    fn a_full_queue_drops_and_counts_lines_without_waiting() {
        let (tx, mut rx) = mpsc::channel(2);
        let dropped = Counter::default();
        hub().set(Feed {
            hostname: "lvs1".into(),
            sinks: vec![Sink {
                tx,
                dropped: dropped.clone(),
            }],
        });
        let started = std::time::Instant::now();
        tracing::subscriber::with_default(tracing_subscriber::registry().with(RemoteLayer), || {
            for i in 0..5 {
                let kind = "vrrp";
                tracing::warn!(kind = %kind, instance = "VI_1", "line {i}");
            }
        });
        hub().set(Feed::default());
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        assert_eq!(dropped.get(), 3);
        let first = rx.try_recv().expect("a line");
        assert_eq!(first.severity, 4);
        let m = format::message(3, first.severity, &first.body, format::MAX_UDP);
        let parsed = syslog_rfc5424::parse_message(&m).expect("RFC 5424");
        assert_eq!(parsed.msgid.as_deref(), Some("vrrp"));
        assert_eq!(parsed.hostname.as_deref(), Some("lvs1"));
        assert_eq!(
            parsed
                .sd
                .find_tuple(format::SD_ID, "instance")
                .map(String::as_str),
            Some("VI_1")
        );
        assert_eq!(parsed.msg, "line 0");
        assert!(
            rx.try_recv()
                .expect("a second line")
                .body
                .ends_with("line 1")
        );
        assert!(rx.try_recv().is_err());
    }

    #[test]
    fn the_msgid_is_the_kind_the_task_or_the_module() {
        let p = |v: &[(&str, &str)]| -> Vec<(String, String)> {
            v.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        };
        assert_eq!(
            msgid(
                &p(&[("task", "metrics"), ("kind", "config")]),
                "pharos::runtime"
            ),
            "config"
        );
        assert_eq!(
            msgid(&p(&[("task", "metrics")]), "pharos::runtime::x"),
            "metrics"
        );
        assert_eq!(msgid(&[], "pharos::vrrp::task"), "vrrp");
        assert_eq!(msgid(&[], "hyper"), "hyper");
    }
}

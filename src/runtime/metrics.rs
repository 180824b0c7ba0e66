//! Prometheus metrics: the one registry every subsystem registers its
//! families in (VRRP adverts, check latency, IPVS counters), and the
//! runtime's own (tasks, reloads). Served by `metrics_server.rs`, followed
//! by the standard unprefixed `process_*` metrics (`process_metrics.rs`),
//! in the text format the scraper asked for (`exposition.rs`).

use std::sync::Mutex;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

use super::exposition::{self, Format, Stopped};
use super::process_metrics::ProcessCollector;

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
    /// No prefix: `process_*` are the names every Prometheus client uses.
    process: Registry,
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
        // Both results from 0 on (see `task_up`).
        for result in ["applied", "invalid"] {
            drop(reloads.get_or_create(&ResultLabel {
                result: result.into(),
            }));
        }
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
        // `pharos_build_info{version="..."} 1`, as Prometheus's own
        // binaries say theirs: a dashboard or alert joins on it to tell
        // which boxes run which release.
        registry.register(
            "build",
            "The version of pharos running (as `pharos --version` prints it); always 1",
            Info::new([("version", env!("CARGO_PKG_VERSION"))]),
        );
        let mut process = Registry::default();
        process.register_collector(Box::new(ProcessCollector));
        Metrics {
            registry: Mutex::new(registry),
            process,
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
        let label = TaskLabel { task: task.into() };
        self.up.get_or_create(&label).set(i64::from(up));
        // Its restarts from 0 on: a counter that appears only at its
        // first increment hides that increment from `increase()`.
        drop(self.restarts.get_or_create(&label));
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

    /// The exposition of every metric, in `format`, whole: for tests and
    /// small registries. `/metrics` streams it ([`Metrics::write`]).
    pub fn encode(&self, format: Format) -> String {
        let mut out = String::new();
        self.write(format, |chunk| {
            out.push_str(&chunk);
            Ok(())
        })
        .expect("collecting into a String does not stop");
        out
    }

    /// The exposition of every metric, in `format`, handed to `send` in
    /// chunks of about [`exposition::CHUNK`] bytes as it is made, so that
    /// a scrape holds a chunk or two, not the whole text (at 10,000 IPVS
    /// services of 10 real servers that is about 280 MB). `send` may
    /// block: the IPVS families are read from the view a batch at a time
    /// (`ipvs::view::Metrics`), not under its lock while `send` waits.
    /// `Err` when `send` said stop; the exposition is then incomplete.
    pub fn write(
        &self,
        format: Format,
        send: impl FnMut(String) -> Result<(), Stopped>,
    ) -> Result<(), Stopped> {
        let mut out = exposition::Chunked::new(format, send);
        let reg = self.registry();
        let written = (|| -> std::fmt::Result {
            use prometheus_client::encoding::text;
            text::encode_registry(&mut out, &reg)?;
            text::encode_registry(&mut out, &self.process)?;
            text::encode_eof(&mut out)
        })();
        drop(reg);
        // Writing fails only when a chunk could not be sent.
        written.map_err(|_| Stopped)?;
        out.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_has_the_process_metrics_unprefixed_before_eof() {
        let m = Metrics::new();
        m.task_restarted("vrrp");
        let om = m.encode(Format::OpenMetrics);
        assert!(om.ends_with("# EOF\n"), "{om}");
        assert_eq!(om.matches("# EOF").count(), 1, "{om}");
        assert!(om.contains("# TYPE pharos_task_restarts counter\n"), "{om}");
        assert!(om.contains("# TYPE process_cpu_seconds counter\n"), "{om}");
        // The classic text, read as the 0.0.4 format it says it is: every
        // counter typed as one, under its `_total` name.
        let text = m.encode(Format::Text);
        assert!(!text.contains("# EOF"), "{text}");
        let scrape =
            prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();
        let value = |name: &str| {
            let s = scrape.samples.iter().find(|s| s.metric == name);
            match s.map(|s| &s.value) {
                Some(prometheus_parse::Value::Gauge(v) | prometheus_parse::Value::Counter(v)) => *v,
                other => panic!("{name}: {other:?}\n{text}"),
            }
        };
        let counter = |name: &str| {
            let s = scrape.samples.iter().find(|s| s.metric == name);
            assert!(
                matches!(
                    s.map(|s| &s.value),
                    Some(prometheus_parse::Value::Counter(_))
                ),
                "{name} is a counter\n{text}"
            );
            assert!(scrape.docs.contains_key(name), "{name} has help\n{text}");
        };
        assert_eq!(value("pharos_task_restarts_total"), 1.0);
        counter("pharos_task_restarts_total");
        counter("process_cpu_seconds_total");
        assert!(value("process_resident_memory_bytes") > 0.0);
        assert!(value("pharos_resident_anon_memory_bytes") > 0.0);
        assert!(value("process_virtual_memory_bytes") > 0.0);
        assert!(value("process_open_fds") >= 3.0);
        assert!(value("process_start_time_seconds") > 1.7e9);
        assert!(value("process_cpu_seconds_total") >= 0.0);
        assert_eq!(value("pharos_build_info"), 1.0);
        assert!(
            text.contains(&format!(
                "pharos_build_info{{version=\"{}\"}} 1\n",
                env!("CARGO_PKG_VERSION")
            )),
            "{text}"
        );
        assert!(text.contains("# TYPE process_open_fds gauge\n"), "{text}");
        assert!(
            text.contains("# HELP process_open_fds Number of open file descriptors.\n"),
            "{text}"
        );
    }
}

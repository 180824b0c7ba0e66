//! Prometheus metrics: the one registry every subsystem registers its
//! families in (VRRP adverts, check latency, IPVS counters), and the
//! runtime's own (tasks, reloads). Served by `metrics_server.rs`, followed
//! by the standard unprefixed `process_*` metrics (`process_metrics.rs`).

use std::sync::Mutex;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

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
        let write = |out: &mut String| -> std::fmt::Result {
            use prometheus_client::encoding::text;
            text::encode_registry(out, &reg)?;
            text::encode_registry(out, &self.process)?;
            text::encode_eof(out)
        };
        write(&mut out).expect("writing to a String cannot fail");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_has_the_process_metrics_unprefixed_before_eof() {
        let m = Metrics::new();
        m.task_restarted("vrrp");
        let text = m.encode();
        assert!(text.ends_with("# EOF\n"), "{text}");
        assert_eq!(text.matches("# EOF").count(), 1, "{text}");
        let scrape =
            prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();
        let value = |name: &str| {
            let s = scrape.samples.iter().find(|s| s.metric == name);
            // prometheus-parse reads an OpenMetrics counter (TYPE without
            // `_total`, the sample with it) as untyped.
            match s.map(|s| &s.value) {
                Some(
                    prometheus_parse::Value::Gauge(v)
                    | prometheus_parse::Value::Counter(v)
                    | prometheus_parse::Value::Untyped(v),
                ) => *v,
                other => panic!("{name}: {other:?}\n{text}"),
            }
        };
        assert_eq!(value("pharos_task_restarts_total"), 1.0);
        assert!(value("process_resident_memory_bytes") > 0.0);
        assert!(value("pharos_resident_anon_memory_bytes") > 0.0);
        assert!(value("process_virtual_memory_bytes") > 0.0);
        assert!(value("process_open_fds") >= 3.0);
        assert!(value("process_start_time_seconds") > 1.7e9);
        assert!(value("process_cpu_seconds_total") >= 0.0);
        assert!(text.contains("# TYPE process_open_fds gauge\n"), "{text}");
        assert!(
            text.contains("# HELP process_open_fds Number of open file descriptors.\n"),
            "{text}"
        );
    }
}

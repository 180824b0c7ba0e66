//! Prometheus metrics: the one registry every subsystem registers its
//! families in (VRRP adverts, check latency, IPVS counters), and the
//! runtime's own (tasks, reloads). Served by `metrics_server.rs`.

use std::sync::Mutex;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

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

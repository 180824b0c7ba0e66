//! The VRRP families of `/metrics`: adverts sent, received and dropped (by
//! reason), transitions, and each instance's state and effective priority.
//! Registered once, in the runtime's registry; the VRRP task counts.

use std::sync::OnceLock;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family as MFamily;
use prometheus_client::metrics::gauge::Gauge;

use super::fsm::State;
use crate::runtime::supervisor::Shared;

/// `vrrp_instance`, the config's name (`vrrp.NAME`): not `instance`,
/// which Prometheus gives every scraped series (the target's address) and
/// would rename to `exported_instance`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct InstLabel {
    vrrp_instance: String,
}

/// The interface a dropped packet came in on, and the instance it was
/// for when it could be matched to one (its VRID and family).
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
struct DropLabel {
    interface: String,
    instance: Option<String>,
    reason: &'static str,
}

impl EncodeLabelSet for DropLabel {
    fn encode(
        &self,
        encoder: &mut prometheus_client::encoding::LabelSetEncoder<'_>,
    ) -> Result<(), std::fmt::Error> {
        match &self.instance {
            Some(i) => [
                ("vrrp_instance", i.as_str()),
                ("interface", self.interface.as_str()),
                ("reason", self.reason),
            ]
            .encode(encoder),
            None => [
                ("interface", self.interface.as_str()),
                ("reason", self.reason),
            ]
            .encode(encoder),
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    vrrp_instance: String,
    state: String,
}

pub struct VrrpMetrics {
    sent: MFamily<InstLabel, Counter>,
    received: MFamily<InstLabel, Counter>,
    dropped: MFamily<DropLabel, Counter>,
    transitions: MFamily<StateLabel, Counter>,
    state: MFamily<StateLabel, Gauge>,
    priority: MFamily<InstLabel, Gauge>,
}

impl VrrpMetrics {
    pub fn sent(&self, i: &str) {
        self.sent
            .get_or_create(&InstLabel {
                vrrp_instance: i.into(),
            })
            .inc();
    }
    pub fn received(&self, i: &str) {
        self.received
            .get_or_create(&InstLabel {
                vrrp_instance: i.into(),
            })
            .inc();
    }
    /// A packet dropped on `interface`; `instance` when it could be
    /// matched to one.
    pub fn dropped(&self, interface: &str, instance: Option<&str>, reason: &'static str) {
        self.dropped
            .get_or_create(&DropLabel {
                interface: interface.into(),
                instance: instance.map(Into::into),
                reason,
            })
            .inc();
    }
    pub fn transition(&self, i: &str, to: State) {
        self.transitions
            .get_or_create(&StateLabel {
                vrrp_instance: i.into(),
                state: to.name().into(),
            })
            .inc();
    }
    pub fn state(&self, i: &str, s: State, prio: u8) {
        for st in [State::Init, State::Backup, State::Master, State::Fault] {
            self.state
                .get_or_create(&StateLabel {
                    vrrp_instance: i.into(),
                    state: st.name().into(),
                })
                .set(i64::from(st == s));
        }
        let label = InstLabel {
            vrrp_instance: i.into(),
        };
        self.priority.get_or_create(&label).set(i64::from(prio));
        // Its adverts from 0 on: a counter that appears only at its first
        // increment hides that increment from `increase()`.
        drop(self.sent.get_or_create(&label));
        drop(self.received.get_or_create(&label));
    }
}

static METRICS: OnceLock<VrrpMetrics> = OnceLock::new();

pub fn metrics(shared: &Shared) -> &'static VrrpMetrics {
    METRICS.get_or_init(|| {
        let m = VrrpMetrics {
            sent: MFamily::default(),
            received: MFamily::default(),
            dropped: MFamily::default(),
            transitions: MFamily::default(),
            state: MFamily::default(),
            priority: MFamily::default(),
        };
        let mut r = shared.metrics.registry();
        r.register(
            "vrrp_adverts_sent",
            "VRRP advertisements sent",
            m.sent.clone(),
        );
        r.register(
            "vrrp_adverts_received",
            "VRRP advertisements received and accepted",
            m.received.clone(),
        );
        r.register(
            "vrrp_adverts_dropped",
            "VRRP packets dropped, by interface, reason (RFC 5798 §7.1 checks) and vrrp_instance when the packet matched one",
            m.dropped.clone(),
        );
        r.register(
            "vrrp_transitions",
            "VRRP state changes, by new state",
            m.transitions.clone(),
        );
        r.register(
            "vrrp_state",
            "1 for the state each VRRP instance is in, 0 for the others (init, backup, master, fault)",
            m.state.clone(),
        );
        r.register(
            "vrrp_priority",
            "Effective VRRP priority (configured plus tracking)",
            m.priority.clone(),
        );
        m
    })
}

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

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct InstLabel {
    instance: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DropLabel {
    instance: String,
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    instance: String,
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
            .get_or_create(&InstLabel { instance: i.into() })
            .inc();
    }
    pub fn received(&self, i: &str) {
        self.received
            .get_or_create(&InstLabel { instance: i.into() })
            .inc();
    }
    /// `who` is the instance, or the interface when the packet could not
    /// be matched to one.
    pub fn dropped(&self, who: &str, reason: &str) {
        self.dropped
            .get_or_create(&DropLabel {
                instance: who.into(),
                reason: reason.into(),
            })
            .inc();
    }
    pub fn transition(&self, i: &str, to: State) {
        self.transitions
            .get_or_create(&StateLabel {
                instance: i.into(),
                state: to.name().into(),
            })
            .inc();
    }
    pub fn state(&self, i: &str, s: State, prio: u8) {
        for st in [State::Init, State::Backup, State::Master, State::Fault] {
            self.state
                .get_or_create(&StateLabel {
                    instance: i.into(),
                    state: st.name().into(),
                })
                .set(i64::from(st == s));
        }
        self.priority
            .get_or_create(&InstLabel { instance: i.into() })
            .set(i64::from(prio));
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
            "VRRP packets dropped, by reason (RFC 5798 §7.1 checks)",
            m.dropped.clone(),
        );
        r.register(
            "vrrp_transitions",
            "VRRP state changes, by new state",
            m.transitions.clone(),
        );
        r.register(
            "vrrp_state",
            "1 for the state each VRRP instance is in",
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

//! The health board: what the checks say now, published by the check task
//! on every transition and followed by the IPVS task (weights, sorry
//! server) and the VRRP task (tracking). The check task owns it; the others
//! hold a receiver.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::config::resolve::ServerId;

/// The check task's view, published on every transition.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HealthBoard {
    /// Checked real servers: up now. A checked server missing here has not
    /// passed yet, so it is down.
    pub real_servers: BTreeMap<ServerId, bool>,
    /// Services by name: at or above their quorum.
    pub services: BTreeMap<String, bool>,
    /// Stand-alone `[checks]` by name.
    pub checks: BTreeMap<String, bool>,
}

/// The board's channel: the check task sends, the others subscribe. The
/// board is shared, not copied: an IPVS pass takes it along at the cost of
/// a reference count (it copied the names of 10,000 services each time),
/// and the check task copies it only if it changes while a pass holds it.
pub type Board = Arc<tokio::sync::watch::Sender<Arc<HealthBoard>>>;

/// A new, empty board: nothing has passed yet.
pub fn board() -> Board {
    Arc::new(tokio::sync::watch::Sender::new(Arc::default()))
}

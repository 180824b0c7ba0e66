//! VRRP (RFC 3768 v2, RFC 5798 v3): failover of the virtual addresses
//! between directors, interoperable on the wire with keepalived 2.2.
//!
//! - [`packet`]: the advertisement codec and the receive checks (sans-IO).
//! - [`fsm`]: one instance's state machine, `(now, input) -> actions` (sans-IO).
//! - [`garp`]: gratuitous ARP and unsolicited neighbour advertisement frames
//!   and the AF_PACKET socket that sends them.
//! - [`metrics`]: the VRRP families of `/metrics`.
//! - [`notify`]: notify hooks, run in order, without a shell, with a timeout.
//! - [`socket`]: raw IP sockets for protocol 112.
//! - [`status`]: the typed section of `pharos status`.
//! - [`vmac`]: an instance's virtual MAC (`virtual_mac = true`): its
//!   macvlan and the sysctls it needs.
//! - [`task`]: the supervisor's VRRP task, the IO shell that wires them up:
//!   it adds and removes VIPs with the network plane's rtnetlink code, tells
//!   the IPVS task its sync-daemon role ([`Roles`]), and reports to status,
//!   events and metrics.

use std::collections::BTreeMap;
use std::sync::Arc;

pub mod fsm;
pub mod garp;
pub mod metrics;
pub mod notify;
pub mod packet;
pub mod socket;
pub mod status;
pub mod task;
pub mod vmac;

/// Whether each VRRP instance is master now, by name: written by the VRRP
/// task, followed by the IPVS sync daemon (`[ipvs.sync] follows`).
pub type VrrpRoles = BTreeMap<String, bool>;

/// The roles' channel: the VRRP task sends, the IPVS task subscribes.
pub type Roles = Arc<tokio::sync::watch::Sender<VrrpRoles>>;

/// A new channel: no instance is master yet.
pub fn roles() -> Roles {
    Arc::new(tokio::sync::watch::Sender::new(VrrpRoles::new()))
}

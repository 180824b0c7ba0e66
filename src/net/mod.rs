//! The network plane: sysctls, kernel modules, links (physical, VLAN, bond,
//! bridge, macvlan, dummy, tunnels), addresses and routes.
//!
//! Owns everything pharos sets on the host's network configuration (but the
//! VRRP virtual addresses, which the VRRP task owns). Talks to the kernel
//! (/proc/sys, and through `crate::kernel`: finit_module, rtnetlink) and to
//! the supervisor (as the `net` task, rank 40: stopped last, since the
//! others depend on it). Each part has a sans-IO diff between what the
//! config wants and what the live kernel has; `pharos plan` prints that
//! diff and the task applies it. [`status`] is its typed section of
//! `pharos status`.

use std::collections::BTreeSet;
use std::sync::Arc;

pub mod desired;
pub mod link;
pub mod plan;
pub mod route;
pub mod status;
pub mod sysctl;
pub mod task;

/// The kernel modules of the config that are in the kernel now (loaded or
/// built in). The network plane alone loads modules for a config; a task
/// that needs one (IPVS: `ip_vs` and its schedulers) waits for it here.
pub type Modules = Arc<tokio::sync::watch::Sender<BTreeSet<String>>>;

/// A new channel: nothing loaded yet.
pub fn modules() -> Modules {
    Arc::new(tokio::sync::watch::Sender::new(BTreeSet::new()))
}

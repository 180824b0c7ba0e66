//! IPVS: the director's data plane, owned over generic netlink.
//!
//! - [`model`]: the kernel's table as plain data.
//! - [`codec`]: the generic-netlink messages as bytes (sans-IO).
//! - [`genl`]: the socket that carries them.
//! - [`desired`]: the config's services in the kernel's terms.
//! - [`reconcile`]: wanted against live, as operations (sans-IO).
//! - [`task`]: the supervised task that applies them and reports.
//! - [`render`]: the table as `ipvsadm -Ln` / `ipvsadm -Sn` print it.
//! - [`plan`]: `pharos plan`'s IPVS section, the reconciler's diff.
//! - [`status`]: the typed section of `pharos status`.
//! - [`view`]: the table as last known, rendered for status and metrics when asked.
//!
//! Talks to: the kernel (family "IPVS"; `ip_vs` and the schedulers are
//! loaded through `crate::kernel::modules`), the check task's health board
//! (weights, sorry server) and the VRRP roles (the sync daemon), both read
//! through what their owners publish, and the supervisor (status, events,
//! metrics).

pub mod codec;
pub mod desired;
pub mod genl;
pub mod model;
pub mod plan;
pub mod reconcile;
pub mod render;
pub mod status;
pub mod task;
pub mod view;

//! IPVS: the director's data plane, owned over generic netlink.
//!
//! - [`model`]: the kernel's table as plain data.
//! - [`codec`]: the generic-netlink messages as bytes (sans-IO).
//! - [`genl`]: the socket that carries them.
//! - [`desired`]: the config's services in the kernel's terms.
//! - [`reconcile`]: wanted against live, as operations (sans-IO).
//! - [`task`]: the supervised task that applies them and reports.
//! - [`render`]: the table as `ipvsadm -Ln` / `ipvsadm -Sn` print it.
//!
//! Talks to: the kernel (family "IPVS"), the network plane (modules), the
//! supervisor (status, events, metrics).

pub mod codec;
pub mod desired;
pub mod genl;
pub mod model;
pub mod plan;
pub mod reconcile;
pub mod render;
pub mod status;
pub mod task;

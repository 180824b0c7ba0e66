//! IPVS: the director's data plane, owned over generic netlink.
//!
//! - [`model`]: the kernel's table as plain data.
//!
//! Talks to: the kernel (family "IPVS"), the network plane (modules), the
//! supervisor (status, events, metrics).

pub mod model;

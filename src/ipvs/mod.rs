//! IPVS: the director's data plane, owned over generic netlink.
//!
//! - [`model`]: the kernel's table as plain data.
//! - [`render`]: the table as `ipvsadm -Ln` / `ipvsadm -Sn` print it.
//!
//! Talks to: the kernel (family "IPVS"), the network plane (modules), the
//! supervisor (status, events, metrics).

pub mod model;
pub mod render;

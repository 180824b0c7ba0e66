//! The kernel adapters every subsystem uses and none owns: rtnetlink for
//! links, addresses and routes ([`rtnl`], speaking of [`objects`]), netlink
//! attributes as bytes ([`nla`]), and kernel modules ([`modules`]). The IPVS
//! generic-netlink family stays with the IPVS subsystem (`crate::ipvs::genl`),
//! its only user.
//!
//! Who writes what: the network plane (`crate::net`) owns links, its own
//! addresses (IFA_PROTO [`objects::PROTO`]), routes, sysctls and the modules
//! a config uses; the VRRP task owns the virtual addresses ([`objects::VIP_PROTO`]);
//! PID 1 loads the boot modules; the IPVS task owns the IPVS table.

pub mod error;
pub mod modules;
pub mod nla;
pub mod objects;
pub mod rtnl;

pub use error::KernelError;

//! The kernel's network objects as rtnetlink reads and writes them: links,
//! addresses and routes, and the marks that say which are pharos's. The
//! vocabulary shared by `rtnl.rs` and the subsystems that decide what to
//! ask of it (the network plane's diffs, the VRRP task's VIPs).

use std::net::IpAddr;

use crate::config::types::Cidr;

/// The IFA_PROTO value that marks an address as pharos's ('p'), and the
/// rtm_protocol value of its routes (see /etc/iproute2/rt_protos for the
/// numbers others use).
pub const PROTO: u8 = 0x70;

/// The IFA_PROTO value of VRRP virtual addresses ('q'): added and removed by
/// the VRRP task as mastership moves, never touched by the network plane.
pub const VIP_PROTO: u8 = 0x71;

/// The IFA_PROTO value of the management NIC's address ('r'): added by the
/// management API from the box's identity (so a box in maintenance mode is
/// reachable), never touched by the network plane.
pub const MGMT_PROTO: u8 = 0x72;

/// RT_TABLE_MAIN.
pub const MAIN: u32 = 254;

/// A link pharos can create.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum LinkKind {
    Dummy,
    Vlan {
        parent: String,
        id: u16,
    },
    /// Bonding mode as the kernel names it (`active-backup`, `802.3ad`...).
    Bond {
        mode: String,
        members: Vec<String>,
        miimon_ms: u32,
        primary: Option<String>,
    },
    Bridge {
        members: Vec<String>,
    },
    /// Mode as the kernel names it (`private`, `vepa`, `bridge`, `passthru`).
    Macvlan {
        parent: String,
        mode: String,
    },
    Ipip {
        local: Option<IpAddr>,
        remote: Option<IpAddr>,
        ttl: Option<u8>,
    },
    Gre {
        local: Option<IpAddr>,
        remote: Option<IpAddr>,
        ttl: Option<u8>,
    },
    /// `tunl0`: appears when the ipip module loads.
    Fallback,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkLive {
    pub index: u32,
    pub name: String,
    /// Administratively up (IFF_UP).
    pub up: bool,
    /// Has carrier (IFF_LOWER_UP): what VRRP tracks.
    pub carrier: bool,
    pub mtu: u32,
    /// The permanent MAC when the kernel knows it (a bond member's current
    /// one is the bond's), else the current one; lowercase with colons.
    pub mac: String,
    /// IFLA_MASTER: the bond or bridge this link is a port of.
    pub master: Option<u32>,
    /// For a bond: its MII interval and primary member, as the kernel has them.
    pub bond: Option<BondLive>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BondLive {
    pub miimon_ms: u32,
    pub primary: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddrLive {
    pub index: u32,
    pub cidr: Cidr,
    /// IFA_PROTO, 0 when unset.
    pub proto: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RouteWant {
    pub dst: Cidr,
    pub via: Option<IpAddr>,
    pub dev: Option<String>,
    pub src: Option<IpAddr>,
    pub metric: u32,
    pub table: u32,
    pub origin: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteLive {
    pub dst: Cidr,
    pub via: Option<IpAddr>,
    pub oif: Option<u32>,
    pub metric: u32,
    pub table: u32,
    pub protocol: u8,
}

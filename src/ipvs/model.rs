//! The kernel's IPVS table as plain data: what the generic-netlink codec
//! reads and writes, what the reconciler compares, what `pharos ipvs list`
//! prints. Values are the kernel's own (linux/ip_vs.h), so nothing is lost
//! between a dump and a re-add.

use std::fmt;
use std::net::IpAddr;

/// IPPROTO_* numbers.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum Proto {
    Tcp,
    Udp,
    Sctp,
}

impl Proto {
    pub fn number(self) -> u16 {
        match self {
            Proto::Tcp => 6,
            Proto::Udp => 17,
            Proto::Sctp => 132,
        }
    }

    pub fn from_number(n: u16) -> Option<Proto> {
        match n {
            6 => Some(Proto::Tcp),
            17 => Some(Proto::Udp),
            132 => Some(Proto::Sctp),
            _ => None,
        }
    }

    /// As ipvsadm -Ln writes it.
    pub fn upper(self) -> &'static str {
        match self {
            Proto::Tcp => "TCP",
            Proto::Udp => "UDP",
            Proto::Sctp => "SCTP",
        }
    }
}

/// What identifies a virtual service in the kernel.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum ServiceKey {
    /// VIP:port (port 0 for a port-less persistent service).
    Addr {
        proto: Proto,
        addr: IpAddr,
        port: u16,
    },
    /// A firewall-mark service; `v6` for AF_INET6.
    Fwmark { mark: u32, v6: bool },
}

impl ServiceKey {
    pub fn is_v6(&self) -> bool {
        match self {
            ServiceKey::Addr { addr, .. } => addr.is_ipv6(),
            ServiceKey::Fwmark { v6, .. } => *v6,
        }
    }
}

impl fmt::Display for ServiceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServiceKey::Addr { proto, addr, port } => match addr {
                IpAddr::V4(a) => write!(f, "{} {a}:{port}", proto.upper()),
                IpAddr::V6(a) => write!(f, "{} [{a}]:{port}", proto.upper()),
            },
            ServiceKey::Fwmark { mark, v6 } => {
                write!(f, "FWM {mark}{}", if *v6 { " IPv6" } else { "" })
            }
        }
    }
}

/// IP_VS_SVC_F_* service flags.
pub mod flags {
    pub const PERSISTENT: u32 = 0x0001;
    pub const HASHED: u32 = 0x0002;
    pub const ONEPACKET: u32 = 0x0004;
    /// sh-fallback / mh-fallback.
    pub const SCHED1: u32 = 0x0008;
    /// sh-port / mh-port.
    pub const SCHED2: u32 = 0x0010;
    pub const SCHED3: u32 = 0x0020;
    /// The flags a user sets (HASHED is the kernel's own bookkeeping).
    pub const USER: u32 = PERSISTENT | ONEPACKET | SCHED1 | SCHED2 | SCHED3;
}

/// A service's settings (everything but its key and destinations).
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct ServiceSpec {
    pub key: ServiceKey,
    /// Scheduler name: rr, wrr, lc, wlc, ..., mh, twos.
    pub scheduler: String,
    /// IP_VS_SVC_F_* (see [`flags`]); compared on [`flags::USER`] only.
    pub flags: u32,
    /// Persistence timeout in seconds (0 unless PERSISTENT).
    pub timeout: u32,
    /// Persistence netmask: an IPv4 mask in network order as the kernel
    /// keeps it (0xffffffff = /32) for IPv4, a prefix length for IPv6.
    pub netmask: u32,
    /// Persistence engine (`sip`), rarely used.
    pub pe_name: Option<String>,
}

impl ServiceSpec {
    /// The netmask value the kernel stores for a prefix length.
    pub fn netmask_for(v6: bool, prefix: u8) -> u32 {
        if v6 {
            u32::from(prefix.min(128))
        } else {
            let p = u32::from(prefix.min(32));
            let host_order = if p == 0 { 0 } else { u32::MAX << (32 - p) };
            // Kept as the __be32 of the mask; we store the same bytes.
            u32::from_ne_bytes(host_order.to_be_bytes())
        }
    }

    /// Equal as far as a user can tell (the kernel adds HASHED).
    pub fn same_settings(&self, other: &ServiceSpec) -> bool {
        self.scheduler == other.scheduler
            && self.flags & flags::USER == other.flags & flags::USER
            && self.timeout == other.timeout
            && self.netmask == other.netmask
            && self.pe_name == other.pe_name
    }
}

/// IP_VS_CONN_F_* forwarding methods.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum Forward {
    /// Masquerading (NAT), 0.
    Masq,
    /// Local node, 1.
    Local,
    /// IP tunnelling, 2.
    Tunnel,
    /// Direct routing, 3.
    Route,
    /// Bypass, 4.
    Bypass,
}

impl Forward {
    pub fn number(self) -> u32 {
        match self {
            Forward::Masq => 0,
            Forward::Local => 1,
            Forward::Tunnel => 2,
            Forward::Route => 3,
            Forward::Bypass => 4,
        }
    }

    pub fn from_number(n: u32) -> Option<Forward> {
        Some(match n & 0x7 {
            0 => Forward::Masq,
            1 => Forward::Local,
            2 => Forward::Tunnel,
            3 => Forward::Route,
            4 => Forward::Bypass,
            _ => return None,
        })
    }
}

/// IP_VS_CONN_F_TUNNEL_TYPE_*.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
pub enum TunType {
    #[default]
    Ipip,
    Gue,
    Gre,
}

impl TunType {
    pub fn number(self) -> u8 {
        match self {
            TunType::Ipip => 0,
            TunType::Gue => 1,
            TunType::Gre => 2,
        }
    }

    pub fn from_number(n: u8) -> TunType {
        match n {
            1 => TunType::Gue,
            2 => TunType::Gre,
            _ => TunType::Ipip,
        }
    }
}

/// IP_VS_TUNNEL_ENCAP_FLAG_*: 0 none, 1 checksum, 2 remote checksum.
pub mod tun_flags {
    pub const NOCSUM: u16 = 0;
    pub const CSUM: u16 = 1 << 0;
    pub const REMCSUM: u16 = 1 << 1;
}

/// A destination (real server) of a service.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct DestSpec {
    pub addr: IpAddr,
    pub port: u16,
    pub forward: Forward,
    pub weight: u32,
    /// Upper / lower connection thresholds, 0 = none.
    pub u_threshold: u32,
    pub l_threshold: u32,
    pub tun_type: TunType,
    /// UDP port for gue (host order).
    pub tun_port: u16,
    pub tun_flags: u16,
}

impl DestSpec {
    pub fn key(&self) -> (IpAddr, u16) {
        (self.addr, self.port)
    }

    /// `ip:port`, an IPv6 address in brackets, as messages and status say it.
    pub fn endpoint(&self) -> String {
        match self.addr {
            IpAddr::V4(a) => format!("{a}:{}", self.port),
            IpAddr::V6(a) => format!("[{a}]:{}", self.port),
        }
    }
}

/// Traffic counters of a service or destination (IPVS_STATS_ATTR_*; the
/// 64-bit set when the kernel has it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Stats {
    pub conns: u64,
    pub inpkts: u64,
    pub outpkts: u64,
    pub inbytes: u64,
    pub outbytes: u64,
    pub cps: u64,
    pub inpps: u64,
    pub outpps: u64,
    pub inbps: u64,
    pub outbps: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DestLive {
    pub spec: DestSpec,
    pub active_conns: u32,
    pub inact_conns: u32,
    pub persist_conns: u32,
    pub stats: Stats,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ServiceLive {
    pub spec: ServiceSpec,
    pub stats: Stats,
    /// In the kernel's order (the order ipvsadm prints).
    pub dests: Vec<DestLive>,
}

/// The whole table, services in the kernel's dump order.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Table {
    pub services: Vec<ServiceLive>,
}

/// IPVS_INFO: the kernel's IPVS version (0x010201 is 1.2.1) and connection
/// table size, for the header ipvsadm prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Info {
    pub version: u32,
    pub conn_tab_size: u32,
}

/// IPVS_CMD_ATTR_TIMEOUT_*: seconds, 0 in a SET means "leave as is".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Timeouts {
    pub tcp: u32,
    pub tcp_fin: u32,
    pub udp: u32,
}

/// A connection-sync daemon (IPVS_DAEMON_ATTR_*).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Daemon {
    /// IP_VS_STATE_MASTER (1) or IP_VS_STATE_BACKUP (2).
    pub master: bool,
    pub ifname: String,
    pub sync_id: u32,
}

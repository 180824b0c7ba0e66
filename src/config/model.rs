//! The typed shape of `pharos.toml`.
//!
//! Every table rejects keys it does not know. Named things (interfaces,
//! VRRP instances, services, checks) are tables keyed by name so that node
//! overlays can override single fields of them. Doc comments here become the
//! descriptions in `pharos schema`, which editors show while the file is
//! edited.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::types::{
    Cidr, Community, Duration, Endpoint, Family, Fwmark, IfName, Ip, MacAddr, Port, Priority,
    RouteTarget, StatusRange, SysctlValue, TrackWeight, VirtualAddress, Vrid, Weight,
};

/// A whole pharos configuration, after the node overlay has been merged.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Host-wide settings: hostname, kernel modules, sysctls.
    #[serde(default)]
    pub system: System,
    /// Network interfaces by name: addresses, MTU, VLANs, bonds, dummies.
    #[serde(default)]
    pub interfaces: BTreeMap<IfName, Interface>,
    /// IP tunnels by name (ipip, gre), including the `tunl0` fallback device.
    #[serde(default)]
    pub tunnels: BTreeMap<IfName, Tunnel>,
    /// Static routes by name; `to = "default"` for a default gateway.
    #[serde(default)]
    pub routes: BTreeMap<String, Route>,
    /// The real-server role: VIPs on `lo` (DR) or `tunl0` (TUN) with the
    /// ARP and rp_filter settings those need.
    #[serde(default)]
    pub realserver: Option<RealServer>,
    /// VRRP instances by name.
    #[serde(default)]
    pub vrrp: BTreeMap<String, VrrpInstance>,
    /// VRRP sync groups by name: members change state together.
    #[serde(default)]
    pub sync_groups: BTreeMap<String, SyncGroup>,
    /// Kernel IPVS settings: connection timeouts, the sync daemon, ownership.
    #[serde(default)]
    pub ipvs: Ipvs,
    /// Virtual services by name. Shared (`Arc`) with `config::Memo`, which
    /// keeps each one's typed value for the next reload.
    #[serde(default)]
    pub services: BTreeMap<String, std::sync::Arc<Service>>,
    /// Stand-alone checks by name, for VRRP tracking (keepalived's vrrp_script).
    #[serde(default)]
    pub checks: BTreeMap<String, Check>,
    /// The control socket that `pharos status`, `reload` and `events` use.
    #[serde(default)]
    pub control: Control,
    /// Where and how much pharos logs.
    #[serde(default)]
    pub logging: Logging,
    /// The Prometheus metrics endpoint.
    #[serde(default)]
    pub metrics: Metrics,
    /// Route health injection: the VIPs of services with `announce`,
    /// announced over BGP (by BIRD, which pharos runs) while healthy.
    pub bgp: Option<Bgp>,
}

// ---------------------------------------------------------------- system

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct System {
    /// The host name to set at boot.
    pub hostname: Option<String>,
    /// `net.ipv4.ip_forward`: needed by NAT directors. Unset leaves the kernel's value.
    pub ip_forward: Option<bool>,
    /// `net.ipv6.conf.all.forwarding`.
    pub ipv6_forward: Option<bool>,
    /// Extra kernel modules to load. The ones a config needs (ip_vs and its
    /// schedulers, ipip, gre, 8021q, bonding, dummy) are loaded without being listed.
    #[serde(default)]
    pub modules: Vec<String>,
    /// Per-interface IPv4 sysctls (`net.ipv4.conf.NAME.*`); NAME is an
    /// interface, `all` or `default`.
    #[serde(default)]
    pub conf: BTreeMap<String, InterfaceSysctls>,
    /// Any other sysctl, by its dotted name: `"net.ipv4.vs.expire_nodest_conn" = 1`.
    #[serde(default)]
    pub sysctl: BTreeMap<String, SysctlValue>,
    /// What a box that matches none of the file's `[nodes.*]` tables runs:
    /// `maintenance` (the default: no VIPs, no IPVS, and its console says
    /// which MAC addresses and host name it has), or `base`, the config
    /// without any overlay. A stray or replacement box must not become a
    /// third director by accident.
    #[serde(default)]
    pub unmatched: Unmatched,
    /// The box's clock, set by SNTP (RFC 4330): `ntp = { servers =
    /// ["10.0.0.1", "10.0.0.2:123"] }`. The first answer after boot steps
    /// the clock; after that offsets up to `step_threshold` are slewed and
    /// larger ones stepped. Unset: pharos leaves the clock alone (leave it
    /// unset where another NTP client runs, e.g. chrony or
    /// systemd-timesyncd on an ordinary distribution).
    pub ntp: Option<Ntp>,
}

/// `[system] ntp`: an SNTPv4 client (RFC 4330, RFC 5905 §14).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Ntp {
    /// NTP servers by IP address, with an optional port (123 when left
    /// out): `"10.0.0.1"`, `"10.0.0.2:123"`, `"[2001:db8::1]:123"`. Host
    /// names are not taken: the appliance has no resolver, and a clock that
    /// waits on DNS may never be set. Asked one at a time, in order; the
    /// next one is asked when one does not answer or answers badly.
    pub servers: Vec<Endpoint>,
    /// How often to ask once the clock is set. Default: 64s (RFC 4330 §10
    /// forbids less than 15 s). A server that does not answer is asked again
    /// after 2 s, then 4 s, doubling up to this.
    #[serde(default = "ntp_poll")]
    pub poll: Duration,
    /// Offsets past this are stepped (the clock jumps), smaller ones slewed
    /// (the clock runs up to 0.05% faster or slower until it is right, so
    /// time never goes backwards and no second is lost). A later offset past
    /// it is stepped only when two answers in a row say so. Default: 128ms,
    /// ntpd's step threshold (RFC 5905 §10's STEPT).
    #[serde(default = "ntp_step")]
    pub step_threshold: Duration,
}

fn ntp_poll() -> Duration {
    Duration::from_secs(64)
}

fn ntp_step() -> Duration {
    Duration::from_millis(128)
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Unmatched {
    #[default]
    Maintenance,
    Base,
}

/// The ARP and reverse-path settings LVS setups need, per interface.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InterfaceSysctls {
    /// `arp_ignore` (0–8): 1 answers ARP only for addresses on the receiving interface.
    pub arp_ignore: Option<u8>,
    /// `arp_announce` (0–2): 2 always uses the best local address as ARP source.
    pub arp_announce: Option<u8>,
    /// `rp_filter`: 0 off, 1 strict, 2 loose.
    pub rp_filter: Option<u8>,
    /// `forwarding` for this interface.
    pub forwarding: Option<bool>,
}

// ---------------------------------------------------------------- links

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Interface {
    /// Find the device by its MAC address (it is renamed to this table's name).
    #[serde(rename = "match")]
    pub match_: Option<InterfaceMatch>,
    /// Administrative state. Default: up.
    #[serde(default = "yes")]
    pub up: bool,
    /// MTU in bytes (68 to 65535).
    pub mtu: Option<u32>,
    /// Addresses with prefix lengths, IPv4 and IPv6.
    #[serde(default)]
    pub addresses: Vec<Cidr>,
    /// Make this a VLAN sub-interface of `parent` with tag `id`.
    pub vlan: Option<Vlan>,
    /// Make this a bond of `members`.
    pub bond: Option<Bond>,
    /// Make this a dummy interface (a place to hold addresses).
    #[serde(default)]
    pub dummy: bool,
    /// Make this a bridge of `members`.
    pub bridge: Option<Bridge>,
    /// Make this a macvlan on `parent` (its own MAC on the parent's wire).
    pub macvlan: Option<Macvlan>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Bridge {
    /// The ports of the bridge.
    pub members: Vec<IfName>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Macvlan {
    /// The interface the macvlan sits on.
    pub parent: IfName,
    /// How macvlans on one parent reach each other. Default: bridge.
    #[serde(default)]
    pub mode: MacvlanMode,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MacvlanMode {
    Private,
    Vepa,
    #[default]
    Bridge,
    Passthru,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InterfaceMatch {
    pub mac: MacAddr,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Vlan {
    /// The interface that carries the tagged frames.
    pub parent: IfName,
    /// The 802.1Q tag, 1 to 4094.
    pub id: u16,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Bond {
    pub mode: BondMode,
    /// The enslaved interfaces.
    pub members: Vec<IfName>,
    /// MII link monitoring interval. Default: 100ms.
    #[serde(default = "default_miimon")]
    pub miimon: Duration,
    /// The preferred member in active-backup mode.
    pub primary: Option<IfName>,
}

fn default_miimon() -> Duration {
    Duration::from_millis(100)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum BondMode {
    BalanceRr,
    ActiveBackup,
    BalanceXor,
    Broadcast,
    #[serde(rename = "802.3ad")]
    Lacp,
    BalanceTlb,
    BalanceAlb,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Tunnel {
    #[serde(rename = "type")]
    pub kind: TunnelKind,
    /// Local endpoint. Unset for the `tunl0` fallback device that LVS-TUN
    /// real servers use to receive from any director.
    pub local: Option<Ip>,
    /// Remote endpoint; unset for a tunnel that receives from anyone.
    pub remote: Option<Ip>,
    /// Send through this interface.
    pub dev: Option<IfName>,
    /// Outer TTL; unset inherits the inner packet's.
    pub ttl: Option<u8>,
    pub mtu: Option<u32>,
    #[serde(default = "yes")]
    pub up: bool,
    #[serde(default)]
    pub addresses: Vec<Cidr>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TunnelKind {
    Ipip,
    Gre,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// Destination: `"default"` or a prefix.
    pub to: RouteTarget,
    /// Gateway address.
    pub via: Option<Ip>,
    /// Output interface.
    pub dev: Option<IfName>,
    /// Preferred source address.
    pub src: Option<Ip>,
    pub metric: Option<u32>,
    /// Routing table number; default: main.
    pub table: Option<u32>,
}

// ---------------------------------------------------------------- real server

/// What a real server behind an LVS director needs (scenarios 4 and 5).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RealServer {
    /// LVS-DR: VIPs go on `lo` as /32 (/128), with `arp_ignore = 1` and
    /// `arp_announce = 2` on `all`, `lo` and the listed interfaces so the
    /// real server never answers ARP for them.
    pub dr: Option<RealServerDr>,
    /// LVS-TUN: VIPs go on `tunl0`, with `rp_filter` relaxed on `tunl0` and `all`.
    pub tun: Option<RealServerTun>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RealServerDr {
    /// The service VIPs this server answers for.
    pub vips: Vec<Ip>,
    /// Physical interfaces to silence ARP on (besides `all` and `lo`).
    #[serde(default)]
    pub arp_interfaces: Vec<IfName>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RealServerTun {
    pub vips: Vec<Ip>,
    /// rp_filter for `tunl0` and `all`: 0 (off) or 2 (loose). Default 0.
    #[serde(default)]
    pub rp_filter: u8,
    /// Also silence ARP on these interfaces (a director with two NICs).
    #[serde(default)]
    pub arp_interfaces: Vec<IfName>,
}

// ---------------------------------------------------------------- VRRP

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VrrpInstance {
    /// The interface adverts are sent and received on.
    pub interface: IfName,
    /// Virtual router ID, the same on every router of the group.
    pub vrid: Vrid,
    /// VRRP version: 2 (RFC 3768, IPv4 only, keepalived's default) or 3 (RFC 5798).
    #[serde(default)]
    pub version: VrrpVersion,
    /// 1–254; 255 marks the owner of the addresses. Default: 100.
    #[serde(default)]
    pub priority: Priority,
    /// Advertisement interval. v2: whole seconds 1s–255s; v3: 10ms steps up to 40.95s.
    #[serde(default = "default_advert")]
    pub advert_interval: Duration,
    /// Take over from a lower-priority master. Default: true.
    #[serde(default = "yes")]
    pub preempt: bool,
    /// Wait this long after start before preempting.
    pub preempt_delay: Option<Duration>,
    /// VRRPv2 authentication. v3 has none (RFC 5798 §9).
    pub authentication: Option<Authentication>,
    /// The virtual addresses (VIPs) this instance holds while master.
    pub virtual_addresses: Vec<VirtualAddress>,
    /// Device the VIPs are added to; default: `interface`.
    pub vip_interface: Option<IfName>,
    /// Send adverts from this address to `unicast_peers` instead of multicast.
    pub unicast_source: Option<Ip>,
    /// Peers to send adverts to by unicast (clouds block multicast).
    #[serde(default)]
    pub unicast_peers: Vec<Ip>,
    /// The virtual router MAC (RFC 5798 §7.3): 00:00:5e:00:01:VRID (IPv6 00:00:5e:00:02:VRID) on a macvlan `vrrp.VRID` (`vrrp6.VRID`), up while master, holding the VIPs; adverts and gratuitous ARPs / NAs leave from it. keepalived's `use_vmac`.
    #[serde(default)]
    pub virtual_mac: bool,
    /// Accept packets to the VIPs while master even when not the owner (RFC 5798 §6.1 Accept_Mode).
    #[serde(default = "yes")]
    pub accept: bool,
    /// What lowers or raises the priority, or puts the instance in Fault.
    #[serde(default)]
    pub track: Track,
    /// Commands run on transitions.
    #[serde(default)]
    pub notify: Notify,
    /// Gratuitous ARP / unsolicited NA on becoming master.
    #[serde(default)]
    pub garp: Garp,
}

fn default_advert() -> Duration {
    Duration::from_secs(1)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VrrpVersion {
    #[default]
    V2,
    V3,
}

impl<'de> Deserialize<'de> for VrrpVersion {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match i64::deserialize(d)? {
            2 => Ok(VrrpVersion::V2),
            3 => Ok(VrrpVersion::V3),
            n => Err(serde::de::Error::custom(format!(
                "VRRP version {n} does not exist\nhelp: use 2 (RFC 3768, what keepalived speaks by default) or 3 (RFC 5798, needed for IPv6)"
            ))),
        }
    }
}

impl Serialize for VrrpVersion {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(match self {
            VrrpVersion::V2 => 2,
            VrrpVersion::V3 => 3,
        })
    }
}

impl JsonSchema for VrrpVersion {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "VrrpVersion".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": "integer", "enum": [2, 3] })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Authentication {
    #[serde(rename = "type")]
    pub kind: AuthKind,
    /// PASS password, at most 8 bytes (RFC 2338 §5.3.6.1), sent in clear.
    pub password: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AuthKind {
    None,
    Pass,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Track {
    /// Interfaces by name; a down link applies its weight.
    #[serde(default)]
    pub interfaces: BTreeMap<IfName, Tracked>,
    /// Checks (from `[checks]`) by name.
    #[serde(default)]
    pub checks: BTreeMap<String, Tracked>,
    /// Services (from `[services]`) by name: down when below quorum.
    #[serde(default)]
    pub services: BTreeMap<String, Tracked>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Tracked {
    /// Priority change: positive added while up, negative subtracted while
    /// down; 0 (the default) puts the instance in Fault while down.
    #[serde(default)]
    pub weight: TrackWeight,
}

/// Commands run on transitions, each an argv list run without a shell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Notify {
    pub master: Option<Vec<String>>,
    pub backup: Option<Vec<String>>,
    pub fault: Option<Vec<String>>,
    pub stop: Option<Vec<String>>,
    /// Run on every transition, after the specific one.
    pub any: Option<Vec<String>>,
    /// How long a command may run before it is killed. Default: 10s.
    #[serde(default = "default_notify_timeout")]
    pub timeout: Duration,
}

impl Default for Notify {
    fn default() -> Self {
        Notify {
            master: None,
            backup: None,
            fault: None,
            stop: None,
            any: None,
            timeout: default_notify_timeout(),
        }
    }
}

fn default_notify_timeout() -> Duration {
    Duration::from_secs(10)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Garp {
    /// Gratuitous ARPs (or NAs) per VIP in a burst. Default: 5.
    #[serde(default = "default_garp_count")]
    pub count: u32,
    /// Time between the packets of a burst. Default: 0s.
    #[serde(default)]
    pub interval: Duration,
    /// A second burst this long after becoming master; "0s" for none. Default: 5s.
    #[serde(default = "default_garp_delay")]
    pub delay: Duration,
    /// Repeat a burst this often while master; unset for never.
    pub refresh: Option<Duration>,
}

impl Default for Garp {
    fn default() -> Self {
        Garp {
            count: default_garp_count(),
            interval: Duration::default(),
            delay: default_garp_delay(),
            refresh: None,
        }
    }
}

fn default_garp_count() -> u32 {
    5
}

fn default_garp_delay() -> Duration {
    Duration::from_secs(5)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncGroup {
    /// VRRP instances that change state together.
    pub members: Vec<String>,
    #[serde(default)]
    pub notify: Notify,
}

// ---------------------------------------------------------------- IPVS

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Ipvs {
    /// The IPVS table is pharos's alone: entries it does not manage are removed.
    #[serde(default)]
    pub exclusive: bool,
    /// On shutdown: keep the table (default) or flush what pharos added.
    #[serde(default)]
    pub on_shutdown: ShutdownAction,
    /// `ipvsadm --set tcp tcpfin udp` timeouts.
    pub timeouts: Option<IpvsTimeouts>,
    /// The connection-sync daemon, so a backup director keeps connections.
    pub sync: Option<SyncDaemon>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ShutdownAction {
    #[default]
    Keep,
    Flush,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IpvsTimeouts {
    pub tcp: Option<Duration>,
    pub tcpfin: Option<Duration>,
    pub udp: Option<Duration>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncDaemon {
    /// Interface the sync messages go over.
    pub interface: IfName,
    /// Sync ID (0 to 255), the same on both directors.
    #[serde(default)]
    pub sync_id: u8,
    /// The VRRP instance whose state decides the role: master daemon while
    /// it is master, backup daemon otherwise.
    pub follows: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Service {
    /// VIP:port, or a VIP alone for a service on all ports (needs persistence).
    pub address: Option<Endpoint>,
    /// A firewall-mark service instead of an address.
    pub fwmark: Option<Fwmark>,
    /// Family of a firewall-mark service. Default: ipv4.
    pub family: Option<Family>,
    /// Default: tcp.
    #[serde(default)]
    pub protocol: Protocol,
    /// Default: wlc, as ipvsadm.
    #[serde(default)]
    pub scheduler: Scheduler,
    /// Flags for the `sh` and `mh` schedulers.
    #[serde(default)]
    pub scheduler_flags: Vec<SchedulerFlag>,
    /// How packets reach the real servers: nat, dr or tun. Required: it
    /// decides how the network is built.
    pub forwarding: Forwarding,
    /// Encapsulation for `forwarding = "tun"`.
    pub tunnel: Option<TunnelEncap>,
    /// Keep a client on the same real server for this long.
    pub persistence: Option<Duration>,
    /// Clients in the same prefix share persistence: a prefix length (IPv4 0–32, IPv6 0–128).
    pub persistence_netmask: Option<u8>,
    /// One-packet scheduling (UDP): schedule every datagram.
    #[serde(default)]
    pub one_packet: bool,
    /// Where traffic goes when no real server is up.
    pub sorry_server: Option<Endpoint>,
    /// The service is up while the up real servers' weights sum to at least this.
    pub quorum: Option<u32>,
    /// Quorum hysteresis: up at quorum + hysteresis, down below quorum − hysteresis.
    #[serde(default)]
    pub hysteresis: u32,
    /// A failed real server gets weight 0 (default, keeps connections) or is removed.
    #[serde(default)]
    pub on_failure: FailureAction,
    /// Real servers dropped from the config are drained at weight 0 for this long first.
    pub drain: Option<Duration>,
    /// The VRRP instance whose virtual address this service lives on.
    pub vrrp: Option<String>,
    /// The health check for every real server (each may override it).
    /// Boxed: a check is two thirds of a service's size, and a typed
    /// service is kept between reloads (`config::Memo`).
    pub check: Option<Box<Check>>,
    /// Real servers by `address:port` (`address` alone for a port-less service).
    #[serde(default)]
    pub real_servers: BTreeMap<Endpoint, RealServerEntry>,
    /// Announce this service's VIP over BGP (`[bgp]`) while the service
    /// has its quorum here: `announce = {}`, or with the route's
    /// attributes, `announce = { med = 100, communities = ["65000:80"] }`.
    /// A VIP several services share is announced while every one of them
    /// that announces it has its quorum. Default: not announced.
    pub announce: Option<Announce>,
}

/// How a service's VIP is announced (`[services.NAME] announce`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Announce {
    /// The multi-exit discriminator (RFC 4271 §5.1.4): between two
    /// directors announcing the VIP to the same neighbour AS, the lower
    /// wins. Default: none sent.
    pub med: Option<u32>,
    /// BGP communities to add: `"ASN:VALUE"` (RFC 1997, each part
    /// 0-65535) or large communities `"ASN:VALUE:VALUE"` (RFC 8092, each
    /// part 0-4294967295). Default: none.
    #[serde(default)]
    pub communities: Vec<Community>,
    /// How many more times this director's AS is put in the AS path: a
    /// longer path makes this director the backup for the VIP (0-8).
    /// Default: 0.
    #[serde(default)]
    pub prepend: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    #[default]
    Tcp,
    Udp,
    Sctp,
}

/// Every IPVS scheduler (ipvsadm(8)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Scheduler {
    /// Round robin.
    Rr,
    /// Weighted round robin.
    Wrr,
    /// Least connections.
    Lc,
    /// Weighted least connections (ipvsadm's default).
    #[default]
    Wlc,
    /// Locality-based least connections.
    Lblc,
    /// Locality-based least connections with replication.
    Lblcr,
    /// Destination hashing.
    Dh,
    /// Source hashing.
    Sh,
    /// Shortest expected delay.
    Sed,
    /// Never queue.
    Nq,
    /// Weighted failover.
    Fo,
    /// Weighted overflow.
    Ovf,
    /// Maglev hashing.
    Mh,
    /// Weighted random twos choice (kernel 5.18+).
    Twos,
}

impl Scheduler {
    pub fn name(self) -> &'static str {
        match self {
            Scheduler::Rr => "rr",
            Scheduler::Wrr => "wrr",
            Scheduler::Lc => "lc",
            Scheduler::Wlc => "wlc",
            Scheduler::Lblc => "lblc",
            Scheduler::Lblcr => "lblcr",
            Scheduler::Dh => "dh",
            Scheduler::Sh => "sh",
            Scheduler::Sed => "sed",
            Scheduler::Nq => "nq",
            Scheduler::Fo => "fo",
            Scheduler::Ovf => "ovf",
            Scheduler::Mh => "mh",
            Scheduler::Twos => "twos",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SchedulerFlag {
    /// sh/mh: pick another server when the hashed one is unavailable.
    Fallback,
    /// sh/mh: hash the source port too.
    Port,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Forwarding {
    /// Masquerading: the director rewrites addresses; replies come back through it.
    Nat,
    /// Direct routing: the director rewrites the MAC; real servers answer clients directly.
    Dr,
    /// Tunnelling: packets are encapsulated to the real servers.
    Tun,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TunnelEncap {
    #[serde(rename = "type", default)]
    pub kind: TunnelEncapKind,
    /// UDP port for gue.
    pub port: Option<Port>,
    /// Checksums for gue/gre.
    #[serde(default)]
    pub checksum: TunnelChecksum,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TunnelEncapKind {
    #[default]
    Ipip,
    Gue,
    Gre,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TunnelChecksum {
    #[default]
    None,
    Checksum,
    Remote,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum FailureAction {
    /// Set its weight to 0: no new connections, existing ones continue.
    #[default]
    Quiesce,
    /// Remove it from the kernel table.
    Remove,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RealServerEntry {
    /// Default: 1.
    #[serde(default)]
    pub weight: Weight,
    /// Override the service's forwarding for this server.
    pub forwarding: Option<Forwarding>,
    /// Stop sending new connections above this many (0: no limit).
    pub upper_threshold: Option<u32>,
    /// Resume below this many.
    pub lower_threshold: Option<u32>,
    /// Override the service's check for this server. Boxed: a check is
    /// ten times the rest of the entry, and most entries have none (a
    /// 10,000-service config holds 110,000 entries).
    pub check: Option<Box<Check>>,
}

// ---------------------------------------------------------------- checks

/// A health check. Which keys apply depends on `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Check {
    #[serde(rename = "type")]
    pub kind: CheckType,
    /// Time between checks. Default: 5s.
    #[serde(default = "default_check_interval")]
    pub interval: Duration,
    /// Time one attempt may take. Default: 5s, or the interval if shorter.
    pub timeout: Option<Duration>,
    /// Extra attempts before a check counts as failed. Default: 1.
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// Time between attempts. Default: 1s.
    #[serde(default = "default_retry_delay")]
    pub retry_delay: Duration,
    /// Passes in a row to come up. Default: 1.
    #[serde(default = "one")]
    pub rise: u32,
    /// Failures in a row to go down. Default: 1.
    #[serde(default = "one")]
    pub fall: u32,
    /// Probe this port instead of the real server's (tcp, http, https, udp,
    /// dns). Where neither has one: http 80, https 443, dns 53; tcp and udp
    /// must say.
    pub port: Option<Port>,
    /// Probe this address instead of the real server's (stand-alone checks need it).
    pub address: Option<Ip>,
    /// Source address of probes.
    pub bind_to: Option<Ip>,
    /// http/https: request path. Default: "/".
    pub path: Option<String>,
    /// http/https: Host header (and SNI for https).
    pub host: Option<String>,
    /// http/https: accepted status codes. Default: 200-299.
    pub status: Option<Vec<StatusRange>>,
    /// http/https: hex MD5 of the body, as keepalived's genhash prints it.
    pub md5: Option<String>,
    /// http/https: hex SHA-256 of the body.
    pub sha256: Option<String>,
    /// http/https: the body must contain this text.
    pub body_contains: Option<String>,
    /// https: certificate verification. Default: none (real servers use self-signed ones).
    pub verify: Option<TlsVerify>,
    /// https with `verify = "ca"`: PEM file of trusted CAs.
    pub ca_file: Option<String>,
    /// udp: payload to send.
    pub payload: Option<String>,
    /// udp: the reply must contain this text; unset accepts any reply (or none, if `expect_reply = false`).
    pub expect: Option<String>,
    /// udp: a check passes only if a reply comes. Default: true.
    pub expect_reply: Option<bool>,
    /// dns: the name to query.
    pub query_name: Option<String>,
    /// dns: record type. Default: A.
    pub query_type: Option<DnsType>,
    /// dns: expected response code. Default: NOERROR.
    pub rcode: Option<DnsRcode>,
    /// dns: an address that must be in the answer.
    pub answer: Option<String>,
    /// exec: argv, run without a shell; exit 0 is a pass.
    pub command: Option<Vec<String>>,
}

fn default_check_interval() -> Duration {
    Duration::from_secs(5)
}
impl Check {
    /// The well-known port of the check's protocol, if it has one.
    pub fn default_port(&self) -> Option<u16> {
        match self.kind {
            CheckType::Http => Some(80),
            CheckType::Https => Some(443),
            CheckType::Dns => Some(53),
            _ => None,
        }
    }

    /// The time one attempt may take: as written, else 5s or the interval
    /// if that is shorter (a 1s check must not wait 5s for an answer).
    pub fn timeout(&self) -> Duration {
        self.timeout
            .unwrap_or(Duration::from_secs(5).min(self.interval))
    }
}
fn default_retries() -> u32 {
    1
}
fn default_retry_delay() -> Duration {
    Duration::from_secs(1)
}
fn one() -> u32 {
    1
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CheckType {
    /// TCP connect (keepalived TCP_CHECK).
    Tcp,
    /// HTTP GET (HTTP_GET).
    Http,
    /// HTTPS GET (SSL_GET).
    Https,
    /// UDP request/response (UDP_CHECK).
    Udp,
    /// DNS query (DNS_CHECK).
    Dns,
    /// A command (MISC_CHECK / vrrp_script).
    Exec,
    /// No check: always up.
    None,
}

impl CheckType {
    pub fn name(self) -> &'static str {
        match self {
            CheckType::Tcp => "tcp",
            CheckType::Http => "http",
            CheckType::Https => "https",
            CheckType::Udp => "udp",
            CheckType::Dns => "dns",
            CheckType::Exec => "exec",
            CheckType::None => "none",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TlsVerify {
    /// Accept any certificate.
    None,
    /// Verify against the system's roots.
    System,
    /// Verify against `ca_file`.
    Ca,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum DnsType {
    A,
    Aaaa,
    Cname,
    Mx,
    Ns,
    Ptr,
    Soa,
    Srv,
    Txt,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum DnsRcode {
    Noerror,
    Formerr,
    Servfail,
    Nxdomain,
    Notimp,
    Refused,
}

// ---------------------------------------------------------------- runtime

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Control {
    /// Path of the control socket (root only). Default: /run/pharos/control.sock.
    #[serde(default = "default_socket")]
    pub socket: String,
}

impl Default for Control {
    fn default() -> Self {
        Control {
            socket: default_socket(),
        }
    }
}

fn default_socket() -> String {
    "/run/pharos/control.sock".into()
}

// ------------------------------------------------------------------ bgp

/// `[bgp]`: the BGP speaker that announces the VIPs of services with
/// `announce` to the routers, so several directors can be active at once
/// behind the routers' ECMP. pharos runs BIRD 2 for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Bgp {
    /// This director's AS number (RFC 6793: 1-4294967294; private ones
    /// are 64512-65534 and 4200000000-4294967294).
    pub local_as: u32,
    /// The BGP identifier (RFC 6286): an IPv4 address of this director,
    /// different on every director; set it in each `[nodes.NAME.bgp]`.
    pub router_id: std::net::Ipv4Addr,
    /// The routers to announce to, by name.
    pub neighbors: BTreeMap<String, Neighbor>,
    /// Where pharos writes BIRD's config and BIRD's control socket
    /// (root only; the config holds the neighbours' passwords, so keep
    /// it on tmpfs). Default: /run/pharos/bird.
    #[serde(default = "default_bird_dir")]
    pub bird_dir: String,
}

fn default_bird_dir() -> String {
    "/run/pharos/bird".into()
}

/// A BGP neighbour (`[bgp.neighbors.NAME]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Neighbor {
    /// The router's address; directly connected (one hop away).
    pub address: std::net::IpAddr,
    /// The router's AS number: the same as `local_as` for iBGP.
    #[serde(rename = "as")]
    pub remote_as: u32,
    /// A file holding the TCP MD5 password of the session (RFC 2385), so
    /// the secret is not in this file; its first line is the password.
    /// Default: no password.
    pub password_file: Option<String>,
    /// Bidirectional Forwarding Detection (RFC 5880) on the session: the
    /// router sees this director gone within the BFD time (about 0.3 s)
    /// instead of BGP's hold time. The router must run BFD too.
    /// Default: false.
    #[serde(default)]
    pub bfd: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Logging {
    /// Default: info.
    #[serde(default)]
    pub level: LogLevel,
    /// Default: auto (journald under systemd, the console otherwise).
    #[serde(default)]
    pub target: LogTarget,
    /// Syslog collectors to send every log line to as well, as RFC 5424
    /// messages: `remote = [{ address = "10.0.0.5:514" }, { address =
    /// "10.0.0.6", transport = "tls", ca_file = "/config/syslog-ca.pem" }]`.
    /// Sending never holds pharos up: a collector that is down or slow gets
    /// lines dropped (counted in `pharos status` and
    /// `pharos_syslog_dropped_lines_total`), and is connected to again with
    /// backoff. A reload applies a changed list. Default: none.
    #[serde(default)]
    pub remote: Vec<RemoteLog>,
}

/// One syslog collector of `[logging] remote`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RemoteLog {
    /// The collector's IP address, with an optional port: 514 for udp and
    /// tcp (RFC 5426 §3.3, RFC 6587), 6514 for tls (RFC 5425 §4.1) when left
    /// out. Host names are not taken: the appliance has no resolver.
    pub address: Endpoint,
    /// `udp` (RFC 5426: one message a datagram, up to 2048 bytes), `tcp`
    /// (RFC 6587 §3.4.1 octet counting) or `tls` (RFC 5425, octet counting
    /// over TLS 1.2 or 1.3). Default: udp.
    #[serde(default)]
    pub transport: SyslogTransport,
    /// tls: the PEM file of the CA that signed the collector's certificate
    /// (only that CA is trusted), by its absolute path (`/config/…` on the
    /// image's config partition). Read at each connection. Required for tls.
    pub ca_file: Option<String>,
    /// tls: the name the collector's certificate must carry. Default: its
    /// IP address (an IP address in the certificate's subjectAltName).
    pub server_name: Option<String>,
    /// The syslog facility of every line (RFC 5424 §6.2.1). Default: daemon.
    #[serde(default)]
    pub facility: Facility,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SyslogTransport {
    #[default]
    Udp,
    Tcp,
    Tls,
}

impl SyslogTransport {
    pub fn as_str(self) -> &'static str {
        match self {
            SyslogTransport::Udp => "udp",
            SyslogTransport::Tcp => "tcp",
            SyslogTransport::Tls => "tls",
        }
    }
}

/// RFC 5424 §6.2.1's facilities, by their usual names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Facility {
    Kern,
    User,
    Mail,
    #[default]
    Daemon,
    Auth,
    Syslog,
    Lpr,
    News,
    Uucp,
    Cron,
    Authpriv,
    Ftp,
    Local0,
    Local1,
    Local2,
    Local3,
    Local4,
    Local5,
    Local6,
    Local7,
}

impl Facility {
    /// Its number (RFC 5424 §6.2.1, Table 1).
    pub fn code(self) -> u8 {
        match self {
            Facility::Kern => 0,
            Facility::User => 1,
            Facility::Mail => 2,
            Facility::Daemon => 3,
            Facility::Auth => 4,
            Facility::Syslog => 5,
            Facility::Lpr => 6,
            Facility::News => 7,
            Facility::Uucp => 8,
            Facility::Cron => 9,
            Facility::Authpriv => 10,
            Facility::Ftp => 11,
            Facility::Local0 => 16,
            Facility::Local1 => 17,
            Facility::Local2 => 18,
            Facility::Local3 => 19,
            Facility::Local4 => 20,
            Facility::Local5 => 21,
            Facility::Local6 => 22,
            Facility::Local7 => 23,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Error,
    Warn,
    #[default]
    Info,
    Debug,
    Trace,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LogTarget {
    #[default]
    Auto,
    Console,
    Journald,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Metrics {
    /// Serve Prometheus metrics on this address, e.g. "127.0.0.1:9412". Unset: off.
    pub listen: Option<Endpoint>,
    /// Also serve a read-only status page (`/`) and the status as JSON
    /// (`/status.json`) on `listen`. Default: false.
    #[serde(default)]
    pub status_page: bool,
}

// ---------------------------------------------------------------- nodes

/// What a node is. A real server takes the base config without its
/// director sections (`vrrp`, `sync_groups`, `services`, `ipvs`, `checks`),
/// so one file can describe the directors and the real servers behind them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    #[default]
    Director,
    Realserver,
}

impl Role {
    /// The top-level sections only a director uses.
    pub const DIRECTOR_SECTIONS: &'static [&'static str] =
        &["vrrp", "sync_groups", "services", "ipvs", "checks"];
}

/// How a box recognises itself as a node of the file. Any one that matches
/// is enough; `pharos.node=NAME` on the kernel command line and
/// `--node NAME` always select by name.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NodeMatch {
    /// A MAC address of one of the box's interfaces.
    pub mac: Option<MacAddr>,
    /// The box's current host name.
    pub hostname: Option<String>,
}

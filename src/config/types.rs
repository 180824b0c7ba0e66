//! Value types of the config: durations with units, addresses, prefixes,
//! endpoints, VRIDs, priorities, weights, ports, MACs, interface names.
//!
//! Each parses from what a user writes in TOML and says what it expected
//! when it cannot, with the hint after `\nhelp: ` (see `de::split_help`).

use std::borrow::Cow;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Implements `Deserialize` from a TOML string via `FromStr`, `Serialize` via
/// `Display`, and a string JSON Schema with the given pattern / description.
macro_rules! string_type {
    ($ty:ty, $expecting:expr, $schema:expr) => {
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl Visitor<'_> for V {
                    type Value = $ty;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str($expecting)
                    }
                    fn visit_str<E: de::Error>(self, s: &str) -> Result<$ty, E> {
                        s.parse().map_err(E::custom)
                    }
                }
                d.deserialize_str(V)
            }
        }
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl JsonSchema for $ty {
            fn schema_name() -> Cow<'static, str> {
                stringify!($ty).into()
            }
            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                $schema
            }
        }
    };
}

/// Implements `Deserialize` from a TOML integer in an inclusive range.
macro_rules! int_type {
    ($ty:ident($inner:ty), $lo:expr, $hi:expr, $noun:expr, $help:expr) => {
        impl $ty {
            pub const MIN: $inner = $lo;
            pub const MAX: $inner = $hi;
            pub fn get(self) -> $inner {
                self.0
            }
        }
        impl TryFrom<i64> for $ty {
            type Error = String;
            fn try_from(n: i64) -> Result<Self, String> {
                if n < $lo as i64 || n > $hi as i64 {
                    Err(format!(
                        "{} {n} is out of range\nhelp: {}",
                        $noun, $help
                    ))
                } else {
                    Ok($ty(n as $inner))
                }
            }
        }
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl Visitor<'_> for V {
                    type Value = $ty;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        write!(f, "an integer from {} to {}", $lo, $hi)
                    }
                    fn visit_i64<E: de::Error>(self, n: i64) -> Result<$ty, E> {
                        $ty::try_from(n).map_err(E::custom)
                    }
                    fn visit_u64<E: de::Error>(self, n: u64) -> Result<$ty, E> {
                        $ty::try_from(i64::try_from(n).unwrap_or(i64::MAX)).map_err(E::custom)
                    }
                }
                d.deserialize_i64(V)
            }
        }
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                self.0.serialize(s)
            }
        }
        impl JsonSchema for $ty {
            fn schema_name() -> Cow<'static, str> {
                stringify!($ty).into()
            }
            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!({ "type": "integer", "minimum": $lo, "maximum": $hi, "description": $help })
            }
        }
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

/// A span of time written with a unit: `"100ms"`, `"1s"`, `"2m"`, `"1h 30m"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration(pub std::time::Duration);

impl Duration {
    pub const fn from_millis(ms: u64) -> Self {
        Duration(std::time::Duration::from_millis(ms))
    }
    pub const fn from_secs(s: u64) -> Self {
        Duration(std::time::Duration::from_secs(s))
    }
    pub fn as_millis(self) -> u128 {
        self.0.as_millis()
    }
    pub fn is_zero(self) -> bool {
        self.0.is_zero()
    }
}

impl FromStr for Duration {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!(
                "duration `{s}` has no unit\nhelp: write it with a unit, like `{t}s` or `{t}ms`"
            ));
        }
        humantime::parse_duration(t).map(Duration).map_err(|e| {
            format!("invalid duration `{s}`: {e}\nhelp: write a number with a unit, like `100ms`, `1s`, `2m` or `1h`")
        })
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // As a person would write it: `1500ms`, `6s`; humantime's
        // `1s 500ms` form only for odd values, compacted.
        let d = self.0;
        if d.subsec_nanos() == 0 {
            write!(f, "{}s", d.as_secs())
        } else if d.subsec_nanos() % 1_000_000 == 0 {
            write!(f, "{}ms", d.as_millis())
        } else {
            write!(
                f,
                "{}",
                humantime::format_duration(d).to_string().replace(' ', "")
            )
        }
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Duration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration with a unit, like \"1s\"")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Duration, E> {
                s.parse().map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Duration, E> {
                Err(E::custom(format!(
                    "a duration needs a unit\nhelp: write it as a string with a unit, like \"{n}s\" or \"{n}ms\""
                )))
            }
            fn visit_f64<E: de::Error>(self, x: f64) -> Result<Duration, E> {
                Err(E::custom(format!(
                    "a duration needs a unit\nhelp: write it as a string with a unit, like \"{}ms\"",
                    (x * 1000.0).round()
                )))
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl JsonSchema for Duration {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": "^\\s*([0-9]+\\s*[a-zA-Zµ]+\\s*)+$",
            "description": "A duration with a unit: \"100ms\", \"1s\", \"2m\", \"1h 30m\"."
        })
    }
}

impl From<Duration> for std::time::Duration {
    fn from(d: Duration) -> Self {
        d.0
    }
}

/// Address family.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    Ipv4,
    Ipv6,
}

impl Family {
    pub fn of(addr: &IpAddr) -> Family {
        if addr.is_ipv4() {
            Family::Ipv4
        } else {
            Family::Ipv6
        }
    }
    pub fn max_prefix(self) -> u8 {
        match self {
            Family::Ipv4 => 32,
            Family::Ipv6 => 128,
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Family::Ipv4 => "IPv4",
            Family::Ipv6 => "IPv6",
        })
    }
}

/// An IP address (v4 or v6) with our own parse message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ip(pub IpAddr);

impl Ip {
    pub fn family(&self) -> Family {
        Family::of(&self.0)
    }
}

impl FromStr for Ip {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        s.trim().parse::<IpAddr>().map(Ip).map_err(|_| {
            let hint = if s.contains('/') {
                "drop the prefix length: this setting takes a single address"
            } else {
                "write an IPv4 address like `192.168.1.10` or an IPv6 address like `2001:db8::10`"
            };
            format!("`{s}` is not an IP address\nhelp: {hint}")
        })
    }
}

impl fmt::Display for Ip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

string_type!(
    Ip,
    "an IP address",
    json_schema!({ "type": "string", "description": "An IPv4 or IPv6 address.",
                   "anyOf": [{ "format": "ipv4" }, { "format": "ipv6" }] })
);

/// An address with a prefix length: `"192.168.1.10/24"`, `"2001:db8::1/64"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cidr {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl Cidr {
    pub fn family(&self) -> Family {
        Family::of(&self.addr)
    }
    pub fn host(addr: IpAddr) -> Self {
        Cidr {
            addr,
            prefix: Family::of(&addr).max_prefix(),
        }
    }
    /// Whether `ip` lies inside this prefix.
    pub fn contains(&self, ip: &IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(a), IpAddr::V4(b)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(a) & mask == u32::from(*b) & mask
            }
            (IpAddr::V6(a), IpAddr::V6(b)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(a) & mask == u128::from(*b) & mask
            }
            _ => false,
        }
    }
}

fn parse_cidr(s: &str, prefix_required: bool) -> Result<Cidr, String> {
    let t = s.trim();
    let (addr, prefix) = match t.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (t, None),
    };
    let addr: IpAddr = addr.parse().map_err(|_| {
        format!("`{s}` is not an address with a prefix length\nhelp: write it like `192.168.1.10/24` or `2001:db8::1/64`")
    })?;
    let max = Family::of(&addr).max_prefix();
    let prefix = match prefix {
        Some(p) => match p.parse::<u8>() {
            Ok(n) if n <= max => n,
            _ => {
                return Err(format!(
                    "prefix length `/{p}` is not valid for {}\nhelp: an {} prefix length is 0 to {max}",
                    Family::of(&addr),
                    Family::of(&addr)
                ));
            }
        },
        None if prefix_required => {
            return Err(format!(
                "`{s}` has no prefix length\nhelp: add one, like `{addr}/{}`",
                if max == 32 { 24 } else { 64 }
            ));
        }
        None => max,
    };
    Ok(Cidr { addr, prefix })
}

impl FromStr for Cidr {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        parse_cidr(s, true)
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

const CIDR_PATTERN: &str = "^([0-9.]+|[0-9a-fA-F:.]+)/[0-9]{1,3}$";

string_type!(
    Cidr,
    "an address with a prefix length",
    json_schema!({ "type": "string", "pattern": CIDR_PATTERN,
                   "description": "An address with a prefix length, like \"192.168.1.10/24\"." })
);

/// A virtual address: a host address (`"192.168.4.80"`, meaning /32 or
/// /128) or an address with a prefix length (`"192.168.4.80/24"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VirtualAddress(pub Cidr);

impl FromStr for VirtualAddress {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        parse_cidr(s, false).map(VirtualAddress)
    }
}

impl fmt::Display for VirtualAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

string_type!(
    VirtualAddress,
    "an address, optionally with a prefix length",
    json_schema!({ "type": "string", "pattern": "^([0-9.]+|[0-9a-fA-F:.]+)(/[0-9]{1,3})?$",
                   "description": "An address, optionally with a prefix length: \"192.168.4.80\" or \"192.168.4.80/24\"." })
);

/// A route destination: `"default"` or a prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RouteTarget {
    /// `0.0.0.0/0` or `::/0`, whichever family the gateway is.
    Default,
    Prefix(Cidr),
}

impl FromStr for RouteTarget {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s.trim() == "default" {
            Ok(RouteTarget::Default)
        } else {
            parse_cidr(s, false).map(RouteTarget::Prefix)
        }
    }
}

impl fmt::Display for RouteTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RouteTarget::Default => f.write_str("default"),
            RouteTarget::Prefix(c) => c.fmt(f),
        }
    }
}

string_type!(
    RouteTarget,
    "`default` or a prefix",
    json_schema!({ "type": "string", "pattern": "^(default|([0-9.]+|[0-9a-fA-F:.]+)(/[0-9]{1,3})?)$",
                   "description": "\"default\" or a destination prefix like \"10.0.0.0/8\"." })
);

/// An address and optional port: `"192.168.1.10:80"`, `"[2001:db8::1]:80"`,
/// or `"192.168.1.10"` for a port-less (all ports) service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Endpoint {
    pub ip: IpAddr,
    pub port: Option<u16>,
}

impl Endpoint {
    pub fn family(&self) -> Family {
        Family::of(&self.ip)
    }
}

impl FromStr for Endpoint {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        if let Ok(sa) = t.parse::<SocketAddr>() {
            if sa.port() == 0 {
                return Err(format!(
                    "port 0 in `{s}` is not a port\nhelp: write the address without a port for a service on all ports"
                ));
            }
            return Ok(Endpoint {
                ip: sa.ip(),
                port: Some(sa.port()),
            });
        }
        let bare = t
            .strip_prefix('[')
            .and_then(|r| r.strip_suffix(']'))
            .unwrap_or(t);
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return Ok(Endpoint { ip, port: None });
        }
        Err(format!(
            "`{s}` is not an address with an optional port\nhelp: write it like `192.168.1.10:80`, `[2001:db8::1]:80`, or `192.168.1.10` for all ports"
        ))
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.ip, self.port) {
            (IpAddr::V6(ip), Some(p)) => write!(f, "[{ip}]:{p}"),
            (ip, Some(p)) => write!(f, "{ip}:{p}"),
            (ip, None) => write!(f, "{ip}"),
        }
    }
}

string_type!(
    Endpoint,
    "an address with an optional port",
    json_schema!({ "type": "string", "pattern": "^([0-9.]+(:[0-9]{1,5})?|\\[[0-9a-fA-F:.]+\\]:[0-9]{1,5}|\\[?[0-9a-fA-F:.]+\\]?)$",
                   "description": "An address with an optional port: \"192.168.1.10:80\", \"[2001:db8::1]:80\", or \"192.168.1.10\" (all ports)." })
);

/// An Ethernet MAC address, `"52:54:00:12:34:56"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MacAddr(pub [u8; 6]);

impl FromStr for MacAddr {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let parts: Vec<&str> = s.trim().split([':', '-']).collect();
        let mut out = [0u8; 6];
        let ok = parts.len() == 6
            && parts
                .iter()
                .zip(out.iter_mut())
                .all(|(p, o)| p.len() == 2 && u8::from_str_radix(p, 16).map(|b| *o = b).is_ok());
        if ok {
            Ok(MacAddr(out))
        } else {
            Err(format!(
                "`{s}` is not a MAC address\nhelp: write six hex bytes, like `52:54:00:12:34:56`"
            ))
        }
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

string_type!(
    MacAddr,
    "a MAC address",
    json_schema!({ "type": "string", "pattern": "^[0-9a-fA-F]{2}([:-][0-9a-fA-F]{2}){5}$",
                   "description": "A MAC address like \"52:54:00:12:34:56\"." })
);

/// A BGP community: `"ASN:VALUE"` (RFC 1997, each part 0-65535) or a
/// large community `"ASN:VALUE:VALUE"` (RFC 8092, each part 0-4294967295).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Community {
    Standard(u16, u16),
    Large(u32, u32, u32),
}

impl FromStr for Community {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let parts: Vec<&str> = s.split(':').collect();
        let bad = || {
            format!(
                "`{s}` is not a BGP community\nhelp: write `ASN:VALUE` (each 0-65535, RFC 1997) \
                 or a large community `ASN:VALUE:VALUE` (each 0-4294967295, RFC 8092)"
            )
        };
        // Digits only: `parse` would take a leading `+`.
        if parts
            .iter()
            .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(bad());
        }
        match parts[..] {
            [a, v] => match (a.parse(), v.parse()) {
                (Ok(a), Ok(v)) => Ok(Community::Standard(a, v)),
                _ => Err(bad()),
            },
            [a, b, c] => match (a.parse(), b.parse(), c.parse()) {
                (Ok(a), Ok(b), Ok(c)) => Ok(Community::Large(a, b, c)),
                _ => Err(bad()),
            },
            _ => Err(bad()),
        }
    }
}

impl fmt::Display for Community {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Community::Standard(a, v) => write!(f, "{a}:{v}"),
            Community::Large(a, b, c) => write!(f, "{a}:{b}:{c}"),
        }
    }
}

string_type!(
    Community,
    "a BGP community",
    json_schema!({ "type": "string", "pattern": "^[0-9]+:[0-9]+(:[0-9]+)?$",
                   "description": "A BGP community \"ASN:VALUE\" (RFC 1997) or large community \"ASN:VALUE:VALUE\" (RFC 8092)." })
);

/// A Linux interface name: 1 to 15 bytes, no `/`, no white space.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IfName(pub String);

impl IfName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for IfName {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        // IFNAMSIZ is 16 with the NUL; `.` and `..` are reserved by the kernel.
        let ok = !s.is_empty()
            && s.len() <= 15
            && s != "."
            && s != ".."
            && !s
                .bytes()
                .any(|b| b == b'/' || b == b':' || b.is_ascii_whitespace() || b < 0x20);
        if ok {
            Ok(IfName(s.to_string()))
        } else {
            Err(format!(
                "`{s}` is not a valid interface name\nhelp: Linux interface names are 1 to 15 characters without `/`, `:` or spaces"
            ))
        }
    }
}

impl fmt::Display for IfName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

string_type!(
    IfName,
    "an interface name",
    json_schema!({ "type": "string", "minLength": 1, "maxLength": 15, "pattern": "^[^/:\\s]+$",
                   "description": "A Linux interface name (1 to 15 characters)." })
);

/// VRRP virtual router identifier (RFC 5798 §5.2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Vrid(u8);
int_type!(
    Vrid(u8),
    1,
    255,
    "VRID",
    "a VRID is 1 to 255 and must be the same on every router of the pair"
);

/// VRRP priority (RFC 5798 §5.2.4): 1–254 for backups, 255 for the address
/// owner. 0 is reserved for a master that is leaving.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Priority(u8);
int_type!(
    Priority(u8),
    1,
    255,
    "priority",
    "priority is 1 to 254, or 255 for the owner of the virtual addresses (0 is reserved for a master that is leaving)"
);

impl Priority {
    pub const OWNER: Priority = Priority(255);
    pub const DEFAULT: Priority = Priority(100);
}

impl Default for Priority {
    fn default() -> Self {
        Priority::DEFAULT
    }
}

/// IPVS destination weight (ipvsadm: 0 to 65535; 0 quiesces the server).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Weight(u32);
int_type!(
    Weight(u32),
    0,
    65535,
    "weight",
    "a real server's weight is 0 to 65535; 0 takes it out of rotation but keeps its connections"
);

impl Default for Weight {
    fn default() -> Self {
        Weight(1)
    }
}

/// A priority adjustment for tracked objects: added while the object is
/// up (positive) or subtracted while it is down (negative); 0 means Fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct TrackWeight(i16);
int_type!(
    TrackWeight(i16),
    -254,
    254,
    "tracking weight",
    "a tracking weight is -254 to 254: positive is added to the priority while the tracked object is up, negative is subtracted while it is down, 0 puts the instance in Fault while it is down"
);

/// A TCP/UDP/SCTP port, 1 to 65535.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Port(u16);
int_type!(Port(u16), 1, 65535, "port", "a port is 1 to 65535");

/// An IPVS firewall mark, 1 to 2^32-1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fwmark(u32);
int_type!(
    Fwmark(u32),
    1,
    4_294_967_295u32,
    "firewall mark",
    "a firewall mark is 1 to 4294967295, as set by an nftables `meta mark set` rule"
);

/// HTTP status codes a check accepts: `200` or a range `"200-299"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StatusRange {
    pub lo: u16,
    pub hi: u16,
}

impl StatusRange {
    pub fn contains(&self, code: u16) -> bool {
        (self.lo..=self.hi).contains(&code)
    }
}

impl FromStr for StatusRange {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "`{s}` is not an HTTP status code or range\nhelp: write a code like `200` or a range like `\"200-299\"` (100 to 599)"
            )
        };
        let code = |t: &str| {
            t.trim()
                .parse::<u16>()
                .ok()
                .filter(|c| (100..=599).contains(c))
        };
        let (lo, hi) = match s.split_once('-') {
            Some((a, b)) => (code(a).ok_or_else(bad)?, code(b).ok_or_else(bad)?),
            None => {
                let c = code(s).ok_or_else(bad)?;
                (c, c)
            }
        };
        if lo > hi {
            return Err(bad());
        }
        Ok(StatusRange { lo, hi })
    }
}

impl fmt::Display for StatusRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.lo == self.hi {
            write!(f, "{}", self.lo)
        } else {
            write!(f, "{}-{}", self.lo, self.hi)
        }
    }
}

impl<'de> Deserialize<'de> for StatusRange {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = StatusRange;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an HTTP status code or a range like \"200-299\"")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<StatusRange, E> {
                s.parse().map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<StatusRange, E> {
                n.to_string().parse().map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for StatusRange {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.lo == self.hi {
            s.serialize_u16(self.lo)
        } else {
            s.collect_str(self)
        }
    }
}

impl JsonSchema for StatusRange {
    fn schema_name() -> Cow<'static, str> {
        "StatusRange".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "An HTTP status code (200) or a range (\"200-299\").",
            "anyOf": [
                { "type": "integer", "minimum": 100, "maximum": 599 },
                { "type": "string", "pattern": "^[1-5][0-9]{2}(-[1-5][0-9]{2})?$" }
            ]
        })
    }
}

/// A raw sysctl value: an integer, a boolean (1/0) or a string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SysctlValue {
    Int(i64),
    Str(String),
}

impl fmt::Display for SysctlValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SysctlValue::Int(n) => n.fmt(f),
            SysctlValue::Str(s) => f.write_str(s),
        }
    }
}

impl<'de> Deserialize<'de> for SysctlValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = SysctlValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an integer, a boolean or a string")
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<SysctlValue, E> {
                Ok(SysctlValue::Int(n))
            }
            fn visit_bool<E: de::Error>(self, b: bool) -> Result<SysctlValue, E> {
                Ok(SysctlValue::Int(i64::from(b)))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<SysctlValue, E> {
                Ok(SysctlValue::Str(s.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for SysctlValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            SysctlValue::Int(n) => s.serialize_i64(*n),
            SysctlValue::Str(v) => s.serialize_str(v),
        }
    }
}

impl JsonSchema for SysctlValue {
    fn schema_name() -> Cow<'static, str> {
        "SysctlValue".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": ["integer", "boolean", "string"] })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_need_units() {
        assert_eq!(
            "100ms".parse::<Duration>().unwrap(),
            Duration::from_millis(100)
        );
        assert_eq!(
            "1m 30s".parse::<Duration>().unwrap(),
            Duration::from_secs(90)
        );
        let e = "6".parse::<Duration>().unwrap_err();
        assert!(e.contains("has no unit") && e.contains("`6s`"), "{e}");
        assert!("fast".parse::<Duration>().is_err());
        assert_eq!(Duration::from_millis(1500).to_string(), "1500ms");
        assert_eq!(Duration::from_secs(90).to_string(), "90s");
    }

    #[test]
    fn cidrs_check_prefix_length_per_family() {
        let c: Cidr = "192.168.1.10/24".parse().unwrap();
        assert!(c.contains(&"192.168.1.200".parse().unwrap()));
        assert!(!c.contains(&"192.168.2.1".parse().unwrap()));
        assert!(
            "192.168.1.10/33"
                .parse::<Cidr>()
                .unwrap_err()
                .contains("0 to 32")
        );
        assert!("2001:db8::1/129".parse::<Cidr>().is_err());
        assert!(
            "192.168.1.10"
                .parse::<Cidr>()
                .unwrap_err()
                .contains("no prefix length")
        );
        let v: VirtualAddress = "192.168.1.10".parse().unwrap();
        assert_eq!(v.0.prefix, 32);
    }

    #[test]
    fn endpoints_take_optional_ports_and_ipv6_brackets() {
        let e: Endpoint = "[2001:db8::1]:80".parse().unwrap();
        assert_eq!((e.family(), e.port), (Family::Ipv6, Some(80)));
        let e: Endpoint = "10.0.0.1".parse().unwrap();
        assert_eq!(e.port, None);
        assert_eq!(e.to_string(), "10.0.0.1");
        assert!("10.0.0.1:0".parse::<Endpoint>().is_err());
        assert!("10.0.0.1:99999".parse::<Endpoint>().is_err());
    }

    #[test]
    fn ranges_are_enforced_with_hints() {
        assert!(Vrid::try_from(0).unwrap_err().contains("1 to 255"));
        assert!(Vrid::try_from(256).is_err());
        assert_eq!(Vrid::try_from(255).unwrap().get(), 255);
        assert!(Priority::try_from(0).unwrap_err().contains("reserved"));
        assert!(Weight::try_from(65536).is_err());
    }

    #[test]
    fn interface_names_follow_the_kernel() {
        assert!("eth0.100".parse::<IfName>().is_ok());
        assert!("averyveryverylongname".parse::<IfName>().is_err());
        assert!("lo:0".parse::<IfName>().is_err());
    }

    #[test]
    fn status_ranges() {
        let r: StatusRange = "200-299".parse().unwrap();
        assert!(r.contains(204) && !r.contains(301));
        assert!("299-200".parse::<StatusRange>().is_err());
        assert!("42".parse::<StatusRange>().is_err());
    }
}

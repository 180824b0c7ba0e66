//! VRRP advertisements as bytes (sans-IO): the message of RFC 3768 §5 (v2)
//! and RFC 5798 §5 (v3), the IPv4 header a raw socket hands back, and the
//! receive checks of §7.1 of each that need our configuration.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |Version| Type  | Virtual Rtr ID|   Priority    |  Count Addrs  |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |   Auth Type   | Adver Int (s) |           Checksum            |  v2
//! | rsvd  |  Max Adver Int (cs)   |           Checksum            |  v3
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  Count addresses: 4 bytes each (IPv4), 16 bytes each (IPv6)   |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |            Authentication Data, 8 bytes (v2 only)             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::config::model::VrrpVersion;

/// IP protocol number of VRRP (RFC 5798 §5.1.1.4).
pub const PROTO: u8 = 112;
/// IPv4 multicast group of VRRP (RFC 5798 §5.1.1.2).
pub const MCAST_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// IPv6 multicast group of VRRP (RFC 5798 §5.1.2.2).
pub const MCAST_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);
/// The TTL / hop limit adverts are sent with and must arrive with
/// (RFC 5798 §5.1.1.3, §5.1.2.3, §7.1).
pub const TTL: u8 = 255;

/// Version, type, VRID, priority, count, auth type / interval, checksum.
const HEADER: usize = 8;
/// VRRPv2 always carries 8 bytes of authentication data (RFC 3768 §5.3.10).
const AUTH_DATA: usize = 8;
/// The only packet type, ADVERTISEMENT (RFC 3768 §5.3.2, RFC 5798 §5.2.2).
const TYPE_ADVERT: u8 = 1;
/// The v3 interval is 12 bits of centiseconds (RFC 5798 §5.2.7).
const MAX_INTERVAL_V3: u16 = 0x0fff;
const IPV4_HEADER: usize = 20;

/// VRRPv2 authentication (RFC 3768 §5.3.6). v3 has none and always decodes
/// to [`Auth::None`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// Type 0. The authentication data is zero on the wire and ignored.
    None,
    /// Type 1, the plain-text password of RFC 2338 that keepalived still
    /// speaks: up to 8 bytes, zero-padded.
    Pass([u8; 8]),
    /// Any other type (2 = IP AH): not supported, the data is not kept.
    Other(u8),
}

impl Auth {
    /// A PASS password, zero-padded and truncated to 8 bytes as keepalived does.
    pub fn pass(password: &str) -> Auth {
        let mut data = [0; 8];
        for (d, b) in data.iter_mut().zip(password.as_bytes()) {
            *d = *b;
        }
        Auth::Pass(data)
    }

    fn wire_type(&self) -> u8 {
        match self {
            Auth::None => 0,
            Auth::Pass(_) => 1,
            Auth::Other(t) => *t,
        }
    }
}

/// One advertisement, as sent or as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advert {
    pub version: VrrpVersion,
    /// Virtual router ID, 1 to 255 on the wire (not checked here).
    pub vrid: u8,
    /// 255: the address owner; 0: the master is leaving (RFC 5798 §5.2.4).
    pub priority: u8,
    /// Advertisement interval in centiseconds. v2 carries whole seconds on
    /// the wire (u8): encode divides by 100 (rounding to the nearest second,
    /// at least 1 s, at most 255 s), decode multiplies by 100. v3: the 12-bit
    /// field (encode caps it at 4095).
    pub interval_cs: u16,
    /// The virtual addresses, in wire order.
    pub addrs: Vec<IpAddr>,
    pub auth: Auth,
}

/// The VRRP message (what follows the IP header), checksum filled in.
///
/// v2: the checksum covers the VRRP message only (RFC 3768 §5.3.8): header,
/// addresses and the 8 authentication bytes, always present in v2. v3, IPv4
/// and IPv6: with the pseudo-header (RFC 5798 §5.2.8). `src`/`dst` are the IP
/// source and destination the packet will carry.
///
/// Only addresses of `src`'s family are written (v2: IPv4 only), at most 255;
/// the count field says how many were (config validation keeps the rest out).
pub fn encode(adv: &Advert, src: IpAddr, dst: IpAddr) -> Vec<u8> {
    let v6 = adv.version == VrrpVersion::V3 && src.is_ipv6();
    let addrs: Vec<IpAddr> = adv
        .addrs
        .iter()
        .copied()
        .filter(|a| a.is_ipv6() == v6)
        .take(usize::from(u8::MAX))
        .collect();
    let count = u8::try_from(addrs.len()).unwrap_or(u8::MAX);
    let mut msg = Vec::with_capacity(HEADER + addrs.len() * 16 + AUTH_DATA);
    match adv.version {
        // RFC 3768 §5.3.6, §5.3.7: auth type, then the interval in seconds.
        VrrpVersion::V2 => msg.extend([
            0x21,
            adv.vrid,
            adv.priority,
            count,
            adv.auth.wire_type(),
            v2_secs(adv.interval_cs),
        ]),
        // RFC 5798 §5.2.6, §5.2.7: 4 reserved zero bits, 12 bits of interval.
        VrrpVersion::V3 => {
            msg.extend([0x31, adv.vrid, adv.priority, count]);
            msg.extend(adv.interval_cs.min(MAX_INTERVAL_V3).to_be_bytes());
        }
    }
    msg.extend([0, 0]); // checksum, filled in below
    for a in &addrs {
        match a {
            IpAddr::V4(a) => msg.extend(a.octets()),
            IpAddr::V6(a) => msg.extend(a.octets()),
        }
    }
    let pseudo = match adv.version {
        VrrpVersion::V2 => {
            // RFC 3768 §5.3.10: zero unless the (obsolete) PASS type is used.
            msg.extend(match adv.auth {
                Auth::Pass(data) => data,
                Auth::None | Auth::Other(_) => [0; AUTH_DATA],
            });
            None
        }
        VrrpVersion::V3 => Some((src, dst)),
    };
    let sum = checksum(&msg, pseudo);
    msg[6..8].copy_from_slice(&sum.to_be_bytes());
    msg
}

/// Parses and verifies one VRRP message (what follows the IP header): the
/// checks of RFC 3768 §7.1 / RFC 5798 §7.1 that need no configuration.
///
/// Version 2 or 3, type 1; v2 only over IPv4, `src` and `dst` of one family;
/// the length exactly what the count implies (v2: 8 + n×4 + 8 auth, v3 IPv4:
/// 8 + n×4, v3 IPv6: 8 + n×16: the family is `src`'s); the checksum (v2
/// without, v3 with the pseudo-header); an interval other than 0.
pub fn decode(msg: &[u8], src: IpAddr, dst: IpAddr) -> Result<Advert, Drop> {
    let &[version_type, vrid, priority, count, word1, word2, _, _, ..] = msg else {
        return Err(Drop::Truncated);
    };
    let version = match version_type >> 4 {
        2 => VrrpVersion::V2,
        3 => VrrpVersion::V3,
        _ => return Err(Drop::Version),
    };
    // RFC 5798 §5.2.2: a packet of unknown type MUST be discarded.
    if version_type & 0x0f != TYPE_ADVERT {
        return Err(Drop::Type);
    }
    // VRRPv2 is IPv4 only (RFC 3768); IPv6 came with v3 (RFC 5798 §1).
    if src.is_ipv4() != dst.is_ipv4() || (version == VrrpVersion::V2 && src.is_ipv6()) {
        return Err(Drop::Family);
    }
    let width = if src.is_ipv4() { 4 } else { 16 };
    let auth_len = if version == VrrpVersion::V2 {
        AUTH_DATA
    } else {
        0
    };
    let addrs_end = HEADER + usize::from(count) * width;
    // RFC 5798 §7.1: the packet must be complete; keepalived also drops
    // trailing bytes (interop.md), and so do we.
    if msg.len() != addrs_end + auth_len {
        return Err(Drop::Length);
    }
    let pseudo = match version {
        VrrpVersion::V2 => None,
        VrrpVersion::V3 => Some((src, dst)),
    };
    // A correct checksum sums, with itself, to all ones: its complement is 0.
    if checksum(msg, pseudo) != 0 {
        return Err(Drop::Checksum);
    }
    let addrs = msg
        .get(HEADER..addrs_end)
        .ok_or(Drop::Length)?
        .chunks_exact(width)
        .map(
            |c| match (<[u8; 4]>::try_from(c), <[u8; 16]>::try_from(c)) {
                (Ok(v4), _) => Ok(IpAddr::from(v4)),
                (_, Ok(v6)) => Ok(IpAddr::from(v6)),
                _ => Err(Drop::Length),
            },
        )
        .collect::<Result<Vec<_>, _>>()?;
    let (interval_cs, auth) = match version {
        VrrpVersion::V2 => {
            let auth = match word1 {
                0 => Auth::None,
                1 => {
                    let data = msg.get(addrs_end..).ok_or(Drop::Length)?;
                    Auth::Pass(data.try_into().map_err(|_| Drop::Length)?)
                }
                other => Auth::Other(other),
            };
            (u16::from(word2) * 100, auth)
        }
        // RFC 5798 §5.2.6: the reserved bits are ignored on reception.
        VrrpVersion::V3 => (
            u16::from_be_bytes([word1, word2]) & MAX_INTERVAL_V3,
            Auth::None,
        ),
    };
    // No RFC rule, but an interval of 0 would make a backup's timers spin.
    if interval_cs == 0 {
        return Err(Drop::ZeroInterval);
    }
    Ok(Advert {
        version,
        vrid,
        priority,
        interval_cs,
        addrs,
        auth,
    })
}

/// What a raw IPv4 socket hands back: the IP header, then the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Packet<'a> {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub ttl: u8,
    /// The VRRP message: from the end of the header (IHL) to the total length.
    pub payload: &'a [u8],
}

/// Parses the IPv4 header of a datagram read from a raw socket: version 4,
/// IHL at least 5 words, the total length within the buffer (bytes after it
/// are ignored), protocol 112, not a fragment. The header checksum is not
/// checked: the kernel drops datagrams whose header checksum is wrong.
pub fn parse_ipv4(datagram: &[u8]) -> Result<Ipv4Packet<'_>, Drop> {
    // RFC 791 §3.1; constant indexes into the 20-byte array cannot panic.
    let h = datagram
        .first_chunk::<IPV4_HEADER>()
        .ok_or(Drop::Truncated)?;
    let ihl = usize::from(h[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([h[2], h[3]]));
    if h[0] >> 4 != 4 || ihl < IPV4_HEADER || total < ihl {
        return Err(Drop::IpHeader);
    }
    let payload = datagram.get(ihl..total).ok_or(Drop::Truncated)?;
    if h[9] != PROTO {
        return Err(Drop::Protocol);
    }
    // The more-fragments flag or a fragment offset: part of a datagram.
    if u16::from_be_bytes([h[6], h[7]]) & 0x3fff != 0 {
        return Err(Drop::Fragment);
    }
    Ok(Ipv4Packet {
        src: Ipv4Addr::new(h[12], h[13], h[14], h[15]),
        dst: Ipv4Addr::new(h[16], h[17], h[18], h[19]),
        ttl: h[8],
        payload,
    })
}

/// One instance's configuration, for the receive checks that follow
/// [`decode`].
#[derive(Debug, Clone, Copy)]
pub struct Expect<'a> {
    pub version: VrrpVersion,
    pub auth: &'a Auth,
    pub interval_cs: u16,
    pub addrs: &'a [IpAddr],
    /// Whether the instance uses the multicast group (false: unicast peers).
    /// It does not change the checks: RFC 5798 §7.1 requires TTL 255 on
    /// every advert, and unicast peers send 255 too (interop.md).
    pub multicast: bool,
}

/// The per-instance receive checks of RFC 3768 §7.1 / RFC 5798 §7.1 (and
/// keepalived's, interop.md) that come after [`decode`]. The caller has
/// already matched the VRID.
///
/// `Ok(true)`: the advert is fine. `Ok(false)`: fine except that its address
/// list differs from ours (as a set); the caller logs a configuration
/// mismatch and still uses it for the election. RFC 3768 §7.1 would drop it
/// unless the sender is the owner, and keepalived does; we do not, so adding
/// a VIP on one node first does not make both nodes master.
///
/// Drops: TTL / hop limit not 255 (RFC 5798 §7.1: always, whether the advert
/// came multicast or unicast); another version; v2: another auth type, another
/// PASS, another interval (RFC 3768 §7.1: MUST discard), compared in the whole
/// seconds the wire carries.
pub fn check(adv: &Advert, ttl: u8, want: &Expect<'_>) -> Result<bool, Drop> {
    if ttl != TTL {
        return Err(Drop::Ttl);
    }
    if adv.version != want.version {
        return Err(Drop::Version);
    }
    if adv.version == VrrpVersion::V2 {
        if adv.auth.wire_type() != want.auth.wire_type() {
            return Err(Drop::AuthType);
        }
        if adv.auth != *want.auth {
            return Err(Drop::AuthMismatch);
        }
        if v2_secs(adv.interval_cs) != v2_secs(want.interval_cs) {
            return Err(Drop::Interval);
        }
    }
    let same = adv.addrs.len() == want.addrs.len()
        && adv.addrs.iter().all(|a| want.addrs.contains(a))
        && want.addrs.iter().all(|a| adv.addrs.contains(a));
    Ok(same)
}

/// Why a received packet was not used. [`Drop::reason`] labels the metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Drop {
    /// Shorter than an IPv4 header, than the IPv4 total length, or than the
    /// 8-byte VRRP header.
    Truncated,
    /// IPv4 header: version not 4, IHL under 5, total length under the IHL.
    IpHeader,
    /// IP protocol not 112.
    Protocol,
    /// An IP fragment.
    Fragment,
    /// TTL / hop limit not 255.
    Ttl,
    /// VRRP version neither 2 nor 3, or not the instance's.
    Version,
    /// VRRP type not 1 (advertisement).
    Type,
    /// VRRPv2 over IPv6, or source and destination of different families.
    Family,
    /// Length not what the address count implies.
    Length,
    /// Checksum wrong.
    Checksum,
    /// Advertisement interval 0.
    ZeroInterval,
    /// v2 auth type not ours.
    AuthType,
    /// v2 PASS password not ours.
    AuthMismatch,
    /// v2 advertisement interval not ours.
    Interval,
}

impl Drop {
    pub const ALL: &[Drop] = &[
        Drop::Truncated,
        Drop::IpHeader,
        Drop::Protocol,
        Drop::Fragment,
        Drop::Ttl,
        Drop::Version,
        Drop::Type,
        Drop::Family,
        Drop::Length,
        Drop::Checksum,
        Drop::ZeroInterval,
        Drop::AuthType,
        Drop::AuthMismatch,
        Drop::Interval,
    ];

    /// A short snake_case label, for a Prometheus metric.
    pub fn reason(self) -> &'static str {
        match self {
            Drop::Truncated => "truncated",
            Drop::IpHeader => "ip_header",
            Drop::Protocol => "protocol",
            Drop::Fragment => "fragment",
            Drop::Ttl => "ttl",
            Drop::Version => "version",
            Drop::Type => "type",
            Drop::Family => "family",
            Drop::Length => "length",
            Drop::Checksum => "checksum",
            Drop::ZeroInterval => "interval_zero",
            Drop::AuthType => "auth_type",
            Drop::AuthMismatch => "auth_mismatch",
            Drop::Interval => "interval",
        }
    }
}

impl fmt::Display for Drop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Drop::Truncated => "the packet is shorter than its IPv4 or VRRP header says",
            Drop::IpHeader => {
                "the IPv4 header is malformed (version, header length or total length)"
            }
            Drop::Protocol => "the IP protocol is not 112 (VRRP)",
            Drop::Fragment => "the packet is an IP fragment (VRRP adverts are never fragmented)",
            Drop::Ttl => "TTL / hop limit is not 255 (the sender is more than one hop away, RFC 5798 §7.1)",
            Drop::Version => {
                "the VRRP version is not the one configured for this instance (RFC 5798 §7.1)"
            }
            Drop::Type => "the VRRP packet type is not 1, advertisement (RFC 5798 §5.2.2)",
            Drop::Family => {
                "VRRPv2 over IPv6, or source and destination of different address families"
            }
            Drop::Length => {
                "the length does not match the address count (RFC 5798 §7.1: the packet must be complete)"
            }
            Drop::Checksum => {
                "the checksum is wrong (RFC 5798 §5.2.8; a VRRPv3 sender that leaves out the \
                 pseudo-header, like keepalived with v3_checksum_as_v2, fails this)"
            }
            Drop::ZeroInterval => "the advertisement interval is 0, which no VRRP router sends",
            Drop::AuthType => {
                "the authentication type differs from this instance's (RFC 3768 §7.1)"
            }
            Drop::AuthMismatch => "the authentication password differs from this instance's",
            Drop::Interval => {
                "the advertisement interval differs from this instance's \
                 (VRRPv2 routers must agree on it, RFC 3768 §7.1)"
            }
        })
    }
}

/// Centiseconds to the whole seconds of the v2 field (RFC 3768 §5.3.7):
/// rounded to the nearest second, 1 to 255.
fn v2_secs(interval_cs: u16) -> u8 {
    let secs = (u32::from(interval_cs) + 50) / 100;
    u8::try_from(secs.max(1)).unwrap_or(u8::MAX)
}

/// The Internet checksum (RFC 1071) of `msg`, plus for v3 the pseudo-header
/// of RFC 5798 §5.2.8. Over `msg` with its checksum field filled in, a
/// correct packet gives 0.
///
/// The IPv4 pseudo-header (source, destination, 0, protocol, 16-bit length)
/// and the IPv6 one (RFC 8200 §8.1: source, destination, 32-bit length, 3
/// zero bytes, next header) add up to the same sum: the addresses' words,
/// the length and the protocol.
fn checksum(msg: &[u8], pseudo: Option<(IpAddr, IpAddr)>) -> u16 {
    let mut sum = sum_words(msg);
    if let Some((src, dst)) = pseudo {
        for a in [src, dst] {
            sum += match a {
                IpAddr::V4(a) => sum_words(&a.octets()),
                IpAddr::V6(a) => sum_words(&a.octets()),
            };
        }
        sum += u64::from(PROTO) + msg.len() as u64;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Big-endian 16-bit words, an odd last byte padded with zero (RFC 1071 §4.1).
fn sum_words(bytes: &[u8]) -> u64 {
    bytes
        .chunks(2)
        .map(|w| u64::from(u16::from_be_bytes([w[0], w.get(1).copied().unwrap_or(0)])))
        .sum()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn addr(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn v2_pass() -> Advert {
        Advert {
            version: VrrpVersion::V2,
            vrid: 51,
            priority: 150,
            interval_cs: 100,
            addrs: vec![addr("192.0.2.101"), addr("192.0.2.102")],
            auth: Auth::pass("secret1"),
        }
    }

    fn v3_ipv4() -> Advert {
        Advert {
            version: VrrpVersion::V3,
            vrid: 52,
            priority: 100,
            interval_cs: 50,
            addrs: vec![addr("192.0.2.111")],
            auth: Auth::None,
        }
    }

    fn v3_ipv6() -> Advert {
        Advert {
            version: VrrpVersion::V3,
            vrid: 53,
            priority: 200,
            interval_cs: 100,
            addrs: vec![addr("2001:db8:1::101"), addr("2001:db8:1::102")],
            auth: Auth::None,
        }
    }

    const SRC4: &str = "192.0.2.1";
    const SRC6: &str = "fe80::a";

    fn expect(adv: &Advert) -> Expect<'_> {
        Expect {
            version: adv.version,
            auth: &adv.auth,
            interval_cs: adv.interval_cs,
            addrs: &adv.addrs,
            multicast: true,
        }
    }

    #[test]
    fn round_trips_v2_v3_ipv4_ipv6() {
        let m4 = IpAddr::V4(MCAST_V4);
        let m6 = IpAddr::V6(MCAST_V6);
        let mut v2_none = v2_pass();
        v2_none.auth = Auth::None;
        for (adv, src, dst) in [
            (v2_pass(), addr(SRC4), m4),
            (v2_none, addr(SRC4), m4),
            (v3_ipv4(), addr(SRC4), m4),
            (v3_ipv6(), addr(SRC6), m6),
            // unicast destination: the v3 pseudo-header changes with it
            (v3_ipv4(), addr(SRC4), addr("192.0.2.2")),
        ] {
            let msg = encode(&adv, src, dst);
            assert_eq!(decode(&msg, src, dst), Ok(adv.clone()), "{adv:?}");
            assert_eq!(check(&adv, 255, &expect(&adv)), Ok(true));
        }
    }

    /// Packets keepalived 2.2.7 sent (tests/fixtures/vrrp-keepalived.txt):
    /// our encoder gives the same bytes, checksum included.
    #[test]
    fn checksums_match_keepalived() {
        let m4 = IpAddr::V4(MCAST_V4);
        let m6 = IpAddr::V6(MCAST_V6);
        let v2 = hex("21339602010155b0c0000265c00002667365637265743100");
        assert_eq!(encode(&v2_pass(), addr(SRC4), m4), v2);
        let v3 = hex("3134640100320598c000026f");
        assert_eq!(encode(&v3_ipv4(), addr(SRC4), m4), v3);
        let v6 =
            hex("3135c8020064aab420010db800010000000000000000010120010db8000100000000000000000102");
        assert_eq!(encode(&v3_ipv6(), addr(SRC6), m6), v6);
    }

    #[test]
    fn internet_checksum_of_rfc1071_example() {
        // RFC 1071 §3: the words 0001 f203 f4f5 f6f7 sum to ddf2.
        let bytes = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(checksum(&bytes, None), !0xddf2);
        // An odd length is padded with a zero byte.
        assert_eq!(checksum(&[0x12], None), !0x1200);
    }

    #[test]
    fn v2_interval_is_whole_seconds() {
        let mut adv = v2_pass();
        for (cs, secs) in [
            (100, 1),
            (149, 1),
            (150, 2),
            (1, 1),
            (0, 1),
            (u16::MAX, 255),
        ] {
            adv.interval_cs = cs;
            let msg = encode(&adv, addr(SRC4), IpAddr::V4(MCAST_V4));
            assert_eq!(msg[5], secs, "{cs} cs");
            let back = decode(&msg, addr(SRC4), IpAddr::V4(MCAST_V4)).unwrap();
            assert_eq!(back.interval_cs, u16::from(secs) * 100);
        }
        // Ours is 1.4 s, which we send as 1 s: a 1 s peer agrees with us.
        adv.interval_cs = 100;
        let want = Expect {
            interval_cs: 140,
            ..expect(&adv)
        };
        assert_eq!(check(&adv, 255, &want), Ok(true));
    }

    #[test]
    fn v3_interval_is_capped_at_12_bits() {
        let mut adv = v3_ipv4();
        adv.interval_cs = 5000;
        let msg = encode(&adv, addr(SRC4), IpAddr::V4(MCAST_V4));
        let back = decode(&msg, addr(SRC4), IpAddr::V4(MCAST_V4)).unwrap();
        assert_eq!(back.interval_cs, 4095);
    }

    #[test]
    fn v3_reserved_bits_are_ignored() {
        let (src, dst) = (addr(SRC4), IpAddr::V4(MCAST_V4));
        let mut msg = encode(&v3_ipv4(), src, dst);
        msg[4] |= 0xf0;
        msg[6..8].fill(0);
        let sum = checksum(&msg, Some((src, dst)));
        msg[6..8].copy_from_slice(&sum.to_be_bytes());
        assert_eq!(decode(&msg, src, dst), Ok(v3_ipv4()));
    }

    #[test]
    fn encode_writes_only_addresses_of_the_source_family() {
        let mut adv = v3_ipv4();
        adv.addrs.push(addr("2001:db8::1"));
        let msg = encode(&adv, addr(SRC4), IpAddr::V4(MCAST_V4));
        assert_eq!(msg[3], 1);
        assert_eq!(msg.len(), 12);
    }

    #[test]
    fn pass_is_zero_padded_and_truncated() {
        assert_eq!(Auth::pass("ab"), Auth::Pass(*b"ab\0\0\0\0\0\0"));
        assert_eq!(Auth::pass("0123456789"), Auth::Pass(*b"01234567"));
    }

    #[test]
    fn another_address_list_is_a_mismatch_not_a_drop() {
        let adv = v2_pass();
        let reversed: Vec<IpAddr> = adv.addrs.iter().rev().copied().collect();
        let want = Expect {
            addrs: &reversed,
            ..expect(&adv)
        };
        assert_eq!(check(&adv, 255, &want), Ok(true), "order does not matter");
        for other in [
            &adv.addrs[..1],
            &[adv.addrs[0], addr("192.0.2.103")][..],
            &[],
        ] {
            let want = Expect {
                addrs: other,
                ..expect(&adv)
            };
            assert_eq!(check(&adv, 255, &want), Ok(false), "{other:?}");
        }
    }

    #[test]
    fn v3_ignores_auth_and_adopts_any_interval() {
        let adv = v3_ipv4();
        let pass = Auth::pass("x");
        let want = Expect {
            auth: &pass,
            interval_cs: 300,
            ..expect(&adv)
        };
        assert_eq!(check(&adv, 255, &want), Ok(true));
    }

    /// Every drop reason, each from the smallest change that causes it.
    #[test]
    fn each_drop_reason() {
        let (src, m4) = (addr(SRC4), IpAddr::V4(MCAST_V4));
        let good = encode(&v2_pass(), src, m4);
        let resum = |mut m: Vec<u8>, pseudo: Option<(IpAddr, IpAddr)>| {
            m[6..8].fill(0);
            let sum = checksum(&m, pseudo);
            m[6..8].copy_from_slice(&sum.to_be_bytes());
            m
        };
        let edit = |i: usize, b: u8| {
            let mut m = good.clone();
            m[i] = b;
            resum(m, None)
        };
        let mut seen = BTreeSet::new();
        let mut saw = |got: Drop, want: Drop| {
            assert_eq!(got, want);
            seen.insert(got);
        };
        let dec = |m: &[u8]| decode(m, src, m4).unwrap_err();

        saw(dec(&good[..7]), Drop::Truncated);
        saw(dec(&edit(0, 0x11)), Drop::Version);
        saw(dec(&edit(0, 0x41)), Drop::Version);
        saw(dec(&edit(0, 0x22)), Drop::Type);
        saw(
            decode(&good, addr(SRC6), IpAddr::V6(MCAST_V6)).unwrap_err(),
            Drop::Family,
        );
        saw(
            decode(&good, src, IpAddr::V6(MCAST_V6)).unwrap_err(),
            Drop::Family,
        );
        saw(dec(&good[..good.len() - 1]), Drop::Length);
        saw(dec(&[&good[..], &[0, 0]].concat()), Drop::Length);
        saw(dec(&edit(3, 3)), Drop::Length);
        let mut bad = good.clone();
        bad[10] ^= 1;
        saw(dec(&bad), Drop::Checksum);
        saw(dec(&edit(5, 0)), Drop::ZeroInterval);
        // v3 checksummed without the pseudo-header (keepalived's v3_checksum_as_v2).
        let v3 = resum(encode(&v3_ipv4(), src, m4), None);
        saw(decode(&v3, src, m4).unwrap_err(), Drop::Checksum);
        let v3 = resum(encode(&v3_ipv4(), src, m4), Some((src, addr("192.0.2.9"))));
        saw(decode(&v3, src, m4).unwrap_err(), Drop::Checksum);

        let adv = v2_pass();
        let chk = |adv: &Advert, ttl: u8, want: &Expect<'_>| check(adv, ttl, want).unwrap_err();
        saw(chk(&adv, 254, &expect(&adv)), Drop::Ttl);
        let unicast = Expect {
            multicast: false,
            ..expect(&adv)
        };
        saw(chk(&adv, 64, &unicast), Drop::Ttl);
        let v3 = v3_ipv4();
        saw(chk(&adv, 255, &expect(&v3)), Drop::Version);
        for (auth, why) in [
            (Auth::None, Drop::AuthType),
            (Auth::Other(2), Drop::AuthType),
            (Auth::pass("secret2"), Drop::AuthMismatch),
        ] {
            let want = Expect {
                auth: &auth,
                ..expect(&adv)
            };
            saw(chk(&adv, 255, &want), why);
        }
        let want = Expect {
            interval_cs: 200,
            ..expect(&adv)
        };
        saw(chk(&adv, 255, &want), Drop::Interval);

        // parse_ipv4
        let mut ip = vec![0x45, 0xc0, 0, 0, 0, 0, 0, 0, 255, PROTO, 0, 0];
        ip.extend([192, 0, 2, 1, 224, 0, 0, 18]);
        ip.extend(&good);
        let len = u16::try_from(ip.len()).unwrap().to_be_bytes();
        ip[2..4].copy_from_slice(&len);
        let p = parse_ipv4(&ip).unwrap();
        assert_eq!(
            (p.src, p.dst, p.ttl, p.payload),
            (Ipv4Addr::new(192, 0, 2, 1), MCAST_V4, 255, &good[..])
        );
        // Bytes after the total length (padding) are not payload.
        let padded = [&ip[..], &[0; 6]].concat();
        assert_eq!(parse_ipv4(&padded).unwrap().payload, &good[..]);
        let ip_edit = |i: usize, b: u8| {
            let mut d = ip.clone();
            d[i] = b;
            parse_ipv4(&d).unwrap_err()
        };
        saw(parse_ipv4(&ip[..19]).unwrap_err(), Drop::Truncated);
        saw(
            parse_ipv4(&ip[..ip.len() - 1]).unwrap_err(),
            Drop::Truncated,
        );
        saw(ip_edit(0, 0x65), Drop::IpHeader);
        saw(ip_edit(0, 0x44), Drop::IpHeader);
        saw(ip_edit(0, 0x4f), Drop::IpHeader); // 60-byte header, 44-byte datagram
        saw(ip_edit(3, 19), Drop::IpHeader);
        saw(ip_edit(9, 17), Drop::Protocol);
        saw(ip_edit(6, 0x20), Drop::Fragment);
        saw(ip_edit(7, 1), Drop::Fragment);
        let mut df = ip.clone();
        df[6] = 0x40;
        assert!(parse_ipv4(&df).is_ok(), "DF alone is fine");

        assert_eq!(
            seen,
            Drop::ALL.iter().copied().collect(),
            "untested reasons"
        );
    }

    #[test]
    fn reasons_are_unique_snake_case_labels() {
        let labels: BTreeSet<_> = Drop::ALL.iter().map(|d| d.reason()).collect();
        assert_eq!(labels.len(), Drop::ALL.len());
        for d in Drop::ALL {
            let r = d.reason();
            assert!(
                r.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{r}"
            );
            assert!(d.to_string().len() > 20, "{d:?}");
        }
    }
}

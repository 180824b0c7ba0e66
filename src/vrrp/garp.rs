//! What a new VRRP master sends so that switches and neighbours learn where
//! the virtual addresses now live (RFC 5798 §6.4.2): a gratuitous ARP for
//! each IPv4 VIP (an ARP Announcement, RFC 5227 §2.3) and an unsolicited
//! Neighbour Advertisement for each IPv6 VIP (RFC 4861 §7.2.6).
//!
//! Owns the exact bytes of those frames (sans-IO: [`arp_frame`],
//! [`na_frame`], [`frame_for`]) and the AF_PACKET socket that puts them on
//! one interface ([`Sender`]). The VRRP task (`vrrp::task`) calls it when an
//! instance becomes master; it talks to the kernel only, through a packet
//! socket and getifaddrs(3) (rtnetlink underneath).
//!
//! The frames copy what keepalived 2.2 sends, because that is what the
//! peers and the switches in front of them already accept.
//!
//! Frames are not padded to the 60-byte Ethernet minimum: the driver pads
//! short frames (as it does for the kernel's own 42-byte ARP packets).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, OwnedFd};

use nix::errno::Errno;
use nix::ifaddrs::getifaddrs;
use nix::sys::socket::{AddressFamily, LinkAddr, MsgFlags, SockFlag, SockType, bind, send, socket};

const ETH_P_ARP: u16 = 0x0806;
/// if_arp.h: the hardware type of Ethernet-framed links.
const ARPHRD_ETHER: u16 = 1;
const ETH_P_IPV6: u16 = 0x86dd;
const ETH_BROADCAST: [u8; 6] = [0xff; 6];
/// ff02::1 mapped to Ethernet per RFC 2464 §7: 33:33 + the low 32 bits.
const ETH_ALL_NODES: [u8; 6] = [0x33, 0x33, 0x00, 0x00, 0x00, 0x01];
const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
const IPPROTO_ICMPV6: u8 = 58;
const ND_NEIGHBOR_ADVERT: u8 = 136;
/// RFC 4861 §4.4: O (0x20) set and S (0x40) clear, so that neighbours
/// replace the old master's MAC in their caches (§7.2.5); R (0x80) only on
/// request.
const NA_FLAG_OVERRIDE: u8 = 0x20;
const NA_FLAG_ROUTER: u8 = 0x80;
/// RFC 4861 §4.6.1: Target Link-Layer Address option.
const ND_OPT_TARGET_LL: u8 = 2;

/// Ethernet header + ARP request announcing `vip` at `mac` (42 bytes).
///
/// As keepalived sends it: an ARP *request* (RFC 5227 §3 says why
/// announcements are requests, not replies), broadcast, with sender IP =
/// target IP = VIP. The target MAC is ignored by receivers; RFC 5227 §2.3
/// suggests zeroes, keepalived puts ff:ff:ff:ff:ff:ff and so do we, since
/// that is the frame the network already sees at every failover.
pub fn arp_frame(mac: [u8; 6], vip: Ipv4Addr) -> Vec<u8> {
    let mut f = Vec::with_capacity(42);
    // Ethernet II
    f.extend_from_slice(&ETH_BROADCAST);
    f.extend_from_slice(&mac);
    f.extend_from_slice(&ETH_P_ARP.to_be_bytes());
    // ARP (RFC 826)
    f.extend_from_slice(&1u16.to_be_bytes()); // hardware type: Ethernet
    f.extend_from_slice(&0x0800u16.to_be_bytes()); // protocol type: IPv4
    f.push(6); // hardware address length
    f.push(4); // protocol address length
    f.extend_from_slice(&1u16.to_be_bytes()); // op: request
    f.extend_from_slice(&mac); // sender hardware address
    f.extend_from_slice(&vip.octets()); // sender protocol address
    f.extend_from_slice(&ETH_BROADCAST); // target hardware address
    f.extend_from_slice(&vip.octets()); // target protocol address
    f
}

/// Ethernet header + IPv6 + unsolicited Neighbour Advertisement for `vip`
/// at `mac`, to all nodes (86 bytes).
///
/// RFC 4861 §7.2.6: sent to ff02::1 with the Override flag set and the
/// Solicited flag clear; §7.1.2: hop limit 255, which receivers check to
/// know it was not forwarded. The Router flag is clear; see
/// [`na_frame_with_router`] for a director that forwards IPv6.
pub fn na_frame(mac: [u8; 6], vip: Ipv6Addr) -> Vec<u8> {
    na_frame_with_router(mac, vip, false)
}

/// [`na_frame`] with the Router flag set when `router` is true.
///
/// keepalived sets it when IPv6 forwarding is on for the interface
/// (`net.ipv6.conf.IF.forwarding`), as an LVS-NAT director has. It matters:
/// RFC 4861 §7.2.5 has a neighbour that sees R go from set to clear drop
/// the sender from its Default Router List, so a forwarding master must
/// keep saying it is a router.
pub fn na_frame_with_router(mac: [u8; 6], vip: Ipv6Addr, router: bool) -> Vec<u8> {
    // ICMPv6 message: 24 bytes of NA + 8 bytes of option.
    let mut icmp = Vec::with_capacity(32);
    icmp.push(ND_NEIGHBOR_ADVERT);
    icmp.push(0); // code
    icmp.extend_from_slice(&[0, 0]); // checksum, filled below
    let flags = NA_FLAG_OVERRIDE | if router { NA_FLAG_ROUTER } else { 0 };
    icmp.extend_from_slice(&[flags, 0, 0, 0]); // flags + reserved
    icmp.extend_from_slice(&vip.octets()); // target address
    icmp.push(ND_OPT_TARGET_LL);
    icmp.push(1); // option length in units of 8 octets
    icmp.extend_from_slice(&mac);
    let sum = icmpv6_checksum(vip, ALL_NODES, &icmp);
    icmp[2..4].copy_from_slice(&sum.to_be_bytes());

    let mut f = Vec::with_capacity(14 + 40 + icmp.len());
    // Ethernet II
    f.extend_from_slice(&ETH_ALL_NODES);
    f.extend_from_slice(&mac);
    f.extend_from_slice(&ETH_P_IPV6.to_be_bytes());
    // IPv6 (RFC 8200 §3)
    f.extend_from_slice(&[0x60, 0, 0, 0]); // version 6, traffic class 0, flow 0
    f.extend_from_slice(&(icmp.len() as u16).to_be_bytes()); // payload length
    f.push(IPPROTO_ICMPV6); // next header
    f.push(255); // hop limit
    f.extend_from_slice(&vip.octets());
    f.extend_from_slice(&ALL_NODES.octets());
    f.extend_from_slice(&icmp);
    f
}

/// The announcement frame for one VIP, whichever family it is.
pub fn frame_for(mac: [u8; 6], vip: IpAddr) -> Vec<u8> {
    match vip {
        IpAddr::V4(v4) => arp_frame(mac, v4),
        IpAddr::V6(v6) => na_frame(mac, v6),
    }
}

/// RFC 4443 §2.3 / RFC 8200 §8.1: the one's-complement sum over the
/// pseudo-header (source, destination, upper-layer length, next header)
/// and the ICMPv6 message with its checksum field zero.
fn icmpv6_checksum(src: Ipv6Addr, dst: Ipv6Addr, icmp: &[u8]) -> u16 {
    let mut pseudo = Vec::with_capacity(40);
    pseudo.extend_from_slice(&src.octets());
    pseudo.extend_from_slice(&dst.octets());
    pseudo.extend_from_slice(&(icmp.len() as u32).to_be_bytes());
    pseudo.extend_from_slice(&[0, 0, 0, IPPROTO_ICMPV6]);
    let mut sum: u32 = 0;
    for chunk in pseudo.chunks(2).chain(icmp.chunks(2)) {
        let word = u16::from_be_bytes([chunk[0], chunk.get(1).copied().unwrap_or(0)]);
        sum += u32::from(word);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// The AF_PACKET address of an interface, found by index or by name.
///
/// nix has no safe constructor for `sockaddr_ll`, but getifaddrs(3) returns
/// one per link on Linux (the AF_PACKET entries), with the ifindex and MAC
/// filled in; binding to it is how we reach an interface without `unsafe`.
/// getifaddrs asks rtnetlink, so it answers for the calling thread's
/// network namespace (unlike /sys, which is the mounter's).
fn links() -> Result<Vec<(String, Option<LinkAddr>)>, String> {
    let addrs =
        getifaddrs().map_err(|e| format!("listing the network interfaces (getifaddrs): {e}"))?;
    // A link without a hardware address (tun) is listed with none at all.
    Ok(addrs
        .filter_map(|ifa| match ifa.address {
            None => Some((ifa.interface_name, None)),
            Some(a) => a.as_link_addr().map(|ll| (ifa.interface_name, Some(*ll))),
        })
        .collect())
}

/// The interface's index and MAC address by name.
pub fn link_info(ifname: &str) -> Result<(u32, [u8; 6]), String> {
    let mut named = links()?
        .into_iter()
        .filter(|(name, _)| name == ifname)
        .peekable();
    if named.peek().is_none() {
        return Err(format!(
            "interface {ifname} does not exist in this network namespace; \
             check the VRRP instance's interface (ip link show)"
        ));
    }
    let Some(ll) = named.find_map(|(_, ll)| ll) else {
        return Err(format!(
            "interface {ifname} is not an Ethernet link (it has no hardware address); \
             gratuitous ARP and neighbour advertisements need an Ethernet interface \
             (a NIC, bond, bridge, VLAN or macvlan)"
        ));
    };
    // The frames built here are Ethernet II; a loopback, tun or
    // InfiniBand link would carry them as garbage.
    if ll.hatype() != ARPHRD_ETHER || ll.halen() != 6 {
        return Err(format!(
            "interface {ifname} is not an Ethernet link (ARP hardware type {}, address length {}); \
             gratuitous ARP and neighbour advertisements need an Ethernet interface \
             (a NIC, bond, bridge, VLAN or macvlan)",
            ll.hatype(),
            ll.halen()
        ));
    }
    let mac = ll.addr().unwrap_or_default();
    let ifindex = u32::try_from(ll.ifindex())
        .map_err(|_| format!("interface {ifname} has index {} beyond u32", ll.ifindex()))?;
    Ok((ifindex, mac))
}

/// An AF_PACKET (SOCK_RAW) socket bound to one interface, for sending whole
/// Ethernet frames.
///
/// Opened with protocol 0, so the kernel delivers it no incoming frames
/// (packet(7)): it only sends, and never fills a receive queue nobody reads.
/// Non-blocking, so a stuck interface makes `send` fail with EAGAIN instead
/// of stalling the async task that called it.
#[derive(Debug)]
pub struct Sender {
    fd: OwnedFd,
    ifname: String,
}

impl Sender {
    /// Opens a packet socket bound to interface `ifindex`. Needs
    /// CAP_NET_RAW.
    pub fn open(ifindex: u32) -> Result<Sender, String> {
        let found = links()?.into_iter().find_map(|(name, ll)| {
            ll.filter(|ll| ll.ifindex() == ifindex as usize)
                .map(|ll| (name, ll))
        });
        let (ifname, ll) = found.ok_or_else(|| {
            format!(
                "no link with index {ifindex} and a hardware address in this network namespace \
                 (was it removed?); cannot send gratuitous ARP/NA on it"
            )
        })?;
        let fd = socket(
            AddressFamily::Packet,
            SockType::Raw,
            SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
            None,
        )
        .map_err(|e| {
            let hint = if matches!(e, Errno::EPERM | Errno::EACCES) {
                "; this needs CAP_NET_RAW (run as root or grant the capability)"
            } else {
                ""
            };
            format!("opening a packet socket for {ifname} (index {ifindex}): {e}{hint}")
        })?;
        // sll_protocol is 0 in getifaddrs' address: bind keeps the socket's
        // protocol (0, receive nothing) and only pins the interface. On send,
        // the kernel reads the protocol from the frame's Ethernet header.
        bind(fd.as_raw_fd(), &ll)
            .map_err(|e| format!("binding a packet socket to {ifname} (index {ifindex}): {e}"))?;
        Ok(Sender { fd, ifname })
    }

    /// Sends one whole Ethernet frame (header included) on the interface.
    pub fn send(&self, frame: &[u8]) -> Result<(), String> {
        let n = send(self.fd.as_raw_fd(), frame, MsgFlags::empty()).map_err(|e| {
            let hint = match e {
                Errno::ENETDOWN | Errno::ENXIO => "; is the interface up? (ip link set dev IF up)",
                Errno::EAGAIN => "; the interface is not draining its queue (carrier lost?)",
                Errno::EMSGSIZE => "; the frame is larger than the interface's MTU",
                _ => "",
            };
            format!(
                "sending a {}-byte frame on {}: {e}{hint}",
                frame.len(),
                self.ifname
            )
        })?;
        if n != frame.len() {
            return Err(format!(
                "sending a {}-byte frame on {}: the kernel took only {n} bytes",
                frame.len(),
                self.ifname
            ));
        }
        Ok(())
    }

    /// The name of the interface the socket is bound to (for log lines).
    pub fn ifname(&self) -> &str {
        &self.ifname
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: [u8; 6] = [0x02, 0x11, 0x22, 0x33, 0x44, 0x55];

    #[test]
    fn arp_is_a_broadcast_request_with_the_vip_as_sender_and_target() {
        let vip = Ipv4Addr::new(192, 0, 2, 10);
        let f = arp_frame(MAC, vip);
        assert_eq!(f.len(), 42);
        assert_eq!(f[0..6], [0xff; 6], "Ethernet destination: broadcast");
        assert_eq!(f[6..12], MAC, "Ethernet source: interface MAC");
        assert_eq!(f[12..14], [0x08, 0x06], "ethertype ARP");
        assert_eq!(f[14..16], [0x00, 0x01], "hardware type Ethernet");
        assert_eq!(f[16..18], [0x08, 0x00], "protocol type IPv4");
        assert_eq!(f[18], 6, "hardware length");
        assert_eq!(f[19], 4, "protocol length");
        assert_eq!(f[20..22], [0x00, 0x01], "op: request (keepalived's choice)");
        assert_eq!(f[22..28], MAC, "sender MAC");
        assert_eq!(f[28..32], [192, 0, 2, 10], "sender IP = VIP");
        assert_eq!(f[32..38], [0xff; 6], "target MAC: broadcast");
        assert_eq!(f[38..42], [192, 0, 2, 10], "target IP = VIP");
    }

    #[test]
    fn na_is_an_unsolicited_override_to_all_nodes() {
        let vip: Ipv6Addr = "2001:db8::10".parse().unwrap();
        let f = na_frame(MAC, vip);
        assert_eq!(f.len(), 14 + 40 + 32);
        // Ethernet
        assert_eq!(
            f[0..6],
            [0x33, 0x33, 0, 0, 0, 1],
            "ff02::1 as Ethernet multicast"
        );
        assert_eq!(f[6..12], MAC);
        assert_eq!(f[12..14], [0x86, 0xdd], "ethertype IPv6");
        // IPv6
        let ip = &f[14..54];
        assert_eq!(ip[0] >> 4, 6, "version");
        assert_eq!(ip[0..4], [0x60, 0, 0, 0], "traffic class and flow label 0");
        assert_eq!(u16::from_be_bytes([ip[4], ip[5]]), 32, "payload length");
        assert_eq!(ip[6], 58, "next header ICMPv6");
        assert_eq!(ip[7], 255, "hop limit 255 (RFC 4861 §7.1.2)");
        assert_eq!(ip[8..24], vip.octets(), "source = VIP");
        assert_eq!(ip[24..40], ALL_NODES.octets(), "destination ff02::1");
        // ICMPv6 NA
        let icmp = &f[54..];
        assert_eq!(icmp[0], 136, "type NA");
        assert_eq!(icmp[1], 0, "code");
        assert_eq!(icmp[4], 0x20, "O set; R and S clear");
        assert_eq!(icmp[5..8], [0, 0, 0], "reserved");
        assert_eq!(icmp[8..24], vip.octets(), "target = VIP");
        assert_eq!(icmp[24], 2, "option: target link-layer address");
        assert_eq!(icmp[25], 1, "option length 8 bytes");
        assert_eq!(icmp[26..32], MAC);
        // Checksum, recomputed independently: summing the whole message
        // with its checksum in place gives 0xffff, i.e. the complement is 0.
        let mut zeroed = icmp.to_vec();
        zeroed[2..4].copy_from_slice(&[0, 0]);
        let expect = icmpv6_checksum(vip, ALL_NODES, &zeroed);
        assert_eq!(u16::from_be_bytes([icmp[2], icmp[3]]), expect);
        assert_eq!(icmpv6_checksum(vip, ALL_NODES, icmp), 0, "verifies to zero");
    }

    /// A checksum worked out by hand, so the function is not only checked
    /// against itself.
    #[test]
    fn checksum_of_a_known_message() {
        // src ::1, dst ::2, message [0x01, 0x02, 0x03] (odd length: padded).
        // Words: 0x0001 (src) + 0x0002 (dst) + 0x0003 (length) + 0x003a
        // (next header) + 0x0102 + 0x0300 = 0x0442 → !0x0442 = 0xfbbd.
        let sum = icmpv6_checksum(Ipv6Addr::LOCALHOST, "::2".parse().unwrap(), &[1, 2, 3]);
        assert_eq!(sum, 0xfbbd);
    }

    #[test]
    fn na_with_router_differs_only_in_the_flag_and_checksum() {
        let vip: Ipv6Addr = "2001:db8::10".parse().unwrap();
        let plain = na_frame(MAC, vip);
        let router = na_frame_with_router(MAC, vip, true);
        assert_eq!(router[54 + 4], 0xa0, "R and O set, S clear");
        assert_eq!(
            icmpv6_checksum(vip, ALL_NODES, &router[54..]),
            0,
            "verifies to zero"
        );
        let differ: Vec<usize> = (0..plain.len())
            .filter(|&i| plain[i] != router[i])
            .collect();
        assert!(
            differ.iter().all(|i| [56, 57, 58].contains(i)),
            "{differ:?}"
        );
    }

    #[test]
    fn frame_for_dispatches_on_family() {
        let v4 = Ipv4Addr::new(192, 0, 2, 1);
        let v6: Ipv6Addr = "2001:db8::1".parse().unwrap();
        assert_eq!(frame_for(MAC, v4.into()), arp_frame(MAC, v4));
        assert_eq!(frame_for(MAC, v6.into()), na_frame(MAC, v6));
    }

    #[test]
    fn a_missing_interface_is_named_in_the_error() {
        let e = link_info("pharos-nope0").unwrap_err();
        assert!(e.contains("pharos-nope0"), "{e}");
        let e = Sender::open(u32::MAX).unwrap_err();
        assert!(e.contains(&u32::MAX.to_string()), "{e}");
    }
}

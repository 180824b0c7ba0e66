//! Raw IP sockets for VRRP (IP protocol 112) on one interface and family.
//!
//! Two sockets per interface and family, as keepalived does: a receive
//! socket bound to the device and joined to the VRRP group (224.0.0.18 /
//! ff02::12), and a send socket bound to the device and to the source
//! address the adverts must carry. They are separate because a raw socket
//! bound to a local address only receives datagrams sent to that address,
//! and the group is not one (RFC 5798 §5.1.1.1: the source is the primary
//! address; §5.1.2.1: the IPv6 source is the link-local address).
//!
//! TTL / hop limit is 255 on send (RFC 5798 §5.1.1.3) and reported on
//! receive so the caller can check it (§7.1); IPv4 TOS is 0xc0 (internet
//! control), as keepalived sends. Multicast loopback is off: a router does
//! not hear itself.

use std::io::{self, IoSliceMut};
use std::net::{IpAddr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::num::NonZeroU32;
use std::os::fd::AsRawFd;

use nix::sys::socket::{self as nsock, ControlMessageOwned, MsgFlags, SockaddrStorage};
use socket2::{Domain, InterfaceIndexOrAddress, Protocol, Socket, Type};
use tokio::io::unix::AsyncFd;

use super::packet::{self, Drop, MCAST_V4, MCAST_V6, PROTO};
use crate::config::types::Family;

/// One received VRRP datagram, IP header removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datagram {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// TTL (IPv4) or hop limit (IPv6) as received.
    pub ttl: u8,
    pub payload: Vec<u8>,
}

/// The receive socket of one interface and family.
pub struct Rx {
    fd: AsyncFd<Socket>,
    family: Family,
    ifname: String,
}

fn ctx(what: &str, ifname: &str, e: io::Error) -> String {
    let hint = match e.raw_os_error() {
        Some(nix::libc::EPERM | nix::libc::EACCES) => "; pharos needs CAP_NET_RAW (run it as root)",
        Some(nix::libc::ENODEV) => "; the interface does not exist (yet)",
        Some(nix::libc::EADDRNOTAVAIL) => {
            "; the interface has no usable address of that family yet (IPv6: link-local still tentative?)"
        }
        _ => "",
    };
    format!("{what} on {ifname}: {e}{hint}")
}

fn raw(family: Family) -> io::Result<Socket> {
    let domain = match family {
        Family::Ipv4 => Domain::IPV4,
        Family::Ipv6 => Domain::IPV6,
    };
    let s = Socket::new(
        domain,
        Type::RAW.nonblocking(),
        Some(Protocol::from(i32::from(PROTO))),
    )?;
    Ok(s)
}

fn bind_dev(s: &Socket, family: Family, ifindex: u32) -> io::Result<()> {
    let idx = NonZeroU32::new(ifindex);
    match family {
        Family::Ipv4 => s.bind_device_by_index_v4(idx),
        Family::Ipv6 => s.bind_device_by_index_v6(idx),
    }
}

impl Rx {
    pub fn open(family: Family, ifname: &str, ifindex: u32) -> Result<Rx, String> {
        let s = raw(family).map_err(|e| ctx("opening a raw VRRP socket", ifname, e))?;
        bind_dev(&s, family, ifindex).map_err(|e| ctx("binding the VRRP socket", ifname, e))?;
        match family {
            Family::Ipv4 => s
                .join_multicast_v4_n(&MCAST_V4, &InterfaceIndexOrAddress::Index(ifindex))
                .map_err(|e| ctx("joining 224.0.0.18", ifname, e))?,
            Family::Ipv6 => {
                s.join_multicast_v6(&MCAST_V6, ifindex)
                    .map_err(|e| ctx("joining ff02::12", ifname, e))?;
                nsock::setsockopt(&s, nsock::sockopt::Ipv6RecvHopLimit, &true)
                    .map_err(|e| ctx("asking for hop limits", ifname, e.into()))?;
                nsock::setsockopt(&s, nsock::sockopt::Ipv6RecvPacketInfo, &true)
                    .map_err(|e| ctx("asking for destinations", ifname, e.into()))?;
            }
        }
        // `AsyncFd::new` is deprecated because it cannot check that the fd
        // stays open; here the `Socket` owns it and moves into the AsyncFd,
        // so it lives exactly as long as the registration.
        #[allow(deprecated)]
        let fd = AsyncFd::new(s).map_err(|e| ctx("registering the VRRP socket", ifname, e))?;
        Ok(Rx {
            fd,
            family,
            ifname: ifname.to_string(),
        })
    }

    /// The next VRRP datagram. `Ok(Err(drop))` for one whose IP header is
    /// unusable (counted by the caller); `Err` for a socket failure.
    pub async fn recv(&self) -> io::Result<Result<Datagram, Drop>> {
        let mut buf = vec![0u8; 2048];
        loop {
            let mut guard = self.fd.readable().await?;
            match guard.try_io(|fd| recv_one(fd.get_ref(), self.family, &mut buf)) {
                Ok(r) => return r,
                Err(_would_block) => continue,
            }
        }
    }

    pub fn ifname(&self) -> &str {
        &self.ifname
    }
}

fn recv_one(s: &Socket, family: Family, buf: &mut [u8]) -> io::Result<Result<Datagram, Drop>> {
    let mut cmsg = nix::cmsg_space!(nix::libc::in6_pktinfo, i32);
    let mut iov = [IoSliceMut::new(buf)];
    let msg = nsock::recvmsg::<SockaddrStorage>(
        s.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::empty(),
    )
    .map_err(io::Error::from)?;
    let len = msg.bytes;
    let truncated = msg.flags.contains(MsgFlags::MSG_TRUNC);
    let mut hops = None;
    let mut dst6 = None;
    if let Ok(cmsgs) = msg.cmsgs() {
        for c in cmsgs {
            match c {
                ControlMessageOwned::Ipv6HopLimit(h) => hops = u8::try_from(h).ok(),
                ControlMessageOwned::Ipv6PacketInfo(pi) => {
                    dst6 = Some(Ipv6Addr::from(pi.ipi6_addr.s6_addr));
                }
                _ => {}
            }
        }
    }
    let src6 = msg
        .address
        .as_ref()
        .and_then(|a| a.as_sockaddr_in6())
        .map(|a| a.ip());
    let data = &iov[0][..len.min(iov[0].len())];
    if truncated {
        return Ok(Err(Drop::Length));
    }
    Ok(match family {
        Family::Ipv4 => packet::parse_ipv4(data).map(|p| Datagram {
            src: IpAddr::V4(p.src),
            dst: IpAddr::V4(p.dst),
            ttl: p.ttl,
            payload: p.payload.to_vec(),
        }),
        Family::Ipv6 => match (src6, dst6, hops) {
            (Some(src), Some(dst), Some(ttl)) => Ok(Datagram {
                src: IpAddr::V6(src),
                dst: IpAddr::V6(dst),
                ttl,
                payload: data.to_vec(),
            }),
            _ => Err(Drop::Length),
        },
    })
}

/// The send socket of one interface, family and source address (the
/// address may be another interface's: a virtual MAC's macvlan sends from
/// its parent's primary address).
pub struct Tx {
    sock: Socket,
    pub src: IpAddr,
    ifindex: u32,
    ifname: String,
}

impl Tx {
    pub fn open(ifname: &str, ifindex: u32, src: IpAddr) -> Result<Tx, String> {
        let family = Family::of(&src);
        let s = raw(family).map_err(|e| ctx("opening a raw VRRP socket", ifname, e))?;
        bind_dev(&s, family, ifindex).map_err(|e| ctx("binding the VRRP socket", ifname, e))?;
        let what = "setting up the VRRP send socket";
        match src {
            IpAddr::V4(a) => {
                s.set_ttl_v4(255).map_err(|e| ctx(what, ifname, e))?;
                s.set_multicast_ttl_v4(255)
                    .map_err(|e| ctx(what, ifname, e))?;
                s.set_multicast_loop_v4(false)
                    .map_err(|e| ctx(what, ifname, e))?;
                s.set_tos_v4(0xc0).map_err(|e| ctx(what, ifname, e))?;
                // No IP_MULTICAST_IF: the device binding already picks the
                // way out (raw_sendmsg takes the bound device over the
                // multicast one), and by address it would name the device
                // holding `a`, which the kernel refuses when that is not
                // the bound one (a virtual MAC's macvlan sends from its
                // parent's address).
                s.set_freebind_v4(true).map_err(|e| ctx(what, ifname, e))?;
                s.bind(&SocketAddr::V4(SocketAddrV4::new(a, 0)).into())
                    .map_err(|e| ctx(&format!("binding the VRRP socket to {a}"), ifname, e))?;
            }
            IpAddr::V6(a) => {
                s.set_unicast_hops_v6(255)
                    .map_err(|e| ctx(what, ifname, e))?;
                s.set_multicast_hops_v6(255)
                    .map_err(|e| ctx(what, ifname, e))?;
                s.set_multicast_loop_v6(false)
                    .map_err(|e| ctx(what, ifname, e))?;
                s.set_multicast_if_v6(ifindex)
                    .map_err(|e| ctx(what, ifname, e))?;
                s.set_freebind_v6(true).map_err(|e| ctx(what, ifname, e))?;
                let scope = if is_link_local(&a) { ifindex } else { 0 };
                s.bind(&SocketAddr::V6(SocketAddrV6::new(a, 0, 0, scope)).into())
                    .map_err(|e| ctx(&format!("binding the VRRP socket to {a}"), ifname, e))?;
            }
        }
        Ok(Tx {
            sock: s,
            src,
            ifindex,
            ifname: ifname.to_string(),
        })
    }

    /// The device it is bound to.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// Sends one VRRP message (the kernel adds the IP header).
    pub fn send(&self, payload: &[u8], dst: IpAddr) -> Result<(), String> {
        let to: SocketAddr = match dst {
            IpAddr::V4(a) => SocketAddr::V4(SocketAddrV4::new(a, 0)),
            IpAddr::V6(a) => {
                let scope = if is_link_local(&a) || a.is_multicast() {
                    self.ifindex
                } else {
                    0
                };
                SocketAddr::V6(SocketAddrV6::new(a, 0, 0, scope))
            }
        };
        self.sock
            .send_to(payload, &to.into())
            .map(|_| ())
            .map_err(|e| {
                ctx(
                    &format!("sending an advertisement to {dst}"),
                    &self.ifname,
                    e,
                )
            })
    }
}

/// Where adverts go: the group, or each unicast peer.
pub fn group(family: Family) -> IpAddr {
    match family {
        Family::Ipv4 => IpAddr::V4(MCAST_V4),
        Family::Ipv6 => IpAddr::V6(MCAST_V6),
    }
}

pub fn is_link_local(a: &Ipv6Addr) -> bool {
    (a.segments()[0] & 0xffc0) == 0xfe80
}

/// For tests and logs: whether an address is IPv4 multicast.
pub fn is_multicast(a: &IpAddr) -> bool {
    match a {
        IpAddr::V4(v) => v.is_multicast(),
        IpAddr::V6(v) => v.is_multicast(),
    }
}

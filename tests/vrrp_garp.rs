//! Gratuitous ARP and unsolicited neighbour advertisements on a real link:
//! in a network namespace of the test's own, a veth pair `ga`–`gb`; frames
//! sent with `vrrp::garp::Sender` on `ga` arrive intact on `gb` (read with
//! a packet socket), and `gb`'s kernel accepts them into its neighbour table
//! (arp_accept=1; for IPv6, RFC 9131's accept_untracked_na with forwarding
//! on), which shows the ARP fields and the NA checksum, hop limit and flags
//! are what a Linux neighbour expects. A link that is down is an error
//! naming it. Needs root (namespaces, CAP_NET_RAW).

mod common;

use std::fs::File;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use common::netns::Netns;
use nix::ifaddrs::getifaddrs;
use nix::sched::{CloneFlags, setns};
use nix::sys::socket::{
    AddressFamily, LinkAddr, SockFlag, SockProtocol, SockType, bind, recvfrom, setsockopt, socket,
    sockopt,
};
use nix::sys::time::TimeVal;
use pharos::vrrp::garp::{Sender, frame_for, link_info};

const VIP4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);
const VIP6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x10);
/// packet(7) sll_pkttype values.
const PACKET_BROADCAST: u8 = 1;
const PACKET_MULTICAST: u8 = 2;

/// Runs `f` on a thread moved into `ns`'s network namespace, so sockets
/// and getifaddrs there see the namespace's links; the test's own threads
/// stay where they are.
fn in_netns<T: Send + 'static>(ns: &Netns, f: impl FnOnce() -> T + Send + 'static) -> T {
    let path = format!("/run/netns/{}", ns.0);
    std::thread::spawn(move || {
        let fd = File::open(&path).unwrap_or_else(|e| panic!("opening {path}: {e}"));
        setns(&fd, CloneFlags::CLONE_NEWNET).expect("setns into the test namespace (root needed)");
        f()
    })
    .join()
    .expect("netns thread")
}

/// A namespace with a veth pair: `ga` sends, `gb` listens and has
/// addresses on the VIPs' subnets (the kernel learns gratuitous ARP only
/// for on-link senders).
fn setup() -> Netns {
    let ns = Netns::new();
    ns.run(&[
        "ip", "link", "add", "ga", "type", "veth", "peer", "name", "gb",
    ]);
    ns.run(&["ip", "addr", "add", "192.0.2.2/24", "dev", "gb"]);
    ns.run(&["ip", "addr", "add", "2001:db8::2/64", "dev", "gb", "nodad"]);
    ns.write("net.ipv4.conf.gb.arp_accept", "1");
    // RFC 9131: an unsolicited NA creates a STALE entry, on a router.
    ns.write("net.ipv6.conf.gb.forwarding", "1");
    ns.write("net.ipv6.conf.gb.accept_untracked_na", "1");
    ns.run(&["ip", "link", "set", "ga", "up"]);
    ns.run(&["ip", "link", "set", "gb", "up"]);
    ns
}

/// A packet socket receiving every frame that arrives on `ifname`.
fn listen(ifname: &str) -> OwnedFd {
    let ll: LinkAddr = getifaddrs()
        .unwrap()
        .find(|i| {
            i.interface_name == ifname
                && i.address.as_ref().and_then(|a| a.as_link_addr()).is_some()
        })
        .and_then(|i| i.address.and_then(|a| a.as_link_addr().copied()))
        .unwrap_or_else(|| panic!("{ifname} exists"));
    let fd = socket(
        AddressFamily::Packet,
        SockType::Raw,
        SockFlag::SOCK_CLOEXEC,
        SockProtocol::EthAll,
    )
    .unwrap();
    bind(fd.as_raw_fd(), &ll).unwrap();
    setsockopt(&fd, sockopt::ReceiveTimeout, &TimeVal::new(0, 200_000)).unwrap();
    fd
}

/// Waits (at most 3 s) for a frame equal to `want`, skipping the link's own
/// chatter (IPv6 router solicitations, MLD reports); returns its pkttype.
fn receive(fd: &OwnedFd, want: &[u8]) -> u8 {
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut buf = [0u8; 2048];
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        let Ok((n, from)) = recvfrom::<LinkAddr>(fd.as_raw_fd(), &mut buf) else {
            continue; // the 200 ms receive timeout
        };
        if &buf[..n] == want {
            return from
                .expect("packet sockets give the sender's link address")
                .pkttype();
        }
        seen.push(buf[..n].to_vec());
    }
    panic!("frame {want:02x?} did not arrive; saw {seen:02x?}");
}

/// `gb`'s neighbour entry for `ip`, as (lladdr, states).
fn neighbour(ns: &Netns, ip: IpAddr) -> Option<(String, Vec<String>)> {
    let out = ns
        .exec(&[
            "ip",
            "-j",
            "neigh",
            "show",
            "dev",
            "gb",
            "to",
            &ip.to_string(),
        ])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    let n = v.as_array()?.first()?;
    let states = n["state"]
        .as_array()?
        .iter()
        .filter_map(|s| s.as_str().map(String::from))
        .collect();
    Some((n["lladdr"].as_str()?.to_string(), states))
}

fn mac_text(mac: [u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[test]
fn garp_and_na_arrive_intact_and_neighbours_learn_the_vip() {
    let ns = setup();
    let (mac, arp, na, arp_type, na_type) = in_netns(&ns, || {
        let (ifindex, mac) = link_info("ga").expect("ga's index and MAC");
        let rx = listen("gb");
        let tx = Sender::open(ifindex).expect("packet socket on ga");
        assert_eq!(tx.ifname(), "ga");
        let arp = frame_for(mac, VIP4.into());
        let na = frame_for(mac, VIP6.into());
        tx.send(&arp).expect("GARP sent");
        let arp_type = receive(&rx, &arp);
        tx.send(&na).expect("NA sent");
        let na_type = receive(&rx, &na);
        (mac, arp, na, arp_type, na_type)
    });
    assert_eq!(arp.len(), 42);
    assert_eq!(na.len(), 86);
    assert_eq!(
        arp_type, PACKET_BROADCAST,
        "GARP went to the Ethernet broadcast"
    );
    assert_eq!(na_type, PACKET_MULTICAST, "NA went to 33:33:00:00:00:01");

    // The kernel on gb parsed both and took ga's MAC for the VIPs.
    let deadline = Instant::now() + Duration::from_secs(3);
    for vip in [IpAddr::V4(VIP4), IpAddr::V6(VIP6)] {
        loop {
            match neighbour(&ns, vip) {
                Some((lladdr, states)) => {
                    assert_eq!(lladdr, mac_text(mac), "{vip} learnt at ga's MAC");
                    assert!(states.iter().any(|s| s == "STALE"), "{vip}: {states:?}");
                    break;
                }
                None if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
                None => panic!("gb has no neighbour entry for {vip}"),
            }
        }
    }
}

#[test]
fn a_second_announcement_moves_the_vip_to_the_new_mac() {
    // What a takeover looks like to a neighbour: the VIP was at one MAC, a
    // new master announces another, and the Override flag / GARP replace it.
    let ns = setup();
    let old = [0x02, 0, 0, 0, 0, 0x01];
    let mac = in_netns(&ns, move || {
        let (ifindex, mac) = link_info("ga").unwrap();
        let rx = listen("gb");
        let tx = Sender::open(ifindex).unwrap();
        for m in [old, mac] {
            for vip in [IpAddr::V4(VIP4), IpAddr::V6(VIP6)] {
                let f = frame_for(m, vip);
                tx.send(&f).unwrap();
                receive(&rx, &f);
            }
        }
        mac
    });
    let deadline = Instant::now() + Duration::from_secs(3);
    for vip in [IpAddr::V4(VIP4), IpAddr::V6(VIP6)] {
        while neighbour(&ns, vip).map(|n| n.0) != Some(mac_text(mac)) {
            assert!(
                Instant::now() < deadline,
                "{vip} still at {:?}, not {}",
                neighbour(&ns, vip),
                mac_text(mac)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

#[test]
fn sending_on_a_link_that_is_down_names_it() {
    let ns = setup();
    ns.run(&["ip", "link", "set", "ga", "down"]);
    let err = in_netns(&ns, || {
        let (ifindex, mac) = link_info("ga").unwrap();
        let tx = Sender::open(ifindex).unwrap();
        tx.send(&frame_for(mac, VIP4.into())).unwrap_err()
    });
    assert!(err.contains("ga") && err.contains("up"), "{err}");
}

#[test]
fn a_link_without_ethernet_framing_is_refused() {
    let ns = Netns::new();
    ns.run(&["ip", "tuntap", "add", "gu", "mode", "tun"]);
    let (lo, tun) = in_netns(&ns, || (link_info("lo"), link_info("gu")));
    for (name, res) in [("lo", lo), ("gu", tun)] {
        let err = res.unwrap_err();
        assert!(
            err.contains(name) && err.contains("not an Ethernet link"),
            "{err}"
        );
    }
}

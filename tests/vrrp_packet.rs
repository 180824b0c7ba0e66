//! The VRRP codec against adverts keepalived 2.2.7 sent
//! (tests/fixtures/vrrp-keepalived.txt, made by vrrp-keepalived-capture.sh),
//! and decode / parse_ipv4 on hostile input.

use std::net::IpAddr;

use pharos::config::model::VrrpVersion;
use pharos::vrrp::packet::{Advert, Auth, Expect, PROTO, check, decode, encode, parse_ipv4};

struct Captured {
    what: String,
    src: IpAddr,
    dst: IpAddr,
    ttl: u8,
    msg: Vec<u8>,
}

fn hex(s: &str) -> Vec<u8> {
    assert!(s.len() % 2 == 0 && s.is_ascii(), "hex: {s}");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
        .collect()
}

/// Each packet: `# what`, `src=.. dst=.. ttl=..`, the message in hex.
fn fixtures() -> Vec<Captured> {
    let text = include_str!("fixtures/vrrp-keepalived.txt");
    let mut out = Vec::new();
    let mut what = String::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some(c) = line.strip_prefix("# ") {
            what = c.to_string();
            continue;
        }
        let mut f = line.split(' ').map(|kv| kv.split_once('=').expect("k=v").1);
        let (src, dst, ttl) = (f.next().unwrap(), f.next().unwrap(), f.next().unwrap());
        out.push(Captured {
            what: what.clone(),
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            ttl: ttl.parse().unwrap(),
            msg: hex(lines.next().expect("hex line after src/dst/ttl")),
        });
    }
    out
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// What the configs in vrrp-keepalived-capture.sh say each VRID's adverts hold.
fn expected(c: &Captured) -> Advert {
    let shutdown = c.what.contains("priority 0");
    let (version, vrid, priority, interval_cs, addrs, auth) = if c.what.contains("VRRPv2") {
        let addrs = vec![ip("192.0.2.101"), ip("192.0.2.102")];
        (VrrpVersion::V2, 51, 150, 100, addrs, Auth::pass("secret1"))
    } else if c.what.contains("VRRPv3 IPv4") {
        (
            VrrpVersion::V3,
            52,
            100,
            50,
            vec![ip("192.0.2.111")],
            Auth::None,
        )
    } else {
        assert!(c.what.contains("VRRPv3 IPv6"), "{}", c.what);
        let addrs = vec![ip("2001:db8:1::101"), ip("2001:db8:1::102")];
        (VrrpVersion::V3, 53, 200, 100, addrs, Auth::None)
    };
    Advert {
        version,
        vrid,
        priority: if shutdown { 0 } else { priority },
        interval_cs,
        addrs,
        auth,
    }
}

#[test]
fn fixture_holds_each_kind_of_keepalived_advert() {
    let all = fixtures();
    for kind in ["VRRPv2", "VRRPv3 IPv4", "VRRPv3 IPv6"] {
        for when in ["periodic", "priority 0"] {
            assert!(
                all.iter()
                    .any(|c| c.what.contains(kind) && c.what.contains(when)),
                "no {kind} {when} advert in the fixture"
            );
        }
    }
}

#[test]
fn keepalived_adverts_decode_to_their_config() {
    for c in fixtures() {
        let adv = decode(&c.msg, c.src, c.dst).unwrap_or_else(|d| panic!("{}: {d}", c.what));
        assert_eq!(adv, expected(&c), "{}", c.what);
    }
}

#[test]
fn reencoding_keepalived_adverts_gives_the_same_bytes() {
    for c in fixtures() {
        let adv = decode(&c.msg, c.src, c.dst).unwrap();
        assert_eq!(encode(&adv, c.src, c.dst), c.msg, "{}", c.what);
    }
}

#[test]
fn keepalived_adverts_pass_the_receive_checks() {
    for c in fixtures() {
        let adv = decode(&c.msg, c.src, c.dst).unwrap();
        let ours = expected(&c);
        let want = Expect {
            version: ours.version,
            auth: &ours.auth,
            interval_cs: ours.interval_cs,
            addrs: &ours.addrs,
            multicast: true,
        };
        assert_eq!(check(&adv, c.ttl, &want), Ok(true), "{}", c.what);
    }
}

/// An IPv4 datagram as a raw socket returns it: 20-byte header, then `msg`.
fn ipv4_datagram(c: &Captured) -> Option<Vec<u8>> {
    let (IpAddr::V4(src), IpAddr::V4(dst)) = (c.src, c.dst) else {
        return None;
    };
    let total = u16::try_from(20 + c.msg.len()).unwrap().to_be_bytes();
    let mut d = vec![
        0x45, 0xc0, total[0], total[1], 0, 0, 0x40, 0, c.ttl, PROTO, 0, 0,
    ];
    d.extend(src.octets());
    d.extend(dst.octets());
    d.extend(&c.msg);
    Some(d)
}

#[test]
fn keepalived_ipv4_datagrams_parse() {
    for c in fixtures() {
        let Some(d) = ipv4_datagram(&c) else { continue };
        let p = parse_ipv4(&d).unwrap_or_else(|e| panic!("{}: {e}", c.what));
        assert_eq!(IpAddr::V4(p.src), c.src);
        assert_eq!(IpAddr::V4(p.dst), c.dst);
        assert_eq!(p.ttl, c.ttl);
        assert_eq!(p.payload, &c.msg[..]);
    }
}

/// ~200k random and mutated inputs: no panic, and whatever decodes
/// re-encodes to something that decodes the same.
#[test]
fn decode_and_parse_ipv4_survive_hostile_input() {
    let mut rng = fastrand::Rng::with_seed(0x5652_5250);
    let seeds: Vec<Captured> = fixtures();
    let datagrams: Vec<Vec<u8>> = seeds.iter().filter_map(ipv4_datagram).collect();
    let addrs = [
        (ip("192.0.2.1"), ip("224.0.0.18")),
        (ip("fe80::a"), ip("ff02::12")),
        (ip("192.0.2.1"), ip("ff02::12")),
    ];
    let mut decoded = 0;
    for i in 0..200_000 {
        let (src, dst) = addrs[rng.usize(..addrs.len())];
        let mut buf = match i % 4 {
            // Random bytes, with a plausible first byte half the time.
            0 => {
                let mut b: Vec<u8> = (0..rng.usize(0..64)).map(|_| rng.u8(..)).collect();
                if rng.bool() && !b.is_empty() {
                    b[0] = rng.choice([0x21, 0x31]).unwrap();
                }
                b
            }
            1 | 2 => seeds[rng.usize(..seeds.len())].msg.clone(),
            _ => datagrams[rng.usize(..datagrams.len())].clone(),
        };
        if i % 4 != 0 {
            for _ in 0..rng.usize(1..4) {
                match rng.u8(0..4) {
                    0 if !buf.is_empty() => buf.truncate(rng.usize(..buf.len())),
                    1 => buf.push(rng.u8(..)),
                    _ if !buf.is_empty() => {
                        let at = rng.usize(..buf.len());
                        buf[at] ^= 1 << rng.u8(0..8);
                    }
                    _ => {}
                }
            }
        }
        // Half the time a correct checksum, so the checks behind it run too.
        if i % 4 != 3 && rng.bool() {
            fix_checksum(&mut buf, src, dst);
        }
        if let Ok(p) = parse_ipv4(&buf) {
            let _ = decode(p.payload, p.src.into(), p.dst.into());
        }
        if let Ok(adv) = decode(&buf, src, dst) {
            decoded += 1;
            let again = encode(&adv, src, dst);
            assert_eq!(decode(&again, src, dst), Ok(adv), "{buf:02x?}");
        }
    }
    assert!(decoded > 2_000, "only {decoded} inputs decoded");
}

/// Sets the checksum field (RFC 1071; v3: with the pseudo-header of
/// RFC 5798 §5.2.8), written independently of the codec's.
fn fix_checksum(msg: &mut [u8], src: IpAddr, dst: IpAddr) {
    if msg.len() < 8 {
        return;
    }
    msg[6..8].fill(0);
    let mut sum: u64 = msg
        .chunks(2)
        .map(|w| u64::from(w[0]) << 8 | u64::from(*w.get(1).unwrap_or(&0)))
        .sum();
    if msg[0] >> 4 == 3 {
        let mut pseudo = Vec::new();
        for a in [src, dst] {
            match a {
                IpAddr::V4(a) => pseudo.extend(a.octets()),
                IpAddr::V6(a) => pseudo.extend(a.octets()),
            }
        }
        pseudo.extend(u32::try_from(msg.len()).unwrap().to_be_bytes());
        pseudo.extend([0, 0, 0, PROTO]);
        sum += pseudo
            .chunks(2)
            .map(|w| u64::from(w[0]) << 8 | u64::from(w[1]))
            .sum::<u64>();
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    msg[6..8].copy_from_slice(&(!(sum as u16)).to_be_bytes());
}

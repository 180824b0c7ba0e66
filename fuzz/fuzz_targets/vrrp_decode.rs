//! Fuzzes the VRRP receive path: `parse_ipv4`, then `decode` of the payload,
//! and `decode` of the raw input over IPv4 and IPv6; whatever decodes must
//! re-encode to bytes that decode the same.
//!
//! ```text
//! make fuzz-smoke  # every target for 20 s, on stable Rust
//! make fuzz TARGET=vrrp_decode  # 10 million runs or 30 minutes
//! ```
//!
//! Seeds: fuzz/corpus/vrrp_decode/, the adverts of
//! tests/fixtures/vrrp-keepalived.txt as bytes, one also inside its IPv4
//! header.

#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use libfuzzer_sys::fuzz_target;
use pharos::vrrp::packet::{MCAST_V4, MCAST_V6, decode, encode, parse_ipv4};

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = parse_ipv4(data) {
        round_trip(p.payload, p.src.into(), p.dst.into());
    }
    round_trip(data, Ipv4Addr::new(192, 0, 2, 1).into(), MCAST_V4.into());
    let link_local = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0xa);
    round_trip(data, link_local.into(), MCAST_V6.into());
});

fn round_trip(msg: &[u8], src: IpAddr, dst: IpAddr) {
    if let Ok(adv) = decode(msg, src, dst) {
        let again = encode(&adv, src, dst);
        assert_eq!(decode(&again, src, dst), Ok(adv));
    }
}

//! Fuzzes the rtnetlink replies pharos reads (src/kernel/rtnl.rs): one
//! received datagram, split into its messages as the kernel frames them,
//! each read by neli as neli's router reads it (`Nlmsghdr<u16, Buffer>`,
//! then `to_typed`), then as a link (`rtnl::link_of`, with a bond's
//! IFLA_LINKINFO), an address (`rtnl::addr_of`) and an IPv4 and an IPv6
//! route (`rtnl::route_of`), as the three dumps of `Rtnl::snapshot` would.
//! Also `nla::nlas` of the raw bytes: every attribute it yields lies
//! inside them.
//!
//! ```text
//! make fuzz-smoke  # every target for 20 s, on stable Rust
//! make fuzz TARGET=rtnl_reply  # 10 million runs or 30 minutes
//! ```
//!
//! Seeds: fuzz/corpus/rtnl_reply/, dumps laid out as Linux sends them
//! (struct nlmsghdr, the family's header, attributes; NLM_F_MULTI and a
//! closing NLMSG_DONE): links (a bond with IFLA_LINKINFO, a port with
//! IFLA_MASTER), addresses (pharos's and a VIP's IFA_PROTO), IPv4 and IPv6
//! routes.

#![no_main]

use std::io::Cursor;

use libfuzzer_sys::fuzz_target;
use neli::FromBytes;
use neli::consts::rtnl::{RtAddrFamily, Rtm};
use neli::nl::{NlPayload, Nlmsghdr};
use neli::rtnl::{Ifaddrmsg, Ifinfomsg, Rtmsg};
use neli::types::Buffer;
use pharos::kernel::nla::nlas;
use pharos::kernel::rtnl::{addr_of, link_of, route_of};

fuzz_target!(|data: &[u8]| {
    for m in messages(data) {
        let Ok(m) = Nlmsghdr::<u16, Buffer>::from_bytes(&mut Cursor::new(m)) else {
            continue;
        };
        if let Ok(t) = m.clone().to_typed::<Rtm, Ifinfomsg>()
            && let NlPayload::Payload(p) = t.nl_payload()
        {
            let link = link_of(p);
            assert!(!link.name.ends_with('\0'));
        }
        if let Ok(t) = m.clone().to_typed::<Rtm, Ifaddrmsg>()
            && let NlPayload::Payload(p) = t.nl_payload()
        {
            let _ = addr_of(p);
        }
        if let Ok(t) = m.to_typed::<Rtm, Rtmsg>()
            && let NlPayload::Payload(p) = t.nl_payload()
        {
            let _ = route_of(p, RtAddrFamily::Inet);
            let _ = route_of(p, RtAddrFamily::Inet6);
        }
    }
    let range = data.as_ptr_range();
    for (_, payload) in nlas(data) {
        let r = payload.as_ptr_range();
        assert!(range.start <= r.start && r.end <= range.end);
    }
});

/// The messages of a datagram as the kernel frames them: each
/// `nlmsg_len` long (at least struct nlmsghdr, 16 bytes), 4-byte aligned;
/// one that is not ends the datagram. Refusals (NLMSG_ERROR with an errno)
/// are left out: pharos reads only their errno, from neli, whose parse of
/// the request they quote subtracts lengths unchecked (nl.rs:114,
/// err.rs:86), as it does a `nlmsg_len` below 16 (nl.rs:145); see
/// fuzz/RESULTS.md. Acknowledgements (errno 0) stay.
fn messages(data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = data;
    while let Some(h) = rest.get(..4) {
        let len = u32::from_ne_bytes(h.try_into().expect("4 bytes")) as usize;
        let Some(m) = rest.get(..len).filter(|_| len >= 16) else {
            break;
        };
        let refusal = m[4..6] == 2u16.to_ne_bytes() && m.get(16..20) != Some(&[0; 4][..]);
        if !refusal {
            out.push(m);
        }
        rest = rest.get((len + 3) & !3..).unwrap_or_default();
    }
    out
}

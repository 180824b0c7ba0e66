//! Fuzzes the IPVS generic-netlink replies pharos reads: one received
//! datagram, split into its messages as the kernel frames them, each read
//! as `genl::Ipvs::collect` reads it (`Nlmsghdr<u16, Genlmsghdr<u8, u16>>`,
//! then `genl::attrs_of`), each reply's attributes decoded as
//! `Ipvs::table`, `info`, `timeouts` and `daemons` do (src/ipvs/codec.rs).
//! The raw bytes are also decoded as a service's and a destination's
//! nested payload, so the codec is reached without neli's framing in the
//! way. A service that decodes must give back its key when pharos asks for
//! its destinations, and itself when pharos sets it.
//!
//! ```text
//! make fuzz-smoke  # every target for 20 s, on stable Rust
//! make fuzz TARGET=ipvs_genl_reply  # 10 million runs or 30 minutes
//! ```
//!
//! Seeds: fuzz/corpus/ipvs_genl_reply/, the attributes captured from Linux
//! 6.1 in tests/fixtures/ipvs-genl-replies.txt framed as the kernel frames
//! them (struct nlmsghdr, struct genlmsghdr, NLM_F_MULTI, NLMSG_DONE):
//! service and destination dumps, the version, the timeouts, a sync
//! daemon, an acknowledgement; and a service's and a destination's bare payload.

#![no_main]

use std::io::Cursor;

use libfuzzer_sys::fuzz_target;
use neli::FromBytes;
use neli::genl::Genlmsghdr;
use neli::nl::{NlPayload, Nlmsghdr};
use pharos::ipvs::codec;
use pharos::ipvs::genl::{Attrs, attrs_of};

fuzz_target!(|data: &[u8]| {
    for m in messages(data) {
        let Ok(m) = Nlmsghdr::<u16, Genlmsghdr<u8, u16>>::from_bytes(&mut Cursor::new(m)) else {
            continue;
        };
        if let NlPayload::Payload(p) = m.nl_payload() {
            reply(&attrs_of(p));
        }
    }
    payload(data);
});

/// One reply, read as each kind of answer pharos asks for.
fn reply(attrs: &Attrs) {
    if let Some(p) = codec::service_of(attrs) {
        payload(p);
    }
    if let Some(p) = codec::dest_of(attrs) {
        let _ = codec::decode_dest(p, false);
        let _ = codec::decode_dest(p, true);
    }
    let _ = codec::decode_info(attrs);
    let _ = codec::decode_config(attrs);
    let _ = codec::decode_daemon(attrs);
}

fn payload(p: &[u8]) {
    if let Ok((spec, _stats)) = codec::decode_service(p) {
        // The key is all a GET_DEST carries: it must name the same service.
        let asked = codec::get_dests(&spec.key);
        let key = codec::service_of(&asked.attrs).expect("a service");
        assert_eq!(codec::decode_service(key).map(|(s, _)| s.key), Ok(spec.key));
        // What pharos would send to set it must read back as it. The
        // kernel's names are 16 bytes at most; `nla` refuses payloads
        // beyond 64 KiB, which a lossily decoded name could reach.
        if spec.scheduler.len() + spec.pe_name.as_ref().map_or(0, String::len) < 4096 {
            let set = codec::set_service(&spec);
            let again = codec::service_of(&set.attrs).expect("a service");
            assert_eq!(codec::decode_service(again).map(|(s, _)| s), Ok(spec));
        }
    }
    let _ = codec::decode_dest(p, false);
    let _ = codec::decode_dest(p, true);
}

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

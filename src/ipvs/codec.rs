//! The IPVS generic-netlink family's messages as bytes (linux/ip_vs.h),
//! sans-IO: requests are a command and top-level attributes; replies are
//! decoded from the attribute payloads the kernel sends. `genl` moves the
//! bytes.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::model::{
    Daemon, DestLive, DestSpec, Forward, Info, ServiceKey, ServiceSpec, Stats, Timeouts, TunType,
};
use crate::kernel::nla::{NESTED, nla, nlas, put_nla};

/// IPVS_GENL_VERSION.
pub const VERSION: u8 = 1;

/// IPVS_CMD_*.
pub mod cmd {
    pub const NEW_SERVICE: u8 = 1;
    pub const SET_SERVICE: u8 = 2;
    pub const DEL_SERVICE: u8 = 3;
    pub const GET_SERVICE: u8 = 4;
    pub const NEW_DEST: u8 = 5;
    pub const SET_DEST: u8 = 6;
    pub const DEL_DEST: u8 = 7;
    pub const GET_DEST: u8 = 8;
    pub const NEW_DAEMON: u8 = 9;
    pub const DEL_DAEMON: u8 = 10;
    pub const GET_DAEMON: u8 = 11;
    pub const SET_CONFIG: u8 = 12;
    pub const GET_CONFIG: u8 = 13;
    pub const GET_INFO: u8 = 15;
    pub const FLUSH: u8 = 17;
}

// IPVS_CMD_ATTR_*
const CMD_SERVICE: u16 = 1;
const CMD_DEST: u16 = 2;
const CMD_DAEMON: u16 = 3;
const CMD_TIMEOUT_TCP: u16 = 4;
const CMD_TIMEOUT_TCP_FIN: u16 = 5;
const CMD_TIMEOUT_UDP: u16 = 6;

// IPVS_SVC_ATTR_*
const SVC_AF: u16 = 1;
const SVC_PROTOCOL: u16 = 2;
const SVC_ADDR: u16 = 3;
const SVC_PORT: u16 = 4;
const SVC_FWMARK: u16 = 5;
const SVC_SCHED_NAME: u16 = 6;
const SVC_FLAGS: u16 = 7;
const SVC_TIMEOUT: u16 = 8;
const SVC_NETMASK: u16 = 9;
const SVC_STATS: u16 = 10;
const SVC_PE_NAME: u16 = 11;
const SVC_STATS64: u16 = 12;

// IPVS_DEST_ATTR_*
const DEST_ADDR: u16 = 1;
const DEST_PORT: u16 = 2;
const DEST_FWD_METHOD: u16 = 3;
const DEST_WEIGHT: u16 = 4;
const DEST_U_THRESH: u16 = 5;
const DEST_L_THRESH: u16 = 6;
const DEST_ACTIVE_CONNS: u16 = 7;
const DEST_INACT_CONNS: u16 = 8;
const DEST_PERSIST_CONNS: u16 = 9;
const DEST_STATS: u16 = 10;
const DEST_ADDR_FAMILY: u16 = 11;
const DEST_STATS64: u16 = 12;
const DEST_TUN_TYPE: u16 = 13;
const DEST_TUN_PORT: u16 = 14;
const DEST_TUN_FLAGS: u16 = 15;

// IPVS_DAEMON_ATTR_*
const DAEMON_STATE: u16 = 1;
const DAEMON_MCAST_IFN: u16 = 2;
const DAEMON_SYNC_ID: u16 = 3;

// IPVS_INFO_ATTR_*
const INFO_VERSION: u16 = 1;
const INFO_CONN_TAB_SIZE: u16 = 2;

const AF_INET: u16 = 2;
const AF_INET6: u16 = 10;

/// One request: a command, its top-level attributes, and whether it is a
/// dump (NLM_F_DUMP).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub cmd: u8,
    /// (type with NLA_F_NESTED when nested, payload)
    pub attrs: Vec<(u16, Vec<u8>)>,
    pub dump: bool,
}

impl Request {
    fn new(cmd: u8) -> Request {
        Request {
            cmd,
            attrs: Vec::new(),
            dump: false,
        }
    }

    fn dump(cmd: u8) -> Request {
        Request {
            dump: true,
            ..Request::new(cmd)
        }
    }

    fn nested(mut self, ty: u16, payload: Vec<u8>) -> Request {
        self.attrs.push((ty | NESTED, payload));
        self
    }

    /// Appends this request to `out` as one netlink message of the generic
    /// netlink family `family` (struct nlmsghdr, struct genlmsghdr, the
    /// attributes), numbered `seq`, asking for an acknowledgement when
    /// `ack`; 4-byte aligned, so several can go in one send (the kernel
    /// takes them in order: netlink_rcv_skb).
    pub fn frame(&self, family: u16, seq: u32, ack: bool, out: &mut Vec<u8>) {
        let flags = nlm_f::REQUEST
            | if self.dump { nlm_f::DUMP } else { 0 }
            | if ack { nlm_f::ACK } else { 0 };
        let start = out.len();
        out.extend_from_slice(&[0; 4]); // nlmsg_len, once known
        out.extend_from_slice(&family.to_ne_bytes());
        out.extend_from_slice(&flags.to_ne_bytes());
        out.extend_from_slice(&seq.to_ne_bytes());
        out.extend_from_slice(&0u32.to_ne_bytes()); // nlmsg_pid: to the kernel
        out.extend_from_slice(&[self.cmd, VERSION, 0, 0]);
        for (ty, payload) in &self.attrs {
            put_nla(out, *ty, payload);
        }
        let len = u32::try_from(out.len() - start).expect("small message");
        out[start..start + 4].copy_from_slice(&len.to_ne_bytes());
    }
}

/// NLM_F_* (linux/netlink.h) a request carries.
pub mod nlm_f {
    pub const REQUEST: u16 = 0x1;
    pub const ACK: u16 = 0x4;
    /// NLM_F_ROOT | NLM_F_MATCH.
    pub const DUMP: u16 = 0x300;
}

/// A reply that does not decode: the kernel said something we cannot read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unreadable IPVS reply: {0}")]
pub struct CodecError(pub String);

fn bad(what: &str) -> CodecError {
    CodecError(what.to_string())
}

fn addr_bytes(ip: IpAddr) -> Vec<u8> {
    // union nf_inet_addr: 16 bytes, an IPv4 address in the first four.
    let mut b = vec![0u8; 16];
    match ip {
        IpAddr::V4(a) => b[..4].copy_from_slice(&a.octets()),
        IpAddr::V6(a) => b.copy_from_slice(&a.octets()),
    }
    b
}

fn addr_from(b: &[u8], v6: bool) -> Result<IpAddr, CodecError> {
    if v6 {
        let o: [u8; 16] = b
            .get(..16)
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| bad("short IPv6 address"))?;
        Ok(IpAddr::V6(Ipv6Addr::from(o)))
    } else {
        let o: [u8; 4] = b
            .get(..4)
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| bad("short IPv4 address"))?;
        Ok(IpAddr::V4(Ipv4Addr::from(o)))
    }
}

fn af(v6: bool) -> u16 {
    if v6 { AF_INET6 } else { AF_INET }
}

fn u16_of(b: &[u8]) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(..2)?.try_into().ok()?))
}

fn u32_of(b: &[u8]) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(..4)?.try_into().ok()?))
}

fn u64_of(b: &[u8]) -> Option<u64> {
    Some(u64::from_ne_bytes(b.get(..8)?.try_into().ok()?))
}

fn be16_of(b: &[u8]) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(..2)?.try_into().ok()?))
}

fn cstr(b: &[u8]) -> String {
    let end = b.iter().position(|c| *c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

/// The attributes that name a service (all a DEL or a GET_DEST needs).
fn key_attrs(key: &ServiceKey) -> Vec<u8> {
    let mut b = nla(SVC_AF, &af(key.is_v6()).to_ne_bytes());
    match key {
        ServiceKey::Addr { proto, addr, port } => {
            b.extend(nla(SVC_PROTOCOL, &proto.number().to_ne_bytes()));
            b.extend(nla(SVC_ADDR, &addr_bytes(*addr)));
            b.extend(nla(SVC_PORT, &port.to_be_bytes()));
        }
        ServiceKey::Fwmark { mark, .. } => b.extend(nla(SVC_FWMARK, &mark.to_ne_bytes())),
    }
    b
}

fn service_attrs(s: &ServiceSpec) -> Vec<u8> {
    let mut b = key_attrs(&s.key);
    b.extend(nla(SVC_SCHED_NAME, format!("{}\0", s.scheduler).as_bytes()));
    if let Some(pe) = &s.pe_name {
        b.extend(nla(SVC_PE_NAME, format!("{pe}\0").as_bytes()));
    }
    // struct ip_vs_flags { flags, mask }: the mask says which flags to set.
    let mut f = s.flags.to_ne_bytes().to_vec();
    f.extend(u32::MAX.to_ne_bytes());
    b.extend(nla(SVC_FLAGS, &f));
    b.extend(nla(SVC_TIMEOUT, &s.timeout.to_ne_bytes()));
    b.extend(nla(SVC_NETMASK, &s.netmask.to_ne_bytes()));
    b
}

fn dest_attrs(d: &DestSpec, full: bool) -> Vec<u8> {
    let mut b = nla(DEST_ADDR, &addr_bytes(d.addr));
    b.extend(nla(DEST_PORT, &d.port.to_be_bytes()));
    if full {
        b.extend(nla(DEST_ADDR_FAMILY, &af(d.addr.is_ipv6()).to_ne_bytes()));
        b.extend(nla(DEST_FWD_METHOD, &d.forward.number().to_ne_bytes()));
        b.extend(nla(DEST_WEIGHT, &d.weight.to_ne_bytes()));
        b.extend(nla(DEST_U_THRESH, &d.u_threshold.to_ne_bytes()));
        b.extend(nla(DEST_L_THRESH, &d.l_threshold.to_ne_bytes()));
        if d.forward == Forward::Tunnel && d.tun_type != TunType::Ipip {
            // Only kernels with GUE/GRE tunnels (5.3+) know these; an
            // ipip destination leaves them out so older kernels accept it.
            b.extend(nla(DEST_TUN_TYPE, &[d.tun_type.number()]));
            b.extend(nla(DEST_TUN_PORT, &d.tun_port.to_be_bytes()));
            b.extend(nla(DEST_TUN_FLAGS, &d.tun_flags.to_ne_bytes()));
        }
    }
    b
}

pub fn new_service(s: &ServiceSpec) -> Request {
    Request::new(cmd::NEW_SERVICE).nested(CMD_SERVICE, service_attrs(s))
}

/// Edits a service in place (scheduler, flags, persistence).
pub fn set_service(s: &ServiceSpec) -> Request {
    Request::new(cmd::SET_SERVICE).nested(CMD_SERVICE, service_attrs(s))
}

pub fn del_service(key: &ServiceKey) -> Request {
    Request::new(cmd::DEL_SERVICE).nested(CMD_SERVICE, key_attrs(key))
}

pub fn new_dest(key: &ServiceKey, d: &DestSpec) -> Request {
    Request::new(cmd::NEW_DEST)
        .nested(CMD_SERVICE, key_attrs(key))
        .nested(CMD_DEST, dest_attrs(d, true))
}

/// Edits a destination in place (weight, forwarding, thresholds).
pub fn set_dest(key: &ServiceKey, d: &DestSpec) -> Request {
    Request::new(cmd::SET_DEST)
        .nested(CMD_SERVICE, key_attrs(key))
        .nested(CMD_DEST, dest_attrs(d, true))
}

pub fn del_dest(key: &ServiceKey, d: &DestSpec) -> Request {
    Request::new(cmd::DEL_DEST)
        .nested(CMD_SERVICE, key_attrs(key))
        .nested(CMD_DEST, dest_attrs(d, false))
}

pub fn get_services() -> Request {
    Request::dump(cmd::GET_SERVICE)
}

/// One service by its key; the kernel answers ESRCH when it has none.
pub fn get_service(key: &ServiceKey) -> Request {
    Request::new(cmd::GET_SERVICE).nested(CMD_SERVICE, key_attrs(key))
}

pub fn get_dests(key: &ServiceKey) -> Request {
    Request::dump(cmd::GET_DEST).nested(CMD_SERVICE, key_attrs(key))
}

pub fn get_info() -> Request {
    Request::new(cmd::GET_INFO)
}

pub fn get_config() -> Request {
    Request::new(cmd::GET_CONFIG)
}

/// Sets the timeouts; a 0 leaves that one as it is.
pub fn set_config(t: &Timeouts) -> Request {
    let mut r = Request::new(cmd::SET_CONFIG);
    for (ty, v) in [
        (CMD_TIMEOUT_TCP, t.tcp),
        (CMD_TIMEOUT_TCP_FIN, t.tcp_fin),
        (CMD_TIMEOUT_UDP, t.udp),
    ] {
        r.attrs.push((ty, v.to_ne_bytes().to_vec()));
    }
    r
}

fn daemon_state(master: bool) -> u32 {
    // IP_VS_STATE_MASTER 1, IP_VS_STATE_BACKUP 2.
    if master { 1 } else { 2 }
}

pub fn new_daemon(d: &Daemon) -> Request {
    let mut b = nla(DAEMON_STATE, &daemon_state(d.master).to_ne_bytes());
    b.extend(nla(DAEMON_MCAST_IFN, format!("{}\0", d.ifname).as_bytes()));
    b.extend(nla(DAEMON_SYNC_ID, &d.sync_id.to_ne_bytes()));
    Request::new(cmd::NEW_DAEMON).nested(CMD_DAEMON, b)
}

pub fn del_daemon(master: bool) -> Request {
    Request::new(cmd::DEL_DAEMON).nested(
        CMD_DAEMON,
        nla(DAEMON_STATE, &daemon_state(master).to_ne_bytes()),
    )
}

pub fn get_daemons() -> Request {
    Request::dump(cmd::GET_DAEMON)
}

pub fn flush() -> Request {
    Request::new(cmd::FLUSH)
}

fn find<'a>(attrs: &[(u16, &'a [u8])], ty: u16) -> Option<&'a [u8]> {
    attrs.iter().find(|(t, _)| *t == ty).map(|(_, p)| *p)
}

/// IPVS_STATS_ATTR_*: CONNS 1, INPKTS 2, OUTPKTS 3, INBYTES 4, OUTBYTES 5,
/// CPS 6, INPPS 7, OUTPPS 8, INBPS 9, OUTBPS 10. The 64-bit set has every
/// counter as u64; the old one has u32s but for the byte counters.
fn stats(attrs: &[(u16, &[u8])], s32: u16, s64: u16) -> Stats {
    let (p, wide) = match (find(attrs, s64), find(attrs, s32)) {
        (Some(p), _) => (p, true),
        (None, Some(p)) => (p, false),
        (None, None) => return Stats::default(),
    };
    let a = nlas(p);
    let get = |t: u16| {
        let v = find(&a, t)?;
        if wide || t == 4 || t == 5 {
            u64_of(v)
        } else {
            u32_of(v).map(u64::from)
        }
    };
    let g = |t| get(t).unwrap_or(0);
    Stats {
        conns: g(1),
        inpkts: g(2),
        outpkts: g(3),
        inbytes: g(4),
        outbytes: g(5),
        cps: g(6),
        inpps: g(7),
        outpps: g(8),
        inbps: g(9),
        outbps: g(10),
    }
}

/// A service from the payload of an IPVS_CMD_ATTR_SERVICE.
pub fn decode_service(payload: &[u8]) -> Result<(ServiceSpec, Stats), CodecError> {
    let a = nlas(payload);
    let v6 = match find(&a, SVC_AF).and_then(u16_of) {
        Some(AF_INET) => false,
        Some(AF_INET6) => true,
        Some(x) => return Err(CodecError(format!("service of address family {x}"))),
        None => return Err(bad("service without an address family")),
    };
    let key = match find(&a, SVC_FWMARK).and_then(u32_of) {
        Some(mark) if mark != 0 => ServiceKey::Fwmark { mark, v6 },
        _ => {
            let n = find(&a, SVC_PROTOCOL)
                .and_then(u16_of)
                .ok_or_else(|| bad("service without a protocol"))?;
            let proto = super::model::Proto::from_number(n)
                .ok_or_else(|| CodecError(format!("service of protocol {n}")))?;
            ServiceKey::Addr {
                proto,
                addr: addr_from(
                    find(&a, SVC_ADDR).ok_or_else(|| bad("service without an address"))?,
                    v6,
                )?,
                port: find(&a, SVC_PORT).and_then(be16_of).unwrap_or(0),
            }
        }
    };
    let spec = ServiceSpec {
        key,
        scheduler: find(&a, SVC_SCHED_NAME).map(cstr).unwrap_or_default(),
        flags: find(&a, SVC_FLAGS).and_then(u32_of).unwrap_or(0),
        timeout: find(&a, SVC_TIMEOUT).and_then(u32_of).unwrap_or(0),
        netmask: find(&a, SVC_NETMASK).and_then(u32_of).unwrap_or(0),
        pe_name: find(&a, SVC_PE_NAME).map(cstr).filter(|s| !s.is_empty()),
    };
    Ok((spec, stats(&a, SVC_STATS, SVC_STATS64)))
}

/// A destination from the payload of an IPVS_CMD_ATTR_DEST; `v6` is the
/// service's family (older kernels do not send the destination's own).
pub fn decode_dest(payload: &[u8], v6: bool) -> Result<DestLive, CodecError> {
    let a = nlas(payload);
    let v6 = match find(&a, DEST_ADDR_FAMILY).and_then(u16_of) {
        Some(AF_INET6) => true,
        Some(AF_INET) => false,
        _ => v6,
    };
    let forward_n = find(&a, DEST_FWD_METHOD).and_then(u32_of).unwrap_or(0);
    let g = |t| find(&a, t).and_then(u32_of).unwrap_or(0);
    Ok(DestLive {
        spec: DestSpec {
            addr: addr_from(
                find(&a, DEST_ADDR).ok_or_else(|| bad("destination without an address"))?,
                v6,
            )?,
            port: find(&a, DEST_PORT).and_then(be16_of).unwrap_or(0),
            forward: Forward::from_number(forward_n)
                .ok_or_else(|| CodecError(format!("forwarding method {forward_n}")))?,
            weight: g(DEST_WEIGHT),
            u_threshold: g(DEST_U_THRESH),
            l_threshold: g(DEST_L_THRESH),
            tun_type: TunType::from_number(
                find(&a, DEST_TUN_TYPE)
                    .and_then(|b| b.first().copied())
                    .unwrap_or(0),
            ),
            tun_port: find(&a, DEST_TUN_PORT).and_then(be16_of).unwrap_or(0),
            tun_flags: find(&a, DEST_TUN_FLAGS).and_then(u16_of).unwrap_or(0),
        },
        active_conns: g(DEST_ACTIVE_CONNS),
        inact_conns: g(DEST_INACT_CONNS),
        persist_conns: g(DEST_PERSIST_CONNS),
        stats: stats(&a, DEST_STATS, DEST_STATS64),
    })
}

/// Finds the nested attribute `ty` among a reply's top-level attributes.
pub fn top(attrs: &[(u16, Vec<u8>)], ty: u16) -> Option<&[u8]> {
    attrs
        .iter()
        .find(|(t, _)| t & !NESTED == ty)
        .map(|(_, p)| p.as_slice())
}

/// The service payload of a GET_SERVICE reply.
pub fn service_of(attrs: &[(u16, Vec<u8>)]) -> Option<&[u8]> {
    top(attrs, CMD_SERVICE)
}

/// The destination payload of a GET_DEST reply.
pub fn dest_of(attrs: &[(u16, Vec<u8>)]) -> Option<&[u8]> {
    top(attrs, CMD_DEST)
}

pub fn decode_info(attrs: &[(u16, Vec<u8>)]) -> Info {
    Info {
        version: top(attrs, INFO_VERSION).and_then(u32_of).unwrap_or(0),
        conn_tab_size: top(attrs, INFO_CONN_TAB_SIZE).and_then(u32_of).unwrap_or(0),
    }
}

pub fn decode_config(attrs: &[(u16, Vec<u8>)]) -> Timeouts {
    let g = |t| top(attrs, t).and_then(u32_of).unwrap_or(0);
    Timeouts {
        tcp: g(CMD_TIMEOUT_TCP),
        tcp_fin: g(CMD_TIMEOUT_TCP_FIN),
        udp: g(CMD_TIMEOUT_UDP),
    }
}

pub fn decode_daemon(attrs: &[(u16, Vec<u8>)]) -> Option<Daemon> {
    let a = nlas(top(attrs, CMD_DAEMON)?);
    Some(Daemon {
        master: find(&a, DAEMON_STATE).and_then(u32_of)? == 1,
        ifname: find(&a, DAEMON_MCAST_IFN).map(cstr).unwrap_or_default(),
        sync_id: find(&a, DAEMON_SYNC_ID).and_then(u32_of).unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipvs::model::{Proto, flags};

    /// Replies captured from Linux 6.1 by `pharos ipvs capture` in the VM
    /// test's table: `WHAT TYPE HEX` per top-level attribute.
    const CAPTURED: &str = include_str!("../../tests/fixtures/ipvs-genl-replies.txt");

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// (what, attribute type, payload) of each captured line.
    fn captured() -> Vec<(String, u16, Vec<u8>)> {
        CAPTURED
            .lines()
            .map(|l| {
                let mut parts: Vec<&str> = l.rsplitn(3, ' ').collect();
                parts.reverse();
                (
                    parts[0].to_string(),
                    parts[1].parse().unwrap(),
                    unhex(parts[2]),
                )
            })
            .collect()
    }

    fn services() -> Vec<(ServiceSpec, Stats)> {
        captured()
            .into_iter()
            .filter(|(w, _, _)| w == "service")
            .map(|(_, t, p)| {
                assert_eq!(t, CMD_SERVICE);
                decode_service(&p).unwrap()
            })
            .collect()
    }

    fn service(key: &ServiceKey) -> ServiceSpec {
        services()
            .into_iter()
            .map(|s| s.0)
            .find(|s| &s.key == key)
            .unwrap_or_else(|| panic!("no {key} in the capture"))
    }

    fn dests(what: &str) -> Vec<DestLive> {
        captured()
            .into_iter()
            .filter(|(w, _, _)| w == &format!("dest {what}"))
            .map(|(_, _, p)| decode_dest(&p, what.contains('[')).unwrap())
            .collect()
    }

    /// The same request as neli would put it on the wire (pharos's shell
    /// sent neli's messages before it framed its own to send many at once).
    fn neli_bytes(r: &Request, family: u16, seq: u32, ack: bool) -> Vec<u8> {
        use neli::ToBytes;
        use neli::consts::nl::NlmF;
        use neli::genl::{AttrTypeBuilder, GenlmsghdrBuilder, NlattrBuilder};
        use neli::nl::{NlPayload, NlmsghdrBuilder};
        use neli::types::{Buffer, GenlBuffer};
        let mut attrs = GenlBuffer::<u16, Buffer>::new();
        for (t, p) in &r.attrs {
            let ty = AttrTypeBuilder::default()
                .nla_type(t & !NESTED)
                .nla_nested(t & NESTED != 0)
                .build()
                .unwrap();
            attrs.push(
                NlattrBuilder::default()
                    .nla_type(ty)
                    .nla_payload(Buffer::from(p.clone()))
                    .build()
                    .unwrap(),
            );
        }
        let genl = GenlmsghdrBuilder::<u8, u16>::default()
            .cmd(r.cmd)
            .version(VERSION)
            .attrs(attrs)
            .build()
            .unwrap();
        let mut flags = NlmF::REQUEST;
        if r.dump {
            flags |= NlmF::DUMP;
        }
        if ack {
            flags |= NlmF::ACK;
        }
        let msg = NlmsghdrBuilder::default()
            .nl_type(family)
            .nl_flags(flags)
            .nl_seq(seq)
            .nl_payload(NlPayload::Payload(genl))
            .build()
            .unwrap();
        let mut c = std::io::Cursor::new(Vec::new());
        msg.to_bytes(&mut c).unwrap();
        c.into_inner()
    }

    #[test]
    fn requests_are_framed_as_neli_frames_them_and_follow_one_another() {
        let v4 = service(&ServiceKey::Addr {
            proto: Proto::Udp,
            addr: "10.100.0.1".parse().unwrap(),
            port: 53,
        });
        let v6 = service(&ServiceKey::Addr {
            proto: Proto::Tcp,
            addr: "2001:db8:100::1".parse().unwrap(),
            port: 80,
        });
        let d = dests("TCP [2001:db8:100::1]:80").remove(0).spec;
        let reqs = [
            new_service(&v4),
            new_dest(&v6.key, &d),
            del_service(&v4.key),
            get_services(),
            get_dests(&v6.key),
        ];
        let mut all = Vec::new();
        let mut want = Vec::new();
        for (i, r) in reqs.iter().enumerate() {
            let seq = 7 + u32::try_from(i).unwrap();
            let ack = i % 2 == 0;
            let mut one = Vec::new();
            r.frame(0x1b, seq, ack, &mut one);
            let theirs = neli_bytes(r, 0x1b, seq, ack);
            assert_eq!(one, theirs, "request {i}: {r:?}");
            assert_eq!(one.len() % 4, 0);
            r.frame(0x1b, seq, ack, &mut all);
            want.extend_from_slice(&theirs);
        }
        assert_eq!(all, want);
    }

    #[test]
    fn the_kernels_services_decode() {
        let all = services();
        assert_eq!(all.len(), 23);
        let udp = service(&ServiceKey::Addr {
            proto: Proto::Udp,
            addr: "10.100.0.1".parse().unwrap(),
            port: 53,
        });
        assert_eq!(udp.scheduler, "sh");
        assert_eq!(udp.flags & flags::USER, flags::ONEPACKET | flags::SCHED1);
        let lblc = service(&ServiceKey::Addr {
            proto: Proto::Tcp,
            addr: "10.100.0.1".parse().unwrap(),
            port: 443,
        });
        assert_eq!(
            (lblc.timeout, lblc.flags & flags::PERSISTENT),
            (300, flags::PERSISTENT)
        );
        assert_eq!(lblc.netmask, ServiceSpec::netmask_for(false, 24));
        let v6 = service(&ServiceKey::Addr {
            proto: Proto::Tcp,
            addr: "2001:db8:100::1".parse().unwrap(),
            port: 80,
        });
        assert_eq!(v6.flags & flags::USER, flags::SCHED1 | flags::SCHED2);
        assert_eq!(v6.netmask, 128);
        assert_eq!(
            service(&ServiceKey::Fwmark { mark: 7, v6: false }).scheduler,
            "wrr"
        );
    }

    #[test]
    fn the_kernels_destinations_decode() {
        let udp = dests("UDP 10.100.0.1:53");
        assert_eq!(udp.len(), 1);
        let d = &udp[0].spec;
        assert_eq!(
            (d.forward, d.u_threshold, d.l_threshold, d.port),
            (Forward::Masq, 50, 5, 53)
        );
        let tun = dests("TCP 10.101.0.20:80");
        assert_eq!(tun.len(), 2);
        assert!(
            tun.iter()
                .all(|d| d.spec.forward == Forward::Tunnel && d.spec.tun_type == TunType::Ipip)
        );
        let fwm = dests("FWM 7");
        assert_eq!(
            (fwm[0].spec.forward, fwm[0].spec.weight),
            (Forward::Route, 3)
        );
        let v6 = dests("TCP [2001:db8:100::1]:80");
        assert_eq!(
            v6[0].spec.addr,
            "2001:db8:101::2".parse::<IpAddr>().unwrap()
        );
        assert_eq!((v6[0].spec.weight, v6[0].spec.u_threshold), (2, 100));
    }

    #[test]
    fn the_kernels_version_decodes() {
        let info: Vec<(u16, Vec<u8>)> = captured()
            .into_iter()
            .filter(|(w, _, _)| w == "info")
            .map(|(_, t, p)| (t, p))
            .collect();
        let i = decode_info(&info);
        assert_eq!((i.version, i.conn_tab_size), (0x010201, 4096));
    }

    #[test]
    fn what_pharos_sends_decodes_to_what_it_meant() {
        // The kernel's replies use the same attributes as its requests.
        for (s, _) in services() {
            let r = new_service(&s);
            assert_eq!(r.cmd, cmd::NEW_SERVICE);
            let (t, p) = &r.attrs[0];
            assert_eq!(*t, CMD_SERVICE | NESTED);
            let (back, _) = decode_service(p).unwrap();
            assert!(
                back.same_settings(&s) && back.key == s.key,
                "{s:?} -> {back:?}"
            );
        }
        for (what, _, p) in captured() {
            if let Some(svc) = what.strip_prefix("dest ") {
                let d = decode_dest(&p, svc.contains('[')).unwrap().spec;
                let k = ServiceKey::Fwmark { mark: 1, v6: false };
                let r = new_dest(&k, &d);
                let back = decode_dest(&r.attrs[1].1, d.addr.is_ipv6()).unwrap().spec;
                assert_eq!(back, d);
            }
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let mut rng = fastrand::Rng::with_seed(7);
        for (_, _, p) in captured() {
            for _ in 0..200 {
                let mut b = p.clone();
                let n = rng.usize(..b.len().max(1));
                b.truncate(n);
                if !b.is_empty() {
                    let i = rng.usize(..b.len());
                    b[i] = rng.u8(..);
                }
                let _ = decode_service(&b);
                let _ = decode_dest(&b, false);
            }
        }
    }
}

//! The IO shell of IPVS: a generic-netlink socket (neli) to the kernel's
//! "IPVS" family. Moves the codec's requests and replies; changes are sent
//! in pipelined batches (many requests in flight, each acknowledged on its
//! own) so a large table is not paced by one round trip per entry.

use std::cell::Cell;
use std::collections::BTreeMap;

use neli::consts::nl::{NlmF, Nlmsg};
use neli::consts::socket::NlFamily;
use neli::genl::{AttrTypeBuilder, Genlmsghdr, GenlmsghdrBuilder, NlattrBuilder};
use neli::nl::{NlPayload, NlmsghdrBuilder};
use neli::router::synchronous::NlRouter;
use neli::socket::synchronous::NlSocketHandle;
use neli::types::{Buffer, GenlBuffer};
use neli::utils::Groups;

use super::codec::{self, Request};
use super::model::{Daemon, DestLive, Info, ServiceKey, ServiceLive, Table, Timeouts};
use crate::kernel::nla::{NESTED, refused_errno, router_error};

/// What `connect` says when the kernel has no IPVS at all.
pub const NO_IPVS: &str = "the kernel has no IPVS (generic netlink family IPVS not found): \
     load the ip_vs module (modprobe ip_vs) or run on a kernel with CONFIG_IP_VS";

/// Requests in flight at once in [`Ipvs::batch`]: the acknowledgements of
/// one window fit the socket's receive buffer with room to spare.
const WINDOW: usize = 256;

/// GETs in flight at once in [`Ipvs::services`]: the kernel builds each
/// reply in a buffer of a page or two (NLMSG_GOODSIZE), which is what
/// counts against the socket's receive buffer (net.core.rmem_max caps it,
/// 208 KiB by default); 256 at once overflowed it (ENOBUFS) at 1,000
/// services.
const GET_WINDOW: usize = 16;

/// A reply's top-level attributes: (type, payload).
pub type Attrs = Vec<(u16, Vec<u8>)>;

/// The top-level attributes of one reply message, as `codec` reads them.
pub fn attrs_of(p: &Genlmsghdr<u8, u16>) -> Attrs {
    p.attrs()
        .iter()
        .map(|a| (*a.nla_type().nla_type(), a.nla_payload().as_ref().to_vec()))
        .collect()
}

/// A service of a reply, its destinations still to be read; `None` for a
/// reply without one.
fn service_live(attrs: &Attrs) -> Result<Option<ServiceLive>, String> {
    let Some(p) = codec::service_of(attrs) else {
        return Ok(None);
    };
    let (spec, stats) = codec::decode_service(p).map_err(|e| e.to_string())?;
    Ok(Some(ServiceLive {
        spec,
        stats,
        dests: Vec::new(),
    }))
}

pub struct Ipvs {
    sock: NlSocketHandle,
    family: u16,
    seq: Cell<u32>,
}

/// A request the kernel refused, with its errno.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub errno: i32,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", nix::errno::Errno::from_raw(self.errno).desc())
    }
}

impl Ipvs {
    /// Opens the socket; the "IPVS" family exists once `ip_vs` is loaded.
    pub fn connect() -> Result<Ipvs, String> {
        let (router, _) = NlRouter::connect(NlFamily::Generic, None, Groups::empty())
            .map_err(|e| format!("opening generic netlink: {}", router_error(&e)))?;
        let family = router.resolve_genl_family("IPVS").map_err(|e| {
            // ENOENT from the kernel, or neli's "not found" for an answer
            // without the family's id.
            let not_found = matches!(e, neli::err::RouterError::Msg(_))
                || refused_errno(&e) == Some(nix::errno::Errno::ENOENT as i32);
            if not_found {
                NO_IPVS.to_string()
            } else {
                format!(
                    "looking up the IPVS generic netlink family: {}",
                    router_error(&e)
                )
            }
        })?;
        drop(router);
        let sock = NlSocketHandle::connect(NlFamily::Generic, None, Groups::empty())
            .map_err(|e| format!("opening generic netlink: {e}"))?;
        // Dumps of big tables and windows of acknowledgements.
        let _ = sock.set_recv_buffer_size(4 << 20);
        Ok(Ipvs {
            sock,
            family,
            seq: Cell::new(1),
        })
    }

    fn send(&self, r: &Request) -> Result<u32, String> {
        let what = |e: &dyn std::fmt::Display| format!("sending an IPVS request: {e}");
        let mut attrs = GenlBuffer::<u16, Buffer>::new();
        for (t, p) in &r.attrs {
            let ty = AttrTypeBuilder::default()
                .nla_type(t & !NESTED)
                .nla_nested(t & NESTED != 0)
                .build()
                .map_err(|e| what(&e))?;
            attrs.push(
                NlattrBuilder::default()
                    .nla_type(ty)
                    .nla_payload(Buffer::from(p.clone()))
                    .build()
                    .map_err(|e| what(&e))?,
            );
        }
        let genl = GenlmsghdrBuilder::<u8, u16>::default()
            .cmd(r.cmd)
            .version(codec::VERSION)
            .attrs(attrs)
            .build()
            .map_err(|e| what(&e))?;
        let seq = self.seq.get();
        self.seq.set(seq.wrapping_add(1));
        let flags = if r.dump {
            NlmF::REQUEST | NlmF::DUMP
        } else {
            NlmF::REQUEST | NlmF::ACK
        };
        let msg = NlmsghdrBuilder::default()
            .nl_type(self.family)
            .nl_flags(flags)
            .nl_seq(seq)
            .nl_payload(NlPayload::Payload(genl))
            .build()
            .map_err(|e| what(&e))?;
        self.sock.send(&msg).map_err(|e| what(&e))?;
        Ok(seq)
    }

    /// Reads replies until every sequence number in `pending` is answered
    /// (acknowledged, refused or, for a dump, done). Payloads go to `data`.
    fn collect(
        &self,
        pending: &mut BTreeMap<u32, Option<Refused>>,
        data: &mut Vec<Attrs>,
    ) -> Result<(), String> {
        let mut open: usize = pending.values().filter(|v| v.is_none()).count();
        let mut answered = std::collections::BTreeSet::new();
        while open > 0 {
            let (iter, _) = self
                .sock
                .recv::<u16, Genlmsghdr<u8, u16>>()
                .map_err(|e| format!("reading IPVS replies: {e}"))?;
            for m in iter {
                let m = m.map_err(|e| format!("reading IPVS replies: {e}"))?;
                let seq = *m.nl_seq();
                let done = match m.nl_payload() {
                    NlPayload::Payload(p) => {
                        data.push(attrs_of(p));
                        false
                    }
                    NlPayload::Err(e) => {
                        if let Some(slot) = pending.get_mut(&seq) {
                            *slot = Some(Refused { errno: -*e.error() });
                        }
                        true
                    }
                    NlPayload::Ack(_) | NlPayload::DumpExtAck(_) => true,
                    NlPayload::Empty => *m.nl_type() == u16::from(Nlmsg::Done),
                };
                if done && pending.contains_key(&seq) && answered.insert(seq) {
                    open -= 1;
                }
            }
        }
        Ok(())
    }

    /// One request and its answer; the payloads of a dump or a GET.
    pub fn call(&self, r: &Request) -> Result<Result<Vec<Attrs>, Refused>, String> {
        let seq = self.send(r)?;
        let mut pending = BTreeMap::from([(seq, None)]);
        let mut data = Vec::new();
        self.collect(&mut pending, &mut data)?;
        Ok(match pending.remove(&seq).flatten() {
            Some(refused) => Err(refused),
            None => Ok(data),
        })
    }

    /// Sends changes `WINDOW` at a time and returns each one's outcome, in
    /// order. An error (not a refusal) means the socket failed.
    pub fn batch(&self, reqs: &[Request]) -> Result<Vec<Result<(), Refused>>, String> {
        let mut out = Vec::with_capacity(reqs.len());
        for chunk in reqs.chunks(WINDOW) {
            let mut seqs = Vec::with_capacity(chunk.len());
            let mut pending = BTreeMap::new();
            for r in chunk {
                let seq = self.send(r)?;
                seqs.push(seq);
                pending.insert(seq, None);
            }
            self.collect(&mut pending, &mut Vec::new())?;
            out.extend(seqs.iter().map(|s| match pending.remove(s).flatten() {
                Some(r) => Err(r),
                None => Ok(()),
            }));
        }
        Ok(out)
    }

    fn expect(&self, r: &Request, what: &str) -> Result<Vec<Attrs>, String> {
        self.call(r)?
            .map_err(|e| format!("{what}: the kernel refused: {e}"))
    }

    /// The whole table: services, then each one's destinations. (The IPVS
    /// task's paced read goes into its view in place instead, and can be
    /// stopped: `ipvs::view::read_whole_into`.)
    pub fn table(&self) -> Result<Table, String> {
        let mut services = self.service_list()?;
        for s in &mut services {
            s.dests = self.dests(&s.spec.key)?;
        }
        Ok(Table { services })
    }

    /// The kernel's services, each without its destinations (those are
    /// [`Ipvs::dests`], a dump per service).
    pub fn service_list(&self) -> Result<Vec<ServiceLive>, String> {
        let mut services = Vec::new();
        for attrs in self.expect(&codec::get_services(), "listing IPVS services")? {
            services.extend(service_live(&attrs)?);
        }
        Ok(services)
    }

    /// Only the services `keys` (those the kernel has), each with its
    /// destinations: what a pass reads when it knows which services it
    /// may change. The services are asked for [`GET_WINDOW`] at a time (a
    /// GET is not a dump, so several can be in flight); each one's
    /// destinations are a dump of their own.
    pub fn services<'a>(
        &self,
        keys: impl IntoIterator<Item = &'a ServiceKey>,
    ) -> Result<Table, String> {
        let keys: Vec<&ServiceKey> = keys.into_iter().collect();
        let mut services = Vec::new();
        for chunk in keys.chunks(GET_WINDOW) {
            let mut pending = BTreeMap::new();
            for key in chunk {
                pending.insert(self.send(&codec::get_service(key))?, None);
            }
            let mut data = Vec::new();
            self.collect(&mut pending, &mut data)?;
            // Absent services are refused with ESRCH; any other refusal
            // is an error.
            if let Some(e) = pending.values().flatten().find(|r| {
                r.errno != nix::errno::Errno::ESRCH as i32
                    && r.errno != nix::errno::Errno::ENOENT as i32
            }) {
                return Err(format!("reading IPVS services: the kernel refused: {e}"));
            }
            for attrs in &data {
                services.extend(service_live(attrs)?);
            }
        }
        for s in &mut services {
            s.dests = self.dests(&s.spec.key)?;
        }
        Ok(Table { services })
    }

    /// The destinations of the service `key`, in the kernel's order.
    pub fn dests(&self, key: &ServiceKey) -> Result<Vec<DestLive>, String> {
        let v6 = key.is_v6();
        let mut out = Vec::new();
        for attrs in self.expect(
            &codec::get_dests(key),
            &format!("listing the real servers of {key}"),
        )? {
            if let Some(p) = codec::dest_of(&attrs) {
                out.push(codec::decode_dest(p, v6).map_err(|e| e.to_string())?);
            }
        }
        Ok(out)
    }

    pub fn info(&self) -> Result<Info, String> {
        let r = self.expect(&codec::get_info(), "reading the IPVS version")?;
        Ok(r.first().map(|a| codec::decode_info(a)).unwrap_or(Info {
            version: 0,
            conn_tab_size: 0,
        }))
    }

    pub fn timeouts(&self) -> Result<Timeouts, String> {
        let r = self.expect(&codec::get_config(), "reading the IPVS timeouts")?;
        Ok(r.first()
            .map(|a| codec::decode_config(a))
            .unwrap_or_default())
    }

    pub fn daemons(&self) -> Result<Vec<Daemon>, String> {
        let r = self.expect(&codec::get_daemons(), "reading the IPVS sync daemons")?;
        Ok(r.iter().filter_map(|a| codec::decode_daemon(a)).collect())
    }
}

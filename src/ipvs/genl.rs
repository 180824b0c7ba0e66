//! The IO shell of IPVS: a generic-netlink socket (neli) to the kernel's
//! "IPVS" family. Moves the codec's requests and replies; changes are sent
//! many to a system call, only refusals and each window's end answered, so
//! a large table is not paced by one round trip per entry.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::os::fd::AsRawFd;

use neli::consts::nl::Nlmsg;
use neli::consts::socket::NlFamily;
use neli::genl::Genlmsghdr;
use neli::nl::{NlPayload, Nlmsghdr};
use neli::router::synchronous::NlRouter;
use neli::socket::synchronous::NlSocketHandle;
use neli::utils::Groups;
use nix::sys::socket::MsgFlags;

use super::codec::{self, Request};
use super::model::{Daemon, DestLive, Info, ServiceKey, ServiceLive, Table, Timeouts};
use crate::kernel::nla::{refused_errno, router_error};

/// What `connect` says when the kernel has no IPVS at all.
pub const NO_IPVS: &str = "the kernel has no IPVS (generic netlink family IPVS not found): \
     load the ip_vs module (modprobe ip_vs) or run on a kernel with CONFIG_IP_VS";

/// Changes in one send in [`Ipvs::batch`]: 256 of ~150 bytes fit the
/// socket's send buffer (net.core.wmem_default, 208 KiB) many times, and
/// 256 refusals (each an error with the request in it) its receive buffer.
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

    fn next_seq(&self) -> u32 {
        let seq = self.seq.get();
        self.seq.set(seq.wrapping_add(1));
        seq
    }

    /// Sends the messages framed in `buf` in one system call.
    fn send_bytes(&self, buf: &[u8]) -> Result<(), String> {
        let sent = nix::sys::socket::send(self.sock.as_raw_fd(), buf, MsgFlags::empty())
            .map_err(|e| format!("sending IPVS requests: {}", e.desc()))?;
        if sent != buf.len() {
            return Err(format!(
                "sending IPVS requests: the kernel took {sent} of {} bytes",
                buf.len()
            ));
        }
        Ok(())
    }

    /// Sends one request, acknowledged unless a dump (whose end is its
    /// answer); returns its sequence number.
    fn send(&self, r: &Request) -> Result<u32, String> {
        let seq = self.next_seq();
        let mut buf = Vec::with_capacity(128);
        r.frame(self.family, seq, !r.dump, &mut buf);
        self.send_bytes(&buf)?;
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
        if open == 0 {
            return Ok(());
        }
        let mut answered = std::collections::BTreeSet::new();
        self.read_until(|m| {
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
            open == 0
        })
    }

    /// Reads replies, each given to `take`, until `take` says the last one
    /// awaited has come.
    fn read_until(
        &self,
        mut take: impl FnMut(&Nlmsghdr<u16, Genlmsghdr<u8, u16>>) -> bool,
    ) -> Result<(), String> {
        loop {
            let (iter, _) = self
                .sock
                .recv::<u16, Genlmsghdr<u8, u16>>()
                .map_err(|e| format!("reading IPVS replies: {e}"))?;
            let mut done = false;
            for m in iter {
                done |= take(&m.map_err(|e| format!("reading IPVS replies: {e}"))?);
            }
            if done {
                return Ok(());
            }
        }
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
    ///
    /// A window is one send: the kernel takes its changes one after
    /// another within that system call and answers only those it refuses,
    /// and the last, which alone asks for an acknowledgement (netlink
    /// answers an error whether asked or not: netlink_rcv_skb). A change
    /// costs the kernel no acknowledgement to build and queue, and pharos
    /// no read of one.
    pub fn batch(&self, reqs: &[Request]) -> Result<Vec<Result<(), Refused>>, String> {
        let mut out = Vec::with_capacity(reqs.len());
        let mut buf = Vec::new();
        for chunk in reqs.chunks(WINDOW) {
            buf.clear();
            let first = self.seq.get();
            for (i, r) in chunk.iter().enumerate() {
                debug_assert!(!r.dump, "a dump's answers are not a change's");
                r.frame(self.family, self.next_seq(), i + 1 == chunk.len(), &mut buf);
            }
            self.send_bytes(&buf)?;
            let mut refused: Vec<Option<Refused>> = vec![None; chunk.len()];
            let last = chunk.len() - 1;
            self.read_until(|m| {
                // Another window's (none can be left: each window is read
                // to its end).
                let at = m.nl_seq().wrapping_sub(first) as usize;
                if at > last {
                    return false;
                }
                match m.nl_payload() {
                    NlPayload::Err(e) => refused[at] = Some(Refused { errno: -*e.error() }),
                    NlPayload::Ack(_) => {}
                    _ => return false,
                }
                at == last
            })?;
            out.extend(refused.into_iter().map(|r| r.map_or(Ok(()), Err)));
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

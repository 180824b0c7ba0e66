//! rtnetlink through neli: read links and addresses, add and remove
//! addresses (marked as pharos's with IFA_PROTO), set links up/down and
//! their MTU. Thin: every decision is its callers' (the network plane's
//! `link::diff`, the VRRP task).

use std::net::IpAddr;

use neli::consts::nl::NlmF;
use neli::consts::rtnl::{
    Ifa, IfaF, Iff, Ifla, IflaInfo, RtAddrFamily, RtScope, RtTable, Rta, Rtm, Rtn, Rtprot,
};
use neli::consts::socket::NlFamily;
use neli::nl::NlPayload;
use neli::router::synchronous::NlRouter;
use neli::rtnl::{
    Ifaddrmsg, IfaddrmsgBuilder, Ifinfomsg, IfinfomsgBuilder, RtattrBuilder, Rtmsg, RtmsgBuilder,
};
use neli::socket::synchronous::NlSocketHandle;
use neli::types::{Buffer, RtBuffer};
use neli::utils::Groups;

use super::KernelError;
use super::nla::{nla, nlas};
use super::objects::{
    self, AddrLive, BondLive, LinkKind, LinkLive, MGMT_PROTO, PROTO, RouteLive, RouteWant,
    VIP_PROTO,
};
use crate::config::types::Cidr;

/// IFA_PROTO (Linux 6.1); neli has no name for it yet.
const IFA_PROTO: u16 = 11;

pub struct Rtnl {
    router: NlRouter,
}

/// What the kernel has now: links, addresses, routes.
pub struct Live {
    pub links: Vec<LinkLive>,
    pub addrs: Vec<AddrLive>,
    pub routes: Vec<RouteLive>,
}

fn err(what: &str, e: impl std::fmt::Display) -> String {
    format!("{what}: {e}")
}

/// A failed exchange with the kernel, as a sentence (not neli's debug dump).
fn nl_err<T: std::fmt::Debug, P: std::fmt::Debug>(
    what: &str,
    e: &neli::err::RouterError<T, P>,
) -> String {
    format!("{what}: {}", super::nla::router_error(e))
}

/// A request's failure, typed: the errno when the kernel refused.
fn typed_err<T: std::fmt::Debug, P: std::fmt::Debug>(
    what: &str,
    e: &neli::err::RouterError<T, P>,
) -> KernelError {
    match super::nla::refused_errno(e) {
        Some(n) => KernelError::Refused {
            what: what.to_string(),
            errno: nix::errno::Errno::from_raw(n),
        },
        None => KernelError::Failed {
            what: what.to_string(),
            why: super::nla::router_error(e),
        },
    }
}

/// A message that could not be built, as a failure of `what`.
fn unbuilt(what: &str) -> impl FnOnce(String) -> KernelError + '_ {
    move |why| KernelError::Failed {
        what: what.to_string(),
        why,
    }
}

impl Rtnl {
    pub fn connect() -> Result<Rtnl, String> {
        let (router, _) = NlRouter::connect(NlFamily::Route, None, Groups::empty())
            .map_err(|e| nl_err("opening rtnetlink", &e))?;
        Ok(Rtnl { router })
    }

    pub fn snapshot(&self) -> Result<Live, String> {
        Ok(Live {
            links: self.links()?,
            addrs: self.addrs()?,
            routes: self.routes()?,
        })
    }

    pub fn links(&self) -> Result<Vec<LinkLive>, String> {
        let msg = IfinfomsgBuilder::default()
            .ifi_family(RtAddrFamily::Unspecified)
            .build()
            .map_err(|e| err("building a link request", e))?;
        let recv = self
            .router
            .send::<_, _, Rtm, Ifinfomsg>(Rtm::Getlink, NlmF::DUMP, NlPayload::Payload(msg))
            .map_err(|e| nl_err("listing links", &e))?;
        let mut out = Vec::new();
        for r in recv {
            let h = r.map_err(|e| nl_err("listing links", &e))?;
            if let NlPayload::Payload(p) = h.nl_payload() {
                out.push(link_of(p));
            }
        }
        Ok(out)
    }

    pub fn addrs(&self) -> Result<Vec<AddrLive>, String> {
        let mut out = Vec::new();
        for family in [RtAddrFamily::Inet, RtAddrFamily::Inet6] {
            let msg = IfaddrmsgBuilder::default()
                .ifa_family(family)
                .ifa_prefixlen(0)
                .ifa_scope(RtScope::Universe)
                .ifa_index(0)
                .build()
                .map_err(|e| err("building an address request", e))?;
            let recv = self
                .router
                .send::<_, _, Rtm, Ifaddrmsg>(Rtm::Getaddr, NlmF::DUMP, NlPayload::Payload(msg))
                .map_err(|e| nl_err("listing addresses", &e))?;
            for r in recv {
                let h = r.map_err(|e| nl_err("listing addresses", &e))?;
                if let NlPayload::Payload(p) = h.nl_payload() {
                    out.extend(addr_of(p));
                }
            }
        }
        Ok(out)
    }

    fn addr_msg(index: u32, cidr: &Cidr, proto: Option<u8>) -> Result<Ifaddrmsg, String> {
        let (family, bytes) = match cidr.addr {
            IpAddr::V4(a) => (RtAddrFamily::Inet, a.octets().to_vec()),
            IpAddr::V6(a) => (RtAddrFamily::Inet6, a.octets().to_vec()),
        };
        let mut attrs = RtBuffer::<Ifa, Buffer>::new();
        for t in [Ifa::Local, Ifa::Address] {
            attrs.push(
                RtattrBuilder::default()
                    .rta_type(t)
                    .rta_payload(bytes.clone())
                    .build()
                    .map_err(|e| err("building an address", e))?,
            );
        }
        if let Some(proto) = proto {
            attrs.push(
                RtattrBuilder::default()
                    .rta_type(Ifa::UnrecognizedConst(IFA_PROTO))
                    .rta_payload(proto)
                    .build()
                    .map_err(|e| err("building an address", e))?,
            );
        }
        // A VIP moves between routers: an IPv6 one must be usable at once,
        // not after duplicate address detection (the old master let go).
        let flags = if proto == Some(VIP_PROTO) && family == RtAddrFamily::Inet6 {
            IfaF::NODAD
        } else {
            IfaF::empty()
        };
        IfaddrmsgBuilder::default()
            .ifa_family(family)
            .ifa_flags(flags)
            .ifa_prefixlen(cidr.prefix)
            .ifa_scope(RtScope::Universe)
            .ifa_index(index)
            .rtattrs(attrs)
            .build()
            .map_err(|e| err("building an address", e))
    }

    /// Sends one change and waits for the kernel's acknowledgement; a
    /// refusal comes back as an error saying what was being done.
    fn request<P>(&self, what: &str, kind: Rtm, flags: NlmF, msg: P) -> Result<(), String>
    where
        P: neli::Size + neli::ToBytes + neli::FromBytesWithInput<Input = usize>,
    {
        Ok(self.request_typed(what, kind, flags, msg)?)
    }

    fn request_typed<P>(
        &self,
        what: &str,
        kind: Rtm,
        flags: NlmF,
        msg: P,
    ) -> Result<(), KernelError>
    where
        P: neli::Size + neli::ToBytes + neli::FromBytesWithInput<Input = usize>,
    {
        let recv = self
            .router
            .send::<_, _, Rtm, P>(kind, flags | NlmF::ACK, NlPayload::Payload(msg))
            .map_err(|e| typed_err(what, &e))?;
        for r in recv {
            r.map_err(|e| typed_err(what, &e))?;
        }
        Ok(())
    }

    pub fn add_addr(&self, name: &str, index: u32, cidr: &Cidr) -> Result<(), KernelError> {
        let what = format!("adding {cidr} to {name}");
        self.request_typed(
            &what,
            Rtm::Newaddr,
            NlmF::CREATE | NlmF::EXCL,
            Self::addr_msg(index, cidr, Some(PROTO)).map_err(unbuilt(&what))?,
        )
    }

    /// Adds a VRRP virtual address, marked [`VIP_PROTO`] so the network
    /// plane (which removes its own [`PROTO`] addresses when unwanted) leaves
    /// it alone. Already there is fine.
    pub fn add_vip(&self, name: &str, index: u32, cidr: &Cidr) -> Result<(), KernelError> {
        let what = format!("adding virtual address {cidr} to {name}");
        self.request_typed(
            &what,
            Rtm::Newaddr,
            NlmF::CREATE | NlmF::REPLACE,
            Self::addr_msg(index, cidr, Some(VIP_PROTO)).map_err(unbuilt(&what))?,
        )
    }

    /// Adds the management NIC's address, marked [`MGMT_PROTO`] so the
    /// network plane leaves it alone. Already there is fine.
    pub fn add_mgmt_addr(&self, name: &str, index: u32, cidr: &Cidr) -> Result<(), KernelError> {
        let what = format!("adding management address {cidr} to {name}");
        self.request_typed(
            &what,
            Rtm::Newaddr,
            NlmF::CREATE | NlmF::REPLACE,
            Self::addr_msg(index, cidr, Some(MGMT_PROTO)).map_err(unbuilt(&what))?,
        )
    }

    pub fn del_addr(&self, name: &str, index: u32, cidr: &Cidr) -> Result<(), KernelError> {
        let what = format!("removing {cidr} from {name}");
        self.request_typed(
            &what,
            Rtm::Deladdr,
            NlmF::empty(),
            Self::addr_msg(index, cidr, None).map_err(unbuilt(&what))?,
        )
    }

    pub fn set_link(
        &self,
        name: &str,
        index: u32,
        up: Option<bool>,
        mtu: Option<u32>,
    ) -> Result<(), String> {
        let what = format!("changing link {name}");
        let mut attrs = RtBuffer::<Ifla, Buffer>::new();
        if let Some(m) = mtu {
            attrs.push(
                RtattrBuilder::default()
                    .rta_type(Ifla::Mtu)
                    .rta_payload(m)
                    .build()
                    .map_err(|e| err(&what, e))?,
            );
        }
        let (flags, change) = match up {
            Some(true) => (Iff::UP, Iff::UP),
            Some(false) => (Iff::empty(), Iff::UP),
            None => (Iff::empty(), Iff::empty()),
        };
        let msg = IfinfomsgBuilder::default()
            .ifi_family(RtAddrFamily::Unspecified)
            .ifi_index(i32::try_from(index).map_err(|e| err(&what, e))?)
            .ifi_flags(flags)
            .ifi_change(change)
            .rtattrs(attrs)
            .build()
            .map_err(|e| err(&what, e))?;
        self.request(&what, Rtm::Setlink, NlmF::empty(), msg)
    }

    /// RTM_SETLINK (or RTM_NEWLINK, which alone applies IFLA_LINKINFO to an
    /// existing link) with one attribute on link `index`.
    fn set_attr(
        &self,
        what: &str,
        rtm: Rtm,
        index: u32,
        ty: Ifla,
        payload: Vec<u8>,
    ) -> Result<(), String> {
        let mut attrs = RtBuffer::<Ifla, Buffer>::new();
        attrs.push(
            RtattrBuilder::default()
                .rta_type(ty)
                .rta_payload(payload)
                .build()
                .map_err(|e| err(what, e))?,
        );
        let msg = IfinfomsgBuilder::default()
            .ifi_family(RtAddrFamily::Unspecified)
            .ifi_index(i32::try_from(index).map_err(|e| err(what, e))?)
            .rtattrs(attrs)
            .build()
            .map_err(|e| err(what, e))?;
        self.request(what, rtm, NlmF::empty(), msg)
    }

    /// Sets link `index`'s alias (IFLA_IFALIAS: `ip link show` prints it;
    /// it lives as long as the link).
    pub fn set_alias(&self, name: &str, index: u32, alias: &str) -> Result<(), String> {
        let what = format!("setting the alias of link {name}");
        self.set_attr(
            &what,
            Rtm::Setlink,
            index,
            Ifla::Ifalias,
            format!("{alias}\0").into_bytes(),
        )
    }

    /// Deletes link `index` (RTM_DELLINK).
    pub fn del_link(&self, name: &str, index: u32) -> Result<(), String> {
        let what = format!("deleting link {name}");
        let msg = IfinfomsgBuilder::default()
            .ifi_family(RtAddrFamily::Unspecified)
            .ifi_index(i32::try_from(index).map_err(|e| err(&what, e))?)
            .rtattrs(RtBuffer::<Ifla, Buffer>::new())
            .build()
            .map_err(|e| err(&what, e))?;
        self.request(&what, Rtm::Dellink, NlmF::empty(), msg)
    }

    /// Gives link `index` the name `to` (the kernel wants it down).
    pub fn rename(&self, from: &str, index: u32, to: &str) -> Result<(), String> {
        let what = format!("renaming link {from} to {to}");
        self.set_link(from, index, Some(false), None)?;
        self.set_attr(
            &what,
            Rtm::Setlink,
            index,
            Ifla::Ifname,
            format!("{to}\0").into_bytes(),
        )
    }

    /// Makes link `index` a port of bond or bridge `master_index`.
    pub fn set_master(
        &self,
        name: &str,
        index: u32,
        master: &str,
        master_index: u32,
    ) -> Result<(), String> {
        let what = format!("adding {name} to {master}");
        self.set_attr(
            &what,
            Rtm::Setlink,
            index,
            Ifla::Master,
            master_index.to_ne_bytes().to_vec(),
        )
    }

    /// Changes a bond's MII interval and/or primary member in place
    /// (RTM_NEWLINK on the existing link with IFLA_INFO_DATA).
    pub fn set_bond(
        &self,
        name: &str,
        index: u32,
        miimon_ms: Option<u32>,
        primary: Option<u32>,
    ) -> Result<(), String> {
        let what = format!("changing bond {name}");
        let mut data = Vec::new();
        if let Some(m) = miimon_ms {
            data.extend(nla(3, &m.to_ne_bytes()));
        }
        if let Some(p) = primary {
            data.extend(nla(11, &p.to_ne_bytes()));
        }
        let mut info = nla(1, b"bond\0");
        info.extend(nla(2 | 0x8000, &data));
        self.set_attr(&what, Rtm::Newlink, index, Ifla::Linkinfo, info)
    }
}

impl Rtnl {
    /// Unicast routes of every table, both families.
    pub fn routes(&self) -> Result<Vec<RouteLive>, String> {
        let mut out = Vec::new();
        for family in [RtAddrFamily::Inet, RtAddrFamily::Inet6] {
            let msg = RtmsgBuilder::default()
                .rtm_family(family)
                .rtm_dst_len(0)
                .rtm_src_len(0)
                .rtm_tos(0)
                .rtm_table(RtTable::Unspec)
                .rtm_protocol(Rtprot::Unspec)
                .rtm_scope(RtScope::Universe)
                .rtm_type(Rtn::Unspec)
                .build()
                .map_err(|e| err("building a route request", e))?;
            let recv = self
                .router
                .send::<_, _, Rtm, Rtmsg>(Rtm::Getroute, NlmF::DUMP, NlPayload::Payload(msg))
                .map_err(|e| nl_err("listing routes", &e))?;
            for r in recv {
                let h = r.map_err(|e| nl_err("listing routes", &e))?;
                if let NlPayload::Payload(p) = h.nl_payload() {
                    out.extend(route_of(p, family));
                }
            }
        }
        Ok(out)
    }

    fn route_msg(
        w_dst: &Cidr,
        via: Option<IpAddr>,
        oif: Option<u32>,
        src: Option<IpAddr>,
        metric: u32,
        table: u32,
    ) -> Result<Rtmsg, String> {
        let bytes = |ip: IpAddr| match ip {
            IpAddr::V4(a) => a.octets().to_vec(),
            IpAddr::V6(a) => a.octets().to_vec(),
        };
        let family = if w_dst.addr.is_ipv4() {
            RtAddrFamily::Inet
        } else {
            RtAddrFamily::Inet6
        };
        let mut attrs = RtBuffer::<Rta, Buffer>::new();
        let mut push = |t: Rta, payload: Vec<u8>| -> Result<(), String> {
            attrs.push(
                RtattrBuilder::default()
                    .rta_type(t)
                    .rta_payload(payload)
                    .build()
                    .map_err(|e| err("building a route", e))?,
            );
            Ok(())
        };
        if w_dst.prefix > 0 {
            push(Rta::Dst, bytes(w_dst.addr))?;
        }
        if let Some(v) = via {
            push(Rta::Gateway, bytes(v))?;
        }
        if let Some(i) = oif {
            push(Rta::Oif, i.to_ne_bytes().to_vec())?;
        }
        if let Some(s) = src {
            push(Rta::Prefsrc, bytes(s))?;
        }
        push(Rta::Priority, metric.to_ne_bytes().to_vec())?;
        push(Rta::Table, table.to_ne_bytes().to_vec())?;
        // A route with no gateway reaches its destination on the link.
        let scope = if via.is_some() {
            RtScope::Universe
        } else {
            RtScope::Link
        };
        RtmsgBuilder::default()
            .rtm_family(family)
            .rtm_dst_len(w_dst.prefix)
            .rtm_src_len(0)
            .rtm_tos(0)
            .rtm_table(RtTable::Unspec)
            .rtm_protocol(Rtprot::UnrecognizedConst(objects::PROTO))
            .rtm_scope(scope)
            .rtm_type(Rtn::Unicast)
            .rtattrs(attrs)
            .build()
            .map_err(|e| err("building a route", e))
    }

    /// Adds (or, with `replace`, replaces) a route, marked as pharos's.
    pub fn put_route(&self, w: &RouteWant, oif: Option<u32>, replace: bool) -> Result<(), String> {
        let what = format!(
            "{} route {}{}",
            if replace { "replacing" } else { "adding" },
            w.dst,
            w.via.map(|v| format!(" via {v}")).unwrap_or_default()
        );
        let flags = if replace {
            NlmF::CREATE | NlmF::REPLACE
        } else {
            NlmF::CREATE | NlmF::EXCL
        };
        self.request(
            &what,
            Rtm::Newroute,
            flags,
            Self::route_msg(&w.dst, w.via, oif, w.src, w.metric, w.table)?,
        )
    }

    pub fn del_route(&self, l: &RouteLive) -> Result<(), String> {
        let what = format!("removing route {}", l.dst);
        self.request(
            &what,
            Rtm::Delroute,
            NlmF::empty(),
            Self::route_msg(&l.dst, l.via, l.oif, None, l.metric, l.table)?,
        )
    }
}

fn ip_bytes(ip: IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

impl Rtnl {
    /// Creates a dummy, VLAN, bond, ipip or gre link (RTM_NEWLINK with
    /// IFLA_LINKINFO; attribute numbers from linux/if_link.h and if_tunnel.h).
    pub fn create_link(&self, name: &str, kind: &LinkKind) -> Result<(), String> {
        self.create_link_with_mac(name, kind, None)
    }

    /// [`Rtnl::create_link`] with the link's MAC set at creation
    /// (IFLA_ADDRESS): a VRRP virtual MAC's macvlan.
    pub fn create_link_with_mac(
        &self,
        name: &str,
        kind: &LinkKind,
        mac: Option<[u8; 6]>,
    ) -> Result<(), String> {
        use LinkKind as K;
        let what = format!("creating link {name}");
        let mut parent = None;
        let parent_index = |p: &str| -> Result<u32, String> {
            self.links()?
                .into_iter()
                .find(|l| l.name == p)
                .map(|l| l.index)
                .ok_or_else(|| format!("{what}: its parent {p} does not exist"))
        };
        let (kind_name, data): (&str, Vec<u8>) = match kind {
            K::Dummy => ("dummy", vec![]),
            K::Vlan { parent: p, id } => {
                parent = Some(parent_index(p)?);
                ("vlan", nla(1, &id.to_ne_bytes())) // IFLA_VLAN_ID
            }
            K::Bridge { .. } => ("bridge", vec![]),
            K::Macvlan { parent: p, mode } => {
                parent = Some(parent_index(p)?);
                // IFLA_MACVLAN_MODE (1); linux/if_link.h MACVLAN_MODE_*.
                let m: u32 = match mode.as_str() {
                    "private" => 1,
                    "vepa" => 2,
                    "bridge" => 4,
                    "passthru" => 8,
                    other => return Err(format!("{what}: unknown macvlan mode {other}")),
                };
                ("macvlan", nla(1, &m.to_ne_bytes()))
            }
            K::Bond {
                mode, miimon_ms, ..
            } => {
                let m: u8 = match mode.as_str() {
                    "balance-rr" => 0,
                    "active-backup" => 1,
                    "balance-xor" => 2,
                    "broadcast" => 3,
                    "802.3ad" => 4,
                    "balance-tlb" => 5,
                    "balance-alb" => 6,
                    other => return Err(format!("{what}: unknown bonding mode {other}")),
                };
                // IFLA_BOND_MODE 1, IFLA_BOND_MIIMON 3.
                let mut d = nla(1, &[m]);
                d.extend(nla(3, &miimon_ms.to_ne_bytes()));
                ("bond", d)
            }
            K::Ipip { local, remote, ttl } | K::Gre { local, remote, ttl } => {
                // IFLA_IPTUN_{LOCAL,REMOTE,TTL} = 2, 3, 4; IFLA_GRE_{...} = 6, 7, 8.
                let (k, base) = if matches!(kind, K::Ipip { .. }) {
                    ("ipip", 2)
                } else {
                    ("gre", 6)
                };
                let mut d = vec![];
                if let Some(l) = local {
                    d.extend(nla(base, &ip_bytes(*l)));
                }
                if let Some(r) = remote {
                    d.extend(nla(base + 1, &ip_bytes(*r)));
                }
                if let Some(t) = ttl {
                    d.extend(nla(base + 2, &[*t]));
                }
                (k, d)
            }
            K::Fallback => return Err(format!("{what}: tunl0 comes with the ipip module")),
        };
        let mut info = RtBuffer::<IflaInfo, Buffer>::new();
        info.push(
            RtattrBuilder::default()
                .rta_type(IflaInfo::Kind)
                .rta_payload(format!("{kind_name}\0"))
                .build()
                .map_err(|e| err(&what, e))?,
        );
        if !data.is_empty() {
            info.push(
                RtattrBuilder::default()
                    .rta_type(IflaInfo::Data)
                    .rta_payload(data)
                    .build()
                    .map_err(|e| err(&what, e))?,
            );
        }
        let mut attrs = RtBuffer::<Ifla, Buffer>::new();
        attrs.push(
            RtattrBuilder::default()
                .rta_type(Ifla::Ifname)
                .rta_payload(format!("{name}\0"))
                .build()
                .map_err(|e| err(&what, e))?,
        );
        if let Some(m) = mac {
            attrs.push(
                RtattrBuilder::default()
                    .rta_type(Ifla::Address)
                    .rta_payload(m.to_vec())
                    .build()
                    .map_err(|e| err(&what, e))?,
            );
        }
        if let Some(p) = parent {
            attrs.push(
                RtattrBuilder::default()
                    .rta_type(Ifla::Link)
                    .rta_payload(p)
                    .build()
                    .map_err(|e| err(&what, e))?,
            );
        }
        attrs.push(
            RtattrBuilder::default()
                .rta_type(Ifla::Linkinfo)
                .rta_payload(info)
                .build()
                .map_err(|e| err(&what, e))?,
        );
        let msg = IfinfomsgBuilder::default()
            .ifi_family(RtAddrFamily::Unspecified)
            .rtattrs(attrs)
            .build()
            .map_err(|e| err(&what, e))?;
        self.request(&what, Rtm::Newlink, NlmF::CREATE | NlmF::EXCL, msg)
    }
}

/// A link from one RTM_NEWLINK message of a dump.
pub fn link_of(p: &Ifinfomsg) -> LinkLive {
    let attrs = p.rtattrs().get_attr_handle();
    let raw = |t: Ifla| attrs.get_attribute(t).map(|a| a.rta_payload().as_ref());
    // IFLA_IFNAME is a NUL-terminated string. Read here: neli's String
    // (0.7.5, lib.rs:437) takes 1 from its length unchecked and panics on
    // an empty one (fuzz/RESULTS.md).
    let name = raw(Ifla::Ifname)
        .and_then(|b| std::str::from_utf8(b.split(|c| *c == 0).next().unwrap_or_default()).ok())
        .unwrap_or_default();
    let mtu = attrs.get_attr_payload_as::<u32>(Ifla::Mtu).unwrap_or(0);
    let mac = raw(Ifla::PermAddress)
        .filter(|m| m.iter().any(|b| *b != 0))
        .or_else(|| raw(Ifla::Address))
        .map(|m| {
            m.iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(":")
        })
        .unwrap_or_default();
    LinkLive {
        index: u32::try_from(*p.ifi_index()).unwrap_or(0),
        name: name.to_string(),
        up: p.ifi_flags().contains(Iff::UP),
        carrier: p.ifi_flags().contains(Iff::LOWERUP),
        mtu,
        mac,
        master: attrs.get_attr_payload_as::<u32>(Ifla::Master).ok(),
        bond: raw(Ifla::Linkinfo).and_then(bond_info),
    }
}

/// An address from one RTM_NEWADDR message of a dump; `None` without one.
pub fn addr_of(p: &Ifaddrmsg) -> Option<AddrLive> {
    let mut addr = None;
    let mut proto = 0u8;
    for a in p.rtattrs().iter() {
        let bytes: &[u8] = a.rta_payload().as_ref();
        match a.rta_type() {
            // IFA_LOCAL is the address on IPv4 point-to-point
            // links; IFA_ADDRESS otherwise and for IPv6.
            Ifa::Local => addr = ip_from(bytes),
            Ifa::Address if addr.is_none() => addr = ip_from(bytes),
            Ifa::UnrecognizedConst(IFA_PROTO) => proto = bytes.first().copied().unwrap_or(0),
            _ => {}
        }
    }
    Some(AddrLive {
        index: *p.ifa_index(),
        cidr: Cidr {
            addr: addr?,
            prefix: *p.ifa_prefixlen(),
        },
        proto,
    })
}

/// A unicast route from one RTM_NEWROUTE message of a dump of `family`;
/// `None` for the other route types.
pub fn route_of(p: &Rtmsg, family: RtAddrFamily) -> Option<RouteLive> {
    if *p.rtm_type() != Rtn::Unicast {
        return None;
    }
    let (mut dst, mut via, mut oif, mut metric) = (None, None, None, 0u32);
    let mut table = u32::from(u8::from(*p.rtm_table()));
    for a in p.rtattrs().iter() {
        let bytes: &[u8] = a.rta_payload().as_ref();
        let u32_of = |b: &[u8]| <[u8; 4]>::try_from(b).ok().map(u32::from_ne_bytes);
        match a.rta_type() {
            Rta::Dst => dst = ip_from(bytes),
            Rta::Gateway => via = ip_from(bytes),
            Rta::Oif => oif = u32_of(bytes),
            Rta::Priority => metric = u32_of(bytes).unwrap_or(0),
            Rta::Table => table = u32_of(bytes).unwrap_or(table),
            _ => {}
        }
    }
    let unspecified = if family == RtAddrFamily::Inet {
        IpAddr::from([0u8; 4])
    } else {
        IpAddr::from([0u8; 16])
    };
    Some(RouteLive {
        dst: Cidr {
            addr: dst.unwrap_or(unspecified),
            prefix: *p.rtm_dst_len(),
        },
        via,
        oif,
        metric,
        table,
        protocol: u8::from(*p.rtm_protocol()),
    })
}

fn u32_of(b: &[u8]) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(..4)?.try_into().ok()?))
}

/// A bond's options from its IFLA_LINKINFO (IFLA_INFO_KIND 1 = "bond",
/// IFLA_INFO_DATA 2 holding IFLA_BOND_MIIMON 3 and IFLA_BOND_PRIMARY 11).
fn bond_info(linkinfo: &[u8]) -> Option<BondLive> {
    let info = nlas(linkinfo);
    let kind = info.iter().find(|(t, _)| *t == 1)?.1;
    if kind.strip_suffix(b"\0").unwrap_or(kind) != b"bond" {
        return None;
    }
    let data = nlas(info.iter().find(|(t, _)| *t == 2)?.1);
    let get = |t: u16| {
        data.iter()
            .find(|(x, _)| *x == t)
            .and_then(|(_, v)| u32_of(v))
    };
    Some(BondLive {
        miimon_ms: get(3).unwrap_or(0),
        primary: get(11),
    })
}

fn ip_from(b: &[u8]) -> Option<IpAddr> {
    match b.len() {
        4 => Some(IpAddr::from(<[u8; 4]>::try_from(b).ok()?)),
        16 => Some(IpAddr::from(<[u8; 16]>::try_from(b).ok()?)),
        _ => None,
    }
}

/// rtnetlink multicast groups (linux/rtnetlink.h): links, IPv4 and IPv6
/// addresses.
const RTNLGRP_LINK: u32 = 1;
const RTNLGRP_IPV4_IFADDR: u32 = 5;
const RTNLGRP_IPV6_IFADDR: u32 = 9;

/// Sends on `kick` whenever a link or an address changes in the kernel, so
/// the network plane compares again at once (an address removed behind its
/// back comes back). Ends when `kick` is closed and the next change comes.
pub fn monitor(kick: tokio::sync::mpsc::Sender<()>) -> Result<(), String> {
    let groups = Groups::new_groups(&[RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR]);
    // A plain socket, not the router: the router's receiver stops for good
    // at the first message it cannot type, and here any message is news.
    let socket = NlSocketHandle::connect(NlFamily::Route, None, groups)
        .map_err(|e| err("subscribing to rtnetlink changes", e))?;
    std::thread::Builder::new()
        .name("net-monitor".into())
        .spawn(move || {
            while socket.recv::<u16, Buffer>().is_ok() {
                // A full channel already holds a kick: nothing is lost.
                if let Err(tokio::sync::mpsc::error::TrySendError::Closed(_)) = kick.try_send(()) {
                    return;
                }
            }
        })
        .map_err(|e| err("starting the rtnetlink monitor", e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(attrs: &[(Ifla, &[u8])]) -> Ifinfomsg {
        let mut buf = RtBuffer::new();
        for (t, p) in attrs {
            buf.push(
                RtattrBuilder::default()
                    .rta_type(*t)
                    .rta_payload(p.to_vec())
                    .build()
                    .unwrap(),
            );
        }
        IfinfomsgBuilder::default()
            .ifi_family(RtAddrFamily::Unspecified)
            .ifi_index(3)
            .rtattrs(buf)
            .build()
            .unwrap()
    }

    #[test]
    fn a_link_name_is_read_up_to_its_nul() {
        let l = link_of(&link(&[
            (Ifla::Ifname, b"eth0\0"),
            (Ifla::Mtu, &1500u32.to_ne_bytes()),
        ]));
        assert_eq!((l.index, l.name.as_str(), l.mtu), (3, "eth0", 1500));
    }

    #[test]
    fn an_empty_link_name_is_no_name_not_a_panic() {
        // Found by fuzz/fuzz_targets/rtnl_reply.rs: neli's String decoding
        // of an empty IFLA_IFNAME overflowed.
        assert_eq!(link_of(&link(&[(Ifla::Ifname, b"")])).name, "");
        assert_eq!(link_of(&link(&[(Ifla::Ifname, b"\xff\0")])).name, "");
    }
}

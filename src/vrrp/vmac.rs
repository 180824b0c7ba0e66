//! The VRRP virtual MAC (RFC 5798 §7.3): `virtual_mac = true` on an
//! instance gives it a macvlan of its own, owned by the VRRP task.
//!
//! - Named as keepalived names its `use_vmac` interfaces, `vrrp.VRID`
//!   (IPv4) or `vrrp6.VRID` (IPv6), on the instance's interface, with the
//!   MAC 00-00-5E-00-01-VRID (IPv4) or 00-00-5E-00-02-VRID (IPv6), §7.3.
//! - Mode bridge: a frame that arrives with our own virtual MAC as its
//!   source (the other router's adverts: both routers use the same MAC)
//!   still reaches the parent, where the receive socket listens. In
//!   private or VEPA mode an up macvlan swallows such frames
//!   (drivers/net/macvlan.c, `macvlan_handle_frame`), and a master would
//!   not hear the advert of a router that preempts it.
//! - Down while the instance is not master, up while it is (the choice
//!   FRR's vrrpd makes with protodown): a backup's macvlan sends nothing
//!   (no MLD, no neighbour discovery) with the MAC the master owns, so the
//!   switches learn the virtual MAC only at the master's port, and frames
//!   flooded to it are not taken in by a backup either. Coming up costs one
//!   netlink request before the first advert.
//! - The VIPs go on it, and adverts and gratuitous ARPs / NAs go out from
//!   it (so their Ethernet source is the virtual MAC, §7.2). The receive
//!   socket stays on the parent.
//! - IPv6: no address of its own (addr_gen_mode none: an EUI-64 link-local
//!   from the virtual MAC would be the same on both routers); while up it
//!   carries the parent's link-local address, which adverts come from
//!   (§5.1.2.1), as keepalived does. IPv4: IPv6 is off on it.
//! - ARP: the parent gets arp_ignore = 1 and arp_announce = 2 while a
//!   virtual MAC lives on it (values saved and put back when the last one
//!   goes), so the parent neither answers ARP for the VIPs with its own MAC
//!   nor uses a VIP as the sender of its own requests; either would teach
//!   the hosts the parent's MAC for the VIP. The macvlan: arp_ignore = 1,
//!   arp_announce = 2, rp_filter = 0 (replies to it leave by the parent's
//!   route). The parent's old values are also written in the macvlan's
//!   alias (`ip link show` prints it), so a pharos restarted after a crash
//!   adopts them with the link and still puts them back; the alias lives
//!   as long as the link, and a reboot ends both it and the raised values.

use std::collections::BTreeMap;
use std::net::IpAddr;

use crate::config::types::{Cidr, Family, MacAddr};
use crate::kernel::objects::{LinkKind, LinkLive};
use crate::kernel::rtnl::Rtnl;

/// The virtual router MAC of `vrid` (RFC 5798 §7.3).
pub fn mac_for(vrid: u8, family: Family) -> MacAddr {
    let kind = match family {
        Family::Ipv4 => 0x01,
        Family::Ipv6 => 0x02,
    };
    MacAddr([0x00, 0x00, 0x5e, 0x00, kind, vrid])
}

/// The macvlan's name (keepalived's default names).
pub fn name_for(vrid: u8, family: Family) -> String {
    match family {
        Family::Ipv4 => format!("vrrp.{vrid}"),
        Family::Ipv6 => format!("vrrp6.{vrid}"),
    }
}

/// What to do about the live link named like the macvlan (sans IO).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// Missing: create it.
    Create,
    /// There with the virtual MAC: ours (left by an earlier run, or made
    /// by this one); adopt it.
    Adopt(u32),
    /// A link of that name with another MAC: not ours to reuse; replace it.
    Replace(u32),
}

pub fn found(links: &[LinkLive], name: &str, mac: &MacAddr) -> Found {
    match links.iter().find(|l| l.name == name) {
        None => Found::Create,
        // LinkLive spells MACs as MacAddr displays them: lowercase, colons.
        Some(l) if l.mac == mac.to_string() => Found::Adopt(l.index),
        Some(l) => Found::Replace(l.index),
    }
}

/// The parent's sysctls a virtual MAC needs, and the value each must at
/// least have (the kernel takes the larger of `all` and the interface's).
pub const PARENT: [(&str, u8); 2] = [("arp_ignore", 1), ("arp_announce", 2)];

/// The alias a macvlan carries: its parent's sysctls before any virtual
/// MAC raised them (`pharos virtual MAC; eth0 arp_ignore=0 arp_announce=0`).
pub fn alias_for(parent: &str, originals: &[(&'static str, String)]) -> String {
    let mut a = format!("pharos virtual MAC; {parent}");
    for (leaf, v) in originals {
        a.push_str(&format!(" {leaf}={v}"));
    }
    a
}

/// The parent and its sysctls an alias written by [`alias_for`] records;
/// `None` for any other alias (a link pharos did not make).
pub fn parse_alias(alias: &str) -> Option<(String, Vec<(&'static str, String)>)> {
    let rest = alias.trim().strip_prefix("pharos virtual MAC; ")?;
    let mut words = rest.split_whitespace();
    let parent = words.next()?.to_string();
    let values = words
        .filter_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            let leaf = PARENT.iter().find(|(l, _)| *l == k)?.0;
            v.parse::<u8>().ok().map(|_| (leaf, v.to_string()))
        })
        .collect();
    Some((parent, values))
}

/// A link's alias, if it has one.
pub fn alias_of(ifname: &str) -> Option<String> {
    std::fs::read_to_string(format!("/sys/class/net/{ifname}/ifalias")).ok()
}

/// The value to write over `live`, if it is below `want` (sans IO).
pub fn raise_to(live: &str, want: u8) -> Option<String> {
    match live.trim().parse::<u8>() {
        Ok(v) if v >= want => None,
        _ => Some(want.to_string()),
    }
}

fn conf(family: &str, ifname: &str, leaf: &str) -> String {
    format!("/proc/sys/net/{family}/conf/{ifname}/{leaf}")
}

fn write(path: &str, value: &str) -> Result<(), String> {
    std::fs::write(path, value).map_err(|e| format!("writing {value} to {path}: {e}"))
}

/// One instance's macvlan.
#[derive(Debug)]
pub struct Vmac {
    pub name: String,
    pub parent: String,
    pub mac: MacAddr,
    pub family: Family,
    /// Its index once made or adopted.
    pub index: Option<u32>,
    /// Up or down as this task last set it; `None` when unknown (adopted
    /// from an earlier run), so the next [`Vmac::set_up`] acts either way.
    pub up: Option<bool>,
}

impl Vmac {
    pub fn new(vrid: u8, family: Family, parent: &str) -> Vmac {
        Vmac {
            name: name_for(vrid, family),
            parent: parent.to_string(),
            mac: mac_for(vrid, family),
            family,
            index: None,
            up: None,
        }
    }

    /// Makes sure the macvlan exists with the virtual MAC on its parent;
    /// `links` is the kernel's list. Returns its index and, when it was
    /// made now (rather than adopted), the kernel's list read again with
    /// it; or what went wrong.
    pub fn ensure(
        &mut self,
        rtnl: &Rtnl,
        links: &[LinkLive],
    ) -> Result<(u32, Option<Vec<LinkLive>>), String> {
        let made = match found(links, &self.name, &self.mac) {
            Found::Adopt(i) => {
                if self.index != Some(i) {
                    // Made by an earlier run: its state is whatever that
                    // run left it in.
                    self.index = Some(i);
                    self.up = None;
                    self.configure()?;
                }
                return Ok((i, None));
            }
            Found::Replace(i) => {
                rtnl.del_link(&self.name, i).map_err(|e| {
                    format!(
                        "{e}: a link named {} without the virtual MAC is in the way; rename or delete it",
                        self.name
                    )
                })?;
                true
            }
            Found::Create => true,
        };
        if made {
            rtnl.create_link_with_mac(
                &self.name,
                &LinkKind::Macvlan {
                    parent: self.parent.clone(),
                    mode: "bridge".into(),
                },
                Some(self.mac.0),
            )
            .map_err(|e| format!("{e} (the virtual MAC needs the macvlan module)"))?;
        }
        let links = rtnl.links()?;
        let index = links
            .iter()
            .find(|l| l.name == self.name)
            .map(|l| l.index)
            .ok_or_else(|| format!("{} vanished right after it was made", self.name))?;
        self.index = Some(index);
        self.up = Some(false);
        self.configure()?;
        Ok((index, Some(links)))
    }

    /// The parent's sysctls an earlier run recorded in the alias.
    pub fn recorded(&self) -> Vec<(&'static str, String)> {
        alias_of(&self.name)
            .and_then(|a| parse_alias(&a))
            .filter(|(p, _)| *p == self.parent)
            .map(|(_, v)| v)
            .unwrap_or_default()
    }

    /// The macvlan's own sysctls (they go with it). Set while it is down,
    /// before IPv6 would give it an address of its own.
    fn configure(&self) -> Result<(), String> {
        let n = &self.name;
        for (leaf, v) in [
            ("arp_ignore", "1"),
            ("arp_announce", "2"),
            ("rp_filter", "0"),
        ] {
            write(&conf("ipv4", n, leaf), v)?;
        }
        match self.family {
            Family::Ipv4 => write(&conf("ipv6", n, "disable_ipv6"), "1"),
            Family::Ipv6 => {
                // IN6_ADDR_GEN_MODE_NONE; no DAD for what we add to it.
                write(&conf("ipv6", n, "addr_gen_mode"), "1")?;
                write(&conf("ipv6", n, "accept_dad"), "0")
            }
        }
    }

    /// Up (with the parent's link-local for IPv6) or down; nothing when
    /// it already is. Down drops the kernel's IPv6 addresses on it; up adds
    /// the link-local back.
    pub fn set_up(
        &mut self,
        rtnl: &Rtnl,
        up: bool,
        link_local: Option<IpAddr>,
    ) -> Result<(), String> {
        let Some(index) = self.index else {
            return Err(format!("{} does not exist yet", self.name));
        };
        if self.up == Some(up) {
            return Ok(());
        }
        self.up = None;
        rtnl.set_link(&self.name, index, Some(up), None)?;
        self.up = Some(up);
        if up && let Some(ll) = link_local.filter(|_| self.family == Family::Ipv6) {
            rtnl.add_vip(&self.name, index, &Cidr::host(ll))
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// Deletes it (the instance is gone or pharos stops).
    pub fn remove(&mut self, rtnl: &Rtnl) -> Result<(), String> {
        if let Some(i) = self.index.take() {
            self.up = None;
            rtnl.del_link(&self.name, i)?;
        }
        Ok(())
    }
}

/// The parents' sysctls as they were before a virtual MAC raised them,
/// by (parent, leaf): put back when the parent's last virtual MAC goes.
#[derive(Debug, Default)]
pub struct ParentSysctls {
    saved: BTreeMap<(String, &'static str), String>,
}

impl ParentSysctls {
    /// Raises what [`PARENT`] asks for on `parent`, saving the old values;
    /// the values from before any virtual MAC, as far as this run knows.
    pub fn raise(&mut self, parent: &str) -> Result<Vec<(&'static str, String)>, String> {
        let mut before = Vec::new();
        for (leaf, want) in PARENT {
            let path = conf("ipv4", parent, leaf);
            let live =
                std::fs::read_to_string(&path).map_err(|e| format!("reading {path}: {e}"))?;
            let live = live.trim().to_string();
            if let Some(v) = raise_to(&live, want) {
                write(&path, &v)?;
                self.saved
                    .entry((parent.to_string(), leaf))
                    .or_insert_with(|| live.clone());
            }
            let original = self.saved.get(&(parent.to_string(), leaf)).unwrap_or(&live);
            before.push((leaf, original.clone()));
        }
        Ok(before)
    }

    /// A value from before an earlier run raised it (a macvlan's alias):
    /// the lowest one heard is the original, as values are only raised.
    pub fn remember(&mut self, parent: &str, leaf: &'static str, value: String) {
        let num = |v: &str| v.parse::<u8>().unwrap_or(u8::MAX);
        let e = self
            .saved
            .entry((parent.to_string(), leaf))
            .or_insert(value.clone());
        if num(&value) < num(e) {
            *e = value;
        }
    }

    /// Puts back what was raised on `parent`.
    pub fn restore(&mut self, parent: &str) -> Vec<String> {
        let keys: Vec<(String, &'static str)> = self
            .saved
            .keys()
            .filter(|(p, _)| p == parent)
            .cloned()
            .collect();
        let mut errors = Vec::new();
        for k in keys {
            if let Some(v) = self.saved.remove(&k)
                && let Err(e) = write(&conf("ipv4", &k.0, k.1), &v)
            {
                errors.push(e);
            }
        }
        errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(index: u32, name: &str, mac: &str) -> LinkLive {
        LinkLive {
            index,
            name: name.into(),
            up: false,
            carrier: false,
            mtu: 1500,
            mac: mac.into(),
            master: None,
            bond: None,
        }
    }

    #[test]
    fn the_virtual_router_mac_is_rfc_5798_s7_3() {
        assert_eq!(mac_for(51, Family::Ipv4).0, [0, 0, 0x5e, 0, 1, 51]);
        assert_eq!(mac_for(255, Family::Ipv6).0, [0, 0, 0x5e, 0, 2, 255]);
        assert_eq!(mac_for(51, Family::Ipv4).to_string(), "00:00:5e:00:01:33");
        assert_eq!(name_for(51, Family::Ipv4), "vrrp.51");
        assert_eq!(name_for(7, Family::Ipv6), "vrrp6.7");
    }

    #[test]
    fn a_link_of_that_name_is_adopted_only_with_the_virtual_mac() {
        let mac = mac_for(51, Family::Ipv4);
        assert_eq!(found(&[], "vrrp.51", &mac), Found::Create);
        let ours = [
            link(1, "eth0", "52:54:00:00:00:01"),
            link(9, "vrrp.51", "00:00:5e:00:01:33"),
        ];
        assert_eq!(found(&ours, "vrrp.51", &mac), Found::Adopt(9));
        let other = [link(9, "vrrp.51", "52:54:00:12:34:56")];
        assert_eq!(found(&other, "vrrp.51", &mac), Found::Replace(9));
    }

    #[test]
    fn the_alias_carries_the_parents_old_values_and_nothing_else_is_read() {
        let a = alias_for(
            "eth0",
            &[("arp_ignore", "0".into()), ("arp_announce", "1".into())],
        );
        assert_eq!(a, "pharos virtual MAC; eth0 arp_ignore=0 arp_announce=1");
        assert_eq!(
            parse_alias(&format!("{a}\n")),
            Some((
                "eth0".to_string(),
                vec![
                    ("arp_ignore", "0".to_string()),
                    ("arp_announce", "1".to_string())
                ]
            ))
        );
        assert_eq!(parse_alias("uplink to core"), None);
        assert_eq!(
            parse_alias("pharos virtual MAC; eth0 rp_filter=1 arp_ignore=x"),
            Some(("eth0".to_string(), vec![]))
        );
        let mut p = ParentSysctls::default();
        p.remember("eth0", "arp_ignore", "1".into());
        p.remember("eth0", "arp_ignore", "0".into());
        p.remember("eth0", "arp_ignore", "1".into());
        assert_eq!(p.saved[&("eth0".to_string(), "arp_ignore")], "0");
    }

    #[test]
    fn parent_sysctls_are_only_ever_raised() {
        assert_eq!(raise_to("0\n", 1), Some("1".into()));
        assert_eq!(raise_to("1", 1), None);
        assert_eq!(raise_to("8", 1), None, "a stricter setting stays");
        assert_eq!(raise_to("1", 2), Some("2".into()));
        assert_eq!(raise_to("garbage", 2), Some("2".into()));
    }
}

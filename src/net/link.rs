//! Links and addresses: what the config wants (interfaces, the real-server
//! VIPs on `lo` and `tunl0`), and a sans-IO diff against the live kernel.
//!
//! pharos owns only the addresses it added: they carry IFA_PROTO = [`PROTO`]
//! (Linux 6.1+), so an address an operator added by hand is never removed,
//! and an address that is already there (added by anyone) is adopted, not
//! added again.

use std::collections::BTreeMap;

use crate::config::Config;
use crate::config::types::Cidr;

/// The IFA_PROTO value that marks an address as pharos's ('p').
pub const PROTO: u8 = 0x70;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LinkWant {
    pub name: String,
    pub up: bool,
    pub mtu: Option<u32>,
    pub origin: String,
    /// What to create when the link does not exist; `None` for a physical
    /// interface (or `lo`), which pharos cannot create.
    pub kind: Option<LinkKind>,
}

/// A link pharos can create.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum LinkKind {
    Dummy,
    Vlan {
        parent: String,
        id: u16,
    },
    /// Bonding mode as the kernel names it (`active-backup`, `802.3ad`...).
    Bond {
        mode: String,
    },
    Ipip {
        local: Option<std::net::IpAddr>,
        remote: Option<std::net::IpAddr>,
        ttl: Option<u8>,
    },
    Gre {
        local: Option<std::net::IpAddr>,
        remote: Option<std::net::IpAddr>,
        ttl: Option<u8>,
    },
    /// `tunl0`: appears when the ipip module loads.
    Fallback,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddrWant {
    pub iface: String,
    pub cidr: Cidr,
    pub origin: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkLive {
    pub index: u32,
    pub name: String,
    /// Administratively up (IFF_UP).
    pub up: bool,
    /// Has carrier (IFF_LOWER_UP): what VRRP tracks.
    pub carrier: bool,
    pub mtu: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddrLive {
    pub index: u32,
    pub cidr: Cidr,
    /// IFA_PROTO, 0 when unset.
    pub proto: u8,
}

/// The links and addresses a config wants, links in name order.
pub fn wanted(cfg: &Config) -> (Vec<LinkWant>, Vec<AddrWant>) {
    let mut links: BTreeMap<String, LinkWant> = BTreeMap::new();
    let mut addrs = Vec::new();
    for (name, i) in &cfg.interfaces {
        let kind = if i.dummy {
            Some(LinkKind::Dummy)
        } else if let Some(v) = &i.vlan {
            Some(LinkKind::Vlan {
                parent: v.parent.to_string(),
                id: v.id,
            })
        } else {
            i.bond.as_ref().map(|b| LinkKind::Bond {
                mode: serde_json::to_value(b.mode)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
            })
        };
        links.insert(
            name.to_string(),
            LinkWant {
                name: name.to_string(),
                up: i.up,
                mtu: i.mtu,
                origin: format!("interfaces.{name}"),
                kind,
            },
        );
        for a in &i.addresses {
            addrs.push(AddrWant {
                iface: name.to_string(),
                cidr: *a,
                origin: format!("interfaces.{name}.addresses"),
            });
        }
    }
    for (name, t) in &cfg.tunnels {
        let (local, remote, ttl) = (t.local.map(|i| i.0), t.remote.map(|i| i.0), t.ttl);
        let kind = match t.kind {
            _ if name.as_str() == "tunl0" => LinkKind::Fallback,
            crate::config::model::TunnelKind::Ipip => LinkKind::Ipip { local, remote, ttl },
            crate::config::model::TunnelKind::Gre => LinkKind::Gre { local, remote, ttl },
        };
        links.insert(
            name.to_string(),
            LinkWant {
                name: name.to_string(),
                up: t.up,
                mtu: t.mtu,
                origin: format!("tunnels.{name}"),
                kind: Some(kind),
            },
        );
        for a in &t.addresses {
            addrs.push(AddrWant {
                iface: name.to_string(),
                cidr: *a,
                origin: format!("tunnels.{name}.addresses"),
            });
        }
    }
    if let Some(rs) = &cfg.realserver {
        // The VIPs as host addresses on lo (DR) or tunl0 (TUN), so the real
        // server accepts packets for them without announcing them.
        for (iface, role, vips) in [
            ("lo", "dr", rs.dr.as_ref().map(|d| &d.vips)),
            ("tunl0", "tun", rs.tun.as_ref().map(|t| &t.vips)),
        ] {
            let Some(vips) = vips else { continue };
            let origin = format!("realserver.{role}.vips");
            let kind = (iface == "tunl0").then_some(LinkKind::Fallback);
            links.entry(iface.to_string()).or_insert_with(|| LinkWant {
                name: iface.to_string(),
                up: true,
                mtu: None,
                origin: origin.clone(),
                kind,
            });
            for v in vips {
                addrs.push(AddrWant {
                    iface: iface.to_string(),
                    cidr: Cidr::host(v.0),
                    origin: origin.clone(),
                });
            }
        }
    }
    (links.into_values().collect(), addrs)
}

/// One change (or non-change) to the kernel's links and addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkStep {
    /// Already as wanted.
    Matches(String),
    /// The config names a link this box does not have (and pharos cannot make).
    Missing {
        name: String,
        origin: String,
    },
    /// A link pharos makes; the next pass sets its MTU, state and addresses.
    Create(LinkWant),
    SetMtu {
        name: String,
        index: u32,
        mtu: u32,
        from: u32,
    },
    SetUp {
        name: String,
        index: u32,
        up: bool,
    },
    /// An address pharos added earlier that the config no longer has.
    DelAddr {
        name: String,
        index: u32,
        cidr: Cidr,
    },
    AddAddr {
        name: String,
        index: u32,
        cidr: Cidr,
        origin: String,
    },
}

/// Sans-IO: the ordered steps from `live` to what is wanted. MTU before up;
/// stale pharos addresses go before new ones are added.
pub fn diff(
    links: &[LinkWant],
    addrs: &[AddrWant],
    live_links: &[LinkLive],
    live_addrs: &[AddrLive],
) -> Vec<LinkStep> {
    let by_name: BTreeMap<&str, &LinkLive> =
        live_links.iter().map(|l| (l.name.as_str(), l)).collect();
    let by_index: BTreeMap<u32, &LinkLive> = live_links.iter().map(|l| (l.index, l)).collect();
    let mut steps = Vec::new();
    for w in links {
        let Some(l) = by_name.get(w.name.as_str()) else {
            match &w.kind {
                Some(_) => steps.push(LinkStep::Create(w.clone())),
                None => steps.push(LinkStep::Missing {
                    name: w.name.clone(),
                    origin: w.origin.clone(),
                }),
            }
            continue;
        };
        let mut same = true;
        if let Some(mtu) = w.mtu
            && mtu != l.mtu
        {
            steps.push(LinkStep::SetMtu {
                name: w.name.clone(),
                index: l.index,
                mtu,
                from: l.mtu,
            });
            same = false;
        }
        if w.up != l.up {
            steps.push(LinkStep::SetUp {
                name: w.name.clone(),
                index: l.index,
                up: w.up,
            });
            same = false;
        }
        if same {
            steps.push(LinkStep::Matches(format!("link {}", w.name)));
        }
    }
    let wanted_here = |index: u32, cidr: &Cidr| {
        by_index.get(&index).is_some_and(|l| {
            addrs.iter().any(|a| {
                a.iface == l.name && a.cidr.addr == cidr.addr && a.cidr.prefix == cidr.prefix
            })
        })
    };
    for a in live_addrs {
        if a.proto == PROTO && !wanted_here(a.index, &a.cidr) {
            let name = by_index
                .get(&a.index)
                .map_or_else(|| a.index.to_string(), |l| l.name.clone());
            steps.push(LinkStep::DelAddr {
                name,
                index: a.index,
                cidr: a.cidr,
            });
        }
    }
    for w in addrs {
        let Some(l) = by_name.get(w.iface.as_str()) else {
            continue; // reported as a missing link above
        };
        let present = live_addrs.iter().any(|a| {
            a.index == l.index && a.cidr.addr == w.cidr.addr && a.cidr.prefix == w.cidr.prefix
        });
        if present {
            steps.push(LinkStep::Matches(format!(
                "address {} on {}",
                w.cidr, w.iface
            )));
        } else {
            steps.push(LinkStep::AddAddr {
                name: w.iface.clone(),
                index: l.index,
                cidr: w.cidr,
                origin: w.origin.clone(),
            });
        }
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr(s: &str) -> Cidr {
        s.parse().unwrap()
    }

    fn lo_eth0() -> Vec<LinkLive> {
        vec![
            LinkLive {
                index: 1,
                name: "lo".into(),
                up: true,
                carrier: true,
                mtu: 65536,
            },
            LinkLive {
                index: 2,
                name: "eth0".into(),
                up: false,
                carrier: false,
                mtu: 1500,
            },
        ]
    }

    #[test]
    fn adds_what_is_missing_adopts_what_is_there_and_leaves_others_addresses() {
        let links = vec![LinkWant {
            name: "eth0".into(),
            up: true,
            mtu: Some(9000),
            origin: "interfaces.eth0".into(),
            kind: None,
        }];
        let addrs = vec![
            AddrWant {
                iface: "eth0".into(),
                cidr: cidr("10.0.0.2/24"),
                origin: "x".into(),
            },
            AddrWant {
                iface: "eth0".into(),
                cidr: cidr("10.0.0.3/24"),
                origin: "x".into(),
            },
        ];
        let live_addrs = vec![
            // Added by hand earlier: adopted, never removed.
            AddrLive {
                index: 2,
                cidr: cidr("10.0.0.2/24"),
                proto: 0,
            },
            // An operator's own address that the config does not mention.
            AddrLive {
                index: 2,
                cidr: cidr("10.9.9.9/24"),
                proto: 0,
            },
            // pharos added this once; the config dropped it.
            AddrLive {
                index: 2,
                cidr: cidr("10.0.0.4/24"),
                proto: PROTO,
            },
        ];
        let steps = diff(&links, &addrs, &lo_eth0(), &live_addrs);
        assert_eq!(
            steps,
            vec![
                LinkStep::SetMtu {
                    name: "eth0".into(),
                    index: 2,
                    mtu: 9000,
                    from: 1500
                },
                LinkStep::SetUp {
                    name: "eth0".into(),
                    index: 2,
                    up: true
                },
                LinkStep::DelAddr {
                    name: "eth0".into(),
                    index: 2,
                    cidr: cidr("10.0.0.4/24")
                },
                LinkStep::Matches("address 10.0.0.2/24 on eth0".into()),
                LinkStep::AddAddr {
                    name: "eth0".into(),
                    index: 2,
                    cidr: cidr("10.0.0.3/24"),
                    origin: "x".into()
                },
            ]
        );
    }

    #[test]
    fn a_link_the_box_lacks_is_reported_with_its_origin() {
        let links = vec![LinkWant {
            name: "eth7".into(),
            up: true,
            mtu: None,
            origin: "interfaces.eth7".into(),
            kind: None,
        }];
        let addrs = vec![AddrWant {
            iface: "eth7".into(),
            cidr: cidr("10.0.0.2/24"),
            origin: "x".into(),
        }];
        assert_eq!(
            diff(&links, &addrs, &lo_eth0(), &[]),
            vec![LinkStep::Missing {
                name: "eth7".into(),
                origin: "interfaces.eth7".into()
            }]
        );
    }

    #[test]
    fn a_link_pharos_can_make_is_created_and_tunl0_comes_from_its_module() {
        let c = crate::config::check_text(
            "[interfaces.d0]\ndummy = true\n[interfaces.v10]\nvlan = { parent = \"eth0\", id = 10 }\n[tunnels.tunl0]\ntype = \"ipip\"\n[interfaces.eth0]\n",
            &crate::config::Selection::All,
        );
        let (links, _) = wanted(&c.configs[0].1);
        let steps = diff(&links, &[], &lo_eth0(), &[]);
        let created: Vec<(String, Option<LinkKind>)> = steps
            .iter()
            .filter_map(|s| match s {
                LinkStep::Create(w) => Some((w.name.clone(), w.kind.clone())),
                _ => None,
            })
            .collect();
        assert_eq!(
            created,
            vec![
                ("d0".to_string(), Some(LinkKind::Dummy)),
                ("tunl0".to_string(), Some(LinkKind::Fallback)),
                (
                    "v10".to_string(),
                    Some(LinkKind::Vlan {
                        parent: "eth0".into(),
                        id: 10
                    })
                ),
            ]
        );
    }

    #[test]
    fn the_dr_role_puts_each_vip_on_lo_as_a_host_address() {
        let c = crate::config::check_text(
            "[realserver.dr]\nvips = [\"192.168.199.10\", \"2001:db8::10\"]\n",
            &crate::config::Selection::All,
        );
        let (links, addrs) = wanted(&c.configs[0].1);
        assert_eq!(
            links.iter().map(|l| l.name.as_str()).collect::<Vec<_>>(),
            vec!["lo"]
        );
        let shown: Vec<String> = addrs
            .iter()
            .map(|a| format!("{} {}", a.iface, a.cidr))
            .collect();
        assert_eq!(shown, vec!["lo 192.168.199.10/32", "lo 2001:db8::10/128"]);
    }
}

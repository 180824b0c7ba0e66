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
pub use crate::kernel::objects::{AddrLive, BondLive, LinkKind, LinkLive, PROTO, VIP_PROTO};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LinkWant {
    pub name: String,
    pub up: bool,
    pub mtu: Option<u32>,
    pub origin: String,
    /// What to create when the link does not exist; `None` for a physical
    /// interface (or `lo`), which pharos cannot create.
    pub kind: Option<LinkKind>,
    /// Find the device by this MAC (lowercase, colons) and rename it.
    #[serde(default)]
    pub mac: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddrWant {
    pub iface: String,
    pub cidr: Cidr,
    pub origin: String,
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
        } else if let Some(b) = &i.bridge {
            Some(LinkKind::Bridge {
                members: b.members.iter().map(ToString::to_string).collect(),
            })
        } else if let Some(m) = &i.macvlan {
            Some(LinkKind::Macvlan {
                parent: m.parent.to_string(),
                mode: kernel_name(&m.mode),
            })
        } else {
            i.bond.as_ref().map(|b| LinkKind::Bond {
                mode: kernel_name(&b.mode),
                members: b.members.iter().map(ToString::to_string).collect(),
                miimon_ms: u32::try_from(b.miimon.as_millis()).unwrap_or(u32::MAX),
                primary: b.primary.as_ref().map(ToString::to_string),
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
                mac: i.match_.as_ref().map(|m| m.mac.to_string().to_lowercase()),
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
                mac: None,
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
                mac: None,
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

/// A config enum's name as the kernel spells it (the serde names are the
/// kernel's: `active-backup`, `802.3ad`, `bridge`...).
fn kernel_name(v: &impl serde::Serialize) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
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
    /// The device with the config's MAC gets the config's name (down first:
    /// the kernel renames only a link that is down; the next pass sets it up).
    Rename {
        index: u32,
        from: String,
        to: String,
        mac: String,
    },
    /// Make `name` a port of the bond or bridge `master`. A bond takes only
    /// a member that is down (and brings it up itself).
    Enslave {
        name: String,
        index: u32,
        master: String,
        master_index: u32,
        down_first: bool,
    },
    /// Bond options that differ from the kernel's.
    SetBond {
        name: String,
        index: u32,
        miimon_ms: Option<u32>,
        primary: Option<(String, u32)>,
    },
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

/// Pushes an Enslave step for each existing member not yet a port of `l`;
/// true when there was none. A member the box lacks is reported as missing.
fn enslave(
    w: &LinkWant,
    l: &LinkLive,
    members: &[String],
    down_first: bool,
    links: &[LinkWant],
    by_name: &BTreeMap<&str, &LinkLive>,
    steps: &mut Vec<LinkStep>,
) -> bool {
    let mut same = true;
    for m in members {
        match by_name.get(m.as_str()) {
            // Made (or renamed to its name) in this pass; enslaved in the next.
            None if links
                .iter()
                .any(|o| &o.name == m && (o.kind.is_some() || o.mac.is_some())) =>
            {
                same = false;
            }
            None => steps.push(LinkStep::Missing {
                name: m.clone(),
                origin: format!(
                    "{}.{}.members",
                    w.origin,
                    if down_first { "bond" } else { "bridge" }
                ),
            }),
            Some(ml) if ml.master != Some(l.index) => {
                steps.push(LinkStep::Enslave {
                    name: m.clone(),
                    index: ml.index,
                    master: w.name.clone(),
                    master_index: l.index,
                    down_first: down_first && ml.up,
                });
                same = false;
            }
            Some(_) => {}
        }
    }
    same
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
            let by_mac = w.mac.as_ref().and_then(|m| {
                live_links
                    .iter()
                    .find(|l| &l.mac == m && !links.iter().any(|o| o.name == l.name))
            });
            if let (Some(l), Some(mac)) = (by_mac, &w.mac) {
                steps.push(LinkStep::Rename {
                    index: l.index,
                    from: l.name.clone(),
                    to: w.name.clone(),
                    mac: mac.clone(),
                });
                continue;
            }
            let parent = match &w.kind {
                Some(LinkKind::Vlan { parent, .. }) => Some((parent, "vlan")),
                Some(LinkKind::Macvlan { parent, .. }) => Some((parent, "macvlan")),
                _ => None,
            };
            if let Some((p, table)) = parent
                && !by_name.contains_key(p.as_str())
            {
                if links
                    .iter()
                    .any(|o| &o.name == p && (o.kind.is_some() || o.mac.is_some()))
                {
                    continue; // its parent is made or renamed in this pass
                }
                steps.push(LinkStep::Missing {
                    name: p.clone(),
                    origin: format!("{}.{table}.parent", w.origin),
                });
                continue;
            }
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
        match &w.kind {
            Some(LinkKind::Bond {
                members,
                miimon_ms,
                primary,
                ..
            }) => {
                same &= enslave(w, l, members, true, links, &by_name, &mut steps);
                let live = l.bond.clone().unwrap_or_default();
                let miimon = (live.miimon_ms != *miimon_ms).then_some(*miimon_ms);
                let primary = primary
                    .as_ref()
                    .and_then(|p| by_name.get(p.as_str()))
                    .filter(|p| p.master == Some(l.index) && live.primary != Some(p.index))
                    .map(|p| (p.name.clone(), p.index));
                if miimon.is_some() || primary.is_some() {
                    steps.push(LinkStep::SetBond {
                        name: w.name.clone(),
                        index: l.index,
                        miimon_ms: miimon,
                        primary,
                    });
                    same = false;
                }
            }
            Some(LinkKind::Bridge { members }) => {
                same &= enslave(w, l, members, false, links, &by_name, &mut steps);
            }
            _ => {}
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
                ..LinkLive::default()
            },
            LinkLive {
                index: 2,
                name: "eth0".into(),
                up: false,
                carrier: false,
                mtu: 1500,
                mac: "52:54:00:00:00:01".into(),
                ..LinkLive::default()
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
            mac: None,
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
            mac: None,
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

    #[test]
    fn a_link_found_by_mac_is_renamed_and_its_dependents_wait_for_it() {
        let c = crate::config::check_text(
            "[interfaces.lan]\nmatch = { mac = \"52:54:00:00:00:01\" }\n[interfaces.v5]\nvlan = { parent = \"lan\", id = 5 }\n[interfaces.br0]\nbridge = { members = [\"lan\"] }\n",
            &crate::config::Selection::All,
        );
        let (links, _) = wanted(&c.configs[0].1);
        let steps = diff(&links, &[], &lo_eth0(), &[]);
        assert_eq!(
            steps,
            vec![
                LinkStep::Create(links[0].clone()),
                LinkStep::Rename {
                    index: 2,
                    from: "eth0".into(),
                    to: "lan".into(),
                    mac: "52:54:00:00:00:01".into()
                },
            ],
            "the VLAN on lan waits for the rename"
        );
        // Next pass: renamed, and the bridge exists: lan joins it (a bridge
        // takes an up port as it is).
        let mut live = lo_eth0();
        live[1].name = "lan".into();
        live[1].up = true;
        live.push(LinkLive {
            index: 3,
            name: "br0".into(),
            up: true,
            ..LinkLive::default()
        });
        let steps = diff(&links, &[], &live, &[]);
        assert!(steps.contains(&LinkStep::Enslave {
            name: "lan".into(),
            index: 2,
            master: "br0".into(),
            master_index: 3,
            down_first: false
        }));
        assert!(
            steps
                .iter()
                .any(|s| matches!(s, LinkStep::Create(w) if w.name == "v5"))
        );
    }

    #[test]
    fn bond_members_go_down_before_joining_and_options_are_set_in_place() {
        let c = crate::config::check_text(
            "[interfaces.bond0]\nbond = { mode = \"active-backup\", members = [\"eth0\", \"eth8\"], primary = \"eth0\", miimon = \"200ms\" }\n",
            &crate::config::Selection::All,
        );
        let (links, _) = wanted(&c.configs[0].1);
        let mut live = lo_eth0();
        live[1].up = true;
        live.push(LinkLive {
            index: 4,
            name: "bond0".into(),
            up: true,
            bond: Some(BondLive {
                miimon_ms: 100,
                primary: None,
            }),
            ..LinkLive::default()
        });
        let steps = diff(&links, &[], &live, &[]);
        assert_eq!(
            steps,
            vec![
                LinkStep::Enslave {
                    name: "eth0".into(),
                    index: 2,
                    master: "bond0".into(),
                    master_index: 4,
                    down_first: true
                },
                LinkStep::Missing {
                    name: "eth8".into(),
                    origin: "interfaces.bond0.bond.members".into()
                },
                LinkStep::SetBond {
                    name: "bond0".into(),
                    index: 4,
                    miimon_ms: Some(200),
                    primary: None
                },
            ],
            "the primary is set once it is a member"
        );
        live[1].master = Some(4);
        live[2].bond = Some(BondLive {
            miimon_ms: 200,
            primary: None,
        });
        let steps = diff(&links, &[], &live, &[]);
        assert!(steps.contains(&LinkStep::SetBond {
            name: "bond0".into(),
            index: 4,
            miimon_ms: None,
            primary: Some(("eth0".into(), 2))
        }));
    }
}

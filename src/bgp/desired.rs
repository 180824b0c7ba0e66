//! The `bgp` task's part of the desired state: the speaker (`[bgp]`) and
//! each announced VIP with the services it is announced for, worked out
//! once per config load.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use crate::config::Config;
use crate::config::types::Community;
use crate::runtime::changes::{Changes, Part};

/// `None` when the config has no `[bgp]`: BIRD is not run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BgpPart(pub Option<Speaker>);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Speaker {
    pub local_as: u32,
    pub router_id: Ipv4Addr,
    /// BIRD's config and control socket are written here.
    pub dir: PathBuf,
    pub neighbors: BTreeMap<String, Neighbor>,
    /// The announced VIPs.
    pub vips: BTreeMap<IpAddr, Vip>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Neighbor {
    pub address: IpAddr,
    pub remote_as: u32,
    pub password_file: Option<PathBuf>,
    pub bfd: bool,
}

/// One announced VIP: up while every service in `services` has its quorum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vip {
    /// The services that announce it, by name.
    pub services: Vec<String>,
    pub med: Option<u32>,
    pub communities: Vec<Community>,
    pub prepend: u8,
}

impl Vip {
    /// BIRD's name for the VIP's `static` protocol: `vip_10_0_0_1`,
    /// `vip6_2001_db8__1` (a BIRD symbol: letters, digits, `_`).
    pub fn protocol(ip: &IpAddr) -> String {
        match ip {
            IpAddr::V4(a) => format!("vip_{}", a.to_string().replace('.', "_")),
            IpAddr::V6(a) => format!("vip6_{}", a.to_string().replace(':', "_")),
        }
    }

    /// Whether it should be announced, given each service's quorum.
    pub fn wanted(&self, quorum: &BTreeMap<String, bool>) -> bool {
        self.services
            .iter()
            .all(|s| quorum.get(s).copied().unwrap_or(false))
    }
}

impl BgpPart {
    pub fn of(cfg: &Config) -> BgpPart {
        let Some(bgp) = &cfg.bgp else {
            return BgpPart(None);
        };
        let mut vips: BTreeMap<IpAddr, Vip> = BTreeMap::new();
        for (name, svc) in &cfg.services {
            let (Some(a), Some(ann)) = (&svc.address, &svc.announce) else {
                continue;
            };
            // Validation holds the services of one VIP to one set of
            // attributes; the first by name gives them.
            vips.entry(a.ip)
                .or_insert_with(|| Vip {
                    services: Vec::new(),
                    med: ann.med,
                    communities: ann.communities.clone(),
                    prepend: ann.prepend,
                })
                .services
                .push(name.clone());
        }
        BgpPart(Some(Speaker {
            local_as: bgp.local_as,
            router_id: bgp.router_id,
            dir: PathBuf::from(&bgp.bird_dir),
            neighbors: bgp
                .neighbors
                .iter()
                .map(|(name, n)| {
                    (
                        name.clone(),
                        Neighbor {
                            address: n.address,
                            remote_as: n.remote_as,
                            password_file: n.password_file.as_ref().map(PathBuf::from),
                            bfd: n.bfd,
                        },
                    )
                })
                .collect(),
            vips,
        }))
    }
}

impl Part for BgpPart {
    fn changes(&self, old: &Self) -> Changes {
        match (&old.0, &self.0) {
            (Some(o), Some(n)) => {
                let mut c = Changes::between(&o.neighbors, &n.neighbors)
                    + Changes::between(&o.vips, &n.vips);
                if (o.local_as, o.router_id, &o.dir) != (n.local_as, n.router_id, &n.dir) {
                    c.changed += 1;
                }
                c
            }
            (o, n) => Changes::of_option(o.as_ref(), n.as_ref()),
        }
    }
}

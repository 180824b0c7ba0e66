//! The check task's part of the desired state, worked out once per config
//! load: a check per checked real server (named by its [`ServerId`], as on
//! the health board and in the IPVS task), each stand-alone `[checks]`
//! table, and each service's quorum over its real servers.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use itertools::EitherOrBoth::{Both, Left, Right};
use itertools::Itertools;

use crate::config::Config;
use crate::config::model::Check;
use crate::config::resolve::{Resolved, ServerId};
use crate::runtime::changes::{Changes, Part};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Checks {
    /// Checked real servers.
    pub servers: BTreeMap<ServerId, ServerCheck>,
    /// Stand-alone `[checks]`, by name.
    pub standalone: BTreeMap<String, Check>,
    /// Each service's quorum, by service name; shared with the part of
    /// the load before when the service did not change.
    pub services: BTreeMap<String, Arc<Quorum>>,
}

/// What to probe for one real server, and where.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerCheck {
    pub ip: IpAddr,
    /// Its effective port; `None` for a port-less service.
    pub port: Option<u16>,
    pub check: Check,
}

/// A service's quorum over its real servers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quorum {
    pub quorum: u32,
    pub hysteresis: u32,
    /// Each checked real server and its weight.
    pub members: Vec<(ServerId, u32)>,
    /// The weight of the unchecked real servers: they always count as up,
    /// so they are one sum, not a member each (a service without checks,
    /// the common case at 10,000 services, keeps no list at all).
    pub unchecked: u64,
    pub sorry: Option<String>,
}

impl Checks {
    /// From a config whose real servers `servers` has resolved.
    pub fn of(cfg: &Config, servers: &[Resolved<'_>]) -> Self {
        Self::reusing(cfg, servers, None)
    }

    /// [`Checks::of`] that takes each service in `unchanged` (its checks and
    /// its quorum) from the part `before`: they depend only on the
    /// service's own table (see `IpvsPart::reusing`). `servers` needs to
    /// hold only the other services' real servers; `unchanged` names only
    /// services of `cfg`.
    pub fn reusing(
        cfg: &Config,
        servers: &[Resolved<'_>],
        before: Option<(&Checks, &crate::config::Names)>,
    ) -> Self {
        let mut c = Checks::default();
        if let Some((part, unchanged)) = before {
            c.servers = part
                .servers
                .iter()
                .filter(|(id, _)| unchanged.contains(&*id.service))
                .map(|(id, s)| (id.clone(), s.clone()))
                .collect();
        }
        // By service: its checked real servers, and the weight of the rest.
        type Members = (Vec<(ServerId, u32)>, u64);
        let mut members: BTreeMap<&str, Members> = BTreeMap::new();
        for r in servers {
            let (checked, unchecked) = members.entry(r.service).or_default();
            if r.check.is_some() {
                checked.push((r.id.clone(), r.weight));
            } else {
                *unchecked += u64::from(r.weight);
            }
            if let Some(check) = r.check {
                c.servers.insert(
                    r.id.clone(),
                    ServerCheck {
                        ip: r.ip,
                        port: r.port,
                        check: check.clone(),
                    },
                );
            }
        }
        // The part before's quorums, walked beside the config's services
        // (both in name order) rather than looked up by name; the map is
        // built from the sorted list in one go.
        let unchanged = before.map(|(_, u)| u);
        let was = before.into_iter().flat_map(|(part, _)| &part.services);
        let mut services = Vec::with_capacity(cfg.services.len());
        for e in cfg
            .services
            .iter()
            .merge_join_by(was, |(a, _), (b, _)| a.cmp(b))
        {
            let ((name, svc), was) = match e {
                Left(c) => (c, None),
                Both(c, (_, q)) => (c, Some(q)),
                Right(_) => continue,
            };
            if let Some(q) = was
                && unchanged.is_some_and(|u| u.contains(name))
            {
                services.push((name.clone(), Arc::clone(q)));
                continue;
            }
            let (mut checked, unchecked) = members.remove(name.as_str()).unwrap_or_default();
            // Grown a push at a time: up to twice the room it needs, kept
            // for the life of the config.
            checked.shrink_to_fit();
            services.push((
                name.clone(),
                Arc::new(Quorum {
                    quorum: svc.quorum.unwrap_or(1),
                    hysteresis: svc.hysteresis,
                    members: checked,
                    unchecked,
                    sorry: svc.sorry_server.as_ref().map(ToString::to_string),
                }),
            ));
        }
        c.services = services.into_iter().collect();
        c.standalone.clone_from(&cfg.checks);
        c
    }

    /// How many checks run: one per checked real server, one per
    /// stand-alone table (for the ready line and status).
    pub fn count(&self) -> usize {
        self.servers.len() + self.standalone.len()
    }
}

impl Part for Checks {
    fn changes(&self, old: &Self) -> Changes {
        Changes::between(&old.servers, &self.servers)
            + Changes::between(&old.standalone, &self.standalone)
            + Changes::between(&old.services, &self.services)
    }
}

//! The check task's part of the desired state, worked out once per config
//! load: a check per checked real server (named by its [`ServerId`], as on
//! the health board and in the IPVS task), each stand-alone `[checks]`
//! table, and each service's quorum over its real servers.

use std::collections::{BTreeMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;

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
    /// Each real server, its weight, and whether it is checked (an
    /// unchecked one always counts as up).
    pub members: Vec<(ServerId, u32, bool)>,
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
        before: Option<(&Checks, &HashSet<String>)>,
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
        let mut members: BTreeMap<&str, Vec<(ServerId, u32, bool)>> = BTreeMap::new();
        for r in servers {
            members
                .entry(r.service)
                .or_default()
                .push((r.id.clone(), r.weight, r.check.is_some()));
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
        for (name, svc) in &cfg.services {
            if let Some((part, unchanged)) = before
                && unchanged.contains(name)
                && let Some(q) = part.services.get(name)
            {
                c.services.insert(name.clone(), q.clone());
                continue;
            }
            c.services.insert(
                name.clone(),
                Arc::new(Quorum {
                    quorum: svc.quorum.unwrap_or(1),
                    hysteresis: svc.hysteresis,
                    members: members
                        .remove(name.as_str())
                        .map(|mut m| {
                            // Grown a push at a time: up to twice the room
                            // it needs, kept for the life of the config.
                            m.shrink_to_fit();
                            m
                        })
                        .unwrap_or_default(),
                    sorry: svc.sorry_server.as_ref().map(ToString::to_string),
                }),
            );
        }
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

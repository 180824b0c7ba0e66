//! What the config wants in the IPVS table: each `[services.NAME]` as the
//! kernel's service and destinations, its real servers resolved by
//! `config::resolve` (as the check task resolves them); then
//! [`with_health`] lowers to 0 (or leaves out) those the health board says
//! are down.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use itertools::EitherOrBoth::{Both, Left, Right};
use itertools::Itertools;

use super::model::{
    DestSpec, Forward, Proto, ServiceKey, ServiceSpec, Timeouts, TunType, flags, tun_flags,
};
use crate::check::board::HealthBoard;
use crate::config::Config;
use crate::config::model::{
    FailureAction, Forwarding, Protocol, SchedulerFlag, Service, ShutdownAction, TunnelChecksum,
    TunnelEncapKind,
};
use crate::config::resolve::{Resolved, ServerId};
use crate::config::types::Family;
use crate::runtime::changes::{Changes, Part};

/// The IPVS task's part of the desired state, worked out once per config
/// load.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IpvsPart {
    /// Each `[services.NAME]`, by name; shared with the part of the load
    /// before when the service did not change (see [`IpvsPart::reusing`]).
    pub services: BTreeMap<String, Arc<Wanted>>,
    /// `[ipvs]`: table ownership, timeouts, what shutdown does.
    pub settings: Settings,
    /// `[ipvs.sync]`: the connection-sync daemon.
    pub sync: Option<SyncDaemon>,
    /// The kernel modules this needs (`ip_vs` and the schedulers'), as
    /// `config::validate::required_modules` names them: the network plane
    /// loads them, the IPVS task waits for them.
    pub modules: BTreeSet<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Settings {
    /// Services pharos did not put in are removed.
    pub exclusive: bool,
    pub flush_on_shutdown: bool,
    pub timeouts: Option<Timeouts>,
}

/// The connection-sync daemon: backup always (ready to take over the
/// peer's connections), master while `follows` is VRRP master.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncDaemon {
    pub ifname: String,
    pub sync_id: u32,
    pub follows: String,
}

impl IpvsPart {
    /// From a config whose real servers `servers` has resolved (in the
    /// config's order) and which needs the kernel modules `modules`.
    pub fn of(cfg: &Config, servers: &[Resolved<'_>], modules: &[String]) -> Self {
        Self::reusing(cfg, servers, modules, None)
    }

    /// [`IpvsPart::of`] that takes each service in `unchanged` from the
    /// part `before` rather than working it out again: what a service
    /// wants depends only on its own table, so a service whose table is
    /// the same (`config::Memo` says which) wants the same. `servers`
    /// needs to hold only the other services' real servers.
    pub fn reusing(
        cfg: &Config,
        servers: &[Resolved<'_>],
        modules: &[String],
        before: Option<(&IpvsPart, &crate::config::Names)>,
    ) -> Self {
        let mut by_service: BTreeMap<&str, Vec<&Resolved<'_>>> = BTreeMap::new();
        for r in servers {
            by_service.entry(r.service).or_default().push(r);
        }
        // The part before's services, walked beside the config's (both
        // in name order) rather than looked up by name.
        let unchanged = before.map(|(_, u)| u);
        let was = before.into_iter().flat_map(|(part, _)| &part.services);
        let services = cfg
            .services
            .iter()
            .merge_join_by(was, |(a, _), (b, _)| a.cmp(b))
            .filter_map(|e| {
                let ((n, s), was) = match e {
                    Left(c) => (c, None),
                    Both(c, (_, w)) => (c, Some(w)),
                    Right(_) => return None,
                };
                if unchanged.is_some_and(|u| u.contains(n)) {
                    return was.map(|w| (n.clone(), Arc::clone(w)));
                }
                let rs = by_service.remove(n.as_str()).unwrap_or_default();
                Some((n.clone(), Arc::new(service_of(n, s, &rs)?)))
            })
            .collect();
        let secs = |d: Option<crate::config::types::Duration>| {
            d.map_or(0, |d| u32::try_from(d.0.as_secs()).unwrap_or(u32::MAX))
        };
        IpvsPart {
            services,
            settings: Settings {
                exclusive: cfg.ipvs.exclusive,
                flush_on_shutdown: cfg.ipvs.on_shutdown == ShutdownAction::Flush,
                timeouts: cfg.ipvs.timeouts.as_ref().map(|t| Timeouts {
                    tcp: secs(t.tcp),
                    tcp_fin: secs(t.tcpfin),
                    udp: secs(t.udp),
                }),
            },
            sync: cfg.ipvs.sync.as_ref().map(|s| SyncDaemon {
                ifname: s.interface.to_string(),
                sync_id: u32::from(s.sync_id),
                follows: s.follows.clone(),
            }),
            modules: modules
                .iter()
                .filter(|m| m.starts_with("ip_vs"))
                .cloned()
                .collect(),
        }
    }

    /// Nothing of IPVS: the task leaves the kernel alone.
    pub fn is_empty(&self) -> bool {
        self.services.is_empty()
            && self.sync.is_none()
            && !self.settings.exclusive
            && self.settings.timeouts.is_none()
    }
}

impl Part for IpvsPart {
    fn changes(&self, old: &Self) -> Changes {
        let settings = |p: &IpvsPart| (!p.is_empty()).then_some(p.settings);
        Changes::between(&old.services, &self.services)
            + Changes::of_option(settings(old).as_ref(), settings(self).as_ref())
            + Changes::of_option(old.sync.as_ref(), self.sync.as_ref())
    }
}

/// One virtual service as pharos wants it in the kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    /// The config's name for it (`services.NAME`), for messages.
    pub name: String,
    pub spec: ServiceSpec,
    pub dests: Vec<DestSpec>,
    /// Put in when no real server can take traffic.
    pub sorry: Option<DestSpec>,
    /// Real servers dropped from the config stay at weight 0 this long.
    pub drain: Option<Duration>,
    pub on_failure: FailureAction,
    /// For each of `dests`, its name on the health board, when it has a
    /// check; empty when none of them has one.
    pub checked: Vec<Option<ServerId>>,
}

fn forward(f: Forwarding) -> Forward {
    match f {
        Forwarding::Nat => Forward::Masq,
        Forwarding::Dr => Forward::Route,
        Forwarding::Tun => Forward::Tunnel,
    }
}

fn proto(p: Protocol) -> Proto {
    match p {
        Protocol::Tcp => Proto::Tcp,
        Protocol::Udp => Proto::Udp,
        Protocol::Sctp => Proto::Sctp,
    }
}

/// The kernel's form of one service, its real servers resolved already;
/// `None` for a service that has neither an address nor a mark
/// (validation rejects those).
fn service_of(name: &str, s: &Service, resolved: &[&Resolved<'_>]) -> Option<Wanted> {
    let key = match (&s.address, &s.fwmark) {
        (Some(ep), _) => ServiceKey::Addr {
            proto: proto(s.protocol),
            addr: ep.ip,
            port: ep.port.unwrap_or(0),
        },
        (None, Some(m)) => ServiceKey::Fwmark {
            mark: m.get(),
            v6: s.family == Some(Family::Ipv6),
        },
        (None, None) => return None,
    };
    let v6 = key.is_v6();
    let mut f = 0;
    if s.persistence.is_some() {
        f |= flags::PERSISTENT;
    }
    if s.one_packet {
        f |= flags::ONEPACKET;
    }
    for x in &s.scheduler_flags {
        f |= match x {
            SchedulerFlag::Fallback => flags::SCHED1,
            SchedulerFlag::Port => flags::SCHED2,
        };
    }
    let timeout = s.persistence.map_or(0, |d| {
        u32::try_from(d.0.as_secs().max(1)).unwrap_or(u32::MAX)
    });
    let spec = ServiceSpec {
        key,
        scheduler: s.scheduler.name().to_string(),
        flags: f,
        timeout,
        netmask: ServiceSpec::netmask_for(
            v6,
            s.persistence_netmask.unwrap_or(if v6 { 128 } else { 32 }),
        ),
        pe_name: None,
    };
    let (tun_type, tun_port, tun_fl) = match &s.tunnel {
        None => (TunType::Ipip, 0, tun_flags::NOCSUM),
        Some(t) => (
            match t.kind {
                TunnelEncapKind::Ipip => TunType::Ipip,
                TunnelEncapKind::Gue => TunType::Gue,
                TunnelEncapKind::Gre => TunType::Gre,
            },
            t.port.map_or(0, |p| p.get()),
            match t.checksum {
                TunnelChecksum::None => tun_flags::NOCSUM,
                TunnelChecksum::Checksum => tun_flags::CSUM,
                TunnelChecksum::Remote => tun_flags::REMCSUM,
            },
        ),
    };
    let port_of = |p: Option<u16>| p.or(s.address.and_then(|a| a.port)).unwrap_or(0);
    let dest = |ip, port, fwd: Forward, weight, u, l| {
        let tunnel = fwd == Forward::Tunnel;
        DestSpec {
            addr: ip,
            port,
            forward: fwd,
            weight,
            u_threshold: u,
            l_threshold: l,
            tun_type: if tunnel { tun_type } else { TunType::Ipip },
            tun_port: if tunnel { tun_port } else { 0 },
            tun_flags: if tunnel { tun_fl } else { 0 },
        }
    };
    // Each real server resolved once (config::resolve), for the check task
    // too: the same port, and the same board id for its health.
    let dests = resolved
        .iter()
        .map(|r| {
            dest(
                r.ip,
                r.port.unwrap_or(0),
                forward(r.forwarding),
                r.weight,
                r.upper_threshold,
                r.lower_threshold,
            )
        })
        .collect();
    // Empty when none is checked, the common case at scale: ten `None`s
    // a service are 400 bytes for nothing.
    let checked = if resolved.iter().any(|r| r.check.is_some()) {
        resolved
            .iter()
            .map(|r| r.check.map(|_| r.id.clone()))
            .collect()
    } else {
        Vec::new()
    };
    let sorry = s
        .sorry_server
        .map(|ep| dest(ep.ip, port_of(ep.port), forward(s.forwarding), 1, 0, 0));
    Some(Wanted {
        name: name.to_string(),
        spec,
        dests,
        sorry,
        drain: s.drain.map(|d| d.0),
        on_failure: s.on_failure,
        checked,
    })
}

/// The config's wants with the health checks applied: a checked real
/// server that is down, or not checked yet (never in service before its
/// first pass), gets weight 0 (`on_failure = "quiesce"`, keeping its
/// connections) or is left out (`"remove"`); a service below its quorum
/// has every real server at weight 0, so its sorry server stands in.
pub fn with_health<'a>(
    want: impl IntoIterator<Item = &'a Wanted>,
    board: &HealthBoard,
) -> Vec<Wanted> {
    want.into_iter().map(|w| health_of(w, board)).collect()
}

/// One service with the health checks applied (see [`with_health`]).
pub fn health_of(w: &Wanted, board: &HealthBoard) -> Wanted {
    let mut out = Wanted {
        name: w.name.clone(),
        spec: w.spec.clone(),
        dests: Vec::with_capacity(w.dests.len()),
        sorry: w.sorry.clone(),
        drain: w.drain,
        on_failure: w.on_failure,
        checked: Vec::with_capacity(w.checked.len()),
    };
    for (i, d) in healthy(w, board) {
        out.dests.push(d);
        if !w.checked.is_empty() {
            out.checked.push(w.checked.get(i).cloned().flatten());
        }
    }
    out
}

/// [`health_of`] of a shared service: the service itself, not a copy, when
/// the checks change nothing (every checked real server up, its quorum
/// held), as for most services most of the time. A whole-table pass of
/// 10,000 services then copies none of them (about 10 MiB at 10 real
/// servers each).
pub fn health_shared(w: &Arc<Wanted>, board: &HealthBoard) -> Arc<Wanted> {
    let all_up = w.checked.iter().all(|k| up(k.as_ref(), board));
    let whole = w.checked.is_empty() || w.checked.len() == w.dests.len();
    if !quorum_lost(w, board) && all_up && whole {
        w.clone()
    } else {
        Arc::new(health_of(w, board))
    }
}

/// Each of `w`'s real servers with the health checks applied, and its
/// index in `w.dests`: weight 0 when its check or the service's quorum
/// has failed, left out when its check has failed and `on_failure =
/// "remove"`.
fn healthy<'a>(
    w: &'a Wanted,
    board: &'a HealthBoard,
) -> impl Iterator<Item = (usize, DestSpec)> + 'a {
    let quorum_lost = quorum_lost(w, board);
    w.dests.iter().enumerate().filter_map(move |(i, d)| {
        let up = up(w.checked.get(i).and_then(Option::as_ref), board);
        if !up && w.on_failure == FailureAction::Remove {
            return None;
        }
        let mut d = d.clone();
        if !up || quorum_lost {
            d.weight = 0;
        }
        Some((i, d))
    })
}

/// Whether a real server counts as up: unchecked (`None`), or its check
/// up on the board (not checked yet is not up).
fn up(check: Option<&ServerId>, board: &HealthBoard) -> bool {
    check.is_none_or(|k| board.real_servers.get(k) == Some(&true))
}

/// Whether `w`'s service has lost its quorum (every real server then goes
/// to weight 0 and its sorry server stands in).
fn quorum_lost(w: &Wanted, board: &HealthBoard) -> bool {
    board.services.get(&w.name) == Some(&false)
}

/// What a service asks of the kernel, as one number (the tests hold
/// [`fingerprint_with`] to it).
#[cfg(test)]
pub fn fingerprint(w: &Wanted) -> u64 {
    digest(w, w.dests.iter().cloned())
}

/// What a service with health applied asks of the kernel, as one number:
/// a pass compares it with the last one it applied to find the services
/// that changed, and reconciles only those. Worked out without making
/// [`health_of`]`(w, board)` (no copy of the service), as a pass does it
/// for every service.
pub fn fingerprint_with(w: &Wanted, board: &HealthBoard) -> u64 {
    digest(w, healthy(w, board).map(|(_, d)| d))
}

fn digest(w: &Wanted, dests: impl Iterator<Item = DestSpec>) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    w.spec.hash(&mut h);
    let mut n = 0usize;
    for d in dests {
        d.hash(&mut h);
        n += 1;
    }
    (n, &w.sorry, w.drain).hash(&mut h);
    h.finish()
}

/// Every service of the config, in name order.
pub fn wanted(cfg: &Config) -> Vec<Wanted> {
    let servers: Vec<Resolved<'_>> = crate::config::resolve::all(cfg).collect();
    IpvsPart::of(cfg, &servers, &[])
        .services
        .into_values()
        .map(Arc::unwrap_or_clone)
        .collect()
}

/// For tests: the kernel's table after applying `ws`, as the kernel
/// reports it (with the HASHED flag set).
#[cfg(test)]
pub(crate) fn applied(ws: &[Wanted]) -> super::model::Table {
    use super::model::{DestLive, ServiceLive, ServiceSpec, Stats, Table, flags};
    Table {
        services: ws
            .iter()
            .map(|w| ServiceLive {
                spec: ServiceSpec {
                    flags: w.spec.flags | flags::HASHED,
                    ..w.spec.clone()
                },
                stats: Stats::default(),
                dests: w
                    .dests
                    .iter()
                    .map(|d| DestLive {
                        spec: d.clone(),
                        active_conns: 0,
                        inact_conns: 0,
                        persist_conns: 0,
                        stats: Stats::default(),
                    })
                    .collect(),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Wanted {
        let c = crate::config::check_text(text, &crate::config::Selection::All);
        assert!(c.diagnostics.is_empty(), "{:?}", c.diagnostics);
        wanted(&c.configs[0].1).remove(0)
    }

    #[test]
    fn a_service_becomes_the_kernels_service_and_destinations() {
        let w = one(
            "[system]\nip_forward = true\n[services.web]\naddress = \"10.0.0.1:80\"\nforwarding = \"dr\"\nscheduler = \"sh\"\nscheduler_flags = [\"fallback\", \"port\"]\npersistence = \"5m\"\npersistence_netmask = 24\n[services.web.real_servers.\"10.0.0.2\"]\nweight = 3\n[services.web.real_servers.\"10.0.0.3:8080\"]\nforwarding = \"nat\"\nupper_threshold = 100\n",
        );
        assert_eq!(
            w.spec.key,
            ServiceKey::Addr {
                proto: Proto::Tcp,
                addr: "10.0.0.1".parse().unwrap(),
                port: 80
            }
        );
        assert_eq!(w.spec.scheduler, "sh");
        assert_eq!(
            w.spec.flags,
            flags::PERSISTENT | flags::SCHED1 | flags::SCHED2
        );
        assert_eq!(w.spec.timeout, 300);
        assert_eq!(w.spec.netmask.to_ne_bytes(), [255, 255, 255, 0]);
        assert_eq!(w.dests.len(), 2);
        assert_eq!(
            (w.dests[0].port, w.dests[0].forward, w.dests[0].weight),
            (80, Forward::Route, 3)
        );
        assert_eq!(
            (w.dests[1].port, w.dests[1].forward, w.dests[1].u_threshold),
            (8080, Forward::Masq, 100)
        );
    }

    #[test]
    fn a_service_without_checks_keeps_no_board_names_and_is_shared_as_it_is() {
        let w = Arc::new(one(
            "[services.web]\naddress = \"10.0.0.1:80\"\nforwarding = \"dr\"\n[services.web.real_servers]\n\"10.0.0.2\" = {}\n\"10.0.0.3\" = { weight = 2 }\n",
        ));
        assert!(w.checked.is_empty());
        assert_eq!(w.dests.len(), 2);
        let board = HealthBoard::default();
        let h = health_shared(&w, &board);
        assert!(Arc::ptr_eq(&h, &w), "no copy");
        assert_eq!(*h, health_of(&w, &board));
        assert_eq!(fingerprint(&h), fingerprint_with(&w, &board));
    }

    #[test]
    fn health_quiesces_or_removes_failed_servers_and_quorum_brings_the_sorry_server() {
        let text = "[services.web]\naddress = \"10.0.0.1:80\"\nforwarding = \"dr\"\nsorry_server = \"10.0.0.9:80\"\ncheck = { type = \"tcp\" }\n[services.web.real_servers.\"10.0.0.2\"]\nweight = 3\n[services.web.real_servers.\"10.0.0.3\"]\ncheck = { type = \"none\" }\n";
        let w = one(text);
        let id = ServerId {
            service: "web".into(),
            server: "10.0.0.2".parse().unwrap(),
        };
        assert_eq!(w.checked, vec![Some(id.clone()), None]);
        // The pass's fingerprint without the copy is that of the copy, and
        // tells each of the states below apart.
        let mut seen = std::collections::HashSet::new();
        let mut same_print = |w: &Wanted, board: &HealthBoard| {
            let fp = fingerprint_with(w, board);
            assert_eq!(fp, fingerprint(&health_of(w, board)));
            // Shared when nothing changes it, and always what a copy is.
            assert_eq!(
                *health_shared(&Arc::new(w.clone()), board),
                health_of(w, board)
            );
            assert!(seen.insert(fp), "two states with one fingerprint");
        };
        let mut board = HealthBoard::default();
        same_print(&w, &board);
        // Not checked yet: weight 0, the unchecked one keeps its weight.
        let h = with_health(std::slice::from_ref(&w), &board);
        assert_eq!(
            h[0].dests.iter().map(|d| d.weight).collect::<Vec<_>>(),
            vec![0, 1]
        );
        board.real_servers.insert(id.clone(), true);
        same_print(&w, &board);
        let h = with_health(std::slice::from_ref(&w), &board);
        assert_eq!(
            h[0].dests.iter().map(|d| d.weight).collect::<Vec<_>>(),
            vec![3, 1]
        );
        let mut removing = w.clone();
        removing.on_failure = FailureAction::Remove;
        board.real_servers.insert(id, false);
        same_print(&removing, &board);
        let h = with_health(std::slice::from_ref(&removing), &board);
        assert_eq!(h[0].dests.len(), 1, "a failed server is left out");
        board.services.insert("web".into(), false);
        same_print(&w, &board);
        let h = with_health(std::slice::from_ref(&w), &board);
        assert!(
            h[0].dests.iter().all(|d| d.weight == 0),
            "below quorum: all at 0, sorry stands in"
        );
    }

    #[test]
    fn fwmark_services_tunnels_and_sorry_servers() {
        let w = one(
            "[services.m]\nfwmark = 7\nfamily = \"ipv6\"\nforwarding = \"tun\"\ntunnel = { type = \"gue\", port = 5555, checksum = \"remote\" }\nsorry_server = \"[2001:db8::9]:80\"\n[services.m.real_servers.\"[2001:db8::2]:80\"]\n",
        );
        assert_eq!(w.spec.key, ServiceKey::Fwmark { mark: 7, v6: true });
        assert_eq!(w.spec.netmask, 128);
        let d = &w.dests[0];
        assert_eq!(
            (d.tun_type, d.tun_port, d.tun_flags),
            (TunType::Gue, 5555, tun_flags::REMCSUM)
        );
        assert_eq!(w.sorry.as_ref().unwrap().port, 80);
    }
}

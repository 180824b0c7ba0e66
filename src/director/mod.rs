//! The director: the desired state of a config, and pharos's subsystems
//! wired into the runtime. It sits above both, so that arrows point down:
//! the runtime (`crate::runtime`) knows the subsystems only as supervised
//! tasks, and the subsystems know of each other only the contracts their
//! owners publish.
//!
//! ```text
//!   config ─► Desired::of (once per load) ─► net: NetPart    (modules, links, addresses, routes, sysctls)
//!             resolve::all (once)          ├► vrrp: VrrpPart  (instances, sync groups)
//!                                          ├► checks: Checks  (per ServerId, stand-alone, quorums)
//!                                          ├► ipvs: IpvsPart  (services with dests per ServerId, settings, sync)
//!                                          ├► clock: ClockPart ([system] ntp)
//!                                          └► bgp: BgpPart    ([bgp], services' announce)
//! ```
//!
//! The supervisor hands each task its part as an `Arc`, at start and on a
//! reload that changes it; the task diffs by name where it keeps state.
//!
//! ```text
//!   net    links, addresses, routes, sysctls, modules (the kernel's network state)
//!          ──modules (net::Modules)──► ipvs (waits for ip_vs and its schedulers)
//!   check  ──board (check::board)──► vrrp (tracking), ipvs (weights, sorry server)
//!   check  ──board──► bgp (a VIP is announced while its services have quorum)
//!   vrrp   ──roles (vrrp::Roles)───► ipvs (the sync daemon's role)
//!   ipvs   services and real servers
//! ```

pub mod page;
pub mod plan;

use std::sync::Arc;

use crate::bgp::desired::BgpPart;
use crate::bgp::task::BgpTask;
use crate::check::desired::Checks;
use crate::check::task::CheckTask;
use crate::clock::task::{ClockPart, ClockTask};
use crate::config::Config;
use crate::config::resolve::{self, Resolved};
use crate::ipvs::desired::IpvsPart;
use crate::ipvs::task::IpvsTask;
use crate::net::desired::NetPart;
use crate::net::task::NetPlane;
use crate::runtime::supervisor::Supervisor;
use crate::runtime::{Load, Wiring};
use crate::vrrp::task::{VrrpPart, VrrpTask};

/// The desired state of one config load, worked out once: each
/// subsystem's typed part. Every real server is resolved once
/// (`config::resolve`), for the checks and IPVS alike, under the
/// [`resolve::ServerId`] that the health board also uses. On reload the
/// supervisor compares each part with the running one and hands a task its
/// new part only when it differs.
#[derive(Debug, Clone, PartialEq)]
pub struct Desired {
    pub net: Arc<NetPart>,
    pub vrrp: Arc<VrrpPart>,
    pub checks: Arc<Checks>,
    pub ipvs: Arc<IpvsPart>,
    pub clock: Arc<ClockPart>,
    pub bgp: Arc<BgpPart>,
}

impl Desired {
    pub fn of(cfg: &Config) -> Desired {
        Self::reusing(cfg, None)
    }

    /// [`Desired::of`] that takes what each service in `unchanged` wants
    /// (its IPVS service, checks and quorum) from `before`, the desired
    /// state of the load whose `config::Memo` said they are unchanged; a
    /// reload of 10,000 services that changes 100 works out those 100.
    pub fn reusing(cfg: &Config, before: Option<(&Desired, &crate::config::Names)>) -> Desired {
        let servers: Vec<Resolved<'_>> = match before {
            Some((_, unchanged)) => cfg
                .services
                .iter()
                .filter(|(n, _)| !unchanged.contains(*n))
                .flat_map(|(n, s)| resolve::real_servers(n, s))
                .collect(),
            None => resolve::all(cfg).collect(),
        };
        let modules = crate::config::validate::required_modules(cfg);
        Desired {
            net: Arc::new(NetPart::of(cfg, &modules)),
            vrrp: Arc::new(VrrpPart::of(cfg)),
            checks: Arc::new(Checks::reusing(
                cfg,
                &servers,
                before.map(|(d, u)| (&*d.checks, u)),
            )),
            ipvs: Arc::new(IpvsPart::reusing(
                cfg,
                &servers,
                &modules,
                before.map(|(d, u)| (&*d.ipvs, u)),
            )),
            clock: Arc::new(ClockPart::of(cfg.system.ntp.as_ref())),
            bgp: Arc::new(BgpPart::of(cfg)),
        }
    }
}

/// What `pharos run` and PID 1 hand the runtime.
pub const WIRING: Wiring<Desired> = Wiring {
    desired: Desired::reusing,
    add: add_tasks,
    checks: |d| d.checks.count(),
    plan: plan::plan,
    page: page::render,
};

fn add_tasks(sup: &mut Supervisor<Load<Desired>>, load: &Load<Desired>) {
    let board = crate::check::board::board();
    let roles = crate::vrrp::roles();
    let modules = crate::net::modules();
    sup.add(
        NetPlane {
            modules: modules.clone(),
        },
        |l| l.desired.net.clone(),
        load,
    );
    sup.add(
        VrrpTask {
            health: board.clone(),
            roles: roles.clone(),
        },
        |l| l.desired.vrrp.clone(),
        load,
    );
    sup.add(
        BgpTask {
            health: board.clone(),
            metrics: Default::default(),
        },
        |l| l.desired.bgp.clone(),
        load,
    );
    sup.add(
        CheckTask {
            board: board.clone(),
        },
        |l| l.desired.checks.clone(),
        load,
    );
    sup.add(
        IpvsTask {
            health: board,
            roles,
            modules,
        },
        |l| l.desired.ipvs.clone(),
        load,
    );
    sup.add(ClockTask, |l| l.desired.clock.clone(), load);
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_default_config_runs_a_check_per_checked_real_server() {
        let text = include_str!("../../configs/default.toml");
        let c = crate::config::check_text(text, &crate::config::Selection::Node("lvs1".into()));
        let (_, cfg) = c.configs.first().expect("the default config is valid");
        assert_eq!((super::WIRING.checks)(&super::Desired::of(cfg)), 2);
        let mut more = cfg.clone();
        more.checks.insert(
            "ping".into(),
            *cfg.services["web"].check.clone().expect("web is checked"),
        );
        assert_eq!((super::WIRING.checks)(&super::Desired::of(&more)), 3);
    }

    #[test]
    fn a_quorum_lists_the_checked_real_servers_and_sums_the_unchecked() {
        let text = "[services.web]\naddress = \"10.0.0.1:80\"\nforwarding = \"dr\"\nquorum = 4\n[services.web.real_servers]\n\"10.0.0.2:80\" = { weight = 3, check = { type = \"tcp\" } }\n\"10.0.0.3:80\" = { weight = 2 }\n\"10.0.0.4:80\" = { weight = 5 }\n";
        let c = crate::config::check_text(text, &crate::config::Selection::All);
        let (_, cfg) = c.configs.first().expect("valid");
        let d = super::Desired::of(cfg);
        let q = &d.checks.services["web"];
        assert_eq!(
            q.members
                .iter()
                .map(|(id, w)| (id.to_string(), *w))
                .collect::<Vec<_>>(),
            vec![("web/10.0.0.2:80".to_string(), 3)]
        );
        assert_eq!((q.quorum, q.unchecked), (4, 7));
    }

    fn desired(text: &str) -> super::Desired {
        let c = crate::config::check_text(text, &crate::config::Selection::Node("lvs1".into()));
        let (_, cfg) = c.configs.first().expect("valid");
        super::Desired::of(cfg)
    }

    #[test]
    fn a_reload_that_changes_one_weight_leaves_vrrp_and_the_probes_and_sends_one_netlink_edit() {
        use crate::check::board::HealthBoard;
        use crate::ipvs::desired::{applied, with_health};
        use crate::ipvs::reconcile::{Op, Reconciler};
        use crate::runtime::changes::Part;

        let text = include_str!("../../configs/default.toml");
        let one = r#""192.168.199.12:80" = {}"#;
        assert!(text.contains(one));
        let old = desired(text);
        let new = desired(&text.replacen(one, r#""192.168.199.12:80" = { weight = 3 }"#, 1));
        // The supervisor hands a task its part only when it differs: the
        // network plane and every VRRP instance are left be; of the checks,
        // only the service's quorum (which counts weights) hears of it.
        assert_eq!(old.net, new.net);
        assert_eq!(old.vrrp, new.vrrp);
        assert_eq!(old.checks.servers, new.checks.servers);
        assert_eq!(old.checks.standalone, new.checks.standalone);
        assert_eq!(new.checks.changes(&old.checks).summary(), "+0 ~1 -0");
        assert_eq!(new.ipvs.changes(&old.ipvs).summary(), "+0 ~1 -0");
        // Against the table the old state left in the kernel, every check
        // passing: one edit of one real server.
        let mut board = HealthBoard::default();
        for id in old.checks.servers.keys() {
            board.real_servers.insert(id.clone(), true);
        }
        for name in old.checks.services.keys() {
            board.services.insert(name.clone(), true);
        }
        let live = applied(&with_health(
            old.ipvs.services.values().map(|w| &**w),
            &board,
        ));
        let want = with_health(new.ipvs.services.values().map(|w| &**w), &board);
        let plan = Reconciler::new().step(std::time::Instant::now(), &want, &live, false);
        assert_eq!(plan.ops.len(), 1, "{:?}", plan.ops);
        assert!(
            matches!(&plan.ops[0], Op::EditDest(_, d)
                if d.weight == 3 && d.addr.to_string() == "192.168.199.12"),
            "{:?}",
            plan.ops
        );
    }

    /// A file of `n` services big enough to be checked the streamed way;
    /// `edit` changes the text of service `i`.
    fn many(n: usize, edit: impl Fn(usize, String) -> Option<String>) -> String {
        let mut text = String::from(
            "[checks.ping]\ntype = \"tcp\"\naddress = \"10.9.0.1\"\nport = 80\n[system]\nip_forward = true\n",
        );
        for i in 0..n {
            let mut svc = format!(
                "[services.s{i}]\naddress = \"10.0.{}.{}:80\"\nforwarding = \"nat\"\nquorum = 2\nsorry_server = \"10.8.0.1:80\"\n[services.s{i}.real_servers]\n",
                i / 250,
                i % 250 + 1
            );
            for d in 1..=4 {
                svc.push_str(&format!(
                    "\"10.250.{}.{d}:80\" = {{ weight = 1 }}\n",
                    i % 200
                ));
            }
            if i % 3 == 0 {
                svc.push_str(&format!(
                    "[services.s{i}.check]\ntype = \"tcp\"\ninterval = \"2s\"\n"
                ));
            }
            if let Some(svc) = edit(i, svc) {
                text.push_str(&svc);
            }
        }
        assert!(
            text.len() >= crate::config::chunked::MIN_LEN,
            "{}",
            text.len()
        );
        text
    }

    #[test]
    fn a_reload_takes_the_unchanged_services_as_they_were_and_gets_what_a_fresh_load_gets() {
        use crate::config::{load_for_box, load_for_box_reusing, nodes::Facts};
        let facts = Facts::default();
        let before = many(1000, |_, s| Some(s));
        let mut first = load_for_box_reusing(&before, &facts, None).expect("valid");
        let memo = first.memo.take().expect("checked the streamed way");
        assert_eq!(memo.len(), 1000);
        let old = super::Desired::of(&first.config);
        let after = many(1010, |i, s| match i {
            // A weight, a check, a service gone, one moved, ten new.
            5 => Some(s.replacen("weight = 1", "weight = 7", 1)),
            9 => Some(s.replace("\"2s\"", "\"3s\"")),
            10 => None,
            11 => Some(s.replace("10.0.0.12:80", "10.0.3.251:80")),
            _ => Some(s),
        });
        let second = load_for_box_reusing(&after, &facts, Some(&memo)).expect("valid");
        assert_eq!(second.unchanged.len(), 1000 - 4);
        let new = super::Desired::reusing(&second.config, Some((&old, &second.unchanged)));
        let fresh = load_for_box(&after, &facts).expect("valid");
        assert_eq!(second.config, fresh.config);
        assert_eq!(new, super::Desired::of(&fresh.config));
        // Shared, not copied: the supervisor and the tasks see them as the
        // same at a pointer's cost.
        assert!(std::sync::Arc::ptr_eq(
            &old.ipvs.services["s500"],
            &new.ipvs.services["s500"]
        ));
        use crate::runtime::changes::Part;
        assert_eq!(new.ipvs.changes(&old.ipvs).summary(), "+10 ~2 -1");
    }
}

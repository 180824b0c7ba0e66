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
//!                                          └► ipvs: IpvsPart  (services with dests per ServerId, settings, sync)
//! ```
//!
//! The supervisor hands each task its part as an `Arc`, at start and on a
//! reload that changes it; the task diffs by name where it keeps state.
//!
//! ```text
//!   net    links, addresses, routes, sysctls, modules (the kernel's network state)
//!          ──modules (net::Modules)──► ipvs (waits for ip_vs and its schedulers)
//!   check  ──board (check::board)──► vrrp (tracking), ipvs (weights, sorry server)
//!   vrrp   ──roles (vrrp::Roles)───► ipvs (the sync daemon's role)
//!   ipvs   services and real servers
//! ```

pub mod page;
pub mod plan;

use std::sync::Arc;

use crate::check::desired::Checks;
use crate::check::task::CheckTask;
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
}

impl Desired {
    pub fn of(cfg: &Config) -> Desired {
        let servers: Vec<Resolved<'_>> = resolve::all(cfg).collect();
        let modules = crate::config::validate::required_modules(cfg);
        Desired {
            net: Arc::new(NetPart::of(cfg, &modules)),
            vrrp: Arc::new(VrrpPart::of(cfg)),
            checks: Arc::new(Checks::of(cfg, &servers)),
            ipvs: Arc::new(IpvsPart::of(cfg, &servers, &modules)),
        }
    }
}

/// What `pharos run` and PID 1 hand the runtime.
pub const WIRING: Wiring<Desired> = Wiring {
    desired: Desired::of,
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
            cfg.services["web"].check.clone().expect("web is checked"),
        );
        assert_eq!((super::WIRING.checks)(&super::Desired::of(&more)), 3);
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
        let live = applied(&with_health(old.ipvs.services.values(), &board));
        let want = with_health(new.ipvs.services.values(), &board);
        let plan = Reconciler::new().step(std::time::Instant::now(), &want, &live, false);
        assert_eq!(plan.ops.len(), 1, "{:?}", plan.ops);
        assert!(
            matches!(&plan.ops[0], Op::EditDest(_, d)
                if d.weight == 3 && d.addr.to_string() == "192.168.199.12"),
            "{:?}",
            plan.ops
        );
    }
}

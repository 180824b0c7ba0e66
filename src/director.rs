//! The director: pharos's subsystems wired into the runtime. It sits above
//! both, so that arrows point down: the runtime (`crate::runtime`) knows the
//! subsystems only as supervised tasks, and the subsystems know of each
//! other only the contracts their owners publish.
//!
//! ```text
//!   net    links, addresses, routes, sysctls, modules (the kernel's network state)
//!          ──modules (net::Modules)──► ipvs (waits for ip_vs and its schedulers)
//!   check  ──board (check::board)──► vrrp (tracking), ipvs (weights, sorry server)
//!   vrrp   ──roles (vrrp::Roles)───► ipvs (the sync daemon's role)
//!   ipvs   services and real servers
//! ```

use crate::check::task::CheckTask;
use crate::config::Config;
use crate::ipvs::task::IpvsTask;
use crate::net::task::NetPlane;
use crate::runtime::Wiring;
use crate::runtime::supervisor::Supervisor;
use crate::vrrp::task::VrrpTask;

/// What `pharos run` and PID 1 hand the runtime.
pub const WIRING: Wiring = Wiring {
    add: add_tasks,
    checks: crate::check::task::count,
};

fn add_tasks(sup: &mut Supervisor, cfg: &Config) {
    let board = crate::check::board::board();
    let roles = crate::vrrp::roles();
    let modules = crate::net::modules();
    sup.add(
        NetPlane {
            modules: modules.clone(),
        },
        cfg,
    );
    sup.add(
        VrrpTask {
            health: board.clone(),
            roles: roles.clone(),
        },
        cfg,
    );
    sup.add(
        CheckTask {
            board: board.clone(),
        },
        cfg,
    );
    sup.add(
        IpvsTask {
            health: board,
            roles,
            modules,
        },
        cfg,
    );
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_default_config_runs_a_check_per_checked_real_server() {
        let text = include_str!("../configs/default.toml");
        let c = crate::config::check_text(text, &crate::config::Selection::Node("lvs1".into()));
        let (_, cfg) = c.configs.first().expect("the default config is valid");
        assert_eq!((super::WIRING.checks)(cfg), 2);
        let mut more = cfg.clone();
        more.checks.insert(
            "ping".into(),
            cfg.services["web"].check.clone().expect("web is checked"),
        );
        assert_eq!((super::WIRING.checks)(&more), 3);
    }
}

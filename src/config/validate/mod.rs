//! Semantic checks of a typed config: ranges that depend on other settings,
//! references between tables, duplicates, and rules of LVS and VRRP that a
//! type alone cannot hold. Every problem is collected; nothing stops early.
//!
//! The typed config has no spans, so each check names the path of what it
//! complains about and the spans are looked up in the merged tree. A table
//! that already failed typing is skipped here, so a broken value is not
//! reported a second time in another guise.
//!
//! This file owns the order the rule families run in (diagnostics keep it
//! where spans tie). The rules live one family a file:
//!
//! - [`ctx`]: the shared state and the reporting helpers.
//! - [`system`]: rules of `[system]`.
//! - [`network`]: `[interfaces]`, `[tunnels]`, `[routes]`.
//! - [`realserver`]: rules of `[realserver]`.
//! - [`vrrp`]: `[vrrp]`, `[sync_groups]`.
//! - [`services`]: `[ipvs]`, `[services]` (LVS).
//! - [`checks`]: health checks, stand-alone or on services.
//! - [`bgp`]: `[bgp]` and the services' `announce`.
//! - [`command`]: commands pharos runs.
//! - [`logging`]: `[logging]`'s syslog collectors.
//! - [`modules`]: the kernel modules a config needs (not a rule).
//!
//! Talks to: `config::mod` (which calls [`validate`] after typing) and
//! `net` (which reads [`required_modules`]).

mod bgp;
mod checks;
mod command;
mod ctx;
mod logging;
mod modules;
mod network;
mod realserver;
mod services;
mod system;
mod vrrp;

#[cfg(test)]
mod testing;
#[cfg(test)]
mod tests;

pub use ctx::Ctx;
pub use modules::required_modules;
pub(crate) use services::not_a_host;

use crate::config::model::Config;
use crate::path;

/// Runs every check over `cfg`.
pub fn validate(cfg: &Config, ctx: &mut Ctx<'_>) {
    system::system(cfg, ctx);
    network::links(cfg, ctx);
    realserver::realserver(cfg, ctx);
    vrrp::vrrp(cfg, ctx);
    services::ipvs(cfg, ctx);
    services::services(cfg, ctx);
    for (name, check) in &cfg.checks {
        let p = path!["checks", name];
        if ctx.is_broken(&p) {
            continue;
        }
        checks::check(check, &|| p.clone(), true, ctx);
    }
    bgp::bgp(cfg, ctx);
    logging::remote(cfg, ctx);
    if let Some(listen) = &cfg.metrics.listen
        && listen.port.is_none()
    {
        ctx.error(
            &path!["metrics", "listen"],
            "the metrics endpoint needs a port",
            format!("write it like `{}:9412`", listen),
        );
    }
}

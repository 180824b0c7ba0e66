//! `pharos plan`: what applying a config would change on this machine, as
//! a diff against the live kernel. Nothing is written.

use crate::config::Config;
use crate::config::validate::required_modules;

use super::link::{self, LinkStep};
use super::route::{self, RouteStep};
use super::sysctl;
use crate::kernel::modules;

/// The plan as text, one line per item: `+` to add, `-` to remove, `~` to
/// change, `=` already so, `!` cannot be done (with why).
pub fn render(
    cfg: &Config,
    live: impl Fn(&sysctl::Key) -> Option<String>,
    module: impl Fn(&str) -> modules::Presence,
    kernel: Result<crate::kernel::rtnl::Live, String>,
) -> (String, Counts) {
    let mut out = String::new();
    let mut n = Counts::default();
    out.push_str("kernel modules\n");
    let mods = required_modules(cfg);
    if mods.is_empty() {
        out.push_str("  (none needed)\n");
    }
    for m in mods {
        match module(&m) {
            modules::Presence::Loaded => {
                n.same += 1;
                out.push_str(&format!("  = {m} (loaded)\n"));
            }
            modules::Presence::Builtin => {
                n.same += 1;
                out.push_str(&format!("  = {m} (built into the kernel)\n"));
            }
            modules::Presence::Available => {
                n.change += 1;
                out.push_str(&format!("  + load {m}\n"));
            }
            modules::Presence::Missing(why) => {
                n.impossible += 1;
                out.push_str(&format!("  ! load {m}: {why}\n"));
            }
        }
    }
    let mut routes_section: Option<Vec<RouteStep>> = None;
    out.push_str("links and addresses\n");
    let (want_links, want_addrs) = link::wanted(cfg);
    match kernel {
        Err(e) => {
            n.impossible += 1;
            out.push_str(&format!("  ! cannot read the kernel's links: {e}\n"));
        }
        Ok(crate::kernel::rtnl::Live {
            links: live_links,
            addrs: live_addrs,
            routes: live_routes,
        }) => {
            let oif = |dev: &str| live_links.iter().find(|l| l.name == dev).map(|l| l.index);
            routes_section = Some(route::diff(&route::wanted(cfg), &live_routes, oif));
            let steps = link::diff(&want_links, &want_addrs, &live_links, &live_addrs);
            if steps.is_empty() {
                out.push_str("  (none managed)\n");
            }
            for st in steps {
                let line = match st {
                    LinkStep::Create(w) => {
                        n.change += 1;
                        format!(
                            "  + create link {} ({:?}; from `{}`)",
                            w.name,
                            w.kind.as_ref().expect("only links with a kind are created"),
                            w.origin
                        )
                    }
                    LinkStep::Rename { from, to, mac, .. } => {
                        n.change += 1;
                        format!("  ~ link {from} ({mac}): rename to {to}")
                    }
                    LinkStep::Enslave { name, master, .. } => {
                        n.change += 1;
                        format!("  ~ link {name}: join {master}")
                    }
                    LinkStep::SetBond {
                        name,
                        miimon_ms,
                        primary,
                        ..
                    } => {
                        n.change += 1;
                        let mut what = Vec::new();
                        if let Some(m) = miimon_ms {
                            what.push(format!("miimon {m}ms"));
                        }
                        if let Some((p, _)) = primary {
                            what.push(format!("primary {p}"));
                        }
                        format!("  ~ bond {name}: {}", what.join(", "))
                    }
                    LinkStep::Matches(what) => {
                        n.same += 1;
                        format!("  = {what}")
                    }
                    LinkStep::Missing { name, origin } => {
                        n.impossible += 1;
                        format!("  ! link {name}: this box has no such interface (from `{origin}`)")
                    }
                    LinkStep::SetMtu {
                        name, mtu, from, ..
                    } => {
                        n.change += 1;
                        format!("  ~ link {name}: mtu {mtu} (now {from})")
                    }
                    LinkStep::SetUp { name, up, .. } => {
                        n.change += 1;
                        format!(
                            "  ~ link {name}: {}",
                            if up { "up (now down)" } else { "down (now up)" }
                        )
                    }
                    LinkStep::DelAddr { name, cidr, .. } => {
                        n.change += 1;
                        format!(
                            "  - address {cidr} on {name} (pharos added it; the config no longer has it)"
                        )
                    }
                    LinkStep::AddAddr {
                        name, cidr, origin, ..
                    } => {
                        n.change += 1;
                        format!("  + address {cidr} on {name} (from `{origin}`)")
                    }
                };
                out.push_str(&line);
                out.push('\n');
            }
        }
    }
    if let Some(steps) = routes_section {
        out.push_str("routes\n");
        if steps.is_empty() {
            out.push_str("  (none set)\n");
        }
        for st in steps {
            let via = |w: &route::RouteWant| w.via.map(|v| format!(" via {v}")).unwrap_or_default();
            let line = match st {
                RouteStep::Matches(w) => {
                    n.same += 1;
                    format!("  = route {}{}", w.dst, via(&w))
                }
                RouteStep::Add(w) => {
                    n.change += 1;
                    format!("  + route {}{} (from `{}`)", w.dst, via(&w), w.origin)
                }
                RouteStep::Replace(w) => {
                    n.change += 1;
                    format!(
                        "  ~ route {}{} (pharos's route there points elsewhere; from `{}`)",
                        w.dst,
                        via(&w),
                        w.origin
                    )
                }
                RouteStep::Conflict(w) => {
                    n.impossible += 1;
                    format!(
                        "  ! route {}{}: another route, not pharos's, is there (from `{}`)",
                        w.dst,
                        via(&w),
                        w.origin
                    )
                }
                RouteStep::Del(l) => {
                    n.change += 1;
                    format!(
                        "  - route {} (pharos added it; the config no longer has it)",
                        l.dst
                    )
                }
            };
            out.push_str(&line);
            out.push('\n');
        }
    }
    out.push_str("sysctls\n");
    let steps = sysctl::diff(&sysctl::wanted(cfg), live);
    if steps.is_empty() {
        out.push_str("  (none set)\n");
    }
    for s in steps {
        match s {
            sysctl::Step::Matches(w) => {
                n.same += 1;
                out.push_str(&format!("  = {} = {}\n", w.key, w.value));
            }
            sysctl::Step::Set { want, from } => {
                n.change += 1;
                out.push_str(&format!(
                    "  ~ {} = {} (now {from}; from `{}`)\n",
                    want.key, want.value, want.origin
                ));
            }
            sysctl::Step::Missing(w) => {
                n.impossible += 1;
                out.push_str(&format!(
                    "  ! {} = {}: the kernel has no such sysctl (from `{}`)\n",
                    w.key, w.value, w.origin
                ));
            }
        }
    }
    out.push_str(&format!(
        "{} to change, {} already so, {} impossible\n",
        n.change, n.same, n.impossible
    ));
    (out, n)
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub change: usize,
    pub same: usize,
    pub impossible: usize,
}

/// The plan against this machine.
pub fn against_live(cfg: &Config) -> (String, Counts) {
    let kernel = crate::kernel::rtnl::Rtnl::connect().and_then(|r| r.snapshot());
    render(cfg, sysctl::read, modules::presence, kernel)
}

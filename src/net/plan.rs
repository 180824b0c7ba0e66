//! `pharos plan`: what applying a config would change on this machine, as
//! a diff against the live kernel. Nothing is written.

use crate::config::Config;
use crate::config::validate::required_modules;

use super::link::{self, AddrLive, LinkLive, LinkStep};
use super::{modules, sysctl};

/// The plan as text, one line per item: `+` to add, `-` to remove, `~` to
/// change, `=` already so, `!` cannot be done (with why).
pub fn render(
    cfg: &Config,
    live: impl Fn(&sysctl::Key) -> Option<String>,
    loaded: impl Fn(&str) -> bool,
    links: Result<(Vec<LinkLive>, Vec<AddrLive>), String>,
) -> (String, Counts) {
    let mut out = String::new();
    let mut n = Counts::default();
    out.push_str("kernel modules\n");
    let mods = required_modules(cfg);
    if mods.is_empty() {
        out.push_str("  (none needed)\n");
    }
    for m in mods {
        if loaded(&m) {
            n.same += 1;
            out.push_str(&format!("  = {m} (loaded)\n"));
        } else {
            n.change += 1;
            out.push_str(&format!("  + load {m}\n"));
        }
    }
    out.push_str("links and addresses\n");
    let (want_links, want_addrs) = link::wanted(cfg);
    match links {
        Err(e) => {
            n.impossible += 1;
            out.push_str(&format!("  ! cannot read the kernel's links: {e}\n"));
        }
        Ok((live_links, live_addrs)) => {
            let steps = link::diff(&want_links, &want_addrs, &live_links, &live_addrs);
            if steps.is_empty() {
                out.push_str("  (none managed)\n");
            }
            for st in steps {
                let line = match st {
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
    let links = super::rtnl::Rtnl::connect().and_then(|r| Ok((r.links()?, r.addrs()?)));
    render(cfg, sysctl::read, modules::is_loaded, links)
}

//! The `net` task: applies the network plane on start, only the difference
//! on reload, and compares with the live kernel again whenever rtnetlink
//! reports a link or address change (and every 30 s, for sysctls), so that
//! what is changed behind pharos's back is put back, and said so.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::desired::NetPart;
use super::link::{self, AddrWant, LinkStep, LinkWant};
use super::route::{self, RouteStep, RouteWant};
use super::status::{self, KernelState, NetStatus};
use super::sysctl::{self, Applied, Want};
use crate::kernel::modules;
use crate::runtime::status::Event;
use crate::runtime::supervisor::{Shared, Subsystem, TaskCtx, TaskFuture};

/// The `net` task; `modules` is where it says which of the config's kernel
/// modules are in.
pub struct NetPlane {
    pub modules: super::Modules,
}

const RECHECK: Duration = Duration::from_secs(30);

impl Subsystem for NetPlane {
    type Part = NetPart;

    fn name(&self) -> &'static str {
        "net"
    }

    fn shutdown_rank(&self) -> u8 {
        40
    }

    fn run(self: Arc<Self>, mut ctx: TaskCtx<NetPart>) -> TaskFuture {
        Box::pin(async move {
            let mut current = Arc::new(NetPart::default());
            let state = Arc::new(State {
                // One rtnetlink connection for the task's life, not one per pass.
                rtnl: crate::kernel::rtnl::Rtnl::connect()?,
                carriers: Mutex::default(),
                module_errors: Mutex::default(),
                modules: self.modules.clone(),
            });
            let mut recheck = tokio::time::interval(RECHECK);
            recheck.tick().await;
            let (kick_tx, mut kick) = tokio::sync::mpsc::channel(1);
            if let Err(e) = crate::kernel::rtnl::monitor(kick_tx) {
                // Not fatal: the periodic re-check still catches drift.
                ctx.shared.emit(Event::new("net", "rtnetlink", e));
            }
            loop {
                // On an update, what it had before: only what is new is
                // loaded and set. A re-check goes over everything.
                let before: Option<Arc<NetPart>> = tokio::select! {
                    () = ctx.cancel.cancelled() => return Ok(()),
                    u = ctx.updates.recv() => match u {
                        Some(part) => Some(std::mem::replace(&mut current, part)),
                        None => return Ok(()),
                    },
                    _ = recheck.tick() => None,
                    Some(()) = kick.recv() => {
                        // Let a burst of changes (ours included) settle.
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        while kick.try_recv().is_ok() {}
                        None
                    }
                };
                let shared = ctx.shared.clone();
                let part = current.clone();
                let state = state.clone();
                tokio::task::spawn_blocking(move || {
                    apply(&part, before.as_deref(), &shared, &state)
                })
                .await
                .map_err(|e| format!("applying the network plane: {e}"))?;
                ctx.ready.mark("net");
            }
        })
    }
}

/// What one run of the task keeps between passes.
struct State {
    rtnl: crate::kernel::rtnl::Rtnl,
    /// Carrier of each managed link as last seen, to report changes.
    carriers: Mutex<BTreeMap<String, bool>>,
    modules: super::Modules,
    /// Why each module failed to load, as last said: a re-check tries
    /// again, but says so only when the reason changes.
    module_errors: Mutex<BTreeMap<String, String>>,
}

/// Applies `part` (blocking: /proc/sys, finit_module, rtnetlink): the
/// modules and sysctls new since `before`, or all of them; links, addresses
/// and routes always whole against the kernel. Then publishes the state.
fn apply(part: &NetPart, before: Option<&NetPart>, shared: &Shared, state: &State) {
    let (module_names, wants): (Vec<&str>, Vec<&Want>) = match before {
        Some(old) => part.news(old),
        None => (
            part.modules.iter().map(String::as_str).collect(),
            part.sysctls.values().collect(),
        ),
    };
    for (name, r) in modules::load_all(module_names) {
        let mut said = state
            .module_errors
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        match r {
            Err(e) if said.get(&name) != Some(&e) => {
                shared.emit(
                    Event::new("net", &name, format!("cannot load module {name}: {e}")).error(),
                );
                said.insert(name, e);
            }
            Err(_) => {}
            Ok(()) => {
                said.remove(&name);
            }
        }
    }
    // Which of the config's modules are in the kernel now (loaded or built
    // in): once a pass, for the tasks that wait on them and for status.
    let present: std::collections::BTreeSet<String> = part
        .modules
        .iter()
        .filter(|m| {
            matches!(
                modules::presence(m),
                modules::Presence::Loaded | modules::Presence::Builtin
            )
        })
        .cloned()
        .collect();
    state.modules.send_if_modified(|m| {
        let changed = *m != present;
        if changed {
            m.clone_from(&present);
        }
        changed
    });
    // Links and addresses: always the whole desired set against the live
    // kernel (an address pharos owns is only removed when no longer wanted
    // anywhere), before the sysctls that name interfaces.
    let kernel = apply_links(part, shared, state);
    let wants: Vec<Want> = wants.into_iter().cloned().collect();
    for a in sysctl::apply(&sysctl::diff(&wants, sysctl::read)) {
        match a {
            Applied::Unchanged(_) => {}
            Applied::Changed { key, from, to } => {
                shared.emit(Event::new(
                    "net",
                    &key.to_string(),
                    format!("set {key} = {to} (was {from})"),
                ));
            }
            Applied::Failed { key, why, .. } => {
                shared.emit(Event::new("net", &key.to_string(), why).error());
            }
        }
    }
    let sysctls: Vec<status::Sysctl> = part
        .sysctls
        .iter()
        .map(|(key, v)| {
            let live = sysctl::read(key);
            let state = match &live {
                None => "missing",
                Some(l) if l.split_whitespace().eq(v.value.split_whitespace()) => "ok",
                Some(_) => "differs",
            };
            status::Sysctl {
                key: key.to_string(),
                want: v.value.clone(),
                live,
                state: state.to_string(),
                from: v.origin.to_string(),
            }
        })
        .collect();
    let modules: Vec<status::Module> = part
        .modules
        .iter()
        .map(|m| status::Module {
            module: m.to_string(),
            loaded: present.contains(m),
        })
        .collect();
    let (links, addresses, routes) = match kernel {
        Some(k) => (Some(k.links), Some(k.addresses), Some(k.routes)),
        None => (None, None, None),
    };
    let section = NetStatus {
        modules,
        sysctls,
        links,
        addresses,
        routes,
    };
    shared.publish(
        "net",
        serde_json::to_value(&section).expect("the net status serializes"),
    );
}

/// Applies links, addresses and routes; returns their state as read back
/// (`links`, `addresses`, `routes` for the status section).
fn apply_links(part: &NetPart, shared: &Shared, state: &State) -> Option<KernelState> {
    let rtnl = &state.rtnl;
    let links: Vec<LinkWant> = part.links.values().cloned().collect();
    let addrs: Vec<AddrWant> = part.addrs.values().cloned().collect();

    let live = rtnl.links().and_then(|l| Ok((l, rtnl.addrs()?)));
    let (live_links, live_addrs) = match live {
        Ok(x) => x,
        Err(e) => {
            shared.emit(Event::new("net", "rtnetlink", e));
            return None;
        }
    };
    report_carrier(&links, &live_links, shared, &state.carriers);
    for step in link::diff(&links, &addrs, &live_links, &live_addrs) {
        apply_link_step(rtnl, &step, shared);
    }
    // Routes after addresses: a gateway must be reachable to be accepted.
    let routes: Vec<RouteWant> = part.routes.values().cloned().collect();
    let (live_routes, links_now) = match rtnl.routes().and_then(|r| Ok((r, rtnl.links()?))) {
        Ok(x) => x,
        Err(e) => {
            shared.emit(Event::new("net", "rtnetlink", e));
            return None;
        }
    };
    let oif = |dev: &str| links_now.iter().find(|l| l.name == dev).map(|l| l.index);
    for step in route::diff(&routes, &live_routes, oif) {
        let (subject, result, done) = match &step {
            RouteStep::Matches(_) => continue,
            RouteStep::Add(w) | RouteStep::Replace(w) => {
                let replace = matches!(step, RouteStep::Replace(_));
                let dev_index = w.dev.as_deref().and_then(oif);
                if w.dev.is_some() && dev_index.is_none() {
                    let dev = w.dev.as_deref().unwrap_or_default();
                    shared.emit(Event::new(
                        "net",
                        &w.dst.to_string(),
                        format!("route {} (from `{}`): no interface {dev}", w.dst, w.origin),
                    ));
                    continue;
                }
                let via = w.via.map(|v| format!(" via {v}")).unwrap_or_default();
                let verb = if replace { "replaced" } else { "added" };
                (
                    w.dst.to_string(),
                    rtnl.put_route(w, dev_index, replace),
                    format!("{verb} route {}{via} (from `{}`)", w.dst, w.origin),
                )
            }
            RouteStep::Conflict(w) => {
                let msg = format!(
                    "route {} (from `{}`) is already in the kernel, pointing elsewhere, and is not pharos's: left as it is; remove it to let pharos set it",
                    w.dst, w.origin
                );
                (w.dst.to_string(), Err(msg), String::new())
            }
            RouteStep::Del(l) => (
                l.dst.to_string(),
                rtnl.del_route(l),
                format!("removed route {} (no longer in the config)", l.dst),
            ),
        };
        match result {
            Ok(()) => shared.emit(Event::new("net", &subject, done)),
            Err(e) => {
                shared.emit(Event::new("net", &subject, e).error());
            }
        }
    }
    match rtnl.snapshot() {
        Ok(now) => Some(kernel_state(&links, &addrs, &routes, &now)),
        Err(e) => {
            shared.emit(Event::new("net", "rtnetlink", e));
            None
        }
    }
}

fn apply_link_step(rtnl: &crate::kernel::rtnl::Rtnl, step: &LinkStep, shared: &Shared) {
    {
        let (subject, result, done) = match step {
            LinkStep::Create(w) => {
                let result = match &w.kind {
                    // The ipip module makes tunl0 when it loads.
                    Some(link::LinkKind::Fallback) => modules::load_all(["ipip"]).remove(0).1,
                    Some(kind) => rtnl.create_link(&w.name, kind),
                    None => Ok(()),
                };
                (
                    w.name.clone(),
                    result,
                    format!("created link {} (from `{}`)", w.name, w.origin),
                )
            }
            LinkStep::Matches(_) => return,
            LinkStep::Rename {
                index,
                from,
                to,
                mac,
            } => (
                to.clone(),
                rtnl.rename(from, *index, to),
                format!("renamed {from} ({mac}) to {to}"),
            ),
            LinkStep::Enslave {
                name,
                index,
                master,
                master_index,
                down_first,
            } => {
                let result = if *down_first {
                    rtnl.set_link(name, *index, Some(false), None)
                } else {
                    Ok(())
                }
                .and_then(|()| rtnl.set_master(name, *index, master, *master_index));
                (name.clone(), result, format!("added {name} to {master}"))
            }
            LinkStep::SetBond {
                name,
                index,
                miimon_ms,
                primary,
            } => {
                let mut what = Vec::new();
                if let Some(m) = miimon_ms {
                    what.push(format!("miimon {m}ms"));
                }
                if let Some((p, _)) = primary {
                    what.push(format!("primary {p}"));
                }
                (
                    name.clone(),
                    rtnl.set_bond(name, *index, *miimon_ms, primary.as_ref().map(|p| p.1)),
                    format!("set bond {name} {}", what.join(", ")),
                )
            }
            LinkStep::Missing { name, origin } => (
                name.clone(),
                Err(format!(
                    "link {name} (from `{origin}`) does not exist on this box"
                )),
                String::new(),
            ),
            LinkStep::SetMtu {
                name,
                index,
                mtu,
                from,
            } => (
                name.clone(),
                rtnl.set_link(name, *index, None, Some(*mtu)),
                format!("set {name} mtu {mtu} (was {from})"),
            ),
            LinkStep::SetUp { name, index, up } => (
                name.clone(),
                rtnl.set_link(name, *index, Some(*up), None),
                format!("set {name} {}", if *up { "up" } else { "down" }),
            ),
            LinkStep::DelAddr { name, index, cidr } => (
                name.clone(),
                rtnl.del_addr(name, *index, cidr).map_err(String::from),
                format!("removed {cidr} from {name} (no longer in the config)"),
            ),
            LinkStep::AddAddr {
                name,
                index,
                cidr,
                origin,
            } => (
                name.clone(),
                rtnl.add_addr(name, *index, cidr).map_err(String::from),
                format!("added {cidr} to {name} (from `{origin}`)"),
            ),
        };
        match result {
            Ok(()) => shared.emit(Event::new("net", &subject, done)),
            Err(e) => {
                shared.emit(Event::new("net", &subject, e).error());
            }
        }
    }
}

/// Each managed link, address and route against the kernel as it is now:
/// `ok`, `missing`, or what still differs.
fn kernel_state(
    links: &[LinkWant],
    addrs: &[AddrWant],
    routes: &[RouteWant],
    now: &crate::kernel::rtnl::Live,
) -> KernelState {
    let steps = link::diff(links, addrs, &now.links, &now.addrs);
    let links_out: Vec<status::Link> = links
        .iter()
        .map(|w| {
            let live = now.links.iter().find(|l| l.name == w.name);
            let differs: Vec<String> = steps
                .iter()
                .filter_map(|s| match s {
                    LinkStep::SetMtu { name, mtu, .. } if *name == w.name => {
                        Some(format!("mtu {mtu} wanted"))
                    }
                    LinkStep::SetUp { name, up, .. } if *name == w.name => {
                        Some(if *up { "down" } else { "up" }.to_string())
                    }
                    LinkStep::Enslave { name, master, .. } if *master == w.name => {
                        Some(format!("{name} not a member"))
                    }
                    LinkStep::SetBond { name, .. } if *name == w.name => {
                        Some("bond options differ".into())
                    }
                    _ => None,
                })
                .collect();
            let state = match live {
                None => "missing".to_string(),
                Some(_) if differs.is_empty() => "ok".to_string(),
                Some(_) => differs.join(", "),
            };
            status::Link {
                name: w.name.clone(),
                up: live.map(|l| l.up),
                carrier: live.map(|l| l.carrier),
                mtu: live.map(|l| l.mtu),
                state,
                from: w.origin.clone(),
            }
        })
        .collect();
    let addrs_out: Vec<status::Address> = addrs
        .iter()
        .map(|a| {
            let ok = steps.iter().any(|s| {
                matches!(s, LinkStep::Matches(m) if *m == format!("address {} on {}", a.cidr, a.iface))
            });
            status::Address {
                address: a.cidr.to_string(),
                link: a.iface.clone(),
                state: if ok { "ok" } else { "missing" }.to_string(),
                from: a.origin.clone(),
            }
        })
        .collect();
    let oif = |dev: &str| now.links.iter().find(|l| l.name == dev).map(|l| l.index);
    let routes_out: Vec<status::Route> = route::diff(routes, &now.routes, oif)
        .into_iter()
        .filter_map(|s| {
            let (w, state) = match s {
                RouteStep::Matches(w) => (w, "ok"),
                RouteStep::Add(w) => (w, "missing"),
                RouteStep::Replace(w) => (w, "differs"),
                RouteStep::Conflict(w) => (w, "conflict"),
                RouteStep::Del(_) => return None,
            };
            let via = w.via.map(|v| v.to_string()).or(w.dev.clone());
            Some(status::Route {
                route: w.dst.to_string(),
                via,
                metric: w.metric,
                state: state.to_string(),
                from: w.origin,
            })
        })
        .collect();
    KernelState {
        links: links_out,
        addresses: addrs_out,
        routes: routes_out,
    }
}

/// Reports carrier changes of the managed links: a link going down is what
/// VRRP tracking reacts to. The first sighting sets the baseline.
fn report_carrier(
    links: &[LinkWant],
    live: &[link::LinkLive],
    shared: &Shared,
    carriers: &Mutex<BTreeMap<String, bool>>,
) {
    let mut seen = carriers.lock().unwrap_or_else(|e| e.into_inner());
    for w in links {
        let Some(l) = live.iter().find(|l| l.name == w.name) else {
            continue;
        };
        match seen.insert(w.name.clone(), l.carrier) {
            Some(before) if before != l.carrier => {
                let msg = if l.carrier {
                    format!("link {} has carrier again", w.name)
                } else {
                    format!("link {} lost carrier", w.name)
                };
                let event = Event::new("link", &w.name, msg);
                shared.emit(if l.carrier { event } else { event.warn() });
            }
            _ => {}
        }
    }
}

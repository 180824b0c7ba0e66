//! The `vrrp` task: the IO shell around the per-instance state machines.
//!
//! ```text
//!  rx socket per (interface, family) ──reader task──┐
//!  rtnetlink monitor (links, addresses) ──kick──────┤
//!  supervisor updates (start, reload diffs) ────────┼─► loop ─► fsm.handle(now, input)
//!  the earliest fsm deadline (sleep_until) ─────────┤            │ actions, in order
//!  notify hook reports ─────────────────────────────┘            ▼
//!      tx socket (adverts) · rtnetlink (VIPs, marked VIP_PROTO) · AF_PACKET (GARP/NA)
//!      notifier (hooks, in order) · roles (IPVS sync daemon)
//!      status section "vrrp" · events · metrics pharos_vrrp_*
//! ```
//!
//! One task owns every instance, so sync groups are applied between them
//! without locks. An instance whose interface or source address is missing
//! waits in Fault and is retried on every link change.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::fsm::{self, Action, Group, Heard, Input, Instance, Params, State, TrackedState, Why};
use super::garp;
use super::metrics::{VrrpMetrics, metrics};
use super::notify::{Hook, Notifier, Report};
use super::packet::{self, Advert, Auth, Drop, Expect};
use super::socket::{self, Datagram, Rx, Tx};
use super::status;
use super::vmac::{ParentSysctls, Vmac};
use crate::config::Config;
use crate::config::model::{AuthKind, SyncGroup, VrrpInstance, VrrpVersion};
use crate::config::types::{Cidr, Family, MacAddr};
use crate::kernel::objects::{AddrLive, LinkLive, VIP_PROTO};
use crate::kernel::rtnl::Rtnl;
use crate::runtime::changes::{Changes, Part};
use crate::runtime::status::Event;
use crate::runtime::supervisor::{
    Shared, Subsystem, TaskCtx, TaskFuture, now_std as now, sleep_until,
};

/// The VRRP task's part of the desired state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VrrpPart {
    /// `[vrrp.NAME]`, by name.
    pub instances: BTreeMap<String, VrrpInstance>,
    /// `[sync_groups.NAME]`, by name.
    pub groups: BTreeMap<String, SyncGroup>,
}

impl VrrpPart {
    pub fn of(cfg: &Config) -> Self {
        VrrpPart {
            instances: cfg.vrrp.clone().into_iter().collect(),
            groups: cfg.sync_groups.clone().into_iter().collect(),
        }
    }
}

impl Part for VrrpPart {
    fn changes(&self, old: &Self) -> Changes {
        Changes::between(&old.instances, &self.instances)
            + Changes::between(&old.groups, &self.groups)
    }
}

/// The `vrrp` task: follows the checks' `health` (tracking) and publishes
/// each instance's role in `roles` (the IPVS sync daemon follows it).
pub struct VrrpTask {
    pub health: crate::check::board::Board,
    pub roles: super::Roles,
}

/// Links and addresses are read again this often even without a kick.
const RECHECK: Duration = Duration::from_secs(10);

/// How long a new instance waits for its interface and source address
/// before it starts in Fault: at boot the network plane adds them a moment
/// after VRRP starts, and that is no fault.
const START_WAIT: Duration = Duration::from_secs(10);
/// How long shutdown waits for the stop hooks.
const HOOKS_BOUND: Duration = Duration::from_secs(5);
/// How stale the status's advert counters may get: states, priorities and
/// masters are published as they change, the counters at most this often.
/// (Publishing after every advert rebuilt the status of every instance:
/// a backup of 255 instances used 30% of a core doing it, and read its
/// adverts up to 250 ms late.)
const COUNTERS_EVERY: Duration = Duration::from_secs(1);

impl Subsystem for VrrpTask {
    type Part = VrrpPart;

    fn name(&self) -> &'static str {
        "vrrp"
    }

    /// First to stop: the VIPs go to the peer while IPVS still forwards.
    fn shutdown_rank(&self) -> u8 {
        10
    }

    fn run(self: Arc<Self>, mut ctx: TaskCtx<VrrpPart>) -> TaskFuture {
        Box::pin(async move {
            let (pkt_tx, mut pkt_rx) = mpsc::channel(1024);
            let (rep_tx, mut reports) = mpsc::unbounded_channel();
            let (kick_tx, mut kick) = mpsc::channel(1);
            if let Err(e) = crate::kernel::rtnl::monitor(kick_tx) {
                ctx.shared.emit(Event::new("vrrp", "rtnetlink", e));
            }
            let mut r = Runner {
                rtnl: Rtnl::connect()?,
                shared: ctx.shared.clone(),
                health: self.health.clone(),
                roles: self.roles.clone(),
                insts: BTreeMap::new(),
                groups: BTreeMap::new(),
                rx: BTreeMap::new(),
                pkt_tx,
                notifier: Notifier::spawn(rep_tx),
                links: Vec::new(),
                addrs: Vec::new(),
                metrics: metrics(&ctx.shared),
                garp_tx: BTreeMap::new(),
                parents: ParentSysctls::default(),
                published: None,
            };
            let mut recheck = tokio::time::interval(RECHECK);
            recheck.tick().await;
            let mut health = self.health.subscribe();
            let mut ready = false;
            loop {
                let deadline = r.insts.values().filter_map(|i| i.fsm.deadline()).min();
                let start_by = r
                    .insts
                    .values()
                    .filter(|i| !i.started)
                    .map(|i| i.start_by)
                    .min();
                tokio::select! {
                    () = ctx.cancel.cancelled() => {
                        r.shutdown().await;
                        return Ok(());
                    }
                    u = ctx.updates.recv() => match u {
                        Some(part) => {
                            r.apply(&part, !ready);
                            r.published = None;
                            if !ready {
                                ready = true;
                                ctx.ready.mark("vrrp");
                            }
                        }
                        None => {
                            r.shutdown().await;
                            return Ok(());
                        }
                    },
                    Some((key, got)) = pkt_rx.recv() => r.on_packet(&key, got),
                    () = sleep_until(deadline) => r.tick(),
                    () = sleep_until(start_by) => r.start_all(),
                    Some(()) = kick.recv() => r.resync(),
                    _ = recheck.tick() => r.resync(),
                    Some(rep) = reports.recv() => r.on_report(rep),
                    Ok(()) = health.changed() => r.retrack(),
                }
                r.publish_if_changed();
            }
        })
    }
}

type RxKey = (String, Family);

/// What one instance has besides its state machine.
struct Inst {
    cfg: VrrpInstance,
    fsm: Instance,
    family: Family,
    vips: Vec<Cidr>,
    vip_ifname: String,
    auth: Auth,
    /// `virtual_mac = true`: the macvlan the VIPs go on and adverts leave
    /// from (`vip_ifname` is its name).
    vmac: Option<Vmac>,
    /// Resolved once the interface and source address exist.
    tx: Option<Tx>,
    /// Why it cannot run yet (missing interface or address), if so.
    blocked: Option<String>,
    started: bool,
    /// The task restarted and found this instance's VIPs, marked as ours,
    /// all in place: it starts with [`Input::Resume`], not `Start`.
    resume: bool,
    /// Until then a blocked instance waits in Init (see [`START_WAIT`]).
    start_by: std::time::Instant,
    /// The effective priority last told in an event: a re-resolve in Init
    /// resets the machine's to the configured one for a moment.
    told_priority: u8,
    /// Tracked objects by description (`interface eth1`).
    tracked: BTreeMap<String, TrackedState>,
    /// The interface the adverts use is down: Fault (keepalived does the same).
    link_fault: Option<String>,
    sent: u64,
    received: u64,
    dropped: BTreeMap<&'static str, u64>,
    transitions: u64,
    since: SystemTime,
    /// The peer's address list differs from ours: logged once per change.
    mismatch: Option<Vec<IpAddr>>,
    last_error: Option<String>,
}

struct Runner {
    health: crate::check::board::Board,
    roles: super::Roles,
    rtnl: Rtnl,
    shared: Shared,
    insts: BTreeMap<String, Inst>,
    groups: BTreeMap<String, SyncGroup>,
    rx: BTreeMap<RxKey, JoinHandle<()>>,
    pkt_tx: mpsc::Sender<(RxKey, std::io::Result<Result<Datagram, Drop>>)>,
    notifier: Notifier,
    links: Vec<LinkLive>,
    addrs: Vec<AddrLive>,
    metrics: &'static VrrpMetrics,
    /// The gratuitous ARP / NA socket of each interface, by index.
    garp_tx: BTreeMap<u32, Arc<garp::Sender>>,
    /// The parents' sysctls that virtual MACs raised, to put back.
    parents: ParentSysctls,
    /// When the status was last published, and the [`Runner::signature`]
    /// of what it showed.
    published: Option<(std::time::Instant, u64)>,
}

fn interval_cs(d: Duration) -> u16 {
    u16::try_from(d.as_millis() / 10).unwrap_or(4095).min(4095)
}

impl Runner {
    /// Makes the instances and groups those of `part`, by name: only an
    /// instance that differs is touched (the others keep their state and
    /// timers). On the task's start (`first`), VIPs left by an earlier
    /// run that no instance holds go.
    fn apply(&mut self, part: &VrrpPart, first: bool) {
        self.groups.clone_from(&part.groups);
        let gone: Vec<String> = self
            .insts
            .keys()
            .filter(|n| !part.instances.contains_key(*n))
            .cloned()
            .collect();
        for name in gone {
            self.remove(&name);
        }
        for (name, cfg) in &part.instances {
            if self.insts.get(name).is_none_or(|i| i.cfg != *cfg) {
                self.put(name, cfg);
            }
        }
        if first {
            self.find_resumable();
            self.release_stale_vips();
            self.release_stale_vmacs();
        }
        self.start_all();
    }

    /// On the task's first start: an instance whose VIPs are all on its
    /// interface, marked as ours, was master when the task before this one
    /// died (a panic; a crash of the process). It resumes as master rather
    /// than giving the VIP up for Master_Down_Interval. At boot there are
    /// none: a clean stop removes them.
    fn find_resumable(&mut self) {
        self.read_kernel();
        for i in self.insts.values_mut() {
            let Some(l) = self.links.iter().find(|l| l.name == i.vip_ifname) else {
                continue;
            };
            i.resume = !i.vips.is_empty()
                && i.vips.iter().all(|c| {
                    self.addrs.iter().any(|a| {
                        a.index == l.index && a.cidr.addr == c.addr && a.proto == VIP_PROTO
                    })
                });
        }
    }

    /// VIPs marked as ours that no instance holds (left by a crash or a
    /// removed instance) are removed: a backup must not answer for them.
    fn release_stale_vips(&mut self) {
        self.read_kernel();
        let held: BTreeSet<(String, Cidr)> = self
            .insts
            .values()
            .filter(|i| i.fsm.state() == State::Master || i.resume)
            .flat_map(|i| i.vips.iter().map(|c| (i.vip_ifname.clone(), *c)))
            .collect();
        for a in self.addrs.clone() {
            if a.proto != VIP_PROTO {
                continue;
            }
            let Some(l) = self.links.iter().find(|l| l.index == a.index) else {
                continue;
            };
            if !held.contains(&(l.name.clone(), a.cidr)) {
                match self.rtnl.del_addr(&l.name, a.index, &a.cidr) {
                    Ok(()) => self.shared.emit(Event::new(
                        "vrrp",
                        &l.name,
                        format!(
                            "removed stale virtual address {} (no instance is master for it)",
                            a.cidr
                        ),
                    )),
                    Err(e) => self.shared.emit(Event::new("vrrp", &l.name, e)),
                }
            }
        }
    }

    /// Virtual MAC macvlans an earlier run made (their alias says so)
    /// that no instance wants now (removed from the config while pharos
    /// was down, or left by a crash): deleted, and their parent's ARP
    /// sysctls put back when no wanted one shares it.
    fn release_stale_vmacs(&mut self) {
        let wanted: BTreeMap<String, String> = self
            .insts
            .values()
            .filter_map(|i| i.vmac.as_ref().map(|v| (v.name.clone(), v.parent.clone())))
            .collect();
        for l in self.links.clone() {
            if wanted.contains_key(&l.name) {
                continue;
            }
            let Some((parent, values)) =
                super::vmac::alias_of(&l.name).and_then(|a| super::vmac::parse_alias(&a))
            else {
                continue;
            };
            if let Err(e) = self.rtnl.del_link(&l.name, l.index) {
                self.shared.emit(Event::new("vrrp", &l.name, e).error());
                continue;
            }
            self.shared.emit(Event::new(
                "vrrp",
                &l.name,
                format!(
                    "removed virtual MAC interface {} left by an earlier run (no instance uses it)",
                    l.name
                ),
            ));
            for (leaf, value) in values {
                self.parents.remember(&parent, leaf, value);
            }
            if !wanted.values().any(|p| *p == parent) {
                for e in self.parents.restore(&parent) {
                    self.shared.emit(Event::new("vrrp", &l.name, e).error());
                }
            }
        }
        self.read_kernel();
    }

    /// A new or changed instance.
    fn put(&mut self, name: &str, cfg: &VrrpInstance) {
        if let Some(old) = self.insts.get_mut(name) {
            if same_identity(&old.cfg, cfg) {
                // In place: no flap for a priority, timer, hook,
                // tracking or VIP-list change.
                let vips_before = old.vips.clone();
                let held = old.fsm.state() == State::Master;
                let new = Inst::new(cfg, old.fsm.params().primary);
                old.fsm.set_params(new.fsm.params().clone());
                old.vips = new.vips;
                old.auth = new.auth;
                old.cfg = cfg.clone();
                old.tracked.clear();
                if held {
                    self.move_vips(name, &vips_before);
                }
                self.retrack();
                return;
            }
            self.remove(name);
        }
        let inst = Inst::new(cfg, IpAddr::from([0u8; 4]));
        self.insts.insert(name.to_string(), inst);
    }

    /// An instance no longer in the config: it stops as on shutdown.
    fn remove(&mut self, name: &str) {
        if self.insts.contains_key(name) {
            let acts = self
                .insts
                .get_mut(name)
                .map(|i| i.fsm.handle(now(), Input::Shutdown));
            if let Some(acts) = acts {
                self.act(name, acts);
            }
            self.vmac_remove(name);
            self.insts.remove(name);
            self.roles.send_modify(|r| {
                r.remove(name);
            });
        }
    }

    /// Resolves and starts every instance not started yet.
    fn start_all(&mut self) {
        self.read_kernel();
        let names: Vec<String> = self.insts.keys().cloned().collect();
        for name in names {
            self.resolve(&name);
        }
        self.retrack();
        let at = now();
        let names: Vec<String> = self
            .insts
            .iter()
            .filter(|(_, i)| !i.started && (i.blocked.is_none() || at >= i.start_by))
            .map(|(n, _)| n.clone())
            .collect();
        for name in names {
            let Some(i) = self.insts.get_mut(&name) else {
                continue;
            };
            i.started = true;
            let input = if std::mem::take(&mut i.resume) {
                Input::Resume
            } else {
                Input::Start
            };
            let acts = i.fsm.handle(now(), input);
            self.act(&name, acts);
        }
    }

    fn read_kernel(&mut self) {
        match (self.rtnl.links(), self.rtnl.addrs()) {
            (Ok(l), Ok(a)) => {
                self.links = l;
                self.addrs = a;
            }
            (Err(e), _) | (_, Err(e)) => self.shared.emit(Event::new("vrrp", "rtnetlink", e)),
        }
    }

    /// Finds the interface, the source address and the sockets of one
    /// instance; what is missing becomes a Fault with a reason.
    fn resolve(&mut self, name: &str) {
        let Some(i) = self.insts.get(name) else {
            return;
        };
        let ifname = i.cfg.interface.as_str().to_string();
        let family = i.family;
        let link = self.links.iter().find(|l| l.name == ifname).cloned();
        let blocked = match &link {
            None => Some(format!("interface {ifname} does not exist")),
            Some(l) => {
                let src = match i.cfg.unicast_source {
                    Some(s) => Some(s.0),
                    None => primary(&self.addrs, l.index, family),
                };
                match src {
                    None => Some(format!(
                        "{ifname} has no {} address to send adverts from",
                        if family == Family::Ipv4 {
                            "IPv4"
                        } else {
                            "IPv6 link-local"
                        }
                    )),
                    Some(src) => match self.vmac_ensure(name) {
                        Err(e) => Some(e),
                        Ok(via) => {
                            // Adverts leave from the virtual MAC's macvlan
                            // if there is one, else from the interface.
                            let (out, out_index) = via.unwrap_or_else(|| (ifname.clone(), l.index));
                            let i = &self.insts[name];
                            let need_tx =
                                i.tx.as_ref()
                                    .is_none_or(|t| t.src != src || t.ifindex() != out_index);
                            if need_tx {
                                match Tx::open(&out, out_index, src) {
                                    Ok(tx) => {
                                        let i = self.insts.get_mut(name).expect("present");
                                        i.tx = Some(tx);
                                        let mut p = i.fsm.params().clone();
                                        p.primary = src;
                                        i.fsm.set_params(p);
                                        None
                                    }
                                    Err(e) => Some(e),
                                }
                            } else {
                                None
                            }
                        }
                    },
                }
            }
        };
        let key = (ifname.clone(), family);
        let rx_alive = self.rx.get(&key).is_some_and(|h| !h.is_finished());
        let blocked = match (blocked, &link) {
            (None, Some(l)) if !rx_alive => match Rx::open(family, &ifname, l.index) {
                Ok(rx) => {
                    let tx = self.pkt_tx.clone();
                    let k = key.clone();
                    let h = tokio::spawn(async move {
                        loop {
                            let got = rx.recv().await;
                            let failed = got.is_err();
                            if tx.send((k.clone(), got)).await.is_err() || failed {
                                return;
                            }
                        }
                    });
                    self.rx.insert(key, h);
                    None
                }
                Err(e) => Some(e),
            },
            (b, _) => b,
        };
        let i = self.insts.get_mut(name).expect("present");
        if i.blocked != blocked {
            // Before the start the wait is expected; if it runs out, the
            // start into Fault says why.
            if let Some(b) = &blocked
                && i.started
            {
                self.shared
                    .emit(Event::new("vrrp", name, format!("cannot run: {b}")).warn());
            }
            i.blocked = blocked;
        }
    }

    /// Makes sure a `virtual_mac` instance's macvlan exists (made down,
    /// or adopted from an earlier run), and its parent's sysctls are
    /// raised; its name and index. `None` for an instance without one.
    fn vmac_ensure(&mut self, name: &str) -> Result<Option<(String, u32)>, String> {
        let Some(v) = self.insts.get_mut(name).and_then(|i| i.vmac.as_mut()) else {
            return Ok(None);
        };
        let before = v.index;
        let (index, fresh) = v.ensure(&self.rtnl, &self.links)?;
        let (vname, parent) = (v.name.clone(), v.parent.clone());
        if before == Some(index) {
            return Ok(Some((vname, index)));
        }
        if fresh.is_none() {
            // An adopted macvlan says what its parent's sysctls were
            // before the run that made it raised them.
            for (leaf, value) in v.recorded() {
                self.parents.remember(&parent, leaf, value);
            }
        }
        let originals = self.parents.raise(&parent)?;
        if let Some(links) = fresh {
            let alias = super::vmac::alias_for(&parent, &originals);
            if let Err(e) = self.rtnl.set_alias(&vname, index, &alias) {
                let msg = format!(
                    "{e}: after a crash, a restarted pharos would not know {parent}'s old ARP sysctls"
                );
                self.shared.emit(Event::new("vrrp", name, msg).warn());
            }
            // The new link (and its MAC, which the GARPs use) in our view.
            self.links = links;
        }
        Ok(Some((vname, index)))
    }

    /// A `virtual_mac` instance's macvlan up (before it adverts or holds
    /// VIPs) or down (when it is not master); nothing for other instances.
    fn vmac_set(&mut self, name: &str, up: bool) {
        let Some(i) = self.insts.get_mut(name) else {
            return;
        };
        let link_local = i.tx.as_ref().map(|t| t.src);
        let Some(v) = i.vmac.as_mut() else { return };
        if v.index.is_none() {
            return; // not made yet: nothing to set
        }
        if let Err(e) = v.set_up(&self.rtnl, up, link_local) {
            self.shared.emit(
                Event::new(
                    "vrrp",
                    name,
                    format!(
                        "setting virtual MAC interface {} {}: {e}",
                        v.name,
                        if up { "up" } else { "down" }
                    ),
                )
                .error(),
            );
        }
    }

    /// Deletes an instance's macvlan (it is gone, or pharos stops), and
    /// puts its parent's sysctls back when no other virtual MAC is there.
    fn vmac_remove(&mut self, name: &str) {
        let Some(mut v) = self.insts.get_mut(name).and_then(|i| i.vmac.take()) else {
            return;
        };
        if let Err(e) = v.remove(&self.rtnl) {
            self.shared.emit(Event::new("vrrp", name, e).error());
        }
        let shared_parent = self.insts.iter().any(|(n, i)| {
            n != name
                && i.vmac
                    .as_ref()
                    .is_some_and(|o| o.parent == v.parent && o.index.is_some())
        });
        if !shared_parent {
            for e in self.parents.restore(&v.parent) {
                self.shared.emit(Event::new("vrrp", name, e).error());
            }
        }
    }

    /// Recomputes each instance's fault and effective priority from link
    /// states and from the checks and services it tracks.
    fn retrack(&mut self) {
        let names: Vec<String> = self.insts.keys().cloned().collect();
        for name in names {
            let decided = {
                let i = self.insts.get_mut(&name).expect("present");
                let own = i.cfg.interface.as_str();
                i.link_fault = match self.links.iter().find(|l| l.name == own) {
                    Some(l) if l.up && l.carrier => None,
                    Some(_) => Some(format!("interface {own} is down")),
                    None => None, // covered by `blocked`
                };
                i.tracked.clear();
                for (ifn, t) in &i.cfg.track.interfaces {
                    let up = self
                        .links
                        .iter()
                        .any(|l| l.name == ifn.as_str() && l.up && l.carrier);
                    i.tracked.insert(
                        format!("interface {ifn}"),
                        TrackedState {
                            what: format!("interface {ifn}"),
                            weight: t.weight.get(),
                            up,
                        },
                    );
                }
                // Checks and services from the check task's board; one
                // not reported yet counts as down (nothing passed yet).
                let board = self.health.borrow();
                for (c, t) in &i.cfg.track.checks {
                    i.tracked.insert(
                        format!("check {c}"),
                        TrackedState {
                            what: format!("check {c}"),
                            weight: t.weight.get(),
                            up: board.checks.get(c) == Some(&true),
                        },
                    );
                }
                for (svc, t) in &i.cfg.track.services {
                    i.tracked.insert(
                        format!("service {svc}"),
                        TrackedState {
                            what: format!("service {svc}"),
                            weight: t.weight.get(),
                            up: board.services.get(svc) == Some(&true),
                        },
                    );
                }
                drop(board);
                let tracked: Vec<TrackedState> = i.tracked.values().cloned().collect();
                fsm::decide(&fsm::Facts {
                    base: i.cfg.priority.get(),
                    blocked: i.blocked.as_deref(),
                    link_down: i.link_fault.as_deref(),
                    tracked: &tracked,
                })
            };
            let fsm::Effective {
                priority: prio,
                fault,
                terms,
            } = decided;
            let i = self.insts.get_mut(&name).expect("present");
            let mut acts = Vec::new();
            if fault.as_deref() != i.fsm.fault() {
                acts.extend(i.fsm.handle(now(), Input::Fault(fault)));
            }
            if prio != i.told_priority {
                // keepalived says "Changing effective priority"; say why too.
                let why = if terms.is_empty() {
                    "back to the configured priority".to_string()
                } else {
                    terms
                };
                let msg = format!("priority {} → {prio}: {why}", i.told_priority);
                self.shared.emit(Event::new("vrrp", &name, msg));
                i.told_priority = prio;
            }
            if prio != i.fsm.priority() {
                acts.extend(i.fsm.handle(now(), Input::Priority(prio)));
            }
            self.act(&name, acts);
        }
    }

    fn resync(&mut self) {
        self.start_all();
        // A VIP removed behind our back while master is put back.
        let masters: Vec<String> = self
            .insts
            .iter()
            .filter(|(_, i)| i.fsm.state() == State::Master)
            .map(|(n, _)| n.clone())
            .collect();
        for name in masters {
            let i = &self.insts[&name];
            let Some(l) = self.links.iter().find(|l| l.name == i.vip_ifname) else {
                continue;
            };
            if !l.up && i.vmac.is_some() {
                // The virtual MAC's macvlan set down (or made again) behind
                // our back while master: up again, with its VIPs (IPv6
                // addresses do not survive a link down).
                if let Some(v) = self.insts.get_mut(&name).and_then(|i| i.vmac.as_mut()) {
                    v.up = None;
                    let msg = format!("{} was down while master; set up again", v.name);
                    self.shared.emit(Event::new("vrrp", &name, msg));
                }
                self.add_vips(&name);
                self.announce(&name);
                continue;
            }
            let missing: Vec<Cidr> = i
                .vips
                .iter()
                .filter(|c| {
                    !self
                        .addrs
                        .iter()
                        .any(|a| a.index == l.index && a.cidr.addr == c.addr)
                })
                .copied()
                .collect();
            if !missing.is_empty() {
                let list: Vec<String> = missing.iter().map(ToString::to_string).collect();
                self.shared.emit(Event::new(
                    "vrrp",
                    &name,
                    format!(
                        "virtual address {} was removed behind pharos's back; put back",
                        list.join(", ")
                    ),
                ));
                self.add_vips(&name);
            }
        }
    }

    fn tick(&mut self) {
        let t = now();
        let due: Vec<String> = self
            .insts
            .iter()
            .filter(|(_, i)| i.fsm.deadline().is_some_and(|d| d <= t))
            .map(|(n, _)| n.clone())
            .collect();
        for name in due {
            let acts = self
                .insts
                .get_mut(&name)
                .map(|i| i.fsm.handle(t, Input::Tick));
            if let Some(acts) = acts {
                self.act(&name, acts);
            }
        }
    }

    fn on_packet(&mut self, key: &RxKey, got: std::io::Result<Result<Datagram, Drop>>) {
        let d = match got {
            Err(e) => {
                self.shared.emit(Event::new(
                    "vrrp",
                    &key.0,
                    format!(
                        "receiving adverts on {} failed: {e}; reopening the socket",
                        key.0
                    ),
                ));
                self.rx.remove(key);
                return;
            }
            Ok(Err(drop)) => {
                self.metrics.dropped(&key.0, None, drop.reason());
                return;
            }
            Ok(Ok(d)) => d,
        };
        // Our own adverts (a second instance of ours, or a looped copy).
        if self.addrs.iter().any(|a| a.cidr.addr == d.src) {
            return;
        }
        let adv = match packet::decode(&d.payload, d.src, d.dst) {
            Ok(a) => a,
            Err(drop) => {
                self.metrics.dropped(&key.0, None, drop.reason());
                return;
            }
        };
        let Some((name, i)) = self.insts.iter_mut().find(|(_, i)| {
            i.cfg.interface.as_str() == key.0 && i.family == key.1 && i.cfg.vrid.get() == adv.vrid
        }) else {
            self.metrics.dropped(&key.0, None, "other_vrid");
            return;
        };
        let name = name.clone();
        let unicast = !i.cfg.unicast_peers.is_empty();
        if unicast && !i.cfg.unicast_peers.iter().any(|p| p.0 == d.src) {
            *i.dropped.entry("unknown_peer").or_default() += 1;
            self.metrics.dropped(&key.0, Some(&name), "unknown_peer");
            return;
        }
        let addrs: Vec<IpAddr> = i.vips.iter().map(|c| c.addr).collect();
        let want = Expect {
            version: i.cfg.version,
            auth: &i.auth,
            interval_cs: interval_cs(i.cfg.advert_interval.0),
            addrs: &addrs,
            multicast: !unicast,
        };
        match packet::check(&adv, d.ttl, &want) {
            Err(drop) => {
                *i.dropped.entry(drop.reason()).or_default() += 1;
                self.metrics.dropped(&key.0, Some(&name), drop.reason());
                return;
            }
            Ok(true) => i.mismatch = None,
            Ok(false) => {
                if i.mismatch.as_ref() != Some(&adv.addrs) {
                    i.mismatch = Some(adv.addrs.clone());
                    let theirs: Vec<String> = adv.addrs.iter().map(ToString::to_string).collect();
                    let ours: Vec<String> = addrs.iter().map(ToString::to_string).collect();
                    self.shared.emit(Event::new(
                        "vrrp",
                        &name,
                        format!(
                            "configuration mismatch: {} advertises [{}], this node has [{}]; the election goes on, fix the configs to match",
                            d.src,
                            theirs.join(", "),
                            ours.join(", ")
                        ),
                    ));
                }
            }
        }
        i.received += 1;
        self.metrics.received(&name);
        let interval = Duration::from_millis(u64::from(adv.interval_cs) * 10);
        let acts = i.fsm.handle(
            now(),
            Input::Advert(Heard {
                src: d.src,
                priority: adv.priority,
                interval,
            }),
        );
        self.act(&name, acts);
    }

    /// Carries out one instance's actions, then lets its sync groups follow.
    fn act(&mut self, name: &str, acts: Vec<Action>) {
        for a in &acts {
            match a {
                Action::Send { priority } => self.send(name, *priority),
                Action::AddVips => self.add_vips(name),
                Action::RemoveVips => self.del_vips(name),
                Action::Announce => self.announce(name),
                Action::Became { from, to, why } => self.became(name, *from, *to, why),
                Action::Answered { to, priority } => {
                    tracing::warn!(
                        instance = name,
                        "{to} advertises priority {priority} while this node is master: answered at once and re-announced the addresses (a split brain healing, or the master this node preempted stepping down)"
                    );
                }
            }
        }
        let follows: Vec<(String, Input)> = self
            .groups
            .iter()
            .filter(|(_, g)| g.members.iter().any(|m| m == name))
            .flat_map(|(gname, g)| {
                Group {
                    name: gname.clone(),
                    members: g.members.clone(),
                }
                .follow(name, &acts)
            })
            .collect();
        for (member, input) in follows {
            let more = self
                .insts
                .get_mut(&member)
                .map(|i| i.fsm.handle(now(), input));
            if let Some(more) = more {
                // Forced changes do not cascade (Group::follow skips them).
                self.act(&member, more);
            }
        }
    }

    fn send(&mut self, name: &str, priority: u8) {
        if priority != 0 {
            // Only a master adverts; priority 0 leaves while still up.
            self.vmac_set(name, true);
        }
        let Some(i) = self.insts.get_mut(name) else {
            return;
        };
        let Some(tx) = &i.tx else { return };
        let adv = Advert {
            version: i.cfg.version,
            vrid: i.cfg.vrid.get(),
            priority,
            interval_cs: interval_cs(i.cfg.advert_interval.0),
            addrs: i.vips.iter().map(|c| c.addr).collect(),
            auth: i.auth.clone(),
        };
        let dsts: Vec<IpAddr> = if i.cfg.unicast_peers.is_empty() {
            vec![socket::group(i.family)]
        } else {
            i.cfg.unicast_peers.iter().map(|p| p.0).collect()
        };
        for dst in dsts {
            let bytes = packet::encode(&adv, tx.src, dst);
            match tx.send(&bytes, dst) {
                Ok(()) => {
                    i.sent += 1;
                    self.metrics.sent(name);
                }
                Err(e) => {
                    if i.last_error.as_ref() != Some(&e) {
                        self.shared.emit(Event::new("vrrp", name, e.clone()));
                        i.last_error = Some(e);
                    }
                }
            }
        }
    }

    fn vip_index(&self, name: &str) -> Option<(String, u32)> {
        let i = self.insts.get(name)?;
        let l = self.links.iter().find(|l| l.name == i.vip_ifname)?;
        Some((l.name.clone(), l.index))
    }

    fn add_vips(&mut self, name: &str) {
        let Some((ifn, idx)) = self.vip_index(name) else {
            self.shared.emit(Event::new(
                "vrrp",
                name,
                "cannot add the virtual addresses: their interface does not exist",
            ));
            return;
        };
        self.vmac_set(name, true);
        let vips = self.insts[name].vips.clone();
        for c in vips {
            if let Err(e) = self.rtnl.add_vip(&ifn, idx, &c) {
                self.shared.emit(Event::new("vrrp", name, e));
            }
        }
    }

    fn del_vips(&mut self, name: &str) {
        let vips = self
            .insts
            .get(name)
            .map(|i| i.vips.clone())
            .unwrap_or_default();
        self.del_these(name, &vips);
        self.vmac_set(name, false);
    }

    fn del_these(&mut self, name: &str, vips: &[Cidr]) {
        let Some((ifn, idx)) = self.vip_index(name) else {
            return;
        };
        for c in vips {
            if let Err(e) = self.rtnl.del_addr(&ifn, idx, c) {
                // Already gone is what we wanted.
                if !e.is_gone() {
                    self.shared.emit(Event::new("vrrp", name, e).error());
                }
            }
        }
    }

    /// After a reload changed the VIP list of a master: add the new ones,
    /// remove the dropped ones, and announce.
    fn move_vips(&mut self, name: &str, before: &[Cidr]) {
        let now_vips = self.insts[name].vips.clone();
        let gone: Vec<Cidr> = before
            .iter()
            .filter(|c| !now_vips.contains(c))
            .copied()
            .collect();
        self.del_these(name, &gone);
        if now_vips.iter().any(|c| !before.contains(c)) {
            self.add_vips(name);
            self.announce(name);
        }
    }

    /// A burst of gratuitous ARPs / unsolicited NAs, on its own task so
    /// the spacing between packets does not hold up the loop.
    fn announce(&mut self, name: &str) {
        let Some(i) = self.insts.get(name) else {
            return;
        };
        let Some(l) = self.links.iter().find(|l| l.name == i.vip_ifname) else {
            return;
        };
        let Ok(MacAddr(mac)) = l.mac.parse::<MacAddr>() else {
            return;
        };
        // keepalived sets the NA Router flag when the interface forwards
        // IPv6 (an LVS-NAT director does); clearing it would make
        // neighbours drop this router from their default router list
        // (RFC 4861 §7.2.5).
        let router =
            std::fs::read_to_string(format!("/proc/sys/net/ipv6/conf/{}/forwarding", l.name))
                .is_ok_and(|v| v.trim() == "1");
        let frames: Vec<Vec<u8>> = i
            .vips
            .iter()
            .map(|c| match c.addr {
                IpAddr::V6(v6) => garp::na_frame_with_router(mac, v6, router),
                IpAddr::V4(_) => garp::frame_for(mac, c.addr),
            })
            .collect();
        let (count, spacing, idx) = (i.cfg.garp.count, i.cfg.garp.interval.0, l.index);
        // One packet socket per interface, kept: closing one waits for an
        // RCU grace period (packet_release → synchronize_net), and with
        // hundreds of instances taking over at once those waits on the
        // runtime's threads held up the timers of the others.
        let links = &self.links;
        self.garp_tx
            .retain(|k, _| links.iter().any(|l| l.index == *k));
        let sender = match self.garp_tx.get(&idx) {
            Some(s) => s.clone(),
            None => match garp::Sender::open(idx) {
                Ok(s) => self.garp_tx.entry(idx).or_insert(Arc::new(s)).clone(),
                Err(e) => {
                    self.shared.emit(Event::new("vrrp", name, e));
                    return;
                }
            },
        };
        let shared = self.shared.clone();
        let name = name.to_string();
        tokio::spawn(async move {
            for k in 0..count {
                for f in &frames {
                    if let Err(e) = sender.send(f) {
                        shared.emit(Event::new("vrrp", &name, e));
                        return;
                    }
                }
                if k + 1 < count && !spacing.is_zero() {
                    tokio::time::sleep(spacing).await;
                }
            }
        });
    }

    fn became(&mut self, name: &str, from: State, to: State, why: &Why) {
        if to != State::Master {
            // A virtual MAC answers only at the master (it may be up from
            // an earlier run that this one adopted).
            self.vmac_set(name, false);
        }
        let Some(i) = self.insts.get_mut(name) else {
            return;
        };
        i.transitions += 1;
        i.since = SystemTime::now();
        let prio = i.fsm.priority();
        let msg = format!("{from} → {to}: {why} (priority {prio})");
        self.shared.emit(Event::new("vrrp", name, msg));
        self.metrics.transition(name, to);
        let master = to == State::Master;
        self.roles.send_if_modified(|r| {
            let old = r.insert(name.to_string(), master);
            old != Some(master)
        });
        let n = &i.cfg.notify;
        let specific = match to {
            State::Master => n.master.clone(),
            State::Backup => n.backup.clone(),
            State::Fault => n.fault.clone(),
            State::Init => n.stop.clone(),
        };
        let env = vec![
            ("PHAROS_INSTANCE".to_string(), name.to_string()),
            ("PHAROS_STATE".to_string(), to.name().to_string()),
            ("PHAROS_OLD_STATE".to_string(), from.name().to_string()),
            ("PHAROS_PRIORITY".to_string(), prio.to_string()),
            ("PHAROS_REASON".to_string(), why.to_string()),
            ("PHAROS_VRID".to_string(), i.cfg.vrid.get().to_string()),
        ];
        for argv in [specific, n.any.clone()].into_iter().flatten() {
            self.notifier.submit(Hook {
                label: format!("{name} {to}"),
                argv,
                env: env.clone(),
                timeout: n.timeout.0,
            });
        }
        // A sync group's own hooks run when all its members agree.
        for (gname, g) in &self.groups {
            if !g.members.iter().any(|m| m == name) {
                continue;
            }
            let all = g
                .members
                .iter()
                .all(|m| m == name || self.insts.get(m).is_some_and(|o| o.fsm.state() == to));
            if !all {
                continue;
            }
            let argv = match to {
                State::Master => g.notify.master.clone(),
                State::Backup => g.notify.backup.clone(),
                State::Fault => g.notify.fault.clone(),
                State::Init => g.notify.stop.clone(),
            };
            let mut genv = env.clone();
            genv.push(("PHAROS_GROUP".to_string(), gname.clone()));
            for argv in [argv, g.notify.any.clone()].into_iter().flatten() {
                self.notifier.submit(Hook {
                    label: format!("group {gname} {to}"),
                    argv,
                    env: genv.clone(),
                    timeout: g.notify.timeout.0,
                });
            }
        }
    }

    fn on_report(&mut self, rep: Report) {
        let msg = format!(
            "notify hook {:?} ({}): {:?} after {} ms",
            rep.argv,
            rep.label,
            rep.outcome,
            rep.took.as_millis()
        );
        self.shared.emit(Event::new("notify", &rep.label, msg));
    }

    async fn shutdown(&mut self) {
        let names: Vec<String> = self.insts.keys().cloned().collect();
        for name in names {
            let acts = self
                .insts
                .get_mut(&name)
                .map(|i| i.fsm.handle(now(), Input::Shutdown));
            if let Some(acts) = acts {
                self.act(&name, acts);
            }
            self.vmac_remove(&name);
        }
        self.publish();
        self.notifier.drain(HOOKS_BOUND).await;
        for (_, h) in std::mem::take(&mut self.rx) {
            h.abort();
        }
    }

    /// Publishes when an instance's state, priority, master, fault or
    /// tracking changed, or the counters are [`COUNTERS_EVERY`] old (a
    /// config change clears `published`).
    fn publish_if_changed(&mut self) {
        let sig = self.signature();
        let t = now();
        if self
            .published
            .is_some_and(|(at, s)| s == sig && t.saturating_duration_since(at) < COUNTERS_EVERY)
        {
            return;
        }
        self.publish();
        self.published = Some((t, sig));
    }

    /// What the status shows apart from the counters, as one number.
    fn signature(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        for (name, i) in &self.insts {
            name.hash(&mut h);
            i.fsm.state().name().hash(&mut h);
            i.fsm.priority().hash(&mut h);
            i.fsm.master().hash(&mut h);
            i.fsm.master_interval().hash(&mut h);
            i.fsm.fault().hash(&mut h);
            i.transitions.hash(&mut h);
            i.since.hash(&mut h);
            for t in i.tracked.values() {
                (&t.what, t.weight, t.up).hash(&mut h);
            }
        }
        h.finish()
    }

    fn publish(&self) {
        let mut instances = BTreeMap::new();
        for (name, i) in &self.insts {
            instances.insert(
                name.clone(),
                status::Instance {
                    state: i.fsm.state().name().to_string(),
                    priority: i.fsm.priority(),
                    base_priority: i.cfg.priority.get(),
                    master: i.fsm.master().map(|m| m.to_string()),
                    interface: i.cfg.interface.as_str().to_string(),
                    vrid: i.cfg.vrid.get(),
                    version: match i.cfg.version {
                        VrrpVersion::V2 => 2,
                        VrrpVersion::V3 => 3,
                    },
                    advert_interval_ms: u64::try_from(i.fsm.master_interval().as_millis())
                        .unwrap_or(u64::MAX),
                    virtual_addresses: i.vips.iter().map(ToString::to_string).collect(),
                    virtual_mac: i.vmac.as_ref().map(|v| format!("{} on {}", v.mac, v.name)),
                    fault: i.fsm.fault().map(str::to_string),
                    since: humantime::format_rfc3339_seconds(i.since).to_string(),
                    transitions: i.transitions,
                    adverts: status::Adverts {
                        sent: i.sent,
                        received: i.received,
                        dropped: i
                            .dropped
                            .iter()
                            .map(|(k, v)| ((*k).to_string(), *v))
                            .collect(),
                    },
                    tracked: i
                        .tracked
                        .values()
                        .map(|t| status::Tracked {
                            what: t.what.clone(),
                            weight: t.weight,
                            up: t.up,
                        })
                        .collect(),
                },
            );
            self.metrics.state(name, i.fsm.state(), i.fsm.priority());
        }
        let status = status::VrrpStatus { instances };
        self.shared.publish(
            "vrrp",
            serde_json::to_value(&status).expect("the VRRP status serializes"),
        );
    }
}

impl Inst {
    fn new(cfg: &VrrpInstance, primary: IpAddr) -> Inst {
        let vips: Vec<Cidr> = cfg.virtual_addresses.iter().map(|v| v.0).collect();
        let family = vips.first().map_or(Family::Ipv4, Cidr::family);
        let auth = match &cfg.authentication {
            Some(a) if a.kind == AuthKind::Pass => Auth::pass(a.password.as_deref().unwrap_or("")),
            _ => Auth::None,
        };
        let p = Params {
            version: cfg.version,
            priority: cfg.priority.get(),
            interval: cfg.advert_interval.0,
            preempt: cfg.preempt,
            preempt_delay: cfg.preempt_delay.map(|d| d.0).unwrap_or_default(),
            primary,
            garp_delay: cfg.garp.delay.0,
            garp_refresh: cfg.garp.refresh.map(|d| d.0),
        };
        let vmac = cfg
            .virtual_mac
            .then(|| Vmac::new(cfg.vrid.get(), family, cfg.interface.as_str()));
        Inst {
            vip_ifname: match &vmac {
                Some(v) => v.name.clone(),
                None => cfg
                    .vip_interface
                    .as_ref()
                    .unwrap_or(&cfg.interface)
                    .as_str()
                    .to_string(),
            },
            vmac,
            cfg: cfg.clone(),
            fsm: Instance::new(p),
            family,
            vips,
            auth,
            tx: None,
            blocked: None,
            started: false,
            resume: false,
            start_by: now() + START_WAIT,
            told_priority: cfg.priority.get(),
            tracked: BTreeMap::new(),
            link_fault: None,
            sent: 0,
            received: 0,
            dropped: BTreeMap::new(),
            transitions: 0,
            since: SystemTime::now(),
            mismatch: None,
            last_error: None,
        }
    }
}

/// Whether a changed instance can be updated in place: same wire identity
/// and sockets.
fn same_identity(a: &VrrpInstance, b: &VrrpInstance) -> bool {
    let fam = |i: &VrrpInstance| i.virtual_addresses.first().map(|v| v.0.family());
    a.interface == b.interface
        && a.vrid == b.vrid
        && a.version == b.version
        && a.unicast_source == b.unicast_source
        && a.vip_interface == b.vip_interface
        && a.virtual_mac == b.virtual_mac
        && fam(a) == fam(b)
}

/// The address adverts are sent from: IPv4, the interface's first address
/// that is not a VIP (RFC 5798 §5.1.1.1 "primary"); IPv6, its link-local
/// address (§5.1.2.1).
fn primary(addrs: &[AddrLive], index: u32, family: Family) -> Option<IpAddr> {
    addrs
        .iter()
        .filter(|a| a.index == index && a.proto != VIP_PROTO)
        .map(|a| a.cidr.addr)
        .find(|ip| match (family, ip) {
            (Family::Ipv4, IpAddr::V4(_)) => true,
            (Family::Ipv6, IpAddr::V6(v)) => socket::is_link_local(v),
            _ => false,
        })
}

// ---------------------------------------------------------------- metrics

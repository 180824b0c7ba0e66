//! The `ipvs` task: reconciles the config's services with the kernel's
//! IPVS table. The whole table is read and reconciled on start and every
//! [`RECONCILE`] (longer for a table that takes long to read), so that
//! `ipvsadm -C` or `ipvsadm -d` by someone else is undone; a reload, a
//! health change, a drain's end or a VRRP role change reconciles only the
//! services whose wanted state changed, against the table as last known
//! (the last whole read with every accepted change since, kept in a
//! [`View`] that status and the metrics render when asked); only the
//! services draining, or with a change the kernel refused, are read again
//! for it. A reload that comes in during a whole-table read stops it.
//!
//! Talks to: the kernel (genl "IPVS", finit_module for ip_vs and the
//! schedulers), the supervisor (updates in; status, events, metrics out).

use foldhash::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use super::desired::{self, IpvsPart, Wanted};
use super::genl::Ipvs;
use super::model::{Daemon, ServiceKey, Table, Timeouts};
use super::reconcile::{self, Op, Reconciler};
use super::view::View;
use crate::runtime::status::Event;
use crate::runtime::supervisor::{Shared, Subsystem, TaskCtx, TaskFuture};

/// How often the live table is compared again without a reason.
pub const RECONCILE: Duration = Duration::from_secs(2);

/// Changes sent before the task pauses a moment, so one huge change does
/// not hold the kernel's IPVS lock against the packet path for long.
const CHURN: usize = 4096;

/// Above this many changes in one pass, one summary event instead of one
/// per change.
const EVENTS_MAX: usize = 64;

/// The `ipvs` task: follows the checks' `health` (weights, sorry server)
/// and the VRRP `roles` (the sync daemon's role).
pub struct IpvsTask {
    pub health: crate::check::board::Board,
    pub roles: crate::vrrp::Roles,
    /// The network plane loads `ip_vs` and the schedulers; a pass waits
    /// for them (at most [`MODULE_WAIT`]).
    pub modules: crate::net::Modules,
}

/// The longest a whole-table read waits for a reload under way (it goes
/// on once the reload is over, and its part, if any, has been reconciled).
const RELOAD_WAIT: Duration = Duration::from_secs(30);

/// How long a pass waits for the network plane to load the modules it
/// needs before it goes ahead (and the kernel says what is missing).
const MODULE_WAIT: Duration = Duration::from_secs(10);

/// Which read a pass does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Read {
    /// The whole table: on start, and every [`RECONCILE`] (longer for a
    /// table that takes long to read), to undo what others did.
    Whole,
    /// Only the services whose wanted state (config and health) differs
    /// from what the last passes applied (a reload or a health change),
    /// against the view.
    Changed,
}

/// What a pass tells the loop.
struct Outcome {
    /// When to come back for a drain.
    wake: Option<Instant>,
    /// A whole-table read gave way to a reload: nothing was changed.
    interrupted: bool,
    /// The kernel could not be read or written: the next pass reads the
    /// whole table again, soon.
    failed: bool,
}

impl Subsystem for IpvsTask {
    type Part = IpvsPart;

    fn name(&self) -> &'static str {
        "ipvs"
    }

    fn shutdown_rank(&self) -> u8 {
        30
    }

    fn run(self: Arc<Self>, mut ctx: TaskCtx<IpvsPart>) -> TaskFuture {
        Box::pin(async move {
            let mut current = Arc::new(IpvsPart::default());
            let mut shell = Shell::new(&ctx.shared);
            let mut next_check = tokio::time::Instant::now() + RECONCILE;
            let mut wake: Option<Instant> = None;
            let mut roles = self.roles.subscribe();
            let mut health = self.health.subscribe();
            // The board as passes see it, and a count of its changes (a
            // service's fingerprint is kept while neither it nor the board
            // changes: see `Shell::fingerprints`).
            let mut board = self.health.subscribe();
            let mut board_gen = 0u64;
            let mut modules = self.modules.subscribe();
            let mut reloads = ctx.shared.reloads.subscribe();
            let mut waiting_since: Option<tokio::time::Instant> = None;
            // A pass is due without waiting (something came in during the last).
            let mut again = false;
            let mut updates_open = true;
            loop {
                let mut read = Read::Changed;
                if !again {
                    let drain_end = crate::runtime::supervisor::sleep_until(wake);
                    let mut put_off = false;
                    tokio::select! {
                        () = ctx.cancel.cancelled() => {
                            if current.settings.flush_on_shutdown {
                                let shared = ctx.shared.clone();
                                let _ = tokio::task::spawn_blocking(move || shell.flush_owned(&shared)).await;
                            }
                            return Ok(());
                        }
                        u = ctx.updates.recv(), if updates_open => match u {
                            Some(part) => current = part,
                            None => return Ok(()),
                        },
                        () = tokio::time::sleep_until(next_check) => read = Read::Whole,
                        () = drain_end => {}
                        Ok(()) = roles.changed() => {}
                        Ok(()) = health.changed() => {}
                        Ok(()) = modules.changed() => {}
                        Ok(()) = reloads.changed() => put_off = true,
                    }
                    if put_off {
                        // While a reload is under way, no whole-table read;
                        // once it is over, the paced reads go on (its part,
                        // if it changed, has come before: its pass is first).
                        next_check = tokio::time::Instant::now()
                            + if *reloads.borrow_and_update() {
                                RELOAD_WAIT
                            } else {
                                RECONCILE
                            };
                        continue;
                    }
                }
                again = false;
                if read == Read::Whole {
                    next_check = tokio::time::Instant::now() + RECONCILE;
                }
                if current.is_empty() && !shell.touched {
                    // Nothing of IPVS in the config: leave the kernel alone.
                    ctx.ready.mark("ipvs");
                    continue;
                }
                // The network plane loads the modules; wait for it, a while,
                // as long as what is missing can be loaded at all (a kernel
                // without them gets the kernel's answer at once).
                let to_come = {
                    let have = self.modules.borrow();
                    let missing: Vec<&String> = current
                        .modules
                        .iter()
                        .filter(|m| !have.contains(*m))
                        .collect();
                    !missing.is_empty()
                        && missing.iter().all(|m| {
                            matches!(
                                crate::kernel::modules::presence(m),
                                crate::kernel::modules::Presence::Available
                            )
                        })
                };
                if to_come {
                    let since = *waiting_since.get_or_insert_with(tokio::time::Instant::now);
                    if since.elapsed() < MODULE_WAIT {
                        next_check = (since + MODULE_WAIT).min(next_check);
                        continue;
                    }
                } else {
                    waiting_since = None;
                }
                let part = current.clone();
                let shared = ctx.shared.clone();
                if board.has_changed().unwrap_or(true) {
                    board_gen += 1;
                }
                let facts = Facts {
                    health: board.borrow_and_update().clone(),
                    board_gen,
                    roles: self.roles.borrow().clone(),
                };
                let stop = Arc::new(AtomicBool::new(false));
                let job_stop = stop.clone();
                let job = tokio::task::spawn_blocking(move || {
                    let out = shell.pass(read, &part, &facts, &shared, &job_stop);
                    (shell, out)
                });
                tokio::pin!(job);
                // While the pass runs, a reload is taken in (and a
                // whole-table read gives way to it); so is a shutdown.
                let (back, out) = loop {
                    tokio::select! {
                        r = &mut job => break r.map_err(|e| format!("reconciling IPVS: {e}"))?,
                        u = ctx.updates.recv(), if updates_open => match u {
                            Some(part) => {
                                current = part;
                                stop.store(true, Ordering::Relaxed);
                                again = true;
                            }
                            None => updates_open = false,
                        },
                        () = ctx.cancel.cancelled(), if !stop.load(Ordering::Relaxed) => {
                            stop.store(true, Ordering::Relaxed);
                        }
                        Ok(()) = reloads.changed() => {
                            // A whole-table read stops (the reload's check
                            // would share the CPU with it) and waits.
                            if *reloads.borrow_and_update() {
                                if read == Read::Whole {
                                    stop.store(true, Ordering::Relaxed);
                                }
                                next_check = tokio::time::Instant::now() + RELOAD_WAIT;
                            } else {
                                next_check = tokio::time::Instant::now() + RECONCILE;
                            }
                        }
                    }
                };
                shell = back;
                if !updates_open {
                    return Ok(());
                }
                if read == Read::Whole && !out.interrupted {
                    // A huge table takes a while to read: the periodic
                    // check then spends at most a tenth of the time reading.
                    next_check = tokio::time::Instant::now() + RECONCILE.max(shell.last_read * 10);
                }
                wake = out.wake;
                if out.failed {
                    next_check = tokio::time::Instant::now() + RECONCILE;
                }
                // Ready once the first pass has run, whatever the kernel
                // said (a kernel without IPVS is said in status, not by
                // holding up readiness).
                if !out.interrupted {
                    ctx.ready.mark("ipvs");
                }
            }
        })
    }
}

/// What the other subsystems say, as of the start of a pass.
struct Facts {
    health: Arc<crate::check::board::HealthBoard>,
    /// Counts the board's changes since the task started.
    board_gen: u64,
    roles: crate::vrrp::VrrpRoles,
}

/// The blocking side: the socket and the reconciler's memory.
struct Shell {
    ipvs: Option<Ipvs>,
    rec: Reconciler,
    /// The last connection error reported (said once, not every pass).
    last_error: Option<String>,
    /// Set once pharos has had IPVS work to do in this run.
    touched: bool,
    /// The last sync-daemon refusal reported.
    last_sync_error: Option<String>,
    /// How long the last whole-table read took.
    last_read: Duration,
    /// A whole-table pass has run since the task started: until then
    /// every pass is one (the reconciler adopts and owns from it).
    whole_read: bool,
    /// Each service's [`desired::fingerprint`] as last applied in full
    /// (every change accepted): a pass reads and reconciles only the
    /// services whose fingerprint differs, or that are not here.
    applied: HashMap<ServiceKey, u64>,
    /// Each service's fingerprint with health applied, the service it was
    /// worked out of and the board's generation it was worked out
    /// against: a pass works out again only the services that are not
    /// the same (a reload's changed ones), or all when the board changed.
    fingerprints: HashMap<ServiceKey, (Arc<Wanted>, u64)>,
    fingerprints_gen: u64,
    /// Services with a change the kernel refused: the view may not be
    /// what the kernel holds, so a targeted pass reads them again.
    stale: HashSet<ServiceKey>,
    /// What status and the metrics show.
    view: View,
}

impl Shell {
    fn new(shared: &Shared) -> Shell {
        // One view for the process: the metrics collector, registered with
        // the first, reads it across task restarts.
        static VIEW: OnceLock<View> = OnceLock::new();
        let mut first = false;
        let view = VIEW
            .get_or_init(|| {
                first = true;
                View::default()
            })
            .clone();
        if first {
            shared
                .metrics
                .registry()
                .register_collector(Box::new(super::view::Metrics(view.clone())));
        }
        shared.publish_with(
            "ipvs",
            Arc::new({
                let view = view.clone();
                move || serde_json::to_value(view.status()).expect("serializes")
            }),
        );
        Shell {
            ipvs: None,
            rec: Reconciler::default(),
            last_error: None,
            touched: false,
            last_sync_error: None,
            last_read: Duration::ZERO,
            whole_read: false,
            applied: HashMap::default(),
            fingerprints: HashMap::default(),
            fingerprints_gen: 0,
            stale: HashSet::default(),
            view,
        }
    }

    fn connect(&mut self) -> Result<&Ipvs, String> {
        if self.ipvs.is_none() {
            self.ipvs = Some(Ipvs::connect()?);
        }
        Ok(self.ipvs.as_ref().expect("just connected"))
    }

    /// Says a failure to reach the kernel once, in an event and in status;
    /// the pass's outcome.
    fn failed(&mut self, e: String, shared: &Shared) -> Outcome {
        self.ipvs = None;
        // What was half read or half done is not known: the next pass
        // reads the whole table.
        self.whole_read = false;
        if self.last_error.as_ref() != Some(&e) {
            shared.emit(Event::new("ipvs", "kernel", e.clone()).error());
            self.last_error = Some(e.clone());
        }
        let mut v = self.view.lock();
        v.error = Some(e);
        v.table = Table::default();
        Outcome {
            wake: None,
            interrupted: false,
            failed: true,
        }
    }

    /// One reconcile pass.
    fn pass(
        &mut self,
        read: Read,
        part: &Arc<IpvsPart>,
        facts: &Facts,
        shared: &Shared,
        stop: &AtomicBool,
    ) -> Outcome {
        self.touched = true;
        // Status names the services of the part in hand, whatever the
        // kernel says (and the last part is not kept beside it).
        self.view.lock().part = part.clone();
        let read = if self.whole_read { read } else { Read::Whole };
        let exclusive = part.settings.exclusive;
        let started = Instant::now();
        // Each service with health applied, and its fingerprint; only the
        // ones that differ from what was applied are kept for a targeted pass.
        // Services with a drain under way are looked at again too (a
        // drain's end changes nothing in the config).
        let draining = self.rec.draining();
        let same_board = self.fingerprints_gen == facts.board_gen;
        self.fingerprints_gen = facts.board_gen;
        let mut want = Vec::new();
        let mut worked_out = 0usize;
        for w in part.services.values() {
            let entry = self.fingerprints.get_mut(&w.spec.key);
            let fp = match entry {
                Some((was, fp)) if same_board && Arc::ptr_eq(was, w) => *fp,
                _ => {
                    worked_out += 1;
                    let fp = desired::fingerprint_with(w, &facts.health);
                    match entry {
                        Some(e) => *e = (w.clone(), fp),
                        None => {
                            self.fingerprints.insert(w.spec.key, (w.clone(), fp));
                        }
                    }
                    fp
                }
            };
            if read == Read::Whole
                || self.applied.get(&w.spec.key) != Some(&fp)
                || draining.contains(&w.spec.key)
            {
                want.push(desired::health_shared(w, &facts.health));
            }
        }
        // Every service of the part has its entry: more entries than
        // services means some are of services gone.
        if self.fingerprints.len() != part.services.len() {
            let current: HashSet<ServiceKey> = part.services.values().map(|w| w.spec.key).collect();
            self.fingerprints.retain(|k, _| current.contains(k));
        }
        let fingerprints = &self.fingerprints;
        let gone: Vec<ServiceKey> = self
            .applied
            .keys()
            .filter(|k| !fingerprints.contains_key(k))
            .copied()
            .collect();
        // An uninterruptible first read: the reconciler adopts from it.
        let never = AtomicBool::new(false);
        let stop = if self.whole_read { stop } else { &never };
        // A targeted pass reads from the kernel what is draining (its
        // connection counts say when the drain ends) and what was refused
        // last time (the kernel is not what the view says); the rest is
        // taken as last known: the whole table as last read with every
        // accepted change since.
        let (live, from_view) = if read == Read::Changed {
            let asked = want.iter().map(|w| w.spec.key).chain(gone.iter().copied());
            let (live, known): (Vec<ServiceKey>, Vec<ServiceKey>) =
                asked.partition(|k| draining.contains(k) || self.stale.contains(k));
            let known: HashSet<ServiceKey> = known.into_iter().collect();
            let from_view: Vec<_> = self
                .view
                .lock()
                .table
                .services
                .iter()
                .filter(|s| known.contains(&s.spec.key))
                .cloned()
                .collect();
            (live, from_view)
        } else {
            (Vec::new(), Vec::new())
        };
        let read_live = live.len();
        let prepared = started.elapsed();
        let view = self.view.clone();
        let result = self.connect().and_then(|ipvs| {
            let table = match read {
                // Into the view, in place (see `read_whole_into`); the
                // plan below is made against it.
                Read::Whole => {
                    super::view::read_whole_into(ipvs, &view, stop)?.then(Table::default)
                }
                Read::Changed => {
                    let mut t = if live.is_empty() {
                        Table::default()
                    } else {
                        ipvs.services(&live)?
                    };
                    t.services.extend(from_view);
                    Some(t)
                }
            };
            let timeouts = part
                .settings
                .timeouts
                .map(|_| ipvs.timeouts())
                .transpose()?;
            Ok((table, timeouts))
        });
        let (table, live_timeouts) = match result {
            Ok((Some(t), live)) => {
                self.last_error = None;
                (t, live)
            }
            Ok((None, _)) => {
                return Outcome {
                    wake: None,
                    interrupted: true,
                    failed: false,
                };
            }
            Err(e) => return self.failed(e, shared),
        };
        let now = Instant::now();
        let read_took = now - started - prepared;
        let plan = match read {
            Read::Whole => {
                self.last_read = read_took;
                self.whole_read = true;
                let v = self.view.lock();
                self.rec.step(now, &want, &v.table, exclusive)
            }
            Read::Changed => self.rec.step_some(now, &want, &gone, &table, exclusive),
        };
        let planned = now.elapsed();
        let refused = match self.apply(&plan.ops, &want, shared) {
            Ok(r) => r,
            Err(e) => return self.failed(e, shared),
        };
        if !plan.ops.is_empty() {
            let services = match read {
                Read::Whole => self.view.lock().table.services.len(),
                Read::Changed => table.services.len(),
            };
            let msg = format!(
                "applied {} IPVS changes ({} refused) to {} services ({}): found {:.3}s ({worked_out} of {} worked out again), read {:.3}s, planned {:.3}s, applied {:.3}s",
                plan.ops.len() - refused.len(),
                refused.len(),
                services,
                match read {
                    Read::Whole => "the whole table read".to_string(),
                    Read::Changed => format!("those that changed, {read_live} read again"),
                },
                prepared.as_secs_f64(),
                part.services.len(),
                read_took.as_secs_f64(),
                planned.as_secs_f64(),
                (now.elapsed() - planned).as_secs_f64()
            );
            if plan.ops.len() > EVENTS_MAX {
                shared.emit(Event::new("ipvs", "table", msg));
            } else {
                // Each change was an event of its own; the pass's figures go
                // to the log only (the benches read them at any size).
                tracing::info!("ipvs pass: {msg}");
            }
        }
        // What was applied in full is not read again until it changes.
        if read == Read::Whole {
            self.applied.clear();
            self.stale.clear();
        }
        for k in &gone {
            self.applied.remove(k);
            self.stale.remove(k);
        }
        for w in &want {
            let key = w.spec.key;
            if refused.contains(&key) {
                self.applied.remove(&key);
                self.stale.insert(key);
            } else {
                self.stale.remove(&key);
                if let Some((_, fp)) = self.fingerprints.get(&key) {
                    self.applied.insert(key, *fp);
                }
            }
        }
        self.timeouts(part, live_timeouts, shared);
        // Status and the metrics: the table as read (a whole read is in
        // the view already; the services a targeted pass asked for replace
        // what was known of them), with the changes made.
        {
            let mut v = self.view.lock();
            v.error = None;
            match read {
                Read::Whole => {}
                Read::Changed => {
                    let asked: HashSet<&ServiceKey> =
                        want.iter().map(|w| &w.spec.key).chain(&gone).collect();
                    v.table.services.retain(|s| !asked.contains(&s.spec.key));
                    v.table.services.extend(table.services);
                }
            }
            let accepted = plan.ops.iter().filter(|op| !refused.contains(op.service()));
            reconcile::patch(&mut v.table, accepted);
        }
        if let Some(sync) = &part.sync {
            let master = facts.roles.get(&sync.follows).copied().unwrap_or(false);
            self.sync_daemons(&sync.ifname, sync.sync_id, master, shared);
        }
        if read == Read::Whole || plan.ops.len() > EVENTS_MAX {
            // A table read (replacing the last) or a big change: its
            // buffers are freed now; give the pages back.
            crate::runtime::heap::release();
        }
        Outcome {
            wake: plan.wake,
            interrupted: false,
            failed: false,
        }
    }

    /// Sends `ops`, [`CHURN`] at a time, and says each (or their sum);
    /// returns the services with a refused change. An error: the socket
    /// failed.
    fn apply(
        &mut self,
        ops: &[Op],
        want: &[Arc<Wanted>],
        shared: &Shared,
    ) -> Result<HashSet<ServiceKey>, String> {
        let names: HashMap<_, _> = want.iter().map(|w| (w.spec.key, w.name.as_str())).collect();
        let ipvs = self.ipvs.as_ref().expect("connected before");
        let mut refused = HashSet::default();
        for chunk in ops.chunks(CHURN) {
            let reqs: Vec<_> = chunk.iter().map(Op::request).collect();
            let results = ipvs.batch(&reqs)?;
            for (op, r) in chunk.iter().zip(results) {
                let from = names
                    .get(op.service())
                    .map_or_else(String::new, |n| format!(" (from `services.{n}`)"));
                match r {
                    Ok(()) => {
                        if ops.len() <= EVENTS_MAX {
                            let msg = format!("{}{from}", op.describe());
                            shared.emit(Event::new("ipvs", &op.service().to_string(), msg));
                        }
                    }
                    Err(e) => {
                        refused.insert(*op.service());
                        let msg = format!("{}{from} was refused by the kernel: {e}", op.attempt());
                        shared.emit(Event::new("ipvs", &op.service().to_string(), msg).error());
                        if let Op::DelService(k) = op {
                            self.rec.disown(k);
                        }
                    }
                }
            }
            if ops.len() > CHURN {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        Ok(refused)
    }

    /// `[ipvs.timeouts]`: set when the kernel's differ.
    fn timeouts(&self, part: &IpvsPart, live: Option<Timeouts>, shared: &Shared) {
        let (Some(t), Some(live), Some(ipvs)) = (part.settings.timeouts, live, self.ipvs.as_ref())
        else {
            return;
        };
        let differs = (t.tcp != 0 && t.tcp != live.tcp)
            || (t.tcp_fin != 0 && t.tcp_fin != live.tcp_fin)
            || (t.udp != 0 && t.udp != live.udp);
        if differs {
            let msg = match ipvs.call(&super::codec::set_config(&t)) {
                Ok(Ok(_)) => format!(
                    "set timeouts tcp {}s tcpfin {}s udp {}s",
                    t.tcp, t.tcp_fin, t.udp
                ),
                Ok(Err(e)) => {
                    format!("setting the IPVS timeouts was refused by the kernel: {e}")
                }
                Err(e) => e,
            };
            shared.emit(Event::new("ipvs", "timeouts", msg));
        }
    }

    /// Starts and stops the kernel's sync daemons to match: a backup daemon
    /// always, a master daemon while master. One with the wrong interface
    /// or id is restarted.
    fn sync_daemons(&mut self, ifname: &str, sync_id: u32, master: bool, shared: &Shared) {
        let Some(ipvs) = self.ipvs.as_ref() else {
            return;
        };
        let live = match ipvs.daemons() {
            Ok(d) => d,
            Err(e) => {
                shared.emit(Event::new("ipvs", "sync", e));
                return;
            }
        };
        // (what happened, whether it failed): a failure repeats every pass
        // until fixed, so the same one is said once.
        let mut msgs: Vec<(String, bool)> = Vec::new();
        for step in daemon_steps(&live, ifname, sync_id, master) {
            match step {
                DaemonStep::Stop(role) => {
                    let name = role_name(role);
                    msgs.push(match ipvs.call(&super::codec::del_daemon(role)) {
                        Ok(Ok(_)) => (format!("stopped the {name} sync daemon"), false),
                        Ok(Err(e)) => (
                            format!(
                                "stopping the {name} sync daemon was refused by the kernel: {e}"
                            ),
                            true,
                        ),
                        Err(e) => (e, true),
                    });
                }
                DaemonStep::Start(want) => {
                    let name = role_name(want.master);
                    msgs.push(match ipvs.call(&super::codec::new_daemon(&want)) {
                        Ok(Ok(_)) => (
                            format!("started the {name} sync daemon on {ifname} (sync id {sync_id})"),
                            false,
                        ),
                        Ok(Err(e)) => (
                            format!(
                                "starting the {name} sync daemon on {ifname} (from `ipvs.sync`) was refused by the kernel: {e}"
                            ),
                            true,
                        ),
                        Err(e) => (e, true),
                    });
                }
            }
        }
        for (m, failed) in msgs {
            if failed && self.last_sync_error.as_ref() == Some(&m) {
                continue;
            }
            self.last_sync_error = failed.then(|| m.clone());
            let event = Event::new("ipvs", "sync", m);
            shared.emit(if failed { event.error() } else { event });
        }
    }

    /// On shutdown with `on_shutdown = "flush"`: the services pharos put in go.
    fn flush_owned(&mut self, shared: &Shared) {
        let ops: Vec<_> = self
            .rec
            .owned()
            .iter()
            .map(super::codec::del_service)
            .collect();
        let Ok(ipvs) = self.connect() else { return };
        if let Ok(r) = ipvs.batch(&ops) {
            let n = r.iter().filter(|r| r.is_ok()).count();
            shared.emit(Event::new(
                "ipvs",
                "table",
                format!("flushed {n} services on shutdown"),
            ));
        }
    }
}

fn role_name(master: bool) -> &'static str {
    if master { "master" } else { "backup" }
}

#[derive(Debug, PartialEq, Eq)]
enum DaemonStep {
    Stop(bool),
    Start(Daemon),
}

/// Sans-IO: the sync daemons to stop and start. A backup daemon always
/// runs (so this director holds the peer's connections if it takes over);
/// a master daemon while the followed instance is master. One on the
/// wrong interface or sync id is stopped and started again.
fn daemon_steps(live: &[Daemon], ifname: &str, sync_id: u32, master: bool) -> Vec<DaemonStep> {
    let mut steps = Vec::new();
    for (role, wanted) in [(true, master), (false, true)] {
        let want = Daemon {
            master: role,
            ifname: ifname.to_string(),
            sync_id,
        };
        let have = live.iter().find(|d| d.master == role);
        if (wanted && have == Some(&want)) || (!wanted && have.is_none()) {
            continue;
        }
        if have.is_some() {
            steps.push(DaemonStep::Stop(role));
        }
        if wanted {
            steps.push(DaemonStep::Start(want));
        }
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(master: bool, ifname: &str, id: u32) -> Daemon {
        Daemon {
            master,
            ifname: ifname.into(),
            sync_id: id,
        }
    }

    #[test]
    fn the_sync_daemon_is_backup_always_and_master_while_master() {
        // Start as backup.
        assert_eq!(
            daemon_steps(&[], "eth0", 5, false),
            vec![DaemonStep::Start(d(false, "eth0", 5))]
        );
        // VRRP becomes master: the master daemon joins the backup one.
        let backup = [d(false, "eth0", 5)];
        assert_eq!(
            daemon_steps(&backup, "eth0", 5, true),
            vec![DaemonStep::Start(d(true, "eth0", 5))]
        );
        let both = [d(true, "eth0", 5), d(false, "eth0", 5)];
        assert_eq!(daemon_steps(&both, "eth0", 5, true), vec![]);
        // Back to backup: the master daemon stops.
        assert_eq!(
            daemon_steps(&both, "eth0", 5, false),
            vec![DaemonStep::Stop(true)]
        );
        // A changed sync id restarts the daemon.
        assert_eq!(
            daemon_steps(&backup, "eth0", 6, false),
            vec![
                DaemonStep::Stop(false),
                DaemonStep::Start(d(false, "eth0", 6))
            ]
        );
    }
}

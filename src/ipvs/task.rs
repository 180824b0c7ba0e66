//! The `ipvs` task: reconciles the config's services with the kernel's
//! IPVS table on start, on every reload, when a drain ends, when a VRRP
//! role changes, and every [`RECONCILE`] (longer for a table that takes
//! long to read) so that `ipvsadm -C` or `ipvsadm -d` by someone else is
//! undone. Publishes the table in `pharos status` and the metrics.
//!
//! Talks to: the kernel (genl "IPVS", finit_module for ip_vs and the
//! schedulers), the supervisor (updates in; status, events, metrics out).

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use super::status::{self, IpvsStatus};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;

use super::desired::{self, IpvsPart, Settings, Wanted};
use super::genl::Ipvs;
use super::model::{Daemon, Forward, Table};
use super::reconcile::{Op, Reconciler};
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

/// How long a pass waits for the network plane to load the modules it
/// needs before it goes ahead (and the kernel says what is missing).
const MODULE_WAIT: Duration = Duration::from_secs(10);

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
            let mut shell = Shell::default();
            let mut next_check = tokio::time::Instant::now() + RECONCILE;
            let mut wake: Option<Instant> = None;
            let mut roles = self.roles.subscribe();
            let mut health = self.health.subscribe();
            let mut modules = self.modules.subscribe();
            let mut waiting_since: Option<tokio::time::Instant> = None;
            loop {
                let drain_end = crate::runtime::supervisor::sleep_until(wake);
                tokio::select! {
                    () = ctx.cancel.cancelled() => {
                        if current.settings.flush_on_shutdown {
                            let shared = ctx.shared.clone();
                            let _ = tokio::task::spawn_blocking(move || shell.flush_owned(&shared)).await;
                        }
                        return Ok(());
                    }
                    // The whole part: a pass reconciles it against the
                    // live table, so what did not change sends nothing.
                    u = ctx.updates.recv() => match u {
                        Some(part) => current = part,
                        None => return Ok(()),
                    },
                    () = tokio::time::sleep_until(next_check) => {}
                    () = drain_end => {}
                    Ok(()) = roles.changed() => {}
                    Ok(()) = health.changed() => {}
                    Ok(()) = modules.changed() => {}
                }
                next_check = tokio::time::Instant::now() + RECONCILE;
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
                let facts = Facts {
                    health: self.health.borrow().clone(),
                    roles: self.roles.borrow().clone(),
                };
                let (back, next) = tokio::task::spawn_blocking(move || {
                    let next = shell.pass(&part, &facts, &shared);
                    (shell, next)
                })
                .await
                .map_err(|e| format!("reconciling IPVS: {e}"))?;
                // A huge table takes a while to read: the periodic check
                // then spends at most a tenth of the time reading.
                next_check = tokio::time::Instant::now() + RECONCILE.max(back.last_read * 10);
                shell = back;
                wake = next;
                ctx.ready.mark("ipvs");
            }
        })
    }
}

/// What the other subsystems say, as of the start of a pass.
struct Facts {
    health: crate::check::board::HealthBoard,
    roles: crate::vrrp::VrrpRoles,
}

/// The blocking side: the socket and the reconciler's memory.
#[derive(Default)]
struct Shell {
    ipvs: Option<Ipvs>,
    rec: Reconciler,
    /// The last connection error reported (said once, not every pass).
    last_error: Option<String>,
    /// Set once pharos has had IPVS work to do in this run.
    touched: bool,
    /// The last sync-daemon refusal reported.
    last_sync_error: Option<String>,
    /// How long the last read of the kernel's table took.
    last_read: Duration,
}

impl Shell {
    fn connect(&mut self) -> Result<&Ipvs, String> {
        if self.ipvs.is_none() {
            self.ipvs = Some(Ipvs::connect()?);
        }
        Ok(self.ipvs.as_ref().expect("just connected"))
    }

    /// One reconcile pass; returns when to come back for a drain.
    fn pass(&mut self, part: &IpvsPart, facts: &Facts, shared: &Shared) -> Option<Instant> {
        self.touched = true;
        let want = desired::with_health(part.services.values(), &facts.health);
        let Settings {
            exclusive,
            timeouts,
            ..
        } = part.settings;
        let started = Instant::now();
        let result = self.connect().and_then(|ipvs| {
            let table = ipvs.table()?;
            Ok((table, timeouts.map(|_| ipvs.timeouts()).transpose()?))
        });
        let (table, live_timeouts) = match result {
            Ok(t) => {
                self.last_error = None;
                t
            }
            Err(e) => {
                self.ipvs = None;
                if self.last_error.as_ref() != Some(&e) {
                    shared.emit(Event::new("ipvs", "kernel", e.clone()).error());
                    self.last_error = Some(e.clone());
                }
                let status = IpvsStatus {
                    services: Vec::new(),
                    error: Some(e),
                };
                shared.publish("ipvs", serde_json::to_value(&status).expect("serializes"));
                return None;
            }
        };
        let now = Instant::now();
        let read = now - started;
        self.last_read = read;
        let plan = self.rec.step(now, &want, &table, exclusive);
        let planned = now.elapsed();
        let names: BTreeMap<_, _> = want.iter().map(|w| (w.spec.key, w.name.as_str())).collect();
        let ipvs = self.ipvs.as_ref().expect("connected above");
        let mut done = 0usize;
        let mut refused = 0usize;
        for chunk in plan.ops.chunks(CHURN) {
            let reqs: Vec<_> = chunk.iter().map(Op::request).collect();
            let results = match ipvs.batch(&reqs) {
                Ok(r) => r,
                Err(e) => {
                    shared.emit(Event::new("ipvs", "kernel", e));
                    self.ipvs = None;
                    return None;
                }
            };
            for (op, r) in chunk.iter().zip(results) {
                let from = names
                    .get(op.service())
                    .map_or_else(String::new, |n| format!(" (from `services.{n}`)"));
                match r {
                    Ok(()) => {
                        done += 1;
                        if plan.ops.len() <= EVENTS_MAX {
                            let msg = format!("{}{from}", op.describe());
                            shared.emit(Event::new("ipvs", &op.service().to_string(), msg));
                        }
                    }
                    Err(e) => {
                        refused += 1;
                        let msg = format!("{}{from} was refused by the kernel: {e}", op.attempt());
                        shared.emit(Event::new("ipvs", &op.service().to_string(), msg).error());
                        if let Op::DelService(k) = op {
                            self.rec.disown(k);
                        }
                    }
                }
            }
            if plan.ops.len() > CHURN {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        if !plan.ops.is_empty() {
            let msg = format!(
                "applied {done} IPVS changes ({refused} refused) to a table of {} services: read {:.3}s, planned {:.3}s, applied {:.3}s",
                table.services.len(),
                read.as_secs_f64(),
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
        if let (Some(t), Some(live)) = (timeouts, live_timeouts) {
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
        // What the kernel has now, for status and metrics.
        let now_table = if plan.ops.is_empty() {
            Ok(table)
        } else {
            ipvs.table()
        };
        match now_table {
            Ok(t) => publish(&t, &want, shared),
            Err(e) => shared.emit(Event::new("ipvs", "kernel", e)),
        }
        if let Some(sync) = &part.sync {
            let master = facts.roles.get(&sync.follows).copied().unwrap_or(false);
            self.sync_daemons(&sync.ifname, sync.sync_id, master, shared);
        }
        plan.wake
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

fn fwd_name(f: Forward) -> &'static str {
    match f {
        Forward::Masq => "masq",
        Forward::Local => "local",
        Forward::Tunnel => "tunnel",
        Forward::Route => "route",
        Forward::Bypass => "bypass",
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ServiceLabel {
    service: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ServerLabel {
    service: String,
    server: String,
}

struct IpvsMetrics {
    conns: Family<ServiceLabel, Gauge>,
    inbytes: Family<ServiceLabel, Gauge>,
    outbytes: Family<ServiceLabel, Gauge>,
    weight: Family<ServerLabel, Gauge>,
    active: Family<ServerLabel, Gauge>,
    inactive: Family<ServerLabel, Gauge>,
}

static METRICS: OnceLock<IpvsMetrics> = OnceLock::new();

fn metrics(shared: &Shared) -> &'static IpvsMetrics {
    METRICS.get_or_init(|| {
        let m = IpvsMetrics {
            conns: Family::default(),
            inbytes: Family::default(),
            outbytes: Family::default(),
            weight: Family::default(),
            active: Family::default(),
            inactive: Family::default(),
        };
        let mut r = shared.metrics.registry();
        r.register(
            "ipvs_service_connections",
            "Connections scheduled by an IPVS service since it was added (kernel counter)",
            m.conns.clone(),
        );
        r.register(
            "ipvs_service_in_bytes",
            "Bytes in through an IPVS service (kernel counter)",
            m.inbytes.clone(),
        );
        r.register(
            "ipvs_service_out_bytes",
            "Bytes out through an IPVS service (kernel counter)",
            m.outbytes.clone(),
        );
        r.register(
            "ipvs_real_server_weight",
            "Weight of a real server in the kernel",
            m.weight.clone(),
        );
        r.register(
            "ipvs_real_server_active_connections",
            "Active connections of a real server",
            m.active.clone(),
        );
        r.register(
            "ipvs_real_server_inactive_connections",
            "Inactive connections of a real server",
            m.inactive.clone(),
        );
        m
    })
}

fn gauge(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// The `ipvs` status section and the metrics, from the live table.
fn publish(t: &Table, want: &[Wanted], shared: &Shared) {
    let m = metrics(shared);
    let by_key = super::reconcile::by_key(t);
    let mut services = Vec::new();
    for w in want {
        let live = by_key.get(&w.spec.key);
        let label = ServiceLabel {
            service: w.name.clone(),
        };
        if let Some(l) = live {
            m.conns.get_or_create(&label).set(gauge(l.stats.conns));
            m.inbytes.get_or_create(&label).set(gauge(l.stats.inbytes));
            m.outbytes
                .get_or_create(&label)
                .set(gauge(l.stats.outbytes));
        }
        let servers: Vec<status::Server> = live
            .map(|l| {
                l.dests
                    .iter()
                    .map(|d| {
                        let server = d.spec.endpoint();
                        let sl = ServerLabel {
                            service: w.name.clone(),
                            server: server.clone(),
                        };
                        m.weight.get_or_create(&sl).set(i64::from(d.spec.weight));
                        m.active.get_or_create(&sl).set(i64::from(d.active_conns));
                        m.inactive.get_or_create(&sl).set(i64::from(d.inact_conns));
                        status::Server {
                            server,
                            forward: fwd_name(d.spec.forward).to_string(),
                            weight: d.spec.weight,
                            active: d.active_conns,
                            inactive: d.inact_conns,
                            cps: d.stats.cps,
                            in_bps: d.stats.inbps,
                            out_bps: d.stats.outbps,
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        services.push(status::Service {
            name: w.name.clone(),
            service: w.spec.key.to_string(),
            scheduler: w.spec.scheduler.to_string(),
            state: if live.is_some() { "ok" } else { "missing" }.to_string(),
            connections: live.map(|l| l.stats.conns),
            servers,
        });
    }
    let status = IpvsStatus {
        services,
        error: None,
    };
    shared.publish("ipvs", serde_json::to_value(&status).expect("serializes"));
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

//! The `check` task: runs every real server's check and every stand-alone
//! `[checks]` entry on its own schedule, keeps their rise/fall and each
//! service's quorum ([`super::health`]), and publishes the result.
//!
//! ```text
//!  supervisor updates ──► targets (Target + Probe), one due time each
//!  earliest due ─────────► tcp: a connect in `connects` ─────────► result
//!                          others: probe(timeout), polled by the task ─┘
//!  result ───────────────► Target::record ─► transition? ─► board, events
//!                                                     └──► Quorum::update
//!  board (watch) ──► IPVS task: weight 0 / removed / sorry server
//!                         └► VRRP task: track.checks / track.services
//! ```
//!
//! Attempts run side by side in the task, so a slow server delays nothing
//! but its own next check; no tokio task or channel per attempt (10,000 a
//! second at scale). A tcp check's connect waits on the epoll set of
//! [`super::connects`], its deadline kept to the slots of the schedule;
//! the other kinds are futures (a `FuturesUnordered`, each woken on its
//! own). Start times are spread over the interval by key.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use futures_util::stream::FuturesUnordered;
use futures_util::{FutureExt as _, StreamExt};
use itertools::Itertools;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family as MFamily;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;

use super::board::{Board, HealthBoard};
use super::connects::Connects;
use super::desired::{Checks, Quorum};
use super::health::{self, Target, Timing, Transition, spread};
use super::probe::Probe;
use super::status::{self, CheckStatus, Schedule};
use crate::config::model::Check;
use crate::config::resolve::ServerId;
use crate::runtime::own_thread::on_own_thread;
use crate::runtime::status::Event;
use crate::runtime::supervisor::{Shared, Subsystem, TaskCtx, TaskFuture, now_std as now};

/// One check the runner schedules, under its name in status and events
/// (`rs:SERVICE/IP:PORT`, `check:NAME`).
#[derive(Debug, Clone, PartialEq)]
enum Item {
    RealServer {
        id: ServerId,
        ip: std::net::IpAddr,
        port: Option<u16>,
        check: Box<Check>,
    },
    Standalone {
        name: String,
        check: Box<Check>,
    },
}

/// The runner's checks for a part, by name.
fn items(p: &Checks) -> BTreeMap<String, Item> {
    let servers = p.servers.iter().map(|(id, c)| {
        (
            format!("rs:{id}"),
            Item::RealServer {
                id: id.clone(),
                ip: c.ip,
                port: c.port,
                check: Box::new(c.check.clone()),
            },
        )
    });
    let standalone = p.standalone.iter().map(|(name, c)| {
        (
            format!("check:{name}"),
            Item::Standalone {
                name: name.clone(),
                check: Box::new(c.clone()),
            },
        )
    });
    servers.chain(standalone).collect()
}

/// The `check` task; `board` is where it publishes what the checks say.
pub struct CheckTask {
    pub board: Board,
}

/// How often `pharos status` gets a fresh copy of every check's state.
const PUBLISH: Duration = Duration::from_secs(2);

/// Checks are started together in slots of this length: the timer is set
/// to the end of the slot the earliest due check falls in, and everything
/// due by then starts. A check may start up to this much late (shown in the
/// status's schedule), and the thread wakes at most 200 times a second
/// however many checks there are. Setting the timer to each check's own
/// time cost a wake-up and an epoll_wait per check (1,000 a second at
/// 1,000 checks); the eventfd write that came with each is [`Slots`]'s.
const SLOT: Duration = Duration::from_millis(5);

/// The timers of the two earliest slots with a check due. Two, so that
/// one is still set when the other fires: tokio's timer wakes its driver
/// (an eventfd write, and the next epoll_wait returns for it) whenever a
/// timer is set earlier than the earliest it knew of when it last slept or
/// fired. With only the earliest slot's timer, every fire left no timer
/// near, and the timer moved to the next slot and each attempt's timeout
/// cost that write: about one a check. With the next slot's timer still
/// set, both come after it.
struct Slots([std::pin::Pin<Box<tokio::time::Sleep>>; 2]);

impl Slots {
    fn new() -> Slots {
        let far = || Box::pin(tokio::time::sleep(PUBLISH));
        Slots([far(), far()])
    }

    /// Sets the timers to the slots `want` (the earliest first), moving
    /// only a timer that is at neither; returns which timers are armed.
    fn arm(&mut self, want: [Option<tokio::time::Instant>; 2]) -> [bool; 2] {
        let mut armed = [false; 2];
        let mut placed = [false; 2];
        for (k, w) in want.iter().enumerate() {
            let Some(w) = *w else { continue };
            if let Some(i) = (0..2).find(|&i| !armed[i] && self.0[i].deadline() == w) {
                armed[i] = true;
                placed[k] = true;
            }
        }
        for (k, w) in want.iter().enumerate() {
            let Some(w) = *w else { continue };
            if placed[k] {
                continue;
            }
            if let Some(i) = (0..2).find(|&i| !armed[i]) {
                self.0[i].as_mut().reset(w);
                armed[i] = true;
            }
        }
        armed
    }
}

/// The `p`th percentile of `late` in ms (the element at `len * p / 100`
/// in order), found without sorting the whole window: 20,000 lateness
/// figures every 2 s at 10,000 checks.
fn quantile(late: &mut [Duration], p: usize) -> Option<f64> {
    if late.is_empty() {
        return None;
    }
    let at = (late.len() * p / 100).min(late.len() - 1);
    Some(late.select_nth_unstable(at).1.as_secs_f64() * 1000.0)
}

/// The end of `at`'s slot, counted from `origin`.
fn slot(origin: tokio::time::Instant, at: tokio::time::Instant) -> tokio::time::Instant {
    let slot = SLOT.as_nanos();
    let n = at
        .saturating_duration_since(origin)
        .as_nanos()
        .div_ceil(slot);
    origin + Duration::from_nanos(u64::try_from(n * slot).unwrap_or(u64::MAX))
}

impl Subsystem for CheckTask {
    type Part = Checks;

    fn name(&self) -> &'static str {
        "check"
    }

    /// After VRRP has handed over, before IPVS is left.
    fn shutdown_rank(&self) -> u8 {
        20
    }

    /// On a thread of its own (`runtime::own_thread`): the probes, their
    /// timers and the schedule share one epoll loop, as keepalived's
    /// checker does, rather than being handed between the shared runtime's
    /// workers once per check.
    fn run(self: Arc<Self>, mut ctx: TaskCtx<Checks>) -> TaskFuture {
        on_own_thread("check", async move {
            let mut r = Runner {
                shared: ctx.shared.clone(),
                board: self.board.clone(),
                targets: foldhash::HashMap::default(),
                ids: foldhash::HashMap::default(),
                services: BTreeMap::new(),
                queue: BTreeSet::new(),
                attempts: FuturesUnordered::new(),
                last_id: 0,
                max_running: max_running(),
                connects: Connects::new().map_err(|e| {
                    format!("cannot make the epoll set for the tcp checks' connects: {e}")
                })?,
                answers: Vec::new(),
                metrics: metrics(&ctx.shared),
                late: Vec::new(),
                window_start: now(),
                // What the task before this one left on the board (none at
                // the first start): a panic must not take servers out.
                resume: Some(self.board.borrow().clone()),
                status: Arc::default(),
                status_shown: false,
            };
            let mut publish = tokio::time::interval(PUBLISH);
            let mut ready = false;
            let mut slots = Slots::new();
            let origin = tokio::time::Instant::now();
            // Made once: made in the loop, it joined and left the token's
            // waiter list (a lock each) at every turn, a turn a result.
            let cancelled = ctx.cancel.cancelled();
            tokio::pin!(cancelled);
            loop {
                let armed = slots.arm(r.next_slots(origin));
                let [a, b] = &mut slots.0;
                tokio::select! {
                    () = &mut cancelled => return Ok(()),
                    u = ctx.updates.recv() => match u {
                        // Only what differs by name is restarted: the
                        // other checks keep their rise/fall counts.
                        Some(part) => {
                            r.apply(&part);
                            if !ready {
                                ready = true;
                                ctx.ready.mark("check");
                            }
                        }
                        None => return Ok(()),
                    },
                    () = a.as_mut(), if armed[0] => r.tick(),
                    () = b.as_mut(), if armed[1] => r.tick(),
                    ids = r.connects.ready(), if !r.connects.is_empty() => r.connected(&ids),
                    Some(res) = r.attempts.next(), if !r.attempts.is_empty() => {
                        r.on_result(res);
                        // Others are often answered in the same epoll
                        // turn: taken here, not by a turn of this loop
                        // each (each turn polls every branch again).
                        while let Some(Some(res)) = r.attempts.next().now_or_never() {
                            r.on_result(res);
                        }
                    }
                    _ = publish.tick() => r.publish(),
                }
            }
        })
    }
}

struct Running {
    /// Its name in status and events (`rs:SERVICE/IP:PORT`, `check:NAME`).
    key: String,
    item: Item,
    probe: Option<Arc<Probe>>,
    /// `probe.describe()`, made once: status and events use it often.
    describe: Arc<str>,
    state: Target,
    latency: Option<Duration>,
}

struct Svc {
    want: Arc<Quorum>,
    state: health::Quorum,
    /// Its state has been worked out once (or was found on the board):
    /// from then on a change is told. The first working out is where the
    /// service starts, not a change: 10,000 services without checks each
    /// logged "has its quorum again" (and moved the board) at every start.
    settled: bool,
}

/// Attempts that may run at once: the open-file limit (`pharos run`
/// raises it to 65,536 where it may) less room for the process's other
/// files.
fn max_running() -> usize {
    let soft = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .map_or(1024, |(soft, _)| soft);
    usize::try_from(soft.saturating_sub(256)).map_or(usize::MAX, |n| n.max(64))
}

/// One probe's result, of either kind of attempt: the target's id,
/// outcome, how long it took.
type Res = super::connects::Answer;

/// One attempt in flight, boxed: its size is the probe kind's.
type Attempt = std::pin::Pin<Box<dyn Future<Output = Res> + Send>>;

struct Runner {
    board: Board,
    shared: Shared,
    /// By id: a number given to each target when it is put in, so the
    /// schedule and the results (10,000 a second at scale) carry no names.
    /// A target taken out and put back gets a new one, so a result of the
    /// old attempt finds nothing.
    targets: foldhash::HashMap<u64, Running>,
    /// The ids by name, for reloads and quorums.
    ids: foldhash::HashMap<String, u64>,
    services: BTreeMap<String, Svc>,
    queue: BTreeSet<(Instant, u64)>,
    last_id: u64,
    /// Attempts started and not yet answered, and how many may be: each
    /// holds a socket (an exec check a few pipes), and past the open-file
    /// limit attempts fail with "Too many open files" rather than check
    /// anything. A due check waits for a free place instead (it shows as
    /// late in the status's schedule and `check_lateness_seconds`).
    attempts: FuturesUnordered<Attempt>,
    max_running: usize,
    /// The tcp checks' connects in flight (they count against
    /// `max_running` too), and a buffer for their answers.
    connects: Connects,
    answers: Vec<Res>,
    metrics: &'static CheckMetrics,
    /// How late each attempt started since the last publish (for the
    /// status's p50/p99: is the scheduler keeping up?).
    late: Vec<Duration>,
    window_start: Instant,
    /// Until the first apply: the board as the task found it, so that a
    /// restarted task's targets and quorums start as they were.
    resume: Option<Arc<HealthBoard>>,
    /// The last copy of every target's state, made a status (sorted by
    /// target, text, JSON) only when someone asks: sorting and making
    /// 10,000 targets' text every 2 s cost the blocking thread about half
    /// as much CPU again as the checks themselves (callgrind), asked for
    /// or not. `pharos status` has it from the first publish on.
    /// Held behind an `Arc`, so that an ask takes the lock only to clone
    /// it: the sort happens outside, and never holds up a publish.
    status: Arc<Mutex<Arc<Published>>>,
    status_shown: bool,
}

impl Runner {
    /// Makes the checks and quorums those of `part`, by name: a check that
    /// did not change keeps its schedule and rise/fall counts, a quorum its
    /// state.
    fn apply(&mut self, part: &Checks) {
        let resume = self.resume.take().unwrap_or_default();
        let s = items(part);
        let keys: Vec<String> = self.ids.keys().cloned().collect();
        for k in keys {
            if !s.contains_key(&k) {
                self.remove(&k);
            }
        }
        let (gone, new) = side_by_side(&mut self.services, &part.services, |svc, q| {
            if svc.want != *q {
                svc.state.retune(q.quorum, q.hysteresis);
                svc.want = q.clone();
            }
        });
        for name in gone {
            self.services.remove(&name);
        }
        for (name, q) in new {
            let was = resume.services.get(name).copied();
            self.services.insert(
                name.clone(),
                Svc {
                    want: q.clone(),
                    state: health::Quorum::resumed(q.quorum, q.hysteresis, was.unwrap_or(false)),
                    settled: was.is_some(),
                },
            );
        }
        for (k, v) in s {
            let same = self.named(&k).is_some_and(|t| t.item == v);
            if !same {
                self.remove(&k);
                let was_up = match &v {
                    Item::RealServer { id, .. } => resume.real_servers.get(id),
                    Item::Standalone { name, .. } => resume.checks.get(name),
                };
                self.put(k, v, was_up == Some(&true));
            }
        }
        self.requorum_all();
        self.board_sync();
    }

    /// Adds a target; `up`: it starts up (a restarted task resuming it).
    fn put(&mut self, key: String, item: Item, up: bool) {
        match &item {
            Item::RealServer {
                ip, port, check, ..
            } => {
                let probe = Probe::new(check, *ip, *port);
                self.add_target(key, item.clone(), check, probe, up);
            }
            Item::Standalone { check, .. } => {
                let Some(ip) = check.address.map(|a| a.0) else {
                    // Validation requires `address` for probes that need one;
                    // an exec check runs with the loopback as its target.
                    let probe = Probe::new(check, std::net::IpAddr::from([127, 0, 0, 1]), None);
                    self.add_target(key, item.clone(), check, probe, up);
                    return;
                };
                let probe = Probe::new(check, ip, None);
                self.add_target(key, item.clone(), check, probe, up);
            }
        }
    }

    fn add_target(
        &mut self,
        key: String,
        item: Item,
        check: &Check,
        probe: Result<Probe, String>,
        up: bool,
    ) {
        let timing = Timing {
            interval: check.interval.0,
            retries: check.retries,
            retry_delay: check.retry_delay.0,
            rise: check.rise,
            fall: check.fall,
        };
        let first = now() + spread(&key, check.interval.0);
        self.last_id += 1;
        let id = self.last_id;
        let probe = match probe {
            Ok(p) => Some(Arc::new(p)),
            Err(e) => {
                // Stays down, and says why, rather than pretending.
                self.shared.emit(Event::new(
                    "check",
                    &key,
                    format!("cannot run this check: {e}; the target stays down"),
                ));
                None
            }
        };
        // Not runnable: down, whatever the board said.
        let state = if up && probe.is_some() {
            Target::resumed_up(timing, first)
        } else {
            Target::new(timing, first)
        };
        if probe.is_some() {
            self.queue.insert((first, id));
        }
        // From the start, not from its first transition: a target that
        // never comes up is a 0, not a missing series.
        self.metrics
            .up
            .get_or_create(&TargetLabel::of(&item))
            .set(i64::from(state.is_up()));
        self.ids.insert(key.clone(), id);
        self.targets.insert(
            id,
            Running {
                key,
                item,
                describe: probe
                    .as_ref()
                    .map_or_else(|| Arc::from("(not runnable)"), |p| Arc::from(p.describe())),
                probe,
                state,
                latency: None,
            },
        );
    }

    fn remove(&mut self, key: &str) {
        if let Some(t) = self.ids.remove(key).and_then(|id| {
            let t = self.targets.remove(&id)?;
            self.queue.remove(&(t.state.due(), id));
            Some(t)
        }) {
            // A target gone from the config is gone from `/metrics` too,
            // not left at its last value.
            self.metrics.up.remove(&TargetLabel::of(&t.item));
        }
    }

    /// Attempts in flight, of every kind.
    fn running(&self) -> usize {
        self.attempts.len() + self.connects.len()
    }

    /// The ends of the two earliest slots with something to do: a check
    /// due (while there is room to start it) or a connect's deadline.
    fn next_slots(&self, origin: tokio::time::Instant) -> [Option<tokio::time::Instant>; 2] {
        let deadline = self
            .connects
            .next_deadline()
            .map(|d| slot(origin, tokio::time::Instant::from_std(d)));
        let due = if self.running() < self.max_running {
            self.due_slots(origin)
        } else {
            [None, None]
        };
        let mut all: Vec<tokio::time::Instant> =
            due.into_iter().chain([deadline]).flatten().collect();
        all.sort_unstable();
        all.dedup();
        [all.first().copied(), all.get(1).copied()]
    }

    /// The ends of the two earliest slots with a check due.
    fn due_slots(&self, origin: tokio::time::Instant) -> [Option<tokio::time::Instant>; 2] {
        let Some(&(first, _)) = self.queue.first() else {
            return [None, None];
        };
        let first = slot(origin, tokio::time::Instant::from_std(first));
        // Every check due by `first` is in its slot or an earlier one.
        let after = (first.into_std(), u64::MAX);
        let second = self
            .queue
            .range((std::ops::Bound::Excluded(after), std::ops::Bound::Unbounded))
            .next()
            .map(|&(t, _)| slot(origin, tokio::time::Instant::from_std(t)));
        [Some(first), second]
    }

    /// At a slot's end: connects past their deadline fail, then the checks
    /// due start.
    fn tick(&mut self) {
        let mut out = std::mem::take(&mut self.answers);
        self.connects.expire(now(), &mut out);
        for res in out.drain(..) {
            self.on_result(res);
        }
        self.answers = out;
        self.fire();
    }

    /// The answers of the connects `ready` returned.
    fn connected(&mut self, ids: &[u64]) {
        let mut out = std::mem::take(&mut self.answers);
        self.connects.answered(ids, now(), &mut out);
        for res in out.drain(..) {
            self.on_result(res);
        }
        self.answers = out;
    }

    /// Starts every probe that is due, as many as may run at once: a tcp
    /// check's connect in `connects`, the other kinds as futures.
    fn fire(&mut self) {
        let t = now();
        let mut at_once = std::mem::take(&mut self.answers);
        while let Some(&(due, id)) = self.queue.first() {
            if due > t || self.running() >= self.max_running {
                break;
            }
            self.queue.pop_first();
            let Some(r) = self.targets.get_mut(&id) else {
                continue;
            };
            let Some(probe) = r.probe.clone() else {
                continue;
            };
            let late = t.saturating_duration_since(due);
            self.metrics.lateness.observe(late.as_secs_f64());
            self.late.push(late);
            let timeout = match &r.item {
                Item::RealServer { check, .. } | Item::Standalone { check, .. } => {
                    check.timeout().0
                }
            };
            if let Some((target, bind)) = probe.tcp() {
                at_once.extend(self.connects.start(id, target, bind, timeout, t));
                continue;
            }
            self.attempts.push(Box::pin(async move {
                let start = Instant::now();
                let out = probe.run(timeout).await;
                (id, out, start.elapsed())
            }));
        }
        for res in at_once.drain(..) {
            self.on_result(res);
        }
        self.answers = at_once;
    }

    fn on_result(&mut self, (id, out, took): Res) {
        let Some(r) = self.targets.get_mut(&id) else {
            return;
        };
        r.latency = Some(took);
        let passed = out.is_ok();
        if passed {
            self.metrics.passed.inc();
        } else {
            self.metrics.failed.inc();
        }
        self.metrics.latency.observe(took.as_secs_f64());
        let t = now();
        let change = r.state.record(t, out.map_err(|f| f.reason));
        self.queue.insert((r.state.due(), id));
        let Some(change) = change else { return };
        let up = change == Transition::Up;
        let describe = r.describe.clone();
        let why = match r.state.last() {
            Some(Err(reason)) => format!("{reason} ({} failures in a row)", r.state.fails()),
            _ => format!("passed in {} ms", took.as_millis()),
        };
        self.metrics
            .up
            .get_or_create(&TargetLabel::of(&r.item))
            .set(i64::from(up));
        match r.item.clone() {
            Item::RealServer { id, .. } => {
                let (service, server) = (&id.service, &id.server);
                let msg = if up {
                    format!("making {server} available in service {service}: {describe} {why}")
                } else {
                    format!("shutting down {server} in service {service}: {describe}: {why}")
                };
                let event = Event::new("check", &id.to_string(), msg);
                self.shared.emit(if up { event } else { event.warn() });
                self.board.send_modify(|b| {
                    Arc::make_mut(b).real_servers.insert(id.clone(), up);
                });
                self.requorum(service);
            }
            Item::Standalone { name, .. } => {
                let msg = if up {
                    format!("check {name} is up: {describe} {why}")
                } else {
                    format!("check {name} is down: {describe}: {why}")
                };
                self.shared.emit(Event::new("check", &name, msg));
                self.board.send_modify(|b| {
                    Arc::make_mut(b).checks.insert(name.clone(), up);
                });
            }
        }
    }

    /// The target of that name (`rs:...`, `check:...`).
    fn named(&self, key: &str) -> Option<&Running> {
        self.ids.get(key).and_then(|id| self.targets.get(id))
    }

    fn requorum_all(&mut self) {
        let mut key = String::new();
        for (name, svc) in &mut self.services {
            let found = (&self.ids, &self.targets);
            requorum(name, svc, found, &self.shared, &self.board, &mut key);
        }
    }

    fn requorum(&mut self, service: &str) {
        if let Some(svc) = self.services.get_mut(service) {
            let found = (&self.ids, &self.targets);
            requorum(
                service,
                svc,
                found,
                &self.shared,
                &self.board,
                &mut String::new(),
            );
        }
    }

    /// Makes the board match the targets and services exactly (after a
    /// start or reload: entries for removed ones go).
    fn board_sync(&mut self) {
        let (targets, services) = (&self.targets, &self.services);
        // In place: a reload of 10,000 unchanged services compares each
        // entry and copies none (building a new board copied every name).
        self.board.send_if_modified(|b| {
            // A copy only if a pass holds the board now.
            let b = Arc::make_mut(b);
            let mut changed = false;
            let (mut servers, mut checks) = (0, 0);
            for r in targets.values() {
                let up = r.state.is_up();
                changed |= match &r.item {
                    Item::RealServer { id, .. } => {
                        servers += 1;
                        set(&mut b.real_servers, id, up)
                    }
                    Item::Standalone { name, .. } => {
                        checks += 1;
                        set(&mut b.checks, name, up)
                    }
                };
            }
            let (gone, new) = side_by_side(&mut b.services, services, |up, svc| {
                let now = svc.state.is_up();
                changed |= *up != now;
                *up = now;
            });
            changed |= !gone.is_empty() || !new.is_empty();
            for name in gone {
                b.services.remove(&name);
            }
            for (name, svc) in new {
                b.services.insert(name.clone(), svc.state.is_up());
            }
            // More entries than wanted: some are of targets or services gone.
            if b.real_servers.len() != servers || b.checks.len() != checks {
                let (mut wanted_servers, mut wanted_checks) = (HashSet::new(), HashSet::new());
                for r in targets.values() {
                    match &r.item {
                        Item::RealServer { id, .. } => wanted_servers.insert(id),
                        Item::Standalone { name, .. } => wanted_checks.insert(name),
                    };
                }
                b.real_servers.retain(|k, _| wanted_servers.contains(k));
                b.checks.retain(|k, _| wanted_checks.contains(k));
                changed = true;
            }
            changed
        });
    }

    fn publish(&mut self) {
        let window = self.window_start.elapsed();
        self.window_start = now();
        let schedule = Schedule {
            attempts_per_s: self.late.len() as f64 / window.as_secs_f64().max(0.001),
            late_p50_ms: quantile(&mut self.late, 50),
            late_p99_ms: quantile(&mut self.late, 99),
            late_max_ms: self.late.iter().max().map(|d| d.as_secs_f64() * 1000.0),
        };
        self.late.clear();
        // A cheap copy here; sorting, text and JSON when asked for.
        let rows: Vec<Row> = self
            .targets
            .values()
            .map(|r| Row {
                target: r.key.clone(),
                check: r.describe.clone(),
                up: r.state.is_up(),
                last: r.state.last().cloned(),
                latency: r.latency,
                passes: r.state.passes(),
                fails: r.state.fails(),
                rise: r.state.timing().rise,
                fall: r.state.timing().fall,
                checks: r.state.checks(),
            })
            .collect();
        let services: BTreeMap<String, status::Quorum> = self
            .services
            .iter()
            .map(|(n, s)| {
                (
                    n.clone(),
                    status::Quorum {
                        quorum_up: s.state.is_up(),
                    },
                )
            })
            .collect();
        let old = std::mem::replace(
            &mut *self.status.lock().unwrap_or_else(|e| e.into_inner()),
            Arc::new(Published {
                schedule,
                rows,
                services,
            }),
        );
        // The last copy's strings are freed off the schedule's thread.
        tokio::task::spawn_blocking(move || drop(old));
        if !std::mem::replace(&mut self.status_shown, true) {
            let shown = self.status.clone();
            self.shared.publish_with(
                "check",
                Arc::new(move || {
                    let last = shown.lock().unwrap_or_else(|e| e.into_inner()).clone();
                    serde_json::to_value(last.status()).expect("the check status serializes")
                }),
            );
        }
    }
}

/// The check task's last copy of its state, for the status.
#[derive(Default)]
struct Published {
    schedule: Schedule,
    rows: Vec<Row>,
    services: BTreeMap<String, status::Quorum>,
}

impl Published {
    /// The status section: every target in order, as text.
    fn status(&self) -> CheckStatus {
        let mut rows: Vec<&Row> = self.rows.iter().collect();
        rows.sort_unstable_by(|a, b| a.target.cmp(&b.target));
        let targets = rows
            .into_iter()
            .map(|r| status::Target {
                target: r.target.clone(),
                check: r.check.to_string(),
                state: if r.up { "up" } else { "down" }.to_string(),
                last: match &r.last {
                    None => "not checked yet".to_string(),
                    Some(Ok(())) => "pass".to_string(),
                    Some(Err(e)) => e.clone(),
                },
                latency_ms: r.latency.map(|d| d.as_secs_f64() * 1000.0),
                passes: r.passes,
                fails: r.fails,
                rise: r.rise,
                fall: r.fall,
                checks: r.checks,
            })
            .collect();
        CheckStatus {
            schedule: self.schedule.clone(),
            targets,
            services: self.services.clone(),
        }
    }
}

/// One target's state, copied for the status.
struct Row {
    target: String,
    check: Arc<str>,
    up: bool,
    last: Option<Result<(), String>>,
    latency: Option<Duration>,
    passes: u32,
    fails: u32,
    rise: u32,
    fall: u32,
    checks: u64,
}

// ---------------------------------------------------------------- metrics

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabel {
    result: String,
}

/// A checked target as the config names it: a real server by its
/// service's name and its `IP:PORT` (the service's port when its key has
/// none; the same `server` as the IPVS families'), a stand-alone check by
/// its name. Never the task's internal keys (`rs:...`, `check:...`).
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
enum TargetLabel {
    RealServer { service: Arc<str>, server: String },
    Check { check: String },
}

impl TargetLabel {
    fn of(item: &Item) -> TargetLabel {
        match item {
            Item::RealServer { id, ip, port, .. } => TargetLabel::RealServer {
                service: id.service.clone(),
                server: crate::config::types::Endpoint {
                    ip: *ip,
                    port: *port,
                }
                .to_string(),
            },
            Item::Standalone { name, .. } => TargetLabel::Check {
                check: name.clone(),
            },
        }
    }
}

impl EncodeLabelSet for TargetLabel {
    fn encode(
        &self,
        encoder: &mut prometheus_client::encoding::LabelSetEncoder<'_>,
    ) -> Result<(), std::fmt::Error> {
        match self {
            TargetLabel::RealServer { service, server } => {
                [("service", &**service), ("server", server.as_str())].encode(encoder)
            }
            TargetLabel::Check { check } => [("check", check.as_str())].encode(encoder),
        }
    }
}

struct CheckMetrics {
    results: MFamily<ResultLabel, Counter>,
    /// The family's two series, looked up once rather than per result
    /// (a label allocation and a lock on the hot path).
    passed: Counter,
    failed: Counter,
    up: MFamily<TargetLabel, Gauge>,
    latency: Histogram,
    lateness: Histogram,
}

static METRICS: OnceLock<CheckMetrics> = OnceLock::new();

/// Works `service`'s quorum out again from its members' targets (found
/// by name in `ids`, then `targets`), and says and boards a change. `key`
/// is a buffer for those names, so a reload's pass over 10,000 services
/// allocates none.
fn requorum(
    service: &str,
    svc: &mut Svc,
    (ids, targets): (
        &foldhash::HashMap<String, u64>,
        &foldhash::HashMap<u64, Running>,
    ),
    shared: &Shared,
    board: &Board,
    key: &mut String,
) {
    let alive: u64 = svc.want.unchecked
        + svc
            .want
            .members
            .iter()
            .filter(|(s, _)| {
                key.clear();
                let _ = write!(key, "rs:{s}");
                ids.get(key.as_str())
                    .and_then(|id| targets.get(id))
                    .is_some_and(|t| t.state.is_up())
            })
            .map(|(_, w)| u64::from(*w))
            .sum::<u64>();
    let changed = svc.state.update(alive);
    if !svc.settled {
        // Where it starts: the board takes it from `board_sync`.
        svc.settled = true;
        return;
    }
    if let Some(up) = changed {
        let sorry = svc
            .want
            .sorry
            .as_ref()
            .map(|s| {
                format!(
                    "; sorry server {s} {}",
                    if up { "leaves" } else { "stands in" }
                )
            })
            .unwrap_or_default();
        let msg = if up {
            format!("service {service} has its quorum again (up weight {alive}){sorry}")
        } else {
            format!("service {service} is below its quorum (up weight {alive}){sorry}")
        };
        shared.emit(Event::new("check", service, msg));
        board.send_modify(|b| {
            Arc::make_mut(b).services.insert(service.to_string(), up);
        });
    }
}

/// Walks two maps side by side, both in name order: `both` for each name
/// in the two; returns the names only in `have` and the entries only in
/// `want`. A reload of 10,000 services looked each up by name, twice, in
/// maps it could walk in step.
fn side_by_side<'w, V, W>(
    have: &mut BTreeMap<String, V>,
    want: &'w BTreeMap<String, W>,
    mut both: impl FnMut(&mut V, &'w W),
) -> (Vec<String>, Vec<(&'w String, &'w W)>) {
    use itertools::EitherOrBoth::{Both, Left, Right};
    let (mut gone, mut new) = (Vec::new(), Vec::new());
    for e in have
        .iter_mut()
        .merge_join_by(want, |(a, _), (b, _)| (*a).cmp(*b))
    {
        match e {
            Left((k, _)) => gone.push(k.clone()),
            Right(w) => new.push(w),
            Both((_, v), (_, w)) => both(v, w),
        }
    }
    (gone, new)
}

/// Sets `key` to `up` in one of the board's maps; whether that changed it.
fn set<K: Ord + Clone>(map: &mut BTreeMap<K, bool>, key: &K, up: bool) -> bool {
    match map.get_mut(key) {
        Some(v) if *v == up => false,
        Some(v) => {
            *v = up;
            true
        }
        None => {
            map.insert(key.clone(), up);
            true
        }
    }
}

fn metrics(shared: &Shared) -> &'static CheckMetrics {
    METRICS.get_or_init(|| {
        let buckets = [
            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
        ];
        let results = MFamily::<ResultLabel, Counter>::default();
        let series = |r: &str| {
            results
                .get_or_create(&ResultLabel { result: r.into() })
                .clone()
        };
        let m = CheckMetrics {
            passed: series("pass"),
            failed: series("fail"),
            results: results.clone(),
            up: MFamily::default(),
            latency: Histogram::new(buckets),
            lateness: Histogram::new(buckets),
        };
        let mut r = shared.metrics.registry();
        r.register(
            "check_results",
            "Check attempts by result",
            m.results.clone(),
        );
        r.register(
            "check_up",
            "1 while a checked target is up (after rise passes), 0 while down; a real server by service and server (IP:PORT), a stand-alone check by check",
            m.up.clone(),
        );
        r.register(
            "check_latency_seconds",
            "How long check attempts took",
            m.latency.clone(),
        );
        r.register(
            "check_lateness_seconds",
            "How late check attempts started against their schedule",
            m.lateness.clone(),
        );
        m
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quantile_is_the_element_at_its_place_in_order() {
        let mut late: Vec<Duration> = (1..=100).rev().map(Duration::from_millis).collect();
        assert_eq!(quantile(&mut late, 50), Some(51.0));
        assert_eq!(quantile(&mut late, 99), Some(100.0));
        assert_eq!(quantile(&mut late, 0), Some(1.0));
        let mut one = vec![Duration::from_millis(7)];
        assert_eq!(quantile(&mut one, 99), Some(7.0));
        assert_eq!(quantile(&mut [], 50), None);
    }

    #[test]
    fn a_due_time_is_taken_to_the_end_of_its_slot() {
        let o = tokio::time::Instant::now();
        let ms = Duration::from_millis;
        assert_eq!(slot(o, o), o);
        assert_eq!(slot(o, o + ms(1)), o + SLOT);
        assert_eq!(slot(o, o + SLOT), o + SLOT);
        assert_eq!(slot(o, o + SLOT + ms(1)), o + SLOT * 2);
        // Never early, never more than a slot late; a time before the
        // origin (a check already overdue) is due at once.
        for t in 0..50 {
            let at = o + ms(t) + Duration::from_micros(337);
            let s = slot(o, at);
            assert!(s >= at && s - at < SLOT, "{t}");
        }
        assert!(slot(o + ms(10), o) <= o + ms(10));
    }

    #[test]
    fn two_maps_walked_side_by_side_find_what_is_in_both_gone_and_new() {
        let map = |names: &[&str]| -> BTreeMap<String, u32> {
            names.iter().map(|n| ((*n).to_string(), 0)).collect()
        };
        let mut have = map(&["a", "c", "d", "f"]);
        let want = map(&["b", "c", "e", "f", "g"]);
        let mut seen = 0;
        let (gone, new) = side_by_side(&mut have, &want, |v, _| {
            *v += 1;
            seen += 1;
        });
        assert_eq!(seen, 2);
        assert_eq!((have["c"], have["f"], have["a"]), (1, 1, 0));
        assert_eq!(gone, ["a", "d"]);
        let new: Vec<&str> = new.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(new, ["b", "e", "g"]);
        let (gone, new) = side_by_side(&mut map(&[]), &want, |_, _| {});
        assert_eq!((gone.len(), new.len()), (0, 5));
        let none = map(&[]);
        let (gone, new) = side_by_side(&mut map(&["x"]), &none, |_, _| {});
        assert_eq!((gone, new.len()), (vec!["x".to_string()], 0));
    }

    #[tokio::test(start_paused = true)]
    async fn the_timer_of_the_next_slot_stays_where_it_is() {
        let o = tokio::time::Instant::now();
        let at = |n: u32| Some(o + SLOT * n);
        let mut s = Slots::new();
        assert_eq!(s.arm([at(1), at(2)]), [true, true]);
        let deadlines = |s: &Slots| [s.0[0].deadline(), s.0[1].deadline()];
        assert_eq!(deadlines(&s), [o + SLOT, o + SLOT * 2]);
        // Slot 1 fired: the timer at slot 2 is not touched, the other moves.
        assert_eq!(s.arm([at(2), at(3)]), [true, true]);
        assert_eq!(deadlines(&s), [o + SLOT * 3, o + SLOT * 2]);
        // One slot left: one timer armed, the other not listened to.
        assert_eq!(s.arm([at(3), None]), [true, false]);
        assert_eq!(s.arm([None, None]), [false, false]);
    }
}

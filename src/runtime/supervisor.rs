//! Runs each subsystem as a tokio task, restarts it when it fails (with
//! backoff, see `backoff.rs`), hands it its typed part of the desired state
//! on start and again on a reload that changes it (and only then), and stops
//! them all in order on shutdown.
//!
//! The supervisor is generic over `D`, the desired state of one config
//! load, which the layer above works out once (`crate::director`); each
//! task is added with the projection that picks its part out of it.
//!
//! A task that panics or returns an error is restarted on its own; the
//! others are not touched. One that keeps failing is marked Failed and left
//! stopped; the process stays up.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::task::AbortHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::backoff::{Backoff, Decision, Policy};
use super::changes::Part;
use super::metrics::Metrics;
use super::status::{Event, Level, Status, TaskState, TaskStatus};

/// Which tasks have finished their first full apply. READY=1 waits for all.
#[derive(Clone, Default)]
pub struct Ready {
    pending: Arc<Mutex<std::collections::BTreeSet<String>>>,
    notify: Arc<tokio::sync::Notify>,
}

impl Ready {
    fn expect(&self, task: &str) {
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(task.to_string());
    }

    /// A task says its first apply is done.
    pub fn mark(&self, task: &str) {
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(task);
        self.notify.notify_waiters();
    }

    /// Waits until every task is ready, or `timeout`; returns those still pending.
    pub async fn wait(&self, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let notified = self.notify.notified();
            let pending: Vec<String> = self
                .pending
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .cloned()
                .collect();
            if pending.is_empty() {
                return pending;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return pending;
            }
        }
    }
}

/// Handles shared by the supervisor and every task.
#[derive(Clone)]
pub struct Shared {
    pub events: broadcast::Sender<Event>,
    pub status: Arc<Mutex<Status>>,
    pub metrics: Arc<Metrics>,
    pub ready: Ready,
    /// Sections of `pharos status` built when asked for (a big IPVS table
    /// is not turned into JSON on every pass, only when someone looks).
    pub sections: Sections,
    /// Whether a reload is under way: a task doing something long it can
    /// put off (the IPVS task's paced whole-table read) gives way while it
    /// is, so the reload's check of the file does not share a small box's
    /// CPU with it.
    pub reloads: Reloads,
}

/// Whether a reload is under way (see [`Shared::reloads`]).
#[derive(Clone)]
pub struct Reloads(Arc<tokio::sync::watch::Sender<bool>>);

impl Default for Reloads {
    fn default() -> Self {
        Reloads(Arc::new(tokio::sync::watch::Sender::new(false)))
    }
}

/// A reload under way, until dropped.
pub struct Reloading(Reloads);

impl Drop for Reloading {
    fn drop(&mut self) {
        self.0.0.send_replace(false);
    }
}

impl Reloads {
    /// Says a reload has begun, until the guard is dropped.
    pub fn begin(&self) -> Reloading {
        self.0.send_replace(true);
        Reloading(self.clone())
    }

    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<bool> {
        self.0.subscribe()
    }
}

/// A status section built on demand.
pub type Section = Arc<dyn Fn() -> serde_json::Value + Send + Sync>;

/// The on-demand sections, by name.
pub type Sections = Arc<Mutex<BTreeMap<String, Section>>>;

impl Shared {
    pub fn emit(&self, event: Event) {
        let (k, s, m) = (&event.kind, &event.subject, &event.message);
        match event.level {
            Level::Info => tracing::info!(kind = %k, subject = %s, "{m}"),
            Level::Warn => tracing::warn!(kind = %k, subject = %s, "{m}"),
            Level::Error => tracing::error!(kind = %k, subject = %s, "{m}"),
        }
        // No subscribers is fine: nobody is watching `pharos events`.
        let _ = self.events.send(event);
    }

    /// Sets a subsystem's section of `pharos status`.
    pub fn publish(&self, section: &str, value: serde_json::Value) {
        let mut s = self.status.lock().unwrap_or_else(|e| e.into_inner());
        s.subsystems.insert(section.to_string(), value);
    }

    /// Sets a subsystem's section of `pharos status` to what `build`
    /// returns at the time of asking.
    pub fn publish_with(&self, section: &str, build: Section) {
        let mut s = self.sections.lock().unwrap_or_else(|e| e.into_inner());
        s.insert(section.to_string(), build);
    }
}

/// What a running task gets.
pub struct TaskCtx<P> {
    /// Its part of the desired state: the whole part first, on every
    /// (re)start (reconcile against the live kernel), then again on each
    /// reload that changes it. The task diffs by name where it keeps state.
    pub updates: mpsc::UnboundedReceiver<Arc<P>>,
    pub shared: Shared,
    /// Cancelled on shutdown: do the shutdown steps and return `Ok`.
    pub cancel: CancellationToken,
    /// Call `ready.mark(name)` once the first full apply is done.
    pub ready: Ready,
}

pub type TaskFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

/// A part of pharos that runs as a supervised task.
pub trait Subsystem: Send + Sync + 'static {
    /// Its typed part of the desired state.
    type Part: Part;
    fn name(&self) -> &'static str;
    /// Shutdown order: lower stops first (VRRP hands over the VIPs before
    /// checks stop, before IPVS is left or flushed).
    fn shutdown_rank(&self) -> u8;
    /// Runs until cancelled. An `Err` or a panic gets it restarted.
    fn run(self: Arc<Self>, ctx: TaskCtx<Self::Part>) -> TaskFuture;
}

/// The type-erased face of a subsystem, so one supervisor runs them all.
trait Slot<D>: Send {
    fn name(&self) -> &'static str;
    fn rank(&self) -> u8;
    fn start(&mut self, shared: &Shared, cancel: CancellationToken) -> TaskFuture;
    /// Sends the new part to the running task; `None` if it did not change.
    fn reload(&mut self, desired: &D) -> Option<String>;
}

struct TypedSlot<S: Subsystem, D> {
    sub: Arc<S>,
    part: fn(&D) -> Arc<S::Part>,
    current: Arc<S::Part>,
    tx: Option<mpsc::UnboundedSender<Arc<S::Part>>>,
}

impl<S: Subsystem, D: 'static> Slot<D> for TypedSlot<S, D> {
    fn name(&self) -> &'static str {
        self.sub.name()
    }
    fn rank(&self) -> u8 {
        self.sub.shutdown_rank()
    }
    fn start(&mut self, shared: &Shared, cancel: CancellationToken) -> TaskFuture {
        let (tx, rx) = mpsc::unbounded_channel();
        let _ = tx.send(self.current.clone());
        self.tx = Some(tx);
        self.sub.clone().run(TaskCtx {
            updates: rx,
            shared: shared.clone(),
            cancel,
            ready: shared.ready.clone(),
        })
    }
    fn reload(&mut self, desired: &D) -> Option<String> {
        let new = (self.part)(desired);
        if Arc::ptr_eq(&new, &self.current) {
            return None;
        }
        // What is named first: a part that changed (what a reload is for)
        // is walked once, not compared whole and then walked for its
        // changes (10,000 services, twice).
        let mut changes = new.changes(&self.current);
        if changes.is_empty() {
            if *new == *self.current {
                return None;
            }
            // It differs in something that is not named (a setting).
            changes.changed = 1;
        }
        self.current = new;
        // A task that is down gets the new part when it restarts.
        if let Some(tx) = &self.tx {
            let _ = tx.send(self.current.clone());
        }
        Some(changes.summary())
    }
}

struct Running<D> {
    slot: Box<dyn Slot<D>>,
    backoff: Backoff,
    state: TaskState,
    last_error: Option<String>,
    generation: u64,
    cancel: CancellationToken,
    abort: Option<AbortHandle>,
    restart_at: Option<Instant>,
}

/// Commands to a running supervisor.
pub enum Command<D> {
    /// Apply the desired state of a validated config; replies with each
    /// subsystem's change summary.
    Reload(Arc<D>, oneshot::Sender<BTreeMap<String, String>>),
    /// Stop every task in order within `bound`; replies with the steps.
    Shutdown(Duration, oneshot::Sender<Vec<ShutdownStep>>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct ShutdownStep {
    pub task: String,
    pub took: Duration,
    /// False when the task overran the bound and was aborted.
    pub clean: bool,
}

type Exit = (usize, u64, Result<(), String>);

pub struct Supervisor<D> {
    tasks: Vec<Running<D>>,
    shared: Shared,
    policy: Policy,
    exits_tx: mpsc::UnboundedSender<Exit>,
    exits_rx: mpsc::UnboundedReceiver<Exit>,
    watchdog: Option<Duration>,
}

impl<D: Send + Sync + 'static> Supervisor<D> {
    pub fn new(shared: Shared, policy: Policy) -> Self {
        let (exits_tx, exits_rx) = mpsc::unbounded_channel();
        Supervisor {
            tasks: Vec::new(),
            shared,
            policy,
            exits_tx,
            exits_rx,
            watchdog: None,
        }
    }

    /// Sends `WATCHDOG=1` from the supervisor's own loop at this period, so a
    /// wedged supervisor stops petting the watchdog and systemd steps in.
    pub fn with_watchdog(mut self, period: Option<Duration>) -> Self {
        self.watchdog = period;
        self
    }

    /// Adds a task; `part` picks its part out of the desired state
    /// (`desired` is the first one, the task's start).
    pub fn add<S: Subsystem>(&mut self, sub: S, part: fn(&D) -> Arc<S::Part>, desired: &D) {
        let current = part(desired);
        self.shared.ready.expect(sub.name());
        self.tasks.push(Running {
            slot: Box::new(TypedSlot {
                sub: Arc::new(sub),
                part,
                current,
                tx: None,
            }),
            backoff: Backoff::new(self.policy),
            state: TaskState::Stopped,
            last_error: None,
            generation: 0,
            cancel: CancellationToken::new(),
            abort: None,
            restart_at: None,
        });
    }

    fn spawn(&mut self, i: usize) {
        let t = &mut self.tasks[i];
        t.generation += 1;
        t.cancel = CancellationToken::new();
        t.backoff.on_start(Instant::now().into_std());
        t.state = TaskState::Running;
        t.restart_at = None;
        let fut = t.slot.start(&self.shared, t.cancel.clone());
        #[cfg(feature = "fault-switch")]
        let fut = super::fault::point(t.slot.name(), fut);
        let inner = tokio::spawn(fut);
        t.abort = Some(inner.abort_handle());
        let (gen_, tx) = (t.generation, self.exits_tx.clone());
        tokio::spawn(async move {
            let outcome = match inner.await {
                Ok(r) => r,
                Err(e) if e.is_panic() => {
                    Err(format!("panicked: {}", panic_message(e.into_panic())))
                }
                Err(_) => Err("aborted".to_string()),
            };
            let _ = tx.send((i, gen_, outcome));
        });
        let name = t.slot.name();
        self.shared.metrics.task_up(name, true);
        self.publish_tasks();
    }

    fn publish_tasks(&self) {
        let tasks = self
            .tasks
            .iter()
            .map(|t| TaskStatus {
                name: t.slot.name().to_string(),
                state: t.state,
                restarts: t.backoff.restarts,
                last_error: t.last_error.clone(),
            })
            .collect();
        let mut s = self.shared.status.lock().unwrap_or_else(|e| e.into_inner());
        s.tasks = tasks;
    }

    fn on_exit(&mut self, i: usize, generation: u64, outcome: Result<(), String>) {
        let Some(t) = self.tasks.get_mut(i) else {
            return;
        };
        if generation != t.generation || t.state != TaskState::Running {
            return;
        }
        let name = t.slot.name();
        // Tasks run until cancelled; returning on their own is a failure too.
        let why = outcome
            .err()
            .unwrap_or_else(|| "stopped on its own".to_string());
        t.last_error = Some(why.clone());
        self.shared.metrics.task_up(name, false);
        match t
            .backoff
            .on_failure(Instant::now().into_std(), fastrand::f64())
        {
            Decision::RestartAfter(delay) => {
                t.state = TaskState::Restarting;
                t.restart_at = Some(Instant::now() + delay);
                self.shared.metrics.task_restarted(name);
                let msg = format!(
                    "task {name} failed ({why}); restarting in {} ms",
                    delay.as_millis()
                );
                self.shared.emit(Event::new("task", name, msg).warn());
            }
            Decision::GiveUp => {
                t.state = TaskState::Failed;
                let msg = format!(
                    "task {name} failed {} times in a row ({why}); giving up, the rest keeps running",
                    t.backoff.failures_in_row()
                );
                self.shared.emit(Event::new("task", name, msg).error());
            }
        }
        self.publish_tasks();
    }

    /// Starts every task, then serves commands until shut down.
    pub async fn run(mut self, mut commands: mpsc::Receiver<Command<D>>) {
        for i in 0..self.tasks.len() {
            self.spawn(i);
        }
        let mut watchdog = self.watchdog.map(|p| tokio::time::interval(p / 2));
        loop {
            let next_restart = self.tasks.iter().filter_map(|t| t.restart_at).min();
            tokio::select! {
                Some((i, g, outcome)) = self.exits_rx.recv() => self.on_exit(i, g, outcome),
                () = sleep_until(next_restart), if next_restart.is_some() => {
                    let now = Instant::now();
                    let due: Vec<usize> = (0..self.tasks.len())
                        .filter(|&i| self.tasks[i].restart_at.is_some_and(|at| at <= now))
                        .collect();
                    for i in due {
                        self.spawn(i);
                    }
                }
                _ = tick(&mut watchdog), if watchdog.is_some() => super::notify::watchdog(),
                cmd = commands.recv() => match cmd {
                    Some(Command::Reload(desired, reply)) => {
                        let mut changes = BTreeMap::new();
                        for t in &mut self.tasks {
                            if let Some(summary) = t.slot.reload(&desired) {
                                changes.insert(t.slot.name().to_string(), summary);
                            }
                        }
                        let _ = reply.send(changes);
                    }
                    Some(Command::Shutdown(bound, reply)) => {
                        let steps = self.shutdown(bound).await;
                        let _ = reply.send(steps);
                        return;
                    }
                    None => {
                        self.shutdown(Duration::from_secs(10)).await;
                        return;
                    }
                },
            }
        }
    }

    /// Cancels the tasks one at a time in rank order, waiting for each, all
    /// within `bound`; a task still running at the deadline is aborted.
    async fn shutdown(&mut self, bound: Duration) -> Vec<ShutdownStep> {
        let deadline = Instant::now() + bound;
        let mut order: Vec<usize> = (0..self.tasks.len()).collect();
        order.sort_by_key(|&i| self.tasks[i].slot.rank());
        let mut steps = Vec::new();
        for i in order {
            let began = Instant::now();
            let name = self.tasks[i].slot.name();
            let was_running = self.tasks[i].state == TaskState::Running;
            self.tasks[i].restart_at = None;
            self.tasks[i].cancel.cancel();
            let mut clean = true;
            if was_running {
                let generation = self.tasks[i].generation;
                clean = loop {
                    match tokio::time::timeout_at(deadline, self.exits_rx.recv()).await {
                        Ok(Some((j, g, outcome))) if j == i && g == generation => {
                            if let Err(e) = outcome {
                                tracing::warn!(task = name, "stopped with an error: {e}");
                            }
                            break true;
                        }
                        Ok(Some(_)) => continue,
                        Ok(None) | Err(_) => break false,
                    }
                };
                if !clean && let Some(a) = &self.tasks[i].abort {
                    a.abort();
                }
            }
            self.tasks[i].state = TaskState::Stopped;
            self.shared.metrics.task_up(name, false);
            let took = began.elapsed();
            let msg = if clean {
                format!("stopped {name} in {} ms", took.as_millis())
            } else {
                format!("{name} did not stop within the shutdown bound; aborted")
            };
            self.shared.emit(Event::new("shutdown", name, msg));
            steps.push(ShutdownStep {
                task: name.to_string(),
                took,
                clean,
            });
        }
        self.publish_tasks();
        steps
    }
}

/// Sleeps until `at`, or forever when there is nothing to wait for: a
/// `select!` branch for the task loops' optional next deadline. Takes
/// tokio's or std's `Instant` (the sans-IO cores keep std's).
pub async fn sleep_until(at: Option<impl Into<Instant>>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

/// The runtime clock's now, as the std `Instant` the sans-IO cores take
/// (tokio's clock, so tests that pause time see the same one).
pub fn now_std() -> std::time::Instant {
    Instant::now().into_std()
}

async fn tick(i: &mut Option<tokio::time::Interval>) {
    match i {
        Some(i) => {
            i.tick().await;
        }
        None => std::future::pending().await,
    }
}

fn panic_message(p: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_string()
    }
}

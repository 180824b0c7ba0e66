//! The supervisor with test subsystems, on tokio's virtual clock: restarts
//! with growing delays, giving up on a task that keeps failing while the
//! rest runs on, reloads that reach only the tasks whose part changed, and
//! ordered, bounded shutdown.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use pharos::config::{Config, Selection, check_text};
use pharos::runtime::backoff::Policy;
use pharos::runtime::changes::{Changes, Part};
use pharos::runtime::metrics::Metrics;
use pharos::runtime::status::{ConfigSource, ConfigStatus, Status, TaskState};
use pharos::runtime::supervisor::{
    Command, Ready, Shared, ShutdownStep, Subsystem, Supervisor, TaskCtx, TaskFuture,
};
use std::collections::BTreeMap;
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::time::Instant;

type Log = Arc<Mutex<Vec<String>>>;

/// A part that never changes.
#[derive(Debug, PartialEq)]
struct Nothing;

impl Part for Nothing {
    fn changes(&self, _: &Self) -> Changes {
        Changes::default()
    }
}

fn nothing(_: &Config) -> Arc<Nothing> {
    Arc::new(Nothing)
}

/// A test part: named items (the services with their address, or the
/// VRRP instances).
#[derive(Debug, PartialEq)]
struct Named(BTreeMap<String, String>);

impl Part for Named {
    fn changes(&self, old: &Self) -> Changes {
        Changes::between(&old.0, &self.0)
    }
}

fn services(cfg: &Config) -> Arc<Named> {
    Arc::new(Named(
        cfg.services
            .iter()
            .map(|(k, v)| (k.clone(), format!("{:?}", v.address)))
            .collect(),
    ))
}

fn instances(cfg: &Config) -> Arc<Named> {
    Arc::new(Named(
        cfg.vrrp
            .iter()
            .map(|(k, v)| (k.clone(), format!("{:?}", v.priority)))
            .collect(),
    ))
}

/// Panics `panics` times after starting, then runs until cancelled.
struct Flaky {
    name: &'static str,
    panics: usize,
    starts: Arc<Mutex<Vec<Instant>>>,
}

impl Subsystem for Flaky {
    type Part = Nothing;
    fn name(&self) -> &'static str {
        self.name
    }
    fn shutdown_rank(&self) -> u8 {
        50
    }
    fn run(self: Arc<Self>, ctx: TaskCtx<Nothing>) -> TaskFuture {
        Box::pin(async move {
            let n = {
                let mut s = self.starts.lock().unwrap();
                s.push(Instant::now());
                s.len()
            };
            ctx.ready.mark(self.name);
            if n <= self.panics {
                tokio::time::sleep(Duration::from_millis(10)).await;
                panic!("{} broke on start {n}", self.name);
            }
            ctx.cancel.cancelled().await;
            Ok(())
        })
    }
}

/// Records every update it receives and, on shutdown, when it stopped.
struct Recorder {
    name: &'static str,
    rank: u8,
    /// Takes this long to stop once cancelled.
    stop_takes: Duration,
    log: Log,
}

impl Subsystem for Recorder {
    type Part = Named;
    fn name(&self) -> &'static str {
        self.name
    }
    fn shutdown_rank(&self) -> u8 {
        self.rank
    }
    fn run(self: Arc<Self>, mut ctx: TaskCtx<Named>) -> TaskFuture {
        Box::pin(async move {
            ctx.ready.mark(self.name);
            loop {
                tokio::select! {
                    () = ctx.cancel.cancelled() => {
                        tokio::time::sleep(self.stop_takes).await;
                        self.log.lock().unwrap().push(format!("{} stopped", self.name));
                        return Ok(());
                    }
                    u = ctx.updates.recv() => match u {
                        Some(part) => self.log.lock().unwrap().push(format!("{} got {:?}", self.name, part.0.keys().collect::<Vec<_>>())),
                        None => return Ok(()),
                    }
                }
            }
        })
    }
}

fn shared() -> Shared {
    Shared {
        events: broadcast::channel(256).0,
        status: Arc::new(Mutex::new(Status {
            pharos_version: "test".into(),
            pid: 0,
            started_at: String::new(),
            ready: false,
            config: ConfigStatus {
                file: "test.toml".into(),
                source: ConfigSource::File,
                node: None,
                revision: 1,
                loaded_at: String::new(),
                age_seconds: 0,
                errors: vec![],
                trial: None,
                unsaved: None,
                volatile: None,
            },
            tasks: vec![],
            subsystems: Default::default(),
        })),
        metrics: Arc::new(Metrics::new()),
        ready: Ready::default(),
        sections: Default::default(),
        reloads: Default::default(),
    }
}

fn config(text: &str) -> Config {
    let c = check_text(text, &Selection::All);
    assert!(!c.has_errors(), "{:?}", c.diagnostics);
    c.configs.into_iter().next().unwrap().1
}

fn policy() -> Policy {
    Policy {
        base: Duration::from_millis(100),
        cap: Duration::from_secs(5),
        stable_after: Duration::from_secs(60),
        max_failures: 4,
    }
}

fn task(shared: &Shared, name: &str) -> (TaskState, u64) {
    let s = shared.status.lock().unwrap();
    let t = s.tasks.iter().find(|t| t.name == name).unwrap();
    (t.state, t.restarts)
}

async fn shutdown(tx: &mpsc::Sender<Command<Config>>, bound: Duration) -> Vec<ShutdownStep> {
    let (reply, rx) = oneshot::channel();
    tx.send(Command::Shutdown(bound, reply)).await.unwrap();
    rx.await.unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_panicking_task_is_restarted_with_growing_delays_and_the_others_keep_running() {
    let shared = shared();
    let cfg = Config::default();
    let flaky_starts = Arc::new(Mutex::new(Vec::new()));
    let steady_starts = Arc::new(Mutex::new(Vec::new()));
    let mut sup = Supervisor::new(shared.clone(), policy());
    sup.add(
        Flaky {
            name: "flaky",
            panics: 3,
            starts: flaky_starts.clone(),
        },
        nothing,
        &cfg,
    );
    sup.add(
        Flaky {
            name: "steady",
            panics: 0,
            starts: steady_starts.clone(),
        },
        nothing,
        &cfg,
    );
    let (tx, rx) = mpsc::channel(4);
    let handle = tokio::spawn(sup.run(rx));
    tokio::time::sleep(Duration::from_secs(10)).await;

    let starts = flaky_starts.lock().unwrap().clone();
    assert_eq!(starts.len(), 4, "3 panics, then a start that lasts");
    let gaps: Vec<Duration> = starts.windows(2).map(|w| w[1] - w[0]).collect();
    // Each gap is the 10 ms the task ran plus its backoff (base 100 ms,
    // doubling, up to +50% jitter).
    for (gap, base) in gaps.iter().zip([100u64, 200, 400]) {
        let backoff = *gap - Duration::from_millis(10);
        assert!(
            backoff >= Duration::from_millis(base)
                && backoff <= Duration::from_millis(base * 3 / 2),
            "{gaps:?}"
        );
    }
    assert!(
        gaps[1] > gaps[0] && gaps[2] > gaps[1],
        "delays grow: {gaps:?}"
    );
    assert_eq!(
        steady_starts.lock().unwrap().len(),
        1,
        "the steady task was never touched"
    );
    assert_eq!(task(&shared, "flaky"), (TaskState::Running, 3));
    assert_eq!(task(&shared, "steady"), (TaskState::Running, 0));
    let metrics = shared
        .metrics
        .encode(pharos::runtime::exposition::Format::Text);
    assert!(
        metrics.contains("pharos_task_restarts_total{task=\"flaky\"} 3"),
        "{metrics}"
    );
    shutdown(&tx, Duration::from_secs(5)).await;
    handle.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_task_that_keeps_failing_is_reported_failed_and_the_rest_runs_on() {
    let shared = shared();
    let cfg = Config::default();
    let mut events = shared.events.subscribe();
    let mut sup = Supervisor::new(shared.clone(), policy());
    sup.add(
        Flaky {
            name: "broken",
            panics: usize::MAX,
            starts: Default::default(),
        },
        nothing,
        &cfg,
    );
    sup.add(
        Flaky {
            name: "steady",
            panics: 0,
            starts: Default::default(),
        },
        nothing,
        &cfg,
    );
    let (tx, rx) = mpsc::channel(4);
    let handle = tokio::spawn(sup.run(rx));
    tokio::time::sleep(Duration::from_secs(30)).await;

    let (state, restarts) = task(&shared, "broken");
    assert_eq!((state, restarts), (TaskState::Failed, 4));
    assert!(
        shared.status.lock().unwrap().tasks[0]
            .last_error
            .as_deref()
            .unwrap()
            .contains("panicked: broken broke")
    );
    assert_eq!(task(&shared, "steady").0, TaskState::Running);
    let mut last = String::new();
    while let Ok(e) = events.try_recv() {
        last = e.message;
    }
    assert!(last.contains("giving up, the rest keeps running"), "{last}");
    // Still serving commands: a clean shutdown of what is left.
    let steps = shutdown(&tx, Duration::from_secs(5)).await;
    assert!(steps.iter().all(|s| s.clean));
    handle.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_reload_reaches_only_the_subsystems_whose_part_changed() {
    let shared = shared();
    let vrrp = "[vrrp.VI_1]\ninterface = \"eth0\"\nvrid = 51\npriority = 150\nvirtual_addresses = [\"10.0.0.100/24\"]\n";
    let v1 = config(&format!(
        "{vrrp}[services.a]\naddress = \"10.0.0.1:80\"\nforwarding = \"dr\"\nsorry_server = \"10.0.0.9:80\"\n\
         [services.b]\naddress = \"10.0.0.2:80\"\nforwarding = \"dr\"\nsorry_server = \"10.0.0.9:80\"\n",
    ));
    let log: Log = Default::default();
    let mut sup = Supervisor::new(shared.clone(), policy());
    sup.add(
        Recorder {
            name: "ipvs",
            rank: 30,
            stop_takes: Duration::ZERO,
            log: log.clone(),
        },
        services,
        &v1,
    );
    sup.add(
        Recorder {
            name: "vrrp",
            rank: 10,
            stop_takes: Duration::ZERO,
            log: log.clone(),
        },
        instances,
        &v1,
    );
    let (tx, rx) = mpsc::channel(4);
    let handle = tokio::spawn(sup.run(rx));
    tokio::time::sleep(Duration::from_millis(10)).await;

    let reload = |cfg: Config| {
        let tx = tx.clone();
        async move {
            let (reply, rx) = oneshot::channel();
            tx.send(Command::Reload(Arc::new(cfg), reply))
                .await
                .unwrap();
            rx.await.unwrap()
        }
    };
    // Unchanged: nothing is sent.
    assert!(reload(v1.clone()).await.is_empty());
    // b changes, a is dropped, c is new; VRRP is as it was.
    let v2 = config(&format!(
        "{vrrp}[services.b]\naddress = \"10.0.0.22:80\"\nforwarding = \"dr\"\nsorry_server = \"10.0.0.9:80\"\n\
         [services.c]\naddress = \"10.0.0.3:80\"\nforwarding = \"dr\"\nsorry_server = \"10.0.0.9:80\"\n",
    ));
    let changes = reload(v2).await;
    assert_eq!(
        changes,
        BTreeMap::from([("ipvs".to_string(), "+1 ~1 -1".to_string())])
    );
    tokio::time::sleep(Duration::from_millis(10)).await;
    let mut got = log.lock().unwrap().clone();
    got.sort();
    assert_eq!(
        got,
        vec![
            r#"ipvs got ["a", "b"]"#.to_string(),
            r#"ipvs got ["b", "c"]"#.to_string(),
            r#"vrrp got ["VI_1"]"#.to_string(),
        ],
        "the VRRP task got its part once, at its start, and nothing on the reload"
    );
    shutdown(&tx, Duration::from_secs(5)).await;
    handle.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn shutdown_stops_tasks_in_rank_order_within_the_bound() {
    let shared = shared();
    let cfg = Config::default();
    let log: Log = Default::default();
    let mut sup = Supervisor::new(shared.clone(), policy());
    // Added out of order on purpose; a slow IPVS flush overruns the bound.
    sup.add(
        Recorder {
            name: "ipvs",
            rank: 30,
            stop_takes: Duration::from_secs(60),
            log: log.clone(),
        },
        services,
        &cfg,
    );
    sup.add(
        Recorder {
            name: "vrrp",
            rank: 10,
            stop_takes: Duration::from_millis(300),
            log: log.clone(),
        },
        services,
        &cfg,
    );
    sup.add(
        Recorder {
            name: "check",
            rank: 20,
            stop_takes: Duration::from_millis(100),
            log: log.clone(),
        },
        services,
        &cfg,
    );
    let (tx, rx) = mpsc::channel(4);
    let handle = tokio::spawn(sup.run(rx));
    tokio::time::sleep(Duration::from_millis(10)).await;

    let began = Instant::now();
    let steps = shutdown(&tx, Duration::from_secs(2)).await;
    let took = began.elapsed();
    handle.await.unwrap();
    let order: Vec<(&str, bool)> = steps.iter().map(|s| (s.task.as_str(), s.clean)).collect();
    assert_eq!(
        order,
        vec![("vrrp", true), ("check", true), ("ipvs", false)]
    );
    assert_eq!(
        took,
        Duration::from_secs(2),
        "the bound holds even when a task hangs"
    );
    let stopped: Vec<String> = log
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.ends_with("stopped"))
        .cloned()
        .collect();
    assert_eq!(stopped, vec!["vrrp stopped", "check stopped"]);
    assert!(
        shared
            .status
            .lock()
            .unwrap()
            .tasks
            .iter()
            .all(|t| t.state == TaskState::Stopped)
    );
}

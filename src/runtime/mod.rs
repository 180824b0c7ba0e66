//! `pharos run`: the supervisor process. Owns start-up, reload, shutdown,
//! the last known good config, systemd readiness and logging; the
//! subsystems plug in as supervised tasks.
//!
//! ```text
//!   SIGHUP ─┐   control socket ──reload──┐
//!           ▼                             ▼
//!   ┌──────────── runtime loop (this file) ─────────────────────┐
//!   │ read + check file ─► Load {parts, desired} ─► Command::Reload  │  SIGTERM ─► Command::Shutdown
//!   └───────────────────────────────────────────────┬────────────┘
//!                                                   ▼
//!   ┌──────────────────── Supervisor ──────────────────────────────┐
//!   │ per task: its typed part on (re)start, and on a reload that   │
//!   │ changes it (and only then)                                    │
//!   │ restarts with backoff · WATCHDOG=1 · ordered, bounded stop    │
//!   └──┬────────────┬────────────┬────────────┬────────────┬───────┘
//!      ▼            ▼            ▼            ▼            ▼
//!    vrrp(10)    check(20)    ipvs(30)     net(40)    control(210) metrics(200)
//!                                    clock(190)  syslog(250)
//!      └────────────┴── Shared: events (broadcast) · status · metrics ──┘
//! ```
//! (numbers: shutdown order.) The runtime knows the subsystems only as
//! tasks: `crate::director` plugs them in through [`Wiring`], along with
//! how to work out the desired state of a config (once per load).

pub mod admin;
mod apply;
pub mod backoff;
pub mod changes;
pub mod control;
pub mod exposition;
#[cfg(feature = "fault-switch")]
pub mod fault;
pub mod heap;
pub mod last_good;
pub mod logging;
pub mod management;
pub mod metrics;
pub mod metrics_server;
pub mod notify;
pub mod own_thread;
pub mod process_metrics;
pub mod status;
pub mod store;
pub mod supervisor;
pub mod syslog;
pub mod tls;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::config::nodes::Facts;
use crate::config::types::MacAddr;
use crate::config::{self, Config};
use crate::diag::{self, Diagnostic, Source};
use admin::{Admin, Ops, ReloadOutcome, Reply};
use control::ControlServer;
use last_good::LastGood;
use metrics::Metrics;
use metrics_server::MetricsServer;
use status::{ConfigSource, ConfigStatus, Event, Status};
use supervisor::{Command, Ready, Shared, Supervisor};

#[derive(Debug, Clone)]
pub struct RunOptions<X> {
    pub config: PathBuf,
    pub node: Option<String>,
    /// Where the last known good config is kept.
    pub state_dir: PathBuf,
    /// Overrides `[control] socket`.
    pub socket: Option<PathBuf>,
    /// How long shutdown may take in all.
    pub shutdown_timeout: Duration,
    pub restart_policy: backoff::Policy,
    /// Running as PID 1 in the image: set the host name, power off on
    /// SIGUSR2, and never give up for want of a config (maintenance mode).
    pub pid1: bool,
    /// Where to write the diagnostics of an invalid file (the image's
    /// `/config/pharos.errors`); removed again once the file is valid.
    pub errors_file: Option<PathBuf>,
    /// Why nothing this box saves outlives a reboot (the image's config
    /// partition could not be mounted): said at start, shown in status.
    pub volatile: Option<String>,
    /// The management API's identity and setting (`management.toml`); the
    /// API is off when the directory has none.
    pub identity: PathBuf,
    /// The subsystems, plugged in from above (`crate::director`): the
    /// runtime knows them only as tasks.
    pub wiring: Wiring<X>,
}

/// One load of the config, as the supervisor hands it out: the runtime's
/// own parts of it and the desired state that the layer above worked out
/// of it, once. The typed config itself is not kept: at 100,000 real
/// servers it is tens of megabytes that the desired state holds again in
/// the subsystems' terms.
pub struct Load<X> {
    /// `[control] socket`.
    pub control: Arc<control::Socket>,
    /// `[metrics]`: where, and whether the status page is served.
    pub metrics: Arc<metrics_server::Listen>,
    /// `[logging] remote`: the syslog collectors.
    pub syslog: Arc<syslog::task::Remotes>,
    /// For the ready line: how many VRRP instances and services.
    pub counts: (usize, usize),
    pub desired: X,
}

/// The desired state of the running load, and the services of the new
/// config that are unchanged since it (`config::Loaded::unchanged`).
pub type Before<'a, X> = Option<(&'a X, &'a crate::config::Names)>;

/// What the layer above the runtime plugs in; `X` is its desired state.
pub struct Wiring<X> {
    /// Works out the desired state of a config (once per load), taking
    /// what the services named unchanged want from the desired state
    /// given (see `config::Loaded::unchanged`).
    pub desired: fn(&Config, Before<'_, X>) -> X,
    /// Adds the subsystems' tasks to the supervisor, wired to each other.
    pub add: fn(&mut Supervisor<Load<X>>, &Load<X>),
    /// How many checks it runs, for the ready line.
    pub checks: fn(&X) -> usize,
    /// `pharos plan` of a text (file name shown, text, node) on this box,
    /// for the admin verb `plan`.
    pub plan: fn(&str, &str, Option<String>) -> admin::PlanReport,
    /// The status page (`[metrics] status_page`), from the typed status.
    pub page: metrics_server::Page,
}

impl<X> Wiring<X> {
    /// The config and its desired state, worked out once.
    /// The config is taken and dropped once the desired state is worked
    /// out of it (see [`Load`]).
    /// `before`: the desired state of the load whose memo the config was
    /// loaded with, and the services it found unchanged.
    pub fn load(&self, cfg: Config, before: Before<'_, X>) -> Load<X> {
        Load {
            control: control::Socket::of(&cfg),
            metrics: metrics_server::Listen::of(&cfg),
            syslog: syslog::task::Remotes::of(&cfg),
            counts: (cfg.vrrp.len(), cfg.services.len()),
            desired: (self.desired)(&cfg, before),
        }
    }
}

impl<X> Clone for Wiring<X> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<X> Copy for Wiring<X> {}

impl<X> std::fmt::Debug for Wiring<X> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Wiring")
    }
}

/// Why `run` returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// SIGTERM.
    Terminate,
    /// SIGINT (ctrl-alt-del for PID 1).
    Interrupt,
    /// SIGUSR2, the power button, or `poweroff` from the admin verbs.
    PowerOff,
    /// `reboot` from the admin verbs.
    Reboot,
    /// There was no valid config to run.
    NoConfig,
}

/// Hooks for the PID 1 shell around the runtime.
#[derive(Default)]
pub struct Hooks {
    /// Other reasons to stop (the ACPI power button).
    pub stop: Option<mpsc::Receiver<Stop>>,
    /// Fired once READY=1 has been sent, with what the box runs (its node
    /// and config summary). PID 1 prints it as the console's one `ready`
    /// line; without this hook the runtime logs it.
    pub ready: Option<oneshot::Sender<String>>,
}

/// Runs the supervisor until SIGTERM/SIGINT. Exit 1 when there is no valid
/// config to run (neither the file nor a last known good one).
pub fn run<X: Send + Sync + 'static>(opts: RunOptions<X>) -> ExitCode {
    heap::one_arena();
    raise_open_files();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("the tokio runtime starts");
    match rt.block_on(run_async(opts, Hooks::default())) {
        Stop::NoConfig => ExitCode::from(1),
        _ => ExitCode::SUCCESS,
    }
}

/// Open files `pharos run` asks for: each health check holds a socket
/// while it runs, and 10,000 real servers checked every second keep
/// thousands open at once on a slow box, beside the netlink, control and
/// metrics sockets.
const OPEN_FILES: u64 = 1 << 16;

/// Raises the open-file limit to [`OPEN_FILES`] (root may raise the hard
/// limit too), or else the soft limit to the hard one. The soft limit of
/// 1,024 that a shell or PID 1 hands down ran out in the VM lab: 10,000
/// checks failed with "Too many open files" instead of being made.
/// keepalived raises its own for its checkers the same way. Called by
/// `pharos run` and by PID 1 on the appliance before the runtime starts.
pub fn raise_open_files() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return;
    };
    if soft >= OPEN_FILES {
        return;
    }
    if hard < OPEN_FILES && setrlimit(Resource::RLIMIT_NOFILE, OPEN_FILES, OPEN_FILES).is_ok() {
        return;
    }
    let _ = setrlimit(Resource::RLIMIT_NOFILE, OPEN_FILES.min(hard), hard);
}

struct Running {
    text: String,
    source: ConfigSource,
    node: Option<String>,
    errors: Vec<String>,
    loaded: config::Loaded,
}

/// The facts this box matches node overlays by.
pub fn facts(requested: Option<String>) -> Facts {
    let macs = std::fs::read_dir("/sys/class/net")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path().join("address")).ok())
        .filter_map(|a| a.trim().parse::<MacAddr>().ok())
        .collect();
    Facts {
        requested,
        cmdline: std::fs::read_to_string("/proc/cmdline")
            .ok()
            .and_then(|c| Facts::node_from_cmdline(&c)),
        macs,
        hostname: std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .map(|h| h.trim().to_string()),
    }
}

/// The config file, loaded with the services `memo` holds taken from it
/// (`config::Memo`: the last load's, so a reload retypes only what changed).
fn read_and_load<X>(
    opts: &RunOptions<X>,
    memo: Option<&config::Memo>,
) -> (String, Result<config::Loaded, Vec<Diagnostic>>) {
    let shown = opts.config.display().to_string();
    match std::fs::read_to_string(&opts.config) {
        Ok(text) => {
            let r = config::load_for_box_reusing(&text, &facts(opts.node.clone()), memo);
            (text, r)
        }
        Err(e) => (
            String::new(),
            Err(vec![
                Diagnostic::error(format!("cannot read `{shown}`: {e}"))
                    .help("give the path of the config with --config"),
            ]),
        ),
    }
}

fn render(path: &str, text: &str, diags: &[Diagnostic]) -> String {
    diag::render(&Source::new(path, text), diags, false)
}

/// Keeps `pharos.errors` in step with the file: the diagnostics while it is
/// invalid, nothing once it is valid.
fn write_errors<X>(opts: &RunOptions<X>, rendered: Option<&str>) {
    let Some(path) = &opts.errors_file else {
        return;
    };
    let r = match rendered {
        Some(text) => std::fs::write(path, text),
        None if path.exists() => std::fs::remove_file(path),
        None => Ok(()),
    };
    if let Err(e) = r {
        eprintln!("pharos: cannot update {}: {e}", path.display());
    }
}

/// A valid file that has nodes, none of them this box's, and says an
/// unmatched box stays in maintenance: the box must not run its base
/// config (a stray box would become one more director of the pair).
fn unmatched_maintenance(loaded: &config::Loaded) -> Option<String> {
    let why = loaded.unmatched.as_ref()?;
    (loaded.config.system.unmatched == config::model::Unmatched::Maintenance).then(|| {
        format!(
            "MAINTENANCE MODE: {why}. Running with no VIPs and no services. Give this box a node \
             (pharos.node=NAME on the kernel command line, or a `match` on its MAC address or host \
             name), or set `system.unmatched = \"base\"` to run the base config on such boxes."
        )
    })
}

fn maintenance_config() -> config::Loaded {
    config::Loaded {
        config: Config::default(),
        node: None,
        unmatched: None,
        warnings: Vec::new(),
        memo: None,
        unchanged: Default::default(),
    }
}

/// The file if it is valid, else the last known good config, else nothing.
fn initial<X>(opts: &RunOptions<X>, lkg: &LastGood) -> Result<Running, String> {
    let shown = opts.config.display().to_string();
    let (text, result) = read_and_load(opts, None);
    match result {
        Ok(loaded) => {
            if !loaded.warnings.is_empty() {
                eprint!("{}", render(&shown, &text, &loaded.warnings));
            }
            write_errors(opts, None);
            if let Some(why) = unmatched_maintenance(&loaded) {
                eprintln!("pharos: {why}");
                return Ok(Running {
                    node: None,
                    text,
                    source: ConfigSource::Unmatched,
                    errors: Vec::new(),
                    loaded: maintenance_config(),
                });
            }
            if let Some(why) = &loaded.unmatched {
                eprintln!("pharos: {why}; running the base config (`system.unmatched = \"base\"`)");
            }
            Ok(Running {
                node: loaded.node.as_ref().map(|n| n.0.clone()),
                text,
                source: ConfigSource::File,
                errors: Vec::new(),
                loaded,
            })
        }
        Err(diags) => {
            let rendered = render(&shown, &text, &diags);
            eprint!("{rendered}");
            write_errors(opts, Some(&rendered));
            let errors: Vec<String> = diags
                .iter()
                .filter(|d| d.is_error())
                .map(|d| one_line(&shown, &text, d))
                .collect();
            let fallback = lkg.load().and_then(|t| {
                config::load_for_box(&t, &facts(opts.node.clone()))
                    .ok()
                    .map(|l| (t, l))
            });
            match fallback {
                Some((text, loaded)) => {
                    eprintln!(
                        "pharos: {shown} is invalid ({} errors); running the last known good config from {}",
                        errors.len(),
                        lkg.path().display()
                    );
                    Ok(Running {
                        node: loaded.node.as_ref().map(|n| n.0.clone()),
                        text,
                        source: ConfigSource::LastGood,
                        errors,
                        loaded,
                    })
                }
                None if opts.pid1 => {
                    eprintln!(
                        "pharos: MAINTENANCE MODE: {shown} is invalid and there is no last known good config at {}. \
                         Running with no VIPs and no services. Fix pharos.toml on the PHAROS-CFG partition and reboot (ctrl-alt-del).",
                        lkg.path().display()
                    );
                    let loaded = maintenance_config();
                    Ok(Running {
                        node: None,
                        text: String::new(),
                        source: ConfigSource::Maintenance,
                        errors,
                        loaded,
                    })
                }
                None => Err(format!(
                    "pharos: {shown} is invalid and there is no last known good config at {}; nothing to run",
                    lkg.path().display()
                )),
            }
        }
    }
}

/// `FILE:LINE:COL: message` for status and logs.
fn one_line(path: &str, text: &str, d: &Diagnostic) -> String {
    match &d.span {
        Some(s) => {
            let (l, c) = Source::new(path, text).line_col(s.start);
            format!("{path}:{l}:{c}: {}", d.message)
        }
        None => d.message.clone(),
    }
}

fn summary(counts: (usize, usize), checks: usize, revision: u64, source: ConfigSource) -> String {
    let src = match source {
        ConfigSource::File => "",
        ConfigSource::LastGood => " (LAST GOOD CONFIG: the file is invalid)",
        ConfigSource::Maintenance => " (MAINTENANCE: no valid config)",
        ConfigSource::Unmatched => " (MAINTENANCE: no node matches this box)",
    };
    let n = |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    format!(
        "config r{revision}{src}: {}, {}, {}",
        n(counts.0, "vrrp instance", "vrrp instances"),
        n(counts.1, "service", "services"),
        n(checks, "check", "checks"),
    )
}

pub async fn run_async<X: Send + Sync + 'static>(opts: RunOptions<X>, mut hooks: Hooks) -> Stop {
    // First thing: a SIGTERM during start-up must still mean an orderly stop.
    let mut hup = signal(SignalKind::hangup()).expect("SIGHUP handler installs");
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler installs");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler installs");
    let mut usr2 = signal(SignalKind::user_defined2()).expect("SIGUSR2 handler installs");
    let lkg = LastGood::in_dir(&opts.state_dir);
    // Before the file is read: a reset during a trial comes back on the
    // revision before it.
    let recovered = apply::recover_interrupted_trial(&opts);
    if let Some(msg) = &recovered {
        eprintln!("pharos: {msg}");
    }
    let reading = std::time::Instant::now();
    let mut running = match initial(&opts, &lkg) {
        Ok(r) => r,
        Err(msg) => {
            eprintln!("{msg}");
            return Stop::NoConfig;
        }
    };
    if opts.pid1
        && let Some(h) = &running.loaded.config.system.hostname
        && let Err(e) = nix::unistd::sethostname(h)
    {
        eprintln!("pharos: setting the host name to {h}: {e}");
    }
    logging::init(&running.loaded.config.logging, opts.pid1);
    let started = std::time::Instant::now();
    if let Some((node, why)) = &running.loaded.node {
        tracing::info!("running as node {node}: {why}");
    }
    let (events, _) = broadcast::channel(1024);
    let shared = Shared {
        events,
        status: Arc::new(Mutex::new(Status {
            pharos_version: env!("CARGO_PKG_VERSION").to_string(),
            pid: std::process::id(),
            started_at: status::now_rfc3339(),
            ready: false,
            config: ConfigStatus {
                file: opts.config.display().to_string(),
                source: running.source,
                node: running.node.clone(),
                revision: 1,
                loaded_at: status::now_rfc3339(),
                age_seconds: 0,
                errors: running.errors.clone(),
                trial: None,
                unsaved: None,
                volatile: opts.volatile.clone(),
            },
            tasks: Vec::new(),
            subsystems: Default::default(),
        })),
        metrics: Arc::new(Metrics::new()),
        ready: Ready::default(),
        sections: Default::default(),
        reloads: Default::default(),
    };
    shared.metrics.set_revision(1);
    let (admin_tx, mut admin_rx) = mpsc::channel::<Admin>(8);
    let ops = Arc::new(Ops {
        admin: admin_tx,
        state_dir: opts.state_dir.clone(),
        config: opts.config.clone(),
        plan: opts.wiring.plan,
        upgrade: if opts.pid1 {
            crate::upgrade::flow::Upgrades::detect(&opts.state_dir).map(Arc::new)
        } else {
            Err(
                "this pharos runs as a service, not as the image's PID 1: upgrade it the way it \
                 was installed (apt for the Debian package)"
                    .into(),
            )
        },
    });
    let checked = reading.elapsed();
    let load = opts
        .wiring
        .load(std::mem::take(&mut running.loaded.config), None);
    tracing::info!(
        "start: {} read and checked in {:.3} s ({} services), its desired state worked out in {:.3} s",
        opts.config.display(),
        checked.as_secs_f64(),
        load.counts.1,
        (reading.elapsed() - checked).as_secs_f64()
    );
    let mut sup = Supervisor::new(shared.clone(), opts.restart_policy)
        .with_watchdog(notify::watchdog_period());
    sup.add(
        ControlServer {
            path_override: opts.socket.clone(),
            ops: ops.clone(),
        },
        |l| l.control.clone(),
        &load,
    );
    sup.add(
        MetricsServer {
            page: opts.wiring.page,
        },
        |l| l.metrics.clone(),
        &load,
    );
    sup.add(
        syslog::task::SyslogTask::default(),
        |l| l.syslog.clone(),
        &load,
    );
    // The management API runs when its identity says where to listen (read
    // at start: `pharos identity` output is put on the box before it boots).
    if opts.identity.join("management.toml").exists() {
        sup.add(
            management::ManagementServer {
                ops: ops.clone(),
                dir: opts.identity.clone(),
            },
            changes::fixed,
            &load,
        );
    }
    (opts.wiring.add)(&mut sup, &load);
    let (cmd_tx, cmd_rx) = mpsc::channel(8);
    let sup_handle = tokio::spawn(sup.run(cmd_rx));

    let pending = shared.ready.wait(Duration::from_secs(30)).await;
    if !pending.is_empty() {
        tracing::warn!(
            "not ready after 30 s: {}; reporting ready anyway",
            pending.join(", ")
        );
    }
    let mut revision = 1u64;
    let line = summary(
        load.counts,
        (opts.wiring.checks)(&load.desired),
        revision,
        running.source,
    );
    notify::ready(&line);
    let who = match (&running.loaded.node, running.source) {
        (Some((node, why)), _) => format!("node {node} ({why})"),
        (None, ConfigSource::Unmatched) => "no node of the config matches this box".to_string(),
        (None, ConfigSource::Maintenance) => "no valid config".to_string(),
        (None, _) if running.loaded.unmatched.is_some() => {
            "no node matches this box: the base config".to_string()
        }
        (None, _) => "the config as written (it has no [nodes])".to_string(),
    };
    let ready_line = format!("{who}; {line}");
    if hooks.ready.is_none() {
        tracing::info!(
            "pharos: ready in {} ms: {ready_line}",
            started.elapsed().as_millis()
        );
    }
    shared.emit(Event::new("config", "pharos", format!("started; {line}")));
    match &ops.upgrade {
        Ok(u) => u.start(&shared, ops.admin.clone()),
        Err(why) if opts.pid1 => tracing::info!("upgrades: {why}"),
        Err(_) => {}
    }
    if let Some(msg) = recovered {
        shared.emit(Event::new("config", "trial", msg).warn());
    }
    if let Some(why) = &opts.volatile {
        shared.emit(Event::new("config", "storage", why.clone()).error());
    }
    // After the `started` event, so a client that waits for `ready` sees
    // only what comes next on `pharos events`.
    shared
        .status
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .ready = true;
    if running.source == ConfigSource::File {
        saved(&shared, lkg.save(&running.text));
    }
    // The text is on disk (and in last-good); the running copy is not kept.
    running.text = String::new();
    // The load's parse tree and copies are freed: give the pages back.
    heap::release();
    if let Some(r) = hooks.ready.take() {
        let _ = r.send(ready_line);
    }
    let mut extra_stop = hooks.stop.take();

    // Kept for the next reload: the typed services of this load's file,
    // and what was worked out of them.
    let mut last = Last {
        memo: running.loaded.memo.take(),
        load: Arc::new(load),
    };
    let mut env = apply::Env {
        opts: &opts,
        shared: &shared,
        cmd_tx: &cmd_tx,
        lkg: &lkg,
        revision: &mut revision,
        last: &mut last,
    };
    let stop = loop {
        let trial = store::Trial::load(&opts.state_dir);
        let trial_at = trial
            .as_ref()
            .map(|t| tokio::time::Instant::now() + t.remaining());
        shared
            .status
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .config
            .trial = trial.map(|t| {
            format!(
                "r{} by {} is on trial for {} s more; r{} comes back unless it is confirmed",
                t.revision,
                t.client,
                t.remaining().as_secs(),
                t.previous
            )
        });
        let asked: Option<Admin> = tokio::select! {
            _ = hup.recv() => None,
            Some(a) = admin_rx.recv() => Some(a),
            () = supervisor::sleep_until(trial_at), if trial_at.is_some() => {
                env.trial_expired().await;
                continue;
            }
            _ = term.recv() => break Stop::Terminate,
            _ = int.recv() => break Stop::Interrupt,
            _ = usr2.recv(), if opts.pid1 => break Stop::PowerOff,
            Some(s) = recv_opt(&mut extra_stop) => break s,
        };
        match asked {
            None => {
                env.reload().await;
            }
            Some(Admin::Reload(reply)) => {
                let _ = reply.send(env.reload().await);
            }
            Some(Admin::Apply {
                text,
                name,
                trial,
                message,
                who,
                reply,
            }) => {
                let _ = reply.send(
                    env.apply(&text, name.as_deref(), trial, &message, &who)
                        .await,
                );
            }
            Some(Admin::Confirm { who, reply }) => {
                let _ = reply.send(env.confirm(&who));
            }
            Some(Admin::Rollback {
                revision,
                who,
                reply,
            }) => {
                let _ = reply.send(env.rollback(revision, &who).await);
            }
            Some(Admin::Power { stop, who, reply }) => {
                let what = if stop == Stop::Reboot {
                    "rebooting"
                } else {
                    "powering off"
                };
                let msg = format!("{what}, as {} asked: the VIPs go to the peer first", who.0);
                shared.emit(Event::new("config", "power", msg.clone()).warn());
                let _ = reply.send(Reply::ok(msg));
                break stop;
            }
        }
    };

    notify::stopping();
    tracing::info!(
        "shutting down (bound {} ms)",
        opts.shutdown_timeout.as_millis()
    );
    let (tx, rx) = oneshot::channel();
    if cmd_tx
        .send(Command::Shutdown(opts.shutdown_timeout, tx))
        .await
        .is_ok()
        && let Ok(steps) = rx.await
    {
        let total: Duration = steps.iter().map(|s| s.took).sum();
        tracing::info!(
            "shutdown done in {} ms: {}",
            total.as_millis(),
            steps
                .iter()
                .map(|s| s.task.as_str())
                .collect::<Vec<_>>()
                .join(" → ")
        );
    }
    let _ = sup_handle.await;
    stop
}

async fn recv_opt(rx: &mut Option<mpsc::Receiver<Stop>>) -> Option<Stop> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// The running load, and the memo of the file it was made from
/// (`config::Memo`): a reload takes the services that did not change from
/// both. Set together, so the memo always describes this load's file.
pub(super) struct Last<X> {
    memo: Option<config::Memo>,
    load: Arc<Load<X>>,
}

/// Re-reads the file; applies it only if valid. An invalid file changes
/// nothing and every diagnostic goes back to the caller.
async fn reload<X: Send + Sync + 'static>(
    opts: &RunOptions<X>,
    shared: &Shared,
    cmd_tx: &mpsc::Sender<Command<Load<X>>>,
    lkg: &LastGood,
    revision: &mut u64,
    last: &mut Last<X>,
) -> ReloadOutcome {
    notify::reloading();
    let _under_way = shared.reloads.begin();
    let shown = opts.config.display().to_string();
    let started = std::time::Instant::now();
    let (text, result) = read_and_load(opts, last.memo.as_ref());
    let checked = started.elapsed();
    let outcome = match result {
        Err(diags) => {
            let errors: Vec<String> = diags
                .iter()
                .filter(|d| d.is_error())
                .map(|d| one_line(&shown, &text, d))
                .collect();
            write_errors(opts, Some(&render(&shown, &text, &diags)));
            shared.metrics.reloaded(false);
            shared.emit(Event::new(
                "config",
                "reload",
                format!(
                    "reload refused: {} errors in {shown}; the running config is unchanged",
                    errors.len()
                ),
            ));
            shared
                .status
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .config
                .errors = errors;
            ReloadOutcome {
                applied: false,
                revision: *revision,
                changes: Default::default(),
                rendered: render(&shown, &text, &diags),
                diagnostics: serde_json::to_value(diag::to_json(
                    &Source::new(&shown, &text),
                    &diags,
                ))
                .expect("diagnostics serialize"),
                ..ReloadOutcome::default()
            }
        }
        Ok(loaded) => {
            let maintenance = unmatched_maintenance(&loaded);
            if let Some(why) = &maintenance {
                shared.emit(Event::new("config", "reload", why.clone()).warn());
            }
            let source = match maintenance {
                Some(_) => ConfigSource::Unmatched,
                None => ConfigSource::File,
            };
            let mut loaded = match maintenance {
                Some(_) => maintenance_config(),
                None => loaded,
            };
            // What the unchanged services want is taken from the load
            // that made the memo. A refused file leaves both as they were.
            let before = (last.memo.is_some() && !loaded.unchanged.is_empty())
                .then(|| (&last.load.desired, &loaded.unchanged));
            let load = Arc::new(opts.wiring.load(std::mem::take(&mut loaded.config), before));
            tracing::info!(
                "reload: {shown} read and checked in {:.3} s ({} of {} services taken unchanged), \
                 its desired state worked out in {:.3} s",
                checked.as_secs_f64(),
                loaded.unchanged.len(),
                load.counts.1,
                (started.elapsed() - checked).as_secs_f64()
            );
            *last = Last {
                memo: loaded.memo.take(),
                load: load.clone(),
            };
            let (tx, rx) = oneshot::channel();
            let changes = match cmd_tx.send(Command::Reload(load, tx)).await {
                Ok(()) => rx.await.unwrap_or_default(),
                Err(_) => Default::default(),
            };
            *revision += 1;
            shared.metrics.reloaded(true);
            shared.metrics.set_revision(*revision);
            {
                let mut s = shared.status.lock().unwrap_or_else(|e| e.into_inner());
                s.config.revision = *revision;
                s.config.source = source;
                s.config.node = loaded.node.as_ref().map(|n| n.0.clone());
                s.config.loaded_at = status::now_rfc3339();
                s.config.errors.clear();
            }
            let what = admin::changes_line(&changes);
            shared.emit(Event::new(
                "config",
                "reload",
                format!("reloaded as r{revision}: {what}"),
            ));
            saved(shared, lkg.save(&text));
            write_errors(opts, None);
            ReloadOutcome {
                applied: true,
                revision: *revision,
                changes,
                rendered: render(&shown, &text, &loaded.warnings),
                diagnostics: serde_json::to_value(diag::to_json(
                    &Source::new(&shown, &text),
                    &loaded.warnings,
                ))
                .expect("diagnostics serialize"),
                ..ReloadOutcome::default()
            }
        }
    };
    let cfg_line = {
        let s = shared.status.lock().unwrap_or_else(|e| e.into_inner());
        format!("config r{} ({} tasks)", s.config.revision, s.tasks.len())
    };
    notify::ready(&cfg_line);
    // The new config's parse is freed now, the old parts once the tasks
    // have taken the new ones: give the pages back a moment later, not
    // now: the trim holds the allocator's one arena while it walks the
    // heap, and the reload's IPVS pass is running (it waited on the lock).
    tokio::spawn(async {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let _ = tokio::task::spawn_blocking(heap::release).await;
    });
    outcome
}

/// The outcome of a write to the config partition, for status and the
/// console: a failure is said once (an error event) and kept in
/// `config.unsaved` until a write works again, which is said too.
pub(crate) fn saved(shared: &Shared, outcome: Result<(), String>) {
    let mut s = shared.status.lock().unwrap_or_else(|e| e.into_inner());
    let event = match outcome {
        Err(e) => {
            let said = s
                .config
                .unsaved
                .as_deref()
                .is_some_and(|u| u.starts_with(&e));
            s.config.unsaved = Some(format!("{e} (at {})", status::now_rfc3339()));
            (!said).then(|| Event::new("config", "storage", e).error())
        }
        Ok(()) => s.config.unsaved.take().map(|_| {
            Event::new(
                "config",
                "storage",
                "the config partition takes writes again",
            )
        }),
    };
    drop(s);
    if let Some(ev) = event {
        shared.emit(ev);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_names_what_a_config_runs() {
        let text = "[services.web]\naddress = \"10.0.0.1:80\"\nforwarding = \"dr\"\n";
        let c = config::check_text(text, &config::Selection::All);
        let (_, cfg) = c.configs.first().expect("valid");
        let counts = (cfg.vrrp.len(), cfg.services.len());
        assert_eq!(
            summary(counts, 2, 1, ConfigSource::File),
            "config r1: 0 vrrp instances, 1 service, 2 checks"
        );
        assert_eq!(
            summary(counts, 1, 2, ConfigSource::LastGood),
            "config r2 (LAST GOOD CONFIG: the file is invalid): 0 vrrp instances, 1 service, 1 check"
        );
    }
}

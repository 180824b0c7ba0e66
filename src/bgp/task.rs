//! The `bgp` task: runs BIRD for `[bgp]` and makes what it announces
//! follow the health board. A VIP is announced (its `static` protocol
//! enabled) while every service that announces it has its quorum, and
//! withdrawn as soon as one has not. On a reload BIRD's config is
//! rendered with what is announced now and `configure`d (no session or
//! route flaps for what did not change); on shutdown every VIP is
//! withdrawn before BIRD is stopped, and the task stops before VRRP and
//! IPVS are touched, so routers stop sending first.
//!
//! BIRD is a child process (`bird -f`, its log lines on stderr go to
//! pharos's log). If it dies, the task fails and the supervisor restarts
//! it (and BIRD) with backoff. A BIRD left over by a pharos that was
//! killed is found by its pid file and stopped before a new one starts.
//!
//! Talks to: the check task (the board's service quorums), BIRD (child
//! process, control socket), the runtime (status `bgp`, events).

use std::collections::{BTreeMap, VecDeque};
use std::net::IpAddr;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use super::birdc::Birdc;
use super::desired::{BgpPart, Speaker, Vip};
use super::render::{neighbor_protocol, render};
use super::status::{BgpStatus, Prefix, Session};
use crate::check::board::{Board, HealthBoard};
use crate::runtime::status::Event;
use crate::runtime::supervisor::{Shared, Subsystem, TaskCtx, TaskFuture};

/// Debian's bird2 puts it here; so does the image.
const BIRD: &str = "/usr/sbin/bird";
/// How often the sessions are read for the status (and BIRD seen alive).
const REFRESH: Duration = Duration::from_secs(2);
/// How long a starting BIRD has to open its control socket.
const START_WAIT: Duration = Duration::from_secs(10);
/// BIRD's last log lines kept for an error message.
const KEEP_LINES: usize = 8;

pub struct BgpTask {
    pub health: Board,
    /// Registered once, at the first start.
    pub metrics: OnceLock<BgpMetrics>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct NeighborLabel {
    neighbor: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PrefixLabel {
    prefix: String,
}

/// `pharos_bgp_session_up{neighbor}` and `pharos_bgp_prefix_announced{prefix}`.
#[derive(Default)]
pub struct BgpMetrics {
    session_up: Family<NeighborLabel, Gauge>,
    announced: Family<PrefixLabel, Gauge>,
}

impl BgpMetrics {
    fn register(shared: &Shared) -> BgpMetrics {
        let m = BgpMetrics::default();
        let mut r = shared.metrics.registry();
        r.register(
            "bgp_session_up",
            "1 while the BGP session to a [bgp.neighbors] entry is established (as BIRD says)",
            m.session_up.clone(),
        );
        r.register(
            "bgp_prefix_announced",
            "1 while this director announces a VIP's prefix over BGP, 0 while it is withdrawn",
            m.announced.clone(),
        );
        m
    }

    /// The status's sessions and prefixes; rows no longer in it go.
    fn set(&self, status: &BgpStatus) {
        self.session_up.clear();
        for s in &status.sessions {
            self.session_up
                .get_or_create(&NeighborLabel {
                    neighbor: s.name.clone(),
                })
                .set(i64::from(s.info == "Established"));
        }
        self.announced.clear();
        for p in &status.prefixes {
            self.announced
                .get_or_create(&PrefixLabel {
                    prefix: p.prefix.clone(),
                })
                .set(i64::from(p.announced));
        }
    }
}

impl Subsystem for BgpTask {
    type Part = BgpPart;

    fn name(&self) -> &'static str {
        "bgp"
    }

    /// First of all: the routers stop sending to this director before
    /// VRRP hands over and before the checks and IPVS stop.
    fn shutdown_rank(&self) -> u8 {
        5
    }

    fn run(self: Arc<Self>, mut ctx: TaskCtx<BgpPart>) -> TaskFuture {
        Box::pin(async move {
            let metrics = self
                .metrics
                .get_or_init(|| BgpMetrics::register(&ctx.shared));
            let publish = |shared: &Shared, status: &BgpStatus| {
                metrics.set(status);
                publish(shared, status);
            };
            let mut board = self.health.subscribe();
            let mut part = Arc::new(BgpPart(None));
            let mut bird: Option<Bird> = None;
            let mut status = BgpStatus::default();
            let mut tick = tokio::time::interval(REFRESH);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    () = ctx.cancel.cancelled() => {
                        if let Some(b) = bird.take() {
                            b.stop(&ctx.shared).await;
                        }
                        return Ok(());
                    }
                    update = ctx.updates.recv() => {
                        let Some(p) = update else { return Ok(()) };
                        part = p;
                        // Ready once the config is taken: sessions take
                        // seconds to come up, and a director whose BIRD
                        // fails still does its other work (the status
                        // says why).
                        ctx.ready.mark("bgp");
                        let Some(s) = &part.0 else {
                            if let Some(b) = bird.take() {
                                b.stop(&ctx.shared).await;
                            }
                            ctx.shared.status.lock().unwrap_or_else(|e| e.into_inner())
                                .subsystems.remove("bgp");
                            metrics.set(&BgpStatus::default());
                            continue;
                        };
                        let quorums = quorums(&board.borrow_and_update(), s);
                        let result = match bird.as_mut() {
                            Some(b) if b.dir == s.dir => b.reconfigure(s, &quorums, &ctx.shared).await,
                            _ => {
                                if let Some(b) = bird.take() {
                                    b.stop(&ctx.shared).await;
                                }
                                match Bird::start(s, &quorums, &ctx.shared).await {
                                    Ok(b) => {
                                        bird = Some(b);
                                        Ok(())
                                    }
                                    Err(e) => Err(e),
                                }
                            }
                        };
                        if let Err(e) = result {
                            status.last_error = Some(e.clone());
                            publish(&ctx.shared, &status);
                            return Err(e);
                        }
                        if let Some(b) = bird.as_mut() {
                            b.refresh(s, &quorums, &mut status, &ctx.shared).await;
                            publish(&ctx.shared, &status);
                        }
                    }
                    Ok(()) = board.changed() => {
                        let (Some(b), Some(s)) = (bird.as_mut(), &part.0) else { continue };
                        let quorums = quorums(&board.borrow_and_update(), s);
                        match b.follow(s, &quorums, &ctx.shared).await {
                            // A real server's change that moved no quorum
                            // of an announced service: nothing to ask BIRD.
                            Ok(false) => {}
                            Ok(true) => {
                                b.refresh(s, &quorums, &mut status, &ctx.shared).await;
                                publish(&ctx.shared, &status);
                            }
                            Err(e) => {
                                status.last_error = Some(e.clone());
                                publish(&ctx.shared, &status);
                                return Err(e);
                            }
                        }
                    }
                    _ = tick.tick() => {
                        let (Some(b), Some(s)) = (bird.as_mut(), &part.0) else { continue };
                        if let Some(e) = b.exited() {
                            status.last_error = Some(e.clone());
                            publish(&ctx.shared, &status);
                            return Err(e);
                        }
                        let quorums = quorums(&board.borrow(), s);
                        b.refresh(s, &quorums, &mut status, &ctx.shared).await;
                        publish(&ctx.shared, &status);
                    }
                }
            }
        })
    }
}

/// Whether each service that announces a VIP has its quorum, by name.
type Quorums = BTreeMap<String, bool>;

/// The part of the board the announcements follow: the quorums of the
/// services that announce a VIP, not every real server's state (a copy of
/// the whole board on each of its changes and every refresh would cost
/// O(real servers) at 10,000 services).
fn quorums(board: &HealthBoard, s: &Speaker) -> Quorums {
    s.vips
        .values()
        .flat_map(|v| &v.services)
        .filter_map(|name| board.services.get_key_value(name))
        .map(|(name, up)| (name.clone(), *up))
        .collect()
}

fn publish(shared: &Shared, status: &BgpStatus) {
    shared.publish(
        "bgp",
        serde_json::to_value(status).expect("the BGP status serializes"),
    );
}

/// What to change: each VIP whose wanted state (announced or not) differs
/// from what BIRD was told, with the services that hold it down.
pub fn changes(
    vips: &BTreeMap<IpAddr, Vip>,
    quorums: &Quorums,
    told: &BTreeMap<IpAddr, bool>,
) -> Vec<(IpAddr, bool)> {
    vips.iter()
        .filter_map(|(ip, vip)| {
            let want = vip.wanted(quorums);
            (told.get(ip) != Some(&want)).then_some((*ip, want))
        })
        .collect()
}

fn prefix(ip: &IpAddr) -> String {
    match ip {
        IpAddr::V4(_) => format!("{ip}/32"),
        IpAddr::V6(_) => format!("{ip}/128"),
    }
}

/// Why a VIP is (or is not) announced, for events and the status.
fn why(vip: &Vip, quorums: &Quorums) -> String {
    let down: Vec<&str> = vip
        .services
        .iter()
        .filter(|s| quorums.get(*s) != Some(&true))
        .map(String::as_str)
        .collect();
    if down.is_empty() {
        format!("{} at quorum", vip.services.join(", "))
    } else {
        format!("{} below quorum", down.join(", "))
    }
}

/// A running BIRD and its control socket.
struct Bird {
    dir: PathBuf,
    child: Child,
    ctl: Birdc,
    /// What BIRD announces, as pharos told it.
    told: BTreeMap<IpAddr, bool>,
    log: Arc<Mutex<VecDeque<String>>>,
}

impl Bird {
    fn conf(dir: &Path) -> PathBuf {
        dir.join("bird.conf")
    }
    fn socket(dir: &Path) -> PathBuf {
        dir.join("bird.ctl")
    }
    fn pidfile(dir: &Path) -> PathBuf {
        dir.join("bird.pid")
    }

    /// Renders BIRD's config with `told` and writes it (mode 0600: it may
    /// hold passwords) in place of the last.
    fn write_conf(s: &Speaker, told: &BTreeMap<IpAddr, bool>) -> Result<(), String> {
        let mut passwords = BTreeMap::new();
        for (name, n) in &s.neighbors {
            let Some(f) = &n.password_file else { continue };
            let text = std::fs::read_to_string(f).map_err(|e| {
                format!(
                    "cannot read the password of BGP neighbour `{name}` from {}: {e}; \
                     create the file (its first line is the password) or remove password_file",
                    f.display()
                )
            })?;
            passwords.insert(name.clone(), text.lines().next().unwrap_or("").to_string());
        }
        let text = render(s, &passwords, told)?;
        let path = Self::conf(&s.dir);
        let tmp = s.dir.join("bird.conf.new");
        let write = || -> std::io::Result<()> {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(text.as_bytes())?;
            std::fs::rename(&tmp, &path)
        };
        write().map_err(|e| format!("cannot write BIRD's config {}: {e}", path.display()))
    }

    async fn start(s: &Speaker, quorums: &Quorums, shared: &Shared) -> Result<Bird, String> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&s.dir)
            .map_err(|e| format!("cannot create BIRD's directory {}: {e}", s.dir.display()))?;
        stop_leftover(&Self::pidfile(&s.dir)).await;
        // What the board says now is announced from the first moment;
        // usually nothing yet (no check has passed).
        let told: BTreeMap<IpAddr, bool> = s
            .vips
            .iter()
            .map(|(ip, v)| (*ip, v.wanted(quorums)))
            .collect();
        Self::write_conf(s, &told)?;
        let socket = Self::socket(&s.dir);
        let _ = std::fs::remove_file(&socket);
        let mut child = Command::new(BIRD)
            .arg("-f")
            .arg("-c")
            .arg(Self::conf(&s.dir))
            .arg("-s")
            .arg(&socket)
            .arg("-P")
            .arg(Self::pidfile(&s.dir))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                format!("cannot start {BIRD}: {e}; install BIRD 2 (Debian's bird2) or remove [bgp]")
            })?;
        let log = Arc::new(Mutex::new(VecDeque::new()));
        if let Some(err) = child.stderr.take() {
            let log = log.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(err).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    tracing::info!(target: "pharos::bgp::bird", "bird: {line}");
                    let mut l = log.lock().unwrap_or_else(|e| e.into_inner());
                    if l.len() == KEEP_LINES {
                        l.pop_front();
                    }
                    l.push_back(line);
                }
            });
        }
        let deadline = tokio::time::Instant::now() + START_WAIT;
        let ctl = loop {
            if let Ok(Some(st)) = child.try_wait() {
                let said = last_words(&log);
                return Err(format!(
                    "{BIRD} exited at start ({st}) with the config {}: {said}",
                    Self::conf(&s.dir).display()
                ));
            }
            match Birdc::connect(&socket).await {
                Ok(c) => break c,
                Err(e) if tokio::time::Instant::now() >= deadline => {
                    return Err(format!(
                        "{BIRD} did not open its control socket within {} s: {e}",
                        START_WAIT.as_secs()
                    ));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        };
        shared.emit(Event::new(
            "bgp",
            "bird",
            format!(
                "started {} ({} neighbours, {} VIPs, {} announced)",
                ctl.version(),
                s.neighbors.len(),
                s.vips.len(),
                told.values().filter(|u| **u).count()
            ),
        ));
        for (ip, up) in &told {
            if *up {
                shared.emit(Event::new(
                    "bgp",
                    &prefix(ip),
                    format!("announcing {}: {}", prefix(ip), why(&s.vips[ip], quorums)),
                ));
            }
        }
        Ok(Bird {
            dir: s.dir.clone(),
            child,
            ctl,
            told,
            log,
        })
    }

    /// A reload: renders with what the board wants now and has BIRD take
    /// the file; then announces or withdraws what that changed.
    async fn reconfigure(
        &mut self,
        s: &Speaker,
        quorums: &Quorums,
        shared: &Shared,
    ) -> Result<(), String> {
        // Kept as told: a VIP's state changes below, through enable and
        // disable, with its event; new VIPs start withdrawn.
        self.told.retain(|ip, _| s.vips.contains_key(ip));
        for ip in s.vips.keys() {
            self.told.entry(*ip).or_insert(false);
        }
        Self::write_conf(s, &self.told)?;
        self.ctl
            .configure(Some(&Self::conf(&s.dir)))
            .await
            .map_err(|e| e.to_string())?;
        self.follow(s, quorums, shared).await.map(|_| ())
    }

    /// Announces and withdraws what the board says; whether that changed
    /// anything.
    async fn follow(
        &mut self,
        s: &Speaker,
        quorums: &Quorums,
        shared: &Shared,
    ) -> Result<bool, String> {
        let changes = changes(&s.vips, quorums, &self.told);
        for &(ip, up) in &changes {
            let name = Vip::protocol(&ip);
            let done = if up {
                self.ctl.enable(&name).await
            } else {
                self.ctl.disable(&name).await
            };
            done.map_err(|e| e.to_string())?;
            self.told.insert(ip, up);
            let p = prefix(&ip);
            let why = why(&s.vips[&ip], quorums);
            shared.emit(if up {
                Event::new("bgp", &p, format!("announcing {p}: {why}"))
            } else {
                Event::new("bgp", &p, format!("withdrawing {p}: {why}")).warn()
            });
        }
        Ok(!changes.is_empty())
    }

    /// The sessions and prefixes, from BIRD's `show protocols`.
    async fn refresh(
        &mut self,
        s: &Speaker,
        quorums: &Quorums,
        status: &mut BgpStatus,
        shared: &Shared,
    ) {
        status.bird = Some(self.ctl.version().to_string());
        let rows = match self.ctl.protocols().await {
            Ok(r) => r,
            Err(e) => {
                status.last_error = Some(e.to_string());
                return;
            }
        };
        status.last_error = None;
        let before = std::mem::take(&mut status.sessions);
        status.sessions = s
            .neighbors
            .iter()
            .map(|(name, n)| {
                let row = rows.iter().find(|r| r.name == neighbor_protocol(name));
                Session {
                    name: name.clone(),
                    address: n.address.to_string(),
                    remote_as: n.remote_as,
                    state: row.map_or_else(|| "-".into(), |r| r.state.clone()),
                    info: row.map_or_else(|| "not in BIRD".into(), |r| r.info.clone()),
                    since: row.map_or_else(String::new, |r| r.since.clone()),
                }
            })
            .collect();
        // A session that comes up or goes down is an event (BIRD's own log
        // line says it too, without the neighbour's name in pharos's terms).
        for now in &status.sessions {
            let was = before.iter().find(|b| b.name == now.name);
            let up = now.info == "Established";
            let was_up = was.is_some_and(|b| b.info == "Established");
            if up != was_up && (up || was.is_some()) {
                let subject = format!("neighbor {}", now.name);
                shared.emit(if up {
                    Event::new(
                        "bgp",
                        &subject,
                        format!(
                            "BGP session to {} ({}, AS {}) established",
                            now.name, now.address, now.remote_as
                        ),
                    )
                } else {
                    Event::new(
                        "bgp",
                        &subject,
                        format!(
                            "BGP session to {} ({}, AS {}) is down: {}",
                            now.name, now.address, now.remote_as, now.info
                        ),
                    )
                    .warn()
                });
            }
        }
        status.prefixes = s
            .vips
            .iter()
            .map(|(ip, vip)| {
                let row = rows.iter().find(|r| r.name == Vip::protocol(ip));
                let announced = row.is_some_and(|r| r.state == "up");
                Prefix {
                    prefix: prefix(ip),
                    services: vip.services.clone(),
                    announced,
                    why: why(vip, quorums),
                }
            })
            .collect();
    }

    /// BIRD's exit, if it has exited.
    fn exited(&mut self) -> Option<String> {
        let st = self.child.try_wait().ok().flatten()?;
        let said = last_words(&self.log);
        Some(format!("{BIRD} exited ({st}); its last words: {said}"))
    }

    /// Withdraws every VIP, then stops BIRD (which closes the sessions
    /// with a Cease, RFC 4486).
    async fn stop(mut self, shared: &Shared) {
        let up: Vec<IpAddr> = self
            .told
            .iter()
            .filter(|(_, u)| **u)
            .map(|(ip, _)| *ip)
            .collect();
        for ip in &up {
            if self.ctl.disable(&Vip::protocol(ip)).await.is_ok() {
                shared.emit(Event::new(
                    "bgp",
                    &prefix(ip),
                    format!("withdrawing {}: pharos is stopping BGP", prefix(ip)),
                ));
            }
        }
        let _ = self.ctl.command("down").await;
        if tokio::time::timeout(Duration::from_secs(5), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
        let _ = std::fs::remove_file(Self::socket(&self.dir));
    }
}

/// BIRD's last log lines, for an error message.
fn last_words(log: &Mutex<VecDeque<String>>) -> String {
    let l = log.lock().unwrap_or_else(|e| e.into_inner());
    l.iter().cloned().collect::<Vec<_>>().join(" / ")
}

/// Stops a BIRD that a pid file in our directory names, if it is one: a
/// pharos that was killed leaves its BIRD announcing.
async fn stop_leftover(pidfile: &Path) {
    let Ok(text) = std::fs::read_to_string(pidfile) else {
        return;
    };
    let Ok(pid) = text.trim().parse::<i32>() else {
        return;
    };
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    if comm.trim() != "bird" {
        return;
    }
    let pid = nix::unistd::Pid::from_raw(pid);
    tracing::warn!(
        "stopping a BIRD left running (pid {pid}, from {})",
        pidfile.display()
    );
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
    for _ in 0..50 {
        if nix::sys::signal::kill(pid, None).is_err() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_announcements_follow_a_copy_of_the_announcing_services_quorums_only() {
        let vip = Vip {
            services: vec!["web".into(), "tls".into()],
            med: None,
            communities: vec![],
            prepend: 0,
        };
        let s = Speaker {
            local_as: 65001,
            router_id: "10.0.0.9".parse().unwrap(),
            dir: "/run/pharos/bird".into(),
            neighbors: BTreeMap::new(),
            vips: BTreeMap::from([("10.0.0.1".parse().unwrap(), vip)]),
        };
        let mut board = HealthBoard::default();
        for (name, up) in [("web", true), ("tls", false), ("dns", true)] {
            board.services.insert(name.into(), up);
        }
        board.checks.insert("uplink".into(), true);
        assert_eq!(
            quorums(&board, &s),
            BTreeMap::from([("tls".into(), false), ("web".into(), true)])
        );
    }

    #[test]
    fn only_a_vip_whose_wanted_state_differs_from_what_bird_was_told_changes() {
        let vip = |s: &[&str]| Vip {
            services: s.iter().map(|x| x.to_string()).collect(),
            med: None,
            communities: vec![],
            prepend: 0,
        };
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let vips = BTreeMap::from([(a, vip(&["web", "tls"])), (b, vip(&["dns"]))]);
        let mut quorums = Quorums::new();
        quorums.insert("web".into(), true);
        quorums.insert("tls".into(), true);
        quorums.insert("dns".into(), false);
        let told = BTreeMap::from([(a, false), (b, false)]);
        assert_eq!(changes(&vips, &quorums, &told), vec![(a, true)]);
        // One of a VIP's services below quorum withdraws it.
        quorums.insert("tls".into(), false);
        let told = BTreeMap::from([(a, true), (b, false)]);
        assert_eq!(changes(&vips, &quorums, &told), vec![(a, false)]);
        assert_eq!(why(&vips[&a], &quorums), "tls below quorum");
        // A VIP BIRD was never told of is told either way.
        assert_eq!(
            changes(&vips, &quorums, &BTreeMap::new()),
            vec![(a, false), (b, false)]
        );
    }
}

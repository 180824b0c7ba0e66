//! The director pair lab: five VMs on one emulated LAN, a client's requests
//! through the VIP, and the faults a pair exists for. `make run` and
//! tests/vm_pair.rs are two front ends of this one file, so what the demo
//! shows is what the test holds.
//!
//! ```text
//!   client  debug image, 192.168.199.50  ─┐
//!   lvs1    production image, .2 (150)   ─┤  one L2 segment: QEMU socket
//!   lvs2    production image, .3 (100)   ─┤  netdevs on a multicast group
//!   rs1     debug image, .11, httpd      ─┤  bound to loopback; nothing
//!   rs2     debug image, .12, httpd      ─┘  leaves the machine
//!           VIP 192.168.199.100:80 (LVS-DR, rr, HTTP check)
//! ```
//!
//! The directors boot the production image exactly as `make image` built it,
//! with its embedded `configs/default.toml`; they have no shell, so all the
//! lab knows of them is what they print on their consoles. The real servers
//! and the client boot the debug image with `image/lab/box.sh` as their test
//! hook: the lab types its verbs (`web stop`, `requests ...`, `stream ...`)
//! into their serial consoles and reads back one line per request. Every
//! console line is timed as it arrives; the client's own clock times its
//! requests, and is mapped onto the lab's clock by the line that arrived
//! soonest after it was printed.
//!
//! Each step records what it measured beside the bound it must meet
//! ([`Measure`]); the demo prints them, the test fails on any that misses.

#![allow(dead_code)]

mod faults;
mod inside;
mod soak;

use super::free_port;
use std::io::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use super::vm::{BOOT_TIMEOUT, Disk, ROOT, Vm};

pub const VIP: &str = "192.168.199.100";
const PORT: u16 = 80;
/// Seconds between two requests of the client (each on its own connection,
/// several in flight at once).
const EVERY: f64 = 0.2;
/// The client's timeout for one request (box.sh: `timeout 1 nc`).
const REQUEST_TIMEOUT: f64 = 1.0;
/// Slack for the moment a console line is seen against the moment the
/// event happened (serial output, the lab's 50 ms polling).
const SLACK: f64 = 0.3;

struct Spec {
    name: &'static str,
    mac: &'static str,
    variant: &'static str,
}

const BOXES: [Spec; 5] = [
    Spec {
        name: "lvs1",
        mac: "52:54:00:00:00:01",
        variant: "prod",
    },
    Spec {
        name: "lvs2",
        mac: "52:54:00:00:00:02",
        variant: "prod",
    },
    Spec {
        name: "rs1",
        mac: "52:54:00:00:00:11",
        variant: "debug",
    },
    Spec {
        name: "rs2",
        mac: "52:54:00:00:00:12",
        variant: "debug",
    },
    Spec {
        name: "client",
        mac: "52:54:00:00:00:50",
        variant: "debug",
    },
];

const LVS1: usize = 0;
const LVS2: usize = 1;
const RS1: usize = 2;
const RS2: usize = 3;
const CLIENT: usize = 4;

/// One measured number, the bound it must meet (if any) and whether it did.
#[derive(Debug, Clone)]
pub struct Measure {
    pub step: u8,
    pub what: String,
    pub value: String,
    pub bound: String,
    pub ok: bool,
}

/// What the lab measured, step by step.
#[derive(Debug, Default)]
pub struct Report {
    pub measures: Vec<Measure>,
}

impl Report {
    fn add(&mut self, step: u8, what: &str, value: String, bound: &str, ok: bool) {
        let m = Measure {
            step,
            what: what.into(),
            value,
            bound: bound.into(),
            ok,
        };
        say(&format!(
            "   {} {}: {}{}",
            if m.ok { "ok" } else { "MISSED" },
            m.what,
            m.value,
            if m.bound.is_empty() {
                String::new()
            } else {
                format!(" (bound: {})", m.bound)
            }
        ));
        self.measures.push(m);
    }

    fn info(&mut self, step: u8, what: &str, value: String) {
        self.measures.push(Measure {
            step,
            what: what.into(),
            value,
            bound: String::new(),
            ok: true,
        });
    }

    pub fn missed(&self) -> Vec<&Measure> {
        self.measures.iter().filter(|m| !m.ok).collect()
    }

    /// The summary table.
    pub fn table(&self) -> String {
        let w = self
            .measures
            .iter()
            .map(|m| m.what.chars().count())
            .max()
            .unwrap_or(0);
        let v = self
            .measures
            .iter()
            .map(|m| m.value.chars().count())
            .max()
            .unwrap_or(0);
        let mut out = String::new();
        for m in &self.measures {
            out.push_str(&format!(
                "  {}  {:w$}  {:v$}  {}{}\n",
                m.step,
                m.what,
                m.value,
                if m.bound.is_empty() {
                    ""
                } else if m.ok {
                    "ok, "
                } else {
                    "MISSED, "
                },
                m.bound,
            ));
        }
        out
    }
}

/// Prints a line of narration at once.
pub fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// The numbers of `configs/default.toml` the bounds follow from.
struct Config {
    advert: f64,
    backup_priority: f64,
    check_interval: f64,
    check_timeout: f64,
    fall: f64,
    rise: f64,
    retries: f64,
    retry_delay: f64,
}

impl Config {
    fn read() -> Config {
        let text = std::fs::read_to_string(Path::new(ROOT).join("configs/default.toml")).unwrap();
        let t: toml::Table = text.parse().unwrap();
        let secs = |v: &toml::Value| {
            humantime::parse_duration(v.as_str().unwrap())
                .unwrap()
                .as_secs_f64()
        };
        let vi = &t["vrrp"]["VI_1"];
        let check = &t["services"]["web"]["check"];
        Config {
            advert: secs(&vi["advert_interval"]),
            backup_priority: t["nodes"]["lvs2"]["vrrp"]["VI_1"]["priority"]
                .as_integer()
                .unwrap() as f64,
            check_interval: secs(&check["interval"]),
            check_timeout: secs(&check["timeout"]),
            fall: check["fall"].as_integer().unwrap() as f64,
            rise: check["rise"].as_integer().unwrap() as f64,
            // The defaults of `[services.*.check]` (src/config/model.rs).
            retries: check.get("retries").map_or(1, |v| v.as_integer().unwrap()) as f64,
            retry_delay: check.get("retry_delay").map_or(1.0, secs),
        }
    }

    /// RFC 5798 §6.1: 3 × Master_Adver_Interval + Skew_Time, the backup's
    /// wait after the master's last advert.
    fn master_down(&self) -> f64 {
        3.0 * self.advert + (256.0 - self.backup_priority) * self.advert / 256.0
    }

    /// From a real server's failure to its removal, at worst: the first
    /// failing round up to one interval away, then `fall` rounds, each of
    /// them an attempt and `retries` more after `retry_delay`, every one
    /// timing out. Rounds keep a fixed rate, but one that outlasts the
    /// interval delays the next (src/check/health.rs): they are the longer
    /// of the two apart. (Seen: 7.47 s against the 7 s of a bound that
    /// took them to be an interval apart; the default config's rounds last
    /// 3 s, its interval is 2 s.)
    fn fall_window(&self) -> f64 {
        let round = self.retries * self.retry_delay + (self.retries + 1.0) * self.check_timeout;
        self.check_interval + (self.fall - 1.0) * round.max(self.check_interval) + round
    }

    fn rise_window(&self) -> f64 {
        self.rise * self.check_interval + self.check_timeout
    }
}

/// One request of the client, on the lab's clock (seconds since boot).
#[derive(Debug, Clone)]
struct Request {
    start: f64,
    end: f64,
    answer: Option<String>,
}

impl Request {
    /// Whether it was in flight at some moment of [from, to].
    fn overlaps(&self, from: f64, to: f64) -> bool {
        self.start <= to && self.end.max(self.start + REQUEST_TIMEOUT) >= from
    }
}

struct Node {
    spec: &'static Spec,
    /// The image it boots: the spec's, unless [`Setup`] says otherwise.
    variant: &'static str,
    disk: Disk,
    vm: Option<Vm>,
}

/// How the lab is set up. `Setup::default()` is `make run`'s lab.
#[derive(Debug, Clone, Copy, Default)]
pub struct Setup {
    /// lvs1 boots the debug image (the fault switch built in, a shell, and
    /// image/lab/box.sh as its test hook) with the same config and
    /// management identity, so faults can be made inside it: tampering, a
    /// task panic, the clock, its config partition. lvs2 stays production.
    pub debug_lvs1: bool,
    /// The directors have a second link between them, eth2 (a third NIC
    /// on its own emulated segment), that carries VRRP alone, as Piranha
    /// and many keepalived pairs have it: the adverts go over it, the VIP
    /// stays on eth0, and eth0 is tracked (down: Fault).
    pub vrrp_link: bool,
}

impl Setup {
    /// The config director `name` boots with: configs/default.toml, with
    /// the dedicated VRRP link and lvs1's sysctl if set up so.
    pub fn director_text(&self, name: &str) -> String {
        let mut text =
            std::fs::read_to_string(Path::new(ROOT).join("configs/default.toml")).unwrap();
        let mut edit = |from: &str, to: &str| {
            assert!(text.contains(from), "configs/default.toml has `{from}`");
            text = text.replacen(from, to, 1);
        };
        if self.vrrp_link {
            edit(
                "[vrrp.VI_1]\ninterface = \"eth0\"",
                "[interfaces.eth2]\nup = true                               # the dedicated VRRP link\n\n\
                 [vrrp.VI_1]\ninterface = \"eth2\"                      # adverts on the dedicated link\n\
                 vip_interface = \"eth0\"                  # the VIP on the LAN",
            );
            edit(
                "track.services.web = { weight = -60 }",
                "track.services.web = { weight = -60 }\ntrack.interfaces.eth0 = {}              # LAN down: Fault",
            );
            edit(
                "interfaces.eth0.addresses = [\"192.168.199.2/24\"]",
                "interfaces.eth0.addresses = [\"192.168.199.2/24\"]\ninterfaces.eth2.addresses = [\"10.99.0.2/24\"]",
            );
            edit(
                "interfaces.eth0.addresses = [\"192.168.199.3/24\"]",
                "interfaces.eth0.addresses = [\"192.168.199.3/24\"]\ninterfaces.eth2.addresses = [\"10.99.0.3/24\"]",
            );
        }
        if self.debug_lvs1 && name == "lvs1" {
            let (key, value) = LVS1_SYSCTL;
            edit(
                "[metrics]",
                &format!("[system.sysctl]\n\"{key}\" = {value}\n\n[metrics]"),
            );
        }
        text
    }
}

/// The sysctl a debug lvs1 sets on top of configs/default.toml (an LVS
/// setting keepalived users put in sysctl.conf), for the tampering row.
pub const LVS1_SYSCTL: (&str, &str) = ("net.ipv4.vs.expire_nodest_conn", "1");

pub struct Lab {
    nodes: Vec<Node>,
    lan: u16,
    epoch: Instant,
    cfg: Config,
    pub report: Report,
    mgmt: Mgmt,
    /// Commands run through [`Lab::sh`] so far (each one's id).
    shells: u32,
    setup: Setup,
}

const BIN: &str = env!("CARGO_BIN_EXE_pharos");

/// The directors' management NICs: the operator's identity (made by
/// `pharos identity init`) and, per director, the ports on 127.0.0.1 that
/// QEMU forwards to its management API and its status page.
struct Mgmt {
    dir: tempfile::TempDir,
    ports: [(u16, u16); 2],
}

impl Mgmt {
    /// A CA, the operator's identity, and one for each director, whose
    /// `management.toml` has pharos set up eth1 (QEMU's user network) for
    /// the API whatever its pharos.toml says.
    fn new() -> Mgmt {
        let dir = tempfile::Builder::new()
            .prefix("pharos-lab-identity.")
            .tempdir()
            .unwrap();
        super::vm::remove_on_kill(dir.path());
        let run = |args: &[&str]| {
            let out = std::process::Command::new(BIN)
                .args(args)
                .output()
                .expect("the pharos binary runs");
            assert!(
                out.status.success(),
                "pharos {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            );
        };
        let d = dir.path().to_str().unwrap();
        run(&[
            "identity",
            "init",
            "--dir",
            d,
            "--box",
            "lvs1",
            "--address",
            "127.0.0.1",
            "--client",
            "operator",
        ]);
        run(&[
            "identity",
            "box",
            "--dir",
            d,
            "lvs2",
            "--address",
            "127.0.0.1",
        ]);
        for b in ["lvs1", "lvs2"] {
            std::fs::write(
                dir.path().join(format!("boxes/{b}/management.toml")),
                "listen = \"0.0.0.0:9443\"\ninterface = { name = \"eth1\", address = \"10.0.2.15/24\" }\n",
            )
            .unwrap();
        }
        Mgmt {
            dir,
            ports: [(free_port(), free_port()), (free_port(), free_port())],
        }
    }

    fn put_on(&self, disk: &Disk, name: &str) {
        let boxed = self.dir.path().join("boxes").join(name);
        let files: Vec<std::path::PathBuf> = ["ca.pem", "box.pem", "box.key", "management.toml"]
            .iter()
            .map(|f| boxed.join(f))
            .collect();
        disk.put_files("identity", &files);
    }

    /// `pharos remote` to director `i` (0: lvs1, 1: lvs2).
    fn remote(&self, i: usize, args: &[&str]) -> std::process::Output {
        self.remote_command(i, args).output().unwrap()
    }

    /// `remote` started, not waited for: its output once it ends.
    fn remote_spawn(&self, i: usize, args: &[&str]) -> std::process::Child {
        self.remote_command(i, args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    }

    fn remote_command(&self, i: usize, args: &[&str]) -> std::process::Command {
        let mut c = std::process::Command::new(BIN);
        c.args([
            "remote",
            &format!("127.0.0.1:{}", self.ports[i].0),
            "--identity",
        ])
        .arg(self.dir.path())
        .args(args);
        c
    }

    /// How an operator reaches director `i`, as the demo prints it.
    fn how(&self, i: usize, name: &str) -> String {
        format!(
            "   {name}: pharos remote 127.0.0.1:{} --identity {} status   (status page, once on: http://127.0.0.1:{}/)",
            self.ports[i].0,
            self.dir.path().display(),
            self.ports[i].1
        )
    }
}

/// One HTTP GET of `path` on 127.0.0.1:`port`; the body.
fn http_get(port: u16, path: &str) -> Option<String> {
    use std::io::Read as _;
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: lab\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let (head, body) = out.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.1 200").then(|| body.to_string())
}

/// Strips ANSI colours, the log prefix and the structured fields from a
/// director's console line, leaving the event's words.
fn clean(line: &str) -> String {
    let mut s = String::new();
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            s.push(c);
        }
    }
    let mut s = s.trim();
    // `2026-12-05T13:35:07.635131Z  INFO pharos::runtime::supervisor: ...`
    if let Some((first, rest)) = s.split_once(' ')
        && first.len() > 19
        && first.as_bytes()[10] == b'T'
    {
        s = rest.trim_start();
    }
    for level in ["INFO ", "WARN ", "ERROR ", "DEBUG "] {
        if let Some(rest) = s.strip_prefix(level)
            && let Some((_, msg)) = rest.split_once(": ")
        {
            s = msg;
        }
    }
    let s = s.find(" kind=").map_or(s, |i| &s[..i]);
    s.trim().to_string()
}

/// The field `key=value` of a structured console line (not the last one,
/// `subject`, which may hold spaces).
fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let i = line.find(&format!(" {key}="))? + key.len() + 2;
    line[i..].split_whitespace().next()
}

/// A change to the IPVS table that a director's console line reports, as
/// `ipvs/reconcile.rs` words it.
#[derive(Debug, PartialEq)]
enum IpvsChange {
    AddService {
        service: String,
        scheduler: String,
    },
    DelService {
        service: String,
    },
    /// A real server added, or its weight set.
    Weight {
        service: String,
        server: String,
        weight: u32,
    },
    DelServer {
        service: String,
        server: String,
    },
}

fn ipvs_change(line: &str) -> Option<IpvsChange> {
    if !line.contains("kind=ipvs") {
        return None;
    }
    let c = clean(line);
    let c = c.split(" (from `").next().unwrap_or(&c);
    let w: Vec<&str> = c.split_whitespace().collect();
    let svc = |proto: &str, vip: &str| format!("{proto}  {vip}");
    Some(match w.as_slice() {
        ["added", "service", proto, vip, sched] => IpvsChange::AddService {
            service: svc(proto, vip),
            scheduler: sched.trim_matches(|c| c == '(' || c == ')').to_string(),
        },
        ["removed", "service", proto, vip] => IpvsChange::DelService {
            service: svc(proto, vip),
        },
        [
            "added",
            "real",
            "server",
            rs,
            "to",
            proto,
            vip,
            "(weight",
            weight,
        ]
        | [
            "set",
            "real",
            "server",
            rs,
            "of",
            proto,
            vip,
            "to",
            "weight",
            weight,
        ] => IpvsChange::Weight {
            service: svc(proto, vip),
            server: rs.to_string(),
            weight: weight.trim_end_matches(')').parse().ok()?,
        },
        ["removed", "real", "server", rs, "from", proto, vip] => IpvsChange::DelServer {
            service: svc(proto, vip),
            server: rs.to_string(),
        },
        _ => return None,
    })
}

/// The VRRP state a director's console line says an instance entered, as
/// `(state, the whole event)`: `backup → master: ...` gives `master`.
fn vrrp_transition(line: &str) -> Option<(String, String)> {
    if !line.contains("kind=vrrp") {
        return None;
    }
    let text = clean(line);
    if text.starts_with("priority ") {
        return None; // `priority 90 → 150: ...`, not a state
    }
    let (_, after) = text.split_once(" → ")?;
    let state = after.split(':').next()?.trim().to_string();
    Some((state, text))
}

impl Lab {
    /// Boots the five boxes and waits until the pair has settled: lvs1
    /// master, lvs2 backup, both real servers in lvs1's table.
    pub fn boot() -> Lab {
        Lab::boot_with(Setup::default())
    }

    /// [`Lab::boot`], set up as `setup` says.
    pub fn boot_with(setup: Setup) -> Lab {
        let cfg = Config::read();
        // One multicast port per lab, so two labs on one machine stay apart.
        let lan = 43_000 + (std::process::id() % 2000) as u16;
        let client_cfg =
            std::fs::read_to_string(Path::new(ROOT).join("image/lab/client.toml")).unwrap();
        let script = std::fs::read_to_string(Path::new(ROOT).join("image/lab/box.sh")).unwrap();
        let mgmt = Mgmt::new();
        let nodes: Vec<Node> = BOXES
            .iter()
            .map(|spec| {
                let director = spec.name.starts_with("lvs");
                let variant = if setup.debug_lvs1 && spec.name == "lvs1" {
                    "debug"
                } else {
                    spec.variant
                };
                let disk = Disk::copy(variant);
                if director {
                    mgmt.put_on(&disk, spec.name);
                }
                if variant == "debug" {
                    disk.put("box.sh", &script);
                }
                if spec.name == "client" {
                    disk.put("pharos.toml", &client_cfg);
                }
                if director && (variant == "debug" || setup.vrrp_link) {
                    disk.put("pharos.toml", &setup.director_text(spec.name));
                }
                Node {
                    spec,
                    variant,
                    disk,
                    vm: None,
                }
            })
            .collect();
        let mut lab = Lab {
            nodes,
            lan,
            epoch: Instant::now(),
            cfg,
            report: Report::default(),
            mgmt,
            shells: 0,
            setup,
        };
        say(&format!(
            "== booting the lab: lvs1 and lvs2 from the production image (image/out/pharos.img, its\n   embedded configs/default.toml), rs1, rs2 and a client from the debug image; QEMU TCG,\n   one emulated LAN on 127.0.0.1 multicast port {lan}"
        ));
        if setup.vrrp_link {
            say("   (this lab: a second link between the directors, eth2, carries VRRP alone)");
        }
        if setup.debug_lvs1 {
            say(&format!(
                "   (this lab: lvs1 from the debug image instead, the same config plus {} = {}, the fault\n   switch built in, a shell for the faults made inside it)",
                LVS1_SYSCTL.0, LVS1_SYSCTL.1
            ));
        }
        for i in 0..lab.nodes.len() {
            lab.start(i);
        }
        for i in 0..lab.nodes.len() {
            let vm = lab.vm(i);
            let took = vm.wait_for("pharos: ready in", BOOT_TIMEOUT);
            // `pharos: ready in N ms since PID 1 started: node lvs1 (...); config r1: ...`
            let node = vm
                .lines()
                .iter()
                .find_map(|(_, l)| {
                    let (_, what) = l.split_once(" since PID 1 started: ")?;
                    Some(what.split("; config").next().unwrap_or(what).to_string())
                })
                .unwrap_or_else(|| "?".into());
            say(&format!(
                "   {:6} ready {:4.1} s after QEMU started: {}",
                lab.nodes[i].spec.name,
                took.as_secs_f64(),
                node
            ));
        }
        for i in 0..lab.nodes.len() {
            if lab.nodes[i].variant == "debug" {
                lab.vm(i).wait_for("LAB READY", Duration::from_secs(60));
            }
        }
        // Settled: lvs1 master, both real servers up in its table.
        lab.wait_state(LVS1, "master", Duration::from_secs(60), 0)
            .unwrap_or_else(|| panic!("lvs1 never became master:\n{}", lab.vm(LVS1).console()));
        for rs in ["192.168.199.11:80", "192.168.199.12:80"] {
            lab.wait_weight(LVS1, rs, 1, Duration::from_secs(30), 0)
                .unwrap_or_else(|| {
                    panic!(
                        "{rs} never got weight 1 on lvs1:\n{}",
                        lab.vm(LVS1).console()
                    )
                });
        }
        lab
    }

    fn start(&mut self, i: usize) {
        let spec = self.nodes[i].spec;
        let direct = (self.nodes[i].variant == "debug").then_some((
            "debug",
            "console=ttyS0 panic=-1 quiet loglevel=4 pharos.test=/config/box.sh",
        ));
        let vm = if spec.name.starts_with("lvs") {
            Vm::boot_director(
                &self.nodes[i].disk,
                direct,
                spec.mac,
                self.lan,
                self.mgmt.ports[i],
                self.setup.vrrp_link.then_some(self.lan + 2000),
            )
        } else {
            Vm::boot_with(
                &self.nodes[i].disk,
                direct,
                Some((spec.mac, self.lan)),
                "384",
            )
        };
        self.nodes[i].vm = Some(vm);
    }

    fn vm(&self, i: usize) -> &Vm {
        self.nodes[i].vm.as_ref().expect("the box is running")
    }

    fn vm_mut(&mut self, i: usize) -> &mut Vm {
        self.nodes[i].vm.as_mut().expect("the box is running")
    }

    /// Seconds on the lab's clock.
    fn t(&self, at: Instant) -> f64 {
        at.saturating_duration_since(self.epoch).as_secs_f64()
    }

    fn now(&self) -> f64 {
        self.t(Instant::now())
    }

    /// Waits for director `i` to enter `state`, from console line `from` on;
    /// the lab time it was seen.
    fn wait_state(&self, i: usize, state: &str, within: Duration, from: usize) -> Option<f64> {
        self.vm(i)
            .find_line(from, within, |l| {
                vrrp_transition(l).filter(|(s, _)| s == state).map(|_| ())
            })
            .map(|(at, ())| self.t(at))
    }

    /// Waits for director `i` to set real server `rs` to `weight`.
    fn wait_weight(
        &self,
        i: usize,
        rs: &str,
        weight: u32,
        within: Duration,
        from: usize,
    ) -> Option<f64> {
        self.vm(i)
            .find_line(from, within, |l| match ipvs_change(l) {
                Some(IpvsChange::Weight {
                    server, weight: w, ..
                }) if server == rs && w == weight => Some(()),
                _ => None,
            })
            .map(|(at, ())| self.t(at))
    }

    /// Waits for a console line of director `i` containing `text`, from
    /// line `from` on; the lab time it was seen.
    fn wait_text(&self, i: usize, text: &str, within: Duration, from: usize) -> Option<f64> {
        self.vm(i)
            .find_line(from, within, |l| l.contains(text).then_some(()))
            .map(|(at, ())| self.t(at))
    }

    /// Requests that started at or after `since` that failed, and all of them.
    fn failed_since(&self, since: f64) -> (usize, usize) {
        let reqs = self.requests();
        let step: Vec<&Request> = reqs.iter().filter(|r| r.start >= since).collect();
        (
            step.iter().filter(|r| r.answer.is_none()).count(),
            step.len(),
        )
    }

    /// The client's requests so far, on the lab's clock.
    fn requests(&self) -> Vec<Request> {
        let lines = self.vm(CLIENT).lines();
        let mut parsed = Vec::new();
        // The client's clock + offset = the lab's: the least-delayed line
        // gives the offset.
        let mut offset = f64::INFINITY;
        for (at, l) in &lines {
            let w: Vec<&str> = l.split_whitespace().collect();
            if w.len() >= 5 && w[0] == "REQ" {
                let (Ok(start), Ok(end)) = (w[2].parse::<f64>(), w[3].parse::<f64>()) else {
                    continue;
                };
                offset = offset.min(self.t(*at) - end);
                let answer = (w[4] != "FAIL").then(|| w[4].to_string());
                parsed.push((start, end, answer));
            }
        }
        parsed
            .into_iter()
            .map(|(start, end, answer)| Request {
                start: start + offset,
                end: end + offset,
                answer,
            })
            .collect()
    }

    /// The stream's lines so far: (lab time, the server's line number, the
    /// server), and whether it ended.
    fn stream(&self) -> (Vec<(f64, u64, String)>, bool) {
        let mut out = Vec::new();
        let mut ended = false;
        for (at, l) in self.vm(CLIENT).lines() {
            let w: Vec<&str> = l.split_whitespace().collect();
            match w.as_slice() {
                ["STREAM", _, server, n] => {
                    if let Ok(n) = n.parse() {
                        out.push((self.t(at), n, server.to_string()));
                    }
                }
                ["STREAM-END", ..] => ended = true,
                _ => {}
            }
        }
        (out, ended)
    }

    /// Waits until `f` holds for the requests, polling.
    fn wait_requests(&self, within: Duration, mut f: impl FnMut(&[Request]) -> bool) -> bool {
        let deadline = Instant::now() + within;
        loop {
            if f(&self.requests()) {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn type_to(&mut self, i: usize, line: &str) {
        self.vm_mut(i).type_line(line);
    }

    /// Runs `cmd` in box `i`'s shell (a debug box: box.sh's `sh` verb);
    /// its exit code and output lines.
    fn sh(&mut self, i: usize, cmd: &str) -> (i32, Vec<String>) {
        self.shells += 1;
        let id = self.shells;
        let from = self.vm(i).line_count();
        self.type_to(i, &format!("sh {id} {cmd}"));
        let end = format!("SH-END {id} ");
        let rc = self
            .vm(i)
            .find_line(from, Duration::from_secs(60), |l| {
                l.split_once(&end)
                    .map(|(_, rc)| rc.trim().parse::<i32>().unwrap_or(-1))
            })
            .map(|(_, rc)| rc)
            .unwrap_or_else(|| panic!("`{cmd}` on {} did not finish", self.nodes[i].spec.name));
        let tag = format!("SH {id} ");
        let out = self
            .vm(i)
            .lines()
            .iter()
            .skip(from)
            .filter_map(|(_, l)| l.split_once(&tag).map(|(_, rest)| rest.to_string()))
            .collect();
        (rc, out)
    }

    /// The VRRP and IPVS events director `i` printed on its console.
    fn director_events(&self, i: usize) -> Vec<String> {
        self.vm(i)
            .lines()
            .iter()
            .filter(|(_, l)| l.contains("kind=vrrp") || l.contains("kind=ipvs"))
            .map(|(_, l)| {
                let kind = field(l, "kind").unwrap_or("");
                format!("{kind:4}  {}", clean(l))
            })
            .collect()
    }

    /// What director `i` runs now, from its own events: its VRRP state and
    /// priority, and the IPVS table it programmed, as ipvsadm lays it out.
    fn director_view(&self, i: usize) -> Vec<String> {
        let (mut state, mut prio) = (String::from("unknown"), String::new());
        let mut table: std::collections::BTreeMap<
            String,
            (String, std::collections::BTreeMap<String, String>),
        > = Default::default();
        for (_, l) in self.vm(i).lines() {
            if let Some((s, text)) = vrrp_transition(&l) {
                state = s.to_uppercase();
                prio = text
                    .rsplit_once("(priority ")
                    .map_or("", |(_, p)| p.trim_end_matches(')'))
                    .to_string();
                continue;
            }
            if l.contains("kind=vrrp")
                && let Some(change) = clean(&l).strip_prefix("priority ")
                && let Some((_, to)) = change.split_once(" → ")
            {
                prio = to.split(':').next().unwrap_or("").to_string();
                continue;
            }
            match ipvs_change(&l) {
                Some(IpvsChange::AddService { service, scheduler }) => {
                    table.entry(service).or_default().0 = scheduler;
                }
                Some(IpvsChange::DelService { service }) => {
                    table.remove(&service);
                }
                Some(IpvsChange::Weight {
                    service,
                    server,
                    weight,
                }) => {
                    table
                        .entry(service)
                        .or_default()
                        .1
                        .insert(server, weight.to_string());
                }
                Some(IpvsChange::DelServer { service, server }) => {
                    if let Some(e) = table.get_mut(&service) {
                        e.1.remove(&server);
                    }
                }
                None => {}
            }
        }
        let mut out = vec![format!("VRRP VI_1: {state} (priority {prio})")];
        for (svc, (sched, dests)) in table {
            out.push(format!("IPVS {svc} {sched}"));
            for (rs, weight) in dests {
                out.push(format!("       -> {rs:20} weight {weight}"));
            }
        }
        out
    }

    /// Step 1: the client's requests through the VIP reach both real
    /// servers; what each director says it did.
    pub fn step1_requests(&mut self) {
        say(&format!(
            "\n== 1. the client sends a GET to {VIP}:{PORT} every {EVERY} s (each its own connection, 1 s timeout)"
        ));
        let from = self.requests().len();
        self.type_to(CLIENT, &format!("requests {VIP} {PORT} {EVERY}"));
        let answered =
            |r: &[Request]| r.iter().skip(from).filter(|r| r.answer.is_some()).count() >= 12;
        let ok = self.wait_requests(Duration::from_secs(30), answered);
        let reqs: Vec<Request> = self.requests().into_iter().skip(from).collect();
        let answers: Vec<&str> = reqs.iter().filter_map(|r| r.answer.as_deref()).collect();
        say(&format!("   answered by: {}", answers.join(" ")));
        let n = |who: &str| answers.iter().filter(|a| **a == who).count();
        let failed = reqs.iter().filter(|r| r.answer.is_none()).count();
        self.report.add(
            1,
            "answers through the VIP",
            format!("rs1 {}, rs2 {}, failed {failed}", n("rs1"), n("rs2")),
            "both real servers answer",
            ok && n("rs1") > 0 && n("rs2") > 0,
        );
        for i in [LVS1, LVS2] {
            let name = self.nodes[i].spec.name;
            say(&format!("   {name}, from the events on its console:"));
            for l in self.director_view(i) {
                say(&format!("     {l}"));
            }
        }
        say("   lvs1's events, in order:");
        for e in self.director_events(LVS1) {
            say(&format!("     {e}"));
        }
    }

    /// Step 2: a long-lived connection through the VIP, a line a second.
    pub fn step2_stream(&mut self) {
        say(
            "\n== 2. the client opens a long-lived connection through the VIP (GET /cgi-bin/stream: a line a second)",
        );
        self.type_to(CLIENT, &format!("stream {VIP} {PORT} /cgi-bin/stream"));
        // Five lines: the connection is well established, and the sync
        // daemon has had time to tell lvs2 about it.
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.stream().0.len() < 5 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(200));
        }
        let (lines, _) = self.stream();
        let server = lines.first().map_or("nobody", |l| l.2.as_str()).to_string();
        say(&format!(
            "   {} lines so far, served by {server}",
            lines.len()
        ));
        self.report.add(
            2,
            "long-lived connection open",
            format!("{} lines from {server}", lines.len()),
            "a line a second",
            lines.len() >= 5,
        );
    }

    /// Step 3 (row `row` of the fault matrix): lvs1 loses its power; lvs2
    /// takes over. The long-lived connection, if step 2 opened one, goes on
    /// through lvs2.
    pub fn step3_power_cut(&mut self, row: u8) {
        say(&format!(
            "\n== {row}. power cut on the master lvs1 (QMP quit: no shutdown, no priority-0 advert)"
        ));
        let lvs2_from = self.vm(LVS2).line_count();
        let cut_at = self.vm_mut(LVS1).power_cut();
        let cut = self.t(cut_at);
        let mdi = self.cfg.master_down();
        let took = self.wait_state(LVS2, "master", Duration::from_secs(20), lvs2_from);
        match took {
            Some(t) => say(&format!(
                "   lvs2 became master {:.2} s after the cut",
                t - cut
            )),
            None => say("   lvs2 did not become master within 20 s"),
        }
        self.report.info(
            row,
            "lvs2 master after the power cut",
            took.map_or("never".into(), |t| format!("{:.2} s", t - cut)),
        );
        let resumed = self.wait_requests(Duration::from_secs(20), |r| {
            r.iter().any(|r| r.answer.is_some() && r.start >= cut)
        });
        // Let the stream run on lvs2 for a while: a connection lvs2 does not
        // know is reset at the client's first packet through it.
        std::thread::sleep(Duration::from_secs(5));
        let reqs = self.requests();
        let last_before = reqs
            .iter()
            .filter(|r| r.answer.is_some() && r.end <= cut)
            .map(|r| r.end)
            .fold(f64::NEG_INFINITY, f64::max);
        let first_after = reqs
            .iter()
            .filter(|r| r.answer.is_some() && r.start >= cut)
            .map(|r| r.end)
            .fold(f64::INFINITY, f64::min);
        let window_end = first_after;
        let in_step: Vec<&Request> = reqs.iter().filter(|r| r.start >= cut - 2.0).collect();
        let failed: Vec<&&Request> = in_step.iter().filter(|r| r.answer.is_none()).collect();
        let stray = failed
            .iter()
            .filter(|r| !r.overlaps(cut, window_end))
            .count();
        let bound = mdi + self.cfg.advert;
        say(&format!(
            "   last answer {:.2} s before the cut, first answer {:.2} s after it: an outage of {:.2} s",
            cut - last_before,
            first_after - cut,
            first_after - last_before
        ));
        self.report.add(
            row,
            "service back after the power cut",
            if resumed {
                format!("{:.2} s", first_after - cut)
            } else {
                "never".into()
            },
            &format!("≤ Master_Down_Interval + 1 s = {bound:.2} s"),
            resumed && first_after - cut <= bound,
        );
        self.report.info(
            row,
            "outage seen by the client",
            format!("{:.2} s", first_after - last_before),
        );
        self.report.add(
            row,
            "failed requests",
            format!(
                "{} of {}, {stray} outside the outage",
                failed.len(),
                in_step.len()
            ),
            "every one in flight during the outage",
            stray == 0,
        );
        let (lines, ended) = self.stream();
        if lines.is_empty() {
            return;
        }
        let numbers: Vec<u64> = lines.iter().map(|l| l.1).collect();
        let gaps = numbers.windows(2).filter(|w| w[1] != w[0] + 1).count();
        let after = lines
            .iter()
            .filter(|l| took.is_some_and(|t| l.0 > t + 2.0))
            .count();
        let longest = lines
            .windows(2)
            .map(|w| w[1].0 - w[0].0)
            .fold(0.0, f64::max);
        say(&format!(
            "   long-lived connection: {} lines, {} missing, {} since 2 s after the takeover, longest silence {:.1} s{}",
            lines.len(),
            gaps,
            after,
            longest,
            if ended {
                ", then it ENDED"
            } else {
                ", still open"
            }
        ));
        self.report.add(
            row,
            "long-lived connection across the failover",
            format!(
                "{} lines, {gaps} lost, {}",
                lines.len(),
                if ended { "reset" } else { "open" }
            ),
            "no line lost, still open on lvs2",
            gaps == 0 && !ended && after >= 2,
        );
    }

    /// Step 4: rs1's web server stops; health checks take it out, then in.
    pub fn step4_real_server(&mut self) {
        say("\n== 4. rs1's web server is stopped (typed on rs1's console: `web stop`)");
        let from = self.vm(LVS2).line_count();
        let rs1_from = self.vm(RS1).line_count();
        self.type_to(RS1, "web stop");
        let stopped = self
            .vm(RS1)
            .find_line(rs1_from, Duration::from_secs(10), |l| {
                l.starts_with("WEB stopped").then_some(())
            })
            .map(|(at, ())| self.t(at))
            .expect("rs1 said `WEB stopped`");
        let window = self.cfg.fall_window();
        let out = self.wait_weight(LVS2, "192.168.199.11:80", 0, Duration::from_secs(20), from);
        match out {
            Some(t) => say(&format!(
                "   lvs2 set rs1's weight to 0 {:.2} s after the stop",
                t - stopped
            )),
            None => say("   lvs2 never set rs1's weight to 0"),
        }
        self.report.add(
            4,
            "rs1 out of rotation after its stop",
            out.map_or("never".into(), |t| format!("{:.2} s", t - stopped)),
            &format!("≤ the checks' fall window, {window:.0} s"),
            out.is_some_and(|t| t - stopped <= window + SLACK),
        );
        std::thread::sleep(Duration::from_secs(4));
        let reqs = self.requests();
        let step: Vec<&Request> = reqs
            .iter()
            .filter(|r| r.start >= stopped - REQUEST_TIMEOUT)
            .collect();
        let failed: Vec<&&Request> = step.iter().filter(|r| r.answer.is_none()).collect();
        let stray = failed
            .iter()
            .filter(|r| !r.overlaps(stopped, stopped + window + SLACK))
            .count();
        let late_rs1 = step
            .iter()
            .filter(|r| r.answer.as_deref() == Some("rs1") && r.start > stopped + window + SLACK)
            .count();
        let answers: Vec<&str> = step
            .iter()
            .filter(|r| r.start > out.unwrap_or(stopped))
            .filter_map(|r| r.answer.as_deref())
            .collect();
        say(&format!("   answered since: {}", answers.join(" ")));
        self.report.add(
            4,
            "failed requests while rs1 went out",
            format!(
                "{} of {}, {stray} outside the fall window",
                failed.len(),
                step.len()
            ),
            "every one inside the fall window",
            stray == 0,
        );
        self.report.add(
            4,
            "answers by rs1 after the fall window",
            late_rs1.to_string(),
            "0",
            late_rs1 == 0 && !answers.is_empty(),
        );
        say("   rs1's web server is started again (`web start`)");
        let from = self.vm(LVS2).line_count();
        let rs1_from = self.vm(RS1).line_count();
        self.type_to(RS1, "web start");
        let started = self
            .vm(RS1)
            .find_line(rs1_from, Duration::from_secs(10), |l| {
                l.starts_with("WEB started").then_some(())
            })
            .map(|(at, ())| self.t(at))
            .expect("rs1 said `WEB started`");
        let back = self.wait_weight(LVS2, "192.168.199.11:80", 1, Duration::from_secs(20), from);
        let answered = back.is_some()
            && self.wait_requests(Duration::from_secs(10), |r| {
                r.iter()
                    .any(|r| r.answer.as_deref() == Some("rs1") && r.start > started)
            });
        let rise = self.cfg.rise_window();
        self.report.add(
            4,
            "rs1 back in rotation after its start",
            back.map_or("never".into(), |t| format!("{:.2} s", t - started)),
            &format!("≤ rise × interval + timeout = {rise:.0} s, then answers"),
            answered && back.is_some_and(|t| t - started <= rise + SLACK),
        );
    }

    /// Step 5 (row `row` of the fault matrix): lvs1 is powered on again
    /// and takes the VIP back.
    pub fn step5_return(&mut self, row: u8) {
        say(&format!(
            "\n== {row}. lvs1 is powered on again; with priority 150 it takes the VIP back once its checks pass"
        ));
        let lvs2_from = self.vm(LVS2).line_count();
        let booted = self.now();
        self.start(LVS1);
        let ready = self.vm(LVS1).wait_for("pharos: ready in", BOOT_TIMEOUT);
        if self.nodes[LVS1].variant == "debug" {
            self.vm(LVS1).wait_for("LAB READY", BOOT_TIMEOUT);
        }
        say(&format!(
            "   lvs1 ready {:.1} s after power-on",
            ready.as_secs_f64()
        ));
        let master = self.wait_state(LVS1, "master", Duration::from_secs(60), 0);
        let backup = self.wait_state(LVS2, "backup", Duration::from_secs(20), lvs2_from);
        let (Some(m1), Some(m2)) = (master, backup) else {
            self.report.add(
                row,
                "lvs1 master again, lvs2 backup",
                format!("{master:?} {backup:?}"),
                "both",
                false,
            );
            return;
        };
        say(&format!(
            "   lvs1 master {:.1} s after power-on; lvs2 backup {:+.2} s from then (its console against lvs1's)",
            m1 - booted,
            m2 - m1
        ));
        self.report.info(
            row,
            "lvs1 master again after power-on",
            format!("{:.1} s", m1 - booted),
        );
        std::thread::sleep(Duration::from_secs(3));
        let reqs = self.requests();
        let step: Vec<&Request> = reqs.iter().filter(|r| r.start >= booted).collect();
        let failed: Vec<&&Request> = step.iter().filter(|r| r.answer.is_none()).collect();
        let (from, to) = (m1.min(m2) - SLACK, m1.max(m2) + SLACK);
        let in_flight = step.iter().filter(|r| r.overlaps(from, to)).count();
        let stray = failed.iter().filter(|r| !r.overlaps(from, to)).count();
        let mut ends: Vec<f64> = step
            .iter()
            .filter(|r| r.answer.is_some())
            .map(|r| r.end)
            .collect();
        ends.sort_by(f64::total_cmp);
        let gap = ends
            .windows(2)
            .filter(|w| w[1] >= from - 1.0 && w[0] <= to + 1.0)
            .map(|w| w[1] - w[0])
            .fold(0.0, f64::max);
        say(&format!(
            "   {} of {} requests failed; {in_flight} were in flight while the VIP moved; longest gap between answers {gap:.2} s",
            failed.len(),
            step.len()
        ));
        self.report.add(
            row,
            "failed requests on lvs1's return",
            format!("{} ({in_flight} in flight during the move)", failed.len()),
            "only requests in flight while the VIP moved",
            stray == 0,
        );
        self.report
            .info(row, "longest gap between answers", format!("{gap:.2} s"));
    }

    /// A config change to the running pair over the management API, as an
    /// operator would make it: the plan first, then a trial on each
    /// director (backup first), then confirm; no request may fail.
    pub fn step6_trial(&mut self) {
        say(
            "\n== 6. a config change over the management API: rs2's weight to 2 and the status page on",
        );
        say(
            "   (mutual TLS to each director's management NIC; an identity from `pharos identity init`)",
        );
        let text = std::fs::read_to_string(Path::new(ROOT).join("configs/default.toml")).unwrap();
        let changed = text
            .replace(r#""192.168.199.12:80" = {}"#, r#""192.168.199.12:80" = { weight = 2 }"#)
            .replace(
                r#"listen = "127.0.0.1:9412"               # Prometheus; local only"#,
                "listen = \"0.0.0.0:9412\"                 # Prometheus and the status page\nstatus_page = true",
            );
        assert_ne!(
            changed, text,
            "configs/default.toml has the lines step 6 changes"
        );
        let file = self.mgmt.dir.path().join("new.toml");
        std::fs::write(&file, &changed).unwrap();
        let file = file.to_str().unwrap().to_string();
        let plan = self.mgmt.remote(LVS1, &["plan", &file]);
        let plan_text = String::from_utf8_lossy(&plan.stdout).into_owned();
        say("   pharos remote lvs1 plan new.toml:");
        for l in plan_text.lines().filter(|l| {
            l.starts_with("  ~") || l.starts_with("  +") || l.starts_with("  -") || *l == "ipvs"
        }) {
            say(&format!("     {l}"));
        }
        let planned =
            plan_text.contains("~ real server 192.168.199.12:80") && plan_text.contains("weight 2");
        self.report.add(
            6,
            "the plan shows the weight edit",
            planned.to_string(),
            "true",
            planned,
        );
        let from = [self.vm(LVS1).line_count(), self.vm(LVS2).line_count()];
        let began = self.now();
        for (i, name) in [(LVS2, "lvs2"), (LVS1, "lvs1")] {
            let out = self.mgmt.remote(
                i,
                &[
                    "apply",
                    &file,
                    "--confirm-within",
                    "2m",
                    "-m",
                    "rs2 weight 2, status page on",
                ],
            );
            let said = String::from_utf8_lossy(&out.stdout).into_owned();
            say(&format!(
                "   {name}: {}",
                said.lines().next().unwrap_or("(no answer)")
            ));
            if !out.status.success() {
                say(&format!(
                    "   {name} refused: {}",
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
        }
        let weights = [
            self.wait_weight(
                LVS1,
                "192.168.199.12:80",
                2,
                Duration::from_secs(20),
                from[0],
            ),
            self.wait_weight(
                LVS2,
                "192.168.199.12:80",
                2,
                Duration::from_secs(20),
                from[1],
            ),
        ];
        self.report.add(
            6,
            "rs2 at weight 2 on both directors",
            format!(
                "{:?}",
                weights.map(|w| w.map(|t| format!("{:.1} s", t - began)))
            ),
            "both",
            weights.iter().all(Option::is_some),
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        let page = loop {
            match http_get(self.mgmt.ports[LVS1].1, "/") {
                Some(p) => break p,
                None if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(300)),
                None => break String::new(),
            }
        };
        let page_ok = page.contains("VI_1") && page.contains("192.168.199.12:80");
        say(&format!(
            "   lvs1's status page: http://127.0.0.1:{}/ ({} bytes{})",
            self.mgmt.ports[LVS1].1,
            page.len(),
            if page_ok {
                ", shows VI_1 and the real servers"
            } else {
                ""
            }
        ));
        self.report.add(
            6,
            "lvs1's status page serves",
            page_ok.to_string(),
            "true",
            page_ok,
        );
        // A picture of it, where Chromium is installed (`make test` installs
        // it; the README shows one).
        let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("pair-lab-status-page.png");
        let profile = tempfile::tempdir().unwrap();
        let took = std::process::Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                "--window-size=1280,900",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg(format!("--screenshot={}", shot.display()))
            .arg(format!("http://127.0.0.1:{}/", self.mgmt.ports[LVS1].1))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|st| st.success());
        if took {
            say(&format!("   a screenshot of it: {}", shot.display()));
        }
        let listed =
            String::from_utf8_lossy(&self.mgmt.remote(LVS1, &["revisions"]).stdout).into_owned();
        if let Some(l) = listed.lines().find(|l| l.contains("ON TRIAL")) {
            say(&format!("   lvs1: {l}"));
        }
        let mut confirmed = 0;
        for (i, name) in [(LVS2, "lvs2"), (LVS1, "lvs1")] {
            let out = self.mgmt.remote(i, &["confirm"]);
            say(&format!(
                "   {name}: {}",
                String::from_utf8_lossy(&out.stdout).trim()
            ));
            confirmed += usize::from(out.status.success());
        }
        self.report.add(
            6,
            "trials confirmed",
            format!("{confirmed} of 2"),
            "2",
            confirmed == 2,
        );
        std::thread::sleep(Duration::from_secs(2));
        let (failed, all) = self.failed_since(began);
        say(&format!(
            "   {failed} of {all} requests failed while the config changed"
        ));
        self.report.add(
            6,
            "failed requests during the change",
            failed.to_string(),
            "0",
            failed == 0 && all > 0,
        );
    }

    /// Step 7: both directors upgraded with the image's own signed bundle
    /// (image/out/pharos-VERSION.bundle), one at a time under the client's
    /// requests, as an operator does it: `pharos upgrade-pair`. Each new
    /// slot commits itself only when healthy; requests may fail only while
    /// a VIP moves.
    pub fn step7_upgrade(&mut self, row: u8) {
        let out = super::vm::out_dir("prod");
        let bundle = std::fs::read_dir(&out)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == "bundle"))
            .expect("make image writes image/out/pharos-VERSION.bundle");
        say(&format!(
            "\n== {row}. both directors upgraded under the client's requests: pharos upgrade-pair with\n   {} (signed by `make keys`' key; each box writes its other boot slot,\n   reboots into it once and commits only when healthy; the backup first)",
            bundle.strip_prefix(ROOT).unwrap_or(&bundle).display()
        ));
        let from = [self.vm(LVS1).line_count(), self.vm(LVS2).line_count()];
        let began = self.now();
        let mut child = std::process::Command::new(BIN)
            .args([
                "upgrade-pair",
                &format!("127.0.0.1:{}", self.mgmt.ports[LVS1].0),
                &format!("127.0.0.1:{}", self.mgmt.ports[LVS2].0),
            ])
            .arg(&bundle)
            .args(["--deadline", "3m", "--identity"])
            .arg(self.mgmt.dir.path())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        for line in std::io::BufRead::lines(stdout).map_while(Result::ok) {
            say(&format!(
                "   {}",
                line.replace(&format!("127.0.0.1:{}", self.mgmt.ports[LVS1].0), "lvs1")
                    .replace(&format!("127.0.0.1:{}", self.mgmt.ports[LVS2].0), "lvs2")
            ));
        }
        let done = child.wait_with_output().unwrap();
        let ended = self.now();
        if !done.status.success() {
            say(&format!(
                "   {}",
                String::from_utf8_lossy(&done.stderr).trim()
            ));
        }
        self.report.add(
            row,
            "both directors upgraded and committed",
            if done.status.success() {
                "yes".into()
            } else {
                format!("no ({})", done.status)
            },
            "yes",
            done.status.success(),
        );
        self.report.info(
            row,
            "the pair upgrade took",
            format!("{:.0} s", ended - began),
        );
        std::thread::sleep(Duration::from_secs(2));
        // The VIP's moves: each director's transitions since the step began,
        // from its console (a rebooted box's console goes on in one QEMU).
        let mut moves: Vec<(f64, usize, String, String)> = Vec::new();
        for (k, i) in [LVS1, LVS2].into_iter().enumerate() {
            for (at, l) in self.vm(i).lines().iter().skip(from[k]) {
                if vrrp_transition(l).is_none() {
                    continue;
                }
                let text = clean(l);
                let Some((before, after)) = text.split_once(" → ") else {
                    continue;
                };
                let old = before.split_whitespace().last().unwrap_or("").to_string();
                let new = after.split(':').next().unwrap_or("").trim().to_string();
                moves.push((self.t(*at), i, old, new));
            }
        }
        moves.sort_by(|a, b| a.0.total_cmp(&b.0));
        // A window per takeover: from the other director leaving master (or
        // the takeover itself, if that came after) to the takeover.
        let windows: Vec<(f64, f64)> = moves
            .iter()
            .filter(|m| m.3 == "master")
            .map(|m| {
                let left = moves
                    .iter()
                    .filter(|o| o.1 != m.1 && o.2 == "master" && (o.0 - m.0).abs() <= 5.0)
                    .map(|o| o.0)
                    .fold(m.0, f64::min);
                (left - SLACK, m.0.max(left) + SLACK)
            })
            .collect();
        let reqs = self.requests();
        let step: Vec<&Request> = reqs
            .iter()
            .filter(|r| r.start >= began && r.start <= ended)
            .collect();
        let failed: Vec<&&Request> = step.iter().filter(|r| r.answer.is_none()).collect();
        let stray: Vec<&&&Request> = failed
            .iter()
            .filter(|r| !windows.iter().any(|(a, b)| r.overlaps(*a, *b)))
            .collect();
        let window: f64 = windows.iter().map(|(a, b)| b - a).sum();
        say(&format!(
            "   the VIP moved {} times ({:.2} s in all); {} of {} requests failed, {} of them outside a move",
            windows.len(),
            window,
            failed.len(),
            step.len(),
            stray.len()
        ));
        for r in &stray {
            say(&format!(
                "   failed outside a move: a request at {:.2}-{:.2} s",
                r.start, r.end
            ));
        }
        self.report.add(
            row,
            "failed requests during the pair upgrade",
            format!("{} ({} VIP moves)", failed.len(), windows.len()),
            "only requests in flight while a VIP moved",
            stray.is_empty() && !step.is_empty(),
        );
    }

    /// Writes every box's console (each line with the lab time it was
    /// seen) into `dir`, for reading after the run.
    pub fn save_consoles(&self, dir: &Path) {
        let _ = std::fs::create_dir_all(dir);
        for n in &self.nodes {
            if let Some(vm) = &n.vm {
                let text: String = vm
                    .lines()
                    .iter()
                    .map(|(at, l)| format!("{:8.3} {l}\n", self.t(*at)))
                    .collect();
                let _ = std::fs::write(dir.join(format!("{}.log", n.spec.name)), text);
            }
        }
    }

    /// The last step: every VM is powered off (ACPI, a clean shutdown).
    pub fn power_off(&mut self) {
        for n in &self.nodes {
            if let Some(vm) = &n.vm {
                vm.qmp("system_powerdown");
            }
        }
        for n in &mut self.nodes {
            if let Some(vm) = n.vm.as_mut() {
                vm.wait_exit();
            }
        }
        say("   every VM powered off");
    }

    /// `make run LAB=keep`: the lab stays up; the director's events are
    /// printed as they come and `BOX VERB ...` lines from standard input
    /// are typed into a debug box's console, until the process is stopped.
    pub fn keep(&mut self, dir: &Path) {
        for n in &self.nodes {
            if let Some(vm) = &n.vm {
                vm.log_to(&dir.join(format!("{}.log", n.spec.name)));
            }
        }
        say(&format!(
            "\n== the lab stays up until Ctrl-C. Consoles: tail -f {dir}/{{lvs1,lvs2,rs1,rs2,client}}.log\n   Type a line here to send it to a debug box's console (image/lab/box.sh reads it):\n     rs1 web stop          rs1 web start          client stream {VIP} 80 /cgi-bin/stream\n   The client's requests go on; their answers are in client.log (REQ lines).\n   The directors have no shell: their events follow here as they happen.\n   Their management APIs (apply a config with `status_page = true` to see the page):\n{}\n{}",
            self.mgmt.how(LVS1, "lvs1"),
            self.mgmt.how(LVS2, "lvs2"),
            dir = dir.display()
        ));
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        std::thread::spawn(move || {
            let stdin = std::io::stdin();
            let mut line = String::new();
            while stdin.read_line(&mut line).unwrap_or(0) > 0 {
                let _ = tx.send(std::mem::take(&mut line));
            }
        });
        let mut seen = [self.vm(LVS1).line_count(), self.vm(LVS2).line_count()];
        loop {
            for (k, i) in [LVS1, LVS2].into_iter().enumerate() {
                let lines = self.vm(i).lines();
                for (_, l) in lines.iter().skip(seen[k]) {
                    if l.contains(" kind=") {
                        say(&format!("   {}: {}", self.nodes[i].spec.name, clean(l)));
                    }
                }
                seen[k] = lines.len();
            }
            while let Ok(line) = rx.try_recv() {
                let (who, verb) = line.trim().split_once(' ').unwrap_or((line.trim(), ""));
                match self
                    .nodes
                    .iter()
                    .position(|n| n.spec.name == who && n.variant == "debug")
                {
                    Some(i) if !verb.is_empty() => self.type_to(i, verb),
                    _ => say("   say BOX VERB, BOX one of rs1 rs2 client (see image/lab/box.sh)"),
                }
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

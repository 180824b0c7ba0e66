//! The soak (tests/vm_soak.rs, `make soak`): continuous churn on the pair
//! under the client's load, and each director's resident memory, open file
//! descriptors and task restarts read from its `/metrics` every minute.
//!
//! ```text
//!   main thread: churn, one action after another, until the time is up
//!     lvs1's LAN link pulled (lvs2 takes over) and put back (lvs1 takes back)
//!     a reload over the management API, A ↔ B (B adds a second service)
//!     rs1 `web stop` … out of rotation, `web start` … back in; then rs2
//!   sampler thread: at each whole minute of the soak, GET /metrics on both
//!     directors (QEMU's hostfwd to their management NICs: the link pulls
//!     cut only the LAN, so a scrape never waits on the churn)
//! ```
//!
//! The main thread prints each minute's row once it has it, with the
//! client's requests answered and failed in that minute (requests are timed
//! on the lab's clock, so the count does not depend on when it is printed).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{LVS1, LVS2, Lab, ROOT, RS1, http_get, say};

const RS2: usize = RS1 + 1;
const RS_ADDR: [&str; 2] = ["192.168.199.11:80", "192.168.199.12:80"];
/// Pause between two actions: the pair settles and the client's requests
/// run in a steady state for a moment.
const PAUSE: Duration = Duration::from_secs(2);

/// One director's `/metrics` at one moment. `None`: the scrape failed or
/// the metric was missing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Reading {
    pub rss: Option<u64>,
    /// The anonymous part of `rss` (heap, stacks): what a leak grows; the
    /// rest is mostly the binary's code, paged in as code paths first run.
    pub anon: Option<u64>,
    pub fds: Option<u64>,
    pub restarts: Option<u64>,
}

impl Reading {
    fn scrape(port: u16) -> Reading {
        let Some(text) = http_get(port, "/metrics") else {
            return Reading::default();
        };
        let value = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
                .and_then(|v| v.trim().parse::<f64>().ok())
                .map(|v| v as u64)
        };
        // A series per task, at 0 from the task's start (a scrape that
        // reads none, of a binary before that, counts 0 too).
        let restarts = text
            .lines()
            .filter(|l| l.starts_with("pharos_task_restarts_total{"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>() as u64;
        Reading {
            rss: value("process_resident_memory_bytes"),
            anon: value("pharos_resident_anon_memory_bytes"),
            fds: value("process_open_fds"),
            restarts: Some(restarts),
        }
    }
}

/// What the sampler took: (minute, lab time, lvs1's and lvs2's readings).
type Readings = Mutex<Vec<(u64, f64, [Reading; 2])>>;

/// One row of the soak's table.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Minutes since the soak began.
    pub minute: u64,
    /// The sample after the churn stopped and the pair settled.
    pub last: bool,
    /// Lab time of the scrape.
    pub at: f64,
    /// lvs1, lvs2.
    pub directors: [Reading; 2],
    /// The client's requests started since the previous row.
    pub answered: usize,
    pub failed: usize,
}

/// What a soak did and saw.
#[derive(Debug, Default)]
pub struct Soak {
    pub samples: Vec<Sample>,
    pub failovers: usize,
    pub reloads: usize,
    pub flaps: usize,
    /// Churn actions that did not complete as the pair should (a takeover
    /// not seen, a reload refused, a real server not back in rotation).
    pub anomalies: Vec<String>,
    /// At the end, after the pair settled: lvs1's VRRP state, lvs2's, and
    /// the weight of each real server in lvs1's table.
    pub lvs1_state: String,
    pub lvs2_state: String,
    pub weights: Vec<(String, String)>,
}

impl Soak {
    /// The table, as printed and as recorded in benches/RESULTS.md.
    pub fn header() -> String {
        "  min  lvs1 RSS (anon) MiB  fds  restarts  lvs2 RSS (anon) MiB  fds  restarts  requests ok  failed".into()
    }

    pub fn row(s: &Sample) -> String {
        let mib = |r: Reading| {
            let m =
                |b: Option<u64>| b.map_or("?".into(), |b| format!("{:.2}", b as f64 / 1048576.0));
            format!("{} ({})", m(r.rss), m(r.anon))
        };
        let n = |v: Option<u64>| v.map_or("?".into(), |v| v.to_string());
        let [a, b] = s.directors;
        format!(
            "  {:>3}  {:>19}  {:>3}  {:>8}  {:>19}  {:>3}  {:>8}  {:>11}  {:>6}",
            if s.last {
                "end".to_string()
            } else {
                s.minute.to_string()
            },
            mib(a),
            n(a.fds),
            n(a.restarts),
            mib(b),
            n(b.fds),
            n(b.restarts),
            s.answered,
            s.failed
        )
    }

    pub fn table(&self) -> String {
        let mut out = Self::header();
        out.push('\n');
        for s in &self.samples {
            out.push_str(&Self::row(s));
            out.push('\n');
        }
        out
    }
}

impl Lab {
    /// Turns the metrics listener to 0.0.0.0:9412 on both directors (as
    /// step 6 does), then churns for `minutes`, sampling each minute; ends
    /// with the pair settled and one more sample.
    pub fn soak(&mut self, minutes: u64) -> Soak {
        say(&format!(
            "\n== soak: {minutes} min of churn under the client's load: lvs1's LAN link pulled and put back,\n   reloads over the management API (A ↔ B, B adds a service), rs1 and rs2 `web stop`/`web start`;\n   RSS, open fds and task restarts from each director's /metrics every minute"
        ));
        let text = std::fs::read_to_string(std::path::Path::new(ROOT).join("configs/default.toml"))
            .unwrap();
        let a = text.replace(
            r#"listen = "127.0.0.1:9412"               # Prometheus; local only"#,
            "listen = \"0.0.0.0:9412\"                 # Prometheus, scraped by the soak",
        );
        assert_ne!(
            a, text,
            "configs/default.toml has the metrics line the soak changes"
        );
        let b = a.replace(
            "[metrics]",
            "[services.api]\naddress = \"192.168.199.100:8080\"\nvrrp = \"VI_1\"\nforwarding = \"dr\"\n\n\
             [services.api.real_servers]\n\"192.168.199.11:8080\" = {}\n\n[metrics]",
        );
        let dir = self.mgmt.dir.path().to_path_buf();
        let configs = [dir.join("soak-a.toml"), dir.join("soak-b.toml")];
        std::fs::write(&configs[0], &a).unwrap();
        std::fs::write(&configs[1], &b).unwrap();
        let mut soak = Soak::default();
        self.soak_apply(&configs[0], "soak: metrics on 0.0.0.0", &mut soak);
        let ports = [self.mgmt.ports[LVS1].1, self.mgmt.ports[LVS2].1];
        let deadline = Instant::now() + Duration::from_secs(20);
        while ports.iter().any(|&p| Reading::scrape(p).rss.is_none()) {
            assert!(
                Instant::now() < deadline,
                "a director's /metrics did not answer on 0.0.0.0:9412 after the apply"
            );
            std::thread::sleep(Duration::from_millis(500));
        }

        // The sampler: a scrape of both at each whole minute of the soak.
        let began = Instant::now();
        let epoch = self.epoch;
        let readings: Arc<Readings> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let sampler = {
            let (readings, stop) = (readings.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut minute = 0;
                while !stop.load(Ordering::Relaxed) {
                    let due = began + Duration::from_secs(60 * minute);
                    if Instant::now() < due {
                        std::thread::sleep(Duration::from_millis(200));
                        continue;
                    }
                    let at = Instant::now()
                        .saturating_duration_since(epoch)
                        .as_secs_f64();
                    let r = [Reading::scrape(ports[0]), Reading::scrape(ports[1])];
                    readings.lock().unwrap().push((minute, at, r));
                    minute += 1;
                }
            })
        };
        say(&Soak::header());
        let mut printed = 0;
        let mut last_at = self.now();
        let end = began + Duration::from_secs(60 * minutes);
        let mut reload = 1;
        let mut turn = 0;
        while Instant::now() < end {
            match turn % 5 {
                0 => self.soak_failover(&mut soak),
                1 | 3 => {
                    let msg = if reload == 1 {
                        "soak: B, api added"
                    } else {
                        "soak: A, api removed"
                    };
                    self.soak_apply(&configs[reload], msg, &mut soak);
                    reload = 1 - reload;
                }
                2 => self.soak_flap(0, &mut soak),
                _ => self.soak_flap(1, &mut soak),
            }
            turn += 1;
            std::thread::sleep(PAUSE);
            self.soak_print(&readings, &mut printed, &mut last_at, &mut soak, false);
        }
        stop.store(true, Ordering::Relaxed);
        sampler.join().unwrap();
        self.soak_print(&readings, &mut printed, &mut last_at, &mut soak, false);

        // Settled: the last reload back to A, then the end state.
        if reload == 0 {
            self.soak_apply(&configs[0], "soak: A, api removed", &mut soak);
        }
        std::thread::sleep(Duration::from_secs(5));
        let at = self.now();
        let r = [Reading::scrape(ports[0]), Reading::scrape(ports[1])];
        readings
            .lock()
            .unwrap()
            .push((began.elapsed().as_secs() / 60, at, r));
        self.soak_print(&readings, &mut printed, &mut last_at, &mut soak, true);
        let view = self.director_view(LVS1);
        let state = |v: &[String]| {
            v.first()
                .and_then(|l| l.split(": ").nth(1))
                .and_then(|s| s.split_whitespace().next())
                .unwrap_or("unknown")
                .to_string()
        };
        soak.lvs1_state = state(&view);
        soak.lvs2_state = state(&self.director_view(LVS2));
        // `IPVS TCP  192.168.199.100:80 rr`, then its `       -> RS  weight W` lines.
        let web: Vec<&String> = view
            .iter()
            .skip_while(|l| !(l.starts_with("IPVS ") && l.contains(" 192.168.199.100:80 ")))
            .skip(1)
            .take_while(|l| l.trim_start().starts_with("->"))
            .collect();
        soak.weights = RS_ADDR
            .iter()
            .map(|rs| {
                let w = web
                    .iter()
                    .find(|l| l.contains(&format!(" {rs} ")))
                    .and_then(|l| l.rsplit(' ').next())
                    .unwrap_or("none");
                (rs.to_string(), w.to_string())
            })
            .collect();
        say(&format!(
            "   churn: {} failovers and back, {} reloads, {} real-server flaps; {} anomalies",
            soak.failovers,
            soak.reloads,
            soak.flaps,
            soak.anomalies.len()
        ));
        for a in &soak.anomalies {
            say(&format!("   anomaly: {a}"));
        }
        say(&format!(
            "   end: lvs1 {}, lvs2 {}; lvs1's table: {}",
            soak.lvs1_state,
            soak.lvs2_state,
            soak.weights
                .iter()
                .map(|(rs, w)| format!("{rs} weight {w}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        soak
    }

    /// Prints the rows the sampler has taken since the last call, each
    /// with the client's requests that started in its minute; `last`: the
    /// one after the churn.
    fn soak_print(
        &self,
        readings: &Readings,
        printed: &mut usize,
        last_at: &mut f64,
        soak: &mut Soak,
        last: bool,
    ) {
        let new: Vec<_> = readings.lock().unwrap()[*printed..].to_vec();
        if new.is_empty() {
            return;
        }
        let reqs = self.requests();
        for (minute, at, directors) in new {
            let window = reqs.iter().filter(|r| r.start >= *last_at && r.start < at);
            let (mut answered, mut failed) = (0, 0);
            for r in window {
                if r.answer.is_some() {
                    answered += 1;
                } else {
                    failed += 1;
                }
            }
            let s = Sample {
                minute,
                last,
                at,
                directors,
                answered,
                failed,
            };
            say(&Soak::row(&s));
            soak.samples.push(s);
            *last_at = at;
            *printed += 1;
        }
    }

    /// Applies `file` on lvs2, then lvs1, over the management API.
    fn soak_apply(&mut self, file: &std::path::Path, msg: &str, soak: &mut Soak) {
        for (i, name) in [(LVS2, "lvs2"), (LVS1, "lvs1")] {
            let out = self
                .mgmt
                .remote(i, &["apply", file.to_str().unwrap(), "-m", msg]);
            if !out.status.success() {
                soak.anomalies.push(format!(
                    "{:.0} s: {name} refused `{msg}`: {}",
                    self.now(),
                    String::from_utf8_lossy(&out.stderr).trim()
                ));
            }
        }
        soak.reloads += 1;
    }

    /// lvs1's LAN link pulled until lvs2 is master, then put back until
    /// lvs1 is master and lvs2 backup again.
    fn soak_failover(&mut self, soak: &mut Soak) {
        let from = [self.vm(LVS1).line_count(), self.vm(LVS2).line_count()];
        self.vm(LVS1).set_link("lan", false);
        let took = self.wait_state(LVS2, "master", Duration::from_secs(20), from[1]);
        // A moment as master: the sync daemon and the client move over.
        std::thread::sleep(PAUSE);
        let from = [self.vm(LVS1).line_count(), self.vm(LVS2).line_count()];
        self.vm(LVS1).set_link("lan", true);
        let back = self.wait_state(LVS1, "master", Duration::from_secs(40), from[0]);
        let yielded = self.wait_state(LVS2, "backup", Duration::from_secs(20), from[1]);
        if took.is_none() || back.is_none() || yielded.is_none() {
            soak.anomalies.push(format!(
                "{:.0} s: link pull: lvs2 master {}, lvs1 master again {}, lvs2 backup again {}",
                self.now(),
                took.is_some(),
                back.is_some(),
                yielded.is_some()
            ));
        }
        soak.failovers += 1;
    }

    /// Real server `k`'s httpd stopped until lvs1 sets its weight to 0,
    /// then started until lvs1 sets it back to 1.
    fn soak_flap(&mut self, k: usize, soak: &mut Soak) {
        let (box_, rs) = ([RS1, RS2][k], RS_ADDR[k]);
        let from = self.vm(LVS1).line_count();
        self.type_to(box_, "web stop");
        let out = self.wait_weight(LVS1, rs, 0, Duration::from_secs(20), from);
        let from = self.vm(LVS1).line_count();
        self.type_to(box_, "web start");
        let back = self.wait_weight(LVS1, rs, 1, Duration::from_secs(20), from);
        if out.is_none() || back.is_none() {
            soak.anomalies.push(format!(
                "{:.0} s: {rs} flap: out {}, back {}",
                self.now(),
                out.is_some(),
                back.is_some()
            ));
        }
        soak.flaps += 1;
    }
}

//! Health checks at scale: N real servers TCP-checked every second by one
//! pharos process, in a network namespace of the bench's own where every
//! 127.x.y.z address is local and one listener on port 8080 accepts them
//! all. Prints CPU per check, memory, checks per second and how late checks
//! start (p50/p99 of the check task's own measurement). A benchmark, not a
//! test: `cargo bench --bench check_scale` (`PHAROS_BENCH_SECS`, default
//! 30); the numbers are recorded in benches/RESULTS.md.

#[path = "../tests/common/mod.rs"]
#[allow(dead_code)]
mod common;

use std::fmt::Write as _;
use std::io::Read;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use common::netns::{Netns, Run, start};

/// Accepts and closes connections inside the namespace, on its own thread.
fn listener(ns: &Netns) {
    let path = format!("/var/run/netns/{}", ns.0);
    std::thread::spawn(move || {
        let f = std::fs::File::open(path).expect("the namespace exists");
        nix::sched::setns(f, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns (root)");
        // A deep accept queue: 10,000 connects a second come in bursts.
        let sock =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        sock.set_reuse_address(true).unwrap();
        let addr: std::net::SocketAddr = "0.0.0.0:8080".parse().unwrap();
        sock.bind(&addr.into()).expect("bind 8080 in the namespace");
        sock.listen(4096).unwrap();
        let l: TcpListener = sock.into();
        for c in l.incoming() {
            drop(c);
        }
    });
}

fn config(n: usize) -> String {
    let mut s = String::from("[system]\nip_forward = true\n");
    for svc in 0..n.div_ceil(100) {
        let _ = write!(
            s,
            "\n[services.s{svc}]\naddress = \"10.200.{}.{}:80\"\nforwarding = \"nat\"\ncheck = {{ type = \"tcp\", port = 8080, interval = \"1s\", timeout = \"1s\", retries = 0 }}\n[services.s{svc}.real_servers]\n",
            svc / 250,
            svc % 250 + 1
        );
        for k in 0..100.min(n - svc * 100) {
            let i = svc * 100 + k;
            let _ = writeln!(
                s,
                "\"127.{}.{}.{}:8080\" = {{}}",
                1 + i / 62500,
                (i / 250) % 250,
                i % 250 + 1
            );
        }
    }
    s
}

/// CPU seconds (user + system) of a process, from /proc/PID/stat.
fn cpu(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    ticks / 100.0
}

fn mem(pid: u32, key: &str) -> String {
    let mut s = String::new();
    if let Ok(mut f) = std::fs::File::open(format!("/proc/{pid}/status")) {
        let _ = f.read_to_string(&mut s);
    }
    s.lines()
        .find(|l| l.starts_with(key))
        .map(|l| l[key.len()..].trim().to_string())
        .unwrap_or_default()
}

fn checks_done(r: &Run) -> (u64, Vec<f64>, Vec<f64>) {
    let st = r.status();
    let c = &st["subsystems"]["check"];
    let total = c["targets"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["checks"].as_u64())
        .sum();
    let s = &c["schedule"];
    (
        total,
        s["late_p50_ms"].as_f64().into_iter().collect(),
        s["late_p99_ms"].as_f64().into_iter().collect(),
    )
}

fn main() {
    let secs: u64 = std::env::var("PHAROS_BENCH_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    println!("Health checks at scale: TCP every 1 s, {secs} s measured after 5 s warm-up");
    for n in [1000usize, 10_000] {
        let ns = Netns::new();
        ns.run(&["ip", "link", "set", "lo", "up"]);
        listener(&ns);
        let r = start(&ns, &config(n));
        let pid = r.child.id();
        std::thread::sleep(Duration::from_secs(5));
        let (c0, _, _) = checks_done(&r);
        let cpu0 = cpu(pid);
        let t0 = Instant::now();
        let (mut p50s, mut p99s) = (Vec::new(), Vec::new());
        while t0.elapsed() < Duration::from_secs(secs) {
            std::thread::sleep(Duration::from_secs(2));
            let (_, a, b) = checks_done(&r);
            p50s.extend(a);
            p99s.extend(b);
        }
        let (c1, _, _) = checks_done(&r);
        let cpu1 = cpu(pid);
        let el = t0.elapsed().as_secs_f64();
        let done = (c1 - c0) as f64;
        p50s.sort_by(f64::total_cmp);
        p99s.sort_by(f64::total_cmp);
        let failing = r.status()["subsystems"]["check"]["targets"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|t| t["state"] != "up")
            .count();
        let share = (cpu1 - cpu0) / el * 100.0;
        let p99 = p99s.last().copied().unwrap_or(f64::NAN);
        if n == 10_000 {
            // `make bench`'s row: figure | pharos | anchor | target | verdict.
            println!(
                "ROW 10,000 TCP checks at 1 s (host): CPU, late p99 | {share:.0}% of a core, p99 {p99:.0} ms | - | <= 35%, p99 <= 50 ms | {}",
                if share <= 35.0 && p99 <= 50.0 {
                    "met"
                } else {
                    "not met"
                }
            );
        }
        println!(
            "  {n:>6} checks: {:.0} checks/s, CPU {:.1}% of one core, {:.1} µs CPU per check, RSS {} (peak {}), late p50 {:.2} ms (median of 2 s windows), p99 {:.2} ms (worst window), {failing} targets not up",
            done / el,
            (cpu1 - cpu0) / el * 100.0,
            (cpu1 - cpu0) / done.max(1.0) * 1e6,
            mem(pid, "VmRSS:"),
            mem(pid, "VmHWM:"),
            p50s.get(p50s.len() / 2).copied().unwrap_or(f64::NAN),
            p99s.last().copied().unwrap_or(f64::NAN),
        );
    }
}

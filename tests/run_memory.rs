//! A memory guard for `pharos run` at scale, so the figure cannot silently
//! regress: the generated config of 10,000 services with 10 real servers
//! each (`common::scale`, the IPVS bench's file), then a reload of a 1%
//! change. Resident after the start must stay under twice the steady
//! target (≤ 64 MiB: guard 128 MiB), and the peak across the reload under
//! twice that target (≤ 128 MiB: guard 256 MiB), from /proc/PID/status.
//! The reload must take the 9,000 unchanged services from the last load
//! (`config::Memo`), as its log line says. The host kernel has no IPVS, so
//! this is the config, the desired state and the tasks; the VM bench (benches/ipvs_scale.rs) measures them with
//! the kernel's table. benches/RESULTS.md has the numbers.

use std::process::Command;

use common::scale::{SERVICES, big_config};

mod common;

const BIN: &str = env!("CARGO_BIN_EXE_pharos");

/// VmRSS and VmHWM of a process, in KiB.
fn rss_hwm(pid: u32) -> (i64, i64) {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| -> i64 {
        s.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} in /proc/{pid}/status"))
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// A child killed when the test ends, pass or fail.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn running_and_reloading_ten_thousand_services_stays_under_the_memory_guard() {
    // Steady: twice the target of 64 MiB; across a reload: twice 128 MiB.
    const STEADY_GUARD_KIB: i64 = 2 * 64 * 1024;
    const RELOAD_GUARD_KIB: i64 = 2 * 128 * 1024;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("big.toml");
    let socket = dir.path().join("control.sock");
    // Direct routing and no `[system]`: nothing of the host's is changed
    // (the host kernel has no IPVS; the IPVS task says so and waits).
    std::fs::write(&file, big_config("", "dr", 1)).unwrap();
    let child = Command::new(BIN)
        .arg("run")
        .arg("--config")
        .arg(&file)
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .arg("--socket")
        .arg(&socket)
        .env("NO_COLOR", "1")
        .env_remove("NOTIFY_SOCKET")
        .env_remove("WATCHDOG_USEC")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("run.log")).unwrap())
        .spawn()
        .unwrap();
    let pharos = Killed(child);
    let pid = pharos.0.id();
    let ctl = |args: &[&str]| {
        Command::new(BIN)
            .args(args)
            .arg("--socket")
            .arg(&socket)
            .output()
            .unwrap()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let out = ctl(&["status", "--json"]);
        if out.status.success()
            && serde_json::from_slice::<serde_json::Value>(&out.stdout)
                .is_ok_and(|s| s["ready"] == true)
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "pharos run of {SERVICES} services did not come up in 120 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    // Settled: the start's peaks are behind it.
    std::thread::sleep(std::time::Duration::from_secs(3));
    let (steady, start_peak) = rss_hwm(pid);
    std::fs::write(&file, big_config("", "dr", 2)).unwrap();
    let out = ctl(&["reload"]);
    assert!(
        out.status.success(),
        "pharos reload: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    std::thread::sleep(std::time::Duration::from_secs(3));
    let (after, peak) = rss_hwm(pid);
    // The reload typed again only the services whose text changed (one in
    // ten has its first real server's weight changed).
    let log = std::fs::read_to_string(dir.path().join("run.log")).unwrap();
    let unchanged = SERVICES - SERVICES / 10;
    assert!(
        log.contains(&format!(
            "({unchanged} of {SERVICES} services taken unchanged)"
        )),
        "the reload did not take the unchanged services from the last load:\n{}",
        log.lines()
            .filter(|l| l.contains("reload"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    println!(
        "pharos run of {SERVICES} services x 10: resident {} MiB after the start (peak {} MiB), \
         {} MiB after a reload of a 1% change, peak {} MiB",
        steady / 1024,
        start_peak / 1024,
        after / 1024,
        peak / 1024
    );
    assert!(
        steady <= STEADY_GUARD_KIB,
        "pharos run held {} MiB after the start, over the guard of {} MiB",
        steady / 1024,
        STEADY_GUARD_KIB / 1024
    );
    assert!(
        peak <= RELOAD_GUARD_KIB,
        "pharos run peaked at {} MiB across a reload, over the guard of {} MiB",
        peak / 1024,
        RELOAD_GUARD_KIB / 1024
    );
}

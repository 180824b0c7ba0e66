//! Reaps orphans that the kernel re-parents to PID 1.
//!
//! Our own children (tokio::process: hooks, exec checks) are reaped by tokio
//! as soon as they exit, so a zombie child that is still there a second
//! later has nobody waiting for it: only those are reaped. Waiting on -1
//! instead would steal exit codes from tokio.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use nix::sys::wait::{WaitPidFlag, waitpid};
use nix::unistd::Pid;
use tokio::signal::unix::{SignalKind, signal};

pub async fn run() {
    let Ok(mut sigchld) = signal(SignalKind::child()) else {
        return;
    };
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    let mut seen: HashMap<i32, Instant> = HashMap::new();
    loop {
        tokio::select! {
            _ = sigchld.recv() => {}
            _ = tick.tick() => {}
        }
        let now = Instant::now();
        let zombies = zombie_children();
        seen.retain(|pid, _| zombies.contains(pid));
        let mut reaped = 0;
        for pid in zombies {
            let first = *seen.entry(pid).or_insert(now);
            if now.duration_since(first) >= Duration::from_secs(1) {
                if waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG)).is_ok() {
                    reaped += 1;
                }
                seen.remove(&pid);
            }
        }
        if reaped > 0 {
            tracing::info!("reaped {reaped} orphaned processes");
        }
    }
}

/// Children of this process in state Z, from /proc/PID/stat.
fn zombie_children() -> Vec<i32> {
    let me = std::process::id().to_string();
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
                // `pid (comm) state ppid ...`; comm may hold spaces and ')'.
                let rest = stat.rsplit_once(')').map_or("", |r| r.1);
                let mut f = rest.split_whitespace();
                f.next() == Some("Z") && f.next() == Some(me.as_str())
            })
        })
        .collect()
}

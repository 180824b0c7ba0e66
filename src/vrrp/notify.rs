//! Notify hooks for VRRP transitions: the programs an operator asks to run
//! when an instance becomes master, backup or faulty, or stops (keepalived's
//! `notify_master`, `notify_backup`, `notify_fault`, `notify_stop`).
//!
//! Owns the running of those programs. The VRRP task (`vrrp::task`)
//! submits a [`Hook`] per transition to a [`Notifier`] and drains it at
//! shutdown; the outcome of each hook goes to tracing and, as a [`Report`],
//! back to whoever reads the `reports` channel (events, metrics).
//!
//! Why it is built this way:
//! - One at a time, in submission order, on a task of its own. keepalived
//!   forks each notify script as the transition happens, so a slow "master"
//!   script can still be running when the "backup" one that followed it
//!   finishes, leaving the box configured for the wrong state; its users
//!   have long reported scripts running out of order. Here a transition
//!   only queues its hook (never blocking the VRRP timers) and the hooks run
//!   strictly one after the other.
//! - No shell: `argv[0]` is executed directly, so a VIP or an instance name
//!   in the arguments is never word-split or expanded.
//! - Each hook is the leader of its own process group, and on timeout the
//!   whole group is killed: a script that started `sleep`, `curl` or a
//!   background job does not leave it behind holding the queue's next turn
//!   or the hook's output pipe.

use std::fmt::Write as _;
use std::os::unix::process::ExitStatusExt;
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader};
use tokio::process::Command;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// One program to run for one transition.
#[derive(Debug, Clone)]
pub struct Hook {
    /// What the hook is for, prefixed to every log line, e.g. "VI_1 master".
    pub label: String,
    /// The program and its arguments; `argv[0]` is run directly (a bare name
    /// is looked up in PATH), without a shell.
    pub argv: Vec<String>,
    /// Added to (or overriding) the environment pharos itself runs with.
    pub env: Vec<(String, String)>,
    /// How long it may run before its whole process group is killed. What
    /// it leaves running after exiting by itself within the time is left
    /// alone: a hook may mean to start something.
    pub timeout: Duration,
}

/// How a hook ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// It exited by itself with this status (0 is success).
    Exited(i32),
    /// It was killed by this signal, by someone other than the notifier.
    Signalled(i32),
    /// It ran past its timeout; its process group was killed with SIGKILL.
    TimedOut,
    /// It could not be started; the message says why and what to do.
    SpawnFailed(String),
}

/// A finished hook, as sent on the `reports` channel.
#[derive(Debug, Clone)]
pub struct Report {
    pub label: String,
    pub argv: Vec<String>,
    pub outcome: Outcome,
    pub took: Duration,
}

/// Longest piece of output logged as one line; a longer line is logged in
/// pieces, so a hook printing megabytes without a newline cannot make the
/// notifier hold it all in memory.
const MAX_LINE: u64 = 4096;

/// How long, once a hook has exited, its output is waited for before the
/// next hook starts. Output normally ends with the process; only a
/// background child that inherited the pipe keeps it open, and it must not
/// hold up the queue (its lines are still logged as they come).
const OUTPUT_GRACE: Duration = Duration::from_millis(250);

/// How long to wait for the kernel to reap a hook after SIGKILL. Only a
/// process stuck in uninterruptible sleep (a hung NFS mount, say) takes
/// longer; tokio reaps it later and the queue moves on.
const REAP_BOUND: Duration = Duration::from_secs(5);

enum Job {
    Run(Hook),
    /// Answered when every job queued before it has finished.
    Barrier(oneshot::Sender<()>),
}

/// Runs hooks one at a time, strictly in the order they were submitted, on
/// its own tokio task. Never blocks the caller. Clones share the queue.
#[derive(Debug, Clone)]
pub struct Notifier {
    jobs: mpsc::UnboundedSender<Job>,
}

impl Notifier {
    /// Starts the notifier's task (on the current tokio runtime, so call it
    /// from within one). The task ends once every clone of the notifier is
    /// dropped and the hooks already queued have run.
    pub fn spawn(reports: mpsc::UnboundedSender<Report>) -> Notifier {
        let (jobs, mut queue) = mpsc::unbounded_channel::<Job>();
        tokio::spawn(async move {
            while let Some(job) = queue.recv().await {
                match job {
                    Job::Run(hook) => {
                        let report = run(hook).await;
                        // Nobody listening is fine: the outcome is logged.
                        let _ = reports.send(report);
                    }
                    Job::Barrier(done) => {
                        let _ = done.send(());
                    }
                }
            }
        });
        Notifier { jobs }
    }

    /// Queues `hook` to run after every hook submitted before it.
    pub fn submit(&self, hook: Hook) {
        if let Err(mpsc::error::SendError(Job::Run(hook))) = self.jobs.send(Job::Run(hook)) {
            tracing::error!(
                "notify hook {}: not run ({}): the notifier task has stopped, \
                 which happens only when the runtime is shutting down",
                hook.label,
                shown(&hook.argv)
            );
        }
    }

    /// Waits until every hook submitted so far has finished (for shutdown:
    /// the stop hook must run before the process exits), at most `bound`.
    /// Returns whether they all finished; if not, it says so in the log.
    pub async fn drain(&self, bound: Duration) -> bool {
        let (done, finished) = oneshot::channel();
        if self.jobs.send(Job::Barrier(done)).is_err() {
            tracing::warn!("notify hooks: cannot wait for them, the notifier task has stopped");
            return false;
        }
        match tokio::time::timeout(bound, finished).await {
            Ok(Ok(())) => true,
            Ok(Err(_)) => {
                tracing::warn!("notify hooks: the notifier task stopped before they all ran");
                false
            }
            Err(_) => {
                tracing::warn!(
                    "notify hooks: still running after {}; not waiting any longer \
                     (lower the hooks' timeouts if shutdown must wait for them)",
                    secs(bound)
                );
                false
            }
        }
    }
}

/// Runs one hook to its end, logs how it ended, and reports it.
async fn run(hook: Hook) -> Report {
    let start = Instant::now();
    let outcome = execute(&hook).await;
    let took = start.elapsed();
    let cmd = shown(&hook.argv);
    let label = &hook.label;
    match &outcome {
        Outcome::Exited(0) => {
            tracing::info!("notify hook {label}: {cmd} exited 0 after {}", secs(took));
        }
        Outcome::Exited(n) => tracing::warn!(
            "notify hook {label}: {cmd} exited with status {n} after {}",
            secs(took)
        ),
        Outcome::Signalled(s) => tracing::warn!(
            "notify hook {label}: {cmd} was killed by signal {} after {}",
            signal_name(*s),
            secs(took)
        ),
        Outcome::TimedOut => tracing::warn!(
            "notify hook {label}: {cmd} did not finish within its timeout of {}; \
             killed it and its process group (raise the timeout if it needs longer)",
            secs(hook.timeout)
        ),
        Outcome::SpawnFailed(why) => tracing::error!("{why}"),
    }
    Report {
        label: hook.label,
        argv: hook.argv,
        outcome,
        took,
    }
}

async fn execute(hook: &Hook) -> Outcome {
    let label = &hook.label;
    let Some(program) = hook.argv.first() else {
        return Outcome::SpawnFailed(format!(
            "notify hook {label}: nothing to run (the command is empty); \
             give the program's path and its arguments"
        ));
    };
    let mut cmd = Command::new(program);
    cmd.args(&hook.argv[1..])
        .envs(hook.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own group, so that killpg reaches what it started too.
        .process_group(0)
        // If this future is dropped (runtime shutdown), do not leave it.
        .kill_on_drop(true);
    let mut child = match cmd.spawn() {
        Ok(child) => child,
        Err(e) => return Outcome::SpawnFailed(spawn_failed(label, program, &e)),
    };
    let pid = child.id();
    let readers = [
        child
            .stdout
            .take()
            .map(|s| tokio::spawn(log_lines(label.clone(), s, false))),
        child
            .stderr
            .take()
            .map(|s| tokio::spawn(log_lines(label.clone(), s, true))),
    ];

    let outcome = match tokio::time::timeout(hook.timeout, child.wait()).await {
        Ok(Ok(status)) => outcome_of(status),
        Ok(Err(e)) => {
            // wait(2) failing on our own child is not expected; kill what is
            // left so that the queue does not stall on it.
            kill_group(label, pid);
            Outcome::SpawnFailed(format!(
                "notify hook {label}: waiting for {program} failed: {e}; killed its process group"
            ))
        }
        Err(_) => {
            kill_group(label, pid);
            // The group leader may have exited on its own just now; the
            // timeout still decides the outcome, since the group was killed.
            if tokio::time::timeout(REAP_BOUND, child.wait())
                .await
                .is_err()
            {
                tracing::warn!(
                    "notify hook {label}: {program} (pid {}) not gone {} after SIGKILL; \
                     moving on (it is likely stuck in the kernel, e.g. on a hung mount)",
                    pid.unwrap_or_default(),
                    secs(REAP_BOUND)
                );
            }
            Outcome::TimedOut
        }
    };
    for reader in readers.into_iter().flatten() {
        finish(reader).await;
    }
    outcome
}

/// SIGKILL to the hook's whole process group (its pgid is its pid, from
/// `process_group(0)`).
fn kill_group(label: &str, pid: Option<u32>) {
    let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) else {
        return; // already reaped: nothing of ours to signal
    };
    match killpg(Pid::from_raw(pid), Signal::SIGKILL) {
        Ok(()) | Err(Errno::ESRCH) => {}
        Err(e) => tracing::error!(
            "notify hook {label}: killing process group {pid} failed: {e}; \
             its processes may still be running"
        ),
    }
}

/// Waits a little for a reader to reach the end of its pipe; past that it
/// is left to log whatever a leftover background process still prints.
async fn finish(reader: JoinHandle<()>) {
    let _ = tokio::time::timeout(OUTPUT_GRACE, reader).await;
}

/// Logs each line of a hook's stdout (info) or stderr (warn), prefixed
/// with its label.
async fn log_lines(label: String, stream: impl AsyncRead + Unpin, stderr: bool) {
    let mut reader = BufReader::new(stream);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match (&mut reader)
            .take(MAX_LINE)
            .read_until(b'\n', &mut buf)
            .await
        {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let text = String::from_utf8_lossy(&buf);
        let line = text.trim_end_matches(['\n', '\r']);
        if stderr {
            tracing::warn!("notify hook {label}: {line}");
        } else {
            tracing::info!("notify hook {label}: {line}");
        }
    }
}

fn outcome_of(status: ExitStatus) -> Outcome {
    match (status.code(), status.signal()) {
        (Some(code), _) => Outcome::Exited(code),
        (None, Some(sig)) => Outcome::Signalled(sig),
        // Neither exited nor signalled cannot come from wait(2) without
        // WUNTRACED; keep a value rather than panic in the queue's task.
        (None, None) => Outcome::Exited(-1),
    }
}

/// What went wrong starting `program`, and what to do about it.
fn spawn_failed(label: &str, program: &str, e: &std::io::Error) -> String {
    let what = match Errno::from_raw(e.raw_os_error().unwrap_or(0)) {
        Errno::ENOENT => {
            "no such file (or, for a script, its #! interpreter is missing); \
             give the path of an executable that exists — hooks run without a shell"
        }
        Errno::EACCES => {
            "permission denied; make it executable (chmod +x), check its directories \
             can be searched and its filesystem is not mounted noexec"
        }
        Errno::ENOEXEC => "not an executable format; a script needs a #! line",
        Errno::ETXTBSY => "the file is being written; try again once it is in place",
        _ => "",
    };
    let mut msg = format!("notify hook {label}: cannot run {program}: {e}");
    if !what.is_empty() {
        let _ = write!(msg, " — {what}");
    }
    msg
}

/// The command as it appears in log lines, in backquotes so that where it
/// starts and ends is plain.
fn shown(argv: &[String]) -> String {
    format!("`{}`", argv.join(" "))
}

fn secs(d: Duration) -> String {
    format!("{:.3}s", d.as_secs_f64())
}

fn signal_name(sig: i32) -> String {
    Signal::try_from(sig).map_or_else(|_| sig.to_string(), |s| s.as_str().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spawn_errors_name_the_program_and_say_what_to_do() {
        let e = std::io::Error::from_raw_os_error(Errno::ENOENT as i32);
        let m = spawn_failed("VI_1 master", "/etc/pharos/up.sh", &e);
        assert!(
            m.contains("VI_1 master") && m.contains("/etc/pharos/up.sh"),
            "{m}"
        );
        assert!(m.contains("without a shell"), "{m}");
        let e = std::io::Error::from_raw_os_error(Errno::EACCES as i32);
        assert!(spawn_failed("x", "y", &e).contains("chmod +x"));
    }

    #[test]
    fn signals_are_named() {
        assert_eq!(signal_name(9), "SIGKILL");
        assert_eq!(signal_name(200), "200");
    }
}

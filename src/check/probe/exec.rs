//! The exec probe (keepalived's MISC_CHECK and vrrp_script): run a
//! command; exit status 0 is a pass.
//!
//! Why it is built this way (as the VRRP notify hooks, `vrrp::notify`):
//! - No shell: `argv[0]` is executed directly, so nothing in the arguments
//!   is word-split or expanded.
//! - The command leads its own process group, and an attempt that runs
//!   past its timeout (or is abandoned, e.g. at shutdown) has the whole
//!   group killed: a script's `curl` or background `sleep` does not pile
//!   up one per interval. What a command leaves running after exiting by
//!   itself in time is left alone, as for notify hooks.
//! - stdin, stdout and stderr are /dev/null: checks run every few seconds
//!   and their chatter is not worth a log line each time, and a background
//!   child holding an output pipe open cannot stall anything.
//! - The target is passed as PHAROS_CHECK_ADDRESS and PHAROS_CHECK_PORT
//!   (the latter only when there is a port), so one script can serve every
//!   real server.

use std::net::IpAddr;
use std::os::unix::process::ExitStatusExt;
use std::process::{ExitStatus, Stdio};

use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::process::Command;

use super::{Deadline, Failure, Outcome};
use crate::config::model::Check;

pub struct Exec {
    argv: Vec<String>,
    address: String,
    port: Option<String>,
}

impl Exec {
    pub(crate) fn new(check: &Check, ip: IpAddr, port: Option<u16>) -> Result<Exec, String> {
        let argv = check.command.clone().unwrap_or_default();
        if argv.first().is_none_or(|p| p.is_empty()) {
            return Err(
                "exec check: the `command` is empty; give the program's path and its \
                 arguments, like `command = [\"/usr/local/bin/check\", \"arg\"]`"
                    .to_string(),
            );
        }
        Ok(Exec {
            argv,
            address: ip.to_string(),
            port: port.map(|p| p.to_string()),
        })
    }

    pub(crate) fn describe(&self) -> String {
        format!("exec `{}`", self.argv.join(" "))
    }

    pub(crate) async fn run(&self, deadline: Deadline) -> Outcome {
        let program = &self.argv[0];
        let mut cmd = Command::new(program);
        cmd.args(&self.argv[1..])
            .env("PHAROS_CHECK_ADDRESS", &self.address)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own group, so that killpg reaches what it started too.
            .process_group(0)
            // tokio reaps a dropped child in the background: no zombies.
            .kill_on_drop(true);
        match &self.port {
            Some(port) => cmd.env("PHAROS_CHECK_PORT", port),
            None => cmd.env_remove("PHAROS_CHECK_PORT"),
        };
        let mut child = cmd
            .spawn()
            .map_err(|e| Failure::new(spawn_failed(program, &e)))?;
        // Armed until the command has exited by itself: a timeout, or this
        // future being dropped, kills the group.
        let mut group = GroupKill(child.id());
        let status = match tokio::time::timeout_at(deadline.at(), child.wait()).await {
            Ok(Ok(status)) => {
                group.0 = None;
                status
            }
            Ok(Err(e)) => {
                return Err(Failure::new(format!(
                    "waiting for {program} failed: {e}; killed its process group"
                )));
            }
            Err(_) => {
                return Err(Failure::new(format!(
                    "timed out after {} ms; killed its process group",
                    deadline.budget_ms()
                )));
            }
        };
        judge(status)
    }
}

fn judge(status: ExitStatus) -> Outcome {
    match (status.code(), status.signal()) {
        (Some(0), _) => Ok(()),
        (Some(code), _) => Err(Failure::new(format!("exit status {code}"))),
        (None, Some(sig)) => Err(Failure::new(format!(
            "killed by signal {}",
            Signal::try_from(sig).map_or_else(|_| sig.to_string(), |s| s.as_str().to_string())
        ))),
        (None, None) => Err(Failure::new("ended without an exit status")),
    }
}

/// SIGKILL to a command's process group when dropped while armed (its
/// pgid is its pid, from `process_group(0)`).
struct GroupKill(Option<u32>);

impl Drop for GroupKill {
    fn drop(&mut self) {
        let Some(pid) = self.0.and_then(|p| i32::try_from(p).ok()) else {
            return;
        };
        match killpg(Pid::from_raw(pid), Signal::SIGKILL) {
            Ok(()) | Err(Errno::ESRCH) => {}
            Err(e) => tracing::error!(
                "exec check: killing process group {pid} failed: {e}; its processes may \
                 still be running"
            ),
        }
    }
}

/// What went wrong starting `program`, and what to do about it.
fn spawn_failed(program: &str, e: &std::io::Error) -> String {
    let what = match Errno::from_raw(e.raw_os_error().unwrap_or(0)) {
        Errno::ENOENT => {
            " — no such file (or, for a script, its #! interpreter is missing); give the \
             path of an executable that exists: checks run without a shell"
        }
        Errno::EACCES => {
            " — make it executable (chmod +x) and check that its directories can be \
             searched and its filesystem is not mounted noexec"
        }
        Errno::ENOEXEC => " — not an executable format; a script needs a #! line",
        _ => "",
    };
    format!("cannot run {program}: {e}{what}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_judged() {
        assert!(judge(ExitStatus::from_raw(0)).is_ok());
        assert_eq!(
            judge(ExitStatus::from_raw(3 << 8)).unwrap_err().reason,
            "exit status 3"
        );
        assert_eq!(
            judge(ExitStatus::from_raw(9)).unwrap_err().reason,
            "killed by signal SIGKILL"
        );
    }

    #[test]
    fn spawn_errors_say_what_to_do() {
        let e = std::io::Error::from_raw_os_error(Errno::ENOENT as i32);
        let m = spawn_failed("/nope", &e);
        assert!(m.contains("/nope") && m.contains("without a shell"), "{m}");
    }
}

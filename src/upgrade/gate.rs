//! The health gate of a new slot on trial, sans-IO: fed `(elapsed,
//! status)` once a second by the shell (`flow.rs`), it answers wait,
//! commit or fail. The new slot commits only when this director is doing
//! its job again:
//! - its config is the file, taken as it is (not the last known good one,
//!   not maintenance: a config the new version rejects fails at once),
//!   unless the old slot too ran the last known good one;
//! - every task ran its first full apply (`ready`) and runs;
//! - every VRRP instance has settled (master or backup, no fault);
//! - the IPVS table is the desired one (every service in the kernel, no
//!   error reading or writing it);
//! - every check that was up before the upgrade is up again;
//!
//! all of it holding for [`SETTLE`] in a row, within the upgrade's
//! deadline.

use std::time::Duration;

use crate::check::status::CheckStatus;
use crate::ipvs::status::IpvsStatus;
use crate::runtime::status::{ConfigSource, Status, TaskState};
use crate::vrrp::status::VrrpStatus;

/// How long everything must hold before the commit: one VRRP master down
/// interval at the default 1 s adverts, so a backup that has not yet heard
/// its master does not commit as "settled".
pub const SETTLE: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Not yet: what is still missing.
    Wait(String),
    /// Healthy for SETTLE: what was found.
    Commit(String),
    /// Never will be, or not within the deadline: why.
    Fail(String),
}

pub struct Gate {
    deadline: Duration,
    checks_up: Vec<String>,
    /// The old slot ran the last known good config too: not a failure.
    on_last_good: bool,
    healthy_since: Option<Duration>,
}

impl Gate {
    pub fn new(deadline: Duration, checks_up: Vec<String>) -> Gate {
        Gate {
            deadline,
            checks_up,
            on_last_good: false,
            healthy_since: None,
        }
    }

    /// The upgrade began on a box running its last known good config (the
    /// file was already invalid): the new slot may do the same.
    pub fn on_last_good(mut self, yes: bool) -> Gate {
        self.on_last_good = yes;
        self
    }

    /// One look at the status, `elapsed` since the gate started.
    pub fn step(&mut self, elapsed: Duration, s: &Status) -> Verdict {
        match missing(s, &self.checks_up, self.on_last_good) {
            Err(fatal) => Verdict::Fail(fatal),
            Ok(Some(what)) => {
                self.healthy_since = None;
                if elapsed >= self.deadline {
                    Verdict::Fail(format!(
                        "not healthy within {}: {what}",
                        humantime::format_duration(self.deadline)
                    ))
                } else {
                    Verdict::Wait(what)
                }
            }
            Ok(None) => {
                let since = *self.healthy_since.get_or_insert(elapsed);
                if elapsed - since >= SETTLE {
                    Verdict::Commit(healthy(s, &self.checks_up))
                } else if elapsed >= self.deadline {
                    Verdict::Fail(format!(
                        "healthy only since {} s before the deadline of {}",
                        (elapsed - since).as_secs(),
                        humantime::format_duration(self.deadline)
                    ))
                } else {
                    Verdict::Wait(format!(
                        "healthy for {} s of {} s",
                        (elapsed - since).as_secs(),
                        SETTLE.as_secs()
                    ))
                }
            }
        }
    }
}

fn section<T: serde::de::DeserializeOwned + Default>(s: &Status, name: &str) -> T {
    s.subsystems
        .get(name)
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default()
}

/// `Err`: a failure waiting cannot mend; `Ok(Some)`: what is not there yet.
fn missing(s: &Status, checks_up: &[String], on_last_good: bool) -> Result<Option<String>, String> {
    match s.config.source {
        ConfigSource::File => {}
        ConfigSource::LastGood if on_last_good => {}
        ConfigSource::LastGood => {
            return Err(format!(
                "the new version rejects the config file and runs the last known good one: {}",
                s.config
                    .errors
                    .first()
                    .map_or("(no diagnostic)", String::as_str)
            ));
        }
        ConfigSource::Maintenance => {
            return Err(format!(
                "the new version runs no config (maintenance): {}",
                s.config
                    .errors
                    .first()
                    .map_or("(no diagnostic)", String::as_str)
            ));
        }
        ConfigSource::Unmatched => {
            return Err("no node of the config matches this box under the new version".into());
        }
    }
    if !s.ready {
        return Ok(Some("the first apply has not finished".into()));
    }
    if let Some(t) = s.tasks.iter().find(|t| t.state != TaskState::Running) {
        return Ok(Some(format!(
            "task {} is {}{}",
            t.name,
            t.state.as_str(),
            t.last_error
                .as_ref()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default()
        )));
    }
    let vrrp: VrrpStatus = section(s, "vrrp");
    if let Some((name, i)) = vrrp
        .instances
        .iter()
        .find(|(_, i)| !matches!(i.state.as_str(), "master" | "backup"))
    {
        return Ok(Some(format!(
            "VRRP instance {name} is {}{}",
            i.state,
            i.fault
                .as_ref()
                .map(|f| format!(" ({f})"))
                .unwrap_or_default()
        )));
    }
    let ipvs: IpvsStatus = section(s, "ipvs");
    if let Some(e) = &ipvs.error {
        return Ok(Some(format!("IPVS: {e}")));
    }
    if let Some(svc) = ipvs.services.iter().find(|v| v.state != "ok") {
        return Ok(Some(format!(
            "IPVS service {} ({}) is {}",
            svc.name, svc.service, svc.state
        )));
    }
    let check: CheckStatus = section(s, "check");
    for name in checks_up {
        match check.targets.iter().find(|t| &t.target == name) {
            Some(t) if t.state == "up" => {}
            Some(t) => return Ok(Some(format!("check {name} is {}, was up before", t.state))),
            None => return Ok(Some(format!("check {name} is not running, was up before"))),
        }
    }
    Ok(None)
}

fn healthy(s: &Status, checks_up: &[String]) -> String {
    let vrrp: VrrpStatus = section(s, "vrrp");
    let ipvs: IpvsStatus = section(s, "ipvs");
    let states: Vec<String> = vrrp
        .instances
        .iter()
        .map(|(n, i)| format!("{n} {}", i.state))
        .collect();
    format!(
        "VRRP settled ({}), {} IPVS services programmed, {} checks up again",
        if states.is_empty() {
            "no instances".to_string()
        } else {
            states.join(", ")
        },
        ipvs.services.len(),
        checks_up.len()
    )
}

/// The checks up in a status: what an upgrade must see up again.
pub fn checks_up(s: &Status) -> Vec<String> {
    let check: CheckStatus = section(s, "check");
    check
        .targets
        .into_iter()
        .filter(|t| t.state == "up")
        .map(|t| t.target)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::status::{ConfigStatus, TaskStatus};

    fn status(vrrp_state: &str, check_state: &str) -> Status {
        let mut subsystems = std::collections::BTreeMap::new();
        subsystems.insert(
            "vrrp".into(),
            serde_json::json!({"instances": {"VI_1": {
                "state": vrrp_state, "priority": 100, "base_priority": 100, "master": null,
                "interface": "eth0", "vrid": 51, "version": 3, "advert_interval_ms": 1000,
                "virtual_addresses": [], "since": "", "transitions": 1,
                "adverts": {"sent": 0, "received": 0, "dropped": {}}, "tracked": []}}}),
        );
        subsystems.insert(
            "ipvs".into(),
            serde_json::json!({"services": [{"name": "web", "service": "TCP 10.0.0.100:80",
                "scheduler": "wlc", "state": "ok", "connections": 0, "servers": []}]}),
        );
        subsystems.insert(
            "check".into(),
            serde_json::json!({"schedule": {"attempts_per_s": 1.0},
                "targets": [{"target": "web/10.0.0.1:80", "check": "tcp", "state": check_state,
                  "last": "", "latency_ms": null, "passes": 1, "fails": 0, "rise": 1, "fall": 1,
                  "checks": 1}],
                "services": {}}),
        );
        Status {
            pharos_version: "0.2.0".into(),
            pid: 1,
            started_at: String::new(),
            ready: true,
            config: ConfigStatus {
                file: "/config/pharos.toml".into(),
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
            tasks: vec![TaskStatus {
                name: "vrrp".into(),
                state: TaskState::Running,
                restarts: 0,
                last_error: None,
            }],
            subsystems,
        }
    }

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn the_sections_parse_as_their_owners_publish_them() {
        // Held to the real types: a renamed field would make every gate wait.
        let s = status("backup", "up");
        assert_eq!(checks_up(&s), vec!["web/10.0.0.1:80".to_string()]);
        assert_eq!(missing(&s, &checks_up(&s), false), Ok(None));
    }

    #[test]
    fn it_commits_after_holding_healthy_for_the_settle_time() {
        let mut g = Gate::new(secs(300), vec!["web/10.0.0.1:80".into()]);
        let s = status("backup", "up");
        assert!(matches!(g.step(secs(1), &s), Verdict::Wait(_)));
        assert!(matches!(g.step(secs(5), &s), Verdict::Wait(_)));
        let Verdict::Commit(what) = g.step(secs(6), &s) else {
            panic!()
        };
        assert!(what.contains("VI_1 backup"), "{what}");
        assert!(what.contains("1 checks up again"), "{what}");
    }

    #[test]
    fn a_lapse_starts_the_settle_time_again() {
        let mut g = Gate::new(secs(300), vec!["web/10.0.0.1:80".into()]);
        assert!(matches!(
            g.step(secs(1), &status("backup", "up")),
            Verdict::Wait(_)
        ));
        let Verdict::Wait(w) = g.step(secs(4), &status("init", "up")) else {
            panic!()
        };
        assert!(w.contains("VRRP instance VI_1 is init"), "{w}");
        assert!(matches!(
            g.step(secs(7), &status("backup", "up")),
            Verdict::Wait(_)
        ));
        assert!(matches!(
            g.step(secs(11), &status("backup", "up")),
            Verdict::Wait(_)
        ));
        assert!(matches!(
            g.step(secs(12), &status("master", "up")),
            Verdict::Commit(_)
        ));
    }

    #[test]
    fn a_check_that_stays_down_fails_at_the_deadline_saying_which() {
        let mut g = Gate::new(secs(60), vec!["web/10.0.0.1:80".into()]);
        let s = status("backup", "down");
        let Verdict::Wait(w) = g.step(secs(59), &s) else {
            panic!()
        };
        assert!(
            w.contains("check web/10.0.0.1:80 is down, was up before"),
            "{w}"
        );
        let Verdict::Fail(f) = g.step(secs(60), &s) else {
            panic!()
        };
        assert!(f.starts_with("not healthy within 1m:"), "{f}");
    }

    #[test]
    fn a_rejected_config_fails_at_once() {
        let mut g = Gate::new(secs(300), vec![]);
        let mut s = status("backup", "up");
        s.config.source = ConfigSource::LastGood;
        s.config.errors = vec!["pharos.toml:3:1: unknown key `foo`".into()];
        let Verdict::Fail(f) = g.step(secs(1), &s) else {
            panic!()
        };
        assert!(
            f.contains("rejects the config") && f.contains("unknown key"),
            "{f}"
        );
        s.config.source = ConfigSource::Unmatched;
        assert!(matches!(g.step(secs(1), &s), Verdict::Fail(_)));
    }

    #[test]
    fn the_last_good_config_passes_when_the_old_slot_ran_it_too() {
        let mut g = Gate::new(secs(300), vec![]).on_last_good(true);
        let mut s = status("backup", "up");
        s.config.source = ConfigSource::LastGood;
        assert!(matches!(g.step(secs(1), &s), Verdict::Wait(_)));
        assert!(matches!(g.step(secs(6), &s), Verdict::Commit(_)));
        s.config.source = ConfigSource::Maintenance;
        assert!(matches!(g.step(secs(7), &s), Verdict::Fail(_)));
    }

    #[test]
    fn a_task_not_running_or_ipvs_out_of_step_holds_it() {
        let mut g = Gate::new(secs(300), vec![]);
        let mut s = status("master", "up");
        s.tasks[0].state = TaskState::Restarting;
        let Verdict::Wait(w) = g.step(secs(1), &s) else {
            panic!()
        };
        assert!(w.starts_with("task vrrp is"), "{w}");
        let mut s = status("master", "up");
        s.subsystems.insert(
            "ipvs".into(),
            serde_json::json!({"services": [{"name": "web", "service": "TCP 10.0.0.100:80",
                "scheduler": "wlc", "state": "missing", "connections": null, "servers": []}]}),
        );
        let Verdict::Wait(w) = g.step(secs(1), &s) else {
            panic!()
        };
        assert!(w.contains("IPVS service web"), "{w}");
        s.ready = false;
        assert_eq!(
            g.step(secs(2), &s),
            Verdict::Wait("the first apply has not finished".into())
        );
    }
}

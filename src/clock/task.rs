//! The `clock` task: asks the servers of `[system] ntp` on the
//! discipline's schedule and steps or slews the clock as it says. Every
//! step is an event (and so a log line); slews are logged at debug.
//! Readiness does not wait for a server: a box whose NTP server is down
//! must still come up and hold its VIPs.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use super::discipline::{Action, Discipline, Schedule};
use super::status::ClockStatus;
use crate::config::model::Ntp;
use crate::runtime::changes::{Changes, Part};
use crate::runtime::status::{Event, now_rfc3339};
use crate::runtime::supervisor::{Shared, Subsystem, TaskCtx, TaskFuture};

/// How long to wait for an answer. RFC 4330 has no number; a server on
/// the LAN answers in a millisecond, one across the world in 300.
const TIMEOUT: Duration = Duration::from_secs(2);

/// The clock task's part: `[system] ntp`, its servers with their ports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClockPart(pub Option<NtpPart>);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NtpPart {
    pub servers: Vec<SocketAddr>,
    pub poll: Duration,
    pub step_threshold: Duration,
}

impl ClockPart {
    pub fn of(ntp: Option<&Ntp>) -> ClockPart {
        ClockPart(ntp.map(|n| {
            NtpPart {
                // RFC 5905 §7.2: NTP's port is 123.
                servers: n
                    .servers
                    .iter()
                    .map(|e| SocketAddr::new(e.ip, e.port.unwrap_or(123)))
                    .collect(),
                poll: n.poll.0,
                step_threshold: n.step_threshold.0,
            }
        }))
    }
}

impl Part for ClockPart {
    fn changes(&self, old: &Self) -> Changes {
        Changes::of_option(old.0.as_ref(), self.0.as_ref())
    }
}

pub struct ClockTask;

impl Subsystem for ClockTask {
    type Part = ClockPart;

    fn name(&self) -> &'static str {
        "clock"
    }

    fn shutdown_rank(&self) -> u8 {
        190
    }

    fn run(self: Arc<Self>, mut ctx: TaskCtx<ClockPart>) -> TaskFuture {
        Box::pin(async move {
            let mut ready = Some(ctx.ready.clone());
            let mut discipline = Discipline::new(Duration::from_millis(128));
            let mut schedule: Option<Schedule> = None;
            let mut status = ClockStatus::default();
            let mut next = tokio::time::Instant::now();
            loop {
                tokio::select! {
                    () = ctx.cancel.cancelled() => return Ok(()),
                    update = ctx.updates.recv() => {
                        let Some(part) = update else { return Ok(()) };
                        match &part.0 {
                            None => {
                                schedule = None;
                                ctx.shared
                                    .status
                                    .lock()
                                    .unwrap_or_else(|e| e.into_inner())
                                    .subsystems
                                    .remove("clock");
                            }
                            Some(ntp) => {
                                // A reload keeps what the clock has been
                                // through: it is not stepped again.
                                discipline.set_threshold(ntp.step_threshold);
                                schedule = Some(Schedule::new(ntp.servers.clone(), ntp.poll));
                                status.servers = ntp.servers.iter().map(ToString::to_string).collect();
                                publish(&ctx.shared, &status);
                                next = tokio::time::Instant::now();
                            }
                        }
                        if let Some(r) = ready.take() {
                            r.mark("clock");
                        }
                    }
                    () = tokio::time::sleep_until(next), if schedule.is_some() => {
                        let Some(sched) = schedule.as_mut() else { continue };
                        let Some(server) = sched.server() else {
                            status.last_error = Some(
                                "every NTP server refuses this box (Kiss-o'-Death DENY or RSTR); \
                                 fix the servers' access rules, then reload".into(),
                            );
                            publish(&ctx.shared, &status);
                            next = tokio::time::Instant::now() + Duration::from_secs(86_400 * 365);
                            continue;
                        };
                        let wait = match super::sntp::ask(server, TIMEOUT).await {
                            Ok(a) => {
                                let action = discipline.offset(a.offset_us);
                                if !apply(&ctx.shared, action, &a, &mut status)
                                    && matches!(action, Action::Step(_))
                                {
                                    discipline.step_failed();
                                }
                                status.server = Some(a.server.to_string());
                                status.last_sync = Some(now_rfc3339());
                                status.offset_seconds = Some(a.offset_us as f64 / 1e6);
                                status.delay_seconds = Some(a.delay_us as f64 / 1e6);
                                status.stratum = Some(a.stratum);
                                sched.answered()
                            }
                            Err(e) => {
                                if status.last_error.as_deref() != Some(e.what.as_str()) {
                                    tracing::warn!(task = "clock", "{}", e.what);
                                }
                                status.last_error = Some(e.what);
                                sched.failed(e.failure)
                            }
                        };
                        publish(&ctx.shared, &status);
                        next = tokio::time::Instant::now() + wait;
                    }
                }
            }
        })
    }
}

/// Steps or slews as the discipline says; an error goes to status.
/// Whether the kernel took it.
fn apply(
    shared: &Shared,
    action: Action,
    a: &super::sntp::Answer,
    status: &mut ClockStatus,
) -> bool {
    let secs = |us: i64| us as f64 / 1e6;
    match action {
        Action::Step(us) => match super::adjust::step(us) {
            Ok(to) => {
                status.steps += 1;
                status.action = Some("stepped".into());
                status.last_error = None;
                shared.emit(Event::new(
                    "clock",
                    &a.server.to_string(),
                    format!(
                        "stepped the clock by {:+.6} s to {} (NTP server {}, stratum {})",
                        secs(us),
                        humantime::format_rfc3339_millis(to),
                        a.server,
                        a.stratum
                    ),
                ));
            }
            Err(e) => {
                failed(status, e);
                return false;
            }
        },
        Action::Slew(us) => match super::adjust::slew(us) {
            Ok(()) => {
                status.slews += 1;
                status.action = Some("slewed".into());
                status.last_error = None;
                tracing::debug!(
                    task = "clock",
                    "slewing the clock by {:+.6} s (NTP server {})",
                    secs(us),
                    a.server
                );
            }
            Err(e) => {
                failed(status, e);
                return false;
            }
        },
        Action::Hold(us) => {
            status.action = Some("held".into());
            status.last_error = None;
            tracing::warn!(
                task = "clock",
                "NTP server {} says the clock is {:+.6} s off, past the step threshold: stepped if the next answer agrees",
                a.server,
                secs(us)
            );
        }
    }
    true
}

/// A step or slew the kernel refused: logged once, not at every poll.
fn failed(status: &mut ClockStatus, e: String) {
    if status.last_error.as_deref() != Some(e.as_str()) {
        tracing::error!(task = "clock", "{e}");
    }
    status.last_error = Some(e);
}

fn publish(shared: &Shared, status: &ClockStatus) {
    shared.publish(
        "clock",
        serde_json::to_value(status).expect("the clock status serializes"),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_without_a_port_are_asked_on_123_and_a_changed_poll_is_a_change() {
        let text = "[system.ntp]\nservers = [\"10.0.0.1\", \"[2001:db8::1]:1123\"]\n";
        let c = crate::config::check_text(text, &crate::config::Selection::All);
        let (_, cfg) = c.configs.first().expect("valid");
        let part = ClockPart::of(cfg.system.ntp.as_ref());
        let ntp = part.0.clone().expect("on");
        assert_eq!(
            ntp.servers,
            vec![
                "10.0.0.1:123".parse::<SocketAddr>().unwrap(),
                "[2001:db8::1]:1123".parse().unwrap()
            ]
        );
        assert_eq!(
            (ntp.poll, ntp.step_threshold),
            (Duration::from_secs(64), Duration::from_millis(128))
        );
        let mut slower = ntp.clone();
        slower.poll = Duration::from_secs(128);
        assert_eq!(ClockPart(Some(slower)).changes(&part).summary(), "+0 ~1 -0");
        assert_eq!(ClockPart(None).changes(&part).summary(), "+0 ~0 -1");
        assert!(part.changes(&part).is_empty());
    }
}

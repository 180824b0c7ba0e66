//! systemd's notify protocol (sd_notify(3)): READY=1 once the first full
//! apply is done, STATUS= with a one-line summary, WATCHDOG=1 from the
//! supervisor loop, STOPPING=1 on shutdown. Without `NOTIFY_SOCKET` (not
//! under systemd) every call is a no-op.

use std::time::Duration;

use sd_notify::NotifyState;

fn send(states: &[NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::debug!("sd_notify failed: {e}");
    }
}

pub fn ready(status: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
}

pub fn status(status: &str) {
    send(&[NotifyState::Status(status)]);
}

pub fn reloading() {
    send(&[NotifyState::Reloading]);
}

pub fn stopping() {
    send(&[NotifyState::Stopping]);
}

/// One beat of the supervisor's loop: to systemd and, as the image's PID
/// 1, to the kernel's watchdog (`init::watchdog`).
pub fn watchdog() {
    send(&[NotifyState::Watchdog]);
    crate::init::watchdog::pet();
}

/// The watchdog period systemd asked for (`WATCHDOG_USEC`), if any; as the
/// image's PID 1 with the kernel's watchdog armed, a third of its margin.
pub fn watchdog_period() -> Option<Duration> {
    sd_notify::watchdog_enabled()
        .or_else(|| crate::init::watchdog::armed().then(|| crate::init::watchdog::MARGIN / 3))
}

//! The watchdog of PID 1: a box whose pharos hangs (a deadlock, a wedged
//! supervisor) reboots by itself, and after an upgrade that reboot is into
//! the committed slot (GRUB's boot-once). Debian's cloud kernel has no
//! hardware watchdog driver, so this is `softdog`: a kernel timer that
//! reboots the box when `/dev/watchdog` is not written for its margin
//! (60 s, its default: slack for a box under emulation). It catches a
//! hung pharos, not a hung kernel; the kernel's own `panic=` covers a
//! panic.
//!
//! The supervisor pets it from its loop (`runtime::notify::watchdog`), the
//! same beat that tells systemd it lives, so a supervisor that stops
//! turning stops petting.

use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

static DEVICE: Mutex<Option<std::fs::File>> = Mutex::new(None);

fn device() -> std::sync::MutexGuard<'static, Option<std::fs::File>> {
    DEVICE.lock().unwrap_or_else(|e| e.into_inner())
}

/// softdog's margin (its `soft_margin` default).
pub const MARGIN: Duration = Duration::from_secs(60);

/// Loads softdog and opens the device, which starts its timer.
pub fn arm() -> Result<(), String> {
    if !crate::kernel::modules::is_loaded("softdog") {
        crate::kernel::modules::ModuleTree::open()?.load("softdog")?;
    }
    // devtmpfs makes the node as the driver registers.
    let mut last = String::new();
    for _ in 0..50 {
        match std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/watchdog")
        {
            Ok(f) => {
                *device() = Some(f);
                return Ok(());
            }
            Err(e) => last = e.to_string(),
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(format!("opening /dev/watchdog: {last}"))
}

/// Whether the watchdog runs.
pub fn armed() -> bool {
    device().is_some()
}

/// One beat.
pub fn pet() {
    if let Some(f) = device().as_mut() {
        let _ = f.write_all(b"\0");
    }
}

/// Stops it, for a box that waits for a human: the magic close (`V`,
/// then the device closed).
pub fn disarm() {
    if let Some(mut f) = device().take() {
        let _ = f.write_all(b"V");
    }
}

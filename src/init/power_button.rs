//! The ACPI power button (what a hypervisor's "shut down" presses): watched
//! through evdev, since the image has no acpid. A press is a clean power-off.

use std::io::Read;

use tokio::sync::mpsc;

use crate::runtime::Stop;

/// `struct input_event` on 64-bit: timeval (16), type (2), code (2), value (4).
const EVENT_SIZE: usize = 24;
const EV_KEY: u16 = 0x01;
const KEY_POWER: u16 = 116;

pub fn watch(tx: mpsc::Sender<Stop>) {
    let devices: Vec<String> = std::fs::read_dir("/sys/class/input")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let label = std::fs::read_to_string(e.path().join("device/name")).ok()?;
            (name.starts_with("event") && label.trim() == "Power Button")
                .then(|| format!("/dev/input/{name}"))
        })
        .collect();
    if devices.is_empty() {
        super::say("no ACPI power button found; power off with SIGUSR2");
    }
    for dev in devices {
        let tx = tx.clone();
        std::thread::spawn(move || {
            let Ok(mut f) = std::fs::File::open(&dev) else {
                return;
            };
            let mut ev = [0u8; EVENT_SIZE];
            while f.read_exact(&mut ev).is_ok() {
                let kind = u16::from_ne_bytes([ev[16], ev[17]]);
                let code = u16::from_ne_bytes([ev[18], ev[19]]);
                let value = i32::from_ne_bytes([ev[20], ev[21], ev[22], ev[23]]);
                if kind == EV_KEY && code == KEY_POWER && value == 1 {
                    super::say("power button pressed: shutting down to power off");
                    let _ = tx.blocking_send(Stop::PowerOff);
                }
            }
        });
    }
}

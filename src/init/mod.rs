//! pharos as PID 1 in the appliance image.
//!
//! Owns what an init owns: the early mounts, the console, boot-time kernel
//! modules, the config partition (`PHAROS-CFG`, mounted at `/config`),
//! reaping orphans, and turning signals into a clean reboot or power-off:
//! SIGTERM and ctrl-alt-del reboot, SIGUSR2 and the ACPI power button
//! (a hypervisor's shutdown) power off. Everything else is the runtime's
//! (`crate::runtime`), which this wraps. PID 1 never exits: a fatal problem
//! is logged with the way out, and the box waits to be rebooted.

mod power_button;
mod reaper;
pub mod watchdog;

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sys::reboot::{RebootMode, reboot, set_cad_enabled};

use crate::runtime::{self, Hooks, RunOptions, Stop};

/// The config the image boots with when no config partition is found.
pub const EMBEDDED_DEFAULT: &str = include_str!("../../configs/default.toml");

const CONFIG_LABEL: &str = "PHAROS-CFG";
const CONFIG_DIR: &str = "/config";

fn say(msg: &str) {
    // The console is stderr (see `console`); the kernel log keeps a copy
    // for `dmesg` and for a console that attached late.
    eprintln!("pharos: {msg}");
    if let Ok(mut k) = OpenOptions::new().write(true).open("/dev/kmsg") {
        let _ = std::io::Write::write_all(&mut k, format!("<6>pharos: {msg}\n").as_bytes());
    }
}

pub fn main() -> ! {
    let booted = Instant::now();
    mount_early();
    console();
    say(&format!(
        "PID 1 starting (pharos {})",
        env!("CARGO_PKG_VERSION")
    ));
    // ctrl-alt-del becomes SIGINT to us instead of an immediate reboot.
    if let Err(e) = set_cad_enabled(false) {
        say(&format!("cannot take over ctrl-alt-del: {e}"));
    }
    let boot = std::fs::read_to_string("/etc/pharos-boot-modules").unwrap_or_default();
    let loading = Instant::now();
    let results = crate::kernel::modules::load_all(boot.split_whitespace());
    for (name, r) in &results {
        if let Err(e) = r {
            say(&format!("boot module {name}: {e}"));
        }
    }
    say(&format!(
        "loaded {} boot modules in {} ms",
        results.iter().filter(|r| r.1.is_ok()).count(),
        loading.elapsed().as_millis()
    ));
    // Loopback up, as every init does: the kernel's local routing table
    // (which IPVS consults to accept a real server) exists only then.
    if let Err(e) =
        crate::kernel::rtnl::Rtnl::connect().and_then(|r| r.set_link("lo", 1, Some(true), None))
    {
        say(&format!("cannot set lo up: {e}"));
    }
    match watchdog::arm() {
        Ok(()) => say(&format!(
            "watchdog armed (softdog, {} s): a hung pharos reboots the box",
            watchdog::MARGIN.as_secs()
        )),
        Err(e) => say(&format!("no watchdog: {e}")),
    }
    let (config, state_dir, errors_file, volatile) = match mount_config() {
        Ok(dir) => (
            dir.join("pharos.toml"),
            dir.clone(),
            Some(dir.join("pharos.errors")),
            None,
        ),
        Err(why) => {
            say(&format!("{why}; booting the embedded default config"));
            let dir = PathBuf::from("/run/pharos");
            let _ = std::fs::create_dir_all(&dir);
            let path = dir.join("pharos.toml");
            if let Err(e) = std::fs::write(&path, EMBEDDED_DEFAULT) {
                fatal(&format!(
                    "cannot write the embedded config to {}: {e}",
                    path.display()
                ));
            }
            let volatile = format!(
                "{why}: running the embedded default config from {}; nothing saved outlives a reboot",
                dir.display()
            );
            (path, dir, None, Some(volatile))
        }
    };
    let identity_beside = |c: &std::path::Path| {
        c.parent()
            .unwrap_or(std::path::Path::new("/"))
            .join("identity")
    };
    let opts = RunOptions {
        config: config.clone(),
        node: None,
        state_dir,
        socket: None,
        shutdown_timeout: Duration::from_secs(10),
        restart_policy: Default::default(),
        pid1: true,
        errors_file,
        volatile,
        // Beside pharos.toml on the config partition: /config/identity.
        identity: identity_beside(&config),
        wiring: crate::director::WIRING,
    };
    runtime::heap::one_arena();
    runtime::raise_open_files();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => fatal(&format!("cannot start the async runtime: {e}")),
    };
    let stop = rt.block_on(async {
        tokio::spawn(reaper::run());
        let (stop_tx, stop_rx) = tokio::sync::mpsc::channel(1);
        power_button::watch(stop_tx);
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            if let Ok(what) = ready_rx.await {
                say(&format!(
                    "ready in {} ms since PID 1 started: {what}",
                    booted.elapsed().as_millis()
                ));
                test_script().await;
            }
        });
        let hooks = Hooks {
            stop: Some(stop_rx),
            ready: Some(ready_tx),
        };
        runtime::run_async(opts, hooks).await
    });
    // Maintenance mode keeps pharos up, so NoConfig cannot happen here; be
    // safe anyway and wait for a human rather than panic the kernel.
    if stop == Stop::NoConfig {
        fatal("no config could be run");
    }
    finish(stop)
}

/// Syncs, unmounts the config partition and reboots or powers off.
fn finish(stop: Stop) -> ! {
    let (mode, what) = match stop {
        Stop::PowerOff => (RebootMode::RB_POWER_OFF, "powering off"),
        _ => (RebootMode::RB_AUTOBOOT, "rebooting"),
    };
    nix::unistd::sync();
    if let Err(e) = umount2(CONFIG_DIR, MntFlags::empty())
        && e != nix::errno::Errno::EINVAL
    {
        say(&format!("unmounting {CONFIG_DIR}: {e}"));
    }
    nix::unistd::sync();
    say(&format!("shutdown complete; {what}"));
    let _ = reboot(mode);
    // reboot(2) only returns on failure.
    fatal(&format!("{what} failed"))
}

/// Logs why, then waits for a reboot instead of letting the kernel panic.
fn fatal(why: &str) -> ! {
    // A box waiting for a human must not be reset under them.
    watchdog::disarm();
    say(&format!("FATAL: {why}"));
    say(
        "the box stays up without its services. Fix pharos.toml on the PHAROS-CFG partition, then press ctrl-alt-del (or send SIGTERM to PID 1) to reboot",
    );
    if Path::new("/bin/sh").exists() {
        say("debug image: a rescue shell is on the console");
        let _ = std::process::Command::new("/bin/sh").status();
    }
    // Only signals end this: the runtime is gone, so take them by hand.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    if let Ok(rt) = rt {
        let stop = rt.block_on(async {
            use tokio::signal::unix::{SignalKind, signal};
            let (Ok(mut term), Ok(mut int), Ok(mut usr2)) = (
                signal(SignalKind::terminate()),
                signal(SignalKind::interrupt()),
                signal(SignalKind::user_defined2()),
            ) else {
                return Stop::Terminate;
            };
            tokio::spawn(reaper::run());
            tokio::select! {
                _ = term.recv() => Stop::Terminate,
                _ = int.recv() => Stop::Interrupt,
                _ = usr2.recv() => Stop::PowerOff,
            }
        });
        finish(stop)
    }
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

fn mount_early() {
    let mounts: [(&str, &str, &str, MsFlags, Option<&str>); 5] = [
        (
            "proc",
            "/proc",
            "proc",
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            None,
        ),
        (
            "sysfs",
            "/sys",
            "sysfs",
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            None,
        ),
        (
            "devtmpfs",
            "/dev",
            "devtmpfs",
            MsFlags::MS_NOSUID,
            Some("mode=0755"),
        ),
        (
            "tmpfs",
            "/run",
            "tmpfs",
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
            Some("mode=0755"),
        ),
        (
            "tmpfs",
            "/tmp",
            "tmpfs",
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
            Some("mode=1777"),
        ),
    ];
    for (src, target, fstype, flags, data) in mounts {
        let _ = std::fs::create_dir_all(target);
        if let Err(e) = mount(Some(src), target, Some(fstype), flags, data)
            && e != nix::errno::Errno::EBUSY
        {
            // No console yet; the kernel log still takes it.
            if let Ok(mut k) = OpenOptions::new().write(true).open("/dev/kmsg") {
                let _ = std::io::Write::write_all(
                    &mut k,
                    format!("<3>pharos: mounting {target}: {e}\n").as_bytes(),
                );
            }
        }
    }
}

/// The initramfs has no /dev/console node to give us stdio (it is built
/// without root, so without device nodes); take it from devtmpfs.
fn console() {
    if let Ok(c) = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/console")
    {
        let _ = nix::unistd::dup2_stdin(&c);
        let _ = nix::unistd::dup2_stdout(&c);
        let _ = nix::unistd::dup2_stderr(&c);
    }
}

/// Finds the FAT file system labelled `PHAROS-CFG` and mounts it at /config.
fn mount_config() -> Result<PathBuf, String> {
    // Disks appear asynchronously after their drivers load.
    let deadline = Instant::now() + Duration::from_secs(10);
    let dev = loop {
        if let Some(dev) = find_by_fat_label(CONFIG_LABEL) {
            break dev;
        }
        if Instant::now() > deadline {
            return Err(format!("no {CONFIG_LABEL} partition found"));
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let _ = std::fs::create_dir_all(CONFIG_DIR);
    mount(
        Some(dev.as_path()),
        CONFIG_DIR,
        Some("vfat"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        Some("flush,shortname=mixed"),
    )
    .map_err(|e| {
        format!(
            "mounting {} ({CONFIG_LABEL}) on {CONFIG_DIR}: {e}",
            dev.display()
        )
    })?;
    say(&format!(
        "config partition {} mounted on {CONFIG_DIR}",
        dev.display()
    ));
    Ok(PathBuf::from(CONFIG_DIR))
}

/// The FAT volume label is in the boot sector: offset 0x2B on FAT12/16,
/// 0x47 on FAT32 (Microsoft FAT specification, "BPB").
/// The block device whose FAT boot sector carries `label`.
pub(crate) fn find_by_fat_label(label: &str) -> Option<PathBuf> {
    let mut names: Vec<String> = std::fs::read_dir("/sys/class/block")
        .ok()?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|n| PathBuf::from("/dev").join(n))
        .find(|dev| {
            let mut sector = [0u8; 512];
            let ok = std::fs::File::open(dev)
                .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut sector))
                .is_ok();
            ok && sector[510..512] == [0x55, 0xAA] && fat_label(&sector).as_deref() == Some(label)
        })
}

fn fat_label(sector: &[u8; 512]) -> Option<String> {
    let at = |off: usize| {
        // An extended boot signature (0x29) precedes the id and label.
        (sector[off - 0x2B + 0x26] == 0x29).then(|| {
            String::from_utf8_lossy(&sector[off..off + 11])
                .trim_end()
                .to_string()
        })
    };
    if &sector[0x52..0x5A] == b"FAT32   " {
        at(0x47)
    } else if sector[0x36..0x39] == *b"FAT" {
        at(0x2B)
    } else {
        None
    }
}

/// Debug images only: `pharos.test=/config/script` on the kernel command
/// line runs that script with the shell once pharos is ready, its output on
/// the console, so the VM tests can look inside a running box.
async fn test_script() {
    let Ok(cmdline) = std::fs::read_to_string("/proc/cmdline") else {
        return;
    };
    let Some(script) = cmdline
        .split_whitespace()
        .find_map(|w| w.strip_prefix("pharos.test="))
    else {
        return;
    };
    if !Path::new("/bin/sh").exists() {
        say("pharos.test= ignored: this image has no shell (production images never do)");
        return;
    }
    say(&format!("running test script {script}"));
    let status = tokio::process::Command::new("/bin/sh")
        .arg(script)
        .status()
        .await;
    match status {
        Ok(s) => say(&format!(
            "test script finished: exit {}",
            s.code().unwrap_or(-1)
        )),
        Err(e) => say(&format!("test script failed to start: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fat_labels_are_read_from_the_boot_sector() {
        let mut s = [0u8; 512];
        s[0x36..0x3E].copy_from_slice(b"FAT16   ");
        s[0x26] = 0x29;
        s[0x2B..0x36].copy_from_slice(b"PHAROS-CFG ");
        assert_eq!(fat_label(&s).as_deref(), Some("PHAROS-CFG"));
        let mut s32 = [0u8; 512];
        s32[0x52..0x5A].copy_from_slice(b"FAT32   ");
        s32[0x42] = 0x29;
        s32[0x47..0x52].copy_from_slice(b"PHAROS-BOOT");
        assert_eq!(fat_label(&s32).as_deref(), Some("PHAROS-BOOT"));
        s[0x26] = 0;
        assert_eq!(fat_label(&s), None);
    }

    #[test]
    fn the_embedded_default_config_is_valid() {
        let c = crate::config::check_text(EMBEDDED_DEFAULT, &crate::config::Selection::All);
        assert!(!c.has_errors(), "{:?}", c.diagnostics);
    }
}

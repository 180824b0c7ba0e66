//! The VM lab: QEMU VMs booted from the image (TCG; KVM does not work on
//! these machines), their serial consoles captured, their config partitions
//! edited with mtools, stopped through QMP, and always killed when dropped.
//! Used by the image tests and, as they land, the IPVS, VRRP and health
//! check tests that need a kernel the host lacks.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const ROOT: &str = env!("CARGO_MANIFEST_DIR");
pub const BOOT_TIMEOUT: Duration = Duration::from_secs(180);

pub fn out_dir(variant: &str) -> PathBuf {
    let base = Path::new(ROOT).join("image/out");
    let dir = if variant == "debug" {
        base.join("debug")
    } else {
        base
    };
    assert!(
        dir.join("pharos.img").exists(),
        "{} is missing: run `make image{}` (make test does)",
        dir.join("pharos.img").display(),
        if variant == "debug" {
            " VARIANT=debug"
        } else {
            ""
        }
    );
    dir
}

/// Byte offset of the PHAROS-CFG partition, from the build's LAYOUT file.
pub fn config_offset(dir: &Path) -> u64 {
    let layout = std::fs::read_to_string(dir.join("LAYOUT")).unwrap();
    layout.split_whitespace().nth(3).unwrap().parse().unwrap()
}

/// A private copy of an image, so a test can edit its config partition.
pub struct Disk {
    _dir: tempfile::TempDir,
    pub path: PathBuf,
    pub offset: u64,
}

impl Disk {
    pub fn copy(variant: &str) -> Disk {
        let src = out_dir(variant);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pharos.img");
        std::fs::copy(src.join("pharos.img"), &path).unwrap();
        Disk {
            offset: config_offset(&src),
            _dir: dir,
            path,
        }
    }

    pub fn image_arg(&self) -> String {
        format!("{}@@{}", self.path.display(), self.offset)
    }

    /// Copies local files into a directory of the config partition (the
    /// benchmarks bring programs the image lacks, e.g. keepalived).
    pub fn put_files(&self, dir: &str, files: &[std::path::PathBuf]) {
        let img = self.image_arg();
        let _ = Command::new("mmd")
            .env("MTOOLS_SKIP_CHECK", "1")
            .args(["-i", &img, &format!("::{dir}")])
            .status();
        for f in files {
            let name = f.file_name().unwrap().to_string_lossy().to_string();
            let st = Command::new("mcopy")
                .env("MTOOLS_SKIP_CHECK", "1")
                .args(["-o", "-i", &img])
                .arg(f)
                .arg(format!("::{dir}/{name}"))
                .status()
                .unwrap();
            assert!(st.success(), "mcopy {}", f.display());
        }
    }

    /// Writes a file onto the config partition, as an admin would from any computer.
    pub fn put(&self, name: &str, text: &str) {
        let local = self.path.with_file_name(name);
        std::fs::write(&local, text).unwrap();
        let st = Command::new("mcopy")
            .env("MTOOLS_SKIP_CHECK", "1")
            .args(["-o", "-i", &self.image_arg()])
            .arg(&local)
            .arg(format!("::{name}"))
            .status()
            .unwrap();
        assert!(st.success(), "mcopy {name}");
    }

    pub fn get(&self, name: &str) -> Option<String> {
        let out = Command::new("mtype")
            .env("MTOOLS_SKIP_CHECK", "1")
            .args(["-i", &self.image_arg(), &format!("::{name}")])
            .output()
            .unwrap();
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

/// A QEMU VM with its serial console captured; killed when dropped.
pub struct Vm {
    child: Child,
    console: Arc<Mutex<String>>,
    qmp: PathBuf,
    started: Instant,
    _dir: tempfile::TempDir,
}

impl Vm {
    pub fn boot(disk: &Disk, direct: Option<(&str, &str)>) -> Vm {
        Vm::boot_on_lan(disk, direct, None)
    }

    /// Boots with a virtio NIC of this MAC on the emulated LAN numbered
    /// `lan` (a UDP multicast group bound to loopback: VMs on the same
    /// number share one L2 segment, and nothing leaves the machine).
    pub fn boot_on_lan(disk: &Disk, direct: Option<(&str, &str)>, nic: Option<(&str, u16)>) -> Vm {
        let dir = tempfile::tempdir().unwrap();
        let qmp = dir.path().join("qmp.sock");
        let mut cmd = Command::new("qemu-system-x86_64");
        // PHAROS_VM_MEM (MiB) for the benchmarks' big tables.
        let mem = std::env::var("PHAROS_VM_MEM").unwrap_or_else(|_| "512".into());
        cmd.args([
            "-accel",
            "tcg",
            "-m",
            mem.as_str(),
            "-smp",
            "1",
            "-display",
            "none",
            "-serial",
            "stdio",
            "-monitor",
            "none",
        ])
        .arg("-no-reboot")
        .arg("-qmp")
        .arg(format!("unix:{},server=on,wait=off", qmp.display()))
        .arg("-drive")
        .arg(format!("file={},format=raw,if=virtio", disk.path.display()));
        match nic {
            Some((mac, lan)) => {
                cmd.arg("-netdev")
                    .arg(format!(
                        "socket,id=lan,mcast=230.0.0.1:{lan},localaddr=127.0.0.1"
                    ))
                    .arg("-device")
                    .arg(format!("virtio-net-pci,netdev=lan,mac={mac}"));
            }
            None => {
                cmd.args(["-nic", "none"]);
            }
        }
        // Boot the image's kernel directly to pass a test command line.
        if let Some((variant, append)) = direct {
            let o = out_dir(variant);
            cmd.arg("-kernel")
                .arg(o.join("vmlinuz"))
                .arg("-initrd")
                .arg(o.join("initrd.img"));
            cmd.args(["-append", append]);
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let started = Instant::now();
        let mut child = cmd
            .spawn()
            .expect("qemu-system-x86_64 is installed (make test installs it)");
        let console = Arc::new(Mutex::new(String::new()));
        let sink = console.clone();
        let mut out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = out.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]).replace('\r', ""));
            }
        });
        Vm {
            child,
            console,
            qmp,
            started,
            _dir: dir,
        }
    }

    pub fn console(&self) -> String {
        self.console.lock().unwrap().clone()
    }

    /// Waits for `text` on the console; panics with the console if it never comes.
    pub fn wait_for(&self, text: &str, timeout: Duration) -> Duration {
        let deadline = Instant::now() + timeout;
        loop {
            if self.console().contains(text) {
                return self.started.elapsed();
            }
            assert!(
                Instant::now() < deadline,
                "`{text}` never appeared on the console:\n{}",
                self.console()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// ACPI power-down, as a hypervisor's "shut down" does; waits for QEMU to exit.
    pub fn powerdown(&mut self) {
        let mut s = UnixStream::connect(&self.qmp).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut r = BufReader::new(s.try_clone().unwrap());
        let mut line = String::new();
        r.read_line(&mut line).unwrap(); // greeting
        for cmd in ["qmp_capabilities", "system_powerdown"] {
            writeln!(s, "{{\"execute\":\"{cmd}\"}}").unwrap();
            line.clear();
            r.read_line(&mut line).unwrap();
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                assert!(st.success(), "qemu exited with {st}");
                // Let the reader thread drain the last lines.
                std::thread::sleep(Duration::from_millis(200));
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no power-off after system_powerdown:\n{}",
                self.console()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Vm {
    pub fn wait_exit(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.child.try_wait().unwrap().is_none() {
            assert!(
                Instant::now() < deadline,
                "the VM did not stop:\n{}",
                self.console()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

//! The VM lab: QEMU VMs booted from the image (TCG; KVM does not work on
//! these machines), their serial consoles captured, their config partitions
//! edited with mtools, stopped through QMP, and always killed when dropped.
//! Used by the image tests, the IPVS test that needs a kernel the host
//! lacks, and the director pair lab (`pair.rs`). Each console line is kept
//! with the moment it arrived, so a lab can time what a box printed; a debug
//! box's test script can be typed to through its serial console.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::ChildStdin;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The QEMU processes and temporary directories alive now, so a front end
/// that is interrupted (the `make run` lab on Ctrl-C) can end them all
/// without unwinding: see [`kill_all`].
static LIVE_PIDS: Mutex<Vec<u32>> = Mutex::new(Vec::new());
static LIVE_DIRS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn forget<T: PartialEq>(list: &Mutex<Vec<T>>, item: &T) {
    if let Ok(mut l) = list.lock() {
        l.retain(|x| x != item);
    }
}

/// Has [`kill_all`] remove `dir` too.
pub fn remove_on_kill(dir: &Path) {
    LIVE_DIRS.lock().unwrap().push(dir.to_path_buf());
}

/// Kills every VM still running and removes every disk copy: for a signal
/// handler, where destructors will not run.
pub fn kill_all() {
    for pid in LIVE_PIDS.lock().map(|l| l.clone()).unwrap_or_default() {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    for dir in LIVE_DIRS.lock().map(|l| l.clone()).unwrap_or_default() {
        let _ = std::fs::remove_dir_all(dir);
    }
}
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
    partition(dir, "config").0
}

/// Byte offset and size of a partition named in the build's LAYOUT file
/// (`config`, `boot`, `slot A`, `slot B`): its line is `NAME partition:
/// offset N bytes[, size M bytes] ...` (the config line has no size).
pub fn partition(dir: &Path, name: &str) -> (u64, Option<u64>) {
    let layout = std::fs::read_to_string(dir.join("LAYOUT")).unwrap();
    let line = layout
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name} partition: ")))
        .unwrap_or_else(|| panic!("no {name} partition in LAYOUT:\n{layout}"));
    let words: Vec<&str> = line.split([' ', ',']).filter(|w| !w.is_empty()).collect();
    let offset = words[1].parse().unwrap();
    let size = (words.get(3) == Some(&"size")).then(|| words[4].parse().unwrap());
    (offset, size)
}

/// A private copy of an image, so a test can edit its config partition
/// (and its boot loader's environment and slots).
pub struct Disk {
    _dir: tempfile::TempDir,
    pub path: PathBuf,
    /// The config partition's byte offset.
    pub offset: u64,
    /// The image's build output (its LAYOUT, slot.img).
    src: PathBuf,
}

impl Disk {
    pub fn copy(variant: &str) -> Disk {
        let src = out_dir(variant);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pharos.img");
        LIVE_DIRS.lock().unwrap().push(dir.path().to_path_buf());
        std::fs::copy(src.join("pharos.img"), &path).unwrap();
        Disk {
            offset: config_offset(&src),
            _dir: dir,
            path,
            src,
        }
    }

    /// The boot partition (PHAROS-BOOT), as mtools names it.
    fn boot_arg(&self) -> String {
        format!(
            "{}@@{}",
            self.path.display(),
            partition(&self.src, "boot").0
        )
    }

    /// GRUB's environment block (/grub/grubenv on the boot partition) as
    /// `grub-editenv list` prints it: `pharos_slot=A`, one variable a line.
    pub fn boot_env(&self) -> String {
        let local = self.path.with_file_name("grubenv");
        let st = Command::new("mcopy")
            .env("MTOOLS_SKIP_CHECK", "1")
            .args(["-o", "-n", "-i", &self.boot_arg(), "::/grub/grubenv"])
            .arg(&local)
            .status()
            .unwrap();
        assert!(st.success(), "mcopy ::/grub/grubenv");
        let out = Command::new("grub-editenv")
            .arg(&local)
            .arg("list")
            .output()
            .unwrap();
        assert!(out.status.success(), "grub-editenv list");
        String::from_utf8(out.stdout).unwrap()
    }

    /// Sets one variable of GRUB's environment block, as pharos's upgrade
    /// will (`pharos_try=B`): the block stays 1024 bytes.
    pub fn set_boot_env(&self, name: &str, value: &str) {
        self.boot_env();
        let local = self.path.with_file_name("grubenv");
        let st = Command::new("grub-editenv")
            .arg(&local)
            .arg("set")
            .arg(format!("{name}={value}"))
            .status()
            .unwrap();
        assert!(st.success(), "grub-editenv set {name}");
        let st = Command::new("mcopy")
            .env("MTOOLS_SKIP_CHECK", "1")
            .args(["-o", "-i", &self.boot_arg()])
            .arg(&local)
            .arg("::/grub/grubenv")
            .status()
            .unwrap();
        assert!(st.success(), "mcopy grubenv");
    }

    /// Writes the build's slot.img (slot A's file system) into slot `slot`'s
    /// partition, as an upgrade writes a bundle's.
    pub fn write_slot(&self, slot: char) {
        use std::io::{Seek as _, SeekFrom, Write as _};
        let (offset, size) = partition(&self.src, &format!("slot {slot}"));
        let fat = std::fs::read(self.src.join("slot.img")).unwrap();
        assert!(
            fat.len() as u64 <= size.unwrap(),
            "slot.img fits slot {slot}"
        );
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(&self.path)
            .unwrap();
        f.seek(SeekFrom::Start(offset)).unwrap();
        f.write_all(&fat).unwrap();
        f.sync_all().unwrap();
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

impl Drop for Disk {
    fn drop(&mut self) {
        forget(&LIVE_DIRS, &self._dir.path().to_path_buf());
    }
}

/// The firmware a VM boots the disk with, and what a reboot inside it does.
/// The default: BIOS, and a guest's reboot ends QEMU (`-no-reboot`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Machine {
    /// UEFI (OVMF) instead of BIOS (SeaBIOS): the same disk boots by either.
    pub uefi: bool,
    /// A guest's reboot starts it again in the same QEMU (firmware, GRUB,
    /// kernel), as a box does; without it QEMU exits.
    pub reboot: bool,
}

/// OVMF for x86_64, as Debian 12's `ovmf` ships it: the firmware, read
/// only, and the template of its variable store (each VM writes a copy).
const OVMF_CODE: &str = "/usr/share/OVMF/OVMF_CODE_4M.fd";
const OVMF_VARS: &str = "/usr/share/OVMF/OVMF_VARS_4M.fd";

impl Machine {
    /// QEMU's arguments for it; `dir` is the VM's own directory.
    fn args(&self, cmd: &mut Command, dir: &Path) {
        if !self.reboot {
            cmd.arg("-no-reboot");
        }
        if self.uefi {
            let vars = dir.join("OVMF_VARS.fd");
            std::fs::copy(OVMF_VARS, &vars)
                .unwrap_or_else(|e| panic!("{OVMF_VARS}: {e} (make test installs ovmf)"));
            cmd.arg("-drive")
                .arg(format!("if=pflash,format=raw,readonly=on,file={OVMF_CODE}"))
                .arg("-drive")
                .arg(format!("if=pflash,format=raw,file={}", vars.display()));
        }
        // QEMU's watchdog (PCI, Intel 6300ESB): inert until a driver opens it.
        cmd.args(["-device", "i6300esb"]);
    }
}

/// A QEMU VM with its serial console captured; killed when dropped.
pub struct Vm {
    child: Child,
    console: Arc<Mutex<String>>,
    lines: Arc<Mutex<Vec<(Instant, String)>>>,
    tee: Arc<Mutex<Option<std::fs::File>>>,
    stdin: Option<ChildStdin>,
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
        // PHAROS_VM_MEM (MiB) for the benchmarks' big tables.
        let mem = std::env::var("PHAROS_VM_MEM").unwrap_or_else(|_| "512".into());
        Vm::boot_with(disk, direct, nic, &mem)
    }

    /// As [`Vm::boot_on_lan`], with this firmware and reboot behaviour.
    pub fn boot_machine(disk: &Disk, nic: Option<(&str, u16)>, machine: Machine) -> Vm {
        let mem = std::env::var("PHAROS_VM_MEM").unwrap_or_else(|_| "512".into());
        let (cmd, dir) = Vm::command_in(None, disk, None, nic, &mem, machine);
        Vm::start(cmd, dir)
    }

    /// As [`Vm::boot_on_lan`], with `mem` MiB of memory.
    pub fn boot_with(
        disk: &Disk,
        direct: Option<(&str, &str)>,
        nic: Option<(&str, u16)>,
        mem: &str,
    ) -> Vm {
        let (cmd, dir) = Vm::command(disk, direct, nic, mem);
        Vm::start(cmd, dir)
    }

    /// A director of the pair lab: its LAN NIC, plus a management NIC on
    /// QEMU's user network, closed to the outside (`restrict=on`), with
    /// the guest's 10.0.2.15 ports forwarded to 127.0.0.1 here: 9443 (the
    /// management API) to `ports.0`, 9412 (status page, metrics) to `ports.1`.
    /// `direct`: the image's kernel booted directly with this variant and
    /// command line (a debug director with a test hook), as [`Vm::boot`].
    /// `vrrp_link`: a third NIC, eth2, on its own emulated segment (this
    /// multicast port): a link between the directors alone. The NIC is on
    /// an emulated hub whose other port is the wire (QMP id `vrrp-wire`):
    /// `set_link vrrp-wire off` cuts the wire beyond the NIC, so no frame
    /// passes while both ends keep their carrier, as when the switch or
    /// cable between two boxes fails (a NIC's own `set_link` drops the
    /// carrier, and VRRP goes to Fault instead).
    /// A director's reboot (an upgrade's) starts it again in the same QEMU.
    pub fn boot_director(
        disk: &Disk,
        direct: Option<(&str, &str)>,
        mac: &str,
        lan: u16,
        ports: (u16, u16),
        vrrp_link: Option<u16>,
    ) -> Vm {
        let machine = Machine {
            reboot: true,
            ..Machine::default()
        };
        let (mut cmd, dir) = Vm::command_in(None, disk, direct, Some((mac, lan)), "384", machine);
        // 52:54:00:00:00:01 → 52:54:00:f0:00:01: no node of a config matches it.
        let mgmt_mac = format!("52:54:00:f0{}", &mac[11..]);
        // -netdev + -device after the LAN's, so this is eth1 (`-nic` would
        // be made before every -device and take eth0).
        cmd.arg("-netdev").arg(format!(
            "user,id=mgmt,restrict=on,\
             hostfwd=tcp:127.0.0.1:{}-10.0.2.15:9443,hostfwd=tcp:127.0.0.1:{}-10.0.2.15:9412",
            ports.0, ports.1
        ));
        cmd.arg("-device")
            .arg(format!("virtio-net-pci,netdev=mgmt,mac={mgmt_mac}"));
        if let Some(port) = vrrp_link {
            cmd.arg("-netdev")
                .arg(format!(
                    "socket,id=vrrp-wire,mcast=230.0.0.2:{port},localaddr=127.0.0.1"
                ))
                .arg("-netdev")
                .arg("hubport,id=vrrp-hub,hubid=0,netdev=vrrp-wire")
                .arg("-netdev")
                .arg("hubport,id=vrrp,hubid=0")
                .arg("-device")
                .arg(format!(
                    "virtio-net-pci,netdev=vrrp,mac=52:54:00:e0{}",
                    &mac[11..]
                ));
        }
        Vm::start(cmd, dir)
    }

    /// Boots with one virtio NIC of this MAC on the tap device `tap` of the
    /// network namespace `netns` (QEMU runs inside the namespace, so the
    /// VM reaches only what the test put there), and the emulated RTC
    /// starting at `rtc_base` (`2001-01-01T00:00:00`: a box whose clock is
    /// years off at boot), or the host's time when `None`.
    pub fn boot_in_netns(
        disk: &Disk,
        direct: Option<(&str, &str)>,
        netns: &str,
        tap: &str,
        mac: &str,
        rtc_base: Option<&str>,
    ) -> Vm {
        let (mut cmd, dir) =
            Vm::command_in(Some(netns), disk, direct, None, "384", Machine::default());
        cmd.arg("-netdev")
            .arg(format!("tap,id=lan,ifname={tap},script=no,downscript=no"))
            .arg("-device")
            .arg(format!("virtio-net-pci,netdev=lan,mac={mac}"));
        if let Some(base) = rtc_base {
            cmd.arg("-rtc").arg(format!("base={base}"));
        }
        Vm::start(cmd, dir)
    }

    fn command(
        disk: &Disk,
        direct: Option<(&str, &str)>,
        nic: Option<(&str, u16)>,
        mem: &str,
    ) -> (Command, tempfile::TempDir) {
        Vm::command_in(None, disk, direct, nic, mem, Machine::default())
    }

    /// QEMU's command line; inside the network namespace `netns` if given
    /// (`ip netns exec` execs QEMU, so the child's pid is QEMU's).
    fn command_in(
        netns: Option<&str>,
        disk: &Disk,
        direct: Option<(&str, &str)>,
        nic: Option<(&str, u16)>,
        mem: &str,
        machine: Machine,
    ) -> (Command, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let qmp = dir.path().join("qmp.sock");
        let mut cmd = match netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, "qemu-system-x86_64"]);
                c
            }
            None => Command::new("qemu-system-x86_64"),
        };
        cmd.args([
            "-accel", "tcg", "-m", mem, "-smp", "1", "-display", "none", "-serial", "stdio",
            "-monitor", "none",
        ])
        .arg("-qmp")
        .arg(format!("unix:{},server=on,wait=off", qmp.display()))
        .arg("-drive")
        .arg(format!("file={},format=raw,if=virtio", disk.path.display()));
        machine.args(&mut cmd, dir.path());
        match nic {
            Some((mac, lan)) => {
                cmd.arg("-netdev")
                    .arg(format!(
                        "socket,id=lan,mcast=230.0.0.1:{lan},localaddr=127.0.0.1"
                    ))
                    .arg("-device")
                    .arg(format!("virtio-net-pci,netdev=lan,mac={mac}"));
            }
            // In a namespace the caller adds its tap NIC.
            None if netns.is_some() => {}
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
            // As image/grub/boot.cfg boots it: without the kernel's crypto
            // self-tests (0.5-0.7 s of each boot under TCG).
            cmd.arg("-append")
                .arg(format!("{append} cryptomgr.notests"));
        }
        (cmd, dir)
    }

    /// Boots the production disk with one NIC on QEMU's user network,
    /// closed to the outside (`restrict=on`), whose guest address
    /// 10.0.2.15 port 9443 (the management API) is forwarded to
    /// 127.0.0.1:`host_port` on this machine.
    pub fn boot_managed(disk: &Disk, mac: &str, host_port: u16) -> Vm {
        Vm::boot_managed_on(disk, mac, host_port, Machine::default())
    }

    /// [`Vm::boot_managed`] on `machine` (with reboots kept in QEMU, say).
    pub fn boot_managed_on(disk: &Disk, mac: &str, host_port: u16, machine: Machine) -> Vm {
        let dir = tempfile::tempdir().unwrap();
        let qmp = dir.path().join("qmp.sock");
        let mut cmd = Command::new("qemu-system-x86_64");
        cmd.args([
            "-accel", "tcg", "-m", "384", "-smp", "1", "-display", "none", "-serial", "stdio",
            "-monitor", "none",
        ])
        .arg("-qmp")
        .arg(format!("unix:{},server=on,wait=off", qmp.display()))
        .arg("-drive")
        .arg(format!("file={},format=raw,if=virtio", disk.path.display()));
        machine.args(&mut cmd, dir.path());
        cmd.arg("-nic")
        .arg(format!(
            "user,restrict=on,model=virtio-net-pci,mac={mac},hostfwd=tcp:127.0.0.1:{host_port}-10.0.2.15:9443"
        ));
        Vm::start(cmd, dir)
    }

    /// Runs a QEMU command line made elsewhere (the README's, say) with its
    /// serial console on stdio, captured as [`Vm::boot_with`] does; `dir`
    /// lives as long as the VM (its QMP socket, if the command has one).
    pub fn start(mut cmd: Command, dir: tempfile::TempDir) -> Vm {
        let qmp = dir.path().join("qmp.sock");
        // The serial console's input: what `type_line` writes.
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let started = Instant::now();
        let mut child = cmd
            .spawn()
            .expect("qemu-system-x86_64 is installed (make test installs it)");
        LIVE_PIDS.lock().unwrap().push(child.id());
        let console = Arc::new(Mutex::new(String::new()));
        let lines = Arc::new(Mutex::new(Vec::new()));
        let tee: Arc<Mutex<Option<std::fs::File>>> = Arc::new(Mutex::new(None));
        let (sink, line_sink, tee_sink) = (console.clone(), lines.clone(), tee.clone());
        let mut out = child.stdout.take().unwrap();
        let stdin = child.stdin.take();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            // Bytes, not text, until a line is whole: a read may end inside
            // a multi-byte character (`→`).
            let mut partial: Vec<u8> = Vec::new();
            loop {
                let n = match out.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                let at = Instant::now();
                partial.extend_from_slice(&buf[..n]);
                let Some(last) = partial.iter().rposition(|&b| b == b'\n') else {
                    continue;
                };
                let whole: Vec<u8> = partial.drain(..=last).collect();
                let text = String::from_utf8_lossy(&whole).replace('\r', "");
                sink.lock().unwrap().push_str(&text);
                if let Some(f) = tee_sink.lock().unwrap().as_mut() {
                    let _ = f.write_all(text.as_bytes());
                }
                let mut l = line_sink.lock().unwrap();
                for line in text.lines() {
                    l.push((at, line.to_string()));
                }
            }
            if !partial.is_empty() {
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&partial).replace('\r', ""));
            }
        });
        Vm {
            child,
            console,
            lines,
            tee,
            stdin,
            qmp,
            started,
            _dir: dir,
        }
    }

    pub fn console(&self) -> String {
        self.console.lock().unwrap().clone()
    }

    /// Copies the console into `path`, what it printed so far and then as
    /// it comes, for someone to `tail -f`.
    pub fn log_to(&self, path: &Path) {
        let mut t = self.tee.lock().unwrap();
        let mut f = std::fs::File::create(path).unwrap();
        let _ = f.write_all(self.console().as_bytes());
        *t = Some(f);
    }

    /// The console's whole lines so far, each with the moment it arrived.
    pub fn lines(&self) -> Vec<(Instant, String)> {
        self.lines.lock().unwrap().clone()
    }

    /// How many whole lines the console has printed so far.
    pub fn line_count(&self) -> usize {
        self.lines.lock().unwrap().len()
    }

    /// The first line from number `from` on that `f` picks, waiting up to
    /// `timeout` for it; `None` if it never came.
    pub fn find_line<T>(
        &self,
        from: usize,
        timeout: Duration,
        mut f: impl FnMut(&str) -> Option<T>,
    ) -> Option<(Instant, T)> {
        let deadline = Instant::now() + timeout;
        let mut seen = from;
        loop {
            {
                let l = self.lines.lock().unwrap();
                for (at, line) in l.iter().skip(seen) {
                    if let Some(v) = f(line) {
                        return Some((*at, v));
                    }
                }
                seen = seen.max(l.len());
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Types a line into the serial console, as someone at its keyboard
    /// would (a debug box's test script reads it).
    pub fn type_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("the console's input is open");
        stdin
            .write_all(format!("{line}\n").as_bytes())
            .and_then(|()| stdin.flush())
            .expect("QEMU takes console input");
    }

    /// Sends one QMP command and returns its answer (events before it are
    /// skipped).
    pub fn qmp(&self, command: &str) -> String {
        self.qmp_with(command, "{}")
    }

    /// A NIC's link up or down, as a pulled cable (QMP `set_link` on the
    /// netdev `id`: `lan` for the lab's LAN).
    pub fn set_link(&self, id: &str, up: bool) -> String {
        self.qmp_with("set_link", &format!("{{\"name\":\"{id}\",\"up\":{up}}}"))
    }

    /// Sends one QMP command with its arguments (a JSON object).
    pub fn qmp_with(&self, command: &str, arguments: &str) -> String {
        let mut s = UnixStream::connect(&self.qmp).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut r = BufReader::new(s.try_clone().unwrap());
        let mut line = String::new();
        r.read_line(&mut line).unwrap(); // greeting
        for (cmd, args) in [("qmp_capabilities", "{}"), (command, arguments)] {
            writeln!(s, "{{\"execute\":\"{cmd}\",\"arguments\":{args}}}").unwrap();
            loop {
                line.clear();
                if r.read_line(&mut line).unwrap_or(0) == 0 || !line.contains("\"event\"") {
                    break;
                }
            }
        }
        line
    }

    /// Pulls the plug: QMP `quit` ends QEMU at once, with no shutdown inside
    /// the guest (a power cut, not a power-off).
    pub fn power_cut(&mut self) -> Instant {
        let _ = self.qmp("quit");
        let at = Instant::now();
        self.wait_exit();
        at
    }

    /// Whether QEMU is still running.
    pub fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Waits for `text` on the console; panics with the console if it never
    /// comes. Returns when it came after QEMU started: the arrival of its
    /// line (not this poll's, up to 0.1 s later), or now for text not
    /// within one whole line.
    pub fn wait_for(&self, text: &str, timeout: Duration) -> Duration {
        let deadline = Instant::now() + timeout;
        loop {
            if self.console().contains(text) {
                let lines = self.lines.lock().unwrap();
                return match lines.iter().find(|(_, l)| l.contains(text)) {
                    Some((at, _)) => at.saturating_duration_since(self.started),
                    None => self.started.elapsed(),
                };
            }
            assert!(
                Instant::now() < deadline,
                "`{text}` never appeared on the console:\n{}",
                self.console()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits for a console line containing `text`, from line number `from`
    /// on, and returns its number (for the next wait's `from`: a box that
    /// reboots prints the same lines again); panics with the console if it
    /// never comes.
    pub fn wait_line(&self, from: usize, text: &str) -> usize {
        let deadline = Instant::now() + BOOT_TIMEOUT;
        loop {
            let lines = self.lines.lock().unwrap();
            if let Some(i) = lines.iter().skip(from).position(|(_, l)| l.contains(text)) {
                return from + i;
            }
            drop(lines);
            assert!(
                Instant::now() < deadline,
                "`{text}` never appeared on the console after line {from}:\n{}",
                self.console()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// ACPI power-down, as a hypervisor's "shut down" does; waits for QEMU to exit.
    pub fn powerdown(&mut self) {
        self.qmp("system_powerdown");
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
        forget(&LIVE_PIDS, &self.child.id());
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

/// The rest of the console line that starts with `key` (a test script's
/// `KEY: value` line), trimmed; panics with the console when there is none.
pub fn value<'a>(console: &'a str, key: &str) -> &'a str {
    console
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .unwrap_or_else(|| panic!("no `{key}` line in\n{console}"))
        .trim()
}

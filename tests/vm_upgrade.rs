//! Upgrading a headless box over its management API (issue 21), on the
//! production image in QEMU (TCG), booted from its disk by GRUB with
//! reboots allowed, so one QEMU runs the box through every upgrade's
//! reboots. `pharos remote HOST upgrade` as an operator would, in a row:
//!
//! 1. bundles that are unsigned, signed by another key, altered, truncated
//!    or for another architecture are refused before anything is written;
//! 2. a good bundle: slot B written, booted once, the health gate passes,
//!    committed; status names the new version and slot; a reboot stays on B;
//! 3. a bundle whose pharos fails the health gate (its boot parameters name
//!    a node the config does not have, so it rejects the config): the box
//!    reboots by itself into B, and status says why;
//! 4. a bundle whose kernel panics (no init): the watchdog-free path, the
//!    kernel's `panic=` reboot, GRUB's boot-once: back on B, "never
//!    reported";
//! 5. a power cut while the slot is written: the box boots B, the slot is
//!    marked incomplete.
//!
//! Needs `make image` (`make test` does it), which signs with the key pair
//! in `$PHAROS_KEY_DIR` (default ~/.config/pharos/keys, made by `make keys`).

mod common;

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::free_port;
use common::vm::{BOOT_TIMEOUT, Disk, Machine, Vm, out_dir};

const BIN: &str = env!("CARGO_BIN_EXE_pharos");
const MAC: &str = "52:54:00:00:0b:01";

const CONFIG: &str = r#"
[system]
ip_forward = true

[interfaces.eth0]
addresses = ["10.0.2.15/24"]

[metrics]
listen = "127.0.0.1:9412"

[checks.metrics]
type = "tcp"
address = "127.0.0.1"
port = 9412
interval = "1s"

[vrrp.VI_1]
interface = "eth0"
vrid = 62
version = 3
advert_interval = "1s"
virtual_addresses = ["10.0.2.100/24"]

[services.web]
address = "10.0.2.100:80"
forwarding = "dr"

[services.web.real_servers]
"10.0.2.11:80" = {}
"#;

fn show(o: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn key_dir() -> PathBuf {
    std::env::var_os("PHAROS_KEY_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var("HOME").unwrap()).join(".config/pharos/keys")
        })
}

fn mtools(args: &[&str]) -> Output {
    Command::new(args[0])
        .env("MTOOLS_SKIP_CHECK", "1")
        .args(&args[1..])
        .output()
        .unwrap()
}

/// A copy of the image's slot with its boot.cfg's `linux` line extended by
/// `append`.
fn slot_with(dir: &Path, name: &str, append: &str) -> PathBuf {
    let slot = dir.join(name);
    std::fs::copy(out_dir("prod").join("slot.img"), &slot).unwrap();
    let s = slot.display().to_string();
    let o = mtools(&["mtype", "-i", &s, "::boot.cfg"]);
    assert!(o.status.success(), "{}", show(&o));
    let cfg = String::from_utf8(o.stdout).unwrap();
    let mut changed = false;
    let cfg: String = cfg
        .lines()
        .map(|l| {
            if l.trim_start().starts_with("linux") {
                changed = true;
                format!("{l} {append}\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    assert!(changed, "boot.cfg has no linux line:\n{cfg}");
    let local = dir.join(format!("{name}.cfg"));
    std::fs::write(&local, cfg).unwrap();
    let o = mtools(&[
        "mcopy",
        "-o",
        "-i",
        &s,
        &local.display().to_string(),
        "::boot.cfg",
    ]);
    assert!(o.status.success(), "{}", show(&o));
    slot
}

fn make_bundle(slot: &Path, version: &str, key: &Path, out: &Path) {
    let o = Command::new(BIN)
        .args(["bundle", "make", "--image"])
        .arg(slot)
        .args([
            "--version",
            version,
            "--kernel",
            "test",
            "--variant",
            "prod",
            "--built",
            "0",
        ])
        .arg("--key")
        .arg(key)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", show(&o));
}

struct Box_ {
    disk: Disk,
    vm: Option<Vm>,
    port: u16,
    identity: PathBuf,
}

impl Box_ {
    /// As `Vm::boot_managed`, but a reboot stays in the same QEMU: GRUB,
    /// the slots and the reboots are what is tested.
    fn boot(&mut self) {
        self.vm = None;
        let reboots = Machine {
            reboot: true,
            ..Machine::default()
        };
        let vm = Vm::boot_managed_on(&self.disk, MAC, self.port, reboots);
        vm.wait_for("management API on 0.0.0.0:9443", BOOT_TIMEOUT);
        self.vm = Some(vm);
    }

    fn remote(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .args(["remote", &format!("127.0.0.1:{}", self.port), "--identity"])
            .arg(&self.identity)
            .args(args)
            .output()
            .unwrap()
    }

    fn status(&self) -> serde_json::Value {
        let o = self.remote(&["status", "--json"]);
        serde_json::from_slice(&o.stdout).unwrap_or(serde_json::Value::Null)
    }

    /// The status's upgrade section, once the box answers.
    fn upgrade_section(&self) -> serde_json::Value {
        let deadline = Instant::now() + BOOT_TIMEOUT;
        loop {
            let s = self.status();
            if !s["subsystems"]["upgrade"].is_null() {
                return s["subsystems"]["upgrade"].clone();
            }
            assert!(Instant::now() < deadline, "no upgrade section: {s}");
            std::thread::sleep(Duration::from_secs(1));
        }
    }

    fn console(&self) -> String {
        self.vm.as_ref().map(Vm::console).unwrap_or_default()
    }
}

#[test]
fn a_box_is_upgraded_rolled_back_by_its_gate_and_by_a_panic_and_survives_a_power_cut() {
    let keys = key_dir();
    let key = keys.join("bundle-signing.key");
    assert!(
        key.exists(),
        "no bundle-signing key at {}: `make keys` (make image does it)",
        key.display()
    );
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();

    // The management identity, as vm_manage makes it.
    let ids = t.join("ids");
    let o = Command::new(BIN)
        .args(["identity", "init", "--dir"])
        .arg(&ids)
        .args([
            "--box",
            "vm",
            "--address",
            "127.0.0.1",
            "--address",
            "10.0.2.15",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", show(&o));
    let mgmt = ids.join("management.toml");
    std::fs::write(
        &mgmt,
        "listen = \"0.0.0.0:9443\"\ninterface = { name = \"eth0\", address = \"10.0.2.15/24\" }\n",
    )
    .unwrap();
    let disk = Disk::copy("prod");
    let boxed = ids.join("boxes/vm");
    disk.put_files(
        "identity",
        &[
            boxed.join("ca.pem"),
            boxed.join("box.pem"),
            boxed.join("box.key"),
            mgmt,
        ],
    );
    disk.put("pharos.toml", CONFIG);
    let mut b = Box_ {
        disk,
        vm: None,
        port: free_port(),
        identity: ids.clone(),
    };

    // The bundles.
    let good = t.join("good.bundle");
    make_bundle(
        &out_dir("prod").join("slot.img"),
        "0.1.0+upgraded",
        &key,
        &good,
    );
    let gate_fails = t.join("gate.bundle");
    let s = slot_with(t, "gate.img", "pharos.node=ghost");
    make_bundle(&s, "0.1.0+no-node", &key, &gate_fails);
    let panics = t.join("panic.bundle");
    let s = slot_with(t, "panic.img", "rdinit=/nonexistent");
    make_bundle(&s, "0.1.0+panics", &key, &panics);
    let other_keys = t.join("other-keys");
    let o = Command::new(BIN)
        .args(["bundle", "keygen", "--dir"])
        .arg(&other_keys)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", show(&o));
    let foreign = t.join("foreign.bundle");
    make_bundle(
        &out_dir("prod").join("slot.img"),
        "0.1.0+foreign",
        &other_keys.join("bundle-signing.key"),
        &foreign,
    );
    let bytes = std::fs::read(&good).unwrap();
    let truncated = t.join("truncated.bundle");
    std::fs::write(&truncated, &bytes[..bytes.len() - 4096]).unwrap();
    let altered = t.join("altered.bundle");
    let mut a = bytes.clone();
    let at = a.len() - 100_000;
    a[at] ^= 1;
    std::fs::write(&altered, &a).unwrap();
    let unsigned = t.join("unsigned.bundle");
    let mut u = bytes.clone();
    let len = u32::from_be_bytes(u[16..20].try_into().unwrap()) as usize;
    u[20 + len..20 + len + 64].fill(0);
    std::fs::write(&unsigned, &u).unwrap();
    let arm = t.join("arm.bundle");
    {
        let image = std::fs::read(out_dir("prod").join("slot.img")).unwrap();
        let m = pharos::upgrade::bundle::manifest_for(
            &image,
            "0.1.0+arm",
            "aarch64",
            "prod",
            "test",
            0,
        );
        let k = pharos::upgrade::keys::load_signing(&key).unwrap();
        let mut f = std::fs::File::create(&arm).unwrap();
        pharos::upgrade::bundle::write_bundle(&mut f, &m, &image, &k).unwrap();
    }

    b.boot();
    let up = b.upgrade_section();
    assert_eq!(up["slot"], "A", "{up}");
    assert_eq!(up["slots"]["B"], "empty", "{up}");

    // 1. Refused before any write.
    for (bundle, says) in [
        (&foreign, "not signed by this box's key"),
        (&unsigned, "not signed by this box's key"),
        (&altered, "SHA-256"),
        (&truncated, "cut short"),
        (&arm, "aarch64"),
    ] {
        let o = b.remote(&["upgrade", &bundle.display().to_string()]);
        assert_eq!(o.status.code(), Some(1), "{}", show(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(says), "{}: {}", bundle.display(), show(&o));
        assert!(err.contains("nothing written"), "{}", show(&o));
    }
    let up = b.upgrade_section();
    assert_eq!(up["slots"]["B"], "empty", "nothing was written: {up}");
    assert!(up["last"].is_null(), "{up}");

    // 2. A good bundle commits; a reboot stays on it.
    let t0 = Instant::now();
    let o = b.remote(&["upgrade", &good.display().to_string(), "--deadline", "3m"]);
    assert!(o.status.success(), "{}\n{}", show(&o), b.console());
    let took = t0.elapsed();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("signature verified: pharos 0.1.0+upgraded"),
        "{out}"
    );
    assert!(out.contains(": committed"), "{out}");
    let up = b.upgrade_section();
    assert_eq!(up["slot"], "B", "{up}");
    assert_eq!(up["committed"], "B", "{up}");
    assert_eq!(up["slots"]["B"], "0.1.0+upgraded", "{up}");
    assert_eq!(up["last"]["phase"], "committed", "{up}");
    eprintln!(
        "good upgrade: {} s from upload to committed",
        took.as_secs()
    );
    let o = b.remote(&["status"]);
    let human = String::from_utf8_lossy(&o.stdout);
    assert!(human.contains("committed (GRUB boots it)"), "{human}");
    let started = b.status()["started_at"].clone();
    let o = b.remote(&["reboot"]);
    assert!(o.status.success(), "{}", show(&o));
    let deadline = Instant::now() + BOOT_TIMEOUT;
    while b.status()["started_at"] == started || b.status().is_null() {
        assert!(Instant::now() < deadline, "no reboot:\n{}", b.console());
        std::thread::sleep(Duration::from_secs(1));
    }
    let up = b.upgrade_section();
    assert_eq!(
        (up["slot"].clone(), up["trial"].clone()),
        ("B".into(), false.into()),
        "{up}"
    );

    // 3. A pharos that fails the gate: back on B by itself, saying why.
    let o = b.remote(&[
        "upgrade",
        &gate_fails.display().to_string(),
        "--deadline",
        "1m",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}\n{}", show(&o), b.console());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("FAILED") && err.contains("health gate failed on slot A"),
        "{}",
        show(&o)
    );
    // The config names no node `ghost`: the new slot's pharos refuses it.
    assert!(err.contains("ghost"), "{}", show(&o));
    let up = b.upgrade_section();
    assert_eq!(up["slot"], "B", "{up}");
    assert_eq!(up["committed"], "B", "{up}");
    assert_eq!(up["last"]["phase"], "rolled-back", "{up}");

    // 4. A kernel that panics: GRUB's boot-once brings B back.
    let o = b.remote(&["upgrade", &panics.display().to_string(), "--deadline", "1m"]);
    assert_eq!(o.status.code(), Some(1), "{}\n{}", show(&o), b.console());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("never reported"), "{}", show(&o));
    assert!(b.console().contains("Kernel panic"), "{}", b.console());
    let up = b.upgrade_section();
    assert_eq!(up["slot"], "B", "{up}");

    // 5. A power cut while the slot is written: B boots, A is incomplete.
    let mut child = Command::new(BIN)
        .args(["remote", &format!("127.0.0.1:{}", b.port), "--identity"])
        .arg(&b.identity)
        .args(["upgrade", &good.display().to_string(), "--no-wait"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut seen = Vec::new();
    for line in stdout.lines() {
        let line = line.unwrap();
        seen.push(line.clone());
        if line.contains("writing slot A") {
            b.vm.as_mut().unwrap().power_cut();
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        seen.iter().any(|l| l.contains("writing slot A")),
        "never reached the write: {seen:?}"
    );
    b.boot();
    let up = b.upgrade_section();
    assert_eq!(up["slot"], "B", "{up}");
    assert_eq!(up["slots"]["A"], "incomplete", "{up}");
    assert_eq!(up["last"]["phase"], "rolled-back", "{up}");
    assert!(
        up["last"]["why"]
            .as_str()
            .unwrap_or("")
            .contains("interrupted"),
        "{up}"
    );
}

//! Operating a headless box over its management API, on the production
//! image in QEMU (TCG): the API on a NIC of QEMU's user network (closed to
//! the outside), forwarded to 127.0.0.1 here, and `pharos remote` with an
//! identity from `pharos identity init`, as an operator would. One box,
//! booted several times from the same disk:
//!
//! 1. an invalid config is refused with its diagnostics and changes nothing
//!    in the kernel;
//! 2. a trial that is not confirmed: its services and VIPs are in the
//!    kernel, then at the deadline the previous ones are back;
//! 3. a confirmed trial stays;
//! 4. a power cut during a trial: the box boots the revision before it;
//! 5. power cuts while a big config is being written: the box boots a whole
//!    config, the old one or the new, and its history lists only whole
//!    revisions;
//! 6. a box with a broken config and no last good one (maintenance mode) is
//!    given a config through the API and comes up with it;
//! 7. `reboot` goes through an ordered shutdown.
//!
//! Needs `make image` (`make test` does it).

mod common;

use common::free_port;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::vm::{BOOT_TIMEOUT, Disk, Vm};

const BIN: &str = env!("CARGO_BIN_EXE_pharos");
const MAC: &str = "52:54:00:00:0a:01";

const BASE: &str = r#"
[system]
ip_forward = true

[interfaces.eth0]
addresses = ["10.0.2.15/24"]

[vrrp.VI_1]
interface = "eth0"
vrid = 61
version = 3
advert_interval = "1s"
virtual_addresses = ["10.0.2.100/24"]

[services.web]
address = "10.0.2.100:80"
forwarding = "dr"

[services.web.real_servers]
"10.0.2.11:80" = {}
"#;

/// BASE with a second service and a second VIP.
fn more() -> String {
    BASE.replace(
        r#"virtual_addresses = ["10.0.2.100/24"]"#,
        r#"virtual_addresses = ["10.0.2.100/24", "10.0.2.101/24"]"#,
    ) + "\n[services.api]\naddress = \"10.0.2.101:8080\"\nforwarding = \"dr\"\n\n[services.api.real_servers]\n\"10.0.2.12:8080\" = {}\n"
}

struct Director {
    disk: Disk,
    vm: Option<Vm>,
    port: u16,
    identity: PathBuf,
    files: tempfile::TempDir,
}

fn show(o: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

impl Director {
    /// A production disk with the management identity on its config
    /// partition and `config` as its pharos.toml.
    fn new(keys: &Path, config: &str) -> Director {
        let disk = Disk::copy("prod");
        let boxed = keys.join("boxes/vm");
        let files: Vec<PathBuf> = ["ca.pem", "box.pem", "box.key", "management.toml"]
            .iter()
            .map(|f| boxed.join(f))
            .collect();
        // The API's own NIC, set up by pharos even when pharos.toml is
        // broken: QEMU's user network forwards to 10.0.2.15.
        std::fs::write(
            keys.join("management.toml"),
            "listen = \"0.0.0.0:9443\"\ninterface = { name = \"eth0\", address = \"10.0.2.15/24\" }\n",
        )
        .unwrap();
        let mut files = files;
        files[3] = keys.join("management.toml");
        disk.put_files("identity", &files);
        disk.put("pharos.toml", config);
        Director {
            disk,
            vm: None,
            port: free_port(),
            identity: keys.to_path_buf(),
            files: tempfile::tempdir().unwrap(),
        }
    }

    fn boot(&mut self) {
        self.vm = None;
        let vm = Vm::boot_managed(&self.disk, MAC, self.port);
        vm.wait_for("pharos: ready in", BOOT_TIMEOUT);
        vm.wait_for("management API on 0.0.0.0:9443", BOOT_TIMEOUT);
        self.vm = Some(vm);
    }

    fn vm(&mut self) -> &mut Vm {
        self.vm.as_mut().expect("booted")
    }

    fn remote(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .args(["remote", &format!("127.0.0.1:{}", self.port), "--identity"])
            .arg(&self.identity)
            .args(args)
            .output()
            .unwrap()
    }

    fn file(&self, name: &str, text: &str) -> String {
        let p = self.files.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    }

    fn status(&self) -> serde_json::Value {
        let o = self.remote(&["status", "--json"]);
        serde_json::from_slice(&o.stdout).unwrap_or(serde_json::Value::Null)
    }

    /// The IPVS services the kernel has, by name, and VI_1's VIPs.
    fn kernel(&self) -> (Vec<String>, Vec<String>) {
        let s = self.status();
        let mut services: Vec<String> = s["subsystems"]["ipvs"]["services"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|v| v["state"] == "ok")
            .filter_map(|v| v["name"].as_str().map(str::to_string))
            .collect();
        services.sort();
        let vips = s["subsystems"]["vrrp"]["instances"]["VI_1"]["virtual_addresses"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect();
        (services, vips)
    }

    fn wait_kernel(&self, what: &str, services: &[&str], vips: &[&str], within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let (s, v) = self.kernel();
            if s == services && v == vips {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: the kernel has services {s:?} and VIPs {v:?}, not {services:?} and {vips:?}"
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }
}

#[test]
fn a_headless_box_is_configured_tried_rolled_back_and_survives_power_cuts() {
    let keys = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["identity", "init", "--dir"])
        .arg(keys.path())
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
    assert!(out.status.success(), "{}", show(&out));

    let mut b = Director::new(keys.path(), BASE);
    b.boot();
    b.wait_kernel(
        "first boot",
        &["web"],
        &["10.0.2.100/24"],
        Duration::from_secs(30),
    );
    let more = more();
    let more_file = b.file("more.toml", &more);

    // 1. Invalid: every diagnostic, nothing changed.
    let bad = b.file("bad.toml", &BASE.replace("vrid = 61", "vrid = 300"));
    let out = b.remote(&["apply", &bad]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("VRID 300"),
        "{}",
        show(&out)
    );
    assert_eq!(
        b.kernel(),
        (vec!["web".to_string()], vec!["10.0.2.100/24".to_string()])
    );

    // 2. A trial not confirmed: in the kernel, then the previous config back.
    let out = b.remote(&["apply", &more_file, "--confirm-within", "10s", "-m", "api"]);
    assert!(out.status.success(), "{}", show(&out));
    b.wait_kernel(
        "the trial applied",
        &["api", "web"],
        &["10.0.2.100/24", "10.0.2.101/24"],
        Duration::from_secs(20),
    );
    b.wait_kernel(
        "the trial rolled back at its deadline",
        &["web"],
        &["10.0.2.100/24"],
        Duration::from_secs(40),
    );
    let out = b.remote(&["config"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), BASE, "the file too");

    // 3. A confirmed trial stays.
    let out = b.remote(&["apply", &more_file, "--confirm-within", "10s"]);
    assert!(out.status.success(), "{}", show(&out));
    let out = b.remote(&["confirm"]);
    assert!(out.status.success(), "{}", show(&out));
    std::thread::sleep(Duration::from_secs(12));
    b.wait_kernel(
        "confirmed, past its deadline",
        &["api", "web"],
        &["10.0.2.100/24", "10.0.2.101/24"],
        Duration::from_secs(5),
    );

    // 4. A power cut during a trial: the box boots the revision before it.
    let extra = more.clone()
        + "\n[services.extra]\naddress = \"10.0.2.100:81\"\nforwarding = \"dr\"\n\n[services.extra.real_servers]\n\"10.0.2.11:81\" = {}\n";
    let extra_file = b.file("extra.toml", &extra);
    let out = b.remote(&["apply", &extra_file, "--confirm-within", "5m"]);
    assert!(out.status.success(), "{}", show(&out));
    b.wait_kernel(
        "the second trial applied",
        &["api", "extra", "web"],
        &["10.0.2.100/24", "10.0.2.101/24"],
        Duration::from_secs(20),
    );
    b.vm().power_cut();
    b.boot();
    b.wait_kernel(
        "booted after a power cut during the trial",
        &["api", "web"],
        &["10.0.2.100/24", "10.0.2.101/24"],
        Duration::from_secs(30),
    );
    let listed = String::from_utf8_lossy(&b.remote(&["revisions"]).stdout).into_owned();
    assert!(listed.contains("restarted during the trial"), "{listed}");

    // 5. Power cuts in the middle of writing a big config: a whole file
    // boots, the old or the new, and only whole revisions are listed.
    let big = more.clone() + &"# padding to make the write take a while\n".repeat(15_000);
    let big_file = b.file("big.toml", &big);
    for delay_ms in [20, 150, 600] {
        let mut apply = Command::new(BIN)
            .args(["remote", &format!("127.0.0.1:{}", b.port), "--identity"])
            .arg(&b.identity)
            .args(["apply", &big_file, "-m", "big"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        b.vm().power_cut();
        let _ = apply.kill();
        let _ = apply.wait();
        let on_disk = b.disk.get("pharos.toml").unwrap_or_default();
        assert!(
            on_disk == more || on_disk == big,
            "cut {delay_ms} ms into the apply: pharos.toml is neither whole config ({} bytes)",
            on_disk.len()
        );
        b.boot();
        let s = b.status();
        assert_eq!(s["config"]["source"], "file", "cut {delay_ms} ms in: {s}");
        let out = b.remote(&["revisions"]);
        assert!(out.status.success(), "{}", show(&out));
        let revs: Vec<u64> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .skip(1)
            .filter_map(|l| l.split_whitespace().next()?.parse().ok())
            .collect();
        assert!(!revs.is_empty());
        for r in revs {
            let out = b.remote(&["config", &r.to_string()]);
            assert!(
                out.status.success(),
                "revision {r} is listed but not whole: {}",
                show(&out)
            );
        }
    }

    // 7. reboot: an ordered shutdown first (QEMU runs with -no-reboot, so it exits).
    let out = b.remote(&["reboot"]);
    assert!(out.status.success(), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("rebooting"),
        "{}",
        show(&out)
    );
    b.vm().wait_exit();
    let c = b.vm().console();
    for want in [
        "rebooting, as ",
        "shutting down (bound",
        "stopped vrrp",
        "shutdown complete; rebooting",
    ] {
        assert!(c.contains(want), "`{want}` not on the console:\n{c}");
    }

    // 6. Maintenance mode: a broken config and nothing good to fall back
    // on; the API still serves, and a config given through it runs.
    let mut m = Director::new(keys.path(), "this is not TOML\n");
    m.boot();
    assert_eq!(m.status()["config"]["source"], "maintenance");
    let base_file = m.file("base.toml", BASE);
    let out = m.remote(&["apply", &base_file, "-m", "first config"]);
    assert!(out.status.success(), "{}", show(&out));
    m.wait_kernel(
        "configured from maintenance",
        &["web"],
        &["10.0.2.100/24"],
        Duration::from_secs(30),
    );
    assert_eq!(m.status()["config"]["source"], "file");
    m.vm().powerdown();
}

//! The appliance image in QEMU (TCG; KVM does not work on these machines):
//! it boots to `pharos: ready` by BIOS and by UEFI, boots a trial slot once
//! and then its committed slot again, survives a broken config on the last known
//! good one (or in maintenance mode), reaps orphans as PID 1, powers off
//! cleanly on ACPI power-down, carries no shell in production, and builds
//! reproducibly. Needs `make image` and `make image VARIANT=debug` first
//! (`make test` does both).

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use common::vm::{BOOT_TIMEOUT, Disk, Machine, ROOT, Vm, out_dir};

/// Boots the production disk as lvs1 of the default config: a NIC with
/// lvs1's MAC, alone on its own emulated LAN (`lan` apart per test).
fn boot_as_lvs1(disk: &Disk, lan: u16) -> Vm {
    Vm::boot_on_lan(disk, None, Some(("52:54:00:00:00:01", lan)))
}

#[test]
fn the_image_boots_to_ready_and_powers_off_cleanly_on_acpi_shutdown() {
    let disk = Disk::copy("prod");
    let mut vm = boot_as_lvs1(&disk, 41_401);
    let took = vm.wait_for("pharos: ready in", BOOT_TIMEOUT);
    eprintln!(
        "QEMU start to `pharos: ready`: {} ms (TCG)",
        took.as_millis()
    );
    // Each event once, plain text, and one `ready` line naming the node.
    vm.wait_for("added 192.168.199.2/24 to eth0", BOOT_TIMEOUT);
    let c = vm.console();
    assert!(
        c.contains("pharos-boot: slot A (hd0,msdos2), trial 0"),
        "GRUB booted the committed slot: {c}"
    );
    assert!(
        c.contains("config partition /dev/vda4 mounted on /config"),
        "{c}"
    );
    assert!(
        !c.contains('\u{1b}'),
        "no ANSI escapes on the serial console:\n{c}"
    );
    assert_eq!(
        c.matches("added 192.168.199.2/24 to eth0").count(),
        1,
        "{c}"
    );
    assert_eq!(c.matches("ready in").count(), 1, "{c}");
    assert!(
        c.contains(
            "since PID 1 started: node lvs1 (this box has MAC address 52:54:00:00:00:01); \
             config r1: 1 vrrp instance, 1 service, 2 checks"
        ),
        "{c}"
    );
    vm.powerdown();
    let c = vm.console();
    let order = [
        "power button pressed",
        "shutting down (bound",
        "stopped metrics",
        "stopped control",
        "shutdown complete; powering off",
        "reboot: Power down",
    ];
    let mut at = 0;
    for step in order {
        let i = c[at..]
            .find(step)
            .unwrap_or_else(|| panic!("`{step}` missing or out of order:\n{c}"));
        at += i;
    }
    // The config partition was used as state: the last good copy is there.
    assert_eq!(
        disk.get("last-good.toml").as_deref(),
        Some(
            std::fs::read_to_string(Path::new(ROOT).join("configs/default.toml"))
                .unwrap()
                .as_str()
        )
    );
}

#[test]
fn the_same_image_boots_by_uefi() {
    let disk = Disk::copy("prod");
    let uefi = Machine {
        uefi: true,
        ..Machine::default()
    };
    let mut vm = Vm::boot_machine(&disk, Some(("52:54:00:00:00:01", 41_406)), uefi);
    let took = vm.wait_for("pharos: ready in", BOOT_TIMEOUT);
    eprintln!(
        "UEFI: QEMU start to `pharos: ready`: {} ms (TCG)",
        took.as_millis()
    );
    let c = vm.console();
    // OVMF's own console is on the serial line too: GRUB's lines come twice.
    assert!(
        c.contains("pharos-boot: slot A (hd0,msdos2), trial 0"),
        "{c}"
    );
    assert!(!c.contains("error:"), "GRUB had no complaint: {c}");
    assert!(c.contains("since PID 1 started: node lvs1"), "{c}");
    vm.powerdown();
}

#[test]
fn a_trial_slot_boots_once_then_the_committed_slot_again() {
    // What an upgrade leaves: slot B written, GRUB told to try it once.
    // Under UEFI, so GRUB's save_env is held to the EFI disk driver too
    // (tests/vm_upgrade.rs does real upgrades by BIOS).
    let disk = Disk::copy("prod");
    disk.write_slot('B');
    disk.set_boot_env("pharos_try", "B");
    let reboots = Machine {
        reboot: true,
        uefi: true,
    };
    let mut vm = Vm::boot_machine(&disk, Some(("52:54:00:00:00:01", 41_407)), reboots);
    let trial = vm.wait_line(0, "pharos-boot: slot B (hd0,msdos3), trial 1");
    let ready = vm.wait_line(trial, "pharos: ready in");
    // Cleared before the trial booted: a reset now boots slot A.
    let env = disk.boot_env();
    assert!(
        env.lines().any(|l| l == "pharos_try=") && env.lines().any(|l| l == "pharos_slot=A"),
        "{env}"
    );
    // ctrl-alt-del: the kernel hands it to PID 1, which reboots cleanly.
    vm.qmp_with(
        "send-key",
        r#"{"keys":[{"type":"qcode","data":"ctrl"},{"type":"qcode","data":"alt"},{"type":"qcode","data":"delete"}]}"#,
    );
    let again = vm.wait_line(ready, "pharos-boot: slot A (hd0,msdos2), trial 0");
    vm.wait_line(again, "pharos: ready in");
    let c = vm.console();
    assert!(c.contains("shutdown complete; rebooting"), "{c}");
    // Slot B once: never again after the reboot (OVMF copies its console
    // to the serial line, so each GRUB line may show twice).
    let after: Vec<String> = vm.lines().into_iter().skip(ready).map(|(_, l)| l).collect();
    assert!(
        !after.iter().any(|l| l.contains("pharos-boot: slot B")),
        "{c}"
    );
    vm.powerdown();
    let env = disk.boot_env();
    assert_eq!(env, "pharos_slot=A\npharos_try=\n");
}

#[test]
fn a_slot_without_a_boot_cfg_boots_the_other() {
    // Slot B empty, as the factory image has it, and named to try: GRUB
    // still clears the try, says so, and boots A as committed (trial 0).
    let disk = Disk::copy("prod");
    disk.set_boot_env("pharos_try", "B");
    let mut vm = Vm::boot_on_lan(&disk, None, Some(("52:54:00:00:00:01", 41_408)));
    vm.wait_for("pharos: ready in", BOOT_TIMEOUT);
    let c = vm.console();
    assert!(
        c.contains("pharos-boot: slot B has no boot.cfg; booting slot A")
            && c.contains("pharos-boot: slot A (hd0,msdos2), trial 0"),
        "{c}"
    );
    vm.powerdown();
    assert!(disk.boot_env().lines().any(|l| l == "pharos_try="));
}

#[test]
fn a_broken_or_empty_config_boots_on_the_last_known_good_one() {
    let disk = Disk::copy("prod");
    let mut vm = boot_as_lvs1(&disk, 41_402);
    vm.wait_for("pharos: ready in", BOOT_TIMEOUT);
    vm.powerdown();
    drop(vm);
    let good = std::fs::read_to_string(Path::new(ROOT).join("configs/default.toml")).unwrap();
    disk.put(
        "pharos.toml",
        &good.replacen("vrid = 51", "vrid = 510", 1).replacen(
            "[metrics]",
            "[metrics]\nlistne = \"x\"",
            1,
        ),
    );
    let mut vm = boot_as_lvs1(&disk, 41_402);
    vm.wait_for("pharos: ready in", BOOT_TIMEOUT);
    let c = vm.console();
    assert!(c.contains("VRID 510 is out of range"), "{c}");
    assert!(c.contains("unknown key `listne` in `metrics`"), "{c}");
    assert!(
        c.contains("running the last known good config from /config/last-good.toml"),
        "{c}"
    );
    assert!(c.contains("(LAST GOOD CONFIG: the file is invalid)"), "{c}");
    vm.powerdown();
    let errors = disk
        .get("pharos.errors")
        .expect("/config/pharos.errors written");
    assert!(
        errors.contains("--> /config/pharos.toml:") && errors.contains("VRID 510 is out of range"),
        "{errors}"
    );
    assert!(errors.contains("did you mean `listen`?"), "{errors}");
    // Fixing the file clears the errors at the next boot.
    disk.put("pharos.toml", &good);
    let mut vm = boot_as_lvs1(&disk, 41_402);
    vm.wait_for("pharos: ready in", BOOT_TIMEOUT);
    vm.powerdown();
    assert_eq!(disk.get("pharos.errors"), None);

    // An empty file (a copy onto the stick that did not finish) configures
    // nothing: refused like any invalid file, and last-good stays whole.
    disk.put("pharos.toml", "");
    let mut vm = boot_as_lvs1(&disk, 41_402);
    vm.wait_for("pharos: ready in", BOOT_TIMEOUT);
    let c = vm.console();
    assert!(c.contains("the file configures nothing"), "{c}");
    assert!(
        c.contains("running the last known good config from /config/last-good.toml"),
        "{c}"
    );
    assert!(c.contains("node lvs1"), "{c}");
    vm.powerdown();
    let errors = disk.get("pharos.errors").expect("pharos.errors written");
    assert!(errors.contains("the file configures nothing"), "{errors}");
    assert_eq!(disk.get("last-good.toml").as_deref(), Some(good.as_str()));

    // A config partition whose FAT boot sector is gone (zeroed): the box
    // boots the embedded default config and says, on the console and in
    // status, that nothing it saves outlives a reboot. The sector back,
    // last-good is still there, whole.
    disk.put("pharos.toml", &good);
    use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
    let offset = common::vm::config_offset(&common::vm::out_dir("prod"));
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&disk.path)
        .unwrap();
    let mut sector = [0u8; 512];
    f.seek(SeekFrom::Start(offset)).unwrap();
    f.read_exact(&mut sector).unwrap();
    f.seek(SeekFrom::Start(offset)).unwrap();
    f.write_all(&[0u8; 512]).unwrap();
    f.sync_all().unwrap();
    let mut vm = boot_as_lvs1(&disk, 41_402);
    vm.wait_for("pharos: ready in", BOOT_TIMEOUT);
    let c = vm.console();
    assert!(
        c.contains("no PHAROS-CFG partition found; booting the embedded default config"),
        "{c}"
    );
    assert!(
        c.contains(
            "running the embedded default config from /run/pharos; nothing saved outlives a reboot"
        ),
        "the start event says it: {c}"
    );
    assert!(c.contains("node lvs1"), "{c}");
    vm.powerdown();
    drop(vm);
    f.seek(SeekFrom::Start(offset)).unwrap();
    f.write_all(&sector).unwrap();
    f.sync_all().unwrap();
    assert_eq!(disk.get("last-good.toml").as_deref(), Some(good.as_str()));
}

#[test]
fn a_box_that_matches_no_node_comes_up_in_maintenance_unless_told_otherwise() {
    // A spare box on the demo LAN must not become a third director.
    let disk = Disk::copy("prod");
    let spare = Some(("52:54:00:00:00:50", 41_403));
    let mut vm = Vm::boot_on_lan(&disk, None, spare);
    vm.wait_for("pharos: ready in", BOOT_TIMEOUT);
    let c = vm.console();
    assert!(
        c.contains(
            "MAINTENANCE MODE: no node of the config matches this box \
             (MAC address 52:54:00:00:00:50; host name"
        ) && c.contains("the file defines nodes lvs1, lvs2, rs1, rs2"),
        "{c}"
    );
    assert!(
        c.contains("no node of the config matches this box; config r1 (MAINTENANCE: no node matches this box): 0 vrrp instances, 0 services, 0 checks"),
        "{c}"
    );
    vm.powerdown();
    drop(vm);
    // Said explicitly, an unmatched box runs the base config.
    let good = std::fs::read_to_string(Path::new(ROOT).join("configs/default.toml")).unwrap();
    disk.put(
        "pharos.toml",
        &format!("[system]\nunmatched = \"base\"\n\n{good}"),
    );
    let mut vm = Vm::boot_on_lan(&disk, None, spare);
    vm.wait_for("pharos: ready in", BOOT_TIMEOUT);
    let c = vm.console();
    assert!(
        c.contains("no node matches this box: the base config; config r1: 1 vrrp instance, 1 service, 2 checks"),
        "{c}"
    );
    vm.powerdown();
}

#[test]
fn with_no_good_config_at_all_the_box_comes_up_in_maintenance() {
    let disk = Disk::copy("prod");
    disk.put("pharos.toml", "[vrrp.VI_1]\nvrid = 0\n");
    let mut vm = Vm::boot(&disk, None);
    vm.wait_for("pharos: ready in", BOOT_TIMEOUT);
    let c = vm.console();
    assert!(c.contains("MAINTENANCE MODE"), "{c}");
    assert!(c.contains("VRID 0 is out of range"), "{c}");
    vm.powerdown();
}

#[test]
fn pid1_reaps_orphans() {
    let disk = Disk::copy("debug");
    // 50 orphans: each `sh -c` exits at once and leaves a `sleep` to PID 1.
    disk.put(
        "test.sh",
        "i=0\nwhile [ $i -lt 50 ]; do sh -c 'sleep 0.3 & exit 0'; i=$((i+1)); done\n\
         sleep 1\necho \"orphans: $(grep -l PPid:.1$ /proc/[0-9]*/status | wc -l)\"\n\
         sleep 4\necho \"zombies: $(grep -l '^State:.Z' /proc/[0-9]*/status 2>/dev/null | wc -l)\"\n",
    );
    let mut vm = Vm::boot(
        &disk,
        Some((
            "debug",
            "console=ttyS0 panic=-1 pharos.test=/config/test.sh",
        )),
    );
    vm.wait_for("test script finished: exit 0", BOOT_TIMEOUT);
    let c = vm.console();
    assert!(c.contains("zombies: 0"), "{c}");
    assert!(c.contains("reaped "), "the reaper did the work: {c}");
    vm.powerdown();
}

/// Boots the debug image with a script that signals PID 1; returns the console.
fn signal_pid1(signal: &str) -> String {
    let disk = Disk::copy("debug");
    disk.put("test.sh", &format!("sleep 1\nkill -{signal} 1\n"));
    let mut vm = Vm::boot(
        &disk,
        Some((
            "debug",
            "console=ttyS0 panic=-1 pharos.test=/config/test.sh",
        )),
    );
    vm.wait_exit();
    vm.console()
}

#[test]
fn sigusr2_powers_off_and_sigterm_or_ctrl_alt_del_reboot_after_a_clean_shutdown() {
    let c = signal_pid1("USR2");
    assert!(
        c.contains("shutdown done in")
            && c.contains("shutdown complete; powering off")
            && c.contains("reboot: Power down"),
        "{c}"
    );
    // QEMU runs with -no-reboot, so a reboot ends it.
    let c = signal_pid1("TERM");
    assert!(
        c.contains("shutdown done in")
            && c.contains("shutdown complete; rebooting")
            && c.contains("reboot: Restarting system"),
        "{c}"
    );
    // With ctrl-alt-del handed to PID 1 (reboot(RB_DISABLE_CAD)), the kernel
    // sends SIGINT for it.
    let c = signal_pid1("INT");
    assert!(
        c.contains("shutdown complete; rebooting") && c.contains("reboot: Restarting system"),
        "{c}"
    );
}

#[test]
fn the_debug_image_is_a_lab_for_the_kernel_features_the_host_lacks() {
    // What the IPVS and tunnel tests will do inside one VM: network
    // namespaces on veth, modules loaded, IPVS programmed and read back.
    let disk = Disk::copy("debug");
    disk.put(
        "test.sh",
        "set -e\n\
         modprobe veth\n\
         /usr/sbin/ip netns add rs1\n\
         /usr/sbin/ip link add veth0 type veth peer name eth0 netns rs1\n\
         /usr/sbin/ip addr add 10.9.0.1/24 dev veth0\n\
         /usr/sbin/ip link set veth0 up\n\
         /usr/sbin/ip -n rs1 addr add 10.9.0.2/24 dev eth0\n\
         /usr/sbin/ip -n rs1 link set eth0 up\n\
         echo \"netns: $(/usr/sbin/ip netns list)\"\n\
         modprobe ip_vs_wrr\nmodprobe ipip\n\
         /usr/sbin/ipvsadm -A -t 10.9.0.100:80 -s wrr\n\
         /usr/sbin/ipvsadm -a -t 10.9.0.100:80 -r 10.9.0.2:80 -g -w 3\n\
         /usr/sbin/ipvsadm -Ln\n\
         /usr/sbin/ip link show tunl0 | head -n1\n",
    );
    let append = "console=ttyS0 panic=-1 pharos.test=/config/test.sh";
    let mut vm = Vm::boot_on_lan(
        &disk,
        Some(("debug", append)),
        Some(("52:54:00:00:00:01", 41_234)),
    );
    vm.wait_for("test script finished", BOOT_TIMEOUT);
    let c = vm.console();
    assert!(c.contains("test script finished: exit 0"), "{c}");
    assert!(c.contains("netns: rs1"), "{c}");
    assert!(
        c.contains("TCP  10.9.0.100:80 wrr")
            && c.contains("-> 10.9.0.2:80")
            && c.contains("Route   3"),
        "{c}"
    );
    assert!(c.contains("tunl0@NONE"), "{c}");
    assert!(
        c.contains("running as node lvs1"),
        "the NIC's MAC picked the node: {c}"
    );
    vm.powerdown();
}

#[test]
fn pharos_creates_dummy_vlan_bond_ipip_gre_and_tunl0_links() {
    // The host kernel has none of these: this is their test.
    let disk = Disk::copy("debug");
    disk.put(
        "pharos.toml",
        r#"
[interfaces.eth0]
addresses = ["10.56.0.1/24"]

[interfaces.d0]
dummy = true
addresses = ["10.55.0.1/24"]

[interfaces."eth0.10"]
vlan = { parent = "eth0", id = 10 }
addresses = ["10.57.0.1/24"]

[interfaces.bond0]
bond = { mode = "active-backup", members = ["d1", "d2"], primary = "d2", miimon = "200ms" }
addresses = ["10.59.0.1/24"]

[interfaces.d1]
dummy = true

[interfaces.d2]
dummy = true

# The TUN real-server role: the VIP on tunl0 (made by the ipip module),
# rp_filter off on tunl0 and all.
[realserver.tun]
vips = ["192.168.199.20"]

[tunnels.gre1]
type = "gre"
local = "10.56.0.1"
remote = "10.56.0.2"
addresses = ["10.58.0.1/30"]

[tunnels.ipip1]
type = "ipip"
local = "10.56.0.1"
remote = "10.56.0.3"
"#,
    );
    disk.put("test.sh", "i=0; while [ $i -lt 60 ] && ! /usr/sbin/ip -d link show bond0 2>/dev/null | grep -q 'primary d2'; do sleep 0.5; i=$((i+1)); done\nsleep 1\n/usr/sbin/ip -br addr\necho rp_filter $(cat /proc/sys/net/ipv4/conf/tunl0/rp_filter) $(cat /proc/sys/net/ipv4/conf/all/rp_filter)\n/usr/sbin/ip -d link show eth0.10 | grep -o 'vlan protocol 802.1Q id 10'\n/usr/sbin/ip -d link show bond0 | grep -o 'bond mode active-backup.*miimon 200'\n/usr/sbin/ip -d link show bond0 | grep -o 'primary d2'\n/usr/sbin/ip -o link show d1 | grep -o 'master bond0'\n/usr/sbin/ip -o link show d2 | grep -o 'master bond0'\n");
    let append = "console=ttyS0 panic=-1 pharos.test=/config/test.sh";
    let mut vm = Vm::boot_on_lan(
        &disk,
        Some(("debug", append)),
        Some(("52:54:00:00:05:01", 41_321)),
    );
    vm.wait_for("test script finished", BOOT_TIMEOUT);
    let c = vm.console();
    let has = |name: &str, addr: &str| c.lines().any(|l| l.starts_with(name) && l.contains(addr));
    assert!(has("d0 ", "10.55.0.1/24"), "{c}");
    assert!(has("eth0.10@eth0", "10.57.0.1/24"), "{c}");
    assert!(has("gre1@NONE", "10.58.0.1/30"), "{c}");
    assert!(c.lines().any(|l| l.starts_with("ipip1@NONE")), "{c}");
    assert!(has("tunl0@NONE", "192.168.199.20/32"), "{c}");
    assert!(c.contains("rp_filter 0 0"), "{c}");
    assert!(has("bond0", "10.59.0.1/24"), "{c}");
    assert_eq!(
        c.matches("master bond0").count(),
        2,
        "both members enslaved: {c}"
    );
    assert!(c.contains("primary d2"), "{c}");
    // Loaded with numdummies=0 and max_bonds=0: no stray default devices.
    assert!(!c.lines().any(|l| l.starts_with("dummy0")), "{c}");
    assert!(
        c.contains("vlan protocol 802.1Q id 10") && c.contains("miimon 200"),
        "{c}"
    );
    vm.powerdown();
}

fn initrd_files(variant: &str) -> Vec<String> {
    let o = out_dir(variant);
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "lz4 -dc {} | cpio -it --quiet",
            o.join("initrd.img").display()
        ))
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn the_production_image_has_no_shell_and_fits_the_size_budget() {
    let files = initrd_files("prod");
    assert!(files.iter().any(|f| f == "sbin/init"), "{files:?}");
    for banned in ["bin/sh", "bin/busybox", "usr/sbin/ipvsadm", "usr/sbin/ip"] {
        assert!(
            !files.iter().any(|f| f == banned),
            "production image contains {banned}"
        );
    }
    assert!(
        initrd_files("debug").iter().any(|f| f == "bin/sh"),
        "the debug image has a shell"
    );
    let o = out_dir("prod");
    let used = std::fs::metadata(o.join("vmlinuz")).unwrap().len()
        + std::fs::metadata(o.join("initrd.img")).unwrap().len();
    eprintln!("production image: {used} bytes used (kernel + initramfs)");
    assert!(used < 32 << 20, "{used} bytes");
}

#[test]
fn the_image_build_is_reproducible() {
    let o = out_dir("prod");
    let dir = tempfile::tempdir().unwrap();
    let st = Command::new(Path::new(ROOT).join("image/build.sh"))
        .env("OUT", dir.path())
        .env("CACHE", Path::new(ROOT).join("image/cache"))
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    let a = std::fs::read_to_string(o.join("SHA256SUMS")).unwrap();
    let b = std::fs::read_to_string(dir.path().join("SHA256SUMS")).unwrap();
    assert_eq!(a, b, "a second build from the same inputs gave other bytes");
    // And make sees nothing to do for the image it already built.
    let q = Command::new("make")
        .args(["-q", "-C", ROOT, "image/out/pharos.img"])
        .status()
        .unwrap();
    assert!(
        q.success(),
        "`make image` would rebuild with nothing changed"
    );
}

#[test]
fn the_qemu_command_in_the_readme_boots_a_box_that_says_which_node_it_is() {
    let readme = std::fs::read_to_string(Path::new(ROOT).join("README.md")).unwrap();
    let at = readme
        .find("**Run it as a VM**")
        .expect("the README's VM section");
    let block = readme[at..]
        .split("```sh")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("a sh block");
    let cmd = block.replace("\\\n", " ");
    let cmd = cmd.trim();
    assert!(cmd.starts_with("qemu-system-x86_64"), "{cmd}");
    // As written, from the top of the repository (`exec`: QEMU is the child,
    // so killing it ends it).
    let mut sh = Command::new("sh");
    sh.arg("-c")
        .arg(format!("exec {cmd} -accel tcg"))
        .current_dir(ROOT);
    let vm = Vm::start(sh, tempfile::tempdir().unwrap());
    let (_, ready) = vm
        .find_line(0, BOOT_TIMEOUT, |l| {
            l.contains("pharos: ready in").then(|| l.to_string())
        })
        .unwrap_or_else(|| panic!("no ready line:\n{}", vm.console()));
    assert!(
        ready.contains("node lvs1 (this box has MAC address 52:54:00:00:00:01)"),
        "{ready}"
    );
}

//! Health checks beside keepalived's checker, in the VM lab (keepalived's
//! checker will not start without IPVS, which the host kernel lacks): N
//! real servers TCP-checked every second by pharos and by keepalived 2.2.7
//! (the host's binary and its libraries, copied onto the config partition
//! and run through their own ld.so). A benchmark, not a test: `cargo bench
//! --bench check_keepalived` after `make image VARIANT=debug`;
//! `PHAROS_BENCH_SIZES` (default "1000 10000"), `PHAROS_BENCH_SECS` (30),
//! `PHAROS_BENCH_BIN` (a static, stripped pharos to run instead of the
//! image's: a change tried without building the image again).
//! The VM is TCG-emulated with one vCPU: compare the two, not the absolutes.

#[path = "../tests/common/vm.rs"]
mod vm;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

/// keepalived and every library it loads, ld.so included.
fn keepalived_files() -> Vec<PathBuf> {
    let bin = PathBuf::from("/usr/sbin/keepalived");
    let out = Command::new("ldd").arg(&bin).output().expect("ldd");
    let mut files = vec![bin];
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let path = line
            .split_whitespace()
            .find(|w| w.starts_with('/'))
            .map(PathBuf::from);
        if let Some(p) = path {
            // Copy under the name the loader asks for, not the symlink target's.
            files.push(p);
        }
    }
    files
}

fn main() {
    let sizes = std::env::var("PHAROS_BENCH_SIZES").unwrap_or_else(|_| "1000 10000".into());
    let secs = std::env::var("PHAROS_BENCH_SECS").unwrap_or_else(|_| "30".into());
    let disk = vm::Disk::copy("debug");
    // One archive, xz: the libraries (and a pharos of PHAROS_BENCH_BIN) do
    // not fit the 16 MiB config partition as they are, nor by gzip.
    let dir = tempfile::tempdir().unwrap();
    let tgz = dir.path().join("ka.txz");
    let mut files = keepalived_files();
    files.extend(std::env::var_os("PHAROS_BENCH_BIN").map(PathBuf::from));
    let st = Command::new("tar")
        .args(["-cJhf"])
        .arg(&tgz)
        .args(["--transform", "s,.*/,,"])
        .args(files)
        .status()
        .unwrap();
    assert!(st.success(), "tar of keepalived and its libraries");
    disk.put_files("ka", &[tgz]);
    disk.put("sizes", &format!("{sizes}\n"));
    disk.put("secs", &format!("{secs}\n"));
    disk.put("test.sh", include_str!("check_keepalived.sh"));
    let append = "console=ttyS0 panic=-1 pharos.test=/config/test.sh";
    let mut vm = vm::Vm::boot(&disk, Some(("debug", append)));
    vm.wait_for("test script finished", Duration::from_secs(3600));
    println!(
        "Health checks, pharos beside keepalived's checker (QEMU TCG, 1 vCPU), TCP every 1 s, {secs} s measured:"
    );
    let console = vm.console();
    let bench: Vec<&str> = console
        .lines()
        .filter_map(|l| l.strip_prefix("BENCH "))
        .collect();
    for line in &bench {
        println!("  {line}");
    }
    vm.powerdown();
    // `make bench`'s rows: figure | pharos | anchor | target | verdict.
    for n in sizes.split_whitespace() {
        let per_check = |who: &str| -> Option<f64> {
            let line = bench
                .iter()
                .find_map(|l| l.strip_prefix(&format!("{who} {n}: ")))?;
            let at = line.find(" µs CPU per check")?;
            line[..at].rsplit(' ').next()?.parse().ok()
        };
        if let (Some(p), Some(k)) = (per_check("pharos"), per_check("keepalived")) {
            println!(
                "ROW health checks at {n}: CPU per check vs keepalived (VM) | {p:.0} µs ({:.2}x) | {k:.0} µs | <= 1.0x | {}",
                p / k,
                if p <= k { "met" } else { "not met" }
            );
        }
    }
}

//! IPVS at scale, in the VM lab (the host kernel has no IPVS): 10,000
//! services of 10 real servers applied by pharos in one go and a 1% change
//! re-applied, beside `ipvsadm-restore` of the same table in the same VM.
//! A benchmark, not a test: `cargo bench --bench ipvs_scale` (after `make
//! image VARIANT=debug`) prints the numbers; they are recorded in
//! benches/RESULTS.md. `PHAROS_BENCH_N` sets the number of services,
//! `PHAROS_VM_MEM` the VM's memory in MiB (256 by default, as `make bench`),
//! `PHAROS_BENCH_CONSOLE` a file to copy the VM's console into as it runs.
//! The VM is TCG-emulated: absolute times are several times a real box's;
//! the comparison with ipvsadm in the same VM is what means something.

#[path = "../tests/common/vm.rs"]
mod vm;

use std::time::Duration;

fn main() {
    let n: u32 = std::env::var("PHAROS_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let disk = vm::Disk::copy("debug");
    disk.put("n", &format!("{n}\n"));
    disk.put("test.sh", include_str!("ipvs_scale.sh"));
    let append = "console=ttyS0 panic=-1 pharos.test=/config/test.sh";
    let mut vm = vm::Vm::boot(&disk, Some(("debug", append)));
    // `PHAROS_BENCH_CONSOLE=FILE`: the VM's console copied there as it
    // comes, to follow a run that takes long (`tail -f`).
    if let Ok(path) = std::env::var("PHAROS_BENCH_CONSOLE") {
        vm.log_to(std::path::Path::new(&path));
    }
    vm.wait_for("test script finished", Duration::from_secs(3600));
    let mem = std::env::var("PHAROS_VM_MEM").unwrap_or_else(|_| "256".into());
    println!("IPVS scale benchmark, {n} services x 10 real servers (QEMU TCG, 1 vCPU, {mem} MiB):");
    let console = vm.console();
    let bench: Vec<&str> = console
        .lines()
        .filter_map(|l| l.strip_prefix("BENCH "))
        .collect();
    for line in &bench {
        println!("  {line}");
    }
    vm.powerdown();
    rows(n, &mem, &bench);
}

/// The first number after `key: ` in the bench's lines.
fn figure(bench: &[&str], key: &str) -> Option<f64> {
    let rest = bench.iter().find_map(|l| l.strip_prefix(key))?;
    let rest = rest.trim_start_matches(": ");
    rest.split_whitespace().next()?.parse().ok()
}

/// The number after `field:` (kB) in a /proc status line of the bench.
fn kib(bench: &[&str], key: &str, field: &str) -> Option<f64> {
    let line = bench.iter().find_map(|l| l.strip_prefix(key))?;
    let rest = &line[line.find(field)? + field.len()..];
    rest.split_whitespace().next()?.parse().ok()
}

/// `make bench`'s rows: figure | pharos | anchor | target | verdict.
fn rows(n: u32, mem: &str, bench: &[&str]) {
    let met = |ok: bool| if ok { "met" } else { "not met" };
    let size = format!("{}k x 10", n / 1000);
    let steady = kib(bench, "pharos memory steady", "VmRSS:").map(|k| k / 1024.0);
    let peak = kib(bench, "pharos memory across the reload", "VmHWM:").map(|k| k / 1024.0);
    if let Some(s) = steady {
        println!(
            "ROW RSS after applying {size}, steady ({mem} MiB VM) | {s:.0} MiB | keepalived ~20 MB (issue 19) | <= 64 MiB | {}",
            met(s <= 64.0)
        );
    }
    if let Some(p) = peak {
        println!(
            "ROW peak RSS across a reload of {size} | {p:.0} MiB | - | <= 128 MiB | {}",
            met(p <= 128.0)
        );
    }
    let full = (
        figure(bench, "pharos full (start to applied)"),
        figure(bench, "ipvsadm-restore full"),
    );
    if let (Some(p), Some(a)) = full {
        println!(
            "ROW cold apply of {size} vs ipvsadm -R (VM) | {p:.2} s ({:.2}x) | {a:.2} s | <= 0.25x | {}",
            p / a,
            met(p / a <= 0.25)
        );
    }
    let reload = (
        figure(bench, "pharos 1% (reload to applied)"),
        figure(bench, "ipvsadm-restore 1%"),
    );
    if let (Some(p), Some(a)) = reload {
        println!(
            "ROW reload of a 1% change -> applied (VM) | {p:.2} s ({:.1}x) | {a:.2} s | <= 0.5 s, <= 1.0x | {}",
            p / a,
            met(p <= 0.5 && p <= a)
        );
    }
}

//! IPVS at scale, in the VM lab (the host kernel has no IPVS): 10,000
//! services of 10 real servers applied by pharos in one go and a 1% change
//! re-applied, beside `ipvsadm-restore` of the same table in the same VM.
//! A benchmark, not a test: `cargo bench --bench ipvs_scale` (after `make
//! image VARIANT=debug`) prints the numbers; they are recorded in
//! benches/RESULTS.md. `PHAROS_BENCH_N` sets the number of services,
//! `PHAROS_VM_MEM` the VM's memory in MiB (512 by default).
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
    vm.wait_for("test script finished", Duration::from_secs(3600));
    println!("IPVS scale benchmark, {n} services x 10 real servers (QEMU TCG, 1 vCPU):");
    for line in vm
        .console()
        .lines()
        .filter_map(|l| l.strip_prefix("BENCH "))
    {
        println!("  {line}");
    }
    vm.powerdown();
}

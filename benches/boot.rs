//! Boot time of the production image: QEMU start to `pharos: ready` on the
//! serial console (TCG, one vCPU), five boots by BIOS (SeaBIOS) and three
//! by UEFI (OVMF) of the same disk, as lvs1 of the embedded default config,
//! each powered off after. A benchmark, not a test: `cargo bench --bench
//! boot` after `make image`; `make bench` puts it in its table.

#[path = "../tests/common/vm.rs"]
mod vm;

use std::time::Duration;

/// Boots of each firmware's, their times sorted (seconds).
fn boots(n: usize, machine: vm::Machine, first_lan: u16) -> Vec<f64> {
    let mut times = Vec::new();
    for i in 0..n {
        let disk = vm::Disk::copy("prod");
        let lan = first_lan + u16::try_from(i).expect("few boots");
        let mut vm = vm::Vm::boot_machine(&disk, Some(("52:54:00:00:00:01", lan)), machine);
        let took = vm.wait_for("pharos: ready in", Duration::from_secs(120));
        times.push(took.as_secs_f64());
        vm.powerdown();
    }
    times.sort_by(f64::total_cmp);
    times
}

fn main() {
    let bios = boots(5, vm::Machine::default(), 41_501);
    let median = bios[bios.len() / 2];
    println!(
        "Boot by BIOS, QEMU start to `pharos: ready` (TCG, 1 vCPU), {} boots: median {median:.2} s (fastest {:.2} s, slowest {:.2} s)",
        bios.len(),
        bios[0],
        bios[bios.len() - 1]
    );
    let uefi = boots(
        3,
        vm::Machine {
            uefi: true,
            ..vm::Machine::default()
        },
        41_511,
    );
    let uefi_median = uefi[uefi.len() / 2];
    println!(
        "Boot by UEFI (OVMF), the same disk, {} boots: median {uefi_median:.2} s (fastest {:.2} s, slowest {:.2} s)",
        uefi.len(),
        uefi[0],
        uefi[uefi.len() - 1]
    );
    println!(
        "ROW boot, QEMU start -> pharos: ready (TCG) | {median:.2} s | - | <= 4.0 s | {}",
        if median <= 4.0 { "met" } else { "not met" }
    );
    println!("ROW boot by UEFI (OVMF), the same | {uefi_median:.2} s | - | - | -");
}

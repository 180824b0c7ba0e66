//! Boot time of the production image: QEMU start to `pharos: ready` on the
//! serial console (TCG, one vCPU), five boots as lvs1 of the embedded
//! default config, each powered off after. A benchmark, not a test: `cargo
//! bench --bench boot` after `make image`; `make bench` puts it in its
//! table.

#[path = "../tests/common/vm.rs"]
mod vm;

use std::time::Duration;

const BOOTS: usize = 5;

fn main() {
    let mut times = Vec::new();
    for i in 0..BOOTS {
        let disk = vm::Disk::copy("prod");
        let lan = 41_501 + u16::try_from(i).expect("few boots");
        let mut vm = vm::Vm::boot_on_lan(&disk, None, Some(("52:54:00:00:00:01", lan)));
        let took = vm.wait_for("pharos: ready in", Duration::from_secs(120));
        times.push(took.as_secs_f64());
        vm.powerdown();
    }
    times.sort_by(f64::total_cmp);
    let median = times[BOOTS / 2];
    println!(
        "Boot, QEMU start to `pharos: ready` (TCG, 1 vCPU), {BOOTS} boots: median {median:.2} s (fastest {:.2} s, slowest {:.2} s)",
        times[0],
        times[BOOTS - 1]
    );
    println!(
        "ROW boot, QEMU start -> pharos: ready (TCG) | {median:.2} s | - | <= 4.0 s | {}",
        if median <= 4.0 { "met" } else { "not met" }
    );
}

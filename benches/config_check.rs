//! `pharos check` at scale: the generated config of 10,000 services with
//! 10 real servers each (`tests/common/scale.rs`, the IPVS bench's file,
//! 4.3 MB), checked five times by the release binary on this host. Prints
//! the peak resident set (getrusage of the children: the largest of the
//! five) and the median wall time. A benchmark, not a test: `cargo bench
//! --bench config_check`; `make bench` puts it in its table.

#[path = "../tests/common/scale.rs"]
mod scale;

use std::process::Command;
use std::time::Instant;

const BIN: &str = env!("CARGO_BIN_EXE_pharos");
const RUNS: usize = 5;

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("big.toml");
    std::fs::write(
        &file,
        scale::big_config("[system]\nip_forward = true\n\n", "nat", 1),
    )
    .unwrap();
    let size = std::fs::metadata(&file).unwrap().len();
    let mut times = Vec::new();
    for _ in 0..RUNS {
        let t = Instant::now();
        let out = Command::new(BIN).arg("check").arg(&file).output().unwrap();
        times.push(t.elapsed().as_secs_f64());
        assert!(
            out.status.success(),
            "pharos check failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    times.sort_by(f64::total_cmp);
    let peak = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN)
        .expect("getrusage")
        .max_rss();
    let mib = peak as f64 / 1024.0;
    let median = times[RUNS / 2];
    println!(
        "pharos check of {} services x 10 ({:.1} MB), {RUNS} runs: peak RSS {mib:.1} MiB, median {median:.3} s (fastest {:.3} s, slowest {:.3} s)",
        scale::SERVICES,
        size as f64 / 1e6,
        times[0],
        times[RUNS - 1]
    );
    println!(
        "ROW pharos check of 10k x 10: peak RSS / time (host) | {mib:.0} MiB / {median:.2} s | - | <= 64 MiB / <= 0.5 s | {}",
        if mib <= 64.0 && median <= 0.5 {
            "met"
        } else {
            "not met"
        }
    );
}

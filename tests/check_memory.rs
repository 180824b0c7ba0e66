//! A memory guard for the config loader at scale: `pharos check` of a
//! generated 10,000-service config with 10 real servers each (the IPVS
//! scale bench's file, 4.3 MB, `common::scale`) must stay under twice the
//! target peak (≤ 64 MiB, so the guard is 128 MiB), so the figure cannot
//! silently regress. Measured: 96 MB with the release build (172 MB before
//! the file was parsed a table at a time); benches/RESULTS.md has the rest.
//! The peak is the child's maximum resident set, from getrusage(2) after it
//! is waited for; this file has one test, so the child is the only one.

use std::process::Command;

use common::scale::{SERVICES, big_config};

mod common;

const BIN: &str = env!("CARGO_BIN_EXE_pharos");
/// Twice the target of 64 MiB.
const GUARD_KIB: i64 = 2 * 64 * 1024;

#[test]
fn checking_ten_thousand_services_stays_under_the_memory_guard() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("big.toml");
    std::fs::write(
        &file,
        big_config("[system]\nip_forward = true\n\n", "nat", 1),
    )
    .unwrap();
    let out = Command::new(BIN).arg("check").arg(&file).output().unwrap();
    assert!(
        out.status.success(),
        "pharos check: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let usage = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN)
        .expect("getrusage");
    let peak_kib = usage.max_rss();
    println!(
        "pharos check of {SERVICES} services x 10: peak RSS {} MiB",
        peak_kib / 1024
    );
    assert!(
        peak_kib <= GUARD_KIB,
        "pharos check peaked at {} MiB, over the guard of {} MiB",
        peak_kib / 1024,
        GUARD_KIB / 1024
    );
}

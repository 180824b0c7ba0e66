//! A memory guard for the config loader at scale: `pharos check` of a
//! generated 10,000-service config with 10 real servers each (the IPVS
//! scale bench's file, 4.3 MB, `common::scale`), so the figure cannot
//! silently regress. A valid file is checked a service at a time
//! (`config::check_streamed`) and must stay under the target peak, 64 MiB
//! (measured: 31 MB, release build; 96 MB when the whole tree was built,
//! 172 MB before the file was parsed a table at a time). A file with an
//! error goes the whole way to place its diagnostic: that run must name the
//! line and stay under twice the target. benches/RESULTS.md has the rest.
//! The peak is the children's maximum resident set, from getrusage(2) after
//! each is waited for, so the valid file is checked first; the other test
//! here runs no child.

use std::process::Command;

use common::scale::{SERVICES, big_config};

mod common;

const BIN: &str = env!("CARGO_BIN_EXE_pharos");
/// The target, for a valid file.
const TARGET_KIB: i64 = 64 * 1024;
/// Twice the target, for a file checked whole.
const GUARD_KIB: i64 = 2 * TARGET_KIB;

fn children_peak_kib() -> i64 {
    nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN)
        .expect("getrusage")
        .max_rss()
}

#[test]
fn checking_ten_thousand_services_stays_under_the_memory_guard() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("big.toml");
    let text = big_config("[system]\nip_forward = true\n\n", "nat", 1);
    std::fs::write(&file, &text).unwrap();
    let out = Command::new(BIN).arg("check").arg(&file).output().unwrap();
    assert!(
        out.status.success(),
        "pharos check: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let peak_kib = children_peak_kib();
    println!(
        "pharos check of {SERVICES} services x 10: peak RSS {} MiB",
        peak_kib / 1024
    );
    assert!(
        peak_kib <= TARGET_KIB,
        "pharos check peaked at {} MiB, over the target of {} MiB",
        peak_kib / 1024,
        TARGET_KIB / 1024
    );

    // A bad weight on the last line: checked whole, placed exactly.
    let bad = format!("{text}\"10.250.39.11:80\" = {{ weight = \"heavy\" }}\n");
    std::fs::write(&file, &bad).unwrap();
    let out = Command::new(BIN).arg("check").arg(&file).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = bad.lines().count();
    assert!(
        !out.status.success(),
        "pharos check took a weight of \"heavy\""
    );
    assert!(
        stderr.contains(&format!("big.toml:{line}:")),
        "the error is not placed on line {line}: {stderr}"
    );
    let peak_kib = children_peak_kib();
    println!(
        "pharos check of the same with an error: peak RSS {} MiB",
        peak_kib / 1024
    );
    assert!(
        peak_kib <= GUARD_KIB,
        "pharos check of a file with an error peaked at {} MiB, over the guard of {} MiB",
        peak_kib / 1024,
        GUARD_KIB / 1024
    );
}

/// The streamed check and the whole check agree on the big file.
#[test]
fn the_big_file_streamed_is_the_big_file_whole() {
    use pharos::config::{Selection, check_streamed, check_whole};
    let text = big_config("[system]\nip_forward = true\n\n", "nat", 3);
    let whole = check_whole(&text, &Selection::All);
    assert!(whole.diagnostics.is_empty());
    let streamed = check_streamed(&text).expect("a valid big file is streamed");
    assert!(
        streamed == whole.configs[0].1,
        "the streamed config differs"
    );
}

//! The director pair end to end (tests/common/pair.rs): a client's requests
//! through the VIP of two directors booted from the production image, a
//! power cut of the master, a real server's web server stopped and started,
//! the master's return, a config change and an upgrade of both directors
//! over the management API, each held to its bound.
//!
//! This file is also the `make run` demo: `--demo` narrates the same lab and
//! prints the summary (exit 1 if a bound was missed), `--keep` stops after
//! step 1 and leaves the lab up until Ctrl-C. Without either it is the test
//! (run by `cargo test`; it needs `make image` and `make image
//! VARIANT=debug`, which `make test` does). No libtest harness: the lab is
//! one long sequence, and its narration is the output.

mod common;

use std::time::Instant;

use common::pair::{Lab, say};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let has = |flag: &str| args.iter().any(|a| a == flag);
    const NAME: &str = "the_director_pair_serves_through_failover_real_server_loss_and_return";
    if has("--list") {
        // What libtest-style runners ask before running anything.
        println!("{NAME}: test");
        return;
    }
    // A name filter (`cargo test foo`) that does not pick this test skips it.
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    if !filters.is_empty() && !filters.iter().any(|f| NAME.contains(f.as_str())) {
        println!("test result: ok. 0 passed; 0 failed; 1 filtered out");
        return;
    }
    let demo = has("--demo") || has("--keep");
    if demo {
        // Ctrl-C ends the VMs and removes their disks; no destructor would
        // run after a signal's default action. Blocked before any thread
        // starts, so only this thread takes them.
        let mut set = nix::sys::signal::SigSet::empty();
        set.add(nix::sys::signal::Signal::SIGINT);
        set.add(nix::sys::signal::Signal::SIGTERM);
        set.thread_block().expect("block SIGINT and SIGTERM");
        std::thread::spawn(move || {
            let _ = set.wait();
            common::vm::kill_all();
            say("\nstopped: every VM of the lab killed, its disks removed");
            std::process::exit(130);
        });
    }
    let started = Instant::now();
    let mut lab = Lab::boot();
    lab.step1_requests();
    if has("--keep") {
        let dir = tempfile::Builder::new()
            .prefix("pharos-lab.")
            .tempdir()
            .expect("a directory for the consoles");
        common::vm::remove_on_kill(dir.path());
        lab.keep(dir.path());
    }
    lab.step2_stream();
    lab.step3_power_cut(3);
    lab.step4_real_server();
    lab.step5_return(5);
    lab.step6_trial();
    lab.step7_upgrade(7);
    say("\n== 8. summary");
    lab.power_off();
    let consoles = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("pair-lab");
    lab.save_consoles(&consoles);
    say(&format!(
        "   the boxes' consoles: {}/*.log",
        consoles.display()
    ));
    say(&lab.report.table());
    let missed = lab.report.missed().len();
    say(&format!(
        "   the whole run took {:.0} s",
        started.elapsed().as_secs_f64()
    ));
    if missed > 0 {
        if demo {
            say(&format!("   {missed} bound(s) missed: see MISSED above"));
            std::process::exit(1);
        }
        panic!("{missed} bound(s) missed:\n{}", lab.report.table());
    }
    if !demo {
        println!("test result: ok. 1 passed; 0 failed");
    }
}

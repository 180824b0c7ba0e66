//! The fault matrix on the director pair lab (tests/common/pair.rs, the
//! rows in tests/common/pair/faults.rs and, for the faults made inside a
//! director, tests/common/pair/inside.rs), under the client's load: each
//! row holds its outage to a bound, its failed requests to the fault's
//! window, and checks the state after recovery. lvs1 boots the debug image
//! here (its shell, and the fault switch built in); lvs2 the production
//! one. The directors have a dedicated VRRP link (eth2) besides the LAN.
//! Rows: tampering behind pharos's back (ipvsadm -C, the VIP deleted,
//! a sysctl changed); a panic injected into the vrrp, check and ipvs
//! tasks; the wall clock stepped an hour forward and back; the config
//! partition read-only, full, and full in the middle of a write; the
//! partition going read-only in the middle of a revision's and of the
//! last good copy's write; every real server down, so the sorry server
//! answers; the VRRP link cut (split brain) and healed; the master's LAN
//! link pulled and put back; an invalid and a valid reload over the
//! management API; a real server's power cut (the timeout path) and its
//! return; the master's power cut and its return. Needs `make image` and
//! `make image VARIANT=debug` (`make test` does both).

mod common;

use common::pair::{Lab, Setup, say};

#[test]
fn the_pair_keeps_serving_through_faults_inside_and_around_it() {
    let mut lab = Lab::boot_with(Setup {
        debug_lvs1: true,
        vrrp_link: true,
    });
    lab.step1_requests();
    lab.fault_tamper(2);
    lab.fault_task_panics(3);
    lab.fault_clock_steps(4);
    lab.fault_config_partition(5);
    lab.fault_read_only_mid_write(6);
    lab.fault_sorry_server(7);
    lab.fault_split_brain(8);
    lab.fault_link_down(9);
    lab.fault_reloads(10);
    lab.fault_rs_power_cut(11);
    lab.fault_master_power_cut(12);
    lab.power_off();
    let consoles = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("fault-lab");
    lab.save_consoles(&consoles);
    say(&lab.report.table());
    let missed = lab.report.missed().len();
    assert_eq!(missed, 0, "bound(s) missed:\n{}", lab.report.table());
}

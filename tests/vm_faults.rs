//! The fault matrix on the director pair lab (tests/common/pair.rs, the
//! rows in tests/common/pair/faults.rs), under the client's load: each row
//! holds its outage to a bound, its failed requests to the fault's window,
//! and checks the state after recovery. Rows so far: the master's LAN link
//! pulled and put back; an invalid and a valid reload over the management
//! API; a real server's power cut (the timeout path) and its return. Needs `make image` and `make image VARIANT=debug` (`make test` does
//! both).

mod common;

use common::pair::{Lab, say};

#[test]
fn the_pair_keeps_serving_through_a_pulled_link_reloads_and_a_real_server_power_cut() {
    let mut lab = Lab::boot();
    lab.step1_requests();
    lab.fault_link_down(2);
    lab.fault_reloads(3);
    lab.fault_rs_power_cut(4);
    lab.power_off();
    let consoles = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("fault-lab");
    lab.save_consoles(&consoles);
    say(&lab.report.table());
    let missed = lab.report.missed().len();
    assert_eq!(missed, 0, "bound(s) missed:\n{}", lab.report.table());
}

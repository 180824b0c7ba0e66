//! Edge cases checked in `-Ln` and `-Sn` alike.

use super::fixtures::*;
use crate::ipvs::model::{Forward, Proto, ServiceKey, Table};
use crate::ipvs::render::{ListMode, list, save};

#[test]
fn empty_table() {
    let want = lines(&[
        "IP Virtual Server version 1.2.1 (size=4096)",
        "Prot LocalAddress:Port Scheduler Flags",
        "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn",
    ]);
    assert_eq!(list(&Table::default(), &INFO, ListMode::Plain), want);
    assert_eq!(save(&Table::default()), "");
}

#[test]
fn bypass_prints_as_glibc_null() {
    let t = table(vec![svc(
        tcp("10.0.0.1", 80),
        "rr",
        vec![dest("10.0.0.2", 80, Forward::Bypass, 1)],
    )]);
    assert!(
        list(&t, &INFO, ListMode::Plain)
            .ends_with("  -> 10.0.0.2:80                  (null)  1      0          0         \n")
    );
    assert!(save(&t).ends_with("-a -t 10.0.0.1:80 -r 10.0.0.2:80 (null) -w 1\n"));
}

#[test]
fn sctp_service() {
    let t = table(vec![svc(
        ServiceKey::Addr {
            proto: Proto::Sctp,
            addr: ip("10.0.0.1"),
            port: 9,
        },
        "rr",
        vec![],
    )]);
    assert!(list(&t, &INFO, ListMode::Plain).ends_with("\nSCTP 10.0.0.1:9 rr\n"));
    assert_eq!(save(&t), "-A --sctp-service 10.0.0.1:9 -s rr\n");
}

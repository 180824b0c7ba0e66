//! The fields both layouts share.

use std::net::Ipv6Addr;

use crate::ipvs::render::fields::ntop6;

#[test]
fn ntop6_matches_glibc() {
    // Checked against glibc 2.36 inet_ntop().
    let cases = [
        ("::", "::"),
        ("::1", "::1"),
        ("1::", "1::"),
        ("::1.2.3.4", "::1.2.3.4"),
        ("::ffff:1.2.3.4", "::ffff:1.2.3.4"),
        ("::ffff:0:0", "::ffff:0.0.0.0"),
        ("::0.0.1.0", "::100"),
        ("1:0:0:2:0:0:0:3", "1:0:0:2::3"),
        ("1:0:0:2:0:0:3:4", "1::2:0:0:3:4"),
        ("1:0:2:3:4:5:6:7", "1:0:2:3:4:5:6:7"),
        ("2001:db8::1:0:0:0", "2001:db8:0:0:1::"),
        ("fe80::ABCD", "fe80::abcd"),
    ];
    for (a, want) in cases {
        let a: Ipv6Addr = a.parse().unwrap();
        assert_eq!(ntop6(&a), want, "{a}");
    }
}

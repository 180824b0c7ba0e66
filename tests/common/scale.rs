//! The scale benches' and memory guards' generated config: 10,000
//! services of 10 real servers each (4.3 MB), as benches/ipvs_scale.sh
//! writes it.

use std::fmt::Write as _;

#[allow(dead_code)]
pub const SERVICES: u32 = 10_000;

/// The bench's file; `weight` for the first real server of every tenth
/// service (a 1% change of the real servers when it changes).
#[allow(dead_code)]
pub fn big_config(head: &str, forwarding: &str, weight: u32) -> String {
    let mut t = String::from(head);
    for i in 0..SERVICES {
        let a = format!("10.{}.{}.{}", i / 65536 % 256 + 10, i / 256 % 256, i % 256);
        let _ = write!(
            t,
            "[services.s{i}]\naddress = \"{a}:80\"\nforwarding = \"{forwarding}\"\n\n[services.s{i}.real_servers]\n"
        );
        for d in 1..=10 {
            let w = if d == 1 && i % 10 == 0 { weight } else { 1 };
            let _ = writeln!(
                t,
                "\"10.250.{}.{d}:80\" = {{ weight = {w} }}",
                i / 256 % 256
            );
        }
        t.push('\n');
    }
    t
}

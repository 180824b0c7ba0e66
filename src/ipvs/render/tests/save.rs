//! `-Sn`: the rules `ipvsadm-save -n` prints.

use super::fixtures::*;
use crate::ipvs::model::ServiceSpec;
use crate::ipvs::render::save;

#[test]
fn save_ipv4_nat_dr_tun_sorted() {
    let want = lines(&[
        "-A -t 10.0.0.1:80 -s rr",
        "-a -t 10.0.0.1:80 -r 10.0.1.2:80 -m -w 65535",
        "-a -t 10.0.0.1:80 -r 10.0.1.2:8080 -g -w 1",
        "-a -t 10.0.0.1:80 -r 10.0.1.3:8080 -m -w 1",
        "-A -t 10.0.0.2:443 -s wrr",
        "-a -t 10.0.0.2:443 -r 10.0.2.1:443 -i -w 0 --tun-type ipip",
        "-a -t 10.0.0.2:443 -r 10.0.2.2:443 -i -w 3 --tun-type ipip",
        "-A -u 10.0.0.1:53 -s wlc",
        "-a -u 10.0.0.1:53 -r 10.0.1.1:53 -g -w 1",
    ]);
    assert_eq!(save(&basic_table()), want);
}

#[test]
fn save_persistence_netmask_and_pe() {
    // --pe is saved even for the non-persistent service.
    let want = lines(&[
        "-A -t 10.0.0.5:0 -s wlc -p 300 -M 255.255.255.0",
        "-a -t 10.0.0.5:0 -r 10.0.5.1:0 -g -w 1",
        "-A -t 10.0.0.5:443 -s lc -p 3600",
        "-A -t 10.0.0.7:80 -s rr --pe sip",
        "-A -u 10.0.0.6:5060 -s rr -p 180 --pe sip",
        "-a -u 10.0.0.6:5060 -r 10.0.6.1:5060 -m -w 1",
    ]);
    assert_eq!(save(&persist_table()), want);
}

#[test]
fn save_sched_flags_and_ops() {
    // "sh" with only flag-3 has no name for it: ipvsadm leaves "-b ".
    let want = lines(&[
        "-A -t 10.0.0.3:80 -s sh -b sh-fallback,sh-port",
        "-a -t 10.0.0.3:80 -r 10.0.3.1:80 -g -w 1",
        "-A -t 10.0.0.3:81 -s mh -b mh-port",
        "-A -t 10.0.0.3:82 -s rr -b flag-1,flag-3",
        "-A -t 10.0.0.3:83 -s sh -b ",
        "-A -u 10.0.0.4:53 -s rr -o",
        "-a -u 10.0.0.4:53 -r 10.0.4.1:53 -g -w 1",
        "-A -u 10.0.0.4:54 -s sh -p 60 -o -b sh-fallback",
    ]);
    assert_eq!(save(&sched_table()), want);
}

#[test]
fn save_fwmark_and_ipv6() {
    let want = lines(&[
        "-A -t 10.0.0.9:80 -s rr",
        "-a -t 10.0.0.9:80 -r 10.0.9.1:80 -g -w 1",
        "-A -t [2001:db8::1]:80 -s wlc",
        "-a -t [2001:db8::1]:80 -r [2001:db8::10]:80 -m -w 1",
        "-a -t [2001:db8::1]:80 -r [2001:db8:0:0:1::]:8080 -m -w 1",
        "-A -t [2001:db8::1]:443 -s sh -p 300 -M 48",
        "-a -t [2001:db8::1]:443 -r [2001:db8::20]:443 -g -w 1",
        "-A -f 1 -s wlc",
        "-a -f 1 -r 10.0.3.1:0 -g -w 1",
        "-a -f 1 -r 10.0.3.2:0 -g -w 1",
        "-A -f 2 -6 -s rr -p 60 -M 64",
        "-a -f 2 -6 -r [2001:db8::a]:0 -g -w 1",
    ]);
    assert_eq!(save(&fwmark_v6_table()), want);
}

#[test]
fn save_tunnel_options_and_no_thresholds() {
    let want = lines(&[
        "-A -t 10.0.0.8:80 -s rr",
        "-a -t 10.0.0.8:80 -r 10.0.8.1:80 -i -w 1 --tun-type ipip",
        "-a -t 10.0.0.8:80 -r 10.0.8.2:80 -i -w 1 --tun-type gue --tun-port 5555 --tun-nocsum",
        "-a -t 10.0.0.8:80 -r 10.0.8.3:80 -i -w 1 --tun-type gue --tun-port 6080 --tun-csum",
        "-a -t 10.0.0.8:80 -r 10.0.8.4:80 -i -w 1 --tun-type gue --tun-port 65535 --tun-remcsum",
        "-a -t 10.0.0.8:80 -r 10.0.8.5:80 -i -w 1 --tun-type gre --tun-csum",
        "-a -t 10.0.0.8:80 -r 10.0.8.6:80 -i -w 1 --tun-type gre --tun-nocsum",
        "-a -t 10.0.0.8:80 -r 10.0.8.7:80 -g -w 2",
        "-a -t 10.0.0.8:80 -r [2001:db8::8]:80 -i -w 1 --tun-type gre --tun-nocsum",
    ]);
    assert_eq!(save(&tunnel_table()), want);
}

#[test]
fn netmask_is_the_kernel_be32() {
    // The kernel's __be32 for 255.255.240.0, read as a native u32.
    let mut s = persistent(svc(tcp("10.0.0.1", 0), "wlc", vec![]), 300, 32);
    s.spec.netmask = u32::from_ne_bytes([255, 255, 240, 0]);
    assert_eq!(s.spec.netmask, ServiceSpec::netmask_for(false, 20));
    let t = table(vec![s]);
    assert!(save(&t).contains(" -p 300 -M 255.255.240.0\n"));
}

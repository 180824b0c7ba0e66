use super::rules::*;
use super::*;
use std::fmt::Write as _;

use crate::config::model::{Forwarding, Scheduler, SchedulerFlag};
use crate::config::types::{Duration, Endpoint};
use crate::config::{self, Selection};

/// The errors of `pharos check`, less "configures nothing" for an
/// import that found nothing to import (its output is comments only,
/// and check rightly says so).
fn errors(c: &config::Checked) -> Vec<&crate::diag::Diagnostic> {
    c.diagnostics
        .iter()
        .filter(|d| d.is_error() && !d.message.starts_with("the file configures nothing"))
        .collect()
}

/// Imports `text` and asserts the result passes `pharos check`.
fn checked(text: &str) -> Import {
    let imp = import(text, "rules.save");
    let c = config::check_text(&imp.toml, &Selection::All);
    let errors = errors(&c);
    assert!(
        errors.is_empty(),
        "pharos check rejects the import of\n{text}\n---\n{}\n---\n{errors:#?}",
        imp.toml
    );
    imp
}

fn services(imp: &Import) -> crate::config::Config {
    let c = config::check_text(&imp.toml, &Selection::All);
    c.configs.into_iter().next().expect("a valid config").1
}

fn messages(imp: &Import) -> Vec<(usize, String)> {
    imp.warnings
        .iter()
        .map(|w| (w.line, w.message.clone()))
        .collect()
}

#[test]
fn a_nat_service_maps_scheduler_weights_and_ip_forward() {
    let imp = checked(
        "-A -t 10.0.0.1:80 -s rr\n\
         -a -t 10.0.0.1:80 -r 10.0.1.2:8080 -m -w 3\n\
         -a -t 10.0.0.1:80 -r 10.0.1.3:8080 -m -w 1\n\
         -a -t 10.0.0.1:80 -r 10.0.1.4:8080 -m -w 0\n",
    );
    assert!(imp.warnings.is_empty(), "{:?}", imp.warnings);
    let cfg = services(&imp);
    assert_eq!(cfg.system.ip_forward, Some(true));
    let svc = &cfg.services["tcp-10-0-0-1-80"];
    assert_eq!(svc.scheduler, Scheduler::Rr);
    assert_eq!(svc.forwarding, Forwarding::Nat);
    let weights: Vec<u32> = svc.real_servers.values().map(|r| r.weight.get()).collect();
    assert_eq!(weights, vec![3, 1, 0]);
    assert!(
        imp.toml.contains("\"10.0.1.3:8080\" = {}\n"),
        "{}",
        imp.toml
    );
    assert!(imp.toml.contains("\"10.0.1.4:8080\" = { weight = 0 }\n"));
}

#[test]
fn the_most_common_forwarding_is_the_services_and_the_others_are_per_server() {
    let imp = checked(
        "-A -t 10.0.0.1:80 -s wlc\n\
         -a -t 10.0.0.1:80 -r 10.0.1.2:80 -g\n\
         -a -t 10.0.0.1:80 -r 10.0.1.3:80 -i\n\
         -a -t 10.0.0.1:80 -r 10.0.1.4:80 -i\n",
    );
    let svc = &services(&imp).services["tcp-10-0-0-1-80"];
    assert_eq!(svc.forwarding, Forwarding::Tun);
    let ep: Endpoint = "10.0.1.2:80".parse().unwrap();
    assert_eq!(svc.real_servers[&ep].forwarding, Some(Forwarding::Dr));
    assert!(svc.tunnel.is_some());
}

#[test]
fn persistence_and_netmask_become_a_duration_and_a_prefix_length() {
    let imp = checked(
        "-A -t 192.168.1.10:443 -s wrr -p 300 -M 255.255.255.0\n\
         -a -t 192.168.1.10:443 -r 192.168.1.21:443 -g -w 1\n\
         -A -f 7 -6 -s rr -p 60 -M 64\n\
         -a -f 7 -6 -r [2001:db8::21]:0 -g -w 1\n",
    );
    assert!(imp.warnings.is_empty(), "{:?}", imp.warnings);
    let cfg = services(&imp);
    let web = &cfg.services["tcp-192-168-1-10-443"];
    assert_eq!(web.persistence, Some(Duration::from_secs(300)));
    assert_eq!(web.persistence_netmask, Some(24));
    assert!(imp.toml.contains("persistence = \"300s\"\n"));
    let mark = &cfg.services["fwm6-7"];
    assert_eq!(mark.persistence_netmask, Some(64));
    assert_eq!(mark.family, Some(crate::config::types::Family::Ipv6));
}

#[test]
fn long_options_and_ipvsadm_prefixes_read_like_the_short_ones() {
    let short = import(
        "-A -u 10.0.0.1:53 -s sh -b sh-fallback,sh-port -o -p 60\n\
         -a -u 10.0.0.1:53 -r 10.0.1.2:53 -m -w 2 -x 100 -y 10\n",
        "a",
    );
    let long = import(
        "ipvsadm --add-service --udp-service=10.0.0.1:domain --scheduler sh --sched-flags sh-fallback,sh-port --ops --persistent 60\n\
         /sbin/ipvsadm --add-server --udp-service 10.0.0.1:53 \\\n  --real-server 10.0.1.2 --masquerading --weight=2 --u-threshold 100 --l-threshold 10\n",
        "a",
    );
    assert_eq!(short, long);
    let cfg = services(&short);
    let svc = &cfg.services["udp-10-0-0-1-53"];
    assert!(svc.one_packet);
    assert_eq!(
        svc.scheduler_flags,
        vec![SchedulerFlag::Fallback, SchedulerFlag::Port]
    );
    let rs = svc.real_servers.values().next().unwrap();
    assert_eq!(
        (rs.upper_threshold, rs.lower_threshold),
        (Some(100), Some(10))
    );
}

#[test]
fn what_cannot_be_mapped_becomes_a_comment_and_a_warning() {
    let imp = checked(
        "-A -t 10.0.0.1:5060 -s rr -p 30 --pe sip --frobnicate 3\n\
         -a -t 10.0.0.1:5060 -r 10.0.1.2:5060 -g -w 1 -q\n\
         -a -t 10.0.0.9:80 -r 10.0.1.2:80 -g -w 1\n\
         -A -t www.example.com:http -s rr\n",
    );
    let m = messages(&imp);
    assert_eq!(m.len(), 5, "{m:#?}");
    assert_eq!(m[0].0, 1);
    assert!(m[0].1.contains("`--frobnicate 3` not imported"), "{m:#?}");
    assert!(m[1].1.contains("`--pe sip` not imported"), "{m:#?}");
    assert_eq!(m[2].0, 2);
    assert!(m[2].1.contains("`-q`"));
    assert_eq!(m[3].0, 3);
    assert!(m[3].1.contains("never added"), "{m:#?}");
    assert!(m[4].1.contains("host name"), "{m:#?}");
    for (line, message) in &m {
        let c = format!("# line {line}: {message}");
        assert!(imp.toml.contains(&c), "{c} missing from\n{}", imp.toml);
    }
    assert!(
        imp.toml
            .contains("#   -a -t 10.0.0.9:80 -r 10.0.1.2:80 -g -w 1\n")
    );
}

#[test]
fn real_servers_of_a_service_not_imported_say_so() {
    let imp = checked(
        "-A -t 10.0.0.1:0 -s rr\n\
         -a -t 10.0.0.1:0 -r 10.0.1.2:0 -g -w 1\n",
    );
    let m = messages(&imp);
    assert!(m[0].1.contains("needs persistence"), "{m:#?}");
    assert_eq!(
        m[1],
        (
            2,
            "not imported: its service, on line 1, was not imported".into()
        )
    );
}

#[test]
fn ipvsadm_checks_are_kept_so_the_output_passes_check() {
    let imp = checked(
        "-A -t 10.0.0.1:80 -s rr -o -b sh-port -M 255.255.0.0\n\
         -a -t 10.0.0.1:80 -r 10.0.1.2:8080 -g\n\
         -a -t 10.0.0.1:80 -r 10.0.0.1:80 -g\n\
         -a -t 10.0.0.1:80 -r [2001:db8::2]:80 -m\n\
         -a -t 10.0.0.1:80 -r 10.0.1.2:80 -g\n\
         -a -t 10.0.0.1:80 -r 10.0.1.3:80 -m -x 10 -y 20\n\
         -A -t 10.0.0.2 -s rr -p\n\
         -a -t 10.0.0.2 -r 10.0.1.2:8080 -m\n\
         -a -t 10.0.0.2 -r 10.0.1.3 -m\n",
    );
    let m: Vec<String> = messages(&imp).into_iter().map(|m| m.1).collect();
    let expect = [
        "`-o` not imported: one-packet",
        "`-b sh-port` not imported",
        "`-M 255.255.0.0` not imported",
        "real server port 8080 became 80",
        "the VIP itself",
        "is IPv6 but the service is IPv4",
        "10.0.1.2:80 was already added on line 2",
        "`-y 20` not imported",
        "has a port but the service takes all ports",
    ];
    assert_eq!(m.len(), expect.len(), "{m:#?}");
    for (got, want) in m.iter().zip(expect) {
        assert!(got.contains(want), "{got:?} should contain {want:?}");
    }
    let cfg = services(&imp);
    assert_eq!(
        cfg.services["tcp-10-0-0-2"].persistence,
        Some(Duration::from_secs(300))
    );
}

#[test]
fn restore_commands_apply_in_order() {
    let imp = checked(
        "-C\n\
         -A -t 10.0.0.1:80 -s rr\n\
         -a -t 10.0.0.1:80 -r 10.0.1.2:80 -m\n\
         -a -t 10.0.0.1:80 -r 10.0.1.3:80 -m\n\
         -E -t 10.0.0.1:80 -s wrr\n\
         -e -t 10.0.0.1:80 -r 10.0.1.2:80 -m -w 5\n\
         -d -t 10.0.0.1:80 -r 10.0.1.3:80\n\
         -A -t 10.0.0.2:80 -s rr\n\
         -D -t 10.0.0.2:80\n\
         --set 900 0 300\n",
    );
    assert!(imp.warnings.is_empty(), "{:?}", imp.warnings);
    let cfg = services(&imp);
    assert_eq!(cfg.services.len(), 1);
    let svc = &cfg.services["tcp-10-0-0-1-80"];
    assert_eq!(svc.scheduler, Scheduler::Wrr);
    let weights: Vec<u32> = svc.real_servers.values().map(|r| r.weight.get()).collect();
    assert_eq!(weights, vec![5]);
    let t = cfg.ipvs.timeouts.unwrap();
    assert_eq!((t.tcp, t.tcpfin), (Some(Duration::from_secs(900)), None));
}

#[test]
fn ipv6_services_get_readable_names_and_bracketed_keys() {
    let imp = checked(
        "-A -t [2001:db8::10]:443 -s wlc\n\
         -a -t [2001:db8::10]:443 -r [2001:db8::21]:443 -m -w 1\n",
    );
    assert!(
        imp.toml.contains("[services.tcp-2001-db8--10-443]\n"),
        "{}",
        imp.toml
    );
    assert!(imp.toml.contains("\"[2001:db8::21]:443\" = {}\n"));
    assert!(imp.toml.contains("ipv6_forward = true"));
}

#[test]
fn words_split_like_a_shell() {
    assert_eq!(
        crate::import::shell_words(r#"-A -t '10.0.0.1:80' "-s" r\r # comment"#, true).unwrap(),
        vec!["-A", "-t", "10.0.0.1:80", "-s", "rr"]
    );
    assert!(crate::import::shell_words("-A 'open", true).is_err());
    let lines = logical_lines("a \\\nb\n# c \\\nd\n");
    let words: Vec<_> = lines
        .iter()
        .map(|l| (l.number, l.words.clone().unwrap()))
        .collect();
    assert_eq!(
        words,
        vec![
            (1, vec!["a".to_string(), "b".into()]),
            (3, vec![]),
            (4, vec!["d".into()])
        ]
    );
}

#[test]
fn garbage_never_panics_and_still_passes_check() {
    let commands = [
        "-A", "-A", "-A", "-a", "-a", "-a", "-a", "-a", "-E", "-e", "-d", "-D", "--set",
    ];
    let selectors = [
        "-t 10.0.0.1:80",
        "-t 10.0.0.1",
        "-u 10.0.0.1:53",
        "-f 5",
        "-f 5 -6",
        "--sctp-service 10.0.0.3:9",
        "-t [2001:db8::1]:80",
        "-t [2001:db8::1]:0",
    ];
    let servers = [
        "10.0.1.2:80",
        "10.0.1.3",
        "10.0.1.4:8080",
        "10.0.0.1:80",
        "[2001:db8::2]:80",
        "2001:db8::5",
        "10.0.1.5:0",
    ];
    let pieces = [
        "-A",
        "-a",
        "-t",
        "-u",
        "-f",
        "-6",
        "-s",
        "rr",
        "sh",
        "mh",
        "bogus",
        "-p",
        "-M",
        "255.255.255.0",
        "255.0.255.0",
        "64",
        "-o",
        "-b",
        "sh-port,flag-3",
        "mh-fallback",
        "-r",
        "-r",
        "-r",
        "-m",
        "-m",
        "-g",
        "-i",
        "-i",
        "-w",
        "0",
        "1",
        "65536",
        "-x",
        "-y",
        "--tun-type",
        "gue",
        "gre",
        "--tun-port",
        "6080",
        "--tun-csum",
        "--tun-remcsum",
        "--tun-nocsum",
        "-C",
        "10.0.0.1:80",
        "10.0.0.1",
        "10.0.1.2:80",
        "10.0.1.2:8080",
        "10.0.1.3",
        "[2001:db8::1]:80",
        "2001:db8::2",
        "[2001:db8::3]:8080",
        "[::ffff:10.0.0.1]:0",
        "5",
        "4294967296",
        "host:http",
        "10.0.1.4:https",
        "'",
        "\"",
        "\\",
        "#",
        "--pe",
        "sip",
        "=",
        "--weight=",
        "-w7",
        "-gw",
        "\u{1}",
        "é",
        "[",
        "]:",
        ":",
        "-",
        "--",
        "ipvsadm",
        "--start-daemon",
        "master",
        "-Z",
        "300",
    ];
    let mut rng = fastrand::Rng::with_seed(0x1905);
    let (mut services, mut reals) = (0, 0);
    for round in 0..400 {
        let mut text = String::new();
        // Most rounds declare some services first, as real dumps do.
        for sel in selectors {
            if rng.bool() {
                let p = if rng.bool() { " -p 60" } else { "" };
                let _ = writeln!(text, "-A {sel} -s rr{p}");
            }
        }
        for _ in 0..rng.usize(1..30) {
            if rng.u8(..) < 200 {
                let command = commands[rng.usize(..commands.len())];
                text.push_str(command);
                text.push(' ');
                text.push_str(selectors[rng.usize(..selectors.len())]);
                text.push(' ');
                if matches!(command, "-a" | "-e" | "-d") && rng.u8(..) < 230 {
                    text.push_str("-r ");
                    text.push_str(servers[rng.usize(..servers.len())]);
                    text.push_str([" -m ", " -g ", " -i ", " "][rng.usize(..4)]);
                }
            }
            for _ in 0..rng.usize(0..6) {
                if rng.u8(..) < 4 {
                    text.push(char::from(rng.u8(..)));
                } else {
                    text.push_str(pieces[rng.usize(..pieces.len())]);
                }
                text.push(if rng.u8(..) < 10 { '\t' } else { ' ' });
            }
            text.push('\n');
        }
        let imp = import(&text, "fuzz\n.save");
        let c = config::check_text(&imp.toml, &Selection::All);
        let errors = errors(&c);
        assert!(
            errors.is_empty(),
            "round {round}:\n{text}\n---\n{}\n---\n{errors:#?}",
            imp.toml
        );
        let Some((_, cfg)) = c.configs.first() else {
            continue; // nothing imported
        };
        services += cfg.services.len();
        reals += cfg
            .services
            .values()
            .map(|s| s.real_servers.len())
            .sum::<usize>();
    }
    // Close enough to rules for many services and real servers to come through.
    assert!(
        services > 1000 && reals > 250,
        "{services} services, {reals} real servers"
    );
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = fastrand::Rng::with_seed(7);
    for _ in 0..200 {
        let bytes: Vec<u8> = (0..rng.usize(0..600)).map(|_| rng.u8(..)).collect();
        let text = String::from_utf8_lossy(&bytes);
        let imp = import(&text, "random");
        assert!(imp.toml.starts_with("# Imported from"));
    }
}

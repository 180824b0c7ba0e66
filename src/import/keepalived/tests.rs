//! Unit tests of the keepalived importer on in-memory texts.

use std::collections::HashMap;

use super::*;
use crate::config::model::{CheckType, FailureAction, Forwarding, Protocol};
use crate::config::{self, Config, Selection};

fn src(name: &str, text: &str) -> Source {
    Source {
        name: name.into(),
        text: text.into(),
    }
}

fn one(text: &str) -> Import {
    import(
        &src("keepalived.conf", text),
        &mut no_includes,
        Options::default(),
    )
}

/// The merged config of a node (or the only one), asserting it checks.
fn config_of(toml: &str, node: Option<&str>) -> Config {
    let sel = node.map_or(Selection::All, |n| Selection::Node(n.into()));
    let c = config::check_text(toml, &sel);
    let errors: Vec<_> = c.diagnostics.iter().filter(|d| d.is_error()).collect();
    assert!(errors.is_empty(), "{errors:#?}\n{toml}");
    c.configs.into_iter().next().expect("a config").1
}

fn messages(imp: &Import) -> Vec<(usize, String)> {
    imp.warnings
        .iter()
        .map(|w| (w.line, w.message.clone()))
        .collect()
}

const INSTANCE: &str = "vrrp_instance VI_1 {
    state MASTER
    interface eth0
    virtual_router_id 51
    priority 150
    advert_int 1
    authentication {
        auth_type PASS
        auth_pass 12345678910
    }
    virtual_ipaddress {
        192.168.4.80/24
    }
}
";

#[test]
fn an_instance_maps_and_its_state_becomes_a_comment() {
    let imp = one(INSTANCE);
    let cfg = config_of(&imp.toml, None);
    let vi = &cfg.vrrp["VI_1"];
    assert_eq!((vi.vrid.get(), vi.priority.get()), (51, 150));
    assert_eq!(vi.interface.as_str(), "eth0");
    assert!(
        imp.toml
            .contains("priority = 150                          # keepalived `state MASTER`; pharos elects by priority\n"),
        "{}",
        imp.toml
    );
    assert!(!imp.toml.contains("state ="));
    // keepalived sends the first 8 bytes of a longer password.
    assert_eq!(
        vi.authentication.as_ref().unwrap().password.as_deref(),
        Some("12345678")
    );
    assert_eq!(messages(&imp).len(), 1, "{:?}", imp.warnings);
    assert!(imp.toml.contains("[interfaces.eth0]"));
}

#[test]
fn misspellings_are_named_and_only_imported_when_asked() {
    let text = "vrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 5\n    no_premmpt\n    virtual_ipaddress {\n 10.0.0.1/24\n }\n}\n";
    let plain = one(text);
    assert_eq!(
        messages(&plain),
        vec![(
            4,
            "unknown keyword `no_premmpt`, did you mean `nopreempt`? (keepalived ignores it; pass --fix-typos to import it as `nopreempt`)".to_string()
        )]
    );
    assert!(config_of(&plain.toml, None).vrrp["VI_1"].preempt);
    let fixed = import(
        &src("k.conf", text),
        &mut no_includes,
        Options { fix_typos: true },
    );
    assert!(!config_of(&fixed.toml, None).vrrp["VI_1"].preempt);
    assert!(
        fixed.warnings[0]
            .message
            .contains("imported as `nopreempt`")
    );
    assert!(
        fixed
            .toml
            .contains("# line 4: unknown keyword `no_premmpt` imported as `nopreempt`")
    );
}

#[test]
fn a_word_far_from_any_keyword_is_unknown_not_a_typo() {
    let imp = one("global_defs {\n  frobnicate_everything yes\n}\nzzz_block {\n  a 1\n}\n");
    assert_eq!(
        messages(&imp),
        vec![
            (
                2,
                "unknown keyword `frobnicate_everything` not imported (keepalived ignores it)"
                    .into()
            ),
            (
                4,
                "unknown block `zzz_block` (lines 4-6) not imported (keepalived ignores it)".into()
            ),
        ]
    );
}

#[test]
fn virtual_servers_take_keepalived_defaults() {
    let imp = one(
        "virtual_server 10.0.0.1 80 {\n  protocol TCP\n  real_server 10.0.1.2 80 {\n    TCP_CHECK {\n    }\n  }\n}\n",
    );
    let cfg = config_of(&imp.toml, None);
    let svc = cfg.services.values().next().unwrap();
    // No lb_kind: NAT (which needs forwarding); no inhibit: removed on failure.
    assert_eq!(svc.forwarding, Forwarding::Nat);
    assert_eq!(cfg.system.ip_forward, Some(true));
    assert_eq!(svc.on_failure, FailureAction::Remove);
    let check = svc.check.as_ref().unwrap();
    assert_eq!(check.kind, CheckType::Tcp);
    assert_eq!(check.interval, config::types::Duration::from_secs(60));
    assert!(
        imp.toml
            .contains("# line 4: no delay_loop: keepalived's default, 60s")
    );
}

#[test]
fn a_real_or_sorry_server_that_is_no_hosts_address_is_left_out() {
    // Found by the fuzzer: the kernel (and `pharos check`) take no
    // multicast, broadcast or unspecified address for a real server.
    let imp = one(
        "virtual_server 10.0.0.1 80 {\n  protocol TCP\n  sorry_server 239.1.2.3 80\n  \
         real_server 224.168.70.22 80 {\n  }\n  real_server 255.255.255.255 80 {\n  }\n  \
         real_server 10.0.1.2 80 {\n  }\n}\n",
    );
    let cfg = config_of(&imp.toml, None);
    let svc = cfg.services.values().next().unwrap();
    let servers: Vec<String> = svc.real_servers.keys().map(|e| e.to_string()).collect();
    assert_eq!(servers, ["10.0.1.2:80"]);
    assert_eq!(svc.sorry_server, None);
    for text in [
        "real server 224.168.70.22 not imported: it is a multicast address, not one host's",
        "real server 255.255.255.255 not imported: it is the broadcast address, not one host's",
        "`sorry_server 239.1.2.3` not imported: it is a multicast address, not one host's",
    ] {
        assert!(imp.toml.contains(text), "{text}\n{}", imp.toml);
    }
}

#[test]
fn a_virtual_server_without_protocol_is_udp_as_keepalived_runs_it() {
    // keepalived 2.2.7 logs "no protocol set - defaulting to UDP".
    let imp = one("virtual_server 10.0.0.1 53 {\n  real_server 10.0.1.2 53 {\n  }\n}\n");
    let cfg = config_of(&imp.toml, None);
    let (name, svc) = cfg.services.iter().next().unwrap();
    assert_eq!(
        (name.as_str(), svc.protocol),
        ("udp-10-0-0-1-53", Protocol::Udp)
    );
    assert!(
        messages(&imp)
            .iter()
            .any(|(_, m)| m.contains("runs a UDP service")),
        "{:?}",
        imp.warnings
    );
}

#[test]
fn a_dr_real_server_on_another_port_moves_but_its_check_does_not() {
    let imp = one(
        "virtual_server 10.0.0.1 80 {\n lb_kind DR\n protocol TCP\n real_server 10.0.1.2 8080 {\n  TCP_CHECK {\n  }\n }\n}\n",
    );
    let svc = config_of(&imp.toml, None)
        .services
        .into_values()
        .next()
        .unwrap();
    let (ep, _) = svc.real_servers.iter().next().unwrap();
    assert_eq!(ep.port, Some(80));
    assert_eq!(
        svc.check.as_ref().unwrap().port.map(|p| p.get()),
        Some(8080)
    );
    assert!(
        imp.warnings[0]
            .message
            .starts_with("real server port 8080 became 80")
    );
}

#[test]
fn checks_all_real_servers_share_are_written_once() {
    let rs = |ip: &str, path: &str| {
        format!(
            " real_server {ip} 80 {{\n  HTTP_GET {{\n   url {{\n    path {path}\n    status_code 200-299 301\n   }}\n  }}\n }}\n"
        )
    };
    let text = format!(
        "virtual_server 10.0.0.1 80 {{\n lb_kind DR\n protocol TCP\n delay_loop 3\n{}{}{}}}\n",
        rs("10.0.1.2", "/a"),
        rs("10.0.1.3", "/a"),
        rs("10.0.1.4", "b")
    );
    let imp = one(&text);
    let svc = config_of(&imp.toml, None)
        .services
        .into_values()
        .next()
        .unwrap();
    let c = svc.check.clone().unwrap();
    assert_eq!(c.path.as_deref(), Some("/a"));
    assert_eq!(c.status.unwrap().len(), 2);
    let odd = svc
        .real_servers
        .values()
        .filter(|r| r.check.is_some())
        .count();
    assert_eq!(odd, 1);
    assert!(
        imp.warnings
            .iter()
            .any(|w| w.message.contains("became `/b`"))
    );
}

#[test]
fn notify_commands_are_argv_and_bare_names_go_through_env() {
    let text = format!(
        "{}vrrp_instance VI_2 {{\n interface eth0\n virtual_router_id 6\n virtual_ipaddress {{\n 10.0.0.2/24\n }}\n notify_master \"/usr/bin/logger -t 'vrrp x' up\"\n notify_backup logger down\n notify \"/bin/echo a > /tmp/x\"\n}}\n",
        INSTANCE
    );
    let imp = one(&text);
    let n = config_of(&imp.toml, None).vrrp["VI_2"].notify.clone();
    assert_eq!(n.master.unwrap(), ["/usr/bin/logger", "-t", "vrrp x", "up"]);
    assert_eq!(n.backup.unwrap(), ["/usr/bin/env", "logger", "down"]);
    assert_eq!(n.any.unwrap(), ["/bin/sh", "-c", "/bin/echo a > /tmp/x"]);
    assert!(
        imp.warnings
            .iter()
            .any(|w| w.message.contains("shell syntax"))
    );
    assert!(
        imp.warnings
            .iter()
            .any(|w| w.message.contains("PHAROS_STATE"))
    );
}

#[test]
fn includes_are_read_through_the_callback_and_named_in_warnings() {
    let files: HashMap<&str, &str> = HashMap::from([
        ("/etc/keepalived/conf.d/a.conf", INSTANCE),
        ("/etc/keepalived/conf.d/b.conf", "bogus_keyword 1\n"),
        ("/etc/keepalived/conf.d/c.txt", "not read\n"),
    ]);
    let mut include = |from: &str, pattern: &str| -> Result<Vec<Source>, String> {
        let dir = std::path::Path::new(from).parent().unwrap();
        let full = dir.join(pattern).display().to_string();
        let mut names: Vec<&&str> = files.keys().filter(|k| glob_match_path(&full, k)).collect();
        names.sort();
        Ok(names.into_iter().map(|n| src(n, files[*n])).collect())
    };
    let imp = import(
        &src("/etc/keepalived/keepalived.conf", "include conf.d/*.conf\n"),
        &mut include,
        Options::default(),
    );
    assert!(config_of(&imp.toml, None).vrrp.contains_key("VI_1"));
    let w = imp.warnings.last().unwrap();
    assert_eq!(
        (w.file.as_deref(), w.line),
        (Some("/etc/keepalived/conf.d/b.conf"), 1)
    );
    assert!(
        imp.toml
            .contains("# line 1 of conf.d/b.conf: unknown keyword `bogus_keyword`")
    );
}

/// A whole path against a pattern, component by component.
fn glob_match_path(pattern: &str, path: &str) -> bool {
    let p: Vec<&str> = pattern.split('/').collect();
    let n: Vec<&str> = path.split('/').collect();
    p.len() == n.len() && p.iter().zip(&n).all(|(p, n)| glob_match(p, n))
}

#[test]
fn globs_match_as_glob_3_does() {
    assert!(glob_match("*.conf", "a.conf"));
    assert!(!glob_match("*.conf", ".hidden.conf"));
    assert!(!glob_match("*.conf", "a.conf.bak"));
    assert!(glob_match("[0-9]*-?.conf", "10-a.conf"));
    assert!(!glob_match("[!0-9]*", "1x"));
    assert!(glob_match("{vrrp,lvs}-*.conf", "lvs-web.conf"));
    assert!(glob_match("a\\*", "a*"));
    assert!(!glob_match("a\\*", "ab"));
    assert!(glob_match("*", "x"));
    assert!(!glob_match("[", "["));
}

const PAIR_A: &str = "global_defs {\n router_id lb1\n}\nvrrp_instance VI_1 {\n state MASTER\n notify_master /usr/local/bin/m\n interface eth0\n virtual_router_id 51\n priority 150\n unicast_src_ip 10.0.0.2\n unicast_peer {\n  10.0.0.3\n }\n virtual_ipaddress {\n  10.0.0.10/24\n }\n}\nvirtual_server 10.0.0.10 80 {\n lb_kind DR\n protocol TCP\n real_server 10.0.0.21 80 {\n  weight 2\n }\n}\n";

#[test]
fn a_pair_shares_what_is_alike_and_overlays_what_differs() {
    let a = src("lb1.conf", PAIR_A);
    let b_text = PAIR_A
        .replace("lb1", "lb2")
        .replace("MASTER", "BACKUP")
        .replace("priority 150", "priority 100")
        .replace("10.0.0.2\n", "10.0.0.X\n")
        .replace("  10.0.0.3\n", "  10.0.0.2\n")
        .replace("10.0.0.X", "10.0.0.3")
        .replace(
            "virtual_server 10.0.0.10 80 {",
            "virtual_server 10.0.0.10 443 {",
        )
        .replace("10.0.0.21 80", "10.0.0.21 443")
        .replace(" notify_master /usr/local/bin/m\n", "");
    let b = src("lb2.conf", &b_text);
    let opts = Options::default();
    let pair = import_pair(&a, &b, &mut no_includes, opts);
    for (s, node) in [(&a, "lb1"), (&b, "lb2")] {
        let alone = import(s, &mut no_includes, opts);
        assert_eq!(
            config_of(&pair.toml, Some(node)),
            config_of(&alone.toml, None),
            "{}",
            pair.toml
        );
    }
    assert!(pair.toml.contains("[nodes.lb1]"));
    assert!(pair.toml.contains("vrrp.VI_1.priority = 150"));
    assert!(pair.toml.contains("[nodes.lb2.services.tcp-10-0-0-10-443]"));
    // A table only one node has, under one its dotted keys made.
    assert!(pair.toml.contains("[nodes.lb1.vrrp.VI_1.notify]"));
    // What both say is said once, at the top level.
    assert_eq!(pair.toml.matches("vrid = 51").count(), 1);
}

#[test]
fn a_pair_without_distinct_router_ids_is_told_apart_by_file_name() {
    let a = src("/etc/a/primary.conf", INSTANCE);
    let b = src(
        "/etc/b/secondary.conf",
        &INSTANCE.replace("priority 150", "priority 50"),
    );
    let pair = import_pair(&a, &b, &mut no_includes, Options::default());
    assert!(pair.toml.contains("[nodes.primary]"));
    assert!(!pair.toml.contains("match ="));
    assert!(pair.toml.contains("--node primary"));
    assert_eq!(
        config_of(&pair.toml, Some("secondary")).vrrp["VI_1"]
            .priority
            .get(),
        50
    );
    // The warnings of both files name their file.
    let files: Vec<_> = pair.warnings.iter().map(|w| w.file.clone()).collect();
    assert_eq!(
        files,
        vec![
            Some("/etc/a/primary.conf".to_string()),
            Some("/etc/b/secondary.conf".to_string())
        ]
    );
}

#[test]
fn braces_that_do_not_balance_are_reported_where_they_are() {
    let imp = one(
        "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 5\n virtual_ipaddress {\n  10.0.0.1/24\n }\nvirtual_server 10.0.0.1 80 {\n lb_kind DR\n real_server 10.0.0.5 80\n}\n}\n",
    );
    let m = messages(&imp);
    assert!(
        m.iter()
            .any(|(l, s)| *l == 7 && s.contains("a `}` is probably missing")),
        "{m:?}"
    );
    assert!(
        m.iter()
            .any(|(l, s)| *l == 11 && s.contains("no block open")),
        "{m:?}"
    );
    let cfg = config_of(&imp.toml, None);
    assert_eq!((cfg.vrrp.len(), cfg.services.len()), (1, 1));
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = fastrand::Rng::with_seed(9);
    let alphabet = b"{}\"'#!\n \\vrrp_instance";
    for _ in 0..300 {
        let bytes: Vec<u8> = (0..rng.usize(0..600))
            .map(|_| {
                if rng.bool() {
                    alphabet[rng.usize(..alphabet.len())]
                } else {
                    rng.u8(..)
                }
            })
            .collect();
        let imp = one(&String::from_utf8_lossy(&bytes));
        assert!(imp.toml.starts_with("# Imported from"));
    }
}

#[test]
fn use_vmac_becomes_virtual_mac_and_its_name_and_xmit_base_are_noted() {
    let text = INSTANCE.replace(
        "    priority 150\n",
        "    priority 150\n    use_vmac vrrp51\n    vmac_xmit_base\n",
    );
    let imp = one(&text);
    let cfg = config_of(&imp.toml, None);
    assert!(cfg.vrrp["VI_1"].virtual_mac, "{}", imp.toml);
    assert!(imp.toml.contains("virtual_mac = true"), "{}", imp.toml);
    let toml = &imp.toml;
    assert!(
        toml.contains("`vrrp51` not imported: pharos names the virtual MAC's macvlan vrrp.51"),
        "{toml}"
    );
    assert!(toml.contains("`vmac_xmit_base` not imported"), "{toml}");
    // keepalived's default name is pharos's: nothing to say about it.
    let imp = one(&INSTANCE.replace("    priority 150\n", "    priority 150\n    use_vmac\n"));
    assert!(config_of(&imp.toml, None).vrrp["VI_1"].virtual_mac);
    assert!(
        !imp.toml.contains("not imported: pharos names"),
        "{}",
        imp.toml
    );
    // VIPs on another device: with use_vmac they go on the macvlan instead.
    let imp = one(&INSTANCE
        .replace("    priority 150\n", "    priority 150\n    use_vmac\n")
        .replace("192.168.4.80/24\n", "192.168.4.80/24 dev eth1\n"));
    let cfg = config_of(&imp.toml, None);
    assert!(cfg.vrrp["VI_1"].vip_interface.is_none(), "{}", imp.toml);
    assert!(
        imp.toml
            .contains("`dev eth1` of the virtual addresses not imported"),
        "{}",
        imp.toml
    );
}

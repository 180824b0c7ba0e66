//! The defaults `pharos import keepalived` writes are what keepalived 2.2
//! (from apt) runs, seen on the wire: a keepalived.conf whose instances
//! leave out `priority` (or misspell it) runs in a network namespace of the
//! test's own, tcpdump there captures the adverts, and each instance's
//! advertised priority must be the one the importer writes for the same
//! file. keepalived derives it from `state` (vrrp.c,
//! `vrrp_complete_instance`): 255, the address owner, for `state MASTER`;
//! 100 otherwise.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::keepalived::Keepalived;
use common::lan::Lan;
use common::netns::Netns;
use pharos::config::{self, Selection};

/// Each instance: its name, VRID, and what keepalived is expected to
/// advertise. VIPs are 10.9.0.VRID on the LAN's 10.9.0.0/24.
const INSTANCES: &[(&str, u8, &str, u8)] = &[
    ("MASTER_NO_PRIO", 51, "state MASTER", 255),
    ("MASTER_TYPO", 52, "state MASTER\n  priorty 150", 255),
    ("BACKUP_NO_PRIO", 53, "state BACKUP", 100),
    ("NO_STATE", 54, "", 100),
];

fn conf() -> String {
    let mut c = String::from("global_defs {\n  router_id ka\n  vrrp_garp_master_delay 0\n}\n");
    for (name, vrid, lines, _) in INSTANCES {
        c.push_str(&format!(
            "vrrp_instance {name} {{\n  {lines}\n  interface eth0\n  virtual_router_id {vrid}\n  advert_int 1\n  virtual_ipaddress {{\n    10.9.0.{vrid}/24\n  }}\n}}\n"
        ));
    }
    c
}

/// tcpdump in a namespace, killed when dropped (even when the test fails).
struct Capture(Child);

impl Capture {
    fn start(ns: &Netns) -> (Capture, mpsc::Receiver<String>) {
        let mut child = ns
            .exec(&[
                "timeout",
                "60",
                "tcpdump",
                "-l",
                "-nn",
                "-v",
                "-i",
                "eth0",
                "ip proto 112",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("tcpdump is installed (make test installs it)");
        let out = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        (Capture(child), rx)
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `VRRPv2, Advertisement, vrid 51, prio 255, ...` → (51, 255).
fn vrid_prio(line: &str) -> Option<(u8, u8)> {
    let number = |key: &str| -> Option<u8> {
        let rest = &line[line.find(key)? + key.len()..];
        rest.split(|c: char| !c.is_ascii_digit())
            .next()?
            .parse()
            .ok()
    };
    Some((number("vrid ")?, number("prio ")?))
}

/// The priority each VRID advertises first (a stopping instance's 0 aside).
fn advertised(ns: &Netns, conf: &str) -> (BTreeMap<u8, u8>, String) {
    let (_capture, lines) = Capture::start(ns);
    // tcpdump attaches before keepalived sends; a missed first advert is
    // repeated a second later anyway.
    std::thread::sleep(Duration::from_millis(800));
    let ka = Keepalived::start(ns, conf);
    let mut seen = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while seen.len() < INSTANCES.len() && Instant::now() < deadline {
        let Ok(line) = lines.recv_timeout(Duration::from_millis(200)) else {
            continue;
        };
        if let Some((vrid, prio)) = vrid_prio(&line)
            && prio != 0
        {
            seen.entry(vrid).or_insert(prio);
        }
    }
    (seen, ka.log())
}

#[test]
fn priorities_left_out_import_as_keepalived_advertises_them() {
    let lan = Lan::new(1);
    let conf = conf();
    let (seen, log) = advertised(&lan.nodes[0], &conf);
    let want: BTreeMap<u8, u8> = INSTANCES.iter().map(|i| (i.1, i.3)).collect();
    assert_eq!(
        seen, want,
        "keepalived 2.2's adverts (vrid → priority) are not what keepalived's source says\nkeepalived log:\n{log}"
    );

    // The importer, on the same file, as the CLI runs it.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keepalived.conf");
    std::fs::write(&path, &conf).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_pharos"))
        .args(["import", "keepalived"])
        .arg(&path)
        .output()
        .unwrap();
    let toml = String::from_utf8(out.stdout).unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let checked = config::check_text(&toml, &Selection::All);
    assert!(!checked.has_errors(), "{:?}\n{toml}", checked.diagnostics);
    let cfg = checked.configs.into_iter().next().unwrap().1;
    for (name, vrid, _, _) in INSTANCES {
        let imported = cfg.vrrp[*name].priority.get();
        assert_eq!(
            Some(&imported),
            seen.get(vrid),
            "{name}: imported priority {imported}, keepalived advertised {:?}\n{toml}",
            seen.get(vrid)
        );
    }
    // The comment says where the number comes from.
    assert!(
        toml.contains("priority = 255") && toml.contains("keepalived runs `state MASTER` at 255"),
        "{toml}"
    );
    assert!(
        toml.contains("keepalived runs `state BACKUP` at 100"),
        "{toml}"
    );
}

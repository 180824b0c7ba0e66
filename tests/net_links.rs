//! Links and addresses applied over rtnetlink, in a network namespace of
//! the test's own: addresses with prefixes (IPv4 and IPv6), MTU, up, the DR
//! real-server VIP on lo; a reload that changes nothing touches nothing; an
//! address dropped from the config is removed while one added by hand stays;
//! an address removed behind pharos's back is put back by the monitor; a
//! link the box lacks is reported and the rest still applied.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::netns::{Netns, start};

const BIN: &str = env!("CARGO_BIN_EXE_pharos");

fn addrs(ns: &Netns, dev: &str) -> Vec<String> {
    let out = ns
        .exec(&["ip", "-j", "addr", "show", "dev", dev])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v[0]["addr_info"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["scope"] != "link")
        .map(|a| format!("{}/{}", a["local"].as_str().unwrap(), a["prefixlen"]))
        .collect()
}

fn link(ns: &Netns, dev: &str) -> serde_json::Value {
    let out = ns
        .exec(&["ip", "-j", "link", "show", "dev", dev])
        .output()
        .unwrap();
    serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()[0].clone()
}

const CONFIG: &str = r#"
[interfaces.v0]
mtu = 1400
addresses = ["10.77.0.1/24", "10.77.1.1/24", "2001:db8:77::1/64"]

[interfaces.v1]

[interfaces.eth9]
addresses = ["10.78.0.1/24"]

[realserver.dr]
vips = ["192.168.199.10"]
arp_interfaces = ["v0"]
"#;

#[test]
fn links_and_addresses_are_applied_kept_and_owned() {
    let ns = Netns::new();
    assert!(
        ns.exec(&[
            "ip", "link", "add", "v0", "type", "veth", "peer", "name", "v1"
        ])
        .status()
        .unwrap()
        .success()
    );
    // An operator's own address: pharos must never remove it.
    assert!(
        ns.exec(&["ip", "addr", "add", "10.77.0.9/24", "dev", "v0"])
            .status()
            .unwrap()
            .success()
    );
    let run = start(&ns, CONFIG);
    let mut events = Command::new(BIN)
        .args(["events", "--socket"])
        .arg(run.socket())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = BufReader::new(events.stdout.take().unwrap()).lines();

    let v0 = link(&ns, "v0");
    assert_eq!(v0["mtu"], 1400);
    assert!(
        v0["flags"].as_array().unwrap().iter().any(|f| f == "UP"),
        "{v0}"
    );
    assert!(
        link(&ns, "v1")["flags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f == "UP")
    );
    let mut a = addrs(&ns, "v0");
    a.sort();
    assert_eq!(
        a,
        vec![
            "10.77.0.1/24",
            "10.77.0.9/24",
            "10.77.1.1/24",
            "2001:db8:77::1/64"
        ]
    );
    assert!(
        addrs(&ns, "lo").contains(&"192.168.199.10/32".to_string()),
        "{:?}",
        addrs(&ns, "lo")
    );
    assert_eq!(ns.read("net.ipv4.conf.v0.arp_ignore"), "1");

    let status: serde_json::Value =
        serde_json::from_slice(&run.ctl(&["status", "--json"]).stdout).unwrap();
    assert_eq!(
        status["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == "net")
            .unwrap()["state"],
        "running"
    );

    std::thread::sleep(Duration::from_millis(200));
    let out = run.ctl(&["reload"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "reloaded: revision 2; nothing changed\n"
    );
    // Drop one address from the config.
    std::fs::write(
        run.dir.path().join("pharos.toml"),
        CONFIG.replace(", \"10.77.1.1/24\"", ""),
    )
    .unwrap();
    let out = run.ctl(&["reload"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "reloaded: revision 3; net +0 ~0 -1\n"
    );
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    for line in lines {
        let line = line.unwrap();
        let done = line.contains("removed 10.77.1.1/24 from v0");
        seen.push(line);
        if done || Instant::now() > deadline {
            break;
        }
    }
    assert!(
        seen.last()
            .unwrap()
            .contains("removed 10.77.1.1/24 from v0"),
        "{seen:#?}"
    );
    assert!(
        !seen.iter().any(|l| l.contains("added")),
        "an unchanged reload adds nothing: {seen:#?}"
    );
    let mut a = addrs(&ns, "v0");
    a.sort();
    assert_eq!(
        a,
        vec!["10.77.0.1/24", "10.77.0.9/24", "2001:db8:77::1/64"],
        "the hand-added address stays"
    );
    // Removed behind pharos's back: the monitor puts it back at once.
    assert!(
        ns.exec(&["ip", "addr", "del", "10.77.0.1/24", "dev", "v0"])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while !addrs(&ns, "v0").contains(&"10.77.0.1/24".to_string()) {
        assert!(
            Instant::now() < deadline,
            "the address was not restored: {:?}",
            addrs(&ns, "v0")
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = events.kill();
    let _ = events.wait();
}

#[test]
fn a_missing_link_is_reported_with_its_origin_and_plan_says_so() {
    let ns = Netns::new();
    assert!(
        ns.exec(&[
            "ip", "link", "add", "v0", "type", "veth", "peer", "name", "v1"
        ])
        .status()
        .unwrap()
        .success()
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pharos.toml");
    std::fs::write(&file, CONFIG).unwrap();
    let out = ns.exec(&[BIN, "plan"]).arg(&file).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("! link eth9: this box has no such interface (from `interfaces.eth9`)"),
        "{text}"
    );
    assert!(
        text.contains("+ address 10.77.0.1/24 on v0 (from `interfaces.v0.addresses`)"),
        "{text}"
    );
    assert!(text.contains("~ link v0: mtu 1400 (now 1500)"), "{text}");
    let run = start(&ns, CONFIG);
    let status: serde_json::Value =
        serde_json::from_slice(&run.ctl(&["status", "--json"]).stdout).unwrap();
    assert_eq!(status["config"]["revision"], 1);
    assert!(
        addrs(&ns, "v0").contains(&"10.77.0.1/24".to_string()),
        "the rest was applied"
    );
}

//! Links and addresses applied over rtnetlink, in a network namespace of
//! the test's own: addresses with prefixes (IPv4 and IPv6), MTU, up, the DR
//! real-server VIP on lo; a reload that changes nothing touches nothing; an
//! address dropped from the config is removed while one added by hand stays;
//! an address removed behind pharos's back is put back by the monitor; a
//! link losing carrier is an event; a
//! link the box lacks is reported and the rest still applied.

mod common;

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

[routes.default]
to = "default"
via = "10.77.0.254"

[routes.lab]
to = "10.99.0.0/16"
via = "10.77.0.253"
metric = 10

[routes.onlink]
to = "10.98.0.0/16"
dev = "v0"
"#;

fn routes(ns: &Netns) -> Vec<String> {
    let out = ns.exec(&["ip", "-j", "route", "show"]).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut r: Vec<String> = v
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["protocol"] != "kernel")
        .map(|r| {
            let via = r["gateway"]
                .as_str()
                .unwrap_or_else(|| r["dev"].as_str().unwrap());
            format!(
                "{} {via} {}",
                r["dst"].as_str().unwrap(),
                r["metric"].as_u64().unwrap_or(0)
            )
        })
        .collect();
    r.sort();
    r
}

#[test]
fn links_and_addresses_are_applied_kept_and_owned() {
    let ns = Netns::new();
    ns.run(&[
        "ip", "link", "add", "v0", "type", "veth", "peer", "name", "v1",
    ]);
    // An operator's own address and route: pharos must never remove them.
    ns.run(&["ip", "addr", "add", "10.77.0.9/24", "dev", "v0"]);
    let run = start(&ns, CONFIG);
    let lines = common::events(&run.socket(), Duration::from_secs(60));

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
    ns.run(&["ip", "route", "add", "10.97.0.0/16", "via", "10.77.0.9"]);
    assert_eq!(
        routes(&ns),
        vec![
            "10.97.0.0/16 10.77.0.9 0",
            "10.98.0.0/16 v0 0",
            "10.99.0.0/16 10.77.0.253 10",
            "default 10.77.0.254 0"
        ]
    );

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
    // Drop one address and one route from the config.
    let smaller = CONFIG.replace(", \"10.77.1.1/24\"", "").replace(
        "[routes.lab]\nto = \"10.99.0.0/16\"\nvia = \"10.77.0.253\"\nmetric = 10\n",
        "",
    );
    std::fs::write(run.dir.path().join("pharos.toml"), smaller).unwrap();
    let out = run.ctl(&["reload"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "reloaded: revision 3; net +0 ~0 -2\n"
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
    let deadline = Instant::now() + Duration::from_secs(10);
    while routes(&ns).len() != 3 {
        assert!(Instant::now() < deadline, "{:?}", routes(&ns));
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        routes(&ns),
        vec![
            "10.97.0.0/16 10.77.0.9 0",
            "10.98.0.0/16 v0 0",
            "default 10.77.0.254 0"
        ],
        "only pharos's route went"
    );
    // The peer goes down: v0 loses carrier, and that is an event (VRRP
    // tracks it). pharos wants v1 up, so it sets it up again at once.
    let lines2 = common::events(&run.socket(), Duration::from_secs(30));
    ns.run(&["ip", "link", "set", "v1", "down"]);
    let mut got = Vec::new();
    for line in lines2 {
        let line = line.unwrap();
        let done = line.contains("link v0 has carrier again");
        got.push(line);
        if done {
            break;
        }
    }
    let pos = |t: &str| {
        got.iter()
            .position(|l| l.contains(t))
            .unwrap_or_else(|| panic!("no `{t}` in {got:#?}"))
    };
    assert!(pos("link v0 lost carrier") < pos("set v1 up"), "{got:#?}");
    assert!(
        pos("set v1 up") < pos("link v0 has carrier again"),
        "{got:#?}"
    );
    // Removed behind pharos's back: the monitor puts it back at once.
    ns.run(&["ip", "addr", "del", "10.77.0.1/24", "dev", "v0"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !addrs(&ns, "v0").contains(&"10.77.0.1/24".to_string()) {
        assert!(
            Instant::now() < deadline,
            "the address was not restored: {:?}",
            addrs(&ns, "v0")
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_missing_link_is_reported_with_its_origin_and_plan_says_so() {
    let ns = Netns::new();
    ns.run(&[
        "ip", "link", "add", "v0", "type", "veth", "peer", "name", "v1",
    ]);
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

#[test]
fn bridges_macvlans_and_links_found_by_mac() {
    let ns = Netns::new();
    ns.run(&[
        "ip",
        "link",
        "add",
        "x0",
        "address",
        "52:54:00:aa:bb:01",
        "type",
        "veth",
        "peer",
        "name",
        "x1",
    ]);
    ns.run(&[
        "ip", "link", "add", "p0", "type", "veth", "peer", "name", "p1",
    ]);
    let config = r#"
[interfaces.lan]
match = { mac = "52:54:00:AA:BB:01" }
mtu = 1450
addresses = ["10.79.0.1/24"]

[interfaces.br0]
bridge = { members = ["p0"] }
addresses = ["10.80.0.1/24"]

[interfaces.p0]

[interfaces.mv0]
macvlan = { parent = "lan", mode = "private" }
addresses = ["10.79.0.2/24"]
"#;
    let run = start(&ns, config);
    let deadline = Instant::now() + Duration::from_secs(15);
    let settled = || {
        let s: serde_json::Value =
            serde_json::from_slice(&run.ctl(&["status", "--json"]).stdout).unwrap();
        let net = s["subsystems"]["net"].clone();
        let all_ok = |k: &str| {
            net[k]
                .as_array()
                .is_some_and(|a| !a.is_empty() && a.iter().all(|x| x["state"] == "ok"))
        };
        (all_ok("links") && all_ok("addresses"), net)
    };
    loop {
        let (ok, net) = settled();
        if ok {
            break;
        }
        assert!(Instant::now() < deadline, "never settled: {net:#}");
        std::thread::sleep(Duration::from_millis(100));
    }
    // Renamed by its MAC, then configured under its new name.
    let lan = link(&ns, "lan");
    assert_eq!(lan["address"], "52:54:00:aa:bb:01");
    assert_eq!(lan["mtu"], 1450);
    assert!(addrs(&ns, "lan").contains(&"10.79.0.1/24".to_string()));
    let br0 = ns
        .exec(&["ip", "-j", "-d", "link", "show", "dev", "br0"])
        .output()
        .unwrap();
    let br0: serde_json::Value = serde_json::from_slice(&br0.stdout).unwrap();
    assert_eq!(br0[0]["linkinfo"]["info_kind"], "bridge", "{br0}");
    assert_eq!(link(&ns, "p0")["master"], "br0");
    assert_eq!(addrs(&ns, "br0"), vec!["10.80.0.1/24"]);
    let mv0 = ns
        .exec(&["ip", "-j", "-d", "link", "show", "dev", "mv0"])
        .output()
        .unwrap();
    let mv0: serde_json::Value = serde_json::from_slice(&mv0.stdout).unwrap();
    assert_eq!(mv0[0]["linkinfo"]["info_kind"], "macvlan", "{mv0}");
    assert_eq!(mv0[0]["linkinfo"]["info_data"]["mode"], "private", "{mv0}");
    assert_eq!(mv0[0]["link"], "lan");
    assert_eq!(addrs(&ns, "mv0"), vec!["10.79.0.2/24"]);

    // The status table shows each managed link and address and its state.
    let table = String::from_utf8_lossy(&run.ctl(&["status"]).stdout).to_string();
    for want in [
        "LINK             UP   CARRIER MTU    STATE",
        "lan              yes  no      1450   ok",
        "10.80.0.1/24                             br0              ok",
    ] {
        assert!(table.contains(want), "no `{want}` in\n{table}");
    }
    // A port taken out of the bridge behind pharos's back is put back.
    ns.run(&["ip", "link", "set", "p0", "nomaster"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while link(&ns, "p0")["master"] != "br0" {
        assert!(Instant::now() < deadline, "p0 was not put back into br0");
        std::thread::sleep(Duration::from_millis(50));
    }
}

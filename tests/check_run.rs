//! The check task inside `pharos run`, against real HTTP servers (busybox
//! httpd) in a network namespace of the test's own: real servers start
//! DOWN and come up only after passing; a service below its quorum says so
//! and names its sorry server; a VRRP instance tracking the service goes to
//! Fault while the service is down and back when it recovers; a stand-alone
//! exec check is tracked too; the server's return brings the quorum back
//! and the sorry server leaves.

mod common;

use std::time::Duration;

use common::lan::wait_for;
use common::netns::{Httpd, Netns, Run, start};

const LONG: Duration = Duration::from_secs(15);

fn target(r: &Run, name: &str) -> serde_json::Value {
    r.status()["subsystems"]["check"]["targets"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|t| t["target"] == name)
        .cloned()
        .unwrap_or_default()
}

fn vrrp_state(r: &Run) -> String {
    r.vrrp_state("VI_1")
}

#[test]
fn servers_start_down_quorum_and_sorry_server_and_vrrp_tracking() {
    let ns = Netns::new();
    ns.run(&["ip", "link", "set", "lo", "up"]);
    ns.run(&[
        "ip", "link", "add", "eth0", "type", "veth", "peer", "name", "eth1",
    ]);
    ns.run(&["ip", "link", "set", "eth0", "up"]);
    ns.run(&["ip", "link", "set", "eth1", "up"]);
    ns.run(&["ip", "addr", "add", "10.8.0.1/24", "dev", "eth0"]);
    let www = tempfile::tempdir().unwrap();
    let flag = www.path().join("ok");
    let cfg = format!(
        r#"
[system]
ip_forward = true

[services.web]
address = "10.8.0.100:80"
forwarding = "nat"
quorum = 2
sorry_server = "127.0.0.1:9999"
check = {{ type = "http", path = "/index.html", interval = "200ms", timeout = "150ms", retries = 0, body_contains = "hello" }}

[services.web.real_servers]
"127.0.0.1:8081" = {{}}
"127.0.0.1:8082" = {{}}

[checks.flag]
type = "exec"
command = ["/bin/test", "-e", "{}"]
interval = "200ms"

[vrrp.VI_1]
interface = "eth0"
vrid = 7
version = 3
advert_interval = "100ms"
virtual_addresses = ["10.8.0.100/24"]
track.services.web = {{}}
track.checks.flag = {{ weight = 20 }}
"#,
        flag.display()
    );
    let r = start(&ns, &cfg);
    // Nothing listens yet: both real servers are down, never up.
    wait_for("first failures", LONG, || {
        target(&r, "rs:web/127.0.0.1:8081")["checks"]
            .as_u64()
            .unwrap_or(0)
            >= 2
    });
    let t = target(&r, "rs:web/127.0.0.1:8081");
    assert_eq!(t["state"], "down", "{t}");
    assert!(t["last"].as_str().unwrap().contains("refused"), "{t}");
    assert_eq!(
        r.status()["subsystems"]["check"]["services"]["web"]["quorum_up"],
        false
    );
    wait_for(
        "VRRP in fault while the tracked service is down",
        LONG,
        || vrrp_state(&r) == "fault",
    );

    // One server up: still below the quorum of 2.
    let d1 = tempfile::tempdir().unwrap();
    let _h1 = Httpd::start(&ns, 8081, d1.path());
    wait_for("8081 up", LONG, || {
        target(&r, "rs:web/127.0.0.1:8081")["state"] == "up"
    });
    assert_eq!(
        r.status()["subsystems"]["check"]["services"]["web"]["quorum_up"],
        false
    );
    // Both up: quorum, and VRRP leaves Fault and takes the VIP.
    let d2 = tempfile::tempdir().unwrap();
    let h2 = Httpd::start(&ns, 8082, d2.path());
    wait_for("quorum", LONG, || {
        r.status()["subsystems"]["check"]["services"]["web"]["quorum_up"] == true
    });
    wait_for("VRRP master", LONG, || vrrp_state(&r) == "master");
    let prio = |r: &Run| r.status()["subsystems"]["vrrp"]["instances"]["VI_1"]["priority"].as_u64();
    assert_eq!(prio(&r), Some(100), "the flag check is down: no bonus");
    std::fs::write(&flag, "").unwrap();
    wait_for("exec check up adds its weight", LONG, || {
        prio(&r) == Some(120)
    });

    // One server stops: below quorum; the event names the sorry server.
    let mut ev = common::events(&r.socket(), LONG);
    drop(h2);
    let mut saw = (false, false);
    for line in ev.by_ref() {
        let line = line.unwrap();
        saw.0 |= line.contains("shutting down 127.0.0.1:8082 in service web");
        saw.1 |=
            line.contains("service web is below its quorum") && line.contains("127.0.0.1:9999");
        if saw.0 && saw.1 {
            break;
        }
    }
    assert_eq!(saw, (true, true), "down and quorum events");
    wait_for("VRRP fault again", LONG, || vrrp_state(&r) == "fault");

    // The server comes back: quorum again, the sorry server leaves.
    let _h2 = Httpd::start(&ns, 8082, d2.path());
    let mut back = false;
    for line in ev.by_ref() {
        let line = line.unwrap();
        if line.contains("service web has its quorum again") {
            assert!(
                line.contains("sorry server 127.0.0.1:9999 leaves"),
                "{line}"
            );
            back = true;
            break;
        }
    }
    assert!(back, "quorum regained event");
    wait_for("VRRP master again", LONG, || vrrp_state(&r) == "master");

    // A reload that adds a check keeps the state of the unchanged ones:
    // their counters go on, they do not start down again.
    let before = target(&r, "rs:web/127.0.0.1:8081");
    assert_eq!(before["state"], "up");
    let more = format!(
        "{cfg}\n[checks.extra]\ntype = \"tcp\"\naddress = \"127.0.0.1\"\nport = 8081\ninterval = \"200ms\"\n"
    );
    std::fs::write(r.dir.path().join("pharos.toml"), &more).unwrap();
    let out = r.ctl(&["reload"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_for("the new check runs", LONG, || {
        target(&r, "check:extra")["state"] == "up"
    });
    let after = target(&r, "rs:web/127.0.0.1:8081");
    assert_eq!(after["state"], "up", "{after}");
    assert!(
        after["checks"].as_u64() > before["checks"].as_u64(),
        "counters carried on: {before} then {after}"
    );

    // A reload that changes one real server's weight reaches only the
    // service's quorum (which keeps its state) and IPVS: no check restarts
    // or says anything, and the VRRP instance is not touched.
    let vrrp = |r: &Run| r.status()["subsystems"]["vrrp"]["instances"]["VI_1"].clone();
    let (vrrp_before, before) = (vrrp(&r), target(&r, "rs:web/127.0.0.1:8082"));
    let ev = common::events(&r.socket(), Duration::from_secs(3));
    let one = r#""127.0.0.1:8082" = {}"#;
    assert!(more.contains(one));
    let weighted = more.replace(one, r#""127.0.0.1:8082" = { weight = 2 }"#);
    std::fs::write(r.dir.path().join("pharos.toml"), weighted).unwrap();
    let out = r.ctl(&["reload"]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("check +0 ~1 -0, ipvs +0 ~1 -0") && !said.contains("vrrp"),
        "{said}"
    );
    let heard: Vec<String> = ev.map_while(Result::ok).collect();
    let about = |kind: &str| {
        heard
            .iter()
            .filter(|l| {
                serde_json::from_str::<serde_json::Value>(l).is_ok_and(|e| e["kind"] == kind)
            })
            .cloned()
            .collect::<Vec<_>>()
    };
    assert!(
        heard.iter().any(|l| l.contains("reloaded as r")),
        "{heard:?}"
    );
    assert_eq!(
        about("check"),
        Vec::<String>::new(),
        "the checks went on quietly"
    );
    assert_eq!(about("vrrp"), Vec::<String>::new(), "VRRP was left be");
    let (vrrp_after, after) = (vrrp(&r), target(&r, "rs:web/127.0.0.1:8082"));
    assert_eq!(after["state"], "up", "{after}");
    assert!(
        after["checks"].as_u64() > before["checks"].as_u64(),
        "counters carried on: {before} then {after}"
    );
    assert_eq!(
        (
            &vrrp_after["state"],
            &vrrp_after["transitions"],
            &vrrp_after["since"]
        ),
        (
            &vrrp_before["state"],
            &vrrp_before["transitions"],
            &vrrp_before["since"]
        ),
    );
    assert_eq!(
        r.status()["subsystems"]["check"]["services"]["web"]["quorum_up"],
        true
    );
}

//! The check task inside `pharos run`, against real HTTP servers (busybox
//! httpd) in a network namespace of the test's own: real servers start
//! DOWN and come up only after passing; a service below its quorum says so
//! and names its sorry server; a service without checks has its quorum
//! from the start without an event saying so; a VRRP instance tracking the service goes to
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
    let ns = Netns::with_eth0("10.8.0.1/24");
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

[services.plain]
address = "10.8.0.101:80"
forwarding = "nat"

[services.plain.real_servers]
"127.0.0.1:8083" = {{}}

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
    // A service without checks has its quorum from the start, and that is
    // where it starts, not news: no event (at 10,000 such services, one
    // line each at every start).
    assert_eq!(
        r.status()["subsystems"]["check"]["services"]["plain"]["quorum_up"],
        true
    );
    assert!(!r.log().contains("service plain"), "{}", r.log());
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

/// Checks that hang (SYNs to addresses nobody answers ARP for) pile up
/// sockets: 600 targets every 2 s with a 500 ms timeout keep about 150
/// attempts open. Under an open-file limit of 120 that pharos may not raise
/// (no CAP_SYS_RESOURCE), attempts beyond it would fail with "Too many open
/// files" instead of checking anything; pharos starts only as many as the
/// limit leaves room for and the rest wait, late, for a free place.
#[test]
fn attempts_wait_for_a_free_place_under_the_open_file_limit() {
    let ns = Netns::with_eth0("10.77.0.1/16");
    let mut cfg = String::from(
        "[services.web]\naddress = \"10.8.0.100:80\"\nforwarding = \"dr\"\n\
         check = { type = \"tcp\", interval = \"2s\", timeout = \"500ms\", retries = 0 }\n\
         [services.web.real_servers]\n",
    );
    for i in 0..600 {
        cfg.push_str(&format!(
            "\"10.77.{}.{}:80\" = {{}}\n",
            1 + i / 200,
            1 + i % 200
        ));
    }
    let r = common::netns::start_through(
        &ns,
        &cfg,
        &[
            "prlimit",
            "--nofile=120:120",
            "setpriv",
            "--bounding-set",
            "-sys_resource",
            "--",
        ],
    );
    let limit = std::fs::read_to_string(format!("/proc/{}/limits", r.child.id())).unwrap();
    let reasons = || -> Vec<String> {
        r.status()["subsystems"]["check"]["targets"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t["last"].as_str().map(str::to_string))
            .collect()
    };
    // Every target tried at least once (the first round spreads over 2 s).
    wait_for("every target checked once", LONG, || {
        reasons().iter().all(|l| l != "not checked yet")
    });
    std::thread::sleep(Duration::from_secs(4));
    let all = reasons();
    assert_eq!(all.len(), 600);
    let emfile: Vec<&String> = all.iter().filter(|l| l.contains("open files")).collect();
    assert!(
        emfile.is_empty(),
        "{} of 600 attempts ran out of files ({:?}); pharos's limits:\n{limit}",
        emfile.len(),
        emfile.first()
    );
    assert!(
        all.iter()
            .all(|l| l.contains("timed out") || l.contains("unreachable")),
        "every attempt hangs or finds no host: {:?}",
        all.iter().find(|l| !l.contains("timed out"))
    );
    // The ones that waited show as late.
    let late = r.status()["subsystems"]["check"]["schedule"]["late_max_ms"]
        .as_f64()
        .unwrap_or(0.0);
    assert!(
        late > 100.0,
        "no attempt waited for a place: late_max {late} ms"
    );
}

/// The soft limit of 1,024 a shell hands down is raised (root may raise
/// the hard one too): 10,000 checks on a slow box need thousands of
/// sockets at once.
#[test]
fn pharos_run_raises_its_open_file_limit() {
    let ns = Netns::new();
    ns.run(&["ip", "link", "set", "lo", "up"]);
    let r = common::netns::start_through(
        &ns,
        "[services.web]\naddress = \"10.8.0.100:80\"\nforwarding = \"dr\"\n\
         [services.web.real_servers]\n\"127.0.0.1:80\" = {}\n",
        &["prlimit", "--nofile=1024:4096", "--"],
    );
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", r.child.id())).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    let f: Vec<&str> = line.split_whitespace().collect();
    // Without CAP_SYS_RESOURCE (some sandboxes' root) the hard limit
    // stays, and the soft one goes up to it.
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let eff = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .map(|v| u64::from_str_radix(v.trim(), 16).unwrap())
        .unwrap();
    const CAP_SYS_RESOURCE: u32 = 24;
    let want = if eff & (1 << CAP_SYS_RESOURCE) != 0 {
        ["65536", "65536"]
    } else {
        ["4096", "4096"]
    };
    assert_eq!(&f[3..5], want, "{line}");
}

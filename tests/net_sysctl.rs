//! The network plane's sysctls, in a network namespace of the test's own
//! (net.* sysctls are per namespace, so the host is never touched):
//! `pharos plan` for a partly applied state against a golden file, and
//! `pharos run` applying, re-applying as a no-op, applying a reload's
//! change, and naming a key the kernel lacks while applying the rest.

use std::path::{Path, PathBuf};

use common::netns::start;
use std::time::{Duration, Instant};

mod common;

use common::netns::Netns;

const BIN: &str = env!("CARGO_BIN_EXE_pharos");

const KEYS: &[&str] = &[
    "net.ipv4.ip_forward",
    "net.ipv4.conf.all.rp_filter",
    "net.ipv4.conf.lo.rp_filter",
    "net.ipv4.conf.all.arp_ignore",
    "net.ipv4.conf.all.arp_announce",
    "net.ipv4.conf.lo.arp_ignore",
    "net.ipv4.conf.lo.arp_announce",
];

fn golden_config() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/plan/realserver-dr.toml")
}

#[test]
fn plan_of_a_partly_applied_state_matches_the_golden_file() {
    let ns = Netns::new();
    // A known starting point (a new namespace inherits some IPv4 settings
    // from the host), then part of the config already applied.
    for k in KEYS {
        ns.write(k, "0");
    }
    ns.write("net.ipv4.conf.all.arp_ignore", "1");
    ns.write("net.ipv4.conf.all.rp_filter", "1");
    let out = ns
        .exec(&[BIN, "plan"])
        .arg(golden_config())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "a key the kernel lacks makes the plan impossible"
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let golden = golden_config().with_extension("plan");
    if std::env::var_os("BLESS").is_some() {
        std::fs::write(&golden, &text).unwrap();
    }
    assert_eq!(text, std::fs::read_to_string(&golden).unwrap());
    // Planning wrote nothing.
    assert_eq!(ns.read("net.ipv4.ip_forward"), "0");
}

#[test]
fn run_applies_sysctls_reapplies_nothing_and_applies_a_reloads_change() {
    let ns = Netns::new();
    for k in KEYS {
        ns.write(k, "0");
    }
    let config = std::fs::read_to_string(golden_config()).unwrap();
    let run = start(&ns, &config);
    assert_eq!(ns.read("net.ipv4.ip_forward"), "1");
    assert_eq!(ns.read("net.ipv4.conf.all.rp_filter"), "2");
    for iface in ["all", "lo"] {
        assert_eq!(ns.read(&format!("net.ipv4.conf.{iface}.arp_ignore")), "1");
        assert_eq!(ns.read(&format!("net.ipv4.conf.{iface}.arp_announce")), "2");
    }
    let status: serde_json::Value =
        serde_json::from_slice(&run.ctl(&["status", "--json"]).stdout).unwrap();
    let sysctls = status["subsystems"]["net"]["sysctls"].as_array().unwrap();
    let missing: Vec<&serde_json::Value> = sysctls.iter().filter(|s| s["state"] != "ok").collect();
    assert_eq!(missing.len(), 1, "{sysctls:#?}");
    assert_eq!(missing[0]["key"], "net.ipv4.no_such_setting");
    assert_eq!(missing[0]["state"], "missing");
    assert_eq!(
        missing[0]["from"],
        "system.sysctl.\"net.ipv4.no_such_setting\""
    );
    let table = String::from_utf8(run.ctl(&["status"]).stdout).unwrap();
    assert!(
        table.contains("SYSCTL                                     WANT   LIVE   STATE"),
        "{table}"
    );
    assert!(
        table.contains("net.ipv4.ip_forward                        1      1      ok"),
        "{table}"
    );
    assert!(
        table.contains("net.ipv4.no_such_setting                   1      -      missing"),
        "{table}"
    );

    // Watch events, then reload the same file: nothing to do.
    let mut lines = common::events(&run.socket(), Duration::from_secs(60));
    let out = run.ctl(&["reload"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "reloaded: revision 2; nothing changed\n"
    );
    // Change one value: only it is applied.
    std::fs::write(
        run.dir.path().join("pharos.toml"),
        config.replace("rp_filter = 2", "rp_filter = 1"),
    )
    .unwrap();
    let out = run.ctl(&["reload"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "reloaded: revision 3; net +0 ~1 -0\n"
    );
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let line = lines.next().unwrap().unwrap();
        let done = line.contains("set net.ipv4.conf.all.rp_filter = 1 (was 2)");
        seen.push(line);
        if done {
            break;
        }
    }
    assert!(seen.last().unwrap().contains("(was 2)"), "{seen:#?}");
    assert!(
        !seen.iter().any(|l| l.contains("ip_forward")),
        "unchanged sysctls are not touched: {seen:#?}"
    );
    assert_eq!(ns.read("net.ipv4.conf.all.rp_filter"), "1");
}

//! The status page, as a browser shows it: `pharos run` in a network
//! namespace of the test's own, with a VRRP instance, a checked service
//! (busybox httpd real servers, one of them down) and a stand-alone check,
//! serving `[metrics] status_page`. Headless Chromium (Debian's package)
//! loads the page; the test reads the DOM it rendered and saves
//! screenshots (`target/tmp/status-page.png`, `status-page-phone.png`).
//! `/status.json` is the typed status; nothing on the page or its listener
//! changes anything. (The README's picture, with a real IPVS table, is the
//! pair lab's: `make run` step 6.)

mod common;

use std::time::Duration;

use common::lan::wait_for;
use common::netns::{Httpd, Netns, start};

const LONG: Duration = Duration::from_secs(30);
const URL: &str = "http://127.0.0.1:9412";

fn curl(ns: &Netns, args: &[&str]) -> String {
    let out = ns.exec(&["curl", "-s"]).args(args).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Headless Chromium in the namespace (root needs --no-sandbox).
fn chromium(ns: &Netns, args: &[&str]) -> std::process::Output {
    let profile = tempfile::tempdir().unwrap();
    ns.exec(&[
        "chromium",
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
    ])
    .arg(format!("--user-data-dir={}", profile.path().display()))
    .args(args)
    .output()
    .expect("chromium is installed (make test installs it)")
}

#[test]
fn a_browser_shows_services_vrrp_checks_tasks_and_events() {
    let ns = Netns::with_eth0("10.9.0.1/24");
    let www = tempfile::tempdir().unwrap();
    let _web1 = Httpd::start(&ns, 8081, www.path());
    let cfg = r#"
[system]
ip_forward = true

[services.web]
address = "10.9.0.100:80"
forwarding = "nat"
check = { type = "http", path = "/index.html", interval = "500ms", timeout = "400ms", retries = 0 }

[services.web.real_servers]
"127.0.0.1:8081" = {}
"127.0.0.1:8082" = { weight = 2 }

[checks.gateway]
type = "exec"
command = ["/bin/true"]
interval = "1s"

[vrrp.VI_1]
interface = "eth0"
vrid = 9
version = 3
advert_interval = "200ms"
virtual_addresses = ["10.9.0.100/24"]

[metrics]
listen = "127.0.0.1:9412"
status_page = true
"#;
    let r = start(&ns, cfg);
    wait_for("VRRP master, 8081 up", LONG, || {
        let s = r.status();
        s["subsystems"]["vrrp"]["instances"]["VI_1"]["state"] == "master"
            && s["subsystems"]["check"]["targets"]
                .as_array()
                .is_some_and(|t| {
                    t.iter()
                        .any(|t| t["target"] == "rs:web/127.0.0.1:8081" && t["state"] == "up")
                })
    });

    // /status.json is the typed status, as `pharos status --json` gives it.
    let json: serde_json::Value =
        serde_json::from_str(&curl(&ns, &[&format!("{URL}/status.json")]))
            .expect("/status.json is JSON");
    assert_eq!(json["subsystems"]["vrrp"]["instances"]["VI_1"]["vrid"], 9);
    assert_eq!(json["config"]["revision"], r.status()["config"]["revision"]);
    // Read only: anything but GET is refused, and nothing changed.
    let code = curl(
        &ns,
        &[
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-X",
            "POST",
            &format!("{URL}/"),
        ],
    );
    assert_eq!(code, "405");

    // What a browser renders.
    let out = chromium(&ns, &["--virtual-time-budget=3000", "--dump-dom", URL]);
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && dom.contains("<table"),
        "chromium: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    for want in [
        "pharos · no node", // the title bar
        "VRRP",
        "VI_1",
        ">master<",
        "10.9.0.100/24",
        "Checks",
        "rs:web/127.0.0.1:8081",
        "rs:web/127.0.0.1:8082",
        "check:gateway",
        ">up<",
        ">down<",
        "refused", // 8082 has no server: down, connection refused
        "Tasks",
        ">vrrp<",
        ">check<",
        ">ipvs<",
        "Latest events",
        "started;",
    ] {
        assert!(dom.contains(want), "`{want}` is not on the page:\n{dom}");
    }
    assert!(
        !dom.contains("<form") && !dom.contains("<script"),
        "read only, no script"
    );

    // A screenshot, as a phone and as a desktop would show it.
    let shots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    for (name, size) in [
        ("status-page.png", "1280,1000"),
        ("status-page-phone.png", "390,844"),
    ] {
        let path = shots.join(name);
        let _ = std::fs::remove_file(&path);
        let out = chromium(
            &ns,
            &[
                &format!("--window-size={size}"),
                "--virtual-time-budget=3000",
                &format!("--screenshot={}", path.display()),
                URL,
            ],
        );
        let png = std::fs::read(&path).unwrap_or_default();
        assert!(
            png.starts_with(b"\x89PNG") && png.len() > 10_000,
            "{name}: {} bytes; chromium: {}",
            png.len(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

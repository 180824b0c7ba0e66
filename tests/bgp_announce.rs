//! Route health injection through a real BIRD, on the host: an upstream
//! router (BIRD 2 from apt, in a namespace of its own, installing what it
//! learns into its kernel table) peers with `pharos run` in another
//! namespace, over a TCP-MD5-signed session. A VIP is in the router's
//! table only while its service has quorum; a service whose check never
//! passes is never announced; a reload changes the route's MED without
//! withdrawing it; a stop withdraws every VIP and leaves no BIRD behind.
//! `pharos status` and `/metrics` show the session and the prefixes.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::lan::wait_for;
use common::netns::{Httpd, Netns, Run, start};

const LONG: Duration = Duration::from_secs(30);
const BIRD: &str = "/usr/sbin/bird";
const PASSWORD: &str = "t0p-s3cret";

/// The upstream router's BIRD, killed when dropped.
struct Router {
    child: Child,
    dir: tempfile::TempDir,
}

impl Router {
    fn start(ns: &Netns) -> Router {
        assert!(
            Path::new(BIRD).exists(),
            "{BIRD} is missing: `make test` installs bird2 (apt-get install bird2)"
        );
        let dir = tempfile::tempdir().unwrap();
        let conf = format!(
            "router id 10.20.0.1;\n\
             protocol device {{}}\n\
             protocol kernel {{ ipv4 {{ export all; }}; merge paths yes; }}\n\
             protocol bgp lvs1 {{\n  local as 65000;\n  neighbor 10.20.0.2 as 65001;\n  password \"{PASSWORD}\";\n  ipv4 {{ import all; export none; }};\n}}\n"
        );
        std::fs::write(dir.path().join("bird.conf"), conf).unwrap();
        let child = ns
            .exec(&[BIRD, "-f", "-c"])
            .arg(dir.path().join("bird.conf"))
            .arg("-s")
            .arg(dir.path().join("bird.ctl"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Router { child, dir }
    }

    /// `birdc show route all` on the router.
    fn routes(&self) -> String {
        let out = Command::new("birdc")
            .arg("-s")
            .arg(self.dir.path().join("bird.ctl"))
            .args(["show", "route", "all"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Router {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Kills the BIRD `pharos run` started, if it is still there when the
/// test ends (a failed assertion kills pharos with SIGKILL, which leaves
/// its child running).
struct Leftover(PathBuf);

impl Leftover {
    fn pid(&self) -> Option<i32> {
        let pid: i32 = std::fs::read_to_string(&self.0).ok()?.trim().parse().ok()?;
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
        (comm.trim() == "bird").then_some(pid)
    }
}

impl Drop for Leftover {
    fn drop(&mut self) {
        if let Some(pid) = self.pid() {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
    }
}

/// The router's kernel route to `vip`, if any.
fn route(router: &Netns, vip: &str) -> String {
    let out = router.exec(&["ip", "route", "show", vip]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn config(bird_dir: &Path, password_file: &Path, med: u32) -> String {
    format!(
        r#"
[system]
ip_forward = true

[bgp]
local_as = 65001
router_id = "10.20.0.2"
bird_dir = "{}"

[bgp.neighbors.upstream]
address = "10.20.0.1"
as = 65000
password_file = "{}"

[interfaces.eth0]
up = true
addresses = ["10.20.0.2/24"]

[metrics]
listen = "127.0.0.1:9419"

[services.web]
address = "10.99.0.1:80"
forwarding = "nat"
announce = {{ med = {med}, communities = ["65000:80"], prepend = 1 }}
check = {{ type = "tcp", interval = "200ms", timeout = "150ms", retries = 0 }}
[services.web.real_servers]
"127.0.0.1:8181" = {{}}

[services.dns]
address = "10.99.0.2:53"
forwarding = "nat"
announce = {{}}
check = {{ type = "tcp", interval = "200ms", timeout = "150ms", retries = 0 }}
[services.dns.real_servers]
"127.0.0.1:8182" = {{}}
"#,
        bird_dir.display(),
        password_file.display()
    )
}

#[test]
fn a_vip_is_in_the_routers_table_only_while_its_service_has_quorum() {
    let router = Netns::new();
    let director = Netns::new();
    for ns in [&router, &director] {
        ns.run(&["ip", "link", "set", "lo", "up"]);
    }
    router.run(&[
        "ip",
        "link",
        "add",
        "eth0",
        "type",
        "veth",
        "peer",
        "name",
        "eth0",
        "netns",
        &director.0,
    ]);
    router.run(&["ip", "addr", "add", "10.20.0.1/24", "dev", "eth0"]);
    router.run(&["ip", "link", "set", "eth0", "up"]);
    let up = Router::start(&router);

    let files = tempfile::tempdir().unwrap();
    let bird_dir = files.path().join("bird");
    let password_file = files.path().join("upstream.secret");
    std::fs::write(&password_file, format!("{PASSWORD}\n")).unwrap();
    let _leftover = Leftover(bird_dir.join("bird.pid"));
    let www = tempfile::tempdir().unwrap();
    let httpd = Httpd::start(&director, 8181, www.path());
    let mut r = start(&director, &config(&bird_dir, &password_file, 10));
    let diag = |r: &Run| {
        format!(
            "status: {}\nrouter: {}\npharos log:\n{}",
            r.status()["subsystems"]["bgp"],
            up.routes(),
            r.log()
        )
    };

    // The session comes up (signed: BIRD refuses it unsigned) and web's
    // VIP reaches the router's kernel; dns's check never passes.
    wait_for("web's VIP in the router's table", LONG, || {
        route(&router, "10.99.0.1").contains("via 10.20.0.2")
    });
    wait_for("the session's event", LONG, || {
        r.log()
            .contains("BGP session to upstream (10.20.0.1, AS 65000) established")
    });
    let status = r.status();
    let bgp = &status["subsystems"]["bgp"];
    assert_eq!(bgp["sessions"][0]["name"], "upstream", "{}", diag(&r));
    assert_eq!(bgp["sessions"][0]["info"], "Established", "{}", diag(&r));
    let prefix = |p: &str| {
        bgp["prefixes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["prefix"] == p)
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(prefix("10.99.0.1/32")["announced"], true, "{}", diag(&r));
    assert_eq!(prefix("10.99.0.2/32")["announced"], false, "{}", diag(&r));
    assert_eq!(route(&router, "10.99.0.2"), "", "{}", diag(&r));
    let routes = up.routes();
    assert!(routes.contains("BGP.med: 10"), "{routes}");
    assert!(routes.contains("(65000,80)"), "{routes}");
    assert!(routes.contains("BGP.as_path: 65001 65001"), "{routes}");
    let out = director
        .exec(&["curl", "-s", "http://127.0.0.1:9419/metrics"])
        .output()
        .unwrap();
    let metrics = String::from_utf8_lossy(&out.stdout);
    for want in [
        r#"pharos_bgp_session_up{neighbor="upstream"} 1"#,
        r#"pharos_bgp_prefix_announced{prefix="10.99.0.1/32"} 1"#,
        r#"pharos_bgp_prefix_announced{prefix="10.99.0.2/32"} 0"#,
    ] {
        assert!(metrics.contains(want), "{want} in\n{metrics}");
    }
    let table = String::from_utf8_lossy(&r.ctl(&["status"]).stdout).into_owned();
    assert!(table.contains("BGP NEIGHBOUR"), "{table}");
    assert!(table.contains("10.99.0.1/32"), "{table}");

    // The real server stops: web is below quorum, its VIP is withdrawn.
    drop(httpd);
    wait_for("web's VIP withdrawn", LONG, || {
        route(&router, "10.99.0.1").is_empty()
    });
    assert!(
        r.log()
            .contains("withdrawing 10.99.0.1/32: web below quorum"),
        "{}",
        diag(&r)
    );
    let httpd = Httpd::start(&director, 8181, www.path());
    wait_for("web's VIP announced again", LONG, || {
        route(&router, "10.99.0.1").contains("via 10.20.0.2")
    });

    // A reload that changes the MED re-renders BIRD's config: the route
    // stays and carries the new MED, and nothing was withdrawn for it.
    let withdrawals = || r.log().matches("withdrawing 10.99.0.1/32").count();
    let before = withdrawals();
    std::fs::write(
        r.dir.path().join("pharos.toml"),
        config(&bird_dir, &password_file, 20),
    )
    .unwrap();
    let out = r.ctl(&["reload"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_for("the new MED at the router", LONG, || {
        up.routes().contains("BGP.med: 20")
    });
    assert_eq!(withdrawals(), before, "{}", diag(&r));
    assert!(route(&router, "10.99.0.1").contains("via 10.20.0.2"));

    // A stop withdraws first and stops BIRD.
    let pid = _leftover.pid().expect("pharos's BIRD runs");
    r.signal("-TERM");
    wait_for("the VIP withdrawn on stop", LONG, || {
        route(&router, "10.99.0.1").is_empty()
    });
    wait_for("pharos's BIRD gone", LONG, || {
        !Path::new(&format!("/proc/{pid}")).exists()
    });
    drop(httpd);
}

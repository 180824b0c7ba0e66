//! `pharos run` as a process: systemd readiness and watchdog over a notify
//! socket the test plays, reloads good and bad over the control socket,
//! `status --json` against its schema, the event stream, the metrics
//! endpoint, SIGTERM, and the last known good config.

use common::free_port;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

mod common;

const BIN: &str = env!("CARGO_BIN_EXE_pharos");

fn good_config(port: u16) -> String {
    format!(
        "[metrics]\nlisten = \"127.0.0.1:{port}\"\n\n[services.web]\naddress = \"10.0.0.1:80\"\nforwarding = \"dr\"\n\n[services.web.real_servers]\n\"10.0.0.2:80\" = {{}}\n"
    )
}

/// A `pharos run` in a temporary directory, killed when dropped.
struct Pharos {
    dir: tempfile::TempDir,
    child: Option<Child>,
    port: u16,
}

impl Pharos {
    fn config(&self) -> PathBuf {
        self.dir.path().join("pharos.toml")
    }
    fn socket(&self) -> PathBuf {
        self.dir.path().join("control.sock")
    }

    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        std::fs::write(dir.path().join("pharos.toml"), good_config(port)).unwrap();
        Pharos {
            dir,
            child: None,
            port,
        }
    }

    fn start(&mut self, env: &[(&str, &str)]) {
        let mut cmd = Command::new(BIN);
        cmd.arg("run")
            .arg("--config")
            .arg(self.config())
            .arg("--state-dir")
            .arg(self.dir.path().join("state"))
            .arg("--socket")
            .arg(self.socket())
            .args(["--shutdown-timeout", "5s"])
            .env("NO_COLOR", "1")
            .env_remove("NOTIFY_SOCKET")
            .env_remove("WATCHDOG_USEC")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        self.child = Some(cmd.spawn().unwrap());
        self.wait_ready();
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            let out = self.ctl(&["status", "--json"]);
            if out.status.success()
                && serde_json::from_slice::<serde_json::Value>(&out.stdout)
                    .is_ok_and(|s| s["ready"] == true)
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("pharos did not come up");
    }

    fn ctl(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .args(args)
            .arg("--socket")
            .arg(self.socket())
            .output()
            .unwrap()
    }

    fn status(&self) -> serde_json::Value {
        let out = self.ctl(&["status", "--json"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// SIGTERM, then the exit status and everything it logged.
    fn stop(&mut self) -> (std::process::ExitStatus, String, Duration) {
        let mut child = self.child.take().unwrap();
        let began = Instant::now();
        let ok = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            assert!(Instant::now() < deadline, "pharos did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        };
        let took = began.elapsed();
        let mut log = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut log)
            .unwrap();
        (status, log, took)
    }
}

impl Drop for Pharos {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn scrape(port: u16) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    resp.split_once("\r\n\r\n").unwrap().1.to_string()
}

#[test]
fn readiness_status_and_watchdog_follow_the_notify_protocol() {
    let mut p = Pharos::new();
    let sock_path = p.dir.path().join("notify.sock");
    let notify = UnixDatagram::bind(&sock_path).unwrap();
    notify
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    p.start(&[
        ("NOTIFY_SOCKET", sock_path.to_str().unwrap()),
        ("WATCHDOG_USEC", "300000"),
    ]);
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline
        && got
            .iter()
            .filter(|m: &&String| m.contains("WATCHDOG=1"))
            .count()
            < 3
    {
        let n = notify.recv(&mut buf).unwrap();
        got.push(String::from_utf8_lossy(&buf[..n]).to_string());
    }
    let ready = got
        .iter()
        .position(|m| m.contains("READY=1"))
        .expect("READY=1 sent");
    assert!(
        got[ready].contains("STATUS=config r1: 0 vrrp instances, 1 service, 0 checks"),
        "{got:?}"
    );
    assert!(
        got.iter().filter(|m| m.contains("WATCHDOG=1")).count() >= 3,
        "{got:?}"
    );
    let (status, _, _) = p.stop();
    assert!(status.success());
    let mut stopping = false;
    notify
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    while let Ok(n) = notify.recv(&mut buf) {
        stopping |= String::from_utf8_lossy(&buf[..n]).contains("STOPPING=1");
    }
    assert!(stopping, "STOPPING=1 sent on SIGTERM");
}

#[test]
fn an_invalid_reload_changes_nothing_and_returns_every_diagnostic() {
    let mut p = Pharos::new();
    p.start(&[]);
    let before = p.status();
    let broken = good_config(p.port).replace("forwarding = \"dr\"", "forwarding = \"direct\"")
        + "[vrrp.V]\nvrid = 300\n";
    std::fs::write(p.config(), broken).unwrap();
    let out = p.ctl(&["reload"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unknown forwarding `direct`") && err.contains("pharos.toml:6:14"),
        "{err}"
    );
    assert!(
        err.contains("VRID 300 is out of range") && err.contains("keeps running unchanged"),
        "{err}"
    );
    let after = p.status();
    assert_eq!(after["config"]["revision"], before["config"]["revision"]);
    assert_eq!(after["tasks"], before["tasks"]);
    assert!(
        after["config"]["errors"].as_array().unwrap().len() >= 2,
        "{after}"
    );
    let metrics = scrape(p.port);
    assert!(
        metrics.contains("pharos_config_reloads_total{result=\"invalid\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("pharos_config_revision 1"));
}

#[test]
fn a_valid_reload_applies_only_the_difference() {
    let mut p = Pharos::new();
    p.start(&[]);
    let new_port = free_port();
    std::fs::write(p.config(), good_config(new_port)).unwrap();
    let out = p.ctl(&["reload"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "reloaded: revision 2; metrics +0 ~1 -0\n"
    );
    assert_eq!(p.status()["config"]["revision"], 2);
    assert!(scrape(new_port).contains("pharos_config_revision 2"));
    // Reloading the same file again changes nothing.
    let out = p.ctl(&["reload"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "reloaded: revision 3; nothing changed\n"
    );
    // SIGHUP reloads too, as `systemctl reload` or a plain `kill -HUP` would.
    let pid = p.child.as_ref().unwrap().id().to_string();
    assert!(
        Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while p.status()["config"]["revision"] != 4 {
        assert!(Instant::now() < deadline, "SIGHUP did not reload");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn status_json_matches_its_schema_and_the_table_reads_well() {
    let mut p = Pharos::new();
    p.start(&[]);
    let status = p.status();
    let schema =
        serde_json::to_value(schemars::schema_for!(pharos::runtime::status::Status)).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&status)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:?}\n{status}");
    assert_eq!(status["config"]["source"], "file");
    let names: Vec<&str> = status["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        vec![
            "control", "metrics", "syslog", "net", "vrrp", "bgp", "check", "ipvs", "clock"
        ]
    );
    let table = String::from_utf8(p.ctl(&["status"]).stdout).unwrap();
    assert!(
        table.contains("TASK          STATE        RESTARTS  LAST ERROR"),
        "{table}"
    );
    assert!(
        table.contains("metrics       running             0  -"),
        "{table}"
    );
}

#[test]
fn events_stream_transitions_as_they_happen() {
    let mut p = Pharos::new();
    p.start(&[]);
    let mut lines = common::events(&p.socket(), Duration::from_secs(60));
    assert!(p.ctl(&["reload"]).status.success());
    let first: serde_json::Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(
        (first["kind"].as_str(), first["subject"].as_str()),
        (Some("config"), Some("reload"))
    );
    assert!(
        first["message"]
            .as_str()
            .unwrap()
            .starts_with("reloaded as r2"),
        "{first}"
    );
    let (status, _, _) = p.stop();
    assert!(status.success());
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(
        rest.iter().any(|l| l.contains("\"kind\":\"shutdown\"")),
        "{rest:?}"
    );
}

#[test]
fn the_metrics_endpoint_serves_valid_prometheus_text() {
    let mut p = Pharos::new();
    p.start(&[]);
    let body = scrape(p.port);
    let scrape = prometheus_parse::Scrape::parse(body.lines().map(|l| Ok(l.to_string()))).unwrap();
    let up: Vec<(String, f64)> = scrape
        .samples
        .iter()
        .filter(|s| s.metric == "pharos_task_up")
        .map(|s| {
            let v = match s.value {
                prometheus_parse::Value::Gauge(v) => v,
                _ => panic!("pharos_task_up is a gauge"),
            };
            (s.labels.get("task").unwrap().to_string(), v)
        })
        .collect();
    assert_eq!(up.len(), 9, "{body}");
    assert!(up.iter().all(|(_, v)| *v == 1.0), "{up:?}");
    assert!(scrape.docs.contains_key("pharos_config_revision"), "{body}");
}

#[test]
fn sigterm_runs_the_shutdown_steps_in_order_within_the_bound() {
    let mut p = Pharos::new();
    p.start(&[]);
    let (status, log, took) = p.stop();
    assert!(status.success(), "{log}");
    assert!(took < Duration::from_secs(5), "took {took:?}");
    let shutdown = log
        .find("shutting down (bound 5000 ms)")
        .expect("shutdown logged");
    let metrics = log.find("stopped metrics").unwrap();
    let control = log.find("stopped control").unwrap();
    assert!(shutdown < metrics && metrics < control, "{log}");
    // syslog last: the other tasks' shutdown lines go out first.
    assert!(
        log.contains("net → clock → metrics → control → syslog"),
        "{log}"
    );
    assert!(!p.socket().exists(), "the control socket is removed");
}

#[test]
fn the_last_known_good_config_runs_when_the_file_breaks() {
    let mut p = Pharos::new();
    p.start(&[]);
    assert!(p.stop().0.success());
    assert!(p.dir.path().join("state/last-good.toml").exists());
    std::fs::write(
        p.config(),
        "[services.web]\naddress = \"10.0.0.1:80\"\nforwarding = \"dr\"\nschedular = \"rr\"\n",
    )
    .unwrap();
    p.start(&[]);
    let status = p.status();
    assert_eq!(status["config"]["source"], "last-good", "{status}");
    let errors = status["config"]["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0]
            .as_str()
            .unwrap()
            .ends_with("pharos.toml:4:1: unknown key `schedular` in `services.web`"),
        "{errors:?}"
    );
    // The last good config is what runs: its metrics endpoint is up.
    assert!(scrape(p.port).contains("pharos_task_up"));
    let (_, log, _) = p.stop();
    assert!(
        log.contains("did you mean `scheduler`?"),
        "the diagnostics are printed: {log}"
    );
    assert!(log.contains("running the last known good config"), "{log}");
}

#[test]
fn with_no_valid_config_and_no_last_good_it_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("pharos.toml");
    std::fs::write(&cfg, "[vrrp.V]\nvrid = 0\n").unwrap();
    let out = Command::new(BIN)
        .args(["run", "--config"])
        .arg(&cfg)
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .arg("--socket")
        .arg(dir.path().join("c.sock"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("VRID 0 is out of range") && err.contains("nothing to run"),
        "{err}"
    );
}

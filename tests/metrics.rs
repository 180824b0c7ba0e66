//! `/metrics` as Prometheus's own tools read it: `pharos run` in a network
//! namespace of the test's own, with a VRRP instance, a service whose
//! real servers are checked over TCP (busybox httpd on one port, nothing
//! on the other) and a stand-alone check. What curl gets (the classic text
//! format 0.0.4) is clean to `promtool check metrics` (Debian's
//! `prometheus`); what a Prometheus server's `Accept` asks for is
//! OpenMetrics, which Prometheus's Python client parses
//! (`python3-prometheus-client`); labels are the config's names; and
//! `configs/grafana-dashboard.json` queries only families pharos serves,
//! in PromQL that promtool parses. (The IPVS families' samples need a
//! kernel with IPVS: `src/ipvs/view.rs`'s tests hold a hand-built table's
//! to the same tools.)

mod common;

use std::collections::BTreeSet;
use std::process::Command;
use std::time::{Duration, Instant};

use common::lan::wait_for;
use common::netns::{Httpd, Netns, start};
use common::{promtool_check_metrics, run_with_input};

const LONG: Duration = Duration::from_secs(30);
const URL: &str = "http://127.0.0.1:9412/metrics";
/// What Prometheus 2.42 (Debian 12's) sends when it scrapes.
const PROMETHEUS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

/// The body and `Content-Type` of a GET of `/metrics` in the namespace.
fn scrape(ns: &Netns, accept: Option<&str>) -> (String, String) {
    let mut cmd = ns.exec(&["curl", "-s", "-S", "--max-time", "10"]);
    if let Some(a) = accept {
        cmd.args(["-H", &format!("Accept: {a}")]);
    }
    let out = cmd
        .args(["-w", "\n%{content_type}", URL])
        .output()
        .expect("curl is installed (make deps)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let all = String::from_utf8(out.stdout).expect("the exposition is UTF-8");
    let (body, kind) = all.rsplit_once('\n').expect("curl wrote the type last");
    (body.to_string(), kind.to_string())
}

/// Each sample's and each family's name in a 0.0.4 text: what a query
/// may name (a histogram's `_bucket`, `_sum` and `_count` too, and a
/// family with no sample yet, such as the IPVS families on a host without
/// IPVS).
fn exposed_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in text.lines() {
        if let Some(t) = line.strip_prefix("# TYPE ") {
            let (name, kind) = t.split_once(' ').unwrap();
            names.insert(name.to_string());
            if kind == "histogram" || kind == "summary" {
                for s in ["_bucket", "_sum", "_count"] {
                    names.insert(format!("{name}{s}"));
                }
            }
        } else if !line.starts_with('#') && !line.is_empty() {
            names.insert(line.split(['{', ' ']).next().unwrap().to_string());
        }
    }
    names
}

/// The metric names a PromQL expression selects: identifiers that are not
/// inside a string, a `{}` matcher list, a `[]` range or a `by`/`without`/
/// `on`/`ignoring` label list, not a function (followed by `(`) and not a
/// keyword.
fn promql_metrics(expr: &str) -> Vec<String> {
    const KEYWORDS: [&str; 17] = [
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "bool",
        "and",
        "or",
        "unless",
        "offset",
        "sum",
        "avg",
        "max",
        "min",
        "count",
        "inf",
    ];
    let chars: Vec<char> = expr.chars().collect();
    let (mut i, mut depth_braces, mut depth_brackets) = (0, 0, 0);
    let mut label_list = false;
    let mut out = Vec::new();
    while i < chars.len() {
        let c = chars[i];
        if c == '"' || c == '\'' {
            i += 1;
            while i < chars.len() && chars[i] != c {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            continue;
        }
        match c {
            '{' => depth_braces += 1,
            '}' => depth_braces -= 1,
            '[' => depth_brackets += 1,
            ']' => depth_brackets -= 1,
            ')' => label_list = false,
            _ => {}
        }
        if c.is_ascii_digit() {
            // A number or a duration (`0.99`, `5m`): not a name.
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
            continue;
        }
        if c.is_ascii_alphabetic() || c == '_' || c == ':' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || "_:".contains(chars[i])) {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let next = chars[i..].iter().find(|c| !c.is_whitespace());
            if [
                "by",
                "without",
                "on",
                "ignoring",
                "group_left",
                "group_right",
            ]
            .contains(&word.as_str())
            {
                label_list = true;
            } else if depth_braces == 0
                && depth_brackets == 0
                && !label_list
                && next != Some(&'(')
                && !KEYWORDS.contains(&word.to_ascii_lowercase().as_str())
            {
                out.push(word);
            }
            continue;
        }
        i += 1;
    }
    out
}

/// Every PromQL expression of a Grafana dashboard: its panels' targets'
/// `expr`, and its query variables' `label_values(EXPR, LABEL)`.
fn dashboard_queries(dash: &serde_json::Value) -> Vec<String> {
    fn walk(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                if let Some(serde_json::Value::String(e)) = m.get("expr") {
                    out.push(e.clone());
                }
                m.values().for_each(|v| walk(v, out));
            }
            serde_json::Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(&dash["panels"], &mut out);
    for var in dash["templating"]["list"].as_array().unwrap() {
        let q = var["definition"].as_str().unwrap();
        let inner = q
            .strip_prefix("label_values(")
            .and_then(|r| r.strip_suffix(')'))
            .and_then(|r| r.rsplit_once(','))
            .unwrap_or_else(|| panic!("a variable's query is label_values(EXPR, LABEL): {q}"));
        out.push(inner.0.to_string());
    }
    out
}

#[test]
fn promtool_and_the_openmetrics_parser_accept_the_live_metrics_and_the_dashboard_uses_only_them() {
    let began = Instant::now();
    let ns = Netns::with_eth0("10.9.0.1/24");
    let www = tempfile::tempdir().unwrap();
    let _web = Httpd::start(&ns, 8081, www.path());
    let cfg = r#"
[system]
ip_forward = true

[services.web]
address = "10.9.0.100:80"
forwarding = "nat"
check = { type = "tcp", interval = "300ms", timeout = "250ms", retries = 0 }

[services.web.real_servers]
"127.0.0.1:8081" = {}
"127.0.0.1:8082" = { weight = 2 }

[checks.gateway]
type = "exec"
command = ["/bin/true"]
interval = "300ms"

[vrrp.VI_1]
interface = "eth0"
vrid = 9
version = 3
advert_interval = "100ms"
virtual_addresses = ["10.9.0.100/24"]

[metrics]
listen = "127.0.0.1:9412"
"#;
    let r = start(&ns, cfg);
    let up = r#"pharos_check_up{service="web",server="127.0.0.1:8081"} 1"#;
    wait_for(
        "VRRP master, 8081 and the stand-alone check up",
        LONG,
        || {
            let (text, _) = scrape(&ns, None);
            text.contains(r#"pharos_vrrp_state{vrrp_instance="VI_1",state="master"} 1"#)
                && text.contains(up)
                && text.contains(r#"pharos_check_up{check="gateway"} 1"#)
        },
    );
    let started = began.elapsed();
    // A VRRP packet pharos must drop (VRID 42, a zero checksum), sent from
    // the veth's other end in a namespace of its own (a packet from an
    // address of pharos's own namespace is a martian to the kernel): the
    // drops family has a series to show.
    let peer = Netns::new();
    ns.run(&["ip", "link", "set", "eth1", "netns", &peer.0]);
    peer.run(&["ip", "link", "set", "eth1", "up"]);
    peer.run(&["ip", "addr", "add", "10.9.0.2/24", "dev", "eth1"]);
    let send = "import socket\n\
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 112)\n\
s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b'eth1')\n\
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 255)\n\
s.sendto(bytes([0x31, 42, 100, 1, 0, 100, 0, 0, 10, 9, 0, 200]), ('224.0.0.18', 0))\n";
    let dropped = r#"pharos_vrrp_adverts_dropped_total{interface="eth0",reason=""#;
    wait_for("the stray packet counted as dropped", LONG, || {
        peer.run(&["/usr/bin/python3", "-c", send]);
        scrape(&ns, None).0.contains(dropped)
    });

    // What curl and promtool get: the classic text, clean to promtool.
    let (text, kind) = scrape(&ns, None);
    assert_eq!(kind, "text/plain; version=0.0.4; charset=utf-8");
    promtool_check_metrics(&text);
    assert!(!text.contains("# EOF"), "{text}");
    // A client that shuts its sending side once the request is out
    // (busybox nc, as the VM test scrapes) gets the whole exposition too,
    // not its headers alone: hyper without half_close took that EOF for
    // the end of the connection and cut the streamed body. Here the body
    // is small and the host fast, so it usually came whole even then; in
    // the VM (tests/vm_ipvs.rs) it came cut every time.
    let (_, raw) = run_with_input(
        &mut ns.exec(&["busybox", "nc", "-w", "10", "127.0.0.1", "9412"]),
        "GET /metrics HTTP/1.0\r\n\r\n",
    );
    let body = raw.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    assert_eq!(
        exposed_names(body),
        exposed_names(&text),
        "busybox nc's scrape:\n{raw}"
    );
    for want in [
        "# TYPE pharos_check_results_total counter\n",
        "# TYPE pharos_vrrp_adverts_sent_total counter\n",
        "# TYPE process_cpu_seconds_total counter\n",
        "# TYPE pharos_ipvs_backend_incoming_bytes_total counter\n",
        "# TYPE pharos_ipvs_service_connections_per_second gauge\n",
        &format!(
            "pharos_build_info{{version=\"{}\"}} 1\n",
            env!("CARGO_PKG_VERSION")
        ),
        // Labels are the config's names: the service and the server as
        // written, the check's and the VRRP instance's names.
        up,
        r#"pharos_check_up{service="web",server="127.0.0.1:8082"} 0"#,
        r#"pharos_vrrp_priority{vrrp_instance="VI_1"} 100"#,
    ] {
        assert!(text.contains(want), "`{want}` missing:\n{text}");
    }
    // Never the tasks' internal keys (`rs:web/...`, `check:gateway`).
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        assert!(
            !line.contains("=\"rs:") && !line.contains("=\"check:") && !line.contains("target="),
            "an internal key as a label: {line}"
        );
    }

    // What a Prometheus server gets: OpenMetrics, as its parser reads it.
    let (om, kind) = scrape(&ns, Some(PROMETHEUS_ACCEPT));
    assert_eq!(
        kind,
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    assert!(om.ends_with("# EOF\n"), "{om}");
    let script = "import sys\n\
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse\n\
for f in parse(sys.stdin.read()):\n    print(f.name, f.type, len(f.samples))\n";
    // Debian's python, which Debian's package installs for.
    let (ok, families) = run_with_input(Command::new("/usr/bin/python3").args(["-c", script]), &om);
    assert!(ok, "the OpenMetrics parser refused it: {families}\n{om}");
    for want in [
        "pharos_check_results counter",
        "pharos_build info 1",
        "pharos_check_latency_seconds histogram",
        "process_cpu_seconds counter 1",
    ] {
        assert!(families.contains(want), "{want}: {families}");
    }

    // The dashboard: Grafana's model, a `${DS_PROMETHEUS}` input, and
    // queries of families pharos serves only.
    let dash: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/grafana-dashboard.json"),
        )
        .unwrap(),
    )
    .expect("configs/grafana-dashboard.json is JSON");
    assert_eq!(dash["__inputs"][0]["name"], "DS_PROMETHEUS");
    assert_eq!(dash["__inputs"][0]["pluginId"], "prometheus");
    let panels = dash["panels"].as_array().unwrap();
    for p in panels.iter().filter(|p| p["type"] != "row") {
        assert_eq!(
            p["datasource"]["uid"], "${DS_PROMETHEUS}",
            "{}: its datasource is the input",
            p["title"]
        );
    }
    let exposed = exposed_names(&text);
    let queries = dashboard_queries(&dash);
    let mut used = BTreeSet::new();
    for q in &queries {
        let names = promql_metrics(q);
        assert!(!names.is_empty(), "no metric in `{q}`");
        for n in names {
            assert!(
                exposed.contains(&n),
                "the dashboard queries `{n}` (in `{q}`), which pharos does not serve"
            );
            used.insert(n);
        }
    }
    for want in [
        "pharos_vrrp_state",
        "pharos_vrrp_priority",
        "pharos_check_up",
        "pharos_check_latency_seconds_bucket",
        "pharos_check_results_total",
        "pharos_ipvs_service_connections_per_second",
        "pharos_ipvs_service_incoming_bytes_per_second",
        "pharos_ipvs_backend_connections_active",
        "pharos_ipvs_backend_incoming_bytes_total",
        "pharos_task_restarts_total",
        "process_resident_memory_bytes",
    ] {
        assert!(used.contains(want), "the dashboard has no panel of {want}");
    }
    // Each query is PromQL, as promtool parses a rules file's (Grafana's
    // interval variables are Grafana's to fill in).
    let rules = tempfile::NamedTempFile::new().unwrap();
    let mut yaml = String::from("groups:\n  - name: dashboard\n    rules:\n");
    for (i, q) in queries.iter().enumerate() {
        let q = q
            .replace("$__rate_interval", "1m")
            .replace("$__interval", "1m");
        let q = serde_json::to_string(&q).unwrap();
        yaml += &format!("      - record: dashboard:query{i}\n        expr: {q}\n");
    }
    std::fs::write(rules.path(), &yaml).unwrap();
    let out = Command::new("promtool")
        .args(["check", "rules"])
        .arg(rules.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "promtool check rules: {}{}\n{yaml}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!(
        "up in {started:?}, everything checked in {:?}; log:\n{}",
        began.elapsed(),
        if std::env::var_os("PHAROS_TEST_LOG").is_some() {
            r.log()
        } else {
            String::new()
        }
    );
}

#[test]
fn promql_metric_names_are_told_from_functions_labels_and_keywords() {
    assert_eq!(
        promql_metrics(
            r#"histogram_quantile(0.99, sum by (instance, le) (rate(a_bucket{instance=~"$x", le!="b_c"}[$__rate_interval]))) or on (job) b_total offset 5m"#
        ),
        vec!["a_bucket", "b_total"]
    );
    assert_eq!(promql_metrics("max(x) > bool 2"), vec!["x"]);
}

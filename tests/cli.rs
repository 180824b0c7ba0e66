//! The command line as a user meets it, through the real binary: output
//! cut short by a reader that goes away, what `plan` says about nodes and
//! kernel modules, errors from a kernel without IPVS, `check --format json`
//! of a valid file, and a description for every argument and flag.

use std::os::fd::OwnedFd;
use std::path::Path;
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_pharos");

fn pharos() -> Command {
    let mut c = Command::new(BIN);
    c.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1");
    c
}

/// The write end of a pipe whose read end is already closed: every write
/// to it fails with EPIPE, as when `| head -1` has read its line and gone.
fn gone_reader() -> OwnedFd {
    // Close-on-exec: another test's child spawned in between must not
    // inherit the read end and keep the pipe open.
    let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
    drop(read);
    write
}

/// Runs `args` with stdout (or stderr) writing into a pipe nobody reads.
fn with_reader_gone(args: &[&str], stream: &str) -> Output {
    let mut c = pharos();
    c.args(args).stdin(Stdio::null());
    if stream == "stdout" {
        c.stdout(Stdio::from(gone_reader())).stderr(Stdio::piped());
    } else {
        c.stdout(Stdio::piped()).stderr(Stdio::from(gone_reader()));
    }
    c.output().unwrap()
}

#[test]
fn every_command_ends_quietly_with_141_when_its_reader_goes_away() {
    let cases: &[&[&str]] = &[
        &["schema"],
        &["check", "--format", "json", "configs/lvs-dr-pair.toml"],
        &["check", "configs/lvs-dr-pair.toml"],
        &[
            "check",
            "--format",
            "json",
            "tests/golden/several-errors.toml",
        ],
        &["import", "ipvsadm", "tests/golden/import/fwmark.save"],
        &["plan", "configs/lvs-dr-pair.toml"],
        &["--help"],
        &["help", "plan"],
        &["--version"],
    ];
    for args in cases {
        let out = with_reader_gone(args, "stdout");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "pharos {args:?}: {err}");
        assert!(!err.contains("Broken pipe"), "pharos {args:?}: {err}");
        assert_eq!(out.status.code(), Some(141), "pharos {args:?}: {err}");
    }
    // The same when the diagnostics' reader (stderr) goes away.
    for args in [
        &["check", "tests/golden/several-errors.toml"][..],
        &["check", "/nonexistent.toml"],
        &["ipvs", "list"],
        &["status", "--socket", "/nonexistent/pharos.sock"],
        &["no-such-command"],
    ] {
        let out = with_reader_gone(args, "stderr");
        assert_eq!(out.status.code(), Some(141), "pharos {args:?}");
    }
}

#[test]
fn check_json_of_a_valid_file_names_the_file_and_the_nodes_checked() {
    let out = pharos()
        .args(["check", "--format", "json", "configs/lvs-dr-pair.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report,
        serde_json::json!({
            "file": "configs/lvs-dr-pair.toml",
            "result": "ok",
            "nodes": ["lvs1", "lvs2", "rs1", "rs2"],
            "diagnostics": [],
        })
    );
    let one = pharos()
        .args(["check", "--format", "json", "--node", "lvs2"])
        .arg("configs/lvs-dr-pair.toml")
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&one.stdout).unwrap();
    assert_eq!(report["nodes"], serde_json::json!(["lvs2"]));
}

fn plan(text: &str, extra: &[&str]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pharos.toml");
    std::fs::write(&file, text).unwrap();
    let out = pharos()
        .arg("plan")
        .args(extra)
        .arg(&file)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.is_empty(), "{err}");
    (out.status.code(), String::from_utf8(out.stdout).unwrap())
}

const SERVICE: &str = r#"
[system]
ip_forward = true

[services.web]
address = "192.0.2.10:80"
scheduler = "wlc"
forwarding = "nat"

[services.web.real_servers]
"198.51.100.1:8080" = {}
"#;

#[test]
fn plan_says_whether_a_module_it_would_load_exists() {
    use pharos::kernel::modules::{Presence, presence};
    let (code, text) = plan(SERVICE, &[]);
    match presence("ip_vs") {
        // This host (no ip_vs anywhere) is the case the test was written on.
        Presence::Missing(_) => {
            assert!(
                text.contains("  ! load ip_vs: the running kernel (")
                    && text.contains("has no module ip_vs"),
                "{text}"
            );
            assert!(!text.contains("+ load ip_vs\n"), "{text}");
            let last = text.lines().last().unwrap();
            assert!(!last.ends_with(" 0 impossible"), "{text}");
            assert_eq!(code, Some(1), "{text}");
        }
        Presence::Available => assert!(text.contains("  + load ip_vs\n"), "{text}"),
        Presence::Loaded => assert!(text.contains("  = ip_vs (loaded)\n"), "{text}"),
        Presence::Builtin => assert!(text.contains("  = ip_vs (built into"), "{text}"),
    }
}

#[test]
fn plan_says_which_node_it_planned_for() {
    let (_, text) = plan("[system]\n", &[]);
    assert_eq!(
        text.lines().next(),
        Some("node: none (the file defines no nodes); the base config is planned"),
        "{text}"
    );
    // A MAC address no box has: no node matches.
    let nodes = "[nodes.far]\nmatch = { mac = \"02:00:5e:ff:ff:fe\" }\n";
    let (_, text) = plan(nodes, &[]);
    let first = text.lines().next().unwrap();
    assert!(
        first.starts_with("node: none; no node of the file (far) matches this box")
            && first.contains("`pharos run` would stay in maintenance here")
            && first.contains("the base config is planned for reference"),
        "{text}"
    );
    let base = format!("[system]\nunmatched = \"base\"\n{nodes}");
    let (_, text) = plan(&base, &[]);
    assert!(
        text.lines()
            .next()
            .unwrap()
            .contains("the base config is planned (`system.unmatched = \"base\"`)"),
        "{text}"
    );
    let (_, text) = plan(nodes, &["--node", "far"]);
    assert_eq!(text.lines().next(), Some("node far (named by --node)"));
    // The node matched by this box's host name, as `pharos run` would.
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let host = host.trim();
    let by_name = format!("{nodes}[nodes.here]\nmatch = {{ hostname = \"{host}\" }}\n");
    let (_, text) = plan(&by_name, &[]);
    assert_eq!(
        text.lines().next(),
        Some(format!("node here (this box's host name is {host})").as_str()),
        "{text}"
    );
}

#[test]
fn ipvs_errors_are_sentences() {
    for args in [&["ipvs", "list"][..], &["ipvs", "save"]] {
        let out = pharos().args(args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        for raw in ["Nlmsgerr", "{ ", "Application error"] {
            assert!(!err.contains(raw), "pharos {args:?}: {err}");
        }
        if out.status.success() {
            continue; // a kernel with IPVS: nothing to say
        }
        assert_eq!(out.status.code(), Some(1), "{err}");
        if !Path::new("/sys/module/ip_vs").exists() {
            assert_eq!(
                err.trim_end(),
                "pharos: the kernel has no IPVS (generic netlink family IPVS not found): \
                 load the ip_vs module (modprobe ip_vs) or run on a kernel with CONFIG_IP_VS"
            );
        }
    }
}

/// The entries of a help section (`Arguments:`, `Options:`, `Commands:`):
/// each entry's first line, and whether it has a description.
fn entries(help: &str, section: &str) -> Vec<(String, bool)> {
    let lines: Vec<&str> = help.lines().collect();
    let Some(start) = lines.iter().position(|l| *l == section) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut i = start + 1;
    while i < lines.len() && !lines[i].is_empty() {
        let line = lines[i];
        let body = line.trim_start();
        let indent = line.len() - body.len();
        i += 1;
        // Entries start at 2 (`-h, --help`, `<FILE>`) or 6 (`--json`,
        // past the room for a short flag); deeper is a description's own
        // line in the long layout.
        if indent > 6 {
            continue;
        }
        let (spec, rest) = body.split_once("  ").unwrap_or((body, ""));
        // A default or the possible values alone are not a description.
        let said = rest.split('[').next().is_some_and(|d| !d.trim().is_empty());
        let next_line = lines
            .get(i)
            .is_some_and(|n| n.len() - n.trim_start().len() > 6 && !n.trim().is_empty());
        out.push((
            spec.to_string(),
            said || (rest.trim().is_empty() && next_line),
        ));
    }
    out
}

#[test]
fn the_help_reader_sees_a_missing_description() {
    // `pharos help status` and `help plan` as they were before every entry had one.
    let old = "Options:\n      --json             \n      --socket <SOCKET>  [default: /run/pharos/control.sock]\n  -h, --help             Print help\n";
    let got = entries(old, "Options:");
    let described: Vec<bool> = got.iter().map(|e| e.1).collect();
    assert_eq!(described, [false, false, true], "{got:?}");
    let plan = "Arguments:\n  <FILE>  \n\nOptions:\n";
    assert_eq!(entries(plan, "Arguments:"), [("<FILE>".to_string(), false)]);
    // The long layout: the description on the next line.
    let long = "Options:\n      --config <CONFIG>\n          The config file\n";
    assert_eq!(
        entries(long, "Options:"),
        [("--config <CONFIG>".to_string(), true)]
    );
}

#[test]
fn every_argument_flag_and_command_has_a_description() {
    let mut todo: Vec<Vec<String>> = vec![Vec::new()];
    let mut seen = 0;
    let mut missing = Vec::new();
    while let Some(path) = todo.pop() {
        let out = pharos().arg("help").args(&path).output().unwrap();
        assert!(out.status.success(), "pharos help {path:?}");
        let help = String::from_utf8(out.stdout).unwrap();
        seen += 1;
        for section in ["Arguments:", "Options:", "Commands:"] {
            for (spec, described) in entries(&help, section) {
                if !described {
                    missing.push(format!("pharos help {}: {spec}", path.join(" ")));
                }
                if section == "Commands:" && spec != "help" {
                    let mut sub = path.clone();
                    sub.push(spec);
                    todo.push(sub);
                }
            }
        }
    }
    assert!(seen >= 14, "only {seen} help pages");
    assert!(
        missing.is_empty(),
        "without a description:\n{}",
        missing.join("\n")
    );
}

/// The fault switch (`pharos fault TASK`, cargo feature `fault-switch`) is
/// built into the debug image's binary only: the build `cargo test` makes,
/// as the production one, does not know the command.
#[test]
#[cfg(not(feature = "fault-switch"))]
fn the_production_build_has_no_fault_switch() {
    let out = pharos().args(["fault", "vrrp"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unrecognized subcommand 'fault'"), "{err}");
    let help = pharos().arg("--help").output().unwrap();
    assert!(!String::from_utf8_lossy(&help.stdout).contains("fault"));
}

//! The management API over real mutual TLS, end to end: `pharos identity
//! init` makes the CA and both identities; `pharos run` in a network
//! namespace of its own serves them; `pharos remote` (and openssl, the
//! tool an admin checks a TLS service with) talks to it.
//!
//! - No client certificate, one from another CA, or an expired one: refused
//!   at the handshake, and the verb (`poweroff`) is not done.
//! - A good client does every verb: status, events, plan (the same as
//!   `pharos plan` on the box), apply (an invalid one changes nothing),
//!   a trial that rolls back by itself, a confirmed one that stays,
//!   rollback, revisions, config; a restart during a trial comes back on
//!   the revision before; an apply whose config file cannot be written is
//!   refused and kept as no revision; poweroff hands over and stops.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use common::lan::wait_for;
use common::netns::{Netns, Run, start_in};

const BIN: &str = env!("CARGO_BIN_EXE_pharos");
const LONG: Duration = Duration::from_secs(30);

fn config(checks: &[&str]) -> String {
    let mut s = String::new();
    for c in checks {
        s.push_str(&format!(
            "[checks.{c}]\ntype = \"exec\"\ncommand = [\"/bin/true\"]\ninterval = \"1s\"\n\n"
        ));
    }
    s
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `pharos remote 127.0.0.1:9443 ARGS` in the namespace.
fn remote(ns: &Netns, identity: &Path, args: &[&str]) -> Output {
    ns.exec(&[BIN, "remote", "127.0.0.1:9443", "--identity"])
        .arg(identity)
        .args(args)
        .output()
        .unwrap()
}

fn checks_running(r: &Run) -> Vec<String> {
    let s = r.status();
    let mut names: Vec<String> = s["subsystems"]["check"]["targets"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|t| t["target"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// openssl s_client with `extra` (certificate options), sending one
/// status request; returns what came back.
fn openssl(ns: &Netns, ca: &Path, extra: &[&str]) -> String {
    let mut c = ns.exec(&[
        "sh",
        "-c",
        &format!(
            "(echo '{{\"cmd\":\"status\"}}'; sleep 2) | openssl s_client -quiet -connect 127.0.0.1:9443 \
             -verify_return_error -CAfile {} {} 2>&1",
            ca.display(),
            extra.join(" ")
        ),
    ]);
    let out = c.output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A client certificate from `ca_dir`'s CA that expired a year ago.
fn expired_client(ca_dir: &Path, into: &Path) {
    let ca_key =
        rcgen::KeyPair::from_pem(&std::fs::read_to_string(ca_dir.join("ca.key")).unwrap()).unwrap();
    let issuer = rcgen::Issuer::from_ca_cert_pem(
        &std::fs::read_to_string(ca_dir.join("ca.pem")).unwrap(),
        ca_key,
    )
    .unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "expired");
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    params.not_before = rcgen::date_time_ymd(2020, 1, 1);
    params.not_after = rcgen::date_time_ymd(2021, 1, 1);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();
    std::fs::create_dir_all(into).unwrap();
    std::fs::copy(ca_dir.join("ca.pem"), into.join("ca.pem")).unwrap();
    std::fs::write(into.join("client.pem"), cert.pem()).unwrap();
    std::fs::write(into.join("client.key"), key.serialize_pem()).unwrap();
}

fn identity_init(dir: &Path, client: &str) {
    let out = Command::new(BIN)
        .args(["identity", "init", "--dir"])
        .arg(dir)
        .args([
            "--box",
            "lab",
            "--address",
            "127.0.0.1",
            "--listen",
            "127.0.0.1:9443",
            "--client",
            client,
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

#[test]
fn the_management_api_over_mutual_tls_does_every_verb_and_refuses_strangers() {
    let ns = Netns::new();
    ns.run(&["ip", "link", "set", "lo", "up"]);
    let keys = tempfile::tempdir().unwrap();
    let me = keys.path().join("me");
    identity_init(&me, "alice");
    let stranger = keys.path().join("stranger");
    identity_init(&stranger, "mallory");
    let expired = keys.path().join("expired");
    expired_client(&me, &expired);

    let c1 = config(&["a"]);
    let c2 = config(&["a", "b"]);
    let c3 = config(&["a", "b", "c"]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pharos.toml"), &c1).unwrap();
    copy_dir(&me.join("boxes/lab"), &dir.path().join("identity"));
    let r = start_in(&ns, dir);
    wait_for("the management API is up", LONG, || {
        r.log().contains("management API on 127.0.0.1:9443")
    });

    // Strangers are refused at the handshake, and what they asked is not done.
    for (who, id) in [
        ("another CA", &stranger),
        ("an expired certificate", &expired),
    ] {
        let out = remote(&ns, id, &["poweroff"]);
        assert_eq!(out.status.code(), Some(2), "{who}: {}", text(&out));
    }
    let plain = openssl(&ns, &me.join("ca.pem"), &[]);
    assert!(
        !plain.contains("\"pharos_version\""),
        "no client certificate: {plain}"
    );
    let good = openssl(
        &ns,
        &me.join("ca.pem"),
        &[
            &format!("-cert {}", me.join("client.pem").display()),
            &format!("-key {}", me.join("client.key").display()),
        ],
    );
    assert!(
        good.contains("\"pharos_version\""),
        "openssl with alice's certificate: {good}"
    );
    assert!(
        r.status()["ready"] == true,
        "still up after the strangers' poweroff"
    );
    let refused = r.log().matches("TLS handshake refused").count();
    assert!(refused >= 3, "three refusals logged:\n{}", r.log());

    // status, events.
    let out = remote(&ns, &me, &["status"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("TASK"),
        "{}",
        text(&out)
    );
    let mut events = ns
        .exec(&[BIN, "remote", "127.0.0.1:9443", "--identity"])
        .arg(&me)
        .arg("events")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let ev_out = events.stdout.take().unwrap();
    let heard = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let h = heard.clone();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for l in std::io::BufReader::new(ev_out)
            .lines()
            .map_while(Result::ok)
        {
            h.lock().unwrap().push_str(&format!("{l}\n"));
        }
    });

    // plan: the box's own, the same as `pharos plan` run on it.
    let files = tempfile::tempdir().unwrap();
    let f = |name: &str, t: &str| -> PathBuf {
        let p = files.path().join(name);
        std::fs::write(&p, t).unwrap();
        p
    };
    let (p2, p3) = (f("two.toml", &c2), f("three.toml", &c3));
    let bad = f(
        "bad.toml",
        "[checks.x]\ntype = \"exec\"\ncommand = [\"/bin/true\"]\ninterval = \"soon\"\n",
    );
    let there = remote(&ns, &me, &["plan", p2.to_str().unwrap()]);
    let here = ns
        .exec(&[BIN, "plan", p2.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(
        text(&there),
        text(&here),
        "remote plan = pharos plan on the box"
    );

    // apply: invalid → every diagnostic, nothing changed, nothing stored.
    let out = remote(&ns, &me, &["apply", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.toml") && err.contains(":4:") && err.contains('^'),
        "{err}"
    );
    assert_eq!(checks_running(&r), ["check:a"]);
    let out = remote(&ns, &me, &["config"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), c1);

    // apply: kept as r2 (r1 is the file as it was), running at once.
    let out = remote(&ns, &me, &["apply", p2.to_str().unwrap(), "-m", "add b"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("applied as r2: check +1 ~0 -0"),
        "{}",
        text(&out)
    );
    wait_for("b runs", LONG, || {
        checks_running(&r) == ["check:a", "check:b"]
    });

    // A trial that is not confirmed rolls back by itself at its deadline.
    let out = remote(
        &ns,
        &me,
        &["apply", p3.to_str().unwrap(), "--confirm-within", "10s"],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("on trial until"),
        "{}",
        text(&out)
    );
    wait_for("c runs", LONG, || checks_running(&r).len() == 3);
    let out = remote(&ns, &me, &["status"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("ON TRIAL: r3 by alice"),
        "{}",
        text(&out)
    );
    let out = remote(&ns, &me, &["revisions"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("r3 by alice"),
        "{}",
        text(&out)
    );
    wait_for("the trial rolls back", LONG, || {
        checks_running(&r) == ["check:a", "check:b"]
    });
    let out = remote(&ns, &me, &["config"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        c2,
        "the file is r2's again"
    );

    // A confirmed trial stays past its deadline.
    let out = remote(
        &ns,
        &me,
        &["apply", p3.to_str().unwrap(), "--confirm-within", "10s"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let out = remote(&ns, &me, &["confirm"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("confirmed by alice"),
        "{}",
        text(&out)
    );
    let out = remote(&ns, &me, &["confirm"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "nothing on trial now: {}",
        text(&out)
    );
    std::thread::sleep(Duration::from_secs(12));
    assert_eq!(checks_running(&r).len(), 3, "kept after its deadline");

    // rollback: the one before the latest, as a new revision.
    let out = remote(&ns, &me, &["rollback"]);
    assert!(out.status.success(), "{}", text(&out));
    wait_for("rolled back to two checks", LONG, || {
        checks_running(&r).len() == 2
    });
    let out = remote(&ns, &me, &["config", "3"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        c3,
        "revision 3 is kept"
    );
    let out = remote(&ns, &me, &["revisions"]);
    let listed = String::from_utf8_lossy(&out.stdout).into_owned();
    for want in ["add b", "back to r2", "rollback to r"] {
        assert!(listed.contains(want), "`{want}` in\n{listed}");
    }

    // A restart during a trial comes back on the revision before it.
    let out = remote(
        &ns,
        &me,
        &["apply", p3.to_str().unwrap(), "--confirm-within", "5m"],
    );
    assert!(out.status.success(), "{}", text(&out));
    wait_for("c runs again", LONG, || checks_running(&r).len() == 3);
    let _ = events.kill();
    let _ = events.wait();
    let dir = r.kill_keep();
    let r = start_in(&ns, dir);
    wait_for("came up on the revision before the trial", LONG, || {
        checks_running(&r).len() == 2
    });
    assert!(
        r.log().contains("restarted during the trial of r"),
        "{}",
        r.log()
    );

    // Every write was an event naming the client, a readable line each.
    let heard = heard.lock().unwrap().clone();
    assert!(
        heard.lines().all(|l| !l.starts_with('{')),
        "readable lines, not JSON:\n{heard}"
    );
    for want in [
        "applied by alice",
        "confirmed by alice",
        "not confirmed in time",
    ] {
        assert!(heard.contains(want), "`{want}` in the events:\n{heard}");
    }

    // An apply whose config file cannot be written (its place taken by a
    // directory that is not empty): refused, saying so; not kept as a
    // revision; the running config stays.
    let listed_before =
        String::from_utf8_lossy(&remote(&ns, &me, &["revisions"]).stdout).into_owned();
    let config = r.dir.path().join("pharos.toml");
    std::fs::remove_file(&config).unwrap();
    std::fs::create_dir(&config).unwrap();
    std::fs::write(config.join("in-the-way"), "x").unwrap();
    let out = remote(
        &ns,
        &me,
        &["apply", p3.to_str().unwrap(), "-m", "unwritable"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("could not save the new config"),
        "{}",
        text(&out)
    );
    let listed = String::from_utf8_lossy(&remote(&ns, &me, &["revisions"]).stdout).into_owned();
    assert_eq!(listed, listed_before, "no revision kept for it");
    assert!(!listed.contains("unwritable"), "{listed}");
    assert_eq!(checks_running(&r).len(), 2, "the running config stays");
    let status = String::from_utf8_lossy(&remote(&ns, &me, &["status"]).stdout).into_owned();
    assert!(status.contains("NOT SAVED:"), "{status}");

    // poweroff: the box says so and stops (VRRP would hand over first).
    let out = remote(&ns, &me, &["poweroff"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("powering off, as alice"),
        "{}",
        text(&out)
    );
    let mut r = r;
    wait_for("pharos stops", LONG, || {
        matches!(r.child.try_wait(), Ok(Some(_)))
    });
}

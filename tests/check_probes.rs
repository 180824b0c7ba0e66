//! Health-check probes (`check::probe`), each kind run for real against
//! servers this file starts on loopback (`common/servers.rs`): tcp connect
//! and refusal; http status ranges, body digests and text, timeouts while
//! connected; https with certificates made here (any certificate, a CA
//! file, the wrong CA, the wrong name) and SNI/Host as configured; udp
//! replies, silence and ICMP port unreachable; dns answers, rcodes and
//! replies with a stray ID; exec exit statuses, the target in the
//! environment, and a hanging command killed with its background child.
//! Also what `Probe::new` refuses and what `describe` says.
//!
//! Checks are written as TOML, as in pharos.toml. Timeouts that should be
//! hit are short; those that should not are long, so that a loaded
//! machine does not turn a pass into a flake.

#[path = "common/servers.rs"]
mod servers;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use pharos::check::probe::{Failure, Probe};
use pharos::config::model::Check;

const LONG: Duration = Duration::from_secs(10);
const SHORT: Duration = Duration::from_millis(500);
const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn check(toml: &str) -> Check {
    toml::from_str(toml).unwrap_or_else(|e| panic!("check TOML {toml:?}: {e}"))
}

/// A probe of `toml` against `target`, as for a real server at that
/// address and port.
fn probe(toml: &str, target: SocketAddr) -> Probe {
    Probe::new(&check(toml), target.ip(), Some(target.port()))
        .unwrap_or_else(|e| panic!("probe {toml:?}: {e}"))
}

async fn pass(toml: &str, target: SocketAddr) {
    let p = probe(toml, target);
    if let Err(f) = p.run(LONG).await {
        panic!("{} failed: {}", p.describe(), f.reason);
    }
}

/// Runs the probe, expects a failure, and returns its reason.
async fn fail(toml: &str, target: SocketAddr, timeout: Duration) -> String {
    let p = probe(toml, target);
    match p.run(timeout).await {
        Ok(()) => panic!("{} passed; it should have failed", p.describe()),
        Err(Failure { reason }) => reason,
    }
}

fn assert_has(reason: &str, part: &str) {
    assert!(reason.contains(part), "{reason:?} does not say {part:?}");
}

// ---------------------------------------------------------------- tcp

#[tokio::test]
async fn tcp_passes_on_a_listener_v4_and_v6() {
    let v4 = tokio::net::TcpListener::bind((LOCAL, 0)).await.unwrap();
    pass("type = \"tcp\"", v4.local_addr().unwrap()).await;
    let v6 = tokio::net::TcpListener::bind((Ipv6Addr::LOCALHOST, 0))
        .await
        .unwrap();
    pass("type = \"tcp\"", v6.local_addr().unwrap()).await;
    // From a chosen source address.
    pass(
        "type = \"tcp\"\nbind_to = \"127.0.0.1\"",
        v4.local_addr().unwrap(),
    )
    .await;
}

#[tokio::test]
async fn tcp_fails_on_a_closed_port_as_refused() {
    let reason = fail("type = \"tcp\"", servers::closed_port(LOCAL), LONG).await;
    assert_eq!(reason, "connection refused");
}

#[tokio::test]
async fn the_checks_port_and_address_win_over_the_real_servers() {
    let l = tokio::net::TcpListener::bind((LOCAL, 0)).await.unwrap();
    let port = l.local_addr().unwrap().port();
    // The real server's port is closed; the check's is open.
    let closed = servers::closed_port(LOCAL);
    let p = Probe::new(
        &check(&format!("type = \"tcp\"\nport = {port}")),
        LOCAL,
        Some(closed.port()),
    )
    .unwrap();
    assert_eq!(p.run(LONG).await, Ok(()));
    // The real server's address has nothing; the check's has the listener.
    let p = Probe::new(
        &check(&format!(
            "type = \"tcp\"\naddress = \"127.0.0.1\"\nport = {port}"
        )),
        IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3)),
        None,
    )
    .unwrap();
    assert_eq!(p.run(LONG).await, Ok(()));
}

// ---------------------------------------------------------------- http

#[tokio::test]
async fn http_passes_on_200_with_matching_body_rules() {
    let (addr, log) = servers::http(LOCAL).await;
    pass("type = \"http\"\npath = \"/ok\"", addr).await;
    pass(
        &format!(
            "type = \"http\"\npath = \"/ok\"\nmd5 = \"{}\"",
            servers::BODY_MD5
        ),
        addr,
    )
    .await;
    // Digests are accepted in upper case too.
    pass(
        &format!(
            "type = \"http\"\npath = \"/ok\"\nmd5 = \"{}\"",
            servers::BODY_MD5.to_uppercase()
        ),
        addr,
    )
    .await;
    pass(
        &format!(
            "type = \"http\"\npath = \"/ok\"\nsha256 = \"{}\"",
            servers::BODY_SHA256
        ),
        addr,
    )
    .await;
    pass(
        "type = \"http\"\npath = \"/ok\"\nbody_contains = \"is healthy\"",
        addr,
    )
    .await;
    // The digest is over the decoded body, whatever its transfer coding.
    pass(
        &format!(
            "type = \"http\"\npath = \"/chunked\"\nmd5 = \"{}\"",
            servers::BODY_MD5
        ),
        addr,
    )
    .await;
    pass(
        "type = \"http\"\npath = \"/chunked\"\nbody_contains = \"is healthy\"",
        addr,
    )
    .await;
    // What went on the wire: the path, Host as IP:port, Connection: close.
    let seen = log.lock().unwrap()[0].clone();
    assert_eq!(seen.path, "/ok");
    assert_eq!(seen.host.as_deref(), Some(addr.to_string().as_str()));
    assert_eq!(seen.connection.as_deref(), Some("close"));
}

#[tokio::test]
async fn http_fails_on_a_wrong_digest_naming_both() {
    let (addr, _) = servers::http(LOCAL).await;
    let wrong = "0123456789abcdef0123456789abcdef";
    let reason = fail(
        &format!("type = \"http\"\npath = \"/ok\"\nmd5 = \"{wrong}\""),
        addr,
        LONG,
    )
    .await;
    assert_eq!(
        reason,
        format!(
            "body md5 {} differs from the expected {wrong}",
            servers::BODY_MD5
        )
    );
    let wrong = "ab".repeat(32);
    let reason = fail(
        &format!("type = \"http\"\npath = \"/ok\"\nsha256 = \"{wrong}\""),
        addr,
        LONG,
    )
    .await;
    assert_has(&reason, servers::BODY_SHA256);
    assert_has(&reason, &wrong);
    let reason = fail(
        "type = \"http\"\npath = \"/ok\"\nbody_contains = \"is sick\"",
        addr,
        LONG,
    )
    .await;
    assert_has(&reason, "does not contain `is sick`");
}

#[tokio::test]
async fn http_status_ranges() {
    let (addr, _) = servers::http(LOCAL).await;
    let reason = fail("type = \"http\"\npath = \"/down\"", addr, LONG).await;
    assert_eq!(reason, "status 503 not in 200-299");
    let reason = fail("type = \"http\"\npath = \"/moved\"", addr, LONG).await;
    assert_eq!(reason, "status 302 not in 200-299");
    pass(
        "type = \"http\"\npath = \"/moved\"\nstatus = [\"200-399\"]",
        addr,
    )
    .await;
    pass(
        "type = \"http\"\npath = \"/down\"\nstatus = [200, 503]",
        addr,
    )
    .await;
    let reason = fail(
        "type = \"http\"\npath = \"/nope\"\nstatus = [200, \"300-302\"]",
        addr,
        LONG,
    )
    .await;
    assert_eq!(reason, "status 404 not in 200, 300-302");
}

#[tokio::test]
async fn http_times_out_on_a_slow_or_silent_server() {
    let (addr, _) = servers::http(LOCAL).await;
    let start = Instant::now();
    let reason = fail("type = \"http\"\npath = \"/slow\"", addr, SHORT).await;
    assert_eq!(reason, "timed out after 500 ms waiting for the response");
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );

    // Headers come, the body does not: only a body rule waits for it.
    pass("type = \"http\"\npath = \"/stall\"", addr).await;
    let reason = fail(
        "type = \"http\"\npath = \"/stall\"\nbody_contains = \"x\"",
        addr,
        SHORT,
    )
    .await;
    assert_eq!(reason, "timed out after 500 ms reading the body");

    let silent = servers::silent_tcp().await;
    let reason = fail("type = \"http\"", silent, SHORT).await;
    assert_eq!(reason, "timed out after 500 ms waiting for the response");
}

#[tokio::test]
async fn http_fails_when_the_server_hangs_up_or_sends_too_much() {
    let (addr, _) = servers::http(LOCAL).await;
    let reason = fail("type = \"http\"\npath = \"/hangup\"", addr, LONG).await;
    assert_eq!(
        reason,
        "no response: connection closed before message completed"
    );
    let reason = fail(
        &format!(
            "type = \"http\"\npath = \"/big\"\nmd5 = \"{}\"",
            servers::BODY_MD5
        ),
        addr,
        LONG,
    )
    .await;
    assert_has(&reason, "body longer than 4 MiB");
    // Without a body rule the body is not read at all.
    pass("type = \"http\"\npath = \"/big\"", addr).await;
    let reason = fail("type = \"http\"", servers::closed_port(LOCAL), LONG).await;
    assert_eq!(reason, "connection refused");
}

#[tokio::test]
async fn http_over_ipv6_with_a_host_header() {
    let (addr, log) = servers::http(IpAddr::V6(Ipv6Addr::LOCALHOST)).await;
    pass(
        "type = \"http\"\npath = \"/ok\"\nhost = \"www.pharos.test\"",
        addr,
    )
    .await;
    assert_eq!(
        log.lock().unwrap()[0].host.as_deref(),
        Some("www.pharos.test")
    );
}

// ---------------------------------------------------------------- https

fn ca_file(dir: &tempfile::TempDir, name: &str, pem: &str) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, pem).unwrap();
    path.to_str().unwrap().to_string()
}

#[tokio::test]
async fn https_verify_none_accepts_any_certificate() {
    let pki = servers::pki("pharos test CA");
    let (addr, log) = servers::https(&pki).await;
    pass("type = \"https\"\npath = \"/ok\"", addr).await;
    pass(
        &format!(
            "type = \"https\"\npath = \"/ok\"\nverify = \"none\"\nmd5 = \"{}\"",
            servers::BODY_MD5
        ),
        addr,
    )
    .await;
    // No host: no SNI (an IP is never sent as SNI), Host is IP:port.
    let seen = log.lock().unwrap()[0].clone();
    assert_eq!(seen.sni, None);
    assert_eq!(seen.host.as_deref(), Some(addr.to_string().as_str()));
    let reason = fail("type = \"https\"\npath = \"/down\"", addr, LONG).await;
    assert_eq!(reason, "status 503 not in 200-299");
}

#[tokio::test]
async fn https_verify_ca_with_sni_and_host_as_configured() {
    let pki = servers::pki("pharos test CA");
    let (addr, log) = servers::https(&pki).await;
    let dir = tempfile::tempdir().unwrap();
    let ca = ca_file(&dir, "ca.pem", &pki.ca_pem);
    pass(
        &format!(
            "type = \"https\"\npath = \"/ok\"\nhost = \"www.pharos.test\"\nverify = \"ca\"\nca_file = \"{ca}\""
        ),
        addr,
    )
    .await;
    let seen = log.lock().unwrap().pop().unwrap();
    assert_eq!(seen.sni.as_deref(), Some("www.pharos.test"));
    assert_eq!(seen.host.as_deref(), Some("www.pharos.test"));

    // A host with a port: the port goes in Host, not in SNI.
    pass(
        &format!(
            "type = \"https\"\npath = \"/ok\"\nhost = \"www.pharos.test:8443\"\nverify = \"ca\"\nca_file = \"{ca}\""
        ),
        addr,
    )
    .await;
    let seen = log.lock().unwrap().pop().unwrap();
    assert_eq!(seen.sni.as_deref(), Some("www.pharos.test"));
    assert_eq!(seen.host.as_deref(), Some("www.pharos.test:8443"));

    // No host: the certificate must name the IP, which this one does.
    pass(
        &format!("type = \"https\"\npath = \"/ok\"\nverify = \"ca\"\nca_file = \"{ca}\""),
        addr,
    )
    .await;
    assert_eq!(log.lock().unwrap().pop().unwrap().sni, None);

    // A name the certificate is not for.
    let reason = fail(
        &format!(
            "type = \"https\"\nhost = \"other.pharos.test\"\nverify = \"ca\"\nca_file = \"{ca}\""
        ),
        addr,
        LONG,
    )
    .await;
    assert_has(&reason, "TLS handshake failed: invalid peer certificate");
    assert_has(&reason, "other.pharos.test");
}

#[tokio::test]
async fn https_verify_ca_with_another_ca_fails_on_the_certificate() {
    let pki = servers::pki("pharos test CA");
    let (addr, _) = servers::https(&pki).await;
    let dir = tempfile::tempdir().unwrap();
    let other = ca_file(&dir, "other.pem", &servers::pki("another CA").ca_pem);
    let reason = fail(
        &format!(
            "type = \"https\"\nhost = \"www.pharos.test\"\nverify = \"ca\"\nca_file = \"{other}\""
        ),
        addr,
        LONG,
    )
    .await;
    assert_eq!(
        reason,
        "TLS handshake failed: invalid peer certificate: UnknownIssuer"
    );
    // Another CA that has the same name: found, but its key did not sign.
    let twin = ca_file(&dir, "twin.pem", &servers::pki("pharos test CA").ca_pem);
    let reason = fail(
        &format!(
            "type = \"https\"\nhost = \"www.pharos.test\"\nverify = \"ca\"\nca_file = \"{twin}\""
        ),
        addr,
        LONG,
    )
    .await;
    assert_eq!(
        reason,
        "TLS handshake failed: invalid peer certificate: BadSignature"
    );
}

#[tokio::test]
async fn https_over_tls12() {
    let pki = servers::pki("pharos test CA");
    let (addr, log) = servers::https_tls12(&pki).await;
    let dir = tempfile::tempdir().unwrap();
    let ca = ca_file(&dir, "ca.pem", &pki.ca_pem);
    // verify = "none" still checks the TLS 1.2 handshake's signature.
    pass("type = \"https\"\npath = \"/ok\"", addr).await;
    pass(
        &format!(
            "type = \"https\"\npath = \"/ok\"\nhost = \"www.pharos.test\"\nverify = \"ca\"\nca_file = \"{ca}\""
        ),
        addr,
    )
    .await;
    assert_eq!(
        log.lock().unwrap().pop().unwrap().sni.as_deref(),
        Some("www.pharos.test")
    );
}

#[tokio::test]
async fn https_against_plain_http_times_out_in_the_handshake() {
    // The plain server waits for a request line that never comes.
    let (addr, _) = servers::http(LOCAL).await;
    let reason = fail("type = \"https\"", addr, SHORT).await;
    assert_eq!(reason, "timed out after 500 ms in the TLS handshake");
}

// ---------------------------------------------------------------- udp

#[tokio::test]
async fn udp_passes_on_a_reply_and_matches_expect() {
    let addr = servers::udp_pong().await;
    pass("type = \"udp\"", addr).await;
    pass(
        "type = \"udp\"\npayload = \"PING\"\nexpect = \"PONG PING\"",
        addr,
    )
    .await;
    let reason = fail(
        "type = \"udp\"\npayload = \"PING\"\nexpect = \"HELLO\"",
        addr,
        LONG,
    )
    .await;
    assert_eq!(
        reason,
        "reply of 9 bytes does not contain `HELLO` (it starts `PONG PING`)"
    );
}

#[tokio::test]
async fn udp_without_a_reply() {
    let silent = servers::udp_silent().await;
    let closed = servers::closed_port(LOCAL);
    let reason = fail("type = \"udp\"", silent, SHORT).await;
    assert_eq!(reason, "no reply within 500 ms");
    // Silence is fine when no reply is expected...
    let p = probe("type = \"udp\"\nexpect_reply = false", silent);
    assert_eq!(p.run(SHORT).await, Ok(()));
    // ...but a port unreachable is not.
    let reason = fail("type = \"udp\"\nexpect_reply = false", closed, LONG).await;
    assert_eq!(reason, "connection refused (ICMP port unreachable)");
    let reason = fail("type = \"udp\"", closed, LONG).await;
    assert_eq!(reason, "connection refused (ICMP port unreachable)");
}

// ---------------------------------------------------------------- dns

#[tokio::test]
async fn dns_answers_and_rcodes() {
    let addr = servers::dns().await;
    pass(
        "type = \"dns\"\nquery_name = \"www.pharos.test\"\nanswer = \"192.0.2.10\"",
        addr,
    )
    .await;
    pass("type = \"dns\"\nquery_name = \"www.pharos.test\"", addr).await;
    // Addresses compare as addresses, not as text.
    pass(
        "type = \"dns\"\nquery_name = \"www.pharos.test\"\nquery_type = \"AAAA\"\nanswer = \"2001:DB8:0::10\"",
        addr,
    )
    .await;
    // Names compare without case or the trailing dot.
    pass(
        "type = \"dns\"\nquery_name = \"alias.pharos.test\"\nquery_type = \"CNAME\"\nanswer = \"WWW.pharos.test\"",
        addr,
    )
    .await;
    let reason = fail(
        "type = \"dns\"\nquery_name = \"www.pharos.test\"\nanswer = \"192.0.2.99\"",
        addr,
        LONG,
    )
    .await;
    assert_eq!(
        reason,
        "answer 192.0.2.99 not among the answers: 192.0.2.10"
    );
    pass(
        "type = \"dns\"\nquery_name = \"missing.pharos.test\"\nrcode = \"NXDOMAIN\"",
        addr,
    )
    .await;
    let reason = fail(
        "type = \"dns\"\nquery_name = \"missing.pharos.test\"",
        addr,
        LONG,
    )
    .await;
    assert_eq!(reason, "rcode NXDOMAIN where NOERROR was expected");
    let reason = fail(
        "type = \"dns\"\nquery_name = \"missing.pharos.test\"\nrcode = \"NOERROR\"\nanswer = \"192.0.2.10\"",
        addr,
        LONG,
    )
    .await;
    assert_eq!(reason, "rcode NXDOMAIN where NOERROR was expected");
}

#[tokio::test]
async fn dns_ignores_a_reply_with_another_id() {
    let addr = servers::dns().await;
    pass(
        "type = \"dns\"\nquery_name = \"stray.pharos.test\"\nanswer = \"192.0.2.10\"",
        addr,
    )
    .await;
}

#[tokio::test]
async fn dns_without_a_server() {
    let reason = fail(
        "type = \"dns\"\nquery_name = \"www.pharos.test\"",
        servers::closed_port(LOCAL),
        LONG,
    )
    .await;
    assert_eq!(reason, "connection refused (ICMP port unreachable)");
    let reason = fail(
        "type = \"dns\"\nquery_name = \"www.pharos.test\"",
        servers::udp_silent().await,
        SHORT,
    )
    .await;
    assert_eq!(reason, "no reply within 500 ms");
}

// ---------------------------------------------------------------- exec

/// A target for exec probes; nothing connects to it.
const EXEC_TARGET: &str = "127.0.0.1:8080";

#[tokio::test]
async fn exec_passes_on_exit_0_and_fails_with_the_status() {
    let target: SocketAddr = EXEC_TARGET.parse().unwrap();
    pass("type = \"exec\"\ncommand = [\"/bin/true\"]", target).await;
    let reason = fail(
        "type = \"exec\"\ncommand = [\"/bin/sh\", \"-c\", \"exit 3\"]",
        target,
        LONG,
    )
    .await;
    assert_eq!(reason, "exit status 3");
    let reason = fail(
        "type = \"exec\"\ncommand = [\"/bin/sh\", \"-c\", \"kill -TERM $$\"]",
        target,
        LONG,
    )
    .await;
    assert_eq!(reason, "killed by signal SIGTERM");
    let reason = fail(
        "type = \"exec\"\ncommand = [\"/nonexistent/check\"]",
        target,
        LONG,
    )
    .await;
    assert_has(&reason, "cannot run /nonexistent/check");
}

#[tokio::test]
async fn exec_gets_the_target_in_its_environment() {
    let target: SocketAddr = EXEC_TARGET.parse().unwrap();
    pass(
        "type = \"exec\"\ncommand = [\"/bin/sh\", \"-c\", \
         'test \"$PHAROS_CHECK_ADDRESS\" = 127.0.0.1 && test \"$PHAROS_CHECK_PORT\" = 8080']",
        target,
    )
    .await;
    // Arguments are passed as they are: no shell splits or expands them.
    pass(
        r#"type = "exec"
           command = ["/bin/sh", "-c", "test \"$1\" = 'a b $HOME'", "sh", "a b $HOME"]"#,
        target,
    )
    .await;
}

/// Whether `pid` has ended: gone, or a zombie waiting for whoever it was
/// reparented to (this machine's PID 1 may not reap).
fn ended(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => matches!(
            stat.rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().chars().next()),
            Some(Some('Z' | 'X'))
        ),
    }
}

#[tokio::test]
async fn exec_that_hangs_is_killed_with_its_background_child() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("child.pid");
    let target: SocketAddr = EXEC_TARGET.parse().unwrap();
    let start = Instant::now();
    let reason = fail(
        &format!(
            "type = \"exec\"\ncommand = [\"/bin/sh\", \"-c\", 'sleep 1000 & echo $! > {}; wait']",
            pidfile.display()
        ),
        target,
        Duration::from_millis(1000),
    )
    .await;
    assert_eq!(reason, "timed out after 1000 ms; killed its process group");
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    let child: i32 = std::fs::read_to_string(&pidfile)
        .expect("the script wrote its child's pid")
        .trim()
        .parse()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(3);
    while !ended(child) {
        assert!(
            Instant::now() < deadline,
            "the check's background `sleep 1000` (pid {child}) survived the timeout"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn exec_abandoned_midway_is_killed_too() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("child.pid");
    let p = probe(
        &format!(
            "type = \"exec\"\ncommand = [\"/bin/sh\", \"-c\", 'sleep 1000 & echo $! > {}; wait']",
            pidfile.display()
        ),
        EXEC_TARGET.parse().unwrap(),
    );
    // The caller gives up (shutdown, reload) before the probe's own timeout.
    let run = p.run(LONG);
    let gave_up = tokio::time::timeout(Duration::from_millis(1000), run).await;
    assert!(gave_up.is_err());
    let child: i32 = std::fs::read_to_string(&pidfile)
        .expect("the script wrote its child's pid")
        .trim()
        .parse()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(3);
    while !ended(child) {
        assert!(
            Instant::now() < deadline,
            "the abandoned check's `sleep 1000` (pid {child}) is still running"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// ---------------------------------------------------------------- building

fn refused(toml: &str, port: Option<u16>) -> String {
    match Probe::new(&check(toml), LOCAL, port) {
        Ok(p) => panic!("{} was built; it should have been refused", p.describe()),
        Err(e) => e,
    }
}

#[test]
fn unusable_checks_are_refused_saying_what_to_fix() {
    let e = refused("type = \"tcp\"", None);
    assert_has(&e, "no port");
    assert_has(&e, "add `port = N`");
    assert_has(&refused("type = \"udp\"", None), "no port");
    let e = refused("type = \"http\"\nmd5 = \"xyz\"", None);
    assert_has(&e, "md5 `xyz` is not 32 hex digits");
    let e = refused("type = \"https\"\nsha256 = \"00\"", None);
    assert_has(&e, "sha256 `00` is not 64 hex digits");
    let e = refused(
        "type = \"https\"\nverify = \"ca\"\nca_file = \"/nonexistent/ca.pem\"",
        None,
    );
    assert_has(&e, "cannot read ca_file /nonexistent/ca.pem");
    let dir = tempfile::tempdir().unwrap();
    let junk = ca_file(&dir, "junk.pem", "not a certificate\n");
    let e = refused(
        &format!("type = \"https\"\nverify = \"ca\"\nca_file = \"{junk}\""),
        None,
    );
    assert_has(&e, "holds no certificate");
    let e = refused("type = \"http\"\npath = \"health\"", None);
    assert_has(&e, "path `health` is not a request path");
    let e = refused("type = \"http\"\nstatus = []", None);
    assert_has(&e, "accepts no status code");
    let e = refused("type = \"dns\"\nquery_name = \"a..b\"", None);
    assert_has(&e, "query_name `a..b` is not a DNS name");
    assert_has(&refused("type = \"dns\"", None), "no `query_name`");
    assert_has(
        &refused("type = \"exec\"\ncommand = []", None),
        "`command` is empty",
    );
    let e = refused("type = \"tcp\"\nport = 80\nbind_to = \"::1\"", None);
    assert_has(&e, "other address family");
}

#[test]
fn probes_describe_themselves() {
    let d =
        |toml: &str, port: Option<u16>| Probe::new(&check(toml), LOCAL, port).unwrap().describe();
    assert_eq!(
        d("type = \"http\"\npath = \"/health\"", None),
        "http GET http://127.0.0.1:80/health"
    );
    assert_eq!(
        d("type = \"https\"\nhost = \"www.pharos.test\"", None),
        "https GET https://127.0.0.1:443/ (Host www.pharos.test)"
    );
    assert_eq!(d("type = \"tcp\"", Some(22)), "tcp connect 127.0.0.1:22");
    assert_eq!(
        d("type = \"dns\"\nquery_name = \"www.pharos.test\"", None),
        "dns A www.pharos.test @127.0.0.1:53"
    );
    assert_eq!(
        d("type = \"exec\"\ncommand = [\"/bin/check\", \"x\"]", None),
        "exec `/bin/check x`"
    );
    assert_eq!(d("type = \"none\"", None), "none (always up)");
}

//! Each checker's outcomes, from real servers on loopback, driven through
//! the rise/fall core exactly as the check task does: up only after `rise`
//! passes, a failure retried before it counts, `fall` counted failures to
//! go down, a flapping server that never goes down with retries, and a
//! server that recovers. A good and a bad target per kind stand for the
//! server in its two states (the bad one failing the way that kind fails:
//! refused, a 503, silence until the timeout, a wrong answer, an exit
//! status, a hang).

#[path = "common/servers.rs"]
mod servers;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use pharos::check::health::{Target, Timing, Transition};
use pharos::check::probe::Probe;
use pharos::config::model::Check;

const TIMEOUT: Duration = Duration::from_millis(300);

fn probe(toml: &str, target: SocketAddr) -> Probe {
    let c: Check = toml::from_str(toml).unwrap();
    Probe::new(&c, target.ip(), Some(target.port())).unwrap()
}

/// The whole rise / retry / flap / fall / recover sequence against `good`
/// and `bad`, with rise 2, fall 2 and one retry.
async fn drive(kind: &str, good: &Probe, bad: &Probe) {
    let timing = Timing {
        interval: Duration::from_secs(1),
        retries: 1,
        retry_delay: Duration::from_millis(100),
        rise: 2,
        fall: 2,
    };
    let mut t = Target::new(timing, Instant::now());
    let step = async |p: &Probe, t: &mut Target| {
        let out = p.run(TIMEOUT).await.map_err(|f| f.reason);
        t.record(Instant::now(), out)
    };
    // Starts down; up after two passes, not one.
    assert!(!t.is_up(), "{kind}");
    assert_eq!(
        step(good, &mut t).await,
        None,
        "{kind}: one pass is not enough"
    );
    assert_eq!(step(good, &mut t).await, Some(Transition::Up), "{kind}");
    // A failure followed by a passing retry changes nothing.
    assert_eq!(step(bad, &mut t).await, None, "{kind}");
    assert_eq!(t.attempt(), 1, "{kind}: that was a retry");
    assert_eq!(step(good, &mut t).await, None, "{kind}");
    assert_eq!(t.fails(), 0, "{kind}");
    // Flapping, with every failure retried into a pass: never down.
    for _ in 0..4 {
        assert_eq!(step(bad, &mut t).await, None, "{kind}: flapping");
        assert_eq!(step(good, &mut t).await, None, "{kind}: flapping");
    }
    assert!(t.is_up(), "{kind}");
    // Really down: two counted failures (each retried once) take it out.
    assert_eq!(step(bad, &mut t).await, None, "{kind}");
    assert_eq!(
        step(bad, &mut t).await,
        None,
        "{kind}: first counted failure"
    );
    assert_eq!(step(bad, &mut t).await, None, "{kind}");
    assert_eq!(step(bad, &mut t).await, Some(Transition::Down), "{kind}");
    let reason = t.last().unwrap().clone().unwrap_err();
    assert!(!reason.is_empty(), "{kind}");
    // Recovers: back after two passes.
    assert_eq!(step(good, &mut t).await, None, "{kind}");
    assert_eq!(
        step(good, &mut t).await,
        Some(Transition::Up),
        "{kind}: recovered"
    );
}

#[tokio::test]
async fn tcp_refused_then_recovers() {
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .unwrap();
    let up = listener.local_addr().unwrap();
    tokio::spawn(async move { while listener.accept().await.is_ok() {} });
    let down = servers::closed_port(IpAddr::V4(Ipv4Addr::LOCALHOST));
    drive(
        "tcp",
        &probe("type = \"tcp\"", up),
        &probe("type = \"tcp\"", down),
    )
    .await;
}

#[tokio::test]
async fn http_503_and_timeouts() {
    let (addr, _) = servers::http(IpAddr::V4(Ipv4Addr::LOCALHOST)).await;
    let good = probe("type = \"http\"\npath = \"/ok\"", addr);
    drive(
        "http 503",
        &good,
        &probe("type = \"http\"\npath = \"/down\"", addr),
    )
    .await;
    drive(
        "http slow",
        &good,
        &probe("type = \"http\"\npath = \"/slow\"", addr),
    )
    .await;
    let silent = servers::silent_tcp().await;
    drive("http silent", &good, &probe("type = \"http\"", silent)).await;
}

#[tokio::test]
async fn https_503() {
    let pki = servers::pki("pharos rise/fall CA");
    let (addr, _) = servers::https(&pki).await;
    let good = probe("type = \"https\"\npath = \"/ok\"", addr);
    drive(
        "https",
        &good,
        &probe("type = \"https\"\npath = \"/down\"", addr),
    )
    .await;
}

#[tokio::test]
async fn udp_silence_times_out() {
    let good = probe(
        "type = \"udp\"\npayload = \"ping\"",
        servers::udp_pong().await,
    );
    let bad = probe(
        "type = \"udp\"\npayload = \"ping\"",
        servers::udp_silent().await,
    );
    drive("udp", &good, &bad).await;
}

#[tokio::test]
async fn dns_wrong_answer() {
    let addr = servers::dns().await;
    let good = probe(
        "type = \"dns\"\nquery_name = \"www.pharos.test\"\nanswer = \"192.0.2.10\"",
        addr,
    );
    let bad = probe("type = \"dns\"\nquery_name = \"gone.pharos.test\"", addr);
    drive("dns", &good, &bad).await;
}

#[tokio::test]
async fn exec_status_and_hang() {
    let any: SocketAddr = "127.0.0.1:1".parse().unwrap();
    let good = probe("type = \"exec\"\ncommand = [\"/bin/true\"]", any);
    drive(
        "exec status",
        &good,
        &probe("type = \"exec\"\ncommand = [\"/bin/false\"]", any),
    )
    .await;
    drive(
        "exec hang",
        &good,
        &probe("type = \"exec\"\ncommand = [\"/bin/sleep\", \"10\"]", any),
    )
    .await;
}

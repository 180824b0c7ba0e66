//! `pharos::bgp::birdc` against the real BIRD 2 (Debian's `bird2`): each
//! test starts its own `/usr/sbin/bird -f` in a temp dir (config, control
//! socket, pid file, its log), with static protocols only, so it needs no
//! network namespace and touches no route of the host (no `kernel`
//! protocol). The guard kills BIRD and removes the dir even when an
//! assertion fails.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pharos::bgp::birdc::{Birdc, Error, Protocol, Reconfigure, code};

const BIRD: &str = "/usr/sbin/bird";

/// Two static protocols (the shape render.rs gives a VIP) and the device
/// protocol BIRD wants.
const CONFIG: &str = "router id 10.255.0.1;
protocol device {}
protocol static s1 { ipv4; route 10.9.9.1/32 blackhole; }
protocol static s2 { ipv4; route 10.9.9.2/32 blackhole; }
";

/// A running `bird -f` and its temp dir.
struct Bird {
    child: Child,
    dir: tempfile::TempDir,
}

impl Bird {
    fn start() -> Bird {
        assert!(
            Path::new(BIRD).exists(),
            "{BIRD} is missing: `make test` installs bird2 (apt-get install bird2)"
        );
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("bird.conf"), CONFIG).expect("config written");
        let log = File::create(dir.path().join("bird.log")).expect("log file");
        let child = Command::new(BIRD)
            .arg("-f")
            .arg("-c")
            .arg(dir.path().join("bird.conf"))
            .arg("-s")
            .arg(dir.path().join("bird.ctl"))
            .arg("-P")
            .arg(dir.path().join("bird.pid"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("{BIRD} starts (`make test` installs bird2): {e}"));
        let mut bird = Bird { child, dir };
        // BIRD makes its socket before it reads the config; Birdc::connect
        // then waits for the welcome, which comes once it runs.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !bird.socket().exists() {
            if let Ok(Some(status)) = bird.child.try_wait() {
                panic!(
                    "bird exited ({status}) before making its socket: {}",
                    bird.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "no socket after 10 s: {}",
                bird.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        bird
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("bird.ctl")
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.file("bird.log")).unwrap_or_default()
    }

    fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// BIRD binds its socket a moment before it listens on it: a connect
    /// in between is refused, so this tries for up to 5 s.
    async fn connect(&self) -> Birdc {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match Birdc::connect(&self.socket()).await {
                Ok(c) => return c,
                Err(e) if Instant::now() >= deadline => {
                    panic!("{e}; bird's log: {}", self.log())
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    }
}

impl Drop for Bird {
    fn drop(&mut self) {
        // SIGKILL also ends a stopped bird (the timeout test stops it).
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn protocols(c: &mut Birdc) -> Vec<Protocol> {
    c.protocols().await.expect("show protocols")
}

async fn state(c: &mut Birdc, name: &str) -> Option<String> {
    protocols(c)
        .await
        .into_iter()
        .find(|p| p.name == name)
        .map(|p| p.state)
}

/// `show protocols` until `name` is in `want`, for up to 5 s.
async fn wait_state(c: &mut Birdc, name: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let now = state(c, name).await;
        if now.as_deref() == Some(want) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{name} is {now:?}, not {want:?}, after 5 s: {:?}",
            protocols(c).await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn connect_sees_the_version() {
    let bird = Bird::start();
    let c = bird.connect().await;
    // `bird --version` writes "BIRD version 2.0.12" to stderr.
    let out = Command::new(BIRD)
        .arg("--version")
        .output()
        .expect("bird --version");
    let said = String::from_utf8_lossy(&out.stderr).trim().to_owned();
    assert_eq!(said, format!("BIRD version {}", c.version()));
    assert!(c.version().starts_with("2."), "{}", c.version());
    assert_eq!(c.socket(), bird.socket());
}

#[tokio::test]
async fn show_protocols_lists_the_static_protocols_up() {
    let bird = Bird::start();
    let mut c = bird.connect().await;
    wait_state(&mut c, "s2", "up").await;
    let ps = protocols(&mut c).await;
    let names: Vec<&str> = ps.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["device1", "s1", "s2"], "{ps:?}");
    for p in &ps[1..] {
        assert_eq!(p.proto, "Static", "{p:?}");
        assert_eq!(p.table, "master4", "{p:?}");
        assert!(p.is_up(), "{p:?}");
        assert_eq!(p.info, "", "{p:?}");
        // Default `timeformat protocol`: HH:MM:SS.mmm today.
        assert_eq!(p.since.len(), 12, "{p:?}");
    }
    assert_eq!(ps[0].proto, "Device");
    assert_eq!(ps[0].table, "---");

    // The raw reply: a 2002 header, 1002 rows, the 0000 end.
    let r = c.command("show protocols").await.expect("reply");
    assert!(!r.is_error());
    assert_eq!(r.code(), code::OK);
    assert_eq!(r.lines()[0].code, code::PROTOCOL_HEADER);
    assert!(r.lines()[0].text.starts_with("Name"), "{r}");
    assert_eq!(r.lines().len(), 5, "{r}");
    assert!(
        r.lines()[1..4]
            .iter()
            .all(|l| l.code == code::PROTOCOL_LIST)
    );
}

#[tokio::test]
async fn disable_then_enable_a_static_protocol() {
    let bird = Bird::start();
    let mut c = bird.connect().await;
    wait_state(&mut c, "s1", "up").await;
    wait_state(&mut c, "s2", "up").await;

    assert!(
        c.disable("s1").await.expect("disable"),
        "first disable changes"
    );
    // A disabled protocol goes down through `stop`.
    wait_state(&mut c, "s1", "down").await;
    assert_eq!(state(&mut c, "s2").await.as_deref(), Some("up"));
    assert!(
        !c.disable("s1").await.expect("disable"),
        "second disable: already"
    );
    assert_eq!(state(&mut c, "s1").await.as_deref(), Some("down"));

    assert!(c.enable("s1").await.expect("enable"), "enable changes");
    wait_state(&mut c, "s1", "up").await;
    assert!(
        !c.enable("s1").await.expect("enable"),
        "second enable: already"
    );

    // What BIRD says, line by line.
    let r = c.command("disable \"s2\"").await.expect("reply");
    assert_eq!(r.lines()[0].code, code::DISABLED);
    assert_eq!(r.lines()[0].text, "s2: disabled");
    let r = c.command("disable \"s2\"").await.expect("reply");
    assert_eq!(r.lines()[0].code, code::ALREADY_DISABLED);
    assert_eq!(r.lines()[0].text, "s2: already disabled");
}

#[tokio::test]
async fn configure_with_a_protocol_added() {
    let bird = Bird::start();
    let mut c = bird.connect().await;
    wait_state(&mut c, "s1", "up").await;
    assert_eq!(state(&mut c, "s3").await, None);

    let added = format!("{CONFIG}protocol static s3 {{ ipv4; route 10.9.9.3/32 blackhole; }}\n");
    let file = bird.file("added.conf");
    std::fs::write(&file, &added).expect("config written");
    assert_eq!(
        c.configure(Some(&file)).await.expect("configure"),
        Reconfigure::Done
    );
    // Applied by the time BIRD answers.
    assert_eq!(state(&mut c, "s3").await.as_deref(), Some("up"));

    // `configure` with no file reads bird's -c file again: back to two
    // statics; removing one answers "in progress" while it shuts down.
    let r = c.configure(None).await.expect("configure");
    assert!(
        matches!(r, Reconfigure::Done | Reconfigure::InProgress),
        "{r:?}"
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while state(&mut c, "s3").await.is_some() {
        assert!(Instant::now() < deadline, "s3 still listed after 5 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn configure_enables_what_was_disabled() {
    // BIRD's reconfiguration sets each protocol to what the config says:
    // one disabled over the socket comes back up.
    let bird = Bird::start();
    let mut c = bird.connect().await;
    wait_state(&mut c, "s1", "up").await;
    assert!(c.disable("s1").await.expect("disable"));
    c.configure(None).await.expect("configure");
    wait_state(&mut c, "s1", "up").await;
}

#[tokio::test]
async fn a_broken_config_is_refused_and_the_old_one_kept() {
    let mut bird = Bird::start();
    let mut c = bird.connect().await;
    wait_state(&mut c, "s2", "up").await;

    let broken = bird.file("broken.conf");
    std::fs::write(
        &broken,
        "router id 10.255.0.1;\nprotocol static s9 { ipv4; route 10.9.9.9/32 blackhole }\n",
    )
    .expect("config written");
    let e = c.configure(Some(&broken)).await.expect_err("refused");
    let msg = e.to_string();
    let Error::Config {
        file,
        said,
        checking,
        ..
    } = &e
    else {
        panic!("not a config error: {e}");
    };
    assert_eq!(file, &broken.display().to_string());
    assert!(!checking);
    // "8002 FILE:2:56 syntax error, unexpected '}', expecting ';' or '{'"
    assert!(
        said.starts_with(&format!("8002 {}:2:", broken.display())),
        "{said}"
    );
    assert!(said.contains("syntax error"), "{said}");
    assert!(msg.contains(said.as_str()), "{msg}");
    assert!(msg.contains(&bird.socket().display().to_string()), "{msg}");
    assert_eq!(e.bird_code(), Some(code::CONFIG_ERROR));

    // A file BIRD cannot open is the same error, with its strerror.
    let missing = bird.file("missing.conf");
    let e = c.configure(Some(&missing)).await.expect_err("refused");
    assert!(
        e.to_string().contains(&format!(
            "8002 {}: No such file or directory",
            missing.display()
        )),
        "{e}"
    );

    // BIRD runs on with the old config, and the connection still works.
    assert!(bird.running(), "bird exited: {}", bird.log());
    let names: Vec<String> = protocols(&mut c)
        .await
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(names, ["device1", "s1", "s2"]);
    assert!(c.disable("s1").await.expect("still usable"));
}

#[tokio::test]
async fn configure_check_reads_but_does_not_apply() {
    let bird = Bird::start();
    let mut c = bird.connect().await;
    wait_state(&mut c, "s2", "up").await;

    let good = bird.file("good.conf");
    std::fs::write(
        &good,
        format!("{CONFIG}protocol static s3 {{ ipv4; route 10.9.9.3/32 blackhole; }}\n"),
    )
    .expect("config written");
    c.configure_check(Some(&good)).await.expect("good config");
    c.configure_check(None).await.expect("bird's own config");
    assert_eq!(state(&mut c, "s3").await, None, "a check applies nothing");

    let bad = bird.file("bad.conf");
    std::fs::write(&bad, "router id 10.255.0.1;\nbogus;\n").expect("config written");
    let e = c.configure_check(Some(&bad)).await.expect_err("refused");
    assert!(
        matches!(&e, Error::Config { checking: true, said, .. } if said.starts_with(&format!("8002 {}:2:", bad.display()))),
        "{e}"
    );
    let r = c
        .command(&format!("configure check \"{}\"", good.display()))
        .await
        .expect("reply");
    assert_eq!(r.lines()[0].code, code::READING_CONFIG);
    assert_eq!(r.code(), code::CONFIG_OK);
}

#[tokio::test]
async fn a_missing_protocol_is_8003() {
    let bird = Bird::start();
    let mut c = bird.connect().await;
    let e = c
        .disable("vip_10_0_0_1")
        .await
        .expect_err("no such protocol");
    assert_eq!(e.bird_code(), Some(code::NO_PROTOCOLS_MATCH));
    assert_eq!(
        e.to_string(),
        format!(
            "cannot disable BIRD protocol vip_10_0_0_1 over {}: BIRD said 8003 No protocols match; \
             the rendered config lacks it, reload pharos",
            bird.socket().display()
        )
    );
    let e = c
        .enable("vip_10_0_0_1")
        .await
        .expect_err("no such protocol");
    assert_eq!(e.bird_code(), Some(code::NO_PROTOCOLS_MATCH));

    // Through `command` the refusal is a reply, not an Err.
    let r = c.command("enable \"vip_10_0_0_1\"").await.expect("reply");
    assert!(r.is_error());
    assert_eq!(r.code(), code::NO_PROTOCOLS_MATCH);
    // The symbol form is a parse error instead: why birdc.rs quotes names.
    let r = c.command("enable vip_10_0_0_1").await.expect("reply");
    assert_eq!(r.code(), code::PARSE_ERROR);
    // Still usable.
    assert!(!c.enable("s1").await.expect("enable"));
}

#[tokio::test]
async fn commands_that_cannot_be_sent() {
    let bird = Bird::start();
    let mut c = bird.connect().await;
    let e = c
        .command("disable \"s1\"\nshow protocols")
        .await
        .expect_err("newline");
    assert!(matches!(e, Error::BadCommand { .. }), "{e}");
    let e = c
        .command(&format!("show protocols \"{}\"", "x".repeat(1100)))
        .await
        .expect_err("too long");
    assert!(matches!(e, Error::BadCommand { .. }), "{e}");
    // Nothing was sent: s1 is still up, the connection works.
    wait_state(&mut c, "s1", "up").await;

    // The longest command BIRD takes is answered.
    let longest = format!("show protocols \"{}\"", "x".repeat(1022 - 17));
    assert_eq!(longest.len(), 1022);
    let r = c.command(&longest).await.expect("reply");
    assert_eq!(r.code(), code::NO_PROTOCOLS_MATCH);
}

#[tokio::test]
async fn a_stopped_bird_times_out() {
    let bird = Bird::start();
    let mut c = bird.connect().await;
    wait_state(&mut c, "s1", "up").await;
    c.set_timeout(Duration::from_millis(300));
    let pid = nix::unistd::Pid::from_raw(i32::try_from(bird.child.id()).expect("pid fits"));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGSTOP).expect("SIGSTOP");
    let started = Instant::now();
    let e = c.command("show protocols").await.expect_err("times out");
    let took = started.elapsed();
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGCONT).expect("SIGCONT");
    assert!(matches!(e, Error::Timeout { .. }), "{e}");
    assert!(took < Duration::from_secs(3), "{took:?}");
    let msg = e.to_string();
    assert!(msg.contains("\"show protocols\""), "{msg}");
    assert!(msg.contains(&bird.socket().display().to_string()), "{msg}");
    // The late reply would be mistaken for the next one's: refused.
    let e = c.command("show protocols").await.expect_err("broken");
    assert!(matches!(e, Error::Broken { .. }), "{e}");
    // A new connection works.
    let mut c = bird.connect().await;
    wait_state(&mut c, "s1", "up").await;
}

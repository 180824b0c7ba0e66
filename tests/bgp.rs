//! BGP through BIRD 2 (Debian's `bird2`) on the host, in one test binary:
//! `birdc`, pharos's client of BIRD's control socket against real BIRDs,
//! and `announce`, route health injection by `pharos run` to a BIRD
//! upstream router in a namespace of its own.

mod common;

mod birdc {
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

        let added =
            format!("{CONFIG}protocol static s3 {{ ipv4; route 10.9.9.3/32 blackhole; }}\n");
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
}

mod announce {
    //! Route health injection through a real BIRD, on the host: an upstream
    //! router (BIRD 2 from apt, in a namespace of its own, installing what it
    //! learns into its kernel table) peers with `pharos run` in another
    //! namespace, over a TCP-MD5-signed session. A VIP is in the router's
    //! table only while its service has quorum; a service whose check never
    //! passes is never announced; a reload changes the route's MED without
    //! withdrawing it; a stop withdraws every VIP and leaves no BIRD behind.
    //! `pharos status`, the status page and `/metrics` show the session
    //! and the prefixes.

    use std::path::{Path, PathBuf};
    use std::process::{Child, Command, Stdio};
    use std::time::Duration;

    use super::common::lan::wait_for;
    use super::common::netns::{Httpd, Netns, Run, start};

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
status_page = true

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
        let get = |path: &str| {
            let url = format!("http://127.0.0.1:9419{path}");
            let out = director.exec(&["curl", "-s", &url]).output().unwrap();
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        let metrics = get("/metrics");
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
        let page = get("/");
        for want in [
            "<h2>BGP</h2>",
            "<td>upstream</td><td>10.20.0.1</td><td class=num>65000</td><td class=up>up</td>",
            "<td>10.99.0.1/32</td><td class=up>yes</td><td>web</td>",
            "<td>10.99.0.2/32</td><td class=down>no</td><td>dns</td>",
        ] {
            assert!(page.contains(want), "{want} on the status page:\n{page}");
        }

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
}

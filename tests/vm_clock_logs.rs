//! The appliance's clock and its remote logs, with the real tools: the
//! debug image boots with its RTC 25 years behind (QEMU's
//! `-rtc base=2001-01-01`), on a tap device of a network namespace of this
//! test's own where chronyd (from Debian, `-x`: it never touches this
//! machine's clock) serves time and rsyslogd (with GnuTLS) listens for
//! RFC 5424 syslog over UDP, TCP and TLS. pharos must step the clock to
//! within a second of the truth, and every collector must get valid RFC
//! 5424 messages with the box's host name, app name and structured data,
//! stamped with the right time once the clock is set; a reload that moves
//! the UDP collector to another port must move the lines with it.

mod common;

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::netns::Netns;
use common::vm::{BOOT_TIMEOUT, Disk, Vm};
use syslog_rfc5424::SyslogFacility;

/// 2001-01-01T00:00:00Z, where the VM's RTC starts.
const RTC_BASE: u64 = 978_307_200;
const HOST: &str = "10.77.0.1";
const SD_ID: &str = "pharos@32473";

/// A daemon of the test's, killed when dropped (even when the test fails).
struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn daemon(ns: &Netns, what: &'static str, args: &[&str], log: &Path) -> Daemon {
    let out = std::fs::File::create(log).unwrap();
    let child = ns
        .exec(args)
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .stdin(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{what} starts (make test installs it): {e}"));
    Daemon(child)
}

/// One received line: when rsyslogd got it (by this machine's clock) and
/// the message as sent.
struct Received {
    at: f64,
    raw: String,
    msg: syslog_rfc5424::SyslogMessage,
}

/// The lines of an rsyslog file written with `%timegenerated:::date-rfc3339%
/// %rawmsg%`, each message parsed strictly as RFC 5424.
fn received(path: &Path) -> Vec<Received> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (at, raw) = l.split_once(' ').expect("TIME MESSAGE");
            // rsyslogd writes `+00:00` (its TZ is UTC): humantime wants `Z`.
            let at = at.replace("+00:00", "Z");
            let at = humantime::parse_rfc3339(&at)
                .unwrap_or_else(|e| panic!("{at}: {e}"))
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_secs_f64();
            let msg = syslog_rfc5424::parse_message(raw)
                .unwrap_or_else(|e| panic!("not RFC 5424 ({e}): {raw}"));
            Received {
                at,
                raw: raw.to_string(),
                msg,
            }
        })
        .collect()
}

fn wait_for(what: &str, timeout: Duration, mut f: impl FnMut() -> bool, show: impl Fn() -> String) {
    let deadline = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < deadline, "{what}:\n{}", show());
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

#[test]
fn a_box_booted_years_behind_steps_its_clock_by_ntp_and_ships_rfc_5424_logs_over_udp_tcp_and_tls() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ns = Netns::new();
    ns.run(&["ip", "link", "set", "lo", "up"]);
    ns.run(&["ip", "tuntap", "add", "dev", "tap0", "mode", "tap"]);
    ns.run(&["ip", "addr", "add", &format!("{HOST}/24"), "dev", "tap0"]);
    ns.run(&["ip", "link", "set", "tap0", "up"]);

    // chronyd serving its own clock (this machine's) at stratum 3.
    std::fs::write(
        d.join("chrony.conf"),
        format!(
            "local stratum 3\nallow 10.77.0.0/24\nbindaddress {HOST}\ncmdport 0\n\
             pidfile {0}/chronyd.pid\ndriftfile {0}/chrony.drift\n",
            d.display()
        ),
    )
    .unwrap();
    let conf = d.join("chrony.conf");
    let _chronyd = daemon(
        &ns,
        "chronyd",
        &[
            "chronyd",
            "-x",
            "-d",
            "-u",
            "root",
            "-f",
            conf.to_str().unwrap(),
        ],
        &d.join("chronyd.log"),
    );

    // The collector's certificate, for 10.77.0.1, from a CA of the test's.
    let ca = pharos::runtime::tls::issue_ca().unwrap();
    let cert = pharos::runtime::tls::issue_box(&ca, "collector", &[HOST.to_string()]).unwrap();
    std::fs::write(d.join("ca.pem"), &ca.cert).unwrap();
    std::fs::write(d.join("cert.pem"), &cert.cert).unwrap();
    std::fs::write(d.join("key.pem"), &cert.key).unwrap();
    let dd = d.display();
    std::fs::write(
        d.join("rsyslog.conf"),
        format!(
            r#"global(workDirectory="{dd}" DefaultNetstreamDriverCAFile="{dd}/ca.pem"
       DefaultNetstreamDriverCertFile="{dd}/cert.pem" DefaultNetstreamDriverKeyFile="{dd}/key.pem")
module(load="imudp")
module(load="imtcp")
template(name="raw" type="string" string="%timegenerated:::date-rfc3339% %rawmsg%\n")
ruleset(name="udp") {{ action(type="omfile" file="{dd}/udp.log" template="raw") }}
ruleset(name="udp2") {{ action(type="omfile" file="{dd}/udp2.log" template="raw") }}
ruleset(name="tcp") {{ action(type="omfile" file="{dd}/tcp.log" template="raw") }}
ruleset(name="tls") {{ action(type="omfile" file="{dd}/tls.log" template="raw") }}
input(type="imudp" address="{HOST}" port="514" ruleset="udp")
input(type="imudp" address="{HOST}" port="1514" ruleset="udp2")
input(type="imtcp" address="{HOST}" port="514" ruleset="tcp")
input(type="imtcp" address="{HOST}" port="6514" ruleset="tls" streamDriver.name="gtls"
      streamDriver.mode="1" streamDriver.authMode="anon")
"#
        ),
    )
    .unwrap();
    let rconf = d.join("rsyslog.conf");
    let rpid = d.join("rsyslogd.pid");
    let _rsyslogd = daemon(
        &ns,
        "rsyslogd",
        &[
            "env",
            "TZ=UTC",
            "rsyslogd",
            "-n",
            "-f",
            rconf.to_str().unwrap(),
            "-i",
            rpid.to_str().unwrap(),
        ],
        &d.join("rsyslogd.log"),
    );

    // Both write their pid files once they serve: a line or an NTP request
    // sent before would be lost, and the test could not tell why.
    for (pid, who) in [(&rpid, "rsyslogd"), (&d.join("chronyd.pid"), "chronyd")] {
        wait_for(
            &format!("{who} started"),
            Duration::from_secs(60),
            || pid.exists(),
            || {
                format!(
                    "chronyd:\n{}\nrsyslogd:\n{}",
                    std::fs::read_to_string(d.join("chronyd.log")).unwrap_or_default(),
                    std::fs::read_to_string(d.join("rsyslogd.log")).unwrap_or_default()
                )
            },
        );
    }
    let disk = Disk::copy("debug");
    disk.put(
        "pharos.toml",
        &format!(
            r#"[system]
hostname = "pharos-clock"
ntp = {{ servers = ["{HOST}"] }}

[interfaces.eth0]
addresses = ["10.77.0.2/24"]

[logging]
remote = [
  {{ address = "{HOST}:514" }},
  {{ address = "{HOST}", transport = "tcp", facility = "local3" }},
  {{ address = "{HOST}", transport = "tls", ca_file = "/config/syslog-ca.pem" }},
]
"#
        ),
    );
    disk.put("syslog-ca.pem", &ca.cert);
    // Once the clock is stepped: the box's clock, then a reload that moves
    // the UDP collector to port 1514 and one more that changes nothing (the
    // first one's own line may still go out the old way).
    disk.put(
        "test.sh",
        "export PATH=/usr/sbin:/sbin:/bin\n\
         i=0; until pharos status --json | grep -q '\"steps\": *1'; do i=$((i+1)); [ $i -gt 240 ] && break; sleep 0.5; done\n\
         echo \"CLOCK $(date +%s)\"\n\
         sed -i 's/10.77.0.1:514\"/10.77.0.1:1514\"/' /config/pharos.toml\n\
         pharos reload\nsleep 2\npharos reload\nsleep 8\npharos status\n",
    );
    let started = Instant::now();
    let mut vm = Vm::boot_in_netns(
        &disk,
        Some((
            "debug",
            "console=ttyS0 panic=-1 pharos.test=/config/test.sh",
        )),
        &ns.0,
        "tap0",
        "52:54:00:00:07:01",
        Some("2001-01-01T00:00:00"),
    );
    let show = || {
        format!(
            "console:\n{}\nchronyd:\n{}\nrsyslogd:\n{}",
            vm.console(),
            std::fs::read_to_string(d.join("chronyd.log")).unwrap_or_default(),
            std::fs::read_to_string(d.join("rsyslogd.log")).unwrap_or_default()
        )
    };
    // The box's clock, read on its console, beside this machine's.
    let (_, (vm_clock, host_clock)) = vm
        .find_line(0, BOOT_TIMEOUT, |l| {
            l.strip_prefix("CLOCK ")
                .and_then(|t| t.trim().parse::<f64>().ok())
                .map(|t| (t, now()))
        })
        .unwrap_or_else(|| panic!("no CLOCK line\n{}", show()));
    let stepped_after = started.elapsed();
    // `date +%s` truncates: the box's second began at most 1 s before.
    assert!(
        (vm_clock - host_clock).abs() <= 1.5,
        "the box's clock {vm_clock} vs {host_clock} here\n{}",
        show()
    );
    vm.wait_for("test script finished: exit 0", Duration::from_secs(120));
    let c = vm.console();
    assert!(
        c.contains("NTP SERVER") && c.contains("10.77.0.1:123") && c.contains("stepped"),
        "{c}"
    );
    assert!(
        c.contains("SYSLOG COLLECTOR") && c.contains("udp://10.77.0.1:1514"),
        "{c}"
    );

    // Every collector gets lines, all of them RFC 5424 from this box.
    let files = ["udp.log", "tcp.log", "tls.log", "udp2.log"];
    wait_for(
        "a line naming the reload r3 on the moved UDP collector and on TCP and TLS",
        Duration::from_secs(90),
        || {
            ["udp2.log", "tcp.log", "tls.log"].iter().all(|f| {
                received(&d.join(f))
                    .iter()
                    .any(|r| r.msg.msg.contains("reloaded as r3"))
            })
        },
        || {
            format!(
                "{}\n{}",
                show(),
                files
                    .map(|f| format!(
                        "{f}:\n{}",
                        std::fs::read_to_string(d.join(f)).unwrap_or_default()
                    ))
                    .join("\n")
            )
        },
    );
    let step_line = |rs: &[Received]| -> Option<f64> {
        rs.iter().find_map(|r| {
            r.msg
                .msg
                .split("stepped the clock by ")
                .nth(1)?
                .split(' ')
                .next()?
                .parse()
                .ok()
        })
    };
    let mut worst = 0f64;
    let mut before_step = 0;
    for f in files {
        let rs = received(&d.join(f));
        assert!(!rs.is_empty(), "{f}: nothing");
        let facility = if f == "tcp.log" {
            SyslogFacility::LOG_LOCAL3
        } else {
            SyslogFacility::LOG_DAEMON
        };
        for r in &rs {
            assert_eq!(
                r.msg.hostname.as_deref(),
                Some("pharos-clock"),
                "{f}: {}",
                r.raw
            );
            assert_eq!(r.msg.appname.as_deref(), Some("pharos"), "{f}: {}", r.raw);
            assert_eq!(r.msg.facility, facility, "{f}: {}", r.raw);
            // Stamped after the step: the right time. A UDP line goes out as
            // it is logged, so it arrives within a second of its stamp; a
            // TCP or TLS line may wait in its queue while the connection is
            // made, so it arrives later than stamped, never earlier.
            let t = r.msg.timestamp.unwrap() as f64
                + f64::from(r.msg.timestamp_nanos.unwrap_or(0)) / 1e9;
            if t > 1.7e9 {
                let udp = f.starts_with("udp");
                if udp {
                    worst = worst.max((t - r.at).abs());
                }
                assert!(
                    t < r.at + 1.0 && (!udp || t > r.at - 1.0),
                    "{f}: stamped {t}, received {}: {}",
                    r.at,
                    r.raw
                );
            } else {
                before_step += 1;
                assert!(
                    t < (RTC_BASE + 3600) as f64,
                    "{f}: stamped neither 2001 nor now: {}",
                    r.raw
                );
            }
        }
        // An event's line carries its fields as structured data, its
        // kind as the MSGID.
        let events: Vec<&Received> = rs
            .iter()
            .filter(|r| r.msg.sd.find_tuple(SD_ID, "kind").is_some())
            .collect();
        assert!(!events.is_empty(), "{f}: no line with structured data");
        for r in &events {
            assert_eq!(
                r.msg.msgid.as_ref(),
                r.msg.sd.find_tuple(SD_ID, "kind"),
                "{f}: {}",
                r.raw
            );
        }
        let line = |what: &str| rs.iter().find(|r| r.msg.msg.contains(what));
        if f == "udp.log" {
            // Sent before the reload moved UDP to 1514: the step's line.
            let step = line("stepped the clock by").unwrap_or_else(|| panic!("{f}: no step line"));
            assert_eq!(
                step.msg.sd.find_tuple(SD_ID, "kind").map(String::as_str),
                Some("clock"),
                "{}",
                step.raw
            );
            assert_eq!(
                step.msg.sd.find_tuple(SD_ID, "subject").map(String::as_str),
                Some("10.77.0.1:123"),
                "{}",
                step.raw
            );
        } else {
            let reload = line("reloaded as r3").unwrap_or_else(|| panic!("{f}: no reload line"));
            assert_eq!(
                reload.msg.sd.find_tuple(SD_ID, "kind").map(String::as_str),
                Some("config"),
                "{}",
                reload.raw
            );
            assert_eq!(
                reload
                    .msg
                    .sd
                    .find_tuple(SD_ID, "subject")
                    .map(String::as_str),
                Some("reload"),
                "{}",
                reload.raw
            );
        }
    }
    // The step was by the 25 years the RTC was behind (less the boot).
    let by = ["udp.log", "tcp.log", "tls.log"]
        .iter()
        .find_map(|f| step_line(&received(&d.join(f))))
        .unwrap_or_else(|| panic!("no collector got the step's line\n{}", show()));
    let behind = host_clock - RTC_BASE as f64;
    assert!(
        by > behind - 300.0 && by < behind + 1.0,
        "stepped by {by} s; the RTC was {behind} s behind"
    );
    // The first reload moved the UDP lines: r3's went to 1514 only.
    let old_udp = received(&d.join("udp.log"));
    assert!(
        !old_udp.iter().any(|r| r.msg.msg.contains("reloaded as r3")),
        "the old UDP collector still gets lines"
    );
    vm.powerdown();
    eprintln!(
        "clock stepped by {by:.3} s; the box's clock {:+.3} s from here at {} s after QEMU started; \
         UDP lines stamped after the step at most {:.3} s from their arrival, {before_step} lines stamped 2001; \
         lines: udp {} tcp {} tls {} udp2 {}",
        vm_clock - host_clock,
        stepped_after.as_secs(),
        worst,
        old_udp.len(),
        received(&d.join("tcp.log")).len(),
        received(&d.join("tls.log")).len(),
        received(&d.join("udp2.log")).len()
    );
}

//! The clients of the admin verbs (`runtime::admin`): `pharos status`,
//! `reload`, `events` over the local control socket, and every verb of
//! `pharos remote` over mutual TLS, rendered the same way. Exit 2 when
//! pharos cannot be reached.

use crate::check::status::CheckStatus;
use crate::clock::status::ClockStatus;
use crate::ipvs::status::IpvsStatus;
use crate::net::status::NetStatus;
use crate::runtime::syslog::status::SyslogStatus;
use crate::vrrp::status::VrrpStatus;
use std::path::PathBuf;
use std::process::ExitCode;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWriteExt, BufReader};

use super::out::{err, errln, out, outln};
use crate::runtime::admin::{ReloadOutcome, Request, changes_line, read_answer};
use crate::runtime::status::{Event, Level, Status};

/// Where the verbs go.
pub enum Link {
    /// The local control socket.
    Socket(PathBuf),
    /// A box's management API, over mutual TLS with the identity in `identity`.
    Remote {
        host: String,
        port: u16,
        identity: PathBuf,
    },
}

/// The management API's port when none is given.
pub const MANAGEMENT_PORT: u16 = 9443;

type Answer = Box<dyn AsyncBufRead + Unpin + Send>;

impl Link {
    /// Sends one request; returns the connection to read the answer from.
    pub async fn ask(&self, req: &Request) -> Result<Answer, String> {
        self.ask_with_body(req, None).await
    }

    /// Sends one request followed by `body`'s bytes (an upgrade's bundle);
    /// returns the connection to read the answer from. A box that refuses
    /// part way (a bad signature) stops reading: its answer is still read.
    pub async fn ask_with_body(
        &self,
        req: &Request,
        body: Option<tokio::fs::File>,
    ) -> Result<Answer, String> {
        match self {
            Link::Socket(path) => {
                let mut c = crate::runtime::control::request(path, req).await?;
                if let Some(mut body) = body {
                    let _ = tokio::io::copy(&mut body, c.get_mut()).await;
                }
                Ok(Box::new(c))
            }
            Link::Remote {
                host,
                port,
                identity,
            } => {
                let config = crate::runtime::tls::client_config(identity)?;
                let name = rustls::pki_types::ServerName::try_from(host.clone()).map_err(|e| {
                    format!("`{host}` is neither an IP address nor a DNS name: {e}")
                })?;
                let addr = format!("{host}:{port}");
                let tcp = tokio::time::timeout(
                    std::time::Duration::from_secs(10),
                    tokio::net::TcpStream::connect(&addr),
                )
                .await
                .map_err(|_| format!("cannot reach {addr}: no answer within 10 s"))?
                .map_err(|e| {
                    format!(
                        "cannot reach {addr}: {e}\nhelp: is `listen` in the box's identity/management.toml this address?"
                    )
                })?;
                let mut tls = tokio_rustls::TlsConnector::from(config)
                    .connect(name, tcp)
                    .await
                    .map_err(|e| {
                        format!(
                            "the TLS handshake with {addr} failed: {e}\nhelp: the box must have a certificate from the CA in {}, and let in the client identity there",
                            identity.display()
                        )
                    })?;
                let line = serde_json::to_string(req).expect("request serializes");
                tls.write_all(format!("{line}\n").as_bytes())
                    .await
                    .map_err(|e| format!("sending to {addr}: {e}"))?;
                tls.flush()
                    .await
                    .map_err(|e| format!("sending to {addr}: {e}"))?;
                if let Some(mut body) = body {
                    // An error here is the box closing after a refusal;
                    // its reason is in the answer.
                    let _ = tokio::io::copy(&mut body, &mut tls).await;
                    let _ = tls.flush().await;
                }
                Ok(Box::new(BufReader::new(tls)))
            }
        }
    }

    /// One request, one answer line.
    pub async fn one(&self, req: &Request) -> Result<String, String> {
        let mut conn = self.ask(req).await?;
        read_answer(&mut conn).await
    }
}

const UNREACHABLE: u8 = 2;

pub(super) fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime starts")
        .block_on(f)
}

pub(super) fn fail(msg: &str) -> ExitCode {
    errln!("error: {}", msg.replace("\nhelp: ", "\n  = help: "));
    ExitCode::from(UNREACHABLE)
}

pub fn status(link: &Link, json: bool) -> ExitCode {
    let line = match block_on(link.one(&Request::new("status"))) {
        Ok(l) => l,
        Err(e) => return fail(&e),
    };
    if json {
        out!("{line}");
        return ExitCode::SUCCESS;
    }
    let s: Status = match serde_json::from_str(&line) {
        Ok(s) => s,
        Err(e) => return fail(&format!("pharos answered something unexpected: {e}")),
    };
    out!("{}", human(&s));
    ExitCode::SUCCESS
}

/// The status as a person reads it.
pub fn human(s: &Status) -> String {
    let mut out = String::new();
    let source = match s.config.source {
        crate::runtime::status::ConfigSource::File => "",
        crate::runtime::status::ConfigSource::LastGood => {
            "  ** running the LAST KNOWN GOOD config: the file is invalid **"
        }
        crate::runtime::status::ConfigSource::Maintenance => {
            "  ** MAINTENANCE: no valid config; no VIPs held **"
        }
        crate::runtime::status::ConfigSource::Unmatched => {
            "  ** MAINTENANCE: no node of the config matches this box; no VIPs held **"
        }
    };
    out.push_str(&format!(
        "pharos {}  pid {}  up since {}\n",
        s.pharos_version, s.pid, s.started_at
    ));
    out.push_str(&format!(
        "config  {}  revision {}  loaded {} s ago{}{}\n",
        s.config.file,
        s.config.revision,
        s.config.age_seconds,
        s.config
            .node
            .as_ref()
            .map(|n| format!("  node {n}"))
            .unwrap_or_default(),
        source
    ));
    for e in &s.config.errors {
        out.push_str(&format!("  error: {e}\n"));
    }
    if let Some(t) = &s.config.trial {
        out.push_str(&format!("  ON TRIAL: {t}\n"));
    }
    if let Some(v) = &s.config.volatile {
        out.push_str(&format!("  NOT SAVED: {v}\n"));
    }
    if let Some(u) = &s.config.unsaved {
        out.push_str(&format!("  NOT SAVED: {u}\n"));
    }
    out.push_str("\nTASK          STATE        RESTARTS  LAST ERROR\n");
    for t in &s.tasks {
        out.push_str(&format!(
            "{:<13} {:<12} {:>8}  {}\n",
            t.name,
            t.state.as_str(),
            t.restarts,
            t.last_error.as_deref().unwrap_or("-")
        ));
    }
    for (name, section) in &s.subsystems {
        // Each section as its owner types it, rendered by that type.
        let v = section.clone();
        let table = match name.as_str() {
            "net" => serde_json::from_value::<NetStatus>(v).map(|x| x.table()),
            "vrrp" => serde_json::from_value::<VrrpStatus>(v).map(|x| x.table()),
            "check" => serde_json::from_value::<CheckStatus>(v).map(|x| x.table()),
            "ipvs" => serde_json::from_value::<IpvsStatus>(v).map(|x| x.table()),
            "clock" => serde_json::from_value::<ClockStatus>(v).map(|x| x.table()),
            "bgp" => serde_json::from_value::<crate::bgp::status::BgpStatus>(v).map(|x| x.table()),
            "syslog" => serde_json::from_value::<SyslogStatus>(v).map(|x| x.table()),
            "upgrade" => serde_json::from_value::<crate::upgrade::status::UpgradeStatus>(v)
                .map(|x| x.table()),
            _ => Err(serde::de::Error::custom("unknown section")),
        };
        out.push_str(&table.unwrap_or_else(|e: serde_json::Error| {
            format!("\n[{name}]: a section this pharos cannot read ({e})\n")
        }));
    }
    out
}

pub fn reload(link: &Link) -> ExitCode {
    let line = match block_on(link.one(&Request::new("reload"))) {
        Ok(l) => l,
        Err(e) => return fail(&e),
    };
    let outcome: ReloadOutcome = match serde_json::from_str(&line) {
        Ok(o) => o,
        Err(_) => return fail(line.trim()),
    };
    err!("{}", outcome.rendered);
    if outcome.applied {
        outln!(
            "reloaded: revision {}; {}",
            outcome.revision,
            changes_line(&outcome.changes)
        );
        ExitCode::SUCCESS
    } else {
        errln!(
            "reload refused: the config is invalid; revision {} keeps running unchanged",
            outcome.revision
        );
        ExitCode::from(1)
    }
}

/// `pharos fault TASK` (the test-only fault switch).
#[cfg(feature = "fault-switch")]
pub fn fault(link: &Link, task: String) -> ExitCode {
    let req = Request {
        task: Some(task),
        ..Request::new("fault")
    };
    let line = match block_on(link.one(&req)) {
        Ok(l) => l,
        Err(e) => return fail(&e),
    };
    match serde_json::from_str::<crate::runtime::admin::Reply>(&line) {
        Ok(crate::runtime::admin::Reply { ok: Some(ok), .. }) => {
            outln!("{ok}");
            ExitCode::SUCCESS
        }
        Ok(crate::runtime::admin::Reply { error: Some(e), .. }) => fail(&e),
        _ => fail(line.trim()),
    }
}

pub fn events(link: &Link, json: bool) -> ExitCode {
    block_on(async {
        let mut conn = match link.ask(&Request::new("events")).await {
            Ok(c) => c,
            Err(e) => return fail(&e),
        };
        let mut line = String::new();
        loop {
            line.clear();
            match conn.read_line(&mut line).await {
                Ok(0) => return ExitCode::SUCCESS,
                // Flushed line by line; ends quietly when the reader goes.
                Ok(_) if json => out!("{line}"),
                // A line this pharos cannot read (a newer box's) is shown
                // as it came rather than lost.
                Ok(_) => match serde_json::from_str::<Event>(&line) {
                    Ok(e) => outln!("{}", event_line(&e)),
                    Err(_) => out!("{line}"),
                },
                Err(e) => return fail(&e.to_string()),
            }
        }
    })
}

/// One event as a person reads it, in columns that line up like
/// journalctl's: time (UTC, to the millisecond), what kind of thing and
/// which, then what happened; `WARN` / `ERROR` only where it went wrong.
pub fn event_line(e: &Event) -> String {
    // `2026-12-06T13:44:31.859Z` → `2026-12-06 13:44:31.859`.
    let time = e.time.trim_end_matches('Z').replacen('T', " ", 1);
    let level = match e.level {
        Level::Info => "",
        Level::Warn => "WARN ",
        Level::Error => "ERROR ",
    };
    format!(
        "{time}  {:<8} {:<16} {level}{}",
        e.kind, e.subject, e.message
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A status as a director publishes it: every subsystem's section.
    fn director() -> Status {
        let json = serde_json::json!({
            "pharos_version": "0.1.0", "pid": 1, "started_at": "2026-12-05T13:35:07Z",
            "ready": true,
            "config": { "file": "/config/pharos.toml", "source": "file", "node": "lvs1",
                        "revision": 1, "loaded_at": "2026-12-05T13:35:07Z", "age_seconds": 3,
                        "errors": [] },
            "tasks": [{ "name": "vrrp", "state": "running", "restarts": 0, "last_error": null }],
            "subsystems": {
                "net": { "modules": [{ "module": "ip_vs", "loaded": true }],
                         "sysctls": [{ "key": "net.ipv4.ip_forward", "want": "1", "live": "1", "state": "ok",
                                       "from": "system.ip_forward" }] },
                "vrrp": { "instances": { "VI_1": { "state": "master", "priority": 150,
                          "base_priority": 150, "interface": "eth0", "vrid": 51, "version": 3,
                          "advert_interval_ms": 1000, "virtual_addresses": ["192.168.199.100/24"],
                          "fault": null, "transitions": 2, "tracked": [],
                          "master": "192.168.199.2", "since": "13:35:11",
                          "adverts": { "sent": 10, "received": 0, "dropped": {} } } } },
                "check": { "schedule": { "attempts_per_s": 1.0, "late_p50_ms": 0.5,
                                         "late_p99_ms": 1.0, "late_max_ms": 2.0 },
                           "targets": [{ "target": "web/192.168.199.11:80", "check": "http GET /",
                                         "state": "up", "last": "pass", "latency_ms": 1.5,
                                         "passes": 3, "fails": 0, "rise": 1, "fall": 2, "checks": 3 }],
                           "services": { "web": { "quorum_up": true } } },
                "ipvs": { "services": [{ "name": "web", "service": "TCP 192.168.199.100:80",
                          "scheduler": "rr", "state": "ok", "connections": 4,
                          "servers": [{ "server": "192.168.199.11:80", "forward": "route",
                                        "weight": 1, "active": 1, "inactive": 3 }] }] }
            }
        });
        serde_json::from_value(json).expect("a status as the runtime writes it")
    }

    #[test]
    fn status_shows_every_subsystem_as_a_table() {
        let out = human(&director());
        for heading in [
            "TASK ",
            "MODULE ",
            "SYSCTL ",
            "VRRP INSTANCE ",
            "CHECK TARGET ",
            "SERVICE          QUORUM",
            "IPVS SERVICE ",
        ] {
            assert!(out.contains(heading), "no `{heading}` table:\n{out}");
        }
        assert!(out.contains("VI_1             master"), "{out}");
        assert!(out.contains("web/192.168.199.11:80"), "{out}");
        assert!(out.contains("  -> 192.168.199.11:80"), "{out}");
        // No raw JSON in what a person reads.
        assert!(!out.contains('{') && !out.contains("\":"), "{out}");
        assert!(!out.contains("cannot read"), "{out}");
    }

    #[test]
    fn an_event_reads_as_one_line_with_its_level_only_when_it_went_wrong() {
        let mut e = Event {
            time: "2026-12-06T13:44:31.859Z".into(),
            kind: "vrrp".into(),
            subject: "VI_1".into(),
            message: "backup → master: no advertisement for 3609 ms".into(),
            level: Level::Info,
        };
        assert_eq!(
            event_line(&e),
            "2026-12-06 13:44:31.859  vrrp     VI_1             backup → master: no advertisement for 3609 ms"
        );
        e.level = Level::Error;
        e.kind = "task".into();
        e.subject = "check".into();
        e.message = "panicked: boom; restarting in 1 s".into();
        assert_eq!(
            event_line(&e),
            "2026-12-06 13:44:31.859  task     check            ERROR panicked: boom; restarting in 1 s"
        );
    }
}

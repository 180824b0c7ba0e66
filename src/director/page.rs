//! The status page (`[metrics] status_page = true`): what HAProxy's stats
//! page is to HAProxy, for an LVS director. Server-rendered HTML and CSS
//! from the typed status, refreshing itself every 5 s, readable on a phone
//! (tables scroll sideways on their own). Read only: it has no form and no
//! script. The runtime serves it beside `/metrics`; it lives here because
//! it reads every subsystem's section.
//!
//! Shows: the config (file, revision, source, node) with a banner when it is
//! not the file's; each IPVS service with its VIP, scheduler and real
//! servers (forwarding, weight, health, last check, latency, connections,
//! rates); each VRRP instance (state, priority, master, VIPs); with `[bgp]`
//! each BGP session and each VIP it announces or withdraws; every check;
//! the box's clock (NTP) and its syslog collectors, when configured; the
//! image's boot slots and its last upgrade, on the image; the tasks; the
//! latest events.

use std::fmt::Write;

use crate::bgp::status::BgpStatus;
use crate::check::status::{CheckStatus, Target};
use crate::clock::status::ClockStatus;
use crate::ipvs::status::IpvsStatus;
use crate::runtime::status::{ConfigSource, Event, Level, Status};
use crate::runtime::syslog::status::SyslogStatus;
use crate::upgrade::record::Phase;
use crate::upgrade::slots::Slot;
use crate::upgrade::status::{UpgradeStatus, last_line};
use crate::vrrp::status::VrrpStatus;

/// Each subsystem's section of a status, as its owner types it (`None`
/// when the subsystem publishes none, or one this pharos cannot read).
pub struct Sections {
    pub vrrp: Option<VrrpStatus>,
    pub bgp: Option<BgpStatus>,
    pub check: Option<CheckStatus>,
    pub ipvs: Option<IpvsStatus>,
    pub clock: Option<ClockStatus>,
    pub syslog: Option<SyslogStatus>,
    pub upgrade: Option<UpgradeStatus>,
}

impl Sections {
    pub fn of(s: &Status) -> Sections {
        fn get<T: serde::de::DeserializeOwned>(s: &Status, name: &str) -> Option<T> {
            serde_json::from_value(s.subsystems.get(name)?.clone()).ok()
        }
        Sections {
            vrrp: get(s, "vrrp"),
            bgp: get(s, "bgp"),
            check: get(s, "check"),
            ipvs: get(s, "ipvs"),
            clock: get(s, "clock"),
            syslog: get(s, "syslog"),
            upgrade: get(s, "upgrade"),
        }
    }
}

/// Escapes text for HTML.
fn h(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

const STYLE: &str = "
body{font:14px/1.4 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;background:#f4f5f7;color:#1d2330}
header{background:#1d2330;color:#fff;padding:12px 16px}
header h1{font-size:18px;margin:0}
header p{margin:4px 0 0;color:#c5cad6}
main{padding:8px 12px 24px;max-width:1400px}
section{background:#fff;border-radius:6px;margin:12px 0;padding:8px 12px;box-shadow:0 1px 2px #0002}
h2{font-size:15px;margin:6px 0 8px}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #e6e8ee;white-space:nowrap}
th{font-weight:600;color:#4a5263;font-size:12px;text-transform:uppercase}
td.num{text-align:right}
td.wrap{white-space:normal;min-width:16em}
tr.svc td{background:#eef1f7;font-weight:600}
.ok,.up,.master{color:#0a7a32;font-weight:600}
.down,.fault,.missing,.error,.failed{color:#b3261e;font-weight:600}
.backup,.warn,.restarting{color:#8a5a00;font-weight:600}
.banner{background:#b3261e;color:#fff;padding:8px 16px;font-weight:600}
.muted{color:#6b7280}
";

/// The page: the status and the latest events (newest first).
pub fn render(s: &Status, events: &[Event]) -> String {
    let sec = Sections::of(s);
    let mut o = String::new();
    let node = s.config.node.as_deref().unwrap_or("no node");
    let _ = write!(
        o,
        "<!doctype html><html lang=en><head><meta charset=utf-8>\
         <meta name=viewport content='width=device-width,initial-scale=1'>\
         <meta http-equiv=refresh content=5>\
         <title>pharos {node}</title><style>{STYLE}</style></head><body>\
         <header><h1>pharos · {node}</h1><p>{} · config {} r{} ({}) · up since {} · {}</p></header>",
        h(&s.pharos_version),
        h(&s.config.file),
        s.config.revision,
        h(source(s.config.source)),
        h(&s.started_at),
        if s.ready { "ready" } else { "starting" },
        node = h(node),
    );
    if let Some(b) = banner(s) {
        let _ = write!(o, "<div class=banner>{}</div>", h(b));
    }
    if let Some(t) = &s.config.trial {
        let _ = write!(o, "<div class=banner>ON TRIAL: {}</div>", h(t));
    }
    if let Some(v) = &s.config.volatile {
        let _ = write!(o, "<div class=banner>NOT SAVED: {}</div>", h(v));
    }
    if let Some(u) = &s.config.unsaved {
        let _ = write!(o, "<div class=banner>NOT SAVED: {}</div>", h(u));
    }
    if let Some(u) = sec.upgrade.as_ref().filter(|u| u.on_trial()) {
        let _ = write!(
            o,
            "<div class=banner>UPGRADE ON TRIAL: slot {} commits only when healthy; {}</div>",
            u.slot,
            h(u.gate.as_deref().unwrap_or("health gate starting"))
        );
    }
    o.push_str("<main>");
    services(&mut o, sec.ipvs.as_ref(), sec.check.as_ref());
    vrrp(&mut o, sec.vrrp.as_ref());
    bgp(&mut o, sec.bgp.as_ref());
    checks(&mut o, sec.check.as_ref());
    system(&mut o, sec.clock.as_ref(), sec.syslog.as_ref());
    slots(&mut o, sec.upgrade.as_ref());
    tasks(&mut o, s);
    recent(&mut o, events);
    o.push_str("</main></body></html>\n");
    o
}

fn source(s: ConfigSource) -> &'static str {
    match s {
        ConfigSource::File => "the file",
        ConfigSource::LastGood => "last known good",
        ConfigSource::Maintenance => "maintenance",
        ConfigSource::Unmatched => "maintenance: no node matches",
    }
}

fn banner(s: &Status) -> Option<&'static str> {
    match s.config.source {
        ConfigSource::File => None,
        ConfigSource::LastGood => {
            Some("Running the LAST KNOWN GOOD config: the file is invalid (see pharos status)")
        }
        ConfigSource::Maintenance => Some("MAINTENANCE: no valid config; no VIPs held"),
        ConfigSource::Unmatched => {
            Some("MAINTENANCE: no node of the config matches this box; no VIPs held")
        }
    }
}

fn class(state: &str) -> &'static str {
    match state {
        "ok" => "ok",
        "up" => "up",
        "master" => "master",
        "backup" => "backup",
        "down" => "down",
        "fault" => "fault",
        "missing" => "missing",
        "failed" => "failed",
        "restarting" => "restarting",
        _ => "",
    }
}

/// The check of a real server: its target names it as the config does
/// (`rs:web/10.0.0.2` or `rs:web/10.0.0.2:80`).
fn target_of<'a>(
    checks: Option<&'a CheckStatus>,
    service: &str,
    server: &str,
) -> Option<&'a Target> {
    let checks = checks?;
    let ip = server
        .rsplit_once(':')
        .map_or(server, |(ip, _)| ip)
        .trim_start_matches('[')
        .trim_end_matches(']');
    let exact = format!("rs:{service}/{server}");
    let bare = format!("rs:{service}/{ip}");
    checks
        .targets
        .iter()
        .find(|t| t.target == exact)
        .or_else(|| checks.targets.iter().find(|t| t.target == bare))
}

fn rate(bps: u64) -> String {
    match bps {
        0 => "0".into(),
        b if b >= 1_000_000 => format!("{:.1} MB/s", b as f64 / 1e6),
        b if b >= 1_000 => format!("{:.1} kB/s", b as f64 / 1e3),
        b => format!("{b} B/s"),
    }
}

fn services(o: &mut String, ipvs: Option<&IpvsStatus>, checks: Option<&CheckStatus>) {
    let Some(ipvs) = ipvs else { return };
    o.push_str("<section><h2>Services</h2>");
    if let Some(e) = &ipvs.error {
        let _ = write!(o, "<p class=error>IPVS: {}</p>", h(e));
    }
    o.push_str(
        "<div class=scroll><table><tr><th>service / real server</th><th>scheduler · forwarding</th>\
         <th>state · health</th><th>weight</th><th>last check</th><th>latency</th>\
         <th>active</th><th>inactive</th><th>conn/s</th><th>in</th><th>out</th></tr>",
    );
    for svc in &ipvs.services {
        let _ = write!(
            o,
            "<tr class=svc><td>{} <span class=muted>{}</span></td><td>{}</td><td class={}>{}</td>\
             <td></td><td></td><td></td><td class=num colspan=2>{} conns</td><td></td><td></td><td></td></tr>",
            h(&svc.name),
            h(&svc.service),
            h(&svc.scheduler),
            class(&svc.state),
            h(&svc.state),
            svc.connections.map_or("-".into(), |c| c.to_string()),
        );
        for d in &svc.servers {
            let t = target_of(checks, &svc.name, &d.server);
            let (health, last, latency) = match t {
                Some(t) => (
                    t.state.as_str(),
                    t.last.as_str(),
                    t.latency_ms.map_or("-".into(), |l| format!("{l:.1} ms")),
                ),
                None => ("unchecked", "-", "-".into()),
            };
            let _ = write!(
                o,
                "<tr><td>&nbsp;&nbsp;→ {}</td><td>{}</td><td class={}>{}</td><td class=num>{}</td>\
                 <td>{}</td><td class=num>{}</td><td class=num>{}</td><td class=num>{}</td>\
                 <td class=num>{}</td><td class=num>{}</td><td class=num>{}</td></tr>",
                h(&d.server),
                h(&d.forward),
                class(health),
                h(health),
                d.weight,
                h(last),
                h(&latency),
                d.active,
                d.inactive,
                d.cps,
                rate(d.in_bps),
                rate(d.out_bps),
            );
        }
    }
    o.push_str("</table></div></section>");
}

fn vrrp(o: &mut String, vrrp: Option<&VrrpStatus>) {
    let Some(v) = vrrp else { return };
    if v.instances.is_empty() {
        return;
    }
    o.push_str(
        "<section><h2>VRRP</h2><div class=scroll><table><tr><th>instance</th><th>state</th>\
         <th>priority (configured)</th><th>master</th><th>interface · VRID</th><th>virtual addresses</th>\
         <th>since</th><th>fault</th></tr>",
    );
    for (name, i) in &v.instances {
        let _ = write!(
            o,
            "<tr><td>{}</td><td class={}>{}</td><td class=num>{} ({})</td><td>{}</td><td>{} · {}</td>\
             <td>{}</td><td>{}</td><td class=fault>{}</td></tr>",
            h(name),
            class(&i.state),
            h(&i.state),
            i.priority,
            i.base_priority,
            h(i.master.as_deref().unwrap_or("-")),
            h(&i.interface),
            i.vrid,
            h(&match &i.virtual_mac {
                Some(m) => format!("{} (virtual MAC {m})", i.virtual_addresses.join(", ")),
                None => i.virtual_addresses.join(", "),
            }),
            h(&i.since),
            h(i.fault.as_deref().unwrap_or("")),
        );
    }
    o.push_str("</table></div></section>");
}

/// Sessions, then prefixes: an operator asks first whether the routers
/// hear this director, then what it tells them.
fn bgp(o: &mut String, bgp: Option<&BgpStatus>) {
    let Some(b) = bgp else { return };
    let _ = write!(
        o,
        "<section><h2>BGP</h2><p class=muted>{}</p>",
        h(b.bird.as_deref().unwrap_or("BIRD has not answered yet"))
    );
    if let Some(e) = &b.last_error {
        let _ = write!(o, "<p class=error>{}</p>", h(e));
    }
    o.push_str(
        "<div class=scroll><table><tr><th>neighbour</th><th>address</th><th>AS</th>\
         <th>state</th><th>since</th><th>info</th></tr>",
    );
    for s in &b.sessions {
        let _ = write!(
            o,
            "<tr><td>{}</td><td>{}</td><td class=num>{}</td><td class={}>{}</td><td>{}</td>\
             <td class=wrap>{}</td></tr>",
            h(&s.name),
            h(&s.address),
            s.remote_as,
            if s.state == "up" { "up" } else { "down" },
            h(&s.state),
            h(&s.since),
            h(&s.info),
        );
    }
    o.push_str(
        "</table></div><div class=scroll><table><tr><th>prefix</th><th>announced</th>\
         <th>services</th><th>why</th></tr>",
    );
    for p in &b.prefixes {
        let _ = write!(
            o,
            "<tr><td>{}</td><td class={}>{}</td><td>{}</td><td class=wrap>{}</td></tr>",
            h(&p.prefix),
            if p.announced { "up" } else { "down" },
            if p.announced { "yes" } else { "no" },
            h(&p.services.join(", ")),
            h(&p.why),
        );
    }
    o.push_str("</table></div></section>");
}

fn checks(o: &mut String, checks: Option<&CheckStatus>) {
    let Some(c) = checks else { return };
    if c.targets.is_empty() {
        return;
    }
    o.push_str(
        "<section><h2>Checks</h2><div class=scroll><table><tr><th>target</th><th>check</th><th>state</th>\
         <th>last</th><th>latency</th><th>rise · fall</th><th>checks</th></tr>",
    );
    for t in &c.targets {
        let _ = write!(
            o,
            "<tr><td>{}</td><td>{}</td><td class={}>{}</td><td>{}</td><td class=num>{}</td>\
             <td class=num>{}/{} · {}/{}</td><td class=num>{}</td></tr>",
            h(&t.target),
            h(&t.check),
            class(&t.state),
            h(&t.state),
            h(&t.last),
            t.latency_ms.map_or("-".into(), |l| format!("{l:.1} ms")),
            t.passes,
            t.rise,
            t.fails,
            t.fall,
            t.checks,
        );
    }
    o.push_str("</table></div></section>");
}

/// The clock and the syslog collectors, when either is configured.
fn system(o: &mut String, clock: Option<&ClockStatus>, syslog: Option<&SyslogStatus>) {
    if clock.is_none() && syslog.is_none() {
        return;
    }
    o.push_str("<section><h2>Clock and logs</h2><div class=scroll><table>");
    if let Some(c) = clock {
        o.push_str(
            "<tr><th>NTP server</th><th>stratum</th><th>offset</th><th>last sync</th>\
             <th>action</th><th>last error</th></tr>",
        );
        let _ = write!(
            o,
            "<tr><td>{}</td><td class=num>{}</td><td class=num>{}</td><td>{}</td><td>{}</td><td class='wrap error'>{}</td></tr>",
            h(c.server.as_deref().unwrap_or(&c.servers.join(", "))),
            c.stratum.map_or("-".into(), |s| s.to_string()),
            c.offset_seconds
                .map_or("-".into(), |o| format!("{o:+.6} s")),
            h(c.last_sync.as_deref().unwrap_or("never")),
            h(c.action.as_deref().unwrap_or("-")),
            h(c.last_error.as_deref().unwrap_or("")),
        );
    }
    if let Some(s) = syslog {
        o.push_str(
            "<tr><th>syslog collector</th><th>facility</th><th>state</th><th>sent</th>\
             <th>dropped</th><th>last error</th></tr>",
        );
        for c in &s.collectors {
            let _ = write!(
                o,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td class=num>{}</td><td class=num>{}</td><td class='wrap error'>{}</td></tr>",
                h(&c.collector),
                h(&c.facility),
                h(&c.state),
                c.sent,
                c.dropped,
                h(c.last_error.as_deref().unwrap_or("")),
            );
        }
    }
    o.push_str("</table></div></section>");
}

/// The image's boot slots (what each holds, which runs, which GRUB boots)
/// and how the last upgrade went.
fn slots(o: &mut String, u: Option<&UpgradeStatus>) {
    let Some(u) = u else { return };
    o.push_str(
        "<section><h2>Boot slots</h2><div class=scroll><table>\
         <tr><th>slot</th><th>version</th><th>state</th></tr>",
    );
    for s in [Slot::A, Slot::B] {
        let mut state = Vec::new();
        if s == u.slot {
            state.push(if u.on_trial() {
                "running, on trial"
            } else {
                "running"
            });
        }
        if Some(s) == u.committed {
            state.push("committed: GRUB boots it");
        }
        let _ = write!(
            o,
            "<tr><td>{s}</td><td>{}</td><td>{}</td></tr>",
            h(u.slots.get(&s).map_or("-", String::as_str)),
            h(&state.join(", "))
        );
    }
    o.push_str("</table></div>");
    if let Some(last) = &u.last {
        let class = match last.phase {
            Phase::RolledBack => "wrap error",
            _ => "wrap",
        };
        let _ = write!(o, "<p class='{class}'>{}</p>", h(&last_line(last)));
    }
    if let Some(e) = &u.error {
        let _ = write!(o, "<p class='wrap error'>{}</p>", h(e));
    }
    o.push_str("</section>");
}

fn tasks(o: &mut String, s: &Status) {
    o.push_str(
        "<section><h2>Tasks</h2><div class=scroll><table><tr><th>task</th><th>state</th>\
         <th>restarts</th><th>last error</th></tr>",
    );
    for t in &s.tasks {
        let state = t.state.as_str();
        let _ = write!(
            o,
            "<tr><td>{}</td><td class={}>{}</td><td class=num>{}</td><td class=wrap>{}</td></tr>",
            h(&t.name),
            class(state),
            h(state),
            t.restarts,
            h(t.last_error.as_deref().unwrap_or("")),
        );
    }
    o.push_str("</table></div></section>");
}

fn recent(o: &mut String, events: &[Event]) {
    o.push_str(
        "<section><h2>Latest events</h2><div class=scroll><table><tr><th>time</th><th>kind</th>\
         <th>subject</th><th>message</th></tr>",
    );
    for e in events {
        let cls = match e.level {
            Level::Info => "",
            Level::Warn => "warn",
            Level::Error => "error",
        };
        let _ = write!(
            o,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class='wrap {cls}'>{}</td></tr>",
            h(&e.time),
            h(&e.kind),
            h(&e.subject),
            h(&e.message),
        );
    }
    o.push_str("</table></div></section>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_from_the_network_is_escaped() {
        assert_eq!(h("<b a='1'>&\""), "&lt;b a=&#39;1&#39;&gt;&amp;&quot;");
    }

    #[test]
    fn a_real_server_is_matched_to_its_check_with_or_without_its_port() {
        let t = |name: &str| Target {
            target: name.into(),
            check: "tcp".into(),
            state: "up".into(),
            last: "pass".into(),
            latency_ms: None,
            passes: 1,
            fails: 0,
            rise: 1,
            fall: 1,
            checks: 1,
        };
        let c = CheckStatus {
            schedule: Default::default(),
            targets: vec![t("rs:web/10.0.0.2"), t("rs:web/10.0.0.3:8080")],
            services: Default::default(),
        };
        assert!(target_of(Some(&c), "web", "10.0.0.2:80").is_some());
        assert!(target_of(Some(&c), "web", "10.0.0.3:8080").is_some());
        assert!(target_of(Some(&c), "web", "10.0.0.4:80").is_none());
        assert!(target_of(Some(&c), "other", "10.0.0.2:80").is_none());
    }

    #[test]
    fn the_clock_and_the_collectors_show_only_when_configured() {
        let mut o = String::new();
        system(&mut o, None, None);
        assert!(o.is_empty());
        let clock = ClockStatus {
            servers: vec!["10.0.0.1:123".into()],
            server: Some("10.0.0.1:123".into()),
            offset_seconds: Some(-0.0123),
            action: Some("slewed".into()),
            ..Default::default()
        };
        let logs = SyslogStatus {
            collectors: vec![crate::runtime::syslog::status::Collector {
                collector: "tls://10.0.0.6:6514".into(),
                facility: "daemon".into(),
                state: "connecting".into(),
                sent: 5,
                dropped: 2,
                last_error: Some("the TLS handshake <failed>".into()),
            }],
        };
        system(&mut o, Some(&clock), Some(&logs));
        for want in [
            "10.0.0.1:123",
            "-0.012300 s",
            "slewed",
            "tls://10.0.0.6:6514",
            "connecting",
            "&lt;failed&gt;",
        ] {
            assert!(o.contains(want), "{want}: {o}");
        }
    }

    #[test]
    fn bgp_shows_each_session_and_each_prefix_only_when_configured() {
        use crate::bgp::status::{Prefix, Session};
        let mut o = String::new();
        bgp(&mut o, None);
        assert!(o.is_empty());
        let b = BgpStatus {
            bird: Some("BIRD 2.0.12".into()),
            sessions: vec![Session {
                name: "upstream".into(),
                address: "10.20.0.1".into(),
                remote_as: 65000,
                state: "start".into(),
                info: "Active <Socket: Connection refused>".into(),
                since: "10:00:00.000".into(),
            }],
            prefixes: vec![Prefix {
                prefix: "10.99.0.1/32".into(),
                services: vec!["web".into(), "web-tls".into()],
                announced: false,
                why: "web below quorum".into(),
            }],
            last_error: None,
        };
        bgp(&mut o, Some(&b));
        for want in [
            "<h2>BGP</h2>",
            "BIRD 2.0.12",
            "<td>upstream</td><td>10.20.0.1</td><td class=num>65000</td><td class=down>start</td>",
            "Active &lt;Socket: Connection refused&gt;",
            "<td>10.99.0.1/32</td><td class=down>no</td><td>web, web-tls</td>",
            "web below quorum",
        ] {
            assert!(o.contains(want), "{want}: {o}");
        }
    }

    #[test]
    fn the_boot_slots_show_on_the_image_with_a_banner_while_on_trial() {
        let mut o = String::new();
        slots(&mut o, None);
        assert!(o.is_empty(), "not on the image: no section");
        let u = UpgradeStatus::example_on_trial();
        slots(&mut o, Some(&u));
        assert!(
            o.contains("<td>B</td><td>0.2.0</td><td>running, on trial</td>"),
            "{o}"
        );
        assert!(
            o.contains("<td>A</td><td>0.1.0</td><td>committed: GRUB boots it</td>"),
            "{o}"
        );
        let mut committed = u.clone();
        committed.committed = Some(Slot::B);
        let mut o = String::new();
        slots(&mut o, Some(&committed));
        assert!(
            o.contains("<td>B</td><td>0.2.0</td><td>running, committed: GRUB boots it</td>"),
            "{o}"
        );
    }
}

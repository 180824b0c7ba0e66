//! RFC 5424 messages and their framing, sans IO.
//!
//! ```text
//!   <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA [BOM]MSG
//!   <30>1 2026-12-06T12:00:00.123456Z lvs1 pharos 1 vrrp [pharos@32473 kind="vrrp" subject="VI_1"] VI_1: BACKUP → MASTER
//! ```
//!
//! - PRI = facility × 8 + severity (§6.2.1); the severity from the tracing
//!   level: ERROR 3 (err), WARN 4 (warning), INFO 6 (informational),
//!   DEBUG and TRACE 7 (debug).
//! - TIMESTAMP: RFC 3339 in UTC with microseconds (§6.2.3 allows six
//!   fraction digits).
//! - MSGID (§6.2.7): what kind of line it is: the event's `kind`, else
//!   the `task` field, else the pharos module that logged it (`vrrp`).
//! - STRUCTURED-DATA (§6.3): the line's fields (`task`, `instance`,
//!   `kind`, `subject`, ...) as the parameters of one element whose SD-ID is
//!   `pharos@32473` (32473: RFC 5612's documentation enterprise number),
//!   or `-` when it has none.
//! - MSG (§6.4): UTF-8, after a BOM when it is not plain ASCII.
//!
//! Every header field is PRINTUSASCII (%d33-126) of a bounded length, or
//! the NILVALUE `-`; a value that is not (a host name with a space, say) is
//! written with its bad characters replaced by `_`, so a collector never
//! gets a message it must reject.
//!
//! Framing: one message a datagram over UDP (RFC 5426 §3.1), and octet
//! counting over TCP and TLS (`MSG-LEN SP SYSLOG-MSG`: RFC 6587 §3.4.1,
//! RFC 5425 §4.3).

use std::fmt::Write;
use std::time::SystemTime;

/// The SD-ID of pharos's element: a name `@` an enterprise number (§7.2.2).
pub const SD_ID: &str = "pharos@32473";
pub const APP_NAME: &str = "pharos";

/// Largest message sent over UDP: RFC 5426 §3.2 has receivers take 2048
/// octets (and IPv4 ones at least 480, but every collector in use takes
/// 2048; a longer one would be fragmented or cut anyway).
pub const MAX_UDP: usize = 2048;
/// Largest message sent over TCP or TLS: RFC 5425 §4.3.1 has receivers
/// take 2048 octets and SHOULD take 8192 (rsyslog's default limit).
pub const MAX_STREAM: usize = 8192;

/// RFC 5424 §6.2.1's severity of a tracing level.
pub fn severity(level: &tracing::Level) -> u8 {
    match *level {
        tracing::Level::ERROR => 3,
        tracing::Level::WARN => 4,
        tracing::Level::INFO => 6,
        _ => 7,
    }
}

/// One log line, before its PRI (which depends on each collector's
/// facility): everything from the VERSION on.
#[derive(Debug, Clone)]
pub struct Record<'a> {
    pub time: SystemTime,
    pub hostname: &'a str,
    pub procid: u32,
    pub msgid: &'a str,
    /// The structured data's parameters, in order.
    pub params: &'a [(String, String)],
    pub msg: &'a str,
}

/// `s` as an RFC 5424 header field: PRINTUSASCII of at most `max` octets,
/// or the NILVALUE.
fn header(out: &mut String, s: &str, max: usize) {
    if s.is_empty() {
        out.push('-');
        return;
    }
    for b in s.bytes().take(max) {
        out.push(if (33..=126).contains(&b) {
            b as char
        } else {
            '_'
        });
    }
}

/// An SD-NAME (§6.3.3): PRINTUSASCII except `=`, SP, `]` and `"`, 1 to 32.
fn sd_name(out: &mut String, s: &str) {
    if s.is_empty() {
        out.push('_');
    }
    for b in s.bytes().take(32) {
        let ok = (33..=126).contains(&b) && !matches!(b, b'=' | b']' | b'"');
        out.push(if ok { b as char } else { '_' });
    }
}

/// A PARAM-VALUE (§6.3.3): UTF-8 with `"`, `\` and `]` escaped by `\`.
fn param_value(out: &mut String, s: &str) {
    for c in s.chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
}

/// The message from VERSION on (`1 TIMESTAMP ... MSG`).
pub fn body(r: &Record<'_>) -> String {
    let mut out = String::with_capacity(128 + r.msg.len());
    out.push_str("1 ");
    out.push_str(&humantime::format_rfc3339_micros(r.time).to_string());
    out.push(' ');
    header(&mut out, r.hostname, 255);
    out.push(' ');
    header(&mut out, APP_NAME, 48);
    out.push(' ');
    let _ = write!(out, "{}", r.procid);
    out.push(' ');
    header(&mut out, r.msgid, 32);
    out.push(' ');
    if r.params.is_empty() {
        out.push('-');
    } else {
        out.push('[');
        out.push_str(SD_ID);
        for (k, v) in r.params {
            out.push(' ');
            sd_name(&mut out, k);
            out.push_str("=\"");
            param_value(&mut out, v);
            out.push('"');
        }
        out.push(']');
    }
    if !r.msg.is_empty() {
        out.push(' ');
        if !r.msg.is_ascii() {
            out.push('\u{feff}');
        }
        out.push_str(r.msg);
    }
    out
}

/// The whole message for a collector of this facility: `<PRI>` and the
/// body, cut to `max` octets (at a character boundary).
pub fn message(facility: u8, severity: u8, body: &str, max: usize) -> String {
    let mut m = format!("<{}>", u16::from(facility) * 8 + u16::from(severity));
    let room = max.saturating_sub(m.len());
    let mut cut = body.len().min(room);
    while !body.is_char_boundary(cut) {
        cut -= 1;
    }
    m.push_str(&body[..cut]);
    m
}

/// Octet-counting framing (RFC 6587 §3.4.1): `MSG-LEN SP SYSLOG-MSG`.
pub fn octet_counted(msg: &str) -> Vec<u8> {
    let mut f = format!("{} ", msg.len()).into_bytes();
    f.extend_from_slice(msg.as_bytes());
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    use syslog_rfc5424::{SyslogFacility, SyslogSeverity, parse_message};

    fn record<'a>(params: &'a [(String, String)], msg: &'a str) -> Record<'a> {
        Record {
            // 2026-12-06T12:00:00.123456Z
            time: std::time::UNIX_EPOCH + std::time::Duration::new(1_796_558_400, 123_456_000),
            hostname: "lvs1",
            procid: 1,
            msgid: "vrrp",
            params,
            msg,
        }
    }

    fn params(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_line_is_an_rfc_5424_message_as_an_independent_parser_reads_it() {
        let p = params(&[("kind", "vrrp"), ("subject", "VI_1"), ("instance", "VI_1")]);
        let body = body(&record(&p, "VI_1: BACKUP → MASTER"));
        let m = message(3, 6, &body, MAX_STREAM);
        assert_eq!(
            m,
            "<30>1 2026-12-06T12:00:00.123456Z lvs1 pharos 1 vrrp \
             [pharos@32473 kind=\"vrrp\" subject=\"VI_1\" instance=\"VI_1\"] \u{feff}VI_1: BACKUP → MASTER"
        );
        let parsed = parse_message(&m).expect("RFC 5424");
        assert_eq!(parsed.facility, SyslogFacility::LOG_DAEMON);
        assert_eq!(parsed.severity, SyslogSeverity::SEV_INFO);
        assert_eq!(parsed.hostname.as_deref(), Some("lvs1"));
        assert_eq!(parsed.appname.as_deref(), Some("pharos"));
        assert_eq!(parsed.procid, Some(syslog_rfc5424::message::ProcId::PID(1)));
        assert_eq!(parsed.msgid.as_deref(), Some("vrrp"));
        assert_eq!(parsed.timestamp, Some(1_796_558_400));
        assert_eq!(parsed.timestamp_nanos, Some(123_456_000));
        assert_eq!(
            parsed.sd.find_tuple(SD_ID, "subject").map(String::as_str),
            Some("VI_1")
        );
        assert_eq!(
            parsed.sd.find_tuple(SD_ID, "kind").map(String::as_str),
            Some("vrrp")
        );
        assert_eq!(
            parsed.msg.trim_start_matches('\u{feff}'),
            "VI_1: BACKUP → MASTER"
        );
    }

    #[test]
    fn values_are_escaped_and_bad_header_characters_replaced() {
        let p = params(&[("subject", "a \"quoted\" ] back\\slash"), ("bad name", "x")]);
        let mut r = record(&p, "plain ascii");
        r.hostname = "my host";
        r.msgid = "";
        let m = message(23, 3, &body(&r), MAX_STREAM);
        assert!(
            m.starts_with("<187>1 2026-12-06T12:00:00.123456Z my_host pharos 1 - [pharos@32473 subject=\"a \\\"quoted\\\" \\] back\\\\slash\" bad_name=\"x\"] plain ascii"),
            "{m}"
        );
        let parsed = parse_message(&m).expect("RFC 5424");
        assert_eq!(parsed.facility, SyslogFacility::LOG_LOCAL7);
        assert_eq!(parsed.severity, SyslogSeverity::SEV_ERR);
        assert_eq!(
            parsed.sd.find_tuple(SD_ID, "subject").map(String::as_str),
            Some("a \"quoted\" ] back\\slash")
        );
        assert_eq!(parsed.msgid, None);
        // Plain ASCII needs no BOM.
        assert_eq!(parsed.msg, "plain ascii");
    }

    #[test]
    fn a_line_without_fields_has_nil_structured_data() {
        let m = message(3, 4, &body(&record(&[], "ready")), MAX_UDP);
        assert_eq!(
            m,
            "<28>1 2026-12-06T12:00:00.123456Z lvs1 pharos 1 vrrp - ready"
        );
        let parsed = parse_message(&m).expect("RFC 5424");
        assert!(parsed.sd.is_empty());
        assert_eq!(parsed.severity, SyslogSeverity::SEV_WARNING);
    }

    #[test]
    fn long_lines_are_cut_at_a_character_boundary_and_framed_by_their_length() {
        let long = "é".repeat(3000);
        let m = message(3, 6, &body(&record(&[], &long)), MAX_UDP);
        assert!(m.len() <= MAX_UDP && m.len() > MAX_UDP - 2, "{}", m.len());
        assert!(parse_message(&m).is_ok());
        let framed = octet_counted("<30>1 - - - - - -");
        assert_eq!(framed, b"17 <30>1 - - - - - -");
    }
}

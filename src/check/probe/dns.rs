//! The dns probe (keepalived's DNS_CHECK): one query over UDP, passing when
//! the reply carries the query's ID, the expected rcode (default NOERROR)
//! and, if `answer` is set, that value among its answer records.
//!
//! The query is encoded once (hickory-proto) when the probe is built; each
//! attempt only patches a fresh random ID into a copy, so that a stray or
//! forged datagram is not taken for the reply. Replies with another ID are
//! ignored, not failed on, as a resolver would.

use std::net::{IpAddr, SocketAddr};

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};

use super::{Deadline, Failure, Outcome, shorten, udp_reason, udp_socket};
use crate::config::model::{Check, DnsRcode, DnsType};

/// Room for a reply; one without EDNS is at most 512 bytes, this leaves
/// space for servers that send more anyway.
const MAX_REPLY: usize = 4096;

pub struct Dns {
    target: SocketAddr,
    bind: Option<IpAddr>,
    /// The encoded query, ID 0; each attempt sets its own.
    query: Vec<u8>,
    name: String,
    rtype: RecordType,
    rcode: ResponseCode,
    answer: Option<Answer>,
}

enum Answer {
    /// Compared as addresses, so `2001:db8::1` matches however it is written.
    Ip(IpAddr),
    /// Compared case-insensitively, a trailing dot ignored.
    Text(String),
}

impl Dns {
    pub(crate) fn new(
        check: &Check,
        target: SocketAddr,
        bind: Option<IpAddr>,
    ) -> Result<Dns, String> {
        let text = check.query_name.as_deref().ok_or_else(|| {
            format!("dns check of {target}: no `query_name`; add `query_name = \"example.com\"`")
        })?;
        let mut name = Name::from_utf8(text).map_err(|e| {
            format!(
                "dns check of {target}: query_name `{text}` is not a DNS name ({e}); \
                 write a name like `www.example.com`"
            )
        })?;
        // The check's name is always absolute: there is no search list.
        name.set_fqdn(true);
        let rtype = record_type(check.query_type.unwrap_or(DnsType::A));
        let mut message = Message::new();
        message
            .set_id(0)
            .set_message_type(MessageType::Query)
            .set_op_code(OpCode::Query)
            .set_recursion_desired(true)
            .add_query(Query::query(name, rtype));
        let query = message.to_vec().map_err(|e| {
            format!("dns check of {target}: cannot encode the query for `{text}`: {e}")
        })?;
        let answer = check.answer.as_ref().map(|a| match a.parse::<IpAddr>() {
            Ok(ip) => Answer::Ip(ip),
            Err(_) => Answer::Text(normalized(a)),
        });
        Ok(Dns {
            target,
            bind,
            query,
            name: text.to_string(),
            rtype,
            rcode: response_code(check.rcode.unwrap_or(DnsRcode::Noerror)),
            answer,
        })
    }

    pub(crate) fn describe(&self) -> String {
        let mut s = format!("dns {} {} @{}", self.rtype, self.name, self.target);
        if self.rcode != ResponseCode::NoError {
            s.push_str(&format!(" expect {}", rcode_name(self.rcode)));
        }
        match &self.answer {
            Some(Answer::Ip(ip)) => s.push_str(&format!(" answer {ip}")),
            Some(Answer::Text(t)) => s.push_str(&format!(" answer {t}")),
            None => {}
        }
        s
    }

    pub(crate) async fn run(&self, deadline: Deadline) -> Outcome {
        let sock = udp_socket(self.target, self.bind).await?;
        let id = fastrand::u16(..);
        let mut query = self.query.clone();
        query[..2].copy_from_slice(&id.to_be_bytes());
        deadline
            .step("sending the query", sock.send(&query))
            .await?
            .map_err(|e| Failure::new(udp_reason(&e)))?;
        let mut buf = vec![0u8; MAX_REPLY];
        let mut strangers = 0u32;
        loop {
            let n = match tokio::time::timeout_at(deadline.at(), sock.recv(&mut buf)).await {
                Err(_) if strangers > 0 => {
                    return Err(Failure::new(format!(
                        "no reply within {} ms ({strangers} with another ID ignored)",
                        deadline.budget_ms()
                    )));
                }
                Err(_) => {
                    return Err(Failure::new(format!(
                        "no reply within {} ms",
                        deadline.budget_ms()
                    )));
                }
                Ok(Err(e)) => return Err(Failure::new(udp_reason(&e))),
                Ok(Ok(n)) => n,
            };
            let reply = &buf[..n];
            if reply.len() < 2 || reply[..2] != id.to_be_bytes() {
                strangers += 1;
                continue;
            }
            let message = Message::from_vec(reply)
                .map_err(|e| Failure::new(format!("reply is not a DNS message: {e}")))?;
            if message.message_type() != MessageType::Response {
                strangers += 1;
                continue;
            }
            return self.judge(&message);
        }
    }

    fn judge(&self, reply: &Message) -> Outcome {
        let rcode = reply.response_code();
        if rcode != self.rcode {
            return Err(Failure::new(format!(
                "rcode {} where {} was expected",
                rcode_name(rcode),
                rcode_name(self.rcode)
            )));
        }
        let Some(want) = &self.answer else {
            return Ok(());
        };
        let mut seen = Vec::new();
        for record in reply.answers() {
            let data = record.data();
            let found = match (want, data) {
                (Answer::Ip(ip), RData::A(a)) => IpAddr::V4(a.0) == *ip,
                (Answer::Ip(ip), RData::AAAA(a)) => IpAddr::V6(a.0) == *ip,
                (Answer::Ip(ip), other) => normalized(&other.to_string()) == ip.to_string(),
                (Answer::Text(t), RData::MX(mx)) => {
                    normalized(&mx.exchange().to_string()) == *t
                        || normalized(&data.to_string()) == *t
                }
                (Answer::Text(t), RData::SRV(srv)) => {
                    normalized(&srv.target().to_string()) == *t
                        || normalized(&data.to_string()) == *t
                }
                (Answer::Text(t), other) => normalized(&other.to_string()) == *t,
            };
            if found {
                return Ok(());
            }
            if seen.len() < 5 {
                seen.push(shorten(&data.to_string(), 64));
            } else if seen.len() == 5 {
                seen.push("…".to_string());
            }
        }
        let want = match want {
            Answer::Ip(ip) => ip.to_string(),
            Answer::Text(t) => t.clone(),
        };
        let truncated = if reply.truncated() {
            " (the reply was truncated)"
        } else {
            ""
        };
        if seen.is_empty() {
            Err(Failure::new(format!(
                "answer {want} not in the reply: it has no answer records{truncated}"
            )))
        } else {
            Err(Failure::new(format!(
                "answer {want} not among the answers: {}{truncated}",
                seen.join(", ")
            )))
        }
    }
}

/// Names compare without case and without the root's trailing dot.
fn normalized(text: &str) -> String {
    text.trim().trim_end_matches('.').to_ascii_lowercase()
}

fn record_type(t: DnsType) -> RecordType {
    match t {
        DnsType::A => RecordType::A,
        DnsType::Aaaa => RecordType::AAAA,
        DnsType::Cname => RecordType::CNAME,
        DnsType::Mx => RecordType::MX,
        DnsType::Ns => RecordType::NS,
        DnsType::Ptr => RecordType::PTR,
        DnsType::Soa => RecordType::SOA,
        DnsType::Srv => RecordType::SRV,
        DnsType::Txt => RecordType::TXT,
    }
}

fn response_code(r: DnsRcode) -> ResponseCode {
    match r {
        DnsRcode::Noerror => ResponseCode::NoError,
        DnsRcode::Formerr => ResponseCode::FormErr,
        DnsRcode::Servfail => ResponseCode::ServFail,
        DnsRcode::Nxdomain => ResponseCode::NXDomain,
        DnsRcode::Notimp => ResponseCode::NotImp,
        DnsRcode::Refused => ResponseCode::Refused,
    }
}

/// The mnemonic as the config (and dig) writes it.
fn rcode_name(r: ResponseCode) -> String {
    match u16::from(r) {
        0 => "NOERROR".into(),
        1 => "FORMERR".into(),
        2 => "SERVFAIL".into(),
        3 => "NXDOMAIN".into(),
        4 => "NOTIMP".into(),
        5 => "REFUSED".into(),
        n => format!("rcode {n}"),
    }
}

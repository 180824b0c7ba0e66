//! The udp probe (keepalived's UDP_CHECK): send `payload`, then judge by
//! the reply. With `expect_reply` (the default) a reply must come, and
//! contain `expect` if set. Without it, silence until the timeout is a
//! pass and only an ICMP port-unreachable (or a reply without `expect`)
//! fails: for services that answer nothing to a probe, this still tells a
//! closed port from an open one.

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};

use super::{Deadline, Failure, Outcome, shorten, udp_reason, udp_socket};
use crate::config::model::Check;

/// The most of a reply that is looked at; `expect` must be in it.
const MAX_REPLY: usize = 4096;

pub struct Udp {
    target: SocketAddr,
    bind: Option<IpAddr>,
    payload: Vec<u8>,
    expect: Option<Vec<u8>>,
    expect_reply: bool,
}

impl Udp {
    pub(crate) fn new(check: &Check, target: SocketAddr, bind: Option<IpAddr>) -> Udp {
        Udp {
            target,
            bind,
            payload: check.payload.clone().unwrap_or_default().into_bytes(),
            expect: check.expect.clone().map(String::into_bytes),
            expect_reply: check.expect_reply.unwrap_or(true),
        }
    }

    pub(crate) fn describe(&self) -> String {
        let mut s = format!("udp {} send {} bytes", self.target, self.payload.len());
        match (&self.expect, self.expect_reply) {
            (Some(e), _) => {
                let _ = write!(s, ", expect `{}`", shorten(&String::from_utf8_lossy(e), 32));
            }
            (None, true) => s.push_str(", expect a reply"),
            (None, false) => s.push_str(", expect no port unreachable"),
        }
        if let Some(b) = self.bind {
            let _ = write!(s, " from {b}");
        }
        s
    }

    pub(crate) async fn run(&self, deadline: Deadline) -> Outcome {
        let sock = udp_socket(self.target, self.bind).await?;
        deadline
            .step("sending", sock.send(&self.payload))
            .await?
            .map_err(|e| Failure::new(udp_reason(&e)))?;
        let mut buf = vec![0u8; MAX_REPLY];
        let n = match tokio::time::timeout_at(deadline.at(), sock.recv(&mut buf)).await {
            Err(_) if self.expect_reply => {
                return Err(Failure::new(format!(
                    "no reply within {} ms",
                    deadline.budget_ms()
                )));
            }
            // Silence, and no port unreachable: the port is open.
            Err(_) => return Ok(()),
            Ok(Err(e)) => return Err(Failure::new(udp_reason(&e))),
            Ok(Ok(n)) => n,
        };
        let reply = &buf[..n];
        match &self.expect {
            Some(want) if !contains(reply, want) => Err(Failure::new(format!(
                "reply of {n} bytes does not contain `{}` (it starts `{}`)",
                shorten(&String::from_utf8_lossy(want), 32),
                shorten(
                    &String::from_utf8_lossy(reply).escape_debug().to_string(),
                    32
                )
            ))),
            _ => Ok(()),
        }
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

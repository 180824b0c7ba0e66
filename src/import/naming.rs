//! What both importers call a service, and the small choices they make
//! alike: `[services.NAME]` from the kernel's key of the service, a
//! suffix on a clash, the value most real servers share.
//!
//! Owns naming only; talks to nobody but the config model's protocols.

use std::net::IpAddr;

use crate::config::model::Protocol;

/// Which kernel service: an address, protocol and port (0: all ports), or
/// a firewall mark of a family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum ServiceId {
    Addr {
        proto: Protocol,
        ip: IpAddr,
        port: u16,
    },
    Mark {
        mark: u32,
        v6: bool,
    },
}

impl ServiceId {
    pub(crate) fn is_v6(&self) -> bool {
        match self {
            ServiceId::Addr { ip, .. } => ip.is_ipv6(),
            ServiceId::Mark { v6, .. } => *v6,
        }
    }
}

/// `tcp-10-0-0-1-80`, `udp-2001-db8--1-53`, `tcp-10-0-0-1` (all ports),
/// `fwm-5`, `fwm6-5`: bare TOML keys that say which service it is.
pub(crate) fn service_name(id: ServiceId) -> String {
    match id {
        ServiceId::Addr { proto, ip, port } => {
            let proto = match proto {
                Protocol::Tcp => "tcp",
                Protocol::Udp => "udp",
                Protocol::Sctp => "sctp",
            };
            let ip: String = ip
                .to_string()
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                .collect();
            match port {
                0 => format!("{proto}-{ip}"),
                p => format!("{proto}-{ip}-{p}"),
            }
        }
        ServiceId::Mark { mark, v6: false } => format!("fwm-{mark}"),
        ServiceId::Mark { mark, v6: true } => format!("fwm6-{mark}"),
    }
}

/// `base`, or `base-2`, `base-3`... the first that `taken` does not hold.
pub(crate) fn unique_name(base: &str, taken: impl Fn(&str) -> bool) -> String {
    let mut name = base.to_string();
    let mut n = 2;
    while taken(&name) {
        name = format!("{base}-{n}");
        n += 1;
    }
    name
}

/// The most frequent value, the first seen on a tie.
pub(crate) fn most_common<T: PartialEq>(values: impl Iterator<Item = T>) -> Option<T> {
    let mut counts: Vec<(T, usize)> = Vec::new();
    for v in values {
        match counts.iter_mut().find(|(c, _)| *c == v) {
            Some((_, n)) => *n += 1,
            None => counts.push((v, 1)),
        }
    }
    let best = counts.iter().map(|c| c.1).max()?;
    counts.into_iter().find(|c| c.1 == best).map(|c| c.0)
}

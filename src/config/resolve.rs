//! A real server of a service resolved once: its effective port, forwarding,
//! weight and check, and the id that names it on the health board. The check
//! task (what to probe, where) and the IPVS task (the destination, and which
//! board entry decides its weight) both take this, so they cannot disagree
//! on which real servers are checked or on which port.

use std::net::IpAddr;

use super::model::{Check, CheckType, Forwarding, Service};
use super::types::Endpoint;

/// A real server's name, the same in the check task, on the health board
/// and in the IPVS task: its service and its key as the config writes it
/// (`services.web.real_servers."10.0.0.2"`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServerId {
    /// Shared by all of the service's real servers (one allocation per
    /// service, not per server: 110,000 of them at 10,000 services).
    pub service: std::sync::Arc<str>,
    pub server: Endpoint,
}

/// `web/10.0.0.2:80`.
impl std::fmt::Display for ServerId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.service, self.server)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Resolved<'a> {
    /// The service's name (`services.NAME`).
    pub service: &'a str,
    /// Its name on the health board.
    pub id: ServerId,
    pub ip: IpAddr,
    /// Its own port, else the service's; `None` for a port-less service.
    pub port: Option<u16>,
    /// Its own forwarding, else the service's.
    pub forwarding: Forwarding,
    pub weight: u32,
    pub upper_threshold: u32,
    pub lower_threshold: u32,
    /// The check that decides its health: its own, else the service's;
    /// `None` when it is not checked (no check, or `type = "none"`).
    pub check: Option<&'a Check>,
}

/// Every real server of `service`, in the config's order.
pub fn real_servers<'a>(name: &'a str, s: &'a Service) -> impl Iterator<Item = Resolved<'a>> {
    let shared: std::sync::Arc<str> = name.into();
    s.real_servers.iter().map(move |(ep, rs)| Resolved {
        service: name,
        id: ServerId {
            service: shared.clone(),
            server: *ep,
        },
        ip: ep.ip,
        port: ep.port.or_else(|| s.address.and_then(|a| a.port)),
        forwarding: rs.forwarding.unwrap_or(s.forwarding),
        weight: rs.weight.get(),
        upper_threshold: rs.upper_threshold.unwrap_or(0),
        lower_threshold: rs.lower_threshold.unwrap_or(0),
        check: rs
            .check
            .as_deref()
            .or(s.check.as_deref())
            .filter(|c| c.kind != CheckType::None),
    })
}

/// Every real server of every service: services in name order, each one's
/// real servers in the config's order.
pub fn all(cfg: &super::Config) -> impl Iterator<Item = Resolved<'_>> {
    cfg.services
        .iter()
        .flat_map(|(name, s)| real_servers(name, s))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Selection, check_text};

    #[test]
    fn a_real_server_is_resolved_once_with_its_effective_port_forwarding_weight_and_check() {
        let text = r#"
[system]
ip_forward = true

[services.web]
address = "10.0.0.1:80"
forwarding = "dr"
check = { type = "tcp" }

[services.web.real_servers]
"10.0.0.2" = {}
"10.0.0.3:8080" = { weight = 3, forwarding = "nat" }
"10.0.0.4:80" = { check = { type = "none" } }
"10.0.0.5:80" = { check = { type = "http", path = "/health" } }
"#;
        let c = check_text(text, &Selection::All);
        assert!(!c.has_errors(), "{:?}", c.diagnostics);
        let cfg = &c.configs[0].1;
        let all: Vec<Resolved<'_>> = real_servers("web", &cfg.services["web"]).collect();
        type Brief = (String, Option<u16>, Forwarding, u32, Option<CheckType>);
        let brief: Vec<Brief> = all
            .iter()
            .map(|r| {
                (
                    r.id.server.to_string(),
                    r.port,
                    r.forwarding,
                    r.weight,
                    r.check.map(|c| c.kind),
                )
            })
            .collect();
        assert_eq!(
            brief,
            [
                (
                    "10.0.0.2".to_string(),
                    Some(80),
                    Forwarding::Dr,
                    1,
                    Some(CheckType::Tcp)
                ),
                (
                    "10.0.0.3:8080".to_string(),
                    Some(8080),
                    Forwarding::Nat,
                    3,
                    Some(CheckType::Tcp)
                ),
                ("10.0.0.4:80".to_string(), Some(80), Forwarding::Dr, 1, None),
                (
                    "10.0.0.5:80".to_string(),
                    Some(80),
                    Forwarding::Dr,
                    1,
                    Some(CheckType::Http)
                ),
            ]
        );
        assert!(
            all.iter()
                .all(|r| r.service == "web" && &*r.id.service == "web")
        );
        assert_eq!(all[1].id.to_string(), "web/10.0.0.3:8080");
    }
}

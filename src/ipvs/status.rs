//! The IPVS section of `pharos status`: typed, published by the IPVS task
//! (as JSON under `subsystems.ipvs`) after each pass, from the table it
//! read back from the kernel, and rendered as a table by the CLI.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct IpvsStatus {
    /// The config's services, as the kernel has them.
    #[serde(default)]
    pub services: Vec<Service>,
    /// Why the table could not be read or written, if so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Service {
    /// The name in the config (`services.NAME`).
    pub name: String,
    /// `TCP 192.168.199.100:80`, `FWM 7`.
    pub service: String,
    pub scheduler: String,
    /// `ok`, or `missing` when the kernel does not have it.
    pub state: String,
    /// Connections the kernel counts for it.
    pub connections: Option<u64>,
    pub servers: Vec<Server>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Server {
    pub server: String,
    /// `route`, `masq`, `tunnel`, `local` or `bypass`, as ipvsadm names them.
    pub forward: String,
    pub weight: u32,
    pub active: u32,
    pub inactive: u32,
    /// Rates the kernel estimates: connections, bytes in and out per second.
    #[serde(default)]
    pub cps: u64,
    #[serde(default)]
    pub in_bps: u64,
    #[serde(default)]
    pub out_bps: u64,
}

impl IpvsStatus {
    /// `pharos status`'s table, laid out like `ipvsadm -Ln`.
    pub fn table(&self) -> String {
        let mut out = String::from(
            "\nIPVS SERVICE                        SCHED  STATE    CONNS\n  -> REAL SERVER                     FORWARD  WEIGHT  ACTIVE  INACTIVE\n",
        );
        if let Some(e) = &self.error {
            out.push_str(&format!("  error: {e}\n"));
        }
        for s in &self.services {
            out.push_str(&format!(
                "{:<35} {:<6} {:<8} {:>5}   ({})\n",
                s.service,
                s.scheduler,
                s.state,
                s.connections.map_or("-".to_string(), |c| c.to_string()),
                s.name
            ));
            for d in &s.servers {
                out.push_str(&format!(
                    "  -> {:<31} {:<8} {:>6}  {:>6}  {:>8}\n",
                    d.server, d.forward, d.weight, d.active, d.inactive
                ));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ipvs_section_renders_like_ipvsadm() {
        let s = IpvsStatus {
            services: vec![Service {
                name: "web".into(),
                service: "TCP 192.168.199.100:80".into(),
                scheduler: "rr".into(),
                state: "ok".into(),
                connections: Some(12),
                servers: vec![Server {
                    server: "192.168.199.11:80".into(),
                    forward: "route".into(),
                    weight: 1,
                    active: 3,
                    inactive: 9,
                    cps: 0,
                    in_bps: 0,
                    out_bps: 0,
                }],
            }],
            error: None,
        };
        let t = s.table();
        assert!(
            t.contains("TCP 192.168.199.100:80              rr     ok          12   (web)"),
            "{t}"
        );
        assert!(
            t.contains("  -> 192.168.199.11:80               route         1       3         9"),
            "{t}"
        );
        let broken = IpvsStatus {
            services: vec![],
            error: Some("the kernel has no IPVS".into()),
        };
        assert!(broken.table().contains("  error: the kernel has no IPVS"));
        // An error alone is what the task publishes when the kernel fails.
        let v: IpvsStatus = serde_json::from_str(r#"{"error":"x"}"#).unwrap();
        assert_eq!(v.error.as_deref(), Some("x"));
    }
}

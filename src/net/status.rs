//! The network plane's section of `pharos status`: typed, published by the
//! net task (as JSON under `subsystems.net`) after each pass, and rendered
//! as tables by the CLI.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct NetStatus {
    /// The kernel modules the config uses.
    pub modules: Vec<Module>,
    pub sysctls: Vec<Sysctl>,
    /// Links, addresses and routes as read back; absent when rtnetlink
    /// could not be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub links: Option<Vec<Link>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addresses: Option<Vec<Address>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routes: Option<Vec<Route>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Module {
    pub module: String,
    pub loaded: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Sysctl {
    pub key: String,
    pub want: String,
    pub live: Option<String>,
    /// `ok`, `differs` or `missing`.
    pub state: String,
    /// The config key it comes from.
    pub from: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Link {
    pub name: String,
    pub up: Option<bool>,
    pub carrier: Option<bool>,
    pub mtu: Option<u32>,
    /// `ok`, `missing`, or what still differs.
    pub state: String,
    pub from: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Address {
    pub address: String,
    pub link: String,
    pub state: String,
    pub from: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Route {
    pub route: String,
    /// The gateway, or the device for a route without one.
    pub via: Option<String>,
    pub metric: u32,
    pub state: String,
    pub from: String,
}

/// Links, addresses and routes, as the task reads them back.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KernelState {
    pub links: Vec<Link>,
    pub addresses: Vec<Address>,
    pub routes: Vec<Route>,
}

impl NetStatus {
    /// Modules, then each sysctl with its state, then links, addresses and
    /// routes.
    pub fn table(&self) -> String {
        // A table with no rows says nothing: only those with rows are shown.
        let mut out = String::new();
        if !self.modules.is_empty() {
            out.push_str("\nMODULE                LOADED\n");
        }
        for m in &self.modules {
            let loaded = if m.loaded { "yes" } else { "NO" };
            out.push_str(&format!("{:<21} {loaded}\n", m.module));
        }
        if !self.sysctls.is_empty() {
            out.push_str("\nSYSCTL                                     WANT   LIVE   STATE\n");
        }
        for x in &self.sysctls {
            out.push_str(&format!(
                "{:<42} {:<6} {:<6} {}\n",
                x.key,
                x.want,
                x.live.as_deref().unwrap_or("-"),
                x.state
            ));
        }
        let yn = |v: Option<bool>| match v {
            Some(true) => "yes",
            Some(false) => "no",
            None => "-",
        };
        if let Some(links) = self.links.as_ref().filter(|l| !l.is_empty()) {
            out.push_str("\nLINK             UP   CARRIER MTU    STATE\n");
            for l in links {
                out.push_str(&format!(
                    "{:<16} {:<4} {:<7} {:<6} {}\n",
                    l.name,
                    yn(l.up),
                    yn(l.carrier),
                    l.mtu.map_or("-".into(), |m| m.to_string()),
                    l.state
                ));
            }
        }
        if let Some(addrs) = self.addresses.as_ref().filter(|a| !a.is_empty()) {
            out.push_str("\nADDRESS                                  LINK             STATE\n");
            for a in addrs {
                out.push_str(&format!("{:<40} {:<16} {}\n", a.address, a.link, a.state));
            }
        }
        if let Some(routes) = self.routes.as_ref().filter(|r| !r.is_empty()) {
            out.push_str(
                "\nROUTE                                    VIA                      METRIC STATE\n",
            );
            for r in routes {
                out.push_str(&format!(
                    "{:<40} {:<24} {:<6} {}\n",
                    r.route,
                    r.via.as_deref().unwrap_or("-"),
                    r.metric,
                    r.state
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
    fn the_net_section_renders_as_tables() {
        let s = NetStatus {
            modules: vec![Module {
                module: "ip_vs".into(),
                loaded: true,
            }],
            sysctls: vec![Sysctl {
                key: "net.ipv4.ip_forward".into(),
                want: "1".into(),
                live: Some("0".into()),
                state: "differs".into(),
                from: "system.ip_forward".into(),
            }],
            links: Some(vec![Link {
                name: "eth0".into(),
                up: Some(true),
                carrier: Some(false),
                mtu: Some(1500),
                state: "ok".into(),
                from: "interfaces.eth0".into(),
            }]),
            addresses: Some(vec![Address {
                address: "192.168.199.2/24".into(),
                link: "eth0".into(),
                state: "ok".into(),
                from: "interfaces.eth0.addresses".into(),
            }]),
            routes: None,
        };
        let t = s.table();
        assert!(t.contains("ip_vs                 yes"), "{t}");
        assert!(
            t.contains("net.ipv4.ip_forward                        1      0      differs"),
            "{t}"
        );
        assert!(t.contains("eth0             yes  no      1500   ok"), "{t}");
        assert!(
            t.contains("192.168.199.2/24                         eth0             ok"),
            "{t}"
        );
        assert!(!t.contains("ROUTE"), "no routes read, no table: {t}");
        let v = serde_json::to_value(&s).unwrap();
        assert!(v.get("routes").is_none());
        assert_eq!(v["links"][0]["carrier"], false);
    }
}

//! The VRRP section of `pharos status`: typed, published by the VRRP task
//! (as JSON under `subsystems.vrrp`) and rendered as a table by the CLI.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct VrrpStatus {
    /// Every instance, by name.
    pub instances: BTreeMap<String, Instance>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Instance {
    /// `init`, `backup`, `master` or `fault`.
    pub state: String,
    /// The effective priority (configured plus tracking).
    pub priority: u8,
    /// The configured priority.
    pub base_priority: u8,
    /// The master's address, as last heard (or this node's while master).
    pub master: Option<String>,
    pub interface: String,
    pub vrid: u8,
    pub version: u8,
    pub advert_interval_ms: u64,
    pub virtual_addresses: Vec<String>,
    /// `virtual_mac = true`: the virtual MAC and the macvlan that carries
    /// it (`00:00:5e:00:01:33 on vrrp.51`); up only while master.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub virtual_mac: Option<String>,
    /// Why the instance is in Fault, if it is.
    pub fault: Option<String>,
    /// When it entered its state (RFC 3339).
    pub since: String,
    pub transitions: u64,
    pub adverts: Adverts,
    pub tracked: Vec<Tracked>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Adverts {
    pub sent: u64,
    pub received: u64,
    /// Dropped packets by reason (RFC 5798 §7.1 checks).
    pub dropped: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Tracked {
    pub what: String,
    pub weight: i16,
    pub up: bool,
}

impl VrrpStatus {
    /// One line per instance: state, effective (and configured) priority,
    /// who is master, advert counters, and the fault if any.
    pub fn table(&self) -> String {
        let mut out = String::from(
            "\nVRRP INSTANCE    STATE   PRIO     IFACE    VRID  MASTER                     SENT   RCVD  DROP  SINCE\n",
        );
        for (name, i) in &self.instances {
            let prio = if i.priority == i.base_priority {
                i.priority.to_string()
            } else {
                format!("{}({})", i.priority, i.base_priority)
            };
            let dropped: u64 = i.adverts.dropped.values().sum();
            out.push_str(&format!(
                "{:<16} {:<7} {:<8} {:<8} {:<5} {:<26} {:>5} {:>6} {:>5}  {}\n",
                name,
                i.state,
                prio,
                i.interface,
                i.vrid,
                i.master.as_deref().unwrap_or("-"),
                i.adverts.sent,
                i.adverts.received,
                dropped,
                i.since,
            ));
            if let Some(v) = &i.virtual_mac {
                out.push_str(&format!("  virtual MAC {v}\n"));
            }
            if let Some(f) = &i.fault {
                out.push_str(&format!("  fault: {f}\n"));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vrrp_section_renders_one_line_per_instance() {
        let s = VrrpStatus {
            instances: BTreeMap::from([(
                "VI_1".to_string(),
                Instance {
                    state: "backup".into(),
                    priority: 90,
                    base_priority: 150,
                    master: Some("192.168.199.3".into()),
                    interface: "eth0".into(),
                    vrid: 51,
                    version: 3,
                    advert_interval_ms: 1000,
                    virtual_addresses: vec!["192.168.199.100/24".into()],
                    virtual_mac: Some("00:00:5e:00:01:33 on vrrp.51".into()),
                    fault: None,
                    since: "2026-12-05T13:35:11Z".into(),
                    transitions: 2,
                    adverts: Adverts {
                        sent: 0,
                        received: 40,
                        dropped: BTreeMap::from([("wrong vrid".into(), 2)]),
                    },
                    tracked: vec![Tracked {
                        what: "service web".into(),
                        weight: -60,
                        up: false,
                    }],
                },
            )]),
        };
        let t = s.table();
        assert!(
            t.contains("VI_1             backup  90(150)  eth0     51    192.168.199.3                  0     40     2  2026-12-05T13:35:11Z"),
            "{t}"
        );
        assert!(
            t.contains("\n  virtual MAC 00:00:5e:00:01:33 on vrrp.51\n"),
            "{t}"
        );
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["instances"]["VI_1"]["state"], "backup");
        assert_eq!(
            v["instances"]["VI_1"]["adverts"]["dropped"]["wrong vrid"],
            2
        );
    }
}

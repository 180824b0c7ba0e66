//! Not a rule: the kernel modules a config needs, inferred from what it
//! uses (IPVS schedulers, tunnels, link kinds) plus `[system] modules`.
//!
//! Talks to: nothing; read by the network plane (`net::plan`, `net::task`).

use std::collections::BTreeMap;

use crate::config::model::{Config, Protocol, TunnelEncapKind, TunnelKind};

/// The kernel modules a config needs, inferred from what it uses.
pub fn required_modules(cfg: &Config) -> Vec<String> {
    let mut m: BTreeMap<String, ()> = BTreeMap::new();
    let mut add = |s: &str| {
        m.insert(s.to_string(), ());
    };
    // Any IPVS work: services, the sync daemon, table ownership, timeouts.
    let ipvs = &cfg.ipvs;
    if !cfg.services.is_empty() || ipvs.sync.is_some() || ipvs.exclusive || ipvs.timeouts.is_some()
    {
        add("ip_vs");
    }
    // Each scheduler once (10,000 services use a handful).
    let mut schedulers = std::collections::BTreeSet::new();
    for svc in cfg.services.values() {
        schedulers.insert(svc.scheduler.name());
        if svc.protocol == Protocol::Sctp {
            add("ip_vs");
        }
        if let Some(t) = &svc.tunnel {
            match t.kind {
                TunnelEncapKind::Ipip => add("ipip"),
                TunnelEncapKind::Gue => add("fou"),
                TunnelEncapKind::Gre => add("gre"),
            }
        }
    }
    for s in schedulers {
        add(&format!("ip_vs_{s}"));
    }
    for t in cfg.tunnels.values() {
        add(match t.kind {
            TunnelKind::Ipip => "ipip",
            TunnelKind::Gre => "ip_gre",
        });
    }
    if cfg.realserver.as_ref().is_some_and(|r| r.tun.is_some()) {
        add("ipip");
    }
    for i in cfg.interfaces.values() {
        if i.vlan.is_some() {
            add("8021q");
        }
        if i.bond.is_some() {
            add("bonding");
        }
        if i.dummy {
            add("dummy");
        }
        if i.bridge.is_some() {
            add("bridge");
        }
        if i.macvlan.is_some() {
            add("macvlan");
        }
    }
    if cfg.vrrp.values().any(|v| v.virtual_mac) {
        add("macvlan");
    }
    for x in &cfg.system.modules {
        add(x);
    }
    m.into_keys().collect()
}

#[cfg(test)]
mod tests {
    use crate::config::{Selection, check_text};

    #[test]
    fn modules_are_inferred_from_what_the_config_uses() {
        let text = "[system]\nip_forward = true\nmodules = [\"nf_conntrack\"]\n[interfaces.v]\nvlan = { parent = \"eth0\", id = 10 }\n[tunnels.tunl0]\ntype = \"ipip\"\n[services.a]\naddress = \"10.0.0.1:80\"\nforwarding = \"nat\"\nscheduler = \"mh\"\nsorry_server = \"10.0.0.9:80\"\n";
        let c = check_text(text, &Selection::All);
        assert!(!c.has_errors(), "{:?}", c.diagnostics);
        let m = super::required_modules(&c.configs[0].1);
        assert_eq!(
            m,
            vec!["8021q", "ip_vs", "ip_vs_mh", "ipip", "nf_conntrack"]
        );
    }
}

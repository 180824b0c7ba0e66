//! Sysctls: what the config wants (typed settings, the real-server role, the
//! raw map), the difference from what the kernel has (sans-IO: the reader
//! is passed in), and applying it through /proc/sys with a read-back, so a
//! value the kernel clamps or refuses is reported, not assumed.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use crate::config::Config;
use crate::config::tree::Path;
use crate::path;

/// A sysctl by its components: `net.ipv4.conf.eth0/100.rp_filter` is
/// `["net", "ipv4", "conf", "eth0.100", "rp_filter"]` (sysctl(8) writes a
/// dot inside a component as `/`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key(pub Vec<String>);

impl Key {
    /// Parses sysctl(8) notation: dots separate, `/` inside a part is a dot.
    pub fn parse(dotted: &str) -> Key {
        Key(dotted.split('.').map(|p| p.replace('/', ".")).collect())
    }

    fn conf(family: &str, iface: &str, leaf: &str) -> Key {
        Key(vec![
            "net".into(),
            family.into(),
            "conf".into(),
            iface.into(),
            leaf.into(),
        ])
    }

    pub fn proc_path(&self) -> PathBuf {
        let mut p = PathBuf::from("/proc/sys");
        for c in &self.0 {
            p.push(c);
        }
        p
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|c| c.replace('.', "/")).collect();
        f.write_str(&parts.join("."))
    }
}

/// One sysctl the config wants, and where in the config it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Want {
    pub key: Key,
    pub value: String,
    pub origin: Path,
}

/// Every sysctl the config asks for, in a stable order. Explicit settings
/// win over what a role implies; the raw map wins over both.
pub fn wanted(cfg: &Config) -> Vec<Want> {
    let mut w: BTreeMap<Key, Want> = BTreeMap::new();
    let mut put = |key: Key, value: String, origin: Path, explicit: bool| {
        if explicit || !w.contains_key(&key) {
            w.insert(key.clone(), Want { key, value, origin });
        }
    };
    let b = |v: bool| if v { "1" } else { "0" }.to_string();
    // The real-server role first, so explicit settings below replace it.
    if let Some(rs) = &cfg.realserver {
        if let Some(dr) = &rs.dr {
            // LVS-DR: never answer or announce ARP for the VIPs on lo.
            let ifaces = ["all", "lo"]
                .into_iter()
                .map(str::to_string)
                .chain(dr.arp_interfaces.iter().map(|i| i.to_string()));
            silence_arp(&mut put, ifaces, &path!["realserver", "dr"]);
        }
        if let Some(tun) = &rs.tun {
            // LVS-TUN: decapsulated packets arrive on tunl0 for an address
            // routed elsewhere; strict reverse-path filtering drops them.
            let origin = path!["realserver", "tun"];
            for i in ["all", "tunl0"] {
                put(
                    Key::conf("ipv4", i, "rp_filter"),
                    tun.rp_filter.to_string(),
                    origin.clone(),
                    false,
                );
            }
            // A real server with a second NIC on the director's LAN must
            // not answer ARP for the VIP there either.
            if !tun.arp_interfaces.is_empty() {
                let ifaces = tun
                    .arp_interfaces
                    .iter()
                    .map(|i| i.to_string())
                    .chain(["all".to_string()]);
                silence_arp(&mut put, ifaces, &origin);
            }
        }
    }
    let sys = &cfg.system;
    if let Some(v) = sys.ip_forward {
        put(
            Key::parse("net.ipv4.ip_forward"),
            b(v),
            path!["system", "ip_forward"],
            true,
        );
    }
    if let Some(v) = sys.ipv6_forward {
        put(
            Key::parse("net.ipv6.conf.all.forwarding"),
            b(v),
            path!["system", "ipv6_forward"],
            true,
        );
    }
    for (iface, conf) in &sys.conf {
        let at = path!["system", "conf", iface];
        let typed = [
            ("arp_ignore", conf.arp_ignore.map(|v| v.to_string())),
            ("arp_announce", conf.arp_announce.map(|v| v.to_string())),
            ("rp_filter", conf.rp_filter.map(|v| v.to_string())),
            ("forwarding", conf.forwarding.map(b)),
        ];
        for (leaf, v) in typed {
            if let Some(v) = v {
                put(Key::conf("ipv4", iface, leaf), v, at.k(leaf), true);
            }
        }
    }
    for (k, v) in &sys.sysctl {
        put(
            Key::parse(k),
            v.to_string(),
            path!["system", "sysctl", k],
            true,
        );
    }
    w.into_values().collect()
}

/// arp_ignore = 1 and arp_announce = 2 on each interface: the box neither
/// answers nor announces ARP for addresses it holds on other interfaces
/// (the VIPs on lo or tunl0), so only the director does.
fn silence_arp(
    put: &mut impl FnMut(Key, String, Path, bool),
    ifaces: impl Iterator<Item = String>,
    origin: &Path,
) {
    for i in ifaces {
        put(
            Key::conf("ipv4", &i, "arp_ignore"),
            "1".into(),
            origin.clone(),
            false,
        );
        put(
            Key::conf("ipv4", &i, "arp_announce"),
            "2".into(),
            origin.clone(),
            false,
        );
    }
}

/// What applying a wanted sysctl does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// The kernel already has this value.
    Matches(Want),
    /// The kernel has `from`; write the wanted value.
    Set { want: Want, from: String },
    /// The kernel has no such sysctl (a typo, a module not loaded, an
    /// interface that does not exist yet).
    Missing(Want),
}

/// Whitespace-insensitive, as the kernel prints vectors with tabs.
fn same(a: &str, b: &str) -> bool {
    a.split_whitespace().eq(b.split_whitespace())
}

/// Sans-IO: compares what is wanted with what `live` reads (`None` when the
/// kernel lacks the key) and says what to do, in order.
pub fn diff(wants: &[Want], live: impl Fn(&Key) -> Option<String>) -> Vec<Step> {
    wants
        .iter()
        .map(|w| match live(&w.key) {
            None => Step::Missing(w.clone()),
            Some(v) if same(&v, &w.value) => Step::Matches(w.clone()),
            Some(v) => Step::Set {
                want: w.clone(),
                from: v.trim().to_string(),
            },
        })
        .collect()
}

/// Reads a sysctl from /proc/sys.
pub fn read(key: &Key) -> Option<String> {
    std::fs::read_to_string(key.proc_path())
        .ok()
        .map(|v| v.trim_end().to_string())
}

/// The outcome of one applied step, for logs, status and the apply report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    Unchanged(Key),
    Changed { key: Key, from: String, to: String },
    Failed { key: Key, origin: Path, why: String },
}

/// Writes each `Set`, then reads it back: the kernel may clamp a value or
/// refuse it. A missing key is reported with the config location it came from.
pub fn apply(steps: &[Step]) -> Vec<Applied> {
    steps
        .iter()
        .map(|s| match s {
            Step::Matches(w) => Applied::Unchanged(w.key.clone()),
            Step::Missing(w) => Applied::Failed {
                key: w.key.clone(),
                origin: w.origin.clone(),
                why: format!("the kernel has no sysctl {} (set by `{}`): check the name, the interface, or the module that provides it", w.key, w.origin),
            },
            Step::Set { want, from } => {
                if let Err(e) = std::fs::write(want.key.proc_path(), format!("{}\n", want.value)) {
                    return Applied::Failed {
                        key: want.key.clone(),
                        origin: want.origin.clone(),
                        why: format!("the kernel refused {} = {} (set by `{}`): {e}", want.key, want.value, want.origin),
                    };
                }
                match read(&want.key) {
                    Some(now) if same(&now, &want.value) => Applied::Changed {
                        key: want.key.clone(),
                        from: from.clone(),
                        to: want.value.clone(),
                    },
                    now => Applied::Failed {
                        key: want.key.clone(),
                        origin: want.origin.clone(),
                        why: format!(
                            "wrote {} = {} (set by `{}`) but the kernel reads back {}: it clamped or ignored the value",
                            want.key,
                            want.value,
                            want.origin,
                            now.as_deref().unwrap_or("nothing")
                        ),
                    },
                }
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::config::{Selection, check_text};

    fn cfg(text: &str) -> Config {
        let c = check_text(text, &Selection::All);
        assert!(!c.has_errors(), "{:?}", c.diagnostics);
        c.configs.into_iter().next().unwrap().1
    }

    fn shown(w: &[Want]) -> Vec<String> {
        w.iter()
            .map(|w| format!("{} = {} <- {}", w.key, w.value, w.origin))
            .collect()
    }

    #[test]
    fn the_dr_role_silences_arp_on_all_lo_and_the_listed_interfaces() {
        let w = wanted(&cfg(
            "[realserver.dr]\nvips = [\"10.0.0.1\"]\narp_interfaces = [\"eth0\"]\n[interfaces.eth0]\n",
        ));
        assert_eq!(
            shown(&w),
            vec![
                "net.ipv4.conf.all.arp_announce = 2 <- realserver.dr",
                "net.ipv4.conf.all.arp_ignore = 1 <- realserver.dr",
                "net.ipv4.conf.eth0.arp_announce = 2 <- realserver.dr",
                "net.ipv4.conf.eth0.arp_ignore = 1 <- realserver.dr",
                "net.ipv4.conf.lo.arp_announce = 2 <- realserver.dr",
                "net.ipv4.conf.lo.arp_ignore = 1 <- realserver.dr",
            ]
        );
    }

    #[test]
    fn explicit_settings_win_over_the_role_and_dotted_interfaces_use_slashes() {
        let text = "[system]\nip_forward = true\n[system.conf.\"eth0.100\"]\nrp_filter = 2\n[system.conf.all]\narp_ignore = 2\n\
                    [system.sysctl]\n\"net.ipv4.vs.expire_nodest_conn\" = 1\n[realserver.tun]\nvips = [\"10.0.0.1\"]\n[realserver.dr]\nvips = [\"10.0.0.2\"]\n";
        let w = wanted(&cfg(text));
        let s = shown(&w);
        assert!(
            s.contains(
                &"net.ipv4.conf.all.arp_ignore = 2 <- system.conf.all.arp_ignore".to_string()
            ),
            "{s:#?}"
        );
        assert!(
            s.contains(
                &"net.ipv4.conf.eth0/100.rp_filter = 2 <- system.conf.\"eth0.100\".rp_filter"
                    .to_string()
            ),
            "{s:#?}"
        );
        assert!(
            s.contains(&"net.ipv4.conf.tunl0.rp_filter = 0 <- realserver.tun".to_string()),
            "{s:#?}"
        );
        assert!(
            s.contains(&"net.ipv4.ip_forward = 1 <- system.ip_forward".to_string()),
            "{s:#?}"
        );
        assert!(s.contains(&"net.ipv4.vs.expire_nodest_conn = 1 <- system.sysctl.\"net.ipv4.vs.expire_nodest_conn\"".to_string()), "{s:#?}");
        assert_eq!(
            Key::parse("net.ipv4.conf.eth0/100.rp_filter").proc_path(),
            PathBuf::from("/proc/sys/net/ipv4/conf/eth0.100/rp_filter")
        );
    }

    #[test]
    fn the_diff_sets_what_differs_and_names_what_the_kernel_lacks() {
        let w = wanted(&cfg(
            "[system]\nip_forward = true\n[system.sysctl]\n\"net.core.rmem_max\" = 212992\n\"net.ipv4.nope\" = 1\n",
        ));
        let live: HashMap<String, String> = [
            ("net.ipv4.ip_forward", "0"),
            ("net.core.rmem_max", "212992"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let steps = diff(&w, |k| live.get(&k.to_string()).cloned());
        let kinds: Vec<String> = steps
            .iter()
            .map(|s| match s {
                Step::Matches(w) => format!("= {}", w.key),
                Step::Set { want, from } => format!("~ {} {from} -> {}", want.key, want.value),
                Step::Missing(w) => format!("! {}", w.key),
            })
            .collect();
        assert_eq!(
            kinds,
            vec![
                "= net.core.rmem_max",
                "~ net.ipv4.ip_forward 0 -> 1",
                "! net.ipv4.nope"
            ]
        );
        // A second diff against the applied state changes nothing.
        let after = diff(&w[..1], |_| Some("212992".into()));
        assert!(matches!(after[0], Step::Matches(_)));
    }
}

//! Which `[nodes.NAME]` overlay a box takes.
//!
//! One file and one image serve both directors of a pair and the real
//! servers; each box finds itself by name (`--node`, or `pharos.node=` on the
//! kernel command line), by a MAC address of one of its interfaces, or by its
//! host name, in that order. Pure: the facts about the box are passed in.

use super::NodeDef;
use super::tree::Entry;
use super::types::MacAddr;
use crate::diag::Diagnostic;

/// What a box knows about itself at boot.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// `--node NAME` on the command line.
    pub requested: Option<String>,
    /// `pharos.node=NAME` on the kernel command line.
    pub cmdline: Option<String>,
    pub macs: Vec<MacAddr>,
    pub hostname: Option<String>,
}

impl Facts {
    /// Reads `pharos.node=` from a kernel command line.
    pub fn node_from_cmdline(cmdline: &str) -> Option<String> {
        cmdline
            .split_whitespace()
            .find_map(|w| w.strip_prefix("pharos.node="))
            .map(str::to_string)
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum Selected {
    /// This node's overlay applies; the reason says why, for the log.
    Node { name: String, reason: String },
    /// No node matched: the base config applies as it is.
    Base,
}

/// Picks the node for a box. An explicit name that the file lacks is an error.
pub fn select(defs: &[NodeDef], facts: &Facts) -> Result<Selected, String> {
    for (name, source) in [
        (&facts.requested, "--node"),
        (&facts.cmdline, "pharos.node= on the kernel command line"),
    ] {
        if let Some(name) = name {
            return if defs.iter().any(|d| &d.name == name) {
                Ok(Selected::Node {
                    name: name.clone(),
                    reason: format!("named by {source}"),
                })
            } else {
                Err(format!(
                    "node `{name}` (from {source}) is not defined in the config"
                ))
            };
        }
    }
    if let Some(d) = defs
        .iter()
        .find(|d| d.matcher.mac.is_some_and(|m| facts.macs.contains(&m)))
    {
        let mac = d.matcher.mac.map(|m| m.to_string()).unwrap_or_default();
        return Ok(Selected::Node {
            name: d.name.clone(),
            reason: format!("this box has MAC address {mac}"),
        });
    }
    if let Some(d) = defs
        .iter()
        .find(|d| d.matcher.hostname.is_some() && d.matcher.hostname == facts.hostname)
    {
        return Ok(Selected::Node {
            name: d.name.clone(),
            reason: format!(
                "this box's host name is {}",
                facts.hostname.as_deref().unwrap_or("")
            ),
        });
    }
    Ok(Selected::Base)
}

/// What a box is, as node matching sees it: `MAC addresses a, b; host
/// name h`.
pub fn describe(facts: &Facts) -> String {
    // Loopback's all-zero address says nothing about the box.
    let macs: Vec<String> = facts
        .macs
        .iter()
        .map(ToString::to_string)
        .filter(|m| m != "00:00:00:00:00:00")
        .collect();
    let macs = if macs.is_empty() {
        "no MAC address".to_string()
    } else {
        format!("MAC address {}", macs.join(", "))
    };
    match facts.hostname.as_deref().filter(|h| !h.is_empty()) {
        Some(h) => format!("{macs}; host name {h}"),
        None => format!("{macs}; no host name"),
    }
}

/// Two nodes must never match the same box.
pub(super) fn check_matchers(defs: &[NodeDef], nodes: &Entry, diags: &mut Vec<Diagnostic>) {
    let span_of = |name: &str, key: &str| {
        nodes
            .value
            .get(name)
            .and_then(|n| n.get("match"))
            .and_then(|m| m.get(key))
            .map(|v| v.span.clone())
    };
    for (i, a) in defs.iter().enumerate() {
        for b in &defs[..i] {
            let clash = [
                (
                    "mac",
                    a.matcher.mac.is_some() && a.matcher.mac == b.matcher.mac,
                ),
                (
                    "hostname",
                    a.matcher.hostname.is_some() && a.matcher.hostname == b.matcher.hostname,
                ),
            ];
            for (key, same) in clash {
                if !same {
                    continue;
                }
                let mut d = Diagnostic::error(format!(
                    "nodes `{}` and `{}` match the same {key}",
                    b.name, a.name
                ))
                .help("each box must match one node: give each node its own `match`");
                if let Some(s) = span_of(&a.name, key) {
                    d = d.at(s);
                }
                if let Some(s) = span_of(&b.name, key) {
                    d = d.related(s, "also matched here");
                }
                diags.push(d);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Selection, check_text};

    fn defs(text: &str) -> Vec<NodeDef> {
        let mut base = crate::config::tree::Node::parse(text).unwrap();
        let mut diags = Vec::new();
        let d = super::super::split_nodes(&mut base, &mut diags);
        assert!(diags.is_empty(), "{diags:?}");
        d
    }

    const PAIR: &str = r#"
[nodes.lvs1]
match = { mac = "52:54:00:00:00:01" }
[nodes.lvs2]
match = { mac = "52:54:00:00:00:02", hostname = "lvs2" }
"#;

    #[test]
    fn a_box_is_recognised_by_mac_then_hostname() {
        let d = defs(PAIR);
        let mac2 = Facts {
            macs: vec!["52:54:00:00:00:02".parse().unwrap()],
            ..Facts::default()
        };
        assert!(matches!(select(&d, &mac2), Ok(Selected::Node { name, .. }) if name == "lvs2"));
        let host = Facts {
            hostname: Some("lvs2".into()),
            ..Facts::default()
        };
        assert!(matches!(select(&d, &host), Ok(Selected::Node { name, .. }) if name == "lvs2"));
        assert_eq!(select(&d, &Facts::default()), Ok(Selected::Base));
    }

    #[test]
    fn an_explicit_name_wins_and_must_exist() {
        let d = defs(PAIR);
        let f = Facts {
            cmdline: Facts::node_from_cmdline("console=ttyS0 pharos.node=lvs1 quiet"),
            macs: vec!["52:54:00:00:00:02".parse().unwrap()],
            ..Facts::default()
        };
        assert!(matches!(select(&d, &f), Ok(Selected::Node { name, .. }) if name == "lvs1"));
        let bad = Facts {
            requested: Some("lvs9".into()),
            ..Facts::default()
        };
        assert!(select(&d, &bad).is_err());
    }

    #[test]
    fn two_nodes_matching_one_mac_is_an_error() {
        let text = "[nodes.a]\nmatch.mac = \"52:54:00:00:00:01\"\n[nodes.b]\nmatch.mac = \"52:54:00:00:00:01\"\n";
        let c = check_text(text, &Selection::All);
        assert_eq!(c.diagnostics.len(), 1, "{:?}", c.diagnostics);
        assert_eq!(
            c.diagnostics[0].message,
            "nodes `a` and `b` match the same mac"
        );
    }
}

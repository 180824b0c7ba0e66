//! The config: one TOML file, checked before anything touches the kernel.
//!
//! Owns parsing, node overlays, typing and validation of `pharos.toml`; talks
//! to nobody (pure functions of the text and, for node selection, facts about
//! the box). The runtime takes a [`Loaded`] config from here; `pharos check`
//! prints the diagnostics.
//!
//! ```text
//! text ─► tree::Node::parse ─► split off [nodes] ─► per node: base.merge(overlay)
//!      ─► de::deserialize::<Config> (prune & retry: all typing errors)
//!      ─► validate::validate (ranges, references, duplicates, LVS/VRRP rules)
//!      ─► diagnostics, deduplicated across nodes, in file order
//! ```
//!
//! A big file (`chunked::MIN_LEN` on) without `[nodes]` is first checked
//! streamed ([`check_streamed`]): each service's tables parsed and typed on
//! their own, the rest of the file as one small tree, then the same
//! validation. Its result is taken only when there is nothing to report;
//! otherwise the way above runs and places every diagnostic. The runtime
//! keeps the [`Memo`] such a load leaves: the next reload takes from it
//! every service whose text is unchanged, typed and found valid alone.

pub mod chunked;
pub mod de;
pub mod memo;
pub mod model;
pub mod nodes;
pub mod resolve;
pub mod schema;
pub mod suggest;
pub mod tree;
pub mod types;
pub mod validate;

use std::collections::{BTreeMap, HashSet};

use serde::Deserialize;

pub use memo::{Memo, Names};
pub use model::Config;
use model::{NodeMatch, Role};
use tree::{Kind, Node, Path};

use crate::diag::Diagnostic;

/// Beyond this many problems the rest is noise; we stop and say so.
const MAX_DIAGNOSTICS: usize = 200;

/// Which node overlays to check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// Every node in the file (or the base config alone if it has none).
    All,
    /// Only this node.
    Node(String),
    /// The base alone, ignoring the overlays (a box no node matches).
    Base,
}

/// A config ready to run on this box.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
    /// The node whose overlay was merged, and why it was picked.
    pub node: Option<(String, String)>,
    /// When the file has `[nodes.*]` tables and none matches this box: what
    /// the box is and which nodes the file defines, for the console. The
    /// config is then the base; `system.unmatched` says whether to run it.
    pub unmatched: Option<String>,
    pub warnings: Vec<Diagnostic>,
    /// For the next reload, when this was a big file checked the streamed
    /// way and a memo was asked for ([`load_for_box_reusing`]).
    pub memo: Option<Memo>,
    /// The services taken from the memo given: each is the same typed
    /// service as in the load that made the memo (what was worked out of
    /// it then holds for it now).
    pub unchanged: Names,
}

/// Picks this box's node (see `nodes::select`) and checks the config for it.
/// `Err` holds every diagnostic, errors and warnings.
pub fn load_for_box(text: &str, facts: &nodes::Facts) -> Result<Loaded, Vec<Diagnostic>> {
    load(text, facts, None, false)
}

/// [`load_for_box`] that takes unchanged services from `memo` (the last
/// load's) and leaves the memo of this one in [`Loaded::memo`]: what the
/// runtime does on every load, so that a reload retypes only the services
/// whose text changed. The same result as [`load_for_box`].
pub fn load_for_box_reusing(
    text: &str,
    facts: &nodes::Facts,
    memo: Option<&Memo>,
) -> Result<Loaded, Vec<Diagnostic>> {
    load(text, facts, memo, true)
}

fn load(
    text: &str,
    facts: &nodes::Facts,
    reuse: Option<&Memo>,
    keep: bool,
) -> Result<Loaded, Vec<Diagnostic>> {
    let (all, memo, unchanged) = check_text_memo(text, &Selection::Base, reuse, keep);
    if all.nodes.is_empty() && facts.requested.is_none() && facts.cmdline.is_none() {
        // No overlays and none asked for: the base is what runs, and it is
        // checked already (a second check would double the time and the
        // peak of a reload).
        let (config, warnings) = all.into_config()?;
        return Ok(Loaded {
            config,
            node: None,
            unmatched: None,
            warnings,
            memo,
            unchanged,
        });
    }
    if all.has_errors() && all.nodes.is_empty() {
        return Err(all.diagnostics);
    }
    let mut base = match Node::parse(text) {
        Ok(n) => n,
        Err(_) => return Err(check_text(text, &Selection::All).diagnostics),
    };
    let mut diags = Vec::new();
    let defs = split_nodes(&mut base, &mut diags);
    if !diags.is_empty() {
        return Err(diags);
    }
    let (selection, node) = match nodes::select(&defs, facts) {
        Ok(nodes::Selected::Node { name, reason }) => {
            (Selection::Node(name.clone()), Some((name, reason)))
        }
        Ok(nodes::Selected::Base) => (Selection::Base, None),
        Err(why) => {
            return Err(vec![Diagnostic::error(why).help(
                "name a node the file defines, or none to run the base config",
            )]);
        }
    };
    let (config, warnings) = check_text(text, &selection).into_config()?;
    let unmatched = (node.is_none() && !defs.is_empty()).then(|| {
        let names: Vec<&str> = defs.iter().map(|d| d.name.as_str()).collect();
        format!(
            "no node of the config matches this box ({}); the file defines {} {}",
            nodes::describe(facts),
            if names.len() == 1 { "node" } else { "nodes" },
            names.join(", ")
        )
    });
    Ok(Loaded {
        config,
        node,
        unmatched,
        warnings,
        memo: None,
        unchanged: Names::default(),
    })
}

/// The outcome of checking a config text.
#[derive(Debug)]
pub struct Checked {
    /// Errors and warnings, in file order.
    pub diagnostics: Vec<Diagnostic>,
    /// The node names defined in the file, in file order.
    pub nodes: Vec<String>,
    /// Each checked target's merged config (`None` = the base, no node).
    /// Present only for targets that had no errors.
    pub configs: Vec<(Option<String>, Config)>,
}

impl Checked {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    /// The one checked target's config and its warnings, or every
    /// diagnostic if there are errors.
    fn into_config(self) -> Result<(Config, Vec<Diagnostic>), Vec<Diagnostic>> {
        if self.has_errors() {
            return Err(self.diagnostics);
        }
        let config = self
            .configs
            .into_iter()
            .next()
            .map(|(_, c)| c)
            .expect("a valid check has a config");
        Ok((config, self.diagnostics))
    }
}

/// One node overlay as written: how it is matched and what it overrides.
#[derive(Debug, Clone)]
pub struct NodeDef {
    pub name: String,
    pub matcher: NodeMatch,
    pub role: Role,
    overlay: Node,
}

impl NodeDef {
    /// The base with this node's overlay merged over it.
    pub fn apply(&self, base: &Node) -> Node {
        let mut tree = base.clone();
        if self.role == Role::Realserver {
            for section in Role::DIRECTOR_SECTIONS {
                tree.take(section);
            }
        }
        tree.merge(&self.overlay);
        tree
    }
}

/// Only the `match` part of each node, typed on its own.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NodesDoc {
    nodes: BTreeMap<String, NodeHeader>,
}

#[derive(Deserialize)]
struct NodeHeader {
    #[serde(rename = "match", default)]
    matcher: NodeMatch,
    #[serde(default)]
    role: Role,
}

/// Parses, merges and validates `text` for the selected nodes.
pub fn check_text(text: &str, selection: &Selection) -> Checked {
    check_text_memo(text, selection, None, false).0
}

/// [`check_text`], taking from `reuse` and making a memo if `keep`, when
/// the file is checked the streamed way.
fn check_text_memo(
    text: &str,
    selection: &Selection,
    reuse: Option<&Memo>,
    keep: bool,
) -> (Checked, Option<Memo>, Names) {
    if text.len() >= chunked::MIN_LEN
        && !matches!(selection, Selection::Node(_))
        && let Some(s) = streamed(text, reuse, keep)
    {
        let checked = Checked {
            diagnostics: Vec::new(),
            nodes: Vec::new(),
            configs: vec![(None, s.config)],
        };
        return (checked, s.memo, s.unchanged);
    }
    (check_whole(text, selection), None, Names::default())
}

/// [`check_text`] without the streamed way for big files: the whole tree,
/// every diagnostic placed. The reference the streamed check is held to
/// (tests, the `config_check` fuzz target).
pub fn check_whole(text: &str, selection: &Selection) -> Checked {
    let mut out = Checked {
        diagnostics: Vec::new(),
        nodes: Vec::new(),
        configs: Vec::new(),
    };
    let mut base = match Node::parse(text) {
        Ok(n) => n,
        Err(errors) => {
            // The parser recovers and goes on, but one missing bracket
            // can upset the rest of its line: keep the first per line.
            let newlines: Vec<usize> = text
                .bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map(|(i, _)| i)
                .collect();
            let line_of = |e: &tree::SyntaxError| {
                e.span
                    .as_ref()
                    .map(|s| newlines.partition_point(|&n| n < s.start))
            };
            let mut seen_lines = std::collections::HashSet::new();
            out.diagnostics = errors
                .into_iter()
                .filter(|e| line_of(e).is_none_or(|l| seen_lines.insert(l)))
                .map(|e| {
                    let d = Diagnostic::error(format!("TOML syntax: {}", e.message)).help(
                        "fix the syntax first; the rest of the file is checked once it parses",
                    );
                    match e.span {
                        Some(s) => d.at(s),
                        None => d,
                    }
                })
                .collect();
            cap(&mut out.diagnostics);
            return out;
        }
    };
    // An empty file is what an interrupted copy onto a FAT stick leaves;
    // run as a config it would replace the last good one with nothing.
    if base.as_table().is_some_and(<[_]>::is_empty) {
        out.diagnostics.push(
            Diagnostic::error("the file configures nothing: it is empty, or holds only comments")
                .help(
                    "an empty pharos.toml is usually a copy that did not finish: write the config again (configs/ has an example for each setup)",
                ),
        );
        return out;
    }
    let defs = split_nodes(&mut base, &mut out.diagnostics);
    out.nodes = defs.iter().map(|d| d.name.clone()).collect();

    let targets: Vec<Option<&NodeDef>> = match selection {
        Selection::Node(name) => match defs.iter().find(|d| &d.name == name) {
            Some(d) => vec![Some(d)],
            None => {
                let known = if defs.is_empty() {
                    "the file defines no `[nodes]`".to_string()
                } else {
                    format!(
                        "the file defines {}",
                        suggest::list(&out.nodes.iter().map(String::as_str).collect::<Vec<_>>())
                    )
                };
                out.diagnostics
                    .push(Diagnostic::error(format!("there is no node `{name}`")).help(known));
                return out;
            }
        },
        Selection::All if defs.is_empty() => vec![None],
        Selection::Base => vec![None],
        Selection::All => defs.iter().map(Some).collect(),
    };

    // (diagnostic, the nodes it was found for), in order of discovery.
    let mut found: Vec<(Diagnostic, Vec<String>)> = Vec::new();
    let mut index: std::collections::HashMap<Diagnostic, usize> = std::collections::HashMap::new();
    let single = targets.len() == 1;
    for target in &targets {
        let mut tree = match target {
            Some(def) => def.apply(&base),
            // The base alone, once: taken, not copied.
            None if single => std::mem::replace(
                &mut base,
                Node {
                    span: 0..0,
                    kind: Kind::Table(Vec::new()),
                },
            ),
            None => base.clone(),
        };
        let (config, diags) = type_and_validate(&mut tree);
        let ok = !diags.iter().any(Diagnostic::is_error);
        let node_name = target.map(|d| d.name.clone());
        for d in diags {
            match index.get(&d) {
                Some(&i) => found[i].1.extend(node_name.clone()),
                None => {
                    index.insert(d.clone(), found.len());
                    found.push((d, node_name.iter().cloned().collect()));
                }
            }
        }
        if ok && let Some(c) = config {
            out.configs.push((node_name, c));
        }
    }
    for (mut d, for_nodes) in found {
        if targets.len() > 1 && for_nodes.len() < targets.len() {
            let names: Vec<&str> = for_nodes.iter().map(String::as_str).collect();
            d = d.note(format!(
                "with the overlay of node {} merged",
                suggest::list(&names)
            ));
        }
        out.diagnostics.push(d);
    }
    out.diagnostics
        .sort_by_key(|d| d.span.as_ref().map_or((0, 0), |s| (s.start, s.end)));
    cap(&mut out.diagnostics);
    out
}

/// A big file without `[nodes]`, checked a service at a time: each
/// service's tables parsed and typed on their own and their tree dropped
/// before the next, so the file's whole tree never exists (at 10,000
/// services it was 47 MB beside the typed config). `None` when the file is
/// not of that shape (`chunked::services_apart`) or has anything to say,
/// an error or a warning: the whole check then runs as for any file and
/// places every diagnostic (this path has no spans to give them).
pub fn check_streamed(text: &str) -> Option<Config> {
    streamed(text, None, false).map(|s| s.config)
}

/// [`check_streamed`] that takes from `memo` every service whose block and
/// whose file's rest are unchanged since it was made (see [`memo`]), and
/// leaves a memo of this file for the next load. The same config as
/// [`check_streamed`], or `None` where it says `None`.
pub fn check_streamed_reusing(text: &str, memo: Option<&Memo>) -> Option<(Config, Memo)> {
    let s = streamed(text, memo, true)?;
    Some((s.config, s.memo.unwrap_or_default()))
}

/// What the streamed check found.
struct Streamed {
    config: Config,
    /// The memo of this text, if asked for.
    memo: Option<Memo>,
    /// The services taken from the memo given.
    unchanged: Names,
}

fn streamed(text: &str, reuse: Option<&Memo>, keep: bool) -> Option<Streamed> {
    let apart = chunked::services_apart(text)?;
    let mut rest = Node::parse_whole(&apart.rest).ok()?;
    if rest.get("services").is_some() || rest.get("nodes").is_some() {
        return None;
    }
    let rest_hash = memo::hash(&apart.rest);
    let mut kept = keep.then(|| Memo {
        rest: rest_hash,
        services: foldhash::HashMap::with_capacity_and_hasher(
            apart.services.len(),
            Default::default(),
        ),
    });
    // Services taken from the memo: valid alone before, so only what they
    // are beside the others is checked again.
    let mut settled = Names::default();
    let mut services = BTreeMap::new();
    for (name, block) in apart.services {
        let block_hash = memo::hash(block);
        let service = match reuse.and_then(|m| m.get(rest_hash, block_hash)) {
            Some(s) => {
                settled.insert(name.clone());
                s.clone()
            }
            None => std::sync::Arc::new(type_block(&name, block)?),
        };
        if let Some(m) = &mut kept {
            m.services.insert(block_hash, service.clone());
        }
        services.insert(name, service);
    }
    if services.is_empty() {
        return None;
    }
    let typed = de::deserialize::<Config>(&mut rest);
    if !typed.problems.is_empty() {
        return None;
    }
    let mut config = typed.value?;
    config.services = services;
    let pruned = HashSet::new();
    let mut ctx = validate::Ctx::new(&rest, &[], &pruned).settled(&settled);
    validate::validate(&config, &mut ctx);
    ctx.diags.is_empty().then_some(Streamed {
        config,
        memo: kept,
        unchanged: settled,
    })
}

/// One service's block (`[services.NAME…]` tables only), typed; `None` if
/// it has anything else or anything to say.
fn type_block(name: &str, block: &str) -> Option<model::Service> {
    let mut tree = Node::parse_whole(block).ok()?;
    let mut within = tree.take("services")?.value;
    let entry = within.take(name)?;
    if tree.as_table().is_some_and(|t| !t.is_empty())
        || within.as_table().is_some_and(|t| !t.is_empty())
    {
        return None;
    }
    let mut node = entry.value;
    let typed = de::deserialize::<model::Service>(&mut node);
    if !typed.problems.is_empty() {
        return None;
    }
    typed.value
}

fn cap(diags: &mut Vec<Diagnostic>) {
    if diags.len() > MAX_DIAGNOSTICS {
        let more = diags.len() - MAX_DIAGNOSTICS;
        // The summary is an error only if one is among those cut: a file
        // with only warnings past the cap is still valid.
        let error = diags[MAX_DIAGNOSTICS..].iter().any(Diagnostic::is_error);
        diags.truncate(MAX_DIAGNOSTICS);
        let summary = format!("{more} more problems not shown");
        let d = if error {
            Diagnostic::error(summary)
        } else {
            Diagnostic::warning(summary)
        };
        diags.push(d.help("fix the ones above and check again"));
    }
}

/// Types one merged tree and validates the result.
fn type_and_validate(tree: &mut Node) -> (Option<Config>, Vec<Diagnostic>) {
    let typed = de::deserialize::<Config>(tree);
    let mut diags: Vec<Diagnostic> = typed
        .problems
        .iter()
        .map(|p| {
            Diagnostic::error(p.message.clone())
                .at(p.span.clone())
                .help_opt(p.help.clone())
        })
        .collect();
    if let Some(cfg) = &typed.value {
        // Unknown keys leave the typed value as written; only pruned
        // values were replaced by defaults that could mislead the checks.
        let broken: Vec<Path> = typed.pruned.iter().cloned().collect();
        let mut ctx = validate::Ctx::new(tree, &broken, &typed.pruned);
        validate::validate(cfg, &mut ctx);
        diags.extend(ctx.diags);
    }
    (typed.value, diags)
}

/// Takes `[nodes]` out of the base tree and types each node's `match`.
fn split_nodes(base: &mut Node, diags: &mut Vec<Diagnostic>) -> Vec<NodeDef> {
    let Some(entry) = base.take("nodes") else {
        return Vec::new();
    };
    let Kind::Table(entries) = &entry.value.kind else {
        diags.push(
            Diagnostic::error(format!(
                "expected a table, found {}",
                entry.value.kind.type_name()
            ))
            .at(entry.value.span.clone())
            .help("write node overlays as `[nodes.NAME]` tables"),
        );
        return Vec::new();
    };
    // Type the `match` tables on their own, under their real paths.
    let mut headers = Node {
        span: 0..0,
        kind: Kind::Table(vec![tree::Entry {
            key: "nodes".into(),
            key_span: entry.key_span.clone(),
            value: Node {
                span: entry.value.span.clone(),
                kind: Kind::Table(
                    entries
                        .iter()
                        .map(|e| tree::Entry {
                            key: e.key.clone(),
                            key_span: e.key_span.clone(),
                            value: Node {
                                span: e.value.span.clone(),
                                kind: match &e.value.kind {
                                    Kind::Table(t) => Kind::Table(
                                        t.iter()
                                            .filter(|x| x.key == "match" || x.key == "role")
                                            .cloned()
                                            .collect(),
                                    ),
                                    other => other.clone(),
                                },
                            },
                        })
                        .collect(),
                ),
            },
        }]),
    };
    let typed = de::deserialize::<NodesDoc>(&mut headers);
    for p in &typed.problems {
        diags.push(
            Diagnostic::error(p.message.clone())
                .at(p.span.clone())
                .help_opt(p.help.clone()),
        );
    }
    let matchers = typed.value.map(|d| d.nodes).unwrap_or_default();
    let mut defs = Vec::new();
    for e in entries {
        if !matches!(e.value.kind, Kind::Table(_)) {
            continue; // reported by the typing above
        }
        let mut overlay = e.value.clone();
        overlay.take("match");
        overlay.take("role");
        if let Some(nested) = overlay.take("nodes") {
            diags.push(
                Diagnostic::error("node overlays cannot define nodes")
                    .at(nested.key_span)
                    .help("move this `[nodes...]` table to the top level"),
            );
        }
        let Some(h) = matchers.get(&e.key) else {
            continue;
        };
        defs.push(NodeDef {
            name: e.key.clone(),
            matcher: h.matcher.clone(),
            role: h.role,
            overlay,
        });
    }
    nodes::check_matchers(&defs, &entry, diags);
    defs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages(c: &Checked) -> Vec<String> {
        c.diagnostics.iter().map(|d| d.message.clone()).collect()
    }

    /// The streamed check gives the whole check's config for what it
    /// takes, and leaves to it every file with something to say.
    #[test]
    fn a_memo_gives_the_check_there_would_be_without_it() {
        let svc = |name: &str, last: u8, weight: u8| {
            format!(
                "[services.{name}]\naddress = \"10.0.0.{last}:80\"\nforwarding = \"dr\"\nvrrp = \"V\"\n\n[services.{name}.real_servers]\n\"10.1.0.1:80\" = {{ weight = {weight} }}\n[services.{name}.check]\ntype = \"tcp\"\n"
            )
        };
        let vrrp = "[vrrp.V]\ninterface = \"eth0\"\nvrid = 1\npriority = 100\nvirtual_addresses = [\"10.0.0.1/24\", \"10.0.0.2/24\", \"10.0.0.3/24\"]\n[interfaces.eth0]\n";
        let track = "[vrrp.V.track.services.b]\n";
        let before = format!("{vrrp}{track}{}{}", svc("a", 1, 1), svc("b", 2, 1));
        let (config, memo) = check_streamed_reusing(&before, None).expect("streamed");
        assert_eq!(Some(config), check_streamed(&before));
        assert_eq!(memo.len(), 2);
        for after in [
            // A real server's weight; a service added; nothing.
            format!("{vrrp}{track}{}{}", svc("a", 1, 1), svc("b", 2, 3)),
            format!(
                "{vrrp}{track}{}{}{}",
                svc("a", 1, 1),
                svc("b", 2, 1),
                svc("c", 3, 1)
            ),
            before.clone(),
            // The rest changed: nothing is taken from the memo.
            format!(
                "[system]\nip_forward = true\n{vrrp}{track}{}{}",
                svc("a", 1, 1),
                svc("b", 2, 1)
            ),
            // Unchanged services that are wrong beside the others now: the
            // same VIP as a changed one, a tracked service gone, the VRRP
            // instance they name gone.
            format!("{vrrp}{track}{}{}", svc("a", 1, 1), svc("b", 1, 1)),
            format!("{vrrp}{track}{}{}", svc("a", 2, 5), svc("b", 2, 1)),
            format!("{vrrp}{track}{}", svc("a", 1, 1)),
            format!("[interfaces.eth0]\n{}{}", svc("a", 1, 1), svc("b", 2, 1)),
        ] {
            let plain = check_streamed(&after);
            let reusing = check_streamed_reusing(&after, Some(&memo));
            assert_eq!(reusing.as_ref().map(|(c, _)| c), plain.as_ref(), "{after}");
            // The memo it leaves is the one a load without a memo leaves.
            if let Some((_, left)) = reusing {
                let (_, fresh) = check_streamed_reusing(&after, None).expect("streamed");
                assert_eq!(left.rest, fresh.rest);
                assert_eq!(left.services, fresh.services, "{after}");
            }
        }
    }

    #[test]
    fn the_streamed_check_is_the_whole_check_or_none() {
        let svc = |name: &str, last: u8| {
            format!(
                "[services.{name}]\naddress = \"10.0.0.{last}:80\"\nforwarding = \"dr\"\n\n[services.{name}.real_servers]\n\"10.1.0.1:80\" = {{ weight = 2 }}\n\"10.1.0.2:80\" = {{}}\n[services.{name}.check]\ntype = \"tcp\"\n"
            )
        };
        let vrrp = "[vrrp.V]\ninterface = \"eth0\"\nvrid = 1\npriority = 100\nvirtual_addresses = [\"10.0.0.1/24\"]\n[interfaces.eth0]\n";
        let same = [
            format!("{}{}", svc("a", 1), svc("b", 2)),
            format!(
                "[system]\nip_forward = true\n{}{vrrp}{}",
                svc("a", 1),
                svc("\"b c\"", 2)
            ),
            format!("{vrrp}{}[control]\n{}", svc("a", 1), svc("b", 2)),
        ];
        for text in &same {
            let whole = check_whole(text, &Selection::All);
            assert!(
                whole.diagnostics.is_empty(),
                "{text}: {:?}",
                messages(&whole)
            );
            let streamed = check_streamed(text).unwrap_or_else(|| panic!("not streamed: {text}"));
            assert_eq!(streamed, whole.configs[0].1, "{text}");
        }
        let left = [
            // A service's tables apart, or the same service twice.
            format!(
                "{}{}[services.a.check]\ntype = \"tcp\"\n",
                svc("a", 1),
                svc("b", 2)
            ),
            format!("{}{}", svc("a", 1), svc("a", 2)),
            // Services written under a `[services]` header or as dotted keys.
            format!("[services]\n{}", svc("a", 1)),
            format!("services.x.fwmark = 1\n{}", svc("a", 1)),
            // Errors and warnings: typing, validation, a key unknown.
            format!("{}{}", svc("a", 1), svc("b", 1)),
            format!("{}[services.b]\naddress = 5\n", svc("a", 1)),
            format!(
                "{}[services.b]\naddress = \"10.0.0.2:80\"\nforwarding = \"dr\"\n",
                svc("a", 1)
            ),
            format!("{}[sytem]\n", svc("a", 1)),
            format!(
                "{}[services.b.real_servers]\n\"10.1.0.1:80\" = {{ wieght = 1 }}\n",
                svc("a", 1)
            ),
            // Nodes, and nothing but services apart from them.
            format!("{}[nodes.n.match]\nhostname = \"n\"\n", svc("a", 1)),
            "[system]\n".to_string(),
        ];
        for text in &left {
            assert_eq!(check_streamed(text), None, "{text}");
        }
    }

    #[test]
    fn a_minimal_file_is_valid() {
        let c = check_text("[system]\n", &Selection::All);
        assert!(c.diagnostics.is_empty(), "{:?}", c.diagnostics);
        assert_eq!(c.configs.len(), 1);
    }

    #[test]
    fn warnings_past_the_cap_leave_the_file_valid() {
        let text: String = (1..=MAX_DIAGNOSTICS + 5)
            .map(|v| {
                format!(
                    "[vrrp.V{v}]\ninterface = \"eth9\"\nvrid = {v}\nvirtual_addresses = [\"10.0.0.{v}\"]\n"
                )
            })
            .collect();
        let c = check_text(&text, &Selection::All);
        assert_eq!(c.diagnostics.len(), MAX_DIAGNOSTICS + 1);
        assert!(!c.has_errors(), "{:?}", c.diagnostics.last());
        assert_eq!(c.configs.len(), 1);
    }

    #[test]
    fn a_file_that_configures_nothing_is_an_error() {
        for text in ["", " \n\t\n", "# only a comment\n\n# and another\n"] {
            let c = check_text(text, &Selection::All);
            assert_eq!(
                messages(&c),
                ["the file configures nothing: it is empty, or holds only comments"],
                "{text:?}"
            );
            assert!(c.has_errors() && c.configs.is_empty());
        }
    }

    #[test]
    fn overlay_errors_point_into_the_overlay_and_name_the_node() {
        let text = r#"
[vrrp.VI_1]
interface = "lo"
vrid = 51
virtual_addresses = ["10.0.0.1/24"]

[nodes.a]
vrrp.VI_1.priority = 300

[nodes.b]
vrrp.VI_1.priority = 50
"#;
        let c = check_text(text, &Selection::All);
        assert_eq!(messages(&c), vec!["priority 300 is out of range"]);
        let d = &c.diagnostics[0];
        assert_eq!(&text[d.span.clone().unwrap()], "300");
        assert_eq!(d.notes, vec!["with the overlay of node `a` merged"]);
        assert_eq!(c.configs.len(), 1, "node b is valid");
    }

    #[test]
    fn base_errors_are_reported_once_for_all_nodes() {
        let text = "[system]\nhostnme = \"x\"\n[nodes.a]\n[nodes.b]\n";
        let c = check_text(text, &Selection::All);
        assert_eq!(messages(&c), vec!["unknown key `hostnme` in `system`"]);
        assert!(c.diagnostics[0].notes.is_empty());
    }

    #[test]
    fn a_realserver_node_drops_the_director_sections() {
        let text = r#"
[vrrp.VI_1]
interface = "lo"
vrid = 51
virtual_addresses = ["10.0.0.1/24"]
[nodes.rs1]
role = "realserver"
realserver.dr.vips = ["10.0.0.1"]
[nodes.lvs1]
"#;
        let c = check_text(text, &Selection::All);
        assert!(!c.has_errors(), "{:?}", c.diagnostics);
        let rs1 = &c
            .configs
            .iter()
            .find(|(n, _)| n.as_deref() == Some("rs1"))
            .unwrap()
            .1;
        assert!(rs1.vrrp.is_empty() && rs1.realserver.is_some());
        let lvs1 = &c
            .configs
            .iter()
            .find(|(n, _)| n.as_deref() == Some("lvs1"))
            .unwrap()
            .1;
        assert_eq!(lvs1.vrrp.len(), 1);
    }

    #[test]
    fn an_unknown_node_is_an_error() {
        let c = check_text("[nodes.a]\n", &Selection::Node("b".into()));
        assert_eq!(messages(&c), vec!["there is no node `b`"]);
    }
}

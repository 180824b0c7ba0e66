//! The state the rules share: the merged tree (for spans), what failed
//! typing, and the diagnostics collected so far, with the helpers every
//! rule reports through (errors, warnings, dangling references, undeclared
//! interfaces).
//!
//! Talks to: the config tree (spans), `suggest` (did-you-mean help) and
//! `diag` (the diagnostics it builds). Every rule file uses it.

use std::collections::HashSet;
use std::ops::Range;

use crate::config::model::Config;
use crate::config::tree::{Node, Path};
use crate::config::types::IfName;
use crate::diag::Diagnostic;
use crate::path;

pub struct Ctx<'a> {
    pub(super) tree: &'a Node,
    /// Paths that failed typing; checks of what lies under them are skipped.
    broken: &'a [Path],
    /// Named things removed because they failed typing; references to them
    /// are not reported as dangling.
    pruned: &'a HashSet<Path>,
    /// Services already found valid alone in this file's context (taken
    /// from `config::Memo`): their own rules are not run again.
    settled: Option<&'a crate::config::Names>,
    pub diags: Vec<Diagnostic>,
}

impl<'a> Ctx<'a> {
    pub fn new(tree: &'a Node, broken: &'a [Path], pruned: &'a HashSet<Path>) -> Self {
        Ctx {
            tree,
            broken,
            pruned,
            settled: None,
            diags: Vec::new(),
        }
    }

    /// Skips the rules of these services alone (see `settled`).
    pub fn settled(mut self, services: &'a crate::config::Names) -> Self {
        self.settled = Some(services);
        self
    }

    pub(super) fn is_settled(&self, service: &str) -> bool {
        self.settled.is_some_and(|s| s.contains(service))
    }

    /// The span of the value at `p`, or of the nearest ancestor's key when
    /// the value was not written (a default).
    pub(super) fn span(&self, p: &Path) -> Range<usize> {
        let mut p = p.clone();
        let mut first = true;
        loop {
            if let Some((node, key)) = self.tree.lookup(&p) {
                return match (first, key, node.as_table()) {
                    // A table value spans a whole section; point at its name.
                    (_, Some(k), Some(_)) => k,
                    (true, _, _) => node.span.clone(),
                    (false, Some(k), _) => k,
                    (false, None, _) => node.span.clone(),
                };
            }
            first = false;
            match p.parent() {
                Some(parent) => p = parent,
                None => return 0..0,
            }
        }
    }

    /// The span of the key that names `p` (falls back like [`Self::span`]).
    pub(super) fn key_span(&self, p: &Path) -> Range<usize> {
        match self.tree.lookup(p) {
            Some((_, Some(k))) => k,
            _ => self.span(p),
        }
    }

    /// Warns when `name` is not declared under `[interfaces]` or `[tunnels]`:
    /// pharos can only manage, and find typos in, what it knows of.
    pub(super) fn declared(&mut self, cfg: &Config, p: &Path, what: &str, name: &IfName) {
        if name.as_str() == "lo"
            || cfg.interfaces.contains_key(name)
            || cfg.tunnels.contains_key(name)
        {
            return;
        }
        let known = cfg
            .interfaces
            .keys()
            .chain(cfg.tunnels.keys())
            .map(IfName::as_str);
        let help = match crate::config::suggest::closest(name.as_str(), known) {
            Some(c) => {
                format!("did you mean `{c}`? Otherwise it must exist on the box when pharos starts")
            }
            None => format!(
                "it must exist on the box when pharos starts; declare `[interfaces.{name}]` to have pharos manage it"
            ),
        };
        self.warn(
            p,
            format!("{what} `{name}` is not declared under `[interfaces]`"),
            help,
        );
    }

    /// Whether anything failed typing (most files: nothing, and no path
    /// need be made to ask about it).
    pub(super) fn any_broken(&self) -> bool {
        !self.broken.is_empty()
    }

    pub(super) fn is_broken(&self, p: &Path) -> bool {
        self.broken.iter().any(|b| b.starts_with(p))
    }

    pub(super) fn error(&mut self, p: &Path, msg: impl Into<String>, help: impl Into<String>) {
        let d = Diagnostic::error(msg).at(self.span(p)).help(help);
        self.diags.push(d);
    }

    pub(super) fn error_key(&mut self, p: &Path, msg: impl Into<String>, help: impl Into<String>) {
        let d = Diagnostic::error(msg).at(self.key_span(p)).help(help);
        self.diags.push(d);
    }

    pub(super) fn warn(&mut self, p: &Path, msg: impl Into<String>, help: impl Into<String>) {
        let d = Diagnostic::warning(msg).at(self.span(p)).help(help);
        self.diags.push(d);
    }

    /// A reference to a named table that does not exist, unless it was
    /// removed for its own errors.
    pub(super) fn dangling<'k>(
        &mut self,
        at: &Path,
        table: &str,
        name: &str,
        known: impl Iterator<Item = &'k str>,
    ) -> bool {
        if self.pruned.contains(&path![table, name]) {
            return false;
        }
        let known: Vec<&str> = known.collect();
        let help = match crate::config::suggest::closest(name, known.iter().copied()) {
            Some(c) => format!("did you mean `{c}`?"),
            None if known.is_empty() => {
                format!("there is no `[{table}]` table; define `[{table}.{name}]`")
            }
            None => format!(
                "define `[{table}.{name}]`, or use one of {}",
                crate::config::suggest::list(&known)
            ),
        };
        self.error(at, format!("`{name}` is not defined in `[{table}]`"), help);
        true
    }
}

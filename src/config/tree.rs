//! A TOML document as a tree in which every key and value keeps its byte
//! span in the source file.
//!
//! Why our own tree rather than `toml::Value`: node overlays are merged here,
//! before typing, so a value that came from `[nodes.lvs1]` keeps the span of
//! the overlay's line and its errors point there; and the collecting
//! deserializer (`de.rs`) prunes failing nodes from this tree to find every
//! error in one run.

use std::ops::Range;

use toml::de::{DeTable, DeValue};

/// Byte range into the source text.
pub type Span = Range<usize>;

/// One step of a path from the document root to a node.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Seg {
    Key(String),
    Index(usize),
}

impl std::fmt::Display for Seg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Seg::Key(k) if is_bare_key(k) => write!(f, "{k}"),
            Seg::Key(k) => write!(f, "{k:?}"),
            Seg::Index(i) => write!(f, "[{i}]"),
        }
    }
}

fn is_bare_key(k: &str) -> bool {
    !k.is_empty()
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// A path from the root, e.g. `vrrp.VI_1.priority` or `routes.default.via`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Path(pub Vec<Seg>);

impl Path {
    pub fn root() -> Self {
        Path(Vec::new())
    }
    /// Appends a table key.
    pub fn k(&self, key: impl Into<String>) -> Self {
        let mut p = self.clone();
        p.0.push(Seg::Key(key.into()));
        p
    }
    /// Appends an array index.
    pub fn i(&self, index: usize) -> Self {
        let mut p = self.clone();
        p.0.push(Seg::Index(index));
        p
    }
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }
    pub fn parent(&self) -> Option<Path> {
        let mut p = self.clone();
        p.0.pop()?;
        Some(p)
    }
    pub fn starts_with(&self, prefix: &Path) -> bool {
        self.0.starts_with(&prefix.0)
    }
}

impl std::fmt::Display for Path {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (n, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Key(_) if n > 0 => write!(f, ".{seg}")?,
                _ => write!(f, "{seg}")?,
            }
        }
        Ok(())
    }
}

/// Builds a [`Path`] from keys: `path!["vrrp", name, "vrid"]`.
#[macro_export]
macro_rules! path {
    ($($seg:expr),* $(,)?) => {{
        let p = $crate::config::tree::Path::root();
        $(let p = p.k($seg);)*
        p
    }};
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub span: Span,
    pub kind: Kind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Table(Vec<Entry>),
    Array(Vec<Node>),
    String(String),
    Integer(i64),
    Float(f64),
    Bool(bool),
    /// Kept as written; no pharos setting takes a date.
    Datetime(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: String,
    pub key_span: Span,
    pub value: Node,
}

/// A syntax problem found while building the tree.
#[derive(Debug, Clone)]
pub struct SyntaxError {
    pub span: Option<Span>,
    pub message: String,
}

impl Kind {
    /// The TOML name of this kind of value, for messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Kind::Table(_) => "a table",
            Kind::Array(_) => "an array",
            Kind::String(_) => "a string",
            Kind::Integer(_) => "an integer",
            Kind::Float(_) => "a float",
            Kind::Bool(_) => "a boolean",
            Kind::Datetime(_) => "a date-time",
        }
    }
}

impl Node {
    /// Parses a TOML document. Every syntax error the parser can recover
    /// from is returned, not just the first.
    pub fn parse(text: &str) -> Result<Node, Vec<SyntaxError>> {
        // A big file a table at a time, so the parser's tokens and tables
        // never exist for all of it at once; anything the fast way is not
        // sure of (and every error) goes the whole way below.
        if text.len() >= super::chunked::MIN_LEN
            && let Some(node) = super::chunked::parse(text)
        {
            return Ok(node);
        }
        Self::parse_whole(text)
    }

    /// Parses the document in one go (the reference for
    /// `chunked::parse`, and the source of every syntax error).
    pub fn parse_whole(text: &str) -> Result<Node, Vec<SyntaxError>> {
        let (table, errors) = DeTable::parse_recoverable(text);
        let mut problems: Vec<SyntaxError> = errors
            .into_iter()
            .map(|e| SyntaxError {
                span: e.span(),
                message: e.message().trim().to_string(),
            })
            .collect();
        let span = 0..text.len();
        let node = Node {
            span,
            kind: Kind::Table(convert_table(table.into_inner(), 0, &mut problems)),
        };
        if problems.is_empty() {
            Ok(node)
        } else {
            Err(problems)
        }
    }

    pub fn as_table(&self) -> Option<&[Entry]> {
        match &self.kind {
            Kind::Table(t) => Some(t),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::String(s) => Some(s),
            _ => None,
        }
    }

    /// The entry for `key` in this table.
    pub fn entry(&self, key: &str) -> Option<&Entry> {
        self.as_table()?.iter().find(|e| e.key == key)
    }

    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|e| &e.value)
    }

    /// Follows a path. Returns the node and, when the last step was a table
    /// key, that key's span.
    pub fn lookup(&self, path: &Path) -> Option<(&Node, Option<Span>)> {
        let mut node = self;
        let mut key_span = None;
        for seg in &path.0 {
            match (seg, &node.kind) {
                (Seg::Key(k), Kind::Table(t)) => {
                    let e = t.iter().find(|e| &e.key == k)?;
                    key_span = Some(e.key_span.clone());
                    node = &e.value;
                }
                (Seg::Index(i), Kind::Array(a)) => {
                    node = a.get(*i)?;
                    key_span = None;
                }
                _ => return None,
            }
        }
        Some((node, key_span))
    }

    /// Removes the node at `path`. Returns whether something was removed.
    pub fn remove(&mut self, path: &Path) -> bool {
        let Some((last, parent)) = path.0.split_last() else {
            return false;
        };
        let mut node = self;
        for seg in parent {
            let next = match (seg, &mut node.kind) {
                (Seg::Key(k), Kind::Table(t)) => {
                    t.iter_mut().find(|e| &e.key == k).map(|e| &mut e.value)
                }
                (Seg::Index(i), Kind::Array(a)) => a.get_mut(*i),
                _ => None,
            };
            match next {
                Some(n) => node = n,
                None => return false,
            }
        }
        match (last, &mut node.kind) {
            (Seg::Key(k), Kind::Table(t)) => {
                let before = t.len();
                t.retain(|e| &e.key != k);
                t.len() != before
            }
            (Seg::Index(i), Kind::Array(a)) if *i < a.len() => {
                a.remove(*i);
                true
            }
            _ => false,
        }
    }

    /// Takes the entry `key` out of this table.
    pub fn take(&mut self, key: &str) -> Option<Entry> {
        match &mut self.kind {
            Kind::Table(t) => {
                let pos = t.iter().position(|e| e.key == key)?;
                Some(t.remove(pos))
            }
            _ => None,
        }
    }

    /// Deep-merges `overlay` over `self`: tables merge key by key, anything
    /// else (scalars and arrays) is replaced by the overlay's value, which
    /// keeps the overlay's span.
    pub fn merge(&mut self, overlay: &Node) {
        match (&mut self.kind, &overlay.kind) {
            (Kind::Table(base), Kind::Table(over)) => {
                for oe in over {
                    match base.iter_mut().find(|e| e.key == oe.key) {
                        Some(be) => be.value.merge(&oe.value),
                        None => base.push(oe.clone()),
                    }
                }
            }
            _ => *self = overlay.clone(),
        }
    }
}

/// `table` as entries, its spans moved by `off` (where the text it was
/// parsed from starts in the file).
pub(super) fn convert_table(
    table: DeTable<'_>,
    off: usize,
    problems: &mut Vec<SyntaxError>,
) -> Vec<Entry> {
    table
        .into_iter()
        .map(|(k, v)| {
            let key_span = shift(k.span(), off);
            let value = convert_value(v, off, problems);
            Entry {
                key: k.into_inner().into_owned(),
                key_span,
                value,
            }
        })
        .collect()
}

fn shift(span: Span, off: usize) -> Span {
    span.start + off..span.end + off
}

fn convert_value(
    v: toml::Spanned<DeValue<'_>>,
    off: usize,
    problems: &mut Vec<SyntaxError>,
) -> Node {
    let span = shift(v.span(), off);
    let kind = match v.into_inner() {
        DeValue::String(s) => Kind::String(s.into_owned()),
        DeValue::Integer(i) => match i64::from_str_radix(i.as_str(), i.radix()) {
            Ok(n) => Kind::Integer(n),
            Err(_) => {
                problems.push(SyntaxError {
                    span: Some(span.clone()),
                    message: "integer does not fit in 64 bits".into(),
                });
                Kind::Integer(0)
            }
        },
        DeValue::Float(f) => match f.as_str().parse::<f64>() {
            Ok(x) => Kind::Float(x),
            Err(_) => {
                problems.push(SyntaxError {
                    span: Some(span.clone()),
                    message: "invalid float".into(),
                });
                Kind::Float(0.0)
            }
        },
        DeValue::Boolean(b) => Kind::Bool(b),
        DeValue::Datetime(d) => Kind::Datetime(d.to_string()),
        DeValue::Array(a) => Kind::Array(
            a.into_iter()
                .map(|v| convert_value(v, off, problems))
                .collect(),
        ),
        DeValue::Table(t) => Kind::Table(convert_table(t, off, problems)),
    };
    Node { span, kind }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_point_at_keys_and_values() {
        let text = "[vrrp.VI_1]\nvrid = 51\n";
        let root = Node::parse(text).unwrap();
        let (node, key) = root.lookup(&path!["vrrp", "VI_1", "vrid"]).unwrap();
        assert_eq!(&text[node.span.clone()], "51");
        assert_eq!(&text[key.unwrap()], "vrid");
    }

    #[test]
    fn overlay_merges_tables_and_replaces_arrays_keeping_overlay_spans() {
        let base = "[a]\nx = 1\nlist = [1, 2]\n[a.t]\ny = 2\n";
        let over = "[a]\nlist = [3]\n[a.t]\nz = 4\n";
        let mut b = Node::parse(base).unwrap();
        let o = Node::parse(over).unwrap();
        b.merge(&o);
        let (list, _) = b.lookup(&path!["a", "list"]).unwrap();
        assert_eq!(&over[list.span.clone()], "[3]");
        assert!(b.lookup(&path!["a", "x"]).is_some());
        assert!(b.lookup(&path!["a", "t", "y"]).is_some());
        assert!(b.lookup(&path!["a", "t", "z"]).is_some());
    }

    #[test]
    fn several_syntax_errors_are_all_reported() {
        let errs = Node::parse("a = \nb = [1,\n[c\n").unwrap_err();
        assert!(errs.len() >= 2, "{errs:?}");
    }

    #[test]
    fn remove_prunes_keys_and_array_elements() {
        let mut n = Node::parse("a = [1, 2]\nb = 3\n").unwrap();
        assert!(n.remove(&Path::root().k("a").i(0)));
        assert!(n.remove(&path!["b"]));
        assert!(n.get("b").is_none());
        assert_eq!(
            n.get("a").map(|a| a.kind.clone()),
            Some(Kind::Array(vec![Node {
                span: 8..9,
                kind: Kind::Integer(2)
            }]))
        );
    }
}

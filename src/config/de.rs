//! A serde deserializer over the spanned [`Node`] tree that finds every
//! problem in one run, not just the first.
//!
//! serde stops at the first error, so this runs the typed deserialization in
//! a loop: each run records the problem that stopped it (with the span and
//! path of the failing node), the failing node is pruned from the tree, and
//! the next run goes on past it. Unknown keys are recorded and skipped without
//! stopping the run. A required key that is missing only because its value was
//! pruned is not reported again; the table that needed it is pruned in turn.
//! Each run removes at least one node, so the loop ends.

use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt;

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, EnumAccess, IntoDeserializer, MapAccess, SeqAccess,
    Visitor,
};

use super::suggest;
use super::tree::{Entry, Kind, Node, Path, Seg, Span};

/// A problem found while typing the tree.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Problem {
    pub path: Path,
    pub span: Span,
    pub message: String,
    pub help: Option<String>,
}

impl Problem {
    /// Splits a message of the form `what\nhelp: hint` in two.
    pub fn new(path: Path, span: Span, text: &str) -> Self {
        let (message, help) = split_help(text);
        Problem {
            path,
            span,
            message,
            help,
        }
    }
}

/// Messages made by our types carry their hint after `\nhelp: `.
pub fn split_help(text: &str) -> (String, Option<String>) {
    match text.split_once("\nhelp: ") {
        Some((m, h)) => (m.to_string(), Some(h.to_string())),
        None => (text.to_string(), None),
    }
}

/// The error type threaded through serde.
#[derive(Debug)]
pub enum DeError {
    /// Already recorded in the sink with its span.
    Reported,
    /// Raised by a visitor or a `Deserialize` impl; not yet placed.
    Custom(String),
    /// A required field was absent.
    Missing(&'static str),
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeError::Reported => f.write_str("(reported)"),
            DeError::Custom(m) => f.write_str(m),
            DeError::Missing(k) => write!(f, "missing required key `{k}`"),
        }
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError::Custom(msg.to_string())
    }

    fn invalid_type(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        DeError::Custom(format!(
            "expected {}, found {}",
            toml_expected(&exp.to_string()),
            toml_unexpected(&unexp)
        ))
    }

    fn invalid_value(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        DeError::Custom(format!(
            "invalid value {}: expected {}",
            toml_unexpected(&unexp),
            toml_expected(&exp.to_string())
        ))
    }

    fn missing_field(field: &'static str) -> Self {
        DeError::Missing(field)
    }
}

/// serde speaks of maps, sequences and Rust integer types; users wrote TOML.
fn toml_expected(exp: &str) -> String {
    if exp.starts_with("struct ") || exp == "a map" || exp == "map" {
        return "a table".into();
    }
    if exp.contains("sequence") {
        return "an array".into();
    }
    match exp {
        "u8" => "an integer from 0 to 255".into(),
        "u16" => "an integer from 0 to 65535".into(),
        "u32" => "an integer from 0 to 4294967295".into(),
        "u64" | "i64" | "i32" | "usize" => "an integer".into(),
        "f64" | "f32" => "a number".into(),
        _ => exp.to_string(),
    }
}

fn toml_unexpected(u: &de::Unexpected<'_>) -> String {
    use de::Unexpected as U;
    match u {
        U::Bool(b) => format!("boolean `{b}`"),
        U::Signed(n) => format!("integer `{n}`"),
        U::Unsigned(n) => format!("integer `{n}`"),
        U::Float(x) => format!("float `{x}`"),
        U::Str(s) => format!("string {s:?}"),
        U::Map => "a table".into(),
        U::Seq => "an array".into(),
        other => other.to_string(),
    }
}

struct Sink<'p> {
    problems: Vec<Problem>,
    /// The node whose failure stopped this run; pruned before the next.
    fatal: Option<Path>,
    pruned: &'p HashSet<Path>,
}

/// At most this many failing nodes are pruned before typing gives up.
const MAX_RUNS: usize = 250;

/// Outcome of [`deserialize`].
pub struct Typed<T> {
    /// `None` only when the document root itself could not be typed.
    pub value: Option<T>,
    pub problems: Vec<Problem>,
    /// Paths removed from the tree because they failed; validation uses this
    /// to avoid reporting a reference to something already reported broken.
    pub pruned: HashSet<Path>,
}

/// Deserializes `T` from `tree`, pruning failing nodes until it succeeds.
/// `tree` is left with the failing nodes removed.
pub fn deserialize<T: DeserializeOwned>(tree: &mut Node) -> Typed<T> {
    let mut problems: Vec<Problem> = Vec::new();
    let mut seen: HashSet<Problem> = HashSet::new();
    let mut pruned = HashSet::new();
    loop {
        // Each run costs a pass over the tree; a file with thousands of
        // broken values is not worth thousands of passes.
        if pruned.len() >= MAX_RUNS {
            problems.push(Problem::new(
                Path::root(),
                0..0,
                &format!("stopped after {MAX_RUNS} broken values\nhelp: fix these and check again to see the rest"),
            ));
            return Typed {
                value: None,
                problems,
                pruned,
            };
        }
        let sink = RefCell::new(Sink {
            problems: Vec::new(),
            fatal: None,
            pruned: &pruned,
        });
        let root = NodeDe {
            node: tree,
            at: At::Root,
            key_span: None,
            sink: &sink,
        };
        let result = root.finish(T::deserialize(root.clone()));
        let Sink {
            problems: new,
            fatal,
            ..
        } = sink.into_inner();
        for p in new {
            if seen.insert(p.clone()) {
                problems.push(p);
            }
        }
        match (result, fatal) {
            (Ok(v), _) => {
                return Typed {
                    value: Some(v),
                    problems,
                    pruned,
                };
            }
            (Err(_), Some(path)) if !path.is_root() && tree.remove(&path) => {
                pruned.insert(path);
            }
            (Err(_), _) => {
                return Typed {
                    value: None,
                    problems,
                    pruned,
                };
            }
        }
    }
}

/// Where a node is, as a chain of borrowed links to its parents: a
/// [`Path`] is made of it only for a problem to report. Typing 10,000
/// services made and copied a path of owned strings for every node (and
/// again for each clone of its deserializer): a tenth of the check.
#[derive(Clone, Copy)]
enum At<'a> {
    Root,
    Key(&'a At<'a>, &'a str),
    Index(&'a At<'a>, usize),
}

impl At<'_> {
    fn path(&self) -> Path {
        let mut segs = Vec::new();
        let mut at = self;
        loop {
            match at {
                At::Root => break,
                At::Key(up, k) => {
                    segs.push(Seg::Key((*k).to_string()));
                    at = up;
                }
                At::Index(up, i) => {
                    segs.push(Seg::Index(*i));
                    at = up;
                }
            }
        }
        segs.reverse();
        Path(segs)
    }
}

#[derive(Clone)]
struct NodeDe<'a, 'p> {
    node: &'a Node,
    at: At<'a>,
    /// The span of the key naming this node, if it has one.
    key_span: Option<Span>,
    sink: &'a RefCell<Sink<'p>>,
}

impl<'a, 'p> NodeDe<'a, 'p> {
    fn record(&self, span: Span, text: &str) -> DeError {
        let path = self.at.path();
        let mut sink = self.sink.borrow_mut();
        sink.problems.push(Problem::new(path.clone(), span, text));
        sink.fatal = Some(path);
        DeError::Reported
    }

    /// Places an error raised while typing this node.
    fn finish<T>(&self, r: Result<T, DeError>) -> Result<T, DeError> {
        match r {
            Err(DeError::Custom(m)) => Err(self.record(self.node.span.clone(), &m)),
            Err(DeError::Missing(field)) => {
                let path = self.at.path();
                let field_path = path.k(field);
                if self.sink.borrow().pruned.contains(&field_path) {
                    // Its value was reported and pruned; the table goes too.
                    self.sink.borrow_mut().fatal = Some(path);
                    Err(DeError::Reported)
                } else {
                    let span = self.key_span.clone().unwrap_or(self.node.span.clone());
                    let what = if path.is_root() {
                        "the file".to_string()
                    } else {
                        format!("`{path}`")
                    };
                    Err(self.record(
                        span,
                        &format!(
                            "missing required key `{field}` in {what}\nhelp: add `{field} = ...`"
                        ),
                    ))
                }
            }
            other => other,
        }
    }

    fn child<'e>(&'e self, e: &'e Entry) -> NodeDe<'e, 'p>
    where
        'a: 'e,
    {
        NodeDe {
            node: &e.value,
            at: At::Key(&self.at, &e.key),
            key_span: Some(e.key_span.clone()),
            sink: self.sink,
        }
    }

    fn expect(&self, what: &str) -> DeError {
        self.record(
            self.node.span.clone(),
            &format!("expected {what}, found {}", self.node.kind.type_name()),
        )
    }
}

impl<'de, 'a, 'p> de::Deserializer<'de> for NodeDe<'a, 'p> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let r = match &self.node.kind {
            Kind::Table(entries) => {
                visitor.visit_map(Entries::new(&self, entries.iter().collect()))
            }
            Kind::Array(items) => visitor.visit_seq(Items {
                parent: &self,
                items: items.iter().enumerate(),
                len: items.len(),
            }),
            Kind::String(s) => visitor.visit_str(s),
            Kind::Integer(n) => visitor.visit_i64(*n),
            Kind::Float(x) => visitor.visit_f64(*x),
            Kind::Bool(b) => visitor.visit_bool(*b),
            Kind::Datetime(_) => {
                return Err(self.expect("no date-time (pharos settings never take one)"));
            }
        };
        self.finish(r)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        // In TOML a key that is present always has a value.
        let r = visitor.visit_some(self.clone());
        self.finish(r)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let r = visitor.visit_newtype_struct(self.clone());
        self.finish(r)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.node.kind {
            Kind::Array(_) => self.deserialize_any(visitor),
            _ => Err(self.expect("an array")),
        }
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.node.kind {
            Kind::Table(_) => self.deserialize_any(visitor),
            _ => Err(self.expect("a table")),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let Kind::Table(entries) = &self.node.kind else {
            return Err(self.expect("a table"));
        };
        let mut known = Vec::with_capacity(entries.len());
        for e in entries {
            if fields.contains(&e.key.as_str()) {
                known.push(e);
                continue;
            }
            // Not fatal: recorded, skipped, and the rest is still checked.
            let path = self.at.path();
            let text = suggest::unknown_key(name, &e.key, fields, &path);
            self.sink.borrow_mut().problems.push(Problem::new(
                path.k(&e.key),
                e.key_span.clone(),
                &text,
            ));
        }
        let r = visitor.visit_map(Entries::new(&self, known));
        self.finish(r)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let Kind::String(s) = &self.node.kind else {
            return Err(self.expect(&format!("a string, one of {}", suggest::list(variants))));
        };
        if !variants.contains(&s.as_str()) {
            let text = suggest::unknown_value(name, s, variants);
            return Err(self.record(self.node.span.clone(), &text));
        }
        let r = visitor.visit_enum(s.as_str().into_deserializer());
        self.finish(r)
    }

    fn deserialize_unit<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, DeError> {
        Err(self.expect("nothing"))
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit_struct tuple tuple_struct identifier
    }
}

/// Table entries handed to a visitor.
struct Entries<'a, 'b, 'p> {
    parent: &'b NodeDe<'a, 'p>,
    entries: std::vec::IntoIter<&'a Entry>,
    current: Option<&'a Entry>,
}

impl<'a, 'b, 'p> Entries<'a, 'b, 'p> {
    fn new(parent: &'b NodeDe<'a, 'p>, entries: Vec<&'a Entry>) -> Self {
        Entries {
            parent,
            entries: entries.into_iter(),
            current: None,
        }
    }
}

impl<'de> MapAccess<'de> for Entries<'_, '_, '_> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        let Some(e) = self.entries.next() else {
            return Ok(None);
        };
        self.current = Some(e);
        let key = KeyDe { key: &e.key };
        match seed.deserialize(key) {
            Ok(k) => Ok(Some(k)),
            Err(DeError::Custom(m)) => {
                let child = self.parent.child(e);
                Err(child.record(e.key_span.clone(), &m))
            }
            Err(other) => Err(other),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let e = self
            .current
            .take()
            .expect("next_value_seed after next_key_seed");
        let child = self.parent.child(e);
        child.finish(seed.deserialize(child.clone()))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

/// Array items handed to a visitor.
struct Items<'a, 'b, 'p> {
    parent: &'b NodeDe<'a, 'p>,
    items: std::iter::Enumerate<std::slice::Iter<'a, Node>>,
    len: usize,
}

impl<'de> SeqAccess<'de> for Items<'_, '_, '_> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        let Some((i, node)) = self.items.next() else {
            return Ok(None);
        };
        let child = NodeDe {
            node,
            at: At::Index(&self.parent.at, i),
            key_span: None,
            sink: self.parent.sink,
        };
        child.finish(seed.deserialize(child.clone())).map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.len)
    }
}

/// A table key, typed as a map key or a struct field name.
struct KeyDe<'a> {
    key: &'a str,
}

impl<'de> de::Deserializer<'de> for KeyDe<'_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_str(self.key)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        if !variants.contains(&self.key) {
            return Err(DeError::Custom(suggest::unknown_value(
                name, self.key, variants,
            )));
        }
        visitor.visit_enum(self.key.into_deserializer())
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct seq tuple tuple_struct map struct identifier ignored_any
    }
}

// `into_deserializer()` on a &str gives an EnumAccess for unit variants;
// these bounds make sure it uses our error type.
#[allow(dead_code)]
fn _assert_enum_access<'de>(s: &'de str) -> impl EnumAccess<'de, Error = DeError> {
    IntoDeserializer::<'de, DeError>::into_deserializer(s)
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        a: u8,
        b: bool,
        c: Option<String>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        #[serde(default)]
        items: std::collections::BTreeMap<String, Inner>,
        list: Vec<u16>,
    }

    fn run(text: &str) -> (Typed<Outer>, String) {
        let mut tree = Node::parse(text).unwrap();
        (deserialize::<Outer>(&mut tree), text.to_string())
    }

    #[test]
    fn every_independent_error_is_found_in_one_run() {
        let (typed, text) = run(
            "list = [1, -2, 3, \"x\"]\n[items.one]\na = 300\nb = \"yes\"\nzzz = 1\n[items.two]\na = 1\nb = true\n",
        );
        let got: Vec<_> = typed
            .problems
            .iter()
            .map(|p| (text[p.span.clone()].to_string(), p.message.clone()))
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "-2".into(),
                    "invalid value integer `-2`: expected an integer from 0 to 65535".into()
                ),
                (
                    "\"x\"".into(),
                    "expected an integer from 0 to 65535, found string \"x\"".into()
                ),
                ("zzz".into(), "unknown key `zzz` in `items.one`".into()),
                (
                    "300".into(),
                    "invalid value integer `300`: expected an integer from 0 to 255".into()
                ),
                (
                    "\"yes\"".into(),
                    "expected a boolean, found string \"yes\"".into()
                ),
            ],
            "{:#?}",
            typed.problems
        );
        // `items.one` lost its required keys and was pruned; `items.two` survived.
        let v = typed.value.unwrap();
        assert_eq!(v.items.keys().collect::<Vec<_>>(), vec!["two"]);
        assert_eq!(v.list, vec![1, 3]);
    }

    #[test]
    fn a_missing_required_key_is_reported_once_at_its_table() {
        let (typed, text) = run("list = []\n[items.one]\nb = true\n");
        assert_eq!(typed.problems.len(), 1, "{:?}", typed.problems);
        let p = &typed.problems[0];
        assert_eq!(&text[p.span.clone()], "one");
        assert_eq!(p.message, "missing required key `a` in `items.one`");
        assert_eq!(p.help.as_deref(), Some("add `a = ...`"));
    }

    #[test]
    fn a_missing_top_level_key_fails_the_root() {
        let (typed, _) = run("");
        assert!(typed.value.is_none());
        assert_eq!(
            typed.problems[0].message,
            "missing required key `list` in the file"
        );
    }
}

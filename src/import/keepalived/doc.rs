//! The TOML being written, before it is text: sections of `key = value`
//! lines with their comments, in the order of the files in `configs/`.
//!
//! Kept as a model rather than text so that two directors' files can be
//! merged: what both say alike stays at the top level, what differs goes
//! to each one's `[nodes.NAME]` table, and a note both files earned is
//! written once with both places.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use super::parse::Loc;
pub(super) use crate::import::emit::{array, inline, key, string};
use crate::import::emit::{header, line as with_comment, note, sanitize};

/// Something the output does not say as keepalived had it: a `# line N:`
/// comment and a warning for each place.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Note {
    pub at: Vec<Loc>,
    pub message: String,
}

impl Note {
    pub fn new(at: Loc, message: impl Into<String>) -> Self {
        Note {
            at: vec![at],
            message: message.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Comment {
    /// An explanation, written as is after `# `.
    Text(String),
    Note(Note),
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Line {
    /// The key as written in TOML (dotted and quoted where needed).
    pub key: String,
    /// The value as written in TOML.
    pub value: String,
    pub comment: Option<String>,
    /// Comment lines above it.
    pub before: Vec<Comment>,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Section {
    /// Table path, unquoted; for a loose block of comments, a name that
    /// only serves to match it with the other file's.
    pub path: Vec<String>,
    /// Only comments: no table header.
    pub loose: bool,
    /// Comment lines above the header.
    pub lead: Vec<Comment>,
    /// Trailing comment on the header line.
    pub comment: Option<String>,
    pub lines: Vec<Line>,
    /// Comment lines after the last line.
    pub tail: Vec<Comment>,
}

impl Section {
    pub fn new<S: AsRef<str>>(path: &[S]) -> Self {
        Section {
            path: path.iter().map(|s| s.as_ref().to_string()).collect(),
            loose: false,
            lead: Vec::new(),
            comment: None,
            lines: Vec::new(),
            tail: Vec::new(),
        }
    }

    /// A block of comments with no table, matched across files by `anchor`.
    pub fn loose(anchor: &str, comments: Vec<Comment>) -> Self {
        let mut s = Section::new(&["#", anchor]);
        s.loose = true;
        s.lead = comments;
        s
    }

    pub fn with_comment(mut self, c: impl Into<String>) -> Self {
        self.comment = Some(c.into());
        self
    }

    pub fn line(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.lines.push(Line {
            key: key.into(),
            value: value.into(),
            comment: None,
            before: Vec::new(),
        });
    }

    pub fn line_c(
        &mut self,
        key: impl Into<String>,
        value: impl Into<String>,
        comment: impl Into<String>,
    ) {
        self.lines.push(Line {
            key: key.into(),
            value: value.into(),
            comment: Some(comment.into()),
            before: Vec::new(),
        });
    }

    /// Puts each note above the line of its key (the first line whose key
    /// is it or starts with `key.`), or after the last line.
    pub fn place(&mut self, mut notes: Vec<(String, Note)>) {
        notes.sort_by_key(|(_, n)| n.at.first().copied());
        for (key, note) in notes {
            let dotted = format!("{key}.");
            let at = (!key.is_empty())
                .then(|| {
                    self.lines
                        .iter()
                        .position(|l| l.key == key || l.key.starts_with(&dotted))
                })
                .flatten();
            match at {
                Some(i) => self.lines[i].before.push(Comment::Note(note)),
                None => self.tail.push(Comment::Note(note)),
            }
        }
    }

    fn is_empty(&self) -> bool {
        self.lines.is_empty() && self.lead.is_empty() && self.tail.is_empty()
    }
}

/// A whole output: the comment lines after the header, then the sections.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Doc {
    pub top: Vec<Comment>,
    pub sections: Vec<Section>,
}

/// One director of a pair: its `[nodes.NAME]` table.
pub(super) struct NodeHead {
    pub name: String,
    /// `{ hostname = "..." }`, or none when nothing tells the boxes apart.
    pub matcher: Option<String>,
    pub comment: Option<String>,
    pub lead: Vec<Comment>,
}

/// How `# line N` comments name places.
pub(super) struct Places<'a> {
    /// Short file names by file index.
    pub files: &'a [String],
    /// The file whose lines are written without its name (`# line N:`).
    pub main: Option<usize>,
}

impl Places<'_> {
    fn name(&self, at: &[Loc]) -> String {
        at.iter()
            .map(|l| {
                if Some(l.file) == self.main {
                    format!("line {}", l.line)
                } else {
                    let f = self.files.get(l.file).map_or("?", String::as_str);
                    format!("line {} of {}", l.line, sanitize(f))
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn comments(out: &mut String, cs: &[Comment], places: &Places<'_>) {
    for c in cs {
        match c {
            Comment::Text(t) => {
                for l in t.lines() {
                    let l = sanitize(l);
                    if l.is_empty() {
                        out.push_str("#\n");
                    } else {
                        let _ = writeln!(out, "# {l}");
                    }
                }
            }
            Comment::Note(n) => {
                out.push_str(&note(&places.name(&n.at), &n.message));
                out.push('\n');
            }
        }
    }
}

fn lines(out: &mut String, ls: &[Line], prefix: &str, places: &Places<'_>) {
    for l in ls {
        comments(out, &l.before, places);
        with_comment(
            out,
            &format!("{prefix}{} = {}", l.key, l.value),
            l.comment.as_deref(),
        );
    }
}

fn section(out: &mut String, s: &Section, prefix: &[String], places: &Places<'_>) {
    out.push('\n');
    comments(out, &s.lead, places);
    if !s.loose {
        let mut path = prefix.to_vec();
        path.extend(s.path.iter().cloned());
        with_comment(out, &format!("[{}]", header(&path)), s.comment.as_deref());
    }
    lines(out, &s.lines, "", places);
    comments(out, &s.tail, places);
}

/// The text of a document after the header comment lines.
pub(super) fn render(doc: &Doc, head: &[String], places: &Places<'_>) -> String {
    let mut out = String::new();
    for h in head {
        if h.is_empty() {
            out.push_str("#\n");
        } else {
            let _ = writeln!(out, "# {}", sanitize(h));
        }
    }
    // The explanations, then the notes, each after a `#` line.
    let (texts, notes): (Vec<Comment>, Vec<Comment>) = doc
        .top
        .iter()
        .cloned()
        .partition(|c| matches!(c, Comment::Text(_)));
    for group in [texts, notes] {
        if !group.is_empty() {
            out.push_str("#\n");
            comments(&mut out, &group, places);
        }
    }
    for s in &doc.sections {
        if !s.is_empty() {
            section(&mut out, s, &[], places);
        }
    }
    out
}

/// Every note of the document, in no particular order.
pub(super) fn notes(doc: &Doc) -> Vec<&Note> {
    fn from<'a>(cs: &'a [Comment], out: &mut Vec<&'a Note>) {
        out.extend(cs.iter().filter_map(|c| match c {
            Comment::Note(n) => Some(n),
            Comment::Text(_) => None,
        }));
    }
    let mut out = Vec::new();
    from(&doc.top, &mut out);
    for s in &doc.sections {
        from(&s.lead, &mut out);
        for l in &s.lines {
            from(&l.before, &mut out);
        }
        from(&s.tail, &mut out);
    }
    out
}

/// `y`'s comments added to `x`'s: the same text once, the same note once
/// with the places of both.
fn merge_comments(mut x: Vec<Comment>, y: Vec<Comment>) -> Vec<Comment> {
    for c in y {
        match c {
            Comment::Text(t) => {
                if !x.contains(&Comment::Text(t.clone())) {
                    x.push(Comment::Text(t));
                }
            }
            Comment::Note(n) => {
                let same = x.iter_mut().find_map(|c| match c {
                    Comment::Note(m) if m.message == n.message => Some(m),
                    _ => None,
                });
                match same {
                    Some(m) => m.at.extend(n.at),
                    None => x.push(Comment::Note(n)),
                }
            }
        }
    }
    x
}

/// One node's part of a merged pair.
#[derive(Default)]
struct NodePart {
    /// Lines of shared sections that differ: (section path, line).
    lines: Vec<(Vec<String>, Line)>,
    /// Sections only this node has.
    sections: Vec<Section>,
}

/// Two directors' documents as one: the sections and lines both have
/// alike at the top level, the rest in a `[nodes.NAME]` table each.
pub(super) fn merge(a: Doc, b: Doc, heads: [NodeHead; 2]) -> Doc {
    // The order: a's sections, with b's own ones after the section that
    // precedes them in b.
    // a's sections in order, each followed by b's own ones that come
    // after it in b (those before any shared one go first).
    let in_a: HashSet<&Vec<String>> = a.sections.iter().map(|s| &s.path).collect();
    let mut b_after: HashMap<Option<&Vec<String>>, Vec<Vec<String>>> = HashMap::new();
    let mut last_shared: Option<&Vec<String>> = None;
    for s in &b.sections {
        if in_a.contains(&s.path) {
            last_shared = Some(&s.path);
        } else {
            b_after.entry(last_shared).or_default().push(s.path.clone());
        }
    }
    let mut order: Vec<Vec<String>> = b_after.remove(&None).unwrap_or_default();
    for s in &a.sections {
        order.push(s.path.clone());
        order.extend(b_after.remove(&Some(&s.path)).unwrap_or_default());
    }
    let index = |secs: Vec<Section>| -> HashMap<Vec<String>, Section> {
        let mut m = HashMap::new();
        for s in secs {
            m.entry(s.path.clone()).or_insert(s);
        }
        m
    };
    let mut a_secs = index(a.sections);
    let mut b_secs = index(b.sections);
    let take = |secs: &mut HashMap<Vec<String>, Section>, path: &[String]| secs.remove(path);
    let mut parts = [NodePart::default(), NodePart::default()];
    let mut base = Vec::new();
    for path in order {
        let sa = take(&mut a_secs, &path);
        let sb = take(&mut b_secs, &path);
        match (sa, sb) {
            (Some(sa), Some(sb)) => {
                let mut s = Section {
                    path: sa.path.clone(),
                    loose: sa.loose,
                    lead: merge_comments(sa.lead, sb.lead),
                    comment: sa.comment.or(sb.comment),
                    lines: Vec::new(),
                    tail: merge_comments(sa.tail, sb.tail),
                };
                let mut b_lines: Vec<Option<Line>> = sb.lines.into_iter().map(Some).collect();
                let mut b_index: HashMap<String, usize> = HashMap::new();
                for (i, l) in b_lines.iter().enumerate() {
                    if let Some(l) = l {
                        b_index.entry(l.key.clone()).or_insert(i);
                    }
                }
                for la in sa.lines {
                    let lb = b_index
                        .remove(&la.key)
                        .and_then(|i| b_lines.get_mut(i))
                        .and_then(Option::take);
                    match lb {
                        Some(lb) if lb.value == la.value && lb.comment == la.comment => {
                            s.lines.push(Line {
                                before: merge_comments(la.before, lb.before),
                                ..la
                            });
                        }
                        Some(lb) => {
                            parts[0].lines.push((path.clone(), la));
                            parts[1].lines.push((path.clone(), lb));
                        }
                        None => parts[0].lines.push((path.clone(), la)),
                    }
                }
                for lb in b_lines.into_iter().flatten() {
                    parts[1].lines.push((path.clone(), lb));
                }
                base.push(s);
            }
            (Some(sa), None) => parts[0].sections.push(sa),
            (None, Some(sb)) => parts[1].sections.push(sb),
            (None, None) => {}
        }
    }
    let mut doc = Doc {
        top: merge_comments(a.top, b.top),
        sections: base,
    };
    for (head, part) in heads.into_iter().zip(parts) {
        node_sections(&mut doc, head, part);
    }
    doc
}

fn node_sections(doc: &mut Doc, head: NodeHead, part: NodePart) {
    let mut s = Section::new(&["nodes", head.name.as_str()]);
    s.comment = head.comment;
    s.lead = head.lead;
    if let Some(m) = head.matcher {
        s.line("match", m);
    }
    for (path, mut line) in part.lines {
        let mut dotted: Vec<String> = path.iter().map(|p| key(p)).collect();
        dotted.push(line.key);
        line.key = dotted.join(".");
        s.lines.push(line);
    }
    let mut loose = Vec::new();
    let mut subs = Vec::new();
    for mut sec in part.sections {
        if sec.loose {
            loose.extend(sec.lead);
            loose.extend(sec.tail);
            continue;
        }
        let mut path = vec!["nodes".to_string(), head.name.clone()];
        path.append(&mut sec.path);
        sec.path = path;
        subs.push(sec);
    }
    s.tail.extend(loose);
    doc.sections.push(s);
    doc.sections.extend(subs);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loc(line: usize) -> Loc {
        Loc { file: 0, line }
    }

    #[test]
    fn a_section_renders_with_comments_at_the_column() {
        let mut s = Section::new(&["services", "10.0.0.1:80"]).with_comment("the web");
        s.line("scheduler", string("rr"));
        s.line_c("persistence", string("50s"), "persistence_timeout 50");
        s.place(vec![
            ("persistence".into(), Note::new(loc(7), "a note")),
            ("nothing".into(), Note::new(loc(9), "at the end")),
        ]);
        let doc = Doc {
            top: vec![],
            sections: vec![s],
        };
        let files = vec!["k.conf".to_string()];
        let text = render(
            &doc,
            &["head".into()],
            &Places {
                files: &files,
                main: Some(0),
            },
        );
        assert_eq!(
            text,
            "# head\n\n[services.\"10.0.0.1:80\"]                # the web\nscheduler = \"rr\"\n# line 7: a note\npersistence = \"50s\"                     # persistence_timeout 50\n# line 9: at the end\n"
        );
    }

    #[test]
    fn a_pair_keeps_what_both_say_and_splits_the_rest() {
        let doc = |prio: &str, extra: bool, at: usize| {
            let mut s = Section::new(&["vrrp", "VI_1"]);
            s.line("vrid", "51");
            s.line("priority", prio);
            s.tail.push(Comment::Note(Note {
                at: vec![Loc { file: at, line: 3 }],
                message: "m".into(),
            }));
            let mut d = Doc {
                top: vec![],
                sections: vec![s],
            };
            if extra {
                let mut x = Section::new(&["checks", "c"]);
                x.line("type", string("exec"));
                d.sections.push(x);
            }
            d
        };
        let head = |n: &str| NodeHead {
            name: n.into(),
            matcher: Some(format!("{{ hostname = {} }}", string(n))),
            comment: None,
            lead: vec![],
        };
        let m = merge(
            doc("100", true, 0),
            doc("50", false, 1),
            [head("a"), head("b")],
        );
        let files = vec!["a.conf".to_string(), "b.conf".to_string()];
        let text = render(
            &m,
            &[],
            &Places {
                files: &files,
                main: None,
            },
        );
        assert_eq!(
            text,
            "\n[vrrp.VI_1]\nvrid = 51\n# line 3 of a.conf, line 3 of b.conf: m\n\n[nodes.a]\nmatch = { hostname = \"a\" }\nvrrp.VI_1.priority = 100\n\n[nodes.a.checks.c]\ntype = \"exec\"\n\n[nodes.b]\nmatch = { hostname = \"b\" }\nvrrp.VI_1.priority = 50\n"
        );
        let parsed: ::toml::Table = ::toml::from_str(&text).unwrap();
        assert!(parsed["nodes"]["a"]["checks"]["c"].is_table());
    }
}

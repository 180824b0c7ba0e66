//! A big config parsed a table at a time (10,000 services make a 4 MB file:
//! parsed whole, toml's token and event lists and its tables hold 130 MB
//! at once). The file is cut before each top-level `[table]` header, found
//! by a scan that skips strings, comments and multi-line arrays as toml's
//! lexer does (so a `[` inside one is never taken for a header; the tests
//! hold the scan to the lexer, which makes a token list of the whole
//! file); each piece is
//! parsed by toml on its own and its tables are put together here.
//!
//! Putting together is where TOML's rules across headers live (a table
//! defined twice, a header into a value or an inline table, a key defined
//! twice). This does only the plain case, and says `None` for anything
//! else, so the caller parses the file whole and toml decides: a table
//! header adds a new table, or makes explicit one that an earlier header
//! created implicitly and adds only new keys to it; its parents are tables
//! made by headers. Arrays of tables (`[[x]]`) are left to the whole parse.
//! A file with any error goes the whole way too, so every diagnostic is
//! toml's own. tests below and the `config_parse` fuzz target hold this
//! to the whole parse: the same tree, or `None`.

use std::borrow::Cow;

use foldhash::HashMap;

use toml::de::DeTable;

use super::tree::{Entry, Kind, Node, Span, convert_table};

/// Below this, a file is parsed whole: it costs little, and the pieces
/// would not pay for themselves.
pub const MIN_LEN: usize = 256 * 1024;

/// The tree of `text`, or `None` when the whole parse must decide.
pub fn parse(text: &str) -> Option<Node> {
    let headers = headers(text)?;
    let mut root = Table::default();
    let first = headers.first().map_or(text.len(), |h| h.start);
    root.add_body(piece(&text[..first], 0)?)?;
    for (i, h) in headers.iter().enumerate() {
        let end = headers.get(i + 1).map_or(text.len(), |n| n.start);
        let path = header_path(&text[h.clone()])?;
        let mut entries = piece(&text[h.start..end], h.start)?;
        root.add_table(&path, &mut entries)?;
    }
    Some(Node {
        span: 0..text.len(),
        kind: Kind::Table(root.into_entries()),
    })
}

/// A big file cut for the streamed check (`config::check_streamed`): the
/// text of everything but the services, and each service's tables (its
/// `[services.NAME…]` headers, all in a row) as a block of text of its own,
/// so each can be parsed and typed alone and its tree dropped before the
/// next. What is not that plain shape is `None`: a `[services]` header, a
/// service whose tables are apart, the same service twice, an array of
/// tables. The streamed check uses this only for files it then finds
/// valid; anything it finds wrong goes the whole way for the diagnostics.
pub struct Apart<'t> {
    /// The pieces that are not services, in order (TOML still: each piece
    /// ends where a header begins, at the start of a line).
    pub rest: String,
    /// Each service's name and its block.
    pub services: Vec<(String, &'t str)>,
}

pub fn services_apart(text: &str) -> Option<Apart<'_>> {
    let headers = headers(text)?;
    let first = headers.first().map_or(text.len(), |h| h.start);
    let mut rest = String::from(&text[..first]);
    let mut services: Vec<(String, &str)> = Vec::new();
    let mut seen = foldhash::HashSet::default();
    // The service whose block is open: its name and where it began.
    let mut open: Option<(Cow<'_, str>, usize)> = None;
    for (i, h) in headers.iter().enumerate() {
        let end = headers.get(i + 1).map_or(text.len(), |n| n.start);
        let service = service_of(&text[h.clone()])?;
        if let Some((name, start)) = open.take_if(|(n, _)| Some(&*n) != service.as_ref()) {
            services.push((name.into_owned(), &text[start..h.start]));
        }
        match service {
            Some(name) if open.is_none() => {
                if !seen.insert(name.clone()) {
                    return None;
                }
                open = Some((name, h.start));
            }
            Some(_) => {}
            None => rest.push_str(&text[h.start..end]),
        }
    }
    if let Some((name, start)) = open {
        services.push((name.into_owned(), &text[start..]));
    }
    Some(Apart { rest, services })
}

/// Which service a header's table is of: `Some(None)` for a table that
/// is not a service's, `None` for what the whole parse must decide (a
/// `[services]` header, a header toml refuses). A bare header's name is
/// borrowed from the text: 20,000 headers in a file of 10,000 services.
fn service_of(header: &str) -> Option<Option<Cow<'_, str>>> {
    let (first, second) = match bare_keys(header) {
        Some(mut keys) => (
            keys.next().map(Cow::Borrowed),
            keys.next().map(Cow::Borrowed),
        ),
        None => {
            let mut keys = header_path_toml(header)?.into_iter();
            (keys.next().map(Cow::Owned), keys.next().map(Cow::Owned))
        }
    };
    match (first.as_deref(), second) {
        (Some("services"), None) => None,
        (Some("services"), name) => Some(name),
        _ => Some(None),
    }
}

/// The keys of a header whose keys are all bare (`[services.web.real_servers]`,
/// as most are), split from its text as toml would read them.
fn bare_keys(header: &str) -> Option<std::str::Split<'_, char>> {
    let inner = header.strip_prefix('[')?.strip_suffix(']')?;
    inner.split('.').all(is_bare).then(|| inner.split('.'))
}

/// A bare key (`A-Za-z0-9_-`), which toml reads as itself.
fn is_bare(k: &str) -> bool {
    !k.is_empty()
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The spans of the top-level `[table]` headers, in order; `None` if the
/// file has an array of tables (`[[x]]`). A scan of the bytes that reads
/// tokens as toml's lexer (`toml_parser`) cuts them, down to its handling
/// of text that is not TOML (a quote inside a bare word is the word's, a
/// string left open ends at its line): held to the lexer by the tests
/// below, and to the whole parse by the fuzz targets through [`parse`].
fn headers(text: &str) -> Option<Vec<Span>> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut line_start = true;
    let mut open: Option<usize> = None;
    // A byte-order mark is not a token.
    let mut i = if b.starts_with(b"\xEF\xBB\xBF") { 3 } else { 0 };
    while i < b.len() {
        let c = b[i];
        match c {
            b'\n' | b'\r' => {
                line_start = depth == 0;
                i += if c == b'\r' && b.get(i + 1) == Some(&b'\n') {
                    2
                } else {
                    1
                };
                continue;
            }
            b' ' | b'\t' => {
                i += 1;
                continue;
            }
            b'#' => i = find(b, i, |c| c == b'\r' || c == b'\n'),
            b'\'' | b'"' => i = string_end(b, i),
            b'[' | b'{' => {
                if depth == 0 && line_start && c == b'[' {
                    if b.get(i + 1) == Some(&b'[') {
                        return None;
                    }
                    open = Some(i);
                }
                depth += 1;
                i += 1;
            }
            b']' | b'}' => {
                depth = depth.saturating_sub(1);
                if depth == 0
                    && let Some(start) = open.take()
                {
                    out.push(start..i + 1);
                }
                i += 1;
            }
            b'.' | b'=' | b',' => i += 1,
            // A bare word, a number, a date: up to the next delimiter.
            _ => i = find(b, i, |c| ENDS_WORD[usize::from(c)]),
        }
        line_start = false;
    }
    Some(out)
}

/// The bytes that end a bare word (the lexer's delimiters), as a table: a
/// lookup per byte of a 4 MB file rather than a search of the list.
const ENDS_WORD: [bool; 256] = {
    let mut t = [false; 256];
    let list = b".=,[]{} \t#\r\n";
    let mut i = 0;
    while i < list.len() {
        t[list[i] as usize] = true;
        i += 1;
    }
    t
};

/// The first byte at or after `from` that is `stop`, or the end.
fn find(b: &[u8], from: usize, stop: impl Fn(u8) -> bool) -> usize {
    b[from..]
        .iter()
        .position(|&c| stop(c))
        .map_or(b.len(), |n| from + n)
}

/// Just past the string that opens at `i`, as toml's lexer ends it: a
/// one-line string at its closing quote or before its line's end; a
/// multi-line one after its closing three quotes and up to two more; a
/// basic string's `\` skips a `\` or `"` after it. An open string runs to
/// the end (toml reports it).
fn string_end(b: &[u8], i: usize) -> usize {
    let q = b[i];
    let basic = q == b'"';
    let multi = b.get(i + 1) == Some(&q) && b.get(i + 2) == Some(&q);
    let mut j = if multi { i + 3 } else { i + 1 };
    while j < b.len() {
        let c = b[j];
        if basic && c == b'\\' {
            j += 1;
            if matches!(b.get(j), Some(b'\\' | b'"')) {
                j += 1;
            }
        } else if c == q && !multi {
            return j + 1;
        } else if c == q && b.get(j + 1) == Some(&q) && b.get(j + 2) == Some(&q) {
            let extra = b[j + 3..].iter().take(2).take_while(|&&x| x == q).count();
            return j + 3 + extra;
        } else if c == b'\n' && !multi {
            return j;
        } else {
            j += 1;
        }
    }
    b.len()
}

/// The keys of a header (`[a."b c".d]`), as toml reads them.
fn header_path(header: &str) -> Option<Vec<String>> {
    // Most headers are bare keys and dots: split, rather than parsed one
    // by one (20,000 of them in a file of 10,000 services: a tenth of the
    // cut).
    match bare_keys(header) {
        Some(keys) => Some(keys.map(str::to_string).collect()),
        None => header_path_toml(header),
    }
}

fn header_path_toml(header: &str) -> Option<Vec<String>> {
    let (table, errors) = DeTable::parse_recoverable(header);
    if !errors.is_empty() {
        return None;
    }
    let mut path = Vec::new();
    let mut t = table.into_inner();
    loop {
        let mut it = t.into_iter();
        let (k, v) = match (it.next(), it.next()) {
            (None, _) => return Some(path),
            (Some(kv), None) => kv,
            _ => return None,
        };
        path.push(k.into_inner().into_owned());
        match v.into_inner() {
            toml::de::DeValue::Table(inner) => t = inner,
            _ => return None,
        }
    }
}

/// One piece of the file (starting at byte `off`) as entries; `None` if
/// toml finds anything wrong in it.
fn piece(text: &str, off: usize) -> Option<Vec<Entry>> {
    let (table, errors) = DeTable::parse_recoverable(text);
    if !errors.is_empty() {
        return None;
    }
    let mut problems = Vec::new();
    let entries = convert_table(table.into_inner(), off, &mut problems);
    problems.is_empty().then_some(entries)
}

/// A table made by headers. A big one gets an index of its keys (a
/// `[services]` table of 10,000 entries is looked into once per header);
/// a small one is searched, as most are small and an index costs more than
/// its entries.
#[derive(Default)]
struct Table {
    span: Span,
    explicit: bool,
    entries: Vec<(String, Span, Value)>,
    index: HashMap<String, usize>,
}

/// From this many entries on, a table keeps an index.
const INDEX_FROM: usize = 32;

enum Value {
    /// Made by a header: later headers may go into it. Boxed: an entry
    /// is as big as its largest kind, and most entries are bodies.
    Header(Box<Table>),
    /// Written in a piece's body: later headers may not.
    Body(Node),
}

impl Table {
    fn find(&self, key: &str) -> Option<usize> {
        if self.entries.len() >= INDEX_FROM {
            self.index.get(key).copied()
        } else {
            self.entries.iter().position(|(k, _, _)| k == key)
        }
    }

    /// The index of every entry.
    fn reindex(&mut self) {
        self.index = self
            .entries
            .iter()
            .enumerate()
            .map(|(i, (k, _, _))| (k.clone(), i))
            .collect();
    }

    fn remove(&mut self, at: usize) -> (String, Span, Value) {
        let out = self.entries.remove(at);
        self.index.clear();
        if self.entries.len() >= INDEX_FROM {
            self.reindex();
        }
        out
    }

    fn push(&mut self, key: String, key_span: Span, value: Value) -> usize {
        let at = self.entries.len();
        if at + 1 == INDEX_FROM {
            self.reindex();
        }
        if at + 1 >= INDEX_FROM {
            self.index.insert(key.clone(), at);
        }
        self.entries.push((key, key_span, value));
        at
    }

    /// Adds a body's entries; `None` if a key is there already.
    fn add_body(&mut self, entries: Vec<Entry>) -> Option<()> {
        // Most bodies are all a table holds: sized once, not doubled.
        self.entries.reserve_exact(entries.len());
        for e in entries {
            if self.find(&e.key).is_some() {
                return None;
            }
            self.push(e.key, e.key_span, Value::Body(e.value));
        }
        Some(())
    }

    /// Adds the table of header `path`, whose piece parsed as `entries`
    /// (the chain of tables down to it, then its body).
    fn add_table(&mut self, path: &[String], entries: &mut Vec<Entry>) -> Option<()> {
        let (key, rest) = path.split_first()?;
        // The piece's own node for this key: the spans toml gave it.
        let mine = match entries.as_mut_slice() {
            [e] if &e.key == key => e,
            _ => return None,
        };
        let Kind::Table(inner) = &mut mine.value.kind else {
            return None;
        };
        let (key_span, span) = (mine.key_span.clone(), mine.value.span.clone());
        let found = self.find(key);
        let at = match found {
            Some(i) => i,
            None => self.push(
                key.clone(),
                key_span.clone(),
                Value::Header(Box::new(Table {
                    span: span.clone(),
                    ..Table::default()
                })),
            ),
        };
        let Value::Header(table) = &mut self.entries[at].2 else {
            return None;
        };
        if !rest.is_empty() {
            return table.add_table(rest, inner);
        }
        if table.explicit {
            return None;
        }
        if found.is_none() {
            // New: at the end already, with this header's spans.
            table.explicit = true;
            return table.add_body(std::mem::take(inner));
        }
        // Defined here, after a deeper header made it: toml gives the table
        // this header's spans and moves it to the end of its parent.
        let (key, _, value) = self.remove(at);
        let Value::Header(mut table) = value else {
            return None;
        };
        table.explicit = true;
        table.span = span;
        table.add_body(std::mem::take(inner))?;
        self.push(key, key_span, Value::Header(table));
        Some(())
    }

    fn into_entries(self) -> Vec<Entry> {
        // Sized to fit, not collected in place: the builder's entries are
        // larger, and the tree keeps this vector for as long as it lives.
        let mut out = Vec::with_capacity(self.entries.len());
        for (key, key_span, v) in self.entries {
            out.push(Entry {
                key,
                key_span,
                value: match v {
                    Value::Body(n) => n,
                    Value::Header(t) => Node {
                        span: t.span.clone(),
                        kind: Kind::Table(t.into_entries()),
                    },
                },
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use toml_parser::lexer::TokenKind;

    use super::*;

    /// [`headers`] with toml's own lexer: what the scan is held to.
    fn headers_lexed(text: &str) -> Option<Vec<Span>> {
        let mut out = Vec::new();
        let mut depth = 0usize;
        let mut line_start = true;
        let mut open: Option<usize> = None;
        for token in toml_parser::Source::new(text).lex() {
            let span = token.span();
            match token.kind() {
                TokenKind::LeftSquareBracket | TokenKind::LeftCurlyBracket => {
                    if depth == 0 && line_start && token.kind() == TokenKind::LeftSquareBracket {
                        if text.as_bytes().get(span.start() + 1) == Some(&b'[') {
                            return None;
                        }
                        open = Some(span.start());
                    }
                    depth += 1;
                }
                TokenKind::RightSquareBracket | TokenKind::RightCurlyBracket => {
                    depth = depth.saturating_sub(1);
                    if depth == 0
                        && let Some(start) = open.take()
                    {
                        out.push(start..span.end());
                    }
                }
                _ => {}
            }
            line_start = match token.kind() {
                TokenKind::Newline => depth == 0,
                TokenKind::Whitespace => line_start,
                _ => false,
            };
        }
        Some(out)
    }

    /// The same tree as the whole parse, or `None`; never a tree for a
    /// file the whole parse refuses.
    fn agrees(text: &str) -> Option<Node> {
        let whole = Node::parse_whole(text);
        let mine = parse(text);
        match (&whole, &mine) {
            (Ok(w), Some(m)) => assert_eq!(w, m, "trees differ for {text:?}"),
            (Err(_), Some(_)) => panic!("accepted what toml refuses: {text:?}"),
            _ => {}
        }
        mine
    }

    #[test]
    fn the_scan_finds_the_headers_toml_s_lexer_finds() {
        let pieces = [
            "[a]",
            "[a.b]",
            "[[t]]",
            "x = 1",
            "s = \"[no]\"",
            "s = \"\\\"[no]\"",
            "m = \"\"\"\n[no]\n\"\"\"",
            "m = \"\"\"a\\\"\"\"[no]\"\"\"",
            "m = \"\"\"a\"\"\"\"\"",
            "l = '[no]'",
            "l = '''\n[no]\n'''",
            "l = '''a''''' ",
            "# [no]",
            "  [b] # c",
            "arr = [\n[1],\n]",
            "t = { a = [1] }",
            "\"q\" = 1",
            "'' = 1",
            "s = \"open",
            "s = \"a\\",
            "l = 'open",
            "m = \"\"\"open",
            "]",
            "}",
            "[",
            "{",
            "\r",
            "\t[c]",
            "k = \"\"",
            "k = ''",
            "x = [\n# ]\n]",
            "m = \"\"\"a\\\n[no]\"\"\"",
            "x\"y = 1",
            "w'z",
            "n = 1.5",
            "d = 1979-05-27T07:32:00Z",
            "e = \"\\\\\"",
            "m = \"\"\"\\\"\"\"\"",
            "p = '",
            "# c\r[d]",
            "a.b.c = 1",
            "[ x ]",
            "\"",
            "'",
            "\\",
        ];
        let mut rng = fastrand::Rng::with_seed(19);
        let mut texts: Vec<String> = pieces.iter().map(ToString::to_string).collect();
        texts.push("\u{feff}[a]\nx = 1\n[b]\n".into());
        for _ in 0..50_000 {
            let n = rng.usize(1..8);
            let mut t = String::new();
            for _ in 0..n {
                t.push_str(pieces[rng.usize(..pieces.len())]);
                t.push_str(["\n", "\r\n", " ", ""][rng.usize(..4)]);
            }
            texts.push(t);
        }
        for t in &texts {
            assert_eq!(headers(t), headers_lexed(t), "{t:?}");
        }
    }

    #[test]
    fn plain_files_come_out_as_the_whole_parse() {
        for text in [
            "a = 1\n[s.t]\nq = { weight = 1 }\n[s.u]\nq = 2\n",
            "[a.b]\nx = 1\n[a.c]\ny = 2\n[a]\nz = 3\n",
            // Made explicit after another table: it moves to the end.
            "[a.b]\nx = 1\n[j.c]\ny = 2\n[a]\nz = 3\n",
            "[a.b.c]\n[k]\n[a.j]\n[a.b]\n",
            "# c\n  [x]  # c [y]\ns = \"[not]\"\nm = '''\n[no]\n'''\narr = [\n  [1],\n  [2],\n]\n[y]\n",
            "[\"quoted key\".'lit'.bare]\nv = 1\n[\"quoted key\"]\nw = 2\n",
            "[a]\nb.c = 1\n[d]\n",
            "",
            "x = 1\n",
        ] {
            assert!(agrees(text).is_some(), "{text:?}");
        }
    }

    #[test]
    fn what_toml_refuses_or_this_does_not_do_goes_the_whole_way() {
        for text in [
            "[a]\nx = 1\n[a]\ny = 2\n",         // defined twice
            "a = 1\n[a.b]\n",                   // a header into a value
            "a = { x = 1 }\n[a.b]\n",           // into an inline table
            "[a.b]\n[a]\nb = 1\n",              // a key defined twice
            "[a.b.c]\nz = 9\n[a]\nb.c.t = 1\n", // dotted keys into a header's table
            "[a]\nb.c = 1\n[a.b]\n",            // a header over dotted keys
            "[a]\nb.c = 1\n[a.b.d]\n",          // valid, but not done here
            "[[a]]\nx = 1\n[[a]]\n",            // arrays of tables
            "[a]\nx = \n[b]\n",                 // a syntax error
            "[a\nx = 1\n",
        ] {
            assert!(agrees(text).is_none(), "{text:?}");
        }
    }

    #[test]
    fn a_header_of_bare_keys_is_read_as_toml_reads_it() {
        for h in [
            "[a]",
            "[services.web.real_servers]",
            "[s-1._x.9]",
            "[a..b]",
            "[.a]",
            "[a.]",
            "[]",
            "[ a.b ]",
            "[a . b]",
            "[\"a.b\".c]",
            "['x'.y]",
            "[a.b # c]",
            "[ä]",
        ] {
            assert_eq!(header_path(h), header_path_toml(h), "{h}");
        }
    }

    #[test]
    fn a_big_table_keeps_its_index_when_a_table_moves() {
        let mut text = String::new();
        for i in 0..40 {
            text.push_str(&format!("[t.k{i}.x]\nv = {i}\n"));
        }
        text.push_str("[t.k5]\nw = 1\n[t.k39]\n[t.k5.y]\n[t.k0]\n");
        assert!(agrees(&text).is_some());
        text.push_str("[t.k5]\n");
        assert!(agrees(&text).is_none(), "k5 defined twice");
    }

    #[test]
    fn two_thousand_services_agree() {
        let mut text = String::from("[system]\nip_forward = true\n\n");
        for i in 0..2000 {
            text.push_str(&format!(
                "[services.s{i}]\naddress = \"10.0.{}.{}:80\"\nforwarding = \"nat\"\n\n[services.s{i}.real_servers]\n",
                i / 256,
                i % 256
            ));
            for d in 1..=3 {
                text.push_str(&format!("\"10.250.0.{d}:80\" = {{ weight = 1 }}\n"));
            }
        }
        assert!(agrees(&text).is_some());
    }
}

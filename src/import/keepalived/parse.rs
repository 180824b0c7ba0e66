//! keepalived.conf read as keepalived reads it (lib/parser.c of 2.2):
//!
//! - `#` and `!` start a comment anywhere outside double quotes; `\#` and
//!   `\!` are the characters themselves.
//! - `{` and `}` outside quotes are tokens of their own wherever they are,
//!   so `url { path / }` is four lines to keepalived; a `{` opens the block
//!   of the statement just before it, on its line or the next.
//! - A word starting with `"` runs to the next `"` (no escapes); other
//!   words end at white space or a `"`.
//! - `include PATTERN` (exactly two words) splices in the files the glob
//!   matches, relative to the including file's directory.
//!
//! Where keepalived would go astray (a `}` too many or too few, a
//! `vrrp_instance` inside another because a `}` was forgotten) we say so
//! and recover the way the writer evidently meant.

use std::collections::HashMap;

use crate::import::emit;

/// One input file: the name it is shown by (in warnings, `FILE:LINE`) and
/// its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub name: String,
    pub text: String,
}

/// Where something is: an index into [`Parsed::files`] and a 1-based line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) struct Loc {
    pub file: usize,
    pub line: usize,
}

/// One keyword line and, if a `{` followed it, its block.
#[derive(Debug, Clone)]
pub(super) struct Stmt {
    pub loc: Loc,
    /// The words; `words[0]` is the keyword.
    pub words: Vec<String>,
    /// The line as written (comments removed), for commands that are split
    /// again and for quoting in comments.
    pub raw: String,
    pub block: Option<Block>,
}

#[derive(Debug, Clone)]
pub(super) struct Block {
    pub stmts: Vec<Stmt>,
    /// Where its `}` is; `None` when the input ended first.
    pub close: Option<Loc>,
}

impl Stmt {
    pub fn keyword(&self) -> &str {
        &self.words[0]
    }
    /// The words after the keyword.
    pub fn args(&self) -> &[String] {
        &self.words[1..]
    }
    pub fn arg(&self, i: usize) -> Option<&str> {
        self.words.get(i + 1).map(String::as_str)
    }
    /// The statements of the block, or none.
    pub fn children(&self) -> &[Stmt] {
        self.block.as_ref().map_or(&[], |b| &b.stmts)
    }
    /// The text after the keyword, as written.
    pub fn rest(&self) -> &str {
        let k = self.keyword();
        self.raw
            .trim_start()
            .strip_prefix(k)
            .unwrap_or(&self.raw)
            .trim()
    }
    /// The last line the statement covers in its own file: its `}`, or
    /// for a block never closed, its last statement's.
    pub fn end_line(&self) -> usize {
        match &self.block {
            Some(Block { close: Some(c), .. }) if c.file == self.loc.file => c.line,
            Some(b) => b
                .stmts
                .iter()
                .filter(|s| s.loc.file == self.loc.file)
                .map(Stmt::end_line)
                .max()
                .unwrap_or(self.loc.line)
                .max(self.loc.line),
            None => self.loc.line,
        }
    }
}

/// Everything read: the files in the order they were read, the top-level
/// statements, and what went wrong on the way.
#[derive(Debug, Default)]
pub(super) struct Parsed {
    pub files: Vec<String>,
    pub stmts: Vec<Stmt>,
    pub problems: Vec<(Loc, String)>,
    /// Blocks whose `}` is missing (still open at the end of the input, or
    /// when a top-level keyword came): where each opens, and what it is.
    /// keepalived reads everything after such a `{` as inside it.
    pub unclosed: Vec<(Loc, String)>,
    /// Whether an `include` line was read (its files may have failed).
    pub saw_include: bool,
}

/// Reads the files an `include` names: `(including file, pattern)` to the
/// matching files in order, or why none could be read.
pub type IncludeFn<'a> = dyn FnMut(&str, &str) -> Result<Vec<Source>, String> + 'a;

/// Included files nest at most this deep (keepalived has no limit and
/// recurses until it crashes).
const MAX_INCLUDE_DEPTH: usize = 8;
/// At most this many files in all, however the globs fan out.
const MAX_FILES: usize = 256;

/// Blocks nest at most this deep (keepalived's deepest is 4: virtual_server,
/// real_server, HTTP_GET, url).
const MAX_DEPTH: usize = 16;

/// Keywords that only exist at the top level: meeting one inside a block
/// means a `}` was forgotten before it.
const ROOT_BLOCKS: &[&str] = &[
    "global_defs",
    "vrrp_script",
    "vrrp_sync_group",
    "vrrp_instance",
    "virtual_server",
    "virtual_server_group",
    "static_ipaddress",
    "static_routes",
];

/// One item of a file after comments and brace splitting.
enum Piece {
    Line {
        loc: Loc,
        raw: String,
        words: Vec<String>,
    },
    Open(Loc),
    Close(Loc),
}

pub(super) fn parse(main: &Source, include: &mut IncludeFn<'_>) -> Parsed {
    let mut lx = Lexer {
        include,
        out: Parsed::default(),
        pieces: Vec::new(),
        stack: Vec::new(),
        defs: HashMap::new(),
    };
    lx.file(main);
    let mut out = lx.out;
    out.stmts = build(lx.pieces, &mut out.problems, &mut out.unclosed);
    out
}

/// A definition's expansion may not grow a line beyond this.
const MAX_EXPANDED: usize = 64 * 1024;

struct Lexer<'i, 'a> {
    include: &'i mut IncludeFn<'a>,
    out: Parsed,
    pieces: Vec<Piece>,
    /// The files being read, innermost last.
    stack: Vec<String>,
    /// keepalived's `$NAME=value` definitions, for all files after them.
    defs: HashMap<String, String>,
}

impl Lexer<'_, '_> {
    fn problem(&mut self, loc: Loc, message: impl Into<String>) {
        self.out.problems.push((loc, message.into()));
    }

    fn file(&mut self, src: &Source) {
        let file = self.out.files.len();
        self.out.files.push(src.name.clone());
        self.stack.push(src.name.clone());
        // A multi-line definition being read: its name, value, first line.
        let mut multi: Option<(String, String, Loc)> = None;
        for (i, physical) in src.text.lines().enumerate() {
            let loc = Loc { file, line: i + 1 };
            let (line, unclosed) = decomment(physical);
            if unclosed {
                self.problem(
                    loc,
                    "a quote (`\"`) is not closed on this line; keepalived reads it to the end of the line",
                );
            }
            let line = line.trim();
            if let Some((name, mut value, at)) = multi.take() {
                match line.strip_suffix('\\') {
                    Some(more) if !line.is_empty() => {
                        value.push_str(more.trim_end());
                        value.push('\n');
                        multi = Some((name, value, at));
                    }
                    _ => {
                        value.push_str(line);
                        self.defs.insert(name, value);
                    }
                }
                continue;
            }
            if line.is_empty() {
                continue;
            }
            if let Some(rest) = line.strip_prefix('@') {
                let id = rest.split_whitespace().next().unwrap_or("");
                self.problem(
                    loc,
                    format!(
                        "`{}` not imported: keepalived reads a line starting `@{id}` only on the box whose config id (`-i`, or else its host name) is `{}`; put it in that box's `[nodes.NAME]` table",
                        emit::sanitize(line),
                        id.trim_start_matches('^')
                    ),
                );
                continue;
            }
            if line.starts_with("~SEQ") {
                self.problem(loc, "`~SEQ` not expanded: write the lines it makes out");
                continue;
            }
            if let Some((name, value)) = definition(line) {
                match value.strip_suffix('\\') {
                    Some(first) => {
                        let mut v = first.trim_end().to_string();
                        if !v.is_empty() {
                            v.push('\n');
                        }
                        multi = Some((name, v, loc));
                    }
                    None => {
                        self.defs.insert(name, value);
                    }
                }
                continue;
            }
            let expanded = if !self.defs.is_empty() && line.contains('$') {
                match expand(line, &self.defs) {
                    Ok(e) => e,
                    Err(why) => {
                        self.problem(loc, why);
                        line.to_string()
                    }
                }
            } else {
                line.to_string()
            };
            for line in expanded.split('\n') {
                let line = line.trim();
                if line.is_empty() {
                    continue;
                }
                if line.starts_with("include") {
                    let words = split_words(line);
                    if words.len() == 2 && words[0] == "include" {
                        self.out.saw_include = true;
                        self.include_files(&words[1], loc);
                        continue;
                    }
                }
                split_braces(line, loc, &mut self.pieces);
            }
        }
        if let Some((name, value, _)) = multi {
            self.defs.insert(name, value);
        }
        self.stack.pop();
    }

    fn include_files(&mut self, pattern: &str, loc: Loc) {
        if self.stack.len() > MAX_INCLUDE_DEPTH {
            self.problem(
                loc,
                format!(
                    "`include {pattern}` not read: includes nest more than {MAX_INCLUDE_DEPTH} deep"
                ),
            );
            return;
        }
        let including = self.stack.last().cloned().unwrap_or_default();
        match (self.include)(&including, pattern) {
            Err(why) => self.problem(loc, format!("`include {pattern}` not read: {why}")),
            Ok(files) if files.is_empty() => self.problem(
                loc,
                format!("`include {pattern}`: no file matches (keepalived goes on without it)"),
            ),
            Ok(files) => {
                for f in files {
                    if self.stack.contains(&f.name) {
                        self.problem(
                            loc,
                            format!(
                                "`include {pattern}` not read again: `{}` is already being read (an include loop)",
                                f.name
                            ),
                        );
                    } else if self.out.files.len() >= MAX_FILES {
                        self.problem(
                            loc,
                            format!(
                                "`{}` not read: more than {MAX_FILES} files are included in all",
                                f.name
                            ),
                        );
                    } else {
                        self.file(&f);
                    }
                }
            }
        }
    }
}

/// `$NAME=value` (keepalived's parameter definitions).
fn definition(line: &str) -> Option<(String, String)> {
    let rest = line.strip_prefix('$')?;
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    let name = &rest[..end];
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let value = rest[end..].trim_start().strip_prefix('=')?;
    Some((name.to_string(), value.trim().to_string()))
}

/// Replaces `$NAME` and `${NAME}` of defined names, as keepalived's
/// `replace_param` does (an unbraced name ends at white space, `,`, `)` or
/// the end), again while a replacement brings in more.
fn expand(line: &str, defs: &HashMap<String, String>) -> Result<String, String> {
    let mut text = line.to_string();
    for _ in 0..8 {
        let mut out = String::with_capacity(text.len());
        let mut rest = text.as_str();
        let mut changed = false;
        while let Some(at) = rest.find('$') {
            out.push_str(&rest[..at]);
            let after = &rest[at + 1..];
            let (name, used) = match after.strip_prefix('{') {
                Some(b) => match b.find('}') {
                    Some(end) => (&b[..end], end + 2),
                    None => ("", 0),
                },
                None => {
                    let end = after
                        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                        .unwrap_or(after.len());
                    let ok = after[end..]
                        .chars()
                        .next()
                        .is_none_or(|c| matches!(c, ' ' | '\t' | ',' | ')'));
                    (if ok { &after[..end] } else { "" }, end)
                }
            };
            match defs.get(name) {
                Some(v) if !name.is_empty() => {
                    out.push_str(v);
                    rest = &after[used..];
                    changed = true;
                }
                _ => {
                    out.push('$');
                    rest = after;
                }
            }
            if out.len() > MAX_EXPANDED {
                return Err(format!(
                    "definitions expand this line beyond {} KiB; it is read as written",
                    MAX_EXPANDED / 1024
                ));
            }
        }
        out.push_str(rest);
        text = out;
        if !changed || !text.contains('$') {
            return Ok(text);
        }
    }
    Ok(text)
}

/// Removes a comment as keepalived's `decomment` does; says whether a
/// double quote was left open.
fn decomment(line: &str) -> (String, bool) {
    if !line.contains(['"', '\\', '#', '!']) {
        return (line.to_string(), false);
    }
    let mut out = String::with_capacity(line.len());
    let mut quote = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                quote = !quote;
                out.push(c);
            }
            '\\' => match chars.peek() {
                Some(&n @ ('#' | '!')) if !quote => {
                    out.push(n);
                    chars.next();
                }
                Some(&n) => {
                    out.push('\\');
                    out.push(n);
                    chars.next();
                }
                None => out.push('\\'),
            },
            '#' | '!' if !quote => break,
            c => out.push(c),
        }
    }
    (out, quote)
}

/// Splits a line at every `{` and `}` outside double quotes, as keepalived's
/// `read_line` does, and pushes the pieces.
fn split_braces(line: &str, loc: Loc, pieces: &mut Vec<Piece>) {
    let mut start = 0;
    let mut quote = false;
    for (i, c) in line.char_indices() {
        match c {
            '"' => quote = !quote,
            '{' | '}' if !quote => {
                push_text(&line[start..i], loc, pieces);
                pieces.push(if c == '{' {
                    Piece::Open(loc)
                } else {
                    Piece::Close(loc)
                });
                start = i + 1;
            }
            _ => {}
        }
    }
    push_text(&line[start..], loc, pieces);
}

fn push_text(text: &str, loc: Loc, pieces: &mut Vec<Piece>) {
    let raw = text.trim();
    if raw.is_empty() {
        return;
    }
    let words = split_words(raw);
    if words.is_empty() {
        return;
    }
    pieces.push(Piece::Line {
        loc,
        raw: raw.to_string(),
        words,
    });
}

/// keepalived's `alloc_strvec`: white space separates words, and a word
/// that starts with `"` runs to the next `"` (or the end of the line).
pub(super) fn split_words(s: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut rest = s;
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            break;
        }
        if let Some(q) = rest.strip_prefix('"') {
            match q.find('"') {
                Some(end) => {
                    words.push(q[..end].to_string());
                    rest = &q[end + 1..];
                }
                None => {
                    words.push(q.to_string());
                    rest = "";
                }
            }
        } else {
            let end = rest
                .find(|c: char| c.is_whitespace() || c == '"')
                .unwrap_or(rest.len());
            words.push(rest[..end].to_string());
            rest = &rest[end..];
        }
    }
    words
}

/// An open block while building: the statement that opened it and what
/// is inside so far.
struct Frame {
    stmt: Option<Stmt>,
    open: Loc,
    inner: Vec<Stmt>,
}

fn build(
    pieces: Vec<Piece>,
    problems: &mut Vec<(Loc, String)>,
    unclosed: &mut Vec<(Loc, String)>,
) -> Vec<Stmt> {
    let mut root: Vec<Stmt> = Vec::new();
    let mut frames: Vec<Frame> = Vec::new();
    // The statement just read, which a following `{` would open.
    let mut pending: Option<Stmt> = None;

    fn level<'a>(root: &'a mut Vec<Stmt>, frames: &'a mut [Frame]) -> &'a mut Vec<Stmt> {
        match frames.last_mut() {
            Some(f) => &mut f.inner,
            None => root,
        }
    }
    fn close(frame: Frame, at: Option<Loc>, root: &mut Vec<Stmt>, frames: &mut [Frame]) {
        if let Some(mut s) = frame.stmt {
            s.block = Some(Block {
                stmts: frame.inner,
                close: at,
            });
            level(root, frames).push(s);
        }
    }

    for piece in pieces {
        match piece {
            Piece::Line { loc, raw, words } => {
                if let Some(p) = pending.take() {
                    level(&mut root, &mut frames).push(p);
                }
                if ROOT_BLOCKS.contains(&words[0].as_str()) && !frames.is_empty() {
                    let outer = frames
                        .iter()
                        .find_map(|f| f.stmt.as_ref())
                        .map(|s| format!("`{}` (line {})", describe(s), s.loc.line))
                        .unwrap_or_else(|| "a block".into());
                    problems.push((
                        loc,
                        format!(
                            "`{}` cannot be inside {outer}: a `}}` is probably missing before this line; read as if it were there",
                            words[0]
                        ),
                    ));
                    while let Some(f) = frames.pop() {
                        unclosed.push((f.open, what(&f)));
                        close(f, None, &mut root, &mut frames);
                    }
                }
                pending = Some(Stmt {
                    loc,
                    words,
                    raw,
                    block: None,
                });
            }
            Piece::Open(loc) => {
                let mut stmt = pending.take();
                if frames.len() >= MAX_DEPTH {
                    // Deeper than any keepalived block: read on, but keep
                    // the tree (walked recursively) shallow.
                    if let Some(s) = stmt.take()
                        && frames.len() == MAX_DEPTH
                    {
                        problems.push((
                            loc,
                            format!(
                                "the block of `{}` is nested more than {MAX_DEPTH} deep: not imported",
                                describe(&s)
                            ),
                        ));
                    }
                    frames.push(Frame {
                        stmt: None,
                        open: loc,
                        inner: Vec::new(),
                    });
                    continue;
                }
                if stmt.is_none() {
                    problems.push((
                        loc,
                        "a `{` with no keyword before it: its block is not imported (keepalived ignores the `{`)".into(),
                    ));
                }
                frames.push(Frame {
                    stmt,
                    open: loc,
                    inner: Vec::new(),
                });
            }
            Piece::Close(loc) => {
                if let Some(p) = pending.take() {
                    level(&mut root, &mut frames).push(p);
                }
                match frames.pop() {
                    Some(f) => close(f, Some(loc), &mut root, &mut frames),
                    None => problems.push((
                        loc,
                        "a `}` with no block open: ignored (keepalived reports an extra `}`)"
                            .into(),
                    )),
                }
            }
        }
    }
    if let Some(p) = pending.take() {
        level(&mut root, &mut frames).push(p);
    }
    while let Some(f) = frames.pop() {
        unclosed.push((f.open, what(&f)));
        close(f, None, &mut root, &mut frames);
    }
    unclosed.sort_by_key(|(at, _)| *at);
    root
}

/// What an open block is, for a message: `` `vrrp_instance VI_1` ``.
fn what(f: &Frame) -> String {
    f.stmt
        .as_ref()
        .map_or_else(|| "a block".to_string(), |s| format!("`{}`", describe(s)))
}

/// `vrrp_instance VI_1`: the keyword and its first argument.
pub(super) fn describe(s: &Stmt) -> String {
    match s.arg(0) {
        Some(a) => format!("{} {a}", s.keyword()),
        None => s.keyword().to_string(),
    }
}

/// A command line as argv, as a shell would split it (no `#` comments:
/// keepalived has already read the command as one string).
pub(super) fn shell_words(s: &str) -> Result<Vec<String>, String> {
    crate::import::shell_words(s, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(text: &str) -> Source {
        Source {
            name: "k.conf".into(),
            text: text.into(),
        }
    }

    fn no_include(_: &str, _: &str) -> Result<Vec<Source>, String> {
        Err("no includes here".into())
    }

    fn shape(stmts: &[Stmt]) -> String {
        stmts
            .iter()
            .map(|s| match &s.block {
                Some(b) => format!("{}{{{}}}", s.words.join(" "), shape(&b.stmts)),
                None => s.words.join(" "),
            })
            .collect::<Vec<_>>()
            .join(";")
    }

    #[test]
    fn comments_quotes_and_braces_split_as_keepalived_does() {
        let p = parse(
            &src(
                "! header\nvrrp_instance VI_1{ # opens\n  state MASTER ! c\n  notify \"/x y\" \\#1\n  url { path / }\n}\n",
            ),
            &mut no_include,
        );
        assert!(p.problems.is_empty(), "{:?}", p.problems);
        assert_eq!(
            shape(&p.stmts),
            "vrrp_instance VI_1{state MASTER;notify /x y #1;url{path /}}"
        );
        assert_eq!(p.stmts[0].children()[1].rest(), "\"/x y\" #1");
    }

    #[test]
    fn a_brace_on_the_next_line_opens_the_block() {
        let p = parse(
            &src("virtual_ipaddress\n{\n 10.0.0.1\n}\n"),
            &mut no_include,
        );
        assert_eq!(shape(&p.stmts), "virtual_ipaddress{10.0.0.1}");
        assert_eq!(p.stmts[0].end_line(), 4);
    }

    #[test]
    fn unbalanced_braces_are_reported_and_recovered() {
        let p = parse(
            &src(
                "vrrp_instance A {\n priority 1\nvrrp_instance B {\n priority 2\n}\n}\n}\nglobal_defs {\n",
            ),
            &mut no_include,
        );
        assert_eq!(
            shape(&p.stmts),
            "vrrp_instance A{priority 1};vrrp_instance B{priority 2};global_defs{}"
        );
        let lines: Vec<usize> = p.problems.iter().map(|(l, _)| l.line).collect();
        assert_eq!(lines, vec![3, 6, 7], "{:?}", p.problems);
        // The blocks whose `}` is missing, read as closed or not.
        let open: Vec<(usize, &str)> = p
            .unclosed
            .iter()
            .map(|(l, w)| (l.line, w.as_str()))
            .collect();
        assert_eq!(open, [(1, "`vrrp_instance A`"), (8, "`global_defs`")]);
    }

    #[test]
    fn includes_splice_files_in_and_stop_loops() {
        let mut inc = |_from: &str, pat: &str| -> Result<Vec<Source>, String> {
            assert_eq!(pat, "*.conf");
            Ok(vec![
                Source {
                    name: "d/a.conf".into(),
                    text: "a 1\ninclude *.conf\n".into(),
                },
                Source {
                    name: "k.conf".into(),
                    text: "x\n".into(),
                },
            ])
        };
        let p = parse(&src("b {\ninclude *.conf\n}\n"), &mut inc);
        assert_eq!(shape(&p.stmts[..1]), "b{a 1}");
        assert_eq!(p.files, ["k.conf", "d/a.conf"]);
        assert_eq!(p.problems.len(), 3, "{:?}", p.problems);
        assert!(p.problems.iter().all(|(_, m)| m.contains("include loop")));
        // A callback that makes up a new file each time is stopped by depth.
        let mut deeper = |from: &str, _: &str| -> Result<Vec<Source>, String> {
            Ok(vec![Source {
                name: format!("{from}/x"),
                text: "include *\n".into(),
            }])
        };
        let p = parse(&src("include *\n"), &mut deeper);
        assert_eq!(p.files.len(), MAX_INCLUDE_DEPTH + 1);
        assert!(p.problems[0].1.contains("nest more than"));
    }

    #[test]
    fn definitions_expand_and_conditional_lines_are_reported() {
        let p = parse(
            &src(
                "$IF=eth1\n$VIPS=10.0.0.1/24 \\\n  10.0.0.2/24\n\nvrrp_instance V {\n interface $IF\n notify ${IF}x $NOPE\n virtual_ipaddress {\n  $VIPS\n }\n @lb1 priority 200\n}\n~SEQ(i,1,3) x\n",
            ),
            &mut no_include,
        );
        assert_eq!(
            shape(&p.stmts),
            "vrrp_instance V{interface eth1;notify eth1x $NOPE;virtual_ipaddress{10.0.0.1/24;10.0.0.2/24}}"
        );
        let lines: Vec<usize> = p.problems.iter().map(|(l, _)| l.line).collect();
        assert_eq!(lines, vec![11, 13], "{:?}", p.problems);
        // A definition that refers to itself is expanded a few times only,
        // and never beyond a size.
        let mut defs = HashMap::new();
        defs.insert("A".to_string(), "$A $A".to_string());
        assert!(expand("$A", &defs).unwrap().len() < MAX_EXPANDED);
        defs.insert("A".to_string(), format!("{} $A $A", "x".repeat(10_000)));
        assert!(expand("$A", &defs).is_err());
    }

    #[test]
    fn deep_nesting_is_cut_off_not_recursed_into() {
        let deep = "a {\n".repeat(200_000) + &"}\n".repeat(200_000);
        let p = parse(&src(&deep), &mut no_include);
        fn depth(s: &[Stmt]) -> usize {
            s.iter().map(|s| 1 + depth(s.children())).max().unwrap_or(0)
        }
        assert_eq!(depth(&p.stmts), MAX_DEPTH);
        assert_eq!(
            p.problems.len(),
            1,
            "{:?}",
            &p.problems[..3.min(p.problems.len())]
        );
    }

    #[test]
    fn shell_words_split_like_sh() {
        assert_eq!(
            shell_words(r#"/bin/sh -c 'a "b"' "c\"d" e\ f"#).unwrap(),
            vec!["/bin/sh", "-c", "a \"b\"", "c\"d", "e f"]
        );
        assert!(shell_words("'x").is_err());
    }
}

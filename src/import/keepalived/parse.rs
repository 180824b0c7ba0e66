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

use super::Source;

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
    /// The last line the statement covers (its `}` if it has a block).
    pub fn end_line(&self) -> usize {
        match &self.block {
            Some(Block { close: Some(c), .. }) if c.file == self.loc.file => c.line,
            _ => self.loc.line,
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
}

/// Reads the files an `include` names: `(including file, pattern)` to the
/// matching files in order, or why none could be read.
pub type IncludeFn<'a> = dyn FnMut(&str, &str) -> Result<Vec<Source>, String> + 'a;

/// Included files nest at most this deep (keepalived has no limit and
/// recurses until it crashes).
const MAX_INCLUDE_DEPTH: usize = 8;
/// At most this many files in all, however the globs fan out.
const MAX_FILES: usize = 256;

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
    let mut out = Parsed::default();
    let mut pieces = Vec::new();
    let mut stack = Vec::new();
    lex(main, include, &mut out, &mut pieces, &mut stack);
    out.stmts = build(pieces, &mut out.problems);
    out
}

fn lex(
    src: &Source,
    include: &mut IncludeFn<'_>,
    out: &mut Parsed,
    pieces: &mut Vec<Piece>,
    stack: &mut Vec<String>,
) {
    let file = out.files.len();
    out.files.push(src.name.clone());
    stack.push(src.name.clone());
    for (i, physical) in src.text.lines().enumerate() {
        let loc = Loc { file, line: i + 1 };
        let (line, unclosed) = decomment(physical);
        if unclosed {
            out.problems.push((
                loc,
                "a quote (`\"`) is not closed on this line; keepalived reads it to the end of the line".into(),
            ));
        }
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if line.starts_with("include") {
            let words = split_words(line);
            if words.len() == 2 && words[0] == "include" {
                include_files(&words[1], loc, include, out, pieces, stack);
                continue;
            }
        }
        split_braces(line, loc, pieces);
    }
    stack.pop();
}

fn include_files(
    pattern: &str,
    loc: Loc,
    include: &mut IncludeFn<'_>,
    out: &mut Parsed,
    pieces: &mut Vec<Piece>,
    stack: &mut Vec<String>,
) {
    if stack.len() > MAX_INCLUDE_DEPTH {
        out.problems.push((
            loc,
            format!(
                "`include {pattern}` not read: includes nest more than {MAX_INCLUDE_DEPTH} deep"
            ),
        ));
        return;
    }
    let including = stack.last().cloned().unwrap_or_default();
    match include(&including, pattern) {
        Err(why) => out
            .problems
            .push((loc, format!("`include {pattern}` not read: {why}"))),
        Ok(files) if files.is_empty() => out.problems.push((
            loc,
            format!("`include {pattern}`: no file matches (keepalived goes on without it)"),
        )),
        Ok(files) => {
            for f in files {
                if stack.contains(&f.name) {
                    out.problems.push((
                        loc,
                        format!("`include {pattern}` not read again: `{}` is already being read (an include loop)", f.name),
                    ));
                } else if out.files.len() >= MAX_FILES {
                    out.problems.push((
                        loc,
                        format!(
                            "`{}` not read: more than {MAX_FILES} files are included in all",
                            f.name
                        ),
                    ));
                } else {
                    lex(&f, include, out, pieces, stack);
                }
            }
        }
    }
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

fn build(pieces: Vec<Piece>, problems: &mut Vec<(Loc, String)>) -> Vec<Stmt> {
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
                let stmt = pending.take();
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
        let what = f
            .stmt
            .as_ref()
            .map_or_else(|| "a block".to_string(), |s| format!("`{}`", describe(s)));
        problems.push((
            f.open,
            format!("{what} is not closed: a `}}` is missing; read to the end of the input"),
        ));
        close(f, None, &mut root, &mut frames);
    }
    root
}

/// `vrrp_instance VI_1`: the keyword and its first argument.
pub(super) fn describe(s: &Stmt) -> String {
    match s.arg(0) {
        Some(a) => format!("{} {a}", s.keyword()),
        None => s.keyword().to_string(),
    }
}

/// Splits a command line into argv as a shell would, without expansions:
/// white space separates, `'...'` is literal, `"..."` takes `\"`, `\\`, `\$`
/// and `` \` ``, and a backslash outside quotes escapes the next character.
/// `Err` when a quote is not closed.
pub(super) fn shell_words(s: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err("a quote (`'`) is not closed".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => word.push(c),
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err("a quote (`\"`) is not closed".into()),
                        },
                        Some(c) => word.push(c),
                        None => return Err("a quote (`\"`) is not closed".into()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                word.extend(chars.next());
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
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
        assert_eq!(lines, vec![3, 6, 7, 8], "{:?}", p.problems);
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
    fn shell_words_split_like_sh() {
        assert_eq!(
            shell_words(r#"/bin/sh -c 'a "b"' "c\"d" e\ f"#).unwrap(),
            vec!["/bin/sh", "-c", "a \"b\"", "c\"d", "e f"]
        );
        assert!(shell_words("'x").is_err());
    }
}

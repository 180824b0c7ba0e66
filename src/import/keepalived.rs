//! keepalived.conf to a pharos config: one director's file, or both files
//! of a MASTER/BACKUP pair merged into one config with a `[nodes.NAME]`
//! table per director.
//!
//! ```text
//! text ─► parse (comments, quotes, braces, include) ─► statements
//!      ─► map: global_defs, vrrp_script, vrrp_instance, vrrp_sync_group,
//!         virtual_server(_group), static_* ─► sections of key = value lines,
//!         each note beside the line it concerns
//!      ─► (a pair: merge the two, differences to [nodes.NAME])
//!      ─► TOML text, and a Warning per note
//! ```
//!
//! Pure: the texts come in, and `include` asks the caller for the files a
//! pattern matches (the CLI reads them relative to the including file).
//! keepalived keywords that are misspelt are ignored by keepalived; they
//! are reported with the keyword they were probably meant to be, and
//! imported as that keyword only with [`Options::fix_typos`].

mod doc;
mod keywords;
mod lvs;
mod map;
mod parse;

use std::path::Path;

pub use parse::{IncludeFn, Source};

use super::{Import, Warning, emit};
use doc::{Comment, NodeHead, Places, string};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// Import a misspelt keyword as the keyword it was probably meant to
    /// be (keepalived ignores it).
    pub fix_typos: bool,
}

/// An include reader for texts without includes: every `include` is
/// reported as not read.
pub fn no_includes(_from: &str, _pattern: &str) -> Result<Vec<Source>, String> {
    Err("includes are not read here".into())
}

/// Converts one director's keepalived.conf.
pub fn import(main: &Source, include: &mut IncludeFn<'_>, opts: Options) -> Import {
    let parsed = parse::parse(main, include);
    let errors = errors(&parsed, main);
    let (doc, _) = map::map(&parsed, opts.fix_typos, false);
    let files = short_names(&parsed.files, &main.name);
    let head = vec![
        format!(
            "Imported from `{}` by `pharos import keepalived`.",
            main.name
        ),
        String::new(),
        "keepalived's `state MASTER|BACKUP` has no pharos key: the highest priority".into(),
        "becomes master. Comments starting `# line N:` say what did not carry over".into(),
        "from line N of the keepalived file.".into(),
    ];
    let toml = doc::render(
        &doc,
        &head,
        &Places {
            files: &files,
            main: Some(0),
        },
    );
    Import {
        warnings: warnings(&doc, &parsed.files),
        toml,
        errors,
    }
}

/// Converts both directors' files of a pair into one config: what they
/// share at the top level, what differs in a `[nodes.NAME]` table each,
/// matched by the director's host name (keepalived's `router_id`).
pub fn import_pair(a: &Source, b: &Source, include: &mut IncludeFn<'_>, opts: Options) -> Import {
    let pa = parse::parse(a, include);
    let mut pb = parse::parse(b, include);
    let mut errs = errors(&pa, a);
    errs.extend(errors(&pb, b));
    let offset = pa.files.len();
    shift(&mut pb, offset);
    let (da, ma) = map::map(&pa, opts.fix_typos, true);
    let (db, mb) = map::map(&pb, opts.fix_typos, true);

    let mut files = short_names(&pa.files, &a.name);
    files.extend(short_names(&pb.files, &b.name));
    let mut all_files = pa.files.clone();
    all_files.extend(pb.files.iter().cloned());

    let ids = [
        ma.router_id.as_ref().map(|r| r.0.clone()),
        mb.router_id.as_ref().map(|r| r.0.clone()),
    ];
    let stems = [stem(&a.name), stem(&b.name)];
    let by_id = matches!(&ids, [Some(x), Some(y)] if x != y);
    let names: [String; 2] = if by_id {
        [
            ids[0].clone().unwrap_or_default(),
            ids[1].clone().unwrap_or_default(),
        ]
    } else if stems[0] != stems[1] {
        stems.clone()
    } else {
        ["a".into(), "b".into()]
    };
    let heads = [0, 1].map(|i| {
        let (m, short) = if i == 0 {
            (&ma, &files[0])
        } else {
            (&mb, &files[offset])
        };
        let mut lead = Vec::new();
        let mut comment = short.clone();
        match &m.router_id {
            Some((id, _)) => comment.push_str(&format!(": keepalived router_id {id}")),
            None => comment.push_str(": no router_id"),
        }
        for (inst, st) in &m.states {
            lead.push(Comment::Text(format!("{short}: vrrp_instance {inst} is `state {st}`")));
        }
        if !by_id {
            lead.push(Comment::Text(
                "the two files have no distinct router_id to match the boxes' host names by:".into(),
            ));
            lead.push(Comment::Text(format!(
                "run this director with `--node {0}` or `pharos.node={0}` on the kernel command line",
                names[i]
            )));
        }
        NodeHead {
            name: names[i].clone(),
            matcher: by_id.then(|| format!("{{ hostname = {} }}", string(&names[i]))),
            comment: Some(comment),
            lead,
        }
    });
    let merged = doc::merge(da, db, heads);
    let head = vec![
        format!(
            "Imported from `{}` and `{}` by `pharos import keepalived`.",
            a.name, b.name
        ),
        String::new(),
        "What the two directors share is at the top; each `[nodes.NAME]` table at the".into(),
        "end holds what differs (priorities, addresses) and is picked by the box's".into(),
        "host name. keepalived's `state MASTER|BACKUP` has no pharos key: the highest".into(),
        "priority becomes master. Comments starting `# line N of FILE:` say what did".into(),
        "not carry over.".into(),
    ];
    let toml = doc::render(
        &merged,
        &head,
        &Places {
            files: &files,
            main: None,
        },
    );
    Import {
        warnings: warnings(&merged, &all_files),
        toml,
        errors: errs,
    }
}

/// What makes an import of `main` not worth using, each with what to do:
///
/// - No keepalived block at all: the wrong file was given (a pharos TOML,
///   say), and the import would be an empty config under a pile of
///   warnings about lines that were never keepalived's.
/// - A block whose `}` is missing: keepalived reads everything after its
///   `{` as inside it (a `vrrp_instance` there is an unknown keyword to
///   it), so no reading of the file is both right and what keepalived
///   runs. keepalived 2.2 reports it ("There are 1 missing '}'s") and
///   `keepalived --config-test` fails on it.
fn errors(parsed: &parse::Parsed, main: &Source) -> Vec<Warning> {
    let keepalived_like = parsed.saw_include
        || parsed
            .stmts
            .iter()
            .any(|s| keywords::ROOT_KW.contains(&s.keyword()));
    if !keepalived_like {
        let first = parsed.stmts.iter().find(|s| s.loc.file == 0);
        let why = match first {
            None => "it holds no statements at all (it is empty, or all comments)".to_string(),
            Some(_) if toml::from_str::<toml::Table>(&main.text).is_ok() => {
                "it parses as TOML; a pharos config needs no import: check it with `pharos check FILE`"
                    .to_string()
            }
            Some(f) => {
            let mut text = emit::sanitize(f.raw.trim());
            if text.chars().count() > 40 {
                text = text.chars().take(40).collect::<String>() + "...";
            }
            format!(
                "its first statement, `{text}` (line {}), is no keepalived keyword",
                f.loc.line
            )
            }
        };
        return vec![Warning {
            file: Some(main.name.clone()),
            line: 0,
            message: format!(
                "this does not look like a keepalived config: no line starts one of keepalived's blocks (global_defs, vrrp_instance, virtual_server, ...), and {why}; nothing was imported. Give the path of a keepalived.conf (usually /etc/keepalived/keepalived.conf)"
            ),
        }];
    }
    parsed
        .unclosed
        .iter()
        .map(|(at, what)| Warning {
            file: parsed.files.get(at.file).cloned(),
            line: at.line,
            message: format!(
                "{what} is not closed: its `}}` is missing, so keepalived reads everything after this line as inside it (it reports the missing `}}`, and `keepalived --config-test` fails); nothing was imported. Add the `}}` where the block ends, then import again"
            ),
        })
        .collect()
}

/// One warning per place of each note, in file and line order.
fn warnings(doc: &doc::Doc, files: &[String]) -> Vec<Warning> {
    let mut out: Vec<(usize, Warning)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for n in doc::notes(doc) {
        for at in &n.at {
            if !seen.insert((*at, n.message.as_str())) {
                continue;
            }
            out.push((
                at.file,
                Warning {
                    file: files.get(at.file).cloned(),
                    line: at.line,
                    message: emit::sanitize(&n.message),
                },
            ));
        }
    }
    out.sort_by_key(|(f, w)| (*f, w.line));
    out.into_iter().map(|(_, w)| w).collect()
}

/// File names as the comments show them: relative to the main file's
/// directory when inside it.
fn short_names(files: &[String], main: &str) -> Vec<String> {
    let dir = Path::new(main).parent().map(Path::to_path_buf);
    files
        .iter()
        .map(|f| {
            let p = Path::new(f);
            match &dir {
                Some(d) if !d.as_os_str().is_empty() => p
                    .strip_prefix(d)
                    .map_or_else(|_| f.clone(), |r| r.display().to_string()),
                _ => f.clone(),
            }
        })
        .collect()
}

fn stem(name: &str) -> String {
    Path::new(name)
        .file_stem()
        .map_or_else(|| name.to_string(), |s| s.to_string_lossy().into_owned())
}

/// Moves `p`'s places after the first file's (its `files` stay its own).
fn shift(p: &mut parse::Parsed, offset: usize) {
    fn stmts(ss: &mut [parse::Stmt], offset: usize) {
        for s in ss {
            s.loc.file += offset;
            if let Some(b) = &mut s.block {
                if let Some(c) = &mut b.close {
                    c.file += offset;
                }
                stmts(&mut b.stmts, offset);
            }
        }
    }
    stmts(&mut p.stmts, offset);
    for (l, _) in p.problems.iter_mut().chain(p.unclosed.iter_mut()) {
        l.file += offset;
    }
}

/// Whether `name` matches the shell glob `pattern` (`*`, `?`, `[...]`,
/// `[!...]`, `{a,b}`), as glob(3) matches one path component: `*` and `?`
/// do not match `/`, nor a leading `.`.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let mut alternatives = Vec::new();
    expand_braces(pattern, &mut alternatives, 0);
    let n: Vec<char> = name.chars().collect();
    alternatives.iter().any(|p| {
        let p: Vec<char> = p.chars().collect();
        if n.first() == Some(&'.') && p.first() != Some(&'.') {
            return false;
        }
        match_here(&p, &n)
    })
}

/// `a{b,c}d` → `abd`, `acd` (nested braces too); at most 64 results.
fn expand_braces(p: &str, out: &mut Vec<String>, depth: usize) {
    if out.len() >= 64 || depth > 8 {
        return;
    }
    let Some(open) = p.find('{') else {
        out.push(p.to_string());
        return;
    };
    let mut level = 0;
    let mut parts = Vec::new();
    let mut start = open + 1;
    let mut close = None;
    for (i, c) in p[open..].char_indices() {
        let i = i + open;
        match c {
            '{' => level += 1,
            '}' => {
                level -= 1;
                if level == 0 {
                    parts.push(&p[start..i]);
                    close = Some(i);
                    break;
                }
            }
            ',' if level == 1 => {
                parts.push(&p[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    let Some(close) = close else {
        out.push(p.to_string());
        return;
    };
    for part in parts {
        let next = format!("{}{}{}", &p[..open], part, &p[close + 1..]);
        expand_braces(&next, out, depth + 1);
    }
}

fn match_here(p: &[char], n: &[char]) -> bool {
    // Iterative with one backtrack point for `*`: linear in practice.
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        let step = match p.get(pi) {
            Some('*') => {
                star = Some((pi, ni));
                pi += 1;
                continue;
            }
            Some('?') if n[ni] != '/' => Some(pi + 1),
            Some('[') => class(p, pi, n[ni]),
            Some('\\') if p.get(pi + 1) == Some(&n[ni]) => Some(pi + 2),
            Some(&c) if c == n[ni] && c != '\\' => Some(pi + 1),
            _ => None,
        };
        match step {
            Some(next) => {
                pi = next;
                ni += 1;
            }
            None => match star {
                Some((sp, sn)) if n[sn] != '/' => {
                    pi = sp + 1;
                    ni = sn + 1;
                    star = Some((sp, sn + 1));
                }
                _ => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Matches `c` against the class starting at `p[at] == '['`; the index
/// after the class when it matches.
fn class(p: &[char], at: usize, c: char) -> Option<usize> {
    let mut i = at + 1;
    let negate = matches!(p.get(i), Some('!' | '^'));
    if negate {
        i += 1;
    }
    let mut hit = false;
    let mut first = true;
    loop {
        let &x = p.get(i)?;
        if x == ']' && !first {
            break;
        }
        first = false;
        if p.get(i + 1) == Some(&'-') && p.get(i + 2).is_some_and(|&e| e != ']') {
            let e = p[i + 2];
            hit |= x <= c && c <= e;
            i += 3;
        } else {
            hit |= x == c;
            i += 1;
        }
    }
    (hit != negate && c != '/').then_some(i + 1)
}

#[cfg(test)]
mod tests;

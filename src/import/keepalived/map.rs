//! keepalived statements to the pharos document: global_defs, vrrp_script,
//! vrrp_instance, vrrp_sync_group and the static addresses and routes
//! here; virtual servers and their checks in `lvs.rs`.
//!
//! Each block is read into a few typed values (with the notes earned on
//! the way, keyed by the pharos line they concern), then written as its
//! sections. Blocks are taken in the order their references need: scripts
//! before the instances that track them, instances before the sync groups,
//! the sync daemon and the services that name them.

use std::borrow::Cow;
use std::collections::HashMap;
use std::net::IpAddr;

use super::doc::{Comment, Doc, Note, Section, array, inline, key, string};
use super::keywords::*;
use super::parse::{self, Loc, Parsed, Stmt, describe};
use crate::config::suggest;
use crate::config::types::{Duration, Family, IfName, VirtualAddress};
use crate::import::emit;
use crate::import::naming::most_common;

/// Notes of one block, keyed by the pharos line they belong above ("" for
/// the end of the section).
pub(super) type Notes = Vec<(String, Note)>;

pub(super) fn push(notes: &mut Notes, key: &str, note: Note) {
    notes.push((key.to_string(), note));
}

/// A statement quoted for a message: as written, shortened.
pub(super) fn quote(s: &Stmt) -> String {
    let raw = s.raw.trim();
    let mut out: String = raw.chars().take(60).collect();
    if raw.chars().count() > 60 {
        out.push('…');
    }
    out
}

/// Why a time is not imported.
pub(super) const SECONDS: &str = "it is not a number of seconds";

/// Why a VRRP version is not imported.
pub(super) const VRRP_VERSION: &str = "the VRRP version is 2 or 3";

/// A VRRP version pharos speaks.
pub(super) fn vrrp_version(s: &str) -> Option<u8> {
    int(s, 2, 3).map(|n| n as u8)
}

/// A VRID or a priority.
pub(super) fn one_to_255(s: &str) -> Option<u8> {
    int(s, 1, 255).map(|n| n as u8)
}

/// Why a count is not imported.
pub(super) const COUNT: &str = "it is not a count of 1 or more";

/// A count of 1 or more, as keepalived takes it.
pub(super) fn count(s: &str) -> Option<i64> {
    int(s, 1, 1_000_000)
}

/// A value taken as written.
pub(super) fn word(s: &str) -> Option<String> {
    Some(s.to_string())
}

/// A Linux interface name, as written.
pub(super) fn ifname(s: &str) -> Option<String> {
    s.parse::<IfName>().is_ok().then(|| s.to_string())
}

/// A time of more than zero seconds.
pub(super) fn nonzero_secs(s: &str) -> Option<Duration> {
    secs(s).filter(|d| !d.is_zero())
}

/// keepalived reads times as decimal seconds.
pub(super) fn secs(s: &str) -> Option<Duration> {
    let t = s.trim();
    if t.is_empty()
        || t.len() > 20
        || !t.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        || t.bytes().filter(|&b| b == b'.').count() > 1
        || t.starts_with('.') && t.len() == 1
    {
        return None;
    }
    let (whole, frac) = t.split_once('.').unwrap_or((t, ""));
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    if whole > 10_000_000 {
        return None;
    }
    let mut ms = whole * 1000;
    let digits: Vec<u64> = frac.bytes().take(4).map(|b| u64::from(b - b'0')).collect();
    let scaled = digits.iter().take(3).fold(0u64, |acc, d| acc * 10 + d)
        * 10u64.pow(3u32.saturating_sub(digits.len().min(3) as u32));
    ms += scaled;
    if digits.len() > 3 && digits[3] >= 5 {
        ms += 1;
    }
    Some(Duration::from_millis(ms))
}

pub(super) fn int(s: &str, lo: i64, hi: i64) -> Option<i64> {
    s.trim()
        .parse::<i64>()
        .ok()
        .filter(|n| (lo..=hi).contains(n))
}

pub(super) fn dur(d: Duration) -> String {
    string(&d.to_string())
}

/// A command as keepalived reads `script`, `misc_path` and `notify*`:
/// either one quoted string (then the words after it are a user and
/// group), or the rest of the line; split into argv as a shell would.
/// Returns (the command as written, argv, the words after a quoted one).
pub(super) fn command_words(s: &Stmt) -> Result<(String, Vec<String>, Vec<String>), String> {
    let rest = s.rest();
    if let Some(q) = rest.strip_prefix('"')
        && let Some(end) = q.find('"')
    {
        let inner = &q[..end];
        let argv = parse::shell_words(inner)?;
        let extra = parse::split_words(&q[end + 1..]);
        return Ok((inner.to_string(), argv, extra));
    }
    let argv = parse::shell_words(rest)?;
    Ok((rest.to_string(), argv, Vec::new()))
}

/// Shell syntax that a command without a shell would pass on as words.
fn shell_syntax(written: &str, argv: &[String]) -> Option<String> {
    const OPS: &[&str] = &[
        "|", "||", "&&", ";", "&", ">", ">>", "<", "2>&1", "2>", "<<",
    ];
    for w in argv {
        if OPS.contains(&w.as_str())
            || w.starts_with('>')
            || w.starts_with('<')
            || w.starts_with("2>")
            || w.ends_with(';')
        {
            return Some(w.clone());
        }
    }
    for pat in ["$(", "`", "${"] {
        if written.contains(pat) {
            return Some(pat.to_string());
        }
    }
    None
}

/// argv fit for pharos (an absolute program), and why it differs from
/// what was written, if it does.
pub(super) fn pharos_argv(
    written: &str,
    argv: Vec<String>,
) -> Option<(Vec<String>, Option<String>)> {
    let first = argv.first()?.clone();
    if let Some(op) = shell_syntax(written, &argv) {
        return Some((
            vec!["/bin/sh".into(), "-c".into(), written.to_string()],
            Some(format!(
                "`{written}` uses shell syntax (`{op}`), which keepalived 2 passes to the program as words; imported as `/bin/sh -c` so it does what it says"
            )),
        ));
    }
    if first.starts_with('/') {
        return Some((argv, None));
    }
    let mut env = vec!["/usr/bin/env".to_string()];
    env.extend(argv);
    Some((
        env,
        Some(format!(
            "`{first}` is not an absolute path: pharos runs commands without a PATH search, so it runs through `/usr/bin/env`; write the full path of `{first}` instead"
        )),
    ))
}

pub(super) fn argv_value(argv: &[String]) -> String {
    array(&argv.iter().map(|a| string(a)).collect::<Vec<_>>())
}

// ---------------------------------------------------------------- the mapper

/// A vrrp_script as imported.
pub(super) struct ScriptInfo {
    pub weight: i64,
}

/// A vrrp_instance as imported: what the services, groups and the sync
/// daemon need to know of it.
pub(super) struct InstanceInfo {
    pub family: Family,
    pub vips: Vec<IpAddr>,
    pub vrid: u8,
    pub interface: String,
}

/// An interface named somewhere; declared under `[interfaces]`.
struct Iface {
    name: String,
    addresses: Vec<String>,
}

pub(super) struct Mapper {
    pub fix_typos: bool,
    /// Importing one of a pair: the router id goes to the node table.
    pub pair: bool,
    pub top: Vec<Comment>,
    /// Where each top-level block went, for the parser's notes:
    /// (file, first line, last line, section path).
    pub anchors: Vec<(Loc, usize, Vec<String>)>,
    pub router_id: Option<(String, Loc)>,
    default_interface: Option<String>,
    vrrp_version: Option<u8>,
    garp_defaults: Vec<(&'static str, String, Loc)>,
    lvs_flush: Option<Loc>,
    lvs_flush_onstop: Option<Loc>,
    timeouts: Option<(Vec<(String, String)>, Loc)>,
    pub global_sync: Option<(Stmt, Notes)>,
    pub scripts: HashMap<String, ScriptInfo>,
    pub instances: HashMap<String, InstanceInfo>,
    /// Instances in the order they were imported.
    pub instance_order: Vec<String>,
    /// Instance → the sync group it is in.
    grouped: HashMap<String, String>,
    ifaces: Vec<Iface>,
    pub nat4: bool,
    pub nat6: bool,
    sync: Option<(Section, Notes)>,
    routes: Vec<Section>,
    check_sections: Vec<Section>,
    vrrp_sections: Vec<Section>,
    group_sections: Vec<Section>,
    pub service_sections: Vec<Section>,
    /// States as keepalived had them, for the pair's node tables.
    pub states: Vec<(String, String)>,
}

/// The root statements sorted by what they are.
#[derive(Default)]
struct Roots<'a> {
    global: Vec<Cow<'a, Stmt>>,
    scripts: Vec<Cow<'a, Stmt>>,
    instances: Vec<Cow<'a, Stmt>>,
    groups: Vec<Cow<'a, Stmt>>,
    vsgroups: Vec<Cow<'a, Stmt>>,
    services: Vec<Cow<'a, Stmt>>,
    statics: Vec<Cow<'a, Stmt>>,
}

/// Maps parsed keepalived statements to a pharos document.
pub(super) fn map(parsed: &Parsed, fix_typos: bool, pair: bool) -> (Doc, Mapper) {
    let mut m = Mapper {
        fix_typos,
        pair,
        top: Vec::new(),
        anchors: Vec::new(),
        router_id: None,
        default_interface: None,
        vrrp_version: None,
        garp_defaults: Vec::new(),
        lvs_flush: None,
        lvs_flush_onstop: None,
        timeouts: None,
        global_sync: None,
        scripts: HashMap::new(),
        instances: HashMap::new(),
        instance_order: Vec::new(),
        grouped: HashMap::new(),
        ifaces: Vec::new(),
        nat4: false,
        nat6: false,
        sync: None,
        routes: Vec::new(),
        check_sections: Vec::new(),
        vrrp_sections: Vec::new(),
        group_sections: Vec::new(),
        service_sections: Vec::new(),
        states: Vec::new(),
    };
    let mut roots = Roots::default();
    let mut top_notes: Notes = Vec::new();
    for s in &parsed.stmts {
        m.root(Cow::Borrowed(s), &mut roots, &mut top_notes);
    }
    for g in &roots.global {
        let mut notes = Vec::new();
        m.global_defs(g, &mut notes);
        top_notes.extend(notes);
    }
    for s in &roots.scripts {
        m.vrrp_script(s);
    }
    for s in &roots.instances {
        m.vrrp_instance(s);
    }
    m.global_sync_daemon();
    for s in &roots.groups {
        m.sync_group(s);
    }
    let groups = m.vs_groups(&roots.vsgroups, &mut top_notes);
    m.virtual_servers(&roots.services, &groups);
    for s in &roots.statics {
        m.statics(s, &mut top_notes);
    }

    // The parser's notes go to the section of the block they are in.
    let mut doc = m.assemble();
    let mut loose_top: Vec<Comment> = Vec::new();
    for (at, message) in &parsed.problems {
        let note = Note::new(*at, message.clone());
        let anchor = m
            .anchors
            .iter()
            .find(|(l, end, _)| l.file == at.file && (l.line..=*end).contains(&at.line))
            .map(|(_, _, p)| p.clone());
        let sec = anchor.and_then(|p| doc.sections.iter_mut().find(|s| s.path == p));
        match sec {
            Some(s) => s.tail.push(Comment::Note(note)),
            None => loose_top.push(Comment::Note(note)),
        }
    }
    // A section's closing notes in line order, its explanations after.
    for s in &mut doc.sections {
        s.tail.sort_by_key(|c| match c {
            Comment::Note(n) => (0, n.at.first().copied()),
            Comment::Text(_) => (1, None),
        });
    }
    doc.top.append(&mut m.top);
    doc.top
        .extend(top_notes.into_iter().map(|(_, n)| Comment::Note(n)));
    doc.top.extend(loose_top);
    // In line order (explanations first; the renderer keeps them apart).
    doc.top.sort_by_key(|c| match c {
        Comment::Text(_) => None,
        Comment::Note(n) => n.at.first().copied(),
    });
    (doc, m)
}

impl Mapper {
    /// Reports an unknown keyword. With `--fix-typos` and a keyword close
    /// to it, returns the statement spelled right.
    pub(super) fn unknown(&mut self, cx: Cx, s: &Stmt, notes: &mut Notes) -> Option<Stmt> {
        let kw = s.keyword();
        let known = known(cx);
        // The edit distance is dear; only keywords that can be within it
        // are given to it (see `may_be_close`).
        let plausible = kw.len() <= 40
            && kw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        let near = known.iter().copied().filter(|k| may_be_close(kw, k));
        let close = if plausible {
            suggest::closest(kw, near)
        } else {
            None
        };
        match close {
            Some(meant) if self.fix_typos => {
                push(
                    notes,
                    out_key(meant),
                    Note::new(
                        s.loc,
                        format!(
                            "unknown keyword `{kw}` imported as `{meant}` (--fix-typos); keepalived itself ignores it"
                        ),
                    ),
                );
                let mut fixed = s.clone();
                fixed.words[0] = meant.to_string();
                fixed.raw = match fixed.raw.trim_start().strip_prefix(kw) {
                    Some(r) => format!("{meant}{r}"),
                    None => fixed.raw,
                };
                Some(fixed)
            }
            Some(meant) => {
                push(
                    notes,
                    "",
                    Note::new(
                        s.loc,
                        format!(
                            "unknown keyword `{kw}`, did you mean `{meant}`? (keepalived ignores it; pass --fix-typos to import it as `{meant}`)"
                        ),
                    ),
                );
                None
            }
            None => {
                let what = if s.block.is_some() {
                    format!(
                        "unknown block `{}` (lines {}-{}) not imported",
                        emit::sanitize(&describe(s)),
                        s.loc.line,
                        s.end_line()
                    )
                } else {
                    format!("unknown keyword `{kw}` not imported")
                };
                push(
                    notes,
                    "",
                    Note::new(s.loc, format!("{what} (keepalived ignores it)")),
                );
                None
            }
        }
    }

    /// A keyword keepalived knows but pharos has nothing for.
    pub(super) fn unsupported(&self, s: &Stmt, notes: &mut Notes) {
        let what = if s.block.is_some() {
            format!("`{} {{ ... }}`", emit::sanitize(&describe(s)))
        } else {
            format!("`{}`", quote(s))
        };
        push(
            notes,
            "",
            Note::new(
                s.loc,
                format!("{what} not imported: {}", unsupported_reason(s.keyword())),
            ),
        );
    }

    pub(super) fn bad(&self, s: &Stmt, notes: &mut Notes, key: &str, why: impl AsRef<str>) {
        push(
            notes,
            key,
            Note::new(
                s.loc,
                format!("`{}` not imported: {}", quote(s), why.as_ref()),
            ),
        );
    }

    /// The first argument of `s` as `parse` reads it; if there is none or
    /// it does not parse, a note that `s` was not imported and `why`.
    pub(super) fn parsed<T>(
        &self,
        s: &Stmt,
        notes: &mut Notes,
        key: &str,
        parse: impl FnOnce(&str) -> Option<T>,
        why: impl AsRef<str>,
    ) -> Option<T> {
        let value = s.arg(0).and_then(parse);
        if value.is_none() {
            self.bad(s, notes, key, why);
        }
        value
    }

    /// Declares an interface (once), in the order they are named.
    pub(super) fn iface(&mut self, name: &str) {
        if name != "lo" && !self.ifaces.iter().any(|i| i.name == name) {
            self.ifaces.push(Iface {
                name: name.to_string(),
                addresses: Vec::new(),
            });
        }
    }

    fn root<'a>(&mut self, s: Cow<'a, Stmt>, roots: &mut Roots<'a>, notes: &mut Notes) {
        match s.keyword() {
            "global_defs" => roots.global.push(s),
            "vrrp_script" => roots.scripts.push(s),
            "vrrp_instance" => roots.instances.push(s),
            "vrrp_sync_group" => roots.groups.push(s),
            "virtual_server_group" => roots.vsgroups.push(s),
            "virtual_server" => roots.services.push(s),
            "static_ipaddress" | "static_routes" => roots.statics.push(s),
            k if ROOT_KW.contains(&k) => self.unsupported(&s, notes),
            _ => {
                if let Some(fixed) = self.unknown(Cx::Root, &s, notes) {
                    self.root(Cow::Owned(fixed), roots, notes);
                }
            }
        }
    }
}

const NOTIFY_KEYS: [&str; 5] = ["master", "backup", "fault", "stop", "any"];

fn notify_slot(kw: &str) -> usize {
    match kw {
        "notify_master" => 0,
        "notify_backup" => 1,
        "notify_fault" => 2,
        "notify_stop" => 3,
        _ => 4,
    }
}

/// Whether `suggest::closest` could find `a` and `b` alike (similarity
/// 0.7 or more), by a bound that is cheap: an edit changes at most one
/// character of the multiset and a transposition none, so the distance is
/// at least the longer length less the characters the two share. Both are
/// ASCII here; compared as `suggest` does, ignoring case and `-`/`_`.
fn may_be_close(a: &str, b: &str) -> bool {
    let norm = |c: u8| match c.to_ascii_lowercase() {
        b'-' => b'_',
        c => c & 0x7f,
    };
    let squashed_a = a.bytes().map(norm).filter(|&c| c != b'_');
    if squashed_a.eq(b.bytes().map(norm).filter(|&c| c != b'_')) {
        return true;
    }
    let mut count = [0i32; 128];
    for c in a.bytes() {
        count[usize::from(norm(c))] += 1;
    }
    let mut shared = 0;
    for c in b.bytes() {
        let slot = &mut count[usize::from(norm(c))];
        if *slot > 0 {
            *slot -= 1;
            shared += 1;
        }
    }
    let longer = a.len().max(b.len());
    let least = longer - shared;
    // 1 - least/longer >= 0.7, in integers.
    10 * least <= 3 * longer
}

mod assembly;
mod global_defs;
mod statics;
#[cfg(test)]
mod tests;
mod vrrp_instance;
mod vrrp_script;
mod vrrp_sync_group;

//! The TOML emitter both importers write with: how values, keys, table
//! headers, trailing comments and `# line N:` notes are spelt, laid out
//! like the files in `configs/`.
//!
//! Owns only spelling: what goes where is the importers' business
//! (`ipvsadm/render.rs`, `keepalived/doc.rs`). Talks to nobody but the
//! config model's names for forwarding methods.

use std::fmt::Write as _;

use crate::config::model::Forwarding;

/// Trailing comments start here, as in `configs/`.
pub(crate) const COMMENT_COLUMN: usize = 40;

/// TOML text of a string.
pub(crate) fn string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A TOML key: bare when it can be, quoted otherwise.
pub(crate) fn key(k: &str) -> String {
    if !k.is_empty()
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        k.to_string()
    } else {
        string(k)
    }
}

/// `["a", "b"]` from already written values.
pub(crate) fn array(items: &[String]) -> String {
    format!("[{}]", items.join(", "))
}

/// `{ a = 1, b = "x" }` from already written pairs; `{}` when empty.
pub(crate) fn inline(pairs: &[(String, String)]) -> String {
    if pairs.is_empty() {
        return "{}".into();
    }
    let inner: Vec<String> = pairs.iter().map(|(k, v)| format!("{k} = {v}")).collect();
    format!("{{ {} }}", inner.join(", "))
}

/// A table header's dotted path, each part a key.
pub(crate) fn header(path: &[String]) -> String {
    path.iter().map(|p| key(p)).collect::<Vec<_>>().join(".")
}

/// Text fit for a one-line TOML comment: no control characters but tab.
pub(crate) fn sanitize(s: &str) -> String {
    if !s.chars().any(|c| c != '\t' && c.is_control()) {
        return s.to_string();
    }
    s.chars()
        .map(|c| {
            if c == '\t' || !c.is_control() {
                c.to_string()
            } else {
                c.escape_default().to_string()
            }
        })
        .collect()
}

/// `text` as a line, with `comment` (if any) trailing it at the comment
/// column.
pub(crate) fn line(out: &mut String, text: &str, comment: Option<&str>) {
    out.push_str(text);
    if let Some(c) = comment {
        let pad = COMMENT_COLUMN.saturating_sub(text.chars().count()).max(3);
        out.push_str(&" ".repeat(pad));
        out.push_str("# ");
        out.push_str(&sanitize(c));
    }
    out.push('\n');
}

/// A note on a line of its own: `# line N: message` (`place` is `line N`,
/// or several places).
pub(crate) fn note(place: &str, message: &str) -> String {
    format!("# {place}: {}", sanitize(message))
}

/// A forwarding method as the config spells it.
pub(crate) fn forwarding(f: Forwarding) -> &'static str {
    match f {
        Forwarding::Nat => "nat",
        Forwarding::Dr => "dr",
        Forwarding::Tun => "tun",
    }
}

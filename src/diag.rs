//! Diagnostics: what is wrong, where (file, line, column, span), and what to
//! do about it. Rendered rustc-style for people and as JSON for tools.
//!
//! Owned here so every subsystem that finds a problem in the config (the
//! validator now, the apply steps later) reports it the same way.

use std::ops::Range;

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Diagnostic {
    pub severity: Severity,
    pub message: String,
    /// Byte range in the source; `None` for problems with the file as a whole.
    pub span: Option<Range<usize>>,
    /// Other places that explain this one ("first used here").
    pub related: Vec<(Range<usize>, String)>,
    pub help: Option<String>,
    pub notes: Vec<String>,
}

impl Diagnostic {
    pub fn error(message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            message: message.into(),
            span: None,
            related: Vec::new(),
            help: None,
            notes: Vec::new(),
        }
    }

    pub fn warning(message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(message)
        }
    }

    pub fn at(mut self, span: Range<usize>) -> Self {
        self.span = Some(span);
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn help_opt(mut self, help: Option<String>) -> Self {
        self.help = help;
        self
    }

    pub fn related(mut self, span: Range<usize>, label: impl Into<String>) -> Self {
        self.related.push((span, label.into()));
        self
    }

    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// A source file the diagnostics point into.
pub struct Source<'a> {
    pub path: &'a str,
    pub text: &'a str,
    /// Byte offset of the start of each line, so that a position costs a
    /// binary search, not a scan of a file that may be megabytes long;
    /// found when a position is first asked for (a reload of a valid
    /// 4 MB file has none to place).
    line_starts: std::sync::OnceLock<Vec<usize>>,
}

impl<'a> Source<'a> {
    pub fn new(path: &'a str, text: &'a str) -> Self {
        Source {
            path,
            text,
            line_starts: std::sync::OnceLock::new(),
        }
    }

    fn line_starts(&self) -> &[usize] {
        self.line_starts.get_or_init(|| {
            std::iter::once(0)
                .chain(self.text.match_indices('\n').map(|(i, _)| i + 1))
                .collect()
        })
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let mut start = offset.min(self.text.len());
        while !self.text.is_char_boundary(start) {
            start -= 1;
        }
        let starts = self.line_starts();
        let line = starts.partition_point(|&s| s <= start);
        let line_start = starts[line - 1];
        let col = self.text[line_start..start].chars().count() + 1;
        (line, col)
    }
}

/// One diagnostic as `pharos check --format json` prints it.
#[derive(Debug, Serialize)]
pub struct JsonDiagnostic<'a> {
    pub severity: Severity,
    pub message: &'a str,
    pub file: &'a str,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub end_line: Option<usize>,
    pub end_column: Option<usize>,
    pub help: Option<&'a str>,
    pub notes: &'a [String],
}

pub fn to_json<'a>(source: &Source<'a>, diags: &'a [Diagnostic]) -> Vec<JsonDiagnostic<'a>> {
    diags
        .iter()
        .map(|d| {
            let start = d.span.as_ref().map(|s| source.line_col(s.start));
            let end = d.span.as_ref().map(|s| source.line_col(s.end));
            JsonDiagnostic {
                severity: d.severity,
                message: &d.message,
                file: source.path,
                line: start.map(|p| p.0),
                column: start.map(|p| p.1),
                end_line: end.map(|p| p.0),
                end_column: end.map(|p| p.1),
                help: d.help.as_deref(),
                notes: &d.notes,
            }
        })
        .collect()
}

/// Renders diagnostics rustc-style. `color` adds ANSI styling.
pub fn render(source: &Source<'_>, diags: &[Diagnostic], color: bool) -> String {
    let renderer = if color {
        Renderer::styled()
    } else {
        Renderer::plain()
    };
    let mut out = String::new();
    for d in diags {
        let level = match d.severity {
            Severity::Error => Level::ERROR,
            Severity::Warning => Level::WARNING,
        };
        let title = level.primary_title(d.message.as_str());
        let mut group: Group<'_> = match &d.span {
            Some(span) => {
                let span = clamp(span.clone(), source.text);
                let mut snippet = Snippet::source(source.text)
                    .path(source.path)
                    .annotation(AnnotationKind::Primary.span(span));
                for (rs, label) in &d.related {
                    snippet = snippet.annotation(
                        AnnotationKind::Context
                            .span(clamp(rs.clone(), source.text))
                            .label(label.as_str()),
                    );
                }
                title.element(snippet)
            }
            None => {
                Group::with_title(title).element(Level::NOTE.message(format!("in {}", source.path)))
            }
        };
        for note in &d.notes {
            group = group.element(Level::NOTE.message(note.as_str()));
        }
        if let Some(help) = &d.help {
            group = group.element(Level::HELP.message(help.as_str()));
        }
        out.push_str(&renderer.render(&[group]));
        out.push_str("\n\n");
    }
    out
}

/// Keeps a span inside the text and on character boundaries, never empty
/// unless the text is.
fn clamp(span: Range<usize>, text: &str) -> Range<usize> {
    let fix = |mut i: usize| {
        i = i.min(text.len());
        while !text.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    let start = fix(span.start);
    let mut end = fix(span.end.max(span.start));
    if end == start && end < text.len() {
        end = fix(start + 1);
        while end < text.len() && !text.is_char_boundary(end) {
            end += 1;
        }
    }
    start..end
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_count_characters() {
        let s = Source::new("x.toml", "a = 1\nbé = 2\n");
        assert_eq!(s.line_col(0), (1, 1));
        assert_eq!(s.line_col(6), (2, 1));
        // `=` after the two-byte `é`.
        assert_eq!(s.line_col(10), (2, 4));
    }

    #[test]
    fn renders_file_line_column_caret_and_help() {
        let text = "[vrrp.VI_1]\nvrid = 300\n";
        let s = Source::new("p.toml", text);
        let d = Diagnostic::error("VRID 300 is out of range")
            .at(19..22)
            .help("a VRID is 1 to 255");
        let out = render(&s, &[d], false);
        assert!(out.contains("error: VRID 300 is out of range"), "{out}");
        assert!(out.contains("--> p.toml:2:8"), "{out}");
        assert!(out.contains("^^^"), "{out}");
        assert!(out.contains("help: a VRID is 1 to 255"), "{out}");
    }
}

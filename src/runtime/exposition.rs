//! The two text formats `/metrics` speaks, and which one a scraper gets.
//!
//! prometheus-client writes the OpenMetrics 1.0 text format only. Read as
//! Prometheus's classic text format 0.0.4 (what `promtool check metrics`,
//! `curl | grep` habits and older scrapers read), it is wrong in one
//! place that matters: an OpenMetrics counter is a family `x`
//! (`# HELP x`, `# TYPE x counter`) whose sample is `x_total`, so a 0.0.4
//! reader sees a family `x` with no samples and an untyped `x_total` with
//! no help. So the endpoint does what Prometheus's own Go client does
//! (`expfmt.NegotiateIncludingOpenMetrics`): OpenMetrics when the
//! scraper's `Accept` header prefers it (a Prometheus server asks for
//! `application/openmetrics-text;version=1.0.0` first), the 0.0.4 format
//! otherwise (no `Accept`, `*/*`, `text/plain`). The 0.0.4 text is made
//! from the OpenMetrics text by the rules the formats differ by, below.

use std::fmt::Write as _;

/// A text exposition format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// OpenMetrics 1.0 text: counter families named without `_total`,
    /// `info` families, `# EOF` at the end.
    OpenMetrics,
    /// Prometheus text format 0.0.4: counter families named as their
    /// `_total` sample, no `info` type (a gauge `x_info`), no `# EOF`.
    Text,
}

impl Format {
    /// The `Content-Type` of a reply in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Format::Text => "text/plain; version=0.0.4; charset=utf-8",
        }
    }

    /// The format a request's `Accept` header prefers (RFC 9110 §12.5.1:
    /// media ranges ranked by their `q`, ties in the order given, `q=0`
    /// never), among the two served; the 0.0.4 text when it prefers
    /// neither, as Prometheus's Go client answers. A `version` other than
    /// those each format has had does not match it.
    pub fn negotiate(accept: Option<&str>) -> Format {
        let Some(accept) = accept else {
            return Format::Text;
        };
        let mut ranked: Vec<(f32, Format)> = accept
            .split(',')
            .filter_map(|range| {
                let mut parts = range.split(';');
                let kind = parts.next()?.trim().to_ascii_lowercase();
                let (mut q, mut version) = (1.0_f32, None);
                for p in parts {
                    let Some((k, v)) = p.split_once('=') else {
                        continue;
                    };
                    let v = v.trim().trim_matches('"');
                    match k.trim().to_ascii_lowercase().as_str() {
                        "q" => q = v.parse().unwrap_or(0.0),
                        "version" => version = Some(v.to_string()),
                        _ => {}
                    }
                }
                let format = match (kind.as_str(), version.as_deref()) {
                    ("application/openmetrics-text", None | Some("1.0.0" | "0.0.1")) => {
                        Format::OpenMetrics
                    }
                    ("text/plain", None | Some("0.0.4")) => Format::Text,
                    _ => return None,
                };
                (q > 0.0).then_some((q, format))
            })
            .collect();
        // Stable: equal `q`s keep the header's order.
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
        ranked.first().map_or(Format::Text, |(_, f)| *f)
    }
}

/// The 0.0.4 text of an OpenMetrics text as prometheus-client writes it:
/// a counter family takes its sample's name (`x_total`) in `# HELP` and
/// `# TYPE`; an `info` family `x` becomes the gauge `x_info`; `unknown`
/// is `untyped`; `# UNIT` lines, `_created` samples and `# EOF` go (0.0.4
/// has none of them); a `\"` in help text is a plain `"` (0.0.4 escapes
/// only `\\` and `\n` there). Samples are the same in both formats.
/// pharos writes no exemplars and no timestamps, whose forms differ.
pub fn to_text(openmetrics: &str) -> String {
    let mut out = String::with_capacity(openmetrics.len());
    let mut rewrite = ToText::default();
    rewrite.lines(openmetrics, &mut out);
    rewrite.finish(&mut out);
    out
}

/// [`to_text`] a piece at a time, for an exposition written in chunks:
/// what it must remember of the lines before (a family's help, waiting
/// for its type, and the family samples belong to) across chunks.
#[derive(Debug, Default)]
struct ToText {
    // prometheus-client writes `# HELP` before `# TYPE`: the help waits
    // until the type says what the family is called in 0.0.4.
    help: Option<(String, String)>,
    /// The family the samples that follow belong to, and its type.
    family: (String, String),
    /// `# EOF` was read: nothing after it is written.
    ended: bool,
}

impl ToText {
    /// The 0.0.4 lines of `openmetrics`, whole lines of an OpenMetrics
    /// text, each ended by `\n`, onto `out`.
    fn lines(&mut self, openmetrics: &str, out: &mut String) {
        let write = |out: &mut String, line: std::fmt::Arguments<'_>| {
            out.write_fmt(line)
                .expect("writing to a String cannot fail");
            out.push('\n');
        };
        for line in openmetrics.lines() {
            if self.ended || line == "# EOF" {
                self.ended = true;
                return;
            }
            if let Some(rest) = line.strip_prefix("# HELP ") {
                if let Some((name, text)) = self.help.take() {
                    write(out, format_args!("# HELP {name} {text}"));
                }
                let (name, text) = rest.split_once(' ').unwrap_or((rest, ""));
                self.help = Some((name.to_string(), text.to_string()));
                continue;
            }
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').unwrap_or((rest, "unknown"));
                let (suffix, text_kind) = match kind {
                    "counter" => ("_total", "counter"),
                    "info" => ("_info", "gauge"),
                    "gauge" | "histogram" | "summary" => ("", kind),
                    // unknown, and the types 0.0.4 cannot say (pharos
                    // registers no stateset or gaugehistogram).
                    _ => ("", "untyped"),
                };
                if let Some((h, text)) = self.help.take() {
                    let text = text.replace("\\\"", "\"");
                    if h == name {
                        write(out, format_args!("# HELP {name}{suffix} {text}"));
                    } else {
                        write(out, format_args!("# HELP {h} {text}"));
                    }
                }
                write(out, format_args!("# TYPE {name}{suffix} {text_kind}"));
                self.family = (name.to_string(), kind.to_string());
                continue;
            }
            if line.starts_with('#') {
                // `# UNIT`, and any other comment.
                continue;
            }
            let sample = line.split(['{', ' ']).next().unwrap_or("");
            let created = sample
                .strip_prefix(self.family.0.as_str())
                .is_some_and(|s| s == "_created");
            if created && matches!(self.family.1.as_str(), "counter" | "histogram" | "summary") {
                continue;
            }
            out.push_str(line);
            out.push('\n');
        }
    }

    /// The end of the text: a help no type followed.
    fn finish(&mut self, out: &mut String) {
        if let Some((name, text)) = self.help.take() {
            out.write_fmt(format_args!("# HELP {name} {text}\n"))
                .expect("writing to a String cannot fail");
        }
    }
}

/// About how much text a chunk of a streamed exposition holds: enough
/// that a scrape of a million samples is a few thousand writes, little
/// enough that a scrape holds a few of them, whatever the table's size.
pub const CHUNK: usize = 64 * 1024;

/// The chunk's receiver is gone (the client hung up, or was too slow):
/// the exposition stops there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stopped;

/// An exposition written in chunks of about [`CHUNK`] bytes of whole
/// lines, in `format`, each handed to `send` as it fills: what
/// prometheus-client writes is OpenMetrics, rewritten to the 0.0.4 text a
/// chunk at a time when that is the format. A family's lines stay in
/// order, so its `# HELP`, `# TYPE` and samples are together in the
/// stream as both formats require, across chunks.
pub struct Chunked<F: FnMut(String) -> Result<(), Stopped>> {
    format: Format,
    /// Written, not yet sent: less than [`CHUNK`] and a line.
    pending: String,
    rewrite: ToText,
    send: F,
    stopped: bool,
}

impl<F: FnMut(String) -> Result<(), Stopped>> Chunked<F> {
    pub fn new(format: Format, send: F) -> Self {
        Chunked {
            format,
            pending: String::with_capacity(CHUNK + CHUNK / 8),
            rewrite: ToText::default(),
            send,
            stopped: false,
        }
    }

    /// Sends `pending` up to its last whole line (all of it at the end).
    fn flush(&mut self, at_end: bool) -> Result<(), Stopped> {
        if self.stopped {
            return Err(Stopped);
        }
        let end = if at_end {
            self.pending.len()
        } else {
            self.pending.rfind('\n').map_or(0, |i| i + 1)
        };
        let rest = self.pending.split_off(end);
        let lines = std::mem::replace(&mut self.pending, rest);
        let chunk = match self.format {
            Format::OpenMetrics => lines,
            Format::Text => {
                let mut text = String::with_capacity(lines.len());
                self.rewrite.lines(&lines, &mut text);
                if at_end {
                    self.rewrite.finish(&mut text);
                }
                text
            }
        };
        self.pending.reserve(CHUNK + CHUNK / 8);
        if chunk.is_empty() {
            return Ok(());
        }
        (self.send)(chunk).inspect_err(|_| self.stopped = true)
    }

    /// Sends what is left: the exposition is complete.
    pub fn finish(mut self) -> Result<(), Stopped> {
        self.flush(true)
    }
}

impl<F: FnMut(String) -> Result<(), Stopped>> std::fmt::Write for Chunked<F> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        if self.stopped {
            return Err(std::fmt::Error);
        }
        self.pending.push_str(s);
        if self.pending.len() >= CHUNK {
            self.flush(false).map_err(|Stopped| std::fmt::Error)?;
        }
        Ok(())
    }
}

/// The real tools the tests hold both formats to: `promtool check
/// metrics` (Debian's `prometheus` package) for the 0.0.4 text, and the
/// OpenMetrics parser of Prometheus's Python client (Debian's
/// `python3-prometheus-client`) for OpenMetrics.
#[cfg(test)]
pub(crate) mod tools {
    use std::io::Write as _;
    use std::process::{Command, Stdio};

    fn run(cmd: &mut Command, input: &str) -> (bool, String) {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("running {cmd:?}: {e}; `make deps` installs it"));
        child
            .stdin
            .take()
            .expect("piped stdin")
            .write_all(input.as_bytes())
            .expect("the tool reads its input");
        let out = child.wait_with_output().expect("the tool ends");
        let said = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        (out.status.success(), said)
    }

    /// `promtool check metrics` of a 0.0.4 text: it must exit 0 and say
    /// nothing (a lint problem is printed, with exit 0 or 3).
    pub fn promtool(text: &str) {
        let (ok, said) = run(Command::new("promtool").args(["check", "metrics"]), text);
        assert!(
            ok && said.is_empty(),
            "promtool check metrics: {said}\n{text}"
        );
    }

    /// The families of an OpenMetrics text as Prometheus's Python client
    /// parses them (`name type samples` a line); panics when it refuses.
    pub fn openmetrics(text: &str) -> String {
        let script = "import sys\n\
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse\n\
for f in parse(sys.stdin.read()):\n    print(f.name, f.type, len(f.samples))\n";
        // Debian's python, which Debian's package installs for (a `python3`
        // earlier on PATH, pyenv's say, would not have it).
        let (ok, said) = run(Command::new("/usr/bin/python3").args(["-c", script]), text);
        assert!(ok, "the OpenMetrics parser refused it: {said}\n{text}");
        said
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_servers_get_openmetrics_and_everyone_else_the_classic_text() {
        // What Prometheus 2.x sends by default.
        let prometheus = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(Format::negotiate(Some(prometheus)), Format::OpenMetrics);
        // With `scrape_protocols` putting the classic text first.
        let classic_first =
            "text/plain;version=0.0.4;q=0.9,application/openmetrics-text;version=1.0.0;q=0.5";
        assert_eq!(Format::negotiate(Some(classic_first)), Format::Text);
        // curl, a browser, nothing at all.
        assert_eq!(Format::negotiate(Some("*/*")), Format::Text);
        assert_eq!(
            Format::negotiate(Some("text/html,application/xhtml+xml,*/*;q=0.8")),
            Format::Text
        );
        assert_eq!(Format::negotiate(None), Format::Text);
        assert_eq!(
            Format::negotiate(Some("Application/OpenMetrics-Text")),
            Format::OpenMetrics
        );
        // Refused outright, or a version never made.
        assert_eq!(
            Format::negotiate(Some("application/openmetrics-text;q=0")),
            Format::Text
        );
        assert_eq!(
            Format::negotiate(Some("application/openmetrics-text; version=2.0.0")),
            Format::Text
        );
        // The protobuf format is not served: the next choice is.
        assert_eq!(
            Format::negotiate(Some(
                "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8"
            )),
            Format::OpenMetrics
        );
    }

    #[test]
    fn counters_take_their_total_name_and_info_becomes_a_gauge_in_the_classic_text() {
        let om = "\
# HELP a_restarts Restarts of \\\"a\\\".
# TYPE a_restarts counter
a_restarts_total{task=\"x\"} 3
a_restarts_created{task=\"x\"} 1700000000.0
# HELP a_up 1 while up.
# TYPE a_up gauge
a_up 1
# HELP a_build pharos's version.
# TYPE a_build info
a_build_info{version=\"0.1.0\"} 1
# HELP a_took_seconds How long.
# TYPE a_took_seconds histogram
# UNIT a_took_seconds seconds
a_took_seconds_sum 0.5
a_took_seconds_count 1
a_took_seconds_bucket{le=\"+Inf\"} 1
# EOF
";
        assert_eq!(
            to_text(om),
            "\
# HELP a_restarts_total Restarts of \"a\".
# TYPE a_restarts_total counter
a_restarts_total{task=\"x\"} 3
# HELP a_up 1 while up.
# TYPE a_up gauge
a_up 1
# HELP a_build_info pharos's version.
# TYPE a_build_info gauge
a_build_info{version=\"0.1.0\"} 1
# HELP a_took_seconds How long.
# TYPE a_took_seconds histogram
a_took_seconds_sum 0.5
a_took_seconds_count 1
a_took_seconds_bucket{le=\"+Inf\"} 1
"
        );
    }

    #[test]
    fn an_exposition_in_chunks_is_the_exposition_whole_in_both_formats() {
        use std::fmt::Write as _;
        // Families enough for a dozen chunks, each a counter with its
        // `_created` (which 0.0.4 drops) and help to rewrite, and a gauge.
        let mut om = String::new();
        for i in 0..3000 {
            write!(
                om,
                "# HELP f{i}_restarts Restarts of \\\"{i}\\\".\n# TYPE f{i}_restarts counter\n\
                 f{i}_restarts_total{{task=\"x\"}} {i}\nf{i}_restarts_created{{task=\"x\"}} 1.5\n\
                 # HELP f{i}_up Up.\n# TYPE f{i}_up gauge\nf{i}_up 1\n"
            )
            .unwrap();
        }
        om += "# EOF\n";
        for (format, whole) in [
            (Format::OpenMetrics, om.clone()),
            (Format::Text, to_text(&om)),
        ] {
            let mut chunks = Vec::new();
            let mut out = Chunked::new(format, |c| {
                chunks.push(c);
                Ok(())
            });
            // Written in pieces that end mid-line, as an encoder writes.
            let bytes = om.as_bytes();
            for piece in bytes.chunks(7) {
                out.write_str(std::str::from_utf8(piece).unwrap()).unwrap();
            }
            out.finish().unwrap();
            assert!(chunks.len() > 5, "{format:?}: {} chunks", chunks.len());
            assert!(
                chunks
                    .iter()
                    .all(|c| c.ends_with('\n') && c.len() <= CHUNK + 7)
            );
            assert!(chunks.concat() == whole, "{format:?}");
        }
    }

    #[test]
    fn a_chunked_exposition_stops_when_its_receiver_is_gone() {
        use std::fmt::Write as _;
        let mut sent = 0;
        let mut out = Chunked::new(Format::Text, |_| {
            sent += 1;
            Err(Stopped)
        });
        let line = "a_up 1\n".repeat(CHUNK / 7 + 1);
        assert!(out.write_str(&line).is_err());
        assert!(out.write_str("a_up 1\n").is_err());
        assert_eq!(out.finish(), Err(Stopped));
        assert_eq!(sent, 1, "nothing is sent after the receiver said stop");
    }
}

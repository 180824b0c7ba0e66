//! Fuzzes `pharos check` on a file's bytes: UTF-8 decoding as the CLI does
//! it, `config::check_text` (parse, node overlays, typing, validation) for
//! every node and for the first node alone, then both renderings of the
//! diagnostics (rustc-style text with file:line:col and carets, and the
//! JSON of `--format json`), so every span a diagnostic carries is put to
//! use against the text it points into. The streamed check of big files
//! (`config::check_streamed`, a service at a time) is held to the whole
//! check on any text: the same config, or `None`; and so is the streamed
//! check that takes unchanged services from the memo of another text (the
//! reload's way, `config::check_streamed_reusing`): a file with a line
//! `#--` is the text before it (whose memo is made) and, checked as above,
//! the text after it.
//!
//! ```text
//! make fuzz-smoke  # every target for 20 s, on stable Rust
//! make fuzz TARGET=config_check  # 10 million runs or 30 minutes
//! ```
//!
//! Seeds: fuzz/corpus/config_check/, a few of configs/*.toml and of the
//! invalid files in tests/golden/ (a syntax error, an unknown key, several
//! errors, a node overlay error).

#![no_main]

use libfuzzer_sys::fuzz_target;
use pharos::config::{self, Selection};
use pharos::diag::{self, Diagnostic, Source};

fuzz_target!(|data: &[u8]| {
    // As src/cli/check.rs: bytes that are not UTF-8 are one diagnostic at
    // the first bad byte, shown in the lossy text.
    let text = match std::str::from_utf8(data) {
        Ok(t) => t,
        Err(e) => {
            let at = e.valid_up_to();
            let lossy = String::from_utf8_lossy(data);
            let d = Diagnostic::error("the file is not valid UTF-8").at(at..at + 1);
            show(&Source::new("fuzz.toml", &lossy), &[d]);
            return;
        }
    };
    let (before, text) = match text.split_once("\n#--\n") {
        Some((before, after)) => (Some(before), after),
        None => (None, text),
    };
    let source = Source::new("fuzz.toml", text);
    let checked = config::check_whole(text, &Selection::All);
    let streamed = config::check_streamed(text);
    if let Some(before) = before
        && let Some((_, memo)) = config::check_streamed_reusing(before, None)
    {
        let reusing = config::check_streamed_reusing(text, Some(&memo));
        assert_eq!(reusing.map(|(c, _)| c), streamed, "the memo changed the streamed check");
    }
    if let Some(streamed) = streamed {
        assert!(!checked.has_errors() && checked.diagnostics.is_empty(), "streamed a file with diagnostics");
        assert_eq!(checked.configs.len(), 1, "streamed a file with nodes");
        assert_eq!(checked.configs[0].1, streamed, "the streamed config differs");
    }
    show(&source, &checked.diagnostics);
    if checked.configs.is_empty() {
        assert!(checked.has_errors(), "no config and no error");
    }
    if let Some(first) = checked.nodes.first() {
        let one = config::check_text(text, &Selection::Node(first.clone()));
        show(&source, &one.diagnostics);
    }
});

fn show(source: &Source<'_>, diags: &[Diagnostic]) {
    let text = diag::render(source, diags, false);
    assert!(diags.is_empty() || !text.is_empty());
    let _ = diag::render(source, diags, true);
    let json = serde_json::to_string(&diag::to_json(source, diags)).expect("diagnostics serialize");
    assert!(json.starts_with('['));
}

//! Fuzzes `pharos import keepalived`: `import::keepalived::import` of one
//! file, or `import_pair` of two (the input split at its first NUL byte),
//! with `include` answered by the second text, by nothing or by an error
//! (picked by the input's length), and `fix_typos` on for odd lengths. The
//! importer's promise (tests/import_keepalived.rs): each warning has a line
//! and one line of text, and whatever it emits passes `pharos check`,
//! unless it found nothing to import.
//!
//! ```text
//! make fuzz-smoke  # every target for 20 s, on stable Rust
//! make fuzz TARGET=import_keepalived  # 10 million runs or 30 minutes
//! ```
//!
//! Seeds: fuzz/corpus/import_keepalived/, keepalived.conf files of
//! tests/golden/import/keepalived/ (one of them a pair, NUL-separated).

#![no_main]

use libfuzzer_sys::fuzz_target;
use pharos::config::{self, Selection};
use pharos::import::keepalived::{self, Options, Source};

fuzz_target!(|data: &[u8]| {
    let (a, b) = match data.iter().position(|&x| x == 0) {
        Some(i) => (&data[..i], Some(&data[i + 1..])),
        None => (data, None),
    };
    let main = Source {
        name: "fuzz/a.conf".into(),
        text: String::from_utf8_lossy(a).into_owned(),
    };
    let other = b.map(|b| Source {
        name: "fuzz/b.conf".into(),
        text: String::from_utf8_lossy(b).into_owned(),
    });
    let opts = Options {
        fix_typos: data.len() % 2 == 1,
    };
    let included = other.clone();
    let mode = data.len() % 3;
    let mut include = |_from: &str, pattern: &str| -> Result<Vec<Source>, String> {
        match (mode, &included) {
            (0, Some(s)) => Ok(vec![s.clone()]),
            (1, _) => Ok(Vec::new()),
            _ => Err(format!("cannot read `{pattern}`")),
        }
    };
    let imported = match &other {
        Some(b) if mode != 0 => keepalived::import_pair(&main, b, &mut include, opts),
        _ => keepalived::import(&main, &mut include, opts),
    };
    assert!(imported.toml.starts_with("# Imported from"));
    for w in &imported.warnings {
        assert!(w.line > 0 && !w.message.contains('\n'), "{w:?}");
    }
    let checked = config::check_text(&imported.toml, &Selection::All);
    let errors: Vec<_> = checked
        .diagnostics
        .iter()
        .filter(|d| d.is_error() && !d.message.starts_with("the file configures nothing"))
        .collect();
    assert!(
        errors.is_empty(),
        "the import does not pass check:\n{}\n---\n{errors:#?}",
        imported.toml
    );
});

//! Fuzzes `pharos import ipvsadm`: `import::ipvsadm::import` of any text
//! (bytes that are not UTF-8 are read lossily, as the CLI does), and the
//! importer's promise (src/import/ipvsadm/tests.rs): whatever it emits
//! passes `pharos check`, unless it found nothing to import (comments
//! only, which check calls a file that configures nothing).
//!
//! ```text
//! make fuzz-smoke  # every target for 20 s, on stable Rust
//! make fuzz TARGET=import_ipvsadm  # 10 million runs or 30 minutes
//! ```
//!
//! Seeds: fuzz/corpus/import_ipvsadm/, the `.save` files of
//! tests/golden/import/.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pharos::config::{self, Selection};
use pharos::import::ipvsadm;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let imported = ipvsadm::import(&text, "fuzz.save");
    for w in &imported.warnings {
        assert!(w.line > 0, "{w:?}");
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

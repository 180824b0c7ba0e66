//! Holds the parse of a big config a table at a time
//! (`config::chunked::parse`) to the parse of the file whole
//! (`tree::Node::parse_whole`): for any text, the same tree, or `None` so
//! the whole parse decides; never a tree for a file toml refuses.
//!
//! ```text
//! make fuzz TARGET=config_parse
//! ```
//!
//! Seeds: fuzz/corpus/config_parse/, configs with several tables and the
//! cases TOML's rules across headers are about.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pharos::config::{chunked, tree::Node};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let whole = Node::parse_whole(text);
    match (whole, chunked::parse(text)) {
        (Ok(w), Some(m)) => assert_eq!(w, m, "the trees differ"),
        (Err(e), Some(_)) => panic!("a tree for a file toml refuses: {:?}", e[0].message),
        _ => {}
    }
});

//! Fuzzes GRUB's environment block reader: whatever `parse` takes must
//! `encode` (it never grows: escapes and comments only shrink) and parse
//! back to the same variables.
//!
//! ```text
//! make fuzz-smoke  # every target for 10 s, on stable Rust
//! make fuzz TARGET=grubenv_parse  # 10 million runs or 30 minutes
//! ```
//!
//! The input is tried as a whole block, and as the lines of one: after the
//! signature, padded with '#' (or cut) to 1024 bytes, so that most inputs
//! get past the length and signature checks.
//! Seeds: fuzz/corpus/grubenv_parse/, blocks grub-editenv wrote.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pharos::upgrade::grubenv::{BLOCK_LEN, SIGNATURE, parse};

fuzz_target!(|data: &[u8]| {
    round_trip(data);
    let mut block = SIGNATURE.to_vec();
    block.extend_from_slice(data);
    block.resize(BLOCK_LEN, b'#');
    round_trip(&block);
});

fn round_trip(block: &[u8]) {
    if let Ok(env) = parse(block) {
        let encoded = env.encode().expect("a parsed block encodes");
        assert_eq!(parse(&encoded).as_ref(), Ok(&env));
    }
}

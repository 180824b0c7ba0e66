//! Fuzzes the update bundle verifier: arbitrary bytes, fed in arbitrary
//! chunks, to a `Verifier` with a fixed key. It must never panic, and
//! whatever it accepts must be what its signed manifest says.
//!
//! ```text
//! make fuzz-smoke  # every target for 10 s, on stable Rust
//! make fuzz TARGET=bundle_verify  # 10 million runs or 30 minutes
//! ```
//!
//! The first byte sets the chunk length (1 to 64), the rest is the bundle.
//! Seeds: fuzz/corpus/bundle_verify/, bundles signed with the fixed key
//! (its seed is 32 bytes of 7; `pharos bundle make` wrote them), so the
//! fuzzer starts past the signature and reaches the image's checks.

#![no_main]

use ed25519_dalek::SigningKey;
use libfuzzer_sys::fuzz_target;
use pharos::upgrade::bundle::{Verifier, sha256_hex};

fuzz_target!(|data: &[u8]| {
    let Some((&first, bundle)) = data.split_first() else {
        return;
    };
    let chunk = 1 + usize::from(first % 64);
    let key = SigningKey::from_bytes(&[7; 32]).verifying_key();
    let mut verifier = Verifier::new(key, "x86_64", 64 * 1024);
    for c in bundle.chunks(chunk) {
        if verifier.feed(c).is_err() {
            // Final: more bytes are refused too, and so is the end.
            assert!(verifier.feed(b"x").is_err());
            assert!(verifier.finish().is_err());
            return;
        }
    }
    if let Ok(v) = verifier.finish() {
        assert_eq!(v.image.len() as u64, v.manifest.image.size);
        assert_eq!(sha256_hex(&v.image), v.manifest.image.sha256);
    }
});

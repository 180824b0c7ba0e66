//! The update bundle: one file per update, a signed manifest and the slot
//! image it describes.
//!
//! ```text
//!   "PHAROS-BUNDLE 1\n"        MAGIC, 16 bytes
//!   u32 big-endian             L, the manifest's length (at most 64 KiB)
//!   L bytes                    the manifest, JSON (`Manifest`)
//!   64 bytes                   Ed25519 signature (RFC 8032 §5.1.6, pure
//!                              Ed25519) of MAGIC || L || manifest
//!   manifest.image.size bytes  the payload: the slot's FAT image; nothing after it
//! ```
//!
//! The signature covers the manifest and the manifest holds the image's
//! SHA-256, so one signature vouches for every byte; the header is small and
//! comes first, so a box refuses a bundle of another key, arch or size
//! after a few hundred bytes, before it has written or even buffered the
//! image. The signature is over the raw bytes (no pre-hash), so
//! `openssl pkeyutl -verify -rawin` checks it too.
//!
//! [`Verifier`] is sans-IO: it is fed bytes as they arrive (from a socket,
//! a file, a test), in any chunking, and says as early as it can what is
//! wrong. Only [`Verifier::finish`] hands the image out, after its hash
//! matched.

use std::io::{self, Write};

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The first 16 bytes of every bundle of format 1.
pub const MAGIC: &[u8; 16] = b"PHAROS-BUNDLE 1\n";
/// The manifest format this pharos writes and reads.
pub const FORMAT: u32 = 1;
/// The longest manifest a bundle may carry (a real one is a few hundred
/// bytes; the bound keeps a hostile length from buffering much).
pub const MAX_MANIFEST: u32 = 64 * 1024;
/// An Ed25519 signature's length (RFC 8032 §5.1.6).
pub const SIGNATURE_LEN: usize = 64;
/// MAGIC and the manifest's length.
const PREFIX_LEN: usize = MAGIC.len() + 4;

/// What a bundle says about its image; signed with it.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The bundle format ([`FORMAT`]).
    pub format: u32,
    /// The version of pharos in the image (its `CARGO_PKG_VERSION`).
    pub version: String,
    /// The CPU the image is for: `x86_64`.
    pub arch: String,
    /// `prod` or `debug` (the debug image has the fault switch and a shell).
    pub variant: String,
    /// The release of the image's kernel (`uname -r` once booted).
    pub kernel: String,
    /// When the image was built: Unix seconds (its SOURCE_DATE_EPOCH).
    pub built: u64,
    /// The payload.
    pub image: Image,
}

/// The payload: the slot's FAT image.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Image {
    /// Its length in bytes: exactly what follows the signature.
    pub size: u64,
    /// Its SHA-256, 64 lowercase hex digits.
    pub sha256: String,
}

/// Why a bundle was refused. Each message says what to do.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum BundleError {
    #[error(
        "not a pharos update bundle (it does not start with \"PHAROS-BUNDLE 1\"): \
         give the file `pharos bundle make` wrote"
    )]
    NotABundle,
    #[error(
        "the bundle's manifest would be longer than {MAX_MANIFEST} bytes: the file is damaged \
         or not made by `pharos bundle make`; fetch or make it again"
    )]
    ManifestTooLong,
    #[error(
        "not signed by this box's key: signed by another key, or altered after signing; \
         use a bundle signed with the key whose public half is in this box's image"
    )]
    BadSignature,
    #[error("the bundle's manifest is signed but not one this pharos reads: {0}")]
    Manifest(String),
    #[error(
        "the bundle is of format {0}, this pharos reads format {FORMAT} only: \
         install a release that reads it first, or make the bundle with this pharos"
    )]
    Format(u32),
    #[error("the bundle is for {bundle}, this box is {box_}: use the bundle built for {box_}")]
    Arch { bundle: String, box_: String },
    #[error(
        "the bundle's image is {size} bytes, larger than a slot here ({max} bytes): \
         it cannot be written; build a smaller image or give the slots more room"
    )]
    TooBig { size: u64, max: u64 },
    #[error(
        "the bundle ends after {got} bytes, and needs at least {want}: it was cut short \
         (an interrupted copy or download?); fetch or copy it again"
    )]
    Truncated { got: u64, want: u64 },
    #[error(
        "the bundle has bytes after its image: damaged, or two files joined; \
         fetch or make it again"
    )]
    TrailingBytes,
    #[error(
        "the image's SHA-256 is {got}, its signed manifest says {want}: the image was altered \
         or damaged after signing; fetch or copy the bundle again"
    )]
    Hash { want: String, got: String },
}

/// A bundle whose signature and image hash both checked out.
#[derive(Debug)]
pub struct Verified {
    /// The signed manifest.
    pub manifest: Manifest,
    /// The payload, `manifest.image.size` bytes hashing to `manifest.image.sha256`.
    pub image: Vec<u8>,
}

/// Checks a bundle as it streams in. Feed it the bundle's bytes in any
/// chunking; each `feed` refuses as soon as what it has seen is wrong (a
/// wrong key or altered manifest when the header completes, before any of
/// the image is taken), and [`finish`](Self::finish) checks the length and
/// the hash of the whole.
pub struct Verifier {
    key: VerifyingKey,
    arch: String,
    max_image: u64,
    /// Bytes fed so far.
    got: u64,
    state: State,
}

enum State {
    /// MAGIC, the length, the manifest and the signature, as they arrive.
    Header(Vec<u8>),
    /// The header checked out (boxed: the hasher's state is large).
    Payload(Box<Payload>),
    /// Refused: every later call says so again.
    Failed(BundleError),
}

/// The image so far, and its running hash.
struct Payload {
    manifest: Manifest,
    header_len: u64,
    image: Vec<u8>,
    hasher: Sha256,
}

impl Verifier {
    /// A verifier that takes bundles signed by `key`, for `arch` (the box's
    /// CPU, `std::env::consts::ARCH`), whose image is at most `max_image`
    /// bytes (the slot's size).
    pub fn new(key: VerifyingKey, arch: &str, max_image: u64) -> Self {
        Verifier {
            key,
            arch: arch.to_string(),
            max_image,
            got: 0,
            state: State::Header(Vec::with_capacity(PREFIX_LEN)),
        }
    }

    /// Takes the next bytes of the bundle. An error is final: the bundle is
    /// refused, and later calls return the same error.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<(), BundleError> {
        self.got = self.got.saturating_add(bytes.len() as u64);
        let result = self.take(bytes);
        if let Err(e) = &result {
            self.state = State::Failed(e.clone());
        }
        result
    }

    /// The manifest, once the header's signature has been checked (before
    /// the image has arrived: a caller can say what is coming).
    pub fn manifest(&self) -> Option<&Manifest> {
        match &self.state {
            State::Payload(p) => Some(&p.manifest),
            _ => None,
        }
    }

    /// The end of the bundle: refuses it if it was cut short or its image
    /// does not hash to the signed SHA-256; otherwise hands the image out.
    pub fn finish(self) -> Result<Verified, BundleError> {
        match self.state {
            State::Failed(e) => Err(e),
            State::Header(buf) => Err(BundleError::Truncated {
                got: self.got,
                want: header_need(&buf)? as u64,
            }),
            State::Payload(p) => {
                let Payload {
                    manifest,
                    header_len,
                    image,
                    hasher,
                } = *p;
                if (image.len() as u64) < manifest.image.size {
                    return Err(BundleError::Truncated {
                        got: self.got,
                        want: header_len + manifest.image.size,
                    });
                }
                let got = hex(&hasher.finalize());
                if got != manifest.image.sha256 {
                    return Err(BundleError::Hash {
                        want: manifest.image.sha256,
                        got,
                    });
                }
                Ok(Verified { manifest, image })
            }
        }
    }

    fn take(&mut self, mut bytes: &[u8]) -> Result<(), BundleError> {
        loop {
            let buf = match &mut self.state {
                State::Failed(e) => return Err(e.clone()),
                State::Payload(p) => {
                    let room = p.manifest.image.size - p.image.len() as u64;
                    if bytes.len() as u64 > room {
                        return Err(BundleError::TrailingBytes);
                    }
                    p.hasher.update(bytes);
                    p.image.extend_from_slice(bytes);
                    return Ok(());
                }
                State::Header(buf) => buf,
            };
            let need = header_need(buf)?;
            let take = (need - buf.len()).min(bytes.len());
            buf.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            // Byte by byte: another file is refused at its first byte.
            let seen = buf.len().min(MAGIC.len());
            if buf[..seen] != MAGIC[..seen] {
                return Err(BundleError::NotABundle);
            }
            // Once the length is in, this is the whole header's.
            let need = header_need(buf)?;
            if buf.len() < need {
                if bytes.is_empty() {
                    return Ok(());
                }
                continue;
            }
            let header = std::mem::take(buf);
            let manifest = self.check_header(&header)?;
            // The size is signed, and at most max_image.
            let capacity = usize::try_from(manifest.image.size).unwrap_or(0);
            self.state = State::Payload(Box::new(Payload {
                manifest,
                header_len: header.len() as u64,
                image: Vec::with_capacity(capacity),
                hasher: Sha256::new(),
            }));
        }
    }

    /// The whole header is in: the signature first (nothing unsigned is
    /// parsed), then what the manifest says.
    fn check_header(&self, header: &[u8]) -> Result<Manifest, BundleError> {
        let (signed, signature) = header.split_at(header.len() - SIGNATURE_LEN);
        let signature = Signature::from_slice(signature).map_err(|_| BundleError::BadSignature)?;
        // verify_strict: no small-order keys, no malleable signatures.
        self.key
            .verify_strict(signed, &signature)
            .map_err(|_| BundleError::BadSignature)?;
        let manifest = parse_manifest(&signed[PREFIX_LEN..])?;
        if manifest.arch != self.arch {
            return Err(BundleError::Arch {
                bundle: manifest.arch,
                box_: self.arch.clone(),
            });
        }
        if manifest.image.size > self.max_image {
            return Err(BundleError::TooBig {
                size: manifest.image.size,
                max: self.max_image,
            });
        }
        Ok(manifest)
    }
}

/// How long the header is, as far as `buf` tells: the prefix until the
/// length is in, then the whole header.
fn header_need(buf: &[u8]) -> Result<usize, BundleError> {
    if buf.len() < PREFIX_LEN {
        return Ok(PREFIX_LEN);
    }
    let len = u32::from_be_bytes([buf[16], buf[17], buf[18], buf[19]]);
    if len > MAX_MANIFEST {
        return Err(BundleError::ManifestTooLong);
    }
    Ok(PREFIX_LEN + len as usize + SIGNATURE_LEN)
}

/// The format first, so that a later format's new fields are reported as
/// a format this pharos does not read, not as unknown fields.
fn parse_manifest(json: &[u8]) -> Result<Manifest, BundleError> {
    #[derive(Deserialize)]
    struct Format {
        format: u32,
    }
    let format: Format =
        serde_json::from_slice(json).map_err(|e| BundleError::Manifest(e.to_string()))?;
    if format.format != FORMAT {
        return Err(BundleError::Format(format.format));
    }
    let manifest: Manifest =
        serde_json::from_slice(json).map_err(|e| BundleError::Manifest(e.to_string()))?;
    let sha = &manifest.image.sha256;
    if sha.len() != 64 || !sha.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(BundleError::Manifest(format!(
            "image.sha256 is {sha:?}, not 64 lowercase hex digits"
        )));
    }
    Ok(manifest)
}

/// The bytes the signature covers: MAGIC, the length, the manifest.
fn signed_part(manifest_json: &[u8]) -> io::Result<Vec<u8>> {
    let len = u32::try_from(manifest_json.len())
        .ok()
        .filter(|l| *l <= MAX_MANIFEST)
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "the manifest is {} bytes, over {MAX_MANIFEST}",
                    manifest_json.len()
                ),
            )
        })?;
    let mut out = Vec::with_capacity(PREFIX_LEN + manifest_json.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(manifest_json);
    Ok(out)
}

/// The manifest of `image`: its size and SHA-256 filled in.
pub fn manifest_for(
    image: &[u8],
    version: &str,
    arch: &str,
    variant: &str,
    kernel: &str,
    built: u64,
) -> Manifest {
    Manifest {
        format: FORMAT,
        version: version.to_string(),
        arch: arch.to_string(),
        variant: variant.to_string(),
        kernel: kernel.to_string(),
        built,
        image: Image {
            size: image.len() as u64,
            sha256: sha256_hex(image),
        },
    }
}

/// Writes the bundle of `image`, signed with `key`. Refuses (InvalidInput)
/// a manifest that does not describe `image`.
pub fn write_bundle(
    out: &mut impl Write,
    manifest: &Manifest,
    image: &[u8],
    key: &SigningKey,
) -> io::Result<()> {
    if manifest.image.size != image.len() as u64 || manifest.image.sha256 != sha256_hex(image) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "the manifest's image size or SHA-256 is not the image's (make it with manifest_for)",
        ));
    }
    let mut json = serde_json::to_vec_pretty(manifest).map_err(io::Error::other)?;
    json.push(b'\n');
    let signed = signed_part(&json)?;
    let signature = key.sign(&signed);
    out.write_all(&signed)?;
    out.write_all(&signature.to_bytes())?;
    out.write_all(image)?;
    out.flush()
}

/// SHA-256 as 64 lowercase hex digits.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARCH: &str = "x86_64";
    /// 1-byte, 7-byte and whole: every boundary falls inside every field.
    const CHUNKS: [usize; 3] = [1, 7, usize::MAX];

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[1; 32])
    }

    fn other_key() -> SigningKey {
        SigningKey::from_bytes(&[2; 32])
    }

    fn image() -> Vec<u8> {
        (0..5000u32)
            .map(|i| (i.wrapping_mul(7) % 251) as u8)
            .collect()
    }

    fn manifest(image: &[u8]) -> Manifest {
        manifest_for(
            image,
            "0.1.0",
            ARCH,
            "prod",
            "6.1.0-28-amd64",
            1_700_000_000,
        )
    }

    fn bundle_with(manifest: &Manifest, image: &[u8], key: &SigningKey) -> Vec<u8> {
        let mut out = Vec::new();
        write_bundle(&mut out, manifest, image, key).unwrap();
        out
    }

    fn bundle() -> Vec<u8> {
        let image = image();
        bundle_with(&manifest(&image), &image, &key())
    }

    /// A bundle around any manifest text, signed with `key`.
    fn raw(json: &[u8], image: &[u8], key: &SigningKey) -> Vec<u8> {
        let mut out = signed_part(json).unwrap();
        let sig = key.sign(&out);
        out.extend_from_slice(&sig.to_bytes());
        out.extend_from_slice(image);
        out
    }

    fn header_len(bundle: &[u8]) -> usize {
        header_need(bundle).unwrap()
    }

    /// Feeds `bytes` in chunks of `chunk` and finishes: the first error.
    fn verify(bytes: &[u8], chunk: usize, max: u64) -> Result<Verified, BundleError> {
        let mut v = Verifier::new(key().verifying_key(), ARCH, max);
        for c in bytes.chunks(chunk.min(bytes.len()).max(1)) {
            v.feed(c)?;
        }
        v.finish()
    }

    fn refused(bytes: &[u8]) -> BundleError {
        refused_max(bytes, 1 << 20)
    }

    /// The same refusal in every chunking.
    fn refused_max(bytes: &[u8], max: u64) -> BundleError {
        let errors: Vec<BundleError> = CHUNKS
            .iter()
            .map(|&c| verify(bytes, c, max).expect_err("refused"))
            .collect();
        assert!(errors.windows(2).all(|w| w[0] == w[1]), "{errors:?}");
        errors[0].clone()
    }

    #[test]
    fn a_bundle_round_trips_in_any_chunking() {
        let image = image();
        let bytes = bundle();
        for chunk in CHUNKS {
            let v = verify(&bytes, chunk, image.len() as u64).unwrap();
            assert_eq!(v.manifest, manifest(&image));
            assert_eq!(v.image, image);
        }
        assert_eq!(&bytes[..16], MAGIC);
        assert_eq!(bytes.len(), header_len(&bytes) + image.len());
    }

    #[test]
    fn the_manifest_is_known_once_the_header_is_in() {
        let bytes = bundle();
        let h = header_len(&bytes);
        let mut v = Verifier::new(key().verifying_key(), ARCH, 1 << 20);
        v.feed(&bytes[..h - 1]).unwrap();
        assert!(v.manifest().is_none());
        v.feed(&bytes[h - 1..h]).unwrap();
        assert_eq!(v.manifest().unwrap().image.size, 5000);
    }

    #[test]
    fn an_empty_image_round_trips() {
        let m = manifest(&[]);
        let bytes = bundle_with(&m, &[], &key());
        for chunk in CHUNKS {
            assert_eq!(verify(&bytes, chunk, 0).unwrap().image, Vec::<u8>::new());
        }
    }

    #[test]
    fn another_file_is_not_a_bundle_from_its_first_byte() {
        assert_eq!(refused(b"\x7fELF\x02\x01\x01"), BundleError::NotABundle);
        assert_eq!(
            refused(b"PHAROS-BUNDLE 2\n\0\0\0\0"),
            BundleError::NotABundle
        );
        let mut v = Verifier::new(key().verifying_key(), ARCH, 10);
        assert_eq!(v.feed(b"X"), Err(BundleError::NotABundle));
        // An error is final.
        assert_eq!(v.feed(MAGIC), Err(BundleError::NotABundle));
        assert_eq!(v.finish().unwrap_err(), BundleError::NotABundle);
    }

    #[test]
    fn a_manifest_over_64_kib_is_refused_from_its_length_alone() {
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&(MAX_MANIFEST + 1).to_be_bytes());
        let mut v = Verifier::new(key().verifying_key(), ARCH, 10);
        assert_eq!(v.feed(&bytes), Err(BundleError::ManifestTooLong));
        assert_eq!(refused(&bytes), BundleError::ManifestTooLong);
    }

    #[test]
    fn another_keys_bundle_is_refused_before_its_payload() {
        let image = image();
        let bytes = bundle_with(&manifest(&image), &image, &other_key());
        let h = header_len(&bytes);
        for chunk in CHUNKS {
            let mut v = Verifier::new(key().verifying_key(), ARCH, 1 << 20);
            let mut fed = 0;
            let mut result = Ok(());
            for c in bytes[..h].chunks(chunk.min(h)) {
                result = v.feed(c);
                fed += c.len();
                if result.is_err() {
                    break;
                }
            }
            // Refused by the last byte of the signature: no image byte seen.
            assert_eq!(result, Err(BundleError::BadSignature));
            assert_eq!(fed, h);
        }
        assert_eq!(refused(&bytes), BundleError::BadSignature);
    }

    #[test]
    fn one_flipped_byte_in_the_manifest_or_signature_is_a_bad_signature() {
        let bytes = bundle();
        let h = header_len(&bytes);
        // The length's low byte changes where the signature is read from.
        for at in [
            19,
            20,
            30,
            h - SIGNATURE_LEN - 2,
            h - SIGNATURE_LEN,
            h - 40,
            h - 1,
        ] {
            let mut b = bytes.clone();
            b[at] ^= 0x01;
            assert_eq!(refused(&b), BundleError::BadSignature, "byte {at}");
        }
    }

    #[test]
    fn one_flipped_byte_in_the_image_is_a_hash_mismatch() {
        let bytes = bundle();
        let h = header_len(&bytes);
        for at in [h, h + 1000, bytes.len() - 1] {
            let mut b = bytes.clone();
            b[at] ^= 0x80;
            match refused(&b) {
                BundleError::Hash { want, got } => {
                    assert_eq!(want, sha256_hex(&image()));
                    assert_ne!(got, want);
                }
                e => panic!("byte {at}: {e}"),
            }
        }
    }

    #[test]
    fn a_bundle_cut_short_anywhere_is_truncated() {
        let bytes = bundle();
        let h = header_len(&bytes);
        for cut in [
            0,
            1,
            15,
            16,
            19,
            20,
            21,
            h - SIGNATURE_LEN,
            h - 1,
            h,
            h + 1,
            bytes.len() - 1,
        ] {
            match refused(&bytes[..cut]) {
                BundleError::Truncated { got, want } => {
                    assert_eq!(got, cut as u64, "cut at {cut}");
                    assert!(want > got, "cut at {cut}: want {want}");
                }
                e => panic!("cut at {cut}: {e}"),
            }
        }
        assert_eq!(
            refused(&bytes[..bytes.len() - 1]),
            BundleError::Truncated {
                got: bytes.len() as u64 - 1,
                want: bytes.len() as u64
            }
        );
    }

    #[test]
    fn bytes_after_the_image_are_refused() {
        let mut bytes = bundle();
        bytes.push(0);
        assert_eq!(refused(&bytes), BundleError::TrailingBytes);
        let mut twice = bundle();
        twice.extend_from_slice(&bundle());
        assert_eq!(refused(&twice), BundleError::TrailingBytes);
    }

    #[test]
    fn a_bundle_for_another_arch_is_refused_at_its_header() {
        let image = image();
        let mut m = manifest(&image);
        m.arch = "aarch64".into();
        let bytes = bundle_with(&m, &image, &key());
        let mut v = Verifier::new(key().verifying_key(), ARCH, 1 << 20);
        let err = v.feed(&bytes[..header_len(&bytes)]).unwrap_err();
        assert_eq!(
            err,
            BundleError::Arch {
                bundle: "aarch64".into(),
                box_: ARCH.into()
            }
        );
        assert_eq!(refused(&bytes), err);
    }

    #[test]
    fn an_image_larger_than_a_slot_is_refused_at_its_header() {
        let bytes = bundle();
        let err = refused_max(&bytes, 4999);
        assert_eq!(
            err,
            BundleError::TooBig {
                size: 5000,
                max: 4999
            }
        );
        let mut v = Verifier::new(key().verifying_key(), ARCH, 4999);
        assert_eq!(v.feed(&bytes[..header_len(&bytes)]), Err(err));
    }

    #[test]
    fn a_later_format_is_named_as_such_even_with_new_fields() {
        let json = br#"{"format": 2, "chunks": []}"#;
        assert_eq!(refused(&raw(json, b"", &key())), BundleError::Format(2));
    }

    #[test]
    fn signed_manifests_this_pharos_cannot_read_are_refused() {
        let image = image();
        let good = serde_json::to_value(manifest(&image)).unwrap();
        let mut unknown = good.clone();
        unknown["compression"] = "zstd".into();
        let mut short_hash = good.clone();
        short_hash["image"]["sha256"] = "abc".into();
        let mut upper_hash = good.clone();
        upper_hash["image"]["sha256"] = sha256_hex(&image).to_uppercase().into();
        let mut no_kernel = good.clone();
        no_kernel.as_object_mut().unwrap().remove("kernel");
        for (what, json) in [
            ("unknown field", unknown.to_string().into_bytes()),
            ("short hash", short_hash.to_string().into_bytes()),
            ("upper-case hash", upper_hash.to_string().into_bytes()),
            ("no kernel", no_kernel.to_string().into_bytes()),
            ("not JSON", b"format=1".to_vec()),
            ("no format", b"{}".to_vec()),
        ] {
            match refused(&raw(&json, &image, &key())) {
                BundleError::Manifest(_) => {}
                e => panic!("{what}: {e}"),
            }
        }
        // The control: the same path with the manifest as it was.
        assert!(
            verify(
                &raw(good.to_string().as_bytes(), &image, &key()),
                7,
                1 << 20
            )
            .is_ok()
        );
    }

    #[test]
    fn write_bundle_refuses_a_manifest_of_another_image() {
        let image = image();
        let m = manifest(&image);
        let mut out = Vec::new();
        let err = write_bundle(&mut out, &m, &image[1..], &key()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        let mut changed = image.clone();
        changed[0] ^= 1;
        let err = write_bundle(&mut out, &m, &changed, &key()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(out.is_empty());
    }

    #[test]
    fn the_sha256_is_the_standard_one() {
        // FIPS 180-2's "abc".
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn every_error_says_what_to_do() {
        let errors = [
            BundleError::NotABundle,
            BundleError::ManifestTooLong,
            BundleError::BadSignature,
            BundleError::Format(2),
            BundleError::Arch {
                bundle: "aarch64".into(),
                box_: "x86_64".into(),
            },
            BundleError::TooBig { size: 2, max: 1 },
            BundleError::Truncated { got: 1, want: 2 },
            BundleError::TrailingBytes,
            BundleError::Hash {
                want: "a".into(),
                got: "b".into(),
            },
        ];
        for e in errors {
            let text = e.to_string();
            assert!(text.contains(": ") || text.contains("; "), "{text}");
        }
    }
}

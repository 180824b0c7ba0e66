//! The bundle signing key: one Ed25519 key pair (RFC 8032) per fleet.
//! The private half signs bundles where images are built and never goes on
//! a box; the public half is baked into the image and checks every bundle
//! the box is given.
//!
//! ```text
//!   DIR/bundle-signing.key   the private key: PKCS#8 PEM, "PRIVATE KEY" (RFC 8410 §7), mode 0600
//!   DIR/bundle-signing.pub   the public key: SPKI PEM, "PUBLIC KEY" (RFC 8410 §4)
//! ```
//!
//! Both are the files OpenSSL writes and reads (`openssl genpkey -algorithm
//! ed25519`, `openssl pkey`, `openssl pkeyutl -rawin`), so a key can be made
//! or checked with either tool. The private key is written as PKCS#8 v1
//! (the seed alone, as OpenSSL writes it), not v2 with the public key
//! beside it: every reader takes v1.

use std::fs::{DirBuilder, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use ed25519_dalek::pkcs8::KeypairBytes;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::{SigningKey, VerifyingKey};

/// The private key's file name in a key folder.
pub const SIGNING_FILE: &str = "bundle-signing.key";
/// The public key's file name in a key folder.
pub const VERIFYING_FILE: &str = "bundle-signing.pub";

/// What every "no usable key" error ends with.
const KEYGEN_HINT: &str = "make a key pair with `make keys` (or `pharos bundle keygen --dir DIR`), \
                           or give the path of an existing one";

/// Makes a new key pair in `dir` (created if missing): the private key
/// (mode 0600) and the public key. Refuses if `dir` already holds a private
/// key: bundles signed with it would no longer install on boxes that trust
/// it. Returns the two paths, private first.
pub fn generate(dir: &Path) -> Result<(PathBuf, PathBuf), String> {
    let private = dir.join(SIGNING_FILE);
    let public = dir.join(VERIFYING_FILE);
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| format!("cannot create the key folder {}: {e}", dir.display()))?;

    let mut seed = [0u8; ed25519_dalek::SECRET_KEY_LENGTH];
    getrandom::fill(&mut seed)
        .map_err(|e| format!("cannot get random bytes from the kernel for a new key: {e}"))?;
    let key = SigningKey::from_bytes(&seed);
    seed.fill(0);

    let private_pem = KeypairBytes {
        secret_key: key.to_bytes(),
        public_key: None,
    }
    .to_pkcs8_pem(LineEnding::LF)
    .map_err(|e| format!("cannot encode the new private key as PKCS#8: {e}"))?;
    let public_pem = key
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .map_err(|e| format!("cannot encode the new public key as SPKI: {e}"))?;

    // create_new: never replace a key that boxes may already trust.
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&private)
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                format!(
                    "{} already exists: not replacing a signing key (boxes that trust it would \
                     refuse bundles signed by a new one); remove it yourself if you mean to, \
                     or choose another --dir",
                    private.display()
                )
            } else {
                format!("cannot create {}: {e}", private.display())
            }
        })?;
    if let Err(e) = file
        .write_all(private_pem.as_bytes())
        .and_then(|()| file.sync_all())
    {
        let _ = std::fs::remove_file(&private);
        return Err(format!("cannot write {}: {e}", private.display()));
    }
    std::fs::write(&public, public_pem.as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", public.display()))?;
    Ok((private, public))
}

/// Reads a private key: PKCS#8 PEM (RFC 8410), as `generate` or `openssl
/// genpkey -algorithm ed25519` writes it.
pub fn load_signing(path: &Path) -> Result<SigningKey, String> {
    let text = read(path, "bundle signing key")?;
    if text.contains("-----BEGIN PUBLIC KEY-----") {
        return Err(format!(
            "{} is a public key: signing needs the private one ({SIGNING_FILE})",
            path.display()
        ));
    }
    SigningKey::from_pkcs8_pem(&text).map_err(|e| {
        format!(
            "{} is not an Ed25519 private key in PKCS#8 PEM (\"BEGIN PRIVATE KEY\", RFC 8410): \
             {e}; {KEYGEN_HINT}",
            path.display()
        )
    })
}

/// Reads a public key: SPKI PEM (RFC 8410), as `generate` or `openssl pkey
/// -pubout` writes it.
pub fn load_verifying(path: &Path) -> Result<VerifyingKey, String> {
    let text = read(path, "bundle verifying key")?;
    parse_verifying_pem(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// A public key from its PEM text (the image carries it as text).
pub fn parse_verifying_pem(text: &str) -> Result<VerifyingKey, String> {
    if text.contains("PRIVATE KEY-----") {
        return Err(format!(
            "this is a private key: verifying needs the public one ({VERIFYING_FILE}), \
             and the private key belongs on no box"
        ));
    }
    VerifyingKey::from_public_key_pem(text).map_err(|e| {
        format!(
            "not an Ed25519 public key in SPKI PEM (\"BEGIN PUBLIC KEY\", RFC 8410): {e}; \
             {KEYGEN_HINT}"
        )
    })
}

fn read(path: &Path, what: &str) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| {
        format!(
            "cannot read the {what} {}: {e}; {KEYGEN_HINT}",
            path.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use ed25519_dalek::{Signer, Verifier};

    use super::*;

    #[test]
    fn generated_keys_load_and_sign_what_the_public_half_verifies() {
        let dir = tempfile::tempdir().unwrap();
        let (private, public) = generate(&dir.path().join("keys")).unwrap();
        assert_eq!(private.file_name().unwrap(), SIGNING_FILE);
        assert_eq!(public.file_name().unwrap(), VERIFYING_FILE);
        let mode = std::fs::metadata(&private).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);

        let signing = load_signing(&private).unwrap();
        let verifying = load_verifying(&public).unwrap();
        assert_eq!(signing.verifying_key(), verifying);
        let sig = signing.sign(b"bundle");
        verifying.verify(b"bundle", &sig).unwrap();

        let text = std::fs::read_to_string(&private).unwrap();
        assert!(text.starts_with("-----BEGIN PRIVATE KEY-----\n"), "{text}");
        let text = std::fs::read_to_string(&public).unwrap();
        assert!(text.starts_with("-----BEGIN PUBLIC KEY-----\n"), "{text}");
    }

    #[test]
    fn two_key_pairs_differ() {
        let dir = tempfile::tempdir().unwrap();
        let (a, _) = generate(&dir.path().join("a")).unwrap();
        let (b, _) = generate(&dir.path().join("b")).unwrap();
        assert_ne!(
            load_signing(&a).unwrap().to_bytes(),
            load_signing(&b).unwrap().to_bytes()
        );
    }

    #[test]
    fn an_existing_private_key_is_never_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let (private, _) = generate(dir.path()).unwrap();
        let before = std::fs::read(&private).unwrap();
        let err = generate(dir.path()).unwrap_err();
        assert!(err.contains("already exists"), "{err}");
        assert_eq!(std::fs::read(&private).unwrap(), before);
    }

    #[test]
    fn the_halves_swapped_are_named_for_what_they_are() {
        let dir = tempfile::tempdir().unwrap();
        let (private, public) = generate(dir.path()).unwrap();
        let err = load_signing(&public).unwrap_err();
        assert!(err.contains("is a public key"), "{err}");
        let err = load_verifying(&private).unwrap_err();
        assert!(err.contains("is a private key"), "{err}");
    }

    #[test]
    fn a_missing_or_garbled_key_says_which_file_and_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.key");
        let err = load_signing(&missing).unwrap_err();
        assert!(
            err.contains("nope.key") && err.contains("pharos bundle keygen"),
            "{err}"
        );
        let garbled = dir.path().join("garbled.pub");
        std::fs::write(
            &garbled,
            "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
        )
        .unwrap();
        let err = load_verifying(&garbled).unwrap_err();
        assert!(err.contains("garbled.pub") && err.contains("SPKI"), "{err}");
    }

    /// RFC 8410 §10.3's example private key (PKCS#8 v1, as OpenSSL writes
    /// it) loads to the seed the RFC shows.
    #[test]
    fn the_rfc_8410_example_private_key_loads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rfc.key");
        std::fs::write(
            &path,
            "-----BEGIN PRIVATE KEY-----\n\
             MC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n\
             -----END PRIVATE KEY-----\n",
        )
        .unwrap();
        let key = load_signing(&path).unwrap();
        assert_eq!(
            hex(&key.to_bytes()),
            "d4ee72dbf913584ad5b6d8f1f769f8ad3afe7c28cbf1d4fbe097a88f44755842"
        );
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}

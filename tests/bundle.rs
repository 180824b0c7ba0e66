//! Update bundles and GRUB's environment block against the tools of the
//! other side: the keys `pharos bundle keygen` writes are OpenSSL's PEM
//! files and its signatures are what `openssl pkeyutl` checks (RFC 8032,
//! RFC 8410); a key OpenSSL made signs bundles pharos verifies; and the
//! environment block pharos writes is the one `grub-editenv` reads, and the
//! other way round. openssl and grub-editenv come from `make deps`
//! (TEST_PACKAGES: openssl, grub-common).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const PHAROS: &str = env!("CARGO_BIN_EXE_pharos");

fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} {args:?}: {e} (install it with `make deps`)"))
}

fn ok(program: &str, args: &[&str]) -> String {
    let out = run(program, args);
    assert!(
        out.status.success(),
        "{program} {args:?}: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A slot image stand-in: 300 KiB that no two runs share by chance.
fn image(dir: &Path) -> PathBuf {
    let path = dir.join("slot.img");
    let bytes: Vec<u8> = (0..300 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    std::fs::write(&path, bytes).unwrap();
    path
}

fn make(image: &Path, key: &Path, out: &Path) {
    ok(
        PHAROS,
        &[
            "bundle",
            "make",
            "--image",
            s(image),
            "--kernel",
            "6.1.0-28-amd64",
            "--variant",
            "prod",
            "--built",
            "1700000000",
            "--key",
            s(key),
            "--out",
            s(out),
        ],
    );
}

/// The bundle's parts: (MAGIC || L || manifest, signature, image).
fn split(bundle: &[u8]) -> (&[u8], &[u8], &[u8]) {
    let len = u32::from_be_bytes(bundle[16..20].try_into().unwrap()) as usize;
    let (signed, rest) = bundle.split_at(20 + len);
    let (sig, image) = rest.split_at(64);
    (signed, sig, image)
}

#[test]
fn keygen_writes_pem_files_that_openssl_reads() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    let printed = ok(PHAROS, &["bundle", "keygen", "--dir", s(&keys)]);
    let private = keys.join("bundle-signing.key");
    let public = keys.join("bundle-signing.pub");
    assert_eq!(
        printed,
        format!("{}\n{}\n", private.display(), public.display())
    );
    let text = ok("openssl", &["pkey", "-in", s(&private), "-noout", "-text"]);
    assert!(text.starts_with("ED25519 Private-Key:"), "{text}");
    // OpenSSL derives the same public key from the private one.
    let derived = ok("openssl", &["pkey", "-in", s(&private), "-pubout"]);
    assert_eq!(derived, std::fs::read_to_string(&public).unwrap());
    let text = ok(
        "openssl",
        &["pkey", "-pubin", "-in", s(&public), "-noout", "-text"],
    );
    assert!(text.starts_with("ED25519 Public-Key:"), "{text}");
}

#[test]
fn a_bundle_signature_by_pharos_verifies_with_openssl_pkeyutl() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(PHAROS, &["bundle", "keygen", "--dir", s(d)]);
    let bundle = d.join("update.bundle");
    let img = image(d);
    make(&img, &d.join("bundle-signing.key"), &bundle);

    let bytes = std::fs::read(&bundle).unwrap();
    let (signed, sig, payload) = split(&bytes);
    assert_eq!(payload, std::fs::read(&img).unwrap());
    std::fs::write(d.join("signed"), signed).unwrap();
    std::fs::write(d.join("sig"), sig).unwrap();
    let verify = |signed: &str| {
        run(
            "openssl",
            &[
                "pkeyutl",
                "-verify",
                "-pubin",
                "-inkey",
                s(&d.join("bundle-signing.pub")),
                "-rawin",
                "-in",
                signed,
                "-sigfile",
                s(&d.join("sig")),
            ],
        )
    };
    let out = verify(s(&d.join("signed")));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && said.contains("Signature Verified Successfully"),
        "{said}"
    );
    // The control: one byte of the manifest changed and OpenSSL says no.
    let mut altered = signed.to_vec();
    let last = altered.len() - 2;
    altered[last] ^= 1;
    std::fs::write(d.join("altered"), altered).unwrap();
    assert!(!verify(s(&d.join("altered"))).status.success());
}

#[test]
fn a_key_openssl_made_signs_bundles_pharos_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let key = d.join("ed.key");
    let public = d.join("ed.pub");
    ok(
        "openssl",
        &["genpkey", "-algorithm", "ed25519", "-out", s(&key)],
    );
    ok(
        "openssl",
        &["pkey", "-in", s(&key), "-pubout", "-out", s(&public)],
    );
    let bundle = d.join("update.bundle");
    make(&image(d), &key, &bundle);
    let out = ok(
        PHAROS,
        &["bundle", "verify", s(&bundle), "--key", s(&public)],
    );
    assert!(
        out.ends_with("signature and image hash verified\n"),
        "{out}"
    );
    let json = out.rsplit_once("}\n").unwrap().0.to_string() + "}";
    let manifest: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(manifest["image"]["size"], 300 * 1024);
    assert_eq!(manifest["kernel"], "6.1.0-28-amd64");
    assert_eq!(manifest["variant"], "prod");
    assert_eq!(manifest["built"], 1_700_000_000);
    assert_eq!(manifest["arch"], "x86_64");
    assert_eq!(manifest["version"], env!("CARGO_PKG_VERSION"));
}

#[test]
fn a_bundle_of_another_key_or_altered_fails_verify() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(PHAROS, &["bundle", "keygen", "--dir", s(&d.join("ours"))]);
    ok(PHAROS, &["bundle", "keygen", "--dir", s(&d.join("theirs"))]);
    let bundle = d.join("theirs.bundle");
    let img = image(d);
    make(&img, &d.join("theirs/bundle-signing.key"), &bundle);
    let ours = d.join("ours/bundle-signing.pub");
    let theirs = d.join("theirs/bundle-signing.pub");
    // The control: their own key takes it.
    ok(
        PHAROS,
        &["bundle", "verify", s(&bundle), "--key", s(&theirs)],
    );

    let out = run(PHAROS, &["bundle", "verify", s(&bundle), "--key", s(&ours)]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not signed by this box's key"), "{err}");
    assert!(out.stdout.is_empty());

    // One image byte changed: the signature holds, the hash does not.
    let mut bytes = std::fs::read(&bundle).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&bundle, &bytes).unwrap();
    let out = run(
        PHAROS,
        &["bundle", "verify", s(&bundle), "--key", s(&theirs)],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("SHA-256"), "{err}");

    // Unreadable is not refused: exit 2.
    let out = run(
        PHAROS,
        &["bundle", "verify", s(&d.join("none")), "--key", s(&theirs)],
    );
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_block_grub_editenv_wrote_parses_to_its_variables() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("grubenv");
    ok("grub-editenv", &[s(&f), "create"]);
    ok(
        "grub-editenv",
        &[s(&f), "set", "pharos_slot=B", "pharos_try=A"],
    );
    let env = pharos::upgrade::grubenv::parse(&std::fs::read(&f).unwrap()).unwrap();
    assert_eq!(env.get("pharos_slot"), Some("B"));
    assert_eq!(env.get("pharos_try"), Some("A"));
    assert_eq!(env.vars().len(), 2);

    // grub-editenv's escapes read back as the value it was given.
    ok(
        "grub-editenv",
        &[s(&f), "set", "odd=a\\b\nc", "pharos_try="],
    );
    let env = pharos::upgrade::grubenv::parse(&std::fs::read(&f).unwrap()).unwrap();
    assert_eq!(env.get("odd"), Some("a\\b\nc"));
    assert_eq!(env.get("pharos_try"), Some(""));
    assert_eq!(env.get("pharos_slot"), Some("B"));
}

#[test]
fn a_block_pharos_wrote_is_listed_by_grub_editenv() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("grubenv");
    let mut env = pharos::upgrade::grubenv::GrubEnv::new();
    env.set("pharos_slot", "A");
    env.set("pharos_try", "B");
    env.set("saved_entry", "pharos");
    std::fs::write(&f, env.encode().unwrap()).unwrap();
    let listed = ok("grub-editenv", &[s(&f), "list"]);
    assert_eq!(listed, "pharos_slot=A\npharos_try=B\nsaved_entry=pharos\n");

    // And grub-editenv can change it in place: the block is well formed.
    env.set("pharos_try", "");
    std::fs::write(&f, env.encode().unwrap()).unwrap();
    ok("grub-editenv", &[s(&f), "unset", "saved_entry"]);
    ok("grub-editenv", &[s(&f), "set", "pharos_slot=B"]);
    let listed = ok("grub-editenv", &[s(&f), "list"]);
    assert_eq!(listed, "pharos_slot=B\npharos_try=\n");
    assert_eq!(std::fs::metadata(&f).unwrap().len(), 1024);
}

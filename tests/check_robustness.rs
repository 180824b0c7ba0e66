//! `pharos check` on input that is not a config at all: it never panics
//! (exit 101) and answers 1 (invalid) or 2 (unreadable) with a message.

use std::process::{Command, Output};

fn check(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pharos"))
        .arg("check")
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn assert_rejected(out: &Output, code: i32, what: &str) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("error"), "{what}: no message: {err}");
}

/// xorshift64*: deterministic bytes without a dependency.
fn random_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.max(1);
    (0..len)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8
        })
        .collect()
}

#[test]
fn random_bytes_are_rejected_without_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    for seed in 1..=20u64 {
        let path = dir.path().join(format!("random-{seed}.toml"));
        std::fs::write(&path, random_bytes(seed, 64 + seed as usize * 97)).unwrap();
        let out = check(&[path.to_str().unwrap()]);
        assert_rejected(&out, 1, &format!("seed {seed}"));
        let json = check(&["--format", "json", path.to_str().unwrap()]);
        assert_eq!(json.status.code(), Some(1));
        let _: serde_json::Value =
            serde_json::from_slice(&json.stdout).expect("JSON even for garbage");
    }
}

#[test]
fn a_file_that_configures_nothing_is_refused() {
    // An empty pharos.toml is what a copy that did not finish leaves; at
    // boot it must not replace the last good config (tests/vm_image.rs).
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in [
        ("empty", ""),
        ("blank", "  \n\n\t\n"),
        ("comments", "# pharos.toml\n\n   # nothing yet\n"),
    ] {
        let path = dir.path().join(format!("{name}.toml"));
        std::fs::write(&path, text).unwrap();
        let out = check(&[path.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}: {err}");
        assert!(err.contains("the file configures nothing"), "{name}: {err}");
    }
}

#[test]
fn a_ten_megabyte_file_is_rejected_promptly() {
    let dir = tempfile::tempdir().unwrap();
    // Random text lines: syntactically broken almost everywhere.
    let path = dir.path().join("big-random.toml");
    std::fs::write(&path, random_bytes(7, 10 << 20)).unwrap();
    assert_rejected(
        &check(&[path.to_str().unwrap()]),
        1,
        "10 MB of random bytes",
    );
    // Valid TOML, but 10 MB of it in one unknown table.
    let path = dir.path().join("big-valid.toml");
    let mut text = String::from("[junk]\n");
    let mut i = 0;
    while text.len() < 10 << 20 {
        text.push_str(&format!("key{i} = \"value number {i}\"\n"));
        i += 1;
    }
    std::fs::write(&path, text).unwrap();
    let out = check(&[path.to_str().unwrap()]);
    assert_rejected(&out, 1, "10 MB of valid TOML");
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown key `junk`"));
}

#[test]
fn a_directory_or_a_missing_path_is_unreadable() {
    let dir = tempfile::tempdir().unwrap();
    let out = check(&[dir.path().to_str().unwrap()]);
    assert_rejected(&out, 2, "a directory");
    assert!(String::from_utf8_lossy(&out.stderr).contains("is a directory"));
    let missing = dir.path().join("nope.toml");
    let out = check(&[missing.to_str().unwrap()]);
    assert_rejected(&out, 2, "a missing path");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err.lines().last(),
        Some(format!("{}: unreadable; nothing checked", missing.display()).as_str()),
        "the verdict says unreadable, not invalid: {err}"
    );
    let json = check(&["--format", "json", missing.to_str().unwrap()]);
    assert_eq!(json.status.code(), Some(2));
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(report["result"], "unreadable");
    assert_eq!(report["nodes"], serde_json::json!([]));
    let list = report["diagnostics"].as_array().unwrap();
    assert!(list[0]["message"].as_str().unwrap().contains("cannot read"));
}

#[test]
fn invalid_utf8_is_reported_at_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("latin1.toml");
    std::fs::write(&path, b"[system]\nhostname = \"caf\xe9\"\n").unwrap();
    let out = check(&["--format", "json", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["result"], "invalid");
    let list = report["diagnostics"].as_array().unwrap();
    assert_eq!(list[0]["message"], "the file is not valid UTF-8");
    assert_eq!(
        (list[0]["line"].as_u64(), list[0]["column"].as_u64()),
        (Some(2), Some(16))
    );
}

/// Mutations of a real config, checked in-process: thousands of near-valid
/// inputs reach deep into typing and validation, where a panic would hide.
#[test]
fn mutated_configs_never_panic() {
    let base = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/configs/lvs-dr-pair.toml"
    ))
    .unwrap();
    let lines: Vec<&str> = base.lines().collect();
    let noise = [
        "0",
        "-1",
        "\"\"",
        "\"x\"",
        "[]",
        "{}",
        "true",
        "99999999999",
        "\"1s\"",
        "\"::1\"",
        "{ a = 1 }",
        "1.5",
    ];
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    for _ in 0..3000 {
        let mut out: Vec<String> = lines.iter().map(|s| s.to_string()).collect();
        for _ in 0..(1 + next() % 3) {
            let i = (next() as usize) % out.len();
            match next() % 4 {
                0 => {
                    out.remove(i);
                }
                1 => {
                    if let Some((k, _)) = out[i].split_once('=') {
                        out[i] = format!("{k}= {}", noise[(next() as usize) % noise.len()]);
                    }
                }
                2 => {
                    let j = (next() as usize) % out.len();
                    out.swap(i, j);
                }
                _ => {
                    let cut = (next() as usize) % (out[i].len() + 1);
                    if out[i].is_char_boundary(cut) {
                        out[i].truncate(cut);
                    }
                }
            }
        }
        let text = out.join("\n");
        let checked = pharos::config::check_text(&text, &pharos::config::Selection::All);
        let source = pharos::diag::Source::new("mutated.toml", &text);
        let _ = pharos::diag::render(&source, &checked.diagnostics, false);
        let _ = pharos::diag::to_json(&source, &checked.diagnostics);
    }
}

//! Golden imports: each `tests/golden/import/NAME.save` (rules as
//! `ipvsadm-save` or a hand-written script has them) becomes exactly the
//! TOML in `NAME.toml` on stdout and the warnings in `NAME.stderr`, exits 0,
//! and `NAME.toml` passes `pharos check`.
//!
//! Regenerate after an intended change with `BLESS=1 cargo test --test
//! import_ipvsadm`, then read the diff.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn pharos(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pharos"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn golden_cases() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/import");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/golden/import exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "save"))
        .collect();
    cases.sort();
    assert!(
        cases.len() >= 10,
        "expected the golden inputs, found {cases:?}"
    );
    cases
}

fn compare(expected_file: &Path, actual: &str, failures: &mut Vec<String>) {
    if std::env::var_os("BLESS").is_some() {
        std::fs::write(expected_file, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(expected_file).unwrap_or_default();
    if expected != actual {
        failures.push(format!(
            "{} differs.\n--- expected\n{expected}\n--- actual\n{actual}",
            expected_file.display()
        ));
    }
}

fn relative(case: &Path) -> String {
    format!(
        "tests/golden/import/{}",
        case.file_name().unwrap().to_str().unwrap()
    )
}

#[test]
fn saved_rules_import_to_the_expected_toml_which_passes_check() {
    let mut failures = Vec::new();
    for case in golden_cases() {
        let rel = relative(&case);
        let out = pharos(&["import", "ipvsadm", &rel]);
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(0), "{rel}: exit code; {stderr}");
        for line in stderr.lines() {
            let (place, message) = line
                .split_once(": warning: ")
                .unwrap_or_else(|| panic!("{rel}: not `FILE:LINE: warning: ...`: {line}"));
            let (file, number) = place.rsplit_once(':').unwrap();
            assert_eq!(file, rel);
            assert!(number.parse::<usize>().is_ok_and(|n| n > 0), "{line}");
            assert!(!message.is_empty());
        }
        compare(
            &case.with_extension("toml"),
            &String::from_utf8(out.stdout).unwrap(),
            &mut failures,
        );
        compare(&case.with_extension("stderr"), &stderr, &mut failures);
        // The golden file itself, so a blessed change is checked too.
        let golden = relative(&case.with_extension("toml"));
        let check = pharos(&["check", &golden]);
        assert_eq!(
            check.status.code(),
            Some(0),
            "{golden}: {}",
            String::from_utf8_lossy(&check.stderr)
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn each_warning_is_also_a_comment_in_the_toml() {
    for case in golden_cases() {
        let out = pharos(&["import", "ipvsadm", &relative(&case)]);
        let toml = String::from_utf8(out.stdout).unwrap();
        for line in String::from_utf8(out.stderr).unwrap().lines() {
            let (place, message) = line.split_once(": warning: ").unwrap();
            let number = place.rsplit_once(':').unwrap().1;
            let comment = format!("# line {number}: {message}");
            assert!(
                toml.lines().any(|l| l == comment),
                "{}: `{comment}` is not in the TOML",
                case.display()
            );
        }
    }
}

#[test]
fn an_unreadable_file_exits_2_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.save");
    for path in [missing.as_path(), dir.path()] {
        let out = pharos(&["import", "ipvsadm", path.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2));
        assert!(out.stdout.is_empty());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("cannot read"), "{err}");
    }
}

#[test]
fn bytes_that_are_not_utf8_are_a_warning_not_a_failure() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("latin1.save");
    std::fs::write(
        &path,
        b"-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r 10.0.1.2:80 -g -w 1 --caf\xe9\n",
    )
    .unwrap();
    let out = pharos(&["import", "ipvsadm", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(":2: warning: the file is not valid UTF-8"),
        "{err}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"10.0.1.2:80\" = {}"));
}

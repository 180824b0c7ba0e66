//! Golden diagnostics: each broken config in `tests/golden/` produces exactly
//! the text in `NAME.txt` (stderr of `pharos check`) and the JSON in
//! `NAME.json` (stdout of `pharos check --format json`: the file, the
//! result, the nodes checked and the diagnostics), and exits 1.
//!
//! Regenerate after an intended change with `BLESS=1 cargo test --test
//! check_golden`, then read the diff.

use std::path::{Path, PathBuf};
use std::process::Command;

fn pharos() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pharos"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1");
    c
}

fn golden_cases() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/golden exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    cases.sort();
    assert!(
        cases.len() >= 10,
        "expected the golden cases, found {cases:?}"
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

#[test]
fn broken_configs_produce_the_exact_expected_diagnostics() {
    let mut failures = Vec::new();
    for case in golden_cases() {
        let rel = format!(
            "tests/golden/{}",
            case.file_name().unwrap().to_str().unwrap()
        );
        let text = pharos().args(["check", &rel]).output().unwrap();
        assert_eq!(text.status.code(), Some(1), "{rel}: exit code");
        assert!(
            text.stdout.is_empty(),
            "{rel}: text mode writes diagnostics to stderr only"
        );
        compare(
            &case.with_extension("txt"),
            &String::from_utf8(text.stderr).unwrap(),
            &mut failures,
        );

        let json = pharos()
            .args(["check", "--format", "json", &rel])
            .output()
            .unwrap();
        assert_eq!(json.status.code(), Some(1), "{rel}: exit code (json)");
        let out = String::from_utf8(json.stdout).unwrap();
        let parsed: serde_json::Value = serde_json::from_str(&out).expect("JSON output parses");
        assert_eq!(parsed["file"], rel.as_str(), "{rel}: the file checked");
        assert_eq!(parsed["result"], "invalid", "{rel}: the result");
        assert!(parsed["nodes"].is_array(), "{rel}: the nodes checked");
        let list = parsed["diagnostics"]
            .as_array()
            .expect("a list of diagnostics");
        assert!(!list.is_empty());
        for d in list {
            for key in ["severity", "message", "file", "line", "column", "help"] {
                assert!(d.get(key).is_some(), "{rel}: diagnostic lacks `{key}`: {d}");
            }
        }
        compare(&case.with_extension("json"), &out, &mut failures);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn several_independent_errors_are_all_reported_in_one_run() {
    let out = pharos()
        .args([
            "check",
            "--format",
            "json",
            "tests/golden/several-errors.toml",
        ])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let errors: Vec<(u64, String)> = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["severity"] == "error")
        .map(|d| {
            (
                d["line"].as_u64().unwrap(),
                d["message"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    // One per independent mistake in the file, each on its own line.
    let lines: std::collections::BTreeSet<u64> = errors.iter().map(|e| e.0).collect();
    assert!(errors.len() >= 10, "{errors:#?}");
    assert!(lines.len() >= 10, "{errors:#?}");
}

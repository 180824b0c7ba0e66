//! Every example in `configs/` passes `pharos check` with no errors and no
//! warnings, and `pharos schema` accepts it too, as read by the jsonschema
//! crate and by taplo (the checker editors use).

use std::path::PathBuf;
use std::process::Command;

fn config_files() -> Vec<PathBuf> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/configs");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    // One per setup in shared/scenarios.md, plus the image's default.
    assert!(
        files.len() >= 8,
        "expected the example configs, found {files:?}"
    );
    assert!(files.iter().any(|f| f.ends_with("default.toml")));
    files
}

#[test]
fn every_example_config_passes_check_without_warnings() {
    for file in config_files() {
        let out = Command::new(env!("CARGO_BIN_EXE_pharos"))
            .args(["check", "--format", "json"])
            .arg(&file)
            .output()
            .unwrap();
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let diags = &report["diagnostics"];
        assert_eq!(out.status.code(), Some(0), "{}: {diags:#?}", file.display());
        assert_eq!(diags, &serde_json::json!([]), "{}", file.display());
        assert_eq!(report["result"], "ok", "{}", file.display());
        assert_eq!(
            report["file"].as_str(),
            file.to_str(),
            "the report names the file checked"
        );
        // Every node the file defines was checked (or none, if it has none).
        let text = std::fs::read_to_string(&file).unwrap();
        let defined: Vec<String> = toml::from_str::<toml::Table>(&text)
            .unwrap()
            .get("nodes")
            .and_then(|n| n.as_table())
            .map(|t| t.keys().cloned().collect())
            .unwrap_or_default();
        assert_eq!(
            report["nodes"],
            serde_json::json!(defined),
            "{}",
            file.display()
        );
        let text = Command::new(env!("CARGO_BIN_EXE_pharos"))
            .arg("check")
            .arg(&file)
            .output()
            .unwrap();
        assert_eq!(text.status.code(), Some(0));
        assert!(String::from_utf8_lossy(&text.stdout).contains(": ok"));
    }
}

fn schema() -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_pharos"))
        .arg("schema")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    serde_json::from_slice(&out.stdout).expect("pharos schema prints JSON")
}

fn toml_to_json(text: &str) -> serde_json::Value {
    toml::from_str::<serde_json::Value>(text).expect("valid TOML")
}

#[test]
fn the_schema_is_valid_json_schema() {
    let schema = schema();
    assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
    jsonschema::meta::validate(&schema).expect("the schema conforms to its meta-schema");
}

#[test]
fn every_example_config_validates_against_the_schema() {
    let validator = jsonschema::validator_for(&schema()).unwrap();
    for file in config_files() {
        let instance = toml_to_json(&std::fs::read_to_string(&file).unwrap());
        let errors: Vec<String> = validator
            .iter_errors(&instance)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{}: {errors:#?}", file.display());
    }
}

#[test]
fn the_schema_rejects_what_check_rejects_by_shape() {
    let validator = jsonschema::validator_for(&schema()).unwrap();
    let bad = [
        "[vrrp.VI_1]\ninterface = \"eth0\"\nvrid = 51\nvirtual_addresses = []\nno_premmpt = true\n",
        "[vrrp.VI_1]\ninterface = \"eth0\"\nvrid = 300\nvirtual_addresses = []\n",
        "[services.web]\nforwarding = \"dr\"\nscheduler = \"wrrr\"\n",
        "[services.web]\nforwarding = \"dr\"\npersistence = 30\n",
        "[nodes.a]\nvrrp.VI_1.priority = 0\n",
        "[nodes.a]\nmatch = { serial = \"x\" }\n",
    ];
    for text in bad {
        assert!(
            !validator.is_valid(&toml_to_json(text)),
            "schema accepted:\n{text}"
        );
    }
    // A node overlay is partial: required keys may live in the base.
    assert!(validator.is_valid(&toml_to_json(
        "[nodes.a]\nmatch.mac = \"52:54:00:00:00:01\"\nvrrp.VI_1.priority = 50\n"
    )));
}

#[test]
fn the_readme_tour_config_is_valid() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let tour = readme
        .split("## A tour of the config")
        .nth(1)
        .expect("README has the tour");
    let block = tour
        .split("```toml\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("a toml block");
    let checked = pharos::config::check_text(block, &pharos::config::Selection::All);
    assert!(checked.diagnostics.is_empty(), "{:#?}", checked.diagnostics);
    assert_eq!(checked.configs.len(), 3);
}

/// taplo, the checker behind Even Better TOML and other editors: the
/// README's editor line, and every file in `configs/`, as the editor sees
/// them. taplo reads TOML on its own (not through pharos's parser), so
/// this also catches a schema that only pharos's own reading agrees with.
fn taplo(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new("taplo")
        .args(args)
        .current_dir(dir)
        // No config file of the checkout's or the user's, no schema catalog
        // from the network: only what the test gives it.
        .env("RUST_LOG", "warn")
        .output()
        .expect("taplo (make deps installs it: cargo install taplo-cli)")
}

#[test]
fn taplo_checks_every_example_config_against_the_schema() {
    let dir = tempfile::tempdir().unwrap();
    let schema_path = dir.path().join("pharos.schema.json");
    std::fs::write(
        &schema_path,
        serde_json::to_string_pretty(&schema()).unwrap(),
    )
    .unwrap();
    let url = format!("file://{}", schema_path.display());
    let files = config_files();
    let mut args = vec!["check", "--no-auto-config", "--schema", url.as_str()];
    let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    args.extend(names.iter().map(String::as_str));
    let out = taplo(dir.path(), &args);
    assert!(
        out.status.success(),
        "taplo rejects an example config:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // The README's one line (`#:schema ./pharos.schema.json` at the top of
    // the file) turns the schema on by itself: a misspelt key and a wrong
    // type are errors, placed at their line.
    let good = dir.path().join("good.toml");
    let bad = dir.path().join("bad.toml");
    let directive = "#:schema ./pharos.schema.json\n";
    std::fs::write(
        &good,
        format!("{directive}[services.web]\naddress = \"10.0.0.1:80\"\nforwarding = \"dr\"\n"),
    )
    .unwrap();
    std::fs::write(
        &bad,
        format!("{directive}[services.web]\naddress = \"10.0.0.1:80\"\nforwarding = \"dr\"\nsheduler = \"rr\"\n\n[vrrp.VI_1]\ninterface = \"eth0\"\nvrid = \"fifty\"\nvirtual_addresses = []\n"),
    )
    .unwrap();
    let out = taplo(dir.path(), &["check", "--no-auto-config", "good.toml"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = taplo(dir.path(), &["check", "--no-auto-config", "bad.toml"]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "taplo accepted bad.toml:\n{said}");
    assert!(
        said.contains("sheduler"),
        "the misspelt key is named:\n{said}"
    );
    assert!(
        said.contains("bad.toml:5"),
        "the misspelt key's line:\n{said}"
    );
    assert!(
        said.contains("bad.toml:9"),
        "the wrong type's line:\n{said}"
    );
}

//! The README against the tree it describes: every path it names exists,
//! and `make install` is there for the binary it tells users to install.
//! (The QEMU command it gives is booted by tests/vm_image.rs.)

use std::path::Path;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn readme() -> String {
    std::fs::read_to_string(Path::new(ROOT).join("README.md")).unwrap()
}

/// Backticked words in the README that look like paths of the repository.
fn named_paths(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, part) in text.split('`').enumerate() {
        if i % 2 == 0 || part.contains(' ') {
            continue;
        }
        let top = [
            "src/",
            "tests/",
            "image/",
            "configs/",
            "overlays/",
            "benches/",
        ];
        if top.iter().any(|t| part.starts_with(t)) && !part.contains('*') && !part.contains('{') {
            out.push(part.trim_end_matches(['.', ',', ':']).to_string());
        }
    }
    out
}

/// Whether a file of this name is in `dir` or a folder below it.
fn found_under(dir: &Path, name: &str) -> bool {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .any(|e| {
            let p = e.path();
            e.file_name() == name || (p.is_dir() && found_under(&p, name))
        })
}

#[test]
fn every_path_the_readme_names_exists() {
    let text = readme();
    let paths = named_paths(&text);
    assert!(paths.len() > 10, "{paths:?}");
    // The layout table names files relative to their folder's row:
    // `| `src/init/` | ... `reaper.rs` ... |`.
    let mut missing: Vec<String> = paths
        .iter()
        // Made by the build and `make bench`, ignored by git.
        .filter(|p| {
            !p.starts_with("image/out")
                && !p.starts_with("image/cache")
                && !p.starts_with("benches/out")
        })
        .filter(|p| !Path::new(ROOT).join(p).exists())
        .cloned()
        .collect();
    for row in text.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = row.split('|').collect();
        let Some(folder) = cells.get(1).map(|c| c.trim().trim_matches('`')) else {
            continue;
        };
        if !folder.ends_with('/') {
            continue;
        }
        for (i, part) in cells[2..].join("|").split('`').enumerate() {
            let file = part.trim_end_matches('/');
            if i % 2 == 1
                && (file.ends_with(".rs") || file.ends_with(".sh") || file.ends_with(".txt"))
                && !file.contains([' ', '/', '*'])
                && !found_under(&Path::new(ROOT).join(folder), file)
            {
                missing.push(format!("{folder}{file}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "the README names paths that do not exist: {missing:?}"
    );
}

#[test]
fn the_readme_says_how_to_get_rust_and_the_binary() {
    let text = readme();
    let head: String = text.lines().take(40).collect::<Vec<_>>().join("\n");
    assert!(head.contains("rustup"), "how to install Rust, near the top");
    assert!(
        head.contains("make install"),
        "how to get `pharos` onto PATH"
    );
    let out = std::process::Command::new("make")
        .args(["-n", "-C", ROOT, "install"])
        .output()
        .unwrap();
    assert!(out.status.success(), "make install exists");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("target/release/pharos"),
        "it installs the release binary"
    );
}

#[test]
fn the_readme_has_no_word_of_work_still_to_come() {
    let text = readme();
    for stale in ["still to come", "lab.sh", "four VMs"] {
        assert!(!text.contains(stale), "stale text in README.md: `{stale}`");
    }
}

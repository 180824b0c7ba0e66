//! The unit file in `overlays/systemd/` passes `systemd-analyze verify`
//! with nothing to say (verify exits 0 even for unknown keys, so its
//! output is what counts; a broken copy shows the check can fail).

use std::process::Command;

fn verify(unit_text: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pharos.service");
    // verify insists that ExecStart's binary exists: point it at ours.
    std::fs::write(
        &path,
        unit_text.replace("/usr/bin/pharos", env!("CARGO_BIN_EXE_pharos")),
    )
    .unwrap();
    // The man pages the unit's Documentation= names come with the Debian
    // package (tests/deb.rs renders them), not with this host.
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&path)
        .output()
        .expect("systemd-analyze is installed (make test installs systemd)");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn the_unit_file_verifies_cleanly() {
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/overlays/systemd/pharos.service"
    ))
    .unwrap();
    assert!(
        unit.contains("Type=notify")
            && unit.contains("WatchdogSec=")
            && unit.contains("ExecReload=/usr/bin/pharos reload")
    );
    let said = verify(&unit);
    assert!(
        said.trim().is_empty(),
        "systemd-analyze verify complained:\n{said}"
    );
    let broken = verify(&unit.replace("Type=notify", "Type=notifyy"));
    assert!(
        broken.contains("notifyy"),
        "a broken unit must be reported: {broken}"
    );
}

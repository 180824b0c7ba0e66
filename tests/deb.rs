//! The Debian package (`make deb`, image/deb.sh) judged by the real tools:
//! lintian finds no error and no warning it was not told the reason for,
//! every man page renders without a groff or man warning, the same inputs
//! give the same bytes, and installed with dpkg into a clean Debian
//! bookworm (an mmdebstrap minbase tree) it gives a working
//! `pharos --version` and `pharos check /etc/pharos/pharos.toml`, a bash
//! completion that completes subcommands, the service enabled (as Debian's
//! keepalived package does), and a purge that leaves nothing behind.
//!
//! The package is built once for all the tests here. The bookworm tree
//! takes 1 to 1.5 minutes to make from the mirror, so its tarball is kept in
//! `target/deb-chroot/` and each run unpacks a fresh copy of it (a few
//! seconds); nothing is mounted, so a failed test leaves nothing behind
//! but a temporary folder its guard removes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::Instant;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap_or_else(|e| {
        panic!("cannot run {cmd:?}: {e} (make test installs what the tests need)")
    })
}

/// `make deb`, once for every test of this file: the path of the package.
fn package() -> &'static Path {
    static PACKAGE: OnceLock<PathBuf> = OnceLock::new();
    PACKAGE.get_or_init(|| {
        let start = Instant::now();
        let mut make = Command::new("make");
        make.args(["--no-print-directory", "-C", ROOT, "deb"]);
        // Without the variables cargo sets for a test (CARGO_MANIFEST_DIR,
        // CARGO_PKG_*, ...): ring's build script reruns when one of them
        // changes, and the static binary would be built again (7 minutes
        // here) instead of found up to date. CARGO would also replace the
        // Makefile's own `cargo`.
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy();
            if name.starts_with("CARGO") && name != "CARGO_HOME" {
                make.env_remove(&*name);
            }
        }
        let out = run(&mut make);
        assert!(out.status.success(), "make deb failed:\n{}", text(&out));
        eprintln!("make deb: {:.1} s", start.elapsed().as_secs_f64());
        let version = env!("CARGO_PKG_VERSION");
        let deb = Path::new(ROOT).join(format!("image/out/pharos_{version}-1_amd64.deb"));
        assert!(deb.is_file(), "make deb made no {}", deb.display());
        eprintln!(
            "{}: {} KiB",
            deb.display(),
            deb.metadata().unwrap().len() / 1024
        );
        deb
    })
}

/// The package's files, unpacked by dpkg-deb into a temporary folder.
fn unpacked() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let out = run(Command::new("dpkg-deb")
        .arg("-x")
        .arg(package())
        .arg(dir.path()));
    assert!(out.status.success(), "dpkg-deb -x: {}", text(&out));
    dir
}

#[test]
fn lintian_finds_no_error_and_no_unexplained_warning() {
    let start = Instant::now();
    // --fail-on error only: with --show-overrides, lintian counts the
    // overridden warnings towards --fail-on warning. The warnings are
    // judged from its output instead.
    let out = run(Command::new("lintian")
        .args(["--fail-on", "error", "--show-overrides"])
        .arg(package()));
    eprintln!("lintian: {:.1} s", start.elapsed().as_secs_f64());
    let said = text(&out);
    assert!(out.status.success(), "lintian:\n{said}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let flagged: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("E: ") || l.starts_with("W: "))
        .collect();
    assert!(flagged.is_empty(), "lintian:\n{said}");
    // Each override is still needed (a stale one would be an
    // `unused-override`), and lintian did read the package's changelog,
    // binary and override file.
    for overridden in [
        "O: pharos: initial-upload-closes-no-bugs",
        "O: pharos: shared-library-lacks-prerequisites",
    ] {
        assert!(
            stdout.contains(overridden),
            "no `{overridden}`; lintian:\n{said}"
        );
    }
}

/// What `man` says on stderr while rendering a page (lintian's way:
/// warnings on, a fixed width; nothing for a clean page).
fn man_warnings(page: &Path) -> String {
    let out = run(Command::new("man")
        .args(["--warnings", "-E", "UTF-8", "-l", "-Tutf8", "-Z"])
        .arg(page)
        .env("LC_ALL", "C.UTF-8")
        .env("MANWIDTH", "80")
        .env("MANROFFSEQ", ""));
    assert!(
        out.status.success(),
        "man -l {}: {}",
        page.display(),
        text(&out)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A page as a reader sees it.
fn man_text(page: &Path) -> String {
    let out = run(Command::new("man")
        .arg("-l")
        .arg(page)
        .env("LC_ALL", "C.UTF-8")
        .env("MANWIDTH", "80")
        .env("MANPAGER", "cat"));
    assert!(
        out.status.success(),
        "man -l {}: {}",
        page.display(),
        text(&out)
    );
    // Justified lines have runs of spaces; compare words.
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn every_man_page_renders_cleanly_and_says_what_the_cli_does() {
    let dir = unpacked();
    let man1 = dir.path().join("usr/share/man/man1");
    let mut pages: Vec<PathBuf> = std::fs::read_dir(&man1)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    pages.sort();
    let names: Vec<String> = pages
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for want in [
        "pharos.1.gz",
        "pharos-check.1.gz",
        "pharos-run.1.gz",
        "pharos-remote-apply.1.gz",
    ] {
        assert!(names.iter().any(|n| n == want), "no {want} in {names:?}");
    }
    // Hidden commands have no page, as they have no help entry.
    assert!(
        !names
            .iter()
            .any(|n| n.contains("manual") || n.contains("capture") || n.contains("help")),
        "{names:?}"
    );
    for page in &pages {
        let warnings = man_warnings(page);
        assert!(warnings.is_empty(), "{}:\n{warnings}", page.display());
    }
    let check = man_text(&man1.join("pharos-check.1.gz"));
    for said in [
        "pharos-check - Validate a config file",
        "--format",
        "--node",
        "<FILE>",
    ] {
        assert!(
            check.contains(said),
            "pharos-check(1) lacks `{said}`:\n{check}"
        );
    }
    let run_page = man_text(&man1.join("pharos-run.1.gz"));
    assert!(run_page.contains("/etc/pharos/pharos.toml"), "{run_page}");
    // The same check on a broken page does report it.
    let broken = dir.path().join("broken.1");
    std::fs::write(
        &broken,
        ".TH BROKEN 1\n.SH NAME\nbroken \\- a page\n.BOGUS\n\\fBnever closed\n.sp -x\n",
    )
    .unwrap();
    assert!(
        !man_warnings(&broken).is_empty(),
        "man reported nothing on a broken page"
    );
}

#[test]
fn the_same_inputs_give_the_same_package() {
    let deb = package();
    let again = tempfile::tempdir().unwrap();
    let start = Instant::now();
    let out = run(Command::new(Path::new(ROOT).join("image/deb.sh"))
        .env("OUT", again.path())
        .env(
            "PHAROS_BIN",
            Path::new(ROOT).join("target/x86_64-unknown-linux-gnu/release/pharos"),
        ));
    assert!(out.status.success(), "image/deb.sh: {}", text(&out));
    eprintln!("image/deb.sh: {:.1} s", start.elapsed().as_secs_f64());
    let second = again.path().join(deb.file_name().unwrap());
    assert!(
        std::fs::read(deb).unwrap() == std::fs::read(&second).unwrap(),
        "{} and {} differ: the build is not reproducible",
        deb.display(),
        second.display()
    );
}

#[test]
fn the_example_config_checks_and_so_does_its_commented_pair() {
    let pharos = env!("CARGO_BIN_EXE_pharos");
    let example = Path::new(ROOT).join("image/deb/pharos.toml");
    let out = run(Command::new(pharos).arg("check").arg(&example));
    assert!(out.status.success(), "{}", text(&out));
    // The commented-out pair is what a user uncomments: it must check too.
    let text_in = std::fs::read_to_string(&example).unwrap();
    let pair: String = text_in
        .lines()
        .skip_while(|l| !l.contains("uncomment"))
        .skip(1)
        .take_while(|l| l.starts_with('#'))
        .map(|l| format!("{}\n", l.trim_start_matches('#').trim_start()))
        .collect();
    assert!(pair.contains("[services.web]"), "{pair}");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pharos.toml");
    std::fs::write(&file, &pair).unwrap();
    let out = run(Command::new(pharos).arg("check").arg(&file));
    assert!(
        out.status.success(),
        "the commented pair:\n{pair}\n{}",
        text(&out)
    );
}

/// A clean Debian bookworm (minbase) as a tarball, made once by mmdebstrap
/// and kept under target/.
fn bookworm_tarball() -> PathBuf {
    let cache = Path::new(ROOT).join("target/deb-chroot");
    let tarball = cache.join("bookworm-minbase.tar");
    if tarball.is_file() {
        return tarball;
    }
    std::fs::create_dir_all(&cache).unwrap();
    // mmdebstrap picks its output's format by the name's ending: `.tar`.
    let partial = cache.join("bookworm-minbase.partial.tar");
    // What a killed run left half made.
    let _ = std::fs::remove_file(&partial);
    let start = Instant::now();
    let out = run(Command::new("mmdebstrap")
        .args(["--quiet", "--variant=minbase", "--mode=root", "bookworm"])
        .arg(&partial)
        .arg("http://deb.debian.org/debian"));
    assert!(
        out.status.success(),
        "mmdebstrap of bookworm failed (it needs the Debian mirror): {}",
        text(&out)
    );
    eprintln!(
        "mmdebstrap bookworm minbase: {:.1} s",
        start.elapsed().as_secs_f64()
    );
    std::fs::rename(&partial, &tarball).unwrap();
    tarball
}

/// `cmd` run inside the tree by chroot, with a plain PATH.
fn in_chroot(tree: &Path, cmd: &str) -> Output {
    run(Command::new("chroot")
        .arg(tree)
        .args(["/bin/sh", "-c", cmd])
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("LC_ALL", "C"))
}

#[test]
fn installed_into_a_clean_debian_it_checks_its_config_and_completes() {
    let deb = package();
    let tarball = bookworm_tarball();
    let start = Instant::now();
    // Removed when the test ends, passed or failed: nothing is mounted in it.
    let tree = tempfile::tempdir_in(Path::new(ROOT).join("target")).unwrap();
    let root = tree.path();
    let out = run(Command::new("tar")
        .arg("-xf")
        .arg(&tarball)
        .arg("-C")
        .arg(root));
    assert!(out.status.success(), "tar -xf: {}", text(&out));
    std::fs::copy(deb, root.join("tmp/pharos.deb")).unwrap();

    let out = in_chroot(root, "dpkg -i /tmp/pharos.deb");
    assert!(
        out.status.success(),
        "dpkg -i in a clean bookworm:\n{}",
        text(&out)
    );

    let out = in_chroot(root, "pharos --version");
    assert!(out.status.success(), "{}", text(&out));
    let version = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        version.trim(),
        format!("pharos {}", env!("CARGO_PKG_VERSION"))
    );

    let out = in_chroot(root, "pharos check /etc/pharos/pharos.toml");
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "/etc/pharos/pharos.toml: ok"
    );

    // The unit's ExecStart names the binary and the config that are there.
    let unit = std::fs::read_to_string(root.join("lib/systemd/system/pharos.service")).unwrap();
    assert!(
        unit.contains("ExecStart=/usr/bin/pharos run --config /etc/pharos/pharos.toml"),
        "{unit}"
    );
    assert!(
        root.join("etc/systemd/system/multi-user.target.wants/pharos.service")
            .symlink_metadata()
            .is_ok(),
        "the service is enabled on install, as keepalived's is"
    );

    // bash loads the completion and completes subcommands, nested ones too.
    let complete = |words: &str| {
        let script = format!(
            ". /usr/share/bash-completion/completions/pharos; \
             COMP_WORDS=({words}); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1)); \
             COMP_LINE=\"{words}\"; COMP_POINT=${{#COMP_LINE}}; \
             _pharos pharos \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"; \
             echo \"${{COMPREPLY[*]}}\""
        );
        let out = run(Command::new("chroot")
            .arg(root)
            .args(["/bin/bash", "-c", &script])
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"));
        assert!(out.status.success(), "{}", text(&out));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(complete("pharos ch"), "check");
    assert_eq!(complete("pharos ipvs l"), "list");
    assert_eq!(complete("pharos check --f"), "--format");

    let out = in_chroot(root, "dpkg --purge pharos");
    assert!(out.status.success(), "dpkg --purge:\n{}", text(&out));
    for gone in [
        "usr/bin/pharos",
        "etc/pharos",
        "etc/systemd/system/multi-user.target.wants/pharos.service",
    ] {
        assert!(
            root.join(gone).symlink_metadata().is_err(),
            "{gone} is left after a purge"
        );
    }
    eprintln!(
        "unpack, install, check, purge: {:.1} s",
        start.elapsed().as_secs_f64()
    );
}

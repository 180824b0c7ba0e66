//! Golden imports of keepalived.conf: each `tests/golden/import/keepalived/
//! NAME.conf` (one per scenario of `../shared/scenarios.md`, plus the typo,
//! broken-file and include cases) becomes exactly the TOML in `NAME.toml`
//! on stdout and the warnings in `NAME.stderr`, exits 0, and `NAME.toml`
//! passes `pharos check`. A `NAME.args` file gives other arguments instead
//! (a pair of files, `--fix-typos`), relative to that directory.
//!
//! Regenerate after an intended change with `BLESS=1 cargo test --test
//! import_keepalived`, then read the diff.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use pharos::config::{self, Config, Selection};
use pharos::import::keepalived::{self, Options, Source};

const DIR: &str = "tests/golden/import/keepalived";

fn pharos(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pharos"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// (case name, the arguments after `pharos import keepalived`).
fn golden_cases() -> Vec<(String, Vec<String>)> {
    let dir = root().join(DIR);
    let mut cases = Vec::new();
    for e in std::fs::read_dir(&dir).expect("the golden directory exists") {
        let p = e.unwrap().path();
        let name = p.file_stem().unwrap().to_str().unwrap().to_string();
        match p.extension().and_then(|e| e.to_str()) {
            Some("conf") => {
                let file = format!("{DIR}/{name}.conf");
                cases.push((name, vec![file]));
            }
            Some("args") => {
                let args = std::fs::read_to_string(&p).unwrap();
                let args = args
                    .split_whitespace()
                    .map(|a| {
                        if a.starts_with("--") {
                            a.to_string()
                        } else {
                            format!("{DIR}/{a}")
                        }
                    })
                    .collect();
                cases.push((name, args));
            }
            _ => {}
        }
    }
    cases.sort();
    assert!(
        cases.len() >= 12,
        "expected the golden inputs, found {cases:?}"
    );
    cases
}

fn import(args: &[String]) -> Output {
    let mut all = vec!["import", "keepalived"];
    all.extend(args.iter().map(String::as_str));
    pharos(&all)
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

/// `FILE:LINE: warning: MESSAGE` split up.
fn warning(line: &str) -> (&str, usize, &str) {
    let (place, message) = line
        .split_once(": warning: ")
        .unwrap_or_else(|| panic!("not `FILE:LINE: warning: ...`: {line}"));
    let (file, number) = place.rsplit_once(':').unwrap();
    (file, number.parse().unwrap(), message)
}

#[test]
fn keepalived_confs_import_to_the_expected_toml_which_passes_check() {
    let mut failures = Vec::new();
    for (name, args) in golden_cases() {
        let out = import(&args);
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(0), "{name}: exit code; {stderr}");
        for line in stderr.lines() {
            let (file, number, message) = warning(line);
            assert!(
                root().join(file).is_file(),
                "{name}: `{file}` is not an input file: {line}"
            );
            assert!(number > 0 && !message.is_empty(), "{line}");
        }
        let dir = root().join(DIR);
        compare(
            &dir.join(format!("{name}.toml")),
            &String::from_utf8(out.stdout).unwrap(),
            &mut failures,
        );
        compare(&dir.join(format!("{name}.stderr")), &stderr, &mut failures);
        // The golden file itself, so a blessed change is checked too.
        let golden = format!("{DIR}/{name}.toml");
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
    for (name, args) in golden_cases() {
        let out = import(&args);
        let toml = String::from_utf8(out.stdout).unwrap();
        let single = args.iter().filter(|a| !a.starts_with("--")).count() == 1;
        let main = &args[0];
        for line in String::from_utf8(out.stderr).unwrap().lines() {
            let (file, number, message) = warning(line);
            let places_ok = |places: &str| {
                places.split(", ").any(|p| {
                    if single && file == main && p == format!("line {number}") {
                        return true;
                    }
                    p.strip_prefix(&format!("line {number} of "))
                        .is_some_and(|short| file.ends_with(short))
                })
            };
            let found = toml.lines().any(|l| {
                l.strip_prefix("# ")
                    .and_then(|c| c.strip_suffix(message))
                    .and_then(|c| c.strip_suffix(": "))
                    .is_some_and(places_ok)
            });
            assert!(
                found,
                "{name}: `{line}` is not a `# line {number}...: {message}` comment in the TOML:\n{toml}"
            );
        }
    }
}

#[test]
fn misspelt_keywords_are_named_with_what_was_meant() {
    let out = import(&[format!("{DIR}/typos.conf")]);
    let err = String::from_utf8(out.stderr).unwrap();
    for (typo, meant) in [
        ("no_premmpt", "nopreempt"),
        ("treck_interface", "track_interface"),
        ("virtual_route_id", "virtual_router_id"),
        ("authenication", "authentication"),
        ("lvs_sync_daemon_inteface", "lvs_sync_daemon_interface"),
        ("vrrp_sripts", "vrrp_script"),
    ] {
        let expected = format!(
            ": warning: unknown keyword `{typo}`, did you mean `{meant}`? (keepalived ignores it; pass --fix-typos to import it as `{meant}`)"
        );
        assert!(err.contains(&expected), "{expected}\nnot in\n{err}");
    }
    // Without --fix-typos the typos mean what they mean to keepalived:
    // nothing. With it, what was meant.
    let plain = config_of(&String::from_utf8(out.stdout).unwrap(), None);
    assert!(plain.vrrp["VI_1"].preempt && plain.vrrp["VI_1"].authentication.is_none());
    assert!(!plain.vrrp.contains_key("VI_2") && plain.checks.is_empty());
    let fixed = import(&[format!("{DIR}/typos.conf"), "--fix-typos".into()]);
    let fixed = config_of(&String::from_utf8(fixed.stdout).unwrap(), None);
    let vi1 = &fixed.vrrp["VI_1"];
    assert!(!vi1.preempt && vi1.authentication.is_some());
    assert_eq!(vi1.track.interfaces.len(), 1);
    assert_eq!(vi1.track.checks.len(), 1);
    assert_eq!(fixed.vrrp["VI_2"].vrid.get(), 62);
    assert_eq!(fixed.ipvs.sync.as_ref().unwrap().follows, "VI_1");
    let rs = fixed
        .services
        .values()
        .next()
        .unwrap()
        .real_servers
        .values()
        .next()
        .unwrap();
    assert_eq!(rs.weight.get(), 3);
}

/// The merged config of one node (or the base, for `None`).
fn config_of(toml: &str, node: Option<&str>) -> Config {
    let sel = node.map_or(Selection::All, |n| Selection::Node(n.into()));
    let c = config::check_text(toml, &sel);
    assert!(!c.has_errors(), "{:?}\n{toml}", c.diagnostics);
    c.configs.into_iter().next().expect("a checked config").1
}

fn source(name: &str) -> Source {
    let path = format!("{DIR}/{name}");
    Source {
        text: std::fs::read_to_string(root().join(&path)).unwrap(),
        name: path,
    }
}

#[test]
fn each_node_of_a_pair_is_what_its_own_file_says() {
    let (a, b) = (source("pair-a.conf"), source("pair-b.conf"));
    let opts = Options::default();
    let pair = keepalived::import_pair(&a, &b, &mut keepalived::no_includes, opts);
    for (src, node) in [(&a, "lb1"), (&b, "lb2")] {
        let alone = keepalived::import(src, &mut keepalived::no_includes, opts);
        assert_eq!(
            config_of(&pair.toml, Some(node)),
            config_of(&alone.toml, None),
            "node {node} of\n{}\nis not what\n{}\nsays",
            pair.toml,
            alone.toml
        );
    }
    // Each node is found by its host name, keepalived's router_id.
    assert!(pair.toml.contains("[nodes.lb1]"));
    assert!(pair.toml.contains("match = { hostname = \"lb1\" }"));
    assert!(pair.toml.contains("match = { hostname = \"lb2\" }"));
}

#[test]
fn every_scenario_pair_merges_into_nodes_that_equal_their_files() {
    // Each scenario's file against a copy that is its BACKUP: the merge
    // must give back both, whatever else differs.
    for (name, args) in golden_cases() {
        if args.len() != 1 {
            continue;
        }
        let a = source(&format!("{name}.conf"));
        let b = Source {
            name: format!("{DIR}/{name}-backup.conf"),
            text: a
                .text
                .replace("state MASTER", "state BACKUP")
                .replace("priority 150", "priority 90")
                .replace("priority 100", "priority 50")
                .replace("router_id ", "router_id backup-"),
        };
        let mut inc = fs_includes;
        let pair = keepalived::import_pair(&a, &b, &mut inc, Options::default());
        let nodes = config::check_text(&pair.toml, &Selection::All);
        assert!(
            !nodes.has_errors(),
            "{name}: {:?}\n{}",
            nodes.diagnostics,
            pair.toml
        );
        for (src, i) in [(&a, 0), (&b, 1)] {
            let alone = keepalived::import(src, &mut inc, Options::default());
            let node = &nodes.nodes[i];
            assert_eq!(
                config_of(&pair.toml, Some(node)),
                config_of(&alone.toml, None),
                "{name}: node {node} differs from its file"
            );
        }
    }
}

/// Includes read from the repository, for the cases that have them.
fn fs_includes(from: &str, pattern: &str) -> Result<Vec<Source>, String> {
    let dir = Path::new(from).parent().unwrap();
    let (sub, glob) = pattern.rsplit_once('/').unwrap_or(("", pattern));
    let base = root().join(dir).join(sub);
    let mut names: Vec<String> = std::fs::read_dir(&base)
        .map_err(|e| e.to_string())?
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| keepalived::glob_match(glob, n))
        .collect();
    names.sort();
    Ok(names
        .into_iter()
        .map(|n| {
            let name = dir.join(sub).join(&n).display().to_string();
            Source {
                text: std::fs::read_to_string(root().join(&name)).unwrap(),
                name,
            }
        })
        .collect())
}

#[test]
fn includes_name_their_own_file_in_warnings() {
    let out = import(&[format!("{DIR}/include.conf")]);
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains(&format!("{DIR}/conf.d/20-web.conf:")), "{err}");
    let toml = String::from_utf8(out.stdout).unwrap();
    let cfg = config_of(&toml, None);
    assert!(cfg.vrrp.contains_key("VI_1") && cfg.services.len() == 1);
}

#[test]
fn an_unreadable_file_exits_2_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.conf");
    for path in [missing.as_path(), dir.path()] {
        let out = pharos(&["import", "keepalived", path.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2));
        assert!(out.stdout.is_empty());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("cannot read"), "{err}");
    }
}

/// The first stderr line of a refused import, and that it was refused:
/// exit 1, nothing on stdout, no pile of warnings after the errors.
fn refused(args: &[&str]) -> Vec<String> {
    let mut all = vec!["import", "keepalived"];
    all.extend(args);
    let out = pharos(&all);
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(out.stdout.is_empty(), "{err}");
    assert!(!err.contains("warning:"), "{err}");
    err.lines().map(str::to_string).collect()
}

#[test]
fn a_file_that_is_not_a_keepalived_config_is_refused_with_a_clear_first_line() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    };
    // A pharos config (what `import` printed before), some other text,
    // and an empty file.
    let toml = format!("{DIR}/lvs-nat.toml");
    let prose = write(
        "notes.txt",
        "The directors are lb1 and lb2.\nSee the wiki { for more }.\n",
    );
    let empty = write("empty.conf", "! nothing here\n");
    for (file, why) in [
        (toml.as_str(), "it parses as TOML"),
        (
            prose.as_str(),
            "its first statement, `The directors are lb1 and lb2.` (line 1), is no keepalived keyword",
        ),
        (empty.as_str(), "it holds no statements at all"),
    ] {
        let lines = refused(&[file]);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(
            lines[0].starts_with(&format!(
                "{file}: error: this does not look like a keepalived config"
            )),
            "{lines:?}"
        );
        assert!(lines[0].contains(why), "{lines:?}");
        assert!(lines[0].contains("nothing was imported"), "{lines:?}");
    }
    // Either file of a pair.
    let lines = refused(&[&format!("{DIR}/pair-a.conf"), &toml]);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with(&format!("{toml}: error: ")),
        "{lines:?}"
    );
}

#[test]
fn a_block_never_closed_is_refused_naming_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keepalived.conf");
    // The instance's `}` is missing: the virtual server after it would be
    // read as part of it.
    std::fs::write(
        &path,
        "global_defs {\n  router_id lb1\n}\n\nvrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 51\n  virtual_ipaddress {\n    10.0.0.1/24\n  }\n\nvirtual_server 10.0.0.1 80 {\n  real_server 10.0.1.1 80 {\n  }\n}\n",
    )
    .unwrap();
    let file = path.to_str().unwrap();
    let lines = refused(&[file]);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with(&format!(
            "{file}:5: error: `vrrp_instance VI_1` is not closed: its `}}` is missing"
        )),
        "{lines:?}"
    );
    assert!(lines[0].contains("Add the `}`"), "{lines:?}");
}

#[test]
fn bytes_that_are_not_utf8_are_a_warning_not_a_failure() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("latin1.conf");
    std::fs::write(
        &path,
        b"vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 5\n virtual_ipaddress {\n  10.0.0.1/24\n }\n notify_master \"/usr/bin/caf\xe9\"\n}\n",
    )
    .unwrap();
    let out = pharos(&["import", "keepalived", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(":7: warning: the file is not valid UTF-8"),
        "{err}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("vrid = 5"));
}

// ---------------------------------------------------------------- robustness

const PIECES: &[&str] = &[
    "{",
    "}",
    "{",
    "}",
    "\"",
    "'",
    "#",
    "!",
    "\\",
    "\n",
    "\n",
    "\n",
    " ",
    "\t",
    "include",
    "*.conf",
    "vrrp_instance",
    "virtual_server",
    "real_server",
    "vrrp_script",
    "vrrp_sync_group",
    "virtual_server_group",
    "global_defs",
    "group",
    "state",
    "MASTER",
    "interface",
    "eth0",
    "virtual_router_id",
    "priority",
    "advert_int",
    "0.5",
    "nopreempt",
    "preempt_delay",
    "authentication",
    "auth_type",
    "PASS",
    "AH",
    "auth_pass",
    "virtual_ipaddress",
    "10.0.0.1/24",
    "2001:db8::1",
    "dev",
    "label",
    "unicast_src_ip",
    "unicast_peer",
    "track_interface",
    "track_script",
    "weight",
    "-30",
    "notify",
    "notify_master",
    "/bin/x",
    "lvs_sync_daemon_interface",
    "version",
    "3",
    "delay_loop",
    "lb_algo",
    "sh",
    "rr",
    "lb_kind",
    "NAT",
    "DR",
    "TUN",
    "protocol",
    "UDP",
    "persistence_timeout",
    "persistence_granularity",
    "255.255.0.0",
    "sorry_server",
    "quorum",
    "hysteresis",
    "inhibit_on_failure",
    "fwmark",
    "10.0.0.1-300",
    "10.0.0.2",
    "80",
    "0",
    "65536",
    "TCP_CHECK",
    "HTTP_GET",
    "SSL_GET",
    "MISC_CHECK",
    "DNS_CHECK",
    "UDP_CHECK",
    "url",
    "path",
    "digest",
    "status_code",
    "200-299",
    "misc_path",
    "connect_port",
    "connect_timeout",
    "retry",
    "delay_before_retry",
    "ops",
    "no_premmpt",
    "vrrp_sripts",
    "sh-port",
    "garp_master_delay",
    "router_id",
    "lvs_sync_daemon",
    "payload",
    "68656c6c6f",
    "é",
    "\u{0}",
    "$X",
    "@lb1",
    "~SEQ(i,1,3)",
];

/// The scenario files, cut, spliced and sprinkled with keepalived words.
fn mutate(rng: &mut fastrand::Rng, seeds: &[String]) -> String {
    let mut text = seeds[rng.usize(..seeds.len())].clone();
    for _ in 0..rng.usize(1..8) {
        let len = text.len();
        let at = |rng: &mut fastrand::Rng| {
            let mut i = rng.usize(..=len);
            while !text.is_char_boundary(i) {
                i -= 1;
            }
            i
        };
        match rng.u8(..6) {
            0 => {
                let (a, b) = (at(rng), at(rng));
                let (a, mut b) = (a.min(b), a.max(b).min(a + 40));
                while !text.is_char_boundary(b) {
                    b -= 1;
                }
                text.replace_range(a..b, "");
            }
            1 | 2 => {
                let i = at(rng);
                let piece = PIECES[rng.usize(..PIECES.len())];
                text.insert_str(i, &format!(" {piece} "));
            }
            3 => {
                let i = at(rng);
                text.insert(i, char::from(rng.u8(..)));
            }
            4 => {
                let other = &seeds[rng.usize(..seeds.len())];
                let mut j = rng.usize(..=other.len());
                while !other.is_char_boundary(j) {
                    j -= 1;
                }
                let i = at(rng);
                let mut end = (j + rng.usize(..400)).min(other.len());
                while !other.is_char_boundary(end) {
                    end -= 1;
                }
                text.insert_str(i, &other[j..end]);
            }
            _ => {
                let mut lines: Vec<&str> = text.lines().collect();
                if lines.len() > 1 {
                    let (x, y) = (rng.usize(..lines.len()), rng.usize(..lines.len()));
                    lines.swap(x, y);
                }
                text = lines.join("\n");
            }
        }
    }
    text
}

#[test]
fn fifty_thousand_mutated_and_random_inputs_never_panic_and_import_to_valid_configs() {
    let dir = root().join(DIR);
    let mut seeds: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "conf"))
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    seeds.sort();
    // KA_ROUNDS, KA_SEED and KA_CHECK_EVERY hunt further by hand.
    let env = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<u64>().ok());
    let seed = env("KA_SEED").unwrap_or(0x6b61);
    let check_every = env("KA_CHECK_EVERY").unwrap_or(50) as usize;
    let rounds = env("KA_ROUNDS").unwrap_or(50_000) as usize;
    // Two halves on two threads, each from its own seed (KA_SEED and
    // KA_SEED + 1): the test is CPU-bound and the other core is often idle.
    let halves: Vec<Tally> = std::thread::scope(|s| {
        let seeds = &seeds;
        let half = |k: u64, n: usize| s.spawn(move || fuzz_rounds(seeds, seed + k, n, check_every));
        let first = half(0, rounds.div_ceil(2));
        let second = half(1, rounds / 2);
        [first, second]
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    let (checked, services, instances) = halves.iter().fold((0, 0, 0), |a, t| {
        (a.0 + t.checked, a.1 + t.services, a.2 + t.instances)
    });
    // Close enough to real files for much to come through.
    assert!(
        rounds < 50_000
            || check_every != 50
            || checked == 1000 && services > 300 && instances > 300,
        "{services} services, {instances} instances"
    );
}

/// What one run of [`fuzz_rounds`] checked and found in the imports.
struct Tally {
    checked: usize,
    services: usize,
    instances: usize,
}

/// `rounds` inputs from `seed`: mutated seeds, and every tenth random
/// bytes; every import's warnings are well formed and every
/// `check_every`th import passes `pharos check`.
fn fuzz_rounds(seeds: &[String], seed: u64, rounds: usize, check_every: usize) -> Tally {
    let mut rng = fastrand::Rng::with_seed(seed);
    let (mut checked, mut services, mut instances) = (0, 0, 0);
    for round in 0..rounds {
        let text = if round % 10 == 9 {
            let bytes: Vec<u8> = (0..rng.usize(0..800)).map(|_| rng.u8(..)).collect();
            String::from_utf8_lossy(&bytes).into_owned()
        } else {
            mutate(&mut rng, seeds)
        };
        let src = Source {
            name: format!("fuzz/{round}.conf"),
            text,
        };
        // Includes come back as more mutated text, which may include
        // itself again (a loop), or fail.
        let extra = mutate(&mut rng, seeds);
        let fail = rng.u8(..) < 30;
        let mut include = |_from: &str, pattern: &str| -> Result<Vec<Source>, String> {
            if fail {
                return Err(format!("cannot read `{pattern}`"));
            }
            Ok(vec![Source {
                name: "fuzz/included.conf".into(),
                text: extra.clone(),
            }])
        };
        let opts = Options {
            fix_typos: round % 2 == 0,
        };
        let imported = if round % 7 == 0 {
            let other = Source {
                name: "fuzz/other.conf".into(),
                text: mutate(&mut rng, seeds),
            };
            keepalived::import_pair(&src, &other, &mut include, opts)
        } else {
            keepalived::import(&src, &mut include, opts)
        };
        assert!(imported.toml.starts_with("# Imported from"));
        for w in &imported.warnings {
            assert!(w.line > 0 && !w.message.contains('\n'), "{w:?}");
        }
        if round % check_every == 0 {
            let c = config::check_text(&imported.toml, &Selection::All);
            // An import that found nothing to import is comments only, and
            // check rightly says it configures nothing.
            let errors: Vec<_> = c
                .diagnostics
                .iter()
                .filter(|d| d.is_error() && !d.message.starts_with("the file configures nothing"))
                .collect();
            if !errors.is_empty() {
                let dir = std::env::temp_dir().join("pharos-keepalived-fuzz");
                let _ = std::fs::create_dir_all(&dir);
                let _ = std::fs::write(dir.join("input.conf"), &src.text);
                let _ = std::fs::write(dir.join("output.toml"), &imported.toml);
                let first: Vec<String> = errors
                    .iter()
                    .take(5)
                    .map(|d| {
                        let at = d.span.clone().unwrap_or(0..0);
                        let from = imported.toml[..at.start].rfind('\n').map_or(0, |i| i + 1);
                        let to = imported.toml[at.end..]
                            .find('\n')
                            .map_or(imported.toml.len(), |i| at.end + i);
                        format!("{}: {}", d.message, &imported.toml[from..to])
                    })
                    .collect();
                panic!(
                    "KA_SEED={seed} round {round}: the import does not pass check (input and output in {}):\n{}",
                    dir.display(),
                    first.join("\n")
                );
            }
            checked += 1;
            for (_, cfg) in &c.configs {
                services += cfg.services.len();
                instances += cfg.vrrp.len();
            }
        }
    }
    Tally {
        checked,
        services,
        instances,
    }
}

#[test]
fn a_config_as_big_as_the_largest_reported_imports_whole() {
    // interop.md: 2277 virtual servers, 37,205 real servers. The import
    // is linear; a quadratic step would make this test take minutes.
    use std::fmt::Write as _;
    let vip = |i: u32| format!("10.{}.{}.{}", 100 + i / 65536, (i / 256) % 256, i % 256);
    let mut t = String::from(
        "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n",
    );
    for i in 0..2277 {
        let _ = writeln!(t, "  {}/16", vip(i));
    }
    t.push_str(" }\n}\n");
    for i in 0..2277 {
        let _ = writeln!(
            t,
            "virtual_server {} 80 {{\n lb_kind DR\n protocol TCP\n delay_loop 5",
            vip(i)
        );
        for r in 0..16 {
            let _ = writeln!(
                t,
                " real_server 172.16.{r}.{} 80 {{\n  weight 1\n  notify_up /bin/up\n  HTTP_GET {{\n   url {{\n    path /\n   }}\n  }}\n }}",
                i % 250 + 1
            );
        }
        t.push_str("}\n");
    }
    let src = Source {
        name: "big.conf".into(),
        text: t,
    };
    let imp = keepalived::import(&src, &mut keepalived::no_includes, Options::default());
    assert_eq!(imp.warnings.len(), 2277 * 16, "one per notify_up");
    assert_eq!(imp.toml.matches("[services.").count(), 2 * 2277);
    assert_eq!(
        imp.toml.matches(":80\" = { weight = 1 }").count(),
        2277 * 16
    );
}

//! Notify hooks (`vrrp::notify`), run for real: hooks run one at a time in
//! submission order even when the first is slow, and submitting never
//! waits; the hook's environment is pharos's plus its own; exit statuses
//! and signals are reported as such; a hook that hangs past its timeout is
//! killed together with the background child it started; a program that
//! cannot be run is reported with what to do; drain waits for the queue
//! (and gives up at its bound); output is logged line by line under the
//! hook's label, and arguments reach the program without a shell.
//!
//! The scripts are written to a temporary directory and run as
//! `/bin/sh SCRIPT`, not executed directly: exec'ing a file just written
//! fails with ETXTBSY now and then when another test thread forks while
//! the file is still open for writing.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pharos::vrrp::notify::{Hook, Notifier, Outcome, Report};
use tokio::sync::mpsc;

fn hook(label: &str, argv: &[&str]) -> Hook {
    Hook {
        label: label.to_string(),
        argv: argv.iter().map(|s| s.to_string()).collect(),
        env: Vec::new(),
        timeout: Duration::from_secs(10),
    }
}

/// A hook running `body` as a shell script written to `dir`.
fn script(dir: &Path, label: &str, body: &str) -> Hook {
    let path = dir.join(format!("{}.sh", label.replace(' ', "_")));
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    hook(label, &["/bin/sh", path.to_str().unwrap()])
}

fn notifier() -> (Notifier, mpsc::UnboundedReceiver<Report>) {
    let (tx, rx) = mpsc::unbounded_channel();
    (Notifier::spawn(tx), rx)
}

async fn next(rx: &mut mpsc::UnboundedReceiver<Report>) -> Report {
    tokio::time::timeout(Duration::from_secs(20), rx.recv())
        .await
        .expect("a report within 20 s")
        .expect("the notifier is running")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

#[tokio::test]
async fn hooks_run_in_submission_order_even_when_the_first_is_slow() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let log = log.display();
    let (n, mut rx) = notifier();
    let begin = Instant::now();
    n.submit(script(
        dir.path(),
        "VI_1 master",
        &format!("sleep 0.5; echo master >> {log}"),
    ));
    n.submit(script(
        dir.path(),
        "VI_1 backup",
        &format!("echo backup >> {log}"),
    ));
    n.submit(script(
        dir.path(),
        "VI_1 fault",
        &format!("echo fault >> {log}"),
    ));
    assert!(
        begin.elapsed() < Duration::from_millis(200),
        "submit waited for the hooks: {:?}",
        begin.elapsed()
    );
    let reports = [
        next(&mut rx).await,
        next(&mut rx).await,
        next(&mut rx).await,
    ];
    let labels: Vec<_> = reports.iter().map(|r| r.label.as_str()).collect();
    assert_eq!(labels, ["VI_1 master", "VI_1 backup", "VI_1 fault"]);
    assert!(
        reports.iter().all(|r| r.outcome == Outcome::Exited(0)),
        "{reports:?}"
    );
    assert!(
        reports[0].took >= Duration::from_millis(500),
        "{:?}",
        reports[0].took
    );
    assert_eq!(reports[1].argv[0], "/bin/sh");
    assert_eq!(read(&dir.path().join("log")), "master\nbackup\nfault\n");
}

#[tokio::test]
async fn the_environment_is_pharos_own_plus_the_hooks() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("env");
    let (n, mut rx) = notifier();
    let mut h = script(
        dir.path(),
        "VI_1 master",
        &format!(
            r#"printf '%s|%s|%s|%s\n' "$PHAROS_STATE" "$PHAROS_INSTANCE" "$HOME" "$PATH" > {}"#,
            out.display()
        ),
    );
    h.env = vec![
        ("PHAROS_STATE".into(), "master".into()),
        ("PHAROS_INSTANCE".into(), "VI_1".into()),
        ("HOME".into(), "/nonexistent-home".into()),
    ];
    n.submit(h);
    assert_eq!(next(&mut rx).await.outcome, Outcome::Exited(0));
    let path = std::env::var("PATH").unwrap();
    assert_eq!(
        read(&out),
        format!("master|VI_1|/nonexistent-home|{path}\n"),
        "hook variables arrive, override, and PATH is inherited"
    );
}

#[tokio::test]
async fn exit_statuses_and_signals_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let (n, mut rx) = notifier();
    n.submit(script(dir.path(), "exits 3", "exit 3"));
    n.submit(script(dir.path(), "killed", "kill -TERM $$; sleep 5"));
    n.submit(hook("true", &["/bin/true"]));
    assert_eq!(next(&mut rx).await.outcome, Outcome::Exited(3));
    assert_eq!(next(&mut rx).await.outcome, Outcome::Signalled(15));
    assert_eq!(next(&mut rx).await.outcome, Outcome::Exited(0));
}

/// Whether `pid` has ended: gone, or a zombie waiting for whoever it was
/// reparented to (this machine's PID 1 may not reap).
fn ended(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        // "pid (comm) S ...": the state follows the last ')'.
        Ok(stat) => matches!(
            stat.rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().chars().next()),
            Some(Some('Z' | 'X'))
        ),
    }
}

#[tokio::test]
async fn a_hanging_hook_is_killed_with_the_child_it_started() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("child.pid");
    let (n, mut rx) = notifier();
    let mut h = script(
        dir.path(),
        "VI_1 master",
        &format!("sleep 1000 &\necho $! > {}\nwait", pidfile.display()),
    );
    h.timeout = Duration::from_millis(500);
    n.submit(h);
    n.submit(hook("after", &["/bin/true"]));

    let r = next(&mut rx).await;
    assert_eq!(r.outcome, Outcome::TimedOut);
    assert!(
        r.took >= Duration::from_millis(500) && r.took < Duration::from_secs(5),
        "killed at its timeout, not later: {:?}",
        r.took
    );
    let child: i32 = read(&pidfile)
        .trim()
        .parse()
        .expect("the hook wrote its child's pid");
    let deadline = Instant::now() + Duration::from_secs(3);
    while !ended(child) {
        assert!(
            Instant::now() < deadline,
            "the hook's background `sleep 1000` (pid {child}) survived the timeout"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The queue goes on after a timeout.
    let r = next(&mut rx).await;
    assert_eq!((r.label.as_str(), r.outcome), ("after", Outcome::Exited(0)));
}

#[tokio::test]
async fn a_program_that_cannot_run_is_reported_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("not-executable.sh");
    std::fs::write(&plain, "#!/bin/sh\nexit 0\n").unwrap();
    let (n, mut rx) = notifier();
    n.submit(hook("missing", &["/nonexistent/pharos-notify"]));
    n.submit(hook("not executable", &[plain.to_str().unwrap()]));
    n.submit(hook("empty", &[]));
    n.submit(hook("after", &["/bin/true"]));

    let why = |r: Report| match r.outcome {
        Outcome::SpawnFailed(why) => why,
        other => panic!("{}: expected SpawnFailed, got {other:?}", r.label),
    };
    let missing = why(next(&mut rx).await);
    assert!(
        missing.contains("missing") && missing.contains("/nonexistent/pharos-notify"),
        "names the hook and the program: {missing}"
    );
    assert!(missing.contains("no such file"), "{missing}");
    let denied = why(next(&mut rx).await);
    assert!(
        denied.contains(plain.to_str().unwrap()) && denied.contains("chmod +x"),
        "{denied}"
    );
    let empty = why(next(&mut rx).await);
    assert!(empty.contains("empty"), "{empty}");
    assert_eq!(next(&mut rx).await.outcome, Outcome::Exited(0));
}

#[tokio::test]
async fn drain_waits_for_the_queue_within_its_bound() {
    let dir = tempfile::tempdir().unwrap();
    let marker: PathBuf = dir.path().join("stopped");
    let (n, _rx) = notifier();
    n.submit(script(
        dir.path(),
        "VI_1 stop",
        &format!("sleep 0.5; touch {}", marker.display()),
    ));
    let begin = Instant::now();
    assert!(
        !n.drain(Duration::from_millis(100)).await,
        "the stop hook is still running"
    );
    assert!(
        begin.elapsed() < Duration::from_millis(400),
        "drain kept to its bound"
    );
    assert!(!marker.exists());
    assert!(n.drain(Duration::from_secs(20)).await);
    assert!(
        marker.exists(),
        "drain returned before the stop hook finished"
    );
    // Nothing queued: returns at once.
    let begin = Instant::now();
    assert!(n.drain(Duration::from_secs(20)).await);
    assert!(begin.elapsed() < Duration::from_millis(200));
}

/// Log lines, captured from tracing's fmt layer.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn output_is_logged_per_line_under_the_label_and_no_shell_is_involved() {
    let logs = Capture::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .finish();
    // This test's runtime is single-threaded, so the notifier's task logs
    // on this thread, to this subscriber.
    let _guard = tracing::subscriber::set_default(subscriber);
    let dir = tempfile::tempdir().unwrap();
    let (n, mut rx) = notifier();
    n.submit(script(
        dir.path(),
        "VI_1 master",
        "echo 'to stdout'\necho 'to stderr' >&2\nexit 4",
    ));
    n.submit(hook("VI_1 backup", &["/bin/echo", "$HOME; *"]));
    next(&mut rx).await;
    next(&mut rx).await;
    assert!(n.drain(Duration::from_secs(5)).await);

    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    let line = |needle: &str| {
        text.lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no log line with {needle:?} in:\n{text}"))
            .to_string()
    };
    assert!(line("notify hook VI_1 master: to stdout").contains("INFO"));
    assert!(line("notify hook VI_1 master: to stderr").contains("WARN"));
    assert!(line("exited with status 4").contains("WARN"));
    // The argument arrived as written: no expansion, no globbing.
    assert!(line("notify hook VI_1 backup: $HOME; *").contains("INFO"));
}

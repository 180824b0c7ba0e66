//! Test helpers shared by several test files.

pub mod frr;
pub mod keepalived;
pub mod lan;
pub mod netns;
pub mod pair;
pub mod scale;
pub mod vm;

use std::io::{BufRead, BufReader, Lines};
use std::path::Path;
use std::process::{ChildStdout, Command, Stdio};
use std::time::Duration;

/// A TCP port free on 127.0.0.1 at the time of asking.
#[allow(dead_code)]
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `pharos events --json` as lines. The client is killed after `within`, so a
/// test waiting for an event that never comes fails instead of hanging.
#[allow(dead_code)]
pub fn events(socket: &Path, within: Duration) -> Lines<BufReader<ChildStdout>> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pharos"))
        .args(["events", "--json", "--socket"])
        .arg(socket)
        .stdout(Stdio::piped())
        .spawn()
        .expect("pharos events starts");
    let out = child.stdout.take().expect("piped stdout");
    std::thread::spawn(move || {
        std::thread::sleep(within);
        let _ = child.kill();
        let _ = child.wait();
    });
    // Let it subscribe before the caller makes something happen.
    std::thread::sleep(Duration::from_millis(200));
    BufReader::new(out).lines()
}

/// Runs `cmd` with `input` on its stdin: whether it exited 0, and what it
/// printed (stdout, then stderr).
#[allow(dead_code)]
pub fn run_with_input(cmd: &mut Command, input: &str) -> (bool, String) {
    use std::io::Write as _;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}; `make deps` installs it"));
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(input.as_bytes())
        .expect("the command reads its input");
    let out = child.wait_with_output().expect("the command ends");
    let said =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), said)
}

/// `promtool check metrics` (Debian's `prometheus` package) of a text
/// exposition in the classic format: panics unless it exits 0 and says
/// nothing (it prints each lint problem it finds).
#[allow(dead_code)]
pub fn promtool_check_metrics(text: &str) {
    let (ok, said) = run_with_input(Command::new("promtool").args(["check", "metrics"]), text);
    assert!(
        ok && said.is_empty(),
        "promtool check metrics: {said}\n{text}"
    );
}

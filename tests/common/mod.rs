//! Test helpers shared by several test files.

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

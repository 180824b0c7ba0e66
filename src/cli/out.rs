//! Everything the command line writes goes through here, so a reader that
//! goes away (`pharos schema | head -1`) ends the command quietly instead of
//! a panic ("failed printing to stdout: Broken pipe", exit 101).
//!
//! A Unix tool whose reader goes away dies of SIGPIPE, which a shell
//! reports as status 141 (128 + 13). Rust ignores SIGPIPE (so writes fail
//! with EPIPE instead), and restoring its default action needs unsafe code,
//! which this crate forbids; so on EPIPE we exit with that same 141 and say
//! nothing. 141 rather than 0: the output was cut short, so the command did
//! not do all it was asked, and `set -o pipefail` scripts see what they see
//! of `cat` or `yes`. Only the command line writes through this: `pharos
//! run` and PID 1 never exit because a reader went away.
//!
//! Any other failure to write standard output (a full disk) is said on
//! stderr and ends the command with status 74 (EX_IOERR of sysexits.h),
//! apart from the exit codes the commands give meaning to.

use std::io::{self, Write};

/// The status of a command whose reader went away (as if killed by SIGPIPE).
pub const READER_GONE: i32 = 141;
/// The status when standard output cannot be written for another reason.
pub const WRITE_FAILED: i32 = 74;

/// Ends the command if `r` is a failed write to stdout.
pub fn stdout_result(r: io::Result<()>) {
    if let Err(e) = r {
        if e.kind() == io::ErrorKind::BrokenPipe {
            std::process::exit(READER_GONE);
        }
        let _ = writeln!(
            io::stderr(),
            "pharos: writing to standard output failed: {e}; nothing more was written"
        );
        std::process::exit(WRITE_FAILED);
    }
}

/// Ends the command if `r` is a failed write to stderr whose reader went
/// away. Other failures are let go: there is nowhere left to say them.
pub fn stderr_result(r: io::Result<()>) {
    if let Err(e) = r
        && e.kind() == io::ErrorKind::BrokenPipe
    {
        std::process::exit(READER_GONE);
    }
}

/// Writes to stdout and flushes (stdout is line-buffered; a write that is
/// not a whole line must not fail later, out of sight).
pub fn stdout_fmt(args: std::fmt::Arguments<'_>) {
    let mut out = io::stdout().lock();
    stdout_result(out.write_fmt(args).and_then(|()| out.flush()));
}

pub fn stderr_fmt(args: std::fmt::Arguments<'_>) {
    stderr_result(io::stderr().lock().write_fmt(args));
}

/// `print!`, ending quietly when the reader goes away.
macro_rules! out {
    ($($t:tt)*) => { $crate::cli::out::stdout_fmt(format_args!($($t)*)) };
}

/// `println!`, ending quietly when the reader goes away.
macro_rules! outln {
    ($($t:tt)*) => { $crate::cli::out::stdout_fmt(format_args!("{}\n", format_args!($($t)*))) };
}

/// `eprint!`, ending quietly when the reader goes away.
macro_rules! err {
    ($($t:tt)*) => { $crate::cli::out::stderr_fmt(format_args!($($t)*)) };
}

/// `eprintln!`, ending quietly when the reader goes away.
macro_rules! errln {
    ($($t:tt)*) => { $crate::cli::out::stderr_fmt(format_args!("{}\n", format_args!($($t)*))) };
}

pub(crate) use {err, errln, out, outln};

//! BIRD's control socket: the client pharos uses to drive its `bird`
//! child, over the Unix stream socket `bird -s PATH` makes, in the line
//! protocol `birdc` speaks. This module owns that conversation and
//! nothing else: it does not start `bird`, render its config or decide
//! which VIP is announced (task.rs, render.rs and desired.rs do).
//!
//! Talks to: BIRD 2 (Debian's `bird2`, 2.0.12 on bookworm), only through
//! its control socket.
//!
//! # The protocol
//!
//! From BIRD's user's guide ("Remote control": the format between BIRD
//! and `birdc` "is stable", others may speak it), its programmer's
//! documentation (`nest/cli.c`, "DOC: Command line interface") and
//! `doc/reply_codes`; every fact below was also seen on the wire with
//! bird 2.0.12:
//!
//! - On connect BIRD sends `0001 BIRD 2.0.12 ready.`.
//! - A request is one line of text ending in `\n`. BIRD drops a `\r`,
//!   ends the command at a NUL, and with 1023 bytes or more before the
//!   newline (its 1 KiB receive buffer) it closes the connection without
//!   a word, so [`MAX_COMMAND`] bounds what is sent.
//! - A reply is one or more lines, each a four-digit code then `-` (more
//!   lines of this reply follow) or ` ` (the last line). A line that
//!   starts with a single space continues the previous line's code. Every
//!   reply ends with a line in the ` ` form, also when its text is empty
//!   (`0000 `).
//! - Codes: 0xxx an action's result, 1xxx a table row, 2xxx a table
//!   header, 8xxx a run-time error, 9xxx a parse error (see [`code`]).
//! - A line starting with `+` is a spontaneous printout (log lines after
//!   `echo`, the config undo timer), not part of any reply, and can come
//!   between the lines of one; so can `<N messages lost>`. pharos never
//!   turns `echo` on; the parser sets them aside all the same.
//!
//! What each command pharos sends ends with (bird 2.0.12):
//!
//! ```text
//!   enable "P"          0011-P: enabled | 0010-P: already enabled, then 0000
//!   disable "P"         0009-P: disabled | 0008-P: already disabled, then 0000
//!                       8003 No protocols match (no such protocol)
//!   show protocols      2002-header, 1002- rows (continued with ' '), 0000
//!   configure ["F"]     0002-Reading configuration from F, then
//!                       0003 Reconfigured | 0004 Reconfiguration in progress
//!                       | 0005 ... queueing new config | 8002 F:LINE:COL error
//!   configure check ["F"]  0002-Reading ..., then 0020 Configuration OK | 8002
//! ```
//!
//! Protocol names go in the pattern form (`disable "P"`), not the symbol
//! form (`disable P`): for a name the running config lacks, the pattern
//! form answers `8003 No protocols match` while the symbol form is a
//! parse error (`9001 syntax error, unexpected CF_SYM_UNDEFINED`). The
//! caller names the protocols (render.rs makes the names); a name is sent
//! as given, so it may not hold the pattern's wildcards `*` and `?`, a
//! `"` or a control character ([`Error::BadName`]).
//!
//! `configure` is synchronous up to the commit: the file is read, checked
//! and applied before the reply, and `0004` only means removed or
//! restarted protocols are still shutting down. A `configure` sets every
//! protocol back to what the config says, so one disabled here comes
//! back up unless the config itself says `disabled`. A config BIRD
//! refuses (8002) leaves the running one untouched.

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

/// How long one call (connect and welcome, or one command and its whole
/// reply) may take before it fails: a hung BIRD must not hang the `bgp`
/// task. BIRD answers these commands in milliseconds; a reconfiguration
/// reads a small rendered file.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// The longest reply line accepted, without its newline. BIRD formats a
/// line in 512 bytes (`CLI_LINE_SIZE`); far more means the peer is not
/// BIRD or the stream is mis-framed.
pub const MAX_LINE: usize = 64 * 1024;

/// The most bytes of lines one reply may hold: `show protocols` for
/// thousands of VIPs is well under 1 MiB.
pub const MAX_REPLY: usize = 16 * 1024 * 1024;

/// The longest command sent, without its newline: BIRD closes the
/// connection at 1023 bytes or more (seen with bird 2.0.12).
pub const MAX_COMMAND: usize = 1022;

/// At most this many spontaneous lines are kept for
/// [`ReplyParser::take_spontaneous`]; older ones are dropped.
const MAX_SPONTANEOUS: usize = 256;

/// BIRD's reply codes (`doc/reply_codes`) that pharos reads.
pub mod code {
    /// The end of a reply whose lines said it all (`0000 `).
    pub const OK: u16 = 0;
    /// `0001 BIRD 2.0.12 ready.`, on connect.
    pub const WELCOME: u16 = 1;
    /// `0002-Reading configuration from FILE`.
    pub const READING_CONFIG: u16 = 2;
    /// `0003 Reconfigured`.
    pub const RECONFIGURED: u16 = 3;
    /// `0004 Reconfiguration in progress`: committed, some protocols still
    /// shutting down.
    pub const RECONFIG_IN_PROGRESS: u16 = 4;
    /// `0005 Reconfiguration already in progress, queueing new config`.
    pub const RECONFIG_QUEUED: u16 = 5;
    /// `0006 Reconfiguration ignored, shutting down`.
    pub const RECONFIG_IGNORED: u16 = 6;
    /// `0008-P: already disabled`.
    pub const ALREADY_DISABLED: u16 = 8;
    /// `0009-P: disabled`.
    pub const DISABLED: u16 = 9;
    /// `0010-P: already enabled`.
    pub const ALREADY_ENABLED: u16 = 10;
    /// `0011-P: enabled`.
    pub const ENABLED: u16 = 11;
    /// `0020 Configuration OK` (`configure check`).
    pub const CONFIG_OK: u16 = 20;
    /// A `show protocols` row.
    pub const PROTOCOL_LIST: u16 = 1002;
    /// The `show protocols` header.
    pub const PROTOCOL_HEADER: u16 = 2002;
    /// `8002 FILE:LINE:COL message`, or `8002 FILE: strerror`.
    pub const CONFIG_ERROR: u16 = 8002;
    /// `8003 No protocols match`.
    pub const NO_PROTOCOLS_MATCH: u16 = 8003;
    /// `9000 Command too long`.
    pub const COMMAND_TOO_LONG: u16 = 9000;
    /// `9001 syntax error, ...`.
    pub const PARSE_ERROR: u16 = 9001;

    /// 8xxx (run time) and 9xxx (parse time) are errors.
    pub fn is_error(code: u16) -> bool {
        (8000..10000).contains(&code)
    }
}

/// One line of a reply: its code (a continuation line carries the code
/// it continues) and its text after the code and separator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub code: u16,
    pub text: String,
}

impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04} {}", self.code, self.text)
    }
}

/// BIRD's whole reply to one command (or its welcome). Never empty: the
/// parser makes one only when the last line arrives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    lines: Vec<Line>,
}

impl Reply {
    pub fn lines(&self) -> &[Line] {
        &self.lines
    }

    /// The last line's code: what the command came to (`0000` when the
    /// lines before it carry the result).
    pub fn code(&self) -> u16 {
        self.lines.last().map_or(code::OK, |l| l.code)
    }

    /// Whether BIRD refused or failed the command (any 8xxx or 9xxx line).
    pub fn is_error(&self) -> bool {
        self.error().is_some()
    }

    /// The first error line, if any.
    pub fn error(&self) -> Option<&Line> {
        self.lines.iter().find(|l| code::is_error(l.code))
    }

    /// The first line with `code`.
    pub fn find(&self, code: u16) -> Option<&Line> {
        self.lines.iter().find(|l| l.code == code)
    }

    /// What to quote of it in a message: its error lines if it has any,
    /// else all of it.
    fn quote(&self) -> String {
        let errors: Vec<String> = self
            .lines
            .iter()
            .filter(|l| code::is_error(l.code))
            .map(Line::to_string)
            .collect();
        if errors.is_empty() {
            self.to_string()
        } else {
            errors.join("; ")
        }
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, l) in self.lines.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{l}")?;
        }
        Ok(())
    }
}

/// Why the bytes from the socket are not BIRD's reply protocol. The
/// stream cannot be re-synchronised after one: the connection is dropped.
/// `line` counts the lines read on this connection, from 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("line {line} is longer than {limit} bytes")]
    LineTooLong { line: u64, limit: usize },
    #[error("a reply of more than {limit} bytes (at line {line})")]
    ReplyTooLong { line: u64, limit: usize },
    #[error("line {line} is empty")]
    EmptyLine { line: u64 },
    #[error("line {line} does not start with a four-digit code: {start:?}")]
    BadCode { line: u64, start: String },
    #[error("line {line}: code {code:04} is followed by {found:?}, not '-' or ' '")]
    BadSeparator { line: u64, code: u16, found: String },
    #[error("line {line} continues a reply that has no code yet")]
    ContinuationWithoutCode { line: u64 },
    #[error("line {line} is not UTF-8 (valid up to byte {valid_up_to})")]
    InvalidUtf8 { line: u64, valid_up_to: usize },
}

/// One line, classified.
enum Parsed {
    /// `DDDD-text` (`last` false) or `DDDD text` (`last` true).
    Coded { code: u16, last: bool, text: String },
    /// ` text`: the previous line's code.
    Continuation(String),
    /// `+text` or `<N messages lost>`: not part of a reply.
    Spontaneous(String),
}

fn parse_line(bytes: &[u8], line: u64) -> Result<Parsed, ParseError> {
    let text = |b: &[u8]| -> Result<String, ParseError> {
        std::str::from_utf8(b)
            .map(str::to_owned)
            .map_err(|e| ParseError::InvalidUtf8 {
                line,
                valid_up_to: e.valid_up_to(),
            })
    };
    match bytes.first() {
        None => Err(ParseError::EmptyLine { line }),
        Some(b' ') => Ok(Parsed::Continuation(text(&bytes[1..])?)),
        Some(b'+') => Ok(Parsed::Spontaneous(text(&bytes[1..])?)),
        // nest/cli.c cli_copy_message: the echo ring's overflow notice,
        // written raw.
        Some(b'<') if bytes.ends_with(b" messages lost>") => Ok(Parsed::Spontaneous(text(bytes)?)),
        Some(_) => {
            let digits = bytes.get(..4).filter(|d| d.iter().all(u8::is_ascii_digit));
            let Some(digits) = digits else {
                let start = String::from_utf8_lossy(&bytes[..bytes.len().min(16)]).into_owned();
                return Err(ParseError::BadCode { line, start });
            };
            let code = digits
                .iter()
                .fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
            let last = match bytes.get(4) {
                Some(b' ') => true,
                Some(b'-') => false,
                other => {
                    let found = other.map_or_else(
                        || "end of line".to_owned(),
                        |b| String::from_utf8_lossy(&[*b]).into_owned(),
                    );
                    return Err(ParseError::BadSeparator { line, code, found });
                }
            };
            Ok(Parsed::Coded {
                code,
                last,
                text: text(&bytes[5..])?,
            })
        }
    }
}

/// The sans-IO reply parser: [`push`](Self::push) bytes as they arrive, in
/// any chunks, and take whole replies from [`next_reply`](Self::next_reply)
/// until it gives `None`. After an error it gives that error again.
#[derive(Debug, Default)]
pub struct ReplyParser {
    buf: Vec<u8>,
    /// Where the unread bytes start in `buf`.
    start: usize,
    /// How many unread bytes were already searched for a newline.
    scanned: usize,
    /// The reply in progress.
    lines: Vec<Line>,
    reply_bytes: usize,
    /// The code a continuation line takes: the previous line's, within
    /// one reply (BIRD resets it after a reply's last line).
    last_code: Option<u16>,
    /// Lines read so far, for messages.
    line_no: u64,
    spontaneous: VecDeque<String>,
    failed: Option<ParseError>,
}

impl ReplyParser {
    pub fn new() -> ReplyParser {
        ReplyParser::default()
    }

    pub fn push(&mut self, bytes: &[u8]) {
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        } else if self.start >= MAX_LINE {
            // Keep the buffer from growing with what was already read.
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete reply, `None` until its last line is in.
    pub fn next_reply(&mut self) -> Result<Option<Reply>, ParseError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        match self.advance() {
            Ok(r) => Ok(r),
            Err(e) => {
                self.failed = Some(e.clone());
                Err(e)
            }
        }
    }

    fn advance(&mut self) -> Result<Option<Reply>, ParseError> {
        loop {
            let unread = &self.buf[self.start..];
            let Some(at) = unread[self.scanned..].iter().position(|&b| b == b'\n') else {
                self.scanned = unread.len();
                if unread.len() > MAX_LINE {
                    return Err(ParseError::LineTooLong {
                        line: self.line_no + 1,
                        limit: MAX_LINE,
                    });
                }
                return Ok(None);
            };
            let len = self.scanned + at;
            self.line_no += 1;
            let line = self.line_no;
            if len > MAX_LINE {
                return Err(ParseError::LineTooLong {
                    line,
                    limit: MAX_LINE,
                });
            }
            let parsed = parse_line(&unread[..len], line)?;
            self.start += len + 1;
            self.scanned = 0;
            let (code, last, text) = match parsed {
                Parsed::Spontaneous(text) => {
                    if self.spontaneous.len() == MAX_SPONTANEOUS {
                        self.spontaneous.pop_front();
                    }
                    self.spontaneous.push_back(text);
                    continue;
                }
                Parsed::Continuation(text) => match self.last_code {
                    Some(code) => (code, false, text),
                    None => return Err(ParseError::ContinuationWithoutCode { line }),
                },
                Parsed::Coded { code, last, text } => (code, last, text),
            };
            self.reply_bytes += len;
            if self.reply_bytes > MAX_REPLY {
                return Err(ParseError::ReplyTooLong {
                    line,
                    limit: MAX_REPLY,
                });
            }
            self.lines.push(Line { code, text });
            if last {
                self.last_code = None;
                self.reply_bytes = 0;
                let lines = std::mem::take(&mut self.lines);
                return Ok(Some(Reply { lines }));
            }
            self.last_code = Some(code);
        }
    }

    /// The spontaneous lines (`+...`) seen so far, oldest first.
    pub fn take_spontaneous(&mut self) -> Vec<String> {
        self.spontaneous.drain(..).collect()
    }

    /// Whether bytes of an unfinished line or reply are waiting.
    pub fn is_mid_reply(&self) -> bool {
        self.start < self.buf.len() || !self.lines.is_empty()
    }
}

/// One row of `show protocols`, as BIRD wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Protocol {
    pub name: String,
    /// `Static`, `BGP`, `Device`, ...
    pub proto: String,
    /// The main channel's table, `---` if none (BGP shows `---`).
    pub table: String,
    /// `up`, `down`, `start`, `stop` or `flush`.
    pub state: String,
    /// When it entered `state`, in the config's `timeformat protocol`
    /// (`04:53:25.341` by default; `iso long` has a space in it).
    pub since: String,
    /// The protocol's own words: empty for static, `Established`,
    /// `Active        Socket: Connection refused`, `Error: ...` for BGP.
    pub info: String,
}

impl Protocol {
    pub fn is_up(&self) -> bool {
        self.state == "up"
    }
}

/// A 1002 row: BIRD prints `"%-10s %-10s %-10s %-6s %-12s  %s"` (name,
/// protocol, table, state, since, info; nest/proto.c). The first four never
/// hold a space, but a long name pushes the columns right, so they are
/// split on whitespace, not by the header's positions. Since is followed
/// by at least two spaces and never holds two in a row (`iso long` holds
/// one), so the first double space ends it.
fn parse_protocol_row(text: &str) -> Option<Protocol> {
    fn word(s: &str) -> Option<(&str, &str)> {
        let s = s.trim_start();
        let end = s.find(char::is_whitespace)?;
        Some((&s[..end], &s[end..]))
    }
    let (name, rest) = word(text)?;
    let (proto, rest) = word(rest)?;
    let (table, rest) = word(rest)?;
    let (state, rest) = word(rest)?;
    let rest = rest.trim_start();
    let (since, info) = rest.split_once("  ").unwrap_or((rest, ""));
    if since.is_empty() {
        return None;
    }
    Some(Protocol {
        name: name.to_owned(),
        proto: proto.to_owned(),
        table: table.to_owned(),
        state: state.to_owned(),
        since: since.to_owned(),
        info: info.trim().to_owned(),
    })
}

/// What a `configure` that BIRD took came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reconfigure {
    /// `0003 Reconfigured`: applied.
    Done,
    /// `0004 Reconfiguration in progress`: applied; protocols it removed or
    /// restarts are still shutting down.
    InProgress,
    /// `0005 ... queueing new config`: an earlier reconfiguration is still
    /// shutting protocols down; this one follows it.
    Queued,
}

/// Why a call on BIRD's control socket failed. `socket` is the control
/// socket's path; `command` what was sent.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "cannot connect to BIRD's control socket {}: {source}; is bird running with -s on that path?",
        socket.display()
    )]
    Connect { socket: PathBuf, source: io::Error },
    #[error(
        "BIRD's control socket {} greeted with {got:?}, not \"0001 BIRD <version> ready.\"; is it BIRD 2's socket?",
        socket.display()
    )]
    Welcome { socket: PathBuf, got: String },
    #[error(
        "BIRD did not answer {command:?} over {} within {timeout:?}; bird may be hung: restart it",
        socket.display()
    )]
    Timeout {
        socket: PathBuf,
        command: String,
        timeout: Duration,
    },
    #[error(
        "lost BIRD's control socket {} during {command:?}: {source}; bird may have exited, see its log",
        socket.display()
    )]
    Io {
        socket: PathBuf,
        command: String,
        source: io::Error,
    },
    #[error(
        "BIRD closed its control socket {} during {command:?}; bird may have exited, see its log",
        socket.display()
    )]
    Closed { socket: PathBuf, command: String },
    #[error(
        "cannot read BIRD's answer to {command:?} over {}: {source}; is it BIRD 2's socket?",
        socket.display()
    )]
    Parse {
        socket: PathBuf,
        command: String,
        source: ParseError,
    },
    #[error(
        "the connection to BIRD over {} is unusable after an earlier failure ({why}); connect again",
        socket.display()
    )]
    Broken { socket: PathBuf, why: String },
    #[error("cannot send {command:?} to BIRD over {}: {why}; nothing was sent", socket.display())]
    BadCommand {
        socket: PathBuf,
        command: String,
        why: &'static str,
    },
    #[error(
        "cannot {action} BIRD protocol {name:?} over {}: the name {why}; the caller names protocols as render.rs does",
        socket.display()
    )]
    BadName {
        socket: PathBuf,
        action: &'static str,
        name: String,
        why: &'static str,
    },
    #[error("cannot {action} with BIRD config {}: {why}; nothing was sent", file.display())]
    BadPath {
        action: &'static str,
        file: PathBuf,
        why: &'static str,
    },
    #[error("cannot {action} over {}: BIRD said {said}; {hint}", socket.display())]
    Bird {
        socket: PathBuf,
        action: String,
        /// The first error line's code (8xxx or 9xxx), or the final code
        /// when the reply is not an error but is no success either.
        code: u16,
        said: String,
        hint: &'static str,
    },
    #[error(
        "{} BIRD config {file} over {}: BIRD said {said}; {}",
        if *checking { "cannot check" } else { "cannot load" },
        socket.display(),
        if *checking { "the file is not usable: fix what BIRD points at" }
        else { "BIRD keeps running its previous config: fix what it points at" }
    )]
    Config {
        socket: PathBuf,
        /// The file as BIRD named it (`Reading configuration from ...`).
        file: String,
        /// `8002 FILE:LINE:COL message`, as BIRD gave it.
        said: String,
        checking: bool,
    },
    #[error(
        "unexpected answer to {command:?} from BIRD over {}: {reply}; is this BIRD 2?",
        socket.display()
    )]
    Unexpected {
        socket: PathBuf,
        command: String,
        reply: String,
    },
}

impl Error {
    /// BIRD's reply code when BIRD itself refused the command.
    pub fn bird_code(&self) -> Option<u16> {
        match self {
            Error::Bird { code, .. } => Some(*code),
            Error::Config { .. } => Some(code::CONFIG_ERROR),
            _ => None,
        }
    }
}

/// Why `cmd` cannot be sent, if it cannot.
fn command_problem(cmd: &str) -> Option<&'static str> {
    if cmd.contains('\n') {
        // A newline would end the command early and make a second one.
        Some("it contains a newline")
    } else if cmd.contains(['\r', '\0']) {
        // BIRD drops '\r' and stops at NUL: what runs is not what was asked.
        Some("it contains a carriage return or NUL")
    } else if cmd.len() > MAX_COMMAND {
        Some("it is longer than the 1022 bytes BIRD reads (it would close the connection)")
    } else {
        None
    }
}

/// Why `name` cannot go in a `"pattern"`, if it cannot.
fn name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("is empty")
    } else if name.contains(['*', '?']) {
        Some("holds a wildcard (* or ?) and would match other protocols")
    } else if name.contains('"') || name.chars().any(char::is_control) {
        Some("holds a quote or a control character")
    } else {
        None
    }
}

/// `configure`'s and `configure check`'s argument: BIRD reads the file
/// itself, from its own working directory, inside `"..."` with no escapes.
fn config_arg(file: Option<&Path>, action: &'static str) -> Result<String, Error> {
    let Some(file) = file else {
        return Ok(String::new());
    };
    let bad = |why| Error::BadPath {
        action,
        file: file.to_owned(),
        why,
    };
    if !file.is_absolute() {
        return Err(bad(
            "it is relative and BIRD would read it from its own working directory",
        ));
    }
    let Some(s) = file.to_str() else {
        return Err(bad("it is not UTF-8"));
    };
    if s.contains('"') || s.chars().any(char::is_control) {
        return Err(bad("it holds a quote or a control character"));
    }
    Ok(format!(" \"{s}\""))
}

/// What to do about a refusal, by its code.
fn hint(code: u16) -> &'static str {
    match code {
        code::NO_PROTOCOLS_MATCH => "the rendered config lacks it, reload pharos",
        9000..=9999 => "BIRD could not parse what pharos sent: report this pharos bug",
        _ => "see BIRD's log",
    }
}

/// A client connection to BIRD's control socket. One command at a time;
/// after a timeout, a lost socket or a garbled reply it refuses further
/// commands ([`Error::Broken`]): connect again.
#[derive(Debug)]
pub struct Birdc {
    stream: UnixStream,
    parser: ReplyParser,
    socket: PathBuf,
    version: String,
    timeout: Duration,
    broken: Option<String>,
}

impl Birdc {
    /// Connects and reads BIRD's welcome, within [`TIMEOUT`].
    pub async fn connect(socket: &Path) -> Result<Birdc, Error> {
        Birdc::connect_with_timeout(socket, TIMEOUT).await
    }

    /// [`connect`](Self::connect) with another bound for every call.
    pub async fn connect_with_timeout(socket: &Path, timeout: Duration) -> Result<Birdc, Error> {
        const WHAT: &str = "(connect and welcome)";
        let attempt = async {
            let stream = UnixStream::connect(socket)
                .await
                .map_err(|source| Error::Connect {
                    socket: socket.to_owned(),
                    source,
                })?;
            let mut c = Birdc {
                stream,
                parser: ReplyParser::new(),
                socket: socket.to_owned(),
                version: String::new(),
                timeout,
                broken: None,
            };
            let welcome = c.read_reply(WHAT).await?;
            c.version = welcome_version(&welcome).ok_or_else(|| Error::Welcome {
                socket: socket.to_owned(),
                got: welcome.to_string(),
            })?;
            Ok(c)
        };
        tokio::time::timeout(timeout, attempt)
            .await
            .unwrap_or_else(|_| {
                Err(Error::Timeout {
                    socket: socket.to_owned(),
                    command: WHAT.to_owned(),
                    timeout,
                })
            })
    }

    /// BIRD's version from its welcome, e.g. `2.0.12`.
    pub fn version(&self) -> &str {
        &self.version
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// The bound on each later call.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// Sends one command and returns BIRD's whole reply, errors included
    /// (see [`Reply::is_error`]); `Err` only when the reply did not come.
    pub async fn command(&mut self, cmd: &str) -> Result<Reply, Error> {
        if let Some(why) = &self.broken {
            return Err(Error::Broken {
                socket: self.socket.clone(),
                why: why.clone(),
            });
        }
        if let Some(why) = command_problem(cmd) {
            return Err(Error::BadCommand {
                socket: self.socket.clone(),
                command: cmd.to_owned(),
                why,
            });
        }
        let result = match tokio::time::timeout(self.timeout, self.exchange(cmd)).await {
            Ok(r) => r,
            Err(_) => Err(Error::Timeout {
                socket: self.socket.clone(),
                command: cmd.to_owned(),
                timeout: self.timeout,
            }),
        };
        if let Err(e) = &result {
            // The reply may still come, or half of it came: the next
            // command's reply could not be told from this one's.
            self.broken = Some(e.to_string());
        }
        result
    }

    async fn exchange(&mut self, cmd: &str) -> Result<Reply, Error> {
        let mut line = Vec::with_capacity(cmd.len() + 1);
        line.extend_from_slice(cmd.as_bytes());
        line.push(b'\n');
        self.stream
            .write_all(&line)
            .await
            .map_err(|source| Error::Io {
                socket: self.socket.clone(),
                command: cmd.to_owned(),
                source,
            })?;
        self.read_reply(cmd).await
    }

    async fn read_reply(&mut self, cmd: &str) -> Result<Reply, Error> {
        let mut chunk = vec![0u8; 16 * 1024];
        loop {
            let next = self.parser.next_reply().map_err(|source| Error::Parse {
                socket: self.socket.clone(),
                command: cmd.to_owned(),
                source,
            })?;
            for line in self.parser.take_spontaneous() {
                tracing::debug!(socket = %self.socket.display(), "BIRD says: {line}");
            }
            if let Some(reply) = next {
                return Ok(reply);
            }
            let n = self
                .stream
                .read(&mut chunk)
                .await
                .map_err(|source| Error::Io {
                    socket: self.socket.clone(),
                    command: cmd.to_owned(),
                    source,
                })?;
            if n == 0 {
                return Err(Error::Closed {
                    socket: self.socket.clone(),
                    command: cmd.to_owned(),
                });
            }
            self.parser.push(&chunk[..n]);
        }
    }

    /// `enable "NAME"`: true if it was disabled and is now enabled, false
    /// if it was already enabled.
    pub async fn enable(&mut self, name: &str) -> Result<bool, Error> {
        self.toggle("enable", name, code::ENABLED, code::ALREADY_ENABLED)
            .await
    }

    /// `disable "NAME"`: true if it was enabled and is now disabled, false
    /// if it was already disabled. A later `configure` enables it again
    /// unless the config says `disabled`.
    pub async fn disable(&mut self, name: &str) -> Result<bool, Error> {
        self.toggle("disable", name, code::DISABLED, code::ALREADY_DISABLED)
            .await
    }

    async fn toggle(
        &mut self,
        action: &'static str,
        name: &str,
        changed: u16,
        already: u16,
    ) -> Result<bool, Error> {
        if let Some(why) = name_problem(name) {
            return Err(Error::BadName {
                socket: self.socket.clone(),
                action,
                name: name.to_owned(),
                why,
            });
        }
        let cmd = format!("{action} \"{name}\"");
        let reply = self.command(&cmd).await?;
        toggle_result(&reply, &self.socket, &cmd, action, name, changed, already)
    }

    /// `configure` (the file bird was started with, `-c`) or
    /// `configure "FILE"` (absolute: BIRD reads it, from its own working
    /// directory).
    pub async fn configure(&mut self, file: Option<&Path>) -> Result<Reconfigure, Error> {
        let cmd = format!("configure{}", config_arg(file, "reconfigure BIRD")?);
        let reply = self.command(&cmd).await?;
        configure_result(&reply, &self.socket, &cmd, file)
    }

    /// `configure check ["FILE"]`: BIRD reads and checks the file and
    /// leaves its running config alone.
    pub async fn configure_check(&mut self, file: Option<&Path>) -> Result<(), Error> {
        let cmd = format!("configure check{}", config_arg(file, "check")?);
        let reply = self.command(&cmd).await?;
        check_result(&reply, &self.socket, &cmd, file)
    }

    /// `show protocols`: every protocol instance and its state.
    pub async fn protocols(&mut self) -> Result<Vec<Protocol>, Error> {
        const CMD: &str = "show protocols";
        let reply = self.command(CMD).await?;
        protocols_result(&reply, &self.socket, CMD)
    }
}

/// `BIRD 2.0.12 ready.` in a lone 0001 line gives `2.0.12`.
fn welcome_version(reply: &Reply) -> Option<String> {
    let [line] = reply.lines() else {
        return None;
    };
    if line.code != code::WELCOME {
        return None;
    }
    let version = line.text.strip_prefix("BIRD ")?.strip_suffix(" ready.")?;
    (!version.is_empty()).then(|| version.to_owned())
}

fn unexpected(reply: &Reply, socket: &Path, cmd: &str) -> Error {
    Error::Unexpected {
        socket: socket.to_owned(),
        command: cmd.to_owned(),
        reply: reply.to_string(),
    }
}

/// BIRD's refusal as an error, if the reply is one.
fn refusal(reply: &Reply, socket: &Path, action: impl FnOnce() -> String) -> Option<Error> {
    let line = reply.error()?;
    Some(Error::Bird {
        socket: socket.to_owned(),
        action: action(),
        code: line.code,
        said: reply.quote(),
        hint: hint(line.code),
    })
}

fn toggle_result(
    reply: &Reply,
    socket: &Path,
    cmd: &str,
    action: &str,
    name: &str,
    changed: u16,
    already: u16,
) -> Result<bool, Error> {
    if let Some(e) = refusal(reply, socket, || format!("{action} BIRD protocol {name}")) {
        return Err(e);
    }
    if reply.code() == code::OK {
        if reply.find(changed).is_some() {
            return Ok(true);
        }
        if reply.find(already).is_some() {
            return Ok(false);
        }
    }
    Err(unexpected(reply, socket, cmd))
}

/// The file BIRD says it read, else the one asked for.
fn config_file(reply: &Reply, file: Option<&Path>) -> String {
    reply
        .find(code::READING_CONFIG)
        .and_then(|l| l.text.strip_prefix("Reading configuration from "))
        .map(str::to_owned)
        .unwrap_or_else(|| {
            file.map_or_else(
                || "(bird's -c file)".to_owned(),
                |f| f.display().to_string(),
            )
        })
}

fn config_refusal(
    reply: &Reply,
    socket: &Path,
    file: Option<&Path>,
    checking: bool,
) -> Option<Error> {
    let line = reply.find(code::CONFIG_ERROR)?;
    Some(Error::Config {
        socket: socket.to_owned(),
        file: config_file(reply, file),
        said: line.to_string(),
        checking,
    })
}

fn configure_result(
    reply: &Reply,
    socket: &Path,
    cmd: &str,
    file: Option<&Path>,
) -> Result<Reconfigure, Error> {
    if let Some(e) = config_refusal(reply, socket, file, false) {
        return Err(e);
    }
    let action = || format!("reconfigure BIRD from {}", config_file(reply, file));
    if let Some(e) = refusal(reply, socket, action) {
        return Err(e);
    }
    match reply.code() {
        code::RECONFIGURED => Ok(Reconfigure::Done),
        code::RECONFIG_IN_PROGRESS => Ok(Reconfigure::InProgress),
        code::RECONFIG_QUEUED => Ok(Reconfigure::Queued),
        code::RECONFIG_IGNORED => Err(Error::Bird {
            socket: socket.to_owned(),
            action: action(),
            code: code::RECONFIG_IGNORED,
            said: reply.to_string(),
            hint: "bird is shutting down; start it again",
        }),
        _ => Err(unexpected(reply, socket, cmd)),
    }
}

fn check_result(reply: &Reply, socket: &Path, cmd: &str, file: Option<&Path>) -> Result<(), Error> {
    if let Some(e) = config_refusal(reply, socket, file, true) {
        return Err(e);
    }
    let action = || format!("check BIRD config {}", config_file(reply, file));
    if let Some(e) = refusal(reply, socket, action) {
        return Err(e);
    }
    if reply.code() == code::CONFIG_OK {
        Ok(())
    } else {
        Err(unexpected(reply, socket, cmd))
    }
}

fn protocols_result(reply: &Reply, socket: &Path, cmd: &str) -> Result<Vec<Protocol>, Error> {
    if let Some(e) = refusal(reply, socket, || "list BIRD's protocols".to_owned()) {
        return Err(e);
    }
    if reply.code() != code::OK || reply.find(code::PROTOCOL_HEADER).is_none() {
        return Err(unexpected(reply, socket, cmd));
    }
    reply
        .lines()
        .iter()
        .filter(|l| l.code == code::PROTOCOL_LIST)
        .map(|l| {
            parse_protocol_row(&l.text).ok_or_else(|| Error::Unexpected {
                socket: socket.to_owned(),
                command: cmd.to_owned(),
                reply: format!("a protocol row it cannot read: {l}"),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Captured from bird 2.0.12 on this host (`show protocols` with a
    /// device, a static and a BGP protocol whose peer refuses).
    const SHOW_PROTOCOLS: &[u8] =
        b"2002-Name       Proto      Table      State  Since         Info\n\
1002-device1    Device     ---        up     04:51:25.172  \n \
s1         Static     master4    up     04:53:16.520  \n \
up1        BGP        ---        start  04:53:25.341  Active        Socket: Connection refused\n\
0000 \n";

    /// Also captured: with `timeformat protocol iso long` and a long name.
    const SHOW_PROTOCOLS_ISO: &[u8] =
        b"2002-Name       Proto      Table      State  Since         Info\n\
1002-device1    Device     ---        up     2026-12-07 04:51:25  \n \
vip_10_0_0_100_long_name Static     master4    up     2026-12-07 04:52:36  \n \
up1        BGP        ---        down   2026-12-07 04:52:36  Error: Invalid next hop\n\
0000 \n";

    /// A session as it came over the socket: welcome, show status,
    /// disable twice, a missing protocol, a broken config.
    const SESSION: &[u8] = b"0001 BIRD 2.0.12 ready.\n\
1000-BIRD 2.0.12\n1011-Router ID is 10.255.0.1\n Hostname is vm\n \
Current server time is 2026-12-07 04:51:15.162\n Last reboot on 2026-12-07 04:50:34.819\n \
Last reconfiguration on 2026-12-07 04:50:34.819\n0013 Daemon is up and running\n\
0009-s1: disabled\n0000 \n\
0008-s1: already disabled\n0000 \n\
8003 No protocols match\n\
0002-Reading configuration from /tmp/birdx/broken.conf\n\
8002 /tmp/birdx/broken.conf:2:56 syntax error, unexpected '}', expecting ';' or '{'\n";

    fn all(parser: &mut ReplyParser) -> Vec<Reply> {
        let mut out = Vec::new();
        while let Some(r) = parser.next_reply().expect("well-formed") {
            out.push(r);
        }
        out
    }

    fn parse(bytes: &[u8]) -> Vec<Reply> {
        let mut p = ReplyParser::new();
        p.push(bytes);
        let out = all(&mut p);
        assert!(!p.is_mid_reply(), "bytes left over");
        out
    }

    fn one(bytes: &[u8]) -> Reply {
        let mut r = parse(bytes);
        assert_eq!(r.len(), 1, "{r:?}");
        r.remove(0)
    }

    fn bad(bytes: &[u8]) -> ParseError {
        let mut p = ReplyParser::new();
        p.push(bytes);
        loop {
            match p.next_reply() {
                Ok(Some(_)) => continue,
                Ok(None) => panic!("no error for {:?}", String::from_utf8_lossy(bytes)),
                Err(e) => {
                    // The stream stays failed.
                    assert_eq!(p.next_reply(), Err(e.clone()));
                    return e;
                }
            }
        }
    }

    fn line(code: u16, text: &str) -> Line {
        Line {
            code,
            text: text.to_owned(),
        }
    }

    #[test]
    fn every_split_gives_the_same_replies() {
        for input in [SHOW_PROTOCOLS, SHOW_PROTOCOLS_ISO, SESSION] {
            let whole = parse(input);
            for at in 0..=input.len() {
                let mut p = ReplyParser::new();
                p.push(&input[..at]);
                let mut got = all(&mut p);
                p.push(&input[at..]);
                got.extend(all(&mut p));
                assert_eq!(got, whole, "split at {at}");
            }
            let mut p = ReplyParser::new();
            let mut got = Vec::new();
            for b in input {
                p.push(std::slice::from_ref(b));
                got.extend(all(&mut p));
            }
            assert_eq!(got, whole, "byte by byte");
        }
    }

    #[test]
    fn a_reply_is_not_out_before_its_last_line() {
        let mut p = ReplyParser::new();
        p.push(&SHOW_PROTOCOLS[..SHOW_PROTOCOLS.len() - 1]);
        assert_eq!(p.next_reply(), Ok(None));
        assert!(p.is_mid_reply());
        p.push(b"\n");
        assert!(p.next_reply().expect("parses").is_some());
        assert!(!p.is_mid_reply());
    }

    #[test]
    fn table_header_rows_and_continuations() {
        let r = one(SHOW_PROTOCOLS);
        let codes: Vec<u16> = r.lines().iter().map(|l| l.code).collect();
        assert_eq!(codes, [2002, 1002, 1002, 1002, 0]);
        assert_eq!(
            r.lines()[2],
            line(
                1002,
                "s1         Static     master4    up     04:53:16.520  "
            )
        );
        assert_eq!(r.code(), code::OK);
        assert!(!r.is_error());
    }

    #[test]
    fn continuation_takes_the_previous_code() {
        let replies = parse(SESSION);
        assert_eq!(replies.len(), 6);
        let status = &replies[1];
        assert_eq!(status.lines()[0], line(1000, "BIRD 2.0.12"));
        assert_eq!(status.lines()[2], line(1011, "Hostname is vm"));
        assert_eq!(status.lines()[5].code, 1011);
        assert_eq!(status.code(), 13);
        // A continuation's code is the line just before it, not the
        // reply's first: here 1002, then 1006.
        let r = one(b"1002-s1 x\n1006-  Channel ipv4\n     State: UP\n \n0000 \n");
        assert_eq!(r.lines()[2], line(1006, "    State: UP"));
        assert_eq!(r.lines()[3], line(1006, ""));
    }

    #[test]
    fn welcome_and_version() {
        let r = one(b"0001 BIRD 2.0.12 ready.\n");
        assert_eq!(welcome_version(&r).as_deref(), Some("2.0.12"));
        assert_eq!(welcome_version(&one(b"0001 hello\n")), None);
        assert_eq!(welcome_version(&one(b"0000 BIRD 2.0.12 ready.\n")), None);
    }

    #[test]
    fn error_codes() {
        let replies = parse(SESSION);
        let missing = &replies[4];
        assert!(missing.is_error());
        assert_eq!(missing.code(), code::NO_PROTOCOLS_MATCH);
        let broken = &replies[5];
        assert!(broken.is_error());
        assert_eq!(broken.error().map(|l| l.code), Some(code::CONFIG_ERROR));
        assert!(one(b"9001 syntax error, unexpected END\n").is_error());
        assert!(one(b"9000 Command too long\n").is_error());
        assert!(!replies[2].is_error());
        assert!(!one(b"0020 Configuration OK\n").is_error());
        assert!(!one(b"2002-h\n1002-r\n0000 \n").is_error());
        assert!(!code::is_error(7999) && code::is_error(8000) && code::is_error(9999));
    }

    #[test]
    fn spontaneous_lines_are_set_aside() {
        // As bird 2.0.12 sends after `echo all`: the log line follows the
        // reply; one may also come between a reply's lines.
        let mut p = ReplyParser::new();
        p.push(b"0009-s1: disabled\n+Disabling protocol s1\n0000 \n+Another\n<3 messages lost>\n");
        let r = all(&mut p);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].lines(), [line(9, "s1: disabled"), line(0, "")]);
        assert_eq!(
            p.take_spontaneous(),
            ["Disabling protocol s1", "Another", "<3 messages lost>"]
        );
        assert!(p.take_spontaneous().is_empty());
    }

    #[test]
    fn bad_input_is_a_typed_error() {
        assert_eq!(
            bad(b"00a1 x\n"),
            ParseError::BadCode {
                line: 1,
                start: "00a1 x".to_owned()
            }
        );
        assert!(matches!(bad(b"BIRD\n"), ParseError::BadCode { .. }));
        assert!(matches!(bad(b"00\n"), ParseError::BadCode { .. }));
        assert_eq!(
            bad(b"0001:x\n"),
            ParseError::BadSeparator {
                line: 1,
                code: 1,
                found: ":".to_owned()
            }
        );
        assert!(matches!(
            bad(b"0000\n"),
            ParseError::BadSeparator { code: 0, .. }
        ));
        assert_eq!(bad(b"0000 \n\n"), ParseError::EmptyLine { line: 2 });
        assert_eq!(
            bad(b" s1 Static\n"),
            ParseError::ContinuationWithoutCode { line: 1 }
        );
        // A reply's last line ends what a continuation may continue.
        assert_eq!(
            bad(b"0000 \n more\n"),
            ParseError::ContinuationWithoutCode { line: 2 }
        );
        assert_eq!(
            bad(b"1002-ok\n1002-caf\xe9\n"),
            ParseError::InvalidUtf8 {
                line: 2,
                valid_up_to: 3
            }
        );
        assert!(matches!(
            bad(b"+\xff\n"),
            ParseError::InvalidUtf8 { line: 1, .. }
        ));
    }

    #[test]
    fn a_line_over_the_bound_fails_before_its_newline() {
        let mut long = b"1002-".to_vec();
        long.resize(MAX_LINE + 2, b'x');
        assert_eq!(
            bad(&long),
            ParseError::LineTooLong {
                line: 1,
                limit: MAX_LINE
            }
        );
        long.push(b'\n');
        assert!(matches!(bad(&long), ParseError::LineTooLong { .. }));
        // Exactly at the bound is fine.
        let mut max = b"0000 ".to_vec();
        max.resize(MAX_LINE, b'x');
        max.push(b'\n');
        assert_eq!(one(&max).lines()[0].text.len(), MAX_LINE - 5);
    }

    #[test]
    fn a_reply_over_the_bound_fails() {
        let mut p = ReplyParser::new();
        let row = [b"1002-".as_slice(), &[b'x'; 1019], b"\n"].concat();
        let mut failed = None;
        for _ in 0..=(2 * MAX_REPLY / row.len()) {
            p.push(&row);
            if let Err(e) = p.next_reply() {
                failed = Some(e);
                break;
            }
        }
        assert!(
            matches!(failed, Some(ParseError::ReplyTooLong { .. })),
            "{failed:?}"
        );
    }

    #[test]
    fn protocol_rows() {
        let socket = Path::new("/run/pharos/bird.ctl");
        let ps = protocols_result(&one(SHOW_PROTOCOLS), socket, "show protocols").expect("rows");
        assert_eq!(ps.len(), 3);
        assert_eq!(
            ps[1],
            Protocol {
                name: "s1".into(),
                proto: "Static".into(),
                table: "master4".into(),
                state: "up".into(),
                since: "04:53:16.520".into(),
                info: String::new(),
            }
        );
        assert!(ps[1].is_up());
        assert_eq!(ps[2].name, "up1");
        assert_eq!(ps[2].proto, "BGP");
        assert_eq!(ps[2].table, "---");
        assert_eq!(ps[2].state, "start");
        assert!(!ps[2].is_up());
        assert_eq!(ps[2].info, "Active        Socket: Connection refused");

        let ps =
            protocols_result(&one(SHOW_PROTOCOLS_ISO), socket, "show protocols").expect("rows");
        assert_eq!(ps[0].since, "2026-12-07 04:51:25");
        assert_eq!(ps[1].name, "vip_10_0_0_100_long_name");
        assert_eq!(ps[1].proto, "Static");
        assert_eq!(ps[1].since, "2026-12-07 04:52:36");
        assert_eq!(ps[2].info, "Error: Invalid next hop");

        // Header alone: no protocols.
        let none = one(b"2002-Name       Proto      Table      State  Since         Info\n0000 \n");
        assert_eq!(
            protocols_result(&none, socket, "show protocols").expect("empty"),
            []
        );
        // A row it cannot read, a missing header, an error.
        let short = one(b"2002-h\n1002-s1 Static\n0000 \n");
        assert!(matches!(
            protocols_result(&short, socket, "show protocols"),
            Err(Error::Unexpected { .. })
        ));
        let headless = one(b"0000 \n");
        assert!(matches!(
            protocols_result(&headless, socket, "show protocols"),
            Err(Error::Unexpected { .. })
        ));
        let e = protocols_result(&one(b"8003 No protocols match\n"), socket, "show protocols")
            .expect_err("refused");
        assert_eq!(e.bird_code(), Some(8003));
    }

    #[test]
    fn toggle_replies() {
        let s = Path::new("/run/pharos/bird.ctl");
        let t = |bytes: &[u8]| {
            toggle_result(
                &one(bytes),
                s,
                "disable \"vip_10_0_0_1\"",
                "disable",
                "vip_10_0_0_1",
                code::DISABLED,
                code::ALREADY_DISABLED,
            )
        };
        assert!(t(b"0009-vip_10_0_0_1: disabled\n0000 \n").expect("ok"));
        assert!(!t(b"0008-vip_10_0_0_1: already disabled\n0000 \n").expect("ok"));
        let e = t(b"8003 No protocols match\n").expect_err("missing");
        assert_eq!(
            e.to_string(),
            "cannot disable BIRD protocol vip_10_0_0_1 over /run/pharos/bird.ctl: \
             BIRD said 8003 No protocols match; the rendered config lacks it, reload pharos"
        );
        assert_eq!(e.bird_code(), Some(code::NO_PROTOCOLS_MATCH));
        // An enable's answer to a disable is no answer.
        assert!(matches!(
            t(b"0011-vip_10_0_0_1: enabled\n0000 \n"),
            Err(Error::Unexpected { .. })
        ));
    }

    #[test]
    fn configure_replies() {
        let s = Path::new("/run/pharos/bird.ctl");
        let f = Path::new("/run/pharos/bird.conf");
        let c = |bytes: &[u8]| configure_result(&one(bytes), s, "configure", Some(f));
        let reading = "0002-Reading configuration from /run/pharos/bird.conf\n";
        let with = |end: &str| format!("{reading}{end}\n").into_bytes();
        assert_eq!(
            c(&with("0003 Reconfigured")).expect("ok"),
            Reconfigure::Done
        );
        assert_eq!(
            c(&with("0004 Reconfiguration in progress")).expect("ok"),
            Reconfigure::InProgress
        );
        assert_eq!(
            c(&with(
                "0005 Reconfiguration already in progress, queueing new config"
            ))
            .expect("ok"),
            Reconfigure::Queued
        );
        assert!(matches!(
            c(&with("0006 Reconfiguration ignored, shutting down")),
            Err(Error::Bird { code: 6, .. })
        ));
        let e = c(&with(
            "8002 /run/pharos/bird.conf:2:56 syntax error, unexpected '}'",
        ))
        .expect_err("refused");
        let msg = e.to_string();
        assert!(
            msg.starts_with(
                "cannot load BIRD config /run/pharos/bird.conf over /run/pharos/bird.ctl: \
                 BIRD said 8002 /run/pharos/bird.conf:2:56 syntax error"
            ),
            "{msg}"
        );
        assert!(msg.contains("keeps running its previous config"), "{msg}");
        assert!(matches!(
            c(b"9001 syntax error, unexpected END\n"),
            Err(Error::Bird { code: 9001, .. })
        ));
        assert!(matches!(
            c(&with("0020 Configuration OK")),
            Err(Error::Unexpected { .. })
        ));

        let k = |bytes: &[u8]| check_result(&one(bytes), s, "configure check", Some(f));
        assert!(k(&with("0020 Configuration OK")).is_ok());
        let e = k(&with(
            "8002 /run/pharos/bird.conf: No such file or directory",
        ))
        .expect_err("missing");
        assert!(matches!(e, Error::Config { checking: true, .. }));
        assert!(
            e.to_string()
                .starts_with("cannot check BIRD config /run/pharos/bird.conf")
        );
        assert!(matches!(
            k(&with("0003 Reconfigured")),
            Err(Error::Unexpected { .. })
        ));
    }

    #[test]
    fn what_is_not_sent() {
        assert_eq!(command_problem("show protocols"), None);
        assert!(command_problem("disable \"a\"\nenable \"b\"").is_some());
        assert!(command_problem("show\r").is_some());
        assert!(command_problem("show\0protocols").is_some());
        assert_eq!(command_problem(&"x".repeat(MAX_COMMAND)), None);
        assert!(command_problem(&"x".repeat(MAX_COMMAND + 1)).is_some());

        assert_eq!(name_problem("vip_10_0_0_1"), None);
        for bad in ["", "vip*", "v?p", "a\"b", "a\nb", "a\tb"] {
            assert!(name_problem(bad).is_some(), "{bad:?}");
        }

        assert_eq!(config_arg(None, "x").expect("none"), "");
        assert_eq!(
            config_arg(Some(Path::new("/etc/a b.conf")), "x").expect("ok"),
            " \"/etc/a b.conf\""
        );
        for bad in ["bird.conf", "/etc/a\"b.conf", "/etc/a\nb"] {
            assert!(
                matches!(
                    config_arg(Some(Path::new(bad)), "x"),
                    Err(Error::BadPath { .. })
                ),
                "{bad:?}"
            );
        }
    }

    /// What the fake BIRD does with one command.
    enum Answer {
        Send(&'static [u8]),
        /// Sends this, then hangs up.
        HangUp(&'static [u8]),
    }

    /// A fake BIRD on a socket in a temp dir: it sends `greeting`, then
    /// reads commands and answers each with the next of `answers`; past
    /// them it keeps reading and never answers.
    async fn fake_bird(
        greeting: &'static [u8],
        answers: Vec<Answer>,
    ) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("bird.ctl");
        let listener = tokio::net::UnixListener::bind(&path).expect("bind");
        tokio::spawn(async move {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            if s.write_all(greeting).await.is_err() {
                return;
            }
            let mut answers = answers.into_iter();
            let mut buf = [0u8; 1024];
            loop {
                match s.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => match answers.next() {
                        Some(Answer::Send(a)) => {
                            // A client gone is the end of this fake.
                            let _ = s.write_all(a).await;
                        }
                        Some(Answer::HangUp(a)) => {
                            let _ = s.write_all(a).await;
                            return;
                        }
                        None => {}
                    },
                }
            }
        });
        (dir, path)
    }

    #[tokio::test]
    async fn a_silent_bird_times_out_and_breaks_the_connection() {
        let (_dir, path) = fake_bird(b"0001 BIRD 2.0.12 ready.\n", vec![]).await;
        let mut c = Birdc::connect(&path).await.expect("connects");
        assert_eq!(c.version(), "2.0.12");
        c.set_timeout(Duration::from_millis(200));
        let e = c.command("show protocols").await.expect_err("times out");
        assert!(matches!(e, Error::Timeout { .. }), "{e}");
        let msg = e.to_string();
        assert!(msg.contains("\"show protocols\""), "{msg}");
        assert!(msg.contains(&path.display().to_string()), "{msg}");
        let e = c.command("show protocols").await.expect_err("broken");
        assert!(matches!(e, Error::Broken { .. }), "{e}");
    }

    #[tokio::test]
    async fn a_silent_welcome_times_out() {
        let (_dir, path) = fake_bird(b"", vec![]).await;
        let e = Birdc::connect_with_timeout(&path, Duration::from_millis(200))
            .await
            .expect_err("times out");
        assert!(matches!(e, Error::Timeout { .. }), "{e}");
    }

    #[tokio::test]
    async fn a_wrong_welcome_is_refused() {
        let (_dir, path) = fake_bird(b"220 smtp.example ESMTP\n", vec![]).await;
        let e = Birdc::connect(&path).await.expect_err("not BIRD");
        assert!(matches!(e, Error::Parse { .. }), "{e}");
        let (_dir, path) = fake_bird(b"0000 hello\n", vec![]).await;
        let e = Birdc::connect(&path).await.expect_err("not BIRD");
        assert!(matches!(e, Error::Welcome { .. }), "{e}");
    }

    #[tokio::test]
    async fn a_hang_up_is_closed_and_a_missing_socket_is_connect() {
        let (_dir, path) = fake_bird(
            b"0001 BIRD 2.0.12 ready.\n",
            vec![Answer::HangUp(b"0009-s1: dis")],
        )
        .await;
        let mut c = Birdc::connect(&path).await.expect("connects");
        let e = c.disable("s1").await.expect_err("hung up");
        assert!(matches!(e, Error::Closed { .. }), "{e}");

        let dir = tempfile::tempdir().expect("temp dir");
        let e = Birdc::connect(&dir.path().join("none.ctl"))
            .await
            .expect_err("no socket");
        assert!(matches!(e, Error::Connect { .. }), "{e}");
    }

    #[tokio::test]
    async fn a_refused_command_leaves_the_connection_usable() {
        let (_dir, path) = fake_bird(
            b"0001 BIRD 2.0.12 ready.\n",
            vec![Answer::Send(
                b"0011-s1: enabled\n0000 \n+Enabling protocol s1\n",
            )],
        )
        .await;
        let mut c = Birdc::connect(&path).await.expect("connects");
        let e = c.command("show\nprotocols").await.expect_err("newline");
        assert!(matches!(e, Error::BadCommand { .. }), "{e}");
        let e = c.disable("s*").await.expect_err("wildcard");
        assert!(matches!(e, Error::BadName { .. }), "{e}");
        assert!(c.enable("s1").await.expect("enabled"));
    }
}

//! The tcp checks' connects (keepalived's TCP_CHECK), all in flight at once
//! on one epoll set of the check thread's own, as keepalived's checker
//! keeps them on its one epoll loop.
//!
//! Owns the sockets of the connects started and not yet answered, and their
//! deadlines. The check task ([`super::task`]) starts a connect for each
//! tcp check due, waits on [`Connects::ready`] beside its other work, and
//! gets each answer (or timeout) back as a result with the target's id.
//!
//! Why not a tokio `TcpSocket` per attempt, as the other probes: each one
//! is registered with the runtime's reactor (a cache-aligned allocation)
//! and released again, carries a tokio timer for its timeout, and is a
//! future polled through the task's `FuturesUnordered`: with them the
//! check thread ran about 10,000 instructions of user space a check
//! (callgrind; about 4,800 with this and the task loop's own changes), and
//! under QEMU's emulation a check cost 1.7x keepalived's CPU. Here an attempt is a
//! socket, a connect, one `epoll_ctl` and, when it is answered, a
//! `getsockopt` and a close (which leaves the set by itself); the set's own
//! fd is what the reactor watches, and the deadlines are one ordered set
//! the task's timer is set from.

use std::collections::BTreeSet;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, Instant};

use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::unix::AsyncFd;

use super::probe::tcp;
use super::probe::{Failure, Outcome, io_reason, timed_out};

/// One answered (or timed out) connect: the target's id, the outcome, how
/// long it took.
pub(crate) type Answer = (u64, Outcome, Duration);

/// The epoll set, for the reactor to watch.
struct Set(Epoll);

impl AsRawFd for Set {
    fn as_raw_fd(&self) -> RawFd {
        self.0.0.as_raw_fd()
    }
}

/// The set, registered with the current runtime's reactor (readable: it
/// has connects answered).
#[allow(unsafe_code)]
fn watched(set: Set) -> io::Result<AsyncFd<Set>> {
    // SAFETY: tokio asks that the fd stay open and the same for as long as
    // the AsyncFd lives: the AsyncFd owns `Set`, which owns the epoll's
    // OwnedFd (closed only when `Set` is dropped, with the AsyncFd), and
    // `as_raw_fd` returns that one fd every time.
    unsafe { AsyncFd::register_with_interest(set, tokio::io::Interest::READABLE) }
        .map_err(|e| e.into_parts().1)
}

struct InFlight {
    sock: Socket,
    start: Instant,
    deadline: Instant,
    budget: Duration,
}

pub(crate) struct Connects {
    set: AsyncFd<Set>,
    open: foldhash::HashMap<u64, InFlight>,
    deadlines: BTreeSet<(Instant, u64)>,
}

impl Connects {
    /// An empty set, watched by the current runtime's reactor.
    pub(crate) fn new() -> io::Result<Connects> {
        let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?;
        Ok(Connects {
            set: watched(Set(epoll))?,
            open: foldhash::HashMap::default(),
            deadlines: BTreeSet::new(),
        })
    }

    /// Connects in flight (each holds a socket).
    pub(crate) fn len(&self) -> usize {
        self.open.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.open.is_empty()
    }

    /// When the earliest connect in flight times out.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.first().map(|&(at, _)| at)
    }

    /// Starts a connect to `target` (from `bind`, if set) for target `id`,
    /// bounded by `timeout`. An answer known at once (a socket that cannot
    /// be made, an address that is not this host's, no route) is returned
    /// now; the rest come from [`Connects::answered`] or
    /// [`Connects::expire`].
    pub(crate) fn start(
        &mut self,
        id: u64,
        target: SocketAddr,
        bind: Option<IpAddr>,
        timeout: Duration,
        now: Instant,
    ) -> Option<Answer> {
        let failed = |f: Failure| Some((id, Err(f), now.elapsed()));
        let sock = match Socket::new(
            Domain::for_address(target),
            Type::STREAM.nonblocking().cloexec(),
            Some(Protocol::TCP),
        ) {
            Ok(s) => s,
            Err(e) => return failed(tcp::socket_failure(&e)),
        };
        if let Some(ip) = bind
            && let Err(e) = sock.bind(&SocketAddr::new(ip, 0).into())
        {
            return failed(tcp::bind_failure(ip, &e));
        }
        match sock.connect(&target.into()) {
            // Connected at once: passed; closed as it goes.
            Ok(()) => return Some((id, Ok(()), now.elapsed())),
            Err(e) if e.raw_os_error() == Some(nix::libc::EINPROGRESS) => {}
            Err(e) => return failed(Failure::new(io_reason(&e))),
        }
        // One-shot: reported once, then closed; level-triggered without it
        // would report it again at every wait until then.
        let watch = EpollEvent::new(EpollFlags::EPOLLOUT | EpollFlags::EPOLLONESHOT, id);
        if let Err(e) = self.set.get_ref().0.add(&sock, watch) {
            return failed(Failure::new(format!(
                "cannot watch the connect (epoll): {}",
                io_reason(&io::Error::from(e))
            )));
        }
        let deadline = now + timeout;
        self.deadlines.insert((deadline, id));
        self.open.insert(
            id,
            InFlight {
                sock,
                start: now,
                deadline,
                budget: timeout,
            },
        );
        None
    }

    /// Waits until connects have been answered and returns their ids, to
    /// be handed to [`Connects::answered`]. Cancel-safe: an id taken here is
    /// in what is returned.
    pub(crate) async fn ready(&self) -> Vec<u64> {
        let Ok(mut guard) = self.set.readable().await else {
            // The reactor is gone: the runtime is shutting down.
            return std::future::pending().await;
        };
        let mut ids = Vec::new();
        let mut events = [EpollEvent::empty(); 64];
        loop {
            match self.set.get_ref().0.wait(&mut events, 0u8) {
                Ok(n) => {
                    ids.extend(events[..n].iter().map(EpollEvent::data));
                    if n < events.len() {
                        break;
                    }
                }
                Err(nix::errno::Errno::EINTR) => {}
                Err(_) => break,
            }
        }
        // All taken: tokio keeps the set ready if it was woken again since.
        guard.clear_ready();
        ids
    }

    /// The answers of connects [`Connects::ready`] returned: connected is a
    /// pass, anything else fails with the socket's error ("connection
    /// refused", "host unreachable").
    pub(crate) fn answered(&mut self, ids: &[u64], now: Instant, out: &mut Vec<Answer>) {
        for &id in ids {
            let Some(c) = self.open.remove(&id) else {
                continue;
            };
            self.deadlines.remove(&(c.deadline, id));
            let outcome = match c.sock.take_error() {
                Ok(None) => Ok(()),
                Ok(Some(e)) | Err(e) => Err(Failure::new(io_reason(&e))),
            };
            // Dropping the socket closes it, which takes it out of the set.
            out.push((id, outcome, now.saturating_duration_since(c.start)));
        }
    }

    /// Connects past their deadline by `now`: closed, each a failure
    /// "timed out after N ms connecting".
    pub(crate) fn expire(&mut self, now: Instant, out: &mut Vec<Answer>) {
        while let Some(&(at, id)) = self.deadlines.first() {
            if at > now {
                break;
            }
            self.deadlines.pop_first();
            if let Some(c) = self.open.remove(&id) {
                out.push((
                    id,
                    Err(timed_out(c.budget, "connecting")),
                    now.saturating_duration_since(c.start),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LONG: Duration = Duration::from_secs(10);

    /// Starts a connect and waits for its answer (or its deadline).
    async fn answer(target: SocketAddr, bind: Option<IpAddr>, timeout: Duration) -> Answer {
        let mut c = Connects::new().unwrap();
        if let Some(a) = c.start(7, target, bind, timeout, Instant::now()) {
            return a;
        }
        assert_eq!(c.len(), 1);
        let mut out = Vec::new();
        let until = c.next_deadline().unwrap();
        tokio::select! {
            ids = c.ready() => c.answered(&ids, Instant::now(), &mut out),
            () = tokio::time::sleep_until(until.into()) => c.expire(Instant::now(), &mut out),
        }
        assert!(c.is_empty(), "an answer leaves nothing in flight");
        assert_eq!(c.next_deadline(), None);
        out.pop().expect("one answer")
    }

    #[tokio::test]
    async fn a_listener_passes_and_a_closed_port_is_refused() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let (id, out, _) = answer(l.local_addr().unwrap(), None, LONG).await;
        assert_eq!((id, out), (7, Ok(())));
        let l6 = std::net::TcpListener::bind("[::1]:0").unwrap();
        let from = Some("::1".parse().unwrap());
        assert_eq!(answer(l6.local_addr().unwrap(), from, LONG).await.1, Ok(()));
        let closed = l.local_addr().unwrap();
        drop(l);
        let (_, out, _) = answer(closed, None, LONG).await;
        assert_eq!(out.unwrap_err().reason, "connection refused");
    }

    #[tokio::test]
    async fn a_connect_nobody_answers_times_out() {
        // A listener whose queue is full drops further SYNs: the connect
        // hangs, on loopback.
        let sock = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        sock.bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
            .unwrap();
        sock.listen(0).unwrap();
        let at = sock.local_addr().unwrap().as_socket().unwrap();
        let mut held = Vec::new();
        for _ in 0..4 {
            let s = Socket::new(Domain::IPV4, Type::STREAM.nonblocking(), None).unwrap();
            let _ = s.connect(&at.into());
            held.push(s);
        }
        let (_, out, took) = answer(at, None, Duration::from_millis(300)).await;
        assert_eq!(out.unwrap_err().reason, "timed out after 300 ms connecting");
        assert!(took >= Duration::from_millis(300), "{took:?}");
    }

    #[tokio::test]
    async fn a_bind_to_address_not_of_this_host_fails_at_once() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut c = Connects::new().unwrap();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let (_, out, _) = c
            .start(1, l.local_addr().unwrap(), Some(ip), LONG, Instant::now())
            .expect("an answer at once");
        let reason = out.unwrap_err().reason;
        assert!(
            reason.starts_with("cannot bind to 192.0.2.1 (`bind_to`): address not available"),
            "{reason}"
        );
        assert!(c.is_empty());
    }
}

//! What to do with an offset, and when and whom to ask next: sans IO, so
//! every rule is a unit test.
//!
//! The rule (an SNTP client's share of ntpd's, RFC 5905 §10 and §11.3):
//! - the first answer after start steps the clock, whatever the offset: a
//!   box whose RTC is years off must not take years to slew back;
//! - after that an offset within the step threshold (ntpd's STEPT, 128 ms)
//!   is slewed: the kernel runs the clock up to 500 ppm faster or slower
//!   until it is right, so time never jumps and never runs backwards;
//! - an offset past it is stepped only when the next answer says so too:
//!   one late or bad answer does not jump the clock (ntpd waits out its
//!   stepout for the same reason).
//!
//! Polling: every `poll` once in sync; a server that does not answer is
//! asked again after 2 s, then 4 s, doubling up to `poll` (RFC 4330 §10's
//! backoff), and the next server is tried. A Kiss-o'-Death RATE doubles the
//! poll (up to 16 times it); DENY or RSTR take the server out of the list
//! until the next reload (RFC 4330 §8: the client MUST stop sending to it).

use std::net::SocketAddr;
use std::time::Duration;

/// What to do with the clock after an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Set the clock: add this many microseconds to it.
    Step(i64),
    /// Slew it by this many microseconds.
    Slew(i64),
    /// Past the threshold once: wait for the next answer before stepping.
    Hold(i64),
}

/// Step or slew, from the offsets measured one after another.
#[derive(Debug, Clone)]
pub struct Discipline {
    threshold_us: i64,
    synced: bool,
    past_once: bool,
}

impl Discipline {
    pub fn new(threshold: Duration) -> Discipline {
        Discipline {
            threshold_us: i64::try_from(threshold.as_micros()).unwrap_or(i64::MAX),
            synced: false,
            past_once: false,
        }
    }

    pub fn set_threshold(&mut self, threshold: Duration) {
        self.threshold_us = i64::try_from(threshold.as_micros()).unwrap_or(i64::MAX);
    }

    /// Whether the clock has been set since start.
    pub fn synced(&self) -> bool {
        self.synced
    }

    /// The clock could not be set: the next answer steps it again.
    pub fn step_failed(&mut self) {
        self.synced = false;
    }

    /// An answer's offset (server minus us, in microseconds).
    pub fn offset(&mut self, offset_us: i64) -> Action {
        if !self.synced {
            self.synced = true;
            self.past_once = false;
            return Action::Step(offset_us);
        }
        if offset_us.unsigned_abs() <= self.threshold_us.unsigned_abs() {
            self.past_once = false;
            return Action::Slew(offset_us);
        }
        if self.past_once {
            self.past_once = false;
            Action::Step(offset_us)
        } else {
            self.past_once = true;
            Action::Hold(offset_us)
        }
    }
}

/// Why an exchange gave no offset, as far as whom to ask next is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// No answer, or a bad one: try the next server, backing off.
    Other,
    /// Kiss-o'-Death RATE: ask less often.
    Rate,
    /// Kiss-o'-Death DENY or RSTR: never ask this server again.
    Deny,
}

/// The most a RATE kiss stretches the poll to, as a multiple of it.
const RATE_CAP: u32 = 16;
/// The first retry after a failure.
const RETRY: Duration = Duration::from_secs(2);

/// Whom to ask next and when.
#[derive(Debug, Clone)]
pub struct Schedule {
    servers: Vec<SocketAddr>,
    denied: Vec<bool>,
    current: usize,
    poll: Duration,
    stretch: u32,
    failures: u32,
}

impl Schedule {
    pub fn new(servers: Vec<SocketAddr>, poll: Duration) -> Schedule {
        Schedule {
            denied: vec![false; servers.len()],
            servers,
            current: 0,
            poll,
            stretch: 1,
            failures: 0,
        }
    }

    /// The server to ask now; `None` when every one has refused us.
    pub fn server(&self) -> Option<SocketAddr> {
        (!self.denied[self.current]).then(|| self.servers[self.current])
    }

    /// An answer came: ask the same server again after the poll.
    pub fn answered(&mut self) -> Duration {
        self.failures = 0;
        self.poll * self.stretch
    }

    /// No offset came; returns how long to wait before asking again.
    pub fn failed(&mut self, why: Failure) -> Duration {
        match why {
            Failure::Rate => self.stretch = (self.stretch * 2).min(RATE_CAP),
            Failure::Deny => self.denied[self.current] = true,
            Failure::Other => {}
        }
        // The next server that has not refused us, this one last.
        let n = self.servers.len();
        if let Some(next) = (1..=n)
            .map(|k| (self.current + k) % n)
            .find(|&i| !self.denied[i])
        {
            self.current = next;
        }
        let backoff = RETRY
            .checked_mul(1 << self.failures.min(16))
            .unwrap_or(Duration::MAX);
        self.failures += 1;
        backoff.min(self.poll * self.stretch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_answer_steps_whatever_the_offset_then_small_offsets_slew() {
        let mut d = Discipline::new(Duration::from_millis(128));
        assert!(!d.synced());
        // The RTC at 2001-01-01 on a box in 2026: 25 years off.
        assert_eq!(
            d.offset(788_918_400_000_000),
            Action::Step(788_918_400_000_000)
        );
        assert!(d.synced());
        assert_eq!(d.offset(-3_000), Action::Slew(-3_000));
        assert_eq!(d.offset(128_000), Action::Slew(128_000));
        assert_eq!(d.offset(-128_000), Action::Slew(-128_000));
    }

    #[test]
    fn a_small_first_offset_is_stepped_too() {
        let mut d = Discipline::new(Duration::from_millis(128));
        assert_eq!(d.offset(5), Action::Step(5));
        // A step the kernel refused is tried again at the next answer.
        d.step_failed();
        assert_eq!(d.offset(400_000), Action::Step(400_000));
        assert_eq!(d.offset(400_000), Action::Hold(400_000));
    }

    #[test]
    fn a_later_offset_past_the_threshold_steps_only_when_the_next_answer_agrees() {
        let mut d = Discipline::new(Duration::from_millis(128));
        d.offset(0);
        // One late answer: held, not stepped.
        assert_eq!(d.offset(400_000), Action::Hold(400_000));
        // The next is fine again: slewed, and the spike is forgotten.
        assert_eq!(d.offset(1_000), Action::Slew(1_000));
        assert_eq!(d.offset(-700_000), Action::Hold(-700_000));
        // Two in a row: the clock really is off (stepped by hand, say).
        assert_eq!(d.offset(-650_000), Action::Step(-650_000));
        assert_eq!(d.offset(200), Action::Slew(200));
    }

    fn addrs(n: u8) -> Vec<SocketAddr> {
        (1..=n)
            .map(|i| SocketAddr::from(([10, 0, 0, i], 123)))
            .collect()
    }

    #[test]
    fn failures_back_off_from_two_seconds_to_the_poll_and_move_to_the_next_server() {
        let mut s = Schedule::new(addrs(2), Duration::from_secs(64));
        assert_eq!(s.server(), Some(addrs(2)[0]));
        let waits: Vec<u64> = (0..7).map(|_| s.failed(Failure::Other).as_secs()).collect();
        assert_eq!(waits, [2, 4, 8, 16, 32, 64, 64]);
        // Seven failures, alternating: the second server is asked now.
        assert_eq!(s.server(), Some(addrs(2)[1]));
        assert_eq!(s.answered(), Duration::from_secs(64));
        // An answer resets the backoff.
        assert_eq!(s.failed(Failure::Other), Duration::from_secs(2));
    }

    #[test]
    fn a_rate_kiss_stretches_the_poll_and_deny_drops_the_server_for_good() {
        let mut s = Schedule::new(addrs(2), Duration::from_secs(64));
        s.failed(Failure::Rate);
        assert_eq!(s.answered(), Duration::from_secs(128));
        for _ in 0..10 {
            s.failed(Failure::Rate);
        }
        assert_eq!(s.answered(), Duration::from_secs(64 * 16));
        // The server asked now says DENY.
        let first = s.server().unwrap();
        s.failed(Failure::Deny);
        for _ in 0..5 {
            assert_ne!(s.server(), Some(first));
            s.failed(Failure::Other);
        }
        // The other says DENY too: nobody is left to ask.
        s.failed(Failure::Deny);
        assert_eq!(s.server(), None);
    }
}

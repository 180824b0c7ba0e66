//! Health bookkeeping, sans IO: each target's attempts, retries and
//! rise/fall ([`Target`]), and each service's quorum with hysteresis
//! ([`Quorum`]). The check task feeds them `(now, outcome)` and acts on the
//! transitions they return; the tests below drive them with virtual time.
//!
//! Rules (keepalived's, minus its known pain): a target starts DOWN and
//! comes up only after `rise` passes in a row, so a real server is never
//! put in service before it has been checked; a failed attempt is retried
//! `retries` times, `retry_delay` apart, before it counts as one failure;
//! `fall` counted failures in a row take an up target down.

use std::time::{Duration, Instant};

/// How a check is timed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    pub interval: Duration,
    pub retries: u32,
    pub retry_delay: Duration,
    pub rise: u32,
    pub fall: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Up,
    Down,
}

/// One target of one check.
#[derive(Debug, Clone)]
pub struct Target {
    timing: Timing,
    up: bool,
    /// Counted passes / failures in a row (a retried attempt is not counted).
    passes: u32,
    fails: u32,
    /// Retries used in the current round.
    attempt: u32,
    next: Instant,
    /// When the current round was due: rounds keep a fixed rate (the next
    /// is `interval` after this, not after the attempt ended), so a slow
    /// answer does not stretch "every second" into "every 1.05 s".
    round: Instant,
    checks: u64,
    last: Option<Result<(), String>>,
}

impl Target {
    /// A target first checked at `first` (the caller spreads these over
    /// the interval so thousands of checks do not fire at once).
    pub fn new(timing: Timing, first: Instant) -> Target {
        Target {
            timing,
            up: false,
            passes: 0,
            fails: 0,
            attempt: 0,
            next: first,
            round: first,
            checks: 0,
            last: None,
        }
    }

    /// A target that a restarted check task finds up on the board (the
    /// task before it panicked): it stays up until `fall` failures, as it
    /// would have, rather than starting down and taking the server out of
    /// rotation until `rise` passes.
    pub fn resumed_up(timing: Timing, first: Instant) -> Target {
        Target {
            up: true,
            ..Target::new(timing, first)
        }
    }

    pub fn due(&self) -> Instant {
        self.next
    }
    pub fn is_up(&self) -> bool {
        self.up
    }
    pub fn passes(&self) -> u32 {
        self.passes
    }
    pub fn fails(&self) -> u32 {
        self.fails
    }
    pub fn attempt(&self) -> u32 {
        self.attempt
    }
    pub fn checks(&self) -> u64 {
        self.checks
    }
    pub fn last(&self) -> Option<&Result<(), String>> {
        self.last.as_ref()
    }
    pub fn timing(&self) -> Timing {
        self.timing
    }

    /// The next round is `interval` after this one was due; if that has
    /// passed already (a long retry sequence), right away.
    fn next_round(&mut self, now: Instant) {
        let next = self.round + self.timing.interval;
        self.next = if next > now { next } else { now };
        self.round = self.next;
    }

    /// The outcome of the attempt that was due; sets the next due time and
    /// returns the transition, if any.
    pub fn record(&mut self, now: Instant, outcome: Result<(), String>) -> Option<Transition> {
        self.checks += 1;
        let t = self.timing;
        let ok = outcome.is_ok();
        self.last = Some(outcome);
        if ok {
            self.attempt = 0;
            self.fails = 0;
            self.passes = self.passes.saturating_add(1);
            self.next_round(now);
            if !self.up && self.passes >= t.rise.max(1) {
                self.up = true;
                return Some(Transition::Up);
            }
            return None;
        }
        if self.attempt < t.retries {
            self.attempt += 1;
            self.next = now + t.retry_delay;
            return None;
        }
        self.attempt = 0;
        self.passes = 0;
        self.fails = self.fails.saturating_add(1);
        self.next_round(now);
        if self.up && self.fails >= t.fall.max(1) {
            self.up = false;
            return Some(Transition::Down);
        }
        None
    }
}

/// A service's quorum with hysteresis: up once the up real servers'
/// weights reach `quorum + hysteresis`, down again only below
/// `quorum − hysteresis`, so one flapping server does not flap the service.
/// Starts down (nothing has been checked yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quorum {
    quorum: u32,
    hysteresis: u32,
    up: bool,
}

impl Quorum {
    pub fn new(quorum: u32, hysteresis: u32) -> Quorum {
        Quorum {
            quorum,
            hysteresis,
            up: false,
        }
    }

    pub fn is_up(&self) -> bool {
        self.up
    }

    /// A quorum that a restarted check task finds on the board, in the
    /// state it was.
    pub fn resumed(quorum: u32, hysteresis: u32, up: bool) -> Quorum {
        Quorum {
            up,
            ..Quorum::new(quorum, hysteresis)
        }
    }

    /// A reload's new quorum or hysteresis: the state stays (the next
    /// [`Quorum::update`] says whether it still holds), so a reload that
    /// changes a weight does not make a service lose its quorum and find it
    /// again.
    pub fn retune(&mut self, quorum: u32, hysteresis: u32) {
        self.quorum = quorum;
        self.hysteresis = hysteresis;
    }

    /// The up servers' weights now; returns the new state when it changed.
    pub fn update(&mut self, alive_weight: u64) -> Option<bool> {
        let q = u64::from(self.quorum);
        let h = u64::from(self.hysteresis);
        let next = if self.up {
            alive_weight >= q.saturating_sub(h)
        } else {
            alive_weight >= q + h
        };
        (next != self.up).then(|| {
            self.up = next;
            next
        })
    }
}

/// Where in `[0, interval)` a check first fires: a stable spread by key
/// (FNV-1a), so a restart does not bunch them up and the same check keeps
/// its slot.
pub fn spread(key: &str, interval: Duration) -> Duration {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let nanos = u64::try_from(interval.as_nanos())
        .unwrap_or(u64::MAX)
        .max(1);
    Duration::from_nanos(h % nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    fn timing(retries: u32, rise: u32, fall: u32) -> Timing {
        Timing {
            interval: 5 * S,
            retries,
            retry_delay: S,
            rise,
            fall,
        }
    }

    fn fail() -> Result<(), String> {
        Err("connection refused".into())
    }

    #[test]
    fn starts_down_and_needs_rise_passes() {
        let t0 = Instant::now();
        let mut t = Target::new(timing(0, 3, 1), t0);
        assert!(!t.is_up(), "down until checked");
        assert_eq!(t.record(t0, Ok(())), None);
        assert_eq!(t.record(t0 + 5 * S, Ok(())), None);
        assert_eq!(t.record(t0 + 10 * S, Ok(())), Some(Transition::Up));
        assert_eq!(t.due(), t0 + 15 * S);
        assert_eq!(
            t.record(t0 + 15 * S, Ok(())),
            None,
            "events on transitions only"
        );
    }

    #[test]
    fn a_resumed_target_is_up_until_fall_failures_and_a_resumed_quorum_keeps_its_state() {
        let t0 = Instant::now();
        let mut t = Target::resumed_up(timing(0, 3, 2), t0);
        assert!(t.is_up(), "as the task before it left it");
        assert_eq!(t.record(t0, Ok(())), None, "no event: nothing changed");
        assert_eq!(t.record(t0 + 5 * S, fail()), None);
        assert_eq!(t.record(t0 + 10 * S, fail()), Some(Transition::Down));
        let mut q = Quorum::resumed(2, 1, true);
        assert!(q.is_up());
        assert_eq!(
            q.update(1),
            None,
            "held: down only below quorum - hysteresis"
        );
        assert!(!Quorum::resumed(2, 1, false).is_up());
    }

    #[test]
    fn rounds_keep_a_fixed_rate_whatever_the_answer_time() {
        let t0 = Instant::now();
        let mut t = Target::new(timing(0, 1, 1), t0);
        // Answers take 300 ms; rounds stay 5 s apart.
        t.record(t0 + 300 * Duration::from_millis(1), Ok(()));
        assert_eq!(t.due(), t0 + 5 * S);
        t.record(t0 + 5 * S + 300 * Duration::from_millis(1), Ok(()));
        assert_eq!(t.due(), t0 + 10 * S);
        // A round that ended after the next was due: run at once.
        t.record(t0 + 16 * S, Ok(()));
        assert_eq!(t.due(), t0 + 16 * S);
        t.record(t0 + 16 * S, Ok(()));
        assert_eq!(t.due(), t0 + 21 * S);
    }

    #[test]
    fn a_failure_resets_the_rise_count() {
        let t0 = Instant::now();
        let mut t = Target::new(timing(0, 2, 1), t0);
        t.record(t0, Ok(()));
        t.record(t0, fail());
        assert_eq!(t.record(t0, Ok(())), None, "rise starts again");
        assert_eq!(t.record(t0, Ok(())), Some(Transition::Up));
    }

    #[test]
    fn retries_come_retry_delay_apart_before_a_failure_counts() {
        let t0 = Instant::now();
        let mut t = Target::new(timing(2, 1, 1), t0);
        t.record(t0, Ok(()));
        assert!(t.is_up());
        let t1 = t0 + 5 * S;
        assert_eq!(t.record(t1, fail()), None);
        assert_eq!(t.due(), t1 + S, "retry after retry_delay");
        assert_eq!(t.record(t1 + S, fail()), None);
        assert_eq!(t.due(), t1 + 2 * S);
        assert_eq!(t.record(t1 + 2 * S, fail()), Some(Transition::Down));
        assert_eq!(t.due(), t1 + 5 * S, "the next round keeps the fixed rate");
        // A pass during the retries ends the round without a failure.
        let mut u = Target::new(timing(2, 1, 1), t0);
        u.record(t0, Ok(()));
        u.record(t1, fail());
        assert_eq!(u.record(t1 + S, Ok(())), None);
        assert!(u.is_up());
        assert_eq!(u.fails(), 0);
    }

    #[test]
    fn fall_counts_failures_in_a_row() {
        let t0 = Instant::now();
        let mut t = Target::new(timing(0, 1, 3), t0);
        t.record(t0, Ok(()));
        assert_eq!(t.record(t0, fail()), None);
        assert_eq!(t.record(t0, fail()), None);
        assert_eq!(t.record(t0, Ok(())), None, "a pass resets fall");
        assert_eq!(t.record(t0, fail()), None);
        assert_eq!(t.record(t0, fail()), None);
        assert_eq!(t.record(t0, fail()), Some(Transition::Down));
        assert_eq!(t.record(t0, fail()), None, "already down");
    }

    #[test]
    fn a_flapping_server_with_rise_and_fall_does_not_flap() {
        let t0 = Instant::now();
        let mut t = Target::new(timing(0, 2, 2), t0);
        t.record(t0, Ok(()));
        t.record(t0, Ok(()));
        assert!(t.is_up());
        let mut changes = 0;
        for i in 0..20 {
            let o = if i % 2 == 0 { fail() } else { Ok(()) };
            changes += usize::from(t.record(t0, o).is_some());
        }
        assert_eq!(changes, 0);
        assert!(t.is_up());
    }

    #[test]
    fn a_server_that_recovers_comes_back() {
        let t0 = Instant::now();
        let mut t = Target::new(timing(0, 1, 1), t0);
        assert_eq!(t.record(t0, Ok(())), Some(Transition::Up));
        assert_eq!(t.record(t0, fail()), Some(Transition::Down));
        assert_eq!(t.record(t0, Ok(())), Some(Transition::Up));
        assert_eq!(t.last(), Some(&Ok(())));
    }

    #[test]
    fn quorum_with_hysteresis() {
        let mut q = Quorum::new(3, 1);
        assert!(!q.is_up());
        assert_eq!(q.update(3), None, "needs quorum + hysteresis to come up");
        assert_eq!(q.update(4), Some(true));
        assert_eq!(q.update(2), None, "stays up down to quorum - hysteresis");
        assert_eq!(q.update(1), Some(false));
        assert_eq!(q.update(3), None);
        assert_eq!(q.update(4), Some(true));
        let mut plain = Quorum::new(1, 0);
        assert_eq!(plain.update(0), None);
        assert_eq!(plain.update(1), Some(true));
        assert_eq!(plain.update(0), Some(false));
    }

    #[test]
    fn spread_is_stable_and_within_the_interval() {
        let i = Duration::from_secs(1);
        let a = spread("web/10.0.0.1:80", i);
        assert_eq!(a, spread("web/10.0.0.1:80", i));
        assert!(a < i);
        // 10,000 keys land all over the interval, not in one bunch.
        let mut buckets = [0u32; 10];
        for n in 0..10_000 {
            let d = spread(&format!("svc/10.{}.{}.1:80", n / 256, n % 256), i);
            buckets[usize::try_from(d.as_millis() / 100).unwrap()] += 1;
        }
        assert!(
            buckets.iter().all(|&b| (700..1300).contains(&b)),
            "{buckets:?}"
        );
    }
}

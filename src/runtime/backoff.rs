//! When to restart a task that stopped: exponential backoff with jitter up
//! to a cap, reset after the task has run well for a while, and give up
//! (state Failed) after too many failures in a row.
//!
//! Sans-IO: takes `(now, outcome)` and returns a decision; the supervisor
//! owns the clock and the timers. Jitter is drawn by the caller and passed
//! in, so tests are deterministic.

use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Delay before the first restart.
    pub base: Duration,
    /// Delays never grow beyond this.
    pub cap: Duration,
    /// A task that ran this long before stopping counts as having worked:
    /// its delay starts again from `base`.
    pub stable_after: Duration,
    /// After this many failures in a row, stop restarting.
    pub max_failures: u32,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            base: Duration::from_millis(200),
            cap: Duration::from_secs(30),
            stable_after: Duration::from_secs(60),
            max_failures: 10,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Start it again after this delay.
    RestartAfter(Duration),
    /// Too many failures in a row: leave it stopped and report it failed.
    GiveUp,
}

/// Restart bookkeeping for one task.
#[derive(Debug, Clone)]
pub struct Backoff {
    policy: Policy,
    started: Option<Instant>,
    failures_in_row: u32,
    /// Restarts since the process started, for status and metrics.
    pub restarts: u64,
}

impl Backoff {
    pub fn new(policy: Policy) -> Self {
        Backoff {
            policy,
            started: None,
            failures_in_row: 0,
            restarts: 0,
        }
    }

    pub fn on_start(&mut self, now: Instant) {
        self.started = Some(now);
    }

    /// The task stopped by failing (an error or a panic) at `now`.
    /// `jitter` in [0, 1) spreads restarts of tasks that failed together.
    pub fn on_failure(&mut self, now: Instant, jitter: f64) -> Decision {
        let ran = self
            .started
            .map_or(Duration::ZERO, |s| now.saturating_duration_since(s));
        if ran >= self.policy.stable_after {
            self.failures_in_row = 0;
        }
        self.failures_in_row += 1;
        if self.failures_in_row > self.policy.max_failures {
            return Decision::GiveUp;
        }
        self.restarts += 1;
        // base * 2^(n-1), capped; then up to +50% jitter, still capped.
        let exp = self.failures_in_row.saturating_sub(1).min(30);
        let delay = self
            .policy
            .base
            .saturating_mul(1u32 << exp)
            .min(self.policy.cap);
        let jittered = delay
            .mul_f64(1.0 + 0.5 * jitter.clamp(0.0, 1.0))
            .min(self.policy.cap);
        Decision::RestartAfter(jittered)
    }

    pub fn failures_in_row(&self) -> u32 {
        self.failures_in_row
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(2),
            stable_after: Duration::from_secs(10),
            max_failures: 6,
        }
    }

    #[test]
    fn delays_double_up_to_the_cap_then_the_task_is_given_up() {
        let mut b = Backoff::new(policy());
        let t0 = Instant::now();
        let mut delays = Vec::new();
        for i in 0..7 {
            b.on_start(t0 + Duration::from_millis(i));
            delays.push(b.on_failure(t0 + Duration::from_millis(i + 1), 0.0));
        }
        let ms = |d: u64| Decision::RestartAfter(Duration::from_millis(d));
        assert_eq!(
            delays,
            vec![
                ms(100),
                ms(200),
                ms(400),
                ms(800),
                ms(1600),
                ms(2000),
                Decision::GiveUp
            ]
        );
        assert_eq!(b.restarts, 6);
    }

    #[test]
    fn jitter_adds_at_most_half_and_never_passes_the_cap() {
        let mut b = Backoff::new(policy());
        let t0 = Instant::now();
        b.on_start(t0);
        assert_eq!(
            b.on_failure(t0, 0.999_999),
            Decision::RestartAfter(Duration::from_millis(100).mul_f64(1.499_999_5))
        );
        for _ in 0..4 {
            b.on_start(t0);
            b.on_failure(t0, 0.0);
        }
        b.on_start(t0);
        assert_eq!(
            b.on_failure(t0, 1.0),
            Decision::RestartAfter(Duration::from_secs(2))
        );
    }

    #[test]
    fn a_task_that_ran_long_enough_starts_over_from_the_base_delay() {
        let mut b = Backoff::new(policy());
        let t0 = Instant::now();
        for _ in 0..3 {
            b.on_start(t0);
            b.on_failure(t0, 0.0);
        }
        assert_eq!(b.failures_in_row(), 3);
        b.on_start(t0);
        let d = b.on_failure(t0 + Duration::from_secs(11), 0.0);
        assert_eq!(d, Decision::RestartAfter(Duration::from_millis(100)));
        assert_eq!(b.failures_in_row(), 1);
    }
}

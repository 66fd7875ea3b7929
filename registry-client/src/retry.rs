//! Exponential backoff with jitter, bounded in attempts and in total time.

use std::time::{Duration, Instant};

use rand::Rng;

/// How often and how long to retry temporary failures.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts in total, the first one included.
    pub max_attempts: u32,
    /// Delay before the first retry; doubles each time.
    pub initial_delay: Duration,
    /// Cap for one delay (also caps a registry's `Retry-After`).
    pub max_delay: Duration,
    /// No retry starts after this much time since the first attempt.
    pub max_elapsed: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 8,
            initial_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(10),
            max_elapsed: Duration::from_secs(300),
        }
    }
}

/// The retry state of one operation.
#[derive(Debug)]
pub struct Backoff<'a> {
    policy: &'a RetryPolicy,
    attempt: u32,
    started: Instant,
}

impl RetryPolicy {
    /// Starts counting attempts for one operation.
    pub fn start(&self) -> Backoff<'_> {
        Backoff {
            policy: self,
            attempt: 0,
            started: Instant::now(),
        }
    }

    /// The delay before retry number `attempt` (0-based): `initial * 2^attempt`, capped,
    /// then scaled by a random factor in [0.5, 1.0) so that clients do not retry in step.
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(after) = retry_after {
            return after.min(self.max_delay);
        }
        let exp = self.initial_delay.saturating_mul(1u32 << attempt.min(20));
        let capped = exp.min(self.max_delay);
        capped.mul_f64(rand::rng().random_range(0.5..1.0))
    }
}

impl Backoff<'_> {
    /// After a temporary failure: the delay to wait before the next attempt, or `None`
    /// when the attempts or the time budget are spent.
    pub fn next_delay(&mut self, retry_after: Option<Duration>) -> Option<Duration> {
        self.attempt += 1;
        if self.attempt >= self.policy.max_attempts {
            return None;
        }
        let delay = self.policy.delay(self.attempt - 1, retry_after);
        (self.started.elapsed() + delay <= self.policy.max_elapsed).then_some(delay)
    }

    /// Attempts made so far.
    pub fn attempts(&self) -> u32 {
        self.attempt
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_and_are_capped() {
        let p = RetryPolicy {
            initial_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
            ..Default::default()
        };
        for attempt in 0..10 {
            let d = p.delay(attempt, None);
            let full = Duration::from_millis(100 * (1 << attempt)).min(Duration::from_secs(1));
            assert!(
                d >= full / 2 && d < full,
                "attempt {attempt}: {d:?} vs {full:?}"
            );
        }
    }

    #[test]
    fn retry_after_is_honoured_but_capped() {
        let p = RetryPolicy {
            max_delay: Duration::from_secs(5),
            ..Default::default()
        };
        assert_eq!(
            p.delay(0, Some(Duration::from_secs(2))),
            Duration::from_secs(2)
        );
        assert_eq!(
            p.delay(0, Some(Duration::from_secs(60))),
            Duration::from_secs(5)
        );
    }

    #[test]
    fn attempts_are_bounded() {
        let p = RetryPolicy {
            max_attempts: 3,
            initial_delay: Duration::from_millis(1),
            ..Default::default()
        };
        let mut b = p.start();
        assert!(b.next_delay(None).is_some());
        assert!(b.next_delay(None).is_some());
        assert!(b.next_delay(None).is_none());
    }

    #[test]
    fn time_is_bounded() {
        let p = RetryPolicy {
            max_elapsed: Duration::from_millis(10),
            initial_delay: Duration::from_secs(1),
            ..Default::default()
        };
        assert!(p.start().next_delay(None).is_none());
    }
}

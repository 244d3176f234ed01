//! The one retry helper: an attempt budget, exponential backoff with jitter, and the caller
//! saying which failures are worth another attempt (`Failure::Transient`). Used for Stripe calls
//! (429, 5xx, timeouts) and for read-modify-write loops that lost a conditional write.

use std::future::Future;
use std::time::Duration;

/// How often and how patiently to try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub attempts: u32,
    pub first_delay: Duration,
    pub max_delay: Duration,
}

impl Policy {
    /// Stripe calls: 3 attempts, about 0.2 s then 0.6 s apart, under the same idempotency key.
    pub const STRIPE: Self = Self { attempts: 3, first_delay: Duration::from_millis(200), max_delay: Duration::from_secs(2) };
    /// A conditional write that lost to a concurrent writer: re-read and decide again, soon.
    pub const WRITE_RACE: Self = Self { attempts: 5, first_delay: Duration::from_millis(10), max_delay: Duration::from_millis(200) };
    /// A write decided on a read that concurrent requests of the same org race for (credits
    /// spends, keyed reservations, signals): each lost race means another request won, so
    /// many quick attempts, before answering 409.
    pub const CONTENDED: Self = Self { attempts: 30, first_delay: Duration::from_millis(5), max_delay: Duration::from_millis(80) };

    /// The pause before attempt `attempt + 1`: the backoff step with up to 50% taken off at
    /// random, so concurrent losers of one race do not collide again in lockstep.
    pub fn delay(&self, attempt: u32) -> Duration {
        let step = self.first_delay.saturating_mul(3u32.saturating_pow(attempt.saturating_sub(1))).min(self.max_delay);
        let mut byte = [0u8; 1];
        let jitter = if getrandom::fill(&mut byte).is_ok() { f64::from(byte[0]) / 510.0 } else { 0.0 };
        step.mul_f64(1.0 - jitter)
    }
}

/// How an attempt failed: worth another try, or final.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure<E> {
    Transient(E),
    Permanent(E),
}

/// Runs `attempt(n)` (n from 1) until it succeeds, fails permanently, or the budget is spent;
/// the error of the last attempt otherwise.
pub async fn retry<T, E, F, Fut>(policy: Policy, operation: &str, mut attempt: F) -> Result<T, E>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, Failure<E>>>,
    E: std::fmt::Display,
{
    let mut n = 1;
    loop {
        match attempt(n).await {
            Ok(value) => return Ok(value),
            Err(Failure::Transient(err)) if n < policy.attempts => {
                tracing::warn!(operation, attempt = n, error = %err, "transient failure, retrying");
                tokio::time::sleep(policy.delay(n)).await;
                n += 1;
            }
            Err(Failure::Transient(err) | Failure::Permanent(err)) => return Err(err),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    const FAST: Policy = Policy { attempts: 3, first_delay: Duration::from_millis(1), max_delay: Duration::from_millis(2) };

    #[tokio::test]
    async fn transient_failures_are_retried_up_to_the_budget() {
        let calls = Cell::new(0);
        let result: Result<(), String> = retry(FAST, "t", |_| {
            calls.set(calls.get() + 1);
            async { Err(Failure::Transient("busy".to_string())) }
        })
        .await;
        assert_eq!((result, calls.get()), (Err("busy".to_string()), 3));
    }

    #[tokio::test]
    async fn permanent_failures_and_successes_end_at_once() {
        let calls = Cell::new(0);
        let result: Result<(), String> = retry(FAST, "t", |_| {
            calls.set(calls.get() + 1);
            async { Err(Failure::Permanent("bad".to_string())) }
        })
        .await;
        assert_eq!((result, calls.get()), (Err("bad".to_string()), 1));
        let result: Result<u32, String> =
            retry(FAST, "t", |n| async move { if n < 2 { Err(Failure::Transient("busy".into())) } else { Ok(n) } }).await;
        assert_eq!(result, Ok(2));
    }

    #[test]
    fn delays_grow_are_capped_and_jittered_down_only() {
        let policy = Policy::STRIPE;
        for _ in 0..50 {
            let first = policy.delay(1);
            assert!(first <= Duration::from_millis(200) && first >= Duration::from_millis(100), "{first:?}");
            let second = policy.delay(2);
            assert!(second <= Duration::from_millis(600) && second >= Duration::from_millis(300), "{second:?}");
            assert!(policy.delay(10) <= policy.max_delay);
        }
    }
}

//! The quota budget: `CONNECT_CALLS_PER_SECOND` bounds the rate of calls of each Connect API from
//! one execution environment, a token bucket per API (Connect's quotas are per API). A call waits for
//! its turn, and the wait counts against the invocation's deadline: a call whose turn would come too
//! late is not made at all (and reserves nothing).
//!
//! Each bucket holds at most `max(1, 2 x rate)` calls, so an environment may make two seconds' worth
//! at once after a pause, and no more than `rate` per second over time. With the template's defaults
//! (1 call/s, `MaximumConcurrency` 2) the deployment makes at most 2 calls/s per API, bursts of 4:
//! within Connect's default quota of 2/s with bursts of 5.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::calls::Operation;

/// A token bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct Bucket {
    /// Tokens per second.
    rate: f64,
    capacity: f64,
    /// May go below zero: calls reserved for later.
    tokens: f64,
    at: Instant,
}

impl Bucket {
    /// A full bucket.
    pub fn new(rate: f64, now: Instant) -> Bucket {
        let capacity = (2.0 * rate).max(1.0);
        Bucket {
            rate,
            capacity,
            tokens: capacity,
            at: now,
        }
    }

    /// Reserves one call: the instant it may start, if that is no later than `latest`; otherwise
    /// `None`, and nothing is reserved.
    pub fn reserve(&mut self, now: Instant, latest: Instant) -> Option<Instant> {
        if now > self.at {
            let elapsed = now.duration_since(self.at).as_secs_f64();
            self.tokens = (self.tokens + elapsed * self.rate).min(self.capacity);
            self.at = now;
        }
        let start = if self.tokens >= 1.0 {
            now
        } else {
            now + Duration::from_secs_f64((1.0 - self.tokens) / self.rate)
        };
        if start > latest {
            return None;
        }
        self.tokens -= 1.0;
        Some(start)
    }
}

/// One bucket per Connect API, or none (`CONNECT_CALLS_PER_SECOND=off`).
#[derive(Debug)]
pub struct Pacer {
    buckets: Option<Mutex<[Bucket; 3]>>,
}

impl Pacer {
    /// `rate`: calls per second of each API; `None`: unpaced.
    pub fn new(rate: Option<f64>, now: Instant) -> Pacer {
        Pacer {
            buckets: rate.map(|rate| Mutex::new([0, 1, 2].map(|_| Bucket::new(rate, now)))),
        }
    }

    /// When a call of `operation` may start, if no later than `latest` (see [`Bucket::reserve`]).
    pub fn reserve(&self, operation: Operation, now: Instant, latest: Instant) -> Option<Instant> {
        let Some(buckets) = &self.buckets else {
            return (now <= latest).then_some(now);
        };
        let mut buckets = buckets.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        buckets[operation.index()].reserve(now, latest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LONG: Duration = Duration::from_secs(3600);

    fn ms(d: Duration) -> u128 {
        d.as_millis()
    }

    #[test]
    fn a_burst_of_two_seconds_then_the_rate() {
        let t0 = Instant::now();
        let mut bucket = Bucket::new(1.0, t0);
        let starts: Vec<u128> = (0..5)
            .map(|_| bucket.reserve(t0, t0 + LONG).map(|s| ms(s - t0)).unwrap_or(u128::MAX))
            .collect();
        assert_eq!(starts, [0, 0, 1000, 2000, 3000]);
        // After a pause the bucket refills, up to its capacity only.
        let later = t0 + Duration::from_secs(100);
        let starts: Vec<u128> = (0..3)
            .map(|_| {
                bucket
                    .reserve(later, later + LONG)
                    .map(|s| ms(s - later))
                    .unwrap_or(u128::MAX)
            })
            .collect();
        assert_eq!(starts, [0, 0, 1000]);
    }

    #[test]
    fn over_a_minute_the_rate_holds() {
        let t0 = Instant::now();
        let mut bucket = Bucket::new(0.5, t0);
        let mut last = t0;
        let mut calls = 0;
        while let Some(start) = bucket.reserve(t0, t0 + Duration::from_secs(60)) {
            last = start;
            calls += 1;
        }
        // Capacity 1 at 0.5/s: one now, then one every 2 s, until the deadline.
        assert_eq!(calls, 31);
        assert_eq!(ms(last - t0), 60_000);
    }

    #[test]
    fn a_turn_after_the_deadline_reserves_nothing() {
        let t0 = Instant::now();
        let mut bucket = Bucket::new(1.0, t0);
        assert!(bucket.reserve(t0, t0).is_some());
        assert!(bucket.reserve(t0, t0).is_some());
        assert_eq!(bucket.reserve(t0, t0 + Duration::from_millis(999)), None);
        // The refused call took nothing: the next one still gets the first free turn.
        assert_eq!(bucket.reserve(t0, t0 + LONG).map(|s| ms(s - t0)), Some(1000));
    }

    #[test]
    fn each_api_has_its_own_bucket_and_off_never_waits() {
        let t0 = Instant::now();
        let pacer = Pacer::new(Some(1.0), t0);
        for _ in 0..2 {
            assert_eq!(pacer.reserve(Operation::MonitorContact, t0, t0 + LONG), Some(t0));
        }
        assert_eq!(
            pacer.reserve(Operation::GetCurrentUserData, t0, t0 + LONG),
            Some(t0),
            "another API's bucket is full"
        );
        assert_eq!(
            pacer
                .reserve(Operation::MonitorContact, t0, t0 + LONG)
                .map(|s| ms(s - t0)),
            Some(1000)
        );
        let off = Pacer::new(None, t0);
        for _ in 0..100 {
            assert_eq!(off.reserve(Operation::MonitorContact, t0, t0 + LONG), Some(t0));
        }
        assert_eq!(
            off.reserve(Operation::MonitorContact, t0 + LONG, t0),
            None,
            "past the deadline"
        );
    }
}

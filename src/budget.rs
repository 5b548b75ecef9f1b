//! The quota budget: `CONNECT_CALLS_PER_SECOND` bounds the rate of calls of each Connect API from
//! one execution environment, a token bucket per API. Every attempt waits for its turn, retries
//! included, and a call whose turn would come after the deadline is not made at all.
//!
//! The bucket is the one rate controller (AIMD): Connect's quota is shared by every integration in
//! the account and region, so a throttle lowers the rate and successes win it back; the environment
//! keeps its rate between invocations. The rules: docs/how-it-decides.md, "Connect quota budget"; why
//! these constants: docs/performance.md, "Beside another client".

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use strum::EnumCount;

use crate::connect::Operation;

/// A throttle divides the rate by this.
const DECREASE: f64 = 2.0;
/// The lowest rate, as a share of the budget. A tenth left an environment beside a busy client at one
/// call every 10 s, too slow for any success to win the rate back: its batches stalled on their
/// calls' turns while the queue grew (the shared-quota peak run, docs/performance.md).
const FLOOR: f64 = 0.25;
/// What each success adds to the rate, as a share of the budget: from half the budget back to all of
/// it in 40 successes. Slow on purpose: beside another client that leaves this environment a rate
/// `r`, a throttle comes about every `r / (2 x step)` successes. With a fortieth and no debt, 8.3-11.7 %
/// of the function's calls were throttled in the shared-quota peak run; with this and [`DEBT`],
/// 5.7-8.7 %.
const INCREASE: f64 = 1.0 / 80.0;
/// Calls a throttle leaves the bucket owing: a throttle means the shared quota is empty now, and
/// it refills at what the other clients leave, so the next attempt waits one more interval.
const DEBT: f64 = 1.0;

/// A token bucket whose rate follows Connect's throttles (AIMD), between a floor and the budget.
#[derive(Debug, Clone, PartialEq)]
pub struct Bucket {
    /// The configured rate (tokens per second): the most the bucket ever gives.
    budget: f64,
    /// The current rate.
    rate: f64,
    /// May go below zero: calls reserved for later.
    tokens: f64,
    at: Instant,
}

impl Bucket {
    /// A full bucket at the budget.
    pub fn new(budget: f64, now: Instant) -> Bucket {
        Bucket {
            budget,
            rate: budget,
            tokens: capacity(budget),
            at: now,
        }
    }

    /// Calls per second it gives now.
    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// Connect throttled a call: half the rate (not below the floor), and the bucket in debt (see
    /// [`DEBT`]): no call for two intervals of that rate, no burst until it refills.
    pub fn throttled(&mut self, now: Instant) {
        self.refill(now);
        self.rate = (self.rate / DECREASE).max(self.budget * FLOOR);
        self.tokens = self.tokens.min(-DEBT);
    }

    /// Connect answered a call: a little more rate, up to the budget.
    pub fn succeeded(&mut self) {
        self.rate = (self.rate + self.budget * INCREASE).min(self.budget);
    }

    fn refill(&mut self, now: Instant) {
        if now > self.at {
            let elapsed = now.duration_since(self.at).as_secs_f64();
            self.tokens = (self.tokens + elapsed * self.rate).min(capacity(self.rate));
            self.at = now;
        }
    }

    /// Reserves one call: the instant it may start, if that is no later than `latest`; otherwise
    /// `None`, and nothing is reserved.
    pub fn reserve(&mut self, now: Instant, latest: Instant) -> Option<Instant> {
        self.refill(now);
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

/// Two seconds' worth of calls, at least one.
fn capacity(rate: f64) -> f64 {
    (2.0 * rate).max(1.0)
}

/// One bucket per Connect API, or none (`CONNECT_CALLS_PER_SECOND=off`).
#[derive(Debug)]
pub struct Pacer {
    buckets: Option<Mutex<[Bucket; Operation::COUNT]>>,
}

impl Pacer {
    /// `rate`: calls per second of each API; `None`: unpaced.
    pub fn new(rate: Option<f64>, now: Instant) -> Pacer {
        Pacer {
            buckets: rate.map(|rate| Mutex::new(std::array::from_fn(|_| Bucket::new(rate, now)))),
        }
    }

    /// When a call of `operation` may start, if no later than `latest` (see [`Bucket::reserve`]).
    pub fn reserve(&self, operation: Operation, now: Instant, latest: Instant) -> Option<Instant> {
        self.with(operation, |bucket| bucket.reserve(now, latest))
            .unwrap_or((now <= latest).then_some(now))
    }

    /// Connect throttled a call of `operation` (see [`Bucket::throttled`]).
    pub fn throttled(&self, operation: Operation, now: Instant) {
        self.with(operation, |bucket| bucket.throttled(now));
    }

    /// Connect answered a call of `operation` (see [`Bucket::succeeded`]).
    pub fn succeeded(&self, operation: Operation) {
        self.with(operation, Bucket::succeeded);
    }

    /// The rate `operation` is paced at now, if paced.
    pub fn rate(&self, operation: Operation) -> Option<f64> {
        self.with(operation, |bucket| bucket.rate())
    }

    /// Whether throttles have lowered `operation`'s rate below the budget.
    pub fn lowered(&self, operation: Operation) -> bool {
        self.with(operation, |bucket| bucket.rate < bucket.budget)
            .unwrap_or(false)
    }

    fn with<T>(&self, operation: Operation, f: impl FnOnce(&mut Bucket) -> T) -> Option<T> {
        let buckets = self.buckets.as_ref()?;
        let mut buckets = buckets.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        Some(f(&mut buckets[operation.index()]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LONG: Duration = Duration::from_secs(3600);

    fn ms(d: Duration) -> u128 {
        d.as_millis()
    }

    /// When `n` calls asked for at `at` may start, in milliseconds after `at`.
    fn starts(bucket: &mut Bucket, at: Instant, n: usize) -> Vec<u128> {
        (0..n)
            .map(|_| bucket.reserve(at, at + LONG).map(|s| ms(s - at)).unwrap_or(u128::MAX))
            .collect()
    }

    #[test]
    fn a_burst_of_two_seconds_then_the_rate() {
        let t0 = Instant::now();
        let mut bucket = Bucket::new(1.0, t0);
        assert_eq!(starts(&mut bucket, t0, 5), [0, 0, 1000, 2000, 3000]);
        // After a pause the bucket refills, up to its capacity only.
        assert_eq!(starts(&mut bucket, t0 + Duration::from_secs(100), 3), [0, 0, 1000]);
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
    fn a_throttle_halves_the_rate_down_to_the_floor_and_successes_win_it_back_up_to_the_budget() {
        let t0 = Instant::now();
        let mut bucket = Bucket::new(1.0, t0);
        bucket.throttled(t0);
        assert_eq!(bucket.rate(), 0.5);
        // No burst after a throttle: the next call waits two intervals of the lowered rate.
        assert_eq!(bucket.reserve(t0, t0 + LONG).map(|s| ms(s - t0)), Some(4000));
        for _ in 0..10 {
            bucket.throttled(t0);
        }
        assert_eq!(bucket.rate(), 0.25, "never below a quarter of the budget");
        bucket.succeeded();
        assert!((bucket.rate() - 0.2625).abs() < 1e-9, "additive: {}", bucket.rate());
        for _ in 0..100 {
            bucket.succeeded();
        }
        assert_eq!(bucket.rate(), 1.0, "never above the budget");
        // Back at the budget, the bucket refills to two seconds' worth again.
        assert_eq!(starts(&mut bucket, t0 + Duration::from_secs(100), 3), [0, 0, 1000]);
    }

    #[test]
    fn the_pacer_lowers_one_api_only_and_says_so() {
        let t0 = Instant::now();
        let pacer = Pacer::new(Some(2.0), t0);
        pacer.throttled(Operation::MonitorContact, t0);
        assert_eq!(pacer.rate(Operation::MonitorContact), Some(1.0));
        assert!(pacer.lowered(Operation::MonitorContact));
        assert_eq!(pacer.rate(Operation::DescribeContact), Some(2.0));
        assert!(!pacer.lowered(Operation::DescribeContact));
        pacer.succeeded(Operation::MonitorContact);
        let rate = pacer.rate(Operation::MonitorContact).unwrap_or_default();
        assert!((rate - 1.025).abs() < 1e-9, "{rate}");
        let off = Pacer::new(None, t0);
        off.throttled(Operation::MonitorContact, t0);
        assert_eq!(off.rate(Operation::MonitorContact), None);
        assert!(!off.lowered(Operation::MonitorContact));
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

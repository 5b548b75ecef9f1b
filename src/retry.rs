//! The invocation's time and how one Connect call is retried within it: the time budget before
//! Lambda's deadline, which failures, how long to wait between attempts, until when, and how long one
//! attempt may take. Pure: `pipeline` runs the attempts and asks this module. The rules and the
//! measurements behind their constants: docs/how-it-decides.md, "Retries".
//!
//! Written here rather than left to the SDK's retry layer: the SDK retries with a fixed number of
//! attempts and knows neither the invocation's deadline nor the per-API budget (`budget`), so its
//! retries would go out unpaced and its back-off could outlast a contact flow's wait. Every attempt
//! reuses the call's ClientToken, so a retry after an attempt whose answer was lost is a replay,
//! never a second monitor.

use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use crate::connect::ConnectFailure;

/// The longest first back-off.
pub const FIRST_BACKOFF: Duration = Duration::from_millis(500);

/// The longest back-off: two of Connect's default token intervals (2 requests/s).
pub const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// How much each back-off's ceiling grows over the last.
const GROWTH: f64 = 1.25;

/// How long an attempt runs before it is taken for stalled (a dead connection) and retried, when
/// the window leaves time for another: twice the slowest answers Connect gives in a slow moment.
pub const STALLED_ATTEMPT: Duration = Duration::from_secs(5);

/// Time kept back from the invocation's deadline to report the outcome: the function answers
/// `DeadlineExceeded` itself rather than being killed by Lambda with no answer at all.
pub const DEADLINE_MARGIN: Duration = Duration::from_millis(300);

/// The bound on the Connect calls when the invocation's deadline is unknown: the longest a contact
/// flow waits for a Lambda function.
pub const UNKNOWN_DEADLINE_BUDGET: Duration = Duration::from_secs(8);

/// Deadlines below this many milliseconds (2001-09-09 as a Unix time) are not Unix times: Lambda
/// sends the deadline as epoch milliseconds, but some emulators send the timeout itself
/// (`cargo lambda watch` sends 600000) and a hand-made `Context` has 0.
const EPOCH_MS_FLOOR: u64 = 1_000_000_000_000;

/// How long the Connect calls may take: the time left before the deadline minus the margin, or
/// `None` when no time is left.
pub fn time_budget(deadline_ms: u64, now: SystemTime) -> Option<Duration> {
    if deadline_ms < EPOCH_MS_FLOOR {
        return Some(UNKNOWN_DEADLINE_BUDGET - DEADLINE_MARGIN);
    }
    let deadline = SystemTime::UNIX_EPOCH + Duration::from_millis(deadline_ms);
    deadline
        .duration_since(now)
        .ok()
        .and_then(|left| left.checked_sub(DEADLINE_MARGIN))
        .filter(|budget| !budget.is_zero())
}

/// When the attempts of one call may start and must end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// No retry starts after this instant.
    pub until: Instant,
    /// No call's first attempt starts after this instant: the deadline, except in a batch that gives
    /// records back to the queue (see [`Window::calls_until`]).
    pub first_until: Instant,
    /// Every attempt ends by then: the invocation's deadline.
    pub deadline: Instant,
    /// `AWS_MAX_ATTEMPTS`, when set.
    pub max_attempts: Option<u32>,
}

impl ConnectFailure {
    /// Whether another attempt may answer differently: throttling and the service or the network
    /// failing, not an answer about the request itself.
    pub fn retryable(&self) -> bool {
        matches!(self, ConnectFailure::Throttling(_) | ConnectFailure::Unavailable(_))
    }
}

/// The wait before retry `retry` (1 for the first), for `unit`, a random number in [0, 1).
pub fn backoff(retry: u32, unit: f64) -> Duration {
    let growth = GROWTH.powi(i32::try_from(retry.saturating_sub(1).min(16)).unwrap_or(16));
    let ceiling = FIRST_BACKOFF.mul_f64(growth).min(MAX_BACKOFF);
    ceiling.mul_f64(0.1 + 0.9 * unit.clamp(0.0, 1.0))
}

impl Window {
    /// The window of one invocation's calls: a single event answers someone waiting (a contact
    /// flow's Invoke block: 3 s by default), so its retries stop `retry_window` after it started; a
    /// batch's caller is a queue: until the deadline.
    pub fn for_invocation(
        batch: bool,
        started: Instant,
        deadline: Instant,
        retry_window: Duration,
        max_attempts: Option<u32>,
    ) -> Window {
        if batch {
            return Window::to_deadline(deadline, max_attempts);
        }
        Window {
            until: started + retry_window,
            first_until: deadline,
            deadline,
            max_attempts,
        }
    }

    /// Retries for as long as the deadline allows (an SQS batch: its caller is a queue, and a record
    /// that fails waits for the visibility timeout).
    pub fn to_deadline(deadline: Instant, max_attempts: Option<u32>) -> Window {
        Window {
            until: deadline,
            first_until: deadline,
            deadline,
            max_attempts,
        }
    }

    /// The same, starting no attempt after `at` (nor after the deadline). A batch that gives its failed
    /// records back to the queue (`requeue`) makes its calls within `SQS_RETRY_DELAY_SECONDS`: a record
    /// whose call would wait longer for its turn comes back through the queue about as soon, while
    /// holding it would hold the whole batch (its other records are deleted only when it answers, and
    /// the queue's next batch waits for a free environment).
    pub fn calls_until(self, at: Instant) -> Window {
        let at = at.min(self.deadline);
        Window {
            until: self.until.min(at),
            first_until: self.first_until.min(at),
            ..self
        }
    }

    /// When an attempt that starts at `start` is cut off: after [`STALLED_ATTEMPT`] when a retry could
    /// still start then, otherwise at the deadline.
    pub fn cutoff(&self, start: Instant) -> Instant {
        let stalled = start + STALLED_ATTEMPT;
        if stalled < self.until && stalled < self.deadline {
            stalled
        } else {
            self.deadline
        }
    }

    /// When retry `retry` (1 for the first) may start after an attempt that ended at `now` and took
    /// `took`, waiting `wait`; `None` when the window, the deadline or the attempt cap says no. A
    /// draw past the end of a window shorter than the deadline retries at the window's last moment
    /// (see the module documentation).
    pub fn retry_at(&self, retry: u32, now: Instant, took: Duration, wait: Duration) -> Option<Instant> {
        if self.max_attempts.is_some_and(|max| retry >= max) {
            return None;
        }
        let mut start = now + wait;
        if start > self.until && self.until < self.deadline && self.until >= now + backoff(retry, 0.0) {
            start = self.until;
        }
        (start <= self.until && start + took <= self.deadline).then_some(start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_batch_that_gives_records_back_starts_no_attempt_after_its_time_for_calls() {
        let now = Instant::now();
        let secs = Duration::from_secs;
        let window = Window::to_deadline(now + secs(40), None).calls_until(now + secs(10));
        assert_eq!(
            (window.until, window.first_until, window.deadline),
            (now + secs(10), now + secs(10), now + secs(40))
        );
        // A draw past the time for calls retries at its last moment, as a single invocation does
        // (nothing else of the batch's can start after it); past the last moment, none.
        assert_eq!(
            window.retry_at(1, now + ms(9_900), ms(100), ms(200)),
            Some(now + secs(10))
        );
        assert_eq!(window.retry_at(1, now + ms(9_990), ms(100), ms(200)), None);
        assert_eq!(
            window.retry_at(1, now + ms(9_000), ms(100), ms(200)),
            Some(now + ms(9_200))
        );
        let short = Window::to_deadline(now + secs(5), None).calls_until(now + secs(10));
        assert_eq!((short.until, short.first_until), (now + secs(5), now + secs(5)));
    }

    #[test]
    fn back_off_grows_with_jitter_the_first_within_50_to_500_ms() {
        assert_eq!(backoff(1, 0.0), ms(50));
        assert_eq!(backoff(1, 0.999_999), FIRST_BACKOFF.mul_f64(0.1 + 0.9 * 0.999_999));
        assert_eq!(backoff(2, 0.0), Duration::from_micros(62_500));
        assert_eq!(backoff(3, 1.0), Duration::from_micros(781_250));
        assert_eq!(backoff(4, 1.0), Duration::from_nanos(976_562_500));
        assert_eq!(backoff(5, 1.0), MAX_BACKOFF);
        assert_eq!(backoff(60, 1.0), MAX_BACKOFF, "capped, no overflow");
    }

    #[test]
    fn only_the_service_or_the_network_failing_is_retried() {
        assert!(ConnectFailure::Throttling("m".into()).retryable());
        assert!(ConnectFailure::Unavailable("m".into()).retryable());
        for answer in [
            ConnectFailure::InvalidRequest("m".into()),
            ConnectFailure::Idempotency("m".into()),
            ConnectFailure::AccessDenied("m".into()),
            ConnectFailure::NotFound("m".into()),
            ConnectFailure::QuotaExceeded("m".into()),
        ] {
            assert!(!answer.retryable(), "{answer:?}");
        }
    }

    #[test]
    fn a_contact_flow_retries_within_its_window_and_its_attempts_run_to_the_deadline() {
        let t0 = Instant::now();
        // The flow function: 7.7 s to the deadline, retries for 2.5 s.
        let window = Window {
            until: t0 + ms(2500),
            first_until: t0 + ms(7700),
            deadline: t0 + ms(7700),
            max_attempts: None,
        };
        assert_eq!(window.retry_at(1, t0 + ms(10), ms(10), ms(400)), Some(t0 + ms(410)));
        assert_eq!(
            window.retry_at(3, t0 + ms(2000), ms(10), ms(600)),
            Some(t0 + ms(2500)),
            "a draw past the window: at its last moment"
        );
        assert_eq!(
            window.retry_at(3, t0 + ms(2450), ms(10), ms(600)),
            None,
            "the last moment is sooner than the draw's shortest wait (78 ms)"
        );
        assert_eq!(
            window.retry_at(4, t0 + ms(2510), ms(10), ms(50)),
            None,
            "past the window"
        );
        let no_retries = Window { until: t0, ..window };
        assert_eq!(
            no_retries.retry_at(1, t0 + ms(10), ms(10), ms(50)),
            None,
            "a window of 0"
        );
        // A slow answer is never cut short: no retry could start after the stall.
        assert_eq!(window.cutoff(t0), t0 + ms(7700));
        // An attempt that cannot finish before the deadline is not started.
        let late = Window {
            until: t0 + ms(7700),
            ..window
        };
        assert_eq!(late.retry_at(1, t0 + ms(5000), ms(2500), ms(400)), None);
        assert!(late.retry_at(1, t0 + ms(5000), ms(2000), ms(400)).is_some());
        let capped = Window {
            max_attempts: Some(2),
            ..window
        };
        assert!(capped.retry_at(1, t0, ms(10), ms(50)).is_some());
        assert_eq!(capped.retry_at(2, t0, ms(10), ms(50)), None, "AWS_MAX_ATTEMPTS=2");
    }

    #[test]
    fn a_batch_cuts_a_stalled_attempt_to_leave_time_for_another() {
        let t0 = Instant::now();
        let batch = Window {
            until: t0 + ms(39_700),
            first_until: t0 + ms(39_700),
            deadline: t0 + ms(39_700),
            max_attempts: None,
        };
        assert_eq!(
            batch.retry_at(2, t0 + ms(39_000), ms(10), ms(900)),
            None,
            "a batch's draw past its deadline is not pulled in: the time left is its other records'"
        );
        assert_eq!(batch.cutoff(t0), t0 + STALLED_ATTEMPT);
        assert_eq!(
            batch.cutoff(t0 + ms(36_000)),
            t0 + ms(39_700),
            "the last one runs to the deadline"
        );
    }

    #[test]
    fn time_budget_follows_the_deadline() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_millis(1_795_000_000_000);
        assert_eq!(time_budget(1_795_000_005_000, now), Some(Duration::from_millis(4_700)));
        assert_eq!(time_budget(1_795_000_000_300, now), None, "only the margin left");
        assert_eq!(time_budget(1_794_999_999_000, now), None, "already past");
        assert_eq!(
            time_budget(600_000, now),
            Some(UNKNOWN_DEADLINE_BUDGET - DEADLINE_MARGIN),
            "a relative timeout"
        );
        assert_eq!(
            time_budget(0, now),
            Some(UNKNOWN_DEADLINE_BUDGET - DEADLINE_MARGIN),
            "no deadline"
        );
    }
}

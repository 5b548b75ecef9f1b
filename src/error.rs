//! The function's errors: each has an `errorType` that callers (contact flows, Step Functions,
//! EventBridge retry logic, people reading logs) can branch on, and a message that says what was
//! wrong and, where it helps, what to do.
//!
//! Messages never echo values taken from the event: a field in the wrong place could hold a
//! customer's phone number, and error messages end up in logs and in contact-flow traces.

use std::fmt;

use lambda_runtime::Diagnostic;

/// The `errorType` of a failed invocation: the variant's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr, strum::EnumIter)]
pub enum ErrorKind {
    /// The event is none of the accepted shapes.
    UnrecognizedEvent,
    /// The event has the right shape but a field is missing or invalid.
    InvalidEvent,
    /// The supervisor is not on the allow-list.
    SupervisorNotAllowed,
    /// The instance is not on the allow-list.
    InstanceNotAllowed,
    /// BARGE was asked for but `ALLOW_BARGE` is not `true`.
    BargeNotAllowed,
    /// Connect: ResourceNotFoundException (the contact, the user or the instance).
    ContactNotFound,
    /// Connect: ResourceNotFoundException while DescribeContact shows the contact live: the
    /// supervisor does not exist in the instance (a configuration problem).
    SupervisorNotFound,
    /// Connect: ServiceQuotaExceededException (supervisor not logged in, or at their monitoring limit).
    SupervisorUnavailable,
    /// Connect: IdempotencyException.
    IdempotencyConflict,
    /// Connect: AccessDeniedException, or credentials the service refused.
    AccessDenied,
    /// Connect: ThrottlingException on every attempt within the retry window (see `retry`).
    Throttled,
    /// Connect: 5xx or connection failures on every attempt within the retry window.
    ConnectUnavailable,
    /// The invocation's remaining time ran out before Connect answered.
    DeadlineExceeded,
    /// An SQS record delivered again (an earlier receive failed) when its event is older than
    /// `MAX_EVENT_AGE_SECONDS`: too late to retry, so it stays a failure and reaches the dead-letter
    /// queue.
    RetryTooLate,
    /// The QA state table (DynamoDB) of a quota rule could not be read or written, after the SDK's
    /// retries: no monitor starts without its slot, and a retry is safe (a contact counts once).
    StateUnavailable,
}

impl ErrorKind {
    /// The `errorType`.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// Whether sending the same event again can succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Safely: the same ClientToken cannot start a second monitor.
    Yes,
    /// When the supervisor is available (for a pool pick, the retry ranks the pool again).
    Later,
    /// Only as a new request, with a new EventId.
    WithNewEventId,
    /// After an operator fixes the role.
    AfterFix,
    /// No: the event, the configuration or the contact is what it is.
    No,
}

/// What an error kind means to whoever acts on it, in one place: whether a retry helps, the level of
/// its log line, whether an SQS record that fails with it is reported as a batch item failure (SQS
/// delivers it again, and after the queue's receives, to the dead-letter queue). Every kind is
/// counted as `Failed` with its `ErrorType` dimension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meaning {
    /// Whether sending the same event again can succeed.
    pub retry: Retry,
    /// WARN for what the sender or a supervisor's state explains; ERROR for what needs an operator
    /// or a retry.
    pub level: tracing::Level,
    /// Always: a retry can help, or an operator must see the record in the dead-letter queue.
    pub batch_item_failure: bool,
    /// Whether such a record goes back to its queue after `SQS_RETRY_DELAY_SECONDS` rather than the
    /// visibility timeout (see `requeue`): when a retry can help soon (`Yes`, `Later`).
    pub requeue_early: bool,
}

impl ErrorKind {
    /// See [`Meaning`]; the errors table in docs/events-and-errors.md is checked against it.
    pub fn meaning(self) -> Meaning {
        use tracing::Level;
        let (retry, level) = match self {
            ErrorKind::UnrecognizedEvent
            | ErrorKind::InvalidEvent
            | ErrorKind::SupervisorNotAllowed
            | ErrorKind::InstanceNotAllowed
            | ErrorKind::BargeNotAllowed
            | ErrorKind::ContactNotFound
            | ErrorKind::RetryTooLate => (Retry::No, Level::WARN),
            ErrorKind::SupervisorUnavailable => (Retry::Later, Level::WARN),
            // Rare and passing (DynamoDB on demand): the record comes back; the alarm is the count.
            ErrorKind::StateUnavailable => (Retry::Yes, Level::WARN),
            ErrorKind::SupervisorNotFound => (Retry::No, Level::ERROR),
            ErrorKind::IdempotencyConflict => (Retry::WithNewEventId, Level::ERROR),
            ErrorKind::AccessDenied => (Retry::AfterFix, Level::ERROR),
            ErrorKind::Throttled | ErrorKind::ConnectUnavailable | ErrorKind::DeadlineExceeded => {
                (Retry::Yes, Level::ERROR)
            }
        };
        Meaning {
            retry,
            level,
            batch_item_failure: true,
            requeue_early: matches!(retry, Retry::Yes | Retry::Later),
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed invocation: returned to Lambda as `{"errorType": kind, "errorMessage": message}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitorError {
    /// The `errorType`.
    pub kind: ErrorKind,
    /// What was wrong, and what to do; never a value from the event.
    pub message: String,
}

impl MonitorError {
    /// An error of `kind`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        MonitorError {
            kind,
            message: message.into(),
        }
    }

    /// An `InvalidEvent` error.
    pub fn invalid(message: impl Into<String>) -> Self {
        MonitorError::new(ErrorKind::InvalidEvent, message)
    }
}

impl fmt::Display for MonitorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

impl std::error::Error for MonitorError {}

impl From<MonitorError> for Diagnostic {
    fn from(error: MonitorError) -> Diagnostic {
        Diagnostic {
            error_type: error.kind.as_str().to_owned(),
            error_message: error.message,
        }
    }
}

/// Bad configuration: the function refuses to start, naming the variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The variable that is wrong.
    pub variable: &'static str,
    /// What is wrong with it, naming it and the rule.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid configuration: {}", self.message)
    }
}

impl std::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;
    use strum::IntoEnumIterator;

    #[test]
    fn diagnostic_carries_the_kind_and_message() {
        let d: Diagnostic = MonitorError::new(ErrorKind::Throttled, "slow down").into();
        assert_eq!(d.error_type, "Throttled");
        assert_eq!(d.error_message, "slow down");
    }

    /// The errors table of docs/events-and-errors.md says for each kind what [`ErrorKind::meaning`]
    /// says: one row per kind, and its "a retry helps?" column opens with the meaning's word.
    #[test]
    fn the_documented_errors_table_matches_the_meanings() {
        let page = include_str!("../docs/events-and-errors.md");
        let rows: Vec<(&str, &str)> = page
            .lines()
            .filter_map(|line| {
                let cells: Vec<&str> = line.split(" | ").collect();
                let kind = cells.first()?.strip_prefix("| `")?.strip_suffix('`')?;
                Some((kind, cells.last()?.trim_end_matches(" |")))
            })
            .filter(|(kind, _)| ErrorKind::iter().any(|k| k.as_str() == *kind))
            .collect();
        assert_eq!(rows.len(), ErrorKind::iter().count(), "one row per kind: {rows:?}");
        for kind in ErrorKind::iter() {
            let (_, retry) = rows
                .iter()
                .find(|(name, _)| *name == kind.as_str())
                .unwrap_or_else(|| panic!("{kind} is not in the table"));
            let opens = match kind.meaning().retry {
                Retry::Yes => "yes",
                Retry::Later => "later",
                Retry::WithNewEventId => "with a new EventId",
                Retry::AfterFix => "after fixing",
                Retry::No => "no",
            };
            assert!(
                retry.starts_with(opens),
                "{kind}: the table says {retry:?}, the code {opens:?}"
            );
        }
    }

    #[test]
    fn every_kind_has_a_distinct_name() {
        let mut names: Vec<_> = ErrorKind::iter().map(|k| k.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ErrorKind::iter().count());
        assert_eq!(ErrorKind::SupervisorNotFound.as_str(), "SupervisorNotFound");
    }
}

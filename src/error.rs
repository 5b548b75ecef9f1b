//! The function's errors: each has an `errorType` that callers (contact flows, Step Functions,
//! EventBridge retry logic, people reading logs) can branch on, and a message that says what was
//! wrong and, where it helps, what to do.
//!
//! Messages never echo values taken from the event: a field in the wrong place could hold a
//! customer's phone number, and error messages end up in logs and in contact-flow traces.

use std::fmt;

use lambda_runtime::Diagnostic;

/// The `errorType` of a failed invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
    /// Connect: ThrottlingException after the SDK's retries.
    Throttled,
    /// Connect: 5xx, time-outs, connection failures.
    ConnectUnavailable,
    /// The invocation's remaining time ran out before Connect answered.
    DeadlineExceeded,
    /// An SQS record delivered again (an earlier receive failed) when its event is older than
    /// `MAX_EVENT_AGE_SECONDS`: too late to retry, so it stays a failure and reaches the dead-letter
    /// queue.
    RetryTooLate,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 14] = [
        ErrorKind::UnrecognizedEvent,
        ErrorKind::InvalidEvent,
        ErrorKind::SupervisorNotAllowed,
        ErrorKind::InstanceNotAllowed,
        ErrorKind::BargeNotAllowed,
        ErrorKind::ContactNotFound,
        ErrorKind::SupervisorNotFound,
        ErrorKind::SupervisorUnavailable,
        ErrorKind::IdempotencyConflict,
        ErrorKind::AccessDenied,
        ErrorKind::Throttled,
        ErrorKind::ConnectUnavailable,
        ErrorKind::DeadlineExceeded,
        ErrorKind::RetryTooLate,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::UnrecognizedEvent => "UnrecognizedEvent",
            ErrorKind::InvalidEvent => "InvalidEvent",
            ErrorKind::SupervisorNotAllowed => "SupervisorNotAllowed",
            ErrorKind::InstanceNotAllowed => "InstanceNotAllowed",
            ErrorKind::BargeNotAllowed => "BargeNotAllowed",
            ErrorKind::ContactNotFound => "ContactNotFound",
            ErrorKind::SupervisorNotFound => "SupervisorNotFound",
            ErrorKind::SupervisorUnavailable => "SupervisorUnavailable",
            ErrorKind::IdempotencyConflict => "IdempotencyConflict",
            ErrorKind::AccessDenied => "AccessDenied",
            ErrorKind::Throttled => "Throttled",
            ErrorKind::ConnectUnavailable => "ConnectUnavailable",
            ErrorKind::DeadlineExceeded => "DeadlineExceeded",
            ErrorKind::RetryTooLate => "RetryTooLate",
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
    pub kind: ErrorKind,
    pub message: String,
}

impl MonitorError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        MonitorError {
            kind,
            message: message.into(),
        }
    }

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
    pub variable: &'static str,
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

    #[test]
    fn diagnostic_carries_the_kind_and_message() {
        let d: Diagnostic = MonitorError::new(ErrorKind::Throttled, "slow down").into();
        assert_eq!(d.error_type, "Throttled");
        assert_eq!(d.error_message, "slow down");
    }

    #[test]
    fn every_kind_has_a_distinct_name() {
        let mut names: Vec<_> = ErrorKind::ALL.iter().map(|k| k.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ErrorKind::ALL.len());
    }
}

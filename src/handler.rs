//! The handler: event → validated request → one Connect call → outcome, bounded by the
//! invocation's deadline, and one log line per invocation.

use std::time::{Duration, Instant, SystemTime};

use lambda_runtime::LambdaEvent;
use serde_json::value::RawValue;

use crate::config::Config;
use crate::connect::{Connect, Monitoring};
use crate::error::{ErrorKind, MonitorError};
use crate::event::{self, Source};
use crate::outcome::Outcome;
use crate::request::{Decision, MonitorRequest, Validated, validate};

/// Time kept back from the invocation's deadline to report the outcome: the function answers
/// `DeadlineExceeded` itself rather than being killed by Lambda with no answer at all.
pub const DEADLINE_MARGIN: Duration = Duration::from_millis(300);

/// The bound on the Connect call when the invocation's deadline is unknown: the longest a contact
/// flow waits for a Lambda function.
pub const UNKNOWN_DEADLINE_BUDGET: Duration = Duration::from_secs(8);

/// Deadlines below this many milliseconds (2001-09-09 as a Unix time) are not Unix times: Lambda
/// sends the deadline as epoch milliseconds, but some emulators send the timeout itself
/// (`cargo lambda watch` sends 600000) and a hand-made `Context` has 0.
const EPOCH_MS_FLOOR: u64 = 1_000_000_000_000;

/// How long the Connect call may take: the time left before the deadline minus the margin, or
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

/// What the handler needs, built once at init.
pub struct App<C> {
    pub config: Config,
    pub connect: C,
}

/// Handles one invocation. The payload is taken raw so that every problem with it, including the
/// wrong JSON types, becomes one of this function's typed errors.
pub async fn handle<C: Connect>(app: &App<C>, event: LambdaEvent<Box<RawValue>>) -> Result<Outcome, MonitorError> {
    let started = Instant::now();
    let budget = time_budget(event.context.deadline, SystemTime::now());
    let mut line = InvocationLog::default();
    let result = process(app, event.payload.get(), &event.context.request_id, budget, &mut line).await;
    line.emit(&result, started.elapsed());
    result
}

async fn process<C: Connect>(
    app: &App<C>,
    payload: &str,
    request_id: &str,
    budget: Option<Duration>,
    line: &mut InvocationLog,
) -> Result<Outcome, MonitorError> {
    let (request, rule_name) = match plan(&app.config, payload, request_id, line)? {
        Plan::Done(outcome) => return Ok(outcome),
        Plan::Call { request, rule_name } => (request, rule_name),
    };
    let budget = budget.ok_or_else(|| deadline_exceeded("before calling Connect"))?;
    let monitoring = match tokio::time::timeout(budget, app.connect.start_monitoring(&request)).await {
        Ok(answer) => answer.map_err(|failure| failure.explain(&request))?,
        Err(_elapsed) => return Err(deadline_exceeded("while waiting for Connect (including retries)")),
    };
    Ok(started(request, monitoring, rule_name))
}

/// What the in-process part of an invocation decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Nothing to call: the outcome is final (a skip).
    Done(Outcome),
    /// Call Connect with this request (for a Contact Lens escalation, on behalf of this rule).
    Call {
        request: MonitorRequest,
        rule_name: Option<String>,
    },
}

/// The in-process part of an invocation, with no I/O: read the event, validate it, apply the skip
/// rules and the policy, derive the ClientToken. Records what it learns in `log`.
pub fn plan(config: &Config, payload: &str, request_id: &str, log: &mut InvocationLog) -> Result<Plan, MonitorError> {
    let intent = event::read(payload, request_id)?;
    log.source = Some(intent.source);
    let validated = validate(&intent, config)?;
    log.record_validated(&validated);
    match validated.decide(config)? {
        Decision::Skip(reason) => Ok(Plan::Done(Outcome::Skipped {
            reason,
            contact_id: validated.contact_id,
        })),
        Decision::Monitor(request) => {
            log.record_request(&request);
            Ok(Plan::Call {
                request,
                rule_name: validated.rule_name,
            })
        }
    }
}

/// The outcome of a monitor Connect started.
pub fn started(request: MonitorRequest, monitoring: Monitoring, rule_name: Option<String>) -> Outcome {
    Outcome::Started {
        rule_name,
        contact_arn: monitoring.contact_arn,
        monitor_contact_id: monitoring.contact_id,
        contact_id: request.contact_id,
        user_id: request.user_id,
        client_token: request.client_token,
    }
}

/// An invocation as Lambda hands it over: the payload, a request ID, and a deadline `time_left` from
/// now. For local runs and tests; fails only when `json` is not JSON.
pub fn invocation(json: &str, request_id: &str, time_left: Duration) -> serde_json::Result<LambdaEvent<Box<RawValue>>> {
    let payload = RawValue::from_string(json.to_owned())?;
    let mut context = lambda_runtime::Context::default();
    context.request_id = request_id.to_owned();
    let deadline = SystemTime::now() + time_left;
    context.deadline = deadline
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    Ok(LambdaEvent::new(payload, context))
}

fn deadline_exceeded(when: &str) -> MonitorError {
    MonitorError::new(
        ErrorKind::DeadlineExceeded,
        format!(
            "the invocation ran out of time {when}; monitoring may or may not have started: retrying the same event is safe (same ClientToken). Contact flows wait at most 8 s; raise the function's timeout if Connect is slow"
        ),
    )
}

/// The one log line of an invocation. It holds validated identifiers only: never the raw event,
/// the customer's endpoint or contact attributes.
#[derive(Debug, Default)]
pub struct InvocationLog {
    source: Option<Source>,
    event_id: Option<String>,
    instance_id: Option<String>,
    contact_id: Option<String>,
    user_id: Option<String>,
    client_token: Option<String>,
    rule: Option<String>,
}

impl InvocationLog {
    fn record_validated(&mut self, v: &Validated) {
        self.event_id = Some(v.event_id.clone());
        self.instance_id = Some(v.instance_id.clone());
        self.contact_id = Some(v.contact_id.clone());
        self.user_id.clone_from(&v.user_id);
        self.rule.clone_from(&v.rule_name);
    }

    fn record_request(&mut self, r: &MonitorRequest) {
        self.user_id = Some(r.user_id.clone());
        self.client_token = Some(r.client_token.clone());
    }

    fn emit(&self, result: &Result<Outcome, MonitorError>, elapsed: Duration) {
        let source = self.source.map(Source::as_str);
        let (event_id, instance, contact) = (
            self.event_id.as_deref(),
            self.instance_id.as_deref(),
            self.contact_id.as_deref(),
        );
        let (supervisor, client_token) = (self.user_id.as_deref(), self.client_token.as_deref());
        let rule = self.rule.as_deref();
        let duration_us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        macro_rules! line {
            ($level:ident, $outcome:expr, $message:expr) => {
                tracing::$level!(
                    source,
                    event_id,
                    instance,
                    contact,
                    supervisor,
                    client_token,
                    rule,
                    outcome = $outcome,
                    duration_us,
                    "{}",
                    $message
                )
            };
        }
        match result {
            Ok(outcome) => line!(info, outcome.label(), "monitor-contact"),
            Err(e) => match e.kind {
                ErrorKind::UnrecognizedEvent
                | ErrorKind::InvalidEvent
                | ErrorKind::SupervisorNotAllowed
                | ErrorKind::InstanceNotAllowed
                | ErrorKind::BargeNotAllowed
                | ErrorKind::ContactNotFound
                | ErrorKind::SupervisorUnavailable => line!(warn, e.kind.as_str(), e.message),
                ErrorKind::IdempotencyConflict
                | ErrorKind::AccessDenied
                | ErrorKind::Throttled
                | ErrorKind::ConnectUnavailable
                | ErrorKind::DeadlineExceeded => line!(error, e.kind.as_str(), e.message),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connect::ConnectFailure;
    use std::sync::Mutex;

    /// A Connect stand-in that records calls and answers from a script.
    struct Scripted {
        calls: Mutex<Vec<MonitorRequest>>,
        answer: Result<Monitoring, ConnectFailure>,
        delay: Duration,
    }

    impl Connect for Scripted {
        async fn start_monitoring(&self, request: &MonitorRequest) -> Result<Monitoring, ConnectFailure> {
            if let Ok(mut calls) = self.calls.lock() {
                calls.push(request.clone());
            }
            tokio::time::sleep(self.delay).await;
            self.answer.clone()
        }
    }

    const SUP: &str = "5a1e5000-0000-4000-8000-000000000001";

    fn app(answer: Result<Monitoring, ConnectFailure>, delay: Duration) -> App<Scripted> {
        let config = Config::from_lookup("us-east-1", |n| {
            (n == "DEFAULT_SUPERVISOR_USER_ID").then(|| SUP.to_owned())
        });
        match config {
            Ok(config) => App {
                config,
                connect: Scripted {
                    calls: Mutex::new(Vec::new()),
                    answer,
                    delay,
                },
            },
            Err(e) => panic!("{e}"),
        }
    }

    fn event(json: &str, deadline_in: Duration) -> LambdaEvent<Box<RawValue>> {
        invocation(json, "req-1", deadline_in).unwrap_or_else(|e| panic!("{e}"))
    }

    const DIRECT: &str = r#"{"InstanceId":"i1","ContactId":"c1","EventId":"e1"}"#;

    fn started() -> Result<Monitoring, ConnectFailure> {
        Ok(Monitoring {
            contact_id: "m1".into(),
            contact_arn: "arn:aws:connect:us-east-1:111122223333:instance/i1/contact/m1".into(),
        })
    }

    fn calls(app: &App<Scripted>) -> usize {
        app.connect.calls.lock().map(|c| c.len()).unwrap_or(usize::MAX)
    }

    #[tokio::test]
    async fn started_outcome_carries_the_request() {
        let app = app(started(), Duration::ZERO);
        let outcome = handle(&app, event(DIRECT, Duration::from_secs(5))).await;
        let token = crate::token::client_token("e1", "i1", "c1", SUP);
        assert_eq!(
            outcome,
            Ok(Outcome::Started {
                contact_arn: "arn:aws:connect:us-east-1:111122223333:instance/i1/contact/m1".into(),
                monitor_contact_id: "m1".into(),
                contact_id: "c1".into(),
                user_id: SUP.into(),
                client_token: token,
                rule_name: None,
            })
        );
        assert_eq!(calls(&app), 1);
    }

    #[tokio::test]
    async fn invalid_events_never_reach_connect() {
        let app = app(started(), Duration::ZERO);
        for json in [
            r#"{"InstanceId":"i1"}"#,
            "{}",
            r#"{"InstanceId":"i1","ContactId":"c1","UserId":"intruder"}"#,
        ] {
            assert!(
                handle(&app, event(json, Duration::from_secs(5))).await.is_err(),
                "{json}"
            );
        }
        assert_eq!(calls(&app), 0);
    }

    #[tokio::test]
    async fn connect_failures_are_explained() {
        let app = app(Err(ConnectFailure::NotFound("gone".into())), Duration::ZERO);
        let e = handle(&app, event(DIRECT, Duration::from_secs(5))).await.err();
        assert_eq!(e.map(|e| e.kind), Some(ErrorKind::ContactNotFound));
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_connect_is_cut_off_before_the_deadline() {
        let app = app(started(), Duration::from_secs(60));
        let e = handle(&app, event(DIRECT, Duration::from_secs(2))).await.err();
        assert_eq!(e.map(|e| e.kind), Some(ErrorKind::DeadlineExceeded));
        assert_eq!(calls(&app), 1);
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

    #[tokio::test]
    async fn no_time_left_means_no_call() {
        let app = app(started(), Duration::ZERO);
        let e = handle(&app, event(DIRECT, Duration::from_millis(100))).await.err();
        assert_eq!(e.map(|e| e.kind), Some(ErrorKind::DeadlineExceeded));
        assert_eq!(calls(&app), 0);
    }
}

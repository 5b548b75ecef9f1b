//! The handler: event → validated request → the Connect calls → outcome, bounded by the
//! invocation's deadline, and one log line per invocation.
//!
//! The calls, each at most once per invocation: DescribeContact (only with `VERIFY_CONTACT=true`),
//! GetCurrentUserData (only when the supervisor comes from the pool), MonitorContact. One time budget
//! covers all of them.

use std::time::{Duration, Instant, SystemTime};

use lambda_runtime::LambdaEvent;
use serde_json::value::RawValue;

use crate::config::Config;
use crate::connect::{Call, Connect, ConnectFailure, Monitoring};
use crate::error::{ErrorKind, MonitorError};
use crate::event::{self, Source};
use crate::outcome::{Outcome, SkipReason};
use crate::pool::{self, PoolState};
use crate::request::{Decision, MonitorRequest, Supervisor, Target, Validated, live_check, validate};

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
    let (target, rule_name) = match plan(&app.config, payload, request_id, line)? {
        Plan::Done(outcome) => return Ok(outcome),
        Plan::Call { target, rule_name } => (target, rule_name),
    };
    let budget = budget.ok_or_else(|| deadline_exceeded("before calling Connect"))?;
    match tokio::time::timeout(budget, call(&app.connect, &app.config, target, rule_name, line)).await {
        Ok(result) => result,
        Err(_elapsed) => Err(deadline_exceeded("while waiting for Connect (including retries)")),
    }
}

/// The Connect calls for a planned target, in order, each at most once: DescribeContact with
/// `VERIFY_CONTACT`, GetCurrentUserData for a pool pick, then MonitorContact.
async fn call<C: Connect>(
    connect: &C,
    config: &Config,
    target: Target,
    rule_name: Option<String>,
    line: &mut InvocationLog,
) -> Result<Outcome, MonitorError> {
    let skipped = |reason| {
        Ok(Outcome::Skipped {
            reason,
            contact_id: target.contact_id.clone(),
        })
    };
    if config.verify_contact {
        let status = connect
            .contact_status(&target.instance_id, &target.contact_id)
            .await
            .map_err(|failure| {
                failure.explain(Call::DescribeContact {
                    instance_id: &target.instance_id,
                    contact_id: &target.contact_id,
                })
            })?;
        if let Some(reason) = live_check(&status, config) {
            return skipped(reason);
        }
    }
    let (user_id, pooled) = match &target.supervisor {
        Supervisor::Named(user_id) => (user_id.clone(), false),
        Supervisor::Pool => {
            let present = connect
                .present_members(&target.instance_id, &config.supervisor_pool)
                .await
                .map_err(|failure| {
                    failure.explain(Call::GetCurrentUserData {
                        instance_id: &target.instance_id,
                    })
                })?;
            let (picked, state) = pool::choose(
                &target.event_id,
                &config.supervisor_pool,
                &present,
                config.max_monitors_per_supervisor,
            );
            line.pool = Some(state);
            match picked {
                Some(user_id) => (user_id, true),
                None => return skipped(SkipReason::NoSupervisorAvailable),
            }
        }
    };
    let request = target.request(user_id);
    line.record_request(&request);
    match connect.start_monitoring(&request).await {
        Ok(monitoring) => Ok(started(request, monitoring, rule_name)),
        // The pool token leaves the user out: Connect refusing it for this user means an earlier
        // delivery of this event attached another member (see `token`).
        Err(ConnectFailure::Idempotency(_)) if pooled => skipped(SkipReason::AlreadyMonitored),
        Err(failure) => Err(failure.explain(Call::MonitorContact {
            request: &request,
            pooled,
        })),
    }
}

/// What the in-process part of an invocation decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Nothing to call: the outcome is final (a skip).
    Done(Outcome),
    /// Call Connect for this target (for a Contact Lens escalation, on behalf of this rule).
    Call { target: Target, rule_name: Option<String> },
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
        Decision::Monitor(target) => {
            log.record_target(&target);
            Ok(Plan::Call {
                target,
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
    /// The pool as GetCurrentUserData showed it, for a pool pick.
    pool: Option<PoolState>,
}

impl InvocationLog {
    fn record_validated(&mut self, v: &Validated) {
        self.event_id = Some(v.event_id.clone());
        self.instance_id = Some(v.instance_id.clone());
        self.contact_id = Some(v.contact_id.clone());
        self.user_id.clone_from(&v.user_id);
        self.rule.clone_from(&v.rule_name);
    }

    fn record_target(&mut self, t: &Target) {
        if let Supervisor::Named(user_id) = &t.supervisor {
            self.user_id = Some(user_id.clone());
        }
        self.client_token = Some(t.client_token.clone());
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
        let pool = self.pool;
        let (pool_size, pool_logged_in, pool_at_limit, pool_eligible) = (
            pool.map(|p| p.size),
            pool.map(|p| p.logged_in),
            pool.map(|p| p.at_limit),
            pool.map(|p| p.eligible),
        );
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
                    pool_size,
                    pool_logged_in,
                    pool_at_limit,
                    pool_eligible,
                    outcome = $outcome,
                    duration_us,
                    "{}",
                    $message
                )
            };
        }
        match result {
            // Nobody in the pool could take a contact that should have been monitored: worth a look.
            Ok(
                outcome @ Outcome::Skipped {
                    reason: SkipReason::NoSupervisorAvailable,
                    ..
                },
            ) => line!(warn, outcome.label(), "monitor-contact"),
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
    use crate::connect::{ConnectFailure, ContactStatus};
    use crate::pool::Present;
    use std::sync::Mutex;

    /// A Connect stand-in that records calls and answers from a script.
    struct Scripted {
        /// Operation names, in call order.
        ops: Mutex<Vec<&'static str>>,
        calls: Mutex<Vec<MonitorRequest>>,
        answer: Result<Monitoring, ConnectFailure>,
        status: Result<ContactStatus, ConnectFailure>,
        present: Result<Vec<Present>, ConnectFailure>,
        delay: Duration,
    }

    impl Scripted {
        fn record(&self, op: &'static str) {
            if let Ok(mut ops) = self.ops.lock() {
                ops.push(op);
            }
        }
    }

    impl Connect for Scripted {
        async fn start_monitoring(&self, request: &MonitorRequest) -> Result<Monitoring, ConnectFailure> {
            self.record("MonitorContact");
            if let Ok(mut calls) = self.calls.lock() {
                calls.push(request.clone());
            }
            tokio::time::sleep(self.delay).await;
            self.answer.clone()
        }

        async fn contact_status(&self, _instance: &str, _contact: &str) -> Result<ContactStatus, ConnectFailure> {
            self.record("DescribeContact");
            tokio::time::sleep(self.delay).await;
            self.status.clone()
        }

        async fn present_members(&self, _instance: &str, _pool: &[String]) -> Result<Vec<Present>, ConnectFailure> {
            self.record("GetCurrentUserData");
            tokio::time::sleep(self.delay).await;
            self.present.clone()
        }
    }

    const SUP: &str = "5a1e5000-0000-4000-8000-000000000001";
    const P1: &str = "9001";
    const P2: &str = "9002";

    fn app_with(vars: &[(&str, &str)], answer: Result<Monitoring, ConnectFailure>, delay: Duration) -> App<Scripted> {
        let config = Config::from_lookup("us-east-1", |n| {
            vars.iter().find(|(k, _)| *k == n).map(|(_, v)| (*v).to_owned())
        });
        match config {
            Ok(config) => App {
                config,
                connect: Scripted {
                    ops: Mutex::new(Vec::new()),
                    calls: Mutex::new(Vec::new()),
                    answer,
                    status: Ok(live("VOICE")),
                    present: Ok(vec![present(P1, 0), present(P2, 0)]),
                    delay,
                },
            },
            Err(e) => panic!("{e}"),
        }
    }

    fn app(answer: Result<Monitoring, ConnectFailure>, delay: Duration) -> App<Scripted> {
        app_with(&[("DEFAULT_SUPERVISOR_USER_ID", SUP)], answer, delay)
    }

    fn pool_app(extra: &[(&str, &str)], answer: Result<Monitoring, ConnectFailure>) -> App<Scripted> {
        let mut vars = vec![("SUPERVISOR_POOL_USER_IDS", "9001,9002")];
        vars.extend_from_slice(extra);
        app_with(&vars, answer, Duration::ZERO)
    }

    fn live(channel: &str) -> ContactStatus {
        ContactStatus {
            ended: false,
            initiation_method: Some("INBOUND".into()),
            channel: Some(channel.into()),
        }
    }

    fn present(user: &str, monitoring: u32) -> Present {
        Present {
            user_id: user.into(),
            monitoring,
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

    fn ops(app: &App<Scripted>) -> Vec<&'static str> {
        app.connect.ops.lock().map(|o| o.clone()).unwrap_or_default()
    }

    fn skipped(reason: SkipReason) -> Result<Outcome, MonitorError> {
        Ok(Outcome::Skipped {
            reason,
            contact_id: "c1".into(),
        })
    }

    async fn run(app: &App<Scripted>) -> Result<Outcome, MonitorError> {
        handle(app, event(DIRECT, Duration::from_secs(5))).await
    }

    #[tokio::test]
    async fn started_outcome_carries_the_request() {
        let app = app(started(), Duration::ZERO);
        let outcome = run(&app).await;
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
        assert_eq!(ops(&app), ["MonitorContact"], "no other call unless configured");
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
        let not_found = app(Err(ConnectFailure::NotFound("gone".into())), Duration::ZERO);
        let e = run(&not_found).await.err();
        assert_eq!(e.map(|e| e.kind), Some(ErrorKind::ContactNotFound));
        // A named supervisor's token refused: a real conflict, not a served event.
        let conflict = app(Err(ConnectFailure::Idempotency("used".into())), Duration::ZERO);
        assert_eq!(
            run(&conflict).await.err().map(|e| e.kind),
            Some(ErrorKind::IdempotencyConflict)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_connect_is_cut_off_before_the_deadline() {
        let app = app(started(), Duration::from_secs(60));
        let e = handle(&app, event(DIRECT, Duration::from_secs(2))).await.err();
        assert_eq!(e.map(|e| e.kind), Some(ErrorKind::DeadlineExceeded));
        assert_eq!(calls(&app), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn one_budget_covers_every_call() {
        // Each call takes 1 s: DescribeContact and GetCurrentUserData fit in 2.5 s, MonitorContact does not.
        let mut app = app_with(
            &[("SUPERVISOR_POOL_USER_IDS", "9001"), ("VERIFY_CONTACT", "true")],
            started(),
            Duration::from_secs(1),
        );
        app.connect.present = Ok(vec![present(P1, 0)]);
        let e = handle(&app, event(DIRECT, Duration::from_millis(2_800))).await.err();
        assert_eq!(e.map(|e| e.kind), Some(ErrorKind::DeadlineExceeded));
        assert_eq!(ops(&app), ["DescribeContact", "GetCurrentUserData", "MonitorContact"]);
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

    #[tokio::test]
    async fn verify_contact_skips_what_cannot_be_monitored() {
        let verify = [("DEFAULT_SUPERVISOR_USER_ID", SUP), ("VERIFY_CONTACT", "true")];
        let cases = [
            (
                ContactStatus {
                    ended: true,
                    ..live("VOICE")
                },
                SkipReason::ContactEnded,
            ),
            (
                ContactStatus {
                    initiation_method: Some("MONITOR".into()),
                    ..live("VOICE")
                },
                SkipReason::MonitorContact,
            ),
            (live("TASK"), SkipReason::ChannelNotMonitored),
        ];
        for (status, reason) in cases {
            let mut app = app_with(&verify, started(), Duration::ZERO);
            app.connect.status = Ok(status);
            assert_eq!(run(&app).await, skipped(reason));
            assert_eq!(ops(&app), ["DescribeContact"], "{reason:?}: no MonitorContact");
        }
        let app = app_with(&verify, started(), Duration::ZERO);
        assert!(matches!(run(&app).await, Ok(Outcome::Started { .. })));
        assert_eq!(ops(&app), ["DescribeContact", "MonitorContact"]);
        let mut app = app_with(&verify, started(), Duration::ZERO);
        app.connect.status = Err(ConnectFailure::AccessDenied("no".into()));
        let e = run(&app).await.err();
        assert!(
            e.as_ref()
                .is_some_and(|e| e.kind == ErrorKind::AccessDenied && e.message.contains("connect:DescribeContact")),
            "{e:?}"
        );
        assert_eq!(calls(&app), 0);
    }

    #[tokio::test]
    async fn the_pool_picks_an_eligible_member_with_the_pool_token() {
        let app = pool_app(&[], started());
        let (user, token) = match run(&app).await {
            Ok(Outcome::Started {
                user_id, client_token, ..
            }) => (user_id, client_token),
            other => panic!("{other:?}"),
        };
        let pool = [P1.to_owned(), P2.to_owned()];
        let expected = pool::choose("e1", &pool, &[present(P1, 0), present(P2, 0)], 1).0;
        assert_eq!(Some(user.clone()), expected);
        assert_eq!(token, crate::token::pool_token("e1", "i1", "c1"));
        assert_eq!(ops(&app), ["GetCurrentUserData", "MonitorContact"]);
        // The same member busy: the other one takes the event, with the same token.
        let other = if user == P1 { P2 } else { P1 };
        let mut app = pool_app(&[], started());
        app.connect.present = Ok(vec![present(&user, 1), present(other, 0)]);
        match run(&app).await {
            Ok(Outcome::Started {
                user_id, client_token, ..
            }) => assert_eq!((user_id.as_str(), client_token), (other, token)),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn nobody_eligible_is_a_skip_and_a_refused_pool_token_means_already_monitored() {
        let mut app = pool_app(&[], started());
        app.connect.present = Ok(vec![present(P1, 1)]);
        assert_eq!(run(&app).await, skipped(SkipReason::NoSupervisorAvailable));
        assert_eq!(ops(&app), ["GetCurrentUserData"]);

        let app = pool_app(&[], Err(ConnectFailure::Idempotency("token used".into())));
        assert_eq!(run(&app).await, skipped(SkipReason::AlreadyMonitored));

        let app = pool_app(&[], Err(ConnectFailure::QuotaExceeded("busy".into())));
        let e = run(&app).await.err();
        assert!(
            e.as_ref()
                .is_some_and(|e| e.kind == ErrorKind::SupervisorUnavailable && e.message.contains("from the pool")),
            "{e:?}"
        );

        let mut app = pool_app(&[], started());
        app.connect.present = Err(ConnectFailure::Throttling("slow down".into()));
        assert_eq!(run(&app).await.err().map(|e| e.kind), Some(ErrorKind::Throttled));
        assert_eq!(calls(&app), 0);
    }

    #[tokio::test]
    async fn a_named_supervisor_skips_the_pool() {
        let app = pool_app(&[], started());
        let json = r#"{"InstanceId":"i1","ContactId":"c1","EventId":"e1","UserId":"9002"}"#;
        let outcome = handle(&app, event(json, Duration::from_secs(5))).await;
        assert!(
            matches!(&outcome, Ok(Outcome::Started { user_id, client_token, .. })
                if user_id == P2 && *client_token == crate::token::client_token("e1", "i1", "c1", P2)),
            "{outcome:?}"
        );
        assert_eq!(ops(&app), ["MonitorContact"]);
    }
}

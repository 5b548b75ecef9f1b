//! The handler: one invocation's payload → the events it holds, each planned in process (`plan`) →
//! the Connect calls for all of them (`pipeline`) → the response, a log line per event and the
//! invocation's metrics.
//!
//! A single event (a contact flow, a direct invocation, EventBridge delivering straight to the
//! function) answers with its outcome or its error. An SQS batch answers with the records to
//! retry (`batchItemFailures`): every record that erred, because a retry can help (throttling,
//! Connect unavailable, the deadline, a pool pick that lost a race) or because an operator must see
//! it in the dead-letter queue (invalid events, permissions, configuration). Successes and skips are
//! never reported.

use std::time::{Duration, SystemTime};

use strum::IntoEnumIterator;
use tokio::time::Instant;

use aws_lambda_events::event::sqs::SqsBatchResponse;
use lambda_runtime::LambdaEvent;
use serde::Serialize;

use crate::budget::Pacer;
use crate::config::Config;
use crate::connect::Connect;
use crate::connect::Operation;
use crate::error::{ErrorKind, MonitorError};
use crate::event::{self, Intent, Payload, Receipt, Record};
use crate::logging::EventLog;
use crate::metrics::{Calls, Metrics, Sink, Tally};
use crate::outcome::{Outcome, SkipReason};
use crate::pipeline::{self, Env, Resolved};
use crate::plan::{Plan, validate};
use crate::pool::Snapshots;
use crate::qa_state::DynamoState;
use crate::requeue::{self, REQUEUE_TIME, Requeue, Requeued};
use crate::retry::{Window, time_budget};

/// What the handler needs, built once at init and kept by the execution environment.
pub struct App<C> {
    /// The configuration.
    pub config: Config,
    /// The Connect seam.
    pub connect: C,
    /// `CONNECT_CALLS_PER_SECOND`, per Connect API.
    pub pacer: Pacer,
    /// GetCurrentUserData's answers kept for `USER_DATA_CACHE_SECONDS`.
    pub snapshots: Snapshots,
    /// Where the metrics go.
    pub metrics: Metrics,
    /// The QA state table (`QA_STATE_TABLE`), built only when a QA rule has a quota.
    pub qa_state: Option<DynamoState>,
    /// The SQS client that gives failed records back early, built only when
    /// `SQS_RETRY_DELAY_SECONDS` is set.
    pub requeue: Option<Requeue>,
}

impl<C> App<C> {
    /// The function for `config`, writing its metrics to stdout.
    pub fn new(config: Config, connect: C) -> App<C> {
        App {
            pacer: Pacer::new(config.calls_per_second, Instant::now()),
            snapshots: Snapshots::new(config.user_data_ttl),
            metrics: Metrics::new(
                config.metrics_namespace.clone(),
                config.function_name.clone(),
                config.metrics_level,
                Sink::Stdout,
            ),
            config,
            connect,
            qa_state: None,
            requeue: None,
        }
    }

    /// The same, giving failed SQS records back to their queue early through `requeue` (see
    /// [`Requeue::for_config`]).
    pub fn with_requeue(mut self, requeue: Option<Requeue>) -> App<C> {
        self.requeue = requeue;
        self
    }

    /// The same, keeping the quota rules' counts and records in `state` (see
    /// [`DynamoState::for_config`]).
    pub fn with_qa_state(mut self, state: Option<DynamoState>) -> App<C> {
        self.qa_state = state;
        self
    }

    /// The same, writing its metrics to `sink`.
    pub fn with_metrics(mut self, sink: Sink) -> App<C> {
        self.metrics = Metrics::new(
            self.config.metrics_namespace.clone(),
            self.config.function_name.clone(),
            self.config.metrics_level,
            sink,
        );
        self
    }
}

/// What an invocation answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Response {
    /// One event's outcome.
    Single(Outcome),
    /// An SQS batch: the records to retry.
    Batch(SqsBatchResponse),
}

/// Handles one invocation. The payload is taken as the text Lambda delivered (see `runtime`), so
/// that every problem with it, not being JSON included, becomes one of this function's typed errors.
pub async fn handle<C: Connect>(app: &App<C>, event: LambdaEvent<String>) -> Result<Response, MonitorError> {
    let started = Instant::now();
    let deadline = started + time_budget(event.context.deadline, SystemTime::now()).unwrap_or(Duration::ZERO);
    let mut tally = Tally::default();
    let (planned, receipts) = match event::read(&event.payload, &event.context.request_id) {
        Err(error) => {
            let result = Err(error);
            EventLog::default().emit(&result, Some(started.elapsed()));
            tally.count(&result);
            tally.duration = started.elapsed();
            app.metrics.emit(&tally);
            return result.map(Response::Single);
        }
        Ok(Payload::Single(intent)) => (vec![plan(&app.config, Ok(*intent), SystemTime::now())], None),
        Ok(Payload::Batch(records)) => {
            let (planned, receipts) = plan_batch(&app.config, records);
            (planned, Some(receipts))
        }
    };
    let window = calls_window(app, receipts.is_some(), started, deadline);
    let (calls, results) = resolve(app, planned, window).await;
    tally.calls = calls;
    for operation in Operation::iter() {
        tally.paced[operation.index()] = app.pacer.rate(operation);
    }
    for (_, result) in &results {
        tally.count(result);
    }
    tally.duration = started.elapsed();
    let response = match receipts {
        Some(receipts) => {
            let response = batch_response(&results, tally.duration);
            requeue_failed(app, &results, &receipts, deadline).await;
            Ok(Response::Batch(response))
        }
        None => single_response(results, tally.duration),
    };
    app.metrics.emit(&tally);
    response
}

/// When the invocation's Connect calls may start and must end (see `retry`). A batch that gives
/// failed records back to the queue keeps `REQUEUE_TIME` before its deadline for that, and makes its
/// calls within `SQS_RETRY_DELAY_SECONDS` ([`Window::calls_until`]).
fn calls_window<C>(app: &App<C>, batch: bool, started: Instant, deadline: Instant) -> Window {
    let (window, attempts) = (app.config.retry_window, app.config.max_attempts);
    match &app.requeue {
        Some(requeue) if batch => {
            let calls_end = deadline.checked_sub(REQUEUE_TIME).unwrap_or(started).max(started);
            Window::for_invocation(true, started, calls_end, window, attempts).calls_until(started + requeue.delay)
        }
        _ => Window::for_invocation(batch, started, deadline, window, attempts),
    }
}

/// A batch's records, planned at one instant, and where each can be given back to its queue.
fn plan_batch(config: &Config, records: Vec<Record>) -> (Vec<Planned>, Vec<Option<Receipt>>) {
    let now = SystemTime::now();
    records
        .into_iter()
        .map(|record| {
            let mut one = redelivered(plan(config, record.intent, now), record.receive_count);
            one.log.message_id = Some(record.message_id);
            one.log.receive_count = record.receive_count;
            (one, record.receipt)
        })
        .unzip()
}

/// A single event's answer, after its log line: its one result.
fn single_response(
    results: Vec<(EventLog, Result<Outcome, MonitorError>)>,
    duration: Duration,
) -> Result<Response, MonitorError> {
    let (log, result) = results.into_iter().next().unwrap_or_else(|| {
        (
            EventLog::default(),
            Err(MonitorError::invalid("the invocation held no event")),
        )
    });
    log.emit(&result, Some(duration));
    result.map(Response::Single)
}

/// Gives the records that failed with an error a retry can soon fix back to their queue, to be
/// delivered again after `SQS_RETRY_DELAY_SECONDS` (growing with the receives) rather than the
/// queue's visibility timeout; by `deadline`. A record SQS did not take back still comes back, later:
/// a line says so, nothing fails.
async fn requeue_failed<C>(
    app: &App<C>,
    results: &[(EventLog, Result<Outcome, MonitorError>)],
    receipts: &[Option<Receipt>],
    deadline: Instant,
) {
    let Some(requeue) = &app.requeue else { return };
    let records: Vec<Requeued> = results
        .iter()
        .zip(receipts)
        .filter_map(|((log, result), receipt)| {
            let early = result.as_ref().err()?.kind.meaning().requeue_early;
            let receipt = receipt.as_ref().filter(|_| early)?;
            Some(Requeued {
                queue_arn: receipt.queue_arn.clone(),
                receipt_handle: receipt.receipt_handle.clone(),
                visible_in: requeue::visible_in(requeue.delay, log.receive_count.unwrap_or(1), fastrand::f64()),
            })
        })
        .collect();
    if records.is_empty() {
        return;
    }
    let count = records.len();
    match tokio::time::timeout_at(deadline, requeue.give_back(&records)).await {
        Ok((given_back, None)) => tracing::info!(records = count, given_back, "monitor-contact requeue"),
        Ok((given_back, Some(error))) => tracing::warn!(records = count, given_back, error, "monitor-contact requeue"),
        Err(_) => tracing::warn!(
            records = count,
            error = "no answer from SQS before the deadline",
            "monitor-contact requeue"
        ),
    }
}

/// A batch's answer, the records to retry, after a log line per record and one for the batch.
fn batch_response(results: &[(EventLog, Result<Outcome, MonitorError>)], duration: Duration) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for (log, result) in results {
        log.emit(result, None);
        if let (Err(e), Some(id)) = (result, &log.message_id)
            && e.kind.meaning().batch_item_failure
        {
            response.add_failure(id.clone());
        }
    }
    let (records, failures) = (results.len(), response.batch_item_failures.len());
    let duration_us = u64::try_from(duration.as_micros()).unwrap_or(u64::MAX);
    if failures > 0 {
        tracing::warn!(records, failures, duration_us, "monitor-contact batch");
    } else {
        tracing::info!(records, failures, duration_us, "monitor-contact batch");
    }
    response
}

/// Runs the Connect calls for the planned events that need them; every event's result, in order.
async fn resolve<C: Connect>(
    app: &App<C>,
    planned: Vec<Planned>,
    window: Window,
) -> (Calls, Vec<(EventLog, Result<Outcome, MonitorError>)>) {
    let (logs, plans): (Vec<EventLog>, Vec<Result<Plan, MonitorError>>) =
        planned.into_iter().map(|one| (one.log, one.plan)).unzip();
    let env = Env {
        connect: &app.connect,
        config: &app.config,
        pacer: &app.pacer,
        snapshots: &app.snapshots,
        state: app.qa_state.as_ref(),
    };
    let (resolved, calls) = pipeline::run(&env, plans, window).await;
    let results = logs
        .into_iter()
        .zip(resolved)
        .map(|(mut log, Resolved { result, user_id, pool })| {
            if user_id.is_some() {
                log.user_id = user_id;
            }
            log.pool = pool;
            (log, result)
        })
        .collect();
    (calls, results)
}

/// One event, planned: what to do, and what its log line says so far.
#[derive(Debug, Clone)]
pub(crate) struct Planned {
    /// What the event's log line says so far.
    pub log: EventLog,
    /// What to do, or why nothing can be done.
    pub plan: Result<Plan, MonitorError>,
}

/// The in-process part for one event, with no I/O: validate it, apply the skip rules, QA rules and
/// the policy, derive the ClientToken. `now` is the time the event's age is measured at.
pub(crate) fn plan(config: &Config, intent: Result<Intent, MonitorError>, now: SystemTime) -> Planned {
    let mut log = EventLog::default();
    let plan = intent.and_then(|intent| {
        log.source = Some(intent.source);
        let validated = validate(&intent, config)?;
        log.record_validated(&validated);
        let plan = validated.decide(config, now)?;
        match &plan {
            Plan::Done(outcome) => log.qa_rule = outcome.qa_rule().map(str::to_owned),
            Plan::Call(target) => log.record_target(target),
        }
        Ok(plan)
    });
    Planned { log, plan }
}

/// An SQS record delivered again comes back only because an earlier receive failed (or timed out).
/// When its event is now too old, retrying would act on a contact that is almost certainly over, and
/// skipping it would drop that failure silently: it stays a failure (`RetryTooLate`, no Connect
/// call), so that after the queue's receives it reaches the dead-letter queue. With the template's
/// defaults (visibility timeout 270 s, `MAX_EVENT_AGE_SECONDS` 300) a record that failed on its first
/// receive is retried once, and the next redelivery comes this late.
pub(crate) fn redelivered(mut planned: Planned, receive_count: Option<u32>) -> Planned {
    let too_old = matches!(
        planned.plan,
        Ok(Plan::Done(Outcome::Skipped {
            reason: SkipReason::EventTooOld,
            ..
        }))
    );
    if too_old && receive_count.is_some_and(|n| n > 1) {
        planned.plan = Err(MonitorError::new(
            ErrorKind::RetryTooLate,
            "this SQS message was received before and its processing failed (see the earlier log lines with this message_id); its event is now older than MAX_EVENT_AGE_SECONDS, so it is not retried but reported again, to reach the dead-letter queue",
        ));
    }
    planned
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        Config::from_lookup("us-east-1", |n| {
            (n == "DEFAULT_SUPERVISOR_USER_ID").then(|| "5a1e5000-0000-4000-8000-000000000001".to_owned())
        })
        .unwrap_or_else(|e| panic!("{e}"))
    }

    fn planned(time: &str) -> Planned {
        let json = format!(
            r#"{{"id":"ev-1","detail-type":"Amazon Connect Contact Event","source":"aws.connect","time":"{time}",
            "detail":{{"eventType":"CONNECTED_TO_AGENT","channel":"VOICE","initiationMethod":"INBOUND","contactId":"c1",
            "instanceArn":"arn:aws:connect:us-east-1:111122223333:instance/i1"}}}}"#
        );
        let intent = match event::read(&json, "r") {
            Ok(Payload::Single(intent)) => Ok(*intent),
            other => panic!("{other:?}"),
        };
        plan(&config(), intent, SystemTime::now())
    }

    #[test]
    fn a_redelivery_too_old_to_retry_stays_a_failure() {
        let old = "2000-01-01T00:00:00Z";
        assert!(matches!(
            redelivered(planned(old), Some(1)).plan,
            Ok(Plan::Done(Outcome::Skipped {
                reason: SkipReason::EventTooOld,
                ..
            }))
        ));
        assert!(
            matches!(redelivered(planned(old), None).plan, Ok(Plan::Done(_))),
            "no count: not SQS"
        );
        let again = redelivered(planned(old), Some(2));
        assert_eq!(again.plan.err().map(|e| e.kind), Some(ErrorKind::RetryTooLate));
        // A redelivery still in time is retried like a first delivery.
        let fresh = aws_sdk_connect::primitives::DateTime::from(SystemTime::now())
            .fmt(aws_sdk_connect::primitives::DateTimeFormat::DateTime)
            .unwrap_or_default();
        assert!(matches!(redelivered(planned(&fresh), Some(3)).plan, Ok(Plan::Call(_))));
    }
}

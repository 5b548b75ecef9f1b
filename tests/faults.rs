//! Faults as the field has them (issue 16), end to end: the real handler and SDK client over HTTP on
//! 127.0.0.1 against the local Connect double. A throttle, a 5xx or a slow answer costs a fraction of
//! a second, is reported by its name when it lasts, and never turns a started monitor into a failure;
//! in a paced environment it lowers the pace, which the next batch starts from.

mod support;

use std::time::{Duration, Instant};

use monitor_contact::ErrorKind;
use serde_json::json;
use support::connect_double::{Failure, MONITOR_CONTACT, Scenario};
use support::harness::*;

/// The flow function's configuration (the template's): not paced, an 8 s timeout.
const FLOW: &[(&str, &str)] = &[("CONNECT_CALLS_PER_SECOND", "off")];
const FLOW_TIMEOUT: Duration = Duration::from_secs(8);

fn throttle() -> Failure {
    Failure::new(429, "ThrottlingException", "Rate exceeded")
}

/// The ClientTokens of every MonitorContact the double received.
fn tokens(double: &support::connect_double::ConnectDouble) -> Vec<serde_json::Value> {
    double
        .requests_for(MONITOR_CONTACT)
        .iter()
        .map(|r| r.json()["ClientToken"].clone())
        .collect()
}

#[tokio::test]
async fn throttled_once_then_accepted_answers_started_within_a_second() {
    let double = double(Scenario::open()).await;
    let app = app_for(&double, FLOW);
    double.fail_next([throttle()]);
    let begun = Instant::now();
    let (_, token, _) = started(&invoke_within(&app, &sample("contact-flow-voice.json"), FLOW_TIMEOUT).await);
    let took = begun.elapsed();
    assert!(took < Duration::from_secs(1), "{took:?}");
    assert_eq!(tokens(&double), [json!(token), json!(token)], "one token, two attempts");
}

#[tokio::test]
async fn throttled_on_every_attempt_is_throttled_within_the_invoke_blocks_default_wait() {
    let double = double(Scenario::open()).await;
    let app = app_for(&double, FLOW);
    double.fail_next((0..100).map(|_| throttle()));
    let begun = Instant::now();
    let result = invoke_within(&app, &sample("contact-flow-voice.json"), FLOW_TIMEOUT).await;
    let took = begun.elapsed();
    assert_eq!(error_kind(&result), ErrorKind::Throttled);
    assert!(took < Duration::from_secs(3), "{took:?}");
    let sent = tokens(&double);
    assert!(sent.len() >= 3, "{} attempts", sent.len());
    assert!(sent.iter().all(|t| *t == sent[0]), "one ClientToken: {sent:?}");
    let message = result.err().map(|e| e.message).unwrap_or_default();
    assert!(
        message.contains("request quota") && message.contains("Service Quotas"),
        "says what was exceeded and where to raise it: {message}"
    );
}

#[tokio::test]
async fn a_longer_retry_window_is_one_setting() {
    let double = double(Scenario::open()).await;
    let app = app_for(
        &double,
        &[("CONNECT_CALLS_PER_SECOND", "off"), ("CONNECT_RETRY_SECONDS", "0")],
    );
    double.fail_next((0..100).map(|_| throttle()));
    let result = invoke_within(&app, &sample("direct.json"), FLOW_TIMEOUT).await;
    assert_eq!(error_kind(&result), ErrorKind::Throttled);
    assert_eq!(tokens(&double).len(), 1, "0: no retry");
    let double = self::double(Scenario::open()).await;
    let app = app_for(
        &double,
        &[("CONNECT_CALLS_PER_SECOND", "off"), ("CONNECT_RETRY_SECONDS", "5")],
    );
    double.fail_next((0..100).map(|_| throttle()));
    let begun = Instant::now();
    let result = invoke_within(&app, &sample("direct.json"), FLOW_TIMEOUT).await;
    assert_eq!(error_kind(&result), ErrorKind::Throttled);
    assert!(tokens(&double).len() >= 3, "{} attempts", tokens(&double).len());
    assert!(begun.elapsed() < Duration::from_millis(5_500), "{:?}", begun.elapsed());
}

#[tokio::test]
async fn an_internal_service_error_then_success_is_started() {
    let double = double(Scenario::open()).await;
    let app = app_for(&double, FLOW);
    double.fail_next([Failure::new(500, "InternalServiceException", "oops")]);
    let begun = Instant::now();
    started(&invoke_within(&app, &sample("contact-flow-voice.json"), FLOW_TIMEOUT).await);
    assert!(begun.elapsed() < Duration::from_secs(1), "{:?}", begun.elapsed());
    assert_eq!(tokens(&double).len(), 2);
}

#[tokio::test]
async fn a_slow_answer_is_not_a_failure() {
    let double = double(Scenario::open()).await;
    double.state().delay = Duration::from_millis(2_500);
    let app = app_for(&double, FLOW);
    let begun = Instant::now();
    started(&invoke_within(&app, &sample("contact-flow-voice.json"), FLOW_TIMEOUT).await);
    let took = begun.elapsed();
    assert!(took < Duration::from_millis(3_500), "{took:?}");
    assert_eq!(tokens(&double).len(), 1, "the attempt was not cut short");
    assert_eq!(double.monitors().len(), 1, "one monitor");
}

#[tokio::test]
async fn a_deadline_that_ends_an_attempt_says_the_monitor_may_have_started() {
    let double = double(Scenario::open()).await;
    double.state().delay = Duration::from_millis(2_500);
    let app = app_for(&double, FLOW);
    let result = invoke_within(&app, &sample("contact-flow-voice.json"), Duration::from_secs(2)).await;
    assert_eq!(error_kind(&result), ErrorKind::DeadlineExceeded);
    let message = result.err().map(|e| e.message).unwrap_or_default();
    assert!(
        message.contains("may have started") && message.contains("retrying the same event is safe"),
        "{message}"
    );
    // Connect carried it out: the same event again is answered with that monitor, not a second one.
    tokio::time::sleep(Duration::from_millis(800)).await;
    double.state().delay = Duration::ZERO;
    started(&invoke_within(&app, &sample("contact-flow-voice.json"), FLOW_TIMEOUT).await);
    assert_eq!(double.monitors().len(), 1, "one monitor");
}

#[tokio::test]
async fn a_batch_throttled_past_its_deadline_fails_as_throttled_and_the_next_starts_lower() {
    let double = double(Scenario::open()).await;
    // The automation function's budget: 1 call/s per API.
    let app = app_for(&double, &[("CONNECT_CALLS_PER_SECOND", "1")]);
    let bodies: Vec<String> = (1..=3)
        .map(|n| {
            let contact = format!("c0000000-0000-4000-8000-{n:012}");
            contact_event(&format!("ev-{n}"), &contact, "CONNECTED_TO_AGENT")
        })
        .collect();
    double.fail_next_on(MONITOR_CONTACT, (0..100).map(|_| throttle()));
    let begun = Instant::now();
    let (failures, counts) = invoke_batch_within(&app, &bodies, 1, Duration::from_secs(4)).await;
    assert!(begun.elapsed() < Duration::from_secs(4), "answered before its deadline");
    assert_eq!(failures, ["m-0", "m-1", "m-2"]);
    assert_eq!(counts.outcomes.get("Failed/Throttled"), Some(&3), "{counts:?}");
    let attempts = double.requests_for(MONITOR_CONTACT).len() as u64;
    assert_eq!(
        counts.calls.get("MonitorContact"),
        Some(&attempts),
        "every attempt counted"
    );
    assert_eq!(counts.throttled, attempts);
    let lowered = counts.paced.get("MonitorContact").copied().unwrap_or(1.0);
    assert!(lowered <= 0.5, "the pace was lowered: {lowered}");
    // Connect is fine again: the next batch starts from the lowered pace and wins it back.
    double.state().failures.clear();
    let after = double.requests_for(MONITOR_CONTACT).len();
    let (_, counts) = invoke_batch_within(&app, &bodies[..1], 2, Duration::from_secs(20)).await;
    assert_eq!(counts.outcomes.get("Started"), Some(&1), "{counts:?}");
    assert_eq!(double.requests_for(MONITOR_CONTACT).len(), after + 1);
    let now = counts.paced.get("MonitorContact").copied().unwrap_or(1.0);
    assert!(now > lowered && now < 1.0, "{lowered} -> {now}");
}

#[tokio::test]
async fn another_client_takes_from_the_same_quota() {
    let mut scenario = Scenario::open();
    scenario.quotas = Some(support::connect_double::Quotas::every_api(2.0, 5.0));
    let double = double(scenario).await;
    let other = double.other_client(MONITOR_CONTACT, 50.0, 7);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (admitted, throttled) = other.counts();
    assert!((5..=8).contains(&admitted), "a burst of 5 and 2/s: {admitted}");
    assert!(throttled > 10, "the rest is throttled: {throttled}");
    drop(other);
}

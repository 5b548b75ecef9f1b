//! SQS batches (issue 10), end to end: the real handler and SDK client over HTTP on 127.0.0.1
//! against the local Connect double. One batch costs few calls (one GetCurrentUserData per instance,
//! one MonitorContact per contact monitored), and a record is reported as a failure exactly when it
//! should come back.

mod support;

use std::time::Duration;

use monitor_contact::client_token::{self, Purpose};
use serde_json::json;
use support::connect_double::{
    ContactSpec, DESCRIBE_CONTACT, Failure, GET_CURRENT_USER_DATA, MONITOR_CONTACT, Scenario,
};
use support::harness::*;

/// Users of a pool, every one logged in and free in an open scenario.
fn members(n: usize) -> String {
    (1..=n)
        .map(|i| format!("a0000000-0000-4000-8000-{i:012}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn contact(n: usize) -> String {
    format!("c0000000-0000-4000-8000-{n:012}")
}

fn pool_of(double: &support::connect_double::ConnectDouble, n: usize, extra: &[(&str, &str)]) -> TestApp {
    let pool = members(n);
    let mut vars = vec![
        ("DEFAULT_SUPERVISOR_USER_ID", ""),
        ("SUPERVISOR_POOL_USER_IDS", pool.as_str()),
    ];
    vars.extend_from_slice(extra);
    app_for(double, &vars)
}

/// CONNECTED_TO_AGENT events for contacts 1 to `n`, one each.
fn connected(n: usize) -> Vec<String> {
    (1..=n)
        .map(|n| contact_event(&format!("ev-{n}"), &contact(n), "CONNECTED_TO_AGENT"))
        .collect()
}

fn count(counts: &Counts, key: &str) -> u64 {
    counts.outcomes.get(key).copied().unwrap_or(0)
}

#[tokio::test]
async fn a_batch_costs_one_user_data_call_and_one_monitor_per_contact_and_purpose() {
    let double = double(Scenario::open()).await;
    let app = pool_of(&double, 5, &[]);
    let qa = contact_event("ev-1", &contact(1), "CONNECTED_TO_AGENT");
    let bodies = vec![
        qa.clone(),
        qa, // EventBridge delivered it twice
        contact_lens_event("cl-1", &contact(1), "Negative sentiment"),
        contact_lens_event("cl-2", &contact(1), "Asks for a manager"),
        contact_event("ev-2", &contact(2), "CONNECTED_TO_AGENT"),
        contact_event("ev-3", &contact(3), "QUEUED"),
        contact_event("ev-4", &contact(4), "CONNECTED_TO_AGENT"),
    ];
    let (failures, counts) = invoke_batch_within(&app, &bodies, 1, Duration::from_secs(60)).await;
    assert!(failures.is_empty(), "{failures:?}");
    assert_eq!(double.requests_for(GET_CURRENT_USER_DATA).len(), 1, "one per batch");
    let monitors = double.requests_for(MONITOR_CONTACT);
    assert_eq!(
        monitors.len(),
        4,
        "contact 1 for QA and for escalation, contacts 2 and 4"
    );
    let tokens: Vec<String> = monitors
        .iter()
        .map(|r| r.json()["ClientToken"].as_str().unwrap_or_default().to_owned())
        .collect();
    for expected in [
        client_token::contact_pool_token(INSTANCE, &contact(1), Purpose::Qa),
        client_token::contact_pool_token(INSTANCE, &contact(1), Purpose::Escalation),
        client_token::contact_pool_token(INSTANCE, &contact(2), Purpose::Qa),
        client_token::contact_pool_token(INSTANCE, &contact(4), Purpose::Qa),
    ] {
        assert!(tokens.contains(&expected), "{expected} in {tokens:?}");
    }
    let users: std::collections::HashSet<String> = monitors
        .iter()
        .map(|r| r.json()["UserId"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(users.len(), 4, "nobody beyond their limit of 1");
    assert_eq!(count(&counts, "Started"), 6);
    assert_eq!(count(&counts, "Skipped/NOT_A_TRIGGER_EVENT"), 1);
    assert_eq!(counts.calls.get("GetCurrentUserData"), Some(&1));
    assert_eq!(counts.calls.get("MonitorContact"), Some(&4));
}

#[tokio::test]
async fn contacts_beyond_the_pools_capacity_cost_no_monitor_call() {
    let double = double(Scenario::open()).await;
    let app = pool_of(&double, 2, &[]);
    let bodies = connected(5);
    let (failures, counts) = invoke_batch_within(&app, &bodies, 1, Duration::from_secs(60)).await;
    assert!(failures.is_empty(), "a full pool is a normal day: {failures:?}");
    assert_eq!(count(&counts, "Started"), 2);
    assert_eq!(count(&counts, "Skipped/NO_SUPERVISOR_AVAILABLE"), 3);
    assert_eq!(double.requests_for(MONITOR_CONTACT).len(), 2);
    // The same batch again (a redelivery of all of it): the same two contacts are served by their
    // monitors, the others still find nobody.
    let (failures, counts) = invoke_batch_within(&app, &bodies, 2, Duration::from_secs(60)).await;
    assert!(failures.is_empty(), "{failures:?}");
    assert_eq!(
        count(&counts, "Skipped/NO_SUPERVISOR_AVAILABLE") + count(&counts, "Skipped/ALREADY_MONITORED"),
        5
    );
    assert_eq!(double.state().started(), 2, "no second monitor anywhere");
}

#[tokio::test]
async fn a_seat_that_started_nothing_goes_to_the_next_contact() {
    // One member: contact 1 has ended by the time its monitor is asked for, so the member takes
    // contact 2, and contact 3 finds the pool full.
    let double = double(Scenario::open()).await;
    double.add_contact(&contact(1), ContactSpec::live("VOICE"));
    assert!(double.end_contact(&contact(1)));
    let app = pool_of(&double, 1, &[]);
    let bodies = connected(3);
    let (failures, counts) = invoke_batch_within(&app, &bodies, 1, Duration::from_secs(60)).await;
    assert!(failures.is_empty(), "{failures:?}");
    assert_eq!(count(&counts, "Skipped/CONTACT_ENDED"), 1);
    assert_eq!(count(&counts, "Started"), 1);
    assert_eq!(count(&counts, "Skipped/NO_SUPERVISOR_AVAILABLE"), 1);
    let monitored: Vec<String> = double.monitors().iter().map(|m| m.contact.clone()).collect();
    assert_eq!(monitored, [contact(2)]);
    assert_eq!(double.requests_for(MONITOR_CONTACT).len(), 2, "none for contact 3");
}

#[tokio::test]
async fn a_default_supervisor_who_is_not_logged_in_costs_one_call_per_batch() {
    let double = pool_double().await;
    let app = app_for(
        &double,
        &[
            ("DEFAULT_SUPERVISOR_USER_ID", OUT),
            ("ALLOWED_SUPERVISOR_USER_IDS", OUT),
        ],
    );
    let bodies: Vec<String> = [VOICE, CHAT]
        .iter()
        .enumerate()
        .map(|(n, c)| contact_event(&format!("ev-{n}"), c, "CONNECTED_TO_AGENT"))
        .collect();
    let (failures, counts) = invoke_batch_within(&app, &bodies, 1, Duration::from_secs(60)).await;
    assert!(failures.is_empty(), "{failures:?}");
    assert_eq!(count(&counts, "Skipped/SUPERVISOR_UNAVAILABLE"), 2);
    assert_eq!(
        double.requests_for(MONITOR_CONTACT).len(),
        1,
        "Connect's refusal stands for the rest of the batch"
    );
}

#[tokio::test]
async fn failures_are_reported_exactly_when_they_should_come_back() {
    let double = double(Scenario::open()).await;
    // Three attempts per call, so that a record throttled three times fails (a batch otherwise
    // retries until its deadline).
    let app = app_for(&double, &[("AWS_MAX_ATTEMPTS", "3")]);
    let mut invalid: serde_json::Value =
        serde_json::from_str(&contact_event("ev-bad", &contact(9), "CONNECTED_TO_AGENT")).unwrap_or_default();
    invalid["detail"]
        .as_object_mut()
        .map(|detail| detail.remove("contactId"));
    let bodies = vec![
        contact_event("ev-1", &contact(1), "CONNECTED_TO_AGENT"), // throttled beyond the retries
        invalid.to_string(),                                      // an operator must see it
        contact_event("ev-3", &contact(3), "QUEUED"),             // a skip
        contact_event("ev-4", &contact(4), "CONNECTED_TO_AGENT"), // a success
        "not json".to_owned(),                                    // not an event at all
    ];
    double.fail_next_on(
        MONITOR_CONTACT,
        (0..3).map(|_| Failure::new(429, "ThrottlingException", "Rate exceeded")),
    );
    let (failures, counts) = invoke_batch_within(&app, &bodies, 1, Duration::from_secs(60)).await;
    assert_eq!(failures, ["m-0", "m-1", "m-4"]);
    assert_eq!(count(&counts, "Failed/Throttled"), 1);
    assert_eq!(count(&counts, "Failed/InvalidEvent"), 1);
    assert_eq!(count(&counts, "Failed/UnrecognizedEvent"), 1);
    assert!(counts.throttled >= 3, "every throttled attempt is counted: {counts:?}");
    // The invalid record delivered again makes no Connect call.
    let before = double.requests().len();
    let failures = invoke_batch(&app, &[invalid.to_string()], 2).await;
    assert_eq!(failures, ["m-0"]);
    assert_eq!(double.requests().len(), before);
}

#[tokio::test]
async fn records_the_invocation_has_no_time_left_for_are_failures_never_dropped() {
    let double = double(Scenario::open()).await;
    double.state().delay = Duration::from_millis(400);
    let app = app_for(&double, &[("CONNECT_CALLS_PER_SECOND", "off")]);
    let bodies = connected(6);
    // 1.5 s in all, 300 ms of it kept back: time for about two calls of 400 ms.
    let (failures, counts) = invoke_batch_within(&app, &bodies, 1, Duration::from_millis(1_500)).await;
    let started = count(&counts, "Started");
    assert!((1..=3).contains(&started), "{counts:?}");
    assert_eq!(failures.len() as u64, 6 - started);
    assert_eq!(count(&counts, "Failed/DeadlineExceeded"), 6 - started);
    assert!(double.requests_for(MONITOR_CONTACT).len() as u64 <= started + 1);
}

#[tokio::test]
async fn a_pick_that_lost_a_race_is_retryable_and_the_redelivery_picks_again() {
    let double = double(Scenario::open()).await;
    let app = pool_of(&double, 3, &[]);
    let body = contact_event("ev-1", &contact(1), "CONNECTED_TO_AGENT");
    // Another execution environment took the member between GetCurrentUserData and MonitorContact.
    double.fail_next_on(
        MONITOR_CONTACT,
        [Failure::new(
            402,
            "ServiceQuotaExceededException",
            "the user is at their monitoring limit",
        )],
    );
    let (failures, counts) = invoke_batch_within(&app, std::slice::from_ref(&body), 1, Duration::from_secs(60)).await;
    assert_eq!(failures, ["m-0"]);
    assert_eq!(count(&counts, "Failed/SupervisorUnavailable"), 1);
    let (failures, counts) = invoke_batch_within(&app, &[body], 2, Duration::from_secs(60)).await;
    assert!(failures.is_empty(), "{failures:?}");
    assert_eq!(count(&counts, "Started"), 1);
    let tokens: Vec<serde_json::Value> = double
        .requests_for(MONITOR_CONTACT)
        .iter()
        .map(|r| r.json()["ClientToken"].clone())
        .collect();
    let token = json!(client_token::contact_pool_token(INSTANCE, &contact(1), Purpose::Qa));
    assert_eq!(tokens, [token.clone(), token], "the same token both times");
    assert_eq!(double.requests_for(GET_CURRENT_USER_DATA).len(), 2, "ranked again");
}

#[tokio::test]
async fn a_redelivery_that_comes_too_late_reaches_the_dead_letter_queue() {
    let double = double(Scenario::open()).await;
    let app = app_for(&double, &[]);
    let old = contact_event("ev-1", &contact(1), "CONNECTED_TO_AGENT").replace(&now_rfc3339(0), &now_rfc3339(-400));
    // First delivered late: a skip, deleted.
    let (failures, counts) = invoke_batch_within(&app, std::slice::from_ref(&old), 1, Duration::from_secs(60)).await;
    assert!(failures.is_empty());
    assert_eq!(count(&counts, "Skipped/EVENT_TOO_OLD"), 1);
    // Delivered again (an earlier receive failed) and now too old: reported, with no call.
    let (failures, counts) = invoke_batch_within(&app, &[old], 3, Duration::from_secs(60)).await;
    assert_eq!(failures, ["m-0"]);
    assert_eq!(count(&counts, "Failed/RetryTooLate"), 1);
    assert!(double.requests().is_empty());
}

#[tokio::test]
async fn a_broken_envelope_fails_the_whole_invocation() {
    let double = double(Scenario::open()).await;
    let app = app_for(&double, &[]);
    let mut batch: serde_json::Value =
        serde_json::from_str(&sqs_batch(&[contact_event("e", &contact(1), "CONNECTED_TO_AGENT")], 1))
            .unwrap_or_default();
    batch["Records"][0]["messageId"] = json!(null);
    let e = invoke(&app, &batch.to_string()).await.err();
    assert!(
        e.as_ref().is_some_and(
            |e| e.kind == monitor_contact::ErrorKind::InvalidEvent && e.message.contains("Records[0].messageId")
        ),
        "{e:?}"
    );
    assert!(double.requests().is_empty());
}

#[tokio::test]
async fn the_live_check_in_a_batch_costs_one_describe_contact_per_contact() {
    let double = double(Scenario::open()).await;
    let app = app_for(&double, &[("VERIFY_CONTACT", "true")]);
    let bodies = vec![
        contact_event("ev-1", &contact(1), "CONNECTED_TO_AGENT"),
        contact_lens_event("cl-1", &contact(1), "upset"),
        contact_event("ev-2", &contact(2), "CONNECTED_TO_AGENT"),
    ];
    let failures = invoke_batch(&app, &bodies, 1).await;
    assert!(failures.is_empty());
    assert_eq!(double.requests_for(DESCRIBE_CONTACT).len(), 2);
    assert_eq!(
        double.requests_for(MONITOR_CONTACT).len(),
        2,
        "the default supervisor's token names the monitor: QA and escalation share it"
    );
}

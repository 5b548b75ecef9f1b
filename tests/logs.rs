//! What the function logs, through its own subscriber at TRACE (the SDK's TRACE output included):
//! one line per invocation with the validated identifiers, and never customer data: not the event's
//! endpoint or attributes, not what DescribeContact returns about the customer.
//!
//! One test on purpose: tracing caches per call site whether anyone listens, and a call site first
//! reached by another test's thread while this one installs its subscriber can be cached as unheard,
//! dropping lines here. Alone in its process, the test sees every line.

mod support;

use monitor_contact::SkipReason;
use serde_json::{Value, json};
use support::connect_double::{Failure, Scenario};
use support::harness::*;

#[tokio::test]
async fn logs_carry_one_line_per_invocation_and_never_customer_data() {
    core_invocations().await;
    pool_and_live_check().await;
    sqs_batch_records().await;
}

/// Checks that no line holds any of `secrets`, and returns the invocation lines (those with an
/// `outcome`), parsed.
fn invocation_lines(text: &str, secrets: &[&str]) -> Vec<Value> {
    for secret in secrets {
        assert!(!text.contains(secret), "a log line contains {secret:?}");
    }
    text.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["fields"]["outcome"].is_string())
        .collect()
}

/// The core sources, errors and escalations: one line each, no customer data.
async fn core_invocations() {
    let (captured, _guard) = capture_logs();

    let double = double(Scenario::open()).await;
    let app = app_for(&double, &[]);
    let events = [
        "contact-flow-voice.json",
        "contact-flow-chat.json",
        "eventbridge-connected-to-agent.json",
        "invalid-wrong-types.json",
        "eventbridge-contact-lens-voice.json",
    ];
    for name in events {
        let _ = invoke(&app, &sample(name)).await;
    }
    double.fail_next([Failure::new(404, "ResourceNotFoundException", "gone")]);
    let _ = invoke(&app, &sample("contact-flow-voice.json").replace("INBOUND", "TRANSFER")).await;

    let text = captured.text();
    assert!(
        text.lines().count() > events.len(),
        "the SDK's own TRACE output was captured too"
    );
    let lines = invocation_lines(
        &text,
        &[
            "5555550123",
            "555-0123",
            "billing dispute",
            "4417-2291",
            "Jordan",
            "+1555",
            "cancel my account",
        ],
    );
    assert_eq!(lines.len(), events.len() + 1, "one line per invocation");
    let first = &lines[0]["fields"];
    for field in [
        "source",
        "event_id",
        "instance",
        "contact",
        "supervisor",
        "client_token",
        "outcome",
        "duration_us",
    ] {
        assert!(!first[field].is_null(), "the line has {field}: {first}");
    }
    assert_eq!(first["outcome"], "STARTED");
    assert_eq!(lines[3]["fields"]["outcome"], "InvalidEvent");
    assert_eq!(lines[4]["fields"]["outcome"], "STARTED");
    assert_eq!(
        lines[4]["fields"]["rule"], "Customer upset - escalate",
        "escalations log their rule"
    );
    assert_eq!(lines[5]["fields"]["outcome"], "ContactNotFound");
    assert_eq!(lines[5]["level"], "WARN");
}

/// The pool and the live check: the pool state is logged, what DescribeContact returned is not.
async fn pool_and_live_check() {
    let (captured, _guard) = capture_logs();

    let double = pool_double().await;
    let app = pool_app(&double, &[("VERIFY_CONTACT", "true")]);
    let event = sample("eventbridge-connected-to-agent.json");
    started(&invoke(&app, &event).await);
    // Everyone busy now: FREE or AGENT took the first event, make the other busy too.
    if let Some(users) = &mut double.state().scenario.users {
        for user in users.values_mut() {
            user.monitoring = user.monitoring.max(1);
        }
    }
    let nobody = connected_event_with_id("5d4c3b2a-0000-4000-8000-000000000001");
    assert_eq!(skipped(&invoke(&app, &nobody).await), SkipReason::NoSupervisorAvailable);

    let text = captured.text();
    assert!(text.lines().count() > 2, "the SDK's own TRACE output was captured too");
    // DescribeContact's answer carries the customer's number and attributes; the event carries a number.
    let lines = invocation_lines(&text, &["2065550142", "Pat Example", "billing dispute", "5555550123"]);
    assert_eq!(lines.len(), 2, "one line per invocation: {lines:?}");
    let first = &lines[0]["fields"];
    assert_eq!(first["outcome"], "STARTED");
    assert_eq!(
        (
            &first["pool_size"],
            &first["pool_logged_in"],
            &first["pool_at_limit"],
            &first["pool_eligible"]
        ),
        (&json!(4), &json!(3), &json!(1), &json!(2))
    );
    assert!(first["supervisor"] == FREE || first["supervisor"] == AGENT, "{first}");
    let second = &lines[1];
    assert_eq!(second["fields"]["outcome"], "NO_SUPERVISOR_AVAILABLE");
    assert_eq!(second["level"], "WARN");
    assert_eq!(second["fields"]["pool_eligible"], json!(0));
    assert_eq!(second["fields"]["pool_at_limit"], json!(3));
    assert!(second["fields"]["supervisor"].is_null(), "nobody was picked");
    assert!(
        second["fields"]["client_token"].is_string(),
        "the token is known before the pick"
    );
}

/// An SQS batch: one line per record, with its outcome, contact and messageId, and one for the batch.
async fn sqs_batch_records() {
    let (captured, _guard) = capture_logs();

    let double = double(Scenario::open()).await;
    let app = app_for(
        &double,
        &[
            ("DEFAULT_SUPERVISOR_USER_ID", OUT),
            ("ALLOWED_SUPERVISOR_USER_IDS", OUT),
        ],
    );
    if let Ok(scenario) = Scenario::from_json(&json!({"users": {OUT: {"loggedIn": false}}}).to_string()) {
        double.state().scenario.users = scenario.users;
    }
    let bodies: Vec<String> = serde_json::from_str::<Value>(&sample("sqs-batch.json"))
        .ok()
        .and_then(|v| v["Records"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|r| r["body"].as_str().map(str::to_owned))
        .collect();
    let failures = invoke_batch(&app, &bodies, 1).await;
    assert!(failures.is_empty(), "{failures:?}");

    let text = captured.text();
    let lines = invocation_lines(&text, &["5555550123", "cancel my account"]);
    assert_eq!(lines.len(), bodies.len(), "one line per record: {lines:?}");
    for (n, line) in lines.iter().enumerate() {
        let fields = &line["fields"];
        assert_eq!(fields["message_id"], format!("m-{n}"), "{line}");
        assert_eq!(fields["receive_count"], 1, "{line}");
        assert_eq!(fields["contact"], VOICE, "{line}");
        assert!(
            fields["duration_us"].is_null(),
            "the batch line has the duration: {line}"
        );
    }
    assert_eq!(lines[0]["fields"]["outcome"], "NOT_A_TRIGGER_EVENT");
    // The default supervisor is not logged in: a skip, at WARN.
    assert_eq!(lines[1]["fields"]["outcome"], "SUPERVISOR_UNAVAILABLE");
    assert_eq!(lines[1]["level"], "WARN");
    let batch: Vec<Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["fields"]["message"] == "monitor-contact batch")
        .collect();
    assert_eq!(batch.len(), 1);
    assert_eq!(batch[0]["fields"]["records"], bodies.len());
    assert_eq!(batch[0]["fields"]["failures"], 0);
    assert!(batch[0]["fields"]["duration_us"].is_u64());
}

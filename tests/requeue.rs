//! Failed SQS records given back to their queue early (`SQS_RETRY_DELAY_SECONDS`, issue 16): the real
//! handler, the real SDK clients over HTTP on 127.0.0.1, the local Connect double, and a queue in
//! moto's server mode, received from and changed as Lambda's event source mapping and the function do.

mod support;

use std::time::{Duration, Instant};

use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use monitor_contact::requeue::Requeue;
use monitor_contact::{Response, handle};
use serde_json::{Value, json};
use support::connect_double::{ConnectDouble, Failure, MONITOR_CONTACT, Scenario};
use support::harness::*;
use support::moto::{Moto, sdk_config_for};

/// moto's account.
const ACCOUNT: &str = "123456789012";
/// The queue's visibility timeout: what a record not given back waits.
const VISIBILITY: u32 = 60;

fn contact(n: u32) -> String {
    format!("c0c0c0c0-0000-4000-8000-{n:012}")
}

/// A queue in moto with `bodies` sent to it and received once (as the event source mapping does):
/// the client, the queue's ARN, and the SQS event of that receive.
async fn received(moto: &Moto, name: &str, bodies: &[String]) -> (aws_sdk_sqs::Client, String, String) {
    let sqs = aws_sdk_sqs::Client::new(&moto.sdk_config().await);
    let url = sqs
        .create_queue()
        .queue_name(name)
        .attributes(QueueAttributeName::VisibilityTimeout, VISIBILITY.to_string())
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateQueue: {e:?}"))
        .queue_url
        .unwrap_or_default();
    for body in bodies {
        sqs.send_message()
            .queue_url(&url)
            .message_body(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("SendMessage: {e:?}"));
    }
    let arn = format!("arn:aws:sqs:us-east-1:{ACCOUNT}:{name}");
    let messages = receive(&sqs, &url).await;
    assert_eq!(messages.len(), bodies.len(), "every message received once");
    let records: Vec<Value> = messages
        .iter()
        .map(|m| {
            json!({
                "messageId": m.message_id(), "receiptHandle": m.receipt_handle(), "body": m.body(),
                "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1795000000000"},
                "messageAttributes": {}, "md5OfBody": m.md5_of_body(),
                "eventSource": "aws:sqs", "eventSourceARN": arn, "awsRegion": "us-east-1"
            })
        })
        .collect();
    (sqs, url, json!({ "Records": records }).to_string())
}

/// The visible messages of the queue, received (each receive counts).
async fn receive(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<aws_sdk_sqs::types::Message> {
    sqs.receive_message()
        .queue_url(url)
        .max_number_of_messages(10)
        .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
        .send()
        .await
        .unwrap_or_else(|e| panic!("ReceiveMessage: {e:?}"))
        .messages
        .unwrap_or_default()
}

/// The batch's answer: the message IDs reported as failed.
async fn failures(app: &TestApp, payload: &str) -> Vec<String> {
    match handle(app, event(payload, Duration::from_secs(30))).await {
        Ok(Response::Batch(response)) => response
            .batch_item_failures
            .into_iter()
            .map(|f| f.item_identifier)
            .collect(),
        other => panic!("a batch answered {other:?}"),
    }
}

/// The batch's answer (the failed message IDs) and its log lines, MonitorContact throttled `times`
/// first.
async fn throttled_batch(
    double: &ConnectDouble,
    times: usize,
    app: &TestApp,
    payload: &str,
) -> (Vec<String>, Captured) {
    double.fail_next_on(
        MONITOR_CONTACT,
        (0..times).map(|_| Failure::new(429, "ThrottlingException", "Rate exceeded")),
    );
    let (logs, guard) = capture_logs();
    let failed = failures(app, payload).await;
    drop(guard);
    (failed, logs)
}

/// The message ID a body was sent with, from the event.
fn id_of(payload: &str, body: &str) -> String {
    let event: Value = serde_json::from_str(payload).unwrap_or_default();
    let records = event["Records"].as_array().cloned().unwrap_or_default();
    let record = records.iter().find(|r| r["body"] == body);
    record
        .and_then(|r| r["messageId"].as_str())
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn a_throttled_record_comes_back_in_seconds_and_an_invalid_one_after_the_visibility_timeout() {
    let moto = Moto::start();
    let double = double(Scenario::open()).await;
    let throttled = contact_event("ev-1", &contact(1), "CONNECTED_TO_AGENT");
    let invalid = contact_event("ev-2", "not a contact id", "CONNECTED_TO_AGENT");
    let started = contact_event("ev-3", &contact(3), "CONNECTED_TO_AGENT");
    let bodies = [throttled.clone(), invalid.clone(), started];
    let (sqs, url, payload) = received(&moto, "automation", &bodies).await;
    // Unpaced, so that the throttled record's three attempts leave the next record time for its call
    // within the batch's time for calls (the delay).
    let vars = [
        ("AWS_MAX_ATTEMPTS", "3"),
        ("SQS_RETRY_DELAY_SECONDS", "2"),
        ("CONNECT_CALLS_PER_SECOND", "off"),
    ];
    let mut app = app_for(&double, &vars);
    let delay = app.config.sqs_retry_delay.unwrap_or_else(|| panic!("the delay is set"));
    app.app = app
        .app
        .with_requeue(Some(Requeue::new(&moto.sdk_config().await, delay)));
    let (failed, logs) = throttled_batch(&double, 3, &app, &payload).await;
    let (throttled_id, invalid_id) = (id_of(&payload, &throttled), id_of(&payload, &invalid));
    assert_eq!(failed.len(), 2, "{failed:?}");
    assert!(
        failed.contains(&throttled_id) && failed.contains(&invalid_id),
        "{failed:?}"
    );
    let line = logs
        .text()
        .lines()
        .find(|l| l.contains("monitor-contact requeue"))
        .map(str::to_owned);
    let line = line.unwrap_or_else(|| panic!("no requeue line: {}", logs.text()));
    assert!(
        line.contains("\"records\":1") && line.contains("\"given_back\":1"),
        "{line}"
    );

    // Only the throttled record comes back, after about the delay, received a second time.
    let since = Instant::now();
    let back = loop {
        let messages = receive(&sqs, &url).await;
        if !messages.is_empty() || since.elapsed() > Duration::from_secs(10) {
            break messages;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(back.len(), 1, "{back:?}");
    assert_eq!(back[0].message_id(), Some(throttled_id.as_str()));
    let count = back[0]
        .attributes()
        .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
        .map(String::as_str);
    assert_eq!(count, Some("2"));
    assert!(
        since.elapsed() < Duration::from_secs(5),
        "back after {:?}",
        since.elapsed()
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        receive(&sqs, &url).await.is_empty(),
        "the invalid record waits the visibility timeout"
    );
}

#[tokio::test]
async fn a_queue_that_does_not_answer_changes_nothing_in_the_batch_answer() {
    let double = double(Scenario::open()).await;
    let body = contact_event("ev-1", &contact(1), "CONNECTED_TO_AGENT");
    let payload = sqs_batch(&[body], 1);
    let mut app = app_for(&double, &[("AWS_MAX_ATTEMPTS", "2"), ("SQS_RETRY_DELAY_SECONDS", "10")]);
    // Nothing listens on port 1: the connection is refused.
    let nowhere = sdk_config_for("http://127.0.0.1:1").await;
    app.app = app
        .app
        .with_requeue(Some(Requeue::new(&nowhere, Duration::from_secs(10))));
    let (failed, logs) = throttled_batch(&double, 2, &app, &payload).await;
    assert_eq!(failed, ["m-0"]);
    let text = logs.text();
    let line = text
        .lines()
        .find(|l| l.contains("monitor-contact requeue"))
        .unwrap_or_default();
    assert!(
        line.contains("\"level\":\"WARN\"") && line.contains("\"given_back\":0"),
        "{text}"
    );
    assert!(line.contains("ChangeMessageVisibilityBatch"), "{line}");
}

#[tokio::test]
async fn without_the_setting_no_client_is_built() {
    let sdk = sdk_config_for("http://127.0.0.1:1").await;
    assert!(Requeue::for_config(&config(&[]), &sdk).is_none());
    assert!(Requeue::for_config(&config(&[("SQS_RETRY_DELAY_SECONDS", "0")]), &sdk).is_none());
    let with = Requeue::for_config(&config(&[("SQS_RETRY_DELAY_SECONDS", "15")]), &sdk);
    assert_eq!(with.map(|r| r.delay), Some(Duration::from_secs(15)));
}

#[tokio::test]
async fn a_batch_that_gives_records_back_holds_none_for_its_turn_longer_than_the_delay() {
    let double = double(Scenario::open()).await;
    // Six contacts, each a MonitorContact; the budget (1 call/s, a burst of 2) has turns for about
    // three of them within the delay (1 s), and for all six only after about 4 s.
    let bodies: Vec<String> = (1..=6)
        .map(|n| contact_event(&format!("ev-{n}"), &contact(n), "CONNECTED_TO_AGENT"))
        .collect();
    let payload = sqs_batch(&bodies, 1);
    let mut app = app_for(
        &double,
        &[("CONNECT_CALLS_PER_SECOND", "1"), ("SQS_RETRY_DELAY_SECONDS", "1")],
    );
    let nowhere = sdk_config_for("http://127.0.0.1:1").await;
    app.app = app
        .app
        .with_requeue(Some(Requeue::new(&nowhere, Duration::from_secs(1))));
    let started = Instant::now();
    let failed = failures(&app, &payload).await;
    let took = started.elapsed();
    assert!(took < Duration::from_millis(2_500), "the batch answered after {took:?}");
    let monitors = operations(&double).iter().filter(|op| **op == MONITOR_CONTACT).count();
    assert!((2..=3).contains(&monitors), "{monitors} MonitorContact calls");
    assert_eq!(failed.len(), 6 - monitors, "{failed:?}");
    let counts = emf_counts(&app.take_emf());
    assert_eq!(
        counts.outcomes.get("Failed/Throttled").copied(),
        Some(failed.len() as u64),
        "{counts:?}"
    );
}

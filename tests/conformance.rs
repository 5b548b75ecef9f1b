//! The sample events and outputs checked against the published types of `aws_lambda_events`.
//!
//! This is also the record of why the function reads events with its own tolerant types: the
//! published `ConnectEvent` rejects real chat and task events, whose `CustomerEndpoint` and
//! `SystemEndpoint` are `null`.

use std::collections::HashMap;

use aws_lambda_events::connect::{ConnectEvent, ConnectResponse};
use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use monitor_contact::{Outcome, SkipReason};
use serde_json::Value;

fn sample(name: &str) -> String {
    let path = format!("{}/events/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn the_published_connect_event_rejects_a_real_chat_event() {
    assert!(serde_json::from_str::<ConnectEvent>(&sample("contact-flow-voice.json")).is_ok());
    let chat = serde_json::from_str::<ConnectEvent>(&sample("contact-flow-chat.json"));
    assert!(
        chat.is_err(),
        "if this starts passing, aws_lambda_events accepts null endpoints now"
    );
}

#[test]
fn eventbridge_samples_are_eventbridge_events() {
    let names = samples("eventbridge-");
    assert!(names.len() >= 7, "{names:?}");
    for name in names {
        let parsed = serde_json::from_str::<EventBridgeEvent<Value>>(&sample(&name));
        assert!(parsed.is_ok(), "{name}: {parsed:?}");
    }
}

/// The sample files whose names start with `prefix`.
fn samples(prefix: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(format!("{}/events", env!("CARGO_MANIFEST_DIR")))
        .map(|dir| {
            dir.filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| n.starts_with(prefix) && n.ends_with(".json"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn sqs_samples_are_sqs_events_whose_bodies_are_eventbridge_events() {
    let names = samples("sqs-");
    assert!(!names.is_empty());
    for name in names {
        let event: SqsEvent = serde_json::from_str(&sample(&name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        for record in event.records {
            let body = record.body.unwrap_or_default();
            let parsed = serde_json::from_str::<EventBridgeEvent<Value>>(&body);
            assert!(parsed.is_ok(), "{name}: {parsed:?}");
        }
    }
}

#[test]
fn the_batch_response_is_what_the_event_source_mapping_reads() {
    let mut response = SqsBatchResponse::default();
    response.add_failure("m-2");
    let batch = monitor_contact::Response::Batch(response);
    assert_eq!(
        serde_json::to_value(&batch).unwrap_or_default(),
        serde_json::json!({"batchItemFailures": [{"itemIdentifier": "m-2"}]})
    );
}

#[test]
fn outcomes_are_valid_contact_flow_responses() {
    let outcomes = [
        Outcome::Started {
            contact_arn: "arn:aws:connect:us-east-1:111122223333:instance/i/contact/m".into(),
            monitor_contact_id: "m".into(),
            contact_id: "c".into(),
            user_id: "u".into(),
            client_token: "t".into(),
            rule_name: Some("Customer upset".into()),
            qa_rule: None,
        },
        Outcome::Skipped {
            reason: SkipReason::MonitorContact,
            contact_id: "c".into(),
            qa_rule: Some("billing".into()),
        },
    ];
    for outcome in outcomes {
        let text = serde_json::to_string(&outcome).unwrap_or_default();
        let flat: Result<ConnectResponse, _> = serde_json::from_str(&text);
        let flat: HashMap<String, String> = flat.unwrap_or_else(|e| panic!("{text}: {e}"));
        assert!(flat.contains_key("Status"));
    }
}

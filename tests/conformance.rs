//! The sample events and outputs checked against the published types of `aws_lambda_events`.
//!
//! This is also the record of why the function reads events with its own tolerant types: the
//! published `ConnectEvent` rejects real chat and task events, whose `CustomerEndpoint` and
//! `SystemEndpoint` are `null`.

use std::collections::HashMap;

use aws_lambda_events::connect::{ConnectEvent, ConnectResponse};
use aws_lambda_events::eventbridge::EventBridgeEvent;
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
    for name in [
        "eventbridge-connected-to-agent.json",
        "eventbridge-custom.json",
        "eventbridge-skip-queued.json",
        "eventbridge-skip-monitor-contact.json",
        "eventbridge-skip-task.json",
        "eventbridge-contact-lens-voice.json",
        "eventbridge-contact-lens-chat.json",
    ] {
        let parsed = serde_json::from_str::<EventBridgeEvent<Value>>(&sample(name));
        assert!(parsed.is_ok(), "{name}: {parsed:?}");
    }
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
        },
        Outcome::Skipped {
            reason: SkipReason::MonitorContact,
            contact_id: "c".into(),
        },
    ];
    for outcome in outcomes {
        let text = serde_json::to_string(&outcome).unwrap_or_default();
        let flat: Result<ConnectResponse, _> = serde_json::from_str(&text);
        let flat: HashMap<String, String> = flat.unwrap_or_else(|e| panic!("{text}: {e}"));
        assert!(flat.contains_key("Status"));
    }
}

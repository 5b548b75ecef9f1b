//! QA rules (issue 12) end to end: the real handler and SDK client over HTTP on 127.0.0.1 against
//! the local Connect double. A rule's own pool serves its contacts, the function's pool the others,
//! the first matching rule decides, and a contact no rule matches costs no call.

mod support;

use monitor_contact::client_token::{self, Purpose};
use monitor_contact::{Outcome, SkipReason};
use serde_json::{Value, json};
use support::connect_double::{GET_CURRENT_USER_DATA, MONITOR_CONTACT, Scenario};
use support::harness::*;

/// The agent of the sample contact event.
const NEW_HIRE: &str = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
/// The queue of the sample contact event.
const BILLING: &str = "6d5c4b3a-2f1e-4d0c-9b8a-7f6e5d4c3b2a";
const COACH: &str = "c0ac0000-0000-4000-8000-000000000001";
const QA_TEAM: &str = "9a000000-0000-4000-8000-000000000001,9a000000-0000-4000-8000-000000000002";

fn rules() -> String {
    json!([
        {"name": "new-hires", "agents": [NEW_HIRE], "percent": 100, "supervisors": [COACH]},
        {"name": "billing", "queues": [BILLING], "channels": ["voice"], "percent": 100},
        {"name": "chat", "channels": ["CHAT"], "percent": 0}
    ])
    .to_string()
}

fn app(double: &support::connect_double::ConnectDouble, rules: &str) -> TestApp {
    app_for(
        double,
        &[
            ("DEFAULT_SUPERVISOR_USER_ID", ""),
            ("SUPERVISOR_POOL_USER_IDS", QA_TEAM),
            ("QA_RULES", rules),
        ],
    )
}

/// The sample contact event for `contact`, handled by `agent` (none: no agentInfo) on `queue`.
fn contact_on(id: &str, contact: &str, agent: Option<&str>, queue: &str, channel: &str) -> String {
    let mut event: Value = serde_json::from_str(&contact_event(id, contact, "CONNECTED_TO_AGENT")).unwrap_or_default();
    let instance = format!("arn:aws:connect:us-east-1:111122223333:instance/{INSTANCE}");
    match agent {
        Some(agent) => event["detail"]["agentInfo"]["agentArn"] = json!(format!("{instance}/agent/{agent}")),
        None => {
            event["detail"].as_object_mut().map(|d| d.remove("agentInfo"));
        }
    }
    event["detail"]["queueInfo"]["queueArn"] = json!(format!("{instance}/queue/{queue}"));
    event["detail"]["channel"] = json!(channel);
    event.to_string()
}

fn qa_rule(result: &Result<Outcome, monitor_contact::MonitorError>) -> Option<String> {
    result.as_ref().ok().and_then(|o| o.qa_rule().map(str::to_owned))
}

#[tokio::test]
async fn a_rules_own_pool_serves_its_contacts_and_the_functions_pool_the_others() {
    let double = double(Scenario::open()).await;
    let app = app(&double, &rules());
    // A new hire's call, on the billing queue too: the first rule, the coach.
    let new_hire = invoke(&app, &contact_on("ev-1", VOICE, Some(NEW_HIRE), BILLING, "VOICE")).await;
    let (_, token, user) = started(&new_hire);
    assert_eq!(user, COACH);
    assert_eq!(token, client_token::contact_pool_token(INSTANCE, VOICE, Purpose::Qa));
    assert_eq!(
        qa_rule(&new_hire).as_deref(),
        Some("new-hires"),
        "an agent in two rules gets the first"
    );
    // Someone else's billing call: the second rule, the QA team.
    let other = "0b0b0b0b-0000-4000-8000-000000000001";
    let billing = invoke(&app, &contact_on("ev-2", CHAT, Some(other), BILLING, "VOICE")).await;
    let (_, _, user) = started(&billing);
    assert!(QA_TEAM.contains(&user), "{user}");
    assert_eq!(qa_rule(&billing).as_deref(), Some("billing"));
    // One GetCurrentUserData each covered every pool.
    let queries = double.requests_for(GET_CURRENT_USER_DATA);
    assert_eq!(queries.len(), 2);
    let mut agents: Vec<String> = queries[0].json()["Filters"]["Agents"]
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    agents.sort();
    let mut expected: Vec<String> = QA_TEAM.split(',').chain([COACH]).map(str::to_owned).collect();
    expected.sort();
    assert_eq!(agents, expected);
}

#[tokio::test]
async fn a_contact_no_rule_matches_or_samples_makes_no_call() {
    let double = double(Scenario::open()).await;
    let app = app(&double, &rules());
    let unknown_queue = "0e0e0e0e-0000-4000-8000-000000000001";
    let other = "0b0b0b0b-0000-4000-8000-000000000001";
    let result = invoke(&app, &contact_on("ev-1", VOICE, Some(other), unknown_queue, "VOICE")).await;
    assert_eq!(skipped(&result), SkipReason::NoMatchingRule);
    assert_eq!(qa_rule(&result), None);
    // A chat: the third rule decides, at 0 percent; the rules after it are not tried.
    let chat = invoke(&app, &contact_on("ev-2", CHAT, Some(other), BILLING, "CHAT")).await;
    assert_eq!(skipped(&chat), SkipReason::NotSampled);
    assert_eq!(qa_rule(&chat).as_deref(), Some("chat"));
    assert!(double.requests().is_empty(), "no Connect call for either");
}

#[tokio::test]
async fn an_event_without_the_field_a_matcher_needs_does_not_match_that_rule() {
    let double = double(Scenario::open()).await;
    let app = app(&double, &rules());
    // INITIATED-like: no agent yet. new-hires cannot match; billing does.
    let result = invoke(&app, &contact_on("ev-1", VOICE, None, BILLING, "VOICE")).await;
    assert_eq!(qa_rule(&result).as_deref(), Some("billing"));
    let (_, _, user) = started(&result);
    assert!(QA_TEAM.contains(&user));
}

#[tokio::test]
async fn when_the_rules_pool_has_nobody_the_next_rule_is_not_tried() {
    let double = double(Scenario::open()).await;
    if let Ok(scenario) = Scenario::from_json(&json!({"users": {COACH: {"loggedIn": false}}}).to_string()) {
        double.state().scenario.users = scenario.users;
    }
    let app = app(&double, &rules());
    let result = invoke(&app, &contact_on("ev-1", VOICE, Some(NEW_HIRE), BILLING, "VOICE")).await;
    assert_eq!(skipped(&result), SkipReason::NoSupervisorAvailable);
    assert_eq!(qa_rule(&result).as_deref(), Some("new-hires"));
    assert!(double.requests_for(MONITOR_CONTACT).is_empty());
}

#[tokio::test]
async fn the_rule_that_decided_is_in_the_metrics_of_a_batch() {
    let double = double(Scenario::open()).await;
    let app = app(&double, &rules());
    let other = "0b0b0b0b-0000-4000-8000-000000000001";
    let bodies = vec![
        contact_on("ev-1", VOICE, Some(NEW_HIRE), BILLING, "VOICE"),
        contact_on("ev-2", CHAT, Some(other), BILLING, "CHAT"),
        contact_on(
            "ev-3",
            "5e5e5e5e-0000-4000-8000-000000000003",
            Some(other),
            BILLING,
            "VOICE",
        ),
    ];
    let (failures, counts) = invoke_batch_within(&app, &bodies, 1, std::time::Duration::from_secs(60)).await;
    assert!(failures.is_empty(), "{failures:?}");
    assert_eq!(counts.qa.get("new-hires"), Some(&(1, 0)));
    assert_eq!(counts.qa.get("chat"), Some(&(0, 1)));
    assert_eq!(counts.qa.get("billing"), Some(&(1, 0)));
    assert_eq!(double.requests_for(GET_CURRENT_USER_DATA).len(), 1);
}

#[tokio::test]
async fn escalations_flows_and_direct_requests_ignore_the_rules() {
    let double = double(Scenario::open()).await;
    let app = app(&double, &rules());
    let escalation = invoke(&app, &contact_lens_event("cl-1", CHAT, "upset")).await;
    let (_, _, user) = started(&escalation);
    assert!(QA_TEAM.contains(&user), "the function's pool: {user}");
    assert_eq!(qa_rule(&escalation), None);
    let direct = json!({"InstanceId": INSTANCE, "ContactId": VOICE, "EventId": "direct-1"}).to_string();
    assert_eq!(qa_rule(&invoke(&app, &direct).await), None);
}

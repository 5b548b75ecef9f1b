//! QA quotas (issue 18) end to end: the real handler, the real SDK clients over HTTP on 127.0.0.1,
//! the local Connect double, and the state table in moto's server mode (created from template.yaml).
//! Spread slots (`NOT_YET`), the quota (`QUOTA_REACHED`), a contact counted once whatever the number of
//! events about it, slots given back, reviewer limits, two environments at once, the table
//! unavailable, and the calls to the table per event.

mod support;

use std::sync::{Arc, Mutex};

use monitor_contact::metrics::Sink;
use monitor_contact::qa_state::DynamoState;
use monitor_contact::{App, ConnectApi, ErrorKind, Outcome, SkipReason};
use serde_json::{Value, json};
use support::connect_double::{ConnectDouble, ContactSpec, MONITOR_CONTACT, Scenario};
use support::harness::*;
use support::moto::{Moto, StateTable};

const AGENT: &str = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
const TEAM: &str = "7e7e7e7e-0000-4000-8000-000000000001";
const REVIEWERS: [&str; 2] = [
    "9a000000-0000-4000-8000-000000000001",
    "9a000000-0000-4000-8000-000000000002",
];

/// A contact ID for `n`.
fn contact(n: u32) -> String {
    format!("c0c0c0c0-0000-4000-8000-{n:012}")
}

/// A CONNECTED_TO_AGENT event for contact `n` handled by `agent` in TEAM, at `time` (RFC 3339).
fn event_at(n: u32, agent: &str, time: &str) -> String {
    let mut event: Value = serde_json::from_str(&contact_event(&format!("ev-{n}"), &contact(n), "CONNECTED_TO_AGENT"))
        .unwrap_or_else(|e| panic!("{e}"));
    let instance = format!("arn:aws:connect:us-east-1:111122223333:instance/{INSTANCE}");
    event["time"] = json!(time);
    event["detail"]["agentInfo"] = json!({
        "agentArn": format!("{instance}/agent/{agent}"),
        "hierarchyGroups": {"level1": {"arn": format!("{instance}/agent-group/{TEAM}")}}
    });
    event.to_string()
}

/// The function with a quota rule, its table in moto, and its metrics kept.
fn app(double: &ConnectDouble, table: &StateTable, rules: &Value) -> TestApp {
    let rules = rules.to_string();
    let reviewers = REVIEWERS.join(",");
    let config = config(&[
        ("DEFAULT_SUPERVISOR_USER_ID", ""),
        ("SUPERVISOR_POOL_USER_IDS", &reviewers),
        ("QA_RULES", &rules),
        ("QA_STATE_TABLE", &table.table),
        ("MAX_EVENT_AGE_SECONDS", "0"),
        ("METRICS_NAMESPACE", "MonitorContact"),
        ("USER_DATA_CACHE_SECONDS", "0"),
    ]);
    let emf = Arc::new(Mutex::new(Vec::new()));
    let app = App::new(config, ConnectApi::new(&sdk_for(double)))
        .with_metrics(Sink::Memory(Arc::clone(&emf)))
        .with_qa_state(Some(table.state.clone()));
    TestApp { app, emf }
}

fn weekly(count: u32) -> Value {
    json!([{"name": "weekly", "hierarchyGroups": [TEAM], "perAgent": {"count": count, "per": "week"}}])
}

/// Invokes the function with one event: its answer, and the calls it made to the table (its
/// `QaStateCalls` metric; none: 0).
async fn invoke_counting(app: &TestApp, json: &str) -> (Result<Outcome, monitor_contact::MonitorError>, u64) {
    let result = match monitor_contact::handle(app, event(json, std::time::Duration::from_secs(8))).await {
        Ok(monitor_contact::Response::Single(outcome)) => Ok(outcome),
        Ok(batch) => panic!("a single event answered {batch:?}"),
        Err(e) => Err(e),
    };
    let calls = app
        .take_emf()
        .iter()
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter_map(|d| d["QaStateCalls"].as_u64())
        .sum();
    (result, calls)
}

/// The agent's count under `rule` in the week of 2026-11-16 (UTC), as the table has it.
async fn weekly_count(table: &StateTable, rule: &str, agent: &str) -> u32 {
    let (pk, sk) = monitor_contact::qa_state::agent_counter(rule, agent, "2026-11-16T00:00:00+00:00", 0).key();
    let item = table
        .client
        .get_item()
        .table_name(&table.table)
        .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(pk))
        .key("sk", aws_sdk_dynamodb::types::AttributeValue::S(sk))
        .consistent_read(true)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    item.item
        .and_then(|i| i.get("taken").and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

async fn records(table: &StateTable) -> usize {
    let scan = table.client.scan().table_name(&table.table).send().await;
    let items = scan.unwrap_or_else(|e| panic!("{e}")).items.unwrap_or_default();
    items
        .iter()
        .filter(|i| {
            i.get("pk")
                .and_then(|v| v.as_s().ok())
                .is_some_and(|pk| pk.starts_with("record#"))
        })
        .count()
}

#[tokio::test]
async fn three_a_week_spread_over_the_week_and_each_contact_counted_once() {
    let moto = Moto::start();
    let table = moto.state_table().await;
    let double = double(Scenario::open()).await;
    let app = app(&double, &table, &weekly(3));

    // Monday 2026-11-16: the first slot is open from midnight, the second from Wednesday 08:00.
    let (first, calls) = invoke_counting(&app, &event_at(1, AGENT, "2026-11-16T10:00:00Z")).await;
    started(&first);
    assert_eq!(calls, 2, "take and record");
    let (second, calls) = invoke_counting(&app, &event_at(2, AGENT, "2026-11-16T11:00:00Z")).await;
    assert_eq!(skipped(&second), SkipReason::NotYet);
    assert_eq!(calls, 1, "a skip costs one call");
    // The first contact again (a redelivery, a sibling event): the same monitor, counted once.
    let again = invoke(&app, &event_at(1, AGENT, "2026-11-16T10:00:02Z")).await;
    assert!(
        matches!(
            again,
            Ok(Outcome::Started { .. })
                | Ok(Outcome::Skipped {
                    reason: SkipReason::AlreadyMonitored,
                    ..
                })
        ),
        "{again:?}"
    );
    assert_eq!(weekly_count(&table, "weekly", AGENT).await, 1);
    // Wednesday 09:00 and Friday 17:00: the second and third slots (the calls before have ended,
    // so the reviewers are free again).
    double.end_contact(&contact(1));
    started(&invoke(&app, &event_at(3, AGENT, "2026-11-18T09:00:00Z")).await);
    double.end_contact(&contact(3));
    started(&invoke(&app, &event_at(4, AGENT, "2026-11-20T17:00:00Z")).await);
    double.end_contact(&contact(4));
    let fifth = invoke(&app, &event_at(5, AGENT, "2026-11-21T12:00:00Z")).await;
    assert_eq!(skipped(&fifth), SkipReason::QuotaReached);
    assert_eq!(fifth.as_ref().ok().and_then(Outcome::qa_rule), Some("weekly"));
    assert_eq!(weekly_count(&table, "weekly", AGENT).await, 3);
    assert_eq!(records(&table).await, 3, "one record per monitor");
    // Connect was asked for the monitored contacts only (the repeat replays its token).
    let asked: Vec<String> = double
        .requests_for(MONITOR_CONTACT)
        .iter()
        .filter_map(|r| r.json()["ContactId"].as_str().map(str::to_owned))
        .collect();
    assert!(
        !asked.contains(&contact(2)) && !asked.contains(&contact(5)),
        "{asked:?}"
    );
    // Next week starts afresh.
    started(&invoke(&app, &event_at(6, AGENT, "2026-11-23T00:30:00Z")).await);
}

#[tokio::test]
async fn a_slot_whose_monitor_did_not_start_is_given_back() {
    let moto = Moto::start();
    let table = moto.state_table().await;
    let double = double(Scenario::open()).await;
    let app = app(&double, &table, &weekly(1));
    double.add_contact(&contact(1), ContactSpec::live("VOICE"));
    double.end_contact(&contact(1));
    let (ended, calls) = invoke_counting(&app, &event_at(1, AGENT, "2026-11-16T10:00:00Z")).await;
    assert_eq!(skipped(&ended), SkipReason::ContactEnded);
    assert_eq!(calls, 2, "take and give back");
    assert_eq!(weekly_count(&table, "weekly", AGENT).await, 0);
    // The agent's next contact fills the slot.
    started(&invoke(&app, &event_at(2, AGENT, "2026-11-16T10:05:00Z")).await);
    assert_eq!(weekly_count(&table, "weekly", AGENT).await, 1);
}

#[tokio::test]
async fn a_reviewer_at_their_limit_is_not_picked() {
    let moto = Moto::start();
    let table = moto.state_table().await;
    let double = double(Scenario::open()).await;
    let rules = json!([{"name": "daily", "perReviewer": {"count": 1, "per": "day"}}]);
    let app = app(&double, &table, &rules);
    let mut reviewers = Vec::new();
    for n in 1..=2 {
        let (result, calls) = invoke_counting(&app, &event_at(n, AGENT, "2026-11-16T10:00:00Z")).await;
        let (_, _, user) = started(&result);
        assert_eq!(calls, 3, "counts, take and record");
        reviewers.push(user);
    }
    reviewers.sort();
    assert_eq!(reviewers, REVIEWERS, "each reviewer once");
    let (third, calls) = invoke_counting(&app, &event_at(3, AGENT, "2026-11-16T11:00:00Z")).await;
    assert_eq!(skipped(&third), SkipReason::NoSupervisorAvailable);
    assert_eq!(calls, 1, "nobody below the limit: the read alone");
    // The next day, their limits are whole again.
    double.end_contact(&contact(1));
    double.end_contact(&contact(2));
    started(&invoke(&app, &event_at(4, AGENT, "2026-11-17T09:00:00Z")).await);
}

#[tokio::test]
async fn two_environments_at_once_never_start_more_than_the_quota() {
    let moto = Moto::start();
    let table = moto.state_table().await;
    let double = double(Scenario::open()).await;
    let (one, two) = (app(&double, &table, &weekly(3)), app(&double, &table, &weekly(3)));
    // Ten contacts of one agent on Friday evening (all three slots open), shared by two
    // environments, each invoked with an SQS batch of its five.
    let events: Vec<String> = (1..=10)
        .map(|n| event_at(n, AGENT, &format!("2026-11-20T18:{n:02}:00Z")))
        .collect();
    let (left, right) = events.split_at(5);
    let (a, b) = tokio::join!(invoke_batch(&one, left, 1), invoke_batch(&two, right, 1));
    assert!(a.is_empty() && b.is_empty(), "{a:?} {b:?}");
    assert_eq!(weekly_count(&table, "weekly", AGENT).await, 3);
    assert_eq!(records(&table).await, 3);
    let monitors = double.monitors().iter().filter(|m| m.by_api).count();
    assert_eq!(monitors, 3, "exactly the quota started");
}

#[tokio::test]
async fn no_monitor_starts_without_its_slot_when_the_table_is_unavailable() {
    // A table at a loopback port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let endpoint = format!("http://{}", closed.local_addr().unwrap_or_else(|e| panic!("{e}")));
    drop(closed);
    let sdk = support::moto::sdk_config_for(&endpoint).await;
    let table = StateTable {
        state: DynamoState::new(&sdk, "qa-state"),
        client: aws_sdk_dynamodb::Client::new(&sdk),
        table: "qa-state".into(),
    };
    let double = double(Scenario::open()).await;
    let app = app(&double, &table, &weekly(3));
    let events: Vec<String> = (1..=3).map(|n| event_at(n, AGENT, "2026-11-20T18:00:00Z")).collect();
    let failures = invoke_batch(&app, &events, 1).await;
    assert_eq!(failures.len(), 3, "every record is retried later");
    assert!(
        double.requests_for(MONITOR_CONTACT).is_empty(),
        "no Connect call without a slot"
    );
    let single = invoke(&app, &event_at(4, AGENT, "2026-11-20T18:00:00Z")).await;
    assert_eq!(error_kind(&single), ErrorKind::StateUnavailable);
}

/// The README's quota run (`cargo run --example local -- events/sqs-qa-week.json` with
/// `examples/qa-quota-rules.json`): one SQS batch of one agent's week, three a week. Contact a on
/// Monday 10:00 starts, b at 11:00 waits for Wednesday's slot, a's second event is the same monitor,
/// c (Wednesday) and d (Friday) start, e (Saturday) finds the quota reached.
#[tokio::test]
async fn the_readme_week_sample_shows_the_quota() {
    let moto = Moto::start();
    let table = moto.state_table().await;
    let double = double(Scenario::open()).await;
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/qa-quota-rules.json");
    let rules = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let rules: Value = serde_json::from_str(&rules).unwrap_or_else(|e| panic!("{path}: {e}"));
    let app = app(&double, &table, &rules);
    // As the file holds them: the events' times decide the slots.
    let bodies = bodies_of(&raw_sample("sqs-qa-week.json"));
    assert_eq!(bodies.len(), 6);
    let (failures, counts) = invoke_batch_within(&app, &bodies, 1, std::time::Duration::from_secs(60)).await;
    assert!(failures.is_empty(), "{failures:?}");
    let outcomes: Vec<(&str, u64)> = counts.outcomes.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    assert_eq!(
        outcomes,
        [("Skipped/NOT_YET", 1), ("Skipped/QUOTA_REACHED", 1), ("Started", 4)],
        "a (twice), c and d started"
    );
    let asked: Vec<String> = double
        .requests_for(MONITOR_CONTACT)
        .iter()
        .filter_map(|r| r.json()["ContactId"].as_str().map(str::to_owned))
        .collect();
    let contact = |letter: char| format!("c0c0c0c0-0000-4000-8000-00000000000{letter}");
    assert_eq!(asked, [contact('a'), contact('c'), contact('d')]);
    assert_eq!(weekly_count(&table, "weekly-3", AGENT).await, 3);
    assert_eq!(records(&table).await, 3);
}

//! The QA state store (issue 18) against a real DynamoDB-compatible server: moto's server mode, started
//! by each test on 127.0.0.1 (see `support::moto`), with the table created from template.yaml.
//!
//! - a slot is taken, recorded, given back; a contact counts once (a second take is `Held`);
//! - limits are exact under concurrency: 20 tasks racing for 3 slots, and two OS processes (this test
//!   binary run again, the store built as the function builds it, through `AWS_ENDPOINT_URL_DYNAMODB`);
//! - reviewer limits; a slot given back can be taken again; nothing is given back after the record;
//! - counts of missing items are 0, for any number of keys;
//! - an unavailable table (moto stopped, a server answering 500 or throttling, one that hangs up or
//!   never answers) is a `StateError` after the SDK's retries, within a bounded time, naming no key;
//! - what moto never does, from a stand-in server: a transaction cancelled by a conflict is sent again,
//!   unprocessed keys are read again.

mod support;

use std::collections::HashMap;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use monitor_contact::qa_state::{
    self, Claim, Counter, DynamoState, MAX_ATTEMPTS, OPERATION_TIMEOUT, QaState, Record, StateError, Taken,
    agent_counter, claim_key, record_partition, reviewer_counter,
};
use monitor_contact::{ErrorKind, MonitorError, sdk};
use support::moto::{Moto, StateTable, sdk_config_for, table_definition};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const RULE: &str = "weekly-qa";
const WEEK: &str = "2026-11-30T00:00:00+00:00";
const AGENT: &str = "a1a1a1a1-0000-4000-8000-00000000000a";
const REVIEWER: &str = "b2b2b2b2-0000-4000-8000-00000000000b";
const EXPIRES: i64 = 1_799_999_999;

fn claim(contact: &str, agent: Option<Counter>, reviewer: Option<Counter>) -> Claim {
    Claim {
        rule: RULE.into(),
        contact_id: contact.into(),
        agent,
        reviewer,
        expires: EXPIRES,
    }
}

fn agent(limit: u32) -> Option<Counter> {
    Some(agent_counter(RULE, AGENT, WEEK, limit))
}

fn record_of(contact: &str) -> Record {
    Record {
        contact_id: contact.into(),
        agent: AGENT.into(),
        reviewer: REVIEWER.into(),
        rule: RULE.into(),
        event_type: "CONNECTED_TO_AGENT".into(),
        event_time: "2026-12-01T09:00:00Z".into(),
        started_at: "2026-12-01T09:00:01.250Z".into(),
        monitor_arn: "arn:aws:connect:us-east-1:111122223333:instance/i/contact/m1".into(),
        quota: Some(3),
        team: Some("c3c3c3c3-0000-4000-8000-00000000000c".into()),
        day: "2026-12-01".into(),
        expires: EXPIRES,
    }
}

fn ok<T>(result: Result<T, StateError>) -> T {
    result.unwrap_or_else(|e| panic!("{e}"))
}

async fn item(table: &StateTable, (pk, sk): (String, String)) -> Option<HashMap<String, AttributeValue>> {
    table
        .client
        .get_item()
        .table_name(&table.table)
        .key("pk", AttributeValue::S(pk))
        .key("sk", AttributeValue::S(sk))
        .consistent_read(true)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GetItem: {}", aws_sdk_dynamodb::error::DisplayErrorContext(e)))
        .item
}

async fn claim_state(table: &StateTable, contact: &str) -> Option<String> {
    let item = item(table, claim_key(RULE, contact)).await?;
    item.get("state").and_then(|v| v.as_s().ok()).cloned()
}

async fn count(table: &StateTable, counter: &Option<Counter>) -> u32 {
    let key = counter.as_ref().map(Counter::key).unwrap_or_default();
    ok(table.state.counts(&[key]).await)[0]
}

#[test]
fn the_table_is_the_templates() {
    let definition = table_definition();
    assert_eq!(
        definition.key_schema,
        [("pk".into(), "HASH".into()), ("sk".into(), "RANGE".into())]
    );
    assert_eq!(
        definition.attributes,
        [("pk".into(), "S".into()), ("sk".into(), "S".into())]
    );
    assert_eq!(definition.billing_mode, "PAY_PER_REQUEST");
    assert_eq!(definition.ttl, "expires");
}

#[tokio::test]
async fn a_slot_is_taken_recorded_and_counted_once() {
    let moto = Moto::start();
    let table = moto.state_table().await;
    let first = claim("c1", agent(3), None);
    assert_eq!(ok(table.state.take(&first).await), Taken::Taken);
    assert_eq!(claim_state(&table, "c1").await.as_deref(), Some("pending"));
    assert_eq!(count(&table, &first.agent).await, 1);

    // Another event about the same contact (a redelivery, INITIATED then CONNECTED_TO_AGENT, a sibling
    // in the batch): held, nothing taken.
    let again = Claim {
        expires: EXPIRES + 60,
        ..first.clone()
    };
    assert_eq!(ok(table.state.take(&again).await), Taken::Held);
    assert_eq!(count(&table, &first.agent).await, 1);

    ok(table.state.record(&first, &record_of("c1")).await);
    assert_eq!(claim_state(&table, "c1").await.as_deref(), Some("started"));
    let key = (
        record_partition(RULE, "2026-12-01"),
        "2026-12-01T09:00:00Z#c1".to_owned(),
    );
    let record = item(&table, key).await.expect("the record");
    let s = |name: &str| {
        record
            .get(name)
            .and_then(|v| v.as_s().ok())
            .cloned()
            .unwrap_or_default()
    };
    let n = |name: &str| {
        record
            .get(name)
            .and_then(|v| v.as_n().ok())
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(
        (s("contact"), s("agent"), s("reviewer"), s("rule")),
        ("c1".into(), AGENT.into(), REVIEWER.into(), RULE.into())
    );
    assert_eq!(
        (s("eventType"), s("eventTime")),
        ("CONNECTED_TO_AGENT".into(), "2026-12-01T09:00:00Z".into())
    );
    assert_eq!(s("startedAt"), "2026-12-01T09:00:01.250Z");
    assert!(s("monitorArn").ends_with("/contact/m1"));
    assert_eq!((n("quota"), n("expires")), ("3".into(), EXPIRES.to_string()));
    assert_eq!(s("team"), "c3c3c3c3-0000-4000-8000-00000000000c");

    // After the record the claim is started: taking for the contact again is still Held.
    assert_eq!(ok(table.state.take(&first).await), Taken::Held);
    assert_eq!(count(&table, &first.agent).await, 1);

    // A sibling event that held the claim and saw the same monitor start records nothing twice.
    let sibling = Record {
        event_type: "INITIATED".into(),
        event_time: "2026-12-01T08:59:58Z".into(),
        ..record_of("c1")
    };
    ok(table.state.record(&again, &sibling).await);
    let twice = (
        record_partition(RULE, "2026-12-01"),
        "2026-12-01T08:59:58Z#c1".to_owned(),
    );
    assert!(item(&table, twice).await.is_none(), "one record per contact");
}

#[tokio::test]
async fn the_agent_limit_stops_takes_and_tells_the_count() {
    let moto = Moto::start();
    let table = moto.state_table().await;
    for contact in ["c1", "c2"] {
        assert_eq!(
            ok(table.state.take(&claim(contact, agent(2), None)).await),
            Taken::Taken
        );
    }
    let third = claim("c3", agent(2), None);
    assert_eq!(ok(table.state.take(&third).await), Taken::AgentFull { taken: 2 });
    // Atomic: the refused take left no claim behind.
    assert_eq!(claim_state(&table, "c3").await, None);
    // A rule whose count was lowered: the counter says more than the limit, and so does the answer.
    assert_eq!(
        ok(table.state.take(&claim("c4", agent(1), None)).await),
        Taken::AgentFull { taken: 2 }
    );
    assert_eq!(count(&table, &third.agent).await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_tasks_racing_for_three_slots_take_exactly_three() {
    let moto = Moto::start();
    let table = Arc::new(moto.state_table().await);
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let table = Arc::clone(&table);
            tokio::spawn(async move { table.state.take(&claim(&format!("race-{i}"), agent(3), None)).await })
        })
        .collect();
    let mut taken = Vec::new();
    for (i, task) in tasks.into_iter().enumerate() {
        match ok(task.await.unwrap_or_else(|e| panic!("{e}"))) {
            Taken::Taken => taken.push(i),
            Taken::AgentFull { taken: 3 } => {}
            other => panic!("race-{i}: {other:?}"),
        }
    }
    assert_eq!(taken.len(), 3, "{taken:?}");
    assert_eq!(count(&table, &agent(3)).await, 3);
    for i in 0..20 {
        let state = claim_state(&table, &format!("race-{i}")).await;
        assert_eq!(state.is_some(), taken.contains(&i), "race-{i}");
    }
}

/// The child's environment variables: the table to race on, and when to start (Unix milliseconds), so
/// that both processes send their takes at once.
const CHILD_TABLE: &str = "QA_STATE_CHILD_TABLE";
const CHILD_START: &str = "QA_STATE_CHILD_START";

fn unix_millis() -> u64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    now.map(|d| d.as_millis() as u64).unwrap_or_default()
}

/// The two processes of the next test each run this (the test binary run again with `--exact`): 8
/// takes at once for 8 contacts of their own, on one agent counter with 5 slots, through the store
/// built as the function builds it: `sdk::load` from the process's environment, where the parent set
/// `AWS_ENDPOINT_URL_DYNAMODB` to moto, then `DynamoState::new`. Run alone (no table given) it does
/// nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_process_takes() {
    let Ok(table) = std::env::var(CHILD_TABLE) else { return };
    let me = std::process::id();
    let http = ok(sdk::http_client(sdk::system_roots_requested(|n| std::env::var(n).ok()))
        .map_err(|e| StateError { message: e.to_string() }));
    let config = sdk::load(http, |n| std::env::var(n).ok()).await;
    let state = Arc::new(DynamoState::new(&config, table));
    let start: u64 = std::env::var(CHILD_START)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_default();
    tokio::time::sleep(Duration::from_millis(start.saturating_sub(unix_millis()))).await;
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let state = Arc::clone(&state);
            tokio::spawn(async move { state.take(&claim(&format!("p{me}-{i}"), agent(5), None)).await })
        })
        .collect();
    let mut taken = 0;
    for task in tasks {
        match ok(task.await.unwrap_or_else(|e| panic!("{e}"))) {
            Taken::Taken => taken += 1,
            Taken::AgentFull { taken: 5 } => {}
            other => panic!("{other:?}"),
        }
    }
    println!("QA_STATE_CHILD taken={taken}");
}

#[tokio::test]
async fn two_processes_racing_take_exactly_the_limit() {
    let moto = Moto::start();
    let table = moto.state_table().await;
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("{e}"));
    let start = (unix_millis() + 1500).to_string();
    let children: Vec<_> = (0..2)
        .map(|_| {
            Command::new(&exe)
                .args(["child_process_takes", "--exact", "--nocapture", "--test-threads=1"])
                .env(CHILD_TABLE, &table.table)
                .env(CHILD_START, &start)
                .env("AWS_ENDPOINT_URL_DYNAMODB", &moto.endpoint)
                .env_remove("AWS_ENDPOINT_URL")
                .env("AWS_ACCESS_KEY_ID", "AKIDMOTO")
                .env("AWS_SECRET_ACCESS_KEY", "moto")
                .env("AWS_REGION", "us-east-1")
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap_or_else(|e| panic!("{e}"))
        })
        .collect();
    let mut total = 0;
    for child in children {
        let output = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let taken: u32 = stdout
            .lines()
            .find_map(|l| l.split_once("QA_STATE_CHILD taken=").map(|(_, n)| n))
            .and_then(|n| n.split_whitespace().next()?.parse().ok())
            .unwrap_or_else(|| panic!("the child did not race (no result line):\n{stdout}"));
        println!("a child took {taken}");
        total += taken;
    }
    assert_eq!(total, 5, "two processes took {total} of 5 slots");
    assert_eq!(count(&table, &agent(5)).await, 5);
}

#[tokio::test]
async fn the_reviewer_limit_holds_and_a_full_take_changes_nothing() {
    let moto = Moto::start();
    let table = moto.state_table().await;
    let reviewer = || Some(reviewer_counter(RULE, REVIEWER, WEEK, 2));
    let for_agent = |n: u32| Some(agent_counter(RULE, &format!("agent-{n}"), WEEK, 3));
    for n in 0..2 {
        let taken = ok(table
            .state
            .take(&claim(&format!("c{n}"), for_agent(n), reviewer()))
            .await);
        assert_eq!(taken, Taken::Taken);
    }
    let third = claim("c2", for_agent(2), reviewer());
    assert_eq!(ok(table.state.take(&third).await), Taken::ReviewerFull);
    assert_eq!(claim_state(&table, "c2").await, None);
    let keys = [third.agent.clone(), reviewer(), for_agent(0)].map(|c| c.map(|c| c.key()).unwrap_or_default());
    assert_eq!(ok(table.state.counts(&keys).await), [0, 2, 1]);
    // Reviewer only (a rule with perReviewer and no perAgent).
    assert_eq!(
        ok(table.state.take(&claim("c3", None, reviewer())).await),
        Taken::ReviewerFull
    );
    let other = Some(reviewer_counter(RULE, "another-reviewer", WEEK, 2));
    assert_eq!(ok(table.state.take(&claim("c3", None, other)).await), Taken::Taken);
}

#[tokio::test]
async fn a_slot_given_back_can_be_taken_again() {
    let moto = Moto::start();
    let table = moto.state_table().await;
    let reviewer = Some(reviewer_counter(RULE, REVIEWER, WEEK, 5));
    let first = claim("c1", agent(1), reviewer.clone());
    assert_eq!(ok(table.state.take(&first).await), Taken::Taken);
    let second = claim("c2", agent(1), reviewer.clone());
    assert_eq!(ok(table.state.take(&second).await), Taken::AgentFull { taken: 1 });

    // The monitor did not start (the contact ended, nobody free, an error): the slot goes back.
    ok(table.state.give_back(&first).await);
    assert_eq!(claim_state(&table, "c1").await, None);
    assert_eq!(count(&table, &first.agent).await, 0);
    assert_eq!(count(&table, &reviewer).await, 0);
    // Given back twice (a retry): nothing more happens, no counter below zero.
    ok(table.state.give_back(&first).await);
    assert_eq!(count(&table, &first.agent).await, 0);

    assert_eq!(ok(table.state.take(&second).await), Taken::Taken);
    assert_eq!(count(&table, &reviewer).await, 1);
}

#[tokio::test]
async fn nothing_is_given_back_after_the_record() {
    let moto = Moto::start();
    let table = moto.state_table().await;
    let first = claim("c1", agent(3), None);
    assert_eq!(ok(table.state.take(&first).await), Taken::Taken);
    ok(table.state.record(&first, &record_of("c1")).await);
    ok(table.state.give_back(&first).await);
    assert_eq!(claim_state(&table, "c1").await.as_deref(), Some("started"));
    assert_eq!(count(&table, &first.agent).await, 1);

    // A record for a claim that is gone fails (a retry of the event takes a slot again).
    let gone = claim("c9", agent(3), None);
    let error = table.state.record(&gone, &record_of("c9")).await.expect_err("no claim");
    assert!(
        error
            .message
            .starts_with("record (TransactWriteItems): the claim is gone"),
        "{error}"
    );
}

#[tokio::test]
async fn counts_of_missing_items_are_zero_for_any_number_of_keys() {
    let moto = Moto::start();
    let table = moto.state_table().await;
    assert_eq!(ok(table.state.counts(&[]).await), Vec::<u32>::new());
    let present = agent(3).map(|c| c.key()).unwrap_or_default();
    let missing = reviewer_counter(RULE, REVIEWER, WEEK, 3).key();
    assert_eq!(
        ok(table.state.counts(&[present.clone(), missing.clone()]).await),
        [0, 0]
    );
    for contact in ["c1", "c2"] {
        ok(table.state.take(&claim(contact, agent(3), None)).await);
    }
    // Duplicates answer twice; 150 distinct keys take two BatchGetItem calls (100 keys each at most).
    let mut keys: Vec<(String, String)> = (0..150)
        .map(|i| reviewer_counter(RULE, &format!("r{i}"), WEEK, 1).key())
        .collect();
    keys.insert(0, present.clone());
    keys.push(present);
    keys.push(missing);
    let counts = ok(table.state.counts(&keys).await);
    assert_eq!(counts.len(), keys.len());
    assert_eq!((counts[0], counts[151], counts[152]), (2, 2, 0));
    assert!(counts[1..151].iter().all(|&c| c == 0));
}

/// Runs `call` and checks it fails as unavailable: within the bound, its message naming the operation
/// and no key or user ID.
async fn fails_in_time<T: std::fmt::Debug>(
    call: impl std::future::Future<Output = Result<T, StateError>>,
    operation: &str,
    kind: &str,
) -> StateError {
    let start = Instant::now();
    let error = call.await.expect_err("the table is unavailable");
    let elapsed = start.elapsed();
    // The SDK's operation time-out, plus the few tries after conflicts, plus a loaded machine's slack.
    assert!(elapsed < OPERATION_TIMEOUT * 2, "{elapsed:?}: {error}");
    assert!(error.message.starts_with(operation), "{error}");
    assert!(error.message.contains(kind), "{error}");
    for secret in [AGENT, REVIEWER, "c1", RULE] {
        assert!(!error.message.contains(secret), "{error} names {secret}");
    }
    let monitor: MonitorError = error.clone().into();
    assert_eq!(monitor.kind, ErrorKind::StateUnavailable);
    error
}

#[tokio::test]
async fn a_stopped_table_is_unavailable_soon() {
    let moto = Moto::start();
    let table = moto.state_table().await;
    drop(moto);
    let first = claim("c1", agent(3), None);
    fails_in_time(
        table.state.take(&first),
        "take (TransactWriteItems)",
        "no connection to DynamoDB",
    )
    .await;
    fails_in_time(
        table
            .state
            .counts(&[first.agent.clone().map(|c| c.key()).unwrap_or_default()]),
        "counts (BatchGetItem)",
        "no connection",
    )
    .await;
    fails_in_time(
        table.state.give_back(&first),
        "give back (TransactWriteItems)",
        "no connection",
    )
    .await;
    fails_in_time(
        table.state.record(&first, &record_of("c1")),
        "record (TransactWriteItems)",
        "no connection",
    )
    .await;
}

/// How a stand-in server answers a request.
#[derive(Clone)]
enum Reply {
    /// An HTTP status line's code and text, and a JSON body.
    Answer(&'static str, String),
    /// Reads the request and hangs up.
    HangUp,
    /// Reads the request and never answers.
    Silence,
}

/// A DynamoDB error answer: `status` and the error's type.
fn error_reply(status: &'static str, kind: &str) -> Reply {
    Reply::Answer(
        status,
        format!(r#"{{"__type":"com.amazonaws.dynamodb.v20120810#{kind}","message":"{AGENT} says no"}}"#),
    )
}

/// A loopback server that answers DynamoDB's calls with `reply(n)` for its n-th request (from 1),
/// counting the requests.
async fn stand_in(reply: impl Fn(u32) -> Reply + Send + Sync + 'static) -> (String, Arc<AtomicU32>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|e| panic!("{e}"));
    let endpoint = format!("http://{}", listener.local_addr().unwrap_or_else(|e| panic!("{e}")));
    let requests = Arc::new(AtomicU32::new(0));
    let counted = Arc::clone(&requests);
    let reply = Arc::new(reply);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve(stream, Arc::clone(&counted), Arc::clone(&reply)));
        }
    });
    (endpoint, requests)
}

/// One connection of the stand-in: whole requests read, each answered as `reply` says.
async fn serve(
    mut stream: tokio::net::TcpStream,
    counted: Arc<AtomicU32>,
    reply: Arc<impl Fn(u32) -> Reply + Send + Sync + 'static>,
) {
    let mut buffer = vec![0u8; 64 * 1024];
    let mut read = 0;
    while let Ok(n) = stream.read(&mut buffer[read..]).await {
        if n == 0 {
            return;
        }
        read += n;
        let text = String::from_utf8_lossy(&buffer[..read]).to_string();
        let Some(head_end) = text.find("\r\n\r\n") else {
            continue;
        };
        let length = text[..head_end]
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-length:")
                    .map(|v| v.trim().to_owned())
            })
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(0);
        if read < head_end + 4 + length {
            continue;
        }
        read = 0;
        let (status, body) = match reply(counted.fetch_add(1, Ordering::SeqCst) + 1) {
            Reply::Answer(status, body) => (status, body),
            Reply::HangUp => return,
            Reply::Silence => {
                tokio::time::sleep(Duration::from_secs(30)).await;
                return;
            }
        };
        let response = format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/x-amz-json-1.0\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        if stream.write_all(response.as_bytes()).await.is_err() {
            return;
        }
    }
}

async fn state_at(endpoint: &str) -> DynamoState {
    DynamoState::new(&sdk_config_for(endpoint).await, "qa-state")
}

#[tokio::test]
async fn five_hundreds_and_throttles_are_retried_then_unavailable() {
    let first = claim("c1", agent(3), None);
    for (reply, kind) in [
        (
            error_reply("500 Internal Server Error", "InternalServerError"),
            "DynamoDB failed (InternalServerError, HTTP 500",
        ),
        (
            error_reply("400 Bad Request", "ThrottlingException"),
            "DynamoDB throttled every attempt (ThrottlingException, HTTP 400",
        ),
        (Reply::HangUp, "no connection to DynamoDB"),
    ] {
        let (endpoint, requests) = stand_in(move |_| reply.clone()).await;
        let state = state_at(&endpoint).await;
        fails_in_time(state.take(&first), "take (TransactWriteItems)", kind).await;
        assert_eq!(
            requests.load(Ordering::SeqCst),
            MAX_ATTEMPTS,
            "{kind}: one request per attempt"
        );
        let key = first.agent.clone().map(|c| c.key()).unwrap_or_default();
        fails_in_time(state.counts(&[key]), "counts (BatchGetItem)", kind).await;
        assert_eq!(requests.load(Ordering::SeqCst), 2 * MAX_ATTEMPTS, "{kind}");
    }
}

#[tokio::test]
async fn a_table_that_never_answers_is_unavailable_within_the_operation_timeout() {
    let (endpoint, requests) = stand_in(|_| Reply::Silence).await;
    let state = state_at(&endpoint).await;
    let error = fails_in_time(
        state.take(&claim("c1", agent(3), None)),
        "take (TransactWriteItems)",
        "did not answer",
    )
    .await;
    assert!(
        requests.load(Ordering::SeqCst) >= 2,
        "{error}: the SDK retried a stuck attempt"
    );
    assert_eq!(qa_state::OPERATION_TIMEOUT, Duration::from_secs(3));
}

/// DynamoDB's answer to a transaction cancelled because it met another one on the counter.
fn conflict() -> Reply {
    Reply::Answer(
        "400 Bad Request",
        r#"{"__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException","Message":"Transaction cancelled","CancellationReasons":[{"Code":"None"},{"Code":"TransactionConflict","Message":"Transaction is ongoing for the item"}]}"#.into(),
    )
}

#[tokio::test]
async fn a_transaction_that_met_another_is_sent_again() {
    // Two conflicts, then carried out: taken, on the third try.
    let (endpoint, requests) = stand_in(|n| {
        if n <= 2 {
            conflict()
        } else {
            Reply::Answer("200 OK", "{}".into())
        }
    })
    .await;
    let state = state_at(&endpoint).await;
    assert_eq!(ok(state.take(&claim("c1", agent(3), None)).await), Taken::Taken);
    assert_eq!(requests.load(Ordering::SeqCst), 3);

    // Conflicts on every try: unavailable, after 5 tries.
    let (endpoint, requests) = stand_in(|_| conflict()).await;
    let state = state_at(&endpoint).await;
    fails_in_time(
        state.take(&claim("c1", agent(3), None)),
        "take (TransactWriteItems)",
        "conflicted with others",
    )
    .await;
    assert_eq!(requests.load(Ordering::SeqCst), 5);
}

#[tokio::test]
async fn unprocessed_keys_are_read_again() {
    let key = agent(3).map(|c| c.key()).unwrap_or_default();
    let (pk, sk) = key.clone();
    let keys = format!(r#"{{"pk":{{"S":"{pk}"}},"sk":{{"S":"{sk}"}}}}"#);
    let (endpoint, requests) = stand_in(move |n| {
        let body = if n == 1 {
            format!(r#"{{"Responses":{{"qa-state":[]}},"UnprocessedKeys":{{"qa-state":{{"Keys":[{keys}]}}}}}}"#)
        } else {
            let item = format!(r#"{},"taken":{{"N":"2"}}}}"#, &keys[..keys.len() - 1]);
            format!(r#"{{"Responses":{{"qa-state":[{item}]}},"UnprocessedKeys":{{}}}}"#)
        };
        Reply::Answer("200 OK", body)
    })
    .await;
    let state = state_at(&endpoint).await;
    assert_eq!(ok(state.counts(&[key]).await), [2]);
    assert_eq!(requests.load(Ordering::SeqCst), 2);
}

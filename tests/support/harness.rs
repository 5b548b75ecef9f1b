//! What the integration tests share: the sample IDs, the function built over the real SDK client
//! against a local Connect double, sample events and scenarios from the repository, and the check of
//! every metric document the function writes.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Write;
use std::ops::Deref;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lambda_runtime::LambdaEvent;
use monitor_contact::metrics::Sink;
use monitor_contact::runtime::invocation;
use monitor_contact::{App, Config, ConnectApi, ErrorKind, MonitorError, Outcome, Response, SkipReason, handle, sdk};
use serde_json::{Value, json};

use super::connect_double::{ConnectDouble, Scenario};

pub const INSTANCE: &str = "9e7c1b52-3d4f-4a6b-8c2d-1e0f3a5b7c9d";
pub const SUPERVISOR: &str = "3f8a2c1e-6d4b-4a9e-b7c5-0d1e2f3a4b5c";
pub const SECOND_SUPERVISOR: &str = "7c6b5a49-3827-4615-a0f9-e8d7c6b5a4f3";
pub const VOICE: &str = "5b0e6c2a-7f41-4d8e-9a3b-2c1d0e9f8a7b";
pub const CHAT: &str = "e2a9d7c4-1b3f-4e5a-8d6c-9f0a1b2c3d4e";

/// The function over the real SDK client, with its metric documents kept in memory.
pub struct TestApp {
    pub app: App<ConnectApi>,
    pub emf: Arc<Mutex<Vec<String>>>,
}

impl Deref for TestApp {
    type Target = App<ConnectApi>;

    fn deref(&self) -> &App<ConnectApi> {
        &self.app
    }
}

impl TestApp {
    pub fn new(config: Config, sdk: &aws_config::SdkConfig) -> TestApp {
        let emf = Arc::new(Mutex::new(Vec::new()));
        let app = App::new(config, ConnectApi::new(sdk)).with_metrics(Sink::Memory(Arc::clone(&emf)));
        TestApp { app, emf }
    }

    /// The metric documents written since the last call.
    pub fn take_emf(&self) -> Vec<String> {
        self.emf.lock().map(|mut d| std::mem::take(&mut *d)).unwrap_or_default()
    }
}

/// The configuration the samples fit: their supervisor is the default, both sample supervisors are
/// allowed; `vars` add to it or override it (an empty value unsets).
pub fn config(vars: &[(&str, &str)]) -> Config {
    let mut all = vec![(
        "ALLOWED_SUPERVISOR_USER_IDS",
        "3f8a2c1e-6d4b-4a9e-b7c5-0d1e2f3a4b5c,7c6b5a49-3827-4615-a0f9-e8d7c6b5a4f3",
    )];
    all.push(("DEFAULT_SUPERVISOR_USER_ID", SUPERVISOR));
    all.extend_from_slice(vars);
    match Config::from_lookup("us-east-1", |n| {
        all.iter().rev().find(|(k, _)| *k == n).map(|(_, v)| (*v).to_owned())
    }) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    }
}

/// A scenario for the double from `tests/scenarios/`.
pub fn scenario(name: &str) -> Scenario {
    let path = format!("{}/tests/scenarios/{name}", env!("CARGO_MANIFEST_DIR"));
    Scenario::from_file(&path).unwrap_or_else(|e| panic!("{e}"))
}

pub async fn double(scenario: Scenario) -> ConnectDouble {
    match ConnectDouble::start(scenario).await {
        Ok(d) => d,
        Err(e) => panic!("cannot start the double: {e}"),
    }
}

/// The SDK configuration for the double: the function's own time-outs, and retries with a short
/// back-off (the SDK's default is 1 s).
pub fn sdk_for(double: &ConnectDouble) -> aws_config::SdkConfig {
    double
        .sdk_config(Duration::from_millis(5))
        .into_builder()
        .timeout_config(sdk::timeout_config())
        .build()
}

pub fn app_for(double: &ConnectDouble, vars: &[(&str, &str)]) -> TestApp {
    TestApp::new(config(vars), &sdk_for(double))
}

/// A sample event from `events/`. The EventBridge samples (and the bodies of the SQS samples) are
/// dated: they come back as if they had just happened, except `eventbridge-old-event.json`, old on
/// purpose (see [`raw_sample`]).
pub fn sample(name: &str) -> String {
    let text = raw_sample(name);
    if name == "eventbridge-old-event.json" {
        return text;
    }
    let Ok(mut value) = serde_json::from_str::<Value>(&text) else {
        return text;
    };
    if value.get("time").is_some() {
        return fresh(&text);
    }
    if let Some(records) = value.get_mut("Records").and_then(Value::as_array_mut) {
        for record in records {
            let body = record["body"]
                .as_str()
                .filter(|b| serde_json::from_str::<Value>(b).is_ok());
            if let Some(body) = body.map(fresh) {
                record["body"] = json!(body);
            }
        }
        return value.to_string();
    }
    text
}

/// A sample event as the file holds it.
pub fn raw_sample(name: &str) -> String {
    let path = format!("{}/events/{name}", env!("CARGO_MANIFEST_DIR"));
    match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) => panic!("{path}: {e}"),
    }
}

pub fn event(json: &str, time_left: Duration) -> LambdaEvent<String> {
    invocation(json, "8f3b2a10-0000-4000-8000-00000000abcd", time_left)
}

/// Invokes the function with one event, and checks its metric documents against the outcome.
pub async fn invoke(app: &TestApp, json: &str) -> Result<Outcome, MonitorError> {
    invoke_within(app, json, Duration::from_secs(8)).await
}

pub async fn invoke_within(app: &TestApp, json: &str, time_left: Duration) -> Result<Outcome, MonitorError> {
    let result = match handle(app, event(json, time_left)).await {
        Ok(Response::Single(outcome)) => Ok(outcome),
        Ok(Response::Batch(b)) => panic!("a single event answered as a batch: {b:?}"),
        Err(e) => Err(e),
    };
    let counts = emf_counts(&app.take_emf());
    let mut expected = Counts::default();
    expected.add(&result);
    assert_eq!(
        counts.outcomes, expected.outcomes,
        "the metrics count the outcome of {result:?}"
    );
    result
}

/// Invokes the function with an SQS batch of `bodies` (message IDs `m-0`, `m-1`, ...): the message
/// IDs reported as failures. Checks that the metrics count one outcome per record and the failures.
pub async fn invoke_batch(app: &TestApp, bodies: &[String], receive_count: u32) -> Vec<String> {
    invoke_batch_within(app, bodies, receive_count, Duration::from_secs(60))
        .await
        .0
}

/// The same, with `time_left` before the deadline; also what the metrics counted.
pub async fn invoke_batch_within(
    app: &TestApp,
    bodies: &[String],
    receive_count: u32,
    time_left: Duration,
) -> (Vec<String>, Counts) {
    let payload = sqs_batch(bodies, receive_count);
    let failures: Vec<String> = match handle(app, event(&payload, time_left)).await {
        Ok(Response::Batch(response)) => {
            let text = serde_json::to_value(&response).unwrap_or_default();
            text["batchItemFailures"]
                .as_array()
                .map(|items| {
                    items
                        .iter()
                        .filter_map(|i| i["itemIdentifier"].as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        }
        other => panic!("a batch answered {other:?}"),
    };
    let counts = emf_counts(&app.take_emf());
    let total: u64 = counts.outcomes.values().sum();
    assert_eq!(total, bodies.len() as u64, "one outcome per record: {counts:?}");
    let failed: u64 = counts
        .outcomes
        .iter()
        .filter(|(k, _)| k.starts_with("Failed/"))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(
        failed,
        failures.len() as u64,
        "every failed record is reported, nothing else"
    );
    (failures, counts)
}

/// An SQS event as the event source mapping delivers it.
pub fn sqs_batch(bodies: &[String], receive_count: u32) -> String {
    let records: Vec<Value> = bodies
        .iter()
        .enumerate()
        .map(|(n, body)| {
            json!({
                "messageId": format!("m-{n}"),
                "receiptHandle": format!("handle-{n}"),
                "body": body,
                "attributes": {
                    "ApproximateReceiveCount": receive_count.to_string(),
                    "SentTimestamp": "1795000000000",
                    "SenderId": "AIDAEVENTBRIDGE",
                    "ApproximateFirstReceiveTimestamp": "1795000000100"
                },
                "messageAttributes": {},
                "md5OfBody": "00000000000000000000000000000000",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:111122223333:monitor-contact-automation",
                "awsRegion": "us-east-1"
            })
        })
        .collect();
    json!({ "Records": records }).to_string()
}

/// What the metric documents of one invocation count.
#[derive(Debug, Default, PartialEq)]
pub struct Counts {
    /// `Started`, `Skipped/<reason>`, `Failed/<errorType>`.
    pub outcomes: BTreeMap<String, u64>,
    /// `ConnectCalls` per operation.
    pub calls: BTreeMap<String, u64>,
    /// `PacedRate` per operation (where paced).
    pub paced: BTreeMap<String, f64>,
    pub throttled: u64,
    /// `Started`/`Skipped` per QA rule.
    pub qa: BTreeMap<String, (u64, u64)>,
    pub documents: usize,
}

impl Counts {
    fn add(&mut self, result: &Result<Outcome, MonitorError>) {
        let key = match result {
            Ok(Outcome::Started { .. }) => "Started".to_owned(),
            Ok(Outcome::Skipped { reason, .. }) => format!("Skipped/{}", reason.as_str()),
            Err(e) => format!("Failed/{}", e.kind.as_str()),
        };
        *self.outcomes.entry(key).or_default() += 1;
    }
}

/// Parses metric documents and checks their format as CloudWatch requires it: each one a JSON
/// object with `_aws.Timestamp` (a number) and `_aws.CloudWatchMetrics` (namespace, dimension sets
/// whose every key is a string member of the document, metrics each present as a number), and no
/// dimension that identifies a contact, an event or a user. Returns what they count.
pub fn emf_counts(documents: &[String]) -> Counts {
    let mut counts = Counts {
        documents: documents.len(),
        ..Counts::default()
    };
    let allowed_dimensions = ["FunctionName", "Reason", "ErrorType", "Operation", "QaRule"];
    for text in documents {
        assert!(!text.contains('\n'), "one line: {text}");
        let doc: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
        let aws = &doc["_aws"];
        assert!(aws["Timestamp"].is_u64(), "Timestamp: {text}");
        let directives = aws["CloudWatchMetrics"]
            .as_array()
            .unwrap_or_else(|| panic!("CloudWatchMetrics: {text}"));
        assert!(!directives.is_empty(), "{text}");
        let mut dimensions = Vec::new();
        for directive in directives {
            assert!(directive["Namespace"].as_str().is_some_and(|n| !n.is_empty()), "{text}");
            for set in directive["Dimensions"]
                .as_array()
                .unwrap_or_else(|| panic!("Dimensions: {text}"))
            {
                for key in set.as_array().unwrap_or_else(|| panic!("a dimension set: {text}")) {
                    let key = key.as_str().unwrap_or_else(|| panic!("a dimension key: {text}"));
                    assert!(allowed_dimensions.contains(&key), "dimension {key}: {text}");
                    assert!(doc[key].is_string(), "dimension {key} is a member: {text}");
                    dimensions.push(key.to_owned());
                }
            }
            for metric in directive["Metrics"]
                .as_array()
                .unwrap_or_else(|| panic!("Metrics: {text}"))
            {
                let name = metric["Name"]
                    .as_str()
                    .unwrap_or_else(|| panic!("a metric name: {text}"));
                assert!(doc[name].is_number(), "metric {name} is a number: {text}");
                assert!(metric["Unit"].is_string(), "{text}");
            }
        }
        assert_eq!(doc["FunctionName"], "monitor-contact", "{text}");
        let n = |name: &str| doc[name].as_f64().unwrap_or(0.0) as u64;
        if let Some(rule) = doc["QaRule"].as_str() {
            let entry = counts.qa.entry(rule.to_owned()).or_default();
            entry.0 += n("Started");
            entry.1 += n("Skipped");
        } else if let Some(reason) = doc["Reason"].as_str() {
            *counts.outcomes.entry(format!("Skipped/{reason}")).or_default() += n("Skipped");
        } else if let Some(kind) = doc["ErrorType"].as_str() {
            *counts.outcomes.entry(format!("Failed/{kind}")).or_default() += n("Failed");
        } else if let Some(op) = doc["Operation"].as_str() {
            *counts.calls.entry(op.to_owned()).or_default() += n("ConnectCalls");
            if let Some(rate) = doc["PacedRate"].as_f64() {
                counts.paced.insert(op.to_owned(), rate);
            }
        } else {
            assert_eq!(dimensions, ["FunctionName"], "{text}");
            assert!(
                doc["Duration"].is_number() && doc["ConnectThrottled"].is_number(),
                "{text}"
            );
            counts.throttled += n("ConnectThrottled");
            if n("Started") > 0 {
                *counts.outcomes.entry("Started".to_owned()).or_default() += n("Started");
            }
        }
    }
    counts
}

pub fn started(result: &Result<Outcome, MonitorError>) -> (String, String, String) {
    match result {
        Ok(Outcome::Started {
            contact_arn,
            client_token,
            user_id,
            ..
        }) => (contact_arn.clone(), client_token.clone(), user_id.clone()),
        other => panic!("expected STARTED, got {other:?}"),
    }
}

pub fn error_kind(result: &Result<Outcome, MonitorError>) -> ErrorKind {
    match result {
        Err(e) => e.kind,
        Ok(o) => panic!("expected an error, got {o:?}"),
    }
}

/// Log output captured in memory.
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().map(|b| b.clone()).unwrap_or_default()).into_owned()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut out) = self.0.lock() {
            out.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Captures the log lines of this thread through the function's own subscriber at TRACE (the SDK's
/// TRACE output included), as JSON, until the guard is dropped.
pub fn capture_logs() -> (Captured, tracing::subscriber::DefaultGuard) {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = monitor_contact::logging::subscriber("TRACE", true, move || writer.clone());
    (captured, tracing::subscriber::set_default(subscriber))
}

// The supervisor pool of `tests/scenarios/pool.json`.

/// Logged in, monitoring nothing.
pub const FREE: &str = "a1a1a1a1-0000-4000-8000-00000000000a";
/// Logged in, already monitoring one contact (the limit).
pub const BUSY: &str = "b2b2b2b2-0000-4000-8000-00000000000b";
/// Not logged in to the CCP.
pub const OUT: &str = "c3c3c3c3-0000-4000-8000-00000000000c";
/// Logged in, handling two customer contacts as an agent, monitoring nothing.
pub const AGENT: &str = "d4d4d4d4-0000-4000-8000-00000000000d";
pub const POOL: &str = "a1a1a1a1-0000-4000-8000-00000000000a,b2b2b2b2-0000-4000-8000-00000000000b,c3c3c3c3-0000-4000-8000-00000000000c,d4d4d4d4-0000-4000-8000-00000000000d";
pub const ENDED: &str = "0e0e0e0e-1111-4222-8333-444455556666";
pub const TASK: &str = "7a7a7a7a-1111-4222-8333-444455556666";
/// The `id` of `eventbridge-connected-to-agent.json`.
pub const CONNECTED_EVENT_ID: &str = "4c9d7f2e-8a1b-4e3c-9d5f-6a7b8c9d0e1f";

pub async fn pool_double() -> ConnectDouble {
    double(scenario("pool.json")).await
}

/// The samples' configuration with the pool instead of a default supervisor.
pub fn pool_app(double: &ConnectDouble, extra: &[(&str, &str)]) -> TestApp {
    let mut vars = vec![("DEFAULT_SUPERVISOR_USER_ID", ""), ("SUPERVISOR_POOL_USER_IDS", POOL)];
    vars.extend_from_slice(extra);
    app_for(double, &vars)
}

pub fn operations(double: &ConnectDouble) -> Vec<&'static str> {
    double.requests().iter().filter_map(|r| r.operation()).collect()
}

pub fn skipped(result: &Result<Outcome, MonitorError>) -> SkipReason {
    match result {
        Ok(Outcome::Skipped { reason, .. }) => *reason,
        other => panic!("expected SKIPPED, got {other:?}"),
    }
}

pub fn connected_event_with_id(id: &str) -> String {
    sample("eventbridge-connected-to-agent.json").replace(CONNECTED_EVENT_ID, id)
}

/// `event` with its EventBridge `time` set to now (the samples' times are in the past, older than
/// `MAX_EVENT_AGE_SECONDS`).
pub fn fresh(event: &str) -> String {
    let mut value: Value = serde_json::from_str(event).unwrap_or_else(|e| panic!("{e}"));
    value["time"] = json!(now_rfc3339(0));
    value.to_string()
}

/// Now plus `offset_secs`, as EventBridge writes `time`.
pub fn now_rfc3339(offset_secs: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
        + offset_secs;
    aws_sdk_connect::primitives::DateTime::from_secs(now)
        .fmt(aws_sdk_connect::primitives::DateTimeFormat::DateTime)
        .unwrap_or_default()
}

/// A contact event for `contact`, of `event_type`, with event ID `id`, happening now.
pub fn contact_event(id: &str, contact: &str, event_type: &str) -> String {
    let mut value: Value =
        serde_json::from_str(&raw_sample("eventbridge-connected-to-agent.json")).unwrap_or_else(|e| panic!("{e}"));
    value["id"] = json!(id);
    value["time"] = json!(now_rfc3339(0));
    value["detail"]["contactId"] = json!(contact);
    value["detail"]["eventType"] = json!(event_type);
    value.to_string()
}

/// A Contact Lens rule match for `contact` (voice), rule `rule`, event ID `id`, happening now.
pub fn contact_lens_event(id: &str, contact: &str, rule: &str) -> String {
    let mut value: Value =
        serde_json::from_str(&raw_sample("eventbridge-contact-lens-voice.json")).unwrap_or_else(|e| panic!("{e}"));
    value["id"] = json!(id);
    value["time"] = json!(now_rfc3339(0));
    value["detail"]["ruleName"] = json!(rule);
    value["detail"]["contactArn"] = json!(format!(
        "arn:aws:connect:us-east-1:111122223333:instance/{INSTANCE}/contact/{contact}"
    ));
    value.to_string()
}

pub fn direct_for(contact: &str) -> String {
    json!({"InstanceId": INSTANCE, "ContactId": contact, "EventId": format!("check-{contact}")}).to_string()
}

/// The bodies of an SQS sample.
pub fn bodies_of(batch: &str) -> Vec<String> {
    let value: serde_json::Value = serde_json::from_str(batch).unwrap_or_default();
    value["Records"]
        .as_array()
        .map(|records| {
            records
                .iter()
                .filter_map(|r| r["body"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

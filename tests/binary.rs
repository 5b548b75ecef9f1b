//! The real `monitor-contact` binary, run the way Lambda runs it: under a local Runtime API on
//! 127.0.0.1, talking to the local Connect double. What only the whole process shows:
//!
//! - no level setting lets customer data into the output, the runtime's own layers (which log the raw
//!   payload at TRACE) and the SDK's included: `AWS_LAMBDA_LOG_LEVEL=TRACE`, `RUST_LOG=trace`,
//!   per-target directives, in the JSON and the text format;
//! - every payload gets one of the function's answers through the real runtime: a byte-order mark,
//!   a payload that is not JSON (no `DeserializeError` escapes);
//! - metric documents are whole lines of stdout at every level, `ERROR` included, in both formats.

mod support;

use std::time::Duration;

use serde_json::Value;
use support::connect_double::{ConnectDouble, Scenario};
use support::harness::*;
use support::runtime_api::{Capture, Invocation, Launch, RuntimeApi};

const WITHIN: Duration = Duration::from_secs(30);

/// Customer data the events and DescribeContact's answers carry.
const SECRETS: [&str; 7] = [
    "5555550123",
    "555-0123",
    "4417-2291",
    "billing dispute",
    "2065550142",
    "Pat Example",
    "cancel my account",
];

/// The function, as the template deploys it, pointed at `double`.
fn function(double: &ConnectDouble) -> Launch {
    Launch::new(env!("CARGO_BIN_EXE_monitor-contact"))
        .env("AWS_ENDPOINT_URL_CONNECT", double.endpoint())
        .env("DEFAULT_SUPERVISOR_USER_ID", SUPERVISOR)
        .env("VERIFY_CONTACT", "true")
        .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
        .stdout(Capture::Buffer)
        .stderr(Capture::Buffer)
}

/// The events every run gets: a contact flow's (the customer's number and attributes), a Contact
/// Lens match and an SQS batch (numbers in the bodies), a direct request.
fn events() -> Vec<(&'static str, String)> {
    vec![
        ("flow", sample("contact-flow-voice.json")),
        ("lens", sample("eventbridge-contact-lens-voice.json")),
        ("batch", sample("sqs-batch.json")),
        ("direct", sample("direct.json")),
    ]
}

/// Runs `launch` on `events`: the answers and everything the process wrote.
async fn run(launch: Launch, events: &[(&str, String)]) -> (Vec<(String, Value)>, String, String) {
    let mut api = RuntimeApi::start().await.unwrap_or_else(|e| panic!("{e}"));
    let process = launch.spawn(&api).unwrap_or_else(|e| panic!("{e}"));
    let mut answers = Vec::new();
    for (name, payload) in events {
        let answer = api
            .invoke(Invocation::new(format!("req-{name}"), payload.clone()), WITHIN)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let kind = if answer.is_response() { "response" } else { "error" };
        answers.push((kind.to_owned(), answer.json()));
    }
    let output = process.finish();
    (answers, output.stdout, output.stderr)
}

#[tokio::test]
async fn no_level_setting_lets_customer_data_through() {
    let settings: &[(&str, &str, &str)] = &[
        ("AWS_LAMBDA_LOG_LEVEL", "TRACE", "JSON"),
        ("AWS_LAMBDA_LOG_LEVEL", "TRACE", "Text"),
        ("RUST_LOG", "trace", "JSON"),
        (
            "RUST_LOG",
            "trace,lambda_runtime=trace,lambda_runtime::layers::api_response=trace,aws_smithy_runtime=trace,aws_smithy_runtime::client::orchestrator=trace",
            "Text",
        ),
    ];
    for (variable, level, format) in settings {
        let double = double(Scenario::open()).await;
        let launch = function(&double)
            .env(variable, *level)
            .env("AWS_LAMBDA_LOG_FORMAT", *format)
            .env("MAX_EVENT_AGE_SECONDS", "0");
        let (answers, stdout, stderr) = run(launch, &events()).await;
        let setting = format!("{variable}={level} ({format})");
        for (kind, body) in &answers {
            assert_eq!(kind, "response", "{setting}: {body}");
        }
        let everything = format!("{stdout}\n{stderr}");
        for secret in SECRETS {
            assert!(
                !everything.contains(secret),
                "{setting}: the output contains {secret:?}"
            );
        }
        // The levels took effect: the runtime's and the SDK's own TRACE and DEBUG lines are there.
        assert!(
            everything.contains("Loading config from env"),
            "{setting}: the runtime's TRACE"
        );
        assert!(everything.contains("beginning attempt"), "{setting}: the SDK's DEBUG");
        assert!(
            everything.contains("monitor-contact"),
            "{setting}: the function's lines"
        );
        assert!(
            double.requests().len() >= 6,
            "{setting}: DescribeContact answered with the customer's data"
        );
    }
}

#[tokio::test]
async fn every_payload_gets_one_of_the_functions_answers_through_the_runtime() {
    let double = double(Scenario::open()).await;
    let payloads = vec![
        ("bom", raw_sample("direct-bom.json")),
        ("not-json", "hello, world".to_owned()),
        ("empty", String::new()),
        ("truncated", "{\"InstanceId\":".to_owned()),
        (
            "binary",
            String::from_utf8_lossy(&[0xff, 0xfe, 0x00, 0x7b]).into_owned(),
        ),
    ];
    let (answers, _, _) = run(function(&double).env("VERIFY_CONTACT", "false"), &payloads).await;
    assert_eq!(answers[0].0, "response");
    assert_eq!(answers[0].1["Status"], "STARTED");
    for (kind, body) in &answers[1..] {
        assert_eq!(kind, "error");
        assert_eq!(body["errorType"], "UnrecognizedEvent", "{body}");
        assert!(
            body["errorMessage"]
                .as_str()
                .is_some_and(|m| m.contains("not valid JSON")),
            "{body}"
        );
    }
}

#[tokio::test]
async fn metrics_are_whole_lines_of_stdout_at_every_level() {
    for format in ["JSON", "Text"] {
        let double = double(Scenario::open()).await;
        let launch = function(&double)
            .env("AWS_LAMBDA_LOG_LEVEL", "ERROR")
            .env("AWS_LAMBDA_LOG_FORMAT", format)
            .env("MAX_EVENT_AGE_SECONDS", "0");
        let (answers, stdout, _) = run(launch, &events()).await;
        assert!(answers.iter().all(|(kind, _)| kind == "response"));
        let documents: Vec<String> = stdout
            .lines()
            .filter(|line| line.contains("\"_aws\""))
            .map(str::to_owned)
            .collect();
        let counts = emf_counts(&documents);
        // The flow, the escalation and the direct request start a monitor; the batch's five records
        // too (its INITIATED event is not a trigger).
        let started = counts.outcomes.get("Started").copied().unwrap_or(0);
        let not_trigger = counts.outcomes.get("Skipped/NOT_A_TRIGGER_EVENT").copied().unwrap_or(0);
        assert_eq!((started, not_trigger), (7, 1), "{format}: {counts:?}");
        assert!(
            counts.calls.get("MonitorContact").is_some_and(|n| *n >= 4),
            "{format}: {counts:?}"
        );
        for line in &documents {
            let doc: Value = serde_json::from_str(line).unwrap_or_default();
            assert!(
                doc.is_object() && doc.get("fields").is_none(),
                "{format}: the whole line: {line}"
            );
            assert_eq!(doc["level"], "ERROR", "{format}: Lambda's filter keeps it: {line}");
        }
        // ERROR: no INFO line of the function's.
        assert!(
            !stdout.lines().any(|l| !l.contains("\"_aws\"") && l.contains("STARTED")),
            "{format}: {stdout}"
        );
    }
}

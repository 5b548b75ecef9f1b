//! The in-process path of one invocation, no network: read the payload, validate and decide for each
//! event, group the targets, run the pipeline against a Connect that answers at once, count the
//! metrics and shape the response JSON. `cargo bench --bench in_process`.

use std::hint::black_box;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use monitor_contact::connect::{ConnectFailure, ContactStatus, MonitorRequest, Monitoring, Present};
use monitor_contact::metrics::Sink;
use monitor_contact::runtime::invocation;
use monitor_contact::{App, Config, Connect, handle};

const SUPERVISOR: &str = "3f8a2c1e-6d4b-4a9e-b7c5-0d1e2f3a4b5c";

/// A Connect that answers every call at once.
struct AtOnce;

impl Connect for AtOnce {
    async fn start_monitoring(&self, request: &MonitorRequest) -> Result<Monitoring, ConnectFailure> {
        Ok(Monitoring {
            contact_id: "m".into(),
            contact_arn: format!(
                "arn:aws:connect:us-east-1:111122223333:instance/{}/contact/m",
                request.instance_id
            ),
        })
    }

    async fn contact_status(&self, _instance: &str, _contact: &str) -> Result<ContactStatus, ConnectFailure> {
        Ok(ContactStatus {
            ended: false,
            initiation_method: Some("INBOUND".into()),
            channel: Some("VOICE".into()),
        })
    }

    async fn present_members(&self, _instance: &str, _users: &[String]) -> Result<Vec<Present>, ConnectFailure> {
        Ok(Vec::new())
    }
}

fn app(metrics: &Arc<Mutex<Vec<String>>>) -> App<AtOnce> {
    // The samples are dated: their age is not checked here, so that they take the whole path.
    let vars = [
        ("DEFAULT_SUPERVISOR_USER_ID", SUPERVISOR),
        ("MAX_EVENT_AGE_SECONDS", "0"),
        ("CONNECT_CALLS_PER_SECOND", "off"),
    ];
    let config = Config::from_lookup("us-east-1", |name| {
        vars.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())
    })
    .unwrap_or_else(|e| panic!("{e}"));
    App::new(config, AtOnce).with_metrics(Sink::Memory(Arc::clone(metrics)))
}

/// Everything the function does for one invocation except the network and the runtime's own I/O.
fn in_process(runtime: &tokio::runtime::Runtime, app: &App<AtOnce>, payload: &str) -> String {
    let event = invocation(payload, "8f3b2a10-0000-4000-8000-00000000abcd", Duration::from_secs(8));
    match runtime.block_on(handle(app, event)) {
        Ok(response) => serde_json::to_string(&response).unwrap_or_default(),
        Err(e) => panic!("{e}"),
    }
}

/// An SQS batch of `n` contact events, each about its own contact.
fn batch(n: usize) -> String {
    let event = include_str!("../events/eventbridge-connected-to-agent.json");
    let records: Vec<serde_json::Value> = (0..n)
        .map(|i| {
            let body = event
                .replace(
                    "4c9d7f2e-8a1b-4e3c-9d5f-6a7b8c9d0e1f",
                    &format!("4c9d7f2e-8a1b-4e3c-9d5f-{i:012}"),
                )
                .replace(
                    "5b0e6c2a-7f41-4d8e-9a3b-2c1d0e9f8a7b",
                    &format!("5b0e6c2a-7f41-4d8e-9a3b-{i:012}"),
                );
            serde_json::json!({"messageId": format!("m-{i}"), "body": body, "eventSource": "aws:sqs",
                "attributes": {"ApproximateReceiveCount": "1"}})
        })
        .collect();
    serde_json::json!({ "Records": records }).to_string()
}

fn benches(c: &mut Criterion) {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_time().build() {
        Ok(runtime) => runtime,
        Err(e) => panic!("{e}"),
    };
    let metrics = Arc::new(Mutex::new(Vec::new()));
    let app = app(&metrics);
    let hundred = batch(100);
    let samples = [
        (
            "contact-flow-voice (largest sample)",
            include_str!("../events/contact-flow-voice.json"),
        ),
        (
            "eventbridge-connected-to-agent",
            include_str!("../events/eventbridge-connected-to-agent.json"),
        ),
        ("direct", include_str!("../events/direct.json")),
        (
            "eventbridge-skip-queued",
            include_str!("../events/eventbridge-skip-queued.json"),
        ),
        ("sqs batch of 100 contact events", hundred.as_str()),
    ];
    for (name, payload) in samples {
        let answer = in_process(&runtime, &app, payload);
        assert!(
            answer.contains("Status") || answer == r#"{"batchItemFailures":[]}"#,
            "{name}: {answer}"
        );
        c.bench_function(name, |b| {
            b.iter(|| {
                let answer = in_process(&runtime, &app, black_box(payload));
                if let Ok(mut kept) = metrics.lock() {
                    kept.clear();
                }
                answer
            })
        });
    }
}

criterion_group!(in_process_path, benches);
criterion_main!(in_process_path);

//! What the integration tests share: the sample IDs, the function built over the real SDK client
//! against a local Connect double, sample events and scenarios from the repository.
#![allow(dead_code)]

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lambda_runtime::LambdaEvent;
use monitor_contact::handler::invocation;
use monitor_contact::{App, Config, ErrorKind, MonitorError, Outcome, SkipReason, connect, handle};
use serde_json::json;
use serde_json::value::RawValue;

use super::connect_double::{ConnectDouble, Scenario};

pub const INSTANCE: &str = "9e7c1b52-3d4f-4a6b-8c2d-1e0f3a5b7c9d";
pub const SUPERVISOR: &str = "3f8a2c1e-6d4b-4a9e-b7c5-0d1e2f3a4b5c";
pub const SECOND_SUPERVISOR: &str = "7c6b5a49-3827-4615-a0f9-e8d7c6b5a4f3";
pub const VOICE: &str = "5b0e6c2a-7f41-4d8e-9a3b-2c1d0e9f8a7b";
pub const CHAT: &str = "e2a9d7c4-1b3f-4e5a-8d6c-9f0a1b2c3d4e";

pub type TestApp = App<aws_sdk_connect::Client>;

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

pub fn app_for(double: &ConnectDouble, vars: &[(&str, &str)]) -> TestApp {
    App {
        config: config(vars),
        connect: connect::client(&double.sdk_config(Duration::from_millis(5))),
    }
}

pub fn sample(name: &str) -> String {
    let path = format!("{}/events/{name}", env!("CARGO_MANIFEST_DIR"));
    match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) => panic!("{path}: {e}"),
    }
}

pub fn event(json: &str, time_left: Duration) -> LambdaEvent<Box<RawValue>> {
    invocation(json, "8f3b2a10-0000-4000-8000-00000000abcd", time_left).unwrap_or_else(|e| panic!("not JSON: {e}"))
}

pub async fn invoke(app: &TestApp, json: &str) -> Result<Outcome, MonitorError> {
    handle(app, event(json, Duration::from_secs(8))).await
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

pub fn direct_for(contact: &str) -> String {
    json!({"InstanceId": INSTANCE, "ContactId": contact, "EventId": format!("check-{contact}")}).to_string()
}

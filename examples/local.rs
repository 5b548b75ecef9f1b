//! Runs the function once on a sample event, locally, against the local Connect double: no AWS
//! account, no network beyond 127.0.0.1.
//!
//!     cargo run --example local -- events/direct.json
//!     cargo run --example local -- events/eventbridge-connected-to-agent.json tests/scenarios/pool.json
//!
//! The optional second argument is a scenario for the double (which instances, contacts and users
//! exist, who is logged in and monitoring; see `tests/support/connect_double.rs`); without one, any
//! well-formed ID exists and every user is logged in and free.
//!
//! Prints the function's response (or `{"errorType", "errorMessage"}`) on stdout, the function's log
//! line on stderr; exits 0 on success or skip (or an SQS batch's answer), 1 on a function error, 2
//! on a usage error.
//! Configuration comes from the environment as in Lambda; variables left unset get local defaults
//! that fit the sample events (the samples' supervisor is the default and allowed supervisor).

#[path = "../tests/support/connect_double.rs"]
mod connect_double;

use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use connect_double::{ConnectDouble, Scenario};
use monitor_contact::handler::invocation;
use monitor_contact::metrics::Sink;
use monitor_contact::qa_state::DynamoState;
use monitor_contact::{App, Config, ConnectApi, Response, handle, logging};

/// The supervisor the sample events name.
const SAMPLE_SUPERVISOR: &str = "3f8a2c1e-6d4b-4a9e-b7c5-0d1e2f3a4b5c";

/// Local defaults for variables left unset: the samples' supervisor is the default, unless a pool
/// is configured (the two exclude each other); the samples are dated, so their age is not checked
/// (`MAX_EVENT_AGE_SECONDS=300` checks it as the function does by default); metrics are printed
/// only when asked for (`METRICS_NAMESPACE`).
fn local_default(name: &str) -> Option<String> {
    let set = |n: &str| std::env::var(n).is_ok_and(|v| !v.trim().is_empty());
    match name {
        "DEFAULT_SUPERVISOR_USER_ID" if !set("SUPERVISOR_POOL_USER_IDS") && !set("QA_RULES") => {
            Some(SAMPLE_SUPERVISOR.to_owned())
        }
        "MAX_EVENT_AGE_SECONDS" => Some("0".to_owned()),
        "METRICS_NAMESPACE" => Some("off".to_owned()),
        _ => None,
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    // The function's own log output (levels from AWS_LAMBDA_LOG_LEVEL or RUST_LOG), on stderr.
    let env = |name: &str| std::env::var(name).ok();
    let json = env("AWS_LAMBDA_LOG_FORMAT").is_some_and(|f| f.eq_ignore_ascii_case("json"));
    let _ =
        tracing::subscriber::set_global_default(logging::subscriber(&logging::directives(env), json, std::io::stderr));

    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: cargo run --example local -- events/<file>.json [scenario.json]");
        return ExitCode::from(2);
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("cannot read {path}: {e}");
            return ExitCode::from(2);
        }
    };
    let event = invocation(&text, "local-invocation-1", Duration::from_secs(8));
    let scenario = match std::env::args().nth(2) {
        None => Scenario::open(),
        Some(path) => match Scenario::from_file(&path) {
            Ok(scenario) => scenario,
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(2);
            }
        },
    };
    let double = match ConnectDouble::start(scenario).await {
        Ok(double) => double,
        Err(e) => {
            eprintln!("cannot start the local Connect double on 127.0.0.1: {e}");
            return ExitCode::from(2);
        }
    };
    let sdk = double.sdk_config(Duration::from_millis(200));
    let config = match Config::from_lookup("us-east-1", |name| {
        std::env::var(name).ok().or_else(|| local_default(name))
    }) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    // Metrics, when asked for, go to stderr with the log lines: stdout holds the response only.
    let metrics = Arc::new(Mutex::new(Vec::new()));
    let qa_state = DynamoState::for_config(&config, &sdk);
    let app = App::new(config, ConnectApi::new(&sdk))
        .with_metrics(Sink::Memory(Arc::clone(&metrics)))
        .with_qa_state(qa_state);

    let result = handle(&app, event).await;
    for document in metrics.lock().map(|m| m.clone()).unwrap_or_default() {
        eprintln!("{document}");
    }
    let (response, code) = match result {
        Ok(Response::Single(outcome)) => (serde_json::to_value(&outcome), ExitCode::SUCCESS),
        Ok(batch @ Response::Batch(_)) => (serde_json::to_value(&batch), ExitCode::SUCCESS),
        Err(e) => (
            Ok(serde_json::json!({ "errorType": e.kind.as_str(), "errorMessage": e.message })),
            ExitCode::FAILURE,
        ),
    };
    match response.and_then(|v| serde_json::to_string_pretty(&v)) {
        Ok(text) => println!("{text}"),
        Err(e) => {
            eprintln!("cannot print the response: {e}");
            return ExitCode::from(2);
        }
    }
    code
}

//! Runs the function once on a sample event, locally, against the local Connect double: no AWS
//! account, no network beyond 127.0.0.1.
//!
//!     cargo run --example local -- events/direct.json
//!     cargo run --example local -- events/eventbridge-connected-to-agent.json tests/scenarios/pool.json
//!
//! The optional second argument is a scenario for the double (which instances, contacts and users
//! exist, who is logged in and monitoring; see `tests/support/connect_double/scenario.rs`); without one, any
//! well-formed ID exists and every user is logged in and free.
//!
//! Prints the function's response (or `{"errorType", "errorMessage"}`) on stdout, the function's log
//! line on stderr; exits 0 on success or skip (or an SQS batch's answer), 1 on a function error, 2
//! on a usage error (or a quota rule's table that cannot be set up).
//! Configuration comes from the environment as in Lambda; variables left unset get local defaults
//! that fit the sample events (the samples' supervisor is the default and allowed supervisor).
//!
//! A QA rule with a quota keeps its counts in the DynamoDB table `QA_STATE_TABLE`. With
//! `AWS_ENDPOINT_URL_DYNAMODB` set, the table is the one at that endpoint (yours to run and create);
//! otherwise this run starts moto's server mode on 127.0.0.1 (`MOTO_SERVER`, else `moto_server` on
//! `PATH`; `scripts/moto` installs it once and prints its path), creates the table there as
//! template.yaml defines it, and stops moto when it ends, so every run starts from empty counts:
//!
//!     MOTO_SERVER="$(scripts/moto)" QA_STATE_TABLE=qa-state QA_RULES="$(cat examples/qa-quota-rules.json)" \
//!         cargo run --example local -- events/sqs-qa-week.json

#[path = "../tests/support/connect_double/mod.rs"]
mod connect_double;
// The tests' moto: only its start, its table and its lookup are used here.
#[allow(dead_code)]
#[path = "../tests/support/moto.rs"]
mod moto;

use std::panic::catch_unwind;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::SdkConfig;
use connect_double::{ConnectDouble, Scenario};
use monitor_contact::metrics::Sink;
use monitor_contact::qa_state::DynamoState;
use monitor_contact::runtime::invocation;
use monitor_contact::{App, Config, ConnectApi, Response, handle, logging};
use moto::{Moto, NotFound};

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
    // Kept to the end of the run: moto stops when it is dropped.
    let (qa_state, _moto) = match state_table(&config, &sdk).await {
        Ok(state) => state,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
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

/// The QA state table's client, when a quota rule needs one, and the moto this run started for it.
///
/// The client's configuration is the double's (credentials, region, HTTP client) with the table's
/// endpoint: the double's SdkConfig names its own endpoint explicitly, which a client built from it
/// unchanged would use for DynamoDB too, and it reads no `AWS_ENDPOINT_URL_*` variable.
async fn state_table(config: &Config, sdk: &SdkConfig) -> Result<(Option<DynamoState>, Option<Moto>), String> {
    // The function's own choice: a table only when a rule has a quota (the client built here is dropped).
    let Some(table) = DynamoState::for_config(config, sdk).map(|state| state.table().to_owned()) else {
        return Ok((None, None));
    };
    let endpoint = std::env::var("AWS_ENDPOINT_URL_DYNAMODB")
        .ok()
        .filter(|url| !url.trim().is_empty());
    if let Some(endpoint) = endpoint {
        eprintln!("QA state table {table} at {endpoint} (AWS_ENDPOINT_URL_DYNAMODB)");
        let sdk = sdk.to_builder().endpoint_url(endpoint).build();
        return Ok((Some(DynamoState::new(&sdk, &table)), None));
    }
    let missing = match moto::locate() {
        Ok(_) => None,
        Err(NotFound::NotAFile(path)) => Some(format!("MOTO_SERVER is {}, which is no file", path.display())),
        Err(NotFound::Nowhere) => Some("MOTO_SERVER is unset and moto_server is not on PATH".to_owned()),
    };
    if let Some(why) = missing {
        return Err(format!(
            "QA_RULES has a quota, whose counts need the DynamoDB table {table}, for which this run starts moto's \
             DynamoDB on 127.0.0.1; but {why}. `scripts/moto` installs the pinned moto[server] once (Python 3 with \
             pip needed) and prints its launcher: run with MOTO_SERVER=\"$(scripts/moto)\". Or set \
             AWS_ENDPOINT_URL_DYNAMODB to a DynamoDB of your own that has the table"
        ));
    }
    // Moto::start waits for the server (a second or two) and panics, with its log, if it cannot start.
    let moto = catch_unwind(Moto::start).map_err(|_| "moto did not start (see above)".to_owned())?;
    let sdk = sdk.to_builder().endpoint_url(&moto.endpoint).build();
    moto::create_table(&aws_sdk_dynamodb::Client::new(&sdk), &table).await;
    eprintln!(
        "QA state table {table} in moto at {} (started for this run, empty)",
        moto.endpoint
    );
    Ok((Some(DynamoState::new(&sdk, &table)), Some(moto)))
}

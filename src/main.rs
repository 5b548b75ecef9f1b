//! The Lambda entry point: logging, configuration and the clients (Connect; DynamoDB only for QA
//! quotas; SQS only to give failed records back early), once; then the runtime.

use monitor_contact::qa_state::DynamoState;
use monitor_contact::requeue::Requeue;
use monitor_contact::{App, Config, ConnectApi, runtime, sdk};

// One invocation at a time per execution environment: a single-threaded runtime starts faster and
// needs less memory than the multi-threaded default.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    // Honours AWS_LAMBDA_LOG_FORMAT=JSON and AWS_LAMBDA_LOG_LEVEL (or RUST_LOG); never logs customer data.
    monitor_contact::logging::init();

    let env = |name: &str| std::env::var(name).ok();
    let http = sdk::http_client(sdk::system_roots_requested(env)).inspect_err(|e| tracing::error!("{e}"))?;
    let sdk = sdk::load(http, env).await;
    let region = sdk.region().map(|r| r.as_ref().to_owned()).unwrap_or_default();
    let config = Config::from_env(&region).inspect_err(|e| tracing::error!("{e}"))?;
    let qa_state = DynamoState::for_config(&config, &sdk);
    let requeue = Requeue::for_config(&config, &sdk);
    let app = App::new(config, ConnectApi::new(&sdk))
        .with_qa_state(qa_state)
        .with_requeue(requeue);
    runtime::run(app).await
}

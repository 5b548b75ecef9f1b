//! The Lambda entry point: logging, configuration and the Connect client, once; then the runtime.

use lambda_runtime::{Error, service_fn};
use monitor_contact::{App, Config, connect, handle};

// One invocation at a time per execution environment: a single-threaded runtime starts faster and
// needs less memory than the multi-threaded default.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    // Honours AWS_LAMBDA_LOG_FORMAT=JSON and AWS_LAMBDA_LOG_LEVEL (or RUST_LOG); never logs SDK outputs.
    monitor_contact::logging::init();

    let env = |name: &str| std::env::var(name).ok();
    let http = connect::http_client(connect::system_roots_requested(env)).inspect_err(|e| tracing::error!("{e}"))?;
    let sdk = connect::load_sdk_config(http, env).await;
    let region = sdk.region().map(|r| r.as_ref().to_owned()).unwrap_or_default();
    let config = Config::from_env(&region).inspect_err(|e| tracing::error!("{e}"))?;
    let app = App {
        config,
        connect: connect::client(&sdk),
    };

    lambda_runtime::run(service_fn(|event| handle(&app, event))).await
}

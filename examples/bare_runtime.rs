//! The floor for the cold-start benchmark: a bare `lambda_runtime` function that echoes its event,
//! on the same single-threaded runtime and built with the same profile as the real function. Nothing
//! else: no logging, no SDK, no configuration.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::value::RawValue;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(|event: LambdaEvent<Box<RawValue>>| async move {
        Ok::<_, Error>(event.payload)
    }))
    .await
}

//! How invocations reach the handler: `lambda_runtime`, with one layer of our own in front of its
//! deserialization.
//!
//! `lambda_runtime` deserializes the payload itself, and anything `serde_json` refuses (a payload
//! that is not JSON, or starts with a UTF-8 byte-order mark) escapes as its own `DeserializeError`,
//! outside this function's error types. [`RawPayload`] hands the payload over as a JSON string of its
//! text instead, which always deserializes; the handler then reads the text itself (`event::read`), so
//! that every payload gets one of the function's answers.
//!
//! The runtime logs each raw payload at TRACE (`lambda_runtime::layers::api_response`, "raw JSON event
//! received from Lambda"): the function's subscriber drops those events at every level (`logging`).

use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use lambda_runtime::layers::TracingLayer;
use lambda_runtime::tower::{Layer, Service};
use lambda_runtime::{Diagnostic, LambdaEvent, LambdaInvocation, Runtime, service_fn};

use crate::connect::Connect;
use crate::handler::{App, handle};

/// Runs the function: polls the Runtime API and answers each invocation until Lambda stops it.
pub async fn run<C: Connect>(app: App<C>) -> Result<(), lambda_runtime::Error> {
    // Boxed: the handler's future is deep, and the runtime's own futures nest it further.
    let handler = service_fn(|event: LambdaEvent<String>| {
        Box::pin(async { handle(&app, event).await.map_err(Diagnostic::from) })
    });
    Runtime::new(handler)
        .layer(RawPayload)
        .layer(TracingLayer::new())
        .run()
        .await
}

/// Hands the payload to the handler as the text Lambda delivered (see the module documentation).
#[derive(Debug, Clone, Copy, Default)]
pub struct RawPayload;

impl<S> Layer<S> for RawPayload {
    type Service = RawPayloadService<S>;

    fn layer(&self, inner: S) -> RawPayloadService<S> {
        RawPayloadService { inner }
    }
}

/// The service [`RawPayload`] builds.
#[derive(Debug, Clone)]
pub struct RawPayloadService<S> {
    inner: S,
}

impl<S> Service<LambdaInvocation> for RawPayloadService<S>
where
    S: Service<LambdaInvocation>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut invocation: LambdaInvocation) -> Self::Future {
        invocation.body = as_json_string(&invocation.body);
        self.inner.call(invocation)
    }
}

/// The payload as a JSON string (what `LambdaEvent<String>` deserializes from). Bytes that are not
/// UTF-8 become U+FFFD, which no accepted event contains.
pub fn as_json_string(payload: &[u8]) -> Bytes {
    match serde_json::to_vec(&String::from_utf8_lossy(payload)) {
        Ok(json) => Bytes::from(json),
        // Serializing a string cannot fail; should it, the handler still answers (not JSON).
        Err(_) => Bytes::from_static(b"\"\""),
    }
}

/// An invocation as Lambda hands it over: the payload, a request ID, and a deadline `time_left` from
/// now. For local runs and tests.
pub fn invocation(payload: &str, request_id: &str, time_left: Duration) -> LambdaEvent<String> {
    let mut context = lambda_runtime::Context::default();
    context.request_id = request_id.to_owned();
    let deadline = SystemTime::now() + time_left;
    context.deadline = deadline
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0);
    LambdaEvent::new(payload.to_owned(), context)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_payload_becomes_a_json_string_of_its_text() {
        for text in [
            "{\"a\":1}",
            "\u{feff}{\"a\":1}",
            "not json at all",
            "",
            "{\"quote\":\"\\\"\",\"nl\":\"\n\"}",
        ] {
            let wrapped = as_json_string(text.as_bytes());
            let back: String = serde_json::from_slice(&wrapped).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(back, text);
        }
        let back: String = serde_json::from_slice(&as_json_string(&[0x7b, 0xff, 0x7d])).unwrap_or_default();
        assert_eq!(back, "{\u{fffd}}");
    }
}

//! monitor-contact: an AWS Lambda function that starts Amazon Connect supervisor monitoring.
//!
//! Data flows one way. [`runtime`] hands each invocation's text to [`handler`]; [`event`] reads it
//! into one [`event::Intent`] per event (a single event, or an SQS batch); [`plan`] validates each
//! and decides in process (skip rules, [`qa`] rules, [`sampling`], policy, [`client_token`]; [`quota`]
//! is the arithmetic of the QA rules' quotas);
//! [`pipeline`] makes the Connect calls for all of them (grouped per monitor, retried as [`retry`]
//! says, paced by [`budget`], picking from the pools with [`pool`]) through the seam in [`connect`]
//! ([`sdk`] sets up the SDK); quota rules keep their counts and records through the seam in
//! [`qa_state`]; a batch's records that can be retried soon go back to their queue through
//! [`requeue`]; [`outcome`] is what an event comes to, [`error`] what it fails with and
//! what that means; [`metrics`] and [`logging`] are what the function writes besides its answer.
//! [`config`] is read once at init. [`report`] is the second binary's, `monitor-contact-report`: QA
//! coverage from the record the quota rules keep. The documentation pages are in `docs/`.

// Functions short enough to read at once: clippy.toml sets the limit (60 lines).
#![warn(clippy::too_many_lines)]
// What tests, examples and benches use is public, and documented; the rest is the crate's own.
#![warn(missing_docs)]

pub(crate) mod budget;
pub mod client_token;
pub mod config;
pub mod connect;
pub mod error;
pub(crate) mod event;
pub mod handler;
pub(crate) mod identifiers;
pub(crate) mod lenient_json;
pub mod logging;
pub mod metrics;
pub mod outcome;
pub(crate) mod pipeline;
pub(crate) mod plan;
pub(crate) mod pool;
pub(crate) mod qa;
pub mod qa_state;
pub mod quota;
pub mod report;
pub mod requeue;
pub(crate) mod retry;
pub mod runtime;
pub(crate) mod sampling;
pub mod sdk;

pub use config::Config;
pub use connect::{Connect, ConnectApi};
pub use error::{ErrorKind, MonitorError};
pub use handler::{App, Response, handle};
pub use outcome::{Outcome, SkipReason};

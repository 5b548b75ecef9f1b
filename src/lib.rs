//! monitor-contact: an AWS Lambda function that starts Amazon Connect supervisor monitoring.
//!
//! Data flows one way. [`runtime`] hands each invocation's text to [`handler`]; [`event`] reads it
//! into one [`event::Intent`] per event (a single event, or an SQS batch); [`request`] validates each
//! and decides in process (skip rules, [`qa`] rules, [`sample`], policy, [`token`]); [`pipeline`]
//! makes the Connect calls for all of them (grouped per monitor, paced by [`pace`], picking from the
//! pools with [`pool`]) through the seam in [`connect`] ([`calls`] holds the calls' data, [`sdk`] sets
//! up the SDK); [`outcome`] is what an event comes to, [`error`] what it fails with; [`metrics`] and
//! [`logging`] are what the function writes besides its answer. [`config`] is read once at init.
//! How a Connect call is retried is [`retry`]'s to say.

// Functions short enough to read at once: clippy.toml sets the limit (60 lines).
#![warn(clippy::too_many_lines)]

pub mod calls;
pub mod config;
pub mod connect;
pub mod error;
pub mod event;
pub mod handler;
pub mod ids;
pub mod logging;
pub mod loose;
pub mod metrics;
pub mod outcome;
pub mod pace;
pub mod pipeline;
pub mod pool;
pub mod qa;
pub mod request;
pub mod retry;
pub mod runtime;
pub mod sample;
pub mod sdk;
pub mod token;

pub use config::Config;
pub use connect::{Connect, ConnectApi};
pub use error::{ErrorKind, MonitorError};
pub use handler::{App, Response, handle};
pub use outcome::{Outcome, SkipReason};

//! monitor-contact: an AWS Lambda function that starts Amazon Connect supervisor monitoring.
//!
//! Data flows one way: [`event`] reads the invocation payload into an [`event::Intent`],
//! [`request`] validates it and decides (skip, or one [`request::MonitorRequest`] with a
//! deterministic [`token`]), [`connect`] makes the one MonitorContact call, and [`outcome`] is what
//! the function returns; [`error`] is what it returns instead. [`handler`] ties them together.

pub mod config;
pub mod connect;
pub mod error;
pub mod event;
pub mod handler;
pub mod ids;
pub mod logging;
pub mod loose;
pub mod outcome;
pub mod pool;
pub mod request;
pub mod sample;
pub mod token;

pub use config::Config;
pub use connect::{Connect, ConnectFailure, Monitoring};
pub use error::{ErrorKind, MonitorError};
pub use handler::{App, handle};
pub use outcome::{Outcome, SkipReason};

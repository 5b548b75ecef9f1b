//! The function's log output: Lambda's logging controls (as `lambda_runtime`'s default subscriber,
//! without ANSI colour codes), one rule no level setting can lift, and the one log line per event
//! ([`EventLog`]).
//!
//! The rule: the SDK's orchestrator and `lambda_runtime` log customer data (DescribeContact's output,
//! raw payloads) at TRACE, so their TRACE events are dropped whatever the configured level. Why and
//! what still goes through: docs/operations.md, "Logs".

use lambda_runtime::tracing::subscriber::filter::{EnvFilter, LevelFilter, filter_fn};
use lambda_runtime::tracing::subscriber::fmt::MakeWriter;
use lambda_runtime::tracing::subscriber::layer::SubscriberExt;
use lambda_runtime::tracing::subscriber::{Registry, fmt};
use std::time::Duration;

use tracing::{Level, Metadata, Subscriber};

use crate::error::MonitorError;
use crate::event::Source;
use crate::outcome::Outcome;
use crate::plan::{Supervisor, Target, Validated};
use crate::pool::PoolState;

/// The targets whose TRACE events carry customer data: whole SDK outputs, raw payloads.
const CUSTOMER_DATA_AT_TRACE: [&str; 2] = [
    "aws_smithy_runtime::client::orchestrator",
    "lambda_runtime::layers::api_response",
];

/// Whether an event may be logged at all (see the module documentation).
fn allowed(meta: &Metadata<'_>) -> bool {
    !(*meta.level() == Level::TRACE
        && CUSTOMER_DATA_AT_TRACE
            .iter()
            .any(|target| meta.target().starts_with(target)))
}

/// The subscriber for `directives` (a level such as `INFO`, or `RUST_LOG`-style directives), JSON or
/// text, writing to `writer`.
pub fn subscriber<W>(directives: &str, json: bool, writer: W) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let levels = EnvFilter::builder()
        .with_default_directive(LevelFilter::INFO.into())
        .parse_lossy(directives);
    let layer = fmt::layer()
        .with_target(false)
        .without_time()
        .with_ansi(false)
        .with_writer(writer);
    // Global filters: what they refuse is never even built into an event.
    let registry = Registry::default().with(levels).with(filter_fn(allowed));
    if json {
        Box::new(registry.with(layer.json()))
    } else {
        Box::new(registry.with(layer))
    }
}

/// The filter directives the environment asks for. `AWS_LAMBDA_LOG_LEVEL` is one of Lambda's
/// levels (`FATAL` is ERROR here, anything unrecognised INFO); otherwise `RUST_LOG` as it is;
/// otherwise `INFO`.
pub fn directives(lookup: impl Fn(&str) -> Option<String>) -> String {
    let set = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
    if let Some(level) = set("AWS_LAMBDA_LOG_LEVEL") {
        let level = level.trim();
        if level.eq_ignore_ascii_case("fatal") {
            return "error".to_owned();
        }
        return match level.parse::<LevelFilter>() {
            Ok(filter) => filter.to_string(),
            Err(_) => "info".to_owned(),
        };
    }
    set("RUST_LOG").unwrap_or_else(|| "info".to_owned())
}

/// Installs the subscriber the environment asks for, writing to stdout.
pub fn init() {
    let env = |name: &str| std::env::var(name).ok();
    let json = env("AWS_LAMBDA_LOG_FORMAT").is_some_and(|f| f.trim().eq_ignore_ascii_case("json"));
    // Fails only if a subscriber is already installed, which main() does not do.
    let _ = lambda_runtime::tracing::subscriber::util::SubscriberInitExt::try_init(subscriber(
        &directives(env),
        json,
        std::io::stdout,
    ));
}

/// The log line of one event. It holds validated identifiers only: never the raw event, the
/// customer's endpoint or contact attributes.
#[derive(Debug, Clone, Default)]
pub(crate) struct EventLog {
    pub(crate) source: Option<Source>,
    event_id: Option<String>,
    instance_id: Option<String>,
    contact_id: Option<String>,
    pub(crate) user_id: Option<String>,
    client_token: Option<String>,
    rule: Option<String>,
    pub(crate) qa_rule: Option<String>,
    /// The pool as the pick saw it.
    pub(crate) pool: Option<PoolState>,
    /// SQS records: the message and how often it has been received.
    pub(crate) message_id: Option<String>,
    pub(crate) receive_count: Option<u32>,
}

impl EventLog {
    pub(crate) fn record_validated(&mut self, v: &Validated) {
        self.event_id = Some(v.event_id.clone());
        self.instance_id = Some(v.instance_id.clone());
        self.contact_id = Some(v.contact_id.clone());
        self.user_id.clone_from(&v.user_id);
        self.rule.clone_from(&v.rule_name);
    }

    pub(crate) fn record_target(&mut self, t: &Target) {
        if let Supervisor::Named(user_id) = &t.supervisor {
            self.user_id = Some(user_id.clone());
        }
        self.client_token = Some(t.client_token.clone());
        self.qa_rule.clone_from(&t.qa_rule);
    }

    /// One line, at INFO (started, skipped), WARN (skips an operator may want to act on, input and
    /// per-contact errors) or ERROR (what needs an operator or a retry). `elapsed`: the invocation's
    /// duration, for the line of a single event.
    pub(crate) fn emit(&self, result: &Result<Outcome, MonitorError>, elapsed: Option<Duration>) {
        let source = self.source.map(Source::as_str);
        let (event_id, instance, contact) = (
            self.event_id.as_deref(),
            self.instance_id.as_deref(),
            self.contact_id.as_deref(),
        );
        let (supervisor, client_token) = (self.user_id.as_deref(), self.client_token.as_deref());
        let (rule, qa_rule) = (self.rule.as_deref(), self.qa_rule.as_deref());
        let pool = self.pool;
        let (pool_size, pool_logged_in, pool_at_limit, pool_eligible) = (
            pool.map(|p| p.size),
            pool.map(|p| p.logged_in),
            pool.map(|p| p.at_limit),
            pool.map(|p| p.eligible),
        );
        let (message_id, receive_count) = (self.message_id.as_deref(), self.receive_count);
        let duration_us = elapsed.map(|e| u64::try_from(e.as_micros()).unwrap_or(u64::MAX));
        macro_rules! line {
            ($level:ident, $outcome:expr, $message:expr) => {
                tracing::$level!(
                    source,
                    event_id,
                    instance,
                    contact,
                    supervisor,
                    client_token,
                    rule,
                    qa_rule,
                    pool_size,
                    pool_logged_in,
                    pool_at_limit,
                    pool_eligible,
                    message_id,
                    receive_count,
                    outcome = $outcome,
                    duration_us,
                    "{}",
                    $message
                )
            };
        }
        let (level, outcome, message) = match result {
            Ok(outcome) => (outcome.level(), outcome.label(), "monitor-contact"),
            Err(e) => (e.kind.meaning().level, e.kind.as_str(), e.message.as_str()),
        };
        match level {
            Level::ERROR => line!(error, outcome, message),
            Level::WARN => line!(warn, outcome, message),
            _ => line!(info, outcome, message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
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

    fn logged(directives: &str, json: bool) -> String {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = subscriber(directives, json, move || writer.clone());
        tracing::subscriber::with_default(subscriber, || {
            tracing::trace!(target: "aws_smithy_runtime::client::orchestrator", output = "customer +15555550100");
            tracing::trace!(target: "lambda_runtime::layers::api_response", body = "caller +15555550100", "raw JSON event received from Lambda");
            tracing::debug!(target: "aws_smithy_runtime::client::orchestrator", "beginning attempt #1");
            tracing::trace!(target: "aws_smithy_runtime::client::retries", "retry check");
            tracing::info!(outcome = "STARTED", "monitor-contact");
            tracing::debug!("detail");
        });
        let out = buffer.0.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn sdk_outputs_and_raw_payloads_are_never_logged_whatever_the_level() {
        for (directives, sdk_debug) in [
            ("TRACE", true),
            ("trace,aws_smithy_runtime::client::orchestrator=trace", true),
            ("aws_smithy_runtime=trace", true),
            ("lambda_runtime=trace", false),
            ("trace,lambda_runtime::layers::api_response=trace", true),
        ] {
            let text = logged(directives, true);
            assert!(!text.contains("5555550100"), "{directives}: {text}");
            assert_eq!(
                text.contains("beginning attempt"),
                sdk_debug,
                "{directives}: the SDK's DEBUG output stays where asked for"
            );
        }
        assert!(
            logged("TRACE", false).contains("retry check"),
            "other SDK TRACE output stays"
        );
    }

    #[test]
    fn the_level_and_format_follow_the_configuration() {
        let info = logged("INFO", true);
        assert!(info.contains(r#""outcome":"STARTED""#), "{info}");
        assert!(
            !info.contains("detail") && !info.contains("beginning attempt"),
            "{info}"
        );
        let text = logged("debug", false);
        assert!(
            text.contains("detail") && text.contains("outcome=\"STARTED\""),
            "{text}"
        );
    }

    #[test]
    fn directives_come_from_lambda_then_rust_log() {
        let from =
            |vars: &[(&str, &str)]| directives(|n| vars.iter().find(|(k, _)| *k == n).map(|(_, v)| (*v).to_owned()));
        assert_eq!(from(&[]), "info");
        assert_eq!(from(&[("AWS_LAMBDA_LOG_LEVEL", "DEBUG")]), "debug");
        assert_eq!(from(&[("AWS_LAMBDA_LOG_LEVEL", "FATAL")]), "error");
        assert_eq!(from(&[("AWS_LAMBDA_LOG_LEVEL", "LOUD")]), "info");
        assert_eq!(
            from(&[("AWS_LAMBDA_LOG_LEVEL", "WARN"), ("RUST_LOG", "trace")]),
            "warn",
            "Lambda's control first"
        );
        assert_eq!(from(&[("RUST_LOG", "monitor_contact=debug")]), "monitor_contact=debug");
        assert_eq!(from(&[("AWS_LAMBDA_LOG_LEVEL", ""), ("RUST_LOG", "warn")]), "warn");
    }
}

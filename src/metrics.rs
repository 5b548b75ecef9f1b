//! Metrics, as CloudWatch Embedded Metric Format (EMF): JSON documents on stdout, one per line, that
//! CloudWatch Logs turns into metrics with no API call and no extra permission. A few documents per
//! invocation aggregate its counts; which metrics, units and dimensions: docs/operations.md, "Metrics".
//!
//! Written whatever the log level, as whole lines of their own, each carrying the `level` Lambda's
//! log-level filter needs to keep it. Written by hand, not with a crate: see docs/decisions.md
//! ("Metrics written by hand").

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde_json::{Map, Value, json};
use strum::{EnumCount, IntoEnumIterator};

use crate::connect::Operation;
use crate::error::MonitorError;
use crate::outcome::Outcome;

/// The Connect calls an invocation made (the pipeline counts them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Calls {
    /// Attempts per operation (see [`Operation::index`]): every request Connect's quota counts,
    /// retries included.
    pub made: [u32; Operation::COUNT],
    /// Attempts Connect answered with throttling.
    pub throttled: u64,
    /// Eligible pool members in GetCurrentUserData's answers (summed over instances), when a pool
    /// pick happened.
    pub pool_eligible: Option<u32>,
    /// Calls to the QA state table (quota rules only).
    pub state: u32,
}

/// What one invocation did, counted.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tally {
    /// Monitors started (or replayed).
    pub started: u32,
    /// By skip reason.
    pub skipped: BTreeMap<&'static str, u32>,
    /// By errorType.
    pub failed: BTreeMap<&'static str, u32>,
    /// By QA rule: (started, skipped).
    pub qa: BTreeMap<String, (u32, u32)>,
    /// The Connect calls made.
    pub calls: Calls,
    /// The rate each operation is paced at after the invocation (`None`: not paced), per
    /// operation (see [`Operation::index`]).
    pub paced: [Option<f64>; Operation::COUNT],
    /// How long the invocation took.
    pub duration: Duration,
}

impl Tally {
    /// Counts one event's result.
    pub fn count(&mut self, result: &Result<Outcome, MonitorError>) {
        match result {
            Ok(outcome @ Outcome::Started { .. }) => {
                self.started += 1;
                if let Some(rule) = outcome.qa_rule() {
                    self.qa.entry(rule.to_owned()).or_default().0 += 1;
                }
            }
            Ok(outcome @ Outcome::Skipped { reason, .. }) => {
                *self.skipped.entry(reason.as_str()).or_default() += 1;
                if let Some(rule) = outcome.qa_rule() {
                    self.qa.entry(rule.to_owned()).or_default().1 += 1;
                }
            }
            Err(e) => *self.failed.entry(e.kind.as_str()).or_default() += 1,
        }
    }
}

/// Where metric documents go.
#[derive(Debug, Clone)]
pub enum Sink {
    /// Standard output, where Lambda sends it to CloudWatch Logs.
    Stdout,
    /// Kept in memory (tests, local runs).
    Memory(Arc<Mutex<Vec<String>>>),
}

/// The function's metrics: where they go and how they are labelled.
#[derive(Debug, Clone)]
pub struct Metrics {
    /// `None`: metrics are off.
    namespace: Option<String>,
    function_name: String,
    /// The `level` each document carries (see the module documentation).
    level: Option<&'static str>,
    sink: Sink,
}

/// The `level` a metric document needs to pass Lambda's application log-level filter, for the level
/// `AWS_LAMBDA_LOG_LEVEL` names.
pub fn level_for(lambda_log_level: Option<&str>) -> Option<&'static str> {
    match lambda_log_level.map(|l| l.trim().to_ascii_uppercase()).as_deref() {
        Some("WARN") => Some("WARN"),
        Some("ERROR") => Some("ERROR"),
        Some("FATAL") => Some("FATAL"),
        _ => None,
    }
}

impl Metrics {
    /// Metrics into `namespace` (`None`: off) for `function_name`, carrying `level`, written to `sink`.
    pub fn new(namespace: Option<String>, function_name: String, level: Option<&'static str>, sink: Sink) -> Metrics {
        Metrics {
            namespace,
            function_name,
            level,
            sink,
        }
    }

    /// The documents for one invocation, each one JSON line (none when metrics are off).
    pub fn documents(&self, tally: &Tally, timestamp: SystemTime) -> Vec<String> {
        let Some(namespace) = &self.namespace else {
            return Vec::new();
        };
        let millis = timestamp
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0);
        let doc = |dimension: Option<(&str, &str)>, values: &[(&str, &str, Value)]| {
            self.document(namespace, millis, dimension, values)
        };
        let mut out = Vec::new();
        let mut summary = vec![
            ("Started", "Count", json!(tally.started)),
            ("Duration", "Milliseconds", json!(tally.duration.as_secs_f64() * 1000.0)),
            ("ConnectThrottled", "Count", json!(tally.calls.throttled)),
        ];
        if let Some(eligible) = tally.calls.pool_eligible {
            summary.push(("PoolEligible", "Count", json!(eligible)));
        }
        if tally.calls.state > 0 {
            summary.push(("QaStateCalls", "Count", json!(tally.calls.state)));
        }
        out.push(doc(None, &summary));
        for (reason, n) in &tally.skipped {
            out.push(doc(Some(("Reason", reason)), &[("Skipped", "Count", json!(n))]));
        }
        for (kind, n) in &tally.failed {
            out.push(doc(Some(("ErrorType", kind)), &[("Failed", "Count", json!(n))]));
        }
        for operation in Operation::iter() {
            let n = tally.calls.made[operation.index()];
            if n > 0 {
                let mut values = vec![("ConnectCalls", "Count", json!(n))];
                if let Some(rate) = tally.paced[operation.index()] {
                    values.push(("PacedRate", "Count/Second", json!(rate)));
                }
                out.push(doc(Some(("Operation", operation.as_str())), &values));
            }
        }
        for (rule, (started, skipped)) in &tally.qa {
            out.push(doc(
                Some(("QaRule", rule)),
                &[
                    ("Started", "Count", json!(started)),
                    ("Skipped", "Count", json!(skipped)),
                ],
            ));
        }
        out
    }

    /// One document: the function's dimension (and `dimension`, if any), the metrics with their units
    /// and values, the timestamp, and the `level` where one is needed.
    fn document(
        &self,
        namespace: &str,
        millis: u64,
        dimension: Option<(&str, &str)>,
        values: &[(&str, &str, Value)],
    ) -> String {
        let mut keys = vec!["FunctionName"];
        let mut root = Map::new();
        root.insert("FunctionName".into(), json!(self.function_name));
        if let Some((key, value)) = dimension {
            keys.push(key);
            root.insert(key.into(), json!(value));
        }
        let metrics: Vec<Value> = values
            .iter()
            .map(|(name, unit, _)| json!({"Name": name, "Unit": unit}))
            .collect();
        for (name, _, value) in values {
            root.insert((*name).into(), value.clone());
        }
        root.insert(
            "_aws".into(),
            json!({
                "Timestamp": millis,
                "CloudWatchMetrics": [{"Namespace": namespace, "Dimensions": [keys], "Metrics": metrics}],
            }),
        );
        if let Some(level) = self.level {
            root.insert("level".into(), json!(level));
        }
        Value::Object(root).to_string()
    }

    /// Writes the documents for one invocation, each as one whole line.
    pub fn emit(&self, tally: &Tally) {
        let documents = self.documents(tally, SystemTime::now());
        if documents.is_empty() {
            return;
        }
        match &self.sink {
            Sink::Stdout => {
                let mut text = documents.join("\n");
                text.push('\n');
                // One write of whole lines; a failing stdout has nowhere to report to.
                let _ = std::io::stdout().lock().write_all(text.as_bytes());
            }
            Sink::Memory(kept) => {
                if let Ok(mut kept) = kept.lock() {
                    kept.extend(documents);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use crate::outcome::SkipReason;

    fn started(qa_rule: Option<&str>) -> Result<Outcome, MonitorError> {
        Ok(Outcome::Started {
            contact_arn: "arn".into(),
            monitor_contact_id: "m".into(),
            contact_id: "c".into(),
            user_id: "u".into(),
            client_token: "t".into(),
            rule_name: None,
            qa_rule: qa_rule.map(str::to_owned),
        })
    }

    fn skipped(reason: SkipReason, qa_rule: Option<&str>) -> Result<Outcome, MonitorError> {
        Ok(Outcome::Skipped {
            reason,
            contact_id: "c".into(),
            qa_rule: qa_rule.map(str::to_owned),
        })
    }

    fn metrics(level: Option<&'static str>) -> Metrics {
        Metrics::new(Some("MonitorContact".into()), "fn-1".into(), level, Sink::Stdout)
    }

    fn parsed(docs: &[String]) -> Vec<Value> {
        docs.iter()
            .map(|d| {
                assert!(!d.contains('\n'), "one line: {d}");
                serde_json::from_str(d).unwrap_or_else(|e| panic!("{d}: {e}"))
            })
            .collect()
    }

    #[test]
    fn an_invocation_is_a_few_documents_whose_counts_add_up() {
        let mut tally = Tally::default();
        for result in [
            started(Some("billing")),
            started(None),
            skipped(SkipReason::NotSampled, Some("billing")),
            skipped(SkipReason::NotSampled, Some("billing")),
            skipped(SkipReason::ContactEnded, None),
            Err(MonitorError::new(ErrorKind::Throttled, "x")),
        ] {
            tally.count(&result);
        }
        tally.calls = Calls {
            made: [1, 1, 3],
            throttled: 2,
            pool_eligible: Some(4),
            state: 2,
        };
        tally.duration = Duration::from_micros(12_500);
        let docs = parsed(&metrics(None).documents(&tally, SystemTime::UNIX_EPOCH + Duration::from_secs(1)));
        let summary = &docs[0];
        assert_eq!(summary["_aws"]["Timestamp"], 1000);
        assert_eq!(
            summary["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["FunctionName"]])
        );
        assert_eq!(
            (
                &summary["Started"],
                &summary["Duration"],
                &summary["ConnectThrottled"],
                &summary["PoolEligible"],
                &summary["QaStateCalls"]
            ),
            (&json!(2), &json!(12.5), &json!(2), &json!(4), &json!(2))
        );
        assert!(summary.get("level").is_none(), "INFO needs no level");
        let find = |key: &str, value: &str| {
            docs.iter()
                .find(|d| d[key] == value)
                .unwrap_or_else(|| panic!("no document for {key}={value}: {docs:?}"))
        };
        assert_eq!(find("Reason", "NOT_SAMPLED")["Skipped"], 2);
        assert_eq!(find("Reason", "CONTACT_ENDED")["Skipped"], 1);
        assert_eq!(find("ErrorType", "Throttled")["Failed"], 1);
        assert_eq!(find("Operation", "MonitorContact")["ConnectCalls"], 3);
        assert_eq!(find("Operation", "DescribeContact")["ConnectCalls"], 1);
        let qa = find("QaRule", "billing");
        assert_eq!((&qa["Started"], &qa["Skipped"]), (&json!(1), &json!(2)));
        assert_eq!(
            qa["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["FunctionName", "QaRule"]])
        );
        assert_eq!(docs.len(), 1 + 2 + 1 + 3 + 1);
        for doc in &docs {
            assert_eq!(doc["FunctionName"], "fn-1");
            assert_eq!(doc["_aws"]["CloudWatchMetrics"][0]["Namespace"], "MonitorContact");
        }
    }

    #[test]
    fn documents_carry_the_level_lambda_would_otherwise_filter_out() {
        assert_eq!(level_for(Some("ERROR")), Some("ERROR"));
        assert_eq!(level_for(Some("warn")), Some("WARN"));
        assert_eq!(level_for(Some("FATAL")), Some("FATAL"));
        for level in [None, Some("INFO"), Some("DEBUG"), Some("TRACE"), Some("")] {
            assert_eq!(level_for(level), None, "{level:?}");
        }
        let docs = parsed(&metrics(Some("ERROR")).documents(&Tally::default(), SystemTime::now()));
        assert_eq!(docs.len(), 1, "the summary is written even when nothing happened");
        assert_eq!(docs[0]["level"], "ERROR");
        assert_eq!(docs[0]["Started"], 0);
    }

    #[test]
    fn off_writes_nothing() {
        let memory = Arc::new(Mutex::new(Vec::new()));
        let off = Metrics::new(None, "f".into(), None, Sink::Memory(Arc::clone(&memory)));
        off.emit(&Tally::default());
        assert!(memory.lock().map(|m| m.is_empty()).unwrap_or(false));
        let on = Metrics::new(Some("N".into()), "f".into(), None, Sink::Memory(Arc::clone(&memory)));
        on.emit(&Tally::default());
        assert_eq!(memory.lock().map(|m| m.len()).unwrap_or(0), 1);
    }
}

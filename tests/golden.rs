//! Every sample event in `events/`, through the real handler and SDK client against the local Connect
//! double: the answer, the function's own log lines and its metric documents, compared byte for byte
//! with `tests/golden/events.txt` (timings and timestamps set to 0). A redesign that changes none of
//! what the function does changes none of this file.
//!
//! `GOLDEN_UPDATE=1 cargo test --test golden` writes the file anew; review its diff before committing.
//!
//! One test on purpose (as in `logs.rs`): tracing caches per call site whether anyone listens.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use monitor_contact::handle;
use serde_json::{Map, Value};
use support::connect_double::Scenario;
use support::harness::*;

const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/events.txt");

/// Keys whose values are timings or clock readings.
const TIMINGS: &[&str] = &["timestamp", "Timestamp", "duration_us", "Duration"];

/// The line as written, with every timing's number replaced by 0 (key order and all else kept).
fn normalised(line: &str) -> String {
    let mut out = line.to_owned();
    for key in TIMINGS {
        let pattern = format!("\"{key}\":");
        let mut from = 0;
        while let Some(at) = out.get(from..).and_then(|rest| rest.find(&pattern)) {
            let start = from + at + pattern.len();
            let end = out[start..]
                .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == 'e' || c == '+'))
                .map_or(out.len(), |n| start + n);
            out.replace_range(start..end, "0");
            from = start + 1;
        }
    }
    out
}

/// The function's own log lines: one per event or record (they carry an `outcome`), and a batch's.
fn own_lines(text: &str) -> Vec<String> {
    text.lines()
        .filter(|line| {
            serde_json::from_str::<Map<String, Value>>(line).is_ok_and(|m| {
                let fields = &m.get("fields").cloned().unwrap_or_default();
                fields.get("outcome").is_some()
                    || fields["message"]
                        .as_str()
                        .is_some_and(|t| t.starts_with("monitor-contact"))
            })
        })
        .map(normalised)
        .collect()
}

fn samples() -> BTreeSet<String> {
    std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/events"))
        .map(|dir| {
            dir.filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| n.ends_with(".json"))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn every_sample_event_answers_logs_and_counts_as_recorded() {
    let (captured, _guard) = capture_logs();
    let mut report = String::new();
    for name in samples() {
        // A fresh double and function for each: the samples share contacts.
        let double = double(Scenario::open()).await;
        let app = app_for(&double, &[]);
        let before = captured.text().len();
        let answer = handle(&app, event(&sample(&name), Duration::from_secs(8))).await;
        let answer = match answer {
            Ok(response) => serde_json::to_string(&response).unwrap_or_default(),
            Err(error) => format!("error {}: {}", error.kind.as_str(), error.message),
        };
        report.push_str(&format!("== {name}\nanswer: {}\n", normalised(&answer)));
        let text = captured.text();
        for line in own_lines(text.get(before..).unwrap_or_default()) {
            report.push_str(&format!("log: {line}\n"));
        }
        for document in app.take_emf() {
            report.push_str(&format!("metrics: {}\n", normalised(&document)));
        }
    }
    if std::env::var_os("GOLDEN_UPDATE").is_some() {
        if let Err(e) = std::fs::write(GOLDEN, &report) {
            panic!("{GOLDEN}: {e}");
        }
        return;
    }
    let recorded = std::fs::read_to_string(GOLDEN).unwrap_or_else(|e| panic!("{GOLDEN}: {e}"));
    for (n, (got, want)) in report.lines().zip(recorded.lines()).enumerate() {
        assert_eq!(got, want, "line {} of {GOLDEN} differs", n + 1);
    }
    assert_eq!(report.lines().count(), recorded.lines().count(), "{GOLDEN}: line count");
}

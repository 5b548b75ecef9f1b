//! What each path came to: outcomes from the functions' log lines, monitors and calls from the double; the table and the verdicts.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use monitor_contact::SkipReason;
use serde_json::Value;

use crate::connect_double::{ConnectDouble, Monitor, Served};
use crate::simulation::{AsyncLambda, Final, Launcher, Load, MessageState, Queue};
use crate::{OPERATIONS, Settings};

/// One record's log line: (message ID, receive count) → outcome.
pub(crate) fn record_outcomes(outputs: &[String]) -> HashMap<(String, u32), String> {
    let mut outcomes = HashMap::new();
    for line in outputs.iter().flat_map(|o| o.lines()) {
        let Ok(value) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let fields = &value["fields"];
        let (Some(id), Some(outcome)) = (fields["message_id"].as_str(), fields["outcome"].as_str()) else {
            continue;
        };
        let count = match &fields["receive_count"] {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.parse().ok(),
            _ => None,
        };
        let count = count.and_then(|c| u32::try_from(c).ok()).unwrap_or(0);
        outcomes.insert((id.to_owned(), count), outcome.to_owned());
    }
    outcomes
}

/// `STARTED`, `SKIPPED <reason>` or `error <errorType>` for a record's `outcome` field.
pub(crate) fn label(outcome: &str) -> String {
    if outcome == "STARTED" {
        outcome.to_owned()
    } else if SkipReason::ALL.iter().any(|reason| reason.as_str() == outcome) {
        format!("SKIPPED {outcome}")
    } else {
        format!("error {outcome}")
    }
}

/// What one path came to, for the table.
#[derive(Default)]
pub(crate) struct Report {
    pub(crate) name: &'static str,
    pub(crate) deliveries: usize,
    pub(crate) events: usize,
    pub(crate) invocations: usize,
    pub(crate) environments: usize,
    pub(crate) mean_batch: Option<f64>,
    pub(crate) outcomes: BTreeMap<String, usize>,
    /// Attempts that did not settle their event, by what happened (SQS: reported or whole-batch
    /// failures; per-event: function errors, retried or dead-lettered).
    pub(crate) retries: BTreeMap<String, usize>,
    pub(crate) lost: usize,
    pub(crate) queued_at_bar: usize,
    pub(crate) queued_at_end: usize,
    pub(crate) monitored_twice: usize,
    pub(crate) calls: BTreeMap<&'static str, usize>,
    pub(crate) throttled: BTreeMap<&'static str, usize>,
    pub(crate) dead_lettered: usize,
    pub(crate) to_monitor: Vec<Duration>,
    /// Monitors started before the load ended.
    pub(crate) started_during_load: usize,
    pub(crate) utilisation: f64,
    pub(crate) last_final_after_load: Option<Duration>,
    pub(crate) served: Vec<Served>,
}

impl Report {
    pub(crate) fn calls_per_event(&self, operation: &str) -> f64 {
        self.calls.get(operation).copied().unwrap_or(0) as f64 / self.events.max(1) as f64
    }
}

/// What the double says: monitors per contact, time to a monitor, utilisation; Connect calls.
pub(crate) fn from_double(report: &mut Report, double: &ConnectDouble, load: &Load, t0: Instant, load_end: Instant) {
    let monitors: Vec<Monitor> = double.monitors();
    let first_delivery: HashMap<&str, Duration> = load.events.iter().map(|e| (e.contact.as_str(), e.at)).collect();
    let mut per_contact: HashMap<&str, usize> = HashMap::new();
    for monitor in monitors.iter().filter(|m| m.by_api) {
        *per_contact.entry(monitor.contact.as_str()).or_insert(0) += 1;
        if let Some(at) = first_delivery.get(monitor.contact.as_str()) {
            report
                .to_monitor
                .push(monitor.started.saturating_duration_since(t0 + *at));
        }
    }
    report.monitored_twice = per_contact.values().filter(|n| **n > 1).count();
    report.started_during_load = monitors.iter().filter(|m| m.by_api && m.started <= load_end).count();
    report.to_monitor.sort_unstable();
    let busy: f64 = monitors
        .iter()
        .map(|m| {
            let start = m.started.max(t0);
            let end = m.ended.unwrap_or(load_end).min(load_end);
            end.saturating_duration_since(start).as_secs_f64()
        })
        .sum();
    report.utilisation = busy / (load.supervisors.len() as f64 * load_end.duration_since(t0).as_secs_f64());
    report.served = double.served();
    for served in &report.served {
        let operation = served.operation.unwrap_or("?");
        let operation = OPERATIONS.iter().find(|o| **o == operation).copied().unwrap_or("other");
        *report.calls.entry(operation).or_insert(0) += 1;
        if served.throttled() {
            *report.throttled.entry(operation).or_insert(0) += 1;
        }
    }
}

pub(crate) fn percentile(sorted: &[Duration], p: f64) -> Option<Duration> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted.get(rank.min(sorted.len() - 1)).copied()
}

pub(crate) fn seconds(d: Option<Duration>) -> String {
    d.map(|d| format!("{:.1} s", d.as_secs_f64()))
        .unwrap_or_else(|| "–".to_owned())
}

pub(crate) fn sqs_report(
    settings: &Settings,
    load: &Load,
    queue: &Mutex<Queue>,
    launcher: &Launcher,
    queued_at_bar: usize,
    load_end: Instant,
) -> Report {
    let outputs = launcher.outputs.lock().map(|o| o.clone()).unwrap_or_default();
    let logged = record_outcomes(&outputs);
    let mut report = Report {
        name: "SQS path",
        deliveries: load.deliveries.len(),
        events: load.events.len(),
        environments: launcher.started.load(Ordering::Relaxed),
        queued_at_bar,
        ..Report::default()
    };
    let Ok(queue) = queue.lock() else {
        return report;
    };
    report.invocations = queue.invocations;
    for attempt in queue.attempts.iter().filter(|a| !a.deleted) {
        let why = match &attempt.invocation_error {
            Some(error) => format!("whole batch returned ({error})"),
            None => {
                let id = &queue.messages[attempt.message].id;
                let outcome = logged.get(&(id.clone(), attempt.receive_count));
                format!(
                    "reported: {}",
                    outcome
                        .map(|o| label(o))
                        .unwrap_or_else(|| "no outcome line".to_owned())
                )
            }
        };
        *report.retries.entry(why).or_insert(0) += 1;
    }
    report.mean_batch = Some(queue.batch_sizes.iter().sum::<usize>() as f64 / queue.batch_sizes.len().max(1) as f64);
    let mut last_final: Option<Instant> = None;
    for (index, message) in queue.messages.iter().enumerate() {
        let final_outcome = match message.state {
            MessageState::DeadLettered => Some(Final::DeadLettered(format!(
                "received {} times",
                settings.max_receive_count
            ))),
            MessageState::Deleted => {
                let attempt = queue.attempts.iter().rev().find(|a| a.message == index && a.deleted);
                let outcome = attempt.and_then(|a| logged.get(&(message.id.clone(), a.receive_count)));
                // A record the function did not report is deleted: it must have been a success or
                // a skip. An error that was not reported, or no outcome at all, is a lost event.
                Some(match outcome.map(|o| label(o)) {
                    Some(label) if !label.starts_with("error") => Final::Answered(label),
                    Some(label) => Final::Lost(format!("deleted after {label}, not reported")),
                    None => Final::Lost("deleted without an outcome line".to_owned()),
                })
            }
            _ => None,
        };
        let Some(final_outcome) = final_outcome else {
            continue;
        };
        if let Some(at) = message.settled {
            last_final = Some(last_final.map_or(at, |l| l.max(at)));
        }
        tally(&mut report, final_outcome);
    }
    report.queued_at_end = queue.pending();
    report.last_final_after_load = last_final.map(|at| at.saturating_duration_since(load_end));
    report
}

pub(crate) fn tally(report: &mut Report, final_outcome: Final) {
    let key = match final_outcome {
        Final::Answered(label) => label,
        Final::DeadLettered(why) => {
            report.dead_lettered += 1;
            format!("dead-lettered ({why})")
        }
        Final::Lost(why) => {
            report.lost += 1;
            format!("LOST ({why})")
        }
    };
    *report.outcomes.entry(key).or_insert(0) += 1;
}

pub(crate) fn async_report(
    load: &Load,
    lambda: &Mutex<AsyncLambda>,
    launcher: &Launcher,
    queued_at_bar: usize,
    load_end: Instant,
    enqueued: &[Option<Instant>],
) -> Report {
    let mut report = Report {
        name: "per-event path",
        deliveries: load.deliveries.len(),
        events: load.events.len(),
        environments: launcher.started.load(Ordering::Relaxed),
        queued_at_bar,
        ..Report::default()
    };
    let Ok(lambda) = lambda.lock() else {
        return report;
    };
    report.invocations = lambda.invocations;
    for (_, _, outcome) in lambda.attempts.iter().filter(|(_, _, o)| o.starts_with("error")) {
        *report.retries.entry(format!("function {outcome}")).or_insert(0) += 1;
    }
    let mut last_final: Option<Instant> = None;
    for (_, (at, final_outcome)) in lambda.finals.iter() {
        last_final = Some(last_final.map_or(*at, |l| l.max(*at)));
        tally(&mut report, final_outcome.clone());
    }
    report.queued_at_end = enqueued.len() - lambda.finals.len();
    report.last_final_after_load = last_final.map(|at| at.saturating_duration_since(load_end));
    report
}

/// Prints the tables and the verdicts; true when the SQS path meets the issue's bars.
pub(crate) fn print(settings: &Settings, load: &Load, reports: &[&Report; 2], ran: Duration) -> bool {
    let repeats = load.deliveries.iter().filter(|d| d.repeat).count();
    let short = load
        .events
        .iter()
        .filter(|e| e.lifetime < Duration::from_secs(5))
        .count();
    println!();
    println!(
        "load: {} CONNECTED_TO_AGENT voice events in {:.0} s ({:.1}/s), {repeats} delivered twice; {} supervisors (max 1 monitor each), all busy at the start; {short} contacts end within 4 s; seed {}; ran {:.0} s",
        load.events.len(),
        settings.load.as_secs_f64(),
        load.events.len() as f64 / settings.load.as_secs_f64(),
        settings.pool,
        settings.seed,
        ran.as_secs_f64(),
    );
    println!(
        "Connect doubles: {}/s per API, burst {}; SQS path: BatchSize {}, window {} s, MaximumConcurrency {}, visibility {} s, maxReceiveCount {}; per-event path: up to {} processes, retries after {} and {} s, MaximumEventAgeInSeconds {}",
        settings.quota.0,
        settings.quota.1,
        settings.batch_size,
        settings.batching_window.as_secs(),
        settings.max_concurrency,
        settings.visibility_timeout.as_secs(),
        settings.max_receive_count,
        settings.processes,
        settings.retry_delays[0].as_secs(),
        settings.retry_delays[1].as_secs(),
        settings.max_event_age.as_secs(),
    );
    if !settings.is_the_issues_load() {
        println!("NOTE: below the issue's load (20 events/s for 60 s, 30 supervisors): figures for debugging only");
    }
    println!();
    let [sqs, per_event] = reports;
    println!("| | {} | {} |", sqs.name, per_event.name);
    println!("| --- | --- | --- |");
    let row = |name: &str, a: String, b: String| println!("| {name} | {a} | {b} |");
    row(
        "events (deliveries)",
        format!("{} ({})", sqs.events, sqs.deliveries),
        format!("{} ({})", per_event.events, per_event.deliveries),
    );
    row(
        "invocations (environments started)",
        format!(
            "{} ({}), {:.1} records per batch",
            sqs.invocations,
            sqs.environments,
            sqs.mean_batch.unwrap_or(0.0)
        ),
        format!("{} ({})", per_event.invocations, per_event.environments),
    );
    let labels: BTreeMap<&String, ()> = reports
        .iter()
        .flat_map(|r| r.outcomes.keys())
        .map(|k| (k, ()))
        .collect();
    for label in labels.keys() {
        let count = |r: &Report| r.outcomes.get(*label).copied().unwrap_or(0).to_string();
        row(&format!("final outcome: {label}"), count(sqs), count(per_event));
    }
    let failures: BTreeMap<&String, ()> = reports.iter().flat_map(|r| r.retries.keys()).map(|k| (k, ())).collect();
    for failure in failures.keys() {
        let count = |r: &Report| r.retries.get(*failure).copied().unwrap_or(0).to_string();
        row(&format!("failed attempt: {failure}"), count(sqs), count(per_event));
    }
    row(
        "dead-lettered",
        sqs.dead_lettered.to_string(),
        per_event.dead_lettered.to_string(),
    );
    row(
        "events lost (must be 0)",
        sqs.lost.to_string(),
        per_event.lost.to_string(),
    );
    row(
        &format!(
            "still queued {} s after the load (must be 0)",
            settings.drain_bar.as_secs()
        ),
        sqs.queued_at_bar.to_string(),
        per_event.queued_at_bar.to_string(),
    );
    row(
        "still queued at the end of the run",
        sqs.queued_at_end.to_string(),
        per_event.queued_at_end.to_string(),
    );
    row(
        "contacts monitored twice (must be 0)",
        sqs.monitored_twice.to_string(),
        per_event.monitored_twice.to_string(),
    );
    row(
        "monitors started (of them during the load)",
        format!("{} ({})", sqs.to_monitor.len(), sqs.started_during_load),
        format!("{} ({})", per_event.to_monitor.len(), per_event.started_during_load),
    );
    for operation in OPERATIONS {
        row(
            &format!("Connect calls per event: {operation} (calls)"),
            format!(
                "{:.2} ({})",
                sqs.calls_per_event(operation),
                sqs.calls.get(operation).unwrap_or(&0)
            ),
            format!(
                "{:.2} ({})",
                per_event.calls_per_event(operation),
                per_event.calls.get(operation).unwrap_or(&0)
            ),
        );
    }
    let throttled = |r: &Report| {
        let total: usize = r.throttled.values().sum();
        let calls: usize = r.calls.values().sum();
        format!("{total} of {calls} calls")
    };
    row("throttled calls", throttled(sqs), throttled(per_event));
    row(
        "enqueue → monitor started, p50 / p95",
        format!(
            "{} / {}",
            seconds(percentile(&sqs.to_monitor, 50.0)),
            seconds(percentile(&sqs.to_monitor, 95.0))
        ),
        format!(
            "{} / {}",
            seconds(percentile(&per_event.to_monitor, 50.0)),
            seconds(percentile(&per_event.to_monitor, 95.0))
        ),
    );
    row(
        "supervisor utilisation during the load",
        format!("{:.0} %", sqs.utilisation * 100.0),
        format!("{:.0} %", per_event.utilisation * 100.0),
    );
    row(
        "load end → last final outcome",
        seconds(sqs.last_final_after_load),
        seconds(per_event.last_final_after_load),
    );
    println!();
    let mut passed = true;
    let mut verdict = |path: &str, bar: &str, met: bool, counts: bool| {
        println!("{} {path}: {bar}", if met { "PASS" } else { "FAIL" });
        if counts && !met {
            passed = false;
        }
    };
    let drained = sqs.queued_at_bar == 0 && sqs.last_final_after_load.is_some_and(|d| d <= settings.drain_bar);
    verdict("SQS path", "no event lost", sqs.lost == 0, true);
    verdict(
        "SQS path",
        &format!(
            "the queue drains: every event final within {} s after the load",
            settings.drain_bar.as_secs()
        ),
        drained,
        true,
    );
    verdict("SQS path", "no contact monitored twice", sqs.monitored_twice == 0, true);
    verdict("per-event path", "no event lost", per_event.lost == 0, false);
    verdict(
        "per-event path",
        "no contact monitored twice",
        per_event.monitored_twice == 0,
        false,
    );
    println!("(the issue's bars are the SQS path's; the per-event path is measured for comparison)");
    passed
}

//! What each path came to: outcomes from the functions' log lines, monitors and calls from the double; the table and the verdicts.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use monitor_contact::SkipReason;
use serde_json::Value;
use strum::IntoEnumIterator;

use crate::connect_double::{ConnectDouble, MONITOR_CONTACT, Monitor, Served};
use crate::simulation::{AsyncLambda, Final, Launcher, Load, MessageState, Queue, environment_of, epoch_ms};
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
    } else if SkipReason::iter().any(|reason| reason.as_str() == outcome) {
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
    /// Failed records the function gave back to the queue early (SQS: ChangeMessageVisibility).
    pub(crate) given_back: Option<u64>,
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
    let outputs: Vec<String> = launcher
        .outputs
        .lock()
        .map(|o| o.iter().map(|(_, stdout)| stdout.clone()).collect())
        .unwrap_or_default();
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
    report.given_back = Some(queue.given_back);
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

/// The load, and how the run was configured (`ran`: its length).
fn print_load(settings: &Settings, load: &Load, ran: Duration) {
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
    let sqs = format!(
        "SQS path: BatchSize {}, window {} s, MaximumConcurrency {}, visibility {} s, maxReceiveCount {}",
        settings.batch_size,
        settings.batching_window.as_secs(),
        settings.max_concurrency,
        settings.visibility_timeout.as_secs(),
        settings.max_receive_count,
    );
    match settings.other_rate {
        None => println!(
            "Connect doubles: {}/s per API, burst {}; {sqs}; per-event path: up to {} processes, retries after {} and {} s, MaximumEventAgeInSeconds {}",
            settings.quota.0,
            settings.quota.1,
            settings.processes,
            settings.retry_delays[0].as_secs(),
            settings.retry_delays[1].as_secs(),
            settings.max_event_age.as_secs(),
        ),
        Some(rate) => println!(
            "Connect double: {}/s per API, burst {}, another client taking {rate} MonitorContact requests/s of it (Poisson arrivals) during the whole run; {sqs}; CONNECT_CALLS_PER_SECOND {} per environment",
            settings.quota.0, settings.quota.1, settings.calls_per_second,
        ),
    }
    if !settings.is_the_issues_load() {
        println!("NOTE: below the issue's load (20 events/s for 60 s, 30 supervisors): figures for debugging only");
    }
    println!();
}

/// The table, a column per path.
fn print_table(settings: &Settings, reports: &[&Report]) {
    let names: Vec<&str> = reports.iter().map(|r| r.name).collect();
    println!("| | {} |", names.join(" | "));
    println!("| --- |{}", " --- |".repeat(reports.len()));
    let row = |name: &str, cell: &dyn Fn(&Report) -> String| {
        let cells: Vec<String> = reports.iter().map(|r| cell(r)).collect();
        println!("| {name} | {} |", cells.join(" | "));
    };
    row("events (deliveries)", &|r| format!("{} ({})", r.events, r.deliveries));
    row("invocations (environments started)", &|r| match r.mean_batch {
        Some(mean) => format!("{} ({}), {mean:.1} records per batch", r.invocations, r.environments),
        None => format!("{} ({})", r.invocations, r.environments),
    });
    let labels: BTreeSet<&String> = reports.iter().flat_map(|r| r.outcomes.keys()).collect();
    for label in labels {
        row(&format!("final outcome: {label}"), &|r| {
            r.outcomes.get(label).copied().unwrap_or(0).to_string()
        });
    }
    let failures: BTreeSet<&String> = reports.iter().flat_map(|r| r.retries.keys()).collect();
    for failure in failures {
        row(&format!("failed attempt: {failure}"), &|r| {
            r.retries.get(failure).copied().unwrap_or(0).to_string()
        });
    }
    row(
        "failed records given back early (SQS_RETRY_DELAY_SECONDS)",
        &|r| match r.given_back {
            Some(n) => n.to_string(),
            None => "—".to_owned(),
        },
    );
    row("dead-lettered", &|r| r.dead_lettered.to_string());
    row("events lost (must be 0)", &|r| r.lost.to_string());
    row(
        &format!(
            "still queued {} s after the load (must be 0)",
            settings.drain_bar.as_secs()
        ),
        &|r| r.queued_at_bar.to_string(),
    );
    row("still queued at the end of the run", &|r| r.queued_at_end.to_string());
    row("contacts monitored twice (must be 0)", &|r| {
        r.monitored_twice.to_string()
    });
    row("monitors started (of them during the load)", &|r| {
        format!("{} ({})", r.to_monitor.len(), r.started_during_load)
    });
    for operation in OPERATIONS {
        row(&format!("Connect calls per event: {operation} (calls)"), &|r| {
            format!(
                "{:.2} ({})",
                r.calls_per_event(operation),
                r.calls.get(operation).unwrap_or(&0)
            )
        });
    }
    row("throttled calls", &|r| {
        let total: usize = r.throttled.values().sum();
        let calls: usize = r.calls.values().sum();
        format!("{total} of {calls} calls")
    });
    row("enqueue → monitor started, p50 / p95", &|r| {
        format!(
            "{} / {}",
            seconds(percentile(&r.to_monitor, 50.0)),
            seconds(percentile(&r.to_monitor, 95.0))
        )
    });
    row("supervisor utilisation during the load", &|r| {
        format!("{:.0} %", r.utilisation * 100.0)
    });
    row("load end → last final outcome", &|r| seconds(r.last_final_after_load));
    println!();
}

/// Prints the tables and the verdicts; true when the SQS path meets the issue's bars.
pub(crate) fn print(settings: &Settings, load: &Load, reports: &[&Report; 2], ran: Duration) -> bool {
    print_load(settings, load, ran);
    print_table(settings, reports);
    let [sqs, per_event] = reports;
    let mut passed = true;
    let mut verdict = |path: &str, bar: &str, met: bool, counts: bool| {
        println!("{} {path}: {bar}", if met { "PASS" } else { "FAIL" });
        if counts && !met {
            passed = false;
        }
    };
    verdict("SQS path", "no event lost", sqs.lost == 0, true);
    verdict(
        "SQS path",
        &format!(
            "the queue drains: every event final within {} s after the load",
            settings.drain_bar.as_secs()
        ),
        drained(settings, sqs),
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

/// Every event final within the drain bar after the load, and nothing queued then.
fn drained(settings: &Settings, report: &Report) -> bool {
    report.queued_at_bar == 0 && report.last_final_after_load.is_some_and(|d| d <= settings.drain_bar)
}

// ---------------------------------------------------------------------------------------------
// Beside another client (`PEAK_OTHER_RATE`): MonitorContact's quota shared, the SQS path alone.

/// One Connect call of the function's, as the double answered it.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    /// Seconds since the load started.
    pub(crate) at: f64,
    pub(crate) operation: &'static str,
    pub(crate) throttled: bool,
}

/// One of the function's EMF documents with the `Operation` dimension: what one invocation did.
#[derive(Debug, Clone)]
pub(crate) struct Paced {
    /// Seconds since the load started (the document's `_aws.Timestamp`: the invocation's end).
    pub(crate) at: f64,
    pub(crate) operation: String,
    /// `ConnectCalls`: attempts, retries included.
    pub(crate) calls: u64,
    /// `PacedRate`: the rate after the invocation.
    pub(crate) rate: Option<f64>,
}

/// What the shared quota came to, from the double (the function's calls, told apart by
/// environment), the other client's counts and the environments' EMF documents.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    /// The other client's rate (requests/s of MonitorContact).
    pub(crate) rate: f64,
    /// The other client's counts over time: (seconds since the load started, admitted, throttled).
    pub(crate) other: Vec<(f64, u64, u64)>,
    /// The function's calls by environment (0: signed by no environment's key).
    pub(crate) calls: BTreeMap<usize, Vec<Call>>,
    /// The EMF documents by environment.
    pub(crate) paced: BTreeMap<usize, Vec<Paced>>,
    /// `ConnectThrottled` summed over each environment's invocations.
    pub(crate) emf_throttled: BTreeMap<usize, u64>,
    /// Records queued or in flight over time: (seconds since the load started, count).
    pub(crate) backlog: Vec<(f64, usize)>,
}

impl Shared {
    /// The other client's (admitted, throttled) in all.
    pub(crate) fn other_counts(&self) -> (u64, u64) {
        self.other.last().map(|(_, a, t)| (*a, *t)).unwrap_or((0, 0))
    }

    /// Every call of the function's.
    pub(crate) fn all_calls(&self) -> impl Iterator<Item = &Call> {
        self.calls.values().flatten()
    }
}

/// Collects the shared-quota figures after the run.
#[allow(clippy::too_many_arguments)]
pub(crate) fn shared_figures(
    rate: f64,
    double: &ConnectDouble,
    launcher: &Launcher,
    t0: Instant,
    t0_wall: SystemTime,
    other: &[(Instant, u64, u64)],
    backlog: &[(Instant, usize)],
) -> Shared {
    let since = |at: Instant| {
        at.checked_duration_since(t0)
            .map(|d| d.as_secs_f64())
            .unwrap_or_else(|| -t0.duration_since(at).as_secs_f64())
    };
    let mut shared = Shared {
        rate,
        other: other.iter().map(|(at, a, t)| (since(*at), *a, *t)).collect(),
        backlog: backlog.iter().map(|(at, n)| (since(*at), *n)).collect(),
        ..Shared::default()
    };
    {
        let state = double.state();
        for (request, served) in state.requests.iter().zip(&state.served) {
            let environment = request.header("authorization").and_then(environment_of).unwrap_or(0);
            shared.calls.entry(environment).or_default().push(Call {
                at: since(served.at),
                operation: served.operation.unwrap_or("?"),
                throttled: served.throttled(),
            });
        }
    }
    let t0_ms = epoch_ms(t0_wall) as f64;
    let outputs = launcher.outputs.lock().map(|o| o.clone()).unwrap_or_default();
    for (environment, stdout) in outputs {
        for line in stdout.lines() {
            let Ok(doc) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            let Some(timestamp) = doc["_aws"]["Timestamp"].as_f64() else {
                continue;
            };
            let at = (timestamp - t0_ms) / 1000.0;
            if let Some(throttled) = doc["ConnectThrottled"].as_u64() {
                *shared.emf_throttled.entry(environment).or_insert(0) += throttled;
            }
            if let Some(operation) = doc["Operation"].as_str() {
                shared.paced.entry(environment).or_default().push(Paced {
                    at,
                    operation: operation.to_owned(),
                    calls: doc["ConnectCalls"].as_u64().unwrap_or(0),
                    rate: doc["PacedRate"].as_f64(),
                });
            }
        }
        if let Some(paced) = shared.paced.get_mut(&environment) {
            paced.sort_by(|a, b| a.at.total_cmp(&b.at));
        }
    }
    shared
}

/// The largest excess of calls over the rate in any window: max over i ≤ j of
/// (j − i + 1) − rate × (t_j − t_i). A token bucket of `rate` and capacity `burst` never lets it
/// exceed `burst`. `times` sorted.
pub(crate) fn largest_burst(times: &[f64], rate: f64) -> f64 {
    let mut best = 0.0f64;
    let mut best_start = f64::NEG_INFINITY;
    for (j, t) in times.iter().enumerate() {
        best_start = best_start.max(rate * t - j as f64);
        best = best.max((j + 1) as f64 - rate * t + best_start);
    }
    best
}

/// The most calls in any window of `window` seconds. `times` sorted.
pub(crate) fn busiest(times: &[f64], window: f64) -> usize {
    let mut start = 0;
    let mut most = 0;
    for (end, t) in times.iter().enumerate() {
        while times[start] <= t - window {
            start += 1;
        }
        most = most.max(end + 1 - start);
    }
    most
}

/// The last `PacedRate` of `operation` an environment reported by `at`, if any.
pub(crate) fn paced_rate_at(paced: &[Paced], operation: &str, at: f64) -> Option<f64> {
    paced
        .iter()
        .filter(|p| p.operation == operation && p.at <= at)
        .filter_map(|p| p.rate)
        .next_back()
}

/// How much slower than its own rate a call may reach the double after another (scheduling on a
/// busy two-core machine): the budget bar allows `budget × this` more calls in a window.
const JITTER: f64 = 0.1;

/// Prints the table, the shared quota's figures and the verdicts; true when every bar is met.
pub(crate) fn print_shared(settings: &Settings, load: &Load, sqs: &Report, shared: &Shared, ran: Duration) -> bool {
    print_load(settings, load, ran);
    print_table(settings, &[sqs]);
    let budget = settings.calls_per_second;
    let burst = (2.0 * budget).max(1.0);
    let (other_admitted, other_throttled) = shared.other_counts();
    let function_calls = shared.all_calls().count();
    let function_throttled = shared.all_calls().filter(|c| c.throttled).count();
    let monitor: Vec<&Call> = shared.all_calls().filter(|c| c.operation == MONITOR_CONTACT).collect();
    let monitor_throttled = monitor.iter().filter(|c| c.throttled).count();
    let share = |part: usize, whole: usize| 100.0 * part as f64 / whole.max(1) as f64;
    println!(
        "MonitorContact's quota ({}/s, burst {}), shared:",
        settings.quota.0, settings.quota.1
    );
    println!();
    println!("| | requests | throttled |");
    println!("| --- | --- | --- |");
    println!(
        "| another client ({} requests/s, Poisson) | {} | {} ({:.1} %) |",
        shared.rate,
        other_admitted + other_throttled,
        other_throttled,
        share(other_throttled as usize, (other_admitted + other_throttled) as usize)
    );
    println!(
        "| the function: MonitorContact attempts | {} | {} ({:.1} %) |",
        monitor.len(),
        monitor_throttled,
        share(monitor_throttled, monitor.len())
    );
    println!(
        "| the function: every Connect call | {function_calls} | {function_throttled} ({:.1} %) |",
        share(function_throttled, function_calls)
    );
    println!();

    // Per environment: attempts and throttles per API from the double, the function's own count of
    // its attempts (EMF ConnectCalls), the budget's bound, the pacer's rate.
    let environments: Vec<usize> = shared
        .calls
        .keys()
        .chain(shared.paced.keys())
        .copied()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let names: Vec<String> = environments
        .iter()
        .map(|e| {
            if *e == 0 {
                "unattributed".to_owned()
            } else {
                format!("environment {e}")
            }
        })
        .collect();
    println!(
        "| per environment (budget {budget}/s per API, burst {burst}) | {} |",
        names.join(" | ")
    );
    println!("| --- |{}", " --- |".repeat(environments.len()));
    let row = |name: &str, cell: &dyn Fn(usize) -> String| {
        let cells: Vec<String> = environments.iter().map(|e| cell(*e)).collect();
        println!("| {name} | {} |", cells.join(" | "));
    };
    let times = |environment: usize, operation: &str| -> Vec<f64> {
        shared
            .calls
            .get(&environment)
            .map(|calls| {
                calls
                    .iter()
                    .filter(|c| c.operation == operation)
                    .map(|c| c.at)
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut worst: (f64, usize, &str) = (0.0, 0, "");
    let mut counted_everything = true;
    for operation in OPERATIONS {
        if shared.all_calls().all(|c| c.operation != operation) {
            continue;
        }
        row(&format!("{operation}: attempts (throttled)"), &|e| {
            let calls = shared.calls.get(&e).map(Vec::as_slice).unwrap_or_default();
            let of = calls.iter().filter(|c| c.operation == operation);
            format!("{} ({})", of.clone().count(), of.filter(|c| c.throttled).count())
        });
        row(
            &format!("{operation}: attempts counted by the function (EMF ConnectCalls)"),
            &|e| {
                let counted: u64 = shared
                    .paced
                    .get(&e)
                    .map(|p| p.iter().filter(|p| p.operation == operation).map(|p| p.calls).sum())
                    .unwrap_or(0);
                counted.to_string()
            },
        );
        row(&format!("{operation}: busiest 10 s (calls)"), &|e| {
            busiest(&times(e, operation), 10.0).to_string()
        });
        row(
            &format!("{operation}: largest burst above {budget}/s (bar: {burst})"),
            &|e| format!("{:.2}", largest_burst(&times(e, operation), budget)),
        );
        for environment in &environments {
            let excess = largest_burst(&times(*environment, operation), budget);
            if excess > worst.0 {
                worst = (excess, *environment, operation);
            }
            let counted: u64 = shared
                .paced
                .get(environment)
                .map(|p| p.iter().filter(|p| p.operation == operation).map(|p| p.calls).sum())
                .unwrap_or(0);
            counted_everything &= counted as usize == times(*environment, operation).len();
        }
    }
    row("ConnectThrottled (EMF, summed)", &|e| {
        shared.emf_throttled.get(&e).copied().unwrap_or(0).to_string()
    });
    row("MonitorContact PacedRate: lowest / last (EMF)", &|e| {
        let rates: Vec<f64> = shared
            .paced
            .get(&e)
            .map(|p| {
                p.iter()
                    .filter(|p| p.operation == MONITOR_CONTACT)
                    .filter_map(|p| p.rate)
                    .collect()
            })
            .unwrap_or_default();
        match (rates.iter().copied().reduce(f64::min), rates.last()) {
            (Some(low), Some(last)) => format!("{low:.3} / {last:.3}"),
            _ => "–".to_owned(),
        }
    });
    println!();

    // Over time, for tuning the controller: 10 s bins.
    let end = shared
        .all_calls()
        .map(|c| c.at)
        .chain(shared.backlog.iter().map(|(at, _)| *at))
        .fold(settings.load.as_secs_f64(), f64::max);
    let paced_environments: Vec<usize> = shared.paced.keys().copied().collect();
    let pace_names: Vec<String> = paced_environments.iter().map(|e| format!("env {e}")).collect();
    println!(
        "| s | MonitorContact: the function's attempts (throttled), {} | the other client's requests (throttled) | MonitorContact PacedRate at the bin's end, {} | records queued or in flight at the bin's end |",
        pace_names.join(" / "),
        pace_names.join(" / ")
    );
    println!("| --- | --- | --- | --- | --- |");
    let mut from = 0.0;
    while from < end {
        let to = from + 10.0;
        let attempts: Vec<String> = paced_environments
            .iter()
            .map(|e| {
                let calls = shared.calls.get(e).map(Vec::as_slice).unwrap_or_default();
                let bin: Vec<&Call> = calls
                    .iter()
                    .filter(|c| c.operation == MONITOR_CONTACT && c.at >= from && c.at < to)
                    .collect();
                format!("{} ({})", bin.len(), bin.iter().filter(|c| c.throttled).count())
            })
            .collect();
        let counts_at = |at: f64| {
            shared
                .other
                .iter()
                .filter(|(t, _, _)| *t <= at)
                .map(|(_, a, t)| (*a, *t))
                .next_back()
                .unwrap_or((0, 0))
        };
        let ((a0, t0), (a1, t1)) = (counts_at(from), counts_at(to));
        let rates: Vec<String> = paced_environments
            .iter()
            .map(|e| {
                paced_rate_at(&shared.paced[e], MONITOR_CONTACT, to)
                    .map(|r| format!("{r:.3}"))
                    .unwrap_or_else(|| "–".to_owned())
            })
            .collect();
        let queued = shared
            .backlog
            .iter()
            .filter(|(t, _)| *t <= to)
            .map(|(_, n)| n.to_string())
            .next_back()
            .unwrap_or_else(|| "–".to_owned());
        println!(
            "| {from:.0}–{to:.0} | {} | {} ({}) | {} | {queued} |",
            attempts.join(" / "),
            (a1 + t1) - (a0 + t0),
            t1 - t0,
            rates.join(" / ")
        );
        from = to;
    }
    println!();

    let mut passed = true;
    let mut verdict = |bar: &str, met: bool| {
        println!(
            "{} SQS path beside another client: {bar}",
            if met { "PASS" } else { "FAIL" }
        );
        passed &= met;
    };
    verdict("no event lost", sqs.lost == 0);
    verdict("no contact monitored twice", sqs.monitored_twice == 0);
    let allowed = burst + budget * JITTER;
    verdict(
        &format!(
            "each environment within its budget, retries counted: attempts per API per environment at most {budget}/s plus a burst of {burst} in every window (largest: {:.2}{}, allowed {allowed:.2} with {JITTER} s of timing slack)",
            worst.0,
            if worst.1 > 0 {
                format!(", environment {} {}", worst.1, worst.2)
            } else {
                String::new()
            }
        ),
        worst.0 <= allowed && !shared.calls.contains_key(&0),
    );
    verdict(
        &format!(
            "the queue drains: every event final within {} s after the load ({} queued then; last final outcome {} after the load)",
            settings.drain_bar.as_secs(),
            sqs.queued_at_bar,
            seconds(sqs.last_final_after_load)
        ),
        drained(settings, sqs),
    );
    verdict(
        &format!(
            "at most 10 % of the function's Connect calls throttled ({function_throttled} of {function_calls}, {:.1} %)",
            share(function_throttled, function_calls)
        ),
        function_throttled * 10 <= function_calls,
    );
    let with_calls = shared.calls.keys().filter(|e| **e > 0).count();
    let with_rate = shared
        .paced
        .values()
        .filter(|p| p.iter().any(|p| p.operation == MONITOR_CONTACT && p.rate.is_some()))
        .count();
    verdict(
        &format!(
            "the pacer's rate over time in the picture (MonitorContact PacedRate from {with_rate} of {with_calls} environments that called Connect)",
        ),
        with_rate > 0,
    );
    println!(
        "{} the function's own count of its attempts (EMF ConnectCalls) equals what the double received, per environment and API",
        if counted_everything { "check:" } else { "MISMATCH:" }
    );
    passed
}

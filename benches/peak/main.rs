//! The peak benchmark (issue 10): `cargo bench --bench peak`. A measured script, not a timed test.
//!
//! Simulates, on one machine and in real time, a contact center's peak hitting the two ways of
//! delivering Amazon Connect contact events to the function, with the same event stream:
//!
//! - **SQS path** (the template's automation function): EventBridge → a standard SQS queue → an event
//!   source mapping (BatchSize 100, MaximumBatchingWindowInSeconds 2, MaximumConcurrency 2 real
//!   `monitor-contact` release processes, each under its own Lambda Runtime API; visibility timeout
//!   270 s as the template sets it (6 × the 40 s timeout + 30 s); redrive to a dead-letter queue after 3 receives; ReportBatchItemFailures honoured:
//!   successes deleted, reported failures visible again after the visibility timeout, a function
//!   error or timeout returns the whole batch). A 40 s deadline per invocation.
//! - **per-event path** (the deployment before issue 10): EventBridge → Lambda asynchronous invocation
//!   with each event, Lambda scaling out processes as events arrive (capped: see `PEAK_PROCESSES`),
//!   retrying a function error twice (1 and 2 minutes later), and sending what still fails, or what
//!   is older than MaximumEventAgeInSeconds (300), to its on-failure destination (the dead-letter
//!   queue). An 8 s deadline per invocation (the function's timeout then).
//!
//! Each path has its own local Connect double with Connect's default quotas (a token bucket of 2
//! requests/s, burst 5, per API) answering ThrottlingException beyond them. See the README,
//! Performance, for what the simulation models and what it does not.
//!
//! Load (fixed seed, so runs are comparable): 20 CONNECTED_TO_AGENT voice events per second for 60 s
//! (the sample `events/eventbridge-connected-to-agent.json` with a fresh id, contactId and time), a
//! pool of 30 supervisors who each monitor at most one contact at a time, contacts lasting 20-90 s
//! after the event (10 % end within 0.5-4 s, before most can be monitored), 5 % of events delivered a
//! second time 1-5 s later with the same event id. The center is at its peak when the load starts:
//! every supervisor is already monitoring a contact, each ending at a random time in the first 35 s,
//! so supervisors come free over time as they do in a busy center, instead of 30 idle supervisors
//! making a burst no real peak has.
//!
//! Prints a table per path and PASS/FAIL against the issue's bars, and draws Connect calls per
//! second against the quota into `docs/peak-load.svg`. Exits non-zero when a bar is not met.
//!
//! Environment (for debugging; the defaults are the issue's load): `PEAK_SEED`, `PEAK_RATE` (events/s),
//! `PEAK_SECONDS` (load duration), `PEAK_POOL` (supervisors), `PEAK_PROCESSES` (the per-event path's
//! cap on processes, default 16), `PEAK_SVG` (where to draw, default `docs/peak-load.svg`),
//! `PEAK_RUN_SECONDS` (stop watching after this long instead of when every delivery is final).
//!
//! Beside another client (issue 16): `PEAK_OTHER_RATE=1.5` runs the SQS path alone, on a double
//! whose MonitorContact quota another integration uses at that rate (Poisson arrivals, for the whole
//! load and drain: `ConnectDouble::other_client`). Each environment signs with its own access key ID,
//! so the double tells its calls apart; its EMF documents give the paced rate after each invocation.
//! Prints the function's and the other client's calls and throttles, per environment and over time,
//! PASS/FAIL against issue 16's bars (nothing lost, no contact monitored twice, each environment
//! within its budget with its retries counted, drained within 120 s after the load, at most 10 % of
//! the function's Connect calls throttled), and draws `docs/peak-shared-quota.svg` (or `PEAK_SVG`).
//!
//! `cargo test --bench peak` (no `--bench` argument) runs only the self-checks of the simulation's
//! parts (queue, redrive, the Connect double's quotas), in a second.

#[path = "../../tests/support/connect_double/mod.rs"]
mod connect_double;
mod picture;
mod queue_endpoint;
mod report;
#[path = "../support/rng.rs"]
mod rng;
#[path = "../../tests/support/runtime_api.rs"]
mod runtime_api;
mod simulation;
#[path = "../support/svg.rs"]
mod svg;
#[path = "../support/time.rs"]
mod time;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use connect_double::{ConnectDouble, ContactSpec, DESCRIBE_CONTACT, GET_CURRENT_USER_DATA, MONITOR_CONTACT};
use serde_json::Value;

use picture::{draw, draw_shared};
use report::{
    Paced, async_report, busiest, from_double, largest_burst, paced_rate_at, print, print_shared, shared_figures,
    sqs_report,
};
use simulation::{
    AsyncLambda, Launcher, MessageState, Queue, Reply, access_key, asynchronous_invocation, batch_failures, emit,
    environment_of, event_json, event_source_mapping, iso8601, launch, load, md5_hex, scenario, single_outcome,
};

type Error = Box<dyn std::error::Error + Send + Sync>;
type Result<T> = std::result::Result<T, Error>;

const SAMPLE: &str = include_str!("../../events/eventbridge-connected-to-agent.json");
const INSTANCE: &str = "9e7c1b52-3d4f-4a6b-8c2d-1e0f3a5b7c9d";
const ACCOUNT: &str = "111122223333";
const QUEUE_ARN: &str = "arn:aws:sqs:us-east-1:111122223333:monitor-contact-automation";
const OPERATIONS: [&str; 3] = [GET_CURRENT_USER_DATA, DESCRIBE_CONTACT, MONITOR_CONTACT];
/// The simulation's parameters: the issue's load and the template's defaults.
#[derive(Debug, Clone)]
struct Settings {
    seed: u64,
    rate: f64,
    load: Duration,
    pool: usize,
    /// Connect's default quota per API: requests/s and burst.
    quota: (f64, f64),
    /// Share of contacts that end within a few seconds of the event.
    short_share: f64,
    /// Share of events EventBridge delivers twice.
    duplicate_share: f64,
    /// Initial monitors end within this time from the start.
    initial_monitors_end_within: Duration,
    // The SQS path: the template's defaults.
    batch_size: usize,
    batching_window: Duration,
    max_concurrency: usize,
    visibility_timeout: Duration,
    max_receive_count: u32,
    sqs_timeout: Duration,
    /// `SQS_RETRY_DELAY_SECONDS` of the SQS path's environments (the template's 10;
    /// `PEAK_SQS_RETRY_DELAY`, 0 to turn it off).
    sqs_retry_delay: u32,
    /// `CONNECT_CALLS_PER_SECOND` of the SQS path's environments (the template's).
    calls_per_second: f64,
    /// Another client's requests/s of MonitorContact from the SQS path's quota (`PEAK_OTHER_RATE`);
    /// then only the SQS path runs.
    other_rate: Option<f64>,
    // The per-event path: Lambda's asynchronous invocation as the template configured it.
    processes: usize,
    async_timeout: Duration,
    retry_delays: [Duration; 2],
    max_event_age: Duration,
    /// The queue must drain within this time after the load ends.
    drain_bar: Duration,
    /// Stop watching after this long (debugging), instead of when every delivery is final.
    run_limit: Option<Duration>,
    svg: PathBuf,
}

impl Settings {
    fn from_env() -> Settings {
        let number = |name: &str, default: f64| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.trim().parse::<f64>().ok())
                .filter(|v| v.is_finite() && *v > 0.0)
                .unwrap_or(default)
        };
        let other_rate = Some(number("PEAK_OTHER_RATE", 0.0)).filter(|rate| *rate > 0.0);
        let svg = if other_rate.is_some() {
            "peak-shared-quota.svg"
        } else {
            "peak-load.svg"
        };
        Settings {
            seed: number("PEAK_SEED", 10.0) as u64,
            rate: number("PEAK_RATE", 20.0),
            load: Duration::from_secs_f64(number("PEAK_SECONDS", 60.0).min(3600.0)),
            pool: (number("PEAK_POOL", 30.0) as usize).clamp(1, 100),
            quota: (2.0, 5.0),
            short_share: 0.10,
            duplicate_share: 0.05,
            initial_monitors_end_within: Duration::from_secs(35),
            batch_size: 100,
            batching_window: Duration::from_secs(2),
            max_concurrency: 2,
            visibility_timeout: Duration::from_secs(270),
            max_receive_count: 3,
            sqs_timeout: Duration::from_secs(40),
            sqs_retry_delay: std::env::var("PEAK_SQS_RETRY_DELAY")
                .ok()
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(10),
            calls_per_second: 1.0,
            other_rate,
            processes: (number("PEAK_PROCESSES", 16.0) as usize).clamp(1, 64),
            async_timeout: Duration::from_secs(8),
            retry_delays: [Duration::from_secs(60), Duration::from_secs(120)],
            max_event_age: Duration::from_secs(300),
            // Issue 10's bar; beside another client, issue 16's.
            drain_bar: Duration::from_secs(if other_rate.is_some() { 120 } else { 60 }),
            run_limit: std::env::var("PEAK_RUN_SECONDS")
                .ok()
                .and_then(|v| v.trim().parse::<f64>().ok())
                .and_then(|v| Duration::try_from_secs_f64(v).ok()),
            svg: std::env::var("PEAK_SVG")
                .map(PathBuf::from)
                .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs").join(svg)),
        }
    }

    /// Whether the load is at least the issue's (20 events/s for 60 s, 30 supervisors; beside
    /// another client, one taking at least 1.5 requests/s).
    fn is_the_issues_load(&self) -> bool {
        self.rate >= 20.0
            && self.load >= Duration::from_secs(60)
            && self.pool >= 30
            && self.other_rate.is_none_or(|rate| rate >= 1.5)
    }

    /// How long the run may last: every per-event delivery is final by MaximumEventAgeInSeconds after
    /// it was enqueued (plus one invocation); the SQS path is watched as long. Beside another client
    /// (the SQS path alone), until a record reported as failed by the drain bar has been received
    /// once more; the run ends sooner when the queue is empty.
    fn run_cap(&self) -> Duration {
        let cap = match self.other_rate {
            None => {
                self.load + Duration::from_secs(5) + self.max_event_age + self.async_timeout + Duration::from_secs(15)
            }
            Some(_) => self.load + self.drain_bar + self.visibility_timeout + self.sqs_timeout + Duration::from_secs(5),
        };
        self.run_limit.map_or(cap, |limit| limit.min(cap))
    }
}

// ---------------------------------------------------------------------------------------------
// Running it.

fn main() -> Result<()> {
    // `cargo bench` passes --bench; `cargo test --bench peak` does not: then only the self-checks.
    if !std::env::args().any(|a| a == "--bench") {
        return self_checks();
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(run(Settings::from_env()))
}

async fn run(settings: Settings) -> Result<()> {
    let binary = runtime_api::build_function()?;
    let load = Arc::new(load(&settings));
    // Beside another client, only the SQS path runs: issue 16 measures the automation function; the
    // per-event path is the deployment before issue 10.
    let per_event = settings.other_rate.is_none();
    let sqs_double = Arc::new(ConnectDouble::start(scenario(&settings, &load.supervisors)).await?);
    let async_double = match per_event {
        true => Some(Arc::new(
            ConnectDouble::start(scenario(&settings, &load.supervisors)).await?,
        )),
        false => None,
    };
    let queue = Arc::new(Mutex::new(Queue::default()));
    let queue_endpoint = queue_endpoint::start(Arc::clone(&queue)).await?;
    let sqs_launcher = Arc::new(Launcher::new(launch(
        &settings,
        &binary,
        &sqs_double,
        &load.supervisors,
        Some(&queue_endpoint),
    )));
    let async_launcher = async_double.as_ref().map(|double| {
        Arc::new(Launcher::new(launch(
            &settings,
            &binary,
            double,
            &load.supervisors,
            None,
        )))
    });
    eprintln!(
        "peak: {} events ({} deliveries) over {:.0} s, {} supervisors, seed {}{}",
        load.events.len(),
        load.deliveries.len(),
        settings.load.as_secs_f64(),
        settings.pool,
        settings.seed,
        settings
            .other_rate
            .map(|rate| format!("; the SQS path beside another client taking {rate} MonitorContact requests/s"))
            .unwrap_or_default()
    );

    let lambda = per_event.then(|| Arc::new(Mutex::new(AsyncLambda::default())));
    let enqueued = Arc::new(Mutex::new(vec![None; load.deliveries.len()]));
    let stop = Arc::new(AtomicBool::new(false));

    // The center at its peak: every supervisor monitoring a contact that ends within the first 35 s.
    let t0 = Instant::now() + Duration::from_millis(500);
    let t0_wall = SystemTime::now() + Duration::from_millis(500);
    let doubles: Vec<Arc<ConnectDouble>> = std::iter::once(Arc::clone(&sqs_double))
        .chain(async_double.clone())
        .collect();
    for double in &doubles {
        for (contact, user, ends) in &load.initial {
            let remaining = (t0 + *ends).saturating_duration_since(Instant::now());
            double.add_contact(contact, ContactSpec::live("VOICE").lasting(remaining));
            double.add_monitor(contact, user);
        }
    }
    let mapping = tokio::spawn(event_source_mapping(
        Arc::clone(&queue),
        Arc::clone(&sqs_launcher),
        settings.clone(),
        Arc::clone(&stop),
    ));
    let asynchronous = match (&lambda, &async_launcher) {
        (Some(lambda), Some(launcher)) => Some(tokio::spawn(asynchronous_invocation(
            Arc::clone(lambda),
            Arc::clone(launcher),
            settings.clone(),
            Arc::clone(&stop),
        ))),
        _ => None,
    };
    let other = settings.other_rate.map(|rate| {
        tokio::spawn(other_client(
            Arc::clone(&sqs_double),
            rate,
            settings.seed ^ OTHER_CLIENT_SEED,
            t0,
            Arc::clone(&stop),
        ))
    });
    let emitter = tokio::spawn(emit(
        Arc::clone(&load),
        t0,
        doubles,
        Arc::clone(&queue),
        lambda.clone(),
        Arc::clone(&enqueued),
    ));

    let load_end = t0 + settings.load;
    let bar = load_end + settings.drain_bar;
    let cap = t0 + settings.run_cap();
    let mut queued_at_bar = None;
    let mut next_progress = t0 + Duration::from_secs(10);
    let mut backlog: Vec<(Instant, usize)> = Vec::new();
    let mut next_backlog = t0;
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = Instant::now();
        let emitted = emitter.is_finished();
        let sqs_pending = queue.lock().map(|q| q.pending()).unwrap_or(0);
        let (async_pending, async_running, environments) = lambda
            .as_ref()
            .and_then(|lambda| lambda.lock().ok())
            .map(|l| (load.deliveries.len() - l.finals.len(), l.running, l.environments))
            .unwrap_or((0, 0, 0));
        if now >= next_backlog {
            next_backlog += Duration::from_secs(1);
            backlog.push((now, sqs_pending));
        }
        if now >= bar && queued_at_bar.is_none() {
            queued_at_bar = Some((sqs_pending, async_pending));
        }
        if now >= next_progress {
            next_progress += Duration::from_secs(10);
            let t = now.duration_since(t0).as_secs_f64();
            if per_event {
                eprintln!(
                    "peak: t={t:>4.0} s  SQS: {sqs_pending} queued or in flight  per-event: {async_pending} not final, {async_running} running on {environments} environments",
                );
            } else {
                eprintln!("peak: t={t:>4.0} s  SQS: {sqs_pending} queued or in flight");
            }
        }
        if mapping.is_finished() || asynchronous.as_ref().is_some_and(|a| a.is_finished()) {
            break;
        }
        // Beside another client the run ends once the queue is empty after the load: the drain bar
        // is then met, and nothing is left to measure.
        let watched = now >= bar || (!per_event && now >= load_end);
        if (emitted && sqs_pending == 0 && async_pending == 0 && watched) || now >= cap {
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
    let run_end = Instant::now();
    backlog.push((run_end, queue.lock().map(|q| q.pending()).unwrap_or(0)));
    let queued_at_bar = queued_at_bar.unwrap_or((0, 0));
    emitter.abort();
    for task in std::iter::once(mapping).chain(asynchronous) {
        match tokio::time::timeout(Duration::from_secs(70), task).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => return Err(e),
            Ok(Err(e)) => return Err(format!("a simulation task failed: {e}").into()),
            Err(_) => eprintln!("peak: an invocation was still running at the end"),
        }
    }
    let other = match other {
        Some(task) => task.await.map_err(|e| format!("the other client failed: {e}"))?,
        None => Vec::new(),
    };

    keep_logs(&sqs_launcher, &sqs_double, t0);
    let mut sqs = sqs_report(&settings, &load, &queue, &sqs_launcher, queued_at_bar.0, load_end);
    from_double(&mut sqs, &sqs_double, &load, t0, load_end);
    let (passed, svg) = match (settings.other_rate, &lambda, &async_launcher, &async_double) {
        (Some(rate), _, _, _) => {
            let shared = shared_figures(rate, &sqs_double, &sqs_launcher, t0, t0_wall, &other, &backlog);
            let passed = print_shared(&settings, &load, &sqs, &shared, run_end.duration_since(t0));
            (
                passed,
                draw_shared(&settings, run_end.duration_since(t0), &sqs, &shared),
            )
        }
        (None, Some(lambda), Some(async_launcher), Some(async_double)) => {
            let enqueued = enqueued.lock().map(|e| e.clone()).unwrap_or_default();
            let mut per_event = async_report(&load, lambda, async_launcher, queued_at_bar.1, load_end, &enqueued);
            from_double(&mut per_event, async_double, &load, t0, load_end);
            let passed = print(&settings, &load, &[&sqs, &per_event], run_end.duration_since(t0));
            (passed, draw(&settings, t0, run_end, &[&sqs, &per_event]))
        }
        _ => return Err("the per-event path did not run".into()),
    };
    if let Some(dir) = settings.svg.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&settings.svg, svg)?;
    println!("picture: {}", settings.svg.display());
    if !passed {
        return Err("the SQS path did not meet the issue's bars (see above)".into());
    }
    Ok(())
}

/// Where the SQS path's logs go: `$TMPDIR/monitor-contact-peak/`.
fn log_dir() -> PathBuf {
    std::env::temp_dir().join("monitor-contact-peak")
}

/// Keeps what the SQS path's environments wrote (`sqs-env-N.stdout`: a JSON line per record and per
/// batch) and every request the SQS path's double answered (`sqs-connect.tsv`: seconds since the
/// load started, the operation, the environment by its access key, the status), to read a run
/// afterwards. A failure to write is reported, not fatal.
fn keep_logs(launcher: &Launcher, double: &ConnectDouble, t0: Instant) {
    let dir = log_dir();
    let written = std::fs::create_dir_all(&dir).and_then(|()| {
        let outputs = launcher.outputs.lock().map(|o| o.clone()).unwrap_or_default();
        for (environment, stdout) in outputs {
            std::fs::write(dir.join(format!("sqs-env-{environment}.stdout")), stdout)?;
        }
        let state = double.state();
        let mut text = String::from("t_s\toperation\tenvironment\tstatus\n");
        for (request, served) in state.requests.iter().zip(&state.served) {
            let t = served.at.saturating_duration_since(t0).as_secs_f64();
            let environment = request
                .header("authorization")
                .and_then(environment_of)
                .map_or_else(|| "-".to_owned(), |e| e.to_string());
            let operation = served.operation.unwrap_or("?");
            let _ = writeln!(text, "{t:.3}\t{operation}\t{environment}\t{}", served.status);
        }
        std::fs::write(dir.join("sqs-connect.tsv"), text)
    });
    match written {
        Ok(()) => eprintln!("peak: the SQS path's logs are in {}", dir.display()),
        Err(e) => eprintln!("peak: cannot keep the logs in {}: {e}", dir.display()),
    }
}

/// Salts the load's seed for the other client's arrivals.
const OTHER_CLIENT_SEED: u64 = 0x07e4_c11e;

/// Another client of MonitorContact, on `double`'s quota from `t0` until `stop`: its counts
/// (admitted, throttled so far), sampled every 100 ms.
async fn other_client(
    double: Arc<ConnectDouble>,
    rate: f64,
    seed: u64,
    t0: Instant,
    stop: Arc<AtomicBool>,
) -> Vec<(Instant, u64, u64)> {
    tokio::time::sleep_until(t0.into()).await;
    let client = double.other_client(MONITOR_CONTACT, rate, seed);
    let mut samples = vec![(Instant::now(), 0, 0)];
    while !stop.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (admitted, throttled) = client.counts();
        samples.push((Instant::now(), admitted, throttled));
    }
    samples
}

// ---------------------------------------------------------------------------------------------
// Self-checks of the simulation's parts (`cargo test --bench peak`).

fn self_checks() -> Result<()> {
    let check = |ok: bool, what: &str| -> Result<()> {
        if ok {
            println!("ok: {what}");
            Ok(())
        } else {
            Err(format!("self-check failed: {what}").into())
        }
    };
    check(md5_hex(b"") == "d41d8cd98f00b204e9800998ecf8427e", "MD5 of nothing")?;
    check(
        md5_hex(b"The quick brown fox jumps over the lazy dog") == "9e107d9d372bb6826bd81d3542a419d6",
        "MD5 of the fox",
    )?;
    check(
        iso8601(SystemTime::UNIX_EPOCH + Duration::from_millis(1_795_000_000_123), true) == "2026-11-18T11:06:40.123Z"
            && iso8601(SystemTime::UNIX_EPOCH + Duration::from_secs(951_782_400), false) == "2000-02-29T00:00:00Z",
        "ISO 8601 times",
    )?;
    let settings = Settings::from_env();
    let a = load(&settings);
    let b = load(&settings);
    check(
        a.events.len() == b.events.len()
            && a.events
                .iter()
                .zip(&b.events)
                .all(|(x, y)| x.id == y.id && x.at == y.at),
        "the same seed gives the same load",
    )?;
    let template: Value = serde_json::from_str(SAMPLE)?;
    let body: Value = serde_json::from_str(&event_json(&template, &a.events[0], SystemTime::now()))?;
    check(
        body["detail"]["contactId"] == a.events[0].contact.as_str() && body["id"] == a.events[0].id.as_str(),
        "events carry their own id and contact",
    )?;

    // The queue: receive counts, visibility, partial failures, redrive.
    let mut queue = Queue::default();
    let quick = Settings {
        visibility_timeout: Duration::ZERO,
        ..settings.clone()
    };
    let now = Instant::now();
    queue.send("{}".into(), "m-0".into(), now);
    queue.send("{}".into(), "m-1".into(), now);
    let first = queue.receive(10, now, &quick);
    check(
        first.len() == 2 && first[0].1["attributes"]["ApproximateReceiveCount"] == "1",
        "first receive",
    )?;
    let batch: Vec<(usize, u32)> = first.iter().map(|(i, _)| (*i, 1)).collect();
    queue.settle(
        &batch,
        &Reply::Response(r#"{"batchItemFailures":[{"itemIdentifier":"m-1"}]}"#.into()),
        now,
    );
    check(
        queue.messages[0].state == MessageState::Deleted && queue.pending() == 1,
        "a success is deleted, a reported failure stays",
    )?;
    for n in 2..=3 {
        let again = queue.receive(10, now, &quick);
        check(
            again.len() == 1
                && again[0].1["attributes"]["ApproximateReceiveCount"]
                    .as_str()
                    .and_then(|v| v.parse::<u32>().ok())
                    == Some(n),
            "a failure comes back after the visibility timeout, counted",
        )?;
        queue.settle(&[(again[0].0, n)], &Reply::Error("Throttled".into()), now);
    }
    check(
        queue.receive(10, now, &quick).is_empty() && queue.messages[1].state == MessageState::DeadLettered,
        "after 3 receives the message moves to the dead-letter queue",
    )?;
    let mut given = Queue::default();
    given.send("{}".into(), "m-0".into(), now);
    let received = given.receive(10, now, &settings);
    let receipt = received[0].1["receiptHandle"].as_str().unwrap_or_default().to_owned();
    check(
        given.receive(10, now, &settings).is_empty()
            && !given.change_visibility("AQEB-not-a-receipt", Duration::ZERO, now)
            && given.change_visibility(&receipt, Duration::ZERO, now)
            && given.receive(10, now, &settings).len() == 1
            && !given.change_visibility(&receipt, Duration::ZERO, now)
            && given.given_back == 1,
        "a record given back with its latest receipt comes back at once; an older receipt is refused",
    )?;
    check(
        batch_failures("").is_ok_and(|f| f.is_empty())
            && batch_failures(r#"{"batchItemFailures":[]}"#).is_ok_and(|f| f.is_empty())
            && batch_failures(r#"{"batchItemFailures":[{"itemIdentifier":""}]}"#).is_err()
            && batch_failures("not json").is_err(),
        "batch responses are read as the event source mapping reads them",
    )?;
    check(
        single_outcome(r#"{"Status":"SKIPPED","Reason":"CONTACT_ENDED","ContactId":"c"}"#).as_deref()
            == Some("SKIPPED CONTACT_ENDED"),
        "single answers",
    )?;

    // Beside another client: the function's calls told apart by environment, the budget's bound.
    let authorization = |key: &str| {
        format!(
            "AWS4-HMAC-SHA256 Credential={key}/20261122/us-east-1/connect/aws4_request, SignedHeaders=host, Signature=00"
        )
    };
    check(
        environment_of(&authorization(&access_key(2))) == Some(2)
            && environment_of(&authorization(&access_key(17))) == Some(17)
            && environment_of(&authorization("AKIDLOCALDOUBLE")).is_none(),
        "an environment's calls are known by its access key ID",
    )?;
    check(
        largest_burst(&[], 1.0) == 0.0
            && largest_burst(&[0.0, 0.0, 1.0, 2.0, 3.0], 1.0) == 2.0
            && largest_burst(&[0.0, 0.0, 0.0, 5.0], 1.0) == 3.0
            && largest_burst(&[0.0, 2.0, 4.0, 4.0, 4.5], 0.5) == 2.75,
        "the largest burst above a rate, over every window",
    )?;
    check(
        busiest(&[0.0, 1.0, 5.0, 10.5, 11.0], 10.0) == 3 && busiest(&[], 10.0) == 0,
        "the busiest window",
    )?;
    let paced = |at: f64, rate: Option<f64>| Paced {
        at,
        operation: "MonitorContact".to_owned(),
        calls: 1,
        rate,
    };
    let reported = [paced(5.0, Some(0.5)), paced(9.0, None), paced(12.0, Some(0.25))];
    check(
        paced_rate_at(&reported, "MonitorContact", 4.0).is_none()
            && paced_rate_at(&reported, "MonitorContact", 10.0) == Some(0.5)
            && paced_rate_at(&reported, "MonitorContact", 12.0) == Some(0.25)
            && paced_rate_at(&reported, "DescribeContact", 12.0).is_none(),
        "the paced rate an environment last reported",
    )?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(double_checks())?;
    println!("self-checks passed (run `cargo bench --bench peak` for the benchmark)");
    Ok(())
}

/// What the benchmark relies on in the Connect double, through the real SDK client.
async fn double_checks() -> Result<()> {
    let check = |ok: bool, what: &str| -> Result<()> {
        if ok {
            println!("ok: the double: {what}");
            Ok(())
        } else {
            Err(format!("self-check failed: the double: {what}").into())
        }
    };
    let users: Vec<String> = ["u-1", "u-2", "u-3"].iter().map(|u| (*u).to_owned()).collect();
    let settings = Settings::from_env();
    let double = ConnectDouble::start(scenario(&settings, &users)).await?;
    let client = aws_sdk_connect::Client::new(&double.sdk_config(Duration::from_millis(1)));
    let status = |e: &aws_sdk_connect::error::SdkError<_, aws_sdk_connect::config::http::HttpResponse>| {
        e.raw_response().map(|r| r.status().as_u16())
    };
    let monitor = |user: &str, contact: &str| {
        client
            .monitor_contact()
            .instance_id(INSTANCE)
            .contact_id(contact)
            .user_id(user)
            .client_token(format!("{contact}-{user}"))
            .send()
    };
    double.add_contact("c-1", ContactSpec::live("VOICE"));
    check(
        monitor("u-1", "c-1").await.is_ok() && monitor("u-2", "c-1").await.is_ok(),
        "two supervisors on a voice contact",
    )?;
    let third = monitor("u-3", "c-1").await;
    check(
        third.as_ref().err().and_then(status) == Some(402),
        "a third is refused (402)",
    )?;
    check(double.end_contact("c-1"), "a contact ends")?;
    let ended = monitor("u-3", "c-1").await;
    check(
        ended.as_ref().err().and_then(status) == Some(400),
        "an ended contact is refused (400)",
    )?;
    let described = client
        .describe_contact()
        .instance_id(INSTANCE)
        .contact_id("c-1")
        .send()
        .await;
    check(
        described.is_ok_and(|d| d.contact().is_some_and(|c| c.disconnect_timestamp().is_some())),
        "an ended contact is described with a DisconnectTimestamp",
    )?;
    double.add_contact("c-2", ContactSpec::live("VOICE").lasting(Duration::from_millis(200)));
    check(
        monitor("u-1", "c-2").await.is_ok(),
        "a supervisor is free again when the contact ends",
    )?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let running = double.monitors().iter().filter(|m| m.running()).count();
    check(running == 0, "monitors end with their contact's lifetime")?;
    let before = double.served().len();
    for _ in 0..8 {
        let _ = client
            .describe_contact()
            .instance_id(INSTANCE)
            .contact_id("c-1")
            .send()
            .await;
    }
    let served = double.served();
    check(
        double.state().requests.len() == served.len(),
        "each answer is recorded beside its request (whose signing key names the environment)",
    )?;
    let admitted = served[before..]
        .iter()
        .filter(|s| s.operation == Some(DESCRIBE_CONTACT) && !s.throttled())
        .count();
    check(
        double.throttled().get(DESCRIBE_CONTACT).copied().unwrap_or(0) > 0 && admitted <= 6,
        "requests beyond the quota are throttled (429)",
    )?;
    Ok(())
}

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
//! `cargo test --bench peak` (no `--bench` argument) runs only the self-checks of the simulation's
//! parts (queue, redrive, the Connect double's quotas), in a second.

#[path = "../../tests/support/connect_double.rs"]
mod connect_double;
mod picture;
mod report;
#[path = "../../tests/support/runtime_api.rs"]
mod runtime_api;
mod simulation;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use connect_double::{ConnectDouble, ContactSpec, DESCRIBE_CONTACT, GET_CURRENT_USER_DATA, MONITOR_CONTACT};
use serde_json::Value;

use picture::draw;
use report::{async_report, from_double, print, sqs_report};
use simulation::{
    AsyncLambda, Launcher, MessageState, Queue, Reply, asynchronous_invocation, batch_failures, emit, event_json,
    event_source_mapping, iso8601, launch, load, md5_hex, scenario, single_outcome,
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
            processes: (number("PEAK_PROCESSES", 16.0) as usize).clamp(1, 64),
            async_timeout: Duration::from_secs(8),
            retry_delays: [Duration::from_secs(60), Duration::from_secs(120)],
            max_event_age: Duration::from_secs(300),
            drain_bar: Duration::from_secs(60),
            run_limit: std::env::var("PEAK_RUN_SECONDS")
                .ok()
                .and_then(|v| v.trim().parse::<f64>().ok())
                .and_then(|v| Duration::try_from_secs_f64(v).ok()),
            svg: std::env::var("PEAK_SVG")
                .map(PathBuf::from)
                .unwrap_or_else(|_| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/peak-load.svg"))),
        }
    }

    /// Whether the load is at least the issue's (20 events/s for 60 s, 30 supervisors).
    fn is_the_issues_load(&self) -> bool {
        self.rate >= 20.0 && self.load >= Duration::from_secs(60) && self.pool >= 30
    }

    /// How long the run may last: every per-event delivery is final by MaximumEventAgeInSeconds after
    /// it was enqueued (plus one invocation); the SQS path is watched as long.
    fn run_cap(&self) -> Duration {
        let cap =
            self.load + Duration::from_secs(5) + self.max_event_age + self.async_timeout + Duration::from_secs(15);
        self.run_limit.map_or(cap, |limit| limit.min(cap))
    }
}

// ---------------------------------------------------------------------------------------------
// Running it.

fn build() -> Result<PathBuf> {
    let built = runtime_api::build_release(&["--bin", "monitor-contact"], &["monitor-contact"])?;
    built
        .into_iter()
        .next()
        .ok_or_else(|| "no monitor-contact executable".into())
}

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
    let binary = build()?;
    let load = Arc::new(load(&settings));
    let sqs_double = Arc::new(ConnectDouble::start(scenario(&settings, &load.supervisors)).await?);
    let async_double = Arc::new(ConnectDouble::start(scenario(&settings, &load.supervisors)).await?);
    let sqs_launcher = Arc::new(Launcher {
        launch: launch(&binary, &sqs_double, &load.supervisors, true),
        started: AtomicUsize::new(0),
        outputs: Mutex::new(Vec::new()),
    });
    let async_launcher = Arc::new(Launcher {
        launch: launch(&binary, &async_double, &load.supervisors, false),
        started: AtomicUsize::new(0),
        outputs: Mutex::new(Vec::new()),
    });
    eprintln!(
        "peak: {} events ({} deliveries) over {:.0} s, {} supervisors, seed {}",
        load.events.len(),
        load.deliveries.len(),
        settings.load.as_secs_f64(),
        settings.pool,
        settings.seed
    );

    let queue = Arc::new(Mutex::new(Queue::default()));
    let lambda = Arc::new(Mutex::new(AsyncLambda::default()));
    let enqueued = Arc::new(Mutex::new(vec![None; load.deliveries.len()]));
    let stop = Arc::new(AtomicBool::new(false));

    // The center at its peak: every supervisor monitoring a contact that ends within the first 35 s.
    let t0 = Instant::now() + Duration::from_millis(500);
    for double in [&sqs_double, &async_double] {
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
    let asynchronous = tokio::spawn(asynchronous_invocation(
        Arc::clone(&lambda),
        Arc::clone(&async_launcher),
        settings.clone(),
        Arc::clone(&stop),
    ));
    let emitter = tokio::spawn(emit(
        Arc::clone(&load),
        t0,
        [Arc::clone(&sqs_double), Arc::clone(&async_double)],
        Arc::clone(&queue),
        Arc::clone(&lambda),
        Arc::clone(&enqueued),
    ));

    let load_end = t0 + settings.load;
    let bar = load_end + settings.drain_bar;
    let cap = t0 + settings.run_cap();
    let mut queued_at_bar = None;
    let mut next_progress = t0 + Duration::from_secs(10);
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = Instant::now();
        let emitted = emitter.is_finished();
        let sqs_pending = queue.lock().map(|q| q.pending()).unwrap_or(0);
        let (async_pending, async_running, environments) = lambda
            .lock()
            .map(|l| (load.deliveries.len() - l.finals.len(), l.running, l.environments))
            .unwrap_or((0, 0, 0));
        if now >= bar && queued_at_bar.is_none() {
            queued_at_bar = Some((sqs_pending, async_pending));
        }
        if now >= next_progress {
            next_progress += Duration::from_secs(10);
            eprintln!(
                "peak: t={:>4.0} s  SQS: {sqs_pending} queued or in flight  per-event: {async_pending} not final, {async_running} running on {environments} environments",
                now.duration_since(t0).as_secs_f64(),
            );
        }
        if mapping.is_finished() || asynchronous.is_finished() {
            break;
        }
        if (emitted && sqs_pending == 0 && async_pending == 0 && now >= bar) || now >= cap {
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
    let run_end = Instant::now();
    let queued_at_bar = queued_at_bar.unwrap_or((0, 0));
    emitter.abort();
    for task in [mapping, asynchronous] {
        match tokio::time::timeout(Duration::from_secs(70), task).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => return Err(e),
            Ok(Err(e)) => return Err(format!("a simulation task failed: {e}").into()),
            Err(_) => eprintln!("peak: an invocation was still running at the end"),
        }
    }

    let enqueued = enqueued.lock().map(|e| e.clone()).unwrap_or_default();
    let mut sqs = sqs_report(&settings, &load, &queue, &sqs_launcher, queued_at_bar.0, load_end);
    from_double(&mut sqs, &sqs_double, &load, t0, load_end);
    let mut per_event = async_report(&load, &lambda, &async_launcher, queued_at_bar.1, load_end, &enqueued);
    from_double(&mut per_event, &async_double, &load, t0, load_end);

    let passed = print(&settings, &load, &[&sqs, &per_event], run_end.duration_since(t0));
    let svg = draw(&settings, t0, run_end, &[&sqs, &per_event]);
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

//! The fault benchmark (issue 16): `cargo bench --bench faults`. A measured script, not a timed test.
//!
//! Measures the time a contact flow waits for an answer when Connect throttles, fails or answers
//! slowly, for two implementations side by side, each started as Lambda starts a function (a real
//! process under its own local Lambda Runtime API, `tests/support/runtime_api.rs`) and talking over
//! HTTP on 127.0.0.1 to its own local Connect double (`tests/support/connect_double/`):
//!
//! - **this function**: the release `monitor-contact` binary with the flow function's configuration
//!   from `template.yaml` (`CONNECT_CALLS_PER_SECOND=off`, `CONNECT_RETRY_SECONDS=2.5`, an 8 s timeout);
//! - **boto3**: `benches/boto3_function.py`, what a team would otherwise deploy: boto3's Connect client
//!   with the standard retry mode and 3 attempts, run by `python3` (it needs boto3 importable; when it
//!   is not, its column says so and only this function is measured).
//!
//! Two parts:
//!
//! 1. **Single cases**, each with a fresh double and a fresh process (a cold start), one contact-flow
//!    invocation (`events/contact-flow-voice.json`): throttled once, then accepted; throttled on every
//!    attempt; InternalServiceException once, then accepted; every answer takes 2.5 s. Reported: time
//!    to answer (event handed over → answer posted), MonitorContact attempts the double received, the
//!    answer (STARTED or the errorType), monitors started.
//! 2. **Flows beside another integration**: one invocation per second for `FAULTS_SECONDS` (60), each
//!    at a seeded random moment of its second and about a distinct contact, while another client
//!    takes 1.5 requests/s (Poisson arrivals) of MonitorContact's quota; the double has Connect's
//!    default quotas (2 requests/s, burst 5, every API). Each invocation goes to an idle process, or to
//!    a new one when none is idle (Lambda scales out; at most 10). Reported: share STARTED, p50/p95/max
//!    time to answer, DeadlineExceeded and other errors, attempts per invocation, first attempts
//!    throttled, processes used. Every MonitorContact request of the run, both implementations' and
//!    the other client's, with the quota's tokens replayed, goes to `<short>-flows-timeline.tsv`.
//!
//! Prints Markdown tables and PASS/FAIL lines for this function's goals (issue 16), draws time to
//! answer over the run, with the throttles, into `docs/faults-flows.svg` (`FAULTS_SVG` overrides), and
//! exits non-zero when a goal of this function is missed. `FAULTS_SEED` (default 16) seeds the contact
//! IDs and the other client's arrivals; the implementations' own back-off jitter is theirs (unseeded).
//! Every wait has a timeout. The processes' output goes to `$TMPDIR/monitor-contact-faults/`.
//!
//! `cargo test --bench faults` (no `--bench` argument) runs only the self-checks, in a second.

#[path = "../tests/support/connect_double/mod.rs"]
mod connect_double;
#[path = "support/rng.rs"]
mod rng;
#[path = "../tests/support/runtime_api.rs"]
mod runtime_api;
#[path = "support/svg.rs"]
mod svg;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use connect_double::{ConnectDouble, Failure, MONITOR_CONTACT, OtherClient, Quotas, Scenario, Served};
use monitor_contact::ErrorKind;
use rng::Rng;
use runtime_api::{Answer, Capture, Invocation, Kind, Launch, Process, RuntimeApi, Wait};
use serde_json::Value;
use svg::nice_ceiling;

type Error = Box<dyn std::error::Error + Send + Sync>;
type Result<T> = std::result::Result<T, Error>;
/// A measurement, or why it could not be made.
type Measured<T> = std::result::Result<T, String>;
/// One implementation's single cases.
type Singles = Vec<(Case, Measured<Single>)>;
/// A table's rows: (title, value).
type Rows = Vec<(String, String)>;

const SAMPLE: &str = include_str!("../events/contact-flow-voice.json");
/// The sample's contact (its ContactId, InitialContactId and PreviousContactId).
const SAMPLE_CONTACT: &str = "5b0e6c2a-7f41-4d8e-9a3b-2c1d0e9f8a7b";
const INSTANCE: &str = "9e7c1b52-3d4f-4a6b-8c2d-1e0f3a5b7c9d";
/// The sample's supervisor (its block parameter `SupervisorUserId`), the default supervisor of both.
const SUPERVISOR: &str = "3f8a2c1e-6d4b-4a9e-b7c5-0d1e2f3a4b5c";
const BOTO3_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/boto3_function.py");

/// The flow function's timeout (template.yaml), handed to the process as the invocation's deadline.
const DEADLINE: Duration = Duration::from_secs(8);
/// How long a process may take to start (Python importing boto3 on a busy machine included).
const INIT_TIMEOUT: Duration = Duration::from_secs(20);
/// Past the deadline, how long the harness still waits for an answer before it counts a timeout (Lambda
/// would have stopped the process at the deadline; a late answer counts as a timeout too).
const GRACE: Duration = Duration::from_secs(2);
/// The slow case: every answer of the double takes this long.
const SLOW: Duration = Duration::from_millis(2_500);

// The goals (issue 16), for this function.
const FLOW_STARTED_SHARE: f64 = 0.99;
const FLOW_P95: Duration = Duration::from_secs(2);
const ONCE_WITHIN: Duration = Duration::from_secs(1);
const THROTTLED_WITHIN: Duration = Duration::from_secs(3);
const THROTTLED_ATTEMPTS: usize = 3;
const SLOW_WITHIN: Duration = Duration::from_secs(3);

#[derive(Debug, Clone)]
struct Settings {
    seed: u64,
    /// How long the flows run (one invocation per second).
    seconds: u64,
    /// Invocations per second.
    rate: f64,
    /// The other client's MonitorContact requests per second.
    other_rate: f64,
    /// Connect's default quota per API: requests/s and burst.
    quota: (f64, f64),
    /// Most processes (execution environments) one implementation may have.
    processes: usize,
    /// The other client runs this long before the first invocation (its bucket share settles).
    warm_up: Duration,
    svg: PathBuf,
}

impl Settings {
    fn from_env() -> Settings {
        let number = |name: &str, default: f64| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.trim().parse::<f64>().ok())
                .filter(|v| v.is_finite() && *v >= 0.0)
                .unwrap_or(default)
        };
        Settings {
            seed: number("FAULTS_SEED", 16.0) as u64,
            seconds: (number("FAULTS_SECONDS", 60.0) as u64).clamp(1, 3600),
            rate: 1.0,
            other_rate: 1.5,
            quota: (2.0, 5.0),
            processes: 10,
            warm_up: Duration::from_secs(5),
            svg: std::env::var("FAULTS_SVG")
                .map(PathBuf::from)
                .unwrap_or_else(|_| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/faults-flows.svg"))),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The two implementations.

#[derive(Debug, Clone)]
enum Implementation {
    /// The release binary.
    Function(PathBuf),
    /// The boto3 script, run by the python3 in this directory.
    Boto3 { python_dir: PathBuf },
}

impl Implementation {
    fn name(&self) -> &'static str {
        match self {
            Implementation::Function(_) => "this function",
            Implementation::Boto3 { .. } => "boto3",
        }
    }

    fn short(&self) -> &'static str {
        match self {
            Implementation::Function(_) => "function",
            Implementation::Boto3 { .. } => "boto3",
        }
    }

    /// Lambda's environment for it, pointed at `double`; its stdout and stderr to `log` with the
    /// extensions `.stdout` and `.stderr` (Lambda keeps both in the function's log).
    fn launch(&self, double: &ConnectDouble, log: &Path) -> Launch {
        let launch = match self {
            // The flow function's environment as the template deploys it (the parameters that matter
            // here: the supervisor, the instance, no pacing, the retry window, metrics on).
            Implementation::Function(binary) => Launch::new(binary)
                .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
                .env("DEFAULT_SUPERVISOR_USER_ID", SUPERVISOR)
                .env("ALLOWED_INSTANCE_IDS", INSTANCE)
                .env("CONNECT_CALLS_PER_SECOND", "off")
                .env("CONNECT_RETRY_SECONDS", "2.5")
                .env("METRICS_NAMESPACE", "MonitorContact"),
            // A Python runtime's PATH finds its interpreter first (the script's `#!/usr/bin/env python3`).
            Implementation::Boto3 { python_dir } => Launch::new(BOTO3_SCRIPT)
                .env("PATH", format!("{}:/usr/local/bin:/usr/bin:/bin", python_dir.display()))
                .env("AWS_LAMBDA_FUNCTION_NAME", "monitor-contact-boto3")
                .env("DEFAULT_SUPERVISOR_USER_ID", SUPERVISOR)
                .env("PYTHONDONTWRITEBYTECODE", "1"),
        };
        launch
            .env("AWS_ENDPOINT_URL_CONNECT", double.endpoint())
            .stdout(Capture::File(log.with_extension("stdout")))
            .stderr(Capture::File(log.with_extension("stderr")))
    }
}

/// Runs a command to its end, within `limit`; its stdout, or why not.
fn run_bounded(command: &mut Command, limit: Duration) -> Measured<String> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot run {command:?}: {e}"))?;
    let until = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() < until => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{command:?} did not end within {} s", limit.as_secs()));
            }
            Err(e) => return Err(format!("{command:?}: {e}")),
        }
    }
    let output = child.wait_with_output().map_err(|e| format!("{command:?}: {e}"))?;
    if !output.status.success() {
        return Err(format!("{command:?} failed ({})", output.status));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The python3 that has boto3 (its directory), and boto3's version; `Err` says why not.
fn find_boto3() -> Measured<(PathBuf, String)> {
    let text = run_bounded(
        Command::new("python3").args([
            "-c",
            "import sys, boto3; print(sys.executable); print(boto3.__version__)",
        ]),
        Duration::from_secs(30),
    )
    .map_err(|e| format!("python3 cannot import boto3 (pip install boto3): {e}"))?;
    let mut lines = text.lines();
    let (Some(executable), Some(version)) = (lines.next(), lines.next()) else {
        return Err("python3 did not say where it is".into());
    };
    let dir = Path::new(executable.trim())
        .parent()
        .map(Path::to_path_buf)
        .ok_or("python3's executable has no directory")?;
    Ok((dir, version.trim().to_owned()))
}

fn log_dir() -> PathBuf {
    std::env::temp_dir().join("monitor-contact-faults")
}

// ---------------------------------------------------------------------------------------------
// Events and answers.

/// The contact-flow sample about `contact` (its three contact IDs replaced).
fn event(contact: &str) -> String {
    SAMPLE.replace(SAMPLE_CONTACT, contact)
}

/// `STARTED`, `SKIPPED <reason>` or the error's type; for an answer both implementations give.
fn label(answer: &Answer) -> String {
    let value: Value = serde_json::from_str(&answer.body).unwrap_or(Value::Null);
    match answer.kind {
        Kind::Response => {
            let status = value
                .get("Status")
                .or_else(|| value.get("status"))
                .and_then(Value::as_str);
            match status {
                Some("STARTED") => "STARTED".to_owned(),
                Some("SKIPPED") => format!("SKIPPED {}", value.get("Reason").and_then(Value::as_str).unwrap_or("?")),
                _ => format!("unreadable answer {}", answer.body),
            }
        }
        Kind::Error | Kind::InitError => value
            .get("errorType")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| format!("error without a type {}", answer.body)),
    }
}

/// What the harness says when the process gave no answer in time: Lambda's own timeout.
const TIMED_OUT: &str = "Sandbox.Timedout";

/// One invocation's end: what the caller got and when.
#[derive(Debug, Clone)]
struct Ended {
    label: String,
    /// Event handed over → answer (the deadline, for a timeout).
    took: Duration,
}

/// Hands `payload` to the process of `api` and waits for its answer (`init`: also for its init).
/// A process that answers late or not at all is stopped, as Lambda stops it at the deadline: `None`
/// for the environment then.
async fn invoke(api: &mut RuntimeApi, request_id: &str, payload: String, init: bool) -> (Ended, bool) {
    let within = DEADLINE + GRACE + if init { INIT_TIMEOUT } else { Duration::ZERO };
    let invocation = Invocation::new(request_id, payload).timeout(DEADLINE);
    match api.invoke(invocation, within).await {
        Ok(answer) if answer.duration() <= DEADLINE => (
            Ended {
                label: label(&answer),
                took: answer.duration(),
            },
            true,
        ),
        Ok(_) | Err(Wait::TimedOut) => (
            Ended {
                label: TIMED_OUT.to_owned(),
                took: DEADLINE,
            },
            false,
        ),
        Err(Wait::Unexpected(answer)) => (
            Ended {
                label: format!("unexpected {:?}: {}", answer.kind, label(&answer)),
                took: answer.duration(),
            },
            false,
        ),
        Err(Wait::Stopped) => (
            Ended {
                label: "the runtime API stopped".to_owned(),
                took: Duration::ZERO,
            },
            false,
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// Part 1: single cases.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Case {
    ThrottledOnce,
    ThrottledAlways,
    InternalOnce,
    Slow,
}

impl Case {
    const ALL: [Case; 4] = [
        Case::ThrottledOnce,
        Case::ThrottledAlways,
        Case::InternalOnce,
        Case::Slow,
    ];

    fn title(self) -> &'static str {
        match self {
            Case::ThrottledOnce => "throttled once, then accepted",
            Case::ThrottledAlways => "throttled on every attempt",
            Case::InternalOnce => "InternalServiceException once, then accepted",
            Case::Slow => "every answer takes 2.5 s",
        }
    }

    fn slug(self) -> &'static str {
        match self {
            Case::ThrottledOnce => "throttled-once",
            Case::ThrottledAlways => "throttled-always",
            Case::InternalOnce => "5xx-once",
            Case::Slow => "slow",
        }
    }

    fn arrange(self, double: &ConnectDouble) {
        let throttle = || Failure::new(429, "ThrottlingException", "Rate exceeded");
        match self {
            Case::ThrottledOnce => double.fail_next_on(MONITOR_CONTACT, [throttle()]),
            Case::ThrottledAlways => double.fail_next_on(MONITOR_CONTACT, (0..100).map(|_| throttle())),
            Case::InternalOnce => double.fail_next_on(
                MONITOR_CONTACT,
                [Failure::new(500, "InternalServiceException", "Internal service error")],
            ),
            Case::Slow => double.state().delay = SLOW,
        }
    }

    /// This function's goal for the case (issue 16): what it says, and whether `single` meets it.
    fn goal(self, single: &Single) -> (String, bool) {
        let started = single.ended.label == "STARTED";
        match self {
            Case::ThrottledOnce | Case::InternalOnce => (
                format!("STARTED within {} s", ONCE_WITHIN.as_secs_f64()),
                started && single.ended.took <= ONCE_WITHIN,
            ),
            Case::ThrottledAlways => (
                format!(
                    "Throttled within {} s, after at least {THROTTLED_ATTEMPTS} attempts",
                    THROTTLED_WITHIN.as_secs_f64()
                ),
                single.ended.label == ErrorKind::Throttled.as_str()
                    && single.ended.took <= THROTTLED_WITHIN
                    && single.attempts >= THROTTLED_ATTEMPTS,
            ),
            Case::Slow => (
                format!(
                    "STARTED within {} s, one attempt, one monitor",
                    SLOW_WITHIN.as_secs_f64()
                ),
                started && single.ended.took <= SLOW_WITHIN && single.attempts == 1 && single.monitors == 1,
            ),
        }
    }
}

#[derive(Debug, Clone)]
struct Single {
    ended: Ended,
    attempts: usize,
    monitors: usize,
    /// Every attempt carried the same ClientToken.
    one_token: bool,
}

async fn single(implementation: &Implementation, case: Case) -> Result<Single> {
    let double = ConnectDouble::start(Scenario::open()).await?;
    case.arrange(&double);
    let mut api = RuntimeApi::start().await?;
    let log = log_dir().join(format!("{}-{}.log", implementation.short(), case.slug()));
    let process = implementation.launch(&double, &log).spawn(&api)?;
    if let Err(e) = api.next_poll(INIT_TIMEOUT).await {
        process.finish();
        return Err(format!(
            "{} did not start ({e}); see {}",
            implementation.name(),
            log.with_extension("stderr").display()
        )
        .into());
    }
    let (ended, _) = invoke(
        &mut api,
        &format!("single-{}", case.slug()),
        event(SAMPLE_CONTACT),
        false,
    )
    .await;
    process.finish();
    let requests = double.requests_for(MONITOR_CONTACT);
    let tokens: HashSet<String> = requests.iter().map(|r| r.json()["ClientToken"].to_string()).collect();
    let monitors = double.state().started();
    Ok(Single {
        ended,
        attempts: requests.len(),
        monitors,
        one_token: tokens.len() <= 1,
    })
}

// ---------------------------------------------------------------------------------------------
// Part 2: flows beside another client.

/// One execution environment: a process under its own Runtime API.
struct Environment {
    api: RuntimeApi,
    process: Process,
    /// Whether it has answered an invocation yet (its first one waits for its init).
    warm: bool,
}

#[derive(Debug, Clone)]
struct FlowInvocation {
    contact: String,
    /// When it was dispatched, from the start of the load.
    at: Duration,
    ended: Ended,
    /// Dispatched → answer: the caller's wait, a cold start included.
    waited: Duration,
    cold: bool,
}

struct Flows {
    invocations: Vec<FlowInvocation>,
    /// MonitorContact attempts per contact.
    attempts: HashMap<String, usize>,
    /// This implementation's MonitorContact answers (the double's log).
    served: Vec<Served>,
    monitors: usize,
    contacts_monitored_twice: usize,
    processes: usize,
    /// When the load started (the first invocation).
    t0: Instant,
    /// The other client's running counts: (when, admitted so far, throttled so far).
    other: Vec<(Instant, u64, u64)>,
    /// The other client's requests admitted and throttled during the load.
    other_during: (u64, u64),
    /// This implementation's MonitorContact attempts, in the order the double answered them.
    log: Vec<Attempt>,
    /// The other client's requests: when, and whether admitted.
    other_log: Vec<(Instant, bool)>,
}

/// One MonitorContact attempt as the double answered it.
#[derive(Debug, Clone)]
struct Attempt {
    contact: String,
    at: Instant,
    status: u16,
}

impl Flows {
    fn started(&self) -> usize {
        self.invocations.iter().filter(|i| i.ended.label == "STARTED").count()
    }

    fn sorted_times(&self) -> Vec<Duration> {
        let mut times: Vec<Duration> = self.invocations.iter().map(|i| i.ended.took).collect();
        times.sort_unstable();
        times
    }

    fn errors(&self) -> BTreeMap<String, usize> {
        let mut errors = BTreeMap::new();
        for invocation in self.invocations.iter().filter(|i| i.ended.label != "STARTED") {
            *errors.entry(invocation.ended.label.clone()).or_insert(0) += 1;
        }
        errors
    }

    fn deadline_exceeded(&self) -> usize {
        self.errors()
            .get(ErrorKind::DeadlineExceeded.as_str())
            .copied()
            .unwrap_or(0)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// When each invocation of the flows is made, from the start of the load: invocation `n` at a random
/// moment of its own second (of `1 / rate`), drawn from the seed, the same for both implementations.
///
/// Not on the second itself: the quota's bucket refills continuously (a token every half second at
/// 2 requests/s), so invocations exactly one second apart meet it at the same point of its refill every
/// time; which point is set by whoever last took from a full bucket (a cold start's first attempt a few
/// milliseconds later than the warm ones was enough), and it decided the runs: first attempts arriving
/// 8 ms before a token lands lost every contested token, 55 ms after it won them (docs/performance.md).
/// Contact flows are not invoked on a clock.
fn moments(settings: &Settings, count: usize) -> Vec<Duration> {
    let mut rng = Rng(settings.seed ^ 0x0F10_3A75);
    (0..count)
        .map(|n| {
            let unit = (rng.next() >> 11) as f64 / (1u64 << 53) as f64;
            Duration::from_secs_f64((n as f64 + unit) / settings.rate)
        })
        .collect()
}

/// The other client's seed for the run's seed: distinct for every seed (its generator keeps only
/// odd states, so the seed's lowest bit is moved up).
fn other_seed(seed: u64) -> u64 {
    (seed ^ 0x07EC_011E) ^ ((seed & 1) << 40)
}

async fn flows(implementation: &Implementation, settings: &Settings, contacts: &[String]) -> Result<Flows> {
    let mut scenario = Scenario::open();
    scenario.quotas = Some(Quotas::every_api(settings.quota.0, settings.quota.1));
    let double = Arc::new(ConnectDouble::start(scenario).await?);
    let other: Arc<OtherClient> =
        Arc::new(double.other_client(MONITOR_CONTACT, settings.other_rate, other_seed(settings.seed)));
    let moments = moments(settings, contacts.len());
    let t0 = Instant::now() + settings.warm_up;
    let end = t0 + Duration::from_secs_f64(contacts.len() as f64 / settings.rate);
    let samples: Arc<Mutex<Vec<(Instant, u64, u64)>>> = Arc::default();
    // Aborted below, once every invocation has ended.
    let sampler = {
        let (samples, other) = (Arc::clone(&samples), Arc::clone(&other));
        tokio::spawn(async move {
            loop {
                let (admitted, throttled) = other.counts();
                lock(&samples).push((Instant::now(), admitted, throttled));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };

    let idle: Arc<Mutex<Vec<Environment>>> = Arc::default();
    let records: Arc<Mutex<Vec<FlowInvocation>>> = Arc::default();
    let mut processes = 0usize;
    let mut tasks = Vec::new();
    for (n, contact) in contacts.iter().enumerate() {
        tokio::time::sleep_until((t0 + moments[n]).into()).await;
        let dispatched = Instant::now();
        let at = dispatched.saturating_duration_since(t0);
        // An idle environment, a new one while under the cap, or the first to come free.
        let environment = loop {
            if let Some(environment) = lock(&idle).pop() {
                break Some(environment);
            }
            if processes < settings.processes {
                processes += 1;
                let api = RuntimeApi::start().await?;
                let log = log_dir().join(format!("{}-flows-{processes:02}.log", implementation.short()));
                let process = implementation.launch(&double, &log).spawn(&api)?;
                break Some(Environment {
                    api,
                    process,
                    warm: false,
                });
            }
            if dispatched.elapsed() > DEADLINE + GRACE + INIT_TIMEOUT {
                break None;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        let Some(mut environment) = environment else {
            return Err(format!("{}: no environment came free for invocation {n}", implementation.name()).into());
        };
        let (idle, records, contact) = (Arc::clone(&idle), Arc::clone(&records), contact.clone());
        tasks.push(tokio::spawn(async move {
            let cold = !environment.warm;
            let request_id = format!("flow-{n:04}");
            let (ended, alive) = invoke(&mut environment.api, &request_id, event(&contact), cold).await;
            let waited = dispatched.elapsed();
            lock(&records).push(FlowInvocation {
                contact,
                at,
                ended,
                waited,
                cold,
            });
            if alive {
                environment.warm = true;
                lock(&idle).push(environment);
            } else {
                environment.process.finish();
            }
        }));
    }
    for task in tasks {
        let within = DEADLINE + GRACE + INIT_TIMEOUT + Duration::from_secs(5);
        match tokio::time::timeout(within, task).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(format!("an invocation task failed: {e}").into()),
            Err(_) => return Err("an invocation task did not end in time".into()),
        }
    }
    // One more sample after the last answer, then the other client stops with the double.
    tokio::time::sleep(Duration::from_millis(150)).await;
    sampler.abort();
    let other_log = other.log();
    drop(other);
    for environment in lock(&idle).drain(..) {
        environment.process.finish();
    }

    let mut invocations = lock(&records).clone();
    invocations.sort_by_key(|i| i.at);
    let log = attempt_log(&double);
    let mut attempts: HashMap<String, usize> = HashMap::new();
    for attempt in &log {
        *attempts.entry(attempt.contact.clone()).or_insert(0) += 1;
    }
    let monitors = double.monitors();
    let mut per_contact: HashMap<&str, usize> = HashMap::new();
    for monitor in monitors.iter().filter(|m| m.by_api) {
        *per_contact.entry(monitor.contact.as_str()).or_insert(0) += 1;
    }
    let other = lock(&samples).clone();
    let count_at = |at: Instant| {
        other
            .iter()
            .rev()
            .find(|(t, _, _)| *t <= at)
            .map(|(_, a, t)| (*a, *t))
            .unwrap_or((0, 0))
    };
    let (start, stop) = (count_at(t0), count_at(end));
    Ok(Flows {
        invocations,
        attempts,
        served: double
            .served()
            .into_iter()
            .filter(|s| s.operation == Some(MONITOR_CONTACT))
            .collect(),
        monitors: monitors.iter().filter(|m| m.by_api).count(),
        contacts_monitored_twice: per_contact.values().filter(|n| **n > 1).count(),
        processes,
        t0,
        other_during: (stop.0.saturating_sub(start.0), stop.1.saturating_sub(start.1)),
        other,
        log,
        other_log,
    })
}

/// Every MonitorContact attempt the double answered, in order: its contact, when, and the status.
fn attempt_log(double: &ConnectDouble) -> Vec<Attempt> {
    let state = double.state();
    state
        .requests
        .iter()
        .zip(&state.served)
        .filter(|(_, served)| served.operation == Some(MONITOR_CONTACT))
        .map(|(request, served)| Attempt {
            contact: request.json()["ContactId"].as_str().unwrap_or_default().to_owned(),
            at: served.at,
            status: served.status,
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Reporting.

fn percentile(sorted: &[Duration], p: f64) -> Option<Duration> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted.get(rank.min(sorted.len() - 1)).copied()
}

/// Milliseconds under a second, seconds with two decimals from there.
fn secs(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}

fn single_cells(single: Option<&Measured<Single>>) -> [String; 4] {
    match single {
        None => ["not run".into(), "–".into(), "–".into(), "–".into()],
        Some(Err(e)) => [format!("failed: {e}"), "–".into(), "–".into(), "–".into()],
        Some(Ok(s)) => [
            if s.one_token {
                format!("`{}`", s.ended.label)
            } else {
                format!("`{}` (tokens differ)", s.ended.label)
            },
            secs(s.ended.took),
            s.attempts.to_string(),
            s.monitors.to_string(),
        ],
    }
}

fn print_singles(columns: &[(&str, Singles)]) {
    println!("\n### Single cases (fresh double, cold start, one contact-flow invocation, 8 s deadline)\n");
    let mut head = String::from("| case |");
    let mut rule = String::from("| --- |");
    for (name, _) in columns {
        let _ = write!(head, " {name}: answer | time to answer | attempts | monitors |");
        rule.push_str(" --- | --- | --- | --- |");
    }
    println!("{head}\n{rule}");
    for case in Case::ALL {
        let mut row = format!("| {} |", case.title());
        for (_, results) in columns {
            let cells = single_cells(results.iter().find(|(c, _)| *c == case).map(|(_, r)| r));
            for cell in cells {
                let _ = write!(row, " {cell} |");
            }
        }
        println!("{row}");
    }
}

fn flow_rows(flows: &Flows) -> Rows {
    let n = flows.invocations.len();
    let started = flows.started();
    let times = flows.sorted_times();
    let p = |q: f64| percentile(&times, q).map(secs).unwrap_or_else(|| "–".into());
    let errors = flows.errors();
    let other_errors: Vec<String> = errors
        .iter()
        .filter(|(k, _)| k.as_str() != ErrorKind::DeadlineExceeded.as_str())
        .map(|(k, v)| format!("{v} `{k}`"))
        .collect();
    let attempts: Vec<usize> = flows
        .invocations
        .iter()
        .map(|i| flows.attempts.get(&i.contact).copied().unwrap_or(0))
        .collect();
    let mean_attempts = attempts.iter().sum::<usize>() as f64 / n.max(1) as f64;
    let mut histogram: BTreeMap<usize, usize> = BTreeMap::new();
    for a in &attempts {
        *histogram.entry(*a).or_insert(0) += 1;
    }
    let histogram: Vec<String> = histogram.iter().map(|(a, c)| format!("{a}: {c}")).collect();
    let throttled = flows.served.iter().filter(|s| s.throttled()).count();
    let (first_throttled, firsts) = first_attempts_throttled(flows);
    let cold: Vec<&FlowInvocation> = flows.invocations.iter().filter(|i| i.cold).collect();
    let cold_wait = cold.iter().map(|i| i.waited).max();
    vec![
        ("invocations".into(), n.to_string()),
        (
            "STARTED (goal ≥ 99 %)".into(),
            format!("{started} ({:.1} %)", 100.0 * started as f64 / n.max(1) as f64),
        ),
        (
            "time to answer p50 / p95 / max (goal p95 ≤ 2 s)".into(),
            format!("{} / {} / {}", p(50.0), p(95.0), p(100.0)),
        ),
        (
            "`DeadlineExceeded` (goal 0)".into(),
            flows.deadline_exceeded().to_string(),
        ),
        (
            "other errors".into(),
            if other_errors.is_empty() {
                "0".into()
            } else {
                other_errors.join(", ")
            },
        ),
        (
            "MonitorContact attempts per invocation: mean (count by attempts)".into(),
            format!("{mean_attempts:.2} ({})", histogram.join(", ")),
        ),
        (
            "its attempts throttled".into(),
            format!("{throttled} of {}", flows.served.len()),
        ),
        (
            "first attempts throttled".into(),
            format!("{first_throttled} of {firsts}"),
        ),
        (
            "monitors started (contacts monitored twice)".into(),
            format!("{} ({})", flows.monitors, flows.contacts_monitored_twice),
        ),
        (
            "processes used (invocations that waited for a cold start, their longest wait)".into(),
            format!(
                "{} ({}, {})",
                flows.processes,
                cold.len(),
                cold_wait.map(secs).unwrap_or_else(|| "–".into())
            ),
        ),
        (
            "the other client's MonitorContact requests: admitted / throttled".into(),
            format!("{} / {}", flows.other_during.0, flows.other_during.1),
        ),
    ]
}

fn print_flows(settings: &Settings, columns: &[(&str, Option<&Measured<Flows>>)]) {
    println!(
        "\n### Flows: {} invocation/s for {} s beside another client taking {} req/s of MonitorContact's quota ({} req/s, burst {}, every API)\n",
        settings.rate, settings.seconds, settings.other_rate, settings.quota.0, settings.quota.1
    );
    let mut head = String::from("| |");
    let mut rule = String::from("| --- |");
    for (name, _) in columns {
        let _ = write!(head, " {name} |");
        rule.push_str(" --- |");
    }
    println!("{head}\n{rule}");
    let rows: Vec<Option<Measured<Rows>>> = columns
        .iter()
        .map(|(_, f)| f.map(|f| f.as_ref().map(flow_rows).map_err(Clone::clone)))
        .collect();
    let Some(titles) = rows.iter().flatten().flatten().next().cloned() else {
        println!("| (no flows measured) |");
        return;
    };
    for (i, (title, _)) in titles.iter().enumerate() {
        let mut row = format!("| {title} |");
        for column in &rows {
            let cell = match column {
                None => "not run".to_owned(),
                Some(Err(e)) => format!("failed: {e}"),
                Some(Ok(r)) => r.get(i).map(|(_, v)| v.clone()).unwrap_or_default(),
            };
            let _ = write!(row, " {cell} |");
        }
        println!("{row}");
    }
}

/// (first attempts throttled, first attempts): each contact's first MonitorContact attempt.
fn first_attempts_throttled(flows: &Flows) -> (usize, usize) {
    let mut seen = HashSet::new();
    let firsts: Vec<&Attempt> = flows.log.iter().filter(|a| seen.insert(a.contact.as_str())).collect();
    (firsts.iter().filter(|a| a.status == 429).count(), firsts.len())
}

/// Writes every MonitorContact request of the run, this implementation's and the other client's, in
/// time order, as tab-separated lines: ms since the load started, who (`flow-N` or `other`), the
/// attempt (of the flow's contact), ms since that invocation was dispatched, the status (429:
/// throttled), and the quota's tokens just before it, replayed from these requests (a token bucket of
/// `quota`, full at the first request).
fn write_timeline(flows: &Flows, quota: (f64, f64), path: &Path) -> std::io::Result<()> {
    let index: HashMap<&str, (usize, Duration)> = flows
        .invocations
        .iter()
        .enumerate()
        .map(|(n, i)| (i.contact.as_str(), (n, i.at)))
        .collect();
    let mut rows: Vec<(Instant, String, String, String, u16)> = Vec::new();
    let mut tries: HashMap<&str, usize> = HashMap::new();
    for attempt in &flows.log {
        let Some((n, at)) = index.get(attempt.contact.as_str()) else {
            continue;
        };
        let k = tries.entry(attempt.contact.as_str()).or_insert(0);
        *k += 1;
        let since = attempt.at.saturating_duration_since(flows.t0 + *at);
        let since = format!("{:.1}", since.as_secs_f64() * 1000.0);
        rows.push((attempt.at, format!("flow-{n}"), k.to_string(), since, attempt.status));
    }
    for (at, admitted) in &flows.other_log {
        rows.push((
            *at,
            "other".into(),
            "-".into(),
            "-".into(),
            if *admitted { 200 } else { 429 },
        ));
    }
    rows.sort_by_key(|r| r.0);
    let mut text = String::from("t_ms\twho\tattempt\tsince_invocation_ms\tstatus\ttokens_before\n");
    let (mut tokens, mut last) = (quota.1, rows.first().map(|r| r.0));
    for (at, who, attempt, since, status) in &rows {
        let elapsed = last
            .map(|l| at.saturating_duration_since(l).as_secs_f64())
            .unwrap_or(0.0);
        tokens = (tokens + elapsed * quota.0).min(quota.1);
        last = Some(*at);
        let t = if *at >= flows.t0 {
            at.duration_since(flows.t0).as_secs_f64()
        } else {
            -flows.t0.duration_since(*at).as_secs_f64()
        };
        let _ = writeln!(
            text,
            "{:.1}\t{who}\t{attempt}\t{since}\t{status}\t{tokens:.3}",
            t * 1000.0
        );
        if *status != 429 {
            tokens -= 1.0;
        }
    }
    std::fs::write(path, text)
}

/// PASS/FAIL lines for this function's goals; whether every goal was met.
fn verdict(singles: &[(Case, Measured<Single>)], flows: std::result::Result<&Flows, &str>) -> bool {
    let mut passed = true;
    let mut line = |ok: bool, what: String| {
        println!("{} {what}", if ok { "PASS" } else { "FAIL" });
        passed &= ok;
    };
    println!("\n### This function's goals (issue 16)\n");
    for (case, result) in singles {
        match result {
            Ok(single) => {
                let (goal, ok) = case.goal(single);
                line(
                    ok && single.one_token,
                    format!(
                        "{}: {goal}, one ClientToken (measured: `{}` after {}, {} attempts, {} monitors)",
                        case.title(),
                        single.ended.label,
                        secs(single.ended.took),
                        single.attempts,
                        single.monitors
                    ),
                );
            }
            Err(e) => line(false, format!("{}: not measured ({e})", case.title())),
        }
    }
    match flows {
        Ok(flows) => {
            let n = flows.invocations.len();
            let started = flows.started();
            let times = flows.sorted_times();
            let p95 = percentile(&times, 95.0).unwrap_or(Duration::MAX);
            line(
                n > 0 && started as f64 >= FLOW_STARTED_SHARE * n as f64,
                format!(
                    "flows: STARTED ≥ 99 % (measured: {started} of {n}, {:.1} %)",
                    100.0 * started as f64 / n.max(1) as f64
                ),
            );
            line(
                p95 <= FLOW_P95,
                format!("flows: p95 time to answer ≤ 2 s (measured: {})", secs(p95)),
            );
            line(
                flows.deadline_exceeded() == 0,
                format!("flows: no DeadlineExceeded (measured: {})", flows.deadline_exceeded()),
            );
        }
        Err(e) => line(false, format!("flows: not measured ({e})")),
    }
    passed
}

// ---------------------------------------------------------------------------------------------
// The picture: time to answer over the run, both implementations, with the throttles; hand-written SVG.

/// Per-second counts from the start of the load: the other client's throttled requests (from its
/// running counts) and this implementation's throttled attempts.
fn throttles_per_second(flows: &Flows, seconds: usize) -> (Vec<f64>, Vec<f64>) {
    let second = |at: Instant| {
        at.checked_duration_since(flows.t0)
            .map(|d| d.as_secs() as usize)
            .filter(|s| *s < seconds)
    };
    let mut other = vec![0.0; seconds];
    for pair in flows.other.windows(2) {
        let (before, after) = (&pair[0], &pair[1]);
        if let Some(slot) = second(after.0).and_then(|s| other.get_mut(s)) {
            *slot += after.2.saturating_sub(before.2) as f64;
        }
    }
    let mut own = vec![0.0; seconds];
    for served in flows.served.iter().filter(|s| s.throttled()) {
        if let Some(slot) = second(served.at).and_then(|s| own.get_mut(s)) {
            *slot += 1.0;
        }
    }
    (other, own)
}

fn draw(settings: &Settings, panels: &[(&str, &Flows)]) -> String {
    let seconds = settings.seconds as usize + 1;
    let (width, panel, strip, margin_left, margin_top) = (1000.0, 200.0, 60.0, 90.0, 44.0);
    let plot_width = width - margin_left - 24.0;
    let block = panel + strip + 70.0;
    let height = margin_top + panel_count(panels) as f64 * block + 30.0;
    let longest = panels
        .iter()
        .flat_map(|(_, f)| f.invocations.iter().map(|i| i.ended.took.as_secs_f64()))
        .fold(3.0, f64::max);
    let y_max = nice_ceiling(longest * 1.1).min(10.0);
    let x = |second: f64| margin_left + plot_width * second / seconds as f64;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        svg,
        r#"<text x="{margin_left}" y="22" font-size="15" font-weight="bold">Time to answer, contact flows at {}/s beside another client taking {} of MonitorContact's {} req/s (burst {})</text>"#,
        settings.rate, settings.other_rate, settings.quota.0, settings.quota.1
    );
    for (n, (name, flows)) in panels.iter().enumerate() {
        let top = margin_top + n as f64 * block + 20.0;
        let y = |value: f64| top + panel - panel * value.min(y_max) / y_max;
        let times = flows.sorted_times();
        let p95 = percentile(&times, 95.0).map(secs).unwrap_or_else(|| "–".into());
        let _ = writeln!(
            svg,
            r#"<text x="{margin_left}" y="{}" font-size="13" font-weight="bold">{name}: {} of {} STARTED, p95 {p95}</text>"#,
            top - 8.0,
            flows.started(),
            flows.invocations.len()
        );
        let _ = writeln!(
            svg,
            r##"<text x="{}" y="{}" text-anchor="end" fill="#555">time to answer (s), by when the invocation was made (s since the flows started)</text>"##,
            margin_left + plot_width,
            top - 8.0
        );
        for tick in 0..=5 {
            let value = y_max * f64::from(tick) / 5.0;
            let _ = writeln!(
                svg,
                r##"<line x1="{margin_left}" x2="{}" y1="{yv}" y2="{yv}" stroke="#ddd"/><text x="{}" y="{}" text-anchor="end">{value}</text>"##,
                margin_left + plot_width,
                margin_left - 6.0,
                y(value) + 4.0,
                yv = y(value)
            );
        }
        let _ = writeln!(
            svg,
            r##"<line x1="{margin_left}" x2="{}" y1="{g}" y2="{g}" stroke="#000" stroke-dasharray="6,4"/><text x="{}" y="{}" text-anchor="end">goal: p95 ≤ 2 s</text>"##,
            margin_left + plot_width,
            margin_left + plot_width - 4.0,
            y(FLOW_P95.as_secs_f64()) - 4.0,
            g = y(FLOW_P95.as_secs_f64())
        );
        let _ = writeln!(
            svg,
            r##"<line x1="{margin_left}" x2="{margin_left}" y1="{top}" y2="{}" stroke="#333"/>"##,
            top + panel + strip + 10.0
        );
        for invocation in &flows.invocations {
            let (cx, cy) = (x(invocation.at.as_secs_f64()), y(invocation.ended.took.as_secs_f64()));
            if invocation.ended.label == "STARTED" {
                let _ = writeln!(svg, r##"<circle cx="{cx:.1}" cy="{cy:.1}" r="4" fill="#2ca02c"/>"##);
            } else {
                let _ = writeln!(
                    svg,
                    r##"<path d="M{} {} l10 10 m0 -10 l-10 10" stroke="#d62728" stroke-width="2.5"/><title>{}</title>"##,
                    cx - 5.0,
                    cy - 5.0,
                    invocation.ended.label
                );
            }
        }
        // The strip below: throttled requests per second, the other client's and this one's.
        let strip_top = top + panel + 10.0;
        let (other, own) = throttles_per_second(flows, seconds);
        let strip_max = other.iter().chain(own.iter()).fold(2.0, |a: f64, b| a.max(*b));
        let bar = (x(1.0) - x(0.0)) / 2.0;
        for (second, (o, m)) in other.iter().zip(&own).enumerate() {
            for (k, (count, colour)) in [(*o, "#7f7f7f"), (*m, "#d62728")].iter().enumerate() {
                if *count > 0.0 {
                    let h = strip * count / strip_max;
                    let _ = writeln!(
                        svg,
                        r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{h:.1}" fill="{colour}" fill-opacity="0.6"/>"#,
                        x(second as f64) + k as f64 * bar,
                        strip_top + strip - h,
                        bar.max(1.0)
                    );
                }
            }
        }
        let _ = writeln!(
            svg,
            r##"<line x1="{margin_left}" x2="{}" y1="{b}" y2="{b}" stroke="#333"/><text x="{}" y="{}" text-anchor="end">throttled/s</text><text x="{}" y="{}" text-anchor="end">{}</text>"##,
            margin_left + plot_width,
            margin_left - 6.0,
            strip_top + strip,
            margin_left - 6.0,
            strip_top + 10.0,
            strip_max,
            b = strip_top + strip
        );
        let step = if seconds > 120 { 30 } else { 10 };
        for second in (0..seconds).step_by(step) {
            let _ = writeln!(
                svg,
                r#"<text x="{:.1}" y="{}" text-anchor="middle">{second} s</text>"#,
                x(second as f64),
                strip_top + strip + 16.0
            );
        }
    }
    let legend_y = height - 12.0;
    let items = [
        (r##"<circle cx="{cx}" cy="{cy}" r="4" fill="#2ca02c"/>"##, "STARTED"),
        (
            r##"<path d="M{x0} {y0} l10 10 m0 -10 l-10 10" stroke="#d62728" stroke-width="2.5"/>"##,
            "an error (any errorType)",
        ),
        (
            r##"<rect x="{x0}" y="{y0}" width="10" height="10" fill="#7f7f7f" fill-opacity="0.6"/>"##,
            "the other client's requests throttled",
        ),
        (
            r##"<rect x="{x0}" y="{y0}" width="10" height="10" fill="#d62728" fill-opacity="0.6"/>"##,
            "this implementation's attempts throttled",
        ),
    ];
    let mut lx = margin_left;
    for (shape, text) in items {
        let shape = shape
            .replace("{cx}", &format!("{}", lx + 5.0))
            .replace("{cy}", &format!("{}", legend_y - 4.0))
            .replace("{x0}", &format!("{lx}"))
            .replace("{y0}", &format!("{}", legend_y - 9.0));
        let _ = writeln!(svg, r#"{shape}<text x="{}" y="{legend_y}">{text}</text>"#, lx + 16.0);
        lx += 16.0 + 7.0 * text.chars().count() as f64 + 24.0;
    }
    svg.push_str("</svg>\n");
    svg
}

fn panel_count(panels: &[(&str, &Flows)]) -> usize {
    panels.len().max(1)
}

// ---------------------------------------------------------------------------------------------
// Running it.

fn main() -> Result<()> {
    // `cargo bench` passes --bench; `cargo test --bench faults` does not: then only the self-checks.
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
    let begun = Instant::now();
    std::fs::create_dir_all(log_dir())?;
    let mut implementations = vec![Implementation::Function(binary)];
    let boto3_note = match find_boto3() {
        Ok((python_dir, version)) => {
            implementations.push(Implementation::Boto3 { python_dir });
            format!(
                "boto3 {version}, `Config(retries={{'mode': 'standard', 'max_attempts': 3}})`: botocore counts \
                 `max_attempts` as retries after the first attempt, so up to 4 attempts"
            )
        }
        Err(why) => {
            eprintln!("faults: the boto3 comparison is not run: {why}");
            format!("boto3: not run ({why})")
        }
    };
    let mut rng = Rng(settings.seed);
    let contacts: Vec<String> = (0..(settings.seconds as f64 * settings.rate).round() as usize)
        .map(|_| rng.uuid())
        .collect();
    eprintln!(
        "faults: 4 single cases, then {} flows over {} s, per implementation ({}); seed {}",
        contacts.len(),
        settings.seconds,
        boto3_note,
        settings.seed
    );

    let mut singles: Vec<(&str, Singles)> = Vec::new();
    for implementation in &implementations {
        let mut results = Vec::new();
        for case in Case::ALL {
            let result = single(implementation, case).await.map_err(|e| e.to_string());
            match &result {
                Ok(s) => eprintln!(
                    "faults: {}: {}: {} after {}, {} attempts",
                    implementation.name(),
                    case.title(),
                    s.ended.label,
                    secs(s.ended.took),
                    s.attempts
                ),
                Err(e) => eprintln!("faults: {}: {}: {e}", implementation.name(), case.title()),
            }
            results.push((case, result));
        }
        singles.push((implementation.name(), results));
    }

    let mut measured: Vec<(&str, Measured<Flows>)> = Vec::new();
    for implementation in &implementations {
        eprintln!(
            "faults: {}: flows for {} s (after a {} s warm-up of the other client)",
            implementation.name(),
            settings.seconds,
            settings.warm_up.as_secs()
        );
        let result = flows(implementation, &settings, &contacts)
            .await
            .map_err(|e| e.to_string());
        match &result {
            Ok(flows) => {
                let path = log_dir().join(format!("{}-flows-timeline.tsv", implementation.short()));
                if let Err(e) = write_timeline(flows, settings.quota, &path) {
                    eprintln!("faults: cannot write {}: {e}", path.display());
                }
            }
            Err(e) => eprintln!("faults: {}: flows failed: {e}", implementation.name()),
        }
        measured.push((implementation.name(), result));
    }

    println!(
        "\n## Faults: this function (flow function's configuration) beside a boto3 function (standard retries, 3 attempts)"
    );
    println!("\n{boto3_note}; seed {}.", settings.seed);
    if implementations.len() == 1 {
        singles.push(("boto3", Vec::new()));
    }
    print_singles(&singles);
    let mut columns: Vec<(&str, Option<&Measured<Flows>>)> = measured.iter().map(|(n, f)| (*n, Some(f))).collect();
    if implementations.len() == 1 {
        columns.push(("boto3", None));
    }
    print_flows(&settings, &columns);

    let panels: Vec<(&str, &Flows)> = measured
        .iter()
        .filter_map(|(n, f)| f.as_ref().ok().map(|f| (*n, f)))
        .collect();
    if !panels.is_empty() {
        let svg = draw(&settings, &panels);
        if let Some(dir) = settings.svg.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&settings.svg, svg)?;
        println!("\npicture: {}", settings.svg.display());
    }

    let own_singles = singles.first().map(|(_, s)| s.as_slice()).unwrap_or_default();
    let own_flows = match measured.first() {
        Some((_, Ok(flows))) => Ok(flows),
        Some((_, Err(e))) => Err(e.as_str()),
        None => Err("not run"),
    };
    let passed = verdict(own_singles, own_flows);
    println!("(the goals are this function's; boto3 is measured for comparison)");
    println!(
        "\nmeasured in {:.0} s (after the release build); the processes' output is in {}",
        begun.elapsed().as_secs_f64(),
        log_dir().display()
    );
    if !passed {
        return Err("this function missed a goal of issue 16 (see above)".into());
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Self-checks (`cargo test --bench faults`).

fn self_checks() -> Result<()> {
    let check = |ok: bool, what: &str| -> Result<()> {
        if ok {
            println!("ok: {what}");
            Ok(())
        } else {
            Err(format!("self-check failed: {what}").into())
        }
    };
    let draw_ids = |seed| {
        let mut rng = Rng(seed);
        (0..200).map(|_| rng.uuid()).collect::<Vec<String>>()
    };
    let ids = draw_ids(16);
    check(
        ids == draw_ids(16) && ids != draw_ids(17),
        "the seed decides the contacts",
    )?;
    check(
        ids.iter().collect::<HashSet<_>>().len() == ids.len(),
        "each invocation a distinct contact",
    )?;
    let settings = Settings::from_env();
    let at = moments(&settings, 200);
    check(
        at.iter()
            .enumerate()
            .all(|(n, t)| (n as f64..n as f64 + 1.0).contains(&(t.as_secs_f64() * settings.rate)))
            && at == moments(&settings, 200)
            && at.windows(2).any(|w| (w[1] - w[0]).as_millis() != 1000),
        "one invocation in each second, at a seeded moment of it",
    )?;
    check(
        other_seed(16) | 1 != other_seed(17) | 1 && other_seed(16) == 16 ^ 0x07EC_011E,
        "the other client's arrivals differ for every seed (16 as before)",
    )?;
    check(
        ids.iter().all(|id| {
            let groups: Vec<usize> = id.split('-').map(str::len).collect();
            groups == [8, 4, 4, 4, 12]
                && id
                    .bytes()
                    .all(|b| b == b'-' || b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
                && id.as_bytes()[14] == b'4'
                && matches!(id.as_bytes()[19], b'8' | b'9' | b'a' | b'b')
        }),
        "contact IDs are version-4 UUIDs the function accepts",
    )?;
    let sample: Value = serde_json::from_str(SAMPLE)?;
    let flow: Value = serde_json::from_str(&event(&ids[0]))?;
    let data = &flow["Details"]["ContactData"];
    check(
        ["ContactId", "InitialContactId", "PreviousContactId"]
            .iter()
            .all(|k| data[*k] == ids[0].as_str() && sample["Details"]["ContactData"][*k] == SAMPLE_CONTACT)
            && data["InstanceARN"]
                .as_str()
                .is_some_and(|arn| arn.ends_with(&format!("instance/{INSTANCE}")))
            && flow["Details"]["Parameters"]["SupervisorUserId"] == SUPERVISOR
            && !event(&ids[0]).contains(SAMPLE_CONTACT),
        "a flow event is the sample about its own contact, for the default supervisor",
    )?;
    let now = Instant::now();
    let answer = |kind: Kind, body: &str| Answer {
        request_id: "r".into(),
        kind,
        body: body.into(),
        error_header: None,
        handed: now,
        answered: now,
    };
    check(
        label(&answer(Kind::Response, r#"{"Status":"STARTED","ContactArn":"a"}"#)) == "STARTED"
            && label(&answer(Kind::Response, r#"{"status":"STARTED","ContactArn":"a"}"#)) == "STARTED"
            && label(&answer(
                Kind::Response,
                r#"{"Status":"SKIPPED","Reason":"CONTACT_ENDED"}"#,
            )) == "SKIPPED CONTACT_ENDED"
            && label(&answer(Kind::Error, r#"{"errorType":"Throttled","errorMessage":"m"}"#)) == "Throttled"
            && label(&answer(
                Kind::Error,
                r#"{"errorType":"ThrottlingException","errorMessage":"m"}"#,
            )) == "ThrottlingException"
            && label(&answer(Kind::Response, "{}")).starts_with("unreadable"),
        "both implementations' answers are read alike",
    )?;
    let ms = Duration::from_millis;
    let sorted: Vec<Duration> = (1..=20).map(ms).collect();
    check(
        percentile(&sorted, 50.0) == Some(ms(11))
            && percentile(&sorted, 95.0) == Some(ms(19))
            && percentile(&sorted, 100.0) == Some(ms(20))
            && percentile(&[], 95.0).is_none(),
        "percentiles",
    )?;
    let single = |label: &str, took: u64, attempts: usize, monitors: usize| Single {
        ended: Ended {
            label: label.into(),
            took: ms(took),
        },
        attempts,
        monitors,
        one_token: true,
    };
    check(
        Case::ThrottledOnce.goal(&single("STARTED", 400, 2, 1)).1
            && !Case::ThrottledOnce.goal(&single("STARTED", 1_200, 2, 1)).1
            && Case::ThrottledAlways.goal(&single("Throttled", 2_400, 4, 0)).1
            && !Case::ThrottledAlways.goal(&single("DeadlineExceeded", 2_400, 4, 0)).1
            && !Case::ThrottledAlways.goal(&single("Throttled", 2_400, 2, 0)).1
            && Case::Slow.goal(&single("STARTED", 2_510, 1, 1)).1
            && !Case::Slow.goal(&single("STARTED", 2_510, 2, 1)).1,
        "the goals of the single cases",
    )?;
    // A synthetic run: the throttle counts per second and the picture.
    let t0 = now;
    let flows = Flows {
        invocations: (0..5)
            .map(|n| FlowInvocation {
                contact: ids[n].clone(),
                at: Duration::from_secs(n as u64),
                ended: Ended {
                    label: if n == 3 {
                        "DeadlineExceeded".into()
                    } else {
                        "STARTED".into()
                    },
                    took: ms(100 * n as u64 + 50),
                },
                waited: ms(100),
                cold: n == 0,
            })
            .collect(),
        attempts: HashMap::new(),
        served: vec![Served {
            at: t0 + ms(2_500),
            operation: Some(MONITOR_CONTACT),
            status: 429,
            error_type: Some("ThrottlingException".into()),
        }],
        monitors: 4,
        contacts_monitored_twice: 0,
        processes: 1,
        t0,
        other: vec![
            (t0, 3, 1),
            (t0 + ms(1_100), 4, 1),
            (t0 + ms(1_900), 4, 3),
            (t0 + ms(4_200), 5, 4),
        ],
        other_during: (2, 3),
        log: Vec::new(),
        other_log: Vec::new(),
    };
    let (other, own) = throttles_per_second(&flows, 6);
    check(
        other == [0.0, 2.0, 0.0, 0.0, 1.0, 0.0] && own == [0.0, 0.0, 1.0, 0.0, 0.0, 0.0],
        "throttles per second",
    )?;
    let settings = Settings {
        seconds: 5,
        ..Settings::from_env()
    };
    let svg = draw(&settings, &[("this function", &flows), ("boto3", &flows)]);
    check(
        svg.starts_with("<svg") && svg.ends_with("</svg>\n") && !svg.contains("NaN") && !svg.contains("inf"),
        "the picture is one SVG document of finite numbers",
    )?;
    check(
        svg.matches("<circle").count() == 2 * 4 + 1 && svg.matches("<title>DeadlineExceeded</title>").count() == 2,
        "the picture has a mark per invocation (and its legend)",
    )?;
    let rows = flow_rows(&flows);
    check(
        rows.iter().any(|(k, v)| k.starts_with("STARTED") && v == "4 (80.0 %)")
            && rows.iter().any(|(k, v)| k.contains("DeadlineExceeded") && v == "1"),
        "the flows table counts",
    )?;
    // The boto3 function: executable as a Lambda custom runtime's bootstrap is, and its own self-test.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(BOTO3_SCRIPT)?.permissions().mode();
        check(mode & 0o111 != 0, "benches/boto3_function.py is executable")?;
    }
    match find_boto3() {
        Ok(_) => {
            run_bounded(
                Command::new("python3").args([BOTO3_SCRIPT, "--self-test"]),
                Duration::from_secs(30),
            )?;
            check(true, "boto3_function.py --self-test")?;
        }
        Err(why) => println!("skipped: boto3_function.py --self-test ({why})"),
    }
    println!("self-checks passed (run `cargo bench --bench faults` for the benchmark)");
    Ok(())
}

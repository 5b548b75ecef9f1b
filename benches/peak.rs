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

#[path = "../tests/support/connect_double.rs"]
mod connect_double;
#[path = "../tests/support/runtime_api.rs"]
mod runtime_api;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use connect_double::{
    ConnectDouble, ContactSpec, DESCRIBE_CONTACT, GET_CURRENT_USER_DATA, MONITOR_CONTACT, Monitor, Quotas, Scenario,
    Served, User,
};
use monitor_contact::SkipReason;
use runtime_api::{Capture, Invocation, Kind, Launch, Process, RuntimeApi, Wait};
use serde_json::{Value, json};
use strum::IntoEnumIterator;

type Error = Box<dyn std::error::Error + Send + Sync>;
type Result<T> = std::result::Result<T, Error>;

const SAMPLE: &str = include_str!("../events/eventbridge-connected-to-agent.json");
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
// A tiny deterministic PRNG (SplitMix64): the same seed gives the same load on every machine.

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn between(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * self.unit()
    }

    fn seconds(&mut self, low: f64, high: f64) -> Duration {
        Duration::from_secs_f64(self.between(low, high))
    }

    /// A version-4 UUID.
    fn uuid(&mut self) -> String {
        let (a, b) = (self.next(), self.next());
        format!(
            "{:08x}-{:04x}-4{:03x}-{:x}{:03x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            8 + (b >> 62),
            (b >> 48) & 0xfff,
            b & 0xffff_ffff_ffff
        )
    }
}

// ---------------------------------------------------------------------------------------------
// The load.

/// A contact connected to an agent, and the event EventBridge sends about it.
#[derive(Debug, Clone)]
struct ContactEvent {
    id: String,
    contact: String,
    /// From the start of the load.
    at: Duration,
    /// How long the contact lasts after the event.
    lifetime: Duration,
}

/// One delivery of an event (an event delivered twice has two).
#[derive(Debug, Clone)]
struct Delivery {
    event: usize,
    at: Duration,
    repeat: bool,
}

struct Load {
    events: Vec<ContactEvent>,
    /// In time order.
    deliveries: Vec<Delivery>,
    supervisors: Vec<String>,
    /// The center's state at the start: (contact, supervisor monitoring it, when the contact ends).
    initial: Vec<(String, String, Duration)>,
}

fn load(settings: &Settings) -> Load {
    let mut rng = Rng(settings.seed);
    let supervisors: Vec<String> = (0..settings.pool).map(|_| rng.uuid()).collect();
    let initial = supervisors
        .iter()
        .map(|user| {
            let ends = rng.seconds(1.0, settings.initial_monitors_end_within.as_secs_f64());
            (rng.uuid(), user.clone(), ends)
        })
        .collect();
    // Exactly rate × duration events, at uniform random times: a Poisson process of that rate,
    // conditioned on its count.
    let count = (settings.rate * settings.load.as_secs_f64()).round() as usize;
    let mut times: Vec<f64> = (0..count)
        .map(|_| rng.between(0.0, settings.load.as_secs_f64()))
        .collect();
    times.sort_by(f64::total_cmp);
    let mut events = Vec::with_capacity(count);
    let mut deliveries = Vec::with_capacity(count + count / 10);
    for (n, at) in times.into_iter().enumerate() {
        let lifetime = if rng.unit() < settings.short_share {
            rng.seconds(0.5, 4.0)
        } else {
            rng.seconds(20.0, 90.0)
        };
        let at = Duration::from_secs_f64(at);
        events.push(ContactEvent {
            id: rng.uuid(),
            contact: rng.uuid(),
            at,
            lifetime,
        });
        deliveries.push(Delivery {
            event: n,
            at,
            repeat: false,
        });
        if rng.unit() < settings.duplicate_share {
            deliveries.push(Delivery {
                event: n,
                at: at + rng.seconds(1.0, 5.0),
                repeat: true,
            });
        }
    }
    deliveries.sort_by_key(|d| d.at);
    Load {
        events,
        deliveries,
        supervisors,
        initial,
    }
}

/// The EventBridge event for `event`, emitted at `now`.
fn event_json(template: &Value, event: &ContactEvent, now: SystemTime) -> String {
    let mut doc = template.clone();
    let instance_arn = format!("arn:aws:connect:us-east-1:{ACCOUNT}:instance/{INSTANCE}");
    let at = |back: f64| iso8601(now - Duration::from_secs_f64(back), true);
    doc["id"] = json!(event.id);
    doc["time"] = json!(iso8601(now, false));
    doc["resources"] = json!([format!("{instance_arn}/contact/{}", event.contact)]);
    let detail = &mut doc["detail"];
    detail["contactId"] = json!(event.contact);
    detail["initialContactId"] = json!(event.contact);
    detail["instanceArn"] = json!(instance_arn);
    detail["initiationTimestamp"] = json!(at(88.0));
    detail["connectedToSystemTimestamp"] = json!(at(87.5));
    detail["queueInfo"]["enqueueTimestamp"] = json!(at(80.0));
    detail["agentInfo"]["connectedToAgentTimestamp"] = json!(at(0.0));
    doc.to_string()
}

/// `2026-11-22T10:15:30Z` (EventBridge's `time`) or with milliseconds (Connect's timestamps).
fn iso8601(t: SystemTime, millis: bool) -> String {
    let since = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, rest) = ((secs / 86_400) as i64, secs % 86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (h, m, s) = (rest / 3600, rest / 60 % 60, rest % 60);
    if millis {
        format!(
            "{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{:03}Z",
            since.subsec_millis()
        )
    } else {
        format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}Z")
    }
}

fn epoch_ms(t: SystemTime) -> u128 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

/// MD5 (RFC 1321), for the records' `md5OfBody`, as SQS sets it.
fn md5_hex(data: &[u8]) -> String {
    const S: [u32; 64] = [
        7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14,
        20, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6,
        10, 15, 21,
    ];
    let k: Vec<u32> = (0..64)
        .map(|i| ((i as f64 + 1.0).sin().abs() * 4_294_967_296.0) as u32)
        .collect();
    let mut message = data.to_vec();
    message.push(0x80);
    while message.len() % 64 != 56 {
        message.push(0);
    }
    message.extend_from_slice(&((data.len() as u64).wrapping_mul(8)).to_le_bytes());
    let mut h: [u32; 4] = [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476];
    for chunk in message.chunks(64) {
        let m: Vec<u32> = chunk
            .chunks(4)
            .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
            .collect();
        let [mut a, mut b, mut c, mut d] = h;
        for i in 0..64 {
            let (f, g) = match i / 16 {
                0 => ((b & c) | (!b & d), i),
                1 => ((d & b) | (!d & c), (5 * i + 1) % 16),
                2 => (b ^ c ^ d, (3 * i + 5) % 16),
                _ => (c ^ (b | !d), (7 * i) % 16),
            };
            let rotated = a
                .wrapping_add(f)
                .wrapping_add(k[i])
                .wrapping_add(m[g])
                .rotate_left(S[i]);
            a = d;
            d = c;
            c = b;
            b = b.wrapping_add(rotated);
        }
        for (word, add) in h.iter_mut().zip([a, b, c, d]) {
            *word = word.wrapping_add(add);
        }
    }
    h.iter()
        .flat_map(|w| w.to_le_bytes())
        .fold(String::new(), |mut out, byte| {
            let _ = write!(out, "{byte:02x}");
            out
        })
}

// ---------------------------------------------------------------------------------------------
// Execution environments: a real function process under its own Runtime API.

struct Environment {
    api: RuntimeApi,
    process: Process,
}

/// What an invocation came to.
enum Reply {
    Response(String),
    /// A function error: its `errorType`.
    Error(String),
    /// No answer by the deadline: Lambda stops the environment.
    TimedOut,
}

/// Starts execution environments of one function configuration, and keeps what they wrote.
struct Launcher {
    launch: Launch,
    started: AtomicUsize,
    /// The stdout of every environment that has stopped.
    outputs: Mutex<Vec<String>>,
}

impl Launcher {
    async fn start(&self) -> Result<Environment> {
        let mut api = RuntimeApi::start().await?;
        let process = self.launch.spawn(&api)?;
        self.started.fetch_add(1, Ordering::Relaxed);
        match api.next_poll(Duration::from_secs(30)).await {
            Ok(_) => Ok(Environment { api, process }),
            Err(e) => {
                let output = process.finish();
                Err(format!(
                    "a function process did not start ({e}): {}{}",
                    output.stdout, output.stderr
                )
                .into())
            }
        }
    }

    fn retire(&self, environment: Environment) {
        let output = environment.process.finish();
        if let Ok(mut outputs) = self.outputs.lock() {
            outputs.push(output.stdout);
        }
    }

    /// Invokes; an environment that timed out or broke is retired (`None`), as Lambda replaces it.
    async fn invoke(
        &self,
        mut environment: Environment,
        request_id: String,
        payload: String,
        timeout: Duration,
    ) -> (Reply, Option<Environment>) {
        let invocation = Invocation::new(request_id, payload).timeout(timeout);
        // Lambda stops an invocation at its deadline; the grace covers the Runtime API's own latency.
        match environment
            .api
            .invoke(invocation, timeout + Duration::from_secs(1))
            .await
        {
            Ok(answer) if answer.kind == Kind::Response => (Reply::Response(answer.body), Some(environment)),
            Ok(answer) => {
                let error_type = answer.error_type().unwrap_or_else(|| "Unhandled".to_owned());
                (Reply::Error(error_type), Some(environment))
            }
            Err(Wait::TimedOut) => {
                self.retire(environment);
                (Reply::TimedOut, None)
            }
            Err(other) => {
                eprintln!("peak: an environment broke: {other}");
                self.retire(environment);
                (Reply::Error("Runtime.ExitError".to_owned()), None)
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The SQS path: a standard queue and an event source mapping.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MessageState {
    Visible,
    InFlight,
    Deleted,
    DeadLettered,
}

#[derive(Debug, Clone)]
struct Message {
    id: String,
    body: String,
    md5: String,
    sent_ms: u128,
    first_receive_ms: Option<u128>,
    receives: u32,
    visible_at: Instant,
    state: MessageState,
    /// When it was deleted or dead-lettered.
    settled: Option<Instant>,
}

/// One receive of a message and what came of it.
#[derive(Debug, Clone)]
struct SqsAttempt {
    message: usize,
    receive_count: u32,
    /// Deleted after this attempt (the function did not report it).
    deleted: bool,
    /// The whole invocation failed (a function error or a timeout): its errorType.
    invocation_error: Option<String>,
}

#[derive(Default)]
struct Queue {
    messages: Vec<Message>,
    by_id: HashMap<String, usize>,
    attempts: Vec<SqsAttempt>,
    receipts: u64,
    invocations: usize,
    batch_sizes: Vec<usize>,
}

impl Queue {
    fn send(&mut self, body: String, id: String, now: Instant) {
        let index = self.messages.len();
        self.by_id.insert(id.clone(), index);
        self.messages.push(Message {
            id,
            md5: md5_hex(body.as_bytes()),
            body,
            sent_ms: epoch_ms(SystemTime::now()),
            first_receive_ms: None,
            receives: 0,
            visible_at: now,
            state: MessageState::Visible,
            settled: None,
        });
    }

    /// Receives up to `max` visible messages as SQS does: each receive counts, starts the
    /// visibility timeout and gets a new receipt handle; a message received `max_receive_count`
    /// times already moves to the dead-letter queue instead. Returns (message, record) pairs.
    fn receive(&mut self, max: usize, now: Instant, settings: &Settings) -> Vec<(usize, Value)> {
        let mut out = Vec::new();
        let now_ms = epoch_ms(SystemTime::now());
        for index in 0..self.messages.len() {
            if out.len() >= max {
                break;
            }
            let message = &mut self.messages[index];
            let visible = match message.state {
                MessageState::Visible => true,
                MessageState::InFlight => message.visible_at <= now,
                _ => false,
            };
            if !visible {
                continue;
            }
            if message.receives >= settings.max_receive_count {
                message.state = MessageState::DeadLettered;
                message.settled = Some(now);
                continue;
            }
            message.receives += 1;
            message.state = MessageState::InFlight;
            message.visible_at = now + settings.visibility_timeout;
            let first = *message.first_receive_ms.get_or_insert(now_ms);
            self.receipts += 1;
            let record = json!({
                "messageId": message.id,
                "receiptHandle": format!("AQEB{:016x}{}", self.receipts, &message.md5[..16]),
                "body": message.body,
                "attributes": {
                    "ApproximateReceiveCount": message.receives.to_string(),
                    "SentTimestamp": message.sent_ms.to_string(),
                    "SenderId": "AIDAEVENTBRIDGE",
                    "ApproximateFirstReceiveTimestamp": first.to_string(),
                },
                "messageAttributes": {},
                "md5OfBody": message.md5,
                "eventSource": "aws:sqs",
                "eventSourceARN": QUEUE_ARN,
                "awsRegion": "us-east-1",
            });
            out.push((index, record));
        }
        out
    }

    /// Messages neither deleted nor dead-lettered.
    fn pending(&self) -> usize {
        self.messages
            .iter()
            .filter(|m| matches!(m.state, MessageState::Visible | MessageState::InFlight))
            .count()
    }

    /// The answer of an invocation: delete what succeeded; what was reported, or the whole batch
    /// when the invocation failed, stays in flight until its visibility timeout.
    fn settle(&mut self, batch: &[(usize, u32)], reply: &Reply, now: Instant) {
        let (failed, invocation_error): (HashSet<String>, Option<String>) = match reply {
            Reply::Response(body) => match batch_failures(body) {
                Ok(failed) => (failed, None),
                Err(why) => (HashSet::new(), Some(why)),
            },
            Reply::Error(error_type) => (HashSet::new(), Some(error_type.clone())),
            Reply::TimedOut => (HashSet::new(), Some("Sandbox.Timedout".to_owned())),
        };
        for &(index, receive_count) in batch {
            let message = &mut self.messages[index];
            let deleted = invocation_error.is_none() && !failed.contains(&message.id);
            if deleted && message.state == MessageState::InFlight {
                message.state = MessageState::Deleted;
                message.settled = Some(now);
            }
            self.attempts.push(SqsAttempt {
                message: index,
                receive_count,
                deleted,
                invocation_error: invocation_error.clone(),
            });
        }
    }
}

/// The messages a batch response reports as failed, as the event source mapping reads it: an empty
/// or missing `batchItemFailures` is a success; anything unreadable, or an identifier that is empty
/// or not a message of the batch, fails the whole batch (`Err`).
fn batch_failures(body: &str) -> std::result::Result<HashSet<String>, String> {
    let value: Value = match body.trim() {
        "" | "null" => return Ok(HashSet::new()),
        text => serde_json::from_str(text).map_err(|_| "the response is not JSON".to_owned())?,
    };
    match value.get("batchItemFailures") {
        None | Some(Value::Null) => Ok(HashSet::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item.get("itemIdentifier").and_then(Value::as_str) {
                Some(id) if !id.is_empty() => Ok(id.to_owned()),
                _ => Err("a batchItemFailures entry without an itemIdentifier".to_owned()),
            })
            .collect(),
        Some(_) => Err("batchItemFailures is not a list".to_owned()),
    }
}

/// The event source mapping: gathers a batch (up to BatchSize, or the batching window after its
/// first record) when an environment is free, and invokes it with the batch; at most
/// MaximumConcurrency invocations at once.
async fn event_source_mapping(
    queue: Arc<Mutex<Queue>>,
    launcher: Arc<Launcher>,
    settings: Settings,
    stop: Arc<AtomicBool>,
) -> Result<()> {
    let (free_tx, mut free) = tokio::sync::mpsc::unbounded_channel::<Option<Environment>>();
    for _ in 0..settings.max_concurrency {
        let _ = free_tx.send(Some(launcher.start().await?));
    }
    let mut batch_number = 0usize;
    loop {
        // A free slot (an environment, or room to start one: Lambda replaces one it stopped).
        let environment = loop {
            if stop.load(Ordering::Relaxed) {
                // Every slot comes back once its invocation ends: keep what the environments wrote.
                let mut returned = 0;
                let deadline = Instant::now() + settings.sqs_timeout + Duration::from_secs(5);
                while returned < settings.max_concurrency {
                    let left = deadline.saturating_duration_since(Instant::now());
                    match tokio::time::timeout(left, free.recv()).await {
                        Ok(Some(slot)) => {
                            returned += 1;
                            if let Some(environment) = slot {
                                launcher.retire(environment);
                            }
                        }
                        _ => break,
                    }
                }
                return Ok(());
            }
            match tokio::time::timeout(Duration::from_millis(50), free.recv()).await {
                Ok(Some(Some(environment))) => break environment,
                Ok(Some(None)) => break launcher.start().await?,
                _ => continue,
            }
        };
        // Gather.
        let mut batch: Vec<(usize, u32)> = Vec::new();
        let mut records: Vec<Value> = Vec::new();
        let mut window: Option<Instant> = None;
        loop {
            let now = Instant::now();
            if let Ok(mut queue) = queue.lock() {
                for (index, record) in queue.receive(settings.batch_size - batch.len(), now, &settings) {
                    let receives = queue.messages[index].receives;
                    batch.push((index, receives));
                    records.push(record);
                }
            }
            if !batch.is_empty() && window.is_none() {
                window = Some(now);
            }
            let full = batch.len() >= settings.batch_size;
            let window_over = window.is_some_and(|w| now.duration_since(w) >= settings.batching_window);
            if full || window_over || (stop.load(Ordering::Relaxed) && batch.is_empty()) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if batch.is_empty() {
            let _ = free_tx.send(Some(environment));
            continue;
        }
        batch_number += 1;
        if let Ok(mut queue) = queue.lock() {
            queue.invocations += 1;
            queue.batch_sizes.push(batch.len());
        }
        let payload = json!({ "Records": records }).to_string();
        let (queue, launcher, free_tx) = (Arc::clone(&queue), Arc::clone(&launcher), free_tx.clone());
        let timeout = settings.sqs_timeout;
        tokio::spawn(async move {
            let request_id = format!("sqs-batch-{batch_number:05}");
            let (reply, environment) = launcher.invoke(environment, request_id, payload, timeout).await;
            if let Ok(mut queue) = queue.lock() {
                queue.settle(&batch, &reply, Instant::now());
            }
            let _ = free_tx.send(environment);
        });
    }
}

// ---------------------------------------------------------------------------------------------
// The per-event path: Lambda's asynchronous invocation.

#[derive(Debug, Clone)]
struct AsyncEvent {
    delivery: usize,
    body: String,
    enqueued: Instant,
    /// 0 for the first attempt, 1 and 2 for Lambda's retries.
    attempt: usize,
    ready: Instant,
}

#[derive(Debug, Clone)]
enum Final {
    /// The function's answer: `STARTED`, `SKIPPED <reason>`.
    Answered(String),
    /// In the dead-letter queue (on-failure destination), and why.
    DeadLettered(String),
    /// Deleted from the queue (or answered) without an outcome of the function's: lost.
    Lost(String),
}

#[derive(Default)]
struct AsyncLambda {
    waiting: Vec<AsyncEvent>,
    running: usize,
    environments: usize,
    idle: Vec<Environment>,
    finals: HashMap<usize, (Instant, Final)>,
    /// (delivery, answered, outcome) per invocation.
    attempts: Vec<(usize, Instant, String)>,
    invocations: usize,
}

/// The label of a single event's answer, or why it is not one.
fn single_outcome(body: &str) -> Option<String> {
    let value: Value = serde_json::from_str(body).ok()?;
    match value.get("Status").and_then(Value::as_str)? {
        "STARTED" => Some("STARTED".to_owned()),
        "SKIPPED" => Some(format!("SKIPPED {}", value.get("Reason").and_then(Value::as_str)?)),
        _ => None,
    }
}

/// Lambda's asynchronous invocation: an internal queue, environments started as events wait (up to
/// the cap), retries 1 and 2 minutes after a function error, the on-failure destination after the
/// last retry or past MaximumEventAgeInSeconds.
async fn asynchronous_invocation(
    lambda: Arc<Mutex<AsyncLambda>>,
    launcher: Arc<Launcher>,
    settings: Settings,
    stop: Arc<AtomicBool>,
) -> Result<()> {
    let mut request = 0usize;
    loop {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let now = Instant::now();
        // Choose what to invoke now (as many as idle environments and room for new ones allow), and
        // send to the dead-letter queue what waited longer than MaximumEventAgeInSeconds.
        let mut due = Vec::new();
        if let Ok(mut lambda) = lambda.lock() {
            let mut waiting = std::mem::take(&mut lambda.waiting);
            waiting.sort_by_key(|e| e.ready);
            let capacity = lambda.idle.len() + settings.processes.saturating_sub(lambda.environments);
            for event in waiting {
                if now.duration_since(event.enqueued) > settings.max_event_age {
                    let why = "MaximumEventAgeInSeconds".to_owned();
                    lambda.finals.insert(event.delivery, (now, Final::DeadLettered(why)));
                } else if event.ready <= now && due.len() < capacity {
                    due.push(event);
                } else {
                    lambda.waiting.push(event);
                }
            }
            let new_environments = due.len().saturating_sub(lambda.idle.len());
            lambda.environments += new_environments;
            lambda.running += due.len();
        }
        for event in due {
            let idle = lambda.lock().ok().and_then(|mut l| l.idle.pop());
            let environment = match idle {
                Some(environment) => environment,
                None => launcher.start().await?,
            };
            request += 1;
            let (lambda, launcher) = (Arc::clone(&lambda), Arc::clone(&launcher));
            let (timeout, retry_delays) = (settings.async_timeout, settings.retry_delays);
            let request_id = format!("async-{request:06}");
            tokio::spawn(async move {
                let payload = event.body.clone();
                let (reply, environment) = launcher.invoke(environment, request_id, payload, timeout).await;
                let now = Instant::now();
                let Ok(mut lambda) = lambda.lock() else {
                    return;
                };
                lambda.running -= 1;
                lambda.invocations += 1;
                match environment {
                    Some(environment) => lambda.idle.push(environment),
                    None => lambda.environments -= 1,
                }
                let error = match &reply {
                    Reply::Response(body) => {
                        let outcome = single_outcome(body);
                        let label = outcome.clone().unwrap_or_else(|| format!("unreadable answer {body}"));
                        lambda.attempts.push((event.delivery, now, label));
                        let fin = match outcome {
                            Some(outcome) => Final::Answered(outcome),
                            None => Final::Lost(format!("answer without an outcome: {body}")),
                        };
                        lambda.finals.insert(event.delivery, (now, fin));
                        return;
                    }
                    Reply::Error(error_type) => error_type.clone(),
                    Reply::TimedOut => "Sandbox.Timedout".to_owned(),
                };
                lambda.attempts.push((event.delivery, now, format!("error {error}")));
                match retry_delays.get(event.attempt) {
                    Some(delay) => lambda.waiting.push(AsyncEvent {
                        attempt: event.attempt + 1,
                        ready: now + *delay,
                        ..event
                    }),
                    None => {
                        lambda.finals.insert(event.delivery, (now, Final::DeadLettered(error)));
                    }
                }
            });
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let idle: Vec<Environment> = lambda
        .lock()
        .map(|mut l| l.idle.drain(..).collect())
        .unwrap_or_default();
    for environment in idle {
        launcher.retire(environment);
    }
    Ok(())
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

fn scenario(settings: &Settings, supervisors: &[String]) -> Scenario {
    let mut scenario = Scenario::open();
    scenario.instances = Some(HashSet::from([INSTANCE.to_owned()]));
    scenario.contacts = Some(HashMap::new());
    scenario.users = Some(
        supervisors
            .iter()
            .map(|id| {
                let user = User {
                    logged_in: true,
                    monitoring: 0,
                    handling: 0,
                };
                (id.clone(), user)
            })
            .collect(),
    );
    scenario.max_monitors = 1;
    scenario.quotas = Some(Quotas::every_api(settings.quota.0, settings.quota.1));
    scenario
}

/// The environment the template gives the automation function (SQS path) or gave the one function
/// before (per-event path), pointed at a double.
fn launch(binary: &Path, double: &ConnectDouble, supervisors: &[String], sqs: bool) -> Launch {
    let launch = Launch::new(binary)
        .env(
            "AWS_LAMBDA_FUNCTION_NAME",
            if sqs {
                "monitor-contact-automation"
            } else {
                "monitor-contact"
            },
        )
        .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
        .env("AWS_ENDPOINT_URL_CONNECT", double.endpoint())
        .env("SUPERVISOR_POOL_USER_IDS", supervisors.join(","))
        .env("MAX_MONITORS_PER_SUPERVISOR", "1")
        .env("ALLOWED_INSTANCE_IDS", INSTANCE)
        .env("MAX_EVENT_AGE_SECONDS", "300")
        .stdout(Capture::Buffer)
        .stderr(Capture::Inherit);
    if sqs {
        launch.env("CONNECT_CALLS_PER_SECOND", "1")
    } else {
        launch
            .env("CONNECT_CALLS_PER_SECOND", "off")
            .env("AWS_RETRY_MODE", "standard")
    }
}

/// Delivers the load to both paths in real time: each contact is added to both doubles when its
/// event is emitted; each delivery is sent to the queue and handed to Lambda's async queue.
async fn emit(
    load: Arc<Load>,
    t0: Instant,
    doubles: [Arc<ConnectDouble>; 2],
    queue: Arc<Mutex<Queue>>,
    lambda: Arc<Mutex<AsyncLambda>>,
    enqueued: Arc<Mutex<Vec<Option<Instant>>>>,
) {
    let template: Value = serde_json::from_str(SAMPLE).unwrap_or(Value::Null);
    let mut bodies: HashMap<usize, String> = HashMap::new();
    let mut ids = Rng(0x5eed_0000 ^ load.deliveries.len() as u64);
    for (n, delivery) in load.deliveries.iter().enumerate() {
        tokio::time::sleep_until((t0 + delivery.at).into()).await;
        let event = &load.events[delivery.event];
        let body = bodies
            .entry(delivery.event)
            .or_insert_with(|| {
                for double in &doubles {
                    double.add_contact(&event.contact, ContactSpec::live("VOICE").lasting(event.lifetime));
                }
                event_json(&template, event, SystemTime::now())
            })
            .clone();
        let now = Instant::now();
        if let Ok(mut enqueued) = enqueued.lock() {
            enqueued[n] = Some(now);
        }
        if let Ok(mut queue) = queue.lock() {
            queue.send(body.clone(), ids.uuid(), now);
        }
        if let Ok(mut lambda) = lambda.lock() {
            lambda.waiting.push(AsyncEvent {
                delivery: n,
                body,
                enqueued: now,
                attempt: 0,
                ready: now,
            });
        }
    }
}

/// One record's log line: (message ID, receive count) → outcome.
fn record_outcomes(outputs: &[String]) -> HashMap<(String, u32), String> {
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
fn label(outcome: &str) -> String {
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
struct Report {
    name: &'static str,
    deliveries: usize,
    events: usize,
    invocations: usize,
    environments: usize,
    mean_batch: Option<f64>,
    outcomes: BTreeMap<String, usize>,
    /// Attempts that did not settle their event, by what happened (SQS: reported or whole-batch
    /// failures; per-event: function errors, retried or dead-lettered).
    retries: BTreeMap<String, usize>,
    lost: usize,
    queued_at_bar: usize,
    queued_at_end: usize,
    monitored_twice: usize,
    calls: BTreeMap<&'static str, usize>,
    throttled: BTreeMap<&'static str, usize>,
    dead_lettered: usize,
    to_monitor: Vec<Duration>,
    /// Monitors started before the load ended.
    started_during_load: usize,
    utilisation: f64,
    last_final_after_load: Option<Duration>,
    served: Vec<Served>,
}

impl Report {
    fn calls_per_event(&self, operation: &str) -> f64 {
        self.calls.get(operation).copied().unwrap_or(0) as f64 / self.events.max(1) as f64
    }
}

/// What the double says: monitors per contact, time to a monitor, utilisation; Connect calls.
fn from_double(report: &mut Report, double: &ConnectDouble, load: &Load, t0: Instant, load_end: Instant) {
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

fn percentile(sorted: &[Duration], p: f64) -> Option<Duration> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted.get(rank.min(sorted.len() - 1)).copied()
}

fn seconds(d: Option<Duration>) -> String {
    d.map(|d| format!("{:.1} s", d.as_secs_f64()))
        .unwrap_or_else(|| "–".to_owned())
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

fn sqs_report(
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

fn tally(report: &mut Report, final_outcome: Final) {
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

fn async_report(
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
fn print(settings: &Settings, load: &Load, reports: &[&Report; 2], ran: Duration) -> bool {
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

// ---------------------------------------------------------------------------------------------
// The picture: Connect calls per second against the quota, both paths, by hand-written SVG.

/// Per-second counts from `t0`: admitted calls per operation, and throttled answers.
fn per_second(served: &[Served], t0: Instant, seconds: usize) -> (BTreeMap<&'static str, Vec<f64>>, Vec<f64>) {
    let mut admitted: BTreeMap<&'static str, Vec<f64>> = OPERATIONS.iter().map(|o| (*o, vec![0.0; seconds])).collect();
    let mut throttled = vec![0.0; seconds];
    for s in served {
        let Some(second) = s.at.checked_duration_since(t0).map(|d| d.as_secs() as usize) else {
            continue;
        };
        if second >= seconds {
            continue;
        }
        if s.throttled() {
            throttled[second] += 1.0;
        } else if let Some(series) = s.operation.and_then(|o| admitted.get_mut(o)) {
            series[second] += 1.0;
        }
    }
    (admitted, throttled)
}

fn draw(settings: &Settings, t0: Instant, end: Instant, reports: &[&Report; 2]) -> String {
    let seconds = (end.saturating_duration_since(t0).as_secs() as usize + 1).max(10);
    let (width, panel, margin_left, margin_top) = (1040.0, 260.0, 60.0, 40.0);
    let plot_width = width - margin_left - 20.0;
    let height = margin_top + 2.0 * (panel + 60.0) + 20.0;
    // (operation, colour, width): the wider lines first, so that equal counts stay visible.
    let colours = [
        (GET_CURRENT_USER_DATA, "#1f77b4", 4.0),
        (DESCRIBE_CONTACT, "#ff7f0e", 2.5),
        (MONITOR_CONTACT, "#2ca02c", 1.5),
    ];
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        svg,
        r#"<text x="{margin_left}" y="22" font-size="15" font-weight="bold">Connect calls per second at peak ({:.0} events/s for {:.0} s): SQS path vs per-event path</text>"#,
        settings.rate,
        settings.load.as_secs_f64()
    );
    for (n, report) in reports.iter().enumerate() {
        let top = margin_top + n as f64 * (panel + 60.0) + 20.0;
        let (admitted, throttled) = per_second(&report.served, t0, seconds);
        // Scaled to what the load itself makes; the bursts of retries after it may go off the scale:
        // they are clipped and labelled with their value.
        let load_seconds = (settings.load.as_secs() as usize).min(seconds);
        let peak = admitted
            .values()
            .flat_map(|s| s[..load_seconds].iter())
            .chain(throttled[..load_seconds].iter())
            .fold(settings.quota.0, |a, b| a.max(*b));
        let y_max = nice_ceiling(peak * 1.25);
        let x = |second: f64| margin_left + plot_width * second / seconds as f64;
        let y = |value: f64| top + panel - panel * value.min(y_max) / y_max;
        let total_throttled: usize = report.throttled.values().sum();
        let _ = writeln!(
            svg,
            r#"<text x="{margin_left}" y="{}" font-size="13" font-weight="bold">{} ({} calls, {} throttled)</text>"#,
            top - 8.0,
            report.name,
            report.served.len(),
            total_throttled
        );
        // The load's period.
        let _ = writeln!(
            svg,
            r##"<rect x="{}" y="{top}" width="{}" height="{panel}" fill="#f3f3f3"/>"##,
            x(0.0),
            x(settings.load.as_secs_f64()) - x(0.0)
        );
        // Axes and grid.
        for tick in 0..=5 {
            let value = y_max * f64::from(tick) / 5.0;
            let _ = writeln!(
                svg,
                r##"<line x1="{margin_left}" x2="{}" y1="{y}" y2="{y}" stroke="#ddd"/><text x="{}" y="{}" text-anchor="end">{value}</text>"##,
                margin_left + plot_width,
                margin_left - 6.0,
                y(value) + 4.0,
                y = y(value)
            );
        }
        let _ = writeln!(
            svg,
            r##"<text x="{}" y="{}" text-anchor="end" fill="#555">s since the load started; calls/s</text>"##,
            margin_left + plot_width,
            top - 8.0
        );
        let step = if seconds > 300 { 60 } else { 30 };
        for second in (0..=seconds).step_by(step) {
            let _ = writeln!(
                svg,
                r#"<text x="{}" y="{}" text-anchor="middle">{second} s</text>"#,
                x(second as f64),
                top + panel + 16.0
            );
        }
        let _ = writeln!(
            svg,
            r##"<line x1="{margin_left}" x2="{margin_left}" y1="{top}" y2="{}" stroke="#333"/><line x1="{margin_left}" x2="{}" y1="{}" y2="{}" stroke="#333"/>"##,
            top + panel,
            margin_left + plot_width,
            top + panel,
            top + panel
        );
        // Throttled answers as bars, calls as lines, the quota as a dashed line.
        for (second, count) in throttled.iter().enumerate().filter(|(_, c)| **c > 0.0) {
            let _ = writeln!(
                svg,
                r##"<rect x="{}" y="{}" width="{}" height="{}" fill="#d62728" fill-opacity="0.35"/>"##,
                x(second as f64),
                y(*count),
                (x(1.0) - x(0.0)).max(1.0),
                top + panel - y(*count)
            );
        }
        // The peaks off the scale (the highest within ±5 s), labelled.
        for (second, count) in throttled.iter().enumerate() {
            let around = &throttled[second.saturating_sub(5)..(second + 6).min(seconds)];
            if *count > y_max && around.iter().all(|c| c <= count) {
                let _ = writeln!(
                    svg,
                    r##"<text x="{}" y="{}" fill="#d62728" text-anchor="middle" font-size="11">↑{count}</text>"##,
                    x(second as f64 + 0.5),
                    top + 12.0
                );
            }
        }
        for (operation, colour, stroke) in colours {
            let Some(series) = admitted.get(operation) else {
                continue;
            };
            if series.iter().all(|v| *v == 0.0) {
                continue;
            }
            let points: Vec<String> = series
                .iter()
                .enumerate()
                .map(|(second, v)| format!("{:.1},{:.1}", x(second as f64 + 0.5), y(*v)))
                .collect();
            let _ = writeln!(
                svg,
                r#"<polyline fill="none" stroke="{colour}" stroke-width="{stroke}" stroke-linejoin="round" points="{}"/>"#,
                points.join(" ")
            );
        }
        let _ = writeln!(
            svg,
            r##"<line x1="{margin_left}" x2="{}" y1="{q}" y2="{q}" stroke="#000" stroke-dasharray="6,4"/><text x="{}" y="{}" text-anchor="end">quota {}/s per API (burst {})</text>"##,
            margin_left + plot_width,
            margin_left + plot_width - 4.0,
            y(settings.quota.0) - 4.0,
            settings.quota.0,
            settings.quota.1,
            q = y(settings.quota.0)
        );
    }
    // Legend.
    let legend_y = height - 14.0;
    let mut lx = margin_left;
    for (operation, colour, stroke) in colours {
        let _ = writeln!(
            svg,
            r#"<line x1="{lx}" x2="{}" y1="{}" y2="{}" stroke="{colour}" stroke-width="{stroke}"/><text x="{}" y="{legend_y}">{operation} (admitted)</text>"#,
            lx + 20.0,
            legend_y - 4.0,
            legend_y - 4.0,
            lx + 25.0
        );
        lx += 235.0;
    }
    let _ = writeln!(
        svg,
        r##"<rect x="{lx}" y="{}" width="14" height="10" fill="#d62728" fill-opacity="0.35"/><text x="{}" y="{legend_y}">throttled (429)</text>"##,
        legend_y - 10.0,
        lx + 18.0
    );
    let _ = writeln!(
        svg,
        r##"<rect x="{}" y="{}" width="14" height="10" fill="#f3f3f3" stroke="#ccc"/><text x="{}" y="{legend_y}">the load</text>"##,
        lx + 130.0,
        legend_y - 10.0,
        lx + 148.0
    );
    svg.push_str("</svg>\n");
    svg
}

/// 1, 2 or 5 times a power of ten, at least `value`.
fn nice_ceiling(value: f64) -> f64 {
    let magnitude = 10f64.powf(value.max(1.0).log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|v| *v >= value)
        .unwrap_or(10.0 * magnitude)
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

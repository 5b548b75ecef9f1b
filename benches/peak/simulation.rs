//! The simulation's parts: the load, execution environments, the SQS path and the per-event path.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};

pub(crate) use crate::rng::Rng;
pub(crate) use crate::time::iso8601;

use crate::connect_double::{ConnectDouble, ContactSpec, Quotas, Scenario};
use crate::runtime_api::{Capture, Invocation, Kind, Launch, Process, RuntimeApi, Wait};
use crate::{ACCOUNT, INSTANCE, QUEUE_ARN, Result, SAMPLE, Settings};

// ---------------------------------------------------------------------------------------------
// The load.

/// A contact connected to an agent, and the event EventBridge sends about it.
#[derive(Debug, Clone)]
pub(crate) struct ContactEvent {
    pub(crate) id: String,
    pub(crate) contact: String,
    /// From the start of the load.
    pub(crate) at: Duration,
    /// How long the contact lasts after the event.
    pub(crate) lifetime: Duration,
}

/// One delivery of an event (an event delivered twice has two).
#[derive(Debug, Clone)]
pub(crate) struct Delivery {
    pub(crate) event: usize,
    pub(crate) at: Duration,
    pub(crate) repeat: bool,
}

pub(crate) struct Load {
    pub(crate) events: Vec<ContactEvent>,
    /// In time order.
    pub(crate) deliveries: Vec<Delivery>,
    pub(crate) supervisors: Vec<String>,
    /// The center's state at the start: (contact, supervisor monitoring it, when the contact ends).
    pub(crate) initial: Vec<(String, String, Duration)>,
}

pub(crate) fn load(settings: &Settings) -> Load {
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
pub(crate) fn event_json(template: &Value, event: &ContactEvent, now: SystemTime) -> String {
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

pub(crate) fn epoch_ms(t: SystemTime) -> u128 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

/// MD5 (RFC 1321), for the records' `md5OfBody`, as SQS sets it.
pub(crate) fn md5_hex(data: &[u8]) -> String {
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

pub(crate) struct Environment {
    pub(crate) api: RuntimeApi,
    pub(crate) process: Process,
    /// 1 for the first environment a launcher started, and so on.
    pub(crate) number: usize,
}

/// The access key ID environment `number` signs its Connect requests with: the double records each
/// request's `Authorization` header, so its calls can be told apart from other environments'.
pub(crate) fn access_key(number: usize) -> String {
    format!("AKIDPEAKENV{number:04}")
}

/// The environment whose access key ID signed `authorization` (a SigV4 `Authorization` header).
pub(crate) fn environment_of(authorization: &str) -> Option<usize> {
    let credential = authorization.split("Credential=").nth(1)?;
    credential.strip_prefix("AKIDPEAKENV")?.get(..4)?.parse().ok()
}

/// What an invocation came to.
pub(crate) enum Reply {
    Response(String),
    /// A function error: its `errorType`.
    Error(String),
    /// No answer by the deadline: Lambda stops the environment.
    TimedOut,
}

/// Starts execution environments of one function configuration, and keeps what they wrote.
pub(crate) struct Launcher {
    pub(crate) launch: Launch,
    pub(crate) started: AtomicUsize,
    /// The stdout of every environment that has stopped, by environment number.
    pub(crate) outputs: Mutex<Vec<(usize, String)>>,
}

impl Launcher {
    pub(crate) fn new(launch: Launch) -> Launcher {
        Launcher {
            launch,
            started: AtomicUsize::new(0),
            outputs: Mutex::new(Vec::new()),
        }
    }

    pub(crate) async fn start(&self) -> Result<Environment> {
        let mut api = RuntimeApi::start().await?;
        let number = self.started.fetch_add(1, Ordering::Relaxed) + 1;
        let process = self
            .launch
            .clone()
            .env("AWS_ACCESS_KEY_ID", access_key(number))
            .spawn(&api)?;
        match api.next_poll(Duration::from_secs(30)).await {
            Ok(_) => Ok(Environment { api, process, number }),
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

    pub(crate) fn retire(&self, environment: Environment) {
        let output = environment.process.finish();
        if let Ok(mut outputs) = self.outputs.lock() {
            outputs.push((environment.number, output.stdout));
        }
    }

    /// Invokes; an environment that timed out or broke is retired (`None`), as Lambda replaces it.
    pub(crate) async fn invoke(
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
pub(crate) enum MessageState {
    Visible,
    InFlight,
    Deleted,
    DeadLettered,
}

#[derive(Debug, Clone)]
pub(crate) struct Message {
    pub(crate) id: String,
    pub(crate) body: String,
    pub(crate) md5: String,
    pub(crate) sent_ms: u128,
    pub(crate) first_receive_ms: Option<u128>,
    pub(crate) receives: u32,
    pub(crate) visible_at: Instant,
    /// The receipt handle of its latest receive (ChangeMessageVisibility takes only that one).
    pub(crate) receipt: Option<String>,
    pub(crate) state: MessageState,
    /// When it was deleted or dead-lettered.
    pub(crate) settled: Option<Instant>,
}

/// One receive of a message and what came of it.
#[derive(Debug, Clone)]
pub(crate) struct SqsAttempt {
    pub(crate) message: usize,
    pub(crate) receive_count: u32,
    /// Deleted after this attempt (the function did not report it).
    pub(crate) deleted: bool,
    /// The whole invocation failed (a function error or a timeout): its errorType.
    pub(crate) invocation_error: Option<String>,
}

#[derive(Default)]
pub(crate) struct Queue {
    pub(crate) messages: Vec<Message>,
    pub(crate) by_id: HashMap<String, usize>,
    pub(crate) attempts: Vec<SqsAttempt>,
    pub(crate) receipts: u64,
    /// Records the function gave back early (ChangeMessageVisibility accepted).
    pub(crate) given_back: u64,
    pub(crate) invocations: usize,
    pub(crate) batch_sizes: Vec<usize>,
}

impl Queue {
    pub(crate) fn send(&mut self, body: String, id: String, now: Instant) {
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
            receipt: None,
            state: MessageState::Visible,
            settled: None,
        });
    }

    /// Receives up to `max` visible messages as SQS does: each receive counts, starts the
    /// visibility timeout and gets a new receipt handle; a message received `max_receive_count`
    /// times already moves to the dead-letter queue instead. Returns (message, record) pairs.
    pub(crate) fn receive(&mut self, max: usize, now: Instant, settings: &Settings) -> Vec<(usize, Value)> {
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
            let receipt = format!("AQEB{:016x}{}", self.receipts, &message.md5[..16]);
            message.receipt = Some(receipt.clone());
            let record = json!({
                "messageId": message.id,
                "receiptHandle": receipt,
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

    /// ChangeMessageVisibility: the in-flight message whose latest receipt is `receipt` becomes
    /// visible `timeout` after `now`; `false` (SQS's ReceiptHandleIsInvalid) for any other receipt.
    pub(crate) fn change_visibility(&mut self, receipt: &str, timeout: Duration, now: Instant) -> bool {
        let found = self
            .messages
            .iter_mut()
            .find(|m| m.state == MessageState::InFlight && m.receipt.as_deref() == Some(receipt));
        match found {
            Some(message) => {
                message.visible_at = now + timeout;
                self.given_back += 1;
                true
            }
            None => false,
        }
    }

    /// Messages neither deleted nor dead-lettered.
    pub(crate) fn pending(&self) -> usize {
        self.messages
            .iter()
            .filter(|m| matches!(m.state, MessageState::Visible | MessageState::InFlight))
            .count()
    }

    /// The answer of an invocation: delete what succeeded; what was reported, or the whole batch
    /// when the invocation failed, stays in flight until its visibility timeout.
    pub(crate) fn settle(&mut self, batch: &[(usize, u32)], reply: &Reply, now: Instant) {
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
pub(crate) fn batch_failures(body: &str) -> std::result::Result<HashSet<String>, String> {
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
pub(crate) async fn event_source_mapping(
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
pub(crate) struct AsyncEvent {
    pub(crate) delivery: usize,
    pub(crate) body: String,
    pub(crate) enqueued: Instant,
    /// 0 for the first attempt, 1 and 2 for Lambda's retries.
    pub(crate) attempt: usize,
    pub(crate) ready: Instant,
}

#[derive(Debug, Clone)]
pub(crate) enum Final {
    /// The function's answer: `STARTED`, `SKIPPED <reason>`.
    Answered(String),
    /// In the dead-letter queue (on-failure destination), and why.
    DeadLettered(String),
    /// Deleted from the queue (or answered) without an outcome of the function's: lost.
    Lost(String),
}

#[derive(Default)]
pub(crate) struct AsyncLambda {
    pub(crate) waiting: Vec<AsyncEvent>,
    pub(crate) running: usize,
    pub(crate) environments: usize,
    pub(crate) idle: Vec<Environment>,
    pub(crate) finals: HashMap<usize, (Instant, Final)>,
    /// (delivery, answered, outcome) per invocation.
    pub(crate) attempts: Vec<(usize, Instant, String)>,
    pub(crate) invocations: usize,
}

/// The label of a single event's answer, or why it is not one.
pub(crate) fn single_outcome(body: &str) -> Option<String> {
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
pub(crate) async fn asynchronous_invocation(
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

pub(crate) fn scenario(settings: &Settings, supervisors: &[String]) -> Scenario {
    let mut scenario = Scenario::supervisors(INSTANCE, supervisors, 1);
    scenario.quotas = Some(Quotas::every_api(settings.quota.0, settings.quota.1));
    scenario
}

/// The environment the template gives the automation function (SQS path) or gave the one function
/// before (per-event path), pointed at a double.
pub(crate) fn launch(
    settings: &Settings,
    binary: &Path,
    double: &ConnectDouble,
    supervisors: &[String],
    queue_endpoint: Option<&str>,
) -> Launch {
    let sqs = queue_endpoint.is_some();
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
    if let Some(endpoint) = queue_endpoint {
        launch
            .env("CONNECT_CALLS_PER_SECOND", settings.calls_per_second.to_string())
            .env("AWS_ENDPOINT_URL_SQS", endpoint)
            .env("SQS_RETRY_DELAY_SECONDS", settings.sqs_retry_delay.to_string())
    } else {
        launch
            .env("CONNECT_CALLS_PER_SECOND", "off")
            .env("AWS_RETRY_MODE", "standard")
    }
}

/// Delivers the load to the paths in real time: each contact is added to every double when its
/// event is emitted; each delivery is sent to the queue and handed to Lambda's async queue (when the
/// per-event path runs).
pub(crate) async fn emit(
    load: Arc<Load>,
    t0: Instant,
    doubles: Vec<Arc<ConnectDouble>>,
    queue: Arc<Mutex<Queue>>,
    lambda: Option<Arc<Mutex<AsyncLambda>>>,
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
        if let Some(Ok(mut lambda)) = lambda.as_ref().map(|l| l.lock()) {
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

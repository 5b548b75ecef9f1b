//! One configuration through the real binary: the week's events in time order, in SQS batches, to a
//! few release `monitor-contact` processes (each under its own Lambda Runtime API), against a local
//! Connect double whose contacts live and end on the week's clock, and (for a quota rule) the table
//! in moto.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::connect_double::{ConnectDouble, ContactSpec, Scenario};
use crate::moto::Moto;
use crate::runtime_api::{Capture, Invocation, Kind, Launch, Process, RuntimeApi, Wait};
use crate::workload::Week;
use crate::{INSTANCE, QUEUE_ARN, Result, Settings};

/// The automation function's deadline per invocation (template.yaml).
const DEADLINE: Duration = Duration::from_secs(40);
/// How many times SQS hands a record over before the redrive moves it to the dead-letter queue.
const MAX_RECEIVES: u32 = 3;

/// The QA state table in moto, and a client to look at it.
pub(crate) struct Table<'a> {
    pub(crate) moto: &'a Moto,
    pub(crate) client: aws_sdk_dynamodb::Client,
    pub(crate) name: String,
}

/// The DynamoDB requests moto answered, from its request log (a line per request).
pub(crate) fn moto_requests(log: &str) -> u64 {
    log.lines().filter(|line| line.contains("\"POST / HTTP/1.")).count() as u64
}

/// What the table holds after a run, by kind of item.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Items {
    pub(crate) records: u64,
    /// The agent counters' `taken`, summed.
    pub(crate) taken: u64,
    pub(crate) started_claims: u64,
    pub(crate) pending_claims: u64,
}

impl Table<'_> {
    /// Reads every item (a Scan, page by page) and counts them by kind.
    async fn items(&self) -> Result<Items> {
        let mut items = Items::default();
        let mut start = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.name)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| format!("Scan: {}", aws_sdk_dynamodb::error::DisplayErrorContext(e)))?;
            for item in page.items() {
                let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).map(String::as_str);
                let number = |name: &str| {
                    item.get(name)
                        .and_then(|v| v.as_n().ok())
                        .and_then(|n| n.parse::<u64>().ok())
                        .unwrap_or(0)
                };
                let pk = text("pk").unwrap_or_default();
                if pk.starts_with("record#") {
                    items.records += 1;
                } else if pk.starts_with("agent#") {
                    items.taken += number("taken");
                } else if pk.starts_with("claim#") {
                    match text("state") {
                        Some("started") => items.started_claims += 1,
                        _ => items.pending_claims += 1,
                    }
                }
            }
            start = page.last_evaluated_key().cloned();
            if start.is_none() {
                return Ok(items);
            }
        }
    }
}

/// What runs: the rules, and the table a quota rule keeps its counts in.
#[derive(Debug, Clone)]
pub(crate) struct Run {
    /// How the report names it.
    pub(crate) name: String,
    /// `QA_RULES`.
    pub(crate) rules: String,
    /// `QA_STATE_TABLE` (in moto), for a quota rule.
    pub(crate) table: Option<String>,
}

impl Run {
    /// A rule of `count` monitors per agent per week, its counts in `table`.
    pub(crate) fn quota(count: u32, table: &str) -> Run {
        Run {
            name: format!("{count} per agent per week"),
            rules: json!([{"name": format!("weekly-{count}"), "perAgent": {"count": count, "per": "week"}}])
                .to_string(),
            table: Some(table.to_owned()),
        }
    }

    /// Today's sampling: `percent` of every contact, no table.
    pub(crate) fn percent(percent: u8) -> Run {
        Run {
            name: format!("{percent} % sampling"),
            rules: json!([{"name": format!("sample-{percent}"), "percent": percent}]).to_string(),
            table: None,
        }
    }
}

/// The EMF metrics the processes wrote, summed over the run (the per-rule documents left out: they
/// repeat the totals).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Emf {
    pub(crate) invocations: u64,
    pub(crate) started: u64,
    pub(crate) skipped: BTreeMap<String, u64>,
    pub(crate) failed: BTreeMap<String, u64>,
    pub(crate) connect_calls: BTreeMap<String, u64>,
    /// `QaStateCalls`: the calls to the QA state table.
    pub(crate) state_calls: u64,
}

impl Emf {
    /// Adds the metric documents among `stdout`'s lines (log records are skipped).
    pub(crate) fn read(&mut self, stdout: &str) {
        for line in stdout.lines() {
            let Ok(doc) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            if doc.get("_aws").is_none() || doc.get("QaRule").is_some() {
                continue;
            }
            let count = |name: &str| doc.get(name).and_then(Value::as_u64).unwrap_or(0);
            let dimension = |name: &str| doc.get(name).and_then(Value::as_str).map(str::to_owned);
            if let Some(reason) = dimension("Reason") {
                *self.skipped.entry(reason).or_default() += count("Skipped");
            } else if let Some(kind) = dimension("ErrorType") {
                *self.failed.entry(kind).or_default() += count("Failed");
            } else if let Some(operation) = dimension("Operation") {
                *self.connect_calls.entry(operation).or_default() += count("ConnectCalls");
            } else if doc.get("Started").is_some() {
                self.invocations += 1;
                self.started += count("Started");
                self.state_calls += count("QaStateCalls");
            }
        }
    }
}

/// Each contact's outcomes as the function logged them (`fields.outcome` of its log records: `STARTED`,
/// a skip reason or an errorType), by receive.
pub(crate) fn read_outcomes(stdout: &str, into: &mut HashMap<String, Vec<(u64, String)>>) {
    for line in stdout.lines() {
        let Ok(doc) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let fields = &doc["fields"];
        if let (Some(contact), Some(outcome)) = (fields["contact"].as_str(), fields["outcome"].as_str()) {
            let receive = fields["receive_count"].as_u64().unwrap_or(1);
            into.entry(contact.to_owned())
                .or_default()
                .push((receive, outcome.to_owned()));
        }
    }
}

/// What a run came to.
#[derive(Debug, Clone, Default)]
pub(crate) struct Outcome {
    pub(crate) run_name: String,
    pub(crate) rules: String,
    /// Every monitor MonitorContact started: (contact index, reviewer).
    pub(crate) monitors: Vec<(usize, String)>,
    /// Monitors of contacts the week does not know (none expected).
    pub(crate) unknown_monitors: usize,
    /// Requests the Connect double answered, by operation.
    pub(crate) connect: BTreeMap<String, u64>,
    pub(crate) emf: Emf,
    /// Each contact's final outcome (its last receive's), by contact index.
    pub(crate) outcomes: HashMap<usize, String>,
    /// Requests moto answered during the run (`None`: no table).
    pub(crate) moto: Option<u64>,
    /// What the table holds after the run.
    pub(crate) items: Option<Items>,
    pub(crate) invocations: usize,
    /// Records the function reported as failed (handed over again, as SQS does).
    pub(crate) item_failures: usize,
    /// Invocations that failed as a whole (a function error or no answer).
    pub(crate) invocation_errors: usize,
    /// Records that failed `MAX_RECEIVES` times.
    pub(crate) dead_lettered: usize,
    pub(crate) elapsed: Duration,
}

/// The double for the week: one instance, the reviewers logged in, contacts only as they happen.
/// No request quota: the week runs faster than real time, and its few hundred monitors a week are far
/// below Connect's rates (issue 10's and 16's benchmarks measure the quotas).
pub(crate) fn scenario(reviewers: &[String]) -> Scenario {
    Scenario::supervisors(INSTANCE, reviewers, 1)
}

/// The automation function's environment for a run (the template's, but for what the simulated week
/// needs: no pacing, no age rule).
pub(crate) fn launch(
    settings: &Settings,
    binary: &Path,
    week: &Week,
    double: &ConnectDouble,
    run: &Run,
    table: Option<&Table<'_>>,
) -> Launch {
    let mut launch = Launch::new(binary)
        .env("AWS_LAMBDA_FUNCTION_NAME", "monitor-contact-automation")
        .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
        .env("AWS_ENDPOINT_URL_CONNECT", double.endpoint())
        .env("ALLOWED_INSTANCE_IDS", INSTANCE)
        .env("SUPERVISOR_POOL_USER_IDS", week.reviewers.join(","))
        .env("MAX_MONITORS_PER_SUPERVISOR", "1")
        // The events are days old by the clock: the age rule off (0), as for a replay.
        .env("MAX_EVENT_AGE_SECONDS", "0")
        // A week in minutes: pacing at the template's 1 call/s would take longer than the week's
        // monitors need at their real rate (a few hundred a week).
        .env("CONNECT_CALLS_PER_SECOND", "off")
        .env("QA_TIME_ZONE", settings.zone)
        .env("QA_RULES", run.rules.clone());
    if let (Some(name), Some(table)) = (&run.table, table) {
        launch = launch
            .env("QA_STATE_TABLE", name.clone())
            .env("AWS_ENDPOINT_URL_DYNAMODB", table.moto.endpoint.clone());
    }
    launch
}

/// One execution environment: a process under its own Runtime API.
struct Environment {
    api: RuntimeApi,
    process: Process,
    number: usize,
}

async fn start(launch: &Launch, stdout: PathBuf, number: usize) -> Result<Environment> {
    let mut api = RuntimeApi::start().await?;
    let stderr = stdout.with_extension("stderr");
    let process = launch
        .clone()
        .stdout(Capture::File(stdout.clone()))
        .stderr(Capture::File(stderr.clone()))
        .spawn(&api)?;
    // Until its first poll; an init error (or an exit) ends the wait at once.
    let until = Instant::now() + Duration::from_secs(30);
    let mut process = process;
    let why = loop {
        match api.next_poll(Duration::from_millis(100)).await {
            Ok(_) => return Ok(Environment { api, process, number }),
            Err(Wait::TimedOut) if Instant::now() < until => {
                if let Some(answer) = api.try_answer().filter(|a| a.kind == Kind::InitError) {
                    break answer.body;
                }
                if let Some(status) = process.exited() {
                    break format!("the process exited ({status})");
                }
            }
            Err(e) => break e.to_string(),
        }
    };
    drop(process.finish());
    let output = std::fs::read_to_string(&stdout).unwrap_or_default();
    let errors = std::fs::read_to_string(&stderr).unwrap_or_default();
    Err(format!(
        "the function did not start: {why}\n{}\n{}",
        output.trim(),
        errors.trim()
    )
    .into())
}

/// One SQS record: the event as its body, as the event source mapping hands it over.
fn record(body: &str, message_id: &str, receives: u32, sent_ms: u64) -> Value {
    json!({
        "messageId": message_id,
        "receiptHandle": format!("AQEB{message_id}{receives}"),
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": receives.to_string(),
            "SentTimestamp": sent_ms.to_string(),
            "SenderId": "AIDAEVENTBRIDGE",
            "ApproximateFirstReceiveTimestamp": sent_ms.to_string(),
        },
        "messageAttributes": {},
        "eventSource": "aws:sqs",
        "eventSourceARN": QUEUE_ARN,
        "awsRegion": "us-east-1",
    })
}

/// The identifiers of the records an SQS batch response reports as failed; `None` when the answer is
/// not one (the whole batch then failed).
pub(crate) fn batch_failures(body: &str) -> Option<Vec<String>> {
    let value: Value = serde_json::from_str(body).ok()?;
    match value.get("batchItemFailures") {
        None | Some(Value::Null) => Some(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| item.get("itemIdentifier").and_then(Value::as_str).map(str::to_owned))
            .collect(),
        Some(_) => None,
    }
}

/// What the dispatcher and the invocations share.
#[derive(Default)]
struct Progress {
    /// Batches answered, by number.
    answered: Vec<bool>,
    /// Records to hand over again: (contact, receives so far).
    again: Vec<(usize, u32)>,
    item_failures: usize,
    invocation_errors: usize,
    dead_lettered: usize,
}

/// Runs the week through the binary with `run`'s configuration.
pub(crate) async fn run_week(
    settings: &Settings,
    week: &Week,
    binary: &Path,
    run: &Run,
    table: Option<&Table<'_>>,
) -> Result<Outcome> {
    let started = Instant::now();
    let double = ConnectDouble::start(scenario(&week.reviewers)).await?;
    let launch = launch(settings, binary, week, &double, run, table);
    let slug: String = run
        .name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let moto_before = table.map(|t| moto_requests(&t.moto.log()));

    // Environments come back through `free` when their invocation ends (`None`: one that broke and
    // could not be replaced).
    let (free_tx, mut free) = tokio::sync::mpsc::unbounded_channel::<Option<Environment>>();
    let mut idle: Vec<Environment> = Vec::new();
    for number in 1..=settings.processes {
        let stdout = settings.log_dir.join(format!("{slug}-{number}.stdout"));
        idle.push(start(&launch, stdout, number).await?);
    }
    let template = Week::template();
    let bodies: Vec<String> = week
        .contacts
        .iter()
        .map(|contact| week.event(&template, contact).to_string())
        .collect();
    let progress = Arc::new(Mutex::new(Progress::default()));
    let mut queue: VecDeque<Vec<(usize, u32)>> = week
        .batches(settings.batch_size)
        .into_iter()
        .map(|range| range.map(|contact| (contact, 1)).collect())
        .collect();
    // Contacts end on the week's clock, once the batch that brought their event was answered (its
    // monitor, if any, has started by then): (ends at, contact, batch).
    let mut endings: BinaryHeap<Reverse<(u64, usize, usize)>> = BinaryHeap::new();
    let mut in_flight = 0usize;
    let mut batch_number = 0usize;
    let mut last_progress = Instant::now();
    loop {
        let again: Vec<(usize, u32)> = std::mem::take(&mut lock(&progress).again);
        for chunk in again.chunks(settings.batch_size.max(1)).rev() {
            queue.push_front(chunk.to_vec());
        }
        if queue.is_empty() || idle.is_empty() {
            if queue.is_empty() && in_flight == 0 {
                break;
            }
            if in_flight == 0 {
                return Err("every execution environment broke (see the messages above)".into());
            }
            // Wait for an answer: an environment comes free, and the answer may bring records back.
            let returned = free.recv().await.ok_or("the environments' channel closed")?;
            in_flight -= 1;
            idle.extend(returned);
            continue;
        }
        let (Some(batch), Some(environment)) = (queue.pop_front(), idle.pop()) else {
            continue;
        };
        // The week's clock: the batch's first event. Contacts over by then end (with their monitors).
        let now = batch.iter().map(|(c, _)| week.contacts[*c].at).min().unwrap_or(0);
        {
            let progress = lock(&progress);
            let mut not_yet = Vec::new();
            while let Some(Reverse((ends, contact, number))) = endings.peek().copied() {
                if ends > now {
                    break;
                }
                endings.pop();
                if progress.answered.get(number).copied().unwrap_or(false) {
                    double.end_contact(&week.contacts[contact].id);
                } else {
                    not_yet.push(Reverse((ends, contact, number)));
                }
            }
            endings.extend(not_yet);
        }
        in_flight += 1;
        let records: Vec<Value> = batch
            .iter()
            .map(|(contact, receives)| {
                let c = &week.contacts[*contact];
                if *receives == 1 {
                    double.add_contact(&c.id, ContactSpec::live("VOICE"));
                    endings.push(Reverse((c.at + c.duration, *contact, batch_number)));
                }
                record(&bodies[*contact], &c.event_id, *receives, (week.start + c.at) * 1000)
            })
            .collect();
        lock(&progress).answered.push(false);
        let payload = json!({ "Records": records }).to_string();
        let number = batch_number;
        batch_number += 1;
        let (progress, free_tx, launch) = (Arc::clone(&progress), free_tx.clone(), launch.clone());
        let ids: HashMap<String, (usize, u32)> = batch
            .iter()
            .map(|(contact, receives)| (week.contacts[*contact].event_id.clone(), (*contact, *receives)))
            .collect();
        let stdout = settings.log_dir.join(format!("{slug}-restart-{number}.stdout"));
        tokio::spawn(async move {
            let mut environment = environment;
            let invocation = Invocation::new(format!("batch-{number:05}"), payload).timeout(DEADLINE);
            let answer = environment
                .api
                .invoke(invocation, DEADLINE + Duration::from_secs(2))
                .await;
            let failed: Option<Vec<String>> = match &answer {
                Ok(a) if a.kind == Kind::Response => batch_failures(&a.body),
                _ => None,
            };
            {
                let mut progress = lock(&progress);
                progress.answered[number] = true;
                let again: Vec<(usize, u32)> = match failed {
                    Some(ids_failed) => {
                        progress.item_failures += ids_failed.len();
                        ids_failed.iter().filter_map(|id| ids.get(id).copied()).collect()
                    }
                    None => {
                        progress.invocation_errors += 1;
                        ids.values().copied().collect()
                    }
                };
                for (contact, receives) in again {
                    if receives >= MAX_RECEIVES {
                        progress.dead_lettered += 1;
                    } else {
                        progress.again.push((contact, receives + 1));
                    }
                }
            }
            // An environment that did not answer is replaced, as Lambda replaces it.
            let environment = match answer {
                Ok(_) => environment,
                Err(e) => {
                    eprintln!("qa_week: batch {number} got no answer ({e}); starting a new environment");
                    let number = environment.number;
                    drop(environment.process.finish());
                    match start(&launch, stdout, number).await {
                        Ok(environment) => environment,
                        Err(e) => {
                            eprintln!("qa_week: {e}");
                            let _ = free_tx.send(None);
                            return;
                        }
                    }
                }
            };
            let _ = free_tx.send(Some(environment));
        });
        if last_progress.elapsed() >= Duration::from_secs(15) {
            last_progress = Instant::now();
            eprintln!(
                "qa_week: {}: {batch_number} batches handed over, {} to go, {:.0} s",
                run.name,
                queue.len(),
                started.elapsed().as_secs_f64()
            );
        }
    }

    let mut outcome = Outcome {
        run_name: run.name.clone(),
        rules: run.rules.clone(),
        invocations: batch_number,
        ..Outcome::default()
    };
    for environment in idle {
        drop(environment.process.finish());
    }
    let mut logged: HashMap<String, Vec<(u64, String)>> = HashMap::new();
    for entry in std::fs::read_dir(&settings.log_dir)? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if name.starts_with(&format!("{slug}-")) && name.ends_with(".stdout") {
            let stdout = std::fs::read_to_string(&path).unwrap_or_default();
            outcome.emf.read(&stdout);
            read_outcomes(&stdout, &mut logged);
        }
    }
    let index: HashMap<&str, usize> = week
        .contacts
        .iter()
        .enumerate()
        .map(|(n, c)| (c.id.as_str(), n))
        .collect();
    for (contact, mut outcomes) in logged {
        if let (Some(n), Some(last)) = (index.get(contact.as_str()), {
            outcomes.sort();
            outcomes.pop()
        }) {
            outcome.outcomes.insert(*n, last.1);
        }
    }
    for monitor in double.monitors().iter().filter(|m| m.by_api) {
        match index.get(monitor.contact.as_str()) {
            Some(contact) => outcome.monitors.push((*contact, monitor.user.clone())),
            None => outcome.unknown_monitors += 1,
        }
    }
    for served in double.served() {
        *outcome
            .connect
            .entry(served.operation.unwrap_or("?").to_owned())
            .or_default() += 1;
    }
    if let (Some(table), Some(before)) = (table, moto_before) {
        outcome.moto = Some(moto_requests(&table.moto.log()).saturating_sub(before));
        outcome.items = Some(table.items().await?);
    }
    {
        let progress = lock(&progress);
        outcome.item_failures = progress.item_failures;
        outcome.invocation_errors = progress.invocation_errors;
        outcome.dead_lettered = progress.dead_lettered;
    }
    outcome.elapsed = started.elapsed();
    Ok(outcome)
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

//! The QA state of quota rules: per-agent and per-reviewer counters, the claim that makes a contact
//! count once, and the record of every monitor a quota rule started, in one DynamoDB table
//! (`QA_STATE_TABLE`). The seam is [`QaState`], as `connect::Connect` is Connect's; [`DynamoState`]
//! implements it over the SDK's DynamoDB client. The quotas' rules: docs/how-it-decides.md, "Quotas
//! per agent, spread over the period".
//!
//! The table's key is `pk` (S) and `sk` (S); every item has `expires` (N, epoch seconds), the TTL
//! attribute: the event's time plus `QA_RECORD_DAYS`.
//!
//! | item | pk | sk | attributes |
//! | --- | --- | --- | --- |
//! | agent counter | `agent#<rule>#<agent user id>` | period label | `taken`, `expires` |
//! | reviewer counter | `reviewer#<rule>#<reviewer user id>` | period label | `taken`, `expires` |
//! | claim | `claim#<rule>#<contact id>` | `claim` | `state` (`pending`, `started`), `expires` |
//! | record | `record#<rule>#<local day>` | `<event time>#<contact id>` | see [`Record`] |
//!
//! Why limits hold under any concurrency: a slot is taken in one transaction that puts the claim only
//! if it does not exist and increments each counter only while below its limit, so two environments
//! racing for the last slot cannot both succeed, and a second event about a contact finds its claim
//! ([`Taken::Held`]). A slot is given back only while its claim is `pending`, so a monitor that started
//! is never given back. Errors ([`StateError`]) name the operation, never a key (keys hold user and
//! contact IDs).

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, Delete, KeysAndAttributes, Put, ReturnValuesOnConditionCheckFailure,
    TransactWriteItem, Update,
};

use crate::config::Config;
use crate::error::{ErrorKind, MonitorError};

/// A counter to increment when a slot is taken: an agent's or a reviewer's, for one rule and period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counter {
    /// `agent#<rule>#<user id>` or `reviewer#<rule>#<user id>` (see [`agent_counter`], [`reviewer_counter`]).
    pub pk: String,
    /// The period's label (its start in RFC 3339 with the zone's offset).
    pub sk: String,
    /// Taking succeeds only while `taken < limit`.
    pub limit: u32,
}

impl Counter {
    /// The counter's key, as [`QaState::counts`] takes it.
    pub fn key(&self) -> (String, String) {
        (self.pk.clone(), self.sk.clone())
    }
}

/// The agent counter of `rule` for `agent` (a user ID) in the period labelled `period_label`.
pub fn agent_counter(rule: &str, agent: &str, period_label: &str, limit: u32) -> Counter {
    Counter {
        pk: format!("agent#{rule}#{agent}"),
        sk: period_label.to_owned(),
        limit,
    }
}

/// The reviewer counter of `rule` for `reviewer` (a user ID) in the period labelled `period_label`.
pub fn reviewer_counter(rule: &str, reviewer: &str, period_label: &str, limit: u32) -> Counter {
    Counter {
        pk: format!("reviewer#{rule}#{reviewer}"),
        sk: period_label.to_owned(),
        limit,
    }
}

/// The claim's key: (`claim#<rule>#<contact id>`, `claim`).
pub fn claim_key(rule: &str, contact_id: &str) -> (String, String) {
    (format!("claim#{rule}#{contact_id}"), "claim".to_owned())
}

/// The partition of a rule's records of one local day (`YYYY-MM-DD`): `record#<rule>#<day>`. The report
/// queries one partition per day of the period.
pub fn record_partition(rule: &str, day: &str) -> String {
    format!("record#{rule}#{day}")
}

/// A contact's hold on a slot: the claim item and the counters it increments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The rule's name.
    pub rule: String,
    /// The contact the slot is for: it counts once, whatever the number of events about it.
    pub contact_id: String,
    /// The agent's counter (`perAgent`).
    pub agent: Option<Counter>,
    /// The reviewer's counter (`perReviewer`).
    pub reviewer: Option<Counter>,
    /// `expires` of the claim and the counters (epoch seconds).
    pub expires: i64,
}

/// What [`QaState::take`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taken {
    /// The claim is the contact's now and each counter was incremented.
    Taken,
    /// This contact holds a claim already (another event about it): it counts once, nothing was taken.
    Held,
    /// The agent's counter is at its limit: `taken` is its value.
    AgentFull {
        /// The counter's value (at least its limit).
        taken: u32,
    },
    /// The reviewer's counter is at its limit.
    ReviewerFull,
}

/// A monitor a quota rule started: one item, kept `QA_RECORD_DAYS` through `expires`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The monitored contact (`contact`).
    pub contact_id: String,
    /// The agent's user ID (`agent`).
    pub agent: String,
    /// The reviewer's user ID (`reviewer`).
    pub reviewer: String,
    /// The rule (`rule`).
    pub rule: String,
    /// The event's type, e.g. `CONNECTED_TO_AGENT` (`eventType`).
    pub event_type: String,
    /// The event's `time`, RFC 3339 (`eventTime`).
    pub event_time: String,
    /// When the monitor started, RFC 3339 (`startedAt`).
    pub started_at: String,
    /// The monitoring contact's ARN (`monitorArn`).
    pub monitor_arn: String,
    /// The rule's `perAgent` count (`quota`), if it has one.
    pub quota: Option<u32>,
    /// The agent's deepest hierarchy group ID (`team`), if the event has one.
    pub team: Option<String>,
    /// The local day (`YYYY-MM-DD`) of the event's time: the record's partition.
    pub day: String,
    /// `expires` (epoch seconds).
    pub expires: i64,
}

/// A state operation failed: the table could not be reached or refused the call. The message names the
/// operation and the kind of failure, never a key or a user ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateError {
    /// What failed, e.g. `take (TransactWriteItems): DynamoDB did not answer in time`.
    pub message: String,
}

impl fmt::Display for StateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for StateError {}

impl From<StateError> for MonitorError {
    /// `StateUnavailable`: a retry of the event can succeed, and no monitor starts without its slot.
    fn from(error: StateError) -> MonitorError {
        MonitorError::new(
            ErrorKind::StateUnavailable,
            format!(
                "the QA state table (QA_STATE_TABLE) is unavailable: {}; retrying the event is safe (a contact counts once)",
                error.message
            ),
        )
    }
}

/// The state operations of quota rules, one DynamoDB call each (retried inside, see [`retry_config`]).
pub trait QaState {
    /// BatchGetItem: `taken` of each counter (`(pk, sk)`; a missing item is 0), in the same order. One
    /// call for up to 100 distinct keys.
    fn counts(&self, counters: &[(String, String)]) -> impl Future<Output = Result<Vec<u32>, StateError>> + Send;

    /// One TransactWriteItems: put the claim (only if it does not exist) and increment each counter
    /// (only while below its limit).
    fn take(&self, claim: &Claim) -> impl Future<Output = Result<Taken, StateError>> + Send;

    /// One TransactWriteItems: delete the claim, only while it is `pending`, and decrement its counters.
    /// Nothing happens (and `Ok`) when the claim is not pending: started, or already given back.
    fn give_back(&self, claim: &Claim) -> impl Future<Output = Result<(), StateError>> + Send;

    /// One TransactWriteItems: the claim becomes `started` and the record is written.
    fn record(&self, claim: &Claim, record: &Record) -> impl Future<Output = Result<(), StateError>> + Send;
}

/// How long one state operation may take, the SDK's retries included: a batch has 40 s for all its
/// records, each of which may make up to three state calls; a table that does not answer in 3 s is
/// unavailable for this delivery, and the record comes back later.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(3);

/// How long one attempt may take. DynamoDB answers in milliseconds: an attempt that takes a second is
/// stuck, and the next one is likely to be quicker.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(1);

/// Attempts per call, the first included.
pub const MAX_ATTEMPTS: u32 = 3;

/// The SDK's retries for the state table: standard mode, [`MAX_ATTEMPTS`] attempts, from 50 ms.
///
/// Unlike Connect's (see `sdk::retry_config`), the SDK's own retries are the right tool here. DynamoDB
/// on demand rarely throttles at this function's rate, and its quota is not shared with the contact
/// flows; the state calls are not on a flow's path, so no caller waits on them but the batch, whose
/// deadline [`OPERATION_TIMEOUT`] keeps; and a retry is safe: BatchGetItem reads, and every attempt of a
/// TransactWriteItems carries the same ClientRequestToken (the SDK sets it once per call), which
/// DynamoDB answers with the first attempt's outcome. The conditions make each transaction safe to
/// repeat anyway: a claim is put only where none exists, given back only while pending. Throttling
/// (`ThrottlingException`, `ProvisionedThroughputExceededException`, `RequestLimitExceeded`), 5xx and
/// connection failures are retried; a transaction cancelled by a conflict with another is tried again
/// by [`DynamoState`] itself (the SDK does not retry a cancellation).
pub fn retry_config() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(MAX_ATTEMPTS)
        .with_initial_backoff(Duration::from_millis(50))
        .with_max_backoff(Duration::from_millis(500))
}

/// The SDK's time-outs for the state table: [`OPERATION_TIMEOUT`] for a call, retries included,
/// [`ATTEMPT_TIMEOUT`] for an attempt, and the connection's as for Connect.
pub fn timeout_config() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(crate::sdk::CONNECT_TIMEOUT)
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .operation_timeout(OPERATION_TIMEOUT)
        .build()
}

/// The state table over the SDK's DynamoDB client.
#[derive(Debug, Clone)]
pub struct DynamoState {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoState {
    /// The client for `table`, from the loaded SDK configuration (`sdk::load`): its HTTPS client,
    /// credentials and region, and `AWS_ENDPOINT_URL_DYNAMODB` (or `AWS_ENDPOINT_URL`) where set, as
    /// aws-config reads them; with this module's retries and time-outs whatever the configuration says.
    /// Built once at init, and only when a rule has a quota.
    pub fn new(sdk: &SdkConfig, table: impl Into<String>) -> DynamoState {
        let config = aws_sdk_dynamodb::config::Builder::from(sdk)
            .retry_config(retry_config())
            .timeout_config(timeout_config())
            .build();
        DynamoState {
            client: aws_sdk_dynamodb::Client::from_conf(config),
            table: table.into(),
        }
    }

    /// The client `config` needs: one when a QA rule has a quota (its table is then set, `Config`
    /// checks it), none otherwise, so that a function without quotas builds no DynamoDB client.
    pub fn for_config(config: &Config, sdk: &SdkConfig) -> Option<DynamoState> {
        let quotas = config.qa_rules.iter().any(|rule| rule.has_quota());
        let table = config.qa_state_table.as_deref().filter(|_| quotas)?;
        Some(DynamoState::new(sdk, table))
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The DynamoDB client, as built here: for the reads of `monitor-contact-report` (`report`), which
    /// queries the record partitions with the function's own set-up.
    pub fn client(&self) -> &aws_sdk_dynamodb::Client {
        &self.client
    }
}

/// The state operations, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Counts,
    Take,
    GiveBack,
    Record,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Counts => "counts (BatchGetItem)",
            Op::Take => "take (TransactWriteItems)",
            Op::GiveBack => "give back (TransactWriteItems)",
            Op::Record => "record (TransactWriteItems)",
        }
    }

    fn error(self, what: impl fmt::Display) -> StateError {
        StateError {
            message: format!("{}: {what}", self.name()),
        }
    }
}

/// BatchGetItem's limit of keys per call.
const BATCH_KEYS: usize = 100;

/// Tries of a transaction cancelled by a conflict (or throttled as a whole), and of unprocessed keys.
const CONFLICT_TRIES: u32 = 5;

impl QaState for DynamoState {
    async fn counts(&self, counters: &[(String, String)]) -> Result<Vec<u32>, StateError> {
        let mut unique: Vec<&(String, String)> = Vec::with_capacity(counters.len());
        for key in counters {
            if !unique.contains(&key) {
                unique.push(key);
            }
        }
        let mut found = HashMap::new();
        for chunk in unique.chunks(BATCH_KEYS) {
            self.read_counters(chunk, &mut found).await?;
        }
        Ok(counters
            .iter()
            .map(|key| found.get(key).copied().unwrap_or(0))
            .collect())
    }

    async fn take(&self, claim: &Claim) -> Result<Taken, StateError> {
        let op = Op::Take;
        let (pk, sk) = claim_key(&claim.rule, &claim.contact_id);
        let put = Put::builder()
            .table_name(&self.table)
            .item("pk", s(pk))
            .item("sk", s(sk))
            .item("state", s("pending"))
            .item("expires", n(claim.expires))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(|_| op.error("the request could not be built"))?;
        let mut items = vec![TransactWriteItem::builder().put(put).build()];
        for counter in claim.agent.iter().chain(&claim.reviewer) {
            items.push(self.increment(op, counter, claim.expires)?);
        }
        match self.transact(op, items).await? {
            None => Ok(Taken::Taken),
            Some(reasons) => read_take_cancellation(&reasons, claim)
                .ok_or_else(|| op.error("DynamoDB cancelled the transaction for a reason it did not name")),
        }
    }

    async fn give_back(&self, claim: &Claim) -> Result<(), StateError> {
        let op = Op::GiveBack;
        let (pk, sk) = claim_key(&claim.rule, &claim.contact_id);
        let delete = Delete::builder()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .condition_expression("#state = :pending")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":pending", s("pending"))
            .build()
            .map_err(|_| op.error("the request could not be built"))?;
        let mut items = vec![TransactWriteItem::builder().delete(delete).build()];
        for counter in claim.agent.iter().chain(&claim.reviewer) {
            items.push(self.decrement(op, counter)?);
        }
        match self.transact(op, items).await? {
            None => Ok(()),
            // The claim is not pending: started (never given back) or gone (given back already).
            Some(reasons) if failed(&reasons, 0) => Ok(()),
            Some(_) => Err(
                op.error("a counter of the pending claim is already at zero; the claim is kept (its slot stays taken)")
            ),
        }
    }

    async fn record(&self, claim: &Claim, record: &Record) -> Result<(), StateError> {
        let op = Op::Record;
        let (pk, sk) = claim_key(&claim.rule, &claim.contact_id);
        let started = Update::builder()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .update_expression("SET #state = :started")
            .condition_expression("#state = :pending")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":started", s("started"))
            .expression_attribute_values(":pending", s("pending"))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(|_| op.error("the request could not be built"))?;
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(record_item(record)))
            .build()
            .map_err(|_| op.error("the request could not be built"))?;
        let items = vec![
            TransactWriteItem::builder().update(started).build(),
            TransactWriteItem::builder().put(put).build(),
        ];
        match self.transact(op, items).await? {
            None => Ok(()),
            // Another event about the contact (a sibling, a redelivery) recorded its monitor already.
            Some(reasons) if recorded(&reasons) => Ok(()),
            Some(_) => {
                Err(op.error("the claim is gone (given back or expired); a retry of the event takes a slot again"))
            }
        }
    }
}

impl DynamoState {
    /// The update that takes one slot of `counter`: `taken + 1`, only while `taken < limit`. A failed
    /// condition returns the counter as it is (ALL_OLD), so a full agent counter tells its count.
    fn increment(&self, op: Op, counter: &Counter, expires: i64) -> Result<TransactWriteItem, StateError> {
        let update = Update::builder()
            .table_name(&self.table)
            .key("pk", s(&counter.pk))
            .key("sk", s(&counter.sk))
            .update_expression("SET #expires = :expires ADD #taken :one")
            .condition_expression("attribute_not_exists(#taken) OR #taken < :limit")
            .expression_attribute_names("#taken", "taken")
            .expression_attribute_names("#expires", "expires")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":limit", n(counter.limit))
            .expression_attribute_values(":expires", n(expires))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(|_| op.error("the request could not be built"))?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// The update that gives one slot of `counter` back: `taken - 1`, never below zero.
    fn decrement(&self, op: Op, counter: &Counter) -> Result<TransactWriteItem, StateError> {
        let update = Update::builder()
            .table_name(&self.table)
            .key("pk", s(&counter.pk))
            .key("sk", s(&counter.sk))
            .update_expression("ADD #taken :minus_one")
            .condition_expression("#taken > :zero")
            .expression_attribute_names("#taken", "taken")
            .expression_attribute_values(":minus_one", n(-1))
            .expression_attribute_values(":zero", n(0))
            .build()
            .map_err(|_| op.error("the request could not be built"))?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// Sends the transaction: `None` once it is carried out, the cancellation reasons when a condition
    /// failed. A cancellation by conflicts with other transactions (or throttling) alone is tried again,
    /// a few times, while the operation's time lasts.
    async fn transact(
        &self,
        op: Op,
        items: Vec<TransactWriteItem>,
    ) -> Result<Option<Vec<CancellationReason>>, StateError> {
        let start = Instant::now();
        let mut tries = 0;
        loop {
            tries += 1;
            let sent = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .send()
                .await;
            let error = match sent {
                Ok(_) => return Ok(None),
                Err(error) => error,
            };
            let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) = error.as_service_error()
            else {
                return Err(failure(op, error));
            };
            let reasons = cancelled.cancellation_reasons().to_vec();
            if reasons.iter().any(|r| r.code() == Some(CONDITION_FAILED)) {
                return Ok(Some(reasons));
            }
            let retryable = reasons
                .iter()
                .all(|r| r.code().is_none_or(|code| RETRYABLE.contains(&code)));
            if !retryable {
                let codes: Vec<&str> = reasons
                    .iter()
                    .filter_map(|r| r.code())
                    .filter(|c| *c != "None")
                    .collect();
                return Err(op.error(format!("DynamoDB cancelled the transaction ({})", codes.join(", "))));
            }
            if tries >= CONFLICT_TRIES || !pause(start, tries).await {
                return Err(op.error(format!(
                    "the transaction conflicted with others (or was throttled) on each of {tries} tries"
                )));
            }
        }
    }

    /// Reads one chunk of counters into `found`, following UnprocessedKeys a few times.
    async fn read_counters(
        &self,
        keys: &[&(String, String)],
        found: &mut HashMap<(String, String), u32>,
    ) -> Result<(), StateError> {
        let op = Op::Counts;
        let mut pending: Vec<HashMap<String, AttributeValue>> = keys
            .iter()
            .map(|(pk, sk)| HashMap::from([("pk".to_owned(), s(pk)), ("sk".to_owned(), s(sk))]))
            .collect();
        let start = Instant::now();
        let mut tries = 0;
        while !pending.is_empty() {
            tries += 1;
            let request = KeysAndAttributes::builder()
                .set_keys(Some(pending))
                .consistent_read(true)
                .projection_expression("pk, sk, #taken")
                .expression_attribute_names("#taken", "taken")
                .build()
                .map_err(|_| op.error("the request could not be built"))?;
            let output = self
                .client
                .batch_get_item()
                .request_items(&self.table, request)
                .send()
                .await
                .map_err(|e| failure(op, e))?;
            for item in output
                .responses()
                .and_then(|r| r.get(&self.table))
                .into_iter()
                .flatten()
            {
                let (Some(AttributeValue::S(pk)), Some(AttributeValue::S(sk))) = (item.get("pk"), item.get("sk"))
                else {
                    continue;
                };
                found.insert((pk.clone(), sk.clone()), read_taken(item).map_err(|e| op.error(e))?);
            }
            pending = output
                .unprocessed_keys()
                .and_then(|u| u.get(&self.table))
                .map(|k| k.keys().to_vec())
                .unwrap_or_default();
            if !pending.is_empty() && (tries >= CONFLICT_TRIES || !pause(start, tries).await) {
                return Err(op.error(format!(
                    "DynamoDB left keys unprocessed (throttled) on each of {tries} tries"
                )));
            }
        }
        Ok(())
    }
}

/// A cancellation reason's code for a failed condition.
const CONDITION_FAILED: &str = "ConditionalCheckFailed";

/// Codes of a cancellation that a new try can get past: none of the conditions failed ("None"), the
/// transaction met another on the same items, or the table throttled it.
const RETRYABLE: [&str; 4] = [
    "None",
    "TransactionConflict",
    "ThrottlingError",
    "ProvisionedThroughputExceeded",
];

/// Waits before try `tries + 1` (20-60 ms, doubling), if that leaves time within [`OPERATION_TIMEOUT`]
/// since `start`; false when it does not.
async fn pause(start: Instant, tries: u32) -> bool {
    let base = 20u64 << tries.min(4);
    let wait = Duration::from_millis(base + fastrand::u64(0..=base * 2));
    if start.elapsed() + wait >= OPERATION_TIMEOUT {
        return false;
    }
    tokio::time::sleep(wait).await;
    true
}

/// Whether the item at `index` of the transaction failed its condition.
/// Whether a record's transaction was cancelled because the claim is `started` already.
fn recorded(reasons: &[CancellationReason]) -> bool {
    reasons
        .first()
        .and_then(|reason| reason.item())
        .and_then(|item| item.get("state"))
        .and_then(|state| state.as_s().ok())
        .is_some_and(|state| state == "started")
}

fn failed(reasons: &[CancellationReason], index: usize) -> bool {
    reasons.get(index).and_then(|r| r.code()) == Some(CONDITION_FAILED)
}

/// What a take's cancellation means: the claim (item 0) exists, else the agent's counter (item 1 when
/// the claim has one) is full, with its count from the item DynamoDB returned (ALL_OLD; without it, the
/// limit: the condition failing says the count is at least that), else the reviewer's is full.
fn read_take_cancellation(reasons: &[CancellationReason], claim: &Claim) -> Option<Taken> {
    if failed(reasons, 0) {
        return Some(Taken::Held);
    }
    let mut index = 1;
    if let Some(agent) = &claim.agent {
        if failed(reasons, index) {
            let taken = reasons
                .get(index)
                .and_then(|r| r.item())
                .and_then(|item| read_taken(item).ok())
                .unwrap_or(agent.limit);
            return Some(Taken::AgentFull { taken });
        }
        index += 1;
    }
    (claim.reviewer.is_some() && failed(reasons, index)).then_some(Taken::ReviewerFull)
}

/// A counter item's `taken` (absent: 0; below zero, which the conditions prevent: 0).
fn read_taken(item: &HashMap<String, AttributeValue>) -> Result<u32, &'static str> {
    match item.get("taken") {
        None => Ok(0),
        Some(AttributeValue::N(number)) => number
            .parse::<i64>()
            .map(|v| u32::try_from(v.max(0)).unwrap_or(u32::MAX))
            .map_err(|_| "a counter's taken is not a whole number"),
        Some(_) => Err("a counter's taken is not a number"),
    }
}

/// The record's item.
fn record_item(record: &Record) -> HashMap<String, AttributeValue> {
    let mut item = HashMap::from([
        ("pk".to_owned(), s(record_partition(&record.rule, &record.day))),
        (
            "sk".to_owned(),
            s(format!("{}#{}", record.event_time, record.contact_id)),
        ),
        ("contact".to_owned(), s(&record.contact_id)),
        ("agent".to_owned(), s(&record.agent)),
        ("reviewer".to_owned(), s(&record.reviewer)),
        ("rule".to_owned(), s(&record.rule)),
        ("eventType".to_owned(), s(&record.event_type)),
        ("eventTime".to_owned(), s(&record.event_time)),
        ("startedAt".to_owned(), s(&record.started_at)),
        ("monitorArn".to_owned(), s(&record.monitor_arn)),
        ("expires".to_owned(), n(record.expires)),
    ]);
    if let Some(quota) = record.quota {
        item.insert("quota".to_owned(), n(quota));
    }
    if let Some(team) = &record.team {
        item.insert("team".to_owned(), s(team));
    }
    item
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: impl fmt::Display) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// The error for a call that failed: the operation and the kind of failure, by the service's error code
/// and the HTTP status. The service's message is left out: it may quote a key.
fn failure<E>(op: Op, error: SdkError<E, HttpResponse>) -> StateError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let status = error.raw_response().map(|raw| raw.status().as_u16());
    let attempts = format!("after {MAX_ATTEMPTS} attempts at most");
    match &error {
        SdkError::TimeoutError(_) => {
            return op.error(format!(
                "DynamoDB did not answer within {} s ({attempts})",
                OPERATION_TIMEOUT.as_secs()
            ));
        }
        SdkError::DispatchFailure(dispatch) if dispatch.is_timeout() => {
            return op.error(format!("no connection to DynamoDB in time ({attempts})"));
        }
        SdkError::DispatchFailure(_) => return op.error(format!("no connection to DynamoDB ({attempts})")),
        SdkError::ResponseError(_) => return op.error(format!("DynamoDB's answer could not be read ({attempts})")),
        SdkError::ConstructionFailure(_) => return op.error("the request could not be built"),
        _ => {}
    }
    let code = error.code().unwrap_or("an unnamed error").to_owned();
    let status = status.map(|s| format!(", HTTP {s}")).unwrap_or_default();
    let kind = match code.as_str() {
        "ThrottlingException" | "ProvisionedThroughputExceededException" | "RequestLimitExceeded" => {
            format!("DynamoDB throttled every attempt ({code}{status}, {attempts})")
        }
        "ResourceNotFoundException" => format!("the table QA_STATE_TABLE names was not found ({code})"),
        "AccessDeniedException" | "UnrecognizedClientException" => {
            format!("DynamoDB refused access ({code}): the role needs its dynamodb actions on the table")
        }
        "ValidationException" => format!("DynamoDB refused the request as invalid ({code}{status})"),
        _ => format!("DynamoDB failed ({code}{status}, {attempts})"),
    };
    op.error(kind)
}

/// An in-memory [`QaState`] for unit tests (the pipeline's): the same rules as the table (a claim
/// counts once, limits, give back only while pending), every call recorded, and a switch that makes
/// every call fail as an unavailable table would.
#[cfg(test)]
pub(crate) mod memory {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use super::{Claim, Op, QaState, Record, StateError, Taken, claim_key};

    /// The calls made, by name: `counts`, `take`, `give_back`, `record`.
    #[derive(Default)]
    pub struct MemoryState {
        /// `taken` by counter key.
        pub counters: Mutex<HashMap<(String, String), u32>>,
        /// Claim state (`pending`, `started`) by claim key.
        pub claims: Mutex<HashMap<(String, String), &'static str>>,
        /// The records written.
        pub records: Mutex<Vec<Record>>,
        /// The calls, in order.
        pub calls: Mutex<Vec<&'static str>>,
        /// When set, every call fails.
        pub unavailable: Mutex<bool>,
    }

    impl MemoryState {
        fn call(&self, op: Op, name: &'static str) -> Result<(), StateError> {
            if let Ok(mut calls) = self.calls.lock() {
                calls.push(name);
            }
            match self.unavailable.lock().map(|u| *u) {
                Ok(false) => Ok(()),
                _ => Err(op.error("no connection to DynamoDB (after 3 attempts at most)")),
            }
        }

        /// The calls made so far.
        pub fn calls(&self) -> Vec<&'static str> {
            self.calls.lock().map(|c| c.clone()).unwrap_or_default()
        }

        fn taken(&self, key: &(String, String)) -> u32 {
            self.counters.lock().ok().and_then(|c| c.get(key).copied()).unwrap_or(0)
        }

        fn add(&self, key: (String, String), delta: i64) {
            if let Ok(mut counters) = self.counters.lock() {
                let value = counters.entry(key).or_insert(0);
                *value = u32::try_from((i64::from(*value) + delta).max(0)).unwrap_or(0);
            }
        }
    }

    impl QaState for MemoryState {
        async fn counts(&self, counters: &[(String, String)]) -> Result<Vec<u32>, StateError> {
            self.call(Op::Counts, "counts")?;
            Ok(counters.iter().map(|key| self.taken(key)).collect())
        }

        async fn take(&self, claim: &Claim) -> Result<Taken, StateError> {
            self.call(Op::Take, "take")?;
            let key = claim_key(&claim.rule, &claim.contact_id);
            if self.claims.lock().map(|c| c.contains_key(&key)).unwrap_or(true) {
                return Ok(Taken::Held);
            }
            if let Some(agent) = &claim.agent {
                let taken = self.taken(&agent.key());
                if taken >= agent.limit {
                    return Ok(Taken::AgentFull { taken });
                }
            }
            if let Some(reviewer) = &claim.reviewer
                && self.taken(&reviewer.key()) >= reviewer.limit
            {
                return Ok(Taken::ReviewerFull);
            }
            for counter in claim.agent.iter().chain(&claim.reviewer) {
                self.add(counter.key(), 1);
            }
            if let Ok(mut claims) = self.claims.lock() {
                claims.insert(key, "pending");
            }
            Ok(Taken::Taken)
        }

        async fn give_back(&self, claim: &Claim) -> Result<(), StateError> {
            self.call(Op::GiveBack, "give_back")?;
            let key = claim_key(&claim.rule, &claim.contact_id);
            let pending = self
                .claims
                .lock()
                .map(|c| c.get(&key) == Some(&"pending"))
                .unwrap_or(false);
            if pending {
                if let Ok(mut claims) = self.claims.lock() {
                    claims.remove(&key);
                }
                for counter in claim.agent.iter().chain(&claim.reviewer) {
                    self.add(counter.key(), -1);
                }
            }
            Ok(())
        }

        async fn record(&self, claim: &Claim, record: &Record) -> Result<(), StateError> {
            self.call(Op::Record, "record")?;
            let key = claim_key(&claim.rule, &claim.contact_id);
            match self.claims.lock() {
                Ok(claims) if claims.get(&key) == Some(&"started") => return Ok(()),
                Ok(mut claims) if claims.contains_key(&key) => {
                    claims.insert(key, "started");
                }
                _ => return Err(Op::Record.error("the claim is gone (given back or expired)")),
            }
            if let Ok(mut records) = self.records.lock() {
                records.push(record.clone());
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim(agent: bool, reviewer: bool) -> Claim {
        Claim {
            rule: "r".into(),
            contact_id: "c".into(),
            agent: agent.then(|| agent_counter("r", "a", "2026-11-30T00:00:00+00:00", 3)),
            reviewer: reviewer.then(|| reviewer_counter("r", "v", "2026-11-30T00:00:00+00:00", 5)),
            expires: 1,
        }
    }

    fn reason(code: &str, taken: Option<u32>) -> CancellationReason {
        let mut reason = CancellationReason::builder().code(code);
        if let Some(taken) = taken {
            reason = reason.item("taken", n(taken));
        }
        reason.build()
    }

    #[test]
    fn keys_are_as_the_design_says() {
        let agent = agent_counter("new-hires", "u1", "2026-11-30T00:00:00+00:00", 3);
        assert_eq!(
            agent.key(),
            ("agent#new-hires#u1".into(), "2026-11-30T00:00:00+00:00".into())
        );
        assert_eq!(reviewer_counter("r", "u2", "p", 1).pk, "reviewer#r#u2");
        assert_eq!(claim_key("r", "c1"), ("claim#r#c1".into(), "claim".into()));
        assert_eq!(record_partition("r", "2026-12-01"), "record#r#2026-12-01");
    }

    #[test]
    fn a_cancellation_says_which_condition_failed() {
        let ok = || reason("None", None);
        let full = |taken| reason(CONDITION_FAILED, taken);
        let both = claim(true, true);
        assert_eq!(
            read_take_cancellation(&[full(None), ok(), ok()], &both),
            Some(Taken::Held)
        );
        // The claim wins: the contact counts once, whatever the counters say.
        assert_eq!(
            read_take_cancellation(&[full(None), full(Some(3)), ok()], &both),
            Some(Taken::Held)
        );
        assert_eq!(
            read_take_cancellation(&[ok(), full(Some(4)), ok()], &both),
            Some(Taken::AgentFull { taken: 4 })
        );
        // Without the item, the limit: the condition failing says taken >= limit.
        assert_eq!(
            read_take_cancellation(&[ok(), full(None), ok()], &both),
            Some(Taken::AgentFull { taken: 3 })
        );
        assert_eq!(
            read_take_cancellation(&[ok(), ok(), full(None)], &both),
            Some(Taken::ReviewerFull)
        );
        // Without an agent counter, item 1 is the reviewer's.
        assert_eq!(
            read_take_cancellation(&[ok(), full(None)], &claim(false, true)),
            Some(Taken::ReviewerFull)
        );
        assert_eq!(
            read_take_cancellation(&[ok(), reason("TransactionConflict", None)], &both),
            None
        );
    }

    #[test]
    fn taken_reads_leniently_but_not_blindly() {
        assert_eq!(read_taken(&HashMap::new()), Ok(0));
        assert_eq!(read_taken(&HashMap::from([("taken".into(), n(-1))])), Ok(0));
        assert_eq!(read_taken(&HashMap::from([("taken".into(), n(7))])), Ok(7));
        assert!(read_taken(&HashMap::from([("taken".into(), s("7"))])).is_err());
        assert!(read_taken(&HashMap::from([("taken".into(), n("1.5"))])).is_err());
    }

    #[test]
    fn a_record_item_has_the_designed_attributes() {
        let record = Record {
            contact_id: "c".into(),
            agent: "a".into(),
            reviewer: "v".into(),
            rule: "r".into(),
            event_type: "CONNECTED_TO_AGENT".into(),
            event_time: "2026-12-01T09:00:00Z".into(),
            started_at: "2026-12-01T09:00:01Z".into(),
            monitor_arn: "arn:m".into(),
            quota: Some(3),
            team: None,
            day: "2026-12-01".into(),
            expires: 42,
        };
        let item = record_item(&record);
        assert_eq!(item.get("pk"), Some(&s("record#r#2026-12-01")));
        assert_eq!(item.get("sk"), Some(&s("2026-12-01T09:00:00Z#c")));
        assert_eq!(item.get("quota"), Some(&n(3)));
        assert_eq!(item.get("expires"), Some(&n(42)));
        assert!(!item.contains_key("team"));
        let mut names: Vec<&str> = item.keys().map(String::as_str).collect();
        names.sort_unstable();
        assert_eq!(
            names,
            [
                "agent",
                "contact",
                "eventTime",
                "eventType",
                "expires",
                "monitorArn",
                "pk",
                "quota",
                "reviewer",
                "rule",
                "sk",
                "startedAt"
            ]
        );
    }

    #[test]
    fn the_sdk_retries_a_few_times_within_a_batch_friendly_bound() {
        let retry = retry_config();
        assert_eq!(retry.mode(), aws_config::retry::RetryMode::Standard);
        assert_eq!(retry.max_attempts(), MAX_ATTEMPTS);
        let timeouts = timeout_config();
        assert_eq!(timeouts.operation_timeout(), Some(OPERATION_TIMEOUT));
        assert_eq!(timeouts.operation_attempt_timeout(), Some(ATTEMPT_TIMEOUT));
        assert!(OPERATION_TIMEOUT <= Duration::from_secs(3));
    }

    #[test]
    fn a_state_error_becomes_state_unavailable_without_customer_data() {
        let error: MonitorError = Op::Take.error("DynamoDB did not answer within 3 s").into();
        assert_eq!(error.kind, ErrorKind::StateUnavailable);
        assert!(
            error
                .message
                .contains("take (TransactWriteItems): DynamoDB did not answer"),
            "{error}"
        );
        assert!(error.kind.meaning().batch_item_failure);
    }

    #[tokio::test]
    async fn the_memory_double_keeps_the_tables_rules() {
        let state = memory::MemoryState::default();
        let first = claim(true, false);
        assert_eq!(state.take(&first).await, Ok(Taken::Taken));
        assert_eq!(state.take(&first).await, Ok(Taken::Held));
        let full = |contact: &str| Claim {
            contact_id: contact.into(),
            ..claim(true, false)
        };
        assert_eq!(state.take(&full("c2")).await, Ok(Taken::Taken));
        assert_eq!(state.take(&full("c3")).await, Ok(Taken::Taken));
        assert_eq!(state.take(&full("c4")).await, Ok(Taken::AgentFull { taken: 3 }));
        assert_eq!(state.give_back(&full("c3")).await, Ok(()));
        let key = first.agent.as_ref().map(Counter::key).unwrap_or_default();
        assert_eq!(state.counts(std::slice::from_ref(&key)).await, Ok(vec![2]));
        if let Ok(mut unavailable) = state.unavailable.lock() {
            *unavailable = true;
        }
        assert!(state.counts(&[key]).await.is_err());
        assert_eq!(
            state.calls(),
            ["take", "take", "take", "take", "take", "give_back", "counts", "counts"]
        );
    }
}

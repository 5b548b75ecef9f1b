//! A local Amazon Connect double for tests, local runs and benchmarks: an HTTP/1.1 server on
//! 127.0.0.1 that answers the three operations the function uses the way the service does:
//!
//! - MonitorContact (`POST /contact/monitor`),
//! - DescribeContact (`GET /contacts/{InstanceId}/{ContactId}`),
//! - GetCurrentUserData (`POST /metrics/userdata/{InstanceId}`, `Agents` filter).
//!
//! Rules:
//! - Every request must be SigV4-signed (an `Authorization: AWS4-HMAC-SHA256 Credential=.../connect/aws4_request,
//!   SignedHeaders=..., Signature=...` header and `x-amz-date`); otherwise 403 as the service answers.
//! - Quotas (optional, [`Quotas`]): a token bucket per API (rate per second, burst), as Connect's
//!   account-wide quotas are per API; a request beyond it gets 429 ThrottlingException "Rate exceeded".
//!   Throttled answers are counted per operation ([`ConnectDouble::throttled`]).
//! - Bodies and path parameters are validated with the API's rules (lengths, capability values, filter
//!   sizes); 400 InvalidRequestException.
//! - A [`Scenario`] (built in code or loaded from a JSON file) says which instances, contacts and users
//!   exist: unknown ones get 404 ResourceNotFoundException. Contacts are live or ended, of a channel and
//!   an initiation method; users are logged in to the CCP or not, and monitor some contacts already.
//!   MonitorContact for a user who is not logged in, or who already monitors as many contacts as
//!   allowed, gets 402 ServiceQuotaExceededException; for an ended contact, or one that is not voice
//!   or chat, 400 InvalidRequestException. A voice contact takes at most two supervisors: a third
//!   user's MonitorContact gets 402 ServiceQuotaExceededException (chat: no such limit).
//! - The state moves like the service's: a monitor MonitorContact starts is a new contact (initiation
//!   method MONITOR, which DescribeContact reports) and shows in the supervisor's contacts in
//!   GetCurrentUserData.
//! - Contacts have a life in real time when a test or benchmark wants one: they can be added and
//!   ended while the double runs ([`ConnectDouble::add_contact`], [`ConnectDouble::end_contact`]), or
//!   be given a lifetime (`lifetimeSeconds`). An ended contact is refused by MonitorContact (400
//!   InvalidRequestException) and described with a DisconnectTimestamp; its monitors end with it (the
//!   supervisor is free again: GetCurrentUserData no longer lists the monitor, MonitorContact no
//!   longer counts it). Monitors started outside the function (a supervisor in the CCP) can be added
//!   too ([`ConnectDouble::add_monitor`]).
//! - ClientToken idempotency: the same token with the same parameters replays the first answer; the
//!   same token with other parameters gets 409 IdempotencyException.
//! - Failures can be scripted (status, `x-amzn-ErrorType`, message; for any operation or one), and
//!   answers delayed.
//!
//! Timestamps: contacts of the scenario without a lifetime, and the contacts GetCurrentUserData
//! lists, are stamped from a fixed clock ([`NOW`]), so answers about them are reproducible; contacts
//! with a life (added at run time, given a lifetime, or ended by [`ConnectDouble::end_contact`]) are
//! stamped with the real times they started and ended.
//!
//! The signature itself is not verified (the double has no secret to verify it with); its presence
//! and form are. GetCurrentUserData filters on `Agents` only (the function uses no other filter).
#![allow(dead_code)]

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use serde::Deserialize;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The operations the double answers.
pub const MONITOR_CONTACT: &str = "MonitorContact";
pub const DESCRIBE_CONTACT: &str = "DescribeContact";
pub const GET_CURRENT_USER_DATA: &str = "GetCurrentUserData";

/// A request as the double received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    /// The operation the request is for, by method and path.
    pub fn operation(&self) -> Option<&'static str> {
        let segments: Vec<&str> = self
            .path
            .split('?')
            .next()?
            .trim_start_matches('/')
            .split('/')
            .collect();
        match (self.method.as_str(), segments.as_slice()) {
            ("POST", ["contact", "monitor"]) => Some(MONITOR_CONTACT),
            ("GET", ["contacts", _, _]) => Some(DESCRIBE_CONTACT),
            ("POST", ["metrics", "userdata", _]) => Some(GET_CURRENT_USER_DATA),
            _ => None,
        }
    }

    /// The path's segments after the first `skip`, percent-decoded.
    fn path_parameters(&self, skip: usize) -> Vec<String> {
        self.path
            .split('?')
            .next()
            .unwrap_or_default()
            .trim_start_matches('/')
            .split('/')
            .skip(skip)
            .map(percent_decode)
            .collect()
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A scripted answer, used instead of the normal one for the next request.
#[derive(Debug, Clone)]
pub struct Failure {
    pub status: u16,
    pub error_type: String,
    pub message: String,
}

impl Failure {
    pub fn new(status: u16, error_type: &str, message: &str) -> Failure {
        Failure {
            status,
            error_type: error_type.to_owned(),
            message: message.to_owned(),
        }
    }
}

/// A contact the double knows.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContactSpec {
    #[serde(default = "voice")]
    pub channel: String,
    #[serde(default = "inbound")]
    pub initiation_method: String,
    /// The contact has ended (DescribeContact reports a DisconnectTimestamp).
    #[serde(default)]
    pub ended: bool,
    /// The contact ends this many seconds after it starts: after the double starts, for a contact of
    /// the scenario; after [`ConnectDouble::add_contact`], for one added later. None: it lasts.
    #[serde(default)]
    pub lifetime_seconds: Option<f64>,
}

fn voice() -> String {
    "VOICE".into()
}

fn inbound() -> String {
    "INBOUND".into()
}

impl ContactSpec {
    /// A live inbound contact on `channel`.
    pub fn live(channel: &str) -> ContactSpec {
        ContactSpec {
            channel: channel.into(),
            initiation_method: inbound(),
            ended: false,
            lifetime_seconds: None,
        }
    }

    /// The same contact, ending `lifetime` after it starts.
    pub fn lasting(mut self, lifetime: Duration) -> ContactSpec {
        self.lifetime_seconds = Some(lifetime.as_secs_f64());
        self
    }

    fn lifetime(&self) -> Option<Duration> {
        self.lifetime_seconds.and_then(|s| Duration::try_from_secs_f64(s).ok())
    }
}

/// A user the double knows.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct User {
    /// Logged in to the CCP (GetCurrentUserData reports only users who are).
    pub logged_in: bool,
    /// Contacts this user is monitoring already (besides those the double starts).
    #[serde(default)]
    pub monitoring: u32,
    /// Customer contacts this user is handling as an agent (not monitors).
    #[serde(default)]
    pub handling: u32,
}

impl User {
    /// Logged in, monitoring nothing, handling nothing.
    pub fn free() -> User {
        User {
            logged_in: true,
            monitoring: 0,
            handling: 0,
        }
    }
}

/// What exists. `None` for a set means "any well-formed ID exists": a contact as a live inbound voice
/// contact, a user as logged in and monitoring nothing.
///
/// As JSON (see `tests/scenarios/`), every key optional:
///
/// ```json
/// { "instances": ["<instance id>"],
///   "contacts": { "<contact id>": { "channel": "VOICE", "initiationMethod": "INBOUND", "ended": false,
///                                   "lifetimeSeconds": 30 } },
///   "users": { "<user id>": { "loggedIn": true, "monitoring": 0, "handling": 1 } },
///   "maxMonitorsPerUser": 1,
///   "quotas": { "rate": 2, "burst": 5, "GetCurrentUserData": { "rate": 5, "burst": 8 } } }
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Scenario {
    #[serde(default)]
    pub instances: Option<HashSet<String>>,
    #[serde(default)]
    pub contacts: Option<HashMap<String, ContactSpec>>,
    #[serde(default)]
    pub users: Option<HashMap<String, User>>,
    /// How many contacts one user may monitor at once.
    #[serde(default = "unlimited", rename = "maxMonitorsPerUser")]
    pub max_monitors: u32,
    /// Request quotas per API; none: unlimited.
    #[serde(default)]
    pub quotas: Option<Quotas>,
}

/// One API's quota: a token bucket of `burst` requests, refilled at `rate` per second (full at start).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quota {
    pub rate: f64,
    pub burst: f64,
}

impl Quota {
    fn check(&self, name: &str) -> Result<(), String> {
        if !(self.rate.is_finite() && self.rate > 0.0 && self.burst.is_finite() && self.burst >= 1.0) {
            return Err(format!("quota {name}: rate must be > 0 and burst >= 1"));
        }
        Ok(())
    }
}

/// Quotas for every API (`rate` and `burst` at the top), per operation (by name), or both (the
/// operation's own wins).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quotas {
    #[serde(default)]
    pub rate: Option<f64>,
    #[serde(default)]
    pub burst: Option<f64>,
    #[serde(default, rename = "MonitorContact")]
    pub monitor_contact: Option<Quota>,
    #[serde(default, rename = "DescribeContact")]
    pub describe_contact: Option<Quota>,
    #[serde(default, rename = "GetCurrentUserData")]
    pub get_current_user_data: Option<Quota>,
}

impl Quotas {
    /// The same quota for every API (Connect's default is 2 per second, burst 5, per account and
    /// region, for each of the three).
    pub fn every_api(rate: f64, burst: f64) -> Quotas {
        Quotas {
            rate: Some(rate),
            burst: Some(burst),
            ..Quotas::default()
        }
    }

    /// The quota of `operation`, if it has one.
    pub fn of(&self, operation: &str) -> Option<Quota> {
        let own = match operation {
            MONITOR_CONTACT => self.monitor_contact,
            DESCRIBE_CONTACT => self.describe_contact,
            GET_CURRENT_USER_DATA => self.get_current_user_data,
            _ => None,
        };
        let every = match (self.rate, self.burst) {
            (Some(rate), Some(burst)) => Some(Quota { rate, burst }),
            _ => None,
        };
        own.or(every)
    }

    fn check(&self) -> Result<(), String> {
        if self.rate.is_some() != self.burst.is_some() {
            return Err("quotas: give both rate and burst, or neither".into());
        }
        for operation in [MONITOR_CONTACT, DESCRIBE_CONTACT, GET_CURRENT_USER_DATA] {
            if let Some(quota) = self.of(operation) {
                quota.check(operation)?;
            }
        }
        Ok(())
    }
}

fn unlimited() -> u32 {
    u32::MAX
}

impl Default for Scenario {
    fn default() -> Scenario {
        Scenario::open()
    }
}

impl Scenario {
    /// Any well-formed instance, contact and user exists; every user is logged in and free.
    pub fn open() -> Scenario {
        Scenario {
            instances: None,
            contacts: None,
            users: None,
            max_monitors: u32::MAX,
            quotas: None,
        }
    }

    /// One instance whose only users are `supervisors`, logged in and free, each monitoring at most
    /// `max_monitors` contacts at once; contacts only as they are added (the benchmarks' shape).
    pub fn supervisors(instance: &str, supervisors: &[String], max_monitors: u32) -> Scenario {
        Scenario {
            instances: Some([instance.to_owned()].into_iter().collect()),
            contacts: Some(HashMap::new()),
            users: Some(supervisors.iter().map(|id| (id.clone(), User::free())).collect()),
            max_monitors,
            quotas: None,
        }
    }

    /// A scenario from its JSON text.
    pub fn from_json(text: &str) -> Result<Scenario, String> {
        let scenario: Scenario = serde_json::from_str(text).map_err(|e| format!("not a scenario: {e}"))?;
        scenario.check().map_err(|e| format!("not a scenario: {e}"))?;
        Ok(scenario)
    }

    /// A scenario from a JSON file.
    pub fn from_file(path: &str) -> Result<Scenario, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
        Scenario::from_json(&text).map_err(|e| format!("{path}: {e}"))
    }

    /// What JSON cannot say wrong by its types alone: quotas and lifetimes in range.
    pub fn check(&self) -> Result<(), String> {
        if let Some(quotas) = &self.quotas {
            quotas.check()?;
        }
        for (id, contact) in self.contacts.iter().flatten() {
            if contact.lifetime_seconds.is_some() && contact.lifetime().is_none() {
                return Err(format!(
                    "contact {id}: lifetimeSeconds must be a number of seconds >= 0"
                ));
            }
        }
        Ok(())
    }
}

/// A monitor: started by MonitorContact, or added as already running ([`ConnectDouble::add_monitor`]).
#[derive(Debug, Clone)]
pub struct Monitor {
    /// The monitor's own contact ID (what MonitorContact answers).
    pub id: String,
    /// The contact monitored.
    pub contact: String,
    pub channel: String,
    pub user: String,
    /// The ClientToken it was started with.
    pub token: Option<String>,
    /// Started by MonitorContact (false: added with [`ConnectDouble::add_monitor`]).
    pub by_api: bool,
    pub started: Instant,
    /// When it ended (with its contact).
    pub ended: Option<Instant>,
}

impl Monitor {
    pub fn running(&self) -> bool {
        self.ended.is_none()
    }
}

/// A contact with a life in real time (added at run time, given a lifetime, or ended on request).
#[derive(Debug, Clone)]
struct Live {
    spec: ContactSpec,
    started: Instant,
    /// When its lifetime is over.
    ends: Option<Instant>,
    ended: Option<Instant>,
}

/// One answer of the double.
#[derive(Debug, Clone)]
pub struct Served {
    pub at: Instant,
    pub operation: Option<&'static str>,
    pub status: u16,
    /// The `x-amzn-ErrorType` of an error.
    pub error_type: Option<String>,
}

impl Served {
    pub fn throttled(&self) -> bool {
        self.status == 429
    }
}

/// Real time as epoch seconds, for the contacts that live in it.
#[derive(Debug)]
struct Clock {
    instant: Instant,
    wall: SystemTime,
}

impl Default for Clock {
    fn default() -> Clock {
        Clock {
            instant: Instant::now(),
            wall: SystemTime::now(),
        }
    }
}

impl Clock {
    fn epoch_seconds(&self, at: Instant) -> f64 {
        let wall = match at.checked_duration_since(self.instant) {
            Some(after) => self.wall + after,
            None => self.wall - self.instant.duration_since(at),
        };
        wall.duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| (d.as_millis() as f64) / 1000.0)
            .unwrap_or(0.0)
    }
}

/// One API's token bucket.
#[derive(Debug)]
struct Bucket {
    quota: Quota,
    tokens: f64,
    at: Instant,
}

#[derive(Debug, Default)]
pub struct State {
    pub scenario: Scenario,
    pub requests: Vec<Recorded>,
    /// Scripted answers, each for the next request of its operation (`None`: of any operation).
    pub failures: VecDeque<(Option<&'static str>, Failure)>,
    pub delay: Duration,
    /// Every answer, in order.
    pub served: Vec<Served>,
    /// ClientToken → (request parameters, answer).
    tokens: HashMap<String, (Value, Value)>,
    monitors: Vec<Monitor>,
    /// Contacts with a life, by ID: they take precedence over the scenario's.
    live: HashMap<String, Live>,
    /// When contacts with a lifetime end.
    endings: BinaryHeap<Reverse<(Instant, String)>>,
    buckets: HashMap<&'static str, Bucket>,
    clock: Clock,
}

impl State {
    /// Running monitors of `user`.
    fn monitors_of(&self, user: &str) -> impl Iterator<Item = &Monitor> {
        self.monitors.iter().filter(move |m| m.user == user && m.running())
    }

    /// How the user looks now: from the scenario (or logged in and free in an open one), with the
    /// running monitors the double knows.
    fn user(&self, id: &str) -> Option<User> {
        let mut user = match &self.scenario.users {
            None => User::free(),
            Some(users) => users.get(id)?.clone(),
        };
        user.monitoring += u32::try_from(self.monitors_of(id).count()).unwrap_or(u32::MAX);
        Some(user)
    }

    fn contact(&self, id: &str) -> Option<ContactSpec> {
        if let Some(monitor) = self.monitors.iter().find(|m| m.id == id) {
            return Some(ContactSpec {
                channel: monitor.channel.clone(),
                initiation_method: "MONITOR".into(),
                ended: !monitor.running(),
                lifetime_seconds: None,
            });
        }
        if let Some(live) = self.live.get(id) {
            return Some(ContactSpec {
                ended: live.ended.is_some(),
                ..live.spec.clone()
            });
        }
        match &self.scenario.contacts {
            None => Some(ContactSpec::live("VOICE")),
            Some(contacts) => contacts.get(id).cloned(),
        }
    }

    fn instance_exists(&self, id: &str) -> bool {
        self.scenario.instances.as_ref().is_none_or(|s| s.contains(id))
    }

    /// Monitors MonitorContact started so far (running or ended).
    pub fn started(&self) -> usize {
        self.monitors.iter().filter(|m| m.by_api).count()
    }

    /// Every monitor, in the order they started.
    pub fn monitors(&self) -> &[Monitor] {
        &self.monitors
    }

    /// Whether a contact with a life has ended (false for the scenario's own and unknown contacts).
    pub fn has_ended(&self, id: &str) -> bool {
        self.live.get(id).is_some_and(|l| l.ended.is_some())
    }

    /// Throttled answers so far, by operation.
    pub fn throttled(&self) -> BTreeMap<&'static str, usize> {
        let mut counts = BTreeMap::new();
        for served in self.served.iter().filter(|s| s.throttled()) {
            *counts.entry(served.operation.unwrap_or("?")).or_insert(0) += 1;
        }
        counts
    }

    /// A contact starts its life at `now` (replacing what was known about it).
    fn add_live(&mut self, id: &str, spec: ContactSpec, now: Instant) {
        let ended = spec.ended.then_some(now);
        let ends = spec
            .lifetime()
            .filter(|_| ended.is_none())
            .map(|lifetime| now + lifetime);
        if let Some(at) = ends {
            self.endings.push(Reverse((at, id.to_owned())));
        }
        self.live.insert(
            id.to_owned(),
            Live {
                spec,
                started: now,
                ends,
                ended,
            },
        );
    }

    /// Ends a contact, and the monitors on it, at `at`; false if it had ended already.
    fn end_at(&mut self, id: &str, at: Instant) -> bool {
        if !self.live.contains_key(id) {
            // A contact of the scenario (or of an open one) starts its life to end it.
            let Some(spec) = self.contact(id) else {
                return false;
            };
            self.add_live(id, spec, at);
        }
        let Some(live) = self.live.get_mut(id) else {
            return false;
        };
        if live.ended.is_some() {
            return false;
        }
        live.ended = Some(at);
        for monitor in self.monitors.iter_mut().filter(|m| m.contact == id && m.running()) {
            monitor.ended = Some(at);
        }
        true
    }

    /// Ends the contacts whose lifetime is over by `now`, each at its own end.
    fn refresh(&mut self, now: Instant) {
        while let Some(Reverse((at, _))) = self.endings.peek()
            && *at <= now
        {
            // A contact replaced since keeps only its new lifetime.
            if let Some(Reverse((at, id))) = self.endings.pop()
                && self.live.get(&id).is_some_and(|l| l.ends == Some(at))
            {
                self.end_at(&id, at);
            }
        }
    }

    /// Takes a request from `operation`'s bucket; false when the quota says no.
    fn admit(&mut self, operation: &'static str, now: Instant) -> bool {
        let Some(quota) = self.scenario.quotas.as_ref().and_then(|q| q.of(operation)) else {
            return true;
        };
        let bucket = self.buckets.entry(operation).or_insert(Bucket {
            quota,
            tokens: quota.burst,
            at: now,
        });
        if bucket.quota != quota {
            // The quota changed while the double ran: a full bucket of the new one.
            *bucket = Bucket {
                quota,
                tokens: quota.burst,
                at: now,
            };
        }
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * quota.rate).min(quota.burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// The supervisors (other than `user`) with a running monitor on `contact`.
    fn other_supervisors_on(&self, contact: &str, user: &str) -> usize {
        let users: HashSet<&str> = self
            .monitors
            .iter()
            .filter(|m| m.contact == contact && m.running() && m.user != user)
            .map(|m| m.user.as_str())
            .collect();
        users.len()
    }

    fn new_monitor_id(&self) -> String {
        format!("00000000-0000-4000-8000-{:012x}", self.monitors.len() + 1)
    }
}

pub struct ConnectDouble {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ConnectDouble {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Another integration in the same account and region (the CCP's, a reporting job, another
/// function): its requests take tokens from the double's per-API buckets, so the function's requests
/// meet a quota it shares. Requests arrive at random (a Poisson process: bursts included) at `rate`
/// per second; one the quota refuses is counted and dropped. Stops when dropped.
pub struct OtherClient {
    task: tokio::task::JoinHandle<()>,
    /// Each request: when, and whether the quota admitted it.
    log: Arc<Mutex<Vec<(Instant, bool)>>>,
}

impl OtherClient {
    /// (requests admitted, requests throttled) so far.
    pub fn counts(&self) -> (u64, u64) {
        let log = self.log.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let admitted = log.iter().filter(|(_, admitted)| *admitted).count() as u64;
        (admitted, log.len() as u64 - admitted)
    }

    /// Each request so far: when it reached the quota, and whether it was admitted.
    #[allow(dead_code)]
    pub fn log(&self) -> Vec<(Instant, bool)> {
        self.log.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }
}

impl Drop for OtherClient {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ConnectDouble {
    /// Starts the double on 127.0.0.1 (port 0: any free port).
    pub async fn start(scenario: Scenario) -> std::io::Result<ConnectDouble> {
        ConnectDouble::start_on(scenario, 0).await
    }

    pub async fn start_on(scenario: Scenario, port: u16) -> std::io::Result<ConnectDouble> {
        scenario
            .check()
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        let addr = listener.local_addr()?;
        let mut state = State {
            scenario,
            ..State::default()
        };
        let now = state.clock.instant;
        let lasting: Vec<(String, ContactSpec)> = state
            .scenario
            .contacts
            .iter()
            .flatten()
            .filter(|(_, spec)| spec.lifetime_seconds.is_some())
            .map(|(id, spec)| (id.clone(), spec.clone()))
            .collect();
        for (id, spec) in lasting {
            state.add_live(&id, spec, now);
        }
        let state = Arc::new(Mutex::new(state));
        let shared = Arc::clone(&state);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, Arc::clone(&shared)));
            }
        });
        Ok(ConnectDouble { addr, state, task })
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Starts another client of `operation` at `rate` requests per second (see [`OtherClient`]),
    /// its arrivals drawn from `seed`.
    pub fn other_client(&self, operation: &'static str, rate: f64, seed: u64) -> OtherClient {
        let state = Arc::clone(&self.state);
        let log: Arc<Mutex<Vec<(Instant, bool)>>> = Arc::default();
        let shared = Arc::clone(&log);
        let task = tokio::spawn(async move {
            let mut x = seed | 1;
            // Each arrival at its own instant from the start (not a sleep after the last one wakes),
            // so that timer rounding and a busy machine do not drift the arrivals between runs.
            let mut at = tokio::time::Instant::now();
            loop {
                // xorshift64*: a uniform draw in (0, 1], then an exponential gap.
                x ^= x >> 12;
                x ^= x << 25;
                x ^= x >> 27;
                let unit = ((x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
                at += Duration::from_secs_f64(-unit.ln() / rate);
                tokio::time::sleep_until(at).await;
                let now = Instant::now();
                let admitted = state
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .admit(operation, now);
                shared
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .push((now, admitted));
            }
        });
        OtherClient { task, log }
    }

    /// The state, with the contacts whose lifetime is over ended.
    pub fn state(&self) -> MutexGuard<'_, State> {
        let mut state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        state.refresh(Instant::now());
        state
    }

    /// Adds a contact (or replaces one) that starts now; with a lifetime (see [`ContactSpec::lasting`])
    /// it ends by itself.
    pub fn add_contact(&self, id: &str, spec: ContactSpec) {
        self.state().add_live(id, spec, Instant::now());
    }

    /// Ends a contact now, and the monitors on it; false if it was unknown or had ended already.
    pub fn end_contact(&self, id: &str) -> bool {
        self.state().end_at(id, Instant::now())
    }

    /// Adds a monitor that is already running (a supervisor who started it in the CCP, or the center's
    /// state before a test): `user` monitors `contact` from now until the contact ends. Returns the
    /// monitor's contact ID.
    pub fn add_monitor(&self, contact: &str, user: &str) -> String {
        let mut state = self.state();
        let channel = state
            .contact(contact)
            .map(|c| c.channel)
            .unwrap_or_else(|| "VOICE".to_owned());
        let id = state.new_monitor_id();
        state.monitors.push(Monitor {
            id: id.clone(),
            contact: contact.to_owned(),
            channel,
            user: user.to_owned(),
            token: None,
            by_api: false,
            started: Instant::now(),
            ended: None,
        });
        id
    }

    /// Every monitor so far, running or ended.
    pub fn monitors(&self) -> Vec<Monitor> {
        self.state().monitors.clone()
    }

    /// Throttled answers so far, by operation.
    pub fn throttled(&self) -> BTreeMap<&'static str, usize> {
        self.state().throttled()
    }

    /// Every answer so far.
    pub fn served(&self) -> Vec<Served> {
        self.state().served.clone()
    }

    /// Answers the next requests with these failures, in order.
    pub fn fail_next(&self, failures: impl IntoIterator<Item = Failure>) {
        self.state().failures.extend(failures.into_iter().map(|f| (None, f)));
    }

    /// Answers the next requests for `operation` with these failures, in order.
    pub fn fail_next_on(&self, operation: &'static str, failures: impl IntoIterator<Item = Failure>) {
        self.state()
            .failures
            .extend(failures.into_iter().map(|f| (Some(operation), f)));
    }

    /// The requests for one operation.
    pub fn requests_for(&self, operation: &str) -> Vec<Recorded> {
        self.state()
            .requests
            .iter()
            .filter(|r| r.operation() == Some(operation))
            .cloned()
            .collect()
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state().requests.clone()
    }
}

/// Serves one connection: HTTP/1.1 with keep-alive, Content-Length bodies.
async fn serve(mut stream: TcpStream, state: Arc<Mutex<State>>) {
    let mut buffer = Vec::new();
    loop {
        let Some(request) = read_request(&mut stream, &mut buffer).await else {
            return;
        };
        let (delay, (status, headers, body)) = {
            let mut state = state.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            state.refresh(now);
            state.requests.push(request.clone());
            let answer = answer(&mut state, &request, now);
            let error_type = answer
                .1
                .iter()
                .find(|(name, _)| *name == "x-amzn-errortype")
                .map(|(_, value)| value.clone());
            state.served.push(Served {
                at: now,
                operation: request.operation(),
                status: answer.0,
                error_type,
            });
            (state.delay, answer)
        };
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let request_id = format!("double-{}", state.lock().map(|s| s.requests.len()).unwrap_or(0));
        let mut all_headers = vec![("x-amzn-requestid", request_id)];
        all_headers.extend(headers);
        if write_response(&mut stream, status, &all_headers, &body).await.is_err() {
            return;
        }
    }
}

/// Reads one HTTP/1.1 request from a keep-alive connection (`buffer` keeps what was read past it).
/// Bodies may have a Content-Length or be chunked. `None` when the peer closed the connection.
pub async fn read_request(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<Recorded> {
    let head_end = loop {
        if let Some(pos) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos;
        }
        fill(stream, buffer).await?;
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let (method, path) = (request_line.next()?.to_owned(), request_line.next()?.to_owned());
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut request = Recorded {
        method,
        path,
        headers,
        body: String::new(),
    };
    buffer.drain(..head_end + 4);
    let body = if request
        .header("transfer-encoding")
        .is_some_and(|t| t.eq_ignore_ascii_case("chunked"))
    {
        let mut body = Vec::new();
        loop {
            let line_end = loop {
                if let Some(pos) = buffer.windows(2).position(|w| w == b"\r\n") {
                    break pos;
                }
                fill(stream, buffer).await?;
            };
            let size_text = String::from_utf8_lossy(&buffer[..line_end]).into_owned();
            let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
            while buffer.len() < line_end + 2 + size + 2 {
                fill(stream, buffer).await?;
            }
            body.extend_from_slice(&buffer[line_end + 2..line_end + 2 + size]);
            buffer.drain(..line_end + 2 + size + 2);
            if size == 0 {
                break body;
            }
        }
    } else {
        let length: usize = request
            .header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        while buffer.len() < length {
            fill(stream, buffer).await?;
        }
        buffer.drain(..length).collect()
    };
    request.body = String::from_utf8_lossy(&body).into_owned();
    Some(request)
}

/// Reads more bytes into `buffer`; `None` at the end of the stream or past 1 MiB.
async fn fill(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<()> {
    let mut chunk = [0u8; 8192];
    let n = stream.read(&mut chunk).await.ok()?;
    if n == 0 || buffer.len() > 1 << 20 {
        return None;
    }
    buffer.extend_from_slice(&chunk[..n]);
    Some(())
}

/// Writes an HTTP/1.1 response with a body and the given headers.
pub async fn write_response(
    stream: &mut TcpStream,
    status: u16,
    headers: &[(&str, String)],
    body: &str,
) -> std::io::Result<()> {
    let mut response = format!(
        "HTTP/1.1 {status} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
        reason(status),
        body.len()
    );
    for (name, value) in headers {
        response.push_str(&format!("{name}: {value}\r\n"));
    }
    response.push_str("\r\n");
    response.push_str(body);
    stream.write_all(response.as_bytes()).await
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        202 => "Accepted",
        400 => "Bad Request",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

type Answer = (u16, Vec<(&'static str, String)>, String);

fn error(status: u16, error_type: &str, message: &str) -> Answer {
    (
        status,
        vec![("x-amzn-errortype", error_type.to_owned())],
        json!({ "Message": message }).to_string(),
    )
}

/// The region from the SigV4 credential scope (`Credential=AKID/20261122/us-east-1/connect/aws4_request`).
fn signed_region(request: &Recorded) -> Option<String> {
    let auth = request.header("authorization")?;
    let rest = auth.strip_prefix("AWS4-HMAC-SHA256 ")?;
    let credential = rest
        .split(',')
        .map(str::trim)
        .find_map(|p| p.strip_prefix("Credential="))?;
    let scope: Vec<&str> = credential.split('/').collect();
    let signed = rest
        .split(',')
        .map(str::trim)
        .any(|p| p.starts_with("SignedHeaders=") && p.contains("host") && p.contains("x-amz-date"));
    let signature = rest
        .split(',')
        .map(str::trim)
        .find_map(|p| p.strip_prefix("Signature="))?;
    let well_formed = scope.len() == 5
        && scope[3] == "connect"
        && scope[4] == "aws4_request"
        && signed
        && signature.len() == 64
        && signature.bytes().all(|b| b.is_ascii_hexdigit())
        && request.header("x-amz-date").is_some();
    well_formed.then(|| scope[2].to_owned())
}

fn text_field<'a>(body: &'a Value, name: &str, min: usize, max: usize) -> Result<Option<&'a str>, Answer> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if (min..=max).contains(&s.chars().count()) => Ok(Some(s)),
        Some(_) => Err(invalid(&format!("{name} is not valid"))),
    }
}

const ACCOUNT: &str = "111122223333";

/// The double's clock, in epoch seconds: fixed, so answers are reproducible.
const NOW: f64 = 1_795_000_000.0;

fn answer(state: &mut State, request: &Recorded, now: Instant) -> Answer {
    let Some(operation) = request.operation() else {
        return error(
            404,
            "UnknownOperationException",
            "the double answers MonitorContact, DescribeContact and GetCurrentUserData only",
        );
    };
    let Some(region) = signed_region(request) else {
        return error(
            403,
            "IncompleteSignatureException",
            "the request is not signed with SigV4",
        );
    };
    if !state.admit(operation, now) {
        return error(429, "ThrottlingException", "Rate exceeded");
    }
    if let Some(index) = state
        .failures
        .iter()
        .position(|(op, _)| op.is_none_or(|op| op == operation))
        && let Some((_, failure)) = state.failures.remove(index)
    {
        return error(failure.status, &failure.error_type, &failure.message);
    }
    let result = match operation {
        MONITOR_CONTACT => monitor_contact(state, request, &region),
        DESCRIBE_CONTACT => describe_contact(state, request, &region),
        _ => current_user_data(state, request, &region),
    };
    result.unwrap_or_else(|answer| answer)
}

fn invalid(message: &str) -> Answer {
    error(400, "InvalidRequestException", message)
}

fn not_found(message: &str) -> Answer {
    error(404, "ResourceNotFoundException", message)
}

fn json_body(request: &Recorded) -> Result<Value, Answer> {
    if !request
        .header("content-type")
        .is_some_and(|t| t.starts_with("application/json"))
    {
        return Err(invalid("Content-Type must be application/json"));
    }
    serde_json::from_str::<Value>(&request.body).map_err(|_| invalid("the body is not JSON"))
}

fn path_id(value: &str, name: &str, max: usize) -> Result<(), Answer> {
    if (1..=max).contains(&value.chars().count()) {
        Ok(())
    } else {
        Err(invalid(&format!("{name} is not valid")))
    }
}

fn instance_arn(region: &str, instance: &str) -> String {
    format!("arn:aws:connect:{region}:{ACCOUNT}:instance/{instance}")
}

fn monitor_contact(state: &mut State, request: &Recorded, region: &str) -> Result<Answer, Answer> {
    let body = json_body(request)?;
    let instance = text_field(&body, "InstanceId", 1, 100)?;
    let contact = text_field(&body, "ContactId", 1, 256)?;
    let user = text_field(&body, "UserId", 1, 256)?;
    let token = text_field(&body, "ClientToken", 0, 500)?.map(str::to_owned);
    let (Some(instance), Some(contact), Some(user)) = (instance, contact, user) else {
        return Err(invalid("InstanceId, ContactId and UserId are required"));
    };
    let (instance, contact, user) = (instance.to_owned(), contact.to_owned(), user.to_owned());
    let capabilities: Vec<String> = match body.get("AllowedMonitorCapabilities") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect(),
        Some(_) => return Err(invalid("AllowedMonitorCapabilities is not valid")),
    };
    let known = ["SILENT_MONITOR", "BARGE"];
    let unique: HashSet<&String> = capabilities.iter().collect();
    if capabilities.len() > 2
        || unique.len() != capabilities.len()
        || !capabilities.iter().all(|c| known.contains(&c.as_str()))
    {
        return Err(invalid("AllowedMonitorCapabilities is not valid"));
    }
    let params = json!({ "InstanceId": instance, "ContactId": contact, "UserId": user, "AllowedMonitorCapabilities": capabilities });
    if let Some(token) = &token
        && let Some((first, answer)) = state.tokens.get(token)
    {
        return if *first == params {
            Ok((200, Vec::new(), answer.to_string()))
        } else {
            Err(error(
                409,
                "IdempotencyException",
                "the ClientToken was used with different parameters",
            ))
        };
    }
    if !state.instance_exists(&instance) {
        return Err(not_found("instance not found"));
    }
    let Some(target) = state.contact(&contact) else {
        return Err(not_found("contact not found"));
    };
    if target.ended {
        return Err(invalid("the contact is not active"));
    }
    if !["VOICE", "CHAT"].contains(&target.channel.as_str()) || target.initiation_method == "MONITOR" {
        return Err(invalid("only voice and chat contacts can be monitored"));
    }
    match state.user(&user) {
        None => return Err(not_found("user not found")),
        Some(u) if !u.logged_in => {
            return Err(error(
                402,
                "ServiceQuotaExceededException",
                "the user is not logged in to the CCP",
            ));
        }
        Some(u) if u.monitoring >= state.scenario.max_monitors => {
            return Err(error(
                402,
                "ServiceQuotaExceededException",
                "the user is at their monitoring limit",
            ));
        }
        Some(_) => {}
    }
    // Connect lets at most two supervisors monitor a voice call (issue 9). The API reference does not
    // document the answer, and no research note says otherwise: the double answers as for the
    // supervisor's own limit, 402 ServiceQuotaExceededException. Chat has no such limit here.
    if target.channel == "VOICE" && state.other_supervisors_on(&contact, &user) >= 2 {
        return Err(error(
            402,
            "ServiceQuotaExceededException",
            "the contact already has the most supervisors a voice contact can have",
        ));
    }
    let monitor_id = state.new_monitor_id();
    let answer = json!({
        "ContactId": monitor_id,
        "ContactArn": format!("{}/contact/{monitor_id}", instance_arn(region, &instance)),
    });
    state.monitors.push(Monitor {
        id: monitor_id,
        contact,
        channel: target.channel,
        user,
        token: token.clone(),
        by_api: true,
        started: Instant::now(),
        ended: None,
    });
    if let Some(token) = token {
        state.tokens.insert(token, (params, answer.clone()));
    }
    Ok((200, Vec::new(), answer.to_string()))
}

/// DescribeContact: the contact as the service describes it, customer endpoint and attributes
/// included (the function must keep them out of its logs).
fn describe_contact(state: &mut State, request: &Recorded, region: &str) -> Result<Answer, Answer> {
    let params = request.path_parameters(1);
    let [instance, contact] = params.as_slice() else {
        return Err(invalid("the path is not valid"));
    };
    path_id(instance, "InstanceId", 100)?;
    path_id(contact, "ContactId", 256)?;
    if !state.instance_exists(instance) {
        return Err(not_found("instance not found"));
    }
    let Some(spec) = state.contact(contact) else {
        return Err(not_found("contact not found"));
    };
    // When it started and ended: real times for a contact with a life (or an ended monitor), the
    // fixed clock for the scenario's own.
    let lived = match (
        state.live.get(contact.as_str()),
        state.monitors.iter().find(|m| &m.id == contact),
    ) {
        (_, Some(monitor)) if !monitor.running() => Some((monitor.started, monitor.ended)),
        (_, Some(_)) => None,
        (Some(live), None) => Some((live.started, live.ended)),
        (None, None) => None,
    };
    // A contact with a life starts when it is connected to the agent (as the benchmark's events say).
    let (connected, last_update, disconnected) = match lived {
        Some((started, ended)) => {
            let connected = state.clock.epoch_seconds(started);
            let ended = ended.map(|at| state.clock.epoch_seconds(at));
            let now = state.clock.epoch_seconds(Instant::now());
            (connected, ended.unwrap_or(now), ended)
        }
        None => (NOW - 100.0, NOW - 5.0, spec.ended.then_some(NOW - 30.0)),
    };
    let initiated = connected - 20.0;
    let mut described = json!({
        "Arn": format!("{}/contact/{contact}", instance_arn(region, instance)),
        "Id": contact,
        "InitialContactId": contact,
        "InitiationMethod": spec.initiation_method,
        "Channel": spec.channel,
        "InitiationTimestamp": initiated,
        "LastUpdateTimestamp": last_update,
        "QueueInfo": { "Id": "q-1", "EnqueueTimestamp": connected - 10.0 },
        "AgentInfo": { "Id": "agent-1", "ConnectedToAgentTimestamp": connected },
        "CustomerEndpoint": { "Type": "TELEPHONE_NUMBER", "Address": "+12065550142" },
        "Attributes": { "CustomerName": "Pat Example", "Reason": "billing dispute" },
    });
    if let Some(at) = disconnected {
        described["DisconnectTimestamp"] = json!(at);
    }
    Ok((200, Vec::new(), json!({ "Contact": described }).to_string()))
}

/// GetCurrentUserData with the `Agents` filter: the filtered users who are logged in, with their
/// contacts (monitors as InitiationMethod MONITOR), by user ID, paginated by MaxResults.
fn current_user_data(state: &mut State, request: &Recorded, region: &str) -> Result<Answer, Answer> {
    let params = request.path_parameters(2);
    let [instance] = params.as_slice() else {
        return Err(invalid("the path is not valid"));
    };
    path_id(instance, "InstanceId", 100)?;
    let body = json_body(request)?;
    let Some(filters) = body.get("Filters").and_then(Value::as_object) else {
        return Err(invalid("Filters is required"));
    };
    let chosen: Vec<&String> = ["Queues", "RoutingProfiles", "Agents", "UserHierarchyGroups"]
        .iter()
        .filter_map(|k| filters.keys().find(|key| key == k))
        .collect();
    if chosen.len() != 1 {
        return Err(invalid(
            "pass exactly one of Queues, RoutingProfiles, Agents and UserHierarchyGroups",
        ));
    }
    let Some(agents) = filters.get("Agents").and_then(Value::as_array) else {
        return Err(invalid("the double filters on Agents only"));
    };
    let agents: Option<Vec<&str>> = agents.iter().map(Value::as_str).collect();
    let Some(agents) = agents.filter(|a| (1..=100).contains(&a.len())) else {
        return Err(invalid("Agents must list 1 to 100 user IDs"));
    };
    let max_results = match body.get("MaxResults") {
        None | Some(Value::Null) => 100,
        Some(v) => match v.as_u64() {
            Some(n) if (1..=100).contains(&n) => n as usize,
            _ => return Err(invalid("MaxResults must be 1 to 100")),
        },
    };
    let start = match body.get("NextToken").and_then(Value::as_str) {
        None => 0,
        Some(t) => t.parse::<usize>().map_err(|_| invalid("NextToken is not valid"))?,
    };
    if !state.instance_exists(instance) {
        return Err(not_found("instance not found"));
    }
    let arn = instance_arn(region, instance);
    let logged_in: BTreeMap<&str, User> = agents
        .iter()
        .filter_map(|id| Some((*id, state.user(id).filter(|u| u.logged_in)?)))
        .collect();
    let page: Vec<Value> = logged_in
        .iter()
        .skip(start)
        .take(max_results)
        .map(|(id, user)| {
            // Monitors from the scenario (running before the double started), then the double's own.
            let own = u32::try_from(state.monitors_of(id).count()).unwrap_or(0);
            let earlier =
                (0..user.monitoring.saturating_sub(own)).map(|n| (format!("monitor-{id}-{n}"), "VOICE".to_owned()));
            let started = state.monitors_of(id).map(|m| (m.id.clone(), m.channel.clone()));
            let monitors = earlier.chain(started).map(|(contact, channel)| (contact, channel, "MONITOR"));
            let handled = (0..user.handling).map(|n| (format!("handled-{id}-{n}"), "VOICE".to_owned(), "INBOUND"));
            let contacts: Vec<Value> = monitors
                .chain(handled)
                .map(|(contact, channel, method)| {
                    json!({
                        "ContactId": contact,
                        "Channel": channel,
                        "InitiationMethod": method,
                        "AgentContactState": "CONNECTED",
                        "StateStartTimestamp": NOW - 60.0,
                        "ConnectedToAgentTimestamp": NOW - 60.0,
                        "Queue": { "Id": "q-1", "Arn": format!("{arn}/queue/q-1") },
                    })
                })
                .collect();
            json!({
                "User": { "Id": id, "Arn": format!("{arn}/agent/{id}") },
                "RoutingProfile": { "Id": "rp-1", "Arn": format!("{arn}/routing-profile/rp-1") },
                "Status": { "StatusStartTimestamp": NOW - 600.0, "StatusArn": format!("{arn}/agent-state/available"), "StatusName": "Available" },
                "AvailableSlotsByChannel": { "VOICE": 1, "CHAT": 2, "TASK": 1 },
                "MaxSlotsByChannel": { "VOICE": 1, "CHAT": 2, "TASK": 1 },
                "ActiveSlotsByChannel": { "VOICE": user.handling.min(1), "CHAT": 0, "TASK": 0 },
                "Contacts": contacts,
            })
        })
        .collect();
    let mut answer = json!({ "UserDataList": page, "ApproximateTotalCount": logged_in.len() });
    if start + max_results < logged_in.len() {
        answer["NextToken"] = json!((start + max_results).to_string());
    }
    Ok((200, Vec::new(), answer.to_string()))
}

impl ConnectDouble {
    /// SDK configuration that points the real Connect client at this double: the function's own HTTP
    /// client, region us-east-1, static test credentials (requests are really signed), and the standard
    /// retry mode with the given initial back-off (the SDK's own default is 1 s).
    pub fn sdk_config(&self, initial_backoff: Duration) -> aws_config::SdkConfig {
        use aws_config::retry::RetryConfig;
        use aws_sdk_connect::config::{Credentials, Region, SharedCredentialsProvider};
        let http = match monitor_contact::sdk::http_client(false) {
            Ok(http) => http,
            Err(e) => panic!("{e}"),
        };
        aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .http_client(http)
            .region(Region::new("us-east-1"))
            .endpoint_url(self.endpoint())
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                "AKIDLOCALDOUBLE",
                "local-double-secret",
                None,
                None,
                "connect-double",
            )))
            .retry_config(RetryConfig::standard().with_initial_backoff(initial_backoff))
            .build()
    }
}

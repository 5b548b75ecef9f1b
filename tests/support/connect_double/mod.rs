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
//!
//! Layout: `scenario.rs` what exists (instances, contacts, users, quotas); `service.rs` the service's
//! state and the three operations' answers; this file the server, the requests it records, scripted
//! failures, and the other client that shares the quota.
#![allow(dead_code)]

mod scenario;
mod service;

pub use scenario::*;
pub use service::*;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

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

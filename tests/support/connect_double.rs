//! A local Amazon Connect double for tests and local runs: an HTTP/1.1 server on 127.0.0.1 that
//! answers MonitorContact (`POST /contact/monitor`) the way the service does.
//!
//! - Every request must be SigV4-signed (an `Authorization: AWS4-HMAC-SHA256 Credential=.../connect/aws4_request,
//!   SignedHeaders=..., Signature=...` header and `x-amz-date`); otherwise 403 as the service answers.
//! - The body is validated with the API's rules (lengths, capability values); 400 InvalidRequestException.
//! - The scenario says which instances, contacts and users exist: unknown ones get 404
//!   ResourceNotFoundException; a supervisor who is not logged in, or who already monitors as many
//!   contacts as allowed, gets 402 ServiceQuotaExceededException.
//! - ClientToken idempotency: the same token with the same parameters replays the first answer; the
//!   same token with other parameters gets 409 IdempotencyException.
//! - Failures can be scripted (status, `x-amzn-ErrorType`, message), and answers delayed.
//!
//! The signature itself is not verified (the double has no secret to verify it with); its presence
//! and form are.
#![allow(dead_code)]

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

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

/// A user the double knows.
#[derive(Debug, Clone)]
pub struct User {
    pub logged_in: bool,
    /// Contacts this user is monitoring now.
    pub monitoring: u32,
}

/// What exists. `None` for a set means "any well-formed ID exists".
#[derive(Debug, Clone, Default)]
pub struct Scenario {
    pub instances: Option<HashSet<String>>,
    pub contacts: Option<HashSet<String>>,
    pub users: Option<HashMap<String, User>>,
    /// How many contacts one user may monitor at once.
    pub max_monitors: u32,
}

impl Scenario {
    /// Any well-formed instance, contact and user exists; every user is logged in and free.
    pub fn open() -> Scenario {
        Scenario {
            instances: None,
            contacts: None,
            users: None,
            max_monitors: u32::MAX,
        }
    }
}

#[derive(Debug, Default)]
pub struct State {
    pub scenario: Scenario,
    pub requests: Vec<Recorded>,
    pub failures: VecDeque<Failure>,
    pub delay: Duration,
    /// ClientToken → (request parameters, answer).
    tokens: HashMap<String, (Value, Value)>,
    started: u64,
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

impl ConnectDouble {
    /// Starts the double on 127.0.0.1 (port 0: any free port).
    pub async fn start(scenario: Scenario) -> std::io::Result<ConnectDouble> {
        ConnectDouble::start_on(scenario, 0).await
    }

    pub async fn start_on(scenario: Scenario, port: u16) -> std::io::Result<ConnectDouble> {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State {
            scenario,
            ..State::default()
        }));
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

    pub fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Answers the next requests with these failures, in order.
    pub fn fail_next(&self, failures: impl IntoIterator<Item = Failure>) {
        self.state().failures.extend(failures);
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
            state.requests.push(request.clone());
            (state.delay, answer(&mut state, &request))
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
        Some(_) => Err(error(400, "InvalidRequestException", &format!("{name} is not valid"))),
    }
}

fn answer(state: &mut State, request: &Recorded) -> Answer {
    if request.method != "POST" || request.path != "/contact/monitor" {
        return error(
            404,
            "UnknownOperationException",
            "the double answers POST /contact/monitor only",
        );
    }
    let Some(region) = signed_region(request) else {
        return error(
            403,
            "IncompleteSignatureException",
            "the request is not signed with SigV4",
        );
    };
    if let Some(failure) = state.failures.pop_front() {
        return error(failure.status, &failure.error_type, &failure.message);
    }
    if !request
        .header("content-type")
        .is_some_and(|t| t.starts_with("application/json"))
    {
        return error(400, "InvalidRequestException", "Content-Type must be application/json");
    }
    let Ok(body) = serde_json::from_str::<Value>(&request.body) else {
        return error(400, "InvalidRequestException", "the body is not JSON");
    };
    let fields = (|| {
        let instance = text_field(&body, "InstanceId", 1, 100)?;
        let contact = text_field(&body, "ContactId", 1, 256)?;
        let user = text_field(&body, "UserId", 1, 256)?;
        let token = text_field(&body, "ClientToken", 0, 500)?;
        Ok((instance, contact, user, token))
    })();
    let (instance, contact, user, token) = match fields {
        Ok((Some(i), Some(c), Some(u), t)) => (i.to_owned(), c.to_owned(), u.to_owned(), t.map(str::to_owned)),
        Ok(_) => {
            return error(
                400,
                "InvalidRequestException",
                "InstanceId, ContactId and UserId are required",
            );
        }
        Err(answer) => return answer,
    };
    let capabilities: Vec<String> = match body.get("AllowedMonitorCapabilities") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect(),
        Some(_) => {
            return error(
                400,
                "InvalidRequestException",
                "AllowedMonitorCapabilities is not valid",
            );
        }
    };
    let known = ["SILENT_MONITOR", "BARGE"];
    let unique: HashSet<&String> = capabilities.iter().collect();
    if capabilities.len() > 2
        || unique.len() != capabilities.len()
        || !capabilities.iter().all(|c| known.contains(&c.as_str()))
    {
        return error(
            400,
            "InvalidRequestException",
            "AllowedMonitorCapabilities is not valid",
        );
    }
    let params = json!({ "InstanceId": instance, "ContactId": contact, "UserId": user, "AllowedMonitorCapabilities": capabilities });
    if let Some(token) = &token
        && let Some((first, answer)) = state.tokens.get(token)
    {
        return if *first == params {
            (200, Vec::new(), answer.to_string())
        } else {
            error(
                409,
                "IdempotencyException",
                "the ClientToken was used with different parameters",
            )
        };
    }
    let scenario = &state.scenario;
    let exists = |set: &Option<HashSet<String>>, id: &str| set.as_ref().is_none_or(|s| s.contains(id));
    if !exists(&scenario.instances, &instance) {
        return error(404, "ResourceNotFoundException", "instance not found");
    }
    if !exists(&scenario.contacts, &contact) {
        return error(404, "ResourceNotFoundException", "contact not found");
    }
    if let Some(users) = &scenario.users {
        match users.get(&user) {
            None => return error(404, "ResourceNotFoundException", "user not found"),
            Some(u) if !u.logged_in => {
                return error(
                    402,
                    "ServiceQuotaExceededException",
                    "the user is not logged in to the CCP",
                );
            }
            Some(u) if u.monitoring >= scenario.max_monitors => {
                return error(
                    402,
                    "ServiceQuotaExceededException",
                    "the user is at their monitoring limit",
                );
            }
            Some(_) => {}
        }
    }
    state.started += 1;
    let monitor_id = format!("00000000-0000-4000-8000-{:012x}", state.started);
    let answer = json!({
        "ContactId": monitor_id,
        "ContactArn": format!("arn:aws:connect:{region}:111122223333:instance/{instance}/contact/{monitor_id}"),
    });
    if let Some(users) = &mut state.scenario.users
        && let Some(u) = users.get_mut(&user)
    {
        u.monitoring += 1;
    }
    if let Some(token) = token {
        state.tokens.insert(token, (params, answer.clone()));
    }
    (200, Vec::new(), answer.to_string())
}

impl ConnectDouble {
    /// SDK configuration that points the real Connect client at this double: the function's own HTTP
    /// client, region us-east-1, static test credentials (requests are really signed), and the standard
    /// retry mode with the given initial back-off (the SDK's own default is 1 s).
    pub fn sdk_config(&self, initial_backoff: Duration) -> aws_config::SdkConfig {
        use aws_config::retry::RetryConfig;
        use aws_sdk_connect::config::{Credentials, Region, SharedCredentialsProvider};
        let http = match monitor_contact::connect::http_client(false) {
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

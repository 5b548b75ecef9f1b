//! A minimal AWS Lambda Runtime API on 127.0.0.1, for running a real function binary the way Lambda
//! runs it: the process polls `GET /2018-06-01/runtime/invocation/next`, gets one event with its
//! request ID and deadline, and posts `.../invocation/{id}/response` or `.../invocation/{id}/error`
//! (or `/runtime/init/error` when its init fails).
//!
//! One [`RuntimeApi`] serves one execution environment (one process), as Lambda does: events handed
//! to it queue up and go out one at a time, each when the process asks for the next. [`Launch`]
//! spawns a binary against it with Lambda's environment (and only what the caller adds), capturing
//! stdout and stderr to a buffer or a file.
//!
//! ```ignore
//! let mut api = RuntimeApi::start().await?;
//! let process = Launch::new(env!("CARGO_BIN_EXE_monitor-contact"))
//!     .env("AWS_LAMBDA_LOG_LEVEL", "TRACE")
//!     .stdout(Capture::Buffer)
//!     .spawn(&api)?;
//! let answer = api.invoke(Invocation::new("req-1", payload), Duration::from_secs(10)).await?;
//! let output = process.finish();
//! ```
//!
//! Needs `connect_double` beside it (it shares the double's HTTP/1.1 reader and writer): declare both,
//! as `tests/support/mod.rs` does, or with `#[path]` in a bench or example.
#![allow(dead_code)]

use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Mutex as AsyncMutex, mpsc};

use super::connect_double::{Recorded, read_request, write_response};

/// The Runtime API's version prefix.
const PREFIX: &str = "/2018-06-01/runtime";

/// The function ARN handed over with every event.
pub const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:111122223333:function:monitor-contact";

/// One event for the process.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub request_id: String,
    pub payload: String,
    /// The deadline, counted from the moment the event is handed to the process (Lambda's timeout).
    pub timeout: Duration,
    /// More headers for the `next` answer (e.g. `lambda-runtime-client-context`), lower case.
    pub headers: Vec<(String, String)>,
}

impl Invocation {
    /// An event with an 8 s deadline (the longest a contact flow waits).
    pub fn new(request_id: impl Into<String>, payload: impl Into<String>) -> Invocation {
        Invocation {
            request_id: request_id.into(),
            payload: payload.into(),
            timeout: Duration::from_secs(8),
            headers: Vec::new(),
        }
    }

    /// The deadline, from the moment the event is handed over.
    pub fn timeout(mut self, timeout: Duration) -> Invocation {
        self.timeout = timeout;
        self
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> Invocation {
        self.headers.push((name.to_ascii_lowercase(), value.into()));
        self
    }
}

/// How an invocation (or init) ended, as the process reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `POST .../invocation/{id}/response`
    Response,
    /// `POST .../invocation/{id}/error`
    Error,
    /// `POST /runtime/init/error` (no request ID)
    InitError,
}

/// What the process answered.
#[derive(Debug, Clone)]
pub struct Answer {
    /// Empty for an init error.
    pub request_id: String,
    pub kind: Kind,
    /// The response document, or the error document (`{"errorType", "errorMessage"}`).
    pub body: String,
    /// The `lambda-runtime-function-error-type` header of an error, if any.
    pub error_header: Option<String>,
    /// When the event was written to the process (for an init error: when it was reported).
    pub handed: Instant,
    /// When the answer arrived.
    pub answered: Instant,
}

impl Answer {
    pub fn is_response(&self) -> bool {
        self.kind == Kind::Response
    }

    /// Event handed over → answer posted.
    pub fn duration(&self) -> Duration {
        self.answered.saturating_duration_since(self.handed)
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// The `errorType` of an error answer.
    pub fn error_type(&self) -> Option<String> {
        if self.kind == Kind::Response {
            return None;
        }
        self.json()["errorType"].as_str().map(str::to_owned)
    }
}

/// Why waiting on the Runtime API gave up.
#[derive(Debug)]
pub enum Wait {
    /// Nothing came within the time given.
    TimedOut,
    /// The API's server stopped (it is gone with its [`RuntimeApi`]).
    Stopped,
    /// An answer came for another request than the one waited for, or of the wrong kind.
    Unexpected(Answer),
}

impl std::fmt::Display for Wait {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Wait::TimedOut => write!(f, "the process did not answer in time"),
            Wait::Stopped => write!(f, "the runtime API stopped"),
            Wait::Unexpected(a) => write!(f, "unexpected answer for {:?} ({:?}): {}", a.request_id, a.kind, a.body),
        }
    }
}

impl std::error::Error for Wait {}

/// The Runtime API for one execution environment.
pub struct RuntimeApi {
    addr: SocketAddr,
    events: mpsc::UnboundedSender<Invocation>,
    polls: mpsc::UnboundedReceiver<Instant>,
    answers: mpsc::UnboundedReceiver<Answer>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What the connections of one API share.
struct Shared {
    pending: AsyncMutex<mpsc::UnboundedReceiver<Invocation>>,
    polls: mpsc::UnboundedSender<Instant>,
    answers: mpsc::UnboundedSender<Answer>,
    /// Request ID → when its event was handed over.
    handed: Mutex<Vec<(String, Instant)>>,
}

impl RuntimeApi {
    /// Starts the API on 127.0.0.1, on any free port.
    pub async fn start() -> std::io::Result<RuntimeApi> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (events, pending) = mpsc::unbounded_channel();
        let (poll_tx, polls) = mpsc::unbounded_channel();
        let (answer_tx, answers) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            pending: AsyncMutex::new(pending),
            polls: poll_tx,
            answers: answer_tx,
            handed: Mutex::new(Vec::new()),
        });
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(connection(stream, Arc::clone(&shared)));
            }
        });
        Ok(RuntimeApi {
            addr,
            events,
            polls,
            answers,
            task,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The value for `AWS_LAMBDA_RUNTIME_API` (host:port).
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    /// Queues an event; the process gets it at its next poll (after the events queued before it).
    pub fn send(&self, invocation: Invocation) -> Result<(), Wait> {
        self.events.send(invocation).map_err(|_| Wait::Stopped)
    }

    /// Waits for the process to ask for an event; returns when it asked. The first poll marks the
    /// end of the process's init.
    pub async fn next_poll(&mut self, within: Duration) -> Result<Instant, Wait> {
        match tokio::time::timeout(within, self.polls.recv()).await {
            Ok(Some(at)) => Ok(at),
            Ok(None) => Err(Wait::Stopped),
            Err(_) => Err(Wait::TimedOut),
        }
    }

    /// The next answer (or init error) the process posts.
    pub async fn answer(&mut self, within: Duration) -> Result<Answer, Wait> {
        match tokio::time::timeout(within, self.answers.recv()).await {
            Ok(Some(answer)) => Ok(answer),
            Ok(None) => Err(Wait::Stopped),
            Err(_) => Err(Wait::TimedOut),
        }
    }

    /// An answer already posted, without waiting.
    pub fn try_answer(&mut self) -> Option<Answer> {
        self.answers.try_recv().ok()
    }

    /// Hands one event over and waits for its answer (a response or a function error). An answer for
    /// another request, or an init error, is [`Wait::Unexpected`].
    pub async fn invoke(&mut self, invocation: Invocation, within: Duration) -> Result<Answer, Wait> {
        let request_id = invocation.request_id.clone();
        self.send(invocation)?;
        let answer = self.answer(within).await?;
        if answer.request_id != request_id || answer.kind == Kind::InitError {
            return Err(Wait::Unexpected(answer));
        }
        Ok(answer)
    }
}

/// Serves one connection of the process (HTTP/1.1 keep-alive).
async fn connection(mut stream: TcpStream, shared: Arc<Shared>) {
    let mut buffer = Vec::new();
    while let Some(request) = read_request(&mut stream, &mut buffer).await {
        if serve(&mut stream, request, &shared).await.is_err() {
            return;
        }
    }
}

async fn serve(stream: &mut TcpStream, request: Recorded, shared: &Shared) -> std::io::Result<()> {
    let received = Instant::now();
    let path = request.path.split('?').next().unwrap_or_default();
    let Some(rest) = path.strip_prefix(PREFIX) else {
        return write_response(stream, 404, &[], r#"{"errorMessage":"not found"}"#).await;
    };
    if request.method == "GET" && rest == "/invocation/next" {
        let _ = shared.polls.send(received);
        // One poll at a time takes events (Lambda hands an environment one invocation at a time).
        let next = shared.pending.lock().await.recv().await;
        let Some(invocation) = next else {
            return write_response(stream, 500, &[], r#"{"errorMessage":"the runtime API stopped"}"#).await;
        };
        let deadline_ms = (SystemTime::now() + invocation.timeout)
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        let mut headers = vec![
            ("lambda-runtime-aws-request-id", invocation.request_id.clone()),
            ("lambda-runtime-deadline-ms", deadline_ms.to_string()),
            ("lambda-runtime-invoked-function-arn", FUNCTION_ARN.to_owned()),
            (
                "lambda-runtime-trace-id",
                "Root=1-00000000-000000000000000000000000;Sampled=0".to_owned(),
            ),
        ];
        let extra: Vec<(&str, String)> = invocation
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        headers.extend(extra);
        // Recorded before the event goes out: a process that answers at once may post its answer on
        // another connection before this task runs again, and that answer must find its invocation.
        if let Ok(mut handed) = shared.handed.lock() {
            handed.push((invocation.request_id.clone(), Instant::now()));
        }
        if let Err(e) = write_response(stream, 200, &headers, &invocation.payload).await {
            if let Ok(mut handed) = shared.handed.lock() {
                handed.retain(|(id, _)| *id != invocation.request_id);
            }
            // The process went away while it waited (killed, crashed): as Lambda, the invocation
            // fails rather than vanishing.
            let _ = shared.answers.send(Answer {
                request_id: invocation.request_id,
                kind: Kind::Error,
                body:
                    r#"{"errorType":"Runtime.ExitError","errorMessage":"the process exited before taking the event"}"#
                        .to_owned(),
                error_header: None,
                handed: received,
                answered: Instant::now(),
            });
            return Err(e);
        }
        return Ok(());
    }
    let report = |request_id: String, kind: Kind, handed: Instant| Answer {
        request_id,
        kind,
        body: request.body.clone(),
        error_header: request.header("lambda-runtime-function-error-type").map(str::to_owned),
        handed,
        answered: received,
    };
    if request.method == "POST" && rest == "/init/error" {
        let _ = shared.answers.send(report(String::new(), Kind::InitError, received));
        return write_response(stream, 202, &[], r#"{"status":"OK"}"#).await;
    }
    let invocation = rest.strip_prefix("/invocation/").and_then(|r| r.split_once('/'));
    if let (Some((request_id, kind)), "POST") = (invocation, request.method.as_str()) {
        let kind = match kind {
            "response" => Kind::Response,
            "error" => Kind::Error,
            _ => return write_response(stream, 404, &[], r#"{"errorMessage":"not found"}"#).await,
        };
        let handed = shared.handed.lock().ok().and_then(|mut handed| {
            let index = handed.iter().position(|(id, _)| id == request_id)?;
            Some(handed.swap_remove(index).1)
        });
        let Some(handed) = handed else {
            // Lambda refuses an answer for an invocation it did not hand out.
            return write_response(stream, 400, &[], r#"{"errorMessage":"unknown request ID"}"#).await;
        };
        let _ = shared.answers.send(report(request_id.to_owned(), kind, handed));
        return write_response(stream, 202, &[], r#"{"status":"OK"}"#).await;
    }
    write_response(stream, 404, &[], r#"{"errorMessage":"not found"}"#).await
}

/// Where a process's stdout or stderr goes.
#[derive(Debug, Clone)]
pub enum Capture {
    Null,
    /// This process's own stdout/stderr.
    Inherit,
    /// Kept in memory: see [`Process::stdout`], [`Output`].
    Buffer,
    /// Written to this file (created or truncated).
    File(PathBuf),
}

/// A binary to start as a Lambda function: Lambda's environment (function name, memory size,
/// version, log group and stream, region and test credentials) and nothing else from this process's
/// environment, plus what [`Launch::env`] adds.
#[derive(Debug, Clone)]
pub struct Launch {
    binary: PathBuf,
    env: Vec<(String, String)>,
    stdout: Capture,
    stderr: Capture,
}

/// Lambda's own variables, as a 128 MB function named `monitor-contact` in us-east-1 gets them
/// (`AWS_LAMBDA_RUNTIME_API` comes from the API at spawn). The credentials are test values: only the
/// local Connect double sees requests signed with them.
pub fn lambda_environment() -> Vec<(String, String)> {
    [
        ("AWS_LAMBDA_FUNCTION_NAME", "monitor-contact"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/monitor-contact"),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "local"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "AKIDLOCALRUNTIME"),
        ("AWS_SECRET_ACCESS_KEY", "local-runtime-secret"),
        ("AWS_SESSION_TOKEN", "local-runtime-session-token"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

impl Launch {
    /// `binary` with Lambda's environment; stdout and stderr go nowhere until said otherwise.
    pub fn new(binary: impl AsRef<Path>) -> Launch {
        Launch {
            binary: binary.as_ref().to_path_buf(),
            env: lambda_environment(),
            stdout: Capture::Null,
            stderr: Capture::Null,
        }
    }

    /// Sets (or replaces) one variable.
    pub fn env(mut self, name: &str, value: impl Into<String>) -> Launch {
        self.env.retain(|(k, _)| k != name);
        self.env.push((name.to_owned(), value.into()));
        self
    }

    /// Leaves one variable out (one of Lambda's, say).
    pub fn without(mut self, name: &str) -> Launch {
        self.env.retain(|(k, _)| k != name);
        self
    }

    pub fn stdout(mut self, capture: Capture) -> Launch {
        self.stdout = capture;
        self
    }

    pub fn stderr(mut self, capture: Capture) -> Launch {
        self.stderr = capture;
        self
    }

    /// The environment the process gets (without `AWS_LAMBDA_RUNTIME_API`).
    pub fn environment(&self) -> &[(String, String)] {
        &self.env
    }

    /// Starts the binary against `api`. Its init starts now; `api.next_poll` tells when it ends.
    pub fn spawn(&self, api: &RuntimeApi) -> std::io::Result<Process> {
        let mut command = Command::new(&self.binary);
        command
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("AWS_LAMBDA_RUNTIME_API", api.address())
            .stdin(Stdio::null());
        let (stdout, stdout_buffer) = stdio(&self.stdout)?;
        let (stderr, stderr_buffer) = stdio(&self.stderr)?;
        command.stdout(stdout).stderr(stderr);
        let spawned = Instant::now();
        let mut child = command.spawn()?;
        let mut readers = Vec::new();
        if let (Some(buffer), Some(pipe)) = (&stdout_buffer, child.stdout.take()) {
            readers.push(drain(pipe, Arc::clone(buffer)));
        }
        if let (Some(buffer), Some(pipe)) = (&stderr_buffer, child.stderr.take()) {
            readers.push(drain(pipe, Arc::clone(buffer)));
        }
        Ok(Process {
            pid: child.id(),
            child,
            spawned,
            stdout: stdout_buffer,
            stderr: stderr_buffer,
            readers,
        })
    }
}

type Buffer = Arc<Mutex<Vec<u8>>>;

fn stdio(capture: &Capture) -> std::io::Result<(Stdio, Option<Buffer>)> {
    Ok(match capture {
        Capture::Null => (Stdio::null(), None),
        Capture::Inherit => (Stdio::inherit(), None),
        Capture::Buffer => (Stdio::piped(), Some(Arc::default())),
        Capture::File(path) => (Stdio::from(std::fs::File::create(path)?), None),
    })
}

/// Copies a pipe into `buffer` until the process closes it.
fn drain(mut pipe: impl Read + Send + 'static, buffer: Buffer) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut chunk = [0u8; 8192];
        while let Ok(n) = pipe.read(&mut chunk) {
            if n == 0 {
                return;
            }
            if let Ok(mut out) = buffer.lock() {
                out.extend_from_slice(&chunk[..n]);
            }
        }
    })
}

fn text(buffer: &Option<Buffer>) -> String {
    buffer
        .as_ref()
        .and_then(|b| b.lock().ok().map(|b| String::from_utf8_lossy(&b).into_owned()))
        .unwrap_or_default()
}

/// A running function process; killed when dropped.
pub struct Process {
    pid: u32,
    child: Child,
    spawned: Instant,
    stdout: Option<Buffer>,
    stderr: Option<Buffer>,
    readers: Vec<std::thread::JoinHandle<()>>,
}

/// What a process wrote (captured to buffers only), and how it ended.
#[derive(Debug)]
pub struct Output {
    pub stdout: String,
    pub stderr: String,
    pub status: Option<ExitStatus>,
}

impl Process {
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// When the process was spawned (its init started).
    pub fn spawned(&self) -> Instant {
        self.spawned
    }

    /// What it wrote on stdout so far (buffer capture only).
    pub fn stdout(&self) -> String {
        text(&self.stdout)
    }

    pub fn stderr(&self) -> String {
        text(&self.stderr)
    }

    /// The exit status, if it has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// A field of `/proc/<pid>/status` in kB (`VmRSS:`, `VmHWM:`, `RssAnon:`); 0 when unreadable.
    pub fn status_kb(&self, field: &str) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.pid))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with(field))
                    .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
            })
            .unwrap_or(0)
    }

    /// Kills the process (if still running), waits for it and for its captured output.
    pub fn finish(mut self) -> Output {
        let _ = self.child.kill();
        let status = self.child.wait().ok();
        for reader in std::mem::take(&mut self.readers) {
            let _ = reader.join();
        }
        Output {
            stdout: text(&self.stdout),
            stderr: text(&self.stderr),
            status,
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The function's release executable (`monitor-contact`), built as the benchmarks run it.
pub fn build_function() -> Result<PathBuf, String> {
    let built = build_release(&["--bin", "monitor-contact"], &["monitor-contact"])?;
    built
        .into_iter()
        .next()
        .ok_or_else(|| "no monitor-contact executable".into())
}

/// Builds release executables with cargo (`targets`: `--bin NAME` / `--example NAME` arguments) and
/// returns the path of the one named `name`, for each name asked for, in order.
pub fn build_release(targets: &[&str], names: &[&str]) -> Result<Vec<PathBuf>, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args(["build", "--release"])
        .args(targets)
        .args(["--message-format", "json-render-diagnostics"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !output.status.success() {
        return Err("cargo build --release failed".into());
    }
    let messages: Vec<serde_json::Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    names
        .iter()
        .map(|name| {
            messages
                .iter()
                .filter(|m| m["target"]["name"] == *name)
                .find_map(|m| m["executable"].as_str().map(PathBuf::from))
                .ok_or_else(|| format!("no {name} executable"))
        })
        .collect()
}

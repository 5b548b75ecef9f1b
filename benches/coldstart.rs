//! Cold-start and invocation benchmark: `cargo bench --bench coldstart`.
//!
//! Builds the release `monitor-contact` binary and the bare-runtime floor (`examples/bare_runtime.rs`,
//! same profile), then runs each under a minimal Lambda Runtime API on 127.0.0.1, the function talking to
//! the local Connect double (real SigV4 signing, real HTTP), and prints a table:
//!
//! - cold init: process spawn → its first `GET /runtime/invocation/next`, over COLD_STARTS starts each,
//!   interleaved so that both see the same machine;
//! - first invocation after a cold start: event handed over → response posted;
//! - warm invocations: WARM invocations on one process, p50 and p99;
//! - memory: peak RSS (VmHWM) after the warm invocations, and RSS growth from invocation 100 to the last;
//! - the binary's size, and its size compressed (gzip -9, what a deployment zip costs within a few bytes).
//!
//! Every response is checked (the function must answer STARTED, the floor must echo), so a fast error can
//! never pass for a fast invocation. Both processes get the environment Lambda gives the deployed
//! function, the template's `GLIBC_TUNABLES` included. Environment: `COLD_STARTS` (default 50), `WARM`
//! (default 1000).

#[path = "../tests/support/connect_double.rs"]
mod connect_double;
#[path = "../tests/support/runtime_api.rs"]
mod runtime_api;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use connect_double::{ConnectDouble, Scenario};
use runtime_api::{Capture, Invocation, Launch, RuntimeApi};

const SAMPLE: &str = include_str!("../events/contact-flow-voice.json");
const SUPERVISOR: &str = "3f8a2c1e-6d4b-4a9e-b7c5-0d1e2f3a4b5c";
const TIMEOUT: Duration = Duration::from_secs(20);

/// The allocator settings `template.yaml` deploys the function with (see the README, Performance):
/// both processes run with them, as the deployed function does. `main` checks the template agrees.
const GLIBC_TUNABLES: &str = "glibc.malloc.tcache_count=0:glibc.malloc.mxfast=0";

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// The sample contact-flow event with its own EventId, so each invocation starts a new monitor. The
/// IDs have a fixed width, as real event IDs (UUIDs, contact IDs) do.
fn event(n: usize) -> String {
    SAMPLE.replace(
        "\"SupervisorUserId\"",
        &format!("\"EventId\": \"bench-{n:08}\", \"SupervisorUserId\""),
    )
}

/// What one process measured.
#[derive(Default)]
struct Run {
    init: Duration,
    first: Duration,
    warm: Vec<Duration>,
    rss_at_100_kb: u64,
    rss_at_1000_kb: u64,
    rss_at_end_kb: u64,
    /// Anonymous (heap, stack) resident memory at invocations 100 and 1000.
    anon_at_100_kb: u64,
    anon_at_1000_kb: u64,
    peak_rss_kb: u64,
}

/// Hands one event to the process and waits for its answer, which must be a response that passes
/// `check`; returns the time in between.
async fn invoke(
    api: &mut RuntimeApi,
    request_id: &str,
    payload: String,
    check: &dyn Fn(&str) -> bool,
) -> Result<Duration> {
    let answer = api.invoke(Invocation::new(request_id, payload), TIMEOUT).await?;
    if !answer.is_response() || !check(&answer.body) {
        return Err(format!("invocation {request_id} answered {:?}: {}", answer.kind, answer.body).into());
    }
    Ok(answer.duration())
}

/// Starts `binary` cold, invokes it once, then `warm` more times (0: kill it after the first).
async fn run(binary: &Path, connect: &str, warm: usize, check: &dyn Fn(&str) -> bool) -> Result<Run> {
    let mut api = RuntimeApi::start().await?;
    let process = Launch::new(binary)
        .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
        .env("AWS_ENDPOINT_URL_CONNECT", connect)
        .env("DEFAULT_SUPERVISOR_USER_ID", SUPERVISOR)
        .env("GLIBC_TUNABLES", GLIBC_TUNABLES)
        .stderr(Capture::Inherit)
        .spawn(&api)?;
    let outcome = async {
        let mut run = Run {
            init: api.next_poll(TIMEOUT).await? - process.spawned(),
            ..Run::default()
        };
        run.first = invoke(&mut api, "cold-0", event(0), check).await?;
        for n in 1..=warm {
            run.warm
                .push(invoke(&mut api, &format!("warm-{n}"), event(n), check).await?);
            if n == 100 {
                run.rss_at_100_kb = process.status_kb("VmRSS:");
                run.anon_at_100_kb = process.status_kb("RssAnon:");
            }
            if n == 1000 {
                run.rss_at_1000_kb = process.status_kb("VmRSS:");
                run.anon_at_1000_kb = process.status_kb("RssAnon:");
            }
        }
        run.rss_at_end_kb = process.status_kb("VmRSS:");
        run.peak_rss_kb = process.status_kb("VmHWM:");
        Ok(run)
    }
    .await;
    process.finish();
    outcome
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort_unstable();
    percentile(&values, 50.0)
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn mb(bytes: u64) -> String {
    format!("{:.2} MB", bytes as f64 / 1e6)
}

fn gzip_size(path: &Path) -> u64 {
    Command::new("gzip")
        .args(["-9", "-c"])
        .arg(path)
        .output()
        .map(|out| out.stdout.len() as u64)
        .unwrap_or(0)
}

/// Builds the function and the floor with the release profile; returns their paths.
fn build() -> Result<(PathBuf, PathBuf)> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args([
            "build",
            "--release",
            "--bin",
            "monitor-contact",
            "--example",
            "bare_runtime",
        ])
        .args(["--message-format", "json-render-diagnostics"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stderr(Stdio::inherit())
        .output()?;
    if !output.status.success() {
        return Err("cargo build --release failed".into());
    }
    let mut function = None;
    let mut floor = None;
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let Some(executable) = message["executable"].as_str() else {
            continue;
        };
        match message["target"]["name"].as_str() {
            Some("monitor-contact") => function = Some(PathBuf::from(executable)),
            Some("bare_runtime") => floor = Some(PathBuf::from(executable)),
            _ => {}
        }
    }
    Ok((
        function.ok_or("no monitor-contact executable")?,
        floor.ok_or("no bare_runtime executable")?,
    ))
}

fn env_count(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    // `cargo bench` passes --bench; anything else (e.g. a filter from `cargo test --benches`) is ignored.
    let cold_starts = env_count("COLD_STARTS", 50).max(10);
    let warm = env_count("WARM", 1000).max(1000);
    let template = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/template.yaml"))?;
    if !template.contains(&format!("GLIBC_TUNABLES: {GLIBC_TUNABLES}")) {
        return Err(
            format!("template.yaml does not deploy GLIBC_TUNABLES={GLIBC_TUNABLES}: keep the two in step").into(),
        );
    }
    let (function, floor) = build()?;
    let double = ConnectDouble::start(Scenario::open()).await?;
    let connect = double.endpoint();
    let started = |body: &str| body.contains(r#""Status":"STARTED""#);
    let echoed = |body: &str| body.contains("bench-");

    let (mut f_init, mut b_init, mut f_first, mut b_first) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..cold_starts {
        let f = run(&function, &connect, 0, &started).await?;
        let b = run(&floor, &connect, 0, &echoed).await?;
        f_init.push(f.init);
        f_first.push(f.first);
        b_init.push(b.init);
        b_first.push(b.first);
    }
    let mut f_warm = run(&function, &connect, warm, &started).await?;
    let mut b_warm = run(&floor, &connect, warm, &echoed).await?;
    f_warm.warm.sort_unstable();
    b_warm.warm.sort_unstable();

    let (fi, bi) = (median(f_init), median(b_init));
    let ratio = fi.as_secs_f64() / bi.as_secs_f64().max(1e-9);
    let (f_size, b_size) = (std::fs::metadata(&function)?.len(), std::fs::metadata(&floor)?.len());
    let growth = |r: &Run| r.rss_at_1000_kb as i64 - r.rss_at_100_kb as i64;
    let late_growth = |r: &Run| r.rss_at_end_kb as i64 - r.rss_at_1000_kb as i64;
    let anon_growth = |r: &Run| r.anon_at_1000_kb as i64 - r.anon_at_100_kb as i64;
    println!();
    println!("cold starts: {cold_starts} each (interleaved); warm invocations: {warm} on one process each");
    println!(
        "event: events/contact-flow-voice.json ({} bytes); Connect: local double on {connect}",
        SAMPLE.len()
    );
    println!();
    println!("| metric | monitor-contact | bare runtime (floor) | ratio | target |");
    println!("| --- | --- | --- | --- | --- |");
    println!(
        "| cold init, median | {} | {} | {ratio:.2}× | ≤ 1.5× the floor |",
        ms(fi),
        ms(bi)
    );
    println!(
        "| first invocation, median | {} | {} | | ≤ 5 ms |",
        ms(median(f_first)),
        ms(median(b_first))
    );
    println!(
        "| warm invocation p50 | {} | {} | | ≤ 1 ms |",
        ms(percentile(&f_warm.warm, 50.0)),
        ms(percentile(&b_warm.warm, 50.0))
    );
    println!(
        "| warm invocation p99 | {} | {} | | ≤ 2 ms |",
        ms(percentile(&f_warm.warm, 99.0)),
        ms(percentile(&b_warm.warm, 99.0))
    );
    println!(
        "| peak RSS after {warm} invocations | {:.1} MB | {:.1} MB | | ≤ 8 MB |",
        f_warm.peak_rss_kb as f64 / 1024.0,
        b_warm.peak_rss_kb as f64 / 1024.0
    );
    println!(
        "| RSS growth, invocation 100 → 1000 | {} kB | {} kB | | none |",
        growth(&f_warm),
        growth(&b_warm)
    );
    println!(
        "| of which anonymous (heap, stack) | {} kB | {} kB | | |",
        anon_growth(&f_warm),
        anon_growth(&b_warm)
    );
    if warm > 1000 {
        println!(
            "| RSS growth, invocation 1000 → {warm} | {} kB | {} kB | | none |",
            late_growth(&f_warm),
            late_growth(&b_warm)
        );
    }
    println!("| binary (stripped) | {} | {} | | ≤ 8 MB |", mb(f_size), mb(b_size));
    println!(
        "| binary, gzip -9 | {} | {} | | ≤ 3 MB |",
        mb(gzip_size(&function)),
        mb(gzip_size(&floor))
    );
    println!();
    println!(
        "native build on {} ({}); the deployable arm64/x86_64 sizes are printed by .ci/run",
        std::env::consts::ARCH,
        function.display()
    );
    Ok(())
}

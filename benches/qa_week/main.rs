//! The QA week benchmark (issue 18): `cargo bench --bench qa_week`. A measured script, not a timed test.
//!
//! Simulates one week of a contact center through the real binary and the real table: 200 agents in
//! 10 teams (hierarchy groups: the center at level 1, the team at level 2), each with 5 to 200 calls
//! over their schedule (most Monday to Friday, some through the weekend, some part time; within a
//! shift, more calls mid-morning and mid-afternoon), 12 reviewers. Each call is one
//! `CONNECTED_TO_AGENT` event (the sample `events/eventbridge-connected-to-agent.json` with its own
//! IDs, its `time`, the agent's ARN and hierarchy groups), fed in time order in SQS batches of 10 to
//! two release `monitor-contact` processes with the automation function's environment, each under its
//! own Lambda Runtime API (`tests/support/runtime_api.rs`), against a local Connect double
//! (`tests/support/connect_double/`). The week runs in event time, not real time: a contact is live
//! in the double from its batch until its call ends on the week's clock (2 to 12 minutes later), and a
//! reviewer monitors one contact at a time.
//!
//! Two runs of the same week, side by side:
//!
//! 1. `QA_RULES=[{"name":"weekly-3","perAgent":{"count":3,"per":"week"}}]`, its counts in a DynamoDB
//!    table in moto (`QA_STATE_TABLE`, `AWS_ENDPOINT_URL_DYNAMODB`);
//! 2. percent sampling (`[{"name":"sample-P","percent":P}]`, no table), P the whole percent whose
//!    expected total is run 1's monitors (the actual totals are reported side by side).
//!
//! Reported: the share of agents with at least 3 calls after their slots opened (slot k opens at
//! Monday 00:00 + (k − 1)/3 of the week) who got exactly 3 (goal: all), the most any agent got,
//! monitors per day, reviewer load, DynamoDB calls per event (the function's `QaStateCalls` metric and
//! moto's own count) and Connect calls per event (the double's count). Prints a Markdown table and
//! PASS/FAIL for the quota run's goals, draws `docs/qa-week.svg` (`QA_WEEK_SVG` overrides), and exits
//! non-zero when a goal is missed.
//!
//! moto: the tests' (`tests/support/moto.rs`): `$MOTO_SERVER` or `moto_server` from `PATH` (PyPI
//! `moto[server]`; `scripts/test` installs the pinned one), serving one request at a time with
//! transactions rolled back item by item (`tests/support/moto_one_at_a_time/sitecustomize.py`: without
//! that, moto deep-copies the whole table for each transaction and the week would take an hour), the
//! table created from template.yaml's definition.
//!
//! Environment (for debugging; the defaults are the issue's week): `QA_WEEK_SEED`, `QA_WEEK_AGENTS`, `QA_WEEK_REVIEWERS`,
//! `QA_WEEK_MAX_CALLS`, `QA_WEEK_BATCH` (records per SQS batch), `QA_WEEK_PROCESSES`,
//! `QA_WEEK_PERCENT` (run 2's percent, instead of the matching one), `QA_WEEK_ONLY=quota|percent`
//! (one run), `QA_WEEK_SVG`. The processes' and moto's output go to `$TMPDIR/monitor-contact-qa-week/`.
//!
//! `cargo test --bench qa_week` (no `--bench` argument) runs only the self-checks, in a second.

#[path = "../../tests/support/connect_double/mod.rs"]
mod connect_double;
// The tests' moto: started on a free port, the table created from template.yaml.
#[allow(dead_code)]
#[path = "../../tests/support/moto.rs"]
mod moto;
mod picture;
mod report;
#[path = "../support/rng.rs"]
mod rng;
#[path = "../../tests/support/runtime_api.rs"]
mod runtime_api;
mod simulation;
#[path = "../support/svg.rs"]
mod svg;
#[path = "../support/time.rs"]
mod time;
mod workload;

use std::path::PathBuf;
use std::time::Instant;

use report::{Figures, matching_percent};
use serde_json::Value;
use simulation::{Emf, Outcome, Run, Table, batch_failures, moto_requests, read_outcomes, run_week};
use workload::{DAY, WEEK, Week, fillable, slot_opens, week};

type Error = Box<dyn std::error::Error + Send + Sync>;
type Result<T> = std::result::Result<T, Error>;

const SAMPLE: &str = include_str!("../../events/eventbridge-connected-to-agent.json");
const INSTANCE: &str = "9e7c1b52-3d4f-4a6b-8c2d-1e0f3a5b7c9d";
const ACCOUNT: &str = "111122223333";
const QUEUE_ARN: &str = "arn:aws:sqs:us-east-1:111122223333:monitor-contact-automation";
/// The table's name in moto.
const TABLE: &str = "monitor-contact-qa-state";

/// Which runs to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Only {
    Both,
    Quota,
    Percent,
}

#[derive(Debug, Clone)]
struct Settings {
    seed: u64,
    agents: usize,
    teams: usize,
    reviewers: usize,
    /// Calls per agent, drawn uniformly in this range.
    calls: (u64, u64),
    /// The rule: this many monitors per agent per week.
    quota: u32,
    /// `QA_TIME_ZONE`.
    zone: &'static str,
    /// Monday 00:00 of the week in `zone`, in seconds since the epoch.
    week_start: u64,
    /// Records per SQS batch.
    batch_size: usize,
    /// Execution environments invoked at once (the template's MaximumConcurrency).
    processes: usize,
    /// Run 2's percent, instead of the one matching run 1's total.
    percent: Option<u8>,
    only: Only,
    svg: PathBuf,
    log_dir: PathBuf,
}

impl Settings {
    fn from_env() -> Settings {
        let number = |name: &str, default: u64| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .unwrap_or(default)
        };
        let text = |name: &str| std::env::var(name).ok().map(|v| v.trim().to_ascii_lowercase());
        Settings {
            seed: number("QA_WEEK_SEED", 18),
            agents: number("QA_WEEK_AGENTS", 200).clamp(1, 10_000) as usize,
            teams: 10,
            reviewers: number("QA_WEEK_REVIEWERS", 12).clamp(1, 1000) as usize,
            calls: (5, number("QA_WEEK_MAX_CALLS", 200).clamp(5, 10_000)),
            quota: 3,
            // The week of 23 November 2026: New York is on EST (UTC−5) all week, so Monday 00:00
            // local is 05:00Z. A zone away from UTC makes a function that counted weeks in UTC
            // visible (slots would open 5 hours early).
            zone: "America/New_York",
            week_start: 1_795_410_000,
            batch_size: number("QA_WEEK_BATCH", 10).clamp(1, 10_000) as usize,
            processes: number("QA_WEEK_PROCESSES", 2).clamp(1, 16) as usize,
            percent: std::env::var("QA_WEEK_PERCENT")
                .ok()
                .and_then(|v| v.trim().parse::<u8>().ok())
                .filter(|p| *p <= 100),
            only: match text("QA_WEEK_ONLY").as_deref() {
                Some("quota") => Only::Quota,
                Some("percent") => Only::Percent,
                _ => Only::Both,
            },
            svg: std::env::var("QA_WEEK_SVG")
                .map(PathBuf::from)
                .unwrap_or_else(|_| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/qa-week.svg"))),
            log_dir: std::env::temp_dir().join("monitor-contact-qa-week"),
        }
    }
}

fn main() -> Result<()> {
    // `cargo bench` passes --bench; `cargo test --bench qa_week` does not: then only the self-checks.
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
    let began = Instant::now();
    let binary = runtime_api::build_function()?;
    std::fs::create_dir_all(&settings.log_dir)?;
    let week = week(&settings);
    report::print_week(&settings, &week);
    let mut figures: Vec<Figures> = Vec::new();
    let mut quota_monitors = None;
    if settings.only != Only::Percent {
        // Panics (naming the command that installs moto) when moto is missing.
        let moto = moto::Moto::start();
        let client = aws_sdk_dynamodb::Client::new(&moto.sdk_config().await);
        moto::create_table(&client, TABLE).await;
        let table = Table {
            moto: &moto,
            client,
            name: TABLE.to_owned(),
        };
        let run = Run::quota(settings.quota, TABLE);
        eprintln!("qa_week: run 1, {}, its counts in moto ({})", run.name, moto.endpoint);
        let outcome = run_week(&settings, &week, &binary, &run, Some(&table)).await?;
        quota_monitors = Some(outcome.monitors.len());
        figures.push(Figures::of(&settings, &week, &outcome));
    }
    if settings.only != Only::Quota {
        let percent = match (settings.percent, quota_monitors) {
            (Some(percent), _) => percent,
            (None, Some(monitors)) => matching_percent(monitors, week.contacts.len()),
            (None, None) => return Err("QA_WEEK_ONLY=percent needs QA_WEEK_PERCENT".into()),
        };
        let run = Run::percent(percent);
        eprintln!("qa_week: run 2, {}", run.name);
        let outcome = run_week(&settings, &week, &binary, &run, None).await?;
        figures.push(Figures::of(&settings, &week, &outcome));
    }
    let runs: Vec<&Figures> = figures.iter().collect();
    let passed = report::print(&settings, &runs);
    let svg = picture::draw(&settings, &week, &runs);
    if let Some(dir) = settings.svg.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&settings.svg, svg)?;
    println!("\npicture: {}", settings.svg.display());
    println!("ran in {:.0} s (the build included)", began.elapsed().as_secs_f64());
    if !passed {
        return Err("the quota run missed a goal (see above)".into());
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Self-checks (`cargo test --bench qa_week`).

fn self_checks() -> Result<()> {
    let check = |ok: bool, what: &str| -> Result<()> {
        if ok {
            println!("ok: {what}");
            Ok(())
        } else {
            Err(format!("self-check failed: {what}").into())
        }
    };
    let settings = Settings::from_env();
    check(
        (settings.week_start / DAY + 3).is_multiple_of(7) && settings.week_start % DAY == 5 * 3600,
        "the week starts on a Monday, at midnight in New York (EST, 05:00Z)",
    )?;
    check(
        time::iso8601_secs(settings.week_start, false) == "2026-11-23T05:00:00Z",
        "the week's start, written out",
    )?;
    // The slots of 3 per week: Monday 00:00, Wednesday 08:00, Friday 16:00.
    check(
        slot_opens(1, 3) == 0 && slot_opens(2, 3) == 2 * DAY + 8 * 3600 && slot_opens(3, 3) == 4 * DAY + 16 * 3600,
        "3 slots a week open Monday 00:00, Wednesday 08:00, Friday 16:00",
    )?;
    let friday = 4 * DAY + 17 * 3600;
    check(
        fillable(&[0, 10, 20, 30], 3) == 1
            && fillable(&[friday, friday + 60, friday + 120], 3) == 3
            && fillable(&[3 * DAY, friday - 1, friday], 3) == 3
            && fillable(&[3 * DAY, 3 * DAY + 1], 3) == 2
            && fillable(&[], 3) == 0
            && fillable(&[WEEK - 1; 5], 3) == 3,
        "what an agent's calls could fill (an agent working only Friday afternoon fills all three)",
    )?;
    let a = week(&settings);
    let b = week(&settings);
    check(
        a.contacts.len() == b.contacts.len()
            && a.contacts
                .iter()
                .zip(&b.contacts)
                .all(|(x, y)| x.id == y.id && x.at == y.at && x.agent == y.agent),
        "the same seed gives the same week",
    )?;
    let calls: Vec<usize> = a.agents.iter().map(|agent| agent.contacts.len()).collect();
    check(
        a.agents.len() == 200
            && a.teams.len() == 10
            && a.reviewers.len() == 12
            && calls.iter().all(|n| (5..=200).contains(n))
            && (0..10).all(|t| a.agents.iter().filter(|agent| agent.team == t).count() == 20),
        "200 agents in 10 teams of 20, 5 to 200 calls each, 12 reviewers",
    )?;
    check(
        a.contacts.windows(2).all(|w| w[0].at <= w[1].at) && a.contacts.iter().all(|c| c.at < WEEK),
        "contacts in time order, within the week",
    )?;
    let mut hours = [0usize; 24];
    let mut weekend = 0;
    for contact in &a.contacts {
        hours[(contact.at % DAY / 3600) as usize] += 1;
        weekend += usize::from(contact.at >= 5 * DAY);
    }
    check(
        hours[10] > hours[8] && hours[14] > hours[12] && hours[3] == 0 && weekend * 5 < a.contacts.len(),
        "a daily pattern: more mid-morning and mid-afternoon than at 8 or noon, none at night, few at weekends",
    )?;
    let eligible = (0..a.agents.len())
        .filter(|agent| fillable(&a.times(*agent), 3) == 3)
        .count();
    check(
        eligible > 100 && eligible < 200,
        "most agents, not all, have 3 calls after their slots opened (an early shift ends before Friday 16:00)",
    )?;
    let event = a.event(&Week::template(), &a.contacts[0]);
    let agent = &a.agents[a.contacts[0].agent];
    check(
        event["detail"]["contactId"] == a.contacts[0].id.as_str()
            && event["id"] == a.contacts[0].event_id.as_str()
            && event["time"] == time::iso8601_secs(a.start + a.contacts[0].at, false).as_str()
            && event["detail"]["eventType"] == "CONNECTED_TO_AGENT"
            && event["detail"]["agentInfo"]["agentArn"]
                .as_str()
                .is_some_and(|arn| arn.ends_with(&format!("/agent/{}", agent.id)))
            && event["detail"]["agentInfo"]["hierarchyGroups"]["level2"]["arn"]
                .as_str()
                .is_some_and(|arn| arn.ends_with(&format!("/agent-group/{}", a.teams[agent.team]))),
        "an event carries its contact, time, agent and the agent's team",
    )?;
    check(
        a.batches(10).len() == a.contacts.len().div_ceil(10)
            && a.batches(10).iter().map(|r| r.len()).sum::<usize>() == a.contacts.len(),
        "batches of 10 cover the week once",
    )?;
    check(
        matching_percent(600, 20_000) == 3
            && matching_percent(0, 100) == 0
            && matching_percent(5, 0) == 0
            && matching_percent(150, 100) == 100,
        "the percent that matches a total",
    )?;
    check(
        batch_failures(r#"{"batchItemFailures":[]}"#) == Some(Vec::new())
            && batch_failures(r#"{"batchItemFailures":[{"itemIdentifier":"m-1"}]}"#) == Some(vec!["m-1".to_owned()])
            && batch_failures("nope").is_none(),
        "batch responses",
    )?;
    let mut emf = Emf::default();
    emf.read(concat!(
        r#"{"level":"INFO","message":"a log record"}"#,
        "\n",
        r#"{"_aws":{},"FunctionName":"f","Started":2,"Duration":1.5,"ConnectThrottled":0,"QaStateCalls":7}"#,
        "\n",
        r#"{"_aws":{},"FunctionName":"f","Reason":"QUOTA_REACHED","Skipped":8}"#,
        "\n",
        r#"{"_aws":{},"FunctionName":"f","Operation":"MonitorContact","ConnectCalls":2}"#,
        "\n",
        r#"{"_aws":{},"FunctionName":"f","QaRule":"weekly-3","Started":2,"Skipped":8}"#,
        "\n",
        r#"{"_aws":{},"FunctionName":"f","ErrorType":"StateUnavailable","Failed":1}"#,
    ));
    check(
        emf.invocations == 1
            && emf.started == 2
            && emf.state_calls == 7
            && emf.skipped.get("QUOTA_REACHED") == Some(&8)
            && emf.connect_calls.get("MonitorContact") == Some(&2)
            && emf.failed.get("StateUnavailable") == Some(&1),
        "the function's EMF metrics, summed (the per-rule documents not counted twice)",
    )?;
    let mut logged = std::collections::HashMap::new();
    read_outcomes(
        concat!(
            r#"{"level":"WARN","fields":{"contact":"c-1","receive_count":1,"outcome":"SupervisorUnavailable"}}"#,
            "\n",
            r#"{"level":"INFO","fields":{"contact":"c-2","outcome":"NOT_YET"}}"#,
            "\n",
            r#"{"_aws":{},"FunctionName":"f","Started":1}"#,
            "\n",
        ),
        &mut logged,
    );
    read_outcomes(
        r#"{"level":"INFO","fields":{"contact":"c-1","receive_count":2,"outcome":"STARTED"}}"#,
        &mut logged,
    );
    check(
        logged.len() == 2
            && logged["c-1"].iter().max().map(|o| o.1.as_str()) == Some("STARTED")
            && logged["c-2"] == [(1, "NOT_YET".to_owned())],
        "each contact's outcomes from the log records, by receive",
    )?;
    check(
        moto_requests(concat!(
            "moto: one request at a time\n",
            "127.0.0.1 - - [23/Nov/2026 05:00:00] \"POST / HTTP/1.0\" 200 -\n",
            "127.0.0.1 - - [23/Nov/2026 05:00:01] \"POST / HTTP/1.0\" 400 -\n",
            " * Running on http://127.0.0.1:5000\n",
        )) == 2,
        "moto's requests, from its request log",
    )?;

    // The figures and the picture, on a made-up outcome: agent 0's first three contacts monitored
    // after their slots opened, one contact of another agent twice.
    let first = &a.agents[0];
    let mut outcome = Outcome {
        run_name: "made up".to_owned(),
        rules: "[]".to_owned(),
        ..Outcome::default()
    };
    let mut k = 1;
    for contact in &first.contacts {
        if k <= 3 && a.contacts[*contact].at >= slot_opens(k, 3) {
            outcome.monitors.push((*contact, a.reviewers[0].clone()));
            k += 1;
        }
    }
    let other = a.agents[1].contacts[0];
    outcome.monitors.push((other, a.reviewers[1].clone()));
    outcome.monitors.push((other, a.reviewers[1].clone()));
    let figures = Figures::of(&settings, &a, &outcome);
    let first_could = fillable(&a.times(0), 3);
    check(
        figures.per_agent[0] == first_could
            && figures.per_agent[1] == 2
            && figures.most() == first_could.max(2)
            && figures.early == usize::from(a.contacts[other].at < slot_opens(2, 3))
            && figures.per_reviewer[0] == first_could
            && figures.per_reviewer[1] == 2
            && figures.per_day.iter().sum::<u32>() as usize == outcome.monitors.len(),
        "figures: per agent, the most, per reviewer, per day, a second monitor before its slot",
    )?;
    let svg = picture::draw(&settings, &a, &[&figures, &figures]);
    check(
        svg.starts_with("<svg")
            && svg.trim_end().ends_with("</svg>")
            && svg.matches(">team 10<").count() == 2
            && svg.contains("slot 3 opens")
            && !svg.contains("NaN"),
        "the picture draws both runs, every agent, the slots",
    )?;
    let template: Value = serde_json::from_str(SAMPLE)?;
    check(
        template["detail"]["eventType"] == "CONNECTED_TO_AGENT",
        "the sample is a CONNECTED_TO_AGENT event",
    )?;
    println!("self-checks passed (run `cargo bench --bench qa_week` for the benchmark)");
    Ok(())
}

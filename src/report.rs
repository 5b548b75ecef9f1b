//! `monitor-contact-report` (issue 18): QA coverage from the record in the state table, per agent, for
//! one quota rule and one local day, week or month.
//!
//! ```text
//! monitor-contact-report --table NAME --rule RULE --period day|week|month [--at YYYY-MM-DD] [--json] [--svg FILE]
//! ```
//!
//! The period is the one containing the date `--at` (default: today), counted in `QA_TIME_ZONE` as the
//! function counts it ([`crate::quota::bounds`]). The records of a rule are partitioned by the local day
//! of their event's time (`record#<rule>#<YYYY-MM-DD>`), so the report queries one partition per day of
//! the period, every page of each, and keeps the records whose event time falls in the period.
//!
//! Pure from records to text: [`parse_args`] reads the command line, [`window`] the period and its days,
//! [`rows`] folds records into one [`Row`] per agent, and [`json_lines`], [`table`] and [`svg`]
//! write them. The binary (`src/bin/monitor-contact-report.rs`) only calls [`main`].

mod dynamo;
mod picture;

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::fmt;
use std::future::Future;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::Serialize;

use crate::quota::{self, Bounds, Period};

pub use picture::svg;

/// The command line, for usage errors and `--help`.
pub const USAGE: &str = "usage: monitor-contact-report --table NAME --rule RULE --period day|week|month [--at YYYY-MM-DD] [--json] [--svg FILE]";

/// What each argument is, for `--help`.
const HELP: &str = "\
QA coverage of one quota rule: monitors per agent in one local day, week or month (issue 18).

  --table NAME     the QA state table (the stack's output QaStateTableName)
  --rule RULE      the QA rule's name, as in QA_RULES
  --period P       day, week (from Monday) or month, as the rule's perAgent counts it
  --at YYYY-MM-DD  a day of the period (default: today), in QA_TIME_ZONE (default UTC)
  --json           one JSON object per agent and line instead of a table
  --svg FILE       also draw monitors against quota per agent, by team, into FILE

The AWS region and credentials come from the environment (AWS_REGION, AWS_PROFILE, ...);
AWS_ENDPOINT_URL_DYNAMODB points it at another DynamoDB. Exit codes: 0 done, 1 the table or
the SVG file failed, 2 a bad argument or QA_TIME_ZONE.";

/// `--help`: the usage and what each argument is.
pub fn help() -> String {
    format!("{USAGE}\n\n{HELP}\n")
}

/// The report's arguments, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    /// `--table`: the state table's name.
    pub table: String,
    /// `--rule`: the QA rule's name.
    pub rule: String,
    /// `--period`.
    pub period: Period,
    /// `--at`: a local date in the period; `None` for today.
    pub at: Option<Date>,
    /// `--json`: JSON lines instead of a table.
    pub json: bool,
    /// `--svg`: where to write the picture.
    pub svg: Option<PathBuf>,
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// A report.
    Report(Args),
    /// `--help` or `-h`: the usage, and nothing else.
    Help,
}

/// A bad command line (exit code 2): the argument and what it must be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError {
    /// The argument at fault, e.g. `--period` (or `QA_TIME_ZONE`).
    pub argument: String,
    /// What is wrong, naming the argument and the rule it breaks.
    pub message: String,
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "monitor-contact-report: {}\n{USAGE}", self.message)
    }
}

impl std::error::Error for UsageError {}

fn usage(argument: &str, message: String) -> UsageError {
    UsageError {
        argument: argument.to_owned(),
        message,
    }
}

/// The options that take a value, and what the value must be (said in usage errors).
const VALUED: [(&str, &str); 5] = [
    (
        "--table",
        "a DynamoDB table name: 3 to 255 of A-Z a-z 0-9 _ . - (the stack's output QaStateTableName)",
    ),
    (
        "--rule",
        "a QA rule's name: 1 to 64 characters of A-Z, a-z, 0-9, space, '-', '_' and '.'",
    ),
    ("--period", "day, week or month"),
    ("--at", "a date, YYYY-MM-DD (a day of QA_TIME_ZONE)"),
    ("--svg", "a file to write the picture to"),
];

fn rule_of(option: &str) -> &'static str {
    VALUED
        .iter()
        .find(|(name, _)| *name == option)
        .map_or("", |(_, rule)| rule)
}

/// Reads the command line (without the program's name). `--opt value` and `--opt=value` both work; an
/// option given twice, an unknown one, a missing value or a value that breaks its rule is a
/// [`UsageError`] naming the option and the rule.
pub fn parse_args(args: impl IntoIterator<Item = OsString>) -> Result<Command, UsageError> {
    let mut values: BTreeMap<&'static str, String> = BTreeMap::new();
    let mut json = false;
    let mut args = args.into_iter().enumerate().map(|(position, arg)| {
        arg.into_string()
            .map_err(|_| usage("argument", format!("argument {} is not valid UTF-8", position + 1)))
    });
    while let Some(arg) = args.next() {
        let arg = arg?;
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) if name.starts_with("--") => (name.to_owned(), Some(value.to_owned())),
            _ => (arg.clone(), None),
        };
        match name.as_str() {
            "--help" | "-h" => return Ok(Command::Help),
            "--json" if inline.is_none() => {
                if json {
                    return Err(usage("--json", "--json is given twice".into()));
                }
                json = true;
            }
            _ => {
                let Some((option, rule)) = VALUED.iter().find(|(option, _)| *option == name) else {
                    return Err(unexpected(&arg));
                };
                let value = match inline {
                    Some(value) => value,
                    None => match args.next().transpose()? {
                        Some(value) if !value.starts_with("--") => value,
                        _ => return Err(usage(option, format!("{option} needs a value: {rule}"))),
                    },
                };
                if values.insert(option, value).is_some() {
                    return Err(usage(option, format!("{option} is given twice")));
                }
            }
        }
    }
    validate(values, json).map(Command::Report)
}

fn unexpected(arg: &str) -> UsageError {
    let known = VALUED.iter().map(|(name, _)| *name).collect::<Vec<_>>().join(", ");
    usage(
        arg,
        format!("unexpected argument {arg:?}: the arguments are {known}, --json and --help"),
    )
}

/// Checks each value against its rule, and that the required ones are there.
fn validate(mut values: BTreeMap<&'static str, String>, json: bool) -> Result<Args, UsageError> {
    let mut take = |option: &'static str| values.remove(option);
    let required = |option: &'static str, value: Option<String>| {
        value.ok_or_else(|| usage(option, format!("{option} is required: {}", rule_of(option))))
    };
    let broken = |option: &str, value: &str| usage(option, format!("{option} {value:?}: must be {}", rule_of(option)));
    let table = required("--table", take("--table"))?;
    if !crate::config::is_table_name(&table) {
        return Err(broken("--table", &table));
    }
    let rule = required("--rule", take("--rule"))?;
    if !crate::qa::is_rule_name(&rule) {
        return Err(broken("--rule", &rule));
    }
    let period = required("--period", take("--period"))?;
    let period = period.parse::<Period>().map_err(|_| broken("--period", &period))?;
    let at = match take("--at") {
        Some(text) => Some(local_date(&text).ok_or_else(|| broken("--at", &text))?),
        None => None,
    };
    let svg = match take("--svg") {
        Some(path) if path.is_empty() => return Err(broken("--svg", &path)),
        Some(path) => Some(PathBuf::from(path)),
        None => None,
    };
    Ok(Args {
        table,
        rule,
        period,
        at,
        json,
        svg,
    })
}

/// `YYYY-MM-DD` exactly (jiff alone would take other ISO 8601 forms too).
fn local_date(text: &str) -> Option<Date> {
    let shape = text.len() == 10
        && text.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    if !shape {
        return None;
    }
    text.parse::<Date>().ok()
}

/// The period to report on and the local days it spans (the record partitions to query).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    /// The period, as the function counts it.
    pub bounds: Bounds,
    /// Its local days, first to last (23 to 31 of them for a month...; 7 for a week; 1 for a day).
    pub days: Vec<Date>,
}

impl Window {
    /// The days as the record partitions spell them, `YYYY-MM-DD`.
    pub fn day_labels(&self) -> Vec<String> {
        self.days.iter().map(|d| d.strftime("%Y-%m-%d").to_string()).collect()
    }
}

/// The period of kind `per` that contains the local date `at` in `zone`, and its days. `None` only for a
/// date at the ends of the representable range (the years -9999 and 9999).
pub fn window(at: Date, per: Period, zone: &TimeZone) -> Option<Window> {
    let instant = at.to_zoned(zone.clone()).ok()?.timestamp();
    let bounds = quota::bounds(instant, per, zone);
    let first = bounds.start.to_zoned(zone.clone()).date();
    let last = bounds
        .end
        .checked_sub(jiff::SignedDuration::from_nanos(1))
        .ok()?
        .to_zoned(zone.clone())
        .date();
    let mut days = vec![first];
    while let Some(&day) = days.last()
        && day < last
        && days.len() < 32
    {
        days.push(day.tomorrow().ok()?);
    }
    Some(Window { bounds, days })
}

/// One monitor a quota rule started, as the report needs it (from a record item).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The monitored contact (`contact`).
    pub contact: String,
    /// The agent's user ID (`agent`).
    pub agent: String,
    /// The reviewer's user ID (`reviewer`).
    pub reviewer: String,
    /// The event's time (`eventTime`).
    pub event_time: Timestamp,
    /// The rule's `perAgent` count when the monitor started (`quota`).
    pub quota: Option<u32>,
    /// The agent's team: the deepest hierarchy group ID of the event (`team`).
    pub team: Option<String>,
}

/// One agent's coverage in the period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The agent's user ID.
    pub agent: String,
    /// The team of the agent's last monitored contact.
    pub team: Option<String>,
    /// Monitors started: distinct contacts.
    pub monitored: u32,
    /// The quota of the agent's last record (the rule as it was then); `None` without `perAgent`.
    pub quota: Option<u32>,
    /// The reviewers, sorted, each once.
    pub reviewers: Vec<String>,
    /// The event time of the agent's last monitored contact.
    pub last: Timestamp,
}

/// One row per agent with a record in `bounds`, sorted by agent. Records outside the period are left
/// out (a partition is a day of the zone the function used; another `QA_TIME_ZONE` would cut its days
/// differently); a contact counts once whatever the number of its records.
pub fn rows(entries: &[Entry], bounds: &Bounds) -> Vec<Row> {
    let mut seen = BTreeSet::new();
    let mut agents: BTreeMap<&str, Vec<&Entry>> = BTreeMap::new();
    for entry in entries {
        let inside = bounds.start <= entry.event_time && entry.event_time < bounds.end;
        if inside && seen.insert(entry.contact.as_str()) {
            agents.entry(entry.agent.as_str()).or_default().push(entry);
        }
    }
    agents
        .into_iter()
        .filter_map(|(agent, entries)| {
            let last = entries.iter().max_by_key(|e| (e.event_time, e.contact.as_str()))?;
            Some(Row {
                agent: agent.to_owned(),
                team: last.team.clone(),
                monitored: u32::try_from(entries.len()).unwrap_or(u32::MAX),
                quota: last.quota,
                reviewers: entries
                    .iter()
                    .map(|e| e.reviewer.clone())
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect(),
                last: last.event_time,
            })
        })
        .collect()
}

/// The page of a partition, as [`Records::page`] returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<K> {
    /// Each item as a record, or why it is not one (said on standard error, never fatal).
    pub items: Vec<Result<Entry, String>>,
    /// Where the next page starts (DynamoDB's LastEvaluatedKey); `None` after the last.
    pub next: Option<K>,
}

/// Where the records are: one page of one partition at a time (a DynamoDB Query on `pk`).
pub trait Records {
    /// Where a page starts.
    type Key;

    /// The page of `partition` from `from` (`None`: the first).
    fn page(&self, partition: &str, from: Option<Self::Key>) -> impl Future<Output = Result<Page<Self::Key>, Failure>>;
}

/// Every record of `rule` in the window's days, every page of each; and what was not a record.
pub async fn read<R: Records>(store: &R, rule: &str, window: &Window) -> Result<(Vec<Entry>, Vec<String>), Failure> {
    let (mut entries, mut skipped) = (Vec::new(), Vec::new());
    for day in window.day_labels() {
        let partition = crate::qa_state::record_partition(rule, &day);
        let mut from = None;
        loop {
            let page = store.page(&partition, from).await?;
            for item in page.items {
                match item {
                    Ok(entry) => entries.push(entry),
                    Err(why) => skipped.push(format!("{partition}: {why}")),
                }
            }
            from = match page.next {
                Some(next) => Some(next),
                None => break,
            };
        }
    }
    Ok((entries, skipped))
}

/// What a report comes to: the text for standard output, warnings for standard error, the picture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// The table, or the JSON lines.
    pub stdout: String,
    /// Items of the partitions that are not records, one line each.
    pub warnings: Vec<String>,
    /// The SVG document, with `--svg`.
    pub svg: Option<String>,
}

/// The report `args` ask for, with the records in `store`, in `zone`; `today` (a date of `zone`) where
/// there is no `--at`.
pub async fn report<R: Records>(store: &R, args: &Args, zone: TimeZone, today: Date) -> Result<Output, Failure> {
    let at = args.at.unwrap_or(today);
    let window = window(at, args.period, &zone).ok_or_else(|| {
        Failure::Usage(usage(
            "--at",
            format!("--at {at}: the {} around it is out of range", args.period),
        ))
    })?;
    let (entries, warnings) = read(store, &args.rule, &window).await?;
    let coverage = Coverage {
        rule: args.rule.clone(),
        period: args.period,
        rows: rows(&entries, &window.bounds),
        zone,
        bounds: window.bounds,
    };
    let stdout = if args.json {
        json_lines(&coverage).map_err(|e| Failure::Run(format!("cannot write JSON: {e}")))?
    } else {
        table(&coverage)
    };
    let svg = args.svg.as_ref().map(|_| svg(&coverage));
    Ok(Output { stdout, warnings, svg })
}

/// The binary's `main`: the report the command line asks for, from the table the environment reaches;
/// errors on standard error with their exit code ([`Failure::exit_code`]).
pub async fn main() -> ExitCode {
    let env = |name: &str| std::env::var(name).ok();
    match run(std::env::args_os().skip(1), env).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            let _ = writeln!(std::io::stderr(), "{failure}");
            ExitCode::from(failure.exit_code())
        }
    }
}

async fn run(
    args: impl IntoIterator<Item = OsString>,
    env: impl Fn(&str) -> Option<String> + Copy,
) -> Result<(), Failure> {
    let args = match parse_args(args).map_err(Failure::Usage)? {
        Command::Help => return write_stdout(&help()),
        Command::Report(args) => args,
    };
    let zone = crate::config::qa_time_zone(env).map_err(|e| Failure::Usage(usage(e.variable, e.message)))?;
    let today = Timestamp::now().to_zoned(zone.clone()).date();
    let store = dynamo::DynamoRecords::open(&args.table, env).await?;
    let output = report(&store, &args, zone, today).await?;
    for warning in &output.warnings {
        let _ = writeln!(std::io::stderr(), "monitor-contact-report: skipped {warning}");
    }
    if let (Some(path), Some(svg)) = (&args.svg, &output.svg) {
        std::fs::write(path, svg).map_err(|e| Failure::Run(format!("cannot write --svg {}: {e}", path.display())))?;
    }
    write_stdout(&output.stdout)
}

/// Writes `text` to standard output; a reader that went away (`| head`) is no failure.
fn write_stdout(text: &str) -> Result<(), Failure> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Failure::Run(format!("cannot write the report: {e}")))
        }
        _ => Ok(()),
    }
}

/// Why the report failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// A bad argument or `QA_TIME_ZONE`: exit code 2.
    Usage(UsageError),
    /// The table could not be read, or the output written: exit code 1.
    Run(String),
}

impl Failure {
    /// The process's exit code.
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Usage(_) => 2,
            Failure::Run(_) => 1,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Usage(usage) => usage.fmt(f),
            Failure::Run(message) => write!(f, "monitor-contact-report: {message}"),
        }
    }
}

/// The rows of one rule and period, and how to say its times.
#[derive(Debug, Clone)]
pub struct Coverage {
    /// The rule.
    pub rule: String,
    /// The kind of period.
    pub period: Period,
    /// `QA_TIME_ZONE`.
    pub zone: TimeZone,
    /// The period.
    pub bounds: Bounds,
    /// One per agent, sorted by agent.
    pub rows: Vec<Row>,
}

impl Coverage {
    /// `time` in RFC 3339 with the zone's offset (fractional seconds only where there are some).
    pub fn local(&self, time: Timestamp) -> String {
        time.to_zoned(self.zone.clone())
            .strftime("%Y-%m-%dT%H:%M:%S%.f%:z")
            .to_string()
    }

    /// The zone's name, for titles.
    pub fn zone_name(&self) -> &str {
        self.zone.iana_name().unwrap_or("UTC")
    }
}

/// One line of `--json`, its fields in this order.
#[derive(Serialize)]
struct JsonRow<'a> {
    agent: &'a str,
    rule: &'a str,
    period_start: &'a str,
    monitored: u32,
    quota: Option<u32>,
    reviewers: &'a [String],
    last: String,
}

/// `--json`: one object per agent, one per line (none for a period without records).
pub fn json_lines(coverage: &Coverage) -> Result<String, serde_json::Error> {
    let mut out = String::new();
    for row in &coverage.rows {
        let line = JsonRow {
            agent: &row.agent,
            rule: &coverage.rule,
            period_start: &coverage.bounds.label,
            monitored: row.monitored,
            quota: row.quota,
            reviewers: &row.reviewers,
            last: coverage.local(row.last),
        };
        out.push_str(&serde_json::to_string(&line)?);
        out.push('\n');
    }
    Ok(out)
}

/// The text report: a line saying what it covers, then an aligned table (numbers to the right).
pub fn table(coverage: &Coverage) -> String {
    let monitors: u64 = coverage.rows.iter().map(|r| u64::from(r.monitored)).sum();
    let mut out = format!(
        "rule {}, {} from {} to {} ({}): {} agents, {} monitors\n",
        coverage.rule,
        coverage.period,
        coverage.bounds.label,
        coverage.local(coverage.bounds.end),
        coverage.zone_name(),
        coverage.rows.len(),
        monitors
    );
    if coverage.rows.is_empty() {
        out.push_str("no monitors recorded for this rule in this period\n");
        return out;
    }
    let header = ["AGENT", "TEAM", "MONITORED", "QUOTA", "LAST", "REVIEWERS"];
    let mut cells: Vec<[String; 6]> = vec![header.map(str::to_owned)];
    for row in &coverage.rows {
        cells.push([
            row.agent.clone(),
            row.team.clone().unwrap_or_else(|| "-".into()),
            row.monitored.to_string(),
            row.quota.map_or_else(|| "-".into(), |q| q.to_string()),
            coverage.local(row.last),
            row.reviewers.join(","),
        ]);
    }
    let mut widths = [0usize; 6];
    for line in &cells {
        for (width, cell) in widths.iter_mut().zip(line) {
            *width = (*width).max(cell.chars().count());
        }
    }
    for line in &cells {
        let mut text = String::new();
        for (column, (cell, width)) in line.iter().zip(widths).enumerate() {
            let pad = " ".repeat(width - cell.chars().count());
            let numeric = column == 2 || column == 3;
            match (column, numeric) {
                (5, _) => text.push_str(cell),
                (_, true) => text.push_str(&format!("{pad}{cell}  ")),
                (_, false) => text.push_str(&format!("{cell}{pad}  ")),
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    const A1: &str = "a1a1a1a1-0000-4000-8000-000000000001";
    const A2: &str = "a2a2a2a2-0000-4000-8000-000000000002";
    const R1: &str = "b1b1b1b1-0000-4000-8000-000000000001";
    const R2: &str = "b2b2b2b2-0000-4000-8000-000000000002";
    const TEAM: &str = "c3c3c3c3-0000-4000-8000-00000000000c";

    fn args(list: &[&str]) -> Result<Command, UsageError> {
        parse_args(list.iter().map(OsString::from))
    }

    fn parsed(list: &[&str]) -> Args {
        match args(list) {
            Ok(Command::Report(args)) => args,
            other => panic!("{list:?}: {other:?}"),
        }
    }

    fn fails(list: &[&str]) -> UsageError {
        match args(list) {
            Err(e) => e,
            Ok(other) => panic!("{list:?} was accepted: {other:?}"),
        }
    }

    fn at(text: &str) -> Timestamp {
        Timestamp::from_str(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn date(text: &str) -> Date {
        Date::from_str(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn zone(name: &str) -> TimeZone {
        TimeZone::get(name).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    const BASE: [&str; 6] = ["--table", "qa-state", "--rule", "weekly qa", "--period", "week"];

    #[test]
    fn arguments_in_either_spelling() {
        let a = parsed(&BASE);
        assert_eq!(
            a,
            Args {
                table: "qa-state".into(),
                rule: "weekly qa".into(),
                period: Period::Week,
                at: None,
                json: false,
                svg: None,
            }
        );
        let b = parsed(&[
            "--svg=out.svg",
            "--json",
            "--at",
            "2026-03-25",
            "--period=month",
            "--rule=r",
            "--table=T.x_1",
        ]);
        assert_eq!((b.table.as_str(), b.rule.as_str()), ("T.x_1", "r"));
        assert_eq!(b.period, Period::Month);
        assert_eq!(b.at, Some(date("2026-03-25")));
        assert!(b.json);
        assert_eq!(b.svg, Some(PathBuf::from("out.svg")));
        assert_eq!(args(&["--help"]), Ok(Command::Help));
        assert!(help().starts_with(USAGE) && help().contains("QA_TIME_ZONE"));
        assert_eq!(args(&["--table", "x", "-h"]), Ok(Command::Help), "help wins");
    }

    #[test]
    fn bad_arguments_name_the_argument_and_its_rule() {
        let with = |extra: &[&str]| {
            let mut list = BASE.to_vec();
            list.extend_from_slice(extra);
            fails(&list)
        };
        for (error, argument, says) in [
            (fails(&[]), "--table", "--table is required: a DynamoDB table name"),
            (
                fails(&BASE[..4]),
                "--period",
                "--period is required: day, week or month",
            ),
            (
                fails(&["--table", "qa", "--rule", "r", "--period", "day"]),
                "--table",
                "3 to 255",
            ),
            (with(&["--period", "day"]), "--period", "--period is given twice"),
            (
                fails(&["--table", "qa-state", "--rule", "r", "--period", "year"]),
                "--period",
                "\"year\": must be day, week or month",
            ),
            (
                fails(&["--table", "qa-state", "--rule", "r/x", "--period", "day"]),
                "--rule",
                "must be a QA rule's name",
            ),
            (with(&["--at", "2026-02-30"]), "--at", "must be a date, YYYY-MM-DD"),
            (with(&["--at", "2026-3-1"]), "--at", "YYYY-MM-DD"),
            (with(&["--at", "20260301"]), "--at", "YYYY-MM-DD"),
            (with(&["--at"]), "--at", "--at needs a value: a date"),
            (with(&["--svg", "--json"]), "--svg", "--svg needs a value"),
            (with(&["--svg="]), "--svg", "must be a file"),
            (
                with(&["--csv"]),
                "--csv",
                "unexpected argument \"--csv\": the arguments are --table",
            ),
            (with(&["extra"]), "extra", "unexpected argument"),
            (with(&["--json=yes"]), "--json=yes", "unexpected argument"),
            (with(&["--json", "--json"]), "--json", "--json is given twice"),
        ] {
            assert_eq!(error.argument, argument, "{error}");
            assert!(error.message.contains(says), "{argument}: {error}");
            assert!(error.to_string().ends_with(USAGE), "{error}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn arguments_that_are_not_text() {
        use std::os::unix::ffi::OsStringExt;
        let list = [OsString::from("--table"), OsString::from_vec(vec![0x66, 0xff])];
        let error = parse_args(list).err();
        assert_eq!(
            error.map(|e| e.message),
            Some("argument 2 is not valid UTF-8".to_owned())
        );
    }

    #[test]
    fn a_day_a_week_and_a_month_and_their_partitions() {
        let utc = TimeZone::UTC;
        let day = window(date("2026-12-03"), Period::Day, &utc);
        let day = day.unwrap_or_else(|| panic!("day"));
        assert_eq!(day.bounds.label, "2026-12-03T00:00:00+00:00");
        assert_eq!(day.day_labels(), ["2026-12-03"]);
        let week = window(date("2026-12-03"), Period::Week, &utc).unwrap_or_else(|| panic!("week"));
        assert_eq!(week.bounds.label, "2026-11-30T00:00:00+00:00");
        assert_eq!(
            week.day_labels(),
            [
                "2026-11-30",
                "2026-12-01",
                "2026-12-02",
                "2026-12-03",
                "2026-12-04",
                "2026-12-05",
                "2026-12-06"
            ]
        );
        let feb = window(date("2028-02-29"), Period::Month, &utc).unwrap_or_else(|| panic!("month"));
        assert_eq!(feb.days.len(), 29);
        assert_eq!(feb.day_labels().last().map(String::as_str), Some("2028-02-29"));
        assert_eq!(feb.bounds.label, "2028-02-01T00:00:00+00:00");
    }

    #[test]
    fn dst_weeks_in_london_have_seven_days_of_167_or_169_hours() {
        let london = zone("Europe/London");
        let hours = |w: &Window| w.bounds.length_nanos() / 3_600_000_000_000;
        // 2026-03-29 (a Sunday): 01:00 GMT becomes 02:00 BST.
        let spring = window(date("2026-03-25"), Period::Week, &london).unwrap_or_else(|| panic!("spring"));
        assert_eq!(spring.bounds.label, "2026-03-23T00:00:00+00:00");
        assert_eq!(spring.bounds.end, at("2026-03-29T23:00:00Z"), "Monday 00:00 BST");
        assert_eq!(hours(&spring), 167);
        assert_eq!(spring.day_labels().first().map(String::as_str), Some("2026-03-23"));
        assert_eq!(spring.day_labels().last().map(String::as_str), Some("2026-03-29"));
        assert_eq!(spring.days.len(), 7);
        // 2026-10-25 (a Sunday): 02:00 BST becomes 01:00 GMT.
        let autumn = window(date("2026-10-25"), Period::Week, &london).unwrap_or_else(|| panic!("autumn"));
        assert_eq!(autumn.bounds.label, "2026-10-19T00:00:00+01:00");
        assert_eq!(autumn.bounds.start, at("2026-10-18T23:00:00Z"));
        assert_eq!(autumn.bounds.end, at("2026-10-26T00:00:00Z"));
        assert_eq!(hours(&autumn), 169);
        assert_eq!(autumn.days.len(), 7);
        // The day itself: 23 hours, one partition.
        let sunday = window(date("2026-03-29"), Period::Day, &london).unwrap_or_else(|| panic!("day"));
        assert_eq!(
            (hours(&sunday), sunday.day_labels()),
            (23, vec!["2026-03-29".to_owned()])
        );
        // The month around it: 31 days, an hour short.
        let march = window(date("2026-03-01"), Period::Month, &london).unwrap_or_else(|| panic!("month"));
        assert_eq!((march.days.len(), hours(&march)), (31, 743));
    }

    #[test]
    fn the_ends_of_the_calendar_are_no_panic() {
        for per in [Period::Day, Period::Week, Period::Month] {
            assert!(window(Date::MAX, per, &TimeZone::UTC).is_none_or(|w| w.days.len() <= 31));
            assert!(window(Date::MIN, per, &zone("America/New_York")).is_none_or(|w| w.days.len() <= 31));
        }
    }

    fn entry(contact: &str, agent: &str, reviewer: &str, time: &str) -> Entry {
        Entry {
            contact: contact.into(),
            agent: agent.into(),
            reviewer: reviewer.into(),
            event_time: at(time),
            quota: Some(3),
            team: Some(TEAM.into()),
        }
    }

    fn week() -> Bounds {
        quota::bounds(at("2026-12-02T12:00:00Z"), Period::Week, &TimeZone::UTC)
    }

    fn sample() -> Vec<Entry> {
        let mut late = entry("c4", A1, R1, "2026-12-04T16:30:00.250Z");
        late.quota = Some(4);
        late.team = Some("d4d4d4d4-0000-4000-8000-00000000000d".into());
        let mut a2 = entry("c5", A2, R2, "2026-12-01T08:00:00Z");
        a2.quota = None;
        a2.team = None;
        vec![
            entry("c2", A1, R2, "2026-12-02T09:00:00Z"),
            late,
            entry("c1", A1, R1, "2026-11-30T00:00:05Z"),
            entry("c2", A1, R2, "2026-12-02T09:00:01Z"),
            entry("c0", A1, R1, "2026-11-29T23:59:59Z"),
            entry("c9", A2, R1, "2026-12-07T00:00:00Z"),
            a2,
        ]
    }

    #[test]
    fn rows_count_each_contact_once_per_agent_within_the_period() {
        let rows = rows(&sample(), &week());
        assert_eq!(
            rows,
            [
                Row {
                    agent: A1.into(),
                    team: Some("d4d4d4d4-0000-4000-8000-00000000000d".into()),
                    monitored: 3,
                    quota: Some(4),
                    reviewers: vec![R1.into(), R2.into()],
                    last: at("2026-12-04T16:30:00.250Z"),
                },
                Row {
                    agent: A2.into(),
                    team: None,
                    monitored: 1,
                    quota: None,
                    reviewers: vec![R2.into()],
                    last: at("2026-12-01T08:00:00Z"),
                },
            ],
            "c0 and c9 are outside the week; c2's second record counts no more; quota and team are the last record's"
        );
        assert!(super::rows(&[], &week()).is_empty());
    }

    /// Pages of at most two items: (items by partition, the calls made, the partition that fails).
    struct Paged(
        BTreeMap<String, Vec<Entry>>,
        std::sync::Mutex<Vec<(String, Option<usize>)>>,
        &'static str,
    );

    impl Records for Paged {
        type Key = usize;

        async fn page(&self, partition: &str, from: Option<usize>) -> Result<Page<usize>, Failure> {
            if let Ok(mut calls) = self.1.lock() {
                calls.push((partition.to_owned(), from));
            }
            if partition == self.2 {
                return Err(Failure::Run("no table".into()));
            }
            let items = self.0.get(partition).cloned().unwrap_or_default();
            let start = from.unwrap_or(0);
            let end = (start + 2).min(items.len());
            let mut page: Vec<Result<Entry, String>> = items[start..end].iter().cloned().map(Ok).collect();
            if start == 0 && !items.is_empty() {
                page.push(Err("not a record".into()));
            }
            Ok(Page {
                items: page,
                next: (end < items.len()).then_some(end),
            })
        }
    }

    #[test]
    fn every_page_of_every_day_is_read() {
        let entries: Vec<Entry> = (0..5)
            .map(|n| entry(&format!("c{n}"), A1, R1, "2026-12-01T10:00:00Z"))
            .collect();
        let store = Paged(
            BTreeMap::from([
                ("record#weekly qa#2026-12-01".to_owned(), entries.clone()),
                ("record#weekly qa#2026-12-03".to_owned(), entries[..1].to_vec()),
            ]),
            Default::default(),
            "record#weekly qa#2026-12-05",
        );
        let day = |d: &str| window(date(d), Period::Day, &TimeZone::UTC).unwrap_or_else(|| panic!("{d}"));
        let read_all = |w: &Window| {
            tokio::runtime::Builder::new_current_thread()
                .build()
                .map(|rt| rt.block_on(read(&store, "weekly qa", w)))
                .unwrap_or_else(|e| panic!("{e}"))
        };
        let (found, skipped) = read_all(&day("2026-12-01")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(found, entries, "five records over three pages");
        assert_eq!(skipped, ["record#weekly qa#2026-12-01: not a record"]);
        let calls = store.1.lock().map(|c| c.clone()).unwrap_or_default();
        let partition = "record#weekly qa#2026-12-01".to_owned();
        assert_eq!(
            calls,
            [
                (partition.clone(), None),
                (partition.clone(), Some(2)),
                (partition, Some(4))
            ]
        );
        // A week: seven partitions, in order, until one fails.
        let week = window(date("2026-12-01"), Period::Week, &TimeZone::UTC).unwrap_or_else(|| panic!("week"));
        assert_eq!(read_all(&week), Err(Failure::Run("no table".into())));
        let calls = store.1.lock().map(|c| c.clone()).unwrap_or_default();
        let days: Vec<&str> = calls[3..].iter().map(|(p, _)| &p[p.len() - 10..]).collect();
        assert_eq!(
            days,
            [
                "2026-11-30",
                "2026-12-01",
                "2026-12-01",
                "2026-12-01",
                "2026-12-02",
                "2026-12-03",
                "2026-12-04",
                "2026-12-05"
            ]
        );
    }

    #[test]
    fn a_report_from_the_store() {
        let mut entries = sample();
        entries.retain(|e| e.contact != "c9");
        let mut by_day: BTreeMap<String, Vec<Entry>> = BTreeMap::new();
        for e in entries {
            let day = quota::day(e.event_time, &TimeZone::UTC);
            by_day
                .entry(crate::qa_state::record_partition("weekly-qa", &day))
                .or_default()
                .push(e);
        }
        let store = Paged(by_day, Default::default(), "");
        let run = |args: &Args| {
            tokio::runtime::Builder::new_current_thread()
                .build()
                .map(|rt| rt.block_on(report(&store, args, TimeZone::UTC, date("2026-12-03"))))
                .unwrap_or_else(|e| panic!("{e}"))
        };
        let mut args = report_args(&["--rule", "weekly-qa"]);
        let text = run(&args).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(text.stdout, table(&coverage(TimeZone::UTC)), "today's week by default");
        assert_eq!(text.svg, None);
        assert_eq!(
            text.warnings.len(),
            4,
            "each of the four days with records: its first page has one item that is no record (the 29th is not queried)"
        );
        args.json = true;
        args.svg = Some("x.svg".into());
        let json = run(&args).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            Ok(json.stdout),
            json_lines(&coverage(TimeZone::UTC)).map_err(|e| e.to_string())
        );
        assert_eq!(json.svg, Some(svg(&coverage(TimeZone::UTC))));
        args.at = Some(date("2026-12-08"));
        assert_eq!(
            run(&args).map(|o| o.stdout),
            Ok(String::new()),
            "the next week has no records"
        );
        args.at = Some(Date::MAX);
        assert!(matches!(run(&args), Err(Failure::Usage(UsageError { argument, .. })) if argument == "--at"));
    }

    fn report_args(rule: &[&str]) -> Args {
        let mut list = vec!["--table", "qa-state", "--period", "week"];
        list.extend_from_slice(rule);
        parsed(&list)
    }

    fn coverage(zone: TimeZone) -> Coverage {
        let bounds = quota::bounds(at("2026-12-02T12:00:00Z"), Period::Week, &zone);
        Coverage {
            rule: "weekly-qa".into(),
            period: Period::Week,
            rows: rows(&sample(), &bounds),
            zone,
            bounds,
        }
    }

    #[test]
    fn json_lines_have_the_fields_in_order() {
        let text = json_lines(&coverage(TimeZone::UTC)).unwrap_or_else(|e| panic!("{e}"));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(
            lines[0],
            format!(
                r#"{{"agent":"{A1}","rule":"weekly-qa","period_start":"2026-11-30T00:00:00+00:00","monitored":3,"quota":4,"reviewers":["{R1}","{R2}"],"last":"2026-12-04T16:30:00.25+00:00"}}"#
            )
        );
        let second: serde_json::Value = serde_json::from_str(lines[1]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(second["quota"], serde_json::Value::Null);
        assert_eq!(second["last"], "2026-12-01T08:00:00+00:00");
        assert_eq!(second["reviewers"], serde_json::json!([R2]));
        // In the zone's time, with its offset.
        let ny = json_lines(&coverage(zone("America/New_York"))).unwrap_or_else(|e| panic!("{e}"));
        assert!(ny.contains(r#""period_start":"2026-11-30T00:00:00-05:00""#), "{ny}");
        assert!(ny.contains(r#""last":"2026-12-04T11:30:00.25-05:00""#), "{ny}");
        let mut empty = coverage(TimeZone::UTC);
        empty.rows.clear();
        assert_eq!(json_lines(&empty).ok().as_deref(), Some(""));
    }

    #[test]
    fn the_table_is_aligned() {
        let text = table(&coverage(TimeZone::UTC));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "rule weekly-qa, week from 2026-11-30T00:00:00+00:00 to 2026-12-07T00:00:00+00:00 (UTC): 2 agents, 4 monitors"
        );
        assert_eq!(lines.len(), 4);
        let header = lines[1];
        for column in ["TEAM", "MONITORED", "QUOTA", "LAST", "REVIEWERS"] {
            let start = header.find(column).unwrap_or_else(|| panic!("{column}"));
            for line in &lines[2..] {
                let before = &line[..start];
                assert!(before.ends_with("  "), "{column} starts at {start} in {line:?}");
            }
        }
        // Numbers end where their heading ends.
        let monitored_end = header.find("MONITORED").map(|s| s + "MONITORED".len());
        let quota_end = header.find("QUOTA").map(|s| s + "QUOTA".len());
        for (line, monitored, quota) in [(lines[2], "3", "4"), (lines[3], "1", "-")] {
            let m = monitored_end.map(|e| &line[e - 1..e]);
            let q = quota_end.map(|e| &line[e - 1..e]);
            assert_eq!((m, q), (Some(monitored), Some(quota)), "{line}");
        }
        assert!(lines[2].starts_with(A1) && lines[2].ends_with(&format!("{R1},{R2}")));
        assert!(lines[3].contains("  -  "), "no team: {}", lines[3]);
        let mut empty = coverage(TimeZone::UTC);
        empty.rows.clear();
        assert!(
            table(&empty).ends_with("(UTC): 0 agents, 0 monitors\nno monitors recorded for this rule in this period\n"),
            "{}",
            table(&empty)
        );
    }
}

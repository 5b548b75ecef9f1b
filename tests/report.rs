//! `monitor-contact-report`, the real binary, against the state table in moto (started on 127.0.0.1 by
//! `support::moto`, the table created from template.yaml): records written by the store as the function
//! writes them (`take`, then `record`), read back as JSON lines, as a table and as a picture; a week
//! across the clocks' change in Europe/London; a table that does not exist; bad arguments.

mod support;

use std::process::{Command, Output};

use aws_sdk_dynamodb::types::AttributeValue;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use monitor_contact::qa_state::{Claim, QaState, Record, agent_counter, record_partition};
use monitor_contact::quota;
use serde_json::Value;
use support::moto::{Moto, StateTable};

const RULE: &str = "weekly-qa";
const A1: &str = "a1a1a1a1-0000-4000-8000-000000000001";
const A2: &str = "a2a2a2a2-0000-4000-8000-000000000002";
const A3: &str = "a3a3a3a3-0000-4000-8000-000000000003";
const R1: &str = "b1b1b1b1-0000-4000-8000-000000000001";
const R2: &str = "b2b2b2b2-0000-4000-8000-000000000002";
const BILLING: &str = "c1c1c1c1-0000-4000-8000-00000000000c";
const SALES: &str = "c2c2c2c2-0000-4000-8000-00000000000c";

fn london() -> TimeZone {
    TimeZone::get("Europe/London").unwrap_or_else(|e| panic!("{e}"))
}

/// Writes the record of a monitor as the function does: a slot taken for the contact, then recorded.
async fn monitor(table: &StateTable, contact: &str, agent: &str, reviewer: &str, time: &str, team: Option<&str>) {
    let zone = london();
    let at: Timestamp = time.parse().unwrap_or_else(|e| panic!("{time}: {e}"));
    let period = quota::bounds(at, quota::Period::Week, &zone);
    let claim = Claim {
        rule: RULE.into(),
        contact_id: contact.into(),
        agent: Some(agent_counter(RULE, agent, &period.label, 3)),
        reviewer: None,
        expires: 1_799_999_999,
    };
    let record = Record {
        contact_id: contact.into(),
        agent: agent.into(),
        reviewer: reviewer.into(),
        rule: RULE.into(),
        event_type: "CONNECTED_TO_AGENT".into(),
        event_time: time.into(),
        started_at: time.into(),
        monitor_arn: format!("arn:aws:connect:us-east-1:111122223333:instance/i/contact/m-{contact}"),
        quota: Some(3),
        team: team.map(str::to_owned),
        day: quota::day(at, &zone),
        expires: 1_799_999_999,
    };
    let taken = table.state.take(&claim).await.unwrap_or_else(|e| panic!("take: {e}"));
    assert_eq!(taken, monitor_contact::qa_state::Taken::Taken, "{contact}");
    table
        .state
        .record(&claim, &record)
        .await
        .unwrap_or_else(|e| panic!("record: {e}"));
}

/// The records of one London week (23-29 March 2026, the clocks going forward on the Sunday), and some
/// just outside it.
async fn london_week(table: &StateTable) {
    // Monday 00:00 GMT is the week's first instant; Sunday 22:59 UTC is 23:59 BST, its last minute.
    monitor(table, "c01", A1, R1, "2026-03-23T00:00:00Z", Some(BILLING)).await;
    monitor(table, "c02", A1, R2, "2026-03-25T08:00:00Z", Some(BILLING)).await;
    monitor(table, "c03", A1, R1, "2026-03-29T22:59:00Z", Some(BILLING)).await;
    monitor(table, "c04", A2, R2, "2026-03-27T16:00:00.5Z", Some(SALES)).await;
    monitor(table, "c05", A3, R1, "2026-03-24T10:00:00Z", None).await;
    // Outside: Sunday 22 March 23:30 GMT (the week before) and Monday 30 March 00:30 BST (the week after).
    monitor(table, "c06", A2, R1, "2026-03-22T23:30:00Z", Some(SALES)).await;
    monitor(table, "c07", A2, R1, "2026-03-29T23:30:00Z", Some(SALES)).await;
}

fn run(moto: &Moto, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_monitor-contact-report"))
        .args(args)
        .env_clear()
        .env("AWS_ENDPOINT_URL_DYNAMODB", &moto.endpoint)
        .env("AWS_ACCESS_KEY_ID", "AKIDMOTO")
        .env("AWS_SECRET_ACCESS_KEY", "moto")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("QA_TIME_ZONE", "Europe/London")
        .output()
        .unwrap_or_else(|e| panic!("monitor-contact-report: {e}"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn succeeded(output: &Output) -> String {
    assert!(
        output.status.success(),
        "{:?}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        text(&output.stdout),
        text(&output.stderr)
    );
    text(&output.stdout)
}

#[tokio::test]
async fn a_week_across_the_clock_change_as_json_lines_a_table_and_a_picture() {
    let moto = Moto::start();
    let table = moto.state_table().await;
    london_week(&table).await;
    let week = [
        "--table",
        &table.table,
        "--rule",
        RULE,
        "--period",
        "week",
        "--at",
        "2026-03-29",
    ];

    let json = succeeded(&run(&moto, &[&week[..], &["--json"]].concat()));
    let lines: Vec<(&str, Value)> = json
        .lines()
        .map(|l| (l, serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}"))))
        .collect();
    let expected = [
        (A1, 3, vec![R1, R2], "2026-03-29T23:59:00+01:00"),
        (A2, 1, vec![R2], "2026-03-27T16:00:00.5+00:00"),
        (A3, 1, vec![R1], "2026-03-24T10:00:00+00:00"),
    ];
    assert_eq!(lines.len(), expected.len(), "{json}");
    let fields = [
        "agent",
        "rule",
        "period_start",
        "monitored",
        "quota",
        "reviewers",
        "last",
    ];
    for ((raw, line), (agent, monitored, reviewers, last)) in lines.iter().zip(expected) {
        let object = line.as_object().unwrap_or_else(|| panic!("{raw}"));
        assert_eq!(object.len(), fields.len(), "{raw}");
        let at: Vec<Option<usize>> = fields.iter().map(|f| raw.find(&format!("\"{f}\":"))).collect();
        assert!(
            at.iter().all(Option::is_some) && at.is_sorted(),
            "the fields in order: {raw}"
        );
        assert_eq!(line["agent"], agent);
        assert_eq!(line["rule"], RULE);
        assert_eq!(line["period_start"], "2026-03-23T00:00:00+00:00");
        assert_eq!(line["monitored"], monitored);
        assert_eq!(line["quota"], 3);
        assert_eq!(line["reviewers"], serde_json::json!(reviewers));
        assert_eq!(line["last"], last);
    }

    let svg_path = std::env::temp_dir().join(format!("report-{}-{}.svg", std::process::id(), table.table));
    let svg_arg = svg_path.to_string_lossy().into_owned();
    let table_text = succeeded(&run(&moto, &[&week[..], &["--svg", &svg_arg]].concat()));
    let rows: Vec<&str> = table_text.lines().collect();
    assert_eq!(
        rows[0],
        "rule weekly-qa, week from 2026-03-23T00:00:00+00:00 to 2026-03-30T00:00:00+01:00 (Europe/London): 3 agents, 5 monitors"
    );
    assert!(
        rows[1].starts_with("AGENT ") && rows[1].ends_with("REVIEWERS"),
        "{table_text}"
    );
    assert_eq!(rows.len(), 5, "{table_text}");
    let columns = |line: &str| line.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
    assert_eq!(
        columns(rows[2]),
        [
            A1,
            BILLING,
            "3",
            "3",
            "2026-03-29T23:59:00+01:00",
            &format!("{R1},{R2}")
        ]
    );
    assert_eq!(columns(rows[4]), [A3, "-", "1", "3", "2026-03-24T10:00:00+00:00", R1]);
    let monitored_at = rows[1].find("MONITORED").map(|i| i + "MONITORED".len() - 1);
    for row in &rows[2..] {
        assert_eq!(
            monitored_at.and_then(|i| row.get(i..=i)),
            Some(if row.starts_with(A1) { "3" } else { "1" }),
            "aligned: {table_text}"
        );
    }
    let svg = std::fs::read_to_string(&svg_path).unwrap_or_else(|e| panic!("{}: {e}", svg_path.display()));
    let _ = std::fs::remove_file(&svg_path);
    assert!(svg.starts_with("<svg ") && svg.trim_end().ends_with("</svg>"));
    assert_eq!(svg.matches(r#"<rect class="bar""#).count(), 3);
    assert!(
        svg.contains(&format!("team {BILLING}")) && svg.contains(&format!("team {SALES}")) && svg.contains("no team")
    );
}

#[tokio::test]
async fn days_and_months_and_a_period_without_records() {
    let moto = Moto::start();
    let table = moto.state_table().await;
    london_week(&table).await;
    let period = |per: &str, at: &str, json: bool| {
        let mut args = vec!["--table", &table.table, "--rule", RULE, "--period", per, "--at", at];
        if json {
            args.push("--json");
        }
        succeeded(&run(&moto, &args))
    };
    // Sunday 29 March, 23 hours: c03 only (c07 is Monday in London).
    let sunday = period("day", "2026-03-29", true);
    assert_eq!(sunday.lines().count(), 1, "{sunday}");
    assert!(
        sunday.contains(r#""period_start":"2026-03-29T00:00:00+00:00""#),
        "{sunday}"
    );
    // March: all but c07 (30 March is March too: it is in).
    let march = period("month", "2026-03-01", true);
    let a2: Value = march
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|l| l["agent"] == A2)
        .unwrap_or_else(|| panic!("{march}"));
    assert_eq!(a2["monitored"], 3, "c04, c06 and c07 are all in March: {march}");
    // Another rule, or a week without records: nothing in JSON, a line saying so in text.
    assert_eq!(period("week", "2026-04-15", true), "");
    let empty = period("week", "2026-04-15", false);
    assert!(
        empty.ends_with("0 agents, 0 monitors\nno monitors recorded for this rule in this period\n"),
        "{empty}"
    );
}

#[tokio::test]
async fn items_that_are_no_records_are_skipped_with_a_warning() {
    let moto = Moto::start();
    let table = moto.state_table().await;
    monitor(&table, "c01", A1, R1, "2026-03-23T09:00:00Z", None).await;
    table
        .client
        .put_item()
        .table_name(&table.table)
        .item("pk", AttributeValue::S(record_partition(RULE, "2026-03-24")))
        .item("sk", AttributeValue::S("2026-03-24T09:00:00Z#c02".into()))
        .item("contact", AttributeValue::S("c02".into()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let output = run(
        &moto,
        &[
            "--table",
            &table.table,
            "--rule",
            RULE,
            "--period",
            "week",
            "--at",
            "2026-03-23",
            "--json",
        ],
    );
    assert_eq!(succeeded(&output).lines().count(), 1);
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("record#weekly-qa#2026-03-24: item 2026-03-24T09:00:00Z#c02: eventTime is missing"),
        "{stderr}"
    );
}

#[test]
fn a_table_that_does_not_exist_is_named() {
    let moto = Moto::start();
    let output = run(&moto, &["--table", "no-such-table", "--rule", RULE, "--period", "day"]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("table no-such-table was not found in us-east-1 (ResourceNotFoundException)"),
        "{stderr}"
    );
    assert_eq!(text(&output.stdout), "");
}

#[test]
fn bad_arguments_and_time_zones_are_usage_errors() {
    // No server is needed: these fail before any call (the endpoint is a closed loopback port).
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap_or_else(|e| panic!("{e}"));
    let report = |args: &[&str], zone: &str| {
        Command::new(env!("CARGO_BIN_EXE_monitor-contact-report"))
            .args(args)
            .env_clear()
            .env("AWS_ENDPOINT_URL_DYNAMODB", format!("http://{closed}"))
            .env("AWS_REGION", "us-east-1")
            .env("QA_TIME_ZONE", zone)
            .output()
            .unwrap_or_else(|e| panic!("{e}"))
    };
    for (args, zone, says) in [
        (
            &["--table", "qa-state", "--rule", RULE][..],
            "UTC",
            "--period is required: day, week or month",
        ),
        (
            &["--table", "qa-state", "--rule", RULE, "--period", "fortnight"][..],
            "UTC",
            "--period \"fortnight\": must be day, week or month",
        ),
        (
            &[
                "--table",
                "qa-state",
                "--rule",
                RULE,
                "--period",
                "day",
                "--at",
                "29/03/2026",
            ][..],
            "UTC",
            "--at \"29/03/2026\": must be a date, YYYY-MM-DD",
        ),
        (
            &["--table", "qa-state", "--rule", RULE, "--period", "day"][..],
            "Mars/Olympus_Mons",
            "QA_TIME_ZONE must be an IANA time zone name",
        ),
    ] {
        let output = report(args, zone);
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert!(
            stderr.contains("usage: monitor-contact-report --table NAME"),
            "{stderr}"
        );
    }
    let help = report(&["--help"], "UTC");
    assert_eq!(help.status.code(), Some(0));
    assert!(text(&help.stdout).starts_with("usage: monitor-contact-report"));
}

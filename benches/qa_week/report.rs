//! The figures of a run, and the tables printed side by side.

use std::collections::BTreeMap;

use crate::Settings;
use crate::simulation::{Items, Outcome};
use crate::workload::{DAY, DAYS, Week, fillable, slot_opens};

/// What the issue asks to report, for one run.
#[derive(Debug, Clone, Default)]
pub(crate) struct Figures {
    pub(crate) name: String,
    pub(crate) rules: String,
    pub(crate) events: usize,
    pub(crate) monitors: usize,
    /// Monitors per agent, by agent.
    pub(crate) per_agent: Vec<u32>,
    /// Agents whose calls could fill every slot of the quota (at least `count` calls after their slots
    /// opened), and how many of them got exactly `count`.
    pub(crate) eligible: usize,
    pub(crate) exact: usize,
    /// Agents given more than the quota.
    pub(crate) above: usize,
    /// Agents given nothing.
    pub(crate) none: usize,
    /// Agents given fewer than their calls could fill.
    pub(crate) short: usize,
    /// The k-th monitor of an agent on a contact whose event came before slot k opened.
    pub(crate) early: usize,
    /// Monitors by the day (in the QA time zone) of their contact's event.
    pub(crate) per_day: [u32; 7],
    /// The hour of the week with the most monitors (hours from Monday 00:00), and how many.
    pub(crate) busiest_hour: (u64, u32),
    /// For the agents given fewer than their calls could fill: the final outcomes of their calls at or
    /// after their first unfilled slot opened.
    pub(crate) short_outcomes: BTreeMap<String, u64>,
    /// Monitors per reviewer, by reviewer.
    pub(crate) per_reviewer: Vec<u32>,
    /// DynamoDB calls: the function's `QaStateCalls`, and the requests moto answered.
    pub(crate) state_calls: u64,
    pub(crate) moto: Option<u64>,
    /// What the table holds after the run.
    pub(crate) items: Option<Items>,
    /// Connect requests the double answered, by operation.
    pub(crate) connect: BTreeMap<String, u64>,
    pub(crate) skipped: BTreeMap<String, u64>,
    pub(crate) failed: BTreeMap<String, u64>,
    pub(crate) unknown_monitors: usize,
    pub(crate) item_failures: usize,
    pub(crate) invocation_errors: usize,
    pub(crate) dead_lettered: usize,
    pub(crate) invocations: usize,
    pub(crate) seconds: f64,
}

impl Figures {
    pub(crate) fn of(settings: &Settings, week: &Week, outcome: &Outcome) -> Figures {
        let count = settings.quota;
        let mut per_agent = vec![0u32; week.agents.len()];
        let mut per_day = [0u32; 7];
        let index: BTreeMap<&str, usize> = week
            .reviewers
            .iter()
            .enumerate()
            .map(|(n, r)| (r.as_str(), n))
            .collect();
        let mut per_reviewer = vec![0u32; week.reviewers.len()];
        let mut monitored: Vec<Vec<u64>> = vec![Vec::new(); week.agents.len()];
        let mut per_hour = vec![0u32; (crate::workload::WEEK / 3600) as usize];
        for (contact, reviewer) in &outcome.monitors {
            let c = &week.contacts[*contact];
            per_agent[c.agent] += 1;
            per_day[((c.at / DAY) as usize).min(6)] += 1;
            monitored[c.agent].push(c.at);
            if let Some(hour) = per_hour.get_mut((c.at / 3600) as usize) {
                *hour += 1;
            }
            if let Some(n) = index.get(reviewer.as_str()) {
                per_reviewer[*n] += 1;
            }
        }
        let mut figures = Figures {
            name: outcome.run_name.clone(),
            rules: outcome.rules.clone(),
            events: week.contacts.len(),
            monitors: outcome.monitors.len(),
            per_day,
            per_reviewer,
            state_calls: outcome.emf.state_calls,
            moto: outcome.moto,
            items: outcome.items,
            connect: outcome.connect.clone(),
            skipped: outcome.emf.skipped.clone(),
            failed: outcome.emf.failed.clone(),
            unknown_monitors: outcome.unknown_monitors,
            item_failures: outcome.item_failures,
            invocation_errors: outcome.invocation_errors,
            dead_lettered: outcome.dead_lettered,
            invocations: outcome.invocations,
            seconds: outcome.elapsed.as_secs_f64(),
            ..Figures::default()
        };
        for (agent, got) in per_agent.iter().enumerate() {
            let could = fillable(&week.times(agent), count);
            if could == count {
                figures.eligible += 1;
                figures.exact += usize::from(*got == count);
            }
            figures.above += usize::from(*got > count);
            figures.none += usize::from(*got == 0);
            if *got < could {
                figures.short += 1;
                let opens = slot_opens(*got + 1, count);
                for contact in &week.agents[agent].contacts {
                    if week.contacts[*contact].at >= opens {
                        let said = outcome
                            .outcomes
                            .get(contact)
                            .map_or("no outcome logged", String::as_str);
                        *figures.short_outcomes.entry(said.to_owned()).or_default() += 1;
                    }
                }
            }
            let mut times = monitored[agent].clone();
            times.sort_unstable();
            figures.early += times
                .iter()
                .enumerate()
                .filter(|(k, at)| **at < slot_opens(*k as u32 + 1, count))
                .count();
        }
        figures.per_agent = per_agent;
        figures.busiest_hour = per_hour
            .iter()
            .enumerate()
            .max_by_key(|(hour, n)| (**n, std::cmp::Reverse(*hour)))
            .map_or((0, 0), |(hour, n)| (hour as u64, *n));
        figures
    }

    pub(crate) fn most(&self) -> u32 {
        self.per_agent.iter().copied().max().unwrap_or(0)
    }

    pub(crate) fn share_exact(&self) -> f64 {
        if self.eligible == 0 {
            return 0.0;
        }
        self.exact as f64 / self.eligible as f64
    }

    pub(crate) fn connect_total(&self) -> u64 {
        self.connect.values().sum()
    }

    fn per_event(&self, n: u64) -> String {
        format!("{:.3}", n as f64 / self.events.max(1) as f64)
    }

    /// (min, max, mean) monitors per reviewer.
    pub(crate) fn reviewer_load(&self) -> (u32, u32, f64) {
        let min = self.per_reviewer.iter().copied().min().unwrap_or(0);
        let max = self.per_reviewer.iter().copied().max().unwrap_or(0);
        let mean = self.per_reviewer.iter().map(|n| f64::from(*n)).sum::<f64>() / self.per_reviewer.len().max(1) as f64;
        (min, max, mean)
    }
}

/// The whole percent that starts, in expectation, `monitors` monitors out of `events` contacts.
pub(crate) fn matching_percent(monitors: usize, events: usize) -> u8 {
    if events == 0 {
        return 0;
    }
    ((100.0 * monitors as f64 / events as f64).round() as u64).min(100) as u8
}

fn list(counts: &BTreeMap<String, u64>) -> String {
    if counts.is_empty() {
        return "none".to_owned();
    }
    counts
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The rows of the side-by-side table: (what, one cell per run).
pub(crate) fn rows(settings: &Settings, runs: &[&Figures]) -> Vec<(String, Vec<String>)> {
    let count = settings.quota;
    let cell = |f: &dyn Fn(&Figures) -> String| runs.iter().map(|r| f(r)).collect::<Vec<_>>();
    let mut rows = vec![
        ("QA_RULES".to_owned(), cell(&|r| format!("`{}`", r.rules))),
        ("monitors started".to_owned(), cell(&|r| r.monitors.to_string())),
        (
            format!("agents with ≥ {count} calls after their slots opened who got exactly {count} (goal: all)"),
            cell(&|r| format!("{} of {} ({:.1} %)", r.exact, r.eligible, 100.0 * r.share_exact())),
        ),
        ("the most any agent got".to_owned(), cell(&|r| r.most().to_string())),
        (format!("agents above {count}"), cell(&|r| r.above.to_string())),
        ("agents with no monitor".to_owned(), cell(&|r| r.none.to_string())),
        (
            "agents given fewer than their calls could fill".to_owned(),
            cell(&|r| r.short.to_string()),
        ),
        (
            "their calls after the first slot they missed opened, by outcome".to_owned(),
            cell(&|r| list(&r.short_outcomes)),
        ),
        (
            "monitors on a contact before their slot opened".to_owned(),
            cell(&|r| r.early.to_string()),
        ),
        (
            format!("monitors per day ({})", DAYS.join(", ")),
            cell(&|r| r.per_day.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")),
        ),
        (
            "the busiest hour: monitors started".to_owned(),
            cell(&|r| {
                let (hour, n) = r.busiest_hour;
                format!("{n} ({} {:02}:00)", DAYS[(hour / 24).min(6) as usize], hour % 24)
            }),
        ),
        (
            "reviewer load: monitors per reviewer, min–max (mean)".to_owned(),
            cell(&|r| {
                let (min, max, mean) = r.reviewer_load();
                format!("{min}–{max} ({mean:.1})")
            }),
        ),
        (
            "DynamoDB calls per event (the function's QaStateCalls)".to_owned(),
            cell(&|r| format!("{} ({} calls)", r.per_event(r.state_calls), r.state_calls)),
        ),
        (
            "DynamoDB requests per event (moto's count: retries included)".to_owned(),
            cell(&|r| match r.moto {
                Some(n) => format!("{} ({n} requests)", r.per_event(n)),
                None => "—".to_owned(),
            }),
        ),
        (
            "the table: records; agent counters' total; claims started, pending".to_owned(),
            cell(&|r| match r.items {
                Some(i) => format!("{}; {}; {}, {}", i.records, i.taken, i.started_claims, i.pending_claims),
                None => "—".to_owned(),
            }),
        ),
        (
            "Connect calls per event (the double's count)".to_owned(),
            cell(&|r| format!("{} ({})", r.per_event(r.connect_total()), list(&r.connect))),
        ),
        ("skipped, by reason".to_owned(), cell(&|r| list(&r.skipped))),
        (
            "failed: errorType; batch item failures; whole invocations; dead-lettered".to_owned(),
            cell(&|r| {
                format!(
                    "{}; {}; {}; {}",
                    list(&r.failed),
                    r.item_failures,
                    r.invocation_errors,
                    r.dead_lettered
                )
            }),
        ),
        (
            "invocations (SQS batches), real time".to_owned(),
            cell(&|r| format!("{}, {:.0} s", r.invocations, r.seconds)),
        ),
    ];
    if runs.iter().any(|r| r.unknown_monitors > 0) {
        rows.push((
            "monitors of contacts the week does not have".to_owned(),
            cell(&|r| r.unknown_monitors.to_string()),
        ));
    }
    rows
}

/// What the week is made of, said once.
pub(crate) fn print_week(settings: &Settings, week: &Week) {
    let calls: Vec<usize> = week.agents.iter().map(|a| a.contacts.len()).collect();
    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    for agent in &week.agents {
        *kinds.entry(agent.schedule.kind).or_default() += 1;
    }
    let mut per_day = [0usize; 7];
    for contact in &week.contacts {
        per_day[((contact.at / DAY) as usize).min(6)] += 1;
    }
    let eligible = (0..week.agents.len())
        .filter(|a| fillable(&week.times(*a), settings.quota) == settings.quota)
        .count();
    // Who can fill every slot, by schedule and shift.
    let mut by_shift: BTreeMap<(&str, u64, u64), (usize, usize)> = BTreeMap::new();
    for (n, agent) in week.agents.iter().enumerate() {
        let entry = by_shift
            .entry((agent.schedule.kind, agent.schedule.hours.0, agent.schedule.hours.1))
            .or_default();
        entry.1 += 1;
        entry.0 += usize::from(fillable(&week.times(n), settings.quota) == settings.quota);
    }
    println!(
        "\nThe week (seed {}): {} agents in {} teams, {} reviewers, {} contacts ({}–{} per agent), Monday 00:00 {} = {}; schedules: {}; calls per day ({}): {}; {} agents have ≥ {} calls after their slots opened.",
        settings.seed,
        week.agents.len(),
        week.teams.len(),
        week.reviewers.len(),
        week.contacts.len(),
        calls.iter().min().unwrap_or(&0),
        calls.iter().max().unwrap_or(&0),
        settings.zone,
        crate::time::iso8601_secs(week.start, false),
        kinds
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect::<Vec<_>>()
            .join(", "),
        DAYS.join(", "),
        per_day.iter().map(usize::to_string).collect::<Vec<_>>().join(", "),
        eligible,
        settings.quota,
    );
    println!(
        "Agents with ≥ {} calls after their slots opened, by schedule and shift: {}.",
        settings.quota,
        by_shift
            .iter()
            .map(|((kind, from, to), (can, all))| format!("{kind} {from:02}-{to:02} {can} of {all}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
}

/// Prints the table, and the goal's verdicts for the quota run; true when they are met.
pub(crate) fn print(settings: &Settings, runs: &[&Figures]) -> bool {
    let header: Vec<String> = runs.iter().map(|r| r.name.clone()).collect();
    println!("\n| | {} |", header.join(" | "));
    println!("| --- |{}", " --- |".repeat(runs.len()));
    for (what, cells) in rows(settings, runs) {
        println!("| {what} | {} |", cells.join(" | "));
    }
    let Some((quota, items)) = runs.iter().find_map(|r| r.items.map(|i| (r, i))) else {
        return true;
    };
    let monitors = quota.monitors as u64;
    let checks = [
        (
            quota.exact == quota.eligible,
            format!(
                "every agent with ≥ {} calls after their slots opened got exactly {} ({} of {})",
                settings.quota, settings.quota, quota.exact, quota.eligible
            ),
        ),
        (
            quota.above == 0 && quota.most() <= settings.quota,
            format!("no agent above {} (the most: {})", settings.quota, quota.most()),
        ),
        (
            quota.early == 0,
            format!("no monitor before its slot opened ({})", quota.early),
        ),
        (
            items.records == monitors,
            format!(
                "every monitor on record ({} records, {monitors} monitors)",
                items.records
            ),
        ),
        (
            items.taken == monitors && items.started_claims == monitors && items.pending_claims == 0,
            format!(
                "the counters count the monitors started, no slot left held ({} taken, {} claims started, {} pending)",
                items.taken, items.started_claims, items.pending_claims
            ),
        ),
        (
            !quota.failed.contains_key("StateUnavailable") && quota.dead_lettered == 0 && quota.unknown_monitors == 0,
            format!(
                "the table always answered, nothing dead-lettered (failures retried: {})",
                list(&quota.failed)
            ),
        ),
    ];
    println!();
    for (ok, what) in &checks {
        println!("{} {what}", if *ok { "PASS" } else { "FAIL" });
    }
    checks.iter().all(|(ok, _)| *ok)
}

//! The picture: monitors per agent against the quota, grouped by team, both runs; monitors per day.
//! Hand-written SVG.

use std::fmt::Write as _;

use crate::Settings;
use crate::report::Figures;
use crate::svg::{escape, nice_ceiling};
use crate::workload::{DAY, DAYS, WEEK, Week, fillable, slot_opens};

const EXACT: &str = "#2ca02c";
const FEWER: &str = "#ff7f0e";
const MORE: &str = "#d62728";
/// The runs' colours in the per-day panel.
const RUNS: [&str; 2] = ["#1f77b4", "#9467bd"];

/// The agents in drawing order: by team, and within a team by calls (fewest first).
pub(crate) fn order(week: &Week) -> Vec<usize> {
    let mut agents: Vec<usize> = (0..week.agents.len()).collect();
    agents.sort_by_key(|a| (week.agents[*a].team, week.agents[*a].contacts.len(), *a));
    agents
}

pub(crate) fn draw(settings: &Settings, week: &Week, runs: &[&Figures]) -> String {
    let count = settings.quota;
    let (width, margin_left, margin_right) = (1100.0, 50.0, 20.0);
    let plot_width = width - margin_left - margin_right;
    let (agent_panel, day_panel, gap) = (170.0, 190.0, 70.0);
    let top = 50.0;
    let height = top + runs.len() as f64 * (agent_panel + gap) + day_panel + 90.0;
    let agents = order(week);
    let teams = week.teams.len().max(1);
    // Bars of one width, a gap of two bars between teams.
    let slots = agents.len() as f64 + 2.0 * (teams as f64 - 1.0);
    let bar = plot_width / slots.max(1.0);
    let x_of = |position: usize, team: usize| margin_left + bar * (position as f64 + 2.0 * team as f64);
    let most = runs.iter().map(|r| r.most()).max().unwrap_or(0).max(count + 1);
    // Whole monitors: a multiple of 5 above the most any agent got.
    let y_max = f64::from((most + 1).div_ceil(5) * 5);
    let could: Vec<u32> = (0..week.agents.len())
        .map(|a| fillable(&week.times(a), count))
        .collect();

    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        svg,
        r#"<text x="{margin_left}" y="22" font-size="15" font-weight="bold">One week of {} agents in {} teams ({} contacts, {} reviewers): monitors per agent, and per day</text>"#,
        week.agents.len(),
        week.teams.len(),
        week.contacts.len(),
        week.reviewers.len()
    );
    let _ = writeln!(
        svg,
        r##"<text x="{margin_left}" y="38" fill="#555">Agents by team, fewest calls first within a team. Faded: an agent whose calls could not fill {count} slots (the tick: what they could fill).</text>"##
    );
    for (n, run) in runs.iter().enumerate() {
        let panel_top = top + 20.0 + n as f64 * (agent_panel + gap);
        let y = |value: f64| panel_top + agent_panel - agent_panel * value.min(y_max) / y_max;
        let _ = writeln!(
            svg,
            r#"<text x="{margin_left}" y="{}" font-size="13" font-weight="bold">{}: {} monitors; {} of {} agents who could got exactly {count}; the most: {}</text>"#,
            panel_top - 8.0,
            escape(&run.name),
            run.monitors,
            run.exact,
            run.eligible,
            run.most()
        );
        for tick in 0..=(y_max as u32) {
            let value = f64::from(tick);
            if y_max > 10.0 && tick % 5 != 0 {
                continue;
            }
            let _ = writeln!(
                svg,
                r##"<line x1="{margin_left}" x2="{}" y1="{y}" y2="{y}" stroke="#eee"/><text x="{}" y="{}" text-anchor="end">{tick}</text>"##,
                margin_left + plot_width,
                margin_left - 6.0,
                y(value) + 4.0,
                y = y(value)
            );
        }
        for (position, agent) in agents.iter().enumerate() {
            let team = week.agents[*agent].team;
            let got = run.per_agent.get(*agent).copied().unwrap_or(0);
            let colour = match got.cmp(&count) {
                std::cmp::Ordering::Equal => EXACT,
                std::cmp::Ordering::Less => FEWER,
                std::cmp::Ordering::Greater => MORE,
            };
            let opacity = if could[*agent] == count { 1.0 } else { 0.3 };
            let x = x_of(position, team);
            if got > 0 {
                let _ = writeln!(
                    svg,
                    r#"<rect x="{x:.2}" y="{:.2}" width="{:.2}" height="{:.2}" fill="{colour}" fill-opacity="{opacity}"/>"#,
                    y(f64::from(got)),
                    (bar * 0.85).max(0.5),
                    panel_top + agent_panel - y(f64::from(got))
                );
            }
            if could[*agent] < count {
                let _ = writeln!(
                    svg,
                    r##"<line x1="{x:.2}" x2="{:.2}" y1="{ty:.2}" y2="{ty:.2}" stroke="#333" stroke-width="1.5"/>"##,
                    x + bar * 0.85,
                    ty = y(f64::from(could[*agent]))
                );
            }
        }
        let _ = writeln!(
            svg,
            r##"<line x1="{margin_left}" x2="{}" y1="{q:.2}" y2="{q:.2}" stroke="#000" stroke-dasharray="6,4"/><text x="{}" y="{:.2}" text-anchor="end">quota {count}</text>"##,
            margin_left + plot_width,
            margin_left + plot_width,
            y(f64::from(count)) - 4.0,
            q = y(f64::from(count))
        );
        let _ = writeln!(
            svg,
            r##"<line x1="{margin_left}" x2="{}" y1="{b}" y2="{b}" stroke="#333"/>"##,
            margin_left + plot_width,
            b = panel_top + agent_panel
        );
        // Team labels under each group.
        for team in 0..teams {
            let members: Vec<usize> = agents
                .iter()
                .enumerate()
                .filter(|(_, a)| week.agents[**a].team == team)
                .map(|(p, _)| p)
                .collect();
            let (Some(first), Some(last)) = (members.first(), members.last()) else {
                continue;
            };
            let middle = (x_of(*first, team) + x_of(*last, team) + bar) / 2.0;
            let _ = writeln!(
                svg,
                r#"<text x="{middle:.1}" y="{}" text-anchor="middle">team {}</text>"#,
                panel_top + agent_panel + 15.0,
                team + 1
            );
        }
    }
    // Monitors per day, both runs, and the slots' opening times.
    let panel_top = top + 20.0 + runs.len() as f64 * (agent_panel + gap);
    let most_day = runs.iter().flat_map(|r| r.per_day.iter().copied()).max().unwrap_or(0);
    // Five steps of 1, 2 or 5 times a power of ten, room left for the labels.
    let day_step = nice_ceiling(f64::from(most_day.max(5)) * 1.15 / 5.0);
    let day_max = day_step * 5.0;
    let y = |value: f64| panel_top + day_panel - day_panel * value.min(day_max) / day_max;
    let day_width = plot_width / 7.0;
    let x_at = |seconds: u64| margin_left + plot_width * seconds as f64 / WEEK as f64;
    let mut calls = [0usize; 7];
    for contact in &week.contacts {
        calls[((contact.at / DAY) as usize).min(6)] += 1;
    }
    let _ = writeln!(
        svg,
        r#"<text x="{margin_left}" y="{}" font-size="13" font-weight="bold">Monitors per day ({}), and when the slots open</text>"#,
        panel_top - 8.0,
        escape(settings.zone)
    );
    for tick in 0..=5 {
        let value = day_step * f64::from(tick);
        let _ = writeln!(
            svg,
            r##"<line x1="{margin_left}" x2="{}" y1="{y}" y2="{y}" stroke="#eee"/><text x="{}" y="{}" text-anchor="end">{value}</text>"##,
            margin_left + plot_width,
            margin_left - 6.0,
            y(value) + 4.0,
            y = y(value)
        );
    }
    for (day, name) in DAYS.iter().enumerate() {
        let left = margin_left + day_width * day as f64;
        for (n, run) in runs.iter().enumerate().take(RUNS.len()) {
            let value = f64::from(run.per_day[day]);
            let bar_width = day_width * 0.3;
            let x = left + day_width * 0.18 + n as f64 * bar_width * 1.1;
            let _ = writeln!(
                svg,
                r#"<rect x="{x:.1}" y="{:.1}" width="{bar_width:.1}" height="{:.1}" fill="{}"/><text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="11">{}</text>"#,
                y(value),
                panel_top + day_panel - y(value),
                RUNS[n],
                x + bar_width / 2.0,
                y(value) - 3.0,
                run.per_day[day]
            );
        }
        let _ = writeln!(
            svg,
            r##"<text x="{:.1}" y="{}" text-anchor="middle">{name} ({} calls)</text>"##,
            left + day_width / 2.0,
            panel_top + day_panel + 15.0,
            calls[day]
        );
    }
    for k in 1..=count {
        let x = x_at(slot_opens(k, count));
        let _ = writeln!(
            svg,
            r##"<line x1="{x:.1}" x2="{x:.1}" y1="{panel_top}" y2="{}" stroke="#000" stroke-dasharray="3,3"/><text x="{:.1}" y="{}" font-size="11">slot {k} opens</text>"##,
            panel_top + day_panel,
            x + 3.0,
            panel_top + 10.0
        );
    }
    let _ = writeln!(
        svg,
        r##"<line x1="{margin_left}" x2="{}" y1="{b}" y2="{b}" stroke="#333"/>"##,
        margin_left + plot_width,
        b = panel_top + day_panel
    );
    // Legend.
    let legend_y = height - 14.0;
    let mut lx = margin_left;
    let entries: Vec<(String, &str)> = [
        (format!("exactly {count}"), EXACT),
        (format!("fewer than {count}"), FEWER),
        (format!("more than {count}"), MORE),
    ]
    .into_iter()
    .chain(
        runs.iter()
            .zip(RUNS)
            .map(|(run, colour)| (format!("per day: {}", run.name), colour)),
    )
    .collect();
    for (label, colour) in entries {
        let _ = writeln!(
            svg,
            r#"<rect x="{lx}" y="{}" width="14" height="10" fill="{colour}"/><text x="{}" y="{legend_y}">{}</text>"#,
            legend_y - 10.0,
            lx + 18.0,
            escape(&label)
        );
        lx += 30.0 + 7.0 * label.chars().count() as f64;
    }
    svg.push_str("</svg>\n");
    svg
}

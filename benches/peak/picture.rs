//! The picture: Connect calls per second against the quota, both paths, by hand-written SVG.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use crate::connect_double::{DESCRIBE_CONTACT, GET_CURRENT_USER_DATA, MONITOR_CONTACT, Served};
use crate::report::{Report, Shared};
use crate::svg::nice_ceiling;
use crate::{OPERATIONS, Settings};

/// The lowest rate the budget's controller lowers a pace to, as a share of the budget (`FLOOR` in
/// src/budget.rs).
const PACE_FLOOR: f64 = 0.25;

/// Per-second counts from `t0`: admitted calls per operation, and throttled answers.
pub(crate) fn per_second(
    served: &[Served],
    t0: Instant,
    seconds: usize,
) -> (BTreeMap<&'static str, Vec<f64>>, Vec<f64>) {
    let mut admitted: BTreeMap<&'static str, Vec<f64>> = OPERATIONS.iter().map(|o| (*o, vec![0.0; seconds])).collect();
    let mut throttled = vec![0.0; seconds];
    for s in served {
        let Some(second) = s.at.checked_duration_since(t0).map(|d| d.as_secs() as usize) else {
            continue;
        };
        if second >= seconds {
            continue;
        }
        if s.throttled() {
            throttled[second] += 1.0;
        } else if let Some(series) = s.operation.and_then(|o| admitted.get_mut(o)) {
            series[second] += 1.0;
        }
    }
    (admitted, throttled)
}

pub(crate) fn draw(settings: &Settings, t0: Instant, end: Instant, reports: &[&Report; 2]) -> String {
    let seconds = (end.saturating_duration_since(t0).as_secs() as usize + 1).max(10);
    let (width, panel, margin_left, margin_top) = (1040.0, 260.0, 60.0, 40.0);
    let plot_width = width - margin_left - 20.0;
    let height = margin_top + 2.0 * (panel + 60.0) + 20.0;
    // (operation, colour, width): the wider lines first, so that equal counts stay visible.
    let colours = [
        (GET_CURRENT_USER_DATA, "#1f77b4", 4.0),
        (DESCRIBE_CONTACT, "#ff7f0e", 2.5),
        (MONITOR_CONTACT, "#2ca02c", 1.5),
    ];
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        svg,
        r#"<text x="{margin_left}" y="22" font-size="15" font-weight="bold">Connect calls per second at peak ({:.0} events/s for {:.0} s): SQS path vs per-event path</text>"#,
        settings.rate,
        settings.load.as_secs_f64()
    );
    for (n, report) in reports.iter().enumerate() {
        let top = margin_top + n as f64 * (panel + 60.0) + 20.0;
        let (admitted, throttled) = per_second(&report.served, t0, seconds);
        // Scaled to what the load itself makes; the bursts of retries after it may go off the scale:
        // they are clipped and labelled with their value.
        let load_seconds = (settings.load.as_secs() as usize).min(seconds);
        let peak = admitted
            .values()
            .flat_map(|s| s[..load_seconds].iter())
            .chain(throttled[..load_seconds].iter())
            .fold(settings.quota.0, |a, b| a.max(*b));
        let y_max = nice_ceiling(peak * 1.25);
        let x = |second: f64| margin_left + plot_width * second / seconds as f64;
        let y = |value: f64| top + panel - panel * value.min(y_max) / y_max;
        let total_throttled: usize = report.throttled.values().sum();
        let _ = writeln!(
            svg,
            r#"<text x="{margin_left}" y="{}" font-size="13" font-weight="bold">{} ({} calls, {} throttled)</text>"#,
            top - 8.0,
            report.name,
            report.served.len(),
            total_throttled
        );
        // The load's period.
        let _ = writeln!(
            svg,
            r##"<rect x="{}" y="{top}" width="{}" height="{panel}" fill="#f3f3f3"/>"##,
            x(0.0),
            x(settings.load.as_secs_f64()) - x(0.0)
        );
        // Axes and grid.
        for tick in 0..=5 {
            let value = y_max * f64::from(tick) / 5.0;
            let _ = writeln!(
                svg,
                r##"<line x1="{margin_left}" x2="{}" y1="{y}" y2="{y}" stroke="#ddd"/><text x="{}" y="{}" text-anchor="end">{value}</text>"##,
                margin_left + plot_width,
                margin_left - 6.0,
                y(value) + 4.0,
                y = y(value)
            );
        }
        let _ = writeln!(
            svg,
            r##"<text x="{}" y="{}" text-anchor="end" fill="#555">s since the load started; calls/s</text>"##,
            margin_left + plot_width,
            top - 8.0
        );
        let step = if seconds > 300 { 60 } else { 30 };
        for second in (0..=seconds).step_by(step) {
            let _ = writeln!(
                svg,
                r#"<text x="{}" y="{}" text-anchor="middle">{second} s</text>"#,
                x(second as f64),
                top + panel + 16.0
            );
        }
        let _ = writeln!(
            svg,
            r##"<line x1="{margin_left}" x2="{margin_left}" y1="{top}" y2="{}" stroke="#333"/><line x1="{margin_left}" x2="{}" y1="{}" y2="{}" stroke="#333"/>"##,
            top + panel,
            margin_left + plot_width,
            top + panel,
            top + panel
        );
        // Throttled answers as bars, calls as lines, the quota as a dashed line.
        for (second, count) in throttled.iter().enumerate().filter(|(_, c)| **c > 0.0) {
            let _ = writeln!(
                svg,
                r##"<rect x="{}" y="{}" width="{}" height="{}" fill="#d62728" fill-opacity="0.35"/>"##,
                x(second as f64),
                y(*count),
                (x(1.0) - x(0.0)).max(1.0),
                top + panel - y(*count)
            );
        }
        // The peaks off the scale (the highest within ±5 s), labelled.
        for (second, count) in throttled.iter().enumerate() {
            let around = &throttled[second.saturating_sub(5)..(second + 6).min(seconds)];
            if *count > y_max && around.iter().all(|c| c <= count) {
                let _ = writeln!(
                    svg,
                    r##"<text x="{}" y="{}" fill="#d62728" text-anchor="middle" font-size="11">↑{count}</text>"##,
                    x(second as f64 + 0.5),
                    top + 12.0
                );
            }
        }
        for (operation, colour, stroke) in colours {
            let Some(series) = admitted.get(operation) else {
                continue;
            };
            if series.iter().all(|v| *v == 0.0) {
                continue;
            }
            let points: Vec<String> = series
                .iter()
                .enumerate()
                .map(|(second, v)| format!("{:.1},{:.1}", x(second as f64 + 0.5), y(*v)))
                .collect();
            let _ = writeln!(
                svg,
                r#"<polyline fill="none" stroke="{colour}" stroke-width="{stroke}" stroke-linejoin="round" points="{}"/>"#,
                points.join(" ")
            );
        }
        let _ = writeln!(
            svg,
            r##"<line x1="{margin_left}" x2="{}" y1="{q}" y2="{q}" stroke="#000" stroke-dasharray="6,4"/><text x="{}" y="{}" text-anchor="end">quota {}/s per API (burst {})</text>"##,
            margin_left + plot_width,
            margin_left + plot_width - 4.0,
            y(settings.quota.0) - 4.0,
            settings.quota.0,
            settings.quota.1,
            q = y(settings.quota.0)
        );
    }
    // Legend.
    let legend_y = height - 14.0;
    let mut lx = margin_left;
    for (operation, colour, stroke) in colours {
        let _ = writeln!(
            svg,
            r#"<line x1="{lx}" x2="{}" y1="{}" y2="{}" stroke="{colour}" stroke-width="{stroke}"/><text x="{}" y="{legend_y}">{operation} (admitted)</text>"#,
            lx + 20.0,
            legend_y - 4.0,
            legend_y - 4.0,
            lx + 25.0
        );
        lx += 235.0;
    }
    let _ = writeln!(
        svg,
        r##"<rect x="{lx}" y="{}" width="14" height="10" fill="#d62728" fill-opacity="0.35"/><text x="{}" y="{legend_y}">throttled (429)</text>"##,
        legend_y - 10.0,
        lx + 18.0
    );
    let _ = writeln!(
        svg,
        r##"<rect x="{}" y="{}" width="14" height="10" fill="#f3f3f3" stroke="#ccc"/><text x="{}" y="{legend_y}">the load</text>"##,
        lx + 130.0,
        legend_y - 10.0,
        lx + 148.0
    );
    svg.push_str("</svg>\n");
    svg
}

/// A centred moving average over `width` seconds (fewer at the ends).
fn smoothed(series: &[f64], width: usize) -> Vec<f64> {
    let half = width / 2;
    (0..series.len())
        .map(|i| {
            let window = &series[i.saturating_sub(half)..(i + half + 1).min(series.len())];
            window.iter().sum::<f64>() / window.len() as f64
        })
        .collect()
}

/// Beside another client: MonitorContact calls per second (the function's and the other client's)
/// against the shared quota, the throttles, and each environment's paced rate over time.
pub(crate) fn draw_shared(settings: &Settings, ran: Duration, sqs: &Report, shared: &Shared) -> String {
    let seconds = (ran.as_secs() as usize + 1).max(10);
    let (width, margin_left, margin_top) = (1040.0, 60.0, 40.0);
    let plot_width = width - margin_left - 20.0;
    let (calls_panel, pace_panel) = (260.0, 180.0);
    let height = margin_top + calls_panel + 60.0 + pace_panel + 110.0;
    let x = |second: f64| margin_left + plot_width * second / seconds as f64;
    let bin = |at: f64| (at >= 0.0 && at < seconds as f64).then_some(at as usize);

    // Per second: the function's MonitorContact calls and throttles, the other client's.
    let mut function = vec![0.0; seconds];
    let mut function_throttled = vec![0.0; seconds];
    for call in shared.all_calls().filter(|c| c.operation == MONITOR_CONTACT) {
        if let Some(s) = bin(call.at) {
            if call.throttled {
                function_throttled[s] += 1.0;
            } else {
                function[s] += 1.0;
            }
        }
    }
    let mut other = vec![0.0; seconds];
    let mut other_throttled = vec![0.0; seconds];
    for pair in shared.other.windows(2) {
        let ((_, a0, t0), (at, a1, t1)) = (pair[0], pair[1]);
        if let Some(s) = bin(at) {
            other[s] += (a1 - a0) as f64;
            other_throttled[s] += (t1 - t0) as f64;
        }
    }
    let together: Vec<f64> = function.iter().zip(&other).map(|(a, b)| a + b).collect();
    let (function_calls, function_all_throttled) = (
        shared.all_calls().count(),
        shared.all_calls().filter(|c| c.throttled).count(),
    );
    let (other_admitted, other_refused) = shared.other_counts();

    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        svg,
        r#"<text x="{margin_left}" y="22" font-size="15" font-weight="bold">The SQS path at peak ({:.0} events/s for {:.0} s) beside another client taking {} MonitorContact requests/s</text>"#,
        settings.rate,
        settings.load.as_secs_f64(),
        shared.rate
    );
    let axes = |svg: &mut String, top: f64, panel: f64, y_max: f64, ticks: &[f64], unit: &str| {
        let y = |value: f64| top + panel - panel * value.min(y_max) / y_max;
        let _ = writeln!(
            svg,
            r##"<rect x="{}" y="{top}" width="{}" height="{panel}" fill="#f3f3f3"/>"##,
            x(0.0),
            x(settings.load.as_secs_f64()) - x(0.0)
        );
        for value in ticks {
            let _ = writeln!(
                svg,
                r##"<line x1="{margin_left}" x2="{}" y1="{y}" y2="{y}" stroke="#ddd"/><text x="{}" y="{}" text-anchor="end">{value}</text>"##,
                margin_left + plot_width,
                margin_left - 6.0,
                y(*value) + 4.0,
                y = y(*value)
            );
        }
        let _ = writeln!(
            svg,
            r##"<text x="{}" y="{}" text-anchor="end" fill="#555">s since the load started (shaded: the load); {unit}</text>"##,
            margin_left + plot_width,
            top + panel + 32.0
        );
        let step = if seconds > 300 { 60 } else { 30 };
        for second in (0..=seconds).step_by(step) {
            let _ = writeln!(
                svg,
                r#"<text x="{}" y="{}" text-anchor="middle">{second} s</text>"#,
                x(second as f64),
                top + panel + 16.0
            );
        }
        let _ = writeln!(
            svg,
            r##"<line x1="{margin_left}" x2="{margin_left}" y1="{top}" y2="{}" stroke="#333"/><line x1="{margin_left}" x2="{}" y1="{}" y2="{}" stroke="#333"/>"##,
            top + panel,
            margin_left + plot_width,
            top + panel,
            top + panel
        );
    };
    let polyline = |svg: &mut String, points: &[(f64, f64)], colour: &str, stroke: f64, dash: &str| {
        let points: Vec<String> = points.iter().map(|(px, py)| format!("{px:.1},{py:.1}")).collect();
        let _ = writeln!(
            svg,
            r#"<polyline fill="none" stroke="{colour}" stroke-width="{stroke}" stroke-dasharray="{dash}" stroke-linejoin="round" points="{}"/>"#,
            points.join(" ")
        );
    };

    // Panel 1: MonitorContact per second.
    let top = margin_top + 20.0;
    let panel = calls_panel;
    let stacked_peak = function_throttled
        .iter()
        .zip(&other_throttled)
        .map(|(a, b)| a + b)
        .chain(together.iter().copied())
        .fold(settings.quota.1, f64::max);
    let y_max = nice_ceiling(stacked_peak);
    let y = |value: f64| top + panel - panel * value.min(y_max) / y_max;
    let _ = writeln!(
        svg,
        r#"<text x="{margin_left}" y="{}" font-size="13" font-weight="bold">MonitorContact per second: the function {} attempts ({} throttled); the other client {} ({} throttled)</text>"#,
        top - 8.0,
        function.iter().chain(&function_throttled).sum::<f64>(),
        function_throttled.iter().sum::<f64>(),
        other_admitted + other_refused,
        other_refused
    );
    let ticks: Vec<f64> = (0..=5).map(|t| y_max * f64::from(t) / 5.0).collect();
    axes(&mut svg, top, panel, y_max, &ticks, "requests/s");
    let bar_width = (x(1.0) - x(0.0)).max(1.0);
    for second in 0..seconds {
        let (mine, theirs) = (function_throttled[second], other_throttled[second]);
        if mine > 0.0 {
            let _ = writeln!(
                svg,
                r##"<rect x="{}" y="{}" width="{bar_width}" height="{}" fill="#d62728" fill-opacity="0.6"/>"##,
                x(second as f64),
                y(mine),
                top + panel - y(mine)
            );
        }
        if theirs > 0.0 {
            let _ = writeln!(
                svg,
                r##"<rect x="{}" y="{}" width="{bar_width}" height="{}" fill="#9467bd" fill-opacity="0.3"/>"##,
                x(second as f64),
                y(mine + theirs),
                y(mine) - y(mine + theirs)
            );
        }
    }
    let line = |series: &[f64]| -> Vec<(f64, f64)> {
        smoothed(series, 5)
            .iter()
            .enumerate()
            .map(|(second, v)| (x(second as f64 + 0.5), y(*v)))
            .collect()
    };
    polyline(&mut svg, &line(&together), "#555", 1.0, "2,2");
    polyline(&mut svg, &line(&other), "#9467bd", 2.0, "none");
    polyline(&mut svg, &line(&function), "#2ca02c", 2.5, "none");
    let _ = writeln!(
        svg,
        r##"<line x1="{margin_left}" x2="{}" y1="{q}" y2="{q}" stroke="#000" stroke-dasharray="6,4"/><text x="{}" y="{}" text-anchor="end">quota {}/s (burst {}), shared</text>"##,
        margin_left + plot_width,
        margin_left + plot_width - 4.0,
        y(settings.quota.0) - 4.0,
        settings.quota.0,
        settings.quota.1,
        q = y(settings.quota.0)
    );

    // Panel 2: each environment's MonitorContact PacedRate (EMF, after each invocation).
    let top = top + panel + 60.0;
    let panel = pace_panel;
    let budget = settings.calls_per_second;
    let y_max = budget * 1.2;
    let y = |value: f64| top + panel - panel * value.min(y_max) / y_max;
    let _ = writeln!(
        svg,
        r#"<text x="{margin_left}" y="{}" font-size="13" font-weight="bold">MonitorContact PacedRate per environment (EMF); {function_calls} Connect calls, {function_all_throttled} throttled; drained {} after the load</text>"#,
        top - 8.0,
        crate::report::seconds(sqs.last_final_after_load)
    );
    let ticks: Vec<f64> = (0..=6).map(|t| budget * f64::from(t) / 5.0).collect();
    axes(&mut svg, top, panel, y_max, &ticks, "calls/s");
    for (value, dash, label) in [
        (budget, "6,4", format!("budget {budget}/s (CONNECT_CALLS_PER_SECOND)")),
        (budget * PACE_FLOOR, "2,3", format!("floor {}/s", budget * PACE_FLOOR)),
    ] {
        let _ = writeln!(
            svg,
            r##"<line x1="{margin_left}" x2="{}" y1="{q}" y2="{q}" stroke="#000" stroke-dasharray="{dash}"/><text x="{}" y="{}" text-anchor="end">{label}</text>"##,
            margin_left + plot_width,
            margin_left + plot_width - 4.0,
            y(value) - 4.0,
            q = y(value)
        );
    }
    let palette = ["#1f77b4", "#ff7f0e", "#17becf", "#8c564b", "#e377c2", "#7f7f7f"];
    let mut legend_environments = Vec::new();
    for (n, (environment, paced)) in shared.paced.iter().enumerate() {
        let colour = palette[n % palette.len()];
        let points: Vec<(f64, f64)> = paced
            .iter()
            .filter(|p| p.operation == MONITOR_CONTACT)
            .filter_map(|p| p.rate.map(|rate| (p.at, rate)))
            .collect();
        if points.is_empty() {
            continue;
        }
        // From the environment's first call (at the budget) to the end of the run, in steps.
        let first_call = shared
            .calls
            .get(environment)
            .and_then(|calls| calls.first())
            .map_or(points[0].0, |c| c.at.min(points[0].0))
            .max(0.0);
        let mut steps = vec![(x(first_call), y(budget))];
        let mut level = budget;
        for (at, rate) in &points {
            steps.push((x(*at), y(level)));
            steps.push((x(*at), y(*rate)));
            level = *rate;
        }
        steps.push((x(seconds as f64), y(level)));
        let stroke = if n == 0 { 3.0 } else { 1.8 };
        polyline(&mut svg, &steps, colour, stroke, "none");
        for (at, rate) in &points {
            let _ = writeln!(
                svg,
                r#"<circle cx="{:.1}" cy="{:.1}" r="2.5" fill="{colour}"/>"#,
                x(*at),
                y(*rate)
            );
        }
        legend_environments.push((*environment, colour, stroke));
    }

    // Legend.
    let legend_y = height - 36.0;
    let mut lx = margin_left;
    for (label, colour, stroke, dash) in [
        ("the function, admitted (5 s average)", "#2ca02c", 2.5, "none"),
        ("the other client, admitted (5 s average)", "#9467bd", 2.0, "none"),
        ("both (5 s average)", "#555", 1.0, "2,2"),
    ] {
        let _ = writeln!(
            svg,
            r#"<line x1="{lx}" x2="{}" y1="{}" y2="{}" stroke="{colour}" stroke-width="{stroke}" stroke-dasharray="{dash}"/><text x="{}" y="{legend_y}">{label}</text>"#,
            lx + 20.0,
            legend_y - 4.0,
            legend_y - 4.0,
            lx + 25.0
        );
        lx += 270.0;
    }
    let legend_y = height - 14.0;
    let mut lx = margin_left;
    for (label, colour, opacity) in [
        ("the function's throttled attempts", "#d62728", 0.6),
        ("the other client's throttled requests", "#9467bd", 0.3),
    ] {
        let _ = writeln!(
            svg,
            r##"<rect x="{lx}" y="{}" width="14" height="10" fill="{colour}" fill-opacity="{opacity}"/><text x="{}" y="{legend_y}">{label} (per second)</text>"##,
            legend_y - 10.0,
            lx + 18.0
        );
        lx += 340.0;
    }
    for (environment, colour, stroke) in legend_environments {
        let _ = writeln!(
            svg,
            r#"<line x1="{lx}" x2="{}" y1="{}" y2="{}" stroke="{colour}" stroke-width="{stroke}"/><text x="{}" y="{legend_y}">environment {environment}</text>"#,
            lx + 20.0,
            legend_y - 4.0,
            legend_y - 4.0,
            lx + 25.0
        );
        lx += 120.0;
    }
    svg.push_str("</svg>\n");
    svg
}

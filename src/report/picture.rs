//! `--svg`: monitors against quota per agent, grouped by team, by hand-written SVG (as the benchmarks'
//! pictures are): one horizontal bar per agent, a mark at the agent's quota, a band and a label per
//! team. Bars are green where the quota is met, orange below it, grey without a quota.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{Coverage, Row};

const WIDTH: f64 = 960.0;
/// Where the bars start: the agent IDs (36 characters of monospace) are right-aligned before it.
const LEFT: f64 = 320.0;
const RIGHT: f64 = 900.0;
const TOP: f64 = 92.0;
const ROW: f64 = 20.0;
const BAR: f64 = 14.0;
const TEAM: f64 = 26.0;

const MET: &str = "#2ca02c";
const BELOW: &str = "#ff7f0e";
const NO_QUOTA: &str = "#8c8c8c";

/// The picture of `coverage`, a complete SVG document.
pub fn svg(coverage: &Coverage) -> String {
    let teams = teams(&coverage.rows);
    let body = teams
        .iter()
        .map(|(_, rows)| TEAM + ROW * rows.len() as f64)
        .sum::<f64>();
    let height = TOP + body.max(ROW * 2.0) + 60.0;
    let scale = Scale::new(&coverage.rows);
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    title(
        &mut svg,
        coverage,
        teams.iter().filter(|(team, _)| team.is_some()).count(),
    );
    scale.axis(&mut svg, TOP + body.max(ROW * 2.0));
    if coverage.rows.is_empty() {
        let _ = writeln!(
            svg,
            r#"<text x="{LEFT}" y="{}">no monitors recorded for this rule in this period</text>"#,
            TOP + ROW
        );
    }
    let mut y = TOP;
    for (team, rows) in &teams {
        y = group(&mut svg, &scale, *team, rows, y);
    }
    common_quota(&mut svg, &scale, &coverage.rows, TOP + body);
    legend(&mut svg, height - 18.0);
    svg.push_str("</svg>\n");
    svg
}

/// The rows by team, teams sorted by ID, agents without a team last.
fn teams(rows: &[Row]) -> Vec<(Option<&str>, Vec<&Row>)> {
    let mut teams: BTreeMap<(bool, Option<&str>), Vec<&Row>> = BTreeMap::new();
    for row in rows {
        let team = row.team.as_deref();
        teams.entry((team.is_none(), team)).or_default().push(row);
    }
    teams.into_iter().map(|((_, team), rows)| (team, rows)).collect()
}

fn title(svg: &mut String, coverage: &Coverage, teams: usize) {
    let monitors: u64 = coverage.rows.iter().map(|r| u64::from(r.monitored)).sum();
    let _ = writeln!(
        svg,
        r#"<text x="20" y="26" font-size="16" font-weight="bold">Monitors against quota per agent: rule {}</text>"#,
        escape(&coverage.rule)
    );
    let _ = writeln!(
        svg,
        r##"<text x="20" y="46" fill="#444">{} from {} to {} ({}): {} in {}, {}</text>"##,
        coverage.period,
        escape(&coverage.bounds.label),
        escape(&coverage.local(coverage.bounds.end)),
        escape(coverage.zone_name()),
        count(coverage.rows.len() as u64, "agent"),
        count(teams as u64, "team"),
        count(monitors, "monitor")
    );
}

/// Monitors to x: from 0 at [`LEFT`] to a round number at [`RIGHT`] that leaves room for the counts.
struct Scale {
    max: u32,
    step: u32,
}

impl Scale {
    fn new(rows: &[Row]) -> Scale {
        let most = rows
            .iter()
            .map(|r| r.monitored.max(r.quota.unwrap_or(0)))
            .max()
            .unwrap_or(0)
            .max(1);
        let step = nice_step(most);
        // A step beyond the longest bar or quota, so that its count and the quota's label fit.
        let max = (most / step).saturating_add(1).saturating_mul(step);
        Scale { max, step }
    }

    fn x(&self, value: u32) -> f64 {
        LEFT + (RIGHT - LEFT) * f64::from(value.min(self.max)) / f64::from(self.max)
    }

    fn axis(&self, svg: &mut String, bottom: f64) {
        let mut value = 0u32;
        while value <= self.max {
            let x = self.x(value);
            let _ = writeln!(
                svg,
                r##"<line x1="{x}" x2="{x}" y1="{}" y2="{bottom}" stroke="#e0e0e0"/><text x="{x}" y="{}" text-anchor="middle" fill="#444">{value}</text>"##,
                TOP - 6.0,
                TOP - 10.0
            );
            value = match value.checked_add(self.step) {
                Some(next) => next,
                None => break,
            };
        }
        let _ = writeln!(
            svg,
            r##"<text x="{}" y="{}" text-anchor="end" fill="#444">monitors</text>"##,
            LEFT - 12.0,
            TOP - 10.0
        );
    }
}

/// 1, 2 or 5 times a power of ten: at most about eight steps up to `most`.
fn nice_step(most: u32) -> u32 {
    let mut power = 1u32;
    loop {
        for factor in [1u32, 2, 5] {
            let step = power.saturating_mul(factor);
            if most / step <= 8 || step == u32::MAX {
                return step;
            }
        }
        power = power.saturating_mul(10);
    }
}

/// One team: its band and label, then one bar per agent. Returns the y below it.
fn group(svg: &mut String, scale: &Scale, team: Option<&str>, rows: &[&Row], top: f64) -> f64 {
    let height = TEAM + ROW * rows.len() as f64;
    let monitors: u64 = rows.iter().map(|r| u64::from(r.monitored)).sum();
    let name = team.map_or_else(|| "no team".to_owned(), |t| format!("team {}", escape(t)));
    let _ = writeln!(
        svg,
        r##"<rect class="team" x="10" y="{top}" width="{}" height="{}" fill="#f4f6f8"/>"##,
        WIDTH - 20.0,
        height - 4.0
    );
    let _ = writeln!(
        svg,
        r##"<text x="20" y="{}" font-weight="bold">{name} <tspan font-weight="normal" fill="#555">({}, {})</tspan></text>"##,
        top + 17.0,
        count(rows.len() as u64, "agent"),
        count(monitors, "monitor")
    );
    let mut y = top + TEAM;
    for row in rows {
        bar(svg, scale, row, y);
        y += ROW;
    }
    top + height
}

fn bar(svg: &mut String, scale: &Scale, row: &Row, y: f64) {
    let colour = match row.quota {
        Some(quota) if row.monitored >= quota => MET,
        Some(_) => BELOW,
        None => NO_QUOTA,
    };
    let quota = row
        .quota
        .map_or_else(|| "no quota".to_owned(), |q| format!("quota {q}"));
    let agent = escape(&row.agent);
    let end = scale.x(row.monitored);
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="{}" text-anchor="end" font-family="monospace" font-size="11">{agent}</text>"#,
        LEFT - 8.0,
        y + BAR - 3.0
    );
    let _ = writeln!(
        svg,
        r#"<rect class="bar" x="{LEFT}" y="{y}" width="{}" height="{BAR}" fill="{colour}"><title>{agent}: {} monitored, {quota}</title></rect>"#,
        end - LEFT,
        row.monitored
    );
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="{}" font-size="11">{}</text>"#,
        end + 4.0,
        y + BAR - 3.0,
        row.monitored
    );
    if let Some(q) = row.quota {
        let x = scale.x(q);
        let _ = writeln!(
            svg,
            r##"<line class="quota" x1="{x}" x2="{x}" y1="{}" y2="{}" stroke="#000" stroke-width="2"/>"##,
            y - 2.0,
            y + BAR + 2.0
        );
    }
}

/// Where every agent has the same quota: a dashed line through all the rows, labelled.
fn common_quota(svg: &mut String, scale: &Scale, rows: &[Row], bottom: f64) {
    let Some(quota) = rows.first().and_then(|r| r.quota) else {
        return;
    };
    if rows.iter().any(|r| r.quota != Some(quota)) {
        return;
    }
    let x = scale.x(quota);
    let _ = writeln!(
        svg,
        r##"<line x1="{x}" x2="{x}" y1="{TOP}" y2="{bottom}" stroke="#000" stroke-dasharray="5,4"/><text x="{x}" y="{}" text-anchor="middle" font-weight="bold">quota {quota}</text>"##,
        TOP - 24.0
    );
}

fn legend(svg: &mut String, y: f64) {
    let mut x = 20.0;
    for (colour, label) in [
        (MET, "quota met"),
        (BELOW, "below quota"),
        (NO_QUOTA, "no quota recorded"),
    ] {
        let _ = writeln!(
            svg,
            r#"<rect x="{x}" y="{}" width="14" height="10" fill="{colour}"/><text x="{}" y="{y}">{label}</text>"#,
            y - 9.0,
            x + 18.0
        );
        x += 150.0;
    }
    let _ = writeln!(
        svg,
        r##"<line x1="{}" x2="{}" y1="{}" y2="{}" stroke="#000" stroke-width="2"/><text x="{}" y="{y}">the agent's quota</text>"##,
        x + 7.0,
        x + 7.0,
        y - 12.0,
        y + 2.0,
        x + 18.0
    );
}

/// `n` and `word`, plural where `n` is not 1.
fn count(n: u64, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// Text for an SVG document: `&`, `<`, `>`, `"` and `'` as entities.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quota::{self, Period};
    use jiff::Timestamp;
    use jiff::tz::TimeZone;

    fn row(agent: &str, team: Option<&str>, monitored: u32, quota: Option<u32>) -> Row {
        Row {
            agent: agent.into(),
            team: team.map(str::to_owned),
            monitored,
            quota,
            reviewers: vec!["r".into()],
            last: Timestamp::UNIX_EPOCH,
        }
    }

    fn coverage(rows: Vec<Row>) -> Coverage {
        let bounds = quota::bounds(Timestamp::UNIX_EPOCH, Period::Week, &TimeZone::UTC);
        Coverage {
            rule: "a <b> & 'c'".into(),
            period: Period::Week,
            zone: TimeZone::UTC,
            bounds,
            rows,
        }
    }

    /// Tags balance, attributes are quoted, text has no bare `<` or `&`: enough XML for a browser.
    fn check_xml(svg: &str) -> Result<(), String> {
        let mut stack: Vec<String> = Vec::new();
        let mut rest = svg;
        while let Some(open) = rest.find('<') {
            check_text(&rest[..open])?;
            let close = rest[open..].find('>').ok_or("a tag without '>'")? + open;
            let tag = &rest[open + 1..close];
            rest = &rest[close + 1..];
            if let Some(name) = tag.strip_prefix('/') {
                match stack.pop() {
                    Some(top) if top == name => continue,
                    top => return Err(format!("</{name}> closes {top:?}")),
                }
            }
            let name = tag
                .split_whitespace()
                .next()
                .ok_or("an empty tag")?
                .trim_end_matches('/');
            if !tag.matches('"').count().is_multiple_of(2) || tag.contains('<') {
                return Err(format!("<{tag}>: unbalanced quotes"));
            }
            if !tag.ends_with('/') {
                stack.push(name.to_owned());
            }
        }
        check_text(rest)?;
        if stack.is_empty() {
            Ok(())
        } else {
            Err(format!("unclosed: {stack:?}"))
        }
    }

    fn check_text(text: &str) -> Result<(), String> {
        for (i, _) in text.match_indices('&') {
            let entity = &text[i..];
            if !["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"]
                .iter()
                .any(|e| entity.starts_with(e))
            {
                return Err(format!("a bare '&' in {text:?}"));
            }
        }
        Ok(())
    }

    #[test]
    fn one_bar_per_agent_grouped_by_team() {
        let rows = vec![
            row("agent-1", Some("team-b"), 3, Some(3)),
            row("agent-2", Some("team-a"), 1, Some(3)),
            row("agent-3", None, 5, Some(3)),
            row("agent-4", Some("team-b"), 0, Some(3)),
        ];
        let svg = svg(&coverage(rows));
        assert_eq!(check_xml(&svg), Ok(()), "{svg}");
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert_eq!(svg.matches(r#"<rect class="bar""#).count(), 4);
        assert_eq!(svg.matches(r#"<line class="quota""#).count(), 4);
        assert_eq!(svg.matches(r#"<rect class="team""#).count(), 3);
        // Teams in order, agents without one last; the common quota drawn across.
        let position = |text: &str| svg.find(text).unwrap_or_else(|| panic!("{text} in {svg}"));
        assert!(position("team team-a") < position("team team-b"));
        assert!(position("team team-b") < position("no team"));
        assert!(
            position(">agent-1<") < position(">agent-4<"),
            "agents sorted within a team"
        );
        assert!(svg.contains(">quota 3</text>"));
        // Met, below, over: colours.
        assert!(svg.contains(&format!(r#"fill="{MET}"><title>agent-1: 3 monitored, quota 3"#)));
        assert!(svg.contains(&format!(r#"fill="{BELOW}"><title>agent-2: 1 monitored, quota 3"#)));
        assert!(
            svg.contains("a &lt;b&gt; &amp; &apos;c&apos;"),
            "the rule's name escaped"
        );
    }

    #[test]
    fn without_quota_or_rows() {
        let svg = svg(&coverage(vec![row("x", None, 2, None), row("y", None, 1, Some(5))]));
        assert_eq!(check_xml(&svg), Ok(()));
        assert_eq!(svg.matches(r#"<rect class="bar""#).count(), 2);
        assert_eq!(svg.matches(r#"<line class="quota""#).count(), 1);
        assert!(
            !svg.contains(">quota 5</text>"),
            "no common quota line when quotas differ"
        );
        assert!(svg.contains(&format!(r#"fill="{NO_QUOTA}"><title>x: 2 monitored, no quota"#)));
        let empty = super::svg(&coverage(Vec::new()));
        assert_eq!(check_xml(&empty), Ok(()));
        assert_eq!(empty.matches(r#"class="bar""#).count(), 0);
        assert!(empty.contains("no monitors recorded"));
    }

    #[test]
    fn steps_are_round() {
        assert_eq!(
            [1, 8, 9, 16, 17, 40, 41, 200, 1000].map(nice_step),
            [1, 1, 2, 2, 2, 5, 5, 50, 200]
        );
        assert!(nice_step(u32::MAX) > 0);
        let scale = Scale::new(&[row("x", None, 7, Some(3))]);
        assert_eq!((scale.max, scale.step), (8, 1), "a step of room beyond the longest bar");
        assert_eq!((scale.x(0), scale.x(8), scale.x(99)), (LEFT, RIGHT, RIGHT));
        let scale = Scale::new(&[row("x", None, 20, Some(3))]);
        assert_eq!((scale.max, scale.step), (25, 5));
        assert_eq!(count(1, "agent"), "1 agent");
        assert_eq!(count(0, "team"), "0 teams");
    }
}

//! QA rules (`QA_RULES`): whom automatic QA monitoring takes, how often, and by whom. Read and
//! checked once at init; applied to Amazon Connect contact events only, the first rule whose matchers
//! all hold deciding. The rules' fields and how they match: docs/how-it-decides.md, "QA rules";
//! their limits: docs/configuration.md, "QA rule fields".
//!
//! Decision: a rule with `perAgent` does not match an event without an agent (its quota is counted per
//! agent, and such an event has nobody to count against); the next rule may take it.

use serde_json::{Map, Value};

use crate::error::ConfigError;
use crate::identifiers;
use crate::quota::{self, Period, Quota};

/// The variable the rules come from.
pub const VARIABLE: &str = "QA_RULES";

/// Most rules.
pub const MAX_RULES: usize = 50;

/// Most characters of a rule name (it is a metric dimension and a log field).
pub const MAX_NAME: usize = 64;

/// One validated rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QaRule {
    pub name: String,
    /// `None`: any agent (or none).
    pub agents: Option<Vec<String>>,
    /// `None`: any queue (or none).
    pub queues: Option<Vec<String>>,
    /// Upper case. `None`: any channel.
    pub channels: Option<Vec<String>>,
    /// Share of the rule's contacts monitored, 0..=100.
    pub percent: u8,
    /// The rule's own pool; `None`: the function's default supervisor or pool.
    pub supervisors: Option<Vec<String>>,
    /// Agent hierarchy group IDs (given as IDs or agent-group ARNs). `None`: any agent's groups (or
    /// none).
    pub hierarchy_groups: Option<Vec<String>>,
    /// `perAgent`: at most this many monitors per agent per period, spread over the period.
    pub per_agent: Option<Quota>,
    /// `perReviewer`: at most this many monitors started by each reviewer per period (rules with a
    /// pool only).
    pub per_reviewer: Option<Quota>,
}

/// What a contact event says that rules match on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facts<'a> {
    /// The agent's user ID.
    pub agent: Option<&'a str>,
    pub queue: Option<&'a str>,
    /// Upper case.
    pub channel: &'a str,
    /// The agent's hierarchy group IDs, from `detail.agentInfo.hierarchyGroups.level1` to `level5`
    /// (the levels the event has, in order). Empty: the event has none.
    pub hierarchy_groups: &'a [String],
}

impl QaRule {
    /// Whether every matcher of the rule holds for the contact.
    pub fn matches(&self, facts: &Facts<'_>) -> bool {
        let listed = |list: &Option<Vec<String>>, value: Option<&str>| match list {
            None => true,
            Some(list) => value.is_some_and(|v| list.iter().any(|item| item == v)),
        };
        let groups = match &self.hierarchy_groups {
            None => true,
            Some(list) => facts.hierarchy_groups.iter().any(|group| list.contains(group)),
        };
        // A quota per agent needs an agent to count against (see the module's decision).
        let agent_counted = self.per_agent.is_none() || facts.agent.is_some();
        listed(&self.agents, facts.agent)
            && listed(&self.queues, facts.queue)
            && listed(&self.channels, Some(facts.channel))
            && groups
            && agent_counted
    }

    /// Whether the rule has a quota (`perAgent` or `perReviewer`): its counts live in `QA_STATE_TABLE`.
    pub fn has_quota(&self) -> bool {
        self.per_agent.is_some() || self.per_reviewer.is_some()
    }
}

/// The rule that decides for a contact: the first that matches (its position).
pub fn first_match(rules: &[QaRule], facts: &Facts<'_>) -> Option<usize> {
    rules.iter().position(|rule| rule.matches(facts))
}

const KEYS: [&str; 9] = [
    "name",
    "agents",
    "queues",
    "channels",
    "hierarchyGroups",
    "percent",
    "perAgent",
    "perReviewer",
    "supervisors",
];

/// The keys of `perAgent` and `perReviewer`.
const QUOTA_KEYS: [&str; 2] = ["count", "per"];

/// Reads and validates `QA_RULES`. Every message names the rule (by position and, once known, name)
/// and the field.
pub fn parse(text: &str) -> Result<Vec<QaRule>, ConfigError> {
    let fail = |message: String| ConfigError {
        variable: VARIABLE,
        message,
    };
    let value: Value = serde_json::from_str(text).map_err(|e| {
        fail(format!(
            "{VARIABLE} is not valid JSON (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    let Value::Array(items) = value else {
        return Err(fail(format!("{VARIABLE} must be a JSON array of rules")));
    };
    if items.is_empty() {
        return Err(fail(format!(
            "{VARIABLE} is an empty array: no contact would ever match; leave it unset instead"
        )));
    }
    if items.len() > MAX_RULES {
        return Err(fail(format!("{VARIABLE} has more than {MAX_RULES} rules")));
    }
    let mut rules: Vec<QaRule> = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let number = index + 1;
        let Value::Object(fields) = item else {
            return Err(fail(format!("{VARIABLE} rule {number} must be a JSON object")));
        };
        let rule = rule(number, fields).map_err(fail)?;
        if rules.iter().any(|r| r.name == rule.name) {
            return Err(fail(format!(
                "{VARIABLE} rule {number} (\"{}\"): name is already used by an earlier rule; names must be unique",
                rule.name
            )));
        }
        rules.push(rule);
    }
    Ok(rules)
}

fn rule(number: usize, fields: &Map<String, Value>) -> Result<QaRule, String> {
    if let Some(unknown) = fields.keys().find(|k| !KEYS.contains(&k.as_str())) {
        return Err(format!(
            "{VARIABLE} rule {number}: unknown key \"{}\" (known keys: {})",
            shown_key(unknown),
            KEYS.join(", ")
        ));
    }
    let name = rule_name(number, fields)?;
    let at = |field: &str| format!("{VARIABLE} rule {number} (\"{name}\"): {field}");
    let per_agent = fields.get("perAgent").map(|v| quota(v, &at("perAgent"))).transpose()?;
    let per_reviewer = fields
        .get("perReviewer")
        .map(|v| quota(v, &at("perReviewer")))
        .transpose()?;
    // With a quota, the quota is the rule's limit: sampling is optional (and applies first).
    let default_percent = (per_agent.is_some() || per_reviewer.is_some()).then_some(100);
    let percent = percent(fields.get("percent"), default_percent, &at("percent"))?;
    let agents = id_list(fields.get("agents"), &at("agents"), identifiers::MAX_USER_ID)?;
    let queues = id_list(fields.get("queues"), &at("queues"), identifiers::MAX_QUEUE_ID)?;
    let supervisors = id_list(fields.get("supervisors"), &at("supervisors"), identifiers::MAX_USER_ID)?;
    let channels = fields
        .get("channels")
        .map(|v| channels(v, &at("channels")))
        .transpose()?;
    let hierarchy_groups = fields
        .get("hierarchyGroups")
        .map(|v| hierarchy_groups(v, &at("hierarchyGroups")))
        .transpose()?;
    Ok(QaRule {
        name,
        agents,
        queues,
        channels,
        percent,
        supervisors,
        hierarchy_groups,
        per_agent,
        per_reviewer,
    })
}

/// A key as an error message may show it: the operator's own text, not customer data; still, short
/// and printable.
fn shown_key(key: &str) -> String {
    key.chars().filter(|c| !c.is_control()).take(40).collect()
}

/// The rule's `percent`, a whole number 0..=100; required unless there is a `default`.
fn percent(value: Option<&Value>, default: Option<u8>, at: &str) -> Result<u8, String> {
    let wrong = || format!("{at} must be a whole number from 0 to 100");
    match value {
        None => {
            default.ok_or_else(|| format!("{at} is required (it may be left out only with perAgent or perReviewer)"))
        }
        Some(Value::Number(n)) => match n.as_u64() {
            Some(p) if p <= 100 => Ok(p as u8),
            _ => Err(wrong()),
        },
        Some(_) => Err(wrong()),
    }
}

/// A `perAgent` or `perReviewer`: `{"count": 1..=1000, "per": "day" | "week" | "month"}`, nothing else.
fn quota(value: &Value, at: &str) -> Result<Quota, String> {
    let shape = format!(
        "{{\"count\": 1 to {}, \"per\": \"day\", \"week\" or \"month\"}}",
        quota::MAX_COUNT
    );
    let Value::Object(fields) = value else {
        return Err(format!("{at} must be an object {shape}"));
    };
    if let Some(unknown) = fields.keys().find(|k| !QUOTA_KEYS.contains(&k.as_str())) {
        return Err(format!(
            "{at} has an unknown key \"{}\" (known keys: count, per)",
            shown_key(unknown)
        ));
    }
    let count = match fields.get("count") {
        None => return Err(format!("{at}.count is required: {at} is {shape}")),
        Some(count) => count
            .as_u64()
            .and_then(|c| u32::try_from(c).ok())
            .filter(|c| (1..=quota::MAX_COUNT).contains(c))
            .ok_or_else(|| format!("{at}.count must be a whole number from 1 to {}", quota::MAX_COUNT))?,
    };
    let per = match fields.get("per") {
        None => return Err(format!("{at}.per is required: {at} is {shape}")),
        Some(per) => per
            .as_str()
            .and_then(|p| p.parse::<Period>().ok())
            .ok_or_else(|| format!("{at}.per must be \"day\", \"week\" or \"month\""))?,
    };
    Ok(Quota { count, per })
}

/// The rule's `hierarchyGroups`: group IDs or agent-group ARNs
/// (`arn:<partition>:connect:<region>:<account>:instance/<instance id>/agent-group/<group id>`), kept
/// as IDs, duplicates dropped.
fn hierarchy_groups(value: &Value, at: &str) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for entry in strings(value, at)? {
        let id = if entry.starts_with("arn:") {
            identifiers::agent_group_arn(&format!("each ARN of {at}"), entry)?.1
        } else {
            identifiers::identifier(&format!("each entry of {at}"), entry, identifiers::MAX_GROUP_ID)?;
            entry.to_owned()
        };
        if !out.contains(&id) {
            out.push(id);
        }
    }
    Ok(out)
}

/// Whether `name` can be a rule's name: 1 to [`MAX_NAME`] characters of A-Z, a-z, 0-9, space, '-', '_'
/// and '.', not only spaces. The report's `--rule` takes the same.
pub(crate) fn is_rule_name(name: &str) -> bool {
    !name.trim().is_empty()
        && name.chars().count() <= MAX_NAME
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ' '))
}

/// The rule's `name`: short, printable, required.
fn rule_name(number: usize, fields: &Map<String, Value>) -> Result<String, String> {
    let name = match fields.get("name") {
        Some(Value::String(name)) => name.clone(),
        Some(_) => return Err(format!("{VARIABLE} rule {number}: name must be a string")),
        None => return Err(format!("{VARIABLE} rule {number}: name is required")),
    };
    if !is_rule_name(&name) {
        return Err(format!(
            "{VARIABLE} rule {number}: name must be 1 to {MAX_NAME} characters of A-Z, a-z, 0-9, space, '-', '_' and '.'"
        ));
    }
    Ok(name)
}

/// The rule's `channels`: VOICE and CHAT in any letter case, upper-cased, without repeats.
fn channels(value: &Value, at: &str) -> Result<Vec<String>, String> {
    let list = strings(value, at)?;
    let mut out = Vec::with_capacity(list.len());
    for channel in list {
        let upper = channel.to_ascii_uppercase();
        if !identifiers::MONITORABLE_CHANNELS.contains(&upper.as_str()) {
            return Err(format!(
                "{at} may list only VOICE and CHAT (any letter case): MonitorContact supports no other channel"
            ));
        }
        if !out.contains(&upper) {
            out.push(upper);
        }
    }
    Ok(out)
}

/// A non-empty JSON array of strings.
fn strings<'v>(value: &'v Value, at: &str) -> Result<Vec<&'v str>, String> {
    let Value::Array(items) = value else {
        return Err(format!("{at} must be an array of strings"));
    };
    if items.is_empty() {
        return Err(format!(
            "{at} lists nothing: leave the key out to match any, an empty list would match none"
        ));
    }
    items
        .iter()
        .map(|item| item.as_str().ok_or_else(|| format!("{at} must be an array of strings")))
        .collect()
}

/// A non-empty array of identifiers, duplicates dropped.
fn id_list(value: Option<&Value>, at: &str, max: usize) -> Result<Option<Vec<String>>, String> {
    let Some(value) = value else {
        return Ok(None);
    };
    let mut out: Vec<String> = Vec::new();
    for id in strings(value, at)? {
        identifiers::identifier(&format!("each entry of {at}"), id, max)?;
        if !out.iter().any(|o| o == id) {
            out.push(id.to_owned());
        }
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(text: &str) -> Vec<QaRule> {
        parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn fails(text: &str) -> String {
        match parse(text) {
            Ok(r) => panic!("{text} accepted: {r:?}"),
            Err(e) => {
                assert_eq!(e.variable, VARIABLE);
                assert!(e.message.contains(VARIABLE), "{e}");
                e.message
            }
        }
    }

    fn facts<'a>(agent: Option<&'a str>, queue: Option<&'a str>, channel: &'a str) -> Facts<'a> {
        Facts {
            agent,
            queue,
            channel,
            hierarchy_groups: &[],
        }
    }

    /// An agent `a1` on VOICE, in these hierarchy groups.
    fn in_groups(groups: &[String]) -> Facts<'_> {
        Facts {
            hierarchy_groups: groups,
            ..facts(Some("a1"), None, "VOICE")
        }
    }

    fn ids(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    const GROUP_ARN: &str =
        "arn:aws:connect:eu-west-2:111122223333:instance/1d2c3b4a-0000-4000-8000-00000000000a/agent-group/team-b";

    const EXAMPLE: &str = r#"[
        {"name": "new-hires", "agents": ["a1", "a2"], "percent": 100, "supervisors": ["coach-1"]},
        {"name": "billing", "queues": ["q-billing"], "channels": ["voice"], "percent": 25},
        {"name": "everyone-else", "percent": 5}
    ]"#;

    #[test]
    fn the_example_reads_as_written() {
        let r = rules(EXAMPLE);
        assert_eq!(r.len(), 3);
        assert_eq!(r[0].name, "new-hires");
        assert_eq!(r[0].agents.as_deref(), Some(&["a1".to_owned(), "a2".to_owned()][..]));
        assert_eq!(r[0].supervisors.as_deref(), Some(&["coach-1".to_owned()][..]));
        assert_eq!(r[1].channels.as_deref(), Some(&["VOICE".to_owned()][..]), "upper-cased");
        assert_eq!((r[1].percent, r[2].percent), (25, 5));
        assert_eq!(
            (&r[2].agents, &r[2].queues, &r[2].channels, &r[2].supervisors),
            (&None, &None, &None, &None)
        );
    }

    #[test]
    fn the_first_rule_whose_matchers_all_hold_decides() {
        let r = rules(EXAMPLE);
        let name = |f: Facts<'_>| first_match(&r, &f).map(|index| r[index].name.as_str());
        // A new hire on the billing queue: the first rule.
        assert_eq!(name(facts(Some("a1"), Some("q-billing"), "VOICE")), Some("new-hires"));
        // Someone else on billing, by voice: the second; by chat: the third.
        assert_eq!(name(facts(Some("x"), Some("q-billing"), "VOICE")), Some("billing"));
        assert_eq!(name(facts(Some("x"), Some("q-billing"), "CHAT")), Some("everyone-else"));
        // No agent in the event (INITIATED): the agents matcher cannot hold.
        assert_eq!(name(facts(None, Some("q-billing"), "VOICE")), Some("billing"));
        // No queue in the event: neither can the queues matcher.
        assert_eq!(name(facts(Some("x"), None, "VOICE")), Some("everyone-else"));
        let narrow = rules(r#"[{"name": "n", "agents": ["a1"], "percent": 100}]"#);
        assert!(first_match(&narrow, &facts(Some("a2"), None, "VOICE")).is_none());
        assert!(first_match(&narrow, &facts(None, None, "VOICE")).is_none());
    }

    #[test]
    fn each_matcher_alone() {
        let agents = rules(r#"[{"name": "a", "agents": ["a1"], "percent": 1}]"#);
        assert!(agents[0].matches(&facts(Some("a1"), None, "CHAT")));
        assert!(!agents[0].matches(&facts(Some("a3"), Some("q"), "CHAT")));
        let queues = rules(r#"[{"name": "q", "queues": ["q1", "q2"], "percent": 1}]"#);
        assert!(queues[0].matches(&facts(None, Some("q2"), "VOICE")));
        assert!(!queues[0].matches(&facts(None, Some("q3"), "VOICE")));
        let channels = rules(r#"[{"name": "c", "channels": ["Chat"], "percent": 1}]"#);
        assert!(channels[0].matches(&facts(None, None, "CHAT")));
        assert!(!channels[0].matches(&facts(None, None, "VOICE")));
        let all = rules(r#"[{"name": "all", "percent": 0}]"#);
        assert!(all[0].matches(&facts(None, None, "VOICE")), "no matcher: every contact");
    }

    #[test]
    fn bad_rules_name_the_rule_and_the_field() {
        let cases: &[(&str, &str)] = &[
            ("[]", "empty array"),
            ("{}", "must be a JSON array"),
            ("[1", "not valid JSON"),
            ("[7]", "rule 1 must be a JSON object"),
            (r#"[{"percent": 5}]"#, "rule 1: name is required"),
            (r#"[{"name": "", "percent": 5}]"#, "rule 1: name must be 1 to 64"),
            (r#"[{"name": "a\nb", "percent": 5}]"#, "rule 1: name must be 1 to 64"),
            (r#"[{"name": 3, "percent": 5}]"#, "rule 1: name must be a string"),
            (r#"[{"name": "x"}]"#, r#"rule 1 ("x"): percent is required"#),
            (
                r#"[{"name": "x", "percent": 101}]"#,
                r#"rule 1 ("x"): percent must be a whole number"#,
            ),
            (r#"[{"name": "x", "percent": 12.5}]"#, "percent must be a whole number"),
            (r#"[{"name": "x", "percent": "50"}]"#, "percent must be a whole number"),
            (r#"[{"name": "x", "percent": -1}]"#, "percent must be a whole number"),
            (
                r#"[{"name": "x", "percent": 5}, {"name": "x", "percent": 5}]"#,
                r#"rule 2 ("x"): name is already used"#,
            ),
            (
                r#"[{"name": "x", "percent": 5, "agent": ["a"]}]"#,
                r#"rule 1: unknown key "agent""#,
            ),
            (
                r#"[{"name": "x", "percent": 5, "agents": []}]"#,
                r#"rule 1 ("x"): agents lists nothing"#,
            ),
            (
                r#"[{"name": "x", "percent": 5, "agents": "a1"}]"#,
                "agents must be an array of strings",
            ),
            (
                r#"[{"name": "x", "percent": 5, "queues": [1]}]"#,
                "queues must be an array of strings",
            ),
            (
                r#"[{"name": "x", "percent": 5, "queues": ["q/1"]}]"#,
                "each entry of QA_RULES rule 1 (\"x\"): queues may contain only",
            ),
            (
                r#"[{"name": "x", "percent": 5, "channels": ["TASK"]}]"#,
                "channels may list only VOICE and CHAT",
            ),
            (
                r#"[{"name": "x", "percent": 5, "supervisors": ["a b"]}]"#,
                "supervisors may contain only",
            ),
        ];
        for (text, expected) in cases {
            let message = fails(text);
            assert!(message.contains(expected), "{text}: {message}");
        }
        let many = format!("[{}]", vec![r#"{"name": "n", "percent": 1}"#; 51].join(","));
        assert!(fails(&many).contains("more than 50 rules"));
        let fifty: Vec<String> = (0..50)
            .map(|n| format!(r#"{{"name": "r{n}", "percent": 1}}"#))
            .collect();
        assert_eq!(rules(&format!("[{}]", fifty.join(","))).len(), 50);
    }

    #[test]
    fn hierarchy_groups_by_id_or_arn_match_any_level() {
        let text =
            format!(r#"[{{"name": "teams", "hierarchyGroups": ["team-a", "{GROUP_ARN}", "team-a"], "percent": 100}}]"#);
        let r = rules(&text);
        assert_eq!(
            r[0].hierarchy_groups.as_deref(),
            Some(&ids(&["team-a", "team-b"])[..]),
            "ARNs stored as IDs, duplicates dropped"
        );
        let rule = &r[0];
        // Any level: the site at level 1, the team at level 3.
        assert!(rule.matches(&in_groups(&ids(&["team-a"]))));
        assert!(rule.matches(&in_groups(&ids(&["company", "site", "team-b"]))));
        assert!(!rule.matches(&in_groups(&ids(&["company", "site", "team-c"]))));
        // An event without hierarchy groups does not match.
        assert!(!rule.matches(&in_groups(&[])));
        assert!(!rule.matches(&facts(None, None, "VOICE")));
        // Other matchers still apply beside it.
        let both = rules(r#"[{"name": "t", "hierarchyGroups": ["team-a"], "channels": ["CHAT"], "percent": 1}]"#);
        assert!(!both[0].matches(&in_groups(&ids(&["team-a"]))), "VOICE is not CHAT");
        // A rule without the matcher takes any groups, or none.
        let all = rules(r#"[{"name": "all", "percent": 1}]"#);
        assert!(all[0].matches(&in_groups(&ids(&["x"]))) && all[0].matches(&in_groups(&[])));
        // In a rule list, the first match still decides.
        let list =
            rules(r#"[{"name": "a", "hierarchyGroups": ["team-a"], "percent": 1}, {"name": "rest", "percent": 1}]"#);
        assert_eq!(first_match(&list, &in_groups(&ids(&["root", "team-a"]))), Some(0));
        assert_eq!(first_match(&list, &in_groups(&ids(&["root"]))), Some(1));
    }

    #[test]
    fn quotas_read_and_make_percent_optional() {
        let r = rules(
            r#"[{"name": "three-a-week", "perAgent": {"count": 3, "per": "week"}},
                {"name": "reviewers", "perReviewer": {"per": "day", "count": 50}, "percent": 20, "supervisors": ["s1"]},
                {"name": "both", "perAgent": {"count": 1, "per": "day"}, "perReviewer": {"count": 1000, "per": "month"}},
                {"name": "plain", "percent": 5}]"#,
        );
        assert_eq!(
            (r[0].per_agent, r[0].per_reviewer, r[0].percent),
            (
                Some(Quota {
                    count: 3,
                    per: Period::Week
                }),
                None,
                100
            ),
            "percent defaults to 100 with a quota"
        );
        assert_eq!(
            (r[1].per_agent, r[1].per_reviewer, r[1].percent),
            (
                None,
                Some(Quota {
                    count: 50,
                    per: Period::Day
                }),
                20
            )
        );
        assert_eq!(
            r[2].per_agent,
            Some(Quota {
                count: 1,
                per: Period::Day
            })
        );
        assert_eq!(
            r[2].per_reviewer,
            Some(Quota {
                count: 1000,
                per: Period::Month
            })
        );
        assert!(r[0].has_quota() && r[1].has_quota() && r[2].has_quota() && !r[3].has_quota());
        assert_eq!((r[3].per_agent, r[3].per_reviewer), (None, None));
        // Without a quota, percent is still required.
        assert!(fails(r#"[{"name": "x", "hierarchyGroups": ["g"]}]"#).contains(r#"rule 1 ("x"): percent is required"#));
    }

    #[test]
    fn a_quota_per_agent_needs_an_agent() {
        let r = rules(r#"[{"name": "q", "perAgent": {"count": 3, "per": "week"}}, {"name": "rest", "percent": 1}]"#);
        assert!(r[0].matches(&facts(Some("a1"), None, "VOICE")));
        assert!(
            !r[0].matches(&facts(None, Some("q1"), "VOICE")),
            "INITIATED: no agent to count"
        );
        assert_eq!(
            first_match(&r, &facts(None, Some("q1"), "VOICE")),
            Some(1),
            "the next rule may"
        );
        // A limit per reviewer alone counts no agent: it matches without one.
        let reviewers = rules(r#"[{"name": "r", "perReviewer": {"count": 3, "per": "day"}}]"#);
        assert!(reviewers[0].matches(&facts(None, None, "VOICE")));
    }

    /// Bad `hierarchyGroups`, `perAgent` and `perReviewer`, and what the message says.
    const BAD_GROUPS_AND_QUOTAS: &[(&str, &str)] = &[
        (
            r#"[{"name": "x", "percent": 5, "hierarchyGroups": []}]"#,
            r#"rule 1 ("x"): hierarchyGroups lists nothing"#,
        ),
        (
            r#"[{"name": "x", "percent": 5, "hierarchyGroups": "g"}]"#,
            r#"rule 1 ("x"): hierarchyGroups must be an array of strings"#,
        ),
        (
            r#"[{"name": "x", "percent": 5, "hierarchyGroups": ["g h"]}]"#,
            r#"each entry of QA_RULES rule 1 ("x"): hierarchyGroups may contain only"#,
        ),
        (
            r#"[{"name": "x", "percent": 5, "hierarchyGroups": ["arn:aws:connect:us-east-1:111122223333:instance/i/queue/q"]}]"#,
            r#"each ARN of QA_RULES rule 1 ("x"): hierarchyGroups must be an Amazon Connect agent-group ARN"#,
        ),
        (
            r#"[{"name": "x", "percent": 5, "hierarchyGroups": ["arn:aws:connect:us-east-1:111122223333:instance/i/agent-group/a b"]}]"#,
            r#"the agent-group ID in each ARN of QA_RULES rule 1 ("x"): hierarchyGroups may contain only"#,
        ),
        (
            r#"[{"name": "x", "perAgent": 3}]"#,
            r#"rule 1 ("x"): perAgent must be an object {"count": 1 to 1000, "per": "day", "week" or "month"}"#,
        ),
        (
            r#"[{"name": "x", "perAgent": {"count": 3}}]"#,
            r#"rule 1 ("x"): perAgent.per is required"#,
        ),
        (
            r#"[{"name": "x", "perAgent": {"per": "week"}}]"#,
            r#"rule 1 ("x"): perAgent.count is required"#,
        ),
        (
            r#"[{"name": "x", "perAgent": {"count": 0, "per": "week"}}]"#,
            r#"rule 1 ("x"): perAgent.count must be a whole number from 1 to 1000"#,
        ),
        (
            r#"[{"name": "x", "perAgent": {"count": 1001, "per": "week"}}]"#,
            "perAgent.count must be a whole number from 1 to 1000",
        ),
        (
            r#"[{"name": "x", "perAgent": {"count": 2.5, "per": "week"}}]"#,
            "perAgent.count must be a whole number",
        ),
        (
            r#"[{"name": "x", "perAgent": {"count": "3", "per": "week"}}]"#,
            "perAgent.count must be a whole number",
        ),
        (
            r#"[{"name": "x", "perAgent": {"count": 3, "per": "fortnight"}}]"#,
            r#"rule 1 ("x"): perAgent.per must be "day", "week" or "month""#,
        ),
        (
            r#"[{"name": "x", "perAgent": {"count": 3, "per": "Week"}}]"#,
            "perAgent.per must be",
        ),
        (
            r#"[{"name": "x", "perAgent": {"count": 3, "per": 7}}]"#,
            "perAgent.per must be",
        ),
        (
            r#"[{"name": "x", "perAgent": {"count": 3, "per": "week", "max": 4}}]"#,
            r#"rule 1 ("x"): perAgent has an unknown key "max" (known keys: count, per)"#,
        ),
        (
            r#"[{"name": "ok", "percent": 1}, {"name": "y", "perReviewer": {"count": -1, "per": "day"}}]"#,
            r#"rule 2 ("y"): perReviewer.count must be a whole number from 1 to 1000"#,
        ),
        (
            r#"[{"name": "y", "perReviewer": {"count": 1, "per": "year"}}]"#,
            r#"rule 1 ("y"): perReviewer.per must be"#,
        ),
        (
            r#"[{"name": "y", "perReviewer": [1], "percent": 5}]"#,
            r#"rule 1 ("y"): perReviewer must be an object"#,
        ),
        (
            r#"[{"name": "y", "perAgent": {"count": 1, "per": "day"}, "percent": 101}]"#,
            r#"rule 1 ("y"): percent must be a whole number from 0 to 100"#,
        ),
        (
            r#"[{"name": "y", "peragent": {"count": 1, "per": "day"}}]"#,
            r#"rule 1: unknown key "peragent""#,
        ),
    ];

    #[test]
    fn bad_hierarchy_groups_and_quotas_name_the_rule_and_the_field() {
        for (text, expected) in BAD_GROUPS_AND_QUOTAS {
            let message = fails(text);
            assert!(message.contains(expected), "{text}: {message}");
            assert!(
                !message.contains("fortnight") && !message.contains("1001"),
                "no value echoed: {message}"
            );
        }
    }

    #[test]
    fn percent_bounds_and_duplicates() {
        let r = rules(r#"[{"name": "zero", "percent": 0}, {"name": "all", "percent": 100, "agents": ["a", "a"]}]"#);
        assert_eq!((r[0].percent, r[1].percent), (0, 100));
        assert_eq!(
            r[1].agents.as_deref(),
            Some(&["a".to_owned()][..]),
            "duplicates dropped"
        );
    }
}

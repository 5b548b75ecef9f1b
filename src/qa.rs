//! QA rules (`QA_RULES`): whom automatic QA monitoring takes, how often, and by whom.
//!
//! A JSON array of rules, read and validated once at init, applied to Amazon Connect contact events
//! only. Rules are tried in order and the first whose matchers all hold decides: its `percent` (the
//! same per-contact sampling as `SAMPLE_PERCENT`, see `sampling`) and its `supervisors` (a pool for
//! that rule's contacts; without one the function's default supervisor or pool applies).
//!
//! ```json
//! [{"name": "new-hires", "agents": ["<user id>"], "percent": 100, "supervisors": ["<user id>"]},
//!  {"name": "billing", "queues": ["<queue id>"], "channels": ["VOICE"], "percent": 25},
//!  {"name": "everyone-else", "percent": 5}]
//! ```
//!
//! Matchers, each optional (a rule with none matches every contact): `agents` (user IDs, against the
//! user in `detail.agentInfo.agentArn`), `queues` (queue IDs, against `detail.queueInfo.queueArn`),
//! `channels` (`VOICE`, `CHAT`, any letter case). An event without the field a matcher needs does not
//! match that rule.

use serde_json::{Map, Value};

use crate::error::ConfigError;
use crate::identifiers;

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
}

/// What a contact event says that rules match on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facts<'a> {
    /// The agent's user ID.
    pub agent: Option<&'a str>,
    pub queue: Option<&'a str>,
    /// Upper case.
    pub channel: &'a str,
}

impl QaRule {
    /// Whether every matcher of the rule holds for the contact.
    pub fn matches(&self, facts: &Facts<'_>) -> bool {
        let listed = |list: &Option<Vec<String>>, value: Option<&str>| match list {
            None => true,
            Some(list) => value.is_some_and(|v| list.iter().any(|item| item == v)),
        };
        listed(&self.agents, facts.agent)
            && listed(&self.queues, facts.queue)
            && listed(&self.channels, Some(facts.channel))
    }
}

/// The rule that decides for a contact: the first that matches (its position).
pub fn first_match(rules: &[QaRule], facts: &Facts<'_>) -> Option<usize> {
    rules.iter().position(|rule| rule.matches(facts))
}

const KEYS: [&str; 6] = ["name", "agents", "queues", "channels", "percent", "supervisors"];

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
        // A key is the operator's own text, not customer data; still, keep it short and printable.
        let shown: String = unknown.chars().filter(|c| !c.is_control()).take(40).collect();
        return Err(format!(
            "{VARIABLE} rule {number}: unknown key \"{shown}\" (known keys: {})",
            KEYS.join(", ")
        ));
    }
    let name = rule_name(number, fields)?;
    let at = |field: &str| format!("{VARIABLE} rule {number} (\"{name}\"): {field}");
    let percent = match fields.get("percent") {
        None => return Err(format!("{} is required", at("percent"))),
        Some(Value::Number(n)) => match n.as_u64() {
            Some(p) if p <= 100 => p as u8,
            _ => return Err(format!("{} must be a whole number from 0 to 100", at("percent"))),
        },
        Some(_) => return Err(format!("{} must be a whole number from 0 to 100", at("percent"))),
    };
    let agents = id_list(fields.get("agents"), &at("agents"), identifiers::MAX_USER_ID)?;
    let queues = id_list(fields.get("queues"), &at("queues"), identifiers::MAX_QUEUE_ID)?;
    let supervisors = id_list(fields.get("supervisors"), &at("supervisors"), identifiers::MAX_USER_ID)?;
    let channels = fields
        .get("channels")
        .map(|v| channels(v, &at("channels")))
        .transpose()?;
    Ok(QaRule {
        name,
        agents,
        queues,
        channels,
        percent,
        supervisors,
    })
}

/// The rule's `name`: short, printable, required.
fn rule_name(number: usize, fields: &Map<String, Value>) -> Result<String, String> {
    let name = match fields.get("name") {
        Some(Value::String(name)) => name.clone(),
        Some(_) => return Err(format!("{VARIABLE} rule {number}: name must be a string")),
        None => return Err(format!("{VARIABLE} rule {number}: name is required")),
    };
    let valid_name = !name.trim().is_empty()
        && name.chars().count() <= MAX_NAME
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ' '));
    if !valid_name {
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
        Facts { agent, queue, channel }
    }

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

//! Configuration from environment variables, read and validated once at start-up. A bad value
//! fails the function's init with a message naming the variable; an empty value counts as unset
//! (SAM and the console pass empty strings for parameters left blank).

use std::time::Duration;

use crate::error::ConfigError;
use crate::identifiers::{self, Capabilities};
use crate::qa::{self, QaRule};

/// Who may be attached as a supervisor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SupervisorPolicy {
    /// `ALLOWED_SUPERVISOR_USER_IDS=*`: anyone (explicit opt-in).
    Anyone,
    /// These user IDs only.
    Only(Vec<String>),
}

/// The function's configuration, read once at init (see docs/configuration.md).
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The region the function (and its Connect client) runs in.
    pub region: String,
    /// `DEFAULT_SUPERVISOR_USER_ID`: who monitors an event that names nobody (no pool).
    pub default_supervisor: Option<String>,
    /// `ALLOWED_SUPERVISOR_USER_IDS`: who may be attached.
    pub supervisors: SupervisorPolicy,
    /// `None`: every instance.
    pub allowed_instances: Option<Vec<String>>,
    /// `DEFAULT_MONITOR_CAPABILITIES`: for events that name none.
    pub default_capabilities: Capabilities,
    /// `ALLOW_BARGE`: whether BARGE may be asked for.
    pub allow_barge: bool,
    /// `TRIGGER_EVENT_TYPES`: the contact event types that start monitoring.
    pub trigger_event_types: Vec<String>,
    /// `MONITORED_CHANNELS`: VOICE and/or CHAT.
    pub monitored_channels: Vec<String>,
    /// Share of contact events (0..=100 %) that automatic monitoring takes; see `sampling`.
    pub sample_percent: u8,
    /// `SUPERVISOR_POOL_USER_IDS`: who takes an event that names no supervisor (empty: no pool, the
    /// default supervisor does); see `pool`. Members are allowed supervisors.
    pub supervisor_pool: Vec<String>,
    /// `MAX_MONITORS_PER_SUPERVISOR`: a pool member monitoring this many contacts is not picked.
    pub max_monitors_per_supervisor: u32,
    /// `VERIFY_CONTACT`: DescribeContact the target before monitoring it.
    pub verify_contact: bool,
    /// `QA_RULES` (empty: unset): whom automatic QA monitoring takes, see `qa`.
    pub qa_rules: Vec<QaRule>,
    /// Every user of every pool (`SUPERVISOR_POOL_USER_IDS` and the QA rules' `supervisors`), sorted:
    /// what one GetCurrentUserData call asks about.
    pub pool_members: Vec<String>,
    /// `MAX_EVENT_AGE_SECONDS` (`None`: 0, the rule is off): EventBridge events older than this are
    /// skipped before any call.
    pub max_event_age: Option<Duration>,
    /// `CONNECT_CALLS_PER_SECOND` (`None`: `off`): the rate of calls of each Connect API from this
    /// execution environment.
    pub calls_per_second: Option<f64>,
    /// `CONNECT_RETRY_SECONDS`: how long after a single invocation starts a failed Connect call may
    /// still be retried (an SQS batch retries until its deadline); see `retry`.
    pub retry_window: Duration,
    /// `AWS_MAX_ATTEMPTS` (`None`: unset): the most attempts of one Connect call.
    pub max_attempts: Option<u32>,
    /// `SQS_RETRY_DELAY_SECONDS` (`None`: 0, unset): an SQS record that fails with an error a retry
    /// can soon fix comes back after about this long instead of the queue's visibility timeout; see
    /// `requeue`.
    pub sqs_retry_delay: Option<Duration>,
    /// `USER_DATA_CACHE_SECONDS`: how long a warm environment reuses GetCurrentUserData's answer.
    pub user_data_ttl: Duration,
    /// `QA_TIME_ZONE` (default UTC): the time zone of the QA quotas' days, weeks and months (see
    /// `quota`).
    pub qa_time_zone: jiff::tz::TimeZone,
    /// `QA_RECORD_DAYS` (default 400, 1..=3650): how long after its event's time a quota's counts and
    /// records are kept (the table's TTL).
    pub qa_record_days: u32,
    /// `QA_STATE_TABLE` (`None`: unset): the DynamoDB table of the QA quotas' counts and records;
    /// required when a rule has `perAgent` or `perReviewer`.
    pub qa_state_table: Option<String>,
    /// `METRICS_NAMESPACE` (`None`: `off`).
    pub metrics_namespace: Option<String>,
    /// `AWS_LAMBDA_FUNCTION_NAME`, the metrics' `FunctionName` dimension (`monitor-contact` where
    /// Lambda does not set it).
    pub function_name: String,
    /// The `level` metric documents carry so that Lambda's log-level filter keeps them, from
    /// `AWS_LAMBDA_LOG_LEVEL` (see `metrics`).
    pub metrics_level: Option<&'static str>,
}

/// Most users in all the supervisor pools together: GetCurrentUserData's `Agents` filter takes at
/// most 100, and one call covers every pool.
pub const MAX_POOL: usize = 100;

/// Most reviewers of a rule with both `perAgent` and `perReviewer` (one BatchGetItem reads 100 keys).
pub const MAX_REVIEWERS_WITH_AGENT_QUOTA: usize = 99;

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env(region: &str) -> Result<Config, ConfigError> {
        Config::from_lookup(region, |name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup` (a stand-in for the environment in tests and local runs).
    pub fn from_lookup(region: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        if region.is_empty() {
            return Err(fail(
                "AWS_REGION",
                "AWS_REGION is not set: the function needs its region".into(),
            ));
        }
        let (default_supervisor, supervisor_pool) = default_and_pool(&get)?;
        let (qa_rules, pool_members) = qa_rules_and_pools(&get, default_supervisor.as_deref(), &supervisor_pool)?;
        let supervisors = supervisor_policy(&get, default_supervisor.as_deref(), &pool_members)?;
        let (allow_barge, default_capabilities) = capabilities(&get)?;
        let (trigger_event_types, monitored_channels) = triggers_and_channels(&get)?;
        const MAX_MONITORS: &str = "MAX_MONITORS_PER_SUPERVISOR";
        const VERIFY: &str = "VERIFY_CONTACT";
        const INSTANCES: &str = "ALLOWED_INSTANCE_IDS";
        const SAMPLE: &str = "SAMPLE_PERCENT";
        const AGE: &str = "MAX_EVENT_AGE_SECONDS";
        const CACHE: &str = "USER_DATA_CACHE_SECONDS";
        const REQUEUE: &str = "SQS_RETRY_DELAY_SECONDS";
        let (retry_window, max_attempts) = retries(&get)?;
        let (qa_time_zone, qa_record_days, qa_state_table) = qa_state(&get, &qa_rules, &supervisor_pool)?;
        Ok(Config {
            region: region.to_owned(),
            default_supervisor,
            supervisors,
            allowed_instances: get(INSTANCES)
                .map(|v| id_list(INSTANCES, &v, identifiers::MAX_INSTANCE_ID))
                .transpose()?,
            default_capabilities,
            allow_barge,
            trigger_event_types,
            monitored_channels,
            sample_percent: whole_number(SAMPLE, get(SAMPLE), 100, 0..=100)?,
            supervisor_pool,
            max_monitors_per_supervisor: whole_number(MAX_MONITORS, get(MAX_MONITORS), 1, 1..=100)?,
            verify_contact: flag(VERIFY, get(VERIFY))?,
            qa_rules,
            pool_members,
            max_event_age: match whole_number(AGE, get(AGE), 300u64, 0..=86_400)? {
                0 => None,
                seconds => Some(Duration::from_secs(seconds)),
            },
            calls_per_second: calls_per_second(&get)?,
            retry_window,
            max_attempts,
            sqs_retry_delay: Some(whole_number(REQUEUE, get(REQUEUE), 0u64, 0..=300)?)
                .filter(|s| *s > 0)
                .map(Duration::from_secs),
            user_data_ttl: Duration::from_secs(whole_number(CACHE, get(CACHE), 0u64, 0..=60)?),
            qa_time_zone,
            qa_record_days,
            qa_state_table,
            metrics_namespace: metrics_namespace(&get)?,
            function_name: get("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|| "monitor-contact".to_owned()),
            metrics_level: crate::metrics::level_for(lookup("AWS_LAMBDA_LOG_LEVEL").as_deref()),
        })
    }

    /// Whether `user_id` may be attached: on the allow-list, or a member of a pool (the QA rules'
    /// included).
    pub fn supervisor_allowed(&self, user_id: &str) -> bool {
        self.pool_members.iter().any(|id| id == user_id)
            || match &self.supervisors {
                SupervisorPolicy::Anyone => true,
                SupervisorPolicy::Only(ids) => ids.iter().any(|id| id == user_id),
            }
    }

    /// Whether the instance is on `ALLOWED_INSTANCE_IDS` (every instance when unset).
    pub fn instance_allowed(&self, instance_id: &str) -> bool {
        self.allowed_instances
            .as_ref()
            .is_none_or(|ids| ids.iter().any(|id| id == instance_id))
    }
}

/// A whole number in `range`; unset is `default`.
fn fail(variable: &'static str, message: String) -> ConfigError {
    ConfigError { variable, message }
}

const DEFAULT: &str = "DEFAULT_SUPERVISOR_USER_ID";
const POOL: &str = "SUPERVISOR_POOL_USER_IDS";

/// `DEFAULT_SUPERVISOR_USER_ID` and `SUPERVISOR_POOL_USER_IDS` (sorted, without repeats): at most one.
fn default_and_pool(get: &impl Fn(&str) -> Option<String>) -> Result<(Option<String>, Vec<String>), ConfigError> {
    let default_supervisor = match get(DEFAULT) {
        Some(v) => {
            let v = v.trim().to_owned();
            identifiers::identifier(DEFAULT, &v, identifiers::MAX_USER_ID).map_err(|m| fail(DEFAULT, m))?;
            Some(v)
        }
        None => None,
    };
    let mut supervisor_pool = match get(POOL) {
        Some(v) => id_list(POOL, &v, identifiers::MAX_USER_ID)?,
        None => Vec::new(),
    };
    supervisor_pool.sort_unstable();
    supervisor_pool.dedup();
    if supervisor_pool.len() > MAX_POOL {
        return Err(fail(
            POOL,
            format!("{POOL} lists more than {MAX_POOL} users: GetCurrentUserData filters on at most {MAX_POOL}"),
        ));
    }
    if default_supervisor.is_some() && !supervisor_pool.is_empty() {
        return Err(fail(
            POOL,
            format!(
                "{POOL} and {DEFAULT} are both set: an event that names no supervisor goes to the pool or to the default, so set only one"
            ),
        ));
    }
    Ok((default_supervisor, supervisor_pool))
}

/// `QA_RULES`, and every user of every pool (theirs and `SUPERVISOR_POOL_USER_IDS`), sorted.
fn qa_rules_and_pools(
    get: &impl Fn(&str) -> Option<String>,
    default_supervisor: Option<&str>,
    supervisor_pool: &[String],
) -> Result<(Vec<QaRule>, Vec<String>), ConfigError> {
    const SAMPLE: &str = "SAMPLE_PERCENT";
    let qa_rules = match get(qa::VARIABLE) {
        Some(text) => qa::parse(&text)?,
        None => Vec::new(),
    };
    if !qa_rules.is_empty() && get(SAMPLE).is_some() {
        return Err(fail(
            qa::VARIABLE,
            format!(
                "{} and {SAMPLE} are both set: each rule has its own percent, so set only one",
                qa::VARIABLE
            ),
        ));
    }
    let mut pool_members: Vec<String> = supervisor_pool
        .iter()
        .chain(qa_rules.iter().flat_map(|r| r.supervisors.iter().flatten()))
        .cloned()
        .collect();
    pool_members.sort_unstable();
    pool_members.dedup();
    if pool_members.len() > MAX_POOL {
        return Err(fail(
            qa::VARIABLE,
            format!(
                "{POOL} and the supervisors of {} hold more than {MAX_POOL} distinct users: one GetCurrentUserData call filters on at most {MAX_POOL}",
                qa::VARIABLE
            ),
        ));
    }
    if default_supervisor.is_none()
        && supervisor_pool.is_empty()
        && let Some((number, rule)) = qa_rules.iter().enumerate().find(|(_, r)| r.supervisors.is_none())
    {
        return Err(fail(
            qa::VARIABLE,
            format!(
                "{} rule {} (\"{}\") has no supervisors and neither {DEFAULT} nor {POOL} is set: its contacts would have nobody to monitor them",
                qa::VARIABLE,
                number + 1,
                rule.name
            ),
        ));
    }
    Ok((qa_rules, pool_members))
}

const TIME_ZONE: &str = "QA_TIME_ZONE";
const RECORD_DAYS: &str = "QA_RECORD_DAYS";
const STATE_TABLE: &str = "QA_STATE_TABLE";

/// One BatchGetItem reads a quota's counts before any Connect call: at most 100 keys, the agent's
/// counter and each reviewer's.
fn one_read_of_counts(qa_rules: &[QaRule], supervisor_pool: &[String]) -> Result<(), ConfigError> {
    let too_many = qa_rules.iter().enumerate().find(|(_, r)| {
        let reviewers = r.supervisors.as_deref().unwrap_or(supervisor_pool).len();
        r.per_reviewer.is_some() && r.per_agent.is_some() && reviewers > MAX_REVIEWERS_WITH_AGENT_QUOTA
    });
    match too_many {
        None => Ok(()),
        Some((number, rule)) => Err(fail(
            qa::VARIABLE,
            format!(
                "{} rule {} (\"{}\"): a rule with both perAgent and perReviewer may have at most {MAX_REVIEWERS_WITH_AGENT_QUOTA} reviewers (its supervisors, or {POOL}): their counts and the agent's are read in one call",
                qa::VARIABLE,
                number + 1,
                rule.name
            ),
        )),
    }
}

/// `QA_TIME_ZONE`, `QA_RECORD_DAYS` and `QA_STATE_TABLE` (each validated whether or not a rule has a
/// quota), and what the rules' quotas need: a pool for `perReviewer`, the table for any quota.
fn qa_state(
    get: &impl Fn(&str) -> Option<String>,
    qa_rules: &[QaRule],
    supervisor_pool: &[String],
) -> Result<(jiff::tz::TimeZone, u32, Option<String>), ConfigError> {
    let zone = qa_time_zone(get)?;
    let record_days = whole_number(RECORD_DAYS, get(RECORD_DAYS), 400u32, 1..=3650)?;
    let table = get(STATE_TABLE).map(|name| state_table(&name)).transpose()?;
    let named = |number: usize, rule: &QaRule| format!("{} rule {} (\"{}\")", qa::VARIABLE, number + 1, rule.name);
    if supervisor_pool.is_empty()
        && let Some((number, rule)) = qa_rules
            .iter()
            .enumerate()
            .find(|(_, r)| r.per_reviewer.is_some() && r.supervisors.is_none())
    {
        return Err(fail(
            qa::VARIABLE,
            format!(
                "{}: perReviewer needs a pool of reviewers: give the rule supervisors, or set {POOL} (a limit per reviewer chooses among several; {DEFAULT} is one person)",
                named(number, rule)
            ),
        ));
    }
    one_read_of_counts(qa_rules, supervisor_pool)?;
    if table.is_none()
        && let Some((number, rule)) = qa_rules.iter().enumerate().find(|(_, r)| r.has_quota())
    {
        let field = if rule.per_agent.is_some() {
            "perAgent"
        } else {
            "perReviewer"
        };
        return Err(fail(
            STATE_TABLE,
            format!(
                "{} has {field} but {STATE_TABLE} is not set: a quota's counts live in that DynamoDB table",
                named(number, rule)
            ),
        ));
    }
    Ok((zone, record_days, table))
}

/// `QA_TIME_ZONE` through `lookup` (unset or blank: UTC), validated as at init. The function reads it
/// here, and so does the report (`monitor-contact-report`), so that both count the same periods.
pub fn qa_time_zone(lookup: impl Fn(&str) -> Option<String>) -> Result<jiff::tz::TimeZone, ConfigError> {
    lookup(TIME_ZONE)
        .filter(|v| !v.trim().is_empty())
        .map(|name| time_zone(&name))
        .transpose()
        .map(|zone| zone.unwrap_or(jiff::tz::TimeZone::UTC))
}

/// Whether `name` can be a DynamoDB table name (as `QA_STATE_TABLE` and the report's `--table` take it).
pub fn is_table_name(name: &str) -> bool {
    (3..=255).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// `QA_TIME_ZONE`: an IANA time zone name, looked up in the tz database built into the function.
fn time_zone(name: &str) -> Result<jiff::tz::TimeZone, ConfigError> {
    match jiff::tz::TimeZone::get(name.trim()) {
        Ok(zone) if !zone.is_unknown() => Ok(zone),
        _ => Err(fail(
            TIME_ZONE,
            format!("{TIME_ZONE} must be an IANA time zone name such as Europe/London, America/New_York or UTC"),
        )),
    }
}

/// `QA_STATE_TABLE`: a DynamoDB table name, 3 to 255 of `A-Z a-z 0-9 _ . -`.
fn state_table(name: &str) -> Result<String, ConfigError> {
    let name = name.trim();
    if !is_table_name(name) {
        return Err(fail(
            STATE_TABLE,
            format!("{STATE_TABLE} must be a DynamoDB table name: 3 to 255 of A-Z a-z 0-9 _ . -"),
        ));
    }
    Ok(name.to_owned())
}

/// `ALLOWED_SUPERVISOR_USER_IDS` (default: the default supervisor): someone must be attachable.
fn supervisor_policy(
    get: &impl Fn(&str) -> Option<String>,
    default_supervisor: Option<&str>,
    pool_members: &[String],
) -> Result<SupervisorPolicy, ConfigError> {
    const ALLOWED: &str = "ALLOWED_SUPERVISOR_USER_IDS";
    let supervisors = match get(ALLOWED) {
        Some(v) if v.trim() == "*" => SupervisorPolicy::Anyone,
        Some(v) => SupervisorPolicy::Only(id_list(ALLOWED, &v, identifiers::MAX_USER_ID)?),
        None => SupervisorPolicy::Only(default_supervisor.iter().map(|s| (*s).to_owned()).collect()),
    };
    if supervisors == SupervisorPolicy::Only(Vec::new()) && pool_members.is_empty() {
        return Err(fail(
            ALLOWED,
            format!(
                "{ALLOWED}, {DEFAULT} and {POOL} are all unset and no QA rule names supervisors: no supervisor could ever be attached; set at least one"
            ),
        ));
    }
    Ok(supervisors)
}

/// `ALLOW_BARGE` and `DEFAULT_MONITOR_CAPABILITIES` (BARGE only where allowed).
fn capabilities(get: &impl Fn(&str) -> Option<String>) -> Result<(bool, Capabilities), ConfigError> {
    const BARGE: &str = "ALLOW_BARGE";
    const CAPS: &str = "DEFAULT_MONITOR_CAPABILITIES";
    let allow_barge = flag(BARGE, get(BARGE))?;
    let default_capabilities = match get(CAPS) {
        Some(v) => Capabilities::parse_csv(CAPS, &v)
            .map_err(|m| fail(CAPS, m))?
            .unwrap_or(Capabilities::SilentMonitor),
        None => Capabilities::SilentMonitor,
    };
    if default_capabilities.includes_barge() && !allow_barge {
        return Err(fail(CAPS, format!("{CAPS} includes BARGE but {BARGE} is not true")));
    }
    Ok((allow_barge, default_capabilities))
}

/// `TRIGGER_EVENT_TYPES` and `MONITORED_CHANNELS` (only the channels MonitorContact supports).
fn triggers_and_channels(get: &impl Fn(&str) -> Option<String>) -> Result<(Vec<String>, Vec<String>), ConfigError> {
    const TRIGGERS: &str = "TRIGGER_EVENT_TYPES";
    const CHANNELS: &str = "MONITORED_CHANNELS";
    let trigger_event_types = word_list(TRIGGERS, get(TRIGGERS).as_deref().unwrap_or("CONNECTED_TO_AGENT"))?;
    let monitored_channels = word_list(CHANNELS, get(CHANNELS).as_deref().unwrap_or("VOICE,CHAT"))?;
    if let Some(_unsupported) = monitored_channels
        .iter()
        .find(|c| !identifiers::MONITORABLE_CHANNELS.contains(&c.as_str()))
    {
        return Err(fail(
            CHANNELS,
            format!("{CHANNELS} may list only VOICE and CHAT: MonitorContact supports no other channel"),
        ));
    }
    Ok((trigger_event_types, monitored_channels))
}

/// `CONNECT_CALLS_PER_SECOND`: a rate, or `off` (`None`).
fn calls_per_second(get: &impl Fn(&str) -> Option<String>) -> Result<Option<f64>, ConfigError> {
    const RATE: &str = "CONNECT_CALLS_PER_SECOND";
    match get(RATE).map(|v| v.trim().to_ascii_lowercase()) {
        None => Ok(Some(1.0)),
        Some(v) if v == "off" => Ok(None),
        Some(v) => match v.parse::<f64>() {
            Ok(rate) if (0.01..=100.0).contains(&rate) => Ok(Some(rate)),
            _ => Err(fail(
                RATE,
                format!("{RATE} must be a number from 0.01 to 100 (calls per second of each Connect API), or off"),
            )),
        },
    }
}

/// `METRICS_NAMESPACE`: a CloudWatch namespace, or `off` (`None`).
fn metrics_namespace(get: &impl Fn(&str) -> Option<String>) -> Result<Option<String>, ConfigError> {
    const NAMESPACE: &str = "METRICS_NAMESPACE";
    match get(NAMESPACE).map(|v| v.trim().to_owned()) {
        None => Ok(Some("MonitorContact".to_owned())),
        Some(v) if v.eq_ignore_ascii_case("off") => Ok(None),
        Some(v) => {
            let valid = v.len() <= 255
                && !v.starts_with("AWS/")
                && v.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-/#: ".contains(&b));
            if !valid {
                return Err(fail(
                    NAMESPACE,
                    format!(
                        "{NAMESPACE} must be a CloudWatch namespace (at most 255 of A-Z a-z 0-9 . _ - / # : and space, not starting with AWS/), or off"
                    ),
                ));
            }
            Ok(Some(v))
        }
    }
}

/// The default of `CONNECT_RETRY_SECONDS`: a throttled contact flow gets its error within the Invoke
/// block's default 3 s, with time for the answer to travel.
pub const DEFAULT_RETRY_WINDOW: Duration = Duration::from_millis(2500);

/// `CONNECT_RETRY_SECONDS` (0 to 900, fractions allowed), `AWS_MAX_ATTEMPTS` (1 to 10, unset: as
/// many as the window allows), and `AWS_RETRY_MODE`, which may only say `standard`: retries are the
/// function's own (see `retry`), and the rate controller is the budget (`budget`), so the SDK's
/// `adaptive` mode, a second controller that can hold a request for seconds, is refused rather than
/// silently ignored.
fn retries(get: &impl Fn(&str) -> Option<String>) -> Result<(Duration, Option<u32>), ConfigError> {
    const WINDOW: &str = "CONNECT_RETRY_SECONDS";
    const MODE: &str = "AWS_RETRY_MODE";
    const ATTEMPTS: &str = "AWS_MAX_ATTEMPTS";
    let window = match get(WINDOW) {
        None => DEFAULT_RETRY_WINDOW,
        Some(v) => match v.trim().parse::<f64>() {
            Ok(seconds) if (0.0..=900.0).contains(&seconds) => Duration::from_secs_f64(seconds),
            _ => {
                return Err(ConfigError {
                    variable: WINDOW,
                    message: format!("{WINDOW} must be a number of seconds from 0 to 900"),
                });
            }
        },
    };
    if let Some(mode) = get(MODE).filter(|m| !m.trim().eq_ignore_ascii_case("standard")) {
        let adaptive = mode.trim().eq_ignore_ascii_case("adaptive");
        return Err(ConfigError {
            variable: MODE,
            message: if adaptive {
                format!(
                    "{MODE} must be standard or unset: the function retries Connect calls itself and paces them with CONNECT_CALLS_PER_SECOND, which slows down on throttles; adaptive mode is not used"
                )
            } else {
                format!("{MODE} must be standard or unset")
            },
        });
    }
    let max_attempts = match get(ATTEMPTS) {
        None => None,
        Some(v) => Some(whole_number(ATTEMPTS, Some(v), 1u32, 1..=10)?),
    };
    Ok((window, max_attempts))
}

fn whole_number<T>(
    variable: &'static str,
    value: Option<String>,
    default: T,
    range: std::ops::RangeInclusive<T>,
) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display,
{
    let Some(value) = value else {
        return Ok(default);
    };
    match value.trim().parse::<T>() {
        Ok(n) if range.contains(&n) => Ok(n),
        _ => Err(ConfigError {
            variable,
            message: format!(
                "{variable} must be a whole number from {} to {}",
                range.start(),
                range.end()
            ),
        }),
    }
}

/// `true` or `false` (any case); unset is false.
fn flag(variable: &'static str, value: Option<String>) -> Result<bool, ConfigError> {
    match value.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(_) => Err(ConfigError {
            variable,
            message: format!("{variable} must be true or false"),
        }),
    }
}

/// A non-empty comma-separated list of identifiers.
fn id_list(variable: &'static str, value: &str, max: usize) -> Result<Vec<String>, ConfigError> {
    let mut out = Vec::new();
    for entry in identifiers::csv(value) {
        identifiers::identifier(&format!("each entry of {variable}"), entry, max)
            .map_err(|message| ConfigError { variable, message })?;
        out.push(entry.to_owned());
    }
    if out.is_empty() {
        return Err(ConfigError {
            variable,
            message: format!("{variable} lists no IDs"),
        });
    }
    Ok(out)
}

/// A non-empty comma-separated list of upper-case words (event types, channels).
fn word_list(variable: &'static str, value: &str) -> Result<Vec<String>, ConfigError> {
    let out: Vec<String> = identifiers::csv(value).map(str::to_owned).collect();
    if out.is_empty() {
        return Err(ConfigError {
            variable,
            message: format!("{variable} lists nothing"),
        });
    }
    if !out
        .iter()
        .all(|w| w.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'))
    {
        return Err(ConfigError {
            variable,
            message: format!("{variable} entries must be upper-case words such as CONNECTED_TO_AGENT"),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUP: &str = "11111111-2222-3333-4444-555555555555";

    fn load(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_lookup("us-east-1", |name| {
            vars.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())
        })
    }

    fn ok(vars: &[(&str, &str)]) -> Config {
        match load(vars) {
            Ok(c) => c,
            Err(e) => panic!("{vars:?}: {e}"),
        }
    }

    fn fails_on(vars: &[(&str, &str)]) -> &'static str {
        match load(vars) {
            Ok(c) => panic!("{vars:?} should fail, got {c:?}"),
            Err(e) => {
                assert!(e.message.contains(e.variable), "message names the variable: {e}");
                e.variable
            }
        }
    }

    #[test]
    fn defaults() {
        let c = ok(&[("DEFAULT_SUPERVISOR_USER_ID", SUP)]);
        assert_eq!(c.default_supervisor.as_deref(), Some(SUP));
        assert_eq!(c.supervisors, SupervisorPolicy::Only(vec![SUP.into()]));
        assert_eq!(c.allowed_instances, None);
        assert_eq!(c.default_capabilities, Capabilities::SilentMonitor);
        assert!(!c.allow_barge);
        assert_eq!(c.trigger_event_types, ["CONNECTED_TO_AGENT"]);
        assert_eq!(c.monitored_channels, ["VOICE", "CHAT"]);
        assert_eq!(c.sample_percent, 100);
        assert!(c.supervisor_pool.is_empty());
        assert_eq!(c.max_monitors_per_supervisor, 1);
        assert!(!c.verify_contact);
        assert!(c.supervisor_allowed(SUP));
        assert!(!c.supervisor_allowed("someone-else"));
        assert!(c.instance_allowed("any"));
    }

    #[test]
    fn allow_lists() {
        let c = ok(&[
            ("ALLOWED_SUPERVISOR_USER_IDS", "a, b"),
            ("ALLOWED_INSTANCE_IDS", "i1,i2"),
        ]);
        assert_eq!(c.default_supervisor, None);
        assert!(c.supervisor_allowed("a") && c.supervisor_allowed("b") && !c.supervisor_allowed("c"));
        assert!(c.instance_allowed("i2") && !c.instance_allowed("i3"));
        let c = ok(&[("ALLOWED_SUPERVISOR_USER_IDS", "*")]);
        assert!(c.supervisor_allowed("anyone-at-all"));
    }

    #[test]
    fn supervisor_pool() {
        let c = ok(&[
            ("SUPERVISOR_POOL_USER_IDS", "p2, p1,p2"),
            ("MAX_MONITORS_PER_SUPERVISOR", "3"),
            ("VERIFY_CONTACT", "True"),
        ]);
        assert_eq!(c.supervisor_pool, ["p1", "p2"], "sorted, duplicates dropped");
        assert_eq!(c.max_monitors_per_supervisor, 3);
        assert!(c.verify_contact);
        assert_eq!(c.supervisors, SupervisorPolicy::Only(Vec::new()));
        assert!(
            c.supervisor_allowed("p1") && !c.supervisor_allowed("p3"),
            "members are allowed"
        );
        let c = ok(&[("SUPERVISOR_POOL_USER_IDS", "p1"), ("ALLOWED_SUPERVISOR_USER_IDS", "a")]);
        assert!(c.supervisor_allowed("p1") && c.supervisor_allowed("a") && !c.supervisor_allowed("b"));
        let hundred: Vec<String> = (0..100).map(|i| format!("user-{i}")).collect();
        assert_eq!(
            ok(&[("SUPERVISOR_POOL_USER_IDS", &hundred.join(","))])
                .supervisor_pool
                .len(),
            100
        );
        let too_many = format!("{},user-100", hundred.join(","));
        assert_eq!(
            fails_on(&[("SUPERVISOR_POOL_USER_IDS", &too_many)]),
            "SUPERVISOR_POOL_USER_IDS"
        );
        assert_eq!(
            fails_on(&[("SUPERVISOR_POOL_USER_IDS", "p1"), ("DEFAULT_SUPERVISOR_USER_ID", SUP)]),
            "SUPERVISOR_POOL_USER_IDS"
        );
        assert_eq!(
            fails_on(&[("SUPERVISOR_POOL_USER_IDS", "p1,not/valid")]),
            "SUPERVISOR_POOL_USER_IDS"
        );
        for bad in ["0", "101", "one", "-1"] {
            assert_eq!(
                fails_on(&[("SUPERVISOR_POOL_USER_IDS", "p1"), ("MAX_MONITORS_PER_SUPERVISOR", bad)]),
                "MAX_MONITORS_PER_SUPERVISOR"
            );
        }
        assert_eq!(
            fails_on(&[("DEFAULT_SUPERVISOR_USER_ID", SUP), ("VERIFY_CONTACT", "1")]),
            "VERIFY_CONTACT"
        );
    }

    #[test]
    fn empty_values_count_as_unset() {
        let c = ok(&[
            ("DEFAULT_SUPERVISOR_USER_ID", SUP),
            ("ALLOWED_INSTANCE_IDS", ""),
            ("ALLOW_BARGE", " "),
        ]);
        assert_eq!(c.allowed_instances, None);
        assert!(!c.allow_barge);
    }

    #[test]
    fn barge() {
        let c = ok(&[
            ("DEFAULT_SUPERVISOR_USER_ID", SUP),
            ("ALLOW_BARGE", "TRUE"),
            ("DEFAULT_MONITOR_CAPABILITIES", "SILENT_MONITOR,BARGE"),
        ]);
        assert!(c.allow_barge);
        assert_eq!(c.default_capabilities, Capabilities::SilentMonitorAndBarge);
        assert_eq!(
            fails_on(&[
                ("DEFAULT_SUPERVISOR_USER_ID", SUP),
                ("DEFAULT_MONITOR_CAPABILITIES", "BARGE")
            ]),
            "DEFAULT_MONITOR_CAPABILITIES"
        );
        assert_eq!(
            fails_on(&[("DEFAULT_SUPERVISOR_USER_ID", SUP), ("ALLOW_BARGE", "yes")]),
            "ALLOW_BARGE"
        );
    }

    #[test]
    fn bad_values_name_their_variable() {
        assert_eq!(fails_on(&[]), "ALLOWED_SUPERVISOR_USER_IDS");
        assert_eq!(
            fails_on(&[("DEFAULT_SUPERVISOR_USER_ID", "not/valid")]),
            "DEFAULT_SUPERVISOR_USER_ID"
        );
        assert_eq!(
            fails_on(&[("ALLOWED_SUPERVISOR_USER_IDS", ",,")]),
            "ALLOWED_SUPERVISOR_USER_IDS"
        );
        assert_eq!(
            fails_on(&[("ALLOWED_SUPERVISOR_USER_IDS", "a,b c")]),
            "ALLOWED_SUPERVISOR_USER_IDS"
        );
        assert_eq!(
            fails_on(&[("DEFAULT_SUPERVISOR_USER_ID", SUP), ("ALLOWED_INSTANCE_IDS", "x/y")]),
            "ALLOWED_INSTANCE_IDS"
        );
        assert_eq!(
            fails_on(&[
                ("DEFAULT_SUPERVISOR_USER_ID", SUP),
                ("DEFAULT_MONITOR_CAPABILITIES", "LISTEN")
            ]),
            "DEFAULT_MONITOR_CAPABILITIES"
        );
        assert_eq!(
            fails_on(&[
                ("DEFAULT_SUPERVISOR_USER_ID", SUP),
                ("TRIGGER_EVENT_TYPES", "connected")
            ]),
            "TRIGGER_EVENT_TYPES"
        );
        assert_eq!(
            fails_on(&[
                ("DEFAULT_SUPERVISOR_USER_ID", SUP),
                ("MONITORED_CHANNELS", "VOICE,TASK")
            ]),
            "MONITORED_CHANNELS"
        );
        assert_eq!(
            fails_on(&[("DEFAULT_SUPERVISOR_USER_ID", SUP), ("MONITORED_CHANNELS", ",")]),
            "MONITORED_CHANNELS"
        );
        assert_eq!(
            fails_on(&[("DEFAULT_SUPERVISOR_USER_ID", SUP), ("SAMPLE_PERCENT", "101")]),
            "SAMPLE_PERCENT"
        );
        assert_eq!(
            fails_on(&[("DEFAULT_SUPERVISOR_USER_ID", SUP), ("SAMPLE_PERCENT", "12.5")]),
            "SAMPLE_PERCENT"
        );
        assert_eq!(
            fails_on(&[("DEFAULT_SUPERVISOR_USER_ID", SUP), ("SAMPLE_PERCENT", "-1")]),
            "SAMPLE_PERCENT"
        );
        assert_eq!(
            ok(&[("DEFAULT_SUPERVISOR_USER_ID", SUP), ("SAMPLE_PERCENT", " 0 ")]).sample_percent,
            0
        );
        let no_region = Config::from_lookup("", |_| Some(SUP.to_owned()));
        assert_eq!(no_region.map_err(|e| e.variable), Err("AWS_REGION"));
    }

    #[test]
    fn the_budget_age_cache_and_metrics_settings() {
        let c = ok(&[("DEFAULT_SUPERVISOR_USER_ID", SUP)]);
        assert_eq!(c.max_event_age, Some(Duration::from_secs(300)));
        assert_eq!(c.calls_per_second, Some(1.0));
        assert_eq!(c.user_data_ttl, Duration::ZERO);
        assert_eq!(c.metrics_namespace.as_deref(), Some("MonitorContact"));
        assert_eq!(c.function_name, "monitor-contact");
        assert_eq!(c.metrics_level, None);
        let c = ok(&[
            ("DEFAULT_SUPERVISOR_USER_ID", SUP),
            ("MAX_EVENT_AGE_SECONDS", "0"),
            ("CONNECT_CALLS_PER_SECOND", "Off"),
            ("USER_DATA_CACHE_SECONDS", "15"),
            ("METRICS_NAMESPACE", "off"),
            ("AWS_LAMBDA_FUNCTION_NAME", "stack-AutomationFunction-1A2B"),
            ("AWS_LAMBDA_LOG_LEVEL", "ERROR"),
        ]);
        assert_eq!(c.max_event_age, None, "0 turns the rule off");
        assert_eq!(c.calls_per_second, None);
        assert_eq!(c.user_data_ttl, Duration::from_secs(15));
        assert_eq!(c.metrics_namespace, None);
        assert_eq!(c.function_name, "stack-AutomationFunction-1A2B");
        assert_eq!(c.metrics_level, Some("ERROR"));
        let c = ok(&[
            ("DEFAULT_SUPERVISOR_USER_ID", SUP),
            ("CONNECT_CALLS_PER_SECOND", "0.5"),
            ("METRICS_NAMESPACE", "Contact Center/QA"),
        ]);
        assert_eq!(c.calls_per_second, Some(0.5));
        assert_eq!(c.metrics_namespace.as_deref(), Some("Contact Center/QA"));
        for (variable, bad) in [
            ("MAX_EVENT_AGE_SECONDS", "-1"),
            ("MAX_EVENT_AGE_SECONDS", "86401"),
            ("MAX_EVENT_AGE_SECONDS", "5m"),
            ("CONNECT_CALLS_PER_SECOND", "0"),
            ("CONNECT_CALLS_PER_SECOND", "101"),
            ("CONNECT_CALLS_PER_SECOND", "fast"),
            ("CONNECT_CALLS_PER_SECOND", "NaN"),
            ("USER_DATA_CACHE_SECONDS", "61"),
            ("METRICS_NAMESPACE", "AWS/Lambda"),
            ("METRICS_NAMESPACE", "no\nnewlines"),
        ] {
            assert_eq!(
                fails_on(&[("DEFAULT_SUPERVISOR_USER_ID", SUP), (variable, bad)]),
                variable,
                "{variable}={bad}"
            );
        }
    }

    #[test]
    fn the_retry_settings() {
        let c = ok(&[("DEFAULT_SUPERVISOR_USER_ID", SUP)]);
        assert_eq!((c.retry_window, c.max_attempts), (DEFAULT_RETRY_WINDOW, None));
        let c = ok(&[
            ("DEFAULT_SUPERVISOR_USER_ID", SUP),
            ("CONNECT_RETRY_SECONDS", "7.5"),
            ("AWS_MAX_ATTEMPTS", "4"),
            ("AWS_RETRY_MODE", "Standard"),
        ]);
        assert_eq!((c.retry_window, c.max_attempts), (Duration::from_millis(7500), Some(4)));
        let c = ok(&[("DEFAULT_SUPERVISOR_USER_ID", SUP), ("CONNECT_RETRY_SECONDS", "0")]);
        assert_eq!(c.retry_window, Duration::ZERO, "0: no retries for a single invocation");
        for (variable, bad, rule) in [
            ("CONNECT_RETRY_SECONDS", "-1", "from 0 to 900"),
            ("CONNECT_RETRY_SECONDS", "901", "from 0 to 900"),
            ("CONNECT_RETRY_SECONDS", "NaN", "from 0 to 900"),
            ("CONNECT_RETRY_SECONDS", "2s", "from 0 to 900"),
            ("AWS_MAX_ATTEMPTS", "0", "from 1 to 10"),
            ("AWS_MAX_ATTEMPTS", "11", "from 1 to 10"),
            ("AWS_MAX_ATTEMPTS", "three", "from 1 to 10"),
            ("AWS_RETRY_MODE", "legacy", "standard or unset"),
            ("AWS_RETRY_MODE", "adaptive", "CONNECT_CALLS_PER_SECOND"),
        ] {
            match load(&[("DEFAULT_SUPERVISOR_USER_ID", SUP), (variable, bad)]) {
                Err(e) => assert!(
                    e.variable == variable && e.message.contains(variable) && e.message.contains(rule),
                    "{variable}={bad}: {e}"
                ),
                Ok(_) => panic!("{variable}={bad} accepted"),
            }
        }
    }

    #[test]
    fn the_qa_state_settings() {
        let c = ok(&[("DEFAULT_SUPERVISOR_USER_ID", SUP)]);
        assert_eq!(c.qa_time_zone, jiff::tz::TimeZone::UTC, "UTC by default");
        assert_eq!((c.qa_record_days, c.qa_state_table.as_deref()), (400, None));
        let c = ok(&[
            ("DEFAULT_SUPERVISOR_USER_ID", SUP),
            ("QA_TIME_ZONE", " Europe/London "),
            ("QA_RECORD_DAYS", "3650"),
            ("QA_STATE_TABLE", "stack-QaState-1A2B.v2_x"),
        ]);
        assert_eq!(c.qa_time_zone.iana_name(), Some("Europe/London"));
        assert_eq!(
            (c.qa_record_days, c.qa_state_table.as_deref()),
            (3650, Some("stack-QaState-1A2B.v2_x"))
        );
        assert_eq!(
            ok(&[
                ("DEFAULT_SUPERVISOR_USER_ID", SUP),
                ("QA_TIME_ZONE", "America/New_York")
            ])
            .qa_time_zone
            .iana_name(),
            Some("America/New_York")
        );
        assert_eq!(
            ok(&[("DEFAULT_SUPERVISOR_USER_ID", SUP), ("QA_TIME_ZONE", "utc")]).qa_time_zone,
            jiff::tz::TimeZone::UTC
        );
        let table_255 = "t".repeat(255);
        assert!(
            ok(&[("DEFAULT_SUPERVISOR_USER_ID", SUP), ("QA_STATE_TABLE", &table_255)])
                .qa_state_table
                .is_some()
        );
    }

    #[test]
    fn bad_qa_state_settings_name_their_variable_not_the_value() {
        let table_256 = "t".repeat(256);
        for (variable, bad, rule) in [
            ("QA_TIME_ZONE", "Mars/Olympus_Mons", "IANA time zone name"),
            ("QA_TIME_ZONE", "Etc/Unknown", "IANA time zone name"),
            ("QA_TIME_ZONE", "+01:00", "IANA time zone name"),
            ("QA_TIME_ZONE", "../../etc/passwd", "IANA time zone name"),
            ("QA_RECORD_DAYS", "0", "from 1 to 3650"),
            ("QA_RECORD_DAYS", "3651", "from 1 to 3650"),
            ("QA_RECORD_DAYS", "1y", "from 1 to 3650"),
            ("QA_STATE_TABLE", "ab", "3 to 255"),
            ("QA_STATE_TABLE", "my table", "3 to 255"),
            (
                "QA_STATE_TABLE",
                "arn:aws:dynamodb:us-east-1:111122223333:table/t",
                "3 to 255",
            ),
            ("QA_STATE_TABLE", &table_256, "3 to 255"),
        ] {
            match load(&[("DEFAULT_SUPERVISOR_USER_ID", SUP), (variable, bad)]) {
                Err(e) => assert!(
                    e.variable == variable && e.message.contains(variable) && e.message.contains(rule),
                    "{variable}={bad}: {e}"
                ),
                Ok(_) => panic!("{variable}={bad} accepted"),
            }
            if let Err(e) = load(&[("DEFAULT_SUPERVISOR_USER_ID", SUP), (variable, bad)]) {
                assert!(
                    bad.len() < 3 || !e.message.contains(bad),
                    "the value is not echoed: {e}"
                );
            }
        }
    }

    #[test]
    fn a_rule_with_both_quotas_reads_its_counts_in_one_call() {
        let table = ("QA_STATE_TABLE", "qa-state");
        let pool = |n: usize| (1..=n).map(|i| format!("r{i}")).collect::<Vec<_>>().join(",");
        let rules = r#"[{"name": "both", "perAgent": {"count": 3, "per": "week"}, "perReviewer": {"count": 40, "per": "day"}}]"#;
        let (ninety_nine, hundred) = (pool(99), pool(100));
        assert!(ok(&[("SUPERVISOR_POOL_USER_IDS", &ninety_nine), ("QA_RULES", rules), table]).qa_rules[0].has_quota());
        let e = load(&[("SUPERVISOR_POOL_USER_IDS", &hundred), ("QA_RULES", rules), table])
            .err()
            .unwrap_or_else(|| panic!("accepted"));
        assert_eq!(e.variable, "QA_RULES");
        assert!(
            e.message.contains(
                r#"QA_RULES rule 1 ("both"): a rule with both perAgent and perReviewer may have at most 99 reviewers"#
            ),
            "{e}"
        );
        let reviewer_only = r#"[{"name": "r", "perReviewer": {"count": 40, "per": "day"}}]"#;
        assert!(
            ok(&[
                ("SUPERVISOR_POOL_USER_IDS", &hundred),
                ("QA_RULES", reviewer_only),
                table
            ])
            .qa_rules[0]
                .has_quota()
        );
    }

    #[test]
    fn quotas_need_the_table_and_limits_per_reviewer_a_pool() {
        let per_agent =
            r#"[{"name": "plain", "percent": 5}, {"name": "weekly", "perAgent": {"count": 3, "per": "week"}}]"#;
        let table = ("QA_STATE_TABLE", "qa-state");
        // A quota without the table: init fails naming the rule, the field and the variable.
        let e = load(&[("DEFAULT_SUPERVISOR_USER_ID", SUP), ("QA_RULES", per_agent)])
            .err()
            .unwrap_or_else(|| panic!("accepted"));
        assert_eq!(e.variable, "QA_STATE_TABLE");
        assert!(
            e.message
                .contains(r#"QA_RULES rule 2 ("weekly") has perAgent but QA_STATE_TABLE is not set"#),
            "{e}"
        );
        let c = ok(&[("DEFAULT_SUPERVISOR_USER_ID", SUP), ("QA_RULES", per_agent), table]);
        assert_eq!(c.qa_state_table.as_deref(), Some("qa-state"));
        // perReviewer: the rule's own pool, or the function's.
        let own_pool = r#"[{"name": "r", "perReviewer": {"count": 50, "per": "day"}, "supervisors": ["s1", "s2"]}]"#;
        assert!(ok(&[("QA_RULES", own_pool), table]).qa_rules[0].per_reviewer.is_some());
        let no_pool = r#"[{"name": "r", "perReviewer": {"count": 50, "per": "day"}}]"#;
        assert!(ok(&[("SUPERVISOR_POOL_USER_IDS", "p1,p2"), ("QA_RULES", no_pool), table]).qa_rules[0].has_quota());
        let e = load(&[("DEFAULT_SUPERVISOR_USER_ID", SUP), ("QA_RULES", no_pool), table])
            .err()
            .unwrap_or_else(|| panic!("accepted"));
        assert_eq!(e.variable, "QA_RULES");
        assert!(
            e.message.contains(r#"QA_RULES rule 1 ("r"): perReviewer needs a pool"#),
            "{e}"
        );
        // The pool is asked for before the table: the rule is wrong in itself.
        let e = load(&[("DEFAULT_SUPERVISOR_USER_ID", SUP), ("QA_RULES", no_pool)])
            .err()
            .unwrap_or_else(|| panic!("accepted"));
        assert!(e.message.contains("perReviewer needs a pool"), "{e}");
        let e = load(&[("SUPERVISOR_POOL_USER_IDS", "p1"), ("QA_RULES", no_pool)])
            .err()
            .unwrap_or_else(|| panic!("accepted"));
        assert!(
            e.message.contains(r#"rule 1 ("r") has perReviewer but QA_STATE_TABLE"#),
            "{e}"
        );
        // The table without any quota is harmless; the settings are still validated.
        let plain = r#"[{"name": "plain", "percent": 5}]"#;
        assert!(
            ok(&[("DEFAULT_SUPERVISOR_USER_ID", SUP), ("QA_RULES", plain), table])
                .qa_state_table
                .is_some()
        );
        assert_eq!(
            fails_on(&[
                ("DEFAULT_SUPERVISOR_USER_ID", SUP),
                ("QA_RULES", plain),
                ("QA_TIME_ZONE", "Nowhere")
            ]),
            "QA_TIME_ZONE"
        );
    }

    #[test]
    fn qa_rules_and_their_pools() {
        let rules = r#"[{"name": "new-hires", "agents": ["a1"], "percent": 100, "supervisors": ["coach", "p1"]},
                        {"name": "rest", "percent": 5}]"#;
        let c = ok(&[("SUPERVISOR_POOL_USER_IDS", "p1,p2"), ("QA_RULES", rules)]);
        assert_eq!(c.qa_rules.len(), 2);
        assert_eq!(c.pool_members, ["coach", "p1", "p2"], "every pool, once each, sorted");
        assert!(c.supervisor_allowed("coach"), "a rule's supervisors are allowed");
        // One source of truth for the share monitored.
        assert_eq!(
            fails_on(&[
                ("SUPERVISOR_POOL_USER_IDS", "p1"),
                ("QA_RULES", rules),
                ("SAMPLE_PERCENT", "50")
            ]),
            "QA_RULES"
        );
        // Empty is unset; [] is refused.
        let c = ok(&[("DEFAULT_SUPERVISOR_USER_ID", SUP), ("QA_RULES", " ")]);
        assert!(c.qa_rules.is_empty());
        assert_eq!(
            fails_on(&[("DEFAULT_SUPERVISOR_USER_ID", SUP), ("QA_RULES", "[]")]),
            "QA_RULES"
        );
        // A rule without supervisors needs a default or a pool.
        let e = load(&[("QA_RULES", rules)]).err().unwrap_or_else(|| panic!("accepted"));
        assert!(e.message.contains(r#"rule 2 ("rest") has no supervisors"#), "{e}");
        // Rules whose every pool is their own need nothing else.
        let own = r#"[{"name": "all", "percent": 10, "supervisors": ["coach"]}]"#;
        assert_eq!(ok(&[("QA_RULES", own)]).pool_members, ["coach"]);
        // At most 100 users in all the pools together.
        let sixty: Vec<String> = (0..60).map(|i| format!("\"u{i}\"")).collect();
        let others: Vec<String> = (60..110).map(|i| format!("u{i}")).collect();
        let big = format!(
            r#"[{{"name": "big", "percent": 1, "supervisors": [{}]}}]"#,
            sixty.join(",")
        );
        let e = load(&[("SUPERVISOR_POOL_USER_IDS", &others.join(",")), ("QA_RULES", &big)])
            .err()
            .unwrap_or_else(|| panic!("accepted"));
        assert!(e.message.contains("more than 100 distinct users"), "{e}");
    }
}

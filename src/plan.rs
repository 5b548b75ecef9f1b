//! From the values an event supplied to one decision: validation first (every field, before any
//! network call), then the skip rules (the event's own, its age, QA rules and sampling), then the
//! policy (allow-lists, barge), and the ClientToken. Pure: no I/O, the time is given.

use std::time::{Duration, SystemTime};

use aws_sdk_connect::primitives::{DateTime, DateTimeFormat};

use crate::client_token;
use crate::config::Config;
use crate::connect::{ContactStatus, MonitorRequest};
use crate::error::{ErrorKind, MonitorError};
use crate::event::{BOTH_INSTANCE_FIELDS, ContactEventState, ContactRef, Field, Intent, Source};
use crate::identifiers::{self, Capabilities};
use crate::lenient_json::Loose;
use crate::outcome::{Outcome, SkipReason};
use crate::pool::Rank;
use crate::qa::{self, Facts, QaRule};
use crate::quota;
use crate::sampling;

/// What an Amazon Connect contact event says about the contact, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactFacts {
    pub event_type: String,
    /// Upper case (published samples also spell `Voice`).
    pub channel: String,
    /// The agent's user ID, from `detail.agentInfo.agentArn`.
    pub agent_id: Option<String>,
    /// From `detail.queueInfo.queueArn`.
    pub queue_id: Option<String>,
    /// The agent's hierarchy group IDs, from `detail.agentInfo.hierarchyGroups.level1.arn` to
    /// `level5.arn`: the levels the event has, in level order. Empty: none (an agent outside any
    /// hierarchy, or an event without an agent).
    pub hierarchy_groups: Vec<String>,
    /// The agent's team: the group of the deepest level the event has (a quota record's `team`).
    pub team: Option<String>,
    /// The event's `time` (EventBridge's, the same instant as [`Validated::event_time`]): the instant
    /// whose period a quota counts the contact in. `None`: the event has no `time`.
    pub time: Option<jiff::Timestamp>,
}

/// A request that passed validation. Skip rules and policy are not applied yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validated {
    pub source: Source,
    pub event_id: String,
    pub instance_id: String,
    pub contact_id: String,
    /// `None`: the event names no supervisor.
    pub user_id: Option<String>,
    /// `None`: the event names none.
    pub capabilities: Option<Capabilities>,
    /// Given explicitly by a direct invocation or custom event.
    pub client_token: Option<String>,
    pub initiation_method: Option<String>,
    /// Amazon Connect contact events only.
    pub contact_event: Option<ContactFacts>,
    /// Contact Lens rule events only: the rule that matched.
    pub rule_name: Option<String>,
    /// EventBridge events: when the event happened.
    pub event_time: Option<SystemTime>,
}

/// Which pool a supervisor is picked from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PoolRef {
    /// `SUPERVISOR_POOL_USER_IDS`.
    Global,
    /// The `supervisors` of the QA rule at this position.
    Rule(usize),
}

impl PoolRef {
    /// The pool's members.
    pub fn members(self, config: &Config) -> &[String] {
        match self {
            PoolRef::Global => &config.supervisor_pool,
            PoolRef::Rule(index) => config
                .qa_rules
                .get(index)
                .and_then(|rule| rule.supervisors.as_deref())
                .unwrap_or_default(),
        }
    }
}

/// Who will monitor.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Supervisor {
    /// Named by the event, or the default supervisor.
    Named(String),
    /// To be picked from a pool (see `pool`).
    Pool(PoolRef),
}

/// A contact to monitor, decided in process: everything the MonitorContact call needs except, for a
/// pool pick, the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub source: Source,
    pub event_id: String,
    pub instance_id: String,
    pub contact_id: String,
    pub supervisor: Supervisor,
    pub capabilities: Capabilities,
    /// Given by the event, or derived (see `client_token`).
    pub client_token: String,
    /// Connect's own events: the token names the monitor (instance, contact, and the user or the
    /// purpose), so every event about the contact shares it.
    pub contact_scoped: bool,
    /// The Contact Lens rule that asked for the supervisor (escalations).
    pub rule_name: Option<String>,
    /// The QA rule that decided (contact events under `QA_RULES`).
    pub qa_rule: Option<String>,
    /// When that rule has a quota (`perAgent`, `perReviewer`): the slot the contact needs.
    pub quota: Option<Box<QuotaTicket>>,
}

/// What a QA rule with a quota needs to hold a slot for a contact, decided in process (the periods
/// are those of the event's `time` in `QA_TIME_ZONE`; see `quota`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaTicket {
    /// The rule's name.
    pub rule: String,
    /// The agent's user ID.
    pub agent: String,
    /// `perAgent`: the agent's period and the slots open in it at the event's time.
    pub per_agent: Option<Slots>,
    /// `perReviewer`: the reviewers' period and their limit.
    pub per_reviewer: Option<Slots>,
    /// What the record keeps about the event: its type, its time (RFC 3339), its local day.
    pub event_type: String,
    pub event_time: String,
    pub day: String,
    /// The agent's team: their deepest hierarchy group.
    pub team: Option<String>,
    /// When the state kept for it may go (epoch seconds): the event's time plus `QA_RECORD_DAYS`.
    pub expires: i64,
}

/// A period's counter: its label (the period's start) and how many may be taken in it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slots {
    /// The period's start, RFC 3339 in `QA_TIME_ZONE`.
    pub period: String,
    /// How many may be taken now: the slots open so far (`perAgent`), or the limit (`perReviewer`).
    pub open: u32,
    /// The quota for the whole period (N or M).
    pub count: u32,
}

impl Target {
    /// The MonitorContact request for `user_id`.
    pub fn request(&self, user_id: String) -> MonitorRequest {
        MonitorRequest {
            instance_id: self.instance_id.clone(),
            contact_id: self.contact_id.clone(),
            user_id,
            capabilities: self.capabilities,
            client_token: self.client_token.clone(),
        }
    }

    /// How a pool pick for this target ranks the members: by the monitor for Connect's own events,
    /// by the event otherwise (as the token).
    pub fn rank(&self) -> Rank<'_> {
        match (self.contact_scoped, self.source.purpose()) {
            (true, Some(purpose)) => Rank::Monitor {
                instance_id: &self.instance_id,
                contact_id: &self.contact_id,
                purpose,
            },
            _ => Rank::Event(&self.event_id),
        }
    }
}

/// What was decided in process for one event: the Connect calls to make for a target, or the
/// outcome already (a skip, naming the QA rule that decided, if one did).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Nothing to call: the outcome is final (a skip).
    Done(Outcome),
    /// Call Connect for this target.
    Call(Target),
}

fn string(field: &Field) -> Result<Option<&str>, MonitorError> {
    match &field.value {
        None => Ok(None),
        Some(Loose::Str(s)) => Ok(Some(s)),
        Some(Loose::List(_)) => Err(MonitorError::invalid(format!(
            "{} must be a string, got an array",
            field.path
        ))),
        Some(Loose::Other(kind)) => Err(MonitorError::invalid(format!(
            "{} must be a string, got {kind}",
            field.path
        ))),
    }
}

fn required(field: &Field) -> Result<&str, MonitorError> {
    string(field)?.ok_or_else(|| MonitorError::invalid(format!("{} is required", field.path)))
}

/// A rule for a text field: its path, its value, its longest length.
type Checker = fn(&str, &str, usize) -> Result<(), String>;

fn checked(field: &Field, value: &str, rule: Checker, max: usize) -> Result<String, MonitorError> {
    rule(field.path, value, max).map_err(MonitorError::invalid)?;
    Ok(value.to_owned())
}

/// Reads an ARN of a resource of an instance: the instance and the resource's ID.
type ArnReader = fn(&str, &str) -> Result<(identifiers::Instance, String), String>;

/// The ID in an optional ARN field of a contact event (`detail.agentInfo.agentArn`, ...).
fn arn_id(field: &Field, read: ArnReader) -> Result<Option<String>, MonitorError> {
    match string(field)? {
        None => Ok(None),
        Some(arn) => Ok(Some(read(field.path, arn).map_err(MonitorError::invalid)?.1)),
    }
}

/// An EventBridge `time`: an RFC 3339 date-time such as `2026-11-22T10:00:00Z`.
fn event_time(field: &Field) -> Result<Option<SystemTime>, MonitorError> {
    let Some(text) = string(field)? else {
        return Ok(None);
    };
    let time = DateTime::from_str(text, DateTimeFormat::DateTimeWithOffset).map_err(|_| {
        MonitorError::invalid(format!(
            "{} must be an RFC 3339 date-time such as 2026-11-22T10:00:00Z",
            field.path
        ))
    })?;
    SystemTime::try_from(time)
        .map(Some)
        .map_err(|_| MonitorError::invalid(format!("{} is out of range", field.path)))
}

/// Validates every field the event supplied.
pub fn validate(intent: &Intent, config: &Config) -> Result<Validated, MonitorError> {
    let optional = |field: &Field, rule: Checker, max: usize| -> Result<Option<String>, MonitorError> {
        string(field)?.map(|v| checked(field, v, rule, max)).transpose()
    };
    // In this order: an event with several problems is told about the first.
    let (instance_id, contact_id) = instance_and_contact(intent, config)?;
    let event_id = checked(
        &intent.event_id,
        required(&intent.event_id)?,
        identifiers::token_text,
        identifiers::MAX_EVENT_ID,
    )?;
    let user_id = optional(&intent.user, identifiers::identifier, identifiers::MAX_USER_ID)?;
    let capabilities = asked_capabilities(&intent.capabilities)?;
    let client_token = optional(
        &intent.client_token,
        identifiers::token_text,
        identifiers::MAX_CLIENT_TOKEN,
    )?;
    let initiation_method = string(&intent.initiation_method)?.map(str::to_owned);
    let rule_name = match &intent.rule_name {
        Some(field) => {
            let name = required(field)?;
            identifiers::label(field.path, name, MAX_RULE_NAME).map_err(MonitorError::invalid)?;
            Some(name.to_owned())
        }
        None => None,
    };
    let mut contact_event = intent.contact_event.as_ref().map(contact_facts).transpose()?;
    let event_time = intent.event_time.as_ref().map(event_time).transpose()?.flatten();
    if let (Some(facts), Some(time)) = (&mut contact_event, event_time) {
        facts.time = Some(jiff::Timestamp::try_from(time).map_err(|_| {
            MonitorError::invalid(format!(
                "{} is out of range",
                intent.event_time.as_ref().map_or("time", |f| f.path)
            ))
        })?);
    }
    Ok(Validated {
        source: intent.source,
        event_id,
        instance_id,
        contact_id,
        user_id,
        capabilities,
        client_token,
        initiation_method,
        contact_event,
        rule_name,
        event_time,
    })
}

/// What a contact event says about the contact (its `time` is set by the caller, after validating
/// it). Its ARNs (agent, queue, hierarchy groups) must be Connect ARNs of their kind when given, as
/// every field is: a malformed one is an `InvalidEvent` naming its path.
fn contact_facts(state: &ContactEventState) -> Result<ContactFacts, MonitorError> {
    let event_type = required(&state.event_type)?.to_owned();
    let channel = required(&state.channel)?.to_ascii_uppercase();
    let agent_id = arn_id(&state.agent, identifiers::agent_arn)?;
    let queue_id = arn_id(&state.queue, identifiers::queue_arn)?;
    let mut hierarchy_groups = Vec::new();
    for level in &state.hierarchy_groups {
        if let Some(id) = arn_id(level, identifiers::agent_group_arn)? {
            hierarchy_groups.push(id);
        }
    }
    Ok(ContactFacts {
        event_type,
        channel,
        agent_id,
        queue_id,
        team: hierarchy_groups.last().cloned(),
        hierarchy_groups,
        time: None,
    })
}

/// The instance ID and the contact ID, from an ID beside an instance or from a contact ARN (then
/// checked against an instance named beside it), in the function's region.
fn instance_and_contact(intent: &Intent, config: &Config) -> Result<(String, String), MonitorError> {
    if intent.instance.path == BOTH_INSTANCE_FIELDS {
        return Err(MonitorError::invalid(
            "give the instance once: InstanceId or InstanceArn, not both",
        ));
    }
    let (instance, contact_id) = match &intent.contact {
        ContactRef::Arn(arn) => {
            let (instance, contact_id) =
                identifiers::contact_arn(arn.path, required(arn)?).map_err(MonitorError::invalid)?;
            if let Some(named) = string(&intent.instance)? {
                let named = identifiers::instance(intent.instance.path, named).map_err(MonitorError::invalid)?;
                if named.id != instance.id {
                    return Err(MonitorError::invalid(format!(
                        "{} and {} name different instances",
                        intent.instance.path, arn.path
                    )));
                }
            }
            (instance, contact_id)
        }
        ContactRef::Id(contact) => (
            identifiers::instance(intent.instance.path, required(&intent.instance)?).map_err(MonitorError::invalid)?,
            checked(
                contact,
                required(contact)?,
                identifiers::identifier,
                identifiers::MAX_CONTACT_ID,
            )?,
        ),
    };
    if let Some(region) = &instance.region
        && *region != config.region
    {
        return Err(MonitorError::invalid(format!(
            "{} names an instance in {region} but the function runs in {}: deploy the function in the instance's region",
            match &intent.contact {
                ContactRef::Arn(arn) => arn.path,
                ContactRef::Id(_) => intent.instance.path,
            },
            config.region
        )));
    }
    Ok((instance.id, contact_id))
}

/// The capabilities the event asks for: a list, or a comma-separated string; absent: the default.
fn asked_capabilities(field: &Field) -> Result<Option<Capabilities>, MonitorError> {
    match &field.value {
        None => Ok(None),
        Some(Loose::Str(csv)) if csv.trim().is_empty() => Err(MonitorError::invalid(format!(
            "{} must not be empty: leave it out to use DEFAULT_MONITOR_CAPABILITIES",
            field.path
        ))),
        Some(Loose::Str(csv)) => Capabilities::parse_csv(field.path, csv).map_err(MonitorError::invalid),
        Some(Loose::List(list)) => {
            Capabilities::parse(field.path, list.iter().map(String::as_str)).map_err(MonitorError::invalid)
        }
        Some(Loose::Other(kind)) => Err(MonitorError::invalid(format!(
            "{} must be an array of strings or a comma-separated string, got {kind}",
            field.path
        ))),
    }
}

/// The live contact check (`VERIFY_CONTACT`, and after a MonitorContact failure on the automatic
/// paths): why DescribeContact's answer means the contact is not to be monitored, if it does. An
/// ended contact first, then a monitor, then the channel (`MONITORED_CHANNELS`, for every source: a
/// direct request for a task would only fail).
pub fn live_check(status: &ContactStatus, config: &Config) -> Option<SkipReason> {
    if status.ended {
        return Some(SkipReason::ContactEnded);
    }
    if status.initiation_method.as_deref() == Some("MONITOR") {
        return Some(SkipReason::MonitorContact);
    }
    match &status.channel {
        Some(channel) if !config.monitored_channels.contains(channel) => Some(SkipReason::ChannelNotMonitored),
        _ => None,
    }
}

/// Most characters of a Contact Lens rule name kept for logs and outputs.
pub const MAX_RULE_NAME: usize = 256;

/// Whether an event that happened at `time` is too old at `now` (a time in the future, clock skew,
/// is not).
pub fn too_old(time: SystemTime, now: SystemTime, max_age: Duration) -> bool {
    now.duration_since(time).is_ok_and(|age| age > max_age)
}

impl Validated {
    /// Applies the skip rules, then the policy, and derives the ClientToken. `now` is the time the
    /// event's age is measured at.
    ///
    /// Skips come first: an event that would not start monitoring is skipped even when it names a
    /// supervisor who is not allowed. The MONITOR rule applies to every source that reports the
    /// initiation method (contact events and contact flows): monitoring creates a contact of its
    /// own, and acting on it would start a monitor of the monitor. Then the contact event's type
    /// and channel, the event's age (any EventBridge event), and for contact events the QA rules or
    /// `SAMPLE_PERCENT`.
    pub fn decide(&self, config: &Config, now: SystemTime) -> Result<Plan, MonitorError> {
        let skip = |reason, qa_rule| {
            Ok(Plan::Done(Outcome::Skipped {
                reason,
                contact_id: self.contact_id.clone(),
                qa_rule,
            }))
        };
        if let Some(reason) = self.skip_rule(config, now) {
            return skip(reason, None);
        }
        let qa_rule = match self.qa_rule(config) {
            Ok(qa_rule) => qa_rule,
            Err((reason, qa_rule)) => return skip(reason, qa_rule),
        };
        if !config.instance_allowed(&self.instance_id) {
            return Err(MonitorError::new(
                ErrorKind::InstanceNotAllowed,
                format!("instance {} is not in ALLOWED_INSTANCE_IDS", self.instance_id),
            ));
        }
        let supervisor = self.supervisor(config, qa_rule)?;
        let capabilities = self.capabilities.unwrap_or(config.default_capabilities);
        if capabilities.includes_barge() && !config.allow_barge {
            return Err(MonitorError::new(
                ErrorKind::BargeNotAllowed,
                "BARGE was requested but this function is configured with ALLOW_BARGE=false; ask for SILENT_MONITOR only, or enable barge",
            ));
        }
        Ok(Plan::Call(Target {
            source: self.source,
            event_id: self.event_id.clone(),
            instance_id: self.instance_id.clone(),
            contact_id: self.contact_id.clone(),
            client_token: self.token(&supervisor),
            supervisor,
            capabilities,
            contact_scoped: self.client_token.is_none() && self.source.is_automatic(),
            rule_name: self.rule_name.clone(),
            qa_rule: qa_rule.map(|index| config.qa_rules[index].name.clone()),
            quota: qa_rule
                .and_then(|index| self.quota_ticket(&config.qa_rules[index], config, now))
                .map(Box::new),
        }))
    }

    /// For a rule with a quota: the agent's period and open slots, the reviewers' period and limit,
    /// and what the record keeps, all at the event's `time` (or `now`, for an event without one) in
    /// `QA_TIME_ZONE`. `None` for a rule without a quota (or an event without an agent, which such
    /// a rule does not match).
    fn quota_ticket(&self, rule: &QaRule, config: &Config, now: SystemTime) -> Option<QuotaTicket> {
        let facts = self.contact_event.as_ref()?;
        if !rule.has_quota() {
            return None;
        }
        let agent = facts.agent_id.clone()?;
        let zone = &config.qa_time_zone;
        let time = facts
            .time
            .or_else(|| jiff::Timestamp::try_from(now).ok())
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        let slots = |limit: Option<quota::Quota>, spread: bool| {
            limit.map(|limit| {
                let bounds = quota::bounds(time, limit.per, zone);
                let open = match spread {
                    true => quota::open_slots(time, &bounds, limit.count),
                    false => limit.count,
                };
                Slots {
                    period: bounds.label,
                    open,
                    count: limit.count,
                }
            })
        };
        let kept = i64::from(config.qa_record_days) * 86_400;
        Some(QuotaTicket {
            rule: rule.name.clone(),
            agent,
            per_agent: slots(rule.per_agent, true),
            per_reviewer: slots(rule.per_reviewer, false),
            event_type: facts.event_type.clone(),
            event_time: time.to_string(),
            day: quota::day(time, zone),
            team: facts.team.clone(),
            expires: time.as_second().saturating_add(kept),
        })
    }

    /// The event's own rules: a monitor's contact, an event type that is no trigger, a channel not
    /// monitored, an event too old.
    fn skip_rule(&self, config: &Config, now: SystemTime) -> Option<SkipReason> {
        if self.initiation_method.as_deref() == Some("MONITOR") {
            return Some(SkipReason::MonitorContact);
        }
        if let Some(facts) = &self.contact_event {
            if !config.trigger_event_types.contains(&facts.event_type) {
                return Some(SkipReason::NotATriggerEvent);
            }
            if !config.monitored_channels.contains(&facts.channel) {
                return Some(SkipReason::ChannelNotMonitored);
            }
        }
        match (config.max_event_age, self.event_time) {
            (Some(max_age), Some(time)) if too_old(time, now, max_age) => Some(SkipReason::EventTooOld),
            _ => None,
        }
    }

    /// For a contact event: the QA rule that decides (its position), or the skip and the rule that
    /// decided it (no rule matches, or the contact is not sampled); `SAMPLE_PERCENT` where there are
    /// no rules.
    fn qa_rule(&self, config: &Config) -> Result<Option<usize>, (SkipReason, Option<String>)> {
        let Some(facts) = &self.contact_event else {
            return Ok(None);
        };
        if config.qa_rules.is_empty() {
            return match sampling::sampled(&self.contact_id, config.sample_percent) {
                true => Ok(None),
                false => Err((SkipReason::NotSampled, None)),
            };
        }
        let facts = Facts {
            agent: facts.agent_id.as_deref(),
            queue: facts.queue_id.as_deref(),
            channel: &facts.channel,
            hierarchy_groups: &facts.hierarchy_groups,
        };
        let Some(index) = qa::first_match(&config.qa_rules, &facts) else {
            return Err((SkipReason::NoMatchingRule, None));
        };
        let rule = &config.qa_rules[index];
        if !sampling::sampled(&self.contact_id, rule.percent) {
            return Err((SkipReason::NotSampled, Some(rule.name.clone())));
        }
        Ok(Some(index))
    }

    /// Who monitors: the event's user, the deciding QA rule's pool, the function's pool, or the
    /// default; a named supervisor must be allowed.
    fn supervisor(&self, config: &Config, qa_rule: Option<usize>) -> Result<Supervisor, MonitorError> {
        let rule_pool = qa_rule.filter(|&index| config.qa_rules[index].supervisors.is_some());
        let supervisor = match (&self.user_id, rule_pool, &config.default_supervisor) {
            (Some(u), _, _) => Supervisor::Named(u.clone()),
            (None, Some(index), _) => Supervisor::Pool(PoolRef::Rule(index)),
            (None, None, _) if !config.supervisor_pool.is_empty() => Supervisor::Pool(PoolRef::Global),
            (None, None, Some(u)) => Supervisor::Named(u.clone()),
            (None, None, None) => {
                return Err(MonitorError::invalid(
                    "the event names no supervisor and neither DEFAULT_SUPERVISOR_USER_ID nor SUPERVISOR_POOL_USER_IDS is set: name one in the event (UserId, or the SupervisorUserId parameter of a contact flow) or configure a default or a pool",
                ));
            }
        };
        if let Supervisor::Named(user_id) = &supervisor
            && !config.supervisor_allowed(user_id)
        {
            return Err(MonitorError::new(
                ErrorKind::SupervisorNotAllowed,
                format!(
                    "user {user_id} is not an allowed supervisor: add it to ALLOWED_SUPERVISOR_USER_IDS (or SUPERVISOR_POOL_USER_IDS)"
                ),
            ));
        }
        Ok(supervisor)
    }

    /// The ClientToken: the event's own, or derived (see `client_token`): per contact on the automatic
    /// paths, per event otherwise.
    fn token(&self, supervisor: &Supervisor) -> String {
        match (&self.client_token, supervisor, self.source.purpose()) {
            (Some(t), _, _) => t.clone(),
            (None, Supervisor::Named(user_id), Some(_)) => {
                client_token::contact_token(&self.instance_id, &self.contact_id, user_id)
            }
            (None, Supervisor::Pool(_), Some(purpose)) => {
                client_token::contact_pool_token(&self.instance_id, &self.contact_id, purpose)
            }
            (None, Supervisor::Named(user_id), None) => {
                client_token::client_token(&self.event_id, &self.instance_id, &self.contact_id, user_id)
            }
            (None, Supervisor::Pool(_), None) => {
                client_token::pool_token(&self.event_id, &self.instance_id, &self.contact_id)
            }
        }
    }
}

#[cfg(test)]
// Scenario tests read as one story each; the length limit is for the function's own code.
#[allow(clippy::too_many_lines)]
mod tests {
    use super::*;
    use crate::client_token::Purpose;
    use crate::event;
    use std::time::Duration;

    const SUP: &str = "5a1e5000-0000-4000-8000-000000000001";
    const OTHER: &str = "5a1e5000-0000-4000-8000-000000000002";
    const INST: &str = "1d2c3b4a-0000-4000-8000-00000000000a";
    const CONTACT: &str = "c0c0c0c0-0000-4000-8000-000000000001";

    /// The configuration of `base` with `extra` added (a later value wins).
    fn load(base: &[(&str, &str)], extra: &[(&str, &str)]) -> Config {
        let vars: Vec<(&str, &str)> = base.iter().chain(extra).copied().collect();
        match Config::from_lookup("us-east-1", |n| {
            vars.iter().rev().find(|(k, _)| *k == n).map(|(_, v)| (*v).to_owned())
        }) {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        }
    }

    /// A default supervisor, and `extra`.
    fn config(extra: &[(&str, &str)]) -> Config {
        load(&[("DEFAULT_SUPERVISOR_USER_ID", SUP)], extra)
    }

    /// A pool of two, and `extra`.
    fn pool_config(extra: &[(&str, &str)]) -> Config {
        load(&[("SUPERVISOR_POOL_USER_IDS", "p1,p2")], extra)
    }

    /// The time the events' age is measured at: 2026-11-18T18:41:00Z, a minute after the test events'
    /// `time`.
    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_027_260)
    }

    fn read(json: &str) -> Result<Intent, MonitorError> {
        match event::read(json, "req-1")? {
            event::Payload::Single(intent) => Ok(*intent),
            other => panic!("{json}: not a single event: {other:?}"),
        }
    }

    fn run(json: &str, config: &Config) -> Result<Plan, MonitorError> {
        validate(&read(json)?, config)?.decide(config, now())
    }

    fn skip(reason: SkipReason) -> Result<Plan, MonitorError> {
        Ok(Plan::Done(Outcome::Skipped {
            reason,
            contact_id: CONTACT.into(),
            qa_rule: None,
        }))
    }

    fn direct(fields: &str) -> String {
        format!(r#"{{"InstanceId":"{INST}","ContactId":"{CONTACT}",{fields}"EventId":"e1"}}"#)
    }

    fn target(json: &str, config: &Config) -> Target {
        match run(json, config) {
            Ok(Plan::Call(t)) => t,
            other => panic!("{json}: {other:?}"),
        }
    }

    /// The request for a named supervisor.
    fn monitor(json: &str, config: &Config) -> MonitorRequest {
        let target = target(json, config);
        match &target.supervisor {
            Supervisor::Named(user) => target.request(user.clone()),
            Supervisor::Pool(_) => panic!("{json}: a pool pick"),
        }
    }

    fn fails(json: &str, config: &Config) -> MonitorError {
        match run(json, config) {
            Err(e) => e,
            other => panic!("{json} should fail: {other:?}"),
        }
    }

    fn contact_event(event_type: &str, channel: &str, method: &str) -> String {
        format!(
            r#"{{"version":"0","id":"ev-1","detail-type":"Amazon Connect Contact Event","source":"aws.connect",
            "detail":{{"eventType":"{event_type}","channel":"{channel}","initiationMethod":"{method}","contactId":"{CONTACT}",
            "instanceArn":"arn:aws:connect:us-east-1:111122223333:instance/{INST}"}}}}"#
        )
    }

    #[test]
    fn direct_request_uses_defaults_and_derives_the_token() {
        let r = monitor(&direct(""), &config(&[]));
        assert_eq!(r.instance_id, INST);
        assert_eq!(r.contact_id, CONTACT);
        assert_eq!(r.user_id, SUP);
        assert_eq!(r.capabilities, Capabilities::SilentMonitor);
        assert_eq!(r.client_token, client_token::client_token("e1", INST, CONTACT, SUP));
    }

    #[test]
    fn explicit_client_token_is_used_as_given() {
        let r = monitor(&direct(r#""ClientToken":"my-token-1","#), &config(&[]));
        assert_eq!(r.client_token, "my-token-1");
        let e = fails(
            &direct(&format!(r#""ClientToken":"{}","#, "t".repeat(501))),
            &config(&[]),
        );
        assert!(e.message.contains("ClientToken must be at most 500"), "{e}");
    }

    #[test]
    fn contact_event_skip_rules() {
        let c = config(&[]);
        assert_eq!(
            run(&contact_event("QUEUED", "VOICE", "INBOUND"), &c),
            skip(SkipReason::NotATriggerEvent)
        );
        assert_eq!(
            run(&contact_event("CONNECTED_TO_AGENT", "TASK", "API"), &c),
            skip(SkipReason::ChannelNotMonitored)
        );
        assert_eq!(
            run(&contact_event("CONNECTED_TO_AGENT", "VOICE", "MONITOR"), &c),
            skip(SkipReason::MonitorContact)
        );
        let r = monitor(&contact_event("CONNECTED_TO_AGENT", "CHAT", "INBOUND"), &c);
        assert_eq!(
            r.client_token,
            client_token::contact_token(INST, CONTACT, SUP),
            "the monitor's token, not the event's"
        );
        let c = config(&[("TRIGGER_EVENT_TYPES", "QUEUED"), ("MONITORED_CHANNELS", "VOICE")]);
        assert!(matches!(
            run(&contact_event("QUEUED", "VOICE", "INBOUND"), &c),
            Ok(Plan::Call(_))
        ));
        assert_eq!(
            run(&contact_event("QUEUED", "CHAT", "INBOUND"), &c),
            skip(SkipReason::ChannelNotMonitored)
        );
    }

    #[test]
    fn sampling_applies_to_contact_events_and_is_the_same_for_every_event_of_a_contact() {
        // CONTACT's bucket decides: sampled at any percentage above it, skipped at or below it.
        let bucket = sampling::bucket(CONTACT);
        let taken = config(&[("SAMPLE_PERCENT", &(bucket + 1).to_string())]);
        let left = config(&[("SAMPLE_PERCENT", &bucket.to_string())]);
        assert!(matches!(
            run(&contact_event("CONNECTED_TO_AGENT", "VOICE", "INBOUND"), &taken),
            Ok(Plan::Call(_))
        ));
        assert_eq!(
            run(&contact_event("CONNECTED_TO_AGENT", "VOICE", "INBOUND"), &left),
            skip(SkipReason::NotSampled)
        );
        // INITIATED as a trigger: the same contact gets the same answer.
        let left_initiated = config(&[
            ("SAMPLE_PERCENT", &bucket.to_string()),
            ("TRIGGER_EVENT_TYPES", "INITIATED"),
        ]);
        assert_eq!(
            run(&contact_event("INITIATED", "VOICE", "INBOUND"), &left_initiated),
            skip(SkipReason::NotSampled)
        );
        // Direct requests and contact flows name their contact on purpose: never sampled out.
        let none = config(&[("SAMPLE_PERCENT", "0")]);
        assert!(matches!(run(&direct(""), &none), Ok(Plan::Call(_))));
    }

    #[test]
    fn contact_event_needs_event_type_and_channel() {
        let json =
            contact_event("CONNECTED_TO_AGENT", "VOICE", "INBOUND").replace(r#""eventType":"CONNECTED_TO_AGENT","#, "");
        assert!(
            fails(&json, &config(&[]))
                .message
                .contains("detail.eventType is required")
        );
    }

    #[test]
    fn an_event_without_a_supervisor_goes_to_the_pool_with_a_token_without_the_user() {
        let c = pool_config(&[]);
        let t = target(&direct(""), &c);
        assert_eq!(t.supervisor, Supervisor::Pool(PoolRef::Global));
        assert_eq!(t.client_token, client_token::pool_token("e1", INST, CONTACT));
        assert_eq!(t.request("p2".into()).client_token, t.client_token, "whoever is picked");
        // Contact Lens escalations and contact events without a supervisor too.
        let t = target(&contact_event("CONNECTED_TO_AGENT", "VOICE", "INBOUND"), &c);
        assert_eq!(t.supervisor, Supervisor::Pool(PoolRef::Global));
        // A named supervisor keeps the core's rule; pool members are allowed, others are not.
        let r = monitor(&direct(r#""UserId":"p1","#), &c);
        assert_eq!(r.client_token, client_token::client_token("e1", INST, CONTACT, "p1"));
        assert_eq!(
            fails(&direct(&format!(r#""UserId":"{OTHER}","#)), &c).kind,
            ErrorKind::SupervisorNotAllowed
        );
        let c = pool_config(&[("ALLOWED_SUPERVISOR_USER_IDS", OTHER)]);
        assert_eq!(monitor(&direct(&format!(r#""UserId":"{OTHER}","#)), &c).user_id, OTHER);
        // An explicit ClientToken is used as given.
        let t = target(&direct(r#""ClientToken":"mine-1","#), &c);
        assert_eq!(
            (t.supervisor, t.client_token.as_str()),
            (Supervisor::Pool(PoolRef::Global), "mine-1")
        );
        // Skips still come first.
        assert_eq!(
            run(&contact_event("QUEUED", "VOICE", "INBOUND"), &c),
            skip(SkipReason::NotATriggerEvent)
        );
    }

    #[test]
    fn the_live_check_reads_only_what_describe_contact_reported() {
        let c = config(&[("MONITORED_CHANNELS", "VOICE")]);
        let status = |ended: bool, method: Option<&str>, channel: Option<&str>| ContactStatus {
            ended,
            initiation_method: method.map(str::to_owned),
            channel: channel.map(str::to_owned),
        };
        assert_eq!(live_check(&status(false, Some("INBOUND"), Some("VOICE")), &c), None);
        assert_eq!(
            live_check(&status(true, Some("MONITOR"), Some("TASK")), &c),
            Some(SkipReason::ContactEnded),
            "an ended contact first"
        );
        assert_eq!(
            live_check(&status(false, Some("MONITOR"), Some("TASK")), &c),
            Some(SkipReason::MonitorContact),
            "then a monitor"
        );
        assert_eq!(
            live_check(&status(false, Some("INBOUND"), Some("CHAT")), &c),
            Some(SkipReason::ChannelNotMonitored),
            "MONITORED_CHANNELS applies"
        );
        assert_eq!(
            live_check(&status(false, None, None), &c),
            None,
            "what was not reported is left to MonitorContact"
        );
    }

    #[test]
    fn skips_come_before_policy() {
        let c = config(&[("ALLOWED_INSTANCE_IDS", "some-other-instance")]);
        assert_eq!(
            run(&contact_event("QUEUED", "VOICE", "INBOUND"), &c),
            skip(SkipReason::NotATriggerEvent)
        );
        assert_eq!(
            fails(&contact_event("CONNECTED_TO_AGENT", "VOICE", "INBOUND"), &c).kind,
            ErrorKind::InstanceNotAllowed
        );
    }

    #[test]
    fn policy_errors() {
        let c = config(&[]);
        let e = fails(&direct(&format!(r#""UserId":"{OTHER}","#)), &c);
        assert_eq!(e.kind, ErrorKind::SupervisorNotAllowed);
        assert!(e.message.contains("ALLOWED_SUPERVISOR_USER_IDS"));
        let c = config(&[("ALLOWED_SUPERVISOR_USER_IDS", "*")]);
        assert_eq!(monitor(&direct(&format!(r#""UserId":"{OTHER}","#)), &c).user_id, OTHER);
        let e = fails(
            &direct(r#""AllowedMonitorCapabilities":["SILENT_MONITOR","BARGE"],"#),
            &config(&[]),
        );
        assert_eq!(e.kind, ErrorKind::BargeNotAllowed);
        let c = config(&[("ALLOW_BARGE", "true")]);
        let r = monitor(&direct(r#""AllowedMonitorCapabilities":"BARGE","#), &c);
        assert_eq!(r.capabilities, Capabilities::SilentMonitorAndBarge);
        let c = config(&[("ALLOWED_INSTANCE_IDS", "x1,x2")]);
        assert_eq!(fails(&direct(""), &c).kind, ErrorKind::InstanceNotAllowed);
    }

    #[test]
    fn no_supervisor_anywhere() {
        let c = match Config::from_lookup("us-east-1", |n| {
            (n == "ALLOWED_SUPERVISOR_USER_IDS").then(|| "*".to_owned())
        }) {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        };
        let e = fails(&direct(""), &c);
        assert_eq!(e.kind, ErrorKind::InvalidEvent);
        assert!(e.message.contains("DEFAULT_SUPERVISOR_USER_ID"));
    }

    #[test]
    fn instance_region_must_match() {
        let json = format!(
            r#"{{"InstanceArn":"arn:aws:connect:eu-west-2:111122223333:instance/{INST}","ContactId":"{CONTACT}"}}"#
        );
        let e = fails(&json, &config(&[]));
        assert!(
            e.message
                .contains("InstanceArn names an instance in eu-west-2 but the function runs in us-east-1"),
            "{e}"
        );
    }

    fn contact_lens(contact_arn: &str, instance_arn: &str, rule: &str) -> String {
        format!(
            r#"{{"version":"0","id":"cl-1","detail-type":"Contact Lens Realtime Rules Matched","source":"aws.connect",
            "detail":{{"ruleName":"{rule}","contactArn":"{contact_arn}","instanceArn":"{instance_arn}"}}}}"#
        )
    }

    #[test]
    fn contact_lens_events_take_instance_and_contact_from_the_contact_arn() {
        let c = config(&[]);
        let instance_arn = format!("arn:aws:connect:us-east-1:111122223333:instance/{INST}");
        let arn = format!("{instance_arn}/contact/{CONTACT}");
        let json = contact_lens(&arn, &instance_arn, "Customer upset");
        let v = validate(&read(&json).unwrap_or_else(|e| panic!("{e}")), &c).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((v.instance_id.as_str(), v.contact_id.as_str()), (INST, CONTACT));
        assert_eq!(v.rule_name.as_deref(), Some("Customer upset"));
        let r = monitor(&json, &c);
        assert_eq!(r.client_token, client_token::contact_token(INST, CONTACT, SUP));
        // Escalations are never sampled out.
        assert!(matches!(
            run(&json, &config(&[("SAMPLE_PERCENT", "0")])),
            Ok(Plan::Call(_))
        ));
        let other = format!("arn:aws:connect:us-east-1:111122223333:instance/{OTHER}");
        assert!(
            fails(&contact_lens(&arn, &other, "r"), &c)
                .message
                .contains("name different instances")
        );
        let e = fails(&contact_lens("c", &instance_arn, "r"), &c);
        assert!(
            e.message
                .contains("detail.contactArn must be an Amazon Connect contact ARN"),
            "{e}"
        );
        assert!(
            fails(&contact_lens(&arn, &instance_arn, " "), &c)
                .message
                .contains("detail.ruleName must not be empty")
        );
        let elsewhere = arn.replace("us-east-1", "eu-west-2");
        let json = contact_lens(&elsewhere, "", "r").replace(r#","instanceArn":"""#, "");
        let e = fails(&json, &c);
        assert!(
            e.message.contains("detail.contactArn names an instance in eu-west-2"),
            "{e}"
        );
    }

    #[test]
    fn field_errors_name_the_field_and_the_rule() {
        let c = config(&[]);
        let cases: &[(&str, &str)] = &[
            (r#"{"ContactId":"c"}"#, "InstanceId is required"),
            (r#"{"InstanceId":"i","ContactId":""}"#, "ContactId must not be empty"),
            (
                r#"{"InstanceId":"i","ContactId":12}"#,
                "ContactId must be a string, got a number",
            ),
            (
                r#"{"InstanceId":"i","ContactId":["a"]}"#,
                "ContactId must be a string, got an array",
            ),
            (
                r#"{"InstanceId":"i/..","ContactId":"c"}"#,
                "InstanceId may contain only",
            ),
            (
                r#"{"InstanceId":"i","ContactId":"c","UserId":"+15551234567"}"#,
                "UserId may contain only",
            ),
            (
                r#"{"InstanceId":"i","ContactId":"c","UserId":true}"#,
                "UserId must be a string, got a boolean",
            ),
            (
                r#"{"InstanceId":"i","ContactId":"c","EventId":"a b"}"#,
                "EventId may contain only visible ASCII",
            ),
            (
                r#"{"InstanceId":"i","ContactId":"c","AllowedMonitorCapabilities":{}}"#,
                "AllowedMonitorCapabilities must be an array of strings or a comma-separated string, got an object",
            ),
            (
                r#"{"InstanceId":"i","ContactId":"c","AllowedMonitorCapabilities":["LISTEN"]}"#,
                "AllowedMonitorCapabilities entry 1 is not a monitor capability",
            ),
            (
                r#"{"InstanceId":"i","ContactId":"c","AllowedMonitorCapabilities":["BARGE","BARGE"]}"#,
                "more than once",
            ),
            (
                r#"{"InstanceId":"i","InstanceArn":"arn:x","ContactId":"c"}"#,
                "InstanceId or InstanceArn, not both",
            ),
            (
                r#"{"InstanceArn":"arn:aws:connect:us-east-1:111122223333:queue/q","ContactId":"c"}"#,
                "InstanceArn must be an instance ID or an Amazon Connect instance ARN",
            ),
            (
                r#"{"Details":{"ContactData":{"ContactId":"c"}}}"#,
                "Details.ContactData.InstanceARN is required",
            ),
            (
                r#"{"id":"e","detail-type":"Custom","detail":{"InstanceId":"i"}}"#,
                "detail.ContactId is required",
            ),
        ];
        for (json, expected) in cases {
            let e = fails(json, &c);
            assert_eq!(e.kind, ErrorKind::InvalidEvent, "{json}");
            assert!(e.message.contains(expected), "{json}: {e}");
            assert!(!e.message.contains("555"), "{json}: the message must not echo values");
        }
    }

    #[test]
    fn contact_flow_rules() {
        let c = config(&[]);
        let flow = |method: &str, params: &str| {
            format!(
                r#"{{"Name":"ContactFlowEvent","Details":{{"ContactData":{{"ContactId":"{CONTACT}","InitiationMethod":"{method}",
                "InstanceARN":"arn:aws:connect:us-east-1:111122223333:instance/{INST}","CustomerEndpoint":null}},"Parameters":{{{params}}}}}}}"#
            )
        };
        let r = monitor(&flow("INBOUND", ""), &c);
        assert_eq!(
            r.client_token,
            client_token::client_token(CONTACT, INST, CONTACT, SUP),
            "event ID defaults to the ContactId"
        );
        let r = monitor(
            &flow(
                "INBOUND",
                r#""EventId":"flow-1","AllowedMonitorCapabilities":"SILENT_MONITOR""#,
            ),
            &c,
        );
        assert_eq!(r.client_token, client_token::client_token("flow-1", INST, CONTACT, SUP));
        assert_eq!(r.capabilities, Capabilities::SilentMonitor);
        // Parameters filled from unset contact attributes arrive empty: the defaults apply.
        let r = monitor(
            &flow(
                "INBOUND",
                r#""AllowedMonitorCapabilities":"","SupervisorUserId":"","EventId":"""#,
            ),
            &c,
        );
        assert_eq!(
            (r.user_id.as_str(), r.capabilities, r.client_token),
            (
                SUP,
                Capabilities::SilentMonitor,
                client_token::client_token(CONTACT, INST, CONTACT, SUP)
            )
        );
        // Direct invocations keep empty values as errors.
        let e = fails(&direct(r#""UserId":"","#), &c);
        assert!(e.message.contains("UserId must not be empty"), "{e}");
        let e = fails(&direct(r#""AllowedMonitorCapabilities":"","#), &c);
        assert!(
            e.message.contains("AllowedMonitorCapabilities must not be empty"),
            "{e}"
        );
        assert_eq!(run(&flow("MONITOR", ""), &c), skip(SkipReason::MonitorContact));
        let e = fails(&flow("INBOUND", &format!(r#""SupervisorUserId":"{OTHER}""#)), &c);
        assert_eq!(e.kind, ErrorKind::SupervisorNotAllowed);
    }

    fn contact_event_with(event_type: &str, extra: &str) -> String {
        format!(
            r#"{{"version":"0","id":"ev-{event_type}","detail-type":"Amazon Connect Contact Event","source":"aws.connect",
            "time":"2026-11-18T18:40:00Z",
            "detail":{{"eventType":"{event_type}","channel":"VOICE","initiationMethod":"INBOUND","contactId":"{CONTACT}",
            "instanceArn":"arn:aws:connect:us-east-1:111122223333:instance/{INST}"{extra}}}}}"#
        )
    }

    #[test]
    fn connects_own_events_share_one_token_per_monitor() {
        let c = config(&[("TRIGGER_EVENT_TYPES", "INITIATED,CONNECTED_TO_AGENT")]);
        let initiated = target(&contact_event_with("INITIATED", ""), &c);
        let connected = target(&contact_event_with("CONNECTED_TO_AGENT", ""), &c);
        assert_ne!(initiated.event_id, connected.event_id);
        assert_eq!(
            initiated.client_token, connected.client_token,
            "one monitor for the contact"
        );
        assert_eq!(initiated.client_token, client_token::contact_token(INST, CONTACT, SUP));
        assert!(initiated.contact_scoped);
        // Two Contact Lens rules on one contact: one token, and the same as QA's for the same user.
        let arn = format!("arn:aws:connect:us-east-1:111122223333:instance/{INST}/contact/{CONTACT}");
        let upset = target(&contact_lens(&arn, "", "upset").replace(r#","instanceArn":"""#, ""), &c);
        let manager = target(
            &contact_lens(&arn, "", "manager")
                .replace(r#","instanceArn":"""#, "")
                .replace("cl-1", "cl-2"),
            &c,
        );
        assert_eq!(upset.client_token, manager.client_token);
        assert_eq!(upset.client_token, initiated.client_token);
        // With a pool: one pool-picked monitor per purpose.
        let p = pool_config(&[]);
        let qa = target(&contact_event_with("CONNECTED_TO_AGENT", ""), &p);
        let escalation = target(&contact_lens(&arn, "", "upset").replace(r#","instanceArn":"""#, ""), &p);
        assert_eq!(
            qa.client_token,
            client_token::contact_pool_token(INST, CONTACT, Purpose::Qa)
        );
        assert_eq!(
            escalation.client_token,
            client_token::contact_pool_token(INST, CONTACT, Purpose::Escalation)
        );
        assert_eq!(
            qa.rank(),
            Rank::Monitor {
                instance_id: INST,
                contact_id: CONTACT,
                purpose: Purpose::Qa
            }
        );
        // Custom events and direct requests keep the event's token, and rank by the event.
        let direct_pool = target(&direct(""), &p);
        assert_eq!(direct_pool.client_token, client_token::pool_token("e1", INST, CONTACT));
        assert_eq!(direct_pool.rank(), Rank::Event("e1"));
        assert!(!direct_pool.contact_scoped);
        let custom = format!(
            r#"{{"id":"ev-9","detail-type":"QA","source":"qa","time":"2026-11-18T18:40:00Z","detail":{{"InstanceId":"{INST}","ContactId":"{CONTACT}"}}}}"#
        );
        assert_eq!(
            target(&custom, &c).client_token,
            client_token::client_token("ev-9", INST, CONTACT, SUP)
        );
    }

    #[test]
    fn events_too_old_are_skipped_before_any_call() {
        // now() is 2026-11-18T18:41:00Z: the samples' events are a minute old.
        let at = |time: &str| contact_event_with("CONNECTED_TO_AGENT", "").replace("2026-11-18T18:40:00Z", time);
        let c = config(&[("MAX_EVENT_AGE_SECONDS", "60")]);
        assert!(
            matches!(run(&at("2026-11-18T18:40:00Z"), &c), Ok(Plan::Call(_))),
            "exactly the limit"
        );
        assert_eq!(run(&at("2026-11-18T18:39:59Z"), &c), skip(SkipReason::EventTooOld));
        assert!(
            matches!(run(&at("2026-11-18T18:45:00Z"), &c), Ok(Plan::Call(_))),
            "a time in the future (clock skew) is not too old"
        );
        assert!(matches!(
            run(&at("2026-11-18T18:40:00.500+00:00"), &c),
            Ok(Plan::Call(_))
        ));
        let off = config(&[("MAX_EVENT_AGE_SECONDS", "0")]);
        assert!(matches!(run(&at("2000-01-01T00:00:00Z"), &off), Ok(Plan::Call(_))));
        // The default is 300 s, and it covers every EventBridge source.
        let defaults = config(&[]);
        assert_eq!(
            run(&at("2026-11-18T18:35:59Z"), &defaults),
            skip(SkipReason::EventTooOld)
        );
        let custom = |time: &str| {
            format!(
                r#"{{"id":"ev-9","detail-type":"QA","source":"qa","time":"{time}","detail":{{"InstanceId":"{INST}","ContactId":"{CONTACT}"}}}}"#
            )
        };
        assert_eq!(
            run(&custom("2026-11-18T18:30:00Z"), &defaults),
            skip(SkipReason::EventTooOld)
        );
        // The event's own skip rules come first; sampling and policy after.
        let queued = at("2000-01-01T00:00:00Z").replace("CONNECTED_TO_AGENT", "QUEUED");
        assert_eq!(run(&queued, &defaults), skip(SkipReason::NotATriggerEvent));
        let elsewhere = config(&[("ALLOWED_INSTANCE_IDS", "other")]);
        assert_eq!(
            run(&at("2000-01-01T00:00:00Z"), &elsewhere),
            skip(SkipReason::EventTooOld)
        );
        // A time that is not one is an error naming the field; a missing one has no age.
        let e = fails(&at("yesterday"), &defaults);
        assert!(e.message.contains("time must be an RFC 3339 date-time"), "{e}");
        let untimed = at("x").replace(r#""time":"x","#, "");
        assert!(matches!(run(&untimed, &defaults), Ok(Plan::Call(_))));
    }

    #[test]
    fn channels_in_any_case_and_agent_and_queue_arns() {
        let c = config(&[("MONITORED_CHANNELS", "VOICE")]);
        let voice = contact_event_with("CONNECTED_TO_AGENT", "").replace("\"VOICE\"", "\"Voice\"");
        assert!(matches!(run(&voice, &c), Ok(Plan::Call(_))));
        let chat = voice.replace("\"Voice\"", "\"chat\"");
        assert_eq!(run(&chat, &c), skip(SkipReason::ChannelNotMonitored));
        let arns = format!(
            r#","agentInfo":{{"agentArn":"arn:aws:connect:us-east-1:111122223333:instance/{INST}/agent/{SUP}"}},
            "queueInfo":{{"queueArn":"arn:aws:connect:us-east-1:111122223333:instance/{INST}/queue/q-1"}}"#
        );
        let v = validate(
            &read(&contact_event_with("CONNECTED_TO_AGENT", &arns)).unwrap_or_else(|e| panic!("{e}")),
            &c,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let facts = v.contact_event.unwrap_or_else(|| panic!("facts"));
        assert_eq!(
            (facts.agent_id.as_deref(), facts.queue_id.as_deref()),
            (Some(SUP), Some("q-1"))
        );
        let bad = contact_event_with("CONNECTED_TO_AGENT", r#","agentInfo":{"agentArn":"+15551234567"}"#);
        let e = fails(&bad, &c);
        assert!(
            e.message
                .contains("detail.agentInfo.agentArn must be an Amazon Connect agent ARN")
                && !e.message.contains("555"),
            "{e}"
        );
    }

    fn qa_config(rules: &str, extra: &[(&str, &str)]) -> Config {
        load(&[("SUPERVISOR_POOL_USER_IDS", "p1,p2"), ("QA_RULES", rules)], extra)
    }

    #[test]
    fn qa_rules_decide_for_contact_events_only() {
        let agent = |id: &str| {
            format!(
                r#","agentInfo":{{"agentArn":"arn:aws:connect:us-east-1:111122223333:instance/{INST}/agent/{id}"}}"#
            )
        };
        let rules = r#"[
            {"name": "new-hires", "agents": ["a-new"], "percent": 100, "supervisors": ["coach"]},
            {"name": "nobody", "agents": ["a-none"], "percent": 0},
            {"name": "the-rest-of-voice", "channels": ["voice"], "percent": 100}
        ]"#;
        let c = qa_config(rules, &[]);
        let new_hire = target(&contact_event_with("CONNECTED_TO_AGENT", &agent("a-new")), &c);
        assert_eq!(new_hire.qa_rule.as_deref(), Some("new-hires"));
        assert_eq!(
            new_hire.supervisor,
            Supervisor::Pool(PoolRef::Rule(0)),
            "the rule's own pool"
        );
        assert_eq!(PoolRef::Rule(0).members(&c), ["coach".to_owned()]);
        assert_eq!(
            new_hire.client_token,
            client_token::contact_pool_token(INST, CONTACT, Purpose::Qa)
        );
        let other = target(&contact_event_with("CONNECTED_TO_AGENT", &agent("a-old")), &c);
        assert_eq!(other.qa_rule.as_deref(), Some("the-rest-of-voice"));
        assert_eq!(
            other.supervisor,
            Supervisor::Pool(PoolRef::Global),
            "the function's pool"
        );
        assert_eq!(
            run(&contact_event_with("CONNECTED_TO_AGENT", &agent("a-none")), &c),
            Ok(Plan::Done(Outcome::Skipped {
                reason: SkipReason::NotSampled,
                contact_id: CONTACT.into(),
                qa_rule: Some("nobody".into())
            })),
            "percent 0: the rule decides, the next is not tried"
        );
        let chat = contact_event_with("CONNECTED_TO_AGENT", &agent("a-old")).replace("\"VOICE\"", "\"CHAT\"");
        assert_eq!(run(&chat, &c), skip(SkipReason::NoMatchingRule));
        // The coach is an allowed supervisor; escalations, flows and direct requests ignore the rules.
        assert!(c.supervisor_allowed("coach"));
        let arn = format!("arn:aws:connect:us-east-1:111122223333:instance/{INST}/contact/{CONTACT}");
        let escalation = target(&contact_lens(&arn, "", "upset").replace(r#","instanceArn":"""#, ""), &c);
        assert_eq!(
            (escalation.qa_rule, escalation.supervisor),
            (None, Supervisor::Pool(PoolRef::Global))
        );
        assert_eq!(target(&direct(""), &c).qa_rule, None);
        // Sampled per contact, as SAMPLE_PERCENT: the same answer for every event of the contact.
        let bucket = sampling::bucket(CONTACT);
        let rules = format!(r#"[{{"name": "some", "percent": {bucket}}}]"#);
        let c = qa_config(&rules, &[("TRIGGER_EVENT_TYPES", "INITIATED,CONNECTED_TO_AGENT")]);
        for event_type in ["INITIATED", "CONNECTED_TO_AGENT"] {
            assert_eq!(
                run(&contact_event_with(event_type, ""), &c),
                Ok(Plan::Done(Outcome::Skipped {
                    reason: SkipReason::NotSampled,
                    contact_id: CONTACT.into(),
                    qa_rule: Some("some".into())
                }))
            );
        }
        let rules = format!(r#"[{{"name": "some", "percent": {}}}]"#, bucket + 1);
        let c = qa_config(&rules, &[]);
        assert!(matches!(
            run(&contact_event_with("CONNECTED_TO_AGENT", ""), &c),
            Ok(Plan::Call(_))
        ));
    }

    /// `agentInfo` with the agent `a1` in `groups` (one per level, from level 1), as a contact event's
    /// detail carries it.
    fn agent_in(groups: &[&str]) -> String {
        let levels: Vec<String> = groups
            .iter()
            .enumerate()
            .map(|(index, id)| {
                format!(
                    r#""level{}":{{"arn":"arn:aws:connect:us-east-1:111122223333:instance/{INST}/agent-group/{id}"}}"#,
                    index + 1
                )
            })
            .collect();
        format!(
            r#","agentInfo":{{"agentArn":"arn:aws:connect:us-east-1:111122223333:instance/{INST}/agent/a1","hierarchyGroups":{{{}}}}}"#,
            levels.join(",")
        )
    }

    fn facts_of(json: &str, c: &Config) -> ContactFacts {
        validate(&read(json).unwrap_or_else(|e| panic!("{e}")), c)
            .unwrap_or_else(|e| panic!("{e}"))
            .contact_event
            .unwrap_or_else(|| panic!("facts"))
    }

    #[test]
    fn contact_facts_carry_the_groups_the_team_and_the_time() {
        let c = config(&[]);
        let facts = facts_of(
            &contact_event_with("CONNECTED_TO_AGENT", &agent_in(&["company", "site", "team-7"])),
            &c,
        );
        assert_eq!(facts.hierarchy_groups, ["company", "site", "team-7"]);
        assert_eq!(facts.team.as_deref(), Some("team-7"), "the deepest level");
        assert_eq!(facts.agent_id.as_deref(), Some("a1"));
        assert_eq!(facts.event_type, "CONNECTED_TO_AGENT");
        assert_eq!(facts.time, "2026-11-18T18:40:00Z".parse().ok());
        // Levels the event leaves out or sends as null are skipped; the team is the deepest given.
        let sparse = contact_event_with(
            "CONNECTED_TO_AGENT",
            &format!(
                r#","agentInfo":{{"hierarchyGroups":{{"level1":{{"arn":"arn:aws:connect:us-east-1:111122223333:instance/{INST}/agent-group/g1"}},
                "level2":null,"level3":{{}},"level4":{{"arn":"arn:aws:connect:us-east-1:111122223333:instance/{INST}/agent-group/g4"}}}}}}"#
            ),
        );
        let facts = facts_of(&sparse, &c);
        assert_eq!(
            (facts.hierarchy_groups, facts.team.as_deref()),
            (vec!["g1".to_owned(), "g4".to_owned()], Some("g4"))
        );
        // No groups, no agent info, no time.
        for json in [
            contact_event_with("CONNECTED_TO_AGENT", &agent_in(&[])),
            contact_event_with("CONNECTED_TO_AGENT", r#","agentInfo":{"hierarchyGroups":null}"#),
            contact_event("CONNECTED_TO_AGENT", "VOICE", "INBOUND"),
        ] {
            let facts = facts_of(&json, &c);
            assert!(facts.hierarchy_groups.is_empty() && facts.team.is_none(), "{json}");
        }
        assert_eq!(
            facts_of(&contact_event("CONNECTED_TO_AGENT", "VOICE", "INBOUND"), &c).time,
            None
        );
    }

    #[test]
    fn hierarchy_group_arns_are_checked_like_the_agent_and_queue_arns() {
        let c = config(&[]);
        let bad = contact_event_with(
            "CONNECTED_TO_AGENT",
            r#","agentInfo":{"hierarchyGroups":{"level2":{"arn":"+15551234567"}}}"#,
        );
        let e = fails(&bad, &c);
        assert_eq!(e.kind, ErrorKind::InvalidEvent);
        assert!(
            e.message
                .contains("detail.agentInfo.hierarchyGroups.level2.arn must be an Amazon Connect agent-group ARN")
                && !e.message.contains("555"),
            "{e}"
        );
        let queue_arn = contact_event_with(
            "CONNECTED_TO_AGENT",
            &format!(
                r#","agentInfo":{{"hierarchyGroups":{{"level1":{{"arn":"arn:aws:connect:us-east-1:111122223333:instance/{INST}/queue/q"}}}}}}"#
            ),
        );
        assert!(
            fails(&queue_arn, &c)
                .message
                .contains("level1.arn must be an Amazon Connect agent-group ARN")
        );
        for (extra, expected) in [
            (
                r#","agentInfo":{"hierarchyGroups":{"level1":{"arn":7}}}"#,
                "level1.arn must be a string, got a number",
            ),
            (
                r#","agentInfo":{"hierarchyGroups":{"level3":"g"}}"#,
                "detail.agentInfo.hierarchyGroups.level3 must be an object, got a string",
            ),
            (
                r#","agentInfo":{"hierarchyGroups":["g"]}"#,
                "detail.agentInfo.hierarchyGroups must be an object, got an array",
            ),
        ] {
            let e = fails(&contact_event_with("CONNECTED_TO_AGENT", extra), &c);
            assert!(
                e.kind == ErrorKind::InvalidEvent && e.message.contains(expected),
                "{extra}: {e}"
            );
        }
    }

    #[test]
    fn qa_rules_by_team() {
        let group_arn = format!("arn:aws:connect:us-east-1:111122223333:instance/{INST}/agent-group/team-b");
        let rules = format!(
            r#"[{{"name": "team-a", "hierarchyGroups": ["team-a"], "percent": 100}},
                {{"name": "team-b", "hierarchyGroups": ["{group_arn}"], "percent": 100, "supervisors": ["coach"]}}]"#
        );
        let c = qa_config(&rules, &[]);
        let decided = |groups: &[&str]| run(&contact_event_with("CONNECTED_TO_AGENT", &agent_in(groups)), &c);
        let rule_of = |plan: Result<Plan, MonitorError>| match plan {
            Ok(Plan::Call(target)) => target.qa_rule,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            rule_of(decided(&["company", "team-a"])),
            Some("team-a".into()),
            "level 2"
        );
        assert_eq!(rule_of(decided(&["team-b"])), Some("team-b".into()), "by ARN, level 1");
        assert_eq!(decided(&["company", "team-c"]), skip(SkipReason::NoMatchingRule));
        assert_eq!(decided(&[]), skip(SkipReason::NoMatchingRule), "no groups: no match");
    }

    #[test]
    fn a_quota_per_agent_does_not_match_an_event_without_an_agent() {
        let rules = r#"[{"name": "weekly", "perAgent": {"count": 3, "per": "week"}},
                        {"name": "rest", "percent": 100}]"#;
        let c = qa_config(
            rules,
            &[
                ("QA_STATE_TABLE", "qa-state"),
                ("TRIGGER_EVENT_TYPES", "INITIATED,CONNECTED_TO_AGENT"),
            ],
        );
        let with_agent = target(&contact_event_with("CONNECTED_TO_AGENT", &agent_in(&["g"])), &c);
        assert_eq!(with_agent.qa_rule.as_deref(), Some("weekly"), "percent 100 by default");
        let without = target(&contact_event_with("INITIATED", ""), &c);
        assert_eq!(without.qa_rule.as_deref(), Some("rest"));
    }

    #[test]
    fn a_quota_rule_gives_its_target_a_ticket_at_the_events_time_in_the_zone() {
        let rules = r#"[{"name": "weekly", "perAgent": {"count": 3, "per": "week"},
                         "perReviewer": {"count": 20, "per": "day"}, "supervisors": ["coach"]}]"#;
        let c = qa_config(
            rules,
            &[
                ("QA_STATE_TABLE", "qa-state"),
                ("QA_TIME_ZONE", "America/New_York"),
                ("QA_RECORD_DAYS", "30"),
            ],
        );
        // Wednesday 2026-11-18 18:40Z is 13:40 in New York: the second of three weekly slots (Wednesday
        // 08:00) is open, the third (Friday 16:00) is not.
        let t = target(
            &contact_event_with("CONNECTED_TO_AGENT", &agent_in(&["company", "team-b"])),
            &c,
        );
        let ticket = t.quota.expect("a quota rule's target has a ticket");
        assert_eq!(ticket.rule, "weekly");
        assert_eq!(ticket.agent, "a1");
        assert_eq!(
            ticket.per_agent,
            Some(Slots {
                period: "2026-11-16T00:00:00-05:00".into(),
                open: 2,
                count: 3
            })
        );
        assert_eq!(
            ticket.per_reviewer,
            Some(Slots {
                period: "2026-11-18T00:00:00-05:00".into(),
                open: 20,
                count: 20
            }),
            "a reviewer's limit is whole from the period's start"
        );
        assert_eq!(ticket.event_type, "CONNECTED_TO_AGENT");
        assert_eq!(ticket.event_time, "2026-11-18T18:40:00Z");
        assert_eq!(
            (ticket.day.as_str(), ticket.team.as_deref()),
            ("2026-11-18", Some("team-b"))
        );
        assert_eq!(ticket.expires, 1_795_027_200 + 30 * 86_400);
        let plain = qa_config(r#"[{"name": "all", "percent": 100}]"#, &[]);
        let t = target(
            &contact_event_with("CONNECTED_TO_AGENT", &agent_in(&["team-b"])),
            &plain,
        );
        assert_eq!(t.quota, None, "no quota, no ticket");
    }
}

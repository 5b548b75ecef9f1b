//! The week: agents in teams, their schedules, their calls, and the event EventBridge sends about each.
//!
//! Times are seconds from the week's start (Monday 00:00 in the QA time zone). Everything is drawn
//! from the seed, so two runs (and two machines) get the same week.

use serde_json::{Value, json};

use crate::rng::Rng;
use crate::time::iso8601_secs;
use crate::{ACCOUNT, INSTANCE, SAMPLE, Settings};

pub(crate) const DAY: u64 = 86_400;
pub(crate) const WEEK: u64 = 7 * DAY;
pub(crate) const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// The center's calls by hour of the day, relative: quiet at night, a mid-morning and a mid-afternoon
/// peak, a dip at lunch. An agent's calls fall in their shift's hours with these weights.
pub(crate) const HOURLY: [f64; 24] = [
    0.2, 0.1, 0.1, 0.1, 0.1, 0.2, 0.3, 0.6, 1.0, 1.5, 2.0, 1.8, 1.1, 1.3, 1.9, 1.8, 1.3, 0.9, 0.7, 0.5, 0.4, 0.3, 0.2,
    0.2,
];

/// When an agent works.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Schedule {
    /// Days of the week worked (0 = Monday).
    pub(crate) days: Vec<u64>,
    /// The shift's hours, [start, end).
    pub(crate) hours: (u64, u64),
    /// How the schedule is described in the report.
    pub(crate) kind: &'static str,
}

#[derive(Debug, Clone)]
pub(crate) struct Agent {
    pub(crate) id: String,
    pub(crate) team: usize,
    pub(crate) schedule: Schedule,
    /// Their contacts, as indexes into [`Week::contacts`], in time order.
    pub(crate) contacts: Vec<usize>,
}

#[derive(Debug, Clone)]
pub(crate) struct Contact {
    pub(crate) id: String,
    /// The event's ID.
    pub(crate) event_id: String,
    pub(crate) agent: usize,
    /// Connected to the agent (the event's `time`), from the week's start.
    pub(crate) at: u64,
    /// How long the call lasts after that.
    pub(crate) duration: u64,
}

pub(crate) struct Week {
    /// Monday 00:00 of the week in the QA time zone, in seconds since the epoch.
    pub(crate) start: u64,
    pub(crate) agents: Vec<Agent>,
    /// Each team's agent-group ID (the deepest level of the agents' hierarchy).
    pub(crate) teams: Vec<String>,
    /// The level above the teams: the whole center.
    pub(crate) center: String,
    pub(crate) reviewers: Vec<String>,
    /// Every contact, in time order.
    pub(crate) contacts: Vec<Contact>,
}

/// One agent's schedule: most work Monday to Friday, some five days that include the weekend, some
/// part time (two or three days in a row, anywhere in the week).
fn schedule(rng: &mut Rng) -> Schedule {
    let shift = |rng: &mut Rng| match rng.whole(0, 2) {
        0 => (7, 15),
        1 => (9, 17),
        _ => (12, 20),
    };
    let draw = rng.unit();
    if draw < 0.70 {
        Schedule {
            days: (0..5).collect(),
            hours: shift(rng),
            kind: "Mon-Fri",
        }
    } else if draw < 0.85 {
        // Five days in a row that take in the weekend, starting Wednesday or Thursday.
        let first = rng.whole(2, 3);
        Schedule {
            days: (first..first + 5).map(|d| d % 7).collect(),
            hours: shift(rng),
            kind: "weekends",
        }
    } else {
        let length = rng.whole(2, 3);
        let first = rng.whole(0, 7 - length);
        Schedule {
            days: (first..first + length).collect(),
            hours: (9, 17),
            kind: "part time",
        }
    }
}

pub(crate) fn week(settings: &Settings) -> Week {
    let mut rng = Rng(settings.seed);
    let center = rng.uuid();
    let teams: Vec<String> = (0..settings.teams).map(|_| rng.uuid()).collect();
    // The 12 reviewers come from the week's stream; more (`QA_WEEK_REVIEWERS`) from a stream
    // of their own, so that the agents and their calls stay the same whatever the number of reviewers.
    let mut more = Rng(settings.seed ^ 0x7265_7669_6577_6572);
    let mut reviewers: Vec<String> = (0..12).map(|_| rng.uuid()).collect();
    reviewers.extend((12..settings.reviewers).map(|_| more.uuid()));
    reviewers.truncate(settings.reviewers);
    let mut agents = Vec::with_capacity(settings.agents);
    let mut contacts = Vec::new();
    for n in 0..settings.agents {
        let schedule = schedule(&mut rng);
        let calls = rng.whole(settings.calls.0, settings.calls.1);
        let weights: Vec<f64> = (schedule.hours.0..schedule.hours.1)
            .map(|h| HOURLY[h as usize])
            .collect();
        for _ in 0..calls {
            let day = schedule.days[rng.whole(0, schedule.days.len() as u64 - 1) as usize];
            let hour = schedule.hours.0 + rng.weighted(&weights) as u64;
            let at = day * DAY + hour * 3600 + rng.whole(0, 3599);
            contacts.push(Contact {
                id: rng.uuid(),
                event_id: rng.uuid(),
                agent: n,
                at,
                duration: rng.whole(120, 720),
            });
        }
        agents.push(Agent {
            id: rng.uuid(),
            // Teams of equal size, in order.
            team: n * settings.teams / settings.agents.max(1),
            schedule,
            contacts: Vec::new(),
        });
    }
    contacts.sort_by_key(|c| c.at);
    for (index, contact) in contacts.iter().enumerate() {
        agents[contact.agent].contacts.push(index);
    }
    Week {
        start: settings.week_start,
        agents,
        teams,
        center,
        reviewers,
        contacts,
    }
}

/// When slot `k` (1-based) of `count` per week opens: the week's start plus (k − 1)/count of it.
pub(crate) fn slot_opens(k: u32, count: u32) -> u64 {
    WEEK * u64::from(k.saturating_sub(1)) / u64::from(count.max(1))
}

/// How many of `count` slots calls at these times (in order) could fill, if every call could be
/// monitored: slot k takes the first call at or after it opens that came after the call that filled
/// slot k − 1. An agent whose calls can fill all `count` is one the quota must give exactly `count`.
pub(crate) fn fillable(times: &[u64], count: u32) -> u32 {
    let mut filled = 0;
    for at in times {
        if filled < count && *at >= slot_opens(filled + 1, count) {
            filled += 1;
        }
    }
    filled
}

impl Week {
    pub(crate) fn times(&self, agent: usize) -> Vec<u64> {
        self.agents[agent]
            .contacts
            .iter()
            .map(|c| self.contacts[*c].at)
            .collect()
    }

    /// The agent-group ARN of a group ID.
    pub(crate) fn group_arn(group: &str) -> String {
        format!("arn:aws:connect:us-east-1:{ACCOUNT}:instance/{INSTANCE}/agent-group/{group}")
    }

    /// The EventBridge event about a contact: the sample `CONNECTED_TO_AGENT` event with the contact's
    /// IDs, its time, its agent and the agent's hierarchy groups (the center, then the team).
    pub(crate) fn event(&self, template: &Value, contact: &Contact) -> Value {
        let mut doc = template.clone();
        let instance_arn = format!("arn:aws:connect:us-east-1:{ACCOUNT}:instance/{INSTANCE}");
        let at = self.start + contact.at;
        let before = |seconds: u64| iso8601_secs(at.saturating_sub(seconds), true);
        let agent = &self.agents[contact.agent];
        doc["id"] = json!(contact.event_id);
        doc["time"] = json!(iso8601_secs(at, false));
        doc["resources"] = json!([format!("{instance_arn}/contact/{}", contact.id)]);
        let detail = &mut doc["detail"];
        detail["contactId"] = json!(contact.id);
        detail["initialContactId"] = json!(contact.id);
        detail["instanceArn"] = json!(instance_arn);
        detail["initiationTimestamp"] = json!(before(90));
        detail["connectedToSystemTimestamp"] = json!(before(89));
        detail["queueInfo"]["enqueueTimestamp"] = json!(before(80));
        detail["agentInfo"] = json!({
            "agentArn": format!("{instance_arn}/agent/{}", agent.id),
            "connectedToAgentTimestamp": before(0),
            "hierarchyGroups": {
                "level1": {"arn": Week::group_arn(&self.center)},
                "level2": {"arn": Week::group_arn(&self.teams[agent.team])},
            },
        });
        doc
    }

    /// The week's contacts in SQS batches of `size`, in time order: (first contact, end) ranges.
    pub(crate) fn batches(&self, size: usize) -> Vec<std::ops::Range<usize>> {
        let size = size.max(1);
        (0..self.contacts.len())
            .step_by(size)
            .map(|first| first..(first + size).min(self.contacts.len()))
            .collect()
    }

    /// The template the events are made from.
    pub(crate) fn template() -> Value {
        serde_json::from_str(SAMPLE).unwrap_or(Value::Null)
    }
}

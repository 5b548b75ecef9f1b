//! What exists for the double: instances, contacts, users, and the request quotas ([`Scenario`]).

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use serde::Deserialize;

use super::*;

/// A contact the double knows.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContactSpec {
    #[serde(default = "voice")]
    pub channel: String,
    #[serde(default = "inbound")]
    pub initiation_method: String,
    /// The contact has ended (DescribeContact reports a DisconnectTimestamp).
    #[serde(default)]
    pub ended: bool,
    /// The contact ends this many seconds after it starts: after the double starts, for a contact of
    /// the scenario; after [`ConnectDouble::add_contact`], for one added later. None: it lasts.
    #[serde(default)]
    pub lifetime_seconds: Option<f64>,
}

pub(super) fn voice() -> String {
    "VOICE".into()
}

pub(super) fn inbound() -> String {
    "INBOUND".into()
}

impl ContactSpec {
    /// A live inbound contact on `channel`.
    pub fn live(channel: &str) -> ContactSpec {
        ContactSpec {
            channel: channel.into(),
            initiation_method: inbound(),
            ended: false,
            lifetime_seconds: None,
        }
    }

    /// The same contact, ending `lifetime` after it starts.
    pub fn lasting(mut self, lifetime: Duration) -> ContactSpec {
        self.lifetime_seconds = Some(lifetime.as_secs_f64());
        self
    }

    pub(super) fn lifetime(&self) -> Option<Duration> {
        self.lifetime_seconds.and_then(|s| Duration::try_from_secs_f64(s).ok())
    }
}

/// A user the double knows.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct User {
    /// Logged in to the CCP (GetCurrentUserData reports only users who are).
    pub logged_in: bool,
    /// Contacts this user is monitoring already (besides those the double starts).
    #[serde(default)]
    pub monitoring: u32,
    /// Customer contacts this user is handling as an agent (not monitors).
    #[serde(default)]
    pub handling: u32,
}

impl User {
    /// Logged in, monitoring nothing, handling nothing.
    pub fn free() -> User {
        User {
            logged_in: true,
            monitoring: 0,
            handling: 0,
        }
    }
}

/// What exists. `None` for a set means "any well-formed ID exists": a contact as a live inbound voice
/// contact, a user as logged in and monitoring nothing.
///
/// As JSON (see `tests/scenarios/`), every key optional:
///
/// ```json
/// { "instances": ["<instance id>"],
///   "contacts": { "<contact id>": { "channel": "VOICE", "initiationMethod": "INBOUND", "ended": false,
///                                   "lifetimeSeconds": 30 } },
///   "users": { "<user id>": { "loggedIn": true, "monitoring": 0, "handling": 1 } },
///   "maxMonitorsPerUser": 1,
///   "quotas": { "rate": 2, "burst": 5, "GetCurrentUserData": { "rate": 5, "burst": 8 } } }
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Scenario {
    #[serde(default)]
    pub instances: Option<HashSet<String>>,
    #[serde(default)]
    pub contacts: Option<HashMap<String, ContactSpec>>,
    #[serde(default)]
    pub users: Option<HashMap<String, User>>,
    /// How many contacts one user may monitor at once.
    #[serde(default = "unlimited", rename = "maxMonitorsPerUser")]
    pub max_monitors: u32,
    /// Request quotas per API; none: unlimited.
    #[serde(default)]
    pub quotas: Option<Quotas>,
}

/// One API's quota: a token bucket of `burst` requests, refilled at `rate` per second (full at start).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quota {
    pub rate: f64,
    pub burst: f64,
}

impl Quota {
    pub(super) fn check(&self, name: &str) -> Result<(), String> {
        if !(self.rate.is_finite() && self.rate > 0.0 && self.burst.is_finite() && self.burst >= 1.0) {
            return Err(format!("quota {name}: rate must be > 0 and burst >= 1"));
        }
        Ok(())
    }
}

/// Quotas for every API (`rate` and `burst` at the top), per operation (by name), or both (the
/// operation's own wins).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quotas {
    #[serde(default)]
    pub rate: Option<f64>,
    #[serde(default)]
    pub burst: Option<f64>,
    #[serde(default, rename = "MonitorContact")]
    pub monitor_contact: Option<Quota>,
    #[serde(default, rename = "DescribeContact")]
    pub describe_contact: Option<Quota>,
    #[serde(default, rename = "GetCurrentUserData")]
    pub get_current_user_data: Option<Quota>,
}

impl Quotas {
    /// The same quota for every API (Connect's default is 2 per second, burst 5, per account and
    /// region, for each of the three).
    pub fn every_api(rate: f64, burst: f64) -> Quotas {
        Quotas {
            rate: Some(rate),
            burst: Some(burst),
            ..Quotas::default()
        }
    }

    /// The quota of `operation`, if it has one.
    pub fn of(&self, operation: &str) -> Option<Quota> {
        let own = match operation {
            MONITOR_CONTACT => self.monitor_contact,
            DESCRIBE_CONTACT => self.describe_contact,
            GET_CURRENT_USER_DATA => self.get_current_user_data,
            _ => None,
        };
        let every = match (self.rate, self.burst) {
            (Some(rate), Some(burst)) => Some(Quota { rate, burst }),
            _ => None,
        };
        own.or(every)
    }

    pub(super) fn check(&self) -> Result<(), String> {
        if self.rate.is_some() != self.burst.is_some() {
            return Err("quotas: give both rate and burst, or neither".into());
        }
        for operation in [MONITOR_CONTACT, DESCRIBE_CONTACT, GET_CURRENT_USER_DATA] {
            if let Some(quota) = self.of(operation) {
                quota.check(operation)?;
            }
        }
        Ok(())
    }
}

pub(super) fn unlimited() -> u32 {
    u32::MAX
}

impl Default for Scenario {
    fn default() -> Scenario {
        Scenario::open()
    }
}

impl Scenario {
    /// Any well-formed instance, contact and user exists; every user is logged in and free.
    pub fn open() -> Scenario {
        Scenario {
            instances: None,
            contacts: None,
            users: None,
            max_monitors: u32::MAX,
            quotas: None,
        }
    }

    /// One instance whose only users are `supervisors`, logged in and free, each monitoring at most
    /// `max_monitors` contacts at once; contacts only as they are added (the benchmarks' shape).
    pub fn supervisors(instance: &str, supervisors: &[String], max_monitors: u32) -> Scenario {
        Scenario {
            instances: Some([instance.to_owned()].into_iter().collect()),
            contacts: Some(HashMap::new()),
            users: Some(supervisors.iter().map(|id| (id.clone(), User::free())).collect()),
            max_monitors,
            quotas: None,
        }
    }

    /// A scenario from its JSON text.
    pub fn from_json(text: &str) -> Result<Scenario, String> {
        let scenario: Scenario = serde_json::from_str(text).map_err(|e| format!("not a scenario: {e}"))?;
        scenario.check().map_err(|e| format!("not a scenario: {e}"))?;
        Ok(scenario)
    }

    /// A scenario from a JSON file.
    pub fn from_file(path: &str) -> Result<Scenario, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
        Scenario::from_json(&text).map_err(|e| format!("{path}: {e}"))
    }

    /// What JSON cannot say wrong by its types alone: quotas and lifetimes in range.
    pub fn check(&self) -> Result<(), String> {
        if let Some(quotas) = &self.quotas {
            quotas.check()?;
        }
        for (id, contact) in self.contacts.iter().flatten() {
            if contact.lifetime_seconds.is_some() && contact.lifetime().is_none() {
                return Err(format!(
                    "contact {id}: lifetimeSeconds must be a number of seconds >= 0"
                ));
            }
        }
        Ok(())
    }
}

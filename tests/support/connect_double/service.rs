//! The service's state and rules: monitors, contacts' lives, quotas' buckets ([`State`]), and the
//! answers to the three operations.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};

use super::*;

/// A monitor: started by MonitorContact, or added as already running ([`ConnectDouble::add_monitor`]).
#[derive(Debug, Clone)]
pub struct Monitor {
    /// The monitor's own contact ID (what MonitorContact answers).
    pub id: String,
    /// The contact monitored.
    pub contact: String,
    pub channel: String,
    pub user: String,
    /// The ClientToken it was started with.
    pub token: Option<String>,
    /// Started by MonitorContact (false: added with [`ConnectDouble::add_monitor`]).
    pub by_api: bool,
    pub started: Instant,
    /// When it ended (with its contact).
    pub ended: Option<Instant>,
}

impl Monitor {
    pub fn running(&self) -> bool {
        self.ended.is_none()
    }
}

/// A contact with a life in real time (added at run time, given a lifetime, or ended on request).
#[derive(Debug, Clone)]
pub(super) struct Live {
    pub(super) spec: ContactSpec,
    pub(super) started: Instant,
    /// When its lifetime is over.
    pub(super) ends: Option<Instant>,
    pub(super) ended: Option<Instant>,
}

/// One answer of the double.
#[derive(Debug, Clone)]
pub struct Served {
    pub at: Instant,
    pub operation: Option<&'static str>,
    pub status: u16,
    /// The `x-amzn-ErrorType` of an error.
    pub error_type: Option<String>,
}

impl Served {
    pub fn throttled(&self) -> bool {
        self.status == 429
    }
}

/// Real time as epoch seconds, for the contacts that live in it.
#[derive(Debug)]
pub(super) struct Clock {
    pub(super) instant: Instant,
    pub(super) wall: SystemTime,
}

impl Default for Clock {
    fn default() -> Clock {
        Clock {
            instant: Instant::now(),
            wall: SystemTime::now(),
        }
    }
}

impl Clock {
    pub(super) fn epoch_seconds(&self, at: Instant) -> f64 {
        let wall = match at.checked_duration_since(self.instant) {
            Some(after) => self.wall + after,
            None => self.wall - self.instant.duration_since(at),
        };
        wall.duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| (d.as_millis() as f64) / 1000.0)
            .unwrap_or(0.0)
    }
}

/// One API's token bucket.
#[derive(Debug)]
pub(super) struct Bucket {
    pub(super) quota: Quota,
    pub(super) tokens: f64,
    pub(super) at: Instant,
}

#[derive(Debug, Default)]
pub struct State {
    pub scenario: Scenario,
    pub requests: Vec<Recorded>,
    /// Scripted answers, each for the next request of its operation (`None`: of any operation).
    pub failures: VecDeque<(Option<&'static str>, Failure)>,
    pub delay: Duration,
    /// Every answer, in order.
    pub served: Vec<Served>,
    /// ClientToken → (request parameters, answer).
    pub(super) tokens: HashMap<String, (Value, Value)>,
    pub(super) monitors: Vec<Monitor>,
    /// Contacts with a life, by ID: they take precedence over the scenario's.
    pub(super) live: HashMap<String, Live>,
    /// When contacts with a lifetime end.
    pub(super) endings: BinaryHeap<Reverse<(Instant, String)>>,
    pub(super) buckets: HashMap<&'static str, Bucket>,
    pub(super) clock: Clock,
}

impl State {
    /// Running monitors of `user`.
    pub(super) fn monitors_of(&self, user: &str) -> impl Iterator<Item = &Monitor> {
        self.monitors.iter().filter(move |m| m.user == user && m.running())
    }

    /// How the user looks now: from the scenario (or logged in and free in an open one), with the
    /// running monitors the double knows.
    pub(super) fn user(&self, id: &str) -> Option<User> {
        let mut user = match &self.scenario.users {
            None => User::free(),
            Some(users) => users.get(id)?.clone(),
        };
        user.monitoring += u32::try_from(self.monitors_of(id).count()).unwrap_or(u32::MAX);
        Some(user)
    }

    pub(super) fn contact(&self, id: &str) -> Option<ContactSpec> {
        if let Some(monitor) = self.monitors.iter().find(|m| m.id == id) {
            return Some(ContactSpec {
                channel: monitor.channel.clone(),
                initiation_method: "MONITOR".into(),
                ended: !monitor.running(),
                lifetime_seconds: None,
            });
        }
        if let Some(live) = self.live.get(id) {
            return Some(ContactSpec {
                ended: live.ended.is_some(),
                ..live.spec.clone()
            });
        }
        match &self.scenario.contacts {
            None => Some(ContactSpec::live("VOICE")),
            Some(contacts) => contacts.get(id).cloned(),
        }
    }

    pub(super) fn instance_exists(&self, id: &str) -> bool {
        self.scenario.instances.as_ref().is_none_or(|s| s.contains(id))
    }

    /// Monitors MonitorContact started so far (running or ended).
    pub fn started(&self) -> usize {
        self.monitors.iter().filter(|m| m.by_api).count()
    }

    /// Every monitor, in the order they started.
    pub fn monitors(&self) -> &[Monitor] {
        &self.monitors
    }

    /// Whether a contact with a life has ended (false for the scenario's own and unknown contacts).
    pub fn has_ended(&self, id: &str) -> bool {
        self.live.get(id).is_some_and(|l| l.ended.is_some())
    }

    /// Throttled answers so far, by operation.
    pub fn throttled(&self) -> BTreeMap<&'static str, usize> {
        let mut counts = BTreeMap::new();
        for served in self.served.iter().filter(|s| s.throttled()) {
            *counts.entry(served.operation.unwrap_or("?")).or_insert(0) += 1;
        }
        counts
    }

    /// A contact starts its life at `now` (replacing what was known about it).
    pub(super) fn add_live(&mut self, id: &str, spec: ContactSpec, now: Instant) {
        let ended = spec.ended.then_some(now);
        let ends = spec
            .lifetime()
            .filter(|_| ended.is_none())
            .map(|lifetime| now + lifetime);
        if let Some(at) = ends {
            self.endings.push(Reverse((at, id.to_owned())));
        }
        self.live.insert(
            id.to_owned(),
            Live {
                spec,
                started: now,
                ends,
                ended,
            },
        );
    }

    /// Ends a contact, and the monitors on it, at `at`; false if it had ended already.
    pub(super) fn end_at(&mut self, id: &str, at: Instant) -> bool {
        if !self.live.contains_key(id) {
            // A contact of the scenario (or of an open one) starts its life to end it.
            let Some(spec) = self.contact(id) else {
                return false;
            };
            self.add_live(id, spec, at);
        }
        let Some(live) = self.live.get_mut(id) else {
            return false;
        };
        if live.ended.is_some() {
            return false;
        }
        live.ended = Some(at);
        for monitor in self.monitors.iter_mut().filter(|m| m.contact == id && m.running()) {
            monitor.ended = Some(at);
        }
        true
    }

    /// Ends the contacts whose lifetime is over by `now`, each at its own end.
    pub(super) fn refresh(&mut self, now: Instant) {
        while let Some(Reverse((at, _))) = self.endings.peek()
            && *at <= now
        {
            // A contact replaced since keeps only its new lifetime.
            if let Some(Reverse((at, id))) = self.endings.pop()
                && self.live.get(&id).is_some_and(|l| l.ends == Some(at))
            {
                self.end_at(&id, at);
            }
        }
    }

    /// Takes a request from `operation`'s bucket; false when the quota says no.
    pub(super) fn admit(&mut self, operation: &'static str, now: Instant) -> bool {
        let Some(quota) = self.scenario.quotas.as_ref().and_then(|q| q.of(operation)) else {
            return true;
        };
        let bucket = self.buckets.entry(operation).or_insert(Bucket {
            quota,
            tokens: quota.burst,
            at: now,
        });
        if bucket.quota != quota {
            // The quota changed while the double ran: a full bucket of the new one.
            *bucket = Bucket {
                quota,
                tokens: quota.burst,
                at: now,
            };
        }
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * quota.rate).min(quota.burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// The supervisors (other than `user`) with a running monitor on `contact`.
    pub(super) fn other_supervisors_on(&self, contact: &str, user: &str) -> usize {
        let users: HashSet<&str> = self
            .monitors
            .iter()
            .filter(|m| m.contact == contact && m.running() && m.user != user)
            .map(|m| m.user.as_str())
            .collect();
        users.len()
    }

    pub(super) fn new_monitor_id(&self) -> String {
        format!("00000000-0000-4000-8000-{:012x}", self.monitors.len() + 1)
    }
}

/// The region from the SigV4 credential scope (`Credential=AKID/20261122/us-east-1/connect/aws4_request`).
pub(super) fn signed_region(request: &Recorded) -> Option<String> {
    let auth = request.header("authorization")?;
    let rest = auth.strip_prefix("AWS4-HMAC-SHA256 ")?;
    let credential = rest
        .split(',')
        .map(str::trim)
        .find_map(|p| p.strip_prefix("Credential="))?;
    let scope: Vec<&str> = credential.split('/').collect();
    let signed = rest
        .split(',')
        .map(str::trim)
        .any(|p| p.starts_with("SignedHeaders=") && p.contains("host") && p.contains("x-amz-date"));
    let signature = rest
        .split(',')
        .map(str::trim)
        .find_map(|p| p.strip_prefix("Signature="))?;
    let well_formed = scope.len() == 5
        && scope[3] == "connect"
        && scope[4] == "aws4_request"
        && signed
        && signature.len() == 64
        && signature.bytes().all(|b| b.is_ascii_hexdigit())
        && request.header("x-amz-date").is_some();
    well_formed.then(|| scope[2].to_owned())
}

pub(super) fn text_field<'a>(body: &'a Value, name: &str, min: usize, max: usize) -> Result<Option<&'a str>, Answer> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if (min..=max).contains(&s.chars().count()) => Ok(Some(s)),
        Some(_) => Err(invalid(&format!("{name} is not valid"))),
    }
}

const ACCOUNT: &str = "111122223333";

/// The double's clock, in epoch seconds: fixed, so answers are reproducible.
const NOW: f64 = 1_795_000_000.0;

pub(super) fn answer(state: &mut State, request: &Recorded, now: Instant) -> Answer {
    let Some(operation) = request.operation() else {
        return error(
            404,
            "UnknownOperationException",
            "the double answers MonitorContact, DescribeContact and GetCurrentUserData only",
        );
    };
    let Some(region) = signed_region(request) else {
        return error(
            403,
            "IncompleteSignatureException",
            "the request is not signed with SigV4",
        );
    };
    if !state.admit(operation, now) {
        return error(429, "ThrottlingException", "Rate exceeded");
    }
    if let Some(index) = state
        .failures
        .iter()
        .position(|(op, _)| op.is_none_or(|op| op == operation))
        && let Some((_, failure)) = state.failures.remove(index)
    {
        return error(failure.status, &failure.error_type, &failure.message);
    }
    let result = match operation {
        MONITOR_CONTACT => monitor_contact(state, request, &region),
        DESCRIBE_CONTACT => describe_contact(state, request, &region),
        _ => current_user_data(state, request, &region),
    };
    result.unwrap_or_else(|answer| answer)
}

pub(super) fn invalid(message: &str) -> Answer {
    error(400, "InvalidRequestException", message)
}

pub(super) fn not_found(message: &str) -> Answer {
    error(404, "ResourceNotFoundException", message)
}

pub(super) fn json_body(request: &Recorded) -> Result<Value, Answer> {
    if !request
        .header("content-type")
        .is_some_and(|t| t.starts_with("application/json"))
    {
        return Err(invalid("Content-Type must be application/json"));
    }
    serde_json::from_str::<Value>(&request.body).map_err(|_| invalid("the body is not JSON"))
}

pub(super) fn path_id(value: &str, name: &str, max: usize) -> Result<(), Answer> {
    if (1..=max).contains(&value.chars().count()) {
        Ok(())
    } else {
        Err(invalid(&format!("{name} is not valid")))
    }
}

pub(super) fn instance_arn(region: &str, instance: &str) -> String {
    format!("arn:aws:connect:{region}:{ACCOUNT}:instance/{instance}")
}

pub(super) fn monitor_contact(state: &mut State, request: &Recorded, region: &str) -> Result<Answer, Answer> {
    let body = json_body(request)?;
    let instance = text_field(&body, "InstanceId", 1, 100)?;
    let contact = text_field(&body, "ContactId", 1, 256)?;
    let user = text_field(&body, "UserId", 1, 256)?;
    let token = text_field(&body, "ClientToken", 0, 500)?.map(str::to_owned);
    let (Some(instance), Some(contact), Some(user)) = (instance, contact, user) else {
        return Err(invalid("InstanceId, ContactId and UserId are required"));
    };
    let (instance, contact, user) = (instance.to_owned(), contact.to_owned(), user.to_owned());
    let capabilities: Vec<String> = match body.get("AllowedMonitorCapabilities") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect(),
        Some(_) => return Err(invalid("AllowedMonitorCapabilities is not valid")),
    };
    let known = ["SILENT_MONITOR", "BARGE"];
    let unique: HashSet<&String> = capabilities.iter().collect();
    if capabilities.len() > 2
        || unique.len() != capabilities.len()
        || !capabilities.iter().all(|c| known.contains(&c.as_str()))
    {
        return Err(invalid("AllowedMonitorCapabilities is not valid"));
    }
    let params = json!({ "InstanceId": instance, "ContactId": contact, "UserId": user, "AllowedMonitorCapabilities": capabilities });
    if let Some(token) = &token
        && let Some((first, answer)) = state.tokens.get(token)
    {
        return if *first == params {
            Ok((200, Vec::new(), answer.to_string()))
        } else {
            Err(error(
                409,
                "IdempotencyException",
                "the ClientToken was used with different parameters",
            ))
        };
    }
    if !state.instance_exists(&instance) {
        return Err(not_found("instance not found"));
    }
    let Some(target) = state.contact(&contact) else {
        return Err(not_found("contact not found"));
    };
    if target.ended {
        return Err(invalid("the contact is not active"));
    }
    if !["VOICE", "CHAT"].contains(&target.channel.as_str()) || target.initiation_method == "MONITOR" {
        return Err(invalid("only voice and chat contacts can be monitored"));
    }
    match state.user(&user) {
        None => return Err(not_found("user not found")),
        Some(u) if !u.logged_in => {
            return Err(error(
                402,
                "ServiceQuotaExceededException",
                "the user is not logged in to the CCP",
            ));
        }
        Some(u) if u.monitoring >= state.scenario.max_monitors => {
            return Err(error(
                402,
                "ServiceQuotaExceededException",
                "the user is at their monitoring limit",
            ));
        }
        Some(_) => {}
    }
    // Connect lets at most two supervisors monitor a voice call (issue 9). The API reference does not
    // document the answer, and no research note says otherwise: the double answers as for the
    // supervisor's own limit, 402 ServiceQuotaExceededException. Chat has no such limit here.
    if target.channel == "VOICE" && state.other_supervisors_on(&contact, &user) >= 2 {
        return Err(error(
            402,
            "ServiceQuotaExceededException",
            "the contact already has the most supervisors a voice contact can have",
        ));
    }
    let monitor_id = state.new_monitor_id();
    let answer = json!({
        "ContactId": monitor_id,
        "ContactArn": format!("{}/contact/{monitor_id}", instance_arn(region, &instance)),
    });
    state.monitors.push(Monitor {
        id: monitor_id,
        contact,
        channel: target.channel,
        user,
        token: token.clone(),
        by_api: true,
        started: Instant::now(),
        ended: None,
    });
    if let Some(token) = token {
        state.tokens.insert(token, (params, answer.clone()));
    }
    Ok((200, Vec::new(), answer.to_string()))
}

/// DescribeContact: the contact as the service describes it, customer endpoint and attributes
/// included (the function must keep them out of its logs).
pub(super) fn describe_contact(state: &mut State, request: &Recorded, region: &str) -> Result<Answer, Answer> {
    let params = request.path_parameters(1);
    let [instance, contact] = params.as_slice() else {
        return Err(invalid("the path is not valid"));
    };
    path_id(instance, "InstanceId", 100)?;
    path_id(contact, "ContactId", 256)?;
    if !state.instance_exists(instance) {
        return Err(not_found("instance not found"));
    }
    let Some(spec) = state.contact(contact) else {
        return Err(not_found("contact not found"));
    };
    // When it started and ended: real times for a contact with a life (or an ended monitor), the
    // fixed clock for the scenario's own.
    let lived = match (
        state.live.get(contact.as_str()),
        state.monitors.iter().find(|m| &m.id == contact),
    ) {
        (_, Some(monitor)) if !monitor.running() => Some((monitor.started, monitor.ended)),
        (_, Some(_)) => None,
        (Some(live), None) => Some((live.started, live.ended)),
        (None, None) => None,
    };
    // A contact with a life starts when it is connected to the agent (as the benchmark's events say).
    let (connected, last_update, disconnected) = match lived {
        Some((started, ended)) => {
            let connected = state.clock.epoch_seconds(started);
            let ended = ended.map(|at| state.clock.epoch_seconds(at));
            let now = state.clock.epoch_seconds(Instant::now());
            (connected, ended.unwrap_or(now), ended)
        }
        None => (NOW - 100.0, NOW - 5.0, spec.ended.then_some(NOW - 30.0)),
    };
    let initiated = connected - 20.0;
    let mut described = json!({
        "Arn": format!("{}/contact/{contact}", instance_arn(region, instance)),
        "Id": contact,
        "InitialContactId": contact,
        "InitiationMethod": spec.initiation_method,
        "Channel": spec.channel,
        "InitiationTimestamp": initiated,
        "LastUpdateTimestamp": last_update,
        "QueueInfo": { "Id": "q-1", "EnqueueTimestamp": connected - 10.0 },
        "AgentInfo": { "Id": "agent-1", "ConnectedToAgentTimestamp": connected },
        "CustomerEndpoint": { "Type": "TELEPHONE_NUMBER", "Address": "+12065550142" },
        "Attributes": { "CustomerName": "Pat Example", "Reason": "billing dispute" },
    });
    if let Some(at) = disconnected {
        described["DisconnectTimestamp"] = json!(at);
    }
    Ok((200, Vec::new(), json!({ "Contact": described }).to_string()))
}

/// GetCurrentUserData with the `Agents` filter: the filtered users who are logged in, with their
/// contacts (monitors as InitiationMethod MONITOR), by user ID, paginated by MaxResults.
pub(super) fn current_user_data(state: &mut State, request: &Recorded, region: &str) -> Result<Answer, Answer> {
    let params = request.path_parameters(2);
    let [instance] = params.as_slice() else {
        return Err(invalid("the path is not valid"));
    };
    path_id(instance, "InstanceId", 100)?;
    let body = json_body(request)?;
    let Some(filters) = body.get("Filters").and_then(Value::as_object) else {
        return Err(invalid("Filters is required"));
    };
    let chosen: Vec<&String> = ["Queues", "RoutingProfiles", "Agents", "UserHierarchyGroups"]
        .iter()
        .filter_map(|k| filters.keys().find(|key| key == k))
        .collect();
    if chosen.len() != 1 {
        return Err(invalid(
            "pass exactly one of Queues, RoutingProfiles, Agents and UserHierarchyGroups",
        ));
    }
    let Some(agents) = filters.get("Agents").and_then(Value::as_array) else {
        return Err(invalid("the double filters on Agents only"));
    };
    let agents: Option<Vec<&str>> = agents.iter().map(Value::as_str).collect();
    let Some(agents) = agents.filter(|a| (1..=100).contains(&a.len())) else {
        return Err(invalid("Agents must list 1 to 100 user IDs"));
    };
    let max_results = match body.get("MaxResults") {
        None | Some(Value::Null) => 100,
        Some(v) => match v.as_u64() {
            Some(n) if (1..=100).contains(&n) => n as usize,
            _ => return Err(invalid("MaxResults must be 1 to 100")),
        },
    };
    let start = match body.get("NextToken").and_then(Value::as_str) {
        None => 0,
        Some(t) => t.parse::<usize>().map_err(|_| invalid("NextToken is not valid"))?,
    };
    if !state.instance_exists(instance) {
        return Err(not_found("instance not found"));
    }
    let arn = instance_arn(region, instance);
    let logged_in: BTreeMap<&str, User> = agents
        .iter()
        .filter_map(|id| Some((*id, state.user(id).filter(|u| u.logged_in)?)))
        .collect();
    let page: Vec<Value> = logged_in
        .iter()
        .skip(start)
        .take(max_results)
        .map(|(id, user)| {
            // Monitors from the scenario (running before the double started), then the double's own.
            let own = u32::try_from(state.monitors_of(id).count()).unwrap_or(0);
            let earlier =
                (0..user.monitoring.saturating_sub(own)).map(|n| (format!("monitor-{id}-{n}"), "VOICE".to_owned()));
            let started = state.monitors_of(id).map(|m| (m.id.clone(), m.channel.clone()));
            let monitors = earlier.chain(started).map(|(contact, channel)| (contact, channel, "MONITOR"));
            let handled = (0..user.handling).map(|n| (format!("handled-{id}-{n}"), "VOICE".to_owned(), "INBOUND"));
            let contacts: Vec<Value> = monitors
                .chain(handled)
                .map(|(contact, channel, method)| {
                    json!({
                        "ContactId": contact,
                        "Channel": channel,
                        "InitiationMethod": method,
                        "AgentContactState": "CONNECTED",
                        "StateStartTimestamp": NOW - 60.0,
                        "ConnectedToAgentTimestamp": NOW - 60.0,
                        "Queue": { "Id": "q-1", "Arn": format!("{arn}/queue/q-1") },
                    })
                })
                .collect();
            json!({
                "User": { "Id": id, "Arn": format!("{arn}/agent/{id}") },
                "RoutingProfile": { "Id": "rp-1", "Arn": format!("{arn}/routing-profile/rp-1") },
                "Status": { "StatusStartTimestamp": NOW - 600.0, "StatusArn": format!("{arn}/agent-state/available"), "StatusName": "Available" },
                "AvailableSlotsByChannel": { "VOICE": 1, "CHAT": 2, "TASK": 1 },
                "MaxSlotsByChannel": { "VOICE": 1, "CHAT": 2, "TASK": 1 },
                "ActiveSlotsByChannel": { "VOICE": user.handling.min(1), "CHAT": 0, "TASK": 0 },
                "Contacts": contacts,
            })
        })
        .collect();
    let mut answer = json!({ "UserDataList": page, "ApproximateTotalCount": logged_in.len() });
    if start + max_results < logged_in.len() {
        answer["NextToken"] = json!((start + max_results).to_string());
    }
    Ok((200, Vec::new(), answer.to_string()))
}

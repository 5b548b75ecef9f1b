//! The event sources. One handler accepts four shapes, told apart by their keys:
//!
//! 1. a contact flow's "Invoke AWS Lambda function" block (`Details` / `Name: ContactFlowEvent`),
//! 2. an EventBridge event (`detail-type` / `detail`): an Amazon Connect contact event, a Contact
//!    Lens rule match, or any other detail type whose `detail` carries the fields of shape 3,
//! 3. a direct invocation (`InstanceId`/`InstanceArn`, `ContactId`, ...),
//! 4. an SQS batch (`Records` of `eventSource` `aws:sqs`), each message body an EventBridge event
//!    as the rule sent it, read as shape 2.
//!
//! Reading picks each value out of its place and records where it came from (its JSON path), so
//! that validation can name the field. Nothing else in the event is kept: not the customer's
//! endpoint, not the contact attributes.

use aws_lambda_events::event::sqs::SqsMessage;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::client_token::Purpose;
use crate::error::{ErrorKind, MonitorError};
use crate::identifiers;
use crate::lenient_json::{Loose, Obj};

/// Largest single event accepted, in bytes (SQS message bodies included). Contact-flow events carry
/// the contact's attributes (at most 32 KiB in Connect) and segment attributes; 256 KiB, the largest
/// asynchronous invocation and SQS message, leaves room for all of them.
pub const MAX_EVENT_BYTES: usize = 256 * 1024;

/// Largest payload accepted, in bytes: Lambda's limit for a synchronous invocation, the way an SQS
/// batch arrives.
pub const MAX_PAYLOAD_BYTES: usize = 6 * 1024 * 1024;

/// The detail type of Amazon Connect contact events.
pub const CONTACT_EVENT: &str = "Amazon Connect Contact Event";

/// The detail types Connect emits when a Contact Lens real-time rule matches (voice, chat).
pub const CONTACT_LENS_EVENTS: [&str; 2] = [
    "Contact Lens Realtime Rules Matched",
    "Contact Lens Realtime Chat Rules Matched",
];

/// Where an event came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    ContactFlow,
    ContactEvent,
    ContactLens,
    CustomEvent,
    Direct,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::ContactFlow => "contact-flow",
            Source::ContactEvent => "eventbridge-contact-event",
            Source::ContactLens => "eventbridge-contact-lens",
            Source::CustomEvent => "eventbridge-custom",
            Source::Direct => "direct",
        }
    }

    /// Connect's own events (contact events, Contact Lens matches): the automatic paths, where the
    /// unit is the contact rather than the event (see `client_token`).
    pub fn is_automatic(self) -> bool {
        self.purpose().is_some()
    }

    /// Why a supervisor listens, for Connect's own events: QA, or escalation.
    pub fn purpose(self) -> Option<Purpose> {
        match self {
            Source::ContactEvent => Some(Purpose::Qa),
            Source::ContactLens => Some(Purpose::Escalation),
            Source::ContactFlow | Source::CustomEvent | Source::Direct => None,
        }
    }
}

/// A value as found in the event, with the path it was found at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub path: &'static str,
    pub value: Option<Loose>,
}

impl Field {
    fn new(path: &'static str, value: Option<Loose>) -> Field {
        Field { path, value }
    }

    pub fn is_given(&self) -> bool {
        self.value.is_some()
    }
}

/// What an Amazon Connect contact event says about the contact, for the skip rules and QA rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactEventState {
    pub event_type: Field,
    pub channel: Field,
    /// `detail.agentInfo.agentArn`, where the event has it (not on INITIATED, QUEUED, ...).
    pub agent: Field,
    /// `detail.queueInfo.queueArn`, where the event has it.
    pub queue: Field,
    /// `detail.agentInfo.hierarchyGroups.level1.arn` to `level5.arn`, in level order, each where the
    /// event has it (agents outside any hierarchy have none).
    pub hierarchy_groups: [Field; 5],
}

/// How an event names its contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContactRef {
    /// A contact ID; the instance is named beside it.
    Id(Field),
    /// A contact ARN: instance and contact in one (Contact Lens rule events).
    Arn(Field),
}

/// The values an event supplies, not yet validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intent {
    pub source: Source,
    pub event_id: Field,
    /// The instance; for a contact named by ARN, an optional cross-check.
    pub instance: Field,
    pub contact: ContactRef,
    /// Absent: the configured default supervisor.
    pub user: Field,
    /// Absent: the configured default capabilities.
    pub capabilities: Field,
    /// Absent: derived (see `client_token`).
    pub client_token: Field,
    /// The contact's initiation method, where the event reports it.
    pub initiation_method: Field,
    /// Present for Amazon Connect contact events only.
    pub contact_event: Option<ContactEventState>,
    /// The Contact Lens rule that matched.
    pub rule_name: Option<Field>,
    /// When EventBridge says the event happened (`time`), for EventBridge events.
    pub event_time: Option<Field>,
}

/// What the payload holds: one event, or a batch of SQS messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    Single(Box<Intent>),
    Batch(Vec<Record>),
}

/// Where an SQS record can be given back: its queue and its receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub queue_arn: String,
    pub receipt_handle: String,
}

/// One SQS message of a batch: its ID (how a failure is reported back) and what its body holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub message_id: String,
    /// `attributes.ApproximateReceiveCount`: 1 on the first delivery.
    pub receive_count: Option<u32>,
    /// `receiptHandle` and `eventSourceARN`: how the record can be given back to its queue early
    /// (`requeue`); `None` when either is missing.
    pub receipt: Option<Receipt>,
    pub intent: Result<Intent, MonitorError>,
}

#[derive(Deserialize, Default)]
struct RawEvent {
    // SQS batch.
    #[serde(rename = "Records")]
    records: Option<Box<RawValue>>,
    // Contact flow.
    #[serde(rename = "Name")]
    name: Option<Loose>,
    #[serde(rename = "Details")]
    details: Option<Obj<RawDetails>>,
    // EventBridge envelope.
    id: Option<Loose>,
    #[serde(rename = "detail-type")]
    detail_type: Option<Loose>,
    source: Option<Loose>,
    time: Option<Loose>,
    detail: Option<Obj<Box<RawEvent>>>,
    // Direct invocation, and the detail of custom EventBridge events.
    #[serde(rename = "InstanceId", alias = "instanceId")]
    instance_id: Option<Loose>,
    // `instanceARN`: the spelling of some published contact event samples.
    #[serde(rename = "InstanceArn", alias = "instanceArn", alias = "instanceARN")]
    instance_arn: Option<Loose>,
    #[serde(rename = "ContactId", alias = "contactId")]
    contact_id: Option<Loose>,
    #[serde(rename = "UserId", alias = "userId")]
    user_id: Option<Loose>,
    #[serde(rename = "AllowedMonitorCapabilities", alias = "allowedMonitorCapabilities")]
    capabilities: Option<Loose>,
    #[serde(rename = "EventId", alias = "eventId")]
    event_id: Option<Loose>,
    #[serde(rename = "ClientToken", alias = "clientToken")]
    client_token: Option<Loose>,
    // The detail of Amazon Connect contact events.
    #[serde(rename = "eventType")]
    event_type: Option<Loose>,
    #[serde(rename = "initiationMethod")]
    initiation_method: Option<Loose>,
    channel: Option<Loose>,
    #[serde(rename = "agentInfo")]
    agent_info: Option<Obj<RawAgentInfo>>,
    #[serde(rename = "queueInfo")]
    queue_info: Option<Obj<RawQueueInfo>>,
    // The detail of Contact Lens rule events.
    #[serde(rename = "contactArn")]
    contact_arn: Option<Loose>,
    #[serde(rename = "ruleName")]
    rule_name: Option<Loose>,
}

#[derive(Deserialize, Default)]
struct RawAgentInfo {
    #[serde(rename = "agentArn")]
    agent_arn: Option<Loose>,
    #[serde(rename = "hierarchyGroups")]
    hierarchy_groups: Option<Obj<RawHierarchyGroups>>,
}

#[derive(Deserialize, Default)]
struct RawHierarchyGroups {
    level1: Option<Obj<RawGroup>>,
    level2: Option<Obj<RawGroup>>,
    level3: Option<Obj<RawGroup>>,
    level4: Option<Obj<RawGroup>>,
    level5: Option<Obj<RawGroup>>,
}

#[derive(Deserialize, Default)]
struct RawGroup {
    arn: Option<Loose>,
}

/// The paths of the hierarchy groups' ARNs, level 1 to 5.
const GROUP_ARNS: [&str; 5] = [
    "detail.agentInfo.hierarchyGroups.level1.arn",
    "detail.agentInfo.hierarchyGroups.level2.arn",
    "detail.agentInfo.hierarchyGroups.level3.arn",
    "detail.agentInfo.hierarchyGroups.level4.arn",
    "detail.agentInfo.hierarchyGroups.level5.arn",
];

/// The paths of the hierarchy groups' objects, level 1 to 5.
const GROUPS: [&str; 5] = [
    "detail.agentInfo.hierarchyGroups.level1",
    "detail.agentInfo.hierarchyGroups.level2",
    "detail.agentInfo.hierarchyGroups.level3",
    "detail.agentInfo.hierarchyGroups.level4",
    "detail.agentInfo.hierarchyGroups.level5",
];

/// The agent's hierarchy groups: each level's `arn`, where given. Null or absent levels (and a null
/// or absent `hierarchyGroups`) are not given; a level that is not an object is an error, as for
/// `agentInfo` itself.
fn hierarchy_groups(groups: Option<Obj<RawHierarchyGroups>>) -> Result<[Field; 5], MonitorError> {
    let groups = object("detail.agentInfo.hierarchyGroups", groups)?;
    let levels = [
        groups.level1,
        groups.level2,
        groups.level3,
        groups.level4,
        groups.level5,
    ];
    let mut out: [Field; 5] = GROUP_ARNS.map(|path| Field::new(path, None));
    for ((level, path), field) in levels.into_iter().zip(GROUPS).zip(out.iter_mut()) {
        field.value = object::<RawGroup>(path, level)?.arn;
    }
    Ok(out)
}

#[derive(Deserialize, Default)]
struct RawQueueInfo {
    #[serde(rename = "queueArn")]
    queue_arn: Option<Loose>,
}

#[derive(Deserialize)]
struct RawDetails {
    #[serde(rename = "ContactData")]
    contact_data: Option<Obj<RawContactData>>,
    #[serde(rename = "Parameters")]
    parameters: Option<Obj<RawParameters>>,
}

#[derive(Deserialize, Default)]
struct RawContactData {
    #[serde(rename = "ContactId")]
    contact_id: Option<Loose>,
    #[serde(rename = "InstanceARN")]
    instance_arn: Option<Loose>,
    #[serde(rename = "InitiationMethod")]
    initiation_method: Option<Loose>,
}

#[derive(Deserialize, Default)]
struct RawParameters {
    #[serde(rename = "SupervisorUserId")]
    supervisor_user_id: Option<Loose>,
    #[serde(rename = "AllowedMonitorCapabilities")]
    capabilities: Option<Loose>,
    #[serde(rename = "EventId")]
    event_id: Option<Loose>,
}

const UNRECOGNIZED: &str = "the event is none of the accepted shapes: a contact flow event \
({\"Name\":\"ContactFlowEvent\",\"Details\":{\"ContactData\":{...},\"Parameters\":{...}}}), \
an EventBridge event ({\"version\",\"id\",\"detail-type\",\"source\",\"detail\",...}), \
a direct request ({\"InstanceId\" or \"InstanceArn\",\"ContactId\",\"UserId\",...}) \
or an SQS batch ({\"Records\":[{\"eventSource\":\"aws:sqs\",\"messageId\",\"body\",...}]})";

/// Reads a payload. `request_id` is the Lambda request ID: the event ID of a direct invocation that
/// names none (Lambda keeps it across its own retries of an asynchronous invocation).
///
/// A leading UTF-8 byte-order mark (files saved by some Windows editors, then sent with
/// `aws lambda invoke` or `cargo lambda invoke --data-file`) is skipped. A payload that is not JSON
/// is an `UnrecognizedEvent`.
pub fn read(text: &str, request_id: &str) -> Result<Payload, MonitorError> {
    if text.len() > MAX_PAYLOAD_BYTES {
        return Err(too_large("the payload", text.len(), MAX_PAYLOAD_BYTES));
    }
    let raw = parse(text)?;
    match raw.records {
        Some(records) => batch(&records).map(Payload::Batch),
        None if text.len() > MAX_EVENT_BYTES => Err(too_large("the event", text.len(), MAX_EVENT_BYTES)),
        None => single(raw, request_id).map(|intent| Payload::Single(Box::new(intent))),
    }
}

fn too_large(what: &str, size: usize, limit: usize) -> MonitorError {
    MonitorError::invalid(format!("{what} is {size} bytes; the limit is {limit}"))
}

/// Parses an event's JSON object (after a byte-order mark, if any).
fn parse(text: &str) -> Result<RawEvent, MonitorError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    match serde_json::from_str::<Obj<RawEvent>>(text) {
        Ok(Obj::Present(raw)) => Ok(raw),
        Ok(Obj::Other(_)) => Err(MonitorError::new(ErrorKind::UnrecognizedEvent, UNRECOGNIZED)),
        Err(e) => Err(unreadable("the event", &e)),
    }
}

fn single(raw: RawEvent, request_id: &str) -> Result<Intent, MonitorError> {
    let is_flow = raw.details.is_some() || matches!(&raw.name, Some(Loose::Str(n)) if n == "ContactFlowEvent");
    if is_flow {
        contact_flow(raw)
    } else if raw.detail_type.is_some() || raw.detail.is_some() {
        eventbridge(raw)
    } else if raw.instance_id.is_some() || raw.instance_arn.is_some() || raw.contact_id.is_some() {
        Ok(request_fields(
            raw,
            Source::Direct,
            &DIRECT,
            Field::new("Lambda request ID", Some(Loose::Str(request_id.to_owned()))),
        ))
    } else {
        Err(MonitorError::new(ErrorKind::UnrecognizedEvent, UNRECOGNIZED))
    }
}

/// Reads an SQS batch with `aws_lambda_events`' message type. The envelope must hold: every record
/// an SQS message with a message ID (the only way to report one record's failure). What a body
/// holds is that record's business: a body that is not an EventBridge event fails that record only.
fn batch(records: &RawValue) -> Result<Vec<Record>, MonitorError> {
    let messages: Vec<SqsMessage> =
        serde_json::from_str(records.get()).map_err(|e| unreadable("the SQS batch (Records)", &e))?;
    let mut out = Vec::with_capacity(messages.len());
    for (index, message) in messages.into_iter().enumerate() {
        if message.event_source.as_deref() != Some("aws:sqs") {
            return Err(MonitorError::new(
                ErrorKind::UnrecognizedEvent,
                format!("Records[{index}].eventSource must be aws:sqs: only SQS batches are accepted"),
            ));
        }
        let message_id = message.message_id.unwrap_or_default();
        identifiers::token_text(
            &format!("Records[{index}].messageId"),
            &message_id,
            identifiers::MAX_EVENT_ID,
        )
        .map_err(MonitorError::invalid)?;
        let receive_count = message
            .attributes
            .get("ApproximateReceiveCount")
            .and_then(|count| count.parse().ok());
        let intent = match message.body {
            None => Err(MonitorError::invalid(format!("Records[{index}].body is required"))),
            Some(body) => body_event(&body),
        };
        let receipt = match (message.event_source_arn, message.receipt_handle) {
            (Some(queue_arn), Some(receipt_handle)) => Some(Receipt {
                queue_arn,
                receipt_handle,
            }),
            _ => None,
        };
        out.push(Record {
            message_id,
            receive_count,
            receipt,
            intent,
        });
    }
    Ok(out)
}

/// The EventBridge event an SQS message body holds.
fn body_event(body: &str) -> Result<Intent, MonitorError> {
    if body.len() > MAX_EVENT_BYTES {
        return Err(too_large("the message body", body.len(), MAX_EVENT_BYTES));
    }
    let raw = parse(body)?;
    if raw.detail_type.is_none() && raw.detail.is_none() {
        return Err(MonitorError::new(
            ErrorKind::UnrecognizedEvent,
            "an SQS message body must be an EventBridge event ({\"version\",\"id\",\"detail-type\",\"source\",\"detail\",...}), as an EventBridge rule sends it",
        ));
    }
    eventbridge(raw)
}

/// A JSON error as a message that says where, never what: serde messages can quote values.
fn unreadable(what: &str, e: &serde_json::Error) -> MonitorError {
    let at = format!("(line {}, column {})", e.line(), e.column());
    let text = e.to_string();
    if text.contains("recursion limit") {
        return MonitorError::invalid(format!("{what} is nested too deeply {at}"));
    }
    match e.classify() {
        // "duplicate field `X`" names a key, never a value.
        serde_json::error::Category::Data if text.starts_with("duplicate field") => {
            let end = text.find(" at line").unwrap_or(text.len());
            MonitorError::invalid(format!("{what} has a {} {at}", &text[..end]))
        }
        serde_json::error::Category::Data => {
            MonitorError::invalid(format!("{what} has a value of the wrong type {at}"))
        }
        serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
            MonitorError::new(ErrorKind::UnrecognizedEvent, format!("{what} is not valid JSON {at}"))
        }
        serde_json::error::Category::Io => MonitorError::invalid(format!("{what} could not be read {at}")),
    }
}

/// Reads a nested object, or says which field is not an object.
fn object<T: Default>(path: &str, value: Option<Obj<T>>) -> Result<T, MonitorError> {
    match value {
        Some(Obj::Present(v)) => Ok(v),
        None => Ok(T::default()),
        Some(Obj::Other(kind)) => Err(MonitorError::invalid(format!("{path} must be an object, got {kind}"))),
    }
}

/// A contact-flow parameter: the block sends an empty string for a parameter whose contact
/// attribute is unset, which means "not given" (the default applies).
fn parameter(value: Option<Loose>) -> Option<Loose> {
    value.filter(|v| !matches!(v, Loose::Str(s) if s.trim().is_empty()))
}

fn contact_flow(raw: RawEvent) -> Result<Intent, MonitorError> {
    let details = match raw.details {
        Some(Obj::Present(d)) => d,
        Some(Obj::Other(kind)) => return Err(MonitorError::invalid(format!("Details must be an object, got {kind}"))),
        None => return Err(MonitorError::invalid("Details is required in a contact flow event")),
    };
    let data = match details.contact_data {
        Some(Obj::Present(d)) => d,
        Some(Obj::Other(kind)) => {
            return Err(MonitorError::invalid(format!(
                "Details.ContactData must be an object, got {kind}"
            )));
        }
        None => {
            return Err(MonitorError::invalid(
                "Details.ContactData is required in a contact flow event",
            ));
        }
    };
    let params = object("Details.Parameters", details.parameters)?;
    let event_id = match parameter(params.event_id) {
        Some(id) => Field::new("Details.Parameters.EventId", Some(id)),
        None => Field::new("Details.ContactData.ContactId", data.contact_id.clone()),
    };
    Ok(Intent {
        source: Source::ContactFlow,
        event_id,
        instance: Field::new("Details.ContactData.InstanceARN", data.instance_arn),
        contact: ContactRef::Id(Field::new("Details.ContactData.ContactId", data.contact_id)),
        user: Field::new(
            "Details.Parameters.SupervisorUserId",
            parameter(params.supervisor_user_id),
        ),
        capabilities: Field::new(
            "Details.Parameters.AllowedMonitorCapabilities",
            parameter(params.capabilities),
        ),
        client_token: Field::new("Details.Parameters.ClientToken", None),
        initiation_method: Field::new("Details.ContactData.InitiationMethod", data.initiation_method),
        contact_event: None,
        rule_name: None,
        event_time: None,
    })
}

fn eventbridge(raw: RawEvent) -> Result<Intent, MonitorError> {
    let detail_type = match raw.detail_type {
        Some(Loose::Str(t)) => t,
        Some(_) => return Err(MonitorError::invalid("detail-type must be a string")),
        None => return Err(MonitorError::invalid("detail-type is required in an EventBridge event")),
    };
    let event_id = Field::new("id", raw.id);
    if !event_id.is_given() {
        return Err(MonitorError::invalid(
            "id is required in an EventBridge event: it is the event ID the ClientToken derives from",
        ));
    }
    let event_time = Some(Field::new("time", raw.time));
    let detail = match raw.detail {
        Some(Obj::Present(d)) => *d,
        Some(Obj::Other(kind)) => return Err(MonitorError::invalid(format!("detail must be an object, got {kind}"))),
        None => return Err(MonitorError::invalid("detail is required in an EventBridge event")),
    };
    let from_connect = matches!(&raw.source, Some(Loose::Str(s)) if s == "aws.connect");
    let is_contact_lens = CONTACT_LENS_EVENTS.contains(&detail_type.as_str());
    if !is_contact_lens && detail_type != CONTACT_EVENT {
        let mut intent = request_fields(detail, Source::CustomEvent, &DETAIL, event_id);
        intent.event_time = event_time;
        return Ok(intent);
    }
    if !from_connect {
        return Err(MonitorError::invalid(format!(
            "source must be aws.connect for detail-type {detail_type}"
        )));
    }
    if is_contact_lens {
        return Ok(contact_lens(detail, event_id, event_time));
    }
    contact_event(detail, event_id, event_time)
}

/// A Contact Lens rule match: the contact by ARN, the rule's name.
fn contact_lens(detail: RawEvent, event_id: Field, event_time: Option<Field>) -> Intent {
    Intent {
        source: Source::ContactLens,
        event_id,
        instance: Field::new("detail.instanceArn", detail.instance_arn),
        contact: ContactRef::Arn(Field::new("detail.contactArn", detail.contact_arn)),
        user: Field::new("detail.userId", None),
        capabilities: Field::new("detail.allowedMonitorCapabilities", None),
        client_token: Field::new("detail.clientToken", None),
        initiation_method: Field::new("detail.initiationMethod", None),
        contact_event: None,
        rule_name: Some(Field::new("detail.ruleName", detail.rule_name)),
        event_time,
    }
}

/// An Amazon Connect contact event: the contact, its state, its agent and queue.
fn contact_event(detail: RawEvent, event_id: Field, event_time: Option<Field>) -> Result<Intent, MonitorError> {
    let agent_info = object("detail.agentInfo", detail.agent_info)?;
    let agent = agent_info.agent_arn;
    let hierarchy_groups = hierarchy_groups(agent_info.hierarchy_groups)?;
    let queue = object("detail.queueInfo", detail.queue_info)?.queue_arn;
    Ok(Intent {
        source: Source::ContactEvent,
        event_id,
        instance: Field::new("detail.instanceArn", detail.instance_arn),
        contact: ContactRef::Id(Field::new("detail.contactId", detail.contact_id)),
        user: Field::new("detail.userId", None),
        capabilities: Field::new("detail.allowedMonitorCapabilities", None),
        client_token: Field::new("detail.clientToken", None),
        initiation_method: Field::new("detail.initiationMethod", detail.initiation_method),
        contact_event: Some(ContactEventState {
            event_type: Field::new("detail.eventType", detail.event_type),
            channel: Field::new("detail.channel", detail.channel),
            agent: Field::new("detail.agentInfo.agentArn", agent),
            queue: Field::new("detail.queueInfo.queueArn", queue),
            hierarchy_groups,
        }),
        rule_name: None,
        event_time,
    })
}

/// The paths of the request fields, at the top level or inside an EventBridge `detail`.
struct Paths {
    instance_id: &'static str,
    instance_arn: &'static str,
    contact: &'static str,
    user: &'static str,
    capabilities: &'static str,
    event_id: &'static str,
    client_token: &'static str,
}

const DIRECT: Paths = Paths {
    instance_id: "InstanceId",
    instance_arn: "InstanceArn",
    contact: "ContactId",
    user: "UserId",
    capabilities: "AllowedMonitorCapabilities",
    event_id: "EventId",
    client_token: "ClientToken",
};

const DETAIL: Paths = Paths {
    instance_id: "detail.InstanceId",
    instance_arn: "detail.InstanceArn",
    contact: "detail.ContactId",
    user: "detail.UserId",
    capabilities: "detail.AllowedMonitorCapabilities",
    event_id: "detail.EventId",
    client_token: "detail.ClientToken",
};

/// The fields of a direct request. `fallback_event_id` applies when the request names no `EventId`;
/// for an EventBridge event it is always the envelope's `id` (stable across EventBridge's retries).
fn request_fields(raw: RawEvent, source: Source, paths: &Paths, fallback_event_id: Field) -> Intent {
    let instance = match (raw.instance_id, raw.instance_arn) {
        (None, arn @ Some(_)) => Field::new(paths.instance_arn, arn),
        (id, None) => Field::new(paths.instance_id, id),
        // Both given: validation reports it (see `plan::validate`).
        (Some(_), Some(_)) => Field::new(BOTH_INSTANCE_FIELDS, None),
    };
    let event_id = match (source, raw.event_id) {
        (Source::Direct, Some(id)) => Field::new(paths.event_id, Some(id)),
        _ => fallback_event_id,
    };
    Intent {
        source,
        event_id,
        instance,
        contact: ContactRef::Id(Field::new(paths.contact, raw.contact_id)),
        user: Field::new(paths.user, raw.user_id),
        capabilities: Field::new(paths.capabilities, raw.capabilities),
        client_token: Field::new(paths.client_token, raw.client_token),
        initiation_method: Field::new("initiationMethod", None),
        contact_event: None,
        rule_name: None,
        event_time: None,
    }
}

/// The path recorded when a request names its instance twice.
pub const BOTH_INSTANCE_FIELDS: &str = "InstanceId and InstanceArn";

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Option<Loose> {
        Some(Loose::Str(v.to_owned()))
    }

    fn intent(json: &str) -> Intent {
        match read(json, "req-1") {
            Ok(Payload::Single(i)) => *i,
            Ok(other) => panic!("{json}: not a single event: {other:?}"),
            Err(e) => panic!("{json}: {e}"),
        }
    }

    fn batch(json: &str) -> Vec<Record> {
        match read(json, "req-1") {
            Ok(Payload::Batch(records)) => records,
            other => panic!("{json}: not a batch: {other:?}"),
        }
    }

    /// An SQS record whose body is `body` (a JSON value, put in as a string).
    fn record(message_id: &str, body: &str) -> serde_json::Value {
        serde_json::json!({
            "messageId": message_id, "receiptHandle": "rh", "body": body,
            "attributes": {"ApproximateReceiveCount": "2", "SentTimestamp": "1795000000000"},
            "messageAttributes": {}, "md5OfBody": "x", "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-1:111122223333:monitor-contact", "awsRegion": "us-east-1"
        })
    }

    const CONTACT_EVENT_JSON: &str = r#"{"version":"0","id":"ev-1","detail-type":"Amazon Connect Contact Event","source":"aws.connect",
        "time":"2026-11-22T10:00:00Z","detail":{"eventType":"CONNECTED_TO_AGENT","contactId":"c1","channel":"VOICE",
        "initiationMethod":"INBOUND","instanceArn":"arn:aws:connect:us-east-1:111122223333:instance/i1"}}"#;

    fn error(json: &str) -> MonitorError {
        match read(json, "req-1") {
            Ok(i) => panic!("{json} should fail, got {i:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn a_byte_order_mark_is_skipped_and_what_is_not_json_is_unrecognized() {
        let with_bom = format!("\u{feff}{CONTACT_EVENT_JSON}");
        assert_eq!(intent(&with_bom), intent(CONTACT_EVENT_JSON));
        for text in ["hello", "", "\u{feff}", "<xml/>", "{\"a\":", "\u{fffd}"] {
            let e = error(text);
            assert_eq!(e.kind, ErrorKind::UnrecognizedEvent, "{text:?}: {e}");
            assert!(e.message.contains("not valid JSON"), "{text:?}: {e}");
        }
    }

    #[test]
    fn empty_contact_flow_parameters_mean_not_given() {
        let i = intent(
            r#"{"Details":{"ContactData":{"ContactId":"c1","InstanceARN":"arn:x"},
            "Parameters":{"SupervisorUserId":"","AllowedMonitorCapabilities":" ","EventId":""}}}"#,
        );
        assert_eq!(i.user.value, None);
        assert_eq!(i.capabilities.value, None);
        assert_eq!(
            i.event_id,
            Field::new("Details.ContactData.ContactId", s("c1")),
            "the default event ID applies"
        );
        // Direct invocations keep empty values: validation refuses them.
        let i = intent(r#"{"InstanceId":"i1","ContactId":"c1","UserId":""}"#);
        assert_eq!(i.user.value, s(""));
    }

    #[test]
    fn contact_events_in_the_spellings_of_published_samples() {
        let upper = CONTACT_EVENT_JSON
            .replace("instanceArn", "instanceARN")
            .replace("\"VOICE\"", "\"Voice\"");
        let i = intent(&upper);
        assert_eq!(
            i.instance.value,
            s("arn:aws:connect:us-east-1:111122223333:instance/i1")
        );
        let state = i.contact_event.unwrap_or_else(|| panic!("contact event state"));
        assert_eq!(state.channel.value, s("Voice"), "case is validation's business");
        let both = CONTACT_EVENT_JSON.replace(
            r#""instanceArn":"#,
            r#""instanceARN":"arn:aws:connect:us-east-1:111122223333:instance/i1","instanceArn":"#,
        );
        assert!(error(&both).message.contains("duplicate field"));
    }

    #[test]
    fn contact_events_carry_time_agent_and_queue() {
        let json = CONTACT_EVENT_JSON.replace(
            r#""initiationMethod":"INBOUND""#,
            r#""initiationMethod":"INBOUND","agentInfo":{"agentArn":"arn:a","connectedToAgentTimestamp":"t"},
            "queueInfo":{"queueArn":"arn:q","enqueueTimestamp":"t"}"#,
        );
        let i = intent(&json);
        assert_eq!(i.event_time, Some(Field::new("time", s("2026-11-22T10:00:00Z"))));
        let state = i.contact_event.unwrap_or_else(|| panic!("contact event state"));
        assert_eq!(state.agent, Field::new("detail.agentInfo.agentArn", s("arn:a")));
        assert_eq!(state.queue, Field::new("detail.queueInfo.queueArn", s("arn:q")));
        // INITIATED events have no agent: absent, not an error; null reads as absent too.
        let i = intent(&CONTACT_EVENT_JSON.replace(r#""channel""#, r#""agentInfo":null,"channel""#));
        assert_eq!(i.contact_event.map(|c| c.agent.value), Some(None));
        let e = error(&CONTACT_EVENT_JSON.replace(r#""channel""#, r#""agentInfo":"a","channel""#));
        assert!(e.message.contains("detail.agentInfo must be an object"), "{e}");
    }

    #[test]
    fn contact_events_carry_the_agents_hierarchy_groups() {
        let json = CONTACT_EVENT_JSON.replace(
            r#""initiationMethod":"INBOUND""#,
            r#""initiationMethod":"INBOUND","agentInfo":{"agentArn":"arn:a","hierarchyGroups":{
                "level1":{"arn":"arn:g1"},"level2":null,"level3":{"arn":"arn:g3","name":"ignored"},"level5":{}}}"#,
        );
        let state = intent(&json)
            .contact_event
            .unwrap_or_else(|| panic!("contact event state"));
        let path = |level: usize| GROUP_ARNS[level - 1];
        assert_eq!(
            state.hierarchy_groups,
            [
                Field::new(path(1), s("arn:g1")),
                Field::new(path(2), None),
                Field::new(path(3), s("arn:g3")),
                Field::new(path(4), None),
                Field::new(path(5), None),
            ]
        );
        assert_eq!(path(3), "detail.agentInfo.hierarchyGroups.level3.arn");
        // Without hierarchy groups (or agent info): every level absent, not an error.
        let state = intent(CONTACT_EVENT_JSON)
            .contact_event
            .unwrap_or_else(|| panic!("contact event state"));
        assert!(state.hierarchy_groups.iter().all(|f| !f.is_given()));
        // Wrong types are recorded, not fatal here: validation names the field.
        let json = CONTACT_EVENT_JSON.replace(
            r#""channel""#,
            r#""agentInfo":{"hierarchyGroups":{"level1":{"arn":5}}},"channel""#,
        );
        let state = intent(&json)
            .contact_event
            .unwrap_or_else(|| panic!("contact event state"));
        assert_eq!(state.hierarchy_groups[0].value, Some(Loose::Other("a number")));
        let e = error(&CONTACT_EVENT_JSON.replace(r#""channel""#, r#""agentInfo":{"hierarchyGroups":1},"channel""#));
        assert!(
            e.message
                .contains("detail.agentInfo.hierarchyGroups must be an object, got a number"),
            "{e}"
        );
        let e = error(&CONTACT_EVENT_JSON.replace(
            r#""channel""#,
            r#""agentInfo":{"hierarchyGroups":{"level4":[]}},"channel""#,
        ));
        assert!(
            e.message
                .contains("detail.agentInfo.hierarchyGroups.level4 must be an object, got an array"),
            "{e}"
        );
    }

    #[test]
    fn an_sqs_batch_is_read_record_by_record() {
        let custom = r#"{"id":"ev-2","detail-type":"QA","source":"qa","detail":{"InstanceId":"i1","ContactId":"c2"}}"#;
        let payload = serde_json::json!({"Records": [
            record("m-1", CONTACT_EVENT_JSON),
            record("m-2", &format!("\u{feff}{custom}")),
            record("m-3", r#"{"InstanceId":"i1","ContactId":"c3"}"#),
            record("m-4", "not json"),
        ]})
        .to_string();
        let records = batch(&payload);
        assert_eq!(records.len(), 4);
        assert_eq!(records[0].message_id, "m-1");
        assert_eq!(records[0].receive_count, Some(2));
        assert_eq!(records[0].intent, Ok(intent(CONTACT_EVENT_JSON)), "the same reader");
        assert_eq!(records[1].intent.as_ref().map(|i| i.source), Ok(Source::CustomEvent));
        let e = records[2]
            .intent
            .clone()
            .err()
            .unwrap_or_else(|| panic!("a direct request in a body"));
        assert_eq!(e.kind, ErrorKind::UnrecognizedEvent);
        assert!(e.message.contains("must be an EventBridge event"), "{e}");
        assert_eq!(
            records[3].intent.clone().err().map(|e| e.kind),
            Some(ErrorKind::UnrecognizedEvent)
        );
        assert!(batch(r#"{"Records":[]}"#).is_empty());
    }

    #[test]
    fn a_broken_envelope_fails_the_whole_batch() {
        let mut no_id = record("m-1", CONTACT_EVENT_JSON);
        no_id["messageId"] = serde_json::Value::Null;
        let e = error(&serde_json::json!({"Records": [no_id]}).to_string());
        assert!(e.message.contains("Records[0].messageId must not be empty"), "{e}");
        let mut s3 = record("m-1", CONTACT_EVENT_JSON);
        s3["eventSource"] = serde_json::json!("aws:s3");
        let e = error(&serde_json::json!({"Records": [s3]}).to_string());
        assert_eq!(e.kind, ErrorKind::UnrecognizedEvent);
        assert!(e.message.contains("Records[0].eventSource must be aws:sqs"), "{e}");
        let e = error(r#"{"Records":[{"messageId":5,"eventSource":"aws:sqs"}]}"#);
        assert!(
            e.message
                .contains("the SQS batch (Records) has a value of the wrong type"),
            "{e}"
        );
        let e = error(r#"{"Records":"x"}"#);
        assert_eq!(e.kind, ErrorKind::InvalidEvent);
        let mut no_body = record("m-1", CONTACT_EVENT_JSON);
        no_body["body"] = serde_json::Value::Null;
        let records = batch(&serde_json::json!({"Records": [no_body]}).to_string());
        assert!(
            records[0]
                .intent
                .clone()
                .err()
                .is_some_and(|e| e.message.contains("Records[0].body is required"))
        );
    }

    #[test]
    fn contact_flow_event_with_nulls_and_unknown_fields() {
        let i = intent(
            r#"{"Name":"ContactFlowEvent","Details":{"ContactData":{"Attributes":{"k":"v"},"AwsRegion":"us-east-1",
            "Channel":"CHAT","ContactId":"c1","CustomerEndpoint":null,"SystemEndpoint":null,"Queue":null,
            "InitiationMethod":"API","InstanceARN":"arn:aws:connect:us-east-1:111122223333:instance/i1",
            "MediaStreams":{"Customer":{"Audio":null}},"SegmentAttributes":{"x":{"ValueString":"y"}},"Tags":{}},
            "Parameters":{"SupervisorUserId":"u1","AllowedMonitorCapabilities":"SILENT_MONITOR"}}}"#,
        );
        assert_eq!(i.source, Source::ContactFlow);
        assert_eq!(i.event_id, Field::new("Details.ContactData.ContactId", s("c1")));
        assert_eq!(
            i.instance.value,
            s("arn:aws:connect:us-east-1:111122223333:instance/i1")
        );
        assert!(matches!(&i.contact, ContactRef::Id(f) | ContactRef::Arn(f) if f.value == s("c1")));
        assert_eq!(i.user, Field::new("Details.Parameters.SupervisorUserId", s("u1")));
        assert_eq!(i.capabilities.value, s("SILENT_MONITOR"));
        assert_eq!(i.initiation_method.value, s("API"));
        assert_eq!(i.contact_event, None);
    }

    #[test]
    fn contact_flow_event_id_parameter_wins() {
        let i = intent(r#"{"Details":{"ContactData":{"ContactId":"c1"},"Parameters":{"EventId":"e9"}}}"#);
        assert_eq!(i.event_id, Field::new("Details.Parameters.EventId", s("e9")));
    }

    #[test]
    fn contact_flow_structure_errors_name_the_field() {
        assert!(
            error(r#"{"Name":"ContactFlowEvent"}"#)
                .message
                .contains("Details is required")
        );
        assert!(
            error(r#"{"Details":"x"}"#)
                .message
                .contains("Details must be an object, got a string")
        );
        assert!(
            error(r#"{"Details":{}}"#)
                .message
                .contains("Details.ContactData is required")
        );
        assert!(
            error(r#"{"Details":{"ContactData":[1]}}"#)
                .message
                .contains("Details.ContactData must be an object, got an array")
        );
        assert!(
            error(r#"{"Details":{"ContactData":{},"Parameters":7}}"#)
                .message
                .contains("Details.Parameters must be an object, got a number")
        );
    }

    #[test]
    fn contact_event() {
        let i = intent(
            r#"{"version":"0","id":"ev-1","detail-type":"Amazon Connect Contact Event","source":"aws.connect",
            "account":"111122223333","time":"2026-11-22T10:00:00Z","region":"us-east-1","resources":[],
            "detail":{"eventType":"CONNECTED_TO_AGENT","contactId":"c1","channel":"VOICE","initiationMethod":"INBOUND",
            "instanceArn":"arn:aws:connect:us-east-1:111122223333:instance/i1","agentInfo":{"agentArn":"a"},"queueInfo":{}}}"#,
        );
        assert_eq!(i.source, Source::ContactEvent);
        assert_eq!(i.event_id, Field::new("id", s("ev-1")));
        assert_eq!(i.contact, ContactRef::Id(Field::new("detail.contactId", s("c1"))));
        assert_eq!(i.user.value, None);
        assert_eq!(i.initiation_method.value, s("INBOUND"));
        let state = i.contact_event.unwrap_or_else(|| panic!("contact event state"));
        assert_eq!(state.event_type.value, s("CONNECTED_TO_AGENT"));
        assert_eq!(state.channel.value, s("VOICE"));
    }

    #[test]
    fn contact_lens_rule_event() {
        let i = intent(
            r#"{"version":"0","id":"cl-1","detail-type":"Contact Lens Realtime Rules Matched","source":"aws.connect",
            "detail":{"version":"1.0","ruleName":"Customer upset","actionName":"GenerateEventBridgeEvent",
            "contactArn":"arn:aws:connect:us-east-1:111122223333:instance/i1/contact/c1",
            "instanceArn":"arn:aws:connect:us-east-1:111122223333:instance/i1","agentArn":"a","queueArn":"q"}}"#,
        );
        assert_eq!(i.source, Source::ContactLens);
        assert_eq!(i.event_id, Field::new("id", s("cl-1")));
        assert_eq!(
            i.contact,
            ContactRef::Arn(Field::new(
                "detail.contactArn",
                s("arn:aws:connect:us-east-1:111122223333:instance/i1/contact/c1")
            ))
        );
        assert_eq!(i.rule_name, Some(Field::new("detail.ruleName", s("Customer upset"))));
        let e =
            error(r#"{"id":"e","detail-type":"Contact Lens Realtime Chat Rules Matched","source":"x","detail":{}}"#);
        assert!(e.message.contains("source must be aws.connect"), "{e}");
    }

    #[test]
    fn contact_event_must_come_from_connect() {
        let e = error(r#"{"id":"e","detail-type":"Amazon Connect Contact Event","source":"my.app","detail":{}}"#);
        assert!(e.message.contains("source must be aws.connect"), "{e}");
    }

    #[test]
    fn custom_eventbridge_event_reads_request_fields_from_detail() {
        let i = intent(
            r#"{"version":"0","id":"ev-2","detail-type":"QA Monitor Request","source":"qa.scheduler",
            "detail":{"InstanceId":"i1","ContactId":"c1","UserId":"u1","AllowedMonitorCapabilities":["SILENT_MONITOR"],"EventId":"ignored"}}"#,
        );
        assert_eq!(i.source, Source::CustomEvent);
        assert_eq!(
            i.event_id,
            Field::new("id", s("ev-2")),
            "the envelope id is the event ID"
        );
        assert_eq!(i.instance, Field::new("detail.InstanceId", s("i1")));
        assert_eq!(i.user, Field::new("detail.UserId", s("u1")));
        assert_eq!(i.capabilities.value, Some(Loose::List(vec!["SILENT_MONITOR".into()])));
    }

    #[test]
    fn eventbridge_structure_errors() {
        assert!(
            error(r#"{"id":"e","detail-type":"X"}"#)
                .message
                .contains("detail is required")
        );
        assert!(
            error(r#"{"id":"e","detail-type":"X","detail":"s"}"#)
                .message
                .contains("detail must be an object")
        );
        assert!(
            error(r#"{"detail-type":"X","detail":{}}"#)
                .message
                .contains("id is required")
        );
        assert!(
            error(r#"{"id":"e","detail-type":1,"detail":{}}"#)
                .message
                .contains("detail-type must be a string")
        );
        assert!(
            error(r#"{"id":"e","detail":{}}"#)
                .message
                .contains("detail-type is required")
        );
    }

    #[test]
    fn direct_invocation_with_both_spellings() {
        let i = intent(r#"{"InstanceId":"i1","ContactId":"c1","UserId":"u1","EventId":"e1","ClientToken":"t1"}"#);
        assert_eq!(i.source, Source::Direct);
        assert_eq!(i.event_id, Field::new("EventId", s("e1")));
        assert_eq!(i.client_token, Field::new("ClientToken", s("t1")));
        let i = intent(
            r#"{"instanceArn":"arn:aws:connect:us-east-1:111122223333:instance/i1","contactId":"c1","userId":"u1"}"#,
        );
        assert_eq!(i.instance.path, "InstanceArn");
        assert!(matches!(&i.contact, ContactRef::Id(f) | ContactRef::Arn(f) if f.value == s("c1")));
        assert_eq!(i.user.value, s("u1"));
        assert_eq!(i.event_id, Field::new("Lambda request ID", s("req-1")));
        let i = intent(r#"{"InstanceId":"i1","InstanceArn":"arn:x","ContactId":"c1"}"#);
        assert_eq!(i.instance, Field::new(BOTH_INSTANCE_FIELDS, None));
    }

    #[test]
    fn unrecognized_shapes() {
        for json in [
            r#"{}"#,
            r#"{"hello":"world"}"#,
            r#"[1,2]"#,
            r#""text""#,
            "42",
            "null",
            r#"{"Name":"Other"}"#,
        ] {
            assert_eq!(error(json).kind, ErrorKind::UnrecognizedEvent, "{json}");
        }
        assert!(error("{}").message.contains("contact flow event"));
    }

    #[test]
    fn unreadable_events_are_typed_errors_that_do_not_echo_values() {
        let e = error(r#"{"ContactId":"c","ContactId":"+15551234567"}"#);
        assert_eq!(e.kind, ErrorKind::InvalidEvent);
        assert!(e.message.contains("duplicate field `ContactId`"), "{e}");
        let e = error(r#"{"ContactId":"+15551234567""#);
        assert!(
            e.message.contains("not valid JSON") && !e.message.contains("555"),
            "{e}"
        );
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        let e = error(&format!(r#"{{"ContactId":{deep}}}"#));
        assert!(e.message.contains("nested too deeply"), "{e}");
        let big = format!(r#"{{"ContactId":"{}"}}"#, "x".repeat(MAX_EVENT_BYTES));
        assert!(error(&big).message.contains("limit is 262144"));
        let huge = "x".repeat(MAX_PAYLOAD_BYTES + 1);
        assert!(error(&huge).message.contains("the payload is 6291457 bytes"));
        // A batch may be larger than one event, each body no larger than one.
        let body = format!(
            r#"{{"id":"e","detail-type":"X","detail":{{"ContactId":"{}"}}}}"#,
            "x".repeat(200_000)
        );
        let payload = serde_json::json!({"Records": [record("m-1", &body), record("m-2", &body)]}).to_string();
        assert!(payload.len() > MAX_EVENT_BYTES);
        assert_eq!(batch(&payload).len(), 2);
    }
}

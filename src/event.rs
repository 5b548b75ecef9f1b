//! The event sources. One handler accepts three shapes, told apart by their keys:
//!
//! 1. a contact flow's "Invoke AWS Lambda function" block (`Details` / `Name: ContactFlowEvent`),
//! 2. an EventBridge event (`detail-type` / `detail`): an Amazon Connect contact event, or any
//!    other detail type whose `detail` carries the fields of shape 3,
//! 3. a direct invocation (`InstanceId`/`InstanceArn`, `ContactId`, ...).
//!
//! Reading picks each value out of its place and records where it came from (its JSON path), so
//! that validation can name the field. Nothing else in the event is kept: not the customer's
//! endpoint, not the contact attributes.

use serde::Deserialize;

use crate::error::{ErrorKind, MonitorError};
use crate::loose::{Loose, Obj};

/// Largest event accepted, in bytes. Contact-flow events carry the contact's attributes (at most
/// 32 KiB in Connect) and segment attributes; 256 KiB leaves room for all of them.
pub const MAX_EVENT_BYTES: usize = 256 * 1024;

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

/// What an Amazon Connect contact event says about the contact, for the skip rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactEventState {
    pub event_type: Field,
    pub channel: Field,
}

/// How an event names its contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContactRef {
    /// A contact ID; the instance is named beside it.
    Id(Field),
    /// A contact ARN: instance and contact in one (Contact Lens rule events).
    Arn(Field),
}

impl ContactRef {
    pub fn field(&self) -> &Field {
        match self {
            ContactRef::Id(field) | ContactRef::Arn(field) => field,
        }
    }
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
    /// Absent: derived from the event ID (see `token`).
    pub client_token: Field,
    /// The contact's initiation method, where the event reports it.
    pub initiation_method: Field,
    /// Present for Amazon Connect contact events only.
    pub contact_event: Option<ContactEventState>,
    /// The Contact Lens rule that matched.
    pub rule_name: Option<Field>,
}

#[derive(Deserialize, Default)]
struct RawEvent {
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
    detail: Option<Obj<Box<RawEvent>>>,
    // Direct invocation, and the detail of custom EventBridge events.
    #[serde(rename = "InstanceId", alias = "instanceId")]
    instance_id: Option<Loose>,
    #[serde(rename = "InstanceArn", alias = "instanceArn")]
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
    // The detail of Contact Lens rule events.
    #[serde(rename = "contactArn")]
    contact_arn: Option<Loose>,
    #[serde(rename = "ruleName")]
    rule_name: Option<Loose>,
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
an EventBridge event ({\"version\",\"id\",\"detail-type\",\"source\",\"detail\",...}) \
or a direct request ({\"InstanceId\" or \"InstanceArn\",\"ContactId\",\"UserId\",...})";

/// Reads an event. `request_id` is the Lambda request ID: the event ID of a direct invocation that
/// names none (Lambda keeps it across its own retries of an asynchronous invocation).
pub fn read(json: &str, request_id: &str) -> Result<Intent, MonitorError> {
    if json.len() > MAX_EVENT_BYTES {
        return Err(MonitorError::invalid(format!(
            "the event is {} bytes; the limit is {MAX_EVENT_BYTES}",
            json.len()
        )));
    }
    let raw = match serde_json::from_str::<Obj<RawEvent>>(json) {
        Ok(Obj::Present(raw)) => raw,
        Ok(Obj::Other(_)) => return Err(MonitorError::new(ErrorKind::UnrecognizedEvent, UNRECOGNIZED)),
        Err(e) => return Err(unreadable(&e)),
    };
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

/// A JSON error as a message that says where, never what: serde messages can quote values.
fn unreadable(e: &serde_json::Error) -> MonitorError {
    let what = match e.classify() {
        serde_json::error::Category::Data if e.to_string().starts_with("duplicate field") => {
            // "duplicate field `X`" names a key, never a value.
            let text = e.to_string();
            let end = text.find(" at line").unwrap_or(text.len());
            format!("the event has a {}", &text[..end])
        }
        serde_json::error::Category::Data => "the event has a value of the wrong type".to_owned(),
        serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
            "the event is not valid JSON".to_owned()
        }
        serde_json::error::Category::Io => "the event could not be read".to_owned(),
    };
    let what = if e.to_string().contains("recursion limit") {
        "the event is nested too deeply".to_owned()
    } else {
        what
    };
    MonitorError::invalid(format!("{what} (line {}, column {})", e.line(), e.column()))
}

/// Reads a nested object, or says which field is not an object.
fn object<T: Default>(path: &str, value: Option<Obj<T>>) -> Result<T, MonitorError> {
    match value {
        Some(Obj::Present(v)) => Ok(v),
        None => Ok(T::default()),
        Some(Obj::Other(kind)) => Err(MonitorError::invalid(format!("{path} must be an object, got {kind}"))),
    }
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
    let event_id = match params.event_id {
        Some(id) => Field::new("Details.Parameters.EventId", Some(id)),
        None => Field::new("Details.ContactData.ContactId", data.contact_id.clone()),
    };
    Ok(Intent {
        source: Source::ContactFlow,
        event_id,
        instance: Field::new("Details.ContactData.InstanceARN", data.instance_arn),
        contact: ContactRef::Id(Field::new("Details.ContactData.ContactId", data.contact_id)),
        user: Field::new("Details.Parameters.SupervisorUserId", params.supervisor_user_id),
        capabilities: Field::new("Details.Parameters.AllowedMonitorCapabilities", params.capabilities),
        client_token: Field::new("Details.Parameters.ClientToken", None),
        initiation_method: Field::new("Details.ContactData.InitiationMethod", data.initiation_method),
        contact_event: None,
        rule_name: None,
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
    let detail = match raw.detail {
        Some(Obj::Present(d)) => *d,
        Some(Obj::Other(kind)) => return Err(MonitorError::invalid(format!("detail must be an object, got {kind}"))),
        None => return Err(MonitorError::invalid("detail is required in an EventBridge event")),
    };
    let from_connect = matches!(&raw.source, Some(Loose::Str(s)) if s == "aws.connect");
    if CONTACT_LENS_EVENTS.contains(&detail_type.as_str()) {
        if !from_connect {
            return Err(MonitorError::invalid(format!(
                "source must be aws.connect for detail-type {detail_type}"
            )));
        }
        return Ok(Intent {
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
        });
    }
    if detail_type != CONTACT_EVENT {
        return Ok(request_fields(detail, Source::CustomEvent, &DETAIL, event_id));
    }
    if !from_connect {
        return Err(MonitorError::invalid(format!(
            "source must be aws.connect for detail-type {CONTACT_EVENT}"
        )));
    }
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
        }),
        rule_name: None,
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
        // Both given: validation reports it (see `request::validate`).
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
            Ok(i) => i,
            Err(e) => panic!("{json}: {e}"),
        }
    }

    fn error(json: &str) -> MonitorError {
        match read(json, "req-1") {
            Ok(i) => panic!("{json} should fail, got {i:?}"),
            Err(e) => e,
        }
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
        assert_eq!(i.contact.field().value, s("c1"));
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
        assert_eq!(i.contact.field().value, s("c1"));
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
    }
}

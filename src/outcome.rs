//! What a successful invocation returns: a flat JSON object of strings, so that a contact flow can
//! read every field with `$.External.<Field>` (Connect rejects nested Lambda responses).

use serde::Serialize;

/// Why an event did not start monitoring, by design rather than by error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SkipReason {
    /// The contact event's `eventType` is not one of `TRIGGER_EVENT_TYPES`.
    NotATriggerEvent,
    /// The contact is itself a monitor (`initiationMethod` MONITOR): acting on it would loop.
    MonitorContact,
    /// The contact's channel is not one of `MONITORED_CHANNELS`.
    ChannelNotMonitored,
    /// QA sampling (`SAMPLE_PERCENT`) left this contact out.
    NotSampled,
    /// `VERIFY_CONTACT`: DescribeContact reports that the contact has ended.
    ContactEnded,
    /// No member of the supervisor pool is logged in and below their monitoring limit.
    NoSupervisorAvailable,
    /// The pool-picked supervisor's ClientToken was already used for this event with another
    /// supervisor: an earlier delivery of the event started the monitor.
    AlreadyMonitored,
}

impl SkipReason {
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::NotATriggerEvent => "NOT_A_TRIGGER_EVENT",
            SkipReason::MonitorContact => "MONITOR_CONTACT",
            SkipReason::ChannelNotMonitored => "CHANNEL_NOT_MONITORED",
            SkipReason::NotSampled => "NOT_SAMPLED",
            SkipReason::ContactEnded => "CONTACT_ENDED",
            SkipReason::NoSupervisorAvailable => "NO_SUPERVISOR_AVAILABLE",
            SkipReason::AlreadyMonitored => "ALREADY_MONITORED",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "Status", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Outcome {
    #[serde(rename_all = "PascalCase")]
    Started {
        contact_arn: String,
        monitor_contact_id: String,
        /// The monitored contact.
        contact_id: String,
        user_id: String,
        client_token: String,
        /// The Contact Lens rule that asked for the supervisor (escalations only).
        #[serde(skip_serializing_if = "Option::is_none")]
        rule_name: Option<String>,
    },
    #[serde(rename_all = "PascalCase")]
    Skipped { reason: SkipReason, contact_id: String },
}

impl Outcome {
    /// The status, or the skip reason, for the log line.
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Started { .. } => "STARTED",
            Outcome::Skipped { reason, .. } => reason.as_str(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn started_is_flat_strings() {
        let o = Outcome::Started {
            contact_arn: "arn:aws:connect:us-east-1:111122223333:instance/i/contact/m".into(),
            monitor_contact_id: "m".into(),
            contact_id: "c".into(),
            user_id: "u".into(),
            client_token: "t".into(),
            rule_name: None,
        };
        assert_eq!(
            serde_json::to_value(&o).ok(),
            Some(json!({
                "Status": "STARTED",
                "ContactArn": "arn:aws:connect:us-east-1:111122223333:instance/i/contact/m",
                "MonitorContactId": "m",
                "ContactId": "c",
                "UserId": "u",
                "ClientToken": "t"
            }))
        );
    }

    #[test]
    fn skipped_names_the_reason() {
        for (reason, text) in [
            (SkipReason::NotATriggerEvent, "NOT_A_TRIGGER_EVENT"),
            (SkipReason::MonitorContact, "MONITOR_CONTACT"),
            (SkipReason::ChannelNotMonitored, "CHANNEL_NOT_MONITORED"),
            (SkipReason::NotSampled, "NOT_SAMPLED"),
            (SkipReason::ContactEnded, "CONTACT_ENDED"),
            (SkipReason::NoSupervisorAvailable, "NO_SUPERVISOR_AVAILABLE"),
            (SkipReason::AlreadyMonitored, "ALREADY_MONITORED"),
        ] {
            let o = Outcome::Skipped {
                reason,
                contact_id: "c".into(),
            };
            assert_eq!(
                serde_json::to_value(&o).ok(),
                Some(json!({"Status": "SKIPPED", "Reason": text, "ContactId": "c"}))
            );
            assert_eq!(o.label(), text);
        }
    }
}

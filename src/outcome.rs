//! What a successful invocation returns: a flat JSON object of strings, so that a contact flow can
//! read every field with `$.External.<Field>` (Connect rejects nested Lambda responses).

use serde::Serialize;

/// Why an event did not start monitoring, by design rather than by error. Its name in the output,
/// the logs and the metrics is the variant's, in SCREAMING_SNAKE_CASE (serde and strum agree; a test
/// holds them to it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, strum::IntoStaticStr, strum::EnumIter)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[strum(serialize_all = "SCREAMING_SNAKE_CASE")]
pub enum SkipReason {
    /// The contact event's `eventType` is not one of `TRIGGER_EVENT_TYPES`.
    NotATriggerEvent,
    /// The contact is itself a monitor (`initiationMethod` MONITOR): acting on it would loop.
    MonitorContact,
    /// The contact's channel is not one of `MONITORED_CHANNELS`.
    ChannelNotMonitored,
    /// QA sampling (`SAMPLE_PERCENT`) left this contact out.
    NotSampled,
    /// The contact has ended (or Connect does not know it): DescribeContact says so, before
    /// MonitorContact (`VERIFY_CONTACT`) or after its failure (automatic paths).
    ContactEnded,
    /// No member of the supervisor pool is logged in and below their monitoring limit.
    NoSupervisorAvailable,
    /// The monitor this token stands for was started already (Connect refused the ClientToken for
    /// another user or other parameters): an earlier delivery, or a sibling event about the contact.
    AlreadyMonitored,
    /// The EventBridge event is older than `MAX_EVENT_AGE_SECONDS`: the contact is almost certainly over.
    EventTooOld,
    /// Automatic paths: the default supervisor is not logged in to the CCP or is at their limit.
    SupervisorUnavailable,
    /// `QA_RULES`: no rule matches the contact.
    NoMatchingRule,
    /// A QA rule's `perAgent`: the agent has had all of this period's monitors from that rule.
    QuotaReached,
    /// A QA rule's `perAgent`: the agent has had fewer than this period's monitors from that rule,
    /// but every slot open so far is taken; the next opens later in the period (see `quota`).
    NotYet,
}

impl SkipReason {
    /// The reason as the output and the metrics spell it.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// What an event came to, short of an error: the flat object a contact flow reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "Status", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Outcome {
    /// A monitor started, or the monitor this event stands for (a replay of its ClientToken).
    #[serde(rename_all = "PascalCase")]
    Started {
        /// The monitoring contact's ARN.
        contact_arn: String,
        /// The monitoring contact's ID.
        monitor_contact_id: String,
        /// The monitored contact.
        contact_id: String,
        /// The supervisor.
        user_id: String,
        /// The ClientToken sent.
        client_token: String,
        /// The Contact Lens rule that asked for the supervisor (escalations only).
        #[serde(skip_serializing_if = "Option::is_none")]
        rule_name: Option<String>,
        /// The QA rule that decided (contact events under `QA_RULES`).
        #[serde(skip_serializing_if = "Option::is_none")]
        qa_rule: Option<String>,
    },
    /// Nothing to do, by design.
    #[serde(rename_all = "PascalCase")]
    Skipped {
        /// Why.
        reason: SkipReason,
        /// The contact the event is about.
        contact_id: String,
        /// The QA rule that decided (contact events under `QA_RULES`).
        #[serde(skip_serializing_if = "Option::is_none")]
        qa_rule: Option<String>,
    },
}

impl Outcome {
    /// The status, or the skip reason, for the log line.
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Started { .. } => "STARTED",
            Outcome::Skipped { reason, .. } => reason.as_str(),
        }
    }

    /// The level of its log line: INFO, but WARN for a contact that should have been monitored and
    /// nobody could take (no pool member free, the supervisor unavailable): worth a look. A skip is
    /// never a batch item failure; it is counted as `Skipped` with its `Reason`.
    pub fn level(&self) -> tracing::Level {
        match self {
            Outcome::Skipped {
                reason: SkipReason::NoSupervisorAvailable | SkipReason::SupervisorUnavailable,
                ..
            } => tracing::Level::WARN,
            _ => tracing::Level::INFO,
        }
    }

    /// The QA rule that decided, if one did.
    pub fn qa_rule(&self) -> Option<&str> {
        match self {
            Outcome::Started { qa_rule, .. } | Outcome::Skipped { qa_rule, .. } => qa_rule.as_deref(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use strum::IntoEnumIterator;

    #[test]
    fn started_is_flat_strings() {
        let o = Outcome::Started {
            contact_arn: "arn:aws:connect:us-east-1:111122223333:instance/i/contact/m".into(),
            monitor_contact_id: "m".into(),
            contact_id: "c".into(),
            user_id: "u".into(),
            client_token: "t".into(),
            rule_name: None,
            qa_rule: None,
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
        let texts = [
            "NOT_A_TRIGGER_EVENT",
            "MONITOR_CONTACT",
            "CHANNEL_NOT_MONITORED",
            "NOT_SAMPLED",
            "CONTACT_ENDED",
            "NO_SUPERVISOR_AVAILABLE",
            "ALREADY_MONITORED",
            "EVENT_TOO_OLD",
            "SUPERVISOR_UNAVAILABLE",
            "NO_MATCHING_RULE",
            "QUOTA_REACHED",
            "NOT_YET",
        ];
        assert_eq!(SkipReason::iter().count(), texts.len());
        for (reason, text) in SkipReason::iter().zip(texts) {
            let o = Outcome::Skipped {
                reason,
                contact_id: "c".into(),
                qa_rule: None,
            };
            assert_eq!(
                serde_json::to_value(&o).ok(),
                Some(json!({"Status": "SKIPPED", "Reason": text, "ContactId": "c"}))
            );
            assert_eq!(o.label(), text);
        }
    }

    /// The `Reason` table of docs/events-and-errors.md has one row per reason, as the code spells it.
    #[test]
    fn the_documented_reasons_table_lists_every_reason() {
        let page = include_str!("../docs/events-and-errors.md");
        let table: Vec<&str> = page
            .lines()
            .skip_while(|line| !line.starts_with("| Reason | why |"))
            .skip(2)
            .take_while(|line| line.starts_with("| `"))
            .filter_map(|line| line.strip_prefix("| `")?.split('`').next())
            .collect();
        let mut documented = table.clone();
        documented.sort_unstable();
        let mut reasons: Vec<&str> = SkipReason::iter().map(SkipReason::as_str).collect();
        reasons.sort_unstable();
        assert_eq!(documented, reasons, "the table: {table:?}");
    }

    #[test]
    fn the_deciding_qa_rule_is_named() {
        let o = Outcome::Skipped {
            reason: SkipReason::NotSampled,
            contact_id: "c".into(),
            qa_rule: Some("billing".into()),
        };
        assert_eq!(
            serde_json::to_value(&o).ok(),
            Some(json!({"Status": "SKIPPED", "Reason": "NOT_SAMPLED", "ContactId": "c", "QaRule": "billing"}))
        );
        assert_eq!(o.qa_rule(), Some("billing"));
    }
}

//! The rules for the values this function sends to Connect: identifiers, instance ARNs,
//! monitor capabilities, event IDs and client tokens. Each check names the field it was given
//! and the rule; none echoes the rejected value.

/// Most characters an instance ID may have (MonitorContact `InstanceId`).
pub const MAX_INSTANCE_ID: usize = 100;
/// Most characters a contact ID may have (MonitorContact `ContactId`).
pub const MAX_CONTACT_ID: usize = 256;
/// Most characters a user ID may have (MonitorContact `UserId`).
pub const MAX_USER_ID: usize = 256;
/// Most characters a client token may have (MonitorContact `ClientToken`).
pub const MAX_CLIENT_TOKEN: usize = 500;
/// Most characters an event ID may have.
pub const MAX_EVENT_ID: usize = 256;

/// Channels MonitorContact supports.
pub const MONITORABLE_CHANNELS: [&str; 2] = ["VOICE", "CHAT"];

/// Checks an identifier: 1..=max characters of `A-Z a-z 0-9 - _`.
///
/// The API allows any string of the right length, but every real Connect ID is a UUID or similar;
/// restricting the characters keeps anything malformed out of request paths and log lines.
pub fn identifier(field: &str, value: &str, max: usize) -> Result<(), String> {
    if value.is_empty() {
        return Err(format!("{field} must not be empty"));
    }
    if value.len() > max {
        return Err(format!(
            "{field} must be at most {max} characters (it has {})",
            value.len()
        ));
    }
    if !value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(format!("{field} may contain only A-Z, a-z, 0-9, '-' and '_'"));
    }
    Ok(())
}

/// Checks a free-form token (event IDs, client tokens): 1..=max visible ASCII characters, no spaces.
pub fn token_text(field: &str, value: &str, max: usize) -> Result<(), String> {
    if value.is_empty() {
        return Err(format!("{field} must not be empty"));
    }
    if value.len() > max {
        return Err(format!(
            "{field} must be at most {max} characters (it has {})",
            value.len()
        ));
    }
    if !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(format!("{field} may contain only visible ASCII characters (no spaces)"));
    }
    Ok(())
}

const PARTITIONS: [&str; 3] = ["aws", "aws-cn", "aws-us-gov"];

/// An instance named either by ID or by ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    pub id: String,
    /// The region from the ARN, when the instance was given as an ARN.
    pub region: Option<String>,
}

/// Reads an instance ID, or an instance ARN (`arn:<partition>:connect:<region>:<account>:instance/<id>`)
/// in any of the `aws`, `aws-cn` and `aws-us-gov` partitions.
pub fn instance(field: &str, value: &str) -> Result<Instance, String> {
    if !value.starts_with("arn:") {
        identifier(field, value, MAX_INSTANCE_ID)?;
        return Ok(Instance {
            id: value.to_owned(),
            region: None,
        });
    }
    let wrong = || {
        format!(
            "{field} must be an instance ID or an Amazon Connect instance ARN (arn:<partition>:connect:<region>:<account>:instance/<id>)"
        )
    };
    let mut parts = value.splitn(6, ':');
    let (Some("arn"), Some(partition), Some("connect"), Some(region), Some(account), Some(resource)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(wrong());
    };
    if !PARTITIONS.contains(&partition) {
        return Err(format!(
            "{field} has an unknown partition (expected one of aws, aws-cn, aws-us-gov)"
        ));
    }
    let region_ok = !region.is_empty()
        && region.len() <= 32
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    let account_ok = account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit());
    let Some(id) = resource.strip_prefix("instance/") else {
        return Err(wrong());
    };
    if !region_ok || !account_ok {
        return Err(wrong());
    }
    identifier(&format!("the instance ID in {field}"), id, MAX_INSTANCE_ID)?;
    Ok(Instance {
        id: id.to_owned(),
        region: Some(region.to_owned()),
    })
}

/// Reads a contact ARN (`arn:<partition>:connect:<region>:<account>:instance/<instance id>/contact/<contact id>`):
/// the instance (with the ARN's region) and the contact ID.
pub fn contact_arn(field: &str, value: &str) -> Result<(Instance, String), String> {
    instance_resource_arn(field, value, "contact", MAX_CONTACT_ID)
}

/// Reads the ARN of a user (`.../instance/<id>/agent/<user id>`, as contact events name the agent)
/// or of a queue (`.../instance/<id>/queue/<queue id>`): the instance and the resource's ID.
pub fn agent_arn(field: &str, value: &str) -> Result<(Instance, String), String> {
    instance_resource_arn(field, value, "agent", MAX_USER_ID)
}

/// See [`agent_arn`].
pub fn queue_arn(field: &str, value: &str) -> Result<(Instance, String), String> {
    instance_resource_arn(field, value, "queue", MAX_QUEUE_ID)
}

/// Most characters a queue ID may have.
pub const MAX_QUEUE_ID: usize = 256;

/// Reads the ARN of an agent hierarchy group (`.../instance/<id>/agent-group/<group id>`, as contact
/// events name the agent's groups and as QA rules may): the instance and the group's ID.
pub fn agent_group_arn(field: &str, value: &str) -> Result<(Instance, String), String> {
    instance_resource_arn(field, value, "agent-group", MAX_GROUP_ID)
}

/// Most characters a hierarchy group ID may have.
pub const MAX_GROUP_ID: usize = 256;

/// `arn:<partition>:connect:<region>:<account>:instance/<instance id>/<kind>/<id>`.
fn instance_resource_arn(field: &str, value: &str, kind: &str, max: usize) -> Result<(Instance, String), String> {
    let wrong = || {
        format!(
            "{field} must be an Amazon Connect {kind} ARN (arn:<partition>:connect:<region>:<account>:instance/<id>/{kind}/<id>)"
        )
    };
    let (instance_arn, id) = value.rsplit_once(&format!("/{kind}/")).ok_or_else(wrong)?;
    let instance = instance(field, instance_arn).map_err(|_| wrong())?;
    if instance.region.is_none() {
        return Err(wrong());
    }
    identifier(&format!("the {kind} ID in {field}"), id, max)?;
    Ok((instance, id.to_owned()))
}

/// Checks free text that goes into logs and outputs (a rule name): 1..=max characters, none of them
/// control characters (so that it cannot break a log line).
pub fn label(field: &str, value: &str, max: usize) -> Result<(), String> {
    if value.trim().is_empty() {
        return Err(format!("{field} must not be empty"));
    }
    if value.chars().count() > max {
        return Err(format!("{field} must be at most {max} characters"));
    }
    if value.chars().any(char::is_control) {
        return Err(format!("{field} must not contain control characters"));
    }
    Ok(())
}

/// What the supervisor may do. BARGE always travels together with SILENT_MONITOR: the service
/// requires `AllowedMonitorCapabilities` when barge is enabled, and a supervisor who may barge can
/// always listen first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Capabilities {
    SilentMonitor,
    SilentMonitorAndBarge,
}

pub const SILENT_MONITOR: &str = "SILENT_MONITOR";
pub const BARGE: &str = "BARGE";

impl Capabilities {
    pub fn names(self) -> &'static [&'static str] {
        match self {
            Capabilities::SilentMonitor => &[SILENT_MONITOR],
            Capabilities::SilentMonitorAndBarge => &[SILENT_MONITOR, BARGE],
        }
    }

    pub fn includes_barge(self) -> bool {
        self == Capabilities::SilentMonitorAndBarge
    }

    /// Reads a list of capability names (each trimmed of spaces). An empty list means "not given"
    /// (`None`): the configured default applies. At most 2 entries, no duplicates, each
    /// SILENT_MONITOR or BARGE.
    pub fn parse<'a>(field: &str, entries: impl IntoIterator<Item = &'a str>) -> Result<Option<Self>, String> {
        let (mut silent, mut barge, mut count) = (false, false, 0usize);
        for (index, raw) in entries.into_iter().enumerate() {
            count += 1;
            let flag = match raw.trim() {
                SILENT_MONITOR => &mut silent,
                BARGE => &mut barge,
                "" => return Err(format!("{field} entry {} is empty", index + 1)),
                _ => {
                    return Err(format!(
                        "{field} entry {} is not a monitor capability (allowed: SILENT_MONITOR, BARGE)",
                        index + 1
                    ));
                }
            };
            if *flag {
                return Err(format!("{field} lists a capability more than once"));
            }
            *flag = true;
        }
        if count > 2 {
            return Err(format!("{field} may list at most 2 capabilities"));
        }
        Ok(match (silent, barge) {
            (false, false) => None,
            (_, true) => Some(Capabilities::SilentMonitorAndBarge),
            (true, false) => Some(Capabilities::SilentMonitor),
        })
    }

    /// Reads a comma-separated list ("SILENT_MONITOR,BARGE"); an empty or blank string is "not given".
    pub fn parse_csv(field: &str, csv: &str) -> Result<Option<Self>, String> {
        if csv.trim().is_empty() {
            return Ok(None);
        }
        Capabilities::parse(field, csv.split(','))
    }
}

/// Splits a comma-separated list, trimming entries and dropping empty ones.
pub fn csv(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(str::trim).filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    const UUID: &str = "a1b2c3d4-5678-90ab-cdef-111122223333";

    #[test]
    fn identifiers_follow_length_and_character_rules() {
        assert!(identifier("ContactId", UUID, MAX_CONTACT_ID).is_ok());
        assert!(identifier("ContactId", "abc_DEF-123", MAX_CONTACT_ID).is_ok());
        assert_eq!(
            identifier("ContactId", "", 256),
            Err("ContactId must not be empty".into())
        );
        assert!(identifier("InstanceId", &"a".repeat(100), MAX_INSTANCE_ID).is_ok());
        assert_eq!(
            identifier("InstanceId", &"a".repeat(101), MAX_INSTANCE_ID),
            Err("InstanceId must be at most 100 characters (it has 101)".into())
        );
        assert!(identifier("UserId", &"u".repeat(256), MAX_USER_ID).is_ok());
        assert!(identifier("UserId", &"u".repeat(257), MAX_USER_ID).is_err());
        for bad in ["a/b", "a b", "../x", "a%2F", "é", "+15551234567", "a\nb"] {
            let err = identifier("UserId", bad, MAX_USER_ID).err().unwrap_or_default();
            assert!(err.contains("UserId may contain only"), "{bad:?} gave {err:?}");
            assert!(!err.contains(bad), "the message must not echo the value");
        }
    }

    #[test]
    fn token_text_allows_visible_ascii_only() {
        assert!(token_text("EventId", "qa-2026-11-22T10:00:00Z#1", MAX_EVENT_ID).is_ok());
        assert!(token_text("EventId", "has space", MAX_EVENT_ID).is_err());
        assert!(token_text("EventId", "", MAX_EVENT_ID).is_err());
        assert!(token_text("ClientToken", &"t".repeat(500), MAX_CLIENT_TOKEN).is_ok());
        assert!(token_text("ClientToken", &"t".repeat(501), MAX_CLIENT_TOKEN).is_err());
        assert!(token_text("EventId", "tab\there", MAX_EVENT_ID).is_err());
    }

    #[test]
    fn instance_ids_and_arns_in_every_partition() {
        assert_eq!(
            instance("InstanceId", UUID),
            Ok(Instance {
                id: UUID.into(),
                region: None
            })
        );
        for (partition, region) in [
            ("aws", "us-east-1"),
            ("aws-cn", "cn-north-1"),
            ("aws-us-gov", "us-gov-west-1"),
        ] {
            let arn = format!("arn:{partition}:connect:{region}:111122223333:instance/{UUID}");
            assert_eq!(
                instance("InstanceArn", &arn),
                Ok(Instance {
                    id: UUID.into(),
                    region: Some(region.into())
                }),
                "{arn}"
            );
        }
    }

    #[test]
    fn malformed_instance_arns_are_rejected_with_the_field_named() {
        for bad in [
            "arn:aws:connect:us-east-1:111122223333:instance/",
            "arn:aws:connect:us-east-1:111122223333:queue/abc",
            "arn:aws:connect:us-east-1:111122223333:instance/abc/contact/def",
            "arn:aws:lambda:us-east-1:111122223333:instance/abc",
            "arn:aws:connect:us-east-1:1111:instance/abc",
            "arn:aws:connect::111122223333:instance/abc",
            "arn:aws:connect:US-EAST-1:111122223333:instance/abc",
            "arn:aws-xx:connect:us-east-1:111122223333:instance/abc",
            "arn:aws:connect",
            "arn:",
        ] {
            let err = instance("Details.ContactData.InstanceARN", bad)
                .err()
                .unwrap_or_default();
            assert!(err.contains("Details.ContactData.InstanceARN"), "{bad}: {err}");
        }
    }

    #[test]
    fn contact_arns() {
        let arn = format!("arn:aws:connect:us-east-1:111122223333:instance/{UUID}/contact/c0ffee");
        assert_eq!(
            contact_arn("detail.contactArn", &arn),
            Ok((
                Instance {
                    id: UUID.into(),
                    region: Some("us-east-1".into())
                },
                "c0ffee".into()
            ))
        );
        for bad in [
            "c0ffee".to_owned(),
            format!("arn:aws:connect:us-east-1:111122223333:instance/{UUID}"),
            format!("arn:aws:connect:us-east-1:111122223333:instance/{UUID}/contact/"),
            format!("arn:aws:connect:us-east-1:111122223333:instance/{UUID}/contact/a/b"),
            format!("arn:aws:connect:us-east-1:111122223333:queue/{UUID}/contact/c"),
            format!("{UUID}/contact/c"),
        ] {
            let err = contact_arn("detail.contactArn", &bad).err().unwrap_or_default();
            assert!(err.contains("detail.contactArn"), "{bad}: {err}");
        }
    }

    #[test]
    fn labels_allow_any_text_but_control_characters() {
        assert!(label("detail.ruleName", "Kunde verärgert – eskalieren", 256).is_ok());
        assert!(label("detail.ruleName", r"a\nb", 256).is_ok(), "a backslash is text");
        assert!(
            label("detail.ruleName", "a\nb", 256).is_err(),
            "a newline would break a log line"
        );
        assert!(label("detail.ruleName", " ", 256).is_err());
        assert!(label("detail.ruleName", &"r".repeat(257), 256).is_err());
    }

    #[test]
    fn capabilities_follow_the_api_rules() {
        let f = "AllowedMonitorCapabilities";
        assert_eq!(
            Capabilities::parse(f, ["SILENT_MONITOR"]),
            Ok(Some(Capabilities::SilentMonitor))
        );
        assert_eq!(
            Capabilities::parse(f, ["BARGE"]),
            Ok(Some(Capabilities::SilentMonitorAndBarge))
        );
        assert_eq!(
            Capabilities::parse(f, ["BARGE", "SILENT_MONITOR"]),
            Ok(Some(Capabilities::SilentMonitorAndBarge))
        );
        assert_eq!(Capabilities::parse(f, []), Ok(None));
        assert!(Capabilities::parse(f, ["BARGE", "BARGE"]).is_err_and(|e| e.contains("more than once")));
        assert!(Capabilities::parse(f, ["silent_monitor"]).is_err_and(|e| e.contains("entry 1")));
        assert!(Capabilities::parse(f, ["SILENT_MONITOR", "BARGE", "X"]).is_err());
        assert!(Capabilities::parse(f, ["SILENT_MONITOR", "BARGE", "BARGE"]).is_err());
        assert_eq!(
            Capabilities::parse_csv(f, " SILENT_MONITOR , BARGE "),
            Ok(Some(Capabilities::SilentMonitorAndBarge))
        );
        assert_eq!(Capabilities::parse_csv(f, "  "), Ok(None));
        assert!(Capabilities::parse_csv(f, "SILENT_MONITOR,").is_err_and(|e| e.contains("entry 2 is empty")));
        assert_eq!(
            Capabilities::SilentMonitorAndBarge.names(),
            &["SILENT_MONITOR", "BARGE"]
        );
    }

    #[test]
    fn csv_trims_and_drops_empty_entries() {
        assert_eq!(csv(" a, b,,c ").collect::<Vec<_>>(), ["a", "b", "c"]);
        assert_eq!(csv("").count(), 0);
    }
}

//! The automatic paths decide per contact (issue 9), end to end: the real handler and SDK client over
//! HTTP on 127.0.0.1 against the local Connect double. Any number of events about one contact attach
//! at most one monitor per named supervisor and one pool-picked monitor per purpose; what happens
//! every day is a skip with the calls stated; a configuration problem stays an error.

mod support;

use monitor_contact::client_token::{self, Purpose};
use monitor_contact::{ErrorKind, Outcome, SkipReason};
use serde_json::json;
use support::connect_double::{ContactSpec, DESCRIBE_CONTACT, MONITOR_CONTACT, Scenario};
use support::harness::*;

const POOL_OF_FIVE: &str = "a0000000-0000-4000-8000-000000000001,a0000000-0000-4000-8000-000000000002,a0000000-0000-4000-8000-000000000003,a0000000-0000-4000-8000-000000000004,a0000000-0000-4000-8000-000000000005";

/// Every user is logged in and free.
async fn open_double() -> support::connect_double::ConnectDouble {
    double(Scenario::open()).await
}

fn with_pool_of_five(double: &support::connect_double::ConnectDouble) -> TestApp {
    app_for(
        double,
        &[
            ("DEFAULT_SUPERVISOR_USER_ID", ""),
            ("SUPERVISOR_POOL_USER_IDS", POOL_OF_FIVE),
        ],
    )
}

/// Monitors still running on `contact`, in the double.
fn running_on(double: &support::connect_double::ConnectDouble, contact: &str) -> usize {
    double
        .monitors()
        .iter()
        .filter(|m| m.contact == contact && m.running())
        .count()
}

fn arn(result: &Result<Outcome, monitor_contact::MonitorError>) -> Option<String> {
    match result {
        Ok(Outcome::Started { contact_arn, .. }) => Some(contact_arn.clone()),
        _ => None,
    }
}

/// STARTED with the first monitor's ARN, or ALREADY_MONITORED: either way no second monitor.
fn served_by(
    first: &Result<Outcome, monitor_contact::MonitorError>,
    later: &Result<Outcome, monitor_contact::MonitorError>,
) {
    match later {
        Ok(Outcome::Skipped {
            reason: SkipReason::AlreadyMonitored,
            ..
        }) => {}
        Ok(Outcome::Started { .. }) => assert_eq!(arn(first), arn(later), "the same monitor, replayed"),
        other => panic!("expected the first monitor to serve, got {other:?}"),
    }
}

#[tokio::test]
async fn two_contact_lens_rules_on_one_call_attach_one_supervisor_from_a_free_pool() {
    let double = open_double().await;
    let app = with_pool_of_five(&double);
    let first = invoke(&app, &contact_lens_event("cl-1", VOICE, "Negative sentiment")).await;
    let (_, token, _) = started(&first);
    assert_eq!(
        token,
        client_token::contact_pool_token(INSTANCE, VOICE, Purpose::Escalation)
    );
    let second = invoke(&app, &contact_lens_event("cl-2", VOICE, "Asks for a manager")).await;
    served_by(&first, &second);
    // A redelivery of either changes nothing.
    let again = invoke(&app, &contact_lens_event("cl-1", VOICE, "Negative sentiment")).await;
    served_by(&first, &again);
    assert_eq!(running_on(&double, VOICE), 1, "one supervisor on the call");
}

#[tokio::test]
async fn initiated_then_connected_to_agent_attach_one_monitor() {
    let double = open_double().await;
    let app = app_for(&double, &[("TRIGGER_EVENT_TYPES", "INITIATED,CONNECTED_TO_AGENT")]);
    let initiated = invoke(&app, &contact_event("ev-initiated", VOICE, "INITIATED")).await;
    let (_, token, user) = started(&initiated);
    assert_eq!(
        (token, user.as_str()),
        (client_token::contact_token(INSTANCE, VOICE, SUPERVISOR), SUPERVISOR)
    );
    let connected = invoke(&app, &contact_event("ev-connected", VOICE, "CONNECTED_TO_AGENT")).await;
    served_by(&initiated, &connected);
    assert_eq!(running_on(&double, VOICE), 1);
    // The same with a pool: one QA pick for the contact, whichever event comes first.
    let double = open_double().await;
    let app = app_for(
        &double,
        &[
            ("DEFAULT_SUPERVISOR_USER_ID", ""),
            ("SUPERVISOR_POOL_USER_IDS", POOL_OF_FIVE),
            ("TRIGGER_EVENT_TYPES", "INITIATED,CONNECTED_TO_AGENT"),
        ],
    );
    let connected = invoke(&app, &contact_event("ev-connected", VOICE, "CONNECTED_TO_AGENT")).await;
    let initiated = invoke(&app, &contact_event("ev-initiated", VOICE, "INITIATED")).await;
    served_by(&connected, &initiated);
    assert_eq!(running_on(&double, VOICE), 1);
}

#[tokio::test]
async fn two_contacts_get_two_monitors_and_qa_and_escalation_may_both_listen() {
    let double = open_double().await;
    let app = with_pool_of_five(&double);
    let a = started(&invoke(&app, &contact_event("ev-a", VOICE, "CONNECTED_TO_AGENT")).await);
    let b = started(&invoke(&app, &contact_event("ev-b", CHAT, "CONNECTED_TO_AGENT")).await);
    assert_ne!(a.0, b.0);
    let escalation = started(&invoke(&app, &contact_lens_event("cl-a", VOICE, "upset")).await);
    assert_ne!(escalation.0, a.0, "a QA reviewer and an escalation supervisor");
    assert_ne!(escalation.2, a.2, "two people");
    assert_eq!(running_on(&double, VOICE), 2);
    assert_eq!(running_on(&double, CHAT), 1);
}

#[tokio::test]
async fn custom_events_and_direct_requests_keep_per_event_tokens() {
    let double = open_double().await;
    let app = app_for(&double, &[]);
    let custom = |id: &str| {
        let mut event: serde_json::Value = serde_json::from_str(&sample("eventbridge-custom.json")).unwrap_or_default();
        event["id"] = json!(id);
        event.to_string()
    };
    let first = started(&invoke(&app, &custom("qa-1")).await);
    let second = started(&invoke(&app, &custom("qa-2")).await);
    assert_ne!(first.1, second.1, "a caller that names a new event means a new monitor");
    assert!(first.1.starts_with("mc1-"), "{first:?}");
}

#[tokio::test]
async fn a_call_that_ended_first_is_a_skip_after_one_describe_contact() {
    let double = pool_double().await;
    // The default supervisor is free; the contact ended before the monitor could start.
    let app = app_for(
        &double,
        &[
            ("DEFAULT_SUPERVISOR_USER_ID", FREE),
            ("ALLOWED_SUPERVISOR_USER_IDS", FREE),
        ],
    );
    let result = invoke(&app, &contact_event("ev-ended", ENDED, "CONNECTED_TO_AGENT")).await;
    assert_eq!(skipped(&result), SkipReason::ContactEnded);
    assert_eq!(operations(&double), [MONITOR_CONTACT, DESCRIBE_CONTACT]);
    // A contact Connect does not know: the same (it is over, or never was).
    let before = double.requests().len();
    let unknown = "0f0f0f0f-1111-4222-8333-444455556666";
    let result = invoke(&app, &contact_event("ev-unknown", unknown, "CONNECTED_TO_AGENT")).await;
    assert_eq!(skipped(&result), SkipReason::ContactEnded);
    assert_eq!(double.requests().len() - before, 2);
    // With the live check on, the check itself decides, before MonitorContact.
    let verified = app_for(
        &double,
        &[
            ("DEFAULT_SUPERVISOR_USER_ID", FREE),
            ("ALLOWED_SUPERVISOR_USER_IDS", FREE),
            ("VERIFY_CONTACT", "true"),
        ],
    );
    let before = double.requests().len();
    let result = invoke(&verified, &contact_event("ev-ended-2", ENDED, "CONNECTED_TO_AGENT")).await;
    assert_eq!(skipped(&result), SkipReason::ContactEnded);
    assert_eq!(
        double.requests()[before..]
            .iter()
            .filter_map(|r| r.operation())
            .collect::<Vec<_>>(),
        [DESCRIBE_CONTACT]
    );
}

#[tokio::test]
async fn a_default_supervisor_who_is_not_logged_in_is_a_skip() {
    let double = pool_double().await;
    for (user, name) in [(OUT, "logged-out"), (BUSY, "at-their-limit")] {
        let app = app_for(
            &double,
            &[
                ("DEFAULT_SUPERVISOR_USER_ID", user),
                ("ALLOWED_SUPERVISOR_USER_IDS", user),
            ],
        );
        let before = double.requests().len();
        let result = invoke(&app, &contact_event(&format!("ev-{name}"), VOICE, "CONNECTED_TO_AGENT")).await;
        assert_eq!(skipped(&result), SkipReason::SupervisorUnavailable, "{name}");
        assert_eq!(double.requests().len() - before, 1, "{name}: MonitorContact only");
    }
    // For a contact flow the supervisor was chosen on purpose: still an error the flow branches on.
    let app = app_for(&double, &[("ALLOWED_SUPERVISOR_USER_IDS", OUT)]);
    let flow = sample("contact-flow-voice.json").replace(SUPERVISOR, OUT);
    assert_eq!(error_kind(&invoke(&app, &flow).await), ErrorKind::SupervisorUnavailable);
}

#[tokio::test]
async fn an_old_event_is_a_skip_without_any_call() {
    let double = open_double().await;
    let app = app_for(&double, &[]);
    for name in ["eventbridge-old-event.json"] {
        assert_eq!(skipped(&invoke(&app, &raw_sample(name)).await), SkipReason::EventTooOld);
    }
    let late = contact_event("ev-late", VOICE, "CONNECTED_TO_AGENT").replace(&now_rfc3339(0), &now_rfc3339(-301));
    assert_eq!(skipped(&invoke(&app, &late).await), SkipReason::EventTooOld);
    let escalation = contact_lens_event("cl-late", VOICE, "upset").replace(&now_rfc3339(0), &now_rfc3339(-3600));
    assert_eq!(skipped(&invoke(&app, &escalation).await), SkipReason::EventTooOld);
    // A clock a little ahead is not too old; with the rule off nothing is.
    let ahead = contact_event("ev-ahead", VOICE, "CONNECTED_TO_AGENT").replace(&now_rfc3339(0), &now_rfc3339(30));
    started(&invoke(&app, &ahead).await);
    assert_eq!(double.requests().len(), 1, "the old events made no call");
    let off = app_for(&double, &[("MAX_EVENT_AGE_SECONDS", "0")]);
    started(&invoke(&off, &raw_sample("eventbridge-old-event.json")).await);
}

#[tokio::test]
async fn an_unknown_supervisor_is_still_an_error() {
    let double = pool_double().await;
    let stranger = "5e5e5e5e-0000-4000-8000-000000000099";
    let app = app_for(
        &double,
        &[
            ("DEFAULT_SUPERVISOR_USER_ID", stranger),
            ("ALLOWED_SUPERVISOR_USER_IDS", stranger),
        ],
    );
    let result = invoke(&app, &contact_event("ev-1", VOICE, "CONNECTED_TO_AGENT")).await;
    assert_eq!(error_kind(&result), ErrorKind::SupervisorNotFound);
    assert!(
        result
            .err()
            .is_some_and(|e| e.message.contains(stranger) && e.message.contains("DEFAULT_SUPERVISOR_USER_ID")),
        "the message names the user and the setting"
    );
    assert_eq!(operations(&double), [MONITOR_CONTACT, DESCRIBE_CONTACT]);
}

#[tokio::test]
async fn a_voice_contact_takes_at_most_two_supervisors() {
    let double = open_double().await;
    let app = app_for(&double, &[("ALLOWED_SUPERVISOR_USER_IDS", "*")]);
    let by = |user: &str| {
        json!({"InstanceId": INSTANCE, "ContactId": VOICE, "UserId": user, "EventId": format!("by-{user}")}).to_string()
    };
    started(&invoke(&app, &by(SUPERVISOR)).await);
    started(&invoke(&app, &by(SECOND_SUPERVISOR)).await);
    let third = invoke(&app, &by("7d7d7d7d-0000-4000-8000-000000000003")).await;
    assert_eq!(error_kind(&third), ErrorKind::SupervisorUnavailable);
    assert_eq!(running_on(&double, VOICE), 2);
    // On the automatic paths the same answer for the default supervisor is a skip.
    let auto = app_for(
        &double,
        &[
            ("ALLOWED_SUPERVISOR_USER_IDS", "*"),
            ("DEFAULT_SUPERVISOR_USER_ID", "7d7d7d7d-0000-4000-8000-000000000003"),
        ],
    );
    let result = invoke(&auto, &contact_event("ev-third", VOICE, "CONNECTED_TO_AGENT")).await;
    assert_eq!(skipped(&result), SkipReason::SupervisorUnavailable);
}

#[tokio::test]
async fn every_payload_gets_one_of_the_functions_answers() {
    let double = open_double().await;
    let app = app_for(&double, &[]);
    // A byte-order mark before an automatic event, and before a direct request.
    let bom = format!("\u{feff}{}", contact_event("ev-bom", VOICE, "CONNECTED_TO_AGENT"));
    started(&invoke(&app, &bom).await);
    started(&invoke(&app, &raw_sample("direct-bom.json")).await);
    // A flow whose parameters came from unset attributes: the defaults apply.
    let (_, token, user) = started(&invoke(&app, &sample("contact-flow-empty-parameters.json")).await);
    assert_eq!(user, SUPERVISOR);
    assert_eq!(token, client_token::client_token(VOICE, INSTANCE, VOICE, SUPERVISOR));
    // Not JSON at all.
    for text in ["hello", "", "{\"InstanceId\":", "\u{feff}"] {
        assert_eq!(
            error_kind(&invoke(&app, text).await),
            ErrorKind::UnrecognizedEvent,
            "{text:?}"
        );
    }
    // Published spellings: instanceARN and a channel in another case.
    let spelled = contact_event("ev-spelled", CHAT, "CONNECTED_TO_AGENT")
        .replace("\"instanceArn\"", "\"instanceARN\"")
        .replace("\"VOICE\"", "\"Chat\"");
    started(&invoke(&app, &spelled).await);
}

#[tokio::test]
async fn the_live_check_with_contacts_that_end_while_the_double_runs() {
    let double = open_double().await;
    let contact = "1e1e1e1e-0000-4000-8000-000000000001";
    double.add_contact(contact, ContactSpec::live("VOICE"));
    let app = app_for(&double, &[]);
    let (arn, _, _) = started(&invoke(&app, &contact_event("ev-1", contact, "CONNECTED_TO_AGENT")).await);
    assert!(arn.contains("/contact/"));
    assert!(double.end_contact(contact));
    assert_eq!(running_on(&double, contact), 0, "its monitors ended with it");
    // A redelivery after the end: the token's monitor is over, Connect replays or refuses; either
    // way no new monitor starts on an ended call.
    let again = invoke(&app, &contact_event("ev-2", contact, "CONNECTED_TO_AGENT")).await;
    assert!(
        matches!(
            &again,
            Ok(Outcome::Started { .. })
                | Ok(Outcome::Skipped {
                    reason: SkipReason::ContactEnded,
                    ..
                })
        ),
        "{again:?}"
    );
    assert_eq!(running_on(&double, contact), 0);
}

//! Connect-aware monitoring end to end: the supervisor pool (GetCurrentUserData) and the live
//! contact check (DescribeContact), with the real handler and SDK client over HTTP on 127.0.0.1
//! against the local Connect double, which loads its scenario from `tests/scenarios/pool.json`.

mod support;

use monitor_contact::client_token::{self, Purpose};
use monitor_contact::{ErrorKind, Outcome, SkipReason};
use serde_json::{Value, json};
use support::connect_double::{DESCRIBE_CONTACT, Failure, GET_CURRENT_USER_DATA, MONITOR_CONTACT, Scenario};
use support::harness::*;

#[tokio::test]
async fn a_pool_pick_goes_to_an_eligible_member_with_one_call_of_each_api() {
    let double = pool_double().await;
    let app = pool_app(&double, &[]);
    let result = invoke(&app, &sample("eventbridge-connected-to-agent.json")).await;
    let (arn, token, user) = started(&result);
    assert!(
        user == FREE || user == AGENT,
        "busy and logged-out members are never picked: {user}"
    );
    assert_eq!(
        token,
        client_token::contact_pool_token(INSTANCE, VOICE, Purpose::Qa),
        "the monitor's token: (instance, contact, purpose)"
    );
    assert!(arn.contains(&format!("instance/{INSTANCE}/contact/")), "{arn}");
    assert_eq!(operations(&double), [GET_CURRENT_USER_DATA, MONITOR_CONTACT]);

    let query = &double.requests_for(GET_CURRENT_USER_DATA)[0];
    assert_eq!(query.path, format!("/metrics/userdata/{INSTANCE}"));
    assert_eq!(
        query.json(),
        json!({"Filters": {"Agents": [FREE, BUSY, OUT, AGENT]}, "MaxResults": 100})
    );
    let monitor = &double.requests_for(MONITOR_CONTACT)[0];
    assert_eq!(monitor.json()["UserId"], user);
    assert_eq!(monitor.json()["ClientToken"], token);
}

#[tokio::test]
async fn events_spread_over_the_eligible_members_only() {
    // Direct requests rank the pool by their event (Connect's own events by their contact, see
    // tests/automatic.rs): different events for one contact spread.
    let mut picked = Vec::new();
    for n in 0..16 {
        // A fresh double each time: after a pick, that member is at the limit.
        let double = pool_double().await;
        let app = pool_app(&double, &[]);
        let request = json!({"InstanceId": INSTANCE, "ContactId": VOICE, "EventId": format!("spread-{n:04}")});
        let (_, _, user) = started(&invoke(&app, &request.to_string()).await);
        picked.push(user);
    }
    assert!(picked.iter().all(|u| u == FREE || u == AGENT), "{picked:?}");
    assert!(
        picked.iter().any(|u| u == FREE) && picked.iter().any(|u| u == AGENT),
        "both eligible members take events: {picked:?}"
    );
}

#[tokio::test]
async fn the_same_event_twice_never_yields_two_monitors() {
    let event = sample("eventbridge-connected-to-agent.json");

    // The first pick is now at the limit with this very monitor: the retry ranks the other eligible
    // member first, sends the same token, and Connect refuses a second monitor.
    let double = pool_double().await;
    let app = pool_app(&double, &[]);
    let (_, first_token, first_user) = started(&invoke(&app, &event).await);
    let second = invoke(&app, &event).await;
    assert_eq!(skipped(&second), SkipReason::AlreadyMonitored);
    let monitors = double.requests_for(MONITOR_CONTACT);
    assert_eq!(monitors.len(), 2);
    assert_ne!(
        monitors[1].json()["UserId"],
        first_user,
        "the retry picked someone else"
    );
    assert_eq!(monitors[1].json()["ClientToken"], first_token, "with the same token");
    assert_eq!(double.state().started(), 1, "one monitor in Connect");

    // The first pick logged out before the retry: the same.
    let double = pool_double().await;
    double.state().scenario.max_monitors = 2;
    let app = pool_app(&double, &[("MAX_MONITORS_PER_SUPERVISOR", "2")]);
    let (_, _, first_user) = started(&invoke(&app, &event).await);
    if let Some(users) = &mut double.state().scenario.users
        && let Some(user) = users.get_mut(&first_user)
    {
        user.logged_in = false;
    }
    assert_eq!(skipped(&invoke(&app, &event).await), SkipReason::AlreadyMonitored);
    assert_eq!(double.state().started(), 1);

    // Room for another monitor each, even after this one: the retry ranks the same member first and
    // Connect replays the first answer.
    let double = pool_double().await;
    double.state().scenario.max_monitors = 3;
    let app = pool_app(&double, &[("MAX_MONITORS_PER_SUPERVISOR", "3")]);
    let first = started(&invoke(&app, &event).await);
    let second = started(&invoke(&app, &event).await);
    assert_eq!(first, second, "the same ContactArn, user and token");
    assert_eq!(double.state().started(), 1);
}

#[tokio::test]
async fn nobody_eligible_is_a_skip_without_a_monitor_call() {
    let double = pool_double().await;
    if let Some(users) = &mut double.state().scenario.users {
        for id in [FREE, AGENT] {
            if let Some(user) = users.get_mut(id) {
                user.monitoring = 1;
            }
        }
    }
    let app = pool_app(&double, &[]);
    let result = invoke(&app, &sample("eventbridge-connected-to-agent.json")).await;
    assert_eq!(skipped(&result), SkipReason::NoSupervisorAvailable);
    assert_eq!(operations(&double), [GET_CURRENT_USER_DATA]);
    // A higher limit makes them eligible again.
    let app = pool_app(&double, &[("MAX_MONITORS_PER_SUPERVISOR", "2")]);
    double.state().scenario.max_monitors = 2;
    started(&invoke(&app, &sample("eventbridge-connected-to-agent.json")).await);
}

#[tokio::test]
async fn a_pool_member_refused_by_the_quota_is_retryable_with_the_same_token() {
    let double = pool_double().await;
    let app = pool_app(&double, &[]);
    double.fail_next_on(
        MONITOR_CONTACT,
        [Failure::new(402, "ServiceQuotaExceededException", "at the limit")],
    );
    let event = sample("eventbridge-connected-to-agent.json");
    let first = invoke(&app, &event).await;
    assert_eq!(error_kind(&first), ErrorKind::SupervisorUnavailable);
    let (_, token, _) = started(&invoke(&app, &event).await);
    let tokens: Vec<Value> = double
        .requests_for(MONITOR_CONTACT)
        .iter()
        .map(|r| r.json()["ClientToken"].clone())
        .collect();
    assert_eq!(tokens, [json!(token), json!(token)]);
}

#[tokio::test]
async fn named_supervisors_keep_the_core_rules_next_to_a_pool() {
    let double = pool_double().await;
    let app = pool_app(&double, &[("ALLOWED_SUPERVISOR_USER_IDS", "")]);
    // A member named in the event is allowed (implicitly) and keeps the token with the user in it.
    let named = json!({"InstanceId": INSTANCE, "ContactId": VOICE, "UserId": AGENT, "EventId": "named-1"}).to_string();
    let (_, token, user) = started(&invoke(&app, &named).await);
    assert_eq!(
        (user.as_str(), token),
        (AGENT, client_token::client_token("named-1", INSTANCE, VOICE, AGENT))
    );
    assert_eq!(
        operations(&double),
        [MONITOR_CONTACT],
        "no pool query for a named supervisor"
    );
    // Someone outside the pool and the allow-list is not.
    let stranger = named.replace(AGENT, SUPERVISOR);
    assert_eq!(
        error_kind(&invoke(&app, &stranger).await),
        ErrorKind::SupervisorNotAllowed
    );
}

#[tokio::test]
async fn a_contact_lens_escalation_takes_a_pool_member() {
    let double = pool_double().await;
    let app = pool_app(&double, &[]);
    let result = invoke(&app, &sample("eventbridge-contact-lens-chat.json")).await;
    match &result {
        Ok(Outcome::Started {
            user_id,
            client_token,
            contact_id,
            rule_name,
            ..
        }) => {
            assert!(user_id == FREE || user_id == AGENT, "{user_id}");
            assert_eq!(contact_id, CHAT);
            assert_eq!(
                client_token,
                &client_token::contact_pool_token(INSTANCE, CHAT, Purpose::Escalation)
            );
            assert!(rule_name.is_some());
        }
        other => panic!("expected STARTED, got {other:?}"),
    }
}

#[tokio::test]
async fn verify_contact_skips_ended_tasks_and_monitors_before_any_monitor_call() {
    let double = pool_double().await;
    let app = pool_app(&double, &[("VERIFY_CONTACT", "true")]);

    // A live voice contact: the three calls, in order, once each.
    let (arn, _, _) = started(&invoke(&app, &direct_for(VOICE)).await);
    assert_eq!(
        operations(&double),
        [DESCRIBE_CONTACT, GET_CURRENT_USER_DATA, MONITOR_CONTACT]
    );
    let describe = &double.requests_for(DESCRIBE_CONTACT)[0];
    assert_eq!(
        (describe.method.as_str(), describe.path.as_str()),
        ("GET", format!("/contacts/{INSTANCE}/{VOICE}").as_str())
    );

    let before = double.requests().len();
    assert_eq!(
        skipped(&invoke(&app, &direct_for(ENDED)).await),
        SkipReason::ContactEnded
    );
    assert_eq!(
        skipped(&invoke(&app, &direct_for(TASK)).await),
        SkipReason::ChannelNotMonitored
    );
    // The monitor just started is a contact of its own, with initiation method MONITOR.
    let Some(monitor_contact) = arn.rsplit('/').next() else {
        panic!("{arn}")
    };
    assert_eq!(
        skipped(&invoke(&app, &direct_for(monitor_contact)).await),
        SkipReason::MonitorContact
    );
    let unknown = "0f0f0f0f-1111-4222-8333-444455556666";
    assert_eq!(
        error_kind(&invoke(&app, &direct_for(unknown)).await),
        ErrorKind::ContactNotFound
    );
    let calls: Vec<&str> = double.requests()[before..]
        .iter()
        .filter_map(|r| r.operation())
        .collect();
    assert_eq!(calls, [DESCRIBE_CONTACT; 4], "skips and errors stop at DescribeContact");
}

#[tokio::test]
async fn without_verify_contact_an_ended_contact_reaches_monitor_contact() {
    // The documented trade: no DescribeContact, and Connect itself refuses the ended contact.
    let double = pool_double().await;
    let app = app_for(
        &double,
        &[
            ("ALLOWED_SUPERVISOR_USER_IDS", FREE),
            ("DEFAULT_SUPERVISOR_USER_ID", FREE),
        ],
    );
    assert_eq!(
        error_kind(&invoke(&app, &direct_for(ENDED)).await),
        ErrorKind::InvalidEvent
    );
    assert_eq!(operations(&double), [MONITOR_CONTACT]);
}

#[tokio::test]
async fn describe_and_user_data_failures_have_their_error_types() {
    let double = pool_double().await;
    let app = pool_app(&double, &[("VERIFY_CONTACT", "true")]);
    double.fail_next_on(
        DESCRIBE_CONTACT,
        [Failure::new(403, "AccessDeniedException", "not authorized")],
    );
    let e = invoke(&app, &direct_for(VOICE)).await.err();
    assert!(
        e.as_ref()
            .is_some_and(|e| e.kind == ErrorKind::AccessDenied && e.message.contains("connect:DescribeContact")),
        "{e:?}"
    );
    double.fail_next_on(
        GET_CURRENT_USER_DATA,
        (0..3).map(|_| Failure::new(429, "ThrottlingException", "Rate exceeded")),
    );
    let e = invoke(&app, &direct_for(VOICE)).await.err();
    assert_eq!(e.map(|e| e.kind), Some(ErrorKind::Throttled));
    assert!(double.requests_for(MONITOR_CONTACT).is_empty());
}

#[test]
fn scenarios_are_checked_when_loaded() {
    assert!(
        Scenario::from_json(r#"{"user": {}}"#).is_err(),
        "unknown keys are refused"
    );
    assert!(Scenario::from_json(r#"{"users": {"u": {"loggedIn": "yes"}}}"#).is_err());
    let open = Scenario::from_json("{}").unwrap_or_else(|e| panic!("{e}"));
    assert!(open.users.is_none() && open.contacts.is_none() && open.max_monitors == u32::MAX);
}

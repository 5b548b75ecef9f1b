//! The real handler with the real SDK Connect client, over HTTP on 127.0.0.1, against the local
//! Connect double.

mod support;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use monitor_contact::{ErrorKind, Outcome};
use serde_json::json;
use support::connect_double::{Failure, Scenario};
use support::harness::*;

/// Every sample event, with what it must produce under the default configuration (EventBridge
/// samples sent as if they had just happened, but the one that is old on purpose).
#[tokio::test]
async fn every_sample_event_gives_its_documented_result() {
    let expected: &[(&str, &str)] = &[
        ("contact-flow-voice.json", "STARTED"),
        ("contact-flow-chat.json", "STARTED"),
        ("contact-flow-empty-parameters.json", "STARTED"),
        ("eventbridge-connected-to-agent.json", "STARTED"),
        ("eventbridge-initiated.json", "NOT_A_TRIGGER_EVENT"),
        ("eventbridge-old-event.json", "EVENT_TOO_OLD"),
        ("eventbridge-custom.json", "STARTED"),
        ("eventbridge-contact-lens-voice.json", "STARTED"),
        ("eventbridge-contact-lens-voice-second-rule.json", "STARTED"),
        ("eventbridge-contact-lens-chat.json", "STARTED"),
        ("eventbridge-skip-queued.json", "NOT_A_TRIGGER_EVENT"),
        ("eventbridge-skip-monitor-contact.json", "MONITOR_CONTACT"),
        ("eventbridge-skip-task.json", "CHANNEL_NOT_MONITORED"),
        ("direct.json", "STARTED"),
        ("direct-bom.json", "STARTED"),
        ("direct-arn-camel-case.json", "STARTED"),
        ("direct-barge.json", "BargeNotAllowed"),
        ("invalid-missing-contact-id.json", "InvalidEvent"),
        ("invalid-wrong-types.json", "InvalidEvent"),
        ("invalid-instance-arn.json", "InvalidEvent"),
        ("invalid-supervisor-not-allowed.json", "SupervisorNotAllowed"),
        ("unrecognized.json", "UnrecognizedEvent"),
        ("sqs-batch.json", "batch: no failures"),
        ("sqs-qa-week.json", "batch: no failures"),
    ];
    let on_disk: HashSet<String> = std::fs::read_dir(format!("{}/events", env!("CARGO_MANIFEST_DIR")))
        .map(|dir| {
            dir.filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| n.ends_with(".json"))
                .collect()
        })
        .unwrap_or_default();
    let listed: HashSet<String> = expected.iter().map(|(n, _)| (*n).to_owned()).collect();
    assert_eq!(on_disk, listed, "every sample in events/ has an expected result here");

    for (name, want) in expected {
        // A fresh double for each: the samples share contacts.
        let double = double(Scenario::open()).await;
        let app = app_for(&double, &[]);
        let text = sample(name);
        let got = if name.starts_with("sqs-") {
            let bodies = bodies_of(&text);
            let failures = invoke_batch(&app, &bodies, 1).await;
            assert!(!double.requests().is_empty(), "{name}: the batch reached Connect");
            format!(
                "batch: {}",
                if failures.is_empty() {
                    "no failures".to_owned()
                } else {
                    format!("{failures:?}")
                }
            )
        } else {
            let got = match invoke(&app, &text).await {
                Ok(outcome) => outcome.label().to_owned(),
                Err(e) => e.kind.as_str().to_owned(),
            };
            let calls = double.requests().len();
            assert_eq!(
                calls > 0,
                got == "STARTED",
                "{name}: skips and errors make no Connect call ({calls})"
            );
            got
        };
        assert_eq!(&got, want, "{name}");
    }
}

#[tokio::test]
async fn a_contact_lens_escalation_attaches_a_supervisor_and_names_its_rule() {
    let double = double(Scenario::open()).await;
    let app = app_for(&double, &[("SAMPLE_PERCENT", "0")]);
    let result = invoke(&app, &sample("eventbridge-contact-lens-voice.json")).await;
    match &result {
        Ok(Outcome::Started {
            rule_name,
            contact_id,
            client_token,
            ..
        }) => {
            assert_eq!(rule_name.as_deref(), Some("Customer upset - escalate"));
            assert_eq!(contact_id, VOICE);
            let expected = monitor_contact::client_token::contact_token(INSTANCE, VOICE, SUPERVISOR);
            assert_eq!(client_token, &expected, "the monitor's token, not the event's");
        }
        other => panic!("expected STARTED, got {other:?}"),
    }
    let output = serde_json::to_value(result.ok()).unwrap_or_default();
    assert_eq!(output["RuleName"], "Customer upset - escalate");
    assert_eq!(double.requests()[0].json()["ContactId"], VOICE);
}

#[tokio::test]
async fn the_request_is_what_the_service_expects() {
    let double = double(Scenario::open()).await;
    let app = app_for(&double, &[]);
    let result = invoke(&app, &sample("direct.json")).await;
    let (arn, token, user) = started(&result);
    assert_eq!(
        token,
        monitor_contact::client_token::client_token("qa-review-2026-11-22-0001", INSTANCE, VOICE, SUPERVISOR)
    );
    assert_eq!(user, SUPERVISOR);
    assert!(
        arn.starts_with(&format!(
            "arn:aws:connect:us-east-1:111122223333:instance/{INSTANCE}/contact/"
        )),
        "{arn}"
    );

    let requests = double.requests();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/contact/monitor"));
    assert!(
        r.header("content-type")
            .is_some_and(|t| t.starts_with("application/json"))
    );
    let auth = r.header("authorization").unwrap_or_default();
    assert!(
        auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDLOCALDOUBLE/"),
        "{auth}"
    );
    assert!(auth.contains("/us-east-1/connect/aws4_request"), "{auth}");
    assert_eq!(
        r.json(),
        json!({
            "InstanceId": INSTANCE,
            "ContactId": VOICE,
            "UserId": SUPERVISOR,
            "AllowedMonitorCapabilities": ["SILENT_MONITOR"],
            "ClientToken": token,
        })
    );
}

#[tokio::test]
async fn barge_travels_with_silent_monitor_when_allowed() {
    let double = double(Scenario::open()).await;
    let app = app_for(&double, &[("ALLOW_BARGE", "true")]);
    started(&invoke(&app, &sample("direct-barge.json")).await);
    assert_eq!(
        double.requests()[0].json()["AllowedMonitorCapabilities"],
        json!(["SILENT_MONITOR", "BARGE"])
    );
}

#[tokio::test]
async fn the_same_event_twice_starts_one_monitor() {
    let double = double(Scenario::open()).await;
    let app = app_for(&double, &[]);
    for name in [
        "contact-flow-voice.json",
        "eventbridge-connected-to-agent.json",
        "direct.json",
    ] {
        let first = started(&invoke(&app, &sample(name)).await);
        let second = started(&invoke(&app, &sample(name)).await);
        assert_eq!(first, second, "{name}: a redelivery replays the first monitor");
    }
    // A fresh app (a cold start) derives the same token and gets the same monitor back.
    let cold = app_for(&double, &[]);
    let again = started(&invoke(&cold, &sample("direct.json")).await);
    let requests = double.requests();
    assert_eq!(requests.len(), 7);
    assert_eq!(again.1, requests[4].json()["ClientToken"]);
    let tokens: HashSet<String> = requests.iter().map(|r| r.json()["ClientToken"].to_string()).collect();
    assert_eq!(tokens.len(), 3, "three events, three tokens");
}

#[tokio::test]
async fn different_events_for_one_contact_get_different_tokens() {
    let double = double(Scenario::open()).await;
    let app = app_for(&double, &[]);
    let a = started(&invoke(&app, &sample("direct.json")).await);
    let other = sample("direct.json").replace("qa-review-2026-11-22-0001", "qa-review-2026-11-22-0099");
    let b = started(&invoke(&app, &other).await);
    assert_ne!(a.1, b.1);
    assert_ne!(a.0, b.0);
}

#[tokio::test]
async fn throttling_is_retried_with_the_same_client_token() {
    let double = double(Scenario::open()).await;
    // The flow function's configuration: not paced (a paced environment also waits for its turn).
    let app = app_for(&double, &[("CONNECT_CALLS_PER_SECOND", "off")]);
    double.fail_next([
        Failure::new(429, "ThrottlingException", "Rate exceeded"),
        Failure::new(429, "ThrottlingException", "Rate exceeded"),
    ]);
    let (_, token, _) = started(&invoke(&app, &sample("direct.json")).await);
    let requests = double.requests();
    assert_eq!(requests.len(), 3, "two throttled attempts, then success");
    for r in &requests {
        assert_eq!(r.json()["ClientToken"], json!(token));
    }
}

#[tokio::test]
async fn internal_errors_are_retried_too() {
    let double = double(Scenario::open()).await;
    let app = app_for(&double, &[]);
    double.fail_next([Failure::new(500, "InternalServiceException", "oops")]);
    started(&invoke(&app, &sample("direct.json")).await);
    assert_eq!(double.requests().len(), 2);
}

#[tokio::test]
async fn each_service_error_has_its_error_type() {
    let cases: &[(u16, &str, usize, ErrorKind)] = &[
        (400, "InvalidRequestException", 1, ErrorKind::InvalidEvent),
        (409, "IdempotencyException", 1, ErrorKind::IdempotencyConflict),
        (403, "AccessDeniedException", 1, ErrorKind::AccessDenied),
        (403, "UnrecognizedClientException", 1, ErrorKind::AccessDenied),
        (404, "ResourceNotFoundException", 1, ErrorKind::ContactNotFound),
        (
            402,
            "ServiceQuotaExceededException",
            1,
            ErrorKind::SupervisorUnavailable,
        ),
        (429, "ThrottlingException", 3, ErrorKind::Throttled),
        (429, "TooManyRequestsException", 3, ErrorKind::Throttled),
        (500, "InternalServiceException", 3, ErrorKind::ConnectUnavailable),
        (503, "ServiceUnavailableException", 3, ErrorKind::ConnectUnavailable),
    ];
    for (status, code, attempts, kind) in cases {
        let double = double(Scenario::open()).await;
        let app = app_for(&double, &[("CONNECT_CALLS_PER_SECOND", "off")]);
        // Every attempt fails alike: what is retried is retried within CONNECT_RETRY_SECONDS.
        double.fail_next((0..100).map(|_| Failure::new(*status, code, "scripted")));
        let result = invoke(&app, &sample("direct.json")).await;
        assert_eq!(error_kind(&result), *kind, "{status} {code}");
        let made = double.requests().len();
        if *attempts == 1 {
            assert_eq!(made, 1, "{status} {code}: not retried");
        } else {
            assert!(made >= *attempts, "{status} {code}: {made} attempts");
        }
        let message = result.err().map(|e| e.message).unwrap_or_default();
        assert!(
            message.contains("scripted"),
            "{code}: the service's message is kept: {message}"
        );
    }
}

#[tokio::test]
async fn the_service_rules_of_the_double_surface_as_typed_errors() {
    // The sample supervisor is not logged in; the second one already monitors a contact.
    let scenario = scenario("service-rules.json");
    let double = double(scenario).await;
    let app = app_for(&double, &[]);
    // Not logged in to the CCP.
    let result = invoke(&app, &sample("direct.json")).await;
    assert_eq!(error_kind(&result), ErrorKind::SupervisorUnavailable);
    assert!(
        result
            .err()
            .is_some_and(|e| e.message.contains("not logged in to the CCP"))
    );
    // At the monitoring limit.
    let busy = sample("direct.json").replace(SUPERVISOR, SECOND_SUPERVISOR);
    assert_eq!(error_kind(&invoke(&app, &busy).await), ErrorKind::SupervisorUnavailable);
    // A contact that does not exist (or has ended).
    assert_eq!(
        error_kind(&invoke(&app, &sample("direct-arn-camel-case.json")).await),
        ErrorKind::ContactNotFound
    );
}

#[tokio::test]
async fn a_client_token_reused_for_another_request_is_an_idempotency_conflict() {
    let double = double(Scenario::open()).await;
    let app = app_for(&double, &[]);
    let first = json!({"InstanceId": INSTANCE, "ContactId": VOICE, "ClientToken": "caller-token-1"}).to_string();
    let second = json!({"InstanceId": INSTANCE, "ContactId": CHAT, "ClientToken": "caller-token-1"}).to_string();
    let (_, token, _) = started(&invoke(&app, &first).await);
    assert_eq!(token, "caller-token-1", "an explicit ClientToken is used as given");
    assert_eq!(error_kind(&invoke(&app, &second).await), ErrorKind::IdempotencyConflict);
}

#[tokio::test]
async fn an_unreachable_connect_is_connect_unavailable() {
    // A port that was just free: nothing listens there.
    let closed = match std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()) {
        Ok(addr) => addr,
        Err(e) => panic!("{e}"),
    };
    let double = double(Scenario::open()).await;
    let sdk = double
        .sdk_config(Duration::from_millis(5))
        .into_builder()
        .endpoint_url(format!("http://{closed}"))
        .build();
    let app = TestApp::new(config(&[]), &sdk);
    assert_eq!(
        error_kind(&invoke(&app, &sample("direct.json")).await),
        ErrorKind::ConnectUnavailable
    );
}

#[tokio::test]
async fn a_slow_connect_ends_in_deadline_exceeded_before_lambda_would_kill_the_function() {
    let double = double(Scenario::open()).await;
    double.state().delay = Duration::from_secs(5);
    let app = app_for(&double, &[]);
    let begun = Instant::now();
    let result = invoke_within(&app, &sample("direct.json"), Duration::from_millis(1200)).await;
    let took = begun.elapsed();
    assert_eq!(error_kind(&result), ErrorKind::DeadlineExceeded);
    assert!(
        took < Duration::from_millis(1200),
        "answered before the deadline: {took:?}"
    );
    assert!(took >= Duration::from_millis(800), "used the time it had: {took:?}");
}

//! The in-process path of one invocation, no network: read the event, validate it, decide, derive the
//! ClientToken, and shape the response JSON. `cargo bench --bench in_process`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use monitor_contact::handler::{InvocationLog, Plan, plan, started};
use monitor_contact::request::Supervisor;
use monitor_contact::{Config, Monitoring};

const SUPERVISOR: &str = "3f8a2c1e-6d4b-4a9e-b7c5-0d1e2f3a4b5c";

fn config() -> Config {
    match Config::from_lookup("us-east-1", |name| {
        (name == "DEFAULT_SUPERVISOR_USER_ID").then(|| SUPERVISOR.to_owned())
    }) {
        Ok(config) => config,
        Err(e) => panic!("{e}"),
    }
}

/// Everything the function does for one event except the Connect call and the runtime's own I/O.
fn in_process(config: &Config, payload: &str) -> String {
    let mut log = InvocationLog::default();
    let outcome = match plan(config, payload, "8f3b2a10-0000-4000-8000-00000000abcd", &mut log) {
        Ok(Plan::Call { target, rule_name }) => {
            let Supervisor::Named(user_id) = &target.supervisor else {
                panic!("the benchmark's configuration has no pool");
            };
            let request = target.request(user_id.clone());
            let arn = format!(
                "arn:aws:connect:us-east-1:111122223333:instance/{}/contact/m",
                request.instance_id
            );
            started(
                request,
                Monitoring {
                    contact_id: "m".into(),
                    contact_arn: arn,
                },
                rule_name,
            )
        }
        Ok(Plan::Done(outcome)) => outcome,
        Err(e) => panic!("{e}"),
    };
    serde_json::to_string(&outcome).unwrap_or_default()
}

fn benches(c: &mut Criterion) {
    let config = config();
    let samples = [
        (
            "contact-flow-voice (largest sample)",
            include_str!("../events/contact-flow-voice.json"),
        ),
        (
            "eventbridge-connected-to-agent",
            include_str!("../events/eventbridge-connected-to-agent.json"),
        ),
        ("direct", include_str!("../events/direct.json")),
        (
            "eventbridge-skip-queued",
            include_str!("../events/eventbridge-skip-queued.json"),
        ),
    ];
    for (name, payload) in samples {
        assert!(in_process(&config, payload).contains("Status"));
        c.bench_function(name, |b| b.iter(|| in_process(&config, black_box(payload))));
    }
}

criterion_group!(in_process_path, benches);
criterion_main!(in_process_path);

//! The Connect calls for N planned targets (a single invocation is a batch of one), in as few calls
//! as the batch allows, under the pacer and one deadline. Targets that stand for the same monitor
//! (one ClientToken) form a group served by one monitor; groups are served in turn, each with its own
//! calls (pool pick, live check, MonitorContact), so that what was checked is still true when its
//! monitor starts. Which calls and when: docs/how-it-decides.md, "Connect calls per event" and
//! "Supervisor pool"; which refusals are skips on the automatic paths: docs/events-and-errors.md,
//! "Outputs".
//!
//! Each call waits for its turn (`budget`) and must start and end before the deadline: a group the
//! invocation had no time left for fails with `DeadlineExceeded`, never silently.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use tokio::time::Instant;

use crate::budget::Pacer;
use crate::config::Config;
use crate::connect::{Call, Connect};
use crate::connect::{ConnectFailure, ContactStatus, MonitorRequest, Monitoring, Operation, Present};
use crate::error::{ErrorKind, MonitorError};
use crate::identifiers::Capabilities;
use crate::metrics::Calls;
use crate::outcome::{Outcome, SkipReason};
use crate::plan::{Plan, Supervisor, Target, live_check};
use crate::pool::{Pick, PoolState, Seats, Snapshots};
use crate::qa_state::{DynamoState, QaState};
use crate::retry::{self, Window};

mod quotas;
use quotas::Hold;

/// What the pipeline works with, built once at init.
pub struct Env<'a, C, S = DynamoState> {
    pub connect: &'a C,
    /// The QA state table, when a QA rule has a quota.
    pub state: Option<&'a S>,
    pub config: &'a Config,
    pub pacer: &'a Pacer,
    pub snapshots: &'a Snapshots,
}

/// What an event came to (or, inside a run, a group of events standing for one monitor: a [`Done`]),
/// and what its log line says about the supervisor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved<R = Result<Outcome, MonitorError>> {
    /// The outcome or the error.
    pub result: R,
    /// The supervisor asked to monitor (named, or picked from a pool).
    pub user_id: Option<String>,
    /// The pool as the pick saw it.
    pub pool: Option<PoolState>,
}

/// Why a call was not answered.
#[derive(Debug, Clone)]
enum Failed {
    Connect(ConnectFailure),
    /// The deadline came before the call could start (`true`) or finish.
    Late {
        before: bool,
    },
}

/// What a group came to: each of its events' outcome follows from it with the event's own rule
/// names (see [`outcome`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Done {
    Started {
        monitoring: Monitoring,
        request: MonitorRequest,
    },
    Skipped(SkipReason),
    Failed(MonitorError),
}

/// An event in a run: settled in process already, or the target at this index.
enum Slot {
    Settled(Result<Outcome, MonitorError>),
    Target(usize),
}

/// A group's answer, and what its events' log lines say about the supervisor.
type Served = Resolved<Done>;

/// Runs the calls the planned events need; every event's result, in the same order (what was
/// decided in process, or failed there, passes through).
pub async fn run<C: Connect, S: QaState>(
    env: &Env<'_, C, S>,
    plans: Vec<Result<Plan, MonitorError>>,
    window: Window,
) -> (Vec<Resolved>, Calls) {
    let mut targets: Vec<Target> = Vec::new();
    let slots: Vec<Slot> = plans
        .into_iter()
        .map(|plan| match plan {
            Ok(Plan::Call(target)) => {
                targets.push(target);
                Slot::Target(targets.len() - 1)
            }
            Ok(Plan::Done(outcome)) => Slot::Settled(Ok(outcome)),
            Err(error) => Slot::Settled(Err(error)),
        })
        .collect();
    let mut run = Run {
        env,
        window,
        calls: Calls::default(),
        statuses: HashMap::new(),
        seats: HashMap::new(),
        unavailable: HashSet::new(),
        state_down: false,
    };
    let (leads, group_of) = groups(&targets);
    let mut served = Vec::with_capacity(leads.len());
    for &lead in &leads {
        // Boxed: one allocation per group keeps the nesting of futures within the compiler's layout
        // depth for callers that nest the handler further (the runtime, tests).
        served.push(Box::pin(run.serve(&targets[lead])).await);
    }
    let resolved = slots
        .into_iter()
        .map(|slot| match slot {
            Slot::Settled(result) => Resolved {
                result,
                user_id: None,
                pool: None,
            },
            Slot::Target(t) => {
                let group = &served[group_of[t]];
                Resolved {
                    result: outcome(&targets[t], &group.result),
                    user_id: group.user_id.clone(),
                    pool: group.pool,
                }
            }
        })
        .collect();
    (resolved, run.calls)
}

/// The targets that stand for the same monitor, together: each group's first target (the one its
/// calls are made for), in order of first appearance; and for each target, its group.
///
/// On Connect's own events the token names the monitor (instance, contact, and the user or the
/// purpose), so the token alone is the key: two events about a contact that QA rules send to two
/// pools still stand for one QA monitor. Otherwise the token, contact, supervisor and capabilities.
fn groups(targets: &[Target]) -> (Vec<usize>, Vec<usize>) {
    type Key<'t> = (&'t str, &'t str, &'t str, Option<(&'t Supervisor, Capabilities)>);
    let mut leads: Vec<usize> = Vec::new();
    let mut group_of = Vec::with_capacity(targets.len());
    let mut index: HashMap<Key<'_>, usize> = HashMap::new();
    for (i, t) in targets.iter().enumerate() {
        let key: Key<'_> = (
            t.client_token.as_str(),
            t.instance_id.as_str(),
            t.contact_id.as_str(),
            (!t.contact_scoped).then_some((&t.supervisor, t.capabilities)),
        );
        let g = *index.entry(key).or_insert_with(|| {
            leads.push(i);
            leads.len() - 1
        });
        group_of.push(g);
    }
    (leads, group_of)
}

/// One target's outcome from its group's.
fn outcome(target: &Target, done: &Done) -> Result<Outcome, MonitorError> {
    match done {
        Done::Started { monitoring, request } => Ok(Outcome::Started {
            contact_arn: monitoring.contact_arn.clone(),
            monitor_contact_id: monitoring.contact_id.clone(),
            contact_id: request.contact_id.clone(),
            user_id: request.user_id.clone(),
            client_token: request.client_token.clone(),
            rule_name: target.rule_name.clone(),
            qa_rule: target.qa_rule.clone(),
        }),
        Done::Skipped(reason) => Ok(Outcome::Skipped {
            reason: *reason,
            contact_id: target.contact_id.clone(),
            qa_rule: target.qa_rule.clone(),
        }),
        Done::Failed(error) => Err(error.clone()),
    }
}

fn deadline_exceeded(before: bool) -> MonitorError {
    let message = if before {
        "the invocation ran out of time before calling Connect for this event: no monitor was started; retrying the same event is safe"
    } else {
        "the invocation ran out of time while waiting for Connect: the monitor may have started (Connect may carry out a request whose answer did not arrive in time); retrying the same event is safe (same ClientToken: a monitor that started is answered again, never doubled). Contact flows wait at most 8 s; raise the function's timeout if Connect is slow"
    };
    MonitorError::new(ErrorKind::DeadlineExceeded, message)
}

/// A group before its calls: nobody picked yet (a named supervisor is known already).
fn unserved(target: &Target) -> Served {
    Served {
        result: Done::Skipped(SkipReason::NoSupervisorAvailable),
        user_id: match &target.supervisor {
            Supervisor::Named(user) => Some(user.clone()),
            Supervisor::Pool(_) => None,
        },
        pool: None,
    }
}

/// A pool pick's answer: the member (if anyone has room) and the pool as the pick saw it.
type Seat = Result<(Option<String>, PoolState), MonitorError>;

struct Run<'e, 'a, C, S> {
    env: &'e Env<'a, C, S>,
    /// When retries may start, and the deadline every call ends by.
    window: Window,
    calls: Calls,
    /// DescribeContact's answers in this run, per (instance, contact): at most one call per contact.
    statuses: HashMap<(String, String), Result<ContactStatus, Failed>>,
    /// Per instance, who has room in the pools (GetCurrentUserData's answer as this run has used it),
    /// or why the call failed: at most one call per instance.
    seats: HashMap<String, Result<Seats, MonitorError>>,
    /// (instance, user) that MonitorContact refused as unavailable (ServiceQuotaExceeded) in this
    /// run: not asked again in it.
    unavailable: HashSet<(String, String)>,
    /// The QA state table failed in this run (after its client's retries): the rest of the batch's
    /// quota groups fail at once instead of each waiting for it.
    state_down: bool,
}

impl<C: Connect, S: QaState> Run<'_, '_, C, S> {
    /// One call, retried as `retry` says: each attempt waits for its turn under the pacer (whose
    /// rate follows Connect's throttles), and every attempt ends by the deadline. The error is the
    /// last attempt's, except that an attempt cut off (by the deadline, or as stalled) leaves the
    /// outcome unknown: then it is `Late`, whose message says that the monitor may have started.
    async fn call<T, F, Fut>(&mut self, operation: Operation, call: F) -> Result<T, Failed>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, ConnectFailure>>,
    {
        let window = self.window;
        let pacer = self.env.pacer;
        let mut earliest = Instant::now();
        let mut last: Option<Failed> = None;
        for attempt in 1u32.. {
            let Some(start) = self.turn(operation, earliest, last.is_some()) else {
                return Err(last.unwrap_or_else(|| self.no_turn(operation)));
            };
            if start > Instant::now() {
                tokio::time::sleep_until(start).await;
            }
            self.calls.made[operation.index()] += 1;
            let cutoff = window.cutoff(start);
            let failed = match tokio::time::timeout_at(cutoff, call()).await {
                Ok(Ok(answer)) => {
                    pacer.succeeded(operation);
                    return Ok(answer);
                }
                Ok(Err(failure)) if !failure.retryable() => return Err(Failed::Connect(failure)),
                Ok(Err(failure)) => {
                    if matches!(failure, ConnectFailure::Throttling(_)) {
                        self.calls.throttled += 1;
                        pacer.throttled(operation, Instant::now());
                    }
                    Failed::Connect(failure)
                }
                Err(_cut_off) if cutoff >= window.deadline => return Err(Failed::Late { before: false }),
                // A stalled attempt, cut off: nobody knows whether Connect carried it out.
                Err(_cut_off) => Failed::Late { before: false },
            };
            // Once an attempt's outcome is unknown, it stays unknown whatever later attempts answer.
            if !matches!(last, Some(Failed::Late { .. })) {
                last = Some(failed);
            }
            let now = Instant::now();
            let wait = retry::backoff(attempt, fastrand::f64());
            match window.retry_at(attempt, now, now.saturating_duration_since(start), wait) {
                Some(at) => earliest = at,
                None => break,
            }
        }
        Err(last.unwrap_or(Failed::Late { before: true }))
    }

    /// When the next attempt of `operation` may start, no sooner than `earliest`: its turn under the
    /// pacer, if that comes in time (a retry within the window, its last moment included; any attempt
    /// before the deadline).
    fn turn(&self, operation: Operation, earliest: Instant, retry: bool) -> Option<Instant> {
        let window = self.window;
        let latest = if retry { window.until } else { window.first_until }.min(window.deadline);
        if earliest >= window.deadline || earliest > latest {
            return None;
        }
        self.env.pacer.reserve(operation, earliest, latest)
    }

    /// Why a call got no turn at all: the pace that Connect's throttles lowered, or the deadline.
    fn no_turn(&self, operation: Operation) -> Failed {
        if self.env.pacer.lowered(operation) {
            let rate = self.env.pacer.rate(operation).unwrap_or_default();
            return Failed::Connect(ConnectFailure::Throttling(format!(
                "this environment's pace for {} was lowered to {rate:.2} calls/s after throttles and left no turn before the deadline",
                operation.as_str()
            )));
        }
        if self.window.first_until < self.window.deadline {
            let rate = self.env.pacer.rate(operation).unwrap_or_default();
            return Failed::Connect(ConnectFailure::Throttling(format!(
                "this environment's budget for {} ({rate:.2} calls/s) left no turn within the batch's time for calls (SQS_RETRY_DELAY_SECONDS): the record goes back to the queue",
                operation.as_str()
            )));
        }
        Failed::Late { before: true }
    }

    /// One group, its calls in turn (see the module documentation): the live check just before its
    /// MonitorContact, so that it is still true when the monitor starts.
    async fn serve(&mut self, target: &Target) -> Served {
        match (&target.quota, self.env.state) {
            (Some(ticket), Some(state)) => self.serve_with_quota(target, ticket.as_ref(), state).await,
            _ => self.serve_calls(target, None).await,
        }
    }

    /// The group's Connect calls; with a quota `hold`, the pick is among the reviewers below their
    /// limit and the slot is taken (if it was not already) just before MonitorContact.
    async fn serve_calls(&mut self, target: &Target, hold: Option<&mut Hold<'_>>) -> Served {
        let config = self.env.config;
        let eligible = hold.as_ref().and_then(|hold| hold.eligible.clone());
        let pick = match target.supervisor {
            Supervisor::Pool(pool) => Some(Pick {
                members: eligible.as_deref().unwrap_or(pool.members(config)),
                rank: target.rank(),
            }),
            Supervisor::Named(_) => None,
        };
        let mut served = unserved(target);
        // A pool this run has asked about already: a contact beyond its room costs no call at all.
        if let Some(pick) = pick
            && self.seats.contains_key(&target.instance_id)
            && let Err(done) = self.pick_member(target, pick, &mut served).await
        {
            served.result = done;
            return served;
        }
        // A named supervisor Connect refused in this run is still unavailable.
        if let Some(user) = &served.user_id
            && pick.is_none()
            && target.contact_scoped
            && self.unavailable.contains(&(target.instance_id.clone(), user.clone()))
        {
            served.result = Done::Skipped(SkipReason::SupervisorUnavailable);
            return served;
        }
        if config.verify_contact
            && let Some(done) = self.verify(target).await
        {
            served.result = done;
            self.return_seat(target, &served);
            return served;
        }
        if let Some(pick) = pick
            && served.user_id.is_none()
            && let Err(done) = self.pick_member(target, pick, &mut served).await
        {
            served.result = done;
            return served;
        }
        let Some(user_id) = served.user_id.clone() else {
            return served;
        };
        if let Some(hold) = hold
            && let Err(done) = self.take_for(hold, target, &user_id).await
        {
            served.result = done;
            self.return_seat(target, &served);
            return served;
        }
        served.result = self.monitor(target, user_id, pick.is_some()).await;
        self.return_seat(target, &served);
        served
    }

    /// A pool pick for the group: its member, or the outcome when nobody can be given (or the
    /// GetCurrentUserData call failed).
    async fn pick_member(&mut self, target: &Target, pick: Pick<'_>, served: &mut Served) -> Result<(), Done> {
        let (user_id, state) = self
            .pick_from_pools(&target.instance_id, pick)
            .await
            .map_err(Done::Failed)?;
        served.pool = Some(state);
        served.user_id = Some(user_id.ok_or(Done::Skipped(SkipReason::NoSupervisorAvailable))?);
        Ok(())
    }

    /// The pick from the instance's pools: GetCurrentUserData the first time in this run (or the
    /// answer a warm environment kept), the seats as this run has left them after that.
    async fn pick_from_pools(&mut self, instance_id: &str, pick: Pick<'_>) -> Seat {
        let answer = match self.seats.remove(instance_id) {
            Some(known) => known,
            None => self.who_has_room(instance_id).await,
        };
        match self.seats.entry(instance_id.to_owned()).or_insert(answer) {
            Ok(seats) => Ok(seats.take(pick)),
            Err(error) => Err(error.clone()),
        }
    }

    /// Who of the pools is present, and with how many monitors.
    async fn who_has_room(&mut self, instance_id: &str) -> Result<Seats, MonitorError> {
        let config = self.env.config;
        let present = self
            .user_data(instance_id)
            .await
            .map_err(|failed| explain(failed, Call::GetCurrentUserData { instance_id }))?;
        let seats = Seats::new(&present, config.max_monitors_per_supervisor);
        let seen = self.calls.pool_eligible.unwrap_or(0);
        self.calls.pool_eligible = Some(seen.saturating_add(seats.eligible(&config.pool_members)));
        Ok(seats)
    }

    /// GetCurrentUserData for every pool member, or the answer a warm environment kept.
    async fn user_data(&mut self, instance_id: &str) -> Result<Vec<Present>, Failed> {
        let snapshots = self.env.snapshots;
        if let Some(kept) = snapshots.get(instance_id, Instant::now()) {
            return Ok(kept);
        }
        let config: &Config = self.env.config;
        let (connect, members) = (self.env.connect, &config.pool_members);
        let present = self
            .call(Operation::GetCurrentUserData, || {
                connect.present_members(instance_id, members)
            })
            .await?;
        snapshots.put(instance_id, Instant::now(), &present);
        Ok(present)
    }

    /// A pool pick that started no monitor: the member has that room again, unless Connect refused
    /// them (then they take nobody else in this run, nor in a warm environment's kept answer), or the
    /// monitor could not be asked for within the run for want of quota (`Throttled`: Connect
    /// throttled every attempt, or the lowered pace left no turn). Then the seat stays with this
    /// contact, whose record comes back: any later contact given it would need the same call and
    /// meet the same pace, so it finds the pool as full as if the monitor had started, instead of
    /// failing too (a batch's whole remainder did, each record then held for the visibility timeout).
    fn return_seat(&mut self, target: &Target, served: &Served) {
        if matches!(served.result, Done::Started { .. }) || served.pool.is_none() {
            return;
        }
        if matches!(&served.result, Done::Failed(error) if error.kind == ErrorKind::Throttled) {
            return;
        }
        let (Some(user_id), Some(Ok(seats))) = (&served.user_id, self.seats.get_mut(&target.instance_id)) else {
            return;
        };
        if self
            .unavailable
            .contains(&(target.instance_id.clone(), user_id.clone()))
        {
            seats.fill(user_id);
            let max = self.env.config.max_monitors_per_supervisor;
            self.env.snapshots.refused(&target.instance_id, user_id, max);
        } else {
            seats.give_back(user_id);
        }
    }

    /// DescribeContact, once per contact in this run.
    async fn status(&mut self, instance_id: &str, contact_id: &str) -> Result<ContactStatus, Failed> {
        let key = (instance_id.to_owned(), contact_id.to_owned());
        if let Some(known) = self.statuses.get(&key) {
            return known.clone();
        }
        let connect = self.env.connect;
        let answer = self
            .call(Operation::DescribeContact, || {
                connect.contact_status(instance_id, contact_id)
            })
            .await;
        self.statuses.insert(key, answer.clone());
        answer
    }

    /// The live check (`VERIFY_CONTACT`): the outcome when the group is not to be monitored.
    async fn verify(&mut self, target: &Target) -> Option<Done> {
        match self.status(&target.instance_id, &target.contact_id).await {
            Ok(status) => live_check(&status, self.env.config).map(Done::Skipped),
            // On the automatic paths a contact Connect does not know is over, as after a refusal.
            Err(Failed::Connect(ConnectFailure::NotFound(_))) if target.contact_scoped => {
                Some(Done::Skipped(SkipReason::ContactEnded))
            }
            Err(failed) => Some(Done::Failed(explain(
                failed,
                Call::DescribeContact {
                    instance_id: &target.instance_id,
                    contact_id: &target.contact_id,
                },
            ))),
        }
    }

    /// The group's MonitorContact.
    async fn monitor(&mut self, target: &Target, user_id: String, pooled: bool) -> Done {
        let request = target.request(user_id);
        let connect = self.env.connect;
        let answer = self
            .call(Operation::MonitorContact, || connect.start_monitoring(&request))
            .await;
        match answer {
            Ok(monitoring) => {
                if pooled {
                    self.env.snapshots.started(&request.instance_id, &request.user_id);
                }
                Done::Started { monitoring, request }
            }
            Err(Failed::Connect(failure)) => self.after_refusal(target, &request, pooled, failure).await,
            Err(late) => Done::Failed(explain(
                late,
                Call::MonitorContact {
                    request: &request,
                    pooled,
                    contact_live: false,
                },
            )),
        }
    }

    /// What a refused MonitorContact means (see the module documentation).
    async fn after_refusal(
        &mut self,
        target: &Target,
        request: &MonitorRequest,
        pooled: bool,
        failure: ConnectFailure,
    ) -> Done {
        let automatic = target.contact_scoped;
        let verified = self.env.config.verify_contact;
        let call = |contact_live| Call::MonitorContact {
            request,
            pooled,
            contact_live,
        };
        if matches!(failure, ConnectFailure::QuotaExceeded(_)) {
            self.unavailable
                .insert((request.instance_id.clone(), request.user_id.clone()));
        }
        match failure {
            // The token stands for this monitor and leaves the user out (a pool pick) or stands for
            // the contact (automatic paths): it was used, so the monitor was started already.
            ConnectFailure::Idempotency(_) if pooled || automatic => Done::Skipped(SkipReason::AlreadyMonitored),
            ConnectFailure::QuotaExceeded(_) if automatic && !pooled => {
                Done::Skipped(SkipReason::SupervisorUnavailable)
            }
            ConnectFailure::NotFound(_) | ConnectFailure::InvalidRequest(_) if automatic && verified => {
                Done::Failed(failure.explain(call(true)))
            }
            ConnectFailure::NotFound(_) | ConnectFailure::InvalidRequest(_) if automatic => {
                match self.status(&target.instance_id, &target.contact_id).await {
                    Ok(status) => match live_check(&status, self.env.config) {
                        Some(reason) => Done::Skipped(reason),
                        None => Done::Failed(failure.explain(call(true))),
                    },
                    // Connect does not know the contact: over, or never was.
                    Err(Failed::Connect(ConnectFailure::NotFound(_))) => Done::Skipped(SkipReason::ContactEnded),
                    Err(failed) => Done::Failed(explain(
                        failed,
                        Call::DescribeContact {
                            instance_id: &target.instance_id,
                            contact_id: &target.contact_id,
                        },
                    )),
                }
            }
            failure => Done::Failed(failure.explain(call(false))),
        }
    }
}

/// This function's error for a call that failed or came too late.
fn explain(failed: Failed, call: Call<'_>) -> MonitorError {
    match failed {
        Failed::Connect(failure) => failure.explain(call),
        Failed::Late { before } => deadline_exceeded(before),
    }
}

#[cfg(test)]
// Scenario tests read as one story each; the length limit is for the function's own code.
#[allow(clippy::too_many_lines)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::client_token::{self, Purpose};
    use crate::connect::scripted::{Scripted, live};
    use crate::event::{self, Payload};
    use crate::plan::validate;

    const SUP: &str = "5a1e5000-0000-4000-8000-000000000001";
    const INST: &str = "1d2c3b4a-0000-4000-8000-00000000000a";
    const P1: &str = "9001";
    const P2: &str = "9002";

    fn config(vars: &[(&str, &str)]) -> Config {
        Config::from_lookup("us-east-1", |n| {
            vars.iter().rev().find(|(k, _)| *k == n).map(|(_, v)| (*v).to_owned())
        })
        .unwrap_or_else(|e| panic!("{e}"))
    }

    fn named() -> Config {
        config(&[("DEFAULT_SUPERVISOR_USER_ID", SUP)])
    }

    fn pool(extra: &[(&str, &str)]) -> Config {
        let mut vars = vec![("SUPERVISOR_POOL_USER_IDS", "9001,9002")];
        vars.extend_from_slice(extra);
        config(&vars)
    }

    /// The target an event stands for.
    fn target(config: &Config, json: &str) -> Target {
        let intent = match event::read(json, "req-1") {
            Ok(Payload::Single(intent)) => *intent,
            other => panic!("{json}: {other:?}"),
        };
        let validated = validate(&intent, config).unwrap_or_else(|e| panic!("{e}"));
        match validated.decide(config, SystemTime::now()) {
            Ok(Plan::Call(target)) => target,
            other => panic!("{json}: {other:?}"),
        }
    }

    /// A contact event for `contact` (its event ID differs per call site).
    fn contact_event(id: &str, contact: &str) -> String {
        format!(
            r#"{{"id":"{id}","detail-type":"Amazon Connect Contact Event","source":"aws.connect",
            "detail":{{"eventType":"CONNECTED_TO_AGENT","channel":"VOICE","initiationMethod":"INBOUND",
            "contactId":"{contact}","instanceArn":"arn:aws:connect:us-east-1:111122223333:instance/{INST}"}}}}"#
        )
    }

    /// Contact events for contacts c1, c2 and c3.
    fn three_contacts(config: &Config) -> Vec<Target> {
        ["c1", "c2", "c3"]
            .iter()
            .enumerate()
            .map(|(i, contact)| target(config, &contact_event(&format!("ev-{i}"), contact)))
            .collect()
    }

    fn contact_lens(id: &str, contact: &str) -> String {
        format!(
            r#"{{"id":"{id}","detail-type":"Contact Lens Realtime Rules Matched","source":"aws.connect",
            "detail":{{"ruleName":"upset","contactArn":"arn:aws:connect:us-east-1:111122223333:instance/{INST}/contact/{contact}"}}}}"#
        )
    }

    fn direct(contact: &str) -> String {
        format!(r#"{{"InstanceId":"{INST}","ContactId":"{contact}","EventId":"e-{contact}"}}"#)
    }

    fn present(user: &str, monitoring: u32) -> Present {
        Present {
            user_id: user.into(),
            monitoring,
        }
    }

    async fn go(connect: &Scripted, config: &Config, targets: &[Target]) -> (Vec<Resolved>, Calls) {
        go_within(connect, config, targets, Duration::from_secs(5)).await
    }

    async fn go_within(
        connect: &Scripted,
        config: &Config,
        targets: &[Target],
        budget: Duration,
    ) -> (Vec<Resolved>, Calls) {
        let pacer = Pacer::new(config.calls_per_second, Instant::now());
        let snapshots = Snapshots::new(config.user_data_ttl);
        let env = Env {
            connect,
            config,
            pacer: &pacer,
            snapshots: &snapshots,
            state: None::<&DynamoState>,
        };
        // No retries: these tests are about what one answer means (see `retries` below).
        let now = Instant::now();
        let window = Window {
            until: now,
            first_until: now + budget,
            deadline: now + budget,
            max_attempts: None,
        };
        run(&env, calls(targets), window).await
    }

    fn calls(targets: &[Target]) -> Vec<Result<Plan, MonitorError>> {
        targets.iter().cloned().map(|t| Ok(Plan::Call(t))).collect()
    }

    fn label(r: &Resolved) -> String {
        match &r.result {
            Ok(outcome) => outcome.label().to_owned(),
            Err(e) => e.kind.as_str().to_owned(),
        }
    }

    fn labels(resolved: &[Resolved]) -> Vec<String> {
        resolved.iter().map(label).collect()
    }

    fn arn(r: &Resolved) -> Option<&str> {
        match &r.result {
            Ok(Outcome::Started { contact_arn, .. }) => Some(contact_arn),
            _ => None,
        }
    }

    use Operation::{DescribeContact, GetCurrentUserData, MonitorContact};

    #[tokio::test]
    async fn events_about_one_contact_are_served_by_one_monitor() {
        let c = config(&[
            ("DEFAULT_SUPERVISOR_USER_ID", SUP),
            ("TRIGGER_EVENT_TYPES", "CONNECTED_TO_AGENT"),
        ]);
        let targets = [
            target(&c, &contact_event("ev-1", "c1")),
            target(&c, &contact_lens("cl-1", "c1")),
            target(&c, &contact_lens("cl-2", "c1")),
            target(&c, &contact_event("ev-1", "c2")),
        ];
        let connect = Scripted::default();
        let (resolved, calls) = go(&connect, &c, &targets).await;
        assert_eq!(labels(&resolved), ["STARTED"; 4]);
        assert_eq!(connect.ops(), [MonitorContact, MonitorContact], "one per contact");
        assert_eq!(arn(&resolved[0]), arn(&resolved[2]));
        assert_ne!(arn(&resolved[0]), arn(&resolved[3]));
        assert_eq!(calls.made, [0, 0, 2]);
        // Each event keeps what is its own: the escalations name their rule, QA does not.
        assert!(matches!(&resolved[1].result, Ok(Outcome::Started { rule_name: Some(r), .. }) if r == "upset"));
        assert!(matches!(
            &resolved[0].result,
            Ok(Outcome::Started { rule_name: None, .. })
        ));
    }

    #[tokio::test]
    async fn a_batch_makes_one_get_current_user_data_and_never_exceeds_the_limit() {
        let c = pool(&[]);
        let targets: Vec<Target> = (0..5)
            .map(|n| target(&c, &contact_event(&format!("ev-{n}"), &format!("c{n}"))))
            .collect();
        let connect = Scripted::default();
        connect.answer_present(Ok(vec![present(P1, 0), present(P2, 0)]));
        let (resolved, calls) = go(&connect, &c, &targets).await;
        assert_eq!(
            connect.ops(),
            [GetCurrentUserData, MonitorContact, MonitorContact],
            "the contacts beyond the pool's capacity cost no MonitorContact"
        );
        let started: Vec<&Resolved> = resolved.iter().filter(|r| label(r) == "STARTED").collect();
        assert_eq!(started.len(), 2);
        let users: Vec<&str> = started.iter().filter_map(|r| r.user_id.as_deref()).collect();
        assert!(users.contains(&P1) && users.contains(&P2), "{users:?}");
        assert_eq!(
            resolved
                .iter()
                .filter(|r| label(r) == "NO_SUPERVISOR_AVAILABLE")
                .count(),
            3
        );
        assert_eq!(calls.pool_eligible, Some(2));
        for r in &resolved {
            let state = r.pool.unwrap_or_else(|| panic!("a pool pick logs the pool"));
            assert_eq!(state.size, 2);
        }
        // The pool token names the monitor: a retry of the batch sends the same tokens.
        let tokens: Vec<String> = connect.requests().iter().map(|r| r.client_token.clone()).collect();
        let expected: Vec<String> = ["c0", "c1", "c2", "c3", "c4"]
            .iter()
            .map(|c| client_token::contact_pool_token(INST, c, Purpose::Qa))
            .filter(|t| tokens.contains(t))
            .collect();
        assert_eq!(tokens.len(), 2);
        assert_eq!(expected.len(), 2);
    }

    #[tokio::test]
    async fn a_qa_reviewer_and_an_escalation_supervisor_may_both_listen() {
        let c = pool(&[]);
        let targets = [
            target(&c, &contact_event("ev-1", "c1")),
            target(&c, &contact_lens("cl-1", "c1")),
            target(&c, &contact_lens("cl-2", "c1")),
        ];
        let connect = Scripted::default();
        connect.answer_present(Ok(vec![present(P1, 0), present(P2, 0)]));
        let (resolved, _) = go(&connect, &c, &targets).await;
        assert_eq!(labels(&resolved), ["STARTED"; 3]);
        assert_eq!(connect.ops(), [GetCurrentUserData, MonitorContact, MonitorContact]);
        assert_ne!(resolved[0].user_id, resolved[1].user_id, "two monitors, two people");
        assert_eq!(arn(&resolved[1]), arn(&resolved[2]), "two escalations, one monitor");
    }

    #[tokio::test]
    async fn a_normal_day_on_the_automatic_paths_is_a_skip() {
        let c = named();
        let event = [target(&c, &contact_event("ev-1", "c1"))];
        // (MonitorContact's answer, DescribeContact's, the outcome, the calls made)
        type Case = (
            ConnectFailure,
            Result<ContactStatus, ConnectFailure>,
            &'static str,
            Vec<Operation>,
        );
        let cases: Vec<Case> = vec![
            // The monitor exists: an earlier event about the contact started it.
            (
                ConnectFailure::Idempotency("used".into()),
                Ok(live("VOICE")),
                "ALREADY_MONITORED",
                vec![MonitorContact],
            ),
            // The default supervisor is not logged in or is busy.
            (
                ConnectFailure::QuotaExceeded("busy".into()),
                Ok(live("VOICE")),
                "SUPERVISOR_UNAVAILABLE",
                vec![MonitorContact],
            ),
            // The call ended first: one DescribeContact says so.
            (
                ConnectFailure::InvalidRequest("not active".into()),
                Ok(ContactStatus {
                    ended: true,
                    ..live("VOICE")
                }),
                "CONTACT_ENDED",
                vec![MonitorContact, DescribeContact],
            ),
            (
                ConnectFailure::NotFound("gone".into()),
                Err(ConnectFailure::NotFound("no such contact".into())),
                "CONTACT_ENDED",
                vec![MonitorContact, DescribeContact],
            ),
            // The contact is live: what Connect did not find is the supervisor, an error.
            (
                ConnectFailure::NotFound("no user".into()),
                Ok(live("VOICE")),
                "SupervisorNotFound",
                vec![MonitorContact, DescribeContact],
            ),
            (
                ConnectFailure::InvalidRequest("bad".into()),
                Ok(live("VOICE")),
                "InvalidEvent",
                vec![MonitorContact, DescribeContact],
            ),
            // DescribeContact itself failing is its own error.
            (
                ConnectFailure::NotFound("gone".into()),
                Err(ConnectFailure::AccessDenied("no".into())),
                "AccessDenied",
                vec![MonitorContact, DescribeContact],
            ),
        ];
        for (failure, status, expected, ops) in cases {
            let connect = Scripted::default();
            connect.answer_monitor([Err(failure.clone())]);
            connect.answer_status(status);
            let (resolved, _) = go(&connect, &c, &event).await;
            assert_eq!(label(&resolved[0]), expected, "{failure:?}");
            assert_eq!(connect.ops(), ops, "{failure:?}");
        }
    }

    #[tokio::test]
    async fn with_the_live_check_a_refusal_needs_no_second_look() {
        let c = config(&[("DEFAULT_SUPERVISOR_USER_ID", SUP), ("VERIFY_CONTACT", "true")]);
        let event = [target(&c, &contact_event("ev-1", "c1"))];
        let connect = Scripted::default();
        connect.answer_monitor([Err(ConnectFailure::NotFound("no user".into()))]);
        let (resolved, calls) = go(&connect, &c, &event).await;
        assert_eq!(label(&resolved[0]), "SupervisorNotFound");
        assert_eq!(connect.ops(), [DescribeContact, MonitorContact]);
        assert_eq!(calls.made, [1, 0, 1]);
    }

    #[tokio::test]
    async fn contact_flows_and_direct_requests_keep_their_errors() {
        let c = named();
        let request = [target(&c, &direct("c1"))];
        for (failure, expected) in [
            (ConnectFailure::NotFound("gone".into()), "ContactNotFound"),
            (ConnectFailure::InvalidRequest("not active".into()), "InvalidEvent"),
            (ConnectFailure::QuotaExceeded("busy".into()), "SupervisorUnavailable"),
            (ConnectFailure::Idempotency("used".into()), "IdempotencyConflict"),
        ] {
            let connect = Scripted::default();
            connect.answer_monitor([Err(failure)]);
            let (resolved, _) = go(&connect, &c, &request).await;
            assert_eq!(label(&resolved[0]), expected);
            assert_eq!(connect.ops(), [MonitorContact], "no second look");
        }
        // A pool pick that lost its member to another environment is retryable, for every source.
        let p = pool(&[]);
        let connect = Scripted::default();
        connect.answer_present(Ok(vec![present(P1, 0)]));
        connect.answer_monitor([Err(ConnectFailure::QuotaExceeded("busy".into()))]);
        let (resolved, _) = go(&connect, &p, &[target(&p, &contact_event("ev-1", "c1"))]).await;
        assert_eq!(label(&resolved[0]), "SupervisorUnavailable");
        // ...and a refused pool token means served.
        let connect = Scripted::default();
        connect.answer_present(Ok(vec![present(P1, 0)]));
        connect.answer_monitor([Err(ConnectFailure::Idempotency("used".into()))]);
        let (resolved, _) = go(&connect, &p, &[target(&p, &direct("c1"))]).await;
        assert_eq!(label(&resolved[0]), "ALREADY_MONITORED");
    }

    #[tokio::test]
    async fn the_live_check_runs_once_per_contact_just_before_its_monitor() {
        let c = pool(&[("VERIFY_CONTACT", "true"), ("MAX_MONITORS_PER_SUPERVISOR", "2")]);
        let targets = [
            target(&c, &contact_event("ev-1", "c1")),
            target(&c, &contact_lens("cl-1", "c1")),
            target(&c, &contact_event("ev-2", "c2")),
        ];
        let connect = Scripted::default();
        connect.answer_present(Ok(vec![present(P1, 0), present(P2, 0)]));
        let (resolved, calls) = go(&connect, &c, &targets).await;
        assert_eq!(labels(&resolved), ["STARTED"; 3]);
        assert_eq!(
            connect.ops(),
            [
                DescribeContact,
                GetCurrentUserData,
                MonitorContact,
                MonitorContact,
                DescribeContact,
                MonitorContact
            ],
            "c1 has two monitors (QA and escalation) and one DescribeContact, each contact's just before its monitors"
        );
        assert_eq!(calls.made, [2, 1, 3]);
        let connect = Scripted::default();
        connect.answer_status(Ok(ContactStatus {
            ended: true,
            ..live("VOICE")
        }));
        let (resolved, _) = go(&connect, &c, &targets).await;
        assert_eq!(labels(&resolved), ["CONTACT_ENDED"; 3]);
        assert_eq!(connect.ops(), [DescribeContact, DescribeContact]);
    }

    #[tokio::test]
    async fn a_full_pool_costs_no_live_check_and_a_seat_that_started_nothing_is_given_back() {
        // One member with room for one: c1 takes the seat, c2 and c3 find the pool full and cost
        // nothing, not even the live check.
        let c = config(&[("SUPERVISOR_POOL_USER_IDS", P1), ("VERIFY_CONTACT", "true")]);
        let targets = three_contacts(&c);
        let connect = Scripted::default();
        connect.answer_present(Ok(vec![present(P1, 0)]));
        let (resolved, calls) = go(&connect, &c, &targets).await;
        assert_eq!(
            labels(&resolved),
            ["STARTED", "NO_SUPERVISOR_AVAILABLE", "NO_SUPERVISOR_AVAILABLE"]
        );
        assert_eq!(connect.ops(), [DescribeContact, GetCurrentUserData, MonitorContact]);
        assert_eq!(calls.made, [1, 1, 1]);

        // Without the live check, c1 has ended when its monitor is asked for: the seat it took
        // goes to c2, and c3 finds the pool full.
        let c = config(&[("SUPERVISOR_POOL_USER_IDS", P1)]);
        let connect = Scripted::default();
        connect.answer_present(Ok(vec![present(P1, 0)]));
        connect.answer_monitor([Err(ConnectFailure::NotFound("gone".into()))]);
        connect.answer_status(Ok(ContactStatus {
            ended: true,
            ..live("VOICE")
        }));
        let (resolved, _) = go(&connect, &c, &targets).await;
        assert_eq!(
            labels(&resolved),
            ["CONTACT_ENDED", "STARTED", "NO_SUPERVISOR_AVAILABLE"]
        );
        assert_eq!(
            connect.ops(),
            [GetCurrentUserData, MonitorContact, DescribeContact, MonitorContact]
        );
        assert_eq!(resolved[1].user_id.as_deref(), Some(P1));
    }

    #[tokio::test(start_paused = true)]
    async fn a_seat_whose_monitor_the_quota_left_no_room_for_stays_with_its_contact() {
        // A paced batch whose MonitorContact Connect throttles until the deadline: c1 keeps its seat
        // (its record comes back); with one member, c2 and c3 find the pool full instead of each
        // taking the same seat and failing in turn.
        let c = config(&[("SUPERVISOR_POOL_USER_IDS", P1), ("CONNECT_CALLS_PER_SECOND", "1")]);
        let targets = three_contacts(&c);
        let connect = Scripted::default();
        connect.answer_present(Ok(vec![present(P1, 0)]));
        connect.answer_monitor((0..50).map(|_| Err(ConnectFailure::Throttling("Rate exceeded".into()))));
        let pacer = Pacer::new(c.calls_per_second, Instant::now());
        let snapshots = Snapshots::new(c.user_data_ttl);
        let env = Env {
            connect: &connect,
            config: &c,
            pacer: &pacer,
            snapshots: &snapshots,
            state: None::<&DynamoState>,
        };
        // Two attempts: at once, then two intervals of the halved rate later (4 s).
        let window = Window::to_deadline(Instant::now() + Duration::from_secs(6), None);
        let (resolved, calls) = run(&env, calls(&targets), window).await;
        assert_eq!(
            labels(&resolved),
            ["Throttled", "NO_SUPERVISOR_AVAILABLE", "NO_SUPERVISOR_AVAILABLE"]
        );
        assert_eq!(resolved[0].user_id.as_deref(), Some(P1));
        assert!(calls.made[Operation::MonitorContact.index()] >= 2, "{calls:?}");
        assert_eq!(
            connect
                .requests()
                .iter()
                .map(|r| r.contact_id.as_str())
                .collect::<HashSet<_>>(),
            HashSet::from(["c1"]),
            "only c1's monitor was asked for"
        );
    }

    #[tokio::test]
    async fn whom_connect_refused_is_not_asked_again_in_the_batch() {
        // The default supervisor is not logged in: one MonitorContact says so for the whole batch.
        let c = named();
        let connect = Scripted::default();
        connect.answer_monitor([Err(ConnectFailure::QuotaExceeded("busy".into()))]);
        let (resolved, calls) = go(&connect, &c, &three_contacts(&c)).await;
        assert_eq!(labels(&resolved), ["SUPERVISOR_UNAVAILABLE"; 3]);
        assert_eq!(connect.ops(), [MonitorContact]);
        assert_eq!(calls.made, [0, 0, 1]);

        // A pool member who lost a race to another environment takes nobody else: the other member
        // takes the next contact, and then the pool is full.
        let c = pool(&[]);
        let connect = Scripted::default();
        connect.answer_present(Ok(vec![present(P1, 0), present(P2, 0)]));
        connect.answer_monitor([Err(ConnectFailure::QuotaExceeded("at limit".into()))]);
        let (resolved, _) = go(&connect, &c, &three_contacts(&c)).await;
        assert_eq!(
            labels(&resolved),
            ["SupervisorUnavailable", "STARTED", "NO_SUPERVISOR_AVAILABLE"]
        );
        let asked: Vec<String> = connect.requests().into_iter().map(|r| r.user_id).collect();
        assert_eq!(asked.len(), 2);
        assert_ne!(asked[0], asked[1], "the refused member is not asked again");
    }

    #[tokio::test]
    async fn events_that_qa_rules_send_to_two_pools_still_stand_for_one_monitor() {
        // INITIATED has no agent yet and falls to the last rule; CONNECTED_TO_AGENT names the new
        // hire. One contact, one QA monitor: the first event decides who, one MonitorContact.
        let rules = format!(
            r#"[{{"name":"new-hires","agents":["{SUP}"],"percent":100,"supervisors":["{P1}"]}},
                {{"name":"everyone-else","percent":100,"supervisors":["{P2}"]}}]"#
        );
        let c = config(&[
            ("QA_RULES", &rules),
            ("TRIGGER_EVENT_TYPES", "INITIATED,CONNECTED_TO_AGENT"),
        ]);
        let event = |id: &str, kind: &str, agent: &str| {
            format!(
                r#"{{"id":"{id}","detail-type":"Amazon Connect Contact Event","source":"aws.connect",
                "detail":{{"eventType":"{kind}","channel":"VOICE","initiationMethod":"INBOUND","contactId":"c1",
                "instanceArn":"arn:aws:connect:us-east-1:111122223333:instance/{INST}"{agent}}}}}"#
            )
        };
        let agent = format!(
            r#","agentInfo":{{"agentArn":"arn:aws:connect:us-east-1:111122223333:instance/{INST}/agent/{SUP}"}}"#
        );
        let targets = [
            target(&c, &event("ev-1", "INITIATED", "")),
            target(&c, &event("ev-2", "CONNECTED_TO_AGENT", &agent)),
        ];
        assert_eq!(targets[0].qa_rule.as_deref(), Some("everyone-else"));
        assert_eq!(targets[1].qa_rule.as_deref(), Some("new-hires"));
        let connect = Scripted::default();
        connect.answer_present(Ok(vec![present(P1, 0), present(P2, 0)]));
        let (resolved, _) = go(&connect, &c, &targets).await;
        assert_eq!(labels(&resolved), ["STARTED"; 2]);
        assert_eq!(connect.ops(), [GetCurrentUserData, MonitorContact]);
        assert_eq!(arn(&resolved[0]), arn(&resolved[1]));
        assert_eq!(connect.requests()[0].user_id, P2);
    }

    #[tokio::test]
    async fn an_unknown_contact_is_over_on_the_automatic_paths_whoever_asks_first() {
        let c = config(&[("DEFAULT_SUPERVISOR_USER_ID", SUP), ("VERIFY_CONTACT", "true")]);
        for (json, expected) in [
            (contact_event("ev-1", "c1"), "CONTACT_ENDED"),
            (contact_lens("cl-1", "c1"), "CONTACT_ENDED"),
            (direct("c1"), "ContactNotFound"),
        ] {
            let connect = Scripted::default();
            connect.answer_status(Err(ConnectFailure::NotFound("no such contact".into())));
            let (resolved, _) = go(&connect, &c, &[target(&c, &json)]).await;
            assert_eq!(label(&resolved[0]), expected, "{json}");
            assert_eq!(connect.ops(), [DescribeContact], "{json}");
        }
    }

    #[tokio::test]
    async fn a_failed_user_data_call_fails_the_pool_picks_only() {
        let c = config(&[
            ("SUPERVISOR_POOL_USER_IDS", "9001"),
            ("ALLOWED_SUPERVISOR_USER_IDS", SUP),
        ]);
        let named_request = format!(r#"{{"InstanceId":"{INST}","ContactId":"c9","UserId":"{SUP}","EventId":"n"}}"#);
        let targets = [target(&c, &direct("c1")), target(&c, &named_request)];
        let connect = Scripted::default();
        connect.answer_present(Err(ConnectFailure::Throttling("slow down".into())));
        let (resolved, _) = go(&connect, &c, &targets).await;
        assert_eq!(labels(&resolved), ["Throttled", "STARTED"]);
        assert_eq!(connect.ops(), [GetCurrentUserData, MonitorContact]);
    }

    #[tokio::test(start_paused = true)]
    async fn calls_wait_for_their_turn_and_the_deadline_stops_them() {
        // 1 call/s per API, bursts of 2: the third and fourth MonitorContact wait 1 and 2 s.
        let c = config(&[("DEFAULT_SUPERVISOR_USER_ID", SUP), ("CONNECT_CALLS_PER_SECOND", "1")]);
        let targets: Vec<Target> = (0..6).map(|n| target(&c, &direct(&format!("c{n}")))).collect();
        let connect = Scripted::default();
        let begun = Instant::now();
        let (resolved, calls) = go_within(&connect, &c, &targets, Duration::from_millis(2_500)).await;
        assert_eq!(
            labels(&resolved),
            [
                "STARTED",
                "STARTED",
                "STARTED",
                "STARTED",
                "DeadlineExceeded",
                "DeadlineExceeded"
            ]
        );
        assert_eq!(calls.made, [0, 0, 4], "no call was made for what had no time left");
        assert!(begun.elapsed() >= Duration::from_secs(2) && begun.elapsed() < Duration::from_millis(2_500));
        assert!(
            resolved[4]
                .result
                .as_ref()
                .is_err_and(|e| e.message.contains("before calling Connect"))
        );
        // Off: no waiting at all.
        let off = config(&[("DEFAULT_SUPERVISOR_USER_ID", SUP), ("CONNECT_CALLS_PER_SECOND", "off")]);
        let connect = Scripted::default();
        let begun = Instant::now();
        let (resolved, _) = go(&connect, &off, &targets).await;
        assert_eq!(labels(&resolved), ["STARTED"; 6]);
        assert_eq!(begun.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_connect_is_cut_off_at_the_deadline() {
        let c = config(&[("DEFAULT_SUPERVISOR_USER_ID", SUP), ("VERIFY_CONTACT", "true")]);
        let connect = Scripted {
            delay: Duration::from_secs(1),
            ..Scripted::default()
        };
        let targets = [target(&c, &direct("c1"))];
        let (resolved, _) = go_within(&connect, &c, &targets, Duration::from_millis(1_500)).await;
        assert_eq!(labels(&resolved), ["DeadlineExceeded"]);
        assert_eq!(
            connect.ops(),
            [DescribeContact, MonitorContact],
            "one budget covers every call"
        );
        assert!(
            resolved[0]
                .result
                .as_ref()
                .is_err_and(|e| e.message.contains("while waiting for Connect"))
        );
        // No time at all: no call.
        let connect = Scripted::default();
        let (resolved, calls) = go_within(&connect, &c, &targets, Duration::ZERO).await;
        assert_eq!(labels(&resolved), ["DeadlineExceeded"]);
        assert_eq!((connect.ops(), calls.made), (vec![], [0, 0, 0]));
    }

    #[tokio::test(start_paused = true)]
    async fn a_stalled_attempt_in_a_batch_is_cut_and_replayed_and_an_unknown_outcome_is_never_a_plain_failure() {
        let c = config(&[("DEFAULT_SUPERVISOR_USER_ID", SUP), ("CONNECT_CALLS_PER_SECOND", "off")]);
        let targets = [target(&c, &direct("c1"))];
        let pacer = Pacer::new(None, Instant::now());
        let snapshots = Snapshots::new(c.user_data_ttl);
        let run_with = |connect: &'static Scripted, budget: Duration| {
            let (c, targets, pacer, snapshots) = (c.clone(), targets.clone(), &pacer, &snapshots);
            async move {
                let env = Env {
                    connect,
                    config: &c,
                    pacer,
                    snapshots,
                    state: None::<&DynamoState>,
                };
                let window = Window::to_deadline(Instant::now() + budget, None);
                run(&env, calls(&targets), window).await
            }
        };
        // Every answer takes 12 s: attempts are cut after 5 s while another can follow, and the
        // answer is DeadlineExceeded ("may have started"), never a failure a retry would "fix".
        let slow: &'static Scripted = Box::leak(Box::new(Scripted {
            delay: Duration::from_secs(12),
            ..Scripted::default()
        }));
        let begun = Instant::now();
        let (resolved, calls) = run_with(slow, Duration::from_secs(20)).await;
        assert_eq!(labels(&resolved), ["DeadlineExceeded"]);
        assert!(
            resolved[0]
                .result
                .as_ref()
                .is_err_and(|e| e.message.contains("may have started")),
            "{resolved:?}"
        );
        // The third cut leaves too little time for an attempt as long as the last one: it ends there.
        assert!(begun.elapsed() >= Duration::from_secs(15) && begun.elapsed() <= Duration::from_secs(20));
        assert!(calls.made[Operation::MonitorContact.index()] >= 3, "{calls:?}");
        let tokens: HashSet<String> = slow.requests().into_iter().map(|r| r.client_token).collect();
        assert_eq!(tokens.len(), 1, "every attempt replays one ClientToken");
        // A 5xx after a stalled attempt: still unknown, so still DeadlineExceeded, never ConnectUnavailable.
        let flaky: &'static Scripted = Box::leak(Box::new(Scripted::default()));
        flaky.answer_monitor((0..50).map(|_| Err(ConnectFailure::Unavailable("oops".into()))));
        let (resolved, _) = run_with(flaky, Duration::from_secs(3)).await;
        assert_eq!(
            labels(&resolved),
            ["ConnectUnavailable"],
            "nothing was cut: Connect said no"
        );
    }

    #[tokio::test]
    async fn a_warm_environment_may_reuse_what_get_current_user_data_said() {
        let c = pool(&[("USER_DATA_CACHE_SECONDS", "30"), ("MAX_MONITORS_PER_SUPERVISOR", "1")]);
        let pacer = Pacer::new(None, Instant::now());
        let snapshots = Snapshots::new(c.user_data_ttl);
        let connect = Scripted::default();
        connect.answer_present(Ok(vec![present(P1, 0), present(P2, 0)]));
        let env = Env {
            connect: &connect,
            config: &c,
            pacer: &pacer,
            snapshots: &snapshots,
            state: None::<&DynamoState>,
        };
        let deadline = || Window::to_deadline(Instant::now() + Duration::from_secs(5), None);
        let first = [target(&c, &contact_event("ev-1", "c1"))];
        let (resolved, _) = run(&env, calls(&first), deadline()).await;
        assert_eq!(labels(&resolved), ["STARTED"]);
        // The next batch reuses the answer, with the monitor this environment started counted.
        let next = [
            target(&c, &contact_event("ev-2", "c2")),
            target(&c, &contact_event("ev-3", "c3")),
        ];
        let (resolved, made) = run(&env, calls(&next), deadline()).await;
        assert_eq!(labels(&resolved), ["STARTED", "NO_SUPERVISOR_AVAILABLE"]);
        assert_eq!(made.made, [0, 0, 1], "no second GetCurrentUserData");
        assert_ne!(resolved[0].user_id, Some(connect.requests()[0].user_id.clone()));
    }
}

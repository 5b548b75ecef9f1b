//! QA rules with a quota (`perAgent`, `perReviewer`): the slot a contact needs, taken before its
//! MonitorContact, recorded when the monitor starts, given back when it did not. The counts are the
//! state table's (`qa_state`), kept exact by its conditional writes; see docs/how-it-decides.md.
//!
//! Calls to the table per group: `perAgent` alone takes the slot first (one call; a skip costs no
//! more) and then records or gives back (one more). With `perReviewer` one read comes first (the
//! agent's count and every reviewer's, so a skip costs one call and the pick is among reviewers below
//! their limit), then the take with the reviewer picked, then the record or the give-back: three.

use super::{Done, Run, Served};
use crate::connect::Connect;
use crate::error::{ErrorKind, MonitorError};
use crate::outcome::SkipReason;
use crate::plan::{QuotaTicket, Supervisor, Target};
use crate::qa_state::{Claim, QaState, Record, StateError, Taken, agent_counter, reviewer_counter};
use crate::quota::verdict;

/// A group's hold on its quota slot.
pub(super) struct Hold<'t> {
    ticket: &'t QuotaTicket,
    /// `perReviewer`: the pool members below their limit; the pick is among them.
    pub(super) eligible: Option<Vec<String>>,
    /// The claim once taken, or once found held by another event about the contact (it counts once).
    claim: Option<Claim>,
}

impl<C: Connect, S: QaState> Run<'_, '_, C, S> {
    /// A group under a quota rule: its slot, its calls, then the record or the give-back.
    pub(super) async fn serve_with_quota(&mut self, target: &Target, ticket: &QuotaTicket, state: &S) -> Served {
        let mut hold = Hold {
            ticket,
            eligible: None,
            claim: None,
        };
        if let Err(done) = self.before_calls(target, &mut hold, state).await {
            return Served {
                result: done,
                user_id: None,
                pool: None,
            };
        }
        let mut served = self.serve_calls(target, Some(&mut hold)).await;
        if let Some(claim) = &hold.claim
            && let Err(error) = self.settle(claim, ticket, &served.result, state).await
        {
            served.result = Done::Failed(error);
        }
        served
    }

    /// Before any Connect call: with `perReviewer`, one read of the counts (a skip decided on it);
    /// with `perAgent` alone, the take itself.
    async fn before_calls(&mut self, target: &Target, hold: &mut Hold<'_>, state: &S) -> Result<(), Done> {
        let ticket = hold.ticket;
        let Some(limit) = &ticket.per_reviewer else {
            let claim = claim(ticket, &target.contact_id, None);
            let taken = self.state_call(state.take(&claim)).await?;
            if let Some(skip) = not_held(ticket, taken) {
                return Err(Done::Skipped(skip));
            }
            hold.claim = Some(claim);
            return Ok(());
        };
        let members: Vec<String> = match target.supervisor {
            Supervisor::Pool(pool) => pool.members(self.env.config).to_vec(),
            Supervisor::Named(_) => Vec::new(),
        };
        let mut keys: Vec<(String, String)> = Vec::with_capacity(members.len() + 1);
        if let Some(slots) = &ticket.per_agent {
            let counter = agent_counter(&ticket.rule, &ticket.agent, &slots.period, slots.open);
            keys.push((counter.pk, counter.sk));
        }
        for member in &members {
            let counter = reviewer_counter(&ticket.rule, member, &limit.period, limit.open);
            keys.push((counter.pk, counter.sk));
        }
        let counts = self.state_call(state.counts(&keys)).await?;
        let reviewer_counts = match &ticket.per_agent {
            Some(slots) => {
                if let Some(reason) = verdict(counts.first().copied().unwrap_or(0), slots.open, slots.count) {
                    return Err(Done::Skipped(reason));
                }
                counts.get(1..).unwrap_or_default()
            }
            None => &counts[..],
        };
        let eligible: Vec<String> = members
            .into_iter()
            .zip(reviewer_counts)
            .filter(|(_, taken)| **taken < limit.open)
            .map(|(member, _)| member)
            .collect();
        if eligible.is_empty() {
            return Err(Done::Skipped(SkipReason::NoSupervisorAvailable));
        }
        hold.eligible = Some(eligible);
        Ok(())
    }

    /// With `perReviewer`, once the reviewer is picked: the slot, the agent's and the reviewer's.
    pub(super) async fn take_for(&mut self, hold: &mut Hold<'_>, target: &Target, reviewer: &str) -> Result<(), Done> {
        if hold.claim.is_some() {
            return Ok(());
        }
        let Some(state) = self.env.state else {
            return Ok(());
        };
        let claim = claim(hold.ticket, &target.contact_id, Some(reviewer));
        let taken = self.state_call(state.take(&claim)).await?;
        if let Some(skip) = not_held(hold.ticket, taken) {
            return Err(Done::Skipped(skip));
        }
        hold.claim = Some(claim);
        Ok(())
    }

    /// After the calls: a monitor that started is recorded; a slot whose monitor certainly did not
    /// start is given back. An unknown outcome (the deadline) keeps the slot: never more than N.
    async fn settle(
        &mut self,
        claim: &Claim,
        ticket: &QuotaTicket,
        done: &Done,
        state: &S,
    ) -> Result<(), MonitorError> {
        match done {
            Done::Started { monitoring, request } => {
                let record = Record {
                    contact_id: request.contact_id.clone(),
                    agent: ticket.agent.clone(),
                    reviewer: request.user_id.clone(),
                    rule: ticket.rule.clone(),
                    event_type: ticket.event_type.clone(),
                    event_time: ticket.event_time.clone(),
                    started_at: jiff::Timestamp::now().to_string(),
                    monitor_arn: monitoring.contact_arn.clone(),
                    quota: ticket.per_agent.as_ref().map(|slots| slots.count),
                    team: ticket.team.clone(),
                    day: ticket.day.clone(),
                    expires: ticket.expires,
                };
                // The monitor is live: a record that cannot be written does not undo it (the count,
                // kept by the claim, stays right); the log says so.
                if let Err(Done::Failed(error)) = self.state_call(state.record(claim, &record)).await {
                    tracing::error!(rule = %ticket.rule, error = %error.message, "QA record not written");
                }
                Ok(())
            }
            Done::Skipped(SkipReason::AlreadyMonitored) => Ok(()),
            Done::Failed(error) if error.kind == ErrorKind::DeadlineExceeded => Ok(()),
            Done::Skipped(_) | Done::Failed(_) => self.state_call(state.give_back(claim)).await.map_err(failed),
        }
    }

    /// One call to the state table, counted, and ended by the invocation's deadline; none once the
    /// table has failed in this run.
    async fn state_call<T>(&mut self, call: impl Future<Output = Result<T, StateError>>) -> Result<T, Done> {
        if self.state_down {
            return Err(Done::Failed(unavailable(StateError {
                message: "the QA state table failed earlier in this batch: no monitor starts without its slot".into(),
            })));
        }
        self.calls.state += 1;
        let answer = tokio::time::timeout_at(self.window.deadline, call).await;
        let answer = answer.unwrap_or_else(|_| {
            Err(StateError {
                message: "the QA state table did not answer before the invocation's deadline".into(),
            })
        });
        answer.map_err(|error| {
            self.state_down = true;
            Done::Failed(unavailable(error))
        })
    }
}

fn failed(done: Done) -> MonitorError {
    match done {
        Done::Failed(error) => error,
        _ => unavailable(StateError {
            message: "the QA state table failed".into(),
        }),
    }
}

fn unavailable(error: StateError) -> MonitorError {
    MonitorError::new(ErrorKind::StateUnavailable, error.message)
}

/// The claim for a contact: the agent's slot (`perAgent`) and the reviewer's (`perReviewer`, once
/// picked).
fn claim(ticket: &QuotaTicket, contact_id: &str, reviewer: Option<&str>) -> Claim {
    Claim {
        rule: ticket.rule.clone(),
        contact_id: contact_id.to_owned(),
        agent: ticket
            .per_agent
            .as_ref()
            .map(|slots| agent_counter(&ticket.rule, &ticket.agent, &slots.period, slots.open)),
        reviewer: reviewer
            .zip(ticket.per_reviewer.as_ref())
            .map(|(reviewer, limit)| reviewer_counter(&ticket.rule, reviewer, &limit.period, limit.open)),
        expires: ticket.expires,
    }
}

/// The skip when the take did not hold the slot (`None`: it holds it).
fn not_held(ticket: &QuotaTicket, taken: Taken) -> Option<SkipReason> {
    match (taken, &ticket.per_agent) {
        (Taken::Taken | Taken::Held, _) => None,
        (Taken::AgentFull { taken }, Some(slots)) => {
            Some(verdict(taken, slots.open, slots.count).unwrap_or(SkipReason::NotYet))
        }
        _ => Some(SkipReason::NoSupervisorAvailable),
    }
}

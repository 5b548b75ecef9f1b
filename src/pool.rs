//! The supervisor pools: which configured supervisor takes a contact. GetCurrentUserData says who is
//! logged in and how many contacts each monitors; rendezvous hashing ranks the eligible members, so
//! that every event about a contact ranks them the same way and a member logging in or out moves only
//! the contacts that member wins; in a batch, picks are made in order (`Seats`), nobody beyond the
//! limit. The steps and why: docs/how-it-decides.md, "Supervisor pool"; the ranking is pinned by the
//! test vectors below.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::client_token::{self, Purpose};
use crate::connect::Present;

/// How a pick ranks the members.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rank<'a> {
    /// Connect's own events: by the monitor (see the module documentation).
    Monitor {
        instance_id: &'a str,
        contact_id: &'a str,
        purpose: Purpose,
    },
    /// Other events: by the event.
    Event(&'a str),
}

/// The pool as a pick saw it: the counts go into the log line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolState {
    /// Configured members of the pool.
    pub size: u32,
    /// Members logged in to the CCP.
    pub logged_in: u32,
    /// Logged-in members already monitoring as many contacts as allowed (this batch's picks
    /// included).
    pub at_limit: u32,
    /// Members who could take the contact.
    pub eligible: u32,
}

/// One pick to make: from which members, ranked how.
#[derive(Debug, Clone, Copy)]
pub struct Pick<'a> {
    pub members: &'a [String],
    pub rank: Rank<'a>,
}

/// Who has room, as one GetCurrentUserData answer showed it and as this batch has changed it since.
///
/// Users in `present` who are in no pick's pool are ignored (the service answers for the filter's
/// users, but the function trusts only its configuration). A user reported twice counts once, with
/// the higher monitoring count.
#[derive(Debug, Clone)]
pub struct Seats {
    /// Monitors per logged-in user: what the answer showed, plus what this batch has taken.
    busy: HashMap<String, u32>,
    max_monitors: u32,
}

impl Seats {
    pub fn new(present: &[Present], max_monitors: u32) -> Seats {
        let mut busy: HashMap<String, u32> = HashMap::new();
        for p in present {
            let count = busy.entry(p.user_id.clone()).or_insert(0);
            *count = (*count).max(p.monitoring);
        }
        Seats { busy, max_monitors }
    }

    /// The member this pick goes to (if anyone has room), who then counts one monitor more; and the
    /// pool as the pick saw it.
    pub fn take(&mut self, pick: Pick<'_>) -> (Option<String>, PoolState) {
        let mut state = PoolState {
            size: u32::try_from(pick.members.len()).unwrap_or(u32::MAX),
            ..PoolState::default()
        };
        let mut best: Option<(u64, &str)> = None;
        for member in pick.members {
            let Some(free) = self.has_room(member) else {
                continue;
            };
            state.logged_in += 1;
            if !free {
                state.at_limit += 1;
                continue;
            }
            state.eligible += 1;
            let candidate = (weight(pick.rank, member), member.as_str());
            // Highest weight first; on a tie (2^-64), the smaller user ID.
            if best.is_none_or(|(w, id)| candidate.0 > w || (candidate.0 == w && candidate.1 < id)) {
                best = Some(candidate);
            }
        }
        let picked = best.map(|(_, id)| id.to_owned());
        if let Some(id) = &picked
            && let Some(count) = self.busy.get_mut(id.as_str())
        {
            *count += 1;
        }
        (picked, state)
    }

    /// Of `members`, how many are logged in with room left.
    pub fn eligible(&self, members: &[String]) -> u32 {
        let count = members.iter().filter(|m| self.has_room(m) == Some(true)).count();
        u32::try_from(count).unwrap_or(u32::MAX)
    }

    /// Whether a member has room for one more monitor; `None` when they are not logged in.
    fn has_room(&self, member: &str) -> Option<bool> {
        self.busy.get(member).map(|&monitoring| monitoring < self.max_monitors)
    }

    /// A taken seat that started no monitor (the contact ended, the token was used, the deadline
    /// came): the member has that room again.
    pub fn give_back(&mut self, user_id: &str) {
        if let Some(count) = self.busy.get_mut(user_id) {
            *count = count.saturating_sub(1);
        }
    }

    /// Connect refused the member (logged out, or at their limit since the answer): nobody else in
    /// this batch is given to them.
    pub fn fill(&mut self, user_id: &str) {
        if let Some(count) = self.busy.get_mut(user_id) {
            *count = (*count).max(self.max_monitors);
        }
    }
}

/// A member's rendezvous weight for a pick.
pub fn weight(rank: Rank<'_>, user_id: &str) -> u64 {
    let digest = match rank {
        Rank::Monitor {
            instance_id,
            contact_id,
            purpose,
        } => client_token::digest(
            b"monitor-contact/contact-pool-rank/v1",
            &[instance_id, contact_id, purpose.as_str(), user_id],
        ),
        Rank::Event(event_id) => client_token::digest(b"monitor-contact/pool-rank/v1", &[event_id, user_id]),
    };
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first)
}

/// GetCurrentUserData's answers, kept per instance for `USER_DATA_CACHE_SECONDS` so that a warm
/// execution environment can serve its next batches without asking again. The monitors this
/// environment starts are added to the kept answer; monitors that end, users who log in or out and
/// other environments' monitors are not seen until it expires (see `USER_DATA_CACHE_SECONDS` in docs/configuration.md).
#[derive(Debug, Default)]
pub struct Snapshots {
    ttl: Duration,
    kept: Mutex<HashMap<String, (Instant, Vec<Present>)>>,
}

impl Snapshots {
    pub fn new(ttl: Duration) -> Snapshots {
        Snapshots {
            ttl,
            kept: Mutex::new(HashMap::new()),
        }
    }

    /// The kept answer for `instance_id`, if it is younger than the time to live.
    pub fn get(&self, instance_id: &str, now: Instant) -> Option<Vec<Present>> {
        if self.ttl.is_zero() {
            return None;
        }
        let kept = self.kept.lock().ok()?;
        let (at, present) = kept.get(instance_id)?;
        (now.saturating_duration_since(*at) < self.ttl).then(|| present.clone())
    }

    /// Keeps a fresh answer.
    pub fn put(&self, instance_id: &str, now: Instant, present: &[Present]) {
        if self.ttl.is_zero() {
            return;
        }
        if let Ok(mut kept) = self.kept.lock() {
            kept.insert(instance_id.to_owned(), (now, present.to_vec()));
        }
    }

    /// Counts a monitor this environment started.
    pub fn started(&self, instance_id: &str, user_id: &str) {
        self.update(instance_id, user_id, |monitoring| monitoring.saturating_add(1));
    }

    /// Connect refused the member: the kept answer shows them at `max_monitors` until it expires.
    pub fn refused(&self, instance_id: &str, user_id: &str, max_monitors: u32) {
        self.update(instance_id, user_id, |monitoring| monitoring.max(max_monitors));
    }

    fn update(&self, instance_id: &str, user_id: &str, change: impl FnOnce(u32) -> u32) {
        if let Ok(mut kept) = self.kept.lock()
            && let Some((_, present)) = kept.get_mut(instance_id)
            && let Some(user) = present.iter_mut().find(|p| p.user_id == user_id)
        {
            user.monitoring = change(user.monitoring);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "11111111-2222-3333-4444-555555555555";
    const B: &str = "22222222-2222-3333-4444-555555555555";
    const C: &str = "33333333-2222-3333-4444-555555555555";

    fn pool() -> Vec<String> {
        [A, B, C].map(str::to_owned).to_vec()
    }

    /// Every pick of a batch in order, each starting its monitor.
    fn assign(picks: &[Pick<'_>], present: &[Present], max: u32) -> Vec<(Option<String>, PoolState)> {
        let mut seats = Seats::new(present, max);
        picks.iter().map(|&pick| seats.take(pick)).collect()
    }

    /// One pick for `event_id` over `pool`.
    fn choose(event_id: &str, pool: &[String], present: &[Present], max: u32) -> (Option<String>, PoolState) {
        let pick = Pick {
            members: pool,
            rank: Rank::Event(event_id),
        };
        assign(&[pick], present, max).remove(0)
    }

    fn contact(contact_id: &str) -> Rank<'_> {
        Rank::Monitor {
            instance_id: "i1",
            contact_id,
            purpose: Purpose::Qa,
        }
    }

    fn free(users: &[&str]) -> Vec<Present> {
        users
            .iter()
            .map(|u| Present {
                user_id: (*u).to_owned(),
                monitoring: 0,
            })
            .collect()
    }

    /// Pinned (computed independently in Python): a change would re-rank every pool between a
    /// delivery and its retry across a deployment.
    #[test]
    fn weight_vectors() {
        assert_eq!(weight(Rank::Event("ev-1"), A), 0xb292_2f5c_ae1d_c351);
        assert_eq!(weight(Rank::Event("ev-1"), B), 0x9464_6920_e8b0_ec17);
        assert_eq!(weight(Rank::Event("ev-2"), C), 0xedf8_f841_fbe1_4ce2);
        let all = free(&[A, B, C]);
        assert_eq!(choose("ev-1", &pool(), &all, 1).0.as_deref(), Some(A));
        assert_eq!(choose("ev-2", &pool(), &all, 1).0.as_deref(), Some(C));
        assert_eq!(choose("ev-3", &pool(), &all, 1).0.as_deref(), Some(B));
    }

    /// Pinned (computed independently in Python), as the event ranking.
    #[test]
    fn contact_weight_vectors() {
        assert_eq!(weight(contact("c1"), A), 0x367a_eaa2_43a7_c4ae);
        assert_eq!(weight(contact("c1"), B), 0x70e2_e930_328e_2053);
        let escalation = Rank::Monitor {
            instance_id: "i1",
            contact_id: "c1",
            purpose: Purpose::Escalation,
        };
        assert_eq!(weight(escalation, C), 0x57c4_a3b3_0fb6_9acd);
    }

    #[test]
    fn a_batch_never_gives_anyone_more_than_the_limit() {
        let members = pool();
        let contacts: Vec<String> = (0..8).map(|n| format!("contact-{n}")).collect();
        let picks: Vec<Pick<'_>> = contacts
            .iter()
            .map(|c| Pick {
                members: &members,
                rank: contact(c),
            })
            .collect();
        // B already monitors one contact: with a limit of 2, room for 2 + 1 + 2 = 5.
        let mut present = free(&[A, B, C]);
        present[1].monitoring = 1;
        let out = assign(&picks, &present, 2);
        let picked: Vec<&str> = out.iter().filter_map(|(p, _)| p.as_deref()).collect();
        assert_eq!(picked.len(), 5, "{out:?}");
        for (member, room) in [(A, 2), (B, 1), (C, 2)] {
            assert_eq!(picked.iter().filter(|p| **p == member).count(), room, "{member}");
        }
        // The rest get nobody, and their state says so.
        for (picked, state) in &out[5..] {
            assert_eq!((picked, state.eligible, state.at_limit), (&None, 0, 3));
        }
        // Each pick takes its own first choice among those with room left.
        let (first, state) = &out[0];
        let best = members
            .iter()
            .max_by_key(|m| weight(contact("contact-0"), m))
            .map(String::as_str);
        assert_eq!((first.as_deref(), state.eligible), (best, 3));
        // The same batch and the same answer, the same assignment.
        assert_eq!(assign(&picks, &present, 2), out);
    }

    #[test]
    fn picks_from_different_pools_share_the_members_room() {
        let global = pool();
        let coaches = vec![A.to_owned()];
        let picks = [
            Pick {
                members: &coaches,
                rank: contact("c1"),
            },
            Pick {
                members: &global,
                rank: contact("c2"),
            },
            Pick {
                members: &coaches,
                rank: contact("c3"),
            },
        ];
        let out = assign(&picks, &free(&[A, B]), 1);
        assert_eq!(out[0].0.as_deref(), Some(A));
        assert_eq!(out[1].0.as_deref(), Some(B), "A is taken, C is logged out");
        assert_eq!(out[2].0, None, "the coach is busy with c1");
        assert_eq!(
            out[1].1,
            PoolState {
                size: 3,
                logged_in: 2,
                at_limit: 1,
                eligible: 1
            }
        );
    }

    #[test]
    fn contacts_spread_evenly_over_a_large_pool() {
        let members: Vec<String> = (0..30).map(|i| format!("supervisor-{i:02}")).collect();
        let ids: Vec<&str> = members.iter().map(String::as_str).collect();
        let mut counts = vec![0u32; members.len()];
        for n in 0..30_000 {
            let contact_id = format!("contact-{n:08}");
            let (picked, _) = assign(
                &[Pick {
                    members: &members,
                    rank: contact(&contact_id),
                }],
                &free(&ids),
                1,
            )
            .remove(0);
            if let Some(index) = picked.and_then(|p| members.iter().position(|m| *m == p)) {
                counts[index] += 1;
            }
        }
        // 1,000 each, within 10%.
        assert!(counts.iter().all(|c| (900..=1_100).contains(c)), "{counts:?}");
    }

    #[test]
    fn snapshots_are_kept_for_their_time_and_count_local_starts() {
        let now = Instant::now();
        let off = Snapshots::new(Duration::ZERO);
        off.put("i1", now, &free(&[A]));
        assert_eq!(off.get("i1", now), None, "0 keeps nothing");
        let kept = Snapshots::new(Duration::from_secs(5));
        assert_eq!(kept.get("i1", now), None);
        kept.put("i1", now, &free(&[A, B]));
        kept.started("i1", A);
        let later = now + Duration::from_secs(4);
        let present = kept.get("i1", later).unwrap_or_default();
        assert_eq!(present.iter().map(|p| p.monitoring).collect::<Vec<_>>(), [1, 0]);
        assert_eq!(kept.get("i1", now + Duration::from_secs(5)), None, "expired");
        assert_eq!(kept.get("i2", later), None, "per instance");
    }

    #[test]
    fn a_busy_or_absent_member_is_not_picked() {
        // ev-1 ranks A first: with A at the limit, B (second) takes it; with A logged out too.
        let mut present = free(&[A, B, C]);
        present[0].monitoring = 1;
        let (picked, state) = choose("ev-1", &pool(), &present, 1);
        assert_eq!(picked.as_deref(), Some(B));
        assert_eq!(
            state,
            PoolState {
                size: 3,
                logged_in: 3,
                at_limit: 1,
                eligible: 2
            }
        );
        let (picked, state) = choose("ev-1", &pool(), &free(&[B, C]), 1);
        assert_eq!(picked.as_deref(), Some(B));
        assert_eq!((state.logged_in, state.eligible), (2, 2));
        // A higher limit makes A eligible again.
        assert_eq!(choose("ev-1", &pool(), &present, 2).0.as_deref(), Some(A));
    }

    #[test]
    fn nobody_eligible_reports_the_counts() {
        let mut present = free(&[A, C]);
        for p in &mut present {
            p.monitoring = 3;
        }
        let (picked, state) = choose("ev-1", &pool(), &present, 3);
        assert_eq!(picked, None);
        assert_eq!(
            state,
            PoolState {
                size: 3,
                logged_in: 2,
                at_limit: 2,
                eligible: 0
            }
        );
        assert_eq!(choose("ev-1", &pool(), &[], 1).1.logged_in, 0);
    }

    #[test]
    fn only_configured_members_count() {
        let stranger = "99999999-2222-3333-4444-555555555555";
        let (picked, state) = choose("ev-1", &[B.to_owned()], &free(&[stranger, A, B]), 1);
        assert_eq!(picked.as_deref(), Some(B));
        assert_eq!((state.size, state.logged_in), (1, 1));
    }

    #[test]
    fn the_same_event_ranks_the_same_way_whatever_the_order() {
        let forward = free(&[A, B, C]);
        let backward = free(&[C, B, A]);
        let reversed: Vec<String> = pool().into_iter().rev().collect();
        for n in 0..200 {
            let event = format!("event-{n}");
            let one = choose(&event, &pool(), &forward, 1).0;
            assert_eq!(one, choose(&event, &reversed, &backward, 1).0, "{event}");
        }
    }

    #[test]
    fn load_spreads_evenly_and_a_departure_moves_only_its_own_events() {
        let members: Vec<String> = (0..5).map(|i| format!("user-{i}")).collect();
        let ids: Vec<&str> = members.iter().map(String::as_str).collect();
        let everyone = free(&ids);
        let without_first = free(&ids[1..]);
        let mut counts = [0u32; 5];
        let events = 20_000;
        for n in 0..events {
            let event = format!("event-{n:08}");
            let before = choose(&event, &members, &everyone, 1).0;
            let after = choose(&event, &members, &without_first, 1).0;
            let Some(index) = before.as_ref().and_then(|b| members.iter().position(|m| m == b)) else {
                panic!("someone is eligible for {event}");
            };
            counts[index] += 1;
            if index != 0 {
                assert_eq!(before, after, "{event} moved although its member stayed");
            }
        }
        for count in counts {
            // 20% each, within 1.5 percentage points.
            assert!((3_700..=4_300).contains(&count), "{counts:?}");
        }
    }
}

//! The supervisor pool: which of the configured supervisors takes an event.
//!
//! GetCurrentUserData (one call, `Agents` filter = the pool) reports the pool members who are logged
//! in to the CCP, each with the contacts they are on; a monitor they run shows as a contact whose
//! InitiationMethod is MONITOR. A member is *eligible* when they are in that answer and monitor fewer
//! than `MAX_MONITORS_PER_SUPERVISOR` contacts.
//!
//! Among the eligible the event picks by rendezvous (highest-random-weight) hashing: each member's
//! weight is the first 8 bytes, big-endian, of SHA-256 over domain `"monitor-contact/pool-rank/v1"`
//! and the length-prefixed (event ID, user ID), as for the ClientToken; the highest weight wins, the
//! user ID breaks a tie. So events spread evenly over the members, a repeated delivery of an event
//! ranks the members the same way, and a member logging in or out moves only the events that member
//! wins, not everyone else's.

use crate::token;

/// A pool member GetCurrentUserData reported (so: logged in to the CCP).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Present {
    pub user_id: String,
    /// Contacts the user is monitoring now (contacts with InitiationMethod MONITOR).
    pub monitoring: u32,
}

/// The pool as one GetCurrentUserData answer showed it: the counts go into the log line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolState {
    /// Configured members.
    pub size: u32,
    /// Members logged in to the CCP.
    pub logged_in: u32,
    /// Logged-in members already monitoring as many contacts as allowed.
    pub at_limit: u32,
    /// Members who could take the event.
    pub eligible: u32,
}

/// The member `event_id` goes to, if anyone is eligible, and the pool's state.
///
/// Users in `present` who are not in `pool` are ignored (the service answers for the filter's users,
/// but the function trusts only its configuration). A user reported twice counts once, with the
/// higher monitoring count.
pub fn choose(event_id: &str, pool: &[String], present: &[Present], max_monitors: u32) -> (Option<String>, PoolState) {
    let mut state = PoolState {
        size: u32::try_from(pool.len()).unwrap_or(u32::MAX),
        ..PoolState::default()
    };
    let mut best: Option<(u64, &str)> = None;
    for member in pool {
        let Some(monitoring) = present
            .iter()
            .filter(|p| p.user_id == *member)
            .map(|p| p.monitoring)
            .max()
        else {
            continue;
        };
        state.logged_in += 1;
        if monitoring >= max_monitors {
            state.at_limit += 1;
            continue;
        }
        state.eligible += 1;
        let candidate = (weight(event_id, member), member.as_str());
        // Highest weight first; on a tie (2^-64), the smaller user ID.
        if best.is_none_or(|(w, id)| candidate.0 > w || (candidate.0 == w && candidate.1 < id)) {
            best = Some(candidate);
        }
    }
    (best.map(|(_, id)| id.to_owned()), state)
}

/// The member's rendezvous weight for the event.
pub fn weight(event_id: &str, user_id: &str) -> u64 {
    let digest = token::digest(b"monitor-contact/pool-rank/v1", &[event_id, user_id]);
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first)
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
        assert_eq!(weight("ev-1", A), 0xb292_2f5c_ae1d_c351);
        assert_eq!(weight("ev-1", B), 0x9464_6920_e8b0_ec17);
        assert_eq!(weight("ev-2", C), 0xedf8_f841_fbe1_4ce2);
        let all = free(&[A, B, C]);
        assert_eq!(choose("ev-1", &pool(), &all, 1).0.as_deref(), Some(A));
        assert_eq!(choose("ev-2", &pool(), &all, 1).0.as_deref(), Some(C));
        assert_eq!(choose("ev-3", &pool(), &all, 1).0.as_deref(), Some(B));
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

//! The deterministic ClientTokens: what makes a retry, a redelivery or a sibling event replay a
//! monitor instead of starting a second one. Four kinds: per contact for Connect's own events
//! ([`contact_token`], [`contact_pool_token`]), per event for flows, direct invocations and custom
//! events ([`client_token`], [`pool_token`]); their construction and why: docs/how-it-decides.md,
//! "ClientToken derivation".
//!
//! The test vectors below pin every kind: a token that changed between releases would let a retry
//! that straddles a deployment attach a supervisor twice.

use sha2::{Digest, Sha256};

/// Why a pool-picked supervisor listens to a contact: one pool-picked monitor per purpose and
/// contact, so a QA reviewer and an escalation supervisor may both listen, two escalations never.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Purpose {
    /// Automatic QA monitoring (Amazon Connect contact events).
    Qa,
    /// Escalation on a Contact Lens real-time rule match.
    Escalation,
}

impl Purpose {
    /// The purpose's name, as tokens and logs carry it.
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Qa => "qa",
            Purpose::Escalation => "escalation",
        }
    }
}

/// The ClientToken of the monitor by `user_id` on a contact, for Connect's own events.
pub fn contact_token(instance_id: &str, contact_id: &str, user_id: &str) -> String {
    derive(
        b"monitor-contact/contact-token/v1",
        "mcc1-",
        &[instance_id, contact_id, user_id],
    )
}

/// The ClientToken of the pool-picked monitor for `purpose` on a contact, for Connect's own events.
pub fn contact_pool_token(instance_id: &str, contact_id: &str, purpose: Purpose) -> String {
    derive(
        b"monitor-contact/contact-pool-token/v1",
        "mccp1-",
        &[instance_id, contact_id, purpose.as_str()],
    )
}

/// Derives the ClientToken for a monitor request that names its supervisor.
pub fn client_token(event_id: &str, instance_id: &str, contact_id: &str, user_id: &str) -> String {
    derive(
        b"monitor-contact/client-token/v1",
        "mc1-",
        &[event_id, instance_id, contact_id, user_id],
    )
}

/// Derives the ClientToken for a monitor request whose supervisor is picked from the pool.
pub fn pool_token(event_id: &str, instance_id: &str, contact_id: &str) -> String {
    derive(
        b"monitor-contact/pool-token/v1",
        "mcp1-",
        &[event_id, instance_id, contact_id],
    )
}

/// SHA-256 over the domain and the length-prefixed fields (see the module documentation).
pub(crate) fn digest(domain: &[u8], fields: &[&str]) -> [u8; 32] {
    let mut hash = Sha256::new();
    hash.update(domain);
    for field in fields {
        hash.update((field.len() as u64).to_be_bytes());
        hash.update(field.as_bytes());
    }
    hash.finalize().into()
}

fn derive(domain: &[u8], prefix: &str, fields: &[&str]) -> String {
    let mut out = String::with_capacity(prefix.len() + 64);
    out.push_str(prefix);
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for byte in digest(domain, fields) {
        out.push(HEX[usize::from(byte >> 4)] as char);
        out.push(HEX[usize::from(byte & 0x0f)] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const I: &str = "a1b2c3d4-0000-1111-2222-333344445555";
    const C: &str = "c0ffee00-1234-5678-9abc-def012345678";
    const U: &str = "11111111-2222-3333-4444-555555555555";
    const E: &str = "0d5f1a4e-2e3a-4b6c-9d7e-8f9a0b1c2d3e";

    /// Pinned: these values must never change (see the module documentation).
    #[test]
    fn test_vectors() {
        assert_eq!(
            client_token(E, I, C, U),
            "mc1-4cec056c20d13cdc9545c9296c63b9fbff2c5dde2bb24abf89567ac24b56b6c9"
        );
        assert_eq!(
            client_token("", "", "", ""),
            "mc1-ca7dd2ce5fa50da704f22e65459791dd83b8ec36d5a6de42fe6f6458b88de02e"
        );
        assert_eq!(
            client_token("ab", "c", "d", "e"),
            "mc1-542a075d126439e718d2020c6e8526a683011390b7ee14c79b3b595ca8feb440"
        );
    }

    /// Pinned like the others (computed independently in Python).
    #[test]
    fn pool_token_vectors() {
        assert_eq!(
            pool_token(E, I, C),
            "mcp1-0b612bb0fb5a2a973faf75b04cc6899812fd62d42a87000de25618effbcc1102"
        );
        assert_eq!(
            pool_token("", "", ""),
            "mcp1-6f56979d70f72e49ca75501646abb3816342134b85edec91b309342686821c34"
        );
        assert_eq!(
            pool_token("ab", "c", "d"),
            "mcp1-336b755a75d5c1bd5aa5b330eac4fbf81b47d608656e037d9af76a32d0d9c125"
        );
        assert_ne!(pool_token(E, I, C), pool_token(E, I, "other"));
        assert_ne!(pool_token(E, I, C), pool_token("other", I, C));
        assert_ne!(pool_token(E, I, C), pool_token(E, "other", C));
        assert_eq!(pool_token(E, I, C).len(), 69);
    }

    /// Pinned like the others (computed independently in Python): changing one would let a
    /// redelivery that straddles a deployment attach a second supervisor to a contact.
    #[test]
    fn contact_token_vectors() {
        assert_eq!(
            contact_token(I, C, U),
            "mcc1-06a6705bb981548a76972cccc2cd054f9336807842fc929728a03191fda2931f"
        );
        assert_eq!(
            contact_token("", "", ""),
            "mcc1-6ca3de8ad397db5b68f45db3db9a53eaca30748d996b4a56cbcdb7baeebc35c3"
        );
        assert_eq!(
            contact_token("ab", "c", "d"),
            "mcc1-07e6072cf251b6b1bd22b96f14d5c77783bc0d842ef048b784c48121ab587c92"
        );
        assert_eq!(
            contact_pool_token(I, C, Purpose::Qa),
            "mccp1-116faa48867b6fd403b5289be1e70d9992bdad34091acbf2e2d058a04df3511b"
        );
        assert_eq!(
            contact_pool_token(I, C, Purpose::Escalation),
            "mccp1-a013c9d77f444074d61d1c59ccf3dfd8ca3555722dacadcbd8a5ca567cc8fd79"
        );
        assert_eq!(
            contact_pool_token("", "", Purpose::Qa),
            "mccp1-abb56133269107b68e5a9b9ce2068fbeac1c6d3c7bf0e9c3ed31907ab39ba132"
        );
        assert_eq!(contact_token(I, C, U).len(), 69);
        assert_eq!(contact_pool_token(I, C, Purpose::Qa).len(), 70);
    }

    #[test]
    fn contact_tokens_name_the_monitor_not_the_event() {
        // No event ID goes in: every event about the contact derives the same token.
        assert_ne!(
            contact_token(I, C, U),
            contact_token(I, C, "other"),
            "one monitor per supervisor"
        );
        assert_ne!(contact_token(I, C, U), contact_token(I, "other", U));
        assert_ne!(contact_token(I, C, U), contact_token("other", C, U));
        assert_ne!(
            contact_pool_token(I, C, Purpose::Qa),
            contact_pool_token(I, C, Purpose::Escalation),
            "a QA reviewer and an escalation supervisor may both listen"
        );
        // The domains keep every kind apart, even over the same strings.
        assert_ne!(
            contact_token(I, C, "qa")[5..],
            contact_pool_token(I, C, Purpose::Qa)[6..]
        );
        assert_ne!(contact_token(E, I, C)[5..], pool_token(E, I, C)[5..]);
    }

    #[test]
    fn shape() {
        let t = client_token(E, I, C, U);
        assert_eq!(t.len(), 68);
        assert!(t.len() <= crate::identifiers::MAX_CLIENT_TOKEN);
        assert!(t[4..].bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
    }

    #[test]
    fn every_input_matters_and_boundaries_are_unambiguous() {
        let base = client_token(E, I, C, U);
        assert_ne!(base, client_token("other", I, C, U));
        assert_ne!(base, client_token(E, "other", C, U));
        assert_ne!(base, client_token(E, I, "other", U));
        assert_ne!(base, client_token(E, I, C, "other"));
        // Moving a character across a field boundary changes the token.
        assert_ne!(client_token("ab", "c", "d", "e"), client_token("a", "bc", "d", "e"));
        // Swapping fields changes the token.
        assert_ne!(client_token("x", "y", "d", "e"), client_token("y", "x", "d", "e"));
    }
}

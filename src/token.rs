//! The deterministic ClientTokens.
//!
//! A supervisor named by the event or the configuration gets [`client_token`]: `mc1-` followed by the
//! lower-case hex SHA-256 of
//!
//! ```text
//! "monitor-contact/client-token/v1" || for each of (event ID, instance ID, contact ID, user ID):
//!     (length of the field in bytes as a 64-bit big-endian integer) || (the field's UTF-8 bytes)
//! ```
//!
//! A supervisor picked from the pool gets [`pool_token`]: `mcp1-` and the same construction over
//! domain `"monitor-contact/pool-token/v1"` and (event ID, instance ID, contact ID), without the user.
//! A retry of the event that ranks the pool differently (the first pick is now busy with this very
//! monitor, someone logged out) then sends the same token for another user, and Connect refuses that
//! second monitor with IdempotencyException instead of attaching a second supervisor.
//!
//! 68 and 69 characters. The length prefixes make the encoding unambiguous (no two different tuples
//! hash the same bytes), the domain strings and the versioned prefixes keep the two kinds apart from
//! each other and from any other use of the same IDs. The same inputs give the same token on every
//! retry, cold start and release: the test vectors below pin them, and changing one would let a retry
//! that straddles a deployment attach a supervisor twice.

use sha2::{Digest, Sha256};

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

    #[test]
    fn shape() {
        let t = client_token(E, I, C, U);
        assert_eq!(t.len(), 68);
        assert!(t.len() <= crate::ids::MAX_CLIENT_TOKEN);
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

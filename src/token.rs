//! The deterministic ClientToken.
//!
//! `mc1-` followed by the lower-case hex SHA-256 of
//!
//! ```text
//! "monitor-contact/client-token/v1" || for each of (event ID, instance ID, contact ID, user ID):
//!     (length of the field in bytes as a 64-bit big-endian integer) || (the field's UTF-8 bytes)
//! ```
//!
//! 68 characters. The length prefixes make the encoding unambiguous (no two different tuples hash the
//! same bytes), the domain string and the `mc1-` version keep it apart from any other use of the same
//! IDs. The same inputs give the same token on every retry, cold start and release: the test vectors
//! below pin it, and changing it would let a retry that straddles a deployment attach a supervisor
//! twice.

use sha2::{Digest, Sha256};

const DOMAIN: &[u8] = b"monitor-contact/client-token/v1";
const PREFIX: &str = "mc1-";

/// Derives the ClientToken for one monitor request.
pub fn client_token(event_id: &str, instance_id: &str, contact_id: &str, user_id: &str) -> String {
    let mut hash = Sha256::new();
    hash.update(DOMAIN);
    for field in [event_id, instance_id, contact_id, user_id] {
        hash.update((field.len() as u64).to_be_bytes());
        hash.update(field.as_bytes());
    }
    let digest = hash.finalize();
    let mut out = String::with_capacity(PREFIX.len() + 64);
    out.push_str(PREFIX);
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for byte in digest {
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

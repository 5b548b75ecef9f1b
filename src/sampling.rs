//! QA sampling: whether automatic monitoring takes a contact, decided from the contact ID alone.
//!
//! The same contact always gets the same answer: across retries, across its events (INITIATED and
//! CONNECTED_TO_AGENT alike), across cold starts and releases (pinned by the vectors below). The
//! bucket is the first 8 bytes of SHA-256("monitor-contact/sample/v1" || contact ID), big-endian,
//! modulo 100; the contact is sampled when its bucket is below `SAMPLE_PERCENT`.

use sha2::{Digest, Sha256};

const DOMAIN: &[u8] = b"monitor-contact/sample/v1";

/// The contact's bucket, 0..100.
pub fn bucket(contact_id: &str) -> u8 {
    let digest = Sha256::new()
        .chain_update(DOMAIN)
        .chain_update(contact_id.as_bytes())
        .finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    (u64::from_be_bytes(first) % 100) as u8
}

/// Whether a contact is sampled at `percent` (0..=100).
pub fn sampled(contact_id: &str, percent: u8) -> bool {
    bucket(contact_id) < percent
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pinned: a contact sampled before a deployment must be sampled after it.
    #[test]
    fn test_vectors() {
        assert_eq!(bucket("5b0e6c2a-7f41-4d8e-9a3b-2c1d0e9f8a7b"), 67);
        assert_eq!(bucket("e2a9d7c4-1b3f-4e5a-8d6c-9f0a1b2c3d4e"), 14);
        assert_eq!(bucket(""), 84);
    }

    #[test]
    fn extremes() {
        for id in ["a", "b", "5b0e6c2a-7f41-4d8e-9a3b-2c1d0e9f8a7b"] {
            assert!(sampled(id, 100));
            assert!(!sampled(id, 0));
        }
    }

    #[test]
    fn deterministic_and_monotonic() {
        let id = "e2a9d7c4-1b3f-4e5a-8d6c-9f0a1b2c3d4e";
        assert_eq!(sampled(id, 37), sampled(id, 37));
        // Raising the percentage never drops a contact that was sampled.
        let first = (0..=100u8).find(|p| sampled(id, *p)).unwrap_or(101);
        assert!((0..=100u8).all(|p| sampled(id, p) == (p >= first)));
    }

    #[test]
    fn spreads_evenly() {
        let n = 20_000;
        let taken = (0..n).filter(|i| sampled(&format!("contact-{i:08}"), 30)).count();
        let share = taken as f64 / n as f64;
        assert!((0.28..0.32).contains(&share), "30% asked, {share:.3} taken");
    }
}

//! Fresh random ids and the hash secrets are stored under: what API keys, confirm tokens,
//! approvals, mandates and activity records all draw on.

use sha2::{Digest, Sha256};

pub(crate) fn random_bytes(count: usize) -> Vec<u8> {
    let mut buf = vec![0u8; count];
    getrandom::fill(&mut buf).expect("the OS random source is available");
    buf
}

pub(crate) fn random_hex(bytes: usize) -> String {
    hex::encode(random_bytes(bytes))
}

/// The hex SHA-256 under which a secret (key, confirm token, approval id) is stored.
pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_hex_is_fresh_lowercase_hex_of_the_asked_length() {
        let (a, b) = (random_hex(8), random_hex(8));
        assert_ne!(a, b);
        assert_eq!(a.len(), 16);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    }

    #[test]
    fn hash_is_the_hex_sha256_of_the_text() {
        assert_eq!(hash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}

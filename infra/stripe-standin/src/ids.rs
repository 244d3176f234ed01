//! Object ids in Stripe's format: a type prefix and random base62 characters
//! (`cus_` + 14, `sub_` + 24, `cs_test_` + 60...). They only need to be unique and look right,
//! not be secret, so a seeded SplitMix64 generator keeps minting infallible.

const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

pub(crate) struct IdGen {
    state: u64,
}

impl IdGen {
    /// Seeded from the OS so two stand-ins (or two runs) never hand out the same ids; if the
    /// OS source is unavailable the clock is still unique enough for a test double.
    pub(crate) fn from_entropy() -> Self {
        let mut seed = [0u8; 8];
        let state = match getrandom::fill(&mut seed) {
            Ok(()) => u64::from_le_bytes(seed),
            Err(_) => std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0x5EED, |d| d.as_nanos() as u64),
        };
        Self { state }
    }

    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// `prefix` followed by `len` random base62 characters.
    pub(crate) fn id(&mut self, prefix: &str, len: usize) -> String {
        let mut id = String::with_capacity(prefix.len() + len);
        id.push_str(prefix);
        for _ in 0..len {
            id.push(ALPHABET[(self.next_u64() % 62) as usize] as char);
        }
        id
    }

    /// Uppercase hex, for invoice number prefixes such as `7FE1103A`.
    pub(crate) fn hex_upper(&mut self, len: usize) -> String {
        (0..len).map(|_| ALPHABET[(self.next_u64() % 16) as usize] as char).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_prefix_length_and_differ() {
        let mut ids = IdGen::from_entropy();
        let a = ids.id("cus_", 14);
        let b = ids.id("cus_", 14);
        assert!(a.starts_with("cus_") && a.len() == 18 && a != b);
        assert!(a[4..].chars().all(|c| c.is_ascii_alphanumeric()));
        let hex = ids.hex_upper(8);
        assert!(hex.len() == 8 && hex.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_lowercase()));
    }
}

//! API keys: `bk_<key_id>_<secret>`. The key id (64 bits) names the stored record; the secret
//! (256 bits) is shown once and stored only as the SHA-256 of the whole key.

use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::domain::activity::{Activity, Event};
use crate::domain::ids::{hash, random_hex};
use crate::domain::invalid::Invalid;
use crate::domain::org::valid_id;
use crate::domain::principal::Actor;
use crate::domain::principal::{Principal, PrincipalKind};

const PREFIX: &str = "bk_";
const KEY_ID_BYTES: usize = 8;
const SECRET_BYTES: usize = 32;

/// An API key as stored: only the SHA-256 of the key, never the key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyRecord {
    pub key_id: String,
    pub org_id: String,
    pub principal_id: String,
    pub kind: PrincipalKind,
    pub key_hash: String,
    pub created_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<i64>,
    /// Set by the brake (`domain::brake`): until then every request of the key answers 429.
    /// The refusals it counts (`refusal_minute`, `refusals`) are only ever updated in place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused_until: Option<i64>,
}

/// A freshly issued key: `token` is shown once and never stored.
pub struct IssuedKey {
    pub token: String,
    pub record: ApiKeyRecord,
}

pub fn issue(org_id: &str, principal_id: &str, kind: PrincipalKind, now: i64) -> Result<IssuedKey, Invalid> {
    if !valid_id(org_id) {
        return Err(Invalid::field("org_id", "must be 1-64 of a-z, 0-9, - and _"));
    }
    if !valid_id(principal_id) {
        return Err(Invalid::field("principal_id", "must be 1-64 of a-z, 0-9, - and _"));
    }
    let key_id = random_hex(KEY_ID_BYTES);
    let token = format!("{PREFIX}{key_id}_{}", random_hex(SECRET_BYTES));
    let record = ApiKeyRecord {
        key_id,
        org_id: org_id.to_string(),
        principal_id: principal_id.to_string(),
        kind,
        key_hash: hash(&token),
        created_at: now,
        revoked_at: None,
        paused_until: None,
    };
    Ok(IssuedKey { token, record })
}

/// The key id of a well-formed token, without touching the store.
pub fn key_id_of(token: &str) -> Option<&str> {
    let (key_id, secret) = token.strip_prefix(PREFIX)?.split_once('_')?;
    let well_formed = key_id.len() == KEY_ID_BYTES * 2
        && secret.len() == SECRET_BYTES * 2
        && key_id.bytes().chain(secret.bytes()).all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase());
    well_formed.then_some(key_id)
}

/// Whether `text` has the form of a key id (what the admin CLI prints), e.g. in a path.
pub fn is_key_id(text: &str) -> bool {
    text.len() == KEY_ID_BYTES * 2 && text.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// Whether `record` is the live record of `token` (constant-time hash comparison).
pub fn accepts(record: &ApiKeyRecord, token: &str) -> Option<Principal> {
    let matches: bool = hash(token).as_bytes().ct_eq(record.key_hash.as_bytes()).into();
    (matches && record.revoked_at.is_none()).then(|| Principal {
        org_id: record.org_id.clone(),
        principal_id: record.principal_id.clone(),
        key_id: record.key_id.clone(),
        kind: record.kind,
    })
}

/// The org's record of a key being issued (`revoked`: being revoked) by the operator.
pub fn key_activity(record: &ApiKeyRecord, revoked: bool, now: i64) -> Activity {
    let (key_id, principal_id, principal_kind) = (record.key_id.clone(), record.principal_id.clone(), record.kind);
    let event = match revoked {
        false => Event::ApiKeyIssued { key_id, principal_id, principal_kind },
        true => Event::ApiKeyRevoked { key_id, principal_id, principal_kind },
    };
    // The operator acts from the admin CLI, outside any API request.
    Activity::new(&record.org_id, now, Actor::System, event, None)
}

/// The bearer token of an `Authorization` header value.
pub fn bearer(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_keys_are_random_well_formed_and_stored_as_hash() {
        let a = issue("acme", "alice", PrincipalKind::Human, 1).unwrap();
        let b = issue("acme", "alice", PrincipalKind::Human, 1).unwrap();
        assert_ne!(a.token, b.token);
        assert_eq!(key_id_of(&a.token), Some(a.record.key_id.as_str()));
        assert_eq!(a.record.key_hash, hash(&a.token));
        assert!(!a.record.key_hash.contains(&a.token[20..]));
        // 256 bits of secret, hex-encoded.
        assert_eq!(a.token.len(), PREFIX.len() + 16 + 1 + 64);
    }

    #[test]
    fn malformed_tokens_have_no_key_id() {
        let good = issue("acme", "bot", PrincipalKind::Agent, 1).unwrap().token;
        for bad in ["", "bk_", "bk_abc_def", &good[..good.len() - 1], &good.to_uppercase(), &good.replace("bk_", "sk_")] {
            assert_eq!(key_id_of(bad), None, "{bad}");
        }
    }

    #[test]
    fn bearer_scheme_is_case_insensitive_and_required() {
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("bearer  abc "), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("abc"), None);
    }

    #[test]
    fn issue_refuses_unsafe_ids() {
        assert!(issue("ACME", "alice", PrincipalKind::Human, 1).is_err());
        assert!(issue("acme", "al ice", PrincipalKind::Human, 1).is_err());
    }
}

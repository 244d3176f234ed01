//! `Idempotency-Key` for the calls a client may retry (reserve, release, credits spend): the
//! same key of the same org within 24 hours answers the first answer again, and the effect
//! happens once. The first answer is stored in the same transaction as the effect (or alone,
//! for a refusal that changed nothing), so a call that failed (5xx) stores nothing and its
//! retry runs. The same key with another request is 422 `idempotency_key_reused`.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::error::{ApiError, ErrorKind};
use crate::store::IdempotencyRecord;

pub const MAX_KEY_LEN: usize = 255;

/// A valid key, kept only as its SHA-256 (keys are the client's, of any printable shape).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey {
    pub hash: String,
}

impl IdempotencyKey {
    /// 1-255 printable ASCII characters, without spaces or commas (a repeated header arrives
    /// joined by commas).
    pub fn parse(text: &str) -> Result<Self, ApiError> {
        let valid = (1..=MAX_KEY_LEN).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_graphic() && b != b',');
        if !valid {
            return Err(ApiError::field(
                "Idempotency-Key",
                format!("must be 1 to {MAX_KEY_LEN} printable ASCII characters without spaces or commas, given once"),
            ));
        }
        Ok(Self { hash: hex::encode(Sha256::digest(text.as_bytes())) })
    }
}

/// What a request was, for telling a retry from another request under the same key: the
/// operation and its parameters after defaults (so `{}` and `{"count": 1}` are one request).
pub fn fingerprint(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.len().to_le_bytes());
        hasher.update(part.as_bytes());
    }
    hex::encode(&hasher.finalize()[..16])
}

/// An answer as stored: the body of a success, or the error of a refusal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
enum Stored {
    Ok { body: Value },
    Refused { error: String, message: String, details: Option<Value> },
}

/// The answer to a retryable call: fresh, or the first answer replayed.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub result: Result<Value, ApiError>,
    pub replayed: bool,
}

impl Answer {
    pub fn fresh(result: Result<Value, ApiError>) -> Self {
        Self { result, replayed: false }
    }

    /// The record that stores this answer under `fingerprint`.
    pub fn record(&self, fingerprint: &str, now: i64) -> IdempotencyRecord {
        let stored = match &self.result {
            Ok(body) => Stored::Ok { body: body.clone() },
            Err(err) => Stored::Refused { error: err.kind.code().to_string(), message: err.message.clone(), details: err.details.clone() },
        };
        IdempotencyRecord::new(fingerprint.to_string(), serde_json::to_string(&stored).unwrap_or_default(), now)
    }

    /// The first answer of a key, if `fingerprint` is the request it was first used for;
    /// 422 `idempotency_key_reused` otherwise.
    pub fn replay(record: &IdempotencyRecord, fingerprint: &str) -> Result<Self, ApiError> {
        if record.fingerprint != fingerprint {
            return Err(ApiError::new(
                ErrorKind::IdempotencyKeyReused,
                "This Idempotency-Key was used for a different request in the last 24 hours; use a new key for a new request.",
            ));
        }
        let stored: Stored =
            serde_json::from_str(&record.answer).map_err(|e| ApiError::internal(format!("A stored answer could not be read: {e}.")))?;
        let result = match stored {
            Stored::Ok { body } => Ok(body),
            Stored::Refused { error, message, details } => {
                let kind = ErrorKind::from_code(&error).unwrap_or(ErrorKind::Internal);
                Err(ApiError { kind, message, details })
            }
        };
        Ok(Self { result, replayed: true })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_printable_ascii_up_to_255() {
        assert!(IdempotencyKey::parse("550e8400-e29b-41d4-a716-446655440000").is_ok());
        assert!(IdempotencyKey::parse(&"k".repeat(255)).is_ok());
        for bad in ["", " ", "a b", "a,b", "ключ", "tab\there", &"k".repeat(256)] {
            let err = IdempotencyKey::parse(bad).unwrap_err();
            assert_eq!(
                (err.kind, err.details.unwrap()["fields"][0]["field"].clone()),
                (ErrorKind::ValidationFailed, "Idempotency-Key".into())
            );
        }
        assert_ne!(IdempotencyKey::parse("a").unwrap(), IdempotencyKey::parse("b").unwrap());
    }

    #[test]
    fn answers_replay_as_they_were_and_only_for_the_same_request() {
        let ok = Answer::fresh(Ok(serde_json::json!({"active": 3})));
        let record = ok.record(&fingerprint(&["reserve", "agents", "1"]), 100);
        assert_eq!(record.expires_at, 100 + 86_400);
        let replayed = Answer::replay(&record, &fingerprint(&["reserve", "agents", "1"])).unwrap();
        assert_eq!((replayed.result, replayed.replayed), (ok.result, true));
        let err = Answer::replay(&record, &fingerprint(&["reserve", "agents", "2"])).unwrap_err();
        assert_eq!((err.kind.code(), err.status()), ("idempotency_key_reused", 422));

        let refused = Answer::fresh(Err(ApiError::new(ErrorKind::PlanLimitReached, "full").with_details(serde_json::json!({"cap": 1}))));
        let replayed = Answer::replay(&refused.record("f", 0), "f").unwrap();
        assert_eq!(replayed.result, refused.result);
        assert_ne!(fingerprint(&["ab", "c"]), fingerprint(&["a", "bc"]));
    }
}

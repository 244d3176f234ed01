//! The credits ledger: one entry per change of an org's credits (a grant from a paid credits
//! Checkout or a top-up of the card on file, a spend), each with the balance after it, so the entries of an org sum to its
//! balance.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::principal::{Principal, PrincipalKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    Grant,
    Spend,
}

/// One ledger entry. Its id is the org version the change was written at, so ids are unique
/// per org and sort in the order the changes happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LedgerEntry {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: EntryKind,
    /// Always positive: `type` says which way it went.
    pub amount: u64,
    pub balance_after: i64,
    pub created_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal_kind: Option<PrincipalKind>,
    /// Grants bought through Checkout: the credits Checkout Session paid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// Grants bought with the card on file: the PaymentIntent that charged it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_intent_id: Option<String>,
}

/// The Stripe object that paid for credits: a Checkout Session (`cs_...`) or, for a top-up
/// of the card on file, a PaymentIntent (`pi_...`), as `(session_id, payment_intent_id)`.
pub fn credits_payment(payment_id: &str) -> (Option<String>, Option<String>) {
    match payment_id.starts_with("pi_") {
        true => (None, Some(payment_id.to_string())),
        false => (Some(payment_id.to_string()), None),
    }
}

const ID_PREFIX: &str = "led_";

pub fn entry_id(version: u64) -> String {
    format!("{ID_PREFIX}{version}")
}

/// The org version an entry id names; `None` for anything that is not one.
pub fn entry_version(id: &str) -> Option<u64> {
    let digits = id.strip_prefix(ID_PREFIX)?;
    (!digits.is_empty() && digits.len() <= 20 && digits.bytes().all(|b| b.is_ascii_digit())).then(|| digits.parse().ok())?
}

impl LedgerEntry {
    /// A grant of credits that `payment_id` (a Checkout Session or a PaymentIntent) paid for.
    pub fn grant(version: u64, amount: u64, balance_after: i64, payment_id: &str, now: i64) -> Self {
        let (session_id, payment_intent_id) = credits_payment(payment_id);
        Self {
            id: entry_id(version),
            kind: EntryKind::Grant,
            amount,
            balance_after,
            created_at: now,
            reason: Some("credits purchase".into()),
            principal_id: None,
            principal_kind: None,
            session_id,
            payment_intent_id,
        }
    }

    pub fn spend(version: u64, amount: u64, balance_after: i64, principal: &Principal, reason: Option<String>, now: i64) -> Self {
        Self {
            id: entry_id(version),
            kind: EntryKind::Spend,
            amount,
            balance_after,
            created_at: now,
            reason,
            principal_id: Some(principal.principal_id.clone()),
            principal_kind: Some(principal.kind),
            session_id: None,
            payment_intent_id: None,
        }
    }

    /// The change to the balance: positive for grants, negative for spends.
    pub fn signed_amount(&self) -> i64 {
        let amount = i64::try_from(self.amount).unwrap_or(i64::MAX);
        match self.kind {
            EntryKind::Grant => amount,
            EntryKind::Spend => -amount,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_refuse_anything_else() {
        assert_eq!(entry_version(&entry_id(42)), Some(42));
        for bad in ["", "led_", "led_-1", "42", "led_4x", "in_42", "led_999999999999999999999"] {
            assert_eq!(entry_version(bad), None, "{bad}");
        }
    }

    #[test]
    fn entries_serialize_with_their_type() {
        let principal =
            Principal { org_id: "acme".into(), principal_id: "bot".into(), key_id: "bot-key".into(), kind: PrincipalKind::Agent };
        let spend = serde_json::to_value(LedgerEntry::spend(7, 10, 90, &principal, None, 5)).unwrap();
        assert_eq!(spend["type"], "spend");
        assert_eq!(spend["principal_kind"], "AGENT");
        assert!(spend.get("session_id").is_none());
        assert_eq!(LedgerEntry::grant(3, 100, 100, "cs_1", 1).signed_amount(), 100);
        let top_up = serde_json::to_value(LedgerEntry::grant(4, 100, 200, "pi_1", 1)).unwrap();
        assert_eq!((top_up["payment_intent_id"].as_str(), top_up.get("session_id")), (Some("pi_1"), None));
    }
}

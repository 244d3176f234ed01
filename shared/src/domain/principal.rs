//! Who acts: the principal an API key resolves to, and the actor a record names (a key,
//! Stripe or the service itself). Below every other rule, which all speak of them.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PrincipalKind {
    Human,
    Agent,
    Admin,
}

impl PrincipalKind {
    pub fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_uppercase().as_str() {
            "HUMAN" => Some(Self::Human),
            "AGENT" => Some(Self::Agent),
            "ADMIN" => Some(Self::Admin),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Human => "HUMAN",
            Self::Agent => "AGENT",
            Self::Admin => "ADMIN",
        }
    }
}

/// Who is calling: resolved by the authorizer from the bearer key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    pub org_id: String,
    pub principal_id: String,
    /// The id of the API key that authenticated the request (`ApiKeyRecord.key_id`).
    pub key_id: String,
    pub kind: PrincipalKind,
}

/// Who made a change happen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Actor {
    /// An API key of the org (its principal id and key id, never the key). Records written
    /// before keys were named have no `key_id`.
    Principal {
        principal_id: String,
        principal_kind: PrincipalKind,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key_id: Option<String>,
    },
    /// Stripe, through a webhook or an event the reconciler caught up on.
    Stripe,
    /// The service itself (the reconciler completing a change is still the requester's).
    System,
}

impl Actor {
    pub fn of(principal: &Principal) -> Self {
        Self::Principal {
            principal_id: principal.principal_id.clone(),
            principal_kind: principal.kind,
            key_id: Some(principal.key_id.clone()),
        }
    }

    /// The AGENT key that asked for a change a consent or an approval records.
    pub fn agent(principal_id: &str, key_id: Option<&str>) -> Self {
        Self::Principal { principal_id: principal_id.to_string(), principal_kind: PrincipalKind::Agent, key_id: key_id.map(str::to_string) }
    }

    /// The API key that acted, if a key did.
    pub fn key_id(&self) -> Option<&str> {
        match self {
            Self::Principal { key_id, .. } => key_id.as_deref(),
            Self::Stripe | Self::System => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn principal_kind_serializes_upper_case() {
        assert_eq!(serde_json::to_string(&PrincipalKind::Agent).unwrap(), "\"AGENT\"");
        assert_eq!(PrincipalKind::parse("human"), Some(PrincipalKind::Human));
        assert_eq!(PrincipalKind::parse("root"), None);
    }
}

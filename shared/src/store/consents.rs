//! Consent items: an agent's confirm token, stored only as the SHA-256 of the token
//! (`CONSENT#<hash>`), with what it is bound to, until when it is valid, and once used the
//! result of the change it confirmed. DynamoDB's TTL removes it a day after it expires; until
//! then a replay can still be told `used` or `expired`.

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use serde::{Deserialize, Serialize};

use super::{Key, Store, StoreError, TTL, built, keyed};
use crate::domain::activity::Activity;
use crate::domain::change::Change;

/// How long after its expiry a consent item is kept to answer replays.
const KEEP_SECS: i64 = 86_400;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentState {
    Pending,
    Used,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConsentRecord {
    /// Hex SHA-256 of the token.
    pub token_hash: String,
    pub org_id: String,
    pub principal_id: String,
    /// The API key that asked (none on tokens issued before keys were named).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// `upgrade` or `downgrade`.
    pub action: String,
    /// The hash of the resolved parameters the token is for.
    pub params: String,
    /// The org's `change_generation` the change was computed from.
    pub generation: u64,
    /// The proration time the amounts were previewed at, charged at the same.
    pub proration_date: i64,
    /// The change shown to the human, executed as it is if the token is used.
    pub change: Change,
    pub valid_until: i64,
    pub state: ConsentState,
    /// The answer of the call that used it, as JSON text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
}

pub(super) fn consent_key(token_hash: &str) -> Key {
    (format!("CONSENT#{token_hash}"), "CONSENT".to_string())
}

impl Store {
    /// Stores a new confirm token with the record of the consent asked, atomically.
    pub async fn put_consent(&self, consent: &ConsentRecord, asked: &Activity) -> Result<(), StoreError> {
        const OPERATION: &str = "put_consent";
        let mut item = keyed(OPERATION, consent, consent_key(&consent.token_hash))?;
        item.insert(TTL.into(), AttributeValue::N((consent.valid_until + KEEP_SECS).to_string()));
        let put = Put::builder().table_name(&self.table).set_item(Some(item)).condition_expression("attribute_not_exists(PK)");
        let mut items = vec![TransactWriteItem::builder().put(built(OPERATION, put.build())?).build()];
        items.extend(self.activity_puts(OPERATION, std::slice::from_ref(asked))?);
        self.transact(OPERATION, items).await?.map_err(|_| StoreError::Conflict { operation: OPERATION })
    }

    pub async fn get_consent(&self, token_hash: &str) -> Result<Option<ConsentRecord>, StoreError> {
        self.get("get_consent", consent_key(token_hash)).await
    }
}

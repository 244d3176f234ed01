//! API key items: only the SHA-256 of a key is stored, never the key.

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use super::{Key, PK, SK, Store, StoreError, classify, decode, keyed};
use crate::domain::api_key::ApiKeyRecord;

fn api_key_key(key_id: &str) -> Key {
    (format!("APIKEY#{key_id}"), "APIKEY".to_string())
}

impl Store {
    pub async fn put_api_key(&self, record: &ApiKeyRecord) -> Result<(), StoreError> {
        let operation = "put_api_key";
        self.put_new(operation, keyed(operation, record, api_key_key(&record.key_id))?).await
    }

    pub async fn get_api_key(&self, key_id: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        self.get("get_api_key", api_key_key(key_id)).await
    }

    /// Marks the key revoked (idempotent: the first revocation time stays); `None` if there is no such key.
    pub async fn revoke_api_key(&self, key_id: &str, now: i64) -> Result<Option<ApiKeyRecord>, StoreError> {
        let operation = "revoke_api_key";
        let (pk, sk) = api_key_key(key_id);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, AttributeValue::S(pk))
            .key(SK, AttributeValue::S(sk))
            .update_expression("SET revoked_at = if_not_exists(revoked_at, :now)")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result.map_err(|e| classify(operation, e)) {
            Ok(out) => decode(operation, out.attributes.unwrap_or_default()).map(Some),
            Err(StoreError::Conflict { .. }) => Ok(None),
            Err(err) => Err(err),
        }
    }
}

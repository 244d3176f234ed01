//! API key items: only the SHA-256 of a key is stored, never the key. Issuing and revoking one
//! each write the org's activity record in the same transaction.

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};

use super::orgs::built;
use super::{Key, PK, SK, Store, StoreError, keyed};
use crate::domain::activity::Activity;
use crate::domain::api_key::ApiKeyRecord;

fn api_key_key(key_id: &str) -> Key {
    (format!("APIKEY#{key_id}"), "APIKEY".to_string())
}

impl Store {
    /// Stores a new key with the record of its issue (`issued`), atomically.
    pub async fn put_api_key(&self, record: &ApiKeyRecord, issued: &Activity) -> Result<(), StoreError> {
        const OPERATION: &str = "put_api_key";
        let item = keyed(OPERATION, record, api_key_key(&record.key_id))?;
        let put = Put::builder().table_name(&self.table).set_item(Some(item)).condition_expression("attribute_not_exists(PK)");
        let mut items = vec![TransactWriteItem::builder().put(built(OPERATION, put.build())?).build()];
        items.extend(self.activity_puts(OPERATION, std::slice::from_ref(issued))?);
        self.transact(OPERATION, items).await?.map_err(|_| StoreError::Conflict { operation: OPERATION })
    }

    pub async fn get_api_key(&self, key_id: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        self.get("get_api_key", api_key_key(key_id)).await
    }

    /// Marks the key revoked, with the record `revoked` makes of it, atomically; a key revoked
    /// already keeps its first revocation time and gets no second record. `None` if there is no
    /// such key.
    pub async fn revoke_api_key(
        &self,
        key_id: &str,
        now: i64,
        revoked: impl Fn(&ApiKeyRecord) -> Activity,
    ) -> Result<Option<ApiKeyRecord>, StoreError> {
        const OPERATION: &str = "revoke_api_key";
        // Twice at most: a lost race finds the key revoked on the second read.
        for _ in 0..2 {
            let Some(mut record) = self.get_api_key(key_id).await? else { return Ok(None) };
            if record.revoked_at.is_some() {
                return Ok(Some(record));
            }
            record.revoked_at = Some(now);
            let (pk, sk) = api_key_key(key_id);
            let update = Update::builder()
                .table_name(&self.table)
                .key(PK, AttributeValue::S(pk))
                .key(SK, AttributeValue::S(sk))
                .update_expression("SET revoked_at = :now")
                .condition_expression("attribute_exists(PK) AND attribute_not_exists(revoked_at)")
                .expression_attribute_values(":now", AttributeValue::N(now.to_string()));
            let mut items = vec![TransactWriteItem::builder().update(built(OPERATION, update.build())?).build()];
            items.extend(self.activity_puts(OPERATION, &[revoked(&record)])?);
            if self.transact(OPERATION, items).await?.is_ok() {
                return Ok(Some(record));
            }
        }
        Err(StoreError::Conflict { operation: OPERATION })
    }
}

//! Idempotency records: the first answer to a request that carried an `Idempotency-Key`, per
//! org, for 24 hours. A record is only ever written in the same transaction as the effect it
//! answers (or, for a refusal that changed nothing, alone), so a request that failed leaves no
//! record and its retry runs.

use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, ReturnValuesOnConditionCheckFailure};
use serde::{Deserialize, Serialize};

use super::expr::{Expr, with_expr};
use super::mandates::mandate_key;
use super::{Item, Key, Store, StoreError, TTL, built, classify, decode, error_code, keyed, org_key};
use crate::domain::mandate::Mandate;
use crate::domain::org::Org;

/// How long a key is remembered.
pub const IDEMPOTENCY_TTL_SECS: i64 = 24 * 3_600;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    /// The request the key was first used for (operation and normalised parameters).
    pub fingerprint: String,
    /// The first answer, as `billing::idempotency` stores it.
    pub answer: String,
    pub created_at: i64,
    pub expires_at: i64,
}

impl IdempotencyRecord {
    pub fn new(fingerprint: String, answer: String, now: i64) -> Self {
        Self { fingerprint, answer, created_at: now, expires_at: now + IDEMPOTENCY_TTL_SECS }
    }
}

fn idempotency_key(org_id: &str, key_hash: &str) -> Key {
    (format!("IDEM#{org_id}#{key_hash}"), "IDEM".to_string())
}

/// A record that expired is as good as none (DynamoDB's TTL deletes it some time later).
fn live(item: Item, now: i64) -> Result<Option<IdempotencyRecord>, StoreError> {
    if item.is_empty() {
        return Ok(None);
    }
    let record: IdempotencyRecord = decode("idempotency_record", item)?;
    Ok((record.expires_at > now).then_some(record))
}

/// The Put of a new record, on the condition that the key is free (absent or expired); on
/// failure it answers the record that holds the key.
pub(super) fn record_put(store: &Store, org_id: &str, key_hash: &str, record: &IdempotencyRecord, now: i64) -> Result<Put, StoreError> {
    let operation = "put_idempotency_record";
    let mut item = keyed(operation, record, idempotency_key(org_id, key_hash))?;
    item.insert(TTL.into(), AttributeValue::N(record.expires_at.to_string()));
    let mut expr = Expr::new();
    let (pk, expires, now) = (expr.path(&[super::PK]), expr.path(&[TTL]), expr.num(now));
    expr.condition(format!("attribute_not_exists({pk}) OR {expires} <= {now}"));
    let put = with_expr!(Put::builder().table_name(&store.table).set_item(Some(item)), expr, condition)
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
    built(operation, put.build())
}

/// The live record in a cancelled transaction's reason for the record's Put.
pub(super) fn holder(reason: Option<Item>, now: i64) -> Result<Option<IdempotencyRecord>, StoreError> {
    reason.map_or(Ok(None), |item| live(item, now))
}

impl Store {
    /// The org and, with a key, the live record of that key, in one consistent read.
    pub async fn org_and_idempotency(
        &self,
        org_id: &str,
        key_hash: Option<&str>,
        now: i64,
    ) -> Result<(Option<Org>, Option<IdempotencyRecord>), StoreError> {
        let operation = "get_org_and_idempotency";
        let Some(key_hash) = key_hash else { return Ok((self.get_org(org_id).await?, None)) };
        let mut items = self.get_many(operation, &[org_key(org_id), idempotency_key(org_id, key_hash)]).await?.into_iter();
        let org = items.next().flatten().map(|item| decode(operation, item)).transpose()?;
        let record = items.next().flatten().map_or(Ok(None), |item| live(item, now))?;
        Ok((org, record))
    }

    /// `org_and_idempotency`, with an AGENT key's mandate read in the same round trip.
    pub async fn org_idempotency_and_mandate(
        &self,
        org_id: &str,
        key_hash: Option<&str>,
        agent_key_id: &str,
        now: i64,
    ) -> Result<(Option<Org>, Option<IdempotencyRecord>, Option<Mandate>), StoreError> {
        let operation = "get_org_idempotency_and_mandate";
        let mut keys = vec![org_key(org_id), mandate_key(org_id, agent_key_id)];
        keys.extend(key_hash.map(|hash| idempotency_key(org_id, hash)));
        let mut items = self.get_many(operation, &keys).await?.into_iter();
        let org = items.next().flatten().map(|item| decode(operation, item)).transpose()?;
        let mandate = items.next().flatten().map(|item| decode(operation, item)).transpose()?;
        let record = items.next().flatten().map_or(Ok(None), |item| live(item, now))?;
        Ok((org, record, mandate))
    }

    /// Stores an answer that changed nothing (a refusal) under a free key. `Some(record)`
    /// when the key was taken meanwhile: that record is the first answer.
    pub async fn put_idempotent_answer(
        &self,
        org_id: &str,
        key_hash: &str,
        record: &IdempotencyRecord,
        now: i64,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        let operation = "put_idempotent_answer";
        let put = record_put(self, org_id, key_hash, record, now)?;
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(put.item))
            .set_condition_expression(put.condition_expression)
            .set_expression_attribute_names(put.expression_attribute_names)
            .set_expression_attribute_values(put.expression_attribute_values)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(None),
            Err(err) if error_code(&err) == Some("ConditionalCheckFailedException") => {
                let item = match err.as_service_error() {
                    Some(PutItemError::ConditionalCheckFailedException(failed)) => failed.item.clone().unwrap_or_default(),
                    _ => Item::new(),
                };
                match live(item, now)? {
                    Some(record) => Ok(Some(record)),
                    // Expired between the two reads of its expiry: the key is free again.
                    None => Err(StoreError::Conflict { operation }),
                }
            }
            Err(err) => Err(classify(operation, err)),
        }
    }
}

//! The one DynamoDB store. Single-table design (defined in `template.yaml`):
//!
//! | item      | PK               | SK       | notes                                     |
//! |-----------|------------------|----------|-------------------------------------------|
//! | org       | `ORG#<org_id>`   | `ORG`    | `GSI1PK = CUS#<stripe customer>` once set; `GSI2PK = INTENT` while a plan change executes |
//! | API key   | `APIKEY#<key_id>`| `APIKEY` | hash of the key, never the key; an AGENT key's brake (refusals this minute, pause); `GSI3PK = KEYS#<org>`, `GSI3SK = <kind>#<key_id>` |
//! | event     | `EVENT#<evt id>` | `EVENT`  | a processed Stripe event; TTL 30 days     |
//! | credits   | `CREDITS#<cs id>`| `CREDITS`| credits granted for a Checkout Session    |
//! | consent   | `CONSENT#<hash>` | `CONSENT`| an agent's confirm token (hashed); TTL    |
//! | approval  | `APPROVAL#<hash>`| `APPROVAL`| a web-mode approval (id hashed); TTL     |
//! | idempotency | `IDEM#<org>#<sha256 of key>` | `IDEM` | the first answer to a keyed request; TTL 24 h |
//! | ledger    | `LEDGER#<org_id>`| `<org version, 20 digits>` | a credits grant or spend, newest last |
//! | signal    | `SIGNALS`        | `<epoch secs, 12 digits>#<org>#<id>` | a limit-increase request |
//! | demand    | `ORG#<org_id>`   | `SIGNALS#<kind>` | the org's requests of a kind, each principal's last signal and its burst |
//! | event cursor | `RECONCILER`  | `EVENTS` | `created` of the newest Stripe event the reconciler went through |
//! | activity  | `ORG#<org_id>`   | `ACTIVITY#<epoch secs, 12 digits>#<id>` | what changed, who did it, under which consent; written with the change (the outbox the publisher streams); `GSI3PK = ACTOR#<org>#<key id>` when a key acted; TTL `ActivityRetentionDays` |
//! | once marker | `ONCE#<what>#<org>#...` | `ONCE` | an activity reported at most once per minute or period; TTL |
//! | settings  | `ORG#<org_id>`   | `SETTINGS` | the org's settings (the agent brake, automatic top-up), each absent until set; automatic top-ups per month |
//! | top-up claim | `ORG#<org_id>` | `AUTO_TOP_UP#<spend's activity id>` | the automatic top-up a spend caused, once; TTL 7 days |
//! | mandate   | `ORG#<org_id>`   | `MANDATE#<agent key id>` | an AGENT key's standing consent and what it used, per period |
//!
//! The org item also carries its materialised caps and headroom (`caps`), so a reservation is
//! one conditional write. Every other read-modify-write is conditional on the version it read.
//! Failures are `StoreError`s.

mod activity;
mod api_keys;
mod approvals;
pub mod caps;
mod consents;
mod credits;
mod error;
pub(crate) mod expr;
mod idempotency;
mod intents;
mod mandates;
mod orgs;
mod reconciler;
mod settings;
mod signals;
mod usage;

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, TransactWriteItem};
use serde::{Serialize, de::DeserializeOwned};
use serde_dynamo::aws_sdk_dynamodb_1::{from_item, to_item};

use crate::domain::activity::DEFAULT_ACTIVITY_RETENTION_DAYS;
use crate::metrics;

pub use activity::{ACTIVITY_PAGE_MAX, ACTIVITY_PREFIX, ActivityFilter, ActivityPage};
pub use approvals::ApprovalRecord;
pub use consents::{ConsentRecord, ConsentState};
pub use credits::{LEDGER_PAGE_MAX, LedgerPage};
pub use error::StoreError;
pub use idempotency::{IDEMPOTENCY_TTL_SECS, IdempotencyRecord};
pub use intents::{Begun, ClaimOutcome, Finished};
pub use orgs::{Applied, EVENT_TTL_SECS, OnceMarkers};
pub use reconciler::EventCursor;
pub use settings::{OrgSettings, TopUpClaim};
pub use signals::{Demand, Repeat};
pub use usage::{Counted, Delta, ExactCount, Written};

pub const PK: &str = "PK";
pub const SK: &str = "SK";
pub const GSI1: &str = "GSI1";
pub const GSI1_PK: &str = "GSI1PK";
/// The sparse index of orgs with a plan change executing, oldest first: what the reconciler
/// completes without scanning the table.
pub const GSI2: &str = "GSI2";
pub const GSI2_PK: &str = "GSI2PK";
pub const GSI2_SK: &str = "GSI2SK";
pub const INTENTS_PK: &str = "INTENT";
/// The sparse index of activity records by the API key that acted, newest last.
pub const GSI3: &str = "GSI3";
pub const GSI3_PK: &str = "GSI3PK";
pub const GSI3_SK: &str = "GSI3SK";
pub const TTL: &str = "expires_at";

type Item = HashMap<String, AttributeValue>;
type Key = (String, String);

#[derive(Clone, Debug)]
pub struct Store {
    client: Client,
    table: String,
    /// What caps depend on besides the org: materialised at every org write.
    rules: std::sync::Arc<caps::Rules>,
    /// How long an activity record is kept (its TTL after it happened).
    activity_retention_secs: i64,
}
/// The org item's key: the org's state, caps and balances live on it.
fn org_key(org_id: &str) -> Key {
    (format!("ORG#{org_id}"), "ORG".to_string())
}

/// A request the SDK's builder refused (a required field missing) is a defect in this code.
fn built<T>(operation: &'static str, result: Result<T, aws_sdk_dynamodb::error::BuildError>) -> Result<T, StoreError> {
    result.map_err(|e| StoreError::Corrupt { operation, problem: e.to_string() })
}

fn keyed<T: Serialize>(operation: &'static str, value: &T, (pk, sk): Key) -> Result<Item, StoreError> {
    let mut item: Item = to_item(value).map_err(|e| StoreError::Corrupt { operation, problem: format!("cannot encode item: {e}") })?;
    item.insert(PK.into(), AttributeValue::S(pk));
    item.insert(SK.into(), AttributeValue::S(sk));
    Ok(item)
}

fn decode<T: DeserializeOwned>(operation: &'static str, item: Item) -> Result<T, StoreError> {
    from_item(item).map_err(|e| StoreError::Corrupt { operation, problem: format!("stored item does not decode: {e}") })
}

/// The error code of a failed call, if DynamoDB answered one.
fn error_code<E, R>(err: &SdkError<E, R>) -> Option<&str>
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    err.as_service_error().and_then(|e| e.code())
}

/// A failed condition, or a transaction on the item in flight, is a conflict the caller resolves
/// (re-read, or report it); anything else is the store being unavailable.
fn classify<E, R>(operation: &'static str, err: SdkError<E, R>) -> StoreError
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    if matches!(error_code(&err), Some("ConditionalCheckFailedException" | "TransactionConflictException")) {
        return StoreError::Conflict { operation };
    }
    unavailable(operation, error_code(&err), &err)
}

/// Whether DynamoDB's error code (or a transaction's cancellation reason) is about capacity: the
/// table's, the account's or a partition's, still so after the SDK's retries.
fn is_throttling(code: &str) -> bool {
    matches!(
        code,
        "ProvisionedThroughputExceededException"
            | "ThrottlingException"
            | "RequestLimitExceeded"
            | "ThrottlingError"
            | "ProvisionedThroughputExceeded"
    )
}

/// The store being unavailable for `operation`: logged with DynamoDB's error `code` (for a
/// cancelled transaction, its throttling reason if it has one) and counted as a throttle or a
/// failure.
fn unavailable(operation: &'static str, code: Option<&str>, err: impl std::error::Error) -> StoreError {
    match code.is_some_and(is_throttling) {
        true => metrics::dynamodb_throttles(operation),
        false => metrics::dynamodb_failures(operation),
    }
    tracing::error!(operation, code, error = %DisplayErrorContext(err), "dynamodb call failed");
    StoreError::Unavailable { operation }
}

impl Store {
    pub fn new(client: Client, table: impl Into<String>, rules: crate::domain::entitlements::CapRules) -> Self {
        let activity_retention_secs = DEFAULT_ACTIVITY_RETENTION_DAYS * 86_400;
        Self { client, table: table.into(), rules: std::sync::Arc::new(caps::Rules::new(rules)), activity_retention_secs }
    }

    /// Keeps activity records for `days` (the deployment's `ActivityRetentionDays`).
    pub fn with_activity_retention_days(mut self, days: i64) -> Self {
        self.activity_retention_secs = days * 86_400;
        self
    }

    /// The rules caps are materialised with (and their fingerprint).
    pub fn rules(&self) -> &caps::Rules {
        &self.rules
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    async fn get<T: DeserializeOwned>(&self, operation: &'static str, (pk, sk): Key) -> Result<Option<T>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, AttributeValue::S(pk))
            .key(SK, AttributeValue::S(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify(operation, e))?;
        out.item.map(|item| decode(operation, item)).transpose()
    }

    /// Several items in one consistent BatchGetItem (at most 100 keys), in the order of `keys`.
    async fn get_many(&self, operation: &'static str, keys: &[Key]) -> Result<Vec<Option<Item>>, StoreError> {
        let mut found: HashMap<Key, Item> = HashMap::new();
        let mut pending: Vec<Item> = keys
            .iter()
            .map(|(pk, sk)| {
                HashMap::from([(PK.to_string(), AttributeValue::S(pk.clone())), (SK.to_string(), AttributeValue::S(sk.clone()))])
            })
            .collect();
        pending.dedup();
        // Unprocessed keys (throttling) are asked again, a few times.
        for _ in 0..5 {
            if pending.is_empty() {
                break;
            }
            let request = KeysAndAttributes::builder()
                .set_keys(Some(std::mem::take(&mut pending)))
                .consistent_read(true)
                .build()
                .map_err(|e| StoreError::Corrupt { operation, problem: e.to_string() })?;
            let out = self.client.batch_get_item().request_items(&self.table, request).send().await.map_err(|e| classify(operation, e))?;
            for item in out.responses.unwrap_or_default().remove(&self.table).unwrap_or_default() {
                let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
                found.insert((text(PK), text(SK)), item);
            }
            pending = out.unprocessed_keys.unwrap_or_default().remove(&self.table).map(|k| k.keys).unwrap_or_default();
        }
        if !pending.is_empty() {
            metrics::dynamodb_throttles(operation);
            tracing::error!(operation, unprocessed = pending.len(), "dynamodb left keys unprocessed (throttled)");
            return Err(StoreError::Unavailable { operation });
        }
        Ok(keys.iter().map(|key| found.get(key).cloned()).collect())
    }

    /// Every item `query` finds, page after page (its last page ends the loop).
    async fn query_all<T: DeserializeOwned>(
        &self,
        operation: &'static str,
        query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
    ) -> Result<Vec<T>, StoreError> {
        let mut found = Vec::new();
        let mut start = None;
        loop {
            let out = query.clone().set_exclusive_start_key(start).send().await.map_err(|e| classify(operation, e))?;
            for item in out.items.unwrap_or_default() {
                found.push(decode(operation, item)?);
            }
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(found),
            }
        }
    }

    /// One TransactWriteItems. `Ok(Err(reasons))` when it was cancelled because a condition
    /// failed: one entry per item, `Some(item)` (the item as it was, or an empty map when it
    /// did not exist) for each item whose condition failed. A transaction on the same items in
    /// flight is a `Conflict` (retry); anything else is the store being unavailable.
    async fn transact(&self, operation: &'static str, items: Vec<TransactWriteItem>) -> Result<Result<(), Vec<Option<Item>>>, StoreError> {
        let count = items.len();
        let Err(err) = self.client.transact_write_items().set_transact_items(Some(items)).send().await else { return Ok(Ok(())) };
        let reasons = match err.as_service_error() {
            Some(TransactWriteItemsError::TransactionCanceledException(e)) => e.cancellation_reasons().to_vec(),
            _ => return Err(classify(operation, err)),
        };
        if reasons.iter().any(|r| r.code() == Some("TransactionConflict")) {
            return Err(StoreError::Conflict { operation });
        }
        let failed: Vec<Option<Item>> = (0..count)
            .map(|i| reasons.get(i).filter(|r| r.code() == Some("ConditionalCheckFailed")).map(|r| r.item().cloned().unwrap_or_default()))
            .collect();
        if failed.iter().all(Option::is_none) {
            let code = reasons.iter().filter_map(|r| r.code()).find(|code| is_throttling(code)).or(error_code(&err));
            return Err(unavailable(operation, code, &err));
        }
        Ok(Err(failed))
    }

    /// An UpdateItem of the item at `key`, to be given its expressions.
    fn update_request(&self, (pk, sk): Key) -> aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder {
        self.client.update_item().table_name(&self.table).key(PK, AttributeValue::S(pk)).key(SK, AttributeValue::S(sk))
    }

    /// The transaction item updating the item at `key`, to be given its expressions.
    fn update_builder(&self, (pk, sk): Key) -> aws_sdk_dynamodb::types::builders::UpdateBuilder {
        aws_sdk_dynamodb::types::Update::builder().table_name(&self.table).key(PK, AttributeValue::S(pk)).key(SK, AttributeValue::S(sk))
    }

    async fn put_new(&self, operation: &'static str, item: Item) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await
            .map_err(|e| classify(operation, e))?;
        Ok(())
    }
}

//! The one DynamoDB store. Single-table design (defined in `template.yaml`):
//!
//! | item      | PK               | SK       | notes                                   |
//! |-----------|------------------|----------|-----------------------------------------|
//! | org       | `ORG#<org_id>`   | `ORG`    | `GSI1PK = CUS#<stripe customer>` once set |
//! | API key   | `APIKEY#<key_id>`| `APIKEY` | hash of the key, never the key          |
//! | event     | `EVENT#<evt id>` | `EVENT`  | a processed Stripe event; TTL 30 days     |
//! | credits   | `CREDITS#<cs id>`| `CREDITS`| credits granted for a Checkout Session    |
//!
//! Every read-modify-write is conditional on the version it read.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_dynamo::aws_sdk_dynamodb_1::{from_item, to_item};

use crate::error::{ApiError, ErrorKind};
use crate::org::{Org, PrincipalKind};

pub const PK: &str = "PK";
pub const SK: &str = "SK";
pub const GSI1: &str = "GSI1";
pub const GSI1_PK: &str = "GSI1PK";
pub const TTL: &str = "expires_at";

type Item = HashMap<String, AttributeValue>;

/// How long a processed event id is remembered (Stripe retries for up to 3 days).
pub const EVENT_TTL_SECS: i64 = 30 * 86_400;

/// The markers that make a webhook effect happen once, written with it atomically.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OnceMarkers<'a> {
    /// The Stripe event being applied.
    pub event_id: Option<&'a str>,
    /// The Checkout Session whose credits are being granted.
    pub credits_session_id: Option<&'a str>,
}

/// What became of an `apply_once`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Written,
    /// The event was processed before: nothing written.
    DuplicateEvent,
    /// The session's credits were granted before: nothing written.
    CreditsAlreadyGranted,
}

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
}

#[derive(Clone, Debug)]
pub struct Store {
    client: Client,
    table: String,
}

fn org_key(org_id: &str) -> (String, String) {
    (format!("ORG#{org_id}"), "ORG".to_string())
}

fn api_key_key(key_id: &str) -> (String, String) {
    (format!("APIKEY#{key_id}"), "APIKEY".to_string())
}

fn keyed<T: Serialize>(value: &T, (pk, sk): (String, String)) -> Result<Item, ApiError> {
    let mut item: Item = to_item(value).map_err(|e| ApiError::internal(format!("cannot encode item: {e}")))?;
    item.insert(PK.into(), AttributeValue::S(pk));
    item.insert(SK.into(), AttributeValue::S(sk));
    Ok(item)
}

fn decode<T: DeserializeOwned>(item: Item) -> Result<T, ApiError> {
    from_item(item).map_err(|e| ApiError::internal(format!("stored item does not decode: {e}")))
}

/// A failed condition is a conflict the caller may resolve (re-read, or report 409);
/// anything else is the store being unavailable.
fn classify<E, R>(operation: &str, err: SdkError<E, R>) -> ApiError
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::fmt::Debug,
    R: std::fmt::Debug,
{
    // A failed condition, or a transaction on the item in flight: the caller re-reads and decides again.
    if matches!(err.as_service_error().and_then(|e| e.code()), Some("ConditionalCheckFailedException" | "TransactionConflictException")) {
        return ApiError::new(ErrorKind::Conflict, format!("{operation}: the item changed or exists already"));
    }
    tracing::error!(operation, error = ?err, "dynamodb call failed");
    ApiError::storage(operation)
}

impl Store {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    async fn get<T: DeserializeOwned>(&self, operation: &str, (pk, sk): (String, String)) -> Result<Option<T>, ApiError> {
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
        out.item.map(decode).transpose()
    }

    async fn put_new(&self, operation: &str, item: Item) -> Result<(), ApiError> {
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

    pub async fn get_org(&self, org_id: &str) -> Result<Option<Org>, ApiError> {
        self.get("get_org", org_key(org_id)).await
    }

    /// Creates the org; a conflict if it exists already.
    pub async fn create_org(&self, org: &Org) -> Result<(), ApiError> {
        self.put_new("create_org", self.org_item(org)?).await
    }

    /// Writes `org` if the stored version is still `org.version`, and bumps the version.
    /// A conflict means somebody else wrote first: re-read and decide again.
    pub async fn save_org(&self, org: &mut Org) -> Result<(), ApiError> {
        let expected = org.version;
        org.version += 1;
        let item = self.org_item(org)?;
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("#version = :expected")
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":expected", AttributeValue::N(expected.to_string()))
            .send()
            .await;
        if let Err(err) = result {
            org.version = expected;
            return Err(classify("save_org", err));
        }
        Ok(())
    }

    fn org_item(&self, org: &Org) -> Result<Item, ApiError> {
        let mut item = keyed(org, org_key(&org.org_id))?;
        if let Some(customer) = &org.stripe_customer_id {
            item.insert(GSI1_PK.into(), AttributeValue::S(format!("CUS#{customer}")));
        }
        Ok(item)
    }

    /// The org whose Stripe customer this is (GSI1, `CUS#<customer>`).
    pub async fn org_id_for_customer(&self, customer_id: &str) -> Result<Option<String>, ApiError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(GSI1)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", GSI1_PK)
            .expression_attribute_values(":pk", AttributeValue::S(format!("CUS#{customer_id}")))
            .limit(1)
            .send()
            .await
            .map_err(|e| classify("org_id_for_customer", e))?;
        Ok(out
            .items
            .unwrap_or_default()
            .into_iter()
            .next()
            .and_then(|item| item.get(PK).and_then(|v| v.as_s().ok()).and_then(|pk| pk.strip_prefix("ORG#")).map(str::to_string)))
    }

    /// Whether a Stripe event was applied already (a cheap early exit; `apply_once` decides).
    pub async fn event_seen(&self, event_id: &str) -> Result<bool, ApiError> {
        let item: Option<serde_json::Value> = self.get("event_seen", (format!("EVENT#{event_id}"), "EVENT".into())).await?;
        Ok(item.is_some())
    }

    /// Writes `org` (conditional on the version read) together with the markers, in one
    /// transaction: either the effect and its markers are durable, or nothing is.
    pub async fn apply_once(&self, org: &mut Org, markers: OnceMarkers<'_>, now: i64) -> Result<Applied, ApiError> {
        let expected = org.version;
        org.version += 1;
        let org_put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(self.org_item(org)?))
            .condition_expression("#version = :expected")
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":expected", AttributeValue::N(expected.to_string()))
            .build()
            .map_err(|e| ApiError::internal(e.to_string()))?;
        // Event ids are remembered for a while; a credits grant forever (the success-page sync
        // can ask about an old session at any time).
        let marker = |pk: String, sk: &str, expires: bool| {
            let put = Put::builder()
                .table_name(&self.table)
                .item(PK, AttributeValue::S(pk))
                .item(SK, AttributeValue::S(sk.into()))
                .item("org_id", AttributeValue::S(org.org_id.clone()))
                .condition_expression("attribute_not_exists(PK)");
            let put = if expires { put.item(TTL, AttributeValue::N((now + EVENT_TTL_SECS).to_string())) } else { put };
            put.build().map_err(|e| ApiError::internal(e.to_string()))
        };
        let mut items = vec![TransactWriteItem::builder().put(org_put).build()];
        if let Some(event_id) = markers.event_id {
            items.push(TransactWriteItem::builder().put(marker(format!("EVENT#{event_id}"), "EVENT", true)?).build());
        }
        if let Some(session_id) = markers.credits_session_id {
            items.push(TransactWriteItem::builder().put(marker(format!("CREDITS#{session_id}"), "CREDITS", false)?).build());
        }
        let result = self.client.transact_write_items().set_transact_items(Some(items)).send().await;
        let Err(err) = result else { return Ok(Applied::Written) };
        org.version = expected;
        let reasons: Vec<Option<String>> = err
            .as_service_error()
            .and_then(|e| match e {
                aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(e) => {
                    Some(e.cancellation_reasons().iter().map(|r| r.code().map(str::to_string)).collect())
                }
                _ => None,
            })
            .unwrap_or_default();
        let failed = |i: usize| reasons.get(i).and_then(Option::as_deref) == Some("ConditionalCheckFailed");
        let credits_index = 1 + usize::from(markers.event_id.is_some());
        // Another transaction on the same items in flight: as good as a lost race, retry.
        let contended = reasons.iter().any(|r| r.as_deref() == Some("TransactionConflict"));
        if markers.event_id.is_some() && failed(1) {
            Ok(Applied::DuplicateEvent)
        } else if markers.credits_session_id.is_some() && failed(credits_index) {
            Ok(Applied::CreditsAlreadyGranted)
        } else if failed(0) || contended {
            Err(ApiError::new(ErrorKind::Conflict, "apply_once: the org changed concurrently"))
        } else {
            tracing::error!(error = ?err, "dynamodb transaction failed");
            Err(ApiError::storage("apply_once"))
        }
    }

    pub async fn put_api_key(&self, record: &ApiKeyRecord) -> Result<(), ApiError> {
        self.put_new("put_api_key", keyed(record, api_key_key(&record.key_id))?).await
    }

    pub async fn get_api_key(&self, key_id: &str) -> Result<Option<ApiKeyRecord>, ApiError> {
        self.get("get_api_key", api_key_key(key_id)).await
    }

    /// Marks the key revoked (idempotent: the first revocation time stays); not found if no such key.
    pub async fn revoke_api_key(&self, key_id: &str, now: i64) -> Result<ApiKeyRecord, ApiError> {
        let (pk, sk) = api_key_key(key_id);
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, AttributeValue::S(pk))
            .key(SK, AttributeValue::S(sk))
            .update_expression("SET revoked_at = if_not_exists(revoked_at, :now)")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
            .send()
            .await
            .map_err(|e| match classify("revoke_api_key", e) {
                err if err.kind == ErrorKind::Conflict => ApiError::not_found(format!("No API key `{key_id}`.")),
                err => err,
            })?;
        decode(out.attributes.unwrap_or_default())
    }
}
